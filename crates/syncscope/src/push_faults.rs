//! Push tampering: fault rules on the `change` pushes of a channel, per receiving
//! socket: drop one, send it twice, delay it (with a seeded jitter), or hold it and
//! send it after the next (docs/FAULTS.md, *Pushes*).
//!
//! Why: a sync client must survive a lost push (the adapter's gap detection sees the
//! broken `prev` chain and resubscribes with `since`), a duplicated one (applied
//! once), and pushes out of order. Those paths are hard to reach on purpose with a
//! real network; here a rule reaches them on demand, and each tampering is a `fault`
//! record naming the rule and the change's seq, so the log explains what the client
//! then did.
//!
//! Only channel pushes (`change` to subscribers of a collection) are tampered with;
//! live-query pushes and iobind events are not. When no push rule is on and no push is
//! held, the caller broadcasts to the room as usual (crate::sync, which owns the held
//! pushes and hands out a [`PushFaults`]: this module never sees it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use socketioxide::extract::SocketRef;

use crate::fault_store::FaultStore;
use crate::faults::{FaultAction, Faults, Fired, Layer, Subject};
use crate::inspect::registry::Recipients;
use crate::inspect::types::{Origin, RuleChange};
use crate::inspect::Inspector;
use crate::url::Url;

/// How long a push held by `push_reorder` waits for the next push to its socket
/// before it is sent anyway, so that a held push is late, never lost.
const REORDER_WAIT: Duration = Duration::from_secs(2);

/// The pushes `push_reorder` holds, one per socket at most.
#[derive(Default)]
pub struct HeldPushes {
    held: Mutex<HashMap<String, Held>>,
    next: AtomicU64,
}

struct Held {
    socket: SocketRef,
    payload: Value,
    /// Which hold this is, so that a timer releases only its own.
    hold: u64,
}

impl HeldPushes {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn any(&self) -> bool {
        !self.map().is_empty()
    }

    fn holds(&self, sid: &str) -> bool {
        self.map().contains_key(sid)
    }

    fn hold(&self, socket: SocketRef, payload: Value) -> u64 {
        let hold = self.next.fetch_add(1, Ordering::Relaxed);
        let sid = socket.id.to_string();
        self.map().insert(
            sid,
            Held {
                socket,
                payload,
                hold,
            },
        );
        hold
    }

    fn take(&self, sid: &str, hold: Option<u64>) -> Option<Held> {
        let mut map = self.map();
        if hold.is_some_and(|h| map.get(sid).is_some_and(|held| held.hold != h)) {
            return None;
        }
        map.remove(sid)
    }
}

/// What tampering with pushes needs: the rules, the pushes they hold, the inspector
/// that records each tampering, the store a spent rule is kept in.
#[derive(Clone, Copy)]
pub struct PushFaults<'a> {
    pub faults: &'a Faults,
    pub held: &'a Arc<HeldPushes>,
    pub inspect: &'a Inspector,
    pub store: &'a FaultStore,
}

/// What each recipient of one push gets: None, the push as it is.
pub struct Plan {
    each: Vec<(SocketRef, Option<Fired>)>,
}

impl Plan {
    /// The sockets the push is sent to (now or later): all but those it was dropped for.
    pub fn recipients(&self) -> Recipients {
        Recipients::of(
            self.each
                .iter()
                .filter(|(_, fired)| {
                    !fired
                        .as_ref()
                        .is_some_and(|f| f.action == FaultAction::PushDrop)
                })
                .map(|(s, _)| s.id.as_str()),
        )
    }
}

/// Which push rule fires for each of `to`; None when no push rule is on and no push is
/// held (the push is then broadcast as usual). A socket with a held push is not
/// tampered with again: its push is sent, then the held one.
pub fn plan(tamper: PushFaults<'_>, to: &[SocketRef], channel: &Url) -> Option<Plan> {
    let faults = tamper.faults;
    if !faults.any_on(Layer::Push) && !tamper.held.any() {
        return None;
    }
    let each = to
        .iter()
        .map(|socket| {
            let sid = socket.id.to_string();
            if tamper.held.holds(&sid) {
                return (socket.clone(), None);
            }
            let client = tamper.inspect.bus.registry.client_of(&sid);
            let fired = faults.fire(Subject {
                layer: Layer::Push,
                socket: &sid,
                client: client.as_deref(),
                event: "change",
                url: Some(channel.as_str()),
            });
            (socket.clone(), fired)
        })
        .collect();
    Some(Plan { each })
}

/// Sends the push of change `seq` as `plan` says, recording every tampering.
pub async fn carry_out(
    tamper: PushFaults<'_>,
    plan: Plan,
    channel: &Url,
    seq: i64,
    payload: &Value,
) {
    let faults = tamper.faults;
    for (socket, fired) in plan.each {
        let sid = socket.id.to_string();
        let held = tamper.held.take(&sid, None);
        match fired.as_ref().map(|f| &f.action) {
            None => send(&socket, payload),
            Some(FaultAction::PushDrop) => {}
            Some(FaultAction::PushDuplicate) => {
                send(&socket, payload);
                send(&socket, payload);
            }
            Some(FaultAction::PushDelay { .. }) => {
                let wait = fired.as_ref().and_then(|f| f.wait_ms).unwrap_or(0);
                let (socket, payload) = (socket.clone(), payload.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    send(&socket, &payload);
                });
            }
            Some(FaultAction::PushReorder) => {
                let hold = tamper.held.hold(socket.clone(), payload.clone());
                release_later(tamper.held.clone(), sid.clone(), hold);
            }
            // fire() gives push rules only.
            Some(_) => send(&socket, payload),
        }
        if let Some(held) = held {
            send(&held.socket, &held.payload);
        }
        if let Some(fired) = fired {
            tracing::info!(sid, seq, rule = fired.rule, action = ?fired.action, "push tampered with");
            tamper
                .inspect
                .push_fault(&sid, channel.as_str(), seq, &fired);
            if fired.spent {
                tamper.inspect.rules_changed(
                    Origin::Fault,
                    RuleChange::Spent,
                    faults.get(fired.rule),
                );
                if let Err(e) = tamper.store.persist(faults).await {
                    tracing::warn!("{e}");
                }
            }
        }
    }
}

/// Sends a held push after REORDER_WAIT if no later push to its socket sent it first.
fn release_later(pushes: Arc<HeldPushes>, sid: String, hold: u64) {
    tokio::spawn(async move {
        tokio::time::sleep(REORDER_WAIT).await;
        if let Some(held) = pushes.take(&sid, Some(hold)) {
            send(&held.socket, &held.payload);
        }
    });
}

fn send(socket: &SocketRef, payload: &Value) {
    if let Err(e) = socket.emit("change", payload) {
        tracing::debug!(sid = %socket.id, "push not sent: {e}");
    }
}
