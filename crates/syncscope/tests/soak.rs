//! Soak: many sockets of steady CRUD and pushes against the real binary, with the
//! server's memory, file descriptors and threads sampled from /proc and printed as a
//! table. A leak per request, per push or per socket shows as a column that keeps
//! climbing; the bounds below are generous on purpose (a loaded 2-core machine, a debug
//! build), so they catch a leak, not noise.
//!
//! `make test` runs it for 30 s; `make soak MINUTES=N SOCKETS=N` for as long as asked,
//! against the release binary (SYNCSCOPE_SOAK_BIN). Each socket, in a group of 10 that
//! subscribe to one collection, loops create → update → read → delete on its own model
//! (so the store stays the same size) with a pause between requests, and every write
//! is pushed to the other 9 of its group.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use support::binary::{self, Served};
use syncscope::sio::{Client, ConnectOptions, Incoming};

/// Sockets that subscribe to one collection.
const GROUP: usize = 10;
/// The pause of each socket between two requests (so that 1,000 sockets make about
/// 1,000 requests a second, not as many as the machine can take).
const PAUSE: Duration = Duration::from_millis(1000);
/// How long one request may take before the soak counts it as failed.
const ACK_WAIT: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One reading of the server process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kb: u64,
    fds: u64,
    threads: u64,
    requests: u64,
    pushes: u64,
}

fn sample(pid: u32, at: Duration, counts: &Counts) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        at,
        rss_kb: field("VmRSS:"),
        fds,
        threads: field("Threads:"),
        requests: counts.requests.load(Ordering::Relaxed),
        pushes: counts.pushes.load(Ordering::Relaxed),
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    pushes: AtomicU64,
    /// Error acks, missing acks and lost connections, each one a failure.
    failures: AtomicU64,
}

/// Sends one request and reads what comes until its ack, counting the pushes on the way
/// (read, not kept: a soak must not grow the client's memory either).
async fn request(client: &mut Client, counts: &Counts, event: &str, arg: Value) -> Option<Value> {
    let id = client.emit_with_ack(event, &[arg]);
    let deadline = Instant::now() + ACK_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_within(left).await {
            Some(Incoming::Ack { id: got, args }) if got == id => {
                counts.requests.fetch_add(1, Ordering::Relaxed);
                if !args[0].is_null() {
                    eprintln!("{event} refused: {args:?}");
                    counts.failures.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                return args.into_iter().nth(1);
            }
            Some(Incoming::Event { .. }) => {
                counts.pushes.fetch_add(1, Ordering::Relaxed);
            }
            Some(Incoming::Closed(_) | Incoming::Disconnected) | None => {
                counts.failures.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Some(_) => {}
        }
    }
}

/// One socket's loop until `stop`: create, update, read, delete its own model.
async fn crud(mut client: Client, n: usize, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let collection = format!("/soak/g{}", n / GROUP);
    if request(
        &mut client,
        &counts,
        "subscribe",
        json!({"url": collection}),
    )
    .await
    .is_none()
    {
        return;
    }
    // Spread the sockets over the pause, so the load is steady rather than in waves.
    tokio::time::sleep(PAUSE.mul_f64((n % 97) as f64 / 97.0)).await;
    let id = format!("s{n}");
    let model = format!("{collection}/{id}");
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let steps = [
            (
                "create",
                json!({"url": collection, "data": {"id": id, "round": round}}),
            ),
            (
                "update",
                json!({"url": model, "data": {"id": id, "round": round, "t": "x".repeat(100)}}),
            ),
            ("read", json!({"url": model, "data": {"id": id}})),
            ("delete", json!({"url": model})),
        ];
        for (event, arg) in steps {
            if request(&mut client, &counts, event, arg).await.is_none() {
                return;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    client.close();
}

fn table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "| time | RSS (MB) | open fds | threads | requests acked | pushes received |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for s in samples {
        out.push_str(&format!(
            "| {:>4} s | {:.1} | {} | {} | {} | {} |\n",
            s.at.as_secs(),
            s.rss_kb as f64 / 1024.0,
            s.fds,
            s.threads,
            s.requests,
            s.pushes
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sockets_of_steady_crud_and_pushes_keep_memory_fds_and_threads_flat() {
    let secs: u64 = env_or("SYNCSCOPE_SOAK_SECS", 30);
    let sockets: usize = env_or("SYNCSCOPE_SOAK_SOCKETS", 1000);
    let bin: PathBuf = env_or(
        "SYNCSCOPE_SOAK_BIN",
        PathBuf::from(env!("CARGO_BIN_EXE_syncscope")),
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(
        binary::serve_with(&bin)
            .args(["--token", "soak", "--db"])
            .arg(dir.path().join("soak.db")),
        &dir.path().join("soak.log"),
    );
    let (addr, pid) = (server.addr, server.id());
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let before = sample(pid, Duration::ZERO, &counts);

    // Connect in batches, as many tabs opening would, not 1,000 at once.
    let clients: Vec<Client> = stream::iter(0..sockets)
        .map(|_| async {
            let options = ConnectOptions {
                timeout: Duration::from_secs(60),
                ..ConnectOptions::default()
            };
            Client::connect_with(&addr.to_string(), options).await
        })
        .buffer_unordered(50)
        .map(|c| c.unwrap_or_else(|e| panic!("a soak socket could not connect: {e}")))
        .collect()
        .await;
    let connected_in = start.elapsed();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, c)| tokio::spawn(crud(c, n, counts.clone(), stop.clone())))
        .collect();

    // Warm-up: every socket has subscribed and done a first round.
    tokio::time::sleep(PAUSE * 5).await;
    let load_start = Instant::now();
    let every = Duration::from_secs((secs / 10).clamp(5, 60));
    let mut samples = vec![sample(pid, start.elapsed(), &counts)];
    while load_start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(
            every.min(Duration::from_secs(secs).saturating_sub(load_start.elapsed())),
        )
        .await;
        samples.push(sample(pid, start.elapsed(), &counts));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let control =
        syncscope::inspect::client::Client::new(&format!("http://{addr}"), Some("soak".into()));
    let stats: syncscope::inspect::types::Stats = control.get("/stats", &[]).await.unwrap();
    // Once the sockets are gone, what they held must be given back (fds at least).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = sample(pid, start.elapsed(), &counts);
    drop(server);

    let report = table(&samples);
    let first = samples[0];
    let last = *samples.last().unwrap();
    let peak_rss = samples.iter().map(|s| s.rss_kb).max().unwrap();
    let failures = counts.failures.load(Ordering::Relaxed);
    eprintln!(
        "soak: {sockets} sockets connected in {:.1} s; {secs} s of load after a warm-up\n\
         before any socket: RSS {:.1} MB, {} fds, {} threads\n{report}\
         after the sockets left: RSS {:.1} MB, {} fds, {} threads\n\
         requests acked {}, pushes received {}, failures {failures}, recorder lost {}",
        connected_in.as_secs_f64(),
        before.rss_kb as f64 / 1024.0,
        before.fds,
        before.threads,
        after.rss_kb as f64 / 1024.0,
        after.fds,
        after.threads,
        last.requests,
        last.pushes,
        stats.recorder_lost,
    );
    if let Ok(path) = std::env::var("SYNCSCOPE_SOAK_REPORT") {
        std::fs::write(&path, &report).unwrap();
    }

    assert_eq!(
        failures, 0,
        "requests failed or sockets were lost during the soak"
    );
    assert!(
        last.requests > first.requests + sockets as u64,
        "the load did not run: {} requests acked",
        last.requests
    );
    assert!(last.pushes > first.pushes, "no push was received");
    // Flat: the load's last reading against its first, with room for a loaded machine.
    assert!(
        last.rss_kb <= first.rss_kb * 2 + 64 * 1024,
        "RSS grew from {} KB to {} KB under a steady load",
        first.rss_kb,
        last.rss_kb
    );
    assert!(
        peak_rss <= first.rss_kb * 3 + 128 * 1024,
        "RSS peaked at {peak_rss} KB (from {} KB)",
        first.rss_kb
    );
    assert!(
        last.fds <= first.fds + 50,
        "open fds grew from {} to {} with the same sockets",
        first.fds,
        last.fds
    );
    assert!(
        last.threads <= first.threads + 16,
        "threads grew from {} to {}",
        first.threads,
        last.threads
    );
    assert!(
        after.fds <= before.fds + 20,
        "{} fds still open after every socket left ({} before any came)",
        after.fds,
        before.fds
    );
}
