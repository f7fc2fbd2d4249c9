//! Engine.IO and Socket.IO text packets, both revisions, as a client reads and writes them.
//!
//! Replay, HAR import and the tests all need to take frames apart the same way, and
//! getting one detail wrong (EIO3's length-prefixed polling payloads count UTF-16 units,
//! not bytes) would make a recording look different from what the browser saw. Binary
//! packets are not decoded: no client of the two dialects sends them.

use serde_json::Value;

/// Which Engine.IO revision a connection speaks: 4 for socket.io-client 3 and 4, 3 for
/// socket.io-client 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eio {
    V3,
    V4,
}

impl Eio {
    pub fn number(self) -> u8 {
        match self {
            Eio::V3 => 3,
            Eio::V4 => 4,
        }
    }

    /// `EIO3` or `EIO4`, as the inspector's records name it.
    pub fn parse_name(name: &str) -> Option<Eio> {
        match name {
            "EIO3" => Some(Eio::V3),
            "EIO4" => Some(Eio::V4),
            _ => None,
        }
    }
}

/// One Engine.IO packet of a text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum EnginePacket {
    /// The handshake: sid, upgrades, ping timings.
    Open(Value),
    Close,
    Ping(String),
    Pong(String),
    /// A Socket.IO packet rides in it.
    Message(String),
    Upgrade,
    Noop,
}

impl EnginePacket {
    pub fn decode(text: &str) -> Result<EnginePacket, PacketError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(PacketError::Empty)?;
        let rest = chars.as_str();
        Ok(match kind {
            '0' => EnginePacket::Open(
                serde_json::from_str(rest).map_err(|e| PacketError::Json(e.to_string()))?,
            ),
            '1' => EnginePacket::Close,
            '2' => EnginePacket::Ping(rest.to_string()),
            '3' => EnginePacket::Pong(rest.to_string()),
            '4' => EnginePacket::Message(rest.to_string()),
            '5' => EnginePacket::Upgrade,
            '6' => EnginePacket::Noop,
            // 'b' prefixes a base64 binary packet; nothing we speak sends one.
            other => return Err(PacketError::UnknownType(other)),
        })
    }

    pub fn encode(&self) -> String {
        match self {
            EnginePacket::Open(v) => format!("0{v}"),
            EnginePacket::Close => "1".into(),
            EnginePacket::Ping(data) => format!("2{data}"),
            EnginePacket::Pong(data) => format!("3{data}"),
            EnginePacket::Message(m) => format!("4{m}"),
            EnginePacket::Upgrade => "5".into(),
            EnginePacket::Noop => "6".into(),
        }
    }
}

/// One Socket.IO packet, on the default namespace unless `nsp` says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct SioPacket {
    pub kind: SioKind,
    pub nsp: String,
    pub id: Option<u64>,
    /// The JSON after the header: the CONNECT payload, an event's `[name, ...args]`, an
    /// ack's `[...args]`, a CONNECT_ERROR's reason; `Null` when absent.
    pub data: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioKind {
    Connect,
    Disconnect,
    Event,
    Ack,
    /// CONNECT_ERROR in Socket.IO 5, ERROR in Socket.IO 4.
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl SioPacket {
    pub fn event(name: &str, args: &[Value], id: Option<u64>) -> SioPacket {
        let mut array = vec![Value::String(name.to_string())];
        array.extend(args.iter().cloned());
        SioPacket {
            kind: SioKind::Event,
            nsp: "/".into(),
            id,
            data: Value::Array(array),
        }
    }

    pub fn decode(text: &str) -> Result<SioPacket, PacketError> {
        let mut chars = text.char_indices().peekable();
        let (_, kind) = chars.next().ok_or(PacketError::Empty)?;
        let kind = match kind {
            '0' => SioKind::Connect,
            '1' => SioKind::Disconnect,
            '2' => SioKind::Event,
            '3' => SioKind::Ack,
            '4' => SioKind::ConnectError,
            '5' => SioKind::BinaryEvent,
            '6' => SioKind::BinaryAck,
            other => return Err(PacketError::UnknownType(other)),
        };
        let mut rest = &text[1..];
        if matches!(kind, SioKind::BinaryEvent | SioKind::BinaryAck) {
            return Err(PacketError::Binary);
        }
        let mut nsp = "/".to_string();
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            nsp = rest[..end].to_string();
            rest = rest.get(end + 1..).unwrap_or("");
        }
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let id = if digits > 0 {
            Some(
                rest[..digits]
                    .parse()
                    .map_err(|_| PacketError::BadAckId(rest[..digits].to_string()))?,
            )
        } else {
            None
        };
        rest = &rest[digits..];
        let data = if rest.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(rest).map_err(|e| PacketError::Json(e.to_string()))?
        };
        if kind == SioKind::Event && !data.get(0).is_some_and(Value::is_string) {
            return Err(PacketError::NoEventName);
        }
        Ok(SioPacket {
            kind,
            nsp,
            id,
            data,
        })
    }

    pub fn encode(&self) -> String {
        let kind = match self.kind {
            SioKind::Connect => '0',
            SioKind::Disconnect => '1',
            SioKind::Event => '2',
            SioKind::Ack => '3',
            SioKind::ConnectError => '4',
            SioKind::BinaryEvent => '5',
            SioKind::BinaryAck => '6',
        };
        let mut out = String::new();
        out.push(kind);
        if self.nsp != "/" {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if !self.data.is_null() {
            out.push_str(&self.data.to_string());
        }
        out
    }

    /// An EVENT's name and arguments.
    pub fn event_parts(&self) -> Option<(String, Vec<Value>)> {
        if self.kind != SioKind::Event {
            return None;
        }
        // A packet built by hand may have no name; decoded ones always do.
        let (name, args) = self.data.as_array()?.split_first()?;
        Some((name.as_str()?.to_string(), args.to_vec()))
    }

    /// An ACK's arguments.
    pub fn ack_args(&self) -> Vec<Value> {
        match &self.data {
            Value::Array(items) => items.clone(),
            Value::Null => vec![],
            other => vec![other.clone()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    #[error("an empty packet")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    #[error("a binary packet (not supported)")]
    Binary,
    #[error("ack id {0:?} is not a number")]
    BadAckId(String),
    #[error("an event without a name")]
    NoEventName,
    #[error("bad JSON: {0}")]
    Json(String),
    #[error("a polling payload that does not add up: {0}")]
    Payload(String),
}

/// The record separator between packets of an EIO4 polling payload.
const SEPARATOR: char = '\u{1e}';

/// Joins Engine.IO packets into one polling request or response body.
pub fn encode_payload(eio: Eio, packets: &[String]) -> String {
    match eio {
        Eio::V4 => packets.join(&SEPARATOR.to_string()),
        Eio::V3 => packets
            .iter()
            .map(|p| format!("{}:{p}", p.encode_utf16().count()))
            .collect(),
    }
}

/// Splits a polling body into its Engine.IO packets.
pub fn decode_payload(eio: Eio, body: &str) -> Result<Vec<String>, PacketError> {
    match eio {
        Eio::V4 => Ok(body.split(SEPARATOR).map(str::to_string).collect()),
        Eio::V3 => {
            // `<length>:<packet>` repeated, the length in UTF-16 code units as
            // JavaScript's String#length counts them.
            let mut packets = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let colon = rest
                    .find(':')
                    .ok_or_else(|| PacketError::Payload("a length without ':'".into()))?;
                let units: usize = rest[..colon]
                    .parse()
                    .map_err(|_| PacketError::Payload(format!("length {:?}", &rest[..colon])))?;
                rest = &rest[colon + 1..];
                let mut taken = 0;
                let mut end = 0;
                for c in rest.chars() {
                    if taken >= units {
                        break;
                    }
                    taken += c.len_utf16();
                    end += c.len_utf8();
                }
                if taken != units {
                    return Err(PacketError::Payload(
                        "a packet shorter than its length".into(),
                    ));
                }
                packets.push(rest[..end].to_string());
                rest = &rest[end..];
            }
            Ok(packets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_and_acks_round_trip() {
        let p = SioPacket::decode(r#"212["update",{"url":"/t/1"}]"#).unwrap();
        assert_eq!(p.id, Some(12));
        assert_eq!(
            p.event_parts(),
            Some(("update".into(), vec![json!({"url": "/t/1"})]))
        );
        assert_eq!(p.encode(), r#"212["update",{"url":"/t/1"}]"#);
        let ack = SioPacket::decode(r#"37[null,{"seq":3}]"#).unwrap();
        assert_eq!(ack.kind, SioKind::Ack);
        assert_eq!(ack.ack_args(), vec![Value::Null, json!({"seq": 3})]);
        let other = SioPacket::decode(r#"2/admin,["x"]"#).unwrap();
        assert_eq!(other.nsp, "/admin");
        assert!(SioPacket::decode(r#"2[1]"#).is_err());
        let connect = SioPacket::decode(r#"0/admin,{"token":1}"#).unwrap();
        assert_eq!(
            (connect.kind, connect.nsp.as_str()),
            (SioKind::Connect, "/admin")
        );
        assert_eq!(connect.data, json!({"token": 1}));
        assert_eq!(SioPacket::decode("0").unwrap().data, Value::Null);
        assert!(SioPacket::decode("2[not json").is_err());
        // A packet made by hand without a name has no parts, and no panic.
        let nameless = SioPacket {
            data: json!([]),
            ..SioPacket::event("x", &[], None)
        };
        assert_eq!(nameless.event_parts(), None);
    }

    #[test]
    fn eio3_payloads_count_utf16_units() {
        let packets = vec!["42[\"a\",\"é😀\"]".to_string(), "2".to_string()];
        let body = encode_payload(Eio::V3, &packets);
        // 12 characters, 13 UTF-16 units: the emoji counts twice, "é" once.
        assert!(body.starts_with("13:"), "{body}");
        assert_eq!(decode_payload(Eio::V3, &body).unwrap(), packets);
        assert!(decode_payload(Eio::V3, "9:42").is_err());
        let v4 = encode_payload(Eio::V4, &packets);
        assert_eq!(decode_payload(Eio::V4, &v4).unwrap(), packets);
    }
}
