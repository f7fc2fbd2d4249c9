//! Socket.IO from the client's side: the packet codec and a client that speaks like
//! the npm socket.io-client, 2 (EIO3) or 4 (EIO4), over WebSocket or polling.
//!
//! Replay plays recorded apps through it, HAR import decodes captured frames with its
//! codec, and the tests drive the server with it, so all three agree on the wire.

pub mod client;
pub mod packet;

pub use client::{Client, ClientError, ConnectOptions, Incoming, Transport};
pub use packet::Eio;
