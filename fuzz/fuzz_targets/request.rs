//! A client's event `["event", arg]`: read into a dialect (native or iobind) and a
//! command, then carried out against a `:memory:` store as the endpoint does.
#![no_main]

use std::sync::OnceLock;

use syncscope::untrusted_input::{self, Dispatcher};

static SERVER: OnceLock<Dispatcher> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    untrusted_input::request(data);
    SERVER.get_or_init(Dispatcher::new).event(data);
});
