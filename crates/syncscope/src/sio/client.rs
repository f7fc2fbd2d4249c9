//! A Socket.IO client that speaks like the npm ones: Engine.IO 3 or 4, over WebSocket,
//! HTTP long-polling, or polling upgraded to WebSocket.
//!
//! Replay must talk to the server the way the recorded app did (a socket.io-client 2
//! app polls with EIO3 before it upgrades), and the tests need the same thing with
//! access to raw frames. One background task owns the connection: it answers pings,
//! splits polling payloads and turns frames into [`Incoming`] messages, so the caller
//! only sees Socket.IO events, acks and the end of the connection, in arrival order.

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
    /// Extra HTTP headers of the handshake (user-agent, origin…).
    pub headers: Vec<(String, String)>,
    /// Extra query parameters, `a=1&b=2`, after `EIO` and `transport`.
    pub query: Option<String>,
    /// How long to wait for the handshake.
    pub timeout: Duration,
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
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the server answered the handshake with {0}")]
    Handshake(String),
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

pub struct Client {
    /// The socket id the server gave (EIO4), or the Engine.IO session id (EIO3, where
    /// socketioxide uses it as the socket id).
    pub sid: String,
    pub eio: Eio,
    /// The transport in use after the handshake.
    pub transport: Transport,
    out: mpsc::UnboundedSender<Out>,
    inbox: mpsc::UnboundedReceiver<Incoming>,
    /// Messages taken from the inbox while waiting for something else.
    held: VecDeque<Incoming>,
    next_ack: u64,
    closed: bool,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
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
    /// connection is over and everything was read.
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
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                value.parse(),
            ) {
                request.headers_mut().insert(name, value);
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
                Err(ClientError::Refused(format!(
                    "HTTP {} {body}",
                    response.status()
                )))
            }
            Err(e) => Err(ClientError::Connect {
                url,
                message: e.to_string(),
            }),
        }
    }

    fn http(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                value.parse(),
            ) {
                headers.insert(name, value);
            }
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap_or_default()
    }
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
        return Err(ClientError::Refused(format!("HTTP {status} {body}")));
    }
    decode_payload(eio, &body).map_err(|e| ClientError::Handshake(e.to_string()))
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
    let packet = SioPacket::decode(&m).ok()?;
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

fn open_sid(frame: &str) -> Result<(String, Duration), ClientError> {
    match EnginePacket::decode(frame) {
        Ok(EnginePacket::Open(v)) => {
            let sid = v["sid"].as_str().unwrap_or_default().to_string();
            let ping = Duration::from_millis(v["pingInterval"].as_u64().unwrap_or(25_000));
            Ok((sid, ping))
        }
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
    let mut early = Vec::new();
    let (sid, task, transport) = match opts.transport {
        Transport::Websocket => {
            let mut ws = session.open_ws(None).await?;
            let (engine_sid, ping) = open_sid(&ws_text(&mut ws).await?)?;
            if opts.eio == Eio::V4 {
                ws.send(Message::Text(connect_packet(&opts.auth).into()))
                    .await
                    .map_err(|e| ClientError::Handshake(e.to_string()))?;
            }
            let sid = loop {
                let frame = ws_text(&mut ws).await?;
                match connect_answer(&frame) {
                    Some(answer) => break answer?,
                    None => early.push(frame),
                }
            };
            let sid = sid.unwrap_or(engine_sid);
            let task = tokio::spawn(run_ws(ws, opts.eio, ping, tx.clone(), out_rx));
            (sid, task, Transport::Websocket)
        }
        Transport::Polling | Transport::PollingThenWebsocket => {
            let http = session.http();
            let frames = poll_get(&http, &session.url("polling", None, true), opts.eio).await?;
            let (engine_sid, ping) = open_sid(frames.first().map(String::as_str).unwrap_or(""))?;
            let url = session.url("polling", Some(&engine_sid), true);
            if opts.eio == Eio::V4 {
                poll_post(&http, &url, opts.eio, &[connect_packet(&opts.auth)])
                    .await
                    .map_err(ClientError::Handshake)?;
            }
            let mut pending: VecDeque<String> = frames.into_iter().skip(1).collect();
            let sid = 'found: loop {
                while let Some(frame) = pending.pop_front() {
                    match connect_answer(&frame) {
                        Some(answer) => break 'found answer?,
                        None => early.push(frame),
                    }
                }
                pending.extend(poll_get(&http, &url, opts.eio).await?);
            };
            early.extend(pending);
            let sid = sid.unwrap_or_else(|| engine_sid.clone());
            if opts.transport == Transport::PollingThenWebsocket {
                let mut ws = session.open_ws(Some(&engine_sid)).await?;
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
                let task = tokio::spawn(run_ws(ws, opts.eio, ping, tx.clone(), out_rx));
                (sid, task, Transport::Websocket)
            } else {
                let task = tokio::spawn(run_polling(http, url, opts.eio, ping, tx.clone(), out_rx));
                (sid, task, Transport::Polling)
            }
        }
    };
    // Frames that came with the handshake (an early event) are delivered first.
    let mut held = VecDeque::new();
    for frame in early {
        if let Some(message) = incoming(&frame) {
            held.push_back(message);
        }
    }
    Ok(Client {
        sid,
        eio: opts.eio,
        transport,
        out,
        inbox,
        held,
        next_ack: 0,
        closed: false,
        task,
    })
}

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
        Ok(EnginePacket::Close) => Some(Incoming::Closed("the server closed the transport".into())),
        Ok(EnginePacket::Ping(_) | EnginePacket::Pong(_) | EnginePacket::Noop) => None,
        _ => Some(Incoming::Other(frame.to_string())),
    }
}

/// EIO3 clients ping the server; EIO4 servers ping the client, which answers.
fn ping_every(eio: Eio, interval: Duration) -> tokio::time::Interval {
    let period = if eio == Eio::V3 {
        interval
    } else {
        Duration::from_secs(3600)
    };
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

async fn run_ws(
    mut ws: Ws,
    eio: Eio,
    ping: Duration,
    tx: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    let mut pings = ping_every(eio, ping);
    let reason = loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if eio == Eio::V4 && text.as_str() == "2" {
                        let _ = ws.send(Message::Text("3".into())).await;
                        continue;
                    }
                    if let Some(message) = incoming(&text) {
                        let closed = matches!(message, Incoming::Closed(_));
                        let _ = tx.send(message);
                        if closed {
                            return;
                        }
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
    let _ = tx.send(Incoming::Closed(reason));
}

async fn run_polling(
    http: reqwest::Client,
    url: String,
    eio: Eio,
    ping: Duration,
    tx: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    // One GET is always pending, in its own task, as a browser's XHR would be.
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<Result<Vec<String>, String>>();
    let getter = {
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
    };
    let mut pings = ping_every(eio, ping);
    let reason = loop {
        tokio::select! {
            batch = frames.recv() => match batch {
                Some(Ok(batch)) => {
                    let mut ended = false;
                    for frame in batch {
                        if eio == Eio::V4 && frame == "2" {
                            let _ = poll_post(&http, &url, eio, &["3".to_string()]).await;
                            continue;
                        }
                        if let Some(message) = incoming(&frame) {
                            ended |= matches!(message, Incoming::Closed(_));
                            let _ = tx.send(message);
                        }
                    }
                    if ended {
                        getter.abort();
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
                            let _ = poll_post(&http, &url, eio, &["41".to_string(), "1".to_string()]).await;
                            break "client closed".to_string();
                        }
                        Some(Out::Abort) => break "client aborted".to_string(),
                        _ => {}
                    }
                }
                Some(Out::Close) => {
                    let _ = poll_post(&http, &url, eio, &["41".to_string(), "1".to_string()]).await;
                    break "client closed".to_string();
                }
                Some(Out::Abort) | None => break "client aborted".to_string(),
            },
            _ = pings.tick() => {
                let _ = poll_post(&http, &url, eio, &["2".to_string()]).await;
            }
        }
    };
    getter.abort();
    let _ = tx.send(Incoming::Closed(reason));
}
