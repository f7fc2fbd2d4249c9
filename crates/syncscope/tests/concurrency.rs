//! The guarantees under concurrency: many sockets write a few shared collections at
//! once while others listen, join late with `since`, or hang up mid-burst; afterwards
//! the history is held against a sequential model (tests/concurrency_check). One run
//! speaks the native dialect only, the other mixes in iobind writers and listeners;
//! sockets take WebSocket and long-polling, Engine.IO 3 and 4, in turn.
//!
//! Every other push test has one writer, so ordering and catch-up there rest on the
//! argument in store.rs and sync.rs alone. Here they are observed: this test fails when
//! the write lock is narrowed to the database write (pushes outside it), and when a
//! `subscribe since` reads its catch-up apart from its seq (both tried by hand).
//!
//! The run is randomised. The seed is printed and can be set, with the size of the run:
//!   SYNCSCOPE_CONCURRENCY_SEED=1234 SYNCSCOPE_CONCURRENCY_OPS=20000 \
//!     cargo nextest run -p syncscope --test concurrency --no-capture
//! (`make concurrency` runs the long version.) The seed fixes every random choice of
//! every socket; the interleaving is the machine's, and so are the answers the choices
//! build on (versions learnt, ids assigned): a rerun repeats the workload's shape, not
//! its exact history.

mod concurrency_check;
mod support;

use std::sync::Arc;
use std::time::Duration;

use concurrency_check::{check, tag, Change, Entry, Rng, SocketHistory};
use serde_json::{json, Value};
use support::{Client, Eio};
use syncscope::{Config, DbLocation};
use tokio::sync::watch;

/// Writes the short run makes in all (a few seconds on a busy 2-core machine).
const DEFAULT_OPS: usize = 600;
const WRITERS: usize = 6;
const SUBSCRIBERS_PER_CHANNEL: usize = 2;
const LATE_JOINERS: usize = 6;
/// Ids every writer picks from: few, so that writers collide.
const SHARED_IDS: usize = 5;
/// How long a listener waits in silence for the rest of its pushes before giving up
/// (the checker then reports what is missing).
const SILENCE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq)]
enum Dialects {
    /// Every socket speaks the native dialect.
    Native,
    /// Half the writers and one listener per channel speak iobind.
    Mixed,
}

struct Settings {
    seed: u64,
    ops: usize,
}

fn settings() -> Settings {
    let seed = std::env::var("SYNCSCOPE_CONCURRENCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let ops = std::env::var("SYNCSCOPE_CONCURRENCY_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_OPS);
    Settings { seed, ops }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn native_writers_subscribers_and_late_joiners_see_one_order() {
    run(Dialects::Native).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn iobind_and_native_writers_together_see_one_order() {
    run(Dialects::Mixed).await;
}

async fn run(dialects: Dialects) {
    let Settings { seed, ops } = settings();
    let rerun = format!("SYNCSCOPE_CONCURRENCY_SEED={seed} SYNCSCOPE_CONCURRENCY_OPS={ops}");
    println!("concurrency run: {rerun}");
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = syncscope::start(Config {
        port: 0,
        db: DbLocation::File(dir.path().join("concurrency.db")),
        // The whole run stays in the log, so the checker can fetch it with `since: 0`.
        retain_changes: 1_000_000,
        // A long run on a busy machine must not be cut off by a heartbeat answered late.
        ping_interval: Duration::from_secs(600),
        ping_timeout: Duration::from_secs(600),
        ..Config::default()
    })
    .await
    .expect("server starts");
    let addr = server.local_addr();
    let collections: Vec<String> = match dialects {
        // A nested collection too: channels are collection urls, not namespaces.
        Dialects::Native => vec!["/c0".into(), "/c1".into(), "/p/7/c2".into()],
        // iobind names only single-segment collections.
        Dialects::Mixed => vec!["/c0".into(), "/c1".into(), "/c2".into()],
    };
    let mut rng = Rng::new(seed);
    let mut next_socket = 0;
    // Sockets take the four ways in turn: WebSocket and long-polling, Engine.IO 3 and 4.
    let mut new_socket = |name: &str| {
        next_socket += 1;
        let link = Link {
            eio: if next_socket % 2 == 0 {
                Eio::V4
            } else {
                Eio::V3
            },
            polling: next_socket % 4 >= 2,
        };
        let way = if link.polling { "polling" } else { "websocket" };
        let name = format!("{name} ({way}, EIO {:?})", link.eio);
        (next_socket, name, link)
    };
    let (progress, _) = watch::channel(0usize);
    let progress = Arc::new(progress);
    let mut listeners = Vec::new();

    // Listeners that are there before the first write: native subscribers on every
    // channel, and for the mixed run one iobind listener per namespace.
    for url in &collections {
        for _ in 0..SUBSCRIBERS_PER_CHANNEL {
            let (socket, name, link) = new_socket("subscriber");
            let mut r = Recorder::connect(addr, socket, name, link).await;
            r.request("subscribe", json!({ "url": url })).await;
            listeners.push(tokio::spawn(r.listen(vec![url.clone()], vec![])));
        }
        if dialects == Dialects::Mixed {
            let (socket, name, link) = new_socket("iobind listener");
            let mut r = Recorder::connect(addr, socket, name, link).await;
            let ns = url[1..].to_string();
            r.request(&format!("{ns}:read"), json!([])).await;
            listeners.push(tokio::spawn(r.listen(vec![], vec![ns])));
        }
    }

    let mut workers = Vec::new();
    let per_writer = ops.div_ceil(WRITERS);
    for w in 0..WRITERS {
        let iobind = dialects == Dialects::Mixed && w % 2 == 1;
        let (socket, name, link) = new_socket(if iobind { "iobind writer" } else { "writer" });
        let mut r = Recorder::connect(addr, socket, name, link).await;
        // Some writers also listen: their own writes must not come back to them.
        if !iobind && w % 3 == 0 {
            let url = rng.pick(&collections).clone();
            r.request("subscribe", json!({ "url": url })).await;
        }
        let writer = Writer {
            rng: Rng::new(rng.next()),
            collections: collections.clone(),
            known: Default::default(),
            ids: Default::default(),
            progress: progress.clone(),
        };
        workers.push(tokio::spawn(async move {
            let mut writer = writer;
            let mut r = r;
            for _ in 0..per_writer {
                writer.step(&mut r, iobind).await;
            }
            r
        }));
    }
    let (work_done, _) = watch::channel(0usize);
    let work_done = Arc::new(work_done);
    let mut late = Vec::new();
    for _ in 0..LATE_JOINERS {
        let (socket, name, link) = new_socket("late joiner");
        let r = Recorder::connect(addr, socket, name, link).await;
        let at = rng.below(per_writer as u64 * WRITERS as u64 * 9 / 10) as usize;
        let url = rng.pick(&collections).clone();
        let mut writer = Writer {
            rng: Rng::new(rng.next()),
            collections: vec![url.clone()],
            known: Default::default(),
            ids: Default::default(),
            progress: progress.clone(),
        };
        let mut waiting = progress.subscribe();
        let work_done = work_done.clone();
        late.push(tokio::spawn(async move {
            let mut r = r;
            let _ = waiting.wait_for(|n| *n >= at).await;
            writer.late_join(&mut r, &url).await;
            work_done.send_modify(|n| *n += 1);
            r.listen(vec![url], vec![]).await
        }));
    }
    let (socket, name, link) = new_socket("writer hanging up mid-burst");
    let hangs_up = {
        let mut r = Recorder::connect(addr, socket, name, link).await;
        r.history.disconnected_mid_burst = true;
        let mut waiting = progress.subscribe();
        let at = per_writer * WRITERS * 3 / 10;
        let url = collections[0].clone();
        tokio::spawn(async move {
            let _ = waiting.wait_for(|n| *n >= at).await;
            for k in 0..20 {
                let req = r.next_req;
                let data = json!({ "w": tag(r.history.socket, req), "n": k });
                r.send(
                    "update",
                    json!({ "url": format!("{url}/dc{}", k % 5), "data": data }),
                )
                .await;
            }
            for _ in 0..3 {
                r.await_ack().await;
            }
            r.client.close().await;
            r.history
        })
    };

    let mut writers_done = Vec::new();
    for worker in workers {
        let r = worker.await.expect("writer task");
        writers_done.push(r);
    }
    let hung_up = hangs_up.await.expect("hanging-up writer task");
    let acked = hung_up
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::Acked { .. }))
        .count();
    let in_flight = hung_up
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::Sent { .. }))
        .count()
        - acked;
    assert!(
        in_flight > 0,
        "the writer meant to hang up mid-burst had nothing in flight"
    );
    let mut waiting = work_done.subscribe();
    let _ = waiting.wait_for(|n| *n >= LATE_JOINERS).await;
    // Writers that listen (subscribed or iobind) keep their sockets open for the fence.
    for r in writers_done {
        let (channels, namespaces) = r.listening();
        listeners.push(tokio::spawn(r.listen(channels, namespaces)));
    }
    listeners.extend(late);

    // Whatever the hung-up socket sent was queued before it left: let it commit, so that
    // the log read below is final.
    let (socket, name, link) = new_socket("observer");
    let mut observer = Recorder::connect(addr, socket, name, link).await;
    // The log is read on a socket of its own: subscribing there is not part of the run.
    let mut log_reader = Client::connect(addr).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let sent_tags: Vec<String> = hung_up
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sent { arg, .. } => arg["data"]["w"].as_str().map(str::to_string),
            _ => None,
        })
        .collect();
    loop {
        let log = fetch_log(&mut log_reader, &collections[..1]).await;
        let committed = sent_tags
            .iter()
            .all(|t| log.iter().any(|c| c.data["w"].as_str() == Some(t)));
        if committed || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A last write per channel: every listener has everything once it has this one.
    for url in &collections {
        let req = observer.next_req;
        let data = json!({ "w": tag(observer.history.socket, req), "fence": true });
        observer
            .request(
                "update",
                json!({ "url": format!("{url}/fence"), "data": data }),
            )
            .await;
    }
    let log = fetch_log(&mut log_reader, &collections).await;
    let mut histories = vec![hung_up, observer.history];
    for listener in listeners {
        histories.push(listener.await.expect("listener task"));
    }
    let report = check(&histories, &log);
    println!(
        "concurrency run ({:?} dialects, {} sockets) took {:.1}s: {}",
        if dialects == Dialects::Native {
            "native"
        } else {
            "mixed"
        },
        histories.len(),
        started.elapsed().as_secs_f64(),
        report.summary()
    );
    assert!(
        report.violations.is_empty(),
        "the history breaks the guarantees; rerun with {rerun}\n{}",
        report.summary()
    );
    assert!(
        report.writes >= ops / 2,
        "too few writes committed to test anything"
    );
    assert!(
        report.conflicts_checked > 0,
        "no write was refused; the run tested no conflicts"
    );
    assert!(
        report.prevs_checked > report.writes,
        "too few prev links checked to test the chains"
    );
    server.shutdown().await;
}

/// Every change of `collections`, oldest first, from the server's change log.
async fn fetch_log(client: &mut Client, collections: &[String]) -> Vec<Change> {
    let mut log = Vec::new();
    for url in collections {
        let ack = client
            .request("subscribe", json!({ "url": url, "since": 0 }))
            .await;
        assert!(
            ack[0].is_null(),
            "the log of {url} could not be read: {ack:?}"
        );
        assert!(
            ack[1]["reset"].is_null(),
            "the log no longer reaches back to seq 0"
        );
        for change in ack[1]["changes"].as_array().unwrap() {
            log.push(Change::from_json(change).expect("a change as the protocol says"));
        }
    }
    client.take_events();
    log.sort_by_key(|c| c.seq);
    log
}

/// How a socket reaches the server.
#[derive(Clone, Copy)]
struct Link {
    eio: Eio,
    /// HTTP long-polling throughout, else a WebSocket from the start.
    polling: bool,
}

/// A test client that writes down everything it sends and receives.
struct Recorder {
    client: Client,
    history: SocketHistory,
    next_req: usize,
    /// Requests sent and not acked yet: (request number, ack id), oldest first.
    pending: std::collections::VecDeque<(usize, u64)>,
}

impl Recorder {
    async fn connect(
        addr: std::net::SocketAddr,
        socket: usize,
        name: String,
        link: Link,
    ) -> Recorder {
        let client = if link.polling {
            Client::connect_polling(addr, link.eio).await
        } else {
            Client::connect_eio(addr, link.eio).await
        };
        Recorder {
            client,
            history: SocketHistory {
                socket,
                name,
                ..SocketHistory::default()
            },
            next_req: 0,
            pending: Default::default(),
        }
    }

    async fn send(&mut self, event: &str, arg: Value) -> usize {
        let req = self.next_req;
        self.next_req += 1;
        let id = self.client.emit_with_ack(event, arg.clone()).await;
        self.history.entries.push(Entry::Sent {
            req,
            event: event.to_string(),
            arg,
        });
        self.pending.push_back((req, id));
        req
    }

    /// The ack of the oldest request in flight (acks come in request order).
    async fn await_ack(&mut self) -> (usize, Vec<Value>) {
        let (req, id) = self.pending.pop_front().expect("a request in flight");
        let args = self.client.try_ack(id).await;
        self.keep_events();
        let args =
            args.unwrap_or_else(|| panic!("{}: no ack for request {req}", self.history.name));
        self.history.entries.push(Entry::Acked {
            req,
            args: args.clone(),
        });
        (req, args)
    }

    async fn request(&mut self, event: &str, arg: Value) -> Vec<Value> {
        self.send(event, arg).await;
        self.await_ack().await.1
    }

    fn keep_events(&mut self) {
        for (event, args) in self.client.take_events() {
            self.history.entries.push(Entry::Pushed { event, args });
        }
    }

    /// The channels and iobind namespaces this socket listens to.
    fn listening(&self) -> (Vec<String>, Vec<String>) {
        let mut channels = Vec::new();
        let mut namespaces = Vec::new();
        for entry in &self.history.entries {
            if let Entry::Sent { event, arg, .. } = entry {
                match event.split_once(':') {
                    Some((ns, _)) if !namespaces.iter().any(|n| n == ns) => {
                        namespaces.push(ns.to_string())
                    }
                    None if event == "subscribe" => {
                        channels.push(arg["url"].as_str().unwrap().to_string())
                    }
                    _ => {}
                }
            }
        }
        (channels, namespaces)
    }

    /// Records pushes until the fence write of every channel and namespace listened to
    /// has come (everything before it then has), or nothing comes for a long while.
    async fn listen(mut self, channels: Vec<String>, namespaces: Vec<String>) -> SocketHistory {
        let mut waiting_channels = channels;
        let mut waiting_namespaces = namespaces;
        while !waiting_channels.is_empty() || !waiting_namespaces.is_empty() {
            let Some((event, args)) = self.client.next_event_within(SILENCE).await else {
                break;
            };
            let fence = |data: &Value| data["fence"] == json!(true);
            if event == "change" && fence(&args[0]["data"]) {
                let url = args[0]["url"].as_str().unwrap_or_default();
                waiting_channels.retain(|c| c != url);
            } else if event.starts_with('/') && fence(&args[0]) {
                // ioBind's two spellings come in order; the one with the slash is last.
                let ns = event[1..].split(['/', ':']).next().unwrap_or_default();
                waiting_namespaces.retain(|n| n != ns);
            }
            self.history.entries.push(Entry::Pushed { event, args });
        }
        self.history
    }
}

/// What a writer knows and chooses from.
struct Writer {
    rng: Rng,
    collections: Vec<String>,
    /// Versions this writer last saw, by model url.
    known: std::collections::HashMap<String, i64>,
    /// Ids the server assigned to this writer's creates, by collection.
    ids: std::collections::HashMap<String, Vec<String>>,
    progress: Arc<watch::Sender<usize>>,
}

impl Writer {
    fn pick_id(&mut self, url: &str) -> String {
        let own = self.ids.get(url).cloned().unwrap_or_default();
        if !own.is_empty() && self.rng.chance(20) {
            return self.rng.pick(&own).clone();
        }
        format!("m{}", self.rng.below(SHARED_IDS as u64))
    }

    /// A version to send: the known one mostly, else a stale or made-up one.
    fn version_for(&mut self, model_url: &str) -> i64 {
        match self.known.get(model_url) {
            Some(v) if self.rng.chance(60) => *v,
            Some(v) => (v + *self.rng.pick(&[-1, 1, 2])).max(0),
            None => 1 + self.rng.below(3) as i64,
        }
    }

    /// One request, or a burst of 2–4 sent before their acks are awaited.
    async fn step(&mut self, r: &mut Recorder, iobind: bool) {
        let burst = if self.rng.chance(20) {
            2 + self.rng.below(3)
        } else {
            1
        };
        for _ in 0..burst {
            let (event, arg) = if iobind {
                self.iobind_request(r)
            } else {
                self.native_request(r)
            };
            r.send(&event, arg).await;
        }
        for _ in 0..burst {
            let (req, args) = r.await_ack().await;
            self.learn(r, req, &args);
        }
        self.progress.send_modify(|n| *n += 1);
    }

    fn native_request(&mut self, r: &Recorder) -> (String, Value) {
        let url = self.rng.pick(&self.collections).clone();
        let id = self.pick_id(&url);
        let model_url = format!("{url}/{id}");
        let w = tag(r.history.socket, r.next_req);
        let n = self.rng.below(1000);
        let roll = self.rng.below(100);
        let (event, arg) = match roll {
            0..=14 => (
                "create",
                json!({"url": url, "data": {"id": id, "w": w, "n": n}}),
            ),
            15..=19 => ("create", json!({"url": url, "data": {"w": w, "n": n}})),
            20..=37 => (
                "update",
                json!({"url": model_url, "data": {"w": w, "n": n}}),
            ),
            38..=50 => {
                let version = self.version_for(&model_url);
                (
                    "update",
                    json!({"url": model_url, "data": {"w": w, "n": n}, "version": version}),
                )
            }
            51..=65 => {
                let mut arg = json!({"url": model_url, "data": {"w": w, "p": n}});
                if self.rng.chance(30) {
                    arg["version"] = json!(self.version_for(&model_url));
                }
                ("patch", arg)
            }
            66..=76 => {
                let mut arg = json!({"url": model_url});
                if self.rng.chance(40) {
                    arg["version"] = json!(self.version_for(&model_url));
                }
                ("delete", arg)
            }
            77..=88 => ("read", json!({"url": url})),
            _ => ("read", json!({"url": model_url, "data": {"id": id}})),
        };
        (event.to_string(), arg)
    }

    fn iobind_request(&mut self, r: &Recorder) -> (String, Value) {
        let url = self.rng.pick(&self.collections).clone();
        let ns = &url[1..];
        let id = self.pick_id(&url);
        let w = tag(r.history.socket, r.next_req);
        let n = self.rng.below(1000);
        // The first request is a write: the checker takes it as the start of listening.
        let roll = if r.next_req == 0 {
            0
        } else {
            self.rng.below(100)
        };
        let (method, arg) = match roll {
            0..=15 => ("create", json!({"id": id, "w": w, "n": n})),
            16..=20 => ("create", json!({"w": w, "n": n})),
            21..=48 => ("update", json!({"id": id, "w": w, "n": n})),
            49..=68 => ("patch", json!({"id": id, "w": w, "p": n})),
            69..=78 => ("delete", json!({"id": id})),
            79..=89 => ("read", json!({"id": id})),
            _ => ("read", json!([])),
        };
        (format!("{ns}:{method}"), arg)
    }

    /// Remembers versions and assigned ids from an ack.
    fn learn(&mut self, r: &Recorder, req: usize, args: &[Value]) {
        let Some(Entry::Sent { event, arg, .. }) = r
            .history
            .entries
            .iter()
            .find(|e| matches!(e, Entry::Sent { req: q, .. } if *q == req))
        else {
            return;
        };
        if event.contains(':') {
            if let (true, Some(id)) = (
                event.ends_with(":create"),
                args.get(1).and_then(|a| a["id"].as_str()),
            ) {
                let url = format!("/{}", event.split(':').next().unwrap_or_default());
                self.ids.entry(url).or_default().push(id.to_string());
            }
            return;
        }
        let url = arg["url"].as_str().unwrap_or_default().to_string();
        match (&args[0], args.get(1)) {
            (Value::Null, Some(result)) => {
                let Some(version) = result["version"].as_i64() else {
                    return;
                };
                let model_url = match event.as_str() {
                    "create" => {
                        let id = result["data"]["id"].as_str().map(str::to_string);
                        if arg["data"]["id"].is_null() {
                            if let Some(id) = &id {
                                self.ids.entry(url.clone()).or_default().push(id.clone());
                            }
                        }
                        format!("{url}/{}", id.unwrap_or_default())
                    }
                    _ => url,
                };
                if event == "delete" {
                    self.known.remove(&model_url);
                } else {
                    self.known.insert(model_url, version);
                }
            }
            (err, _) => {
                if let Some(version) = err["current"]["version"].as_i64() {
                    let model_url = match event.as_str() {
                        "create" => {
                            format!("{url}/{}", arg["data"]["id"].as_str().unwrap_or_default())
                        }
                        _ => url,
                    };
                    self.known.insert(model_url, version);
                }
            }
        }
    }

    /// A socket that arrives mid-stream: reads, writes a little, then subscribes with
    /// `since` (the seq it read, or an older one) and writes a little more.
    async fn late_join(&mut self, r: &mut Recorder, url: &str) {
        let read = r.request("read", json!({ "url": url })).await;
        let seen = read[1]["seq"].as_i64().unwrap_or(0);
        for _ in 0..2 {
            self.late_write(r, url).await;
        }
        let since = match self.rng.below(3) {
            0 => seen,
            1 => seen / 2,
            _ => seen.saturating_sub(1 + self.rng.below(5) as i64),
        };
        r.request("subscribe", json!({ "url": url, "since": since }))
            .await;
        for _ in 0..2 {
            self.late_write(r, url).await;
        }
    }

    async fn late_write(&mut self, r: &mut Recorder, url: &str) {
        let id = self.pick_id(url);
        let w = tag(r.history.socket, r.next_req);
        r.request(
            "update",
            json!({"url": format!("{url}/{id}"), "data": {"w": w, "late": true}}),
        )
        .await;
    }
}
