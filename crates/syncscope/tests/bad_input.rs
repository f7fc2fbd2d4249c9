//! Bad input gets a clear error, changes nothing stored, and harms no other client.

mod support;

use serde_json::{json, Value};
use support::{err, ok, start_memory, Client};

/// Seeds one model and returns the collection as read back, to compare afterwards.
async fn seeded(c: &mut Client) -> Value {
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "title": "keep me"}}),
        )
        .await);
    ok(&c.request("read", json!({"url": "/todos"})).await).clone()
}

/// One line of a corpus file in fixtures/bad-input/.
fn corpus(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/bad-input/").to_string() + name;
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn each_malformed_request_of_the_corpus_gets_an_error_ack_naming_the_problem_and_nothing_changes(
) {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let before = seeded(&mut c).await;
    for case in corpus("requests.ndjson") {
        let (event, why) = (case["event"].as_str().unwrap(), &case["why"]);
        let ack = c.request(event, case["arg"].clone()).await;
        let e = err(&ack);
        assert_eq!(e["code"], case["code"], "{why}: {e}");
        if !case["field"].is_null() {
            assert_eq!(e["field"], case["field"], "{why}: {e}");
        }
        assert!(
            e["message"].as_str().is_some_and(|m| m.len() > 10),
            "{why}: a readable message, got {e}"
        );
    }
    let after = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(
        ok(&after),
        &before,
        "nothing stored changed, no seq was used"
    );
}

#[tokio::test]
async fn no_malformed_frame_of_the_corpus_harms_another_socket_or_the_store() {
    let server = start_memory().await;
    let mut bystander = Client::connect(server.local_addr()).await;
    let before = seeded(&mut bystander).await;
    ok(&bystander
        .request("subscribe", json!({"url": "/todos"}))
        .await);
    for case in corpus("frames.ndjson") {
        let mut victim = Client::connect(server.local_addr()).await;
        victim.send_raw(case["frame"].as_str().unwrap()).await;
        // Closing the connection or ignoring the frame are both fine; answering is not
        // required. What matters: the server still serves the others, unchanged.
        let _ = victim
            .next_event_within(std::time::Duration::from_millis(100))
            .await;
        let read = bystander.request("read", json!({"url": "/todos"})).await;
        assert_eq!(ok(&read), &before, "{}", case["why"]);
    }
    let mut writer = Client::connect(server.local_addr()).await;
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {"id": 2}}))
        .await);
    assert_eq!(
        bystander.next_event().await.0,
        "change",
        "pushes still flow"
    );
}

#[tokio::test]
async fn an_event_with_no_argument_is_a_bad_request() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    c.send_raw(r#"421["create"]"#).await;
    let ack = c.ack(1).await;
    assert_eq!(err(&ack)["code"], "bad_request");
}

#[tokio::test]
async fn oversized_data_is_refused_with_too_large_and_its_limit() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let before = seeded(&mut c).await;
    let big = "x".repeat(300 * 1024);
    let ack = c
        .request("update", json!({"url": "/todos/1", "data": {"title": big}}))
        .await;
    let e = err(&ack);
    assert_eq!(e["code"], "too_large");
    assert_eq!(e["limit"], 256 * 1024);
    let after = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&after), &before);
}

#[tokio::test]
async fn an_unknown_event_with_an_ack_is_answered_and_without_one_is_dropped() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let ack = c.request("launchMissiles", json!({"now": true})).await;
    let e = err(&ack);
    assert_eq!(e["code"], "unknown_event");
    assert_eq!(e["event"], "launchMissiles");
    c.emit("launchMissiles", json!({})).await;
    c.emit("create", json!({"url": "/x", "data": {"id": 1}}))
        .await;
    // The connection is still fine, and the ack-less create was carried out.
    let read = c.request("read", json!({"url": "/x"})).await;
    assert_eq!(ok(&read)["data"], json!([{"id": 1}]));
}

#[tokio::test]
async fn an_invalid_frame_closes_only_that_connection() {
    let server = start_memory().await;
    let mut victim = Client::connect(server.local_addr()).await;
    let mut bystander = Client::connect(server.local_addr()).await;
    ok(&bystander
        .request("subscribe", json!({"url": "/todos"}))
        .await);
    victim
        .send_raw(r#"42["create",{"url":"/todos","data":{"#)
        .await;
    assert!(
        victim.is_closed_by_server().await,
        "bad JSON closes the connection, as in Node"
    );
    let mut garbage = Client::connect(server.local_addr()).await;
    garbage.send_raw("9nonsense").await;
    assert!(
        garbage.is_closed_by_server().await,
        "an unknown packet type closes the connection"
    );

    let mut writer = Client::connect(server.local_addr()).await;
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {"id": 5}}))
        .await);
    let (name, args) = bystander.next_event().await;
    assert_eq!((name.as_str(), &args[0]["id"]), ("change", &json!("5")));
    let read = writer.request("read", json!({"url": "/todos"})).await;
    assert_eq!(
        ok(&read)["data"],
        json!([{"id": 5}]),
        "the broken frame wrote nothing"
    );
}

#[tokio::test]
async fn a_message_over_the_engine_io_limit_closes_that_connection() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let huge = "y".repeat(1_100_000);
    c.emit("create", json!({"url": "/todos", "data": {"t": huge}}))
        .await;
    assert!(c.is_closed_by_server().await);
    let mut other = Client::connect(server.local_addr()).await;
    let read = other.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&read)["data"], json!([]));
}
