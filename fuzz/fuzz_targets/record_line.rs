//! Fuzzes reading a journal or NDJSON line back into a record: never a panic, and what reads back writes back
//! the same way. The checks live in fuzz/checks.rs, shared with the tests.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::record_line(data));
