//! What the dashboard's one bounded channel carries, wherever records come from (the receiver in this process or
//! a watch endpoint it is attached to): live records, stored history, and the state of the link it comes over.

use crate::record::Record;

/// One item on the dashboard's channel.
#[derive(Debug)]
pub enum Feed {
    /// A record as it was committed.
    Record(Record),
    /// A record stored before the dashboard opened. Shown like any other, and counted in the rate by when it
    /// arrived (its `received_at`), never by when it was read.
    History(Record),
    /// The state of the connection to the endpoint the dashboard is attached to.
    Link(LinkState),
    /// A line for the status bar (where stored history begins, records that cannot be read back).
    Notice(String),
}

impl From<Record> for Feed {
    fn from(r: Record) -> Feed {
        Feed::Record(r)
    }
}

/// How an attached dashboard is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    /// Reading the stored records the dashboard starts with.
    Loading,
    Connected,
    /// The endpoint went away; trying again.
    Reconnecting(String),
    /// Trying again cannot help (a refused token, say); nothing more will come.
    Failed(String),
}

impl LinkState {
    pub fn label(&self) -> String {
        match self {
            LinkState::Connecting => "connecting…".into(),
            LinkState::Loading => "loading history…".into(),
            LinkState::Connected => "connected".into(),
            LinkState::Reconnecting(why) if why.is_empty() => "reconnecting…".into(),
            LinkState::Reconnecting(why) => format!("reconnecting… ({why})"),
            LinkState::Failed(why) => format!("failed: {why}"),
        }
    }
}
