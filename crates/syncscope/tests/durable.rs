//! `--durable`: every commit synced to disk (SQLite synchronous=FULL) so that an OS
//! crash cannot lose an acked write either; without it, NORMAL (a crash of the server
//! process loses nothing acked; see docs/RELIABILITY.md for what is not promised).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use syncscope::store::Durability;
use syncscope::{Config, DbLocation};

/// SQLite's `synchronous` on every connection of the server's pool, for the models'
/// file and for the recorder's sessions file beside it, then on the writer's own
/// connection (the one every write commits on): 1 NORMAL, 2 FULL.
async fn synchronous_of_every_connection(durability: Durability) -> Vec<i64> {
    let dir = tempfile::tempdir().unwrap();
    let running = syncscope::start(Config {
        port: 0,
        db: DbLocation::File(dir.path().join("d.db")),
        durability,
        ..Config::default()
    })
    .await
    .expect("server starts");
    let pool = running.store().pool().clone();
    let mut held = Vec::new();
    // Every connection at once, so that none is asked twice.
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    let mut values = Vec::new();
    for conn in &mut held {
        let value: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        values.push(value);
        let sessions: i64 = sqlx::query_scalar("PRAGMA recorder.synchronous")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        values.push(sessions);
    }
    drop(held);
    values.push(running.store().writer_synchronous());
    running.shutdown().await;
    values
}

#[tokio::test]
async fn durable_syncs_every_commit_on_every_connection_and_the_default_does_not() {
    let full = synchronous_of_every_connection(Durability::Machine).await;
    assert!(full.len() > 1, "{full:?}");
    assert!(
        full.iter().all(|&v| v == 2),
        "synchronous=FULL everywhere: {full:?}"
    );
    let normal = synchronous_of_every_connection(Durability::Process).await;
    assert!(
        normal.iter().all(|&v| v == 1),
        "synchronous=NORMAL everywhere: {normal:?}"
    );
}

#[test]
fn serve_takes_durable_and_says_what_it_does() {
    let help = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--durable"), "{help}");
    assert!(help.contains("power loss"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_syncscope"))
        .args(["serve", "--durable", "--port", "0", "--db"])
        .arg(dir.path().join("d.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("Syncscope listening on"), "{line}");
}
