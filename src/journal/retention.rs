//! Journal retention: whole old segments are deleted once they are older than `--journal-keep` or the journal is
//! larger than `--journal-max-size`, never the segment being written and never records a route or a watch
//! subscriber has yet to read. Checked at start, after each segment roll, and every [`CHECK_EVERY`] by a sweeper
//! thread, so a receiver with no traffic still lets old segments go.

use super::reader::{last_line_of, read_first_seq};
use super::segments;
use crate::record::Record;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

/// How often a running receiver checks its journal against the limits when nothing else does.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// What the journal keeps; with neither limit everything is kept.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Segments whose newest record is older than this are deleted.
    pub keep: Option<Duration>,
    /// Oldest segments are deleted while the journal is larger than this.
    pub max_size: Option<u64>,
    /// Where routes keep their cursors (`*.cursor`, the last seq delivered): records after the smallest are kept.
    pub routes_dir: Option<PathBuf>,
    /// How often the sweeper checks; [`CHECK_EVERY`] when `None`.
    pub check_every: Option<Duration>,
}

impl Retention {
    pub fn is_enabled(&self) -> bool {
        self.keep.is_some() || self.max_size.is_some()
    }
}

/// What one pass deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub segments: usize,
    pub bytes: u64,
}

/// The smallest seq a route still needs (its cursor + 1); `None` without routes. A cursor file holds the last
/// seq delivered as a number (surrounding text, e.g. JSON, is ignored); one that cannot be read keeps everything.
pub fn route_floor(dir: &Path) -> Option<u64> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut floor: Option<u64> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("cursor") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let digits: String =
            text.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
        let needed = digits.parse::<u64>().map(|c| c + 1).unwrap_or(0);
        floor = Some(floor.map_or(needed, |f| f.min(needed)));
    }
    floor
}

/// Deletes what the limits allow, oldest segment first, stopping at the first one that must stay so the stored
/// history never has a hole. The newest segment (the one being written) is never deleted.
pub fn enforce(base: &Path, retention: &Retention, max_line: usize, now: OffsetDateTime) -> io::Result<Removed> {
    let mut removed = Removed::default();
    if !retention.is_enabled() {
        return Ok(removed);
    }
    // The writer (at a roll) and the sweeper may both check at once: one pass at a time.
    static PASS: Mutex<()> = Mutex::new(());
    let _pass = PASS.lock().unwrap_or_else(|p| p.into_inner());
    let list = segments(base)?;
    let Some(((_, _), older)) = list.split_last() else { return Ok(removed) };
    let sizes: Vec<u64> = list.iter().map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).collect();
    let mut total: u64 = sizes.iter().sum();
    let routes = retention.routes_dir.as_deref().and_then(route_floor);
    let floor = match (routes, super::holds::floor(base)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for (n, (_, path)) in older.iter().enumerate() {
        // A route or a reader still needs this segment when its records reach the floor: the next segment's
        // first seq bounds them.
        if let Some(floor) = floor {
            let next_first = read_first_seq(&list[n + 1].1)?.unwrap_or(0);
            if next_first == 0 || next_first > floor {
                break;
            }
        }
        let too_big = retention.max_size.is_some_and(|max| total > max);
        let too_old = retention.keep.is_some_and(|keep| {
            let newest = last_line_of(path, max_line).ok().flatten().and_then(|l| Record::from_line(&l).ok());
            newest.is_some_and(|r| now - r.received_at() > keep)
        });
        if !(too_big || too_old) {
            break;
        }
        match std::fs::remove_file(path) {
            Ok(()) => super::keys::remove(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
        tracing::info!("journal retention: deleted {} ({} bytes)", path.display(), sizes[n]);
        total -= sizes[n];
        removed.segments += 1;
        removed.bytes += sizes[n];
    }
    Ok(removed)
}

/// Runs retention passes on a thread of its own: after each roll, so that a roll (on the committer, with requests
/// waiting for their acknowledgement) never waits for the directory listing, the reads of old segments' last lines
/// and the deletes; and every [`Retention::check_every`], so an idle receiver keeps its limits too. A pass asked for
/// while one is queued is covered by it; dropping the pruner finishes the queued pass and stops the thread.
pub(super) struct Pruner {
    ask: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pruner {
    pub(super) fn start(base: PathBuf, retention: Retention, max_line: usize) -> Pruner {
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let every = retention.check_every.unwrap_or(CHECK_EVERY).max(Duration::from_millis(10));
        let run = move || {
            while let Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) = asked.recv_timeout(every) {
                // Only whole segments older than the newest go; a failure here costs disk, not records.
                match enforce(&base, &retention, max_line, OffsetDateTime::now_utc()) {
                    Ok(r) if r.segments > 0 => {
                        tracing::info!("journal retention: {} old segments deleted ({} bytes)", r.segments, r.bytes)
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("journal retention: {e}"),
                }
            }
        };
        match std::thread::Builder::new().name("glwatch-retention".into()).spawn(run) {
            Ok(thread) => Pruner { ask: Some(ask), thread: Some(thread) },
            Err(e) => {
                tracing::warn!("journal retention: cannot start its thread, old segments are kept: {e}");
                Pruner { ask: None, thread: None }
            }
        }
    }

    /// Asks for a pass after a roll.
    pub(super) fn request(&self) {
        if let Some(ask) = &self.ask {
            let _ = ask.try_send(());
        }
    }
}

impl Drop for Pruner {
    fn drop(&mut self) {
        drop(self.ask.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segment_path;
    use crate::record::RejectedRecord;

    fn line(seq: u64, at: OffsetDateTime) -> String {
        let r = Record::Rejected(RejectedRecord {
            source_name: None,
            received_at: at,
            peer: "p".into(),
            via: None,
            status: 400,
            reason: "r".into(),
            method: None,
            path: None,
            count: None,
        });
        r.to_line_seq(seq) + "\n"
    }

    #[test]
    fn deletes_old_and_oversized_segments_but_never_the_newest_or_what_a_route_needs() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        let now = OffsetDateTime::now_utc();
        let day = time::Duration::days(1);
        for (i, age) in [10, 9, 1, 0].iter().enumerate() {
            let s = i as u64 * 2 + 1;
            std::fs::write(segment_path(&base, i as u64), line(s, now - day * *age) + &line(s + 1, now - day * *age))
                .unwrap();
        }
        let keep = Retention { keep: Some(Duration::from_secs(5 * 86400)), ..Default::default() };
        let routes = dir.path().join("routes");
        std::fs::create_dir(&routes).unwrap();
        std::fs::write(routes.join("a.cursor"), "2\n").unwrap();
        let with_routes = Retention { routes_dir: Some(routes.clone()), ..keep.clone() };
        assert_eq!(enforce(&base, &with_routes, 1 << 20, now).unwrap().segments, 1, "the route needs seq 3 on");
        std::fs::write(routes.join("a.cursor"), "{\"seq\":8}").unwrap();
        assert_eq!(enforce(&base, &with_routes, 1 << 20, now).unwrap().segments, 1);
        let left: Vec<u64> = segments(&base).unwrap().into_iter().map(|(i, _)| i).collect();
        assert_eq!(left, [2, 3]);
        let size = std::fs::metadata(segment_path(&base, 3)).unwrap().len();
        let small = Retention { max_size: Some(size), ..Default::default() };
        assert_eq!(enforce(&base, &small, 1 << 20, now).unwrap().segments, 1);
        assert_eq!(
            enforce(&base, &Retention { max_size: Some(0), ..Default::default() }, 1 << 20, now).unwrap(),
            Removed::default(),
            "the newest stays"
        );
        assert_eq!(segments(&base).unwrap().len(), 1);
    }

    #[test]
    fn a_reader_in_this_process_holds_what_it_has_yet_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("journal.jsonl");
        let old = OffsetDateTime::now_utc() - time::Duration::days(10);
        for i in 0..3u64 {
            std::fs::write(segment_path(&base, i), line(i * 2 + 1, old) + &line(i * 2 + 2, old)).unwrap();
        }
        let keep = Retention { keep: Some(Duration::from_secs(86400)), ..Default::default() };
        let reader = crate::journal::holds::Hold::new(&base, 2);
        assert_eq!(enforce(&base, &keep, 1 << 20, OffsetDateTime::now_utc()).unwrap().segments, 0);
        reader.set(5);
        assert_eq!(enforce(&base, &keep, 1 << 20, OffsetDateTime::now_utc()).unwrap().segments, 2);
        assert_eq!(segments(&base).unwrap().len(), 1, "the newest stays");
    }
}
