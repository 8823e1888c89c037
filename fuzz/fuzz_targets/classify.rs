//! Fuzzes what the handler does with a request's signature header and body: challenge recognition, the oracle
//! guard, signature verification and event parsing. Asserts the guard never answers an acceptable event body.
#![no_main]

use glwatch::cloudevent::parse_body;
use glwatch::greenlake::{answer_challenge, challenge_request, ChallengeGuard, Secret, Signer, Verifier};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Keys {
    verifier: Verifier,
    signer: Signer,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let primary = Secret::new("glwatch-demo-secret").unwrap();
        let secondary = Secret::new("the-next-secret").unwrap();
        Keys { verifier: Verifier::new(&primary, Some(&secondary)), signer: Signer::new(&primary) }
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte says how much of the rest is the signature header; the remainder is the body.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (header, body) = rest.split_at((n as usize % 100).min(rest.len()));
    let keys = keys();
    if let Some(request) = challenge_request(body) {
        if ChallengeGuard.check(&request).is_ok() {
            assert!(parse_body(request.as_bytes()).is_err(), "the guard answered an acceptable body: {request:?}");
            let (verification, answer) = answer_challenge(&keys.signer, &request);
            assert_eq!(verification.len(), 64);
            assert!(answer.contains(&verification));
        }
        return;
    }
    let _ = keys.verifier.verify(Some(header), body);
    let _ = keys.verifier.verify(None, body);
    if let Ok(events) = parse_body(body) {
        assert!(!events.is_empty());
        // A body that parses is never something the guard would answer, whatever its text.
        if let Ok(text) = std::str::from_utf8(body) {
            assert!(ChallengeGuard.check(text).is_err());
        }
    }
});
