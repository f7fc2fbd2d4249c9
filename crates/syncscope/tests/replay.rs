//! `syncscope replay` as a user runs it: the real binary against a recording made from
//! real clients (the library's Socket.IO client, over each transport and revision),
//! and against the committed fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use syncscope::inspect::client::Client as Control;
use syncscope::inspect::types::{Command as Control_, Stats};
use syncscope::sio::{Client, ConnectOptions, Eio, Transport};
use syncscope::{Config, DbLocation, Running};

const WAIT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/replay")
        .join(name)
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .arg("replay")
        .args(args)
        .env_remove("SYNCSCOPE_TOKEN")
        .env("NO_COLOR", "1")
        .output()
        .expect("the syncscope binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn server(token: &str) -> Running {
    syncscope::start(Config {
        port: 0,
        db: DbLocation::Memory,
        token: Some(token.into()),
        ..Config::default()
    })
    .await
    .expect("server starts")
}

async fn client(url: &str, eio: Eio, transport: Transport) -> Client {
    Client::connect_with(
        url,
        ConnectOptions {
            eio,
            transport,
            ..ConnectOptions::default()
        },
    )
    .await
    .expect("client connects")
}

/// Records a small session with three clients over the three transports and both
/// Engine.IO revisions, in both dialects, and writes it to `path`.
async fn record(path: &Path) {
    let running = server("t").await;
    let url = format!("http://{}", running.local_addr());
    let control = Control::new(&url, Some("t".into()));
    // Data the app had before the recording began: a note at version 2.
    let mut before = client(&url, Eio::V4, Transport::Websocket).await;
    for (event, arg) in [
        (
            "create",
            json!({"url": "/notes", "data": {"id": "old-note", "text": "v1"}}),
        ),
        (
            "update",
            json!({"url": "/notes/old-note", "data": {"text": "v2"}}),
        ),
    ] {
        let ack = before.request(event, &[arg], WAIT).await.unwrap();
        assert!(ack[0].is_null(), "{ack:?}");
    }
    before.close();
    // A tab already open, subscribed, when recording begins: the session opens with
    // its connect and its subscription.
    let mut watcher = client(&url, Eio::V4, Transport::Websocket).await;
    let subscribed = watcher
        .request("subscribe", &[json!({"url": "/notes"})], WAIT)
        .await
        .unwrap();
    assert!(subscribed[0].is_null(), "{subscribed:?}");
    let started = control
        .command(&Control_::RecordStart {
            name: Some("three transports".into()),
        })
        .await
        .unwrap();
    let mut writer = client(&url, Eio::V4, Transport::PollingThenWebsocket).await;
    let mut legacy = client(&url, Eio::V3, Transport::Polling).await;
    let ok = |ack: Option<Vec<Value>>| {
        let ack = ack.expect("an ack");
        assert!(ack[0].is_null(), "expected success: {ack:?}");
        ack[1].clone()
    };
    let created = ok(writer
        .request(
            "create",
            &[json!({"url": "/notes", "data": {"text": "a fairly long note"}})],
            WAIT,
        )
        .await);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    ok(writer
        .request(
            "patch",
            &[json!({"url": format!("/notes/{id}"), "data": {"pinned": true}, "version": 1})],
            WAIT,
        )
        .await);
    ok(legacy
        .request("notes:create", &[json!({"text": "from iobind"})], WAIT)
        .await);
    ok(watcher
        .request("read", &[json!({"url": "/notes"})], WAIT)
        .await);
    // The watcher heard both writes; wait for them so the recording holds them.
    let mut pushes = 0;
    while pushes < 3 {
        match watcher.next_within(WAIT).await {
            Some(syncscope::sio::Incoming::Event { name, .. }) if name == "change" => pushes += 1,
            Some(_) => {}
            None => panic!("the watcher missed a push"),
        }
    }
    for c in [&watcher, &writer, &legacy] {
        c.close();
    }
    // Stop once the three disconnects are recorded.
    for _ in 0..200 {
        let stats: Stats = control.get("/stats", &[]).await.unwrap();
        if stats.sockets == 0 && stats.recorder_queued == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    control.command(&Control_::RecordStop).await.unwrap();
    let export = control
        .get_text(&format!("/sessions/{}/export", started["id"]))
        .await
        .unwrap();
    std::fs::write(path, export).unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_replays_then_fails_on_changed_behaviour_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.session.ndjson");
    record(&file).await;
    let path = file.to_str().unwrap();

    let out = replay(&[path, "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("3 client(s), 5 request(s)"),
        "{}",
        text(&out)
    );

    // A smaller --max-data turns the first create into a too_large error: the diff
    // names that ack and the client that sent it.
    let junit = dir.path().join("report.xml");
    let out = replay(&[
        path,
        "--check",
        "--max-data",
        "20",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("the ack of create /notes differs"), "{said}");
    assert!(said.contains("(EIO4, polling→websocket)"), "{said}");
    assert!(said.contains("+     \"code\": \"too_large\""), "{said}");
    assert!(said.contains("syncscope replay accept"), "{said}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"3\"") && !xml.contains("failures=\"0\""),
        "{xml}"
    );
    assert!(xml.contains("<failure message=\"client"), "{xml}");

    // Accepting re-records the file from today's answers; it then passes under the
    // new behaviour and fails under the old one.
    let out = replay(&["accept", path, "--max-data", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("re-recorded"), "{}", text(&out));
    let out = replay(&[path, "--max-data", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = replay(&[path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_rule_on_a_running_server_is_a_divergence() {
    let running = server("secret").await;
    let url = format!("http://{}", running.local_addr());
    let control = Control::new(&url, Some("secret".into()));
    let fixture = fixture("conflict.session.ndjson");
    let path = fixture.to_str().unwrap();

    let out = replay(&[path, "--against", &url, "--token", "secret"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    control
        .command(&Control_::FaultAdd {
            rule: serde_json::from_value(json!({
                "when": {"event": "update"},
                "action": "fail", "code": "unavailable", "message": "down for a test",
            }))
            .unwrap(),
            enabled: None,
        })
        .await
        .unwrap();
    // The store now holds the fixture's model from the first run: clear it.
    control
        .command(&Control_::Model {
            op: syncscope::inspect::types::ModelOp::Delete,
            url: "/todos/groceries".into(),
            data: None,
            version: None,
        })
        .await
        .unwrap();
    let out = replay(&[path, "--against", &url, "--token", "secret"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the ack of update /todos/groceries differs"),
        "{said}"
    );
    assert!(said.contains("\"code\": \"unavailable\""), "{said}");
    running.shutdown().await;
}

#[test]
fn unusable_files_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixture("conflict.session.ndjson")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let cases = [
        (
            "truncated",
            lines[..6].join("\n"),
            vec!["line 7", "truncated"],
        ),
        (
            "newer",
            good.replacen("\"version\":1", "\"version\":99", 1),
            vec!["version 99", "upgrade Syncscope"],
        ),
        (
            "broken",
            {
                let mut l = lines.clone();
                l[2] = "{\"seq\": 2, \"oops";
                l.join("\n")
            },
            vec!["line 3", "not a Syncscope record"],
        ),
        (
            "lossy",
            good.replacen("\"lost\":0", "\"lost\":3", 1),
            vec!["3 record(s) were lost", "would lie"],
        ),
    ];
    for (name, content, needles) in cases {
        let file = dir.path().join(format!("{name}.session.ndjson"));
        std::fs::write(&file, content).unwrap();
        let out = replay(&[file.to_str().unwrap(), "--check"]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {said}");
        for needle in needles {
            assert!(
                said.contains(needle),
                "{name}: expected {needle:?} in {said}"
            );
        }
    }
    let out = replay(&[dir.path().join("absent.ndjson").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
