//! Export and import of sessions through native file dialogs. The work itself is the
//! core's (`syncscope::session_file`); this only asks the user where.

use tauri::{AppHandle, Manager};
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
        .set_file_name("session.session.ndjson")
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
