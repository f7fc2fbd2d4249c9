//! Live replay: a stored session's pushes re-emitted into the clients connected now,
//! driven through the control API (play, pause, step, seek, stop, speed), each tagged
//! origin `replay` on the bus.

mod inspect_support;

use std::time::{Duration, Instant};

use inspect_support::{server, Control};
use serde_json::{json, Value};
use syncscope::inspect::types::{Body, Origin, Target};
use syncscope::sio::{Client, Incoming};

const WAIT: Duration = Duration::from_secs(5);
/// Longer than any gap a test expects to be waited, after which "nothing came" holds.
const QUIET: Duration = Duration::from_millis(1500);

/// A `change` push of the recording, on channel /todos, numbered `n`.
fn change(seq: u64, at_us: u64, n: u64) -> Value {
    json!({
        "seq": seq, "at_us": at_us, "socket": "recorded-writer", "origin": "server",
        "url": "/todos", "kind": "push_out", "event": "change",
        "target": {"to": "channel", "url": "/todos"}, "recipients": 1,
        "args": [{"url": "/todos", "op": "update", "id": "a", "seq": n,
                  "data": {"id": "a", "n": n}, "version": n}]
    })
}

/// A session file of `records` (header first).
fn file(records: &[Value]) -> String {
    let header = json!({
        "format": "syncscope-session", "version": 1, "name": "live",
        "started_at_us": 1_000_000, "stopped_at_us": 100_000_000,
        "records": records.len(), "lost": 0
    });
    let mut out = header.to_string();
    for r in records {
        out.push('\n');
        out.push_str(&r.to_string());
    }
    out.push('\n');
    out
}

/// `n` changes on /todos, `gap_ms` apart, with records that must not be replayed
/// (a client's request, an earlier replay) in between.
fn changes(n: u64, gap_ms: u64) -> String {
    let mut records = vec![json!({
        "seq": 1, "at_us": 1_000_000, "socket": "recorded-writer", "origin": "client",
        "url": "/todos", "kind": "event_in", "event": "update",
        "args": {"url": "/todos/a", "data": {"id": "a"}}, "ack_id": 1
    })];
    for i in 1..=n {
        records.push(change(10 * i, 2_000_000 + (i - 1) * gap_ms * 1000, i));
    }
    let mut replayed = change(10 * n + 1, 2_000_000 + n * gap_ms * 1000, 99);
    replayed["origin"] = json!("replay");
    records.push(replayed);
    file(&records)
}

async fn import(control: &Control, body: String) -> i64 {
    let res = control
        .http
        .post(control.url("/sessions/import"))
        .bearer_auth(&control.token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "import: {}", res.status());
    let v: Value = res.json().await.unwrap();
    v["session"].as_i64().unwrap()
}

/// Runs a replay command; returns the status it answers with.
async fn replay(control: &Control, command: Value) -> Value {
    let (status, body) = control.command(command.clone()).await;
    assert_eq!(status, 200, "{command}: {body}");
    body["value"].clone()
}

async fn subscriber(running: &syncscope::Running, url: &str) -> Client {
    let mut client = Client::connect(&running.local_addr().to_string())
        .await
        .unwrap();
    let ack = client
        .request("subscribe", &[json!({ "url": url })], WAIT)
        .await
        .expect("subscribe is acked");
    assert!(ack[0].is_null(), "subscribed: {ack:?}");
    client
}

/// The next event the client receives within `wait`, as (name, args).
async fn next_event(client: &mut Client, wait: Duration) -> Option<(String, Vec<Value>)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_within(left).await? {
            Incoming::Event { name, args } => return Some((name, args)),
            Incoming::Closed(why) => panic!("connection closed: {why}"),
            _ => continue,
        }
    }
}

/// The `n` of the next `change` received (the number the recording gave it).
async fn next_change(client: &mut Client) -> u64 {
    let (name, args) = next_event(client, WAIT)
        .await
        .expect("a replayed change within 5 s");
    assert_eq!(name, "change");
    args[0]["data"]["n"].as_u64().unwrap()
}

async fn wait_for_state(control: &Control, state: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = control.get("/stats").await;
        if stats["replay"]["state"] == state {
            return stats["replay"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "replay never became {state}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_played_session_reaches_todays_subscribers_in_order_tagged_replay() {
    let running = server().await;
    let control = Control::of(&running);
    let session = import(&control, changes(5, 100)).await;
    let mut listener = subscriber(&running, "/todos").await;
    let mut other = subscriber(&running, "/notes").await;
    let mut watcher = control.watch(json!({ "origin": "replay" })).await;

    let loaded = replay(
        &control,
        json!({"command": "replay_load", "session": session, "speed": 100}),
    )
    .await;
    assert_eq!(loaded["state"], "idle");
    assert_eq!(loaded["total"], 5, "only the server's pushes: {loaded}");
    assert_eq!(loaded["next_seq"], 10);
    replay(&control, json!({"command": "replay_play"})).await;

    for n in 1..=5 {
        assert_eq!(next_change(&mut listener).await, n);
    }
    let done = wait_for_state(&control, "finished").await;
    assert_eq!(done["position"], 5);
    assert_eq!(done["current_seq"], 50);
    assert!(
        next_event(&mut other, QUIET).await.is_none(),
        "a client of another channel hears nothing"
    );
    assert!(
        next_event(&mut listener, QUIET).await.is_none(),
        "the earlier replay's push (origin replay) is not replayed again"
    );

    let records = watcher
        .until(|r| r.iter().filter(|r| r.body.kind() == "push_out").count() >= 5)
        .await;
    let pushes: Vec<_> = records
        .iter()
        .filter(|r| r.body.kind() == "push_out")
        .collect();
    for (i, record) in pushes.iter().enumerate() {
        assert_eq!(record.origin, Origin::Replay);
        let Body::PushOut {
            event,
            target,
            recipients,
            to,
            cause,
            args,
        } = &record.body
        else {
            unreachable!()
        };
        assert_eq!(event, "change");
        assert_eq!(
            *cause, None,
            "a replayed push was caused by no request of now"
        );
        assert_eq!(
            target,
            &Target::Channel {
                url: "/todos".into()
            }
        );
        assert_eq!(*recipients, 1);
        assert_eq!(
            to,
            &[listener.sid.clone()],
            "replayed into the live subscriber"
        );
        assert_eq!(args[0]["data"]["n"], i as u64 + 1);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn pause_sends_nothing_until_play_and_step_sends_exactly_one() {
    let running = server().await;
    let control = Control::of(&running);
    // A second between pushes: the pause below comes long before the second is due.
    let session = import(&control, changes(5, 1000)).await;
    let mut listener = subscriber(&running, "/todos").await;
    replay(
        &control,
        json!({"command": "replay_load", "session": session}),
    )
    .await;

    replay(&control, json!({"command": "replay_play"})).await;
    assert_eq!(
        next_change(&mut listener).await,
        1,
        "the first goes at once"
    );
    let paused = replay(&control, json!({"command": "replay_pause"})).await;
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["position"], 1);
    assert!(
        next_event(&mut listener, Duration::from_millis(2500))
            .await
            .is_none(),
        "a paused replay sends nothing (the next push was due after 1 s)"
    );

    let stepped = replay(&control, json!({"command": "replay_step"})).await;
    assert_eq!(next_change(&mut listener).await, 2);
    assert_eq!(stepped["state"], "paused");
    assert_eq!(stepped["position"], 2);
    assert_eq!(stepped["current_seq"], 20);
    assert!(
        next_event(&mut listener, QUIET).await.is_none(),
        "a step sends one push and stays paused"
    );

    replay(&control, json!({"command": "replay_speed", "speed": 50})).await;
    replay(&control, json!({"command": "replay_play"})).await;
    for n in 3..=5 {
        assert_eq!(next_change(&mut listener).await, n);
    }
    let done = wait_for_state(&control, "finished").await;
    assert_eq!(done["speed"], 50.0);
    running.shutdown().await;
}

#[tokio::test]
async fn seek_moves_paused_and_stop_goes_back_to_the_start() {
    let running = server().await;
    let control = Control::of(&running);
    let session = import(&control, changes(5, 100)).await;
    let mut listener = subscriber(&running, "/todos").await;
    replay(
        &control,
        json!({"command": "replay_load", "session": session, "speed": 100}),
    )
    .await;

    let sought = replay(&control, json!({"command": "replay_seek", "position": 3})).await;
    assert_eq!(sought["state"], "paused");
    assert_eq!(sought["position"], 3);
    assert_eq!(sought["next_seq"], 40);
    assert!(
        next_event(&mut listener, QUIET).await.is_none(),
        "seeking sends nothing"
    );
    replay(&control, json!({"command": "replay_play"})).await;
    assert_eq!(
        next_change(&mut listener).await,
        4,
        "play goes on from the seek"
    );
    assert_eq!(next_change(&mut listener).await, 5);
    wait_for_state(&control, "finished").await;

    let stopped = replay(&control, json!({"command": "replay_stop"})).await;
    assert_eq!(stopped["state"], "idle");
    assert_eq!(stopped["position"], 0);
    assert!(stopped["current_seq"].is_null());
    replay(&control, json!({"command": "replay_step"})).await;
    assert_eq!(
        next_change(&mut listener).await,
        1,
        "after stop, from the start"
    );

    let (status, body) = control
        .command(json!({"command": "replay_seek", "position": 6}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("5 pushes"));
    running.shutdown().await;
}

#[tokio::test]
async fn recorded_gaps_are_divided_by_the_speed() {
    let running = server().await;
    let control = Control::of(&running);
    // Three gaps of 400 ms: 1.2 s at speed 1.
    let session = import(&control, changes(4, 400)).await;
    let mut listener = subscriber(&running, "/todos").await;

    let mut took = vec![];
    for speed in [1.0, 10.0] {
        replay(
            &control,
            json!({"command": "replay_load", "session": session, "speed": speed}),
        )
        .await;
        replay(&control, json!({"command": "replay_play"})).await;
        assert_eq!(next_change(&mut listener).await, 1);
        let first = Instant::now();
        for n in 2..=4 {
            assert_eq!(next_change(&mut listener).await, n);
        }
        took.push(first.elapsed());
        wait_for_state(&control, "finished").await;
    }
    assert!(
        took[0] >= Duration::from_millis(1100),
        "speed 1 waits the recorded gaps: {took:?}"
    );
    assert!(
        took[1] < took[0],
        "speed 10 is faster than speed 1: {took:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_long_idle_in_the_recording_is_capped_and_other_targets_are_kept() {
    let running = server().await;
    let control = Control::of(&running);
    // A HAR import knows only the socket a push went to; an hour of idle follows.
    let records = vec![
        json!({"seq": 1, "at_us": 1_000_000, "socket": "gone", "origin": "server", "url": null,
               "kind": "push_out", "event": "change", "target": {"to": "socket", "id": "gone"},
               "recipients": 1, "args": [{"url": "/todos/a", "op": "delete", "id": "a",
               "seq": 7, "data": null, "version": 3}]}),
        json!({"seq": 2, "at_us": 3_601_000_000u64, "socket": null, "origin": "inspector",
               "url": null, "kind": "push_out", "event": "hello",
               "target": {"to": "all"}, "recipients": 2, "args": ["everyone", 2]}),
    ];
    let session = import(&control, file(&records)).await;
    let mut todos = subscriber(&running, "/todos").await;
    let mut notes = subscriber(&running, "/notes").await;
    replay(
        &control,
        json!({"command": "replay_load", "session": session, "speed": 5}),
    )
    .await;
    replay(&control, json!({"command": "replay_play"})).await;

    let (name, args) = next_event(&mut todos, WAIT).await.unwrap();
    assert_eq!(
        name, "change",
        "a socket's change goes to its url's channel"
    );
    assert_eq!(args[0]["op"], "delete");
    // The hour is capped at 10 s, which speed 5 makes 2 s.
    let (name, args) = next_event(&mut notes, WAIT).await.expect("within 5 s");
    assert_eq!(
        (name.as_str(), args),
        ("hello", vec![json!("everyone"), json!(2)])
    );
    let (name, _) = next_event(&mut todos, WAIT).await.unwrap();
    assert_eq!(name, "hello", "an emit to all reaches everyone");
    running.shutdown().await;
}

#[tokio::test]
async fn replay_commands_say_what_is_wrong() {
    let running = server().await;
    let control = Control::of(&running);

    let (status, body) = control.command(json!({"command": "replay_play"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("replay_load"));
    assert!(control.get("/stats").await["replay"].is_null());

    let (status, body) = control
        .command(json!({"command": "replay_load", "session": 42}))
        .await;
    assert_eq!(status, 404, "{body}");

    let only_requests = file(&[json!({
        "seq": 1, "at_us": 1_000_000, "socket": "s", "origin": "client", "url": "/todos",
        "kind": "event_in", "event": "read", "args": {"url": "/todos"}, "ack_id": 1
    })]);
    let session = import(&control, only_requests).await;
    let (status, body) = control
        .command(json!({"command": "replay_load", "session": session}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("no server pushes"));

    let session = import(&control, changes(2, 10)).await;
    for speed in [0.0, -1.0, 5000.0] {
        let (status, body) = control
            .command(json!({"command": "replay_load", "session": session, "speed": speed}))
            .await;
        assert_eq!(status, 400, "speed {speed}: {body}");
    }
    running.shutdown().await;
}

/// `syncscope replay FILE --live` against `running`, its output piped.
fn live_cli(
    running: &syncscope::Running,
    file: &std::path::Path,
    speed: &str,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncscope"));
    cmd.arg("replay")
        .arg(file)
        .args(["--live", "--speed", speed])
        .arg("--url")
        .arg(format!("http://{}", running.local_addr()))
        .env("SYNCSCOPE_TOKEN", running.token())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn the_cli_replays_a_file_into_a_running_server_and_exits_0_when_finished() {
    let running = server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("five.session.ndjson");
    std::fs::write(&file, changes(5, 100)).unwrap();
    let mut listener = subscriber(&running, "/todos").await;

    let out = live_cli(&running, &file, "20").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in 1..=5 {
        assert_eq!(next_change(&mut listener).await, n);
    }
    assert!(
        stdout.contains("5/5 pushes sent"),
        "plain progress lines: {stdout}"
    );
    assert!(stdout.contains("Replayed 5 pushes"), "{stdout}");
    running.shutdown().await;
}

#[tokio::test]
async fn ctrl_c_stops_the_replay_the_cli_started() {
    let running = server().await;
    let control = Control::of(&running);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.session.ndjson");
    // Two seconds between pushes: the interrupt comes long before the second.
    std::fs::write(&file, changes(5, 2000)).unwrap();
    let mut listener = subscriber(&running, "/todos").await;

    let child = live_cli(&running, &file, "1").spawn().unwrap();
    assert_eq!(next_change(&mut listener).await, 1);
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = control.get("/stats").await["replay"].clone();
    assert_eq!(status["state"], "idle", "{status}");
    assert!(
        next_event(&mut listener, Duration::from_millis(3000))
            .await
            .is_none(),
        "nothing is sent after the interrupt"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_cli_says_when_a_file_is_not_a_session() {
    let running = server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.har");
    std::fs::write(&file, "{\"log\": {\"entries\": []}}").unwrap();
    let out = live_cli(&running, &file, "1").output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(stderr.contains("syncscope import"), "{stderr}");
    running.shutdown().await;
}

#[tokio::test]
async fn loading_another_session_replaces_the_one_playing() {
    let running = server().await;
    let control = Control::of(&running);
    let slow = import(&control, changes(3, 2000)).await;
    let mut other = vec![change(5, 1_000_000, 7), change(6, 1_001_000, 8)];
    for push in &mut other {
        push["target"]["url"] = json!("/notes");
        push["url"] = json!("/notes");
    }
    let fast = import(&control, file(&other)).await;
    let mut todos = subscriber(&running, "/todos").await;
    let mut notes = subscriber(&running, "/notes").await;

    replay(&control, json!({"command": "replay_load", "session": slow})).await;
    replay(&control, json!({"command": "replay_play"})).await;
    assert_eq!(next_change(&mut todos).await, 1);
    let loaded = replay(&control, json!({"command": "replay_load", "session": fast})).await;
    assert_eq!(loaded["session"], fast);
    assert_eq!(loaded["state"], "idle");
    replay(&control, json!({"command": "replay_play"})).await;
    assert_eq!(next_change(&mut notes).await, 7);
    assert_eq!(next_change(&mut notes).await, 8);
    wait_for_state(&control, "finished").await;
    assert!(
        next_event(&mut todos, Duration::from_millis(2500))
            .await
            .is_none(),
        "the replaced replay sends nothing more"
    );
    running.shutdown().await;
}
