//! How a replay's result reads: a coloured diff on a terminal, plain text in a log, and
//! JUnit XML for CI systems that draw test reports.

use std::fmt::Write;

use serde_json::Value;

use super::play::{Divergence, DivergenceKind};
use super::script::Script;
use super::Outcome;

/// How many divergences are shown in full; the rest are counted.
const SHOWN: usize = 5;

pub struct Style {
    pub colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// The whole report of one file.
pub fn render(outcome: &Outcome, style: &Style) -> String {
    let mut out = String::new();
    let script = &outcome.script;
    let report = &outcome.report;
    let _ = writeln!(
        out,
        "{}: {} client(s), {} request(s), {} answer(s) matched",
        outcome.path,
        script.clients.len(),
        report.requests,
        report.matched
    );
    if report.divergences.is_empty() {
        let _ = writeln!(out, "{}", style.green("✓ the server answers as recorded"));
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        style.red(&format!(
            "✗ {} divergence(s) from the recording",
            report.divergences.len()
        ))
    );
    for (n, d) in report.divergences.iter().take(SHOWN).enumerate() {
        out.push('\n');
        out.push_str(&divergence(n + 1, d, script, style));
    }
    if report.divergences.len() > SHOWN {
        let _ = writeln!(
            out,
            "\n… and {} more (see --junit for all)",
            report.divergences.len() - SHOWN
        );
    }
    out
}

fn kind_words(kind: DivergenceKind) -> &'static str {
    match kind {
        DivergenceKind::Differs => "differs",
        DivergenceKind::Missing => "never came",
        DivergenceKind::Unexpected => "came, but the recording has none",
        DivergenceKind::ConnectRefused => "was refused",
    }
}

/// The title line of a divergence, also the JUnit failure message.
pub fn title(d: &Divergence, script: &Script) -> String {
    let at = if d.seq > 0 {
        format!(" (recorded #{})", d.seq)
    } else {
        String::new()
    };
    format!(
        "client {} — {}: {} {}{at}",
        d.client + 1,
        script.clients[d.client].describe(),
        d.subject,
        kind_words(d.kind)
    )
}

fn divergence(n: usize, d: &Divergence, script: &Script, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.bold(&format!("{n}) {}", title(d, script))));
    let recorded = recorded_context(d, script);
    if !recorded.is_empty() {
        let _ = writeln!(out, "   {}", style.dim("recorded, just before:"));
        for line in recorded {
            let _ = writeln!(out, "     {}", style.dim(&line));
        }
    }
    if let Some(m) = &d.mismatch {
        if let Some(note) = &m.note {
            let _ = writeln!(out, "   {note}");
        }
        let _ = writeln!(
            out,
            "   {} {} {}",
            style.dim("diff"),
            style.red("- recorded"),
            style.green("+ now")
        );
        for line in diff_lines(&pretty(&m.recorded), &pretty(&m.now)) {
            let text = match line {
                Line::Same(t) => format!("     {t}"),
                Line::Old(t) => style.red(&format!("   - {t}")),
                Line::New(t) => style.green(&format!("   + {t}")),
            };
            let _ = writeln!(out, "{text}");
        }
    }
    if !d.context.is_empty() {
        let _ = writeln!(out, "   {}", style.dim("this run, just before:"));
        for line in &d.context {
            let _ = writeln!(out, "     {}", style.dim(line));
        }
    }
    out
}

/// The client's last few recorded records before the one at fault.
fn recorded_context(d: &Divergence, script: &Script) -> Vec<String> {
    if d.seq == 0 {
        return vec![];
    }
    let socket = &script.clients[d.client].recorded_id;
    let mine: Vec<_> = script
        .records
        .iter()
        .filter(|r| r.seq < d.seq && r.socket.as_ref() == Some(socket))
        .collect();
    let from = mine.len().saturating_sub(3);
    mine[from..]
        .iter()
        .map(|r| crate::inspect::client::line(r))
        .collect()
}

fn pretty(v: &Value) -> Vec<String> {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

enum Line {
    Same(String),
    Old(String),
    New(String),
}

/// A line diff by longest common subsequence; the values are small (one ack or push).
fn diff_lines(old: &[String], new: &[String]) -> Vec<Line> {
    let (n, m) = (old.len(), new.len());
    if n * m > 4_000_000 {
        return old
            .iter()
            .map(|l| Line::Old(l.clone()))
            .chain(new.iter().map(|l| Line::New(l.clone())))
            .collect();
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(Line::Same(old[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(Line::New(new[j].clone()));
            j += 1;
        } else {
            out.push(Line::Old(old[i].clone()));
            i += 1;
        }
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// A JUnit report: one suite per session file, one test case per recorded client.
pub fn junit(outcomes: &[Outcome]) -> String {
    let plain = Style { colour: false };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for outcome in outcomes {
        let script = &outcome.script;
        let failures = (0..script.clients.len())
            .filter(|c| outcome.report.divergences.iter().any(|d| d.client == *c))
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            xml(&outcome.path),
            script.clients.len()
        );
        for (c, plan) in script.clients.iter().enumerate() {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"client {} — {}\"",
                xml(&outcome.path),
                c + 1,
                xml(&plan.describe())
            );
            let mine: Vec<_> = outcome
                .report
                .divergences
                .iter()
                .filter(|d| d.client == c)
                .collect();
            if mine.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            let body: String = mine
                .iter()
                .enumerate()
                .map(|(n, d)| divergence(n + 1, d, script, &plain))
                .collect();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\">{}</failure>",
                xml(&title(mine[0], script)),
                xml(&body)
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
