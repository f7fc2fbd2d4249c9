//! The door of the Socket.IO endpoint: every request under `/socket.io/` (websocket
//! upgrade or polling) meets the Origin and Host checks of crate::access before
//! socketioxide sees it, and the CORS answers of polling reflect only the origins those
//! checks allow.
//!
//! A refusal is answered 403 with `{code, message}`, published as a `refused` record (the
//! inspector shows it), and logged once per origin and host, so that a developer whose app
//! runs on a LAN address or a custom name reads the flag to use where they look first.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::access::{Access, RequestHeaders};
use crate::inspect::{Inspector, RefusedRequest};

/// The path socketioxide serves the endpoint on (its default).
const ENGINE_PATH: &str = "/socket.io";

/// How many distinct refusals are logged at `warn`; beyond, a hostile page retrying with
/// new names would only fill the terminal, so the rest go to `debug`.
const LOGGED_LIMIT: usize = 64;

pub struct HandshakeGuard {
    pub access: Arc<Access>,
    pub inspector: Arc<Inspector>,
    /// The refusals already logged at `warn` (code, Origin, Host).
    logged: Mutex<HashSet<String>>,
}

impl HandshakeGuard {
    pub fn new(access: Arc<Access>, inspector: Arc<Inspector>) -> HandshakeGuard {
        HandshakeGuard {
            access,
            inspector,
            logged: Mutex::default(),
        }
    }

    /// Whether this refusal is news to the developer (first of its kind).
    fn first_time(&self, key: String) -> bool {
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        logged.len() < LOGGED_LIMIT && logged.insert(key)
    }
}

pub(crate) fn is_engine_path(path: &str) -> bool {
    path == ENGINE_PATH
        || path
            .strip_prefix(ENGINE_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The middleware: passes what the checks allow, refuses the rest.
pub async fn guard(State(guard): State<Arc<HandshakeGuard>>, req: Request, next: Next) -> Response {
    if !is_engine_path(req.uri().path()) {
        return next.run(req).await;
    }
    let headers = RequestHeaders::of(req.headers(), req.uri().authority().map(|a| a.as_str()));
    let Err(refusal) = guard.access.check(&headers) else {
        if let Some(refused) = offline_handshake(&guard, &req) {
            return refused;
        }
        return next.run(req).await;
    };
    let request = RefusedRequest {
        transport: req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("transport="))
                .map(str::to_string)
        }),
        remote_addr: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.to_string()),
        headers,
    };
    guard.inspector.refused(&refusal, &request);
    let key = format!(
        "{} {:?} {:?}",
        refusal.code(),
        request.headers.origins,
        request.headers.hosts
    );
    if guard.first_time(key) {
        tracing::warn!("{refusal}");
    } else {
        tracing::debug!("{refusal}");
    }
    (StatusCode::FORBIDDEN, Json(refusal.to_wire())).into_response()
}

/// Refuses the Engine.IO handshake of a client the inspector took offline (one that
/// names itself with `client` in the query, as the adapter does): the client's engine
/// fails to open, it sees `connect_error` and keeps retrying until it is let back, as
/// after a real network loss. Requests of an open session (`sid=`) are not handshakes.
fn offline_handshake(guard: &HandshakeGuard, req: &Request) -> Option<Response> {
    let query = req.uri().query()?;
    if query.split('&').any(|kv| kv.starts_with("sid=")) {
        return None;
    }
    let client = crate::inspect::offline::client_of(&serde_json::Value::Null, Some(query));
    let kept_out = guard.inspector.offline.check(client.as_deref()).err()?;
    let message = kept_out.to_string();
    guard.inspector.bus.publish(
        None,
        crate::inspect::types::Origin::Inspector,
        None,
        crate::inspect::types::Body::Refused {
            reason: "offline".into(),
            message: message.clone(),
            http_origin: None,
            host: None,
            transport: query
                .split('&')
                .find_map(|kv| kv.strip_prefix("transport="))
                .map(str::to_string),
            remote_addr: req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.to_string()),
        },
    );
    Some(
        (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "code": "offline", "message": message })),
        )
            .into_response(),
    )
}

/// CORS for polling from another origin (the app's own dev server): credentials and the
/// request's methods and headers mirrored, as Socket.IO needs, but the origin reflected
/// only when the checks would allow it.
pub fn cors_layer(access: Arc<Access>) -> CorsLayer {
    CorsLayer::very_permissive().allow_origin(AllowOrigin::predicate(move |origin, _| {
        origin.to_str().is_ok_and(|o| access.origin_allowed(o))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_engine_path_is_guarded() {
        assert!(is_engine_path("/socket.io"));
        assert!(is_engine_path("/socket.io/"));
        assert!(!is_engine_path("/socket.iox/"));
        assert!(!is_engine_path("/demo/"));
        assert!(!is_engine_path("/"));
    }
}
