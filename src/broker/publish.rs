//! Publishing accepted events into JetStream for the committer thread, waiting for every ack, and the link's state
//! as the banner, the dashboard header, /healthz and /metrics show it.

use super::stream::{self, StreamState};
use super::{BrokerError, NatsOptions};
use crate::pipeline::{Outgoing, Publisher};
use crate::record::{EventRecord, Record};
use async_nats::connection::State;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Publishes sent before their acks are awaited; below the context's 5,000 acks in flight, so a large group never
/// waits on itself.
const ACK_CHUNK: usize = 1024;
/// How often the stream is looked for again while NATS was unreachable at start.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Pause before events not yet acknowledged are sent again.
const RESEND_PAUSE: Duration = Duration::from_millis(100);
/// Longest wait for a challenge or refusal to be handed to the client; they are not acknowledged.
const NOTE_WAIT: Duration = Duration::from_millis(100);

/// The link to NATS as everyone who shows it reads it. Counters only grow.
pub struct NatsStatus {
    client: async_nats::Client,
    /// The seed list, as given.
    pub servers: String,
    pub stream: String,
    pub replicas: usize,
    stream_ready: AtomicBool,
    published: AtomicU64,
    duplicates: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for NatsStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStatus").field("servers", &self.servers).field("stream", &self.stream).finish()
    }
}

impl NatsStatus {
    /// The state of `client`, connected with `options`; the stream is not known to be there yet.
    pub fn new(client: async_nats::Client, options: &NatsOptions) -> NatsStatus {
        NatsStatus {
            client,
            servers: options.servers.join(","),
            stream: options.stream.clone(),
            replicas: options.replicas,
            stream_ready: AtomicBool::new(false),
            published: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// The stream was created or found as asked.
    pub fn stream_ready(&self) -> bool {
        self.stream_ready.load(Ordering::Relaxed)
    }

    /// Deliveries can be acknowledged now.
    pub fn ready(&self) -> bool {
        self.connected() && self.stream_ready()
    }

    /// Events the stream took (not counting re-deliveries it already held).
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Events the stream already held, sent by another receiver or before a 503.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Groups of deliveries answered 503 because the stream did not acknowledge them.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One or two words: `connected`, `disconnected`, `stream not checked`.
    pub fn state(&self) -> &'static str {
        match (self.connected(), self.stream_ready()) {
            (true, true) => "connected",
            (false, _) => "disconnected",
            (true, false) => "stream not checked",
        }
    }

    fn failed(&self, error: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
}

/// Publishes from the committer thread, which blocks on the runtime for each group's acks.
pub struct NatsPublisher {
    js: jetstream::Context,
    client: async_nats::Client,
    runtime: tokio::runtime::Handle,
    status: Arc<NatsStatus>,
    prefix: String,
    timeout: Duration,
    /// The last group failed: the next success is logged, further failures are not.
    failing: bool,
    /// When a group first found the link down.
    down_since: Option<Instant>,
}

/// What [`start`] set up.
pub struct Started {
    pub publisher: NatsPublisher,
    pub status: Arc<NatsStatus>,
    /// For the banner: what was found of the stream, or that NATS is not reachable yet.
    pub notice: String,
}

/// Connects, then creates or checks the stream within `--nats-timeout`. A stream that differs, or a bad flag, is
/// an error; NATS that cannot be reached yet is not: the receiver starts answering 503 and the stream is looked
/// for again every second until it is reachable. Must be called on the runtime.
pub async fn start(options: &NatsOptions) -> Result<Started, BrokerError> {
    stream::validate(options)?;
    let client = super::connect(options).await?;
    let js = jetstream::ContextBuilder::new().timeout(options.timeout).build(client.clone());
    // An ack lost in a reconnect or a leader election is waited for a fraction of the timeout, then the event is
    // sent again (same message id) within it.
    let publishing = jetstream::ContextBuilder::new().timeout(ack_wait(options.timeout)).build(client.clone());
    let status = Arc::new(NatsStatus::new(client.clone(), options));
    let described = format!(
        "stream {} (file, {} replica(s), duplicate window {})",
        options.stream,
        options.replicas,
        humantime::format_duration(options.duplicate_window)
    );
    let notice = match tokio::time::timeout(options.timeout, stream::ensure(&js, options)).await {
        Ok(Ok(state)) => {
            status.stream_ready.store(true, Ordering::Relaxed);
            let done = if state == StreamState::Created { "created" } else { "checked" };
            format!("NATS {}: {described} {done}", status.servers)
        }
        Ok(Err(e @ (BrokerError::StreamDiffers { .. } | BrokerError::Invalid(_)))) => return Err(e),
        // Whichever timer fired first, a link that never came up is said as such.
        Ok(Err(e)) if status.connected() => {
            tokio::spawn(ensure_later(js.clone(), options.clone(), status.clone()));
            format!("NATS {}: {e}; answering 503 until the {described} is there", status.servers)
        }
        _ => {
            tokio::spawn(ensure_later(js.clone(), options.clone(), status.clone()));
            format!("NATS {} not reachable yet; answering 503 until it is and the {described} is there", status.servers)
        }
    };
    let publisher = NatsPublisher {
        js: publishing,
        client,
        runtime: tokio::runtime::Handle::current(),
        status: status.clone(),
        prefix: options.subject.clone(),
        timeout: options.timeout,
        failing: false,
        down_since: None,
    };
    Ok(Started { publisher, status, notice })
}

fn ack_wait(timeout: Duration) -> Duration {
    (timeout / 4).max(Duration::from_millis(200)).min(timeout)
}

/// Looks for (or creates) the stream until it is there as asked; a difference is logged each minute.
async fn ensure_later(js: jetstream::Context, options: NatsOptions, status: Arc<NatsStatus>) {
    let mut said = None::<std::time::Instant>;
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        if !status.connected() {
            continue;
        }
        match tokio::time::timeout(options.timeout, stream::ensure(&js, &options)).await {
            Ok(Ok(state)) => {
                status.stream_ready.store(true, Ordering::Relaxed);
                tracing::info!("NATS stream {} {state:?}; deliveries are acknowledged again", options.stream);
                return;
            }
            Ok(Err(e)) if said.map_or(true, |t| t.elapsed() > Duration::from_secs(60)) => {
                tracing::error!("{e}; answering 503 until this is fixed");
                said = Some(std::time::Instant::now());
            }
            _ => {}
        }
    }
}

impl NatsPublisher {
    /// Publishes until every event is acknowledged or `deadline` passes. Events not acknowledged are sent again
    /// with the same message id (a leader election, a reconnect to another node): the stream keeps one copy.
    /// `last` keeps the latest error, for the answer when the deadline passes first.
    async fn publish_all(&self, events: &[Outgoing<'_>], last: &mut String) -> Vec<bool> {
        let mut held: Vec<Option<bool>> = vec![None; events.len()];
        let mut sent_before = vec![false; events.len()];
        loop {
            let todo: Vec<usize> = (0..events.len()).filter(|i| held[*i].is_none()).collect();
            if todo.is_empty() {
                return held.into_iter().map(Option::unwrap_or_default).collect();
            }
            for chunk in todo.chunks(ACK_CHUNK) {
                let mut acks = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    let event = &events[i];
                    let subject = stream::event_subject(&self.prefix, &event_type(event.record));
                    let message = PublishMessage::build()
                        .message_id(stream::message_id(event.source, event.id))
                        .payload(Bytes::copy_from_slice(event.line));
                    match self.js.send_publish(subject, message).await {
                        Ok(ack) => acks.push((i, ack)),
                        Err(e) => *last = e.to_string(),
                    }
                }
                for (i, ack) in acks {
                    match ack.await {
                        // After a lost ack, "already held" most likely means our own earlier copy: it counts as
                        // accepted here. The stream holds one copy either way.
                        Ok(ack) => held[i] = Some(ack.duplicate && !sent_before[i]),
                        Err(e) => *last = e.to_string(),
                    }
                }
            }
            for &i in &todo {
                sent_before[i] = true;
            }
            tokio::time::sleep(RESEND_PAUSE).await;
        }
    }

    fn refuse(&mut self, error: String) -> Result<Vec<bool>, String> {
        if !self.failing {
            tracing::warn!("NATS did not take deliveries, answering 503 so they are retried: {error}");
            self.failing = true;
        }
        self.status.failed(error.clone());
        Err(error)
    }
}

impl Publisher for NatsPublisher {
    fn publish(&mut self, events: &[Outgoing<'_>]) -> Result<Vec<bool>, String> {
        // A short drop (a node restarting, a reconnect to another one) is ridden out within the timeout; once the
        // link has been down longer than that, answer at once rather than make every group wait it out.
        if self.status.connected() {
            self.down_since = None;
        } else if self.down_since.get_or_insert_with(Instant::now).elapsed() >= self.timeout {
            return self.refuse("not connected".into());
        }
        if !self.status.stream_ready() {
            return self.refuse(format!("stream {} not created or checked yet", self.status.stream));
        }
        let timeout = self.timeout;
        let runtime = self.runtime.clone();
        let mut last = String::from("no answer");
        let result = runtime.block_on(async {
            // The timer is made inside block_on: this thread is not one of the runtime's.
            tokio::time::timeout(timeout, self.publish_all(events, &mut last)).await
        });
        match result {
            Ok(held) => {
                let duplicates = held.iter().filter(|d| **d).count() as u64;
                self.status.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                self.status.published.fetch_add(held.len() as u64 - duplicates, Ordering::Relaxed);
                if self.failing {
                    tracing::info!("NATS takes deliveries again");
                    self.failing = false;
                }
                Ok(held)
            }
            Err(_) => self.refuse(format!("no ack within {} ({last})", humantime::format_duration(timeout))),
        }
    }

    fn note(&mut self, record: &Record, line: &[u8]) {
        let subject = match record {
            Record::Challenge(_) => stream::challenge_subject(&self.prefix),
            Record::Rejected(_) => stream::rejected_subject(&self.prefix),
            Record::Event(_) => return,
        };
        if !self.status.ready() {
            return;
        }
        let payload = Bytes::copy_from_slice(line);
        let client = &self.client;
        let _ =
            self.runtime.block_on(async { tokio::time::timeout(NOTE_WAIT, client.publish(subject, payload)).await });
    }
}

/// The event's type: the scheme's attributes for payloads that are not CloudEvents, else the `type` member.
fn event_type(record: &EventRecord) -> std::borrow::Cow<'_, str> {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(borrow, rename = "type", default)]
        ty: Option<std::borrow::Cow<'a, str>>,
    }
    if let Some(a) = &record.attributes {
        return a.ty.as_str().into();
    }
    serde_json::from_str::<Typed>(record.event.get()).ok().and_then(|t| t.ty).unwrap_or_default()
}
