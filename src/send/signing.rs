//! How `glwatch send` signs a delivery: GreenLake's Hpe-Webhook-Signature, or the headers of another provider's
//! scheme (GitHub, Standard Webhooks, Stripe) with a fresh delivery id and timestamp each time.

use crate::greenlake::{Secret, Signer, SIGNATURE_HEADER};
use crate::sources::{github, standard_webhooks, stripe, Scheme, SecretError, SourceSecret};
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The event name sent in `X-GitHub-Event`: generated payloads are not GitHub events, so a neutral name that
/// GitHub's own hooks also use for custom deliveries would mislead less than `push`.
pub const GITHUB_EVENT: &str = "glwatch";

/// The signature header's name, made once: from a `&str` every insert would copy it, a name `http` does not know.
const GREENLAKE_SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

pub enum Signing {
    GreenLake(Signer),
    Other { scheme: Scheme, secret: SourceSecret },
}

impl Signing {
    /// Signs with `secret` under `scheme`; a Standard Webhooks secret is `whsec_` and base64.
    pub fn new(scheme: Scheme, secret: &Secret) -> Result<Signing, SecretError> {
        Ok(match scheme {
            Scheme::GreenLake => Signing::GreenLake(Signer::new(secret)),
            Scheme::StandardWebhooks => Signing::Other { scheme, secret: SourceSecret::from_whsec(secret.expose())? },
            _ => Signing::Other { scheme, secret: SourceSecret::from_text(secret.expose())? },
        })
    }

    /// Whether signing the same body again gives the same headers (GreenLake's scheme has no id or timestamp).
    pub fn body_only(&self) -> bool {
        matches!(self, Signing::GreenLake(_))
    }

    /// The signature headers for `body`, signed now, with room for the few a request adds (host, content type,
    /// credential) so the map sent is this one.
    pub fn headers(&self, body: &[u8]) -> HeaderMap {
        let now = || time::OffsetDateTime::now_utc().unix_timestamp();
        match self {
            Signing::GreenLake(signer) => {
                let mut headers = HeaderMap::with_capacity(4);
                // Hex digits after `sha256=`: always a valid header value, taken over without a copy.
                if let Ok(value) = HeaderValue::try_from(signer.header(body)) {
                    headers.insert(GREENLAKE_SIGNATURE, value);
                }
                headers
            }
            Signing::Other { scheme: Scheme::GitHub, secret } => {
                github::headers(secret, &random_id(""), GITHUB_EVENT, body).unwrap_or_default()
            }
            Signing::Other { scheme: Scheme::StandardWebhooks, secret } => {
                standard_webhooks::headers(std::slice::from_ref(secret), &random_id("msg_"), now(), body)
                    .unwrap_or_default()
            }
            Signing::Other { secret, .. } => stripe::headers(std::slice::from_ref(secret), now(), body),
        }
    }
}

/// A fresh delivery id: `prefix` and 32 random hex digits.
fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is still unique enough for a test delivery within a run.
    if getrandom::getrandom(&mut bytes).is_err() {
        bytes = time::OffsetDateTime::now_utc().unix_timestamp_nanos().to_le_bytes();
    }
    format!("{prefix}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_signs_what_its_verifier_accepts() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"id":"evt_1","type":"charge.succeeded","specversion":"1.0","source":"s"}"#;
        let now = time::OffsetDateTime::now_utc();
        for scheme in [Scheme::GitHub, Scheme::StandardWebhooks, Scheme::Stripe] {
            let signing = Signing::new(scheme, &secret).unwrap();
            let Signing::Other { secret: key, .. } = &signing else { panic!("not greenlake") };
            let headers = signing.headers(body);
            let verified = crate::sources::verify(scheme, &headers, body, std::slice::from_ref(key), now).unwrap();
            assert!(verified.is_ok(), "{scheme}: {verified:?}");
        }
        let headers = Signing::new(Scheme::GreenLake, &secret).unwrap().headers(body);
        assert!(headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap().starts_with("sha256="));
    }
}
