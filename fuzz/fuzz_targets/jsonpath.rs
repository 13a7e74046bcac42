//! Fuzz target `jsonpath`: see `steppe_fuzz::jsonpath`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::jsonpath(data));
