//! Inputs the fuzzers once broke, kept under tests/fixtures/fuzz/ as `<target>-<what>.*` and replayed with the same
//! checks the fuzz target makes, so a fixed bug stays fixed without running the fuzzer.

use glwatch::cloudevent::parse_body;
use std::path::Path;

// The very checks the fuzz targets make, not a copy of them.
#[path = "../fuzz/checks.rs"]
mod checks;

/// Runs every file in `dir` through the checks its target makes, the target named by the file name's first
/// `-`-separated part or by `target`. Returns how many it replayed.
fn replay(dir: &Path, target: Option<&str>) -> usize {
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let check: fn(&[u8]) = match target.or_else(|| name.split('-').next()) {
            Some("cloudevent") => checks::cloudevent,
            Some("classify") => checks::classify,
            Some("record_line") => checks::record_line,
            _ => panic!("{name}: name it <target>-<what>"),
        };
        // A failing input names itself: the assertion alone would not say which file it came from.
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            panic!("{} fails its fuzz target's checks: {e:?}", path.display());
        }
        replayed += 1;
    }
    replayed
}

#[test]
fn every_input_a_fuzzer_once_broke_now_passes_its_checks() {
    let replayed = replay(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz"), None);
    assert!(replayed >= 1);
}

/// The seed corpus is small: replaying it keeps the checks and the seeds in step (a seed the checks refuse would
/// make every fuzzing run start from a crash).
#[test]
fn every_seed_passes_its_targets_checks() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for target in ["classify", "cloudevent", "record_line"] {
        assert!(replay(&seeds.join(target), Some(target)) >= 1, "no seeds for {target}");
    }
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
