//! A mount's `options`: the input split at commas (seeds: fuzz/seeds/mount_options).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts: Vec<String> = text.split(',').map(str::to_string).collect();
    carrack_fuzz::mount_options(&opts);
});
