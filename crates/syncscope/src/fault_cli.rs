//! `syncscope fault …`: the fault rules of a running server from the terminal, with
//! the same fields as the control API (docs/FAULTS.md), so that a flaky backend can be
//! set up from a script or a Makefile as easily as from the inspector.

use clap::Subcommand;
use serde_json::Value;

use crate::faults::{FaultAction, FaultFile, FaultMatch, FaultRule, FaultSpec};
use crate::inspect::client::Client;
use crate::inspect::types::Command;

#[derive(Subcommand, Debug)]
pub enum FaultCommand {
    /// Add a rule: `fault add fail --code conflict --event update --url /todos --times 1`.
    Add(RuleArgs),
    /// Change rule ID in place (same id and place; its counts start again).
    Edit {
        id: u64,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// List the rules, in the order they are tried.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove rule ID.
    Rm { id: u64 },
    /// Remove every rule.
    Clear,
    /// Switch rule ID on.
    On { id: u64 },
    /// Switch rule ID off (it stays, for later).
    Off { id: u64 },
    /// Write the rules as a JSON file (to FILE, or standard output).
    Export { file: Option<std::path::PathBuf> },
    /// Add the rules of a JSON file made by `fault export` (after the current ones).
    Import {
        file: std::path::PathBuf,
        /// Replace the current rules instead of adding to them.
        #[arg(long)]
        replace: bool,
    },
    /// Set the server-wide seed of toxicity draws (every rule's draws start again).
    Seed { seed: u64 },
    /// Take a client (its `auth.client` id) offline for SECS seconds: its sockets are
    /// cut and its reconnects refused until then.
    Offline { client: String, secs: u64 },
    /// Let an offline client back now.
    Online { client: String },
}

/// A rule's fields, as flags.
#[derive(clap::Args, Debug)]
pub struct RuleArgs {
    /// fail, delay, drop, disconnect, stall (`offline` is its old name) or cut (on
    /// requests); bandwidth or slice (on connections); push_drop, push_duplicate,
    /// push_delay or push_reorder (on `change` pushes).
    pub action: String,
    /// fail: the error code (conflict, not_found, bad_request, internal, or your own).
    #[arg(long)]
    pub code: Option<String>,
    /// fail: the error message.
    #[arg(long)]
    pub message: Option<String>,
    /// delay: how long, in milliseconds.
    #[arg(long)]
    pub ms: Option<u64>,
    /// bandwidth: the most bytes per second written to the connection.
    #[arg(long)]
    pub bytes_per_sec: Option<u64>,
    /// slice: the most bytes per TCP write.
    #[arg(long)]
    pub bytes: Option<u64>,
    /// slice: the pause between two writes; push_delay: how long the push waits.
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// push_delay: up to this much more or less, drawn from the rule's seed.
    #[arg(long)]
    pub jitter_ms: Option<u64>,
    /// Only this socket id.
    #[arg(long)]
    pub socket: Option<String>,
    /// Only the sockets of this client (`auth.client`), across reconnects.
    #[arg(long)]
    pub client: Option<String>,
    /// Only this event (`update`); repeat for several (`--event update --event patch`).
    #[arg(long)]
    pub event: Vec<String>,
    /// Only urls under this prefix (`/todos`); for push rules, the channel.
    #[arg(long)]
    pub url: Option<String>,
    /// Fire this many times, then switch off.
    #[arg(long)]
    pub times: Option<u32>,
    /// The share (0 to 1) of matching requests affected.
    #[arg(long)]
    pub toxicity: Option<f64>,
    /// The seed of this rule's draws (default: from the server's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Add it switched off.
    #[arg(long)]
    pub off: bool,
}

impl RuleArgs {
    pub fn spec(&self) -> Result<FaultSpec, String> {
        let action = match self.action.as_str() {
            "fail" => FaultAction::Fail {
                code: self.code.clone().ok_or(
                    "fail needs --code (conflict, not_found, bad_request, internal, or your own)",
                )?,
                message: self
                    .message
                    .clone()
                    .unwrap_or_else(|| "injected by Syncscope".into()),
            },
            "delay" => FaultAction::Delay {
                ms: self.ms.ok_or("delay needs --ms MILLISECONDS")?,
            },
            "drop" => FaultAction::Drop,
            "disconnect" => FaultAction::Disconnect,
            "stall" | "offline" => FaultAction::Stall,
            "cut" => FaultAction::Cut,
            "bandwidth" => FaultAction::Bandwidth {
                bytes_per_sec: self
                    .bytes_per_sec
                    .ok_or("bandwidth needs --bytes-per-sec N (262144 for 256 KB/s)")?,
            },
            "slice" => FaultAction::Slice {
                bytes: self
                    .bytes
                    .ok_or("slice needs --bytes N (the size of each write)")?,
                delay_ms: self.delay_ms.unwrap_or(0),
            },
            "push_drop" | "push-drop" => FaultAction::PushDrop,
            "push_duplicate" | "push-duplicate" => FaultAction::PushDuplicate,
            "push_delay" | "push-delay" => FaultAction::PushDelay {
                delay_ms: self
                    .delay_ms
                    .ok_or("push_delay needs --delay-ms MILLISECONDS")?,
                jitter_ms: self.jitter_ms.unwrap_or(0),
            },
            "push_reorder" | "push-reorder" => FaultAction::PushReorder,
            other => {
                return Err(format!(
                    "unknown action {other:?}: use fail, delay, drop, disconnect, stall, cut, \
                     bandwidth, slice, push_drop, push_duplicate, push_delay or push_reorder"
                ))
            }
        };
        let (event, events) = match self.event.as_slice() {
            [] => (None, None),
            [one] => (Some(one.clone()), None),
            many => (None, Some(many.to_vec())),
        };
        let spec = FaultSpec {
            when: FaultMatch {
                socket: self.socket.clone(),
                client: self.client.clone(),
                event,
                events,
                url: self.url.clone(),
            },
            action,
            times: self.times,
            toxicity: self.toxicity,
            seed: self.seed,
        };
        spec.check().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

/// Runs one `fault` subcommand against the server `client` points at.
pub async fn run(client: &Client, command: FaultCommand) -> Result<(), String> {
    match command {
        FaultCommand::Add(args) => {
            let rule = client
                .command(&Command::FaultAdd {
                    rule: args.spec()?,
                    enabled: Some(!args.off),
                })
                .await?;
            print_rule("Added", &rule);
        }
        FaultCommand::Edit { id, rule } => {
            let edited = client
                .command(&Command::FaultEdit {
                    id,
                    rule: rule.spec()?,
                    enabled: Some(!rule.off),
                })
                .await?;
            print_rule("Changed", &edited);
        }
        FaultCommand::List { json } => {
            let rules: Vec<FaultRule> = client.get("/faults", &[]).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rules).unwrap_or_default()
                );
            } else {
                print!("{}", rules_table(&rules));
            }
        }
        FaultCommand::Rm { id } => {
            client.command(&Command::FaultRemove { id }).await?;
            println!("Removed rule {id}.");
        }
        FaultCommand::Clear => {
            client.command(&Command::FaultClear).await?;
            println!("Removed every rule.");
        }
        FaultCommand::On { id } => {
            client
                .command(&Command::FaultSet { id, enabled: true })
                .await?;
            println!("Rule {id} is on.");
        }
        FaultCommand::Off { id } => {
            client
                .command(&Command::FaultSet { id, enabled: false })
                .await?;
            println!("Rule {id} is off.");
        }
        FaultCommand::Export { file } => {
            let exported: FaultFile = client.get("/faults/export", &[]).await?;
            let text = serde_json::to_string_pretty(&exported).unwrap_or_default() + "\n";
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!(
                        "Wrote {} rule(s) to {}.",
                        exported.rules.len(),
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
        }
        FaultCommand::Import { file, replace } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let parsed: FaultFile = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is not a rules file (`syncscope fault export` makes one): {e}",
                    file.display()
                )
            })?;
            let rules = client
                .command(&Command::FaultImport {
                    file: parsed,
                    replace: Some(replace),
                })
                .await?;
            let count = rules.as_array().map_or(0, Vec::len);
            println!("Imported; the server has {count} rule(s) now.");
        }
        FaultCommand::Seed { seed } => {
            client.command(&Command::FaultSeed { seed }).await?;
            println!("Fault seed is {seed}.");
        }
        FaultCommand::Offline { client: id, secs } => {
            let value = client
                .command(&Command::Offline {
                    client: Some(id.clone()),
                    socket: None,
                    secs,
                })
                .await?;
            let cut = value["cut"].as_array().map_or(0, Vec::len);
            println!("Client {id} is offline for {secs} s ({cut} socket(s) cut).");
        }
        FaultCommand::Online { client: id } => {
            client
                .command(&Command::Online { client: id.clone() })
                .await?;
            println!("Client {id} is back online.");
        }
    }
    Ok(())
}

fn print_rule(what: &str, value: &Value) {
    match serde_json::from_value::<FaultRule>(value.clone()) {
        Ok(rule) => println!("{what} rule {}: {}", rule.id, rule.spec.describe()),
        Err(_) => println!("{what}: {value}"),
    }
}

/// The table `fault list` prints.
pub fn rules_table(rules: &[FaultRule]) -> String {
    if rules.is_empty() {
        return "No fault rule: every request is handled normally.\n".into();
    }
    let mut out = format!("{:>4}  {:<3}  {:>6}  {}\n", "ID", "ON", "FIRED", "RULE");
    for r in rules {
        out.push_str(&format!(
            "{:>4}  {:<3}  {:>6}  {}\n",
            r.id,
            if r.enabled { "on" } else { "off" },
            r.fired,
            r.spec.describe()
        ));
    }
    out
}
