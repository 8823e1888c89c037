//! Journal lines and journals on disk for the reader's unit tests (tests.rs and the window's).

use crate::journal::segment_path;
use crate::record::{EventRecord, Record, VerifiedBy};
use serde_json::value::RawValue;
use std::path::PathBuf;

/// An event record's line (no newline) for a CloudEvent with this id.
pub fn event(id: &str, duplicate: bool) -> String {
    Record::Event(EventRecord {
        source_name: None,
        attributes: None,
        received_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
        peer: "127.0.0.1:1".into(),
        via: None,
        verified_by: VerifiedBy::Primary,
        duplicate,
        event: RawValue::from_string(format!(r#"{{"specversion":"1.0","id":"{id}","source":"s","type":"t"}}"#))
            .unwrap(),
    })
    .to_line()
}

/// The CloudEvent ids of `records` in order, `?` for a record that is not an event.
pub fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| match r {
            Record::Event(e) => crate::cloudevent::EventFields::from_raw(e.event.get()).id,
            _ => "?".into(),
        })
        .collect()
}

/// A journal whose segments hold `content`, one string per segment, in a temporary directory.
pub fn journal(content: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("journal.jsonl");
    for (i, c) in content.iter().enumerate() {
        std::fs::write(segment_path(&base, i as u64), c).unwrap();
    }
    (dir, base)
}
