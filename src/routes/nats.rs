//! A route's events from a durable JetStream consumer named after the route, shared by the same route on every
//! receiver: each event is handed to one of them and acknowledged after delivery, so N receivers forward it once.
//!
//! One event is outstanding at a time (`max_ack_pending` 1), which keeps the route's order across receivers.
//! While an event is being delivered (retries can take long) its ack deadline is pushed back; a receiver that dies
//! mid-delivery lets the deadline pass and another one delivers the event (at least once).

use super::files::RouteFiles;
use super::source::{Source, BATCH, IDLE_LOOK};
use crate::broker::read::renumber;
use crate::broker::NatsOptions;
use async_nats::jetstream::consumer::pull::{Config, Stream as Messages};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{AckKind, Message};
use futures_util::{FutureExt, StreamExt};
use std::collections::VecDeque;
use std::time::Duration;

/// How long the server waits for an ack before handing the event to another receiver, and how often a route
/// still working on it says so.
const ACK_WAIT: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The JetStream side of the routes: where the stream is. Each route connects when it starts reading.
#[derive(Debug, Clone)]
pub struct NatsRoutes {
    pub options: NatsOptions,
}

/// The durable consumer of route `route`.
pub fn consumer_name(route: &str) -> String {
    format!("glwatch-route-{route}")
}

pub struct NatsSource {
    route: String,
    nats: NatsRoutes,
    files: RouteFiles,
    client: Option<async_nats::Client>,
    consumer: Option<PullConsumer>,
    messages: Option<Messages>,
    /// Handed out, not yet acknowledged, in stream order.
    held: VecDeque<(u64, Message)>,
    progress: Option<tokio::task::JoinHandle<()>>,
    head: u64,
    /// Said once per outage.
    complained: bool,
}

impl NatsSource {
    pub fn new(route: &str, nats: NatsRoutes, files: RouteFiles) -> NatsSource {
        NatsSource {
            route: route.to_owned(),
            nats,
            files,
            client: None,
            consumer: None,
            messages: None,
            held: VecDeque::new(),
            progress: None,
            head: 0,
            complained: false,
        }
    }

    fn config(&self, deliver_policy: DeliverPolicy) -> Config {
        Config {
            durable_name: Some(consumer_name(&self.route)),
            description: Some(format!("glwatch route {}", self.route)),
            // A new route starts with what arrives from now on, as with the journal.
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: 1,
            filter_subject: format!("{}.event.>", self.nats.options.subject),
            ..Default::default()
        }
    }

    async fn stream(&mut self) -> Result<async_nats::jetstream::stream::Stream, String> {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => {
                let c = crate::broker::connect(&self.nats.options).await.map_err(|e| e.to_string())?;
                self.client.insert(c).clone()
            }
        };
        let js = async_nats::jetstream::new(client);
        js.get_stream(&self.nats.options.stream).await.map_err(|e| format!("stream {}: {e}", self.nats.options.stream))
    }

    /// The consumer's message stream, created (or found) when missing.
    async fn messages(&mut self) -> Result<&mut Messages, String> {
        if self.messages.is_none() {
            if self.consumer.is_none() {
                let name = consumer_name(&self.route);
                let config = self.config(DeliverPolicy::New);
                let stream = self.stream().await?;
                let consumer =
                    stream.get_or_create_consumer(&name, config).await.map_err(|e| format!("consumer {name}: {e}"))?;
                self.consumer = Some(consumer);
            }
            let consumer = self.consumer.as_ref().expect("set above");
            let messages =
                consumer.messages().await.map_err(|e| format!("consumer {}: {e}", consumer_name(&self.route)))?;
            self.messages = Some(messages);
        }
        Ok(self.messages.as_mut().expect("set above"))
    }

    fn complain(&mut self, why: &str) {
        if !self.complained {
            tracing::warn!("route {}: cannot read from NATS: {why}; retrying", self.route);
            self.complained = true;
        }
    }

    /// Takes `message` into the batch when it holds a record line; acknowledges and passes over one that does not.
    async fn take(&mut self, message: Message, batch: &mut Vec<(u64, String)>) {
        let Ok(info) = message.info() else { return };
        let (seq, pending) = (info.stream_sequence, info.pending);
        self.head = self.head.max(seq + pending);
        match renumber(&message.payload, seq) {
            Some(line) => {
                batch.push((seq, line));
                self.held.push_back((seq, message));
            }
            None => {
                tracing::warn!("route {}: stream seq {seq} is not a record line; passed over", self.route);
                let _ = message.ack().await;
            }
        }
    }

    /// Keeps the held events' ack deadlines from passing while the route works on them.
    fn keep_held(&mut self) {
        if let Some(p) = self.progress.take() {
            p.abort();
        }
        if self.held.is_empty() {
            return;
        }
        let held: Vec<Message> = self.held.iter().map(|(_, m)| m.clone()).collect();
        self.progress = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                for m in &held {
                    let _ = m.ack_with(AckKind::Progress).await;
                }
            }
        }));
    }
}

impl Drop for NatsSource {
    fn drop(&mut self) {
        if let Some(p) = self.progress.take() {
            p.abort();
        }
    }
}

#[async_trait::async_trait]
impl Source for NatsSource {
    async fn next_batch(&mut self) -> Vec<(u64, String)> {
        let mut batch = Vec::new();
        let first = match self.messages().await {
            Ok(messages) => tokio::time::timeout(IDLE_LOOK, messages.next()).await,
            Err(why) => {
                self.complain(&why);
                self.consumer = None;
                tokio::time::sleep(IDLE_LOOK).await;
                return batch;
            }
        };
        match first {
            Err(_) => return batch,
            Ok(Some(Ok(m))) => {
                self.complained = false;
                self.take(m, &mut batch).await;
            }
            Ok(Some(Err(e))) => {
                use async_nats::jetstream::consumer::pull::MessagesErrorKind as Kind;
                // A missed heartbeat is the client noticing an outage; it pulls again by itself once back.
                if matches!(e.kind(), Kind::MissingHeartbeat) {
                    tokio::time::sleep(IDLE_LOOK / 4).await;
                    return batch;
                }
                self.complain(&e.to_string());
                self.messages = None;
                self.consumer = None;
                // A consumer deleted by `redeliver --from` on another receiver is created again there at once;
                // waiting first lets this one find it rather than make one that starts from now.
                tokio::time::sleep(IDLE_LOOK).await;
                return batch;
            }
            Ok(None) => {
                self.messages = None;
                return batch;
            }
        }
        while batch.len() < BATCH {
            let Some(messages) = self.messages.as_mut() else { break };
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => self.take(m, &mut batch).await,
                _ => break,
            }
        }
        self.keep_held();
        batch
    }

    async fn done(&mut self, seq: u64, durable: bool) {
        while self.held.front().is_some_and(|(s, _)| *s <= seq) {
            let (s, message) = self.held.pop_front().expect("checked above");
            // Confirmed by the server: an ack lost on the way would hand the event to another receiver.
            if let Err(e) = message.double_ack().await {
                tracing::warn!("route {}: the ack of stream seq {s} was not confirmed: {e}", self.route);
            }
        }
        if self.held.is_empty() {
            if let Some(p) = self.progress.take() {
                p.abort();
            }
        }
        if durable {
            // For `glwatch routes`; the consumer is what counts.
            let _ = self.files.save_cursor(seq).await;
        }
    }

    async fn rewind(&mut self, after: u64) {
        self.held.clear();
        self.keep_held();
        self.messages = None;
        self.consumer = None;
        let name = consumer_name(&self.route);
        let config = self.config(DeliverPolicy::ByStartSequence { start_sequence: after + 1 });
        let result = async {
            let stream = self.stream().await?;
            let _ = stream.delete_consumer(&name).await;
            stream.create_consumer(config).await.map_err(|e| format!("consumer {name}: {e}"))
        }
        .await;
        match result {
            Ok(c) => self.consumer = Some(c),
            Err(e) => tracing::error!("route {}: cannot replay the stream from seq {}: {e}", self.route, after + 1),
        }
        let _ = self.files.write_cursor(after);
    }

    fn head(&self) -> u64 {
        self.head
    }
}
