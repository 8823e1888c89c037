//! The committer's loop: takes queued deliveries and records in groups, numbers them, checks duplicates, writes
//! the group to the journal, publishes it, hands it to the sinks and answers every request of the group.

use super::*;

pub(super) struct CommitLoop {
    pub(super) store: Option<Box<dyn Store>>,
    pub(super) sinks: Vec<Box<dyn Sink>>,
    pub(super) dedup: DedupWindow,
    pub(super) rx: mpsc::Receiver<Job>,
    /// How requests wake this thread (see [`super::wake`]).
    pub(super) bell: Arc<wake::Bell>,
    /// The group's lines, kept between groups so that a group does not start with an allocation.
    pub(super) buf: Vec<u8>,
    /// The group's accepted events' keys, for the journal's key index; kept like `buf`.
    pub(super) keys: Vec<DedupKey>,
    /// The number the next record gets. Not taken back when a group fails: a reader may already have seen the
    /// group's lines in the file before they were cut, and a number must never stand for two records.
    pub(super) next_seq: u64,
    pub(super) fill: fill::GroupFill,
    pub(super) publisher: Option<Box<dyn Publisher>>,
}

/// One delivery inside a group: its records and lines, to be answered once the group is written.
pub(super) struct Pending {
    pub(super) records: Vec<Record>,
    /// Each record's dedup key: (source, id) for the broker's message id, and the window's digest of them.
    pub(super) keys: Vec<(String, String, DedupKey)>,
    pub(super) committed: Committed,
    pub(super) ack: oneshot::Sender<Result<Committed, CommitError>>,
}

impl CommitLoop {
    pub(super) fn run(mut self) {
        let mut jobs = Vec::with_capacity(64);
        self.bell.attach();
        let mut last_job = std::time::Instant::now();
        loop {
            let first = match self.rx.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    let rx = &self.rx;
                    self.bell.sleep(last_job, || rx.is_empty());
                    continue;
                }
            };
            last_job = std::time::Instant::now();
            jobs.push(first);
            self.take_queued(&mut jobs);
            let deliveries = jobs.iter().filter(|j| matches!(j, Job::Events { .. })).count();
            if let Some(wait) = self.fill.wait(deliveries) {
                std::thread::sleep(wait);
                self.take_queued(&mut jobs);
            }
            self.commit_group(&mut jobs);
        }
    }

    fn take_queued(&mut self, jobs: &mut Vec<Job>) {
        while jobs.len() < MAX_GROUP {
            match self.rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
    }

    pub(super) fn commit_group(&mut self, jobs: &mut Vec<Job>) {
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
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        let records = pending.iter().flat_map(|p| p.records.iter().zip(&p.keys));
        keys.extend(records.filter(|(r, _)| matches!(r, Record::Event(e) if !e.duplicate)).map(|(_, k)| k.2));
        let fill = &mut self.fill;
        let result = match self.store.as_mut() {
            Some(store) => store.append(&buf, &keys).and_then(|_| {
                if !durable {
                    return Ok(());
                }
                let syncing = std::time::Instant::now();
                let synced = store.sync();
                fill.synced(pending.len(), syncing.elapsed());
                synced
            }),
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
                    for (r, (_, _, key)) in p.records.iter().zip(&p.keys) {
                        if matches!(r, Record::Event(e) if !e.duplicate) {
                            self.dedup.forget(*key);
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
        if keys.capacity() <= 1 << 12 {
            self.keys = keys;
        }
    }

    fn stage(&mut self, delivery: Delivery, ack: oneshot::Sender<Result<Committed, CommitError>>) -> Pending {
        let mut committed = Committed { accepted: 0, duplicates: 0 };
        let mut keys = Vec::with_capacity(delivery.events.len());
        let mut records = Vec::with_capacity(delivery.events.len());
        let source_name = delivery.source_name.as_deref().map(|n| crate::text::escape(n).into_owned());
        for ev in delivery.events {
            let source = DedupWindow::source_key(delivery.source_name.as_deref(), &ev.source).into_owned();
            let key = DedupKey::of(&source, &ev.id);
            let fresh = self.dedup.insert_key(key);
            if fresh {
                committed.accepted += 1;
            } else {
                committed.duplicates += 1;
            }
            keys.push((source, ev.id, key));
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
pub(super) struct Lines<'a>(pub(super) &'a [u8]);

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
