//! The caller every agent scenario plays, whatever the transport: 20 ms μ-law frames at real pace, a 1.2 s
//! utterance every 5 s, and the measure of what the server adds to a turn.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::procfs;

/// The VAD's stop time: the caller must be quiet this long before the turn ends (the original's 0.4 s).
pub(crate) const VAD_STOP: Duration = Duration::from_millis(400);
/// One turn: 1 s silence, 1.2 s speech, then silence (the reply plays) up to 5 s, in 20 ms frames.
pub(crate) const TURN_FRAMES: usize = 250;
pub(crate) const SPEECH_START: usize = 50;
pub(crate) const SPEECH_END: usize = 110;

/// What the caller sends as frame `n` of the call: speech, or the low hiss of a real line between
/// utterances (not digital silence, which servers can skip cheaply and real trunks rarely send).
pub(crate) struct CallerScript {
    speech: Vec<Vec<u8>>,
    hiss: Vec<Vec<u8>>,
}

/// Distinct frames of line hiss, cycled.
pub(crate) const HISS_FRAMES: usize = 50;

impl Default for CallerScript {
    fn default() -> Self {
        Self { speech: (0..SPEECH_END - SPEECH_START).map(tone_frame).collect(), hiss: hiss_frames() }
    }
}

impl CallerScript {
    pub(crate) fn frame(&self, n: usize) -> &[u8] {
        let phase = n % TURN_FRAMES;
        if (SPEECH_START..SPEECH_END).contains(&phase) {
            &self.speech[phase - SPEECH_START]
        } else {
            &self.hiss[n % HISS_FRAMES]
        }
    }

    /// Whether frame `n` is the last of an utterance: once it is sent, the caller's speech has ended (a
    /// provider or phone sends each frame once it has been captured).
    pub(crate) fn ends_speech(n: usize) -> bool {
        n % TURN_FRAMES == SPEECH_END - 1
    }
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

/// μ-law frames of white noise at about −60 dBFS.
pub(crate) fn hiss_frames() -> Vec<Vec<u8>> {
    let mut seed = 0x2545_f491_u32;
    (0..HISS_FRAMES)
        .map(|_| {
            (0..160)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let sample = (seed % 61) as i16 - 30;
                    voicera_media::codec::g711::linear_to_ulaw(sample)
                })
                .collect()
        })
        .collect()
}

/// Times a caller's turns: from the end of its speech to the first reply audio.
#[derive(Debug, Default)]
pub(crate) struct TurnTimer {
    speech_ended: Option<std::time::Instant>,
}

impl TurnTimer {
    /// Frame `n` of the script has just been sent.
    pub(crate) fn frame_sent(&mut self, n: usize) {
        if CallerScript::ends_speech(n) {
            self.speech_ended = Some(std::time::Instant::now());
        }
    }

    /// Reply audio arrived: the first since the caller stopped speaking ends the turn, and its server-added
    /// latency (less the VAD's stop time, in ms) goes into `latencies`.
    pub(crate) fn reply_heard(&mut self, latencies: &Mutex<Vec<f64>>) {
        if let Some(ended) = self.speech_ended.take() {
            let added = ended.elapsed().saturating_sub(VAD_STOP).as_secs_f64() * 1000.0;
            if let Ok(mut l) = latencies.lock() {
                l.push(added);
            }
        }
    }

    /// Whether the caller has stopped speaking and waits for the reply.
    pub(crate) fn waiting(&self) -> bool {
        self.speech_ended.is_some()
    }
}

/// p50/p90/p99 of a sample (sorted here); zeros when empty.
pub(crate) fn percentiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| if values.is_empty() { 0.0 } else { values[((values.len() - 1) as f64 * q).round() as usize] };
    (pick(0.5), pick(0.9), pick(0.99))
}

/// What a run of agent callers measured of the server: the same figures for every transport.
#[derive(Debug, Serialize)]
pub(crate) struct AgentReport {
    pub(crate) scenario: &'static str,
    /// What one caller is: `call` (SIP) or `stream` (provider media stream).
    pub(crate) unit: &'static str,
    pub(crate) concurrent: usize,
    pub(crate) seconds: u64,
    pub(crate) completed: usize,
    pub(crate) turns_measured: usize,
    /// Server CPU while all callers were up, in % of one core per caller.
    pub(crate) cpu_percent_of_core_each: f64,
    pub(crate) idle_cpu_percent: f64,
    /// (RSS under load − idle RSS) / callers.
    pub(crate) rss_mb_each: f64,
    pub(crate) loaded_rss_mb: f64,
    /// End of speech → first reply audio, minus the VAD stop time (ms).
    pub(crate) server_added_ms_p50: f64,
    pub(crate) server_added_ms_p90: f64,
    pub(crate) server_added_ms_p99: f64,
    pub(crate) machine: String,
}

/// Runs `n` callers against the server `pid` — 100 new ones per second, like a trunk or provider ramping up —
/// samples its CPU and memory once all are up (and before, idle), and gathers the server-added latency of
/// each turn, which `caller(index, latencies)` pushes. A caller that fails is reported, not fatal, unless none
/// completes.
pub(crate) fn drive<F, Fut>(
    (scenario, unit): (&'static str, &'static str),
    pid: u32,
    n: usize,
    seconds: u64,
    caller: F,
) -> Result<AgentReport>
where
    F: Fn(usize, Arc<Mutex<Vec<f64>>>) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let idle_start = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(3));
    let idle_end = procfs::sample(pid)?;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ramp = Duration::from_secs_f64(n as f64 / 100.0 + 1.0);
    let (completed, load, first_error) = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..n {
            tasks.push(tokio::spawn(caller(i, Arc::clone(&latencies))));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(ramp).await;
        let start = procfs::sample(pid);
        let window =
            Duration::from_secs(seconds).saturating_sub(ramp + Duration::from_secs(2)).max(Duration::from_secs(3));
        tokio::time::sleep(window).await;
        let end = procfs::sample(pid);
        let (mut completed, mut first_error) = (0, None);
        for task in tasks {
            match task.await.map_err(anyhow::Error::from).and_then(|outcome| outcome) {
                Ok(()) => completed += 1,
                Err(err) => {
                    first_error.get_or_insert(format!("{err:#}"));
                }
            }
        }
        (completed, start.and_then(|s| end.map(|e| (s, e))), first_error)
    });
    let (load_start, load_end) = load?;
    if completed == 0 {
        bail!("no {unit} completed: {}", first_error.unwrap_or_default());
    }
    if let Some(err) = &first_error {
        eprintln!("{} of {n} {unit}s failed; the first: {err}", n - completed);
    }
    let added: Vec<f64> = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let turns_measured = added.len();
    let (p50, p90, p99) = percentiles(added);
    Ok(AgentReport {
        scenario,
        unit,
        concurrent: n,
        seconds,
        completed,
        turns_measured,
        cpu_percent_of_core_each: procfs::cpu_percent(&load_start, &load_end) / n as f64,
        idle_cpu_percent: procfs::cpu_percent(&idle_start, &idle_end),
        rss_mb_each: (load_end.rss_kb as f64 - idle_end.rss_kb as f64) / 1024.0 / n as f64,
        loaded_rss_mb: load_end.rss_kb as f64 / 1024.0,
        server_added_ms_p50: p50,
        server_added_ms_p90: p90,
        server_added_ms_p99: p99,
        machine: procfs::machine(),
    })
}

/// The Markdown table of a series of runs, under `title`, with `how` (what was measured) after it.
pub(crate) fn markdown(title: &str, reports: &[AgentReport], how: &str) -> String {
    let unit = reports.first().map_or("caller", |r| r.unit);
    let mut out = format!(
        "# {title}\n\n| {unit}s | completed | turns | CPU % of a core per {unit} | RSS MB per {unit} | \
         server-added p50/p90/p99 ms |\n|---|---|---|---|---|---|\n"
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.1} / {:.1} / {:.1} |\n",
            r.concurrent,
            r.completed,
            r.turns_measured,
            r.cpu_percent_of_core_each,
            r.rss_mb_each,
            r.server_added_ms_p50,
            r.server_added_ms_p90,
            r.server_added_ms_p99
        ));
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nMachine: {}. The load generator runs on the same machine. Each {unit} lasts {} s with a 1.2 s \
             utterance every 5 s and line hiss (about −60 dBFS) between. {how}\n",
            r.machine, r.seconds
        ));
    }
    out
}
