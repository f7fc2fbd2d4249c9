//! Carries out commands against the store and pushes committed changes to the
//! channels that listen: native subscribers get `change`, iobind listeners get the
//! events `ioBind` waits for, in both url spellings.

use std::sync::Arc;

use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;
use socketioxide::SocketIo;

use crate::dialect::{Command, Dialect};
use crate::error::SyncError;
use crate::inspect::types::{Origin, Target};
use crate::inspect::Inspector;
use crate::outcome::Outcome;
use crate::query::{Audience, Query, QuerySince, Rooms};
use crate::rooms::{channel_room, iobind_room};
use crate::store::{Change, Model, Op, Since, Store};
use crate::url::Url;

/// A `change` push: the change and the seq of the channel's change before it.
#[derive(serde::Serialize)]
struct Push<'a> {
    #[serde(flatten)]
    change: &'a Change,
    prev: i64,
}

pub struct Sync {
    pub store: Arc<Store>,
    pub io: SocketIo,
    pub max_data: usize,
    pub inspect: Arc<Inspector>,
    /// Rules the inspector set; checked for every request before it runs.
    pub faults: Arc<crate::faults::Faults>,
    /// Where the rules are kept, written after every change (crate::fault_store).
    pub fault_store: crate::fault_store::FaultStore,
    /// The pushes a `push_reorder` rule holds (crate::push_faults).
    pub held_pushes: Arc<crate::push_faults::HeldPushes>,
    /// The live replay of a stored session's pushes, driven from the control API.
    pub replay: Arc<crate::live_replay::Player>,
    /// The live queries sockets subscribed to, and what each one's result holds.
    pub queries: Rooms,
    /// The connections under the sockets: cuts, and bytes waiting to be sent.
    pub transport: crate::transport::Transport,
    /// Each channel's latest seq, for `prev` and the subscribe ack's `last`.
    pub channel_seqs: crate::channel_seq::ChannelSeqs,
}

impl Sync {
    /// Runs one command for `origin` (None for writes made by the inspector). `reply` is
    /// called before any push, while the write lock is held, so a client always gets its
    /// subscribe ack before the changes that follow it.
    pub async fn run(
        &self,
        origin: Option<&SocketRef>,
        dialect: &Dialect,
        command: Command,
        reply: impl FnOnce(Result<Outcome, SyncError>),
    ) {
        if let (Some(socket), Dialect::Iobind { ns }) = (origin, dialect) {
            socket.join(iobind_room(ns));
        }
        match command {
            Command::ReadCollection { collection } => {
                reply(self.read_collection(&collection).await);
            }
            Command::ReadModel { collection, id } => {
                reply(self.read_model(&collection, &id).await);
            }
            Command::ReadEither { url } => {
                reply(self.read_either(&url).await);
            }
            Command::ReadQuery { collection, query } => {
                reply(
                    self.store
                        .read_collection(&collection)
                        .await
                        .map(|(models, seq)| Outcome::Collection {
                            models: query.run(models),
                            seq,
                        }),
                );
            }
            Command::Write { collection, write } => {
                // Acked and pushed while `committed` is held: the writer hands the next
                // write over only after (writer::Committed), so pushes go out in seq
                // order and `prev` follows the channel's chain.
                match self.store.commit(&collection, write).await {
                    Ok(committed) => match &committed.result {
                        Ok(change) => {
                            let prev = self
                                .channel_seqs
                                .advance(&self.store, &collection, change.seq)
                                .await;
                            reply(Ok(Outcome::Written {
                                change: change.clone(),
                                prev,
                            }));
                            self.push(origin, &collection, change, prev).await;
                            self.push_to_queries(origin, &collection, change).await;
                        }
                        Err(e) => reply(Err(e.clone())),
                    },
                    Err(e) => reply(Err(e)),
                }
            }
            Command::Subscribe {
                collection,
                since,
                query: Some(query),
            } => {
                let lock = self.store.lock().await;
                match self
                    .subscribe_query(&lock, &collection, since, &query)
                    .await
                {
                    Ok((outcome, result)) => {
                        if let Some(socket) = origin {
                            let sid = socket.id.to_string();
                            self.queries.join(&sid, &collection, &query, &result);
                            socket.join(crate::query::room_name(&collection, &query));
                            self.inspect
                                .subscribed(&sid, collection.as_str(), Some(query.wire()));
                        }
                        reply(Ok(outcome));
                    }
                    Err(e) => reply(Err(e)),
                }
            }
            Command::Subscribe {
                collection,
                since,
                query: None,
            } => {
                let lock = self.store.lock().await;
                let outcome = async {
                    let seq = self.store.last_seq().await?;
                    let last = self
                        .channel_seqs
                        .last(&self.store, &collection, None)
                        .await?;
                    let since = match since {
                        Some(since) => Some(self.store.since(&lock, &collection, since).await?),
                        None => None,
                    };
                    Ok(Outcome::Subscribed {
                        url: collection.to_string(),
                        seq,
                        last,
                        since,
                        max_data: self.max_data,
                    })
                }
                .await;
                if outcome.is_ok() {
                    if let Some(socket) = origin {
                        socket.join(channel_room(&collection));
                        self.inspect
                            .subscribed(&socket.id.to_string(), collection.as_str(), None);
                    }
                }
                reply(outcome);
            }
            Command::Unsubscribe { collection, query } => {
                if let Some(socket) = origin {
                    let sid = socket.id.to_string();
                    match &query {
                        Some(query) => {
                            socket.leave(crate::query::room_name(&collection, query));
                            self.queries.leave(&sid, &collection, query);
                        }
                        None => socket.leave(channel_room(&collection)),
                    }
                    self.inspect.unsubscribed(
                        &sid,
                        collection.as_str(),
                        query.as_ref().map(|q| q.wire()),
                    );
                }
                reply(Ok(Outcome::Unsubscribed {
                    url: collection.to_string(),
                    query: query.map(|q| q.wire()),
                }));
            }
        }
    }

    /// A live query's subscribe, under the write lock: the room learns the query's
    /// result now, and a `since` gets what the client missed, narrowed to the query.
    /// Returns the outcome and the result it was computed from.
    async fn subscribe_query(
        &self,
        lock: &crate::store::WriteLock<'_>,
        collection: &Url,
        since: Option<i64>,
        query: &Query,
    ) -> Result<(Outcome, Vec<Model>), SyncError> {
        let (models, seq) = self.store.read_collection(collection).await?;
        let result = query.run(models);
        let since = match since {
            None => None,
            Some(_) if query.is_ordered() => Some(QuerySince::Result(result.clone())),
            Some(since) => Some(match self.store.since(lock, collection, since).await? {
                Since::Reset(_) => QuerySince::Result(result.clone()),
                Since::Changes(changes) => {
                    QuerySince::Changes(crate::query::catch_up(query, changes))
                }
            }),
        };
        Ok((
            Outcome::QuerySubscribed {
                url: collection.to_string(),
                query: query.wire(),
                seq,
                since,
                max_data: self.max_data,
            },
            result,
        ))
    }

    /// Tells each live query of `collection` what a committed write means to its
    /// result (crate::query). Unlike a channel's, these pushes reach the writer too:
    /// only the server knows whether a write moved a model into or out of a query.
    async fn push_to_queries(&self, origin: Option<&SocketRef>, collection: &Url, change: &Change) {
        let rooms = self.queries.of(collection);
        if rooms.is_empty() {
            return;
        }
        let all = if rooms.iter().any(|r| r.query.is_ordered()) {
            match self.store.read_collection(collection).await {
                Ok((models, _)) => Some(models),
                Err(e) => {
                    tracing::warn!(url = %collection, seq = change.seq, "cannot read the collection for its ordered queries: {e}");
                    None
                }
            }
        } else {
            None
        };
        let writer = origin.map(|s| s.id.to_string());
        let tag = if origin.is_some() {
            Origin::Server
        } else {
            Origin::Inspector
        };
        for room in rooms {
            let routed = self
                .queries
                .route(&room.room, change, all.as_deref(), writer.as_deref());
            let Some((push, audience)) = routed else {
                continue;
            };
            // No `prev`: a query hears only the changes that concern its result, so
            // the channel's chain would show a gap at every other write to the url
            // (docs/PROTOCOL.md, *Queries and gaps*).
            let payload = push.payload(collection, &room.query);
            // Charged to each recipient like a channel's push (crate::outbound).
            let bytes = || crate::outbound::packet_bytes("change", &payload);
            let (sent, target, to) = match (audience, origin) {
                (Audience::Writer, Some(socket)) => {
                    let to = self.outbound().admit(vec![socket.clone()], bytes);
                    let sent = match to.first() {
                        Some(socket) => socket.emit("change", &payload).map_err(|e| e.to_string()),
                        None => Ok(()),
                    };
                    (
                        sent,
                        Target::Socket {
                            id: socket.id.to_string(),
                        },
                        to,
                    )
                }
                _ => {
                    let sockets = self.io.to(room.room.clone()).sockets();
                    let to = self.outbound().admit(sockets, bytes);
                    let sent = if to.is_empty() {
                        Ok(())
                    } else {
                        self.io
                            .to(room.room.clone())
                            .emit("change", &payload)
                            .await
                            .map_err(|e| e.to_string())
                    };
                    (
                        sent,
                        Target::Query {
                            url: collection.to_string(),
                            query: room.query.wire(),
                        },
                        to,
                    )
                }
            };
            if let Err(e) = sent {
                tracing::warn!(url = %collection, seq = change.seq, "push to a live query failed: {e}");
            }
            // Recorded from no socket: the writer is among the recipients.
            self.inspect.pushed_exact(
                None,
                tag,
                target,
                "change",
                vec![payload],
                crate::outbound::recipients(&to),
            );
        }
    }

    /// A url that may be a model or a collection (docs/PROTOCOL.md, *read*): the model
    /// when it exists; else the collection when it has models; else `not_found` when the
    /// url names a model of a known collection (it has models, or once had this one:
    /// `/items/ID` after ID was deleted); else an unknown collection, `[]`.
    async fn read_either(&self, url: &Url) -> Result<Outcome, SyncError> {
        let Some((collection, id)) = url.split_model() else {
            return self.read_collection(url).await;
        };
        if let Some((model, seq)) = self.store.read_model_with_seq(&collection, &id).await? {
            return Ok(Outcome::Model { model, seq });
        }
        let (models, seq) = self.store.read_collection(url).await?;
        if models.is_empty() && self.store.names_model_of_known(&collection, &id).await? {
            return Err(SyncError::NotFound {
                url: url.to_string(),
            });
        }
        Ok(Outcome::Collection { models, seq })
    }

    async fn read_collection(&self, collection: &Url) -> Result<Outcome, SyncError> {
        let (models, seq) = self.store.read_collection(collection).await?;
        Ok(Outcome::Collection { models, seq })
    }

    async fn read_model(&self, collection: &Url, id: &str) -> Result<Outcome, SyncError> {
        match self.store.read_model_with_seq(collection, id).await? {
            Some((model, seq)) => Ok(Outcome::Model { model, seq }),
            None => Err(SyncError::NotFound {
                url: collection.model_url(id),
            }),
        }
    }

    /// What sending to sockets needs (crate::outbound), without the rest of `Sync`.
    pub fn outbound(&self) -> crate::outbound::Outbound<'_> {
        crate::outbound::Outbound {
            inspect: &self.inspect,
            transport: &self.transport,
        }
    }

    /// What tampering with pushes needs (crate::push_faults), without the rest of `Sync`.
    pub fn push_faults(&self) -> crate::push_faults::PushFaults<'_> {
        crate::push_faults::PushFaults {
            faults: &self.faults,
            held: &self.held_pushes,
            inspect: &self.inspect,
            store: &self.fault_store,
        }
    }

    /// Everyone listening to `collection` but the writer.
    fn to(&self, origin: Option<&SocketRef>, room: String) -> BroadcastOperators {
        match origin {
            Some(socket) => socket.to(room),
            None => self.io.to(room),
        }
    }

    async fn push(&self, origin: Option<&SocketRef>, collection: &Url, change: &Change, prev: i64) {
        let writer = origin.map(|s| s.id.to_string());
        let tag = if origin.is_some() {
            Origin::Server
        } else {
            Origin::Inspector
        };
        let push = Push { change, prev };
        let change_json = serde_json::to_value(&push).unwrap_or_default();
        // Charged to each recipient; one over the bound is cut, not sent to, and not
        // counted (crate::outbound).
        let room = channel_room(collection);
        let bytes = || crate::outbound::packet_bytes("change", &push);
        let to = self
            .outbound()
            .admit(self.to(origin, room.clone()).sockets(), bytes);
        // Push rules may drop, repeat, delay or hold it per recipient (crate::push_faults).
        let tampered = crate::push_faults::plan(self.push_faults(), &to, collection);
        let recipients = match &tampered {
            Some(plan) => plan.recipients(),
            None => crate::outbound::recipients(&to),
        };
        // The record takes the push's JSON; a copy is kept only when faults carry it on.
        let kept_json = tampered.as_ref().map(|_| change_json.clone());
        self.inspect.pushed_exact(
            writer.as_deref(),
            tag,
            Target::Channel {
                url: collection.to_string(),
            },
            "change",
            vec![change_json],
            recipients,
        );
        if let (Some(plan), Some(change_json)) = (tampered, kept_json) {
            crate::push_faults::carry_out(
                self.push_faults(),
                plan,
                collection,
                change.seq,
                &change_json,
            )
            .await;
        } else if !to.is_empty() {
            let sent = self.to(origin, room).emit("change", &push).await;
            if let Err(e) = sent {
                tracing::warn!(url = %collection, seq = change.seq, "push of change failed: {e}");
            }
        }
        if !collection.is_single_segment() {
            return;
        }
        let ns = collection.first_segment();
        // Most apps speak one dialect: without an iobind listener besides the writer,
        // its two events would only add empty pushes to the log.
        let iobind = Target::Iobind { ns: ns.to_string() };
        if self
            .inspect
            .bus
            .registry
            .recipient_count(&iobind, writer.as_deref())
            == 0
        {
            return;
        }
        // ioBind listens on `<collection url>:create` and `<model url>:update|delete`,
        // with the url spelled as the app spelled it: with or without the leading slash.
        let model_url = collection.model_url(&change.id);
        let (suffix, target) = match change.op {
            Op::Create => ("create", ns),
            Op::Update | Op::Patch => ("update", &model_url[1..]),
            Op::Delete => ("delete", &model_url[1..]),
        };
        for spelling in [format!("{target}:{suffix}"), format!("/{target}:{suffix}")] {
            let sent = self
                .to(origin, iobind_room(ns))
                .emit(&spelling, &change.data)
                .await;
            if let Err(e) = sent {
                tracing::warn!(event = %spelling, "iobind push failed: {e}");
            }
            self.inspect.pushed(
                writer.as_deref(),
                tag,
                iobind.clone(),
                &spelling,
                vec![change.data.clone()],
            );
        }
    }
}
