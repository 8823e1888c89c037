//! The retained event history: one compact row per accepted event, in arrival order, bounded by `--retain`.
//!
//! A row keeps the event's compact JSON exactly as received (for the detail pane, copy and export) and the few
//! fields the table and filters read, already sanitised. No `serde_json::Value` tree is kept: a million events
//! must fit in little more than their JSON.

use crate::cloudevent::EventFields;
use crate::record::{EventRecord, VerifiedBy};
use crate::tui::intern::{Interner, NONE};
use crate::tui::sanitize;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use time::OffsetDateTime;

#[derive(Debug)]
pub struct EventRow {
    pub event: Box<RawValue>,
    /// Sanitised one-line summary.
    pub summary: Box<str>,
    /// Sanitised CloudEvent id.
    pub id: Box<str>,
    pub received_at: OffsetDateTime,
    /// Hash of (source, id), to find the row a re-delivery repeats.
    key: u64,
    pub peer: u32,
    pub ty: u32,
    pub user: u32,
    pub category: u32,
    /// Re-deliveries of this event seen after it was accepted.
    pub duplicates: u32,
    pub verified_by: VerifiedBy,
}

/// What [`History::push`] did, for the caller's indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    pub seq: u64,
    /// The type id was handed out (or reused) for this row's type.
    pub new_type: bool,
    pub new_user: bool,
    /// Rows dropped from the front to stay within the bound.
    pub evicted: u64,
}

#[derive(Deserialize)]
struct Ident<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub struct History {
    rows: VecDeque<EventRow>,
    /// Sequence number of `rows[0]`; sequence numbers never repeat, so they stay valid across evictions.
    base: u64,
    retain: usize,
    dropped: u64,
    pub types: Interner,
    pub users: Interner,
    pub categories: Interner,
    pub peers: Interner,
    by_key: HashMap<u64, u64>,
    hasher: RandomState,
}

impl History {
    pub fn new(retain: usize) -> History {
        History {
            rows: VecDeque::new(),
            base: 0,
            retain,
            dropped: 0,
            types: Interner::default(),
            users: Interner::default(),
            categories: Interner::default(),
            peers: Interner::default(),
            by_key: HashMap::new(),
            hasher: RandomState::new(),
        }
    }

    fn key(&self, source: &str, id: &str) -> u64 {
        self.hasher.hash_one((source, id))
    }

    /// Adds an accepted event as the newest row.
    pub fn push(&mut self, rec: EventRecord) -> Pushed {
        let fields = EventFields::from_raw(rec.event.get());
        let ty = sanitize::sanitize(&fields.ty);
        let (ty, new_type) = self.types.acquire(&ty);
        let user = fields.user.as_deref().map(sanitize::sanitize);
        let (user, new_user) = self.users.acquire_opt(user.as_deref());
        let category = fields.category.as_deref().map(sanitize::sanitize);
        let (category, _) = self.categories.acquire_opt(category.as_deref());
        let (peer, _) = self.peers.acquire(&sanitize::sanitize(&rec.peer));
        let key = self.key(&fields.source, &fields.id);
        let seq = self.end();
        self.rows.push_back(EventRow {
            event: rec.event,
            summary: sanitize::boxed(&fields.summary),
            id: sanitize::boxed(&fields.id),
            received_at: rec.received_at,
            key,
            peer,
            ty,
            user,
            category,
            duplicates: 0,
            verified_by: rec.verified_by,
        });
        self.by_key.insert(key, seq);
        let mut evicted = 0;
        while self.rows.len() > self.retain {
            self.evict_front();
            evicted += 1;
        }
        Pushed { seq, new_type, new_user, evicted }
    }

    fn evict_front(&mut self) {
        let Some(row) = self.rows.pop_front() else {
            return;
        };
        let seq = self.base;
        self.base += 1;
        self.dropped += 1;
        self.types.release(row.ty);
        self.users.release(row.user);
        self.categories.release(row.category);
        self.peers.release(row.peer);
        if self.by_key.get(&row.key) == Some(&seq) {
            self.by_key.remove(&row.key);
        }
    }

    /// Counts a re-delivery against the row it repeats; returns that row's sequence number if it is retained.
    pub fn duplicate(&mut self, rec: &EventRecord) -> Option<u64> {
        let ident: Ident = serde_json::from_str(rec.event.get()).ok()?;
        let (source, id) = (ident.source?, ident.id?);
        let seq = *self.by_key.get(&self.key(&source, &id))?;
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let row = self.rows.get_mut(index)?;
        // A 64-bit hash collision is unlikely, but a wrong attribution would mislead: check the id too.
        if *row.id != *sanitize::sanitize(&id) {
            return None;
        }
        row.duplicates = row.duplicates.saturating_add(1);
        Some(seq)
    }

    pub fn get(&self, seq: u64) -> Option<&EventRow> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.rows.get(index)
    }

    /// Sequence number of the oldest retained row.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Sequence number the next row will get.
    pub fn end(&self) -> u64 {
        self.base + self.rows.len() as u64
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows dropped to honour the bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn retain(&self) -> usize {
        self.retain
    }

    /// Rows with their sequence numbers, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &EventRow)> + ExactSizeIterator + '_ {
        let base = self.base;
        self.rows.iter().enumerate().map(move |(i, r)| (base + i as u64, r))
    }

    pub fn user_name(&self, row: &EventRow) -> Option<&str> {
        (row.user != NONE).then(|| self.users.name(row.user))
    }

    pub fn category_name(&self, row: &EventRow) -> Option<&str> {
        (row.category != NONE).then(|| self.categories.name(row.category))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::VerifiedBy;

    pub fn event(id: &str, ty: &str, user: Option<&str>, description: &str) -> EventRecord {
        let mut data = serde_json::json!({ "description": description });
        if let Some(u) = user {
            data["user"] = serde_json::json!({ "username": u });
        }
        let v = serde_json::json!({
            "specversion": "1.0", "id": id, "source": "//test", "type": ty,
            "time": "2024-12-20T12:34:53.161Z", "data": data,
        });
        EventRecord {
            received_at: time::macros::datetime!(2024-12-20 12:34:55 UTC),
            peer: "127.0.0.1:5000".into(),
            verified_by: VerifiedBy::Primary,
            duplicate: false,
            event: RawValue::from_string(v.to_string()).unwrap(),
        }
    }

    #[test]
    fn retain_bounds_rows_and_counts_what_fell_off() {
        let mut h = History::new(3);
        for i in 0..5 {
            let p = h.push(event(&format!("e{i}"), "t.a", Some("u"), "d"));
            assert_eq!(p.seq, i);
            assert_eq!(p.evicted, u64::from(i >= 3));
        }
        assert_eq!(h.len(), 3);
        assert_eq!(h.dropped(), 2);
        assert_eq!(h.base(), 2);
        assert!(h.get(1).is_none());
        assert_eq!(&*h.get(2).unwrap().id, "e2");
        assert_eq!(h.users.count(h.users.get("u").unwrap()), 3);
        let ids: Vec<_> = h.iter().map(|(s, r)| (s, r.id.to_string())).collect();
        assert_eq!(ids, [(2, "e2".into()), (3, "e3".into()), (4, "e4".into())]);
    }

    #[test]
    fn duplicates_are_counted_on_the_retained_row_only() {
        let mut h = History::new(2);
        h.push(event("a", "t", None, "first"));
        h.push(event("b", "t", None, "second"));
        let mut again = event("b", "t", None, "second");
        again.duplicate = true;
        assert_eq!(h.duplicate(&again), Some(1));
        assert_eq!(h.duplicate(&again), Some(1));
        assert_eq!(h.get(1).unwrap().duplicates, 2);
        assert_eq!(h.get(0).unwrap().duplicates, 0);
        h.push(event("c", "t", None, "third"));
        h.push(event("d", "t", None, "fourth"));
        assert_eq!(h.duplicate(&again), None, "the original fell off the history");
        assert_eq!(h.duplicate(&event("zzz", "t", None, "")), None);
    }

    #[test]
    fn retain_zero_keeps_nothing() {
        let mut h = History::new(0);
        let p = h.push(event("a", "t", Some("u"), "d"));
        assert_eq!((p.seq, p.evicted), (0, 1));
        assert!(h.is_empty());
        assert!(h.users.is_empty());
        assert_eq!(h.dropped(), 1);
    }
}
