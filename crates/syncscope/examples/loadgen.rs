//! The load generator of `make bench`: drives Syncscope and the Node reference peer
//! (bench/peer/server.js) with the same scenarios, several runs each, and reports their
//! figures side by side (median and spread) with the ratio Syncscope/peer and which of
//! issue 9's targets hold.
//!
//! Issue 9 asks whether Syncscope's write path beats what a Backbone developer would
//! write by hand in Node. Figures only mean something when both servers are measured by
//! the same client, on the same machine, at the same time, so this one binary starts each
//! server itself (release build, a fresh database in a temporary directory, one server
//! per scenario and run so no scenario inherits another's state), speaks to both through
//! the project's only Socket.IO client, [`syncscope::sio::Client`], and reads their
//! memory and CPU time from /proc. It is a measurement, not a test: nothing here passes
//! or fails.
//!
//! Scenarios (EIO4 over WebSocket):
//! - CRUD: N clients, each one request in flight, looping create → update → read →
//!   delete on its own collection; acked ops/s, ack latency p50/p99 after a warm-up, and
//!   the server's CPU time per acked op (utime + stime of /proc/PID/stat), which says
//!   more than ops/s on a machine shared with other work. Native dialect, and for
//!   Syncscope also with recording stopped and with the iobind dialect.
//! - fan-out: S subscribers of one collection, one writer creating W models one at a
//!   time; pushes/s and, per write, the time until the last subscriber had it.
//! - idle memory: C websocket connections that only connect; the server's RSS growth
//!   per connection.
//!
//! `--drive URL` runs a fixed CRUD workload against a server started by hand (under
//! callgrind or heaptrack, say) and exits: the profiles of docs/BENCHMARKS.md.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use syncscope::sio::{Client, Incoming};

/// How long one request may take before the run counts it as failed.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// The control token Syncscope is started with, to stop recording for that scenario.
const TOKEN: &str = "bench-token";

#[derive(Parser)]
#[command(about = "Measure Syncscope against the Node reference peer, side by side")]
struct Args {
    /// The syncscope binary to measure (a release build).
    #[arg(long)]
    syncscope: Option<PathBuf>,
    /// The reference peer's script (bench/peer/server.js), run with `node`.
    #[arg(long)]
    peer: Option<PathBuf>,
    /// A smoke run of about two minutes: one run each, short CRUD, small fan-out.
    #[arg(long)]
    quick: bool,
    /// Runs of every scenario [default: 3, QUICK 1].
    #[arg(long)]
    runs: Option<usize>,
    /// Also write the report (markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Put the report into this markdown file between `<!-- figures:start -->` and
    /// `<!-- figures:end -->`, keeping the rest (docs/BENCHMARKS.md).
    #[arg(long)]
    doc: Option<PathBuf>,
    /// Only drive a running server with a fixed CRUD workload and print how long it took.
    #[arg(long)]
    drive: Option<String>,
    /// With --drive: requests in all (rounded to whole create/update/read/delete loops).
    #[arg(long, default_value_t = 4000)]
    ops: u64,
    /// With --drive: clients, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// With --drive: speak the iobind dialect.
    #[arg(long)]
    iobind: bool,
    /// With --drive: instead of CRUD, hold this many idle websockets for 5 s (a heap
    /// profile of what a connection costs).
    #[arg(long)]
    idle: Option<usize>,
    /// With --drive: instead of CRUD, this many subscribers of one channel and `--ops`
    /// writes to it, one at a time (the fan-out scenario, for a profile of pushes).
    #[arg(long)]
    fanout: Option<usize>,
    /// With --fanout: start a write every this many milliseconds (after its ack at the
    /// earliest) instead of as soon as the last one was acknowledged.
    #[arg(long)]
    pace_ms: Option<u64>,
}

/// The sizes of one run.
struct Plan {
    runs: usize,
    crud_warmup: Duration,
    crud_measure: Duration,
    crud_clients: usize,
    fanouts: Vec<(usize, usize)>,
    /// Fan-outs whose writer starts a write every so many ms: (subscribers, writes, ms).
    paced_fanouts: Vec<(usize, usize, u64)>,
    idle_connections: usize,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        if args.quick {
            Plan {
                runs: args.runs.unwrap_or(1),
                crud_warmup: Duration::from_secs(1),
                crud_measure: Duration::from_secs(3),
                crud_clients: 50,
                fanouts: vec![(200, 200), (1000, 50)],
                paced_fanouts: vec![(200, 100, 10), (1000, 40, 50)],
                idle_connections: 1000,
            }
        } else {
            Plan {
                runs: args.runs.unwrap_or(3),
                crud_warmup: Duration::from_secs(1),
                crud_measure: Duration::from_secs(6),
                crud_clients: 50,
                fanouts: vec![(200, 2000), (1000, 500)],
                paced_fanouts: vec![(200, 500, 10), (1000, 200, 50)],
                idle_connections: 10_000,
            }
        }
    }
}

/// Which server a figure belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Syncscope,
    Peer,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Syncscope => "Syncscope",
            Target::Peer => "Node peer",
        }
    }
}

/// A server process started for one scenario; killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// Holds the database until the server is gone.
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(target: Target, args: &Args) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let port = free_port()?;
        let db = dir.path().join("bench.sqlite");
        let mut command = match target {
            Target::Syncscope => {
                let bin = args.syncscope.as_ref().ok_or("--syncscope is needed")?;
                let mut c = Command::new(bin);
                c.arg("serve")
                    .arg("--port")
                    .arg(port.to_string())
                    .arg("--db")
                    .arg(&db)
                    .arg("--token")
                    .arg(TOKEN)
                    // The default `make app` logs at info; so does the measured server.
                    .env_remove("RUST_LOG");
                c
            }
            Target::Peer => {
                let peer = args.peer.as_ref().ok_or("--peer is needed")?;
                let mut c = Command::new("node");
                c.arg(peer).arg(port.to_string()).arg(&db);
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", target.name()))?;
        Ok(Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        })
    }

    /// Waits until a Socket.IO client can connect.
    async fn ready(&mut self, target: Target) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited at start: {status}", target.name()));
            }
            if let Ok(client) = Client::connect(&self.url).await {
                client.close();
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not accept a connection in 30 s",
                    target.name()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's resident memory, in KiB (VmRSS of /proc/PID/status).
    fn rss_kib(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| format!("reading /proc: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS in /proc/PID/status".to_string())
    }

    /// CPU time the server used so far (user + system), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else {
            return f64::NAN;
        };
        // The fields after the command name, which is in parentheses and may hold spaces.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return f64::NAN;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => (user + system) / clock_ticks(),
            _ => f64::NAN,
        }
    }

    /// Stops recording (Syncscope only), through the control API.
    async fn stop_recording(&self) -> Result<(), String> {
        let control = syncscope::inspect::client::Client::new(&self.url, Some(TOKEN.into()));
        control
            .command(&syncscope::inspect::types::Command::RecordStop)
            .await
            .map(|_| ())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Latencies in microseconds, and how many requests failed.
#[derive(Default)]
struct Latencies {
    micros: Vec<u64>,
    failed: u64,
}

impl Latencies {
    fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
        self.failed += other.failed;
    }
}

/// The value at quantile `q` of sorted values, in milliseconds.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// True when an error-first ack reports success.
fn acked_ok(ack: &Option<Vec<Value>>) -> bool {
    matches!(ack, Some(args) if args.first().is_some_and(Value::is_null))
}

/// Which dialect a CRUD client speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Speech {
    Native,
    Iobind,
}

/// When a CRUD client stops, and which of its requests count.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
    /// Requests to send at most (a fixed workload for --drive).
    max_ops: u64,
}

/// One CRUD client: create → update → read → delete on its own collection until the
/// window ends, one request in flight. Requests started before `measure_from` are not
/// counted.
async fn crud_client(url: String, k: usize, speech: Speech, window: Window) -> Latencies {
    let mut lat = Latencies::default();
    let Ok(mut client) = Client::connect(&url).await else {
        lat.failed += 1;
        return lat;
    };
    let mut n = 0u64;
    let mut sent = 0u64;
    'run: while Instant::now() < window.end && sent < window.max_ops {
        n += 1;
        let steps = CrudSteps::new(speech, k, n);
        let started = Instant::now();
        let ack = client
            .request(
                &steps.create.0,
                std::slice::from_ref(&steps.create.1),
                ACK_WAIT,
            )
            .await;
        sent += 1;
        record(&mut lat, started, window.measure_from, acked_ok(&ack));
        let Some(id) = ack
            .as_ref()
            .and_then(|a| a.get(1))
            .and_then(|r| steps.id_of(r))
        else {
            break 'run;
        };
        for (event, arg) in steps.rest(&id) {
            let started = Instant::now();
            let ack = client.request(&event, &[arg], ACK_WAIT).await;
            sent += 1;
            record(&mut lat, started, window.measure_from, acked_ok(&ack));
            if ack.is_none() {
                break 'run;
            }
        }
    }
    client.close();
    lat
}

/// The four requests of one CRUD loop, in the dialect spoken.
struct CrudSteps {
    speech: Speech,
    collection: String,
    n: u64,
    create: (String, Value),
}

impl CrudSteps {
    fn new(speech: Speech, k: usize, n: u64) -> CrudSteps {
        let data = json!({"title": "bench", "done": false, "n": n});
        let (collection, create) = match speech {
            Speech::Native => {
                let collection = format!("/bench/c{k}");
                let arg = json!({"url": collection, "data": data});
                (collection, ("create".to_string(), arg))
            }
            // iobind names its events after the collection's one url segment.
            Speech::Iobind => {
                let ns = format!("bench{k}");
                (ns.clone(), (format!("{ns}:create"), data))
            }
        };
        CrudSteps {
            speech,
            collection,
            n,
            create,
        }
    }

    fn id_of(&self, result: &Value) -> Option<String> {
        let id = match self.speech {
            Speech::Native => &result["data"]["id"],
            Speech::Iobind => &result["id"],
        };
        id.as_str().map(str::to_string)
    }

    fn rest(&self, id: &str) -> [(String, Value); 3] {
        let (c, n) = (&self.collection, self.n);
        let updated = json!({"id": id, "title": "bench", "done": true, "n": n});
        match self.speech {
            Speech::Native => {
                let model = format!("{c}/{id}");
                [
                    ("update".into(), json!({"url": model, "data": updated})),
                    ("read".into(), json!({"url": model, "data": {"id": id}})),
                    ("delete".into(), json!({"url": model})),
                ]
            }
            Speech::Iobind => [
                (format!("{c}:update"), updated),
                (format!("{c}:read"), json!({"id": id})),
                (format!("{c}:delete"), json!({"id": id})),
            ],
        }
    }
}

fn record(lat: &mut Latencies, started: Instant, measure_from: Instant, ok: bool) {
    if started < measure_from {
        return;
    }
    if ok {
        lat.micros.push(started.elapsed().as_micros() as u64);
    } else {
        lat.failed += 1;
    }
}

/// Runs `clients` CRUD clients through `window`; the latencies of all.
async fn crud_load(url: &str, clients: usize, speech: Speech, window: Window) -> Latencies {
    let tasks: Vec<_> = (0..clients)
        .map(|k| tokio::spawn(crud_client(url.to_string(), k, speech, window)))
        .collect();
    let mut all = Latencies::default();
    for task in tasks {
        if let Ok(lat) = task.await {
            all.merge(lat);
        }
    }
    all.micros.sort_unstable();
    all
}

/// One CRUD run's figures.
fn crud_sample(all: &Latencies, measured: Duration, cpu: f64) -> Sample {
    let ops = all.micros.len() as f64;
    Sample {
        values: vec![
            ("acked ops/s", ops / measured.as_secs_f64()),
            ("p50 ms", quantile_ms(&all.micros, 0.5)),
            ("p99 ms", quantile_ms(&all.micros, 0.99)),
            ("server CPU µs/op", cpu * 1e6 / ops),
        ],
        failed: all.failed,
    }
}

async fn crud(server: &Server, clients: usize, speech: Speech, plan: &Plan) -> Sample {
    let measure_from = Instant::now() + plan.crud_warmup;
    let window = Window {
        measure_from,
        end: measure_from + plan.crud_measure,
        max_ops: u64::MAX,
    };
    let load = crud_load(&server.url, clients, speech, window);
    let cpu = async {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = server.cpu_seconds();
        tokio::time::sleep(plan.crud_measure).await;
        server.cpu_seconds() - before
    };
    let (all, cpu) = tokio::join!(load, cpu);
    crud_sample(&all, plan.crud_measure, cpu)
}

/// Reads `change` pushes until every one of `writes` came (or 30 s pass without one),
/// noting when each write's push arrived, by the `n` the writer put in its data.
async fn subscriber(mut client: Client, writes: usize) -> Vec<Option<Instant>> {
    let mut seen = vec![None; writes];
    let mut left = writes;
    while left > 0 {
        match client.next_within(Duration::from_secs(30)).await {
            Some(Incoming::Event { name, args }) if name == "change" => {
                let now = Instant::now();
                let n = args.first().and_then(|c| c["data"]["n"].as_u64());
                if let Some(slot) = n.and_then(|n| seen.get_mut(n as usize)) {
                    if slot.is_none() {
                        *slot = Some(now);
                        left -= 1;
                    }
                }
            }
            Some(Incoming::Closed(_)) | None => break,
            Some(_) => {}
        }
    }
    client.close();
    seen
}

async fn fanout(
    url: &str,
    subscribers: usize,
    writes: usize,
    pace: Option<Duration>,
) -> Result<Sample, String> {
    let url = url.to_string();
    let clients: Vec<Client> = stream::iter(0..subscribers)
        .map(|_| {
            let url = url.clone();
            async move {
                let mut c = Client::connect(&url).await.map_err(|e| e.to_string())?;
                let ack = c
                    .request("subscribe", &[json!({"url": "/fan"})], ACK_WAIT)
                    .await;
                if acked_ok(&ack) {
                    Ok(c)
                } else {
                    Err(format!("subscribe failed: {ack:?}"))
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<Result<Client, String>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let readers: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(subscriber(c, writes)))
        .collect();
    let mut writer = Client::connect(&url).await.map_err(|e| e.to_string())?;
    let mut sent = Vec::with_capacity(writes);
    for n in 0..writes {
        sent.push(Instant::now());
        let arg = json!({"url": "/fan", "data": {"title": "fan-out", "n": n}});
        let ack = writer.request("create", &[arg], ACK_WAIT).await;
        if !acked_ok(&ack) {
            return Err(format!("fan-out write {n} failed: {ack:?}"));
        }
        if let Some(pace) = pace {
            tokio::time::sleep_until((sent[n] + pace).into()).await;
        }
    }
    writer.close();
    let mut last_seen: Vec<Option<Instant>> = vec![Some(sent[0]); writes];
    let mut missing = 0u64;
    let mut delivered = 0u64;
    let mut last_push = sent[0];
    for reader in readers {
        let seen = reader.await.map_err(|e| e.to_string())?;
        for (slot, got) in last_seen.iter_mut().zip(seen) {
            match got {
                Some(t) => {
                    delivered += 1;
                    last_push = last_push.max(t);
                    if let Some(prev) = slot {
                        *prev = (*prev).max(t);
                    }
                }
                None => {
                    missing += 1;
                    *slot = None;
                }
            }
        }
    }
    let mut all_delivered: Vec<u64> = last_seen
        .iter()
        .zip(&sent)
        .filter_map(|(last, sent)| {
            last.map(|t| t.saturating_duration_since(*sent).as_micros() as u64)
        })
        .collect();
    all_delivered.sort_unstable();
    Ok(Sample {
        values: vec![
            (
                "pushes/s",
                delivered as f64 / last_push.duration_since(sent[0]).as_secs_f64(),
            ),
            ("all-delivered p50 ms", quantile_ms(&all_delivered, 0.5)),
            ("all-delivered p99 ms", quantile_ms(&all_delivered, 0.99)),
        ],
        failed: missing,
    })
}

/// The server's RSS growth per idle websocket connection, in KiB.
async fn idle_memory(server: Server, connections: usize) -> Result<Sample, String> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib()?;
    let url = server.url.clone();
    let clients: Vec<Client> = stream::iter(0..connections)
        .map(|_| {
            let url = url.clone();
            async move { Client::connect(&url).await.map_err(|e| e.to_string()) }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib()?;
    // The server goes first, so that its side, not the load generator's ports, waits
    // out TIME_WAIT before the next run connects thousands again.
    drop(server);
    drop(clients);
    Ok(Sample {
        values: vec![(
            "KB/connection",
            after.saturating_sub(before) as f64 / connections as f64,
        )],
        failed: 0,
    })
}

/// The figures of one run of one scenario on one server.
struct Sample {
    values: Vec<(&'static str, f64)>,
    /// Requests that failed, or pushes that never came.
    failed: u64,
}

/// What one scenario does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Crud {
        clients: usize,
        speech: Speech,
        recording: bool,
    },
    Fanout {
        subscribers: usize,
        writes: usize,
        /// A write every so many ms, instead of the next as soon as one is acked.
        pace_ms: Option<u64>,
    },
    Idle {
        connections: usize,
    },
}

impl Scenario {
    fn name(&self) -> String {
        match *self {
            Scenario::Crud {
                clients,
                speech,
                recording,
            } => {
                let who = if clients == 1 {
                    "1 client".to_string()
                } else {
                    format!("{clients} clients")
                };
                let mut name = format!("CRUD, {who}");
                if speech == Speech::Iobind {
                    name.push_str(", iobind");
                }
                if !recording {
                    name.push_str(", recording off");
                }
                name
            }
            Scenario::Fanout {
                subscribers,
                writes,
                pace_ms: None,
            } => format!("fan-out, {subscribers} subs × {writes} writes"),
            Scenario::Fanout {
                subscribers,
                writes,
                pace_ms: Some(ms),
            } => format!("fan-out, {subscribers} subs × {writes} writes, one per {ms} ms"),
            Scenario::Idle { connections } => format!("idle, {connections} websockets"),
        }
    }

    /// The peer's scenario these figures are compared with (the peer neither records
    /// nor speaks iobind: its native CRUD is the reference for those).
    fn peer_equivalent(&self) -> Scenario {
        match *self {
            Scenario::Crud { clients, .. } => Scenario::Crud {
                clients,
                speech: Speech::Native,
                recording: true,
            },
            other => other,
        }
    }

    fn on_peer(&self) -> bool {
        self.peer_equivalent() == *self
    }

    async fn run(&self, target: Target, args: &Args, plan: &Plan) -> Result<Sample, String> {
        let mut server = Server::start(target, args)?;
        server.ready(target).await?;
        match *self {
            Scenario::Crud {
                clients,
                speech,
                recording,
            } => {
                if !recording {
                    server.stop_recording().await?;
                }
                Ok(crud(&server, clients, speech, plan).await)
            }
            Scenario::Fanout {
                subscribers,
                writes,
                pace_ms,
            } => {
                fanout(
                    &server.url,
                    subscribers,
                    writes,
                    pace_ms.map(Duration::from_millis),
                )
                .await
            }
            Scenario::Idle { connections } => idle_memory(server, connections).await,
        }
    }
}

fn scenarios(plan: &Plan) -> Vec<Scenario> {
    let crud = |clients, speech, recording| Scenario::Crud {
        clients,
        speech,
        recording,
    };
    let mut list = vec![
        crud(plan.crud_clients, Speech::Native, true),
        crud(1, Speech::Native, true),
        crud(plan.crud_clients, Speech::Native, false),
        crud(plan.crud_clients, Speech::Iobind, true),
    ];
    for &(subscribers, writes) in &plan.fanouts {
        list.push(Scenario::Fanout {
            subscribers,
            writes,
            pace_ms: None,
        });
    }
    for &(subscribers, writes, ms) in &plan.paced_fanouts {
        list.push(Scenario::Fanout {
            subscribers,
            writes,
            pace_ms: Some(ms),
        });
    }
    list.push(Scenario::Idle {
        connections: plan.idle_connections,
    });
    list
}

/// Every sample of one scenario on one server.
struct Measured {
    scenario: Scenario,
    target: Target,
    samples: Vec<Sample>,
}

impl Measured {
    /// Median, lowest and highest value of `metric` over the runs.
    fn spread(&self, metric: &str) -> Option<Spread> {
        let mut values: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.values.iter().find(|(m, _)| *m == metric).map(|v| v.1))
            .filter(|v| !v.is_nan())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        Some(Spread {
            median,
            low: values[0],
            high: values[values.len() - 1],
            runs: values.len(),
        })
    }

    fn metrics(&self) -> Vec<&'static str> {
        self.samples
            .first()
            .map(|s| s.values.iter().map(|(m, _)| *m).collect())
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy)]
struct Spread {
    median: f64,
    low: f64,
    high: f64,
    runs: usize,
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.runs > 1 {
            write!(
                f,
                "{} ({}–{})",
                number(self.median),
                number(self.low),
                number(self.high)
            )
        } else {
            f.write_str(&number(self.median))
        }
    }
}

fn higher_is_better(metric: &str) -> bool {
    metric.ends_with("/s")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "—".to_string()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn find(all: &[Measured], scenario: Scenario, target: Target) -> Option<&Measured> {
    all.iter()
        .find(|m| m.scenario == scenario && m.target == target)
}

fn table(all: &[Measured], list: &[Scenario]) -> String {
    let mut out = String::from(
        "| scenario | metric | Syncscope | Node peer | Syncscope/peer | better is |\n|---|---|---:|---:|---:|---|\n",
    );
    for scenario in list {
        let Some(ours) = find(all, *scenario, Target::Syncscope) else {
            continue;
        };
        let peer = find(all, scenario.peer_equivalent(), Target::Peer);
        for metric in ours.metrics() {
            let Some(s) = ours.spread(metric) else {
                continue;
            };
            let p = peer.and_then(|p| p.spread(metric));
            let ratio = p.map_or(f64::NAN, |p| s.median / p.median);
            let peer_text = match p {
                Some(p) if scenario.on_peer() => p.to_string(),
                Some(p) => format!("{p} (its native CRUD)"),
                None => "—".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {metric} | {s} | {peer_text} | {}× | {} |",
                scenario.name(),
                number(ratio),
                if higher_is_better(metric) {
                    "higher"
                } else {
                    "lower"
                }
            );
        }
    }
    out
}

/// The fan-out target on the time to the last subscriber, for the fan-out `name`d.
fn last_subscriber(
    median: &dyn Fn(Scenario, Target, &str) -> f64,
    check: &mut dyn FnMut(String, bool, String),
    fan: Scenario,
    name: String,
) {
    let metric = "all-delivered p50 ms";
    let (last, peer_last) = (
        median(fan, Target::Syncscope, metric),
        median(fan, Target::Peer, metric),
    );
    check(
        format!("{name}, last subscriber served no later than by the peer (p50)"),
        last <= peer_last,
        format!("{} vs {} ms", number(last), number(peer_last)),
    );
}

/// Issue 9's targets, each met or missed on these medians.
fn targets(all: &[Measured], plan: &Plan) -> String {
    let median = |scenario: Scenario, target: Target, metric: &str| {
        find(all, scenario, target)
            .and_then(|m| m.spread(metric))
            .map_or(f64::NAN, |s| s.median)
    };
    let crud = |clients, recording| Scenario::Crud {
        clients,
        speech: Speech::Native,
        recording,
    };
    let mut lines = vec![];
    let mut check = |name: String, met: bool, figures: String| {
        let verdict = if met { "met" } else { "**missed**" };
        lines.push(format!("- {verdict}: {name} ({figures})"));
    };
    let (s, p) = (Target::Syncscope, Target::Peer);
    let many = crud(plan.crud_clients, true);
    let (ops, peer_ops) = (
        median(many, s, "acked ops/s"),
        median(many, p, "acked ops/s"),
    );
    check(
        format!(
            "CRUD at {} clients, at least 2× the peer's acked ops/s",
            plan.crud_clients
        ),
        ops >= 2.0 * peer_ops,
        format!(
            "{} vs {}, {}×",
            number(ops),
            number(peer_ops),
            number(ops / peer_ops)
        ),
    );
    let (p99, peer_p99) = (median(many, s, "p99 ms"), median(many, p, "p99 ms"));
    check(
        format!(
            "CRUD at {} clients, p99 at most the peer's",
            plan.crud_clients
        ),
        p99 <= peer_p99,
        format!("{} vs {} ms", number(p99), number(peer_p99)),
    );
    let one = crud(1, true);
    let (p50, peer_p50) = (median(one, s, "p50 ms"), median(one, p, "p50 ms"));
    check(
        "CRUD at 1 client, p50 at most the peer's".into(),
        p50 <= peer_p50,
        format!("{} vs {} ms", number(p50), number(peer_p50)),
    );
    for &(subscribers, writes) in &plan.fanouts {
        let fan = Scenario::Fanout {
            subscribers,
            writes,
            pace_ms: None,
        };
        let (rate, peer_rate) = (median(fan, s, "pushes/s"), median(fan, p, "pushes/s"));
        check(
            format!("fan-out at {subscribers} subscribers, pushes/s at least the peer's"),
            rate >= peer_rate,
            format!("{} vs {}", number(rate), number(peer_rate)),
        );
        last_subscriber(
            &median,
            &mut check,
            fan,
            format!("fan-out at {subscribers} subscribers"),
        );
    }
    // The same, with writes paced below both servers' capacity: the figure above is
    // taken with the writer going as fast as acks allow, where a server that acks and
    // pushes faster builds a deeper queue in the load generator's receivers.
    for &(subscribers, writes, ms) in &plan.paced_fanouts {
        let fan = Scenario::Fanout {
            subscribers,
            writes,
            pace_ms: Some(ms),
        };
        last_subscriber(
            &median,
            &mut check,
            fan,
            format!("fan-out at {subscribers} subscribers, one write per {ms} ms (below both servers' capacity)"),
        );
    }
    let idle = Scenario::Idle {
        connections: plan.idle_connections,
    };
    let kib = median(idle, s, "KB/connection");
    check(
        format!(
            "at most 16 KB per idle websocket at {} connections",
            plan.idle_connections
        ),
        kib <= 16.0,
        format!("{} KB", number(kib)),
    );
    let off = crud(plan.crud_clients, false);
    let off_ops = median(off, s, "acked ops/s");
    let cost = (off_ops - ops) / off_ops * 100.0;
    check(
        "recording costs at most 10 % of CRUD throughput".into(),
        cost <= 10.0,
        format!(
            "{} ops/s recording vs {} stopped: {}%",
            number(ops),
            number(off_ops),
            number(cost)
        ),
    );
    lines.join("\n")
}

/// The machine and versions the figures come from.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("host {}, {cpu}, {cores} cores; node {node}", host.trim())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn package_version(peer: &Path, package: &str) -> String {
    let mut dir = peer.parent();
    while let Some(d) = dir {
        let file = d.join("node_modules").join(package).join("package.json");
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                return v["version"].as_str().unwrap_or("?").to_string();
            }
        }
        dir = d.parent();
    }
    "?".into()
}

fn syncscope_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `--drive`: a fixed workload against a running server; prints what it took.
async fn drive(args: &Args, url: &str) -> std::process::ExitCode {
    if let Some(idle) = args.idle {
        let clients: Vec<Result<Client, _>> = stream::iter(0..idle)
            .map(|_| Client::connect(url))
            .buffer_unordered(64)
            .collect()
            .await;
        let connected = clients.iter().filter(|c| c.is_ok()).count();
        println!("{connected} of {idle} websockets connected; holding them 5 s");
        tokio::time::sleep(Duration::from_secs(5)).await;
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(subscribers) = args.fanout {
        return match fanout(
            url,
            subscribers,
            args.ops as usize,
            args.pace_ms.map(Duration::from_millis),
        )
        .await
        {
            Ok(sample) => {
                let figures: Vec<String> = sample
                    .values
                    .iter()
                    .map(|(name, value)| format!("{name} {}", number(*value)))
                    .collect();
                println!("{} ({} failed)", figures.join(", "), sample.failed);
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadgen: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let speech = if args.iobind {
        Speech::Iobind
    } else {
        Speech::Native
    };
    let clients = args.clients.max(1);
    let per_client = args.ops.div_ceil(4 * clients as u64) * 4;
    let started = Instant::now();
    let window = Window {
        measure_from: started,
        end: started + Duration::from_secs(3600),
        max_ops: per_client,
    };
    let all = crud_load(url, clients, speech, window).await;
    let took = started.elapsed();
    println!(
        "{} requests acked ({} failed) in {:.2} s by {clients} clients: p50 {} ms, p99 {} ms",
        all.micros.len(),
        all.failed,
        took.as_secs_f64(),
        number(quantile_ms(&all.micros, 0.5)),
        number(quantile_ms(&all.micros, 0.99)),
    );
    std::process::ExitCode::SUCCESS
}

/// Replaces the text between the figure markers of `doc` with `report`.
fn put_in_doc(doc: &Path, report: &str) -> Result<(), String> {
    const START: &str = "<!-- figures:start -->";
    const END: &str = "<!-- figures:end -->";
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let block = format!("{START}\n{report}\n{END}");
    let new = match (text.find(START), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &text[..a], &text[b + END.len()..]),
        _ => format!("{text}\n{block}\n"),
    };
    std::fs::write(doc, new).map_err(|e| format!("cannot write {}: {e}", doc.display()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(url) = &args.drive {
        return drive(&args, url).await;
    }
    let (Some(bin), Some(peer)) = (&args.syncscope, &args.peer) else {
        eprintln!("bench: --syncscope and --peer are needed (or --drive URL)");
        return std::process::ExitCode::FAILURE;
    };
    let plan = Plan::new(&args);
    let list = scenarios(&plan);
    let machine = machine();
    let load_before = load_average();
    let started = Instant::now();
    let mut all: Vec<Measured> = vec![];
    // Runs go round the scenarios, and within a scenario the two servers alternate,
    // so that a burst of load from elsewhere on the machine hits both alike.
    for run in 0..plan.runs {
        for scenario in &list {
            let targets: &[Target] = if scenario.on_peer() {
                &[Target::Syncscope, Target::Peer]
            } else {
                &[Target::Syncscope]
            };
            for &target in targets {
                eprintln!(
                    "run {}/{}: {}: {}",
                    run + 1,
                    plan.runs,
                    target.name(),
                    scenario.name()
                );
                let sample = match scenario.run(target, &args, &plan).await {
                    Ok(sample) => sample,
                    Err(e) => {
                        eprintln!("bench: {}: {}: {e}", target.name(), scenario.name());
                        return std::process::ExitCode::FAILURE;
                    }
                };
                match all
                    .iter_mut()
                    .find(|m| m.scenario == *scenario && m.target == target)
                {
                    Some(m) => m.samples.push(sample),
                    None => all.push(Measured {
                        scenario: *scenario,
                        target,
                        samples: vec![sample],
                    }),
                }
            }
        }
    }
    let mut report = format!(
        "## Figures{}\n\n{machine}; {}; socket.io {}, better-sqlite3 {}. \
         Load average {} at the start, {} at the end ({} s in all): the server and the load \
         generator share the machine, and anything else running moves the figures.\n\n\
         {} runs of each scenario: median (lowest–highest). CRUD: one request in flight per \
         client, {} s measured after {} s of warm-up; server CPU is the server's user + system \
         time over the measured seconds ÷ acked requests. Fan-out: one writer, one create in \
         flight, the next sent once it is acked (\"one per N ms\": not before N ms after the \
         last was sent). Idle: RSS growth of the server ÷ connections.\n\n",
        if args.quick { " (QUICK smoke run)" } else { "" },
        syncscope_version(bin),
        package_version(peer, "socket.io"),
        package_version(peer, "better-sqlite3"),
        load_before,
        load_average(),
        started.elapsed().as_secs(),
        plan.runs,
        plan.crud_measure.as_secs(),
        plan.crud_warmup.as_secs(),
    );
    report.push_str(&table(&all, &list));
    let _ = write!(
        report,
        "\n### Issue 9's targets on these medians\n\n{}\n",
        targets(&all, &plan)
    );
    for m in &all {
        let failed: u64 = m.samples.iter().map(|s| s.failed).sum();
        if failed > 0 {
            let _ = writeln!(
                report,
                "\n- {}: {}: {failed} requests failed or pushes never arrived",
                m.target.name(),
                m.scenario.name()
            );
        }
    }
    println!("{report}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(out, &report) {
            eprintln!("bench: cannot write {}: {e}", out.display());
            return std::process::ExitCode::FAILURE;
        }
        eprintln!("bench: written to {}", out.display());
    }
    if let Some(doc) = &args.doc {
        if let Err(e) = put_in_doc(doc, &report) {
            eprintln!("bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
        eprintln!("bench: figures put in {}", doc.display());
    }
    std::process::ExitCode::SUCCESS
}
