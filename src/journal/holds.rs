//! Readers in this process that still need part of a journal (watch subscribers reading back by seq): retention
//! deletes no segment holding a record one of them has yet to read.
//!
//! The registry is keyed by the journal's path as the receiver was given it, so the writer (which deletes) and the
//! watch endpoint (which reads) meet without being wired to each other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

type Registry = Mutex<HashMap<PathBuf, Vec<Weak<AtomicU64>>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// One reader's position: the smallest seq it still needs. Released when dropped.
#[derive(Debug)]
pub struct Hold(Arc<AtomicU64>);

impl Hold {
    pub fn new(base: &Path, needs: u64) -> Hold {
        let position = Arc::new(AtomicU64::new(needs));
        let mut all = registry().lock().unwrap_or_else(|p| p.into_inner());
        let list = all.entry(base.to_owned()).or_default();
        // Released holds are pruned here too, so the list stays as long as the readers alive.
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&position));
        Hold(position)
    }

    /// The reader now needs records from `needs` on.
    pub fn set(&self, needs: u64) {
        self.0.store(needs, Ordering::Relaxed);
    }
}

/// The smallest seq a reader of the journal at `base` still needs; `None` when none reads it.
pub fn floor(base: &Path) -> Option<u64> {
    let mut all = registry().lock().unwrap_or_else(|p| p.into_inner());
    let list = all.get_mut(base)?;
    list.retain(|w| w.strong_count() > 0);
    list.iter().filter_map(Weak::upgrade).map(|p| p.load(Ordering::Relaxed)).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_slowest_live_reader() {
        let base = Path::new("/nonexistent/holds-test/journal.jsonl");
        assert_eq!(floor(base), None);
        let a = Hold::new(base, 10);
        let b = Hold::new(base, 4);
        assert_eq!(floor(base), Some(4));
        b.set(20);
        assert_eq!(floor(base), Some(10));
        drop(a);
        assert_eq!(floor(base), Some(20));
        drop(b);
        assert_eq!(floor(base), None);
        assert_eq!(floor(Path::new("/elsewhere")), None);
    }
}
