//! The concurrency checker: holds a recorded history of many sockets (every request,
//! every ack, every push, in the order each socket saw them) against a sequential model
//! of the store, replayed from the server's own change log.
//!
//! Why a checker instead of assertions inside the workload: under concurrency no single
//! expected value exists in advance; what is fixed is the set of histories that a store
//! with one total order of writes could have produced (Jepsen's and Porcupine's idea, at
//! the size of this project). The checker reconstructs that order from the seqs, checks
//! the order is real (unique, gap-free, every acked write in it once, nothing refused in
//! it), replays it as the model, and then asks of every observation whether the model
//! allows it at the point where the observing socket could have seen it; and that the
//! `prev` of every push and write ack links it to its channel's previous change.
#![allow(dead_code)]

mod history;
mod model;
mod report;
mod rng;
mod sockets;
mod writes;

pub use history::{tag, Change, Entry, SocketHistory};
pub use report::Report;
pub use rng::Rng;

/// Checks `histories` against the order of `log` (every change of every collection the
/// workload touched, fetched with `subscribe since 0` after the run).
pub fn check(histories: &[SocketHistory], log: &[Change]) -> Report {
    let mut report = Report {
        violations: Vec::new(),
        writes: log.len(),
        pushes_checked: 0,
        reads_checked: 0,
        conflicts_checked: 0,
        prevs_checked: 0,
    };
    let model = model::replay(log, &mut report);
    let requests = writes::requests_of(histories);
    let written = writes::match_writes(histories, &requests, &model, &mut report);
    writes::check_contents(&requests, &written, &model, &mut report);
    for history in histories {
        let view = sockets::SocketView::new(history, &requests, &written, &model);
        sockets::check_socket_order(&view, &mut report);
        sockets::check_refusals_and_reads(&view, &model, &mut report);
        sockets::check_native_channels(&view, &model, &written, &mut report);
        sockets::check_iobind_pushes(&view, &model, &written, &mut report);
        sockets::check_prev_chains(&view, &model, &mut report);
    }
    report
}
