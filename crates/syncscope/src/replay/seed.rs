//! The store as it stood when the recording began, worked out from the recording.
//!
//! A developer records with the data their app already has: the first `read` of
//! `/todos` answers with todos made long before. A fresh server would answer `[]`,
//! and every check would fail on data that has nothing to do with the behaviour
//! under test. So every model the recording shows before the session wrote it — in a
//! read, a conflict's `current`, a subscribe's reset, or the ack of a write to a model
//! at version > 1 — is put back in place, at the version it had, before the replay
//! starts.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::inspect::types::{Body, Record};
use crate::url::Url;

/// A model that existed before the session.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedModel {
    pub collection: String,
    pub id: String,
    pub data: Value,
    pub version: i64,
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

struct Seeds {
    known: HashSet<(String, String)>,
    out: Vec<SeedModel>,
}

impl Seeds {
    /// The session has seen this model: from now on it is not a seed.
    fn touch(&mut self, collection: &str, id: &str) -> bool {
        self.known.insert((collection.to_string(), id.to_string()))
    }

    fn offer(&mut self, collection: &str, data: &Value, version: i64) {
        let Some(id) = data.get("id").and_then(id_text) else {
            return;
        };
        if version >= 1 && self.touch(collection, &id) {
            self.out.push(SeedModel {
                collection: collection.to_string(),
                id,
                data: data.clone(),
                version,
            });
        }
    }

    fn offer_list(&mut self, collection: &str, models: &[Value], versions: Option<&Value>) {
        for model in models {
            let version = model
                .get("id")
                .and_then(id_text)
                .and_then(|id| versions?.get(&id)?.as_i64())
                .unwrap_or(1);
            self.offer(collection, model, version);
        }
    }
}

/// The collection and id a model url names.
fn split(url: &str) -> Option<(String, String)> {
    let url = Url::parse(url).ok()?;
    let (collection, id) = url.split_model()?;
    Some((collection.to_string(), id))
}

pub fn infer(records: &[Record]) -> Vec<SeedModel> {
    let requests: HashMap<u64, (&str, &Value, Option<&str>)> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::EventIn { event, args, .. } => {
                Some((r.seq, (event.as_str(), args, r.url.as_deref())))
            }
            _ => None,
        })
        .collect();
    let mut seeds = Seeds {
        known: HashSet::new(),
        out: Vec::new(),
    };
    for record in records {
        let Body::AckOut {
            request_seq, args, ..
        } = &record.body
        else {
            continue;
        };
        let Some(&(event, request, url)) = requests.get(request_seq) else {
            continue;
        };
        let Some(url) = url else { continue };
        let (method, iobind) = match event.rsplit_once(':') {
            Some((_, method)) => (method, true),
            None => (event, false),
        };
        let error = args.first().filter(|e| !e.is_null());
        if let Some(error) = error {
            // A conflict shows the stored model: on the collection url for a create,
            // on the model url otherwise.
            let collection = match method {
                "create" => Some(url.to_string()),
                _ if iobind => Some(url.to_string()),
                _ => split(url).map(|(c, _)| c),
            };
            if let (Some(current), Some(collection)) = (error.get("current"), collection) {
                let version = current.get("version").and_then(Value::as_i64).unwrap_or(1);
                if let Some(data) = current.get("data") {
                    seeds.offer(&collection, data, version);
                }
            }
            continue;
        }
        let Some(result) = args.get(1) else { continue };
        match (method, iobind) {
            ("read", false) => match result.get("data") {
                Some(Value::Array(models)) => seeds.offer_list(url, models, result.get("versions")),
                Some(model @ Value::Object(_)) => {
                    let version = result.get("version").and_then(Value::as_i64).unwrap_or(1);
                    if let Some((collection, _)) = split(url) {
                        seeds.offer(&collection, model, version);
                    }
                }
                _ => {}
            },
            ("read", true) => match result {
                Value::Array(models) => seeds.offer_list(url, models, None),
                model @ Value::Object(_) => seeds.offer(url, model, 1),
                _ => {}
            },
            ("subscribe", false) => {
                if let Some(Value::Array(models)) = result.get("data") {
                    seeds.offer_list(url, models, result.get("versions"));
                }
            }
            ("create", _) => {
                let data = if iobind {
                    Some(result)
                } else {
                    result.get("data")
                };
                if let Some(id) = data.and_then(|d| d.get("id")).and_then(id_text) {
                    seeds.touch(url, &id);
                }
            }
            ("update" | "patch" | "delete", _) => {
                // The write's ack shows the model after it; at version > 1 the model
                // was there before, at one version less. Its data then is not shown,
                // but an update replaces it, a patch keeps what it does not name and
                // a delete only needs it to exist.
                let (collection, id) = if iobind {
                    let id = request.get("id").and_then(id_text);
                    (url.to_string(), id)
                } else {
                    match split(url) {
                        Some((c, id)) => (c, Some(id)),
                        None => continue,
                    }
                };
                let Some(id) = id else { continue };
                let data = if iobind {
                    Some(result)
                } else {
                    result.get("data")
                };
                let version = result.get("version").and_then(Value::as_i64);
                match (data, version) {
                    (Some(data), Some(v)) if v > 1 => seeds.offer(&collection, data, v - 1),
                    _ => {
                        seeds.touch(&collection, &id);
                    }
                }
            }
            _ => {}
        }
    }
    seeds.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::types::Origin;
    use serde_json::json;

    fn record(seq: u64, url: &str, body: Body) -> Record {
        Record {
            seq,
            at_us: seq,
            socket: Some("s".into()),
            origin: Origin::Client,
            url: Some(url.into()),
            body,
        }
    }

    fn request(seq: u64, url: &str, event: &str, args: Value) -> Record {
        record(
            seq,
            url,
            Body::EventIn {
                event: event.into(),
                args,
                ack_id: Some(seq as i64),
            },
        )
    }

    fn ack(seq: u64, url: &str, request_seq: u64, args: Vec<Value>) -> Record {
        record(
            seq,
            url,
            Body::AckOut {
                request_seq,
                event: String::new(),
                dialect: None,
                latency_us: 1,
                error: None,
                fault: None,
                args,
            },
        )
    }

    #[test]
    fn models_read_before_the_session_wrote_them_are_seeded_at_their_version() {
        let records = vec![
            request(
                1,
                "/todos",
                "create",
                json!({"url": "/todos", "data": {"id": "new"}}),
            ),
            ack(
                2,
                "/todos",
                1,
                vec![
                    json!(null),
                    json!({"data": {"id": "new"}, "version": 1, "seq": 9}),
                ],
            ),
            request(3, "/todos", "read", json!({"url": "/todos"})),
            ack(
                4,
                "/todos",
                3,
                vec![
                    json!(null),
                    json!({
                "data": [{"id": "old", "t": 1}, {"id": "new"}],
                "versions": {"old": 3, "new": 1}, "seq": 9}),
                ],
            ),
            request(
                5,
                "/todos/7",
                "patch",
                json!({"url": "/todos/7", "data": {"x": 1}}),
            ),
            ack(
                6,
                "/todos/7",
                5,
                vec![
                    json!(null),
                    json!({"data": {"id": 7, "x": 1, "y": 2}, "version": 5, "seq": 10}),
                ],
            ),
        ];
        let seeds = infer(&records);
        assert_eq!(
            seeds,
            vec![
                SeedModel {
                    collection: "/todos".into(),
                    id: "old".into(),
                    data: json!({"id": "old", "t": 1}),
                    version: 3
                },
                SeedModel {
                    collection: "/todos".into(),
                    id: "7".into(),
                    data: json!({"id": 7, "x": 1, "y": 2}),
                    version: 4
                },
            ]
        );
    }
}
