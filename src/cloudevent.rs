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
}

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

/// Removes insignificant whitespace from valid JSON without touching any token, so numbers, key order and string
/// escapes stay exactly as the sender wrote them.
pub fn minify(json: &str) -> Cow<'_, str> {
    if !has_insignificant_whitespace(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
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

/// Whether any whitespace sits outside strings: compact senders (the common case) need no copy.
fn has_insignificant_whitespace(json: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
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
    /// Extracts the fields from an event's JSON. Never fails: a field that is absent stays empty.
    pub fn extract(event: &Value) -> EventFields {
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
}
