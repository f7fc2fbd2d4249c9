//! Keeps the fault rules in the project's database, so that a developer's set of
//! faults (a flaky `/todos`, a slow tab) survives a restart of the server.
//!
//! The rules are few and change rarely, by hand: every change writes the whole set in
//! one transaction, under one lock, from a snapshot taken inside it, so the database
//! always ends with the latest state whatever the order the changes raced in.

use sqlx::{Row, SqlitePool};

use crate::faults::{FaultRule, FaultSpec, Faults};

pub struct FaultStore {
    pool: SqlitePool,
    lock: tokio::sync::Mutex<()>,
}

/// A kept rule that could not be read back (written by a newer Syncscope, or edited
/// by hand): skipped, with the reason logged.
#[derive(Debug, thiserror::Error)]
#[error("fault rule {id} in the database could not be read and is skipped: {reason}")]
pub struct Unreadable {
    pub id: i64,
    pub reason: String,
}

impl FaultStore {
    pub fn new(pool: SqlitePool) -> FaultStore {
        FaultStore {
            pool,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The rules kept, in the order they are tried.
    pub async fn load(&self) -> Result<Vec<FaultRule>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT id, enabled, fired, matched, spec FROM fault_rules ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut rules = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.get(0);
            let spec: String = row.get(4);
            match serde_json::from_str::<FaultSpec>(&spec) {
                Ok(spec) => rules.push(FaultRule {
                    id: id as u64,
                    enabled: row.get::<i64, _>(1) != 0,
                    fired: row.get::<i64, _>(2) as u64,
                    matched: row.get::<i64, _>(3) as u64,
                    spec,
                }),
                Err(e) => tracing::warn!(
                    "{}",
                    Unreadable {
                        id,
                        reason: e.to_string()
                    }
                ),
            }
        }
        Ok(rules)
    }

    /// Writes `faults`' rules as they are now, after a change.
    pub async fn persist(&self, faults: &Faults) -> Result<(), String> {
        self.save(|| faults.list()).await.map_err(|e| {
            format!("the fault rules could not be saved to the database (they apply until the server stops): {e}")
        })
    }

    /// Writes the rules `snapshot` gives, taken under the lock, in place of those kept.
    pub async fn save(&self, snapshot: impl FnOnce() -> Vec<FaultRule>) -> Result<(), sqlx::Error> {
        let _held = self.lock.lock().await;
        let rules = snapshot();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM fault_rules")
            .execute(&mut *tx)
            .await?;
        for rule in &rules {
            sqlx::query(
                "INSERT INTO fault_rules (id, enabled, fired, matched, spec) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(rule.id as i64)
            .bind(rule.enabled as i64)
            .bind(rule.fired as i64)
            .bind(rule.matched as i64)
            .bind(serde_json::to_string(&rule.spec).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}
