//! The verification challenge: recognising it, the oracle guard, and the answer GreenLake expects.
//!
//! Why the guard exists: deliveries are signed with HMAC-SHA256 under the same secret that answers challenges.
//! A receiver that answered any `challengeRequest` would sign whatever an attacker sent: post a "challenge" whose
//! challengeRequest is a forged event body, get its HMAC back, then deliver that body with a valid signature.
//! GreenLake's challengeRequest is a UUID. A UUID (36 characters of hex and dashes) can never be an acceptable
//! event body, which must be a JSON object or array, so answering only UUIDs closes the oracle without refusing
//! GreenLake. Anything else is refused with 400 and recorded as suspicious.

use super::signature::Signer;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default, rename = "challengeRequest")]
    challenge_request: Option<&'a RawValue>,
}

/// The `data.challengeRequest` string of a body, if it has one: that is what makes a request a challenge (the
/// event type is spelled two ways in GreenLake's documents, so it is not relied on). Scans the body without
/// building a tree, since every delivery passes through here.
pub fn challenge_request(body: &[u8]) -> Option<String> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // Most bodies are events: skip the JSON scan unless the key can be there at all. A key written with a
    // JSON escape would slip past this; GreenLake writes it plainly, and a missed challenge is only refused.
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"challengeRequest"));
    KEY.find(body)?;
    let outer: Outer = serde_json::from_slice(body).ok()?;
    let data = outer.data?;
    if !data.get().starts_with('{') {
        return None;
    }
    let data: Data = serde_json::from_str(data.get()).ok()?;
    serde_json::from_str::<String>(data.challenge_request?.get()).ok()
}

/// Decides which challengeRequest values may be answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChallengeGuard;

impl ChallengeGuard {
    /// `Ok` for the canonical UUID form (8-4-4-4-12 hex digits, either case); otherwise why it is refused.
    pub fn check(&self, request: &str) -> Result<(), &'static str> {
        if is_uuid(request) {
            Ok(())
        } else {
            Err("challengeRequest is not a UUID: refused so the secret cannot be used as a signing oracle")
        }
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The body GreenLake expects: `{"verification":"<lower-case hex HMAC-SHA256(secret, challengeRequest)>"}`.
pub fn answer_challenge(signer: &Signer, request: &str) -> (String, String) {
    let verification = signer.hex(request.as_bytes());
    let body = format!("{{\"verification\":\"{verification}\"}}");
    (verification, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenlake::Secret;

    #[test]
    fn public_challenge_vector() {
        let signer = Signer::new(&Secret::new("glwatch-demo-secret").unwrap());
        let (v, body) = answer_challenge(&signer, "8cbecfea-d708-4706-bba3-669225084a10");
        assert_eq!(v, "4e7b31216c849c01f79d5b81a581c4415d5e381aa5f276a9c5b5fbb8da0e0c21");
        assert_eq!(body, format!("{{\"verification\":\"{v}\"}}"));
    }

    #[test]
    fn guard_answers_only_uuids() {
        let g = ChallengeGuard;
        assert!(g.check("8cbecfea-d708-4706-bba3-669225084a10").is_ok());
        assert!(g.check("8CBECFEA-D708-4706-BBA3-669225084A10").is_ok());
        assert!(g.check("{\"specversion\":\"1.0\"}").is_err());
        assert!(g.check("8cbecfea-d708-4706-bba3-669225084a1").is_err());
        assert!(g.check("8cbecfead7084706bba3669225084a10xxxx").is_err());
        assert!(g.check("").is_err());
    }

    #[test]
    fn recognises_challenge_by_data_challenge_request() {
        assert_eq!(challenge_request(br#"{"data":{"challengeRequest":"x"}}"#).as_deref(), Some("x"));
        assert_eq!(challenge_request(br#"{"data":{"challengeRequest":5}}"#), None);
        assert_eq!(challenge_request(br#"{"data":"challengeRequest"}"#), None);
        assert_eq!(challenge_request(br#"[{"data":{"challengeRequest":"x"}}]"#), None);
        let sample = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/challenge.json")).unwrap();
        assert_eq!(challenge_request(&sample).as_deref(), Some("8cbecfea-d708-4706-bba3-669225084a10"));
    }
}
