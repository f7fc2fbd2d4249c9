//! From a recording to a script: who connected how, what each client asked in which
//! order, and what each client must hear back.
//!
//! A recording is written from the server's side: a push is one `push_out` record that
//! names a channel, not the sockets that got it. Replay checks what every *client*
//! received, so the recipients are worked out here the way the server chose them: the
//! channel's members at that moment (from subscribe, unsubscribe and disconnect
//! records), or the sockets that spoke iobind for the namespace, minus the writer.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::faults::FaultAction;
use crate::inspect::registry::channel_key;
use crate::inspect::types::{Body, Origin, Record, Target};
use crate::session_file::SessionFile;
use crate::sio::{Eio, Transport};

/// One recorded client, as the replay will play it.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// The socket id it had in the recording.
    pub recorded_id: String,
    pub eio: Eio,
    pub transport: Transport,
    pub auth: Option<Value>,
    pub user_agent: Option<String>,
}

impl ClientPlan {
    pub fn describe(&self) -> String {
        let transport = match self.transport {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
            Transport::PollingThenWebsocket => "polling→websocket",
        };
        format!(
            "socket {} (EIO{}, {transport})",
            self.recorded_id,
            self.eio.number()
        )
    }
}

/// What one client must receive, and when in the recording it was sent.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The seq of the record that sent it; expectations are checked in this order.
    pub seq: u64,
    pub client: usize,
    pub what: Expected,
}

#[derive(Debug, Clone)]
pub enum Expected {
    /// The ack of the request recorded as `request_seq`.
    Ack {
        request_seq: u64,
        event: String,
        url: Option<String>,
        args: Vec<Value>,
    },
    /// A pushed event, in the order the client received its pushes.
    Push { event: String, args: Vec<Value> },
    /// The server cut the client off.
    Disconnect { reason: String },
}

#[derive(Debug, Clone)]
pub enum Step {
    Connect {
        seq: u64,
        at_us: u64,
        client: usize,
    },
    Request {
        seq: u64,
        at_us: u64,
        client: usize,
        event: String,
        url: Option<String>,
        args: Value,
        wants_ack: bool,
        /// False for a request replay adds itself (a subscribe the session only shows
        /// as state), whose ack the recording does not have.
        check_ack: bool,
        /// The fault the recording's server applied to it, to apply again.
        fault: Option<FaultAction>,
    },
    /// The client left (or its network went away).
    Leave {
        seq: u64,
        at_us: u64,
        client: usize,
    },
}

impl Step {
    pub fn seq(&self) -> u64 {
        match self {
            Step::Connect { seq, .. } | Step::Request { seq, .. } | Step::Leave { seq, .. } => *seq,
        }
    }

    pub fn at_us(&self) -> u64 {
        match self {
            Step::Connect { at_us, .. }
            | Step::Request { at_us, .. }
            | Step::Leave { at_us, .. } => *at_us,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Script {
    pub clients: Vec<ClientPlan>,
    pub steps: Vec<Step>,
    /// In recorded order (by seq).
    pub expectations: Vec<Expectation>,
    /// The recorded records of each client (its requests, acks, pushes), for context.
    pub records: Vec<Record>,
    /// Things the script could not represent faithfully; printed before the run.
    pub warnings: Vec<String>,
    /// Models that existed before the recording began, to put back first.
    pub seeds: Vec<super::seed::SeedModel>,
}

/// The methods a request can name, in either dialect.
const METHODS: [&str; 7] = [
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "subscribe",
    "unsubscribe",
];

/// The iobind namespace of an event such as `todos:create`.
fn iobind_ns(event: &str) -> Option<&str> {
    let (ns, method) = event.rsplit_once(':')?;
    METHODS[..5]
        .contains(&method)
        .then(|| ns.trim_start_matches('/'))
}

pub fn build(file: &SessionFile) -> Script {
    let mut records = file.records.clone();
    records.sort_by_key(|r| r.seq);
    let mut clients: Vec<ClientPlan> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut connected: BTreeSet<usize> = BTreeSet::new();
    let mut channels: HashMap<String, BTreeSet<usize>> = HashMap::new();
    let mut iobind: HashMap<String, BTreeSet<usize>> = HashMap::new();
    let mut steps = Vec::new();
    let mut expectations = Vec::new();
    let mut warnings = Vec::new();
    // The last request of each client per event name, to pin a fault record on.
    let mut last_request: HashMap<(usize, String), usize> = HashMap::new();
    // A fault that cut the socket off: its disconnect is the server's doing.
    let mut cut_by_fault: BTreeSet<usize> = BTreeSet::new();

    for record in &records {
        // A socket the session hears from without its connect (one that connected just
        // as recording began) is played as a WebSocket EIO4 client from here on.
        if let (Some(socket), Body::EventIn { .. } | Body::Subscribe { .. }) =
            (&record.socket, &record.body)
        {
            if !index.contains_key(socket) {
                warnings.push(format!(
                    "record #{}: socket {socket} is heard from without its connect; \
                     replayed as a WebSocket EIO4 client",
                    record.seq
                ));
                let n = clients.len();
                clients.push(ClientPlan {
                    recorded_id: socket.clone(),
                    eio: Eio::V4,
                    transport: Transport::Websocket,
                    auth: None,
                    user_agent: None,
                });
                index.insert(socket.clone(), n);
                connected.insert(n);
                steps.push(Step::Connect {
                    seq: record.seq,
                    at_us: record.at_us,
                    client: n,
                });
            }
        }
        let client = record.socket.as_ref().and_then(|s| index.get(s).copied());
        match &record.body {
            Body::Connect {
                transport,
                protocol,
                auth,
                user_agent,
                ..
            } => {
                let Some(socket) = &record.socket else {
                    continue;
                };
                let eio = Eio::parse_name(protocol).unwrap_or(Eio::V4);
                let upgraded = records.iter().any(|r| {
                    r.socket.as_ref() == Some(socket) && matches!(r.body, Body::Upgrade { .. })
                });
                let transport = match (transport.as_str(), upgraded) {
                    ("polling", true) => Transport::PollingThenWebsocket,
                    ("polling", false) => Transport::Polling,
                    _ => Transport::Websocket,
                };
                let n = clients.len();
                clients.push(ClientPlan {
                    recorded_id: socket.clone(),
                    eio,
                    transport,
                    auth: (!auth.is_null()).then(|| auth.clone()),
                    user_agent: user_agent.clone(),
                });
                index.insert(socket.clone(), n);
                connected.insert(n);
                steps.push(Step::Connect {
                    seq: record.seq,
                    at_us: record.at_us,
                    client: n,
                });
            }
            Body::EventIn {
                event,
                args,
                ack_id,
            } => {
                let Some(client) = client else { continue };
                if let Some(ns) = iobind_ns(event) {
                    iobind.entry(ns.to_string()).or_default().insert(client);
                }
                last_request.insert((client, event.clone()), steps.len());
                steps.push(Step::Request {
                    seq: record.seq,
                    at_us: record.at_us,
                    client,
                    event: event.clone(),
                    url: record.url.clone(),
                    args: args.clone(),
                    wants_ack: ack_id.is_some(),
                    check_ack: true,
                    fault: None,
                });
            }
            Body::Fault { event, action, .. } => {
                // Push and connection rules act on no request: nothing to set again.
                if action.layer() != crate::faults::Layer::Request {
                    continue;
                }
                let Some(client) = client else { continue };
                match last_request.get(&(client, event.clone())) {
                    Some(&step) => {
                        if let Step::Request { fault, .. } = &mut steps[step] {
                            *fault = Some(action.clone());
                        }
                        if *action == FaultAction::Disconnect {
                            cut_by_fault.insert(client);
                        }
                    }
                    None => warnings.push(format!(
                        "record #{}: a fault on {event} with no request before it; ignored",
                        record.seq
                    )),
                }
            }
            Body::AckOut {
                request_seq,
                event,
                args,
                ..
            } => {
                let Some(client) = client else { continue };
                expectations.push(Expectation {
                    seq: record.seq,
                    client,
                    what: Expected::Ack {
                        request_seq: *request_seq,
                        event: event.clone(),
                        url: record.url.clone(),
                        args: args.clone(),
                    },
                });
            }
            Body::PushOut {
                event,
                target,
                recipients,
                args,
                ..
            } => {
                // Only what a client's request caused is played back; a push the
                // inspector sent is not part of the app's conversation.
                if record.origin != Origin::Server {
                    continue;
                }
                let mut to: BTreeSet<usize> = match target {
                    Target::Channel { url } => channels.get(url).cloned().unwrap_or_default(),
                    Target::Query { url, query } => channels
                        .get(&channel_key(url, Some(query)))
                        .cloned()
                        .unwrap_or_default(),
                    Target::Iobind { ns } => iobind.get(ns).cloned().unwrap_or_default(),
                    Target::Socket { id } => index.get(id).copied().into_iter().collect(),
                    Target::All => connected.clone(),
                };
                to.retain(|c| connected.contains(c));
                if let (Some(writer), false) = (client, matches!(target, Target::Socket { .. })) {
                    to.remove(&writer);
                }
                if to.len() as u32 != *recipients {
                    warnings.push(format!(
                        "record #{}: the recording says {event} went to {recipients} socket(s); \
                         replay expects it at {}",
                        record.seq,
                        to.len()
                    ));
                }
                for c in to {
                    expectations.push(Expectation {
                        seq: record.seq,
                        client: c,
                        what: Expected::Push {
                            event: event.clone(),
                            args: args.clone(),
                        },
                    });
                }
            }
            Body::Subscribe { channel, query } => {
                let Some(client) = client else { continue };
                let key = channel_key(channel, query.as_ref());
                channels.entry(key).or_default().insert(client);
                // A session opens with the subscriptions its sockets already had, as
                // state without a request: replay subscribes for them.
                let asked = last_request
                    .get(&(client, "subscribe".to_string()))
                    .and_then(|&step| match &steps[step] {
                        Step::Request { args, .. } => args.get("url").and_then(Value::as_str),
                        _ => None,
                    })
                    .and_then(|url| crate::url::Url::parse(url).ok())
                    .is_some_and(|url| url.as_str() == channel);
                if !asked {
                    let mut args = serde_json::json!({ "url": channel });
                    if let Some(query) = query {
                        args["query"] = query.clone();
                    }
                    steps.push(Step::Request {
                        seq: record.seq,
                        at_us: record.at_us,
                        client,
                        event: "subscribe".into(),
                        url: Some(channel.clone()),
                        args,
                        wants_ack: true,
                        check_ack: false,
                        fault: None,
                    });
                }
            }
            Body::Unsubscribe { channel, query } => {
                if let Some(client) = client {
                    let key = channel_key(channel, query.as_ref());
                    channels.entry(key).or_default().remove(&client);
                }
            }
            Body::Disconnect { reason } => {
                let Some(client) = client else { continue };
                connected.remove(&client);
                for members in channels.values_mut().chain(iobind.values_mut()) {
                    members.remove(&client);
                }
                let by_server = record.origin == Origin::Inspector
                    || cut_by_fault.contains(&client)
                    || reason.contains("server namespace disconnect")
                    || reason.contains("closing server");
                if by_server {
                    expectations.push(Expectation {
                        seq: record.seq,
                        client,
                        what: Expected::Disconnect {
                            reason: reason.clone(),
                        },
                    });
                } else {
                    steps.push(Step::Leave {
                        seq: record.seq,
                        at_us: record.at_us,
                        client,
                    });
                }
            }
            // Upgrades shaped the plan above; errors and refusals are not requests.
            _ => {}
        }
    }
    // Expectations of a client are met in the order the recording sent them.
    expectations.sort_by_key(|e| e.seq);
    let seeds = super::seed::infer(&records);
    Script {
        seeds,
        clients,
        steps,
        expectations,
        records,
        warnings,
    }
}

/// Is this request a create whose id the server chose?
pub fn server_makes_id(event: &str, args: &Value) -> bool {
    let create = event == "create" || event.ends_with(":create");
    if !create {
        return false;
    }
    let data = if event == "create" {
        args.get("data")
    } else {
        Some(args)
    };
    data.is_none_or(|d| d.get("id").is_none_or(Value::is_null))
}

/// The id in a create's success ack: `result.data.id` (native) or `attrs.id` (iobind).
pub fn created_id(event: &str, ack: &[Value]) -> Option<String> {
    if !ack.first().is_some_and(Value::is_null) {
        return None;
    }
    let result = ack.get(1)?;
    let id = if event == "create" {
        result.get("data")?.get("id")?
    } else {
        result.get("id")?
    };
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
