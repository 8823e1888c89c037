//! Watching a running receiver: `glwatch tail` over the local socket and over HTTPS with a token, resuming by seq
//! across restarts, the socket's permissions and life cycle, metrics, and a subscriber that stalls during a flood.
//! The real binary, real sockets and real TLS throughout.

mod common;

use common::*;
use glwatch::watch::client::{Message, Target, WatchClient};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("glwatch-data/glwatch.sock")
}

/// Every line of every journal segment, in order.
fn journal_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (_, path) in glwatch::journal::segments(&dir.join("glwatch-data/journal.jsonl")).unwrap() {
        out.extend(std::fs::read_to_string(&path).unwrap().lines().map(str::to_owned));
    }
    out
}

fn seq(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))["seq"].as_u64().unwrap()
}

/// Polls `done` until it holds, failing after [`WAIT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_socket(dir: &Path) {
    let path = socket_path(dir);
    wait_until("the watch socket", || std::os::unix::net::UnixStream::connect(&path).is_ok());
}

/// `glwatch tail ARGS` run in `dir`, until it exits.
fn tail_once(dir: &Path, args: &[&str]) -> (i32, Vec<String>, String) {
    tail_with_env(dir, args, &[])
}

/// `glwatch tail ARGS` with `env` added to its environment.
fn tail_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .arg("tail")
        .args(args)
        .current_dir(dir)
        .env("GLWATCH_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    (out.status.code().unwrap_or(-1), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `glwatch tail -f ARGS` running in `dir`, its stdout read line by line.
struct Follow {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follow {
    fn start(dir: &Path, args: &[&str]) -> Follow {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["tail", "-f"])
            .args(args)
            .current_dir(dir)
            .env("GLWATCH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follow { child, lines }
    }

    fn take(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| self.lines.recv_timeout(WAIT).unwrap_or_else(|_| panic!("tail -f printed only {i} of {n} lines")))
            .collect()
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn tail_prints_the_journal_then_follows_and_two_followers_resume_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    send_events(&rx, "a", 3).await;
    wait_socket(dir.path());

    let (code, printed, err) = tail_once(dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("glwatch: history begins at seq 1 ("), "{err}");
    assert_eq!(printed, journal_lines(dir.path()), "tail prints exactly the journal's lines");
    assert_eq!(printed.iter().map(|l| seq(l)).collect::<Vec<_>>(), [1, 2, 3]);

    let socket = format!("unix:{}", socket_path(dir.path()).display());
    let first = Follow::start(dir.path(), &[]);
    let second = Follow::start(dir.path(), &[&socket, "--after", "2"]);
    assert_eq!(first.take(3), printed);
    assert_eq!(second.take(1), printed[2..]);
    send_events(&rx, "b", 2).await;
    assert_eq!(first.take(2), journal_lines(dir.path())[3..]);
    assert_eq!(second.take(2), journal_lines(dir.path())[3..]);

    // The receiver stops and comes back: the followers reconnect and resume after their last seq.
    rx.signal("-TERM");
    rx.wait_exit();
    assert!(!socket_path(dir.path()).exists(), "the socket is removed on exit");
    drop(rx);
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    send_events(&rx, "c", 2).await;
    let all = journal_lines(dir.path());
    assert_eq!(all.iter().map(|l| seq(l)).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    assert_eq!(first.take(2), all[5..], "no gap and no repeat across the restart");
    assert_eq!(second.take(2), all[5..]);
    assert!(first.lines.recv_timeout(Duration::from_millis(300)).is_err(), "nothing more");
}

#[tokio::test]
async fn a_tail_killed_and_restarted_with_after_gets_exactly_the_missed_records() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let dir = rx.dir.clone();
    wait_socket(&dir);
    let follow = Follow::start(&dir, &["--kind", "event"]);
    send_events(&rx, "a", 2).await;
    let seen = follow.take(2);
    drop(follow);
    send_events(&rx, "b", 3).await;
    let last = seq(seen.last().unwrap()).to_string();
    let follow = Follow::start(&dir, &["--after", &last]);
    assert_eq!(follow.take(3), journal_lines(&dir)[2..]);
    send_events(&rx, "c", 1).await;
    assert_eq!(follow.take(1), journal_lines(&dir)[5..]);

    // An SSE client resumes with Last-Event-ID, which wins over the URL's starting point.
    let mut raw = std::os::unix::net::UnixStream::connect(socket_path(&dir)).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    write!(raw, "GET /v1/stream?after=0 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 4\r\n\r\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 65536];
    while !seen.contains("\n\n") || !seen.contains("id: 6\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    let ids: Vec<&str> = seen.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert_eq!(ids, ["5", "6"], "{seen}");
    assert!(seen.contains(&format!("data: {}\n", journal_lines(&dir)[5])));

    // --last and the filters read the same records.
    let (_, printed, _) = tail_once(&dir, &["--last", "2"]);
    assert_eq!(printed, journal_lines(&dir)[4..]);
    let (_, printed, _) = tail_once(&dir, &["--kind", "rejected"]);
    assert!(printed.is_empty(), "{printed:?}");
    let (_, printed, _) = tail_once(&dir, &["--type", "no-such-type"]);
    assert!(printed.is_empty(), "{printed:?}");
}

#[tokio::test]
async fn remote_watchers_need_the_token_and_a_refusal_is_recorded() {
    let rx = Receiver::start(&["--secret", SECRET, "--watch-listen", "127.0.0.1:0", "--watch-token", "s3cret-token"]);
    let dir = rx.dir.clone();
    wait_socket(&dir);
    let addr = loop {
        let line = rx.stderr_now().into_iter().find_map(|l| {
            l.strip_prefix("glwatch: watch endpoint on https://").map(|rest| rest.split('/').next().unwrap().to_owned())
        });
        if let Some(a) = line {
            break a;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let port = addr.rsplit(':').next().unwrap();
    let target = format!("https://localhost:{port}");
    send_events(&rx, "a", 1).await;
    let _event = rx.next_record();

    let ca = rx.ca();
    let ca = ca.to_str().unwrap();
    let (code, printed, err) = tail_once(&dir, &[&target, "--ca", ca, "--token", "wrong"]);
    assert_eq!(code, 1);
    assert!(printed.is_empty());
    assert!(err.contains("401 Unauthorized"), "{err}");
    let refused = rx.next_record();
    assert_eq!((refused["kind"].as_str(), refused["status"].as_u64()), (Some("rejected"), Some(401)), "{refused}");
    assert_eq!(refused["reason"], "watch endpoint: wrong token");

    let (code, printed, _) = tail_once(&dir, &[&target, "--ca", ca, "--token", "s3cret-token"]);
    assert_eq!(code, 0);
    assert_eq!(printed, journal_lines(&dir), "the refusal is in the journal too");
    // The same from the environment names `tail`, `attach` and `routes` share.
    let env = [("GLWATCH_TARGET", target.as_str()), ("GLWATCH_WATCH_CA", ca), ("GLWATCH_WATCH_TOKEN", "s3cret-token")];
    let (code, printed, err) = tail_with_env(&dir, &[], &env);
    assert_eq!((code, printed), (0, journal_lines(&dir)), "{err}");
    let (code, _, err) = tail_with_env(&dir, &[], &[("GLWATCH_WATCH_CA", ca), ("GLWATCH_WATCH_INSECURE", "true")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'--ca <PEM>' cannot be used with '--insecure'"), "{err}");
    // The socket needs no token.
    let (_, printed, _) = tail_once(&dir, &[]);
    assert_eq!(printed, journal_lines(&dir));
}

#[tokio::test]
async fn the_socket_is_private_refuses_a_second_receiver_and_replaces_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    wait_socket(dir.path());
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(socket_path(dir.path())).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A second receiver in the same directory finds the socket answering and stops with one line.
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--secret", SECRET, "--no-journal"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("glwatch: error: watch socket glwatch-data/glwatch.sock: another glwatch answers on it"),
        "{err}"
    );

    // Killed, it leaves the socket behind; the next start replaces it.
    rx.signal("-KILL");
    drop(rx);
    assert!(socket_path(dir.path()).exists());
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    wait_socket(dir.path());
    send_events(&rx, "a", 1).await;
    let (_, printed, _) = tail_once(dir.path(), &[]);
    assert_eq!(printed.len(), 1);

    // --no-watch-socket serves none.
    let other = Receiver::start(&["--secret", SECRET, "--no-watch-socket"]);
    assert!(other.banner.iter().chain(other.stderr_now().iter()).all(|l| !l.contains("watch socket")));
    assert!(!socket_path(&other.dir).exists());
}

fn get_unix(dir: &Path, path: &str) -> (u16, String) {
    common::get_unix(&socket_path(dir), path)
}

#[tokio::test]
async fn metrics_and_health_count_what_was_sent() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let dir = rx.dir.clone();
    wait_socket(&dir);
    send_events(&rx, "m", 4).await;
    let client = rx.client();
    assert_eq!(client.post_signed(SECRET, &audit_event("m-0")).await.status, 200, "a re-delivery");
    assert_eq!(client.post_signed("wrong-secret", &audit_event("x")).await.status, 401);
    wait_until("the refusal's record", || journal_lines(&dir).len() == 6);

    let (status, metrics) = get_unix(&dir, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "glwatch_events_total{verified_by=\"primary\"} 4",
        "glwatch_duplicates_total 1",
        "glwatch_rejected_total{status=\"401\"} 1",
        "glwatch_request_duration_seconds_count 6",
        "glwatch_watch_subscribers 0",
        "glwatch_dashboard_dropped_total 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line:?} missing from:\n{metrics}");
    }
    let bytes: u64 = journal_lines(&dir).iter().map(|l| l.len() as u64 + 1).sum();
    assert!(metrics.lines().any(|l| l == format!("glwatch_journal_bytes {bytes}")), "{metrics}");
    let expiry = metrics.lines().find_map(|l| l.strip_prefix("glwatch_certificate_expiry_timestamp_seconds ")).unwrap();
    assert!(expiry.parse::<i64>().unwrap() > time::OffsetDateTime::now_utc().unix_timestamp());

    let (status, health) = get_unix(&dir, "/healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["journal"], "writable");
    assert_eq!(health["status"], "ok");
    assert!(health["last_event_age_seconds"].as_i64().unwrap() >= 0, "{health}");
    assert!(health["certificate_expiry"].is_string(), "{health}");

    let (status, body) = get_unix(&dir, "/v1/records?after=nope");
    assert_eq!((status, body.trim()), (400, "after: expected a whole number, got \"nope\""));
}

/// A stream opened over the local socket and then not read while `glwatch send` delivers `total` events.
async fn stalled_during_flood(rx: &Receiver, total: u64) -> glwatch::watch::client::EventStream {
    let client =
        WatchClient::new(Target::Unix(socket_path(&rx.dir)), &glwatch::send::client::Trust::Platform, None).unwrap();
    let stalled = client.stream(None).await.unwrap();
    let url = format!("https://localhost:{}/", rx.addr.port());
    let sent = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["send", "--secret", SECRET, "--no-challenge", "--quiet", "--concurrency", "8"])
        .args(["--count", &total.to_string(), "--ca", rx.ca().to_str().unwrap(), &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(sent.success());
    stalled
}

#[tokio::test]
async fn a_stalled_subscriber_during_a_flood_later_reads_every_seq_in_order() {
    let rx = Receiver::start(&["--secret", SECRET, "--durability", "os"]);
    let dir = rx.dir.clone();
    wait_socket(&dir);
    let total = 20_000u64;
    // Opened, then not read while the flood goes on.
    let mut stalled = stalled_during_flood(&rx, total).await;
    let mut next = 1;
    while next <= total {
        let message = tokio::time::timeout(WAIT, stalled.next()).await.expect("the stream goes on").unwrap().unwrap();
        match message {
            Message::Record { seq, .. } => {
                assert_eq!(seq, next, "every seq once, in order");
                next += 1;
            }
            Message::Gap(n) => panic!("a gap of {n} although the journal holds every record"),
        }
    }
    let (_, metrics) = get_unix(&dir, "/metrics");
    assert!(metrics.contains(&format!("glwatch_events_total{{verified_by=\"primary\"}} {total}")), "{metrics}");
    assert!(metrics.lines().any(|l| l == "glwatch_watch_subscribers 1"), "{metrics}");
}

#[tokio::test]
async fn without_a_journal_a_stalled_subscriber_is_told_how_many_it_missed() {
    let rx = Receiver::start(&["--secret", SECRET, "--no-journal"]);
    let dir = rx.dir.clone();
    wait_socket(&dir);
    let total = 12_000u64;
    // Opened, then not read while the flood goes on.
    let mut stalled = stalled_during_flood(&rx, total).await;
    let (mut records, mut missed, mut last) = (0u64, 0u64, 0u64);
    while records + missed < total {
        match tokio::time::timeout(WAIT, stalled.next()).await.expect("the stream goes on").unwrap().unwrap() {
            Message::Record { seq, .. } => {
                assert!(seq > last, "in order");
                last = seq;
                records += 1;
            }
            Message::Gap(n) => missed += n,
        }
    }
    assert_eq!(records + missed, total);
    assert!(missed > 0, "the stalled subscriber overflowed");
}
