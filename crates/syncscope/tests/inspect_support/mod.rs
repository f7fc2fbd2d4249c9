//! Helpers of the inspect_* tests: a server on a free port, a raw Socket.IO client
//! (Engine.IO 4 frames over a WebSocket) and a control API client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use syncscope::inspect::types::{Body, Record, ServerMessage};
use syncscope::{Config, DbLocation, Running};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

pub async fn server() -> Running {
    server_with(Config::default()).await
}

pub async fn server_with(config: Config) -> Running {
    syncscope::start(Config {
        port: 0,
        db: DbLocation::Memory,
        ..config
    })
    .await
    .expect("server starts")
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Socket.IO client speaking raw frames, as socket.io-client 4 does over WebSocket.
pub struct Sio {
    ws: Ws,
    pub sid: String,
    next_ack: u64,
    /// Events received while waiting for something else.
    pub events: Vec<(String, Vec<Value>)>,
}

impl Sio {
    pub async fn connect(addr: SocketAddr) -> Sio {
        Sio::connect_with(addr, None).await
    }

    pub async fn connect_with(addr: SocketAddr, auth: Option<Value>) -> Sio {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&app=test");
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("user-agent", "inspect-test/1".parse().unwrap());
        // A page of the developer's own dev server on another local port, as a browser
        // would send it.
        request
            .headers_mut()
            .insert("origin", "http://localhost:3000".parse().unwrap());
        Sio::handshake(request, auth).await
    }

    /// Connects with a handshake request of the caller's (its own Origin, Host…).
    pub async fn over(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> Sio {
        Sio::handshake(request, None).await
    }

    async fn handshake(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
        auth: Option<Value>,
    ) -> Sio {
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let open = next_text(&mut ws).await;
        assert!(open.starts_with('0'), "open packet, got {open}");
        let connect = match auth {
            Some(auth) => format!("40{auth}"),
            None => "40".to_string(),
        };
        ws.send(Message::Text(connect.into())).await.unwrap();
        let mut sio = Sio {
            ws,
            sid: String::new(),
            next_ack: 0,
            events: vec![],
        };
        loop {
            let frame = sio.frame().await;
            if let Some(body) = frame.strip_prefix("40") {
                let v: Value = serde_json::from_str(body).unwrap();
                sio.sid = v["sid"].as_str().unwrap().to_string();
                return sio;
            }
        }
    }

    async fn frame(&mut self) -> String {
        loop {
            let text = tokio::time::timeout(WAIT, next_text(&mut self.ws))
                .await
                .expect("a frame within 5 s");
            if text == "2" {
                self.ws.send(Message::Text("3".into())).await.unwrap();
                continue;
            }
            return text;
        }
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// Emits with an ack id and returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, arg: Value) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_raw(&format!("42{id}{}", json!([event, arg])))
            .await;
        id
    }

    pub async fn emit(&mut self, event: &str, arg: Value) {
        self.send_raw(&format!("42{}", json!([event, arg]))).await;
    }

    /// Waits for the ack `id`, keeping the events that arrive meanwhile.
    pub async fn ack(&mut self, id: u64) -> Vec<Value> {
        loop {
            let frame = self.frame().await;
            if let Some(rest) = frame.strip_prefix("43") {
                let start = rest.find('[').unwrap();
                if rest[..start].parse::<u64>().unwrap() == id {
                    return serde_json::from_str(&rest[start..]).unwrap();
                }
            } else if let Some(rest) = frame.strip_prefix("42") {
                self.events.push(parse_event(rest));
            }
        }
    }

    pub async fn request(&mut self, event: &str, arg: Value) -> Vec<Value> {
        let id = self.emit_with_ack(event, arg).await;
        self.ack(id).await
    }

    /// Counts the acks that arrive until nothing comes for half a second.
    pub async fn count_acks_until_quiet(&mut self) -> usize {
        let mut acks = 0;
        loop {
            let next = tokio::time::timeout(Duration::from_millis(500), next_text(&mut self.ws));
            match next.await {
                Err(_) => return acks,
                Ok(text) if text.starts_with("43") => acks += 1,
                Ok(text) if text == "2" => {
                    self.ws.send(Message::Text("3".into())).await.unwrap();
                }
                Ok(_) => {}
            }
        }
    }

    /// The next event (name, args), from those kept or from the wire.
    pub async fn next_event(&mut self) -> (String, Vec<Value>) {
        if !self.events.is_empty() {
            return self.events.remove(0);
        }
        loop {
            let frame = self.frame().await;
            if let Some(rest) = frame.strip_prefix("42") {
                return parse_event(rest);
            }
        }
    }

    /// Whether the server closes the connection (or sends a DISCONNECT) within 5 s.
    pub async fn is_cut_off(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "41" || t.as_str() == "1" => {
                    return true
                }
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::Text("3".into())).await;
                }
                Ok(_) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.send(Message::Text("41".into())).await;
        let _ = self.ws.close(None).await;
    }
}

fn parse_event(rest: &str) -> (String, Vec<Value>) {
    let start = rest.find('[').unwrap();
    let mut v: Vec<Value> = serde_json::from_str(&rest[start..]).unwrap();
    let name = v.remove(0).as_str().unwrap().to_string();
    (name, v)
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// The control API of a running server.
pub struct Control {
    pub addr: SocketAddr,
    pub token: String,
    pub http: reqwest::Client,
}

impl Control {
    pub fn of(running: &Running) -> Control {
        Control {
            addr: running.local_addr(),
            token: running.token().to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/_syncscope{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// The kinds of a recorded session's records, in order.
    pub async fn session_kinds(&self, session: i64) -> Vec<String> {
        let page = self.get(&format!("/events?session={session}")).await;
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn command(&self, command: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url("/command"))
            .bearer_auth(&self.token)
            .json(&command)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// Opens the control WebSocket and watches with `filter`.
    pub async fn watch(&self, filter: Value) -> Watcher {
        let url = format!("ws://{}/_syncscope/ws?token={}", self.addr, self.token);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = next_text(&mut ws).await;
        assert!(hello.contains("\"hello\""), "hello first, got {hello}");
        let watch = json!({ "type": "watch", "filter": filter }).to_string();
        ws.send(Message::Text(watch.into())).await.unwrap();
        let mut watcher = Watcher {
            ws,
            records: vec![],
            batches: vec![],
        };
        loop {
            if let ServerMessage::Watching { .. } = watcher.message().await {
                return watcher;
            }
        }
    }
}

pub struct Watcher {
    pub ws: Ws,
    pub records: Vec<Record>,
    /// The server's sending time (Unix µs) and size of every batch.
    pub batches: Vec<(u64, usize)>,
}

impl Watcher {
    pub async fn message(&mut self) -> ServerMessage {
        let text = tokio::time::timeout(WAIT, next_text(&mut self.ws))
            .await
            .expect("a control message within 5 s");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Reads batches until `done` holds for the records received so far.
    pub async fn until(&mut self, done: impl Fn(&[Record]) -> bool) -> &[Record] {
        while !done(&self.records) {
            if let ServerMessage::Batch { records, at_us, .. } = self.message().await {
                self.batches.push((at_us, records.len()));
                self.records.extend(records);
            }
        }
        &self.records
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
}

pub fn kinds(records: &[Record]) -> Vec<&'static str> {
    records.iter().map(|r| r.body.kind()).collect()
}

pub fn is_disconnect_of(sid: &str) -> impl Fn(&Record) -> bool + '_ {
    move |r| matches!(r.body, Body::Disconnect { .. }) && r.socket.as_deref() == Some(sid)
}
