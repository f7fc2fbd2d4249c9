//! Reads of one model on the caller's task, through SQLite connections of their own.
//!
//! Why (issue 9): through sqlx, a read is a hop to its connection's worker thread and
//! a hop back, two thread wake-ups for a lookup that takes SQLite microseconds. A
//! point read is short enough to run where it is asked for. Reads of whole
//! collections, which can be long, stay on sqlx's workers.
//!
//! A file database only: a `:memory:` database lives on the pool's one connection, so
//! another connection would see an empty database of its own.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::OptionalExtension;

use super::open_connection;
use crate::error::SyncError;

/// Idle connections kept for the next reads: one per runtime worker is all that can
/// be in use at once, with room to spare.
const KEEP_IDLE: usize = 8;

pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Readers {
    pub fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens as many connections as the runtime has workers and prepares the read on
    /// each, so that no client's first read pays for that (as the pool's are warmed).
    pub fn warm_up(&self) -> Result<(), SyncError> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut opened = Vec::new();
        for _ in 0..workers.min(KEEP_IDLE) {
            let db = self.open()?;
            model_with_seq(&db, "/_syncscope_warm_up", "")?;
            opened.push(db);
        }
        self.idle().extend(opened);
        Ok(())
    }

    /// Runs `f` on an idle connection, opening one when none is.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let idle = self.idle().pop();
        let db = match idle {
            Some(db) => db,
            None => self.open()?,
        };
        let out = f(&db);
        let mut idle = self.idle();
        if idle.len() < KEEP_IDLE {
            idle.push(db);
        }
        out
    }

    /// Closes the idle connections (the store is closing).
    pub fn close(&self) {
        self.idle().clear();
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let db = open_connection(&self.path)?;
        // Reads only: a bug here must not be able to write behind the writer's back.
        db.pragma_update(None, "query_only", true)?;
        Ok(db)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A model's stored data and version, with the last seq of the same snapshot.
pub struct StoredModel {
    pub data: String,
    pub version: i64,
    pub seq: i64,
}

/// The model `collection`/`id` as stored, in one statement (one snapshot).
pub fn model_with_seq(
    db: &rusqlite::Connection,
    collection: &str,
    id: &str,
) -> rusqlite::Result<Option<StoredModel>> {
    db.prepare_cached(MODEL_WITH_SEQ)?
        .query_row((collection, id), |row| {
            Ok(StoredModel {
                data: row.get(0)?,
                version: row.get(1)?,
                seq: row.get(2)?,
            })
        })
        .optional()
}

/// The statement of [`model_with_seq`], shared with the sqlx path of a `:memory:` db.
pub const MODEL_WITH_SEQ: &str = "SELECT data, version,
     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)
 FROM models WHERE collection = ?1 AND id = ?2";
