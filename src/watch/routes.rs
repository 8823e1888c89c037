//! The watch endpoint's routes, the same on the local socket and over HTTPS: the live stream (SSE), stored
//! records by seq (NDJSON), metrics (OpenMetrics) and health.

use super::hub::Hub;
use super::metrics::Metrics;
use crate::journal::SeqReader;
use crate::pipeline::Pipeline;
use crate::record::{now, Record, RejectedRecord};
use crate::server::rejections::{Disposition, RejectionLimiter};
use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::{watch, Semaphore};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Records per page of `/v1/records` unless `limit` says otherwise, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;
/// Bytes of lines in one page or one catch-up batch; a page may end early, the client asks again from its last seq.
const MAX_PAGE_BYTES: usize = 16 << 20;
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
    pub(super) streams: Arc<Semaphore>,
    pub(super) stop: watch::Receiver<bool>,
    /// Refused watchers, counted so that a flood is recorded as a few records and summaries.
    refusals: RejectionLimiter,
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
            refusals: RejectionLimiter::new(Instant::now()),
        }
    }

    /// Records the summaries of refusals folded in a window that has ended (all of them when `force`).
    pub async fn flush_refusals(&self, force: bool) {
        for summary in self.refusals.flush(Instant::now(), force) {
            self.pipeline.note(Record::Rejected(summary)).await;
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
            let reason = format!("watch endpoint: {why}");
            // A token-guessing flood folds into one summary per peer and reason each second, like the receiver's
            // own refusals: the journal gets a few records per second, the metrics every refusal.
            let (verdict, closed) = state.refusals.admit(peer.ip(), 401, &reason, now(), Instant::now());
            for summary in closed {
                state.pipeline.note(Record::Rejected(summary)).await;
            }
            if verdict == Disposition::Show {
                let record = Record::Rejected(RejectedRecord::refused(
                    now(),
                    &peer.to_string(),
                    401,
                    &reason,
                    Some(crate::cloudevent::truncate(request.method().as_str(), 32)),
                    Some(crate::cloudevent::truncate(request.uri().path(), 200)),
                ));
                state.pipeline.note(record).await;
            }
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
            super::stream::stream(state, resume.or(query.after))
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
        super::route_state::PATH => super::route_state::answer(state.metrics.routes()),
        _ => text(StatusCode::NOT_FOUND, "not found: try /v1/stream, /v1/records, /v1/routes, /metrics, /healthz\n"),
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

pub(super) fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed_unsync()
}

pub(super) fn header_number(n: u64) -> HeaderValue {
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
