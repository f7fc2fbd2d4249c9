//! `/events` pages a session both ways: `after` forward, `before` backward, each page
//! oldest first, with the cursors to go on and, when asked, the matching total.

mod inspect_support;

use inspect_support::*;
use serde_json::{json, Value};

fn seqs(page: &Value) -> Vec<u64> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_session_pages_backward_from_a_cursor_and_forward_again() {
    let running = server().await;
    let control = Control::of(&running);
    let mut a = Sio::connect(running.local_addr()).await;
    for i in 0..300 {
        a.request("read", json!({"url": format!("/todos/{i}")}))
            .await;
    }
    // connect + 300 × (event_in, ack_out)
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = control.get("/stats").await;
        if s["recorder_queued"] == 0 && s["recording"]["recorded"].as_u64().unwrap() >= 601 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recorder writes: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Everything, forward, as the reference.
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = control
            .get(&format!("/events?after={after}&limit=100"))
            .await;
        all.extend(seqs(&page));
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert!(all.len() >= 601, "{}", all.len());
    assert!(all.windows(2).all(|w| w[0] < w[1]));

    // From the middle: a page after a cursor knows there is something before it.
    let mid = all[400];
    let page = control
        .get(&format!("/events?after={mid}&limit=50&total=true"))
        .await;
    assert_eq!(seqs(&page), all[401..451].to_vec());
    assert_eq!(page["prev"].as_u64(), Some(all[401]));
    assert_eq!(page["next"].as_u64(), Some(all[450]));
    assert_eq!(page["total"].as_u64(), Some(all.len() as u64));

    // Backward from there, page by page, down to the first record.
    let mut back = Vec::new();
    let mut before = page["prev"].as_u64();
    let mut pages = 0;
    while let Some(b) = before {
        let page = control.get(&format!("/events?before={b}&limit=50")).await;
        let s = seqs(&page);
        assert!(s.windows(2).all(|w| w[0] < w[1]), "oldest first: {s:?}");
        assert!(s.iter().all(|&x| x < b));
        assert_eq!(
            page["next"].as_u64(),
            s.last().copied(),
            "next goes forward again"
        );
        assert_eq!(page["total"], Value::Null, "not asked");
        back.splice(0..0, s);
        before = page["prev"].as_u64();
        pages += 1;
    }
    assert_eq!(back, all[..401].to_vec());
    assert_eq!(pages, 9, "401 records in pages of 50");

    // Forward again from a backward page's `next`.
    let page = control
        .get(&format!("/events?before={}&limit=10", all[100]))
        .await;
    assert_eq!(seqs(&page), all[90..100].to_vec());
    let next = page["next"].as_u64().unwrap();
    let page = control.get(&format!("/events?after={next}&limit=10")).await;
    assert_eq!(seqs(&page), all[100..110].to_vec());

    // The start of the session has nothing before it.
    let page = control.get("/events?limit=10").await;
    assert_eq!(page["prev"], Value::Null);
    let page = control
        .get(&format!("/events?before={}&limit=10", all[0]))
        .await;
    assert!(seqs(&page).is_empty());
    assert_eq!(page["prev"], Value::Null);

    // With a filter: backward pages and the total count only matching records.
    let acks: Vec<u64> = {
        let mut v = Vec::new();
        let mut after = 0;
        loop {
            let page = control
                .get(&format!("/events?kinds=ack_out&after={after}&limit=1000"))
                .await;
            v.extend(seqs(&page));
            match page["next"].as_u64() {
                Some(n) => after = n,
                None => break,
            }
        }
        v
    };
    assert_eq!(acks.len(), 300);
    let page = control
        .get(&format!(
            "/events?kinds=ack_out&before={}&limit=20&total=true",
            acks[250]
        ))
        .await;
    assert_eq!(seqs(&page), acks[230..250].to_vec());
    assert_eq!(page["prev"].as_u64(), Some(acks[230]));
    assert_eq!(page["total"].as_u64(), Some(300));
    a.close().await;
    running.shutdown().await;
}
