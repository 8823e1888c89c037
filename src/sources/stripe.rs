//! Stripe webhooks: the `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` header, HMAC-SHA256 over
//! `{t}.{body}`; verifying with Stripe's five-minute tolerance, signing for the simulator, and mapping an event
//! (its `id` and `type` live in the body) to a [`Delivery`].

use super::{check_tolerance, header, hmac, matching_secret, parse_event, str_field};
use super::{Delivery, Refusal, Scheme, SourceSecret};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// The only signature scheme accepted. Stripe's documentation says to ignore every other (`v0` and unknown keys)
/// so that a forged weaker signature cannot downgrade the check.
const SCHEME: &str = "v1";

/// Verifies an event against any of `secrets` (an endpoint's secret is the text shown in the dashboard, used
/// as-is: a Stripe `whsec_...` is not base64-decoded) and maps it. Any `v1` entry may match: Stripe sends one per
/// active secret while a rolled secret is still valid.
///
/// As for Standard Webhooks, the signature is checked before the timestamp, so a stale timestamp is reported
/// only for authentic events.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[SourceSecret],
    now: time::OffsetDateTime,
) -> Result<Delivery, Refusal> {
    let parsed = parse_header(header(headers, SIGNATURE_HEADER)?)?;
    let prefix = format!("{}.", parsed.timestamp);
    let verified_by =
        matching_secret(secrets, &[prefix.as_bytes(), body], &parsed.signatures).ok_or(Refusal::SignatureMismatch)?;
    check_tolerance(parsed.timestamp, now)?;

    let event = parse_event(body)?;
    let id = str_field(&event, "/id").ok_or(Refusal::MissingField("id"))?.to_owned();
    let event_type = str_field(&event, "/type").ok_or(Refusal::MissingField("type"))?.to_owned();
    // A Connect event names the connected account it happened on; others come from the platform's own account.
    let source = match str_field(&event, "/account") {
        Some(account) => format!("https://api.stripe.com/v1/accounts/{account}"),
        None => "https://api.stripe.com".to_owned(),
    };
    Ok(Delivery {
        scheme: Scheme::Stripe,
        id,
        event_type,
        source,
        user: None,
        timestamp: Some(parsed.timestamp),
        ping: false,
        event,
        verified_by,
    })
}

struct Parsed {
    timestamp: i64,
    signatures: Vec<[u8; 32]>,
}

/// Splits the header on commas into `key=value` items. Exactly one `t` is required (two could disagree about
/// what was signed); `v1` values that are not 64 hex digits are dropped, since another may be the valid one.
fn parse_header(value: &str) -> Result<Parsed, Refusal> {
    let malformed = || Refusal::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('=').ok_or_else(malformed)?;
        match key {
            "t" => {
                if timestamp.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed());
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| malformed())?);
            }
            SCHEME => {
                let mut digest = [0u8; 32];
                if hex::decode_to_slice(value, &mut digest).is_ok() {
                    signatures.push(digest);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(malformed)?;
    if signatures.is_empty() {
        return Err(Refusal::NoSignature(SCHEME));
    }
    Ok(Parsed { timestamp, signatures })
}

/// The hex `v1` signature of `body` at `timestamp`.
pub fn sign(secret: &SourceSecret, timestamp: i64, body: &[u8]) -> String {
    let prefix = format!("{timestamp}.");
    hex::encode(hmac(secret, &[prefix.as_bytes(), body]))
}

/// The `Stripe-Signature` value: `t=` then one `v1=` per secret (several while a rolled secret is still valid).
pub fn signature_header(secrets: &[SourceSecret], timestamp: i64, body: &[u8]) -> String {
    let mut out = format!("t={timestamp}");
    for secret in secrets {
        out.push_str(",v1=");
        out.push_str(&sign(secret, timestamp, body));
    }
    out
}

/// The headers Stripe attaches to an event, for the simulator.
pub fn headers(secrets: &[SourceSecret], timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    let value = HeaderValue::from_str(&signature_header(secrets, timestamp, body))
        .expect("digits, hex and ASCII punctuation form a valid header value");
    map.insert(SIGNATURE_HEADER, value);
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::VerifiedBy;

    /// Computed by the documented algorithm (HMAC-SHA256, key = the secret's text, message = `{t}.{body}`, hex)
    /// and cross-checked with an independent implementation (Python's `hmac` module).
    const SECRET: &str = "whsec_test_secret";
    const T: i64 = 1686089970;
    const BODY: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded","account":"acct_1032D82eZvKYlo2C","data":{"object":{"id":"pi_1"}}}"#;
    const V1: &str = "193c9c7d80186abe1929d7a4bf7d73d8a35a50717ba0fd90a102dd0fb5a49321";

    fn secret(text: &str) -> SourceSecret {
        SourceSecret::from_text(text).unwrap()
    }

    fn at(unix: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn signed(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn vector_signs() {
        assert_eq!(sign(&secret(SECRET), T, BODY), V1);
        assert_eq!(signature_header(&[secret(SECRET)], T, BODY), format!("t={T},v1={V1}"));
    }

    #[test]
    fn vector_verifies_and_maps_from_the_body() {
        let d = verify(&signed(&format!("t={T},v1={V1}")), BODY, &[secret(SECRET)], at(T + 10)).unwrap();
        assert_eq!(d.scheme, Scheme::Stripe);
        assert_eq!(d.id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(d.event_type, "payment_intent.succeeded");
        assert_eq!(d.source, "https://api.stripe.com/v1/accounts/acct_1032D82eZvKYlo2C");
        assert_eq!(d.timestamp, Some(T));
        assert_eq!(d.user, None);
        assert!(!d.ping);
        assert_eq!(d.dedup_key(), (Scheme::Stripe, "evt_1NG8Du2eZvKYlo2CUI79vXWy"));
    }

    #[test]
    fn several_v1_one_valid_and_v0_or_unknown_ignored() {
        let bogus = "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        let header = format!("t={T}, v0={V1}, v1={bogus}, v1=zz, v1={V1}, scheme=x");
        assert!(verify(&signed(&header), BODY, &[secret(SECRET)], at(T)).is_ok());
        // A valid digest under v0 does not count.
        let only_v0 = format!("t={T},v0={V1}");
        assert_eq!(verify(&signed(&only_v0), BODY, &[secret(SECRET)], at(T)), Err(Refusal::NoSignature("v1")));
        let none_valid = format!("t={T},v1={bogus},v1={bogus}");
        assert_eq!(verify(&signed(&none_valid), BODY, &[secret(SECRET)], at(T)), Err(Refusal::SignatureMismatch));
    }

    #[test]
    fn rolled_secrets_sign_and_verify() {
        let old = secret(SECRET);
        let new = secret("whsec_rolled");
        let headers = headers(&[new.clone(), old.clone()], T, BODY);
        assert_eq!(headers[SIGNATURE_HEADER].to_str().unwrap().matches("v1=").count(), 2);
        assert!(verify(&headers, BODY, std::slice::from_ref(&old), at(T)).is_ok());
        assert!(verify(&headers, BODY, std::slice::from_ref(&new), at(T)).is_ok());
        // Which configured secret matched: the primary whenever it does, else the secondary.
        let only_old = super::headers(std::slice::from_ref(&old), T, BODY);
        assert_eq!(
            verify(&only_old, BODY, &[new.clone(), old.clone()], at(T)).unwrap().verified_by,
            VerifiedBy::Secondary
        );
        assert_eq!(
            verify(&only_old, BODY, &[old.clone(), new.clone()], at(T)).unwrap().verified_by,
            VerifiedBy::Primary
        );
        assert_eq!(verify(&headers, BODY, &[new, old], at(T)).unwrap().verified_by, VerifiedBy::Primary);
    }

    #[test]
    fn wrong_secret_tampered_body_or_timestamp() {
        let good = format!("t={T},v1={V1}");
        assert_eq!(verify(&signed(&good), BODY, &[secret("whsec_other")], at(T)), Err(Refusal::SignatureMismatch));
        assert_eq!(
            verify(&signed(&good), br#"{"id":"evt_2","type":"x"}"#, &[secret(SECRET)], at(T)),
            Err(Refusal::SignatureMismatch)
        );
        let moved = format!("t={},v1={V1}", T + 1);
        assert_eq!(verify(&signed(&moved), BODY, &[secret(SECRET)], at(T)), Err(Refusal::SignatureMismatch));
        // The whsec_ text is the key itself, not base64 of it.
        let decoded = SourceSecret::from_whsec("whsec_dGVzdA==").unwrap();
        assert_eq!(verify(&signed(&good), BODY, &[decoded], at(T)), Err(Refusal::SignatureMismatch));
    }

    #[test]
    fn tolerance_is_five_minutes_each_way() {
        let good = signed(&format!("t={T},v1={V1}"));
        let s = [secret(SECRET)];
        assert!(verify(&good, BODY, &s, at(T + 300)).is_ok());
        assert!(verify(&good, BODY, &s, at(T - 300)).is_ok());
        assert_eq!(verify(&good, BODY, &s, at(T + 301)), Err(Refusal::TimestampOutsideTolerance));
        assert_eq!(verify(&good, BODY, &s, at(T - 301)), Err(Refusal::TimestampOutsideTolerance));
    }

    #[test]
    fn malformed_headers() {
        let s = [secret(SECRET)];
        assert_eq!(verify(&HeaderMap::new(), BODY, &s, at(T)), Err(Refusal::MissingHeader(SIGNATURE_HEADER)));
        for bad in [
            format!("v1={V1}"),
            format!("t=,v1={V1}"),
            format!("t=abc,v1={V1}"),
            format!("t=-5,v1={V1}"),
            format!("t={T},t={T},v1={V1}"),
            format!("t={T},garbage,v1={V1}"),
        ] {
            assert_eq!(
                verify(&signed(&bad), BODY, &s, at(T)),
                Err(Refusal::MalformedHeader(SIGNATURE_HEADER)),
                "{bad}"
            );
        }
        assert_eq!(verify(&signed(&format!("t={T}")), BODY, &s, at(T)), Err(Refusal::NoSignature("v1")));
        assert_eq!(verify(&signed(&format!("t={T},v1=abc")), BODY, &s, at(T)), Err(Refusal::NoSignature("v1")));
    }

    #[test]
    fn authentic_event_without_id_or_type() {
        let s = secret(SECRET);
        for (body, field) in [(&br#"{"type":"x"}"#[..], "id"), (br#"{"id":"evt_1"}"#, "type")] {
            let headers = headers(std::slice::from_ref(&s), T, body);
            let err = verify(&headers, body, std::slice::from_ref(&s), at(T)).unwrap_err();
            assert_eq!(err, Refusal::MissingField(field));
            assert_eq!(err.status(), 400);
        }
        let headers = headers(std::slice::from_ref(&s), T, br#"{"id":"evt_1","type":"charge.failed"}"#);
        let d = verify(&headers, br#"{"id":"evt_1","type":"charge.failed"}"#, &[s], at(T)).unwrap();
        assert_eq!(d.source, "https://api.stripe.com");
    }
}
