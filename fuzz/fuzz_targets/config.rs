//! config.json bytes through parse + validate (seeds: fuzz/seeds/config).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| carrack_fuzz::config(data));
