//! CloudEvent parsing (one object or a GreenLake batch array) and the fields an operator reads from an event.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

mod attributes;
mod compact;
mod fast;
mod fields;

use attributes::{Attr, Attributes};
pub(crate) use compact::JsonStrings;
use compact::{has_byte_from_del_up, Shape};
pub use compact::{minify, nesting_depth};
pub(crate) use fields::truncate;
pub use fields::{short_type, summary, user, EventFields};

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
            if compact {
                if let Some(event) = parse_single(body)? {
                    return Ok(vec![event]);
                }
            }
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
    let (source, id) = identity(attributes, index)?;
    let raw = if compact { raw.to_owned() } else { stored(raw)? };
    Ok(ParsedEvent { source, id, raw })
}

/// A compact body that is one object, in one pass: reading the attributes from the body itself also proves it is
/// one JSON value with nothing after it, which is all the split in [`parse_body`] finds out, and the event is the
/// body. `None` when that pass does not accept the body: the general
/// path then gives the exact refusal.
fn parse_single(body: &[u8]) -> Result<Option<ParsedEvent>, ParseError> {
    let attributes = match fast::attributes(body) {
        Some(a) => a,
        None => match serde_json::from_slice::<Attributes>(body) {
            Ok(a) if !a.repeated => a,
            _ => return Ok(None),
        },
    };
    // Compact: no whitespace around the object either, so the body is the event.
    let Ok(text) = std::str::from_utf8(body) else { return Ok(None) };
    let (source, id) = identity(attributes, None)?;
    Ok(Some(ParsedEvent { source, id, raw: raw_unparsed(text)? }))
}

/// `text`, already parsed whole, as a `RawValue` without a second parse. serde_json's own `RawValue` deserializer
/// takes a string as is when its raw-value token names it (that is how a `RawValue` reads back from a string);
/// should a later serde_json stop doing so, the text is parsed again, which is slower but the same value.
fn raw_unparsed(text: &str) -> Result<Box<RawValue>, ParseError> {
    const TOKEN: &str = "$serde_json::private::RawValue";
    let named = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(std::iter::once((TOKEN, text)));
    match Box::<RawValue>::deserialize(named) {
        Ok(raw) if raw.get() == text => Ok(raw),
        _ => RawValue::from_string(text.to_owned()).map_err(|e| ParseError::NotJson(e.to_string())),
    }
}

/// The checked `source` and `id` of an event whose attributes were read by [`Attributes`].
fn identity(attributes: Attributes, index: Option<usize>) -> Result<(String, String), ParseError> {
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
    Ok((source, id))
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

#[cfg(test)]
mod tests;
