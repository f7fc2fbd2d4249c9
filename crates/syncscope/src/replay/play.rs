//! Plays a script against a server and notes every difference from the recording.
//!
//! Each recorded client becomes a real Socket.IO client, with the transport and
//! Engine.IO revision it had. Requests go out in recorded order; before each one, every
//! answer the recording shows *before* it (acks and pushes, to any client) is awaited,
//! so the interleaving across clients is the recorded one, while requests a client sent
//! without waiting stay pipelined. Answers are checked in recorded order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::compare::{IgnorePath, Mapping, Mismatch};
use super::script::{created_id, server_makes_id, ClientPlan, Expected, Script, Step};
use crate::faults::{FaultAction, FaultMatch, FaultSpec};
use crate::inspect::client::Client as Control;
use crate::inspect::types::Command;
use crate::sio::{Client, ClientError, ConnectOptions, Incoming};

pub struct PlayOptions {
    /// The server's address, `http://host:port`.
    pub server: String,
    /// The control token, for re-applying recorded faults.
    pub token: Option<String>,
    /// 0: as fast as the answers come; 1: the recorded timing; 2: twice as fast…
    pub speed: f64,
    /// How long to wait for one answer before calling it missing.
    pub timeout: Duration,
    pub ignore: Vec<IgnorePath>,
    /// Called after each step and each checked answer, with (done, total).
    pub progress: Option<Box<dyn Fn(u64, u64) + Send>>,
}

/// One difference between the recording and now.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub client: usize,
    /// The recorded record it is about (0 when nothing recorded matches it).
    pub seq: u64,
    pub kind: DivergenceKind,
    /// "the ack of update /todos/1", "a change push"…
    pub subject: String,
    pub mismatch: Option<Mismatch>,
    /// What this client sent and received just before, in this run.
    pub context: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivergenceKind {
    /// The answer came and differs.
    Differs,
    /// The recording has it; nothing came.
    Missing,
    /// It came; the recording has nothing like it.
    Unexpected,
    /// The server refused the client's connection.
    ConnectRefused,
}

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("cannot reach the server at {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error("{0}")]
    Control(String),
}

#[derive(Debug)]
pub struct PlayReport {
    pub divergences: Vec<Divergence>,
    /// Answers that matched.
    pub matched: usize,
    pub requests: usize,
}

/// One client during the run.
#[derive(Default)]
struct Live {
    client: Option<Client>,
    /// Our ack id → the recorded request it stands for.
    ack_ids: HashMap<u64, u64>,
    acks: HashMap<u64, Vec<Value>>,
    pushes: VecDeque<(String, Vec<Value>)>,
    /// Why the connection ended, once it has.
    ended: Option<String>,
    /// It left as the recording says; nothing more is expected of it.
    left: bool,
    log: Vec<String>,
}

impl Live {
    fn file(&mut self, message: Incoming) {
        match message {
            Incoming::Ack { id, args } => {
                self.log
                    .push(format!("← ack {}", short(&Value::Array(args.clone()))));
                match self.ack_ids.get(&id) {
                    Some(&request) => {
                        self.acks.insert(request, args);
                    }
                    None => self
                        .log
                        .push(format!("(an ack with id {id} nobody asked for)")),
                }
            }
            Incoming::Event { name, args } => {
                self.log
                    .push(format!("← {name} {}", short(&Value::Array(args.clone()))));
                self.pushes.push_back((name, args));
            }
            Incoming::Disconnected => {
                self.log.push("← disconnected by the server".into());
                self.ended = Some("disconnected by the server".into());
            }
            Incoming::Closed(reason) => {
                self.log.push(format!("× {reason}"));
                self.ended.get_or_insert(reason);
            }
            Incoming::Other(frame) | Incoming::Frame(frame) => self.log.push(format!("← {frame}")),
        }
    }

    /// Reads what the server sent, waiting up to `wait` for the first message.
    async fn pump(&mut self, wait: Duration) -> bool {
        let Some(client) = self.client.as_mut() else {
            return false;
        };
        match client.next_within(wait).await {
            Some(message) => {
                self.file(message);
                true
            }
            None => false,
        }
    }

    fn recent(&self) -> Vec<String> {
        let from = self.log.len().saturating_sub(4);
        self.log[from..].to_vec()
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 100 {
        format!("{}…", text.chars().take(100).collect::<String>())
    } else {
        text
    }
}

struct Player<'a> {
    script: &'a Script,
    opts: PlayOptions,
    live: Vec<Live>,
    mapping: Mapping,
    /// Recorded requests by seq: event and arguments.
    requests: HashMap<u64, (String, Value)>,
    next_expectation: usize,
    divergences: Vec<Divergence>,
    matched: usize,
    done: u64,
    total: u64,
    control: Option<Control>,
    /// Fault rules this run added, removed at the end.
    rules: Vec<u64>,
    /// The recorded ack of each request, by the request's seq: event and arguments.
    recorded_acks: HashMap<u64, (String, Vec<Value>)>,
    /// Creates whose id the server makes, sent and not yet acked.
    creates: HashSet<u64>,
    /// An answer timed out and nothing has come since.
    quiet: bool,
    /// Requests replay added itself, whose acks are not compared.
    unchecked: HashSet<u64>,
}

enum Meet {
    Met,
    NotYet,
    /// It differs, and a create's ack still in flight may explain why.
    NeedCreates,
}

pub async fn play(script: &Script, opts: PlayOptions) -> Result<PlayReport, PlayError> {
    let control = opts
        .token
        .clone()
        .map(|token| Control::new(&opts.server, Some(token)));
    let total = (script.steps.len() + script.expectations.len()) as u64;
    let mut player = Player {
        script,
        mapping: Mapping::new(opts.ignore.clone()),
        opts,
        live: (0..script.clients.len()).map(|_| Live::default()).collect(),
        requests: HashMap::new(),
        next_expectation: 0,
        divergences: Vec::new(),
        matched: 0,
        done: 0,
        total,
        control,
        rules: Vec::new(),
        recorded_acks: script
            .expectations
            .iter()
            .filter_map(|e| match &e.what {
                Expected::Ack {
                    request_seq,
                    event,
                    args,
                    ..
                } => Some((*request_seq, (event.clone(), args.clone()))),
                _ => None,
            })
            .collect(),
        creates: HashSet::new(),
        quiet: false,
        unchecked: HashSet::new(),
    };
    let result = player.run().await;
    for id in std::mem::take(&mut player.rules) {
        if let Some(control) = &player.control {
            let _ = control.command(&Command::FaultRemove { id }).await;
        }
    }
    for live in &player.live {
        if let Some(client) = &live.client {
            client.close();
        }
    }
    result?;
    let requests = script
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Request { .. }))
        .count();
    Ok(PlayReport {
        divergences: player.divergences,
        matched: player.matched,
        requests,
    })
}

impl Player<'_> {
    fn tick(&mut self) {
        self.done += 1;
        if let Some(progress) = &self.opts.progress {
            progress(self.done, self.total);
        }
    }

    async fn run(&mut self) -> Result<(), PlayError> {
        let started = Instant::now();
        let first_at = self.script.steps.first().map(Step::at_us).unwrap_or(0);
        for step in &self.script.steps {
            self.settle(Some(step.seq())).await;
            if self.opts.speed > 0.0 {
                let offset = step.at_us().saturating_sub(first_at) as f64 / self.opts.speed;
                tokio::time::sleep_until(started + Duration::from_micros(offset as u64)).await;
            }
            self.step(step).await?;
            self.tick();
        }
        self.settle(None).await;
        self.leftovers().await;
        Ok(())
    }

    async fn step(&mut self, step: &Step) -> Result<(), PlayError> {
        match step {
            Step::Connect { seq, client, .. } => {
                let plan = &self.script.clients[*client];
                match connect(&self.opts.server, plan).await {
                    Ok(c) => {
                        self.live[*client]
                            .log
                            .push(format!("→ connected as {}", c.sid));
                        self.live[*client].client = Some(c);
                    }
                    Err(e @ (ClientError::Refused(_) | ClientError::Rejected { .. })) => {
                        let why = e.to_string();
                        self.live[*client].ended = Some(why.clone());
                        self.divergences.push(Divergence {
                            client: *client,
                            seq: *seq,
                            kind: DivergenceKind::ConnectRefused,
                            subject: "the connection".into(),
                            mismatch: Some(Mismatch {
                                recorded: json!("connected"),
                                now: json!(format!("refused: {why}")),
                                note: None,
                            }),
                            context: vec![],
                        });
                    }
                    Err(e) => {
                        return Err(PlayError::Unreachable {
                            server: self.opts.server.clone(),
                            message: e.to_string(),
                        })
                    }
                }
            }
            Step::Request {
                seq,
                client,
                event,
                url,
                args,
                wants_ack,
                check_ack,
                fault,
                ..
            } => {
                self.requests.insert(*seq, (event.clone(), args.clone()));
                if !check_ack {
                    self.unchecked.insert(*seq);
                }
                let args = self.mapping.request(args);
                if let Some(action) = fault {
                    self.install_fault(*client, event, url.as_deref(), action)
                        .await?;
                }
                let live = &mut self.live[*client];
                let Some(c) = live.client.as_mut() else {
                    return Ok(());
                };
                live.log.push(format!("→ {event} {}", short(&args)));
                if *wants_ack {
                    if server_makes_id(event, &args) {
                        self.creates.insert(*seq);
                    }
                    let id = c.emit_with_ack(event, &[args]);
                    live.ack_ids.insert(id, *seq);
                } else {
                    c.emit(event, &[args]);
                }
            }
            Step::Leave { client, .. } => {
                let live = &mut self.live[*client];
                if let Some(c) = &live.client {
                    c.close();
                    live.log.push("→ left".into());
                }
                live.left = true;
            }
        }
        Ok(())
    }

    /// A recorded fault, set again for this one request of this client.
    async fn install_fault(
        &mut self,
        client: usize,
        event: &str,
        url: Option<&str>,
        action: &FaultAction,
    ) -> Result<(), PlayError> {
        let Some(control) = &self.control else {
            return Err(PlayError::Control(
                "the recording has an injected fault, which replay sets again through the \
                 control API: pass --token (or SYNCSCOPE_TOKEN) for the server"
                    .into(),
            ));
        };
        let Some(sid) = self.live[client].client.as_ref().map(|c| c.sid.clone()) else {
            return Ok(());
        };
        let rule = FaultSpec {
            when: FaultMatch {
                socket: Some(sid),
                event: Some(event.to_string()),
                url: url.map(str::to_string),
                events: None,
                client: None,
            },
            action: action.clone(),
            times: Some(1),
            toxicity: None,
            seed: None,
        };
        let added = control
            .command(&Command::FaultAdd {
                rule,
                enabled: None,
            })
            .await
            .map_err(PlayError::Control)?;
        if let Some(id) = added.get("id").and_then(Value::as_u64) {
            self.rules.push(id);
        }
        Ok(())
    }

    /// Checks every expected answer sent before `before` (all, when None), waiting
    /// for each up to the timeout.
    async fn settle(&mut self, before: Option<u64>) {
        while let Some(expectation) = self.script.expectations.get(self.next_expectation) {
            if before.is_some_and(|b| expectation.seq >= b) {
                return;
            }
            self.next_expectation += 1;
            // After one answer failed to come, the server has gone quiet: the next
            // missing ones are called after a short wait, not a whole timeout each.
            let wait = if self.quiet {
                self.opts.timeout.min(Duration::from_millis(250))
            } else {
                self.opts.timeout
            };
            let deadline = Instant::now() + wait;
            let client = expectation.client;
            let mut retried = false;
            loop {
                self.drain_all().await;
                match self.try_meet(expectation.seq, client, &expectation.what, retried) {
                    Meet::Met => break,
                    Meet::NeedCreates => {
                        self.await_creates(deadline).await;
                        retried = true;
                        continue;
                    }
                    Meet::NotYet => {}
                }
                let live = &mut self.live[client];
                let left = deadline.saturating_duration_since(Instant::now());
                if live.ended.is_some() || live.client.is_none() || left.is_zero() {
                    self.quiet |= left.is_zero();
                    self.missing(expectation.seq, client, &expectation.what);
                    break;
                }
                if live.pump(left).await {
                    self.quiet = false;
                }
            }
            self.tick();
        }
    }

    /// Reads whatever has already arrived on every client, and learns the ids of
    /// creates as their acks arrive: another client may hear of the model first.
    async fn drain_all(&mut self) {
        for live in &mut self.live {
            while live.pump(Duration::ZERO).await {}
        }
        self.learn_created();
    }

    fn learn_created(&mut self) {
        let arrived: Vec<(usize, u64)> = self
            .creates
            .iter()
            .flat_map(|&seq| {
                self.live
                    .iter()
                    .enumerate()
                    .filter(move |(_, l)| l.acks.contains_key(&seq))
                    .map(move |(c, _)| (c, seq))
            })
            .collect();
        for (client, seq) in arrived {
            self.creates.remove(&seq);
            let (Some(got), Some((event, recorded))) = (
                self.live[client].acks.get(&seq),
                self.recorded_acks.get(&seq),
            ) else {
                continue;
            };
            if let (Some(recorded), Some(now)) =
                (created_id(event, recorded), created_id(event, got))
            {
                self.mapping.learn_id(recorded, now);
            }
        }
    }

    /// Waits for the acks of creates still in flight, so their ids are known.
    async fn await_creates(&mut self, deadline: Instant) {
        while !self.creates.is_empty() && Instant::now() < deadline {
            let waiting: Vec<usize> = self
                .live
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.ended.is_none() && l.ack_ids.values().any(|s| self.creates.contains(s))
                })
                .map(|(c, _)| c)
                .collect();
            let Some(&client) = waiting.first() else {
                return;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.live[client].pump(left).await {
                return;
            }
            self.learn_created();
        }
    }

    /// Meets an expectation with what has come, when it has.
    fn try_meet(&mut self, seq: u64, client: usize, what: &Expected, retried: bool) -> Meet {
        let pending_creates = !self.creates.is_empty();
        let live = &mut self.live[client];
        let (subject, result) = match what {
            Expected::Ack {
                request_seq,
                event,
                url,
                args,
            } => {
                let Some(got) = live.acks.remove(request_seq) else {
                    return Meet::NotYet;
                };
                let subject = format!("the ack of {event}{}", on(url));
                (subject, self.mapping.compare(args, &got).map_err(|m| *m))
            }
            Expected::Push { event, args } => {
                let Some((name, got)) = live.pushes.front().cloned() else {
                    return Meet::NotYet;
                };
                let event = self.mapping.substitute_text(event);
                let subject = format!("the push of {event}");
                let result = if name != event {
                    let mut recorded = vec![Value::String(event.clone())];
                    recorded.extend(args.iter().map(|a| self.mapping.substitute(a)));
                    let mut now = vec![Value::String(name)];
                    now.extend(got);
                    Err(Mismatch {
                        recorded: Value::Array(recorded),
                        now: Value::Array(now),
                        note: Some("another event came in its place".into()),
                    })
                } else {
                    self.mapping.compare(args, &got).map_err(|m| *m)
                };
                // A push about a model created by a request whose ack is still on
                // its way differs only by the id: wait for that ack, then look again.
                if result.is_err() && pending_creates && !retried {
                    return Meet::NeedCreates;
                }
                live.pushes.pop_front();
                (subject, result)
            }
            Expected::Disconnect { .. } => {
                if live.ended.is_none() {
                    return Meet::NotYet;
                }
                self.matched += 1;
                return Meet::Met;
            }
        };
        match result {
            Ok(()) => self.matched += 1,
            Err(mismatch) => self.divergences.push(Divergence {
                client,
                seq,
                kind: DivergenceKind::Differs,
                subject,
                mismatch: Some(mismatch),
                context: self.live[client].recent(),
            }),
        }
        Meet::Met
    }

    fn missing(&mut self, seq: u64, client: usize, what: &Expected) {
        let (subject, recorded) = match what {
            Expected::Ack {
                event, url, args, ..
            } => (
                format!("the ack of {event}{}", on(url)),
                Value::Array(args.clone()),
            ),
            Expected::Push { event, args } => {
                let mut all = vec![Value::String(event.clone())];
                all.extend(args.iter().cloned());
                (format!("the push of {event}"), Value::Array(all))
            }
            Expected::Disconnect { reason } => (
                "the server's disconnect".to_string(),
                Value::String(reason.clone()),
            ),
        };
        let live = &self.live[client];
        let now = match &live.ended {
            Some(why) => json!(format!("nothing: the connection ended ({why})")),
            None => json!(format!(
                "nothing within {} ms",
                self.opts.timeout.as_millis()
            )),
        };
        self.divergences.push(Divergence {
            client,
            seq,
            kind: DivergenceKind::Missing,
            subject,
            mismatch: Some(Mismatch {
                recorded: self.mapping.substitute(&recorded),
                now,
                note: None,
            }),
            context: live.recent(),
        });
    }

    /// Whatever came that the recording does not have: extra pushes, acks of requests
    /// the recording left unanswered. Waits briefly for stragglers first.
    async fn leftovers(&mut self) {
        let grace = Instant::now() + Duration::from_millis(300);
        for live in &mut self.live {
            while live
                .pump(grace.saturating_duration_since(Instant::now()))
                .await
            {}
        }
        let answered: HashSet<u64> = self
            .script
            .expectations
            .iter()
            .filter_map(|e| match &e.what {
                Expected::Ack { request_seq, .. } => Some(*request_seq),
                _ => None,
            })
            .chain(self.unchecked.iter().copied())
            .collect();
        for (client, live) in self.live.iter_mut().enumerate() {
            let context = live.recent();
            for (event, args) in live.pushes.drain(..) {
                let mut now = vec![Value::String(event.clone())];
                now.extend(args);
                self.divergences.push(Divergence {
                    client,
                    seq: 0,
                    kind: DivergenceKind::Unexpected,
                    subject: format!("a push of {event}"),
                    mismatch: Some(Mismatch {
                        recorded: json!("nothing"),
                        now: Value::Array(now),
                        note: None,
                    }),
                    context: context.clone(),
                });
            }
            let mut extra: Vec<_> = live
                .acks
                .drain()
                .filter(|(request, _)| !answered.contains(request))
                .collect();
            extra.sort_by_key(|(request, _)| *request);
            for (request, args) in extra {
                let event = self
                    .requests
                    .get(&request)
                    .map(|(e, _)| e.clone())
                    .unwrap_or_default();
                self.divergences.push(Divergence {
                    client,
                    seq: request,
                    kind: DivergenceKind::Unexpected,
                    subject: format!("an ack of {event}, which the recording never got"),
                    mismatch: Some(Mismatch {
                        recorded: json!("no ack"),
                        now: Value::Array(args),
                        note: None,
                    }),
                    context: context.clone(),
                });
            }
        }
        self.divergences.sort_by_key(|d| (d.seq == 0, d.seq));
    }
}

fn on(url: &Option<String>) -> String {
    url.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
}

async fn connect(server: &str, plan: &ClientPlan) -> Result<Client, ClientError> {
    let mut headers = Vec::new();
    if let Some(ua) = &plan.user_agent {
        headers.push(("user-agent".to_string(), ua.clone()));
    }
    let opts = ConnectOptions {
        eio: plan.eio,
        transport: plan.transport,
        auth: plan.auth.clone(),
        headers,
        query: None,
        timeout: Duration::from_secs(10),
        ..ConnectOptions::default()
    };
    Client::connect_with(server, opts).await
}
