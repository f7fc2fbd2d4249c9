//! A Socket.IO client that speaks like the npm ones: Engine.IO 3 or 4, over WebSocket,
//! HTTP long-polling, or polling upgraded to WebSocket.
//!
//! Replay must talk to the server the way the recorded app did (a socket.io-client 2
//! app polls with EIO3 before it upgrades), and the tests need the same thing with
//! access to raw frames. It is the project's only Socket.IO client: the tests, replay
//! and tools all use it, so there is one place where the wire is spoken, not one per
//! test folder. One background task owns the connection: it answers pings, splits
//! polling payloads and turns frames into [`Incoming`] messages, so the caller only
//! sees Socket.IO events, acks and the end of the connection, in arrival order.
//!
//! Tests of the server's edges need a client that misbehaves on purpose, so a few
//! options step outside what socket.io-client does: [`ConnectOptions::raw_frames`]
//! hands over every Engine.IO frame undecoded, [`ConnectOptions::engine_only`] stops
//! after the Engine.IO handshake (no Socket.IO CONNECT), [`ConnectOptions::heartbeat`]
//! off never answers a ping, and [`ConnectOptions::headers`] may repeat a header or
//! replace `Host`.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::packet::{decode_payload, encode_payload, Eio, EnginePacket, SioKind, SioPacket};

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Websocket,
    Polling,
    /// Polling first, then upgraded to WebSocket, as browsers' socket.io-client does.
    PollingThenWebsocket,
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub eio: Eio,
    pub transport: Transport,
    /// The Socket.IO `auth` payload of the CONNECT packet (EIO4 only).
    pub auth: Option<Value>,
    /// Extra HTTP headers of the handshake (user-agent, origin…), sent in this order. A
    /// name given twice is sent twice (two `Origin` lines); `host` replaces the one the
    /// url gives.
    pub headers: Vec<(String, String)>,
    /// Extra query parameters, `a=1&b=2`, after `EIO` and `transport`.
    pub query: Option<String>,
    /// How long to wait for the handshake.
    pub timeout: Duration,
    /// Stop after the Engine.IO handshake: send no Socket.IO CONNECT (EIO4) and wait for
    /// none (EIO3). For tests of the handshake itself; `sid` is then the Engine.IO sid.
    pub engine_only: bool,
    /// Deliver every Engine.IO frame the server sends as [`Incoming::Frame`], as it came
    /// (pings included, after they were answered), instead of decoding it.
    pub raw_frames: bool,
    /// Answer the server's pings (EIO4) or ping it (EIO3), as every real client does.
    /// Off only to see the server drop a client that went silent.
    pub heartbeat: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            eio: Eio::V4,
            transport: Transport::Websocket,
            auth: None,
            headers: vec![],
            query: None,
            timeout: Duration::from_secs(10),
            engine_only: false,
            raw_frames: false,
            heartbeat: true,
        }
    }
}

/// What the server sent, in the order it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Event {
        name: String,
        args: Vec<Value>,
    },
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    /// The server ended the Socket.IO session (a DISCONNECT packet).
    Disconnected,
    /// The transport ended; the reason in words.
    Closed(String),
    /// A frame that is not Socket.IO on the default namespace, kept as received.
    Other(String),
    /// Any Engine.IO frame, undecoded, when [`ConnectOptions::raw_frames`] is on.
    Frame(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("header {name:?} cannot be sent: {message}")]
    BadHeader { name: String, message: String },
    #[error("the server answered the handshake with {0}")]
    Handshake(String),
    /// The HTTP handshake was answered with an error status (a foreign Origin's 403…).
    #[error("the server refused the handshake with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    /// The Socket.IO CONNECT was answered with CONNECT_ERROR.
    #[error("the server refused the connection: {0}")]
    Refused(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

enum Out {
    Frame(String),
    Close,
    Abort,
}

/// A connected client. Dropping it ends the connection as [`Client::abort`] does,
/// once whatever was sent before (a [`Client::close`]) has gone out: the background
/// task sees the client gone only after the commands queued before.
pub struct Client {
    /// The socket id the server gave (EIO4), or the Engine.IO session id (EIO3, where
    /// socketioxide uses it as the socket id, and with `engine_only`).
    pub sid: String,
    /// The Engine.IO open packet's JSON: sid, upgrades, ping timings, maxPayload.
    pub open: Value,
    pub eio: Eio,
    /// The transport in use after the handshake.
    pub transport: Transport,
    out: mpsc::UnboundedSender<Out>,
    inbox: mpsc::UnboundedReceiver<Incoming>,
    /// Messages taken from the inbox while waiting for something else.
    held: VecDeque<Incoming>,
    next_ack: u64,
    closed: bool,
}

/// `http://host:port` from a bare `host:port` or a url with a path.
fn base_url(server: &str) -> String {
    let s = server.trim_end_matches('/');
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

impl Client {
    /// Connects with the defaults: EIO4 over WebSocket, no auth.
    pub async fn connect(server: &str) -> Result<Client, ClientError> {
        Client::connect_with(server, ConnectOptions::default()).await
    }

    pub async fn connect_with(server: &str, opts: ConnectOptions) -> Result<Client, ClientError> {
        let timeout = opts.timeout;
        tokio::time::timeout(timeout, handshake(&base_url(server), opts))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// Sends a raw Engine.IO text frame, as is.
    pub fn send_raw(&self, frame: &str) {
        let _ = self.out.send(Out::Frame(frame.to_string()));
    }

    /// Emits an event without asking for an ack.
    pub fn emit(&self, event: &str, args: &[Value]) {
        let packet = SioPacket::event(event, args, None);
        self.send_raw(&EnginePacket::Message(packet.encode()).encode());
    }

    /// Emits an event asking for an ack; returns the ack id to wait for.
    pub fn emit_with_ack(&mut self, event: &str, args: &[Value]) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = SioPacket::event(event, args, Some(id));
        self.send_raw(&EnginePacket::Message(packet.encode()).encode());
        id
    }

    /// The next message from the server, or None when none came within `wait` or the
    /// connection is over and everything was read. The transport's end comes once, as
    /// [`Incoming::Closed`], before the Nones.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Incoming> {
        if let Some(held) = self.held.pop_front() {
            return Some(held);
        }
        if self.closed {
            return None;
        }
        match tokio::time::timeout(wait, self.inbox.recv()).await {
            Ok(Some(message)) => {
                if matches!(message, Incoming::Closed(_)) {
                    self.closed = true;
                }
                Some(message)
            }
            Ok(None) => {
                self.closed = true;
                None
            }
            Err(_) => None,
        }
    }

    /// Waits for ack `id`, keeping every other message for later reads. None when the
    /// connection ends or nothing comes within `wait`.
    pub async fn ack_within(&mut self, id: u64, wait: Duration) -> Option<Vec<Value>> {
        if let Some(pos) = self
            .held
            .iter()
            .position(|m| matches!(m, Incoming::Ack { id: got, .. } if *got == id))
        {
            if let Some(Incoming::Ack { args, .. }) = self.held.remove(pos) {
                return Some(args);
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut kept = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.closed {
                break None;
            }
            match tokio::time::timeout(left, self.inbox.recv()).await {
                Ok(Some(Incoming::Ack { id: got, args })) if got == id => break Some(args),
                Ok(Some(message)) => {
                    if matches!(message, Incoming::Closed(_)) {
                        self.closed = true;
                    }
                    kept.push(message);
                }
                Ok(None) => {
                    self.closed = true;
                    break None;
                }
                Err(_) => break None,
            }
        };
        self.held.extend(kept);
        found
    }

    /// Emits and waits for the ack.
    pub async fn request(
        &mut self,
        event: &str,
        args: &[Value],
        wait: Duration,
    ) -> Option<Vec<Value>> {
        let id = self.emit_with_ack(event, args);
        self.ack_within(id, wait).await
    }

    /// True once the transport has ended (as far as this client has read).
    pub fn is_closed(&self) -> bool {
        self.closed && self.held.is_empty()
    }

    /// Leaves politely: a Socket.IO DISCONNECT, then the transport closes.
    pub fn close(&self) {
        let _ = self.out.send(Out::Close);
    }

    /// Drops the connection without a word, as a vanished network would.
    pub fn abort(&self) {
        let _ = self.out.send(Out::Abort);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Session {
    base: String,
    eio: Eio,
    query: String,
    headers: Vec<(String, String)>,
}

impl Session {
    fn url(&self, transport: &str, sid: Option<&str>, http: bool) -> String {
        let mut url = format!(
            "{}/socket.io/?EIO={}&transport={transport}",
            self.base,
            self.eio.number()
        );
        if let Some(sid) = sid {
            url.push_str("&sid=");
            url.push_str(sid);
        }
        if !self.query.is_empty() {
            url.push('&');
            url.push_str(&self.query);
        }
        if !http {
            url = url.replacen("http", "ws", 1);
        }
        url
    }

    async fn open_ws(&self, sid: Option<&str>) -> Result<Ws, ClientError> {
        let url = self.url("websocket", sid, false);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Connect {
                url: url.clone(),
                message: e.to_string(),
            })?;
        for header in self.header_values()? {
            if header.name == axum::http::header::HOST {
                request.headers_mut().insert(header.name, header.value);
            } else {
                request.headers_mut().append(header.name, header.value);
            }
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).to_string())
                    .unwrap_or_default();
                Err(ClientError::Rejected {
                    status: response.status().as_u16(),
                    body,
                })
            }
            Err(e) => Err(ClientError::Connect {
                url,
                message: e.to_string(),
            }),
        }
    }

    /// The caller's headers, checked once for both transports.
    fn header_values(&self) -> Result<Vec<Header>, ClientError> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let bad = |message: String| ClientError::BadHeader {
                    name: name.clone(),
                    message,
                };
                Ok(Header {
                    name: axum::http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| bad(e.to_string()))?,
                    value: axum::http::HeaderValue::from_str(value)
                        .map_err(|e| bad(e.to_string()))?,
                })
            })
            .collect()
    }

    fn http(&self) -> Result<reqwest::Client, ClientError> {
        let mut headers = reqwest::header::HeaderMap::new();
        for header in self.header_values()? {
            headers.append(header.name, header.value);
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .map_err(|e| ClientError::Connect {
                url: self.base.clone(),
                message: e.to_string(),
            })
    }
}

struct Header {
    name: axum::http::HeaderName,
    value: axum::http::HeaderValue,
}

async fn ws_text(ws: &mut Ws) -> Result<String, ClientError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(ClientError::Handshake("the connection closed".into()))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClientError::Handshake(e.to_string())),
        }
    }
}

async fn poll_get(http: &reqwest::Client, url: &str, eio: Eio) -> Result<Vec<String>, ClientError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| ClientError::Connect {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(ClientError::Rejected {
            status: status.as_u16(),
            body,
        });
    }
    let mut frames =
        decode_payload(eio, &body).map_err(|e| ClientError::Handshake(e.to_string()))?;
    // An empty body splits into one empty "frame", which is no packet.
    frames.retain(|frame| !frame.is_empty());
    Ok(frames)
}

async fn poll_post(
    http: &reqwest::Client,
    url: &str,
    eio: Eio,
    frames: &[String],
) -> Result<(), String> {
    let body = encode_payload(eio, frames);
    let response = http
        .post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

fn connect_packet(auth: &Option<Value>) -> String {
    let packet = SioPacket {
        kind: SioKind::Connect,
        nsp: "/".into(),
        id: None,
        data: auth.clone().unwrap_or(Value::Null),
    };
    EnginePacket::Message(packet.encode()).encode()
}

/// Reads the Socket.IO CONNECT answer among handshake frames: the sid (EIO4) or
/// success (EIO3), or the refusal.
fn connect_answer(frame: &str) -> Option<Result<Option<String>, ClientError>> {
    let EnginePacket::Message(m) = EnginePacket::decode(frame).ok()? else {
        return None;
    };
    let packet = SioPacket::decode(&m).ok().filter(|p| p.nsp == "/")?;
    match packet.kind {
        SioKind::Connect => Some(Ok(packet
            .data
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_string))),
        SioKind::ConnectError => Some(Err(ClientError::Refused(packet.data.to_string()))),
        _ => None,
    }
}

/// The Engine.IO open packet.
struct Opened {
    json: Value,
    sid: String,
    /// How often the server pings (EIO4) or wants to be pinged (EIO3).
    ping: Duration,
}

fn opened(frame: &str) -> Result<Opened, ClientError> {
    match EnginePacket::decode(frame) {
        Ok(EnginePacket::Open(json)) => Ok(Opened {
            sid: json["sid"].as_str().unwrap_or_default().to_string(),
            ping: Duration::from_millis(json["pingInterval"].as_u64().unwrap_or(25_000)),
            json,
        }),
        _ => Err(ClientError::Handshake(format!(
            "{frame:?} instead of an open packet"
        ))),
    }
}

async fn handshake(base: &str, opts: ConnectOptions) -> Result<Client, ClientError> {
    let session = Session {
        base: base.to_string(),
        eio: opts.eio,
        query: opts.query.clone().unwrap_or_default(),
        headers: opts.headers.clone(),
    };
    let (tx, inbox) = mpsc::unbounded_channel();
    let (out, out_rx) = mpsc::unbounded_channel();
    let link = |ping| Link {
        eio: opts.eio,
        ping,
        raw: opts.raw_frames,
        heartbeat: opts.heartbeat,
        tx: tx.clone(),
    };
    let send_connect = opts.eio == Eio::V4 && !opts.engine_only;
    // A ping can come before the CONNECT answer (a short ping interval, a slow
    // machine): left unanswered, the server would give up on the connection.
    let must_pong = |frame: &str| opts.heartbeat && opts.eio == Eio::V4 && frame == "2";
    // Frames that came with the handshake (an early event), delivered first.
    let mut early = Vec::new();
    let (open, socket_sid, transport) = match opts.transport {
        Transport::Websocket => {
            let mut ws = session.open_ws(None).await?;
            let open = opened(&ws_text(&mut ws).await?)?;
            if send_connect {
                ws.send(Message::Text(connect_packet(&opts.auth).into()))
                    .await
                    .map_err(|e| ClientError::Handshake(e.to_string()))?;
            }
            let mut sid = None;
            if !opts.engine_only {
                sid = loop {
                    let frame = ws_text(&mut ws).await?;
                    if must_pong(&frame) {
                        ws.send(Message::Text("3".into()))
                            .await
                            .map_err(|e| ClientError::Handshake(e.to_string()))?;
                    }
                    match connect_answer(&frame) {
                        Some(answer) => break answer?,
                        None => early.push(frame),
                    }
                };
            }
            tokio::spawn(run_ws(ws, link(open.ping), out_rx));
            (open, sid, Transport::Websocket)
        }
        Transport::Polling | Transport::PollingThenWebsocket => {
            let http = session.http()?;
            let frames = poll_get(&http, &session.url("polling", None, true), opts.eio).await?;
            let open = opened(frames.first().map(String::as_str).unwrap_or(""))?;
            let url = session.url("polling", Some(&open.sid), true);
            if send_connect {
                poll_post(&http, &url, opts.eio, &[connect_packet(&opts.auth)])
                    .await
                    .map_err(ClientError::Handshake)?;
            }
            let mut pending: VecDeque<String> = frames.into_iter().skip(1).collect();
            let mut sid = None;
            if !opts.engine_only {
                sid = 'found: loop {
                    while let Some(frame) = pending.pop_front() {
                        if must_pong(&frame) {
                            poll_post(&http, &url, opts.eio, &["3".to_string()])
                                .await
                                .map_err(ClientError::Handshake)?;
                        }
                        match connect_answer(&frame) {
                            Some(answer) => break 'found answer?,
                            None => early.push(frame),
                        }
                    }
                    pending.extend(poll_get(&http, &url, opts.eio).await?);
                };
            }
            for frame in pending {
                if must_pong(&frame) {
                    poll_post(&http, &url, opts.eio, &["3".to_string()])
                        .await
                        .map_err(ClientError::Handshake)?;
                }
                early.push(frame);
            }
            if opts.transport == Transport::PollingThenWebsocket {
                let ws = upgrade(&session, &open.sid).await?;
                tokio::spawn(run_ws(ws, link(open.ping), out_rx));
                (open, sid, Transport::Websocket)
            } else {
                tokio::spawn(run_polling(http, url, link(open.ping), out_rx));
                (open, sid, Transport::Polling)
            }
        }
    };
    let held = early
        .iter()
        .flat_map(|frame| messages(opts.raw_frames, frame))
        .collect();
    Ok(Client {
        sid: socket_sid.unwrap_or_else(|| open.sid.clone()),
        open: open.json,
        eio: opts.eio,
        transport,
        out,
        inbox,
        held,
        next_ack: 0,
        closed: false,
    })
}

/// Moves a polling session to a WebSocket: probe, answer, upgrade packet.
async fn upgrade(session: &Session, engine_sid: &str) -> Result<Ws, ClientError> {
    let mut ws = session.open_ws(Some(engine_sid)).await?;
    ws.send(Message::Text("2probe".into()))
        .await
        .map_err(|e| ClientError::Handshake(e.to_string()))?;
    let probe = ws_text(&mut ws).await?;
    if probe != "3probe" {
        return Err(ClientError::Handshake(format!(
            "{probe:?} instead of the probe's answer"
        )));
    }
    ws.send(Message::Text("5".into()))
        .await
        .map_err(|e| ClientError::Handshake(e.to_string()))?;
    Ok(ws)
}

const SERVER_CLOSED: &str = "the server closed the transport";

/// Turns one Engine.IO frame into what the caller sees; pings and noops are None.
fn incoming(frame: &str) -> Option<Incoming> {
    match EnginePacket::decode(frame) {
        Ok(EnginePacket::Message(m)) => match SioPacket::decode(&m) {
            Ok(p) if p.nsp == "/" => match p.kind {
                SioKind::Event => p
                    .event_parts()
                    .map(|(name, args)| Incoming::Event { name, args }),
                SioKind::Ack => Some(Incoming::Ack {
                    id: p.id.unwrap_or_default(),
                    args: p.ack_args(),
                }),
                SioKind::Disconnect => Some(Incoming::Disconnected),
                _ => Some(Incoming::Other(frame.to_string())),
            },
            _ => Some(Incoming::Other(frame.to_string())),
        },
        Ok(EnginePacket::Close) => Some(Incoming::Closed(SERVER_CLOSED.into())),
        Ok(EnginePacket::Ping(_) | EnginePacket::Pong(_) | EnginePacket::Noop) => None,
        _ => Some(Incoming::Other(frame.to_string())),
    }
}

/// What the caller sees of one frame: decoded, or as it came when `raw` (then the
/// server's close packet is followed by [`Incoming::Closed`] as well).
fn messages(raw: bool, frame: &str) -> Vec<Incoming> {
    if !raw {
        return incoming(frame).into_iter().collect();
    }
    let mut out = vec![Incoming::Frame(frame.to_string())];
    if matches!(EnginePacket::decode(frame), Ok(EnginePacket::Close)) {
        out.push(Incoming::Closed(SERVER_CLOSED.into()));
    }
    out
}

/// What the background task of a connection needs, whatever the transport.
struct Link {
    eio: Eio,
    /// The open packet's ping interval.
    ping: Duration,
    raw: bool,
    heartbeat: bool,
    tx: mpsc::UnboundedSender<Incoming>,
}

impl Link {
    /// Hands a frame of the server to the caller; true when it ended the transport.
    fn deliver(&self, frame: &str) -> bool {
        let mut ended = false;
        for message in messages(self.raw, frame) {
            ended |= matches!(message, Incoming::Closed(_));
            let _ = self.tx.send(message);
        }
        ended
    }

    /// A ping of the server this client answers (EIO4 servers ping the client).
    fn must_pong(&self, frame: &str) -> bool {
        self.heartbeat && self.eio == Eio::V4 && frame == "2"
    }

    /// When the client pings (EIO3 clients ping the server); never otherwise.
    fn client_pings(&self) -> tokio::time::Interval {
        let period = if self.heartbeat && self.eio == Eio::V3 {
            self.ping
        } else {
            Duration::from_secs(3600)
        };
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    }

    fn closed(&self, reason: String) {
        let _ = self.tx.send(Incoming::Closed(reason));
    }
}

async fn run_ws(mut ws: Ws, link: Link, mut out: mpsc::UnboundedReceiver<Out>) {
    let mut pings = link.client_pings();
    let reason = loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if link.must_pong(&text) {
                        let _ = ws.send(Message::Text("3".into())).await;
                    }
                    if link.deliver(&text) {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None => break "transport close".to_string(),
                Some(Ok(_)) => {}
                Some(Err(e)) => break format!("transport error: {e}"),
            },
            command = out.recv() => match command {
                Some(Out::Frame(frame)) => {
                    if let Err(e) = ws.send(Message::Text(frame.into())).await {
                        break format!("transport error: {e}");
                    }
                }
                Some(Out::Close) => {
                    let _ = ws.send(Message::Text("41".into())).await;
                    let _ = ws.close(None).await;
                    break "client closed".to_string();
                }
                Some(Out::Abort) | None => break "client aborted".to_string(),
            },
            _ = pings.tick() => {
                let _ = ws.send(Message::Text("2".into())).await;
            }
        }
    };
    link.closed(reason);
}

/// Aborts a spawned task when dropped: the pending GET of a polling connection ends
/// with the connection, not one long-poll later.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_polling(
    http: reqwest::Client,
    url: String,
    link: Link,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    let eio = link.eio;
    // One GET is always pending, in its own task, as a browser's XHR would be.
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<Result<Vec<String>, String>>();
    let _getter = AbortOnDrop({
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            loop {
                let result = poll_get(&http, &url, eio).await.map_err(|e| e.to_string());
                let failed = result.is_err();
                if frames_tx.send(result).is_err() || failed {
                    return;
                }
            }
        })
    });
    let goodbye = ["41".to_string(), "1".to_string()];
    let mut pings = link.client_pings();
    let reason = loop {
        tokio::select! {
            batch = frames.recv() => match batch {
                Some(Ok(batch)) => {
                    let mut ended = false;
                    for frame in batch {
                        if link.must_pong(&frame) {
                            let _ = poll_post(&http, &url, eio, &["3".to_string()]).await;
                        }
                        ended |= link.deliver(&frame);
                    }
                    if ended {
                        return;
                    }
                }
                Some(Err(e)) => break format!("transport error: {e}"),
                None => break "transport close".to_string(),
            },
            command = out.recv() => match command {
                Some(Out::Frame(frame)) => {
                    // Frames queued together go in one POST, as a browser batches them;
                    // a close queued behind them waits for them.
                    let mut batch = vec![frame];
                    let mut then = None;
                    while let Ok(next) = out.try_recv() {
                        match next {
                            Out::Frame(more) => batch.push(more),
                            other => {
                                then = Some(other);
                                break;
                            }
                        }
                    }
                    if let Err(e) = poll_post(&http, &url, eio, &batch).await {
                        break format!("transport error: {e}");
                    }
                    match then {
                        Some(Out::Close) => {
                            let _ = poll_post(&http, &url, eio, &goodbye).await;
                            break "client closed".to_string();
                        }
                        Some(Out::Abort) => break "client aborted".to_string(),
                        _ => {}
                    }
                }
                Some(Out::Close) => {
                    let _ = poll_post(&http, &url, eio, &goodbye).await;
                    break "client closed".to_string();
                }
                Some(Out::Abort) | None => break "client aborted".to_string(),
            },
            _ = pings.tick() => {
                let _ = poll_post(&http, &url, eio, &["2".to_string()]).await;
            }
        }
    };
    link.closed(reason);
}
