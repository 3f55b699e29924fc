//! A SecantusDB server (the MongoDB wire protocol, from PyPI) the bench starts on a loopback port, with its
//! storage in the bench's work directory; killed when dropped. It lets `voicera-bench api --mongodb` measure
//! the MongoDB path on a machine without a MongoDB: the figures are then SecantusDB's, and the report says so.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long the server may take to listen (a Python start-up on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `secantusd-py`.
pub(crate) struct Secantus {
    child: Child,
    /// Where the driver connects.
    pub(crate) uri: String,
    /// The program that runs, for the report.
    pub(crate) program: PathBuf,
}

/// The server program: `explicit`, else the workspace's `.venv/bin/secantusd-py` (scripts/setup.sh), else
/// `secantusd-py` on PATH.
pub(crate) fn program(explicit: Option<&Path>) -> PathBuf {
    if let Some(explicit) = explicit {
        return explicit.to_path_buf();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/secantusd-py");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("secantusd-py")
    }
}

impl Secantus {
    /// Starts `program` with its storage under `storage_dir` and waits until it accepts connections.
    pub(crate) fn start(program: &Path, storage_dir: &Path) -> Result<Secantus> {
        std::fs::create_dir_all(storage_dir)?;
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let storage = storage_dir.join("secantus.db");
        let mut child = Command::new(program)
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .arg("--storage-path")
            .arg(&storage)
            .args(["--log-level", "WARNING"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!("starting {} (scripts/setup.sh installs SecantusDB into .venv)", program.display())
            })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited before listening: {status}", program.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} did not listen on {addr} within {} s", program.display(), START_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Secantus {
            child,
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=10000"),
            program: program.to_path_buf(),
        })
    }
}

impl Drop for Secantus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
