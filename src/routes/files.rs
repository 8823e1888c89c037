//! A route's files in `<data-dir>/routes/`: its cursor (written durably), its dead letters, its last known state
//! (for `glwatch routes`) and redelivery requests left by `glwatch routes redeliver`.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The routes directory inside the data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("routes")
}

/// The files of one route.
#[derive(Debug, Clone)]
pub struct RouteFiles {
    pub cursor: PathBuf,
    pub dead: PathBuf,
    pub state: PathBuf,
    pub redeliver: PathBuf,
    /// Dead letters taken back for redelivery, while they are being delivered again.
    pub requeued: PathBuf,
}

impl RouteFiles {
    pub fn new(data_dir: &Path, name: &str) -> RouteFiles {
        let d = dir(data_dir);
        RouteFiles {
            cursor: d.join(format!("{name}.cursor")),
            dead: d.join(format!("{name}.dead.jsonl")),
            state: d.join(format!("{name}.state.json")),
            redeliver: d.join(format!("{name}.redeliver")),
            requeued: d.join(format!("{name}.requeued.jsonl")),
        }
    }

    /// The seq of the last record the route is done with; `None` when it has never run.
    pub fn read_cursor(&self) -> io::Result<Option<u64>> {
        match std::fs::read_to_string(&self.cursor) {
            Ok(t) => t.trim().parse().map(Some).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: not a number", self.cursor.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the cursor so that a crash at any moment leaves the old value or the new one, never neither.
    pub fn write_cursor(&self, seq: u64) -> io::Result<()> {
        write_atomic(&self.cursor, format!("{seq}\n").as_bytes(), true)
    }

    /// [`RouteFiles::write_cursor`] on a blocking thread: it syncs the file and its directory, which on an async
    /// worker would hold up every request that worker serves.
    pub async fn save_cursor(&self, seq: u64) -> io::Result<()> {
        let files = self.clone();
        tokio::task::spawn_blocking(move || files.write_cursor(seq)).await.unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    /// Appends one dead letter (made durable before the route moves on).
    pub fn append_dead(&self, line: &str) -> io::Result<()> {
        let mut f = OpenOptions::new().create(true).append(true).open(&self.dead)?;
        f.write_all(line.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_data()
    }

    pub fn write_state(&self, state: &SavedState) -> io::Result<()> {
        let text = serde_json::to_vec(state).map_err(io::Error::other)?;
        write_atomic(&self.state, &text, false)
    }

    pub fn read_state(&self) -> Option<SavedState> {
        std::fs::read(&self.state).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Dead letters in the file now.
    pub fn dead_count(&self) -> u64 {
        count_lines(&self.dead) + count_lines(&self.requeued)
    }

    /// Leaves a request for the route's task, which picks it up while running or at the next start.
    pub fn request(&self, request: &Redeliver) -> io::Result<()> {
        let text = serde_json::to_vec(request).map_err(io::Error::other)?;
        write_atomic(&self.redeliver, &text, true)
    }

    /// Takes the pending request, if any (it is removed once read).
    pub fn take_request(&self) -> io::Result<Option<Redeliver>> {
        let bytes = match std::fs::read(&self.redeliver) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        std::fs::remove_file(&self.redeliver)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", self.redeliver.display())))
    }
}

/// What `glwatch routes redeliver` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Redeliver {
    /// Deliver the dead letters again, before going on.
    Dead,
    /// Go back to just before this seq.
    From(u64),
}

/// What a route reports about itself, kept across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SavedState {
    pub delivered: u64,
    pub failures: u64,
    pub dead_letters: u64,
    pub state: String,
    pub last_error: Option<String>,
    /// Unix seconds of the last delivery.
    pub last_delivered_at: Option<i64>,
}

fn count_lines(path: &Path) -> u64 {
    match File::open(path) {
        Ok(f) => {
            let mut n = 0u64;
            let mut r = io::BufReader::new(f);
            let mut buf = Vec::new();
            while io::BufRead::read_until(&mut r, b'\n', &mut buf).map(|k| k > 0).unwrap_or(false) {
                if buf.iter().any(|b| !b.is_ascii_whitespace()) {
                    n += 1;
                }
                buf.clear();
            }
            n
        }
        Err(_) => 0,
    }
}

/// Write to a temporary file beside `path`, optionally fsync it, then rename over `path` (and sync the
/// directory, so the rename itself survives a power cut).
fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // One temporary name per file: the running route writes its cursor and state while `glwatch routes
    // redeliver` writes the request, and a shared name would let one rename the other's half-written file.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    if durable {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_and_requests_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let f = RouteFiles::new(tmp.path(), "a");
        assert_eq!(f.read_cursor().unwrap(), None);
        f.write_cursor(42).unwrap();
        assert_eq!(f.read_cursor().unwrap(), Some(42));
        assert_eq!(f.take_request().unwrap(), None);
        f.request(&Redeliver::From(7)).unwrap();
        assert_eq!(f.take_request().unwrap(), Some(Redeliver::From(7)));
        assert_eq!(f.take_request().unwrap(), None);
        f.append_dead("{\"seq\":1}").unwrap();
        f.append_dead("{\"seq\":2}").unwrap();
        assert_eq!(f.dead_count(), 2);
    }
}
