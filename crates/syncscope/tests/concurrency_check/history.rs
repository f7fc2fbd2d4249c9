//! What the workload records: each socket's requests, acks and pushes in wire order,
//! the changes of the log, and a request's meaning read back from its event.

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
    pub fn tag(&self) -> Option<&str> {
        self.data.get("w").and_then(Value::as_str)
    }
}

/// The tag written into a request's data: unique per request, naming its socket.
pub fn tag(socket: usize, req: usize) -> String {
    format!("s{socket}.r{req}")
}

/// What a request asked for, parsed from its event and argument.
#[derive(Debug, Clone)]
pub struct Request {
    pub socket: usize,
    pub req: usize,
    /// Position of the Sent entry in its socket's history.
    pub at: usize,
    pub iobind: bool,
    pub method: String,
    /// Collection url, normalised as the workload always sends it.
    pub url: String,
    /// The model id a model request names.
    pub id: Option<String>,
    pub data: Option<Map<String, Value>>,
    pub version: Option<i64>,
    pub since: Option<i64>,
    pub tag: Option<String>,
}

impl Request {
    pub fn parse(socket: usize, req: usize, at: usize, event: &str, arg: &Value) -> Request {
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

    pub fn is_write(&self) -> bool {
        matches!(
            self.method.as_str(),
            "create" | "update" | "patch" | "delete"
        )
    }

    pub fn describe(&self) -> String {
        let iobind = if self.iobind { " (iobind)" } else { "" };
        format!(
            "socket {} request {}{iobind}: {} {} id={:?} version={:?} tag={:?}",
            self.socket, self.req, self.method, self.url, self.id, self.version, self.tag
        )
    }
}

pub fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
