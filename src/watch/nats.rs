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
    let select = options.select.from(options.start);
    let client = crate::broker::connect(&options.options).await.map_err(ReadError::from)?;
    let tailing = Tailing { client: &client, options: &options.options, select: &select };
    let start = start_at(options.start);
    let printing = async {
        if options.follow {
            tailing.follow(start, out).await
        } else {
            tailing.stored(start, out).await
        }
    };
    super::tail::until_stopped(printing, stop).await
}

fn note_history(s: &Stored) {
    if s.messages > 0 {
        eprintln!("glwatch: {}", super::attach::history_note(s.first_seq, None));
    }
}

/// A tail's connection, stream and selection.
struct Tailing<'a> {
    client: &'a async_nats::Client,
    options: &'a NatsOptions,
    select: &'a Select,
}

impl Tailing<'_> {
    /// What is stored from `start` up to the last message when the stream was first asked.
    async fn stored(&self, start: StartAt, out: &mut impl Write) -> Result<(), TailError> {
        let head = stored(self.client, self.options).await?;
        note_history(&head);
        let mut reader = Reader::open(self.client, self.options, start).await?;
        if reader.pending_at_start == 0 || head.messages == 0 {
            return Ok(());
        }
        loop {
            let read = reader.next().await?;
            if read.seq > head.last_seq {
                break;
            }
            if self.select.admits(&read.line) {
                writeln!(out, "{}", read.line).map_err(TailError::Output)?;
            }
            if read.seq >= head.last_seq || read.pending == 0 {
                break;
            }
        }
        out.flush().map_err(TailError::Output)
    }

    async fn follow(&self, start: StartAt, out: &mut impl Write) -> Result<(), TailError> {
        if let Ok(head) = stored(self.client, self.options).await {
            note_history(&head);
        }
        let mut follower = Follower::new(self.client, self.options, start);
        loop {
            match follower.next().await {
                Followed::Read(Read { line, .. }) => {
                    if self.select.admits(&line) {
                        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(TailError::Output)?;
                    }
                }
                Followed::Lost(why) => eprintln!("glwatch: {why}; retrying every {}s at most", RETRY_MAX.as_secs()),
                Followed::Back => eprintln!(
                    "glwatch: reconnected to NATS at {}, resuming after stream seq {}",
                    self.options.servers.join(","),
                    follower.last.unwrap_or(0)
                ),
            }
        }
    }
}

/// What following the stream has to say.
enum Followed {
    Read(Read),
    /// Reading stopped (the connection, or the stream); the follower keeps trying. Said once per outage.
    Lost(String),
    /// Reading again after a loss.
    Back,
}

/// Follows the stream from a start position across lost connections and failed consumers, resuming after the
/// last stream sequence it handed out, so nothing is missed or repeated.
struct Follower<'a> {
    client: &'a async_nats::Client,
    options: &'a NatsOptions,
    start: StartAt,
    reader: Option<Reader>,
    last: Option<u64>,
    up: bool,
    look: tokio::time::Interval,
    wait: Duration,
}

impl<'a> Follower<'a> {
    fn new(client: &'a async_nats::Client, options: &'a NatsOptions, start: StartAt) -> Follower<'a> {
        let look = tokio::time::interval(LOOK);
        Follower { client, options, start, reader: None, last: None, up: true, look, wait: RETRY_START }
    }

    /// `Some(Lost)` the first time in an outage.
    fn lost(&mut self, why: String) -> Option<Followed> {
        std::mem::replace(&mut self.up, false).then_some(Followed::Lost(why))
    }

    async fn next(&mut self) -> Followed {
        loop {
            let Some(reader) = &mut self.reader else {
                let start = self.last.map_or(self.start, StartAt::After);
                match Reader::open(self.client, self.options, start).await {
                    Ok(r) => {
                        self.reader = Some(r);
                        self.wait = RETRY_START;
                        if !std::mem::replace(&mut self.up, true) {
                            return Followed::Back;
                        }
                    }
                    Err(e) => {
                        let said = self.lost(e.to_string());
                        tokio::time::sleep(self.wait).await;
                        self.wait = (self.wait * 2).min(RETRY_MAX);
                        if let Some(said) = said {
                            return said;
                        }
                    }
                }
                continue;
            };
            tokio::select! {
                read = reader.next() => match read {
                    Ok(read) => {
                        self.last = Some(read.seq);
                        return Followed::Read(read);
                    }
                    Err(e) => {
                        self.reader = None;
                        if let Some(said) = self.lost(e.to_string()) {
                            return said;
                        }
                    }
                },
                _ = self.look.tick() => {
                    let up = self.client.connection_state() == State::Connected;
                    if up && !self.up {
                        self.up = true;
                        return Followed::Back;
                    }
                    if !up {
                        let why = format!("lost the connection to NATS at {}", self.options.servers.join(","));
                        if let Some(said) = self.lost(why) {
                            return said;
                        }
                    }
                }
            }
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
    // History is what the stream held when asked: up to its last message then.
    let mut loading = head.messages > 0 && retain > 0;
    if loading {
        say(Feed::Link(LinkState::Loading)).await;
        say(Feed::Notice(super::attach::history_note(head.first_seq, None))).await;
    } else {
        say(Feed::Link(LinkState::Connected)).await;
    }
    let mut follower = Follower::new(&client, options, StartAt::Last(retain as u64));
    loop {
        match follower.next().await {
            Followed::Read(Read { seq, line, pending }) => {
                let Ok(record) = Record::from_line(&line) else { continue };
                if loading && seq <= head.last_seq {
                    say(Feed::History(record)).await;
                    if seq >= head.last_seq || pending == 0 {
                        loading = false;
                        say(Feed::Link(LinkState::Connected)).await;
                    }
                } else {
                    if std::mem::take(&mut loading) {
                        say(Feed::Link(LinkState::Connected)).await;
                    }
                    say(Feed::Record(record)).await;
                }
            }
            Followed::Lost(why) => say(Feed::Link(LinkState::Reconnecting(why))).await,
            Followed::Back => say(Feed::Link(if loading { LinkState::Loading } else { LinkState::Connected })).await,
        }
    }
}
