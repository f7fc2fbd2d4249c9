//! Live queries over the wire (docs/PROTOCOL.md, *Queries*): a read narrowed by a
//! query, a subscription that hears models enter (`match: true`), change and leave
//! (`match: false`) its result, ordered windows pushed whole, catch-up with `since`,
//! refusals naming the parameter, and `maxData` in the subscribe answer.

mod support;

use serde_json::{json, Value};
use support::{err, ok, start_memory, Client};

fn titles(result: &Value) -> Vec<String> {
    result["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn create(client: &mut Client, id: i64, title: &str, done: bool) {
    ok(&client
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": id, "title": title, "done": done}}),
        )
        .await);
}

#[tokio::test]
async fn a_read_with_a_query_answers_the_matching_models_sorted_and_windowed() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    create(&mut c, 1, "c", true).await;
    create(&mut c, 2, "a", false).await;
    create(&mut c, 3, "b", true).await;
    let done = c
        .request("read", json!({"url": "/todos", "query": {"done": true}}))
        .await;
    assert_eq!(titles(ok(&done)), ["c", "b"]);
    assert_eq!(ok(&done)["versions"], json!({"1": 1, "3": 1}));
    let page = c
        .request(
            "read",
            json!({"url": "/todos", "query": {"_sort": "title", "_order": "desc", "_start": 1, "_limit": 1}}),
        )
        .await;
    assert_eq!(titles(ok(&page)), ["b"]);
    // No query, or an empty one, is the whole collection.
    let all = c
        .request("read", json!({"url": "/todos", "query": {}}))
        .await;
    assert_eq!(titles(ok(&all)), ["c", "a", "b"]);
}

#[tokio::test]
async fn a_query_subscription_hears_models_enter_change_and_leave_its_filter() {
    let server = start_memory().await;
    let addr = server.local_addr();
    let mut writer = Client::connect(addr).await;
    let mut done = Client::connect(addr).await;
    let mut plain = Client::connect(addr).await;
    create(&mut writer, 1, "one", false).await;
    let sub = done
        .request(
            "subscribe",
            json!({"url": "/todos", "query": {"done": true}}),
        )
        .await;
    assert_eq!(ok(&sub)["query"], json!({"done": true}));
    assert_eq!(ok(&sub)["maxData"], json!(256 * 1024));
    let plain_sub = plain.request("subscribe", json!({"url": "/todos"})).await;
    assert_eq!(ok(&plain_sub)["maxData"], json!(256 * 1024));

    // Enters.
    ok(&writer
        .request("patch", json!({"url": "/todos/1", "data": {"done": true}}))
        .await);
    let (_, args) = done.next_event().await;
    assert_eq!(args[0]["match"], json!(true));
    assert_eq!(args[0]["query"], json!({"done": true}));
    assert_eq!(args[0]["op"], json!("patch"));
    // Changes within.
    ok(&writer
        .request(
            "update",
            json!({"url": "/todos/1", "data": {"title": "uno", "done": true}}),
        )
        .await);
    let (_, args) = done.next_event().await;
    assert_eq!(
        (args[0]["match"].clone(), args[0]["data"]["title"].clone()),
        (json!(true), json!("uno"))
    );
    // Leaves.
    ok(&writer
        .request("patch", json!({"url": "/todos/1", "data": {"done": false}}))
        .await);
    let (_, args) = done.next_event().await;
    assert_eq!(args[0]["match"], json!(false));
    assert_eq!(args[0]["id"], json!("1"));
    // Outside: nothing, neither for a change nor for a create that does not match.
    ok(&writer
        .request("patch", json!({"url": "/todos/1", "data": {"title": "x"}}))
        .await);
    create(&mut writer, 2, "two", false).await;
    assert!(done.hears_nothing().await);
    // The plain subscriber heard all five writes, without `match`.
    for _ in 0..5 {
        let (_, args) = plain.next_event().await;
        assert!(args[0].get("match").is_none());
    }
}

#[tokio::test]
async fn the_writer_hears_its_own_writes_on_its_queries() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "subscribe",
            json!({"url": "/todos", "query": {"done": false}}),
        )
        .await);
    create(&mut c, 1, "mine", false).await;
    let (_, args) = c.next_event().await;
    assert_eq!(args[0]["match"], json!(true));
    // A create outside the query, which its page may show in the filtered
    // collection it created it through: it is told the model is out.
    create(&mut c, 2, "done already", true).await;
    let (_, args) = c.next_event().await;
    assert_eq!(
        (args[0]["id"].clone(), args[0]["match"].clone()),
        (json!("2"), json!(false))
    );
    ok(&c
        .request(
            "unsubscribe",
            json!({"url": "/todos", "query": {"done": false}}),
        )
        .await);
    create(&mut c, 3, "after", false).await;
    assert!(c.hears_nothing().await);
}

#[tokio::test]
async fn an_ordered_window_is_pushed_whole_when_a_model_enters_or_leaves_it() {
    let server = start_memory().await;
    let addr = server.local_addr();
    let mut writer = Client::connect(addr).await;
    let mut top = Client::connect(addr).await;
    create(&mut writer, 1, "b", false).await;
    create(&mut writer, 2, "d", false).await;
    let query = json!({"_sort": "title", "_limit": 2});
    ok(&top
        .request("subscribe", json!({"url": "/todos", "query": query}))
        .await);
    create(&mut writer, 3, "a", false).await;
    let (_, args) = top.next_event().await;
    assert_eq!(args[0]["reset"], json!(true));
    assert_eq!(titles(&args[0]), ["a", "b"]);
    assert_eq!(args[0]["versions"], json!({"3": 1, "1": 1}));
    // A change inside the window that keeps its order: that change alone.
    ok(&writer
        .request("patch", json!({"url": "/todos/1", "data": {"done": true}}))
        .await);
    let (_, args) = top.next_event().await;
    assert_eq!(
        (args[0]["op"].clone(), args[0]["match"].clone()),
        (json!("patch"), json!(true))
    );
    // Outside the window: nothing.
    ok(&writer
        .request("patch", json!({"url": "/todos/2", "data": {"done": true}}))
        .await);
    assert!(top.hears_nothing().await);
    // Deleting a model of the window pulls the next one in.
    ok(&writer.request("delete", json!({"url": "/todos/3"})).await);
    let (_, args) = top.next_event().await;
    assert_eq!(titles(&args[0]), ["b", "d"]);
}

#[tokio::test]
async fn subscribe_since_with_a_query_sends_the_last_change_of_each_model_with_its_match() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    create(&mut c, 1, "one", true).await;
    create(&mut c, 2, "two", true).await;
    let since = ok(&c.request("read", json!({"url": "/todos"})).await)["seq"].clone();
    ok(&c
        .request("patch", json!({"url": "/todos/1", "data": {"done": false}}))
        .await);
    ok(&c
        .request(
            "patch",
            json!({"url": "/todos/1", "data": {"title": "still out"}}),
        )
        .await);
    ok(&c
        .request("patch", json!({"url": "/todos/2", "data": {"title": "in"}}))
        .await);
    create(&mut c, 3, "never in", false).await;
    let mut other = Client::connect(server.local_addr()).await;
    let caught = other
        .request(
            "subscribe",
            json!({"url": "/todos", "query": {"done": true}, "since": since}),
        )
        .await;
    let changes: Vec<(Value, Value)> = ok(&caught)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].clone(), c["match"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (json!("1"), json!(false)),
            (json!("2"), json!(true)),
            (json!("3"), json!(false))
        ]
    );
    // An ordered query catches up with its result whole.
    let window = other
        .request(
            "subscribe",
            json!({"url": "/todos", "query": {"_sort": "title"}, "since": since}),
        )
        .await;
    assert_eq!(ok(&window)["reset"], json!(true));
    assert_eq!(titles(ok(&window)), ["in", "never in", "still out"]);
}

#[tokio::test]
async fn an_unsupported_parameter_is_refused_naming_it() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    for (event, query, param) in [
        ("read", json!({"_page": 1}), "_page"),
        ("read", json!({"title_like": "a"}), "title_like"),
        ("subscribe", json!({"tags": ["a", "b"]}), "tags"),
        ("subscribe", json!({"_order": "desc"}), "_order"),
        ("unsubscribe", json!({"_limit": "ten"}), "_limit"),
    ] {
        let answer = c
            .request(event, json!({"url": "/todos", "query": query}))
            .await;
        let e = err(&answer);
        assert_eq!(e["code"], json!("bad_request"), "{event} {query}");
        assert_eq!(e["field"], json!("query"));
        assert_eq!(e["param"], json!(param), "{event} {query}");
        assert!(e["message"].as_str().unwrap().contains(param));
    }
    let e = err(&c
        .request("read", json!({"url": "/todos", "query": "done=true"}))
        .await)
    .clone();
    assert_eq!(e["field"], json!("query"));
}
