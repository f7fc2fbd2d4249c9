//! `syncscope replay`: the command-line glue around `syncscope::replay` (arguments, exit
//! codes, progress bars, the printed report). Kept out of main.rs so the entry point stays
//! a list of subcommands; the replaying itself lives in the library.

use std::io::Write;
use std::process::ExitCode;

use syncscope::inspect::client::Client;
use syncscope::DbLocation;

use crate::local_token;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Session files (`*.session.ndjson`), as exported from the inspector.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<std::path::PathBuf>,
    /// Compare every ack and push with the recording (what replay does by default).
    #[arg(long)]
    check: bool,
    /// Instead of checking, re-emit the file's server pushes into the clients connected
    /// to a running server (--url), with the recorded gaps divided by --speed.
    #[arg(long, conflicts_with_all = ["check", "update", "junit", "against"])]
    live: bool,
    /// The running server of --live.
    #[arg(
        long,
        env = "SYNCSCOPE_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:4000"
    )]
    url: String,
    /// Re-record each file from what the server answers now, keeping its requests:
    /// accepts a deliberate change of behaviour.
    #[arg(long, conflicts_with = "check")]
    update: bool,
    /// Check a running server (http://HOST:PORT) instead of a fresh in-memory one.
    #[arg(long, value_name = "URL")]
    against: Option<String>,
    /// The control token of the --against or --live server (needed for recorded faults
    /// and --update) [default: for a server on this machine, the one kept beside --db].
    #[arg(long, env = "SYNCSCOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The database of the server on this machine, whose token file gives the token when
    /// --token is not given [default: the default database of `serve`].
    #[arg(long, env = "SYNCSCOPE_DB", hide_env_values = true)]
    db: Option<DbLocation>,
    /// 0 plays as fast as the answers come; 1 keeps the recorded timing; 2 twice as fast.
    /// With --live, 0 means 1 (the recorded timing).
    #[arg(long, default_value_t = 0.0)]
    speed: f64,
    /// Leave a field out of the comparison, e.g. data.updatedAt or data.*.updatedAt
    /// (paths start in an ack's result or error, or a push's payload). Repeatable.
    #[arg(long, value_name = "PATH")]
    ignore: Vec<String>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// How long to wait for one answer before calling it missing, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// `--max-data` of the in-process server.
    #[arg(long, default_value_t = 256 * 1024)]
    max_data: usize,
    /// `--retain-changes` of the in-process server.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    retain_changes: i64,
}

pub async fn run(mut args: ReplayArgs) -> ExitCode {
    use std::io::IsTerminal;
    use syncscope::replay::{self, compare::IgnorePath, report, CheckOptions};

    if args
        .files
        .first()
        .is_some_and(|f| f.as_os_str() == "accept")
    {
        args.files.remove(0);
        args.update = true;
        if args.files.is_empty() {
            eprintln!("error: say which files to accept: syncscope replay accept FILE…");
            return ExitCode::from(2);
        }
    }
    if args.live {
        return replay_live(args).await;
    }
    let ignore: Vec<IgnorePath> = match args.ignore.iter().map(|p| IgnorePath::parse(p)).collect() {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        eprintln!("error: --speed must be 0 (as fast as possible) or a positive factor");
        return ExitCode::from(2);
    }
    let style = report::Style {
        colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut outcomes = Vec::new();
    let mut unusable = false;
    for path in &args.files {
        let progress = replay::progress_bar(path, 0);
        let opts = CheckOptions {
            against: args.against.clone(),
            token: match &args.against {
                Some(url) => local_token(url, &args.token, &args.db),
                None => args.token.clone(),
            },
            speed: args.speed,
            timeout: std::time::Duration::from_millis(args.timeout_ms),
            ignore: ignore.clone(),
            max_data: args.max_data,
            retain_changes: args.retain_changes,
            update: args.update,
            progress: progress.clone().map(|bar| {
                Box::new(move |done: u64, total: u64| {
                    bar.set_length(total);
                    bar.set_position(done);
                }) as Box<dyn Fn(u64, u64) + Send>
            }),
        };
        let result = replay::check(path, opts).await;
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        match result {
            Ok(outcome) => {
                for warning in &outcome.script.warnings {
                    eprintln!("warning: {}: {warning}", outcome.path);
                }
                if outcome.updated {
                    say(&format!(
                        "{}: re-recorded from today's answers ({} divergence(s) accepted)\n",
                        outcome.path,
                        outcome.report.divergences.len()
                    ));
                } else {
                    say(&report::render(&outcome, &style));
                }
                outcomes.push(outcome);
            }
            Err(e) => {
                eprintln!("error: {e}");
                unusable = true;
            }
        }
    }
    if let Some(junit) = &args.junit {
        if let Err(e) = std::fs::write(junit, report::junit(&outcomes)) {
            eprintln!("error: cannot write {}: {e}", junit.display());
            return ExitCode::from(2);
        }
    }
    let diverged = !args.update && outcomes.iter().any(|o| !o.report.divergences.is_empty());
    if diverged {
        let files: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.report.divergences.is_empty())
            .map(|o| o.path.clone())
            .collect();
        say(&format!(
            "\nIf today's answers are right, accept them: syncscope replay accept {}\n",
            files.join(" ")
        ));
    }
    if unusable {
        ExitCode::from(2)
    } else if diverged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints a report; a reader that went away (`| head`) is not an error.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `replay FILE --live`: exit 0 when every push was sent, 130 on Ctrl-C, 2 when the file
/// is unusable, 1 otherwise.
async fn replay_live(args: ReplayArgs) -> ExitCode {
    use syncscope::live_replay::MAX_SPEED;
    use syncscope::replay::live_cli::{self, LiveEnd};

    let [file] = &args.files[..] else {
        eprintln!("error: --live replays one file at a time");
        return ExitCode::from(2);
    };
    let speed = if args.speed == 0.0 { 1.0 } else { args.speed };
    if !(speed > 0.0 && speed <= MAX_SPEED) {
        eprintln!("error: --speed with --live must be above 0 and at most {MAX_SPEED}");
        return ExitCode::from(2);
    }
    let control = Client::new(&args.url, local_token(&args.url, &args.token, &args.db));
    match live_cli::run(&control, file, speed).await {
        LiveEnd::Finished => ExitCode::SUCCESS,
        LiveEnd::Interrupted => ExitCode::from(130),
        LiveEnd::Unusable(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        LiveEnd::Failed(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
