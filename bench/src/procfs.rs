//! CPU time and resident memory of a process, from /proc.

use std::time::Instant;

use anyhow::{Context, Result};

/// One reading.
pub(crate) struct Sample {
    at: Instant,
    /// utime + stime, clock ticks.
    cpu_ticks: u64,
    pub(crate) rss_kb: u64,
}

pub(crate) fn sample(pid: u32) -> Result<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("read /proc/PID/stat")?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Ok(Sample { at: Instant::now(), cpu_ticks: utime + stime, rss_kb })
}

/// CPU use between two samples, in % of one core.
pub(crate) fn cpu_percent(start: &Sample, end: &Sample) -> f64 {
    // USER_HZ is 100 on every Linux configuration we run on.
    let cpu_seconds = (end.cpu_ticks - start.cpu_ticks) as f64 / 100.0;
    let wall = (end.at - start.at).as_secs_f64();
    100.0 * cpu_seconds / wall.max(1e-9)
}

/// CPU model and core count, for the report.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{} × {cores}", model.unwrap_or_else(|| "unknown CPU".into()))
}
