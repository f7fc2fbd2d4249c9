//! The checker's findings, and how a list of seqs differs from the expected one.

use std::collections::HashSet;
use std::fmt::Write as _;

/// The violations found; empty when the history is one a sequential store allows.
pub struct Report {
    pub violations: Vec<String>,
    pub writes: usize,
    pub pushes_checked: usize,
    pub reads_checked: usize,
    pub conflicts_checked: usize,
    /// Push and ack `prev`s and subscribe `last`s checked against the channel's order.
    pub prevs_checked: usize,
}

impl Report {
    pub fn fail(&mut self, text: String) {
        self.violations.push(text);
    }

    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} committed writes, {} pushes, {} reads, {} refusals, {} prev links checked; {} violations",
            self.writes,
            self.pushes_checked,
            self.reads_checked,
            self.conflicts_checked,
            self.prevs_checked,
            self.violations.len()
        );
        for v in self.violations.iter().take(25) {
            let _ = write!(out, "\n  - {v}");
        }
        if self.violations.len() > 25 {
            let _ = write!(out, "\n  … and {} more", self.violations.len() - 25);
        }
        out
    }
}

/// A short account of how a received list of seqs differs from the expected one.
pub fn describe_difference(got: &[i64], want: &[i64]) -> String {
    let mut out = format!("{} changes", got.len());
    let wanted: HashSet<i64> = want.iter().copied().collect();
    let mut seen = HashSet::new();
    let dups: Vec<i64> = got.iter().filter(|s| !seen.insert(**s)).copied().collect();
    let missing: Vec<i64> = want.iter().filter(|s| !seen.contains(s)).copied().collect();
    let extra: Vec<i64> = got
        .iter()
        .filter(|s| !wanted.contains(s))
        .copied()
        .collect();
    let out_of_order: Vec<(i64, i64)> = got
        .windows(2)
        .filter(|w| w[1] <= w[0])
        .map(|w| (w[0], w[1]))
        .collect();
    for (name, list) in [
        ("missing", &missing),
        ("duplicated", &dups),
        ("not expected", &extra),
    ] {
        if !list.is_empty() {
            let _ = write!(out, ", {name} {:?}", &list[..list.len().min(10)]);
        }
    }
    if !out_of_order.is_empty() {
        let _ = write!(
            out,
            ", out of order (a then b) {:?}",
            &out_of_order[..out_of_order.len().min(10)]
        );
    }
    if got != want
        && missing.is_empty()
        && dups.is_empty()
        && extra.is_empty()
        && out_of_order.is_empty()
    {
        out.push_str(", same seqs but different contents");
    }
    out
}
