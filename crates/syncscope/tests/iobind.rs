//! The backbone.iobind dialect: `<ns>:<method>` events with attributes, `(err, attrs)`
//! acks, and the pushes `ioBind` listens for.

mod support;

use serde_json::json;
use support::{err, ok, start_memory, Client};

#[tokio::test]
async fn iobind_crud_acks_plain_attributes() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let created = c.request("todos:create", json!({"title": "a"})).await;
    let attrs = ok(&created).clone();
    assert_eq!(attrs["title"], "a");
    let id = attrs["id"].as_str().unwrap().to_string();

    let list = c.request("todos:read", json!([])).await;
    assert_eq!(ok(&list), &json!([attrs]));
    let one = c.request("todos:read", json!({"id": id})).await;
    assert_eq!(ok(&one), &attrs);

    let updated = c
        .request("todos:update", json!({"id": id, "title": "b"}))
        .await;
    assert_eq!(ok(&updated), &json!({"id": id, "title": "b"}));
    let patched = c
        .request("todos:patch", json!({"id": id, "done": true}))
        .await;
    assert_eq!(ok(&patched), &json!({"id": id, "title": "b", "done": true}));
    let deleted = c.request("todos:delete", json!({"id": id})).await;
    assert_eq!(ok(&deleted)["title"], "b");
    let gone = c.request("todos:read", json!({"id": id})).await;
    assert_eq!(err(&gone)["code"], "not_found");
}

#[tokio::test]
async fn iobind_writes_and_native_writes_share_one_collection() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request("todos:create", json!({"id": 1, "t": "iobind"}))
        .await);
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 2, "t": "native"}}),
        )
        .await);
    let native = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&native)["data"].as_array().unwrap().len(), 2);
    let iobind = c.request("todos:read", json!([])).await;
    assert_eq!(ok(&iobind).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_socket_that_spoke_iobind_hears_the_pushes_iobind_listens_for_in_both_spellings() {
    let server = start_memory().await;
    let mut listener = Client::connect(server.local_addr()).await;
    let mut writer = Client::connect(server.local_addr()).await;
    ok(&listener.request("todos:read", json!([])).await);

    ok(&writer
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "a b", "t": 1}}),
        )
        .await);
    let mut heard = vec![listener.next_event().await, listener.next_event().await];
    ok(&writer
        .request("todos:update", json!({"id": "a b", "t": 2}))
        .await);
    heard.push(listener.next_event().await);
    heard.push(listener.next_event().await);
    ok(&writer.request("todos:delete", json!({"id": "a b"})).await);
    heard.push(listener.next_event().await);
    heard.push(listener.next_event().await);
    let names: Vec<_> = heard.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "todos:create",
            "/todos:create",
            "todos/a%20b:update",
            "/todos/a%20b:update",
            "todos/a%20b:delete",
            "/todos/a%20b:delete"
        ]
    );
    assert_eq!(heard[0].1, vec![json!({"id": "a b", "t": 1})]);
    assert_eq!(heard[2].1, vec![json!({"id": "a b", "t": 2})]);
    assert!(
        writer.hears_nothing().await,
        "the writer spoke iobind too but gets no echo"
    );
}

#[tokio::test]
async fn iobind_pushes_only_reach_sockets_that_used_that_namespace() {
    let server = start_memory().await;
    let mut other_ns = Client::connect(server.local_addr()).await;
    let mut writer = Client::connect(server.local_addr()).await;
    ok(&other_ns.request("notes:read", json!([])).await);
    ok(&writer.request("todos:create", json!({"t": 1})).await);
    assert!(other_ns.hears_nothing().await);
}

#[tokio::test]
async fn iobind_update_without_an_id_is_a_bad_request() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let ack = c.request("todos:update", json!({"title": "no id"})).await;
    assert_eq!(err(&ack)["code"], "bad_request");
    assert_eq!(err(&ack)["field"], "data.id");
    let unknown = c.request("todos:frobnicate", json!({})).await;
    assert_eq!(err(&unknown)["code"], "unknown_event");
}

#[tokio::test]
async fn iobind_pushes_are_sent_and_recorded_only_while_someone_listens_in_that_dialect() {
    let server = start_memory().await;
    let mut writer = Client::connect(server.local_addr()).await;
    let pushes = |server: &syncscope::Running| {
        server
            .inspector()
            .bus
            .registry
            .sockets()
            .iter()
            .map(|s| s.pushes_in)
            .sum::<u64>()
    };
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);
    let mut listener = Client::connect(server.local_addr()).await;
    ok(&listener.request("todos:read", json!([])).await);
    ok(&writer
        .request("create", json!({"url": "/todos", "data": {"id": 2}}))
        .await);
    assert_eq!(listener.next_event().await.0, "todos:create");
    assert_eq!(
        pushes(&server),
        2,
        "both spellings reached the one listener"
    );
}
