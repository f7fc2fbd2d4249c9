//! The transport edges that real clients rely on: Engine.IO 4 and 3, polling and
//! websocket, heartbeats, and the browser bundle.

mod inspect_support;
mod support;

use std::time::Duration;

use serde_json::json;
use support::{ok, start, start_memory, Client, Eio, WAIT};
use syncscope::sio::{self, ConnectOptions, Incoming, Transport};
use syncscope::{Config, DbLocation};

/// A polling client of the library that stops after the Engine.IO handshake and hands
/// over every frame as it came, so the test speaks and reads the frames itself.
async fn raw_polling_client(server: &syncscope::Running) -> sio::Client {
    let options = ConnectOptions {
        transport: Transport::Polling,
        engine_only: true,
        raw_frames: true,
        ..ConnectOptions::default()
    };
    sio::Client::connect_with(&server.local_addr().to_string(), options)
        .await
        .expect("the polling handshake")
}

/// The next frame starting with `prefix`; the heartbeat may slip a ping in at any time.
async fn frame_starting(client: &mut sio::Client, prefix: &str) -> String {
    loop {
        match client.next_within(WAIT).await {
            Some(Incoming::Frame(frame)) if frame.starts_with(prefix) => return frame,
            Some(Incoming::Frame(_)) => {}
            other => panic!("no frame starting with {prefix}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_open_packet_advertises_the_upgrade_and_nodes_heartbeat_and_size_limits() {
    let server = start_memory().await;
    let open = raw_polling_client(&server).await.open;
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 20000);
    assert_eq!(open["maxPayload"], 1_000_000);
}

#[tokio::test]
async fn a_polling_client_connects_and_gets_its_acks_over_plain_http() {
    let server = start_memory().await;
    let mut client = raw_polling_client(&server).await;
    client.send_raw("40");
    let connected = frame_starting(&mut client, "40").await;
    assert!(connected.starts_with("40{\"sid\":"), "{connected}");
    client.send_raw(r#"427["create",{"url":"/todos","data":{"id":1}}]"#);
    let ack = frame_starting(&mut client, "43").await;
    assert_eq!(
        ack,
        r#"437[null,{"data":{"id":1},"version":1,"seq":1,"prev":0}]"#
    );
}

#[tokio::test]
async fn a_legacy_engine_io_3_client_is_connected_without_asking_and_gets_acks() {
    let server = start_memory().await;
    let mut legacy = Client::connect_eio(server.local_addr(), Eio::V3).await;
    let mut modern = Client::connect(server.local_addr()).await;
    ok(&legacy.request("subscribe", json!({"url": "/todos"})).await);
    ok(&modern
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);
    let (name, args) = legacy.next_event().await;
    assert_eq!(name, "change");
    assert_eq!(args[0]["op"], "create");
    let read = legacy.request("read", json!({"url": "/todos"})).await;
    assert_eq!(ok(&read)["data"], json!([{"id": 1}]));
}

#[tokio::test]
async fn the_server_pings_on_its_interval_and_drops_a_client_that_never_answers() {
    // Pings come often; the timeout leaves a busy machine a whole second to answer one.
    let server = start(Config {
        port: 0,
        db: DbLocation::Memory,
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(1000),
        ..Config::default()
    })
    .await;
    let mut alive = Client::connect(server.local_addr()).await;

    // A client that never answers a ping is closed by the server.
    let options = ConnectOptions {
        engine_only: true,
        heartbeat: false,
        ..ConnectOptions::default()
    };
    let mut silent = sio::Client::connect_with(&server.local_addr().to_string(), options)
        .await
        .unwrap();
    let silent_closed = tokio::spawn(tokio::time::timeout(Duration::from_secs(30), async move {
        while !matches!(silent.next_within(WAIT).await, Some(Incoming::Closed(_))) {}
    }));
    // Meanwhile the raw client answers every ping while it listens: it outlives the
    // silent one, through many ping intervals (hears_nothing fails on a close).
    while !silent_closed.is_finished() {
        assert!(alive.hears_nothing().await);
    }
    assert!(
        silent_closed.await.unwrap().is_ok(),
        "an unresponsive client is dropped after the ping timeout"
    );
    ok(&alive.request("read", json!({"url": "/todos"})).await);
}

#[tokio::test]
async fn the_browser_client_bundle_is_served_where_the_node_server_serves_it() {
    let server = start_memory().await;
    let res = reqwest::get(format!(
        "http://{}/socket.io/socket.io.js",
        server.local_addr()
    ))
    .await
    .unwrap();
    assert_eq!(
        res.status(),
        200,
        "run `npm ci` before building: the bundle comes from node_modules"
    );
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Socket.IO v4"),
        "the socket.io-client 4 bundle"
    );
}

#[tokio::test]
async fn the_raw_test_client_stays_on_long_polling_in_both_engine_io_revisions() {
    // The concurrency checker runs part of its sockets this way: the client must really
    // poll, and get acks and pushes like a WebSocket client.
    let server = start_memory().await;
    let mut writer = Client::connect(server.local_addr()).await;
    for eio in [Eio::V3, Eio::V4] {
        let mut polling = Client::connect_polling(server.local_addr(), eio).await;
        ok(&polling.request("subscribe", json!({"url": "/p"})).await);
        let created = writer
            .request("create", json!({"url": "/p", "data": {}}))
            .await;
        let (name, args) = polling.next_event().await;
        assert_eq!(name, "change");
        assert_eq!(args[0]["seq"], ok(&created)["seq"]);
    }
    let sockets = inspect_support::Control::of(&server).get("/sockets").await;
    let polling = sockets
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["transport"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("polling")
        })
        .count();
    assert_eq!(polling, 2, "{sockets}");
}
