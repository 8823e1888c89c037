//! The duplicate window: which (source, id) pairs were accepted recently, to flag GreenLake's re-deliveries.

use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The largest window sized up front; a larger `--dedup-window` grows past it as it fills.
const PRESIZED: usize = 4 << 20;

/// An accepted event's identity: the first 128 bits of SHA-256 over the (source, id) pair, the same digest the
/// NATS message id is made of. Fixed-size, so the window holds no allocation per event and the journal can keep
/// a segment's keys in a file of its own (see `journal::keys`); a collision between two pairs is as unlikely as a
/// SHA-256 collision, and no sender can aim for one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DedupKey(pub [u8; 16]);

impl DedupKey {
    /// The key of (source, id). The source's length comes first so ("ab", "c") and ("a", "bc") differ.
    pub fn of(source: &str, id: &str) -> DedupKey {
        let mut hash = Sha256::new();
        hash.update((source.len() as u64).to_be_bytes());
        hash.update(source.as_bytes());
        hash.update(id.as_bytes());
        let digest = hash.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        DedupKey(key)
    }
}

impl Hash for DedupKey {
    /// The key is already a uniform digest: its first eight bytes are the table's hash, with nothing to mix.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(word));
    }
}

/// Passes a [`DedupKey`]'s own bits through as its hash.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Remembers the last `capacity` accepted (source, id) pairs.
pub struct DedupWindow {
    seen: HashSet<DedupKey, BuildHasherDefault<KeyHasher>>,
    order: VecDeque<DedupKey>,
    capacity: usize,
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
            seen: HashSet::with_capacity_and_hasher(presized, Default::default()),
            order: VecDeque::with_capacity(presized),
            capacity,
        }
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
        self.insert_key(DedupKey::of(source, id))
    }

    /// [`DedupWindow::insert`] of a key already made (read back from the journal).
    pub fn insert_key(&mut self, key: DedupKey) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        // The oldest goes before the new key comes in, so the table never holds more than it was sized for.
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key);
        self.order.push_back(key);
        true
    }

    /// Undoes the most recent insert of this key (its group could not be written).
    pub(super) fn forget(&mut self, key: DedupKey) {
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
