//! A url as a client sends it: Url::parse, normalised once and for good, model urls
//! that split and rebuild to themselves.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| syncscope::untrusted_input::url(data));
