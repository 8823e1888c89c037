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
    on_line: impl FnMut(&LineRef) -> ScanStep,
) -> io::Result<ScanReport> {
    scan_from(base, 0, mode, max_line, on_line)
}

/// [`scan`] from segment number `from` on; older segments are not opened.
pub fn scan_from(
    base: &Path,
    from: u64,
    mode: ScanMode,
    max_line: usize,
    mut on_line: impl FnMut(&LineRef) -> ScanStep,
) -> io::Result<ScanReport> {
    let list: Vec<(u64, PathBuf)> = segments(base)?.into_iter().filter(|(i, _)| *i >= from).collect();
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
    #[serde(borrow, default)]
    source_name: Option<Cow<'a, str>>,
    /// Read instead of `event` when present (see [`crate::record::Attributes`]).
    #[serde(borrow, default)]
    attributes: Option<PeekEvent<'a>>,
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
pub(crate) fn read_first_seq(path: &Path) -> io::Result<Option<u64>> {
    first_seq(path)
}

/// The last complete line of a segment (without its newline), read from the end in bounded chunks; `None` when
/// it has none or it is longer than `max_line`.
pub(crate) fn last_line_of(path: &Path, max_line: usize) -> io::Result<Option<String>> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let end = super::writer::complete_len(&mut file, len)?;
    if end == 0 {
        return Ok(None);
    }
    let body_end = end - 1;
    let mut start = body_end;
    let mut buf = vec![0u8; CHUNK as usize];
    while start > 0 {
        let from = start.saturating_sub(CHUNK);
        let chunk = &mut buf[..(start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            start = from + i as u64 + 1;
            break;
        }
        start = from;
        if body_end - start > max_line as u64 {
            return Ok(None);
        }
    }
    let mut line = vec![0u8; (body_end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    Ok(String::from_utf8(line).ok())
}

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

/// Where stored history begins: the oldest numbered record's seq and when it was received; `None` when nothing
/// numbered is stored.
pub fn history_begins(base: &Path, max_line: usize) -> io::Result<Option<(u64, Option<time::OffsetDateTime>)>> {
    let first = SeqReader::new(base, max_line, 0).next_batch(1, 1)?;
    Ok(first.first().map(|(seq, line)| (*seq, Record::from_line(line).ok().map(|r| r.received_at()))))
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
    replay_from(base, 0, retain, dedup_capacity, max_line)
}

/// The oldest segment that has to be read for the last `retain` records and `dedup_capacity` accepted events:
/// segments are counted newest first (lines, and lines of accepted events, found without parsing) until both are
/// covered, so the work at start follows those two numbers rather than the size of the journal.
pub fn window_start(base: &Path, retain: usize, dedup_capacity: usize) -> io::Result<u64> {
    let list = segments(base)?;
    let (mut records, mut events) = (0usize, 0usize);
    let event = memchr::memmem::Finder::new(b"\"kind\":\"event\"");
    let duplicate = memchr::memmem::Finder::new(b"\"duplicate\":true");
    let mut buf = Vec::new();
    for (index, path) in list.iter().rev() {
        buf.clear();
        match File::open(path) {
            Ok(mut f) => f.read_to_end(&mut buf).map(|_| ())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            records += 1;
            // Only the record's own fields come before the event, so these finds cannot match the payload's text.
            let head = &line[..line.len().min(256)];
            if event.find(head).is_some() && duplicate.find(head).is_none() {
                events += 1;
            }
        }
        if records >= retain && events >= dedup_capacity {
            return Ok(*index);
        }
    }
    Ok(list.first().map_or(0, |(i, _)| *i))
}

/// [`replay`] from segment number `from` on.
pub fn replay_from(
    base: &Path,
    from: u64,
    retain: usize,
    dedup_capacity: usize,
    max_line: usize,
) -> io::Result<Replay> {
    let mut dedup = DedupWindow::new(dedup_capacity);
    let mut kept: VecDeque<(usize, u64, String)> = VecDeque::with_capacity(retain.min(64 * 1024));
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut events = 0u64;
    let mut report = scan_from(base, from, ScanMode::Repair, max_line, |line| {
        let peek: Peek = match serde_json::from_str(line.text) {
            Ok(p) => p,
            Err(e) => return ScanStep::Corrupt(json_reason(&e)),
        };
        match peek.kind.as_ref() {
            "event" => {
                let Some(PeekEvent { id: Some(id), source: Some(source) }) = peek.attributes.or(peek.event) else {
                    return ScanStep::Corrupt("invalid record: event without a string id and source".into());
                };
                if !peek.duplicate {
                    dedup.insert(&DedupWindow::source_key(peek.source_name.as_deref(), &source), &id);
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
mod tests;
