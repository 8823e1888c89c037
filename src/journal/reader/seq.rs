//! Reading the journal by seq: the last seq at start, where stored history begins, and a reader that follows
//! records after a seq for watchers and routes.

use super::*;

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
            let path = crate::journal::segment_path(&self.base, index);
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
    let end = crate::journal::writer::complete_len(&mut file, len)?;
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
