//! Feeding a dashboard from a watch endpoint (`glwatch attach`): the last stored records as history, then the live
//! stream after the last seq, across reconnects, into the same bounded channel the in-process receiver feeds.
//! This task is the only part that waits on the network; the dashboard only drains the channel.

use super::client::{ClientError, Followed, Follower, Message, WatchClient};
use super::routes::MAX_LIMIT;
use crate::record::Record;
use crate::tui::{Feed, LinkState};
use std::time::Duration;
use tokio::sync::mpsc;

/// Waits between failed attempts to read the history: doubled up to the longest.
const RETRY_START: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Feeds `tx` until the dashboard drops its receiver (or the endpoint refuses for good). `retain`: records of
/// history to load first. Quitting never sends anything to the receiver: the connections simply close.
pub async fn feed(client: WatchClient, retain: usize, tx: mpsc::Sender<Feed>) {
    tokio::select! {
        () = run(&client, retain, &tx) => {}
        () = tx.closed() => {}
    }
}

async fn run(client: &WatchClient, retain: usize, tx: &mpsc::Sender<Feed>) {
    let say = |item: Feed| async move {
        let _ = tx.send(item).await;
    };
    say(Feed::Link(LinkState::Connecting)).await;
    let mut wait = RETRY_START;
    let last = loop {
        match history(client, retain, tx).await {
            Ok(last) => break last,
            Err(e) if e.is_permanent() => return say(Feed::Link(LinkState::Failed(e.to_string()))).await,
            Err(e) => {
                say(Feed::Link(LinkState::Reconnecting(e.to_string()))).await;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    };
    say(Feed::Link(LinkState::Connected)).await;
    let mut follower = Follower::new(client.clone(), Some(last));
    let mut connected = true;
    loop {
        match follower.next().await {
            Ok(Followed::Message(Message::Record { line, .. })) => {
                if !connected {
                    connected = true;
                    say(Feed::Link(LinkState::Connected)).await;
                }
                if let Ok(record) = Record::from_line(&line) {
                    say(Feed::Record(record)).await;
                }
            }
            Ok(Followed::Message(Message::Gap(n))) => {
                say(Feed::Notice(format!("{n} records were missed and cannot be read back (no journal)"))).await
            }
            Ok(Followed::Disconnected { error, .. }) => {
                // The first failure after records flowed is shown at once; the follower waits before retrying.
                let why = error.map(|e| e.to_string()).unwrap_or_default();
                connected = false;
                say(Feed::Link(LinkState::Reconnecting(why))).await;
            }
            Err(e) => return say(Feed::Link(LinkState::Failed(e.to_string()))).await,
        }
    }
}

/// Sends the last `retain` stored records as history and says where stored history begins; returns the seq the
/// stream goes on after.
async fn history(client: &WatchClient, retain: usize, tx: &mpsc::Sender<Feed>) -> Result<u64, ClientError> {
    let head = client.records(0, 0).await?;
    let _ = tx.send(Feed::Link(LinkState::Loading)).await;
    let end = head.last_seq;
    let mut after = end.saturating_sub(retain as u64).max(head.first_seq.saturating_sub(1));
    if let Some(note) = begins(client, head.first_seq, end).await? {
        let _ = tx.send(Feed::Notice(note)).await;
    }
    while after < end {
        let page = client.records(after, MAX_LIMIT).await?;
        let Some((last, _)) = page.records.last() else { break };
        after = *last;
        for (seq, line) in page.records {
            if seq > end {
                after = end;
                break;
            }
            if let Ok(record) = Record::from_line(&line) {
                if tx.send(Feed::History(record)).await.is_err() {
                    return Ok(end);
                }
            }
        }
    }
    Ok(end)
}

/// "history begins at seq N (time)", read from the first stored record; `None` when nothing is stored.
pub async fn begins(client: &WatchClient, first: u64, last: u64) -> Result<Option<String>, ClientError> {
    if first == 0 || first > last {
        return Ok(None);
    }
    let page = client.records(first - 1, 1).await?;
    let when = page.records.first().and_then(|(_, line)| Record::from_line(line).ok()).map(|r| r.received_at());
    Ok(Some(history_note(first, when)))
}

/// The one wording of where stored history begins, for tail, attach and export.
pub fn history_note(first: u64, when: Option<time::OffsetDateTime>) -> String {
    let when = when
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    format!("history begins at seq {first}{when}")
}
