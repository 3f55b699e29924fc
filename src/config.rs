//! Node configuration: built-in defaults, then `voicera.toml`, then `VOICERA_*` environment and flags, compiled
//! into one checked [`Config`]. `voicera config check` runs the same compilation.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use voicera_media::codec::CodecKind;
use voicera_media::conversation::agent::{check_template, AgentTool, CallLimits, HttpTool, InteractionMode};
use voicera_media::conversation::knowledge::KnowledgeBase;
use voicera_media::conversation::turn::TurnPolicy;
use voicera_media::sip_rtp::{InboundAuth, TrunkConfig};
use voicera_media::vad::VadParams;
use voicera_media::ws_stream::{AudioFormat, Provider, ProviderAccount};
use voicera_sip::TransportKind;

/// HTTP listen address: all interfaces, the port the original's docs use for the voice server's API.
pub const DEFAULT_HTTP: &str = "0.0.0.0:8080";
/// SIP's registered port (RFC 3261 §19.1.2).
pub const DEFAULT_SIP: &str = "0.0.0.0:5060";
/// RTP range: 5000 port pairs, enough for the 1000-call target with room for ports other programs hold.
pub const DEFAULT_RTP_PORTS: (u16, u16) = (10000, 20000);
/// Drain time on SIGTERM before remaining calls get a BYE: long enough for most calls to end naturally
/// behind a dispatcher that stopped sending new ones.
pub const DEFAULT_DRAIN_SECS: u64 = 30;
/// End a call after this much RTP silence from a peer that should be sending (dead peer, NAT timeout).
pub const DEFAULT_RTP_TIMEOUT_SECS: u64 = 60;

/// Flags and environment common to `serve`, `media` and `api` (interfaces.md).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NodeArgs {
    /// Configuration file (default: ./voicera.toml when present).
    #[arg(long, env = "VOICERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: SQLite DB, blobs, model cache, spool. Created if missing.
    #[arg(long, env = "VOICERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address (API, console, webhooks, media WebSockets, /metrics, /health).
    #[arg(long, env = "VOICERA_HTTP")]
    pub http: Option<SocketAddr>,
    /// SIP listen address, UDP and TCP.
    #[arg(long, env = "VOICERA_SIP")]
    pub sip: Option<SocketAddr>,
    /// RTP port range LO-HI.
    #[arg(long, env = "VOICERA_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Public base URL used to build webhook and stream URLs.
    #[arg(long, env = "VOICERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Address put in SDP and Contact (for NAT).
    #[arg(long, env = "VOICERA_EXTERNAL_IP")]
    pub external_ip: Option<IpAddr>,
    /// Log format: human or json.
    #[arg(long, env = "VOICERA_LOG_FORMAT", default_value = "human")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// `voicera.toml` as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    sip: RawSip,
    #[serde(default)]
    trunks: Vec<RawTrunk>,
    #[serde(default)]
    bench: RawBench,
    #[serde(default)]
    models: RawModels,
    #[serde(default)]
    telephony: RawTelephony,
    #[serde(default)]
    agents: Vec<RawAgent>,
}

/// `[[agents]]`: an agent on local models, with the original VoicEra's field names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: String,
    #[serde(default)]
    numbers: Vec<String>,
    system_prompt: String,
    #[serde(default)]
    greeting_message: String,
    language: Option<String>,
    stt_model: Option<String>,
    stt_decoding: Option<String>,
    llm_model: Option<String>,
    /// An OpenAI-compatible API root (OpenAI, vLLM, llama.cpp server, Ollama): `llm_model` is then its model.
    llm_base_url: Option<String>,
    /// The environment variable holding that API's key (keys stay out of the file).
    llm_api_key_env: Option<String>,
    tts_model: Option<String>,
    tts_voice: Option<String>,
    interaction_mode: Option<String>,
    ignore_user_speech_before_greeting: Option<bool>,
    interruption_min_words: Option<u32>,
    user_silence_hangup_seconds: Option<u64>,
    call_timeout_seconds: Option<u64>,
    user_online_detection_seconds: Option<u64>,
    user_online_detection_message: Option<String>,
    hang_up_on_farewell: Option<bool>,
    #[serde(default)]
    hold_messages: Vec<String>,
    hold_message_timeout_seconds: Option<f64>,
    vad_profile: Option<String>,
    /// `silero` (default) or `energy`.
    vad_model: Option<String>,
    /// `silence` (default: the VAD's stop time ends a turn) or `punctuation` (a finished sentence ends it
    /// after 0.2 s).
    turn_detection: Option<String>,
    utc_offset: Option<String>,
    record: Option<bool>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    transfer_targets: Vec<String>,
    #[serde(default)]
    http_tools: Vec<RawHttpTool>,
    /// Text or Markdown files (relative to the configuration file) behind the `knowledge_lookup` tool.
    #[serde(default)]
    knowledge: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTool {
    name: String,
    description: String,
    /// JSON Schema of the arguments, as JSON text.
    parameters: Option<String>,
    url: String,
    method: Option<String>,
    timeout_ms: Option<u64>,
    /// `Name: value`, sent with every request.
    header: Option<String>,
}

/// The VAD's speech model for an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechModelChoice {
    /// Silero VAD v6 (accurate; ~36 µs per 20 ms frame, bench/results/models.md).
    Silero,
    /// The adaptive energy model (cheapest).
    Energy,
}

/// What ends a caller's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnDetection {
    /// The VAD's stop time alone (the original's behaviour).
    Silence,
    /// A finished sentence in the transcript, after a short pause; else the stop time.
    Punctuation,
}

/// Which language model an agent thinks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmChoice {
    /// SmolLM2-135M in process.
    Local,
    /// A model on an OpenAI-compatible server; the key is read from `api_key_env` when the agent loads.
    OpenAiCompatible { base_url: String, model: String, api_key_env: Option<String> },
}

/// The local Piper voice (model cache name).
pub const PIPER_VOICE: &str = "piper-en_US-joe-medium";

/// Which local text-to-speech speaks for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtsChoice {
    /// espeak-ng: every language it has, instant, robotic.
    Espeak,
    /// Piper (VITS, ONNX Runtime): a natural English voice.
    Piper,
    /// A Parler-TTS checkpoint on disk (AI4Bharat's Indic Parler-TTS): English and Indian languages, a voice
    /// described in words (`tts_voice`). For GPU nodes: a clause takes seconds on a CPU.
    Parler(PathBuf),
}

/// A configured agent, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub id: String,
    /// Attached numbers, digits only (a leading `+` and spaces are ignored when matching).
    pub numbers: Vec<String>,
    pub system_prompt: String,
    pub greeting: String,
    pub language: String,
    pub stt_model: String,
    /// IndicConformer's decoder (`stt_decoding`: ctc, the default, or rnnt).
    pub stt_decoding: voicera_models_local::indic_conformer::Decoding,
    pub llm: LlmChoice,
    pub tts: TtsChoice,
    /// espeak-ng voice (None: the language's default voice).
    pub tts_voice: Option<String>,
    pub mode: InteractionMode,
    pub policy: TurnPolicy,
    pub vad: VadParams,
    pub speech_model: SpeechModelChoice,
    pub turn_detection: TurnDetection,
    pub limits: CallLimits,
    pub utc_offset_minutes: i32,
    pub record: bool,
    pub tools: Vec<AgentTool>,
}

/// Built-in names an agent id may not take.
const RESERVED_IDS: &[&str] = &["echo", "bench", "demo"];

/// Digits of a phone number, for matching `+91 80000 00001` with `918000000001`.
pub fn normalize_number(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Largest knowledge document read (plain text; PDFs arrive with the control plane's uploads).
const MAX_KNOWLEDGE_FILE: u64 = 5 * 1024 * 1024;

/// `path` as written in the configuration file: absolute, or relative to the file's directory `base`.
fn relative_to(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Reads an agent's knowledge documents (paths relative to `base`) into an index.
fn load_knowledge(at: &str, base: &Path, files: &[PathBuf]) -> Result<KnowledgeBase> {
    let mut documents = Vec::new();
    for file in files {
        let path = relative_to(base, file);
        let size =
            std::fs::metadata(&path).with_context(|| format!("{at}.knowledge: cannot read {}", path.display()))?.len();
        if size > MAX_KNOWLEDGE_FILE {
            bail!("{at}.knowledge: {} is {size} bytes (at most {MAX_KNOWLEDGE_FILE})", path.display());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{at}.knowledge: {} is not UTF-8 text", path.display()))?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        documents.push((name, text));
    }
    let base = KnowledgeBase::from_documents(documents.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    if base.passages() == 0 {
        bail!("{at}.knowledge: the documents hold no text");
    }
    Ok(base)
}

fn compile_agents(raw: Vec<RawAgent>, base_dir: &Path) -> Result<Vec<AgentConfig>> {
    let mut agents: Vec<AgentConfig> = Vec::new();
    for a in raw {
        let at = format!("agents.{}", a.id);
        if a.id.is_empty() || !a.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("agents: id {:?} must be letters, digits, '-' or '_'", a.id);
        }
        if RESERVED_IDS.contains(&a.id.as_str()) {
            bail!("{at}: {:?} is a built-in service; choose another id", a.id);
        }
        if agents.iter().any(|x| x.id == a.id) {
            bail!("agents: duplicate id {:?}", a.id);
        }
        let numbers: Vec<String> = a.numbers.iter().map(|n| normalize_number(n)).collect();
        if let Some(bad) = a.numbers.iter().zip(&numbers).find(|(_, n)| n.len() < 3) {
            bail!("{at}: number {:?} has too few digits", bad.0);
        }
        for n in &numbers {
            if let Some(other) = agents.iter().find(|x| x.numbers.contains(n)) {
                bail!("{at}: number {n} is already attached to agent {:?}", other.id);
            }
        }
        check_template(&a.system_prompt).map_err(|e| anyhow::anyhow!("{at}.system_prompt: {e}"))?;
        check_template(&a.greeting_message).map_err(|e| anyhow::anyhow!("{at}.greeting_message: {e}"))?;
        let language = a.language.unwrap_or_else(|| "en".into());
        voicera_models_local::espeak::voice_for(&language).map_err(|e| anyhow::anyhow!("{at}.language: {e}"))?;
        let stt_model =
            a.stt_model.unwrap_or_else(
                || {
                    if language == "en" {
                        "whisper-tiny.en".into()
                    } else {
                        "whisper-base".into()
                    }
                },
            );
        let stt_model = match stt_model.as_str() {
            "whisper-tiny.en" if language != "en" => {
                bail!("{at}.stt_model: whisper-tiny.en understands English only; use whisper-base for {language:?}")
            }
            "whisper-tiny.en" | "whisper-base" => stt_model,
            // A checkpoint on disk, relative to this file: IndicConformer (it has language masks) or a Hugging
            // Face Whisper (IndicWhisper); whether it knows the agent's language is checked when it loads.
            path if path.contains('/') => {
                let dir = relative_to(base_dir, Path::new(path));
                if !crate::local::is_indic_conformer(&dir)
                    && !dir.join("config.json").is_file()
                    && !dir.join("whisper-config.json").is_file()
                {
                    bail!(
                        "{at}.stt_model: {} is not a Whisper checkpoint directory (no config.json) nor an \
                         IndicConformer one (no language_masks.json)",
                        dir.display()
                    );
                }
                dir.to_string_lossy().into_owned()
            }
            other => bail!(
                "{at}.stt_model: {other:?} is not available (local: whisper-tiny.en, whisper-base, or the path of a \
                 checkpoint directory: IndicWhisper or another Whisper, IndicConformer)"
            ),
        };
        if a.llm_api_key_env.is_some() && a.llm_base_url.is_none() {
            bail!("{at}.llm_api_key_env: only used with llm_base_url");
        }
        let llm = match (a.llm_base_url, a.llm_model) {
            (None, None) => LlmChoice::Local,
            (None, Some(model)) if model == "smollm2-135m" => LlmChoice::Local,
            (None, Some(model)) => bail!(
                "{at}.llm_model: {model:?} is not available locally (smollm2-135m); set llm_base_url to use it on an \
                 OpenAI-compatible server"
            ),
            (Some(base_url), model) => {
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    bail!("{at}.llm_base_url: {base_url:?} must start with http:// or https://");
                }
                let Some(model) = model.filter(|m| !m.trim().is_empty()) else {
                    bail!("{at}.llm_model: name the server's model (e.g. gpt-4o-mini) when llm_base_url is set");
                };
                if let Some(var) = &a.llm_api_key_env {
                    if std::env::var(var).map_or(true, |v| v.is_empty()) {
                        bail!("{at}.llm_api_key_env: the environment variable {var} is not set");
                    }
                }
                LlmChoice::OpenAiCompatible { base_url, model, api_key_env: a.llm_api_key_env }
            }
        };
        let tts = match a.tts_model.as_deref().unwrap_or("espeak") {
            "espeak" | "espeak-ng" => TtsChoice::Espeak,
            "piper" | PIPER_VOICE => {
                if !language.to_ascii_lowercase().starts_with("en") {
                    bail!("{at}.tts_model: the Piper voice speaks English; use espeak for {language:?}");
                }
                if a.tts_voice.is_some() {
                    bail!("{at}.tts_voice names an espeak-ng voice; Piper has one voice ({PIPER_VOICE})");
                }
                TtsChoice::Piper
            }
            path if path.contains('/') => {
                let dir = relative_to(base_dir, Path::new(path));
                if !dir.join("config.json").is_file() {
                    bail!(
                        "{at}.tts_model: {} is not a Parler-TTS checkpoint directory (no config.json)",
                        dir.display()
                    );
                }
                TtsChoice::Parler(dir)
            }
            other => bail!(
                "{at}.tts_model: {other:?} is not available (local: espeak, piper, or the path of an Indic Parler-TTS \
                 checkpoint directory)"
            ),
        };
        let mode = match a.interaction_mode.as_deref().unwrap_or("conversational") {
            "conversational" => InteractionMode::Conversational,
            "non_conversational" => InteractionMode::NonConversational,
            other => bail!("{at}.interaction_mode: {other:?} must be conversational or non_conversational"),
        };
        let vad = match a.vad_profile.as_deref().unwrap_or("default") {
            "default" => VadParams::default(),
            "bhashini" => VadParams::bhashini(),
            other => bail!("{at}.vad_profile: {other:?} must be default or bhashini"),
        };
        let speech_model = match a.vad_model.as_deref().unwrap_or("silero") {
            "silero" => SpeechModelChoice::Silero,
            "energy" => SpeechModelChoice::Energy,
            other => bail!("{at}.vad_model: {other:?} must be silero or energy"),
        };
        let turn_detection = match a.turn_detection.as_deref().unwrap_or("silence") {
            "silence" => TurnDetection::Silence,
            "punctuation" => TurnDetection::Punctuation,
            other => bail!("{at}.turn_detection: {other:?} must be silence or punctuation"),
        };
        let seconds = |v: Option<u64>| v.filter(|s| *s > 0).map(Duration::from_secs);
        let defaults = CallLimits::default();
        let limits = CallLimits {
            user_silence_hangup: seconds(a.user_silence_hangup_seconds),
            call_timeout: match a.call_timeout_seconds {
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
                None => defaults.call_timeout,
            },
            idle_prompt_after: seconds(a.user_online_detection_seconds),
            idle_message: a.user_online_detection_message.unwrap_or(defaults.idle_message),
            hang_up_on_farewell: a.hang_up_on_farewell.unwrap_or(true),
            hold_after: match a.hold_message_timeout_seconds {
                Some(s) if !(0.2..=60.0).contains(&s) => {
                    bail!("{at}.hold_message_timeout_seconds must be between 0.2 and 60")
                }
                Some(s) if !a.hold_messages.is_empty() => Some(Duration::from_secs_f64(s)),
                _ if !a.hold_messages.is_empty() => Some(Duration::from_secs(2)),
                _ => None,
            },
            hold_messages: a.hold_messages,
        };
        let utc_offset_minutes = match a.utc_offset.as_deref() {
            None => 0,
            Some(text) => parse_utc_offset(text).with_context(|| format!("{at}.utc_offset: {text:?} is not ±HH:MM"))?,
        };
        let mut tools = compile_tools(&at, a.tools, a.transfer_targets, a.http_tools)?;
        if !a.knowledge.is_empty() {
            let base = load_knowledge(&at, base_dir, &a.knowledge)?;
            tracing::info!(agent = %a.id, passages = base.passages(), "knowledge documents indexed");
            tools.push(AgentTool::KnowledgeLookup(std::sync::Arc::new(base)));
        }
        agents.push(AgentConfig {
            id: a.id,
            numbers,
            system_prompt: a.system_prompt,
            greeting: a.greeting_message,
            language,
            stt_decoding: match a.stt_decoding.as_deref() {
                None | Some("ctc") => voicera_models_local::indic_conformer::Decoding::Ctc,
                Some("rnnt") if crate::local::is_indic_conformer(Path::new(&stt_model)) => {
                    voicera_models_local::indic_conformer::Decoding::Rnnt
                }
                Some("rnnt") => bail!("{at}.stt_decoding: only an IndicConformer stt_model has an RNNT decoder"),
                Some(other) => bail!("{at}.stt_decoding: {other:?} is not ctc or rnnt"),
            },
            stt_model,
            llm,
            tts,
            tts_voice: a.tts_voice,
            mode,
            policy: TurnPolicy {
                ignore_user_speech_before_greeting: a.ignore_user_speech_before_greeting.unwrap_or(true),
                interruption_min_words: a.interruption_min_words.unwrap_or(1),
            },
            vad,
            speech_model,
            turn_detection,
            limits,
            utc_offset_minutes,
            record: a.record.unwrap_or(true),
            tools,
        });
    }
    Ok(agents)
}

fn compile_tools(
    at: &str,
    names: Vec<String>,
    transfer_targets: Vec<String>,
    http_tools: Vec<RawHttpTool>,
) -> Result<Vec<AgentTool>> {
    let mut tools = Vec::new();
    for name in &names {
        tools.push(match name.as_str() {
            "end_call" => AgentTool::EndCall,
            "send_dtmf" => AgentTool::SendDtmf,
            "transfer_call" => AgentTool::TransferCall { targets: transfer_targets.clone() },
            other => bail!("{at}.tools: unknown tool {other:?} (built-in: end_call, transfer_call, send_dtmf; webhooks go in [[agents.http_tools]])"),
        });
    }
    if !transfer_targets.is_empty() && !names.iter().any(|n| n == "transfer_call") {
        tools.push(AgentTool::TransferCall { targets: transfer_targets });
    }
    for t in http_tools {
        let where_ = format!("{at}.http_tools.{}", t.name);
        if t.name.is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("{where_}: the name must be letters, digits and '_'");
        }
        if tools.iter().any(|x: &AgentTool| x.name() == t.name) {
            bail!("{where_}: a tool with this name already exists");
        }
        if !(t.url.starts_with("http://") || t.url.starts_with("https://")) {
            bail!("{where_}: url must start with http:// or https://");
        }
        let parameters = t.parameters.unwrap_or_else(|| r#"{"type":"object","properties":{}}"#.into());
        match serde_json::from_str::<serde_json::Value>(&parameters) {
            Ok(serde_json::Value::Object(_)) => {}
            _ => bail!("{where_}: parameters must be a JSON Schema object (as JSON text)"),
        }
        let method = t.method.unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
        if method != "POST" && method != "GET" {
            bail!("{where_}: method must be GET or POST");
        }
        let header = match t.header {
            Some(h) => match h.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => Some((k.trim().to_string(), v.trim().to_string())),
                _ => bail!("{where_}: header must be \"Name: value\""),
            },
            None => None,
        };
        tools.push(AgentTool::Http(HttpTool {
            name: t.name,
            description: t.description,
            parameters,
            url: t.url,
            method,
            timeout: Duration::from_millis(t.timeout_ms.unwrap_or(3000).clamp(100, 30_000)),
            header,
        }));
    }
    Ok(tools)
}

/// `+05:30` → 330 minutes.
fn parse_utc_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// `[telephony]`: provider media streams and their webhooks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelephony {
    /// What Vobiz/Plivo are asked to send: `audio/x-mulaw;rate=8000` (default) or `audio/x-l16;rate=8000|16000`.
    stream_format: Option<String>,
    /// Agents whose streams need no token (default: the built-in `bench`).
    open_agents: Option<Vec<String>>,
    vobiz: Option<RawAccount>,
    plivo: Option<RawAccount>,
    twilio: Option<RawAccount>,
    exotel: Option<RawAccount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    auth_id: Option<String>,
    auth_token: Option<String>,
    /// The provider's REST API base URL (default: its public API).
    api_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModels {
    inference_threads: Option<usize>,
    whisper_backend: Option<String>,
    demo_agent: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBench {
    record: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    data_dir: Option<PathBuf>,
    http: Option<SocketAddr>,
    sip: Option<SocketAddr>,
    rtp_ports: Option<String>,
    public_url: Option<String>,
    external_ip: Option<IpAddr>,
    drain_secs: Option<u64>,
    /// MongoDB for agents, numbers and call history instead of the embedded SQLite (`VOICERA_MONGODB_URI`).
    mongodb_uri: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSip {
    codecs: Option<Vec<String>>,
    answer_delay_ms: Option<u64>,
    rtp_timeout_secs: Option<u64>,
    t1_ms: Option<u64>,
    auth: Option<String>,
    realm: Option<String>,
    #[serde(default)]
    users: Vec<RawUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunk {
    name: String,
    registrar: String,
    username: Option<String>,
    password: Option<String>,
    realm: Option<String>,
    register: Option<bool>,
    expires: Option<u32>,
    transport: Option<String>,
    numbers: Option<Vec<String>>,
}

/// The checked configuration of a node.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `VOICERA_MONGODB_URI` / `[server] mongodb_uri`: the store is MongoDB; else SQLite in the data dir.
    pub mongodb_uri: Option<String>,
    pub http: SocketAddr,
    pub sip: SocketAddr,
    pub rtp_ports: (u16, u16),
    pub public_url: String,
    pub external_ip: Option<IpAddr>,
    pub drain: Duration,
    pub codecs: Vec<CodecKind>,
    pub answer_delay: Duration,
    pub rtp_timeout: Duration,
    pub t1: Duration,
    pub trunks: Vec<TrunkConfig>,
    pub inbound_auth: InboundAuth,
    /// Whether the built-in `bench` agent stores transcripts and recordings (off: it measures the server).
    pub bench_record: bool,
    /// Threads of the model inference pool (0: one per core).
    pub inference_threads: usize,
    /// `[models] whisper_backend` (`VOICERA_WHISPER_BACKEND`): candle (default) or whisper.cpp.
    pub whisper_backend: voicera_models_local::whisper::WhisperBackend,
    /// Load the built-in `demo` agent (local models, fetched on first use).
    pub demo_agent: bool,
    /// Provider accounts (webhook signature keys), stream format, open agents.
    pub telephony: TelephonySettings,
    /// `[[agents]]`.
    pub agents: Vec<AgentConfig>,
    /// Where the configuration came from, for the start-up log.
    pub source: Option<PathBuf>,
}

impl Config {
    /// Loads and checks the configuration for `args`.
    pub fn load(args: &NodeArgs) -> Result<Config> {
        let (raw, source) = match &args.config {
            Some(path) => (read_file(path)?, Some(path.clone())),
            None if Path::new("voicera.toml").exists() => {
                (read_file(Path::new("voicera.toml"))?, Some(PathBuf::from("voicera.toml")))
            }
            None => (RawConfig::default(), None),
        };
        compile(raw, args, source)
    }
}

fn read_file(path: &Path) -> Result<RawConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
}

fn compile(raw: RawConfig, args: &NodeArgs, source: Option<PathBuf>) -> Result<Config> {
    let http = args.http.or(raw.server.http).unwrap_or_else(|| parse_default(DEFAULT_HTTP));
    let sip = args.sip.or(raw.server.sip).unwrap_or_else(|| parse_default(DEFAULT_SIP));
    let rtp_ports = match args.rtp_ports.as_deref().or(raw.server.rtp_ports.as_deref()) {
        Some(text) => parse_port_range(text)?,
        None => DEFAULT_RTP_PORTS,
    };
    let public_url = args
        .public_url
        .clone()
        .or(raw.server.public_url)
        .unwrap_or_else(|| format!("http://{http}"))
        .trim_end_matches('/')
        .to_string();
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        bail!("server.public_url / --public-url must start with http:// or https:// (got {public_url:?})");
    }
    let codecs = match raw.sip.codecs {
        Some(names) => names
            .iter()
            .map(|n| {
                CodecKind::from_config_name(n).with_context(|| {
                    format!("sip.codecs: unknown codec {n:?} (known: opus, g722, pcmu, pcma, l16, l16/8000)")
                })
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![CodecKind::Opus, CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma],
    };
    if codecs.is_empty() {
        bail!("sip.codecs must name at least one codec");
    }
    let inbound_auth = match raw.sip.auth.as_deref().unwrap_or("none") {
        "none" => InboundAuth::None,
        "digest" => {
            if raw.sip.users.is_empty() {
                bail!("sip.auth = \"digest\" needs at least one [[sip.users]] entry (username, password)");
            }
            InboundAuth::Digest {
                realm: raw.sip.realm.clone().unwrap_or_else(|| "voicera".into()),
                users: raw.sip.users.iter().map(|u| (u.username.clone(), u.password.clone())).collect(),
            }
        }
        other => bail!("sip.auth = {other:?} must be \"none\" or \"digest\""),
    };
    let t1 = Duration::from_millis(raw.sip.t1_ms.unwrap_or(500));
    if t1 < Duration::from_millis(50) || t1 > Duration::from_secs(5) {
        bail!("sip.t1_ms must be between 50 and 5000");
    }
    let mut trunks = Vec::new();
    for t in raw.trunks {
        if trunks.iter().any(|x: &TrunkConfig| x.name == t.name) {
            bail!("trunks: duplicate name {:?}", t.name);
        }
        if voicera_sip::header::split_host_port(&t.registrar).is_none() {
            bail!("trunks.{}: registrar {:?} is not host[:port]", t.name, t.registrar);
        }
        let transport = match t.transport.as_deref().unwrap_or("udp") {
            "udp" => TransportKind::Udp,
            "tcp" => TransportKind::Tcp,
            other => bail!("trunks.{}: transport {other:?} must be udp or tcp", t.name),
        };
        let register = t.register.unwrap_or(false);
        let username = t.username.unwrap_or_default();
        if register && username.is_empty() {
            bail!("trunks.{}: register = true needs a username", t.name);
        }
        let expires = t.expires.unwrap_or(300);
        if register && !(30..=86400).contains(&expires) {
            bail!("trunks.{}: expires must be between 30 and 86400 seconds", t.name);
        }
        trunks.push(TrunkConfig {
            name: t.name,
            registrar: t.registrar,
            username,
            password: t.password.unwrap_or_default(),
            realm: t.realm.filter(|r| !r.is_empty()),
            register,
            expires,
            transport,
            numbers: t.numbers.unwrap_or_default(),
        });
    }
    Ok(Config {
        data_dir: args.data_dir.clone().or(raw.server.data_dir).unwrap_or_else(|| PathBuf::from("./data")),
        mongodb_uri: std::env::var("VOICERA_MONGODB_URI")
            .ok()
            .or(raw.server.mongodb_uri)
            .filter(|u| !u.trim().is_empty()),
        http,
        sip,
        rtp_ports,
        public_url,
        external_ip: args.external_ip.or(raw.server.external_ip),
        drain: Duration::from_secs(raw.server.drain_secs.unwrap_or(DEFAULT_DRAIN_SECS)),
        codecs,
        answer_delay: Duration::from_millis(raw.sip.answer_delay_ms.unwrap_or(0)),
        rtp_timeout: Duration::from_secs(raw.sip.rtp_timeout_secs.unwrap_or(DEFAULT_RTP_TIMEOUT_SECS)),
        t1,
        trunks,
        inbound_auth,
        bench_record: raw.bench.record.unwrap_or(false),
        inference_threads: raw.models.inference_threads.unwrap_or(0),
        whisper_backend: std::env::var("VOICERA_WHISPER_BACKEND")
            .ok()
            .filter(|v| !v.is_empty())
            .or(raw.models.whisper_backend)
            .map(|name| name.parse().map_err(|e| anyhow::anyhow!("[models] whisper_backend: {e}")))
            .transpose()?
            .unwrap_or_default(),
        demo_agent: match std::env::var("VOICERA_DEMO_AGENT").ok().as_deref() {
            Some("0" | "false" | "off") => false,
            Some(_) => true,
            None => raw.models.demo_agent.unwrap_or(true),
        },
        telephony: compile_telephony(raw.telephony)?,
        agents: compile_agents(raw.agents, source.as_deref().and_then(Path::parent).unwrap_or_else(|| Path::new(".")))?,
        source,
    })
}

/// `[telephony]` compiled: what the telephony endpoints need besides the public URL.
#[derive(Debug, Clone)]
pub struct TelephonySettings {
    pub accounts: HashMap<Provider, ProviderAccount>,
    pub stream_format: AudioFormat,
    pub open_agents: Vec<String>,
}

fn compile_telephony(raw: RawTelephony) -> Result<TelephonySettings> {
    let stream_format = match raw.stream_format.as_deref() {
        Some(text) => {
            AudioFormat::parse_content_type(text).map_err(|e| anyhow::anyhow!("telephony.stream_format: {e}"))?
        }
        None => AudioFormat::MULAW_8K,
    };
    let mut accounts = HashMap::new();
    for (provider, account) in [
        (Provider::Vobiz, raw.vobiz),
        (Provider::Plivo, raw.plivo),
        (Provider::Twilio, raw.twilio),
        (Provider::Exotel, raw.exotel),
    ] {
        // VOICERA_<PROVIDER>_AUTH_ID / _AUTH_TOKEN keep secrets out of the file.
        let env = |suffix: &str| std::env::var(format!("VOICERA_{}_{suffix}", provider.as_str().to_uppercase())).ok();
        let account = account.unwrap_or_default();
        let auth_id = env("AUTH_ID").or(account.auth_id).unwrap_or_default();
        let Some(auth_token) = env("AUTH_TOKEN").or(account.auth_token).filter(|t| !t.is_empty()) else {
            if !auth_id.is_empty() {
                bail!("telephony.{}: auth_id without auth_token (webhooks could not be verified)", provider.as_str());
            }
            continue;
        };
        let api_base = account.api_base.filter(|b| !b.is_empty());
        if let Some(base) = &api_base {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                bail!("telephony.{}.api_base must start with http:// or https://", provider.as_str());
            }
        }
        accounts.insert(provider, ProviderAccount { auth_id, auth_token, api_base });
    }
    Ok(TelephonySettings {
        accounts,
        stream_format,
        open_agents: raw.open_agents.unwrap_or_else(|| vec!["bench".into()]),
    })
}

fn parse_default(text: &str) -> SocketAddr {
    text.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Parses `LO-HI`.
pub fn parse_port_range(text: &str) -> Result<(u16, u16)> {
    let (lo, hi) = text.split_once('-').with_context(|| format!("RTP port range {text:?} must be LO-HI"))?;
    let lo: u16 = lo.trim().parse().with_context(|| format!("RTP port range {text:?}: bad low port"))?;
    let hi: u16 = hi.trim().parse().with_context(|| format!("RTP port range {text:?}: bad high port"))?;
    if lo < 1024 || hi <= lo + 1 {
        bail!("RTP port range {text:?} must be within 1024-65535 with at least one even/odd pair");
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_trunk_block_compiles() {
        let readme = include_str!("../README.md");
        let start = readme.find("[[trunks]]\nname").expect("README shows the trunk block");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        let raw: RawConfig = toml::from_str(&readme[start..end]).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        assert_eq!(config.trunks[0].name, "vobiz");
        assert!(config.trunks[0].register);
        assert_eq!(config.trunks[0].numbers, vec!["+918000000001"]);
    }

    #[test]
    fn the_readme_config_block_compiles() {
        let readme = include_str!("../README.md");
        let start = readme.find("[server]\ndrain_secs").expect("README shows the config block");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        let raw: RawConfig = toml::from_str(&readme[start..end]).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        assert_eq!(config.inbound_auth, InboundAuth::None);
        assert_eq!(config.codecs.len(), 4);
    }

    #[test]
    fn the_readme_agent_block_compiles_and_mistakes_are_named() {
        let readme = include_str!("../README.md");
        let start = readme.find("[[agents]]\nid = ").expect("README shows an agent block");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        let raw: RawConfig = toml::from_str(&readme[start..end]).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        let agent = &config.agents[0];
        assert_eq!(agent.numbers, ["918000000001"]);
        assert_eq!(agent.utc_offset_minutes, 330);
        let names: Vec<&str> = agent.tools.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["end_call", "send_dtmf", "transfer_call", "check_order"]);
        assert_eq!(agent.turn_detection, TurnDetection::Punctuation);
        for (bad, expected) in [
            ("[[agents]]\nid = \"echo\"\nsystem_prompt = \"x\"", "built-in"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"Hi {{customer}}\"", "{{customer}}"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nlanguage = \"hi\"\nstt_model = \"whisper-tiny.en\"", "English only"),
            ("[models]\nwhisper_backend = \"onnx\"", "unknown Whisper backend"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nstt_model = \"./nowhere/indicwhisper\"", "not a Whisper checkpoint"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nstt_decoding = \"rnnt\"", "only an IndicConformer"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nllm_model = \"gpt-4o\"", "set llm_base_url"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nllm_base_url = \"ftp://x\"\nllm_model = \"m\"", "http://"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nllm_base_url = \"http://x/v1\"", "name the server's model"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nllm_base_url = \"http://x/v1\"\nllm_model = \"m\"\nllm_api_key_env = \"VOICERA_TEST_NO_SUCH_KEY\"", "VOICERA_TEST_NO_SUCH_KEY is not set"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\ntools = [\"launch\"]", "unknown tool"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nturn_detection = \"psychic\"", "silence or punctuation"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nlanguage = \"hi\"\nstt_model = \"whisper-base\"\ntts_model = \"piper\"", "speaks English"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\ntts_model = \"piper\"\ntts_voice = \"en-us+f3\"", "names an espeak-ng voice"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\ntts_model = \"cartesia\"", "local: espeak, piper"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\ntts_model = \"/nowhere/indic-parler-tts\"", "not a Parler-TTS checkpoint"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\n[[agents.http_tools]]\nname = \"t\"\ndescription = \"d\"\nurl = \"ftp://x\"", "http://"),
            ("[[agents]]\nid = \"a\"\nsystem_prompt = \"x\"\nnumbers = [\"+1 555\"]\n[[agents]]\nid = \"b\"\nsystem_prompt = \"y\"\nnumbers = [\"1555\"]", "already attached"),
        ] {
            let raw: RawConfig = toml::from_str(bad).unwrap();
            let err = format!("{:#}", compile(raw, &NodeArgs::default(), None).unwrap_err());
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn the_readme_openai_agent_block_compiles() {
        let readme = include_str!("../README.md");
        let start = readme.find("[[agents]]\nid = \"sales\"").expect("README shows an OpenAI-compatible agent");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        // The key's variable is checked at load; this test does not set it.
        let block: String =
            readme[start..end].lines().filter(|l| !l.starts_with("llm_api_key_env")).collect::<Vec<_>>().join("\n");
        let raw: RawConfig = toml::from_str(&block).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        assert_eq!(
            config.agents[0].llm,
            LlmChoice::OpenAiCompatible {
                base_url: "https://api.openai.com/v1".into(),
                model: "gpt-4o-mini".into(),
                api_key_env: None
            }
        );
    }

    #[test]
    fn knowledge_files_are_read_relative_to_the_config_and_named_when_missing() {
        let dir = std::env::temp_dir().join(format!("voicera-kb-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("kb")).unwrap();
        std::fs::write(dir.join("kb/hours.md"), "We open at 9 am.\n\nWe close at 6 pm.").unwrap();
        let toml = "[[agents]]\nid = \"desk\"\nsystem_prompt = \"x\"\nknowledge = [\"kb/hours.md\"]\n";
        std::fs::write(dir.join("voicera.toml"), toml).unwrap();
        let args = NodeArgs { config: Some(dir.join("voicera.toml")), ..Default::default() };
        let config = Config::load(&args).unwrap();
        let tools = &config.agents[0].tools;
        assert!(matches!(tools.last(), Some(AgentTool::KnowledgeLookup(base)) if base.answer("open").contains("9 am")));
        std::fs::write(dir.join("voicera.toml"), toml.replace("hours.md", "nope.md")).unwrap();
        let err = format!("{:#}", Config::load(&args).unwrap_err());
        assert!(err.contains("agents.desk.knowledge") && err.contains("nope.md"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flags_override_file_and_errors_name_the_key() {
        let raw: RawConfig =
            toml::from_str("[server]\nhttp = \"127.0.0.1:9000\"\nrtp_ports = \"30000-30100\"").unwrap();
        let args = NodeArgs { http: Some("127.0.0.1:9100".parse().unwrap()), ..Default::default() };
        let config = compile(raw, &args, None).unwrap();
        assert_eq!(config.http.port(), 9100);
        assert_eq!(config.rtp_ports, (30000, 30100));
        assert_eq!(config.public_url, "http://127.0.0.1:9100");
        let bad: RawConfig = toml::from_str("[sip]\ncodecs = [\"gsm\"]").unwrap();
        let err = compile(bad, &NodeArgs::default(), None).unwrap_err().to_string();
        assert!(err.contains("sip.codecs") && err.contains("gsm"), "{err}");
        assert!(toml::from_str::<RawConfig>("[server]\nhttpp = 1").is_err(), "unknown keys are errors");
        assert!(parse_port_range("20000-10000").is_err());
    }
}
