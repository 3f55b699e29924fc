//! The floor for media CPU per call: `bench/c/udp_echo.c` (epoll, one recvfrom + one sendto per packet)
//! loaded with the packet rate of N echo calls, 50 packets/s of a 160-byte PCMU payload each way per flow.
//! Its CPU per flow is what the SIP echo bench is compared against (`bench/results/c-baseline.md`).
//!
//! The load comes from one sender thread (flows staggered over the 20 ms, like independent calls) and one
//! receiver thread that counts what comes back; the echo process's CPU is read from /proc while all flows run.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::{procfs, Killed};

/// An RTP header and a 20 ms PCMU payload.
const PACKET_BYTES: usize = 172;
const FRAME: Duration = Duration::from_millis(20);
/// First port of the echo's flows (even ports, like an RTP range).
const BASE_PORT: u16 = 36000;

#[derive(Debug, Serialize)]
pub(crate) struct BaselineReport {
    scenario: &'static str,
    flows: usize,
    seconds: u64,
    /// The C echo's CPU while all flows ran, in % of one core per flow.
    cpu_percent_of_core_per_flow: f64,
    packets_sent: u64,
    packets_echoed: u64,
    loss_percent: f64,
    machine: String,
}

/// Compiles the C echo into `work` with the system's `cc -O2`.
pub(crate) fn build(work: &Path) -> Result<std::path::PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/udp_echo.c");
    let binary = work.join("udp_echo");
    let status = Command::new("cc").args(["-O2", "-o"]).arg(&binary).arg(&source).status().context("run cc")?;
    if !status.success() {
        bail!("cc failed to build {}", source.display());
    }
    Ok(binary)
}

pub(crate) fn run(echo: &Path, flows: usize, seconds: u64) -> Result<BaselineReport> {
    let mut child = Command::new(echo)
        .args([BASE_PORT.to_string(), flows.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("start udp_echo")?;
    let mut ready = String::new();
    BufReader::new(child.stdout.take().context("udp_echo stdout")?).read_line(&mut ready)?;
    if ready.trim() != "ready" {
        bail!("udp_echo did not start (ports {BASE_PORT}+ in use?)");
    }
    let echo_process = Killed(child);
    let pid = echo_process.0.id();

    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let receiver = socket.try_clone()?;
    let stop = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let counter = {
        let (stop, echoed) = (Arc::clone(&stop), Arc::clone(&echoed));
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if receiver.recv(&mut buf).is_ok() {
                    echoed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let targets: Vec<SocketAddr> =
        (0..flows).map(|i| SocketAddr::from(([127, 0, 0, 1], BASE_PORT + 2 * i as u16))).collect();
    let sender = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || send_flows(&socket, &targets, &stop))
    };

    // Steady state: skip the first 2 s, measure until 1 s before the end.
    std::thread::sleep(Duration::from_secs(2));
    let start = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(seconds.saturating_sub(3).max(3)));
    let end = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().map_err(|_| anyhow::anyhow!("sender thread panicked"))?;
    std::thread::sleep(Duration::from_millis(300));
    let _ = counter.join();
    let echoed = echoed.load(Ordering::Relaxed);
    drop(echo_process);
    Ok(BaselineReport {
        scenario: "c-udp-echo",
        flows,
        seconds,
        cpu_percent_of_core_per_flow: procfs::cpu_percent(&start, &end) / flows as f64,
        packets_sent: sent,
        packets_echoed: echoed,
        loss_percent: if sent > 0 { 100.0 * sent.saturating_sub(echoed) as f64 / sent as f64 } else { 0.0 },
        machine: procfs::machine(),
    })
}

/// Sends one packet per flow every 20 ms, flow i offset by i/N of the frame; returns the packets sent.
fn send_flows(socket: &UdpSocket, targets: &[SocketAddr], stop: &AtomicBool) -> u64 {
    let mut packet = [0xffu8; PACKET_BYTES];
    packet[0] = 0x80;
    let started = Instant::now();
    let step = FRAME / targets.len().max(1) as u32;
    let mut sent = 0u64;
    let mut slot = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let flow = (slot % targets.len() as u64) as usize;
        let due = started + step * slot as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        packet[2..4].copy_from_slice(&((slot / targets.len() as u64) as u16).to_be_bytes());
        if socket.send_to(&packet, targets[flow]).is_ok() {
            sent += 1;
        }
        slot += 1;
    }
    sent
}

pub(crate) fn markdown(reports: &[BaselineReport]) -> String {
    let mut out = String::from(
        "# Floor: bare C epoll UDP echo (bench/c/udp_echo.c)\n\nOne recvfrom + one sendto per packet; each flow \
         carries an echo call's packet rate (50 packets/s of 172 bytes each way).\n\n| flows | CPU % of a core per \
         flow | packets sent | echoed | loss % |\n|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {:.4} | {} | {} | {:.3} |\n",
            r.flows, r.cpu_percent_of_core_per_flow, r.packets_sent, r.packets_echoed, r.loss_percent
        ));
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nMachine: {}. {} s per run; the echo's CPU is sampled from /proc after a 2 s warm-up.\n",
            r.machine, r.seconds
        ));
    }
    out
}
