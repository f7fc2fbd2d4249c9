//! The sequential model: the change log replayed in seq order, each model's states over
//! the order, and what a collection held at any seq.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::history::Change;
use super::report::Report;

/// A model as the sequential model holds it at some point of the order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelState {
    pub data: Value,
    pub version: i64,
    /// The seq that (re)created it: collection reads list models in this order.
    pub created_seq: i64,
}

/// A model's state after the change of `seq` (None: deleted).
pub struct Step {
    pub seq: i64,
    pub state: Option<ModelState>,
}

/// A model: its collection url and id.
pub type ModelKey = (String, String);

/// The sequential model: every model's states over the order of seqs.
#[derive(Default)]
pub struct Model {
    /// Each model's states, in seq order.
    pub timelines: HashMap<ModelKey, Vec<Step>>,
    /// collection url → its ids, in first-seen order.
    pub ids: BTreeMap<String, Vec<String>>,
    pub log: BTreeMap<i64, Change>,
    pub last_seq: i64,
    /// Request tag → seq of the create, update or patch that carried it.
    pub by_tag: HashMap<String, i64>,
    /// Tag of the state a delete removed → seq of the delete (a state is deleted once).
    pub deleted_tag: HashMap<String, i64>,
}

impl Model {
    pub fn state_at(&self, url: &str, id: &str, seq: i64) -> Option<&ModelState> {
        let timeline = self.timelines.get(&(url.to_string(), id.to_string()))?;
        let at = timeline.partition_point(|step| step.seq <= seq);
        if at == 0 {
            return None;
        }
        timeline[at - 1].state.as_ref()
    }

    /// Whether the model held `want` (None: absent) at some point of `[lo, hi]`.
    pub fn held_within(
        &self,
        url: &str,
        id: &str,
        lo: i64,
        hi: i64,
        want: Option<(&Value, i64)>,
    ) -> bool {
        let matches = |state: Option<&ModelState>| match (state, want) {
            (None, None) => true,
            (Some(s), Some((data, version))) => &s.data == data && s.version == version,
            _ => false,
        };
        if matches(self.state_at(url, id, lo)) {
            return true;
        }
        let Some(timeline) = self.timelines.get(&(url.to_string(), id.to_string())) else {
            return false;
        };
        timeline
            .iter()
            .filter(|step| step.seq > lo && step.seq <= hi)
            .any(|step| matches(step.state.as_ref()))
    }

    /// The collection's models at `seq`, in creation order.
    pub fn collection_at(&self, url: &str, seq: i64) -> Vec<(String, ModelState)> {
        let mut models: Vec<(String, ModelState)> = self
            .ids
            .get(url)
            .into_iter()
            .flatten()
            .filter_map(|id| self.state_at(url, id, seq).map(|s| (id.clone(), s.clone())))
            .collect();
        models.sort_by_key(|(_, s)| s.created_seq);
        models
    }

    /// Seqs of a collection's changes in `(lo, hi]`.
    pub fn collection_seqs(&self, url: &str, lo: i64, hi: i64) -> Vec<i64> {
        if hi <= lo {
            return Vec::new();
        }
        self.log
            .range(lo + 1..=hi)
            .filter(|(_, c)| c.url == url)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// Replays the log as the sequential model, checking that it is one: seqs unique and
/// without gap, each op legal for the state before it, versions +1 per write.
pub fn replay(log: &[Change], report: &mut Report) -> Model {
    let mut model = Model::default();
    let mut current: HashMap<ModelKey, ModelState> = HashMap::new();
    for change in log {
        if model.log.insert(change.seq, change.clone()).is_some() {
            report.fail(format!("seq {} was given to two changes", change.seq));
        }
    }
    let mut expected_seq = 1;
    for (seq, change) in &model.log {
        if *seq != expected_seq {
            report.fail(format!(
                "the change log has a gap: seq {expected_seq} is missing before {seq}"
            ));
        }
        expected_seq = seq + 1;
        let key = (change.url.clone(), change.id.clone());
        let before = current.get(&key).cloned();
        let after = match (change.op.as_str(), &before) {
            ("create", None) if change.version == 1 => Some(ModelState {
                data: change.data.clone(),
                version: 1,
                created_seq: *seq,
            }),
            ("update" | "patch", Some(b)) if change.version == b.version + 1 => Some(ModelState {
                data: change.data.clone(),
                version: change.version,
                created_seq: b.created_seq,
            }),
            ("delete", Some(b)) if change.version == b.version + 1 && change.data == b.data => None,
            _ => {
                report.fail(format!(
                    "seq {seq}: {} {}/{} version {} is not a legal next step from {:?}",
                    change.op,
                    change.url,
                    change.id,
                    change.version,
                    before.as_ref().map(|b| (&b.data, b.version))
                ));
                // Keep replaying from what the log says, to report later steps sensibly.
                (change.op != "delete").then(|| ModelState {
                    data: change.data.clone(),
                    version: change.version,
                    created_seq: before.as_ref().map_or(*seq, |b| b.created_seq),
                })
            }
        };
        match &after {
            Some(state) => current.insert(key.clone(), state.clone()),
            None => current.remove(&key),
        };
        let ids = model.ids.entry(change.url.clone()).or_default();
        if !model.timelines.contains_key(&key) {
            ids.push(change.id.clone());
        }
        model.timelines.entry(key).or_default().push(Step {
            seq: *seq,
            state: after,
        });
        model.last_seq = *seq;
    }
    for (seq, change) in &model.log {
        let index = if change.op == "delete" {
            &mut model.deleted_tag
        } else {
            &mut model.by_tag
        };
        match change.tag() {
            Some(t) => {
                if index.insert(t.to_string(), *seq).is_some() {
                    report.fail(format!("the tag {t} appears in two {} changes", change.op));
                }
            }
            None => report.fail(format!("seq {seq} carries no request tag")),
        }
    }
    model
}
