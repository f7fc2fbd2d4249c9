//! The control token kept beside its database (`syncscope.db` → `syncscope.db.token`),
//! readable only by its user. It exists so that restarting the server on the same
//! project keeps the token: an open inspector tab reconnects without a new URL, and the
//! CLI on the same machine finds the token without it being copied around.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the token of the database at `db` is kept.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".token");
    PathBuf::from(name)
}

/// What went wrong with a token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the control token file {path}: {source}; delete it or pass --new-token")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the control token file {path}: {source}; pass --token to choose one, or --db to use another folder")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The token kept for `db` (making the file 0600 if it was not), or a new random one
/// written there when there is none yet or `new` is set.
pub fn load_or_create(db: &Path, new: bool) -> Result<String, TokenFileError> {
    let path = path_for(db);
    if !new {
        if let Some(token) = read(&path)? {
            restrict(&path).map_err(|source| TokenFileError::Write {
                path: path.display().to_string(),
                source,
            })?;
            return Ok(token);
        }
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    write(&path, &token).map_err(|source| TokenFileError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(token)
}

/// The token in the file at `path`; None when there is no file or it is empty.
pub fn read(path: &Path) -> Result<Option<String>, TokenFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenFileError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn write(path: &Path, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created 0600 from the start: no moment where others could read it.
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{token}\n").as_bytes())?;
    drop(file);
    // An older file keeps its mode through `open`; make it private as well.
    restrict(path)
}

fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
