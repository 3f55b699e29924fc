//! A campaign's far end: sipp playing tests/sipp/uas_campaign.xml (answers, 486 busy, or rings until cancelled,
//! by the dialled number) on a trunk's registrar port, every message logged. Stopped on drop.

use std::collections::{BTreeMap, HashSet};
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

    /// The calls sipp saw, in the order its log has them: (dialled user, final status it sent or 200) and the
    /// most calls up at once. A call is up from its INVITE's arrival to its final failure response, or, when
    /// answered, to the BYE's 200 (or a BYE from us).
    pub(crate) fn calls(&self) -> (Vec<(String, u16)>, usize) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut up: HashSet<String> = HashSet::new();
        let mut calls: BTreeMap<String, (usize, String, u16)> = BTreeMap::new();
        let mut most = 0;
        for block in text.split("\n-----------------------------------------------") {
            let received = block.contains("message received");
            let sent = block.contains("message sent");
            let Some(start) = block.lines().map(str::trim).find(|l| l.contains("SIP/2.0") && !l.starts_with("Via"))
            else {
                continue;
            };
            let header = |name: &str| {
                block
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
                    .map(|l| l.split_once(':').map(|x| x.1).unwrap_or_default().trim().to_string())
                    .unwrap_or_default()
            };
            let call_id = header("Call-ID");
            let cseq = header("CSeq");
            if received && start.starts_with("INVITE ") {
                if !calls.contains_key(&call_id) {
                    let user =
                        start.split(['@', ' ']).nth(1).unwrap_or_default().trim_start_matches("sip:").to_string();
                    calls.insert(call_id.clone(), (calls.len(), user, 0));
                    up.insert(call_id.clone());
                }
            } else if let Some(status) = start.strip_prefix("SIP/2.0 ").and_then(|s| s.get(..3)?.parse::<u16>().ok()) {
                if sent && cseq.ends_with("INVITE") && status >= 200 {
                    if let Some(call) = calls.get_mut(&call_id) {
                        call.2 = status;
                    }
                    if status >= 300 {
                        up.remove(&call_id);
                    }
                }
                if received && cseq.ends_with("BYE") {
                    up.remove(&call_id);
                }
            } else if received && start.starts_with("BYE ") {
                up.remove(&call_id);
            }
            most = most.max(up.len());
        }
        let mut ordered: Vec<(usize, String, u16)> = calls.into_values().collect();
        ordered.sort();
        (ordered.into_iter().map(|(_, user, status)| (user, status)).collect(), most)
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
