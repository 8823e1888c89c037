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

mod seq;
mod window;
pub use seq::*;
pub use window::{load_window, repair_tail, Boundary, Window};

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
        match window::peek_key(line.text) {
            Ok(Some(key)) => {
                dedup.insert_key(key);
                events += 1;
            }
            Ok(None) => {}
            Err(reason) => return ScanStep::Corrupt(reason),
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
mod test_lines;
#[cfg(test)]
mod tests;
