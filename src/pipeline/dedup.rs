//! The duplicate window: which (source, id) pairs were accepted recently, to flag GreenLake's re-deliveries.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// Remembers the last `capacity` accepted (source, id) pairs.
pub struct DedupWindow {
    seen: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    capacity: usize,
}

impl DedupWindow {
    pub fn new(capacity: usize) -> DedupWindow {
        DedupWindow { seen: HashSet::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// The window's key for (source, id). The source's length prefix keeps ("ab", "c") and ("a", "bc") apart
    /// without an escape scheme.
    pub fn key(source: &str, id: &str) -> Arc<str> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(source.len() + id.len() + 12);
        let _ = write!(s, "{}:", source.len());
        s.push_str(source);
        s.push_str(id);
        s.into()
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
        self.insert_key(Self::key(source, id))
    }

    /// [`DedupWindow::insert`] of a key made by [`DedupWindow::key`] (read back from the journal).
    pub fn insert_key(&mut self, key: Arc<str>) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }

    /// Undoes the most recent insert of this pair (its group could not be written).
    pub(super) fn forget(&mut self, source: &str, id: &str) {
        let key = Self::key(source, id);
        if self.seen.remove(&key) {
            if let Some(pos) = self.order.iter().rposition(|k| *k == key) {
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
