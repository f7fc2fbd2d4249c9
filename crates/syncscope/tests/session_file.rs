//! Session files: export a recorded session as versioned NDJSON over the control API,
//! import it into another server, and refuse files that are not sessions.

mod inspect_support;
mod support;

use inspect_support::Control;
use serde_json::{json, Value};
use support::{ok, start_memory, Client};

async fn export(server: &syncscope::Running, session: i64) -> reqwest::Response {
    let control = Control::of(server);
    let url = control.url(&format!("/sessions/{session}/export"));
    control
        .http
        .get(url)
        .bearer_auth(&control.token)
        .send()
        .await
        .unwrap()
}

async fn import(server: &syncscope::Running, body: String) -> reqwest::Response {
    let control = Control::of(server);
    let url = control.url("/sessions/import");
    control
        .http
        .post(url)
        .bearer_auth(&control.token)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_recorded_session_exports_as_a_header_line_then_one_record_per_line() {
    let server = start_memory().await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "t": "x"}}),
        )
        .await);
    let session = server
        .inspector()
        .recorder()
        .stop_session()
        .await
        .unwrap()
        .expect("the launch session was recording");

    let res = export(&server, session.id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["format"], "syncscope-session");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["records"], lines.len() as i64 - 1);
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    let create_in = kinds
        .iter()
        .position(|k| *k == "event_in")
        .expect("the create was recorded");
    let ack = kinds
        .iter()
        .position(|k| *k == "ack_out")
        .expect("its ack was recorded");
    assert!(create_in < ack, "records keep their order: {kinds:?}");
    let seqs: Vec<u64> = lines[1..]
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn an_exported_session_imports_into_another_server_with_every_record() {
    let source = start_memory().await;
    let mut c = Client::connect(source.local_addr()).await;
    for n in 0..5 {
        ok(&c
            .request("create", json!({"url": "/todos", "data": {"id": n}}))
            .await);
    }
    let session = source
        .inspector()
        .recorder()
        .stop_session()
        .await
        .unwrap()
        .unwrap();
    let file = export(&source, session.id).await.text().await.unwrap();
    let records = file.lines().count() - 1;

    let target = start_memory().await;
    let res = import(&target, file.clone()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["records"], records as i64);
    let imported = body["session"].as_i64().unwrap();
    let again = export(&target, imported).await.text().await.unwrap();
    assert_eq!(
        again.lines().skip(1).collect::<Vec<_>>(),
        file.lines().skip(1).collect::<Vec<_>>(),
        "the records come back exactly as exported"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_session_is_refused_with_the_line_at_fault() {
    let server = start_memory().await;
    let cases = [
        ("".to_string(), "empty"),
        ("{\"hello\": 1}\n".to_string(), "line 1"),
        (
            "{\"format\":\"syncscope-session\",\"version\":1,\"name\":null,\"started_at_us\":1,\"stopped_at_us\":2,\"records\":1,\"lost\":0}\n{not json\n".to_string(),
            "line 2",
        ),
        (
            "{\"format\":\"syncscope-session\",\"version\":99,\"name\":null,\"started_at_us\":1,\"stopped_at_us\":2,\"records\":0,\"lost\":0}\n".to_string(),
            "upgrade Syncscope",
        ),
    ];
    for (file, says) in cases {
        let res = import(&server, file).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    let missing = export(&server, 999).await;
    assert_eq!(missing.status(), 404);
    let sessions = Control::of(&server).get("/sessions").await;
    assert_eq!(
        sessions.as_array().map(Vec::len),
        Some(1),
        "nothing was imported: {sessions}"
    );
}
