//! Restarting the server on the same database (issue 13): the control token is kept
//! beside it in a private file, so inspector tabs and the CLI keep working; and a clean
//! stop ends the recorded session with a disconnect for every socket it closed.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::binary::{self, Served};
use support::{ok, Client};
use syncscope::inspect::client::Client as Control;
use syncscope::inspect::types::{Body, EventsPage, SessionInfo, Stats};

/// The real binary and the control token it printed.
struct Server {
    served: Served,
    addr: SocketAddr,
    token: String,
    /// Holds the server's log.
    _log: tempfile::TempDir,
}

impl Server {
    fn control(&self, token: &str) -> Control {
        Control::new(&format!("http://{}", self.addr), Some(token.to_string()))
    }

    /// SIGTERM, as a terminal's Ctrl-C or a process manager stops it, and waits for it.
    fn stop(self) {
        self.served.terminate();
        let status = self.served.wait();
        assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    }
}

/// Runs `syncscope serve ARGS` without SYNCSCOPE_TOKEN and reads the two lines it prints.
fn serve(args: &[&str]) -> Server {
    let log = tempfile::tempdir().unwrap();
    let mut served = Served::start(
        binary::serve().args(args).env_remove("SYNCSCOPE_TOKEN"),
        &log.path().join("server.log"),
    );
    let second = served.next_line();
    let token = second
        .trim()
        .strip_prefix("Control token: ")
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"))
        .to_string();
    Server {
        addr: served.addr,
        served,
        token,
        _log: log,
    }
}

fn token_file(db: &Path) -> std::path::PathBuf {
    db.with_file_name(format!(
        "{}.token",
        db.file_name().unwrap().to_string_lossy()
    ))
}

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_the_token_in_a_file_only_the_user_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("project.db");
    let server = serve(&["--db", db.to_str().unwrap()]);
    let token = server.token.clone();
    server.stop();

    let file = token_file(&db);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its user only, not {mode:o}");
    }

    let again = serve(&["--db", db.to_str().unwrap()]);
    assert_eq!(again.token, token, "the same token after a restart");
    let stats: Result<Stats, String> = again.control(&token).get("/stats", &[]).await;
    assert!(
        stats.is_ok(),
        "the kept token opens the control API: {stats:?}"
    );
}

#[tokio::test]
async fn new_token_replaces_the_kept_one_and_the_old_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("project.db");
    let first = serve(&["--db", db.to_str().unwrap()]);
    let old = first.token.clone();
    first.stop();

    let renewed = serve(&["--db", db.to_str().unwrap(), "--new-token"]);
    assert_ne!(renewed.token, old);
    assert_eq!(
        std::fs::read_to_string(token_file(&db)).unwrap().trim(),
        renewed.token,
        "the new token is the one kept"
    );
    let refused: Result<Stats, String> = renewed.control(&old).get("/stats", &[]).await;
    assert!(refused.is_err(), "the old token no longer works");
    let new = renewed.token.clone();
    renewed.stop();

    let after = serve(&["--db", db.to_str().unwrap()]);
    assert_eq!(after.token, new, "and it is kept from then on");
}

#[tokio::test]
async fn a_given_token_wins_and_leaves_the_kept_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("project.db");
    let first = serve(&["--db", db.to_str().unwrap()]);
    let kept = first.token.clone();
    first.stop();
    let given = serve(&["--db", db.to_str().unwrap(), "--token", "chosen-token"]);
    assert_eq!(given.token, "chosen-token");
    assert_eq!(
        std::fs::read_to_string(token_file(&db)).unwrap().trim(),
        kept
    );
}

#[tokio::test]
async fn a_memory_database_gets_a_fresh_token_per_launch() {
    let first = serve(&["--db", ":memory:"]);
    let second = serve(&["--db", ":memory:"]);
    assert_ne!(first.token, second.token);
    assert!(!first.token.is_empty() && !second.token.is_empty());
}

#[tokio::test]
async fn the_cli_uses_the_token_kept_beside_the_local_servers_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("project.db");
    let server = serve(&["--db", db.to_str().unwrap()]);
    let url = format!("http://{}", server.addr);
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_syncscope"))
            .args(args)
            .env_remove("SYNCSCOPE_TOKEN")
            .env_remove("SYNCSCOPE_DB")
            .output()
            .unwrap()
    };
    let found = cli(&[
        "sockets",
        "--url",
        &url,
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        found.status.success(),
        "no --token needed: {}",
        String::from_utf8_lossy(&found.stderr)
    );
    let started = cli(&[
        "record",
        "start",
        "cli",
        "--url",
        &url,
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&started.stdout).contains("Recording session"),
        "{started:?}"
    );
    // Another project's database has no token file: the server refuses the request.
    let other = dir.path().join("other.db");
    let refused = cli(&["sockets", "--url", &url, "--db", other.to_str().unwrap()]);
    assert!(!refused.status.success(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_records_a_disconnect_for_every_socket_and_the_session_ends_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stop.db");
    let server = serve(&["--db", db.to_str().unwrap()]);
    let control = server.control(&server.token);
    let mut a = Client::connect(server.addr).await;
    let b = Client::connect(server.addr).await;
    ok(&a
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);
    let sids = [a.sid.clone(), b.sid.clone()];
    // Both connects are live before the stop.
    for _ in 0..200 {
        let sockets: Vec<serde_json::Value> = control.get("/sockets", &[]).await.unwrap();
        if sockets.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop();

    let again = serve(&["--db", db.to_str().unwrap()]);
    let control = again.control(&again.token);
    let sessions: Vec<SessionInfo> = control.get("/sessions", &[]).await.unwrap();
    let stopped = &sessions[0];
    let page: EventsPage = control
        .get("/events", &[("session", stopped.id.to_string())])
        .await
        .unwrap();
    for sid in &sids {
        let disconnects: Vec<_> = page
            .records
            .iter()
            .filter(|r| r.socket.as_deref() == Some(sid))
            .filter_map(|r| match &r.body {
                Body::Disconnect { reason } => Some(reason.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            disconnects,
            vec!["server shutdown".to_string()],
            "one disconnect for {sid}: {page:#?}"
        );
    }
    let last_two: Vec<&str> = page.records[page.records.len() - 2..]
        .iter()
        .map(|r| r.body.kind())
        .collect();
    assert_eq!(
        last_two,
        ["disconnect", "disconnect"],
        "the session ends with them"
    );
    let last = page.records.iter().map(|r| r.at_us).max().unwrap();
    assert!(
        stopped.stopped_at_us.is_some_and(|at| at >= last),
        "closed by the stop itself, after its last record: {stopped:?}"
    );
}
