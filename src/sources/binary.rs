//! CloudEvents binary content mode (HTTP protocol binding 1.0, section 3.1): turning `ce-*` headers and a body
//! with its own Content-Type into the equivalent structured JSON event, the reverse for the simulator, and the
//! `data` / `data_base64` rules of the JSON event format for structured events.
//!
//! Attributes arrive as strings: a header does not say whether an extension is an Integer or a Boolean, so
//! every attribute is recorded as its canonical string form, which the JSON format permits readers to accept.

use super::{media_type, percent_decode};
use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::{Map, Value};

/// The attributes every event carries; each must arrive as a `ce-` header.
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

/// Why a request is not an acceptable binary-mode event (or a structured event's data is unusable). The text is
/// short and names the header or member, for the rejected record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    #[error("missing required header ce-{0}")]
    MissingAttribute(&'static str),
    #[error("ce-specversion must be 1.0, got {0:?}")]
    SpecVersion(String),
    #[error("header {0} is empty")]
    EmptyAttribute(String),
    #[error("header {0} is not valid percent-encoded UTF-8")]
    BadHeaderValue(String),
    #[error("header {0} does not name a CloudEvents attribute (lower-case letters and digits)")]
    BadAttributeName(String),
    #[error("header {0} is repeated")]
    RepeatedHeader(String),
    #[error("ce-datacontenttype must not be sent in binary mode: Content-Type carries it")]
    DataContentTypeHeader,
    #[error("Content-Type {0} is structured mode, not binary")]
    StructuredMode(String),
    #[error("data is not valid JSON although its content type is {0}")]
    DataNotJson(String),
    #[error("data is nested too deeply")]
    TooDeep,
    #[error("event must be a JSON object")]
    NotAnObject,
    #[error("event has both data and data_base64")]
    BothDataMembers,
    #[error("data_base64 is not a base64 string")]
    BadDataBase64,
    #[error("attribute {0} cannot be sent as a header (objects and arrays are not attribute values)")]
    NotAHeaderValue(String),
}

/// Whether a request uses binary mode: it has a `ce-specversion` header and its Content-Type is not a
/// CloudEvents event format (`application/cloudevents...`, which is structured or batched mode).
pub fn is_binary_mode(headers: &HeaderMap) -> bool {
    headers.contains_key("ce-specversion") && !content_type_is_structured(headers)
}

fn content_type_is_structured(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| media_type(ct).starts_with("application/cloudevents"))
}

/// The structured (JSON format) equivalent of a binary-mode request: one member per `ce-` header,
/// percent-decoded; `datacontenttype` from Content-Type; the body as `data` when its media type is JSON
/// (`application/json` or `*/*+json`) and as `data_base64` otherwise. An empty body gives an event without data.
pub fn structured_from_binary(headers: &HeaderMap, body: &[u8]) -> Result<Value, BinaryError> {
    let mut event = Map::new();
    for name in headers.keys() {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else { continue };
        if attribute == "datacontenttype" {
            return Err(BinaryError::DataContentTypeHeader);
        }
        if !is_attribute_name(attribute) {
            return Err(BinaryError::BadAttributeName(name.to_string()));
        }
        let mut values = headers.get_all(name).iter();
        let value = values.next().expect("a listed header has a value");
        // Two values could be joined or either one taken; refusing avoids guessing which the sender meant.
        if values.next().is_some() {
            return Err(BinaryError::RepeatedHeader(name.to_string()));
        }
        let decoded =
            decode_header_value(value.as_bytes()).ok_or_else(|| BinaryError::BadHeaderValue(name.to_string()))?;
        event.insert(attribute.to_owned(), Value::String(decoded));
    }
    check_required(&event)?;

    let content_type = match headers.get(CONTENT_TYPE) {
        Some(value) => {
            let text = value.to_str().map_err(|_| BinaryError::BadHeaderValue("content-type".to_owned()))?.trim();
            if media_type(text).starts_with("application/cloudevents") {
                return Err(BinaryError::StructuredMode(text.to_owned()));
            }
            (!text.is_empty()).then(|| text.to_owned())
        }
        None => None,
    };
    if !body.is_empty() {
        let (member, value) = match &content_type {
            Some(ct) if is_json_media_type(ct) => ("data", parse_json(body).ok_or_else(|| json_error(body, ct))?),
            Some(_) => ("data_base64", Value::String(base64::engine::general_purpose::STANDARD.encode(body))),
            // The JSON format reads an absent datacontenttype as application/json; a body that is not JSON is
            // still kept, as bytes, rather than refused.
            None => match parse_json(body) {
                Some(value) => ("data", value),
                None if crate::cloudevent::nesting_depth(body) > crate::cloudevent::MAX_DEPTH => {
                    return Err(BinaryError::TooDeep)
                }
                None => ("data_base64", Value::String(base64::engine::general_purpose::STANDARD.encode(body))),
            },
        };
        event.insert(member.to_owned(), value);
    }
    if let Some(ct) = content_type {
        event.insert("datacontenttype".to_owned(), Value::String(ct));
    }
    Ok(Value::Object(event))
}

fn json_error(body: &[u8], content_type: &str) -> BinaryError {
    if crate::cloudevent::nesting_depth(body) > crate::cloudevent::MAX_DEPTH {
        BinaryError::TooDeep
    } else {
        BinaryError::DataNotJson(content_type.to_owned())
    }
}

/// JSON within the depth every reader of the journal accepts.
fn parse_json(body: &[u8]) -> Option<Value> {
    if crate::cloudevent::nesting_depth(body) > crate::cloudevent::MAX_DEPTH {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn check_required(event: &Map<String, Value>) -> Result<(), BinaryError> {
    for name in REQUIRED {
        match event.get(name) {
            None | Some(Value::Null) => return Err(BinaryError::MissingAttribute(name)),
            Some(Value::String(s)) if s.is_empty() => return Err(BinaryError::EmptyAttribute(format!("ce-{name}"))),
            _ => {}
        }
    }
    match &event["specversion"] {
        Value::String(v) if v == "1.0" => Ok(()),
        other => Err(BinaryError::SpecVersion(other.as_str().map_or_else(|| other.to_string(), str::to_owned))),
    }
}

/// `application/json` and any `type/subtype+json` (RFC 6839 structured syntax suffix), parameters ignored.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media = media_type(content_type);
    media == "application/json" || (media.contains('/') && media.ends_with("+json"))
}

/// CloudEvents attribute names are lower-case ASCII letters and digits. `data` is the event's payload, not an
/// attribute, so a `ce-data` header could only overwrite it.
fn is_attribute_name(name: &str) -> bool {
    !name.is_empty() && name != "data" && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Decodes a header value per the binding: first the RFC 7230 quoted-string form (older senders quote values
/// with spaces), then one round of percent-decoding, then UTF-8, which rejects overlong and other invalid
/// sequences as the binding requires.
pub fn decode_header_value(raw: &[u8]) -> Option<String> {
    let raw = raw.trim_ascii();
    let unquoted;
    let text = if raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"' {
        let mut out = Vec::with_capacity(raw.len());
        let mut bytes = raw[1..raw.len() - 1].iter();
        while let Some(&b) = bytes.next() {
            match b {
                b'\\' => out.push(*bytes.next()?),
                // An unescaped quote inside a quoted-string ends it early: malformed.
                b'"' => return None,
                _ => out.push(b),
            }
        }
        unquoted = out;
        &unquoted[..]
    } else {
        raw
    };
    String::from_utf8(percent_decode(text, false)?).ok()
}

/// Encodes an attribute's string form for a header: space, `"`, `%` and everything outside printable ASCII
/// become `%XY` (upper-case hex) of their UTF-8 bytes, as the binding says a sender must.
pub fn encode_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks a structured event's data members under the JSON format's rules: `data` and `data_base64` exclude each
/// other, and `data_base64` is a base64 string. Returns the decoded bytes of `data_base64`, if present.
pub fn check_structured_data(event: &Value) -> Result<Option<Vec<u8>>, BinaryError> {
    let object = event.as_object().ok_or(BinaryError::NotAnObject)?;
    match (object.get("data"), object.get("data_base64")) {
        (Some(_), Some(_)) => Err(BinaryError::BothDataMembers),
        (_, Some(Value::String(encoded))) => {
            base64::engine::general_purpose::STANDARD.decode(encoded).map(Some).map_err(|_| BinaryError::BadDataBase64)
        }
        (_, Some(_)) => Err(BinaryError::BadDataBase64),
        _ => Ok(None),
    }
}

/// The binary-mode request for a structured event, for the simulator: `ce-` headers (percent-encoded), the
/// datacontenttype as Content-Type, and the data as the body (`data_base64` decoded, JSON data serialised, a
/// string under a non-JSON content type sent as its text).
pub fn binary_from_structured(event: &Value) -> Result<(HeaderMap, Vec<u8>), BinaryError> {
    let object = event.as_object().ok_or(BinaryError::NotAnObject)?;
    check_required(object)?;
    let from_base64 = check_structured_data(event)?;
    let content_type = object.get("datacontenttype").and_then(Value::as_str);

    let mut headers = HeaderMap::new();
    for (name, value) in object {
        if matches!(name.as_str(), "data" | "data_base64" | "datacontenttype") {
            continue;
        }
        if !is_attribute_name(name) {
            return Err(BinaryError::BadAttributeName(name.clone()));
        }
        let text = match value {
            Value::Null => continue,
            Value::String(s) => encode_header_value(s),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            Value::Array(_) | Value::Object(_) => return Err(BinaryError::NotAHeaderValue(name.clone())),
        };
        let header_name = HeaderName::from_bytes(format!("ce-{name}").as_bytes())
            .map_err(|_| BinaryError::BadAttributeName(name.clone()))?;
        let header_value = HeaderValue::from_str(&text).map_err(|_| BinaryError::BadHeaderValue(name.clone()))?;
        headers.insert(header_name, header_value);
    }

    let body = match (from_base64, object.get("data")) {
        (Some(bytes), _) => bytes,
        (None, Some(Value::String(text))) if content_type.is_some_and(|ct| !is_json_media_type(ct)) => {
            text.clone().into_bytes()
        }
        (None, Some(data)) => serde_json::to_vec(data).expect("a Value serialises"),
        (None, None) => Vec::new(),
    };
    let content_type = match content_type {
        Some(ct) => Some(ct),
        None if object.contains_key("data") => Some("application/json"),
        None => None,
    };
    if let Some(ct) = content_type {
        let value = HeaderValue::from_str(ct).map_err(|_| BinaryError::BadHeaderValue("datacontenttype".to_owned()))?;
        headers.insert(CONTENT_TYPE, value);
    }
    Ok((headers, body))
}

#[cfg(test)]
mod tests;
