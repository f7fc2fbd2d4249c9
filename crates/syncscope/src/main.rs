//! The `syncscope` command line.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use syncscope::inspect::client::{self, Client};
use syncscope::inspect::types::{Command as Control, Target};
use syncscope::{Config, DbLocation};
use tracing_subscriber::EnvFilter;

mod cli;

#[derive(Parser)]
#[command(
    name = "syncscope",
    version = syncscope::VERSION,
    about = "A local realtime sync server and inspector for Backbone.js apps over Socket.IO"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server without a window.
    Serve(ServeArgs),
    /// List the sockets connected to a running server.
    Sockets {
        #[command(flatten)]
        conn: ConnArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show recorded events of a running server, or follow them live with --follow.
    Events(EventsArgs),
    /// Send an event to sockets of a running server. With create, update, patch or
    /// delete as EVENT and --channel, sends a fake `change` push of that op (the store
    /// is not touched); any other EVENT is emitted as is, with ARGS as its arguments.
    Push(PushArgs),
    /// Play recorded sessions against a server and check that it answers as recorded
    /// (exit 0), or show where it does not (exit 1); exit 2 when a file or the server
    /// is unusable. `replay accept FILE…` (or --update) re-records the files instead.
    Replay(cli::replay::ReplayArgs),
    /// Add, list, switch, edit and remove the fault rules of a running server, export
    /// and import them as a file, take a client offline for a while (docs/FAULTS.md).
    Fault {
        #[command(flatten)]
        conn: ConnArgs,
        #[command(subcommand)]
        action: syncscope::fault_cli::FaultCommand,
    },
    /// Start (`record start [NAME]`) or stop (`record stop`) a recording session.
    Record {
        #[command(flatten)]
        conn: ConnArgs,
        /// start or stop
        action: String,
        /// A name for the new session.
        name: Option<String>,
    },
    /// Turn the Socket.IO conversations of a HAR file (saved from the Network panel of
    /// Chrome DevTools) into a session file, one client per WebSocket or polling session.
    Import {
        /// The .har file.
        file: std::path::PathBuf,
        /// Where to write the session [default: FILE with .har replaced by .session.ndjson].
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// Where the command line looks for a server when nothing says otherwise.
const DEFAULT_URL: &str = "http://127.0.0.1:4000";

/// How to reach a running server's control API.
#[derive(clap::Args)]
struct ConnArgs {
    /// The server's address [default: the address the server on --db listens on, else
    /// http://127.0.0.1:4000].
    #[arg(long, env = "SYNCSCOPE_URL", hide_env_values = true)]
    url: Option<String>,
    /// The control token the server printed at start [default: for a server on this
    /// machine, the one kept beside --db].
    #[arg(long, env = "SYNCSCOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The database of the server on this machine, whose token file (DB.token) gives the
    /// token when --token is not given [default: the default database of `serve`].
    #[arg(long, env = "SYNCSCOPE_DB", hide_env_values = true)]
    db: Option<DbLocation>,
}

impl ConnArgs {
    fn client(&self) -> Client {
        let url = self.url();
        Client::new(&url, local_token(&url, &self.token, &self.db))
    }

    /// The address given, else the one the local server on --db wrote beside its
    /// database (it may have taken the next free port), else the default port.
    fn url(&self) -> String {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let db = match self
            .db
            .clone()
            .map(Ok)
            .unwrap_or_else(DbLocation::default_file)
        {
            Ok(DbLocation::File(path)) => Some(path),
            _ => None,
        };
        db.and_then(|db| syncscope::db_lock::last_address(&db))
            .unwrap_or_else(|| DEFAULT_URL.to_string())
    }
}

/// The token to send: the one given, or for a server on this machine (a loopback url)
/// the one kept beside its database. Never sent elsewhere: a token file is for this
/// machine's server only.
fn local_token(url: &str, given: &Option<String>, db: &Option<DbLocation>) -> Option<String> {
    if given.is_some() {
        return given.clone();
    }
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return None;
    }
    let db = match db.clone().map(Ok).unwrap_or_else(DbLocation::default_file) {
        Ok(DbLocation::File(path)) => path,
        _ => return None,
    };
    match syncscope::token_file::read(&syncscope::token_file::path_for(&db)) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    }
}

#[derive(clap::Args)]
struct EventsArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Keep printing new events as they happen.
    #[arg(long, short)]
    follow: bool,
    /// Only some events: socket=ID, channel=/todos, event=update, kind=ack_out,event_in,
    /// origin=client, errors, text=WORD. Repeat to combine.
    #[arg(long)]
    filter: Vec<String>,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// The recorded session to read [default: the current one].
    #[arg(long)]
    session: Option<i64>,
}

#[derive(clap::Args)]
struct PushArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Send to the subscribers of this channel (a collection url).
    #[arg(long, group = "to")]
    channel: Option<String>,
    /// Send to one socket.
    #[arg(long, group = "to")]
    socket: Option<String>,
    /// Send to every socket.
    #[arg(long, group = "to")]
    all: bool,
    /// The event name.
    event: String,
    /// Arguments, each one JSON value (a bare word is sent as a string).
    args: Vec<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; loopback unless you mean to share it.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// When --port is taken, listen on the next free one of the 20 after it instead of
    /// stopping (what the window does; `make app` passes it).
    #[arg(long)]
    next_free_port: bool,
    /// SQLite file to keep models and sessions in, or :memory: [default: a file in the OS data dir]
    #[arg(long)]
    db: Option<DbLocation>,
    /// Largest `data` a CRUD event may carry, in bytes, once serialised.
    #[arg(long, default_value_t = 256 * 1024)]
    max_data: usize,
    /// How many recent changes to keep for clients that reconnect with `since`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    retain_changes: i64,
    /// The most bytes of pushes that may wait to be sent to one socket; a socket that
    /// stops reading is cut beyond it (its client reconnects and catches up).
    #[arg(long, default_value_t = syncscope::outbound::DEFAULT_MAX_QUEUED_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_queued_bytes: u64,
    /// Sync every commit to disk (SQLite synchronous=FULL), so that an OS crash or a power
    /// loss cannot lose acked writes either; slower writes. Without it, acked writes
    /// survive a crash of the server, not of the machine (docs/RELIABILITY.md).
    #[arg(long)]
    durable: bool,
    /// The control API's token [default: the one kept beside the database in DB.token
    /// (mode 0600), made on first use; with --db :memory:, a random one per launch].
    #[arg(long, env = "SYNCSCOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Replace the token kept beside the database with a new random one (open inspector
    /// tabs and scripts holding the old one are then refused).
    #[arg(long, conflicts_with = "token")]
    new_token: bool,
    /// An origin (scheme://host[:port]) whose pages may use the Socket.IO endpoint, besides
    /// this machine's own (localhost, 127.0.0.1, [::1], any port): your app on a LAN
    /// address or behind a tunnel. Repeatable. `*` allows every website (unsafe).
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "SYNCSCOPE_ALLOW_ORIGIN",
        hide_env_values = true,
        value_delimiter = ','
    )]
    allow_origin: Vec<String>,
    /// A name the Socket.IO endpoint may be reached by, besides loopback names and the
    /// --host address: a LAN name or a tunnel's host. Repeatable; `.example.com` allows it
    /// and its subdomains.
    #[arg(
        long = "allow-host",
        value_name = "HOST",
        env = "SYNCSCOPE_ALLOW_HOST",
        hide_env_values = true,
        value_delimiter = ','
    )]
    allow_host: Vec<String>,
    /// The seed of fault rules' toxicity draws, to repeat a run exactly [default: a new
    /// one per launch, shown in the inspector and the log].
    #[arg(
        long,
        env = "SYNCSCOPE_FAULT_SEED",
        hide_env_values = true,
        value_parser = clap::value_parser!(u64).range(..(1u64 << 53))
    )]
    fault_seed: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // Replay runs a server in-process whose routine logging would bury the
            // report; RUST_LOG still turns it on.
            EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                EnvFilter::new(match cli.command {
                    Command::Replay(_) => "error",
                    _ => "info",
                })
            }),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a log file or a CI job gets text.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Sockets { conn, json } => report(sockets(conn, json).await),
        Command::Events(args) => report(events(args).await),
        Command::Push(args) => report(push(args).await),
        Command::Record { conn, action, name } => report(record(conn, &action, name).await),
        Command::Fault { conn, action } => {
            report(syncscope::fault_cli::run(&conn.client(), action).await)
        }
        Command::Replay(args) => cli::replay::run(args).await,
        Command::Import { file, output } => import_har(&file, output),
    }
}

/// `syncscope import`: exit 0 with the session written, 2 when the file is unusable.
fn import_har(file: &std::path::Path, output: Option<std::path::PathBuf>) -> ExitCode {
    let unusable = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return unusable(format!("cannot read {}: {e}", file.display())),
    };
    let stem = file
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".har").to_string())
        .unwrap_or_else(|| "imported".into());
    let imported = match syncscope::har::import(&text, Some(stem.clone())) {
        Ok(imported) => imported,
        Err(e) => return unusable(format!("{}: {e}", file.display())),
    };
    let output = output.unwrap_or_else(|| file.with_file_name(format!("{stem}.session.ndjson")));
    if let Err(e) = std::fs::write(&output, imported.to_ndjson()) {
        return unusable(format!("cannot write {}: {e}", output.display()));
    }
    println!(
        "Imported {} client(s), {} records into {}.",
        imported.clients,
        imported.records.len(),
        output.display()
    );
    ExitCode::SUCCESS
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sockets(conn: ConnArgs, json: bool) -> Result<(), String> {
    let list = conn.client().sockets().await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        print!("{}", client::sockets_table(&list));
    }
    Ok(())
}

async fn events(args: EventsArgs) -> Result<(), String> {
    let filter = client::parse_filter(&args.filter)?;
    let client = args.conn.client();
    let json = args.json;
    let print = move |record: &syncscope::inspect::types::Record| {
        if json {
            println!("{}", serde_json::to_string(record).unwrap_or_default());
        } else {
            println!("{}", client::line(record));
        }
        let _ = std::io::stdout().flush();
    };
    if args.follow {
        return client
            .follow(filter, print, |n| {
                eprintln!("({n} events were too many to show and were skipped)")
            })
            .await;
    }
    // A session that does not exist would read as an empty one: say so instead.
    let sessions: Vec<syncscope::inspect::types::SessionInfo> =
        client.get("/sessions", &[]).await?;
    if let Some(id) = args.session {
        if !sessions.iter().any(|s| s.id == id) {
            let known: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
            return Err(match known.is_empty() {
                true => format!("there is no session {id}: nothing has been recorded yet"),
                false => format!(
                    "there is no session {id}; the server has sessions {}",
                    known.join(", ")
                ),
            });
        }
    } else if !sessions.iter().any(|s| s.stopped_at_us.is_none()) {
        eprintln!(
            "Nothing is being recorded (start with `syncscope record start`); \
             showing the last session recorded."
        );
    }
    let mut after = 0;
    let mut printed = 0;
    loop {
        let page = client
            .events_page(&filter, args.session, after, 500)
            .await?;
        printed += page.records.len();
        page.records.iter().for_each(&print);
        match page.next {
            Some(next) => after = next,
            None => {
                if printed == 0 {
                    let matching = if args.filter.is_empty() {
                        ""
                    } else {
                        " matching the filter"
                    };
                    eprintln!("No events{matching} in session {}.", page.session);
                }
                return Ok(());
            }
        }
    }
}

fn json_arg(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

async fn push(args: PushArgs) -> Result<(), String> {
    let mut values: Vec<Value> = args.args.iter().map(|a| json_arg(a)).collect();
    let (target, mut event) = match (&args.channel, &args.socket, args.all) {
        (Some(url), _, _) => (Target::Channel { url: url.clone() }, args.event.clone()),
        (_, Some(id), _) => (Target::Socket { id: id.clone() }, args.event.clone()),
        (_, _, true) => (Target::All, args.event.clone()),
        _ => return Err("say whom to send to: --channel URL, --socket ID or --all".into()),
    };
    if let (Target::Channel { url }, "create" | "update" | "patch" | "delete") =
        (&target, event.as_str())
    {
        // A change without an id cannot be applied by any client: refuse it here rather
        // than send `id: null`.
        let data = values.first().cloned().unwrap_or(Value::Null);
        let id = match data.get("id") {
            Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
            _ => {
                return Err(format!(
                    "push {event} --channel {url} needs the model as JSON with its id, \
                     e.g. syncscope push {event} --channel {url} '{{\"id\":\"1\",\"title\":\"x\"}}'"
                ))
            }
        };
        let url = url.clone();
        values = vec![json!({ "url": url, "op": event, "id": id, "data": data })];
        event = "change".into();
    }
    let value = args
        .conn
        .client()
        .command(&Control::Emit {
            target,
            event: event.clone(),
            args: values,
        })
        .await?;
    println!(
        "Sent {event} to {} socket(s).",
        value["recipients"].as_u64().unwrap_or(0)
    );
    Ok(())
}

async fn record(conn: ConnArgs, action: &str, name: Option<String>) -> Result<(), String> {
    let command = match action {
        "start" => Control::RecordStart { name },
        "stop" => Control::RecordStop,
        other => {
            return Err(format!(
                "record {other}: say `record start [NAME]` or `record stop`"
            ))
        }
    };
    let value = conn.client().command(&command).await?;
    match (action, value.get("id")) {
        ("start", Some(id)) => println!("Recording session {id}."),
        (_, Some(id)) => println!("Stopped session {id}."),
        _ => println!("Nothing was being recorded."),
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> ExitCode {
    let signals = StopSignals::listen();
    let db = match args.db.map(Ok).unwrap_or_else(DbLocation::default_file) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        host: args.host,
        port: args.port,
        db,
        max_data: args.max_data,
        retain_changes: args.retain_changes,
        durability: if args.durable {
            syncscope::store::Durability::Machine
        } else {
            syncscope::store::Durability::Process
        },
        token: args.token,
        new_token: args.new_token,
        allow_origins: args.allow_origin,
        allow_hosts: args.allow_host,
        fault_seed: args.fault_seed,
        max_queued_bytes: args.max_queued_bytes,
        ..Config::default()
    };
    let tries = if args.next_free_port {
        syncscope::port_search::TRIES
    } else {
        0
    };
    let running = match syncscope::port_search::start(config.clone(), tries).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = running.local_addr();
    // The one line scripts wait for; everything else goes to stderr through tracing.
    println!("Syncscope listening on http://{addr} (db: {})", config.db);
    if addr.port() != config.port && config.port != 0 {
        tracing::info!(
            "port {} was taken; listening on {} instead",
            config.port,
            addr.port()
        );
    }
    // The inspector and the CLI need it (`--token` or SYNCSCOPE_TOKEN).
    println!("Control token: {}", running.token());
    let _ = std::io::stdout().flush();
    tracing::info!("demo app at http://{addr}/demo/ ; stop with Ctrl-C");
    tracing::info!(
        "fault seed {} (repeat a run with --fault-seed)",
        running.inspector().faults.seed()
    );
    // The token travels in the fragment, which browsers never send to a server.
    tracing::info!(
        "inspector at http://{addr}/_syncscope/ui/#token={}",
        running.token()
    );
    signals.wait().await;
    tracing::info!("stopping: finishing writes in progress");
    running.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// SIGTERM and Ctrl-C, listened for from before the server says it is listening: a
/// script that stops it right after reading that line must get a clean stop, not the
/// default action of a signal nobody handles yet.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals {
                term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
                int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
