//! Sessions live in the project's database file and outlive the server.

mod inspect_support;

use inspect_support::*;
use serde_json::json;
use syncscope::{Config, DbLocation};

#[tokio::test]
async fn sessions_and_their_records_survive_a_restart_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("project.db"));
    let start = || {
        syncscope::start(Config {
            port: 0,
            db: db.clone(),
            ..Config::default()
        })
    };

    let running = start().await.unwrap();
    let mut client = Sio::connect(running.local_addr()).await;
    client
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await;
    client.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    running.shutdown().await;

    let running = start().await.unwrap();
    let control = Control::of(&running);
    let sessions = control.get("/sessions").await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions[0]["stopped_at_us"].is_u64());
    assert_eq!(
        sessions[1]["stopped_at_us"],
        json!(null),
        "a new one is recording"
    );
    let first = sessions[0]["id"].as_i64().unwrap();
    let kinds = control.session_kinds(first).await;
    assert_eq!(
        kinds,
        ["connect", "event_in", "ack_out", "push_out", "disconnect"]
    );
    assert_eq!(sessions[0]["recorded"], 5);
    running.shutdown().await;
}
