//! Writes: every acked write matched to its change in the log and every change to
//! one request; each change holds what its request asked for.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::history::{Entry, Request, SocketHistory};
use super::model::Model;
use super::report::Report;

pub fn requests_of(histories: &[SocketHistory]) -> HashMap<(usize, usize), Request> {
    let mut requests = HashMap::new();
    for h in histories {
        for (at, entry) in h.entries.iter().enumerate() {
            if let Entry::Sent { req, event, arg } = entry {
                requests.insert(
                    (h.socket, *req),
                    Request::parse(h.socket, *req, at, event, arg),
                );
            }
        }
    }
    requests
}

/// Which request wrote which seq, and what each write request's outcome was.
pub struct Written {
    /// (socket, req) → seq of the change it committed.
    pub seq_of: HashMap<(usize, usize), i64>,
    /// seq → (socket, req) that committed it.
    pub by_seq: HashMap<i64, (usize, usize)>,
}

/// Matches every acked write to its change in the log, and every change to exactly one
/// request: an acked write, or one sent by a socket that hung up before its ack.
pub fn match_writes(
    histories: &[SocketHistory],
    requests: &HashMap<(usize, usize), Request>,
    model: &Model,
    report: &mut Report,
) -> Written {
    let mut written = Written {
        seq_of: HashMap::new(),
        by_seq: HashMap::new(),
    };
    let mut acked: HashSet<(usize, usize)> = HashSet::new();
    for h in histories {
        for entry in &h.entries {
            let Entry::Acked { req, args } = entry else {
                continue;
            };
            acked.insert((h.socket, *req));
            let r = &requests[&(h.socket, *req)];
            if !r.is_write() {
                continue;
            }
            let success = args.first().is_some_and(Value::is_null);
            let found = if r.method == "delete" {
                let prior = args
                    .get(1)
                    .and_then(|a| {
                        if r.iobind {
                            a.get("w")
                        } else {
                            a["data"].get("w")
                        }
                    })
                    .and_then(Value::as_str);
                prior.and_then(|t| model.deleted_tag.get(t))
            } else {
                r.tag.as_deref().and_then(|t| model.by_tag.get(t))
            };
            match (success, found) {
                (true, Some(seq)) => {
                    if let Some(other) = written.by_seq.insert(*seq, (h.socket, *req)) {
                        report.fail(format!(
                            "seq {seq} was acked to two requests: {} and {}",
                            r.describe(),
                            requests[&other].describe()
                        ));
                    }
                    written.seq_of.insert((h.socket, *req), *seq);
                    if !r.iobind && args[1]["seq"].as_i64() != Some(*seq) {
                        report.fail(format!(
                            "{} was acked with seq {} but committed as seq {seq}",
                            r.describe(),
                            args[1]["seq"]
                        ));
                    }
                }
                (true, None) => report.fail(format!(
                    "{} was acked as written ({}) but its change is not in the log",
                    r.describe(),
                    args.get(1).cloned().unwrap_or_default()
                )),
                (false, Some(seq)) if r.method != "delete" => report.fail(format!(
                    "{} was refused ({}) yet written as seq {seq}",
                    r.describe(),
                    args[0]
                )),
                (false, _) => {}
            }
        }
    }
    // Writes a socket sent just before it hung up: written or not, but only once.
    for h in histories.iter().filter(|h| h.disconnected_mid_burst) {
        for r in requests
            .values()
            .filter(|r| r.socket == h.socket && r.is_write())
        {
            if acked.contains(&(r.socket, r.req)) {
                continue;
            }
            if let Some(seq) = r.tag.as_deref().and_then(|t| model.by_tag.get(t)) {
                written.seq_of.insert((r.socket, r.req), *seq);
                written.by_seq.insert(*seq, (r.socket, r.req));
            }
        }
    }
    for h in histories.iter().filter(|h| !h.disconnected_mid_burst) {
        for r in requests.values().filter(|r| r.socket == h.socket) {
            if !acked.contains(&(r.socket, r.req)) {
                report.fail(format!("{} never got an ack", r.describe()));
            }
        }
    }
    for seq in model.log.keys() {
        if !written.by_seq.contains_key(seq) {
            report.fail(format!(
                "seq {seq} ({:?}) was committed but no request accounts for it",
                model.log[seq]
            ));
        }
    }
    written
}

/// Each committed change holds what its request asked for, given the state before it.
pub fn check_contents(
    requests: &HashMap<(usize, usize), Request>,
    written: &Written,
    model: &Model,
    report: &mut Report,
) {
    for (seq, key) in &written.by_seq {
        let r = &requests[key];
        let change = &model.log[seq];
        let before = model.state_at(&change.url, &change.id, seq - 1);
        if change.url != r.url || r.id.as_ref().is_some_and(|id| *id != change.id) {
            report.fail(format!(
                "seq {seq} wrote {}/{}, not what {} named",
                change.url,
                change.id,
                r.describe()
            ));
            continue;
        }
        let asked = r.data.clone().unwrap_or_default();
        let mut expected = match (r.method.as_str(), before) {
            ("create", None) | ("update", None) => asked,
            ("update", Some(_)) => asked,
            ("patch", Some(b)) => {
                let mut merged = b.data.as_object().cloned().unwrap_or_default();
                merged.extend(asked);
                merged
            }
            ("delete", Some(b)) => b.data.as_object().cloned().unwrap_or_default(),
            (_, before) => {
                report.fail(format!(
                    "seq {seq}: {} was carried out as {} although the model was {:?}",
                    r.describe(),
                    change.op,
                    before.map(|b| b.version)
                ));
                continue;
            }
        };
        // The id attribute is the server's to settle (the url's, or a new one).
        expected.insert("id".into(), change.data["id"].clone());
        if change.data != Value::Object(expected.clone()) {
            report.fail(format!(
                "seq {seq}: {} stored {} but the model says {}",
                r.describe(),
                change.data,
                Value::Object(expected)
            ));
        }
        let expected_op = match (r.method.as_str(), before) {
            ("update", None) => "create",
            (m, _) => m,
        };
        if change.op != expected_op {
            report.fail(format!(
                "seq {seq}: {} logged as op {}",
                r.describe(),
                change.op
            ));
        }
        if let (Some(v), Some(b)) = (r.version, before) {
            if v != b.version {
                report.fail(format!(
                    "seq {seq}: {} was written although the model was at version {}",
                    r.describe(),
                    b.version
                ));
            }
        }
    }
}
