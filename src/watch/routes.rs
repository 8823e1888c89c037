//! The watch endpoint's routes, the same on the local socket and over HTTPS: the live stream (SSE), stored
//! records by seq (NDJSON), metrics (OpenMetrics) and health.

use super::hub::{Hub, Item};
use super::metrics::Metrics;
use crate::journal::SeqReader;
use crate::pipeline::Pipeline;
use crate::record::{now, Record, RejectedRecord};
use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Records per page of `/v1/records` unless `limit` says otherwise, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;
/// Bytes of lines in one page or one catch-up batch; a page may end early, the client asks again from its last seq.
const MAX_PAGE_BYTES: usize = 16 << 20;
/// Records read from the journal per catch-up step, and coalesced into one write from the live queue.
const BATCH: usize = 512;
const BATCH_BYTES: usize = 256 * 1024;
/// A comment on an idle stream, so proxies and clients see the connection alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Streams served at once; more are refused with 503.
const MAX_SUBSCRIBERS: usize = 256;
/// Where stored history begins, and the last record numbered.
pub const FIRST_SEQ_HEADER: &str = "glwatch-first-seq";
pub const LAST_SEQ_HEADER: &str = "glwatch-last-seq";

/// The journal as the endpoint reads it.
#[derive(Clone, Debug)]
pub struct JournalRef {
    pub base: PathBuf,
    pub max_line: usize,
}

/// What every request of the endpoint shares.
pub struct State {
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub journal: Option<JournalRef>,
    /// Refused requests over HTTPS are recorded like the receiver's own.
    pub pipeline: Pipeline,
    /// SHA-256 of the bearer token required over HTTPS: hashing first makes the comparison constant-time in the
    /// token's length too.
    token: Option<[u8; 32]>,
    streams: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
}

impl State {
    pub fn new(
        hub: Arc<Hub>,
        journal: Option<JournalRef>,
        pipeline: Pipeline,
        token: Option<&str>,
        stop: watch::Receiver<bool>,
    ) -> State {
        State {
            metrics: hub.metrics().clone(),
            hub,
            journal,
            pipeline,
            token: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            streams: Arc::new(Semaphore::new(MAX_SUBSCRIBERS)),
            stop,
        }
    }

    fn authorized(&self, request: &Request<Incoming>) -> Result<(), &'static str> {
        let Some(expected) = &self.token else { return Err("no token configured") };
        let Some(value) = request.headers().get(AUTHORIZATION) else { return Err("missing token") };
        let value = value.as_bytes().trim_ascii();
        let given = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => return Err("missing token"),
        };
        let given: [u8; 32] = Sha256::digest(given).into();
        if bool::from(given.ct_eq(expected)) {
            Ok(())
        } else {
            Err("wrong token")
        }
    }
}

/// Answers one request. `remote` is the peer over HTTPS, where a token is required; `None` on the local socket.
pub async fn handle(state: &Arc<State>, request: Request<Incoming>, remote: Option<SocketAddr>) -> Response<Body> {
    if let Some(peer) = remote {
        if let Err(why) = state.authorized(&request) {
            let record = Record::Rejected(RejectedRecord::refused(
                now(),
                &peer.to_string(),
                401,
                &format!("watch endpoint: {why}"),
                Some(crate::cloudevent::truncate(request.method().as_str(), 32)),
                Some(crate::cloudevent::truncate(request.uri().path(), 200)),
            ));
            state.pipeline.note(record).await;
            let mut response = text(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer TOKEN` is required\n");
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    if request.method() != Method::GET {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here\n");
        response.headers_mut().insert("allow", HeaderValue::from_static("GET"));
        return response;
    }
    let query = match Query::parse(request.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    match request.uri().path() {
        "/v1/stream" => {
            let resume = request.headers().get("last-event-id").and_then(|v| v.to_str().ok()?.trim().parse().ok());
            stream(state, resume.or(query.after))
        }
        "/v1/records" => records(state, query).await,
        "/metrics" => {
            let mut response = text(StatusCode::OK, &state.metrics.encode());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        "/healthz" => health(state),
        _ => text(StatusCode::NOT_FOUND, "not found: the routes are /v1/stream, /v1/records, /metrics and /healthz\n"),
    }
}

#[derive(Default)]
struct Query {
    after: Option<u64>,
    limit: Option<usize>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || value.parse::<u64>().map_err(|_| format!("{key}: expected a whole number, got {value:?}"));
            match key {
                "after" => q.after = Some(number()?),
                "limit" => q.limit = Some(number()?.min(MAX_LIMIT as u64) as usize),
                _ => {}
            }
        }
        Ok(q)
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed_unsync()
}

fn header_number(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

/// `/v1/records`: a page of stored records after `after`, as NDJSON, exactly as journaled.
async fn records(state: &Arc<State>, query: Query) -> Response<Body> {
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let head = state.hub.head();
    let (first, page) = match &state.journal {
        None => (head + 1, Vec::new()),
        Some(journal) => {
            let journal = journal.clone();
            let read = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Vec<(u64, String)>)> {
                let first = crate::journal::first_stored_seq(&journal.base, journal.max_line)?;
                let page = SeqReader::new(&journal.base, journal.max_line, after).next_batch(limit, MAX_PAGE_BYTES)?;
                Ok((first, page))
            })
            .await;
            match read {
                Ok(Ok((first, page))) => (if first == 0 { head + 1 } else { first }, page),
                Ok(Err(e)) => {
                    return text(StatusCode::INTERNAL_SERVER_ERROR, &format!("journal cannot be read: {e}\n"))
                }
                Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "journal read failed\n"),
            }
        }
    };
    let mut body = BytesMut::with_capacity(page.iter().map(|(_, l)| l.len() + 1).sum());
    for (_, line) in &page {
        body.extend_from_slice(line.as_bytes());
        body.extend_from_slice(b"\n");
    }
    let mut response = Response::new(full(body.freeze()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    headers.insert(FIRST_SEQ_HEADER, header_number(first));
    headers.insert(LAST_SEQ_HEADER, header_number(head.max(page.last().map_or(0, |(s, _)| *s))));
    response
}

fn health(state: &Arc<State>) -> Response<Body> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let journal =
        state.journal.as_ref().map_or("none", |_| if state.metrics.journal_ok() { "writable" } else { "failing" });
    let healthy = journal != "failing" && state.metrics.nats_ok();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "uptime_seconds": state.metrics.uptime().as_secs(),
        "last_event_age_seconds": state.metrics.last_event_unix().map(|t| (now - t).max(0)),
        "journal": journal,
        "certificate_expiry": state.metrics.certificate_expiry().and_then(|t| {
            time::OffsetDateTime::from_unix_timestamp(t).ok()?.format(&time::format_description::well_known::Rfc3339).ok()
        }),
        "certificate_expires_in_seconds": state.metrics.certificate_expiry().map(|t| t - now),
        "last_seq": state.hub.head(),
        "nats": state.metrics.nats_health(),
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = text(status, &format!("{body}\n"));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `/v1/stream`: every record after `after` (or, without it, from the next new one), in order, as SSE.
fn stream(state: &Arc<State>, after: Option<u64>) -> Response<Body> {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "too many watchers\n");
    };
    // Subscribed before answering: a client that has the headers sees every record committed from then on.
    let (live, head) = state.hub.subscribe();
    let (tx, rx) = mpsc::channel(4);
    let feed = Feed {
        hub: state.hub.clone(),
        journal: state.journal.clone(),
        tx,
        // A client ahead of the receiver saw a run whose numbering is gone (no journal, or a new one): it gets
        // what comes next.
        last: after.filter(|a| *a <= head).unwrap_or(head),
        head,
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
            if !chunk.is_empty() && self.tx.send(chunk).await.is_err() {
                return;
            }
        }
    }

    /// The item and whatever else is queued, up to a batch, as one write.
    fn live_chunk(&mut self, first: Item, live: &mut mpsc::Receiver<Item>) -> Bytes {
        let mut out = BytesMut::new();
        let mut next = Some(first);
        let mut n = 0;
        while let Some(item) = next.take() {
            if item.seq == 0 {
                // Never journaled (the journal failed): shown live, without an id, so resuming is unaffected.
                event(&mut out, None, &item.line);
            } else if item.seq > self.last {
                if self.journal.is_none() && item.seq > self.last + 1 {
                    gap(&mut out, item.seq - self.last - 1);
                }
                event(&mut out, Some(item.seq), &item.line);
                self.last = item.seq;
            }
            n += 1;
            if n < BATCH && out.len() < BATCH_BYTES {
                next = live.try_recv().ok();
            }
        }
        out.freeze()
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
            if !out.is_empty() && self.tx.send(out.freeze()).await.is_err() {
                return false;
            }
        }
    }
}

fn event(out: &mut BytesMut, id: Option<u64>, line: &str) {
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\n\n");
}

fn gap(out: &mut BytesMut, missed: u64) {
    out.extend_from_slice(b"event: gap\ndata: ");
    out.extend_from_slice(itoa::Buffer::new().format(missed).as_bytes());
    out.extend_from_slice(b"\n\n");
}
