//! Start-up without replaying the journal: the newest segment's torn tail is repaired before the port opens, and
//! the duplicate window and the dashboard's history are read afterwards from the newest segments only, newest
//! first, until they have what they need.

use super::*;
use crate::journal::keys;
use crate::pipeline::DedupKey;

/// One segment as it was when the journal was opened: later appends are the pipeline's, not history.
#[derive(Debug, Clone)]
struct Frozen {
    path: PathBuf,
    len: u64,
}

/// The journal's segments and their lengths at open, oldest first: what [`load_window`] reads from.
#[derive(Debug, Clone, Default)]
pub struct Boundary {
    segments: Vec<Frozen>,
}

impl Boundary {
    /// The segments of the journal at `base` as they are now. Only metadata is read.
    pub fn now(base: &Path) -> io::Result<Boundary> {
        let mut frozen = Vec::new();
        for (_, path) in segments(base)? {
            match std::fs::metadata(&path) {
                Ok(m) => frozen.push(Frozen { path, len: m.len() }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Boundary { segments: frozen })
    }

    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

/// What [`load_window`] read.
pub struct Window {
    /// The last accepted events' (source, id), up to the window's capacity, oldest first.
    pub dedup: DedupWindow,
    /// Records read in all (complete, valid lines).
    pub total: u64,
    /// Accepted (non-duplicate) events among them.
    pub events: u64,
    /// Segments opened, newest first, and segments there were.
    pub segments_read: usize,
    pub segments_all: usize,
    /// Segments among those read whose keys came from their key index rather than their lines.
    pub segments_indexed: usize,
    /// Corrupt lines skipped (never a torn tail: that was cut at open).
    pub report: ScanReport,
}

/// Reads segments newest first, up to `boundary`, until they hold the last `retain` records and `dedup_capacity`
/// accepted events (or the journal ends), so the work follows those two numbers, not the journal's size, even
/// within one large segment. Once the history is complete, a closed segment's keys come from its key index (see
/// [`crate::journal::keys`]) when it has a valid one; otherwise its lines are read, and a closed segment read whole
/// and clean gets its index written for the next start. The history is handed to `on_history` oldest first once
/// everything is read. Never modifies the segments.
pub fn load_window(
    boundary: &Boundary,
    retain: usize,
    dedup_capacity: usize,
    max_line: usize,
    mut on_history: impl FnMut(Record),
) -> io::Result<Window> {
    let mut report = ScanReport::default();
    let (mut total, mut events) = (0u64, 0u64);
    // Newest first, both.
    let mut keys: Vec<DedupKey> = Vec::new();
    let mut history: Vec<Record> = Vec::new();
    let mut segments_indexed = 0;
    let newest = boundary.segments.len().saturating_sub(1);
    for (position, frozen) in boundary.segments.iter().enumerate().rev() {
        if total >= retain as u64 && events >= dedup_capacity as u64 {
            break;
        }
        let closed = position < newest;
        if closed && history.len() >= retain {
            let want = dedup_capacity.saturating_sub(keys.len());
            if let Some(indexed) = keys::read(&frozen.path, frozen.len, want).ok().flatten() {
                total += indexed.records;
                events += indexed.events;
                keys.extend(indexed.keys.into_iter().rev());
                report.segments += 1;
                segments_indexed += 1;
                continue;
            }
        }
        let mut problems: Vec<(u64, String)> = Vec::new();
        // This segment's keys, newest first, and whether its first line was reached.
        let (mut segment_keys, mut segment_records, mut whole) = (Vec::new(), 0u64, false);
        let read = lines_newest_first(&frozen.path, frozen.len, max_line, |offset, line| {
            whole = offset == 0;
            let checked = line.and_then(|l| std::str::from_utf8(l).map_err(|_| "not UTF-8".to_owned()));
            let outcome = checked.and_then(|text| peek_key(text).map(|key| (text, key)));
            match outcome {
                Ok((text, key)) => {
                    total += 1;
                    segment_records += 1;
                    if let Some(key) = key {
                        events += 1;
                        segment_keys.push(key);
                    }
                    if history.len() < retain {
                        match Record::from_line(text) {
                            Ok(r) => history.push(r),
                            Err(e) => problems.push((offset, json_reason(&e))),
                        }
                    }
                }
                Err(problem) => problems.push((offset, problem)),
            }
            total < retain as u64 || events < dedup_capacity as u64
        });
        match read {
            Ok(()) => report.segments += 1,
            // Deleted by retention since: what is left is older than anything it could hold.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", frozen.path.display()))),
        }
        let room = dedup_capacity.saturating_sub(keys.len());
        keys.extend(segment_keys.iter().take(room));
        // A segment with skipped lines keeps being read, so its warnings are seen at every start.
        if closed && whole && problems.is_empty() {
            segment_keys.reverse();
            if let Err(e) = keys::write(&frozen.path, frozen.len, segment_records, &segment_keys) {
                tracing::debug!("journal key index of {}: not written: {e}", frozen.path.display());
            }
        }
        for (number, problem) in line_numbers(&frozen.path, problems)? {
            report.warn(format!("{} line {number}: skipped, {problem}", frozen.path.display()));
        }
    }
    let mut dedup = DedupWindow::new(dedup_capacity);
    for key in keys.into_iter().rev() {
        dedup.insert_key(key);
    }
    for record in history.into_iter().rev() {
        on_history(record);
    }
    let segments_read = report.segments;
    let segments_all = boundary.segments.len();
    Ok(Window { dedup, total, events, segments_read, segments_all, segments_indexed, report })
}

/// Feeds the lines of the first `len` bytes of a segment to `on_line`, newest first, with their byte offsets,
/// until it returns false. The file is read backwards in bounded chunks; a line longer than `max_line` is passed
/// as a problem without being held, and so is an incomplete last line.
fn lines_newest_first(
    path: &Path,
    len: u64,
    max_line: usize,
    mut on_line: impl FnMut(u64, Result<&[u8], String>) -> bool,
) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let mut file = File::open(path)?;
    let complete = crate::journal::writer::complete_len(&mut file, len)?;
    if complete < len && !on_line(complete, Err("incomplete line (no newline)".to_owned())) {
        return Ok(());
    }
    // The region still to read is [0, stop) followed by a newline; `carry` holds the end of the line that is cut
    // by the chunk's start, and `overlong` says that line was dropped for its length.
    let mut stop = complete.saturating_sub(1);
    let mut carry: Vec<u8> = Vec::new();
    let mut overlong = false;
    let too_long = || format!("longer than {max_line} bytes");
    if complete == 0 {
        return Ok(());
    }
    loop {
        let start = stop.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (stop - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        buf.extend_from_slice(&carry);
        carry.clear();
        let mut hi = buf.len();
        while let Some(i) = memchr::memrchr(b'\n', &buf[..hi]) {
            let line = if overlong || hi - i - 1 > max_line { Err(too_long()) } else { Ok(&buf[i + 1..hi]) };
            overlong = false;
            if !on_line(start + i as u64 + 1, line) {
                return Ok(());
            }
            hi = i;
        }
        if start == 0 {
            let line = if overlong || hi > max_line { Err(too_long()) } else { Ok(&buf[..hi]) };
            on_line(0, line);
            return Ok(());
        }
        if overlong || hi > max_line {
            overlong = true;
        } else {
            carry.extend_from_slice(&buf[..hi]);
        }
        stop = start;
    }
}

/// Each problem's line number in the segment (1-based) instead of its byte offset, oldest first: one forward
/// count of newlines, only when there is something to report.
fn line_numbers(path: &Path, mut problems: Vec<(u64, String)>) -> io::Result<Vec<(u64, String)>> {
    if problems.is_empty() {
        return Ok(problems);
    }
    problems.sort_by_key(|(offset, _)| *offset);
    let mut file = File::open(path)?;
    let mut counted = (0u64, 0u64);
    for (offset, _) in problems.iter_mut() {
        counted.1 += count_lines(&mut file, counted.0, *offset)?;
        counted.0 = *offset;
        *offset = counted.1 + 1;
    }
    Ok(problems)
}

/// The duplicate-window key of an accepted event's line, `None` for any other valid record; the error says why
/// the line is not a valid record.
pub(super) fn peek_key(text: &str) -> Result<Option<DedupKey>, String> {
    let peek: Peek = serde_json::from_str(text).map_err(|e| json_reason(&e))?;
    match peek.kind.as_ref() {
        "event" => {
            let Some(PeekEvent { id: Some(id), source: Some(source) }) = peek.attributes.or(peek.event) else {
                return Err("invalid record: event without a string id and source".into());
            };
            Ok((!peek.duplicate)
                .then(|| DedupKey::of(&DedupWindow::source_key(peek.source_name.as_deref(), &source), &id)))
        }
        "challenge" | "rejected" => Ok(None),
        other => Err(format!("invalid record: unknown kind {:?}", crate::cloudevent::truncate(other, 40))),
    }
}

/// Cuts a torn last line off the newest segment that has content: an incomplete line (a write cut by a crash),
/// or a last line that is not a valid record. Only that segment's end is read, plus, when there is something to
/// cut, a count of its lines for the message. Returns what was cut, described.
pub fn repair_tail(base: &Path, max_line: usize) -> io::Result<Option<String>> {
    let list = segments(base)?;
    let Some((_, path)) = list.last() else { return Ok(None) };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let complete = crate::journal::writer::complete_len(&mut file, len)?;
    let (start, problem) = if complete < len {
        (complete, "incomplete line (no newline)".to_owned())
    } else {
        let Some(line) = last_line_of(path, max_line)? else {
            return Ok(None);
        };
        match peek_key(&line) {
            Ok(_) => return Ok(None),
            Err(reason) => (len - line.len() as u64 - 1, reason),
        }
    };
    let number = count_lines(&mut file, 0, start)? + 1;
    cut(path, start)?;
    Ok(Some(format!("{} line {number}: torn last line ({problem}, {} bytes) cut off", path.display(), len - start)))
}

/// The newlines in bytes `from..upto` of `file`.
fn count_lines(file: &mut File, from: u64, upto: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(upto.saturating_sub(from)));
    let mut count = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(count);
        }
        count += memchr::memchr_iter(b'\n', chunk).count() as u64;
        let n = chunk.len();
        reader.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::reader::test_lines::{self, event, ids as history_ids};
    use crate::journal::segment_path;

    /// Segments of `per` events each, ids `e0`, `e1`, ... in order.
    fn journal(segments: usize, per: usize) -> (tempfile::TempDir, PathBuf) {
        let segments: Vec<String> = (0..segments)
            .map(|s| (0..per).map(|i| event(&format!("e{}", s * per + i), false) + "\n").collect())
            .collect();
        test_lines::journal(&segments.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn reads_only_the_newest_segments_the_window_and_history_need() {
        let (_d, base) = journal(10, 100);
        let boundary = Boundary::now(&base).unwrap();
        let mut history = Vec::new();
        let mut w = load_window(&boundary, 150, 250, 1 << 20, |r| history.push(r)).unwrap();
        assert_eq!((w.segments_read, w.segments_all, w.total, w.events), (3, 10, 250, 250), "half of the third");
        assert_eq!(history.len(), 150);
        assert_eq!(history_ids(&history)[..2], ["e850", "e851"], "the last 150, oldest first");
        assert_eq!(history_ids(&history).last().unwrap(), "e999");
        assert_eq!(w.dedup.len(), 250, "the newest 250 accepted events");
        assert!(!w.dedup.insert("s", "e999") && !w.dedup.insert("s", "e750"));
        assert!(w.dedup.insert("s", "e749"), "older than the window");
    }

    #[test]
    fn reads_no_further_than_the_boundary_and_skips_duplicates_and_corrupt_lines() {
        let (_d, base) = journal(2, 3);
        let newest = segment_path(&base, 1);
        let extra = format!("{}\nnot json\n", event("e1", true));
        let mut text = std::fs::read_to_string(&newest).unwrap();
        text.push_str(&extra);
        std::fs::write(&newest, &text).unwrap();
        let boundary = Boundary::now(&base).unwrap();
        // Appended after open: the pipeline's own records, not history.
        std::fs::write(&newest, format!("{text}{}\n", event("later", false))).unwrap();
        let mut history = Vec::new();
        let mut w = load_window(&boundary, 100, 100, 1 << 20, |r| history.push(r)).unwrap();
        assert_eq!((w.total, w.events, w.segments_read), (7, 6, 2));
        assert_eq!(history_ids(&history), ["e0", "e1", "e2", "e3", "e4", "e5", "e1"]);
        let messages = w.report.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].ends_with("journal.000001.jsonl line 5: skipped, invalid record: expected ident (column 2)")
        );
        assert!(w.dedup.insert("s", "later"));
    }

    #[test]
    fn lines_across_chunks_come_whole_and_an_overlong_one_is_skipped_by_number() {
        let (_d, base) = journal(1, 12_000);
        let mut text = std::fs::read_to_string(&base).unwrap();
        let long = event(&"x".repeat(3 << 20), false);
        let at = text.match_indices('\n').nth(4_999).unwrap().0 + 1;
        text.insert_str(at, &(long + "\n"));
        std::fs::write(&base, &text).unwrap();
        let mut history = Vec::new();
        let w = load_window(&Boundary::now(&base).unwrap(), 20_000, 20_000, 1 << 20, |r| history.push(r)).unwrap();
        assert_eq!((w.total, w.events), (12_000, 12_000));
        let want: Vec<String> = (0..12_000).map(|i| format!("e{i}")).collect();
        assert_eq!(history_ids(&history), want);
        assert_eq!(w.report.messages().len(), 1);
        assert!(w.report.messages()[0].ends_with("journal.jsonl line 5001: skipped, longer than 1048576 bytes"));
    }

    #[test]
    fn repair_cuts_only_the_newest_segments_torn_tail() {
        let (_d, base) = journal(2, 2);
        let newest = segment_path(&base, 1);
        let whole = std::fs::read_to_string(&newest).unwrap();
        std::fs::write(&newest, format!("{whole}{{\"seq\":5,\"kind\":\"ev")).unwrap();
        let older = segment_path(&base, 0);
        let older_text = std::fs::read_to_string(&older).unwrap() + "garbage";
        std::fs::write(&older, &older_text).unwrap();
        let torn = repair_tail(&base, 1 << 20).unwrap().unwrap();
        assert!(
            torn.ends_with(
                "journal.000001.jsonl line 3: torn last line (incomplete line (no newline), 19 bytes) cut off"
            ),
            "{torn}"
        );
        assert_eq!(std::fs::read_to_string(&newest).unwrap(), whole);
        assert_eq!(std::fs::read_to_string(&older).unwrap(), older_text, "an older segment is never cut");
        assert_eq!(repair_tail(&base, 1 << 20).unwrap(), None, "nothing left to cut");
        std::fs::write(&newest, format!("{whole}\0\0\0\n")).unwrap();
        assert!(repair_tail(&base, 1 << 20).unwrap().unwrap().contains("line 3: torn last line (invalid record"));
        assert_eq!(std::fs::read_to_string(&newest).unwrap(), whole);
    }

    #[test]
    fn closed_segments_read_whole_get_a_key_index_that_the_next_start_reads_instead_of_their_lines() {
        let (_d, base) = journal(4, 100);
        let boundary = Boundary::now(&base).unwrap();
        let first = load_window(&boundary, 50, 1_000, 1 << 20, |_| {}).unwrap();
        assert_eq!((first.total, first.events, first.segments_read), (400, 400, 4));
        let indexed: Vec<bool> = (0..4).map(|s| keys::index_path(&segment_path(&base, s)).exists()).collect();
        assert_eq!(indexed, [true, true, true, false], "every closed segment, never the one being written");
        // The index stands in for the lines: a closed segment's content is not read again once it has one.
        let older = segment_path(&base, 1);
        let len = std::fs::metadata(&older).unwrap().len() as usize;
        std::fs::write(&older, "x".repeat(len - 1) + "\n").unwrap();
        let mut second = load_window(&boundary, 50, 1_000, 1 << 20, |_| {}).unwrap();
        assert_eq!((second.total, second.events, second.segments_read), (400, 400, 4));
        assert!(second.report.messages().is_empty(), "{:?}", second.report.messages());
        assert_eq!(second.dedup.len(), 400);
        assert!(!second.dedup.insert("s", "e150") && !second.dedup.insert("s", "e0"), "known from the indexes");
        // A segment that no longer has the length its index describes is read again, and its damage reported.
        std::fs::write(&older, "x".repeat(len) + "\n").unwrap();
        let third = load_window(&Boundary::now(&base).unwrap(), 50, 1_000, 1 << 20, |_| {}).unwrap();
        assert_eq!((third.total, third.events), (300, 300));
        assert_eq!(third.report.messages().len(), 1, "{:?}", third.report.messages());
    }
}
