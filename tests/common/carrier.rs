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
        Carrier::start_with(dir, port, &[])
    }

    /// [`Carrier::start`] with more sipp options (`-max_invite_retrans 2`: an answer nobody acknowledges is
    /// given up, with a BYE, after ~3.5 s instead of ~11.5 s).
    pub(crate) fn start_with(dir: &Path, port: u16, options: &[&str]) -> Carrier {
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
            .args(options)
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

/// One call as the carrier saw it, with its times on the carrier's clock (microseconds, for comparing
/// with each other only).
#[derive(Debug, Clone)]
pub(crate) struct CarrierCall {
    /// The dialled user (the Request-URI's).
    pub(crate) number: String,
    pub(crate) call_id: String,
    /// When its INVITE arrived.
    pub(crate) invited_at_us: i64,
    /// When it ended for the carrier: its failure response or the first BYE either way (the callee hung up,
    /// whether or not the caller is still there to answer); else the last message of the call.
    pub(crate) ended_at_us: i64,
    /// The final status the carrier sent (0: none).
    pub(crate) status: u16,
    /// Whether the caller acknowledged the carrier's answer (ACK): a caller killed between the 200 OK and its
    /// ACK leaves the carrier retransmitting the answer until its Timer H (32 s) gives up.
    pub(crate) acknowledged: bool,
}

impl Carrier {
    /// Every call sipp saw, in INVITE order, with when it started and ended at the carrier.
    pub(crate) fn timed_calls(&self) -> Vec<CarrierCall> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut calls: Vec<CarrierCall> = Vec::new();
        let mut over: HashSet<String> = HashSet::new();
        for block in text.split("-----------------------------------------------").skip(1) {
            let Some(at) = block.lines().next().and_then(|l| log_time_us(l.trim())) else {
                continue;
            };
            let received = block.contains("message received");
            let Some(start) = block.lines().map(str::trim).find(|l| l.contains("SIP/2.0") && !l.starts_with("Via"))
            else {
                continue;
            };
            let header = |name: &str| {
                let prefix = format!("{}:", name.to_ascii_lowercase());
                block
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default()
            };
            let call_id = header("Call-ID");
            let known = calls.iter().position(|c| c.call_id == call_id);
            let Some(index) = known else {
                if received && start.starts_with("INVITE ") {
                    let number =
                        start.split(['@', ' ']).nth(1).unwrap_or_default().trim_start_matches("sip:").to_string();
                    calls.push(CarrierCall {
                        number,
                        call_id,
                        invited_at_us: at,
                        ended_at_us: at,
                        status: 0,
                        acknowledged: false,
                    });
                }
                continue;
            };
            let call = &mut calls[index];
            if over.contains(&call.call_id) {
                continue;
            }
            call.ended_at_us = at;
            call.acknowledged |= received && start.starts_with("ACK ");
            let status = start.strip_prefix("SIP/2.0 ").and_then(|s| s.get(..3)?.parse::<u16>().ok());
            let ends = match status {
                Some(status) if header("CSeq").ends_with("INVITE") && status >= 200 => {
                    call.status = status;
                    status >= 300
                }
                _ => start.starts_with("BYE "),
            };
            if ends {
                over.insert(call.call_id.clone());
            }
        }
        calls
    }
}

/// The time of a sipp message-log block (`2026-12-06 03:31:36.513709`) in microseconds since 1970 (its clock's
/// zone: only differences are meaningful).
fn log_time_us(line: &str) -> Option<i64> {
    let (date, time) = line.split_once(' ')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let (hms, micros) = time.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, sec) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + sec) * 1_000_000) + micros.trim().parse::<i64>().ok()?)
}

impl Drop for Carrier {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
