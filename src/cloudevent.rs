//! CloudEvent parsing (one object or a GreenLake batch array) and the fields an operator reads from an event.

use serde::de::{MapAccess, SeqAccess, Visitor};
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
    let shape = Shape::of(body);
    if shape.depth > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    // Every event is a slice of the body that starts and ends outside strings, so a body without whitespace outside
    // strings and without bytes from DEL up holds no event that `minify` would change: the common compact ASCII
    // delivery skips that scan.
    let compact = !shape.whitespace && !has_byte_from_del_up(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            let raw: &RawValue = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            Ok(vec![parse_one(raw, None, compact)?])
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
            if items.is_empty() {
                return Err(ParseError::EmptyBatch);
            }
            items.into_iter().enumerate().map(|(i, raw)| parse_one(raw, Some(i), compact)).collect()
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

fn parse_one(raw: &RawValue, index: Option<usize>, compact: bool) -> Result<ParsedEvent, ParseError> {
    if !raw.get().starts_with('{') {
        return Err(ParseError::NotAnObject { at: at(index) });
    }
    // One pass that reads the four attributes and checks that a tree can be built from the event. When it finds
    // nothing wrong, the two passes of `parse_one_reference` would have found nothing wrong either (same parser
    // paths, see `Attributes`); anything else goes through those passes, so every refusal keeps its exact text.
    let attributes = match serde_json::from_str::<Attributes>(raw.get()) {
        Ok(a) if !a.repeated => a,
        _ => return parse_one_reference(raw, index),
    };
    let field = |v: Option<Option<Attr>>, field: &'static str| -> Result<String, ParseError> {
        match v.flatten() {
            None => Err(ParseError::Missing { at: at(index), field }),
            Some(Attr::Text(s)) if !s.is_empty() => Ok(s.into_owned()),
            Some(_) => Err(ParseError::NotAString { at: at(index), field }),
        }
    };
    let specversion = field(attributes.specversion, "specversion")?;
    if specversion != "1.0" {
        return Err(ParseError::SpecVersion { at: at(index), got: truncate(&specversion, 32).into() });
    }
    let id = field(attributes.id, "id")?;
    let source = field(attributes.source, "source")?;
    field(attributes.ty, "type")?;
    let raw = if compact { raw.to_owned() } else { stored(raw)? };
    Ok(ParsedEvent { source, id, raw })
}

fn at(index: Option<usize>) -> String {
    index.map(|i| format!("event {i}: ")).unwrap_or_default()
}

/// The event as stored: [`minify`]d.
fn stored(raw: &RawValue) -> Result<Box<RawValue>, ParseError> {
    Ok(match minify(raw.get()) {
        Cow::Borrowed(_) => raw.to_owned(),
        // Removing whitespace outside strings keeps valid JSON valid, so this cannot fail.
        Cow::Owned(compact) => RawValue::from_string(compact).map_err(|e| ParseError::NotJson(e.to_string()))?,
    })
}

/// The definition of what [`parse_one`] accepts and of every refusal's text, in plain passes: the attributes, then
/// a tree of the whole event. `parse_one` answers the same in one pass and falls back to this for refusals.
fn parse_one_reference(raw: &RawValue, index: Option<usize>) -> Result<ParsedEvent, ParseError> {
    let at = || at(index);
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
    Ok(ParsedEvent { source, id, raw: stored(raw)? })
}

/// A CloudEvent attribute's value as [`Head`] followed by a `Cow<str>` parse sees it: `null` counts as absent.
enum Attr<'a> {
    Text(Cow<'a, str>),
    Other,
}

/// The top-level attributes of an event, read in a pass that also checks every value the way `serde_json::Value`
/// would parse it, without building the tree. Every value goes through `deserialize_any` and every key through
/// `deserialize_str`, exactly the parser paths `Value` takes, so numbers out of range, lone surrogates and the like
/// fail here whenever they fail there.
#[derive(Default)]
struct Attributes<'a> {
    /// `None`: not seen; `Some(None)`: `null`.
    specversion: Option<Option<Attr<'a>>>,
    id: Option<Option<Attr<'a>>>,
    source: Option<Option<Attr<'a>>>,
    ty: Option<Option<Attr<'a>>>,
    /// One of them appears twice, which [`Head`] refuses with its own message.
    repeated: bool,
}

impl<'de> Deserialize<'de> for Attributes<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = Attributes<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CloudEvent object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes<'de>, A::Error> {
                let mut a = Attributes::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let slot = match key.0.as_ref() {
                        "specversion" => &mut a.specversion,
                        "id" => &mut a.id,
                        "source" => &mut a.source,
                        "type" => &mut a.ty,
                        _ => {
                            map.next_value::<Checked>()?;
                            continue;
                        }
                    };
                    a.repeated |= slot.is_some();
                    *slot = Some(map.next_value::<Option<AttrValue<'de>>>()?.map(|v| v.0));
                }
                Ok(a)
            }
        }
        d.deserialize_any(Top)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An attribute's value: `Option<AttrValue>` maps `null` to `None` as `Option<&RawValue>` does in [`Head`].
struct AttrValue<'a>(Attr<'a>);

impl<'de> Deserialize<'de> for AttrValue<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttrValue<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Text(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Text(Cow::Owned(s.to_owned()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                CheckedVisitor.visit_seq(seq).map(|_| AttrValue(Attr::Other))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                CheckedVisitor.visit_map(map).map(|_| AttrValue(Attr::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value, parsed as `serde_json::Value` would parse it and then dropped: nothing is built.
struct Checked;

struct CheckedVisitor;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

/// A map key checked as `Value` reads keys (`deserialize_str`).
struct CheckedKey;

impl<'de> Deserialize<'de> for CheckedKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CheckedVisitor).map(|_| CheckedKey)
    }
}

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<CheckedKey>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// The deepest nesting of `[` and `{` outside strings. Linear, no allocation; meaningful for valid JSON only, which
/// is all that gets past the parser afterwards.
pub fn nesting_depth(json: &[u8]) -> usize {
    Shape::of(json).depth
}

/// What one scan of JSON text tells, outside strings: the deepest nesting and whether there is whitespace.
struct Shape {
    depth: usize,
    whitespace: bool,
}

impl Shape {
    /// Strings are skipped with `memchr2` to the next quote or backslash (a backslash escapes the byte after it,
    /// whatever it is), so the bytewise work is only for the few bytes between strings.
    fn of(json: &[u8]) -> Shape {
        let (mut depth, mut max, mut whitespace) = (0usize, 0usize, false);
        let mut i = 0;
        while let Some(&b) = json.get(i) {
            i += 1;
            match b {
                b'"' => loop {
                    let Some(n) = memchr::memchr2(b'"', b'\\', &json[i..]) else {
                        return Shape { depth: max, whitespace };
                    };
                    let quote = json[i + n] == b'"';
                    // Past the quote, or past the backslash and the byte it escapes.
                    i += n + if quote { 1 } else { 2 };
                    if quote || i >= json.len() {
                        break;
                    }
                },
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b' ' | b'\t' | b'\n' | b'\r' => whitespace = true,
                _ => {}
            }
        }
        Shape { depth: max, whitespace }
    }
}

/// Whether any byte is DEL or above (non-ASCII, or DEL itself). Branch-free over blocks, so it vectorises.
fn has_byte_from_del_up(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    let found = blocks.by_ref().any(|block| block.iter().fold(false, |seen, &b| seen | (b >= 0x7f)));
    found || blocks.remainder().iter().any(|&b| b >= 0x7f)
}

/// Removes insignificant whitespace from valid JSON without touching any token, so numbers, key order and string
/// escapes stay exactly as the sender wrote them. One exception keeps every stored line safe to print: characters
/// for which [`crate::text::is_unsafe`] holds are written as `\uXXXX` escapes, which is the same JSON value. (Valid
/// JSON never carries a C0 control raw in a string, so this rewrites DEL, C1, separators, bidi controls and BOM.)
pub fn minify(json: &str) -> Cow<'_, str> {
    if !needs_rewrite(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut strings = JsonStrings::default();
    for c in json.chars() {
        if strings.step(c) {
            if crate::text::is_unsafe(c) {
                // Never directly after a backslash in valid JSON, so this cannot break an escape.
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Follows JSON text character by character to tell which characters belong to a string.
#[derive(Default)]
pub(crate) struct JsonStrings {
    in_string: bool,
    escaped: bool,
}

impl JsonStrings {
    /// Takes the next character; true when it is part of a string's contents or its closing quote (an opening
    /// quote is not: the caller treats it like the punctuation around it).
    pub(crate) fn step(&mut self, c: char) -> bool {
        if !self.in_string {
            self.in_string = c == '"';
            return false;
        }
        if self.escaped {
            self.escaped = false;
        } else if c == '\\' {
            self.escaped = true;
        } else if c == '"' {
            self.in_string = false;
        }
        true
    }
}

/// Whether [`minify`] would change anything: compact ASCII senders (the common case) need no copy. Any byte from
/// DEL up counts, which over-approximates [`crate::text::is_unsafe`] cheaply: the rewrite then copies unchanged.
fn needs_rewrite(json: &str) -> bool {
    has_byte_from_del_up(json.as_bytes()) || Shape::of(json.as_bytes()).whitespace
}

/// `s` cut to at most `max` characters.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
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
    /// The configured source that received the event (`--sources`); `None` without a sources file.
    pub source_name: Option<String>,
}

impl EventFields {
    /// Extracts the fields from an event's JSON for a screen or a log line. Never fails: a field that is absent
    /// stays empty. Every field is escaped with [`crate::text::escape`]: the sender chose this text, and it ends up
    /// on a terminal.
    pub fn extract(event: &Value) -> EventFields {
        Self::extract_with(event, crate::text::escape)
    }

    /// Like [`EventFields::extract`], but line breaks and tabs are kept ([`crate::text::escape_multiline`]), for
    /// the CSV export, whose quoted cells hold them as part of the value.
    pub fn extract_multiline(event: &Value) -> EventFields {
        Self::extract_with(event, crate::text::escape_multiline)
    }

    fn extract_with(event: &Value, escape: fn(&str) -> Cow<'_, str>) -> EventFields {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(|t| escape(t).into_owned());
        let safe = |t: String| match escape(&t) {
            Cow::Borrowed(_) => t,
            Cow::Owned(escaped) => escaped,
        };
        let data = event.get("data");
        EventFields {
            id: s(event.get("id")).unwrap_or_default(),
            source: s(event.get("source")).unwrap_or_default(),
            ty: s(event.get("type")).unwrap_or_default(),
            time: s(event.get("time")),
            user: user(event).map(safe),
            category: data.and_then(|d| s(d.get("category"))),
            summary: safe(summary(event)),
            source_name: None,
        }
    }

    pub fn from_raw(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract(&v)).unwrap_or_default()
    }

    pub fn from_raw_multiline(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract_multiline(&v)).unwrap_or_default()
    }

    /// The fields of a recorded event: its source's name and, for a scheme whose payload is not a CloudEvent, the
    /// id, type, source and user the scheme keeps elsewhere (see [`crate::record::Attributes`]).
    pub fn of(record: &crate::record::EventRecord) -> EventFields {
        Self::from_raw(record.event.get()).with_record(record, crate::text::escape)
    }

    /// [`EventFields::of`] with line breaks kept, for the CSV export.
    pub fn of_multiline(record: &crate::record::EventRecord) -> EventFields {
        Self::from_raw_multiline(record.event.get()).with_record(record, crate::text::escape_multiline)
    }

    fn with_record(mut self, record: &crate::record::EventRecord, escape: fn(&str) -> Cow<'_, str>) -> EventFields {
        let text = |t: &str| escape(t).into_owned();
        self.source_name = record.source_name.as_deref().map(text);
        if let Some(a) = &record.attributes {
            self.id = text(&a.id);
            self.ty = text(&a.ty);
            self.source = text(&a.source);
            self.user = a.user.as_deref().map(text);
        }
        self
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
                let items: Vec<&RawValue> =
                    serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
                if items.is_empty() {
                    return Err(ParseError::EmptyBatch);
                }
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| parse_one_reference(raw, Some(i)))
                    .collect::<Result<_, _>>()?
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
}
