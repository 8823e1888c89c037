//! The verification challenge as GreenLake runs it, and the webhook state it leads to.

use super::client::{Answer, Client};
use super::load::RetryPolicy;
use super::stats::State;
use crate::greenlake::Signer;
use std::time::{Duration, Instant};

/// GreenLake's reason when the answer does not prove knowledge of the secret.
pub const HMAC_FAILED: &str = "HMAC validation failed. Please verify webhook secret.";

/// The workspace id GreenLake puts in a challenge's `subject` (the public sample's).
pub const WORKSPACE_ID: &str = "3009de2825f211ec8a84fedebcb4a754";

/// How a challenge went.
#[derive(Debug, Clone)]
pub struct Verification {
    pub state: State,
    /// GreenLake's wording, when not Active.
    pub reason: Option<String>,
    /// What the simulator saw, in its own words: why it failed, or a remark on an answer that passed.
    pub detail: Option<String>,
    /// Time to the answer of the last attempt.
    pub latency: Option<Duration>,
    pub attempts: u32,
}

/// GreenLake's reason when it gets no usable HTTP answer.
pub fn unreachable(error: impl std::fmt::Display) -> String {
    format!("Webhook URL unreachable. error: {error}")
}

/// Posts a challenge with a fresh UUID and judges the answer. Transport errors and answers that may be
/// temporary (5xx, 408, 429) are tried again under `retry`, as GreenLake makes a few attempts before giving up.
pub async fn verify(client: &Client, signer: &Signer, retry: &RetryPolicy) -> Verification {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let request = super::catalog::uuid_v4();
        let body = super::catalog::challenge(&request, WORKSPACE_ID, time::OffsetDateTime::now_utc());
        let started = Instant::now();
        let result = match client.connect().await {
            Ok(mut conn) => client.post(&mut conn, body.into(), None).await,
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        let again = attempts <= retry.retries;
        match result {
            Err(_) if again => {}
            Err(e) => return failed(unreachable(&e), None, attempts, None),
            Ok(a) if !a.status.is_success() && RetryPolicy::retryable(a.status) && again => {}
            Ok(a) => {
                let mut v = judge(&a, &signer.hex(request.as_bytes()));
                v.latency = Some(latency);
                v.attempts = attempts;
                return v;
            }
        }
        tokio::time::sleep(retry.backoff(attempts)).await;
    }
}

fn failed(reason: String, detail: Option<String>, attempts: u32, latency: Option<Duration>) -> Verification {
    Verification { state: State::Critical, reason: Some(reason), detail, latency, attempts }
}

/// Judges an answer against the expected lower-case hex HMAC of the challengeRequest.
pub fn judge(answer: &Answer, expected: &str) -> Verification {
    let fail = |reason: String, detail: String| failed(reason, Some(detail), 1, None);
    if !answer.status.is_success() {
        let status = answer.status;
        return fail(
            unreachable(format_args!("the handler answered HTTP {status}")),
            format!("answer body: {}", excerpt(&answer.body)),
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(&answer.body) {
        Ok(v) => v,
        Err(_) => {
            return fail(
                HMAC_FAILED.into(),
                format!("the answer is not JSON (expected {{\"verification\":\"<hex>\"}}): {}", excerpt(&answer.body)),
            )
        }
    };
    let Some(got) = value.get("verification").and_then(|v| v.as_str()) else {
        return fail(
            HMAC_FAILED.into(),
            format!("the answer has no \"verification\" string: {}", excerpt(&answer.body)),
        );
    };
    if got != expected {
        let detail = if got.eq_ignore_ascii_case(expected) {
            "the verification is right but in upper-case hex; GreenLake compares lower-case hex".to_owned()
        } else {
            "the verification is not the HMAC-SHA256 of the challengeRequest under this secret".to_owned()
        };
        return fail(HMAC_FAILED.into(), detail);
    }
    let mut remarks = Vec::new();
    if answer.status != hyper::StatusCode::OK {
        remarks.push(format!("answered {} (any 2xx passes; 200 is what GreenLake documents)", answer.status));
    }
    let json_type = answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !json_type {
        remarks.push(format!(
            "content-type is {} (GreenLake documents application/json)",
            answer.content_type.as_deref().unwrap_or("missing")
        ));
    }
    Verification {
        state: State::Active,
        reason: None,
        detail: (!remarks.is_empty()).then(|| remarks.join("; ")),
        latency: None,
        attempts: 1,
    }
}

/// The start of a body, printable and short, for showing what a handler said.
fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty)".into();
    }
    let text = String::from_utf8_lossy(body);
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
    if text.chars().count() > 200 {
        format!("{clean}...")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::StatusCode;

    const EXPECTED: &str = "4e7b31216c849c01f79d5b81a581c4415d5e381aa5f276a9c5b5fbb8da0e0c21";

    fn answer(status: u16, ct: Option<&str>, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: ct.map(str::to_owned),
            body: Bytes::from(body.to_owned()),
            retry_after: None,
        }
    }

    #[test]
    fn the_documented_answer_is_active() {
        let v =
            judge(&answer(200, Some("application/json"), &format!("{{\"verification\":\"{EXPECTED}\"}}")), EXPECTED);
        assert_eq!(v.state, State::Active);
        assert_eq!(v.reason, None);
        assert_eq!(v.detail, None);
    }

    #[test]
    fn a_201_with_extra_fields_passes_with_remarks() {
        let v = judge(&answer(201, None, &format!("{{\"verification\":\"{EXPECTED}\",\"ok\":true}}")), EXPECTED);
        assert_eq!(v.state, State::Active);
        let d = v.detail.unwrap();
        assert!(d.contains("201 Created"), "{d}");
        assert!(d.contains("content-type is missing"), "{d}");
    }

    #[test]
    fn wrong_answers_are_critical_with_greenlake_reasons() {
        let cases = [
            (answer(200, None, "{\"verification\":\"00\"}"), HMAC_FAILED, "not the HMAC-SHA256"),
            (
                answer(200, None, &format!("{{\"verification\":\"{}\"}}", EXPECTED.to_uppercase())),
                HMAC_FAILED,
                "upper-case",
            ),
            (answer(200, None, EXPECTED), HMAC_FAILED, "not JSON"),
            (answer(200, None, "{\"hmac\":1}"), HMAC_FAILED, "no \"verification\""),
            (
                answer(404, None, "not here"),
                "Webhook URL unreachable. error: the handler answered HTTP 404 Not Found",
                "answer body: not here",
            ),
        ];
        for (a, reason, detail) in cases {
            let v = judge(&a, EXPECTED);
            assert_eq!(v.state, State::Critical);
            assert_eq!(v.reason.as_deref(), Some(reason));
            assert!(v.detail.as_deref().unwrap().contains(detail), "{:?}", v.detail);
        }
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt(b""), "(empty)");
        assert_eq!(excerpt(b"a\nb\x1b"), "a b ");
        assert_eq!(excerpt("x".repeat(300).as_bytes()).len(), 203);
    }
}
