//! Faults: rules, set from the inspector, that make the server misbehave on purpose.
//!
//! They sit between the endpoint and the sync logic (DESIGN.md, data flow), so an
//! injected error or delay reaches the client exactly as a real one would: the same
//! ack shape, the same codes, the same timing path. A rule matches requests by socket,
//! event and url prefix, and either fails them with the error of your choice, delays
//! them, swallows them (no ack: the client's timeout fires), disconnects the socket, or
//! cuts its connection (crate::transport).
//! A rule may fire a limited number of times ("fail the next update").

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
    /// End the socket's TCP connections, as a lost network would: the client sees a
    /// transport close and reconnects by itself.
    Cut,
}

/// Which requests a rule applies to; an absent field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FaultMatch {
    /// Only this socket id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub socket: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FaultSpec {
    #[serde(default)]
    pub when: FaultMatch,
    #[serde(flatten)]
    pub action: FaultAction,
    /// Fire this many times, then switch off; absent: every time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub times: Option<u32>,
}

/// A rule as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FaultRule {
    pub id: u64,
    pub enabled: bool,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many times it fired.
    pub fired: u64,
}

#[derive(Default)]
pub struct Faults {
    rules: RwLock<Vec<FaultRule>>,
    next_id: AtomicU64,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> FaultRule {
        let rule = FaultRule {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            enabled: spec.times != Some(0),
            spec,
            fired: 0,
        };
        self.write().push(rule.clone());
        rule
    }

    /// Switches a rule on or off; false when there is no such rule.
    pub fn set_enabled(&self, id: u64, enabled: bool) -> bool {
        self.write()
            .iter_mut()
            .find(|r| r.id == id)
            .map(|r| r.enabled = enabled)
            .is_some()
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.write();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.write().clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first enabled rule matching this request, counted as fired. Cheap when no
    /// rule is set: one read lock and an empty scan.
    pub fn fire(&self, socket: &str, event: &str, url: Option<&str>) -> Option<(u64, FaultAction)> {
        if self
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            return None;
        }
        let mut rules = self.write();
        let rule = rules
            .iter_mut()
            .find(|r| r.enabled && r.spec.when.matches(socket, event, url))?;
        rule.fired += 1;
        if let Some(times) = rule.spec.times {
            if rule.fired >= u64::from(times) {
                rule.enabled = false;
            }
        }
        Some((rule.id, rule.spec.action.clone()))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<FaultRule>> {
        self.rules.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl FaultMatch {
    fn matches(&self, socket: &str, event: &str, url: Option<&str>) -> bool {
        self.socket.as_deref().is_none_or(|s| s == socket)
            && self.event.as_deref().is_none_or(|e| e == event)
            && self
                .events
                .as_ref()
                .is_none_or(|list| list.iter().any(|e| e == event))
            && self.url.as_deref().is_none_or(|prefix| {
                let prefix = prefix.trim_end_matches('/');
                url.is_some_and(|u| u == prefix || u.starts_with(&format!("{prefix}/")))
            })
    }
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
        assert_eq!(faults.fire("s1", "create", Some("/todos")), None);
        assert_eq!(
            faults.fire("s1", "update", Some("/todosx/1")),
            None,
            "a prefix is a whole segment"
        );
        assert_eq!(faults.fire("s1", "update", Some("/notes/1")), None);
        assert!(faults.fire("s1", "update", Some("/todos/1")).is_some());
        assert_eq!(
            faults.fire("s1", "update", Some("/todos/1")),
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
        assert_eq!(faults.fire("s1", "create", Some("/todos")), None);
        assert!(
            faults.fire("s1", "patch", Some("/todos/1")).is_some(),
            "a Backbone toggle saves with patch"
        );
        assert_eq!(faults.fire("s1", "update", Some("/todos/1")), None, "spent");
    }

    #[test]
    fn rules_can_be_switched_off_and_removed() {
        let faults = Faults::default();
        let rule = faults.add(fail(None, FaultMatch::default()));
        assert!(faults.fire("s", "read", None).is_some());
        assert!(faults.set_enabled(rule.id, false));
        assert_eq!(faults.fire("s", "read", None), None);
        assert!(faults.remove(rule.id));
        assert!(!faults.remove(rule.id));
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_socket_rule_leaves_other_sockets_alone() {
        let faults = Faults::default();
        faults.add(fail(
            None,
            FaultMatch {
                socket: Some("a".into()),
                ..FaultMatch::default()
            },
        ));
        assert_eq!(faults.fire("b", "read", Some("/todos")), None);
        assert!(faults.fire("a", "read", Some("/todos")).is_some());
    }

    #[test]
    fn absent_match_fields_and_times_are_left_out_on_the_wire_as_the_ts_bindings_say() {
        let faults = Faults::default();
        let rule = faults.add(FaultSpec {
            when: FaultMatch::default(),
            action: FaultAction::Drop,
            times: None,
        });
        assert_eq!(
            serde_json::to_value(&rule).unwrap(),
            serde_json::json!({"id": rule.id, "enabled": true, "fired": 0, "when": {}, "action": "drop"})
        );
    }
}
