//! The refusals nothing else drives: `busy` once one socket's queue is full, and
//! `internal` when the store fails for a reason of its own, with nothing written.

mod support;

use std::str::FromStr;

use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use support::{ok, start, Client};
use syncscope::endpoint::QUEUE_DEPTH;
use syncscope::faults::FaultSpec;
use syncscope::{Config, DbLocation};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_with_a_full_queue_gets_busy_and_the_queued_requests_still_run() {
    let server = start(Config {
        port: 0,
        db: DbLocation::Memory,
        ..Config::default()
    })
    .await;
    let mut c = Client::connect(server.local_addr()).await;
    // Hold the socket's worker on its first request: a delay fault keeps it busy
    // while the queue behind it fills, deterministically.
    let spec: FaultSpec = serde_json::from_value(json!({
        "when": {"socket": c.sid, "event": "read"},
        "action": "delay", "ms": 3000, "times": 1
    }))
    .unwrap();
    let rule = syncscope::inspect::client::Client::new(
        &format!("http://{}", server.local_addr()),
        Some(server.token().to_string()),
    )
    .command(&syncscope::inspect::types::Command::FaultAdd {
        rule: spec,
        enabled: None,
    })
    .await
    .unwrap();
    assert_eq!(rule["fired"], 0);

    let held = c.emit_with_ack("read", json!({"url": "/q"})).await;
    let extra = 20;
    let mut ids = Vec::new();
    for n in 0..QUEUE_DEPTH + extra {
        ids.push(
            c.emit_with_ack("create", json!({"url": "/q", "data": {"id": n}}))
                .await,
        );
    }
    let acks = c.collect_acks(ids.len() + 1).await;
    assert_eq!(acks.len(), ids.len() + 1, "every request got an answer");
    let busy: Vec<_> = ids
        .iter()
        .filter(|id| acks[id][0]["code"] == "busy")
        .collect();
    // The held read left the queue, so the queue took QUEUE_DEPTH creates behind it
    // (give or take the one in the worker's hands); the rest were refused at once.
    assert!(
        (extra - 1..=extra + 1).contains(&busy.len()),
        "{} busy answers for {extra} requests beyond the queue",
        busy.len()
    );
    assert!(ok(&acks[&held])["data"].is_array());
    let created = ids.iter().filter(|id| acks[id][0].is_null()).count();
    assert_eq!(created + busy.len(), ids.len());
    // Nothing refused was written; everything accepted was.
    let read = c.request("read", json!({"url": "/q"})).await;
    assert_eq!(ok(&read)["data"].as_array().unwrap().len(), created);
}

#[tokio::test]
async fn a_store_failure_of_its_own_is_an_internal_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let server = start(Config {
        port: 0,
        db: DbLocation::File(db.clone()),
        ..Config::default()
    })
    .await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request("create", json!({"url": "/t", "data": {"id": 1}}))
        .await);
    let before = ok(&c.request("read", json!({"url": "/t"})).await)["seq"].clone();

    // Another program breaks the schema under the server: every write now fails in
    // the store with a cause that is neither a full disk nor a lock.
    let mut other = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
        .execute(&mut other)
        .await
        .unwrap();
    let failed = c
        .request("update", json!({"url": "/t/1", "data": {"id": 1, "x": 2}}))
        .await;
    assert_eq!(failed.len(), 1, "an error ack: {failed:?}");
    assert_eq!(failed[0]["code"], "internal", "{failed:?}");
    let read = c.request("read", json!({"url": "/t/1"})).await;
    assert_eq!(
        ok(&read)["data"],
        json!({"id": 1}),
        "nothing of the failed update was written"
    );

    // Once the cause is gone, the next write works without a restart.
    sqlx::query("DROP TRIGGER refuse")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();
    let updated = c
        .request("update", json!({"url": "/t/1", "data": {"id": 1, "x": 3}}))
        .await;
    assert_eq!(ok(&updated)["version"], 2);
    assert!(ok(&updated)["seq"].as_i64() > before.as_i64());
    server.shutdown().await;
}
