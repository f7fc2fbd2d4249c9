//! The errors a client can be answered with: one variant per failure mode, each with
//! the stable `code` clients branch on (docs/PROTOCOL.md, *Errors*).

use serde_json::{json, Value};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("{message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    /// A live query's parameter that is malformed or not supported (crate::query);
    /// `param` names it.
    #[error("{message}")]
    BadQuery { param: String, message: String },
    #[error("no model at {url}")]
    NotFound { url: String },
    #[error("{message}")]
    Conflict {
        message: String,
        data: Value,
        version: i64,
    },
    #[error("data is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("this server does not handle the event {event:?}")]
    UnknownEvent { event: String },
    #[error("too many requests from this socket are waiting; retry later")]
    Busy,
    /// SQLite answered SQLITE_FULL: the disk (or quota) holding the database is full.
    #[error("the disk holding the database is full, so nothing was written; free some space and retry ({detail})")]
    StorageFull { detail: String },
    /// Another program holds SQLite's lock longer than the busy timeout (5 s).
    #[error("the database is locked by another program, so nothing was written; retry once it lets go (a sqlite3 shell or a backup in a transaction?) ({detail})")]
    StoreLocked { detail: String },
    /// The database file cannot be written (a read-only file, folder or mount).
    #[error("the database file cannot be written, so nothing was written; make it writable and retry ({detail})")]
    StoreReadOnly { detail: String },
    #[error("the store failed, nothing was written: {0}")]
    Internal(String),
    /// A fault rule's error: the code and message the inspector chose, shaped like a
    /// real error of that code (a `conflict` carries the stored model).
    #[error("{message}")]
    Injected {
        code: String,
        message: String,
        /// Boxed: a JSON value keeping its keys' order (serde_json `preserve_order`)
        /// is large, and every `Result<_, SyncError>` would carry its size.
        current: Option<Box<(Value, i64)>>,
    },
}

impl SyncError {
    pub fn bad_request(field: &'static str, message: impl Into<String>) -> Self {
        SyncError::BadRequest {
            field,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            SyncError::Injected { code, .. } => code,
            SyncError::BadRequest { .. } | SyncError::BadQuery { .. } => "bad_request",
            SyncError::NotFound { .. } => "not_found",
            SyncError::Conflict { .. } => "conflict",
            SyncError::TooLarge { .. } => "too_large",
            SyncError::UnknownEvent { .. } => "unknown_event",
            SyncError::Busy | SyncError::StoreLocked { .. } | SyncError::StoreReadOnly { .. } => {
                "busy"
            }
            SyncError::StorageFull { .. } => "storage_full",
            SyncError::Internal(_) => "internal",
        }
    }

    /// The error object sent as the first argument of an ack.
    pub fn to_wire(&self) -> Value {
        let mut wire = json!({ "code": self.code(), "message": self.to_string() });
        let extra = match self {
            SyncError::BadRequest { field, .. } => json!({ "field": field }),
            SyncError::BadQuery { param, .. } => json!({ "field": "query", "param": param }),
            SyncError::NotFound { url } => json!({ "url": url }),
            SyncError::Conflict { data, version, .. } => {
                json!({ "current": { "data": data, "version": version } })
            }
            SyncError::TooLarge { limit, .. } => json!({ "limit": limit }),
            SyncError::UnknownEvent { event } => json!({ "event": event }),
            SyncError::Injected {
                current: Some(current),
                ..
            } => {
                let (data, version) = &**current;
                json!({ "current": { "data": data, "version": version } })
            }
            SyncError::Busy
            | SyncError::StorageFull { .. }
            | SyncError::StoreLocked { .. }
            | SyncError::StoreReadOnly { .. }
            | SyncError::Internal(_)
            | SyncError::Injected { .. } => json!({}),
        };
        if let (Some(wire), Value::Object(extra)) = (wire.as_object_mut(), extra) {
            wire.extend(extra);
        }
        wire
    }
}

/// SQLite's primary result codes (the low byte of an extended code) that a client can
/// act on: <https://www.sqlite.org/rescode.html>.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_FULL: i32 = 13;

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        let detail = e.to_string();
        let code = match &e {
            sqlx::Error::Database(db) => db.code().and_then(|code| code.parse::<i32>().ok()),
            _ => None,
        };
        from_sqlite(code, detail)
    }
}

/// The writer's errors (crate::writer), the same codes through rusqlite.
impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
            _ => None,
        };
        from_sqlite(code, e.to_string())
    }
}

/// The variant for a SQLite result code (extended or primary), `detail` its words.
fn from_sqlite(code: Option<i32>, detail: String) -> SyncError {
    match code.map(|code| code & 0xff) {
        Some(SQLITE_FULL) => SyncError::StorageFull { detail },
        Some(SQLITE_BUSY | SQLITE_LOCKED) => SyncError::StoreLocked { detail },
        Some(SQLITE_READONLY) => SyncError::StoreReadOnly { detail },
        _ => SyncError::Internal(detail),
    }
}
