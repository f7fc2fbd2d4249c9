//! Bandwidth and slicing: the connection-layer fault rules (docs/FAULTS.md), applied
//! to what a connection writes (crate::transport calls in on every write).
//!
//! Why below Socket.IO: a slow or fragmenting network is a property of the TCP
//! connection. Pacing the bytes a connection writes makes the client's transport
//! (WebSocket frames, long-polling responses) arrive as over a slow link: a big read
//! takes seconds, a frame comes in pieces. No Socket.IO-level delay can do that.
//!
//! A bandwidth of B bytes/s writes at most B/10 bytes (at most 64 KiB) at a time and
//! pauses for as long as those bytes take at B, so the rate holds over any tenth of a
//! second; a slice writes at most `bytes` at a time and pauses `delay_ms` after each.
//! The connection sets TCP_NODELAY, so each write leaves as its own segment(s).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use crate::faults::FaultAction;

/// The largest write a bandwidth rule lets through at once.
const MAX_PACED_WRITE: u64 = 64 * 1024;

/// The pause owed after a connection's last paced write.
#[derive(Default)]
pub struct Pacer {
    pause: Option<Pin<Box<Sleep>>>,
}

impl Pacer {
    /// Ready once the pause after the last paced write is over.
    pub fn poll_pause(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(pause) = &mut self.pause {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        Poll::Ready(())
    }

    /// A write of `written` bytes under `action` was made: the pause it owes.
    pub fn wrote(&mut self, action: &FaultAction, written: usize) {
        let pause = match action {
            FaultAction::Bandwidth { bytes_per_sec } => {
                Duration::from_secs_f64(written as f64 / (*bytes_per_sec).max(1) as f64)
            }
            FaultAction::Slice { delay_ms, .. } => Duration::from_millis(*delay_ms),
            _ => return,
        };
        if !pause.is_zero() {
            self.pause = Some(Box::pin(tokio::time::sleep(pause)));
        }
    }
}

/// How many of `len` bytes the next write under `action` may carry (at least 1).
pub fn chunk(action: &FaultAction, len: usize) -> usize {
    let most = match action {
        FaultAction::Bandwidth { bytes_per_sec } => (bytes_per_sec / 10).clamp(1, MAX_PACED_WRITE),
        FaultAction::Slice { bytes, .. } => (*bytes).max(1),
        _ => return len,
    };
    len.min(usize::try_from(most).unwrap_or(usize::MAX)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_cut_to_a_tenth_of_a_second_of_bandwidth_or_to_the_slice() {
        let bw = FaultAction::Bandwidth {
            bytes_per_sec: 256 * 1024,
        };
        assert_eq!(chunk(&bw, 1 << 20), 26_214);
        assert_eq!(chunk(&bw, 100), 100);
        let slow = FaultAction::Bandwidth { bytes_per_sec: 5 };
        assert_eq!(chunk(&slow, 100), 1, "never a write of 0 bytes");
        let slice = FaultAction::Slice {
            bytes: 64,
            delay_ms: 5,
        };
        assert_eq!(chunk(&slice, 1000), 64);
    }
}
