//! `voicera-bench barge-in`: N concurrent callers that talk over the agent ([`crate::barge_in::Caller`]), over
//! SIP (the bench's own user agent, PCMU) or a Vobiz-protocol media stream, against a `voicera serve` started
//! here with the `demo` agent (local models) or the `bench` agent (instant stand-ins). Reports the stop time
//! and the reply time per transport and load, as measured at the caller, beside what the server recorded of
//! each barge-in (the call records' `barge_ins`: interrupted or resumed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::Message;

use crate::barge_in::{CallStats, Caller, ProviderPlayout, Script, QUIET_LEVEL, STOP_HOLD};
use crate::sip_agent::{answer_media, cseq_method, mean_magnitude, Dialog};
use crate::{procfs, start_server_with, Server};

/// How the callers reach the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Transport {
    Sip,
    Ws,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Sip => "sip",
            Transport::Ws => "ws",
        }
    }
}

/// A run's settings.
pub(crate) struct Settings {
    /// `demo` or `bench`.
    pub(crate) agent: &'static str,
    pub(crate) utterances: usize,
    pub(crate) barge_after: Duration,
    pub(crate) reply_timeout: Duration,
    pub(crate) call_timeout: Duration,
    /// Between two callers' starts.
    pub(crate) stagger: Duration,
    pub(crate) models_dir: PathBuf,
    /// How the server binary was built, for the report.
    pub(crate) build: String,
}

/// One run's figures (ms). Percentiles are `null` where nothing was measured.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BargeInReport {
    pub(crate) agent: String,
    pub(crate) transport: String,
    pub(crate) concurrent: usize,
    pub(crate) utterances_per_call: usize,
    pub(crate) barge_after_ms: u64,
    #[serde(default = "default_reply_timeout_s")]
    pub(crate) reply_timeout_s: u64,
    pub(crate) build: String,
    /// Calls whose script ran to its end.
    pub(crate) calls_completed: usize,
    /// Calls still running at the per-call time limit (hung up; what they measured is kept).
    pub(crate) calls_cut_short: usize,
    /// Calls that failed (set-up refused, the server hung up, a socket error); what they measured is kept.
    pub(crate) calls_failed: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) barge_ins: usize,
    pub(crate) stops_measured: usize,
    pub(crate) not_stopped: usize,
    pub(crate) reply_ended_first: usize,
    pub(crate) reply_timeouts: usize,
    pub(crate) stop_ms_p50: Option<f64>,
    pub(crate) stop_ms_p90: Option<f64>,
    pub(crate) stop_ms_p99: Option<f64>,
    pub(crate) stop_ms_max: Option<f64>,
    /// End of speech → first reply audio, all utterances.
    pub(crate) reply_ms_p50: Option<f64>,
    pub(crate) reply_ms_p99: Option<f64>,
    pub(crate) replies_measured: usize,
    /// The same for the first question only, and for the interruptions only.
    pub(crate) question_reply_ms_p50: Option<f64>,
    pub(crate) question_reply_ms_p99: Option<f64>,
    pub(crate) interruption_reply_ms_p50: Option<f64>,
    pub(crate) interruption_reply_ms_p99: Option<f64>,
    /// What the server recorded: barge-ins that interrupted the reply, and ones after which it played on.
    pub(crate) server_interrupted: usize,
    pub(crate) server_resumed: usize,
    pub(crate) server_cpu_percent_of_core: f64,
    pub(crate) wall_seconds: f64,
    pub(crate) load_average_at_start: String,
    pub(crate) machine: String,
    pub(crate) stop_ms: Vec<f64>,
    pub(crate) question_reply_ms: Vec<f64>,
    pub(crate) interruption_reply_ms: Vec<f64>,
}

fn default_reply_timeout_s() -> u64 {
    30
}

/// One caller's end: what it measured, and why it ended early if it did.
struct Outcome {
    stats: CallStats,
    cut_short: bool,
    error: Option<String>,
}

pub(crate) fn run(
    voicera: &Path,
    transport: Transport,
    n: usize,
    settings: &Settings,
    work: &Path,
) -> Result<BargeInReport> {
    let script = Arc::new(Script::espeak(settings.utterances)?);
    let dir = work.join(format!("barge-in-{}-{}-{n}", settings.agent, transport.name()));
    let config = "[telephony]\nopen_agents = [\"bench\", \"demo\"]\n\n[bench]\nrecord = true\n";
    let demo = if settings.agent == "demo" { "1" } else { "0" };
    let models = settings.models_dir.to_string_lossy().into_owned();
    let env =
        [("VOICERA_DEMO_AGENT", demo), ("VOICERA_MODELS_DIR", models.as_str()), ("RUST_LOG", "warn,voicera=info")];
    let server = start_server_with(voicera, &dir, "36000-37000", config, &env)?;
    if settings.agent == "demo" {
        wait_for_demo(&dir.join("server.log"))?;
    }
    let load_average_at_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string();
    let cpu_start = procfs::sample(server.pid())?;
    let began = Instant::now();
    let outcomes = drive(&server, transport, n, settings, &script)?;
    let wall = began.elapsed();
    let cpu_end = procfs::sample(server.pid())?;
    // Records are stored off the reactor once each call has ended.
    std::thread::sleep(Duration::from_secs(3));
    let (server_interrupted, server_resumed) = server_verdicts(&dir.join("data"));
    drop(server);
    report(transport, n, settings, outcomes, (server_interrupted, server_resumed), wall, load_average_at_start).map(
        |mut r| {
            r.server_cpu_percent_of_core = procfs::cpu_percent(&cpu_start, &cpu_end);
            r
        },
    )
}

/// Waits for the demo agent's models to load (the log's `agent ready` for `demo`).
fn wait_for_demo(log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let line = |what: &str| text.lines().any(|l| l.contains(what) && l.contains("\"demo\""));
        if line("agent unavailable") {
            bail!("the demo agent failed to load; see {}", log.display());
        }
        if line("agent ready") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the demo agent did not load within 10 minutes")
}

/// Runs the `n` callers, one every `stagger`, to their ends.
fn drive(
    server: &Server,
    transport: Transport,
    n: usize,
    settings: &Settings,
    script: &Arc<Script>,
) -> Result<Vec<Outcome>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (sip, http) = (server.sip, server.http);
    let (agent, barge_after, timeout) = (settings.agent, settings.barge_after, settings.call_timeout);
    let reply_timeout = settings.reply_timeout;
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..n {
            let script = Arc::clone(script);
            tasks.push(tokio::spawn(async move {
                let mut caller = Caller::new(&script, barge_after, reply_timeout, Instant::now());
                let deadline = Instant::now() + timeout;
                let talked = match transport {
                    Transport::Sip => sip_call(i, sip, agent, &mut caller, deadline).await,
                    Transport::Ws => ws_call(i, http, agent, &mut caller, deadline).await,
                };
                let cut_short = matches!(talked, Ok(false));
                Outcome { stats: caller.finish(), cut_short, error: talked.err().map(|e| format!("{e:#}")) }
            }));
            tokio::time::sleep(settings.stagger).await;
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await?);
        }
        Ok(outcomes)
    })
}

/// One SIP call: set up, play the caller's script at 20 ms per RTP packet while classifying each agent packet
/// as audio or quiet, hang up. `Ok(false)` when the deadline came first.
async fn sip_call(
    index: usize,
    server: SocketAddr,
    agent: &'static str,
    caller: &mut Caller<'_>,
    deadline: Instant,
) -> Result<bool> {
    let sip = UdpSocket::bind("127.0.0.1:0").await?;
    let rtp = UdpSocket::bind("127.0.0.1:0").await?;
    let mut dialog = Dialog::new(index, sip.local_addr()?, server, agent);
    let offer = format!(
        "v=0\r\no=- {index} 1 IN IP4 127.0.0.1\r\ns=bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        rtp.local_addr()?.port()
    );
    let answer = dialog.request(&sip, "INVITE", &offer).await.context("INVITE")?;
    let media = answer_media(&answer).ok_or_else(|| anyhow!("call {index}: no audio in the answer"))?;
    dialog.ack(&sip).await?;
    let ssrc = 0xba46_0000 | index as u32;
    let mut packet = [0u8; 12 + 160];
    let mut incoming = [0u8; 2048];
    let mut signalling = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut n = 0u32;
    let finished = loop {
        tokio::select! {
            received = rtp.recv_from(&mut incoming) => {
                let (len, _) = received?;
                if len > 12 {
                    let now = Instant::now();
                    if mean_magnitude(&incoming[12..len]) >= QUIET_LEVEL {
                        caller.agent_audio(now);
                    } else {
                        caller.agent_quiet(now);
                    }
                }
            }
            received = sip.recv_from(&mut signalling) => {
                let (len, _) = received?;
                let message = String::from_utf8_lossy(&signalling[..len]);
                if message.starts_with("BYE ") {
                    bail!("call {index}: the server hung up");
                }
                if message.starts_with("SIP/2.0 200") && cseq_method(&message) == Some("INVITE") {
                    dialog.ack(&sip).await?;
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if now >= deadline {
                    break false;
                }
                let Some(frame) = caller.next_frame(now) else { break true };
                packet[0] = 0x80;
                packet[1] = if n == 0 { 0x80 } else { 0 };
                packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                packet[4..8].copy_from_slice(&n.wrapping_mul(160).to_be_bytes());
                packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                packet[12..].copy_from_slice(frame);
                rtp.send_to(&packet, media).await?;
                n += 1;
            }
        }
    };
    dialog.request(&sip, "BYE", "").await.context("BYE")?;
    Ok(finished)
}

/// One Vobiz-protocol stream: `start`, the caller's script as `media` events every 20 ms, `playAudio` as the
/// agent's audio and `clearAudio` as its stop; `stop` at the end. `Ok(false)` when the deadline came first.
async fn ws_call(
    index: usize,
    http: SocketAddr,
    agent: &'static str,
    caller: &mut Caller<'_>,
    deadline: Instant,
) -> Result<bool> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/agent/{agent}")).await?;
    let stream_id = format!("barge-{index}");
    let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":format!("barge-call-{index}"),"streamId":stream_id,"accountId":"bench","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
    ws.send(Message::Text(start.to_string().into())).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut playout = ProviderPlayout::default();
    let mut n = 0usize;
    let finished = loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let now = Instant::now();
                    let text = text.as_str();
                    if text.contains("\"playAudio\"") {
                        playout.play(now, play_audio_duration(text)?);
                        caller.agent_audio(now);
                    } else if text.contains("\"clearAudio\"") {
                        playout.clear(now);
                        caller.agent_cleared(now);
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => bail!("stream {index} closed by the server"),
            },
            _ = tick.tick() => {
                let now = Instant::now();
                if now >= deadline {
                    break false;
                }
                // The caller hears the provider's buffer play out, 20 ms at a time, as an RTP caller hears frames.
                match playout.playing(now) {
                    Some(true) => caller.agent_audio(now),
                    Some(false) => caller.agent_quiet(now),
                    None => {}
                }
                let Some(frame) = caller.next_frame(now) else { break true };
                let media = format!(r#"{{"sequenceNumber":{},"streamId":"{stream_id}","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{n},"payload":"{}"}}}}"#, n + 1, n * 20, b64.encode(frame));
                ws.send(Message::Text(media.into())).await?;
                n += 1;
            }
        }
    };
    let stop = format!(r#"{{"event":"stop","streamId":"{stream_id}"}}"#);
    let _ = ws.send(Message::Text(stop.into())).await;
    let _ = ws.close(None).await;
    Ok(finished)
}

/// How much audio a Vobiz `playAudio` carries (`media.payload`, base64, at `media.sampleRate`; μ-law or L16).
fn play_audio_duration(text: &str) -> Result<Duration> {
    let message: serde_json::Value = serde_json::from_str(text).context("playAudio is not JSON")?;
    let media = &message["media"];
    let payload = media["payload"].as_str().context("playAudio without media.payload")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(payload).context("playAudio payload is not base64")?;
    let rate = media["sampleRate"].as_u64().filter(|&r| r > 0).unwrap_or(8000);
    let bytes_per_sample = if media["contentType"].as_str().is_some_and(|c| c.contains("l16")) { 2 } else { 1 };
    Ok(Duration::from_secs_f64(bytes.len() as f64 / bytes_per_sample as f64 / rate as f64))
}

/// Counts the barge-in verdicts in the stored call records (`data/calls/<day>/<call>.json`).
fn server_verdicts(data: &Path) -> (usize, usize) {
    let (mut interrupted, mut resumed) = (0, 0);
    for day in std::fs::read_dir(data.join("calls")).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(day.path()).into_iter().flatten().flatten() {
            if file.path().extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(file.path()) else { continue };
            let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            for turn in record["turns"].as_array().into_iter().flatten() {
                for barge in turn["barge_ins"].as_array().into_iter().flatten() {
                    match barge["outcome"].as_str() {
                        Some("interrupted") => interrupted += 1,
                        Some("resumed") => resumed += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    (interrupted, resumed)
}

/// The value at quantile `q` of `values` (nearest rank), `None` when empty.
fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize])
}

fn report(
    transport: Transport,
    n: usize,
    settings: &Settings,
    outcomes: Vec<Outcome>,
    (server_interrupted, server_resumed): (usize, usize),
    wall: Duration,
    load_average_at_start: String,
) -> Result<BargeInReport> {
    let mut all = CallStats::default();
    let (mut completed, mut cut_short, mut failed, mut first_error) = (0, 0, 0, None);
    for o in outcomes {
        match (&o.error, o.cut_short) {
            (Some(err), _) => {
                failed += 1;
                first_error.get_or_insert_with(|| err.clone());
            }
            (None, true) => cut_short += 1,
            (None, false) => completed += 1,
        }
        all.stop_ms.extend(o.stats.stop_ms);
        all.question_reply_ms.extend(o.stats.question_reply_ms);
        all.interruption_reply_ms.extend(o.stats.interruption_reply_ms);
        all.barge_ins += o.stats.barge_ins;
        all.not_stopped += o.stats.not_stopped;
        all.reply_ended_first += o.stats.reply_ended_first;
        all.reply_timeouts += o.stats.reply_timeouts;
    }
    if completed + cut_short == 0 && all.stop_ms.is_empty() {
        bail!("no call got anywhere: {}", first_error.unwrap_or_default());
    }
    let replies: Vec<f64> = all.question_reply_ms.iter().chain(&all.interruption_reply_ms).copied().collect();
    Ok(BargeInReport {
        agent: settings.agent.to_string(),
        transport: transport.name().to_string(),
        concurrent: n,
        utterances_per_call: settings.utterances,
        barge_after_ms: settings.barge_after.as_millis() as u64,
        reply_timeout_s: settings.reply_timeout.as_secs(),
        build: settings.build.clone(),
        calls_completed: completed,
        calls_cut_short: cut_short,
        calls_failed: failed,
        first_error,
        barge_ins: all.barge_ins,
        stops_measured: all.stop_ms.len(),
        not_stopped: all.not_stopped,
        reply_ended_first: all.reply_ended_first,
        reply_timeouts: all.reply_timeouts,
        stop_ms_p50: quantile(&all.stop_ms, 0.5),
        stop_ms_p90: quantile(&all.stop_ms, 0.9),
        stop_ms_p99: quantile(&all.stop_ms, 0.99),
        stop_ms_max: quantile(&all.stop_ms, 1.0),
        reply_ms_p50: quantile(&replies, 0.5),
        reply_ms_p99: quantile(&replies, 0.99),
        replies_measured: replies.len(),
        question_reply_ms_p50: quantile(&all.question_reply_ms, 0.5),
        question_reply_ms_p99: quantile(&all.question_reply_ms, 0.99),
        interruption_reply_ms_p50: quantile(&all.interruption_reply_ms, 0.5),
        interruption_reply_ms_p99: quantile(&all.interruption_reply_ms, 0.99),
        server_interrupted,
        server_resumed,
        server_cpu_percent_of_core: 0.0,
        wall_seconds: wall.as_secs_f64(),
        load_average_at_start,
        machine: procfs::machine(),
        stop_ms: all.stop_ms,
        question_reply_ms: all.question_reply_ms,
        interruption_reply_ms: all.interruption_reply_ms,
    })
}

/// A stop sooner than this after the caller's onset cannot be the server's doing (it hears the onset frame
/// within a millisecond, and its next 20 ms tick is the first that can be silent): the agent was going quiet
/// anyway (a clause ended there). Such stops are counted, and left out of the stop percentiles.
pub(crate) const MIN_REACTION_MS: f64 = 20.0;

/// The file a run's report goes to.
pub(crate) fn report_path(out: &Path, report: &BargeInReport) -> PathBuf {
    out.join(format!("barge-in-{}-{}-{}.json", report.agent, report.transport, report.concurrent))
}

/// `barge-in.md` from every `barge-in-*.json` under `out` (runs of either agent, made separately).
pub(crate) fn markdown(out: &Path) -> Result<String> {
    let mut reports = Vec::new();
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with("barge-in-") && name.ends_with(".json") {
            reports.push(serde_json::from_str::<BargeInReport>(&std::fs::read_to_string(&path)?)?);
        }
    }
    reports.sort_by(|a, b| (&a.agent, &a.transport, a.concurrent).cmp(&(&b.agent, &b.transport, b.concurrent)));
    let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0}"));
    let mut md = String::from(
        "# Barge-in: stop time and reply time, measured at the caller\n\n\
         | agent | transport | calls | cut in after ms | completed / cut short / failed | barge-ins: stopped / \
         quiet already / not stopped | stop p50 / p90 / p99 / max ms | end of speech → reply p50 / p99 ms (n) | \
         server: interrupted / resumed | server CPU % of a core |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &reports {
        let reactions: Vec<f64> = r.stop_ms.iter().copied().filter(|ms| *ms >= MIN_REACTION_MS).collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} / {} / {} | {} / {} / {} | {} / {} / {} / {} | {} / {} ({}) | {} / {} | {:.0} |\n",
            r.agent,
            if r.transport == "sip" { "SIP (PCMU)" } else { "Vobiz stream" },
            r.concurrent,
            r.barge_after_ms,
            r.calls_completed,
            r.calls_cut_short,
            r.calls_failed,
            reactions.len(),
            r.stop_ms.len() - reactions.len(),
            r.not_stopped,
            ms(quantile(&reactions, 0.5)),
            ms(quantile(&reactions, 0.9)),
            ms(quantile(&reactions, 0.99)),
            ms(quantile(&reactions, 1.0)),
            ms(r.reply_ms_p50),
            ms(r.reply_ms_p99),
            r.replies_measured,
            r.server_interrupted,
            r.server_resumed,
            r.server_cpu_percent_of_core,
        ));
    }
    md.push_str(
        "\n| agent | transport | calls | reply to the question p50 / p99 ms | reply to an interruption p50 / p99 ms | \
         replies timed out (wait, s) | cut-ins after the reply had ended | load average at start | wall s |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &reports {
        md.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} / {} | {} ({}) | {} | {} | {:.0} |\n",
            r.agent,
            r.transport,
            r.concurrent,
            ms(r.question_reply_ms_p50),
            ms(r.question_reply_ms_p99),
            ms(r.interruption_reply_ms_p50),
            ms(r.interruption_reply_ms_p99),
            r.reply_timeouts,
            r.reply_timeout_s,
            r.reply_ended_first,
            r.load_average_at_start.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            r.wall_seconds,
        ));
    }
    if let Some(r) = reports.first() {
        let builds: std::collections::BTreeSet<&str> = reports.iter().map(|r| r.build.as_str()).collect();
        let after: std::collections::BTreeSet<String> =
            reports.iter().map(|r| format!("{} {} ms", r.agent, r.barge_after_ms)).collect();
        md.push_str(&format!(
            "\nMachine: {}; the callers run on the same machine as the server, and other builds and tests were \
             running beside it (load average above). Server build: {}.\n\n\
             Each caller waits for the greeting to play out, asks for a long story (espeak-ng, 8 kHz μ-law, the \
             same audio for every caller), and, once each reply has played a while at the caller ({}), speaks the next \
             request over it ({} utterances per call: every one after the first is a barge-in). Callers start \
             100 ms apart. Stop time = the caller's speech onset (the frame with its first voiced sample is sent) \
             → the agent's audio is silent at the caller: on SIP the first of a run of RTP frames below −60 dBFS \
             (mean magnitude {QUIET_LEVEL}) that lasts {} ms (a word gap in the reply is shorter); on the Vobiz \
             stream `clearAudio` arriving, or the provider's buffer (modelled from the `playAudio` durations) \
             running dry for as long (the server had nothing buffered to clear). A barge-in the agent had not stopped for within 3 s counts as not \
             stopped; a stop sooner than {MIN_REACTION_MS} ms after the onset (before the server's next tick \
             could be silent) is \"quiet already\": the agent's clause ended there, so it says nothing of the \
             server and is left out of the stop percentiles. Reply time = end of the caller's speech (the frame with its last voiced sample is sent) → \
             first agent audio after it (SIP: an RTP frame above that level; stream: `playAudio`); it includes \
             the VAD's stop time. After an interruption that is the answer to it, or the paused reply playing \
             on when the server judged the speech no interruption (its verdicts, from the call records, are \
             in the first table). `demo` = Silero VAD, Whisper tiny.en, the demo LLM and Piper on this CPU; \
             `bench` = the stand-in models (instant): the pure server overhead.\n",
            r.machine,
            builds.into_iter().collect::<Vec<_>>().join(", "),
            after.into_iter().collect::<Vec<_>>().join(", "),
            r.utterances_per_call,
            STOP_HOLD.as_millis(),
        ));
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_play_audio_lasts_as_long_as_its_payload_at_its_rate() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mulaw = format!(
            r#"{{"event":"playAudio","media":{{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"{}"}}}}"#,
            b64.encode([0xffu8; 160])
        );
        assert_eq!(play_audio_duration(&mulaw).unwrap(), Duration::from_millis(20));
        let l16 = format!(
            r#"{{"event":"playAudio","media":{{"contentType":"audio/x-l16","sampleRate":16000,"payload":"{}"}}}}"#,
            b64.encode([0u8; 1280])
        );
        assert_eq!(play_audio_duration(&l16).unwrap(), Duration::from_millis(40));
        assert!(play_audio_duration(r#"{"event":"playAudio","media":{}}"#).is_err());
    }
}
