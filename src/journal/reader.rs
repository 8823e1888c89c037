//! Reading the journal back: every segment in order, a torn tail cut off, corrupt lines skipped with a warning.

use super::segments;
use crate::pipeline::DedupWindow;
use crate::record::{line_seq, Record};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Warnings kept word for word; beyond this only their number is reported, so a ruined file cannot flood stderr.
const MAX_WARNINGS: usize = 20;

/// What a scan may do to the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// At start, before the writer opens: an incomplete or corrupt last line of the last segment is a write torn
    /// by a crash, and is cut off so the next append starts on a clean line.
    Repair,
    /// While glwatch may be writing (export): the files are never modified, an incomplete last line is a write in
    /// progress and is left out silently.
    ReadOnly,
}

/// One complete line of a segment, without its newline.
pub struct LineRef<'a> {
    pub path: &'a Path,
    /// 1-based line number within the segment.
    pub number: u64,
    pub text: &'a str,
}

/// What a line callback tells the scan.
pub enum ScanStep {
    Continue,
    Stop,
    /// The line is not a valid record, for this reason; nothing of it was used.
    Corrupt(String),
}

#[derive(Debug, Default)]
pub struct ScanReport {
    pub segments: usize,
    /// Lines the callback accepted.
    pub lines: u64,
    /// Corrupt lines skipped, each naming its file and line (the first [`MAX_WARNINGS`]).
    pub warnings: Vec<String>,
    /// Corrupt lines beyond those in `warnings`.
    pub more_warnings: u64,
    /// The torn tail that was cut off (Repair mode), described.
    pub torn: Option<String>,
}

impl ScanReport {
    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(message);
        } else {
            self.more_warnings += 1;
        }
    }

    /// Every message worth showing the operator, one per line.
    pub fn messages(&self) -> Vec<String> {
        let mut out: Vec<String> = self.torn.iter().cloned().collect();
        out.extend(self.warnings.iter().cloned());
        if self.more_warnings > 0 {
            out.push(format!("{} more corrupt lines skipped", self.more_warnings));
        }
        out
    }
}

/// Feeds every complete line of every segment, oldest first, to `on_line`. Only the bytes present when a segment
/// is opened are read, so a writer appending meanwhile cannot make the scan run forever. Lines longer than
/// `max_line` bytes are skipped as corrupt without being held in memory.
pub fn scan(
    base: &Path,
    mode: ScanMode,
    max_line: usize,
    mut on_line: impl FnMut(&LineRef) -> ScanStep,
) -> io::Result<ScanReport> {
    let list = segments(base)?;
    let mut report = ScanReport { segments: list.len(), ..ScanReport::default() };
    let mut buf = Vec::with_capacity(64 * 1024);
    for (n, (_, path)) in list.iter().enumerate() {
        let last = n + 1 == list.len();
        let file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        let mut reader = BufReader::with_capacity(256 * 1024, file.take(len));
        let mut pos = 0u64;
        let mut number = 0u64;
        loop {
            let start = pos;
            let (consumed, complete, overlong) = read_line(&mut reader, &mut buf, max_line)?;
            if consumed == 0 {
                break;
            }
            pos += consumed;
            number += 1;
            let at_end = pos == len;
            let problem = if !complete {
                Some("incomplete line (no newline)".to_owned())
            } else if overlong {
                Some(format!("longer than {max_line} bytes"))
            } else {
                match std::str::from_utf8(&buf[..buf.len() - 1]) {
                    Err(_) => Some("not UTF-8".to_owned()),
                    Ok(text) => match on_line(&LineRef { path, number, text }) {
                        ScanStep::Continue => {
                            report.lines += 1;
                            None
                        }
                        ScanStep::Stop => return Ok(report),
                        ScanStep::Corrupt(reason) => Some(reason),
                    },
                }
            };
            let Some(problem) = problem else { continue };
            match (mode, last && at_end) {
                (ScanMode::Repair, true) => {
                    cut(path, start)?;
                    report.torn = Some(format!(
                        "{} line {number}: torn last line ({problem}, {} bytes) cut off",
                        path.display(),
                        consumed
                    ));
                }
                // A write in progress: what is complete was read, the rest will be there next time.
                (ScanMode::ReadOnly, true) if !complete => {}
                _ => report.warn(format!("{} line {number}: skipped, {problem}", path.display())),
            }
        }
    }
    Ok(report)
}

fn cut(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_data()
}

/// Reads through the next newline (or to the end). Returns (bytes consumed, ended with a newline, too long); the
/// line is in `buf` unless it was too long, in which case the rest of it is consumed without being kept.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max_line: usize) -> io::Result<(u64, bool, bool)> {
    buf.clear();
    let mut consumed = 0u64;
    let mut overlong = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, false, overlong));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !overlong {
            if buf.len() + take > max_line.saturating_add(1) {
                overlong = true;
                buf.clear();
                buf.shrink_to(64 * 1024);
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take);
        consumed += take as u64;
        if done {
            return Ok((consumed, true, overlong));
        }
    }
}

/// The parts of a line replay needs; everything else is skipped without being copied.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    duplicate: bool,
    #[serde(borrow, default)]
    event: Option<PeekEvent<'a>>,
}

#[derive(Deserialize)]
struct PeekEvent<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
}

/// A serde error without serde's "at line 1 column N", which would read as a line of the journal.
pub fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    format!("invalid record: {text} (column {})", e.column())
}

/// Numbered lines looked at from the end before concluding the journal has none (it was written before records
/// were numbered): bounds the work at start whatever the journal holds.
const TAIL_LINES: usize = 64;

/// The `seq` of the journal's last numbered record, 0 when it has none. Only the end of the newest segment that
/// holds a line is read: line starts are found backwards in bounded chunks and only each line's first bytes are
/// read, so the cost does not grow with the journal or with the size of its records.
pub fn last_seq(base: &Path) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut head = [0u8; 32];
    for (_, path) in segments(base)?.iter().rev() {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut looked = 0;
        let mut end = len;
        while end > 0 && looked < TAIL_LINES {
            let start = end.saturating_sub(CHUNK);
            let chunk = &mut buf[..(end - start) as usize];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(chunk)?;
            // Line starts in this chunk, newest first: after each newline, and the file's start.
            let mut starts: Vec<u64> = memchr::memrchr_iter(b'\n', chunk).map(|i| start + i as u64 + 1).collect();
            if start == 0 {
                starts.push(0);
            }
            for line_start in starts.into_iter().filter(|s| *s < len) {
                file.seek(SeekFrom::Start(line_start))?;
                let n = read_up_to(&mut file, &mut head)?;
                let seq = line_seq(&head[..n]);
                if seq > 0 {
                    return Ok(seq);
                }
                looked += 1;
                if looked >= TAIL_LINES {
                    break;
                }
            }
            end = start;
        }
        if looked > 0 {
            return Ok(0);
        }
    }
    Ok(0)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads the journal's numbered records in order, after a given `seq`, across segments, and remembers where it
/// stopped so that the next batch starts there instead of scanning again. The segment holding a number is found
/// by the number of its first line; within it, lines are scanned reading only each line's `seq` prefix until the
/// wanted ones. Lines without a number (written before numbering, or corrupt) are passed over. Never modifies the
/// files, and an incomplete last line (a write in progress) is left for the next batch.
pub struct SeqReader {
    base: PathBuf,
    max_line: usize,
    after: u64,
    /// The segment and byte offset to go on from; `None` until located.
    at: Option<(u64, u64)>,
    buf: Vec<u8>,
}

impl SeqReader {
    pub fn new(base: &Path, max_line: usize, after: u64) -> SeqReader {
        SeqReader { base: base.to_owned(), max_line, after, at: None, buf: Vec::new() }
    }

    /// The number of the last record returned (or the starting point).
    pub fn after(&self) -> u64 {
        self.after
    }

    /// The next records, oldest first, each as (seq, line without newline): at most `limit`, and no more once
    /// `max_bytes` of lines are gathered (at least one line is returned if there is one). Empty when the journal
    /// holds nothing newer yet.
    pub fn next_batch(&mut self, limit: usize, max_bytes: usize) -> io::Result<Vec<(u64, String)>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        if limit == 0 {
            return Ok(out);
        }
        loop {
            let (index, offset) = match self.at {
                Some(at) => at,
                None => match self.locate()? {
                    Some(at) => at,
                    None => return Ok(out),
                },
            };
            let path = super::segment_path(&self.base, index);
            let mut file = match File::open(&path) {
                Ok(f) => f,
                // Removed meanwhile: find the number again among the segments that remain.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.at = None;
                    if super::segments(&self.base)?.is_empty() {
                        return Ok(out);
                    }
                    continue;
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            };
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(offset))?;
            let mut reader = BufReader::with_capacity(64 * 1024, file.take(len.saturating_sub(offset)));
            let mut pos = offset;
            let mut full = false;
            loop {
                let (consumed, complete, overlong) = read_line(&mut reader, &mut self.buf, self.max_line)?;
                if consumed == 0 || !complete {
                    break;
                }
                pos += consumed;
                let seq = if overlong { 0 } else { line_seq(&self.buf) };
                if seq > self.after {
                    self.after = seq;
                    let text = String::from_utf8_lossy(&self.buf[..self.buf.len() - 1]).into_owned();
                    bytes += text.len();
                    out.push((seq, text));
                    if out.len() >= limit || bytes >= max_bytes {
                        full = true;
                        break;
                    }
                }
            }
            self.at = Some((index, pos));
            if full || pos < len {
                return Ok(out);
            }
            // This segment is read to its end: go on to the next one if the writer has started it.
            match super::segments(&self.base)?.into_iter().map(|(i, _)| i).find(|i| *i > index) {
                Some(next) => self.at = Some((next, 0)),
                None => return Ok(out),
            }
        }
    }

    /// The segment that holds the record after `self.after`: the newest whose first number is not beyond it.
    fn locate(&mut self) -> io::Result<Option<(u64, u64)>> {
        let list = segments(&self.base)?;
        let mut chosen = None;
        for (index, path) in &list {
            match first_seq(path)? {
                // Lines before numbering come before every numbered one.
                Some(first) if first == 0 || first <= self.after.saturating_add(1) => chosen = Some(*index),
                Some(_) => break,
                None => {}
            }
        }
        let chosen = chosen.or_else(|| list.first().map(|(i, _)| *i));
        self.at = chosen.map(|i| (i, 0));
        Ok(self.at)
    }
}

/// The number of a segment's first line (0 when it has none); `None` for an empty or missing segment.
fn first_seq(path: &Path) -> io::Result<Option<u64>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut head = [0u8; 32];
    let n = read_up_to(&mut file, &mut head)?;
    Ok((n > 0).then(|| line_seq(&head[..n])))
}

/// The number of the oldest numbered record stored, 0 when there is none.
pub fn first_stored_seq(base: &Path, max_line: usize) -> io::Result<u64> {
    Ok(SeqReader::new(base, max_line, 0).next_batch(1, 1)?.first().map_or(0, |(seq, _)| *seq))
}

/// The journal as read at start.
pub struct Replay {
    /// The last `retain` records, oldest first: the dashboard's history.
    pub records: Vec<Record>,
    /// Every accepted (non-duplicate) event's (source, id), so re-deliveries after a restart are duplicates.
    pub dedup: DedupWindow,
    /// Records read in all.
    pub total: u64,
    /// Accepted (non-duplicate) events among them.
    pub events: u64,
    pub report: ScanReport,
}

/// Reads the whole journal at `base` (repairing a torn tail), keeping the last `retain` records and filling a
/// duplicate window of `dedup_capacity`. Only the kind, the duplicate flag and the event's source and id are parsed
/// for every line; full records are built for the retained lines alone.
pub fn replay(base: &Path, retain: usize, dedup_capacity: usize, max_line: usize) -> io::Result<Replay> {
    let mut dedup = DedupWindow::new(dedup_capacity);
    let mut kept: VecDeque<(usize, u64, String)> = VecDeque::with_capacity(retain.min(64 * 1024));
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut events = 0u64;
    let mut report = scan(base, ScanMode::Repair, max_line, |line| {
        let peek: Peek = match serde_json::from_str(line.text) {
            Ok(p) => p,
            Err(e) => return ScanStep::Corrupt(json_reason(&e)),
        };
        match peek.kind.as_ref() {
            "event" => {
                let Some(PeekEvent { id: Some(id), source: Some(source) }) = peek.event else {
                    return ScanStep::Corrupt("invalid record: event without a string id and source".into());
                };
                if !peek.duplicate {
                    dedup.insert(&source, &id);
                    events += 1;
                }
            }
            "challenge" | "rejected" => {}
            other => {
                return ScanStep::Corrupt(format!(
                    "invalid record: unknown kind {:?}",
                    crate::cloudevent::truncate(other, 40)
                ))
            }
        }
        if retain > 0 {
            if paths.last().map(PathBuf::as_path) != Some(line.path) {
                paths.push(line.path.to_owned());
            }
            if kept.len() == retain {
                kept.pop_front();
            }
            kept.push_back((paths.len() - 1, line.number, line.text.to_owned()));
        }
        ScanStep::Continue
    })?;
    let total = report.lines;
    let mut records = Vec::with_capacity(kept.len());
    for (path, number, text) in kept {
        match Record::from_line(&text) {
            Ok(r) => records.push(r),
            Err(e) => report.warn(format!("{} line {number}: skipped, {}", paths[path].display(), json_reason(&e))),
        }
    }
    Ok(Replay { records, dedup, total, events, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segment_path;
    use crate::record::{EventRecord, VerifiedBy};
    use serde_json::value::RawValue;

    fn event(id: &str, duplicate: bool) -> String {
        Record::Event(EventRecord {
            received_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            peer: "127.0.0.1:1".into(),
            via: None,
            verified_by: VerifiedBy::Primary,
            duplicate,
            event: RawValue::from_string(format!(r#"{{"specversion":"1.0","id":"{id}","source":"s","type":"t"}}"#))
                .unwrap(),
        })
        .to_line()
    }

    fn ids(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match r {
                Record::Event(e) => crate::cloudevent::EventFields::from_raw(e.event.get()).id,
                _ => "?".into(),
            })
            .collect()
    }

    fn journal(content: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        for (i, c) in content.iter().enumerate() {
            std::fs::write(segment_path(&base, i as u64), c).unwrap();
        }
        (dir, base)
    }

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

    #[test]
    fn missing_journal_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let r = replay(&dir.path().join("nothing/journal.jsonl"), 10, 10, 1 << 20).unwrap();
        assert_eq!((r.total, r.events, r.report.segments), (0, 0, 0));
    }
}
