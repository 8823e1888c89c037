//! Fuzzes CloudEvent parsing and the fields an operator reads: never a panic, every accepted event can be read
//! back as a JSON tree, is stored compact and carries nothing a terminal would act on. The checks live in
//! fuzz/checks.rs, shared with the tests.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cloudevent(data));
