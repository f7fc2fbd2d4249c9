//! Export and import of sessions through native file dialogs. The work itself is the
//! core's (`syncscope::session_file`); this only asks the user where.

use tauri::webview::DownloadEvent;
use tauri::{AppHandle, Manager, Runtime, Webview};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};

use crate::Core;

/// Runs `work` against the running core, on the shell's async runtime.
fn with_core<T>(
    app: &AppHandle,
    work: impl AsyncFnOnce(&syncscope::Running) -> Result<T, String>,
) -> Result<T, String> {
    let core = app.state::<Core>();
    let guard = core
        .running
        .lock()
        .map_err(|_| "the core stopped".to_string())?;
    let running = guard.as_ref().ok_or("the core stopped")?;
    tauri::async_runtime::block_on(work(running))
}

pub fn export_session(app: &AppHandle) {
    let app = app.clone();
    app.dialog()
        .file()
        .add_filter("Syncscope session", &["ndjson"])
        .set_file_name("syncscope.session.ndjson")
        .save_file(move |path| {
            let Some(path) = path.and_then(|p| p.into_path().ok()) else {
                return;
            };
            let outcome = with_core(&app, async move |running| {
                let mut file = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                let (_, n) = syncscope::session_file::export_current(running, &mut file)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((n, path))
            });
            tell(
                &app,
                match outcome {
                    Ok((n, path)) => (
                        MessageDialogKind::Info,
                        format!("Exported {n} records to {}", path.display()),
                    ),
                    Err(e) => (MessageDialogKind::Error, format!("Export failed: {e}")),
                },
            );
        });
}

pub fn import_session(app: &AppHandle) {
    let app = app.clone();
    app.dialog()
        .file()
        .add_filter("Syncscope session", &["ndjson"])
        .pick_file(move |path| {
            let Some(path) = path.and_then(|p| p.into_path().ok()) else {
                return;
            };
            let outcome = with_core(&app, async move |running| {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let input = tokio::io::BufReader::new(file);
                syncscope::session_file::import(running.store().pool(), input)
                    .await
                    .map_err(|e| e.to_string())
            });
            tell(
                &app,
                match outcome {
                    Ok((id, header)) => (
                        MessageDialogKind::Info,
                        format!("Imported {} records as session {id}", header.records),
                    ),
                    Err(e) => (MessageDialogKind::Error, format!("Import failed: {e}")),
                },
            );
        });
}

fn tell(app: &AppHandle, (kind, message): (MessageDialogKind, String)) {
    app.dialog()
        .message(message)
        .kind(kind)
        .title("Syncscope")
        .show(|_| {});
}

/// Downloads started by the page (the Sessions panel's Export) go to the Downloads
/// folder, and the user is told where: a webview has no download bar of its own.
pub fn on_download<R: Runtime>(webview: Webview<R>, event: DownloadEvent<'_>) -> bool {
    match event {
        DownloadEvent::Requested { destination, .. } => {
            let name = destination
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "syncscope.session.ndjson".into());
            // The XDG Downloads folder, else ~/Downloads (a bare X session has no XDG
            // user dirs, and the webview would then save into the working directory).
            let paths = webview.app_handle().path();
            let dir = paths
                .download_dir()
                .or_else(|_| paths.home_dir().map(|home| home.join("Downloads")));
            match dir {
                Ok(dir) => {
                    let _ = std::fs::create_dir_all(&dir);
                    *destination = dir.join(name);
                }
                Err(e) => tracing::warn!("no Downloads folder ({e}); the webview picks the place"),
            }
        }
        DownloadEvent::Finished { path, success, .. } => {
            let message = match (success, path) {
                (true, Some(path)) => format!("Saved {}", path.display()),
                (true, None) => "Saved the download".to_string(),
                (false, _) => "The download failed".to_string(),
            };
            let kind = if success {
                MessageDialogKind::Info
            } else {
                MessageDialogKind::Error
            };
            webview
                .app_handle()
                .dialog()
                .message(message)
                .kind(kind)
                .title("Syncscope")
                .show(|_| {});
        }
        _ => {}
    }
    true
}
