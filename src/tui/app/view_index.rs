//! Which events the table lists: the view index (every retained row, or the sequence numbers passing the filter)
//! and the filter compiled against the interned types, users and sources so that keeping the index current is cheap.

use super::App;
use crate::record::{EventRecord, Record};
use crate::tui::filter::{Filter, TextMatcher};
use crate::tui::history::{EventRow, History, Pushed, TextHits};
use crate::tui::intern::{Interner, NONE};
use std::collections::VecDeque;

/// Which rows the table lists: every retained row, or the sequence numbers that pass the filter (ascending).
#[derive(Debug)]
pub(super) enum ViewIndex {
    All,
    Filtered(VecDeque<u64>),
}

/// The filter prepared against the interned values, so a row is judged with table lookups plus at most two
/// substring searches (summary and id).
#[derive(Debug, Default)]
pub(super) struct Compiled {
    text: TextMatcher,
    type_chosen: Vec<bool>,
    user_chosen: Vec<bool>,
    source_chosen: Vec<bool>,
    type_text: Vec<bool>,
    user_text: Vec<bool>,
}

fn flag(v: &[bool], id: u32) -> bool {
    id != NONE && v.get(id as usize).copied().unwrap_or(false)
}

fn set_flag(v: &mut Vec<bool>, id: u32, value: bool) {
    if id == NONE {
        return;
    }
    let i = id as usize;
    if v.len() <= i {
        v.resize(i + 1, false);
    }
    v[i] = value;
}

impl Compiled {
    fn new(filter: &Filter, history: &History) -> Compiled {
        let mut c = Compiled { text: TextMatcher::new(&filter.text), ..Compiled::default() };
        for (id, _, _) in history.types.iter() {
            c.learn_type(filter, &history.types, id);
        }
        for (id, _, _) in history.users.iter() {
            c.learn_user(filter, &history.users, id);
        }
        for (id, _, _) in history.sources.iter() {
            c.learn_source(filter, &history.sources, id);
        }
        c
    }

    fn learn_source(&mut self, filter: &Filter, sources: &Interner, id: u32) {
        set_flag(&mut self.source_chosen, id, filter.sources.contains(sources.name(id)));
    }

    fn learn_type(&mut self, filter: &Filter, types: &Interner, id: u32) {
        let name = types.name(id);
        set_flag(&mut self.type_chosen, id, filter.types.contains(name));
        set_flag(&mut self.type_text, id, self.text.is_match(name));
    }

    fn learn_user(&mut self, filter: &Filter, users: &Interner, id: u32) {
        let name = users.name(id);
        set_flag(&mut self.user_chosen, id, filter.users.contains(name));
        set_flag(&mut self.user_text, id, self.text.is_match(name));
    }
}

impl App {
    /// Brings the compiled filter and the view index up to date with a row just pushed to the history.
    pub(super) fn index_pushed(&mut self, pushed: &Pushed) {
        if pushed.new_type || pushed.new_user || pushed.new_source {
            if let Some(row) = self.history.get(pushed.seq) {
                let (ty, user, source) = (row.ty, row.user, row.source);
                if pushed.new_type {
                    self.compiled.learn_type(&self.filter, &self.history.types, ty);
                }
                if pushed.new_user {
                    self.compiled.learn_user(&self.filter, &self.history.users, user);
                }
                if pushed.new_source {
                    self.compiled.learn_source(&self.filter, &self.history.sources, source);
                }
            }
        }
        if pushed.evicted > 0 {
            let base = self.history.base();
            if let ViewIndex::Filtered(list) = &mut self.view {
                while list.front().is_some_and(|&s| s < base) {
                    list.pop_front();
                }
            }
        }
        let matches = self.history.get(pushed.seq).is_some_and(|row| self.row_matches(row));
        if matches {
            if let ViewIndex::Filtered(list) = &mut self.view {
                list.push_back(pushed.seq);
            }
        }
    }

    fn row_matches(&self, row: &EventRow) -> bool {
        self.decided(row).unwrap_or_else(|| {
            let text = &self.compiled.text;
            text.is_match(self.history.summary(row)) || text.is_match(self.history.id(row))
        })
    }

    /// Whether `row` passes the filter, when its type, user and source decide it: it is not a chosen type, user or
    /// source, there is
    /// no text, or the text matches its type or user. `None` when only its summary or id can tell.
    fn decided(&self, row: &EventRow) -> Option<bool> {
        let c = &self.compiled;
        if !self.filter.types.is_empty() && !flag(&c.type_chosen, row.ty) {
            return Some(false);
        }
        if !self.filter.users.is_empty() && !flag(&c.user_chosen, row.user) {
            return Some(false);
        }
        if !self.filter.sources.is_empty() && !flag(&c.source_chosen, row.source) {
            return Some(false);
        }
        (c.text.is_empty() || flag(&c.type_text, row.ty) || flag(&c.user_text, row.user)).then_some(true)
    }

    /// Rebuilds the index after the filter changed. `narrowing` says every row now shown was shown before, so
    /// only those need checking.
    pub(super) fn refilter(&mut self, narrowing: bool) {
        self.compiled = Compiled::new(&self.filter, &self.history);
        let view = std::mem::replace(&mut self.view, ViewIndex::All);
        if self.filter.is_empty() {
            self.view = ViewIndex::All;
            self.repair_selection();
            return;
        }
        let history = &self.history;
        let mut hits = history.text_hits(&self.compiled.text);
        let mut keep = |row: &EventRow| self.passes(row, &mut hits);
        self.view = if let (true, ViewIndex::Filtered(mut list)) = (narrowing, view) {
            list.retain(|&s| history.get(s).is_some_and(&mut keep));
            // The first letters of a filter match nearly everything; give the memory back as it narrows.
            if list.capacity() > 2 * list.len() + 1024 {
                list.shrink_to_fit();
            }
            ViewIndex::Filtered(list)
        } else {
            ViewIndex::Filtered(history.iter().filter(|(_, r)| keep(r)).map(|(s, _)| s).collect())
        };
        self.repair_selection();
    }

    /// [`App::row_matches`] for rows visited in order, with the text searched chunk by chunk.
    fn passes(&self, row: &EventRow, hits: &mut TextHits<'_>) -> bool {
        self.decided(row).unwrap_or_else(|| hits.row_hit(&self.history, row))
    }

    /// Events the table lists (those passing the filter).
    pub fn view_len(&self) -> usize {
        match &self.view {
            ViewIndex::All => self.history.len(),
            ViewIndex::Filtered(l) => l.len(),
        }
    }

    pub(super) fn seq_at(&self, pos: usize) -> Option<u64> {
        match &self.view {
            ViewIndex::All => (pos < self.history.len()).then(|| self.history.base() + pos as u64),
            ViewIndex::Filtered(l) => l.get(pos).copied(),
        }
    }

    /// Position of the first listed row whose sequence number is `seq` or later.
    pub(super) fn lower_bound(&self, seq: u64) -> usize {
        match &self.view {
            ViewIndex::All => {
                usize::try_from(seq.saturating_sub(self.history.base())).unwrap_or(usize::MAX).min(self.history.len())
            }
            ViewIndex::Filtered(l) => l.partition_point(|&s| s < seq),
        }
    }

    /// Every listed event, oldest first, as the record it arrived in (copied: the export runs on another thread).
    pub fn export_records(&self) -> Vec<Record> {
        self.rows_in(0..self.view_len())
            .map(|(_, r)| {
                Record::Event(EventRecord {
                    source_name: self.history.source_name(r).map(str::to_owned),
                    attributes: r.attributes.as_deref().cloned(),
                    received_at: r.received_at(),
                    peer: self.history.peers.name(r.peer).to_owned(),
                    // The table keeps the client only; `glwatch export` reads the journal, which has the proxy.
                    via: None,
                    verified_by: r.verified_by,
                    duplicate: false,
                    event: self.history.event(r),
                })
            })
            .collect()
    }
}
