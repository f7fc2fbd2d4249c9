//! Helpers of the inspect_* tests: a server on a free port, the library's Socket.IO
//! client as these tests use it, and a control API client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use syncscope::inspect::types::{Body, Record, ServerMessage};
use syncscope::sio::{ConnectOptions, Incoming};
use syncscope::{Config, DbLocation, Running};
use tokio::net::TcpStream;
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

/// The library's Socket.IO client as the inspect tests use it: EIO4 over a WebSocket,
/// opened from a page of the developer's dev server, and patient (a panic after 5 s of
/// silence names what did not come).
pub struct Sio {
    inner: syncscope::sio::Client,
    pub sid: String,
    /// Events received while waiting for something else.
    pub events: Vec<(String, Vec<Value>)>,
}

impl Sio {
    pub async fn connect(addr: SocketAddr) -> Sio {
        Sio::connect_with(addr, None).await
    }

    pub async fn connect_with(addr: SocketAddr, auth: Option<Value>) -> Sio {
        // A page of the developer's own dev server on another local port, as a browser
        // would send it.
        let headers = [
            ("user-agent", "inspect-test/1"),
            ("origin", "http://localhost:3000"),
        ];
        Sio::open(addr, auth, &headers, Some("app=test")).await
    }

    /// Connects with handshake headers of the caller's (its own Origin, Host…) only.
    pub async fn with_headers(addr: SocketAddr, headers: &[(&str, &str)]) -> Sio {
        Sio::open(addr, None, headers, None).await
    }

    async fn open(
        addr: SocketAddr,
        auth: Option<Value>,
        headers: &[(&str, &str)],
        query: Option<&str>,
    ) -> Sio {
        let options = ConnectOptions {
            auth,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            query: query.map(str::to_string),
            ..ConnectOptions::default()
        };
        let inner = syncscope::sio::Client::connect_with(&addr.to_string(), options)
            .await
            .unwrap_or_else(|e| panic!("the test client cannot connect: {e}"));
        Sio {
            sid: inner.sid.clone(),
            inner,
            events: vec![],
        }
    }

    /// The next message within 5 s, or a panic.
    async fn next(&mut self) -> Incoming {
        match self.inner.next_within(WAIT).await {
            Some(Incoming::Closed(why)) => panic!("connection ended: {why}"),
            Some(message) => message,
            None => panic!("nothing came within 5 s"),
        }
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.inner.send_raw(frame);
    }

    /// Emits with an ack id and returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, arg: Value) -> u64 {
        self.inner.emit_with_ack(event, &[arg])
    }

    pub async fn emit(&mut self, event: &str, arg: Value) {
        self.inner.emit(event, &[arg]);
    }

    /// Waits for the ack `id`, keeping the events that arrive meanwhile.
    pub async fn ack(&mut self, id: u64) -> Vec<Value> {
        loop {
            match self.next().await {
                Incoming::Ack { id: got, args } if got == id => return args,
                Incoming::Event { name, args } => self.events.push((name, args)),
                _ => {}
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
            // Quiet means a pause no busy 2-core machine makes mid-burst.
            match self.inner.next_within(Duration::from_secs(3)).await {
                None => return acks,
                Some(Incoming::Ack { .. }) => acks += 1,
                Some(_) => {}
            }
        }
    }

    /// The next event (name, args), from those kept or from the wire.
    pub async fn next_event(&mut self) -> (String, Vec<Value>) {
        if !self.events.is_empty() {
            return self.events.remove(0);
        }
        loop {
            if let Incoming::Event { name, args } = self.next().await {
                return (name, args);
            }
        }
    }

    /// Whether the server closes the connection (or sends a DISCONNECT) within 5 s.
    pub async fn is_cut_off(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.inner.next_within(left).await {
                Some(Incoming::Disconnected | Incoming::Closed(_)) => return true,
                Some(_) => {}
                None => return self.inner.is_closed(),
            }
        }
    }

    pub async fn close(self) {
        self.inner.close();
    }
}

/// The next text message of the control WebSocket (JSON, not Socket.IO).
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
