//! Session files: a recorded session as versioned newline-delimited JSON, for fixtures
//! (`fixtures/x.session.ndjson`), sharing, and import into another database.
//!
//! Line 1 is a header naming the format and its version; every other line is one
//! record exactly as the bus carried it (the control API's `Record` type). Readers
//! refuse a newer version with a clear error instead of guessing.

use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::inspect::record_writer::insert_records;
use crate::inspect::types::Record;
use crate::store::raw_handle::with_handle;

/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always "syncscope-session".
    pub format: String,
    pub version: u32,
    pub name: Option<String>,
    pub started_at_us: i64,
    pub stopped_at_us: Option<i64>,
    pub records: i64,
    /// Records the recorder could not keep up with while recording.
    pub lost: i64,
    /// The server-wide fault seed, when the session holds a `fault_rules` record (the
    /// seed of its first one): start a server with `--fault-seed` to repeat the
    /// session's toxicity draws (docs/FAULTS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_seed: Option<u64>,
}

/// The seed of the first `fault_rules` record among stored record bodies.
fn fault_seed_of(bodies: &[String]) -> Option<u64> {
    bodies
        .iter()
        .filter(|b| b.contains("\"fault_rules\""))
        .find_map(|b| match serde_json::from_str::<Record>(b) {
            Ok(Record {
                body: crate::inspect::types::Body::FaultRules { seed, .. },
                ..
            }) => Some(seed),
            _ => None,
        })
}

#[derive(Debug, thiserror::Error)]
pub enum SessionFileError {
    #[error("there is no session {0}")]
    NoSuchSession(i64),
    #[error("line {line}: {message}")]
    Invalid { line: u64, message: String },
    #[error("this file is session format version {0}; this Syncscope reads up to version {FORMAT_VERSION}: upgrade Syncscope")]
    TooNew(u32),
    #[error("the database failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("reading or writing the file failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Records written per call on the raw handle when a session file is imported.
const IMPORT_CHUNK: usize = 100;

/// Writes session `id` to `out`; returns how many records were written.
pub async fn export(
    pool: &SqlitePool,
    id: i64,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<u64, SessionFileError> {
    let row = sqlx::query(
        "SELECT name, started_at_us, stopped_at_us, recorded, lost FROM sessions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(SessionFileError::NoSuchSession(id))?;
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM session_events WHERE session = ? ORDER BY seq")
            .bind(id)
            .fetch_all(pool)
            .await?;
    let header = Header {
        format: "syncscope-session".into(),
        version: FORMAT_VERSION,
        name: row.get(0),
        started_at_us: row.get(1),
        stopped_at_us: row.get(2),
        records: bodies.len() as i64,
        lost: row.get(4),
        fault_seed: fault_seed_of(&bodies),
    };
    out.write_all(serde_json::to_string(&header).unwrap().as_bytes())
        .await?;
    out.write_all(b"\n").await?;
    for body in &bodies {
        out.write_all(body.as_bytes()).await?;
        out.write_all(b"\n").await?;
    }
    out.flush().await?;
    Ok(bodies.len() as u64)
}

/// A session file, read and checked: its header and its records in file order.
#[derive(Debug, Clone)]
pub struct SessionFile {
    pub header: Header,
    pub records: Vec<Record>,
    /// The line each record was read from (1 is the header).
    pub lines: Vec<u64>,
}

/// Reads and checks a whole session file. Errors name the line at fault: a bad header,
/// a line that is not a record, a newer format, or fewer records than the header
/// announces (a truncated file).
pub fn parse(text: &str) -> Result<SessionFile, SessionFileError> {
    let invalid = |line: u64, message: String| SessionFileError::Invalid { line, message };
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim().is_empty() {
        return Err(invalid(
            1,
            "the file is empty: expected a session header".into(),
        ));
    }
    let header: Header = serde_json::from_str(first)
        .map_err(|e| invalid(1, format!("not a Syncscope session header: {e}")))?;
    if header.format != "syncscope-session" {
        return Err(invalid(
            1,
            format!("format is {:?}, not \"syncscope-session\"", header.format),
        ));
    }
    if header.version > FORMAT_VERSION {
        return Err(SessionFileError::TooNew(header.version));
    }
    let mut records = Vec::new();
    let mut numbers = Vec::new();
    let mut n = 1;
    for line in lines {
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line)
            .map_err(|e| invalid(n, format!("not a Syncscope record: {e}")))?;
        records.push(record);
        numbers.push(n);
    }
    if (records.len() as i64) < header.records {
        return Err(invalid(
            numbers.last().map_or(2, |l| l + 1),
            format!(
                "the header announces {} records but the file ends after {}: it is truncated",
                header.records,
                records.len()
            ),
        ));
    }
    Ok(SessionFile {
        header,
        records,
        lines: numbers,
    })
}

/// Reads a session file into a new, stopped session; returns its id. Nothing is
/// stored unless the whole file is valid.
pub async fn import(
    pool: &SqlitePool,
    mut input: impl AsyncBufRead + Unpin,
) -> Result<(i64, Header), SessionFileError> {
    let mut text = String::new();
    input.read_to_string(&mut text).await?;
    let SessionFile {
        header, records, ..
    } = parse(&text)?;
    let mut tx = crate::clean_tx::CleanTx::begin(pool, "BEGIN").await?;
    let name = format!(
        "imported: {}",
        header.name.clone().unwrap_or_else(|| "unnamed".into())
    );
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sessions (name, started_at_us, stopped_at_us, recorded, lost) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&name)
    .bind(header.started_at_us)
    .bind(header.stopped_at_us.unwrap_or(header.started_at_us))
    .bind(records.len() as i64)
    .bind(header.lost)
    .fetch_one(&mut *tx)
    .await?;
    // On the connection's own handle, in chunks: a round trip to sqlx's worker per
    // chunk, not per record (a session of a million records). A chunk is a plain call
    // that blocks this (runtime) thread about a millisecond, short enough to share it.
    for chunk in records.chunks(IMPORT_CHUNK) {
        with_handle(&mut tx, |db| {
            insert_records(db, id, chunk).map_err(SessionFileError::from)
        })
        .await?;
    }
    tx.commit().await?;
    Ok((id, header))
}

/// Exports the session being recorded, else the newest one; returns its id and how many
/// records were written. For callers that hold the server, such as the desktop shell.
pub async fn export_current(
    running: &crate::Running,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<(i64, u64), SessionFileError> {
    let id = running
        .inspector()
        .recorder()
        .resolve(None)
        .await
        .map_err(|message| SessionFileError::Invalid { line: 0, message })?;
    // Every record offered so far is in the file, as with the control API's export.
    running.inspector().recorder().settle().await;
    let n = export(running.store().pool(), id, out).await?;
    Ok((id, n))
}
