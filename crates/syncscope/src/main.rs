//! The `syncscope` command line.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use syncscope::{Config, DbLocation};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "syncscope",
    version,
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
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; loopback unless you mean to share it.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// SQLite file to keep models and sessions in, or :memory: [default: a file in the OS data dir]
    #[arg(long)]
    db: Option<DbLocation>,
    /// Largest `data` a CRUD event may carry, in bytes, once serialised.
    #[arg(long, default_value_t = 256 * 1024)]
    max_data: usize,
    /// How many recent changes to keep for clients that reconnect with `since`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    retain_changes: i64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
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
        ..Config::default()
    };
    let running = match syncscope::start(config.clone()).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = running.local_addr();
    // The one line scripts wait for; everything else goes to stderr through tracing.
    println!("Syncscope listening on http://{addr} (db: {})", config.db);
    let _ = std::io::stdout().flush();
    tracing::info!("demo app at http://{addr}/demo/ ; stop with Ctrl-C");
    wait_for_signal().await;
    tracing::info!("stopping: finishing writes in progress");
    running.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
