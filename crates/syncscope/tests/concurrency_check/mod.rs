//! The concurrency checker: holds a recorded history of many sockets (every request,
//! every ack, every push, in the order each socket saw them) against a sequential model
//! of the store, replayed from the server's own change log.
//!
//! Why a checker instead of assertions inside the workload: under concurrency no single
//! expected value exists in advance; what is fixed is the set of histories that a store
//! with one total order of writes could have produced (Jepsen's and Porcupine's idea, at
//! the size of this project). The checker reconstructs that order from the seqs, checks
//! the order is real (unique, gap-free, every acked write in it once, nothing refused in
//! it), replays it as the model, and then asks of every observation whether the model
//! allows it at the point where the observing socket could have seen it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One thing a socket did or saw, in the order it happened on that socket's wire.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A request sent with an ack id (`req` is unique per socket).
    Sent {
        req: usize,
        event: String,
        arg: Value,
    },
    /// The ack of request `req`.
    Acked { req: usize, args: Vec<Value> },
    /// An event the server pushed.
    Pushed { event: String, args: Vec<Value> },
}

/// What one socket did, and whether its history is complete.
#[derive(Debug, Clone, Default)]
pub struct SocketHistory {
    pub socket: usize,
    pub name: String,
    pub entries: Vec<Entry>,
    /// The socket hung up on purpose with requests in flight: those may or may not
    /// have been carried out.
    pub disconnected_mid_burst: bool,
}

/// One committed change, as the change log and `change` pushes carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub url: String,
    pub op: String,
    pub id: String,
    pub data: Value,
    pub version: i64,
    pub seq: i64,
}

impl Change {
    pub fn from_json(value: &Value) -> Option<Change> {
        Some(Change {
            url: value["url"].as_str()?.to_string(),
            op: value["op"].as_str()?.to_string(),
            id: value["id"].as_str()?.to_string(),
            data: value["data"].clone(),
            version: value["version"].as_i64()?,
            seq: value["seq"].as_i64()?,
        })
    }

    /// The tag of the request that wrote this change (every write in the workload
    /// carries a unique `w`); for a delete, the tag of the write it deleted.
    fn tag(&self) -> Option<&str> {
        self.data.get("w").and_then(Value::as_str)
    }
}

/// The tag written into a request's data: unique per request, naming its socket.
pub fn tag(socket: usize, req: usize) -> String {
    format!("s{socket}.r{req}")
}

fn tag_socket(tag: &str) -> Option<usize> {
    tag.strip_prefix('s')?.split('.').next()?.parse().ok()
}

/// A model as the sequential model holds it at some point of the order.
#[derive(Debug, Clone, PartialEq)]
struct ModelState {
    data: Value,
    version: i64,
    /// The seq that (re)created it: collection reads list models in this order.
    created_seq: i64,
}

/// A model's state after the change of `seq` (None: deleted).
struct Step {
    seq: i64,
    state: Option<ModelState>,
}

/// A model: its collection url and id.
type ModelKey = (String, String);

/// The sequential model: every model's states over the order of seqs.
#[derive(Default)]
struct Model {
    /// Each model's states, in seq order.
    timelines: HashMap<ModelKey, Vec<Step>>,
    /// collection url → its ids, in first-seen order.
    ids: BTreeMap<String, Vec<String>>,
    log: BTreeMap<i64, Change>,
    last_seq: i64,
    /// Request tag → seq of the create, update or patch that carried it.
    by_tag: HashMap<String, i64>,
    /// Tag of the state a delete removed → seq of the delete (a state is deleted once).
    deleted_tag: HashMap<String, i64>,
}

impl Model {
    fn state_at(&self, url: &str, id: &str, seq: i64) -> Option<&ModelState> {
        let timeline = self.timelines.get(&(url.to_string(), id.to_string()))?;
        let at = timeline.partition_point(|step| step.seq <= seq);
        if at == 0 {
            return None;
        }
        timeline[at - 1].state.as_ref()
    }

    /// Whether the model held `want` (None: absent) at some point of `[lo, hi]`.
    fn held_within(
        &self,
        url: &str,
        id: &str,
        lo: i64,
        hi: i64,
        want: Option<(&Value, i64)>,
    ) -> bool {
        let matches = |state: Option<&ModelState>| match (state, want) {
            (None, None) => true,
            (Some(s), Some((data, version))) => &s.data == data && s.version == version,
            _ => false,
        };
        if matches(self.state_at(url, id, lo)) {
            return true;
        }
        let Some(timeline) = self.timelines.get(&(url.to_string(), id.to_string())) else {
            return false;
        };
        timeline
            .iter()
            .filter(|step| step.seq > lo && step.seq <= hi)
            .any(|step| matches(step.state.as_ref()))
    }

    /// The collection's models at `seq`, in creation order.
    fn collection_at(&self, url: &str, seq: i64) -> Vec<(String, ModelState)> {
        let mut models: Vec<(String, ModelState)> = self
            .ids
            .get(url)
            .into_iter()
            .flatten()
            .filter_map(|id| self.state_at(url, id, seq).map(|s| (id.clone(), s.clone())))
            .collect();
        models.sort_by_key(|(_, s)| s.created_seq);
        models
    }

    /// Seqs of a collection's changes in `(lo, hi]`.
    fn collection_seqs(&self, url: &str, lo: i64, hi: i64) -> Vec<i64> {
        if hi <= lo {
            return Vec::new();
        }
        self.log
            .range(lo + 1..=hi)
            .filter(|(_, c)| c.url == url)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// What a request asked for, parsed from its event and argument.
#[derive(Debug, Clone)]
struct Request {
    socket: usize,
    req: usize,
    /// Position of the Sent entry in its socket's history.
    at: usize,
    iobind: bool,
    method: String,
    /// Collection url, normalised as the workload always sends it.
    url: String,
    /// The model id a model request names.
    id: Option<String>,
    data: Option<Map<String, Value>>,
    version: Option<i64>,
    since: Option<i64>,
    tag: Option<String>,
}

impl Request {
    fn parse(socket: usize, req: usize, at: usize, event: &str, arg: &Value) -> Request {
        let (iobind, method, url, id) = match event.split_once(':') {
            Some((ns, method)) => {
                let id = arg.get("id").map(id_text);
                (true, method.to_string(), format!("/{ns}"), id)
            }
            None => {
                let url = arg["url"].as_str().unwrap_or_default().to_string();
                let model_method = matches!(event, "update" | "patch" | "delete");
                let model_read = event == "read" && arg.get("data").is_some();
                if model_method || model_read {
                    let (collection, id) = url.rsplit_once('/').unwrap_or_default();
                    (
                        false,
                        event.to_string(),
                        collection.to_string(),
                        Some(id.to_string()),
                    )
                } else {
                    let id = arg["data"].get("id").map(id_text);
                    (false, event.to_string(), url, id)
                }
            }
        };
        let data = if iobind {
            arg.as_object().cloned()
        } else {
            arg.get("data").and_then(Value::as_object).cloned()
        };
        let tag = data
            .as_ref()
            .and_then(|d| d.get("w"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Request {
            socket,
            req,
            at,
            iobind,
            method,
            url,
            id,
            data,
            version: arg.get("version").and_then(Value::as_i64),
            since: arg.get("since").and_then(Value::as_i64),
            tag,
        }
    }

    fn is_write(&self) -> bool {
        matches!(
            self.method.as_str(),
            "create" | "update" | "patch" | "delete"
        )
    }

    fn describe(&self) -> String {
        let iobind = if self.iobind { " (iobind)" } else { "" };
        format!(
            "socket {} request {}{iobind}: {} {} id={:?} version={:?} tag={:?}",
            self.socket, self.req, self.method, self.url, self.id, self.version, self.tag
        )
    }
}

fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The violations found; empty when the history is one a sequential store allows.
pub struct Report {
    pub violations: Vec<String>,
    pub writes: usize,
    pub pushes_checked: usize,
    pub reads_checked: usize,
    pub conflicts_checked: usize,
}

impl Report {
    fn fail(&mut self, text: String) {
        self.violations.push(text);
    }

    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} committed writes, {} pushes, {} reads, {} refusals checked; {} violations",
            self.writes,
            self.pushes_checked,
            self.reads_checked,
            self.conflicts_checked,
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

/// Checks `histories` against the order of `log` (every change of every collection the
/// workload touched, fetched with `subscribe since 0` after the run).
pub fn check(histories: &[SocketHistory], log: &[Change]) -> Report {
    let mut report = Report {
        violations: Vec::new(),
        writes: log.len(),
        pushes_checked: 0,
        reads_checked: 0,
        conflicts_checked: 0,
    };
    let model = replay(log, &mut report);
    let requests = requests_of(histories);
    let written = match_writes(histories, &requests, &model, &mut report);
    check_contents(&requests, &written, &model, &mut report);
    for history in histories {
        let view = SocketView::new(history, &requests, &written, &model);
        check_socket_order(&view, &model, &mut report);
        check_refusals_and_reads(&view, &model, &mut report);
        check_native_channels(&view, &model, &written, &mut report);
        check_iobind_pushes(&view, &model, &written, &mut report);
    }
    report
}

/// Replays the log as the sequential model, checking that it is one: seqs unique and
/// without gap, each op legal for the state before it, versions +1 per write.
fn replay(log: &[Change], report: &mut Report) -> Model {
    let mut model = Model::default();
    let mut current: HashMap<ModelKey, ModelState> = HashMap::new();
    for change in log {
        if model.log.insert(change.seq, change.clone()).is_some() {
            report.fail(format!("seq {} was given to two changes", change.seq));
        }
    }
    let mut expected_seq = 1;
    for (seq, change) in &model.log {
        if *seq != expected_seq {
            report.fail(format!(
                "the change log has a gap: seq {expected_seq} is missing before {seq}"
            ));
        }
        expected_seq = seq + 1;
        let key = (change.url.clone(), change.id.clone());
        let before = current.get(&key).cloned();
        let after = match (change.op.as_str(), &before) {
            ("create", None) if change.version == 1 => Some(ModelState {
                data: change.data.clone(),
                version: 1,
                created_seq: *seq,
            }),
            ("update" | "patch", Some(b)) if change.version == b.version + 1 => Some(ModelState {
                data: change.data.clone(),
                version: change.version,
                created_seq: b.created_seq,
            }),
            ("delete", Some(b)) if change.version == b.version + 1 && change.data == b.data => None,
            _ => {
                report.fail(format!(
                    "seq {seq}: {} {}/{} version {} is not a legal next step from {:?}",
                    change.op,
                    change.url,
                    change.id,
                    change.version,
                    before.as_ref().map(|b| (&b.data, b.version))
                ));
                // Keep replaying from what the log says, to report later steps sensibly.
                (change.op != "delete").then(|| ModelState {
                    data: change.data.clone(),
                    version: change.version,
                    created_seq: before.as_ref().map_or(*seq, |b| b.created_seq),
                })
            }
        };
        match &after {
            Some(state) => current.insert(key.clone(), state.clone()),
            None => current.remove(&key),
        };
        let ids = model.ids.entry(change.url.clone()).or_default();
        if !model.timelines.contains_key(&key) {
            ids.push(change.id.clone());
        }
        model.timelines.entry(key).or_default().push(Step {
            seq: *seq,
            state: after,
        });
        model.last_seq = *seq;
    }
    for (seq, change) in &model.log {
        let index = if change.op == "delete" {
            &mut model.deleted_tag
        } else {
            &mut model.by_tag
        };
        match change.tag() {
            Some(t) => {
                if index.insert(t.to_string(), *seq).is_some() {
                    report.fail(format!("the tag {t} appears in two {} changes", change.op));
                }
            }
            None => report.fail(format!("seq {seq} carries no request tag")),
        }
    }
    model
}

fn requests_of(histories: &[SocketHistory]) -> HashMap<(usize, usize), Request> {
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
struct Written {
    /// (socket, req) → seq of the change it committed.
    seq_of: HashMap<(usize, usize), i64>,
    /// seq → (socket, req) that committed it.
    by_seq: HashMap<i64, (usize, usize)>,
}

/// Matches every acked write to its change in the log, and every change to exactly one
/// request: an acked write, or one sent by a socket that hung up before its ack.
fn match_writes(
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
fn check_contents(
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

/// One socket's history with, for each entry, the seqs it proves the socket knew of.
struct SocketView<'a> {
    history: &'a SocketHistory,
    requests: &'a HashMap<(usize, usize), Request>,
    written: &'a Written,
    /// For each position, the highest seq seen or written by this socket before it.
    known_before: Vec<i64>,
    /// For each position, the latest point of the order that entries received at or
    /// after it prove came before them.
    seen_from: Vec<i64>,
    /// The same from acks alone. A read takes no lock: a push received after a read's
    /// ack may be of a write the read already saw (committed, not yet pushed).
    acks_from: Vec<i64>,
    /// For each position, the lowest seq of an own write sent at or after it.
    own_from: Vec<i64>,
}

impl<'a> SocketView<'a> {
    fn new(
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

    fn request(&self, req: usize) -> &Request {
        &self.requests[&(self.history.socket, req)]
    }

    /// The highest seq this socket had seen before sending the request at `sent`,
    /// counting its own writes sent earlier (one socket's requests run in order).
    fn lo(&self, sent: usize) -> i64 {
        self.known_before[sent]
    }

    /// The request sent at `sent` and acked at `acked` was carried out before its own
    /// writes sent after it, and, when it took the write lock (a write, refused or
    /// not), before any change the socket received after the ack.
    fn hi(&self, sent: usize, acked: usize, locked: bool, model: &Model) -> i64 {
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
fn iobind_push_seq(event: &str, attrs: &Value, model: &Model) -> Option<i64> {
    let tag = attrs.get("w")?.as_str()?;
    if event.ends_with(":delete") {
        model.deleted_tag.get(tag).copied()
    } else {
        model.by_tag.get(tag).copied()
    }
}

/// On one socket, write acks and `change` pushes arrive in strictly increasing seq
/// order: a write's ack and pushes are sent before the next write commits.
fn check_socket_order(view: &SocketView, model: &Model, report: &mut Report) {
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
    let _ = model;
}

/// Refused writes: a conflict's `current` is what the store held at a point where the
/// request could have run; a not_found, that the model was absent there. Reads: each
/// saw at least what this socket knew before sending it, and a state the model held.
fn check_refusals_and_reads(view: &SocketView, model: &Model, report: &mut Report) {
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

fn check_refusal(r: &Request, err: &Value, lo: i64, hi: i64, model: &Model, report: &mut Report) {
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

fn check_read(r: &Request, result: &Value, lo: i64, hi: i64, model: &Model, report: &mut Report) {
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
fn check_native_channels(view: &SocketView, model: &Model, written: &Written, report: &mut Report) {
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
fn check_iobind_pushes(view: &SocketView, model: &Model, written: &Written, report: &mut Report) {
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

/// A short account of how a received list of seqs differs from the expected one.
fn describe_difference(got: &[i64], want: &[i64]) -> String {
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

/// A small deterministic generator (splitmix64): the workload is a function of the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
