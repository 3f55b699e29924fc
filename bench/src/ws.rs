//! `voicera-bench ws`: N concurrent Vobiz-protocol media streams against the built-in `bench` agent (real
//! engine, instant stand-in models), each a caller at real pace: μ-law 20 ms frames, a 1.2 s utterance every
//! 5 s. Measured from outside: server CPU and RSS per stream (/proc), and per turn the time from the end of
//! the caller's speech to the first `playAudio` of the reply, minus the VAD's stop time (0.4 s, the
//! original's parameter) — the latency the server adds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::turns::{percentiles, server_added_ms, CallerScript, TURN_FRAMES};
use crate::{http_get, procfs, start_server};

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
    let server = start_server(voicera, &dir, "34000-34100")?;
    let (pid, http) = (server.pid(), server.http);
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
    let added: Vec<f64> = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let turns_measured = added.len();
    let (p50, p90, p99) = percentiles(added);
    Ok(WsReport {
        scenario: "ws-vobiz-bench-agent",
        concurrent_streams: streams,
        seconds,
        streams_completed: completed,
        turns_measured,
        cpu_percent_of_core_per_stream: procfs::cpu_percent(&load_start, &load_end) / streams as f64,
        idle_cpu_percent: procfs::cpu_percent(&idle_start, &idle_end),
        rss_mb_per_stream: (load_end.rss_kb as f64 - idle_end.rss_kb as f64) / 1024.0 / streams as f64,
        loaded_rss_mb: load_end.rss_kb as f64 / 1024.0,
        server_added_ms_p50: p50,
        server_added_ms_p90: p90,
        server_added_ms_p99: p99,
        machine: procfs::machine(),
    })
}

async fn caller(index: usize, url: &str, seconds: u64, latencies: Arc<Mutex<Vec<f64>>>) -> Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let stream_id = format!("bench-{index}");
    let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":format!("call-{index}"),"streamId":stream_id,"accountId":"bench","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
    ws.send(Message::Text(start.to_string().into())).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let script = CallerScript::default();
    let payloads: Vec<String> = (0..TURN_FRAMES).map(|n| b64.encode(script.frame(n))).collect();
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
                            if let Ok(mut l) = latencies.lock() { l.push(server_added_ms(ended)); }
                            speech_ended = None;
                        }
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => bail!("stream {index} closed early"),
            },
            _ = tick.tick() => {
                let payload = &payloads[n % TURN_FRAMES];
                let frame = format!(r#"{{"sequenceNumber":{},"streamId":"{stream_id}","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{n},"payload":"{payload}"}}}}"#, n + 1, n * 20);
                ws.send(Message::Text(frame.into())).await?;
                if CallerScript::ends_speech(n) {
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
            "| {} | {} | {} | {:.3} | {:.3} | {:.1} / {:.1} / {:.1} |\n",
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
             utterance every 5 s and line hiss (about −60 dBFS) between; server-added latency = end of speech \
             (the last speech frame sent) → first \
             `playAudio` of the reply − 400 ms VAD stop time, measured at the client. The server hears each \
             frame as it arrives and sends the reply's first frames in the same step, so what remains is \
             parsing, the engine and the socket, plus waiting for CPU when both share the machine.\n",
            r.machine, r.seconds
        ));
    }
    out
}
