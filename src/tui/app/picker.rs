//! The type, user and source pickers: a snapshot of the values seen with their counts, a cursor, marks, and applying the
//! choice to the filter.

use super::{App, Mode};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKind {
    Type,
    User,
    /// The configured sources (`--sources`).
    Source,
}

/// The type, user or source picker: a snapshot of the values seen, with counts, taken when it opened.
#[derive(Debug, Clone)]
pub struct Picker {
    pub kind: PickerKind,
    /// (value, events retained with it), most frequent first. Row 0 of the list is "all", so entry `i` is row
    /// `i + 1`.
    pub entries: Vec<(String, u64)>,
    pub cursor: usize,
    pub marked: BTreeSet<String>,
    /// Whether Space was used: then Enter applies the marks, otherwise the highlighted row alone.
    touched: bool,
}

impl Picker {
    pub fn rows(&self) -> usize {
        self.entries.len() + 1
    }
}

impl App {
    pub(super) fn open_picker(&mut self, kind: PickerKind) {
        let (interner, chosen) = match kind {
            PickerKind::Type => (&self.history.types, &self.filter.types),
            PickerKind::User => (&self.history.users, &self.filter.users),
            PickerKind::Source => (&self.history.sources, &self.filter.sources),
        };
        let mut entries: Vec<(String, u64)> = interner.iter().map(|(_, n, c)| (n.to_owned(), c)).collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        // Start on the current choice when there is exactly one, else on "all".
        let cursor = match chosen.len() {
            1 => entries.iter().position(|(n, _)| chosen.contains(n)).map_or(0, |i| i + 1),
            _ => 0,
        };
        self.mode = Mode::Picker(Picker { kind, entries, cursor, marked: chosen.clone(), touched: false });
    }

    pub(super) fn picker_move(&mut self, delta: i32) {
        if let Mode::Picker(p) = &mut self.mode {
            let max = p.rows() as i64 - 1;
            p.cursor = (p.cursor as i64 + delta as i64).clamp(0, max) as usize;
        }
    }

    pub(super) fn picker_apply(&mut self) {
        let Mode::Picker(p) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return;
        };
        let chosen: BTreeSet<String> = if p.touched {
            p.marked
        } else if p.cursor == 0 {
            BTreeSet::new()
        } else {
            p.entries.get(p.cursor - 1).map(|(n, _)| n.clone()).into_iter().collect()
        };
        match p.kind {
            PickerKind::Type => self.filter.types = chosen,
            PickerKind::User => self.filter.users = chosen,
            PickerKind::Source => self.filter.sources = chosen,
        }
        self.refilter(false);
    }

    pub(super) fn picker_toggle(&mut self) {
        if let Mode::Picker(p) = &mut self.mode {
            p.touched = true;
            if p.cursor == 0 {
                p.marked.clear();
            } else if let Some((v, _)) = p.entries.get(p.cursor - 1) {
                if !p.marked.remove(v) {
                    p.marked.insert(v.clone());
                }
            }
        }
    }
}
