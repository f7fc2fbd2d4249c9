//! Assembles the server: store, Socket.IO endpoint, browser files; binds and serves
//! until told to stop, then stops in an order that loses nothing that was acked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::access::{Access, AllowError};
use crate::control::{self, ControlState};
use crate::db_lock::DbLock;
use crate::handshake_guard::{self, HandshakeGuard};
use crate::inspect::recorder::{self, Recorder};
use crate::inspect::Inspector;
use crate::live_replay::Player;
use crate::store::{DbLocation, Durability, Store};
use crate::sync::Sync;
use crate::transport::{Peer, Transport};
use crate::{assets, endpoint};

/// Everything `syncscope serve` can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub db: DbLocation,
    /// The largest `data` a CRUD event may carry, serialised, in bytes.
    pub max_data: usize,
    /// How many recent changes the log keeps for `subscribe since`.
    pub retain_changes: i64,
    /// What a commit survives: the server's crash (default) or also the machine's
    /// (`--durable`, SQLite synchronous=FULL).
    pub durability: Durability,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// The control API's token. When None: with a file database, the one kept beside it
    /// (crate::token_file, created on first use); with `:memory:`, a random one per launch.
    pub token: Option<String>,
    /// Replace the token kept beside the database with a new one (`--new-token`).
    pub new_token: bool,
    /// Origins (`scheme://host[:port]`, `null`, or `*` for any) whose pages may use the
    /// Socket.IO endpoint besides this machine's own (`--allow-origin`, crate::access).
    pub allow_origins: Vec<String>,
    /// Host names the Socket.IO endpoint may be reached by besides loopback names and
    /// `host` (`--allow-host`; `.example.com` for a domain and its subdomains).
    pub allow_hosts: Vec<String>,
    /// How many records may wait for the recorder before new ones are counted as lost.
    pub recorder_capacity: usize,
    /// How many bytes of records (approximately) may wait for the recorder.
    pub recorder_max_bytes: usize,
    /// The seed of fault toxicity draws (`--fault-seed`); None: a new one per launch.
    pub fault_seed: Option<u64>,
    /// The most bytes of pushes that may wait to be sent to one socket before it is
    /// cut as a slow consumer (crate::outbound).
    pub max_queued_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 4000,
            db: DbLocation::Memory,
            max_data: 256 * 1024,
            retain_changes: 10_000,
            durability: Durability::Process,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            token: None,
            new_token: false,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            recorder_capacity: recorder::DEFAULT_CAPACITY,
            recorder_max_bytes: recorder::DEFAULT_MAX_BYTES,
            fault_seed: None,
            max_queued_bytes: crate::outbound::DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

/// The largest Engine.IO message, as Node's `maxHttpBufferSize` default.
pub const MAX_MESSAGE: u64 = 1_000_000;

/// The read buffer of one websocket, in bytes (engineioxide's default is 4 KiB).
const WS_READ_BUFFER: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{addr} is already in use: stop the program using it, or pass --port with another port (0 picks a free one)")]
    PortInUse { addr: String },
    #[error("cannot listen on {addr}: {source}; check --host and --port")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Allow(#[from] AllowError),
    #[error("{0}")]
    TokenFile(#[from] crate::token_file::TokenFileError),
    #[error("{0}")]
    DbInUse(#[from] crate::db_lock::DbLockError),
}

pub struct Running {
    addr: SocketAddr,
    store: Arc<Store>,
    io: SocketIo,
    inspector: Arc<Inspector>,
    replay: Arc<Player>,
    token: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Held while this server runs: a second server on the same file refuses to start.
    _db_lock: Option<DbLock>,
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The inspector core: bus, live registry, recorder.
    pub fn inspector(&self) -> &Arc<Inspector> {
        &self.inspector
    }

    /// The token the control API (`/_syncscope/`) requires.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops accepting, disconnects every socket, lets the write in progress commit and
    /// closes the database.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A replay would otherwise keep its driver task waiting after the server is gone.
        self.replay.unload().await;
        // Recorded before the sockets go, so that the session ends with them rather than
        // mid-air; the disconnect handlers that follow are then not recorded again.
        for socket in self.io.sockets() {
            self.inspector.server_closing(&socket.id.to_string());
        }
        self.io.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.inspector.recorder().shutdown().await;
        self.store.close().await;
    }
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    let access = Arc::new(Access::new(
        &config.allow_origins,
        &config.allow_hosts,
        &config.host,
    )?);
    if access.allows_any_origin() {
        tracing::warn!(
            "--allow-origin '*': any website open in your browser can now read and change \
             this server's data; list your app's origin instead when you can"
        );
    }
    let addr = format!("{}:{}", config.host, config.port);
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(StartError::PortInUse { addr })
        }
        Err(source) => return Err(StartError::Bind { addr, source }),
    };
    let transport = Transport::new(config.max_queued_bytes);
    let listener = transport.listener(listener);
    let store = Arc::new(
        Store::open_with(config.db.clone(), config.retain_changes, config.durability)
            .await
            .map_err(StartError::Store)?,
    );
    // Taken once the store has checked the file is ours (a foreign file gets no lock
    // file beside it) and before anything is written: the recorder opens a session.
    let mut db_lock = match &config.db {
        DbLocation::File(path) => Some(DbLock::acquire(path)?),
        DbLocation::Memory => None,
    };
    let (layer, io) = SocketIo::builder()
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .max_payload(MAX_MESSAGE)
        // Room for every ack of a full request queue plus the `busy` answers of a burst
        // beyond it: socketioxide drops a packet silently when a socket's buffer is full,
        // and a dropped ack leaves a client waiting forever.
        .max_buffer_size(crate::endpoint::SEND_BUFFER)
        .ws_max_message_size(MAX_MESSAGE as usize)
        // Every websocket holds a read buffer of this size, zero-filled, for its whole
        // life (4 KiB by default): 1 KiB holds a usual request whole, and a larger frame
        // has room reserved for its full length, read in 1 KiB steps (issue 9: memory
        // per idle websocket).
        .ws_read_buffer_size(WS_READ_BUFFER)
        .build_layer();
    let recorder = Recorder::start(
        store.pool().clone(),
        config.recorder_capacity,
        config.recorder_max_bytes,
    )
    .await
    .map_err(StartError::Store)?;
    let fault_store = crate::fault_store::FaultStore::new(store.pool().clone());
    let kept_rules = fault_store.load().await.map_err(|e| {
        StartError::Store(format!(
            "the fault rules kept in the database could not be read: {e}"
        ))
    })?;
    let faults = Arc::new(crate::faults::Faults::new(
        config.fault_seed.unwrap_or_else(crate::faults::random_seed),
        kept_rules,
    ));
    let inspector = Arc::new(Inspector::with_faults(recorder, faults.clone()));
    transport.shape_by(inspector.clone());
    let replay = Arc::new(Player::new(
        io.clone(),
        store.pool().clone(),
        inspector.clone(),
    ));
    let sync = Arc::new(Sync {
        store: store.clone(),
        io: io.clone(),
        max_data: config.max_data,
        inspect: inspector.clone(),
        faults,
        fault_store,
        held_pushes: Default::default(),
        replay: replay.clone(),
        queries: Default::default(),
        transport: transport.clone(),
        channel_seqs: Default::default(),
    });
    endpoint::attach(&io, sync.clone());

    let local =
        axum::serve::Listener::local_addr(&listener).map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
    if let Some(lock) = &mut db_lock {
        lock.describe(&format!("http://{local}"));
    }
    let token = match (&config.token, &config.db) {
        (Some(token), _) => token.clone(),
        (None, DbLocation::File(path)) => {
            crate::token_file::load_or_create(path, config.new_token)?
        }
        (None, DbLocation::Memory) => uuid::Uuid::new_v4().simple().to_string(),
    };
    let control = control::router(Arc::new(ControlState {
        inspector: inspector.clone(),
        sync,
        io: io.clone(),
        token: token.clone(),
        port: local.port(),
        host: config.host.clone(),
    }));

    let guard = Arc::new(HandshakeGuard::new(access.clone(), inspector.clone()));
    let app = Router::new()
        .route("/", get(landing))
        .layer(layer)
        // The app under development may run on another origin (its own dev server on
        // localhost, or one allowed with --allow-origin), and polling needs CORS for that.
        .layer(handshake_guard::cors_layer(access))
        // Outside CORS: a refused request gets no CORS headers, a preflight included.
        .layer(axum::middleware::from_fn_with_state(
            guard,
            handshake_guard::guard,
        ))
        // Added after the guard and CORS layers: the control API has its own checks.
        .nest("/_syncscope", control)
        .layer(axum::middleware::from_fn(assets::serve))
        // Outermost: every request learns its connection first (crate::transport).
        .layer(axum::middleware::from_fn_with_state(
            transport,
            crate::transport::track,
        ));

    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<Peer>();
        let serving = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serving.await {
            tracing::error!("server stopped with an error: {e}");
        }
    });
    Ok(Running {
        addr: local,
        store,
        io,
        inspector,
        replay,
        token,
        stop: Some(stop),
        task,
        _db_lock: db_lock,
    })
}

async fn landing() -> impl IntoResponse {
    "Syncscope is running.\n\
     Socket.IO endpoint: /socket.io/ (client bundle at /socket.io/socket.io.js)\n\
     Backbone adapter:   /backbone.realtime.js\n\
     Demo app:           /demo/\n"
}
