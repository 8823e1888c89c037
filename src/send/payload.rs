//! `--file`: the user's own payloads, read once and sent byte for byte (object, array, or NDJSON), optionally
//! grouped into GreenLake-style batches.

use bytes::Bytes;
use serde::de::IgnoredAny;
use std::path::{Path, PathBuf};

/// Largest file read; payload files are samples and captures, not archives.
pub const MAX_FILE: u64 = 256 * 1024 * 1024;

/// GreenLake truncates payloads above "typically 64Kb", so a bigger one would not arrive whole from GreenLake.
pub const GREENLAKE_MAX_PAYLOAD: usize = 64 * 1024;

/// Why a payload file cannot be sent. The cause is the error's source, so `{:#}` (as `glwatch send` prints it)
/// reads "cannot read PATH: CAUSE".
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("cannot read {}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{} is larger than {} MiB", path.display(), MAX_FILE >> 20)]
    TooLarge { path: PathBuf },
    #[error("{}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        problem: ParseError,
    },
}

/// Why a file's bytes hold no payloads to send.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("neither one JSON document nor NDJSON: line {line}: {message}")]
    NotJson { line: usize, message: String },
    #[error("no payload in the file")]
    Empty,
}

/// One request body and how many events it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub body: Bytes,
    pub events: u64,
}

/// The payloads of a file, and remarks worth showing the user (nothing here stops the send: a handler's
/// refusal of a malformed event is something a user may want to test).
#[derive(Debug, Default)]
pub struct Loaded {
    pub payloads: Vec<Payload>,
    pub warnings: Vec<String>,
}

pub fn load_file(path: &Path, batch: usize) -> Result<Loaded, PayloadError> {
    let unreadable = |source| PayloadError::Unreadable { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_FILE {
        return Err(PayloadError::TooLarge { path: path.to_owned() });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let mut loaded =
        parse(Bytes::from(bytes), batch).map_err(|problem| PayloadError::Invalid { path: path.to_owned(), problem })?;
    for w in &mut loaded.warnings {
        *w = format!("{}: {w}", path.display());
    }
    Ok(loaded)
}

/// Splits a file's bytes: a single JSON document is one payload exactly as written (its signature covers every
/// byte, whitespace included); otherwise each non-blank line is one payload (NDJSON).
pub fn parse(bytes: Bytes, batch: usize) -> Result<Loaded, ParseError> {
    let mut loaded = Loaded::default();
    let mut units: Vec<(usize, Bytes)> = Vec::new();
    if serde_json::from_slice::<IgnoredAny>(&bytes).is_ok() {
        units.push((0, bytes));
    } else {
        let mut start = 0;
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let end = start + line.len();
            let mut slice = bytes.slice(start..end);
            start = end + 1;
            if slice.last() == Some(&b'\r') {
                slice.truncate(slice.len() - 1);
            }
            if slice.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Err(e) = serde_json::from_slice::<IgnoredAny>(&slice) {
                return Err(ParseError::NotJson { line: n + 1, message: e.to_string() });
            }
            units.push((n + 1, slice));
        }
    }
    if units.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut group: Vec<Bytes> = Vec::new();
    let flush = |group: &mut Vec<Bytes>, out: &mut Vec<Payload>| {
        if group.is_empty() {
            return;
        }
        let mut body = Vec::with_capacity(group.iter().map(|g| g.len() + 1).sum::<usize>() + 1);
        body.push(b'[');
        for (i, g) in group.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(g.trim_ascii());
        }
        body.push(b']');
        out.push(Payload { body: body.into(), events: group.len() as u64 });
        group.clear();
    };
    for (line, body) in units {
        let at = if line == 0 { String::new() } else { format!("line {line}: ") };
        if let Err(e) = crate::cloudevent::parse_body(&body) {
            loaded.warnings.push(format!("{at}not a valid CloudEvent ({e}); sent as is"));
        }
        if body.len() > GREENLAKE_MAX_PAYLOAD {
            loaded.warnings.push(format!("{at}{} bytes: GreenLake truncates payloads over 64 KB", body.len()));
        }
        let is_array = body.trim_ascii_start().first() == Some(&b'[');
        if is_array {
            flush(&mut group, &mut loaded.payloads);
            let events = serde_json::from_slice::<Vec<IgnoredAny>>(&body).map(|v| v.len() as u64).unwrap_or(1);
            loaded.payloads.push(Payload { body, events });
        } else if batch > 1 {
            group.push(body);
            if group.len() == batch {
                flush(&mut group, &mut loaded.payloads);
            }
        } else {
            loaded.payloads.push(Payload { body, events: 1 });
        }
    }
    flush(&mut group, &mut loaded.payloads);
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Bytes {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().into()
    }

    #[test]
    fn a_json_document_is_sent_byte_for_byte() {
        for (name, events) in [("audit-log-created.json", 1), ("expiring-subscriptions.json", 1), ("batch.json", 2)] {
            let bytes = fixture(name);
            let loaded = parse(bytes.clone(), 1).unwrap();
            assert_eq!(loaded.payloads, vec![Payload { body: bytes.clone(), events }]);
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            // Batching leaves a document that is already a batch alone.
            assert_eq!(parse(bytes, 10).unwrap().payloads[0].events, events);
        }
    }

    #[test]
    fn ndjson_lines_are_payloads_and_batch_into_arrays() {
        let a = r#"{"specversion":"1.0","id":"a","source":"s","type":"t"}"#;
        let b = r#"{"specversion":"1.0","id":"b","source":"s","type":"t"}"#;
        let c = r#"[{"specversion":"1.0","id":"c","source":"s","type":"t"}]"#;
        let text = format!("{a}\r\n\n{b}\n{c}\n{a}");
        let one = parse(Bytes::from(text.clone()), 1).unwrap();
        let bodies: Vec<&[u8]> = one.payloads.iter().map(|p| &p.body[..]).collect();
        assert_eq!(bodies, vec![a.as_bytes(), b.as_bytes(), c.as_bytes(), a.as_bytes()]);
        let two = parse(Bytes::from(text), 2).unwrap();
        let bodies: Vec<String> = two.payloads.iter().map(|p| String::from_utf8(p.body.to_vec()).unwrap()).collect();
        assert_eq!(bodies, vec![format!("[{a},{b}]"), c.to_owned(), format!("[{a}]")]);
        assert_eq!(two.payloads.iter().map(|p| p.events).collect::<Vec<_>>(), vec![2, 1, 1]);
        for p in &two.payloads {
            crate::cloudevent::parse_body(&p.body).unwrap();
        }
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(
            parse(Bytes::from_static(b"{\"a\":1}\n{nope\n"), 1).unwrap_err().to_string(),
            "neither one JSON document nor NDJSON: line 2: key must be a string at line 1 column 2"
        );
        assert_eq!(parse(Bytes::from_static(b"\n \n"), 1).unwrap_err().to_string(), "no payload in the file");
        let loaded = parse(Bytes::from_static(b"{\"id\":\"x\"}\n{\"a\":1}\n"), 1).unwrap();
        assert_eq!(loaded.payloads.len(), 2);
        assert_eq!(
            loaded.warnings[0],
            "line 1: not a valid CloudEvent (missing required attribute \"specversion\"); sent as is"
        );
    }
}
