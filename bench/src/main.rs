//! `voicera-bench`: load scenarios against a real `voicera` process, measured from outside.
//!
//! `voicera-bench sip --calls 10,100,500 --seconds 60` starts `voicera serve` (release build), places N
//! concurrent `echo` calls with sipp (PCMU, espeak speech from a generated pcap, or with `--media rtp-stream`
//! the same speech sent by sipp's `rtp_stream` from each call's UDP socket), and samples the server's CPU
//! time and RSS from /proc while the calls are up. It reports CPU % of one core per call, RSS per call, call
//! set-up time percentiles (INVITE → 200, from sipp's RTT trace) and RTP loss seen by the server's jitter
//! buffers, as JSON and Markdown under `bench/results/`.
//!
//! Run: `cargo build --release && cargo run --release -p voicera-bench -- sip --calls 10,100 --seconds 60`

mod amd;
mod api;
mod barge_in;
mod barge_in_run;
mod c_baseline;
mod campaign;
mod fallback;
mod llm_turns;
mod models;
mod pcap;
mod procfs;
mod secantus;
mod sip_agent;
mod turns;
mod ws;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "voicera-bench", about = "Load scenarios and reports for VoiceERA-rs")]
struct Cli {
    #[command(subcommand)]
    command: Scenario,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SipMedia {
    Pcap,
    RtpStream,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// N concurrent SIP echo calls with sipp (PCMU speech), for each N given.
    Sip {
        /// Concurrent call counts, comma-separated.
        #[arg(long, default_value = "10,100,500", value_delimiter = ',')]
        calls: Vec<usize>,
        /// How long each call lasts.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// How sipp sends the speech: `pcap` replays a capture through a raw socket per call (the kernel then
        /// checks every loopback packet against all of them, a cost the server's process pays); `rtp-stream`
        /// sends it from each call's own UDP socket.
        #[arg(long, value_enum, default_value_t = SipMedia::Pcap)]
        media: SipMedia,
        /// The voicera binary (default: target/release/voicera).
        #[arg(long)]
        voicera: Option<PathBuf>,
        /// Where reports go.
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// N concurrent SIP calls (PCMU, speech turns) to the bench agent, for each N given.
    SipAgent {
        #[arg(long, default_value = "10,100,500", value_delimiter = ',')]
        calls: Vec<usize>,
        #[command(flatten)]
        load: AgentLoadArgs,
    },
    /// N concurrent SIP echo calls from the bench's own user agents (no sipp raw sockets), for each N given.
    SipEchoUa {
        #[arg(long, default_value = "10,100,500", value_delimiter = ',')]
        calls: Vec<usize>,
        #[command(flatten)]
        load: AgentLoadArgs,
    },
    /// N concurrent Vobiz-protocol media streams to the bench agent, for each N given.
    Ws {
        #[arg(long, default_value = "10,100,500", value_delimiter = ',')]
        streams: Vec<usize>,
        #[command(flatten)]
        load: AgentLoadArgs,
    },
    /// Barge-in: N concurrent callers that talk over the agent's replies, per transport; stop time and reply
    /// time at the caller.
    BargeIn {
        #[arg(long, default_value = "1,10,50", value_delimiter = ',')]
        calls: Vec<usize>,
        #[arg(long, value_enum, default_value = "sip,ws", value_delimiter = ',')]
        transport: Vec<barge_in_run::Transport>,
        /// `demo` (local models) or `bench` (instant stand-ins).
        #[arg(long, default_value = "demo")]
        agent: String,
        /// Utterances per call: a question, then interruptions.
        #[arg(long, default_value_t = 6)]
        utterances: usize,
        /// How long each reply plays at the caller before it talks over it (default: demo 800, bench 200; the
        /// bench agent's reply is 720 ms of tone).
        #[arg(long)]
        barge_after_ms: Option<u64>,
        /// How long a caller waits for a reply before it says its next line (seconds).
        #[arg(long, default_value_t = 30)]
        reply_timeout: u64,
        /// Each call is hung up after this, finished or not.
        #[arg(long, default_value_t = 240)]
        call_timeout: u64,
        /// Model cache (default: $VOICERA_MODELS_DIR or target/models-cache).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// The voicera binary (default: target/release/voicera).
        #[arg(long)]
        voicera: Option<PathBuf>,
        /// How that binary was built, written into the report.
        #[arg(long, default_value = "release")]
        build: String,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// An outbound campaign of N contacts against a sipp carrier that answers with a short reply, for each
    /// live-call limit: concurrency reached at the carrier, calls/s, set-up latency, the server's CPU.
    Campaign {
        /// Contacts in the list.
        #[arg(long, default_value_t = 1000)]
        contacts: usize,
        /// Live-call limits (`max_live_calls`), comma-separated: one run each.
        #[arg(long, default_value = "50,100", value_delimiter = ',')]
        limits: Vec<u32>,
        /// The campaign's `calls_per_second` (1 to 100).
        #[arg(long, default_value_t = 100)]
        calls_per_second: u32,
        /// How long the carrier holds each answered call (its reply plays meanwhile), ms.
        #[arg(long, default_value_t = 3000)]
        hold_ms: u64,
        /// The voicera binary (default: target/release/voicera).
        #[arg(long)]
        voicera: Option<PathBuf>,
        /// How that binary was built, written into the report.
        #[arg(long, default_value = "release")]
        build: String,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// The floor: a bare C epoll UDP echo (bench/c/udp_echo.c) under the packet rate of N echo calls.
    CBaseline {
        #[arg(long, default_value = "10,100,500", value_delimiter = ',')]
        flows: Vec<usize>,
        #[arg(long, default_value_t = 40)]
        seconds: u64,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// The control plane's API over a large call history: the meetings list (filters, sorts, page 1 and the
    /// last page), analytics, agent reads and logins; requests/s and p50/p99 (in process, no socket).
    Api {
        /// Call records of the measured org.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Requests per scenario.
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Requests in flight for the throughput figure.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Measure MongoDB: a SecantusDB (MongoDB wire protocol) the bench starts, storage in the work
        /// directory; results in `api-mongodb.{json,md}`.
        #[arg(long, conflicts_with = "mongodb_uri")]
        mongodb: bool,
        /// The SecantusDB program `--mongodb` starts (default: the workspace's `.venv/bin/secantusd-py`, else
        /// `secantusd-py` on PATH).
        #[arg(long, requires = "mongodb")]
        secantusd: Option<PathBuf>,
        /// Measure the MongoDB at this URI instead of SQLite (its database `voicera_bench_api` is dropped and
        /// filled); results in `api-mongodb.{json,md}`.
        #[arg(long)]
        mongodb_uri: Option<String>,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// Answering-machine detection accuracy on the labelled set `scripts/amd-clips.sh` builds.
    Amd {
        /// The clips and their labels.csv.
        #[arg(long, default_value = "/tmp/amd-clips")]
        clips: PathBuf,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// Speed of the local engines (Whisper, SmolLM2, espeak-ng, VAD) on this machine.
    Models {
        /// Model cache (default: $VOICERA_MODELS_DIR or target/models-cache).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// The JFK sample (scripts/setup.sh puts it in tests/data).
        #[arg(long, default_value = "tests/data/jfk.wav")]
        jfk: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// Fallback chains: the time to a turn's first result for a single client, a healthy chain, a first link
    /// that is refused, one that stalls until its `timeout_ms`, and one whose breaker is open, for STT, LLM and
    /// TTS, against local fakes of the providers.
    Fallback {
        /// Measured runs per scenario.
        #[arg(long, default_value_t = 1000)]
        runs: usize,
        /// Measured runs of the stalled-first-link scenario (each waits its timeout).
        #[arg(long, default_value_t = 50)]
        stall_runs: usize,
        /// The stalled link's `timeout_ms`.
        #[arg(long, default_value_t = 250)]
        stall_timeout_ms: u64,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// The local LLM's first token on each turn of a six-turn call, with and without the conversation cache
    /// (in process, back to back).
    LlmTurns {
        /// Model cache (default: $VOICERA_MODELS_DIR or target/models-cache).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Local language models, comma-separated.
        #[arg(long, default_value = "smollm2-135m", value_delimiter = ',')]
        model: Vec<String>,
        /// Conversations per mode (the modes alternate).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
}

/// What the agent scenarios share: how long each caller talks, which server, where reports go.
#[derive(Debug, clap::Args)]
struct AgentLoadArgs {
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The voicera binary (default: target/release/voicera).
    #[arg(long)]
    voicera: Option<PathBuf>,
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
}

/// One run's figures.
#[derive(Debug, Serialize)]
struct SipEchoReport {
    scenario: &'static str,
    concurrent_calls: usize,
    call_seconds: u64,
    calls_completed: u64,
    calls_failed: u64,
    /// Server CPU while all calls were up, in % of one core per call.
    cpu_percent_of_core_per_call: f64,
    /// Server CPU while idle before the calls, % of one core.
    idle_cpu_percent: f64,
    /// (RSS under load − idle RSS) / calls, MB.
    rss_mb_per_call: f64,
    idle_rss_mb: f64,
    loaded_rss_mb: f64,
    setup_ms_p50: f64,
    setup_ms_p90: f64,
    setup_ms_p99: f64,
    rtp_packets_received: f64,
    rtp_packets_sent: f64,
    rtp_lost: f64,
    rtp_loss_percent: f64,
    machine: String,
}

fn main() -> Result<()> {
    // RUST_LOG=voicera_models_local=debug shows per-stage model timings.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    match Cli::parse().command {
        Scenario::Sip { calls, seconds, media, voicera, out } => {
            let voicera = release_binary(voicera)?;
            std::fs::create_dir_all(&out)?;
            // sipp runs inside the work directory: every path handed to it must be absolute.
            let out = out.canonicalize()?;
            let work = out.join("work");
            std::fs::create_dir_all(&work)?;
            let (action, name) = match media {
                SipMedia::Pcap => {
                    let pcap = work.join("speech-pcmu.pcap");
                    pcap::speech_pcap(&pcap, seconds as f64 + 2.0)?;
                    (format!("<exec play_pcap_audio=\"{}\"/>", pcap.display()), "sip-echo")
                }
                SipMedia::RtpStream => {
                    let ulaw = work.join("speech.ul");
                    pcap::speech_ulaw(&ulaw)?;
                    // Looped for the whole call (-1), payload type 0 (PCMU).
                    (format!("<exec rtp_stream=\"{},-1,0\"/>", ulaw.display()), "sip-echo-rtpstream")
                }
            };
            let mut reports = Vec::new();
            for n in calls {
                eprintln!("== {n} concurrent echo calls for {seconds} s ({media:?})");
                let report = sip_echo(&voicera, n, seconds, &action, &work)?;
                eprintln!("{}", serde_json::to_string_pretty(&report)?);
                std::fs::write(out.join(format!("{name}-{n}.json")), serde_json::to_string_pretty(&report)?)?;
                reports.push(report);
            }
            std::fs::write(out.join(format!("{name}.md")), markdown(&reports, media))?;
            Ok(())
        }
        Scenario::SipAgent { calls, load: AgentLoadArgs { seconds, voicera, out } } => {
            let voicera = release_binary(voicera)?;
            agent_series(&out, "sip-agent", &calls, sip_agent::markdown, |n, work| {
                eprintln!("== {n} concurrent SIP calls to the bench agent for {seconds} s");
                sip_agent::run(&voicera, n, seconds, work, sip_agent::Callee::BenchAgent)
            })
        }
        Scenario::SipEchoUa { calls, load: AgentLoadArgs { seconds, voicera, out } } => {
            let voicera = release_binary(voicera)?;
            agent_series(&out, "sip-echo-ua", &calls, sip_agent::echo_markdown, |n, work| {
                eprintln!("== {n} concurrent SIP echo calls (own user agents) for {seconds} s");
                sip_agent::run(&voicera, n, seconds, work, sip_agent::Callee::Echo)
            })
        }
        Scenario::Ws { streams, load: AgentLoadArgs { seconds, voicera, out } } => {
            let voicera = release_binary(voicera)?;
            agent_series(&out, "ws", &streams, ws::markdown, |n, work| {
                eprintln!("== {n} concurrent Vobiz streams for {seconds} s");
                ws::run(&voicera, n, seconds, work)
            })
        }
        Scenario::BargeIn {
            calls,
            transport,
            agent,
            utterances,
            barge_after_ms,
            reply_timeout,
            call_timeout,
            models_dir,
            voicera,
            build,
            out,
        } => {
            let voicera = release_binary(voicera)?;
            let agent: &'static str = match agent.as_str() {
                "demo" => "demo",
                "bench" => "bench",
                other => bail!("--agent {other}: demo or bench"),
            };
            let models_dir = models_dir.unwrap_or_else(models::default_models_dir);
            let settings = barge_in_run::Settings {
                agent,
                utterances,
                barge_after: Duration::from_millis(barge_after_ms.unwrap_or(if agent == "demo" { 800 } else { 200 })),
                reply_timeout: Duration::from_secs(reply_timeout),
                call_timeout: Duration::from_secs(call_timeout),
                stagger: Duration::from_millis(100),
                models_dir: std::path::absolute(models_dir)?,
                build,
            };
            std::fs::create_dir_all(out.join("work"))?;
            for &transport in &transport {
                for &n in &calls {
                    eprintln!("== barge-in: {n} concurrent {transport:?} callers to {agent}");
                    let report = barge_in_run::run(&voicera, transport, n, &settings, &out.join("work"))?;
                    let json = serde_json::to_string_pretty(&report)?;
                    eprintln!("{json}");
                    std::fs::write(barge_in_run::report_path(&out, &report), json)?;
                    std::fs::write(out.join("barge-in.md"), barge_in_run::markdown(&out)?)?;
                }
            }
            Ok(())
        }
        Scenario::Campaign { contacts, limits, calls_per_second, hold_ms, voicera, build, out } => {
            let voicera = release_binary(voicera)?;
            if !(1..=100).contains(&calls_per_second) {
                bail!("--calls-per-second {calls_per_second}: 1 to 100");
            }
            std::fs::create_dir_all(out.join("work"))?;
            // sipp runs inside the work directory: every path handed to it must be absolute.
            let out = out.canonicalize()?;
            let settings = campaign::Settings { contacts, calls_per_second, hold_ms, build };
            let mut reports = Vec::new();
            for limit in limits {
                eprintln!("== campaign: {contacts} contacts, at most {limit} live calls");
                let report = campaign::run(&voicera, limit, &settings, &out.join("work"))?;
                let json = serde_json::to_string_pretty(&report)?;
                eprintln!("{json}");
                std::fs::write(out.join(format!("campaign-{limit}.json")), json)?;
                reports.push(report);
            }
            std::fs::write(out.join("campaign.md"), campaign::markdown(&reports))?;
            println!("{}", campaign::markdown(&reports));
            Ok(())
        }
        Scenario::CBaseline { flows, seconds, out } => {
            std::fs::create_dir_all(out.join("work"))?;
            let echo = c_baseline::build(&out.join("work"))?;
            let mut reports = Vec::new();
            for n in flows {
                eprintln!("== C UDP echo, {n} flows for {seconds} s");
                let report = c_baseline::run(&echo, n, seconds)?;
                eprintln!("{}", serde_json::to_string_pretty(&report)?);
                reports.push(report);
            }
            std::fs::write(out.join("c-baseline.json"), serde_json::to_string_pretty(&reports)?)?;
            std::fs::write(out.join("c-baseline.md"), c_baseline::markdown(&reports))?;
            Ok(())
        }
        Scenario::Api { records, requests, concurrency, mongodb, secantusd, mongodb_uri, out } => {
            std::fs::create_dir_all(out.join("work"))?;
            let backend = match (mongodb, mongodb_uri) {
                (_, Some(uri)) => api::Backend::Mongo(uri),
                (true, None) => api::Backend::Secantus(secantus::program(secantusd.as_deref())),
                (false, None) => api::Backend::Sqlite,
            };
            let name = backend.file_stem();
            let settings = api::Settings { records, requests, concurrency: concurrency.max(1), backend };
            let report = api::run(&settings, &out.join("work"))?;
            std::fs::write(out.join(format!("{name}.json")), serde_json::to_string_pretty(&report)?)?;
            std::fs::write(out.join(format!("{name}.md")), api::markdown(&report))?;
            println!("{}", api::markdown(&report));
            Ok(())
        }
        Scenario::Amd { clips, out } => {
            let report = amd::run(&clips)?;
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("amd.json"), serde_json::to_string_pretty(&report)?)?;
            std::fs::write(out.join("amd.md"), amd::markdown(&report))?;
            println!("{}", amd::markdown(&report));
            Ok(())
        }
        Scenario::Models { models_dir, jfk, runs, out } => {
            let report = models::run(&models_dir.unwrap_or_else(models::default_models_dir), &jfk, runs)?;
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("models.json"), serde_json::to_string_pretty(&report)?)?;
            std::fs::write(out.join("models.md"), models::markdown(&report))?;
            println!("{}", models::markdown(&report));
            Ok(())
        }
        Scenario::Fallback { runs, stall_runs, stall_timeout_ms, out } => {
            if runs == 0 || stall_runs == 0 || stall_timeout_ms == 0 {
                bail!("--runs, --stall-runs and --stall-timeout-ms must be at least 1");
            }
            let settings =
                fallback::Settings { runs, stall_runs, stall_timeout: Duration::from_millis(stall_timeout_ms) };
            let report = fallback::run(&settings)?;
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("fallback.json"), serde_json::to_string_pretty(&report)?)?;
            std::fs::write(out.join("fallback.md"), fallback::markdown(&report))?;
            println!("{}", fallback::markdown(&report));
            Ok(())
        }
        Scenario::LlmTurns { models_dir, model, rounds, out } => {
            let models_dir = models_dir.unwrap_or_else(models::default_models_dir);
            std::fs::create_dir_all(&out)?;
            for name in model {
                let report = llm_turns::run(&models_dir, &name, rounds)?;
                std::fs::write(out.join(format!("llm-turns-{name}.json")), serde_json::to_string_pretty(&report)?)?;
                println!("{}", llm_turns::markdown(&report));
            }
            Ok(())
        }
    }
}

/// Starts a server in `dir` and runs `n` agent callers against it ([`turns::drive`]); `make_caller` builds
/// the caller from the server's addresses. The server's `/metrics` is kept beside its log.
fn run_load<C, F, Fut>(
    voicera: &Path,
    dir: &Path,
    rtp_ports: &str,
    label: (&'static str, &'static str),
    (n, seconds): (usize, u64),
    make_caller: C,
) -> Result<turns::AgentReport>
where
    C: FnOnce(&Server) -> F,
    F: Fn(usize, std::sync::Arc<std::sync::Mutex<Vec<f64>>>) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let server = start_server(voicera, dir, rtp_ports)?;
    let report = turns::drive(label, server.pid(), n, seconds, make_caller(&server))
        .with_context(|| format!("see {}", dir.display()));
    std::fs::write(dir.join("metrics.txt"), http_get(server.http, "/metrics").unwrap_or_default())?;
    report
}

/// Runs an agent scenario for each count, writing `<name>-<n>.json` per run and `<name>.md` for the series.
fn agent_series(
    out: &Path,
    name: &str,
    counts: &[usize],
    markdown: fn(&[turns::AgentReport]) -> String,
    run: impl Fn(usize, &Path) -> Result<turns::AgentReport>,
) -> Result<()> {
    std::fs::create_dir_all(out.join("work"))?;
    let mut reports = Vec::new();
    for &n in counts {
        let report = run(n, &out.join("work"))?;
        eprintln!("{}", serde_json::to_string_pretty(&report)?);
        std::fs::write(out.join(format!("{name}-{n}.json")), serde_json::to_string_pretty(&report)?)?;
        reports.push(report);
    }
    std::fs::write(out.join(format!("{name}.md")), markdown(&reports))?;
    Ok(())
}

/// The voicera binary to load: the one given, else the release build.
fn release_binary(voicera: Option<PathBuf>) -> Result<PathBuf> {
    let voicera = voicera.unwrap_or_else(|| PathBuf::from("target/release/voicera"));
    if !voicera.exists() {
        bail!("{} not found: run `cargo build --release` first", voicera.display());
    }
    Ok(voicera)
}

fn free_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `voicera serve` under test, killed when dropped.
struct Server {
    process: Killed,
    http: SocketAddr,
    sip: SocketAddr,
}

impl Server {
    fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// Starts `voicera serve` on free loopback ports with its data in `dir` (emptied first; the log goes to
/// `dir/server.log`), without the demo agent, and waits until it is healthy and settled.
fn start_server(voicera: &Path, dir: &Path, rtp_ports: &str) -> Result<Server> {
    start_server_with(voicera, dir, rtp_ports, "", &[("RUST_LOG", "warn"), ("VOICERA_DEMO_AGENT", "0")])
}

/// [`start_server`] with `config` as its voicera.toml and `env` (which must say `RUST_LOG` and
/// `VOICERA_DEMO_AGENT`).
fn start_server_with(
    voicera: &Path,
    dir: &Path,
    rtp_ports: &str,
    config: &str,
    env: &[(&str, &str)],
) -> Result<Server> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let sip = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let config_path = dir.join("voicera.toml");
    std::fs::write(&config_path, config)?;
    let child = Command::new(voicera)
        .args(["serve", "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--sip", &sip.to_string(), "--http", &http.to_string(), "--rtp-ports", rtp_ports])
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("server.log"))?)
        .spawn()
        .context("start voicera")?;
    let server = Server { process: Killed(child), http, sip };
    wait_healthy(http)?;
    std::thread::sleep(Duration::from_secs(1));
    Ok(server)
}

fn sip_echo(voicera: &Path, calls: usize, seconds: u64, media_action: &str, work: &Path) -> Result<SipEchoReport> {
    let dir = work.join(format!("sip-echo-{calls}"));
    let server = start_server(voicera, &dir, "30000-34000")?;
    let (pid, http, sip) = (server.pid(), server.http, server.sip);
    let idle_start = procfs::sample(pid)?;
    std::thread::sleep(Duration::from_secs(3));
    let idle_end = procfs::sample(pid)?;

    let scenario = dir.join("load.xml");
    std::fs::write(&scenario, load_scenario(media_action, seconds))?;
    // Ramp at 50 calls/s so set-up times measure the server, not a thundering herd.
    let rate = calls.min(50).to_string();
    let sipp = Command::new("sipp")
        .arg(sip.to_string())
        .arg("-sf")
        .arg(&scenario)
        .args(["-i", "127.0.0.1", "-p", &free_port()?.to_string(), "-mp", "40000"])
        .args(["-m", &calls.to_string(), "-l", &calls.to_string(), "-r", &rate])
        .args(["-trace_rtt", "-rtt_freq", "1", "-nostdin", "-timeout", &(seconds + 120).to_string()])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start sipp")?;
    let mut sipp = Killed(sipp);
    // Measure the steady state: from when all calls are up until shortly before they end.
    let ramp = Duration::from_secs_f64(calls as f64 / 50.0 + 2.0);
    std::thread::sleep(ramp);
    let load_start = procfs::sample(pid)?;
    let window = Duration::from_secs(seconds).saturating_sub(ramp + Duration::from_secs(2)).max(Duration::from_secs(3));
    std::thread::sleep(window);
    let load_end = procfs::sample(pid)?;
    let deadline = Instant::now() + Duration::from_secs(seconds + 120);
    let status = loop {
        if let Some(status) = sipp.0.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            bail!("sipp did not finish");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let metrics = http_get(http, "/metrics").unwrap_or_default();
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    };
    let completed = metric("voicera_calls_total{result=\"completed\"}") as u64;
    let setup = rtt_percentiles(&dir)?;
    let received = metric("voicera_rtp_packets_received_total");
    let lost = metric("voicera_jitter_lost_total");
    if !status.success() && completed == 0 {
        bail!("sipp failed ({status}) and no call completed; see {}", dir.display());
    }
    Ok(SipEchoReport {
        scenario: "sip-echo-pcmu",
        concurrent_calls: calls,
        call_seconds: seconds,
        calls_completed: completed,
        calls_failed: calls as u64 - completed.min(calls as u64),
        cpu_percent_of_core_per_call: procfs::cpu_percent(&load_start, &load_end) / calls as f64,
        idle_cpu_percent: procfs::cpu_percent(&idle_start, &idle_end),
        rss_mb_per_call: (load_end.rss_kb as f64 - idle_end.rss_kb as f64) / 1024.0 / calls as f64,
        idle_rss_mb: idle_end.rss_kb as f64 / 1024.0,
        loaded_rss_mb: load_end.rss_kb as f64 / 1024.0,
        setup_ms_p50: setup.0,
        setup_ms_p90: setup.1,
        setup_ms_p99: setup.2,
        rtp_packets_received: received,
        rtp_packets_sent: metric("voicera_rtp_packets_sent_total"),
        rtp_lost: lost,
        rtp_loss_percent: if received > 0.0 { 100.0 * lost / (received + lost) } else { 0.0 },
        machine: procfs::machine(),
    })
}

fn wait_healthy(http: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http_get(http, "/health").is_some_and(|b| b.contains("\"ok\"")) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("server not healthy")
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// p50/p90/p99 of INVITE→200 from sipp's `*_rtt.csv` (columns: date;dateMs;response_time;rtd_no).
fn rtt_percentiles(dir: &Path) -> Result<(f64, f64, f64)> {
    let mut times = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with("_rtt.csv") {
            for line in std::fs::read_to_string(&path)?.lines().skip(1) {
                if let Some(ms) = line.split(';').nth(2).and_then(|v| v.trim().parse::<f64>().ok()) {
                    times.push(ms);
                }
            }
        }
    }
    if times.is_empty() {
        return Ok((0.0, 0.0, 0.0));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok((pick(0.5), pick(0.9), pick(0.99)))
}

fn load_scenario(media_action: &str, seconds: u64) -> String {
    include_str!("../scenarios/echo_load.xml")
        .replace("@MEDIA_ACTION@", media_action)
        .replace("@PAUSE_MS@", &(seconds * 1000).to_string())
}

fn markdown(reports: &[SipEchoReport], media: SipMedia) -> String {
    let how = match media {
        SipMedia::Pcap => "pcap replay through a raw socket per call",
        SipMedia::RtpStream => "rtp_stream from each call's UDP socket",
    };
    let mut out = format!(
        "# SIP echo load (sipp, PCMU speech: {how})\n\n| calls | completed | CPU % of a core per call | RSS MB per call | set-up p50/p90/p99 ms | RTP loss % |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {:.4} | {:.3} | {:.1} / {:.1} / {:.1} | {:.3} |\n",
            r.concurrent_calls,
            r.calls_completed,
            r.cpu_percent_of_core_per_call,
            r.rss_mb_per_call,
            r.setup_ms_p50,
            r.setup_ms_p90,
            r.setup_ms_p99,
            r.rtp_loss_percent
        ));
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nMachine: {}. Each call lasts {} s; CPU and RSS are sampled from /proc while all calls are up.\n",
            r.machine, r.call_seconds
        ));
    }
    out
}
