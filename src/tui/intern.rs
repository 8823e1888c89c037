//! Interned strings with live counts: event types, users, categories and peers repeat across thousands of rows,
//! so a row stores a small id and the picker reads the counts without scanning the history.

use std::collections::HashMap;
use std::sync::Arc;

/// The id rows use for "no value" (an event without a user or category).
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct Interner {
    slots: Vec<Slot>,
    map: HashMap<Arc<str>, u32>,
    /// Ids whose count fell to zero, reused first, so the table stays as small as the retained history needs.
    free: Vec<u32>,
}

#[derive(Debug)]
struct Slot {
    name: Arc<str>,
    count: u64,
}

impl Interner {
    /// Takes one reference to `name`; returns its id and whether the id is new (or reused for a new name).
    pub fn acquire(&mut self, name: &str) -> (u32, bool) {
        if let Some(&id) = self.map.get(name) {
            self.slots[id as usize].count += 1;
            return (id, false);
        }
        let name: Arc<str> = Arc::from(name);
        let slot = Slot { name: name.clone(), count: 1 };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(name, id);
        (id, true)
    }

    /// Like [`Interner::acquire`] for an optional value; `None` is [`NONE`] and never new.
    pub fn acquire_opt(&mut self, name: Option<&str>) -> (u32, bool) {
        match name {
            Some(n) => self.acquire(n),
            None => (NONE, false),
        }
    }

    /// Drops one reference; the id is freed when none remain.
    pub fn release(&mut self, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.count == 0 {
            return;
        }
        slot.count -= 1;
        if slot.count == 0 {
            self.map.remove(&slot.name);
            slot.name = Arc::from("");
            self.free.push(id);
        }
    }

    /// The name behind an id; empty for [`NONE`] or a freed id.
    pub fn name(&self, id: u32) -> &str {
        self.slots.get(id as usize).map_or("", |s| &s.name)
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).copied()
    }

    pub fn count(&self, id: u32) -> u64 {
        self.slots.get(id as usize).map_or(0, |s| s.count)
    }

    /// One past the largest id handed out: the size of a per-id lookup table.
    pub fn id_bound(&self) -> usize {
        self.slots.len()
    }

    /// Live entries as (id, name, count).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str, u64)> + '_ {
        self.slots.iter().enumerate().filter(|(_, s)| s.count > 0).map(|(i, s)| (i as u32, &*s.name, s.count))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_acquire_and_release_and_ids_are_reused() {
        let mut i = Interner::default();
        let (a, new_a) = i.acquire("alice");
        let (a2, new_a2) = i.acquire("alice");
        let (b, _) = i.acquire("bob");
        assert!(new_a && !new_a2);
        assert_eq!(a, a2);
        assert_eq!(i.count(a), 2);
        assert_eq!(i.name(b), "bob");
        i.release(a);
        assert_eq!(i.count(a), 1);
        i.release(a);
        assert_eq!(i.count(a), 0);
        assert_eq!(i.get("alice"), None);
        assert_eq!(i.len(), 1);
        let (c, new_c) = i.acquire("carol");
        assert!(new_c);
        assert_eq!(c, a, "a freed id is reused");
        assert_eq!(i.id_bound(), 2);
        let live: Vec<_> = i.iter().map(|(_, n, c)| (n.to_owned(), c)).collect();
        assert_eq!(live, [("carol".to_owned(), 1), ("bob".to_owned(), 1)]);
        assert_eq!(i.acquire_opt(None), (NONE, false));
        assert_eq!(i.name(NONE), "");
    }
}
