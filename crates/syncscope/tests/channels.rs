//! Channels: pushes after committed writes, to the other subscribers only, and
//! `subscribe since` catch-up.

mod support;

use serde_json::json;
use support::{err, ok, start, start_memory, Client};
use syncscope::{Config, DbLocation};

#[tokio::test]
async fn a_write_is_pushed_to_other_subscribers_but_not_to_the_writer() {
    let server = start_memory().await;
    let addr = server.local_addr();
    let mut writer = Client::connect(addr).await;
    let mut reader = Client::connect(addr).await;
    let mut elsewhere = Client::connect(addr).await;
    ok(&writer.request("subscribe", json!({"url": "/todos"})).await);
    ok(&reader.request("subscribe", json!({"url": "todos/"})).await);
    ok(&elsewhere
        .request("subscribe", json!({"url": "/other"}))
        .await);

    let created = writer
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "t": "a"}}),
        )
        .await;
    let (name, args) = reader.next_event().await;
    assert_eq!(name, "change");
    assert_eq!(
        args[0],
        json!({"url": "/todos", "op": "create", "id": "1", "data": {"id": 1, "t": "a"}, "version": 1, "seq": ok(&created)["seq"], "prev": 0})
    );
    ok(&writer
        .request("patch", json!({"url": "/todos/1", "data": {"done": true}}))
        .await);
    ok(&writer.request("delete", json!({"url": "/todos/1"})).await);
    let ops: Vec<_> = [reader.next_event().await, reader.next_event().await]
        .into_iter()
        .map(|(_, args)| (args[0]["op"].clone(), args[0]["version"].clone()))
        .collect();
    assert_eq!(
        ops,
        vec![(json!("patch"), json!(2)), (json!("delete"), json!(3))]
    );
    assert!(
        writer.hears_nothing().await,
        "the writer does not get its own echo"
    );
    assert!(
        elsewhere.hears_nothing().await,
        "another channel hears nothing"
    );
}

#[tokio::test]
async fn a_refused_write_pushes_nothing() {
    let server = start_memory().await;
    let mut writer = Client::connect(server.local_addr()).await;
    let mut reader = Client::connect(server.local_addr()).await;
    ok(&reader.request("subscribe", json!({"url": "/todos"})).await);
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);
    reader.next_event().await;
    err(&writer
        .request(
            "update",
            json!({"url": "/todos/1", "data": {}, "version": 5}),
        )
        .await);
    assert!(reader.hears_nothing().await);
}

#[tokio::test]
async fn after_unsubscribe_a_socket_hears_no_more_changes() {
    let server = start_memory().await;
    let mut writer = Client::connect(server.local_addr()).await;
    let mut reader = Client::connect(server.local_addr()).await;
    ok(&reader.request("subscribe", json!({"url": "/todos"})).await);
    let left = reader
        .request("unsubscribe", json!({"url": "/todos"}))
        .await;
    assert_eq!(ok(&left)["url"], "/todos");
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {}}))
        .await);
    assert!(reader.hears_nothing().await);
}

#[tokio::test]
async fn subscribe_since_replays_the_changes_missed_in_that_collection_only() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let first = c.request("subscribe", json!({"url": "/todos"})).await;
    assert_eq!(ok(&first)["seq"], 0);
    ok(&c
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await); // seq 1
    ok(&c
        .request("create", json!({"url": "/notes", "data": {"id": 1}}))
        .await); // seq 2
    ok(&c
        .request("patch", json!({"url": "/todos/1", "data": {"x": 1}}))
        .await); // seq 3
    ok(&c.request("delete", json!({"url": "/todos/1"})).await); // seq 4

    let mut late = Client::connect(server.local_addr()).await;
    let ack = late
        .request("subscribe", json!({"url": "/todos", "since": 1}))
        .await;
    let result = ok(&ack);
    assert_eq!(result["seq"], 4);
    let changes = result["changes"].as_array().unwrap();
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c["seq"].clone(), c["op"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![(json!(3), json!("patch")), (json!(4), json!("delete"))]
    );
    assert_eq!(changes[0]["data"], json!({"id": 1, "x": 1}));
    assert!(result.get("reset").is_none());
}

#[tokio::test]
async fn a_since_older_than_the_change_log_gets_the_whole_collection_as_a_reset() {
    let server = start(Config {
        port: 0,
        db: DbLocation::Memory,
        retain_changes: 2,
        ..Config::default()
    })
    .await;
    let mut c = Client::connect(server.local_addr()).await;
    for id in 1..=4 {
        ok(&c
            .request("create", json!({"url": "/todos", "data": {"id": id}}))
            .await);
    }
    ok(&c
        .request("patch", json!({"url": "/todos/2", "data": {"x": true}}))
        .await);
    let ack = c
        .request("subscribe", json!({"url": "/todos", "since": 1}))
        .await;
    let result = ok(&ack);
    assert_eq!(result["reset"], true);
    assert_eq!(result["data"].as_array().unwrap().len(), 4);
    assert_eq!(result["versions"], json!({"1": 1, "2": 2, "3": 1, "4": 1}));
    // Recent enough: plain changes.
    let recent = c
        .request("subscribe", json!({"url": "/todos", "since": 4}))
        .await;
    assert_eq!(ok(&recent)["changes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_since_from_the_future_means_another_database_and_gets_a_reset() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);
    let ack = c
        .request("subscribe", json!({"url": "/todos", "since": 999}))
        .await;
    assert_eq!(ok(&ack)["reset"], true);
    assert_eq!(ok(&ack)["data"], json!([{"id": 1}]));
}
