//! The retained event history: one compact row per accepted event, in arrival order, bounded by `--retain`.
//!
//! A row keeps the event's compact JSON exactly as received (for the detail pane, copy and export) and the few
//! fields the table and filters read, already sanitised. No `serde_json::Value` tree is kept: a million events
//! must fit in little more than their JSON.
//!
//! The id and summary of every row live side by side in large shared chunks rather than in an allocation each:
//! no per-row allocator overhead, and a text filter reads them as one stream instead of chasing a pointer per
//! row, which is what keeps filtering a million rows fast.

use crate::cloudevent::EventFields;
use crate::record::{Attributes, EventRecord, VerifiedBy};
use crate::tui::filter::TextMatcher;
use crate::tui::intern::{Interner, NONE};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use time::OffsetDateTime;

/// Longest id and summary kept for display and filtering, in bytes (cut at a character boundary). The detail
/// pane, copy and export always use the whole event.
pub const ID_MAX: usize = 512;
pub const SUMMARY_MAX: usize = 2048;

#[derive(Debug)]
pub struct EventRow {
    /// Where the event's compact JSON sits in the event chunks: kept there rather than in an allocation of its
    /// own, which would cost each event the allocator's header and rounding.
    event_chunk: u32,
    event_offset: u32,
    event_len: u32,
    /// Where the sanitised id, then the sanitised summary, sit in the text chunks.
    chunk: u32,
    offset: u32,
    id_len: u32,
    summary_len: u32,
    /// Unix time in nanoseconds (see [`EventRow::received_at`]): half the size of an `OffsetDateTime`.
    received: i64,
    /// Hash of (source name, source, id), to find the row a re-delivery repeats: the same id from two configured
    /// sources is two events.
    key: u64,
    pub peer: u32,
    pub ty: u32,
    pub user: u32,
    pub category: u32,
    /// The configured source that received it (`--sources`), [`NONE`] without one.
    pub source: u32,
    /// Where a non-CloudEvent scheme keeps the id, type, source and user; kept for the export.
    pub attributes: Option<Box<Attributes>>,
    /// Re-deliveries of this event seen after it was accepted.
    pub duplicates: u32,
    pub verified_by: VerifiedBy,
}

impl EventRow {
    pub fn received_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.received)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What [`History::push`] did, for the caller's indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    pub seq: u64,
    /// The type id was handed out (or reused) for this row's type.
    pub new_type: bool,
    pub new_user: bool,
    pub new_source: bool,
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
    /// Configured source names (`--sources`).
    pub sources: Interner,
    texts: Texts,
    /// The events' JSON, apart from `texts` so that a text search runs over ids and summaries only.
    events: Texts,
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
            sources: Interner::default(),
            texts: Texts::default(),
            events: Texts::default(),
            hasher: RandomState::new(),
        }
    }

    fn key(&self, source_name: Option<&str>, source: &str, id: &str) -> u64 {
        self.hasher.hash_one((source_name, source, id))
    }

    /// Adds an accepted event as the newest row.
    pub fn push(&mut self, rec: EventRecord) -> Pushed {
        // The fields come out of the event escaped; the peer is escaped too, as a journal is only a file.
        let fields = EventFields::of(&rec);
        let (ty, new_type) = self.types.acquire(&fields.ty);
        let (user, new_user) = self.users.acquire_opt(fields.user.as_deref());
        let (category, _) = self.categories.acquire_opt(fields.category.as_deref());
        let (peer, _) = self.peers.acquire(&crate::text::escape(&rec.peer));
        let (source, new_source) = self.sources.acquire_opt(fields.source_name.as_deref());
        let key = self.key(fields.source_name.as_deref(), &fields.source, &fields.id);
        let seq = self.end();
        let id = clip(&fields.id, ID_MAX);
        let summary = clip(&fields.summary, SUMMARY_MAX);
        let (chunk, offset) = self.texts.push(seq, &[id, summary]);
        let event = rec.event.get();
        let (event_chunk, event_offset) = self.events.push(seq, &[event]);
        // Grow by an eighth rather than double: at a million rows, doubling would leave up to a hundred bytes
        // of empty capacity per event.
        if self.rows.len() == self.rows.capacity() {
            let room = self.retain.saturating_sub(self.rows.len()).max(1);
            self.rows.reserve_exact((self.rows.len() / 8).max(1024).min(room));
        }
        self.rows.push_back(EventRow {
            event_chunk,
            event_offset,
            event_len: event.len() as u32,
            chunk,
            offset,
            id_len: id.len() as u32,
            summary_len: summary.len() as u32,
            received: i64::try_from(rec.received_at.unix_timestamp_nanos()).unwrap_or_default(),
            key,
            peer,
            ty,
            user,
            category,
            source,
            attributes: rec.attributes.map(Box::new),
            duplicates: 0,
            verified_by: rec.verified_by,
        });
        let mut evicted = 0;
        while self.rows.len() > self.retain {
            self.evict_front();
            evicted += 1;
        }
        Pushed { seq, new_type, new_user, new_source, evicted }
    }

    fn evict_front(&mut self) {
        let Some(row) = self.rows.pop_front() else {
            return;
        };
        self.texts.evicted_through(self.base);
        self.events.evicted_through(self.base);
        self.base += 1;
        self.dropped += 1;
        self.types.release(row.ty);
        self.users.release(row.user);
        self.categories.release(row.category);
        self.peers.release(row.peer);
        self.sources.release(row.source);
    }

    /// Counts a re-delivery against the row it repeats; returns that row's sequence number if it is retained.
    ///
    /// Searched from the newest row back rather than through an index: GreenLake re-delivers when an
    /// acknowledgement was lost, so the original is nearly always recent, and an index would cost every event
    /// about 30 bytes to speed up something rare.
    pub fn duplicate(&mut self, rec: &EventRecord) -> Option<u64> {
        let (source, id) = match &rec.attributes {
            Some(a) => (Cow::Borrowed(a.source.as_str()), Cow::Borrowed(a.id.as_str())),
            None => {
                let ident: Ident = serde_json::from_str(rec.event.get()).ok()?;
                (ident.source?, ident.id?)
            }
        };
        // Escaped as `push` escaped them, so the key and the id compare equal.
        let (source, id) = (crate::text::escape(&source), crate::text::escape(&id));
        let name = rec.source_name.as_deref().map(crate::text::escape);
        let key = self.key(name.as_deref(), &source, &id);
        let id = clip(&id, ID_MAX);
        // A 64-bit hash collision is unlikely, but a wrong attribution would mislead: check the id too.
        let index = self.rows.iter().rposition(|r| r.key == key && self.id(r) == id)?;
        let row = &mut self.rows[index];
        row.duplicates = row.duplicates.saturating_add(1);
        Some(self.base + index as u64)
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

    /// A text search over rows visited in ascending sequence order.
    pub fn text_hits<'a>(&'a self, matcher: &'a TextMatcher) -> TextHits<'a> {
        TextHits::new(&self.texts, matcher)
    }

    /// The row's event, compact JSON exactly as received.
    pub fn event_json(&self, row: &EventRow) -> &str {
        self.events.get(row.event_chunk, row.event_offset, row.event_len)
    }

    /// The row's event as a JSON value, for the export (copied: it runs on another thread).
    pub fn event(&self, row: &EventRow) -> Box<RawValue> {
        RawValue::from_string(self.event_json(row).to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }

    /// The row's sanitised CloudEvent id.
    pub fn id(&self, row: &EventRow) -> &str {
        self.texts.get(row.chunk, row.offset, row.id_len)
    }

    /// The row's sanitised one-line summary.
    pub fn summary(&self, row: &EventRow) -> &str {
        self.texts.get(row.chunk, row.offset + row.id_len, row.summary_len)
    }

    pub fn user_name(&self, row: &EventRow) -> Option<&str> {
        (row.user != NONE).then(|| self.users.name(row.user))
    }

    pub fn category_name(&self, row: &EventRow) -> Option<&str> {
        (row.category != NONE).then(|| self.categories.name(row.category))
    }

    /// The configured source that received the row's event, when glwatch runs with `--sources`.
    pub fn source_name(&self, row: &EventRow) -> Option<&str> {
        (row.source != NONE).then(|| self.sources.name(row.source))
    }
}

mod texts;
pub use texts::TextHits;
use texts::Texts;

#[cfg(test)]
pub(crate) mod tests;
