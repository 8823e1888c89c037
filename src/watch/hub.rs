//! Live records for watchers: a pipeline sink that hands each committed group to every subscriber's bounded queue
//! without ever waiting, and drops a subscriber whose queue is full so it catches up by seq instead.

use crate::pipeline::Sink;
use crate::record::{line_seq, Record};
use bytes::{Bytes, BytesMut};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Groups queued for one subscriber. When it falls this far behind it is dropped from the live feed and reads
/// the journal instead; memory per subscriber stays bounded whatever the client does.
pub const QUEUE: usize = 512;

/// One committed group, shared by every subscriber rather than copied: each subscriber is woken once per group,
/// and one that has read everything before it sends `sse` as it is.
#[derive(Clone, Debug)]
pub struct Item {
    /// The records in order: number (0 when it never reached the journal) and line.
    pub records: Arc<Vec<(u64, Box<str>)>>,
    /// The same records as SSE events, rendered once.
    pub sse: Bytes,
}

impl Item {
    /// The number of its first journaled record, if any.
    pub fn first(&self) -> Option<u64> {
        self.records.iter().map(|(seq, _)| *seq).find(|seq| *seq > 0)
    }

    /// The number of its last journaled record, if any.
    pub fn last(&self) -> Option<u64> {
        self.records.iter().rev().map(|(seq, _)| *seq).find(|seq| *seq > 0)
    }
}

/// An SSE event for a record: with its number as the id, or without an id for one that was never journaled.
pub fn sse_event(out: &mut BytesMut, id: Option<u64>, line: &str) {
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\n\n");
}

struct Inner {
    slots: Vec<mpsc::Sender<Item>>,
    /// The number of the last record committed (or stored, before the first): a new subscriber starts after it.
    head: u64,
    /// The group being committed, kept only while someone is subscribed; handed out at the group's end.
    group: Vec<(u64, Box<str>)>,
}

/// The subscriber registry, shared by the sink in the committer and the watch endpoint.
pub struct Hub {
    inner: Mutex<Inner>,
    metrics: Arc<super::metrics::Metrics>,
}

impl Hub {
    /// `head` is the number of the last record stored: a subscriber without a starting point begins after it.
    pub fn new(head: u64, metrics: Arc<super::metrics::Metrics>) -> Arc<Hub> {
        Arc::new(Hub { inner: Mutex::new(Inner { slots: Vec::new(), head, group: Vec::new() }), metrics })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new live queue and the number of the last record before it: every later record arrives in the queue
    /// (until it overflows, when the queue is closed).
    pub fn subscribe(&self) -> (mpsc::Receiver<Item>, u64) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut inner = self.lock();
        inner.slots.push(tx);
        (rx, inner.head)
    }

    pub fn head(&self) -> u64 {
        self.lock().head
    }

    /// A record of the group being committed. A subscriber that arrives before the group's end starts after
    /// `head` and skips the group's earlier records by their numbers.
    fn publish(&self, line: &str) {
        let seq = line_seq(line.as_bytes());
        let mut inner = self.lock();
        if seq > 0 {
            inner.head = seq;
        }
        if !inner.slots.is_empty() {
            inner.group.push((seq, line.into()));
        }
    }

    /// Hands the group to every subscriber.
    fn end_group(&self) {
        let mut inner = self.lock();
        if inner.group.is_empty() {
            return;
        }
        let records = std::mem::take(&mut inner.group);
        let mut sse = BytesMut::with_capacity(records.iter().map(|(_, l)| l.len() + 32).sum());
        for (seq, line) in &records {
            sse_event(&mut sse, (*seq > 0).then_some(*seq), line);
        }
        let item = Item { records: Arc::new(records), sse: sse.freeze() };
        // A full queue closes: its reader sees the end of the queue, then reads the journal from its last seq.
        inner.slots.retain(|tx| tx.try_send(item.clone()).is_ok());
    }

    pub fn metrics(&self) -> &Arc<super::metrics::Metrics> {
        &self.metrics
    }
}

/// The pipeline's side of the hub.
pub struct HubSink(pub Arc<Hub>);

impl Sink for HubSink {
    fn emit(&mut self, _record: &Record, line: &str) {
        self.0.publish(line);
    }

    fn flush(&mut self) {
        self.0.end_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_closed_and_others_go_on() {
        let hub = Hub::new(10, super::super::metrics::Metrics::new());
        let (mut slow, head) = hub.subscribe();
        assert_eq!(head, 10);
        let (mut fast, _) = hub.subscribe();
        let mut sink = HubSink(hub.clone());
        let record =
            Record::Rejected(crate::record::RejectedRecord::refused(crate::record::now(), "p", 400, "r", None, None));
        // Groups of two records: each subscriber gets each group once, its records in order.
        for seq in (11..11 + 2 * (QUEUE as u64 + 1)).step_by(2) {
            sink.emit(&record, &record.to_line_seq(seq));
            sink.emit(&record, &record.to_line_seq(seq + 1));
            sink.flush();
            let item = fast.try_recv().unwrap();
            assert_eq!((item.first(), item.last()), (Some(seq), Some(seq + 1)));
            let text = String::from_utf8(item.sse.to_vec()).unwrap();
            assert!(text.starts_with(&format!("id: {seq}\ndata: {{\"seq\":{seq},")), "{text}");
            assert!(text.contains(&format!("\n\nid: {}\ndata: ", seq + 1)), "{text}");
        }
        assert_eq!(hub.head(), 10 + 2 * (QUEUE as u64 + 1));
        let mut got = 0;
        loop {
            match slow.try_recv() {
                Ok(item) => {
                    got += 1;
                    assert_eq!(item.first(), Some(9 + 2 * got));
                }
                Err(e) => {
                    assert_eq!(e, mpsc::error::TryRecvError::Disconnected, "the overflowing queue was closed");
                    break;
                }
            }
        }
        assert_eq!(got, QUEUE as u64);
    }
}
