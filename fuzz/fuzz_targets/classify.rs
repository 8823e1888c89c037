//! Fuzzes what the handler does with a request's signature header and body: challenge recognition, the oracle
//! guard, signature verification and event parsing. The checks live in fuzz/checks.rs, shared with the tests.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::classify(data));
