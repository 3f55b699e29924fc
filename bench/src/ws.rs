//! `voicera-bench ws`: N concurrent Vobiz-protocol media streams against the built-in `bench` agent (real
//! engine, instant stand-in models), each a caller at real pace: μ-law 20 ms frames, a 1.2 s utterance every
//! 5 s. Measured from outside: server CPU and RSS per stream (/proc), and per turn the time from the end of
//! the caller's speech to the first `playAudio` of the reply, minus the VAD's stop time (0.4 s, the
//! original's parameter) — the latency the server adds.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::{free_port, http_get, procfs, wait_healthy, Killed};

/// The VAD's stop time: the caller must be quiet this long before the turn ends.
const VAD_STOP: Duration = Duration::from_millis(400);
/// One turn: 1 s silence, 1.2 s speech, then silence (the reply plays) up to 5 s.
const TURN_TICKS: usize = 250;
const SPEECH_START: usize = 50;
const SPEECH_END: usize = 110;

#[derive(Debug, Serialize)]
pub struct WsReport {
    scenario: &'static str,
    concurrent_streams: usize,
    seconds: u64,
    streams_completed: usize,
    turns_measured: usize,
    cpu_percent_of_core_per_stream: f64,
    idle_cpu_percent: f64,
    rss_mb_per_stream: f64,
    loaded_rss_mb: f64,
    /// End of speech → first reply audio, minus the VAD stop time (ms).
    server_added_ms_p50: f64,
    server_added_ms_p90: f64,
    server_added_ms_p99: f64,
    machine: String,
}

pub fn run(voicera: &Path, streams: usize, seconds: u64, work: &Path) -> Result<WsReport> {
    let dir = work.join(format!("ws-{streams}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let sip = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let server = Command::new(voicera)
        .args(["serve", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--sip", &sip.to_string(), "--http", &http.to_string(), "--rtp-ports", "34000-34100"])
        .env("RUST_LOG", "warn")
        .env("VOICERA_DEMO_AGENT", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("server.log"))?)
        .spawn()
        .context("start voicera")?;
    let server = Killed(server);
    let pid = server.0.id();
    wait_healthy(http)?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_start = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(3));
    let idle_end = procfs::sample(pid)?;

    let latencies = Arc::new(Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let url = format!("ws://{http}/agent/bench");
    let ramp = Duration::from_secs_f64(streams as f64 / 100.0 + 1.0);
    let (completed, load) = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..streams {
            let (url, latencies) = (url.clone(), Arc::clone(&latencies));
            tasks.push(tokio::spawn(async move { caller(i, &url, seconds, latencies).await }));
            // 100 new streams per second, like a provider ramping up.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(ramp).await;
        let start = procfs::sample(pid);
        let window =
            Duration::from_secs(seconds).saturating_sub(ramp + Duration::from_secs(2)).max(Duration::from_secs(3));
        tokio::time::sleep(window).await;
        let end = procfs::sample(pid);
        let mut completed = 0;
        for task in tasks {
            if matches!(task.await, Ok(Ok(()))) {
                completed += 1;
            }
        }
        (completed, start.and_then(|s| end.map(|e| (s, e))))
    });
    let (load_start, load_end) = load?;
    let metrics = http_get(http, "/metrics").unwrap_or_default();
    std::fs::write(dir.join("metrics.txt"), &metrics)?;
    if completed == 0 {
        bail!("no stream completed; see {}", dir.display());
    }
    let mut added: Vec<f64> = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    added.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| if added.is_empty() { 0.0 } else { added[((added.len() - 1) as f64 * q).round() as usize] };
    Ok(WsReport {
        scenario: "ws-vobiz-bench-agent",
        concurrent_streams: streams,
        seconds,
        streams_completed: completed,
        turns_measured: added.len(),
        cpu_percent_of_core_per_stream: procfs::cpu_percent(&load_start, &load_end) / streams as f64,
        idle_cpu_percent: procfs::cpu_percent(&idle_start, &idle_end),
        rss_mb_per_stream: (load_end.rss_kb as f64 - idle_end.rss_kb as f64) / 1024.0 / streams as f64,
        loaded_rss_mb: load_end.rss_kb as f64 / 1024.0,
        server_added_ms_p50: pick(0.5),
        server_added_ms_p90: pick(0.9),
        server_added_ms_p99: pick(0.99),
        machine: procfs::machine(),
    })
}

/// μ-law of a 300 Hz tone (speech for an energy VAD; the stand-in STT hears "what time is it").
fn tone_frame(tick: usize) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = (tick * 160 + i) as f32 / 8000.0;
            voicera_media::codec::g711::linear_to_ulaw(((t * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
        })
        .collect()
}

async fn caller(index: usize, url: &str, seconds: u64, latencies: Arc<Mutex<Vec<f64>>>) -> Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let stream_id = format!("bench-{index}");
    let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":format!("call-{index}"),"streamId":stream_id,"accountId":"bench","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
    ws.send(Message::Text(start.to_string().into())).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let silence = b64.encode([0xffu8; 160]);
    let speech: Vec<String> = (0..SPEECH_END - SPEECH_START).map(|t| b64.encode(tone_frame(t))).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let began = Instant::now();
    let mut n = 0usize;
    let mut speech_ended: Option<Instant> = None;
    while began.elapsed() < Duration::from_secs(seconds) {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Some(ended) = speech_ended {
                        if text.as_str().contains("\"playAudio\"") {
                            let added = ended.elapsed().saturating_sub(VAD_STOP).as_secs_f64() * 1000.0;
                            if let Ok(mut l) = latencies.lock() { l.push(added); }
                            speech_ended = None;
                        }
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => bail!("stream {index} closed early"),
            },
            _ = tick.tick() => {
                let phase = n % TURN_TICKS;
                let payload = if (SPEECH_START..SPEECH_END).contains(&phase) { &speech[phase - SPEECH_START] } else { &silence };
                let frame = format!(r#"{{"sequenceNumber":{},"streamId":"{stream_id}","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{n},"payload":"{payload}"}}}}"#, n + 1, n * 20);
                ws.send(Message::Text(frame.into())).await?;
                if phase == SPEECH_END {
                    speech_ended = Some(Instant::now());
                }
                n += 1;
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

pub fn markdown(reports: &[WsReport]) -> String {
    let mut out = String::from(
        "# Provider media streams (Vobiz protocol, bench agent)\n\n| streams | completed | turns | CPU % of a core per stream | RSS MB per stream | server-added p50/p90/p99 ms |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.0} / {:.0} / {:.0} |\n",
            r.concurrent_streams,
            r.streams_completed,
            r.turns_measured,
            r.cpu_percent_of_core_per_stream,
            r.rss_mb_per_stream,
            r.server_added_ms_p50,
            r.server_added_ms_p90,
            r.server_added_ms_p99
        ));
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nMachine: {}. The load generator runs on the same machine. Each stream lasts {} s with a 1.2 s \
             utterance every 5 s; server-added latency = end of speech → first reply audio − 400 ms VAD stop \
             time (measured at the client, so it includes the 20 ms frame grid on both sides).\n",
            r.machine, r.seconds
        ));
    }
    out
}
