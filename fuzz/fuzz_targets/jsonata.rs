//! Fuzz target `jsonata`: see `steppe_fuzz::jsonata`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::jsonata(data));
