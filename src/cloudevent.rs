//! CloudEvent parsing (one object or a GreenLake batch array) and the fields an operator reads from an event.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// Why a body is not an acceptable CloudEvent or batch. The text is sent to the client, so it names the problem
/// and never echoes large input back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body must be a CloudEvent object or a JSON array of CloudEvents")]
    NotObjectOrArray,
    #[error("batch is empty")]
    EmptyBatch,
    #[error("{at}must be a JSON object")]
    NotAnObject { at: String },
    #[error("{at}missing required attribute \"{field}\"")]
    Missing { at: String, field: &'static str },
    #[error("{at}attribute \"{field}\" must be a non-empty string")]
    NotAString { at: String, field: &'static str },
    #[error("{at}specversion must be \"1.0\", got {got:?}")]
    SpecVersion { at: String, got: String },
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Deepest nesting of arrays and objects accepted in a body. serde_json's tree parser (used by every consumer that
/// reads an event's fields, and by tools like jq) stops at 128 levels; accepting only what stays well inside that
/// means every stored event can be read back by anyone. GreenLake's events are a handful of levels deep.
pub const MAX_DEPTH: usize = 64;

/// The attributes every event must carry; parsed without copying when the JSON has no escapes.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    specversion: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    ty: Option<&'a RawValue>,
}

/// An accepted event: its identity for duplicate detection and its compacted JSON.
#[derive(Debug, Clone)]
pub struct ParsedEvent {
    pub source: String,
    pub id: String,
    pub raw: Box<RawValue>,
}

/// Parses a delivery body: one CloudEvent object, or a non-empty array of them. A batch is accepted or refused
/// whole, so the first bad element refuses it.
pub fn parse_body(body: &[u8]) -> Result<Vec<ParsedEvent>, ParseError> {
    // serde_json skips over unknown fields without a depth limit, so the limit is checked here, before anything
    // downstream builds a tree of it.
    if nesting_depth(body) > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            let raw: &RawValue = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            Ok(vec![parse_one(raw, None)?])
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            if items.is_empty() {
                return Err(ParseError::EmptyBatch);
            }
            items.into_iter().enumerate().map(|(i, raw)| parse_one(raw, Some(i))).collect()
        }
        Some(_) => {
            // Distinguish "not JSON at all" from "JSON but not an object or array" for a clearer message.
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Err(ParseError::NotObjectOrArray),
                Err(e) => Err(ParseError::NotJson(e.to_string())),
            }
        }
        None => Err(ParseError::NotJson("body is empty".into())),
    }
}

fn parse_one(raw: &RawValue, index: Option<usize>) -> Result<ParsedEvent, ParseError> {
    let at = || index.map(|i| format!("event {i}: ")).unwrap_or_default();
    if !raw.get().starts_with('{') {
        return Err(ParseError::NotAnObject { at: at() });
    }
    let head: Head = serde_json::from_str(raw.get()).map_err(|e| ParseError::NotJson(e.to_string()))?;
    // Skipping a value (as above) checks its syntax but not that a tree can be built from it: a number like 1e999
    // passes, then every consumer that reads the event's fields fails on it. An accepted event must read back.
    serde_json::from_str::<Value>(raw.get()).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let field = |v: Option<&RawValue>, field: &'static str| -> Result<String, ParseError> {
        let v = v.ok_or_else(|| ParseError::Missing { at: at(), field })?;
        match serde_json::from_str::<Cow<str>>(v.get()) {
            Ok(s) if !s.is_empty() => Ok(s.into_owned()),
            _ => Err(ParseError::NotAString { at: at(), field }),
        }
    };
    let specversion = field(head.specversion, "specversion")?;
    if specversion != "1.0" {
        return Err(ParseError::SpecVersion { at: at(), got: truncate(&specversion, 32).into() });
    }
    let id = field(head.id, "id")?;
    let source = field(head.source, "source")?;
    field(head.ty, "type")?;
    let raw = match minify(raw.get()) {
        Cow::Borrowed(_) => raw.to_owned(),
        // Removing whitespace outside strings keeps valid JSON valid, so this cannot fail.
        Cow::Owned(compact) => RawValue::from_string(compact).map_err(|e| ParseError::NotJson(e.to_string()))?,
    };
    Ok(ParsedEvent { source, id, raw })
}

/// The deepest nesting of `[` and `{` outside strings. Linear, no allocation; meaningful for valid JSON only, which
/// is all that gets past the parser afterwards.
pub fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
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
            _ => {}
        }
    }
    max
}

/// Characters that valid JSON may carry raw inside a string but that a terminal or an editor acts on: DEL and the
/// C1 controls (U+009B is a one-character CSI for some terminals), the Unicode line and paragraph separators, and
/// the bidirectional overrides and isolates that reorder what is shown. (C0 controls, ESC among them, are always
/// escaped in valid JSON.)
pub fn is_unsafe_in_terminal(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Removes insignificant whitespace from valid JSON without touching any token, so numbers, key order and string
/// escapes stay exactly as the sender wrote them. One exception keeps every stored line safe to print: characters
/// for which [`is_unsafe_in_terminal`] holds are written as `\uXXXX` escapes, which is the same JSON value.
pub fn minify(json: &str) -> Cow<'_, str> {
    if !needs_rewrite(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            if is_unsafe_in_terminal(c) {
                // Never directly after a backslash in valid JSON, so this cannot break an escape.
                out.push_str(&format!("\\u{:04x}", c as u32));
                escaped = false;
                continue;
            }
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether [`minify`] would change anything: compact ASCII senders (the common case) need no copy. Any byte from
/// DEL up counts, which over-approximates [`is_unsafe_in_terminal`] cheaply: the rewrite then copies unchanged.
fn needs_rewrite(json: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if b >= 0x7f {
            return true;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return true;
        }
    }
    false
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What an operator reads from an event: the dashboard's columns and the export's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFields {
    pub id: String,
    pub source: String,
    pub ty: String,
    pub time: Option<String>,
    pub user: Option<String>,
    pub category: Option<String>,
    pub summary: String,
}

impl EventFields {
    /// Extracts the fields from an event's JSON for a screen. Never fails: a field that is absent stays empty.
    /// Every field is [`printable`]: the sender chose this text, and it ends up on a terminal.
    pub fn extract(event: &Value) -> EventFields {
        let mut f = Self::extract_verbatim(event);
        for text in [&mut f.id, &mut f.source, &mut f.ty, &mut f.summary]
            .into_iter()
            .chain([f.time.as_mut(), f.user.as_mut(), f.category.as_mut()].into_iter().flatten())
        {
            if let Cow::Owned(safe) = printable(text) {
                *text = safe;
            }
        }
        f
    }

    /// The fields exactly as the event carries them, for files (CSV quoting keeps line breaks intact, and the
    /// export neutralises what a spreadsheet would run). Never draw these on a terminal.
    pub fn extract_verbatim(event: &Value) -> EventFields {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let data = event.get("data");
        EventFields {
            id: s(event.get("id")).unwrap_or_default(),
            source: s(event.get("source")).unwrap_or_default(),
            ty: s(event.get("type")).unwrap_or_default(),
            time: s(event.get("time")),
            user: user(event),
            category: data.and_then(|d| s(d.get("category"))),
            summary: summary(event),
        }
    }

    pub fn from_raw(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract(&v)).unwrap_or_default()
    }

    pub fn from_raw_verbatim(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract_verbatim(&v)).unwrap_or_default()
    }
}

/// Text that is safe to draw on a terminal: control characters (C0, DEL, C1), line and paragraph separators and
/// bidirectional overrides become visible `\u{..}` escapes, so event text can neither move the cursor, recolour
/// the screen, retitle the window nor reorder what is shown around it. Borrowed when there is nothing to change.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || is_unsafe_in_terminal(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The acting user: `data.user.username`, else `data.username`, else `subject`.
pub fn user(event: &Value) -> Option<String> {
    let data = event.get("data");
    data.and_then(|d| d.pointer("/user/username"))
        .and_then(Value::as_str)
        .or_else(|| data.and_then(|d| d.get("username")).and_then(Value::as_str))
        .or_else(|| event.get("subject").and_then(Value::as_str))
        .map(str::to_owned)
}

/// Shortens a GreenLake type for narrow columns: `com.hpe.greenlake.audit-log.v1.logs.created` becomes
/// `audit-log.v1.logs.created`.
pub fn short_type(ty: &str) -> &str {
    ty.strip_prefix("com.hpe.greenlake.").or_else(|| ty.strip_prefix("hpe.greenlake.")).unwrap_or(ty)
}

/// One line that says what happened: the audit-log description, or a line built from the data of other types.
pub fn summary(event: &Value) -> String {
    let Some(data) = event.get("data") else {
        return String::new();
    };
    let get = |keys: &[&str]| -> Option<String> {
        keys.iter().find_map(|k| match data.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    if let Some(d) = get(&["description"]) {
        return d;
    }
    if let Some(challenge) = get(&["challengeRequest"]) {
        return format!("verification challenge {challenge}");
    }
    let ty = event.get("type").and_then(Value::as_str).unwrap_or("");
    if ty.contains("expiring-subscriptions") {
        let mut parts = Vec::new();
        if let Some(t) = get(&["subscriptiontype", "subscriptionType"]) {
            parts.push(t);
        }
        if let Some(t) = get(&["licensetier", "licenseTier"]) {
            parts.push(t);
        }
        if let Some(q) = get(&["quantity"]) {
            parts.push(format!("x{q}"));
        }
        let mut line = parts.join(" ");
        if let Some(d) = get(&["expirydate", "expiryDate"]) {
            line.push_str(&format!(" expires {d}"));
        }
        if let Some(k) = get(&["key", "subscriptionKey"]) {
            line.push_str(&format!(" (key {k})"));
        }
        return line.trim().to_owned();
    }
    // Other types: the first few scalar fields, which is what an operator scans for.
    let Some(obj) = data.as_object() else {
        return data.to_string();
    };
    obj.iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some(format!("{k}={s}")),
            Value::Number(n) => Some(format!("{k}={n}")),
            Value::Bool(b) => Some(format!("{k}={b}")),
            _ => None,
        })
        .take(4)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
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
            e(
                r#"[{"specversion":"1.0","id":"1","source":"s","type":"t"},{"specversion":"1.0","id":"2","source":"s"}]"#
            ),
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
        let in_string =
            format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","d":"{}"}}"#, "[".repeat(500));
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
    fn operator_fields_are_printable() {
        assert_eq!(printable("plain text é ✓"), Cow::Borrowed("plain text é ✓"));
        assert_eq!(printable("a\u{1b}]0;pwned\u{7}b\u{202e}c\nd"), "a\\u{1b}]0;pwned\\u{7}b\\u{202e}c\\u{a}d");
        let v: Value = serde_json::from_str(
            r#"{"id":"\u001b[31m","data":{"description":"\u001b]0;title\u0007 \u009b2J","user":{"username":"x\u202eevil"}}}"#,
        )
        .unwrap();
        let f = EventFields::extract(&v);
        for text in [&f.id, &f.summary, f.user.as_ref().unwrap()] {
            assert!(!text.chars().any(|c| c.is_control() || is_unsafe_in_terminal(c)), "{text:?}");
        }
    }
}
