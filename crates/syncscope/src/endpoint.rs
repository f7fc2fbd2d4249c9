//! The Socket.IO endpoint: every event of a socket goes through one ordered queue.
//!
//! socketioxide runs each message handler on its own task, so two events of one socket
//! could otherwise be handled out of order (an `update` overtaking the `create` it
//! follows). Our handler only enqueues, synchronously, in arrival order; one worker per
//! socket drains the queue. The worker holds no reference to the socket beyond the
//! message it handles, so it ends when the socket is gone and its queue is dropped.

use std::sync::Arc;

use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide::SocketIo;
use tokio::sync::mpsc;

use crate::dialect;
use crate::error::SyncError;
use crate::sync::Sync;

/// How many events of one socket may wait before new ones are refused with `busy`.
pub const QUEUE_DEPTH: usize = 1024;

struct Incoming {
    socket: SocketRef,
    event: String,
    arg: Result<Value, String>,
    ack: AckSender,
    has_ack: bool,
}

/// The fallback handler of every socket: it receives every event and enqueues it.
#[derive(Clone)]
struct Enqueue(mpsc::Sender<Incoming>);

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
        let incoming = Incoming {
            socket: SocketRef::from(s),
            event,
            arg: arg.map_err(|e| e.to_string()),
            ack,
            has_ack: ack_id.is_some(),
        };
        if let Err(
            mpsc::error::TrySendError::Full(incoming) | mpsc::error::TrySendError::Closed(incoming),
        ) = self.0.try_send(incoming)
        {
            tracing::warn!(sid = %incoming.socket.id, event = %incoming.event, "queue full, refused with busy");
            reply_err(incoming.ack, &SyncError::Busy);
        }
    }
}

pub fn attach(io: &SocketIo, sync: Arc<Sync>) {
    // Handlers are installed in a connect *middleware*: socketioxide sends the CONNECT
    // packet after the middleware and before the connect handler's body runs, so a
    // client that emits right after connecting would otherwise race the installation
    // and lose its first events.
    let install = move |socket: SocketRef| {
        let sync = sync.clone();
        async move {
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            socket.on_fallback(Enqueue(tx));
            socket.on_disconnect(async |socket: SocketRef, reason: DisconnectReason| {
                tracing::info!(sid = %socket.id, ?reason, "socket disconnected");
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

async fn drain(mut rx: mpsc::Receiver<Incoming>, sync: Arc<Sync>) {
    while let Some(incoming) = rx.recv().await {
        handle(&sync, incoming).await;
    }
}

async fn handle(sync: &Sync, incoming: Incoming) {
    let Incoming {
        socket,
        event,
        arg,
        ack,
        has_ack,
    } = incoming;
    let parsed = arg
        .map_err(|e| SyncError::bad_request("arg", format!("the argument could not be read: {e}")))
        .and_then(|arg| dialect::parse(&event, arg, sync.max_data));
    let (dialect, command) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %truncate(&event), code = err.code(), "refused: {err}");
            if has_ack {
                reply_err(ack, &err);
            }
            return;
        }
    };
    sync.run(Some(&socket), &dialect, command, |outcome| match outcome {
        Ok(outcome) => {
            tracing::debug!(sid = %socket.id, event = %event, "ok");
            let result = dialect::render(&dialect, outcome);
            if let Err(e) = ack.send(&(Value::Null, result)) {
                tracing::debug!(sid = %socket.id, "ack not sent: {e}");
            }
        }
        Err(err) => {
            tracing::warn!(sid = %socket.id, event = %event, code = err.code(), "failed: {err}");
            reply_err(ack, &err);
        }
    })
    .await;
}

fn reply_err(ack: AckSender, err: &SyncError) {
    if let Err(e) = ack.send(&(err.to_wire(),)) {
        tracing::debug!("error ack not sent: {e}");
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}
