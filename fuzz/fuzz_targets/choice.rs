//! Fuzz target `choice`: see `steppe_fuzz::choice`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::choice(data));
