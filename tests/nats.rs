//! Receivers publishing into real `nats-server -js` processes on loopback: acks before answers, dedupe across
//! receivers, NATS down and back, and a three-node cluster with three replicas losing a node.

mod common;

use common::nats::{have_nats_server, jetstream_on, Nats};
use common::{audit_event, free_port, Receiver, SECRET, WAIT};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Every message of the stream: (subject, Nats-Msg-Id, record), read back from the first sequence. Waits until
/// the stream answers (a cluster may still be electing a leader).
async fn messages(js: &async_nats::jetstream::Context, stream: &str) -> Vec<(String, String, Value)> {
    let mut found = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while found.is_none() && tokio::time::Instant::now() < deadline {
        if let Ok(mut s) = js.get_stream(stream).await {
            if let Ok((first, last)) = s.info().await.map(|i| (i.state.first_sequence, i.state.last_sequence)) {
                found = Some((s, first, last));
                continue;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, first, last) = found.expect("the stream answers");
    let mut out = Vec::new();
    for seq in first.max(1)..=last {
        let m = s.get_raw_message(seq).await.unwrap_or_else(|e| panic!("message {seq}: {e}"));
        let id = m.headers.get("Nats-Msg-Id").map(|v| v.to_string()).unwrap_or_default();
        let record: Value = serde_json::from_slice(&m.payload).expect("the payload is a record line");
        out.push((m.subject.to_string(), id, record));
    }
    out
}

/// GET over the receiver's local watch socket.
fn get_unix(dir: &Path, path: &str) -> (u16, String) {
    common::get_unix(&dir.join("glwatch-data/glwatch.sock"), path)
}

fn receiver(nats: &[String], extra: &[&str]) -> Receiver {
    receiver_said(nats, extra).0
}

/// A receiver, and its banner's NATS line.
fn receiver_said(nats: &[String], extra: &[&str]) -> (Receiver, String) {
    let seeds = nats.join(",");
    let mut args = vec!["--secret", SECRET, "--nats", &seeds];
    args.extend_from_slice(extra);
    let rx = Receiver::start(&args);
    let said = rx.wait_stderr("glwatch: NATS ");
    (rx, said)
}

/// Posts `id` until it is answered 2xx, as GreenLake retries; returns the answers' statuses.
async fn deliver(rx: &Receiver, id: &str) -> Vec<u16> {
    let client = rx.client();
    let mut statuses = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let reply = client.post_signed(SECRET, &audit_event(id)).await;
        statuses.push(reply.status);
        if reply.status == 200 || std::time::Instant::now() > deadline {
            return statuses;
        }
        assert_eq!(reply.status, 503, "{id}: {reply:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ids(messages: &[(String, String, Value)]) -> Vec<String> {
    let mut ids: Vec<String> = messages.iter().map(|(_, _, r)| r["event"]["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_accepted_event_is_in_the_stream_before_it_is_acknowledged() {
    let Some(node) = Nats::start() else { return };
    let (rx, said) = receiver_said(&[node.url()], &[]);
    assert!(said.ends_with("stream GLWATCH (file, 1 replica(s), duplicate window 12h) created"), "{said}");
    let client = rx.client();
    for i in 0..5 {
        let reply = client.post_signed(SECRET, &audit_event(&format!("e-{i}"))).await;
        assert_eq!((reply.status, reply.json()), (200, serde_json::json!({"accepted": 1, "duplicates": 0})));
    }
    let js = jetstream_on(&[node.url()]).await;
    let found = messages(&js, "GLWATCH").await;
    assert_eq!(ids(&found), ["e-0", "e-1", "e-2", "e-3", "e-4"]);
    for (subject, msg_id, record) in &found {
        assert_eq!(subject, "glwatch.event.com.hpe.greenlake.audit-log.v1.logs.created");
        assert_eq!(msg_id.len(), 64, "a Nats-Msg-Id derived from (source, id)");
        assert_eq!((record["kind"].as_str(), record["duplicate"].as_bool()), (Some("event"), Some(false)));
    }
    // The stream glwatch created: on disk, the replicas and window asked for.
    let config = js.get_stream("GLWATCH").await.unwrap().cached_info().config.clone();
    assert_eq!(config.subjects, ["glwatch.>"]);
    assert_eq!(config.storage, async_nats::jetstream::stream::StorageType::File);
    assert_eq!(config.duplicate_window, Duration::from_secs(12 * 3600));

    let (status, health) = get_unix(&rx.dir, "/healthz");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!((status, health["nats"]["state"].as_str()), (200, Some("connected")), "{health}");
    let (_, metrics) = get_unix(&rx.dir, "/metrics");
    for line in ["glwatch_nats_connected 1", "glwatch_nats_published_total 5", "glwatch_nats_publish_failures_total 0"]
    {
        assert!(metrics.lines().any(|l| l == line), "{line:?} missing from:\n{metrics}");
    }

    // A receiver started against a stream that differs says what differs and does not start.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--secret", SECRET, "--no-journal", "--no-watch-socket"])
        .args(["--nats", &node.url(), "--nats-replicas", "3", "--nats-duplicate-window", "1h"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("NATS stream GLWATCH is not as asked: it has 1 replica(s), --nats-replicas says 3; its duplicate window is 12h, --nats-duplicate-window says 1h"),
        "{stderr}"
    );
}

#[tokio::test]
async fn two_receivers_sharing_the_stream_take_a_redelivery_once() {
    let Some(node) = Nats::start() else { return };
    let a = receiver(&[node.url()], &[]);
    let b = receiver(&[node.url()], &["--no-journal"]);
    let first = a.client().post_signed(SECRET, &audit_event("same")).await;
    assert_eq!((first.status, first.json()), (200, serde_json::json!({"accepted": 1, "duplicates": 0})));
    // GreenLake's retry reaches the other receiver: acknowledged, as a duplicate, and not stored twice.
    let retry = b.client().post_signed(SECRET, &audit_event("same")).await;
    assert_eq!((retry.status, retry.json()), (200, serde_json::json!({"accepted": 0, "duplicates": 1})));
    // Counted as a re-delivery, as a local one would be (and, like one, not printed on stdout again).
    let (_, metrics) = get_unix(&b.dir, "/metrics");
    for line in ["glwatch_duplicates_total 1", "glwatch_nats_duplicates_total 1", "glwatch_nats_published_total 0"] {
        assert!(metrics.lines().any(|l| l == line), "{line:?} missing from:\n{metrics}");
    }
    let other = b.client().post_signed(SECRET, &audit_event("other")).await;
    assert_eq!(other.json(), serde_json::json!({"accepted": 1, "duplicates": 0}));
    let found = messages(&jetstream_on(&[node.url()]).await, "GLWATCH").await;
    assert_eq!(ids(&found), ["other", "same"]);
}

#[tokio::test]
async fn nats_down_is_503_with_retry_after_and_deliveries_resume_when_it_is_back() {
    let Some(mut node) = Nats::start() else { return };
    let rx = receiver(&[node.url()], &["--nats-timeout", "2s"]);
    let client = rx.client();
    assert_eq!(client.post_signed(SECRET, &audit_event("before")).await.status, 200);

    node.kill();
    let mut acknowledged = vec!["before".to_owned()];
    let mut refused = None;
    for i in 0.. {
        let reply = client.post_signed(SECRET, &audit_event(&format!("down-{i}"))).await;
        if reply.status == 503 {
            refused = Some(reply);
            break;
        }
        // Taken before the link was seen to drop: the stream must hold it.
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(format!("down-{i}"));
        assert!(i < 1000, "never refused with NATS down");
    }
    let refused = refused.unwrap();
    assert_eq!(refused.header("retry-after"), Some("5"), "{refused:?}");
    assert!(refused.body.contains("NATS"), "{}", refused.body);
    let (status, health) = get_unix(&rx.dir, "/healthz");
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("\"state\":\"disconnected\""), "{health}");
    // A receiver can start while NATS is down: it says so and answers 503 until NATS is back.
    let (late, said) = receiver_said(&[node.url()], &["--nats-timeout", "2s", "--no-journal"]);
    assert!(said.contains("not reachable yet; answering 503 until it is"), "{said}");
    assert_eq!(late.client().post_signed(SECRET, &audit_event("late")).await.status, 503);

    node.restart();
    for (rx, id) in [(&rx, "after"), (&late, "late")] {
        let statuses = deliver(rx, id).await;
        assert_eq!(statuses.last(), Some(&200), "{id}: {statuses:?}");
        acknowledged.push(id.into());
    }
    // Whatever was answered 2xx is in the stream; a refused one may be too (its ack came late), never twice.
    let found = ids(&messages(&jetstream_on(&[node.url()]).await, "GLWATCH").await);
    for id in &acknowledged {
        assert_eq!(found.iter().filter(|f| *f == id).count(), 1, "{id} in {found:?}");
    }
}

#[tokio::test]
async fn a_three_node_cluster_with_three_replicas_loses_nothing_when_a_node_or_a_receiver_dies() {
    if !have_nats_server() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes: Vec<Nats> =
        (0..3).map(|i| Nats::node(dir.path(), &format!("n{i}"), Some((cluster[i], &cluster)))).collect();
    let urls: Vec<String> = nodes.iter().map(Nats::url).collect();
    let js = jetstream_on(&urls).await;
    // JetStream answers once the cluster has elected its meta leader.
    let mut ready = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready && tokio::time::Instant::now() < deadline {
        // "No such stream" is an answer from the meta leader; a timeout or no responders is not.
        ready = match js.get_stream("GLWATCH").await {
            Ok(_) => true,
            Err(e) => matches!(e.kind(), async_nats::jetstream::context::GetStreamErrorKind::JetStream(_)),
        };
        if !ready {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let logs: Vec<String> = nodes.iter().map(Nats::log).collect();
    assert!(ready, "the cluster's JetStream never answered: {logs:#?}");
    // A leader election can take seconds on a loaded machine: the timeout covers it, so none is refused.
    let flags = ["--nats-replicas", "3", "--nats-timeout", "30s"];
    let mut a = receiver(&urls, &flags);
    let b = receiver(&urls, &flags);
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let rx = if i % 2 == 0 { &a } else { &b };
        let reply = rx.client().post_signed(SECRET, &audit_event(&format!("r3-{i}"))).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(format!("r3-{i}"));
    }
    let leader = js.get_stream("GLWATCH").await.unwrap().info().await.unwrap().cluster.clone().unwrap().leader.unwrap();
    let dead = nodes.iter().position(|n| n.name == leader).unwrap();
    nodes[dead].kill();
    for i in 20..40 {
        let rx = if i % 2 == 0 { &a } else { &b };
        let id = format!("r3-{i}");
        let reply = rx.client().post_signed(SECRET, &audit_event(&id)).await;
        assert_eq!(reply.status, 200, "after killing the stream leader {leader}: {reply:?}");
        acknowledged.push(id);
    }
    // The same events again, to the other receiver: all duplicates.
    for i in 0..40 {
        let rx = if i % 2 == 0 { &b } else { &a };
        let reply = rx.client().post_signed(SECRET, &audit_event(&format!("r3-{i}"))).await;
        assert_eq!((reply.status, reply.json()["duplicates"].as_u64()), (200, Some(1)), "{reply:?}");
    }
    // A receiver dies too (kill -9): the load balancer sends everything to the one left, which takes new events
    // and still knows every earlier one, whichever receiver took it.
    a.signal("-KILL");
    a.wait_exit();
    for i in 40..50 {
        let id = format!("r3-{i}");
        let reply = b.client().post_signed(SECRET, &audit_event(&id)).await;
        assert_eq!(reply.status, 200, "after killing a receiver: {reply:?}");
        acknowledged.push(id);
    }
    for i in (0..50).step_by(3) {
        let reply = b.client().post_signed(SECRET, &audit_event(&format!("r3-{i}"))).await;
        assert_eq!((reply.status, reply.json()["duplicates"].as_u64()), (200, Some(1)), "{reply:?}");
    }
    let alive: Vec<String> = nodes.iter().filter(|n| n.running()).map(Nats::url).collect();
    let found = ids(&messages(&jetstream_on(&alive).await, "GLWATCH").await);
    acknowledged.sort();
    assert_eq!(found, acknowledged, "each acknowledged event once, none lost");
}
