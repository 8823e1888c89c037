//! Where a route's events come from: the local journal read after the route's cursor file, or (with --nats) a
//! durable JetStream consumer shared by every receiver's copy of the route (see [`super::nats`]).

use super::files::RouteFiles;
use crate::journal::SeqReader;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// Records read at once, and their total size: all a route ever holds in memory.
pub const BATCH: usize = 256;
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// How long an idle source waits for something new before the route looks for a redelivery request.
pub const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The events a route delivers, in order, each with a number that only grows.
#[async_trait::async_trait]
pub trait Source: Send {
    /// The next records after the route's position, at most a bounded batch; empty after [`IDLE_LOOK`] or so
    /// with nothing new.
    async fn next_batch(&mut self) -> Vec<(u64, String)>;
    /// The route is done with `seq` and everything before it (delivered, dead-lettered or not for it).
    /// `durable`: it must not be handed out again after a restart.
    async fn done(&mut self, seq: u64, durable: bool);
    /// The next batch starts after `after` (`glwatch routes redeliver --from`).
    async fn rewind(&mut self, after: u64);
    /// The last number known to exist, for the backlog.
    fn head(&self) -> u64;
}

/// The local journal, from the route's own cursor file, woken by the committer.
pub struct JournalSource {
    route: String,
    files: RouteFiles,
    journal: PathBuf,
    max_line: usize,
    reader: Option<SeqReader>,
    cursor: u64,
    notify: watch::Receiver<u64>,
}

impl JournalSource {
    pub fn new(
        route: &str,
        files: RouteFiles,
        journal: PathBuf,
        max_line: usize,
        cursor: u64,
        notify: watch::Receiver<u64>,
    ) -> JournalSource {
        let reader = Some(SeqReader::new(&journal, max_line, cursor));
        JournalSource { route: route.to_owned(), files, journal, max_line, reader, cursor, notify }
    }
}

#[async_trait::async_trait]
impl Source for JournalSource {
    async fn next_batch(&mut self) -> Vec<(u64, String)> {
        let Some(mut reader) = self.reader.take() else { return Vec::new() };
        let (reader, batch) = tokio::task::spawn_blocking(move || {
            let batch = reader.next_batch(BATCH, BATCH_BYTES);
            (reader, batch)
        })
        .await
        .unwrap_or_else(|_| (SeqReader::new(&self.journal, self.max_line, self.cursor), Ok(Vec::new())));
        self.reader = Some(reader);
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("route {}: cannot read the journal: {e}", self.route);
                Vec::new()
            }
        };
        if batch.is_empty() {
            let _ = tokio::time::timeout(IDLE_LOOK, self.notify.changed()).await;
        }
        batch
    }

    async fn done(&mut self, seq: u64, durable: bool) {
        self.cursor = seq;
        if durable {
            if let Err(e) = self.files.save_cursor(seq).await {
                tracing::error!("route {}: cannot write its cursor {}: {e}", self.route, self.files.cursor.display());
            }
        }
    }

    async fn rewind(&mut self, after: u64) {
        self.reader = Some(SeqReader::new(&self.journal, self.max_line, after));
        self.done(after, true).await;
    }

    fn head(&self) -> u64 {
        *self.notify.borrow()
    }
}
