//! GitHub webhooks: the `X-Hub-Signature-256: sha256=<hex>` signature over the raw body, signing it for the
//! simulator, and mapping a delivery (`X-GitHub-Delivery`, `X-GitHub-Event`, the `ping` check) to a [`Delivery`].

use super::{header, hmac, matching_secret, media_type, parse_event, str_field};
use super::{Delivery, Refusal, Scheme, SourceSecret};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub const EVENT_HEADER: &str = "x-github-event";

/// The event GitHub sends when a hook is created (and when a ping is requested): it proves the endpoint works and
/// carries no event, like GreenLake's verification challenge.
pub const PING_EVENT: &str = "ping";

/// Verifies a delivery against any of `secrets` (more than one during a rotation) and maps it.
///
/// GitHub signs no timestamp, so a replay cannot be told from a retry here: dedup by the delivery id (which a
/// redelivery keeps) is the only defence, and the caller does it with [`Delivery::dedup_key`].
pub fn verify(headers: &HeaderMap, body: &[u8], secrets: &[SourceSecret]) -> Result<Delivery, Refusal> {
    let signature = header(headers, SIGNATURE_HEADER)?;
    let digest = parse_signature(signature)?;
    let verified_by = matching_secret(secrets, &[body], &[digest]).ok_or(Refusal::SignatureMismatch)?;
    let id = header(headers, DELIVERY_HEADER)?.to_owned();
    let event_name = header(headers, EVENT_HEADER)?;
    let event = parse_event(&payload(headers, body)?)?;

    let event_type = match str_field(&event, "/action") {
        Some(action) => format!("github.{event_name}.{action}"),
        None => format!("github.{event_name}"),
    };
    Ok(Delivery {
        scheme: Scheme::GitHub,
        id,
        event_type,
        source: source(&event),
        user: str_field(&event, "/sender/login").map(str::to_owned),
        timestamp: None,
        ping: event_name == PING_EVENT,
        event,
        verified_by,
    })
}

/// `sha256=` and 64 hex digits (either case) → the digest.
fn parse_signature(value: &str) -> Result<[u8; 32], Refusal> {
    let malformed = Refusal::MalformedHeader(SIGNATURE_HEADER);
    let digits = value.strip_prefix("sha256=").ok_or_else(|| malformed.clone())?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(digits, &mut digest).map_err(|_| malformed)?;
    Ok(digest)
}

/// The JSON payload: the body itself, or its `payload` field when the hook is configured for
/// `application/x-www-form-urlencoded` (GitHub's other content type). The signature covers the body as sent
/// either way, so this runs only after it is checked.
fn payload<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, Refusal> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(media_type);
    if content_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    body.split(|b| *b == b'&')
        .find_map(|pair| pair.strip_prefix(b"payload="))
        .and_then(|value| super::percent_decode(value, true))
        .map(std::borrow::Cow::Owned)
        .ok_or(Refusal::NotJson)
}

/// Where the event happened: the repository's page, else the organization's, else GitHub itself (an app or
/// enterprise hook with neither).
fn source(event: &serde_json::Value) -> String {
    if let Some(url) = str_field(event, "/repository/html_url") {
        return url.to_owned();
    }
    if let Some(login) = str_field(event, "/organization/login") {
        return format!("https://github.com/{login}");
    }
    "https://github.com".to_owned()
}

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign(secret: &SourceSecret, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret, &[body])))
}

/// The headers GitHub sends with a JSON delivery, for the simulator. `delivery_id` and `event` must be visible
/// ASCII (a GUID and an event name are).
pub fn headers(secret: &SourceSecret, delivery_id: &str, event: &str, body: &[u8]) -> Result<HeaderMap, Refusal> {
    let value =
        |text: &str, name: &'static str| HeaderValue::from_str(text).map_err(|_| Refusal::MalformedHeader(name));
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(DELIVERY_HEADER, value(delivery_id, DELIVERY_HEADER)?);
    map.insert(EVENT_HEADER, value(event, EVENT_HEADER)?);
    map.insert(SIGNATURE_HEADER, value(&sign(secret, body), SIGNATURE_HEADER)?);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::VerifiedBy;

    /// GitHub's documented test values ("Validating webhook deliveries", docs.github.com).
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_PAYLOAD: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secret(text: &str) -> SourceSecret {
        SourceSecret::from_text(text).unwrap()
    }

    fn delivery(event: &str, signature: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(DELIVERY_HEADER, HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        map.insert(EVENT_HEADER, HeaderValue::from_str(event).unwrap());
        map.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        map
    }

    const PUSH: &[u8] = br#"{"action":"opened","number":1,"repository":{"full_name":"octo/hello","html_url":"https://github.com/octo/hello"},"sender":{"login":"octocat"}}"#;

    #[test]
    fn documented_vector_signs_and_verifies() {
        assert_eq!(sign(&secret(DOC_SECRET), DOC_PAYLOAD), DOC_SIGNATURE);
        let digest = parse_signature(DOC_SIGNATURE).unwrap();
        assert_eq!(matching_secret(&[secret(DOC_SECRET)], &[DOC_PAYLOAD], &[digest]), Some(VerifiedBy::Primary));
        assert_eq!(matching_secret(&[secret("It's a Secret to Nobody")], &[DOC_PAYLOAD], &[digest]), None);
        let rotated = [secret("It's a Secret to Nobody"), secret(DOC_SECRET)];
        assert_eq!(matching_secret(&rotated, &[DOC_PAYLOAD], &[digest]), Some(VerifiedBy::Secondary));
        // Upper-case hex digits are the same digest.
        let upper = format!("sha256={}", DOC_SIGNATURE[7..].to_uppercase());
        assert_eq!(parse_signature(&upper).unwrap(), digest);
    }

    #[test]
    fn maps_an_event_with_an_action() {
        let s = secret("s3cret-s3cret");
        let headers = delivery("pull_request", &sign(&s, PUSH));
        let d = verify(&headers, PUSH, &[s]).unwrap();
        assert_eq!(d.scheme, Scheme::GitHub);
        assert_eq!(d.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(d.event_type, "github.pull_request.opened");
        assert_eq!(d.source, "https://github.com/octo/hello");
        assert_eq!(d.user.as_deref(), Some("octocat"));
        assert_eq!(d.event["number"], 1);
        assert!(!d.ping);
        assert_eq!(d.timestamp, None);
        assert_eq!(d.dedup_key(), (Scheme::GitHub, "72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    }

    #[test]
    fn ping_is_flagged_and_typed_without_action() {
        let body = br#"{"zen":"Design for failure.","hook_id":1,"organization":{"login":"octo-org"}}"#;
        let s = secret("s3cret-s3cret");
        let d = verify(&delivery("ping", &sign(&s, body)), body, &[s]).unwrap();
        assert!(d.ping);
        assert_eq!(d.event_type, "github.ping");
        assert_eq!(d.source, "https://github.com/octo-org");
        assert_eq!(d.user, None);
    }

    #[test]
    fn rotation_accepts_either_secret() {
        let old = secret("old-secret");
        let new = secret("new-secret");
        let headers = delivery("push", &sign(&old, PUSH));
        assert!(verify(&headers, PUSH, &[new.clone(), old]).is_ok());
        assert_eq!(verify(&headers, PUSH, &[new]).unwrap_err(), Refusal::SignatureMismatch);
    }

    #[test]
    fn refusals() {
        let s = secret("s3cret-s3cret");
        let good = sign(&s, PUSH);
        // Wrong secret, and a body changed after signing.
        let wrong = sign(&secret("other"), PUSH);
        assert_eq!(verify(&delivery("push", &wrong), PUSH, std::slice::from_ref(&s)), Err(Refusal::SignatureMismatch));
        let tampered = br#"{"action":"closed"}"#;
        assert_eq!(
            verify(&delivery("push", &good), tampered, std::slice::from_ref(&s)),
            Err(Refusal::SignatureMismatch)
        );
        // Malformed signature headers.
        for bad in ["", "sha1=abc", &good[7..], "sha256=xyz", &good[..70], &format!("{good}00")] {
            let mut headers = delivery("push", &good);
            headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(bad).unwrap());
            let err = verify(&headers, PUSH, std::slice::from_ref(&s)).unwrap_err();
            assert!(matches!(err, Refusal::MalformedHeader(_) | Refusal::MissingHeader(_)), "{bad}: {err}");
        }
        // Missing headers each name themselves.
        for name in [SIGNATURE_HEADER, DELIVERY_HEADER, EVENT_HEADER] {
            let mut headers = delivery("push", &good);
            headers.remove(name);
            assert_eq!(verify(&headers, PUSH, std::slice::from_ref(&s)), Err(Refusal::MissingHeader(name)));
        }
        assert_eq!(Refusal::MissingHeader(DELIVERY_HEADER).reason(), "missing x-github-delivery header");
        // Authentic but not an event.
        let body = b"not json";
        assert_eq!(verify(&delivery("push", &sign(&s, body)), body, &[s]), Err(Refusal::NotJson));
    }

    #[test]
    fn form_encoded_payload_is_unwrapped_after_the_signature_over_the_raw_body() {
        let body = b"payload=%7B%22action%22%3A%22created%22%2C%22sender%22%3A%7B%22login%22%3A%22a+b%22%7D%7D";
        let s = secret("s3cret-s3cret");
        let mut headers = delivery("star", &sign(&s, body));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let d = verify(&headers, body, &[s]).unwrap();
        assert_eq!(d.event_type, "github.star.created");
        assert_eq!(d.user.as_deref(), Some("a b"));
    }

    #[test]
    fn simulator_headers_verify() {
        let s = secret("s3cret-s3cret");
        let headers = headers(&s, "abc-123", "push", PUSH).unwrap();
        let d = verify(&headers, PUSH, &[s]).unwrap();
        assert_eq!(d.id, "abc-123");
        assert_eq!(d.event_type, "github.push.opened");
        assert!(super::headers(&secret("x"), "bad\nid", "push", PUSH).is_err());
    }
}
