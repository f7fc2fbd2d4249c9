//! When the bus outruns the recorder, records are dropped, counted and reported, and
//! the queue never grows past its capacity.

mod inspect_support;

use std::time::Duration;

use inspect_support::*;
use serde_json::json;
use syncscope::inspect::types::{Body, Origin};
use syncscope::Config;

#[tokio::test]
async fn under_a_load_that_outruns_the_recorder_memory_stays_bounded_and_the_loss_is_reported() {
    let running = server_with(Config {
        recorder_capacity: 64,
        ..Config::default()
    })
    .await;
    let control = Control::of(&running);
    let bus = &running.inspector().bus;
    // Published without yielding: the recorder's task cannot run meanwhile (this test
    // runs on one thread), so it is outrun by construction.
    let published = 20_000u64;
    for i in 0..published {
        bus.publish(
            Some("load"),
            Origin::Client,
            Some("/load".into()),
            Body::EventIn {
                event: "create".into(),
                args: json!({ "url": "/load", "data": { "i": i, "pad": "x".repeat(200) } }),
                ack_id: None,
            },
        );
        let queued = running.inspector().recorder().queued();
        assert!(queued <= 64, "queue grew to {queued}");
    }
    let stats = control.get("/stats").await;
    assert!(stats["recorder_queued"].as_u64().unwrap() <= 64);
    let lost = stats["recorder_lost"].as_u64().unwrap();
    assert!(lost >= published - 64, "lost {lost}: {stats}");

    // Once the writer caught up, the session says how many it holds and how many it lost.
    let deadline = tokio::time::Instant::now() + WAIT;
    let session = loop {
        let sessions = control.get("/sessions").await;
        let s = sessions[0].clone();
        if s["recorded"].as_u64().unwrap() + s["lost"].as_u64().unwrap() == published {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(session["lost"].as_u64().unwrap(), lost);
    assert!(session["recorded"].as_u64().unwrap() <= 64);
    let page = control.get("/events?limit=1000").await;
    assert_eq!(
        page["records"].as_array().unwrap().len() as u64,
        session["recorded"].as_u64().unwrap()
    );

    // The server still works and records again once the load is gone.
    let mut client = Sio::connect(running.local_addr()).await;
    client.request("read", json!({"url": "/todos"})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = control.get("/events?kinds=ack_out").await;
        if page["records"].as_array().unwrap().len() == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_watcher_that_reads_too_slowly_is_told_how_many_records_it_missed() {
    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({})).await;
    let bus = &running.inspector().bus;
    // More than a watcher may lag behind, published before it can read any.
    for _ in 0..10_000 {
        bus.publish(
            None,
            Origin::Server,
            None,
            Body::ProtocolError {
                message: "noise".into(),
                event: None,
            },
        );
    }
    let mut missed = 0;
    let mut received = 0;
    while received + missed < 10_000 {
        if let syncscope::inspect::types::ServerMessage::Batch {
            records, missed: m, ..
        } = watcher.message().await
        {
            received += records.len() as u64;
            missed += m;
        }
    }
    assert_eq!(received + missed, 10_000);
    assert!(missed > 0, "some were missed and said so");
    running.shutdown().await;
}

#[tokio::test]
async fn large_records_are_dropped_and_counted_once_the_recorders_byte_budget_is_spent() {
    let running = server_with(Config {
        recorder_max_bytes: 1024 * 1024,
        ..Config::default()
    })
    .await;
    let control = Control::of(&running);
    let bus = &running.inspector().bus;
    let big = "x".repeat(100 * 1024);
    for _ in 0..100 {
        bus.publish(
            Some("big"),
            Origin::Client,
            None,
            Body::EventIn {
                event: "create".into(),
                args: json!({ "data": { "blob": big } }),
                ack_id: None,
            },
        );
        assert!(running.inspector().recorder().queued_bytes() <= 1024 * 1024);
    }
    let stats = control.get("/stats").await;
    let lost = stats["recorder_lost"].as_u64().unwrap();
    assert!((90..100).contains(&lost), "lost {lost}: {stats}");
    running.shutdown().await;
}
