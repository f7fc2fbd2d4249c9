//! The load generator of `make bench`: drives Syncscope and the Node reference peer
//! (bench/peer/server.js) with the same scenarios, in one run, and prints their figures
//! side by side with the ratio Syncscope/peer.
//!
//! Issue 9 asks whether Syncscope's write path beats what a Backbone developer would
//! write by hand in Node. Figures only mean something when both servers are measured by
//! the same client, on the same machine, at the same time, so this one binary starts each
//! server itself (release build, a fresh database in a temporary directory, one server
//! per scenario so no scenario inherits another's state), speaks to both through the
//! project's only Socket.IO client, [`syncscope::sio::Client`], and reads their memory
//! from /proc. It is a measurement, not a test: nothing here passes or fails.
//!
//! Scenarios (native dialect, EIO4 over WebSocket):
//! - CRUD: N clients, each one request in flight, looping create → update → read →
//!   delete on its own collection; acked ops/s and ack latency p50/p99 after a warm-up.
//! - fan-out: S subscribers of one collection, one writer creating W models one at a
//!   time; pushes/s and, per write, the time until the last subscriber had it.
//! - idle memory: C websocket connections that only connect; the server's RSS growth
//!   per connection.

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

#[derive(Parser)]
#[command(about = "Measure Syncscope against the Node reference peer, side by side")]
struct Args {
    /// The syncscope binary to measure (a release build).
    #[arg(long)]
    syncscope: PathBuf,
    /// The reference peer's script (bench/peer/server.js), run with `node`.
    #[arg(long)]
    peer: PathBuf,
    /// A smoke run of about a minute: short CRUD runs, small fan-out, few connections.
    #[arg(long)]
    quick: bool,
    /// Also write the report (markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The sizes of one run.
struct Plan {
    crud_warmup: Duration,
    crud_measure: Duration,
    crud_clients: usize,
    fanout_subscribers: usize,
    fanout_writes: usize,
    idle_connections: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                crud_warmup: Duration::from_secs(1),
                crud_measure: Duration::from_secs(4),
                crud_clients: 50,
                fanout_subscribers: 200,
                fanout_writes: 200,
                idle_connections: 1000,
            }
        } else {
            Plan {
                crud_warmup: Duration::from_secs(2),
                crud_measure: Duration::from_secs(15),
                crud_clients: 50,
                fanout_subscribers: 200,
                fanout_writes: 2000,
                idle_connections: 5000,
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
                let mut c = Command::new(&args.syncscope);
                c.arg("serve")
                    .arg("--port")
                    .arg(port.to_string())
                    .arg("--db")
                    .arg(&db)
                    // The default `make app` logs at info; so does the measured server.
                    .env_remove("RUST_LOG");
                c
            }
            Target::Peer => {
                let mut c = Command::new("node");
                c.arg(&args.peer).arg(port.to_string()).arg(&db);
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

struct CrudResult {
    ops_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
}

/// One CRUD client: create → update → read → delete on its own collection until `end`,
/// one request in flight. Requests started before `measure_from` are not counted.
async fn crud_client(url: String, k: usize, measure_from: Instant, end: Instant) -> Latencies {
    let mut lat = Latencies::default();
    let Ok(mut client) = Client::connect(&url).await else {
        lat.failed += 1;
        return lat;
    };
    let collection = format!("/bench/c{k}");
    let mut n = 0u64;
    'run: while Instant::now() < end {
        n += 1;
        let create = json!({"url": collection, "data": {"title": "bench", "done": false, "n": n}});
        let started = Instant::now();
        let ack = client.request("create", &[create], ACK_WAIT).await;
        record(&mut lat, started, measure_from, acked_ok(&ack));
        let Some(id) = ack
            .as_ref()
            .and_then(|a| a.get(1))
            .and_then(|r| r["data"]["id"].as_str())
            .map(str::to_string)
        else {
            break 'run;
        };
        let model = format!("{collection}/{id}");
        let steps = [
            (
                "update",
                json!({"url": model, "data": {"id": id, "title": "bench", "done": true, "n": n}}),
            ),
            ("read", json!({"url": model, "data": {"id": id}})),
            ("delete", json!({"url": model})),
        ];
        for (event, arg) in steps {
            let started = Instant::now();
            let ack = client.request(event, &[arg], ACK_WAIT).await;
            let ok = acked_ok(&ack);
            record(&mut lat, started, measure_from, ok);
            if ack.is_none() {
                break 'run;
            }
        }
    }
    client.close();
    lat
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

async fn crud(server: &Server, clients: usize, plan: &Plan) -> CrudResult {
    let measure_from = Instant::now() + plan.crud_warmup;
    let end = measure_from + plan.crud_measure;
    let tasks: Vec<_> = (0..clients)
        .map(|k| tokio::spawn(crud_client(server.url.clone(), k, measure_from, end)))
        .collect();
    let mut all = Latencies::default();
    for task in tasks {
        if let Ok(lat) = task.await {
            all.merge(lat);
        }
    }
    all.micros.sort_unstable();
    CrudResult {
        ops_per_s: all.micros.len() as f64 / plan.crud_measure.as_secs_f64(),
        p50_ms: quantile_ms(&all.micros, 0.5),
        p99_ms: quantile_ms(&all.micros, 0.99),
        failed: all.failed,
    }
}

struct FanoutResult {
    pushes_per_s: f64,
    all_delivered_p50_ms: f64,
    all_delivered_p99_ms: f64,
    missing: u64,
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

async fn fanout(server: &Server, plan: &Plan) -> Result<FanoutResult, String> {
    let url = server.url.clone();
    let subscribers: Vec<Client> = stream::iter(0..plan.fanout_subscribers)
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
    let writes = plan.fanout_writes;
    let readers: Vec<_> = subscribers
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
    Ok(FanoutResult {
        pushes_per_s: delivered as f64 / last_push.duration_since(sent[0]).as_secs_f64(),
        all_delivered_p50_ms: quantile_ms(&all_delivered, 0.5),
        all_delivered_p99_ms: quantile_ms(&all_delivered, 0.99),
        missing,
    })
}

/// The server's RSS growth per idle websocket connection, in KiB.
async fn idle_memory(server: &Server, connections: usize) -> Result<f64, String> {
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
    drop(clients);
    Ok(after.saturating_sub(before) as f64 / connections as f64)
}

/// Every figure of one server.
struct Figures {
    crud_many: CrudResult,
    crud_one: CrudResult,
    fanout: FanoutResult,
    kib_per_connection: f64,
}

async fn measure(target: Target, args: &Args, plan: &Plan) -> Result<Figures, String> {
    let fresh = || async {
        let mut server = Server::start(target, args)?;
        server.ready(target).await?;
        Ok::<Server, String>(server)
    };
    eprintln!("{}: CRUD, {} clients", target.name(), plan.crud_clients);
    let crud_many = crud(&fresh().await?, plan.crud_clients, plan).await;
    eprintln!("{}: CRUD, 1 client", target.name());
    let crud_one = crud(&fresh().await?, 1, plan).await;
    eprintln!(
        "{}: fan-out, {} subscribers × {} writes",
        target.name(),
        plan.fanout_subscribers,
        plan.fanout_writes
    );
    let fanout = fanout(&fresh().await?, plan).await?;
    eprintln!(
        "{}: idle memory, {} connections",
        target.name(),
        plan.idle_connections
    );
    let kib_per_connection = idle_memory(&fresh().await?, plan.idle_connections).await?;
    Ok(Figures {
        crud_many,
        crud_one,
        fanout,
        kib_per_connection,
    })
}

/// One line of the table: a figure for both servers and how Syncscope compares.
struct Row {
    scenario: String,
    metric: &'static str,
    syncscope: f64,
    peer: f64,
    /// True when more is better (throughput), false when less is (latency, memory).
    higher_is_better: bool,
}

fn rows(plan: &Plan, s: &Figures, p: &Figures) -> Vec<Row> {
    let row = |scenario: &str, metric, syncscope, peer, higher_is_better| Row {
        scenario: scenario.to_string(),
        metric,
        syncscope,
        peer,
        higher_is_better,
    };
    let many = format!("CRUD, {} clients", plan.crud_clients);
    let fan = format!(
        "fan-out, {} subs × {} writes",
        plan.fanout_subscribers, plan.fanout_writes
    );
    let idle = format!("idle, {} websockets", plan.idle_connections);
    vec![
        row(
            &many,
            "acked ops/s",
            s.crud_many.ops_per_s,
            p.crud_many.ops_per_s,
            true,
        ),
        row(
            &many,
            "p50 ms",
            s.crud_many.p50_ms,
            p.crud_many.p50_ms,
            false,
        ),
        row(
            &many,
            "p99 ms",
            s.crud_many.p99_ms,
            p.crud_many.p99_ms,
            false,
        ),
        row(
            "CRUD, 1 client",
            "acked ops/s",
            s.crud_one.ops_per_s,
            p.crud_one.ops_per_s,
            true,
        ),
        row(
            "CRUD, 1 client",
            "p50 ms",
            s.crud_one.p50_ms,
            p.crud_one.p50_ms,
            false,
        ),
        row(
            "CRUD, 1 client",
            "p99 ms",
            s.crud_one.p99_ms,
            p.crud_one.p99_ms,
            false,
        ),
        row(
            &fan,
            "pushes/s",
            s.fanout.pushes_per_s,
            p.fanout.pushes_per_s,
            true,
        ),
        row(
            &fan,
            "all-delivered p50 ms",
            s.fanout.all_delivered_p50_ms,
            p.fanout.all_delivered_p50_ms,
            false,
        ),
        row(
            &fan,
            "all-delivered p99 ms",
            s.fanout.all_delivered_p99_ms,
            p.fanout.all_delivered_p99_ms,
            false,
        ),
        row(
            &idle,
            "KB/connection",
            s.kib_per_connection,
            p.kib_per_connection,
            false,
        ),
    ]
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

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | metric | Syncscope | Node peer | Syncscope/peer | better is |\n|---|---|---:|---:|---:|---|\n",
    );
    for r in rows {
        let ratio = if r.peer > 0.0 {
            r.syncscope / r.peer
        } else {
            f64::NAN
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {}× | {} |",
            r.scenario,
            r.metric,
            number(r.syncscope),
            number(r.peer),
            number(ratio),
            if r.higher_is_better {
                "higher"
            } else {
                "lower"
            }
        );
    }
    out
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
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "host {}, {cpu}, {cores} cores, load average at start {}; node {node}",
        host.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
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

fn failures(name: &str, f: &Figures) -> Vec<String> {
    let mut notes = vec![];
    for (scenario, r) in [("CRUD many", &f.crud_many), ("CRUD one", &f.crud_one)] {
        if r.failed > 0 {
            notes.push(format!(
                "{name}: {scenario}: {} requests failed or timed out",
                r.failed
            ));
        }
    }
    if f.fanout.missing > 0 {
        notes.push(format!(
            "{name}: fan-out: {} pushes never arrived",
            f.fanout.missing
        ));
    }
    notes
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let plan = Plan::new(args.quick);
    let machine = machine();
    let started = Instant::now();
    let mut measured = vec![];
    for target in [Target::Syncscope, Target::Peer] {
        match measure(target, &args, &plan).await {
            Ok(f) => measured.push(f),
            Err(e) => {
                eprintln!("bench: {}: {e}", target.name());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let (s, p) = (&measured[0], &measured[1]);
    let mut report = format!(
        "# Syncscope vs Node peer{}\n\n{machine}; socket.io {}, better-sqlite3 {}; {} s in all.\n\
         CRUD: one request in flight per client, {} s measured after {} s of warm-up. \
         Fan-out: one writer, one create in flight. Idle: RSS growth of the server / connections.\n\n",
        if args.quick { " (QUICK smoke run)" } else { "" },
        package_version(&args.peer, "socket.io"),
        package_version(&args.peer, "better-sqlite3"),
        started.elapsed().as_secs(),
        plan.crud_measure.as_secs(),
        plan.crud_warmup.as_secs(),
    );
    report.push_str(&table(&rows(&plan, s, p)));
    let notes: Vec<String> = failures("Syncscope", s)
        .into_iter()
        .chain(failures("Node peer", p))
        .collect();
    for note in &notes {
        let _ = writeln!(report, "\n- {note}");
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
    std::process::ExitCode::SUCCESS
}
