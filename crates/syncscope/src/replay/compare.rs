//! What "the same answer" means when the server is run again.
//!
//! A server makes some values itself, and they differ from run to run without the
//! behaviour changing: the ids of models created without one, and the server-wide
//! `seq`. Ids are mapped (the recorded id of a created model stands for the id the
//! server gives it now, in later requests and in what is expected), and seqs are
//! compared only for their order. Everything else is compared exactly, except the
//! paths the user asked to leave out (`--ignore data.updatedAt`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A path into an ack's result or error, or a push's payload: dot-separated keys,
/// `*` for any key or array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnorePath(Vec<String>);

impl IgnorePath {
    pub fn parse(text: &str) -> Result<IgnorePath, String> {
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if text.is_empty() || segments.iter().any(String::is_empty) {
            return Err(format!(
                "--ignore {text:?}: say a path such as data.updatedAt or data.*.updatedAt"
            ));
        }
        Ok(IgnorePath(segments))
    }

    fn remove_from(&self, value: &mut Value) {
        remove(value, &self.0);
    }
}

fn remove(value: &mut Value, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Object(map) => {
            if rest.is_empty() {
                if head == "*" {
                    map.clear();
                } else {
                    map.remove(head);
                }
                return;
            }
            for (key, child) in map.iter_mut() {
                if head == "*" || head == key {
                    remove(child, rest);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                if head == "*" || head == &i.to_string() {
                    remove(child, rest);
                }
            }
        }
        _ => {}
    }
}

/// Where a value differs from the recording, both sides as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub recorded: Value,
    pub now: Value,
    /// Why, when it is not visible in the values themselves.
    pub note: Option<String>,
}

/// The shown stand-in for a seq, which is compared only for order.
const SEQ: &str = "<seq>";

#[derive(Debug, Default)]
pub struct Mapping {
    /// Recorded id → id now, for models whose id the server made.
    ids: Vec<(String, String)>,
    /// Recorded seq → seq now.
    seqs: BTreeMap<u64, u64>,
    ignore: Vec<IgnorePath>,
}

impl Mapping {
    pub fn new(ignore: Vec<IgnorePath>) -> Mapping {
        Mapping {
            ignore,
            ..Mapping::default()
        }
    }

    /// The server made `recorded` in the recording and `now` today: they stand for each
    /// other from here on. Short ids are left alone; they are the app's own, and
    /// replacing "1" inside every string would corrupt data.
    pub fn learn_id(&mut self, recorded: String, now: String) {
        if recorded != now && recorded.len() >= 8 {
            self.ids.push((recorded, now));
        }
    }

    /// A recorded text (an iobind event name carries a model url) with ids mapped.
    pub fn substitute_text(&self, text: &str) -> String {
        match self.substitute(&Value::String(text.to_string())) {
            Value::String(s) => s,
            _ => text.to_string(),
        }
    }

    /// A recorded value with every mapped id replaced by today's.
    pub fn substitute(&self, value: &Value) -> Value {
        if self.ids.is_empty() {
            return value.clone();
        }
        let swap = |s: &str| {
            let mut out = s.to_string();
            for (recorded, now) in &self.ids {
                if out.contains(recorded.as_str()) {
                    out = out.replace(recorded.as_str(), now);
                }
            }
            out
        };
        match value {
            Value::String(s) => Value::String(swap(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.substitute(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (swap(k), self.substitute(v)))
                    .collect::<Map<String, Value>>(),
            ),
            other => other.clone(),
        }
    }

    /// A recorded request, made fit to send today: ids mapped, and a `since` moved to
    /// the seq that stands for it now.
    pub fn request(&self, args: &Value) -> Value {
        let mut args = self.substitute(args);
        if let Some(since) = args.get("since").and_then(Value::as_u64) {
            let now = self
                .seqs
                .range(..=since)
                .next_back()
                .map(|(recorded, now)| now + (since - recorded))
                .unwrap_or(since);
            args["since"] = Value::from(now);
        }
        args
    }

    /// Compares what was recorded with what came now, learning seqs as it goes. The
    /// mismatch is boxed: it holds two JSON values, large with `preserve_order`.
    pub fn compare(&mut self, recorded: &[Value], now: &[Value]) -> Result<(), Box<Mismatch>> {
        let mut recorded = Value::Array(recorded.iter().map(|v| self.substitute(v)).collect());
        let mut now = Value::Array(now.to_vec());
        drop_links_not_recorded(&recorded, &mut now);
        let mut recorded_seqs = Vec::new();
        let mut now_seqs = Vec::new();
        take_seqs(&mut recorded, &mut recorded_seqs, false);
        take_seqs(&mut now, &mut now_seqs, false);
        for value in [&mut recorded, &mut now] {
            if let Value::Array(args) = value {
                for arg in args {
                    for path in &self.ignore {
                        path.remove_from(arg);
                    }
                }
            }
        }
        if recorded != now {
            return Err(Box::new(Mismatch {
                recorded,
                now,
                note: None,
            }));
        }
        for (r, n) in recorded_seqs.into_iter().zip(now_seqs) {
            if let Err(note) = self.learn_seq(r, n) {
                return Err(Box::new(Mismatch {
                    recorded,
                    now,
                    note: Some(note),
                }));
            }
        }
        Ok(())
    }

    /// Seqs must keep the recorded order: equal stays equal, earlier stays earlier.
    fn learn_seq(&mut self, recorded: u64, now: u64) -> Result<(), String> {
        if let Some(&known) = self.seqs.get(&recorded) {
            if known != now {
                return Err(format!(
                    "seq {recorded} of the recording stood for {known} in this run, and now for {now}"
                ));
            }
            return Ok(());
        }
        let before = self.seqs.range(..recorded).next_back();
        let after = self.seqs.range(recorded + 1..).next();
        if let Some((&r, &n)) = before {
            if n >= now {
                return Err(format!(
                    "out of order: seq {r} came before {recorded} in the recording, \
                     but now {n} does not come before {now}"
                ));
            }
        }
        if let Some((&r, &n)) = after {
            if n <= now {
                return Err(format!(
                    "out of order: seq {r} came after {recorded} in the recording, \
                     but now {n} does not come after {now}"
                ));
            }
        }
        self.seqs.insert(recorded, now);
        Ok(())
    }
}

/// Fields a newer server adds to its answers, which recordings made before them lack:
/// the channel links of the gap detection (`prev` in acks and pushes, `last` in a
/// subscribe ack; docs/PROTOCOL.md, *Gaps*) and the size limit a subscribe ack
/// announces (`maxData`), and its opt-in to client latency reports (`clientLatency`).
const LINKS: [&str; 4] = ["prev", "last", "maxData", "clientLatency"];

/// Leaves out of `now` the links a recording made before them does not have, so that
/// an older recording still replays.
fn drop_links_not_recorded(recorded: &Value, now: &mut Value) {
    let (Value::Array(recorded), Value::Array(now)) = (recorded, now) else {
        return;
    };
    for (r, n) in recorded.iter().zip(now.iter_mut()) {
        if let (Value::Object(r), Value::Object(n)) = (r, n) {
            for key in LINKS {
                if !r.contains_key(key) {
                    n.remove(key);
                }
            }
        }
    }
}

/// Replaces every server-wide `seq` (not a model attribute that happens to be called
/// so: nothing under `data` or `current`) by a stand-in, collecting the numbers. The
/// links to a channel's previous change are replaced too but not compared: they may
/// name changes made before the recording began, which a replay does not make.
fn take_seqs(value: &mut Value, seqs: &mut Vec<u64>, in_model: bool) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if !in_model && key == "seq" {
                    if let Some(n) = child.as_u64() {
                        seqs.push(n);
                        *child = Value::String(SEQ.into());
                        continue;
                    }
                }
                if !in_model && LINKS.contains(&key.as_str()) && child.is_u64() {
                    *child = Value::String(SEQ.into());
                    continue;
                }
                let model = in_model || key == "data" || key == "current";
                take_seqs(child, seqs, model);
            }
        }
        Value::Array(items) => {
            for item in items {
                take_seqs(item, seqs, in_model);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_made_by_the_server_are_mapped_in_requests_and_answers() {
        let mut m = Mapping::new(vec![]);
        m.learn_id("0190aaaa-old".into(), "0190bbbb-new".into());
        let req = m.request(&json!({"url": "/todos/0190aaaa-old", "data": {"id": "0190aaaa-old"}}));
        assert_eq!(
            req,
            json!({"url": "/todos/0190bbbb-new", "data": {"id": "0190bbbb-new"}})
        );
        let recorded = [
            json!(null),
            json!({"versions": {"0190aaaa-old": 2}, "seq": 9}),
        ];
        let now = [
            json!(null),
            json!({"versions": {"0190bbbb-new": 2}, "seq": 4}),
        ];
        assert_eq!(m.compare(&recorded, &now), Ok(()));
        // A short id is the app's own and is never rewritten.
        m.learn_id("1".into(), "2".into());
        assert_eq!(m.substitute(&json!("a1")), json!("a1"));
    }

    #[test]
    fn seqs_are_compared_for_order_only() {
        let mut m = Mapping::new(vec![]);
        assert!(m
            .compare(&[json!({"seq": 10})], &[json!({"seq": 3})])
            .is_ok());
        assert!(m
            .compare(&[json!({"seq": 12})], &[json!({"seq": 7})])
            .is_ok());
        let err = m
            .compare(&[json!({"seq": 11})], &[json!({"seq": 8})])
            .unwrap_err();
        assert!(err.note.unwrap().contains("out of order"));
        // A since is moved along with the seqs it refers to.
        assert_eq!(m.request(&json!({"since": 12}))["since"], json!(7));
        // A model attribute named seq is data, and compared exactly.
        assert!(m
            .compare(
                &[json!({"data": {"seq": 1}})],
                &[json!({"data": {"seq": 2}})]
            )
            .is_err());
    }

    #[test]
    fn ignored_paths_are_left_out() {
        let mut m = Mapping::new(vec![
            IgnorePath::parse("data.updatedAt").unwrap(),
            IgnorePath::parse("data.*.at").unwrap(),
        ]);
        let recorded = [json!(null), json!({"data": {"t": 1, "updatedAt": "a"}})];
        let now = [json!(null), json!({"data": {"t": 1, "updatedAt": "b"}})];
        assert!(m.compare(&recorded, &now).is_ok());
        let list = |at| [json!(null), json!({"data": [{"at": at, "t": 1}]})];
        assert!(m.compare(&list(1), &list(2)).is_ok());
        assert!(m
            .compare(&[json!({"data": {"t": 1}})], &[json!({"data": {"t": 2}})])
            .is_err());
        assert!(IgnorePath::parse("a..b").is_err());
    }
}
