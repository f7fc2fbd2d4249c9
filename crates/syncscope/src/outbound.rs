//! What leaves the server for a socket beyond its acks: cuts, and the bound on what may
//! wait to be sent to one socket.
//!
//! Why: socketioxide keeps every packet of a socket that does not read in memory (its
//! buffer counts packets, not bytes), so one stalled subscriber of a busy channel held
//! hundreds of MB, and once the buffer was full it silently lost pushes. Here each push
//! is charged, in bytes, to every socket it goes to; the transport (crate::transport)
//! credits what each connection writes. A socket over the bound is cut at the TCP level
//! (its client reconnects and catches up with `subscribe since`) and left out of the
//! push, with a `slow_consumer` record saying how much waited.

use socketioxide::extract::SocketRef;

use crate::inspect::registry::Recipients;
use crate::inspect::types::Origin;
use crate::inspect::Inspector;
use crate::transport::{Cut, Transport};

/// The default bound on what may wait to be sent to one socket (`--max-queued-bytes`).
pub const DEFAULT_MAX_QUEUED_BYTES: u64 = 4 * 1024 * 1024;

/// The two things sending needs: the transport that counts and cuts, the inspector
/// that records why (crate::sync::Sync hands them out; this module never sees it).
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub inspect: &'a Inspector,
    pub transport: &'a Transport,
}

impl Outbound<'_> {
    /// Ends `socket`'s connections (crate::transport::Transport::cut); `why` goes into its
    /// disconnect record, with `by` as its origin. None when the socket is already gone.
    pub fn cut(self, socket: &SocketRef, by: Origin, why: String) -> Option<Cut> {
        let sid = socket.id.to_string();
        self.inspect.disconnect_reason_from(&sid, by, why);
        let cut = match self.transport.cut(&sid) {
            Ok(cut) => cut,
            Err(e) => {
                tracing::debug!(sid, "not cut: {e}");
                return None;
            }
        };
        // No more pushes: they would only wait for a connection that is gone.
        socket.leave_all();
        tracing::info!(sid, connections = cut.connections, "socket cut");
        // A WebSocket's end is seen at once (its disconnect says `transport close`). A
        // polling socket has no request open between two polls, so the server would only
        // notice at the heartbeat timeout: it is closed here. Its DISCONNECT packet is
        // never delivered, since every later request of the socket is refused.
        if socket.transport_type() == socketioxide::TransportType::Polling {
            let _ = socket.clone().disconnect();
        }
        Some(cut)
    }

    /// Charges a packet of `bytes` to each of `recipients`, and cuts those that now have
    /// more than the bound waiting (or were cut before). Returns the sockets to send it to.
    /// `bytes` is measured only when there is someone to charge: a push nobody listens to
    /// (a lone client's write) is not encoded a second time (issue 9).
    pub fn admit(self, recipients: Vec<SocketRef>, bytes: impl FnOnce() -> u64) -> Vec<SocketRef> {
        if recipients.is_empty() {
            return recipients;
        }
        let bytes = bytes();
        let limit = self.transport.max_queued_bytes();
        let mut kept = Vec::with_capacity(recipients.len());
        // One lock for every recipient's link, not one each (a channel may have thousands).
        let links = self
            .transport
            .links_of(recipients.iter().map(|s| s.id.as_str()));
        for (socket, link) in recipients.into_iter().zip(links) {
            let Some(link) = link else {
                // Not known to the transport (being set up): nothing to bound it by yet.
                kept.push(socket);
                continue;
            };
            if link.is_cut() {
                continue;
            }
            let queued = link.charge(bytes);
            if queued <= limit {
                kept.push(socket);
                continue;
            }
            self.slow_consumer(&socket, queued - bytes, bytes, limit);
        }
        kept
    }

    fn slow_consumer(self, socket: &SocketRef, queued: u64, next: u64, limit: u64) {
        let sid = socket.id.to_string();
        tracing::warn!(
            sid,
            queued,
            limit,
            "slow consumer: {queued} bytes wait to be sent, cutting its connection"
        );
        self.inspect.slow_consumer(&sid, queued, next, limit);
        self.cut(
            socket,
            Origin::Server,
            format!("slow consumer ({queued} bytes waited to be sent, limit {limit})"),
        );
    }
}

/// The size of `payload` as an event packet on the wire (`42["event",payload]`), about.
pub fn packet_bytes(event: &str, payload: &impl serde::Serialize) -> u64 {
    let body = serde_json::to_vec(payload).map(|v| v.len()).unwrap_or(0);
    (body + event.len() + 6) as u64
}

/// Sockets as a push record's recipients.
pub fn recipients(sockets: &[SocketRef]) -> Recipients {
    Recipients::of(sockets.iter().map(|s| s.id.as_str()))
}
