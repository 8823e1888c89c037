//! Inputs the fuzzers once broke, kept under tests/fixtures/fuzz/ as `<target>-<what>.*` and replayed with the same
//! checks the fuzz target makes, so a fixed bug stays fixed without running the fuzzer.

use glwatch::cloudevent::{parse_body, EventFields};
use glwatch::greenlake::{challenge_request, ChallengeGuard};
use glwatch::record::Record;
use glwatch::text::is_unsafe;
use std::path::Path;

fn printable(text: &str) -> bool {
    !text.chars().any(is_unsafe)
}

/// The checks of fuzz/fuzz_targets/cloudevent.rs.
fn check_cloudevent(data: &[u8]) {
    let Ok(events) = parse_body(data) else {
        return;
    };
    for event in events {
        let raw = event.raw.get();
        let value: serde_json::Value = serde_json::from_str(raw).expect("an accepted event reads back as a tree");
        assert!(printable(raw));
        let fields = EventFields::extract(&value);
        assert_eq!(fields.id, glwatch::text::escape(&event.id));
    }
}

/// The checks of fuzz/fuzz_targets/classify.rs that need no secret.
fn check_classify(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let body = &rest[(n as usize % 100).min(rest.len())..];
    if let Some(request) = challenge_request(body) {
        if ChallengeGuard.check(&request).is_ok() {
            assert!(parse_body(request.as_bytes()).is_err());
        }
    }
}

/// The checks of fuzz/fuzz_targets/record_line.rs.
fn check_record_line(data: &[u8]) {
    if let Some(record) = std::str::from_utf8(data).ok().and_then(|l| Record::from_line(l).ok()) {
        let written = record.to_line();
        assert_eq!(Record::from_line(&written).unwrap().to_line(), written);
    }
}

#[test]
fn every_input_a_fuzzer_once_broke_now_passes_its_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        match name.split('-').next() {
            Some("cloudevent") => check_cloudevent(&data),
            Some("classify") => check_classify(&data),
            Some("record_line") => check_record_line(&data),
            _ => panic!("{name}: name it <target>-<what>"),
        }
        replayed += 1;
    }
    assert!(replayed >= 1);
}

#[test]
fn numbers_too_large_for_a_float_are_refused_not_stored() {
    // Found by the cloudevent fuzzer: 1729848E600 passed parsing, then no consumer could read the event.
    let body = r#"{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"quantity":1729848E600}}"#;
    let e = parse_body(body.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("number out of range"), "{e}");
    let fine = r#"{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"quantity":1.5e300,"n":-0}}"#;
    assert!(parse_body(fine.as_bytes()).is_ok());
}
