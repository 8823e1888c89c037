//! Live records for watchers: a pipeline sink that hands each committed line to every subscriber's bounded queue
//! without ever waiting, and drops a subscriber whose queue is full so it catches up by seq instead.

use crate::pipeline::Sink;
use crate::record::{line_seq, Record};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Records queued for one subscriber. When it falls this far behind it is dropped from the live feed and reads
/// the journal instead; memory per subscriber stays bounded whatever the client does.
pub const QUEUE: usize = 4096;

/// One committed record: its number (0 when it never reached the journal) and its line, shared by every
/// subscriber rather than copied.
#[derive(Clone, Debug)]
pub struct Item {
    pub seq: u64,
    pub line: Arc<str>,
}

struct Inner {
    slots: Vec<mpsc::Sender<Item>>,
    /// The number of the last record handed out (or stored, before the first).
    head: u64,
}

/// The subscriber registry, shared by the sink in the committer and the watch endpoint.
pub struct Hub {
    inner: Mutex<Inner>,
    metrics: Arc<super::metrics::Metrics>,
}

impl Hub {
    /// `head` is the number of the last record stored: a subscriber without a starting point begins after it.
    pub fn new(head: u64, metrics: Arc<super::metrics::Metrics>) -> Arc<Hub> {
        Arc::new(Hub { inner: Mutex::new(Inner { slots: Vec::new(), head }), metrics })
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

    fn publish(&self, line: &str) {
        let seq = line_seq(line.as_bytes());
        let mut inner = self.lock();
        if seq > 0 {
            inner.head = seq;
        }
        if inner.slots.is_empty() {
            return;
        }
        let item = Item { seq, line: Arc::from(line) };
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
        for seq in 11..11 + QUEUE as u64 + 1 {
            sink.emit(&record, &record.to_line_seq(seq));
            assert_eq!(fast.try_recv().unwrap().seq, seq);
        }
        assert_eq!(hub.head(), 11 + QUEUE as u64);
        let mut got = 0;
        loop {
            match slow.try_recv() {
                Ok(item) => {
                    got += 1;
                    assert_eq!(item.seq, 10 + got);
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
