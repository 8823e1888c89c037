//! The dashboard's state and [`App::update`], the one function that changes it. No I/O happens here: work that
//! touches the terminal or the disk is handed back to the main loop as an [`Effect`].

use crate::cloudevent::short_type;
use crate::greenlake::Secret;
use crate::record::{ChallengeRecord, EventRecord, Record, RejectedRecord};
use crate::tui::action::{Action, Effect};
use crate::tui::filter::{Filter, TextMatcher};
use crate::tui::history::{EventRow, History, TextHits};
use crate::tui::intern::{Interner, NONE};
use crate::tui::json;
use crate::tui::sanitize::sanitize;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use time::{OffsetDateTime, UtcOffset};

/// Challenges kept for the panel; GreenLake sends one per webhook registration or re-validation, so this is ample.
pub const CHALLENGES_KEPT: usize = 1000;
/// Distinct rejection kinds kept; floods of one kind are one entry with a count.
pub const REJECTED_KINDS_KEPT: usize = 500;
/// Minutes of event rate kept for the sparkline.
const RATE_MINUTES: usize = 120;

/// What the header shows about the receiver; fixed for the life of the dashboard.
#[derive(Debug, Clone)]
pub struct Info {
    pub listen_url: String,
    pub fingerprint: String,
    /// The certificate being served, read live (it can be reloaded); `None` for plain HTTP.
    pub cert: Option<std::sync::Arc<crate::server::certs::CertStatus>>,
    pub secret_state: String,
    pub log_path: Option<PathBuf>,
    pub export_dir: PathBuf,
    /// Offset used to show times as local time.
    pub utc_offset: UtcOffset,
    /// A line for the header, e.g. that this is the demo and keeps nothing.
    pub banner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKind {
    Type,
    User,
}

/// The type or user picker: a snapshot of the values seen, with counts, taken when it opened.
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

#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    FilterInput,
    Picker(Picker),
    Help,
}

/// Where keys go right now; the keymap has a table per context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyContext {
    Table,
    Detail,
    FilterInput,
    Picker,
    Help,
    /// The generated secret's popup: any key closes it.
    Secret,
}

/// One kind of refusal (same peer address, status, reason, method and path), with how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEntry {
    pub first: OffsetDateTime,
    pub last: OffsetDateTime,
    /// The most recent peer (`ip:port`).
    pub peer: String,
    pub status: u16,
    pub reason: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub count: u64,
}

#[derive(Debug, Default)]
struct Rejections {
    entries: Vec<RejectedEntry>,
    index: HashMap<String, usize>,
    total: u64,
}

impl Rejections {
    fn add(&mut self, r: RejectedRecord) {
        let n = r.count.unwrap_or(1).max(1);
        self.total = self.total.saturating_add(n);
        let peer = sanitize(&r.peer).into_owned();
        // Aggregate by address without the port: a flood opens many connections from one host.
        let host = match peer.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => peer.as_str(),
        };
        let reason = sanitize(&r.reason).into_owned();
        let method = r.method.as_deref().map(|m| sanitize(m).into_owned());
        let path = r.path.as_deref().map(|p| sanitize(p).into_owned());
        let key = format!(
            "{host}\0{}\0{reason}\0{}\0{}",
            r.status,
            method.as_deref().unwrap_or(""),
            path.as_deref().unwrap_or("")
        );
        if let Some(&i) = self.index.get(&key) {
            let e = &mut self.entries[i];
            e.count = e.count.saturating_add(n);
            e.last = e.last.max(r.received_at);
            e.peer = peer;
            return;
        }
        if self.entries.len() >= REJECTED_KINDS_KEPT {
            self.evict_oldest();
        }
        self.index.insert(key, self.entries.len());
        self.entries.push(RejectedEntry {
            first: r.received_at,
            last: r.received_at,
            peer,
            status: r.status,
            reason,
            method,
            path,
            count: n,
        });
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].last) else {
            return;
        };
        self.entries.swap_remove(oldest);
        self.index.retain(|_, i| *i != oldest);
        // The former last entry now lives at `oldest`.
        let moved = self.entries.len();
        for i in self.index.values_mut() {
            if *i == moved {
                *i = oldest;
            }
        }
    }
}

/// Which rows the table lists: every retained row, or the sequence numbers that pass the filter (ascending).
#[derive(Debug)]
enum ViewIndex {
    All,
    Filtered(VecDeque<u64>),
}

/// The filter prepared against the interned values, so a row is judged with table lookups plus at most two
/// substring searches (summary and id).
#[derive(Debug, Default)]
struct Compiled {
    text: TextMatcher,
    type_chosen: Vec<bool>,
    user_chosen: Vec<bool>,
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
        c
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

pub struct App {
    pub info: Info,
    history: History,
    view: ViewIndex,
    filter: Filter,
    compiled: Compiled,
    selected: Option<u64>,
    /// Sequence number of the row at the top of the table (or the first one after it, once filtered or evicted).
    top: u64,
    follow: bool,
    focus: Focus,
    mode: Mode,
    show_challenges: bool,
    show_rejected: bool,
    challenges: VecDeque<ChallengeRecord>,
    challenges_total: u64,
    rejections: Rejections,
    duplicates: u64,
    events_total: u64,
    screen_dropped: u64,
    /// (unix minute, events received in it), oldest first.
    rate: VecDeque<(i64, u64)>,
    now: OffsetDateTime,
    table_rows: u16,
    detail_rows: u16,
    detail: Option<Detail>,
    detail_scroll: usize,
    help_scroll: u16,
    status: Option<String>,
    receiver_closed: bool,
    /// The generated secret while its popup is open; taken (and dropped) when it closes, so it cannot come back.
    secret_popup: Option<Secret>,
}

impl App {
    pub fn new(info: Info, retain: usize) -> App {
        App {
            info,
            history: History::new(retain),
            view: ViewIndex::All,
            filter: Filter::default(),
            compiled: Compiled::default(),
            selected: None,
            top: 0,
            follow: true,
            focus: Focus::Table,
            mode: Mode::Normal,
            show_challenges: true,
            show_rejected: true,
            challenges: VecDeque::new(),
            challenges_total: 0,
            rejections: Rejections::default(),
            duplicates: 0,
            events_total: 0,
            screen_dropped: 0,
            rate: VecDeque::new(),
            now: OffsetDateTime::UNIX_EPOCH,
            table_rows: 10,
            detail_rows: 10,
            detail: None,
            detail_scroll: 0,
            help_scroll: 0,
            status: None,
            receiver_closed: false,
            secret_popup: None,
        }
    }

    /// Opens the popup that shows a generated secret, once, over everything else until a key is pressed.
    pub fn show_generated_secret(&mut self, secret: Secret) {
        self.secret_popup = Some(secret);
    }

    /// Applies one action. Returns work for the main loop, if any.
    pub fn update(&mut self, action: Action) -> Option<Effect> {
        if self.secret_popup.is_some() && matches!(action, Action::DismissSecret) {
            self.secret_popup = None;
            return None;
        }
        if let Mode::Help = self.mode {
            // The help can be longer than a small terminal: the moving keys scroll it.
            let delta: i32 = match action {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -self.page(),
                Action::PageDown => self.page(),
                _ => 0,
            };
            if delta != 0 {
                self.help_scroll = (i32::from(self.help_scroll) + delta).clamp(0, 200) as u16;
                return None;
            }
        }
        match action {
            Action::Record(r) => self.ingest(r),
            Action::Frame { now, screen_dropped } => {
                self.now = now;
                self.screen_dropped = screen_dropped;
                self.trim_rate();
                self.refresh_detail();
            }
            Action::Viewport { table_rows, detail_rows } => {
                self.table_rows = table_rows;
                self.detail_rows = detail_rows;
                self.scroll_into_view();
            }
            Action::ReceiverClosed => self.receiver_closed = true,
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp => self.step(-self.page()),
            Action::PageDown => self.step(self.page()),
            Action::Scroll(n) => self.move_selection(n as i64),
            Action::Top => match self.focus {
                Focus::Table => {
                    self.follow = false;
                    if let Some(s) = self.seq_at(0) {
                        self.select(s);
                    }
                }
                Focus::Detail => self.detail_scroll = 0,
            },
            Action::Bottom => match self.focus {
                // The newest event is where following keeps the selection, so going there resumes it.
                Focus::Table => {
                    self.follow = true;
                    self.select_last();
                }
                Focus::Detail => self.detail_scroll = self.detail_max_scroll(),
            },
            Action::ToggleFocus => {
                self.focus = match self.focus {
                    Focus::Table if self.selected.is_some() => Focus::Detail,
                    _ => Focus::Table,
                }
            }
            Action::FocusTable => self.focus = Focus::Table,
            Action::ToggleFollow => {
                self.follow = !self.follow;
                if self.follow {
                    self.select_last();
                }
            }
            Action::ToggleChallenges => self.show_challenges = !self.show_challenges,
            Action::ToggleRejected => self.show_rejected = !self.show_rejected,
            Action::ToggleHelp => {
                self.help_scroll = 0;
                self.mode = match self.mode {
                    Mode::Help => Mode::Normal,
                    _ => Mode::Help,
                }
            }
            Action::OpenTextFilter => self.mode = Mode::FilterInput,
            Action::FilterChar(c) => {
                if !c.is_control() {
                    self.filter.text.push(c);
                    // Appending to the text can only narrow the match, so only the rows shown need checking.
                    self.refilter(true);
                }
            }
            Action::FilterBackspace => {
                if self.filter.text.pop().is_some() {
                    self.refilter(false);
                }
            }
            Action::FilterAccept => self.mode = Mode::Normal,
            Action::FilterCancel => {
                self.mode = Mode::Normal;
                if !self.filter.text.is_empty() {
                    self.filter.text.clear();
                    self.refilter(false);
                }
            }
            Action::ClearFilters => {
                if !self.filter.is_empty() {
                    self.filter = Filter::default();
                    self.refilter(false);
                }
            }
            Action::OpenTypePicker => self.open_picker(PickerKind::Type),
            Action::OpenUserPicker => self.open_picker(PickerKind::User),
            Action::PickerUp => self.picker_move(-1),
            Action::PickerDown => self.picker_move(1),
            Action::PickerPageUp => self.picker_move(-self.page()),
            Action::PickerPageDown => self.picker_move(self.page()),
            Action::PickerToggle => {
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
            Action::PickerApply => self.picker_apply(),
            Action::PickerCancel => {
                if matches!(self.mode, Mode::Picker(_)) {
                    self.mode = Mode::Normal;
                }
            }
            Action::Export => return Some(Effect::Export),
            Action::Exported(Ok(done)) => {
                self.status = Some(format!(
                    "exported {} event{} to {} and {}",
                    done.count,
                    if done.count == 1 { "" } else { "s" },
                    sanitize(&done.csv.display().to_string()),
                    sanitize(&done.jsonl.display().to_string()),
                ))
            }
            Action::Exported(Err(e)) => self.status = Some(format!("export failed: {e}")),
            Action::Notice(text) => self.status = Some(sanitize(&text).into_owned()),
            Action::Copy => {
                let row = self.selected.and_then(|s| self.history.get(s))?;
                let json = row.event.get().to_owned();
                self.status = Some(format!(
                    "copied event {} ({} bytes) to the clipboard (OSC 52)",
                    self.history.id(row),
                    json.len()
                ));
                return Some(Effect::Copy(json));
            }
            Action::Quit => return Some(Effect::Quit),
            // Only reaches here when no popup is open: nothing to close.
            Action::DismissSecret => {}
        }
        None
    }

    fn ingest(&mut self, record: Record) {
        match record {
            Record::Event(e) if e.duplicate => {
                self.duplicates += 1;
                self.history.duplicate(&e);
            }
            Record::Event(e) => self.ingest_event(e),
            Record::Challenge(mut c) => {
                self.challenges_total += 1;
                c.peer = sanitize(&c.peer).into_owned();
                c.challenge_request = sanitize(&c.challenge_request).into_owned();
                c.reason = c.reason.map(|r| sanitize(&r).into_owned());
                c.verification = c.verification.map(|v| sanitize(&v).into_owned());
                if self.challenges.len() >= CHALLENGES_KEPT {
                    self.challenges.pop_front();
                }
                self.challenges.push_back(c);
            }
            Record::Rejected(r) => self.rejections.add(r),
        }
    }

    fn ingest_event(&mut self, e: EventRecord) {
        self.events_total += 1;
        self.count_rate(e.received_at);
        let pushed = self.history.push(e);
        if pushed.new_type || pushed.new_user {
            if let Some(row) = self.history.get(pushed.seq) {
                let (ty, user) = (row.ty, row.user);
                if pushed.new_type {
                    self.compiled.learn_type(&self.filter, &self.history.types, ty);
                }
                if pushed.new_user {
                    self.compiled.learn_user(&self.filter, &self.history.users, user);
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
        if self.follow {
            self.select_last();
        } else if self.selected.map_or(true, |s| s < self.history.base()) {
            match self.seq_at(0) {
                Some(s) => self.select(s),
                None => self.selected = None,
            }
        } else {
            self.scroll_into_view();
        }
    }

    fn count_rate(&mut self, at: OffsetDateTime) {
        let minute = at.unix_timestamp().div_euclid(60);
        match self.rate.iter_mut().rev().find(|(m, _)| *m <= minute) {
            Some((m, n)) if *m == minute => *n += 1,
            _ => {
                // Records arrive in time order, so a new minute almost always goes at the back.
                let at = self.rate.partition_point(|(m, _)| *m < minute);
                self.rate.insert(at, (minute, 1));
                while self.rate.len() > RATE_MINUTES {
                    self.rate.pop_front();
                }
            }
        }
    }

    fn trim_rate(&mut self) {
        let oldest = self.now.unix_timestamp().div_euclid(60) - RATE_MINUTES as i64;
        while self.rate.front().is_some_and(|(m, _)| *m < oldest) {
            self.rate.pop_front();
        }
    }

    fn row_matches(&self, row: &EventRow) -> bool {
        self.decided(row).unwrap_or_else(|| {
            let text = &self.compiled.text;
            text.is_match(self.history.summary(row)) || text.is_match(self.history.id(row))
        })
    }

    /// Whether `row` passes the filter, when its type and user decide it: it is not a chosen type or user, there is
    /// no text, or the text matches its type or user. `None` when only its summary or id can tell.
    fn decided(&self, row: &EventRow) -> Option<bool> {
        let c = &self.compiled;
        if !self.filter.types.is_empty() && !flag(&c.type_chosen, row.ty) {
            return Some(false);
        }
        if !self.filter.users.is_empty() && !flag(&c.user_chosen, row.user) {
            return Some(false);
        }
        (c.text.is_empty() || flag(&c.type_text, row.ty) || flag(&c.user_text, row.user)).then_some(true)
    }

    fn refilter(&mut self, narrowing: bool) {
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

    /// After the view changed under the selection: keep it if still listed, else take the nearest later row.
    fn repair_selection(&mut self) {
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

    fn page(&self) -> i32 {
        let rows = match self.focus {
            Focus::Table => self.table_rows,
            Focus::Detail => self.detail_rows,
        };
        i32::from(rows.max(2) - 1)
    }

    fn step(&mut self, delta: i32) {
        match self.focus {
            Focus::Table => self.move_selection(delta as i64),
            Focus::Detail => {
                let max = self.detail_max_scroll() as i64;
                self.detail_scroll = (self.detail_scroll as i64 + delta as i64).clamp(0, max) as usize;
            }
        }
    }

    /// Moving by hand pauses following, so the row the operator is reading stays put.
    fn move_selection(&mut self, delta: i64) {
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

    fn select(&mut self, seq: u64) {
        if self.selected != Some(seq) {
            self.selected = Some(seq);
            self.detail_scroll = 0;
        }
        self.scroll_into_view();
    }

    fn select_last(&mut self) {
        match self.view_len().checked_sub(1).and_then(|p| self.seq_at(p)) {
            Some(s) => self.select(s),
            None => self.selected = None,
        }
    }

    fn scroll_into_view(&mut self) {
        let window = self.table_window(usize::from(self.table_rows));
        if let Some(s) = self.seq_at(window.start) {
            self.top = s;
        }
    }

    fn detail_max_scroll(&self) -> usize {
        self.detail.as_ref().map_or(0, |d| d.lines.len().saturating_sub(1))
    }

    fn refresh_detail(&mut self) {
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
        let raw = row.event.get();
        let event_time = serde_json::from_str::<TimeField>(raw)
            .ok()
            .and_then(|t| t.time)
            .and_then(|t| OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok());
        self.detail = Some(Detail { seq, lines: json::pretty_lines(raw), event_time });
        self.detail_scroll = self.detail_scroll.min(self.detail_max_scroll());
    }

    fn open_picker(&mut self, kind: PickerKind) {
        let (interner, chosen) = match kind {
            PickerKind::Type => (&self.history.types, &self.filter.types),
            PickerKind::User => (&self.history.users, &self.filter.users),
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

    fn picker_move(&mut self, delta: i32) {
        if let Mode::Picker(p) = &mut self.mode {
            let max = p.rows() as i64 - 1;
            p.cursor = (p.cursor as i64 + delta as i64).clamp(0, max) as usize;
        }
    }

    fn picker_apply(&mut self) {
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
        }
        self.refilter(false);
    }

    // ---- read-only accessors for the views and the main loop ----

    pub fn key_context(&self) -> KeyContext {
        if self.secret_popup.is_some() {
            return KeyContext::Secret;
        }
        match (&self.mode, self.focus) {
            (Mode::FilterInput, _) => KeyContext::FilterInput,
            (Mode::Picker(_), _) => KeyContext::Picker,
            (Mode::Help, _) => KeyContext::Help,
            (Mode::Normal, Focus::Table) => KeyContext::Table,
            (Mode::Normal, Focus::Detail) => KeyContext::Detail,
        }
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The generated secret while its popup is open.
    pub fn secret_popup(&self) -> Option<&Secret> {
        self.secret_popup.as_ref()
    }

    pub fn focus(&self) -> Focus {
        self.focus
    }

    pub fn following(&self) -> bool {
        self.follow
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn selected(&self) -> Option<u64> {
        self.selected
    }

    pub fn selected_row(&self) -> Option<&EventRow> {
        self.selected.and_then(|s| self.history.get(s))
    }

    /// Events the table lists (those passing the filter).
    pub fn view_len(&self) -> usize {
        match &self.view {
            ViewIndex::All => self.history.len(),
            ViewIndex::Filtered(l) => l.len(),
        }
    }

    fn seq_at(&self, pos: usize) -> Option<u64> {
        match &self.view {
            ViewIndex::All => (pos < self.history.len()).then(|| self.history.base() + pos as u64),
            ViewIndex::Filtered(l) => l.get(pos).copied(),
        }
    }

    /// Position of the first listed row whose sequence number is `seq` or later.
    fn lower_bound(&self, seq: u64) -> usize {
        match &self.view {
            ViewIndex::All => {
                usize::try_from(seq.saturating_sub(self.history.base())).unwrap_or(usize::MAX).min(self.history.len())
            }
            ViewIndex::Filtered(l) => l.partition_point(|&s| s < seq),
        }
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

    /// Every listed event, oldest first, as the record it arrived in (copied: the export runs on another thread).
    pub fn export_records(&self) -> Vec<Record> {
        self.rows_in(0..self.view_len())
            .map(|(_, r)| {
                Record::Event(EventRecord {
                    received_at: r.received_at,
                    peer: self.history.peers.name(r.peer).to_owned(),
                    // The table keeps the client only; `glwatch export` reads the journal, which has the proxy.
                    via: None,
                    verified_by: r.verified_by,
                    duplicate: false,
                    event: r.event.clone(),
                })
            })
            .collect()
    }

    pub fn type_name(&self, row: &EventRow) -> &str {
        self.history.types.name(row.ty)
    }

    pub fn short_type_name(&self, row: &EventRow) -> &str {
        short_type(self.history.types.name(row.ty))
    }

    pub fn detail(&self) -> Option<&Detail> {
        self.detail.as_ref().filter(|d| Some(d.seq) == self.selected)
    }

    pub fn detail_scroll(&self) -> usize {
        self.detail_scroll
    }

    pub fn show_challenges(&self) -> bool {
        self.show_challenges
    }

    pub fn show_rejected(&self) -> bool {
        self.show_rejected
    }

    /// Challenges kept, oldest first.
    pub fn challenges(&self) -> &VecDeque<ChallengeRecord> {
        &self.challenges
    }

    pub fn challenges_total(&self) -> u64 {
        self.challenges_total
    }

    /// Kinds of refusal, most recently seen first.
    pub fn rejected_recent(&self) -> Vec<&RejectedEntry> {
        let mut v: Vec<&RejectedEntry> = self.rejections.entries.iter().collect();
        v.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| b.count.cmp(&a.count)));
        v
    }

    /// Refused requests, counting each aggregated one as many times as it stands for.
    pub fn rejected_total(&self) -> u64 {
        self.rejections.total
    }

    /// Distinct kinds of refusal kept.
    pub fn rejected_kinds(&self) -> usize {
        self.rejections.entries.len()
    }

    pub fn help_scroll(&self) -> u16 {
        self.help_scroll
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Events accepted since the dashboard started, including the replayed history.
    pub fn events_total(&self) -> u64 {
        self.events_total
    }

    pub fn screen_dropped(&self) -> u64 {
        self.screen_dropped
    }

    pub fn receiver_closed(&self) -> bool {
        self.receiver_closed
    }

    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// Events per minute for the last `minutes` minutes, oldest first, ending with the current minute.
    pub fn rate(&self, minutes: usize) -> Vec<u64> {
        let now = self.now.unix_timestamp().div_euclid(60);
        let first = now - minutes as i64 + 1;
        let mut out = vec![0; minutes];
        for &(m, n) in &self.rate {
            if (first..=now).contains(&m) {
                out[(m - first) as usize] = n;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::VerifiedBy;
    use crate::tui::history::tests::event;

    const AUDIT: &str = "com.hpe.greenlake.audit-log.v1.logs.created";
    const SUBS: &str = "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions";

    pub(crate) fn info() -> Info {
        Info {
            listen_url: "https://127.0.0.1:8443/".into(),
            fingerprint:
                "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".into(),
            cert: None,
            secret_state: "primary".into(),
            log_path: None,
            export_dir: PathBuf::from("/tmp"),
            utc_offset: UtcOffset::UTC,
            banner: None,
        }
    }

    fn app_with(n: usize) -> App {
        let mut app = App::new(info(), 100);
        app.update(Action::Viewport { table_rows: 5, detail_rows: 5 });
        for i in 0..n {
            let (ty, user) =
                if i % 3 == 2 { (SUBS, "acme") } else { (AUDIT, if i % 2 == 0 { "alice" } else { "bob" }) };
            app.update(Action::Record(Record::Event(event(
                &format!("id-{i}"),
                ty,
                Some(user),
                &format!("event number {i}"),
            ))));
        }
        app
    }

    fn shown_ids(app: &App) -> Vec<String> {
        app.rows_in(0..app.view_len()).map(|(_, r)| app.history().id(r).to_string()).collect()
    }

    fn selected_id(app: &App) -> Option<String> {
        app.selected_row().map(|r| app.history().id(r).to_string())
    }

    fn type_text(app: &mut App, s: &str) {
        app.update(Action::OpenTextFilter);
        for c in s.chars() {
            app.update(Action::FilterChar(c));
        }
    }

    #[test]
    fn following_keeps_the_newest_selected_until_moving_by_hand() {
        let mut app = app_with(3);
        assert!(app.following());
        assert_eq!(selected_id(&app).as_deref(), Some("id-2"));
        app.update(Action::Up);
        assert!(!app.following(), "moving by hand pauses following");
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
        app.update(Action::Record(Record::Event(event("id-3", AUDIT, None, "x"))));
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"), "paused: stays put");
        app.update(Action::ToggleFollow);
        assert!(app.following());
        assert_eq!(selected_id(&app).as_deref(), Some("id-3"));
        app.update(Action::Record(Record::Event(event("id-4", AUDIT, None, "x"))));
        assert_eq!(selected_id(&app).as_deref(), Some("id-4"));
        app.update(Action::Top);
        assert!(!app.following());
        assert_eq!(selected_id(&app).as_deref(), Some("id-0"));
        app.update(Action::Bottom);
        assert!(app.following(), "going to the newest resumes following");
        app.update(Action::Scroll(-2));
        assert!(!app.following());
        assert_eq!(selected_id(&app).as_deref(), Some("id-2"));
    }

    #[test]
    fn selection_and_window_stay_in_bounds() {
        let mut app = app_with(20);
        app.update(Action::Top);
        assert_eq!(app.table_window(5), 0..5);
        app.update(Action::PageDown);
        assert_eq!(selected_id(&app).as_deref(), Some("id-4"));
        app.update(Action::PageDown);
        assert_eq!(selected_id(&app).as_deref(), Some("id-8"));
        assert_eq!(app.table_window(5), 4..9);
        for _ in 0..10 {
            app.update(Action::PageDown);
        }
        assert_eq!(selected_id(&app).as_deref(), Some("id-19"));
        assert_eq!(app.table_window(5), 15..20);
        app.update(Action::Up);
        assert_eq!(app.table_window(5), 15..20, "no needless scrolling");
        for _ in 0..30 {
            app.update(Action::Up);
        }
        assert_eq!(selected_id(&app).as_deref(), Some("id-0"));
        assert_eq!(app.table_window(5), 0..5);
        assert_eq!(app.table_window(100), 0..20);
    }

    #[test]
    fn text_filter_is_live_and_esc_clears_it() {
        let mut app = app_with(12);
        type_text(&mut app, "number 1");
        assert_eq!(app.key_context(), KeyContext::FilterInput);
        assert_eq!(shown_ids(&app), ["id-1", "id-10", "id-11"]);
        app.update(Action::FilterChar('1'));
        assert_eq!(shown_ids(&app), ["id-11"]);
        app.update(Action::FilterBackspace);
        app.update(Action::FilterBackspace);
        assert_eq!(app.view_len(), 12, "\"number \" matches all");
        app.update(Action::FilterChar('1'));
        app.update(Action::FilterAccept);
        assert_eq!(app.key_context(), KeyContext::Table);
        assert_eq!(app.filter().text, "number 1");
        assert_eq!(app.view_len(), 3);
        // Text matches id, type and user too.
        app.update(Action::ClearFilters);
        type_text(&mut app, "ID-7");
        assert_eq!(shown_ids(&app), ["id-7"]);
        app.update(Action::FilterCancel);
        assert_eq!(app.view_len(), 12);
        assert!(app.filter().is_empty());
        type_text(&mut app, "expiring");
        assert_eq!(shown_ids(&app), ["id-2", "id-5", "id-8", "id-11"]);
        app.update(Action::FilterCancel);
        type_text(&mut app, "BOB");
        assert_eq!(shown_ids(&app), ["id-1", "id-3", "id-7", "id-9"]);
    }

    /// The ids a filter on `text` shows when set at once, as [`Filter::matches`] decides one event at a time.
    fn expected_ids(app: &App, text: &str) -> Vec<String> {
        let f = Filter { text: text.into(), ..Filter::default() };
        let h = app.history();
        h.iter()
            .filter(|(_, r)| {
                f.matches(&crate::cloudevent::EventFields {
                    id: h.id(r).into(),
                    source: String::new(),
                    ty: h.types.name(r.ty).into(),
                    time: None,
                    user: h.user_name(r).map(Into::into),
                    category: None,
                    summary: h.summary(r).into(),
                })
            })
            .map(|(_, r)| h.id(r).to_string())
            .collect()
    }

    #[test]
    fn text_filter_refined_and_widened_key_by_key_agrees_with_matching_each_event() {
        let mut app = App::new(info(), 1000);
        let summaries = ["User Alice logged in", "user bob LOGGED OUT", "Subscription added", "logged", "in"];
        for i in 0..300 {
            let (ty, user) =
                if i % 3 == 2 { (SUBS, "acme") } else { (AUDIT, if i % 2 == 0 { "alice" } else { "bob" }) };
            let summary = summaries[(i * 7 / 3) % summaries.len()];
            app.update(Action::Record(Record::Event(event(&format!("ev{i}-LoG"), ty, Some(user), summary))));
        }
        let query = "logged in";
        app.update(Action::OpenTextFilter);
        for (i, c) in query.char_indices() {
            app.update(Action::FilterChar(c));
            let typed = &query[..i + c.len_utf8()];
            assert_eq!(shown_ids(&app), expected_ids(&app, typed), "refined to {typed:?}");
        }
        assert!(!shown_ids(&app).is_empty());
        for end in (1..query.len()).rev() {
            app.update(Action::FilterBackspace);
            assert_eq!(shown_ids(&app), expected_ids(&app, &query[..end]), "widened to {:?}", &query[..end]);
        }
        // A needle that runs from an id into its summary, or from one event into the next, matches neither.
        app.update(Action::FilterCancel);
        type_text(&mut app, "-logUser");
        assert_eq!(shown_ids(&app), Vec::<String>::new());
        app.update(Action::FilterCancel);
        type_text(&mut app, "addedev");
        assert_eq!(shown_ids(&app), Vec::<String>::new());
    }

    #[test]
    fn new_events_join_the_filtered_view_only_when_they_match() {
        let mut app = app_with(3);
        type_text(&mut app, "alice");
        app.update(Action::FilterAccept);
        assert_eq!(shown_ids(&app), ["id-0"]);
        app.update(Action::Record(Record::Event(event("n1", AUDIT, Some("bob"), "x"))));
        app.update(Action::Record(Record::Event(event("n2", AUDIT, Some("alice"), "x"))));
        // A user never seen before the filter was set.
        app.update(Action::Record(Record::Event(event("n3", SUBS, Some("Alice Corp"), "x"))));
        assert_eq!(shown_ids(&app), ["id-0", "n2", "n3"]);
        assert_eq!(selected_id(&app).as_deref(), Some("n3"));
    }

    #[test]
    fn pickers_list_values_with_counts_and_combine_with_text() {
        let mut app = app_with(9);
        app.update(Action::OpenTypePicker);
        let Mode::Picker(p) = app.mode() else {
            panic!("picker open");
        };
        assert_eq!(p.entries, [(AUDIT.to_owned(), 6), (SUBS.to_owned(), 3)], "most frequent first");
        assert_eq!(p.cursor, 0);
        app.update(Action::PickerDown);
        app.update(Action::PickerDown);
        app.update(Action::PickerApply);
        assert_eq!(app.key_context(), KeyContext::Table);
        assert_eq!(shown_ids(&app), ["id-2", "id-5", "id-8"]);
        app.update(Action::OpenUserPicker);
        let Mode::Picker(p) = app.mode() else {
            panic!("picker open");
        };
        assert_eq!(p.entries, [("acme".into(), 3), ("alice".into(), 3), ("bob".into(), 3)]);
        app.update(Action::PickerCancel);
        assert_eq!(app.view_len(), 3, "cancel leaves the filter alone");

        // Space marks several; Enter applies the marks.
        app.update(Action::OpenTypePicker);
        if let Mode::Picker(p) = app.mode() {
            assert_eq!(p.cursor, 2, "opens on the current choice");
        }
        app.update(Action::PickerUp);
        app.update(Action::PickerToggle);
        app.update(Action::PickerApply);
        assert_eq!(app.filter().types.len(), 2);
        assert_eq!(app.view_len(), 9);
        app.update(Action::OpenUserPicker);
        app.update(Action::PickerDown);
        app.update(Action::PickerDown);
        app.update(Action::PickerApply);
        assert_eq!(app.filter().users.iter().collect::<Vec<_>>(), ["alice"]);
        assert_eq!(shown_ids(&app), ["id-0", "id-4", "id-6"]);
        type_text(&mut app, "number 6");
        assert_eq!(shown_ids(&app), ["id-6"]);
        app.update(Action::FilterAccept);
        assert_eq!(app.filter().describe(), "/number 6 type=2 chosen user=alice");
        // "all" clears that picker's choice only.
        app.update(Action::OpenUserPicker);
        for _ in 0..5 {
            app.update(Action::PickerUp);
        }
        app.update(Action::PickerApply);
        assert!(app.filter().users.is_empty());
        assert_eq!(shown_ids(&app), ["id-6"]);
        app.update(Action::ClearFilters);
        assert_eq!(app.view_len(), 9);
    }

    #[test]
    fn selection_survives_filtering_when_it_can() {
        let mut app = app_with(9);
        app.update(Action::Top);
        app.update(Action::Down);
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
        type_text(&mut app, "bob");
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
        app.update(Action::FilterCancel);
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
        type_text(&mut app, "acme");
        assert_eq!(selected_id(&app).as_deref(), Some("id-2"), "nearest later match");
        type_text(&mut app, "zzz");
        assert_eq!(app.selected(), None);
        assert_eq!(app.view_len(), 0);
        app.update(Action::Down);
        app.update(Action::ToggleFocus);
        assert_eq!(app.focus(), Focus::Table, "nothing to focus");
    }

    #[test]
    fn retain_bound_drops_oldest_and_keeps_filtered_view_consistent() {
        let mut app = App::new(info(), 4);
        type_text(&mut app, "even");
        app.update(Action::FilterAccept);
        for i in 0..10 {
            let d = if i % 2 == 0 { "even" } else { "odd" };
            app.update(Action::Record(Record::Event(event(&format!("e{i}"), AUDIT, None, d))));
        }
        assert_eq!(app.history().len(), 4);
        assert_eq!(app.history().dropped(), 6);
        assert_eq!(app.events_total(), 10);
        assert_eq!(shown_ids(&app), ["e6", "e8"]);
        app.update(Action::ClearFilters);
        assert_eq!(shown_ids(&app), ["e6", "e7", "e8", "e9"]);
        app.update(Action::Top);
        assert_eq!(selected_id(&app).as_deref(), Some("e6"));
        app.update(Action::Record(Record::Event(event("e10", AUDIT, None, "x"))));
        assert_eq!(selected_id(&app).as_deref(), Some("e7"), "selection fell off: next oldest");
    }

    #[test]
    fn duplicates_count_on_the_event_and_in_total_without_adding_rows() {
        let mut app = app_with(3);
        let mut again = event("id-1", AUDIT, Some("bob"), "event number 1");
        again.duplicate = true;
        again.verified_by = VerifiedBy::Secondary;
        app.update(Action::Record(Record::Event(again.clone())));
        app.update(Action::Record(Record::Event(again)));
        assert_eq!(app.view_len(), 3);
        assert_eq!(app.events_total(), 3);
        assert_eq!(app.duplicates(), 2);
        let row = app.rows_in(1..2).next().unwrap().1;
        assert_eq!(row.duplicates, 2);
        assert_eq!(row.verified_by, VerifiedBy::Primary, "the original is kept");
    }

    #[test]
    fn challenges_and_rejections_are_kept_and_floods_aggregated() {
        let mut app = App::new(info(), 10);
        let t = time::macros::datetime!(2024-12-20 12:00:00 UTC);
        app.update(Action::Record(Record::Challenge(ChallengeRecord {
            received_at: t,
            peer: "1.2.3.4:5".into(),
            via: None,
            challenge_request: "8cbecfea-d708-4706-bba3-669225084a10".into(),
            answered: true,
            reason: None,
            verification: Some("ab".repeat(32)),
            answer_micros: Some(42),
        })));
        assert_eq!(app.challenges_total(), 1);
        assert_eq!(app.view_len(), 0, "challenges are not events");
        for i in 0..1000u64 {
            app.update(Action::Record(Record::Rejected(RejectedRecord {
                received_at: t + time::Duration::milliseconds(i as i64),
                peer: format!("9.9.9.9:{}", 1000 + i),
                via: None,
                status: 401,
                reason: "bad signature".into(),
                method: Some("POST".into()),
                path: Some("/".into()),
                count: None,
            })));
        }
        app.update(Action::Record(Record::Rejected(RejectedRecord {
            received_at: t,
            peer: "8.8.8.8:1".into(),
            via: None,
            status: 413,
            reason: "too large".into(),
            method: None,
            path: None,
            count: Some(7),
        })));
        assert_eq!(app.rejected_total(), 1007);
        let r = app.rejected_recent();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].count, r[0].peer.as_str()), (1000, "9.9.9.9:1999"));
        assert_eq!((r[1].count, r[1].status), (7, 413));
    }

    #[test]
    fn rejection_kinds_are_bounded() {
        let mut app = App::new(info(), 10);
        let t = time::macros::datetime!(2024-12-20 12:00:00 UTC);
        for i in 0..(REJECTED_KINDS_KEPT as i64 + 10) {
            app.update(Action::Record(Record::Rejected(RejectedRecord {
                received_at: t + time::Duration::seconds(i),
                peer: format!("10.0.{}.{}:1", i / 256, i % 256),
                via: None,
                status: 400,
                reason: "malformed".into(),
                method: None,
                path: None,
                count: None,
            })));
        }
        let r = app.rejected_recent();
        assert_eq!(r.len(), REJECTED_KINDS_KEPT);
        assert_eq!(r[0].peer, "10.0.1.253:1");
        assert_eq!(r.last().unwrap().peer, "10.0.0.10:1", "oldest kinds went first");
        assert_eq!(app.rejected_total(), REJECTED_KINDS_KEPT as u64 + 10);
        // The index still points at the right entries after evictions.
        app.update(Action::Record(Record::Rejected(RejectedRecord {
            received_at: t + time::Duration::hours(1),
            peer: "10.0.0.10:2".into(),
            via: None,
            status: 400,
            reason: "malformed".into(),
            method: None,
            path: None,
            count: None,
        })));
        let r = app.rejected_recent();
        assert_eq!((r[0].peer.as_str(), r[0].count), ("10.0.0.10:2", 2));
        assert_eq!(r.len(), REJECTED_KINDS_KEPT);
    }

    #[test]
    fn detail_is_prepared_for_the_selection_and_scrolls_when_focused() {
        let mut app = app_with(2);
        let now = time::macros::datetime!(2024-12-20 12:35:00 UTC);
        app.update(Action::Frame { now, screen_dropped: 3 });
        assert_eq!(app.screen_dropped(), 3);
        let d = app.detail().unwrap();
        assert_eq!(d.lines[0], "{");
        assert!(d.lines.iter().any(|l| l.contains(r#""id": "id-1""#)));
        assert_eq!(d.event_time, Some(time::macros::datetime!(2024-12-20 12:34:53.161 UTC)));
        let n = d.lines.len();
        app.update(Action::ToggleFocus);
        assert_eq!(app.key_context(), KeyContext::Detail);
        app.update(Action::Down);
        app.update(Action::Down);
        assert_eq!(app.detail_scroll(), 2);
        assert_eq!(selected_id(&app).as_deref(), Some("id-1"), "table selection unchanged");
        app.update(Action::Bottom);
        assert_eq!(app.detail_scroll(), n - 1);
        app.update(Action::Top);
        assert_eq!(app.detail_scroll(), 0);
        app.update(Action::ToggleFocus);
        app.update(Action::Up);
        assert!(app.detail().is_none(), "stale until the next frame");
        app.update(Action::Frame { now, screen_dropped: 3 });
        assert!(app.detail().unwrap().lines.iter().any(|l| l.contains("id-0")));
    }

    #[test]
    fn copy_and_export_are_effects() {
        let mut app = app_with(2);
        let Some(Effect::Copy(json)) = app.update(Action::Copy) else {
            panic!("copy effect");
        };
        assert!(json.starts_with('{') && json.contains("\"id-1\""));
        assert!(app.status().unwrap().contains("copied event id-1"));
        assert_eq!(app.update(Action::Export), Some(Effect::Export));
        assert_eq!(app.update(Action::Quit), Some(Effect::Quit));
        assert_eq!(app.update(Action::Record(Record::Event(event("x", AUDIT, None, "y")))), None);
    }

    #[test]
    fn rate_counts_events_per_minute() {
        let mut app = App::new(info(), 10);
        let t = time::macros::datetime!(2024-12-20 12:00:10 UTC);
        for (i, secs) in [0i64, 5, 70, 75, 80, 200].into_iter().enumerate() {
            let mut e = event(&i.to_string(), AUDIT, None, "");
            e.received_at = t + time::Duration::seconds(secs);
            app.update(Action::Record(Record::Event(e)));
        }
        app.update(Action::Frame { now: t + time::Duration::seconds(200), screen_dropped: 0 });
        assert_eq!(app.rate(5), [0, 2, 3, 0, 1]);
    }
}
