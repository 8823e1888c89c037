//! The key index beside each closed segment (`<segment>.keys`): its accepted events' duplicate-window keys and its
//! record count, so a start fills a window of a million events by reading 16 bytes per event instead of parsing
//! every line.
//!
//! The index is a cache of the segment, never the record: it names the segment length it describes, and one that
//! is missing, stale or damaged is ignored (the segment's lines are read instead, and the index written again).
//! It is written without `fsync`: losing it in a power cut only costs the next start that read.

use crate::pipeline::DedupKey;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GLWKEYS1";
/// Magic, then the segment length described, its records and its keys, each a little-endian u64.
const HEADER: u64 = 32;
const KEY: u64 = 16;

/// The index file of `segment`.
pub fn index_path(segment: &Path) -> PathBuf {
    let mut name = segment.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// What an index holds about its segment.
#[derive(Debug, PartialEq, Eq)]
pub struct Indexed {
    /// Records (lines) in the segment.
    pub records: u64,
    /// Accepted events in the segment.
    pub events: u64,
    /// The newest of their keys, as many as asked for, oldest first.
    pub keys: Vec<DedupKey>,
}

/// Writes the index of the first `len` bytes of `segment`: `records` lines, of which the accepted events have
/// `keys`, oldest first. Replaces any earlier index whole (a reader sees the old file or the new one).
pub fn write(segment: &Path, len: u64, records: u64, keys: &[DedupKey]) -> io::Result<()> {
    let path = index_path(segment);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut bytes = Vec::with_capacity((HEADER + KEY * keys.len() as u64) as usize);
    bytes.extend_from_slice(MAGIC);
    for n in [len, records, keys.len() as u64] {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    for key in keys {
        bytes.extend_from_slice(&key.0);
    }
    let written = File::create(&tmp).and_then(|mut f| f.write_all(&bytes)).and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    // Retention may have deleted the segment meanwhile (it deletes the index after the segment).
    if written.is_ok() && !segment.exists() {
        remove(segment);
    }
    written
}

/// The index of `segment` when there is one describing exactly its first `len` bytes, with its newest `want`
/// keys; `None` when it is missing or describes something else (the caller reads the lines instead).
pub fn read(segment: &Path, len: u64, want: usize) -> io::Result<Option<Indexed>> {
    let mut file = match File::open(index_path(segment)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let mut header = [0u8; HEADER as usize];
    if size < HEADER || file.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
        return Ok(None);
    }
    let word = |i: usize| u64::from_le_bytes(header[8 + 8 * i..16 + 8 * i].try_into().unwrap_or_default());
    let (covered, records, events) = (word(0), word(1), word(2));
    if covered != len || events > records || size != HEADER.saturating_add(events.saturating_mul(KEY)) {
        return Ok(None);
    }
    let take = events.min(want as u64);
    file.seek(SeekFrom::Start(HEADER + (events - take) * KEY))?;
    let mut raw = vec![0u8; (take * KEY) as usize];
    file.read_exact(&mut raw)?;
    let keys = raw.chunks_exact(KEY as usize).map(|c| DedupKey(c.try_into().unwrap_or_default())).collect();
    Ok(Some(Indexed { records, events, keys }))
}

/// Deletes the index of a deleted segment; one that is already gone is fine.
pub fn remove(segment: &Path) {
    let _ = std::fs::remove_file(index_path(segment));
}

/// The keys of the segment being written, while every line of it went through this writer (a segment found with
/// content at open, or left in an unknown state by a failed write, has none and gets its index from a later
/// start that reads it).
#[derive(Debug, Default)]
pub(super) struct Tracker {
    keys: Vec<DedupKey>,
    records: u64,
    /// Keys and records before the last group: what a group that is rolled back returns to.
    mark: (usize, u64),
}

impl Tracker {
    /// Called before a group is written: a roll back of it returns here.
    pub(super) fn mark(&mut self) {
        self.mark = (self.keys.len(), self.records);
    }

    pub(super) fn add(&mut self, lines: &[u8], keys: &[DedupKey]) {
        self.records += memchr::memchr_iter(b'\n', lines).count() as u64;
        self.keys.extend_from_slice(keys);
    }

    pub(super) fn roll_back(&mut self) {
        self.keys.truncate(self.mark.0);
        self.records = self.mark.1;
    }

    /// Writes the index of the closed segment `segment`, `len` bytes long.
    pub(super) fn finish(self, segment: &Path, len: u64) {
        if let Err(e) = write(segment, len, self.records, &self.keys) {
            tracing::warn!(
                "journal key index {}: not written ({e}); the next start reads the segment instead",
                index_path(segment).display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_describes_one_segment_length_and_hands_back_the_newest_keys() {
        let dir = tempfile::tempdir().unwrap();
        let segment = dir.path().join("journal.000001.jsonl");
        let keys: Vec<DedupKey> = (0..5).map(|i| DedupKey::of("s", &i.to_string())).collect();
        assert_eq!(read(&segment, 100, 10).unwrap(), None, "no index yet");
        write(&segment, 100, 7, &keys).unwrap();
        assert!(!index_path(&segment).exists(), "not left beside a segment retention deleted meanwhile");
        std::fs::write(&segment, [b'\n'; 100]).unwrap();
        write(&segment, 100, 7, &keys).unwrap();
        assert_eq!(index_path(&segment), dir.path().join("journal.000001.jsonl.keys"));
        let all = read(&segment, 100, 10).unwrap().unwrap();
        assert_eq!((all.records, all.events, all.keys), (7, 5, keys.clone()));
        let newest = read(&segment, 100, 2).unwrap().unwrap();
        assert_eq!(newest.keys, keys[3..], "the newest two, oldest first");
        assert_eq!(read(&segment, 101, 10).unwrap(), None, "a segment of another length is read instead");
        // A damaged index (cut short) is ignored too.
        let path = index_path(&segment);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(read(&segment, 100, 10).unwrap(), None);
        remove(&segment);
        assert!(!path.exists());
    }

    #[test]
    fn a_rolled_back_group_leaves_the_tracker_as_it_was() {
        let mut t = Tracker::default();
        t.mark();
        t.add(b"a\nb\n", &[DedupKey::of("s", "1")]);
        t.mark();
        t.add(b"c\n", &[DedupKey::of("s", "2")]);
        t.roll_back();
        assert_eq!((t.records, t.keys.clone()), (2, vec![DedupKey::of("s", "1")]));
    }
}
