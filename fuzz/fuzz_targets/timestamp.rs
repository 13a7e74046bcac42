//! Fuzz target `timestamp`: see `steppe_fuzz::timestamp`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::timestamp(data));
