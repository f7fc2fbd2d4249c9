//! Browser files served beside the endpoint, embedded at build time (see build.rs).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Serves an embedded file when the path names one; everything else goes on.
///
/// It sits in front of the Socket.IO layer because that layer claims every path under
/// `/socket.io/`, including the client bundle the Node server serves there.
pub async fn serve(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let path = match req.uri().path() {
        "/demo" => return Redirect::permanent("/demo/").into_response(),
        "/demo/" => "/demo/index.html",
        "/_syncscope/ui" => return Redirect::permanent("/_syncscope/ui/").into_response(),
        "/_syncscope/ui/" => "/_syncscope/ui/index.html",
        p => p,
    };
    match ASSETS.iter().find(|(route, _)| *route == path) {
        Some((_, Ok(bytes))) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            Body::from(*bytes),
        )
            .into_response(),
        // Only a debug build gets here: a release build refuses to build without the file.
        Some((_, Err(remedy))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{path} was not bundled into this build: run `{remedy}` in the Syncscope checkout, then rebuild\n"),
        )
            .into_response(),
        None => next.run(req).await,
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}
