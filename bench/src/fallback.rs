//! `voicera-bench fallback`: what a fallback chain costs a turn, per stage (STT, LLM, TTS), against local fakes
//! of the providers on 127.0.0.1 that answer at once. The time to the first result is measured for
//!
//! - `single`: the production client alone (no chain): the floor;
//! - `chain-healthy`: a two-link chain whose first link answers (the chain machinery's own overhead);
//! - `first-refused`: the first link's port refuses connections (fails fast), the second answers;
//! - `first-stalled`: the first link accepts and never answers, so its `timeout_ms` decides the switch;
//! - `breaker-open`: the first link's breaker is open, so the chain skips it without a request.
//!
//! Every client is the production one from `voicera-models-cloud` (OpenAI's transcription, chat completions and
//! speech APIs, pointed at the fakes by base URL), every chain the production `voicera-models` one on the
//! system clock; each scenario warms its connection pools before it is measured. "First result" is the final
//! transcript of a 320 ms utterance (STT), the first token (LLM), the first audio samples (TTS), read by
//! polling the stream every [`POLL`], the resolution of the figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;
use voicera_models::fallback::{BreakerPolicy, ChainBudget, FallbackLlm, Link, SystemClock};
use voicera_models::speech_chain::{FallbackStt, FallbackTts};
use voicera_models::{ChatMessage, LanguageModel, LlmEvent, Role, SpeechToText, TextToSpeech, Transcript, TtsStream};
use voicera_models_cloud::openai::{OpenAiChat, OpenAiConfig};
use voicera_models_cloud::openai_stt::OpenAiStt;
use voicera_models_cloud::openai_tts::{OpenAiTts, OpenAiTtsConfig};

/// How often a stream is polled for its first result.
const POLL: Duration = Duration::from_micros(50);
/// The longest a run may take before it counts as failed (far beyond any stall budget used here).
const RUN_DEADLINE: Duration = Duration::from_secs(30);
/// Unmeasured runs per scenario first: connection pools and the fakes' threads warm.
const WARMUP: usize = 5;

/// What to measure.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Measured runs per scenario (the stalled one excepted).
    pub(crate) runs: usize,
    /// Measured runs of `first-stalled`, each of which waits the stall budget.
    pub(crate) stall_runs: usize,
    /// The stalled link's `timeout_ms`.
    pub(crate) stall_timeout: Duration,
}

/// One scenario's figures.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    stage: &'static str,
    scenario: &'static str,
    runs: usize,
    failed: usize,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// p50 minus the same stage's `single` p50: what the chain adds in this case.
    added_p50_ms: f64,
    /// p99 minus the same stage's `single` p99.
    added_p99_ms: f64,
}

/// The report.
#[derive(Debug, Serialize)]
pub(crate) struct FallbackReport {
    build: &'static str,
    runs: usize,
    stall_runs: usize,
    stall_timeout_ms: u64,
    poll_us: u64,
    rows: Vec<Row>,
    machine: String,
}

/// The scenarios, in report order.
const SCENARIOS: [&str; 5] = ["single", "chain-healthy", "first-refused", "first-stalled", "breaker-open"];

/// Runs every scenario of every stage.
pub(crate) fn run(settings: &Settings) -> Result<FallbackReport> {
    let healthy = [Fake::healthy()?, Fake::healthy()?];
    let stalled = Fake::stalling()?;
    let refused = refused_address()?;
    let mut rows = Vec::new();
    for stage in [Stage::Stt, Stage::Llm, Stage::Tts] {
        let mut floor = None;
        for scenario in SCENARIOS {
            let runs = if scenario == "first-stalled" { settings.stall_runs } else { settings.runs };
            let subject = Subject::build(stage, scenario, &healthy, stalled.address, refused, settings)?;
            for _ in 0..WARMUP {
                let _ = subject.first_result();
            }
            let mut times = Vec::with_capacity(runs);
            let mut failed = 0;
            for _ in 0..runs {
                match subject.first_result() {
                    Some(elapsed) => times.push(elapsed.as_secs_f64() * 1000.0),
                    None => failed += 1,
                }
            }
            if times.is_empty() {
                bail!("{} {scenario}: every run failed", stage.name());
            }
            times.sort_by(f64::total_cmp);
            let (p50, p90, p99) = (percentile(&times, 0.50), percentile(&times, 0.90), percentile(&times, 0.99));
            let (floor_p50, floor_p99) = *floor.get_or_insert((p50, p99));
            eprintln!("{:<4} {scenario:<14} p50 {p50:8.3} ms  p90 {p90:8.3} ms  p99 {p99:8.3} ms", stage.name());
            rows.push(Row {
                stage: stage.name(),
                scenario,
                runs,
                failed,
                p50_ms: round3(p50),
                p90_ms: round3(p90),
                p99_ms: round3(p99),
                max_ms: round3(times[times.len() - 1]),
                added_p50_ms: round3(p50 - floor_p50),
                added_p99_ms: round3(p99 - floor_p99),
            });
        }
    }
    Ok(FallbackReport {
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        runs: settings.runs,
        stall_runs: settings.stall_runs,
        stall_timeout_ms: settings.stall_timeout.as_millis() as u64,
        poll_us: POLL.as_micros() as u64,
        rows,
        machine: crate::procfs::machine(),
    })
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    Stt,
    Llm,
    Tts,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Stt => "stt",
            Stage::Llm => "llm",
            Stage::Tts => "tts",
        }
    }
}

/// What one scenario of one stage measures: a recogniser, a language model or a voice.
enum Subject {
    Stt(Arc<dyn SpeechToText>),
    Llm(Arc<dyn LanguageModel>),
    Tts(Arc<dyn TextToSpeech>),
}

/// The production clients of one stage, one per provider root.
fn stt_client(root: SocketAddr, timeout: Option<Duration>) -> Arc<dyn SpeechToText> {
    let client = OpenAiStt::new(&format!("http://{root}/v1"), "whisper-1", "sk-bench");
    Arc::new(match timeout {
        Some(timeout) => client.with_timeout(timeout),
        None => client,
    })
}

fn llm_client(root: SocketAddr, timeout: Option<Duration>) -> Arc<dyn LanguageModel> {
    let client =
        OpenAiChat::new(OpenAiConfig::new(&format!("http://{root}/v1"), "gpt-4o-mini", Some("sk-bench".into())));
    Arc::new(match timeout {
        Some(timeout) => client.with_timeout(timeout),
        None => client,
    })
}

fn tts_client(root: SocketAddr, timeout: Option<Duration>) -> Arc<dyn TextToSpeech> {
    let client =
        OpenAiTts::new(OpenAiTtsConfig::new(&format!("http://{root}/v1"), "gpt-4o-mini-tts", "alloy", "sk-bench"));
    Arc::new(match timeout {
        Some(timeout) => client.with_timeout(timeout),
        None => client,
    })
}

/// A breaker that never opens: every run of a failing first link pays its failure again.
const NEVER_OPENS: BreakerPolicy = BreakerPolicy { failures_to_open: u32::MAX, open_for: Duration::from_secs(1) };
/// A breaker that opens on the first failure and stays open for the whole bench.
const OPENS_AT_ONCE: BreakerPolicy = BreakerPolicy { failures_to_open: 1, open_for: Duration::from_secs(24 * 3600) };

impl Subject {
    fn build(
        stage: Stage,
        scenario: &str,
        healthy: &[Fake; 2],
        stalled: SocketAddr,
        refused: SocketAddr,
        settings: &Settings,
    ) -> Result<Subject> {
        let backup = healthy[1].address;
        // (first link's root, its timeout, its breaker), or None for the client alone.
        let first = match scenario {
            "single" => None,
            "chain-healthy" => Some((healthy[0].address, None, BreakerPolicy::default())),
            "first-refused" => Some((refused, None, NEVER_OPENS)),
            "first-stalled" => Some((stalled, Some(settings.stall_timeout), NEVER_OPENS)),
            "breaker-open" => Some((refused, None, OPENS_AT_ONCE)),
            other => bail!("no scenario {other}"),
        };
        let subject = match (stage, first) {
            (Stage::Stt, None) => Subject::Stt(stt_client(healthy[0].address, None)),
            (Stage::Llm, None) => Subject::Llm(llm_client(healthy[0].address, None)),
            (Stage::Tts, None) => Subject::Tts(tts_client(healthy[0].address, None)),
            (Stage::Stt, Some((root, timeout, policy))) => {
                let links = vec![
                    link("first", stt_client(root, timeout), policy, timeout),
                    Link::new("second", stt_client(backup, None), BreakerPolicy::default()),
                ];
                Subject::Stt(Arc::new(FallbackStt::new(links, ChainBudget::default(), Arc::new(SystemClock))))
            }
            (Stage::Llm, Some((root, timeout, policy))) => {
                let links = vec![
                    link("first", llm_client(root, timeout), policy, timeout),
                    Link::new("second", llm_client(backup, None), BreakerPolicy::default()),
                ];
                Subject::Llm(Arc::new(FallbackLlm::new(links, ChainBudget::default(), Arc::new(SystemClock))))
            }
            (Stage::Tts, Some((root, timeout, policy))) => {
                let links = vec![
                    link("first", tts_client(root, timeout), policy, timeout),
                    Link::new("second", tts_client(backup, None), BreakerPolicy::default()),
                ];
                Subject::Tts(Arc::new(FallbackTts::new(links, ChainBudget::default(), Arc::new(SystemClock))))
            }
        };
        if scenario == "breaker-open" {
            // One failing turn opens the first link's breaker; the measured runs then skip it.
            subject.first_result();
        }
        Ok(subject)
    }

    /// The time from the request to its first result, or `None` when the run failed.
    fn first_result(&self) -> Option<Duration> {
        match self {
            Subject::Stt(stt) => {
                let mut stream = stt.stream("en");
                stream.push_audio(&UTTERANCE);
                let started = Instant::now();
                stream.end_of_speech();
                poll_until(started, || match stream.poll_transcript() {
                    Some(Transcript::Final(_)) => Some(true),
                    Some(Transcript::Failed(_)) => Some(false),
                    _ => None,
                })
            }
            Subject::Llm(llm) => {
                let history = [
                    ChatMessage { role: Role::System, content: "You are a helpful assistant.".into() },
                    ChatMessage { role: Role::User, content: "What time is it?".into() },
                ];
                let started = Instant::now();
                let mut reply = llm.reply(&history, &[]);
                poll_until(started, || match reply.poll_event() {
                    Some(LlmEvent::Token(_)) => Some(true),
                    Some(LlmEvent::Done | LlmEvent::Failed(_) | LlmEvent::ToolCall { .. }) => Some(false),
                    _ => None,
                })
            }
            Subject::Tts(tts) => {
                let started = Instant::now();
                let mut stream: Box<dyn TtsStream> = tts.speak("It is three o'clock.");
                let mut audio = Vec::new();
                poll_until(started, || {
                    let more = stream.poll_audio(&mut audio);
                    match (audio.is_empty(), more) {
                        (false, _) => Some(true),
                        (true, false) => Some(false),
                        (true, true) => None,
                    }
                })
            }
        }
    }
}

/// The first link of a chain: its breaker policy and, for the stalled provider, its `timeout_ms` as the
/// link's first-result budget (as the binary sets it from `[providers.<name>] timeout_ms`).
fn link<M: ?Sized>(name: &str, model: Arc<M>, policy: BreakerPolicy, timeout: Option<Duration>) -> Link<M> {
    let link = Link::new(name, model, policy);
    match timeout {
        Some(timeout) => link.with_first_result(timeout),
        None => link,
    }
}

/// 320 ms of a 16 kHz utterance (its content does not matter to the fakes).
static UTTERANCE: [i16; 5120] = [300; 5120];

/// Polls `check` every [`POLL`] until it says success (`Some(true)`) or failure (`Some(false)`).
fn poll_until(started: Instant, mut check: impl FnMut() -> Option<bool>) -> Option<Duration> {
    loop {
        match check() {
            Some(true) => return Some(started.elapsed()),
            Some(false) => return None,
            None if started.elapsed() > RUN_DEADLINE => return None,
            None => std::thread::sleep(POLL),
        }
    }
}

/// An address nothing listens on: a port bound and released (connections are refused at once).
fn refused_address() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A fake provider on 127.0.0.1 serving OpenAI's transcription, chat completions (SSE) and speech (PCM)
/// APIs with keep-alive, answering at once; or, stalling, accepting connections and never answering.
struct Fake {
    address: SocketAddr,
}

impl Fake {
    fn healthy() -> Result<Fake> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        std::thread::Builder::new().name("fake-provider".into()).spawn(move || {
            for socket in listener.incoming().flatten() {
                let _ = std::thread::Builder::new().name("fake-connection".into()).spawn(move || serve(socket));
            }
        })?;
        Ok(Fake { address })
    }

    fn stalling() -> Result<Fake> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        std::thread::Builder::new().name("fake-stalled".into()).spawn(move || {
            // Held open, never answered, until the bench exits.
            let mut held = Vec::new();
            for socket in listener.incoming().flatten() {
                held.push(socket);
            }
        })?;
        Ok(Fake { address })
    }
}

/// Answers requests on one keep-alive connection until the client closes it.
fn serve(mut socket: TcpStream) {
    let _ = socket.set_nodelay(true);
    let mut pending = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let Some((head, body_start, length)) = request_head(&pending) else {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        while pending.len() < body_start + length {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
        pending.drain(..body_start + length);
        let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
        let (content_type, body) = answer(&path);
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            if content_type.is_empty() { "404 Not Found" } else { "200 OK" },
            body.len()
        );
        if socket.write_all(head.as_bytes()).and_then(|()| socket.write_all(&body)).is_err() {
            return;
        }
    }
}

/// The request head in `pending` once complete: its text, where the body starts, the body's length.
fn request_head(pending: &[u8]) -> Option<(String, usize, usize)> {
    let end = pending.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&pending[..end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    Some((head, end + 4, length))
}

/// The answer to a request for `path`: OpenAI's shapes, complete at once.
fn answer(path: &str) -> (&'static str, Vec<u8>) {
    if path.ends_with("/audio/transcriptions") {
        ("application/json", br#"{"text":"What time is it?"}"#.to_vec())
    } else if path.ends_with("/chat/completions") {
        let mut body = String::new();
        for word in ["It ", "is ", "three."] {
            let chunk = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]});
            body.push_str(&format!("data: {chunk}\n\n"));
        }
        body.push_str("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        body.push_str("data: [DONE]\n\n");
        ("text/event-stream", body.into_bytes())
    } else if path.ends_with("/audio/speech") {
        // 200 ms of 24 kHz PCM (OpenAI's `pcm` format).
        ("application/octet-stream", vec![0x10; 24_000 / 5 * 2])
    } else {
        ("", Vec::new())
    }
}

/// The report as Markdown.
pub(crate) fn markdown(report: &FallbackReport) -> String {
    let mut out = String::from("# Fallback chains: overhead and switch times\n\n");
    out.push_str(
        "Time to the first result of a turn (STT: the final transcript of a 320 ms utterance; LLM: the first \
         token; TTS: the first audio), through the production clients (OpenAI transcription, chat completions, \
         speech) and the production chains, against local fakes on 127.0.0.1 that answer at once. `single` is \
         the client alone; `chain-healthy` a two-link chain whose first link answers; `first-refused` a first \
         link whose port refuses connections; `first-stalled` a first link that accepts and never answers \
         (its `timeout_ms` decides); `breaker-open` a first link whose breaker is open (skipped). \"added\" is \
         the difference to `single` of the same stage.\n\n",
    );
    out.push_str(&format!(
        "{} build; {} runs per scenario ({} for `first-stalled`, whose `timeout_ms` is {} ms); streams polled \
         every {} µs.\n\nReproduce:\n\n```\ncargo run --release -p voicera-bench -- fallback --runs {} \
         --stall-runs {} --stall-timeout-ms {}\n```\n\n",
        report.build,
        report.runs,
        report.stall_runs,
        report.stall_timeout_ms,
        report.poll_us,
        report.runs,
        report.stall_runs,
        report.stall_timeout_ms
    ));
    out.push_str("| stage | scenario | runs | p50 ms | p90 ms | p99 ms | max ms | added p50 ms | added p99 ms |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for row in &report.rows {
        let failed = if row.failed > 0 { format!(" ({} failed)", row.failed) } else { String::new() };
        out.push_str(&format!(
            "| {} | {} | {}{failed} | {:.3} | {:.3} | {:.3} | {:.3} | {:+.3} | {:+.3} |\n",
            row.stage,
            row.scenario,
            row.runs,
            row.p50_ms,
            row.p90_ms,
            row.p99_ms,
            row.max_ms,
            row.added_p50_ms,
            row.added_p99_ms
        ));
    }
    out.push_str(&format!("\nMachine: {}\n", report.machine));
    out
}
