//! Unit tests for `crate::cloudevent`.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn parses_single_and_batch_samples() {
    let one = parse_body(&fixture("audit-log-created.json")).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, "uJoQ5JMB_HAPiq2sSllt");
    assert_eq!(one[0].source, "//global.api.greenlake.hpe.com/audit-log");
    assert!(!one[0].raw.get().contains('\n'));
    let batch = parse_body(&fixture("batch.json")).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[1].id, "fb25f344-6f3c-4c1e-9d55-2b8f1c0a7e41");
}

#[test]
fn minify_keeps_tokens_exactly() {
    let src = "{ \"a\" : \"x y\\\" \\\\\" ,\n \"n\": 1.50e3, \"u\":\"\\u00e9\" }";
    assert_eq!(minify(src), r#"{"a":"x y\" \\","n":1.50e3,"u":"\u00e9"}"#);
    assert!(matches!(minify(r#"{"a":"x y"}"#), Cow::Borrowed(_)));
}

#[test]
fn refuses_malformed_events_naming_the_problem() {
    let e = |b: &str| parse_body(b.as_bytes()).unwrap_err().to_string();
    assert!(e("{nope").starts_with("body is not valid JSON"));
    assert_eq!(e("\"str\""), "body must be a CloudEvent object or a JSON array of CloudEvents");
    assert_eq!(e("[]"), "batch is empty");
    assert_eq!(e(r#"{"id":"1","source":"s","type":"t"}"#), "missing required attribute \"specversion\"");
    assert_eq!(
        e(r#"{"specversion":"0.3","id":"1","source":"s","type":"t"}"#),
        "specversion must be \"1.0\", got \"0.3\""
    );
    assert_eq!(
        e(r#"{"specversion":"1.0","id":1,"source":"s","type":"t"}"#),
        "attribute \"id\" must be a non-empty string"
    );
    assert_eq!(
        e(r#"[{"specversion":"1.0","id":"1","source":"s","type":"t"},{"specversion":"1.0","id":"2","source":"s"}]"#),
        "event 1: missing required attribute \"type\""
    );
    assert_eq!(e("[1]"), "event 0: must be a JSON object");
}

#[test]
fn fields_for_the_samples() {
    let v: Value = serde_json::from_slice(&fixture("audit-log-created.json")).unwrap();
    let f = EventFields::extract(&v);
    assert_eq!(f.user.as_deref(), Some("john.doe@hpedev.io"));
    assert_eq!(f.category.as_deref(), Some("user_management"));
    assert_eq!(f.summary, "User john.doe@hpedev.io logged out");
    assert_eq!(short_type(&f.ty), "audit-log.v1.logs.created");
    let v: Value = serde_json::from_slice(&fixture("expiring-subscriptions.json")).unwrap();
    let f = EventFields::extract(&v);
    assert_eq!(f.user.as_deref(), Some("John Doe Inc."));
    assert_eq!(f.summary, "Compute Subscription ENHANCED PROLIANT x500 expires 10/25/2024 (key OFKIAASTEST168IZ)");
}

#[test]
fn nesting_is_limited_before_anything_builds_a_tree() {
    let nested = |depth: usize| {
        format!(
            r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","data":{}1{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert_eq!(nesting_depth(nested(MAX_DEPTH).as_bytes()), MAX_DEPTH);
    let ok = parse_body(nested(MAX_DEPTH).as_bytes()).unwrap();
    // What is accepted can be read back as a tree, even wrapped in a record.
    let line = format!(r#"{{"event":{}}}"#, ok[0].raw.get());
    serde_json::from_str::<Value>(&line).unwrap();
    assert_eq!(parse_body(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(), ParseError::TooDeep);
    assert_eq!(parse_body(nested(10_000).as_bytes()).unwrap_err(), ParseError::TooDeep);
    // Brackets inside strings are text, not nesting.
    let in_string = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","d":"{}"}}"#, "[".repeat(500));
    assert!(parse_body(in_string.as_bytes()).is_ok());
    assert_eq!(nesting_depth(br#"{"a":"\"[[[["}"#), 1);
}

#[test]
fn stored_events_carry_no_raw_terminal_controls() {
    // ESC must be escaped in valid JSON: a raw one is refused, an escaped one stays escaped.
    let raw_esc = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"d\":\"\u{1b}[2J\"}";
    assert!(matches!(parse_body(raw_esc.as_bytes()), Err(ParseError::NotJson(_))));
    // C1 controls, DEL and bidi overrides are valid raw in JSON strings: stored as \u escapes, same value.
    let body = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"d\":\"a\u{9b}31m\u{7f}\u{202e}b\\\\\u{85}\"}";
    let ev = &parse_body(body.as_bytes()).unwrap()[0];
    assert!(ev.raw.get().is_ascii(), "{}", ev.raw.get());
    assert_eq!(
        ev.raw.get(),
        r#"{"specversion":"1.0","id":"1","source":"s","type":"t","d":"a\u009b31m\u007f\u202eb\\\u0085"}"#
    );
    let before: Value = serde_json::from_str(body).unwrap();
    let after: Value = serde_json::from_str(ev.raw.get()).unwrap();
    assert_eq!(before, after);
}

#[test]
fn operator_fields_are_escaped_once() {
    let v: Value = serde_json::from_str(
        r#"{"id":"\u001b[31m","data":{"description":"\u001b]0;title\u0007 \u009b2J","user":{"username":"x\u202eevil"}}}"#,
    )
    .unwrap();
    let f = EventFields::extract(&v);
    for text in [&f.id, &f.summary, f.user.as_ref().unwrap()] {
        assert!(!text.chars().any(crate::text::is_unsafe), "{text:?}");
    }
    assert_eq!(f.id, "\\u{1b}[31m");
    assert_eq!(f.user.as_deref(), Some("x\\u{202e}evil"));
    let v: Value = serde_json::from_str(r#"{"data":{"description":"one\ntwo\u001b"}}"#).unwrap();
    assert_eq!(EventFields::extract(&v).summary, "one\\u{a}two\\u{1b}");
    assert_eq!(EventFields::extract_multiline(&v).summary, "one\ntwo\\u{1b}");
}

/// The bytewise scans the fast paths replace, kept as the definition they must match.
fn reference_shape(json: &[u8]) -> (usize, bool, bool) {
    let (mut depth, mut max, mut whitespace, mut high) = (0usize, 0usize, false, false);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        high |= b >= 0x7f;
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b' ' | b'\t' | b'\n' | b'\r' => whitespace = true,
            _ => {}
        }
    }
    (max, whitespace, high)
}

/// `parse_body` as it reads without the one-pass shortcuts: every event through `parse_one_reference`.
fn reference_parse(body: &[u8]) -> Result<Vec<(String, String, String)>, ParseError> {
    if reference_shape(body).0 > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    let events = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            let raw: &RawValue = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            vec![parse_one_reference(raw, None)?]
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            if items.is_empty() {
                return Err(ParseError::EmptyBatch);
            }
            items.into_iter().enumerate().map(|(i, raw)| parse_one_reference(raw, Some(i))).collect::<Result<_, _>>()?
        }
        _ => return parse_body(body).map(|_| unreachable!("not an object or array")),
    };
    Ok(events.into_iter().map(|e| (e.source, e.id, e.raw.get().to_owned())).collect())
}

fn same_as_reference(body: &[u8]) {
    let (depth, whitespace, high) = reference_shape(body);
    let shape = Shape::of(body);
    assert_eq!((shape.depth, shape.whitespace), (depth, whitespace), "{:?}", String::from_utf8_lossy(body));
    assert_eq!(has_byte_from_del_up(body), high);
    let fast = parse_body(body).map(|v| v.into_iter().map(|e| (e.source, e.id, e.raw.get().to_owned())).collect());
    assert_eq!(fast, reference_parse(body), "{:?}", String::from_utf8_lossy(body));
}

#[test]
fn one_pass_parse_answers_as_the_reference_passes() {
    let head = r#""specversion":"1.0","id":"1","source":"s","type":"t""#;
    let cases = [
        format!("{{{head}}}"),
        format!(" {{ {head} , \"d\" : [1, 2.5e3, {{\"x\":null}}] }}\n"),
        format!("[{{{head}}},\n{{{head},\"n\":1e999}}]"),
        format!("{{{head},\"n\":1e999}}"),
        format!("{{{head},\"n\":-1e-999,\"m\":123456789012345678901234567890}}"),
        format!("{{{head},\"s\":\"\\ud800\"}}"),
        format!("{{{head},\"\\ud800\":1}}"),
        format!("{{{head},\"s\":\"\\ud83d\\ude00 \\u00e9 \\\" \\\\\"}}"),
        format!("{{{head},\"id\":\"2\"}}"),
        format!("{{{head},\"id\":\"2\",\"n\":1e999}}"),
        format!("{{{head},\"\\u0069d\":\"2\"}}"),
        r#"{"specversion":"1.0","id":null,"source":"s","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":null,"id":"x","source":"s","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":"","source":"s","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":{"a":[1e999]},"source":"s","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":{"a":[1]},"source":"s","type":"t"}"#.into(),
        r#"{"specversion":1.0,"id":"1","source":"s","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":"a\u0000b","source":"s\n","type":"t"}"#.into(),
        r#"{"specversion":"1.0","id":"é","source":"s","type":"t","d":"a\u202eb"}"#.into(),
        "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"d\":\"\u{85}\u{7f}\"}".into(),
        r#"{"specversion":"0.3","id":"1","source":"s","type":"t"}"#.into(),
        r#"{"a":"\"[[[[\\"}"#.into(),
        r#"["x",{"specversion":"1.0"}]"#.into(),
        "{\"a\":\"unterminated \\".into(),
        "{\"a\":\"unterminated".into(),
    ];
    for body in &cases {
        same_as_reference(body.as_bytes());
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

    #[test]
    fn one_pass_parse_matches_the_reference_on_mutated_events(
        edits in proptest::collection::vec((0usize..400, proptest::sample::select(vec![
            "", "\"", "\\", "{", "}", "[", "]", ",", ":", " ", "\n", "1e999", "-0.5", "null", "\"id\":\"x\",",
            "\\ud800", "\\u0041", "\u{7f}", "é", "\u{202e}", "\"type\":7,", "true",
        ])), 0..4),
        cut in 0usize..3,
    ) {
        let mut body = String::from(r#"{"specversion":"1.0","id":"abc","source":"//s/x","type":"t.v1","time":"2024-01-01T00:00:00Z","data":{"n":[1,2.5,{"k":"v \" \\ w"}],"u":null,"b":false}}"#);
        for (at, text) in edits {
            let mut at = at.min(body.len());
            while !body.is_char_boundary(at) {
                at -= 1;
            }
            body.insert_str(at, text);
        }
        if cut == 1 {
            body = format!("[{body},{body}]");
        }
        let mut body = body.into_bytes();
        if cut == 2 {
            // Possibly inside a character: invalid UTF-8 must be refused alike too.
            body.truncate(body.len() / 2);
        }
        same_as_reference(&body);
    }
}

#[test]
fn a_single_compact_event_is_not_parsed_twice() {
    // Only a second parse would refuse this text: getting it back shows serde_json still takes it as is.
    assert_eq!(raw_unparsed("{not parsed again").unwrap().get(), "{not parsed again");
    let body = fixture("audit-log-created.json");
    let compact = minify(std::str::from_utf8(&body).unwrap()).into_owned();
    let events = parse_body(compact.as_bytes()).unwrap();
    assert_eq!(events[0].raw.get(), compact);
    same_as_reference(compact.as_bytes());
}
