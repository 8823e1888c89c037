//! `glwatch tail`: a running glwatch's records as NDJSON on stdout, exactly as journaled (with seq); what is stored,
//! then, with follow, what comes, across receiver restarts.

use super::client::{ClientError, Followed, Message, WatchClient};
use crate::filter::Filter;
use crate::record::Record;
use std::io::Write;
use time::OffsetDateTime;

/// Records asked for per page while printing what is stored.
const PAGE: usize = 10_000;

/// Where printing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Everything stored.
    Beginning,
    /// After this seq.
    After(u64),
    /// Records received at or after this time (the whole journal is read and filtered).
    Since(OffsetDateTime),
    /// The last N records stored (before the other filters).
    Last(u64),
}

/// Which records are printed: the shared [`Filter`] (type, user, time, text; see [`crate::filter`]) and the kinds
/// of record. The event parts (type, user, text) select events, so with any of them challenges and refusals are
/// left out.
#[derive(Debug, Clone, Default)]
pub struct Select {
    pub filter: Filter,
    /// `event`, `challenge`, `rejected`; empty means every kind.
    pub kinds: Vec<String>,
}

impl Select {
    /// This selection, bounded in time as `--since` asks.
    pub fn from(&self, start: Start) -> Select {
        let mut select = self.clone();
        if let Start::Since(t) = start {
            select.filter.since = Some(t);
        }
        select
    }

    pub fn admits(&self, line: &str) -> bool {
        if self.kinds.is_empty() && self.filter.is_empty() {
            return true;
        }
        let Ok(record) = Record::from_line(line) else { return false };
        let kind = match &record {
            Record::Event(_) => "event",
            Record::Challenge(_) => "challenge",
            Record::Rejected(_) => "rejected",
        };
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == kind) {
            return false;
        }
        match &record {
            // `of`, not the event alone: a GitHub or Stripe record keeps its type and id in its attributes, and its
            // source name beside the event.
            Record::Event(e) => self.filter.admits(record.received_at(), &crate::cloudevent::EventFields::of(e)),
            _ => {
                let event_parts = Filter { since: None, until: None, ..self.filter.clone() };
                event_parts.is_empty() && self.filter.admits_time(record.received_at())
            }
        }
    }
}

/// What `glwatch tail` was asked to do.
pub struct TailOptions {
    pub client: WatchClient,
    pub start: Start,
    pub follow: bool,
    pub select: Select,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Nats(#[from] crate::broker::read::ReadError),
    #[error("stdout: {0}")]
    Output(std::io::Error),
}

/// Prints until done (without follow) or until `stop` resolves. A closed stdout (`| head`) ends it quietly.
pub async fn run(
    options: TailOptions,
    out: &mut impl Write,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), TailError> {
    let select = options.select.from(options.start);
    // Said when it can be learned; a follower started before its receiver waits for it below instead.
    let head = options.client.records(0, 0).await;
    if let Ok(h) = &head {
        if let Ok(Some(note)) = super::attach::begins(&options.client, h.first_seq, h.last_seq).await {
            eprintln!("glwatch: {note}");
        }
    }
    let after = match options.start {
        Start::After(a) => a,
        Start::Beginning | Start::Since(_) => 0,
        Start::Last(n) => head?.last_seq.saturating_sub(n),
    };
    let printing = async {
        if options.follow {
            follow(&options.client, after, &select, out).await
        } else {
            stored(&options.client, after, &select, out).await
        }
    };
    until_stopped(printing, stop).await
}

/// Runs `printing` until it ends or `stop` resolves; a closed stdout (`| head`) ends it quietly.
pub async fn until_stopped(
    printing: impl std::future::Future<Output = Result<(), TailError>>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), TailError> {
    let printed = tokio::select! {
        r = printing => r,
        () = stop => Ok(()),
    };
    match printed {
        Err(TailError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// What is stored after `after`, up to the last record numbered when the first page was read.
async fn stored(client: &WatchClient, mut after: u64, select: &Select, out: &mut impl Write) -> Result<(), TailError> {
    let mut end = None;
    loop {
        let page = client.records(after, PAGE).await?;
        let end = *end.get_or_insert(page.last_seq);
        for (seq, line) in page.records.iter().filter(|(seq, _)| *seq <= end) {
            after = *seq;
            if select.admits(line) {
                writeln!(out, "{line}").map_err(TailError::Output)?;
            }
        }
        out.flush().map_err(TailError::Output)?;
        if page.records.is_empty() || after >= end {
            return Ok(());
        }
    }
}

async fn follow(client: &WatchClient, after: u64, select: &Select, out: &mut impl Write) -> Result<(), TailError> {
    let mut follower = super::client::Follower::new(client.clone(), Some(after));
    let mut connected = true;
    loop {
        // Written out as they come and flushed once what has arrived is drained, not once per record: a burst of
        // records costs one write, and nothing waits in the buffer while the stream is idle.
        let next = match follower.next_buffered() {
            Some(next) => next,
            None => {
                out.flush().map_err(TailError::Output)?;
                follower.next().await?
            }
        };
        match next {
            Followed::Message(Message::Record { line, .. }) => {
                if !connected {
                    eprintln!(
                        "glwatch: reconnected to {}, resuming after seq {}",
                        client.target(),
                        follower.last().unwrap_or(0)
                    );
                    connected = true;
                }
                if select.admits(&line) {
                    writeln!(out, "{line}").map_err(TailError::Output)?;
                }
            }
            Followed::Message(Message::Gap(n)) => {
                out.flush().map_err(TailError::Output)?;
                eprintln!("glwatch: {n} records were missed and cannot be read back (the receiver keeps no journal)");
            }
            Followed::Disconnected { error, retry_in } => {
                if connected {
                    match error {
                        Some(e) => eprintln!("glwatch: {e}; retrying every {}s at most", retry_in.as_secs().max(5)),
                        None => eprintln!("glwatch: {} closed the stream; reconnecting", client.target()),
                    }
                    connected = false;
                }
            }
        }
    }
}
