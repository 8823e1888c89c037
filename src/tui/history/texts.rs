//! The text chunks behind the history's rows (ids and summaries, and apart from them the events' JSON), and the
//! text filter's search over them.

use super::{EventRow, History};
use crate::tui::filter::TextMatcher;
use std::collections::VecDeque;

/// Bytes per text chunk.
pub(super) const CHUNK: usize = 1 << 20;

/// Append-only chunks of row texts, dropped from the front once every row in them has been evicted.
#[derive(Debug, Default)]
pub(super) struct Texts {
    chunks: VecDeque<Chunk>,
    /// Number of `chunks[0]`; row chunk numbers wrap at 2^32 and are compared with wrapping arithmetic.
    first: u32,
}

#[derive(Debug)]
struct Chunk {
    buf: String,
    /// Sequence number of the newest row with text here.
    last_seq: u64,
}

impl Texts {
    /// Chunks held now.
    #[cfg(test)]
    pub(super) fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Stores `parts` one after the other; returns (chunk number, offset).
    pub(super) fn push(&mut self, seq: u64, parts: &[&str]) -> (u32, u32) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.chunks.back().is_none_or(|c| c.buf.len() + len > c.buf.capacity()) {
            self.chunks.push_back(Chunk { buf: String::with_capacity(CHUNK.max(len)), last_seq: seq });
        }
        let number = self.first.wrapping_add(self.chunks.len().saturating_sub(1) as u32);
        let mut offset = 0;
        if let Some(chunk) = self.chunks.back_mut() {
            offset = chunk.buf.len() as u32;
            for p in parts {
                chunk.buf.push_str(p);
            }
            chunk.last_seq = seq;
        }
        (number, offset)
    }

    pub(super) fn get(&self, chunk: u32, from: u32, len: u32) -> &str {
        let index = chunk.wrapping_sub(self.first) as usize;
        self.chunks.get(index).and_then(|c| c.buf.get(from as usize..(from + len) as usize)).unwrap_or("")
    }

    /// Frees chunks whose rows have all been evicted (every row up to `seq` included).
    pub(super) fn evicted_through(&mut self, seq: u64) {
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|c| c.last_seq <= seq) {
            self.chunks.pop_front();
            self.first = self.first.wrapping_add(1);
        }
    }
}

/// Answers "does this row's id or summary contain the needle?" for rows visited in ascending order.
///
/// A chunk's text is searched as one stream, with `memchr`'s SIMD search: for a needle with letters, over a copy of
/// the chunk lower-cased in ASCII (exact, as the needle is ASCII), so the search stops only where the needle's rarer
/// bytes line up instead of at every occurrence of one of its letters in either case. The search is lazy and
/// remembers where it got to: a row is answered by the first match at or after its start, so one search serves
/// every row up to that match; a row that matches ends its search there (its other matches are never looked for),
/// and the text of rows that are not visited (a narrowed list, rows already passed on type or user) is only run over
/// by the search, never examined row by row.
pub struct TextHits<'a> {
    texts: &'a Texts,
    matcher: &'a TextMatcher,
    finder: memchr::memmem::Finder<'a>,
    /// The needle has a letter and more than one byte: search `lower`, not the text itself.
    fold: bool,
    chunk: Option<u32>,
    /// The current chunk's text, and the same ASCII lower-cased when `fold`.
    text: &'a [u8],
    lower: Vec<u8>,
    /// `found` is the first match at or after `searched` in the current chunk (`None`: none up to its end).
    searched: usize,
    found: Option<usize>,
}

impl<'a> TextHits<'a> {
    pub(super) fn new(texts: &'a Texts, matcher: &'a TextMatcher) -> TextHits<'a> {
        let needle = matcher.text().as_bytes();
        TextHits {
            texts,
            matcher,
            finder: memchr::memmem::Finder::new(needle),
            fold: needle.len() > 1 && needle.iter().any(u8::is_ascii_alphabetic),
            chunk: None,
            text: &[],
            lower: Vec::new(),
            searched: usize::MAX,
            found: None,
        }
    }

    pub fn row_hit(&mut self, history: &History, row: &EventRow) -> bool {
        if !self.matcher.is_bytewise() {
            return self.matcher.is_match(history.id(row)) || self.matcher.is_match(history.summary(row));
        }
        if self.chunk != Some(row.chunk) {
            self.load(row.chunk);
        }
        let n = self.matcher.len();
        let (mut at, sum_start) = (row.offset as usize, (row.offset + row.id_len) as usize);
        let end = sum_start + row.summary_len as usize;
        // A match must lie wholly inside the id or wholly inside the summary, not across them or into the next row.
        while let Some(p) = self.first_from(at).filter(|&p| p < end) {
            if p + n <= sum_start || (p >= sum_start && p + n <= end) {
                return true;
            }
            at = p + 1;
        }
        false
    }

    /// The first match starting at or after `at` in the current chunk.
    fn first_from(&mut self, at: usize) -> Option<usize> {
        if at < self.searched || self.found.is_some_and(|p| p < at) {
            self.searched = at;
            let needle = self.matcher.text().as_bytes();
            let hay = if self.fold { self.lower.get(at..) } else { self.text.get(at..) };
            self.found = hay
                .and_then(|hay| match *needle {
                    [b] if b.is_ascii_alphabetic() => memchr::memchr2(b, b.to_ascii_uppercase(), hay),
                    [b] => memchr::memchr(b, hay),
                    _ => self.finder.find(hay),
                })
                .map(|p| at + p);
        }
        self.found
    }

    fn load(&mut self, chunk: u32) {
        self.chunk = Some(chunk);
        self.searched = usize::MAX;
        self.found = None;
        let index = chunk.wrapping_sub(self.texts.first) as usize;
        self.text = self.texts.chunks.get(index).map_or(&[], |c| c.buf.as_bytes());
        if self.fold {
            self.lower.clear();
            self.lower.extend(self.text.iter().map(u8::to_ascii_lowercase));
        }
    }
}
