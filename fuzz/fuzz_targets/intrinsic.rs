//! Fuzz target `intrinsic`: see `steppe_fuzz::intrinsic`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steppe_fuzz::intrinsic(data));
