//! The server's own listener: every accepted TCP connection is wrapped, so that the
//! server can end it abruptly and count what it writes.
//!
//! Why: socket.io-client reconnects by itself only after a *transport* close. A
//! Socket.IO DISCONNECT (socketioxide's `disconnect()`) is `io server disconnect`, after
//! which a client stays away. To test an app against a lost network (issue 11), and to
//! shed a consumer that stops reading without leaving it disconnected for good (issue
//! 10), the server must be able to end the TCP connection itself, which socketioxide
//! cannot do. It also cannot say how much waits to be sent to a socket; counting the
//! bytes each connection writes lets crate::outbound bound that in bytes.
//!
//! Every request of the Socket.IO endpoint names its socket (`sid` in the query, equal
//! to the Socket.IO socket id of the default namespace), so [`track`] learns which
//! connections carry which socket: a WebSocket has one; a long-polling socket has the
//! connections of its requests. [`Transport::cut`] shuts them down.
//!
//! Knowing which socket (and client) a connection carries also lets a bandwidth or
//! slice fault rule pace that connection's writes (crate::pacing).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long the id of a cut socket keeps being refused after its disconnect.
const CUT_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(60);

/// The transport side of every socket and connection. Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    /// The most bytes that may wait to be sent to one socket (crate::outbound).
    max_queued_bytes: u64,
    next_conn: AtomicU64,
    /// Every open connection, by id (removed when the connection is dropped).
    conns: Mutex<HashMap<u64, Weak<ConnState>>>,
    /// Every connected Socket.IO socket, by id.
    links: Mutex<HashMap<String, Arc<Link>>>,
    /// The fault rules that may pace connections, and where their records go; set
    /// once the inspector exists (it is made after the listener).
    shaper: OnceLock<Arc<crate::inspect::Inspector>>,
}

/// One Socket.IO socket as the transport sees it.
pub struct Link {
    sid: String,
    /// The client id of its handshake, for rules that match a client.
    client: Option<String>,
    /// Bytes handed to socketioxide for this socket and not yet written to a
    /// connection (an estimate: see crate::outbound).
    queued: AtomicU64,
    /// Set once the socket was cut: its later requests are refused, nothing more is
    /// sent to it.
    cut: AtomicBool,
}

impl Link {
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Counts `bytes` more waiting to be sent; returns how many wait now.
    pub fn charge(&self, bytes: u64) -> u64 {
        self.queued.fetch_add(bytes, Ordering::Relaxed) + bytes
    }

    /// How many bytes wait to be sent.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    fn wrote(&self, bytes: u64) {
        // Written bytes include what was never charged (HTTP headers, frame headers,
        // pings, acks): never below zero, so that they do not pile up as credit.
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(bytes))
            });
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// One accepted TCP connection, shared between its [`Conn`] and the maps.
pub struct ConnState {
    id: u64,
    /// The socket's fd while the connection is open; None once it is dropped, so that a
    /// cut never shuts down a later connection that reused the number.
    fd: Mutex<Option<RawFd>>,
    cut: AtomicBool,
    /// The sid of the last Socket.IO request on this connection.
    sid: Mutex<Option<String>>,
    /// The socket whose bytes this connection writes now, when it is connected.
    carrying: Mutex<Option<Arc<Link>>>,
    /// The connection rule that paced its last write, so that a rule starting to act
    /// on it is recorded once, not per write.
    shaped_by: Mutex<Option<u64>>,
}

impl ConnState {
    fn shut_down(&self) {
        self.cut.store(true, Ordering::Relaxed);
        let fd = self.fd.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = *fd {
            // SAFETY: the fd is open while `fd` is Some: Conn's drop sets it to None,
            // under this lock, before the TcpStream closes it.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            // Wakes the reads and writes pending on it, and the peer sees the end of
            // the stream at once; an error means it is already gone.
            let _ = socket2::SockRef::from(&borrowed).shutdown(std::net::Shutdown::Both);
        }
    }

    fn carry(&self, sid: Option<String>, link: Option<Arc<Link>>) {
        *self.sid.lock().unwrap_or_else(|e| e.into_inner()) = sid;
        *self.carrying.lock().unwrap_or_else(|e| e.into_inner()) = link;
    }

    fn wrote(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let carrying = self.carrying.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(link) = carrying.as_ref() {
            link.wrote(bytes as u64);
        }
    }
}

/// What a request knows of the connection it came on (axum's `ConnectInfo<Peer>`).
#[derive(Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub conn: Arc<ConnState>,
}

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            conn: stream.io().state.clone(),
        }
    }
}

/// Why a cut could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    #[error("no socket {0} is connected; list them with `syncscope sockets`")]
    NoSuchSocket(String),
}

/// What a cut did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// How many TCP connections were shut down.
    pub connections: usize,
}

impl Transport {
    pub fn new(max_queued_bytes: u64) -> Transport {
        Transport {
            inner: Arc::new(Inner {
                max_queued_bytes,
                next_conn: AtomicU64::new(0),
                conns: Mutex::default(),
                links: Mutex::default(),
                shaper: OnceLock::new(),
            }),
        }
    }

    pub fn max_queued_bytes(&self) -> u64 {
        self.inner.max_queued_bytes
    }

    /// Wraps a bound listener.
    pub fn listener(&self, tcp: TcpListener) -> Listener {
        Listener {
            tcp,
            transport: self.clone(),
        }
    }

    /// From now on, the connection rules of `inspector`'s faults pace the connections
    /// of the sockets they match, and their fault records go to its log.
    pub fn shape_by(&self, inspector: Arc<crate::inspect::Inspector>) {
        let _ = self.inner.shaper.set(inspector);
    }

    /// A socket has connected; `via` is the connection of its handshake, when known;
    /// `client` the client id of its handshake.
    pub fn connected(
        &self,
        sid: &str,
        client: Option<&str>,
        via: Option<&Arc<ConnState>>,
    ) -> Arc<Link> {
        let link = Arc::new(Link {
            sid: sid.to_string(),
            client: client.map(str::to_string),
            queued: AtomicU64::new(0),
            cut: AtomicBool::new(false),
        });
        self.links().insert(sid.to_string(), link.clone());
        if let Some(conn) = via {
            conn.carry(Some(sid.to_string()), Some(link.clone()));
        }
        link
    }

    /// A socket is gone: forget it. A socket that was cut is remembered a while
    /// longer, so that a late request of its client is still refused rather than
    /// answered (crate::outbound::cut).
    pub fn disconnected(&self, sid: &str) {
        let Some(link) = self.links().remove(sid) else {
            return;
        };
        if link.is_cut() {
            self.links().insert(sid.to_string(), link.clone());
            let transport = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(CUT_REMEMBERED).await;
                let mut links = transport.links();
                if links.get(link.sid()).is_some_and(|l| Arc::ptr_eq(l, &link)) {
                    links.remove(link.sid());
                }
            });
        }
    }

    pub fn link(&self, sid: &str) -> Option<Arc<Link>> {
        self.links().get(sid).cloned()
    }

    /// The links of `sids`, in their order, under one lock.
    pub fn links_of<'a>(&self, sids: impl Iterator<Item = &'a str>) -> Vec<Option<Arc<Link>>> {
        let links = self.links();
        sids.map(|sid| links.get(sid).cloned()).collect()
    }

    /// Ends every connection carrying socket `sid` at the TCP level: no Socket.IO or
    /// Engine.IO packet says goodbye. From then on its requests are refused and nothing
    /// more is sent to it.
    pub fn cut(&self, sid: &str) -> Result<Cut, CutError> {
        let link = self
            .link(sid)
            .ok_or_else(|| CutError::NoSuchSocket(sid.to_string()))?;
        link.cut.store(true, Ordering::Relaxed);
        let carrying: Vec<Arc<ConnState>> = {
            let conns = self.inner.conns.lock().unwrap_or_else(|e| e.into_inner());
            conns
                .values()
                .filter_map(Weak::upgrade)
                .filter(|c| c.sid.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(sid))
                .collect()
        };
        for conn in &carrying {
            conn.shut_down();
        }
        Ok(Cut {
            connections: carrying.len(),
        })
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Link>>> {
        self.inner.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn accepted(&self, stream: TcpStream) -> Conn {
        let id = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            id,
            fd: Mutex::new(Some(stream.as_raw_fd())),
            cut: AtomicBool::new(false),
            sid: Mutex::new(None),
            carrying: Mutex::new(None),
            shaped_by: Mutex::new(None),
        });
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::downgrade(&state));
        Conn {
            stream,
            state,
            transport: self.inner.clone(),
            pacer: crate::pacing::Pacer::default(),
        }
    }
}

/// The middleware of every request: tells the connection which socket it now carries,
/// and refuses a request of a socket that was cut (ending its connection too).
pub async fn track(State(transport): State<Transport>, req: Request, next: Next) -> Response {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<Peer>>().cloned() else {
        return next.run(req).await;
    };
    let mut req = req;
    // The rest of the server knows the peer by its address.
    req.extensions_mut().insert(ConnectInfo(peer.addr));
    if !crate::handshake_guard::is_engine_path(req.uri().path()) {
        return next.run(req).await;
    }
    // engineioxide keeps a socket's handshake head for the socket's life: copied, so
    // that it does not keep hyper's read buffer (crate::owned_head).
    crate::owned_head::detach(&mut req);
    let sid = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("sid="))
            .map(str::to_string)
    });
    let link = sid.as_deref().and_then(|sid| transport.link(sid));
    if link.as_ref().is_some_and(|l| l.is_cut()) {
        peer.conn.carry(sid, None);
        peer.conn.shut_down();
        // As Node answers a session it no longer knows; the client never reads it.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"code": 1, "message": "Session ID unknown"})),
        )
            .into_response();
    }
    peer.conn.carry(sid, link);
    next.run(req).await
}

/// The listener axum serves: a TcpListener whose connections are [`Conn`]s.
pub struct Listener {
    tcp: TcpListener,
    transport: Transport,
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.tcp.accept().await {
                Ok((stream, addr)) => {
                    // As axum's own listener: small writes (acks, pushes) go out at once.
                    let _ = stream.set_nodelay(true);
                    return (self.transport.accepted(stream), addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning,
                    // as axum's own listener does.
                    tracing::error!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// An accepted connection: a TcpStream that counts what it writes for the socket it
/// carries, and that fails every read and write once cut.
pub struct Conn {
    stream: TcpStream,
    state: Arc<ConnState>,
    transport: Arc<Inner>,
    pacer: crate::pacing::Pacer,
}

impl Conn {
    /// The connection rule in effect on the socket this connection carries, if any.
    fn shaping(&self) -> Option<crate::faults::Shaping> {
        let inspector = self.transport.shaper.get()?;
        let link = self
            .state
            .carrying
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        inspector.faults.shaping(&link.sid, link.client.as_deref())
    }

    /// A write of at most one chunk, after the pause the last one owes (crate::pacing).
    fn poll_write_shaped(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        shaping: &crate::faults::Shaping,
    ) -> Poll<io::Result<usize>> {
        if self.pacer.poll_pause(cx).is_pending() {
            return Poll::Pending;
        }
        let n = crate::pacing::chunk(&shaping.action, buf.len());
        let written = Pin::new(&mut self.stream).poll_write(cx, &buf[..n]);
        if let Poll::Ready(Ok(n)) = &written {
            self.state.wrote(*n);
            self.pacer.wrote(&shaping.action, *n);
            self.shaped(shaping);
        }
        written
    }

    /// Counts a paced write on its rule; records the rule's first on this connection.
    fn shaped(&self, shaping: &crate::faults::Shaping) {
        let Some(inspector) = self.transport.shaper.get() else {
            return;
        };
        inspector.faults.count_write(shaping.rule);
        let first = {
            let mut by = self
                .state
                .shaped_by
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            by.replace(shaping.rule) != Some(shaping.rule)
        };
        let sid = self
            .state
            .sid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let (true, Some(sid)) = (first, sid) {
            inspector.shaping_fault(&sid, shaping);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        *self.state.fd.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.transport
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.state.id);
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut by the server",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.state.cut.load(Ordering::Relaxed) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.state.cut.load(Ordering::Relaxed) {
            return Poll::Ready(Err(cut_error()));
        }
        if !buf.is_empty() {
            if let Some(shaping) = self.shaping() {
                return self.poll_write_shaped(cx, buf, &shaping);
            }
        }
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &written {
            self.state.wrote(*n);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.state.cut.load(Ordering::Relaxed) {
            return Poll::Ready(Err(cut_error()));
        }
        if let Some(shaping) = self.shaping() {
            // Paced writes go one buffer (one chunk of it) at a time.
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                return self.poll_write_shaped(cx, first, &shaping);
            }
        }
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &written {
            self.state.wrote(*n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
