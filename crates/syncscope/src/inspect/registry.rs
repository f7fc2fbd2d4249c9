//! The live registry: the sockets connected now and the channels they listen to.
//!
//! It is kept up to date by the bus, record by record, so a snapshot costs O(live
//! state) and never reads history.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use super::types::{Body, ChannelInfo, Record, SocketInfo, Target, MAX_RECIPIENT_IDS};

/// The sockets a push reaches.
#[derive(Debug, Default, PartialEq)]
pub struct Recipients {
    pub count: u32,
    /// At most `MAX_RECIPIENT_IDS` ids, in the registry's order.
    pub ids: Vec<String>,
}

impl Recipients {
    /// Counts every id and keeps the first `MAX_RECIPIENT_IDS`: a push to a thousand
    /// sockets copies the few ids its record shows, not a thousand (issue 9).
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Recipients {
        Recipients::counted(ids, MAX_RECIPIENT_IDS)
    }

    /// Counts every id and keeps the first `max_ids`.
    fn counted<'a>(ids: impl IntoIterator<Item = &'a str>, max_ids: usize) -> Recipients {
        let mut found = Recipients::default();
        for id in ids {
            found.count += 1;
            if found.ids.len() < max_ids {
                found.ids.push(id.to_owned());
            }
        }
        found
    }
}

#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<String, Entry>,
    channels: BTreeMap<String, Channel>,
    /// How many sockets each client id opened since launch (its reconnects + 1).
    clients: HashMap<String, u32>,
}

/// How many client ids the registry counts reconnects for; beyond (a load test with a
/// new id per socket), new ids are not counted.
const MAX_CLIENTS: usize = 100_000;

struct Entry {
    info: SocketInfo,
    dialects: BTreeSet<String>,
    channels: BTreeSet<String>,
}

/// The registry's name of a channel: its url, and for a live query the query's text
/// after it (also what `SocketInfo::channels` lists).
pub fn channel_key(url: &str, query: Option<&Value>) -> String {
    match query {
        Some(query) => format!("{url}?{query}"),
        None => url.to_string(),
    }
}

#[derive(Default)]
struct Channel {
    url: String,
    query: Option<Value>,
    members: BTreeSet<String>,
    changes: u64,
    last_change_at_us: Option<u64>,
}

/// The channel of `url` (and `query`), made when first named.
fn channel_of<'a>(
    channels: &'a mut BTreeMap<String, Channel>,
    url: &str,
    query: Option<&Value>,
) -> &'a mut Channel {
    channels
        .entry(channel_key(url, query))
        .or_insert_with(|| Channel {
            url: url.to_string(),
            query: query.cloned(),
            ..Channel::default()
        })
}

impl Registry {
    /// Folds one record into the live state. Called by the bus for every record.
    /// `size` is the record's approximate size, counted as bytes in or out.
    pub fn apply(&self, record: &Record, size: usize) {
        let size = size as u64;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *inner;
        let sid = record.socket.as_deref();
        match &record.body {
            Body::Connect {
                transport,
                protocol,
                remote_addr,
                user_agent,
                http_origin,
                auth,
                client,
                ..
            } => {
                let reconnects = match client {
                    Some(c) => match inner.clients.get_mut(c) {
                        Some(n) => {
                            *n += 1;
                            *n - 1
                        }
                        None => {
                            if inner.clients.len() < MAX_CLIENTS {
                                inner.clients.insert(c.clone(), 1);
                            }
                            0
                        }
                    },
                    None => 0,
                };
                if let Some(sid) = sid {
                    inner.sockets.insert(
                        sid.to_string(),
                        Entry {
                            info: SocketInfo {
                                id: sid.to_string(),
                                client: client.clone(),
                                reconnects,
                                transport: transport.clone(),
                                protocol: protocol.clone(),
                                remote_addr: remote_addr.clone(),
                                user_agent: user_agent.clone(),
                                http_origin: http_origin.clone(),
                                auth: auth.clone(),
                                connected_at_us: record.at_us,
                                dialects: vec![],
                                channels: vec![],
                                events_in: 0,
                                acks_out: 0,
                                error_acks: 0,
                                last_ack_latency_us: None,
                                client_latency: None,
                                pushes_in: 0,
                                bytes_in: 0,
                                bytes_out: 0,
                                last_activity_us: record.at_us,
                            },
                            dialects: BTreeSet::new(),
                            channels: BTreeSet::new(),
                        },
                    );
                }
            }
            Body::Disconnect { .. } => {
                if let Some(entry) = sid.and_then(|sid| inner.sockets.remove(sid)) {
                    for url in entry.channels {
                        if let Some(channel) = inner.channels.get_mut(&url) {
                            channel.members.remove(&entry.info.id);
                            if channel.members.is_empty() && channel.changes == 0 {
                                inner.channels.remove(&url);
                            }
                        }
                    }
                }
            }
            Body::Upgrade { to, .. } => {
                if let Some(entry) = sid.and_then(|sid| inner.sockets.get_mut(sid)) {
                    entry.info.transport = to.clone();
                }
            }
            Body::EventIn { .. } => {
                if let Some(entry) = sid.and_then(|sid| inner.sockets.get_mut(sid)) {
                    entry.info.events_in += 1;
                    entry.info.bytes_in += size;
                    entry.info.last_activity_us = record.at_us;
                }
            }
            Body::AckOut {
                dialect,
                error,
                latency_us,
                ..
            } => {
                if let Some(entry) = sid.and_then(|sid| inner.sockets.get_mut(sid)) {
                    entry.info.acks_out += 1;
                    entry.info.last_ack_latency_us = Some(*latency_us);
                    entry.info.bytes_out += size;
                    if error.is_some() {
                        entry.info.error_acks += 1;
                    }
                    if let Some(dialect) = dialect {
                        entry.dialects.insert(dialect.clone());
                    }
                    entry.info.last_activity_us = record.at_us;
                }
            }
            Body::PushOut { event, target, .. } => match target {
                Target::Socket { id } => {
                    if let Some(entry) = inner.sockets.get_mut(id) {
                        entry.info.pushes_in += 1;
                        entry.info.bytes_out += size;
                    }
                }
                Target::All => {
                    for entry in inner.sockets.values_mut() {
                        entry.info.pushes_in += 1;
                        entry.info.bytes_out += size;
                    }
                }
                Target::Iobind { ns } => {
                    let dialect = format!("iobind:{ns}");
                    for entry in inner.sockets.values_mut() {
                        if entry.dialects.contains(&dialect) && Some(entry.info.id.as_str()) != sid
                        {
                            entry.info.pushes_in += 1;
                            entry.info.bytes_out += size;
                        }
                    }
                }
                Target::Channel { url } | Target::Query { url, .. } => {
                    let query = match target {
                        Target::Query { query, .. } => Some(query),
                        _ => None,
                    };
                    let channel = channel_of(&mut inner.channels, url, query);
                    if event == "change" {
                        channel.changes += 1;
                        channel.last_change_at_us = Some(record.at_us);
                    }
                    for member in &channel.members {
                        if Some(member.as_str()) != sid {
                            if let Some(entry) = inner.sockets.get_mut(member) {
                                entry.info.pushes_in += 1;
                                entry.info.bytes_out += size;
                            }
                        }
                    }
                }
            },
            Body::Subscribe { channel, query } => {
                let key = channel_key(channel, query.as_ref());
                if let Some(entry) = sid.and_then(|sid| inner.sockets.get_mut(sid)) {
                    entry.channels.insert(key);
                    let id = entry.info.id.clone();
                    channel_of(&mut inner.channels, channel, query.as_ref())
                        .members
                        .insert(id);
                }
            }
            Body::Unsubscribe { channel, query } => {
                let key = channel_key(channel, query.as_ref());
                if let Some(entry) = sid.and_then(|sid| inner.sockets.get_mut(sid)) {
                    entry.channels.remove(&key);
                }
                if let (Some(sid), Some(ch)) = (sid, inner.channels.get_mut(&key)) {
                    ch.members.remove(sid);
                }
            }
            Body::ProtocolError { .. }
            | Body::Fault { .. }
            | Body::Refused { .. }
            | Body::FaultRules { .. }
            | Body::Offline { .. }
            | Body::Online { .. }
            | Body::SlowConsumer { .. } => {}
        }
    }

    /// Whom a push from `except` reaches: how many sockets, and the ids of the first
    /// `MAX_RECIPIENT_IDS` of them. One walk over the target's members under the lock
    /// the count already took.
    pub fn recipients(&self, target: &Target, except: Option<&str>) -> Recipients {
        self.collect_recipients(target, except, MAX_RECIPIENT_IDS)
    }

    /// How many sockets a push from `except` reaches, without listing them.
    pub fn recipient_count(&self, target: &Target, except: Option<&str>) -> u32 {
        self.collect_recipients(target, except, 0).count
    }

    fn collect_recipients(
        &self,
        target: &Target,
        except: Option<&str>,
        max_ids: usize,
    ) -> Recipients {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let others = |id: &&str| Some(*id) != except;
        let members = |key: &str| {
            inner
                .channels
                .get(key)
                .into_iter()
                .flat_map(|channel| channel.members.iter().map(String::as_str))
        };
        match target {
            // A direct emit reaches its socket even when it caused it.
            Target::Socket { id } => Recipients::counted(
                inner.sockets.get_key_value(id).map(|(id, _)| id.as_str()),
                max_ids,
            ),
            // Everyone, the causing socket included (a broadcast to all).
            Target::All => Recipients::counted(inner.sockets.keys().map(String::as_str), max_ids),
            Target::Iobind { ns } => {
                let dialect = format!("iobind:{ns}");
                let speakers = inner
                    .sockets
                    .values()
                    .filter(|entry| entry.dialects.contains(&dialect))
                    .map(|entry| entry.info.id.as_str());
                Recipients::counted(speakers.filter(others), max_ids)
            }
            Target::Channel { url } => Recipients::counted(members(url).filter(others), max_ids),
            Target::Query { url, query } => Recipients::counted(
                members(&channel_key(url, Some(query))).filter(others),
                max_ids,
            ),
        }
    }

    /// The ids of the live sockets of `client`.
    pub fn sockets_of_client(&self, client: &str) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .sockets
            .values()
            .filter(|e| e.info.client.as_deref() == Some(client))
            .map(|e| e.info.id.clone())
            .collect()
    }

    /// The client id of a live socket, when it named one.
    pub fn client_of(&self, sid: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sockets.get(sid).and_then(|e| e.info.client.clone())
    }

    pub fn transport_of(&self, sid: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sockets.get(sid).map(|e| e.info.transport.clone())
    }

    pub fn sockets(&self) -> Vec<SocketInfo> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<SocketInfo> = inner
            .sockets
            .values()
            .map(|e| SocketInfo {
                dialects: e.dialects.iter().cloned().collect(),
                channels: e.channels.iter().cloned().collect(),
                ..e.info.clone()
            })
            .collect();
        list.sort_by(|a, b| {
            a.connected_at_us
                .cmp(&b.connected_at_us)
                .then(a.id.cmp(&b.id))
        });
        list
    }

    pub fn channels(&self) -> Vec<ChannelInfo> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .channels
            .iter()
            .map(|(key, c)| ChannelInfo {
                url: if c.url.is_empty() {
                    key.clone()
                } else {
                    c.url.clone()
                },
                query: c.query.clone(),
                members: c.members.iter().cloned().collect(),
                changes: c.changes,
                last_change_at_us: c.last_change_at_us,
            })
            .collect()
    }

    /// The channels of socket `sid`: each one's url and, for a live query, its query.
    pub fn subscriptions(&self, sid: &str) -> Vec<(String, Option<Value>)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = inner.sockets.get(sid) else {
            return Vec::new();
        };
        entry
            .channels
            .iter()
            .map(|key| match inner.channels.get(key) {
                Some(c) if !c.url.is_empty() => (c.url.clone(), c.query.clone()),
                _ => (key.clone(), None),
            })
            .collect()
    }

    pub fn counts(&self) -> (u64, u64) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.sockets.len() as u64, inner.channels.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn apply(registry: &Registry, socket: &str, body: Value) {
        let mut record = json!({"seq": 0, "at_us": 0, "socket": socket, "origin": "client"});
        record
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        registry.apply(&serde_json::from_value(record).unwrap(), 0);
    }

    /// Sockets a, b, c; b and c subscribed to /todos, c also to its live query
    /// `{done: true}`; a and b spoke iobind for `todos`.
    fn three_sockets() -> Registry {
        let registry = Registry::default();
        for id in ["a", "b", "c"] {
            apply(
                &registry,
                id,
                json!({"kind": "connect", "transport": "websocket", "protocol": "EIO4",
                       "remote_addr": null, "user_agent": null, "http_origin": null,
                       "auth": null, "query": null}),
            );
        }
        for id in ["b", "c"] {
            apply(
                &registry,
                id,
                json!({"kind": "subscribe", "channel": "/todos"}),
            );
        }
        apply(
            &registry,
            "c",
            json!({"kind": "subscribe", "channel": "/todos", "query": {"done": true}}),
        );
        for id in ["a", "b"] {
            apply(
                &registry,
                id,
                json!({"kind": "ack_out", "request_seq": 0, "event": "todos:create",
                       "dialect": "iobind:todos", "latency_us": 1, "error": null,
                       "args": []}),
            );
        }
        registry
    }

    fn ids(found: &Recipients) -> Vec<&str> {
        let mut ids: Vec<&str> = found.ids.iter().map(String::as_str).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_push_reaches_the_targets_members_but_not_the_socket_that_caused_it() {
        let registry = three_sockets();
        let channel = Target::Channel {
            url: "/todos".into(),
        };
        let found = registry.recipients(&channel, Some("b"));
        assert_eq!((found.count, ids(&found)), (1, vec!["c"]));
        let found = registry.recipients(&channel, None);
        assert_eq!((found.count, ids(&found)), (2, vec!["b", "c"]));

        let query = Target::Query {
            url: "/todos".into(),
            query: json!({"done": true}),
        };
        assert_eq!(registry.recipient_count(&query, Some("b")), 1);
        assert_eq!(registry.recipient_count(&query, Some("c")), 0);

        // Only the sockets that spoke iobind, less the writer: a lone iobind writer
        // has nobody to push to.
        let iobind = Target::Iobind { ns: "todos".into() };
        let found = registry.recipients(&iobind, Some("a"));
        assert_eq!((found.count, ids(&found)), (1, vec!["b"]));
        assert_eq!(registry.recipient_count(&iobind, Some("c")), 2);
    }

    #[test]
    fn a_direct_emit_or_a_broadcast_reaches_the_causing_socket_too() {
        let registry = three_sockets();
        let direct = Target::Socket { id: "a".into() };
        let found = registry.recipients(&direct, Some("a"));
        assert_eq!((found.count, ids(&found)), (1, vec!["a"]));
        let gone = Target::Socket { id: "zz".into() };
        assert_eq!(registry.recipient_count(&gone, None), 0);
        let found = registry.recipients(&Target::All, Some("a"));
        assert_eq!((found.count, ids(&found)), (3, vec!["a", "b", "c"]));
        // Counting only lists nobody.
        assert_eq!(registry.recipient_count(&Target::All, None), 3);
    }
}
