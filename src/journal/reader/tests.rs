//! Unit tests for `crate::journal::reader`.

use super::test_lines::{event, ids, journal};
use super::*;
use crate::journal::segment_path;

#[test]
fn replays_segments_in_order_and_rebuilds_the_duplicate_window() {
    let seg0 = format!("{}\n{}\n", event("a", false), event("b", false));
    let seg1 = format!("{}\n{}\n", event("a", true), event("c", false));
    let (_d, base) = journal(&[&seg0, &seg1]);
    let mut r = replay(&base, 3, 100, 1 << 20).unwrap();
    assert_eq!((r.total, r.events, r.report.segments), (4, 3, 2));
    assert_eq!(ids(&r.records), ["b", "a", "c"], "the last 3, oldest first");
    assert!(r.report.messages().is_empty());
    for id in ["a", "b", "c"] {
        assert!(!r.dedup.insert("s", id), "{id} is known");
    }
    assert!(r.dedup.insert("s", "d"));
    let none = replay(&base, 0, 100, 1 << 20).unwrap();
    assert!(none.records.is_empty() && none.events == 3);
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let good = format!("{}\n", event("a", false));
    let (_d, base) = journal(&[&format!("{good}{{\"kind\":\"ev")]);
    let r = replay(&base, 10, 100, 1 << 20).unwrap();
    assert_eq!(r.total, 1);
    let torn = r.report.torn.as_deref().unwrap();
    assert!(torn.contains("journal.jsonl line 2: torn last line (incomplete line"), "{torn}");
    assert_eq!(std::fs::read_to_string(&base).unwrap(), good);
    // A complete but invalid last line is also a torn write (zeros from a crash, say).
    std::fs::write(&base, format!("{good}\0\0\0\n")).unwrap();
    let r = replay(&base, 10, 100, 1 << 20).unwrap();
    assert!(r.report.torn.is_some() && r.report.warnings.is_empty());
    assert_eq!(std::fs::read_to_string(&base).unwrap(), good);
}

#[test]
fn corrupt_lines_elsewhere_are_skipped_with_their_line_number() {
    let seg0 = format!("{}\nnot json\n{}\n{{\"kind\":\"x\"}}\nincomplete", event("a", false), event("b", false));
    let seg1 = format!("{}\n", event("c", false));
    let (_d, base) = journal(&[&seg0, &seg1]);
    let r = replay(&base, 10, 100, 1 << 20).unwrap();
    assert_eq!(ids(&r.records), ["a", "b", "c"]);
    let w = &r.report.warnings;
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].ends_with("journal.jsonl line 2: skipped, invalid record: expected ident (column 2)"), "{w:?}");
    assert!(w[1].contains("journal.jsonl line 4: skipped, invalid record: unknown kind \"x\""), "{w:?}");
    assert!(w[2].contains("journal.jsonl line 5: skipped, incomplete line"), "{w:?}");
    assert!(r.report.torn.is_none());
    assert_eq!(std::fs::read_to_string(&base).unwrap(), seg0, "only the last segment's tail is ever cut");
}

#[test]
fn overlong_and_non_utf8_lines_are_skipped_without_holding_them() {
    let long = format!("{{\"kind\":\"event\",\"pad\":\"{}\"}}", "x".repeat(5000));
    let content = format!("{long}\n\u{0}\u{1}\n{}\n", event("a", false)).into_bytes();
    let mut content = content;
    content.extend_from_slice(b"\xff\xfe\n");
    content.extend_from_slice(format!("{}\n", event("b", false)).as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("journal.jsonl");
    std::fs::write(&base, &content).unwrap();
    let r = replay(&base, 10, 100, 1000).unwrap();
    assert_eq!(ids(&r.records), ["a", "b"]);
    let w = r.report.warnings.join("\n");
    assert!(w.contains("line 1: skipped, longer than 1000 bytes"), "{w}");
    assert!(w.contains("line 2: skipped, invalid record"), "{w}");
    assert!(w.contains("line 4: skipped, not UTF-8"), "{w}");
}

#[test]
fn read_only_scan_never_modifies_and_ignores_a_write_in_progress() {
    let content = format!("{}\n{{\"kind\":\"ev", event("a", false));
    let (_d, base) = journal(&[&content]);
    let mut seen = 0;
    let report = scan(&base, ScanMode::ReadOnly, 1 << 20, |_| {
        seen += 1;
        ScanStep::Continue
    })
    .unwrap();
    assert_eq!(seen, 1);
    assert!(report.messages().is_empty(), "{:?}", report.messages());
    assert_eq!(std::fs::read_to_string(&base).unwrap(), content);
}

#[test]
fn warnings_are_bounded() {
    let content = "x\n".repeat(100) + &event("a", false) + "\n";
    let (_d, base) = journal(&[&content]);
    let r = replay(&base, 10, 100, 1 << 20).unwrap();
    assert_eq!(r.report.warnings.len(), MAX_WARNINGS);
    assert_eq!(r.report.more_warnings, 80);
    assert_eq!(r.report.messages().last().unwrap(), "80 more corrupt lines skipped");
    assert_eq!(r.total, 1);
}

#[test]
fn missing_journal_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let r = replay(&dir.path().join("nothing/journal.jsonl"), 10, 10, 1 << 20).unwrap();
    assert_eq!((r.total, r.events, r.report.segments), (0, 0, 0));
}

#[test]
fn last_seq_reads_the_newest_numbered_line_and_skips_an_empty_newest_segment() {
    let numbered = |seq: u64, id: &str| {
        let line = event(id, false);
        format!("{{\"seq\":{seq},{}\n", &line[1..])
    };
    // An old line without a number, then numbered ones; the newest segment was just started and is empty.
    let big = "x".repeat(200_000);
    let seg0 = format!("{}\n{}{}", event("old", false), numbered(1, "a"), numbered(2, &big));
    let (_d, base) = journal(&[&seg0, ""]);
    assert_eq!(last_seq(&base).unwrap(), 2);
    let seg1 = numbered(3, "c");
    let (_d, base) = journal(&[&seg0, &seg1]);
    assert_eq!(last_seq(&base).unwrap(), 3);
    let (_d, base) = journal(&[&format!("{}\n", event("old", false))]);
    assert_eq!(last_seq(&base).unwrap(), 0, "a journal from before numbering");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(last_seq(&dir.path().join("none.jsonl")).unwrap(), 0);
}

#[test]
fn seq_reader_finds_the_segment_and_goes_on_across_segments_and_appends() {
    let numbered = |seq: u64| {
        let line = event(&format!("e{seq}"), false);
        format!("{{\"seq\":{seq},{}\n", &line[1..])
    };
    let seg = |r: std::ops::RangeInclusive<u64>| r.map(numbered).collect::<String>();
    let old = format!("{}\n", event("old", false));
    let (_d, base) = journal(&[&format!("{old}{}", seg(1..=3)), &seg(4..=6), "", &seg(7..=9)]);
    let seqs = |v: Vec<(u64, String)>| v.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    let mut r = SeqReader::new(&base, 1 << 20, 4);
    assert_eq!(seqs(r.next_batch(3, usize::MAX).unwrap()), [5, 6, 7]);
    assert_eq!(seqs(r.next_batch(100, usize::MAX).unwrap()), [8, 9]);
    assert!(r.next_batch(100, usize::MAX).unwrap().is_empty());
    // A write in progress is not returned until it is complete.
    let last = segment_path(&base, 3);
    let mut f = OpenOptions::new().append(true).open(&last).unwrap();
    let ten = numbered(10);
    std::io::Write::write_all(&mut f, &ten.as_bytes()[..20]).unwrap();
    assert!(r.next_batch(100, usize::MAX).unwrap().is_empty());
    std::io::Write::write_all(&mut f, &ten.as_bytes()[20..]).unwrap();
    std::fs::write(segment_path(&base, 4), numbered(11)).unwrap();
    let got = r.next_batch(100, usize::MAX).unwrap();
    assert_eq!(got[0].1, ten.trim_end());
    assert_eq!(seqs(got), [10, 11]);
    // From the start, old unnumbered lines are passed over; a byte budget ends a batch early.
    let mut r = SeqReader::new(&base, 1 << 20, 0);
    assert_eq!(seqs(r.next_batch(100, 1).unwrap()), [1]);
    assert_eq!(first_stored_seq(&base, 1 << 20).unwrap(), 1);
    let mut r = SeqReader::new(&base, 1 << 20, 100);
    assert!(r.next_batch(100, usize::MAX).unwrap().is_empty());
}
