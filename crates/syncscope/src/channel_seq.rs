//! The seq of each channel's latest change, so that a push can say which change came
//! before it on its channel (`prev`).
//!
//! Why: `seq` is server-wide, so a client cannot tell a push it missed from changes to
//! other collections; a reconnect asking `since` its highest seq then never recovers
//! it. With `prev` on every push and write ack, and `last` in the subscribe ack, a
//! client sees a gap on its own channel (`prev` is not the last seq it has) and asks
//! for it again with `subscribe since` (docs/PROTOCOL.md, *Gaps*).
//!
//! Kept in memory, filled from the change log the first time a channel is asked about
//! after a start. Every read and update happens under the store's write lock, so the
//! `last` a subscriber is told and the `prev` of the next push agree.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::SyncError;
use crate::store::Store;
use crate::url::Url;

#[derive(Default)]
pub struct ChannelSeqs {
    last: Mutex<HashMap<String, i64>>,
}

impl ChannelSeqs {
    /// The seq of the latest change of `collection` before `before` (all of them when
    /// None), 0 when the change log has none.
    pub async fn last(
        &self,
        store: &Store,
        collection: &Url,
        before: Option<i64>,
    ) -> Result<i64, SyncError> {
        if let Some(seq) = self.map().get(collection.as_str()) {
            return Ok(*seq);
        }
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE collection = ? AND seq < ?")
                .bind(collection.as_str())
                .bind(before.unwrap_or(i64::MAX))
                .fetch_one(store.pool())
                .await?;
        let seq = seq.unwrap_or(0);
        self.map().insert(collection.to_string(), seq);
        Ok(seq)
    }

    /// A change `seq` of `collection` committed: returns the channel's previous one.
    /// When the change log cannot be read, 0: a client then sees a gap and asks again,
    /// which costs a resubscribe and loses nothing.
    pub async fn advance(&self, store: &Store, collection: &Url, seq: i64) -> i64 {
        let prev = match self.last(store, collection, Some(seq)).await {
            Ok(prev) => prev,
            Err(e) => {
                tracing::warn!(%collection, "the previous change of the channel is unknown: {e}");
                0
            }
        };
        self.map().insert(collection.to_string(), seq);
        prev
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}
