//! `syncscope import FILE.har`: the HAR saved from a real Chromium session of the demo
//! (fixtures/replay/demo.har, made by scripts/record-fixtures.js) becomes a session
//! file a server accepts, with one client per page, every request paired with its ack
//! and every push the other page heard; files that are not HARs, or HARs without
//! Socket.IO, exit 2 with a message saying what is wrong.

mod inspect_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use inspect_support::Control;
use serde_json::Value;
use syncscope::inspect::types::{Body, Record, Target};
use syncscope::session_file::{self, Header};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/replay/demo.har")
}

fn syncscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `syncscope import` on the fixture into a temp dir; the session file's text.
fn import_fixture(dir: &Path) -> String {
    let out = dir.join("demo.session.ndjson");
    let run = syncscope(&[
        "import",
        fixture().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.contains("2 client(s)"), "{said}");
    std::fs::read_to_string(out).unwrap()
}

/// The session file's header and records, read by the server's own reader, so an
/// import that writes a file the server would refuse fails here.
fn parse(text: &str) -> (Header, Vec<Record>) {
    let file = session_file::parse(text).unwrap_or_else(|e| panic!("not a session file: {e}"));
    (file.header, file.records)
}

fn sockets(records: &[Record]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for r in records {
        if let Body::Connect { .. } = r.body {
            seen.push(r.socket.clone().unwrap());
        }
    }
    seen
}

fn count(records: &[Record], socket: &str, kind: &str) -> usize {
    records
        .iter()
        .filter(|r| r.socket.as_deref() == Some(socket) && r.body.kind() == kind)
        .count()
}

#[test]
fn the_demo_har_imports_as_two_clients_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let (header, records) = parse(&import_fixture(dir.path()));
    assert_eq!(header.format, "syncscope-session");
    assert_eq!(header.version, 1);
    assert_eq!(header.lost, 0);
    assert_eq!(header.records as usize, records.len());
    assert_eq!(header.name.as_deref(), Some("demo"));

    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    assert!(records.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    assert_eq!(
        header.started_at_us,
        records.first().unwrap().at_us as i64,
        "the session starts with its first record"
    );

    // Two pages of the demo, each one socket.io-client 4 that started on polling and
    // upgraded to the WebSocket, as the demo does.
    let clients = sockets(&records);
    assert_eq!(clients.len(), 2, "{clients:?}");
    for r in records.iter().filter(|r| r.body.kind() == "connect") {
        let Body::Connect {
            transport,
            protocol,
            user_agent,
            ..
        } = &r.body
        else {
            unreachable!()
        };
        assert_eq!(protocol, "EIO4");
        assert_eq!(transport, "polling");
        assert!(user_agent.as_deref().unwrap_or("").contains("Chrome"));
    }
    let (a, b) = (&clients[0], &clients[1]);
    for socket in [a, b] {
        assert_eq!(count(&records, socket, "connect"), 1);
        assert_eq!(count(&records, socket, "upgrade"), 1);
        assert_eq!(count(&records, socket, "disconnect"), 1);
        // Every request the page sent was answered.
        assert_eq!(
            count(&records, socket, "event_in"),
            count(&records, socket, "ack_out"),
            "{socket}"
        );
    }
    // Page A wrote: two creates, a toggle and an edit (patches) and a delete (the
    // fixture carries no injected fault since 1b962bb).
    let writes_of = |socket: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.socket.as_deref() == Some(socket))
            .filter_map(|r| match &r.body {
                Body::EventIn { event, .. } if event != "read" && event != "subscribe" => {
                    Some(event.clone())
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        writes_of(a),
        ["create", "create", "patch", "patch", "delete"]
    );
    assert_eq!(writes_of(b), Vec::<String>::new());
    // Page B heard each write that succeeded as a `change` push addressed to it,
    // in order.
    let heard: Vec<(String, String)> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::PushOut {
                event,
                target: Target::Socket { id },
                recipients,
                args,
                ..
            } => {
                assert_eq!(r.socket.as_ref(), Some(id));
                assert_eq!(*recipients, 1);
                assert_eq!(r.url.as_deref(), Some("/todos"));
                Some((
                    id.clone(),
                    format!("{event} {}", args[0]["op"].as_str().unwrap()),
                ))
            }
            _ => None,
        })
        .collect();
    let to_b: Vec<&str> = heard
        .iter()
        .filter(|(id, _)| id == b)
        .map(|(_, what)| what.as_str())
        .collect();
    assert_eq!(
        to_b,
        [
            "change create",
            "change create",
            "change patch",
            "change patch",
            "change delete"
        ]
    );
    assert!(heard.iter().all(|(id, _)| id == b), "page A hears nothing");
}

#[test]
fn every_ack_is_paired_to_the_request_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (_, records) = parse(&import_fixture(dir.path()));
    let by_seq: HashMap<u64, &Record> = records.iter().map(|r| (r.seq, r)).collect();
    let mut acks = 0;
    let mut errors = Vec::new();
    for ack in &records {
        let Body::AckOut {
            request_seq,
            event,
            dialect,
            latency_us,
            error,
            args,
            ..
        } = &ack.body
        else {
            continue;
        };
        acks += 1;
        let request = by_seq[request_seq];
        let Body::EventIn {
            event: asked,
            ack_id,
            args: request_args,
        } = &request.body
        else {
            panic!("ack {} answers seq {request_seq}, not an event_in", ack.seq)
        };
        assert_eq!(asked, event);
        assert!(ack_id.is_some());
        assert_eq!(request.socket, ack.socket, "an ack goes to its asker");
        assert!(request.seq < ack.seq);
        assert_eq!(*latency_us, ack.at_us - request.at_us);
        assert_eq!(ack.url, request.url);
        assert_eq!(*dialect, None);
        if let Some(code) = error {
            errors.push((event.clone(), code.clone()));
            continue;
        }
        assert!(args[0].is_null(), "error-first: {args:?}");
        // A write's ack carries the model the request wrote.
        if event == "create" {
            assert_eq!(
                args[1]["data"]["title"], request_args["data"]["title"],
                "{args:?}"
            );
            assert_eq!(args[1]["version"], 1);
        }
    }
    let requests = records
        .iter()
        .filter(|r| {
            matches!(
                r.body,
                Body::EventIn {
                    ack_id: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(acks, requests);
    assert!(acks >= 9, "reads, subscribes and five writes: {acks}");
    assert_eq!(errors, Vec::<(String, String)>::new(), "no write failed");
}

#[tokio::test]
async fn the_imported_session_is_a_session_file_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let text = import_fixture(dir.path());
    let (_, records) = parse(&text);
    let server = inspect_support::server().await;
    let control = Control::of(&server);
    let answer: Value = control
        .http
        .post(control.url("/sessions/import"))
        .bearer_auth(&control.token)
        .body(text)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["records"], records.len(), "{answer}");
    let session = answer["session"].as_i64().unwrap();
    let kinds = control.session_kinds(session).await;
    let expected: Vec<String> = records.iter().map(|r| r.body.kind().to_string()).collect();
    assert_eq!(kinds, expected);
    server.shutdown().await;
}

#[test]
fn a_polling_only_eio3_conversation_imports_from_the_request_and_response_bodies() {
    // fixtures/replay/v2-polling.har: socket.io-client 2 in Chromium, polling only:
    // create, the same create again (conflict), read, then socket.close().
    let dir = tempfile::tempdir().unwrap();
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/replay/v2-polling.har");
    let out = dir.path().join("v2.session.ndjson");
    let run = syncscope(&[
        "import",
        har.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (_, records) = parse(&std::fs::read_to_string(out).unwrap());
    let kinds: Vec<&str> = records.iter().map(|r| r.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "connect",
            "event_in",
            "ack_out",
            "event_in",
            "ack_out",
            "event_in",
            "ack_out",
            "disconnect"
        ]
    );
    let Body::Connect {
        transport,
        protocol,
        auth,
        ..
    } = &records[0].body
    else {
        unreachable!()
    };
    assert_eq!((transport.as_str(), protocol.as_str()), ("polling", "EIO3"));
    assert_eq!(auth, &serde_json::json!({}), "EIO3 has no CONNECT payload");
    // EIO3's socket id is the Engine.IO session id of the handshake.
    let sid = records[0].socket.clone().unwrap();
    assert!(records.iter().all(|r| r.socket.as_ref() == Some(&sid)));
    let acks: Vec<(u64, Option<String>)> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::AckOut {
                request_seq, error, ..
            } => Some((*request_seq, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        acks,
        [(2, None), (4, Some("conflict".to_string())), (6, None)]
    );
    let Body::Disconnect { reason } = &records[7].body else {
        unreachable!()
    };
    assert!(reason.contains("manually disconnected"), "{reason}");
}

#[test]
fn the_default_output_is_next_to_the_har() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("bug 12.har");
    std::fs::copy(fixture(), &har).unwrap();
    let run = syncscope(&["import", har.to_str().unwrap()]);
    assert!(run.status.success());
    let written = dir.path().join("bug 12.session.ndjson");
    let (header, _) = parse(&std::fs::read_to_string(written).unwrap());
    assert_eq!(header.name.as_deref(), Some("bug 12"));
}

fn import_text(dir: &Path, name: &str, text: &str) -> (i32, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let run = syncscope(&["import", file.to_str().unwrap()]);
    assert!(
        !dir.join(name.replace(".har", ".session.ndjson")).exists(),
        "nothing is written for an unusable file"
    );
    (
        run.status.code().unwrap(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn a_file_that_is_not_json_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = import_text(dir.path(), "broken.har", "{\"log\": {\"entries\": [");
    assert_eq!(code, 2);
    assert!(stderr.contains("not JSON"), "{stderr}");
    assert!(stderr.contains("broken.har"), "{stderr}");
}

#[test]
fn json_that_is_not_a_har_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = import_text(dir.path(), "x.har", "{\"entries\": []}");
    assert_eq!(code, 2);
    assert!(stderr.contains("not a HAR"), "{stderr}");
}

#[test]
fn a_har_without_socket_io_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture's page loads and the socket's entries, minus everything Socket.IO
    // carried: what DevTools saves when it was opened after the page connected.
    let mut har: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    for entry in har["log"]["entries"].as_array_mut().unwrap() {
        entry["_webSocketMessages"] = Value::Array(vec![]);
        entry["request"]["postData"] = Value::Null;
        entry["response"]["content"]["text"] = Value::Null;
    }
    let (code, stderr) = import_text(dir.path(), "quiet.har", &har.to_string());
    assert_eq!(code, 2);
    assert!(stderr.contains("no Socket.IO conversation"), "{stderr}");
    let (code, stderr) = import_text(
        dir.path(),
        "empty.har",
        r#"{"log": {"version": "1.2", "entries": []}}"#,
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("none of its 0 entries"), "{stderr}");
}

#[test]
fn a_missing_file_exits_2() {
    let run = syncscope(&["import", "/nonexistent/x.har"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot read"));
}
