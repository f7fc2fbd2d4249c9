//! The Socket.IO rooms a server joins sockets to, named in one place: the sync logic,
//! the control API and the live replay all address the same listeners.

use crate::url::Url;

/// The room of a native channel (a collection url).
pub fn channel_room(collection: &Url) -> String {
    format!("channel:{collection}")
}

/// The room of the sockets that spoke the iobind dialect for a namespace.
pub fn iobind_room(ns: &str) -> String {
    format!("iobind:{ns}")
}

/// The room of a live query's subscribers (crate::query): the collection and the
/// query's canonical text.
pub fn query_room(collection: &Url, query_key: &str) -> String {
    format!("query:{collection}?{query_key}")
}
