//! `tail` and `attach` over NATS JetStream (`nats://HOST:PORT`): the stream read with an ordered consumer, each
//! record numbered with its stream sequence, the same filters and the same dashboard feed as the watch endpoint.
//! A lost connection is waited out; reading resumes after the last stream sequence seen.

use super::tail::{Select, Start, TailError};
use crate::broker::read::{stored, Read, ReadError, Reader, StartAt, Stored};
use crate::broker::NatsOptions;
use crate::feed::{Feed, LinkState};
use crate::record::Record;
use async_nats::connection::State;
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the connection's state is looked at for the reader's messages and the dashboard's header.
const LOOK: Duration = Duration::from_millis(500);
const RETRY_START: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Is `target` a NATS server (`nats://` or `tls://`)?
pub fn is_nats_target(target: &str) -> bool {
    target.starts_with("nats://") || target.starts_with("tls://")
}

/// What a NATS tail was asked to do.
pub struct NatsTail {
    /// The servers (the target first) and the stream.
    pub options: NatsOptions,
    pub start: Start,
    pub follow: bool,
    pub select: Select,
}

fn start_at(start: Start) -> StartAt {
    match start {
        Start::Beginning => StartAt::Beginning,
        Start::After(a) => StartAt::After(a),
        Start::Since(t) => StartAt::Since(t),
        Start::Last(n) => StartAt::Last(n),
    }
}

/// Prints what the stream holds (then, with follow, what comes) until done or `stop` resolves.
pub async fn tail(
    options: NatsTail,
    out: &mut impl Write,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), TailError> {
    tokio::pin!(stop);
    let mut select = options.select.clone();
    if let Start::Since(t) = options.start {
        select.filter.since = Some(t);
    }
    let client = crate::broker::connect(&options.options).await.map_err(ReadError::from)?;
    let printed = if options.follow {
        tokio::select! {
            r = follow(&client, &options.options, start_at(options.start), &select, out) => r,
            () = &mut stop => Ok(()),
        }
    } else {
        tokio::select! {
            r = stored_records(&client, &options.options, start_at(options.start), &select, out) => r,
            () = &mut stop => Ok(()),
        }
    };
    match printed {
        Err(TailError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn note_history(s: &Stored) {
    if s.messages > 0 {
        eprintln!("glwatch: {}", super::attach::history_note(s.first_seq, None));
    }
}

/// What is stored from `start` up to the last message when the stream was first asked.
async fn stored_records(
    client: &async_nats::Client,
    options: &NatsOptions,
    start: StartAt,
    select: &Select,
    out: &mut impl Write,
) -> Result<(), TailError> {
    let head = stored(client, options).await?;
    note_history(&head);
    let mut reader = Reader::open(client, options, start).await?;
    if reader.pending_at_start == 0 || head.messages == 0 {
        return Ok(());
    }
    loop {
        let read = reader.next().await?;
        if read.seq > head.last_seq {
            break;
        }
        if select.admits(&read.line) {
            writeln!(out, "{}", read.line).map_err(TailError::Output)?;
        }
        if read.seq >= head.last_seq || read.pending == 0 {
            break;
        }
    }
    out.flush().map_err(TailError::Output)
}

/// What the connection is doing, said once per change.
struct Link {
    up: bool,
}

impl Link {
    /// `Some(up)` when the state changed since the last look.
    fn changed(&mut self, client: &async_nats::Client) -> Option<bool> {
        let up = client.connection_state() == State::Connected;
        (up != self.up).then(|| {
            self.up = up;
            up
        })
    }
}

/// Opens a reader, retrying until the stream can be read (it may not exist before the first receiver starts).
async fn open_retrying(
    client: &async_nats::Client,
    options: &NatsOptions,
    start: StartAt,
    mut failed: impl FnMut(&ReadError),
) -> Reader {
    let mut wait = RETRY_START;
    loop {
        match Reader::open(client, options, start).await {
            Ok(r) => return r,
            Err(e) => {
                failed(&e);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn follow(
    client: &async_nats::Client,
    options: &NatsOptions,
    start: StartAt,
    select: &Select,
    out: &mut impl Write,
) -> Result<(), TailError> {
    let target = options.servers.join(",");
    if let Ok(head) = stored(client, options).await {
        note_history(&head);
    }
    let mut said = false;
    let say = |e: &ReadError, said: &mut bool| {
        if !*said {
            eprintln!("glwatch: {e}; retrying every {}s at most", RETRY_MAX.as_secs());
            *said = true;
        }
    };
    let mut reader = open_retrying(client, options, start, |e| say(e, &mut said)).await;
    let mut last: Option<u64> = None;
    let mut link = Link { up: true };
    let mut look = tokio::time::interval(LOOK);
    loop {
        tokio::select! {
            read = reader.next() => match read {
                Ok(Read { seq, line, .. }) => {
                    last = Some(seq);
                    if select.admits(&line) {
                        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(TailError::Output)?;
                    }
                }
                Err(e) => {
                    let resume = last.map_or(start, StartAt::After);
                    let mut said = false;
                    say(&e, &mut said);
                    reader = open_retrying(client, options, resume, |e| say(e, &mut said)).await;
                }
            },
            _ = look.tick() => match link.changed(client) {
                Some(false) => eprintln!("glwatch: lost the connection to NATS at {target}; reconnecting"),
                Some(true) => eprintln!(
                    "glwatch: reconnected to NATS at {target}, resuming after stream seq {}",
                    last.unwrap_or(0)
                ),
                None => {}
            },
        }
    }
}

/// Feeds an attached dashboard from the stream until it drops its receiver: the last `retain` records as
/// history, then live ones, with the connection's state for the header.
pub async fn feed(options: NatsOptions, retain: usize, tx: mpsc::Sender<Feed>) {
    tokio::select! {
        () = run_feed(&options, retain, &tx) => {}
        () = tx.closed() => {}
    }
}

async fn run_feed(options: &NatsOptions, retain: usize, tx: &mpsc::Sender<Feed>) {
    let say = |item: Feed| async move {
        let _ = tx.send(item).await;
    };
    say(Feed::Link(LinkState::Connecting)).await;
    let client = match crate::broker::connect(options).await {
        Ok(c) => c,
        Err(e) => return say(Feed::Link(LinkState::Failed(e.to_string()))).await,
    };
    let mut wait = RETRY_START;
    let head = loop {
        match stored(&client, options).await {
            Ok(h) => break h,
            Err(e) => {
                say(Feed::Link(LinkState::Reconnecting(e.to_string()))).await;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    };
    say(Feed::Link(LinkState::Loading)).await;
    if head.messages > 0 {
        say(Feed::Notice(super::attach::history_note(head.first_seq, None))).await;
    }
    let tx_err = tx.clone();
    let mut reader = open_retrying(&client, options, StartAt::Last(retain as u64), |e| {
        let _ = tx_err.try_send(Feed::Link(LinkState::Reconnecting(e.to_string())));
    })
    .await;
    let mut loading = reader.pending_at_start > 0 && head.messages > 0;
    if !loading {
        say(Feed::Link(LinkState::Connected)).await;
    }
    let mut last: Option<u64> = None;
    let mut link = Link { up: true };
    let mut look = tokio::time::interval(LOOK);
    loop {
        tokio::select! {
            read = reader.next() => match read {
                Ok(Read { seq, line, pending }) => {
                    last = Some(seq);
                    let Ok(record) = Record::from_line(&line) else { continue };
                    if loading && seq <= head.last_seq {
                        say(Feed::History(record)).await;
                        if seq >= head.last_seq || pending == 0 {
                            loading = false;
                            say(Feed::Link(LinkState::Connected)).await;
                        }
                    } else {
                        if loading {
                            loading = false;
                            say(Feed::Link(LinkState::Connected)).await;
                        }
                        say(Feed::Record(record)).await;
                    }
                }
                Err(e) => {
                    say(Feed::Link(LinkState::Reconnecting(e.to_string()))).await;
                    let resume = last.map_or(StartAt::Last(retain as u64), StartAt::After);
                    let tx_err = tx.clone();
                    reader = open_retrying(&client, options, resume, |e| {
                        let _ = tx_err.try_send(Feed::Link(LinkState::Reconnecting(e.to_string())));
                    })
                    .await;
                    if !loading {
                        say(Feed::Link(LinkState::Connected)).await;
                    }
                }
            },
            _ = look.tick() => match link.changed(&client) {
                Some(false) => say(Feed::Link(LinkState::Reconnecting("NATS disconnected".into()))).await,
                Some(true) if !loading => say(Feed::Link(LinkState::Connected)).await,
                _ => {}
            },
        }
    }
}
