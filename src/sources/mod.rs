//! Webhook sources beside GreenLake: which signature scheme a delivery uses, the secret type they share, what a
//! verified delivery yields and why one is refused.
//!
//! Every scheme here verifies over the raw body bytes in constant time and hands back the same [`Delivery`], so
//! the request handler can record a GitHub push, a Standard Webhooks message or a Stripe event like a GreenLake
//! CloudEvent. The current time is always passed in, so replay checks are deterministic under test.

pub mod binary;
pub mod config;
pub mod github;
pub mod standard_webhooks;
pub mod stripe;

use crate::record::VerifiedBy;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::fmt;
use std::str::FromStr;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from the receiver's clock, either way, before the delivery is treated as a
/// replay. Five minutes is what both Standard Webhooks' and Stripe's reference libraries use.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The signature scheme a source uses; spelled on the command line as `greenlake`, `github`, `standard-webhooks`
/// and `stripe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    GreenLake,
    GitHub,
    StandardWebhooks,
    Stripe,
}

impl Scheme {
    pub const ALL: [Scheme; 4] = [Scheme::GreenLake, Scheme::GitHub, Scheme::StandardWebhooks, Scheme::Stripe];

    /// The spelling `FromStr` accepts and `Display` writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::GreenLake => "greenlake",
            Scheme::GitHub => "github",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Stripe => "stripe",
        }
    }

    /// Whether the scheme signs a timestamp, so that replays outside [`TOLERANCE_SECS`] can be refused.
    pub fn has_timestamp(self) -> bool {
        matches!(self, Scheme::StandardWebhooks | Scheme::Stripe)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme {0:?} (expected greenlake, github, standard-webhooks or stripe)")]
pub struct UnknownScheme(pub String);

impl FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Scheme, UnknownScheme> {
        Scheme::ALL.into_iter().find(|scheme| scheme.as_str() == s).ok_or_else(|| UnknownScheme(s.to_owned()))
    }
}

/// A signing key as raw bytes. `Debug` never shows it, so it cannot leak through a log line or a panic message.
///
/// The schemes disagree on what the configured text means: GitHub and Stripe use the text's bytes as the HMAC key
/// (a Stripe `whsec_...` secret included), Standard Webhooks base64-decodes what follows `whsec_`. Hence two
/// constructors instead of one that guesses from the prefix.
///
/// No `PartialEq`: comparing secrets with `==` would not be constant time.
#[derive(Clone)]
pub struct SourceSecret(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret is empty")]
    Empty,
    #[error("a Standard Webhooks secret is whsec_ followed by base64")]
    NotBase64,
}

impl SourceSecret {
    /// The text's bytes are the key (GitHub, Stripe).
    pub fn from_text(text: &str) -> Result<SourceSecret, SecretError> {
        SourceSecret::from_bytes(text.as_bytes().to_vec())
    }

    /// The key bytes themselves.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SourceSecret, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(SourceSecret(bytes))
    }

    /// A Standard Webhooks secret: `whsec_` and the base64 of the key. The prefix is optional, as in the reference
    /// libraries, because some dashboards show only the base64 part.
    pub fn from_whsec(text: &str) -> Result<SourceSecret, SecretError> {
        use base64::Engine;
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let key = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        SourceSecret::from_bytes(key)
    }

    /// The key bytes, for the few places that must use them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for SourceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceSecret(<redacted>)")
    }
}

/// A verified delivery, mapped to the fields every record has whatever the scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub scheme: Scheme,
    /// The scheme's delivery id (`X-GitHub-Delivery`, `webhook-id`, the Stripe event's `id`): the dedup key,
    /// together with `scheme`.
    pub id: String,
    /// The event type: `github.pull_request.opened` for GitHub, the body's `type` for the others.
    pub event_type: String,
    pub source: String,
    pub user: Option<String>,
    /// The signed timestamp, seconds since the epoch, for the schemes that have one.
    pub timestamp: Option<i64>,
    /// The event payload as received, parsed.
    pub event: Value,
    /// A liveness check rather than an event (GitHub's `ping`): answered and shown like a GreenLake challenge.
    pub ping: bool,
    /// Which configured secret the signature matched: `secondary` during a rotation.
    pub verified_by: VerifiedBy,
}

impl Delivery {
    /// The duplicate-detection key: a retry keeps its id, and ids of different schemes never collide.
    pub fn dedup_key(&self) -> (Scheme, &str) {
        (self.scheme, &self.id)
    }
}

/// Why a delivery was refused. The `Display` text is short and names the reason, for the rejected record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    #[error("no {0} signature in the signature header")]
    NoSignature(&'static str),
    #[error("signature mismatch")]
    SignatureMismatch,
    #[error("timestamp outside tolerance")]
    TimestampOutsideTolerance,
    #[error("body is not a JSON object")]
    NotJson,
    #[error("body is nested too deeply")]
    TooDeep,
    #[error("event has no {0}")]
    MissingField(&'static str),
}

impl Refusal {
    /// The HTTP status to answer with: 401 for anything about authenticity (a missing header, a bad signature, a
    /// replay), 400 for a delivery that is authentic but cannot be read as an event.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotJson | Refusal::TooDeep | Refusal::MissingField(_) => 400,
            _ => 401,
        }
    }

    /// The reason for the rejected record.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

/// Verifies a delivery under `scheme` and maps it; `None` for GreenLake, whose CloudEvent bodies, batches and
/// verification challenge stay with [`crate::greenlake`] and the pipeline.
pub fn verify(
    scheme: Scheme,
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &[SourceSecret],
    now: time::OffsetDateTime,
) -> Option<Result<Delivery, Refusal>> {
    match scheme {
        Scheme::GreenLake => None,
        Scheme::GitHub => Some(github::verify(headers, body, secrets)),
        Scheme::StandardWebhooks => Some(standard_webhooks::verify(headers, body, secrets, now)),
        Scheme::Stripe => Some(stripe::verify(headers, body, secrets, now)),
    }
}

/// One header's value as text; absent and non-ASCII values are refused with the header's name.
pub(crate) fn header<'a>(headers: &'a http::HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    let value = headers.get(name).ok_or(Refusal::MissingHeader(name))?;
    let text = value.to_str().map_err(|_| Refusal::MalformedHeader(name))?.trim();
    if text.is_empty() {
        return Err(Refusal::MissingHeader(name));
    }
    Ok(text)
}

/// Refuses a signed timestamp further than [`TOLERANCE_SECS`] from `now`, in either direction: a future one is as
/// suspect as an old one, since a sender's clock is not that far ahead.
pub(crate) fn check_tolerance(timestamp: i64, now: time::OffsetDateTime) -> Result<(), Refusal> {
    if now.unix_timestamp().abs_diff(timestamp) > TOLERANCE_SECS as u64 {
        return Err(Refusal::TimestampOutsideTolerance);
    }
    Ok(())
}

/// Parses a verified body into the event: a JSON object, inside the depth every reader of the journal accepts.
pub(crate) fn parse_event(body: &[u8]) -> Result<Value, Refusal> {
    if crate::cloudevent::nesting_depth(body) > crate::cloudevent::MAX_DEPTH {
        return Err(Refusal::TooDeep);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Refusal::NotJson),
    }
}

/// A string member of an event, when present and non-empty.
pub(crate) fn str_field<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Which secret signed `message` with one of `candidates`: the primary (the first secret) when it matches any
/// candidate, else the secondary, as GreenLake's verifier answers. Every comparison is constant time; stopping at
/// the first match only tells which secret matched, never anything about a secret.
pub(crate) fn matching_secret<C: AsRef<[u8]>>(
    secrets: &[SourceSecret],
    message: &[&[u8]],
    candidates: &[C],
) -> Option<VerifiedBy> {
    let index = secrets.iter().position(|secret| {
        let mut mac = secret.mac();
        for part in message {
            mac.update(part);
        }
        candidates.iter().any(|candidate| mac.clone().verify_slice(candidate.as_ref()).is_ok())
    })?;
    Some(if index == 0 { VerifiedBy::Primary } else { VerifiedBy::Secondary })
}

/// HMAC-SHA256 of the concatenated parts.
pub(crate) fn hmac(secret: &SourceSecret, message: &[&[u8]]) -> [u8; 32] {
    let mut mac = secret.mac();
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Percent-decodes `input` (`%XY`, either case of hex digit), and `+` as a space when `plus_is_space` (HTML form
/// encoding). `None` for a `%` not followed by two hex digits. UTF-8 is the caller's concern.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                let mut byte = [0u8];
                hex::decode_to_slice(hex, &mut byte).ok()?;
                out.push(byte[0]);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The media type of a `Content-Type` value, lower-cased and without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_spellings_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.as_str().parse::<Scheme>(), Ok(scheme));
            assert_eq!(scheme.to_string(), scheme.as_str());
        }
        assert_eq!("standard-webhooks".parse::<Scheme>(), Ok(Scheme::StandardWebhooks));
        assert!("GitHub".parse::<Scheme>().is_err());
        assert!("standard_webhooks".parse::<Scheme>().is_err());
        assert!(Scheme::Stripe.has_timestamp() && !Scheme::GitHub.has_timestamp());
    }

    #[test]
    fn secrets_never_print() {
        let secret = SourceSecret::from_text("hunter2-hunter2").unwrap();
        assert_eq!(format!("{secret:?}"), "SourceSecret(<redacted>)");
        assert!(!format!("{:?}", Some(&secret)).contains("hunter2"));
        assert_eq!(SourceSecret::from_text("").unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn whsec_secrets_decode_with_or_without_prefix() {
        let a = SourceSecret::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = SourceSecret::from_whsec("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 24);
        assert_eq!(SourceSecret::from_whsec("whsec_not base64!").unwrap_err(), SecretError::NotBase64);
        assert_eq!(SourceSecret::from_whsec("whsec_").unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn tolerance_is_five_minutes_each_way() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert!(check_tolerance(1_700_000_000 - 300, now).is_ok());
        assert!(check_tolerance(1_700_000_000 + 300, now).is_ok());
        assert_eq!(check_tolerance(1_700_000_000 - 301, now), Err(Refusal::TimestampOutsideTolerance));
        assert_eq!(check_tolerance(1_700_000_000 + 301, now), Err(Refusal::TimestampOutsideTolerance));
        assert_eq!(check_tolerance(i64::MIN, now), Err(Refusal::TimestampOutsideTolerance));
    }

    #[test]
    fn refusal_reasons_are_short_and_statuses_split_auth_from_content() {
        assert_eq!(Refusal::SignatureMismatch.reason(), "signature mismatch");
        assert_eq!(Refusal::TimestampOutsideTolerance.reason(), "timestamp outside tolerance");
        assert_eq!(Refusal::MissingHeader("webhook-id").reason(), "missing webhook-id header");
        assert_eq!(Refusal::SignatureMismatch.status(), 401);
        assert_eq!(Refusal::MissingHeader("x").status(), 401);
        assert_eq!(Refusal::NotJson.status(), 400);
        assert_eq!(Refusal::MissingField("id").status(), 400);
    }

    #[test]
    fn events_must_be_objects_within_the_depth_limit() {
        assert!(parse_event(br#"{"a":1}"#).is_ok());
        assert_eq!(parse_event(b"[1]"), Err(Refusal::NotJson));
        assert_eq!(parse_event(b"nope"), Err(Refusal::NotJson));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse_event(deep.as_bytes()), Err(Refusal::TooDeep));
    }

    #[test]
    fn dispatch_reaches_each_scheme() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let secret = SourceSecret::from_text("dispatch-secret").unwrap();
        let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
        let secrets = std::slice::from_ref(&secret);
        let github = github::headers(&secret, "d-1", "push", body).unwrap();
        let standard = standard_webhooks::headers(secrets, "msg_1", 1_700_000_000, body).unwrap();
        let stripe = stripe::headers(secrets, 1_700_000_000, body);
        assert_eq!(verify(Scheme::GitHub, &github, body, secrets, now).unwrap().unwrap().id, "d-1");
        assert_eq!(verify(Scheme::StandardWebhooks, &standard, body, secrets, now).unwrap().unwrap().id, "msg_1");
        assert_eq!(verify(Scheme::Stripe, &stripe, body, secrets, now).unwrap().unwrap().id, "evt_1");
        // Each scheme refuses the others' headers, naming what it misses.
        assert_eq!(
            verify(Scheme::Stripe, &github, body, secrets, now).unwrap().unwrap_err().reason(),
            "missing stripe-signature header"
        );
        assert!(verify(Scheme::GreenLake, &github, body, secrets, now).is_none());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b%2fc%2F", false).unwrap(), b"a b/c/");
        assert_eq!(percent_decode(b"a+b", false).unwrap(), b"a+b");
        assert_eq!(percent_decode(b"a+b", true).unwrap(), b"a b");
        assert_eq!(percent_decode(b"%4", false), None);
        assert_eq!(percent_decode(b"%zz", false), None);
        assert_eq!(media_type("Application/JSON; charset=utf-8"), "application/json");
    }
}
