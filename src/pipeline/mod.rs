//! The record pipeline: one committer thread that detects duplicates, appends to the journal (one fsync per
//! group of concurrent requests) and only then hands records to the outputs and acknowledges the requests.
//!
//! Every request that produces records sends them here over a bounded channel. The committer takes whatever is
//! queued at once, writes it all, syncs once if any of it must be durable, then answers everyone. Requests that
//! arrive during an fsync queue up and share the next one: this is the group commit that keeps durability cheap.
//! The duplicate window, the outputs (sinks) and the publisher (a broker such as NATS JetStream, written after the
//! journal and acknowledged before anyone is answered) live in their own files.

mod channel_sink;
mod commit_loop;
mod dedup;
mod fill;
mod publisher;
mod ready;
mod stdout_sink;
mod wake;

pub use channel_sink::ChannelSink;
pub use dedup::{DedupKey, DedupWindow};
pub use publisher::{Outgoing, Publisher};
pub use stdout_sink::StdoutSink;
pub use wake::before_park;

use commit_loop::{CommitLoop, Lines, Pending};

use crate::cloudevent::ParsedEvent;
use crate::record::{Attributes, EventRecord, Record, RejectedRecord, VerifiedBy};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Where records are made durable. The journal implements it; `None` runs without one.
pub trait Store: Send {
    /// Appends complete NDJSON lines. On error nothing of this call may count as written. `keys` are the accepted
    /// (non-duplicate) events among the lines, in their order: the journal keeps them beside each segment so a
    /// start reads them instead of the lines.
    fn append(&mut self, lines: &[u8], keys: &[DedupKey]) -> io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// The sequence number of the last record already stored (0 for none): numbering continues after it.
    fn last_seq(&self) -> u64 {
        0
    }
}

/// Told how long each request took (the served metrics), without the pipeline depending on who listens.
pub trait RequestObserver: Send + Sync {
    fn observe_request(&self, started: std::time::Instant);
}

/// Where committed records go next: NDJSON on stdout, the dashboard, watchers.
pub trait Sink: Send {
    /// `line` is the record's journal line, starting with its `seq` (see [`crate::record::line_seq`]); a record
    /// that could not be journaled has no number.
    fn emit(&mut self, record: &Record, line: &str);
    /// Called once per committed group, so outputs are flushed without a syscall per record.
    fn flush(&mut self) {}
}

/// What a committed delivery amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub accepted: usize,
    pub duplicates: usize,
}

/// The delivery could not be made durable; the client is told to retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    #[error("journal unavailable: {0}")]
    Store(String),
    #[error("NATS: {0}")]
    Broker(String),
    #[error("glwatch is shutting down")]
    Closed,
    #[error("glwatch is starting: the duplicate window is still being read from the journal")]
    Loading,
}

/// A delivery's events, waiting to be committed.
pub struct Delivery {
    pub received_at: time::OffsetDateTime,
    pub peer: String,
    /// The trusted proxy the delivery came through, when `peer` is the client it reported.
    pub via: Option<String>,
    pub verified_by: VerifiedBy,
    pub events: Vec<ParsedEvent>,
    /// The configured source that received it (`--sources`), named in its records and its dedup keys.
    pub source_name: Option<String>,
    /// The identity of a single event whose payload is not a CloudEvent (see [`crate::record::Attributes`]).
    pub attributes: Option<Attributes>,
}

enum Job {
    Events { delivery: Delivery, ack: oneshot::Sender<Result<Committed, CommitError>> },
    Note { record: Record, ack: oneshot::Sender<()> },
}

/// Counters of what the pipeline had to leave out; dropped notes are also logged.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub notes_dropped: AtomicU64,
}

/// The handle requests use to commit records. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::Sender<Job>,
    pub stats: Arc<PipelineStats>,
    /// Where request durations are recorded, when metrics are served.
    metrics: Option<Arc<dyn RequestObserver>>,
    /// Set once the committer has its duplicate window; until then commits wait (bounded).
    ready: Arc<ready::Ready>,
    /// Wakes the committer for queued jobs; last, so that the queue is closed before the last handle rings.
    bell: Arc<wake::CloseBell>,
}

/// Joins the committer thread; dropping every [`Pipeline`] clone lets it finish the queue and stop.
pub struct Committer {
    thread: std::thread::JoinHandle<()>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Committer {
    /// Waits until every queued record is written and outputs are flushed.
    pub fn join(self) {
        let _ = self.thread.join();
    }

    /// Like [`Committer::join`], but gives up after `limit`: connections cut at the shutdown deadline may still
    /// hold a [`Pipeline`], and their requests were never acknowledged, so nothing is lost by not waiting.
    pub fn join_within(self, limit: std::time::Duration) -> bool {
        match self.done.recv_timeout(limit) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            _ => {
                let _ = self.thread.join();
                true
            }
        }
    }
}

/// Largest number of requests committed together; bounds the memory of one group.
const MAX_GROUP: usize = 4096;
/// Requests waiting for the committer; beyond this, senders wait (events) or notes are dropped and counted.
const QUEUE: usize = 16 * 1024;

impl Pipeline {
    /// Starts the committer thread. `dedup` may come pre-filled from the journal's replay.
    pub fn start(
        store: Option<Box<dyn Store>>,
        sinks: Vec<Box<dyn Sink>>,
        dedup: DedupWindow,
    ) -> (Pipeline, Committer) {
        Self::start_loading(store, sinks, Box::new(move || Some(dedup)), None)
    }

    /// Like [`Pipeline::start`], and every group's new events are published after the journal's write; a
    /// delivery is answered only once the publisher holds all of them.
    pub fn start_publishing(
        store: Option<Box<dyn Store>>,
        sinks: Vec<Box<dyn Sink>>,
        dedup: DedupWindow,
        publisher: Option<Box<dyn Publisher>>,
    ) -> (Pipeline, Committer) {
        Self::start_loading(store, sinks, Box::new(move || Some(dedup)), publisher)
    }

    /// Starts the committer thread, which first calls `load` for its duplicate window (read from the journal while
    /// the port is already open). Until it returns, commits and notes wait, at most a bounded time, then are refused
    /// (503, retried by GreenLake): nothing is committed without the window, so no duplicate slips through. When
    /// `load` returns `None` (the journal could not be read) the committer stops and every commit is refused. With a
    /// `publisher`, every group's new events are published after the journal's write, and a delivery is answered
    /// only once the publisher holds all of them.
    pub fn start_loading(
        store: Option<Box<dyn Store>>,
        sinks: Vec<Box<dyn Sink>>,
        load: Box<dyn FnOnce() -> Option<DedupWindow> + Send>,
        publisher: Option<Box<dyn Publisher>>,
    ) -> (Pipeline, Committer) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(PipelineStats::default());
        let ready = Arc::new(ready::Ready::new(false));
        let loaded = ready.clone();
        let (finished, done) = std::sync::mpsc::channel();
        let bell = Arc::new(wake::Bell::default());
        let committer_bell = bell.clone();
        let thread = std::thread::Builder::new()
            .name("glwatch-committer".into())
            .spawn(move || {
                let dedup = load();
                if let Some(dedup) = dedup {
                    loaded.set();
                    let next_seq = store.as_ref().map_or(0, |s| s.last_seq()) + 1;
                    let fill = fill::GroupFill::default();
                    CommitLoop {
                        store,
                        sinks,
                        dedup,
                        rx,
                        bell: committer_bell,
                        buf: Vec::new(),
                        keys: Vec::new(),
                        next_seq,
                        fill,
                        publisher,
                    }
                    .run();
                } else {
                    // Closed first, so that waiters released by `set` find it closed.
                    drop(rx);
                    loaded.set();
                }
                let _ = finished.send(());
            })
            .expect("the committer thread starts");
        let bell = Arc::new(wake::CloseBell(bell));
        (Pipeline { tx, stats, metrics: None, ready, bell }, Committer { thread, done })
    }

    /// Whether the duplicate window is loaded and commits go through at once.
    pub fn is_ready(&self) -> bool {
        self.ready.is_set()
    }

    /// Records the duration of every request answered through this handle in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn RequestObserver>) -> Pipeline {
        self.metrics = Some(metrics);
        self
    }

    /// A request that began at `started` was answered.
    pub fn observe_request(&self, started: std::time::Instant) {
        if let Some(m) = &self.metrics {
            m.observe_request(started);
        }
    }

    /// Commits a delivery's events: returns once they are durable and handed to the outputs.
    pub async fn commit(&self, delivery: Delivery) -> Result<Committed, CommitError> {
        self.ready.wait().await?;
        let (ack, done) = oneshot::channel();
        self.tx.send(Job::Events { delivery, ack }).await.map_err(|_| CommitError::Closed)?;
        self.bell.0.queued();
        done.await.map_err(|_| CommitError::Closed)?
    }

    /// Records a challenge or rejection and waits until it is written (not synced: these need no durability).
    pub async fn note(&self, record: Record) {
        let (ack, done) = oneshot::channel();
        // While the window loads nothing is written: the note is queued and the request answered without waiting,
        // so challenges and refusals are answered at once after start.
        let loaded = self.ready.is_set();
        if self.tx.try_send(Job::Note { record, ack }).is_ok() {
            self.bell.0.queued();
            if loaded {
                let _ = done.await;
            }
            return;
        }
        // A flood of refused requests must not make legitimate ones wait: drop and count. The log says so at the
        // first drop and then every 10,000, so the flood cannot flood the log either.
        let dropped = self.stats.notes_dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped == 1 || dropped.is_multiple_of(10_000) {
            tracing::warn!("record queue full: {dropped} challenge or refusal records not written so far");
        }
    }
}

#[cfg(test)]
mod tests;
