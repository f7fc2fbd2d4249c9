//! What a command produced, before a dialect renders it into an ack. It lives below
//! both the sync logic that makes it and the dialects that render it, so neither
//! imports the other for it.

use crate::query::QuerySince;
use crate::store::{Change, Model, Since};

/// `seq` is the server's latest change seq when the answer was read, so a client can
/// subscribe from there without a gap.
pub enum Outcome {
    Model {
        model: Model,
        seq: i64,
    },
    Collection {
        models: Vec<Model>,
        seq: i64,
    },
    Written {
        change: Change,
        /// The seq of the channel's change before this one (crate::channel_seq).
        prev: i64,
    },
    Subscribed {
        url: String,
        seq: i64,
        /// The seq of the channel's latest change, which the next push names as `prev`.
        last: i64,
        since: Option<Since>,
        /// The server's `--max-data`, announced so that a client can refuse a write
        /// that is too large before sending it.
        max_data: usize,
    },
    /// A live query's subscription (crate::query).
    QuerySubscribed {
        url: String,
        /// The query as the client sent it.
        query: serde_json::Value,
        seq: i64,
        since: Option<QuerySince>,
        max_data: usize,
    },
    Unsubscribed {
        url: String,
        /// A live query's, echoed.
        query: Option<serde_json::Value>,
    },
}
