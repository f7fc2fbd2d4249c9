//! The recorder's SQLite side: a thread of its own that writes batches of records into
//! the sessions file, each batch in one transaction, with its INSERT prepared once.
//!
//! Why (issue 9): through sqlx every batch was a multi-row INSERT whose text was built
//! again per batch and whose values were copied into sqlx's arguments, then run on
//! sqlx's worker thread. Here the thread holds one connection's SQLite handle for good
//! (a connection taken out of the pool, so it has the sessions file attached like every
//! pooled one) and runs a cached prepared statement per record. A `:memory:` database
//! lives on its one pooled connection, which cannot be taken away: there the thread
//! borrows that connection per batch and prepares the statement per batch.

use std::sync::Arc;
use std::thread::JoinHandle;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::types::{Body, Record};
use crate::store::raw_handle::with_handle;

/// One record's row, with the copies of its fields that filters use.
const INSERT_RECORD: &str = "INSERT OR IGNORE INTO session_events
     (session, seq, at_us, socket, url, kind, event, origin, error, latency_us, body)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// Why a batch of records was not written (all of it is then counted lost).
#[derive(Debug)]
pub enum BatchError {
    Pool(sqlx::Error),
    Sqlite(rusqlite::Error),
    /// The thread is gone (it could not take its connection, or it stopped).
    Stopped(String),
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError::Pool(e)
    }
}

impl From<rusqlite::Error> for BatchError {
    fn from(e: rusqlite::Error) -> Self {
        BatchError::Sqlite(e)
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Pool(e) => write!(f, "no database connection: {e}"),
            BatchError::Sqlite(e) => write!(f, "{e}"),
            BatchError::Stopped(e) => write!(f, "the recorder's writing thread stopped: {e}"),
        }
    }
}

/// A batch to write; the records come back with the outcome, so their vector's
/// capacity is used again.
pub struct Batch {
    pub session: i64,
    pub records: Vec<Arc<Record>>,
    /// Records dropped since the last batch, added to the session's count.
    pub lost: u64,
}

/// A batch's outcome, with its records handed back.
pub struct Written {
    pub records: Vec<Arc<Record>>,
    pub result: Result<(), BatchError>,
}

struct Job {
    batch: Batch,
    done: oneshot::Sender<Written>,
}

pub struct RecordWriter {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl RecordWriter {
    /// Takes a connection out of `pool` (unless the pool has only one) and starts the
    /// thread on it.
    pub async fn start(pool: &SqlitePool) -> Result<RecordWriter, String> {
        let own = if pool.options().get_max_connections() > 1 {
            let conn = pool
                .acquire()
                .await
                .map_err(|e| format!("cannot open the recorder's connection: {e}"))?;
            Some(conn.detach())
        } else {
            None
        };
        let (jobs, rx) = std::sync::mpsc::channel();
        let pool = pool.clone();
        let runtime = Handle::current();
        let thread = std::thread::Builder::new()
            .name("syncscope-recorder".into())
            .spawn(move || match own {
                Some(conn) => run_own(conn, &runtime, rx),
                None => run_pooled(&pool, &runtime, rx),
            })
            .map_err(|e| format!("cannot start the recorder's thread: {e}"))?;
        Ok(RecordWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Writes `batch`; resolves once it committed (or failed), handing its records back.
    pub async fn write(&self, batch: Batch) -> Written {
        let (done, outcome) = oneshot::channel();
        let Some(jobs) = &self.jobs else {
            return stopped(batch.records, "closed");
        };
        if let Err(std::sync::mpsc::SendError(job)) = jobs.send(Job { batch, done }) {
            return stopped(job.batch.records, "it ended");
        }
        outcome
            .await
            .unwrap_or_else(|_| stopped(Vec::new(), "it failed"))
    }

    /// Ends the thread once it wrote what it was given, and closes its connection.
    pub async fn close(mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// A connection of its own: its handle locked away from sqlx for the thread's life.
fn run_own(mut conn: SqliteConnection, runtime: &Handle, rx: std::sync::mpsc::Receiver<Job>) {
    {
        let mut locked = match runtime.block_on(conn.lock_handle()) {
            Ok(locked) => locked,
            Err(e) => return fail_all(rx, &e.to_string()),
        };
        // SAFETY: the handle stays open and unused by sqlx while `locked` lives; `db`
        // (which does not close a handle it was given) is dropped first, finalising
        // its statements.
        let db = match unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) }
        {
            Ok(db) => db,
            Err(e) => {
                drop(locked);
                let _ = runtime.block_on(sqlx::Connection::close(conn));
                return fail_all(rx, &e.to_string());
            }
        };
        // Every record names the session being recorded, whose row exists (sessions are
        // never deleted): checking that per record cost a lookup each (issue 9). This
        // connection is the recorder's alone (detached from the pool).
        if let Err(e) = db.pragma_update(None, "foreign_keys", false) {
            tracing::warn!("the recorder's connection checks foreign keys: {e}");
        }
        while let Ok(Job { batch, done }) = rx.recv() {
            let result = write_batch(&db, &batch);
            let _ = done.send(Written {
                records: batch.records,
                result,
            });
        }
        drop(db);
    }
    let _ = runtime.block_on(sqlx::Connection::close(conn));
}

/// The pool's one connection (`:memory:`), borrowed per batch.
fn run_pooled(pool: &SqlitePool, runtime: &Handle, rx: std::sync::mpsc::Receiver<Job>) {
    while let Ok(Job { batch, done }) = rx.recv() {
        let result = runtime.block_on(async {
            let mut conn = pool.acquire().await?;
            with_handle(&mut conn, |db| write_batch(db, &batch)).await
        });
        let _ = done.send(Written {
            records: batch.records,
            result,
        });
    }
}

fn stopped(records: Vec<Arc<Record>>, why: &str) -> Written {
    Written {
        records,
        result: Err(BatchError::Stopped(why.to_string())),
    }
}

fn fail_all(rx: std::sync::mpsc::Receiver<Job>, why: &str) {
    tracing::warn!("the recorder cannot write: {why}");
    while let Ok(Job { batch, done }) = rx.recv() {
        let _ = done.send(stopped(batch.records, why));
    }
}

/// One batch in one transaction. A failed batch is rolled back, so the next one can
/// write (issue 10); a transaction left open by a ROLLBACK that failed too is rolled
/// back before the next batch begins.
fn write_batch(db: &rusqlite::Connection, batch: &Batch) -> Result<(), BatchError> {
    if !db.is_autocommit() {
        db.execute_batch("ROLLBACK")?;
    }
    let result = insert_batch(db, batch);
    if result.is_err() && !db.is_autocommit() {
        let _ = db.execute_batch("ROLLBACK");
    }
    result
}

fn insert_batch(db: &rusqlite::Connection, batch: &Batch) -> Result<(), BatchError> {
    db.execute_batch("BEGIN")?;
    insert_records(db, batch.session, batch.records.iter().map(|r| &**r))?;
    db.prepare_cached(
        "UPDATE sessions SET recorded = recorded + ?1, lost = lost + ?2 WHERE id = ?3",
    )?
    .execute(rusqlite::params![
        batch.records.len() as i64,
        batch.lost as i64,
        batch.session
    ])?;
    db.execute_batch("COMMIT")?;
    Ok(())
}

/// Writes `records` into session `session`, in the transaction the caller holds: the
/// one place a record becomes a row, for the recorder's batches and for session files
/// imported (crate::session_file).
pub fn insert_records<'a>(
    db: &rusqlite::Connection,
    session: i64,
    records: impl IntoIterator<Item = &'a Record>,
) -> rusqlite::Result<()> {
    let mut insert = db.prepare_cached(INSERT_RECORD)?;
    for record in records {
        let latency = match &record.body {
            Body::AckOut { latency_us, .. } => Some(*latency_us as i64),
            _ => None,
        };
        insert.execute(rusqlite::params![
            session,
            record.seq as i64,
            record.at_us as i64,
            record.socket.as_deref(),
            record.url.as_deref(),
            record.body.kind(),
            record.body.event(),
            record.origin.as_str(),
            record.body.is_error(),
            latency,
            serde_json::to_string(record).unwrap_or_default(),
        ])?;
    }
    Ok(())
}
