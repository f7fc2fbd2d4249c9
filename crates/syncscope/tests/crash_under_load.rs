//! SIGKILL in the middle of a write load, as a crash or the OOM killer would stop the
//! server: the real binary on a file database, several sockets each pipelining writes,
//! killed with no chance to finish anything, then restarted on the same file.
//!
//! What a client was told must hold after the restart: every acked write is stored at
//! (at least) its acked version, and no write is half there: each stored model's data
//! is the very write that gave it its version. The file passes `PRAGMA
//! integrity_check`, and the session recorded up to the kill exports and reads back.
//! Three rounds on one file: each restart starts from the state the last kill left.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::binary::{self, Served};
use syncscope::sio::{Client, ConnectOptions, Eio, Transport};

const TOKEN: &str = "crash-test";
const SOCKETS: usize = 8;
/// Models each socket writes, round robin.
const MODELS: usize = 4;
/// Requests each socket keeps in flight.
const IN_FLIGHT: usize = 16;
/// The kill comes once this many writes of the round were acked.
const KILL_AFTER: usize = 300;
const ROUNDS: usize = 3;

fn serve(db: &Path) -> Served {
    let log = db.with_extension("log");
    Served::start(
        binary::serve().args(["--token", TOKEN, "--db"]).arg(db),
        &log,
    )
}

/// What one socket sent and was told, per model id.
#[derive(Default)]
struct WriterLog {
    /// The highest version a write of the model would have given it.
    sent: HashMap<String, i64>,
    /// The highest version an ack confirmed.
    acked: HashMap<String, i64>,
}

/// The write that takes model `id` to `version`: a create, then updates and patches that
/// name the version they expect, so that each write's data says which version it made.
fn write_for(collection: &str, id: &str, version: i64) -> (&'static str, Value) {
    let data = json!({"id": id, "n": version, "pad": "p".repeat(200)});
    match version {
        1 => ("create", json!({"url": collection, "data": data})),
        v if v % 2 == 0 => (
            "update",
            json!({"url": format!("{collection}/{id}"), "data": data, "version": v - 1}),
        ),
        v => (
            "patch",
            json!({"url": format!("{collection}/{id}"), "data": {"n": v}, "version": v - 1}),
        ),
    }
}

/// Writes until the connection dies, `IN_FLIGHT` requests ahead of the acks.
async fn writer(
    addr: SocketAddr,
    round: usize,
    socket: usize,
    acks: Arc<AtomicUsize>,
) -> WriterLog {
    let transport = if socket % 4 == 3 {
        Transport::Polling
    } else {
        Transport::Websocket
    };
    let options = ConnectOptions {
        eio: if socket.is_multiple_of(2) {
            Eio::V4
        } else {
            Eio::V3
        },
        transport,
        ..ConnectOptions::default()
    };
    let mut client = Client::connect_with(&addr.to_string(), options)
        .await
        .unwrap();
    let collection = format!("/crash/r{round}s{socket}");
    let mut log = WriterLog::default();
    let mut next_version = [1i64; MODELS];
    let mut flight = std::collections::VecDeque::new();
    let mut turn = 0usize;
    loop {
        while flight.len() < IN_FLIGHT {
            let m = turn % MODELS;
            turn += 1;
            let id = format!("m{m}");
            let version = next_version[m];
            next_version[m] += 1;
            let (event, arg) = write_for(&collection, &id, version);
            let ack = client.emit_with_ack(event, &[arg]);
            log.sent.insert(id.clone(), version);
            flight.push_back((ack, id, version));
        }
        let (ack, id, version) = flight.pop_front().unwrap();
        let Some(args) = client.ack_within(ack, Duration::from_secs(20)).await else {
            return log; // the server is gone
        };
        assert!(
            args[0].is_null(),
            "{collection}/{id} v{version} refused: {args:?}"
        );
        assert_eq!(args[1]["version"], version, "{collection}/{id}: {args:?}");
        log.acked.insert(id, version);
        acks.fetch_add(1, Ordering::Relaxed);
    }
}

async fn integrity_check(db: &Path) -> String {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions as _;
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .connect()
        .await
        .unwrap();
    let result: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_write_load_loses_no_acked_write_and_leaves_no_half_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut totals = (0usize, 0usize, 0usize); // acked, stored, sent
    for round in 0..ROUNDS {
        let server = serve(&db);
        let addr = server.addr;
        let acks = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..SOCKETS)
            .map(|s| tokio::spawn(writer(addr, round, s, acks.clone())))
            .collect();
        // SIGKILL once the load is well under way, while every socket has writes in flight.
        let waited = tokio::time::Instant::now();
        while acks.load(Ordering::Relaxed) < KILL_AFTER {
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "round {round}: only {} acks in 2 minutes",
                acks.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill();
        let mut logs = Vec::new();
        for w in writers {
            logs.push(w.await.unwrap());
        }

        assert_eq!(integrity_check(&db).await, "ok", "round {round}");

        let server = serve(&db);
        let addr = server.addr;
        let mut reader = Client::connect(&addr.to_string()).await.unwrap();
        let (mut acked, mut stored, mut sent) = (0, 0, 0);
        for (socket, log) in logs.iter().enumerate() {
            let collection = format!("/crash/r{round}s{socket}");
            let read = reader
                .request(
                    "read",
                    &[json!({"url": collection})],
                    Duration::from_secs(20),
                )
                .await
                .expect("the restarted server answers");
            assert!(read[0].is_null(), "{read:?}");
            let versions = &read[1]["versions"];
            let models: HashMap<String, (i64, Value)> = read[1]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|data| {
                    let id = data["id"].as_str().unwrap().to_string();
                    (id.clone(), (versions[&id].as_i64().unwrap(), data.clone()))
                })
                .collect();
            for (id, (version, data)) in &models {
                // Whole writes only: the stored data is the write that made this version.
                assert_eq!(
                    data["n"], *version,
                    "{collection}/{id} is half written: {data}"
                );
                assert!(
                    *version <= log.sent[id],
                    "{collection}/{id} at v{version}, beyond anything sent"
                );
            }
            for (id, version) in &log.acked {
                let Some((stored_version, _)) = models.get(id) else {
                    panic!("{collection}/{id} was acked at v{version} and is gone");
                };
                assert!(
                    stored_version >= version,
                    "{collection}/{id} was acked at v{version}, stored at v{stored_version}"
                );
            }
            acked += log.acked.values().sum::<i64>() as usize;
            stored += models.values().map(|(v, _)| *v).sum::<i64>() as usize;
            sent += log.sent.values().sum::<i64>() as usize;
        }
        assert!(
            stored < sent,
            "round {round}: every write sent was stored: the kill came after the load"
        );

        // The session recorded until the kill is closed at this launch and exports whole.
        let control =
            syncscope::inspect::client::Client::new(&format!("http://{addr}"), Some(TOKEN.into()));
        let sessions: Vec<syncscope::inspect::types::SessionInfo> =
            control.get("/sessions", &[]).await.unwrap();
        let killed = &sessions[sessions.len() - 2];
        assert!(killed.stopped_at_us.is_some(), "{killed:?}");
        let text = control
            .get_text(&format!("/sessions/{}/export", killed.id))
            .await
            .unwrap();
        let file = syncscope::session_file::parse(&text)
            .unwrap_or_else(|e| panic!("the killed session does not read back: {e}"));
        let writes_recorded = file
            .records
            .iter()
            .filter(|r| r.url.as_deref().is_some_and(|u| u.starts_with("/crash/")))
            .count();
        assert!(
            writes_recorded > 0,
            "the killed session recorded none of the load"
        );
        eprintln!(
            "round {round}: {acked} writes acked, {stored} stored, {sent} sent before SIGKILL; \
             integrity ok; killed session {} exports {} records ({writes_recorded} of the load)",
            killed.id,
            file.records.len()
        );
        totals.0 += acked;
        totals.1 += stored;
        totals.2 += sent;
    }
    eprintln!(
        "{ROUNDS} SIGKILLs survived: {} acked, {} stored, {} sent; 0 acked writes lost",
        totals.0, totals.1, totals.2
    );
}
