//! state.json bytes through the state reader (seeds: fuzz/seeds/state).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| carrack_fuzz::state(data));
