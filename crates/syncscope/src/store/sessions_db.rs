//! The recorder's sessions live in a SQLite file of their own beside the models' file
//! (`syncscope.db` → `syncscope.db.sessions`), attached to every pooled connection as
//! the schema `recorder`.
//!
//! Why (issue 9): SQLite has one write lock per file. With the sessions in the models'
//! file, every batch of the recorder held the lock the writes need, and a write that
//! arrived meanwhile waited in SQLite's busy handler, which sleeps a millisecond or more
//! at a time. In a file of its own the recorder writes beside the models, never in
//! their way. The writer's own connection (crate::store::writer) does not attach it, so its
//! `BEGIN IMMEDIATE` locks the models' file only.
//!
//! The tables keep their names, so every query (recorder, session files, replay) reads
//! them unqualified: once the migration moved them out of the main schema, SQLite finds
//! them in the attached one. A `:memory:` database attaches a memory database.

use std::path::{Path, PathBuf};

use super::Durability;

/// The schema name the sessions file is attached as.
pub const SCHEMA: &str = "recorder";

/// Where the sessions of the database at `db` are kept.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".sessions");
    PathBuf::from(name)
}

/// The statements that attach the sessions file (None: a memory database) to a new
/// pooled connection, in WAL with the models' durability (`synchronous` FULL under
/// `--durable`, else NORMAL), and make sure its tables exist. One batch, run in the
/// pool's `after_connect`.
pub fn attach_sql(file: Option<&Path>, durability: Durability) -> String {
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Machine => "FULL",
    };
    let (target, file_pragmas) = match file {
        // A path is a string literal here ('' escapes a quote): ATTACH in a batch of
        // statements takes no bound parameters.
        Some(path) => (
            path.to_string_lossy().replace('\'', "''"),
            format!(
                "PRAGMA {SCHEMA}.journal_mode = WAL; PRAGMA {SCHEMA}.synchronous = {synchronous};"
            ),
        ),
        None => (":memory:".to_string(), String::new()),
    };
    // The sessions' tables as migration 0002 made them in the main schema (migration
    // 0100_sessions_file moves what a database recorded before), less the index by
    // socket, which a file made before is rid of here. Issue 9: the planner never used
    // it (a socket's filter is `socket = ? OR` a push to it, so the pages walk the
    // primary key in seq order), yet every record paid for it, and dearly: its entries
    // land in as many places as there are sockets, so each batch dirtied a page per
    // socket (a third of the recorder's SQLite time). The index by kind stays: a rare
    // kind's page and count read it instead of the whole session.
    format!(
        "ATTACH DATABASE '{target}' AS {SCHEMA};
        {file_pragmas}
        CREATE TABLE IF NOT EXISTS {SCHEMA}.sessions (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            name          TEXT,
            started_at_us INTEGER NOT NULL,
            stopped_at_us INTEGER,
            recorded      INTEGER NOT NULL DEFAULT 0,
            lost          INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS {SCHEMA}.session_events (
            session     INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL,
            at_us       INTEGER NOT NULL,
            socket      TEXT,
            url         TEXT,
            kind        TEXT    NOT NULL,
            event       TEXT,
            origin      TEXT    NOT NULL,
            error       INTEGER NOT NULL,
            latency_us  INTEGER,
            body        TEXT    NOT NULL,
            PRIMARY KEY (session, seq)
        );
        CREATE INDEX IF NOT EXISTS {SCHEMA}.session_events_by_kind
            ON session_events (session, kind, seq);
        DROP INDEX IF EXISTS {SCHEMA}.session_events_by_socket;"
    )
}
