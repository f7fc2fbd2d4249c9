//! Starting on the preferred port or, when something else already listens there, on the
//! next free one. The window always does this (a developer may already run `syncscope
//! serve` on 4000), and so does `make app` headless (`serve --next-free-port`), so both
//! come up where a newcomer runs them; plain `serve` keeps failing on a taken port, as
//! a script that asked for that port expects.

use crate::{Config, Running, StartError};

/// How many ports after the preferred one are tried.
pub const TRIES: u16 = 20;

/// Starts on `config.port`, or on the first free one of the `tries` ports after it.
/// Port 0 (any free port) needs no search.
pub async fn start(config: Config, tries: u16) -> Result<Running, StartError> {
    let first = config.port;
    let last = if first == 0 {
        0
    } else {
        first.saturating_add(tries)
    };
    let mut candidate = first;
    loop {
        match crate::start(Config {
            port: candidate,
            ..config.clone()
        })
        .await
        {
            // Not the error's own text: it tells the user to stop the other program or
            // pass --port, which is advice for when the search gives up, not while it
            // goes on. The caller says where it ended up.
            Err(StartError::PortInUse { .. }) if candidate < last => {
                tracing::debug!("port {candidate} is taken; trying {}", candidate + 1);
                candidate += 1;
            }
            other => return other,
        }
    }
}
