//! The record pipeline: one committer thread that detects duplicates, appends to the journal (one fsync per
//! group of concurrent requests) and only then hands records to the outputs and acknowledges the requests.
//!
//! Every request that produces records sends them here over a bounded channel. The committer takes whatever is
//! queued at once, writes it all, syncs once if any of it must be durable, then answers everyone. Requests that
//! arrive during an fsync queue up and share the next one: this is the group commit that keeps durability cheap.
//! The duplicate window, the outputs (sinks) and the publisher (a broker such as NATS JetStream, written after the
//! journal and acknowledged before anyone is answered) live in their own files.

mod channel_sink;
mod dedup;
mod publisher;
mod stdout_sink;

pub use channel_sink::ChannelSink;
pub use dedup::DedupWindow;
pub use publisher::{Outgoing, Publisher};
pub use stdout_sink::StdoutSink;

use crate::cloudevent::ParsedEvent;
use crate::record::{Attributes, EventRecord, Record, RejectedRecord, VerifiedBy};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Where records are made durable. The journal implements it; `None` runs without one.
pub trait Store: Send {
    /// Appends complete NDJSON lines. On error nothing of this call may count as written.
    fn append(&mut self, lines: &[u8]) -> io::Result<()>;
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
        Self::start_publishing(store, sinks, dedup, None)
    }

    /// Like [`Pipeline::start`], and every group's new events are published after the journal's write; a
    /// delivery is answered only once the publisher holds all of them.
    pub fn start_publishing(
        store: Option<Box<dyn Store>>,
        sinks: Vec<Box<dyn Sink>>,
        dedup: DedupWindow,
        publisher: Option<Box<dyn Publisher>>,
    ) -> (Pipeline, Committer) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(PipelineStats::default());
        let (finished, done) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("glwatch-committer".into())
            .spawn(move || {
                let next_seq = store.as_ref().map_or(0, |s| s.last_seq()) + 1;
                CommitLoop { store, sinks, dedup, rx, buf: Vec::new(), next_seq, publisher }.run();
                let _ = finished.send(());
            })
            .expect("the committer thread starts");
        (Pipeline { tx, stats, metrics: None }, Committer { thread, done })
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
        let (ack, done) = oneshot::channel();
        self.tx.send(Job::Events { delivery, ack }).await.map_err(|_| CommitError::Closed)?;
        done.await.map_err(|_| CommitError::Closed)?
    }

    /// Records a challenge or rejection and waits until it is written (not synced: these need no durability).
    pub async fn note(&self, record: Record) {
        let (ack, done) = oneshot::channel();
        match self.tx.try_send(Job::Note { record, ack }) {
            Ok(()) => {
                let _ = done.await;
            }
            Err(_) => {
                // A flood of refused requests must not make legitimate ones wait: drop and count. The log says so
                // at the first drop and then every 10,000, so the flood cannot flood the log either.
                let dropped = self.stats.notes_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped == 1 || dropped % 10_000 == 0 {
                    tracing::warn!("record queue full: {dropped} challenge or refusal records not written so far");
                }
            }
        }
    }
}

struct CommitLoop {
    store: Option<Box<dyn Store>>,
    sinks: Vec<Box<dyn Sink>>,
    dedup: DedupWindow,
    rx: mpsc::Receiver<Job>,
    /// The group's lines, kept between groups so that a group does not start with an allocation.
    buf: Vec<u8>,
    /// The number the next record gets. Not taken back when a group fails: a reader may already have seen the
    /// group's lines in the file before they were cut, and a number must never stand for two records.
    next_seq: u64,
    publisher: Option<Box<dyn Publisher>>,
}

/// One delivery inside a group: its records and lines, to be answered once the group is written.
struct Pending {
    records: Vec<Record>,
    /// Each record's (source, id) dedup key.
    keys: Vec<(String, String)>,
    committed: Committed,
    ack: oneshot::Sender<Result<Committed, CommitError>>,
}

impl CommitLoop {
    fn run(mut self) {
        let mut jobs = Vec::with_capacity(64);
        while let Some(first) = self.rx.blocking_recv() {
            jobs.push(first);
            while jobs.len() < MAX_GROUP {
                match self.rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit_group(&mut jobs);
        }
    }

    fn commit_group(&mut self, jobs: &mut Vec<Job>) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.reserve(jobs.len() * 1024);
        let mut pending = Vec::new();
        let mut notes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Events { delivery, ack } => pending.push(self.stage(delivery, ack)),
                Job::Note { record, ack } => notes.push((record, ack)),
            }
        }
        // Events first, then notes: the order in which their lines are handed to the outputs below.
        for r in pending.iter().flat_map(|p| &p.records).chain(notes.iter().map(|(r, _)| r)) {
            r.write_line(self.next_seq, &mut buf);
            self.next_seq += 1;
        }
        let durable = !pending.is_empty();
        let result = match self.store.as_mut() {
            Some(store) => store.append(&buf).and_then(|_| if durable { store.sync() } else { Ok(()) }),
            None => Ok(()),
        };
        // The journal first, then the broker: what the broker holds is always in the journal too.
        let result = result.map_err(|e| CommitError::Store(e.to_string())).and_then(|()| self.publish(&pending, &buf));
        match result {
            Ok(held) => {
                // The buffer holds exactly these lines in this order; emit them without serialising twice.
                let mut lines = Lines(&buf);
                let mut held = held.into_iter();
                for p in &mut pending {
                    for r in &mut p.records {
                        let line = std::str::from_utf8(lines.next().unwrap_or_default()).unwrap_or_default();
                        let verdict = held.next();
                        match r {
                            // The broker's verdict wins: another receiver took it first, or it never reached the
                            // broker (answered 503 after the journal took it). The journal keeps its first view.
                            Record::Event(e) if verdict.is_some_and(|held| held != e.duplicate) => {
                                e.duplicate = !e.duplicate;
                                let (more, less) = match e.duplicate {
                                    true => (&mut p.committed.duplicates, &mut p.committed.accepted),
                                    false => (&mut p.committed.accepted, &mut p.committed.duplicates),
                                };
                                *more += 1;
                                *less -= 1;
                                let line = r.to_line_seq(crate::record::line_seq(line.as_bytes()));
                                self.emit(r, &line);
                            }
                            _ => self.emit(r, line),
                        }
                    }
                }
                for (r, _) in &notes {
                    let line = lines.next().unwrap_or_default();
                    if let Some(publisher) = self.publisher.as_mut() {
                        publisher.note(r, line);
                    }
                    self.emit(r, std::str::from_utf8(line).unwrap_or_default());
                }
                self.flush();
                for p in pending {
                    let _ = p.ack.send(Ok(p.committed));
                }
            }
            Err(e) => {
                // The publisher logs its own failures, at a bounded rate.
                if let CommitError::Store(e) = &e {
                    tracing::error!("journal write failed, refusing deliveries with 503 so GreenLake retries: {e}");
                }
                let reason = e.to_string();
                for p in pending {
                    for (r, (source, id)) in p.records.iter().zip(&p.keys) {
                        if matches!(r, Record::Event(e) if !e.duplicate) {
                            self.dedup.forget(source, id);
                        }
                    }
                    if let Some(Record::Event(first)) = p.records.first() {
                        let rejected = Record::Rejected(RejectedRecord {
                            source_name: first.source_name.clone(),
                            received_at: first.received_at,
                            peer: first.peer.clone(),
                            via: first.via.clone(),
                            status: 503,
                            reason: reason.clone(),
                            method: None,
                            path: None,
                            count: None,
                        });
                        let line = rejected.to_line();
                        self.emit(&rejected, &line);
                    }
                    let _ = p.ack.send(Err(e.clone()));
                }
                // Notes were not journaled (or not published) but the operator still sees them.
                for (r, _) in &notes {
                    let line = r.to_line();
                    self.emit(r, &line);
                }
                self.flush();
            }
        }
        for (_, ack) in notes {
            let _ = ack.send(());
        }
        // A burst's buffer is not kept: an idle receiver should not hold the largest group it ever wrote.
        if buf.capacity() <= 1 << 20 {
            self.buf = buf;
        }
    }

    fn stage(&mut self, delivery: Delivery, ack: oneshot::Sender<Result<Committed, CommitError>>) -> Pending {
        let mut committed = Committed { accepted: 0, duplicates: 0 };
        let mut keys = Vec::with_capacity(delivery.events.len());
        let mut records = Vec::with_capacity(delivery.events.len());
        let source_name = delivery.source_name.as_deref().map(|n| crate::text::escape(n).into_owned());
        for ev in delivery.events {
            let source = DedupWindow::source_key(delivery.source_name.as_deref(), &ev.source).into_owned();
            let fresh = self.dedup.insert(&source, &ev.id);
            if fresh {
                committed.accepted += 1;
            } else {
                committed.duplicates += 1;
            }
            keys.push((source, ev.id));
            records.push(Record::Event(EventRecord {
                source_name: source_name.clone(),
                attributes: delivery.attributes.clone(),
                received_at: delivery.received_at,
                peer: delivery.peer.clone(),
                via: delivery.via.clone(),
                verified_by: delivery.verified_by,
                duplicate: !fresh,
                event: ev.raw,
            }));
        }
        Pending { records, keys, committed, ack }
    }

    fn emit(&mut self, record: &Record, line: &str) {
        for sink in &mut self.sinks {
            sink.emit(record, line);
        }
    }

    fn flush(&mut self) {
        for sink in &mut self.sinks {
            sink.flush();
        }
    }
}

/// The lines of a group's buffer, found with `memchr` (a line is about a kilobyte: a bytewise split would cost
/// more than serialising it did).
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', self.0).unwrap_or(self.0.len());
        let line = &self.0[..end];
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        Some(line)
    }
}

#[cfg(test)]
mod tests;
