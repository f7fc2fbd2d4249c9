//! The fault commands of the control API (crate::control routes them here): rules added, edited in place, switched,
//! removed, imported, the seed set, and clients taken offline for a while.
//!
//! Each change is kept in the database (crate::fault_store) and becomes a record in the
//! timeline, so that the log says when a fault started and stopped applying, not only
//! when it fired.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use socketioxide::socket::Sid;

use crate::faults::{FaultFile, FaultRule, FAULT_FILE_VERSION};
use crate::inspect::offline::MAX_OFFLINE_SECS;
use crate::inspect::types::{Body, Command, CommandResult, Origin, RuleChange};
use crate::inspect::Inspector;
use crate::sync::Sync;

fn ok(value: impl serde::Serialize) -> CommandResult {
    CommandResult::Ok {
        value: serde_json::to_value(value).unwrap_or_default(),
    }
}

fn no_rule(id: u64) -> CommandResult {
    CommandResult::error(
        "not_found",
        format!("there is no fault rule {id}; list them with GET /_syncscope/faults or `syncscope fault list`"),
    )
}

/// Carries out one fault command (crate::control routes them here).
pub async fn run(sync: &Sync, command: Command) -> CommandResult {
    let faults = &sync.faults;
    let inspector = &sync.inspect;
    let result = match command {
        Command::FaultAdd { rule, enabled } => {
            if let Err(e) = rule.check() {
                return CommandResult::error("bad_request", e.to_string());
            }
            let rule = faults.add_as(rule, enabled.unwrap_or(true));
            inspector.rules_changed(Origin::Inspector, RuleChange::Added, Some(rule.clone()));
            ok(rule)
        }
        Command::FaultEdit { id, rule, enabled } => {
            if let Err(e) = rule.check() {
                return CommandResult::error("bad_request", e.to_string());
            }
            let Some(rule) = faults.edit(id, rule, enabled) else {
                return no_rule(id);
            };
            inspector.rules_changed(Origin::Inspector, RuleChange::Edited, Some(rule.clone()));
            ok(rule)
        }
        Command::FaultSet { id, enabled } => {
            let Some(rule) = faults.set_enabled(id, enabled) else {
                return no_rule(id);
            };
            let change = if enabled {
                RuleChange::On
            } else {
                RuleChange::Off
            };
            inspector.rules_changed(Origin::Inspector, change, Some(rule));
            ok(faults.list())
        }
        Command::FaultRemove { id } => {
            let Some(rule) = faults.remove(id) else {
                return no_rule(id);
            };
            inspector.rules_changed(Origin::Inspector, RuleChange::Removed, Some(rule));
            ok(faults.list())
        }
        Command::FaultClear => {
            faults.clear();
            inspector.rules_changed(Origin::Inspector, RuleChange::Cleared, None);
            ok(Vec::<FaultRule>::new())
        }
        Command::FaultImport { file, replace } => {
            if let Err(message) = check_file(&file) {
                return CommandResult::error("bad_request", message);
            }
            if replace == Some(true) {
                faults.clear();
            }
            for rule in file.rules {
                faults.add_as(rule.spec, rule.enabled);
            }
            inspector.rules_changed(Origin::Inspector, RuleChange::Imported, None);
            ok(faults.list())
        }
        Command::FaultSeed { seed } => {
            if seed >= 1 << 53 {
                return CommandResult::error(
                    "bad_request",
                    "the seed must be below 2^53, so that the inspector (JavaScript) shows it exactly",
                );
            }
            faults.set_seed(seed);
            inspector.rules_changed(Origin::Inspector, RuleChange::Seed, None);
            ok(json!({ "seed": seed }))
        }
        Command::Offline {
            client,
            socket,
            secs,
        } => return offline(sync, client, socket, secs),
        Command::Online { client } => {
            if !inspector.offline.release(&client, None) {
                return CommandResult::error(
                    "not_found",
                    format!("client {client} is not offline; nothing to do"),
                );
            }
            inspector.bus.publish(
                None,
                Origin::Inspector,
                None,
                Body::Online {
                    client: client.clone(),
                    reason: "command".into(),
                },
            );
            return ok(json!({ "client": client }));
        }
        _ => return CommandResult::error("bad_request", "not a fault command"),
    };
    if let Err(e) = sync.fault_store.persist(faults).await {
        tracing::warn!("{e}");
        return CommandResult::error("internal", e);
    }
    result
}

/// A rules file this build can take, every rule usable.
fn check_file(file: &FaultFile) -> Result<(), String> {
    if file.format != "syncscope-faults" {
        return Err(format!(
            "not a rules file: its format is {:?}, not \"syncscope-faults\" (export one with `syncscope fault export`)",
            file.format
        ));
    }
    if file.version > FAULT_FILE_VERSION {
        return Err(format!(
            "this rules file is version {}; this Syncscope reads up to version {FAULT_FILE_VERSION}: upgrade Syncscope",
            file.version
        ));
    }
    for (n, rule) in file.rules.iter().enumerate() {
        rule.spec
            .check()
            .map_err(|e| format!("rule {} of the file: {e}", n + 1))?;
    }
    Ok(())
}

/// `offline`: cut the client's sockets, refuse its reconnects for `secs`, then let it
/// back (an `online` record).
fn offline(
    sync: &Sync,
    client: Option<String>,
    socket: Option<String>,
    secs: u64,
) -> CommandResult {
    let inspector = &sync.inspect;
    let client = match (client, socket) {
        (Some(client), _) => client,
        (None, Some(socket)) => match inspector.bus.registry.client_of(&socket) {
            Some(client) => client,
            None => {
                return CommandResult::error(
                    "bad_request",
                    format!(
                        "socket {socket} named no client id in its handshake (`auth.client`), so its reconnects \
                         cannot be told apart; the Backbone adapter sends one; otherwise use `stall` or `disconnect`"
                    ),
                )
            }
        },
        (None, None) => {
            return CommandResult::error(
                "bad_request",
                "say which client: `client` (its auth.client id) or `socket` (one of its sockets)",
            )
        }
    };
    if secs == 0 || secs > MAX_OFFLINE_SECS {
        return CommandResult::error(
            "bad_request",
            format!("secs must be from 1 to {MAX_OFFLINE_SECS} (a day)"),
        );
    }
    let generation = inspector.offline.take(&client, secs);
    let sockets = inspector.bus.registry.sockets_of_client(&client);
    inspector.bus.publish(
        None,
        Origin::Inspector,
        None,
        Body::Offline {
            client: client.clone(),
            secs,
            sockets: sockets.clone(),
        },
    );
    for sid in &sockets {
        cut(sync, sid, secs);
    }
    let timer_inspector: Arc<Inspector> = inspector.clone();
    let timer_client = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        if timer_inspector
            .offline
            .release(&timer_client, Some(generation))
        {
            timer_inspector.bus.publish(
                None,
                Origin::Inspector,
                None,
                Body::Online {
                    client: timer_client,
                    reason: "time_up".into(),
                },
            );
        }
    });
    ok(json!({ "client": client, "secs": secs, "cut": sockets }))
}

/// Ends one socket of an offline client the way a lost network would: its TCP
/// connections are cut (crate::outbound), so the client sees a transport close and
/// reconnects by itself, and its reconnects are refused until the time is up.
fn cut(sync: &Sync, sid: &str, secs: u64) {
    let Some(socket) = Sid::from_str(sid)
        .ok()
        .and_then(|id| sync.io.get_socket(id))
    else {
        return;
    };
    if sync
        .outbound()
        .cut(
            &socket,
            Origin::Inspector,
            format!("client offline for {secs} s"),
        )
        .is_none()
    {
        // Not known to the transport (still being set up): end it as a Socket.IO
        // disconnect rather than leave it connected while its client is offline.
        let _ = socket.disconnect();
    }
}
