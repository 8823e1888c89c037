//! Where a group's new events go after the journal and before anyone is answered: a shared log of several
//! receivers (NATS JetStream), whose acknowledgement the HTTP answer waits for.

use super::{CommitError, CommitLoop, Lines, Pending};
use crate::record::{EventRecord, Record};

/// One new event of a group, as the publisher sends it.
pub struct Outgoing<'a> {
    /// The dedup key's source (with the configured source's name) and the event's id.
    pub source: &'a str,
    pub id: &'a str,
    pub record: &'a EventRecord,
    /// The record's NDJSON line, without the newline.
    pub line: &'a [u8],
}

/// Publishes accepted events and waits for the broker to hold them.
pub trait Publisher: Send {
    /// Publishes `events` and waits until the broker holds every one. Returns, in order, whether the broker
    /// already held each (a re-delivery another receiver took). On error none of them counts as acknowledged.
    fn publish(&mut self, events: &[Outgoing<'_>]) -> Result<Vec<bool>, String>;

    /// A challenge or a refusal: sent when the broker is reachable, never waited for.
    fn note(&mut self, _record: &Record, _line: &[u8]) {}
}

impl CommitLoop {
    /// Publishes every event of the group, re-deliveries too (the broker, not this receiver's window, knows
    /// whether it holds them); returns, for each in order, whether the broker already held it.
    pub(super) fn publish(&mut self, pending: &[Pending], buf: &[u8]) -> Result<Vec<bool>, CommitError> {
        let Some(publisher) = self.publisher.as_mut() else { return Ok(Vec::new()) };
        let mut lines = Lines(buf);
        let mut outgoing = Vec::new();
        for p in pending {
            for (r, (source, id, _)) in p.records.iter().zip(&p.keys) {
                let line = lines.next().unwrap_or_default();
                if let Record::Event(record) = r {
                    outgoing.push(Outgoing { source, id, record, line });
                }
            }
        }
        if outgoing.is_empty() {
            return Ok(Vec::new());
        }
        publisher.publish(&outgoing).map_err(CommitError::Broker)
    }
}
