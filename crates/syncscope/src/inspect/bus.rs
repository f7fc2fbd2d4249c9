//! The bus: every observed thing becomes one [`Record`] with a monotonic seq.
//!
//! `publish` is synchronous and cheap: an atomic increment, a clock read, the registry
//! update under a short lock, a `try_send` to the recorder and a broadcast to the
//! watchers. It never awaits, so recording an ack cannot delay it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::broadcast;

use super::now_us;
use super::recorder::Recorder;
use super::registry::Registry;
use super::types::{Body, Origin, Record};

/// How many records a watcher may lag behind before it misses some (and is told so).
pub const WATCH_CAPACITY: usize = 1024;

pub struct Bus {
    seq: AtomicU64,
    live: broadcast::Sender<Arc<Record>>,
    pub registry: Registry,
    pub recorder: Arc<Recorder>,
}

impl Bus {
    pub fn new(recorder: Arc<Recorder>) -> Bus {
        let (live, _) = broadcast::channel(WATCH_CAPACITY);
        Bus {
            seq: AtomicU64::new(0),
            live,
            registry: Registry::default(),
            recorder,
        }
    }

    /// Publishes one record and returns its seq.
    pub fn publish(
        &self,
        socket: Option<&str>,
        origin: Origin,
        url: Option<String>,
        body: Body,
    ) -> u64 {
        let record = self.stamp(socket, origin, url, body);
        let size = record.approx_size();
        self.registry.apply(&record, size);
        self.recorder.offer(&record, size);
        // No watcher is not an error.
        let _ = self.live.send(record.clone());
        record.seq
    }

    /// Hands a record to the recorder alone: the state a new session starts from,
    /// which the registry and the watchers already know.
    pub fn record_only(
        &self,
        socket: Option<&str>,
        origin: Origin,
        url: Option<String>,
        body: Body,
    ) -> u64 {
        let record = self.stamp(socket, origin, url, body);
        self.recorder.offer(&record, record.approx_size());
        record.seq
    }

    /// Gives a record its place in the one order every consumer sees: the next seq
    /// and the time it happened.
    fn stamp(
        &self,
        socket: Option<&str>,
        origin: Origin,
        url: Option<String>,
        body: Body,
    ) -> Arc<Record> {
        Arc::new(Record {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at_us: now_us(),
            socket: socket.map(str::to_string),
            origin,
            url,
            body,
        })
    }

    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// A live feed of every record published from now on.
    pub fn watch(&self) -> broadcast::Receiver<Arc<Record>> {
        self.live.subscribe()
    }
}
