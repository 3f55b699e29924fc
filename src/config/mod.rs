//! Node configuration: built-in defaults, then `voicera.toml`, then `VOICERA_*` environment and flags, compiled
//! into one checked [`Config`]. `voicera config check` runs the same compilation and prints the result with
//! every password, token and credential masked (the Debug output of [`Config`]).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use voicera_carrier_rest::{Provider, ProviderAccount};
use voicera_conversation::agent::mask_secret;
use voicera_media::codec::CodecKind;
use voicera_sip::transport::SipProtocol;
use voicera_telephony::sip_rtp::{InboundAuth, TrunkConfig};
use voicera_telephony::ws_stream::AudioFormat;

mod agents;
mod campaigns;
mod policy;
mod providers;
mod sip_security;
mod smtp;
mod speech;
mod storage;
mod webhooks;
use agents::{compile_agents, RawAgent};
pub(crate) use agents::{
    normalize_number, AgentCompiler, AgentConfig, LlmChoice, NativeLlm, SpeechModelChoice, SttChoice, TtsChoice,
    TurnDetection, PIPER_VOICE,
};
pub(crate) use agents::{provider_env, OPENAI_COMPATIBLE};
pub(crate) use campaigns::CampaignSettings;
pub(crate) use providers::Providers;
pub(crate) use smtp::SmtpSettings;
pub(crate) use speech::{language_table, CloudSpeech, SpeechProvider, SPEECH_PROVIDERS};
pub(crate) use webhooks::WebhookSettings;

/// HTTP listen address: all interfaces, the port the original's docs use for the voice server's API.
pub(crate) const DEFAULT_HTTP: &str = "0.0.0.0:8080";
/// SIP's registered port (RFC 3261 §19.1.2).
pub(crate) const DEFAULT_SIP: &str = "0.0.0.0:5060";
/// RTP range: 5000 port pairs, enough for the 1000-call target with room for ports other programs hold.
pub(crate) const DEFAULT_RTP_PORTS: (u16, u16) = (10000, 20000);
/// Drain time on SIGTERM before remaining calls get a BYE: long enough for most calls to end naturally
/// behind a dispatcher that stopped sending new ones.
pub(crate) const DEFAULT_DRAIN_SECS: u64 = 30;
/// End a call after this much RTP silence from a peer that should be sending (dead peer, NAT timeout).
pub(crate) const DEFAULT_RTP_TIMEOUT_SECS: u64 = 60;

/// Flags and environment common to `serve`, `media` and `api` (interfaces.md).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct NodeArgs {
    /// Configuration file (default: ./voicera.toml when present).
    #[arg(long, env = "VOICERA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory: SQLite DB, blobs, model cache, spool. Created if missing.
    #[arg(long, env = "VOICERA_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// HTTP listen address (API, console, webhooks, media WebSockets, /metrics, /health).
    #[arg(long, env = "VOICERA_HTTP")]
    pub(crate) http: Option<SocketAddr>,
    /// SIP listen address, UDP and TCP.
    #[arg(long, env = "VOICERA_SIP")]
    pub(crate) sip: Option<SocketAddr>,
    /// Serve `/metrics` only on this address (e.g. 127.0.0.1:9090), not on the public HTTP port.
    #[arg(long, env = "VOICERA_METRICS")]
    pub(crate) metrics: Option<SocketAddr>,
    /// SIP over TLS listen address (default 0.0.0.0:5061 once `[sip.tls] cert` and `key` are set).
    #[arg(long, env = "VOICERA_SIP_TLS")]
    pub(crate) sip_tls: Option<SocketAddr>,
    /// RTP port range LO-HI.
    #[arg(long, env = "VOICERA_RTP_PORTS")]
    pub(crate) rtp_ports: Option<String>,
    /// Public base URL used to build webhook and stream URLs.
    #[arg(long, env = "VOICERA_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Address put in SDP and Contact (for NAT).
    #[arg(long, env = "VOICERA_EXTERNAL_IP")]
    pub(crate) external_ip: Option<IpAddr>,
    /// Log format: human or json.
    #[arg(long, env = "VOICERA_LOG_FORMAT", default_value = "human")]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
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
    #[serde(default)]
    dial_policy: policy::RawDialPolicy,
    #[serde(default)]
    storage: storage::RawStorage,
    #[serde(default)]
    providers: std::collections::BTreeMap<String, providers::RawProvider>,
    #[serde(default)]
    api: RawApi,
    /// `[smtp]`: where reset and invitation mail goes.
    smtp: Option<smtp::RawSmtp>,
    #[serde(default)]
    webhooks: webhooks::RawWebhooks,
    #[serde(default)]
    campaigns: campaigns::RawCampaigns,
}

/// `[api]`: the control plane.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    /// Anyone may sign up, creating a new org (else only while no user exists).
    open_signup: Option<bool>,
    /// Knowledge uploads processed at once on this node.
    knowledge_processing_slots: Option<u64>,
    /// How long one knowledge document may take to be stored and read, in seconds.
    knowledge_processing_timeout_secs: Option<u64>,
}

/// `[api] knowledge_processing_slots`: at least one, or no upload could ever be read; at most this many, as
/// each holds up to 25 MB and a blocking thread on a node that also carries calls.
const KNOWLEDGE_SLOTS: std::ops::RangeInclusive<u64> = 1..=32;
/// `[api] knowledge_processing_timeout_secs`: long enough for a 25 MB PDF on a slow disk or S3, and under the
/// 10 minutes after which a listing records a document still `processing` as failed (its node presumed gone),
/// with a minute to spare.
const KNOWLEDGE_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 10..=540;

/// `[api]`'s knowledge-processing keys, checked: (slots, timeout); absent keys take the API's defaults.
fn compile_knowledge_processing(raw: &RawApi) -> Result<(usize, Duration)> {
    let defaults = voicera_api::ApiConfig::default();
    let slots = match raw.knowledge_processing_slots {
        None => defaults.knowledge_processing_slots,
        Some(n) if KNOWLEDGE_SLOTS.contains(&n) => n as usize,
        Some(n) => bail!(
            "[api] knowledge_processing_slots = {n}: must be {} to {} (uploads processed at once on this node)",
            KNOWLEDGE_SLOTS.start(),
            KNOWLEDGE_SLOTS.end()
        ),
    };
    let timeout = match raw.knowledge_processing_timeout_secs {
        None => defaults.knowledge_processing_timeout,
        Some(secs) if KNOWLEDGE_TIMEOUT_SECS.contains(&secs) => Duration::from_secs(secs),
        Some(secs) => bail!(
            "[api] knowledge_processing_timeout_secs = {secs}: must be {} to {} seconds (a listing records a \
             document still processing after 10 minutes as failed)",
            KNOWLEDGE_TIMEOUT_SECS.start(),
            KNOWLEDGE_TIMEOUT_SECS.end()
        ),
    };
    Ok((slots, timeout))
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
    llm_cache_mb: Option<u64>,
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
    /// Log what callers say and type (transcripts, DTMF digits, tool arguments) at INFO (`VOICERA_LOG_CONTENT`).
    log_content: Option<bool>,
    /// Serve `/metrics` only on this (private) address instead of the public HTTP port (`VOICERA_METRICS`).
    metrics: Option<SocketAddr>,
    /// How call recordings are stored: `wav` or `opus` (`VOICERA_RECORDING_FORMAT`).
    recording_format: Option<String>,
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
    max_calls: Option<usize>,
    max_calls_per_source: Option<usize>,
    max_call_secs: Option<u64>,
    hold_timeout_secs: Option<u64>,
    trust_registrars_over_udp: Option<bool>,
    rate_limit: Option<bool>,
    rate_limit_exempt: Option<Vec<IpAddr>>,
    agent_sources: Option<Vec<String>>,
    refer: Option<sip_security::RawRefer>,
    tls: Option<sip_security::RawTls>,
    limits: Option<sip_security::RawConnectionLimits>,
    srtp: Option<String>,
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
    /// A CA certificate (PEM) trusted for this trunk's TLS certificate, besides the public roots.
    tls_ca: Option<PathBuf>,
    numbers: Option<Vec<String>>,
    refer_credentials: Option<bool>,
    srtp: Option<String>,
}

/// The checked configuration of a node. Its Debug output masks every secret.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) data_dir: PathBuf,
    /// `VOICERA_MONGODB_URI` / `[server] mongodb_uri`: the store is MongoDB; else SQLite in the data dir.
    pub(crate) mongodb_uri: Option<String>,
    pub(crate) http: SocketAddr,
    pub(crate) sip: SocketAddr,
    pub(crate) rtp_ports: (u16, u16),
    pub(crate) public_url: String,
    pub(crate) external_ip: Option<IpAddr>,
    pub(crate) drain: Duration,
    pub(crate) codecs: Vec<CodecKind>,
    pub(crate) answer_delay: Duration,
    pub(crate) rtp_timeout: Duration,
    pub(crate) t1: Duration,
    pub(crate) trunks: Vec<TrunkConfig>,
    pub(crate) inbound_auth: InboundAuth,
    /// `/metrics` on its own address (None: on the HTTP port).
    pub(crate) metrics: Option<SocketAddr>,
    /// Limits, REFER policy, registrar trust and rate limits of the SIP user agent.
    pub(crate) sip_security: sip_security::SipSecurity,
    /// Whether the built-in `bench` agent stores transcripts and recordings (off: it measures the server).
    pub(crate) bench_record: bool,
    /// Threads of the model inference pool (0: one per core).
    pub(crate) inference_threads: usize,
    /// `[models] whisper_backend` (`VOICERA_WHISPER_BACKEND`): candle (default) or whisper.cpp.
    pub(crate) whisper_backend: voicera_models_local::whisper::WhisperBackend,
    /// `[models] llm_cache_mb` (`VOICERA_LLM_CACHE_MB`), in bytes: the budget of each local language model's
    /// cache of conversations' attention state between turns (0: none, every turn prefills its whole prompt).
    pub(crate) llm_cache_bytes: usize,
    /// Load the built-in `demo` agent (local models, fetched on first use).
    pub(crate) demo_agent: bool,
    /// Provider accounts (webhook signature keys), stream format, open agents.
    pub(crate) telephony: TelephonySettings,
    /// `[[agents]]`.
    pub(crate) agents: Vec<AgentConfig>,
    /// `[dial_policy]`: where outbound calls, transfers and REFERs may go (trunk registrars included).
    pub(crate) dial_policy: std::sync::Arc<voicera_conversation::dial_policy::DialPolicy>,
    /// `[providers.<name>]`: cloud providers' API roots and the variables holding their keys.
    pub(crate) providers: std::sync::Arc<Providers>,
    /// `[api] open_signup`: anyone may sign up, creating a new org (else only while no user exists).
    pub(crate) open_signup: bool,
    /// `[api] knowledge_processing_slots`: knowledge uploads processed at once on this node.
    pub(crate) knowledge_processing_slots: usize,
    /// `[api] knowledge_processing_timeout_secs`: how long one knowledge document may take to be stored and read.
    pub(crate) knowledge_processing_timeout: Duration,
    /// `[smtp]`: the server reset and invitation mail goes through (`VOICERA_SMTP_URL` wins); None: none set.
    pub(crate) smtp: Option<smtp::SmtpSettings>,
    /// `[server] log_content` / `VOICERA_LOG_CONTENT`: transcripts, DTMF digits and tool arguments are logged
    /// at INFO (else at DEBUG; they are personal data).
    pub(crate) log_content: bool,
    /// `[storage.s3]` / `VOICERA_S3_*`: recordings, transcripts and documents on this S3 server; else on the
    /// filesystem under the data dir.
    pub(crate) s3: Option<voicera_blob::S3Config>,
    /// `[server] recording_format` / `VOICERA_RECORDING_FORMAT`: WAV (default) or Opus in Ogg.
    pub(crate) recording_format: voicera_blob::recording::RecordingFormat,
    /// `[storage] recording_retention_days` / `VOICERA_RECORDING_RETENTION_DAYS`: days calls are kept for orgs
    /// that set none of their own (`None`: for ever).
    pub(crate) recording_retention_days: Option<u32>,
    /// `[storage] knowledge_cache_mib` / `VOICERA_KNOWLEDGE_CACHE_MIB`, in bytes: knowledge documents' texts
    /// kept in memory between retrievals (0: none).
    pub(crate) knowledge_cache_bytes: usize,
    /// `[webhooks]` / `VOICERA_WEBHOOKS_*`: delivery timing, http-to-loopback, delivery-log retention.
    pub(crate) webhooks: WebhookSettings,
    /// `[campaigns]` / `VOICERA_CAMPAIGNS_*`: the contact lease of outbound campaigns.
    pub(crate) campaigns: CampaignSettings,
    /// Where the configuration came from, for the start-up log.
    pub(crate) source: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("mongodb_uri", &self.mongodb_uri.as_deref().map(mask_uri_password))
            .field("http", &self.http)
            .field("sip", &self.sip)
            .field("rtp_ports", &self.rtp_ports)
            .field("public_url", &mask_uri_password(&self.public_url))
            .field("external_ip", &self.external_ip)
            .field("drain", &self.drain)
            .field("codecs", &self.codecs)
            .field("answer_delay", &self.answer_delay)
            .field("rtp_timeout", &self.rtp_timeout)
            .field("t1", &self.t1)
            .field("trunks", &self.trunks)
            .field("inbound_auth", &self.inbound_auth)
            .field("sip_security", &self.sip_security)
            .field("metrics", &self.metrics)
            .field("dial_policy", &self.dial_policy)
            .field("providers", &self.providers)
            .field("open_signup", &self.open_signup)
            .field("knowledge_processing_slots", &self.knowledge_processing_slots)
            .field("knowledge_processing_timeout", &self.knowledge_processing_timeout)
            .field("smtp", &self.smtp)
            .field("bench_record", &self.bench_record)
            .field("inference_threads", &self.inference_threads)
            .field("whisper_backend", &self.whisper_backend)
            .field("llm_cache_bytes", &self.llm_cache_bytes)
            .field("demo_agent", &self.demo_agent)
            .field("telephony", &self.telephony)
            .field("agents", &self.agents)
            .field("log_content", &self.log_content)
            .field("s3", &self.s3)
            .field("recording_format", &self.recording_format)
            .field("recording_retention_days", &self.recording_retention_days)
            .field("knowledge_cache_bytes", &self.knowledge_cache_bytes)
            .field("webhooks", &self.webhooks)
            .field("campaigns", &self.campaigns)
            .field("source", &self.source)
            .finish()
    }
}

/// A provider account as Debug shows it: the token masked.
struct MaskedAccount<'a>(&'a ProviderAccount);

impl fmt::Debug for MaskedAccount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        f.debug_struct("ProviderAccount")
            .field("auth_id", &a.auth_id)
            .field("auth_token", &mask_secret(&a.auth_token))
            .field("api_base", &a.api_base.as_deref().map(mask_uri_password))
            .finish()
    }
}

/// A URI with the password of its userinfo masked (`mongodb://user:****@host/db`); other URIs unchanged.
pub(crate) fn mask_uri_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return uri.to_string() };
    // The userinfo ends at the last '@' before the query; a password with an unescaped '/' or '@' (invalid,
    // yet seen) is masked whole rather than cut at its first '/'.
    let query = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..query].rfind('@') else { return uri.to_string() };
    let Some((user, password)) = rest[..at].split_once(':') else { return uri.to_string() };
    format!("{scheme}://{user}:{}{}", mask_secret(password), &rest[at..])
}

impl Config {
    /// Loads and checks the configuration for `args`.
    pub(crate) fn load(args: &NodeArgs) -> Result<Config> {
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

/// `[providers]` of the configuration file `config` (or `./voicera.toml` when present), for tools that need no
/// more of it (`voicera providers check`).
pub(crate) fn load_providers(config: Option<&Path>) -> Result<Providers> {
    let raw = match config {
        Some(path) => read_file(path)?,
        None if Path::new("voicera.toml").exists() => read_file(Path::new("voicera.toml"))?,
        None => RawConfig::default(),
    };
    providers::compile_providers(raw.providers)
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
    let config_dir = source.as_deref().and_then(Path::parent).unwrap_or_else(|| Path::new(".")).to_path_buf();
    let sip_security = sip_security::compile(&raw.sip, args, sip, &config_dir)?;
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
        // Absent: as the registrar's DNS says (RFC 3263 NAPTR/SRV), UDP when it says nothing.
        let transport = match t.transport.as_deref() {
            None => None,
            Some(token) => match SipProtocol::parse(token) {
                Some(protocol) => Some(protocol),
                None => bail!("trunks.{}: transport {token:?} must be udp, tcp or tls", t.name),
            },
        };
        if let Some(ca) = &t.tls_ca {
            if transport != Some(SipProtocol::Tls) {
                bail!("trunks.{}: tls_ca is only used with transport = \"tls\"", t.name);
            }
            // Read now, so `config check` names an unreadable or malformed file instead of the first call.
            let options = voicera_sip::tls::TlsClientOptions { ca_files: vec![ca.clone()], ..Default::default() };
            if let Err(err) = voicera_sip::tls::client_config(&options) {
                bail!("trunks.{}: tls_ca: {err}", t.name);
            }
        }
        let register = t.register.unwrap_or(false);
        let username = t.username.unwrap_or_default();
        if register && username.is_empty() {
            bail!("trunks.{}: register = true needs a username", t.name);
        }
        let expires = t.expires.unwrap_or(300);
        if register && !(30..=86400).contains(&expires) {
            bail!("trunks.{}: expires must be between 30 and 86400 seconds", t.name);
        }
        let srtp = t.srtp.as_deref().map(|v| sip_security::parse_srtp(&format!("trunks.{}.srtp", t.name), v));
        trunks.push(TrunkConfig {
            srtp: srtp.transpose()?,
            name: t.name,
            registrar: t.registrar,
            username,
            password: t.password.unwrap_or_default(),
            realm: t.realm.filter(|r| !r.is_empty()),
            register,
            expires,
            transport,
            tls_ca: t.tls_ca,
            numbers: t.numbers.unwrap_or_default(),
            refer_credentials: t.refer_credentials.unwrap_or(false),
        });
    }
    let dial_policy = policy::compile_dial_policy(raw.dial_policy, &trunks)?;
    let providers = providers::compile_providers(raw.providers)?;
    let (knowledge_processing_slots, knowledge_processing_timeout) = compile_knowledge_processing(&raw.api)?;
    Ok(Config {
        data_dir: args.data_dir.clone().or(raw.server.data_dir).unwrap_or_else(|| PathBuf::from("./data")),
        mongodb_uri: std::env::var("VOICERA_MONGODB_URI")
            .ok()
            .or(raw.server.mongodb_uri)
            .filter(|u| !u.trim().is_empty()),
        log_content: match std::env::var("VOICERA_LOG_CONTENT").ok().as_deref() {
            Some("1" | "true" | "on") => true,
            Some("0" | "false" | "off") => false,
            Some(other) => bail!("VOICERA_LOG_CONTENT={other:?} must be 1 or 0"),
            None => raw.server.log_content.unwrap_or(false),
        },
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
        sip_security,
        metrics: args.metrics.or(raw.server.metrics),
        bench_record: raw.bench.record.unwrap_or(false),
        inference_threads: raw.models.inference_threads.unwrap_or(0),
        whisper_backend: std::env::var("VOICERA_WHISPER_BACKEND")
            .ok()
            .filter(|v| !v.is_empty())
            .or(raw.models.whisper_backend)
            .map(|name| name.parse().map_err(|e| anyhow::anyhow!("[models] whisper_backend: {e}")))
            .transpose()?
            .unwrap_or_default(),
        llm_cache_bytes: compile_llm_cache(raw.models.llm_cache_mb, std::env::var("VOICERA_LLM_CACHE_MB").ok())?,
        demo_agent: match std::env::var("VOICERA_DEMO_AGENT").ok().as_deref() {
            Some("0" | "false" | "off") => false,
            Some(_) => true,
            None => raw.models.demo_agent.unwrap_or(true),
        },
        telephony: compile_telephony(raw.telephony)?,
        agents: compile_agents(
            raw.agents,
            source.as_deref().and_then(Path::parent).unwrap_or_else(|| Path::new(".")),
            &dial_policy,
            agents::Clouds { providers: &providers, keys_now: true },
        )?,
        dial_policy: std::sync::Arc::new(dial_policy),
        recording_retention_days: storage::compile_retention(&raw.storage, |var| std::env::var(var).ok())?,
        knowledge_cache_bytes: storage::compile_knowledge_cache(&raw.storage, |var| std::env::var(var).ok())?,
        webhooks: webhooks::compile_webhooks(raw.webhooks, |var| std::env::var(var).ok())?,
        campaigns: campaigns::compile_campaigns(raw.campaigns, |var| std::env::var(var).ok())?,
        providers: std::sync::Arc::new(providers),
        open_signup: raw.api.open_signup.unwrap_or(false),
        knowledge_processing_slots,
        knowledge_processing_timeout,
        smtp: smtp::compile_smtp(raw.smtp, |var| std::env::var(var).ok())?,
        s3: storage::compile_s3(raw.storage, |var| std::env::var(var).ok())?,
        recording_format: storage::compile_recording_format(raw.server.recording_format, |var| {
            std::env::var(var).ok()
        })?,
        source,
    })
}

/// `[telephony]` compiled: what the telephony endpoints need besides the public URL. Debug masks the tokens.
#[derive(Clone)]
pub(crate) struct TelephonySettings {
    pub(crate) accounts: HashMap<Provider, ProviderAccount>,
    pub(crate) stream_format: AudioFormat,
    pub(crate) open_agents: Vec<String>,
}

impl fmt::Debug for TelephonySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut accounts: Vec<(&str, MaskedAccount)> =
            self.accounts.iter().map(|(p, a)| (p.as_str(), MaskedAccount(a))).collect();
        accounts.sort_by_key(|(provider, _)| *provider);
        f.debug_struct("TelephonySettings")
            .field("accounts", &accounts)
            .field("stream_format", &self.stream_format)
            .field("open_agents", &self.open_agents)
            .finish()
    }
}

/// Default of `[models] llm_cache_mb`: the local LLM's conversation cache for all calls.
const DEFAULT_LLM_CACHE_MB: u64 = 512;
/// Above this (1 TiB) a value is taken for bytes typed as megabytes.
const MAX_LLM_CACHE_MB: u64 = 1 << 20;

/// `[models] llm_cache_mb`, overridden by a non-empty `VOICERA_LLM_CACHE_MB`, in bytes (512 MiB by default).
fn compile_llm_cache(file: Option<u64>, env: Option<String>) -> Result<usize> {
    let mb = match env.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(text) => text.parse::<u64>().map_err(|_| {
            anyhow::anyhow!("VOICERA_LLM_CACHE_MB ([models] llm_cache_mb): {text:?} is not a whole number of megabytes")
        })?,
        None => file.unwrap_or(DEFAULT_LLM_CACHE_MB),
    };
    if mb > MAX_LLM_CACHE_MB {
        bail!("[models] llm_cache_mb: {mb} MB is more than {MAX_LLM_CACHE_MB} (1 TiB); the value is in megabytes");
    }
    usize::try_from(mb << 20).map_err(|_| anyhow::anyhow!("[models] llm_cache_mb: {mb} MB does not fit in memory"))
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
pub(crate) fn parse_port_range(text: &str) -> Result<(u16, u16)> {
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
    use voicera_conversation::agent::AgentTool;

    #[test]
    fn the_readme_trunk_block_compiles() {
        let readme = include_str!("../../README.md");
        let start = readme.find("[[trunks]]\nname").expect("README shows the trunk block");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        let raw: RawConfig = toml::from_str(&readme[start..end]).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        assert_eq!(config.trunks[0].name, "vobiz");
        assert!(config.trunks[0].register);
        assert_eq!(config.trunks[0].numbers, vec!["+918000000001"]);
    }

    #[test]
    fn trunk_transports_and_their_tls_trust_are_checked() {
        let compiled = |text: &str| {
            let raw: RawConfig = toml::from_str(text).unwrap();
            compile(raw, &NodeArgs::default(), None).map_err(|err| format!("{err:#}"))
        };
        let trunk = |extra: &str| format!("[[trunks]]\nname = \"t\"\nregistrar = \"sip.trunk.example\"\n{extra}");
        assert_eq!(compiled(&trunk("")).unwrap().trunks[0].transport, None, "absent: as DNS says");
        let tls = compiled(&trunk("transport = \"TLS\"")).unwrap();
        assert_eq!(tls.trunks[0].transport, Some(SipProtocol::Tls));
        let ca = std::env::temp_dir().join(format!("voicera-config-ca-{}.pem", std::process::id()));
        let cert = rcgen::generate_simple_self_signed(vec!["sip.trunk.example".into()]).unwrap();
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let with_ca =
            compiled(&trunk(&format!("transport = \"tls\"\ntls_ca = {:?}", ca.display().to_string()))).unwrap();
        assert_eq!(with_ca.trunks[0].tls_ca.as_deref(), Some(ca.as_path()));
        let _ = std::fs::remove_file(&ca);
        for (extra, expected) in [
            ("transport = \"sctp\"", "must be udp, tcp or tls"),
            ("transport = \"tcp\"\ntls_ca = \"ca.pem\"", "only used with transport = \"tls\""),
            ("transport = \"tls\"\ntls_ca = \"/nowhere/ca.pem\"", "/nowhere/ca.pem"),
        ] {
            let err = compiled(&trunk(extra)).unwrap_err();
            assert!(err.contains(expected), "{extra}: {err}");
        }
    }

    #[test]
    fn knowledge_processing_slots_and_timeout_are_read_from_api_and_bounded() {
        let compiled = |toml_text: &str| {
            compile(toml::from_str(toml_text).unwrap(), &NodeArgs::default(), None).map_err(|e| format!("{e:#}"))
        };
        let defaults = compiled("").unwrap();
        assert_eq!(
            (defaults.knowledge_processing_slots, defaults.knowledge_processing_timeout),
            (2, Duration::from_secs(300))
        );
        let set = compiled("[api]\nknowledge_processing_slots = 4\nknowledge_processing_timeout_secs = 120").unwrap();
        assert_eq!((set.knowledge_processing_slots, set.knowledge_processing_timeout), (4, Duration::from_secs(120)));
        let edges = compiled("[api]\nknowledge_processing_slots = 1\nknowledge_processing_timeout_secs = 540").unwrap();
        assert_eq!((edges.knowledge_processing_slots, edges.knowledge_processing_timeout.as_secs()), (1, 540));
        for (text, key) in [
            ("knowledge_processing_slots = 0", "[api] knowledge_processing_slots = 0: must be 1 to 32"),
            ("knowledge_processing_slots = 33", "[api] knowledge_processing_slots = 33: must be 1 to 32"),
            ("knowledge_processing_timeout_secs = 9", "[api] knowledge_processing_timeout_secs = 9: must be 10 to 540"),
            (
                "knowledge_processing_timeout_secs = 600",
                "[api] knowledge_processing_timeout_secs = 600: must be 10 to 540",
            ),
        ] {
            let err = compiled(&format!("[api]\n{text}")).unwrap_err();
            assert!(err.contains(key), "{text}: {err}");
        }
        // A misspelt key is refused, naming it.
        let err = format!("{:#}", toml::from_str::<RawConfig>("[api]\nknowledge_slots = 4").unwrap_err());
        assert!(err.contains("knowledge_slots"), "{err}");
    }

    #[test]
    fn the_llm_cache_budget_is_read_in_megabytes_and_mistakes_name_the_key() {
        let compiled = |toml_text: &str| compile(toml::from_str(toml_text).unwrap(), &NodeArgs::default(), None);
        assert_eq!(compiled("").unwrap().llm_cache_bytes, 512 << 20);
        assert_eq!(compiled("[models]\nllm_cache_mb = 64").unwrap().llm_cache_bytes, 64 << 20);
        assert_eq!(compiled("[models]\nllm_cache_mb = 0").unwrap().llm_cache_bytes, 0);
        let err = format!("{:#}", compiled("[models]\nllm_cache_mb = 4000000").unwrap_err());
        assert!(err.contains("[models] llm_cache_mb") && err.contains("megabytes"), "{err}");
        // A negative or textual value fails to parse, on the key's line.
        let err = toml::from_str::<RawConfig>("[models]\nllm_cache_mb = -1").unwrap_err().to_string();
        assert!(err.contains("llm_cache_mb"), "{err}");
        // The environment wins over the file; empty means unset.
        assert_eq!(compile_llm_cache(Some(64), Some("128".into())).unwrap(), 128 << 20);
        assert_eq!(compile_llm_cache(Some(64), Some("0".into())).unwrap(), 0);
        assert_eq!(compile_llm_cache(Some(64), Some(String::new())).unwrap(), 64 << 20);
        let err = format!("{:#}", compile_llm_cache(None, Some("1GB".into())).unwrap_err());
        assert!(err.contains("VOICERA_LLM_CACHE_MB") && err.contains("llm_cache_mb"), "{err}");
    }

    #[test]
    fn the_readme_config_block_compiles() {
        let readme = include_str!("../../README.md");
        let start = readme.find("[server]\ndrain_secs").expect("README shows the config block");
        let end = readme[start..].find("```").map(|e| start + e).unwrap();
        let raw: RawConfig = toml::from_str(&readme[start..end]).unwrap();
        let config = compile(raw, &NodeArgs::default(), None).unwrap();
        assert_eq!(config.inbound_auth, InboundAuth::None);
        assert_eq!(config.codecs.len(), 4);
        assert_eq!((config.knowledge_processing_slots, config.knowledge_processing_timeout.as_secs()), (2, 300));
    }

    #[test]
    fn the_readme_agent_block_compiles_and_mistakes_are_named() {
        let readme = include_str!("../../README.md");
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
        let readme = include_str!("../../README.md");
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
                api_key_env: None,
                integration: None,
                needs_key: false,
                timeout: None,
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
    fn secrets_are_masked_in_the_printed_configuration() {
        let toml = r#"
[server]
mongodb_uri = "mongodb://admin:mongo-pass-123456@db.example:27017/voicera?authSource=admin"
log_content = true

[sip]
auth = "digest"
[[sip.users]]
username = "alice"
password = "wonderland-pass-1"

[[trunks]]
name = "carrier"
registrar = "sip.example:5060"
username = "1001"
password = "trunk-pass-987654"

[telephony.twilio]
auth_id = "AC123"
auth_token = "twilio-token-abcdef"

[[agents]]
id = "desk"
system_prompt = "x"
[[agents.http_tools]]
name = "crm"
description = "d"
url = "https://crm.example/api"
header = "Authorization: Bearer crm-key-5555555"
"#;
        let config = compile(toml::from_str(toml).unwrap(), &NodeArgs::default(), None).unwrap();
        assert!(config.log_content);
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            for secret in [
                "mongo-pass-123456",
                "wonderland-pass-1",
                "trunk-pass-987654",
                "twilio-token-abcdef",
                "crm-key-5555555",
            ] {
                assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
            }
            // What is not secret still shows, so the output stays useful.
            for kept in
                ["mongodb://admin:mo****@db.example:27017/voicera", "alice", "1001", "AC123", "Authorization", "tw****"]
            {
                assert!(shown.contains(kept), "{kept} missing:\n{shown}");
            }
        }
    }

    #[test]
    fn agent_sources_default_to_local_networks_and_bad_entries_are_named() {
        let parse = |toml: &str| compile(toml::from_str(toml).unwrap(), &NodeArgs::default(), None);
        let local = parse("").unwrap().sip_security.agent_sources;
        assert!(local.admits("192.168.1.20".parse().unwrap()) && !local.admits("8.8.8.8".parse().unwrap()));
        let listed = parse("[sip]\nagent_sources = [\"203.0.113.0/24\", \"2001:db8::7\"]\n").unwrap();
        let listed = listed.sip_security.agent_sources;
        assert!(listed.admits("203.0.113.9".parse().unwrap()) && listed.admits("2001:db8::7".parse().unwrap()));
        assert!(!listed.admits("127.0.0.1".parse().unwrap()), "a list replaces the default");
        let err = parse("[sip]\nagent_sources = [\"10.0.0.0/40\"]\n").unwrap_err().to_string();
        assert!(err.contains("sip.agent_sources") && err.contains("10.0.0.0/40"), "{err}");
    }

    #[test]
    fn srtp_is_offer_by_default_per_trunk_when_set_and_unknown_words_are_refused() {
        use voicera_telephony::sip_rtp::SrtpPolicy;
        let parse = |toml: &str| compile(toml::from_str(toml).unwrap(), &NodeArgs::default(), None);
        let trunk = "[[trunks]]\nname = \"carrier\"\nregistrar = \"sip.example:5060\"\n";
        let config = parse(trunk).unwrap();
        assert_eq!((config.sip_security.srtp, config.trunks[0].srtp), (SrtpPolicy::Offer, None));
        let config = parse(&format!("[sip]\nsrtp = \"required\"\n\n{trunk}srtp = \"off\"\n")).unwrap();
        assert_eq!((config.sip_security.srtp, config.trunks[0].srtp), (SrtpPolicy::Required, Some(SrtpPolicy::Off)));
        let err = parse("[sip]\nsrtp = \"on\"").unwrap_err().to_string();
        assert_eq!(err, "sip.srtp = \"on\" must be \"off\", \"offer\" or \"required\"");
        let err = parse(&format!("{trunk}srtp = \"mandatory\"\n")).unwrap_err().to_string();
        assert_eq!(err, "trunks.carrier.srtp = \"mandatory\" must be \"off\", \"offer\" or \"required\"");
    }

    #[test]
    fn uri_passwords_are_masked_and_other_uris_kept() {
        assert_eq!(mask_uri_password("mongodb://u:p@h/db"), "mongodb://u:****@h/db");
        assert_eq!(mask_uri_password("mongodb://u:p/w@d@h1,h2/db?x=@"), "mongodb://u:****@h1,h2/db?x=@");
        assert_eq!(mask_uri_password("mongodb://localhost:27017/db"), "mongodb://localhost:27017/db");
        assert_eq!(mask_uri_password("mongodb://user@h/db"), "mongodb://user@h/db");
        assert_eq!(mask_uri_password("https://voice.example"), "https://voice.example");
        assert_eq!(mask_uri_password("not a uri"), "not a uri");
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
