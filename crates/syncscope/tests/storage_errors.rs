//! Storage errors are survivable: a write that fails because the disk is full or
//! another program holds the database's lock is answered with an error saying so
//! (`storage_full`, `busy`), nothing of it is kept, and the next write succeeds as soon
//! as the cause is gone, without a restart. The recorder counts what it could not keep
//! and records again afterwards.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use support::{ok, start, Client};
use syncscope::{Config, DbLocation, Running};

const TOKEN: &str = "storage-errors-token";

fn config(db: &Path) -> Config {
    Config {
        port: 0,
        db: DbLocation::File(db.to_path_buf()),
        token: Some(TOKEN.into()),
        ..Config::default()
    }
}

/// A 2 MB tmpfs, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// None (with the reason printed) where mounting is impossible (not root, no
    /// CAP_SYS_ADMIN in a container).
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED: cannot mount a small tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a server a failed assertion left running must not keep the mount alive.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Waits out the server's busy timeout (5 s) for the ack of a request.
async fn slow_request(c: &mut Client, event: &str, arg: Value) -> Vec<Value> {
    let id = c.emit_with_ack(event, arg).await;
    for _ in 0..6 {
        if let Some(ack) = c.try_ack(id).await {
            return ack;
        }
    }
    panic!("no ack for {event} within 30 s");
}

async fn control(server: &Running, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("http://{}/_syncscope{path}", server.local_addr()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The session being recorded.
async fn current_session(server: &Running) -> Value {
    let sessions = control(server, "/sessions").await;
    sessions.as_array().unwrap().last().unwrap().clone()
}

/// Waits until the current session holds a record of the create of `marker`.
async fn recorded(server: &Running, marker: &str) -> bool {
    let session = current_session(server).await["id"].as_i64().unwrap();
    for _ in 0..100 {
        let page = control(
            server,
            &format!("/events?session={session}&text={marker}&limit=10"),
        )
        .await;
        if page["records"].as_array().is_some_and(|r| !r.is_empty()) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_full_disk_fails_one_write_with_storage_full_and_the_next_write_works_once_space_is_freed(
) {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let db = disk.path().join("app.db");
    let server = start(config(&db)).await;
    let filler = disk.path().join("filler");
    // The server's start-up (WAL, warm-up) takes a varying share of the 2 MB; the
    // filler takes most of what is left, so a few creates fill the disk.
    let filled = [900, 700, 500]
        .into_iter()
        .any(|kb| std::fs::write(&filler, vec![0u8; kb * 1024]).is_ok());
    assert!(filled, "no room left on the 2 MB disk even for the filler");
    let mut c = Client::connect(server.local_addr()).await;

    let big = "x".repeat(100 * 1024);
    let mut acked = 0;
    let full = loop {
        let ack = slow_request(
            &mut c,
            "create",
            json!({"url": "/big", "data": {"id": acked, "blob": big}}),
        )
        .await;
        if ack[0].is_null() {
            acked += 1;
            assert!(acked < 40, "a 2 MB disk took {acked} creates of 100 KB");
            continue;
        }
        break ack[0].clone();
    };
    assert_eq!(full["code"], "storage_full", "{full}");
    assert!(
        full["message"]
            .as_str()
            .unwrap()
            .contains("free some space"),
        "the message says what to do: {full}"
    );

    // The next write fails the same way while the disk is full, and is not half kept.
    let again = slow_request(
        &mut c,
        "create",
        json!({"url": "/big", "data": {"id": "again", "blob": big}}),
    )
    .await;
    assert_eq!(again[0]["code"], "storage_full", "{:?}", again);

    std::fs::remove_file(&filler).unwrap();
    let small = slow_request(
        &mut c,
        "create",
        json!({"url": "/todos", "data": {"title": "after-space-freed"}}),
    )
    .await;
    let small = ok(&small);
    assert_eq!(small["data"]["title"], "after-space-freed");
    let read = c.request("read", json!({"url": "/big"})).await;
    assert_eq!(
        ok(&read)["data"].as_array().unwrap().len(),
        acked,
        "every acked create is kept, no failed one is"
    );
    let failed = c.request("read", json!({"url": "/big/again"})).await;
    assert_eq!(failed[0]["code"], "not_found");

    // The recorder lost records while the disk was full, counted them, and records again.
    assert!(
        recorded(&server, "after-space-freed").await,
        "the recorder records again once space is freed"
    );
    let session = current_session(&server).await;
    assert!(
        session["lost"].as_u64().unwrap() > 0,
        "the records it could not keep are counted: {session}"
    );
    // The figures docs/RELIABILITY.md quotes.
    eprintln!(
        "disk full: {acked} creates of 100 KB acked on a 2 MB tmpfs, then storage_full; \
         recorder lost {} and recorded {} records",
        session["lost"], session["recorded"]
    );
    drop(c);
    server.shutdown().await;
}

#[tokio::test]
async fn a_lock_held_by_another_program_answers_busy_and_the_next_write_works_once_released() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let server = start(config(&db)).await;
    let mut c = Client::connect(server.local_addr()).await;
    ok(&c
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await);

    // Another program (here a plain SQLite connection) takes the write lock and keeps it.
    let mut other = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let busy = slow_request(
        &mut c,
        "create",
        json!({"url": "/todos", "data": {"id": 2}}),
    )
    .await;
    assert_eq!(busy[0]["code"], "busy", "{:?}", busy);
    assert!(
        busy[0]["message"]
            .as_str()
            .unwrap()
            .contains("locked by another program"),
        "{:?}",
        busy
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    let created = slow_request(
        &mut c,
        "create",
        json!({"url": "/todos", "data": {"id": 3, "title": "after-lock-released"}}),
    )
    .await;
    assert_eq!(ok(&created)["data"]["id"], 3);
    let missing = c.request("read", json!({"url": "/todos/2"})).await;
    assert_eq!(
        missing[0]["code"], "not_found",
        "the busy write was not kept"
    );
    assert!(
        recorded(&server, "after-lock-released").await,
        "the recorder records again once the lock is released"
    );
    drop(c);
    server.shutdown().await;
}

/// Group commit (crate::writer) runs the writes waiting at one moment in one
/// transaction. When SQLite fails one of them and rolls the transaction back, as it does
/// on a full disk, that write fails and its batch-mates are still kept and acked. A
/// trigger stands in for the full disk here, so that exactly one write fails; holding
/// the write lock while the clients send makes their writes one batch.
#[tokio::test]
async fn a_write_sqlite_fails_fails_alone_and_its_batch_mates_are_kept_and_acked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let server = start(config(&db)).await;
    let mut other = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER fail_poison BEFORE INSERT ON changes WHEN NEW.id = 'poison'
         BEGIN SELECT RAISE(ROLLBACK, 'failed by the test'); END",
    )
    .execute(&mut other)
    .await
    .unwrap();
    other.close().await.unwrap();

    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(Client::connect(server.local_addr()).await);
    }
    let held = server.store().lock().await;
    let mut sent = Vec::new();
    for (n, c) in clients.iter_mut().enumerate() {
        let id = if n == 3 {
            "poison".to_string()
        } else {
            format!("m{n}")
        };
        let ack = c
            .emit_with_ack("create", json!({"url": "/todos", "data": {"id": id}}))
            .await;
        sent.push(ack);
    }
    // Every write waits for the writer, which waits for the lock.
    let mut polls = 0;
    while server.store().writes_waiting() < clients.len() {
        polls += 1;
        assert!(polls < 3000, "the writes never reached the writer");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    drop(held);

    for (n, (c, ack)) in clients.iter_mut().zip(sent).enumerate() {
        let ack = c.ack(ack).await;
        if n == 3 {
            assert_eq!(ack[0]["code"], "internal", "{ack:?}");
        } else {
            assert_eq!(ok(&ack)["data"]["id"], format!("m{n}"), "{ack:?}");
        }
    }
    let read = clients[0].request("read", json!({"url": "/todos"})).await;
    let mut ids: Vec<String> = ok(&read)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["m0", "m1", "m2", "m4", "m5", "m6", "m7"]);
    drop(clients);
    server.shutdown().await;
}
