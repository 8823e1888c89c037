//! The duplicate window: which (source, id) pairs were accepted recently, to flag GreenLake's re-deliveries.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// The largest window sized up front; a larger `--dedup-window` grows past it as it fills.
const PRESIZED: usize = 4 << 20;

/// Remembers the last `capacity` accepted (source, id) pairs.
pub struct DedupWindow {
    seen: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    capacity: usize,
    /// Where a key is spelt for the look-up, reused: only a fresh key is copied into an allocation of its own.
    scratch: String,
}

impl DedupWindow {
    /// The table and the queue are sized for the whole window up front (up to [`PRESIZED`] pairs): growing them
    /// later rehashes every key held so far, one stall of the committer (and of every request waiting on it) per
    /// doubling, the last one over hundreds of thousands of keys. Untouched capacity costs address space, not
    /// resident memory, except the table's control bytes (one per slot).
    pub fn new(capacity: usize) -> DedupWindow {
        let capacity = capacity.max(1);
        let presized = capacity.min(PRESIZED);
        DedupWindow {
            seen: HashSet::with_capacity(presized),
            order: VecDeque::with_capacity(presized),
            capacity,
            scratch: String::new(),
        }
    }

    /// The window's key for (source, id), as an allocation of its own (for keys read back from the journal).
    pub fn key(source: &str, id: &str) -> Arc<str> {
        let mut s = String::with_capacity(source.len() + id.len() + 12);
        Self::spell_key(&mut s, source, id);
        s.into()
    }

    /// The source's length prefix keeps ("ab", "c") and ("a", "bc") apart without an escape scheme.
    fn spell_key(into: &mut String, source: &str, id: &str) {
        into.clear();
        into.push_str(itoa::Buffer::new().format(source.len()));
        into.push(':');
        into.push_str(source);
        into.push_str(id);
    }

    /// The source part of the key for an event received by the configured source `source_name`: two sources
    /// never share ids (a GitHub delivery id and a Stripe event id are unrelated), so the name comes first,
    /// length-prefixed like the source itself. Without a sources file the key is the CloudEvent source as always,
    /// so journals written before keep recognising their re-deliveries.
    pub fn source_key<'a>(source_name: Option<&str>, source: &'a str) -> std::borrow::Cow<'a, str> {
        match source_name {
            None => source.into(),
            Some(name) => format!("{}:{name}{source}", name.len()).into(),
        }
    }

    /// Records the pair; false when it was already there (a duplicate).
    pub fn insert(&mut self, source: &str, id: &str) -> bool {
        Self::spell_key(&mut self.scratch, source, id);
        if self.seen.contains(self.scratch.as_str()) {
            return false;
        }
        let key: Arc<str> = Arc::from(self.scratch.as_str());
        self.remember(key);
        true
    }

    /// [`DedupWindow::insert`] of a key made by [`DedupWindow::key`] (read back from the journal).
    pub fn insert_key(&mut self, key: Arc<str>) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        self.remember(key);
        true
    }

    fn remember(&mut self, key: Arc<str>) {
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
    }

    /// Undoes the most recent insert of this pair (its group could not be written).
    pub(super) fn forget(&mut self, source: &str, id: &str) {
        Self::spell_key(&mut self.scratch, source, id);
        let key = self.scratch.as_str();
        if self.seen.remove(key) {
            if let Some(pos) = self.order.iter().rposition(|k| **k == *key) {
                self.order.remove(pos);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_window_is_bounded() {
        let mut w = DedupWindow::new(2);
        assert!(w.insert("s", "1"));
        assert!(!w.insert("s", "1"));
        assert!(w.insert("s", "2"));
        assert!(w.insert("s", "3"));
        assert_eq!(w.len(), 2);
        assert!(w.insert("s", "1"), "evicted pairs are forgotten");
        // The source length prefix keeps ("ab","c") and ("a","bc") apart.
        assert!(w.insert("ab", "c"));
        assert!(w.insert("a", "bc"));
        // Two configured sources with the same event id do not collide.
        assert!(w.insert(&DedupWindow::source_key(Some("github"), "s"), "1"));
        assert!(w.insert(&DedupWindow::source_key(Some("stripe"), "s"), "1"));
        assert!(!w.insert(&DedupWindow::source_key(Some("stripe"), "s"), "1"));
    }
}
