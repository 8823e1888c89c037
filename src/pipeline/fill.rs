//! Filling fsync groups: how long the committer waits for more requests before writing a group it could already
//! write.
//!
//! Requests that arrive during a sync share the next one, but the group that follows starts as soon as the sync
//! ends, while the clients answered by it are still sending their next requests. Under load the groups then
//! alternate between large and small, and the disk syncs about twice as often as it needs to. Waiting a fraction
//! of the last sync lets those requests join: a sync is paid for once per group, so a wait that merges two groups
//! costs each request less than the sync it saves. Nothing waits when syncs are cheap (`--durability os`, a fast
//! disk) or when the last group was a lone request (light load), so a quiet receiver answers as before.

use std::time::Duration;

/// Syncs faster than this are not worth waiting for: the wait would cost about what it saves.
const WORTH_WAITING: Duration = Duration::from_micros(100);
/// The share of the last sync's duration waited for more requests.
const FRACTION: u32 = 2;
/// The longest wait, however slow the disk: requests wait for the sync anyway, this bounds what is added to it.
const MAX_WAIT: Duration = Duration::from_millis(2);

/// What the last durable group cost, to judge whether the next one should wait.
#[derive(Debug, Default)]
pub(super) struct GroupFill {
    last_sync: Duration,
    last_group: usize,
}

impl GroupFill {
    /// How long to wait for more requests before writing a group of `queued` deliveries, if at all: only while
    /// the group is smaller than the last one, which shows other clients are about to send.
    pub(super) fn wait(&self, queued: usize) -> Option<Duration> {
        if self.last_sync < WORTH_WAITING || self.last_group < 2 || queued >= self.last_group {
            return None;
        }
        Some((self.last_sync / FRACTION).min(MAX_WAIT))
    }

    /// A group of `deliveries` was made durable in `took`.
    pub(super) fn synced(&mut self, deliveries: usize, took: Duration) {
        self.last_sync = took;
        self.last_group = deliveries;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_after_a_slow_sync_of_a_larger_group() {
        let mut fill = GroupFill::default();
        assert_eq!(fill.wait(1), None, "nothing known yet");
        fill.synced(1, Duration::from_millis(4));
        assert_eq!(fill.wait(1), None, "a lone request: light load");
        fill.synced(30, Duration::from_millis(1));
        assert_eq!(fill.wait(10), Some(Duration::from_micros(500)));
        assert_eq!(fill.wait(30), None, "already as large as the last group");
        fill.synced(30, Duration::from_millis(40));
        assert_eq!(fill.wait(10), Some(MAX_WAIT));
        fill.synced(30, Duration::from_micros(20));
        assert_eq!(fill.wait(10), None, "syncs are cheap");
    }
}
