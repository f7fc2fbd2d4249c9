//! Import of Chrome DevTools HAR files: the Socket.IO conversations a browser had,
//! turned into a session, so a bug seen in someone's browser replays like a recording
//! made here (`syncscope import x.har`, then `syncscope replay`).
//!
//! A HAR saved from the Network panel keeps each WebSocket's frames in
//! `_webSocketMessages` and the long-polling requests with their bodies. Both are
//! Engine.IO packets carrying Socket.IO packets; we decode them and write the records
//! the server would have published had it seen the conversation: one client per
//! Engine.IO session (a polling session upgraded to a WebSocket is one client), a
//! `connect`, an `event_in` per event the page sent, an `ack_out` paired to it, a
//! `push_out` per event the page received, and a `disconnect`. What the HAR cannot
//! know (which other socket caused a push, subscriptions, latency inside the server)
//! is left out or taken from the timing seen by the browser.

use std::collections::HashMap;

use serde_json::Value;

use crate::inspect::types::{Body, Origin, Record, Target};
use crate::session_file::{Header, FORMAT_VERSION};
use crate::sio::packet::{decode_payload, Eio, EnginePacket, SioKind, SioPacket};

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("the file is not JSON ({0}); a HAR is the JSON file DevTools saves from its Network panel (right-click a request ▸ Save all as HAR)")]
    NotJson(serde_json::Error),
    #[error("the file is JSON but not a HAR: it has no `log.entries` array")]
    NotHar,
    #[error("the HAR holds no Socket.IO conversation: none of its {entries} entries is a WebSocket or a polling request to /socket.io/ carrying Socket.IO packets. Save the HAR after the page has connected, from a DevTools window that was open while it did (DevTools only records frames while it is open)")]
    NoSocketIo { entries: usize },
}

/// A HAR turned into a session.
#[derive(Debug, Clone)]
pub struct Imported {
    pub header: Header,
    pub records: Vec<Record>,
    /// How many clients (Engine.IO sessions) the session has.
    pub clients: usize,
}

impl Imported {
    /// The session file: the header line, then one record per line.
    pub fn to_ndjson(&self) -> String {
        let mut out = serde_json::to_string(&self.header).unwrap_or_default();
        out.push('\n');
        for record in &self.records {
            out.push_str(&serde_json::to_string(record).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// Reads a HAR's text; `name` becomes the session's name.
pub fn import(text: &str, name: Option<String>) -> Result<Imported, HarError> {
    let har: Value = serde_json::from_str(text).map_err(HarError::NotJson)?;
    let entries = har
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or(HarError::NotHar)?;
    let conversations = gather(entries);
    let mut drafts = Vec::new();
    let mut clients = 0;
    for conversation in &conversations {
        let mine = decode(conversation, clients + 1);
        if mine.is_empty() {
            continue;
        }
        let offset = drafts.len();
        clients += 1;
        drafts.extend(mine.into_iter().map(|mut d| {
            d.answers = d.answers.map(|local| local + offset);
            d.client = clients;
            d
        }));
    }
    if clients == 0 {
        return Err(HarError::NoSocketIo {
            entries: entries.len(),
        });
    }
    let records = number(drafts);
    let header = Header {
        format: "syncscope-session".into(),
        version: FORMAT_VERSION,
        name,
        started_at_us: records.first().map_or(0, |r| r.at_us as i64),
        stopped_at_us: records.last().map(|r| r.at_us as i64),
        records: records.len() as i64,
        lost: 0,
        fault_seed: None,
    };
    Ok(Imported {
        header,
        records,
        clients,
    })
}

// --- from HAR entries to conversations -------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }
}

/// One Engine.IO packet as the browser sent or received it.
#[derive(Debug)]
struct Frame {
    at_us: u64,
    side: Side,
    text: String,
}

/// One Engine.IO session: its handshake and every packet of every transport it used.
#[derive(Debug)]
struct Conversation {
    eio: Eio,
    first_transport: Transport,
    engine_sid: Option<String>,
    query: Option<String>,
    user_agent: Option<String>,
    http_origin: Option<String>,
    frames: Vec<Frame>,
    /// When the browser saw its last transport end.
    closed_at_us: Option<u64>,
}

/// What a Socket.IO entry of the HAR is.
struct SocketIoRequest<'a> {
    entry: &'a Value,
    query: String,
    eio: Eio,
    transport: Transport,
    sid: Option<String>,
    started_at_us: u64,
    /// How long the request (or the WebSocket) lasted, in microseconds.
    duration_us: u64,
}

fn socket_io_request(entry: &Value) -> Option<SocketIoRequest<'_>> {
    let url = entry.pointer("/request/url")?.as_str()?;
    let (path, query) = url.split_once('?')?;
    if !path.contains("/socket.io/") {
        return None;
    }
    let eio = match query_param(query, "EIO")? {
        "3" => Eio::V3,
        "4" => Eio::V4,
        _ => return None,
    };
    let websocket = entry.get("_resourceType").and_then(Value::as_str) == Some("websocket")
        || query_param(query, "transport") == Some("websocket")
        || url.starts_with("ws");
    Some(SocketIoRequest {
        entry,
        query: query.to_string(),
        eio,
        transport: if websocket {
            Transport::Websocket
        } else {
            Transport::Polling
        },
        sid: query_param(query, "sid").map(str::to_string),
        started_at_us: entry
            .get("startedDateTime")
            .and_then(Value::as_str)
            .and_then(rfc3339_us)
            .unwrap_or(0),
        duration_us: entry
            .get("time")
            .and_then(Value::as_f64)
            .map_or(0, |ms| (ms.max(0.0) * 1000.0).round() as u64),
    })
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn header(entry: &Value, name: &str) -> Option<String> {
    entry
        .pointer("/request/headers")?
        .as_array()?
        .iter()
        .find(|h| {
            h.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })?
        .get("value")?
        .as_str()
        .map(str::to_string)
}

/// Groups the Socket.IO entries by Engine.IO session (the `sid` of the url, or the one
/// the handshake answered), in the order they started.
fn gather(entries: &[Value]) -> Vec<Conversation> {
    let mut requests: Vec<SocketIoRequest> = entries.iter().filter_map(socket_io_request).collect();
    requests.sort_by_key(|r| r.started_at_us);
    let mut conversations: Vec<Conversation> = Vec::new();
    let mut by_sid: HashMap<String, usize> = HashMap::new();
    for request in requests {
        let frames = frames_of(&request);
        let known = request
            .sid
            .as_ref()
            .and_then(|sid| by_sid.get(sid))
            .copied();
        let index = known.unwrap_or_else(|| {
            conversations.push(Conversation {
                eio: request.eio,
                first_transport: request.transport,
                engine_sid: request.sid.clone(),
                query: Some(request.query.clone()),
                user_agent: header(request.entry, "user-agent"),
                http_origin: header(request.entry, "origin"),
                frames: Vec::new(),
                closed_at_us: None,
            });
            if let Some(sid) = &request.sid {
                by_sid.insert(sid.clone(), conversations.len() - 1);
            }
            conversations.len() - 1
        });
        let conversation = &mut conversations[index];
        if conversation.engine_sid.is_none() {
            // A handshake: the server's open packet names the session.
            if let Some(sid) = frames.iter().find_map(open_sid) {
                by_sid.insert(sid.clone(), index);
                conversation.engine_sid = Some(sid);
            }
        }
        if request.transport == Transport::Websocket {
            conversation.closed_at_us =
                Some(request.started_at_us.saturating_add(request.duration_us));
        }
        conversation.frames.extend(frames);
    }
    conversations
}

/// The sid of an Engine.IO open packet (`0{"sid":…}`), sent by the server.
fn open_sid(frame: &Frame) -> Option<String> {
    if frame.side != Side::Server {
        return None;
    }
    let EnginePacket::Open(json) = EnginePacket::decode(&frame.text).ok()? else {
        return None;
    };
    json.get("sid")?.as_str().map(str::to_string)
}

/// The Engine.IO packets of one entry: a WebSocket's text messages, or a polling
/// request's body (client) and response body (server).
fn frames_of(request: &SocketIoRequest) -> Vec<Frame> {
    let entry = request.entry;
    if request.transport == Transport::Websocket {
        let messages = entry.get("_webSocketMessages").and_then(Value::as_array);
        return messages
            .into_iter()
            .flatten()
            .filter(|m| m.get("opcode").and_then(Value::as_i64).unwrap_or(1) == 1)
            .filter_map(|m| {
                let side = match m.get("type")?.as_str()? {
                    "send" => Side::Client,
                    "receive" => Side::Server,
                    _ => return None,
                };
                let seconds = m.get("time")?.as_f64()?;
                Some(Frame {
                    at_us: (seconds * 1_000_000.0).round() as u64,
                    side,
                    text: m.get("data")?.as_str()?.to_string(),
                })
            })
            .collect();
    }
    let mut frames = Vec::new();
    let sent = entry
        .pointer("/request/postData/text")
        .and_then(Value::as_str);
    for packet in sent.map(|b| payload(request.eio, b)).unwrap_or_default() {
        frames.push(Frame {
            at_us: request.started_at_us,
            side: Side::Client,
            text: packet,
        });
    }
    let encoded = entry
        .pointer("/response/content/encoding")
        .and_then(Value::as_str);
    let received = entry
        .pointer("/response/content/text")
        .and_then(Value::as_str)
        .filter(|_| encoded.is_none());
    for packet in received
        .map(|b| payload(request.eio, b))
        .unwrap_or_default()
    {
        frames.push(Frame {
            at_us: request.started_at_us.saturating_add(request.duration_us),
            side: Side::Server,
            text: packet,
        });
    }
    frames
}

/// Splits a polling body into Engine.IO packets with the shared codec. A POST's `ok`
/// answer and binary packets (`b…`) carry no Socket.IO text and are dropped; a body
/// that does not add up (a capture cut short) yields nothing.
fn payload(eio: Eio, body: &str) -> Vec<String> {
    decode_payload(eio, body)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p != "ok" && !p.is_empty() && !p.starts_with('b'))
        .collect()
}

// --- from packets to records -----------------------------------------------------------

/// A record before its seq is known: `answers` points at the draft of the request an
/// ack answers, `client` and `local` keep the order of equal times stable.
#[derive(Debug)]
struct Draft {
    at_us: u64,
    client: usize,
    local: usize,
    socket: String,
    origin: Origin,
    url: Option<String>,
    body: Body,
    answers: Option<usize>,
}

/// An event of the client still waiting for its ack.
struct Waiting {
    draft: usize,
    at_us: u64,
    event: String,
    url: Option<String>,
}

/// Where a conversation's socket stands while its frames are read.
#[derive(Default)]
struct SocketState {
    /// Its connect record is written and no disconnect yet.
    connected: bool,
    /// An upgrade came before the connect; it is recorded right after it.
    upgrade_pending: bool,
}

/// The records of one conversation, in its own order; none when it carried no
/// Socket.IO traffic. `client` numbers made-up socket ids.
fn decode(conversation: &Conversation, client: usize) -> Vec<Draft> {
    let mut frames: Vec<&Frame> = conversation.frames.iter().collect();
    frames.sort_by_key(|f| f.at_us);
    let mut drafts: Vec<Draft> = Vec::new();
    // The server records a CONNECT without a payload as `{}`.
    let mut auth = Value::Object(Default::default());
    let mut socket: Option<String> = None;
    let mut socket_state = SocketState::default();
    let mut transport = conversation.first_transport;
    let mut waiting: HashMap<u64, Waiting> = HashMap::new();
    let push = |drafts: &mut Vec<Draft>, at_us, origin, url, body, answers| {
        let local = drafts.len();
        drafts.push(Draft {
            at_us,
            client,
            local,
            socket: String::new(),
            origin,
            url,
            body,
            answers,
        });
    };
    let connect_body = |auth: &Value| Body::Connect {
        transport: conversation.first_transport.name().into(),
        protocol: format!("EIO{}", conversation.eio.number()),
        remote_addr: None,
        user_agent: conversation.user_agent.clone(),
        http_origin: conversation.http_origin.clone(),
        auth: auth.clone(),
        query: conversation.query.clone(),
        client: crate::inspect::offline::client_of(auth, conversation.query.as_deref()),
    };
    // Recorded when the client's WebSocket takes over, as the server records it, even
    // when the page sends nothing more (a page that only listens).
    let upgrade_body = || Body::Upgrade {
        from: Transport::Polling.name().into(),
        to: Transport::Websocket.name().into(),
    };
    // The socket's connect record, once, then the upgrade seen before it if any.
    let open = |drafts: &mut Vec<Draft>, state: &mut SocketState, at_us: u64, auth: &Value| {
        if std::mem::replace(&mut state.connected, true) {
            return;
        }
        push(
            drafts,
            at_us,
            Origin::Client,
            None,
            connect_body(auth),
            None,
        );
        if std::mem::take(&mut state.upgrade_pending) {
            push(drafts, at_us, Origin::Client, None, upgrade_body(), None);
        }
    };
    for frame in frames {
        let message = match EnginePacket::decode(&frame.text) {
            // Engine.IO upgrade: the client's WebSocket takes over from polling.
            Ok(EnginePacket::Upgrade) if frame.side == Side::Client => {
                if transport == Transport::Polling {
                    transport = Transport::Websocket;
                    if socket_state.connected {
                        push(
                            &mut drafts,
                            frame.at_us,
                            Origin::Client,
                            None,
                            upgrade_body(),
                            None,
                        );
                    } else {
                        socket_state.upgrade_pending = true;
                    }
                }
                continue;
            }
            Ok(EnginePacket::Message(message)) => message,
            _ => continue, // open, close, ping, pong, noop, binary, garbage
        };
        // Binary packets, events without a name and bad JSON carry nothing to record.
        let Ok(packet) = SioPacket::decode(&message) else {
            continue;
        };
        if packet.nsp != "/" {
            continue;
        }
        match (frame.side, packet.kind) {
            (Side::Client, SioKind::Connect) => {
                auth = match packet.data {
                    Value::Null => Value::Object(Default::default()),
                    data => data,
                };
            }
            (Side::Server, SioKind::Connect) => {
                // EIO4 answers with the socket's sid; EIO3's socket id is the engine's.
                socket = packet
                    .data
                    .get("sid")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| socket.clone())
                    .or_else(|| conversation.engine_sid.clone());
                open(&mut drafts, &mut socket_state, frame.at_us, &auth);
            }
            (Side::Client, SioKind::Event) => {
                let Some((event, args)) = packet.event_parts() else {
                    continue;
                };
                // Connected already when the HAR missed the handshake.
                open(&mut drafts, &mut socket_state, frame.at_us, &auth);
                let arg = args.into_iter().next().unwrap_or(Value::Null);
                let url = crate::inspect::request_url(&event, Some(&arg));
                if let Some(id) = packet.id {
                    waiting.insert(
                        id,
                        Waiting {
                            draft: drafts.len(),
                            at_us: frame.at_us,
                            event: event.clone(),
                            url: url.clone(),
                        },
                    );
                }
                let body = Body::EventIn {
                    event,
                    args: arg,
                    ack_id: packet.id.and_then(|id| i64::try_from(id).ok()),
                };
                push(&mut drafts, frame.at_us, Origin::Client, url, body, None);
            }
            (Side::Server, SioKind::Ack) => {
                let Some(request) = packet.id.and_then(|id| waiting.remove(&id)) else {
                    continue;
                };
                let args = packet.ack_args();
                let body = Body::AckOut {
                    request_seq: 0,
                    event: request.event,
                    dialect: None,
                    latency_us: frame.at_us.saturating_sub(request.at_us),
                    error: error_code(args.first()),
                    // A HAR holds what the page saw, not which rule made it up.
                    fault: None,
                    args,
                };
                push(
                    &mut drafts,
                    frame.at_us,
                    Origin::Server,
                    request.url,
                    body,
                    Some(request.draft),
                );
            }
            (Side::Server, SioKind::Event) => {
                let Some((event, args)) = packet.event_parts() else {
                    continue;
                };
                let url = push_url(&event, args.first());
                let body = Body::PushOut {
                    event,
                    target: Target::Socket { id: String::new() },
                    recipients: 1,
                    // The page's socket id is only known once the drafts are
                    // numbered; the target is as anonymous.
                    to: Vec::new(),
                    cause: None,
                    args,
                };
                push(&mut drafts, frame.at_us, Origin::Server, url, body, None);
            }
            (side, SioKind::Disconnect) if socket_state.connected => {
                socket_state.connected = false;
                // socketioxide's words, as the server records them.
                let reason = match side {
                    Side::Client => {
                        "client has manually disconnected the socket from the namespace"
                    }
                    Side::Server => "socket was forcefully disconnected from the namespace",
                };
                let body = Body::Disconnect {
                    reason: reason.into(),
                };
                push(&mut drafts, frame.at_us, Origin::Client, None, body, None);
            }
            _ => {}
        }
    }
    if socket_state.connected {
        let at_us = conversation
            .closed_at_us
            .into_iter()
            .chain(drafts.last().map(|d| d.at_us))
            .max()
            .unwrap_or(0);
        let body = Body::Disconnect {
            reason: "client gracefully closed the connection".into(),
        };
        push(&mut drafts, at_us, Origin::Client, None, body, None);
    }
    let socket = socket
        .or_else(|| conversation.engine_sid.clone())
        .unwrap_or_else(|| format!("har-{client}"));
    for draft in &mut drafts {
        draft.socket = socket.clone();
        if let Body::PushOut {
            target: Target::Socket { id },
            ..
        } = &mut draft.body
        {
            *id = socket.clone();
        }
    }
    drafts
}

/// An ack is an error when its first argument is not null (both dialects are
/// error-first); the code is the error's `code`.
fn error_code(first: Option<&Value>) -> Option<String> {
    match first? {
        Value::Null => None,
        Value::Object(error) => Some(
            error
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string(),
        ),
        Value::String(text) => Some(text.clone()),
        _ => Some("error".into()),
    }
}

/// The url of a push as the server records it: the channel of a native `change`,
/// `/<ns>` of an iobind event (`todos/7:update` → `/todos`).
fn push_url(event: &str, first: Option<&Value>) -> Option<String> {
    if event == "change" {
        return crate::inspect::request_url(event, first);
    }
    let (path, _method) = event.rsplit_once(':')?;
    let ns = path.trim_start_matches('/').split('/').next()?;
    crate::url::Url::parse(ns).ok().map(|u| u.to_string())
}

/// Orders every client's drafts by time and numbers them; acks get the seq of their
/// request.
fn number(mut drafts: Vec<Draft>) -> Vec<Record> {
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| (drafts[i].at_us, drafts[i].client, drafts[i].local));
    let mut seq_of = vec![0u64; drafts.len()];
    for (position, &i) in order.iter().enumerate() {
        seq_of[i] = position as u64 + 1;
    }
    for draft in &mut drafts {
        if let (Some(request), Body::AckOut { request_seq, .. }) = (draft.answers, &mut draft.body)
        {
            *request_seq = seq_of[request];
        }
    }
    let mut slots: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| {
            let draft = slots[i].take()?;
            Some(Record {
                seq: seq_of[i],
                at_us: draft.at_us,
                socket: Some(draft.socket),
                origin: draft.origin,
                url: draft.url,
                body: draft.body,
            })
        })
        .collect()
}

// --- time ----------------------------------------------------------------------------------

/// Microseconds since the Unix epoch of an RFC 3339 time such as
/// `2026-12-06T09:30:01.123Z` or `…+01:00` (HAR's `startedDateTime`).
fn rfc3339_us(text: &str) -> Option<u64> {
    // Fields are range-checked before any arithmetic: a HAR is untrusted input and
    // a year of 10^18 must be refused, not overflow.
    let field = |s: &str, max: i64| s.parse::<i64>().ok().filter(|v| (0..=max).contains(v));
    let (date, time) = text.split_once('T')?;
    let mut parts = date.splitn(3, '-');
    let year = field(parts.next()?, 9999)?;
    let month = field(parts.next()?, 12)?.max(1);
    let day = field(parts.next()?, 31)?.max(1);
    let (clock, offset_s) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (clock, sign * (field(h, 23)? * 3600 + field(m, 59)? * 60))
    };
    let mut hms = clock.splitn(3, ':');
    let hour = field(hms.next()?, 23)?;
    let minute = field(hms.next()?, 59)?;
    let seconds: f64 = hms
        .next()?
        .parse()
        .ok()
        .filter(|s| (0.0..61.0).contains(s))?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let whole = days * 86_400 + hour * 3600 + minute * 60 - offset_s;
    let us = whole as f64 * 1_000_000.0 + seconds * 1_000_000.0;
    (us >= 0.0).then_some(us.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_times() {
        assert_eq!(rfc3339_us("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_us("2026-12-06T09:30:01.250Z"),
            Some(1_796_549_401_250_000)
        );
        assert_eq!(
            rfc3339_us("2026-12-06T10:30:01.250+01:00"),
            rfc3339_us("2026-12-06T09:30:01.250Z")
        );
        // Untrusted input: refused, never an overflow.
        assert_eq!(rfc3339_us("99999999999999999-01-01T00:00:00Z"), None);
        assert_eq!(rfc3339_us("2026-01-01T99999999999999:00:00Z"), None);
        assert_eq!(rfc3339_us("2026-01-01T00:00:00+9999999999999:00"), None);
        assert_eq!(rfc3339_us("yesterday"), None);
    }

    #[test]
    fn odd_hars_import_or_are_refused_without_panicking() {
        let odd = [
            r#"{"log":{"entries":[{"request":{"url":"http://h/socket.io/?EIO=4&transport=websocket"},"_resourceType":"websocket","_webSocketMessages":[{"type":"receive","time":-5,"opcode":1,"data":"4"},{"type":"send","time":1e300,"opcode":1,"data":"42"},{"type":"send","time":1,"opcode":1,"data":"4299999999999999999999999[\"x\"]"},{"type":"receive","time":2,"opcode":1,"data":"43/,"},{"type":"receive","time":2,"opcode":1,"data":"42é"},{"type":"receive","time":2,"opcode":1,"data":"45-"}]}]}}"#,
            r#"{"log":{"entries":[{"startedDateTime":"9999-12-31T23:59:59Z","time":1e300,"request":{"url":"http://h/socket.io/?EIO=3&transport=polling&sid=x","postData":{"text":"3:é€😀9:4\u001e"}},"response":{"content":{"text":"99999999999999999999:x"}}},{"startedDateTime":"9999-12-31T23:59:59Z","time":1e300,"request":{"url":"ws://h/socket.io/?EIO=4&sid=x"},"_resourceType":"websocket","_webSocketMessages":[{"type":"receive","time":1e300,"data":"40"}]}]}}"#,
            r#"{"log":{"entries":[{"startedDateTime":"2026-02-30T25:61:00Z","request":{"url":"ws://h/socket.io/?EIO=4"},"_webSocketMessages":[{"type":"send","time":"soon","data":7}]}]}}"#,
        ];
        for text in odd {
            let _ = import(text, None);
        }
    }

    #[test]
    fn splits_polling_payloads_of_both_protocols() {
        assert_eq!(
            payload(Eio::V4, "40\u{1e}42[\"a\"]\u{1e}ok"),
            vec!["40", "42[\"a\"]"]
        );
        assert_eq!(payload(Eio::V3, "2:403:2[1"), vec!["40", "2[1"]);
        // EIO3 counts UTF-16 units: "é" is one, "😀" two.
        assert_eq!(
            payload(Eio::V3, "5:42\"é\"6:42\"😀\""),
            vec!["42\"é\"", "42\"😀\""]
        );
        // A body cut short yields nothing rather than a torn packet.
        assert!(payload(Eio::V3, "9:42").is_empty());
    }
}
