//! The store's one writer: the writes waiting at a moment run in one SQLite
//! transaction (group commit) on one connection, and each gets its outcome only after
//! that transaction committed.
//!
//! Why (issue 9): a write through sqlx was five to seven statements, each a round trip
//! to sqlx's worker thread and back (two thread wake-ups apiece), and one commit per
//! write. Here the statements of a batch run back to back on a plain rusqlite
//! connection with cached statements. Under load a thread of its own runs the batches,
//! so a write costs one hop to it and one back, shared by the batch. A write that
//! finds nothing else writing (a lone client's) runs on its caller's task instead, as
//! a batch of one: no hop at all ([`Writer::commit`]).
//!
//! What stays as it was:
//! - An outcome is handed over after COMMIT returned. Nothing of a transaction SQLite
//!   failed (disk full, I/O error, a failed COMMIT) is kept or acked: it is rolled back
//!   and each of its writes is run again in a transaction of its own, so a write fails
//!   only for its own reason (a batch-mate's disk-full write does not fail it).
//! - Each write is checked against the state the writes before it left, so versions
//!   and conflicts are exactly those of one write at a time. A refused write (conflict,
//!   not found, bad id) is refused before it changes anything, so it needs no rollback.
//! - Order: the store's write lock is taken before the batch and held until every write
//!   of it was acked and pushed: each [`Committed`] of the batch shares the guard, and
//!   the lock is free once the last is dropped. So a `subscribe since` (which takes the
//!   same lock) never sees a committed write whose push is still to come, and the next
//!   batch waits for this one's pushes. Within a batch, [`Writer::commit`] returns only
//!   once the write before it dropped its [`Committed`], so pushes leave in seq order.
//!   The thread hands a batch's outcomes over all at once and does not wait for them:
//!   waiting for each holder in turn cost a wake-up of this thread per write (issue 9).
//! - The change log is pruned in steps of an eighth of what it retains (at most 1024
//!   changes) rather than on every write: it keeps between `retain` and `retain` + a step.
//!
//! A file database gives the writer a connection of its own for good. A `:memory:`
//! database exists only on the pool's one connection: the thread borrows it per batch
//! (its raw handle, locked away from sqlx while in use), and its writes always go
//! through the thread.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::OptionalExtension;
use serde_json::Value;
use sqlx::SqlitePool;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Mutex, OwnedMutexGuard};

use super::checkpoint::Checkpoints;
use super::raw_handle::with_handle;
use super::{open_connection, plan_write, Change, Durability, Model, Write, BUSY_TIMEOUT};
use crate::error::SyncError;
use crate::url::Url;

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;
/// Opens a file database's connection for the writer: `synchronous` is as
/// `durability` asks.
pub fn open_file(path: &Path, durability: Durability) -> Result<rusqlite::Connection, String> {
    let open = || -> rusqlite::Result<rusqlite::Connection> {
        let db = open_connection(path)?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::Machine => "FULL",
        };
        db.pragma_update(None, "synchronous", synchronous)?;
        // Checkpoints run on a thread of their own (crate::store::checkpoint).
        db.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(db)
    };
    open().map_err(|e| e.to_string())
}

/// The most changes the log keeps beyond `retain` before it is pruned.
const MAX_PRUNE_STEP: i64 = 1024;

/// A write's outcome, handed over once its transaction has committed (or failed).
/// While it is held, no later write is handed over: its holder acks and pushes first,
/// so pushes leave in seq order. Drop it to let the next write go on.
pub struct Committed {
    pub result: Result<Change, SyncError>,
    /// Dropping it tells the batch's next write that this one's ack and pushes are out
    /// (None for a write that ran alone on its caller's task).
    _turn: Option<oneshot::Sender<()>>,
    /// The store's write lock, shared by the batch's outcomes: free once all are dropped.
    _lock: Arc<OwnedMutexGuard<()>>,
}

/// What the thread sends a write's caller: its outcome, and the turn of the write
/// before it in the batch, to wait for before the outcome is the caller's to use.
struct Delivery {
    committed: Committed,
    after: Option<oneshot::Receiver<()>>,
}

struct Job {
    collection: Url,
    write: Write,
    done: oneshot::Sender<Delivery>,
}

/// Where the writer's connection comes from.
pub enum Source {
    /// A connection of its own (file databases), opened by the store ([`open_file`]),
    /// and the thread that checkpoints for it.
    File {
        db: rusqlite::Connection,
        checkpoints: Checkpoints,
    },
    /// The pool's, borrowed per batch (`:memory:`, whose one connection is the database).
    Pool(SqlitePool),
}

/// A file database's connection and what the writer remembers between batches. Used
/// only by whoever holds the store's write lock: the thread for a batch, or a caller
/// running its write on its own task (the mutex only makes that visible to Rust).
struct Engine {
    db: rusqlite::Connection,
    state: State,
    /// Counts the writes committed, for the checkpoints' thread.
    checkpoints: Checkpoints,
}

impl Engine {
    fn run_batch(&mut self, writes: Vec<Pending>) -> Vec<Result<Change, SyncError>> {
        self.checkpoints.finish(&self.db);
        let results = self.state.run_batch(&self.db, writes);
        self.checkpoints.written(results.len());
        results
    }

    /// Runs one write at once, unless another connection holds SQLite's write lock:
    /// then it is given back untouched, for the thread (see [`begin_now`]).
    fn run_alone(
        &mut self,
        collection: &Url,
        write: Write,
    ) -> Result<Result<Change, SyncError>, Write> {
        self.checkpoints.finish(&self.db);
        match begin_now(&self.db) {
            Ok(true) => {}
            Ok(false) => return Err(write),
            Err(e) => return Ok(Err(e.into())),
        }
        let pending = Pending {
            collection: collection.clone(),
            write,
        };
        let result = self.state.run_one_begun(&self.db, pending);
        self.checkpoints.written(1);
        Ok(result)
    }
}

/// The engine, gone once the writer closed.
type SharedEngine = Arc<std::sync::Mutex<Option<Engine>>>;

/// The handle the store keeps: where to send writes, and the thread to wait for.
pub struct Writer {
    /// SQLite's `synchronous` on the writer's connection: 1 NORMAL, 2 FULL (`--durable`).
    pub synchronous: i64,
    /// Writes queued and not yet taken into a batch.
    waiting: Arc<AtomicUsize>,
    jobs: std::sync::Mutex<Option<mpsc::UnboundedSender<Job>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    lock: Arc<Mutex<()>>,
    /// A file database's connection and state, shared with the thread (None for
    /// `:memory:`, whose writes all go through the thread).
    engine: Option<SharedEngine>,
}

/// What the thread needs besides its connection.
struct Shared {
    lock: Arc<Mutex<()>>,
    waiting: Arc<AtomicUsize>,
    retain: i64,
    runtime: Handle,
}

impl Writer {
    /// Starts the thread; returns once its connection has prepared its statements (a
    /// write rolled back, so a first real write does not pay for that).
    pub async fn start(
        source: Source,
        lock: Arc<Mutex<()>>,
        retain: i64,
    ) -> Result<Writer, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            lock: lock.clone(),
            waiting: waiting.clone(),
            retain,
            runtime: Handle::current(),
        };
        let spawn = |body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name("syncscope-writer".into())
                .spawn(body)
                .map_err(|e| format!("cannot start the writer thread: {e}"))
        };
        let (thread, synchronous, engine) = match source {
            Source::File { db, checkpoints } => {
                let state = State::load(&db, retain).map_err(|e| e.to_string())?;
                let synchronous = warm_up(&db).map_err(|e| e.to_string())?;
                let engine: SharedEngine = Arc::new(std::sync::Mutex::new(Some(Engine {
                    db,
                    state,
                    checkpoints,
                })));
                let theirs = engine.clone();
                let thread = spawn(Box::new(move || run_file(theirs, shared, rx)))?;
                (thread, synchronous, Some(engine))
            }
            Source::Pool(pool) => {
                let (ready_tx, ready_rx) = oneshot::channel();
                let thread = spawn(Box::new(move || run_pool(pool, shared, rx, ready_tx)))?;
                let synchronous = match ready_rx.await {
                    Ok(Ok(synchronous)) => synchronous,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err("the writer thread stopped at start".into()),
                };
                (thread, synchronous, None)
            }
        };
        Ok(Writer {
            synchronous,
            waiting,
            jobs: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
            lock,
            engine,
        })
    }

    /// Queues a write; resolves once its batch committed (or failed).
    ///
    /// When nothing else is writing (no write queued, the write lock free) a file
    /// database's write runs here, on the caller's task, as a batch of one: a lone
    /// client's write then costs no hop to the thread and back (issue 9). It takes the
    /// write lock as the thread would, so order and acks are as for a batch.
    pub async fn commit(&self, collection: &Url, write: Write) -> Result<Committed, SyncError> {
        let write = match self.commit_here(collection, write) {
            Ok(committed) => return Ok(committed),
            Err(write) => write,
        };
        let (done, outcome) = oneshot::channel();
        let job = Job {
            collection: collection.clone(),
            write,
            done,
        };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let sent = match &*self.jobs.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(closed());
        }
        let Delivery { committed, after } = outcome.await.map_err(|_| closed())?;
        if let Some(after) = after {
            // An error means the write before went away without waiting: its turn is over.
            let _ = after.await;
        }
        Ok(committed)
    }

    /// Runs `write` on this task when nothing else is writing; gives it back otherwise
    /// (another write queued or running, the lock held, SQLite's lock taken by another
    /// connection: then the thread, which waits out the busy timeout, takes it).
    fn commit_here(&self, collection: &Url, write: Write) -> Result<Committed, Write> {
        let Some(engine) = &self.engine else {
            return Err(write);
        };
        // With `--durable` every commit waits for an fsync: that wait stays on the
        // thread rather than stalling one of the runtime's workers.
        if self.synchronous >= 2 || self.waiting.load(Ordering::Relaxed) > 0 {
            return Err(write);
        }
        let Ok(guard) = self.lock.clone().try_lock_owned() else {
            return Err(write);
        };
        let result = match engine.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(engine) => engine.run_alone(collection, write)?,
            None => Err(closed()),
        };
        Ok(Committed {
            result,
            _turn: None,
            _lock: Arc::new(guard),
        })
    }

    /// How many writes are queued and not yet taken into a batch (the batch is taken
    /// once the thread holds the write lock: a test holding the lock sees them pile up).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Lets the writes already queued finish, then ends the thread (and its connection).
    pub async fn close(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if let Some(engine) = &self.engine {
            // Under the write lock: a write running on a caller's task finishes first.
            let _held = self.lock.lock().await;
            let engine = engine.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(engine) = engine {
                let Engine {
                    db, checkpoints, ..
                } = engine;
                drop(db);
                tokio::task::spawn_blocking(move || checkpoints.close())
                    .await
                    .ok();
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The thread ends once the queue is closed; nobody waits for it here.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

fn closed() -> SyncError {
    SyncError::Internal("the store is closed (the server is stopping)".into())
}

/// The thread of a file database: one batch at a time, for as long as writes can come.
fn run_file(engine: SharedEngine, shared: Shared, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let guard = shared.lock.clone().blocking_lock_owned();
        let (writes, dones) = gather(first, &mut rx, &shared.waiting);
        let n = writes.len();
        let results = match engine.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(engine) => engine.run_batch(writes),
            None => vec![Err(closed()); n],
        };
        hand_over(dones, results, guard);
    }
}

/// The thread of a `:memory:` database, which borrows the pool's connection per batch.
fn run_pool(
    pool: SqlitePool,
    shared: Shared,
    mut rx: mpsc::UnboundedReceiver<Job>,
    ready: oneshot::Sender<Result<i64, String>>,
) {
    let prepared = shared.runtime.block_on(with_pool_handle(&pool, |db| {
        let state = State::load(db, shared.retain)?;
        let synchronous = warm_up(db)?;
        Ok((state, synchronous))
    }));
    let mut state = match prepared {
        Ok((state, synchronous)) => {
            let _ = ready.send(Ok(synchronous));
            state
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    while let Some(first) = rx.blocking_recv() {
        let guard = shared.lock.clone().blocking_lock_owned();
        let (writes, dones) = gather(first, &mut rx, &shared.waiting);
        let n = writes.len();
        let results = shared
            .runtime
            .block_on(with_pool_handle(
                &pool,
                |db| Ok(state.run_batch(db, writes)),
            ))
            .unwrap_or_else(|e| vec![Err(e); n]);
        hand_over(dones, results, guard);
    }
}

/// Runs `f` on the pool's connection, locked away from sqlx meanwhile.
async fn with_pool_handle<T>(
    pool: &SqlitePool,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
) -> Result<T, SyncError> {
    let mut conn = pool.acquire().await?;
    with_handle(&mut conn, f).await
}

/// One write of a batch: the collection and what to write there.
#[derive(Clone)]
struct Pending {
    collection: Url,
    write: Write,
}

/// The first job and every one waiting behind it, up to a batch: the writes, and
/// where each one's outcome goes.
fn gather(
    first: Job,
    rx: &mut mpsc::UnboundedReceiver<Job>,
    waiting: &AtomicUsize,
) -> (Vec<Pending>, Vec<oneshot::Sender<Delivery>>) {
    let mut writes = Vec::new();
    let mut dones = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next.take() {
        writes.push(Pending {
            collection: job.collection,
            write: job.write,
        });
        dones.push(job.done);
        if writes.len() < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    waiting.fetch_sub(writes.len(), Ordering::Relaxed);
    (writes, dones)
}

/// Gives each write its outcome, chained so that each caller goes on only after the
/// one before it dropped its [`Committed`]; the lock goes with them.
fn hand_over(
    dones: Vec<oneshot::Sender<Delivery>>,
    results: Vec<Result<Change, SyncError>>,
    guard: OwnedMutexGuard<()>,
) {
    let lock = Arc::new(guard);
    let mut after = None;
    for (done, result) in dones.into_iter().zip(results) {
        let (turn, turn_done) = oneshot::channel();
        let delivery = Delivery {
            committed: Committed {
                result,
                _turn: Some(turn),
                _lock: lock.clone(),
            },
            after: after.replace(turn_done),
        };
        // A caller that went away dropped its receiver: its outcome is dropped here,
        // and the next caller waits for the turn this one would have waited for.
        if let Err(undelivered) = done.send(delivery) {
            after = undelivered.after;
        }
    }
}

/// Prepares the write's statements: a write, rolled back. Returns the connection's
/// `synchronous` (what its commits survive).
fn warm_up(db: &rusqlite::Connection) -> Result<i64, SyncError> {
    let collection = Url::parse("/_syncscope_warm_up")?;
    db.execute_batch("BEGIN IMMEDIATE")?;
    let write = Write::Create {
        data: Default::default(),
    };
    let applied = apply(db, &collection, write);
    db.execute_batch("ROLLBACK")?;
    applied.map_err(SyncError::from)?;
    Ok(db.query_row("PRAGMA synchronous", [], |row| row.get(0))?)
}

/// What the writer remembers between batches.
struct State {
    retain: i64,
    /// The log holds no change at or below this seq (meta `pruned_through`).
    pruned_through: i64,
    step: i64,
}

impl State {
    fn load(db: &rusqlite::Connection, retain: i64) -> Result<State, SyncError> {
        let pruned_through: i64 = db.query_row(
            "SELECT value FROM meta WHERE key = 'pruned_through'",
            [],
            |row| row.get(0),
        )?;
        Ok(State {
            retain,
            pruned_through,
            step: (retain / 8).clamp(1, MAX_PRUNE_STEP),
        })
    }

    /// Runs `writes` in one transaction; one outcome per write, in order. When SQLite
    /// fails the transaction (disk full, an I/O error, a failed COMMIT), it is rolled
    /// back and each write is run again in a transaction of its own, so a write fails
    /// only for its own reason, never for a batch-mate's.
    fn run_batch(
        &mut self,
        db: &rusqlite::Connection,
        writes: Vec<Pending>,
    ) -> Vec<Result<Change, SyncError>> {
        let n = writes.len();
        if n == 1 {
            return self
                .run_together(db, writes)
                .unwrap_or_else(|e| vec![Err(e)]);
        }
        // Kept for the retry: applying a write consumes it.
        let copies = writes.clone();
        match self.run_together(db, writes) {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!("a batch of {n} writes failed ({e}); each is run on its own");
                copies
                    .into_iter()
                    .map(|write| match self.run_together(db, vec![write]) {
                        Ok(results) => results.into_iter().next().unwrap_or_else(|| {
                            Err(SyncError::Internal("a write had no outcome".into()))
                        }),
                        Err(e) => Err(e),
                    })
                    .collect()
            }
        }
    }

    /// Runs `writes` in one transaction: Ok with one outcome per write (refusals among
    /// them) once it committed, or Err when SQLite failed it, rolled back, nothing kept.
    fn run_together(
        &mut self,
        db: &rusqlite::Connection,
        writes: Vec<Pending>,
    ) -> Result<Vec<Result<Change, SyncError>>, SyncError> {
        // IMMEDIATE takes SQLite's write lock up front (waiting out the busy timeout
        // when another program holds it).
        begin(db)?;
        self.run_begun(db, writes)
    }

    /// Runs one write in the transaction [`begin_now`] opened.
    fn run_one_begun(
        &mut self,
        db: &rusqlite::Connection,
        pending: Pending,
    ) -> Result<Change, SyncError> {
        self.run_begun(db, vec![pending])?
            .pop()
            .unwrap_or_else(|| Err(SyncError::Internal("a write had no outcome".into())))
    }

    /// The writes of a transaction `begin` opened, then its commit.
    fn run_begun(
        &mut self,
        db: &rusqlite::Connection,
        writes: Vec<Pending>,
    ) -> Result<Vec<Result<Change, SyncError>>, SyncError> {
        let mut results = Vec::with_capacity(writes.len());
        let mut last_seq = None;
        for Pending { collection, write } in writes {
            match apply(db, &collection, write) {
                Ok(change) => {
                    last_seq = Some(change.seq);
                    results.push(Ok(change));
                }
                Err(Failure::Refused(e)) => results.push(Err(e)),
                Err(Failure::Sqlite(e)) => return Err(self.abort(db, e.into())),
            }
        }
        if let Some(seq) = last_seq {
            if let Err(e) = self.prune(db, seq) {
                return Err(self.abort(db, e.into()));
            }
        }
        if let Err(e) = db.prepare_cached("COMMIT").and_then(|mut s| s.execute([])) {
            return Err(self.abort(db, e.into()));
        }
        Ok(results)
    }

    /// Rolls the transaction back after `e`, which it returns.
    fn abort(&mut self, db: &rusqlite::Connection, e: SyncError) -> SyncError {
        // After SQLITE_FULL SQLite has often rolled back already: either way no
        // transaction is left open.
        if !db.is_autocommit() {
            if let Err(rollback) = db.execute_batch("ROLLBACK") {
                tracing::warn!("ROLLBACK of a failed transaction failed: {rollback}");
            }
        }
        // What pruning noted in the rolled-back transaction is undone too.
        if let Ok(pruned) = db.query_row(
            "SELECT value FROM meta WHERE key = 'pruned_through'",
            [],
            |row| row.get(0),
        ) {
            self.pruned_through = pruned;
        }
        e
    }

    /// Drops the changes older than the `retain` most recent, once a step is due. In a
    /// savepoint: housekeeping that fails (while the transaction lives on) is undone and
    /// left to a later batch instead of failing this one's writes.
    fn prune(&mut self, db: &rusqlite::Connection, seq: i64) -> rusqlite::Result<()> {
        let cutoff = seq - self.retain;
        if cutoff - self.pruned_through < self.step {
            return Ok(());
        }
        db.prepare_cached("SAVEPOINT prune")?.execute([])?;
        let pruned = db
            .prepare_cached("DELETE FROM changes WHERE seq <= ?1")
            .and_then(|mut s| s.execute([cutoff]))
            .and_then(|_| {
                db.prepare_cached(
                    "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'pruned_through'",
                )
            })
            .and_then(|mut s| s.execute([cutoff]));
        match pruned {
            Ok(_) => {
                db.prepare_cached("RELEASE prune")?.execute([])?;
                self.pruned_through = cutoff;
                Ok(())
            }
            // The whole transaction is gone (SQLite rolled it back): the batch fails.
            Err(e) if db.is_autocommit() => Err(e),
            Err(e) => {
                tracing::warn!("pruning the change log failed, left for later: {e}");
                db.execute_batch("ROLLBACK TO prune; RELEASE prune")
            }
        }
    }
}

/// Opens a transaction holding SQLite's write lock at once, or answers false when
/// another connection holds that lock (the thread, which waits out the busy timeout,
/// then takes the write: that wait must not stall a caller's task).
fn begin_now(db: &rusqlite::Connection) -> rusqlite::Result<bool> {
    db.busy_timeout(std::time::Duration::ZERO)?;
    let began = begin(db);
    db.busy_timeout(BUSY_TIMEOUT)?;
    match began {
        Ok(()) => Ok(true),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens a transaction holding SQLite's write lock.
fn begin(db: &rusqlite::Connection) -> rusqlite::Result<()> {
    db.prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
}

/// Why one write of a batch did not happen.
enum Failure {
    /// The write itself is refused (conflict, not found, bad id); nothing was written.
    Refused(SyncError),
    /// SQLite failed mid-write: the batch must be rolled back.
    Sqlite(rusqlite::Error),
}

impl From<Failure> for SyncError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(e) => e,
            Failure::Sqlite(e) => e.into(),
        }
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sqlite(e)
    }
}

/// The statements of one write, inside the batch's transaction.
fn apply(db: &rusqlite::Connection, collection: &Url, write: Write) -> Result<Change, Failure> {
    let id = write_id(&write).map_err(Failure::Refused)?;
    let current = db
        .prepare_cached("SELECT data, version FROM models WHERE collection = ?1 AND id = ?2")?
        .query_row((collection.as_str(), &id), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?;
    let current = match current {
        Some((data, version)) => Some(Model {
            id: id.clone(),
            data: serde_json::from_str::<Value>(&data).map_err(|e| {
                Failure::Refused(SyncError::Internal(format!("stored JSON is corrupt: {e}")))
            })?,
            version,
        }),
        None => None,
    };
    let planned = plan_write(collection, id, write, current).map_err(Failure::Refused)?;
    let text = planned.data.to_string();
    let seq: i64 = db
        .prepare_cached(
            "INSERT INTO changes (collection, id, op, data, version, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
        )?
        .query_row(
            (
                collection.as_str(),
                &planned.id,
                planned.op.as_str(),
                &text,
                planned.version,
                super::now_ms(),
            ),
            |row| row.get(0),
        )?;
    if planned.deleting {
        db.prepare_cached("DELETE FROM models WHERE collection = ?1 AND id = ?2")?
            .execute((collection.as_str(), &planned.id))?;
    } else {
        db.prepare_cached(
            "INSERT INTO models (collection, id, data, version, created_seq) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data, version = excluded.version",
        )?
        .execute((collection.as_str(), &planned.id, &text, planned.version, seq))?;
    }
    Ok(Change {
        url: collection.to_string(),
        op: planned.op,
        id: planned.id,
        data: planned.data,
        version: planned.version,
        seq,
    })
}

/// The id a write targets: the url's, or for a create the client's or a new one.
fn write_id(write: &Write) -> Result<String, SyncError> {
    match write {
        Write::Create { data } => super::create_id(data),
        Write::Update { id, .. } | Write::Patch { id, .. } | Write::Delete { id, .. } => {
            Ok(id.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    //! The writer's batches against a real SQLite database with the store's schema. A
    //! trigger stands in for SQLite failing one write: RAISE(ABORT) fails its statement
    //! (as a constraint or a busy page would), RAISE(ROLLBACK) also rolls back the whole
    //! transaction (as SQLite does on a full disk or an I/O error).

    use super::*;
    use serde_json::json;

    fn database() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("../../migrations/0001_models_and_changes.sql"))
            .unwrap();
        db.execute_batch(
            "CREATE TRIGGER fail_statement BEFORE INSERT ON changes WHEN NEW.id = 'abort'
                 BEGIN SELECT RAISE(ABORT, 'statement failed by the test'); END;
             CREATE TRIGGER fail_transaction BEFORE INSERT ON changes WHEN NEW.id = 'rollback'
                 BEGIN SELECT RAISE(ROLLBACK, 'transaction rolled back by the test'); END;",
        )
        .unwrap();
        db
    }

    fn create(id: &str) -> Pending {
        Pending {
            collection: Url::parse("/todos").unwrap(),
            write: Write::Create {
                data: json!({"id": id, "title": id}).as_object().unwrap().clone(),
            },
        }
    }

    fn update(id: &str, version: i64) -> Pending {
        Pending {
            collection: Url::parse("/todos").unwrap(),
            write: Write::Update {
                id: id.into(),
                data: json!({"title": "updated"}).as_object().unwrap().clone(),
                version: Some(version),
            },
        }
    }

    fn stored(db: &rusqlite::Connection) -> Vec<(String, i64)> {
        let mut statement = db
            .prepare("SELECT id, version FROM models ORDER BY id")
            .unwrap();
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_write_sqlite_fails_fails_alone_and_its_batch_mates_commit() {
        let db = database();
        let mut state = State::load(&db, 1000).unwrap();
        let results = state.run_batch(
            &db,
            vec![
                create("a"),
                create("rollback"),
                update("a", 1),
                create("b"),
                create("abort"),
                update("b", 7),
                create("c"),
            ],
        );
        assert_eq!(results.len(), 7);
        let seqs: Vec<i64> = [0, 2, 3, 6]
            .iter()
            .map(|&i| results[i].as_ref().expect("a batch-mate commits").seq)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seqs in order: {seqs:?}"
        );
        assert_eq!(results[2].as_ref().unwrap().version, 2);
        let failed = |i: usize| results[i].as_ref().unwrap_err().to_string();
        assert!(
            failed(1).contains("transaction rolled back by the test"),
            "{}",
            failed(1)
        );
        assert!(
            failed(4).contains("statement failed by the test"),
            "{}",
            failed(4)
        );
        assert!(
            matches!(results[5], Err(SyncError::Conflict { .. })),
            "a refusal stays a refusal: {:?}",
            results[5]
        );
        assert_eq!(
            stored(&db),
            vec![("a".into(), 2), ("b".into(), 1), ("c".into(), 1)],
            "every acked write is kept, no failed one is"
        );
        let changes: i64 = db
            .query_row("SELECT COUNT(*) FROM changes", [], |row| row.get(0))
            .unwrap();
        assert_eq!(changes, 4);
        assert!(db.is_autocommit(), "no transaction left open");
    }

    #[test]
    fn a_batch_without_failures_keeps_every_write_in_order() {
        let db = database();
        let mut state = State::load(&db, 1000).unwrap();
        let results = state.run_batch(&db, vec![create("a"), update("a", 1), create("b")]);
        let seqs: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(stored(&db), vec![("a".into(), 2), ("b".into(), 1)]);
    }

    /// Outcomes of one batch with their turns: `n` writes, the callers of those in
    /// `gone` having gone away before their outcome came.
    fn deliveries(
        n: usize,
        gone: &[usize],
        lock: &Arc<Mutex<()>>,
    ) -> Vec<Option<oneshot::Receiver<Delivery>>> {
        let (dones, receivers): (Vec<_>, Vec<_>) = (0..n)
            .map(|i| {
                let (done, receiver) = oneshot::channel();
                (done, (!gone.contains(&i)).then_some(receiver))
            })
            .unzip();
        let results = (0..n)
            .map(|i| Err(SyncError::Internal(format!("outcome {i}"))))
            .collect();
        hand_over(dones, results, lock.clone().try_lock_owned().unwrap());
        receivers
    }

    async fn turn_comes(delivery: &mut Delivery) -> bool {
        match delivery.after.as_mut() {
            None => true,
            Some(after) => tokio::time::timeout(std::time::Duration::from_millis(50), after)
                .await
                .is_ok(),
        }
    }

    #[tokio::test]
    async fn a_batchs_outcomes_take_turns_in_order_even_past_a_caller_that_went_away() {
        let lock = Arc::new(Mutex::new(()));
        let mut receivers = deliveries(3, &[1], &lock);
        let mut first = receivers[0].take().unwrap().await.unwrap();
        let mut third = receivers[2].take().unwrap().await.unwrap();
        assert!(turn_comes(&mut first).await, "the first goes at once");
        assert!(
            !turn_comes(&mut third).await,
            "the third waits for the first, though the second's caller is gone"
        );
        assert!(lock.try_lock().is_err(), "the batch holds the write lock");
        drop(first);
        assert!(
            turn_comes(&mut third).await,
            "the third goes once the first is done"
        );
        assert!(lock.try_lock().is_err(), "the third still holds the lock");
        drop(third);
        assert!(
            lock.try_lock().is_ok(),
            "the lock is free once all are done"
        );
    }
}
