//! The two dialects a client may speak (docs/PROTOCOL.md): parsing an incoming event
//! into a [`Command`], and rendering the outcome as that dialect's ack.
//!
//! Parsing is strict and total: whatever a client sends becomes either a command or a
//! [`SyncError`] that says what to fix; nothing here can fail the server.

use serde_json::{json, Map, Value};

use crate::error::SyncError;
use crate::outcome::Outcome;
use crate::query::Query;
use crate::store::{Model, Write};
use crate::url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
    Native,
    /// backbone.iobind; `ns` is the first url segment it names events with.
    Iobind {
        ns: String,
    },
}

#[derive(Debug, Clone)]
pub enum Command {
    ReadCollection {
        collection: Url,
    },
    ReadModel {
        collection: Url,
        id: String,
    },
    /// A url that is a model when such a model exists, else a collection.
    ReadEither {
        url: Url,
    },
    /// A collection read narrowed by a live query (crate::query).
    ReadQuery {
        collection: Url,
        query: Query,
    },
    Write {
        collection: Url,
        write: Write,
    },
    Subscribe {
        collection: Url,
        since: Option<i64>,
        /// A live query: the subscription hears only what concerns its result.
        query: Option<Query>,
    },
    Unsubscribe {
        collection: Url,
        query: Option<Query>,
    },
}

impl Command {
    /// The url the request concerns: the model url of a model read or write, else the
    /// collection url.
    pub fn url(&self) -> String {
        match self {
            Command::ReadCollection { collection }
            | Command::ReadQuery { collection, .. }
            | Command::Subscribe { collection, .. }
            | Command::Unsubscribe { collection, .. } => collection.to_string(),
            Command::ReadModel { collection, id } => collection.model_url(id),
            Command::ReadEither { url } => url.to_string(),
            Command::Write { collection, write } => match write {
                Write::Create { .. } => collection.to_string(),
                Write::Update { id, .. } | Write::Patch { id, .. } | Write::Delete { id, .. } => {
                    collection.model_url(id)
                }
            },
        }
    }
}

/// Reads one event into the dialect it belongs to and the command it asks for.
pub fn parse(event: &str, arg: Value, max_data: usize) -> Result<(Dialect, Command), SyncError> {
    match event {
        "create" | "read" | "update" | "patch" | "delete" | "subscribe" | "unsubscribe" => {
            Ok((Dialect::Native, parse_native(event, arg, max_data)?))
        }
        _ => match event.split_once(':') {
            Some((ns, method)) if !ns.is_empty() && !ns.contains('/') => {
                let command = parse_iobind(ns, method, arg, max_data, event)?;
                Ok((Dialect::Iobind { ns: ns.to_string() }, command))
            }
            _ => Err(SyncError::UnknownEvent {
                event: event.chars().take(200).collect(),
            }),
        },
    }
}

fn parse_native(method: &str, arg: Value, max_data: usize) -> Result<Command, SyncError> {
    let Value::Object(mut arg) = arg else {
        return Err(SyncError::bad_request(
            "arg",
            format!(
                "{method} takes one object {{url, data?, version?}}; got {}",
                kind(&arg)
            ),
        ));
    };
    let url = match arg.remove("url") {
        Some(Value::String(s)) => Url::parse(&s)?,
        Some(other) => {
            return Err(SyncError::bad_request(
                "url",
                format!("url must be a string; got {}", kind(&other)),
            ))
        }
        None => return Err(SyncError::bad_request("url", "url is missing")),
    };
    let version = non_negative(arg.remove("version"), "version")?;
    let model = |url: &Url| {
        url.split_model().ok_or_else(|| {
            SyncError::bad_request(
                "url",
                format!("{method} needs a model url like /todos/1; {url} names no model"),
            )
        })
    };
    Ok(match method {
        "create" => Command::Write {
            collection: url,
            write: Write::Create {
                data: data_object(arg.remove("data"), max_data)?,
            },
        },
        "read" => match (Query::parse(arg.remove("query"))?, arg.remove("data")) {
            (Some(query), _) => Command::ReadQuery {
                collection: url,
                query,
            },
            (None, Some(Value::Object(data))) if data.get("id").is_some_and(|id| !id.is_null()) => {
                let (collection, id) = model(&url)?;
                Command::ReadModel { collection, id }
            }
            _ => Command::ReadEither { url },
        },
        "update" | "patch" => {
            let (collection, id) = model(&url)?;
            let data = data_object(arg.remove("data"), max_data)?;
            let write = if method == "update" {
                Write::Update { id, data, version }
            } else {
                Write::Patch { id, data, version }
            };
            Command::Write { collection, write }
        }
        "delete" => {
            let (collection, id) = model(&url)?;
            Command::Write {
                collection,
                write: Write::Delete { id, version },
            }
        }
        "subscribe" => Command::Subscribe {
            collection: url,
            since: non_negative(arg.remove("since"), "since")?,
            query: Query::parse(arg.remove("query"))?,
        },
        _ => Command::Unsubscribe {
            collection: url,
            query: Query::parse(arg.remove("query"))?,
        },
    })
}

fn parse_iobind(
    ns: &str,
    method: &str,
    arg: Value,
    max_data: usize,
    event: &str,
) -> Result<Command, SyncError> {
    let collection = Url::parse(ns)?;
    let id_of = |arg: &Value| -> Result<String, SyncError> {
        match arg.get("id") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(SyncError::bad_request(
                "data.id",
                format!("{event} needs the model's attributes with an id"),
            )),
        }
    };
    Ok(match method {
        "create" => Command::Write {
            collection,
            write: Write::Create {
                data: data_object(Some(arg), max_data)?,
            },
        },
        "read" => match &arg {
            Value::Object(attrs) if attrs.get("id").is_some_and(|id| !id.is_null()) => {
                Command::ReadModel {
                    id: id_of(&arg)?,
                    collection,
                }
            }
            _ => Command::ReadCollection { collection },
        },
        "update" | "patch" => {
            let id = id_of(&arg)?;
            let data = data_object(Some(arg), max_data)?;
            let write = if method == "update" {
                Write::Update {
                    id,
                    data,
                    version: None,
                }
            } else {
                Write::Patch {
                    id,
                    data,
                    version: None,
                }
            };
            Command::Write { collection, write }
        }
        "delete" => Command::Write {
            write: Write::Delete {
                id: id_of(&arg)?,
                version: None,
            },
            collection,
        },
        _ => {
            return Err(SyncError::UnknownEvent {
                event: event.chars().take(200).collect(),
            })
        }
    })
}

fn data_object(data: Option<Value>, max_data: usize) -> Result<Map<String, Value>, SyncError> {
    match data {
        Some(Value::Object(map)) => {
            let size = serde_json::to_string(&map)
                .map(|s| s.len())
                .unwrap_or(usize::MAX);
            if size > max_data {
                return Err(SyncError::TooLarge {
                    size,
                    limit: max_data,
                });
            }
            Ok(map)
        }
        Some(other) => Err(SyncError::bad_request(
            "data",
            format!("data must be an object of attributes; got {}", kind(&other)),
        )),
        None => Err(SyncError::bad_request("data", "data is missing")),
    }
}

fn non_negative(value: Option<Value>, field: &'static str) -> Result<Option<i64>, SyncError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => Ok(n.as_i64()),
        Some(other) => Err(SyncError::bad_request(
            field,
            format!("{field} must be a non-negative integer; got {other}"),
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The ack's arguments for a successful outcome, in the dialect of the request.
pub fn render(dialect: &Dialect, outcome: Outcome) -> Value {
    match (dialect, outcome) {
        (Dialect::Native, Outcome::Model { model, seq }) => {
            json!({ "data": model.data, "version": model.version, "seq": seq })
        }
        (Dialect::Native, Outcome::Collection { models, seq }) => {
            json!({ "data": datas(&models), "versions": versions(&models), "seq": seq })
        }
        (Dialect::Native, Outcome::Written { change, prev }) => {
            json!({ "data": change.data, "version": change.version, "seq": change.seq, "prev": prev })
        }
        (
            _,
            Outcome::QuerySubscribed {
                url,
                query,
                seq,
                since,
                max_data,
            },
        ) => {
            let mut result = json!({
                "url": url, "query": query, "seq": seq, "maxData": max_data,
                "clientLatency": crate::client_report::opt_in(),
            });
            if let Some(since) = since {
                since.render(&mut result);
            }
            result
        }
        (
            _,
            Outcome::Subscribed {
                url,
                seq,
                last,
                since,
                max_data,
            },
        ) => {
            let mut result = json!({
                "url": url, "seq": seq, "last": last, "maxData": max_data,
                "clientLatency": crate::client_report::opt_in(),
            });
            match since {
                None => {}
                Some(crate::store::Since::Changes(changes)) => {
                    result["changes"] = json!(changes);
                }
                Some(crate::store::Since::Reset(models)) => {
                    result["reset"] = json!(true);
                    result["data"] = datas(&models);
                    result["versions"] = versions(&models);
                }
            }
            result
        }
        (_, Outcome::Unsubscribed { url, query: None }) => json!({ "url": url }),
        (
            _,
            Outcome::Unsubscribed {
                url,
                query: Some(query),
            },
        ) => json!({ "url": url, "query": query }),
        (Dialect::Iobind { .. }, Outcome::Model { model, .. }) => model.data,
        (Dialect::Iobind { .. }, Outcome::Collection { models, .. }) => datas(&models),
        (Dialect::Iobind { .. }, Outcome::Written { change, .. }) => change.data,
    }
}

fn datas(models: &[Model]) -> Value {
    Value::Array(models.iter().map(|m| m.data.clone()).collect())
}

fn versions(models: &[Model]) -> Value {
    Value::Object(
        models
            .iter()
            .map(|m| (m.id.clone(), json!(m.version)))
            .collect(),
    )
}
