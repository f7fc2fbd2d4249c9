//! The bus: every observable thing of a real socket becomes one record, with the
//! right fields, in the right order; acks pair with their requests.

mod inspect_support;

use inspect_support::*;
use serde_json::json;
use syncscope::inspect::types::{Body, Origin, Record, Target};

fn find(records: &[Record], pred: impl Fn(&Record) -> bool) -> &Record {
    records
        .iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no such record in {records:#?}"))
}

#[tokio::test]
async fn each_record_kind_appears_with_its_fields_in_the_order_things_happened() {
    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({})).await;

    let mut writer = Sio::connect_with(running.local_addr(), Some(json!({"user": "ann"}))).await;
    let mut reader = Sio::connect(running.local_addr()).await;
    reader.request("subscribe", json!({"url": "/todos"})).await;
    writer
        .request(
            "create",
            json!({"url": "/todos", "data": {"id": 1, "title": "milk"}}),
        )
        .await;
    assert_eq!(reader.next_event().await.0, "change");
    writer
        .request(
            "update",
            json!({"url": "/todos/1", "data": {"title": "x"}, "version": 7}),
        )
        .await;
    writer.emit("no_such_event", json!({})).await;
    reader
        .request("unsubscribe", json!({"url": "/todos"}))
        .await;
    let writer_sid = writer.sid.clone();
    writer.close().await;

    let records = watcher
        .until(|rs| rs.iter().any(is_disconnect_of(&writer_sid)))
        .await
        .to_vec();
    let mine: Vec<&Record> = records
        .iter()
        .filter(|r| r.socket.as_deref() == Some(writer_sid.as_str()))
        .collect();
    let kinds: Vec<&str> = mine.iter().map(|r| r.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "connect",
            "event_in",
            "ack_out",
            // the channel's `change` only: nobody listens in the iobind dialect
            "push_out",
            "event_in",
            "ack_out",
            "event_in",
            "protocol_error",
            "disconnect"
        ],
        "{mine:#?}"
    );
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs grow: {seqs:?}");

    match &mine[0].body {
        Body::Connect {
            transport,
            protocol,
            remote_addr,
            user_agent,
            http_origin,
            auth,
            query,
            ..
        } => {
            assert_eq!(transport, "websocket");
            assert_eq!(protocol, "EIO4");
            assert!(remote_addr.as_deref().unwrap().starts_with("127.0.0.1:"));
            assert_eq!(user_agent.as_deref(), Some("inspect-test/1"));
            assert_eq!(http_origin.as_deref(), Some("http://localhost:3000"));
            assert_eq!(auth, &json!({"user": "ann"}));
            assert!(query.as_deref().unwrap().contains("app=test"));
        }
        other => panic!("connect first, got {other:?}"),
    }
    assert_eq!(mine[0].origin, Origin::Client);
    match &mine[1].body {
        Body::EventIn {
            event,
            args,
            ack_id,
        } => {
            assert_eq!(event, "create");
            assert_eq!(args["data"]["title"], "milk");
            assert_eq!(*ack_id, Some(0));
        }
        other => panic!("event_in, got {other:?}"),
    }
    assert_eq!(mine[1].url.as_deref(), Some("/todos"));
    match &mine[2].body {
        Body::AckOut {
            request_seq,
            event,
            dialect,
            error,
            args,
            ..
        } => {
            assert_eq!(*request_seq, mine[1].seq);
            assert_eq!(event, "create");
            assert_eq!(dialect.as_deref(), Some("native"));
            assert_eq!(*error, None);
            assert_eq!(args[0], json!(null));
            assert_eq!(args[1]["version"], 1);
        }
        other => panic!("ack_out, got {other:?}"),
    }
    assert_eq!(mine[2].origin, Origin::Server);
    match &mine[3].body {
        Body::PushOut {
            event,
            target,
            recipients,
            to,
            cause,
            args,
        } => {
            assert_eq!(event, "change");
            assert_eq!(
                *cause,
                Some(mine[1].seq),
                "the push names the request whose write it carries"
            );
            assert_eq!(
                target,
                &Target::Channel {
                    url: "/todos".into()
                }
            );
            assert_eq!(*recipients, 1, "the reader, not the writer");
            assert_eq!(to, &[reader.sid.clone()], "who received it, by id");
            assert_eq!(args[0]["op"], "create");
        }
        other => panic!("push_out, got {other:?}"),
    }
    match &mine[5].body {
        Body::AckOut {
            request_seq, error, ..
        } => {
            assert_eq!(*request_seq, mine[4].seq);
            assert_eq!(error.as_deref(), Some("conflict"));
        }
        other => panic!("error ack, got {other:?}"),
    }
    match &mine[7].body {
        Body::ProtocolError { event, .. } => assert_eq!(event.as_deref(), Some("no_such_event")),
        other => panic!("protocol_error, got {other:?}"),
    }
    match &mine[8].body {
        Body::Disconnect { reason } => assert!(reason.contains("namespace"), "{reason}"),
        other => panic!("disconnect, got {other:?}"),
    }

    let reader_kinds: Vec<&str> = records
        .iter()
        .filter(|r| r.socket.as_deref() == Some(reader.sid.as_str()))
        .map(|r| r.body.kind())
        .collect();
    assert_eq!(
        reader_kinds,
        [
            "connect",
            "event_in",
            "subscribe",
            "ack_out",
            "event_in",
            "unsubscribe",
            "ack_out"
        ]
    );
    let sub = find(&records, |r| matches!(r.body, Body::Subscribe { .. }));
    assert_eq!(sub.url.as_deref(), Some("/todos"));
    running.shutdown().await;
}

#[tokio::test]
async fn acks_pair_with_their_requests_even_when_requests_are_pipelined() {
    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control
        .watch(json!({"kinds": ["event_in", "ack_out"]}))
        .await;
    let mut client = Sio::connect(running.local_addr()).await;
    let mut ids = vec![];
    for i in 0..20 {
        let arg = json!({"url": "/todos", "data": {"id": i}});
        ids.push(client.emit_with_ack("create", arg).await);
    }
    // One of them fails: a bad url.
    ids.push(
        client
            .emit_with_ack("read", json!({"url": "/a/../b"}))
            .await,
    );
    for id in &ids {
        client.ack(*id).await;
    }
    let records = watcher
        .until(|rs| rs.iter().filter(|r| r.body.kind() == "ack_out").count() == 21)
        .await
        .to_vec();
    for record in &records {
        if let Body::AckOut {
            request_seq,
            args,
            error,
            ..
        } = &record.body
        {
            let request = find(&records, |r| r.seq == *request_seq);
            let Body::EventIn { args: req, .. } = &request.body else {
                panic!("an ack refers to a non-request {request:?}");
            };
            match error {
                None => assert_eq!(args[1]["data"]["id"], req["data"]["id"]),
                Some(code) => {
                    assert_eq!(code, "bad_request");
                    assert_eq!(req["url"], "/a/../b");
                }
            }
            assert!(request.seq < record.seq);
        }
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_socket_filter_finds_the_pushes_the_socket_received_live_and_recorded() {
    let running = server().await;
    let control = Control::of(&running);
    let mut writer = Sio::connect(running.local_addr()).await;
    let mut reader = Sio::connect(running.local_addr()).await;
    let bystander = Sio::connect(running.local_addr()).await;
    let mut watcher = control
        .watch(json!({"socket": reader.sid, "kinds": ["push_out"]}))
        .await;
    reader.request("subscribe", json!({"url": "/todos"})).await;
    writer
        .request("create", json!({"url": "/todos", "data": {"id": 1}}))
        .await;
    assert_eq!(reader.next_event().await.0, "change");

    let live = watcher.until(|rs| !rs.is_empty()).await.to_vec();
    assert_eq!(live.len(), 1, "{live:#?}");
    assert_eq!(
        live[0].socket.as_deref(),
        Some(writer.sid.as_str()),
        "the push is the writer's record, and the reader's filter finds it"
    );

    let deadline = tokio::time::Instant::now() + WAIT;
    let recorded = loop {
        let page = control
            .get(&format!("/events?socket={}&kinds=push_out", reader.sid))
            .await;
        let records = page["records"].as_array().unwrap().clone();
        if !records.is_empty() {
            break records;
        }
        assert!(tokio::time::Instant::now() < deadline, "recorded push");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["to"], json!([reader.sid]));
    let none = control
        .get(&format!("/events?socket={}&kinds=push_out", bystander.sid))
        .await;
    assert_eq!(
        none["records"].as_array().unwrap().len(),
        0,
        "a socket not subscribed received nothing"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn recorded_events_can_be_filtered_paged_and_measured() {
    let running = server().await;
    let control = Control::of(&running);
    let mut a = Sio::connect(running.local_addr()).await;
    let mut b = Sio::connect(running.local_addr()).await;
    for i in 0..5 {
        a.request(
            "create",
            json!({"url": "/todos", "data": {"id": i, "note": "findme"}}),
        )
        .await;
    }
    b.request("create", json!({"url": "/notes", "data": {"id": 1}}))
        .await;
    b.request("delete", json!({"url": "/notes/99"})).await;
    // Give the recorder a moment to write.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = control.get("/stats").await;
        if s["recorder_queued"] == 0 && s["recording"]["recorded"].as_u64().unwrap() >= 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recorder writes: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let page = control
        .get(&format!("/events?socket={}&kinds=ack_out", a.sid))
        .await;
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r["socket"] == a.sid.as_str()));

    let errors = control.get("/events?errors_only=true").await;
    let errors = errors["records"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["error"], "not_found");

    let notes = control.get("/events?channel=/notes&kinds=event_in").await;
    assert_eq!(notes["records"].as_array().unwrap().len(), 2);

    let text = control.get("/events?text=findme&kinds=event_in").await;
    assert_eq!(text["records"].as_array().unwrap().len(), 5);

    // A time range (a range dragged across a Stats chart): from the third request's
    // time to the fifth's, both ends included.
    let times: Vec<u64> = text["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["at_us"].as_u64().unwrap())
        .collect();
    let range = control
        .get(&format!(
            "/events?kinds=event_in&from_us={}&to_us={}",
            times[2], times[4]
        ))
        .await;
    let in_range: Vec<u64> = range["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["at_us"].as_u64().unwrap())
        .collect();
    assert!(
        in_range.len() >= 3 && in_range.iter().all(|t| (times[2]..=times[4]).contains(t)),
        "{in_range:?} within {}..={}",
        times[2],
        times[4]
    );

    let mut after = 0;
    let mut seen = vec![];
    loop {
        let page = control
            .get(&format!("/events?kinds=event_in&limit=3&after={after}"))
            .await;
        for r in page["records"].as_array().unwrap() {
            seen.push(r["seq"].as_u64().unwrap());
        }
        match page["next"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let latency = control.get("/latency?event=create").await;
    assert_eq!(latency["count"], 6);
    let (p50, p99, max) = (
        latency["p50_us"].as_u64().unwrap(),
        latency["p99_us"].as_u64().unwrap(),
        latency["max_us"].as_u64().unwrap(),
    );
    assert!(p50 > 0 && p50 <= p99 && p99 <= max);
    running.shutdown().await;
}

#[tokio::test]
async fn record_start_and_stop_cut_new_sessions() {
    let running = server().await;
    let control = Control::of(&running);
    let sessions = control.get("/sessions").await;
    assert_eq!(
        sessions.as_array().unwrap().len(),
        1,
        "one session on launch"
    );
    assert_eq!(sessions[0]["stopped_at_us"], json!(null));

    let (status, started) = control
        .command(json!({"command": "record_start", "name": "checkout bug"}))
        .await;
    assert_eq!(status, 200, "{started}");
    let mut client = Sio::connect(running.local_addr()).await;
    client.request("read", json!({"url": "/todos"})).await;
    let (_, stopped) = control.command(json!({"command": "record_stop"})).await;
    assert_eq!(stopped["value"]["id"], started["value"]["id"]);
    client.request("read", json!({"url": "/todos"})).await;

    let sessions = control.get("/sessions").await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions[0]["stopped_at_us"].is_u64(),
        "the launch session ended"
    );
    assert_eq!(sessions[1]["name"], "checkout bug");
    assert!(sessions[1]["stopped_at_us"].is_u64());
    let id = sessions[1]["id"].as_i64().unwrap();
    let kinds = control.session_kinds(id).await;
    assert_eq!(
        kinds,
        ["connect", "event_in", "ack_out"],
        "only what happened while recording"
    );
    assert_eq!(control.get("/stats").await["recording"], json!(null));
    running.shutdown().await;
}

#[tokio::test]
async fn a_transport_upgrade_from_polling_to_websocket_is_recorded() {
    use syncscope::sio::{Client, ConnectOptions, Transport};

    let running = server().await;
    let control = Control::of(&running);
    let mut watcher = control.watch(json!({})).await;
    let options = ConnectOptions {
        transport: Transport::PollingThenWebsocket,
        ..ConnectOptions::default()
    };
    let client = Client::connect_with(&running.local_addr().to_string(), options)
        .await
        .expect("connects by polling, then upgrades");
    assert_eq!(client.transport, Transport::Websocket);
    client.emit("read", &[json!({"url": "/todos"})]);

    let records = watcher
        .until(|rs| rs.iter().any(|r| r.body.kind() == "event_in"))
        .await;
    assert_eq!(kinds(records), ["connect", "upgrade", "event_in"]);
    match &records[0].body {
        Body::Connect { transport, .. } => assert_eq!(transport, "polling"),
        other => panic!("{other:?}"),
    }
    match &records[1].body {
        Body::Upgrade { from, to } => {
            assert_eq!((from.as_str(), to.as_str()), ("polling", "websocket"))
        }
        other => panic!("{other:?}"),
    }
    let sockets = control.get("/sockets").await;
    assert_eq!(sockets[0]["transport"], "websocket");
    running.shutdown().await;
}

#[tokio::test]
async fn under_a_burst_every_request_has_one_ack_record_and_acks_the_transport_dropped_are_recorded_as_not_sent(
) {
    let running = server().await;
    let control = Control::of(&running);
    let mut client = Sio::connect(running.local_addr()).await;
    let n = 3000;
    for i in 0..n {
        client
            .emit_with_ack("create", json!({"url": "/burst", "data": {"id": i}}))
            .await;
    }
    let acks_received = client.count_acks_until_quiet().await;

    // The recorder catches up in its own time; a loaded machine may need a while.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut records = vec![];
    loop {
        let stats = control.get("/stats").await;
        if stats["recorder_queued"] == 0 {
            let mut after = 0;
            records.clear();
            loop {
                let page = control
                    .get(&format!(
                        "/events?socket={}&kinds=ack_out,protocol_error&limit=1000&after={after}",
                        client.sid
                    ))
                    .await;
                records.extend(page["records"].as_array().unwrap().clone());
                match page["next"].as_u64() {
                    Some(next) => after = next,
                    None => break,
                }
            }
            if records.len() == n {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} records",
            records.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(control.get("/stats").await["recorder_lost"], 0);
    let acks = records.iter().filter(|r| r["kind"] == "ack_out").count();
    let not_sent: Vec<_> = records
        .iter()
        .filter(|r| r["kind"] == "protocol_error")
        .collect();
    assert_eq!(
        acks, acks_received,
        "an ack_out record is an ack the client got"
    );
    assert_eq!(acks + not_sent.len(), n);
    for r in not_sent {
        assert!(
            r["message"].as_str().unwrap().contains("was not sent"),
            "{r}"
        );
    }
    running.shutdown().await;
}

/// Under steady traffic the recorder commits at most every `MIN_COMMIT_GAP`, yet a read
/// waits for the records offered before it: an action's records are readable the moment
/// it is acked (a CLI call or a test step right after it, issue 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_an_ack_finds_that_requests_records_under_steady_traffic() {
    let running = server().await;
    let control = Control::of(&running);
    let addr = running.local_addr();
    // Another socket's writes keep the recorder's writer inside its commit gap.
    let busy = tokio::spawn(async move {
        let mut other = Sio::connect(addr).await;
        loop {
            other
                .request("create", json!({"url": "/busy", "data": {}}))
                .await;
        }
    });
    let mut me = Sio::connect(addr).await;
    for n in 0..30 {
        me.request("create", json!({"url": "/mine", "data": {"id": n}}))
            .await;
        let page = control
            .get(&format!(
                "/events?kinds=ack_out&socket={}&limit=1000",
                me.sid
            ))
            .await;
        let acks = page["records"].as_array().map_or(0, Vec::len);
        assert_eq!(acks, n + 1, "after write {n}: {page}");
    }
    busy.abort();
}
