//! One HTTP request in, one status out: classification, the challenge answer, signature checks and commits.

use crate::cloudevent::parse_body;
use crate::config::ReceiverConfig;
use crate::greenlake::{answer_challenge, challenge_request, ChallengeGuard, Signer, Verifier, SIGNATURE_HEADER};
use crate::pipeline::{CommitError, Delivery, Pipeline};
use crate::record::{now, ChallengeRecord, Record, RejectedRecord, VerifiedBy};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::time::Instant;

pub type ResponseBody = Full<Bytes>;

/// Longest wait for the journal to confirm a delivery before answering 503.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const ALLOWED: &str = "POST, OPTIONS";
const CONTENT_TYPES: [&str; 3] =
    ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"];

/// Shared by every connection: the immutable settings and the pipeline.
pub struct Handler {
    verifier: Verifier,
    signer: Signer,
    guard: ChallengeGuard,
    config: ReceiverConfig,
    pipeline: Pipeline,
}

/// Why a request was refused: its status and the reason recorded and sent.
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal { status, reason: reason.into() }
    }
}

impl Handler {
    pub fn new(config: ReceiverConfig, pipeline: Pipeline) -> Handler {
        Handler {
            verifier: Verifier::new(&config.primary, config.secondary.as_ref()),
            signer: Signer::new(&config.primary),
            guard: ChallengeGuard,
            config,
            pipeline,
        }
    }

    /// Answers one request. Never panics on input and never fails: every problem becomes a status.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<ResponseBody> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let result = match method {
            Method::OPTIONS => return self.options(&req),
            Method::POST => self.post(req, peer).await,
            _ => Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, format!("method {method} not allowed"))),
        };
        match result {
            Ok(response) => response,
            Err(refusal) => {
                let record = Record::Rejected(RejectedRecord {
                    received_at: now(),
                    peer: peer.to_string(),
                    status: refusal.status.as_u16(),
                    reason: refusal.reason.clone(),
                    method: Some(method.to_string()),
                    path: Some(truncate(&path, 200)),
                    count: None,
                });
                self.pipeline.note(record).await;
                error_response(refusal.status, &refusal.reason)
            }
        }
    }

    /// CloudEvents webhook abuse protection: GreenLake learns the allowed rate from this answer.
    fn options<B>(&self, req: &Request<B>) -> Response<ResponseBody> {
        let origin =
            req.headers().get("webhook-request-origin").cloned().unwrap_or_else(|| HeaderValue::from_static("*"));
        let rate = HeaderValue::from_str(&self.config.allowed_rate).unwrap_or_else(|_| HeaderValue::from_static("*"));
        Response::builder()
            .status(StatusCode::OK)
            .header("webhook-allowed-origin", origin)
            .header("webhook-allowed-rate", rate)
            .header(ALLOW, ALLOWED)
            .body(Full::new(Bytes::new()))
            .expect("static response parts are valid")
    }

    async fn post(&self, req: Request<Incoming>, peer: SocketAddr) -> Result<Response<ResponseBody>, Refusal> {
        self.check_api_key(&req)?;
        check_content_type(&req)?;
        let limit = self.config.limits.max_body;
        let declared =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let signature = req.headers().get(SIGNATURE_HEADER).map(|v| v.as_bytes().to_vec());
        let body = self.read_body(req.into_body(), limit).await?;
        let received_at = now();
        let started = Instant::now();

        if let Some(request) = challenge_request(&body) {
            return self.challenge(request, peer, received_at, started).await;
        }

        let verified_by = match self.verifier.verify(signature.as_deref(), &body) {
            Ok(by) => by,
            Err(crate::greenlake::SignatureError::Missing) if self.config.allow_unsigned => VerifiedBy::Unsigned,
            Err(e) => return Err(Refusal::new(StatusCode::UNAUTHORIZED, e.to_string())),
        };
        let events = parse_body(&body).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("malformed: {e}")))?;
        let delivery = Delivery { received_at, peer: peer.to_string(), verified_by, events };
        // Bounded: a journal stuck on a dead disk must not hold requests forever. A late write after this
        // answer only means GreenLake's retry is recognised as a duplicate; nothing acknowledged is lost.
        let committed = tokio::time::timeout(COMMIT_TIMEOUT, self.pipeline.commit(delivery))
            .await
            .unwrap_or_else(|_| Err(CommitError::Store("journal did not confirm the write in time".into())));
        match committed {
            Ok(c) => Ok(json_response(
                StatusCode::OK,
                format!("{{\"accepted\":{},\"duplicates\":{}}}", c.accepted, c.duplicates),
            )),
            Err(e) => {
                // The committer already showed the operator why; GreenLake is told to come back.
                let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
                if matches!(e, CommitError::Closed) {
                    response.headers_mut().insert("connection", HeaderValue::from_static("close"));
                }
                Ok(response)
            }
        }
    }

    async fn challenge(
        &self,
        request: String,
        peer: SocketAddr,
        received_at: time::OffsetDateTime,
        started: Instant,
    ) -> Result<Response<ResponseBody>, Refusal> {
        let shown = truncate(&request, 200);
        let (record, response) = match self.guard.check(&request) {
            Ok(()) => {
                let (verification, body) = answer_challenge(&self.signer, &request);
                let record = ChallengeRecord {
                    received_at,
                    peer: peer.to_string(),
                    challenge_request: shown,
                    answered: true,
                    reason: None,
                    verification: Some(verification),
                    answer_micros: Some(started.elapsed().as_micros() as u64),
                };
                (record, json_response(StatusCode::OK, body))
            }
            Err(reason) => {
                tracing::warn!(%peer, "suspicious challenge refused: {reason}");
                let record = ChallengeRecord {
                    received_at,
                    peer: peer.to_string(),
                    challenge_request: shown,
                    answered: false,
                    reason: Some(reason.to_owned()),
                    verification: None,
                    answer_micros: None,
                };
                (record, error_response(StatusCode::BAD_REQUEST, reason))
            }
        };
        self.pipeline.note(Record::Challenge(record)).await;
        Ok(response)
    }

    fn check_api_key<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        let Some(key) = &self.config.api_key else {
            return Ok(());
        };
        let Some(value) = req.headers().get(AUTHORIZATION) else {
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

    /// Reads the whole body, never more than `limit` bytes, within the body timeout.
    async fn read_body(&self, body: Incoming, limit: usize) -> Result<Bytes, Refusal> {
        let collect = Limited::new(body, limit).collect();
        match tokio::time::timeout(self.config.limits.body_timeout, collect).await {
            Err(_) => Err(Refusal::new(StatusCode::REQUEST_TIMEOUT, "body not received in time")),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
            Ok(Err(e)) => Err(Refusal::new(StatusCode::BAD_REQUEST, format!("body could not be read: {e}"))),
        }
    }
}

fn check_content_type<B>(req: &Request<B>) -> Result<(), Refusal> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
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

fn too_large(limit: usize) -> Refusal {
    Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("too large: body over {limit} bytes"))
}

fn json_response(status: StatusCode, body: String) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// `{"error": "..."}`. Reasons are built here from fixed texts and parser messages, never from secrets.
pub fn error_response(status: StatusCode, reason: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "error": reason }).to_string();
    let mut response = json_response(status, body);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(ALLOWED));
    }
    response
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
