//! `/v1/stream`: one subscriber's records as SSE, live from its bounded queue and read back from the journal by
//! seq when it falls behind, so a slow client neither slows the receiver nor misses a record.

use super::hub::{sse_event as event, Hub, Item};
use super::routes::{header_number, text, Body, JournalRef, State, KEEP_ALIVE, LAST_SEQ_HEADER};
use crate::journal::holds::Hold;
use crate::journal::SeqReader;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};

/// Records read from the journal per catch-up step, and coalesced into one write from the live queue.
const BATCH: usize = 512;
const BATCH_BYTES: usize = 256 * 1024;

/// `/v1/stream`: every record after `after` (or, without it, from the next new one), in order, as SSE.
pub(super) fn stream(state: &Arc<State>, after: Option<u64>) -> Response<Body> {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "too many watchers\n");
    };
    // Subscribed before answering: a client that has the headers sees every record committed from then on.
    let (live, head) = state.hub.subscribe();
    let (tx, rx) = mpsc::channel(4);
    let last = after.filter(|a| *a <= head).unwrap_or(head);
    let feed = Feed {
        hub: state.hub.clone(),
        journal: state.journal.clone(),
        tx,
        // A client ahead of the receiver saw a run whose numbering is gone (no journal, or a new one): it gets
        // what comes next.
        last,
        head,
        // Retention keeps what this subscriber has yet to read.
        hold: state.journal.as_ref().map(|j| Hold::new(&j.base, last + 1)),
        stop: state.stop.clone(),
        _permit: permit,
    };
    state.metrics.subscribers().inc();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        feed.run(live).await;
        metrics.subscribers().dec();
    });
    let mut response = Response::new(ChannelBody(rx).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(LAST_SEQ_HEADER, header_number(head));
    response
}

/// A response body fed by a bounded channel: the feed waits while the client does not read.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// One subscriber's stream: live records from its queue; when the queue overflowed (or the client starts behind),
/// the journal from its last seq, then live again. Without a journal, what cannot be read back is announced as
/// a gap.
struct Feed {
    hub: Arc<Hub>,
    journal: Option<JournalRef>,
    tx: mpsc::Sender<Bytes>,
    last: u64,
    head: u64,
    hold: Option<Hold>,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Feed {
    async fn run(mut self, mut live: mpsc::Receiver<Item>) {
        let mut reader: Option<SeqReader> = None;
        let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        let mut stop = self.stop.clone();
        loop {
            if self.last < self.head && !self.catch_up(&mut reader).await {
                return;
            }
            let chunk = tokio::select! {
                item = live.recv() => match item {
                    Some(item) => self.live_chunk(item, &mut live),
                    None => {
                        // The hub closed the queue: it overflowed. Subscribe again first, then read what was missed.
                        let (again, head) = self.hub.subscribe();
                        live = again;
                        self.head = head;
                        continue;
                    }
                },
                _ = keep_alive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                _ = self.tx.closed() => return,
                () = super::serve::stopped(&mut stop) => return,
            };
            if !chunk.is_empty() && !self.send(chunk).await {
                return;
            }
        }
    }

    /// Hands a chunk to the connection; false when the client is gone. What it holds is then no longer needed
    /// from the journal.
    async fn send(&self, chunk: Bytes) -> bool {
        let sent = self.tx.send(chunk).await.is_ok();
        if let Some(hold) = &self.hold {
            hold.set(self.last + 1);
        }
        sent
    }

    /// The group and whatever else is queued, up to a batch, as one write. A lone group that follows on from
    /// what was sent goes out as the hub rendered it, shared with every other subscriber, without a copy.
    fn live_chunk(&mut self, first: Item, live: &mut mpsc::Receiver<Item>) -> Bytes {
        let mut next = live.try_recv().ok();
        if next.is_none() && self.follows_on(&first) {
            self.last = first.last().unwrap_or(self.last);
            return first.sse;
        }
        let mut out = BytesMut::new();
        self.add(&mut out, &first);
        let mut n = 1;
        while let Some(group) = next.take() {
            self.add(&mut out, &group);
            n += 1;
            if n < BATCH && out.len() < BATCH_BYTES {
                next = live.try_recv().ok();
            }
        }
        out.freeze()
    }

    /// Whether every journaled record of the group is new, with nothing missed before it that this subscriber
    /// would have to be told about (without a journal, a hole is announced as a gap).
    fn follows_on(&self, group: &Item) -> bool {
        match group.first() {
            None => true,
            Some(first) => first > self.last && (self.journal.is_some() || first == self.last + 1),
        }
    }

    fn add(&mut self, out: &mut BytesMut, group: &Item) {
        if self.follows_on(group) {
            out.extend_from_slice(&group.sse);
            self.last = group.last().unwrap_or(self.last);
            return;
        }
        for (seq, line) in group.records.iter() {
            if *seq == 0 {
                // Never journaled (the journal failed): shown live, without an id, so resuming is unaffected.
                event(out, None, line);
            } else if *seq > self.last {
                if self.journal.is_none() && *seq > self.last + 1 {
                    gap(out, *seq - self.last - 1);
                }
                event(out, Some(*seq), line);
                self.last = *seq;
            }
        }
    }

    /// Sends what the journal holds after `last`, until it holds no more. False when the client is gone.
    async fn catch_up(&mut self, reader: &mut Option<SeqReader>) -> bool {
        let Some(journal) = &self.journal else {
            // Nothing to read back: what was numbered meanwhile is announced as missed.
            let mut out = BytesMut::new();
            gap(&mut out, self.head - self.last);
            self.last = self.head;
            return self.tx.send(out.freeze()).await.is_ok();
        };
        loop {
            let mut r = match reader.take() {
                Some(r) if r.after() <= self.last => r,
                _ => SeqReader::new(&journal.base, journal.max_line, self.last),
            };
            let read = tokio::task::spawn_blocking(move || {
                let batch = r.next_batch(BATCH, BATCH_BYTES);
                (r, batch)
            })
            .await;
            let Ok((r, batch)) = read else { return false };
            *reader = Some(r);
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("watch: journal cannot be read to catch a watcher up: {e}");
                    return false;
                }
            };
            let mut out = BytesMut::new();
            for (seq, line) in &batch {
                if *seq > self.last {
                    event(&mut out, Some(*seq), line);
                    self.last = *seq;
                }
            }
            if batch.is_empty() {
                // Everything stored is sent; what is newer comes through the live queue.
                self.head = self.last;
                return true;
            }
            if !out.is_empty() && !self.send(out.freeze()).await {
                return false;
            }
        }
    }
}

fn gap(out: &mut BytesMut, missed: u64) {
    out.extend_from_slice(b"event: gap\ndata: ");
    out.extend_from_slice(itoa::Buffer::new().format(missed).as_bytes());
    out.extend_from_slice(b"\n\n");
}
