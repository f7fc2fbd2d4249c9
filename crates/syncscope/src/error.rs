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
    #[error("the store failed, nothing was written: {0}")]
    Internal(String),
    /// A fault rule's error: the code and message the inspector chose, shaped like a
    /// real error of that code (a `conflict` carries the stored model).
    #[error("{message}")]
    Injected {
        code: String,
        message: String,
        current: Option<(Value, i64)>,
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
            SyncError::BadRequest { .. } => "bad_request",
            SyncError::NotFound { .. } => "not_found",
            SyncError::Conflict { .. } => "conflict",
            SyncError::TooLarge { .. } => "too_large",
            SyncError::UnknownEvent { .. } => "unknown_event",
            SyncError::Busy => "busy",
            SyncError::Internal(_) => "internal",
        }
    }

    /// The error object sent as the first argument of an ack.
    pub fn to_wire(&self) -> Value {
        let mut wire = json!({ "code": self.code(), "message": self.to_string() });
        let extra = match self {
            SyncError::BadRequest { field, .. } => json!({ "field": field }),
            SyncError::NotFound { url } => json!({ "url": url }),
            SyncError::Conflict { data, version, .. } => {
                json!({ "current": { "data": data, "version": version } })
            }
            SyncError::TooLarge { limit, .. } => json!({ "limit": limit }),
            SyncError::UnknownEvent { event } => json!({ "event": event }),
            SyncError::Injected {
                current: Some((data, version)),
                ..
            } => json!({ "current": { "data": data, "version": version } }),
            SyncError::Busy | SyncError::Internal(_) | SyncError::Injected { .. } => json!({}),
        };
        if let (Some(wire), Value::Object(extra)) = (wire.as_object_mut(), extra) {
            wire.extend(extra);
        }
        wire
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::Internal(e.to_string())
    }
}
