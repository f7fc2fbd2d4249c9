//! Checkpoints of a file database's write-ahead log, on a thread of their own.
//!
//! Why (issue 9): SQLite checkpoints on the connection whose commit took the log past
//! 1000 pages: the writer's, in the middle of a batch. That checkpoint copies the log
//! into the database and syncs both, and every write waiting behind it waited too
//! (50 clients' p99 ack latency 37–40 ms with it, 22–25 ms with this). The writer's
//! connection has automatic checkpoints off and nudges this thread every few hundred
//! writes instead. A passive checkpoint does not take the write lock, so writes go on
//! while it copies and syncs; the writer then copies the few pages written meanwhile
//! before its next transaction ([`Checkpoints::finish`]), so that transaction starts
//! the log over and the log stays about as small as SQLite's own checkpoints kept it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::open_connection;

/// Writes between two nudges: a few pages each, so about SQLite's own 1000-page
/// threshold.
const WRITES_PER_CHECKPOINT: usize = 256;

pub struct Checkpoints {
    written: AtomicUsize,
    /// Set once this thread's checkpoint has copied the bulk of the log: the writer
    /// then copies the few pages written since, itself, before its next transaction,
    /// and that transaction starts the log over. (SQLite starts the log over only at a
    /// write that begins with the whole log copied, which a checkpoint running beside
    /// steady writes never leaves: the log would grow without end.)
    finish: Arc<AtomicBool>,
    nudge: Mutex<Option<SyncSender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpoints {
    /// Opens the thread's connection to `path` and starts it.
    pub fn start(path: &Path) -> Result<Checkpoints, String> {
        let db = open_connection(path)
            .map_err(|e| format!("cannot open the checkpoints' connection: {e}"))?;
        // One nudge waiting is enough: the checkpoint it starts takes the whole log.
        let (nudge, nudged) = sync_channel::<()>(1);
        let finish = Arc::new(AtomicBool::new(false));
        let bulk_done = finish.clone();
        let thread = std::thread::Builder::new()
            .name("syncscope-checkpoint".into())
            .spawn(move || {
                let mut warned = false;
                while nudged.recv().is_ok() {
                    let done = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    bulk_done.store(true, Ordering::Release);
                    match done {
                        Ok(()) => warned = false,
                        // Left for the next nudge; said once, not at every nudge.
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!("a checkpoint of the database failed: {e}");
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|e| format!("cannot start the checkpoints' thread: {e}"))?;
        Ok(Checkpoints {
            written: AtomicUsize::new(0),
            finish,
            nudge: Mutex::new(Some(nudge)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// `n` writes committed: nudges the thread once enough have.
    pub fn written(&self, n: usize) {
        let before = self.written.fetch_add(n, Ordering::Relaxed);
        if (before + n) / WRITES_PER_CHECKPOINT == before / WRITES_PER_CHECKPOINT {
            return;
        }
        if let Some(nudge) = &*self.nudge.lock().unwrap_or_else(|e| e.into_inner()) {
            // Full: a nudge already waits, and its checkpoint will take these writes.
            let _ = nudge.try_send(());
        }
    }

    /// Run by the writer before a transaction: after this thread's checkpoint, the
    /// rest of the log (what was written meanwhile) is copied on the writer's
    /// connection, so the transaction that follows starts the log over.
    pub fn finish(&self, db: &rusqlite::Connection) {
        if !self.finish.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Err(e) = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("the end of a checkpoint of the database failed: {e}");
        }
    }

    /// Ends the thread (and closes its connection); the last connection to close
    /// checkpoints whatever is left.
    pub fn close(&self) {
        self.nudge.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}
