//! socketioxide spreads a tuple into separate event arguments; a pushed or replayed
//! event arrives as a list of JSON values of any length, so this wraps the list to
//! serialize as that tuple.

use serde::Serialize;
use serde_json::Value;

/// Emits with each element of `args` as one argument (socketioxide spreads tuples).
pub struct EmitArgs<'a>(pub &'a [Value]);

impl Serialize for EmitArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(self.0.len())?;
        for arg in self.0 {
            t.serialize_element(arg)?;
        }
        t.end()
    }
}
