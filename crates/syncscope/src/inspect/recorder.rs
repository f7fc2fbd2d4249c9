//! The recorder: writes the bus into SQLite sessions on its own task.
//!
//! The bus hands it records with `try_send` on a bounded channel; when the channel is
//! full the record is dropped and counted as lost (per session and since launch), so
//! memory stays bounded and the hot path never waits on the database. The task writes
//! in batched transactions. Session starts and stops go through a second, small channel
//! and are applied between batches: the records queued before a cut are written to the
//! session they were published in.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::{QueryBuilder, Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::now_us;
use super::record_writer::{Batch, RecordWriter, Written};
use super::types::{Cursor, EventsPage, Filter, Latency, Record, SessionInfo};

/// Records that may wait for the writer before new ones are dropped.
pub const DEFAULT_CAPACITY: usize = 8192;
/// Bytes (of [`Record::approx_size`]) that may wait before new records are dropped.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// The most records written in one transaction.
const BATCH: usize = 512;
/// The least time between two batches' commits while records keep coming. A commit
/// costs far more than a row (callgrind: ~130k instructions per batch of two or three
/// records at one client, most of it BEGIN/COMMIT), and a batch writes each index page
/// it touches once however many of its rows land there, so under steady traffic records
/// wait up to this long to share one; the first record after a quiet spell is written
/// at once. 50 ms rather than 5 (issue 9): ~6 % less server CPU per request at 50
/// clients. A read of the records (`events`, `latency`, `sessions`, an export) first
/// waits for those offered before it ([`Recorder::settle`]), so no reader sees the gap.
const MIN_COMMIT_GAP: std::time::Duration = std::time::Duration::from_millis(50);

enum Control {
    Start {
        name: Option<String>,
        done: oneshot::Sender<Result<SessionInfo, String>>,
    },
    Stop {
        done: oneshot::Sender<Result<Option<SessionInfo>, String>>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// How far the writer has got, for readers that must see every record offered before
/// they asked (`Recorder::settle`).
#[derive(Default)]
struct Progress {
    /// Records taken into the queue, ever.
    accepted: AtomicU64,
    /// Records whose batch has finished (written, or counted lost), ever.
    finished: AtomicU64,
    /// Told after every batch.
    batch_done: tokio::sync::Notify,
    /// Tells the writer not to wait out the commit gap: a reader is waiting.
    hurry: tokio::sync::Notify,
}

/// The longest a read waits for the records offered before it (a writer slowed down by
/// the disk must not hang the inspector: the read then shows what is written).
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Recorder {
    tx: mpsc::Sender<(Arc<Record>, usize)>,
    progress: Arc<Progress>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    control: mpsc::UnboundedSender<Control>,
    recording: AtomicBool,
    /// Lost since the last batch write (moved into the session row by the writer).
    lost_pending: Arc<AtomicU64>,
    lost_total: AtomicU64,
    capacity: usize,
    current: Arc<Mutex<Option<SessionInfo>>>,
    pool: SqlitePool,
}

impl Recorder {
    /// Starts the writer task and a first session.
    pub async fn start(
        pool: SqlitePool,
        capacity: usize,
        max_bytes: usize,
    ) -> Result<Arc<Recorder>, String> {
        let capacity = capacity.max(1);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(capacity);
        let (control, control_rx) = mpsc::unbounded_channel();
        let recorder = Arc::new(Recorder {
            tx,
            progress: Arc::default(),
            queued_bytes: queued_bytes.clone(),
            max_bytes,
            control,
            recording: AtomicBool::new(false),
            lost_pending: Arc::new(AtomicU64::new(0)),
            lost_total: AtomicU64::new(0),
            capacity,
            current: Arc::new(Mutex::new(None)),
            pool: pool.clone(),
        });
        // Sessions left open by a previous launch that stopped abruptly.
        sqlx::query(
            "UPDATE sessions SET stopped_at_us = COALESCE(
                 (SELECT MAX(at_us) FROM session_events WHERE session = sessions.id),
                 started_at_us)
             WHERE stopped_at_us IS NULL",
        )
        .execute(&pool)
        .await
        .map_err(|e| format!("cannot prepare the sessions table: {e}"))?;
        let sink = RecordWriter::start(&pool).await?;
        let writer = Writer {
            pool,
            sink,
            rx,
            queued_bytes,
            control: control_rx,
            lost_pending: recorder.lost_pending.clone(),
            progress: recorder.progress.clone(),
            current: recorder.current.clone(),
        };
        tokio::spawn(writer.run());
        recorder.start_session(Some("launch".into())).await?;
        Ok(recorder)
    }

    /// Called by the bus for every record, with its [`Record::approx_size`]; never waits.
    pub fn offer(&self, record: &Arc<Record>, size: usize) {
        if !self.recording.load(Ordering::Acquire) {
            return;
        }
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_bytes || self.tx.try_send((record.clone(), size)).is_err() {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.lost_pending.fetch_add(1, Ordering::Relaxed);
            self.lost_total.fetch_add(1, Ordering::Relaxed);
        } else {
            self.progress.accepted.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records offered and not yet written: those in the channel and those the writer
    /// took into a batch that has not committed yet (it may wait for a batch-mate, see
    /// `MIN_COMMIT_GAP`). Zero means everything offered so far is readable.
    pub fn queued(&self) -> usize {
        // `finished` may pass `accepted` for a moment: the writer can write a record
        // before its offer has counted it.
        let finished = self.progress.finished.load(Ordering::Acquire);
        let accepted = self.progress.accepted.load(Ordering::Acquire);
        accepted.saturating_sub(finished) as usize
    }

    /// Waits until every record offered before the call has been written (or counted
    /// lost), so that a read sees what happened up to the moment it was asked: a test
    /// step, or a CLI call right after an action. The writer is told not to wait out its
    /// commit gap. Gives up after `SETTLE_WAIT`.
    pub async fn settle(&self) {
        let progress = &self.progress;
        let target = progress.accepted.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let done = progress.batch_done.notified();
            tokio::pin!(done);
            // Registered before the check, so a batch finishing in between is not missed.
            done.as_mut().enable();
            if progress.finished.load(Ordering::Acquire) >= target {
                return;
            }
            progress.hurry.notify_one();
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return;
            }
        }
    }

    /// Bytes (approximate) of the records waiting for the writer.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    pub fn lost_total(&self) -> u64 {
        self.lost_total.load(Ordering::Relaxed)
    }

    /// The session being recorded, with the loss not yet written counted in.
    pub fn current(&self) -> Option<SessionInfo> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        current.map(|mut s| {
            s.lost += self.lost_pending.load(Ordering::Relaxed);
            s
        })
    }

    pub async fn start_session(&self, name: Option<String>) -> Result<SessionInfo, String> {
        let (done, wait) = oneshot::channel();
        self.control
            .send(Control::Start { name, done })
            .map_err(|_| "the recorder has stopped".to_string())?;
        let session = wait
            .await
            .map_err(|_| "the recorder has stopped".to_string())??;
        self.recording.store(true, Ordering::Release);
        Ok(session)
    }

    pub async fn stop_session(&self) -> Result<Option<SessionInfo>, String> {
        self.recording.store(false, Ordering::Release);
        let (done, wait) = oneshot::channel();
        self.control
            .send(Control::Stop { done })
            .map_err(|_| "the recorder has stopped".to_string())?;
        wait.await
            .map_err(|_| "the recorder has stopped".to_string())?
    }

    /// Writes what is queued, closes the session and ends the task.
    pub async fn shutdown(&self) {
        self.recording.store(false, Ordering::Release);
        let (done, wait) = oneshot::channel();
        if self.control.send(Control::Shutdown { done }).is_ok() {
            let _ = wait.await;
        }
    }

    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, String> {
        self.settle().await;
        let rows = sqlx::query(
            "SELECT id, name, started_at_us, stopped_at_us, recorded, lost FROM sessions ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        let current = self.current();
        Ok(rows
            .iter()
            .map(|row| {
                let session = session_from(row);
                match &current {
                    Some(c) if c.id == session.id => c.clone(),
                    _ => session,
                }
            })
            .collect())
    }

    /// One page of a session's records matching `filter`, oldest first: the first
    /// `limit` after seq `after`, or, with `before`, the last `limit` before that seq.
    /// With `total`, also counts every record of the session matching `filter`.
    pub async fn events(
        &self,
        session: Option<i64>,
        filter: &Filter,
        cursor: Cursor,
        limit: u32,
        total: bool,
    ) -> Result<EventsPage, String> {
        self.settle().await;
        let session = self.resolve(session).await?;
        let limit = limit.clamp(1, 1000) as i64;
        let mut q = QueryBuilder::new("SELECT seq, body FROM session_events WHERE session = ");
        q.push_bind(session);
        match cursor {
            Cursor::After(after) => q.push(" AND seq > ").push_bind(after as i64),
            Cursor::Before(before) => q.push(" AND seq < ").push_bind(before as i64),
        };
        push_filter(&mut q, filter);
        let backwards = matches!(cursor, Cursor::Before(_));
        q.push(if backwards {
            " ORDER BY seq DESC LIMIT "
        } else {
            " ORDER BY seq LIMIT "
        })
        .push_bind(limit + 1);
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        let more = rows.len() as i64 > limit;
        let mut records = rows
            .iter()
            .take(limit as usize)
            .map(|row| serde_json::from_str::<Record>(row.get::<&str, _>(1)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a stored record is unreadable: {e}"))?;
        if backwards {
            records.reverse();
        }
        let first = records.first().map(|r| r.seq);
        let last = records.last().map(|r| r.seq);
        // Going forward, the earlier side is known to hold records only when the cursor
        // skipped some; going backward, the later side holds at least `before`'s side.
        let (prev, next) = match cursor {
            Cursor::After(after) => (
                if after > 0 { first } else { None },
                if more { last } else { None },
            ),
            Cursor::Before(before) => (
                if more { first } else { None },
                Some(last.map_or(before.saturating_sub(1), |l| l)),
            ),
        };
        let total = if total {
            let mut q = QueryBuilder::new("SELECT COUNT(*) FROM session_events WHERE session = ");
            q.push_bind(session);
            push_filter(&mut q, filter);
            let n: i64 = q
                .build()
                .fetch_one(&self.pool)
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            Some(n as u64)
        } else {
            None
        };
        Ok(EventsPage {
            session,
            records,
            next,
            prev,
            total,
        })
    }

    /// Ack latency percentiles over a session (acks matching `filter`).
    pub async fn latency(&self, session: Option<i64>, filter: &Filter) -> Result<Latency, String> {
        self.settle().await;
        let session = self.resolve(session).await?;
        let mut q = QueryBuilder::new("SELECT latency_us FROM session_events WHERE session = ");
        q.push_bind(session).push(" AND kind = 'ack_out'");
        push_filter(&mut q, filter);
        q.push(" ORDER BY latency_us");
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        let values: Vec<u64> = rows
            .iter()
            .map(|r| r.get::<i64, _>(0).max(0) as u64)
            .collect();
        let pick = |p: f64| -> Option<u64> {
            if values.is_empty() {
                return None;
            }
            let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
            Some(values[rank - 1])
        };
        Ok(Latency {
            session,
            count: values.len() as u64,
            p50_us: pick(0.50),
            p90_us: pick(0.90),
            p99_us: pick(0.99),
            max_us: values.last().copied(),
        })
    }

    /// The session asked for, else the current one, else the last one.
    pub async fn resolve(&self, session: Option<i64>) -> Result<i64, String> {
        if let Some(id) = session {
            return Ok(id);
        }
        if let Some(current) = self.current() {
            return Ok(current.id);
        }
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM sessions")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        last.ok_or_else(|| "no session has been recorded yet; start one with `record start`".into())
    }
}

fn push_filter(q: &mut QueryBuilder<'_, sqlx::Sqlite>, filter: &Filter) {
    if let Some(socket) = &filter.socket {
        // What the socket did, and the pushes it received (their `to` list).
        q.push(" AND (socket = ")
            .push_bind(socket.clone())
            .push(" OR (kind = 'push_out' AND EXISTS (SELECT 1 FROM json_each(body, '$.to') WHERE value = ")
            .push_bind(socket.clone())
            .push(")))");
    }
    if let Some(channel) = &filter.channel {
        q.push(" AND (url = ")
            .push_bind(channel.clone())
            .push(" OR substr(url, 1, ")
            .push_bind(channel.len() as i64 + 1)
            .push(") = ")
            .push_bind(format!("{channel}/"))
            .push(")");
    }
    if let Some(event) = &filter.event {
        q.push(" AND event = ").push_bind(event.clone());
    }
    if let Some(kinds) = &filter.kinds {
        q.push(" AND kind IN (");
        let mut list = q.separated(", ");
        for kind in kinds {
            list.push_bind(kind.clone());
        }
        if kinds.is_empty() {
            list.push("NULL");
        }
        q.push(")");
    }
    if let Some(origin) = filter.origin {
        let origin = serde_json::to_value(origin).unwrap_or_default();
        q.push(" AND origin = ")
            .push_bind(origin.as_str().unwrap_or_default().to_string());
    }
    if filter.errors_only == Some(true) {
        q.push(" AND error = 1");
    }
    if let Some(injected) = filter.injected {
        // As `Body::is_injected`: fault records, and acks a rule produced.
        let test =
            "(kind = 'fault' OR (kind = 'ack_out' AND json_extract(body, '$.fault') IS NOT NULL))";
        q.push(if injected { " AND " } else { " AND NOT " })
            .push(test);
    }
    if let Some(from) = filter.from_us {
        q.push(" AND at_us >= ").push_bind(from as i64);
    }
    if let Some(to) = filter.to_us {
        q.push(" AND at_us <= ").push_bind(to as i64);
    }
    if let Some(text) = &filter.text {
        q.push(" AND instr(body, ")
            .push_bind(text.clone())
            .push(") > 0");
    }
}

fn session_from(row: &sqlx::sqlite::SqliteRow) -> SessionInfo {
    SessionInfo {
        id: row.get(0),
        name: row.get(1),
        started_at_us: row.get::<i64, _>(2) as u64,
        stopped_at_us: row.get::<Option<i64>, _>(3).map(|v| v as u64),
        recorded: row.get::<i64, _>(4) as u64,
        lost: row.get::<i64, _>(5) as u64,
    }
}

struct Writer {
    pool: SqlitePool,
    /// Where batches are written (a thread with a connection of its own).
    sink: RecordWriter,
    rx: mpsc::Receiver<(Arc<Record>, usize)>,
    queued_bytes: Arc<AtomicUsize>,
    control: mpsc::UnboundedReceiver<Control>,
    lost_pending: Arc<AtomicU64>,
    progress: Arc<Progress>,
    current: Arc<Mutex<Option<SessionInfo>>>,
}

impl Writer {
    async fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut shutdown = None;
        let mut last_commit: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => {
                    let Some(control) = control else { break };
                    // Whatever was published before the cut belongs to the old session.
                    self.drain(&mut batch).await;
                    match control {
                        Control::Start { name, done } => {
                            let result = self.close().await.and(self.open(name).await);
                            let _ = done.send(result);
                        }
                        Control::Stop { done } => {
                            let _ = done.send(self.close().await);
                        }
                        Control::Shutdown { done } => {
                            let _ = self.close().await;
                            shutdown = Some(done);
                            break;
                        }
                    }
                }
                record = self.rx.recv() => {
                    let Some(record) = record else { break };
                    batch.push(self.taken(record));
                    if let Some(at) = last_commit {
                        if at.elapsed() < MIN_COMMIT_GAP && self.rx.len() < BATCH {
                            // A reader waiting for these records cuts the wait short.
                            tokio::select! {
                                _ = tokio::time::sleep_until(at + MIN_COMMIT_GAP) => {}
                                _ = self.progress.hurry.notified() => {}
                            }
                        }
                    }
                    while batch.len() < BATCH {
                        match self.rx.try_recv() {
                            Ok(record) => batch.push(self.taken(record)),
                            Err(_) => break,
                        }
                    }
                    last_commit = Some(tokio::time::Instant::now());
                    self.write(&mut batch).await;
                }
            }
        }
        // The thread's connection is closed before the server goes on to close the pool.
        self.sink.close().await;
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    async fn drain(&mut self, batch: &mut Vec<Arc<Record>>) {
        while let Ok(record) = self.rx.try_recv() {
            batch.push(self.taken(record));
            if batch.len() >= BATCH {
                self.write(batch).await;
            }
        }
        self.write(batch).await;
    }

    /// A record leaves the queue: its bytes no longer count against the budget.
    fn taken(&self, (record, size): (Arc<Record>, usize)) -> Arc<Record> {
        self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
        record
    }

    fn session_id(&self) -> Option<i64> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.id)
    }

    async fn write(&mut self, batch: &mut Vec<Arc<Record>>) {
        let n = batch.len();
        self.write_batch(batch).await;
        self.progress.finished.fetch_add(n as u64, Ordering::AcqRel);
        self.progress.batch_done.notify_waiters();
    }

    async fn write_batch(&mut self, batch: &mut Vec<Arc<Record>>) {
        let lost = self.lost_pending.swap(0, Ordering::Relaxed);
        let Some(session) = self.session_id() else {
            batch.clear();
            return;
        };
        if batch.is_empty() && lost == 0 {
            return;
        }
        let n = batch.len() as u64;
        let Written { records, result } = self
            .sink
            .write(Batch {
                session,
                records: std::mem::take(batch),
                lost,
            })
            .await;
        *batch = records;
        batch.clear();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = current.as_mut() {
            match result {
                Ok(()) => {
                    current.recorded += n;
                    current.lost += lost;
                }
                Err(e) => {
                    // Counted, never silent: the records of a failed batch are lost.
                    tracing::warn!("recorder could not write {n} records: {e}");
                    current.lost += lost + n;
                }
            }
        }
    }

    async fn open(&mut self, name: Option<String>) -> Result<SessionInfo, String> {
        let started = now_us();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (name, started_at_us) VALUES (?, ?) RETURNING id",
        )
        .bind(name.as_deref())
        .bind(started as i64)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| format!("cannot start a session: {e}"))?;
        let session = SessionInfo {
            id,
            name,
            started_at_us: started,
            stopped_at_us: None,
            recorded: 0,
            lost: 0,
        };
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(session.clone());
        Ok(session)
    }

    async fn close(&mut self) -> Result<Option<SessionInfo>, String> {
        // Loss counted up to now belongs to the session being closed.
        let mut empty = Vec::new();
        self.write(&mut empty).await;
        let Some(mut session) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(None);
        };
        let stopped = now_us();
        sqlx::query("UPDATE sessions SET stopped_at_us = ? WHERE id = ?")
            .bind(stopped as i64)
            .bind(session.id)
            .execute(&self.pool)
            .await
            .map_err(|e| format!("cannot close session {}: {e}", session.id))?;
        session.stopped_at_us = Some(stopped);
        Ok(Some(session))
    }
}
