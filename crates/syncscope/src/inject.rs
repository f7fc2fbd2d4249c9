//! The inspector's Inject: send any event to a socket, a channel, a query, an iobind
//! namespace or everyone, as if the server had sent it (the control command `emit`).
//!
//! A `change` is sent with an acknowledgement request, and the answer waits a moment
//! for the clients' replies: backbone.realtime answers whether it applied the change
//! and, when not, why (docs/PROTOCOL.md, *Injected changes*). Without it, the panel
//! could only say "sent", and a push the adapter dropped (no `id`, a url nothing on
//! the page listens to) looked like a success. Clients that do not answer (other
//! clients, older adapters) are counted as silent, never as failures.

use std::str::FromStr;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use socketioxide::socket::Sid;
use socketioxide::SocketIo;

use crate::emit_args::EmitArgs;
use crate::inspect::types::{CommandResult, Origin, Target};
use crate::inspect::Inspector;
use crate::rooms::{channel_room, iobind_room};
use crate::url::Url;

/// How long an injected `change` waits for the adapters' answers. A page answers in
/// milliseconds; a client that never answers costs the panel this long once.
pub const ANSWER_WAIT: Duration = Duration::from_millis(1500);

/// The event whose receivers are asked whether they applied it.
const ANSWERED_EVENT: &str = "change";

/// What the receivers of an injected `change` said.
#[derive(Debug, Default, Serialize)]
struct Answers {
    /// Sockets whose page applied the change.
    applied: Vec<String>,
    /// Sockets whose page did not, with the adapter's reason.
    not_applied: Vec<NotApplied>,
    /// Sockets that did not answer in time (not an adapter, or an old one).
    silent: Vec<String>,
}

#[derive(Debug, Serialize)]
struct NotApplied {
    socket: String,
    reason: String,
}

/// Carries out `{"command":"emit", target, event, args}`.
pub async fn emit(
    io: &SocketIo,
    inspector: &Inspector,
    target: Target,
    event: String,
    args: Vec<Value>,
) -> CommandResult {
    if event.is_empty() {
        return CommandResult::error("bad_request", "the event name is empty");
    }
    let ask = event == ANSWERED_EVENT;
    let data = EmitArgs(&args);
    let wait = io.timeout(ANSWER_WAIT);
    // Each target gives the stream of its receivers' answers (empty when not asked).
    let answers = match &target {
        Target::Socket { id } => {
            let Some(socket) = Sid::from_str(id).ok().and_then(|sid| io.get_socket(sid)) else {
                return CommandResult::error(
                    "not_found",
                    format!("no socket {id} is connected; list them with `syncscope sockets`"),
                );
            };
            if ask {
                socket
                    .timeout(ANSWER_WAIT)
                    .emit_with_ack::<_, Value>(&event, &data)
                    .map(Some)
                    .map_err(|e| e.to_string())
            } else {
                socket
                    .emit(&event, &data)
                    .map(|_| None)
                    .map_err(|e| e.to_string())
            }
        }
        other => {
            let room = match other {
                Target::Channel { url } => match Url::parse(url) {
                    Ok(url) => Some(channel_room(&url)),
                    Err(e) => return CommandResult::error("bad_request", e.to_string()),
                },
                Target::Query { url, query } => match crate::query::room_of(url, query) {
                    Ok(room) => Some(room),
                    Err(e) => return CommandResult::error("bad_request", e.to_string()),
                },
                Target::Iobind { ns } => Some(iobind_room(ns)),
                _ => None,
            };
            let to = match room {
                Some(room) => wait.to(room),
                None => wait,
            };
            if ask {
                to.emit_with_ack::<_, Value>(&event, &data)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string())
            } else {
                to.emit(&event, &data)
                    .await
                    .map(|_| None)
                    .map_err(|e| e.to_string())
            }
        }
    };
    let answers = match answers {
        Ok(a) => a,
        Err(e) => return CommandResult::error("internal", format!("the emit failed: {e}")),
    };
    let target = match target {
        Target::Channel { url } => Target::Channel {
            url: Url::parse(&url).map(|u| u.to_string()).unwrap_or(url),
        },
        t => t,
    };
    // Recorded before the answers come: the log shows the push when it went out.
    let reached = inspector.pushed_to(None, Origin::Inspector, target, &event, args);
    let mut value = json!({ "recipients": reached.count, "to": reached.ids });
    if let Some(stream) = answers {
        let said = collect(stream).await;
        value["answers"] = serde_json::to_value(said).unwrap_or_default();
    }
    CommandResult::Ok { value }
}

/// Waits for every receiver's answer (each one times out on its own).
async fn collect<S>(stream: S) -> Answers
where
    S: futures_util::Stream<Item = (Sid, Result<Value, socketioxide::AckError>)>,
{
    let mut said = Answers::default();
    let items: Vec<_> = stream.collect().await;
    for (sid, answer) in items {
        let socket = sid.to_string();
        match answer {
            Ok(value) => match reading(&value) {
                Reading::Applied => said.applied.push(socket),
                Reading::NotApplied(reason) => said.not_applied.push(NotApplied { socket, reason }),
                Reading::Unknown => said.silent.push(socket),
            },
            Err(_) => said.silent.push(socket),
        }
    }
    said.applied.sort();
    said.silent.sort();
    said.not_applied.sort_by(|a, b| a.socket.cmp(&b.socket));
    said
}

enum Reading {
    Applied,
    NotApplied(String),
    /// An answer that is not the adapter's (`{applied, reason}`): said nothing.
    Unknown,
}

/// The adapter answers `{applied: true}` or `{applied: false, reason}`; the ack's
/// arguments may come as a list.
fn reading(value: &Value) -> Reading {
    let answer = match value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        v => v,
    };
    match answer.get("applied").and_then(Value::as_bool) {
        Some(true) => Reading::Applied,
        Some(false) => Reading::NotApplied(
            answer
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
                .to_string(),
        ),
        None => Reading::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_adapters_answer_in_either_shape() {
        assert!(matches!(
            reading(&json!({"applied": true})),
            Reading::Applied
        ));
        assert!(matches!(
            reading(&json!([{"applied": true}])),
            Reading::Applied
        ));
        match reading(&json!([{"applied": false, "reason": "no id"}])) {
            Reading::NotApplied(r) => assert_eq!(r, "no id"),
            _ => panic!("not read as not applied"),
        }
        assert!(matches!(reading(&json!(["ok"])), Reading::Unknown));
        assert!(matches!(reading(&json!(null)), Reading::Unknown));
    }
}
