//! What each socket observed: acks and pushes in seq order, reads and refusals
//! consistent with the model where the socket could have seen it, subscriptions and
//! iobind listening receiving exactly their channel's changes.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::history::{Change, Entry, Request, SocketHistory};
use super::model::{Model, ModelState};
use super::report::{describe_difference, Report};
use super::writes::Written;

/// One socket's history with, for each entry, the seqs it proves the socket knew of.
pub struct SocketView<'a> {
    pub history: &'a SocketHistory,
    pub requests: &'a HashMap<(usize, usize), Request>,
    pub written: &'a Written,
    /// For each position, the highest seq seen or written by this socket before it.
    pub known_before: Vec<i64>,
    /// For each position, the latest point of the order that entries received at or
    /// after it prove came before them.
    pub seen_from: Vec<i64>,
    /// The same from acks alone. A read takes no lock: a push received after a read's
    /// ack may be of a write the read already saw (committed, not yet pushed).
    pub acks_from: Vec<i64>,
    /// For each position, the lowest seq of an own write sent at or after it.
    pub own_from: Vec<i64>,
}

impl<'a> SocketView<'a> {
    pub fn new(
        history: &'a SocketHistory,
        requests: &'a HashMap<(usize, usize), Request>,
        written: &'a Written,
        model: &Model,
    ) -> Self {
        let socket = history.socket;
        // Each seq received, with the last point of the order it proves came before
        // the entry: a committed write (ack or push) came after anything acked earlier
        // on this socket, so that point is seq - 1; a read or subscribe ack's seq may
        // be the very point at which an earlier request ran.
        let seen: Vec<Option<(i64, i64)>> = history
            .entries
            .iter()
            .map(|entry| match entry {
                Entry::Sent { .. } => None,
                Entry::Acked { req, args } => match written.seq_of.get(&(socket, *req)) {
                    Some(seq) => Some((*seq, seq - 1)),
                    None => args
                        .get(1)
                        .and_then(|a| a.get("seq"))
                        .and_then(Value::as_i64)
                        .map(|seq| (seq, seq)),
                },
                Entry::Pushed { event, args } if event == "change" => {
                    args[0]["seq"].as_i64().map(|seq| (seq, seq - 1))
                }
                Entry::Pushed { event, args } => {
                    iobind_push_seq(event, &args[0], model).map(|seq| (seq, seq - 1))
                }
            })
            .collect();
        let own: Vec<Option<i64>> = history
            .entries
            .iter()
            .map(|entry| match entry {
                Entry::Sent { req, .. } => written.seq_of.get(&(socket, *req)).copied(),
                _ => None,
            })
            .collect();
        let n = history.entries.len();
        let mut known_before = vec![0; n + 1];
        for i in 0..n {
            known_before[i + 1] = known_before[i]
                .max(seen[i].map_or(0, |(seq, _)| seq))
                .max(own[i].unwrap_or(0));
        }
        let mut seen_from = vec![i64::MAX; n + 1];
        let mut acks_from = vec![i64::MAX; n + 1];
        let mut own_from = vec![i64::MAX; n + 1];
        for i in (0..n).rev() {
            seen_from[i] = seen_from[i + 1].min(seen[i].map_or(i64::MAX, |(_, before)| before));
            own_from[i] = own_from[i + 1].min(own[i].unwrap_or(i64::MAX));
            let ack = matches!(history.entries[i], Entry::Acked { .. });
            acks_from[i] = match (ack, seen[i]) {
                (true, Some((_, before))) => acks_from[i + 1].min(before),
                _ => acks_from[i + 1],
            };
        }
        SocketView {
            history,
            requests,
            written,
            known_before,
            seen_from,
            acks_from,
            own_from,
        }
    }

    pub fn request(&self, req: usize) -> &Request {
        &self.requests[&(self.history.socket, req)]
    }

    /// The highest seq this socket had seen before sending the request at `sent`,
    /// counting its own writes sent earlier (one socket's requests run in order).
    pub fn lo(&self, sent: usize) -> i64 {
        self.known_before[sent]
    }

    /// The request sent at `sent` and acked at `acked` was carried out before its own
    /// writes sent after it, and, when it took the write lock (a write, refused or
    /// not), before any change the socket received after the ack.
    pub fn hi(&self, sent: usize, acked: usize, locked: bool, model: &Model) -> i64 {
        let own_after = self.own_from[sent + 1].saturating_sub(1);
        let seen = if locked {
            self.seen_from[acked + 1]
        } else {
            self.acks_from[acked + 1]
        };
        seen.min(own_after).min(model.last_seq)
    }
}

/// The seq of the change an iobind push reports, found by the tag in its attributes.
pub fn iobind_push_seq(event: &str, attrs: &Value, model: &Model) -> Option<i64> {
    let tag = attrs.get("w")?.as_str()?;
    if event.ends_with(":delete") {
        model.deleted_tag.get(tag).copied()
    } else {
        model.by_tag.get(tag).copied()
    }
}

/// On one socket, write acks and `change` pushes arrive in strictly increasing seq
/// order: a write's ack and pushes are sent before the next write commits.
pub fn check_socket_order(view: &SocketView, report: &mut Report) {
    let mut last: Option<(i64, String)> = None;
    for entry in &view.history.entries {
        let seq = match entry {
            Entry::Acked { req, .. } => view
                .written
                .seq_of
                .get(&(view.history.socket, *req))
                .copied(),
            Entry::Pushed { event, args } if event == "change" => args[0]["seq"].as_i64(),
            _ => None,
        };
        let Some(seq) = seq else { continue };
        let what = match entry {
            Entry::Acked { req, .. } => format!("the ack of its {}", view.request(*req).method),
            _ => "a change push".to_string(),
        };
        if let Some((prev, prev_what)) = &last {
            if seq <= *prev {
                report.fail(format!(
                    "{} (socket {}) got {what} for seq {seq} after {prev_what} for seq {prev}",
                    view.history.name, view.history.socket
                ));
            }
        }
        last = Some((seq, what));
    }
}

/// Refused writes: a conflict's `current` is what the store held at a point where the
/// request could have run; a not_found, that the model was absent there. Reads: each
/// saw at least what this socket knew before sending it, and a state the model held.
pub fn check_refusals_and_reads(view: &SocketView, model: &Model, report: &mut Report) {
    let mut sent_at: HashMap<usize, usize> = HashMap::new();
    for (at, entry) in view.history.entries.iter().enumerate() {
        match entry {
            Entry::Sent { req, .. } => {
                sent_at.insert(*req, at);
            }
            Entry::Acked { req, args } => {
                let r = view.request(*req);
                let sent = sent_at[req];
                let lo = view.lo(sent);
                let hi = view.hi(sent, at, r.is_write(), model);
                let failed = !args.first().is_some_and(Value::is_null);
                if failed {
                    check_refusal(r, &args[0], lo, hi, model, report);
                } else if r.method == "read" {
                    check_read(r, &args[1], lo, hi, model, report);
                }
            }
            Entry::Pushed { .. } => {}
        }
    }
}

pub fn check_refusal(
    r: &Request,
    err: &Value,
    lo: i64,
    hi: i64,
    model: &Model,
    report: &mut Report,
) {
    report.conflicts_checked += 1;
    let id = r.id.clone().unwrap_or_default();
    match err["code"].as_str() {
        Some("conflict") => {
            let current = &err["current"];
            let version = current["version"].as_i64().unwrap_or(-1);
            if r.method != "create" && r.version == Some(version) {
                report.fail(format!(
                    "{} was refused as a conflict at the version it named",
                    r.describe()
                ));
            }
            if r.method != "create" && r.version.is_none() {
                report.fail(format!(
                    "{} without a version was refused as a conflict",
                    r.describe()
                ));
            }
            if !model.held_within(&r.url, &id, lo, hi, Some((&current["data"], version))) {
                report.fail(format!(
                    "{} got conflict with current {current}, which the store never held between seq {lo} and {hi}",
                    r.describe()
                ));
            }
        }
        Some("not_found") => {
            if !model.held_within(&r.url, &id, lo, hi, None) {
                report.fail(format!(
                    "{} got not_found although the model existed throughout seq {lo}..={hi}",
                    r.describe()
                ));
            }
        }
        _ => report.fail(format!("{} failed unexpectedly: {err}", r.describe())),
    }
}

pub fn check_read(
    r: &Request,
    result: &Value,
    lo: i64,
    hi: i64,
    model: &Model,
    report: &mut Report,
) {
    report.reads_checked += 1;
    match (r.iobind, &r.id) {
        (false, None) => {
            let seq = result["seq"].as_i64().unwrap_or(-1);
            if seq < lo {
                report.fail(format!(
                    "{} read at seq {seq}, before seq {lo} it had already seen",
                    r.describe()
                ));
            }
            let models = model.collection_at(&r.url, seq);
            let data: Vec<&Value> = models.iter().map(|(_, s)| &s.data).collect();
            let versions: Map<String, Value> = models
                .iter()
                .map(|(id, s)| (id.clone(), Value::from(s.version)))
                .collect();
            if result["data"]
                .as_array()
                .map(|a| a.iter().collect::<Vec<_>>())
                != Some(data)
                || result["versions"] != Value::Object(versions)
            {
                report.fail(format!(
                    "{} at seq {seq} returned {} but the model holds {:?}",
                    r.describe(),
                    result["data"],
                    models.iter().map(|(_, s)| &s.data).collect::<Vec<_>>()
                ));
            }
        }
        (false, Some(id)) => {
            let seq = result["seq"].as_i64().unwrap_or(-1);
            if seq < lo {
                report.fail(format!(
                    "{} read at seq {seq}, before seq {lo} it had already seen",
                    r.describe()
                ));
            }
            let version = result["version"].as_i64().unwrap_or(-1);
            if !model.held_within(
                &r.url,
                id,
                lo,
                seq.min(hi),
                Some((&result["data"], version)),
            ) {
                report.fail(format!(
                    "{} returned {} version {version}, which the store never held between seq {lo} and {seq}",
                    r.describe(),
                    result["data"]
                ));
            }
        }
        (true, Some(id)) => {
            let seen = |s: Option<&ModelState>| s.is_some_and(|s| s.data == *result);
            let candidates = std::iter::once(lo).chain(model.collection_seqs(&r.url, lo, hi));
            if !candidates
                .into_iter()
                .any(|s| seen(model.state_at(&r.url, id, s)))
            {
                report.fail(format!(
                    "{} returned {result}, which the store never held between seq {lo} and {hi}",
                    r.describe()
                ));
            }
        }
        (true, None) => {
            let candidates = std::iter::once(lo).chain(model.collection_seqs(&r.url, lo, hi));
            let matches = |s: i64| {
                let data: Vec<Value> = model
                    .collection_at(&r.url, s)
                    .into_iter()
                    .map(|(_, m)| m.data)
                    .collect();
                Value::Array(data) == *result
            };
            if !candidates.into_iter().any(matches) {
                report.fail(format!(
                    "{} returned {result}, which the collection never was between seq {lo} and {hi}",
                    r.describe()
                ));
            }
        }
    }
}

/// Each native subscription: its catch-up is exactly the channel's changes after
/// `since` up to the ack's seq; its pushes exactly the changes after that seq, by
/// others, once each, in order, each as committed.
pub fn check_native_channels(
    view: &SocketView,
    model: &Model,
    written: &Written,
    report: &mut Report,
) {
    let socket = view.history.socket;
    let own = |seq: &i64| written.by_seq.get(seq).is_some_and(|(s, _)| *s == socket);
    let mut subscribed: HashMap<String, i64> = HashMap::new();
    let mut pushed: HashMap<String, Vec<Change>> = HashMap::new();
    for entry in &view.history.entries {
        match entry {
            Entry::Acked { req, args } if view.request(*req).method == "subscribe" => {
                let r = view.request(*req);
                let Some(seq) = args.get(1).and_then(|a| a["seq"].as_i64()) else {
                    report.fail(format!("{} failed: {:?}", r.describe(), args));
                    continue;
                };
                if subscribed.insert(r.url.clone(), seq).is_some() {
                    continue;
                }
                if let Some(since) = r.since {
                    let caught_up: Vec<Change> = args[1]["changes"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Change::from_json).collect())
                        .unwrap_or_default();
                    if args[1]["reset"] == Value::Bool(true) {
                        report.fail(format!(
                            "{} got a reset although the log reaches back",
                            r.describe()
                        ));
                    }
                    let expected: Vec<Change> = model
                        .collection_seqs(&r.url, since, seq)
                        .iter()
                        .map(|s| model.log[s].clone())
                        .collect();
                    report.pushes_checked += caught_up.len();
                    if caught_up != expected {
                        report.fail(format!(
                            "{} (since {since}, ack seq {seq}) caught up with seqs {:?}; the channel's changes in ({since}, {seq}] are {:?}",
                            r.describe(),
                            caught_up.iter().map(|c| c.seq).collect::<Vec<_>>(),
                            expected.iter().map(|c| c.seq).collect::<Vec<_>>()
                        ));
                    }
                }
            }
            Entry::Pushed { event, args } if event == "change" => {
                let Some(change) = Change::from_json(&args[0]) else {
                    report.fail(format!(
                        "socket {socket} got a malformed change {}",
                        args[0]
                    ));
                    continue;
                };
                if !subscribed.contains_key(&change.url) {
                    report.fail(format!(
                        "socket {socket} got change seq {} of {} before its subscribe ack",
                        change.seq, change.url
                    ));
                }
                pushed.entry(change.url.clone()).or_default().push(change);
            }
            _ => {}
        }
    }
    for (url, from) in &subscribed {
        let expected: Vec<&Change> = model
            .collection_seqs(url, *from, model.last_seq)
            .iter()
            .filter(|s| !own(s))
            .map(|s| &model.log[s])
            .collect();
        let got: Vec<&Change> = pushed
            .get(url)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        report.pushes_checked += got.len();
        if got != expected {
            let got_seqs: Vec<i64> = got.iter().map(|c| c.seq).collect();
            let want_seqs: Vec<i64> = expected.iter().map(|c| c.seq).collect();
            report.fail(format!(
                "{} (socket {socket}) subscribed to {url} at seq {from}: pushed {}; expected {}",
                view.history.name,
                describe_difference(&got_seqs, &want_seqs),
                want_seqs.len()
            ));
        }
    }
}

/// An iobind listener gets, for each change of its namespace by others after it began
/// listening, the two events ioBind waits for, carrying the attributes, in seq order.
/// Listening begins while its first `<ns>:` request is handled, so the events must be
/// a suffix of the expected ones that covers every change after its first own write
/// (or all of them, for a listener that spoke before any write was made).
pub fn check_iobind_pushes(
    view: &SocketView,
    model: &Model,
    written: &Written,
    report: &mut Report,
) {
    let socket = view.history.socket;
    let mut spoke: Vec<String> = Vec::new();
    let mut got: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    for entry in &view.history.entries {
        match entry {
            Entry::Sent { event, .. } => {
                if let Some((ns, _)) = event.split_once(':') {
                    if !spoke.contains(&format!("/{ns}")) {
                        spoke.push(format!("/{ns}"));
                    }
                }
            }
            Entry::Pushed { event, args } if event != "change" => {
                let ns = event
                    .trim_start_matches('/')
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("");
                got.entry(format!("/{ns}"))
                    .or_default()
                    .push((event.clone(), args.first().cloned().unwrap_or_default()));
            }
            _ => {}
        }
    }
    for url in &spoke {
        let ns = &url[1..];
        let changes: Vec<&Change> = model
            .log
            .iter()
            .filter(|(s, c)| {
                c.url == *url && written.by_seq.get(s).is_none_or(|(o, _)| *o != socket)
            })
            .map(|(_, c)| c)
            .collect();
        let expected: Vec<(String, Value)> = changes
            .iter()
            .flat_map(|c| {
                let target = match c.op.as_str() {
                    "create" => format!("{ns}:create"),
                    "delete" => format!("{ns}/{}:delete", c.id),
                    _ => format!("{ns}/{}:update", c.id),
                };
                [
                    (target.clone(), c.data.clone()),
                    (format!("/{target}"), c.data.clone()),
                ]
            })
            .collect();
        let got = got.remove(url).unwrap_or_default();
        report.pushes_checked += got.len();
        let first_own_write = view
            .requests
            .values()
            .filter(|r| r.socket == socket && r.url == *url)
            .filter_map(|r| written.seq_of.get(&(socket, r.req)))
            .min()
            .copied()
            .unwrap_or(0);
        let required_from = changes
            .iter()
            .position(|c| c.seq > first_own_write)
            .unwrap_or(changes.len());
        let start = expected.len().saturating_sub(got.len());
        if got.len() > expected.len() || expected[start..] != got[..] || start > 2 * required_from {
            let first_difference = got.iter().zip(&expected[start..]).position(|(a, b)| a != b);
            report.fail(format!(
                "{} (socket {socket}, iobind listener of {url}) got {} events; expected the last {} or more of {}, first difference at {first_difference:?}",
                view.history.name,
                got.len(),
                expected.len() - 2 * required_from,
                expected.len(),
            ));
        }
    }
    for url in got.keys() {
        report.fail(format!(
            "socket {socket} got iobind pushes of {url}, which it never spoke to"
        ));
    }
}

/// `prev` (docs/PROTOCOL.md, *Gaps*): every `change` push and native write ack names
/// the seq of its channel's change just before it, and every subscribe ack's `last` is
/// the channel's latest change at the ack's seq; so each socket can follow one
/// unbroken chain per channel, whatever the other writers do meanwhile.
pub fn check_prev_chains(view: &SocketView, model: &Model, report: &mut Report) {
    let socket = view.history.socket;
    let before = |url: &str, seq: i64| {
        model
            .collection_seqs(url, 0, seq - 1)
            .last()
            .copied()
            .unwrap_or(0)
    };
    for entry in &view.history.entries {
        match entry {
            Entry::Acked { req, args } => {
                let r = view.request(*req);
                if r.iobind || !args.first().is_some_and(Value::is_null) {
                    continue;
                }
                let Some(result) = args.get(1) else { continue };
                let Some(seq) = result["seq"].as_i64() else {
                    continue;
                };
                let (field, got, want) = match r.method.as_str() {
                    "subscribe" => ("last", result["last"].as_i64(), before(&r.url, seq + 1)),
                    _ if r.is_write() => ("prev", result["prev"].as_i64(), before(&r.url, seq)),
                    _ => continue,
                };
                report.prevs_checked += 1;
                if got != Some(want) {
                    report.fail(format!(
                        "{} (ack seq {seq}) says {field} {got:?}; the channel's change before is {want}",
                        r.describe()
                    ));
                }
            }
            Entry::Pushed { event, args } if event == "change" => {
                let Some(change) = Change::from_json(&args[0]) else {
                    continue;
                };
                let got = args[0]["prev"].as_i64();
                let want = before(&change.url, change.seq);
                report.prevs_checked += 1;
                if got != Some(want) {
                    report.fail(format!(
                        "socket {socket} got change seq {} of {} with prev {got:?}; the channel's change before is {want}",
                        change.seq, change.url
                    ));
                }
            }
            _ => {}
        }
    }
}
