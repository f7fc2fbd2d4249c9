//! SQLite calls on a pooled sqlx connection's own handle, through rusqlite.
//!
//! Why (issue 9): sqlx runs every statement on a worker thread of the connection and
//! hands the result back through a channel, two thread wake-ups per statement, with an
//! owned copy of every bound value. The store's writer and the session recorder run
//! many statements back to back; on the raw handle each is a plain function call on the
//! caller's thread, with statements prepared once per batch. sqlx cannot touch the
//! handle meanwhile (it is locked away from its worker), and the connection goes back
//! to the pool as sqlx left it, so a `:memory:` database, which lives on its one pooled
//! connection, works the same.

use sqlx::SqliteConnection;

/// Runs `f` on `conn`'s SQLite handle. Blocks in `f` for as long as it runs: call it
/// from a thread that may block (the writer's own, or `spawn_blocking`).
pub async fn with_handle<T, E>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<sqlx::Error> + From<rusqlite::Error>,
{
    let mut locked = conn.lock_handle().await?;
    // SAFETY: the handle stays open and unused by sqlx while `locked` lives, and `db`
    // (which does not close a handle it was given) is dropped before it, finalising
    // its statements.
    let db = unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) }?;
    let out = f(&db);
    drop(db);
    out
}
