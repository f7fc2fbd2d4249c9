//! Round trips as the pages saw them: the `client_latency` reports of backbone.realtime
//! (docs/PROTOCOL.md, *Client latency*; read by crate::client_report), kept for the
//! Stats panel.
//!
//! Why: the ack latency the server records ends when the ack leaves the server. What a
//! user waits for also holds the network, the socket's queue on both sides and the
//! page's own event loop; only the page can measure that. The adapter measures each
//! CRUD request from its emit to its ack callback and sends the numbers in small
//! batches; this module keeps the last minute of each socket's round trips in memory
//! (bounded per socket and in sockets) and summarises them per socket and overall.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::types::{ClientLatency, OpRoundTrips};
use crate::client_report::{Op, RoundTrip};

/// The span of the overall figures (Stats): the reports of the last few seconds, as a
/// page reports about once a second.
pub const WINDOW: Duration = Duration::from_secs(5);
/// How long a socket's round trips are kept (its own figures cover them).
pub const KEEP_FOR: Duration = Duration::from_secs(60);
/// The most round trips kept per socket: memory stays bounded whatever a page sends.
pub const KEEP_PER_SOCKET: usize = 2000;
/// The most sockets whose round trips are kept at once.
pub const MAX_SOCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Kept {
    at: Instant,
    trip: RoundTrip,
}

/// The round trips of every socket that reported in the last minute.
#[derive(Default)]
pub struct ClientLatencies {
    sockets: Mutex<HashMap<String, VecDeque<Kept>>>,
}

impl ClientLatencies {
    /// Keeps a socket's reported round trips.
    pub fn add(&self, sid: &str, trips: Vec<RoundTrip>) {
        if trips.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if !sockets.contains_key(sid) {
            prune(&mut sockets, now);
            if sockets.len() >= MAX_SOCKETS {
                return;
            }
        }
        let kept = sockets.entry(sid.to_string()).or_default();
        kept.extend(trips.into_iter().map(|trip| Kept { at: now, trip }));
        while kept.len() > KEEP_PER_SOCKET {
            kept.pop_front();
        }
    }

    /// Forgets a socket that disconnected.
    pub fn gone(&self, sid: &str) {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sid);
    }

    /// Every socket's round trips of the last [`WINDOW`].
    pub fn overall(&self) -> ClientLatency {
        let now = Instant::now();
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut sockets, now);
        let mut trips = Vec::new();
        let mut pages = 0;
        for kept in sockets.values() {
            let before = trips.len();
            trips.extend(recent(kept, now, WINDOW));
            if trips.len() > before {
                pages += 1;
            }
        }
        summary(WINDOW, sockets.len() as u64, pages, trips)
    }

    /// One socket's round trips of the last [`KEEP_FOR`], if it reported any.
    pub fn of_socket(&self, sid: &str) -> Option<ClientLatency> {
        let now = Instant::now();
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let trips: Vec<RoundTrip> = recent(sockets.get(sid)?, now, KEEP_FOR).collect();
        if trips.is_empty() {
            return None;
        }
        Some(summary(KEEP_FOR, 1, 1, trips))
    }
}

/// Drops round trips older than [`KEEP_FOR`], and the sockets left with none.
fn prune(sockets: &mut HashMap<String, VecDeque<Kept>>, now: Instant) {
    sockets.retain(|_, kept| {
        while kept
            .front()
            .is_some_and(|k| now.duration_since(k.at) > KEEP_FOR)
        {
            kept.pop_front();
        }
        !kept.is_empty()
    });
}

fn recent(
    kept: &VecDeque<Kept>,
    now: Instant,
    window: Duration,
) -> impl Iterator<Item = RoundTrip> + '_ {
    kept.iter()
        .filter(move |k| now.duration_since(k.at) <= window)
        .map(|k| k.trip)
}

fn summary(window: Duration, reporting: u64, pages: u64, trips: Vec<RoundTrip>) -> ClientLatency {
    let all: Vec<u64> = trips.iter().map(|t| t.us).collect();
    let whole = Percentiles::of(all);
    let ops = Op::ALL
        .into_iter()
        .filter_map(|op| {
            let of_op: Vec<u64> = trips.iter().filter(|t| t.op == op).map(|t| t.us).collect();
            let p = Percentiles::of(of_op);
            Some(OpRoundTrips {
                op: op.name().into(),
                count: p.count,
                p50_us: p.p50?,
                p99_us: p.p99?,
                max_us: p.max?,
            })
        })
        .collect();
    ClientLatency {
        window_secs: window.as_secs(),
        reporting,
        pages,
        count: whole.count,
        p50_us: whole.p50,
        p99_us: whole.p99,
        max_us: whole.max,
        ops,
    }
}

/// Nearest-rank percentiles, as the recorder's `/latency` and the UI compute them.
struct Percentiles {
    count: u64,
    p50: Option<u64>,
    p99: Option<u64>,
    max: Option<u64>,
}

impl Percentiles {
    fn of(mut values: Vec<u64>) -> Percentiles {
        values.sort_unstable();
        let pick = |p: f64| -> Option<u64> {
            if values.is_empty() {
                return None;
            }
            let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
            Some(values[rank - 1])
        };
        Percentiles {
            count: values.len() as u64,
            p50: pick(0.5),
            p99: pick(0.99),
            max: values.last().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_report::MAX_REPORT_SAMPLES;

    #[test]
    fn figures_cover_every_socket_and_each_method_and_forget_a_gone_socket() {
        let l = ClientLatencies::default();
        let ms = |op, v: u64| RoundTrip { op, us: v * 1000 };
        l.add("a", vec![ms(Op::Update, 10), ms(Op::Update, 20)]);
        l.add("b", vec![ms(Op::Create, 400)]);
        let all = l.overall();
        assert_eq!((all.reporting, all.pages, all.count), (2, 2, 3));
        assert_eq!(all.p50_us, Some(20_000));
        assert_eq!(all.max_us, Some(400_000));
        let ops: Vec<&str> = all.ops.iter().map(|o| o.op.as_str()).collect();
        assert_eq!(ops, ["create", "update"]);
        assert_eq!(l.of_socket("b").map(|s| s.p99_us), Some(Some(400_000)));
        l.gone("b");
        assert_eq!(l.overall().count, 2);
        assert!(l.of_socket("b").is_none());
    }

    #[test]
    fn a_socket_keeps_a_bounded_number_of_round_trips() {
        let l = ClientLatencies::default();
        for _ in 0..(KEEP_PER_SOCKET / MAX_REPORT_SAMPLES + 3) {
            l.add(
                "a",
                vec![
                    RoundTrip {
                        op: Op::Read,
                        us: 1
                    };
                    MAX_REPORT_SAMPLES
                ],
            );
        }
        assert_eq!(l.overall().count, KEEP_PER_SOCKET as u64);
    }
}
