//! Faults set through the control API reach the client exactly like real failures.

mod inspect_support;
mod support;

use std::time::{Duration, Instant};

use inspect_support::Control;
use serde_json::{json, Value};
use support::{err, ok, start_memory, Client};
use syncscope::Running;

async fn add_rule(server: &Running, rule: Value) -> u64 {
    let (status, res) = Control::of(server)
        .command(json!({"command": "fault_add", "rule": rule}))
        .await;
    assert_eq!((status, &res["result"]), (200, &json!("ok")), "{res}");
    res["value"]["id"].as_u64().unwrap()
}

#[tokio::test]
async fn the_next_update_on_a_collection_fails_with_a_conflict_shaped_like_a_real_one() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "t": "a"}}),
        )
        .await);
    add_rule(
        &server,
        json!({"when": {"event": "update", "url": "/todos"}, "action": "fail",
               "code": "conflict", "message": "someone else changed it", "times": 1}),
    )
    .await;

    ok(&c.request("read", json!({"url": "/todos"})).await);
    let failed = c
        .request("update", json!({"url": "/todos/1", "data": {"t": "b"}}))
        .await;
    let e = err(&failed);
    assert_eq!(e["code"], "conflict");
    assert_eq!(e["message"], "someone else changed it");
    assert_eq!(
        e["current"],
        json!({"data": {"id": 1, "t": "a"}, "version": 1})
    );
    let read = c.request("read", json!({"url": "/todos/1"})).await;
    assert_eq!(
        ok(&read)["data"]["t"],
        "a",
        "the failed update wrote nothing"
    );

    let next = c
        .request("update", json!({"url": "/todos/1", "data": {"t": "b"}}))
        .await;
    assert_eq!(ok(&next)["version"], 2, "the rule fired once only");
    let rules = Control::of(&server).get("/faults").await;
    assert_eq!(rules[0]["fired"], 1);
    assert_eq!(rules[0]["enabled"], false);
}

#[tokio::test]
async fn a_delay_rule_holds_the_ack_back_and_switching_it_off_restores_speed() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let id = add_rule(&server, json!({"action": "delay", "ms": 400})).await;
    let t0 = Instant::now();
    ok(&c.request("read", json!({"url": "/todos"})).await);
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    let (_, res) = Control::of(&server)
        .command(json!({"command": "fault_set", "id": id, "enabled": false}))
        .await;
    assert_eq!(res["result"], "ok");
    let t1 = Instant::now();
    ok(&c.request("read", json!({"url": "/todos"})).await);
    assert!(
        t1.elapsed() < Duration::from_millis(400),
        "{:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn a_drop_rule_leaves_the_request_unanswered_and_a_disconnect_rule_cuts_the_socket() {
    let server = start_memory().await;
    let mut victim = Client::connect(server.local_addr()).await;
    let other = Client::connect(server.local_addr()).await;
    add_rule(
        &server,
        json!({"when": {"socket": victim.sid, "event": "create"}, "action": "drop", "times": 1}),
    )
    .await;
    victim
        .emit_with_ack("create", json!({"url": "/x", "data": {"id": 1}}))
        .await;
    let after = victim.emit_with_ack("read", json!({"url": "/x"})).await;
    // One socket's requests are answered in order, and `ack` fails on any other ack that
    // comes first: had the dropped create been answered, it would fail here.
    let ack = victim.ack(after).await;
    assert_eq!(
        ok(&ack)["data"],
        json!([]),
        "the dropped create was not carried out"
    );
    let rules = Control::of(&server).get("/faults").await;
    assert_eq!(rules[0]["fired"], 1, "the drop rule is what held it back");

    add_rule(
        &server,
        json!({"when": {"socket": victim.sid}, "action": "disconnect"}),
    )
    .await;
    victim.emit("read", json!({"url": "/x"})).await;
    assert!(victim.is_closed_by_server().await);
    drop(other);
}

#[tokio::test]
async fn a_fired_rule_is_recorded_with_the_fault_origin_before_the_error_ack() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    add_rule(
        &server,
        json!({"action": "fail", "code": "injected", "message": "boom"}),
    )
    .await;
    let ack = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(err(&ack)["code"], "injected");
    server.inspector().recorder().stop_session().await.unwrap();
    let page = Control::of(&server).get("/events").await;
    let kinds: Vec<(String, String)> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().into(),
                r["origin"].as_str().unwrap().into(),
            )
        })
        .collect();
    let fault = kinds
        .iter()
        .position(|(k, o)| k == "fault" && o == "fault")
        .expect("a fault record");
    let ack = kinds
        .iter()
        .position(|(k, _)| k == "ack_out")
        .expect("the error ack");
    assert!(fault < ack, "{kinds:?}");
}

#[tokio::test]
async fn an_injected_error_ack_names_its_rule_and_errors_split_into_injected_and_real() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let rule = add_rule(
        &server,
        json!({"when": {"event": "read"}, "action": "fail", "code": "conflict", "message": "made up", "times": 1}),
    )
    .await;
    assert_eq!(
        err(&c.request("read", json!({"url": "/todos"})).await)["code"],
        "conflict"
    );
    // A real error: deleting what does not exist.
    assert_eq!(
        err(&c.request("delete", json!({"url": "/todos/404"})).await)["code"],
        "not_found"
    );
    server.inspector().recorder().stop_session().await.unwrap();
    let control = Control::of(&server);

    let acks = control.get("/events?kinds=ack_out&errors_only=true").await;
    let acks = acks["records"].as_array().unwrap();
    assert_eq!(acks.len(), 2, "{acks:?}");
    assert_eq!(acks[0]["fault"], rule, "the injected one names its rule");
    assert_eq!(acks[1]["fault"], Value::Null, "the real one has none");

    let injected = control.get("/events?errors_only=true&injected=true").await;
    let injected = injected["records"].as_array().unwrap();
    assert_eq!(injected.len(), 1);
    assert_eq!(injected[0]["error"], "conflict");
    let real = control.get("/events?errors_only=true&injected=false").await;
    let real = real["records"].as_array().unwrap();
    assert_eq!(real.len(), 1);
    assert_eq!(real[0]["error"], "not_found");
}
