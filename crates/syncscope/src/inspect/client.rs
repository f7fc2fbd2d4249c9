//! The control API seen from the terminal: what `syncscope sockets`, `events`, `push`
//! and `record` do against a running server.

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::types::{
    Body, ClientMessage, Command, CommandResult, EventsPage, Filter, Origin, Record, ServerMessage,
    SocketInfo, Target,
};

/// Where the server is and how to prove we may drive it.
pub struct Client {
    pub base: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(url: &str, token: Option<String>) -> Client {
        Client {
            base: url.trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self) -> Result<&str, String> {
        self.token.as_deref().ok_or_else(|| {
            "no control token: pass --token TOKEN or set SYNCSCOPE_TOKEN to the \
             `Control token:` line `syncscope serve` printed at start"
                .to_string()
        })
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> String {
        format!(
            "cannot reach Syncscope at {}: {e}; is `syncscope serve` running there? pass --url to point elsewhere",
            self.base
        )
    }

    async fn answer<T: DeserializeOwned>(&self, res: reqwest::Response) -> Result<T, String> {
        let status = res.status();
        let body = res.text().await.map_err(|e| self.unreachable(e))?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            let message = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or(body);
            return Err(format!(
                "the server refused the request ({status}): {message}"
            ));
        }
        serde_json::from_str(&body).map_err(|e| {
            format!(
                "unexpected answer from {} ({status}): {e}: {body}",
                self.base
            )
        })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, String> {
        let res = self
            .http
            .get(format!("{}/_syncscope{path}", self.base))
            .bearer_auth(self.token()?)
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(res).await
    }

    /// A GET whose answer is text, such as a session export.
    pub async fn get_text(&self, path: &str) -> Result<String, String> {
        let res = self
            .http
            .get(format!("{}/_syncscope{path}", self.base))
            .bearer_auth(self.token()?)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = res.status();
        let body = res.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(format!("{path}: the server answered {status}: {body}"));
        }
        Ok(body)
    }

    /// Imports a session file into the server; returns its answer (`{session, records, name}`).
    pub async fn import_session(&self, file: String) -> Result<Value, String> {
        let res = self
            .http
            .post(format!("{}/_syncscope/sessions/import", self.base))
            .bearer_auth(self.token()?)
            .body(file)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = res.status();
        let answer: Value = self.answer(res).await?;
        if !status.is_success() {
            let message = answer["message"].as_str().unwrap_or_default();
            return Err(format!(
                "the server did not import it ({status}): {message}"
            ));
        }
        Ok(answer)
    }

    pub async fn command(&self, command: &Command) -> Result<Value, String> {
        let res = self
            .http
            .post(format!("{}/_syncscope/command", self.base))
            .bearer_auth(self.token()?)
            .json(command)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        match self.answer::<CommandResult>(res).await? {
            CommandResult::Ok { value } => Ok(value),
            CommandResult::Error { code, message, .. } => Err(format!("{code}: {message}")),
        }
    }

    pub async fn sockets(&self) -> Result<Vec<SocketInfo>, String> {
        self.get("/sockets", &[]).await
    }

    pub async fn events_page(
        &self,
        filter: &Filter,
        session: Option<i64>,
        after: u64,
        limit: u32,
    ) -> Result<EventsPage, String> {
        let mut query = vec![("after", after.to_string()), ("limit", limit.to_string())];
        if let Some(session) = session {
            query.push(("session", session.to_string()));
        }
        let f = serde_json::to_value(filter).unwrap_or_default();
        for (key, value) in f.as_object().into_iter().flatten() {
            let text = match (key.as_str(), value) {
                (_, Value::Null) => continue,
                ("kinds", Value::Array(kinds)) => kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            query.push((key_static(key), text));
        }
        self.get("/events", &query).await
    }

    /// Follows the live stream with `filter`, calling `each` for every record, until the
    /// server goes away.
    pub async fn follow(
        &self,
        filter: Filter,
        mut each: impl FnMut(&Record),
        mut missed: impl FnMut(u64),
    ) -> Result<(), String> {
        let ws_base = self
            .base
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        let url = format!("{ws_base}/_syncscope/ws?token={}", self.token()?);
        let request = url.into_client_request().map_err(|e| self.unreachable(e))?;
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(res) => format!(
                    "the server refused the WebSocket ({}); check --token / SYNCSCOPE_TOKEN",
                    res.status()
                ),
                e => self.unreachable(e),
            })?;
        let watch = serde_json::to_string(&ClientMessage::Watch { filter }).unwrap_or_default();
        ws.send(Message::Text(watch.into()))
            .await
            .map_err(|e| self.unreachable(e))?;
        while let Some(msg) = ws.next().await {
            let msg = msg.map_err(|e| format!("the stream broke: {e}"))?;
            let Message::Text(text) = msg else { continue };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Batch {
                    records, missed: n, ..
                }) => {
                    if n > 0 {
                        missed(n);
                    }
                    records.iter().for_each(&mut each);
                }
                Ok(ServerMessage::Error { message }) => return Err(message),
                Ok(_) => {}
                Err(e) => return Err(format!("unexpected message from the server: {e}")),
            }
        }
        Ok(())
    }
}

fn key_static(key: &str) -> &'static str {
    match key {
        "socket" => "socket",
        "channel" => "channel",
        "event" => "event",
        "kinds" => "kinds",
        "origin" => "origin",
        "errors_only" => "errors_only",
        "injected" => "injected",
        _ => "text",
    }
}

/// Reads `--filter key=value` options: socket, channel, event, kind (comma-separated),
/// origin, errors, injected, text.
pub fn parse_filter(items: &[String]) -> Result<Filter, String> {
    let mut filter = Filter::default();
    for item in items {
        let (key, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        let need = |v: &str| {
            if v.is_empty() {
                Err(format!("--filter {key}=VALUE needs a value"))
            } else {
                Ok(v.to_string())
            }
        };
        match key {
            "socket" => filter.socket = Some(need(value)?),
            "channel" => filter.channel = Some(need(value)?),
            "event" => filter.event = Some(need(value)?),
            "kind" | "kinds" => {
                filter.kinds = Some(need(value)?.split(',').map(str::to_string).collect())
            }
            "origin" => {
                filter.origin = Some(
                    serde_json::from_value::<Origin>(json!(value)).map_err(|_| {
                        format!("--filter origin={value}: use client, server, inspector, fault or replay")
                    })?,
                )
            }
            "errors" | "errors_only" => filter.errors_only = Some(value != "false"),
            // injected: only what fault rules made; injected=false: only the real thing.
            "injected" => filter.injected = Some(value != "false"),
            "text" => filter.text = Some(need(value)?),
            _ => {
                return Err(format!(
                    "unknown filter {key:?}: use socket=, channel=, event=, kind=, origin=, errors, injected or text="
                ))
            }
        }
    }
    Ok(filter)
}

/// One readable line for a record.
pub fn line(record: &Record) -> String {
    let secs = record.at_us / 1_000_000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let ms = (record.at_us / 1000) % 1000;
    let socket = record.socket.as_deref().unwrap_or("-");
    let url = record.url.as_deref().unwrap_or("");
    let short = |v: &Value| {
        let text = v.to_string();
        if text.chars().count() > 80 {
            format!("{}…", text.chars().take(80).collect::<String>())
        } else {
            text
        }
    };
    let detail = match &record.body {
        Body::Connect {
            transport,
            protocol,
            remote_addr,
            ..
        } => format!(
            "{transport} {protocol} from {}",
            remote_addr.as_deref().unwrap_or("?")
        ),
        Body::Disconnect { reason } => reason.clone(),
        Body::Upgrade { from, to } => format!("{from} → {to}"),
        Body::EventIn {
            event,
            args,
            ack_id,
        } => format!(
            "{event} {}{}",
            short(args),
            ack_id.map(|id| format!(" (ack {id})")).unwrap_or_default()
        ),
        Body::AckOut {
            request_seq,
            event,
            latency_us,
            error,
            ..
        } => format!(
            "{event} → #{request_seq} in {:.1} ms{}",
            *latency_us as f64 / 1000.0,
            error
                .as_deref()
                .map(|c| format!(" ERROR {c}"))
                .unwrap_or_default()
        ),
        Body::PushOut {
            event,
            target,
            recipients,
            args,
            ..
        } => {
            let to = match target {
                Target::Socket { id } => format!("socket {id}"),
                Target::Channel { url } => format!("channel {url}"),
                Target::Query { url, query } => format!("query {url} {query}"),
                Target::Iobind { ns } => format!("iobind {ns}"),
                Target::All => "everyone".into(),
            };
            format!(
                "{event} to {to} ({recipients}) {}",
                args.first().map(short).unwrap_or_default()
            )
        }
        Body::Subscribe { channel, query } | Body::Unsubscribe { channel, query } => {
            crate::inspect::registry::channel_key(channel, query.as_ref())
        }
        Body::ProtocolError { message, .. } => message.clone(),
        Body::Fault {
            rule,
            event,
            request_seq,
            push_seq,
            action,
            ..
        } => format!(
            "rule {rule} on {event}{}{}: {}",
            request_seq.map(|s| format!(" #{s}")).unwrap_or_default(),
            push_seq
                .map(|s| format!(" of change {s}"))
                .unwrap_or_default(),
            action.describe()
        ),
        Body::Refused { message, .. } => message.clone(),
        Body::FaultRules {
            change, rule, seed, ..
        } => match rule {
            Some(rule) => format!(
                "{change:?} rule {}: {} (seed {seed})",
                rule.id,
                rule.spec.describe()
            ),
            None => format!("{change:?} (seed {seed})"),
        },
        Body::Offline {
            client,
            secs,
            sockets,
        } => format!(
            "client {client} offline for {secs} s ({} socket(s) cut)",
            sockets.len()
        ),
        Body::Online { client, reason } => format!("client {client} back online ({reason})"),
        Body::SlowConsumer {
            queued_bytes,
            limit_bytes,
            ..
        } => format!("{queued_bytes} bytes waited to be sent (limit {limit_bytes}): cut"),
    };
    format!(
        "{:>7} {h:02}:{m:02}:{s:02}.{ms:03} {:<14} {:<20} {url:<16} {detail}",
        record.seq,
        record.body.kind(),
        socket
    )
}

/// The table `syncscope sockets` prints.
pub fn sockets_table(sockets: &[SocketInfo]) -> String {
    if sockets.is_empty() {
        return "No socket is connected.\n".into();
    }
    let mut out = format!(
        "{:<22} {:<10} {:<5} {:<22} {:>6} {:>6} {:>6}  {}\n",
        "SOCKET", "TRANSPORT", "EIO", "FROM", "IN", "ACKS", "ERRORS", "CHANNELS"
    );
    for s in sockets {
        out.push_str(&format!(
            "{:<22} {:<10} {:<5} {:<22} {:>6} {:>6} {:>6}  {}\n",
            s.id,
            s.transport,
            s.protocol.trim_start_matches("EIO"),
            s.remote_addr.as_deref().unwrap_or("-"),
            s.events_in,
            s.acks_out,
            s.error_acks,
            s.channels.join(" ")
        ));
    }
    out
}
