//! What an operator reads from an event: the table and export columns, the acting user and a one-line summary.

use serde_json::Value;
use std::borrow::Cow;

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
        }
    }

    pub fn from_raw(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract(&v)).unwrap_or_default()
    }

    pub fn from_raw_multiline(raw: &str) -> EventFields {
        serde_json::from_str::<Value>(raw).map(|v| Self::extract_multiline(&v)).unwrap_or_default()
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
