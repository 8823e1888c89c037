//! The dashboard's output: committed records handed over a bounded channel, never waiting for the screen.

use super::Sink;
use crate::feed::Feed;
use crate::record::Record;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Hands records to the dashboard without ever waiting for it: when its queue is full the record is counted
/// as dropped from the screen (it is still in the journal and on stdout).
pub struct ChannelSink {
    tx: mpsc::Sender<Feed>,
    dropped: Arc<AtomicU64>,
}

impl ChannelSink {
    pub fn new(tx: mpsc::Sender<Feed>, dropped: Arc<AtomicU64>) -> ChannelSink {
        ChannelSink { tx, dropped }
    }
}

impl Sink for ChannelSink {
    fn emit(&mut self, record: &Record, _line: &str) {
        if self.tx.try_send(Feed::Record(record.clone())).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
