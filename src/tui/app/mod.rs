//! The dashboard's state and [`App::update`], the one function that changes it. No I/O happens here: work that
//! touches the terminal or the disk is handed back to the main loop as an [`Effect`]. Each concern keeps its state
//! and helpers in its own file; they are called only from `update`.

mod challenges;
mod help;
mod picker;
mod rate;
mod read;
mod rejections;
pub mod routes;
mod selection;
mod view_index;

pub use challenges::CHALLENGES_KEPT;
pub use picker::{Picker, PickerKind};
pub use rejections::{RejectedEntry, REJECTED_KINDS_KEPT};
pub use selection::Detail;

use crate::cloudevent::short_type;
use crate::greenlake::Secret;
use crate::record::{EventRecord, Record};
use crate::tui::action::{Action, Effect};
use crate::tui::filter::Filter;
use crate::tui::history::{EventRow, History};
use crate::tui::sanitize::sanitize;
use challenges::Challenges;
use help::HelpScroll;
use rate::Rate;
use rejections::Rejections;
use std::path::PathBuf;
use time::{OffsetDateTime, UtcOffset};
use view_index::{Compiled, ViewIndex};

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
    /// The endpoint this dashboard is attached to, instead of running a receiver.
    pub attached: Option<String>,
    /// The NATS link the receiver publishes through, read live.
    pub nats: Option<std::sync::Arc<crate::broker::NatsStatus>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Detail,
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
    challenges: Challenges,
    rejections: Rejections,
    routes: routes::RoutesPanel,
    duplicates: u64,
    events_total: u64,
    screen_dropped: u64,
    rate: Rate,
    now: OffsetDateTime,
    table_rows: u16,
    detail_rows: u16,
    detail: Option<Detail>,
    detail_scroll: usize,
    help: HelpScroll,
    status: Option<String>,
    receiver_closed: bool,
    /// How the attached dashboard is connected; `None` over a receiver in this process.
    link: Option<crate::tui::feed::LinkState>,
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
            challenges: Challenges::default(),
            rejections: Rejections::default(),
            routes: routes::RoutesPanel::default(),
            duplicates: 0,
            events_total: 0,
            screen_dropped: 0,
            rate: Rate::default(),
            now: OffsetDateTime::UNIX_EPOCH,
            table_rows: 10,
            detail_rows: 10,
            detail: None,
            detail_scroll: 0,
            help: HelpScroll::default(),
            status: None,
            receiver_closed: false,
            link: None,
            secret_popup: None,
        }
    }

    /// Applies one action. Returns work for the main loop, if any.
    pub fn update(&mut self, action: Action) -> Option<Effect> {
        if self.secret_popup.is_some() && matches!(action, Action::DismissSecret) {
            self.secret_popup = None;
            return None;
        }
        match action {
            Action::Record(r) => self.ingest(r),
            Action::History(r) => self.ingest(r),
            Action::Link(state) => self.link = Some(state),
            Action::Frame { now, screen_dropped } => {
                self.now = now;
                self.screen_dropped = screen_dropped;
                self.rate.trim(now);
                self.refresh_detail();
            }
            Action::Viewport { table_rows, detail_rows, help_rows, help_max_scroll } => {
                self.table_rows = table_rows;
                self.detail_rows = detail_rows;
                self.help.viewport(help_rows, help_max_scroll);
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
            a @ (Action::ToggleRoutes | Action::RouteSource(_)) => self.routes.update(a),
            Action::ToggleHelp => {
                self.help.top = 0;
                self.mode = match self.mode {
                    Mode::Help => Mode::Normal,
                    _ => Mode::Help,
                }
            }
            Action::HelpUp => self.help.by(-1),
            Action::HelpDown => self.help.by(1),
            Action::HelpPageUp => self.help.by(-self.help.page()),
            Action::HelpPageDown => self.help.by(self.help.page()),
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
            Action::OpenSourcePicker => self.open_picker(PickerKind::Source),
            Action::PickerUp => self.picker_move(-1),
            Action::PickerDown => self.picker_move(1),
            Action::PickerPageUp => self.picker_move(-self.page()),
            Action::PickerPageDown => self.picker_move(self.page()),
            Action::PickerToggle => self.picker_toggle(),
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
                let json = self.history.event_json(row).to_owned();
                self.status = Some(format!(
                    "copied event {} ({} bytes) to the clipboard (OSC 52)",
                    self.history.id(row),
                    json.len()
                ));
                return Some(Effect::Copy(json));
            }
            Action::Quit => return Some(Effect::Quit),
            Action::ShowSecret(secret) => self.secret_popup = Some(secret),
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
            Record::Challenge(c) => self.challenges.add(c),
            Record::Rejected(r) => self.rejections.add(r),
        }
    }

    fn ingest_event(&mut self, e: EventRecord) {
        self.events_total += 1;
        // By when it arrived, history included: a restart shows the rate the events came at, not a burst of the
        // whole history in the minute it was read.
        self.rate.count(e.received_at);
        let pushed = self.history.push(e);
        self.index_pushed(&pushed);
        if self.follow {
            self.select_last();
        } else if self.selected.is_none_or(|s| s < self.history.base()) {
            match self.seq_at(0) {
                Some(s) => self.select(s),
                None => self.selected = None,
            }
        } else {
            self.scroll_into_view();
        }
    }
}

#[cfg(test)]
mod tests;
