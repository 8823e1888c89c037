//! The invariants the fuzz targets assert, kept in one file that both the targets and tests/fuzz_regressions.rs
//! include, so a regression input is replayed through exactly the checks that once caught it.
#![allow(dead_code)]

use glwatch::cloudevent::{minify, nesting_depth, parse_body, EventFields, MAX_DEPTH};
use glwatch::greenlake::{answer_challenge, challenge_request, ChallengeGuard, Secret, Signer, Verifier};
use glwatch::record::Record;
use glwatch::text::is_unsafe;
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

fn printable(text: &str) -> bool {
    !text.chars().any(is_unsafe)
}

/// What the handler does with a request's signature header and body: challenge recognition, the oracle guard,
/// signature verification and event parsing. The guard never answers an acceptable event body.
pub fn classify(data: &[u8]) {
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
}

/// CloudEvent parsing and the fields an operator reads: every accepted event can be read back as a JSON tree, is
/// stored compact and carries nothing a terminal would act on.
pub fn cloudevent(data: &[u8]) {
    let Ok(events) = parse_body(data) else {
        return;
    };
    assert!(nesting_depth(data) <= MAX_DEPTH);
    for event in events {
        let raw = event.raw.get();
        let value: serde_json::Value = serde_json::from_str(raw).expect("an accepted event reads back as a tree");
        assert_eq!(value["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(value["source"].as_str(), Some(event.source.as_str()));
        assert!(printable(raw), "stored event holds a terminal control: {raw:?}");
        assert_eq!(minify(raw), raw, "stored events are already compact");
        let fields = EventFields::extract(&value);
        for text in [&fields.id, &fields.source, &fields.ty, &fields.summary] {
            assert!(printable(text), "{text:?}");
        }
        for text in [&fields.user, &fields.category, &fields.time].into_iter().flatten() {
            assert!(printable(text), "{text:?}");
        }
    }
}

/// Reading a journal or NDJSON line back into a record: what reads back writes back the same way.
pub fn record_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = Record::from_line(line) else {
        return;
    };
    let written = record.to_line();
    let again = Record::from_line(&written).expect("a written record reads back");
    assert_eq!(again.to_line(), written);
}
