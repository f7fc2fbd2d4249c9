//! The recorded fixtures in fixtures/replay/ (scripts/record-fixtures.js) are what
//! replay checks run on: each must stay a complete session file this build reads
//! (nothing lost, every record readable, every ack paired with its request), and hold
//! the conversation it is named for. A change to the record types that breaks them,
//! or a re-recording that lost what made one worth keeping, fails here.

mod inspect_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use inspect_support::Control;
use serde_json::Value;
use syncscope::inspect::types::{Body, Origin, Record, Target};
use syncscope::session_file::{self, Header};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/replay")
        .join(format!("{name}.session.ndjson"))
}

const ALL: [&str; 4] = ["demo-two-tabs", "conflict", "fault-error", "iobind-v2"];

/// A fixture read by the server's own session-file reader.
fn read(name: &str) -> (Header, Vec<Record>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let file = session_file::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (file.header, file.records)
}

/// (protocol, transport) of each client, in connect order.
fn clients(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Connect {
                protocol,
                transport,
                ..
            } => Some((protocol.clone(), transport.clone())),
            _ => None,
        })
        .collect()
}

fn error_acks(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            Body::AckOut {
                event,
                error: Some(code),
                ..
            } => Some((event.clone(), code.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_fixture_is_a_complete_session_with_paired_acks() {
    for name in ALL {
        let (header, records) = read(name);
        assert_eq!(header.format, "syncscope-session", "{name}");
        assert_eq!(header.name.as_deref(), Some(name));
        assert_eq!(header.lost, 0, "{name} was recorded with records lost");
        assert_eq!(header.records as usize, records.len(), "{name}");
        assert!(records.windows(2).all(|w| w[0].seq < w[1].seq), "{name}");
        let by_seq: HashMap<u64, &Record> = records.iter().map(|r| (r.seq, r)).collect();
        let mut connected: Vec<&str> = Vec::new();
        for r in &records {
            match &r.body {
                Body::Connect { .. } => connected.push(r.socket.as_deref().unwrap()),
                Body::AckOut { request_seq, .. } => {
                    let request = by_seq
                        .get(request_seq)
                        .unwrap_or_else(|| panic!("{name}: ack {} answers nothing", r.seq));
                    assert_eq!(request.body.kind(), "event_in", "{name}");
                    assert_eq!(request.socket, r.socket, "{name}");
                }
                _ => {}
            }
        }
        // Every client connected inside the recording and left before it ended.
        let disconnected = records
            .iter()
            .filter(|r| r.body.kind() == "disconnect")
            .count();
        assert_eq!(disconnected, connected.len(), "{name}");
        // Model data is fixed text: no timestamps crept into what clients wrote.
        for r in &records {
            if let Body::EventIn { args, .. } = &r.body {
                let text = args.to_string();
                assert!(!text.contains("At\""), "{name}: {text}");
            }
        }
    }
}

#[tokio::test]
async fn every_fixture_imports_into_a_server() {
    let server = inspect_support::server().await;
    let control = Control::of(&server);
    for name in ALL {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let (header, _) = read(name);
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
        assert_eq!(answer["records"], header.records, "{name}: {answer}");
    }
    server.shutdown().await;
}

#[test]
fn demo_two_tabs_is_two_chromium_pages_where_one_hears_the_others_writes() {
    let (_, records) = read("demo-two-tabs");
    assert_eq!(
        clients(&records),
        [
            ("EIO4".to_string(), "polling".to_string()),
            ("EIO4".to_string(), "polling".to_string())
        ]
    );
    let writes: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::EventIn { event, .. } if !["read", "subscribe"].contains(&event.as_str()) => {
                Some(event.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(writes, ["create", "create", "patch", "patch", "delete"]);
    let pushes: Vec<(&str, u32)> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::PushOut {
                args, recipients, ..
            } => Some((args[0]["op"].as_str().unwrap(), *recipients)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pushes,
        [
            ("create", 1),
            ("create", 1),
            ("patch", 1),
            ("patch", 1),
            ("delete", 1)
        ]
    );
    assert_eq!(error_acks(&records), []);
}

#[test]
fn conflict_holds_a_stale_update_refused_with_conflict() {
    let (_, records) = read("conflict");
    assert_eq!(clients(&records).len(), 2);
    assert_eq!(
        error_acks(&records),
        [("update".to_string(), "conflict".to_string())]
    );
    let conflict = records
        .iter()
        .find(|r| matches!(&r.body, Body::AckOut { error: Some(_), .. }))
        .unwrap();
    let Body::AckOut { args, .. } = &conflict.body else {
        unreachable!()
    };
    assert_eq!(args[0]["current"]["version"], 2, "{args:?}");
    // The subscriber heard the two writes that succeeded, not the refused one.
    let pushes = records
        .iter()
        .filter(|r| matches!(r.body, Body::PushOut { recipients: 1, .. }))
        .count();
    assert_eq!(pushes, 2);
}

#[test]
fn fault_error_holds_the_fault_and_the_error_the_client_got() {
    let (_, records) = read("fault-error");
    let fault = records
        .iter()
        .find(|r| r.body.kind() == "fault")
        .expect("a fault record");
    assert_eq!(fault.origin, Origin::Fault);
    assert_eq!(
        error_acks(&records),
        [("update".to_string(), "unavailable".to_string())]
    );
    // The same update, sent again after the rule was removed, went through.
    let updates: Vec<Option<String>> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::AckOut { event, error, .. } if event == "update" => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(updates, [Some("unavailable".to_string()), None]);
}

#[test]
fn iobind_v2_is_two_eio3_clients_speaking_iobind() {
    let (_, records) = read("iobind-v2");
    assert_eq!(
        clients(&records),
        [
            ("EIO3".to_string(), "websocket".to_string()),
            ("EIO3".to_string(), "websocket".to_string())
        ]
    );
    let mut events: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::EventIn { event, .. } => Some(event.as_str()),
            _ => None,
        })
        .collect();
    events.sort();
    events.dedup();
    assert_eq!(
        events,
        ["todos:create", "todos:delete", "todos:read", "todos:update"]
    );
    assert!(records.iter().all(|r| match &r.body {
        Body::AckOut { dialect, .. } => dialect.as_deref() == Some("iobind:todos"),
        _ => true,
    }));
    // The listener heard create, update and delete in both url spellings.
    let heard = records
        .iter()
        .filter(|r| {
            matches!(
                &r.body,
                Body::PushOut {
                    target: Target::Iobind { .. },
                    recipients: 1,
                    ..
                }
            )
        })
        .count();
    assert_eq!(heard, 6);
}
