//! Who may use the Socket.IO endpoint (issue 17): pages of other websites and
//! DNS-rebinding pages are refused at the handshake, websocket and polling alike, with a
//! 403 that names the flag to use and a `refused` record in the inspector; local pages,
//! clients without an Origin and the origins the developer allowed get in.

mod inspect_support;

use std::net::SocketAddr;

use inspect_support::*;
use serde_json::{json, Value};
use syncscope::inspect::types::{Body, Record};
use syncscope::sio::packet::EnginePacket;
use syncscope::sio::{Client, ClientError, ConnectOptions};
use syncscope::{Config, StartError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP answer read off the wire.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends `headers` exactly as written (two Origin lines, a Host with `@`…), which HTTP
/// client libraries would not let through, and reads the whole answer.
async fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> Answer {
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut bytes))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    // Bodies of 403s are small JSON objects; strip chunked framing if any.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a < b => body[a..=b].to_string(),
        _ => body.to_string(),
    };
    Answer {
        status,
        head: head.to_string(),
        body,
    }
}

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

/// A Socket.IO websocket handshake with these headers: Ok when it was accepted, else the
/// refusal's status and JSON body.
async fn ws_handshake(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<(), (u16, Value)> {
    let options = ConnectOptions {
        headers: headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        engine_only: true,
        ..ConnectOptions::default()
    };
    match Client::connect_with(&addr.to_string(), options).await {
        Ok(_) => Ok(()),
        Err(ClientError::Rejected { status, body }) => {
            Err((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
        }
        Err(e) => panic!("the handshake failed otherwise: {e}"),
    }
}

/// Whether a polling answer is an Engine.IO open packet.
fn is_open_packet(body: &str) -> bool {
    matches!(EnginePacket::decode(body), Ok(EnginePacket::Open(_)))
}

/// Waits for the next `refused` record the watcher sees.
async fn next_refused(watcher: &mut Watcher) -> Record {
    let seen = watcher.records.len();
    watcher
        .until(|rs| rs[seen..].iter().any(|r| r.body.kind() == "refused"))
        .await;
    watcher.records[seen..]
        .iter()
        .find(|r| r.body.kind() == "refused")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_websocket_handshake_from_another_website_is_refused_and_recorded() {
    let running = server().await;
    let addr = running.local_addr();
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({ "kinds": ["refused"] })).await;

    let (status, body) = ws_handshake(addr, &[("origin", "https://evil.example")])
        .await
        .expect_err("a foreign page is refused");
    assert_eq!(status, 403);
    assert_eq!(body["code"], "foreign_origin");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("--allow-origin https://evil.example"),
        "{message}"
    );

    let record = next_refused(&mut watcher).await;
    assert_eq!(record.socket, None);
    match record.body {
        Body::Refused {
            reason,
            message: recorded,
            http_origin,
            host,
            transport,
            remote_addr,
        } => {
            assert_eq!(reason, "foreign_origin");
            assert_eq!(recorded, message);
            assert_eq!(http_origin.as_deref(), Some("https://evil.example"));
            assert_eq!(host, Some(addr.to_string()));
            assert_eq!(transport.as_deref(), Some("websocket"));
            assert!(remote_addr.unwrap().starts_with("127.0.0.1:"));
        }
        other => panic!("not a refusal: {other:?}"),
    }
    assert_eq!(
        control.get("/sockets").await,
        json!([]),
        "no socket was made"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_polling_handshake_from_another_website_gets_403_and_no_cors_headers() {
    let running = server().await;
    let addr = running.local_addr();
    let mut watcher = Control::of(&running)
        .watch(json!({ "kinds": ["refused"] }))
        .await;
    let res = reqwest::Client::new()
        .get(format!("http://{addr}{POLLING}"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "foreign_origin");
    let record = next_refused(&mut watcher).await;
    assert!(
        matches!(&record.body, Body::Refused { transport: Some(t), .. } if t == "polling"),
        "{record:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_dns_rebinding_host_is_refused_even_from_its_own_origin() {
    let running = server().await;
    let addr = running.local_addr();
    let port = addr.port();
    let mut watcher = Control::of(&running)
        .watch(json!({ "kinds": ["refused"] }))
        .await;
    // The rebinding page is same-origin with the name it rebound.
    let host = format!("evil.example:{port}");
    let origin = format!("http://evil.example:{port}");
    let answer = raw_get(
        addr,
        POLLING,
        &[("Host", host.clone()), ("Origin", origin.clone())],
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    let body = answer.json();
    assert_eq!(body["code"], "foreign_host");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("--allow-host evil.example"));
    let record = next_refused(&mut watcher).await;
    assert!(
        matches!(&record.body, Body::Refused { reason, host: Some(h), .. } if reason == "foreign_host" && *h == host),
        "{record:?}"
    );

    let (status, body) = ws_handshake(addr, &[("host", &host), ("origin", &origin)])
        .await
        .expect_err("a rebinding websocket is refused");
    assert_eq!((status, body["code"].as_str()), (403, Some("foreign_host")));
    running.shutdown().await;
}

#[tokio::test]
async fn a_host_that_hides_another_name_after_an_at_sign_is_refused() {
    let running = server().await;
    let addr = running.local_addr();
    let mut watcher = Control::of(&running)
        .watch(json!({ "kinds": ["refused"] }))
        .await;
    let host = format!("127.0.0.1:{}@evil.example", addr.port());
    let answer = raw_get(addr, POLLING, &[("Host", host.clone())]).await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert_eq!(answer.json()["code"], "bad_host");
    let record = next_refused(&mut watcher).await;
    assert!(
        matches!(&record.body, Body::Refused { reason, host: Some(h), .. } if reason == "bad_host" && *h == host),
        "{record:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn two_origin_headers_are_refused_even_when_the_first_is_local() {
    let running = server().await;
    let addr = running.local_addr();
    let mut watcher = Control::of(&running)
        .watch(json!({ "kinds": ["refused"] }))
        .await;
    let answer = raw_get(
        addr,
        POLLING,
        &[
            ("Host", addr.to_string()),
            ("Origin", "http://localhost:3000".into()),
            ("Origin", "https://evil.example".into()),
        ],
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert_eq!(answer.json()["code"], "several_origins");
    assert!(answer.header("access-control-allow-origin").is_none());
    let record = next_refused(&mut watcher).await;
    assert!(
        matches!(&record.body, Body::Refused { http_origin: Some(o), .. }
            if o == "http://localhost:3000, https://evil.example"),
        "{record:?}"
    );

    let (status, body) = ws_handshake(
        addr,
        &[
            ("origin", "http://localhost:3000"),
            ("origin", "https://evil.example"),
        ],
    )
    .await
    .expect_err("two origins over websocket are refused too");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("several_origins"))
    );
    running.shutdown().await;
}

#[tokio::test]
async fn local_pages_and_clients_without_origin_connect_as_before() {
    let running = server().await;
    let addr = running.local_addr();
    for origin in [
        None,
        Some("http://localhost:5173"),
        Some("http://127.0.0.1:8080"),
        Some("http://[::1]:3000"),
        Some("http://app.localhost:3000"),
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("origin", *o)).collect();
        assert_eq!(ws_handshake(addr, &headers).await, Ok(()), "{origin:?}");
    }
    // A page of the developer's dev server on another local port reads the store.
    let mut tab = Sio::connect(addr).await;
    let ack = tab.request("read", json!({ "url": "/todos" })).await;
    assert_eq!(ack[0], Value::Null, "{ack:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn polling_cors_reflects_local_and_allowed_origins_only() {
    let running = server_with(Config {
        allow_origins: vec!["http://app.test:3000".into()],
        ..Config::default()
    })
    .await;
    let addr = running.local_addr();
    let ask = |origin: &'static str| {
        reqwest::Client::new()
            .get(format!("http://{addr}{POLLING}"))
            .header("origin", origin)
            .send()
    };
    for allowed in ["http://app.test:3000", "http://localhost:5173"] {
        let res = ask(allowed).await.unwrap();
        assert_eq!(res.status(), 200, "{allowed}");
        assert_eq!(res.headers()["access-control-allow-origin"], allowed);
        assert_eq!(res.headers()["access-control-allow-credentials"], "true");
        assert!(is_open_packet(&res.text().await.unwrap()), "an open packet");
    }
    let other = ask("http://other.test").await.unwrap();
    assert_eq!(other.status(), 403);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    running.shutdown().await;
}

#[tokio::test]
async fn an_allowed_origin_and_host_can_read_the_store() {
    let running = server_with(Config {
        allow_origins: vec!["http://192.168.1.20:5173".into()],
        allow_hosts: vec!["devbox.lan".into()],
        ..Config::default()
    })
    .await;
    let addr = running.local_addr();
    let port = addr.port();
    let control = Control::of(&running);
    let (status, _) = control
        .command(json!({
            "command": "model", "op": "create", "url": "/todos",
            "data": { "id": "1", "title": "secret" }
        }))
        .await;
    assert_eq!(status, 200);

    let host = format!("devbox.lan:{port}");
    let headers = [("origin", "http://192.168.1.20:5173"), ("host", &host)];
    let mut tab = Sio::with_headers(addr, &headers).await;
    let ack = tab.request("read", json!({ "url": "/todos" })).await;
    assert_eq!(ack[1]["data"][0]["title"], "secret", "{ack:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn allow_origin_star_lets_every_page_in() {
    let running = server_with(Config {
        allow_origins: vec!["*".into()],
        ..Config::default()
    })
    .await;
    let addr = running.local_addr();
    assert_eq!(
        ws_handshake(addr, &[("origin", "https://evil.example")]).await,
        Ok(())
    );
    running.shutdown().await;
}

#[tokio::test]
async fn an_allow_value_that_is_not_an_origin_or_host_stops_the_start() {
    let bad_origin = syncscope::start(Config {
        port: 0,
        allow_origins: vec!["192.168.1.20:5173".into()],
        ..Config::default()
    })
    .await;
    match bad_origin {
        Err(e @ StartError::Allow(_)) => {
            assert!(e.to_string().contains("scheme://host[:port]"), "{e}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started with --allow-origin 192.168.1.20:5173"),
    }
    let bad_host = syncscope::start(Config {
        port: 0,
        allow_hosts: vec!["http://devbox.lan".into()],
        ..Config::default()
    })
    .await;
    assert!(matches!(bad_host, Err(StartError::Allow(_))));
}
