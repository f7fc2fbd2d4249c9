//! Live queries (issue 16): a collection read or subscription narrowed to the models
//! that match a filter, in the spelling `collection.fetch({data: {...}})` and
//! json-server use: equality on top-level attributes, `_sort`, `_order`, `_start`,
//! `_limit` (docs/PROTOCOL.md, *Queries*).
//!
//! Why a module of its own: a query changes *what a subscriber hears*, not only what a
//! read returns. The server keeps, for each distinct (collection, query) that sockets
//! subscribe to (a *query room*), which models are in the query's result, so that after
//! each write it can tell the room whether the written model entered the result, stayed
//! in it or left it (Firestore's added / modified / removed). An ordered query (one with
//! `_sort`, `_start` or `_limit`) keeps the ordered ids of its result instead, and when
//! a write changes that list the result is pushed whole: a model can enter or leave a
//! window without being written, when another one moves.
//!
//! Anything a json-server user may expect and this module does not do (operators such as
//! `_gte`, `_like`, full-text `q`, `_page`, nested `a.b` keys, lists as "any of") is
//! refused with `bad_request` naming the parameter, never ignored: a filter silently
//! ignored shows the user data they did not ask for.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::error::SyncError;
use crate::store::{Change, Model, Op};
use crate::url::Url;

/// The parameters with a meaning of their own; every other key is an attribute.
const SORT: &str = "_sort";
const ORDER: &str = "_order";
const START: &str = "_start";
const LIMIT: &str = "_limit";

/// json-server parameters and operator suffixes this server does not implement.
const UNSUPPORTED_PARAMS: &[&str] = &["_end", "_page", "_per_page", "_embed", "_expand", "q"];
const UNSUPPORTED_SUFFIXES: &[&str] = &["_gte", "_lte", "_gt", "_lt", "_ne", "_like"];

/// How a query orders its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub attribute: String,
    pub descending: bool,
}

/// A parsed query. Models match when every `filter` attribute equals the model's;
/// the result is then sorted (stable: ties keep creation order), and `start`/`limit`
/// cut a window out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    filter: Vec<(String, Value)>,
    sort: Option<Sort>,
    start: usize,
    limit: Option<usize>,
    /// The query as the client sent it. Pushes carry it back, so that a client with
    /// several subscriptions to one collection knows which one a push is for.
    wire: Map<String, Value>,
    /// The query's text with its keys in order: two subscriptions share a room when
    /// their texts are equal.
    key: String,
}

impl Query {
    /// Reads the `query` field of a request. An absent, null or empty query is no query
    /// (the whole collection).
    pub fn parse(value: Option<Value>) -> Result<Option<Query>, SyncError> {
        let wire = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(map)) if map.is_empty() => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(SyncError::bad_request(
                    "query",
                    format!(
                        "query must be an object of parameters like {{\"done\": true, \"_sort\": \"title\"}}; got {other}"
                    ),
                ))
            }
        };
        let mut filter = Vec::new();
        let mut sort = None;
        let mut order = None;
        let mut start = 0;
        let mut limit = None;
        for (param, value) in &wire {
            match param.as_str() {
                SORT => sort = Some(parse_sort(value)?),
                ORDER => order = Some(parse_order(value)?),
                START => start = count(param, value)?,
                LIMIT => limit = Some(count(param, value)?),
                _ => filter.push((param.clone(), parse_condition(param, value)?)),
            }
        }
        let sort = match (sort, order) {
            (None, Some(_)) => {
                return Err(bad_param(
                    ORDER,
                    "_order needs _sort: name the attribute to sort by".to_string(),
                ))
            }
            (Some(sort), Some(_)) if sort.descending => {
                return Err(bad_param(
                    ORDER,
                    "_sort \"-attribute\" already says descending; drop _order or the \"-\""
                        .to_string(),
                ))
            }
            (Some(sort), Some(descending)) => Some(Sort { descending, ..sort }),
            (sort, None) => sort,
        };
        let mut keys: Vec<&String> = wire.keys().collect();
        keys.sort();
        let key = keys
            .iter()
            .map(|k| format!("{}={}", Value::String((*k).clone()), wire[*k]))
            .collect::<Vec<_>>()
            .join("&");
        Ok(Some(Query {
            filter,
            sort,
            start,
            limit,
            wire,
            key,
        }))
    }

    /// Whether the result has an order or a window that depends on other models: then
    /// it is tracked (and pushed) as an ordered list rather than model by model.
    pub fn is_ordered(&self) -> bool {
        self.sort.is_some() || self.start > 0 || self.limit.is_some()
    }

    /// The query as the client sent it.
    pub fn wire(&self) -> Value {
        Value::Object(self.wire.clone())
    }

    /// The query's canonical text (keys in order), e.g. `"done"=true&"_sort"="title"`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a model's attributes pass the filter (sort and window aside).
    pub fn matches(&self, data: &Value) -> bool {
        self.filter
            .iter()
            .all(|(attr, want)| data.get(attr).is_some_and(|got| same(got, want)))
    }

    /// The query's result out of a collection given in creation order.
    pub fn run(&self, models: Vec<Model>) -> Vec<Model> {
        let mut kept: Vec<Model> = models
            .into_iter()
            .filter(|m| self.matches(&m.data))
            .collect();
        if let Some(sort) = &self.sort {
            // Stable: models that compare equal keep creation order, either direction.
            kept.sort_by(|a, b| {
                let ord = compare(a.data.get(&sort.attribute), b.data.get(&sort.attribute));
                if sort.descending {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
        kept.into_iter()
            .skip(self.start)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect()
    }
}

fn bad_param(param: &str, message: String) -> SyncError {
    SyncError::BadQuery {
        param: param.to_string(),
        message,
    }
}

fn parse_sort(value: &Value) -> Result<Sort, SyncError> {
    let Value::String(text) = value else {
        return Err(bad_param(
            SORT,
            format!("_sort must be the name of an attribute; got {value}"),
        ));
    };
    if text.contains(',') {
        return Err(bad_param(
            SORT,
            format!(
                "_sort {text:?} names several attributes; sorting by one attribute is supported"
            ),
        ));
    }
    let (attribute, descending) = match text.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (text.as_str(), false),
    };
    if attribute.is_empty() || attribute.contains('.') {
        return Err(bad_param(
            SORT,
            format!("_sort {text:?} must name one top-level attribute"),
        ));
    }
    Ok(Sort {
        attribute: attribute.to_string(),
        descending,
    })
}

/// `_order`: true for descending.
fn parse_order(value: &Value) -> Result<bool, SyncError> {
    match value.as_str() {
        Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        _ => Err(bad_param(
            ORDER,
            format!("_order must be \"asc\" or \"desc\"; got {value}"),
        )),
    }
}

/// `_start` and `_limit`: a non-negative integer, or its decimal digits in a string
/// (as a query string would carry it).
fn count(param: &str, value: &Value) -> Result<usize, SyncError> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<usize>().ok()
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        bad_param(
            param,
            format!("{param} must be a non-negative integer; got {value}"),
        )
    })
}

/// An equality condition on a top-level attribute.
fn parse_condition(param: &str, value: &Value) -> Result<Value, SyncError> {
    if param.is_empty() {
        return Err(bad_param(
            param,
            "a query parameter has an empty name".to_string(),
        ));
    }
    if UNSUPPORTED_PARAMS.contains(&param) {
        return Err(bad_param(
            param,
            format!(
                "the query parameter {param:?} is not supported; supported are equality on attributes, _sort, _order, _start and _limit"
            ),
        ));
    }
    if let Some(suffix) = UNSUPPORTED_SUFFIXES.iter().find(|s| param.ends_with(**s)) {
        return Err(bad_param(
            param,
            format!(
                "{param:?} looks like json-server's {suffix} operator, which is not supported; only equality is (name the attribute itself)"
            ),
        ));
    }
    if param.starts_with('_') && param.len() > 1 && is_reserved_like(param) {
        return Err(bad_param(
            param,
            format!("the query parameter {param:?} is not supported"),
        ));
    }
    if param.contains('.') {
        return Err(bad_param(
            param,
            format!(
                "{param:?} names a nested attribute; only top-level attributes can be filtered"
            ),
        ));
    }
    match value {
        Value::Array(_) => Err(bad_param(
            param,
            format!(
                "{param}: a list of values (json-server's \"any of\") is not supported; filter on one value"
            ),
        )),
        Value::Object(_) => Err(bad_param(
            param,
            format!("{param}: an object value is not supported; filter on a string, number, boolean or null"),
        )),
        other => Ok(other.clone()),
    }
}

/// Underscore parameters that look like a json-server option this server lacks
/// (`_sort_by`, `_embed_x`…): attribute names like `_id` or `_rev` stay filters.
fn is_reserved_like(param: &str) -> bool {
    ["_sort", "_order", "_start", "_limit"]
        .iter()
        .any(|p| param.eq_ignore_ascii_case(p))
}

/// Equality of JSON values; numbers by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        _ => a == b,
    }
}

/// The sort order of attribute values: missing, null, false, true, numbers, strings
/// (by Unicode code point), then arrays and objects (which tie).
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None => 0,
            Some(Value::Null) => 1,
            Some(Value::Bool(_)) => 2,
            Some(Value::Number(_)) => 3,
            Some(Value::String(_)) => 4,
            Some(Value::Array(_)) => 5,
            Some(Value::Object(_)) => 6,
        }
    }
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
        },
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The socketioxide room of a query subscription.
pub fn room_name(collection: &Url, query: &Query) -> String {
    crate::rooms::query_room(collection, &query.key)
}

/// The room of a query subscription named as the inspector names it (a url and the
/// query's parameters), for pushes made by hand or replayed.
pub fn room_of(url: &str, query: &Value) -> Result<String, SyncError> {
    let url = Url::parse(url)?;
    Ok(match Query::parse(Some(query.clone()))? {
        Some(query) => room_name(&url, &query),
        None => crate::rooms::channel_room(&url),
    })
}

/// What a query room remembers of its result.
#[derive(Debug)]
enum Members {
    /// The ids of the matching models (an unordered query).
    Matching(HashSet<String>),
    /// The ids of the result, in order (an ordered query).
    Window(Vec<String>),
}

#[derive(Debug)]
struct Room {
    collection: String,
    query: Query,
    members: Members,
    sockets: HashSet<String>,
}

/// A query room of a collection, as a write needs it.
#[derive(Debug, Clone)]
pub struct RoomOf {
    pub room: String,
    pub query: Query,
}

/// Who hears a query push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every socket in the room, the writer included.
    Room,
    /// The writer alone: its write never was in the result, but its page may show the
    /// model there already (a `create` through the filtered collection).
    Writer,
}

/// What a query room is told after a write.
#[derive(Debug)]
pub enum QueryPush {
    /// The written model is in the result after the write: added when the client does
    /// not show it yet, else modified.
    In(Change),
    /// The written model was in the result and is not any more (or was deleted).
    Out(Change),
    /// An ordered result changed (a model entered, left or moved): here it is whole.
    Result { models: Vec<Model>, seq: i64 },
}

impl QueryPush {
    /// The `change` event's argument for subscribers of `query` (docs/PROTOCOL.md).
    pub fn payload(&self, collection: &Url, query: &Query) -> Value {
        match self {
            QueryPush::In(change) | QueryPush::Out(change) => {
                let mut value = serde_json::to_value(change).unwrap_or_default();
                value["query"] = query.wire();
                value["match"] = json!(matches!(self, QueryPush::In(_)));
                value
            }
            QueryPush::Result { models, seq } => json!({
                "url": collection.to_string(),
                "query": query.wire(),
                "seq": seq,
                "reset": true,
                "data": models.iter().map(|m| m.data.clone()).collect::<Vec<_>>(),
                "versions": versions(models),
            }),
        }
    }
}

/// `{id: version}` of some models, as reads answer it.
pub fn versions(models: &[Model]) -> Value {
    Value::Object(
        models
            .iter()
            .map(|m| (m.id.clone(), json!(m.version)))
            .collect(),
    )
}

/// The live query rooms. Changed only while the store's write lock is held (subscribe
/// and writes), except that sockets leaving may drop a room at any time.
#[derive(Default)]
pub struct Rooms {
    inner: Mutex<HashMap<String, Room>>,
}

impl Rooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `sid` joins the room of `query`, whose result is `result`; the room is made
    /// (or its memory refreshed: the result is the store's state now) if needed.
    pub fn join(&self, sid: &str, collection: &Url, query: &Query, result: &[Model]) {
        let ids = result.iter().map(|m| m.id.clone());
        let members = if query.is_ordered() {
            Members::Window(ids.collect())
        } else {
            Members::Matching(ids.collect())
        };
        let mut rooms = self.lock();
        let room = rooms.entry(room_name(collection, query)).or_insert(Room {
            collection: collection.to_string(),
            query: query.clone(),
            members: Members::Matching(HashSet::new()),
            sockets: HashSet::new(),
        });
        room.members = members;
        room.sockets.insert(sid.to_string());
    }

    /// `sid` leaves one room; the room goes when no socket is left in it.
    pub fn leave(&self, sid: &str, collection: &Url, query: &Query) {
        let name = room_name(collection, query);
        let mut rooms = self.lock();
        if let Some(room) = rooms.get_mut(&name) {
            room.sockets.remove(sid);
            if room.sockets.is_empty() {
                rooms.remove(&name);
            }
        }
    }

    /// A socket is gone: it leaves every room.
    pub fn disconnected(&self, sid: &str) {
        self.lock().retain(|_, room| {
            room.sockets.remove(sid);
            !room.sockets.is_empty()
        });
    }

    /// The rooms listening to `collection`.
    pub fn of(&self, collection: &Url) -> Vec<RoomOf> {
        self.lock()
            .iter()
            .filter(|(_, room)| room.collection == collection.as_str())
            .map(|(name, room)| RoomOf {
                room: name.clone(),
                query: room.query.clone(),
            })
            .collect()
    }

    /// Tells room `name` of a committed write by socket `writer` and updates what it
    /// remembers. `all` is the collection after the write, in creation order; needed
    /// for ordered queries only. None when nobody in the room has anything to hear.
    pub fn route(
        &self,
        name: &str,
        change: &Change,
        all: Option<&[Model]>,
        writer: Option<&str>,
    ) -> Option<(QueryPush, Audience)> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(name)?;
        let push = Self::route_in(room, change, all).map(|push| (push, Audience::Room));
        match push {
            None if writer.is_some_and(|w| room.sockets.contains(w)) => {
                Some((QueryPush::Out(change.clone()), Audience::Writer))
            }
            push => push,
        }
    }

    fn route_in(room: &mut Room, change: &Change, all: Option<&[Model]>) -> Option<QueryPush> {
        match &mut room.members {
            Members::Matching(ids) => {
                let was = ids.contains(&change.id);
                let is = change.op != Op::Delete && room.query.matches(&change.data);
                if is {
                    ids.insert(change.id.clone());
                    Some(QueryPush::In(change.clone()))
                } else if was {
                    ids.remove(&change.id);
                    Some(QueryPush::Out(change.clone()))
                } else {
                    None
                }
            }
            Members::Window(ids) => {
                let result = room.query.run(all?.to_vec());
                let now: Vec<String> = result.iter().map(|m| m.id.clone()).collect();
                if now == *ids {
                    return now
                        .contains(&change.id)
                        .then(|| QueryPush::In(change.clone()));
                }
                *ids = now;
                Some(QueryPush::Result {
                    models: result,
                    seq: change.seq,
                })
            }
        }
    }
}

/// What a query subscription with `since` is sent to catch up.
#[derive(Debug)]
pub enum QuerySince {
    /// The latest change of each model changed since `since`, in seq order, with
    /// whether the model is in the result now (`match`).
    Changes(Vec<(Change, bool)>),
    /// The result whole (an ordered query, or a `since` the log no longer reaches).
    Result(Vec<Model>),
}

/// Narrows the changes after `since` to what a client of an unordered query needs:
/// the last change of each model, and whether it is in the result now. A model that
/// left the result while the client was away comes with `match: false`, so the client
/// removes it; one it never had is removed from nothing.
pub fn catch_up(query: &Query, changes: Vec<Change>) -> Vec<(Change, bool)> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        last.insert(change.id.clone(), i);
    }
    changes
        .into_iter()
        .enumerate()
        .filter(|(i, change)| last.get(&change.id) == Some(i))
        .map(|(_, change)| {
            let matched = change.op != Op::Delete && query.matches(&change.data);
            (change, matched)
        })
        .collect()
}

impl QuerySince {
    /// The fields it adds to a subscribe ack.
    pub fn render(&self, result: &mut Value) {
        match self {
            QuerySince::Changes(changes) => {
                result["changes"] = Value::Array(
                    changes
                        .iter()
                        .map(|(change, matched)| {
                            let mut value = serde_json::to_value(change).unwrap_or_default();
                            value["match"] = json!(matched);
                            value
                        })
                        .collect(),
                );
            }
            QuerySince::Result(models) => {
                result["reset"] = json!(true);
                result["data"] = Value::Array(models.iter().map(|m| m.data.clone()).collect());
                result["versions"] = versions(models);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: Value) -> Query {
        Query::parse(Some(value)).unwrap().unwrap()
    }

    fn refused(value: Value) -> SyncError {
        Query::parse(Some(value)).unwrap_err()
    }

    fn model(seq: i64, data: Value) -> Model {
        Model {
            id: data["id"].to_string().trim_matches('"').to_string(),
            data,
            version: seq,
        }
    }

    fn ids(models: &[Model]) -> Vec<&str> {
        models.iter().map(|m| m.id.as_str()).collect()
    }

    fn todos() -> Vec<Model> {
        vec![
            model(1, json!({"id": "a", "title": "b", "done": true, "rank": 2})),
            model(
                2,
                json!({"id": "b", "title": "a", "done": false, "rank": 1.5}),
            ),
            model(3, json!({"id": "c", "title": "c", "done": true})),
            model(
                4,
                json!({"id": "d", "title": "a", "done": "true", "rank": 2.0}),
            ),
        ]
    }

    #[test]
    fn equality_compares_json_values_exactly_and_numbers_by_value() {
        let done = q(json!({"done": true}));
        assert_eq!(ids(&done.run(todos())), ["a", "c"], "\"true\" is not true");
        assert_eq!(ids(&q(json!({"rank": 2})).run(todos())), ["a", "d"]);
        assert_eq!(
            ids(&q(json!({"missing": null})).run(todos())),
            Vec::<&str>::new()
        );
        assert_eq!(
            ids(&q(json!({"title": "a", "done": false})).run(todos())),
            ["b"]
        );
    }

    #[test]
    fn sort_order_start_and_limit_as_json_server_spells_them() {
        let by_title = q(json!({"_sort": "title"}));
        assert_eq!(
            ids(&by_title.run(todos())),
            ["b", "d", "a", "c"],
            "ties keep creation order"
        );
        let desc = q(json!({"_sort": "title", "_order": "desc"}));
        assert_eq!(ids(&desc.run(todos())), ["c", "a", "b", "d"]);
        assert_eq!(
            ids(&q(json!({"_sort": "-title"})).run(todos())),
            ["c", "a", "b", "d"]
        );
        // Missing sorts first, then numbers by value.
        assert_eq!(
            ids(&q(json!({"_sort": "rank"})).run(todos())),
            ["c", "b", "a", "d"]
        );
        let page = q(json!({"_sort": "title", "_start": 1, "_limit": "2"}));
        assert_eq!(ids(&page.run(todos())), ["d", "a"]);
        let window = q(json!({"done": true, "_limit": 1}));
        assert_eq!(ids(&window.run(todos())), ["a"]);
        assert!(window.is_ordered());
        assert!(!q(json!({"done": true})).is_ordered());
    }

    #[test]
    fn unsupported_parameters_are_refused_naming_them() {
        for (query, param) in [
            (json!({"_page": 2}), "_page"),
            (json!({"views_gte": 10}), "views_gte"),
            (json!({"title_like": "a"}), "title_like"),
            (json!({"q": "milk"}), "q"),
            (json!({"author.name": "x"}), "author.name"),
            (json!({"id": [1, 2]}), "id"),
            (json!({"tags": {"a": 1}}), "tags"),
            (json!({"_order": "desc"}), "_order"),
            (json!({"_sort": "a", "_order": "down"}), "_order"),
            (json!({"_sort": "a,b"}), "_sort"),
            (json!({"_limit": -1}), "_limit"),
            (json!({"_start": "1.5"}), "_start"),
            (json!({"_Sort": "a"}), "_Sort"),
        ] {
            let err = refused(query.clone());
            assert_eq!(err.code(), "bad_request", "{query}");
            assert_eq!(err.to_wire()["param"], json!(param), "{query}");
            assert!(err.to_string().contains(param), "{query}: {err}");
        }
        assert_eq!(refused(json!("done=true")).to_wire()["field"], "query");
        assert!(Query::parse(Some(json!({}))).unwrap().is_none());
        // Attributes that merely start with "_" are filters.
        assert_eq!(ids(&q(json!({"_rev": 1})).run(todos())), Vec::<&str>::new());
    }

    #[test]
    fn the_key_ignores_the_order_parameters_came_in() {
        let a = q(json!({"done": true, "_sort": "title"}));
        let mut map = Map::new();
        map.insert("_sort".into(), json!("title"));
        map.insert("done".into(), json!(true));
        let b = Query::parse(Some(Value::Object(map))).unwrap().unwrap();
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), q(json!({"done": "true", "_sort": "title"})).key());
    }

    fn change(seq: i64, op: Op, data: Value) -> Change {
        Change {
            url: "/todos".into(),
            op,
            id: data["id"].as_str().unwrap().to_string(),
            data,
            version: seq,
            seq,
        }
    }

    #[test]
    fn a_room_hears_models_enter_stay_and_leave_its_filter() {
        let rooms = Rooms::default();
        let url = Url::parse("/todos").unwrap();
        let done = q(json!({"done": true}));
        rooms.join("s1", &url, &done, &done.run(todos()));
        let name = room_name(&url, &done);
        let route = |c: &Change| rooms.route(&name, c, None, Some("other")).map(|(p, _)| p);
        // b enters, changes within, leaves; a model never in it is not heard of.
        let enter = change(5, Op::Patch, json!({"id": "b", "done": true}));
        assert!(matches!(route(&enter), Some(QueryPush::In(_))));
        let stay = change(6, Op::Update, json!({"id": "b", "done": true, "x": 1}));
        assert!(matches!(route(&stay), Some(QueryPush::In(_))));
        let leave = change(7, Op::Update, json!({"id": "b", "done": false}));
        assert!(matches!(route(&leave), Some(QueryPush::Out(_))));
        let outside = change(8, Op::Update, json!({"id": "b", "done": false}));
        assert!(route(&outside).is_none());
        // Its writer may show it through the filtered collection: it hears it is out.
        let told = rooms.route(&name, &outside, None, Some("s1"));
        assert!(matches!(told, Some((QueryPush::Out(_), Audience::Writer))));
        let deleted = change(9, Op::Delete, json!({"id": "a", "done": true}));
        assert!(matches!(route(&deleted), Some(QueryPush::Out(_))));
        let payload = QueryPush::Out(deleted).payload(&url, &done);
        assert_eq!(payload["match"], json!(false));
        assert_eq!(payload["query"], json!({"done": true}));
        // The room goes with its last socket.
        assert_eq!(rooms.of(&url).len(), 1);
        rooms.disconnected("s1");
        assert!(rooms.of(&url).is_empty());
    }

    #[test]
    fn a_window_is_pushed_whole_when_its_list_changes() {
        let rooms = Rooms::default();
        let url = Url::parse("/todos").unwrap();
        let first = q(json!({"_sort": "title", "_limit": 2}));
        let mut all = todos();
        rooms.join("s1", &url, &first, &first.run(all.clone()));
        let name = room_name(&url, &first);
        // A change within the window, order unchanged: that change alone.
        all[1].data["done"] = json!(true);
        let within = change(5, Op::Patch, all[1].data.clone());
        assert!(matches!(
            rooms
                .route(&name, &within, Some(&all), None)
                .map(|(p, _)| p),
            Some(QueryPush::In(_))
        ));
        // Outside the window: nothing.
        all[2].data["done"] = json!(false);
        let outside = change(6, Op::Patch, all[2].data.clone());
        assert!(rooms.route(&name, &outside, Some(&all), None).is_none());
        // c sorts first now: it enters, d leaves; the window comes whole.
        all[2].data["title"] = json!("0");
        let moved = change(7, Op::Patch, all[2].data.clone());
        match rooms.route(&name, &moved, Some(&all), None).map(|(p, _)| p) {
            Some(QueryPush::Result { models, seq }) => {
                assert_eq!(ids(&models), ["c", "b"]);
                assert_eq!(seq, 7);
            }
            other => panic!("expected the window, got {other:?}"),
        }
    }

    #[test]
    fn catch_up_keeps_the_last_change_of_each_model_with_its_match() {
        let done = q(json!({"done": true}));
        let changes = vec![
            change(1, Op::Create, json!({"id": "a", "done": true})),
            change(2, Op::Create, json!({"id": "b", "done": true})),
            change(3, Op::Update, json!({"id": "a", "done": false})),
            change(4, Op::Delete, json!({"id": "b", "done": true})),
            change(5, Op::Create, json!({"id": "c", "done": true})),
        ];
        let caught: Vec<(i64, bool)> = catch_up(&done, changes)
            .iter()
            .map(|(c, m)| (c.seq, *m))
            .collect();
        assert_eq!(caught, [(3, false), (4, false), (5, true)]);
    }
}
