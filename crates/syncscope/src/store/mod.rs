//! The store: models as JSON per (collection url, id) with a version, and a change log
//! with one server-wide sequence number, in one SQLite file (WAL).
//!
//! Writes go through one writer (crate::store::writer: group commit on a connection of
//! its own), which holds the write lock across a batch's transaction *and* the acks and
//! pushes that follow it, so subscribers see a collection's changes in seq order and a
//! `subscribe since` snapshot (taken under the same lock) cannot interleave with a
//! write. Reads never take it: WAL gives them a consistent snapshot while a write is in
//! progress.

pub mod checkpoint;
pub mod raw_handle;
pub mod readers;
pub mod sessions_db;
pub mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, Row, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

use crate::clean_tx::CleanTx;
use crate::error::SyncError;
use crate::url::Url;
use writer::{Committed, Source, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for SQLite's lock when another connection or program
/// holds it before it fails with `busy`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a rusqlite connection of the store's own to a file database (the writer's,
/// the readers', the checkpoints'): the file is in WAL mode already (the pool's first
/// connection set it), and a locked file is waited for as on every connection.
pub(crate) fn open_connection(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let db = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(BUSY_TIMEOUT)?;
    Ok(db)
}

/// How many connections a file database keeps open for reads and the session recorder
/// (the writer has one more of its own).
const FILE_CONNECTIONS: u32 = 4;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A private in-memory database, gone when the server stops (for tests).
    Memory,
    File(PathBuf),
}

impl DbLocation {
    /// The default file under the OS data dir, e.g. `~/.local/share/syncscope/syncscope.db`.
    pub fn default_file() -> Result<DbLocation, String> {
        let dir = dirs::data_dir()
            .ok_or("cannot find the OS data directory; pass --db PATH to choose a file")?;
        Ok(DbLocation::File(dir.join("syncscope").join("syncscope.db")))
    }
}

impl FromStr for DbLocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("--db needs a path, or :memory:".into()),
            ":memory:" => Ok(DbLocation::Memory),
            path => Ok(DbLocation::File(PathBuf::from(path))),
        }
    }
}

impl std::fmt::Display for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::Memory => f.write_str(":memory:"),
            DbLocation::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub id: String,
    pub data: Value,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Patch,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Patch => "patch",
            Op::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Op {
        match s {
            "create" => Op::Create,
            "update" => Op::Update,
            "patch" => Op::Patch,
            _ => Op::Delete,
        }
    }
}

/// One committed write, as the change log and the pushes carry it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub url: String,
    pub op: Op,
    pub id: String,
    pub data: Value,
    pub version: i64,
    pub seq: i64,
}

/// What a write asks for. Ids are the decoded id from the model url.
#[derive(Debug, Clone)]
pub enum Write {
    Create {
        data: Map<String, Value>,
    },
    Update {
        id: String,
        data: Map<String, Value>,
        version: Option<i64>,
    },
    Patch {
        id: String,
        data: Map<String, Value>,
        version: Option<i64>,
    },
    Delete {
        id: String,
        version: Option<i64>,
    },
}

impl Write {
    /// The id of the model written: the url's, or for a create the one the client gave.
    pub fn target_id(&self) -> Option<String> {
        match self {
            Write::Create { data } => data.get("id").and_then(|v| id_text(v).ok()),
            Write::Update { id, .. } | Write::Patch { id, .. } | Write::Delete { id, .. } => {
                Some(id.clone())
            }
        }
    }
}

/// The answer to `subscribe since`.
#[derive(Debug)]
pub enum Since {
    Changes(Vec<Change>),
    /// The log no longer reaches back to `since` (or `since` is in the future).
    Reset(Vec<Model>),
}

/// What a commit survives (SQLite's `synchronous` in WAL mode, for a file database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: a crash of the server process (SIGKILL included); an OS crash
    /// or a power loss may lose the last commits. The default: a development server.
    #[default]
    Process,
    /// `synchronous=FULL` (`--durable`): also an OS crash or a power loss, at the cost of
    /// an fsync per commit.
    Machine,
}

/// Proof that the caller holds the write lock.
pub struct WriteLock<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

pub struct Store {
    pool: SqlitePool,
    lock: Arc<Mutex<()>>,
    writer: Writer,
    /// Point reads on the caller's task (file databases; crate::store::readers).
    readers: Option<readers::Readers>,
    location: DbLocation,
}

impl Store {
    /// Opens (creating if needed) the database and applies the embedded migrations, with
    /// commits that survive a crash of the process ([`Durability::Process`]).
    pub async fn open(location: DbLocation, retain_changes: i64) -> Result<Store, String> {
        Store::open_with(location, retain_changes, Durability::Process).await
    }

    /// As [`Store::open`], with commits as durable as asked (`--durable`).
    pub async fn open_with(
        location: DbLocation,
        retain_changes: i64,
        durability: Durability,
    ) -> Result<Store, String> {
        let sessions_file = match &location {
            DbLocation::Memory => None,
            DbLocation::File(path) => Some(sessions_db::path_for(path)),
        };
        let (options, pool_options) = match &location {
            DbLocation::Memory => (
                SqliteConnectOptions::from_str("sqlite::memory:").map_err(|e| e.to_string())?,
                // One connection, never recycled: every connection would be its own database.
                // (CleanTx never closes the connection of a one-connection pool.)
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            ),
            DbLocation::File(path) => {
                crate::foreign_db::refuse_foreign(path, &MIGRATOR).await?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        format!("cannot create the folder {} for the database: {e}; pass --db PATH to use another file", dir.display())
                    })?;
                }
                (
                    SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        // NORMAL in WAL: a commit survives a crash of the process; only an OS
                        // crash or power loss can lose the last commits. FULL (--durable)
                        // syncs the WAL at every commit, which survives those too.
                        .synchronous(match durability {
                            Durability::Process => SqliteSynchronous::Normal,
                            Durability::Machine => SqliteSynchronous::Full,
                        })
                        .busy_timeout(BUSY_TIMEOUT),
                    // Kept open for good once warmed up (Store::warm_up): a recycled
                    // connection would make some later write pay its set-up again.
                    // Not opened all at once: on a new file, connections racing to switch
                    // it to WAL fail with "database is locked" before any busy timeout
                    // applies. The migrations open the first; the warm-up the others, one
                    // after another, once the file is in WAL mode.
                    SqlitePoolOptions::new()
                        .max_connections(FILE_CONNECTIONS)
                        .idle_timeout(None)
                        .max_lifetime(None),
                )
            }
        };
        // Every pooled connection sees the recorder's sessions file; the writer's own
        // connection does not (crate::store::sessions_db).
        // 'static, as the callback's future must be for any connection's lifetime: one
        // short string per opened store.
        let attach: &'static str = Box::leak(
            sessions_db::attach_sql(sessions_file.as_deref(), durability).into_boxed_str(),
        );
        let pool_options = pool_options.after_connect(move |conn, _| {
            Box::pin(async move {
                // Executor's execute runs every statement of the batch.
                conn.execute(attach).await?;
                Ok(())
            })
        });
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                format!(
                    "cannot open the database {location}: {e}; pass --db PATH to use another file"
                )
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            format!("cannot prepare the database {location}: {e}; is it a Syncscope database?")
        })?;
        let cannot_write = |e: String| {
            format!(
                "cannot write to the database {location}: {e}; pass --db PATH to use another file"
            )
        };
        warm_up(&pool)
            .await
            .map_err(|e| cannot_write(e.to_string()))?;
        // Opened after the pool's, once the file is in WAL mode (see above).
        let source = match &location {
            DbLocation::File(path) => Source::File {
                db: writer::open_file(path, durability).map_err(cannot_write)?,
                checkpoints: checkpoint::Checkpoints::start(path).map_err(cannot_write)?,
            },
            DbLocation::Memory => Source::Pool(pool.clone()),
        };
        let lock = Arc::new(Mutex::new(()));
        let writer = Writer::start(source, lock.clone(), retain_changes.max(1))
            .await
            .map_err(cannot_write)?;
        let readers = match &location {
            DbLocation::File(path) => {
                let readers = readers::Readers::new(path);
                readers
                    .warm_up()
                    .map_err(|e| format!("cannot read the database {location}: {e}"))?;
                Some(readers)
            }
            DbLocation::Memory => None,
        };
        Ok(Store {
            pool,
            lock,
            writer,
            readers,
            location,
        })
    }

    /// The connection pool, shared with the inspector's recorder (its sessions file is
    /// attached to every connection, see crate::store::sessions_db; with `:memory:` the pool's
    /// one connection is the database).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn location(&self) -> &DbLocation {
        &self.location
    }

    /// Lets the writes already queued commit, then closes the database cleanly.
    pub async fn close(&self) {
        self.writer.close().await;
        let _held = self.lock.lock().await;
        if let Some(readers) = &self.readers {
            readers.close();
        }
        self.pool.close().await;
    }

    /// SQLite's `synchronous` on the connection the writes commit on: 1 NORMAL, 2 FULL
    /// (`--durable`). The durability tests read it; the pool's connections say only
    /// what reads and the recorder use.
    pub fn writer_synchronous(&self) -> i64 {
        self.writer.synchronous
    }

    /// Writes queued for the writer and not yet taken into a batch.
    pub fn writes_waiting(&self) -> usize {
        self.writer.waiting()
    }

    pub async fn lock(&self) -> WriteLock<'_> {
        WriteLock(self.lock.lock().await)
    }

    pub async fn last_seq(&self) -> Result<i64, SyncError> {
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(seq)
    }

    /// The collection in creation order, with the last seq of the same snapshot.
    pub async fn read_collection(&self, collection: &Url) -> Result<(Vec<Model>, i64), SyncError> {
        let mut tx = CleanTx::begin(&self.pool, "BEGIN").await?;
        let rows = sqlx::query(
            "SELECT id, data, version FROM models WHERE collection = ? ORDER BY created_seq",
        )
        .bind(collection.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let models = rows
            .iter()
            .map(|row| model_from(row.get(0), row.get(1), row.get(2)))
            .collect::<Result<_, _>>()?;
        Ok((models, seq))
    }

    pub async fn read_model(&self, collection: &Url, id: &str) -> Result<Option<Model>, SyncError> {
        let row = sqlx::query("SELECT data, version FROM models WHERE collection = ? AND id = ?")
            .bind(collection.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| model_from(id.to_string(), row.get(0), row.get(1)))
            .transpose()
    }

    /// The model with the last seq of the same snapshot, in one statement. On the
    /// caller's task for a file database (crate::store::readers).
    pub async fn read_model_with_seq(
        &self,
        collection: &Url,
        id: &str,
    ) -> Result<Option<(Model, i64)>, SyncError> {
        if let Some(readers) = &self.readers {
            let stored =
                readers.with(|db| Ok(readers::model_with_seq(db, collection.as_str(), id)?))?;
            return stored
                .map(|m| Ok((model_from(id.to_string(), m.data, m.version)?, m.seq)))
                .transpose();
        }
        let row = sqlx::query(readers::MODEL_WITH_SEQ)
            .bind(collection.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let model = model_from(id.to_string(), row.get(0), row.get(1))?;
                Ok(Some((model, row.get(2))))
            }
            None => Ok(None),
        }
    }

    /// Whether `collection` has models, or its change log still remembers `id` in it
    /// (a model since deleted): then `collection/id` names a model, not a collection.
    pub async fn names_model_of_known(
        &self,
        collection: &Url,
        id: &str,
    ) -> Result<bool, SyncError> {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM models WHERE collection = ?1)
                 OR EXISTS (SELECT 1 FROM changes WHERE collection = ?1 AND id = ?2)",
        )
        .bind(collection.as_str())
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(known)
    }

    /// Changes of `collection` after `since`, or the whole collection when the log no
    /// longer reaches back that far. Call it holding the write lock, so that no write
    /// slips between this snapshot and the pushes that follow it.
    pub async fn since(
        &self,
        _lock: &WriteLock<'_>,
        collection: &Url,
        since: i64,
    ) -> Result<Since, SyncError> {
        let last = self.last_seq().await?;
        let pruned: i64 = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'pruned_through'")
            .fetch_one(&self.pool)
            .await?;
        if since > last || since < pruned {
            return Ok(Since::Reset(self.read_collection(collection).await?.0));
        }
        let rows = sqlx::query(
            "SELECT seq, id, op, data, version FROM changes WHERE collection = ? AND seq > ? ORDER BY seq",
        )
        .bind(collection.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let changes = rows
            .iter()
            .map(|row| {
                Ok(Change {
                    url: collection.to_string(),
                    seq: row.get(0),
                    id: row.get(1),
                    op: Op::parse(row.get::<&str, _>(2)),
                    data: parse_json(row.get(3))?,
                    version: row.get(4),
                })
            })
            .collect::<Result<_, SyncError>>()?;
        Ok(Since::Changes(changes))
    }

    /// Puts a model in place as it stood before a recorded session began (replay's
    /// seed), without a change in the log: the session's own changes come after it.
    /// `order` ranks it in collection reads; negative ranks come before every write.
    pub async fn seed(
        &self,
        _lock: &WriteLock<'_>,
        collection: &Url,
        id: &str,
        data: &Value,
        version: i64,
        order: i64,
    ) -> Result<(), SyncError> {
        sqlx::query(
            "INSERT INTO models (collection, id, data, version, created_seq) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data, version = excluded.version",
        )
        .bind(collection.as_str())
        .bind(id)
        .bind(data.to_string())
        .bind(version)
        .bind(order)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Applies one write (in the writer's next batch) and waits for its commit. The
    /// caller must not hold the write lock: the writer takes it.
    pub async fn write(&self, collection: &Url, write: Write) -> Result<Change, SyncError> {
        self.commit(collection, write).await?.result
    }

    /// As [`Store::write`], but hands the outcome over as a [`Committed`]: until it is
    /// dropped, no later write is handed over, so its holder can ack and push first
    /// (pushes in seq order). Nothing is written when it fails.
    pub async fn commit(&self, collection: &Url, write: Write) -> Result<Committed, SyncError> {
        self.writer.commit(collection, write).await
    }
}

/// What a write will do, decided from the model as it stands (None: no such model).
pub(crate) struct Planned {
    pub id: String,
    pub op: Op,
    pub data: Value,
    pub version: i64,
    /// A delete: the model row goes, the change keeps its last data.
    pub deleting: bool,
}

/// Checks a write against the stored model (version, existence, id) and decides what
/// it writes. Refuses before anything is written.
pub(crate) fn plan_write(
    collection: &Url,
    id: String,
    write: Write,
    current: Option<Model>,
) -> Result<Planned, SyncError> {
    let not_found = || SyncError::NotFound {
        url: collection.model_url(&id),
    };
    let conflict = |current: &Model, message: String| SyncError::Conflict {
        message,
        data: current.data.clone(),
        version: current.version,
    };
    let check = |current: &Model, expected: Option<i64>| match expected {
        Some(v) if v != current.version => Err(conflict(
            current,
            format!(
                "{} is at version {}, not {v}; someone else changed it",
                collection.model_url(&id),
                current.version
            ),
        )),
        _ => Ok(()),
    };
    let (op, data, version, deleting) = match (write, current) {
        (Write::Create { .. }, Some(current)) => {
            return Err(conflict(
                &current,
                format!("{} already exists", collection.model_url(&id)),
            ))
        }
        (Write::Create { mut data }, None) => {
            data.entry("id")
                .or_insert_with(|| Value::String(id.clone()));
            (Op::Create, Value::Object(data), 1, false)
        }
        (Write::Update { data, version, .. }, None) => match version {
            Some(_) => return Err(not_found()),
            None => (Op::Create, with_id(data, &id, None)?, 1, false),
        },
        (Write::Update { data, version, .. }, Some(current)) => {
            check(&current, version)?;
            let data = with_id(data, &id, current.data.get("id"))?;
            (Op::Update, data, current.version + 1, false)
        }
        (Write::Patch { .. }, None) | (Write::Delete { .. }, None) => return Err(not_found()),
        (Write::Patch { data, version, .. }, Some(current)) => {
            check(&current, version)?;
            let mut merged = current.data.as_object().cloned().unwrap_or_default();
            merged.extend(data);
            let data = with_id(merged, &id, current.data.get("id"))?;
            (Op::Patch, data, current.version + 1, false)
        }
        (Write::Delete { version, .. }, Some(current)) => {
            check(&current, version)?;
            (Op::Delete, current.data, current.version + 1, true)
        }
    };
    Ok(Planned {
        id,
        op,
        data,
        version,
        deleting,
    })
}

/// Pays at start what the first read would otherwise pay: opening every connection
/// (one after another, see Store::open), the WAL and its index, and reading the
/// tables' pages into the cache. The writer prepares its own statements.
async fn warm_up(pool: &SqlitePool) -> Result<(), SyncError> {
    let count = pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(pool.acquire().await?);
    }
    for conn in &mut held {
        sqlx::query("SELECT data, version FROM models WHERE collection = ? AND id = ?")
            .bind("/_syncscope_warm_up")
            .bind("")
            .fetch_optional(&mut **conn)
            .await?;
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )
        .fetch_one(&mut **conn)
        .await?;
    }
    Ok(())
}

/// The id a create stores under: the client's (string or number), or a new UUIDv7.
pub(crate) fn create_id(data: &Map<String, Value>) -> Result<String, SyncError> {
    match data.get("id") {
        None | Some(Value::Null) => Ok(uuid::Uuid::now_v7().simple().to_string()),
        Some(value) => id_text(value),
    }
}

fn id_text(value: &Value) -> Result<String, SyncError> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(SyncError::bad_request(
                "data.id",
                "data.id must be a string or a number",
            ))
        }
    };
    if text.is_empty() || text.chars().any(char::is_control) || text.len() > 256 {
        return Err(SyncError::bad_request(
            "data.id",
            "data.id must be 1 to 256 characters without control characters",
        ));
    }
    Ok(text)
}

/// Sets `id` on written attributes, refusing a body whose id contradicts the url.
fn with_id(
    mut data: Map<String, Value>,
    id: &str,
    stored: Option<&Value>,
) -> Result<Value, SyncError> {
    if let Some(given) = data.get("id").filter(|v| !v.is_null()) {
        if id_text(given)? != id {
            return Err(SyncError::bad_request(
                "data.id",
                format!("data.id {given} does not match the id {id:?} in the url"),
            ));
        }
    }
    let value = stored
        .cloned()
        .or_else(|| data.get("id").filter(|v| !v.is_null()).cloned())
        .unwrap_or_else(|| Value::String(id.to_string()));
    data.insert("id".into(), value);
    Ok(Value::Object(data))
}

fn model_from(id: String, data: String, version: i64) -> Result<Model, SyncError> {
    Ok(Model {
        id,
        data: parse_json(data)?,
        version,
    })
}

fn parse_json(text: String) -> Result<Value, SyncError> {
    serde_json::from_str(&text)
        .map_err(|e| SyncError::Internal(format!("stored JSON is corrupt: {e}")))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
