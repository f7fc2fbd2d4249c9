//! Syncscope's core: a local realtime sync server for Backbone.js apps over Socket.IO.
//!
//! Data flows endpoint → dialect → sync → store (docs/ARCHITECTURE.md). Nothing here
//! depends on Tauri: the desktop shell starts [`server::start`] in-process.

pub mod access;
pub mod assets;
pub mod channel_seq;
pub mod clean_tx;
pub mod client_report;
pub mod control;
pub mod db_lock;
pub mod dialect;
pub mod embed_check;
pub mod emit_args;
pub mod endpoint;
pub mod error;
pub mod fault_cli;
pub mod fault_control;
pub mod fault_store;
pub mod faults;
pub mod foreign_db;
pub mod handshake_guard;
pub mod har;
pub mod inject;
pub mod inspect;
pub mod live_replay;
pub mod outbound;
pub mod outcome;
pub mod owned_head;
pub mod pacing;
pub mod port_search;
pub mod push_faults;
pub mod query;
pub mod replay;
pub mod rooms;
pub mod server;
pub mod session_file;
pub mod sio;
pub mod store;
pub mod sync;
pub mod token_file;
pub mod transport;
pub mod untrusted_input;
pub mod url;

pub use server::{start, Config, Running, StartError};
pub use store::DbLocation;

/// The version and the commit it was built from, as `syncscope --version` and the window's
/// About dialog show them: "0.1.0 (abc1234)", or "0.1.0 (unknown)" built outside git.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SYNCSCOPE_COMMIT"),
    ")"
);
