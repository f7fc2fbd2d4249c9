//! Backbone urls as the server understands them.
//!
//! Clients spell the same collection `todos`, `/todos` or `/todos/`; we normalise once at
//! the edge so that the store, the channels and the pushes all agree on one spelling.
//! Anything that could escape a collection (`..`) or confuse a log (control characters)
//! is refused here, before it reaches the store.

use crate::error::SyncError;

/// The longest url accepted, in bytes.
pub const MAX_URL_LEN: usize = 1024;

/// A normalised url: leading `/`, no trailing `/`, at least one segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url(String);

impl Url {
    pub fn parse(raw: &str) -> Result<Url, SyncError> {
        let bad = |why: &str| SyncError::bad_request("url", format!("url {raw:?} {why}"));
        if raw.len() > MAX_URL_LEN {
            return Err(SyncError::bad_request(
                "url",
                format!(
                    "url is {} bytes long; the limit is {MAX_URL_LEN}",
                    raw.len()
                ),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(SyncError::bad_request(
                "url",
                "url contains control characters".to_string(),
            ));
        }
        if raw.contains('?') || raw.contains('#') {
            return Err(bad("has a query string or fragment; send only the path"));
        }
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            return Err(bad("names no collection"));
        }
        for segment in trimmed.split('/') {
            match segment {
                "" => return Err(bad("has an empty segment")),
                "." | ".." => return Err(bad("has a '.' or '..' segment")),
                s if s.trim().is_empty() => return Err(bad("has a blank segment")),
                _ => {}
            }
        }
        Ok(Url(format!("/{trimmed}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The collection and the (percent-decoded) id when this url is read as a model url.
    pub fn split_model(&self) -> Option<(Url, String)> {
        let (parent, last) = self.0.rsplit_once('/')?;
        if parent.is_empty() {
            return None;
        }
        let id = percent_decode(last)?;
        if id.chars().any(char::is_control) {
            return None;
        }
        Some((Url(parent.to_string()), id))
    }

    /// The model url of `id` in this collection, encoded as Backbone encodes it — but for
    /// an id `.` or `..`, whose url Backbone would send as a dot segment, which is refused
    /// (see `parse`): those are sent as `%2E` and `%2E%2E`, which read back as the id.
    pub fn model_url(&self, id: &str) -> String {
        match id {
            "." => format!("{}/%2E", self.0),
            ".." => format!("{}/%2E%2E", self.0),
            id => format!("{}/{}", self.0, percent_encode(id)),
        }
    }

    /// The first segment: the namespace of the iobind dialect.
    pub fn first_segment(&self) -> &str {
        self.0[1..].split('/').next().unwrap_or_default()
    }

    pub fn is_single_segment(&self) -> bool {
        !self.0[1..].contains('/')
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Mirrors `encodeURIComponent`, which Backbone applies to ids in model urls.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dot_id_has_a_model_url_that_reads_back_as_it() {
        for id in [".", ".."] {
            let todos = Url::parse("/todos").unwrap();
            let url = Url::parse(&todos.model_url(id)).expect("a url the server accepts");
            assert_eq!(url.split_model(), Some((todos, id.to_string())));
        }
    }

    #[test]
    fn leading_and_trailing_slashes_are_normalised_away() {
        assert_eq!(Url::parse("todos").unwrap().as_str(), "/todos");
        assert_eq!(Url::parse("/todos/").unwrap().as_str(), "/todos");
        assert_eq!(
            Url::parse("projects/7/todos").unwrap().as_str(),
            "/projects/7/todos"
        );
    }

    #[test]
    fn traversal_control_characters_and_queries_are_refused() {
        for bad in [
            "/todos/../x",
            "/./todos",
            "/a//b",
            "/",
            "",
            "/todos\n",
            "/todos?x=1",
        ] {
            let err = Url::parse(bad).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{bad:?}");
        }
        assert!(Url::parse(&"a".repeat(MAX_URL_LEN + 1)).is_err());
    }

    #[test]
    fn a_model_url_splits_into_collection_and_decoded_id() {
        let url = Url::parse("/projects/7/todos/a%20b").unwrap();
        let (collection, id) = url.split_model().unwrap();
        assert_eq!(collection.as_str(), "/projects/7/todos");
        assert_eq!(id, "a b");
        assert_eq!(collection.model_url(&id), "/projects/7/todos/a%20b");
        assert!(Url::parse("/todos").unwrap().split_model().is_none());
    }
}
