//! Fuzzes reading a journal or NDJSON line back into a record: never a panic, and what reads back writes back
//! the same way.
#![no_main]

use glwatch::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = Record::from_line(line) else {
        return;
    };
    let written = record.to_line();
    let again = Record::from_line(&written).expect("a written record reads back");
    assert_eq!(again.to_line(), written);
});
