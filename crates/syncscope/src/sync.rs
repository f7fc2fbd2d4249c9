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
use crate::store::{Change, Model, Op, Since, Store};
use crate::url::Url;

pub enum Outcome {
    Model(Model, i64),
    Collection(Vec<Model>, i64),
    Written(Change),
    Subscribed {
        url: String,
        seq: i64,
        since: Option<Since>,
    },
    Unsubscribed {
        url: String,
    },
}

/// The room of a native channel (a collection url).
pub fn channel_room(collection: &Url) -> String {
    format!("channel:{collection}")
}

/// The room of the sockets that spoke the iobind dialect for a namespace.
pub fn iobind_room(ns: &str) -> String {
    format!("iobind:{ns}")
}

pub struct Sync {
    pub store: Arc<Store>,
    pub io: SocketIo,
    pub max_data: usize,
    pub inspect: Arc<Inspector>,
    /// Rules the inspector set; checked for every request before it runs.
    pub faults: crate::faults::Faults,
    /// The live replay of a stored session's pushes, driven from the control API.
    pub replay: Arc<crate::replay::live::Player>,
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
                // Acked and pushed while `committed` is held: the writer hands the next
                // write over only after (store::Committed), so pushes go out in seq order.
                match self.store.commit(&collection, write).await {
                    Ok(committed) => match &committed.result {
                        Ok(change) => {
                            reply(Ok(Outcome::Written(change.clone())));
                            self.push(origin, &collection, change).await;
                        }
                        Err(e) => reply(Err(e.clone())),
                    },
                    Err(e) => reply(Err(e)),
                }
            }
            Command::Subscribe { collection, since } => {
                let lock = self.store.lock().await;
                let outcome = async {
                    let seq = self.store.last_seq().await?;
                    let since = match since {
                        Some(since) => Some(self.store.since(&lock, &collection, since).await?),
                        None => None,
                    };
                    Ok(Outcome::Subscribed {
                        url: collection.to_string(),
                        seq,
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
        if let Some((model, seq)) = self.store.read_model_with_seq(&collection, &id).await? {
            return Ok(Outcome::Model(model, seq));
        }
        let (models, seq) = self.store.read_collection(url).await?;
        if models.is_empty() && self.store.names_model_of_known(&collection, &id).await? {
            return Err(SyncError::NotFound {
                url: url.to_string(),
            });
        }
        Ok(Outcome::Collection(models, seq))
    }

    async fn read_collection(&self, collection: &Url) -> Result<Outcome, SyncError> {
        let (models, seq) = self.store.read_collection(collection).await?;
        Ok(Outcome::Collection(models, seq))
    }

    async fn read_model(&self, collection: &Url, id: &str) -> Result<Outcome, SyncError> {
        match self.store.read_model_with_seq(collection, id).await? {
            Some((model, seq)) => Ok(Outcome::Model(model, seq)),
            None => Err(SyncError::NotFound {
                url: collection.model_url(id),
            }),
        }
    }

    /// Everyone listening to `collection` but the writer.
    fn to(&self, origin: Option<&SocketRef>, room: String) -> BroadcastOperators {
        match origin {
            Some(socket) => socket.to(room),
            None => self.io.to(room),
        }
    }

    async fn push(&self, origin: Option<&SocketRef>, collection: &Url, change: &Change) {
        let writer = origin.map(|s| s.id.to_string());
        let tag = if origin.is_some() {
            Origin::Server
        } else {
            Origin::Inspector
        };
        let change_json = serde_json::to_value(change).unwrap_or_default();
        self.inspect.pushed(
            writer.as_deref(),
            tag,
            Target::Channel {
                url: collection.to_string(),
            },
            "change",
            vec![change_json],
        );
        let sent = self
            .to(origin, channel_room(collection))
            .emit("change", change)
            .await;
        if let Err(e) = sent {
            tracing::warn!(url = %collection, seq = change.seq, "push of change failed: {e}");
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
