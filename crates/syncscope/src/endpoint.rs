//! The Socket.IO endpoint: every event of a socket goes through one ordered queue.
//!
//! socketioxide runs each message handler on its own task, so two events of one socket
//! could otherwise be handled out of order (an `update` overtaking the `create` it
//! follows). Our handler only enqueues, synchronously, in arrival order; one worker per
//! socket drains the queue. The worker holds no reference to the socket beyond the
//! message it handles, so it ends when the socket is gone and its queue is dropped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide::SocketIo;
use tokio::sync::mpsc;

use axum::extract::ConnectInfo;

use crate::dialect::{self, Command};
use crate::error::SyncError;
use crate::faults::{FaultAction, Subject};
use crate::inspect::offline::{client_of, KeptOut};
use crate::inspect::types::{Body, Origin, RuleChange};
use crate::inspect::{Inspector, Request};
use crate::sync::Sync;
use crate::transport::Peer;

/// How many events of one socket may wait before new ones are refused with `busy`.
pub const QUEUE_DEPTH: usize = 1024;

/// How often a stalled request looks whether its socket is still there.
const STALL_CHECK: Duration = Duration::from_millis(500);

/// How many packets may wait to be written to one socket (socketioxide's buffer).
pub const SEND_BUFFER: usize = 16 * QUEUE_DEPTH;

struct Incoming {
    socket: SocketRef,
    event: String,
    arg: Result<Value, String>,
    ack: AckSender,
    has_ack: bool,
    /// The bus record of this event, which its ack refers to.
    request: Request,
}

/// The fallback handler of every socket: it receives every event and enqueues it.
/// Events are queued boxed: tokio allocates a queue's first block of 32 slots when the
/// queue is made, and 32 unboxed events would cost every idle connection about 6 KB
/// (issue 9: memory per idle websocket).
#[derive(Clone)]
struct Enqueue {
    queue: mpsc::Sender<Box<Incoming>>,
    inspect: Arc<Inspector>,
}

impl MessageHandler<LocalAdapter, ()> for Enqueue {
    fn call(
        &self,
        s: Arc<Socket<LocalAdapter>>,
        mut v: socketioxide::handler::Value,
        ack_id: Option<i64>,
    ) {
        // Only the event name can fail to be read, and socketioxide refuses such a
        // packet before calling any handler; an empty name is harmless here anyway.
        let event = Event::from_message_parts(&s, &mut v, &ack_id)
            .map(|Event(e)| e)
            .unwrap_or_default();
        let Ok(TryData(arg)) = TryData::<Value>::from_message_parts(&s, &mut v, &ack_id);
        let Ok(ack) = AckSender::from_message_parts(&s, &mut v, &ack_id);
        let arg = arg.map_err(|e| e.to_string());
        // A page's report of its round trips is taken at once, outside the queue and
        // the log: it measures the requests, it is not one (docs/PROTOCOL.md, *Client
        // latency*).
        if event == crate::client_report::EVENT {
            let taken = self.inspect.client_report(&s.id.to_string(), &arg);
            if ack_id.is_some() {
                let sent = match taken {
                    Ok(n) => ack.send(&(Value::Null, serde_json::json!({ "samples": n }))),
                    Err(e) => {
                        ack.send(&(SyncError::bad_request("samples", e.to_string()).to_wire(),))
                    }
                };
                if let Err(e) = sent {
                    tracing::debug!(sid = %s.id, "client_latency ack not sent: {e}");
                }
            }
            return;
        }
        // Timed here, on arrival: the ack's latency includes the wait in the queue.
        let request = self.inspect.event_in(&s, &event, &arg, ack_id);
        let incoming = Box::new(Incoming {
            socket: SocketRef::from(s),
            event,
            arg,
            ack,
            has_ack: ack_id.is_some(),
            request,
        });
        if let Err(
            mpsc::error::TrySendError::Full(incoming) | mpsc::error::TrySendError::Closed(incoming),
        ) = self.queue.try_send(incoming)
        {
            tracing::warn!(sid = %incoming.socket.id, event = %incoming.event, "queue full, refused with busy");
            let sid = incoming.socket.id.to_string();
            let has_ack = incoming.has_ack;
            let refused = Refused {
                inspect: &self.inspect,
                sid: &sid,
                request: &incoming.request,
                dialect: None,
            };
            reply_err(incoming.ack, &SyncError::Busy, has_ack, refused);
        }
    }
}

pub fn attach(io: &SocketIo, sync: Arc<Sync>) {
    // Handlers are installed in a connect *middleware*: socketioxide sends the CONNECT
    // packet after the middleware and before the connect handler's body runs, so a
    // client that emits right after connecting would otherwise race the installation
    // and lose its first events.
    let install = move |socket: SocketRef, TryData(auth): TryData<Value>| {
        let sync = sync.clone();
        async move {
            let inspect = sync.inspect.clone();
            let auth = auth.unwrap_or(Value::Null);
            let client = client_of(&auth, socket.req_parts().uri.query());
            // A client the inspector took offline is refused until its time is up: the
            // client sees `connect_error` with this message.
            if let Err(kept_out) = inspect.offline.check(client.as_deref()) {
                refuse_offline(&inspect, &socket, &kept_out);
                return Err(kept_out);
            }
            inspect.connected(&socket, auth);
            let sid = socket.id.to_string();
            // A WebSocket's handshake came on the connection that carries it; a polling
            // socket's connections are learnt from its requests (crate::transport).
            let via = (socket.transport_type() == socketioxide::TransportType::Websocket)
                .then(|| socket.req_parts().extensions.get::<ConnectInfo<Peer>>())
                .flatten()
                .map(|ConnectInfo(peer)| peer.conn.clone());
            sync.transport
                .connected(&sid, client.as_deref(), via.as_ref());
            let transport = sync.transport.clone();
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            socket.on_fallback(Enqueue {
                queue: tx,
                inspect: inspect.clone(),
            });
            let queries = sync.clone();
            socket.on_disconnect(async move |socket: SocketRef, reason: DisconnectReason| {
                tracing::info!(sid = %socket.id, ?reason, "socket disconnected");
                let sid = socket.id.to_string();
                queries.queries.disconnected(&sid);
                inspect.client_latency.gone(&sid);
                if reason == DisconnectReason::PacketParsingError {
                    inspect.protocol_error(&sid, None, reason.to_string());
                }
                inspect.disconnected(&sid, reason.to_string());
                transport.disconnected(&sid);
            });
            tokio::spawn(drain(rx, sync, client));
            Ok::<(), KeptOut>(())
        }
    };
    io.ns(
        "/",
        (async |socket: SocketRef| {
            tracing::info!(sid = %socket.id, transport = ?socket.transport_type(), protocol = ?socket.protocol(), "socket connected");
        })
        .with(install),
    );
}

/// Records the CONNECT of an offline client, refused.
fn refuse_offline(inspect: &Inspector, socket: &SocketRef, kept_out: &KeptOut) {
    let parts = socket.req_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    inspect.bus.publish(
        None,
        Origin::Inspector,
        None,
        Body::Refused {
            reason: "offline".into(),
            message: kept_out.to_string(),
            http_origin: header("origin"),
            host: header("host"),
            transport: Some(
                match socket.transport_type() {
                    socketioxide::TransportType::Polling => "polling",
                    socketioxide::TransportType::Websocket => "websocket",
                }
                .into(),
            ),
            remote_addr: None,
        },
    );
}

async fn drain(mut rx: mpsc::Receiver<Box<Incoming>>, sync: Arc<Sync>, client: Option<String>) {
    while let Some(incoming) = rx.recv().await {
        // Boxed: the state of a request in progress is large (every await of the store
        // and the pushes), and an idle socket's task would otherwise hold room for it.
        Box::pin(handle(&sync, *incoming, client.as_deref())).await;
    }
}

async fn handle(sync: &Sync, incoming: Incoming, client: Option<&str>) {
    let Incoming {
        socket,
        event,
        arg,
        ack,
        has_ack,
        request,
    } = incoming;
    let sid = socket.id.to_string();
    let refused = |dialect| Refused {
        inspect: &sync.inspect,
        sid: &sid,
        request: &request,
        dialect,
    };
    let parsed = arg
        .map_err(|e| SyncError::bad_request("arg", format!("the argument could not be read: {e}")))
        .and_then(|arg| dialect::parse(&event, arg, sync.max_data));
    let (dialect, command) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %truncate(&event), code = err.code(), "refused: {err}");
            if has_ack {
                reply_err(ack, &err, has_ack, refused(None));
            } else {
                sync.inspect
                    .protocol_error(&sid, Some(&event), err.to_string());
            }
            return;
        }
    };
    let Some((ack, fault)) = apply_fault(
        sync,
        &socket,
        client,
        &event,
        &command,
        ack,
        has_ack,
        refused(Some(&dialect)),
    )
    .await
    else {
        return;
    };
    let dialect = &dialect;
    // The pushes this request's write makes name it as their cause.
    let _handling = sync.inspect.handling(&sid, &request);
    sync.run(Some(&socket), dialect, command, |outcome| match outcome {
        Ok(outcome) => {
            tracing::debug!(sid = %socket.id, event = %event, "ok");
            let result = dialect::render(dialect, outcome);
            let sent = ack.send(&(Value::Null, &result));
            if let Err(e) = &sent {
                tracing::debug!(sid = %socket.id, "ack not sent: {e}");
            }
            if has_ack {
                let inspect = &sync.inspect;
                match sent {
                    Ok(()) => {
                        let args = vec![Value::Null, result];
                        inspect.ack_out(&sid, &request, Some(dialect), args, None, fault);
                    }
                    Err(e) => inspect.ack_not_sent(&sid, &request, e.to_string()),
                }
            }
        }
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %event, code = err.code(), "failed: {err}");
            send_error(ack, &err, has_ack, refused(Some(dialect)), fault);
        }
    })
    .await;
}

/// Applies the first fault rule matching the request, if any. Gives the ack back when
/// the request is to be carried out (no rule, or a delay or stall that has passed),
/// with the rule that held it; None when the fault consumed it (failed, dropped or
/// the socket cut off).
#[allow(clippy::too_many_arguments)]
async fn apply_fault(
    sync: &Sync,
    socket: &SocketRef,
    client: Option<&str>,
    event: &str,
    command: &Command,
    ack: AckSender,
    has_ack: bool,
    refused: Refused<'_>,
) -> Option<(AckSender, Option<u64>)> {
    let sid = refused.sid;
    let url = command.url();
    let subject = Subject {
        layer: crate::faults::Layer::Request,
        socket: sid,
        client,
        event,
        url: Some(&url),
    };
    let Some(fired) = sync.faults.fire(subject) else {
        return Some((ack, None));
    };
    let (rule, action) = (fired.rule, fired.action);
    tracing::info!(sid, event, rule, ?action, "fault injected");
    sync.inspect.fault(
        sid,
        event,
        Some(url.clone()),
        refused.request.seq,
        rule,
        action.clone(),
    );
    if fired.spent {
        sync.inspect
            .rules_changed(Origin::Fault, RuleChange::Spent, sync.faults.get(rule));
        if let Err(e) = sync.fault_store.persist(&sync.faults).await {
            tracing::warn!("{e}");
        }
    }
    match action {
        FaultAction::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return Some((ack, Some(rule)));
        }
        FaultAction::Stall => {
            // Held until the rule is switched off or removed; a socket that goes away
            // meanwhile takes its held requests with it.
            let mut changes = sync.faults.changes();
            while sync.faults.holds(rule) {
                if !socket.connected() {
                    return None;
                }
                let _ = tokio::time::timeout(STALL_CHECK, changes.changed()).await;
            }
            return Some((ack, Some(rule)));
        }
        FaultAction::Fail { code, message } => {
            // A conflict carries the stored model, as a real one does.
            let current = match (command, code.as_str()) {
                (Command::Write { collection, write }, "conflict") => match write.target_id() {
                    Some(id) => sync
                        .store
                        .read_model(collection, &id)
                        .await
                        .ok()
                        .flatten()
                        .map(|m| Box::new((m.data, m.version))),
                    None => None,
                },
                _ => None,
            };
            let err = SyncError::Injected {
                code,
                message,
                current,
            };
            send_error(ack, &err, has_ack, refused, Some(rule));
        }
        FaultAction::Drop => {}
        FaultAction::Disconnect => {
            let _ = socket.clone().disconnect();
        }
        FaultAction::Cut => {
            sync.outbound()
                .cut(socket, Origin::Fault, format!("cut by fault rule {rule}"));
        }
        // Push and connection rules never fire on a request (Faults::fire).
        FaultAction::Bandwidth { .. }
        | FaultAction::Slice { .. }
        | FaultAction::PushDrop
        | FaultAction::PushDuplicate
        | FaultAction::PushDelay { .. }
        | FaultAction::PushReorder => return Some((ack, None)),
    }
    None
}

/// What an error ack is recorded with.
struct Refused<'a> {
    inspect: &'a Inspector,
    sid: &'a str,
    /// The bus record of the request the ack answers.
    request: &'a Request,
    /// The request's dialect, once it was parsed.
    dialect: Option<&'a dialect::Dialect>,
}

/// Sends an error ack, then records it when the client asked for an ack.
fn reply_err(ack: AckSender, err: &SyncError, has_ack: bool, refused: Refused<'_>) {
    send_error(ack, err, has_ack, refused, None);
}

/// As `reply_err`; `fault` is the rule that made the error up, recorded on the ack so
/// that an injected failure is never mistaken for a real one.
fn send_error(
    ack: AckSender,
    err: &SyncError,
    has_ack: bool,
    Refused {
        inspect,
        sid,
        request,
        dialect,
    }: Refused<'_>,
    fault: Option<u64>,
) {
    let wire = err.to_wire();
    let sent = ack.send(&(&wire,));
    if let Err(e) = &sent {
        tracing::debug!("error ack not sent: {e}");
    }
    if has_ack {
        match sent {
            Ok(()) => inspect.ack_out(sid, request, dialect, vec![wire], Some(err.code()), fault),
            Err(e) => inspect.ack_not_sent(sid, request, e.to_string()),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}
