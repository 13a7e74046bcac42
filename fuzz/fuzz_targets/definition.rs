//! Fuzz target `definition`: see `steppe_fuzz::definition`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::definition(data));
