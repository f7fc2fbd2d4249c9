//! Replay: a recorded session played again against a server, as a check.
//!
//! `syncscope replay FILE --check` turns a recording into a regression test: every
//! recorded client is played as a real Socket.IO client, and every ack and push it
//! receives is held against what it received in the recording (ids and seqs the server
//! makes are mapped, not compared literally; see [`compare`]). `--update` re-records
//! the file from today's answers, keeping the requests, like accepting a snapshot.
//!
//! The pieces: [`script`] turns records into clients, requests and expected answers;
//! [`play`] runs them; [`compare`] decides what counts as the same; [`report`] says
//! what differed.

pub mod compare;
pub mod live_cli;
pub mod play;
pub mod report;
pub mod script;
pub mod seed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::inspect::client::Client as Control;
use crate::inspect::types::Command;
use crate::session_file::{self, SessionFileError};
use crate::{Config, DbLocation};
use compare::IgnorePath;
use play::{PlayError, PlayOptions, PlayReport};
use script::Script;

/// What `replay --check` is told.
pub struct CheckOptions {
    /// A running server to check instead of a fresh in-process one.
    pub against: Option<String>,
    /// Its control token (for recorded faults and --update).
    pub token: Option<String>,
    pub speed: f64,
    pub timeout: Duration,
    pub ignore: Vec<IgnorePath>,
    /// Settings of the in-process server.
    pub max_data: usize,
    pub retain_changes: i64,
    /// Re-record the file from today's answers.
    pub update: bool,
    pub progress: Option<Box<dyn Fn(u64, u64) + Send>>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            against: None,
            token: None,
            speed: 0.0,
            timeout: Duration::from_secs(5),
            ignore: vec![],
            max_data: Config::default().max_data,
            retain_changes: Config::default().retain_changes,
            update: false,
            progress: None,
        }
    }
}

/// Why a file could not be checked at all (exit status 2), one variant per cause.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    File {
        path: String,
        source: SessionFileError,
    },
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {lost} record(s) were lost while it was recorded (the recorder fell behind), so a check built on it would lie; record it again with less load or a larger recorder")]
    Incomplete { path: String, lost: i64 },
    #[error("{path}: the recording has no client connecting in it; nothing to replay")]
    NoClients { path: String },
    #[error("cannot start a server to replay against: {0}")]
    Start(String),
    #[error("{path}: {source}")]
    Play { path: String, source: PlayError },
    #[error("{path}: re-recording failed: {message}")]
    Update { path: String, message: String },
}

/// The result of checking one file.
pub struct Outcome {
    pub path: String,
    pub script: Script,
    pub report: PlayReport,
    /// The file was re-recorded (`--update`).
    pub updated: bool,
}

pub fn load(path: &Path) -> Result<Script, ReplayError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: name.clone(),
        source,
    })?;
    let file = session_file::parse(&text).map_err(|source| ReplayError::File {
        path: name.clone(),
        source,
    })?;
    if file.header.lost > 0 {
        return Err(ReplayError::Incomplete {
            path: name,
            lost: file.header.lost,
        });
    }
    let script = script::build(&file);
    if script.clients.is_empty() {
        return Err(ReplayError::NoClients { path: name });
    }
    Ok(script)
}

/// Plays one session file and compares; with `update`, rewrites it from what came.
pub async fn check(path: &Path, mut opts: CheckOptions) -> Result<Outcome, ReplayError> {
    let name = path.display().to_string();
    let script = load(path)?;
    let header_name = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| session_file::parse(&t).ok())
        .and_then(|f| f.header.name);
    // A fresh server on an in-memory database, unless told to use a running one.
    let (running, server, token) = match &opts.against {
        Some(url) => (None, url.clone(), opts.token.clone()),
        None => {
            let running = crate::start(Config {
                port: 0,
                db: DbLocation::Memory,
                max_data: opts.max_data,
                retain_changes: opts.retain_changes,
                ..Config::default()
            })
            .await
            .map_err(|e| ReplayError::Start(e.to_string()))?;
            plant(&running, &script.seeds)
                .await
                .map_err(|e| ReplayError::Start(format!("cannot seed the store: {e}")))?;
            let server = format!("http://{}", running.local_addr());
            let token = running.token().to_string();
            (Some(running), server, Some(token))
        }
    };
    let control = token.clone().map(|t| Control::new(&server, Some(t)));
    let update_failed = |message: String| ReplayError::Update {
        path: name.clone(),
        message,
    };
    let mut sockets_before = 0;
    let session = if opts.update {
        let control = control.as_ref().ok_or_else(|| {
            update_failed("--update records through the control API: pass --token".into())
        })?;
        let stats: crate::inspect::types::Stats =
            control.get("/stats", &[]).await.map_err(update_failed)?;
        sockets_before = stats.sockets;
        let started = control
            .command(&Command::RecordStart {
                name: header_name.clone(),
            })
            .await
            .map_err(update_failed)?;
        started.get("id").and_then(|v| v.as_i64())
    } else {
        None
    };
    let play_opts = PlayOptions {
        server: server.clone(),
        token,
        speed: opts.speed,
        timeout: opts.timeout,
        ignore: std::mem::take(&mut opts.ignore),
        progress: opts.progress.take(),
    };
    let played = play::play(&script, play_opts).await;
    let report = match played {
        Ok(report) => report,
        Err(source) => {
            if let Some(running) = running {
                running.shutdown().await;
            }
            return Err(ReplayError::Play { path: name, source });
        }
    };
    let mut updated = false;
    if let (Some(id), Some(control)) = (session, &control) {
        rerecord(control, id, path, sockets_before)
            .await
            .map_err(update_failed)?;
        updated = true;
    }
    if let Some(running) = running {
        running.shutdown().await;
    }
    Ok(Outcome {
        path: name,
        script,
        report,
        updated,
    })
}

/// The progress bar replay shows on a terminal (none when stderr is not one).
pub fn progress_bar(label: &Path, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.display().to_string());
        bar
    })
}

/// Puts back the models the recording shows existed before it began.
async fn plant(running: &crate::Running, seeds: &[seed::SeedModel]) -> Result<(), String> {
    let store = running.store();
    let lock = store.lock().await;
    let first = -(seeds.len() as i64);
    for (n, model) in seeds.iter().enumerate() {
        let collection = crate::url::Url::parse(&model.collection).map_err(|e| e.to_string())?;
        store
            .seed(
                &lock,
                &collection,
                &model.id,
                &model.data,
                model.version,
                first + n as i64,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Stops the recording once the replay's sockets are gone and the recorder has caught
/// up, and writes it over the file (through a temporary file, so a failure leaves the
/// old one whole).
async fn rerecord(
    control: &Control,
    session: i64,
    path: &Path,
    sockets_before: u64,
) -> Result<(), String> {
    let settled = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats: crate::inspect::types::Stats = control.get("/stats", &[]).await?;
        if (stats.sockets <= sockets_before && stats.recorder_queued == 0)
            || tokio::time::Instant::now() > settled
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    control.command(&Command::RecordStop).await?;
    let text = control
        .get_text(&format!("/sessions/{session}/export"))
        .await?;
    let tmp: PathBuf = path.with_extension("ndjson.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    Ok(())
}
