//! Start-up with a large journal: the real binary over real TLS answers on a journal of 200,000 records, reads only
//! the newest segments its duplicate window needs, recognises re-deliveries from the first request on (even while
//! the window is still being read), numbers on from the last stored record, and reads closed segments' keys from
//! their key index once it has one.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;

const RECORDS: u64 = 200_000;
const PER_SEGMENT: u64 = 10_000;
const SEGMENTS: u64 = RECORDS / PER_SEGMENT;

fn body(id: &str) -> Vec<u8> {
    format!(r#"{{"specversion":"1.0","id":"{id}","source":"//startup.test","type":"com.hpe.greenlake.audit-log.v1.logs.created"}}"#)
        .into_bytes()
}

/// Writes `RECORDS` accepted events (`old-1` ... with seq 1 ...) as the receiver would, `PER_SEGMENT` to a segment
/// file, straight into the journal's files: far faster than delivering them.
fn write_journal(dir: &Path) {
    let base = dir.join("glwatch-data/journal.jsonl");
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let at = time::macros::datetime!(2026-11-30 08:00:00 UTC);
    // One record serialised, the rest by substitution: the test's time goes on the receiver, not on serde.
    let template = event_record(String::from_utf8(body("ID")).unwrap(), at, "127.0.0.1:1").to_line_seq(1);
    let (head, tail) = template.split_once(r#""id":"ID""#).unwrap();
    let head = head.strip_prefix(r#"{"seq":1,"#).unwrap();
    for segment in 0..SEGMENTS {
        let path = glwatch::journal::segment_path(&base, segment);
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        for seq in segment * PER_SEGMENT + 1..=(segment + 1) * PER_SEGMENT {
            writeln!(out, r#"{{"seq":{seq},{head}"id":"old-{seq}"{tail}"#).unwrap();
        }
        out.flush().unwrap();
    }
}

async fn reply(rx: &Receiver, id: &str) -> String {
    let r = rx.client().post_signed(SECRET, &body(id)).await;
    assert_eq!(r.status, 200, "{id}: {}", r.body);
    r.body
}

const NEW: &str = r#"{"accepted":1,"duplicates":0}"#;
const DUPLICATE: &str = r#"{"accepted":0,"duplicates":1}"#;

#[tokio::test]
async fn large_journal_reads_only_the_dedup_window_and_numbers_on() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path());

    // A window of 15,000 events needs the newest two segments of twenty, whatever the journal holds.
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET, "--dedup-window", "15000"]);
    let replayed = rx.wait_stderr("records replayed");
    assert_eq!(
        replayed,
        "glwatch: journal glwatch-data/journal.jsonl: 15000 records replayed from the newest 2 of 20 segments \
         (15000 events)"
    );
    assert_eq!(reply(&rx, "new-1").await, NEW);
    let record = rx.next_record();
    assert_eq!((record["seq"].as_u64(), record["event"]["id"].as_str()), (Some(RECORDS + 1), Some("new-1")));
    // Inside the window: GreenLake's retry is a duplicate (journaled, numbered next, not printed again).
    let inside = format!("old-{}", RECORDS - 14_000);
    assert_eq!(reply(&rx, &inside).await, DUPLICATE);
    assert_eq!(reply(&rx, "new-1").await, DUPLICATE, "the new event joined the window");
    drop(rx);
    let want = [(RECORDS + 1, "new-1", false), (RECORDS + 2, inside.as_str(), true), (RECORDS + 3, "new-1", true)];
    assert_eq!(journal_tail(dir.path(), 3), want.map(|(s, id, d)| (s, id.to_owned(), d)));

    // A window as large as the journal: every segment is read, after the port is open; the first request, a
    // re-delivery of the oldest event, waits for the window rather than being accepted a second time.
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET, "--dedup-window", "1000000"]);
    assert_eq!(reply(&rx, "old-1").await, DUPLICATE);
    let replayed = rx.wait_stderr("records replayed");
    assert!(replayed.ends_with(&format!(": {} records replayed from 20 segments (200001 events)", RECORDS + 3)));
    assert_eq!(reply(&rx, "new-2").await, NEW);
    assert_eq!(rx.next_record()["seq"].as_u64(), Some(RECORDS + 5));
    drop(rx);
    let tail = journal_tail(dir.path(), 2);
    assert_eq!(tail, [(RECORDS + 4, "old-1".to_owned(), true), (RECORDS + 5, "new-2".to_owned(), false)]);

    // That start read every closed segment whole and left its key index beside it: the next start reads the
    // lines of the segment being written only (the history asked for is within it), and the keys of the others.
    let base = dir.path().join("glwatch-data/journal.jsonl");
    let indexed = (0..SEGMENTS)
        .filter(|s| glwatch::journal::keys::index_path(&glwatch::journal::segment_path(&base, *s)).exists());
    assert_eq!(indexed.count() as u64, SEGMENTS - 1);
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET, "--dedup-window", "1000000", "--retain", "1000"]);
    assert_eq!(reply(&rx, "old-1").await, DUPLICATE);
    assert_eq!(reply(&rx, &format!("old-{RECORDS}")).await, DUPLICATE);
    let replayed = rx.wait_stderr("records replayed");
    let want = format!(
        ": {} records replayed from 20 segments (200002 events, 19 segments from their key index)",
        RECORDS + 5
    );
    assert!(replayed.ends_with(&want), "{replayed}");
    assert_eq!(reply(&rx, "new-3").await, NEW);
}

/// The last `n` lines of the newest segment as (seq, event id, duplicate).
fn journal_tail(dir: &Path, n: usize) -> Vec<(u64, String, bool)> {
    let newest = glwatch::journal::segment_path(&dir.join("glwatch-data/journal.jsonl"), SEGMENTS - 1);
    let text = std::fs::read_to_string(newest).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len() - n..]
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["seq"].as_u64().unwrap(), v["event"]["id"].as_str().unwrap().to_owned(), v["duplicate"] == true)
        })
        .collect()
}
