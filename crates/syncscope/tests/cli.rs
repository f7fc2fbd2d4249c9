//! The command line's client commands as a user types them, against a real server:
//! `record start|stop`, `events`, `events --follow`, `sockets`, `push`, `serve`, help
//! and `--version`.

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

/// `syncscope serve --port 0 --db DB` as a process, and the first line it printed
/// (empty when it stopped at once).
fn serve_on(db: &std::path::Path, stderr: Stdio) -> (std::process::Child, String) {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["serve", "--port", "0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    (serve, first_line)
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

async fn server_with_token() -> (syncscope::Running, String) {
    let running = syncscope::start(Config {
        port: 0,
        db: DbLocation::Memory,
        token: Some("cli-test".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.local_addr());
    (running, url)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `events` for a session that does not exist fails and says which ones do; with nothing
/// recording it says it shows the last session, and an empty session is said to be empty
/// (on stderr: stdout stays what scripts parse).
#[tokio::test(flavor = "multi_thread")]
async fn events_says_when_there_is_nothing_to_show() {
    let (running, url) = server_with_token().await;

    let out = syncscope(&url, &["events", "--session", "999"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(stdout(&out).is_empty(), "{out:?}");
    assert!(
        stderr(&out).contains("there is no session 999; the server has sessions 1"),
        "{out:?}"
    );

    // The launch session holds nothing yet; after `record stop` nothing is recording.
    let out = syncscope(&url, &["record", "stop"]);
    assert!(out.status.success(), "{out:?}");
    let out = syncscope(&url, &["events"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).is_empty(), "{out:?}");
    let said = stderr(&out);
    assert!(said.contains("Nothing is being recorded"), "{said}");
    assert!(said.contains("No events in session 1."), "{said}");
    running.shutdown().await;
}

/// A fake `change` push needs the model's id: without one the CLI refuses, saying what
/// to pass, instead of sending `id: null`.
#[tokio::test(flavor = "multi_thread")]
async fn push_of_a_change_without_an_id_is_refused() {
    let (running, url) = server_with_token().await;
    for args in [
        &["push", "update", "--channel", "/todos"][..],
        &[
            "push",
            "patch",
            "--channel",
            "/todos",
            r#"{"title":"no id"}"#,
        ][..],
        &["push", "delete", "--channel", "/todos", "7"][..],
    ] {
        let out = syncscope(&url, args);
        assert!(!out.status.success(), "{args:?}: {out:?}");
        let said = stderr(&out);
        assert!(
            said.contains("needs the model as JSON with its id"),
            "{said}"
        );
        assert!(!stdout(&out).contains("Sent"), "{out:?}");
    }
    let out = syncscope(
        &url,
        &[
            "push",
            "update",
            "--channel",
            "/todos",
            r#"{"id":"1","t":"x"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), "Sent change to 0 socket(s).");
    running.shutdown().await;
}

/// Help never shows `[env: NAME=]` for a variable that is not set.
#[test]
fn help_shows_no_empty_environment_values() {
    for command in [
        "sockets", "events", "push", "record", "replay", "fault", "serve",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_syncscope"))
            .args([command, "--help"])
            .env_remove("SYNCSCOPE_URL")
            .env_remove("SYNCSCOPE_DB")
            .env_remove("SYNCSCOPE_TOKEN")
            .env_remove("SYNCSCOPE_ALLOW_ORIGIN")
            .env_remove("SYNCSCOPE_ALLOW_HOST")
            .env_remove("SYNCSCOPE_FAULT_SEED")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let help = stdout(&out);
        assert!(!help.contains("=]"), "{command} --help:\n{help}");
    }
}

/// A `serve` whose output goes to a file or a pipe: plain text lines, no colour codes.
/// With --next-free-port on a taken port it listens on the next one and says the real
/// address; without it, a taken port is an error naming --port.
#[test]
fn serve_logs_plain_text_and_finds_the_next_free_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["serve", "--db", ":memory:", "--port", &port])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("--port"), "{out:?}");

    let mut serve = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args([
            "serve",
            "--db",
            ":memory:",
            "--next-free-port",
            "--port",
            &port,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let listening = lines.next().unwrap().unwrap();
    let addr = listening
        .strip_prefix("Syncscope listening on http://")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{listening}"))
        .to_string();
    let real: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(real.to_string(), port, "{listening}");
    assert_ne!(real, 0, "{listening}");
    // The log (stderr) names the demo at the real address, in plain text.
    let mut log = BufReader::new(serve.stderr.take().unwrap()).lines();
    let mut before_demo = Vec::new();
    let demo = log
        .by_ref()
        .map_while(Result::ok)
        .find(|l| {
            before_demo.push(l.clone());
            l.contains("demo app at")
        })
        .expect("the log names the demo app");
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(demo.contains(&format!("http://{addr}/demo/")), "{demo}");
    assert!(!demo.contains('\u{1b}'), "colour codes in {demo:?}");
    // The search went on to a free port: no line tells the user to stop the other
    // program or pass --port, as if it had failed.
    let log = before_demo.join("\n");
    assert!(!log.contains("already in use"), "{log}");
    assert!(log.contains(&format!("port {port} was taken")), "{log}");
    drop(taken);
}

/// Two servers on one database file: the second refuses, naming the first, instead of
/// sharing the file silently; once the first stops, the file can be used again.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_on_the_same_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let config = Config {
        port: 0,
        db: DbLocation::File(db.clone()),
        ..Config::default()
    };
    let first = syncscope::start(config.clone()).await.unwrap();
    // Its first line: empty when it stopped, the listening line when it did not.
    let (mut second, first_line) = serve_on(&db, Stdio::piped());
    if !first_line.is_empty() {
        let _ = second.kill();
        panic!("a second server started on the same file: {first_line}");
    }
    let out = second.wait_with_output().unwrap();
    assert!(!out.status.success(), "{out:?}");
    let said = stderr(&out);
    assert!(
        said.contains("is in use by another Syncscope server")
            && said.contains(&format!("http://{}", first.local_addr())),
        "{said}"
    );
    first.shutdown().await;
    let again = syncscope::start(config)
        .await
        .expect("the file is free again");
    again.shutdown().await;
}

/// The local case needs nothing copied: a server on a database file (on whatever port it
/// found) is reached by the command line with only `--db`, its address and token read
/// from beside the file. Without a server there, the default port is tried and the
/// error says so.
#[test]
fn the_cli_finds_the_local_server_on_its_database_without_url_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let (mut serve, listening) = serve_on(&db, Stdio::null());
    let cli = |command: &str, then: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_syncscope"))
            .args([command, "--db"])
            .arg(&db)
            .args(then)
            .env_remove("SYNCSCOPE_URL")
            .env_remove("SYNCSCOPE_TOKEN")
            .env_remove("SYNCSCOPE_DB")
            .output()
            .unwrap()
    };
    let added = cli(
        "fault",
        &["add", "fail", "--code", "conflict", "--event", "update"],
    );
    let sockets = cli("sockets", &[]);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        listening.starts_with("Syncscope listening on http://"),
        "{listening}"
    );
    assert!(added.status.success(), "{added:?}");
    assert!(stdout(&added).starts_with("Added rule 1:"), "{added:?}");
    assert!(sockets.status.success(), "{sockets:?}");
}
