//! The inspector core, after tokio-console: instrumentation → aggregator → watchers.
//!
//! - The endpoint and the sync logic call the one-line hooks of [`Inspector`]
//!   (instrumentation); each becomes one [`types::Record`] on the [`bus::Bus`].
//! - The bus folds each record into the live [`registry::Registry`] (aggregator) and
//!   hands it to the [`recorder::Recorder`] (SQLite sessions) and to the watchers of the
//!   control API (the `control` module, which sits above the sync logic), without ever
//!   waiting.

pub mod bindings;
pub mod bus;
pub mod client;
pub mod client_latency;
pub mod offline;
pub mod record_writer;
pub mod recorder;
pub mod registry;
pub mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::socket::Socket;
use socketioxide::{ProtocolVersion, TransportType};

use crate::access::{Refusal, RequestHeaders};
use crate::dialect::Dialect;
use bus::Bus;
use recorder::Recorder;
use registry::Recipients;
use types::{Body, Origin, Stats, Target};

/// The reason of the disconnect records of a clean stop.
pub const SERVER_SHUTDOWN: &str = "server shutdown";

pub struct Inspector {
    pub bus: Bus,
    /// Reasons given by the inspector for the disconnects it asked for.
    reasons: Mutex<HashMap<String, AskedDisconnect>>,
    /// The live replay's status, kept here by the player so that every batch's stats
    /// carries it.
    pub replay: Mutex<Option<types::ReplayStatus>>,
    /// When this launch started (Stats::launched_at_us).
    launched_at_us: u64,
    /// The fault rules (shared with crate::sync), for their seed in the stats.
    pub faults: Arc<crate::faults::Faults>,
    /// Clients the inspector took offline for a while.
    pub offline: offline::OfflineClients,
    /// The request each socket's worker is carrying out now: socket id → the seq of
    /// its `event_in` record. A socket's requests run one at a time (endpoint.rs), so
    /// a push made on behalf of a socket is caused by the request it is handling;
    /// its `push_out` record names it (`cause`).
    handling: Mutex<HashMap<String, u64>>,
    /// Round trips the pages reported (`client_latency`), for the Stats panel.
    pub client_latency: client_latency::ClientLatencies,
}

/// While alive, the pushes made on behalf of a socket name its request as their
/// cause; dropping it ends the request.
pub struct Handling<'a> {
    inspector: &'a Inspector,
    sid: String,
}

impl Drop for Handling<'_> {
    fn drop(&mut self) {
        self.inspector
            .handling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.sid);
    }
}

/// Why a disconnect the server itself asked for happened, and who asked.
struct AskedDisconnect {
    origin: Origin,
    reason: String,
}

/// A request refused at the door, as its `refused` record describes it.
#[derive(Debug, Clone)]
pub struct RefusedRequest {
    pub headers: RequestHeaders,
    /// The `transport` of the query string, when it has one.
    pub transport: Option<String>,
    pub remote_addr: Option<String>,
}

/// An event received, as its ack will need to refer to it.
#[derive(Debug, Clone)]
pub struct Request {
    pub seq: u64,
    pub at: Instant,
    pub event: String,
    pub url: Option<String>,
}

impl Inspector {
    pub fn new(recorder: Arc<Recorder>) -> Inspector {
        Inspector::with_faults(recorder, Arc::default())
    }

    /// An inspector sharing the server's fault rules.
    pub fn with_faults(recorder: Arc<Recorder>, faults: Arc<crate::faults::Faults>) -> Inspector {
        Inspector {
            bus: Bus::new(recorder),
            reasons: Mutex::default(),
            replay: Mutex::default(),
            launched_at_us: now_us(),
            faults,
            offline: offline::OfflineClients::default(),
            handling: Mutex::default(),
            client_latency: client_latency::ClientLatencies::default(),
        }
    }

    /// Marks `request` as the one `sid`'s worker carries out until the guard drops.
    pub fn handling(&self, sid: &str, request: &Request) -> Handling<'_> {
        self.handling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid.to_string(), request.seq);
        Handling {
            inspector: self,
            sid: sid.to_string(),
        }
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.bus.recorder
    }

    /// Starts a new recording session that stands on its own: it opens with a
    /// `connect` record for every socket already connected and a `subscribe` record
    /// for each of its channels, so a replay knows every client the session hears from
    /// and who gets its pushes. Those records go to the session only; the log and the
    /// registry already know them.
    pub async fn start_session(&self, name: Option<String>) -> Result<types::SessionInfo, String> {
        let session = self.recorder().start_session(name).await?;
        // The rules and the seed in effect, so that the session says how to repeat it.
        // Without rules there is nothing to repeat; a rule added later is a record that
        // carries the seed too.
        let rules = self.faults.list().len() as u64;
        if rules > 0 {
            self.bus.record_only(
                None,
                Origin::Inspector,
                None,
                Body::FaultRules {
                    change: types::RuleChange::Snapshot,
                    rule: None,
                    seed: self.faults.seed(),
                    count: rules,
                },
            );
        }
        for socket in self.bus.registry.sockets() {
            let sid = socket.id.as_str();
            self.bus.record_only(
                Some(sid),
                Origin::Client,
                None,
                Body::Connect {
                    transport: socket.transport.clone(),
                    protocol: socket.protocol.clone(),
                    remote_addr: socket.remote_addr.clone(),
                    user_agent: socket.user_agent.clone(),
                    http_origin: socket.http_origin.clone(),
                    auth: socket.auth.clone(),
                    query: None,
                    client: socket.client.clone(),
                },
            );
            for (channel, query) in self.bus.registry.subscriptions(sid) {
                self.bus.record_only(
                    Some(sid),
                    Origin::Client,
                    Some(channel.clone()),
                    Body::Subscribe { channel, query },
                );
            }
        }
        Ok(session)
    }

    pub fn connected(&self, socket: &Socket<LocalAdapter>, auth: Value) {
        let parts = socket.req_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let body = Body::Connect {
            transport: transport_name(socket.transport_type()).into(),
            protocol: protocol_name(socket.protocol()).into(),
            remote_addr: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.to_string()),
            user_agent: header("user-agent"),
            http_origin: header("origin"),
            client: offline::client_of(&auth, parts.uri.query()),
            auth,
            query: parts.uri.query().map(str::to_string),
        };
        let sid = socket.id.to_string();
        self.bus.publish(Some(&sid), Origin::Client, None, body);
    }

    /// Remembers why the inspector is about to cut `sid` off, for its disconnect record.
    pub fn disconnect_reason(&self, sid: &str, reason: String) {
        self.disconnect_reason_from(sid, Origin::Inspector, reason);
    }

    /// As `disconnect_reason`, for a disconnect the server (a slow consumer) or a fault
    /// rule asked for: its record carries that origin.
    pub fn disconnect_reason_from(&self, sid: &str, origin: Origin, reason: String) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        reasons.insert(sid.to_string(), AskedDisconnect { origin, reason });
    }

    /// Records that a clean stop is closing `sid` (reason `server shutdown`); the
    /// socket's own disconnect, which follows, is then not recorded a second time.
    pub fn server_closing(&self, sid: &str) {
        self.reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                sid.to_string(),
                AskedDisconnect {
                    origin: Origin::Server,
                    reason: SERVER_SHUTDOWN.to_string(),
                },
            );
        self.bus.publish(
            Some(sid),
            Origin::Server,
            None,
            Body::Disconnect {
                reason: SERVER_SHUTDOWN.to_string(),
            },
        );
    }

    pub fn disconnected(&self, sid: &str, reason: String) {
        let asked = self
            .reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sid);
        let (origin, reason) = match asked {
            Some(asked) if asked.reason == SERVER_SHUTDOWN => return,
            Some(asked) => (asked.origin, format!("{reason}: {}", asked.reason)),
            None => (Origin::Client, reason),
        };
        self.bus
            .publish(Some(sid), origin, None, Body::Disconnect { reason });
    }

    /// Records an event as it arrives (before it is queued), and a transport upgrade
    /// when the socket's transport changed since the last one.
    pub fn event_in(
        &self,
        socket: &Socket<LocalAdapter>,
        event: &str,
        arg: &Result<Value, String>,
        ack_id: Option<i64>,
    ) -> Request {
        let at = Instant::now();
        let sid = socket.id.to_string();
        let now = transport_name(socket.transport_type());
        if let Some(before) = self.bus.registry.transport_of(&sid) {
            if before != now {
                self.bus.publish(
                    Some(&sid),
                    Origin::Client,
                    None,
                    Body::Upgrade {
                        from: before,
                        to: now.into(),
                    },
                );
            }
        }
        let url = request_url(event, arg.as_ref().ok());
        let seq = self.bus.publish(
            Some(&sid),
            Origin::Client,
            url.clone(),
            Body::EventIn {
                event: event.to_string(),
                args: arg.as_ref().cloned().unwrap_or(Value::Null),
                ack_id,
            },
        );
        Request {
            seq,
            at,
            event: event.to_string(),
            url,
        }
    }

    /// Records an ack just sent. `error` is the error code of an error ack.
    pub fn ack_out(
        &self,
        sid: &str,
        request: &Request,
        dialect: Option<&Dialect>,
        args: Vec<Value>,
        error: Option<&str>,
        fault: Option<u64>,
    ) {
        let latency_us = request.at.elapsed().as_micros() as u64;
        self.bus.publish(
            Some(sid),
            Origin::Server,
            request.url.clone(),
            Body::AckOut {
                request_seq: request.seq,
                event: request.event.clone(),
                dialect: dialect.map(dialect_name),
                latency_us,
                error: error.map(str::to_string),
                fault,
                args,
            },
        );
    }

    /// Records an ack that the transport refused (its buffer full, or the socket gone):
    /// the client will never get it.
    pub fn ack_not_sent(&self, sid: &str, request: &Request, why: String) {
        self.protocol_error(
            sid,
            Some(&request.event),
            format!(
                "the ack of {} (request #{}) was not sent: {why}",
                request.event, request.seq
            ),
        );
    }

    /// Records an emit of the server or the inspector; `from` is the socket that caused
    /// it (a writer is not sent its own change). Returns how many sockets it reached.
    pub fn pushed(
        &self,
        from: Option<&str>,
        origin: Origin,
        target: Target,
        event: &str,
        args: Vec<Value>,
    ) -> u32 {
        self.record_push(from, origin, target, event, args, false)
            .count
    }

    /// As `pushed`, and also returns the ids it reached (for the inspector's emit,
    /// whose answer names them; the server's own pushes skip the copy).
    pub fn pushed_to(
        &self,
        from: Option<&str>,
        origin: Origin,
        target: Target,
        event: &str,
        args: Vec<Value>,
    ) -> Recipients {
        self.record_push(from, origin, target, event, args, true)
    }

    fn record_push(
        &self,
        from: Option<&str>,
        origin: Origin,
        target: Target,
        event: &str,
        args: Vec<Value>,
        want_ids: bool,
    ) -> Recipients {
        let recipients = self.bus.registry.recipients(&target, from);
        let answer = Recipients {
            count: recipients.count,
            ids: if want_ids {
                recipients.ids.clone()
            } else {
                Vec::new()
            },
        };
        self.pushed_exact(from, origin, target, event, args, recipients);
        answer
    }

    /// Records a push of the server sent to exactly `to` (crate::outbound left out the
    /// sockets it did not deliver to).
    pub fn pushed_exact(
        &self,
        from: Option<&str>,
        origin: Origin,
        target: Target,
        event: &str,
        args: Vec<Value>,
        to: Recipients,
    ) {
        let url = match &target {
            Target::Channel { url } | Target::Query { url, .. } => Some(url.clone()),
            Target::Iobind { ns } => Some(format!("/{ns}")),
            _ => None,
        };
        let cause = self.cause_of(from);
        self.bus.publish(
            from,
            origin,
            url,
            Body::PushOut {
                event: event.to_string(),
                target,
                recipients: to.count,
                to: to.ids,
                cause,
                args,
            },
        );
    }

    /// The request `from`'s worker is carrying out, whose write a push carries.
    fn cause_of(&self, from: Option<&str>) -> Option<u64> {
        let sid = from?;
        self.handling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sid)
            .copied()
    }

    /// A socket went over the bound of what may wait to be sent to it.
    pub fn slow_consumer(&self, sid: &str, queued_bytes: u64, push_bytes: u64, limit_bytes: u64) {
        self.bus.publish(
            Some(sid),
            Origin::Server,
            None,
            Body::SlowConsumer {
                queued_bytes,
                push_bytes,
                limit_bytes,
            },
        );
    }

    /// A socket joined a channel; `query` for a live query's subscription.
    pub fn subscribed(&self, sid: &str, channel: &str, query: Option<Value>) {
        self.bus.publish(
            Some(sid),
            Origin::Client,
            Some(channel.to_string()),
            Body::Subscribe {
                channel: channel.to_string(),
                query,
            },
        );
    }

    pub fn unsubscribed(&self, sid: &str, channel: &str, query: Option<Value>) {
        self.bus.publish(
            Some(sid),
            Origin::Client,
            Some(channel.to_string()),
            Body::Unsubscribe {
                channel: channel.to_string(),
                query,
            },
        );
    }

    /// An event refused without an ack to carry the error, or a broken connection.
    pub fn protocol_error(&self, sid: &str, event: Option<&str>, message: String) {
        self.bus.publish(
            Some(sid),
            Origin::Client,
            None,
            Body::ProtocolError {
                message,
                event: event.map(str::to_string),
            },
        );
    }

    pub fn fault(
        &self,
        sid: &str,
        event: &str,
        url: Option<String>,
        request_seq: u64,
        rule: u64,
        action: crate::faults::FaultAction,
    ) {
        self.bus.publish(
            Some(sid),
            Origin::Fault,
            url,
            Body::Fault {
                rule,
                event: event.to_string(),
                request_seq: Some(request_seq),
                push_seq: None,
                waited_ms: None,
                action,
            },
        );
    }

    /// Records a push rule's tampering with the push of change `push_seq` to `sid`.
    pub fn push_fault(
        &self,
        sid: &str,
        channel: &str,
        push_seq: i64,
        fired: &crate::faults::Fired,
    ) {
        self.bus.publish(
            Some(sid),
            Origin::Fault,
            Some(channel.to_string()),
            Body::Fault {
                rule: fired.rule,
                event: "change".into(),
                request_seq: None,
                push_seq: Some(push_seq),
                waited_ms: fired.wait_ms,
                action: fired.action.clone(),
            },
        );
    }

    /// Records a connection rule starting to pace or slice what `sid`'s connection
    /// writes (once per connection and rule, not per write).
    pub fn shaping_fault(&self, sid: &str, shaping: &crate::faults::Shaping) {
        self.bus.publish(
            Some(sid),
            Origin::Fault,
            None,
            Body::Fault {
                rule: shaping.rule,
                event: "write".into(),
                request_seq: None,
                push_seq: None,
                waited_ms: None,
                action: shaping.action.clone(),
            },
        );
    }

    /// Records a change to the fault rules.
    pub fn rules_changed(
        &self,
        origin: Origin,
        change: types::RuleChange,
        rule: Option<crate::faults::FaultRule>,
    ) {
        self.bus.publish(
            None,
            origin,
            None,
            Body::FaultRules {
                change,
                rule,
                seed: self.faults.seed(),
                count: self.faults.list().len() as u64,
            },
        );
    }

    /// A request of the Socket.IO endpoint refused by the Origin and Host checks.
    pub fn refused(&self, refusal: &Refusal, request: &RefusedRequest) {
        let joined = |values: &[String]| (!values.is_empty()).then(|| values.join(", "));
        self.bus.publish(
            None,
            Origin::Client,
            None,
            Body::Refused {
                reason: refusal.code().to_string(),
                message: refusal.to_string(),
                http_origin: joined(&request.headers.origins),
                host: joined(&request.headers.hosts),
                transport: request.transport.clone(),
                remote_addr: request.remote_addr.clone(),
            },
        );
    }

    pub fn stats(&self) -> Stats {
        let recorder = self.recorder();
        let (sockets, channels) = self.bus.registry.counts();
        Stats {
            launched_at_us: self.launched_at_us,
            last_seq: self.bus.last_seq(),
            recording: recorder.current(),
            recorder_queued: recorder.queued() as u64,
            recorder_queued_bytes: recorder.queued_bytes() as u64,
            recorder_capacity: recorder.capacity() as u64,
            recorder_lost: recorder.lost_total(),
            sockets,
            channels,
            replay: self
                .replay
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            fault_seed: self.faults.seed(),
            offline: self
                .offline
                .list()
                .into_iter()
                .map(|(client, secs_left)| types::OfflineClient { client, secs_left })
                .collect(),
            client_latency: self.client_latency.overall(),
        }
    }

    /// The live sockets, each with its page's reported round trips.
    pub fn sockets(&self) -> Vec<types::SocketInfo> {
        let mut sockets = self.bus.registry.sockets();
        for socket in &mut sockets {
            socket.client_latency = self.client_latency.of_socket(&socket.id);
        }
        sockets
    }

    /// A page's `client_latency` report (crate::client_report): kept when it is of the
    /// documented shape; otherwise ignored, logged and recorded as a protocol error
    /// naming what is wrong. Never recorded as an event: a page reports about once a
    /// second, which would crowd the log it measures. Returns the round trips taken.
    pub fn client_report(
        &self,
        sid: &str,
        arg: &Result<Value, String>,
    ) -> Result<usize, crate::client_report::ReportError> {
        use crate::client_report::{parse_report, ReportError};
        let parsed = match arg {
            Ok(arg) => parse_report(arg),
            Err(_) => Err(ReportError::NotAnObject("nothing readable")),
        };
        match parsed {
            Ok(trips) => {
                let n = trips.len();
                self.client_latency.add(sid, trips);
                Ok(n)
            }
            Err(e) => {
                tracing::warn!(sid, "client_latency report ignored: {e}");
                self.protocol_error(
                    sid,
                    Some(crate::client_report::EVENT),
                    format!("report ignored: {e}"),
                );
                Err(e)
            }
        }
    }
}

pub fn dialect_name(dialect: &Dialect) -> String {
    match dialect {
        Dialect::Native => "native".into(),
        Dialect::Iobind { ns } => format!("iobind:{ns}"),
    }
}

fn transport_name(t: TransportType) -> &'static str {
    match t {
        TransportType::Polling => "polling",
        TransportType::Websocket => "websocket",
    }
}

fn protocol_name(p: ProtocolVersion) -> &'static str {
    match p {
        ProtocolVersion::V4 => "EIO3",
        ProtocolVersion::V5 => "EIO4",
    }
}

/// The url an event is about: `url` of a native request, `/<ns>` of an iobind one.
pub(crate) fn request_url(event: &str, arg: Option<&Value>) -> Option<String> {
    if let Some(url) = arg.and_then(|a| a.get("url")).and_then(Value::as_str) {
        return crate::url::Url::parse(url).ok().map(|u| u.to_string());
    }
    let (ns, _) = event.split_once(':')?;
    crate::url::Url::parse(ns).ok().map(|u| u.to_string())
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}
