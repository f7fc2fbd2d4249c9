//! Every record of the bus and every message of the control API, as Rust types that
//! are exported to TypeScript (ui/src/bindings/) with ts-rs. Integers are exported as
//! `number`: they are JSON numbers on the wire and stay far below 2^53.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// Who caused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A Socket.IO client of the app under development.
    Client,
    /// The sync server itself (acks, pushes after a write).
    Server,
    /// A command of the control API (UI, CLI, script).
    Inspector,
    /// An injected fault.
    Fault,
    /// A recorded session being replayed.
    Replay,
}

impl Origin {
    /// The name it has on the wire (and in the recorder's `origin` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Server => "server",
            Origin::Inspector => "inspector",
            Origin::Fault => "fault",
            Origin::Replay => "replay",
        }
    }
}

/// One observed thing, as the bus carries it, the recorder stores it and watchers get it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Record {
    /// Monotonic within one launch of the server; gives the order of records.
    pub seq: u64,
    /// Unix time in microseconds.
    pub at_us: u64,
    /// The Socket.IO socket id concerned, if any.
    pub socket: Option<String>,
    pub origin: Origin,
    /// The Backbone url concerned (collection or model url), when there is one.
    pub url: Option<String>,
    #[serde(flatten)]
    pub body: Body,
}

/// What happened; `kind` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Connect {
        /// `polling` or `websocket`.
        transport: String,
        /// `EIO3` or `EIO4`.
        protocol: String,
        remote_addr: Option<String>,
        user_agent: Option<String>,
        /// The HTTP `Origin` header of the handshake.
        http_origin: Option<String>,
        /// The Socket.IO `auth` payload of the CONNECT packet (null when none).
        auth: Value,
        /// The handshake's query string.
        query: Option<String>,
        /// The client the socket belongs to across reconnects: `auth.client` (the
        /// adapter sends a per-tab id), else `client` in the query; null when neither.
        #[serde(default)]
        client: Option<String>,
    },
    Disconnect {
        /// Why, in words (socketioxide's reason, or the inspector's).
        reason: String,
    },
    Upgrade {
        from: String,
        to: String,
    },
    EventIn {
        event: String,
        /// The event's argument as received (null when it could not be read).
        args: Value,
        /// The Socket.IO ack id, when the client waits for an ack.
        ack_id: Option<i64>,
    },
    AckOut {
        /// The `seq` of the `event_in` record this ack answers.
        request_seq: u64,
        event: String,
        /// `native` or `iobind:<ns>`, when the request could be read.
        dialect: Option<String>,
        /// From receiving the event to handing the ack to the transport.
        latency_us: u64,
        /// The error code when the ack is an error.
        error: Option<String>,
        /// The fault rule that produced this (error) ack instead of the server: an
        /// injected failure, not a real one. Null for the server's own answers.
        #[serde(default)]
        fault: Option<u64>,
        /// The ack's arguments, as sent.
        args: Vec<Value>,
    },
    PushOut {
        event: String,
        target: Target,
        /// How many sockets it was sent to.
        recipients: u32,
        /// The ids of the sockets it was sent to, as the registry knew them when it
        /// went out; at most `MAX_RECIPIENT_IDS` (then `recipients` is larger than
        /// the list). Empty in records made before it existed.
        #[serde(default)]
        to: Vec<String>,
        /// The `seq` of the request (`event_in`) whose write this push carries to the
        /// other subscribers: the log links the two both ways. Null for pushes nobody's
        /// request caused (the inspector's writes and emits, a replay) and in records
        /// made before it existed.
        #[serde(default)]
        cause: Option<u64>,
        args: Vec<Value>,
    },
    Subscribe {
        channel: String,
        /// A live query's parameters; absent for the whole collection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        query: Option<Value>,
    },
    Unsubscribe {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        query: Option<Value>,
    },
    ProtocolError {
        message: String,
        event: Option<String>,
    },
    /// A fault rule fired on a request (origin `fault`); what the client then sees
    /// follows as usual (an error ack, nothing, a disconnect, or a late ack). Also a
    /// push rule tampering with one push to one socket (`push_seq`, event `change`),
    /// and a connection rule starting to pace a socket's connection (event `write`).
    Fault {
        rule: u64,
        event: String,
        /// The `seq` of the `event_in` record of the request it acted on (null in
        /// records made before it existed).
        #[serde(default)]
        request_seq: Option<u64>,
        /// A push rule: the `seq` of the change whose push it tampered with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        push_seq: Option<i64>,
        /// A `push_delay`: how long the push waited (its jitter drawn).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        waited_ms: Option<u64>,
        #[serde(flatten)]
        action: crate::faults::FaultAction,
    },
    /// The fault rules changed (origin `inspector`, or `fault` when a rule spent its
    /// `times`); also the first record of a session, with what is in effect.
    FaultRules {
        change: RuleChange,
        /// The rule concerned, as it is after the change (before it, for `removed`).
        rule: Option<crate::faults::FaultRule>,
        /// The server-wide seed of toxicity draws.
        seed: u64,
        /// How many rules there are after the change.
        count: u64,
    },
    /// A client was taken offline (origin `inspector`): its sockets cut, its
    /// reconnects refused for `secs` seconds.
    Offline {
        client: String,
        secs: u64,
        /// The sockets it had, which were cut.
        sockets: Vec<String>,
    },
    /// An offline client is let back (its time is up, or the `online` command).
    Online {
        client: String,
        /// `time_up` or `command`.
        reason: String,
    },
    /// A socket had more pushes waiting to be sent than `--max-queued-bytes` allows
    /// (it stopped reading): its connection is cut (origin `server`), so that its client
    /// reconnects and catches up; the push that went over the bound was not sent to it.
    SlowConsumer {
        /// Bytes that waited to be sent to it.
        queued_bytes: u64,
        /// The size of the push that went over the bound.
        push_bytes: u64,
        /// The bound, `--max-queued-bytes`.
        limit_bytes: u64,
    },
    /// A request of the Socket.IO endpoint refused by its Origin and Host checks (403,
    /// crate::access); no socket was made, so the record has none.
    Refused {
        /// The stable code of the reason (`foreign_origin`, `foreign_host`, …).
        reason: String,
        /// What the client was told, naming the option that lets it through.
        message: String,
        /// The request's `Origin` header; several are joined with `, `.
        http_origin: Option<String>,
        /// The request's `Host` header; several are joined with `, `.
        host: Option<String>,
        /// `polling` or `websocket`, as the request's query said.
        transport: Option<String>,
        remote_addr: Option<String>,
    },
}

impl Record {
    /// About how many bytes the record holds: its JSON values walked without
    /// serialising, plus a fixed overhead. Bounds the recorder's memory in bytes.
    pub fn approx_size(&self) -> usize {
        fn walk(v: &Value) -> usize {
            match v {
                Value::String(s) => s.len() + 8,
                Value::Array(a) => a.iter().map(walk).sum::<usize>() + 8,
                Value::Object(o) => o.iter().map(|(k, v)| k.len() + walk(v)).sum::<usize>() + 8,
                _ => 8,
            }
        }
        let body = match &self.body {
            Body::Connect { auth, .. } => walk(auth),
            Body::EventIn { args, .. } => walk(args),
            Body::AckOut { args, .. } => args.iter().map(walk).sum(),
            Body::PushOut { args, to, .. } => {
                args.iter().map(walk).sum::<usize>()
                    + to.iter().map(|id| id.len() + 8).sum::<usize>()
            }
            _ => 0,
        };
        256 + body
    }
}

/// How many recipient ids a `push_out` record lists: enough for every tab of a
/// debugging session, bounded so that a push to thousands of load-test sockets does
/// not copy thousands of ids into the record (its count stays exact).
pub const MAX_RECIPIENT_IDS: usize = 256;

impl Body {
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Connect { .. } => "connect",
            Body::Disconnect { .. } => "disconnect",
            Body::Upgrade { .. } => "upgrade",
            Body::EventIn { .. } => "event_in",
            Body::AckOut { .. } => "ack_out",
            Body::PushOut { .. } => "push_out",
            Body::Subscribe { .. } => "subscribe",
            Body::Unsubscribe { .. } => "unsubscribe",
            Body::ProtocolError { .. } => "protocol_error",
            Body::Fault { .. } => "fault",
            Body::Refused { .. } => "refused",
            Body::FaultRules { .. } => "fault_rules",
            Body::Offline { .. } => "offline",
            Body::Online { .. } => "online",
            Body::SlowConsumer { .. } => "slow_consumer",
        }
    }

    /// The event name of event_in, ack_out and push_out records.
    pub fn event(&self) -> Option<&str> {
        match self {
            Body::EventIn { event, .. }
            | Body::AckOut { event, .. }
            | Body::PushOut { event, .. } => Some(event),
            Body::ProtocolError { event, .. } => event.as_deref(),
            Body::Fault { event, .. } => Some(event),
            _ => None,
        }
    }

    /// Made by a fault rule: its `fault` record, or the error ack it answered with.
    pub fn is_injected(&self) -> bool {
        matches!(
            self,
            Body::Fault { .. } | Body::AckOut { fault: Some(_), .. }
        )
    }

    pub fn is_error(&self) -> bool {
        matches!(
            self,
            Body::AckOut { error: Some(_), .. }
                | Body::ProtocolError { .. }
                | Body::Refused { .. }
                | Body::SlowConsumer { .. }
        )
    }
}

/// What happened to the fault rules, in a `fault_rules` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RuleChange {
    Added,
    /// Changed in place (same id and place in the order).
    Edited,
    On,
    Off,
    /// Reached its `times` and switched itself off.
    Spent,
    Removed,
    Cleared,
    /// Rules added from a rules file.
    Imported,
    /// The server-wide seed was set.
    Seed,
    /// What is in effect when a session starts.
    Snapshot,
}

/// Whom an emit goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Socket {
        id: String,
    },
    Channel {
        url: String,
    },
    /// The sockets subscribed to a live query of the collection `url` (crate::query);
    /// `query` is its parameters as the client sent them.
    Query {
        url: String,
        query: Value,
    },
    /// The sockets that spoke the iobind dialect for namespace `ns`.
    Iobind {
        ns: String,
    },
    All,
}

/// Which records a watcher or a query wants. Every field narrows; none means all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Filter {
    /// A socket id: matches what the socket did and the pushes it received.
    #[ts(optional)]
    pub socket: Option<String>,
    /// A collection url: matches records on it and on its models' urls.
    #[ts(optional)]
    pub channel: Option<String>,
    #[ts(optional)]
    pub event: Option<String>,
    /// Record kinds (`connect`, `ack_out`, …).
    #[ts(optional)]
    pub kinds: Option<Vec<String>>,
    #[ts(optional)]
    pub origin: Option<Origin>,
    /// Only error acks, protocol errors and refused requests.
    #[ts(optional)]
    pub errors_only: Option<bool>,
    /// true: only what fault rules produced (`fault` records, acks with a `fault`);
    /// false: everything else. With `errors_only`, splits injected errors from real ones.
    #[ts(optional)]
    pub injected: Option<bool>,
    /// Text that must appear in the record's JSON.
    #[ts(optional)]
    pub text: Option<String>,
    /// Only records at or after this time (Unix µs): a range picked on a chart.
    #[ts(optional)]
    pub from_us: Option<u64>,
    /// Only records at or before this time (Unix µs).
    #[ts(optional)]
    pub to_us: Option<u64>,
}

impl Filter {
    pub fn matches(&self, record: &Record) -> bool {
        if let Some(socket) = &self.socket {
            let received = matches!(&record.body, Body::PushOut { to, .. } if to.contains(socket));
            if record.socket.as_deref() != Some(socket) && !received {
                return false;
            }
        }
        if let Some(channel) = &self.channel {
            let on = |url: &str| {
                url == channel
                    || url
                        .strip_prefix(channel.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            };
            if !record.url.as_deref().is_some_and(on) {
                return false;
            }
        }
        if let Some(event) = &self.event {
            if record.body.event() != Some(event) {
                return false;
            }
        }
        if let Some(kinds) = &self.kinds {
            if !kinds.iter().any(|k| k == record.body.kind()) {
                return false;
            }
        }
        if let Some(origin) = self.origin {
            if record.origin != origin {
                return false;
            }
        }
        if self.errors_only == Some(true) && !record.body.is_error() {
            return false;
        }
        if let Some(injected) = self.injected {
            if record.body.is_injected() != injected {
                return false;
            }
        }
        if self.from_us.is_some_and(|from| record.at_us < from)
            || self.to_us.is_some_and(|to| record.at_us > to)
        {
            return false;
        }
        if let Some(text) = &self.text {
            let json = serde_json::to_string(record).unwrap_or_default();
            if !json.contains(text.as_str()) {
                return false;
            }
        }
        true
    }
}

/// A live socket, as the registry knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SocketInfo {
    pub id: String,
    /// The client it belongs to across reconnects (`auth.client`), when it named one.
    pub client: Option<String>,
    /// How many sockets of the same client connected before this one since launch:
    /// its reconnects.
    pub reconnects: u32,
    pub transport: String,
    pub protocol: String,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
    pub http_origin: Option<String>,
    pub auth: Value,
    pub connected_at_us: u64,
    /// Dialects it has spoken so far (`native`, `iobind:<ns>`).
    pub dialects: Vec<String>,
    /// Channels (collection urls) it is subscribed to.
    pub channels: Vec<String>,
    pub events_in: u64,
    pub acks_out: u64,
    pub error_acks: u64,
    /// How long the server took over the last request it acked (µs), null before the
    /// first ack. Kept here rather than found in the recording: an inspector opened after
    /// the traffic, or while nothing is recorded, still shows it.
    pub last_ack_latency_us: Option<u64>,
    /// Its page's round trips of the last minute as the page measured them (emit to
    /// ack callback: network and queues included), when it reports them
    /// (backbone.realtime does; docs/PROTOCOL.md, *Client latency*). Null otherwise.
    #[serde(default)]
    pub client_latency: Option<ClientLatency>,
    /// Pushes sent to it (through its channels, directly or to everyone).
    pub pushes_in: u64,
    /// Approximate JSON bytes of the events it sent.
    pub bytes_in: u64,
    /// Approximate JSON bytes of the acks and pushes sent to it.
    pub bytes_out: u64,
    pub last_activity_us: u64,
}

/// A channel with at least one member, or that has had changes since launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChannelInfo {
    pub url: String,
    /// A live query's parameters (its filter, `_sort`, `_limit`…) when the channel is
    /// a query subscription of `url`; null for the whole collection.
    pub query: Option<Value>,
    pub members: Vec<String>,
    /// `change` pushes sent on it since launch.
    pub changes: u64,
    pub last_change_at_us: Option<u64>,
}

/// A recording session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionInfo {
    pub id: i64,
    pub name: Option<String>,
    pub started_at_us: u64,
    pub stopped_at_us: Option<u64>,
    /// Records written to the database.
    pub recorded: u64,
    /// Records dropped because the writer fell behind.
    pub lost: u64,
}

/// The state of the bus and the recorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Stats {
    /// When this launch of the server started (Unix µs): a new value means the server
    /// was restarted, which the inspector tells its user.
    pub launched_at_us: u64,
    /// The seq of the last record published.
    pub last_seq: u64,
    /// The session being recorded, if any.
    pub recording: Option<SessionInfo>,
    /// Records waiting for the writer now.
    pub recorder_queued: u64,
    /// Their approximate size in bytes.
    pub recorder_queued_bytes: u64,
    /// How many records may wait before new ones are dropped (and counted as lost).
    pub recorder_capacity: u64,
    /// Records dropped by the recorder since launch, all sessions together.
    pub recorder_lost: u64,
    pub sockets: u64,
    pub channels: u64,
    /// The live replay loaded, if any (docs/REPLAY.md, Live replay).
    pub replay: Option<ReplayStatus>,
    /// The server-wide seed of fault toxicity draws (`--fault-seed`, docs/FAULTS.md).
    pub fault_seed: u64,
    /// The clients taken offline now, with the seconds each has left.
    pub offline: Vec<OfflineClient>,
    /// Round trips as the pages measured them, over the last few seconds (every
    /// reporting socket together): the latency a user waits for, beside the ack
    /// latency inside the server.
    #[serde(default)]
    pub client_latency: ClientLatency,
}

/// CRUD round trips as pages measured them, from the emit of a request to its ack
/// callback, in microseconds (docs/PROTOCOL.md, *Client latency*). Unlike an ack's
/// latency, which ends when the server sends the ack, it holds the network, the
/// queues on both sides and the page's own event loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientLatency {
    /// The span the figures cover, in seconds, up to now.
    pub window_secs: u64,
    /// Connected sockets whose pages reported round trips in the last minute (0: no
    /// page reports: none uses backbone.realtime, or none has subscribed yet).
    pub reporting: u64,
    /// Of them, those with round trips in the window.
    pub pages: u64,
    /// Round trips in the window.
    pub count: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub max_us: Option<u64>,
    /// The same per method (`create`, `read`, `update`, `patch`, `delete`), for the
    /// methods with round trips in the window.
    pub ops: Vec<OpRoundTrips>,
}

/// The round trips of one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OpRoundTrips {
    pub op: String,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// A client kept offline by the inspector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OfflineClient {
    pub client: String,
    pub secs_left: u64,
}

/// Where a live replay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReplayState {
    /// Loaded (or stopped) and at the start; nothing is being sent.
    Idle,
    Playing,
    Paused,
    /// Every push was sent.
    Finished,
}

/// A live replay: a stored session's pushes re-emitted into the clients connected now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReplayStatus {
    /// The session being replayed.
    pub session: i64,
    pub state: ReplayState,
    /// How many pushes were sent so far: the index of the next one.
    pub position: u64,
    /// How many pushes the session holds.
    pub total: u64,
    /// Recorded gaps are divided by this.
    pub speed: f64,
    /// The recorded seq of the push sent last (the current record).
    pub current_seq: Option<u64>,
    /// The recorded seq of the push to send next.
    pub next_seq: Option<u64>,
}

/// One page of recorded records, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EventsPage {
    pub session: i64,
    pub records: Vec<Record>,
    /// Pass as `after` to get the next page; null when this page is the last so far.
    pub next: Option<u64>,
    /// Pass as `before` to get the previous page; null when this page is the first
    /// (a page after seq 0, or a backward page that reached the start).
    pub prev: Option<u64>,
    /// How many records of the session match the filter, when asked (`total=true`).
    pub total: Option<u64>,
}

/// Where a page of records starts: after a seq (going forward) or before one (going
/// backward, the page still oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After(u64),
    Before(u64),
}

/// Ack latency over a session, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Latency {
    pub session: i64,
    pub count: u64,
    pub p50_us: Option<u64>,
    pub p90_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub max_us: Option<u64>,
}

/// One collection in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CollectionInfo {
    pub url: String,
    pub models: u64,
}

/// A stored model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelInfo {
    pub id: String,
    pub data: Value,
    pub version: i64,
}

/// `GET /_syncscope/store`: the collections, or with `?url=` one collection's models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoreSnapshot {
    pub collections: Vec<CollectionInfo>,
    /// The models of `url`, when asked for.
    pub models: Option<Vec<ModelInfo>>,
    /// The last change seq committed.
    pub seq: i64,
}

/// The write methods the inspector can apply to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelOp {
    Create,
    Update,
    Patch,
    Delete,
}

/// What the control API can be told to do (HTTP `POST /_syncscope/command`, or a
/// `command` message on the WebSocket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Cut one socket off. The client sees the reason `io server disconnect`.
    Disconnect {
        socket: String,
        #[serde(default)]
        #[ts(optional)]
        reason: Option<String>,
    },
    /// End one socket's TCP connections without a goodbye, as a lost network would.
    /// The client sees `transport close` (or `transport error`) and reconnects.
    Cut { socket: String },
    /// Send any event with any arguments.
    Emit {
        target: Target,
        event: String,
        #[serde(default)]
        args: Vec<Value>,
    },
    /// Write to the store as the inspector: subscribers get the change like any write.
    Model {
        op: ModelOp,
        /// The collection url for create; the model url otherwise.
        url: String,
        #[serde(default)]
        #[ts(optional)]
        data: Option<Value>,
        #[serde(default)]
        #[ts(optional)]
        version: Option<i64>,
    },
    /// Start a new recording session (ending the current one).
    RecordStart {
        #[serde(default)]
        #[ts(optional)]
        name: Option<String>,
    },
    /// Stop recording.
    RecordStop,
    /// Add a fault rule; the result is the rule with its id.
    FaultAdd {
        rule: crate::faults::FaultSpec,
        /// Add it switched off (default: on).
        #[serde(default)]
        #[ts(optional)]
        enabled: Option<bool>,
    },
    /// Change what a rule does, in place: it keeps its id and place; its counts start
    /// again; it is switched on unless `enabled` says otherwise.
    FaultEdit {
        id: u64,
        rule: crate::faults::FaultSpec,
        #[serde(default)]
        #[ts(optional)]
        enabled: Option<bool>,
    },
    /// Switch a fault rule on or off.
    FaultSet { id: u64, enabled: bool },
    /// Delete a fault rule.
    FaultRemove { id: u64 },
    /// Delete every fault rule.
    FaultClear,
    /// Add the rules of a rules file (`GET /_syncscope/faults/export`), after the
    /// current ones, or instead of them with `replace`.
    FaultImport {
        file: crate::faults::FaultFile,
        #[serde(default)]
        #[ts(optional)]
        replace: Option<bool>,
    },
    /// Set the server-wide seed of toxicity draws; every rule's draws start again.
    FaultSeed { seed: u64 },
    /// Take a client offline for `secs` seconds: its sockets are cut and its reconnects
    /// refused (the client sees `connect_error`) until the time is up. `socket` names
    /// the client of that socket, or the socket alone when it has no client id.
    Offline {
        #[serde(default)]
        #[ts(optional)]
        client: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        socket: Option<String>,
        secs: u64,
    },
    /// Let an offline client back now.
    Online { client: String },
    /// Load a stored session's pushes for a live replay (paused at the start).
    ReplayLoad {
        session: i64,
        #[serde(default)]
        #[ts(optional)]
        speed: Option<f64>,
    },
    /// Play from the current position.
    ReplayPlay,
    /// Stop sending; the position stays.
    ReplayPause,
    /// Send the next push now and stay paused.
    ReplayStep,
    /// Move to `position` (0 = the start), paused.
    ReplaySeek { position: u64 },
    /// Stop and go back to the start.
    ReplayStop,
    /// Change the speed (gaps are divided by it), also while playing.
    ReplaySpeed { speed: f64 },
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CommandResult {
    Ok {
        /// What the command produced: the ack result of a model write, the session
        /// started, the number of recipients of an emit…
        value: Value,
    },
    Error {
        /// A stable code (`bad_request`, `not_found`, `conflict`, …).
        code: String,
        message: String,
        /// The sync error object, for model writes.
        #[ts(optional)]
        detail: Option<Value>,
    },
}

impl CommandResult {
    /// A refusal with its stable code and a sentence saying what to do.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        CommandResult::Error {
            code: code.into(),
            message: message.into(),
            detail: None,
        }
    }
}

/// Messages a control WebSocket client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Choose which live records to receive (replaces the previous filter).
    Watch { filter: Filter },
    /// Stop receiving live records.
    Unwatch,
    /// Run a command; the reply carries the same `id`.
    Command { id: u64, command: Command },
}

/// Messages the control WebSocket sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message: the state at connection time.
    Hello {
        stats: Stats,
        sockets: Vec<SocketInfo>,
        channels: Vec<ChannelInfo>,
    },
    /// Live records that match the filter, at most one batch per ~50 ms.
    Batch {
        /// When the server sent it (Unix µs).
        at_us: u64,
        records: Vec<Record>,
        /// Records this watcher missed because it read too slowly (0 normally).
        missed: u64,
        stats: Stats,
    },
    /// The filter of a `watch` is in effect: every record published from now on that
    /// matches it will come in a batch.
    Watching {
        filter: Filter,
    },
    Reply {
        id: u64,
        result: CommandResult,
    },
    /// A message that could not be understood.
    Error {
        message: String,
    },
}

#[cfg(test)]
mod origin_tests {
    use super::Origin;

    /// The recorder stores `as_str` in the column that filters match against the wire name.
    #[test]
    fn an_origin_has_its_wire_name() {
        for origin in [
            Origin::Client,
            Origin::Server,
            Origin::Inspector,
            Origin::Fault,
            Origin::Replay,
        ] {
            assert_eq!(serde_json::to_value(origin).unwrap(), origin.as_str());
        }
    }
}
