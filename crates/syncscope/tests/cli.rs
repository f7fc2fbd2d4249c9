//! The command line's client commands as a user types them, against a real server:
//! `record start|stop`, `events`, `events --follow`, `sockets` and `--version`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use syncscope::sio::Client;
use syncscope::{Config, DbLocation};

const WAIT: Duration = Duration::from_secs(5);

fn syncscope(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(args)
        .args(["--url", url, "--token", "cli-test"])
        .output()
        .expect("the syncscope binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn record_events_and_follow_work_from_the_terminal() {
    let running = syncscope::start(Config {
        port: 0,
        db: DbLocation::Memory,
        token: Some("cli-test".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.local_addr());

    let out = syncscope(&url, &["record", "start", "from-the-cli"]);
    assert!(out.status.success(), "{out:?}");
    let started = stdout(&out);
    let id: i64 = started
        .trim()
        .trim_start_matches("Recording session ")
        .trim_end_matches('.')
        .parse()
        .unwrap_or_else(|_| panic!("unexpected answer {started:?}"));

    let mut app = Client::connect(&url).await.unwrap();
    let ack = app
        .request(
            "create",
            &[json!({"url": "/cli", "data": {"id": "one", "t": "x"}})],
            WAIT,
        )
        .await
        .unwrap();
    assert!(ack[0].is_null(), "{ack:?}");

    // `sockets` lists the app's socket.
    let out = syncscope(&url, &["sockets", "--json"]);
    let sockets: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        sockets
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == app.sid.as_str()),
        "{sockets}"
    );

    // `events` prints the session's records, the create and its ack among them, in
    // JSON with --json and as readable lines without.
    let wanted = |records: &[Value]| {
        records
            .iter()
            .any(|r| r["kind"] == "event_in" && r["event"] == "create" && r["url"] == "/cli")
            && records
                .iter()
                .any(|r| r["kind"] == "ack_out" && r["event"] == "create")
    };
    let mut records = Vec::new();
    for _ in 0..100 {
        let out = syncscope(&url, &["events", "--json", "--session", &id.to_string()]);
        assert!(out.status.success(), "{out:?}");
        records = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if wanted(&records) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(wanted(&records), "{records:?}");
    let out = syncscope(&url, &["events", "--filter", "event=create"]);
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("event_in") && l.contains("/cli")),
        "{text}"
    );

    // `events --follow` prints what happens from then on.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["events", "--follow", "--json", "--filter", "kind=event_in"])
        .args(["--url", &url, "--token", "cli-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(follow.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // Until the follower is watching, writes may pass it by: write until one shows.
    let mut seen = None;
    for n in 0..100 {
        let ack = app
            .request(
                "patch",
                &[json!({"url": "/cli/one", "data": {"n": n}})],
                WAIT,
            )
            .await
            .unwrap();
        assert!(ack[0].is_null(), "{ack:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = Some(line);
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let line: Value = serde_json::from_str(&seen.expect("--follow printed the patch")).unwrap();
    assert_eq!(line["kind"], "event_in");
    assert_eq!(line["event"], "patch");
    assert_eq!(line["url"], "/cli/one");

    let out = syncscope(&url, &["record", "stop"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), format!("Stopped session {id}."));
    let out = syncscope(&url, &["record", "stop"]);
    assert_eq!(stdout(&out).trim(), "Nothing was being recorded.");

    // Without the token, the CLI says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["sockets", "--url", &url])
        .env_remove("SYNCSCOPE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--token"),
        "{out:?}"
    );
    running.shutdown().await;
}

/// `--version` names the version and the commit, so a bug report says which build it is.
#[test]
fn version_names_the_version_and_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .arg("--version")
        .output()
        .expect("the syncscope binary runs");
    assert!(out.status.success(), "{out:?}");
    // Built in a git checkout, the commit is HEAD's; outside one, "unknown".
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        stdout(&out).trim(),
        format!("syncscope {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}
