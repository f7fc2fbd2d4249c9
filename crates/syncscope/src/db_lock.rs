//! One server per database file. Two servers on the same file (a `syncscope serve` left
//! running in another terminal while the window opens, say) would each keep their own
//! live state over shared rows: their clients never hear of each other's writes and the
//! inspector shows half the traffic. So a server holds an exclusive lock on `DB.lock`
//! beside the database for as long as it runs, and a second one refuses to start, saying
//! which server holds it.
//!
//! The lock is the operating system's (flock), so a server that crashed or was killed
//! leaves no stale lock behind; the file's text (pid and address) only feeds the message.
//! It is a file of its own rather than a lock on the database: SQLite's own POSIX locks on
//! that file would be dropped the moment any other descriptor of it were closed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where the lock of the database at `db` is kept.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DbLockError {
    #[error("the database {db} is in use by another Syncscope server ({holder}): stop that one, or pass --db with another file (--db :memory: for a throwaway one)")]
    Held { db: String, holder: String },
    #[error("cannot lock the database {db} ({path}): {source}; pass --db with a file in a folder you can write to")]
    Io {
        db: String,
        path: String,
        source: std::io::Error,
    },
}

/// The lock, held until dropped.
#[derive(Debug)]
pub struct DbLock {
    file: File,
}

impl DbLock {
    /// Takes the lock of the database at `db`, or says who holds it.
    pub fn acquire(db: &Path) -> Result<DbLock, DbLockError> {
        let path = path_for(db);
        let io = |source: std::io::Error| DbLockError::Io {
            db: db.display().to_string(),
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Not truncated on open: the holder's text must survive a refused second opener.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DbLock { file }),
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim() {
                    "" => "one starting right now".to_string(),
                    text => text.to_string(),
                };
                Err(DbLockError::Held {
                    db: db.display().to_string(),
                    holder,
                })
            }
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }

    /// Says who holds the lock, for the message a second server prints.
    pub fn describe(&mut self, address: &str) {
        let text = format!("pid {}, {address}\n", std::process::id());
        let _ = self
            .file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| self.file.write_all(text.as_bytes()));
    }
}

/// The address the server on the database at `db` last said it listens on (the text
/// `describe` wrote), for the command line's default `--url`: `make app` may have taken
/// the next free port. Read without locking, so it may name a server that has stopped;
/// the command then says it cannot reach it.
pub fn last_address(db: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path_for(db)).ok()?;
    let address = text.trim().split_once(", ")?.1.trim();
    address.starts_with("http").then(|| address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let mut first = DbLock::acquire(&db).unwrap();
        first.describe("http://127.0.0.1:4000");
        let refused = DbLock::acquire(&db).unwrap_err().to_string();
        assert!(
            refused.contains(&format!(
                "pid {}, http://127.0.0.1:4000",
                std::process::id()
            )),
            "{refused}"
        );
        assert!(refused.contains("--db"), "{refused}");
        drop(first);
        DbLock::acquire(&db).unwrap();
    }
}
