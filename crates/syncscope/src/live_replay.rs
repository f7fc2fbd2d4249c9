//! Live replay: a stored session's server→client pushes re-emitted into the clients
//! connected now, with the recorded gaps, for debugging an app against a real sequence
//! of changes (docs/REPLAY.md, Live replay).
//!
//! Unlike `replay --check`, nothing is compared and no recorded client is played: the
//! pushes go to whoever listens on their channel today. The server owns one [`Player`]
//! (in [`crate::sync::Sync`]); the control API drives it. A driver task sends the pushes
//! while playing; every send happens under the player's lock, so once a pause, seek or
//! stop has returned, nothing more goes out until the next play or step.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use socketioxide::SocketIo;
use sqlx::{Row, SqlitePool};
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use crate::emit_args::EmitArgs;
use crate::inspect::types::{Body, Origin, Record, ReplayState, ReplayStatus, Target};
use crate::inspect::Inspector;
use crate::rooms::{channel_room, iobind_room};
use crate::url::Url;

/// The longest a single recorded gap is waited (before dividing by the speed): a
/// recording with a long idle stretch does not stall the replay.
pub const MAX_GAP: Duration = Duration::from_secs(10);
/// The fastest speed accepted; beyond it gaps are below the timer's resolution anyway.
pub const MAX_SPEED: f64 = 1000.0;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("there is no session {0}; list them with GET /_syncscope/sessions")]
    NoSuchSession(i64),
    #[error("session {0} has no server pushes to replay (only push_out records of origin server or inspector are replayed)")]
    NothingToReplay(i64),
    #[error("no replay is loaded; load a session first (command replay_load)")]
    NotLoaded,
    #[error("speed must be a number above 0 and at most {MAX_SPEED}, not {0}")]
    BadSpeed(f64),
    #[error("position {position} is past the end: the replay has {total} pushes")]
    BadPosition { position: u64, total: u64 },
    #[error("reading the session failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// One recorded push, as it will be sent again.
#[derive(Debug, Clone)]
struct Push {
    seq: u64,
    at_us: u64,
    event: String,
    target: Target,
    args: Vec<Value>,
}

/// Where the replay stands; guarded by the player's lock.
struct Inner {
    session: i64,
    pushes: Vec<Push>,
    position: usize,
    speed: f64,
    state: ReplayState,
    /// When the last push went out while playing: the next one is due a recorded gap
    /// later. None right after play/step/seek: the next one goes out at once.
    last_sent: Option<Instant>,
    /// Bumped by each load, so that the driver of an earlier load stops.
    generation: u64,
}

struct Shared {
    io: SocketIo,
    pool: SqlitePool,
    inspect: Arc<Inspector>,
    inner: Mutex<Option<Inner>>,
    /// Bumped after every command: wakes the driver to work out again what is due. A
    /// watch (not a Notify) so that every driver sees every bump, none is lost.
    wake: watch::Sender<u64>,
}

/// The server's live replay player.
pub struct Player {
    shared: Arc<Shared>,
}

impl Player {
    pub fn new(io: SocketIo, pool: SqlitePool, inspect: Arc<Inspector>) -> Player {
        Player {
            shared: Arc::new(Shared {
                io,
                pool,
                inspect,
                inner: Mutex::new(None),
                wake: watch::Sender::new(0),
            }),
        }
    }

    /// Loads session `session`'s pushes (replacing any replay loaded), idle at the start.
    pub async fn load(&self, session: i64, speed: Option<f64>) -> Result<ReplayStatus, LiveError> {
        let speed = check_speed(speed.unwrap_or(1.0))?;
        let pushes = load_pushes(&self.shared.pool, session).await?;
        let mut guard = self.shared.inner.lock().await;
        let generation = guard.as_ref().map_or(0, |i| i.generation + 1);
        let inner = Inner {
            session,
            pushes,
            position: 0,
            speed,
            state: ReplayState::Idle,
            last_sent: None,
            generation,
        };
        let status = self.shared.publish(&inner);
        *guard = Some(inner);
        tokio::spawn(drive(self.shared.clone(), generation));
        // The driver of the previous load wakes, sees the new generation and ends.
        self.shared.wake.send_modify(|n| *n += 1);
        Ok(status)
    }

    /// Plays from the current position (from the start once finished).
    pub async fn play(&self) -> Result<ReplayStatus, LiveError> {
        self.change(|inner| {
            if inner.state == ReplayState::Finished {
                inner.position = 0;
            }
            inner.state = ReplayState::Playing;
            inner.last_sent = None;
            Ok(())
        })
        .await
    }

    pub async fn pause(&self) -> Result<ReplayStatus, LiveError> {
        self.change(|inner| {
            if inner.state == ReplayState::Playing {
                inner.state = ReplayState::Paused;
            }
            Ok(())
        })
        .await
    }

    /// Sends the next push now and stays paused (finished after the last one).
    pub async fn step(&self) -> Result<ReplayStatus, LiveError> {
        let mut guard = self.shared.inner.lock().await;
        let inner = guard.as_mut().ok_or(LiveError::NotLoaded)?;
        if inner.position >= inner.pushes.len() {
            inner.position = 0;
        }
        inner.last_sent = None;
        self.shared.send_next(inner, ReplayState::Paused).await;
        self.shared.wake.send_modify(|n| *n += 1);
        Ok(status_of(inner))
    }

    /// Moves to `position` (how many pushes count as sent), paused.
    pub async fn seek(&self, position: u64) -> Result<ReplayStatus, LiveError> {
        self.change(|inner| {
            let total = inner.pushes.len() as u64;
            if position > total {
                return Err(LiveError::BadPosition { position, total });
            }
            inner.position = position as usize;
            inner.state = if position == total {
                ReplayState::Finished
            } else {
                ReplayState::Paused
            };
            inner.last_sent = None;
            Ok(())
        })
        .await
    }

    /// Stops and goes back to the start; the session stays loaded.
    pub async fn stop(&self) -> Result<ReplayStatus, LiveError> {
        self.change(|inner| {
            inner.state = ReplayState::Idle;
            inner.position = 0;
            inner.last_sent = None;
            Ok(())
        })
        .await
    }

    pub async fn set_speed(&self, speed: f64) -> Result<ReplayStatus, LiveError> {
        let speed = check_speed(speed)?;
        self.change(|inner| {
            inner.speed = speed;
            Ok(())
        })
        .await
    }

    /// Forgets the replay (its driver ends): for the server's shutdown.
    pub async fn unload(&self) {
        *self.shared.inner.lock().await = None;
        *self
            .shared
            .inspect
            .replay
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.wake.send_modify(|n| *n += 1);
    }

    pub async fn status(&self) -> Option<ReplayStatus> {
        self.shared.inner.lock().await.as_ref().map(status_of)
    }

    async fn change(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<(), LiveError>,
    ) -> Result<ReplayStatus, LiveError> {
        let mut guard = self.shared.inner.lock().await;
        let inner = guard.as_mut().ok_or(LiveError::NotLoaded)?;
        f(inner)?;
        self.shared.wake.send_modify(|n| *n += 1);
        Ok(self.shared.publish(inner))
    }
}

impl Shared {
    /// Keeps the inspector's copy of the status (for stats) up to date; returns it.
    fn publish(&self, inner: &Inner) -> ReplayStatus {
        let status = status_of(inner);
        *self
            .inspect
            .replay
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
        status
    }

    /// Sends the push at the current position and moves past it, into `state`
    /// (`finished` after the last push). The status is published before the push's
    /// record, so the batch that carries the record carries the new position too.
    async fn send_next(&self, inner: &mut Inner, state: ReplayState) {
        let Some(push) = inner.pushes.get(inner.position).cloned() else {
            return;
        };
        let target = live_target(&push);
        let sent = match &target {
            Target::Channel { url } => match Url::parse(url) {
                Ok(url) => {
                    self.io
                        .to(channel_room(&url))
                        .emit(&push.event, &EmitArgs(&push.args))
                        .await
                }
                Err(_) => Ok(()),
            },
            Target::Query { url, query } => match crate::query::room_of(url, query) {
                Ok(room) => {
                    self.io
                        .to(room)
                        .emit(&push.event, &EmitArgs(&push.args))
                        .await
                }
                Err(_) => Ok(()),
            },
            Target::Iobind { ns } => {
                self.io
                    .to(iobind_room(ns))
                    .emit(&push.event, &EmitArgs(&push.args))
                    .await
            }
            _ => self.io.emit(&push.event, &EmitArgs(&push.args)).await,
        };
        if let Err(e) = sent {
            tracing::warn!(seq = push.seq, event = %push.event, "replayed push failed: {e}");
        }
        inner.position += 1;
        inner.state = if inner.position >= inner.pushes.len() {
            ReplayState::Finished
        } else {
            state
        };
        self.publish(inner);
        self.inspect
            .pushed(None, Origin::Replay, target, &push.event, push.args);
    }
}

/// The driver of one load: sends the pushes while playing, each a recorded gap / speed
/// after the one before; sleeps while paused. Ends when another load replaces it.
async fn drive(shared: Arc<Shared>, generation: u64) {
    let mut wake = shared.wake.subscribe();
    loop {
        wake.borrow_and_update();
        let due = {
            let guard = shared.inner.lock().await;
            let Some(inner) = guard.as_ref() else { return };
            if inner.generation != generation {
                return;
            }
            if inner.state == ReplayState::Playing {
                Some(inner.last_sent.map(|at| at + gap(inner)))
            } else {
                None
            }
        };
        match due {
            None => {
                if wake.changed().await.is_err() {
                    return;
                }
            }
            Some(due) => {
                if let Some(due) = due {
                    tokio::select! {
                        _ = tokio::time::sleep_until(due) => {}
                        // A command came: work out again what is due.
                        _ = wake.changed() => continue,
                    }
                }
                let mut guard = shared.inner.lock().await;
                let Some(inner) = guard.as_mut() else { return };
                if inner.generation != generation || inner.state != ReplayState::Playing {
                    continue;
                }
                inner.last_sent = Some(Instant::now());
                shared.send_next(inner, ReplayState::Playing).await;
            }
        }
    }
}

/// The wait before the push at the current position: its recorded distance from the
/// one before, capped at [`MAX_GAP`], divided by the speed.
fn gap(inner: &Inner) -> Duration {
    let (Some(next), Some(prev)) = (
        inner.pushes.get(inner.position),
        inner
            .position
            .checked_sub(1)
            .and_then(|i| inner.pushes.get(i)),
    ) else {
        return Duration::ZERO;
    };
    let recorded = Duration::from_micros(next.at_us.saturating_sub(prev.at_us)).min(MAX_GAP);
    recorded.div_f64(inner.speed)
}

fn status_of(inner: &Inner) -> ReplayStatus {
    ReplayStatus {
        session: inner.session,
        state: inner.state,
        position: inner.position as u64,
        total: inner.pushes.len() as u64,
        speed: inner.speed,
        current_seq: inner
            .position
            .checked_sub(1)
            .and_then(|i| inner.pushes.get(i))
            .map(|p| p.seq),
        next_seq: inner.pushes.get(inner.position).map(|p| p.seq),
    }
}

fn check_speed(speed: f64) -> Result<f64, LiveError> {
    if speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED {
        Ok(speed)
    } else {
        Err(LiveError::BadSpeed(speed))
    }
}

/// Whom a recorded push goes to now. A recorded socket (HAR imports) does not exist
/// any more: a `change` goes to the channel of its url, anything else to everyone.
fn live_target(push: &Push) -> Target {
    match &push.target {
        Target::Socket { .. } => {
            let url = push
                .args
                .first()
                .and_then(|a| a.get("url"))
                .and_then(Value::as_str)
                .and_then(|u| Url::parse(u).ok());
            match url {
                Some(url) if push.event == "change" => {
                    let collection = url.split_model().map(|(c, _)| c).unwrap_or(url);
                    Target::Channel {
                        url: collection.to_string(),
                    }
                }
                _ => Target::All,
            }
        }
        t => t.clone(),
    }
}

/// The session's pushes of the server and the inspector, in seq order.
async fn load_pushes(pool: &SqlitePool, session: i64) -> Result<Vec<Push>, LiveError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM sessions WHERE id = ?")
        .bind(session)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Err(LiveError::NoSuchSession(session));
    }
    let rows = sqlx::query(
        "SELECT body FROM session_events WHERE session = ? AND kind = 'push_out' \
         AND origin IN ('server', 'inspector') ORDER BY seq",
    )
    .bind(session)
    .fetch_all(pool)
    .await?;
    let pushes: Vec<Push> = rows
        .iter()
        .filter_map(|row| serde_json::from_str::<Record>(row.get::<&str, _>(0)).ok())
        .filter_map(|record| match record.body {
            Body::PushOut {
                event,
                target,
                args,
                ..
            } => Some(Push {
                seq: record.seq,
                at_us: record.at_us,
                event,
                target,
                args,
            }),
            _ => None,
        })
        .collect();
    if pushes.is_empty() {
        return Err(LiveError::NothingToReplay(session));
    }
    Ok(pushes)
}
