//! The Syncscope desktop window: a thin shell around the core.
//!
//! It starts the core server in-process, opens a window on the inspector UI that the
//! core itself serves (so the window and a browser run the very same build and talk
//! only to the control API), and offers what only a desktop app can: native menus and
//! file dialogs. There is no sync logic here, and the webview gets no IPC permissions.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod files;
mod launch;

use tauri::menu::{AboutMetadata, MenuBuilder, MenuEvent, SubmenuBuilder};
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

/// What the shell keeps of the core while the window is open.
struct Core {
    running: std::sync::Mutex<Option<syncscope::Running>>,
    ui_url: String,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let running = tauri::async_runtime::block_on(launch::start_core())?;
            let addr = running.local_addr();
            let ui_url = format!("http://{addr}/_syncscope/ui/#token={}", running.token());
            // Scripts and tests read these lines, as they read `syncscope serve`'s.
            println!(
                "Syncscope listening on http://{addr} (db: {})",
                running.store().location()
            );
            println!("Inspector UI: {ui_url}");

            let menu = MenuBuilder::new(app)
                .item(
                    &SubmenuBuilder::new(app, "File")
                        .text("export", "Export session…")
                        .text("import", "Import session…")
                        .separator()
                        // A plain item: the native Quit item is disabled in GTK menus.
                        .text("quit", "Quit")
                        .build()?,
                )
                .item(
                    &SubmenuBuilder::new(app, "View")
                        .text("reload", "Reload")
                        .build()?,
                )
                .item(
                    &SubmenuBuilder::new(app, "Help")
                        // The version and commit, as `syncscope --version` says them.
                        .about(Some(AboutMetadata {
                            name: Some("Syncscope".into()),
                            version: Some(syncscope::VERSION.into()),
                            comments: Some(
                                "A local realtime sync server and inspector for Backbone.js apps"
                                    .into(),
                            ),
                            ..Default::default()
                        }))
                        .build()?,
                )
                .build()?;
            app.set_menu(menu)?;
            app.on_menu_event(on_menu);

            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(ui_url.parse()?))
                .title(format!("Syncscope — {addr}"))
                .inner_size(1280.0, 820.0)
                .min_inner_size(900.0, 560.0)
                .on_download(files::on_download)
                .build()?;
            app.manage(Core {
                running: std::sync::Mutex::new(Some(running)),
                ui_url,
            });
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .unwrap_or_else(|e| {
            eprintln!("error: the Syncscope window could not start: {e}");
            std::process::exit(1);
        });

    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            // Let the write in progress commit and the recorder flush before leaving.
            if let Some(running) = handle
                .try_state::<Core>()
                .and_then(|core| core.running.lock().ok()?.take())
            {
                tauri::async_runtime::block_on(running.shutdown());
            }
        }
    });
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        "export" => files::export_session(app),
        "import" => files::import_session(app),
        "quit" => app.exit(0),
        "reload" => {
            if let (Some(window), Some(core)) =
                (app.get_webview_window("main"), app.try_state::<Core>())
            {
                if let Ok(url) = core.ui_url.parse() {
                    let _ = window.navigate(url);
                }
            }
        }
        _ => {}
    }
}
