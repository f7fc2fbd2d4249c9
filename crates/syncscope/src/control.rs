//! The control API under `/_syncscope/`: HTTP snapshots and commands, and one WebSocket
//! for live batches and commands (docs/CONTROL-API.md).
//!
//! Every request needs the launch's token, and is refused when its `Host` is not a
//! loopback name (DNS rebinding) or its `Origin` is foreign (checks in crate::access).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;
use sqlx::Row;
use tokio::sync::broadcast::error::RecvError;

use crate::access::{self, RequestHeaders};
use crate::dialect::{self, Dialect};
use crate::error::SyncError;
use crate::inspect::types::{
    ClientMessage, CollectionInfo, Command, CommandResult, Cursor, Filter, ModelInfo, ModelOp,
    Origin, ServerMessage, StoreSnapshot,
};
use crate::inspect::Inspector;
use crate::sync::Sync;
use crate::url::Url;

/// The shortest time between two batches sent to one watcher.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);
/// The most records one batch holds; beyond it a watcher is told how many it missed.
pub const MAX_BATCH: usize = 5000;

pub struct ControlState {
    pub inspector: Arc<Inspector>,
    pub sync: Arc<Sync>,
    pub io: SocketIo,
    pub token: String,
    /// The port the server listens on (an allowed `Origin` is this very server).
    pub port: u16,
    /// The host the server was told to bind, allowed as a `Host` besides loopback.
    pub host: String,
}

pub fn router(state: Arc<ControlState>) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/sockets", get(sockets))
        .route("/channels", get(channels))
        .route("/sessions", get(sessions))
        .route("/faults", get(faults))
        .route("/faults/export", get(export_faults))
        .route("/sessions/{id}/export", get(export_session))
        .route(
            "/sessions/import",
            post(import_session).layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/events", get(events))
        .route("/latency", get(latency))
        .route("/store", get(store))
        .route(
            "/command",
            post(command).layer(axum::extract::DefaultBodyLimit::max(COMMAND_LIMIT)),
        )
        .route("/ws", get(ws))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Every refusal of the HTTP routes: a status and `{code, message}` (docs/CONTROL-API.md).
fn answer(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message.to_string() })),
    )
        .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    answer(status, "refused", message)
}

async fn guard(State(state): State<Arc<ControlState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    // Every Host and Origin header counts, parsed strictly (crate::access).
    let seen = RequestHeaders::of(headers, req.uri().authority().map(|a| a.as_str()));
    let host_ok = match seen.hosts.as_slice() {
        [host] => access::control_host_allowed(host, &state.host),
        _ => false,
    };
    if !host_ok {
        return refuse(
            StatusCode::FORBIDDEN,
            "the control API answers only to a loopback Host (127.0.0.1, localhost, [::1]); \
             connect to it through one of those names",
        );
    }
    let origin_ok = match seen.origins.as_slice() {
        [] => true,
        [origin] => access::control_origin_allowed(origin, state.port),
        _ => false,
    };
    if !origin_ok {
        return refuse(
            StatusCode::FORBIDDEN,
            "the control API refuses requests from other web origins; \
             open the inspector from this server's own address",
        );
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let in_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    });
    let given = bearer.map(str::to_string).or(in_query);
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => {
            next.run(req).await
        }
        Some(_) => refuse(
            StatusCode::UNAUTHORIZED,
            "wrong control token; use the one the server printed at start (Control token: …)",
        ),
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "the control API needs the token the server printed at start: \
             send `Authorization: Bearer TOKEN` (or `?token=TOKEN` on the WebSocket)",
        ),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn stats(State(state): State<Arc<ControlState>>) -> impl IntoResponse {
    Json(state.inspector.stats())
}

async fn sockets(State(state): State<Arc<ControlState>>) -> impl IntoResponse {
    Json(state.inspector.sockets())
}

async fn channels(State(state): State<Arc<ControlState>>) -> impl IntoResponse {
    Json(state.inspector.bus.registry.channels())
}

fn internal(message: impl std::fmt::Display) -> Response {
    answer(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

async fn sessions(State(state): State<Arc<ControlState>>) -> Response {
    match state.inspector.recorder().sessions().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => internal(e),
    }
}

/// The query string of `/events` and `/latency`: the filter's fields, with `kinds`
/// comma-separated, plus paging.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EventsQuery {
    pub session: Option<i64>,
    pub after: Option<u64>,
    pub before: Option<u64>,
    pub limit: Option<u32>,
    pub total: Option<bool>,
    pub socket: Option<String>,
    pub channel: Option<String>,
    pub event: Option<String>,
    pub kinds: Option<String>,
    pub origin: Option<Origin>,
    pub errors_only: Option<bool>,
    pub injected: Option<bool>,
    pub text: Option<String>,
    pub from_us: Option<u64>,
    pub to_us: Option<u64>,
}

impl EventsQuery {
    fn filter(&self) -> Filter {
        Filter {
            socket: self.socket.clone(),
            channel: self.channel.clone(),
            event: self.event.clone(),
            kinds: self
                .kinds
                .as_ref()
                .map(|k| k.split(',').map(|s| s.trim().to_string()).collect()),
            origin: self.origin,
            errors_only: self.errors_only,
            injected: self.injected,
            text: self.text.clone(),
            from_us: self.from_us,
            to_us: self.to_us,
        }
    }
}

async fn events(State(state): State<Arc<ControlState>>, Query(q): Query<EventsQuery>) -> Response {
    let page = state
        .inspector
        .recorder()
        .events(
            q.session,
            &q.filter(),
            match q.before {
                Some(before) => Cursor::Before(before),
                None => Cursor::After(q.after.unwrap_or(0)),
            },
            q.limit.unwrap_or(200),
            q.total.unwrap_or(false),
        )
        .await;
    match page {
        Ok(page) => Json(page).into_response(),
        Err(e) => internal(e),
    }
}

async fn latency(State(state): State<Arc<ControlState>>, Query(q): Query<EventsQuery>) -> Response {
    match state
        .inspector
        .recorder()
        .latency(q.session, &q.filter())
        .await
    {
        Ok(l) => Json(l).into_response(),
        Err(e) => internal(e),
    }
}

async fn store(
    State(state): State<Arc<ControlState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = async {
        let store = &state.sync.store;
        let rows = sqlx::query(
            "SELECT collection, COUNT(*) FROM models GROUP BY collection ORDER BY collection",
        )
        .fetch_all(store.pool())
        .await?;
        let collections = rows
            .iter()
            .map(|r| CollectionInfo {
                url: r.get(0),
                models: r.get::<i64, _>(1) as u64,
            })
            .collect();
        let (models, seq) = match q.get("url") {
            Some(url) => {
                let url = Url::parse(url)?;
                let (models, seq) = store.read_collection(&url).await?;
                let models = models
                    .into_iter()
                    .map(|m| ModelInfo {
                        id: m.id,
                        data: m.data,
                        version: m.version,
                    })
                    .collect();
                (Some(models), seq)
            }
            None => (None, store.last_seq().await?),
        };
        Ok::<_, SyncError>(StoreSnapshot {
            collections,
            models,
            seq,
        })
    }
    .await;
    match result {
        Ok(snapshot) => Json(snapshot).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(e.to_wire())).into_response(),
    }
}

/// A body axum could not take (over the route's limit, or cut off), answered as JSON
/// `{code, message}` like every other refusal instead of axum's plain text.
fn body_refused(rejection: BytesRejection, what: &str, limit: usize) -> Response {
    let status = rejection.status();
    let (code, message) = if status == StatusCode::PAYLOAD_TOO_LARGE {
        (
            "too_large",
            format!("{what} is larger than the limit of {limit} bytes; send a smaller one"),
        )
    } else {
        (
            "bad_request",
            format!("{what} could not be read: {}", rejection.body_text()),
        )
    };
    answer(status, code, message)
}

/// axum's default body limit, which /command keeps.
pub const COMMAND_LIMIT: usize = 2 * 1024 * 1024;

async fn command(
    State(state): State<Arc<ControlState>>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refused(rejection, "the command", COMMAND_LIMIT),
    };
    let command: Command = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            let result = CommandResult::Error {
                code: "bad_request".into(),
                message: format!("the body is not a command: {e}"),
                detail: None,
            };
            return (StatusCode::BAD_REQUEST, Json(result)).into_response();
        }
    };
    let result = run(&state, command).await;
    let status = match &result {
        CommandResult::Ok { .. } => StatusCode::OK,
        CommandResult::Error { code, .. } => match code.as_str() {
            "not_found" => StatusCode::NOT_FOUND,
            "conflict" => StatusCode::CONFLICT,
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            "busy" => StatusCode::SERVICE_UNAVAILABLE,
            "storage_full" => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::BAD_REQUEST,
        },
    };
    (status, Json(result)).into_response()
}

/// Carries out one command of the control API.
pub async fn run(state: &ControlState, command: Command) -> CommandResult {
    match command {
        Command::Disconnect { socket, reason } => {
            let socket_ref = Sid::from_str(&socket)
                .ok()
                .and_then(|sid| state.io.get_socket(sid));
            let Some(socket_ref) = socket_ref else {
                return CommandResult::error(
                    "not_found",
                    format!("no socket {socket} is connected; list them with `syncscope sockets`"),
                );
            };
            state.inspector.disconnect_reason(
                &socket,
                reason.unwrap_or_else(|| "cut off by the inspector".into()),
            );
            match socket_ref.disconnect() {
                Ok(()) => CommandResult::Ok {
                    value: json!({ "disconnected": socket }),
                },
                Err(e) => CommandResult::error(
                    "not_found",
                    format!("socket {socket} is already gone: {e}"),
                ),
            }
        }
        Command::Cut { socket } => {
            let socket_ref = Sid::from_str(&socket)
                .ok()
                .and_then(|sid| state.io.get_socket(sid));
            let Some(socket_ref) = socket_ref else {
                return CommandResult::error(
                    "not_found",
                    format!("no socket {socket} is connected; list them with `syncscope sockets`"),
                );
            };
            match state.sync.outbound().cut(
                &socket_ref,
                Origin::Inspector,
                "cut by the inspector".into(),
            ) {
                Some(cut) => CommandResult::Ok {
                    value: json!({ "cut": socket, "connections": cut.connections }),
                },
                None => {
                    CommandResult::error("not_found", format!("socket {socket} is already gone"))
                }
            }
        }
        Command::Emit {
            target,
            event,
            args,
        } => crate::inject::emit(&state.io, &state.inspector, target, event, args).await,
        Command::Model {
            op,
            url,
            data,
            version,
        } => {
            let method = match op {
                ModelOp::Create => "create",
                ModelOp::Update => "update",
                ModelOp::Patch => "patch",
                ModelOp::Delete => "delete",
            };
            let mut arg = json!({ "url": url });
            if let Some(data) = data {
                arg["data"] = data;
            }
            if let Some(version) = version {
                arg["version"] = json!(version);
            }
            let (dialect, parsed) = match dialect::parse(method, arg, state.sync.max_data) {
                Ok(p) => p,
                Err(e) => return sync_error(&e),
            };
            let mut out = None;
            state
                .sync
                .run(None, &dialect, parsed, |outcome| {
                    out = Some(outcome.map(|o| dialect::render(&Dialect::Native, o)));
                })
                .await;
            match out {
                Some(Ok(value)) => CommandResult::Ok { value },
                Some(Err(e)) => sync_error(&e),
                None => CommandResult::error("internal", "the write gave no answer"),
            }
        }
        Command::RecordStart { name } => match state.inspector.start_session(name).await {
            Ok(session) => CommandResult::Ok {
                value: serde_json::to_value(session).unwrap_or_default(),
            },
            Err(e) => CommandResult::error("internal", e),
        },
        Command::RecordStop => match state.inspector.recorder().stop_session().await {
            Ok(session) => CommandResult::Ok {
                value: serde_json::to_value(session).unwrap_or_default(),
            },
            Err(e) => CommandResult::error("internal", e),
        },
        c @ (Command::FaultAdd { .. }
        | Command::FaultEdit { .. }
        | Command::FaultSet { .. }
        | Command::FaultRemove { .. }
        | Command::FaultClear
        | Command::FaultImport { .. }
        | Command::FaultSeed { .. }
        | Command::Offline { .. }
        | Command::Online { .. }) => crate::fault_control::run(&state.sync, c).await,
        Command::ReplayLoad { session, speed } => {
            replay_result(state.sync.replay.load(session, speed).await)
        }
        Command::ReplayPlay => replay_result(state.sync.replay.play().await),
        Command::ReplayPause => replay_result(state.sync.replay.pause().await),
        Command::ReplayStep => replay_result(state.sync.replay.step().await),
        Command::ReplaySeek { position } => replay_result(state.sync.replay.seek(position).await),
        Command::ReplayStop => replay_result(state.sync.replay.stop().await),
        Command::ReplaySpeed { speed } => replay_result(state.sync.replay.set_speed(speed).await),
    }
}

/// The replay's status after a replay command, or why the command could not be done.
fn replay_result(
    outcome: Result<crate::inspect::types::ReplayStatus, crate::live_replay::LiveError>,
) -> CommandResult {
    use crate::live_replay::LiveError as E;
    match outcome {
        Ok(status) => CommandResult::Ok {
            value: serde_json::to_value(status).unwrap_or_default(),
        },
        Err(e @ E::NoSuchSession(_)) => CommandResult::error("not_found", e.to_string()),
        Err(e @ (E::NotLoaded | E::NothingToReplay(_))) => {
            CommandResult::error("conflict", e.to_string())
        }
        Err(e @ (E::BadSpeed(_) | E::BadPosition { .. })) => {
            CommandResult::error("bad_request", e.to_string())
        }
        Err(e @ E::Db(_)) => CommandResult::error("internal", e.to_string()),
    }
}

/// `GET /faults`: the fault rules, in the order they are tried.
async fn faults(State(state): State<Arc<ControlState>>) -> Json<Vec<crate::faults::FaultRule>> {
    Json(state.sync.faults.list())
}

/// `GET /faults/export`: the rules as a file for `fault_import`.
async fn export_faults(State(state): State<Arc<ControlState>>) -> Response {
    (
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"syncscope-faults.json\"",
        )],
        Json(state.sync.faults.export()),
    )
        .into_response()
}

fn sync_error(e: &SyncError) -> CommandResult {
    CommandResult::Error {
        code: e.code().into(),
        message: e.to_string(),
        detail: Some(e.to_wire()),
    }
}

async fn ws(State(state): State<Arc<ControlState>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| watch(socket, state))
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: &ServerMessage,
) -> bool {
    let text = serde_json::to_string(msg).unwrap_or_default();
    sink.send(Message::Text(text.into())).await.is_ok()
}

/// One control WebSocket: a hello, then batches of the records its filter matches, at
/// most one per [`BATCH_INTERVAL`], and replies to its commands.
async fn watch(socket: WebSocket, state: Arc<ControlState>) {
    let (mut sink, mut stream) = socket.split();
    let mut live = state.inspector.bus.watch();
    let hello = ServerMessage::Hello {
        stats: state.inspector.stats(),
        sockets: state.inspector.sockets(),
        channels: state.inspector.bus.registry.channels(),
    };
    if !send(&mut sink, &hello).await {
        return;
    }
    let mut filter: Option<Filter> = None;
    let mut pending = Vec::new();
    let mut missed = 0u64;
    let mut tick = tokio::time::interval(BATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break,
                };
                let reply = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(ClientMessage::Watch { filter: f }) => {
                        filter = Some(f.clone());
                        Some(ServerMessage::Watching { filter: f })
                    }
                    Ok(ClientMessage::Unwatch) => { filter = None; pending.clear(); None }
                    Ok(ClientMessage::Command { id, command }) => {
                        Some(ServerMessage::Reply { id, result: run(&state, command).await })
                    }
                    Err(e) => Some(ServerMessage::Error {
                        message: format!("not a control message: {e}; see docs/CONTROL-API.md"),
                    }),
                };
                if let Some(reply) = reply {
                    if !send(&mut sink, &reply).await {
                        break;
                    }
                }
            }
            record = live.recv() => match record {
                Ok(record) => {
                    if let Some(f) = &filter {
                        if f.matches(&record) {
                            if pending.len() < MAX_BATCH {
                                pending.push((*record).clone());
                            } else {
                                missed += 1;
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    if filter.is_some() {
                        missed += n;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                if !pending.is_empty() || missed > 0 {
                    let batch = ServerMessage::Batch {
                        at_us: crate::inspect::now_us(),
                        records: std::mem::take(&mut pending),
                        missed: std::mem::take(&mut missed),
                        stats: state.inspector.stats(),
                    };
                    if !send(&mut sink, &batch).await {
                        break;
                    }
                }
            }
        }
    }
}

/// The largest session file `POST /sessions/import` takes.
pub const IMPORT_LIMIT: usize = 256 * 1024 * 1024;

/// `GET /sessions/{id}/export`: the session as a versioned NDJSON file.
async fn export_session(
    State(state): State<Arc<ControlState>>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    // Every record offered so far is in the file (Recorder::settle).
    state.inspector.recorder().settle().await;
    let mut file = Vec::new();
    match crate::session_file::export(state.sync.store.pool(), id, &mut file).await {
        Ok(_) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"session-{id}.session.ndjson\""),
                ),
            ],
            file,
        )
            .into_response(),
        Err(e @ crate::session_file::SessionFileError::NoSuchSession(_)) => {
            answer(StatusCode::NOT_FOUND, "not_found", e)
        }
        Err(e) => internal(e),
    }
}

/// `POST /sessions/import`: a session file in the body becomes a new, stopped session.
async fn import_session(
    State(state): State<Arc<ControlState>>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    use crate::session_file::SessionFileError as E;
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refused(rejection, "the session file", IMPORT_LIMIT),
    };
    match crate::session_file::import(state.sync.store.pool(), &body[..]).await {
        Ok((id, header)) => {
            Json(json!({ "session": id, "records": header.records, "name": header.name }))
                .into_response()
        }
        Err(e @ (E::Invalid { .. } | E::TooNew(_))) => {
            answer(StatusCode::BAD_REQUEST, "bad_request", e)
        }
        Err(e) => internal(e),
    }
}
