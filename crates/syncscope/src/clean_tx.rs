//! A SQLite transaction that always ends, whatever SQLite did on the way.
//!
//! sqlx's `Transaction` counts its depth per connection and only lowers the count when
//! its ROLLBACK succeeds. After `database or disk is full` SQLite has often rolled the
//! transaction back already, so that ROLLBACK fails with "no transaction is active",
//! the count stays at 1, and the pooled connection answers every later `begin` with
//! "attempted to call begin_with at non-zero transaction depth" until a restart (issue
//! 10). Here BEGIN, COMMIT and ROLLBACK are plain statements: "no transaction is
//! active" means rolled back, and a connection whose ROLLBACK really failed is closed
//! instead of going back to the pool still holding SQLite's locks.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

pub struct CleanTx {
    /// None once the transaction ended (committed or rolled back).
    conn: Option<PoolConnection<Sqlite>>,
    /// False for a one-connection pool (`:memory:`, whose one connection *is* the
    /// database, see store.rs): that connection is never closed.
    may_close: bool,
}

impl CleanTx {
    /// Takes a connection from the pool and runs `begin` (`BEGIN` or `BEGIN IMMEDIATE`).
    pub async fn begin(pool: &SqlitePool, begin: &'static str) -> Result<CleanTx, sqlx::Error> {
        let may_close = pool.options().get_max_connections() > 1;
        let mut conn = pool.acquire().await?;
        sqlx::query(begin).execute(&mut *conn).await?;
        Ok(CleanTx {
            conn: Some(conn),
            may_close,
        })
    }

    /// Commits; when COMMIT fails, rolls back and returns COMMIT's error.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        match sqlx::query("COMMIT").execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                end(conn, self.may_close).await;
                Err(e)
            }
        }
    }

    /// Rolls back; the connection goes back to the pool out of any transaction.
    pub async fn rollback(mut self) {
        if let Some(conn) = self.conn.take() {
            end(conn, self.may_close).await;
        }
    }
}

/// Rolls back whatever is open on `conn`, or closes it when that fails.
async fn end(mut conn: PoolConnection<Sqlite>, may_close: bool) {
    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
        if e.to_string().contains("no transaction is active") {
            return; // SQLite rolled it back itself.
        }
        tracing::warn!("ROLLBACK failed: {e}; closing that database connection");
        if may_close {
            conn.close_on_drop();
        }
    }
}

impl Drop for CleanTx {
    /// A transaction dropped unfinished (an early return, a cancelled task) is rolled
    /// back on its own task, so the connection never returns to the pool mid-transaction.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(end(conn, self.may_close));
            }
            Err(_) if self.may_close => conn.close_on_drop(),
            Err(_) => {}
        }
    }
}

impl Deref for CleanTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("the transaction is open")
    }
}

impl DerefMut for CleanTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("the transaction is open")
    }
}
