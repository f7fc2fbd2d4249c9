//! Shared test support: the real server on port 0, and a raw Socket.IO client that
//! speaks frames over tokio-tungstenite (or HTTP long-polling, through reqwest) so the
//! tests can assert the wire itself.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use syncscope::{Config, DbLocation, Running};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

pub async fn start_memory() -> Running {
    start(Config {
        port: 0,
        db: DbLocation::Memory,
        ..Config::default()
    })
    .await
}

pub async fn start(config: Config) -> Running {
    syncscope::start(config).await.expect("server starts")
}

/// What one read of the transport gave.
enum Received {
    Text(String),
    /// A non-text frame (binary, pong), skipped.
    Other,
    Closed,
    /// Nothing within WAIT.
    Nothing,
}

/// Which Engine.IO revision the raw client speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Eio {
    V3,
    V4,
}

/// How the raw client carries Engine.IO packets.
enum Transport {
    WebSocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Polling(Polling),
}

/// HTTP long-polling: a task keeps one GET open and hands over the packets it brings;
/// each packet sent is one POST, awaited (Engine.IO refuses overlapping POSTs).
struct Polling {
    http: reqwest::Client,
    /// The polling url with the session id.
    url: String,
    eio: Eio,
    /// Packets the GETs brought, in order; None once the server closed the session.
    incoming: tokio::sync::mpsc::UnboundedReceiver<Option<String>>,
    poller: tokio::task::JoinHandle<()>,
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// The packets of one polling payload: separated by \x1e in Engine.IO 4, each prefixed
/// with its length and a colon in Engine.IO 3.
fn payload_packets(eio: Eio, body: &str) -> Vec<String> {
    match eio {
        Eio::V4 => body.split('\x1e').map(str::to_string).collect(),
        Eio::V3 => {
            let mut packets = Vec::new();
            let mut rest = body;
            while let Some((len, tail)) = rest.split_once(':') {
                let Ok(len) = len.parse::<usize>() else { break };
                // The length counts characters (JavaScript's string length).
                let end = tail.char_indices().nth(len).map_or(tail.len(), |(i, _)| i);
                packets.push(tail[..end].to_string());
                rest = &tail[end..];
            }
            packets
        }
    }
}

pub struct Client {
    transport: Transport,
    next_ack: u64,
    /// Events received while waiting for something else, oldest first.
    events: VecDeque<(String, Vec<Value>)>,
    pub sid: String,
    pub closed: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_eio(addr, Eio::V4).await
    }

    pub async fn connect_eio(addr: SocketAddr, eio: Eio) -> Client {
        let n = if eio == Eio::V4 { 4 } else { 3 };
        let url = format!("ws://{addr}/socket.io/?EIO={n}&transport=websocket");
        let (ws, _) = connect_async(url).await.expect("websocket connects");
        Client::handshake(Transport::WebSocket(Box::new(ws)), eio).await
    }

    /// A client that stays on HTTP long-polling (never upgrades).
    pub async fn connect_polling(addr: SocketAddr, eio: Eio) -> Client {
        let n = if eio == Eio::V4 { 4 } else { 3 };
        let base = format!("http://{addr}/socket.io/?EIO={n}&transport=polling");
        let http = reqwest::Client::new();
        let body = http
            .get(&base)
            .send()
            .await
            .expect("polling handshake")
            .text()
            .await
            .unwrap();
        let packets = payload_packets(eio, &body);
        let open: Value = serde_json::from_str(
            packets[0]
                .strip_prefix('0')
                .unwrap_or_else(|| panic!("engine.io open packet, got {body}")),
        )
        .unwrap();
        let url = format!("{base}&sid={}", open["sid"].as_str().unwrap());
        let (tx, incoming) = tokio::sync::mpsc::unbounded_channel();
        for packet in packets {
            let _ = tx.send(Some(packet));
        }
        let poller = tokio::spawn({
            let (http, url) = (http.clone(), url.clone());
            async move {
                loop {
                    let body = match http.get(&url).send().await {
                        Ok(res) if res.status().is_success() => res.text().await.ok(),
                        _ => None,
                    };
                    let Some(body) = body else {
                        let _ = tx.send(None);
                        return;
                    };
                    for packet in payload_packets(eio, &body) {
                        let close = packet == "1";
                        if tx.send((!close).then_some(packet)).is_err() || close {
                            return;
                        }
                    }
                }
            }
        });
        let polling = Polling {
            http,
            url,
            eio,
            incoming,
            poller,
        };
        Client::handshake(Transport::Polling(polling), eio).await
    }

    async fn handshake(transport: Transport, eio: Eio) -> Client {
        let mut client = Client {
            transport,
            next_ack: 1,
            events: VecDeque::new(),
            sid: String::new(),
            closed: false,
        };
        let open = client.frame().await.expect("open packet");
        assert!(open.starts_with('0'), "engine.io open packet, got {open}");
        if eio == Eio::V4 {
            client.send_raw("40").await;
        }
        let connect = client.frame().await.expect("socket.io connect packet");
        assert!(
            connect.starts_with("40"),
            "socket.io connect, got {connect}"
        );
        if eio == Eio::V4 {
            let body: Value = serde_json::from_str(&connect[2..]).unwrap();
            client.sid = body["sid"].as_str().unwrap().to_string();
        }
        client
    }

    pub async fn send_raw(&mut self, frame: &str) {
        match &mut self.transport {
            Transport::WebSocket(ws) => ws
                .send(Message::Text(frame.to_string().into()))
                .await
                .expect("frame sent"),
            Transport::Polling(p) => {
                let body = match p.eio {
                    Eio::V4 => frame.to_string(),
                    Eio::V3 => format!("{}:{frame}", frame.chars().count()),
                };
                let res = p.http.post(&p.url).body(body).send().await;
                // A POST after the server closed the session fails; so would a frame
                // sent on a closed WebSocket, which the test then sees as a close.
                if !res.is_ok_and(|r| r.status().is_success()) {
                    self.closed = true;
                }
            }
        }
    }

    /// The next Engine.IO packet as text, however it travels.
    async fn next_text(&mut self) -> Received {
        match &mut self.transport {
            Transport::WebSocket(ws) => match tokio::time::timeout(WAIT, ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => Received::Text(text.to_string()),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => Received::Closed,
                Ok(Some(Ok(_))) => Received::Other,
                Err(_) => Received::Nothing,
            },
            Transport::Polling(p) => match tokio::time::timeout(WAIT, p.incoming.recv()).await {
                Ok(Some(Some(text))) => Received::Text(text),
                Ok(Some(None)) | Ok(None) => Received::Closed,
                Err(_) => Received::Nothing,
            },
        }
    }

    /// The next Engine.IO text frame that is not a ping (pings are answered).
    async fn frame(&mut self) -> Option<String> {
        loop {
            match self.next_text().await {
                Received::Text(text) => {
                    if text == "2" {
                        self.send_raw("3").await;
                        continue;
                    }
                    // A namespace DISCONNECT ends the socket as surely as a close;
                    // real clients then close the transport themselves.
                    if text == "41" {
                        self.closed = true;
                        return None;
                    }
                    return Some(text);
                }
                Received::Closed => {
                    self.closed = true;
                    return None;
                }
                Received::Other => continue,
                Received::Nothing => return None,
            }
        }
    }

    /// Emits an event with an ack id and returns the ack's arguments.
    pub async fn request(&mut self, event: &str, arg: Value) -> Vec<Value> {
        let id = self.emit_with_ack(event, arg).await;
        self.ack(id).await
    }

    pub async fn emit_with_ack(&mut self, event: &str, arg: Value) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let frame = format!("42{id}{}", json!([event, arg]));
        self.send_raw(&frame).await;
        id
    }

    pub async fn emit(&mut self, event: &str, arg: Value) {
        let frame = format!("42{}", json!([event, arg]));
        self.send_raw(&frame).await;
    }

    /// Waits for the ack `id`, keeping any event that arrives meanwhile.
    pub async fn ack(&mut self, id: u64) -> Vec<Value> {
        self.try_ack(id)
            .await
            .unwrap_or_else(|| panic!("no ack {id} came"))
    }

    /// The ack `id`, or None when the connection closes or nothing comes in time.
    pub async fn try_ack(&mut self, id: u64) -> Option<Vec<Value>> {
        loop {
            let frame = self.frame().await?;
            if let Some(rest) = frame.strip_prefix("43") {
                let digits = rest.find('[').unwrap_or(rest.len());
                match rest[..digits].parse::<u64>() {
                    Ok(got) if got == id => return serde_json::from_str(&rest[digits..]).ok(),
                    _ => panic!("expected ack {id}, got {frame}"),
                }
            }
            self.keep_event(&frame);
        }
    }

    /// Every ack that arrives, by id, in whatever order, until `count` came or nothing
    /// more arrives in time.
    pub async fn collect_acks(
        &mut self,
        count: usize,
    ) -> std::collections::HashMap<u64, Vec<Value>> {
        let mut acks = std::collections::HashMap::new();
        while acks.len() < count {
            let Some(frame) = self.frame().await else {
                break;
            };
            if let Some(rest) = frame.strip_prefix("43") {
                let digits = rest.find('[').unwrap_or(rest.len());
                if let (Ok(id), Ok(args)) = (
                    rest[..digits].parse(),
                    serde_json::from_str(&rest[digits..]),
                ) {
                    acks.insert(id, args);
                }
            } else {
                self.keep_event(&frame);
            }
        }
        acks
    }

    fn keep_event(&mut self, frame: &str) {
        if let Some(body) = frame.strip_prefix("42") {
            let mut args: Vec<Value> = serde_json::from_str(body).unwrap();
            let name = args.remove(0).as_str().unwrap().to_string();
            self.events.push_back((name, args));
        }
    }

    /// The events that arrived while waiting for acks and were not read yet, oldest
    /// first: a history recorder places them before the ack it was waiting for.
    pub fn take_events(&mut self) -> Vec<(String, Vec<Value>)> {
        self.events.drain(..).collect()
    }

    /// Hangs up (a WebSocket close), whatever is still in flight.
    pub async fn close(&mut self) {
        match &mut self.transport {
            Transport::WebSocket(ws) => {
                let _ = WebSocketStream::close(&mut **ws, None).await;
            }
            Transport::Polling(_) => {
                // Engine.IO's close packet; the poller ends with the session.
                self.send_raw("1").await;
            }
        }
        self.closed = true;
    }

    /// The next event pushed to this client, or None after `wait`.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<(String, Vec<Value>)> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(left, self.frame())
                .await
                .ok()
                .flatten()?;
            self.keep_event(&frame);
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
        }
    }

    pub async fn next_event(&mut self) -> (String, Vec<Value>) {
        self.next_event_within(WAIT)
            .await
            .expect("an event was pushed")
    }

    /// True when nothing is pushed within a short while and the connection is still
    /// open: a closed connection hears nothing too, and must not pass for silence.
    pub async fn hears_nothing(&mut self) -> bool {
        let heard = self.next_event_within(Duration::from_millis(300)).await;
        assert!(
            !self.closed,
            "the connection closed while the test listened for silence"
        );
        heard.is_none()
    }

    /// Waits for the server to close the connection.
    pub async fn is_closed_by_server(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.closed && tokio::time::Instant::now() < deadline {
            self.frame().await;
        }
        self.closed
    }
}

/// Asserts a successful native ack and returns its result.
pub fn ok(ack: &[Value]) -> &Value {
    assert!(ack[0].is_null(), "expected success, got error {}", ack[0]);
    &ack[1]
}

/// Asserts a failed ack and returns the error object.
pub fn err(ack: &[Value]) -> &Value {
    assert!(
        !ack[0].is_null(),
        "expected an error, got success {:?}",
        ack.get(1)
    );
    assert_eq!(ack.len(), 1, "an error ack has one argument: {ack:?}");
    &ack[0]
}
