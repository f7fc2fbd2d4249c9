//! A control API message (a `/command` body or a WebSocket message), parsed and, when
//! it is a command, carried out against a `:memory:` server as the control API does.
#![no_main]

use std::sync::OnceLock;

use syncscope::untrusted_input::Dispatcher;

static SERVER: OnceLock<Dispatcher> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| SERVER.get_or_init(Dispatcher::new).control(data));
