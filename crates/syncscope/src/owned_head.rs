//! A request's URI and header values copied out of hyper's read buffer.
//!
//! Why: hyper parses a request head without copying it: the URI and every header value
//! are slices of the connection's read buffer (8–16 KiB), and a slice keeps the whole
//! buffer alive. engineioxide keeps the handshake request's head for the socket's whole
//! life (socketioxide's `req_parts()`, which the inspector and the fault rules read), so
//! every connected socket held a read buffer of which a few hundred bytes were used:
//! about 16 KiB of heap per idle websocket, half of what one cost (issue 9, the heap
//! profile in docs/BENCHMARKS.md). Copies of the few hundred bytes the head holds let
//! the buffer go once the request is read.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderValue, Uri};

/// Replaces the request's URI and header values with copies that own their bytes.
pub fn detach(req: &mut Request) {
    // A URI made from a `String` owns its bytes; one that cannot be read back (never
    // the case for a URI hyper parsed) is left as it was.
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        // axum's router keeps a clone of the URI as it came (`OriginalUri`), in the
        // extensions engineioxide keeps too.
        if let Some(original) = req.extensions_mut().get_mut::<OriginalUri>() {
            original.0 = uri.clone();
        }
        *req.uri_mut() = uri;
    }
    for value in req.headers_mut().values_mut() {
        // `from_bytes` copies; the value was valid, so it still is.
        if let Ok(copy) = HeaderValue::from_bytes(value.as_bytes()) {
            let sensitive = value.is_sensitive();
            *value = copy;
            value.set_sensitive(sensitive);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::body::Bytes;

    /// The copies are equal to what they replace and share nothing with the buffer the
    /// head was parsed from.
    #[test]
    fn the_head_no_longer_points_into_the_buffer() {
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketx-client-id");
        let uri = Uri::from_maybe_shared(buffer.slice(0..37)).unwrap();
        let value = HeaderValue::from_maybe_shared(buffer.slice(37..)).unwrap();
        let mut req = Request::builder()
            .uri(uri)
            .header("x-client", value)
            .body(Body::empty())
            .unwrap();
        let range = buffer.as_ptr_range();
        let inside = |p: *const u8| range.contains(&p);
        assert!(inside(req.headers()["x-client"].as_bytes().as_ptr()));
        detach(&mut req);
        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(req.headers()["x-client"], "x-client-id");
        assert!(!inside(req.headers()["x-client"].as_bytes().as_ptr()));
        let query = req.uri().query().unwrap();
        assert!(!inside(query.as_ptr()));
    }
}
