//! One HTTP request in, one status out: classification, the challenge answer, signature checks and commits.
//! Over 400 lines: one request's path through the handler (refusals, challenge, per-source verification, commit)
//! reads best in one place; the body reading and response helpers at the bottom are the next seam to split.

use crate::cloudevent::parse_body;
use crate::config::ReceiverConfig;
use crate::greenlake::{answer_challenge, challenge_request, ChallengeGuard, Signer, SIGNATURE_HEADER};
use crate::pipeline::{CommitError, Delivery, Pipeline};
use crate::proxy::Origin;
use crate::record::{now, ChallengeRecord, Record, RejectedRecord, VerifiedBy};
use crate::server::rejections::{Disposition, RejectionLimiter};
use crate::server::sources::{Route, RouteKind};
use crate::sources::binary;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub type ResponseBody = Full<Bytes>;

/// Longest wait for the journal to confirm a delivery before answering 503.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const ALLOWED: &str = "POST, OPTIONS";
/// Request bodies held in memory at once, in units of `--max-body`: the caps on connections and streams bound how
/// many requests are open, this bounds what their bodies can cost (64 MiB with the default 1 MiB bodies).
const BODY_BUDGET_IN_BODIES: usize = 64;
const CONTENT_TYPES: [&str; 3] =
    ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"];

/// Shared by every connection: the immutable settings and the pipeline.
pub struct Handler {
    /// The configured sources, or the one GreenLake source on every path.
    routes: Vec<Route>,
    guard: ChallengeGuard,
    config: ReceiverConfig,
    pipeline: Pipeline,
    rejections: RejectionLimiter,
    /// One permit per byte of request body held in memory.
    body_budget: Arc<Semaphore>,
}

/// Why a request was refused: its status and the reason recorded and sent.
struct Refusal {
    status: StatusCode,
    reason: String,
    /// The configured source whose path the request named.
    source_name: Option<String>,
}

impl Refusal {
    /// Reasons can quote what the client sent; they are escaped here because they are sent back (and printed by
    /// `glwatch send`) and counted by reason, not only recorded.
    fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        let reason = reason.into();
        Refusal { status, reason: crate::text::escape(&reason).into_owned(), source_name: None }
    }

    fn at(mut self, route: &Route) -> Refusal {
        self.source_name.clone_from(&route.name);
        self
    }
}

impl Handler {
    pub fn new(config: ReceiverConfig, pipeline: Pipeline) -> Handler {
        Handler {
            routes: crate::server::sources::routes(&config),
            guard: ChallengeGuard,
            pipeline,
            rejections: RejectionLimiter::new(Instant::now()),
            body_budget: Arc::new(Semaphore::new(body_budget(config.limits.max_body))),
            config,
        }
    }

    /// Writes the summaries of refusals folded in a window that has ended (all of them when `force`).
    pub async fn flush_rejections(&self, force: bool) {
        for summary in self.rejections.flush(Instant::now(), force) {
            self.pipeline.note(Record::Rejected(summary)).await;
        }
    }

    /// Counts a refusal; true when it should be recorded one by one. Summaries of a window it closes go first.
    async fn admit_rejection(&self, ip: IpAddr, status: StatusCode, reason: &str) -> bool {
        let (verdict, closed) = self.rejections.admit(ip, status.as_u16(), reason, now(), Instant::now());
        for summary in closed {
            self.pipeline.note(Record::Rejected(summary)).await;
        }
        verdict == Disposition::Show
    }

    /// A plain-HTTP connection closed at accept because it is not from a trusted proxy. Counted like any
    /// refusal (so a flood folds into summaries); what is recorded is written by a task, so the accept loop never
    /// waits for the journal, and only the few refusals a window shows start one.
    pub fn refuse_connection(self: &Arc<Self>, peer: SocketAddr) {
        const STATUS: u16 = 403;
        const REASON: &str = "plain HTTP connection from an address that is not a --trusted-proxy: closed at once";
        let (verdict, closed) = self.rejections.admit(peer.ip(), STATUS, REASON, now(), Instant::now());
        if verdict == Disposition::Fold && closed.is_empty() {
            return;
        }
        let handler = self.clone();
        tokio::spawn(async move {
            for summary in closed {
                handler.pipeline.note(Record::Rejected(summary)).await;
            }
            if verdict == Disposition::Show {
                let record = RejectedRecord::refused(now(), &peer.to_string(), STATUS, REASON, None, None);
                handler.pipeline.note(Record::Rejected(record)).await;
            }
        });
    }

    /// Answers one request from `peer`, spelt in records as `peer_text` (a connection formats it once for all its
    /// requests). Never panics on input and never fails: every problem becomes a status.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr, peer_text: &str) -> Response<ResponseBody> {
        let started = Instant::now();
        let response = self.answer(req, peer, peer_text).await;
        self.pipeline.observe_request(started);
        response
    }

    async fn answer(&self, req: Request<Incoming>, peer: SocketAddr, peer_text: &str) -> Response<ResponseBody> {
        // The head stays borrowed while the body is read: nothing of it is copied for a request that succeeds.
        let (head, body) = req.into_parts();
        let from = Requester::new(self.config.trusted_proxies.origin(peer, &head.headers), peer, peer_text);
        let method = &head.method;
        let result = match *method {
            Method::OPTIONS => return self.options(&head),
            Method::POST => self.post(&head, body, &from).await,
            _ => Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, format!("method {method} not allowed"))),
        };
        match result {
            Ok(response) => response,
            Err(refusal) => {
                if self.admit_rejection(from.ip, refusal.status, &refusal.reason).await {
                    let record = Record::Rejected(
                        RejectedRecord::refused(
                            now(),
                            &from.peer,
                            refusal.status.as_u16(),
                            &refusal.reason,
                            Some(&truncate(method.as_str(), 32)),
                            Some(&truncate(head.uri.path(), 200)),
                        )
                        .via(from.via())
                        .from_source(refusal.source_name.as_deref()),
                    );
                    self.pipeline.note(record).await;
                }
                error_response(refusal.status, &refusal.reason)
            }
        }
    }

    /// CloudEvents webhook abuse protection: GreenLake learns the allowed rate from this answer.
    fn options(&self, head: &Parts) -> Response<ResponseBody> {
        let origin =
            head.headers.get("webhook-request-origin").cloned().unwrap_or_else(|| HeaderValue::from_static("*"));
        let rate = HeaderValue::from_str(&self.config.allowed_rate).unwrap_or_else(|_| HeaderValue::from_static("*"));
        Response::builder()
            .status(StatusCode::OK)
            .header("webhook-allowed-origin", origin)
            .header("webhook-allowed-rate", rate)
            .header(ALLOW, ALLOWED)
            .body(Full::new(Bytes::new()))
            .expect("static response parts are valid")
    }

    async fn post(
        &self,
        head: &Parts,
        body: Incoming,
        from: &Requester<'_>,
    ) -> Result<Response<ResponseBody>, Refusal> {
        let Some(route) = crate::server::sources::find(&self.routes, head.uri.path()) else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no source at this path"));
        };
        self.post_to(route, head, body, from).await.map_err(|r| r.at(route))
    }

    async fn post_to(
        &self,
        route: &Route,
        head: &Parts,
        body: Incoming,
        from: &Requester<'_>,
    ) -> Result<Response<ResponseBody>, Refusal> {
        let binary_mode = binary::is_binary_mode(&head.headers);
        if let RouteKind::GreenLake { .. } = route.kind {
            // The other providers cannot send GreenLake's Authorization header, nor are bound to its content types.
            self.check_api_key(&head.headers)?;
            if !binary_mode {
                check_content_type(&head.headers)?;
            }
        }
        let limit = self.config.limits.max_body;
        let declared =
            head.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let signature = head.headers.get(SIGNATURE_HEADER).map(HeaderValue::as_bytes);
        // The body's share of the memory budget is held until the request is answered.
        let (body, _budget) = self.read_body(body, limit).await?;
        let received_at = now();
        let started = Instant::now();
        let name = route.name.as_deref();
        let (verifier, signer) = match &route.kind {
            RouteKind::GreenLake { verifier, signer } => (verifier, signer),
            RouteKind::Hmac { scheme, secrets } => {
                let verified = crate::sources::verify(*scheme, &head.headers, &body, secrets, received_at)
                    .unwrap_or(Err(crate::sources::Refusal::MalformedHeader("scheme")))
                    .map_err(|r| {
                        Refusal::new(StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED), r.reason())
                    })?;
                if verified.ping {
                    let text = truncate(&crate::server::sources::ping_text(&verified), 200);
                    let micros = started.elapsed().as_micros() as u64;
                    let record =
                        ChallengeRecord::ping(received_at, &from.peer, &text, micros).via(from.via()).from_source(name);
                    self.pipeline.note(Record::Challenge(record)).await;
                    return Ok(json_response(StatusCode::OK, Bytes::from_static(b"{\"pong\":true}")));
                }
                let mut delivery = crate::server::sources::commit(verified, &body, received_at, &from.peer, name);
                delivery.via = from.via();
                return self.commit(delivery).await;
            }
        };

        // CloudEvents binary mode: the attributes are headers and the body is the data; the event is recorded in
        // its structured form, while the signature stays over the body as sent.
        let structured;
        let events_body: &[u8] = if binary_mode {
            let event = binary::structured_from_binary(&head.headers, &body)
                .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("binary mode: {e}")))?;
            structured = Bytes::from(event.to_string());
            &structured
        } else {
            &body
        };

        if let Some(request) = challenge_request(events_body) {
            return self.challenge(signer, name, request, from, received_at, started).await;
        }

        let verified_by = match verifier.verify(signature, &body) {
            Ok(by) => by,
            Err(crate::greenlake::SignatureError::Missing) if self.config.allow_unsigned => VerifiedBy::Unsigned,
            Err(e) => return Err(Refusal::new(StatusCode::UNAUTHORIZED, e.to_string())),
        };
        let events =
            parse_body(events_body).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("malformed: {e}")))?;
        check_data_base64(events_body, &events)?;
        let delivery = Delivery {
            received_at,
            peer: from.peer.to_string(),
            via: from.via(),
            verified_by,
            events,
            source_name: name.map(str::to_owned),
            attributes: None,
        };
        self.commit(delivery).await
    }

    async fn commit(&self, delivery: Delivery) -> Result<Response<ResponseBody>, Refusal> {
        // Bounded: a journal stuck on a dead disk must not hold requests forever. A late write after this
        // answer only means GreenLake's retry is recognised as a duplicate; nothing acknowledged is lost.
        let committed = tokio::time::timeout(COMMIT_TIMEOUT, self.pipeline.commit(delivery))
            .await
            .unwrap_or_else(|_| Err(CommitError::Store("journal did not confirm the write in time".into())));
        match committed {
            Ok(c) => Ok(json_response(StatusCode::OK, committed_body(c))),
            Err(e) => {
                // The committer already showed the operator why; GreenLake is told to come back.
                // error_response adds the Retry-After of every 503.
                let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
                if matches!(e, CommitError::Closed) {
                    response.headers_mut().insert("connection", HeaderValue::from_static("close"));
                }
                Ok(response)
            }
        }
    }

    async fn challenge(
        &self,
        signer: &Signer,
        name: Option<&str>,
        request: String,
        from: &Requester<'_>,
        received_at: time::OffsetDateTime,
        started: Instant,
    ) -> Result<Response<ResponseBody>, Refusal> {
        // The attacker chose this text: the record constructors escape it.
        let shown = truncate(&request, 200);
        let (record, response) = match self.guard.check(&request) {
            Ok(()) => {
                let (verification, body) = answer_challenge(signer, &request);
                let micros = started.elapsed().as_micros() as u64;
                let record =
                    ChallengeRecord::answered(received_at, &from.peer, &shown, verification, micros).via(from.via());
                (record, json_response(StatusCode::OK, body))
            }
            Err(reason) => {
                // A flood of these is summarised like any other refusal, as a rejected record with a count.
                if !self.admit_rejection(from.ip, StatusCode::BAD_REQUEST, reason).await {
                    return Ok(error_response(StatusCode::BAD_REQUEST, reason));
                }
                tracing::warn!(peer = %from.peer, "suspicious challenge refused: {reason}");
                let record = ChallengeRecord::refused(received_at, &from.peer, &shown, reason).via(from.via());
                (record, error_response(StatusCode::BAD_REQUEST, reason))
            }
        };
        self.pipeline.note(Record::Challenge(record.from_source(name))).await;
        Ok(response)
    }

    fn check_api_key(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(key) = &self.config.api_key else {
            return Ok(());
        };
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(Refusal::new(StatusCode::UNAUTHORIZED, "missing Authorization"));
        };
        let value = value.as_bytes().trim_ascii();
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => value,
        };
        if key.matches(token) {
            Ok(())
        } else {
            Err(Refusal::new(StatusCode::UNAUTHORIZED, "wrong Authorization"))
        }
    }

    /// Reads the whole body, never more than `limit` bytes, within the body timeout, taking its bytes from the
    /// shared body budget as they arrive. When the budget is spent the request is refused with 503 at once
    /// (GreenLake retries) rather than queued: waiting would hold the connection and help whoever spent it.
    async fn read_body(
        &self,
        mut body: Incoming,
        limit: usize,
    ) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Refusal> {
        let read = async {
            // A body that arrives in one frame (the usual small delivery) is kept as hyper hands it over, without a
            // copy; only a body in several frames is joined.
            let mut single: Option<Bytes> = None;
            let mut joined: Option<bytes::BytesMut> = None;
            let mut len = 0usize;
            let mut held: Option<OwnedSemaphorePermit> = None;
            while let Some(frame) = body.frame().await {
                let frame =
                    frame.map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("body could not be read: {e}")))?;
                let Ok(data) = frame.into_data() else { continue };
                if len + data.len() > limit {
                    return Err(too_large(limit));
                }
                if data.is_empty() {
                    continue;
                }
                let permit = u32::try_from(data.len())
                    .ok()
                    .and_then(|n| self.body_budget.clone().try_acquire_many_owned(n).ok())
                    .ok_or_else(|| {
                        Refusal::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "busy: request bodies in memory are at their limit",
                        )
                    })?;
                match held.as_mut() {
                    Some(h) => h.merge(permit),
                    None => held = Some(permit),
                }
                len += data.len();
                match (&mut joined, single.take()) {
                    (Some(buf), _) => buf.extend_from_slice(&data),
                    (None, None) => single = Some(data),
                    (None, Some(first)) => {
                        let mut buf = bytes::BytesMut::with_capacity(len);
                        buf.extend_from_slice(&first);
                        buf.extend_from_slice(&data);
                        joined = Some(buf);
                    }
                }
            }
            let body = match joined {
                Some(buf) => buf.freeze(),
                None => single.unwrap_or_default(),
            };
            Ok((body, held))
        };
        match tokio::time::timeout(self.config.limits.body_timeout, read).await {
            Err(_) => Err(Refusal::new(StatusCode::REQUEST_TIMEOUT, "body not received in time")),
            Ok(result) => result,
        }
    }
}

/// Whom a request is recorded as coming from: the TCP peer, or the client a trusted proxy reported (then the
/// proxy is `via`). Refusals are counted per client address, so one noisy client behind the proxy does not get
/// the others' refusals folded away.
struct Requester<'a> {
    ip: IpAddr,
    peer: std::borrow::Cow<'a, str>,
    proxy: Option<&'a str>,
}

impl<'a> Requester<'a> {
    fn new(origin: Origin, peer: SocketAddr, peer_text: &'a str) -> Requester<'a> {
        match origin {
            Origin::Direct => Requester { ip: peer.ip(), peer: peer_text.into(), proxy: None },
            Origin::Proxied(client) => {
                Requester { ip: client.ip, peer: client.to_string().into(), proxy: Some(peer_text) }
            }
        }
    }

    fn via(&self) -> Option<String> {
        self.proxy.map(str::to_owned)
    }
}

/// Bytes of request body held at once: [`BODY_BUDGET_IN_BODIES`] full bodies, at least one, within what a
/// semaphore can count.
fn body_budget(max_body: usize) -> usize {
    let countable = Semaphore::MAX_PERMITS.min(u32::MAX as usize);
    max_body.saturating_mul(BODY_BUDGET_IN_BODIES).min(countable).max(max_body.min(countable))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "missing content-type (expected application/json)",
        ));
    };
    let essence = value.to_str().ok().and_then(|v| v.split(';').next()).map(str::trim).unwrap_or("");
    if CONTENT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(essence)) {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content-type {:?} (expected application/json)", truncate(essence, 100)),
        ))
    }
}

/// Structured events may carry their data as `data_base64`; it must then be base64 and come without `data`. Only
/// bodies that mention the member are parsed again, so the common delivery pays nothing.
fn check_data_base64(body: &[u8], events: &[crate::cloudevent::ParsedEvent]) -> Result<(), Refusal> {
    // Built once: building a searcher costs about as much as searching a kilobyte with it.
    static MEMBER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"data_base64"));
    if MEMBER.find(body).is_none() {
        return Ok(());
    }
    for event in events {
        let value: serde_json::Value = serde_json::from_str(event.raw.get())
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("malformed: {e}")))?;
        binary::check_structured_data(&value)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("malformed: {e}")))?;
    }
    Ok(())
}

fn too_large(limit: usize) -> Refusal {
    Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("too large: body over {limit} bytes"))
}

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer to a committed delivery; the usual single event's answers are static, so they cost no formatting.
fn committed_body(c: crate::pipeline::Committed) -> Bytes {
    match (c.accepted, c.duplicates) {
        (1, 0) => Bytes::from_static(b"{\"accepted\":1,\"duplicates\":0}"),
        (0, 1) => Bytes::from_static(b"{\"accepted\":0,\"duplicates\":1}"),
        (a, d) => format!("{{\"accepted\":{a},\"duplicates\":{d}}}").into(),
    }
}

/// `{"error": "..."}`. Reasons are built here from fixed texts and parser messages, never from secrets.
pub fn error_response(status: StatusCode, reason: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "error": reason }).to_string();
    let mut response = json_response(status, body);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(ALLOWED));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// `s` cut to at most `max` characters, with an ellipsis when something was cut.
fn truncate(s: &str, max: usize) -> String {
    let cut = crate::cloudevent::truncate(s, max);
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}
