//! Appending to the journal: the pipeline's [`Store`], with segment rollover and no partial group ever left behind.

use super::keys::Tracker;
use super::segment_path;
use crate::pipeline::{DedupKey, Store};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// When an appended record counts as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to the disk (`fsync`) before the event is acknowledged; survives a power cut.
    Fsync,
    /// Handed to the operating system only: survives a crash of glwatch, not of the machine.
    Os,
}

/// Appends groups of NDJSON lines to the current segment.
///
/// A group is written with one `write` call and never split across segments. If writing or syncing it fails, the
/// segment is truncated back to where the group started, so the file only ever holds whole groups that the
/// pipeline either acknowledged or had not yet finished; the refused events are retried by GreenLake and written
/// again, once.
pub struct JournalWriter {
    base: PathBuf,
    index: u64,
    /// `None` after a failure that left the segment in an unknown state: it is reopened and repaired first.
    file: Option<File>,
    len: u64,
    /// Length before the last append: what a failed sync rolls back to.
    group_start: u64,
    segment_size: u64,
    durability: Durability,
    /// A segment file (or the journal directory) was created and its directory entry is not yet synced.
    dir_unsynced: bool,
    /// The number of the last record found at open; the pipeline numbers on from it.
    last_seq: u64,
    /// Deletes old segments after each roll and periodically, when retention is configured.
    pruner: Option<super::retention::Pruner>,
    /// The current segment's keys, written beside it when it is closed.
    tracker: Option<Tracker>,
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl JournalWriter {
    /// Opens the newest segment of the journal at `base` (creating the directory and first segment if needed).
    /// Call after [`super::replay`], which repairs a torn tail and reports it; a torn tail found here is cut
    /// without a report.
    pub fn open(base: &Path, segment_size: u64, durability: Durability) -> io::Result<JournalWriter> {
        let dir = parent_dir(base);
        let mut dir_unsynced = false;
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            if durability == Durability::Fsync {
                sync_dir(&parent_dir(&dir))?;
            }
        }
        let index = super::segments(base)?.last().map(|(i, _)| *i).unwrap_or(0);
        let path = segment_path(base, index);
        if !path.exists() {
            dir_unsynced = true;
        }
        let (file, len) = open_segment(&path)?;
        let last_seq = super::reader::last_seq(base)?;
        Ok(JournalWriter {
            base: base.to_owned(),
            index,
            file: Some(file),
            len,
            group_start: len,
            segment_size: segment_size.max(1),
            durability,
            dir_unsynced,
            last_seq,
            pruner: None,
            tracker: (len == 0).then(Tracker::default),
            #[cfg(test)]
            fail_after: None,
        })
    }

    /// Deletes old segments as `retention` allows after each roll, and periodically while it is open.
    pub fn with_retention(mut self, retention: super::Retention, max_line: usize) -> JournalWriter {
        self.pruner =
            retention.is_enabled().then(|| super::retention::Pruner::start(self.base.clone(), retention, max_line));
        self
    }

    /// The segment being appended to.
    pub fn current_segment(&self) -> PathBuf {
        segment_path(&self.base, self.index)
    }

    fn roll(&mut self) -> io::Result<()> {
        if let (Durability::Fsync, Some(file)) = (self.durability, &self.file) {
            // Whatever is in the old segment must be durable before the newer one can be.
            file.sync_data()?;
        }
        if let Some(tracker) = self.tracker.take() {
            tracker.finish(&self.current_segment(), self.len);
        }
        let next = self.index + 1;
        let (file, len) = open_segment(&segment_path(&self.base, next))?;
        self.file = Some(file);
        self.index = next;
        self.len = len;
        self.group_start = len;
        self.dir_unsynced = true;
        // A next segment that somehow has content already is not known line by line: no index for it.
        self.tracker = (len == 0).then(Tracker::default);
        if let Some(pruner) = &self.pruner {
            pruner.request();
        }
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        let (file, len) = open_segment(&self.current_segment())?;
        self.file = Some(file);
        self.len = len;
        self.group_start = len;
        // What the failed write left behind is not known line by line.
        self.tracker = None;
        Ok(())
    }

    /// Cuts the current segment back to `len`; if even that fails, the segment is repaired on the next append.
    fn roll_back(&mut self, len: u64, cause: io::Error) -> io::Error {
        let Some(file) = self.file.as_mut() else { return cause };
        match file.set_len(len) {
            Ok(()) => {
                self.len = len;
                self.group_start = len;
                if let Some(tracker) = &mut self.tracker {
                    tracker.roll_back();
                }
                cause
            }
            Err(t) => {
                self.file = None;
                io::Error::new(
                    cause.kind(),
                    format!(
                        "{cause} (and the partial write could not be removed: {t}; it is cut before the next write)"
                    ),
                )
            }
        }
    }

    fn write_group(&mut self, lines: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(|| io::Error::other("journal segment is not open"))?;
        #[cfg(test)]
        if let Some(n) = self.fail_after {
            file.write_all(&lines[..n.min(lines.len())])?;
            return Err(io::Error::other("No space left on device (simulated)"));
        }
        file.write_all(lines)
    }
}

impl Store for JournalWriter {
    fn append(&mut self, lines: &[u8], keys: &[DedupKey]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        if self.len > 0 && self.len.saturating_add(lines.len() as u64) > self.segment_size {
            self.roll()?;
        }
        let start = self.len;
        if let Some(tracker) = &mut self.tracker {
            tracker.mark();
        }
        match self.write_group(lines) {
            Ok(()) => {
                self.group_start = start;
                self.len = start + lines.len() as u64;
                if let Some(tracker) = &mut self.tracker {
                    tracker.add(lines, keys);
                }
                Ok(())
            }
            Err(e) => Err(self.roll_back(start, e)),
        }
    }

    fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.durability == Durability::Os {
            return Ok(());
        }
        let file = self.file.as_ref().ok_or_else(|| io::Error::other("journal segment is not open"))?;
        if let Err(e) = file.sync_data() {
            // The group is refused, so it must not stay in the file to be written a second time on retry.
            return Err(self.roll_back(self.group_start, e));
        }
        if self.dir_unsynced {
            // Without its directory entry the new segment may vanish in a power cut: refuse the group like any
            // failed sync.
            if let Err(e) = sync_dir(&parent_dir(&self.base)) {
                return Err(self.roll_back(self.group_start, e));
            }
            self.dir_unsynced = false;
        }
        Ok(())
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens a segment for appending and cuts anything after its last newline, which can only be a torn write.
fn open_segment(path: &Path) -> io::Result<(File, u64)> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let len = file.metadata()?.len();
    let complete = complete_len(&mut file, len)?;
    if complete < len {
        file.set_len(complete)?;
    }
    Ok((file, complete))
}

/// The length of the file up to and including its last newline, reading backwards in bounded chunks.
pub(crate) fn complete_len(file: &mut File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segments;

    fn line(n: usize, width: usize) -> Vec<u8> {
        let mut l = format!("{{\"n\":{n},\"pad\":\"");
        while l.len() < width - 3 {
            l.push('x');
        }
        l.push_str("\"}\n");
        l.into_bytes()
    }

    #[test]
    fn rolls_over_to_numbered_segments_without_splitting_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        let mut w = JournalWriter::open(&base, 100, Durability::Fsync).unwrap();
        for n in 0..3 {
            w.append(&line(n, 60), &[]).unwrap();
            w.sync().unwrap();
        }
        // A group larger than a segment still goes whole into one.
        let big = [line(3, 60), line(4, 60)].concat();
        w.append(&big, &[]).unwrap();
        w.sync().unwrap();
        let files: Vec<(u64, u64)> =
            segments(&base).unwrap().iter().map(|(i, p)| (*i, std::fs::metadata(p).unwrap().len())).collect();
        assert_eq!(files, vec![(0, 60), (1, 60), (2, 60), (3, 120)]);
        assert!(dir.path().join("journal.000003.jsonl").exists());
        // Reopening continues in the newest segment.
        drop(w);
        let mut w = JournalWriter::open(&base, 1000, Durability::Os).unwrap();
        assert_eq!(w.current_segment(), dir.path().join("journal.000003.jsonl"));
        w.append(&line(5, 60), &[]).unwrap();
        assert_eq!(std::fs::metadata(w.current_segment()).unwrap().len(), 180);
    }

    #[test]
    fn a_closed_segment_gets_the_key_index_of_what_was_written_to_it() {
        use crate::journal::keys;
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        let key = |n: u64| DedupKey::of("s", &n.to_string());
        let mut w = JournalWriter::open(&base, 200, Durability::Fsync).unwrap();
        w.append(&line(0, 60), &[key(0)]).unwrap();
        w.sync().unwrap();
        // A group whose sync fails is cut from the segment, and from its index.
        w.append(&line(1, 60), &[key(1)]).unwrap();
        let cut = w.roll_back(w.group_start, io::Error::other("sync failed (simulated)"));
        assert_eq!(cut.to_string(), "sync failed (simulated)");
        w.append(&[line(2, 60), line(3, 5)].concat(), &[key(2)]).unwrap();
        w.sync().unwrap();
        w.append(&line(4, 70), &[key(4)]).unwrap();
        let first = keys::read(&base, 137, 10).unwrap().expect("the closed segment's index");
        assert_eq!((first.records, first.events, first.keys), (3, 2, vec![key(0), key(2)]));
        assert!(!keys::index_path(&w.current_segment()).exists(), "not while it is written");
        // A segment that had content when opened is not indexed by the writer: what it held is not known here.
        drop(w);
        let mut w = JournalWriter::open(&base, 200, Durability::Os).unwrap();
        w.append(&line(5, 100), &[key(5)]).unwrap();
        w.append(&line(6, 100), &[key(6)]).unwrap();
        assert!(!keys::index_path(&segment_path(&base, 1)).exists());
        w.append(&line(7, 150), &[key(7)]).unwrap();
        assert_eq!(keys::read(&segment_path(&base, 2), 100, 10).unwrap().map(|i| i.keys), Some(vec![key(6)]));
    }

    #[test]
    fn failed_append_leaves_no_partial_group() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&base, 1 << 20, Durability::Fsync).unwrap();
        w.append(&line(0, 50), &[]).unwrap();
        w.fail_after = Some(70);
        let group = [line(1, 50), line(2, 50)].concat();
        let err = w.append(&group, &[]).unwrap_err();
        assert!(err.to_string().contains("No space left"), "{err}");
        assert_eq!(std::fs::read(&base).unwrap(), line(0, 50), "the partial group was cut");
        w.fail_after = None;
        w.append(&group, &[]).unwrap();
        w.sync().unwrap();
        assert_eq!(std::fs::read(&base).unwrap(), [line(0, 50), group].concat());
    }

    #[test]
    fn opening_cuts_a_torn_tail_and_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("data/deeper/journal.jsonl");
        let mut w = JournalWriter::open(&base, 1 << 20, Durability::Fsync).unwrap();
        w.append(b"{\"a\":1}\n", &[]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&base).unwrap();
        f.write_all(b"{\"torn").unwrap();
        let mut w = JournalWriter::open(&base, 1 << 20, Durability::Fsync).unwrap();
        w.append(b"{\"b\":2}\n", &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&base).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn complete_len_finds_the_last_newline_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut data = b"a\n".to_vec();
        data.extend(vec![b'x'; 200_000]);
        std::fs::write(&p, &data).unwrap();
        let mut f = File::open(&p).unwrap();
        assert_eq!(complete_len(&mut f, data.len() as u64).unwrap(), 2);
        std::fs::write(&p, b"no newline").unwrap();
        assert_eq!(complete_len(&mut File::open(&p).unwrap(), 10).unwrap(), 0);
    }
}
