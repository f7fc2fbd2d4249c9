//! The control API: who may use it, and what its commands do to real clients.

mod inspect_support;

use std::time::Duration;

use inspect_support::*;
use serde_json::json;
use syncscope::control::BATCH_INTERVAL;
use syncscope::inspect::types::{Body, ServerMessage};
use syncscope::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw_status(addr: std::net::SocketAddr, request: String) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_control_api_refuses_a_missing_or_wrong_token() {
    let running = server().await;
    let control = Control::of(&running);
    let none = control
        .http
        .get(control.url("/sockets"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Bearer"));
    let wrong = control
        .http
        .get(control.url("/sockets"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ws = format!("ws://{}/_syncscope/ws", control.addr);
    assert!(tokio_tungstenite::connect_async(ws).await.is_err());
    let ok = control
        .http
        .get(control.url("/sockets"))
        .bearer_auth(&control.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    running.shutdown().await;
}

#[tokio::test]
async fn the_token_can_be_chosen_at_launch() {
    let running = server_with(Config {
        token: Some("s3cret".into()),
        ..Config::default()
    })
    .await;
    assert_eq!(running.token(), "s3cret");
    let control = Control::of(&running);
    assert!(control.get("/stats").await["last_seq"].is_u64());
    running.shutdown().await;
}

#[tokio::test]
async fn the_control_api_refuses_a_foreign_origin_even_with_the_token() {
    let running = server().await;
    let control = Control::of(&running);
    let port = control.addr.port();
    for (origin, allowed) in [
        ("http://evil.example".to_string(), false),
        ("http://localhost:3000".to_string(), false),
        (format!("http://127.0.0.1:{port}"), true),
        (format!("http://localhost:{port}"), true),
        ("tauri://localhost".to_string(), true),
    ] {
        let res = control
            .http
            .get(control.url("/stats"))
            .bearer_auth(&control.token)
            .header("origin", &origin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status() == 200, allowed, "{origin}: {}", res.status());
    }
    running.shutdown().await;
}

#[tokio::test]
async fn the_control_api_refuses_a_foreign_host_against_dns_rebinding() {
    let running = server().await;
    let control = Control::of(&running);
    let ask = |host: &str| {
        format!(
            "GET /_syncscope/stats HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            control.token
        )
    };
    let foreign = raw_status(control.addr, ask("evil.example:4000")).await;
    assert!(foreign.contains("403"), "{foreign}");
    let local = raw_status(control.addr, ask("localhost:4000")).await;
    assert!(local.contains("200"), "{local}");
    running.shutdown().await;
}

#[tokio::test]
async fn the_socket_io_endpoint_needs_no_token_from_a_local_page() {
    let running = server().await;
    let addr = running.local_addr();
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/socket.io/?EIO=4&transport=polling"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let body = res.text().await.unwrap();
    assert!(
        matches!(
            syncscope::sio::packet::EnginePacket::decode(&body),
            Ok(syncscope::sio::packet::EnginePacket::Open(_))
        ),
        "an open packet: {body}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_control_api_refuses_a_host_that_hides_another_name_or_two_origins() {
    let running = server().await;
    let control = Control::of(&running);
    let port = control.addr.port();
    let trick = format!(
        "GET /_syncscope/stats HTTP/1.1\r\nHost: 127.0.0.1:{port}@evil.example\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        control.token
    );
    let status = raw_status(control.addr, trick).await;
    assert!(status.contains("403"), "{status}");
    let two = format!(
        "GET /_syncscope/stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nOrigin: https://evil.example\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        control.token
    );
    let status = raw_status(control.addr, two).await;
    assert!(status.contains("403"), "{status}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_push_injected_through_the_api_reaches_a_socket_client() {
    let running = server().await;
    let control = Control::of(&running);
    let mut tab = Sio::connect(running.local_addr()).await;
    let mut other = Sio::connect(running.local_addr()).await;
    tab.request("subscribe", json!({"url": "/todos"})).await;

    let (status, reply) = control
        .command(json!({
            "command": "emit",
            "target": {"to": "socket", "id": tab.sid},
            "event": "change",
            "args": [{"url": "/todos", "op": "update", "id": "1", "data": {"id": "1", "title": "fake"}}]
        }))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["value"]["recipients"], 1);
    let (event, args) = tab.next_event().await;
    assert_eq!(event, "change");
    assert_eq!(args[0]["data"]["title"], "fake");

    control
        .command(json!({
            "command": "emit",
            "target": {"to": "channel", "url": "todos"},
            "event": "hello",
            "args": [1, "two"]
        }))
        .await;
    assert_eq!(
        tab.next_event().await,
        ("hello".into(), vec![json!(1), json!("two")])
    );

    control
        .command(json!({"command": "emit", "target": {"to": "all"}, "event": "bye", "args": []}))
        .await;
    assert_eq!(tab.next_event().await.0, "bye");
    assert_eq!(
        other.next_event().await.0,
        "bye",
        "not subscribed, but everyone"
    );

    let (status, reply) = control
        .command(
            json!({"command": "emit", "target": {"to": "socket", "id": "nobody"}, "event": "x"}),
        )
        .await;
    assert_eq!(status, 404, "{reply}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_model_edited_through_the_api_reaches_a_subscriber() {
    let running = server().await;
    let control = Control::of(&running);
    let mut sub = Sio::connect(running.local_addr()).await;
    sub.request("subscribe", json!({"url": "/todos"})).await;

    let (status, created) = control
        .command(json!({"command": "model", "op": "create", "url": "/todos", "data": {"id": "7", "title": "milk"}}))
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["value"]["version"], 1);
    let (event, args) = sub.next_event().await;
    assert_eq!(event, "change");
    assert_eq!(args[0]["op"], "create");
    assert_eq!(args[0]["data"]["title"], "milk");

    // The same over the WebSocket, with a reply that carries the command's id.
    let mut watcher = control.watch(json!({"kinds": ["push_out"]})).await;
    watcher
        .send(json!({"type": "command", "id": 42, "command":
            {"command": "model", "op": "patch", "url": "/todos/7", "data": {"done": true}, "version": 1}}))
        .await;
    let reply = loop {
        if let ServerMessage::Reply { id, result } = watcher.message().await {
            break (id, result);
        }
    };
    assert_eq!(reply.0, 42);
    let (event, args) = sub.next_event().await;
    assert_eq!(event, "change");
    assert_eq!(args[0]["op"], "patch");
    assert_eq!(
        args[0]["data"],
        json!({"id": "7", "title": "milk", "done": true})
    );
    let pushes = watcher.until(|rs| !rs.is_empty()).await;
    assert_eq!(
        pushes[0].origin,
        syncscope::inspect::types::Origin::Inspector
    );

    let (status, conflict) = control
        .command(json!({"command": "model", "op": "delete", "url": "/todos/7", "version": 1}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(conflict["code"], "conflict");
    let store = control.get("/store?url=/todos").await;
    assert_eq!(store["models"][0]["version"], 2);
    running.shutdown().await;
}

#[tokio::test]
async fn a_socket_cut_off_through_the_api_is_disconnected_with_the_reason_recorded() {
    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({"kinds": ["disconnect"]})).await;
    let mut victim = Sio::connect(running.local_addr()).await;
    let (status, reply) = control
        .command(
            json!({"command": "disconnect", "socket": victim.sid, "reason": "testing reconnect"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert!(victim.is_cut_off().await);
    let records = watcher.until(|rs| !rs.is_empty()).await;
    match &records[0].body {
        Body::Disconnect { reason } => assert!(reason.contains("testing reconnect"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(control.get("/sockets").await.as_array().unwrap().is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn the_live_registry_lists_sockets_and_channels() {
    let running = server().await;
    let control = Control::of(&running);
    let mut a = Sio::connect(running.local_addr()).await;
    let mut b = Sio::connect(running.local_addr()).await;
    a.request("subscribe", json!({"url": "/todos"})).await;
    b.request("subscribe", json!({"url": "todos/"})).await;
    a.request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await;
    b.next_event().await;
    let sockets = control.get("/sockets").await;
    let sockets = sockets.as_array().unwrap();
    assert_eq!(sockets.len(), 2);
    let sa = sockets.iter().find(|s| s["id"] == a.sid.as_str()).unwrap();
    assert_eq!(sa["channels"], json!(["/todos"]));
    assert_eq!(sa["events_in"], 2);
    assert_eq!(sa["acks_out"], 2);
    assert_eq!(sa["dialects"], json!(["native"]));
    assert!(sa["bytes_in"].as_u64().unwrap() > 0);
    assert!(sa["bytes_out"].as_u64().unwrap() > 0);
    let sb = sockets.iter().find(|s| s["id"] == b.sid.as_str()).unwrap();
    assert_eq!(sb["pushes_in"], 1);
    let before = sb["bytes_out"].as_u64().unwrap();
    control
        .command(
            json!({"command": "emit", "target": {"to": "socket", "id": b.sid},
            "event": "big", "args": ["x".repeat(10_000)]}),
        )
        .await;
    let sockets = control.get("/sockets").await;
    let sb = sockets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == b.sid.as_str())
        .unwrap();
    assert!(sb["bytes_out"].as_u64().unwrap() >= before + 10_000);
    let channels = control.get("/channels").await;
    assert_eq!(channels[0]["url"], "/todos");
    assert_eq!(channels[0]["members"].as_array().unwrap().len(), 2);
    assert_eq!(channels[0]["changes"], 1);
    b.close().await;
    // The server learns of the close asynchronously: poll for the state, up to WAIT.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut channels = control.get("/channels").await;
    while channels[0]["members"] != json!([a.sid]) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        channels = control.get("/channels").await;
    }
    assert_eq!(channels[0]["members"], json!([a.sid]));
    running.shutdown().await;
}

#[tokio::test]
async fn the_websocket_sends_batches_no_more_often_than_every_50_ms() {
    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({"kinds": ["event_in"]})).await;
    let reading = tokio::spawn(async move {
        watcher.until(|rs| rs.len() == 300).await;
        watcher
    });
    let mut client = Sio::connect(running.local_addr()).await;
    for i in 0..300 {
        client.emit("read", json!({"url": format!("/t{i}")})).await;
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let watcher = reading.await.unwrap();
    let times: Vec<_> = watcher.batches.iter().map(|b| b.0).collect();
    assert!(times.len() >= 2, "several batches: {:?}", watcher.batches);
    // A batch's `at_us` is stamped when the task gets to run, after its tick: on a busy
    // machine one stamp may be late and the next on time, so two stamps can be closer
    // than 50 ms although the ticks were not. Over the whole run, though, there is at
    // most one batch per 50 ms, plus the first (sent on the first tick).
    let span = Duration::from_micros(times[times.len() - 1] - times[0]);
    let most = span.as_micros() / BATCH_INTERVAL.as_micros() + 2;
    assert!(
        times.len() as u128 <= most,
        "{} batches in {span:?}: more than one per 50 ms ({:?})",
        times.len(),
        watcher.batches
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_cli_lists_sockets_and_says_what_to_do_without_a_token() {
    let running = server().await;
    let client = Sio::connect(running.local_addr()).await;
    let url = format!("http://{}", running.local_addr());
    let token = running.token().to_string();
    let bin = env!("CARGO_BIN_EXE_syncscope");
    let out = tokio::process::Command::new(bin)
        .args(["sockets", "--url", &url, "--token", &token])
        .env_remove("SYNCSCOPE_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&client.sid));

    let out = tokio::process::Command::new(bin)
        .args(["sockets", "--url", &url])
        .env_remove("SYNCSCOPE_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));

    let out = tokio::process::Command::new(bin)
        .args([
            "push",
            "--url",
            &url,
            "--token",
            &token,
            "--all",
            "ping-all",
            "{\"a\":1}",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 socket"));
    running.shutdown().await;
}

#[tokio::test]
async fn an_oversized_command_body_is_refused_with_a_json_error_not_plain_text() {
    let running = server().await;
    let control = Control::of(&running);
    let body = format!(
        r#"{{"type": "model", "x": "{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let res = control
        .http
        .post(control.url("/command"))
        .bearer_auth(&control.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let text = res.text().await.unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the 413 answer is not JSON ({e}): {text}"));
    assert_eq!(answer["code"], "too_large", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("limit"),
        "{answer}"
    );
}
