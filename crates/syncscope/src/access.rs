//! Who may talk to this server from a browser: the `Origin` and `Host` checks of the
//! Socket.IO endpoint and of the control API, in one place.
//!
//! Browsers apply no CORS to WebSockets, so without these checks any website open in the
//! developer's browser could open `ws://127.0.0.1:4000/socket.io/` and read and write
//! every model; a DNS-rebinding page (its own name resolved to 127.0.0.1) could do the
//! same through polling. Vite (CVE-2025-24010) and webpack-dev-server (CVE-2018-14732)
//! learned this; we do as they do: a handshake is answered only when its `Origin` is
//! absent (Node, CLI, tests) or a page of this machine, and its `Host` names this
//! machine, unless the developer allowed more with `--allow-origin` / `--allow-host`.
//!
//! Headers are parsed strictly: `Host: 127.0.0.1:4000@evil.example` is not a loopback
//! host with junk after it, it is not a host at all; and every `Origin` header of a
//! request is looked at, not the first.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use serde_json::{json, Value};

/// A `host[:port]` as found in a `Host` header or an origin, parsed strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Lower case; an IPv6 address without its brackets.
    pub host: String,
    pub port: Option<u16>,
}

impl Authority {
    /// `host[:port]`, where host is a name (letters, digits, `-`, `.`, `_`), an IPv4
    /// address or a bracketed IPv6 address. Anything else (userinfo, a path, spaces) is
    /// not an authority this server answers to.
    pub fn parse(text: &str) -> Option<Authority> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            inside.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (inside, port)
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        let name_ok = |h: &str| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !text.starts_with('[') && !name_ok(host) {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.parse::<u16>().ok()?)
            }
            Some(_) => return None,
        };
        Some(Authority {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    /// `localhost`, a `*.localhost` name (RFC 6761: browsers resolve them to loopback
    /// themselves), or a loopback address (`127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        is_loopback_name(&self.host)
    }
}

/// See [`Authority::is_loopback`]; `host` without port or brackets.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_matches(|c| c == '[' || c == ']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A web origin (`scheme://host[:port]`), or the opaque origin `null`, normalised so
/// that two spellings of one origin compare equal (case, default port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebOrigin {
    Null,
    Tuple {
        scheme: String,
        authority: Authority,
    },
}

impl WebOrigin {
    pub fn parse(text: &str) -> Option<WebOrigin> {
        if text == "null" {
            return Some(WebOrigin::Null);
        }
        let (scheme, rest) = text.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let mut authority = Authority::parse(rest)?;
        if authority.port.is_some() && authority.port == default_port(&scheme) {
            authority.port = None;
        }
        Some(WebOrigin::Tuple { scheme, authority })
    }

    /// A page of this machine: `http(s)://` on a loopback name, any port, or the
    /// desktop window (`tauri://localhost`; `http(s)://tauri.localhost` is loopback).
    pub fn is_loopback(&self) -> bool {
        match self {
            WebOrigin::Null => false,
            WebOrigin::Tuple { scheme, authority } => {
                (matches!(scheme.as_str(), "http" | "https") && authority.is_loopback())
                    || (scheme == "tauri" && authority.host == "localhost")
            }
        }
    }

    /// The port a request from this origin went to (the scheme's default when none).
    fn effective_port(&self) -> Option<u16> {
        match self {
            WebOrigin::Null => None,
            WebOrigin::Tuple { scheme, authority } => authority.port.or(default_port(scheme)),
        }
    }

    /// Whether a page of this origin is served by the server reached as `host`: the
    /// request is same-origin (the demo opened through a LAN address, say).
    fn same_as(&self, host: &Authority) -> bool {
        match self {
            WebOrigin::Null => false,
            WebOrigin::Tuple { scheme, authority } => {
                matches!(scheme.as_str(), "http" | "https")
                    && authority.host == host.host
                    && self.effective_port() == host.port.or(default_port(scheme))
            }
        }
    }
}

impl std::fmt::Display for WebOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebOrigin::Null => f.write_str("null"),
            WebOrigin::Tuple { scheme, authority } => {
                write!(f, "{scheme}://")?;
                if authority.host.contains(':') {
                    write!(f, "[{}]", authority.host)?;
                } else {
                    f.write_str(&authority.host)?;
                }
                match authority.port {
                    Some(port) => write!(f, ":{port}"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// `0.0.0.0` or `::`: the server listens on every address of the machine.
fn is_wildcard(bound: &str) -> bool {
    let bound = bound.trim_matches(|c| c == '[' || c == ']');
    bound.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

/// Why a request was refused: one variant per reason, each with the stable `code` of the
/// 403 body and a message that says which option lets it through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "refused a page of {origin}: by default only pages of this machine (localhost, \
         127.0.0.1, [::1]) may use the Socket.IO endpoint, so that other websites cannot read \
         your data; if this is your app, restart syncscope with `--allow-origin {origin}`"
    )]
    ForeignOrigin { origin: String },
    #[error(
        "refused a request whose Origin header {origin:?} is not an origin \
         (scheme://host[:port]); a browser never sends that"
    )]
    BadOrigin { origin: String },
    #[error(
        "refused a request with {} Origin headers ({}); a browser sends one",
        origins.len(),
        origins.join(", ")
    )]
    SeveralOrigins { origins: Vec<String> },
    #[error(
        "refused a request for Host {host}: the server answers only to loopback names \
         (localhost, 127.0.0.1, [::1]) and the address it listens on, so that a DNS-rebinding \
         page cannot reach it; if you reach it by this name (LAN name, tunnel), restart \
         syncscope with `--allow-host {name}`"
    )]
    ForeignHost { host: String, name: String },
    #[error(
        "refused a request whose Host header {host:?} is not host[:port]; \
         send `Host: 127.0.0.1:PORT`"
    )]
    BadHost { host: String },
    #[error(
        "refused a request with {} Host headers ({}); send one",
        hosts.len(),
        hosts.join(", ")
    )]
    SeveralHosts { hosts: Vec<String> },
    #[error("refused a request without a Host header; send `Host: 127.0.0.1:PORT`")]
    NoHost,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ForeignOrigin { .. } => "foreign_origin",
            Refusal::BadOrigin { .. } => "bad_origin",
            Refusal::SeveralOrigins { .. } => "several_origins",
            Refusal::ForeignHost { .. } => "foreign_host",
            Refusal::BadHost { .. } => "bad_host",
            Refusal::SeveralHosts { .. } => "several_hosts",
            Refusal::NoHost => "no_host",
        }
    }

    /// The body of the 403 answer.
    pub fn to_wire(&self) -> Value {
        json!({ "code": self.code(), "message": self.to_string() })
    }
}

/// An `--allow-origin` or `--allow-host` value that cannot be what the user meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    #[error(
        "--allow-origin {0:?} is not an origin: give scheme://host[:port] as the browser \
         shows it (e.g. http://192.168.1.20:5173, no path), `null`, or `*` for any"
    )]
    Origin(String),
    #[error(
        "--allow-host {0:?} is not a host name: give the name the browser uses to reach \
         this server (e.g. myhost.lan, no scheme or port), or .example.com for it and its \
         subdomains"
    )]
    Host(String),
}

/// One `--allow-host`: a name, or (with a leading dot) a domain and all its subdomains.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Exact(String),
    Domain(String),
}

impl HostRule {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostRule::Exact(name) => host == name,
            HostRule::Domain(domain) => {
                host == domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|sub| sub.ends_with('.'))
            }
        }
    }
}

/// The headers of a request that decide whether it is answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHeaders {
    /// Every `Origin` header, in order (text; unreadable bytes replaced).
    pub origins: Vec<String>,
    /// Every `Host` header; the URI's authority (HTTP/2) when there is none.
    pub hosts: Vec<String>,
}

impl RequestHeaders {
    pub fn of(headers: &HeaderMap, uri_authority: Option<&str>) -> RequestHeaders {
        let all = |name| {
            headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
        };
        let mut hosts = all(header::HOST);
        if hosts.is_empty() {
            hosts.extend(uri_authority.map(str::to_string));
        }
        RequestHeaders {
            origins: all(header::ORIGIN),
            hosts,
        }
    }

    /// The one Host, parsed.
    fn host(&self) -> Result<Authority, Refusal> {
        match self.hosts.as_slice() {
            [] => Err(Refusal::NoHost),
            [one] => Authority::parse(one).ok_or_else(|| Refusal::BadHost { host: one.clone() }),
            several => Err(Refusal::SeveralHosts {
                hosts: several.to_vec(),
            }),
        }
    }

    /// The one Origin, parsed, or None when the request has none.
    fn origin(&self) -> Result<Option<WebOrigin>, Refusal> {
        match self.origins.as_slice() {
            [] => Ok(None),
            [one] => WebOrigin::parse(one)
                .map(Some)
                .ok_or_else(|| Refusal::BadOrigin {
                    origin: one.clone(),
                }),
            several => Err(Refusal::SeveralOrigins {
                origins: several.to_vec(),
            }),
        }
    }
}

/// The policy of the Socket.IO endpoint, built once at start from the configuration.
#[derive(Debug, Clone)]
pub struct Access {
    any_origin: bool,
    origins: Vec<WebOrigin>,
    hosts: Vec<HostRule>,
    /// The host the server was told to bind (`--host`), lower case, without brackets.
    bound: String,
}

impl Access {
    pub fn new(
        allow_origins: &[String],
        allow_hosts: &[String],
        bound: &str,
    ) -> Result<Access, AllowError> {
        let mut any_origin = false;
        let mut origins = Vec::new();
        for given in allow_origins {
            let text = given.trim();
            if text == "*" {
                any_origin = true;
                continue;
            }
            let origin = WebOrigin::parse(text.strip_suffix('/').unwrap_or(text))
                .ok_or_else(|| AllowError::Origin(given.clone()))?;
            origins.push(origin);
        }
        let mut hosts = Vec::new();
        for given in allow_hosts {
            let text = given.trim();
            let (domain, name) = match text.strip_prefix('.') {
                Some(name) => (true, name),
                None => (false, text),
            };
            let parsed = Authority::parse(name)
                .filter(|a| a.port.is_none())
                .ok_or_else(|| AllowError::Host(given.clone()))?;
            hosts.push(if domain {
                HostRule::Domain(parsed.host)
            } else {
                HostRule::Exact(parsed.host)
            });
        }
        Ok(Access {
            any_origin,
            origins,
            hosts,
            bound: bound
                .trim_matches(|c| c == '[' || c == ']')
                .to_ascii_lowercase(),
        })
    }

    /// `--allow-origin '*'` was given: every origin may use the endpoint.
    pub fn allows_any_origin(&self) -> bool {
        self.any_origin
    }

    /// Whether a page of `origin` may use the endpoint cross-origin (what CORS reflects):
    /// a loopback page, or one the developer allowed.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.any_origin
            || WebOrigin::parse(origin)
                .is_some_and(|o| o.is_loopback() || self.origins.contains(&o))
    }

    fn host_allowed(&self, host: &Authority) -> bool {
        host.is_loopback()
            || (!is_wildcard(&self.bound) && host.host == self.bound)
            // Listening on every address: any of them may be used, and an IP address
            // cannot be rebound (rebinding needs a name the attacker controls).
            || (is_wildcard(&self.bound) && host.is_ip())
            || self.hosts.iter().any(|rule| rule.matches(&host.host))
    }

    /// Whether a Socket.IO handshake with these headers is answered.
    pub fn check(&self, request: &RequestHeaders) -> Result<(), Refusal> {
        let host = request.host()?;
        if !self.host_allowed(&host) {
            return Err(Refusal::ForeignHost {
                host: request.hosts[0].clone(),
                name: host.host,
            });
        }
        let Some(origin) = request.origin()? else {
            return Ok(());
        };
        if self.any_origin
            || origin.is_loopback()
            || origin.same_as(&host)
            || self.origins.contains(&origin)
        {
            return Ok(());
        }
        Err(Refusal::ForeignOrigin {
            origin: origin.to_string(),
        })
    }
}

/// The control API's `Host` check: a loopback name, or the host it was told to bind when
/// that is one address (not `0.0.0.0`/`::`). `--allow-host` does not widen it.
pub fn control_host_allowed(host: &str, bound: &str) -> bool {
    let Some(host) = Authority::parse(host) else {
        return false;
    };
    let bound = bound.trim_matches(|c| c == '[' || c == ']');
    host.is_loopback() || (!is_wildcard(bound) && host.host.eq_ignore_ascii_case(bound))
}

/// The control API's `Origin` check: this very server reached through a loopback name
/// (same port), or the desktop window.
pub fn control_origin_allowed(origin: &str, port: u16) -> bool {
    let Some(origin) = WebOrigin::parse(origin) else {
        return false;
    };
    match &origin {
        WebOrigin::Tuple { scheme, authority } if scheme == "tauri" => {
            authority.host == "localhost"
        }
        WebOrigin::Tuple { scheme, authority } if authority.host == "tauri.localhost" => {
            matches!(scheme.as_str(), "http" | "https") && authority.port.is_none()
        }
        WebOrigin::Tuple { .. } => origin.is_loopback() && origin.effective_port() == Some(port),
        WebOrigin::Null => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(hosts: &[&str], origins: &[&str]) -> RequestHeaders {
        RequestHeaders {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            origins: origins.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn default_access() -> Access {
        Access::new(&[], &[], "127.0.0.1").unwrap()
    }

    #[test]
    fn authorities_are_parsed_strictly() {
        assert_eq!(
            Authority::parse("LocalHost:4000"),
            Some(Authority {
                host: "localhost".into(),
                port: Some(4000)
            })
        );
        assert_eq!(Authority::parse("[::1]:80").unwrap().host, "::1");
        assert!(Authority::parse("[::1]").unwrap().port.is_none());
        for bad in [
            "127.0.0.1:4000@evil.example",
            "evil.example@127.0.0.1",
            "127.0.0.1:4000/x",
            "127.0.0.1 :4000",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "[::1",
            "[evil]:80",
            "",
            "a:1:2",
        ] {
            assert_eq!(Authority::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_pages_and_absent_origins_pass_and_others_are_refused() {
        let access = default_access();
        for origin in [
            "http://localhost:5173",
            "https://127.0.0.1",
            "http://127.1.2.3:8080",
            "http://[::1]:3000",
            "http://app.localhost:3000",
            "tauri://localhost",
            "http://tauri.localhost",
        ] {
            assert_eq!(
                access.check(&request(&["127.0.0.1:4000"], &[origin])),
                Ok(()),
                "{origin}"
            );
        }
        assert_eq!(access.check(&request(&["127.0.0.1:4000"], &[])), Ok(()));
        let refused = access.check(&request(&["127.0.0.1:4000"], &["https://evil.example"]));
        assert_eq!(
            refused,
            Err(Refusal::ForeignOrigin {
                origin: "https://evil.example".into()
            })
        );
        assert!(refused
            .unwrap_err()
            .to_string()
            .contains("--allow-origin https://evil.example"));
        assert!(matches!(
            access.check(&request(&["127.0.0.1:4000"], &["null"])),
            Err(Refusal::ForeignOrigin { .. })
        ));
        assert!(matches!(
            access.check(&request(
                &["127.0.0.1:4000"],
                &["http://localhost.evil.example"]
            )),
            Err(Refusal::ForeignOrigin { .. })
        ));
    }

    #[test]
    fn every_origin_header_counts() {
        let access = default_access();
        assert!(matches!(
            access.check(&request(
                &["127.0.0.1:4000"],
                &["http://localhost:4000", "https://evil.example"]
            )),
            Err(Refusal::SeveralOrigins { .. })
        ));
    }

    #[test]
    fn only_loopback_or_bound_hosts_are_answered() {
        let access = default_access();
        for host in [
            "127.0.0.1:4000",
            "localhost",
            "[::1]:4000",
            "my.localhost:4000",
        ] {
            assert_eq!(access.check(&request(&[host], &[])), Ok(()), "{host}");
        }
        assert!(matches!(
            access.check(&request(&["evil.example:4000"], &[])),
            Err(Refusal::ForeignHost { ref name, .. }) if name == "evil.example"
        ));
        assert!(matches!(
            access.check(&request(&["127.0.0.1:4000@evil.example"], &[])),
            Err(Refusal::BadHost { .. })
        ));
        assert!(matches!(
            access.check(&request(&["127.0.0.1:4000", "evil.example"], &[])),
            Err(Refusal::SeveralHosts { .. })
        ));
        assert_eq!(access.check(&request(&[], &[])), Err(Refusal::NoHost));
        // A rebinding page is same-origin with itself: the Host check comes first.
        assert!(matches!(
            access.check(&request(
                &["evil.example:4000"],
                &["http://evil.example:4000"]
            )),
            Err(Refusal::ForeignHost { .. })
        ));

        let lan = Access::new(&[], &[], "192.168.1.5").unwrap();
        assert_eq!(lan.check(&request(&["192.168.1.5:4000"], &[])), Ok(()));
        assert!(lan.check(&request(&["192.168.1.6:4000"], &[])).is_err());
        let any = Access::new(&[], &[], "0.0.0.0").unwrap();
        assert_eq!(any.check(&request(&["10.0.0.7:4000"], &[])), Ok(()));
        assert!(any.check(&request(&["evil.example:4000"], &[])).is_err());
    }

    #[test]
    fn a_page_served_by_this_server_under_an_allowed_host_is_same_origin() {
        let lan = Access::new(&[], &[], "0.0.0.0").unwrap();
        assert_eq!(
            lan.check(&request(
                &["192.168.1.5:4000"],
                &["http://192.168.1.5:4000"]
            )),
            Ok(())
        );
        assert!(lan
            .check(&request(
                &["192.168.1.5:4000"],
                &["http://192.168.1.5:5173"]
            ))
            .is_err());
    }

    #[test]
    fn allowed_origins_and_hosts_are_normalised() {
        let access = Access::new(
            &[
                "HTTP://192.168.1.20:5173/".into(),
                "https://app.example:443".into(),
            ],
            &["myhost.lan".into(), ".tunnel.example".into()],
            "127.0.0.1",
        )
        .unwrap();
        let ok = |host: &str, origin: &str| access.check(&request(&[host], &[origin]));
        assert_eq!(ok("127.0.0.1:4000", "http://192.168.1.20:5173"), Ok(()));
        assert_eq!(ok("127.0.0.1:4000", "https://app.example"), Ok(()));
        assert!(ok("127.0.0.1:4000", "http://192.168.1.20:5174").is_err());
        assert_eq!(ok("MyHost.lan:4000", "http://localhost:3000"), Ok(()));
        assert_eq!(ok("abc.tunnel.example", "http://localhost:3000"), Ok(()));
        assert!(ok("eviltunnel.example", "http://localhost:3000").is_err());
        assert!(access.origin_allowed("http://192.168.1.20:5173"));
        assert!(access.origin_allowed("http://localhost:1234"));
        assert!(!access.origin_allowed("https://evil.example"));

        let any = Access::new(&["*".into()], &[], "127.0.0.1").unwrap();
        assert!(any.allows_any_origin());
        assert_eq!(
            any.check(&request(&["127.0.0.1:4000"], &["https://evil.example"])),
            Ok(())
        );
        assert!(any.origin_allowed("https://evil.example"));
    }

    #[test]
    fn allow_values_that_cannot_be_meant_are_errors() {
        for bad in ["192.168.1.20:5173", "http://x.test/path", "http://"] {
            assert!(
                matches!(
                    Access::new(&[bad.into()], &[], "127.0.0.1"),
                    Err(AllowError::Origin(_))
                ),
                "{bad}"
            );
        }
        for bad in ["http://myhost.lan", "myhost.lan:4000", "a b"] {
            assert!(
                matches!(
                    Access::new(&[], &[bad.into()], "127.0.0.1"),
                    Err(AllowError::Host(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_control_api_keeps_its_own_stricter_rules() {
        assert!(control_host_allowed("127.0.0.1:4000", "127.0.0.1"));
        assert!(control_host_allowed("localhost:4000", "127.0.0.1"));
        assert!(control_host_allowed("[::1]:4000", "127.0.0.1"));
        assert!(!control_host_allowed("evil.example:4000", "127.0.0.1"));
        assert!(!control_host_allowed("evil.example:4000", "0.0.0.0"));
        assert!(!control_host_allowed("10.0.0.7:4000", "0.0.0.0"));
        assert!(control_host_allowed("192.168.1.5:4000", "192.168.1.5"));
        assert!(!control_host_allowed(
            "127.0.0.1:4000@evil.example",
            "127.0.0.1"
        ));
        assert!(!control_host_allowed("", "127.0.0.1"));

        assert!(control_origin_allowed("http://127.0.0.1:4000", 4000));
        assert!(control_origin_allowed("http://localhost:4000", 4000));
        assert!(control_origin_allowed("tauri://localhost", 4000));
        assert!(control_origin_allowed("http://tauri.localhost", 4000));
        assert!(control_origin_allowed("https://tauri.localhost", 4000));
        assert!(!control_origin_allowed("http://localhost:3000", 4000));
        assert!(!control_origin_allowed("http://evil.example:4000", 4000));
        assert!(!control_origin_allowed("null", 4000));
    }
}
