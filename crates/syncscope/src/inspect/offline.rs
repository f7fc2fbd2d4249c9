//! Clients taken offline for a while by the inspector (`{"command": "offline"}`).
//!
//! A network that goes away is more than a socket cut once: the client tries to come
//! back and fails until the network returns. So an offline client is remembered here
//! until its time is up, and both doors of the endpoint ask about it: the Engine.IO
//! handshake (crate::handshake_guard, for clients that send `client` in the query, as
//! the adapter does) and the Socket.IO CONNECT (crate::endpoint, for `auth.client`).
//! The client sees `connect_error` and, with its reconnection on, keeps trying until
//! it is let back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One client kept out.
#[derive(Debug, Clone, Copy)]
struct Out {
    until: Instant,
    /// Tells a later `offline` of the same client from this one, so that the timer of
    /// an earlier one does not let the client back too soon.
    generation: u64,
}

#[derive(Default)]
pub struct OfflineClients {
    out: Mutex<HashMap<String, Out>>,
    generations: std::sync::atomic::AtomicU64,
}

/// An offline client knocking: what it is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client {client} is offline for {secs_left} more s (the inspector's offline command); it is let back after that, or at once with the `online` command")]
pub struct KeptOut {
    pub client: String,
    pub secs_left: u64,
}

impl OfflineClients {
    /// Keeps `client` out for `secs`; returns the generation its timer must name.
    pub fn take(&self, client: &str, secs: u64) -> u64 {
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.lock().insert(
            client.to_string(),
            Out {
                until: Instant::now() + Duration::from_secs(secs),
                generation,
            },
        );
        generation
    }

    /// Lets `client` back; with a generation, only if it is still that offline (a
    /// timer). True when it was out.
    pub fn release(&self, client: &str, generation: Option<u64>) -> bool {
        let mut out = self.lock();
        match out.get(client) {
            Some(o) if generation.is_none_or(|g| g == o.generation) => {
                out.remove(client);
                true
            }
            _ => false,
        }
    }

    /// Refuses an offline client at the door.
    pub fn check(&self, client: Option<&str>) -> Result<(), KeptOut> {
        let Some(client) = client else { return Ok(()) };
        let out = self.lock();
        match out.get(client) {
            Some(o) if o.until > Instant::now() => Err(KeptOut {
                client: client.to_string(),
                secs_left: o.until.saturating_duration_since(Instant::now()).as_secs() + 1,
            }),
            _ => Ok(()),
        }
    }

    /// The clients out now and the seconds each has left.
    pub fn list(&self) -> Vec<(String, u64)> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, o)| o.until > now)
            .map(|(c, o)| (c.clone(), o.until.saturating_duration_since(now).as_secs()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Out>> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The longest offline the inspector accepts: a day; longer is surely a typo.
pub const MAX_OFFLINE_SECS: u64 = 86_400;

/// The client id a handshake names: `auth.client` (a string, as the adapter sends),
/// else `client` in the query string. Bounded: an id is a name, not a payload.
pub fn client_of(auth: &serde_json::Value, query: Option<&str>) -> Option<String> {
    let from_auth = auth
        .get("client")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let from_query = || {
        query?.split('&').find_map(|kv| {
            let v = kv.strip_prefix("client=")?;
            Some(percent_decode(v))
        })
    };
    from_auth
        .or_else(from_query)
        .filter(|c| !c.is_empty() && c.len() <= MAX_CLIENT_ID)
}

/// The longest client id kept.
pub const MAX_CLIENT_ID: usize = 128;

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_client_is_kept_out_until_released_and_an_old_timer_does_not_release_a_new_offline() {
        let o = OfflineClients::default();
        assert!(o.check(Some("a")).is_ok());
        let first = o.take("a", 60);
        assert!(o.check(Some("a")).is_err());
        assert!(o.check(Some("b")).is_ok());
        assert!(o.check(None).is_ok());
        let second = o.take("a", 60);
        assert!(!o.release("a", Some(first)), "the first timer is stale");
        assert!(o.check(Some("a")).is_err());
        assert!(o.release("a", Some(second)));
        assert!(o.check(Some("a")).is_ok());
    }

    #[test]
    fn the_client_id_comes_from_auth_else_the_query() {
        assert_eq!(
            client_of(&json!({"client": "t1"}), Some("client=q")),
            Some("t1".into())
        );
        assert_eq!(
            client_of(&json!(null), Some("EIO=4&client=a%20b")),
            Some("a b".into())
        );
        assert_eq!(client_of(&json!({"client": 5}), None), None);
        assert_eq!(client_of(&json!({"client": "x".repeat(500)}), None), None);
    }
}
