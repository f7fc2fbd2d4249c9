//! Every reader of input the server does not control, behind one door each, for the
//! fuzzer (fuzz/, `make fuzz`) and for the corpus test that replays what it found
//! (tests/fuzz_corpus.rs).
//!
//! The fuzz targets and the corpus test must exercise exactly the same code, or a crash
//! the fuzzer found could pass the suite unnoticed; so the harness lives here, in the
//! library, and both call it. Each function takes raw bytes, feeds them to the real
//! parser and, where the parse succeeds, to the real code behind it, and panics only
//! when a property the server promises is broken (a panic is what the fuzzer reports):
//! never a panic inside the server, never an `internal` error for a client's mistake,
//! and normalised urls that stay normalised.

use std::sync::Arc;

use serde_json::Value;
use socketioxide::SocketIo;

use crate::control::{self, ControlState};
use crate::dialect;
use crate::error::SyncError;
use crate::inspect::recorder::Recorder;
use crate::inspect::types::{ClientMessage, Command, CommandResult};
use crate::inspect::Inspector;
use crate::live_replay::Player;
use crate::store::{DbLocation, Store};
use crate::sync::Sync;
use crate::url::{Url, MAX_URL_LEN};

/// The largest `data` the harness lets through, as `syncscope serve` does by default.
const MAX_DATA: usize = 256 * 1024;

/// A url as a client sends it: parsed, and when it parses, normalised for good.
pub fn url(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = Url::parse(raw) else {
        return;
    };
    let again = Url::parse(url.as_str())
        .unwrap_or_else(|e| panic!("{raw:?} normalised to {url}, which is refused: {e}"));
    assert_eq!(again, url, "normalising {raw:?} twice changed it");
    url.first_segment();
    url.is_single_segment();
    if let Some((collection, id)) = url.split_model() {
        let rebuilt = collection.model_url(&id);
        if rebuilt.len() <= MAX_URL_LEN {
            let (collection2, id2) = Url::parse(&rebuilt)
                .unwrap_or_else(|e| panic!("model url {rebuilt} of {raw:?} is refused: {e}"))
                .split_model()
                .unwrap_or_else(|| panic!("model url {rebuilt} of {raw:?} names no model"));
            assert_eq!(
                (collection2, id2),
                (collection, id),
                "{raw:?} via {rebuilt}"
            );
        }
    }
}

/// A Socket.IO event's payload as socketioxide hands it over: the JSON array
/// `["event", arg]`. None when it is not one (socketioxide refuses those itself).
fn event_of(data: &[u8]) -> Option<(String, Value)> {
    let Ok(Value::Array(mut parts)) = serde_json::from_slice::<Value>(data) else {
        return None;
    };
    if parts.is_empty() {
        return None;
    }
    let Value::String(event) = parts.remove(0) else {
        return None;
    };
    let arg = if parts.is_empty() {
        Value::Null
    } else {
        parts.remove(0)
    };
    Some((event, arg))
}

/// A client's event read into a dialect and a command, without a store.
pub fn request(data: &[u8]) {
    let Some((event, arg)) = event_of(data) else {
        return;
    };
    if let Ok((_, command)) = dialect::parse(&event, arg, MAX_DATA) {
        command.url();
    }
}

/// A session file (`syncscope replay`, `import`, `POST /sessions/import`), read and,
/// when valid, turned into a replay script.
pub fn session_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = crate::session_file::parse(text) {
        let script = crate::replay::script::build(&file);
        for client in &script.clients {
            client.describe();
        }
    }
}

/// A HAR file (`syncscope import x.har`), turned into a session.
pub fn har(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(imported) = crate::har::import(text, None) {
        let file = crate::session_file::parse(&imported.to_ndjson())
            .unwrap_or_else(|e| panic!("a HAR imported into a session file that is refused: {e}"));
        crate::replay::script::build(&file);
    }
}

/// A server without a network: a `:memory:` store, the recorder, the inspector and a
/// Socket.IO layer no socket is connected to. Events and control commands are carried
/// out against it as the endpoint and the control API would.
pub struct Dispatcher {
    runtime: tokio::runtime::Runtime,
    control: ControlState,
}

impl Dispatcher {
    pub fn new() -> Dispatcher {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let control = runtime.block_on(async {
            let store = Arc::new(
                Store::open(DbLocation::Memory, 1000)
                    .await
                    .expect("a memory store"),
            );
            let (_layer, io) = SocketIo::builder().build_layer();
            let recorder = Recorder::start(store.pool().clone(), 10_000, 16 << 20)
                .await
                .expect("the recorder starts");
            // The server's fault rules, kept in the store as the server keeps them, with
            // a fixed seed so that a fuzz input draws the same toxicity on every run.
            let faults = Arc::new(crate::faults::Faults::new(0, Vec::new()));
            let fault_store = crate::fault_store::FaultStore::new(store.pool().clone());
            let inspector = Arc::new(Inspector::with_faults(recorder, faults.clone()));
            let replay = Arc::new(Player::new(
                io.clone(),
                store.pool().clone(),
                inspector.clone(),
            ));
            let sync = Arc::new(Sync {
                store,
                io: io.clone(),
                max_data: MAX_DATA,
                inspect: inspector.clone(),
                faults,
                fault_store,
                held_pushes: Default::default(),
                replay,
                transport: crate::transport::Transport::new(
                    crate::outbound::DEFAULT_MAX_QUEUED_BYTES,
                ),
                channel_seqs: Default::default(),
                queries: Default::default(),
            });
            // The default namespace, as the server has it (emits to rooms need it).
            crate::endpoint::attach(&io, sync.clone());
            ControlState {
                inspector,
                sync,
                io,
                token: "fuzz".into(),
                port: 4000,
                host: "127.0.0.1".into(),
            }
        });
        Dispatcher { runtime, control }
    }

    /// A client's event, parsed and carried out against the store. A client's mistake
    /// must be answered as one, never as the server's own failure (`internal`).
    pub fn event(&self, data: &[u8]) {
        let Some((event, arg)) = event_of(data) else {
            return;
        };
        let Ok((dialect, command)) = dialect::parse(&event, arg, MAX_DATA) else {
            return;
        };
        let sync = &self.control.sync;
        self.runtime.block_on(async {
            let mut answer: Option<Result<Value, SyncError>> = None;
            sync.run(None, &dialect, command, |outcome| {
                answer = Some(outcome.map(|o| dialect::render(&dialect, o)));
            })
            .await;
            match answer {
                None => panic!("{event} got no answer"),
                Some(Err(SyncError::Internal(message))) => {
                    panic!("{event} failed inside the server: {message}")
                }
                Some(_) => {}
            }
        });
    }

    /// A message of the control API (`POST /command` body or a WebSocket message),
    /// parsed and, when it is a command, carried out.
    pub fn control(&self, data: &[u8]) {
        let command = match serde_json::from_slice::<ClientMessage>(data) {
            Ok(ClientMessage::Command { command, .. }) => command,
            Ok(ClientMessage::Watch { filter }) => {
                serde_json::to_string(&filter).expect("a filter serialises");
                return;
            }
            Ok(ClientMessage::Unwatch) => return,
            Err(_) => match serde_json::from_slice::<Command>(data) {
                Ok(command) => command,
                Err(_) => return,
            },
        };
        let shown = format!("{command:?}");
        let result = self.runtime.block_on(control::run(&self.control, command));
        if let CommandResult::Error { code, message, .. } = &result {
            assert_ne!(
                code, "internal",
                "{shown} failed inside the server: {message}"
            );
        }
        serde_json::to_string(&result).expect("a command result serialises");
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher::new()
    }
}
