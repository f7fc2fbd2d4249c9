//! Shared test support: the real server on port 0, and the tests' view of the
//! library's Socket.IO client (`syncscope::sio::Client`, the only one there is): one
//! request argument, acks awaited in order, pushes kept while waiting, and a panic
//! naming what did not come.
#![allow(dead_code)]

pub mod binary;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
pub use syncscope::sio::Eio;
use syncscope::sio::{ConnectOptions, Incoming, Transport};
use syncscope::{Config, DbLocation, Running};

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

/// What one read gave, once pings, frames of other namespaces and the end of the
/// connection are out of the way.
enum Heard {
    Event(String, Vec<Value>),
    Ack(u64, Vec<Value>),
}

pub struct Client {
    inner: syncscope::sio::Client,
    /// Events received while waiting for something else, oldest first.
    events: VecDeque<(String, Vec<Value>)>,
    pub sid: String,
    /// The server ended the socket (a DISCONNECT) or the transport ended.
    pub closed: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_eio(addr, Eio::V4).await
    }

    pub async fn connect_eio(addr: SocketAddr, eio: Eio) -> Client {
        Client::open(addr, eio, Transport::Websocket).await
    }

    /// A client that stays on HTTP long-polling (never upgrades).
    pub async fn connect_polling(addr: SocketAddr, eio: Eio) -> Client {
        Client::open(addr, eio, Transport::Polling).await
    }

    async fn open(addr: SocketAddr, eio: Eio, transport: Transport) -> Client {
        let options = ConnectOptions {
            eio,
            transport,
            ..ConnectOptions::default()
        };
        let inner = syncscope::sio::Client::connect_with(&addr.to_string(), options)
            .await
            .unwrap_or_else(|e| panic!("{eio:?} over {transport:?}: {e}"));
        Client {
            sid: inner.sid.clone(),
            inner,
            events: VecDeque::new(),
            closed: false,
        }
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.inner.send_raw(frame);
    }

    /// The next event or ack within `wait`; None on silence or once the connection is
    /// over. A namespace DISCONNECT ends the socket as surely as a close.
    async fn next(&mut self, wait: Duration) -> Option<Heard> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.inner.next_within(left).await {
                Some(Incoming::Event { name, args }) => return Some(Heard::Event(name, args)),
                Some(Incoming::Ack { id, args }) => return Some(Heard::Ack(id, args)),
                Some(Incoming::Disconnected | Incoming::Closed(_)) => {
                    self.closed = true;
                    return None;
                }
                Some(Incoming::Other(_) | Incoming::Frame(_)) => {}
                None => {
                    self.closed |= self.inner.is_closed();
                    return None;
                }
            }
        }
    }

    /// Emits an event with an ack id and returns the ack's arguments.
    pub async fn request(&mut self, event: &str, arg: Value) -> Vec<Value> {
        let id = self.emit_with_ack(event, arg).await;
        self.ack(id).await
    }

    pub async fn emit_with_ack(&mut self, event: &str, arg: Value) -> u64 {
        self.inner.emit_with_ack(event, &[arg])
    }

    pub async fn emit(&mut self, event: &str, arg: Value) {
        self.inner.emit(event, &[arg]);
    }

    /// Waits for the ack `id`, keeping any event that arrives meanwhile.
    pub async fn ack(&mut self, id: u64) -> Vec<Value> {
        self.try_ack(id)
            .await
            .unwrap_or_else(|| panic!("no ack {id} came"))
    }

    /// The ack `id`, or None when the connection closes or nothing comes in time.
    /// Acks come in request order: another ack first is a failure.
    pub async fn try_ack(&mut self, id: u64) -> Option<Vec<Value>> {
        loop {
            match self.next(WAIT).await? {
                Heard::Ack(got, args) if got == id => return Some(args),
                Heard::Ack(got, args) => panic!("expected ack {id}, got ack {got} {args:?}"),
                Heard::Event(name, args) => self.events.push_back((name, args)),
            }
        }
    }

    /// Every ack that arrives, by id, in whatever order, until `count` came or nothing
    /// more arrives in time.
    pub async fn collect_acks(&mut self, count: usize) -> HashMap<u64, Vec<Value>> {
        let mut acks = HashMap::new();
        while acks.len() < count {
            match self.next(WAIT).await {
                Some(Heard::Ack(id, args)) => {
                    acks.insert(id, args);
                }
                Some(Heard::Event(name, args)) => self.events.push_back((name, args)),
                None => break,
            }
        }
        acks
    }

    /// The events that arrived while waiting for acks and were not read yet, oldest
    /// first: a history recorder places them before the ack it was waiting for.
    pub fn take_events(&mut self) -> Vec<(String, Vec<Value>)> {
        self.events.drain(..).collect()
    }

    /// Hangs up, whatever is still in flight, and waits until the transport is gone.
    pub async fn close(&mut self) {
        self.inner.close();
        while !self.closed {
            match self.next(WAIT).await {
                Some(Heard::Event(name, args)) => self.events.push_back((name, args)),
                Some(Heard::Ack(..)) => {}
                None => break,
            }
        }
        self.closed = true;
    }

    /// The next event pushed to this client, or None after `wait`. Acks that come
    /// meanwhile are dropped.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<(String, Vec<Value>)> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Heard::Event(name, args) = self.next(left).await? {
                return Some((name, args));
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
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Some(Heard::Event(name, args)) = self.next(left).await {
                self.events.push_back((name, args));
            }
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
