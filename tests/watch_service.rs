//! A receiver run as a service and watched from elsewhere: `glwatch attach` over HTTPS with a token file on a real
//! terminal (tmux), retention on a receiver that gets no traffic, a flood of wrong watch tokens, and the watch
//! socket of `glwatch demo`. The real binary, real TLS and real sockets throughout.

mod common;

use common::tmux::Tmux;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_glwatch");

/// The address of the HTTPS watch endpoint, from the receiver's stderr.
fn watch_addr(rx: &Receiver) -> SocketAddr {
    let line = rx.wait_stderr("glwatch: watch endpoint on https://");
    let rest = line.split("https://").nth(1).unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

fn journal_records(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for (_, path) in glwatch::journal::segments(&dir.join("glwatch-data/journal.jsonl")).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    out
}

#[tokio::test]
async fn attach_over_https_with_a_token_file_shows_events_and_names_its_target() {
    let files = tempfile::tempdir().unwrap();
    let token = files.path().join("watch-token");
    std::fs::write(&token, "attach-token-0123456789\n").unwrap();
    let wrong = files.path().join("wrong-token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let rx = Receiver::start(&[
        "--secret",
        SECRET,
        "--watch-listen",
        "127.0.0.1:0",
        "--watch-token-file",
        token.to_str().unwrap(),
    ]);
    let target = format!("https://127.0.0.1:{}", watch_addr(&rx).port());
    send_events(&rx, "before", 2).await;

    let tmux = Tmux::shell(files.path(), 200, 40).await;
    let attach =
        |token: &Path| format!("{BIN} attach {target} --token-file {} --ca {}", token.display(), rx.ca().display());
    tmux.command(&attach(&token));
    let screen = tmux
        .wait_until("the history over HTTPS", |s| s.contains("2 of 2 events shown") && s.contains("● connected"))
        .await;
    assert!(screen.contains(&format!("attached to {target}")), "the header names the target: {screen}");
    send_events(&rx, "live", 1).await;
    let screen = tmux.wait_for("3 of 3 events shown").await;
    assert!(screen.contains("live-0"), "the live event is listed: {screen}");
    tmux.keys(&["q"]);
    tmux.wait_for_prompt("attach to quit").await;

    // A wrong token is refused for good: the header says so, no retrying against a 401.
    tmux.command(&attach(&wrong));
    let screen = tmux.wait_until("the refusal", |s| s.contains("● failed:")).await;
    assert!(screen.contains("401 Unauthorized"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for_prompt("attach to quit").await;
    // The receiver was untouched by both dashboards.
    send_events(&rx, "after", 1).await;
}

#[tokio::test]
async fn retention_deletes_old_segments_of_a_running_receiver_that_gets_no_traffic() {
    let dir = tempfile::tempdir().unwrap();
    // Kept 2 s; checked every 0.2 s instead of every minute, so the test need not wait.
    let rx = Receiver::start_in(
        dir.path(),
        &["--secret", SECRET, "--journal-segment-size", "4K", "--journal-keep", "2s", "--journal-check-every", "0.2"],
    );
    send_events(&rx, "r", 30).await;
    let base = dir.path().join("glwatch-data/journal.jsonl");
    let segments = || glwatch::journal::segments(&base).unwrap();
    let written = segments();
    // Segments rolled while the events came in; the one before the newest holds records younger than the limit
    // at its roll, so retention at rolls alone never deletes it.
    assert!(written.len() >= 2, "the events filled several segments: {written:?}");
    let newest = written.last().unwrap().clone();
    let total = journal_records(dir.path()).len();

    // No delivery from here on: only the periodic check can delete.
    assert!(
        wait_until(WAIT, || segments().len() == 1).await,
        "the old segments of an idle receiver were deleted: {:?}",
        segments()
    );
    assert_eq!(segments(), std::slice::from_ref(&newest), "the segment being written stays");
    let kept = journal_records(dir.path());
    assert!(!kept.is_empty() && kept.len() < total, "{} of {total} records kept", kept.len());
    let first = kept[0]["seq"].as_u64().unwrap();
    assert!(first > 1);
    assert_eq!(kept.last().unwrap()["seq"].as_u64(), Some(total as u64), "the newest records are all there");

    // The metrics size what is left; tail says where history now begins.
    let socket = dir.path().join("glwatch-data/glwatch.sock");
    let (_, metrics) = get_unix(&socket, "/metrics");
    let size = std::fs::metadata(&newest.1).unwrap().len();
    assert_eq!(metric(&metrics, "glwatch_journal_bytes"), Some(size as f64), "{metrics}");
    let out = Command::new(BIN).args(["tail", &format!("unix:{}", socket.display())]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("glwatch: history begins at seq {first} (")), "{err}");
    // And the receiver goes on writing to it.
    send_events(&rx, "later", 1).await;
    assert_eq!(journal_records(dir.path()).len(), kept.len() + 1);
}

#[tokio::test]
async fn a_flood_of_wrong_watch_tokens_is_recorded_as_a_few_records_and_counted_in_full() {
    let rx = Receiver::start(&["--secret", SECRET, "--watch-listen", "127.0.0.1:0", "--watch-token", "right-token"]);
    let client = Client::new(watch_addr(&rx), &rx.ca());
    const FLOOD: usize = 300;
    let started = Instant::now();
    let mut sender = client.connect().await;
    for i in 0..FLOOD {
        let headers: &[(&str, &str)] = if i % 3 == 0 { &[] } else { &[("authorization", "Bearer guess")] };
        let reply = send_to(&mut sender, "GET", "/v1/records", headers, b"").await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let elapsed = started.elapsed();
    let right = send_to(&mut sender, "GET", "/healthz", &[("authorization", "Bearer right-token")], b"").await;
    assert_eq!(right.status, 200, "{}", right.body);

    // Every refusal is counted, summaries included, once their one-second windows close.
    let socket = rx.dir.join("glwatch-data/glwatch.sock");
    let counted = || metric(&get_unix(&socket, "/metrics").1, "glwatch_rejected_total{status=\"401\"}");
    assert!(wait_until(WAIT, || counted() == Some(FLOOD as f64)).await, "counted {:?}", counted());
    let refused: Vec<Value> = journal_records(&rx.dir)
        .into_iter()
        .filter(|r| r["reason"].as_str().is_some_and(|s| s.starts_with("watch endpoint: ")))
        .collect();
    let stood_for: u64 = refused.iter().map(|r| r["count"].as_u64().unwrap_or(1)).sum();
    assert_eq!(stood_for, FLOOD as u64, "every refusal is in the journal, one by one or in a summary");
    // At most three shown and one summary per reason (two reasons) in each second the flood lasted.
    let windows = elapsed.as_secs() + 2;
    assert!(refused.len() as u64 <= 8 * windows, "{} records for {FLOOD} refusals in {elapsed:?}", refused.len());
    assert!(refused.iter().any(|r| r["count"].as_u64().is_some_and(|c| c > 1)), "a summary: {refused:?}");
    let reasons: std::collections::BTreeSet<&str> = refused.iter().filter_map(|r| r["reason"].as_str()).collect();
    assert_eq!(
        reasons.into_iter().collect::<Vec<_>>(),
        ["watch endpoint: missing token", "watch endpoint: wrong token"]
    );
    for r in &refused {
        assert!(!r.to_string().contains("guess"), "a guessed token is never written: {r}");
    }
}

#[tokio::test]
async fn the_demo_serves_a_watch_socket_that_tail_follows() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let socket = elsewhere.path().join("demo.sock");
    let tmux = Tmux::shell(dir.path(), 260, 50).await;
    tmux.command(&format!("{BIN} demo --rate 20 --watch-socket {}", socket.display()));
    let screen = tmux.wait_until("events on the demo's dashboard", |s| s.contains(" events shown")).await;
    assert!(screen.contains(&format!("watch unix:{}", socket.display())), "the header says where: {screen}");

    let mut tail = Command::new(BIN)
        .args(["tail", "-f", &format!("unix:{}", socket.display())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines(tail.stdout.take().unwrap());
    let mut last = 0;
    for _ in 0..3 {
        let line = lines.recv_timeout(WAIT).expect("the demo's records reach tail -f");
        let record: Value = serde_json::from_str(&line).unwrap();
        let seq = record["seq"].as_u64().unwrap();
        assert!(seq > last, "in order: {line}");
        last = seq;
    }
    let _ = tail.kill();
    let _ = tail.wait();

    tmux.keys(&["q"]);
    tmux.wait_for_prompt("the demo to quit").await;
    assert!(!socket.exists(), "the socket is removed when the demo stops");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the demo wrote to its working directory");
}
