//! Starting the core for the window: the port from the settings (default 4000), or the
//! next free one when it is taken, since a developer may already run `syncscope serve`.

use syncscope::{Config, DbLocation};

pub async fn start_core() -> Result<syncscope::Running, Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("SYNCSCOPE_PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("SYNCSCOPE_PORT={p:?} is not a port number"))?,
        Err(_) => 4000,
    };
    let db = match std::env::var("SYNCSCOPE_DB") {
        Ok(db) => db.parse::<DbLocation>()?,
        Err(_) => DbLocation::default_file()?,
    };
    // The same settings as `syncscope serve --allow-origin/--allow-host`, comma-separated.
    let list = |name: &str| -> Vec<String> {
        std::env::var(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let allow_origins = list("SYNCSCOPE_ALLOW_ORIGIN");
    let allow_hosts = list("SYNCSCOPE_ALLOW_HOST");
    let config = Config {
        port,
        db,
        token: std::env::var("SYNCSCOPE_TOKEN").ok(),
        allow_origins,
        allow_hosts,
        ..Config::default()
    };
    Ok(syncscope::port_search::start(config, syncscope::port_search::TRIES).await?)
}
