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

use crate::dialect::{self, Command};
use crate::error::SyncError;
use crate::faults::FaultAction;
use crate::inspect::{Inspector, Request};
use crate::sync::Sync;

/// How many events of one socket may wait before new ones are refused with `busy`.
pub const QUEUE_DEPTH: usize = 1024;

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
struct Enqueue(mpsc::Sender<Box<Incoming>>, Arc<Inspector>);

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
        // Timed here, on arrival: the ack's latency includes the wait in the queue.
        let request = self.1.event_in(&s, &event, &arg, ack_id);
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
        ) = self.0.try_send(incoming)
        {
            tracing::warn!(sid = %incoming.socket.id, event = %incoming.event, "queue full, refused with busy");
            let sid = incoming.socket.id.to_string();
            let has_ack = incoming.has_ack;
            let refused = (&*self.1, sid.as_str(), &incoming.request, None);
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
            inspect.connected(&socket, auth.unwrap_or(Value::Null));
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            socket.on_fallback(Enqueue(tx, inspect.clone()));
            socket.on_disconnect(async move |socket: SocketRef, reason: DisconnectReason| {
                tracing::info!(sid = %socket.id, ?reason, "socket disconnected");
                let sid = socket.id.to_string();
                if reason == DisconnectReason::PacketParsingError {
                    inspect.protocol_error(&sid, None, reason.to_string());
                }
                inspect.disconnected(&sid, reason.to_string());
            });
            tokio::spawn(drain(rx, sync));
            Ok::<(), std::convert::Infallible>(())
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

async fn drain(mut rx: mpsc::Receiver<Box<Incoming>>, sync: Arc<Sync>) {
    while let Some(incoming) = rx.recv().await {
        // Boxed: the state of a request in progress is large (every await of the store
        // and the pushes), and an idle socket's task would otherwise hold room for it.
        Box::pin(handle(&sync, *incoming)).await;
    }
}

async fn handle(sync: &Sync, incoming: Incoming) {
    let Incoming {
        socket,
        event,
        arg,
        ack,
        has_ack,
        request,
    } = incoming;
    let sid = socket.id.to_string();
    let record = (&*sync.inspect, sid.as_str(), &request);
    let parsed = arg
        .map_err(|e| SyncError::bad_request("arg", format!("the argument could not be read: {e}")))
        .and_then(|arg| dialect::parse(&event, arg, sync.max_data));
    let (dialect, command) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %truncate(&event), code = err.code(), "refused: {err}");
            if has_ack {
                reply_err(ack, &err, has_ack, (record.0, record.1, record.2, None));
            } else {
                sync.inspect
                    .protocol_error(&sid, Some(&event), err.to_string());
            }
            return;
        }
    };
    let refused = (record.0, record.1, record.2, Some(&dialect));
    let Some(ack) = apply_fault(sync, &socket, &event, &command, ack, has_ack, refused).await
    else {
        return;
    };
    let dialect = &dialect;
    sync.run(Some(&socket), dialect, command, |outcome| match outcome {
        Ok(outcome) => {
            tracing::debug!(sid = %socket.id, event = %event, "ok");
            let result = dialect::render(dialect, outcome);
            let sent = ack.send(&(Value::Null, &result));
            if let Err(e) = &sent {
                tracing::debug!(sid = %socket.id, "ack not sent: {e}");
            }
            if has_ack {
                let (inspect, sid, request) = record;
                match sent {
                    Ok(()) => {
                        let args = vec![Value::Null, result];
                        inspect.ack_out(sid, request, Some(dialect), args, None, None);
                    }
                    Err(e) => inspect.ack_not_sent(sid, request, e.to_string()),
                }
            }
        }
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %event, code = err.code(), "failed: {err}");
            let refused = (record.0, record.1, record.2, Some(dialect));
            reply_err(ack, &err, has_ack, refused);
        }
    })
    .await;
}

/// Applies the first fault rule matching the request, if any. Gives the ack back when
/// the request is to be carried out (no rule, or a delay that has passed); None when
/// the fault consumed it (failed, dropped or the socket cut off).
async fn apply_fault(
    sync: &Sync,
    socket: &SocketRef,
    event: &str,
    command: &Command,
    ack: AckSender,
    has_ack: bool,
    refused: Refused<'_>,
) -> Option<AckSender> {
    let sid = refused.1;
    let Some((rule, action)) = sync.faults.fire(sid, event, Some(&command.url())) else {
        return Some(ack);
    };
    tracing::info!(sid, event, rule, ?action, "fault injected");
    sync.inspect
        .fault(sid, event, Some(command.url()), rule, action.clone());
    match action {
        FaultAction::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return Some(ack);
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
                        .map(|m| (m.data, m.version)),
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
    }
    None
}

/// What an error ack is recorded with: the inspector, the socket id, the request's
/// record and the dialect when known.
type Refused<'a> = (
    &'a Inspector,
    &'a str,
    &'a Request,
    Option<&'a dialect::Dialect>,
);

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
    (inspect, sid, request, dialect): Refused<'_>,
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
