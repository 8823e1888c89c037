//! The journal: every record appended to numbered segment files, made durable before events are acknowledged,
//! and read back after start (history and duplicate window, newest segments only) and by `glwatch export`.
//!
//! Segment naming: the journal path names the first segment (`glwatch-data/journal.jsonl`); later segments insert a
//! six-digit number before the extension (`journal.000001.jsonl`, `journal.000002.jsonl`, ...). Segments are never
//! renamed, so a reader that lists them while the writer rolls over still reads every line in order. Numbers wider
//! than six digits sort by value, not by name.

pub mod holds;
pub mod keys;
pub mod reader;
pub mod retention;
pub mod writer;

pub use reader::{
    first_stored_seq, history_begins, load_window, repair_tail, replay, scan, Boundary, Replay, ScanMode, ScanReport,
    SeqReader, Window,
};
pub use retention::Retention;
pub use writer::{Durability, JournalWriter};

use crate::pipeline::{DedupWindow, Store};
use crate::record::Record;
use std::io;
use std::path::{Path, PathBuf};

/// Default size at which a new segment is started.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// Longest line read back; longer ones are skipped as corrupt. Far above any record glwatch writes with the
/// default body limit, and raised to match a larger `--max-body`.
pub const MAX_LINE: usize = 256 * 1024 * 1024;

/// How the receiver keeps its journal.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    pub path: PathBuf,
    pub durability: Durability,
    pub segment_size: u64,
    /// Records handed to the dashboard as history.
    pub retain: usize,
    pub dedup_window: usize,
    pub max_line: usize,
    /// Which old segments are deleted, at start and after each roll.
    pub retention: Retention,
}

/// The journal opened at start: the store for the pipeline, and the duplicate window and history still to be read
/// (see [`Pending::load`]), which may happen once the port is open.
pub struct Opened {
    /// `None` when running without a journal.
    pub store: Option<Box<dyn Store>>,
    /// What the operator should read at start (torn tail, retention, durability), one message per entry, without
    /// the `glwatch: ` prefix. What reading the window finds comes from [`Pending::load`].
    pub notices: Vec<String>,
    /// The number of the last record stored (0 for none).
    pub last_seq: u64,
    /// The duplicate window and the dashboard's history, not read yet.
    pub pending: Pending,
}

/// The part of the journal read after the port is open: segments as they were at open, newest first, until the
/// last `retain` records and `dedup_window` accepted events are found.
pub struct Pending {
    journal: Option<(PathBuf, Boundary, usize)>,
    retain: usize,
    dedup_window: usize,
}

/// What [`Pending::load`] found.
pub struct Loaded {
    /// Pre-filled with the accepted events found, so re-deliveries after a restart are duplicates.
    pub dedup: DedupWindow,
    /// Corrupt lines skipped, then the summary last (records and segments read), without the `glwatch: ` prefix.
    pub notices: Vec<String>,
}

impl Pending {
    /// Nothing to read: without a journal the window starts empty.
    pub fn empty(dedup_window: usize) -> Pending {
        Pending { journal: None, retain: 0, dedup_window }
    }

    /// Reads the window, handing the history to `on_history` oldest first before returning. Work and memory
    /// follow `retain` and the window's size, not the journal's.
    pub fn load(self, on_history: impl FnMut(Record)) -> Result<Loaded, OpenError> {
        let Some((path, boundary, max_line)) = self.journal else {
            return Ok(Loaded { dedup: DedupWindow::new(self.dedup_window), notices: Vec::new() });
        };
        let window = load_window(&boundary, self.retain, self.dedup_window, max_line, on_history)
            .map_err(|source| OpenError::Read { path: path.clone(), source })?;
        let mut notices: Vec<String> =
            window.report.messages().into_iter().map(|m| format!("journal warning: {m}")).collect();
        // Only the newest segments are read: enough for the dashboard's history and the duplicate window.
        let segments = match (window.segments_read, window.segments_all) {
            (read, all) if read < all => format!(" from the newest {read} of {all} segments"),
            (0 | 1, _) => String::new(),
            (n, _) => format!(" from {n} segments"),
        };
        let indexed = match window.segments_indexed {
            0 => String::new(),
            1 => ", 1 segment from its key index".to_owned(),
            n => format!(", {n} segments from their key index"),
        };
        notices.push(format!(
            "journal {}: {} records replayed{segments} ({} events{indexed})",
            path.display(),
            window.total,
            window.events
        ));
        Ok(Loaded { dedup: window.dedup, notices })
    }
}

/// Why the journal could not be opened at start: one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("journal {}: cannot be read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("journal {}: cannot be opened for writing: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Opens the journal for appending: old segments past retention are deleted, the newest segment's torn tail is
/// cut and the last seq read from its end. Nothing else is read here, so this takes the same time whatever the
/// journal holds; the duplicate window and history are in [`Opened::pending`]. `None` runs without a journal.
pub fn open(options: Option<&JournalOptions>, dedup_window: usize) -> Result<Opened, OpenError> {
    let Some(o) = options else {
        return Ok(Opened {
            store: None,
            notices: vec!["no journal (--no-journal): events are acknowledged without being written to disk".into()],
            last_seq: 0,
            pending: Pending::empty(dedup_window),
        });
    };
    let read_err = |source| OpenError::Read { path: o.path.clone(), source };
    let mut notices = Vec::new();
    let removed = retention::enforce(&o.path, &o.retention, o.max_line, time::OffsetDateTime::now_utc())
        .map_err(|source| OpenError::Write { path: o.path.clone(), source })?;
    if removed.segments > 0 {
        notices.push(format!("journal retention: {} old segments deleted ({} bytes)", removed.segments, removed.bytes));
    }
    if let Some(torn) = repair_tail(&o.path, o.max_line).map_err(read_err)? {
        notices.push(format!("journal warning: {torn}"));
    }
    let boundary = Boundary::now(&o.path).map_err(read_err)?;
    let writer = JournalWriter::open(&o.path, o.segment_size, o.durability)
        .map_err(|source| OpenError::Write { path: o.path.clone(), source })?
        .with_retention(o.retention.clone(), o.max_line);
    if o.durability == Durability::Os {
        notices.push(
            "journal durability os: records are written without fsync; a power cut (not a crash) can lose acknowledged events"
                .into(),
        );
    }
    let last_seq = writer.last_seq();
    let pending = Pending {
        journal: Some((o.path.clone(), boundary, o.max_line)),
        retain: o.retain,
        dedup_window: o.dedup_window,
    };
    Ok(Opened { store: Some(Box::new(writer)), notices, last_seq, pending })
}

/// The path of segment `index` of the journal at `base` (index 0 is `base` itself).
pub fn segment_path(base: &Path, index: u64) -> PathBuf {
    if index == 0 {
        return base.to_owned();
    }
    let (stem, ext) = split_name(base);
    let name = match ext {
        Some(ext) => format!("{stem}.{index:06}.{ext}"),
        None => format!("{stem}.{index:06}"),
    };
    base.with_file_name(name)
}

/// The file name of `base` as (stem, extension), both borrowed from a lossy view of the name.
fn split_name(base: &Path) -> (String, Option<String>) {
    let name = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), Some(ext.to_owned())),
        _ => (name, None),
    }
}

/// The segment number a file name stands for, if it is a segment of `base`.
fn segment_index(base: &Path, name: &str) -> Option<u64> {
    let base_name = base.file_name()?.to_string_lossy();
    if name == base_name {
        return Some(0);
    }
    let (stem, ext) = split_name(base);
    let rest = name.strip_prefix(stem.as_str())?.strip_prefix('.')?;
    let digits = match &ext {
        Some(ext) => rest.strip_suffix(ext.as_str())?.strip_suffix('.')?,
        None => rest,
    };
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// Every existing segment of the journal at `base`, oldest first. A missing directory means an empty journal.
pub fn segments(base: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let dir = match base.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(index) = segment_index(base, &name.to_string_lossy()) {
            found.push((index, segment_path(base, index)));
        }
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_numbered_before_the_extension() {
        let base = Path::new("glwatch-data/journal.jsonl");
        assert_eq!(segment_path(base, 0), base);
        assert_eq!(segment_path(base, 1), Path::new("glwatch-data/journal.000001.jsonl"));
        assert_eq!(segment_path(base, 1_234_567), Path::new("glwatch-data/journal.1234567.jsonl"));
        assert_eq!(segment_path(Path::new("j"), 2), Path::new("j.000002"));
        assert_eq!(segment_index(base, "journal.jsonl"), Some(0));
        assert_eq!(segment_index(base, "journal.000042.jsonl"), Some(42));
        assert_eq!(segment_index(base, "journal.1234567.jsonl"), Some(1_234_567));
        for other in
            ["journal.42.jsonl", "journal.00004x.jsonl", "journal.000000.jsonl", "journal.jsonl.tmp", "x.jsonl"]
        {
            assert_eq!(segment_index(base, other), None, "{other}");
        }
    }

    #[test]
    fn segments_are_listed_by_number_not_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        for i in [0, 2, 1_000_000, 10, 1] {
            std::fs::write(segment_path(&base, i), "").unwrap();
        }
        std::fs::write(dir.path().join("unrelated.jsonl"), "").unwrap();
        let found: Vec<u64> = segments(&base).unwrap().into_iter().map(|(i, _)| i).collect();
        assert_eq!(found, vec![0, 1, 2, 10, 1_000_000]);
        assert!(segments(&dir.path().join("missing/journal.jsonl")).unwrap().is_empty());
    }
}
