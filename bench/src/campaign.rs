//! `voicera-bench campaign`: an outbound campaign of N contacts through a `[[trunks]]` entry played by sipp (a
//! carrier that answers every call at once, says a short reply and hangs up), for each live-call limit given.
//!
//! The server (`voicera serve`, echo agent, SQLite) is driven over its API like an operator would: upload the
//! list, set the campaign (`max_live_calls`, `calls_per_second`), run, poll until completed. Everything else
//! is measured from outside: the carrier's message log (sipp `-trace_msg`, its clock in UTC) gives the calls
//! up at once, sampled every 100 ms (never above the limit, and how close to it), calls per second, call
//! set-up INVITE → 200 OK and 200 OK → ACK at the carrier; the contacts' attempt records give claim → INVITE
//! (the dialer's own delay before a call leaves); /proc gives the server's CPU while the campaign runs.
//!
//! Run (release, on a quiet machine):
//! `cargo build --release && cargo run --release -p voicera-bench -- campaign --contacts 1000 --limits 50,100`
//! writes `bench/results/campaign-<limit>.json` per limit and `bench/results/campaign.md`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{free_port, pcap, procfs, start_server_with, Killed};

const OWNER_EMAIL: &str = "bench@example.com";
const OWNER_PASSWORD: &str = "bench-pass-1234";
/// How often the calls up at the carrier are sampled from its log.
const SAMPLE_MS: i64 = 100;

/// What one run does.
pub(crate) struct Settings {
    /// Contacts in the list.
    pub(crate) contacts: usize,
    /// The campaign's `calls_per_second`.
    pub(crate) calls_per_second: u32,
    /// How long the carrier keeps each answered call before its BYE.
    pub(crate) hold_ms: u64,
    /// How the server binary was built, written into the report.
    pub(crate) build: String,
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub(crate) struct CampaignReport {
    scenario: &'static str,
    build: String,
    contacts: usize,
    max_live_calls: u32,
    calls_per_second_limit: u32,
    call_hold_ms: u64,
    /// Calls the carrier saw, and of those answered (200).
    calls_at_carrier: usize,
    calls_answered: usize,
    /// The batch's contacts by disposition.
    dispositions: Value,
    /// `run` accepted → batch completed.
    campaign_seconds: f64,
    /// Calls per second over the campaign: contacts / campaign_seconds.
    calls_per_second: f64,
    /// New calls in the busiest one-second span at the carrier.
    peak_new_calls_per_second: usize,
    /// Calls up at once at the carrier (INVITE arrived → its BYE or failure), sampled every 100 ms.
    concurrency_max: usize,
    /// Mean of the samples while contacts were still being dialled (first INVITE → last INVITE).
    concurrency_mean: f64,
    /// Share of those samples at the limit.
    concurrency_at_limit_percent: f64,
    /// INVITE arrived → 200 OK sent, at the carrier.
    setup_ms_p50: f64,
    setup_ms_p90: f64,
    setup_ms_p99: f64,
    /// 200 OK sent → the dialer's ACK arrived, at the carrier.
    ack_ms_p50: f64,
    ack_ms_p90: f64,
    ack_ms_p99: f64,
    /// The contact's claim in the store → its INVITE at the carrier.
    dial_ms_p50: f64,
    dial_ms_p90: f64,
    dial_ms_p99: f64,
    /// The server's CPU while the campaign ran, % of one core; and its CPU time per call.
    server_cpu_percent_of_core: f64,
    server_cpu_ms_per_call: f64,
    idle_cpu_percent: f64,
    loaded_rss_mb: f64,
    machine: String,
}

/// Runs the campaign with live-call limit `limit` in `work/campaign-<limit>`.
pub(crate) fn run(voicera: &Path, limit: u32, settings: &Settings, work: &Path) -> Result<CampaignReport> {
    let dir = work.join(format!("campaign-{limit}"));
    let trunk_port = free_port()?;
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"bench\"\npassword = \"bench\"\n"
    );
    let env = [
        ("RUST_LOG", "warn"),
        ("VOICERA_DEMO_AGENT", "0"),
        ("VOICERA_ADMIN_EMAIL", OWNER_EMAIL),
        ("VOICERA_ADMIN_PASSWORD", OWNER_PASSWORD),
    ];
    let server = start_server_with(voicera, &dir, "30000-34000", &config, &env)?;
    let pid = server.pid();

    // The carrier: sipp answering on the trunk's port, its log on UTC so it compares with the store's times.
    let reply = work.join("reply-pcmu.pcap");
    pcap::speech_pcap(&reply, (settings.hold_ms as f64 / 1000.0).max(0.5))?;
    let scenario = dir.join("carrier.xml");
    let action = format!("<exec play_pcap_audio=\"{}\"/>", reply.canonicalize()?.display());
    std::fs::write(
        &scenario,
        include_str!("../scenarios/campaign_uas.xml")
            .replace("@MEDIA_ACTION@", &action)
            .replace("@HOLD_MS@", &settings.hold_ms.to_string()),
    )?;
    let log = dir.join("carrier-messages.log");
    let carrier = Command::new("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args(["-i", "127.0.0.1", "-p", &trunk_port.to_string(), "-mp", &free_port()?.to_string()])
        .args(["-nostdin", "-trace_msg", "-message_file"])
        .arg(&log)
        .env("TZ", "UTC")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start sipp (the carrier)")?;
    let carrier = Killed(carrier);
    std::thread::sleep(Duration::from_millis(500));

    let http = server.http;
    let token = login(http)?;
    let mut csv = String::from("contact_number,name\n");
    for i in 0..settings.contacts {
        csv.push_str(&format!("+1555{i:07},Caller {i}\n"));
    }
    let upload = "/api/v1/batches/upload?batch_name=bench&agent_type=echo&default_country=US";
    let (status, uploaded) = send(http, "POST", upload, &token, "text/csv", csv.as_bytes())?;
    if status != 201 {
        bail!("upload: HTTP {status}: {uploaded}");
    }
    let batch = uploaded["batch_id"].as_str().context("upload: no batch_id")?.to_string();
    let campaign = json!({"max_live_calls": limit, "calls_per_second": settings.calls_per_second, "trunk": "carrier",
                          "ring_timeout_seconds": 30});
    let (status, answer) = send_json(http, "PUT", &format!("/api/v1/campaigns/{batch}"), &token, campaign)?;
    if status != 200 {
        bail!("campaign settings: HTTP {status}: {answer}");
    }

    let idle_start = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_end = procfs::sample(pid)?;
    let started = Instant::now();
    let load_start = procfs::sample(pid)?;
    let (status, answer) = send_json(http, "POST", &format!("/api/v1/batches/{batch}/run"), &token, json!({}))?;
    if status != 200 {
        bail!("run: HTTP {status}: {answer}");
    }
    // Generous: every call three times its hold, one limit's worth at a time, plus two minutes.
    let patience = Duration::from_millis(settings.contacts as u64 * settings.hold_ms * 3 / u64::from(limit.max(1)))
        + Duration::from_secs(120);
    let view = loop {
        let (status, view) = send_json(http, "GET", &format!("/api/v1/batches/{batch}"), &token, Value::Null)?;
        if status == 200 && view["execution_status"] == "completed" {
            break view;
        }
        if started.elapsed() > patience {
            bail!("the campaign did not complete in {patience:?}: {view}; see {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let campaign_seconds = started.elapsed().as_secs_f64();
    let load_end = procfs::sample(pid)?;
    // The carrier's last BYEs are answered by now; let its log reach the disk.
    std::thread::sleep(Duration::from_millis(500));
    drop(carrier);

    let claims = claim_times(http, &token, &batch, settings.contacts)?;
    let calls = carrier_calls(&std::fs::read_to_string(&log).context("the carrier's log")?);
    let answered = calls.iter().filter(|c| c.ok_at.is_some()).count();
    let setup = percentiles(calls.iter().filter_map(|c| Some((c.ok_at? - c.invited_at) as f64 / 1000.0)).collect());
    let ack = percentiles(calls.iter().filter_map(|c| Some((c.ack_at? - c.ok_at?) as f64 / 1000.0)).collect());
    let dial = percentiles(
        calls
            .iter()
            .filter_map(|c| claims.get(&c.number).map(|claimed_ms| (c.invited_at as f64 / 1000.0) - *claimed_ms as f64))
            .collect(),
    );
    let (concurrency_max, concurrency_mean, at_limit) = concurrency(&calls, limit as usize);
    let cpu_seconds = procfs::cpu_percent(&load_start, &load_end) / 100.0 * campaign_seconds;
    Ok(CampaignReport {
        scenario: "campaign",
        build: settings.build.clone(),
        contacts: settings.contacts,
        max_live_calls: limit,
        calls_per_second_limit: settings.calls_per_second,
        call_hold_ms: settings.hold_ms,
        calls_at_carrier: calls.len(),
        calls_answered: answered,
        dispositions: view["progress"]["by_outcome"].clone(),
        campaign_seconds,
        calls_per_second: settings.contacts as f64 / campaign_seconds,
        peak_new_calls_per_second: peak_rate(&calls),
        concurrency_max,
        concurrency_mean,
        concurrency_at_limit_percent: at_limit,
        setup_ms_p50: setup.0,
        setup_ms_p90: setup.1,
        setup_ms_p99: setup.2,
        ack_ms_p50: ack.0,
        ack_ms_p90: ack.1,
        ack_ms_p99: ack.2,
        dial_ms_p50: dial.0,
        dial_ms_p90: dial.1,
        dial_ms_p99: dial.2,
        server_cpu_percent_of_core: procfs::cpu_percent(&load_start, &load_end),
        server_cpu_ms_per_call: cpu_seconds * 1000.0 / settings.contacts.max(1) as f64,
        idle_cpu_percent: procfs::cpu_percent(&idle_start, &idle_end),
        loaded_rss_mb: load_end.rss_kb as f64 / 1024.0,
        machine: procfs::machine(),
    })
}

/// One call at the carrier; times in microseconds since 1970 (UTC).
#[derive(Debug)]
struct CarrierCall {
    number: String,
    invited_at: i64,
    ok_at: Option<i64>,
    ack_at: Option<i64>,
    /// Its failure response or BYE; else its last message.
    ended_at: i64,
}

/// The calls in a sipp `-trace_msg` log, by Call-ID, in INVITE order.
fn carrier_calls(text: &str) -> Vec<CarrierCall> {
    let mut calls: Vec<CarrierCall> = Vec::new();
    let mut by_id: HashMap<String, (usize, bool)> = HashMap::new();
    for block in text.split("-----------------------------------------------").skip(1) {
        let Some(at) = block.lines().next().and_then(|l| log_time_us(l.trim())) else {
            continue;
        };
        let received = block.contains("message received");
        let Some(start) = block.lines().map(str::trim).find(|l| l.contains("SIP/2.0") && !l.starts_with("Via")) else {
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
        let Some(&(index, over)) = by_id.get(&call_id) else {
            if received && start.starts_with("INVITE ") {
                let number = start.split(['@', ' ']).nth(1).unwrap_or_default().trim_start_matches("sip:").to_string();
                by_id.insert(call_id, (calls.len(), false));
                calls.push(CarrierCall { number, invited_at: at, ok_at: None, ack_at: None, ended_at: at });
            }
            continue;
        };
        if over {
            continue;
        }
        let call = &mut calls[index];
        call.ended_at = at;
        let status = start.strip_prefix("SIP/2.0 ").and_then(|s| s.get(..3)?.parse::<u16>().ok());
        let ends = match status {
            Some(200) if header("CSeq").ends_with("INVITE") => {
                call.ok_at.get_or_insert(at);
                false
            }
            Some(status) => status >= 300 && header("CSeq").ends_with("INVITE"),
            None if received && start.starts_with("ACK ") => {
                call.ack_at.get_or_insert(at);
                false
            }
            None => start.starts_with("BYE "),
        };
        if ends {
            by_id.insert(call_id, (index, true));
        }
    }
    calls
}

/// A sipp message-log time (`2026-12-06 03:31:36.513709`, UTC with `TZ=UTC`) in microseconds since 1970.
fn log_time_us(line: &str) -> Option<i64> {
    let (date, time) = line.split_once(' ')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let (hms, micros) = time.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, sec) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60 + sec) * 1_000_000 + micros.trim().parse::<i64>().ok()?)
}

/// Calls up at once, sampled every [`SAMPLE_MS`] from the first INVITE to the last call's end: the most, and
/// the mean and share at `limit` of the samples while contacts were still being dialled (to the last INVITE).
fn concurrency(calls: &[CarrierCall], limit: usize) -> (usize, f64, f64) {
    let (Some(first), Some(last_invite), Some(last_end)) = (
        calls.iter().map(|c| c.invited_at).min(),
        calls.iter().map(|c| c.invited_at).max(),
        calls.iter().map(|c| c.ended_at).max(),
    ) else {
        return (0, 0.0, 0.0);
    };
    let (mut most, mut sum, mut at_limit, mut samples) = (0, 0usize, 0usize, 0usize);
    let mut t = first;
    while t <= last_end {
        let up = calls.iter().filter(|c| c.invited_at <= t && t < c.ended_at).count();
        most = most.max(up);
        if t <= last_invite {
            sum += up;
            samples += 1;
            at_limit += usize::from(up >= limit);
        }
        t += SAMPLE_MS * 1000;
    }
    let samples = samples.max(1) as f64;
    (most, sum as f64 / samples, 100.0 * at_limit as f64 / samples)
}

/// The most INVITEs in any one-second span.
fn peak_rate(calls: &[CarrierCall]) -> usize {
    let mut times: Vec<i64> = calls.iter().map(|c| c.invited_at).collect();
    times.sort_unstable();
    let mut peak = 0;
    let mut from = 0;
    for (to, t) in times.iter().enumerate() {
        while times[from] <= t - 1_000_000 {
            from += 1;
        }
        peak = peak.max(to + 1 - from);
    }
    peak
}

/// p50, p90, p99 (0 when empty).
fn percentiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (pick(0.5), pick(0.9), pick(0.99))
}

/// Each contact's number → when its first attempt was claimed (Unix ms), from the contacts' records.
fn claim_times(http: SocketAddr, token: &str, batch: &str, contacts: usize) -> Result<HashMap<String, i64>> {
    let mut claims = HashMap::new();
    for page in 1..=contacts.div_ceil(1000).max(1) {
        let path = format!("/api/v1/batches/{batch}/contacts?limit=1000&page={page}");
        let (status, answer) = send_json(http, "GET", &path, token, Value::Null)?;
        if status != 200 {
            bail!("contacts: HTTP {status}: {answer}");
        }
        for contact in answer["items"].as_array().into_iter().flatten() {
            let number = contact["contact_number"].as_str().unwrap_or_default().to_string();
            if let Some(started) = contact["history"][0]["started_at"].as_i64() {
                claims.insert(number, started);
            }
        }
    }
    Ok(claims)
}

fn login(http: SocketAddr) -> Result<String> {
    let body = json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD});
    let (status, session) = send_json(http, "POST", "/api/v1/users/login", "", body)?;
    match session["access_token"].as_str() {
        Some(token) if status == 200 => Ok(token.to_string()),
        _ => bail!("login: HTTP {status}: {session}"),
    }
}

fn send_json(http: SocketAddr, method: &str, path: &str, token: &str, body: Value) -> Result<(u16, Value)> {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    send(http, method, path, token, "application/json", body.as_bytes())
}

/// One HTTP/1.1 request (`Connection: close`); the status and the body as JSON (Null when it is not).
fn send(
    http: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&http, Duration::from_secs(2)).context("connect to the server")?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let auth = if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    let status = String::from_utf8_lossy(&response[..split]).split_whitespace().nth(1).and_then(|s| s.parse().ok());
    Ok((status.unwrap_or(0), serde_json::from_slice(&response[split..]).unwrap_or(Value::Null)))
}

/// The series as Markdown.
pub(crate) fn markdown(reports: &[CampaignReport]) -> String {
    let mut out = String::from(
        "# Outbound campaign (sipp carrier: answers at once, a short reply, hangs up)\n\n\
         | live-call limit | contacts | answered | calls/s | concurrency at the carrier: max / mean / % of samples at the limit | set-up INVITE→200 p50/p90/p99 ms | 200→ACK p50/p90/p99 ms | claim→INVITE p50/p90/p99 ms | server CPU % of a core | CPU ms per call |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} / {:.1} / {:.0} % | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} | {:.2} |\n",
            r.max_live_calls,
            r.contacts,
            r.calls_answered,
            r.calls_per_second,
            r.concurrency_max,
            r.concurrency_mean,
            r.concurrency_at_limit_percent,
            r.setup_ms_p50,
            r.setup_ms_p90,
            r.setup_ms_p99,
            r.ack_ms_p50,
            r.ack_ms_p90,
            r.ack_ms_p99,
            r.dial_ms_p50,
            r.dial_ms_p90,
            r.dial_ms_p99,
            r.server_cpu_percent_of_core,
            r.server_cpu_ms_per_call,
        ));
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nMachine: {}; build: {}. Each call is held {} ms by the carrier after its answer; `calls_per_second` \
             {}. Concurrency is counted at the carrier (INVITE arrived → its BYE), sampled every {SAMPLE_MS} ms; \
             the mean and the share at the limit cover the dialling (first to last INVITE), not the tail. CPU is \
             the server process's (/proc) from `run` to completed.\n\n\
             Reproduce: `cargo build --release && cargo run --release -p voicera-bench -- campaign --contacts {} \
             --limits {} --hold-ms {} --calls-per-second {}`\n",
            r.machine,
            r.build,
            r.call_hold_ms,
            r.calls_per_second_limit,
            r.contacts,
            reports.iter().map(|r| r.max_live_calls.to_string()).collect::<Vec<_>>().join(","),
            r.call_hold_ms,
            r.calls_per_second_limit,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carriers_log_gives_each_calls_times() {
        let log = "----------------------------------------------- 2026-12-06 03:31:36.500000\n\
UDP message received [526] bytes :\n\nINVITE sip:+15550000001@127.0.0.1:5060 SIP/2.0\nCall-ID: a\nCSeq: 1 INVITE\n\n\
----------------------------------------------- 2026-12-06 03:31:36.502000\n\
UDP message sent (456 bytes):\n\nSIP/2.0 200 OK\nCall-ID: a\nCSeq: 1 INVITE\n\n\
----------------------------------------------- 2026-12-06 03:31:36.510000\n\
UDP message received [300] bytes :\n\nACK sip:callee@127.0.0.1:5060 SIP/2.0\nCall-ID: a\nCSeq: 1 ACK\n\n\
----------------------------------------------- 2026-12-06 03:31:36.600000\n\
UDP message received [526] bytes :\n\nINVITE sip:+15550000002@127.0.0.1:5060 SIP/2.0\nCall-ID: b\nCSeq: 1 INVITE\n\n\
----------------------------------------------- 2026-12-06 03:31:39.510000\n\
UDP message sent (300 bytes):\n\nBYE sip:x@127.0.0.1 SIP/2.0\nCall-ID: a\nCSeq: 1 BYE\n\n\
----------------------------------------------- 2026-12-06 03:31:39.512000\n\
UDP message received (300 bytes):\n\nSIP/2.0 200 OK\nCall-ID: a\nCSeq: 1 BYE\n\n";
        let calls = carrier_calls(log);
        assert_eq!(calls.len(), 2);
        let a = &calls[0];
        assert_eq!(a.number, "+15550000001");
        assert_eq!(a.invited_at, 1_796_527_896_500_000, "2026-12-06T03:31:36.5Z");
        assert_eq!(
            (a.ok_at.map(|t| t - a.invited_at), a.ack_at.map(|t| t - a.invited_at)),
            (Some(2_000), Some(10_000))
        );
        assert_eq!(a.ended_at - a.invited_at, 3_010_000, "ends at the BYE, not its answer");
        assert_eq!((calls[1].ok_at, calls[1].ended_at), (None, calls[1].invited_at));
        assert_eq!(peak_rate(&calls), 2);
        let (most, _, _) = concurrency(&calls, 2);
        assert_eq!(most, 1, "call b never got past its INVITE");
        assert_eq!(percentiles(vec![3.0, 1.0, 2.0]), (2.0, 3.0, 3.0));
    }
}
