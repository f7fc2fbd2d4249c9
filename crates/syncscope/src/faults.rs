//! Faults: rules, set from the inspector, that make the server misbehave on purpose.
//!
//! They sit between the endpoint and the sync logic (DESIGN.md, data flow), so an
//! injected error or delay reaches the client exactly as a real one would: the same
//! ack shape, the same codes, the same timing path. A rule matches requests by socket,
//! client, event and url prefix, and either fails them with the error of your choice,
//! delays them, swallows them (no ack: the client's timeout fires), stalls the socket
//! (its requests wait unanswered until the rule is switched off), disconnects the
//! socket, or cuts its connection (crate::transport). A rule may fire a limited number
//! of times ("fail the next update"), and only on a share of the requests it matches
//! (`toxicity`), drawn from a seeded generator so that a run can be repeated exactly
//! (docs/FAULTS.md, Seeding).
//!
//! Rules last: they are kept in the project's database (crate::fault_store) and come
//! back at the next launch, switched on or off as they were left. This module holds the
//! rules and their draws only: the store that keeps them and the pushes a rule holds
//! belong to the layers above (crate::sync owns both), so that everything up to the
//! inspector can name a rule without depending on them (docs/ARCHITECTURE.md, Layers
//! without circles).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a matching request gets instead of (or before) normal handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultAction {
    /// An error ack `{code, message}`; nothing is written. A `conflict` carries the
    /// stored model as `current`, like a real one.
    Fail { code: String, message: String },
    /// Wait this long, then handle the request normally.
    Delay { ms: u64 },
    /// Never answer: the client's ack timeout fires.
    Drop,
    /// Disconnect the socket with a Socket.IO DISCONNECT: the client sees `io server
    /// disconnect` and does not reconnect by itself.
    Disconnect,
    /// Hold the request, and every later one of the socket behind it, unanswered on an
    /// open connection until the rule is switched off or removed; then they are
    /// handled in order. Was called `offline` in the inspector, a name still accepted
    /// (the `offline` command is now a client cut off for a while).
    #[serde(alias = "offline")]
    Stall,
    /// End the socket's TCP connections, as a lost network would: the client sees a
    /// transport close and reconnects by itself.
    Cut,
    /// Limit the bytes per second written to the connections of the matching sockets
    /// (crate::pacing), while the rule is on: a slow network.
    Bandwidth { bytes_per_sec: u64 },
    /// Split what is written to the matching sockets' connections into TCP writes of
    /// at most `bytes`, `delay_ms` apart (crate::pacing): frames arrive in pieces.
    Slice { bytes: u64, delay_ms: u64 },
    /// A `change` push to a matching socket is not sent (crate::push_faults).
    PushDrop,
    /// A `change` push to a matching socket is sent twice.
    PushDuplicate,
    /// A `change` push to a matching socket is sent `delay_ms` later, plus or minus
    /// up to `jitter_ms` drawn from the rule's seeded generator; later pushes may
    /// overtake it.
    PushDelay {
        delay_ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    },
    /// A `change` push to a matching socket is held and sent after the next push to
    /// that socket (or after a while, when none comes).
    PushReorder,
}

/// What a rule acts on: a request, a push, or a connection's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Request,
    Push,
    Connection,
}

impl FaultAction {
    pub fn layer(&self) -> Layer {
        match self {
            FaultAction::Fail { .. }
            | FaultAction::Delay { .. }
            | FaultAction::Drop
            | FaultAction::Disconnect
            | FaultAction::Stall
            | FaultAction::Cut => Layer::Request,
            FaultAction::PushDrop
            | FaultAction::PushDuplicate
            | FaultAction::PushDelay { .. }
            | FaultAction::PushReorder => Layer::Push,
            FaultAction::Bandwidth { .. } | FaultAction::Slice { .. } => Layer::Connection,
        }
    }
}

/// Which requests a rule applies to; an absent field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FaultMatch {
    /// Only this socket id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub socket: Option<String>,
    /// Only the sockets of this client: the `client` of the Socket.IO handshake's
    /// `auth` (the adapter sends one per browser tab), across its reconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client: Option<String>,
    /// Only this event: a native method (`update`) or an iobind event (`todos:update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub event: Option<String>,
    /// Only one of these events: a rule for "the next write" names `update` and
    /// `patch`, since Backbone saves a changed attribute (`save(attrs, {patch: true})`)
    /// with `patch` and a whole model with `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub events: Option<Vec<String>>,
    /// Only urls starting with this (normalised) prefix, e.g. `/todos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url: Option<String>,
}

/// A rule as the inspector creates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FaultSpec {
    #[serde(default)]
    pub when: FaultMatch,
    #[serde(flatten)]
    pub action: FaultAction,
    /// Fire this many times, then switch off; absent: every time. Only requests the
    /// rule actually affected count (not those `toxicity` spared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub times: Option<u32>,
    /// The probability (0 to 1) that a matching request is affected; absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub toxicity: Option<f64>,
    /// The seed of this rule's draws; absent: derived from the server's seed and the
    /// rule's id, so that the same seed and the same rules give the same draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub seed: Option<u64>,
}

/// A rule as the server keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FaultRule {
    pub id: u64,
    pub enabled: bool,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many requests it affected.
    pub fired: u64,
    /// How many requests it matched while on (those `toxicity` spared included).
    #[serde(default)]
    pub matched: u64,
}

/// A rule as a rules file holds it: what it does and whether it is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FaultFileRule {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

fn yes() -> bool {
    true
}

/// The JSON file `GET /_syncscope/faults/export` gives and `fault_import` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FaultFile {
    /// Always `syncscope-faults`.
    pub format: String,
    pub version: u32,
    /// The server-wide seed when the file was written, for reference; importing does
    /// not change the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub seed: Option<u64>,
    pub rules: Vec<FaultFileRule>,
}

/// The rules file format this build writes and the newest it reads.
pub const FAULT_FILE_VERSION: u32 = 1;

/// What a request (or a push to a socket) is, as a rule looks at it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// A request, or a push (`event` is then the push's, `url` its channel); only rules
    /// acting on that layer are tried.
    pub layer: Layer,
    pub socket: &'a str,
    pub client: Option<&'a str>,
    pub event: &'a str,
    pub url: Option<&'a str>,
}

/// A rule that fired on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub rule: u64,
    pub action: FaultAction,
    /// The rule reached its `times` with this request and switched itself off.
    pub spent: bool,
    /// A `push_delay`: how long this push waits, its jitter drawn.
    pub wait_ms: Option<u64>,
}

/// A connection-layer rule in effect on a socket's connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaping {
    pub rule: u64,
    pub action: FaultAction,
}

/// A spec the server cannot use, with what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "toxicity must be a number from 0 to 1 (the share of matching requests affected), not {0}"
    )]
    Toxicity(f64),
    #[error(
        "a fail rule needs a `code` (conflict, not_found, bad_request, internal, or your own)"
    )]
    EmptyCode,
    #[error("bandwidth needs `bytes_per_sec` of at least 1 (e.g. 262144 for 256 KB/s)")]
    ZeroBandwidth,
    #[error("slice needs `bytes` of at least 1 (the size of each TCP write, e.g. 64)")]
    ZeroSlice,
    #[error("{0} is at most {MAX_WAIT_MS} ms (10 minutes)")]
    TooLong(&'static str),
    #[error(
        "a {0} rule acts on a socket's connection, not on requests: match it by `socket` or \
         `client` only (no `event` or `url`)"
    )]
    ConnectionMatch(&'static str),
    #[error(
        "a {0} rule acts on the whole connection while it is on: `times` and `toxicity` do not \
         apply (switch it off instead)"
    )]
    ConnectionCount(&'static str),
    #[error(
        "a {0} rule acts on `change` pushes: match them by `url` (the channel), `socket` or \
         `client`; `event` may only be \"change\""
    )]
    PushEvent(&'static str),
}

/// The longest wait a rule may set (a delay, a push delay, a slice's pause).
pub const MAX_WAIT_MS: u64 = 600_000;

impl FaultSpec {
    pub fn check(&self) -> Result<(), SpecError> {
        if let Some(t) = self.toxicity {
            if !(0.0..=1.0).contains(&t) {
                return Err(SpecError::Toxicity(t));
            }
        }
        let name = self.action.name();
        match &self.action {
            FaultAction::Fail { code, .. } if code.trim().is_empty() => {
                return Err(SpecError::EmptyCode)
            }
            FaultAction::Delay { ms } if *ms > MAX_WAIT_MS => {
                return Err(SpecError::TooLong("a delay's ms"))
            }
            FaultAction::Bandwidth { bytes_per_sec: 0 } => return Err(SpecError::ZeroBandwidth),
            FaultAction::Slice { bytes: 0, .. } => return Err(SpecError::ZeroSlice),
            FaultAction::Slice { delay_ms, .. } if *delay_ms > MAX_WAIT_MS => {
                return Err(SpecError::TooLong("a slice's delay_ms"))
            }
            FaultAction::PushDelay {
                delay_ms,
                jitter_ms,
            } if *delay_ms > MAX_WAIT_MS || *jitter_ms > MAX_WAIT_MS => {
                return Err(SpecError::TooLong("a push delay's delay_ms and jitter_ms"))
            }
            _ => {}
        }
        let w = &self.when;
        match self.action.layer() {
            Layer::Request => {}
            Layer::Connection => {
                if w.event.is_some() || w.events.is_some() || w.url.is_some() {
                    return Err(SpecError::ConnectionMatch(name));
                }
                if self.times.is_some() || self.toxicity.is_some() {
                    return Err(SpecError::ConnectionCount(name));
                }
            }
            Layer::Push => {
                let named = w.event.iter().chain(w.events.iter().flatten());
                if named.clone().any(|e| e != "change") {
                    return Err(SpecError::PushEvent(name));
                }
            }
        }
        Ok(())
    }
}

/// One rule and its generator.
struct Live {
    rule: FaultRule,
    rng: SplitMix,
}

/// The rules, tried in order; the server-wide seed of their draws.
pub struct Faults {
    rules: RwLock<Vec<Live>>,
    next_id: AtomicU64,
    seed: AtomicU64,
    /// Bumped on every change, for the requests a stall rule holds.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(0, Vec::new())
    }
}

impl Faults {
    /// The rules kept from an earlier launch (in id order) and the server-wide seed.
    pub fn new(seed: u64, kept: Vec<FaultRule>) -> Faults {
        let next = kept.iter().map(|r| r.id).max().unwrap_or(0);
        let rules = kept
            .into_iter()
            .map(|rule| Live {
                rng: SplitMix::for_rule(seed, &rule),
                rule,
            })
            .collect();
        Faults {
            rules: RwLock::new(rules),
            next_id: AtomicU64::new(next),
            seed: AtomicU64::new(seed),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }

    /// Sets the server-wide seed; every rule's draws start again from it.
    pub fn set_seed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        for live in self.write().iter_mut() {
            live.rng = SplitMix::for_rule(seed, &live.rule);
        }
    }

    pub fn add(&self, spec: FaultSpec) -> FaultRule {
        self.add_as(spec, true)
    }

    /// Adds a rule switched on or off (an imported rule keeps its switch).
    pub fn add_as(&self, spec: FaultSpec, enabled: bool) -> FaultRule {
        let rule = FaultRule {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            enabled: enabled && spec.times != Some(0),
            spec,
            fired: 0,
            matched: 0,
        };
        let rng = SplitMix::for_rule(self.seed(), &rule);
        self.write().push(Live {
            rule: rule.clone(),
            rng,
        });
        self.bump();
        rule
    }

    /// Replaces what rule `id` does, in place: it keeps its id and its place in the
    /// order, its counts start again (an edited "fail the next update" is armed
    /// again), and it is switched on unless `enabled` says otherwise.
    pub fn edit(&self, id: u64, spec: FaultSpec, enabled: Option<bool>) -> Option<FaultRule> {
        let seed = self.seed();
        let edited = {
            let mut rules = self.write();
            let live = rules.iter_mut().find(|l| l.rule.id == id)?;
            live.rule.enabled = enabled.unwrap_or(true) && spec.times != Some(0);
            live.rule.spec = spec;
            live.rule.fired = 0;
            live.rule.matched = 0;
            live.rng = SplitMix::for_rule(seed, &live.rule);
            live.rule.clone()
        };
        self.bump();
        Some(edited)
    }

    /// Switches a rule on or off; None when there is no such rule.
    pub fn set_enabled(&self, id: u64, enabled: bool) -> Option<FaultRule> {
        let rule = self.write().iter_mut().find(|l| l.rule.id == id).map(|l| {
            l.rule.enabled = enabled;
            l.rule.clone()
        });
        self.bump();
        rule
    }

    pub fn remove(&self, id: u64) -> Option<FaultRule> {
        let removed = {
            let mut rules = self.write();
            let at = rules.iter().position(|l| l.rule.id == id)?;
            rules.remove(at).rule
        };
        self.bump();
        Some(removed)
    }

    pub fn clear(&self) {
        self.write().clear();
        self.bump();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.read().iter().map(|l| l.rule.clone()).collect()
    }

    pub fn get(&self, id: u64) -> Option<FaultRule> {
        self.read()
            .iter()
            .find(|l| l.rule.id == id)
            .map(|l| l.rule.clone())
    }

    /// The rules as a file.
    pub fn export(&self) -> FaultFile {
        FaultFile {
            format: "syncscope-faults".into(),
            version: FAULT_FILE_VERSION,
            seed: Some(self.seed()),
            rules: self
                .list()
                .into_iter()
                .map(|r| FaultFileRule {
                    enabled: r.enabled,
                    spec: r.spec,
                })
                .collect(),
        }
    }

    /// The first enabled rule matching this request whose draw says it is affected,
    /// counted as fired. Cheap when no rule is set: one read lock and an empty scan.
    pub fn fire(&self, subject: Subject<'_>) -> Option<Fired> {
        if self.read().is_empty() {
            return None;
        }
        let fired = {
            let mut rules = self.write();
            let mut found = None;
            for live in rules.iter_mut() {
                if !live.rule.enabled
                    || live.rule.spec.action.layer() != subject.layer
                    || !live.rule.spec.when.matches(subject)
                {
                    continue;
                }
                live.rule.matched += 1;
                if let Some(toxicity) = live.rule.spec.toxicity {
                    // A draw for every match, taken or not, so that the sequence of
                    // outcomes depends on the seed and the requests alone.
                    if live.rng.next_unit() >= toxicity {
                        continue;
                    }
                }
                live.rule.fired += 1;
                let spent = live
                    .rule
                    .spec
                    .times
                    .is_some_and(|times| live.rule.fired >= u64::from(times));
                if spent {
                    live.rule.enabled = false;
                }
                let wait_ms = match live.rule.spec.action {
                    FaultAction::PushDelay {
                        delay_ms,
                        jitter_ms,
                    } => Some(jittered(delay_ms, jitter_ms, &mut live.rng)),
                    _ => None,
                };
                found = Some(Fired {
                    rule: live.rule.id,
                    action: live.rule.spec.action.clone(),
                    spent,
                    wait_ms,
                });
                break;
            }
            found
        };
        if fired.as_ref().is_some_and(|f| f.spent) {
            self.bump();
        }
        fired
    }

    /// Whether any rule acting on `layer` is on: pushes take the plain path when none is.
    pub fn any_on(&self, layer: Layer) -> bool {
        self.read()
            .iter()
            .any(|l| l.rule.enabled && l.rule.spec.action.layer() == layer)
    }

    /// The first connection-layer rule on that matches socket `sid` (of `client`).
    /// Called for every write to a connection that carries a socket: one read lock and
    /// a scan of the rules.
    pub fn shaping(&self, sid: &str, client: Option<&str>) -> Option<Shaping> {
        let rules = self.read();
        rules
            .iter()
            .find(|l| {
                l.rule.enabled
                    && l.rule.spec.action.layer() == Layer::Connection
                    && l.rule.spec.when.socket.as_deref().is_none_or(|s| s == sid)
                    && l.rule
                        .spec
                        .when
                        .client
                        .as_deref()
                        .is_none_or(|c| Some(c) == client)
            })
            .map(|l| Shaping {
                rule: l.rule.id,
                action: l.rule.spec.action.clone(),
            })
    }

    /// Counts one TCP write a connection-layer rule paced or sliced (its `fired`).
    pub fn count_write(&self, rule: u64) {
        if let Some(live) = self.write().iter_mut().find(|l| l.rule.id == rule) {
            live.rule.fired += 1;
        }
    }

    /// Whether rule `id` still holds a stalled request: it exists and is on.
    pub fn holds(&self, id: u64) -> bool {
        self.read()
            .iter()
            .any(|l| l.rule.id == id && l.rule.enabled)
    }

    /// A receiver told of every change to the rules.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Live>> {
        self.rules.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Live>> {
        self.rules.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl FaultMatch {
    fn matches(&self, s: Subject<'_>) -> bool {
        self.socket.as_deref().is_none_or(|x| x == s.socket)
            && self.client.as_deref().is_none_or(|c| Some(c) == s.client)
            && self.event.as_deref().is_none_or(|e| e == s.event)
            && self
                .events
                .as_ref()
                .is_none_or(|list| list.iter().any(|e| e == s.event))
            && self.url.as_deref().is_none_or(|prefix| {
                let prefix = prefix.trim_end_matches('/');
                s.url
                    .is_some_and(|u| u == prefix || u.starts_with(&format!("{prefix}/")))
            })
    }
}

impl FaultAction {
    /// What the action does, in a few words (as the inspector says it).
    pub fn describe(&self) -> String {
        match self {
            FaultAction::Fail { code, message } => format!("fail with {code} \"{message}\""),
            FaultAction::Delay { ms } => format!("delay {ms} ms"),
            FaultAction::Drop => "drop (no ack)".into(),
            FaultAction::Disconnect => "disconnect the socket".into(),
            FaultAction::Stall => "stall (held unanswered while on)".into(),
            FaultAction::Cut => "cut the connection".into(),
            FaultAction::Bandwidth { bytes_per_sec } => {
                format!("limit to {bytes_per_sec} bytes/s")
            }
            FaultAction::Slice { bytes, delay_ms } => {
                format!("slice writes into {bytes} bytes, {delay_ms} ms apart")
            }
            FaultAction::PushDrop => "drop the push".into(),
            FaultAction::PushDuplicate => "send the push twice".into(),
            FaultAction::PushDelay {
                delay_ms,
                jitter_ms: 0,
            } => format!("delay the push {delay_ms} ms"),
            FaultAction::PushDelay {
                delay_ms,
                jitter_ms,
            } => format!("delay the push {delay_ms} ± {jitter_ms} ms"),
            FaultAction::PushReorder => "send the push after the next one".into(),
        }
    }

    /// The action's name on the wire (`push_drop`).
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::Fail { .. } => "fail",
            FaultAction::Delay { .. } => "delay",
            FaultAction::Drop => "drop",
            FaultAction::Disconnect => "disconnect",
            FaultAction::Stall => "stall",
            FaultAction::Cut => "cut",
            FaultAction::Bandwidth { .. } => "bandwidth",
            FaultAction::Slice { .. } => "slice",
            FaultAction::PushDrop => "push_drop",
            FaultAction::PushDuplicate => "push_duplicate",
            FaultAction::PushDelay { .. } => "push_delay",
            FaultAction::PushReorder => "push_reorder",
        }
    }
}

/// `delay_ms` plus or minus up to `jitter_ms` (never below 0), drawn from `rng`.
fn jittered(delay_ms: u64, jitter_ms: u64, rng: &mut SplitMix) -> u64 {
    if jitter_ms == 0 {
        return delay_ms;
    }
    let offset = (rng.next_unit() * (2 * jitter_ms + 1) as f64) as u64;
    (delay_ms + offset).saturating_sub(jitter_ms)
}

impl FaultSpec {
    /// The whole rule in words: "update on /todos → fail with conflict, next one only".
    pub fn describe(&self) -> String {
        let w = &self.when;
        let mut when = match (&w.event, &w.events, self.action.layer()) {
            (_, _, Layer::Push) => "change pushes".into(),
            (_, _, Layer::Connection) => "connections".into(),
            (Some(e), _, _) => e.clone(),
            (None, Some(list), _) if !list.is_empty() => list.join(" or "),
            _ => "any request".into(),
        };
        if let Some(url) = &w.url {
            when.push_str(&format!(" on {url}"));
        }
        // A push goes to a socket; a request comes from one.
        let dir = if self.action.layer() == Layer::Push {
            "to"
        } else {
            "from"
        };
        if let Some(client) = &w.client {
            when.push_str(&format!(" {dir} client {client}"));
        }
        if let Some(socket) = &w.socket {
            when.push_str(&format!(" {dir} socket {socket}"));
        }
        let times = match self.times {
            None => "every time".to_string(),
            Some(1) => "next one only".to_string(),
            Some(n) => format!("{n} times"),
        };
        let toxicity = self
            .toxicity
            .map(|t| format!(", {:.0}% of matches", t * 100.0))
            .unwrap_or_default();
        format!("{when} → {}, {times}{toxicity}", self.action.describe())
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence for the
/// same seed on every platform, which is all toxicity needs.
struct SplitMix(u64);

impl SplitMix {
    /// A rule's generator: its own seed, or the server's mixed with its id.
    fn for_rule(server_seed: u64, rule: &FaultRule) -> SplitMix {
        let seed = rule.spec.seed.unwrap_or_else(|| {
            SplitMix(server_seed ^ rule.id.wrapping_mul(0xD1B5_4A32_D192_ED03)).next()
        });
        SplitMix(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed for a launch that was given none: different every launch, shown in the
/// inspector and the session so that a run can be repeated with `--fault-seed`.
pub fn random_seed() -> u64 {
    let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
    // Kept below 2^53 so that it survives a round trip through a JavaScript number.
    (hi ^ lo) & ((1u64 << 53) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(times: Option<u32>, when: FaultMatch) -> FaultSpec {
        FaultSpec {
            when,
            action: FaultAction::Fail {
                code: "conflict".into(),
                message: "injected".into(),
            },
            times,
            toxicity: None,
            seed: None,
        }
    }

    fn req<'a>(socket: &'a str, event: &'a str, url: Option<&'a str>) -> Subject<'a> {
        Subject {
            layer: Layer::Request,
            socket,
            client: None,
            event,
            url,
        }
    }

    #[test]
    fn a_rule_for_the_next_update_on_a_collection_fires_once_and_only_there() {
        let faults = Faults::default();
        let when = FaultMatch {
            event: Some("update".into()),
            url: Some("/todos".into()),
            ..FaultMatch::default()
        };
        let rule = faults.add(fail(Some(1), when));
        assert_eq!(faults.fire(req("s1", "create", Some("/todos"))), None);
        assert_eq!(
            faults.fire(req("s1", "update", Some("/todosx/1"))),
            None,
            "a prefix is a whole segment"
        );
        assert_eq!(faults.fire(req("s1", "update", Some("/notes/1"))), None);
        let fired = faults.fire(req("s1", "update", Some("/todos/1"))).unwrap();
        assert!(fired.spent, "its one time");
        assert_eq!(
            faults.fire(req("s1", "update", Some("/todos/1"))),
            None,
            "it fired its one time"
        );
        let kept = &faults.list()[0];
        assert_eq!((kept.id, kept.enabled, kept.fired), (rule.id, false, 1));
    }

    #[test]
    fn a_rule_for_the_next_write_fires_on_a_patch_as_on_an_update() {
        let faults = Faults::default();
        let when = FaultMatch {
            events: Some(vec!["update".into(), "patch".into()]),
            url: Some("/todos".into()),
            ..FaultMatch::default()
        };
        faults.add(fail(Some(1), when));
        assert_eq!(faults.fire(req("s1", "create", Some("/todos"))), None);
        assert!(
            faults.fire(req("s1", "patch", Some("/todos/1"))).is_some(),
            "a Backbone toggle saves with patch"
        );
        assert_eq!(
            faults.fire(req("s1", "update", Some("/todos/1"))),
            None,
            "spent"
        );
    }

    #[test]
    fn rules_can_be_switched_off_edited_in_place_and_removed() {
        let faults = Faults::default();
        let rule = faults.add(fail(None, FaultMatch::default()));
        let other = faults.add(fail(None, FaultMatch::default()));
        assert!(faults.fire(req("s", "read", None)).is_some());
        assert!(faults.set_enabled(rule.id, false).is_some());
        assert_eq!(faults.fire(req("s", "read", None)).unwrap().rule, other.id);
        let mut spec = fail(Some(1), FaultMatch::default());
        spec.action = FaultAction::Drop;
        let edited = faults.edit(rule.id, spec, None).unwrap();
        assert_eq!(
            (edited.id, edited.enabled, edited.fired),
            (rule.id, true, 0)
        );
        assert_eq!(faults.list()[0].id, rule.id, "it keeps its place");
        assert_eq!(
            faults.fire(req("s", "read", None)).unwrap().action,
            FaultAction::Drop
        );
        assert!(faults.remove(rule.id).is_some());
        assert!(faults.remove(rule.id).is_none());
        assert_eq!(faults.list().len(), 1);
    }

    #[test]
    fn a_socket_rule_leaves_other_sockets_alone_and_a_client_rule_other_clients() {
        let faults = Faults::default();
        faults.add(fail(
            None,
            FaultMatch {
                socket: Some("a".into()),
                ..FaultMatch::default()
            },
        ));
        assert_eq!(faults.fire(req("b", "read", Some("/todos"))), None);
        assert!(faults.fire(req("a", "read", Some("/todos"))).is_some());
        faults.clear();
        faults.add(fail(
            None,
            FaultMatch {
                client: Some("tab-1".into()),
                ..FaultMatch::default()
            },
        ));
        let mut s = req("x", "read", None);
        assert_eq!(faults.fire(s), None, "a socket without a client");
        s.client = Some("tab-2");
        assert_eq!(faults.fire(s), None);
        s.client = Some("tab-1");
        assert!(faults.fire(s).is_some());
    }

    fn draws(seed: u64, rule_seed: Option<u64>, toxicity: f64) -> Vec<bool> {
        let faults = Faults::new(seed, Vec::new());
        let mut spec = fail(None, FaultMatch::default());
        spec.toxicity = Some(toxicity);
        spec.seed = rule_seed;
        faults.add(spec);
        (0..200)
            .map(|_| faults.fire(req("s", "read", None)).is_some())
            .collect()
    }

    #[test]
    fn toxicity_zero_never_fires_one_always_and_a_seed_gives_the_same_draws() {
        assert!(draws(7, None, 0.0).iter().all(|f| !f));
        assert!(draws(7, None, 1.0).iter().all(|f| *f));
        let half = draws(7, None, 0.5);
        let hits = half.iter().filter(|f| **f).count();
        assert!((50..150).contains(&hits), "{hits} of 200");
        assert_eq!(half, draws(7, None, 0.5), "same server seed, same draws");
        assert_ne!(half, draws(8, None, 0.5), "another seed, other draws");
        assert_eq!(
            draws(1, Some(99), 0.5),
            draws(2, Some(99), 0.5),
            "a rule's own seed wins over the server's"
        );
    }

    #[test]
    fn times_counts_only_the_requests_toxicity_let_through() {
        let faults = Faults::new(3, Vec::new());
        let mut spec = fail(Some(5), FaultMatch::default());
        spec.toxicity = Some(0.3);
        faults.add(spec);
        let fired = (0..500)
            .filter(|_| faults.fire(req("s", "read", None)).is_some())
            .count();
        assert_eq!(fired, 5);
        let rule = &faults.list()[0];
        assert_eq!(rule.fired, 5);
        assert!(rule.matched > 5, "matched {}", rule.matched);
    }

    #[test]
    fn absent_match_fields_and_times_are_left_out_on_the_wire_as_the_ts_bindings_say() {
        let faults = Faults::default();
        let rule = faults.add(FaultSpec {
            when: FaultMatch::default(),
            action: FaultAction::Drop,
            times: None,
            toxicity: None,
            seed: None,
        });
        assert_eq!(
            serde_json::to_value(&rule).unwrap(),
            serde_json::json!({"id": rule.id, "enabled": true, "fired": 0, "matched": 0, "when": {}, "action": "drop"})
        );
    }

    #[test]
    fn the_old_name_offline_is_read_as_stall() {
        let spec: FaultSpec = serde_json::from_value(
            serde_json::json!({"when": {"socket": "a"}, "action": "offline"}),
        )
        .unwrap();
        assert_eq!(spec.action, FaultAction::Stall);
        assert_eq!(serde_json::to_value(&spec).unwrap()["action"], "stall");
    }

    fn spec(action: FaultAction, when: FaultMatch) -> FaultSpec {
        FaultSpec {
            when,
            action,
            times: None,
            toxicity: None,
            seed: None,
        }
    }

    #[test]
    fn a_rule_acts_on_its_own_layer_only() {
        let faults = Faults::default();
        faults.add(spec(FaultAction::PushDrop, FaultMatch::default()));
        faults.add(spec(
            FaultAction::Bandwidth { bytes_per_sec: 10 },
            FaultMatch {
                client: Some("tab-1".into()),
                ..FaultMatch::default()
            },
        ));
        assert_eq!(
            faults.fire(req("s", "read", Some("/todos"))),
            None,
            "a push or connection rule never fires on a request"
        );
        let mut push = req("s", "change", Some("/todos"));
        push.layer = Layer::Push;
        assert_eq!(faults.fire(push).unwrap().action, FaultAction::PushDrop);
        assert!(faults.any_on(Layer::Push));
        assert_eq!(faults.shaping("s", None), None, "another client");
        let shaping = faults.shaping("s", Some("tab-1")).unwrap();
        assert_eq!(shaping.action, FaultAction::Bandwidth { bytes_per_sec: 10 });
        faults.count_write(shaping.rule);
        assert_eq!(
            faults.get(shaping.rule).unwrap().fired,
            1,
            "writes are counted"
        );
    }

    #[test]
    fn a_push_delay_draws_its_jitter_from_the_seed_within_the_bounds() {
        let delays = |seed| {
            let faults = Faults::new(seed, Vec::new());
            faults.add(spec(
                FaultAction::PushDelay {
                    delay_ms: 100,
                    jitter_ms: 50,
                },
                FaultMatch::default(),
            ));
            let mut push = req("s", "change", Some("/todos"));
            push.layer = Layer::Push;
            (0..50)
                .map(|_| faults.fire(push).unwrap().wait_ms.unwrap())
                .collect::<Vec<_>>()
        };
        let a = delays(9);
        assert!(a.iter().all(|d| (50..=150).contains(d)), "{a:?}");
        assert_eq!(a, delays(9));
        assert_ne!(a, delays(10));
    }

    #[test]
    fn fields_that_do_not_apply_to_an_action_are_refused_with_what_to_change() {
        let bad = [
            (
                FaultAction::Bandwidth { bytes_per_sec: 0 },
                FaultMatch::default(),
            ),
            (
                FaultAction::Slice {
                    bytes: 0,
                    delay_ms: 1,
                },
                FaultMatch::default(),
            ),
            (
                FaultAction::Slice {
                    bytes: 10,
                    delay_ms: 1,
                },
                FaultMatch {
                    url: Some("/todos".into()),
                    ..FaultMatch::default()
                },
            ),
            (
                FaultAction::PushDuplicate,
                FaultMatch {
                    event: Some("update".into()),
                    ..FaultMatch::default()
                },
            ),
        ];
        for (action, when) in bad {
            assert!(spec(action, when).check().is_err());
        }
        let mut counted = spec(
            FaultAction::Bandwidth { bytes_per_sec: 5 },
            FaultMatch::default(),
        );
        counted.times = Some(1);
        assert!(matches!(
            counted.check(),
            Err(SpecError::ConnectionCount("bandwidth"))
        ));
        let change = FaultMatch {
            event: Some("change".into()),
            ..FaultMatch::default()
        };
        assert_eq!(spec(FaultAction::PushReorder, change).check(), Ok(()));
    }
}
