//! The hostile-input list of issue 10 that no other test covers, each tried against a
//! running server while other clients use it: the control WebSocket opened from another
//! website or through a rebinding name, a 50 MB body, 100,000-deep JSON, 10 MB strings,
//! 10,000-segment urls, and malformed control messages. Each must be refused with an
//! answer that says why (or, on the Socket.IO endpoint, cost the sender its own
//! connection only), and the bystanders must not notice.
//!
//! Covered elsewhere: no or a wrong token, a foreign Origin, a rebinding Host, a Host
//! hiding another name after `@`, two Origin headers and a 3 MB command
//! (inspect_control.rs); the cross-site Socket.IO handshake (handshake_access.rs);
//! malformed Socket.IO frames and bad requests (bad_input.rs, fixtures/bad-input/).

mod inspect_support;

use futures_util::SinkExt;
use inspect_support::*;
use serde_json::{json, Value};
use syncscope::Running;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A subscriber and a writer going about their business, and the proof they still can.
struct Bystanders {
    listener: Sio,
    writer: Sio,
    control: Control,
    writes: u32,
}

impl Bystanders {
    async fn join(running: &Running) -> Bystanders {
        let addr = running.local_addr();
        let mut listener = Sio::connect(addr).await;
        ok(&listener.request("subscribe", json!({"url": "/calm"})).await);
        Bystanders {
            listener,
            writer: Sio::connect(addr).await,
            control: Control::of(running),
            writes: 0,
        }
    }

    /// A write is acked, its push reaches the listener, the control API answers.
    async fn unharmed(&mut self, after: &str) {
        self.writes += 1;
        let n = self.writes;
        let ack = self
            .writer
            .request("create", json!({"url": "/calm", "data": {"n": n}}))
            .await;
        assert!(
            ack[0].is_null(),
            "after {after}: the bystander's write failed: {ack:?}"
        );
        let (event, args) = self.listener.next_event().await;
        assert_eq!(event, "change", "after {after}");
        assert_eq!(args[0]["data"]["n"], n, "after {after}: {args:?}");
        let stats = self.control.get("/stats").await;
        assert!(
            stats["sockets"].as_u64().unwrap() >= 2,
            "after {after}: {stats}"
        );
    }
}

fn ok(ack: &[Value]) -> &Value {
    assert!(ack[0].is_null(), "expected success, got {ack:?}");
    &ack[1]
}

/// `[[[…[]…]]]`, `depth` arrays deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `/a/a/…/a`, `segments` segments long.
fn long_url(segments: usize) -> String {
    "/a".repeat(segments)
}

/// The control WebSocket's handshake with these headers: Ok, or the refusal's status.
async fn control_ws(control: &Control, headers: &[(&'static str, String)]) -> Result<(), u16> {
    let url = format!(
        "ws://{}/_syncscope/ws?token={}",
        control.addr, control.token
    );
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("not an HTTP refusal: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_websocket_refuses_other_websites_and_rebinding_names_even_with_the_token() {
    let running = server().await;
    let mut bystanders = Bystanders::join(&running).await;
    let control = Control::of(&running);
    let port = control.addr.port();
    for (what, headers) in [
        (
            "a cross-site page",
            vec![("origin", "https://evil.example".to_string())],
        ),
        (
            "another local port's page",
            vec![("origin", "http://localhost:3000".to_string())],
        ),
        (
            "a rebinding Host",
            vec![("host", format!("evil.example:{port}"))],
        ),
        (
            "a Host hiding a name",
            vec![("host", format!("127.0.0.1:{port}@evil.example"))],
        ),
    ] {
        assert_eq!(control_ws(&control, &headers).await, Err(403), "{what}");
        bystanders.unharmed(what).await;
    }
    let own = vec![("origin", format!("http://127.0.0.1:{port}"))];
    assert_eq!(
        control_ws(&control, &own).await,
        Ok(()),
        "the server's own page"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_body_is_refused_with_413_as_json_and_a_10_mb_string_too() {
    let running = server().await;
    let mut bystanders = Bystanders::join(&running).await;
    let control = Control::of(&running);
    // The server answers 413 as soon as the body passes the limit and closes the
    // connection; a client still sending a big body may see that close before the
    // answer (a broken pipe). Either is a refusal. A body just over the limit is sent
    // whole before the answer and must get the JSON (tried again if it raced anyway).
    let post = |size: usize| {
        let body = format!(
            r#"{{"command": "model", "op": "create", "url": "/x", "data": {{"s": "{}"}}}}"#,
            "x".repeat(size)
        );
        control
            .http
            .post(control.url("/command"))
            .bearer_auth(&control.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (what, size) in [("a 50 MB body", 50 << 20), ("a 10 MB string", 10 << 20)] {
        if let Ok(res) = post(size).await {
            assert_eq!(res.status().as_u16(), 413, "{what}");
            let answer: Value = res.json().await.unwrap();
            assert_eq!(answer["code"], "too_large", "{what}: {answer}");
        }
        bystanders.unharmed(what).await;
    }
    let just_over = syncscope::control::COMMAND_LIMIT + 1024;
    let mut answered = None;
    for _ in 0..5 {
        if let Ok(res) = post(just_over).await {
            answered = Some(res);
            break;
        }
    }
    let res = answered.expect("a body just over the limit is answered");
    assert_eq!(res.status().as_u16(), 413, "a body just over the limit");
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["code"], "too_large", "{answer}");
    assert!(
        answer["message"].as_str().unwrap_or("").contains("limit"),
        "{answer}"
    );
    bystanders.unharmed("a body just over the limit").await;
    // The Socket.IO endpoint's own limit (1 MB) for a long-polling POST of 50 MB.
    let (sid, http) = polling_session(&running).await;
    let res = http
        .post(format!(
            "http://{}/socket.io/?EIO=4&transport=polling&sid={sid}",
            running.local_addr()
        ))
        .body(format!(
            "42[\"create\",{{\"url\":\"/x\",\"data\":{{\"s\":\"{}\"}}}}]",
            "x".repeat(50 << 20)
        ))
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status().as_u16(), 413, "a 50 MB polling POST");
    }
    bystanders.unharmed("a 50 MB polling POST").await;
    assert_eq!(
        control.get("/store?url=/x").await["models"],
        json!([]),
        "nothing of the refused bodies was stored"
    );
    running.shutdown().await;
}

/// A long-polling Engine.IO session opened by hand, with the Socket.IO CONNECT sent.
async fn polling_session(running: &Running) -> (String, reqwest::Client) {
    let http = reqwest::Client::new();
    let base = format!(
        "http://{}/socket.io/?EIO=4&transport=polling",
        running.local_addr()
    );
    let open = http.get(&base).send().await.unwrap().text().await.unwrap();
    let open: Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_string();
    let res = http
        .post(format!("{base}&sid={sid}"))
        .body("40")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    (sid, http)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_100_000_deep_is_refused_everywhere_without_harm() {
    let running = server().await;
    let mut bystanders = Bystanders::join(&running).await;
    let control = Control::of(&running);
    let deep = nested(100_000);

    // A Socket.IO event: an error ack, or the sender's own connection closed.
    let mut attacker = Sio::connect(running.local_addr()).await;
    attacker
        .send_raw(&format!(
            r#"42["create",{{"url":"/x","data":{{"d":{deep}}}}}]"#
        ))
        .await;
    bystanders.unharmed("100k-deep JSON in an event").await;
    let mut attacker2 = Sio::connect(running.local_addr()).await;
    attacker2.send_raw(&format!(r#"42["create",{deep}]"#)).await;
    bystanders
        .unharmed("100k-deep JSON as an event's argument")
        .await;
    drop((attacker, attacker2));

    // The control API's command body: 400 with a JSON answer.
    let res = control
        .http
        .post(control.url("/command"))
        .bearer_auth(&control.token)
        .body(format!(
            r#"{{"command":"emit","target":{{"to":"all"}},"event":"x","args":[{deep}]}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["code"], "bad_request", "{answer}");
    bystanders.unharmed("100k-deep JSON in a command").await;

    // A session file to import.
    let res = control
        .http
        .post(control.url("/sessions/import"))
        .bearer_auth(&control.token)
        .body(deep.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    bystanders
        .unharmed("100k-deep JSON as a session file")
        .await;

    // A control WebSocket message: an error message, and the socket still works.
    let mut watcher = control.watch(json!({"kinds": ["connect"]})).await;
    watcher
        .ws
        .send(Message::Text(deep.clone().into()))
        .await
        .unwrap();
    expect_error_then_working(&mut watcher, "100k-deep JSON").await;
    bystanders
        .unharmed("100k-deep JSON on the control WebSocket")
        .await;
    assert_eq!(
        control.get("/store?url=/x").await["models"],
        json!([]),
        "nothing of the deep requests was stored"
    );
    running.shutdown().await;
}

/// The control WebSocket answered the last message with an `error` and still runs a
/// command.
async fn expect_error_then_working(watcher: &mut Watcher, what: &str) {
    loop {
        match serde_json::to_value(watcher.message().await).unwrap() {
            m if m["type"] == "error" => {
                assert!(
                    m["message"]
                        .as_str()
                        .unwrap()
                        .contains("not a control message"),
                    "{what}: {m}"
                );
                break;
            }
            m if m["type"] == "batch" => {}
            m => panic!("{what}: answered {m}"),
        }
    }
    watcher
        .send(json!({"type": "command", "id": 77, "command": {"command": "fault_clear"}}))
        .await;
    loop {
        let m = serde_json::to_value(watcher.message().await).unwrap();
        if m["type"] == "reply" {
            assert_eq!(m["id"], 77, "{what}: {m}");
            assert_eq!(m["result"]["result"], "ok", "{what}: {m}");
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_control_websocket_messages_get_an_error_and_the_socket_goes_on() {
    let running = server().await;
    let mut bystanders = Bystanders::join(&running).await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({"kinds": ["connect"]})).await;
    let cases: Vec<(&str, Message)> = vec![
        ("not JSON", Message::Text("hello?".into())),
        (
            "unterminated JSON",
            Message::Text(r#"{"type": "watch", "filter": {"#.into()),
        ),
        (
            "an unknown type",
            Message::Text(r#"{"type": "launch"}"#.into()),
        ),
        (
            "a command without its id",
            Message::Text(r#"{"type": "command", "command": {"command": "record_stop"}}"#.into()),
        ),
        (
            "an unknown command",
            Message::Text(
                r#"{"type": "command", "id": 1, "command": {"command": "rm -rf"}}"#.into(),
            ),
        ),
        ("a number", Message::Text("42".into())),
        (
            "binary garbage",
            Message::Binary(vec![0xff, 0xfe, 0x00, 0x80].into()),
        ),
        (
            "a 10 MB string",
            Message::Text(format!(r#"{{"type": "{}"}}"#, "x".repeat(10 << 20)).into()),
        ),
    ];
    for (what, message) in cases {
        watcher.ws.send(message).await.unwrap();
        expect_error_then_working(&mut watcher, what).await;
        bystanders.unharmed(what).await;
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_of_10_000_segments_are_refused_as_bad_requests_everywhere() {
    let running = server().await;
    let mut bystanders = Bystanders::join(&running).await;
    let control = Control::of(&running);
    let url = long_url(10_000);
    let mut attacker = Sio::connect(running.local_addr()).await;
    for (event, arg) in [
        ("create", json!({"url": url, "data": {}})),
        ("read", json!({"url": url})),
        ("update", json!({"url": url, "data": {"id": "a"}})),
        ("subscribe", json!({"url": url})),
    ] {
        let ack = attacker.request(event, arg).await;
        assert_eq!(ack[0]["code"], "bad_request", "{event}: {}", ack[0]);
        assert!(
            ack[0]["message"]
                .as_str()
                .unwrap()
                .contains("the limit is 1024"),
            "{event}: {}",
            ack[0]
        );
        bystanders.unharmed(event).await;
    }
    // The iobind dialect names its namespace in the event.
    let ack = attacker
        .request(&format!("{}:create", &url[1..]), json!({"a": 1}))
        .await;
    assert_eq!(ack[0]["code"], "unknown_event", "{}", ack[0]);
    bystanders
        .unharmed("an iobind event of 10,000 segments")
        .await;

    let (status, answer) = control
        .command(json!({"command": "model", "op": "create", "url": url, "data": {}}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "bad_request", "{answer}");
    let res = control
        .http
        .get(control.url("/store"))
        .query(&[("url", &url)])
        .bearer_auth(&control.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["code"], "bad_request", "{answer}");
    bystanders.unharmed("the control API's urls").await;
    running.shutdown().await;
}
