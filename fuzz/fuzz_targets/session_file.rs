//! A session file read and turned into a replay script; the same bytes as a HAR import.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    syncscope::untrusted_input::session_file(data);
    syncscope::untrusted_input::har(data);
});
