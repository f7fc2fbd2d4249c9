//! `syncscope replay FILE --live`: a session file's pushes replayed into the clients of
//! a running server, from the terminal. The file is imported, loaded into the server's
//! player and played; progress is shown until it finishes, and Ctrl-C stops it (the
//! server would otherwise go on sending after the command is gone).

use std::path::Path;
use std::time::Duration;

use crate::inspect::client::Client;
use crate::inspect::types::{Command, ReplayState, ReplayStatus, Stats};

/// How often the player's status is read.
const POLL: Duration = Duration::from_millis(200);

/// How a live replay from the terminal ended.
#[derive(Debug)]
pub enum LiveEnd {
    /// Every push was sent.
    Finished,
    /// Ctrl-C: the replay was stopped.
    Interrupted,
    /// The file could not be used (not a session, no pushes).
    Unusable(String),
    /// The server could not be reached, or another replay took over.
    Failed(String),
}

pub async fn run(control: &Client, path: &Path, speed: f64) -> LiveEnd {
    let file = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return LiveEnd::Unusable(format!("cannot read {}: {e}", path.display())),
    };
    let imported = match control.import_session(file).await {
        Ok(answer) => answer,
        Err(e) if e.contains("(400") => {
            return LiveEnd::Unusable(format!(
                "{}: {e} (a HAR file needs `syncscope import` first)",
                path.display()
            ))
        }
        Err(e) => return LiveEnd::Failed(e),
    };
    let Some(session) = imported["session"].as_i64() else {
        return LiveEnd::Failed(format!("unexpected import answer: {imported}"));
    };
    let load = Command::ReplayLoad {
        session,
        speed: Some(speed),
    };
    let loaded = match control.command(&load).await {
        Ok(value) => value,
        Err(e) if e.starts_with("conflict") => {
            return LiveEnd::Unusable(format!("{}: {e}", path.display()))
        }
        Err(e) => return LiveEnd::Failed(e),
    };
    let total = loaded["total"].as_u64().unwrap_or(0);
    // Listening before play: a Ctrl-C right after the first push must stop the replay,
    // not kill this command and leave the server playing.
    let mut interrupt = match Interrupt::listen() {
        Ok(i) => i,
        Err(e) => return LiveEnd::Failed(format!("cannot listen for Ctrl-C: {e}")),
    };
    if let Err(e) = control.command(&Command::ReplayPlay).await {
        return LiveEnd::Failed(e);
    }
    eprintln!(
        "Replaying {} (session {session}, {total} pushes) at {speed}x; Ctrl-C stops it.",
        path.display()
    );
    let progress = Progress::new(total, path);
    loop {
        tokio::select! {
            _ = interrupt.recv() => {
                let _ = control.command(&Command::ReplayStop).await;
                progress.done();
                eprintln!("Interrupted: the replay is stopped.");
                return LiveEnd::Interrupted;
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let stats: Stats = match control.get("/stats", &[]).await {
            Ok(stats) => stats,
            Err(e) => {
                progress.done();
                return LiveEnd::Failed(e);
            }
        };
        let status = match stats.replay {
            Some(status) if status.session == session => status,
            _ => {
                progress.done();
                return LiveEnd::Failed(
                    "another replay was loaded on the server, replacing this one".into(),
                );
            }
        };
        progress.show(&status);
        match status.state {
            ReplayState::Finished => {
                progress.done();
                println!("Replayed {total} pushes of session {session}.");
                return LiveEnd::Finished;
            }
            ReplayState::Idle => {
                progress.done();
                return LiveEnd::Failed("the replay was stopped from elsewhere".into());
            }
            ReplayState::Playing | ReplayState::Paused => {}
        }
    }
}

/// Ctrl-C, listened for from the moment it is created.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> std::io::Result<Interrupt> {
        Ok(Interrupt {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A bar on a terminal, a plain line per change of position otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: std::cell::Cell<Option<(u64, ReplayState)>>,
}

impl Progress {
    fn new(total: u64, path: &Path) -> Progress {
        let bar = super::progress_bar(path, total);
        Progress {
            bar,
            last: Default::default(),
        }
    }

    fn show(&self, status: &ReplayStatus) {
        if self.last.get() == Some((status.position, status.state)) {
            return;
        }
        self.last.set(Some((status.position, status.state)));
        let state = match status.state {
            ReplayState::Paused => " (paused)",
            _ => "",
        };
        match &self.bar {
            Some(bar) => {
                bar.set_position(status.position);
                bar.set_message(format!("replaying{state}"));
            }
            None => {
                let seq = status
                    .current_seq
                    .map(|s| format!(", recorded #{s}"))
                    .unwrap_or_default();
                println!(
                    "{}/{} pushes sent{seq}{state}",
                    status.position, status.total
                );
            }
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
