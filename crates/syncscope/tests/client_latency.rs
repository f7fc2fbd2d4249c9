//! Client latency reports (docs/PROTOCOL.md, *Client latency*) as the server takes them:
//! the opt-in in every subscribe ack, a valid report counted per socket and overall, and
//! every malformed one ignored with a protocol error naming what is wrong, while the
//! socket stays up and nothing of it is counted.

mod inspect_support;

use inspect_support::*;
use serde_json::{json, Value};

fn records_of<'a>(page: &'a Value, kind: &str) -> Vec<&'a Value> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn the_server_asks_for_reports_in_every_subscribe_ack() {
    let running = server().await;
    let mut page = Sio::connect(running.local_addr()).await;
    let plain = page.request("subscribe", json!({"url": "/todos"})).await;
    assert_eq!(
        plain[1]["clientLatency"],
        json!({"interval": 1000, "samples": 200})
    );
    let query = page
        .request(
            "subscribe",
            json!({"url": "/todos", "query": {"done": true}}),
        )
        .await;
    assert_eq!(
        query[1]["clientLatency"],
        json!({"interval": 1000, "samples": 200})
    );
}

#[tokio::test]
async fn malformed_reports_are_ignored_with_a_reason_and_the_socket_stays_up() {
    let running = server().await;
    let control = Control::of(&running);
    let mut page = Sio::connect(running.local_addr()).await;
    let bad = [
        (json!("fast"), "got a string"),
        (json!({}), "needs `samples`"),
        (json!({"samples": [12]}), "needs `samples`"),
        (json!({"samples": {"subscribe": [3]}}), "\"subscribe\""),
        (json!({"samples": {"read": 3}}), "`samples.read`"),
        (json!({"samples": {"read": [1, -1]}}), "`samples.read[1]`"),
        (json!({"samples": {"read": [1, "2"]}}), "`samples.read[1]`"),
        (
            json!({"samples": {"update": [1e300]}}),
            "`samples.update[0]`",
        ),
        (json!({"samples": {"read": vec![1; 5000]}}), "at most 200"),
    ];
    for (report, says) in &bad {
        let ack = page.request("client_latency", report.clone()).await;
        assert_eq!(ack[0]["code"], "bad_request", "{report}: {ack:?}");
        let message = ack[0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{report}: {message}");
        // Without an ack, the same is only said in the log.
        page.emit("client_latency", report.clone()).await;
    }
    // The socket is still served, and nothing was counted.
    let read = page.request("read", json!({"url": "/todos"})).await;
    assert!(read[0].is_null(), "{read:?}");
    let stats = control.get("/stats").await;
    assert_eq!(stats["client_latency"]["count"], 0);
    assert_eq!(stats["client_latency"]["reporting"], 0);
    let sockets = control.get("/sockets").await;
    assert_eq!(sockets[0]["client_latency"], Value::Null);
    assert_eq!(
        sockets[0]["events_in"], 1,
        "only the read counts as a request"
    );

    // Each ignored report is a protocol error of the socket, naming the event and why.
    // (The recorder writes in the background: wait until it has them all.)
    let mut page_of_log = control.get("/events?limit=1000").await;
    for _ in 0..100 {
        if records_of(&page_of_log, "protocol_error").len() >= bad.len() * 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page_of_log = control.get("/events?limit=1000").await;
    }
    let errors = records_of(&page_of_log, "protocol_error");
    assert_eq!(errors.len(), bad.len() * 2, "{errors:#?}");
    for e in &errors {
        assert_eq!(e["event"], "client_latency");
        assert_eq!(e["socket"], json!(page.sid));
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("report ignored: "),
            "{e}"
        );
    }
    assert!(records_of(&page_of_log, "event_in")
        .iter()
        .all(|r| r["event"] != "client_latency"));

    // A valid report after them all is taken.
    let ack = page
        .request(
            "client_latency",
            json!({"samples": {"update": [400.5, 12], "read": [3]}}),
        )
        .await;
    assert_eq!(ack, vec![Value::Null, json!({"samples": 3})]);
    let stats = control.get("/stats").await;
    let overall = &stats["client_latency"];
    assert_eq!(
        (overall["count"].clone(), overall["reporting"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(overall["max_us"], 400_500);
    let update = overall["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "update")
        .expect("the update's figures");
    assert_eq!(
        (update["count"].clone(), update["p99_us"].clone()),
        (json!(2), json!(400_500))
    );
    let sockets = control.get("/sockets").await;
    assert_eq!(sockets[0]["client_latency"]["count"], 3);

    // A socket that leaves takes its round trips with it.
    page.close().await;
    for _ in 0..100 {
        if control.get("/stats").await["client_latency"]["reporting"] == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the gone socket's round trips are still counted");
}
