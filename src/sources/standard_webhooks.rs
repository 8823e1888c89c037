//! Standard Webhooks (standardwebhooks.com, as sent by Svix and others): `webhook-id`, `webhook-timestamp` and a
//! space-separated `webhook-signature` list of `v1,<base64 HMAC-SHA256>` entries over `{id}.{timestamp}.{body}`;
//! verifying, signing for the simulator, and mapping a message to a [`Delivery`].

use super::{check_tolerance, header, hmac, matching_secret, parse_event, str_field};
use super::{Delivery, Refusal, Scheme, SourceSecret};
use base64::Engine;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The version tag of a symmetric (HMAC-SHA256) signature. `v1a` (ed25519) entries are skipped: they need a
/// public key this receiver is not given.
const VERSION: &str = "v1";

/// The type recorded when a payload has no `type` member: the spec recommends one but does not require it.
pub const UNTYPED: &str = "webhook";

/// Verifies a message against any of `secrets` and maps it. Any `v1` entry of the signature list may match, which
/// is how senders rotate secrets without downtime.
///
/// The signature is checked before the timestamp, so "timestamp outside tolerance" is only ever said of an
/// authentic message (a replay or a badly wrong clock), never of a forgery.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[SourceSecret],
    now: time::OffsetDateTime,
) -> Result<Delivery, Refusal> {
    let id = header(headers, ID_HEADER)?;
    // The signed content is dot-separated; the spec forbids dots in the id so that the id/timestamp/body
    // boundaries cannot be shifted to reuse a signature.
    if id.contains('.') {
        return Err(Refusal::MalformedHeader(ID_HEADER));
    }
    let timestamp = parse_timestamp(header(headers, TIMESTAMP_HEADER)?)?;
    let signatures = header(headers, SIGNATURE_HEADER)?;

    let signed_prefix = format!("{id}.{timestamp}.");
    let mut any_v1 = false;
    // Bounded by the header's size, which hyper limits.
    let mut candidates = Vec::new();
    for entry in signatures.split(' ').filter(|e| !e.is_empty()) {
        let Some((VERSION, encoded)) = entry.split_once(',') else { continue };
        any_v1 = true;
        // An entry that is not base64 cannot match; it is skipped rather than refusing the message, since another
        // entry may be the valid one.
        if let Ok(candidate) = base64::engine::general_purpose::STANDARD.decode(encoded) {
            candidates.push(candidate);
        }
    }
    if !any_v1 {
        return Err(Refusal::NoSignature(VERSION));
    }
    let verified_by =
        matching_secret(secrets, &[signed_prefix.as_bytes(), body], &candidates).ok_or(Refusal::SignatureMismatch)?;
    check_tolerance(timestamp, now)?;

    let event = parse_event(body)?;
    Ok(Delivery {
        scheme: Scheme::StandardWebhooks,
        id: id.to_owned(),
        event_type: str_field(&event, "/type").unwrap_or(UNTYPED).to_owned(),
        // The scheme has no notion of a source; the handler may replace this with the endpoint's own label.
        source: Scheme::StandardWebhooks.as_str().to_owned(),
        user: None,
        timestamp: Some(timestamp),
        ping: false,
        event,
        verified_by,
    })
}

/// Seconds since the epoch, as plain ASCII digits. Signs and sign-less forms are refused: the reference libraries
/// sign the number as they print it, so `+5` or `05` could never verify anyway.
fn parse_timestamp(text: &str) -> Result<i64, Refusal> {
    let malformed = Refusal::MalformedHeader(TIMESTAMP_HEADER);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return Err(malformed);
    }
    text.parse().map_err(|_| malformed)
}

/// One `v1,<base64>` signature entry.
pub fn sign(secret: &SourceSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let prefix = format!("{id}.{timestamp}.");
    let digest = hmac(secret, &[prefix.as_bytes(), body]);
    format!("{VERSION},{}", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The `webhook-signature` value: one entry per secret, space-separated (several during a rotation).
pub fn signature_header(secrets: &[SourceSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|secret| sign(secret, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// The headers a Standard Webhooks sender attaches to a JSON message, for the simulator. The id must be visible
/// ASCII without dots.
pub fn headers(secrets: &[SourceSecret], id: &str, timestamp: i64, body: &[u8]) -> Result<HeaderMap, Refusal> {
    if id.contains('.') {
        return Err(Refusal::MalformedHeader(ID_HEADER));
    }
    let id_value = HeaderValue::from_str(id).map_err(|_| Refusal::MalformedHeader(ID_HEADER))?;
    let signatures = HeaderValue::from_str(&signature_header(secrets, id, timestamp, body))
        .map_err(|_| Refusal::MalformedHeader(SIGNATURE_HEADER))?;
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(ID_HEADER, id_value);
    map.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    map.insert(SIGNATURE_HEADER, signatures);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::VerifiedBy;

    /// The vector of the reference libraries' "sign function works" test (standard-webhooks/standard-webhooks,
    /// libraries/javascript/src/webhook.test.ts; the same values appear in Svix's libraries).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// The Rust reference library's `test_sign` vector (standard-webhooks/standard-webhooks, libraries/rust).
    const RUST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const RUST_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const RUST_TIMESTAMP: i64 = 1649367553;
    const RUST_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const RUST_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn secret(text: &str) -> SourceSecret {
        SourceSecret::from_whsec(text).unwrap()
    }

    fn at(unix: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn message(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(ID_HEADER, HeaderValue::from_str(id).unwrap());
        map.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        map.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        map
    }

    fn spec_message(signature: &str) -> HeaderMap {
        message(SPEC_ID, &SPEC_TIMESTAMP.to_string(), signature)
    }

    #[test]
    fn published_vectors_sign() {
        assert_eq!(sign(&secret(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
        assert_eq!(sign(&secret(RUST_SECRET), RUST_ID, RUST_TIMESTAMP, RUST_BODY), RUST_SIGNATURE);
    }

    #[test]
    fn published_vector_verifies_and_maps() {
        let d = verify(&spec_message(SPEC_SIGNATURE), SPEC_BODY, &[secret(SPEC_SECRET)], at(SPEC_TIMESTAMP)).unwrap();
        assert_eq!(d.scheme, Scheme::StandardWebhooks);
        assert_eq!(d.id, SPEC_ID);
        assert_eq!(d.timestamp, Some(SPEC_TIMESTAMP));
        assert_eq!(d.event_type, UNTYPED);
        assert_eq!(d.event["test"], 2432232314u64);
        assert_eq!(d.user, None);
        let rust = message(RUST_ID, &RUST_TIMESTAMP.to_string(), RUST_SIGNATURE);
        assert!(verify(&rust, RUST_BODY, &[secret(RUST_SECRET)], at(RUST_TIMESTAMP)).is_ok());
    }

    #[test]
    fn body_type_becomes_the_event_type() {
        let s = secret(SPEC_SECRET);
        let body = br#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"x"}}"#;
        let headers = headers(std::slice::from_ref(&s), "msg_1", 1_700_000_000, body).unwrap();
        let d = verify(&headers, body, &[s], at(1_700_000_000)).unwrap();
        assert_eq!(d.event_type, "invoice.paid");
    }

    #[test]
    fn several_signatures_one_valid() {
        // Mirrors the reference "multi sig payload is valid" test: other versions and wrong v1 entries around
        // the valid one.
        let list = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= \
             v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== \
             v1,not-base64! {SPEC_SIGNATURE} v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        );
        assert!(verify(&spec_message(&list), SPEC_BODY, &[secret(SPEC_SECRET)], at(SPEC_TIMESTAMP)).is_ok());
        let without = list.replace(SPEC_SIGNATURE, "");
        assert_eq!(
            verify(&spec_message(&without), SPEC_BODY, &[secret(SPEC_SECRET)], at(SPEC_TIMESTAMP)),
            Err(Refusal::SignatureMismatch)
        );
    }

    #[test]
    fn rotation_signs_with_every_secret_and_verifies_with_either() {
        let old = secret(SPEC_SECRET);
        let new = secret(RUST_SECRET);
        let headers = headers(&[new.clone(), old.clone()], "msg_2", SPEC_TIMESTAMP, SPEC_BODY).unwrap();
        let value = headers[SIGNATURE_HEADER].to_str().unwrap();
        assert_eq!(value.split(' ').count(), 2);
        assert!(verify(&headers, SPEC_BODY, std::slice::from_ref(&old), at(SPEC_TIMESTAMP)).is_ok());
        assert!(verify(&headers, SPEC_BODY, std::slice::from_ref(&new), at(SPEC_TIMESTAMP)).is_ok());
        // The record says which configured secret matched: the primary whenever it does.
        let by =
            |secrets: &[SourceSecret], headers: &HeaderMap| verify(headers, SPEC_BODY, secrets, at(SPEC_TIMESTAMP));
        assert_eq!(by(&[old.clone(), new.clone()], &headers).unwrap().verified_by, VerifiedBy::Primary);
        let only_old = super::headers(std::slice::from_ref(&old), "msg_2", SPEC_TIMESTAMP, SPEC_BODY).unwrap();
        assert_eq!(by(&[new.clone(), old.clone()], &only_old).unwrap().verified_by, VerifiedBy::Secondary);
        assert_eq!(by(&[old, new], &only_old).unwrap().verified_by, VerifiedBy::Primary);
    }

    #[test]
    fn wrong_secret_or_tampered_content_is_a_mismatch() {
        let right = [secret(SPEC_SECRET)];
        let wrong = [secret(RUST_SECRET)];
        let now = at(SPEC_TIMESTAMP);
        assert_eq!(verify(&spec_message(SPEC_SIGNATURE), SPEC_BODY, &wrong, now), Err(Refusal::SignatureMismatch));
        assert_eq!(
            verify(&spec_message(SPEC_SIGNATURE), br#"{"test": 2432232315}"#, &right, now),
            Err(Refusal::SignatureMismatch)
        );
        // The id and timestamp are signed too.
        let other_id = message("msg_other", &SPEC_TIMESTAMP.to_string(), SPEC_SIGNATURE);
        assert_eq!(verify(&other_id, SPEC_BODY, &right, now), Err(Refusal::SignatureMismatch));
        let other_ts = message(SPEC_ID, &(SPEC_TIMESTAMP + 1).to_string(), SPEC_SIGNATURE);
        assert_eq!(verify(&other_ts, SPEC_BODY, &right, now), Err(Refusal::SignatureMismatch));
    }

    #[test]
    fn expired_and_future_timestamps_are_replays() {
        let right = [secret(SPEC_SECRET)];
        let headers = spec_message(SPEC_SIGNATURE);
        assert!(verify(&headers, SPEC_BODY, &right, at(SPEC_TIMESTAMP + 300)).is_ok());
        assert!(verify(&headers, SPEC_BODY, &right, at(SPEC_TIMESTAMP - 300)).is_ok());
        let late = verify(&headers, SPEC_BODY, &right, at(SPEC_TIMESTAMP + 301)).unwrap_err();
        assert_eq!(late, Refusal::TimestampOutsideTolerance);
        assert_eq!(late.reason(), "timestamp outside tolerance");
        assert_eq!(
            verify(&headers, SPEC_BODY, &right, at(SPEC_TIMESTAMP - 301)),
            Err(Refusal::TimestampOutsideTolerance)
        );
        // A forgery with a stale timestamp is reported as what it is.
        let forged = message(SPEC_ID, "1000", SPEC_SIGNATURE);
        assert_eq!(verify(&forged, SPEC_BODY, &right, at(SPEC_TIMESTAMP)), Err(Refusal::SignatureMismatch));
    }

    #[test]
    fn malformed_and_missing_headers() {
        let right = [secret(SPEC_SECRET)];
        let now = at(SPEC_TIMESTAMP);
        for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let mut headers = spec_message(SPEC_SIGNATURE);
            headers.remove(name);
            assert_eq!(verify(&headers, SPEC_BODY, &right, now), Err(Refusal::MissingHeader(name)));
        }
        assert_eq!(Refusal::MissingHeader(ID_HEADER).reason(), "missing webhook-id header");
        for bad in ["hello", "-1614265330", "+1614265330", "01614265330", "1614265330.5", "99999999999999999999"] {
            let headers = message(SPEC_ID, bad, SPEC_SIGNATURE);
            assert_eq!(
                verify(&headers, SPEC_BODY, &right, now),
                Err(Refusal::MalformedHeader(TIMESTAMP_HEADER)),
                "{bad}"
            );
        }
        let dotted = message("msg.1", &SPEC_TIMESTAMP.to_string(), SPEC_SIGNATURE);
        assert_eq!(verify(&dotted, SPEC_BODY, &right, now), Err(Refusal::MalformedHeader(ID_HEADER)));
        for no_v1 in ["g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v2,abc", "v1a,abc"] {
            assert_eq!(
                verify(&spec_message(no_v1), SPEC_BODY, &right, now),
                Err(Refusal::NoSignature("v1")),
                "{no_v1}"
            );
        }
        // Truncated entries are present but cannot match (the reference "partial signature" test).
        for partial in ["v1,", "v1,g0hM9SsE", &SPEC_SIGNATURE[..SPEC_SIGNATURE.len() - 2]] {
            assert_eq!(verify(&spec_message(partial), SPEC_BODY, &right, now), Err(Refusal::SignatureMismatch));
        }
        assert!(headers(&right, "msg.1", SPEC_TIMESTAMP, SPEC_BODY).is_err());
    }
}
