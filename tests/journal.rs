//! The journal as an operator relies on it: the real binary killed mid-stream, restarted, its files damaged and its
//! disk full. Everything over real TLS on loopback.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn journal_path(dir: &Path) -> PathBuf {
    dir.join("glwatch-data/journal.jsonl")
}

/// Every line of every segment, in order.
fn journal_lines(base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (_, path) in glwatch::journal::segments(base).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{} ends in a partial line", path.display());
        out.extend(text.lines().map(str::to_owned));
    }
    out
}

/// How many times each event id was accepted (not a duplicate) according to the journal.
fn accepted_ids(base: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in journal_lines(base) {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {line}"));
        if v["kind"] == "event" && v["duplicate"] == false {
            *counts.entry(v["event"]["id"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// The journal's start-up lines, which follow the listen and certificate lines; the replay summary (or the
/// no-journal notice) comes last. Polls the stderr reader until it arrives, bounded by [`WAIT`].
fn journal_notices(rx: &Receiver) -> Vec<String> {
    let mut seen = Vec::new();
    let came = wait_until_blocking(WAIT, || {
        seen.extend(rx.stderr_now());
        seen.iter().any(|l| l.contains("records replayed") || l.contains("no journal"))
    });
    assert!(came, "the journal's start-up lines never came: {seen:#?}");
    seen
}

fn notice<'a>(notices: &'a [String], needle: &str) -> &'a str {
    notices
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no start-up line containing {needle:?} in {notices:#?}"))
}

async fn expect_reply(rx: &Receiver, body: &[u8], status: u16, json: &str) {
    let reply = rx.client().post_signed(SECRET, body).await;
    assert_eq!((reply.status, reply.body.as_str()), (status, json));
}

/// A keep-alive HTTP/1.1 connection that reports a dead server as `None` instead of panicking: the crash test
/// kills the server under it.
struct Conn(http1::SendRequest<Full<Bytes>>);

impl Conn {
    async fn open(addr: SocketAddr, ca: &Path) -> Conn {
        let tls = Arc::new(client_config(ca, &[b"http/1.1"]));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (send, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Conn(send)
    }

    async fn post_signed(&mut self, body: Vec<u8>) -> Option<u16> {
        let req = Request::post("/webhook")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("hpe-webhook-signature", sign(SECRET, &body))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.0.ready().await.ok()?;
        let response = self.0.send_request(req).await.ok()?;
        let status = response.status().as_u16();
        response.into_body().collect().await.ok()?;
        Some(status)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_stream_loses_no_acknowledged_event_and_restart_keeps_duplicates() {
    const SENDERS: usize = 8;
    const KILL_AFTER: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let mut conn = Conn::open(rx.addr, &rx.ca()).await;
        let (acked, count, enough) = (acked.clone(), count.clone(), enough.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("crash-{s}-{i}");
                match conn.post_signed(audit_event(&id)).await {
                    Some(200) => {
                        acked.lock().unwrap().push(id);
                        if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                            enough.notify_one();
                        }
                    }
                    Some(other) => panic!("{id}: unexpected status {other}"),
                    // The server died under this request: it was not acknowledged.
                    None => return,
                }
            }
        }));
    }
    tokio::time::timeout(WAIT, enough.notified()).await.expect("senders got enough acknowledgements");
    rx.signal("-KILL");
    for s in senders {
        tokio::time::timeout(WAIT, s).await.expect("sender stops once the server is gone").unwrap();
    }
    let mut rx = rx;
    rx.wait_exit();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER);

    // Repair on restart first: a write cut by the kill would be a partial last line.
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let counts = accepted_ids(&journal_path(dir.path()));
    for id in &acked {
        assert_eq!(counts.get(id), Some(&1), "acknowledged event {id} is in the journal exactly once");
    }
    assert!(counts.values().all(|n| *n == 1), "no event was accepted twice");
    let events = counts.len();
    let notices = journal_notices(&rx);
    let replayed = notice(&notices, "records replayed");
    assert_eq!(
        replayed,
        format!("glwatch: journal glwatch-data/journal.jsonl: {events} records replayed ({events} events)")
    );

    // GreenLake retrying an acknowledged event after the restart gets a duplicate, not a second copy.
    expect_reply(&rx, &audit_event(&acked[0]), 200, r#"{"accepted":0,"duplicates":1}"#).await;
    expect_reply(&rx, &audit_event(acked.last().unwrap()), 200, r#"{"accepted":0,"duplicates":1}"#).await;
    expect_reply(&rx, &audit_event("after-restart"), 200, r#"{"accepted":1,"duplicates":0}"#).await;
    assert_eq!(rx.next_record()["event"]["id"], "after-restart", "stdout shows only the new event");
    let counts = accepted_ids(&journal_path(dir.path()));
    assert_eq!(counts.len(), events + 1);
}

#[tokio::test]
async fn torn_last_line_is_reported_cut_and_later_appends_are_clean() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_path(dir.path());
    {
        let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
        for id in ["t-1", "t-2", "t-3"] {
            expect_reply(&rx, &audit_event(id), 200, r#"{"accepted":1,"duplicates":0}"#).await;
        }
        rx.signal("-KILL");
    }
    let whole = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, format!("{whole}{{\"kind\":\"event\",\"received_at\":\"2026-01-")).unwrap();

    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let notices = journal_notices(&rx);
    let torn = notice(&notices, "torn");
    assert!(
        torn.starts_with(
            "glwatch: journal warning: glwatch-data/journal.jsonl line 4: torn last line (incomplete line"
        ),
        "{torn}"
    );
    assert_eq!(
        notice(&notices, "replayed"),
        "glwatch: journal glwatch-data/journal.jsonl: 3 records replayed (3 events)"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), whole, "the torn line was cut, nothing else");
    expect_reply(&rx, &audit_event("t-4"), 200, r#"{"accepted":1,"duplicates":0}"#).await;
    expect_reply(&rx, &audit_event("t-3"), 200, r#"{"accepted":0,"duplicates":1}"#).await;
    let lines = journal_lines(&journal);
    assert_eq!(lines.len(), 5);
    let ids: Vec<Value> =
        lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["event"]["id"].clone()).collect();
    assert_eq!(ids, ["t-1", "t-2", "t-3", "t-4", "t-3"]);
    // Numbering goes on across the restart, from the last line that survived; `seq` is each line's first field.
    let seqs: Vec<u64> =
        lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert!(lines.iter().all(|l| l.starts_with("{\"seq\":")), "{lines:?}");
}

#[tokio::test]
async fn corrupt_line_in_the_middle_is_skipped_with_its_line_number_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_path(dir.path());
    {
        let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
        for id in ["c-1", "c-2", "c-3"] {
            expect_reply(&rx, &audit_event(id), 200, r#"{"accepted":1,"duplicates":0}"#).await;
        }
    }
    let lines = journal_lines(&journal);
    let damaged = format!("{}\n{{\"kind\":\"event\",garbage\n{}\n{}\n", lines[0], lines[1], lines[2]);
    std::fs::write(&journal, &damaged).unwrap();

    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let notices = journal_notices(&rx);
    let warning = notice(&notices, "line 2");
    assert!(
        warning.starts_with("glwatch: journal warning: glwatch-data/journal.jsonl line 2: skipped, invalid record"),
        "{warning}"
    );
    assert_eq!(
        notice(&notices, "replayed"),
        "glwatch: journal glwatch-data/journal.jsonl: 3 records replayed (3 events)"
    );
    // The events after the corrupt line were replayed: their retries are duplicates.
    for id in ["c-1", "c-2", "c-3"] {
        expect_reply(&rx, &audit_event(id), 200, r#"{"accepted":0,"duplicates":1}"#).await;
    }
    assert!(std::fs::read_to_string(&journal).unwrap().starts_with(&damaged), "a corrupt line is not the tail: kept");
}

/// A journal directory that can be filled and emptied: a small tmpfs when mounting works here, else a journal
/// whose segment is a link to /dev/full (every write fails with ENOSPC) that is replaced by a real file.
enum FullDisk {
    Tmpfs { mount: tempfile::TempDir, filler: PathBuf },
    DevFull { journal: PathBuf },
}

impl FullDisk {
    fn new(dir: &Path) -> (FullDisk, PathBuf) {
        let mount = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "glwatch-test", mount.path().to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            let journal = mount.path().join("journal.jsonl");
            (FullDisk::Tmpfs { filler: mount.path().join("filler"), mount }, journal)
        } else {
            let journal = dir.join("full/journal.jsonl");
            std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink("/dev/full", &journal).unwrap();
            (FullDisk::DevFull { journal: journal.clone() }, journal)
        }
    }

    fn fill(&self) {
        if let FullDisk::Tmpfs { filler, .. } = self {
            // Writes until the file system refuses: the error is the point.
            let err = std::fs::write(filler, vec![b'x'; 1 << 20]).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
        }
    }

    fn make_room(&self) {
        match self {
            FullDisk::Tmpfs { filler, .. } => std::fs::remove_file(filler).unwrap(),
            FullDisk::DevFull { journal } => std::fs::remove_file(journal).unwrap(),
        }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        if let FullDisk::Tmpfs { mount, .. } = self {
            let _ = Command::new("umount").args(["-l", mount.path().to_str().unwrap()]).status();
        }
    }
}

#[tokio::test]
async fn full_disk_refuses_with_503_and_accepts_the_retry_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, journal) = FullDisk::new(dir.path());
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET, "--journal", journal.to_str().unwrap()]);
    if matches!(disk, FullDisk::Tmpfs { .. }) {
        // A link to /dev/full is full from the start; a tmpfs takes a record before it is filled up.
        expect_reply(&rx, &audit_event("before"), 200, r#"{"accepted":1,"duplicates":0}"#).await;
        assert_eq!(rx.next_record()["event"]["id"], "before");
    }
    disk.fill();

    // Larger than a page, so it cannot fit in what is left of the journal's last page: the write fails part way.
    let mut event: Value = serde_json::from_slice(&audit_event("while-full")).unwrap();
    event["data"]["description"] = Value::String("x".repeat(10_000));
    let body = serde_json::to_vec(&event).unwrap();
    let reply = rx.client().post_signed(SECRET, &body).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(reply.body.contains("journal unavailable") && reply.body.contains("No space left"), "{}", reply.body);
    let shown = rx.next_record();
    assert_eq!((shown["kind"].as_str(), shown["status"].as_u64()), (Some("rejected"), Some(503)), "{shown}");
    rx.wait_stderr("journal write failed");

    disk.make_room();
    expect_reply(&rx, &body, 200, r#"{"accepted":1,"duplicates":0}"#).await;
    let shown = rx.next_record();
    assert_eq!((shown["kind"].as_str(), shown["event"]["id"].as_str()), (Some("event"), Some("while-full")));
    let counts = accepted_ids(&journal);
    assert_eq!(counts.get("while-full"), Some(&1), "written once, no partial copy of the refused write: {counts:?}");
}

#[tokio::test]
async fn journal_that_cannot_be_opened_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the journal's directory should be: neither readable as a journal nor creatable.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--secret", SECRET, "--journal", "blocker/journal.jsonl"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("glwatch: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].starts_with("glwatch: error: journal blocker/journal.jsonl: cannot"), "{stderr}");
}

#[tokio::test]
async fn os_durability_and_no_journal_say_so_at_start() {
    let rx = Receiver::start(&["--secret", SECRET, "--durability", "os"]);
    assert!(notice(&journal_notices(&rx), "durability os").contains("without fsync"));
    expect_reply(&rx, &audit_event("os-1"), 200, r#"{"accepted":1,"duplicates":0}"#).await;
    assert_eq!(accepted_ids(&journal_path(&rx.dir)).get("os-1"), Some(&1));

    let rx = Receiver::start(&["--secret", SECRET, "--no-journal"]);
    assert!(notice(&journal_notices(&rx), "no journal").contains("without being written to disk"));
    expect_reply(&rx, &audit_event("nj-1"), 200, r#"{"accepted":1,"duplicates":0}"#).await;
    assert!(!journal_path(&rx.dir).exists());
}
