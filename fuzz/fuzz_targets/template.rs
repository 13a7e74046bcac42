//! Fuzz target `template`: see `steppe_fuzz::template`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::template(data));
