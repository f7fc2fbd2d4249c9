//! The real `syncscope` binary as a child process, for tests that stop, kill or
//! restart it: `syncscope serve --port 0 …`, its address read from the line it prints
//! first, and killed when dropped so that a failing test leaves no server behind.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// `syncscope serve --port 0` of this build, for the test to add its arguments.
pub fn serve() -> Command {
    serve_with(Path::new(env!("CARGO_BIN_EXE_syncscope")))
}

/// `BIN serve --port 0`: another build of the binary (the soak test's release one).
pub fn serve_with(bin: &Path) -> Command {
    let mut command = Command::new(bin);
    command.args(["serve", "--port", "0"]);
    command
}

pub struct Served {
    child: Option<Child>,
    pub addr: SocketAddr,
    stdout: BufReader<ChildStdout>,
}

impl Served {
    /// Starts `command` (a [`serve`]) and waits for the line that says where it
    /// listens. Its log (stderr) goes to `log`, a file rather than a pipe nobody reads
    /// (a server that logs a lot would block on a full pipe); a server that does not
    /// start fails the test with that log.
    pub fn start(command: &mut Command, log: &Path) -> Served {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .strip_prefix("Syncscope listening on http://")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let status = child.wait().unwrap();
            let mut said = String::new();
            let _ = File::open(log).and_then(|mut f| f.read_to_string(&mut said));
            panic!(
                "unexpected first line {line:?}; the server exited with {status} saying:\n{said}"
            );
        };
        Served {
            child: Some(child),
            addr,
            stdout,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The next line the server prints on stdout (after the listening line: the
    /// control token).
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// Sends SIGTERM, as a terminal's Ctrl-C or a process manager stops it, without
    /// waiting.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", self.id());
    }

    /// Waits for the process to end on its own.
    pub fn wait(mut self) -> ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    /// SIGKILL, and waits for it to be gone: no chance to finish anything.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
