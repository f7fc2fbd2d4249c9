//! Shared test support: the real server on port 0, and a raw Socket.IO client that
//! speaks frames over tokio-tungstenite so the tests can assert the wire itself.
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

/// Which Engine.IO revision the raw client speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Eio {
    V3,
    V4,
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
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
        let mut client = Client {
            ws,
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
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("frame sent");
    }

    /// The next Engine.IO text frame that is not a ping (pings are answered).
    async fn frame(&mut self) -> Option<String> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let text = text.to_string();
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
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                    self.closed = true;
                    return None;
                }
                Ok(Some(Ok(_))) => continue,
                Err(_) => return None,
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
        let _ = self.ws.close(None).await;
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
