//! Every CRUD path of the native dialect, over a raw Socket.IO websocket.

mod support;

use serde_json::json;
use support::{err, ok, start_memory, Client};

#[tokio::test]
async fn create_assigns_an_id_and_acks_version_1_with_a_seq() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let ack = c
        .request(
            "create",
            json!({"url": "/todos", "data": {"title": "milk"}}),
        )
        .await;
    let result = ok(&ack);
    assert_eq!(result["data"]["title"], "milk");
    assert!(result["data"]["id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(result["version"], 1);
    assert_eq!(result["seq"], 1);
}

#[tokio::test]
async fn create_keeps_the_id_the_client_chose_including_its_type() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let ack = c
        .request(
            "create",
            json!({"url": "todos", "data": {"id": 7, "title": "x"}}),
        )
        .await;
    assert_eq!(ok(&ack)["data"]["id"], 7);
    let read = c.request("read", json!({"url": "/todos/7"})).await;
    assert_eq!(ok(&read)["data"], json!({"id": 7, "title": "x"}));
}

#[tokio::test]
async fn creating_an_existing_id_is_a_conflict_carrying_the_stored_model() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "a", "n": 1}}),
        )
        .await);
    let ack = c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "a", "n": 2}}),
        )
        .await;
    let e = err(&ack);
    assert_eq!(e["code"], "conflict");
    assert_eq!(
        e["current"],
        json!({"data": {"id": "a", "n": 1}, "version": 1})
    );
}

#[tokio::test]
async fn a_collection_reads_in_creation_order_with_each_models_version() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    for title in ["a", "b", "c"] {
        ok(&c
            .request(
                "create",
                json!({"url": "/todos", "data": {"id": title, "title": title}}),
            )
            .await);
    }
    ok(&c
        .request("patch", json!({"url": "/todos/b", "data": {"done": true}}))
        .await);
    let ack = c.request("read", json!({"url": "/todos"})).await;
    let result = ok(&ack);
    let ids: Vec<_> = result["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("a"), json!("b"), json!("c")]);
    assert_eq!(result["versions"], json!({"a": 1, "b": 2, "c": 1}));
    assert_eq!(result["seq"], 4);
    let empty = c.request("read", json!({"url": "/nothing-here"})).await;
    assert_eq!(ok(&empty)["data"], json!([]));
}

#[tokio::test]
async fn a_model_reads_by_its_url_and_a_missing_one_is_not_found() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "a b", "t": 1}}),
        )
        .await);
    let ack = c
        .request(
            "read",
            json!({"url": "/todos/a%20b", "data": {"id": "a b"}}),
        )
        .await;
    assert_eq!(ok(&ack)["data"], json!({"id": "a b", "t": 1}));
    assert_eq!(ok(&ack)["version"], 1);
    let missing = c
        .request("read", json!({"url": "/todos/zzz", "data": {"id": "zzz"}}))
        .await;
    let e = err(&missing);
    assert_eq!(e["code"], "not_found");
    assert_eq!(e["url"], "/todos/zzz");
}

#[tokio::test]
async fn update_replaces_the_attributes_and_bumps_the_version() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "title": "a", "done": false}}),
        )
        .await);
    let ack = c
        .request(
            "update",
            json!({"url": "/todos/1", "data": {"id": 1, "title": "b"}, "version": 1}),
        )
        .await;
    let result = ok(&ack);
    assert_eq!(result["data"], json!({"id": 1, "title": "b"}));
    assert_eq!(result["version"], 2);
    assert_eq!(result["seq"], 2);
}

#[tokio::test]
async fn update_of_a_missing_model_creates_it_unless_a_version_is_given() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    let created = c
        .request(
            "update",
            json!({"url": "/todos/new", "data": {"title": "put"}}),
        )
        .await;
    assert_eq!(ok(&created)["data"], json!({"id": "new", "title": "put"}));
    assert_eq!(ok(&created)["version"], 1);
    let versioned = c
        .request(
            "update",
            json!({"url": "/todos/other", "data": {}, "version": 3}),
        )
        .await;
    assert_eq!(err(&versioned)["code"], "not_found");
    let read = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&read)["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn patch_merges_top_level_keys_and_acks_the_whole_model() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "p", "title": "a", "tags": [1]}}),
        )
        .await);
    let ack = c
        .request("patch", json!({"url": "/todos/p", "data": {"done": true}}))
        .await;
    assert_eq!(
        ok(&ack)["data"],
        json!({"id": "p", "title": "a", "tags": [1], "done": true})
    );
    assert_eq!(ok(&ack)["version"], 2);
    let missing = c
        .request("patch", json!({"url": "/todos/q", "data": {"done": true}}))
        .await;
    assert_eq!(err(&missing)["code"], "not_found");
}

#[tokio::test]
async fn delete_removes_the_model_and_acks_its_last_state() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "d", "title": "bye"}}),
        )
        .await);
    let ack = c.request("delete", json!({"url": "/todos/d"})).await;
    assert_eq!(ok(&ack)["data"], json!({"id": "d", "title": "bye"}));
    assert_eq!(ok(&ack)["version"], 2);
    let read = c
        .request("read", json!({"url": "/todos/d", "data": {"id": "d"}}))
        .await;
    assert_eq!(err(&read)["code"], "not_found");
    let again = c.request("delete", json!({"url": "/todos/d"})).await;
    assert_eq!(err(&again)["code"], "not_found");
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_writes_nothing() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": "v", "n": 0}}),
        )
        .await);
    ok(&c
        .request(
            "patch",
            json!({"url": "/todos/v", "data": {"n": 1}, "version": 1}),
        )
        .await);
    for (method, data) in [
        ("update", json!({"n": 9})),
        ("patch", json!({"n": 9})),
        ("delete", json!(null)),
    ] {
        let ack = c
            .request(
                method,
                json!({"url": "/todos/v", "data": data, "version": 1}),
            )
            .await;
        let e = err(&ack);
        assert_eq!(e["code"], "conflict", "{method}");
        assert_eq!(
            e["current"],
            json!({"data": {"id": "v", "n": 1}, "version": 2}),
            "{method}"
        );
        assert!(e["message"].as_str().unwrap().contains("version 2"));
    }
    let read = c.request("read", json!({"url": "/todos/v"})).await;
    assert_eq!(ok(&read)["data"], json!({"id": "v", "n": 1}));
    assert_eq!(ok(&read)["version"], 2);
    assert_eq!(
        ok(&read)["seq"],
        2,
        "no change was logged for the refused writes"
    );
}

#[tokio::test]
async fn nested_collection_urls_are_collections_of_their_own() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/projects", "data": {"id": 7, "name": "p"}}),
        )
        .await);
    ok(&c
        .request(
            "create",
            json!({"url": "/projects/7/todos", "data": {"id": 1, "t": "nested"}}),
        )
        .await);
    ok(&c
        .request(
            "update",
            json!({"url": "/projects/7/todos/1", "data": {"t": "changed"}}),
        )
        .await);
    let nested = c.request("read", json!({"url": "/projects/7/todos"})).await;
    assert_eq!(ok(&nested)["data"], json!([{"id": 1, "t": "changed"}]));
    let project = c.request("read", json!({"url": "/projects/7"})).await;
    assert_eq!(
        ok(&project)["data"],
        json!({"id": 7, "name": "p"}),
        "a model url that exists reads as the model"
    );
    let top = c.request("read", json!({"url": "/projects"})).await;
    assert_eq!(ok(&top)["data"], json!([{"id": 7, "name": "p"}]));
}

// Several worker threads, so that handlers running concurrently could overtake each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_of_one_socket_are_applied_in_the_order_they_were_sent() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    // Fire everything before reading any ack: a create and 50 versioned patches.
    let mut ids = vec![
        c.emit_with_ack(
            "create",
            json!({"url": "/seq", "data": {"id": "m", "n": 0}}),
        )
        .await,
    ];
    for n in 1..=50 {
        ids.push(
            c.emit_with_ack(
                "patch",
                json!({"url": "/seq/m", "data": {"n": n}, "version": n}),
            )
            .await,
        );
    }
    for id in ids {
        ok(&c.ack(id).await);
    }
    let read = c.request("read", json!({"url": "/seq/m"})).await;
    assert_eq!(ok(&read)["data"]["n"], 50);
    assert_eq!(ok(&read)["version"], 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pipelined_requests_gets_every_ack_none_silently_dropped() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    const N: u64 = 3000;
    let mut ids = Vec::new();
    for n in 0..N {
        ids.push(
            c.emit_with_ack("create", json!({"url": "/burst", "data": {"id": n}}))
                .await,
        );
    }
    let acks = c.collect_acks(ids.len()).await;
    let missing: Vec<_> = ids.iter().filter(|id| !acks.contains_key(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {N} acks never came",
        missing.len()
    );
    let (mut done, mut busy) = (0, 0);
    for ack in acks.values() {
        if ack[0].is_null() {
            done += 1;
        } else {
            assert_eq!(ack[0]["code"], "busy", "{ack:?}");
            busy += 1;
        }
    }
    eprintln!("{done} done, {busy} busy");
    let read = c.request("read", json!({"url": "/burst"})).await;
    assert_eq!(ok(&read)["data"].as_array().unwrap().len(), done);
}

#[tokio::test]
async fn a_model_url_read_after_its_model_was_deleted_is_not_found_not_an_empty_collection() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    for id in ["gone", "kept"] {
        ok(&c
            .request("create", json!({"url": "/items", "data": {"id": id}}))
            .await);
    }
    ok(&c.request("delete", json!({"url": "/items/gone"})).await);
    // Without `data.id`, as a plain `read` of the model url sends it.
    let read = c.request("read", json!({"url": "/items/gone"})).await;
    let e = err(&read);
    assert_eq!(e["code"], "not_found", "{e}");
    assert_eq!(e["url"], "/items/gone");
    let never = c.request("read", json!({"url": "/items/never"})).await;
    assert_eq!(
        err(&never)["code"],
        "not_found",
        "a model url of a collection that has models"
    );

    // The last model deleted: the log still says the url named a model.
    ok(&c.request("delete", json!({"url": "/items/kept"})).await);
    let read = c.request("read", json!({"url": "/items/kept"})).await;
    assert_eq!(err(&read)["code"], "not_found");

    // Collections that never had a model still read as empty.
    let empty = c.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&empty)["data"], json!([]));
    let nested = c.request("read", json!({"url": "/projects/7/todos"})).await;
    assert_eq!(ok(&nested)["data"], json!([]));
    let items = c.request("read", json!({"url": "/items"})).await;
    assert_eq!(ok(&items)["data"], json!([]));
}
