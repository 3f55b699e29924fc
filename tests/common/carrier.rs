//! A campaign's far end: sipp playing tests/sipp/uas_campaign.xml (answers, 486 busy, or rings until cancelled,
//! by the dialled number) on a trunk's registrar port, every message logged. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, repo_path, require_tool, stop};

/// sipp answering a `[[trunks]]` entry's calls.
pub(crate) struct Carrier {
    child: Option<Child>,
    /// sipp's message log (`-trace_msg`).
    pub(crate) log: PathBuf,
}

impl Carrier {
    /// Starts sipp on 127.0.0.1:`port`, working in `dir/carrier`.
    pub(crate) fn start(dir: &Path, port: u16) -> Carrier {
        require_tool("sipp");
        let dir = dir.join("carrier");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("messages.log");
        let child = Command::new("timeout")
            .args(["300", "sipp", "-sf"])
            .arg(repo_path("tests/sipp/uas_campaign.xml"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
            .args(["-nostdin", "-trace_msg", "-message_file"])
            .arg(&log)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        Carrier { child: Some(child), log }
    }

    /// The INVITEs sipp received so far.
    pub(crate) fn invites(&self) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.split("\n-----------------------------------------------")
            .filter(|block| {
                block.contains("message received") && block.lines().any(|l| l.trim().starts_with("INVITE "))
            })
            .count()
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
