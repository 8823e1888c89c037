//! Property tests an attacker would write: only the right signature verifies, and the challenge answer can never
//! be used to sign an event body.

use glwatch::cloudevent::parse_body;
use glwatch::greenlake::{challenge_request, ChallengeGuard, Secret, SignatureError, Signer, Verifier};
use glwatch::record::VerifiedBy;
use glwatch::text::is_unsafe;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn secret() -> impl Strategy<Value = String> {
    // GreenLake's rule: 4 to 100 characters, any of them.
    "\\PC{4,100}"
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}

fn signed(secret: &str, body: &[u8]) -> (Verifier, String) {
    let s = Secret::new(secret).unwrap();
    (Verifier::new(&s, None), Signer::new(&s).header(body))
}

/// The same signature as `right`: identical, or the same hex digits in another case, with optional surrounding
/// whitespace (HTTP's optional whitespace around a header value).
fn same_signature(candidate: &[u8], right: &str) -> bool {
    let c = candidate.trim_ascii();
    c.len() == right.len() && c.starts_with(b"sha256=") && c[7..].eq_ignore_ascii_case(&right.as_bytes()[7..])
}

fn verifies(v: &Verifier, header: &[u8], body: &[u8]) -> bool {
    v.verify(Some(header), body).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_right_signature_verifies_in_any_letter_case(
        secret in secret(), body in body(), upper in prop::collection::vec(any::<bool>(), 64)
    ) {
        let (v, right) = signed(&secret, &body);
        prop_assert_eq!(v.verify(Some(right.as_bytes()), &body), Ok(VerifiedBy::Primary));
        let mixed: String = right[..7].chars().chain(right[7..].chars().zip(&upper).map(|(c, u)| {
            if *u { c.to_ascii_uppercase() } else { c }
        })).collect();
        prop_assert_eq!(v.verify(Some(mixed.as_bytes()), &body), Ok(VerifiedBy::Primary));
    }

    #[test]
    fn any_bit_flip_in_the_signature_fails_unless_it_only_changes_letter_case(
        secret in secret(), body in body(), at in 0usize..71, bit in 0u8..8
    ) {
        let (v, right) = signed(&secret, &body);
        let mut flipped = right.clone().into_bytes();
        flipped[at] ^= 1 << bit;
        prop_assert_eq!(verifies(&v, &flipped, &body), same_signature(&flipped, &right), "{:?}", String::from_utf8_lossy(&flipped));
    }

    #[test]
    fn any_bit_flip_in_the_body_fails(secret in secret(), body in prop::collection::vec(any::<u8>(), 1..300), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (v, right) = signed(&secret, &body);
        let mut flipped = body.clone();
        flipped[at.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(v.verify(Some(right.as_bytes()), &flipped), Err(SignatureError::Mismatch));
    }

    #[test]
    fn truncating_the_signature_or_the_body_fails(secret in secret(), body in prop::collection::vec(any::<u8>(), 1..300), cut in any::<prop::sample::Index>()) {
        let (v, right) = signed(&secret, &body);
        let header_cut = cut.index(right.len());
        prop_assert!(!verifies(&v, &right.as_bytes()[..header_cut], &body));
        let body_cut = cut.index(body.len());
        prop_assert_eq!(v.verify(Some(right.as_bytes()), &body[..body_cut]), Err(SignatureError::Mismatch));
    }

    #[test]
    fn extending_the_signature_or_the_body_fails(
        secret in secret(), body in body(), extra in prop::collection::vec(any::<u8>(), 1..40)
    ) {
        let (v, right) = signed(&secret, &body);
        let mut longer_body = body.clone();
        longer_body.extend_from_slice(&extra);
        prop_assert_eq!(v.verify(Some(right.as_bytes()), &longer_body), Err(SignatureError::Mismatch));
        let mut longer_header = right.clone().into_bytes();
        longer_header.extend_from_slice(&extra);
        prop_assert_eq!(verifies(&v, &longer_header, &body), same_signature(&longer_header, &right));
        if !extra.iter().all(u8::is_ascii_whitespace) {
            prop_assert!(!verifies(&v, &longer_header, &body));
        }
    }

    #[test]
    fn malformed_signatures_are_refused_as_malformed(
        secret in secret(), body in body(),
        prefix in prop_oneof![
            Just(String::new()), Just("sha1=".to_owned()), Just("SHA256=".to_owned()), Just("sha256:".to_owned()),
            Just("sha512=".to_owned()), Just("sha256 =".to_owned()), "[a-zA-Z0-9=:]{0,10}"
        ],
        at in 0usize..64,
        not_hex in any::<char>().prop_filter("not a hex digit", |c| !c.is_ascii_hexdigit() && !c.is_whitespace()),
        len in (0usize..140).prop_filter("not 64", |n| *n != 64),
    ) {
        let (v, right) = signed(&secret, &body);
        let hex = &right[7..];
        prop_assert_eq!(v.verify(Some(b"sha256="), &body), Err(SignatureError::Malformed));
        if prefix != "sha256=" {
            let wrong_prefix = format!("{prefix}{hex}");
            prop_assert_eq!(v.verify(Some(wrong_prefix.as_bytes()), &body), Err(SignatureError::Malformed));
        }
        let mut chars: Vec<char> = hex.chars().collect();
        chars[at] = not_hex;
        let non_hex = format!("sha256={}", chars.into_iter().collect::<String>());
        prop_assert_eq!(v.verify(Some(non_hex.as_bytes()), &body), Err(SignatureError::Malformed));
        let other_length = format!("sha256={}", hex.repeat(3).chars().take(len).collect::<String>());
        prop_assert_eq!(v.verify(Some(other_length.as_bytes()), &body), Err(SignatureError::Malformed));
    }

    #[test]
    fn a_signature_by_another_secret_fails_and_the_secondary_is_tried(
        primary in secret(), secondary in secret(), other in secret(), body in body()
    ) {
        prop_assume!(primary != other && secondary != other && primary != secondary);
        let (p, s, o) = (Secret::new(primary).unwrap(), Secret::new(secondary).unwrap(), Secret::new(other).unwrap());
        let v = Verifier::new(&p, Some(&s));
        prop_assert_eq!(v.verify(Some(Signer::new(&o).header(&body).as_bytes()), &body), Err(SignatureError::Mismatch));
        prop_assert_eq!(v.verify(Some(Signer::new(&s).header(&body).as_bytes()), &body), Ok(VerifiedBy::Secondary));
    }
}

/// Any JSON value, a few levels deep, with any text in strings and keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A CloudEvent with any identity, any data and any extra attributes.
fn cloud_event() -> impl Strategy<Value = Value> {
    (
        "\\PC{1,40}",
        "\\PC{1,40}",
        "\\PC{1,40}",
        json_value(),
        prop::collection::btree_map("[a-z]{1,12}", json_value(), 0..4),
    )
        .prop_map(|(id, source, ty, data, extra)| {
            let mut event = Map::new();
            for (k, v) in extra {
                event.insert(k, v);
            }
            event.insert("specversion".into(), json!("1.0"));
            event.insert("id".into(), json!(id));
            event.insert("source".into(), json!(source));
            event.insert("type".into(), json!(ty));
            event.insert("data".into(), data);
            Value::Object(event)
        })
}

/// An acceptable delivery body: one event or a batch, compact or pretty, with any surrounding whitespace.
fn accepted_body() -> impl Strategy<Value = String> {
    (prop::collection::vec(cloud_event(), 1..4), any::<bool>(), any::<bool>(), "[ \t\r\n]{0,3}").prop_map(
        |(events, batch, pretty, ws)| {
            let value = if batch { Value::Array(events) } else { events.into_iter().next().unwrap() };
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            format!("{ws}{text}{ws}")
        },
    )
}

fn uuid_any_case() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_accepted_body_is_ever_answered_as_a_challenge(body in accepted_body()) {
        let events = parse_body(body.as_bytes());
        prop_assert!(events.is_ok(), "{:?}", events.err());
        prop_assert!(ChallengeGuard.check(&body).is_err());
        // The attack itself: a challenge carrying that body as its challengeRequest is recognised, then refused.
        let challenge = serde_json::to_vec(&json!({"data": {"challengeRequest": body}})).unwrap();
        let recognised = challenge_request(&challenge);
        prop_assert_eq!(recognised.as_deref(), Some(body.as_str()));
        prop_assert!(ChallengeGuard.check(&body).is_err());
    }

    #[test]
    fn everything_the_guard_answers_is_refused_as_a_body(request in uuid_any_case()) {
        prop_assert!(ChallengeGuard.check(&request).is_ok());
        prop_assert!(parse_body(request.as_bytes()).is_err());
        for ws in [" ", "\n", "\t", "\r\n"] {
            let padded = format!("{ws}{request}{ws}");
            prop_assert!(parse_body(padded.as_bytes()).is_err());
        }
    }

    #[test]
    fn for_any_text_the_guard_and_the_parser_never_both_say_yes(text in prop_oneof![
        any::<String>(),
        "[\\[\\]{}\":,0-9a-fA-F\\- ]{0,60}",
        uuid_any_case().prop_map(|u| format!("{{\"id\":\"{u}\"}}")),
    ]) {
        prop_assert!(!(ChallengeGuard.check(&text).is_ok() && parse_body(text.as_bytes()).is_ok()));
    }

    #[test]
    fn accepted_events_are_stored_as_the_same_value_and_safe_to_print(body in accepted_body()) {
        let sent: Value = serde_json::from_str(&body).unwrap();
        let sent = match sent { Value::Array(items) => items, one => vec![one] };
        let events = parse_body(body.as_bytes()).unwrap();
        prop_assert_eq!(events.len(), sent.len());
        for (event, original) in events.iter().zip(&sent) {
            let stored: Value = serde_json::from_str(event.raw.get()).unwrap();
            prop_assert_eq!(&stored, original);
            prop_assert!(!event.raw.get().chars().any(is_unsafe), "{}", event.raw.get());
            prop_assert_eq!(Some(event.id.as_str()), original["id"].as_str());
        }
    }
}
