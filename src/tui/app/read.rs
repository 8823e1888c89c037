//! What the view and the binary read of the dashboard's state: plain accessors, kept apart from `update`.

use super::*;

impl App {
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

    pub fn type_name(&self, row: &EventRow) -> &str {
        self.history.types.name(row.ty)
    }

    pub fn short_type_name(&self, row: &EventRow) -> &str {
        short_type(self.history.types.name(row.ty))
    }

    pub fn show_challenges(&self) -> bool {
        self.show_challenges
    }

    pub fn show_rejected(&self) -> bool {
        self.show_rejected
    }

    pub fn help_scroll(&self) -> u16 {
        self.help.top
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

    /// How the attached dashboard is connected.
    pub fn link(&self) -> Option<&crate::tui::feed::LinkState> {
        self.link.as_ref()
    }

    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// Events per minute for the last `minutes` minutes, oldest first, ending with the current minute.
    pub fn rate(&self, minutes: usize) -> Vec<u64> {
        self.rate.last(self.now, minutes)
    }
}
