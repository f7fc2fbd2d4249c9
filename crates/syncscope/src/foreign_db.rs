//! Refuses, before touching it, a `--db` file that belongs to another application.
//!
//! Opening the store switches the file to WAL and runs our migrations: pointed at some
//! other program's SQLite file by mistake, it would silently add our tables to it (and
//! leave `_sqlx_migrations` behind even when a migration then failed). So an existing,
//! non-empty file is first looked at through a read-only connection that changes
//! nothing, and accepted only when it has no tables yet or its migration history starts
//! with our first migration (same version, same checksum).

use std::path::Path;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

/// Ok when `path` is missing, empty, a database without tables, or a Syncscope database.
pub async fn refuse_foreign(path: &Path, ours: &Migrator) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > 0 => {}
        _ => return Ok(()),
    }
    let shown = path.display();
    let fix = "pass --db with a new file (or :memory:) for Syncscope's data";
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| format!("cannot open the database {shown}: {e}; {fix}"))?;
    let result = async {
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("{shown} is not a SQLite database Syncscope can use ({e}); {fix}"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
        if tables.is_empty() {
            return Ok(());
        }
        let first = ours.iter().next().map(|m| (m.version, m.checksum.to_vec()));
        let applied: Option<(i64, Vec<u8>)> = if tables.iter().any(|t| t == "_sqlx_migrations") {
            sqlx::query("SELECT version, checksum FROM _sqlx_migrations ORDER BY version LIMIT 1")
                .fetch_optional(&mut conn)
                .await
                .map_err(|e| format!("cannot read the migrations of {shown}: {e}; {fix}"))?
                .map(|row| (row.get(0), row.get(1)))
        } else {
            None
        };
        if applied.is_some() && applied == first {
            return Ok(());
        }
        let mut listed = tables.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if tables.len() > 5 {
            listed.push_str(", …");
        }
        Err(format!(
            "{shown} is another application's SQLite database (tables: {listed}), not a \
             Syncscope one; it was left untouched. {fix}"
        ))
    }
    .await;
    let _ = conn.close().await;
    result
}
