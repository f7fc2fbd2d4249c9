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
use crate::rooms::{channel_room, iobind_room};
use crate::store::{Change, Op, Store};
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
    /// The live replay of a stored session's pushes, driven from the control API.
    pub replay: Arc<crate::live_replay::Player>,
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
            Command::Write { collection, write } => {
                let lock = self.store.lock().await;
                match self.store.write(&lock, &collection, write).await {
                    Ok(change) => {
                        let prev = self
                            .channel_seqs
                            .advance(&self.store, &collection, change.seq)
                            .await;
                        reply(Ok(Outcome::Written {
                            change: change.clone(),
                            prev,
                        }));
                        self.push(origin, &collection, &change, prev).await;
                    }
                    Err(e) => reply(Err(e)),
                }
            }
            Command::Subscribe { collection, since } => {
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
                    })
                }
                .await;
                if outcome.is_ok() {
                    if let Some(socket) = origin {
                        socket.join(channel_room(&collection));
                        self.inspect
                            .subscribed(&socket.id.to_string(), collection.as_str());
                    }
                }
                reply(outcome);
            }
            Command::Unsubscribe { collection } => {
                if let Some(socket) = origin {
                    socket.leave(channel_room(&collection));
                    self.inspect
                        .unsubscribed(&socket.id.to_string(), collection.as_str());
                }
                reply(Ok(Outcome::Unsubscribed {
                    url: collection.to_string(),
                }));
            }
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
        if let Some(model) = self.store.read_model(&collection, &id).await? {
            return self.with_seq(|seq| Outcome::Model { model, seq }).await;
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
        match self.store.read_model(collection, id).await? {
            Some(model) => self.with_seq(|seq| Outcome::Model { model, seq }).await,
            None => Err(SyncError::NotFound {
                url: collection.model_url(id),
            }),
        }
    }

    async fn with_seq(&self, f: impl FnOnce(i64) -> Outcome) -> Result<Outcome, SyncError> {
        Ok(f(self.store.last_seq().await?))
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
        let bytes = crate::outbound::packet_bytes("change", &push);
        let to = crate::outbound::admit(self, self.to(origin, room.clone()).sockets(), bytes);
        self.inspect.pushed_exact(
            writer.as_deref(),
            tag,
            Target::Channel {
                url: collection.to_string(),
            },
            "change",
            vec![change_json],
            crate::outbound::ids(&to),
        );
        if !to.is_empty() {
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
