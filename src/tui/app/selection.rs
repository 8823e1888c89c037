//! The selected event and what follows from it: moving through the table, keeping the selection visible and
//! valid as rows are filtered or evicted, and the detail pane prepared for it.

use super::{App, Focus};
use crate::tui::history::EventRow;
use crate::tui::json;
use serde::Deserialize;
use std::borrow::Cow;
use std::ops::Range;
use time::OffsetDateTime;

/// The selected event prepared for the detail pane; rebuilt only when the selection changes.
#[derive(Debug, Clone)]
pub struct Detail {
    pub seq: u64,
    pub lines: Vec<String>,
    /// The event's own `time`, when it has a valid one.
    pub event_time: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
struct TimeField<'a> {
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

impl App {
    /// After the view changed under the selection: keep it if still listed, else take the nearest later row.
    pub(super) fn repair_selection(&mut self) {
        let len = self.view_len();
        if len == 0 {
            self.selected = None;
            self.focus = Focus::Table;
            return;
        }
        if self.follow {
            self.select_last();
            return;
        }
        let pos = match self.selected {
            Some(s) => self.lower_bound(s).min(len - 1),
            None => len - 1,
        };
        if let Some(s) = self.seq_at(pos) {
            self.select(s);
        }
    }

    pub(super) fn page(&self) -> i32 {
        let rows = match self.focus {
            Focus::Table => self.table_rows,
            Focus::Detail => self.detail_rows,
        };
        i32::from(rows.max(2) - 1)
    }

    pub(super) fn step(&mut self, delta: i32) {
        match self.focus {
            Focus::Table => self.move_selection(delta as i64),
            Focus::Detail => {
                let max = self.detail_max_scroll() as i64;
                self.detail_scroll = (self.detail_scroll as i64 + delta as i64).clamp(0, max) as usize;
            }
        }
    }

    /// Moving by hand pauses following, so the row the operator is reading stays put.
    pub(super) fn move_selection(&mut self, delta: i64) {
        let len = self.view_len();
        if len == 0 {
            return;
        }
        self.follow = false;
        let cur = self.selected.map_or(len - 1, |s| self.lower_bound(s).min(len - 1));
        let new = (cur as i64 + delta).clamp(0, len as i64 - 1) as usize;
        if let Some(s) = self.seq_at(new) {
            self.select(s);
        }
    }

    pub(super) fn select(&mut self, seq: u64) {
        if self.selected != Some(seq) {
            self.selected = Some(seq);
            self.detail_scroll = 0;
        }
        self.scroll_into_view();
    }

    pub(super) fn select_last(&mut self) {
        match self.view_len().checked_sub(1).and_then(|p| self.seq_at(p)) {
            Some(s) => self.select(s),
            None => self.selected = None,
        }
    }

    pub(super) fn scroll_into_view(&mut self) {
        let window = self.table_window(usize::from(self.table_rows));
        if let Some(s) = self.seq_at(window.start) {
            self.top = s;
        }
    }

    pub(super) fn detail_max_scroll(&self) -> usize {
        self.detail.as_ref().map_or(0, |d| d.lines.len().saturating_sub(1))
    }

    pub(super) fn refresh_detail(&mut self) {
        let Some(seq) = self.selected else {
            self.detail = None;
            return;
        };
        if self.detail.as_ref().is_some_and(|d| d.seq == seq) {
            return;
        }
        let Some(row) = self.history.get(seq) else {
            self.detail = None;
            return;
        };
        let raw = self.history.event_json(row);
        let event_time = serde_json::from_str::<TimeField>(raw)
            .ok()
            .and_then(|t| t.time)
            .and_then(|t| OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok());
        self.detail = Some(Detail { seq, lines: json::pretty_lines(raw), event_time });
        self.detail_scroll = self.detail_scroll.min(self.detail_max_scroll());
    }

    pub fn selected(&self) -> Option<u64> {
        self.selected
    }

    pub fn selected_row(&self) -> Option<&EventRow> {
        self.selected.and_then(|s| self.history.get(s))
    }

    /// Position of the selected row in the table.
    pub fn selected_pos(&self) -> Option<usize> {
        self.selected.map(|s| self.lower_bound(s))
    }

    /// The positions the table shows in `rows` lines: starts at the remembered top, moved just enough to keep the
    /// selection visible and to leave no empty lines at the bottom when there are rows to fill them.
    pub fn table_window(&self, rows: usize) -> Range<usize> {
        let len = self.view_len();
        let rows = rows.max(1);
        let mut start = self.lower_bound(self.top);
        if let Some(sel) = self.selected_pos() {
            if sel < start {
                start = sel;
            } else if sel >= start + rows {
                start = sel + 1 - rows;
            }
        }
        start = start.min(len.saturating_sub(rows));
        start..(start + rows).min(len)
    }

    /// Listed rows at the given positions, with their sequence numbers.
    pub fn rows_in(&self, positions: Range<usize>) -> impl Iterator<Item = (u64, &EventRow)> + '_ {
        positions.filter_map(move |p| {
            let s = self.seq_at(p)?;
            Some((s, self.history.get(s)?))
        })
    }

    pub fn detail(&self) -> Option<&Detail> {
        self.detail.as_ref().filter(|d| Some(d.seq) == self.selected)
    }

    pub fn detail_scroll(&self) -> usize {
        self.detail_scroll
    }
}
