//! Everything that can change the dashboard's state: keys (through the keymap), records, time and the terminal's
//! size all arrive as an [`Action`], and [`crate::tui::app::App::update`] is the only place that applies them.

use crate::export::ExportFiles;
use crate::greenlake::Secret;
use crate::record::Record;
use time::OffsetDateTime;

/// Why an export started from the dashboard failed; the status line shows the text.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailed {
    #[error("{0}")]
    Write(std::io::Error),
    /// The blocking task writing the files did not finish (it panicked or the runtime stopped).
    #[error("{0}")]
    Stopped(tokio::task::JoinError),
}

#[derive(Debug)]
pub enum Action {
    /// A record as it was committed.
    Record(Record),
    /// A record stored before the dashboard opened (the journal's or the attached endpoint's history).
    History(Record),
    /// The connection to the attached endpoint changed.
    Link(crate::tui::feed::LinkState),
    /// Once per frame, before drawing: the wall clock for the rate sparkline, and the receiver's count of records
    /// it could not queue to the screen.
    Frame {
        now: OffsetDateTime,
        screen_dropped: u64,
    },
    /// Rows available to the table and the detail pane in the current layout (paging moves by these).
    Viewport {
        table_rows: u16,
        detail_rows: u16,
        /// Lines the help overlay shows at once, and the scroll that brings its last line to the bottom.
        help_rows: u16,
        help_max_scroll: u16,
    },
    /// The record channel closed: the receiver has stopped.
    ReceiverClosed,

    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Mouse wheel over the table: positive is towards newer events.
    Scroll(i32),
    ToggleFocus,
    FocusTable,
    ToggleFollow,
    ToggleChallenges,
    ToggleRejected,
    ToggleHelp,

    HelpUp,
    HelpDown,
    HelpPageUp,
    HelpPageDown,

    OpenTextFilter,
    FilterChar(char),
    FilterBackspace,
    /// Keep the typed text as the filter and leave the input line.
    FilterAccept,
    /// Drop the typed text and leave the input line.
    FilterCancel,
    ClearFilters,

    OpenTypePicker,
    OpenUserPicker,
    OpenSourcePicker,
    PickerUp,
    PickerDown,
    PickerPageUp,
    PickerPageDown,
    PickerToggle,
    PickerApply,
    PickerCancel,

    Export,
    /// The outcome of an export the main loop carried out.
    Exported(Result<ExportFiles, ExportFailed>),
    /// A message for the status line from work the main loop did (an export starting, a copy that failed).
    Notice(String),
    Copy,
    Quit,
    /// Open the popup that shows a secret generated for this run, over everything else until a key is pressed.
    ShowSecret(Secret),
    /// Close the generated secret's popup; it is never shown again.
    DismissSecret,
}

/// Work `update` asks the main loop to do, because it touches the terminal or the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Write the filtered view to the export directory, then report with [`Action::Exported`].
    Export,
    /// Put this text on the clipboard with OSC 52.
    Copy(String),
}
