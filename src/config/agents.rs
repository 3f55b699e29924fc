//! `[[agents]]`: agents declared in `voicera.toml`, with the original VoicEra's field names, checked and
//! compiled into [`AgentConfig`] (the models they use are loaded later, by `local.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use voicera_conversation::agent::{check_template, AgentTool, CallLimits, HttpTool, InteractionMode};
use voicera_conversation::dial_policy::DialPolicy;
use voicera_conversation::knowledge::KnowledgeBase;
use voicera_conversation::turn::TurnPolicy;
use voicera_media::vad::VadParams;
use voicera_store::RESERVED_AGENT_IDS;

use super::providers::Providers;

use super::speech::{self, CloudSpeech};

/// `[[agents]]`: an agent on local models, with the original VoicEra's field names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    id: String,
    #[serde(default)]
    numbers: Vec<String>,
    system_prompt: String,
    #[serde(default)]
    greeting_message: String,
    language: Option<String>,
    stt_model: Option<ModelNames>,
    stt_decoding: Option<String>,
    llm_model: Option<ModelNames>,
    /// An OpenAI-compatible API root (OpenAI, vLLM, llama.cpp server, Ollama): `llm_model` is then its model.
    llm_base_url: Option<String>,
    /// The environment variable holding that API's key (keys stay out of the file).
    llm_api_key_env: Option<String>,
    tts_model: Option<ModelNames>,
    tts_voice: Option<String>,
    /// Cloud voices by provider (`{ elevenlabs = "…", cartesia = "…" }`); `tts_voice` is the local engine's.
    #[serde(default)]
    tts_voices: std::collections::BTreeMap<String, String>,
    interaction_mode: Option<String>,
    ignore_user_speech_before_greeting: Option<bool>,
    interruption_min_words: Option<u32>,
    /// Barge-in: how long the agent stays paused under the caller's voice waiting for words (ms).
    barge_in_window_ms: Option<u64>,
    /// Barge-in: the caller's voiced time within the window that interrupts without words (ms).
    barge_in_min_speech_ms: Option<u64>,
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
pub(crate) enum SpeechModelChoice {
    /// Silero VAD v6 (accurate; ~36 µs per 20 ms frame, bench/results/models.md).
    Silero,
    /// The adaptive energy model (cheapest).
    Energy,
}

/// What ends a caller's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnDetection {
    /// The VAD's stop time alone (the original's behaviour).
    Silence,
    /// A finished sentence in the transcript, after a short pause; else the stop time.
    Punctuation,
}

/// Which language model an agent thinks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LlmChoice {
    /// A local model in process, by its cache name (`smollm2-135m`, `qwen2.5-coder-0.5b`).
    Local { model: String },
    /// A model on an OpenAI-compatible server; the key is the agent's org's for `integration` when it has
    /// one, else read from `api_key_env` when the agent loads (`needs_key`: one of them must give a key).
    OpenAiCompatible {
        base_url: String,
        model: String,
        api_key_env: Option<String>,
        integration: Option<String>,
        needs_key: bool,
        /// `[providers.<name>] timeout_ms`.
        timeout: Option<Duration>,
    },
    /// A model on a provider with its own protocol (Anthropic Messages, Gemini); the key is the agent's org's
    /// for `integration` when it has one, else read from `api_key_env` when the agent loads.
    Native {
        provider: NativeLlm,
        base_url: String,
        model: String,
        api_key_env: Option<String>,
        integration: String,
        /// `[providers.<name>] timeout_ms`.
        timeout: Option<Duration>,
    },
    /// An ordered fallback chain (`llm_model = ["openai:gpt-4o-mini", "smollm2-135m"]`): each link by the name
    /// the configuration gave it, never itself a chain.
    Chain(Vec<(String, LlmChoice)>),
}

/// Language-model providers with a protocol of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NativeLlm {
    /// Anthropic's Messages API (`anthropic:claude-…`).
    Anthropic,
    /// Google's Gemini API (`gemini:gemini-…`).
    Gemini,
}

/// One model name, or an ordered chain of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ModelNames {
    One(String),
    Chain(Vec<String>),
}

/// Cloud providers that speak the OpenAI chat-completions protocol, reachable as `provider:model`, with their
/// public API roots (`VOICERA_<PROVIDER>_BASE_URL` overrides; any other name works once that variable is
/// set). The first four need a key in `VOICERA_<PROVIDER>_API_KEY`.
pub(crate) const OPENAI_COMPATIBLE: &[(&str, &str, bool)] = &[
    ("openai", "https://api.openai.com/v1", true),
    ("groq", "https://api.groq.com/openai/v1", true),
    ("together", "https://api.together.xyz/v1", true),
    ("xai", "https://api.x.ai/v1", true),
    ("ollama", "http://127.0.0.1:11434/v1", false),
    ("vllm", "http://127.0.0.1:8000/v1", false),
    ("llamacpp", "http://127.0.0.1:8080/v1", false),
];

/// The `VOICERA_<PROVIDER>_…` prefix of a provider's variables.
pub(crate) fn provider_env(provider: &str) -> String {
    format!("VOICERA_{}", provider.to_ascii_uppercase().replace('-', "_"))
}

/// Where the compile step finds cloud providers' roots and keys: `[providers]` and the environment, and
/// whether a key must be there now (`[[agents]]`) or may come from the agent's org when it is built (stored
/// agents: an org's integrations are read by the node's routing, and a missing key fails the agent's load).
#[derive(Clone, Copy)]
pub(super) struct Clouds<'a> {
    pub(super) providers: &'a Providers,
    pub(super) keys_now: bool,
}

/// One link of `llm_model`: a local model, or `provider:model` on an OpenAI-compatible provider.
fn llm_link(at: &str, name: &str, clouds: Clouds<'_>) -> Result<LlmChoice> {
    let Some((provider, model)) = name.split_once(':') else {
        if voicera_models_local::cache::language_models().any(|m| m.name == name) {
            return Ok(LlmChoice::Local { model: name.to_string() });
        }
        let local: Vec<&str> = voicera_models_local::cache::language_models().map(|m| m.name).collect();
        bail!(
            "{at}.llm_model: {name:?} is not available locally ({}); name a cloud model as provider:model \
             (openai:gpt-4o-mini) or set llm_base_url to use it on an OpenAI-compatible server",
            local.join(", ")
        )
    };
    if provider.is_empty() || model.trim().is_empty() {
        bail!("{at}.llm_model: {name:?} must be provider:model (openai:gpt-4o-mini)");
    }
    let env = provider_env(provider);
    let native = match provider {
        "anthropic" => Some((NativeLlm::Anthropic, voicera_models_cloud::anthropic::DEFAULT_BASE_URL)),
        "gemini" | "google" => Some((NativeLlm::Gemini, voicera_models_cloud::gemini::DEFAULT_BASE_URL)),
        _ => None,
    };
    let known = OPENAI_COMPATIBLE.iter().find(|(p, _, _)| *p == provider);
    let (base_url, from) = match (clouds.providers.base_url(provider), native, known) {
        (Some(found), _, _) => found,
        (None, Some((_, url)), _) | (None, None, Some(&(_, url, _))) => (url.to_string(), String::new()),
        (None, None, None) => bail!(
            "{at}.llm_model: unknown provider {provider:?} (known: anthropic, gemini, {}); for another \
             OpenAI-compatible server set {env}_BASE_URL or [providers.{provider}] base_url",
            OPENAI_COMPATIBLE.iter().map(|(p, _, _)| *p).collect::<Vec<_>>().join(", ")
        ),
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        bail!("{from}: {base_url:?} must start with http:// or https://");
    }
    let api_key_env = clouds.providers.key_var(provider);
    let needs_key = native.is_some() || known.is_some_and(|(_, _, needs_key)| *needs_key);
    if needs_key && api_key_env.is_none() && clouds.keys_now {
        bail!("{at}.llm_model: {name:?} needs a key in {}", clouds.providers.key_places(provider));
    }
    let base_url = base_url.trim_end_matches('/').to_string();
    let integration = provider.to_string();
    let timeout = clouds.providers.timeout(provider);
    Ok(match native {
        Some((provider, _)) => {
            LlmChoice::Native { provider, base_url, model: model.to_string(), api_key_env, integration, timeout }
        }
        None => LlmChoice::OpenAiCompatible {
            base_url,
            model: model.to_string(),
            api_key_env,
            integration: Some(integration),
            needs_key,
            timeout,
        },
    })
}

/// The local Piper voice (model cache name).
pub(crate) const PIPER_VOICE: &str = "piper-en_US-joe-medium";

/// Which local text-to-speech speaks for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TtsChoice {
    /// espeak-ng: every language it has, instant, robotic.
    Espeak,
    /// Piper (VITS, ONNX Runtime): a natural English voice.
    Piper,
    /// A Parler-TTS checkpoint on disk (AI4Bharat's Indic Parler-TTS): English and Indian languages, a voice
    /// described in words (`tts_voice`). For GPU nodes: a clause takes seconds on a CPU.
    Parler(PathBuf),
    /// A model on a speech provider (`tts_model = "elevenlabs:eleven_flash_v2_5"`).
    Cloud(CloudSpeech),
    /// An ordered fallback chain (`tts_model = ["elevenlabs:eleven_flash_v2_5", "piper"]`): each link by the
    /// name the configuration gave it, never itself a chain.
    Chain(Vec<(String, TtsChoice)>),
}

/// Which recogniser an agent listens with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SttChoice {
    /// A local model: a cache name (`whisper-base`) or a checkpoint directory (IndicWhisper, IndicConformer).
    Local(String),
    /// A model on a speech provider (`stt_model = "deepgram:nova-3"`).
    Cloud(CloudSpeech),
    /// An ordered fallback chain (`stt_model = ["deepgram:nova-3", "whisper-tiny.en"]`): each link by the name
    /// the configuration gave it, never itself a chain.
    Chain(Vec<(String, SttChoice)>),
}

impl SttChoice {
    /// The local models it uses (the one, or the chain's local links).
    pub(crate) fn local_models(&self) -> Vec<&str> {
        match self {
            SttChoice::Local(model) => vec![model.as_str()],
            SttChoice::Cloud(_) => Vec::new(),
            SttChoice::Chain(links) => links.iter().flat_map(|(_, link)| link.local_models()).collect(),
        }
    }
}

/// `stt_model`, `llm_model` or `tts_model` (`key`): one link, or a chain of them (`chain` builds it from two
/// links or more; a list of one is that link).
fn model_chain<T>(
    at: &str,
    key: &str,
    names: ModelNames,
    link: impl Fn(&str) -> Result<T>,
    chain: impl FnOnce(Vec<(String, T)>) -> T,
) -> Result<T> {
    match names {
        ModelNames::One(name) => link(&name),
        ModelNames::Chain(names) => {
            if names.is_empty() {
                bail!("{at}.{key}: an empty list; name at least one model");
            }
            let links = names.into_iter().map(|name| Ok((name.clone(), link(&name)?))).collect::<Result<Vec<_>>>()?;
            match <[_; 1]>::try_from(links) {
                Ok([(_, single)]) => Ok(single),
                Err(links) => Ok(chain(links)),
            }
        }
    }
}

/// A cloud link's provider and model (`deepgram:nova-3`); `None` for a local name or a directory path.
fn cloud_name(name: &str) -> Option<(&str, &str)> {
    name.split_once(':').filter(|(provider, _)| !provider.contains('/'))
}

/// One link of `stt_model`: a local model, or `provider:model` on a speech provider.
fn stt_link(at: &str, name: &str, language: &str, base_dir: &Path, clouds: Clouds<'_>) -> Result<SttChoice> {
    if let Some((provider, model)) = cloud_name(name) {
        let none = std::collections::BTreeMap::new();
        let stage = speech::Stage::Stt;
        let link = speech::cloud_link(at, "stt_model", stage, provider, model, language, &none, clouds)?;
        return Ok(SttChoice::Cloud(link));
    }
    Ok(SttChoice::Local(match name {
        "whisper-tiny.en" if language != "en" => {
            bail!("{at}.stt_model: whisper-tiny.en understands English only; use whisper-base for {language:?}")
        }
        "whisper-tiny.en" | "whisper-base" => name.to_string(),
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
             checkpoint directory: IndicWhisper or another Whisper, IndicConformer; cloud: provider:model, e.g. \
             deepgram:nova-3)"
        ),
    }))
}

/// One link of `tts_model`: a local engine, or `provider:model` on a speech provider (its voice from
/// `voices`).
fn tts_link(
    at: &str,
    name: &str,
    language: &str,
    base_dir: &Path,
    local_voice: Option<&str>,
    voices: &std::collections::BTreeMap<String, String>,
    clouds: Clouds<'_>,
) -> Result<TtsChoice> {
    if let Some((provider, model)) = cloud_name(name) {
        let stage = speech::Stage::Tts;
        let link = speech::cloud_link(at, "tts_model", stage, provider, model, language, voices, clouds)?;
        return Ok(TtsChoice::Cloud(link));
    }
    Ok(match name {
        "espeak" | "espeak-ng" => {
            // espeak-ng must have a voice for the language only when it is the one speaking it.
            if local_voice.is_none() {
                voicera_models_local::espeak::voice_for(language)
                    .map_err(|e| anyhow::anyhow!("{at}.language: {e} (tts_model uses espeak)"))?;
            }
            TtsChoice::Espeak
        }
        "piper" | PIPER_VOICE => {
            if !language.to_ascii_lowercase().starts_with("en") {
                bail!("{at}.tts_model: the Piper voice speaks English; use espeak for {language:?}");
            }
            if local_voice.is_some() {
                bail!("{at}.tts_voice names an espeak-ng voice; Piper has one voice ({PIPER_VOICE})");
            }
            TtsChoice::Piper
        }
        path if path.contains('/') => {
            let dir = relative_to(base_dir, Path::new(path));
            if !dir.join("config.json").is_file() {
                bail!("{at}.tts_model: {} is not a Parler-TTS checkpoint directory (no config.json)", dir.display());
            }
            TtsChoice::Parler(dir)
        }
        other => bail!(
            "{at}.tts_model: {other:?} is not available (local: espeak, piper, or the path of an Indic Parler-TTS \
             checkpoint directory; cloud: provider:model, e.g. elevenlabs:eleven_flash_v2_5)"
        ),
    })
}

/// A configured agent, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentConfig {
    pub(crate) id: String,
    /// Attached numbers, digits only (a leading `+` and spaces are ignored when matching).
    pub(crate) numbers: Vec<String>,
    pub(crate) system_prompt: String,
    pub(crate) greeting: String,
    pub(crate) language: String,
    pub(crate) stt: SttChoice,
    /// IndicConformer's decoder (`stt_decoding`: ctc, the default, or rnnt).
    pub(crate) stt_decoding: voicera_models_local::indic_conformer::Decoding,
    pub(crate) llm: LlmChoice,
    pub(crate) tts: TtsChoice,
    /// espeak-ng voice (None: the language's default voice).
    pub(crate) tts_voice: Option<String>,
    pub(crate) mode: InteractionMode,
    pub(crate) policy: TurnPolicy,
    pub(crate) vad: VadParams,
    pub(crate) speech_model: SpeechModelChoice,
    pub(crate) turn_detection: TurnDetection,
    pub(crate) limits: CallLimits,
    pub(crate) utc_offset_minutes: i32,
    pub(crate) record: bool,
    pub(crate) tools: Vec<AgentTool>,
}

/// Digits of a phone number, for matching `+91 80000 00001` with `918000000001`.
pub(crate) fn normalize_number(text: &str) -> String {
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

pub(super) fn compile_agents(
    raw: Vec<RawAgent>,
    base_dir: &Path,
    policy: &DialPolicy,
    clouds: Clouds<'_>,
) -> Result<Vec<AgentConfig>> {
    let mut agents: Vec<AgentConfig> = Vec::new();
    for a in raw {
        let at = format!("agents.{}", a.id);
        if a.id.is_empty() || !a.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("agents: id {:?} must be letters, digits, '-' or '_'", a.id);
        }
        if RESERVED_AGENT_IDS.contains(&a.id.as_str()) {
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
        // A code (`hi`, `en-IN`) or one of the original's display names ("Hindi", "English (India)"), in
        // `[[agents]]` and in stored agents alike.
        let language = a.language.as_deref().map_or_else(|| "en".into(), language_code);
        // Each engine of the agent's chains is checked against the language where it is named (espeak-ng's
        // voices, Piper's English, the cloud providers' table); a language neither the table nor espeak-ng
        // knows is a typo.
        if !speech::LANGUAGES.iter().any(|(code, _)| language.split('-').next() == Some(*code))
            && voicera_models_local::espeak::voice_for(&language).is_err()
        {
            bail!("{at}.language: {language:?} is not a language code this node knows (en, hi, ta, mni, ...)");
        }
        let stt = match a.stt_model {
            Some(names) => model_chain(
                &at,
                "stt_model",
                names,
                |n| stt_link(&at, n, &language, base_dir, clouds),
                SttChoice::Chain,
            )?,
            None if language == "en" => SttChoice::Local("whisper-tiny.en".into()),
            None => SttChoice::Local("whisper-base".into()),
        };
        if a.llm_api_key_env.is_some() && a.llm_base_url.is_none() {
            bail!("{at}.llm_api_key_env: only used with llm_base_url");
        }
        let llm = match (a.llm_base_url, a.llm_model) {
            (None, None) => LlmChoice::Local { model: crate::local::DEMO_LLM.to_string() },
            (None, Some(names)) => {
                model_chain(&at, "llm_model", names, |n| llm_link(&at, n, clouds), LlmChoice::Chain)?
            }
            (Some(_), Some(ModelNames::Chain(_))) => {
                bail!("{at}.llm_model: a chain names its links as provider:model; drop llm_base_url")
            }
            (Some(base_url), model) => {
                let model = model.and_then(|m| match m {
                    ModelNames::One(name) => Some(name),
                    ModelNames::Chain(_) => None,
                });
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
                LlmChoice::OpenAiCompatible {
                    base_url,
                    model,
                    needs_key: a.llm_api_key_env.is_some(),
                    api_key_env: a.llm_api_key_env,
                    integration: None,
                    timeout: None,
                }
            }
        };
        let tts_names = a.tts_model.unwrap_or_else(|| ModelNames::One("espeak".into()));
        let used: Vec<&str> = match &tts_names {
            ModelNames::One(name) => cloud_name(name).into_iter().map(|(p, _)| p).collect(),
            ModelNames::Chain(names) => names.iter().filter_map(|n| cloud_name(n)).map(|(p, _)| p).collect(),
        };
        speech::check_voices(&at, &a.tts_voices, &used)?;
        let voice = a.tts_voice.as_deref();
        let tts_link = |n: &str| tts_link(&at, n, &language, base_dir, voice, &a.tts_voices, clouds);
        let tts = model_chain(&at, "tts_model", tts_names, tts_link, TtsChoice::Chain)?;
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
            barge_in_window: match a.barge_in_window_ms {
                Some(ms) if !(200..=5000).contains(&ms) => {
                    bail!("{at}.barge_in_window_ms must be between 200 and 5000")
                }
                Some(ms) => Duration::from_millis(ms),
                None => defaults.barge_in_window,
            },
            barge_in_min_speech: match a.barge_in_min_speech_ms {
                Some(ms) if !(100..=5000).contains(&ms) => {
                    bail!("{at}.barge_in_min_speech_ms must be between 100 and 5000")
                }
                Some(ms) => Duration::from_millis(ms),
                None => defaults.barge_in_min_speech,
            },
        };
        let utc_offset_minutes = match a.utc_offset.as_deref() {
            None => 0,
            Some(text) => parse_utc_offset(text).with_context(|| format!("{at}.utc_offset: {text:?} is not ±HH:MM"))?,
        };
        let mut tools = compile_tools(&at, a.tools, a.transfer_targets, a.http_tools, policy)?;
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
                Some("rnnt") if stt.local_models().iter().any(|m| crate::local::is_indic_conformer(Path::new(m))) => {
                    voicera_models_local::indic_conformer::Decoding::Rnnt
                }
                Some("rnnt") => bail!("{at}.stt_decoding: only an IndicConformer stt_model has an RNNT decoder"),
                Some(other) => bail!("{at}.stt_decoding: {other:?} is not ctc or rnnt"),
            },
            stt,
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
    policy: &DialPolicy,
) -> Result<Vec<AgentTool>> {
    let transfer_targets = compile_transfer_targets(at, &names, transfer_targets, policy)?;
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

/// An agent's transfer targets, each through the dial policy, in normal form (what the model is offered and
/// may name). `transfer_call` without targets is refused: the model would dial whatever a caller talks it
/// into, and on provider streams the provider dials it on the operator's bill.
fn compile_transfer_targets(
    at: &str,
    names: &[String],
    targets: Vec<String>,
    policy: &DialPolicy,
) -> Result<Vec<String>> {
    if targets.is_empty() && names.iter().any(|n| n == "transfer_call") {
        bail!(
            "{at}.tools: transfer_call needs {at}.transfer_targets, the numbers or sip: URIs it may transfer to \
             (without them the model could dial any number a caller asks for)"
        );
    }
    let mut normalized: Vec<String> = Vec::with_capacity(targets.len());
    for target in &targets {
        let allowed = policy.check(target).map_err(|e| anyhow::anyhow!("{at}.transfer_targets: {e}"))?;
        let target = allowed.dial_string().to_string();
        if !normalized.contains(&target) {
            normalized.push(target);
        }
    }
    Ok(normalized)
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

/// The control plane's check of an agent's `agent_config` (the original VoicEra's JSON): the same compile step
/// as `[[agents]]`, so the API refuses what a call could not run. The original nests model choices as
/// objects (`"llm_model": {"name": …}`); their names are what this node compiles. Keys this node does not
/// know (the original's provider settings) are left to the API to store.
pub(crate) struct AgentCompiler {
    pub(crate) policy: std::sync::Arc<DialPolicy>,
    /// `[providers]`: cloud providers' roots and key variables.
    pub(crate) providers: std::sync::Arc<Providers>,
}

/// Keys of `agent_config` that mean the same as `[[agents]]` keys.
const SHARED_AGENT_KEYS: &[&str] = &[
    "system_prompt",
    "greeting_message",
    "language",
    "stt_model",
    "llm_model",
    "tts_model",
    "tts_voice",
    "tts_voices",
    "interaction_mode",
    "ignore_user_speech_before_greeting",
    "interruption_min_words",
    "user_silence_hangup_seconds",
    "call_timeout_seconds",
    "user_online_detection_seconds",
    "user_online_detection_message",
    "hold_messages",
    "hold_message_timeout_seconds",
    "vad_profile",
    "tools",
    "transfer_targets",
];

impl AgentCompiler {
    /// Compiles a stored agent's `agent_config` (the original's JSON) into the agent a call runs: the
    /// `[[agents]]` compile step, so the API's check and the calls it routes cannot disagree. `id` is the
    /// agent's id; numbers come from the store's phone numbers, not from here. The error names the field
    /// inside `agent_config`.
    pub(crate) fn compile(
        &self,
        id: &str,
        agent_config: &serde_json::Value,
    ) -> std::result::Result<AgentConfig, voicera_api::FieldError> {
        let field_error = |field: &str, message: String| voicera_api::FieldError { field: field.into(), message };
        let Some(config) = agent_config.as_object() else {
            return Err(field_error("", "agent_config must be a JSON object".into()));
        };
        let mut raw = serde_json::Map::new();
        raw.insert("id".into(), id.into());
        // Voices the original's `tts_model` objects name; `tts_voices` given explicitly wins.
        let mut voices = serde_json::Map::new();
        for key in SHARED_AGENT_KEYS {
            let Some(value) = config.get(*key) else { continue };
            // `{"name": "smollm2-135m", …}` or the original's `{"name": "OpenAI", "model": "gpt-4o"}` model
            // objects, or a plain name. Language display names ("English (India)") are read by the compile step.
            let value = match value {
                serde_json::Value::Object(model) if key.ends_with("_model") => {
                    let Some(name) = model.get("name").and_then(serde_json::Value::as_str) else {
                        return Err(field_error(&format!("{key}.name"), "a model needs a name".into()));
                    };
                    let (link, voice) = original_model(key, name, model);
                    if let Some((provider, voice)) = voice {
                        voices.insert(provider.into(), voice.into());
                    }
                    link.into()
                }
                serde_json::Value::Null => continue,
                other => other.clone(),
            };
            raw.insert((*key).into(), value);
        }
        if !voices.is_empty() {
            let explicit = raw.remove("tts_voices").and_then(|v| v.as_object().cloned()).unwrap_or_default();
            voices.extend(explicit);
            raw.insert("tts_voices".into(), voices.into());
        }
        raw.entry("system_prompt").or_insert_with(|| "".into());
        let raw: RawAgent = serde_json::from_value(serde_json::Value::Object(raw))
            .map_err(|err| field_error(&unknown_field_of(&err.to_string()), err.to_string()))?;
        // A stored agent's keys may be its org's (integrations), read when routing builds it.
        let clouds = Clouds { providers: &self.providers, keys_now: false };
        match compile_agents(vec![raw], Path::new("."), &self.policy, clouds) {
            Ok(mut agents) if agents.len() == 1 => Ok(agents.remove(0)),
            Ok(_) => Err(field_error("", "the compile step returned no agent".into())),
            Err(err) => {
                // "agents.<id>.<field>: <message>" names the field the way `[[agents]]` errors do.
                let text = format!("{err:#}");
                let prefix = format!("agents.{id}.");
                let (field, message) = match text.strip_prefix(&prefix).and_then(|t| t.split_once(": ")) {
                    Some((field, message)) => (field.to_string(), message.to_string()),
                    None => (String::new(), text),
                };
                Err(field_error(&field, message))
            }
        }
    }
}

/// The original VoicEra's model objects in this node's terms: `{"name": "OpenAI", "model": "gpt-4o"}` is
/// `openai:gpt-4o` (the original's default model when none is named), a TTS object's voice (`args.voice_id`,
/// `voice_id` or `speaker`) goes to `tts_voices` under its provider. Names the original's console did not
/// offer (local engines, `provider:model` links) are kept as they are; so are its providers this node has no
/// client for (Kenpath, Bhashini, a custom LLM), which the compile step then refuses naming the field.
fn original_model<'a>(
    key: &str,
    name: &'a str,
    model: &'a serde_json::Map<String, serde_json::Value>,
) -> (String, Option<(&'static str, &'a str)>) {
    let text =
        |value: Option<&'a serde_json::Value>| value.and_then(serde_json::Value::as_str).filter(|t| !t.is_empty());
    let args = model.get("args");
    let chosen = text(model.get("model")).or_else(|| text(args.and_then(|a| a.get("model"))));
    let normal: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    // (provider, the original's default model) per stage.
    let provider = match (key, normal.as_str()) {
        ("llm_model", "openai") => Some(("openai", Some("gpt-4o"))),
        ("llm_model", "anthropic") => Some(("anthropic", Some("claude-sonnet-4-5-20250929"))),
        ("llm_model", "grok") => Some(("xai", Some("grok-3-beta"))),
        ("llm_model", "groq") => Some(("groq", None)),
        ("llm_model", "google" | "googlegemini" | "gemini") => Some(("gemini", None)),
        ("stt_model", "deepgram") => Some(("deepgram", Some("nova-3"))),
        ("stt_model", "sarvam") => Some(("sarvam", Some("saarika:v2.5"))),
        ("stt_model", "elevenlabs") => Some(("elevenlabs", Some("scribe_v2_realtime"))),
        ("stt_model", "openai") => Some(("openai", Some("whisper-1"))),
        ("tts_model", "cartesia") => Some(("cartesia", Some("sonic-2"))),
        ("tts_model", "deepgram") => Some(("deepgram", Some("aura-2-thalia-en"))),
        ("tts_model", "elevenlabs") => Some(("elevenlabs", Some("eleven_turbo_v2_5"))),
        ("tts_model", "sarvam") => Some(("sarvam", Some("bulbul:v2"))),
        ("tts_model", "openai") => Some(("openai", Some("gpt-4o-mini-tts"))),
        _ => None,
    };
    let Some((provider, default)) = provider else { return (name.to_string(), None) };
    let Some(chosen) = chosen.or(default) else { return (name.to_string(), None) };
    let voice = (key == "tts_model" && provider != "deepgram")
        .then(|| {
            text(args.and_then(|a| a.get("voice_id")))
                .or_else(|| text(model.get("voice_id")))
                .or_else(|| text(model.get("speaker")))
        })
        .flatten()
        .map(|voice| (provider, voice));
    (format!("{provider}:{chosen}"), voice)
}

/// An agent's language as a code: one of the original console's display names becomes its code ("English
/// (India)" → `en-IN`, "Hindi" → `hi`, in any case); anything else is kept as written (a code, checked later).
/// The one mapping for `[[agents]]` and for agents stored through the API.
fn language_code(language: &str) -> String {
    original_language(language).map_or_else(|| language.to_string(), str::to_string)
}

/// The language code of one of the original console's language display names ("English (India)" → `en-IN`).
fn original_language(name: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("english", "en"),
        ("english (us)", "en"),
        ("english (india)", "en-IN"),
        ("hindi", "hi"),
        ("bengali", "bn"),
        ("tamil", "ta"),
        ("telugu", "te"),
        ("marathi", "mr"),
        ("gujarati", "gu"),
        ("kannada", "kn"),
        ("malayalam", "ml"),
        ("punjabi", "pa"),
        ("odia", "or"),
        ("assamese", "as"),
        ("urdu", "ur"),
        ("nepali", "ne"),
        ("sanskrit", "sa"),
        ("manipuri", "mni"),
        ("bodo", "brx"),
        ("dogri", "doi"),
        ("konkani", "kok"),
        ("kashmiri", "ks"),
        ("maithili", "mai"),
        ("santali", "sat"),
        ("sindhi", "sd"),
        ("bhili", "bhb"),
    ];
    let name = name.trim().to_lowercase();
    NAMES.iter().find(|(display, _)| *display == name).map(|(_, code)| *code)
}

impl voicera_api::AgentValidator for AgentCompiler {
    fn validate(&self, agent_config: &serde_json::Value) -> std::result::Result<(), voicera_api::FieldError> {
        self.compile("api-agent", agent_config).map(drop)
    }
}

/// The key a serde error names (`invalid type … at line 1` carries none; `unknown field \`x\`` does).
fn unknown_field_of(message: &str) -> String {
    message.split('`').nth(1).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicera_conversation::dial_policy::DialPolicySettings;

    fn agents(toml_text: &str, policy: &DialPolicy) -> Result<Vec<AgentConfig>> {
        #[derive(Deserialize)]
        struct File {
            agents: Vec<RawAgent>,
        }
        let file: File = toml::from_str(toml_text)?;
        let providers = Providers::default();
        compile_agents(file.agents, Path::new("."), policy, Clouds { providers: &providers, keys_now: true })
    }

    fn transfer_targets(agent: &AgentConfig) -> Option<&[String]> {
        agent.tools.iter().find_map(|t| match t {
            AgentTool::TransferCall { targets } => Some(targets.as_slice()),
            _ => None,
        })
    }

    const AGENT: &str = "[[agents]]\nid = \"desk\"\nsystem_prompt = \"x\"\n";

    #[test]
    fn llm_model_takes_a_fallback_chain_of_cloud_and_local_links() {
        let config =
            agents(&format!("{AGENT}llm_model = [\"ollama:llama3.2\", \"smollm2-135m\"]"), &DialPolicy::default())
                .unwrap();
        assert_eq!(
            config[0].llm,
            LlmChoice::Chain(vec![
                (
                    "ollama:llama3.2".into(),
                    LlmChoice::OpenAiCompatible {
                        base_url: "http://127.0.0.1:11434/v1".into(),
                        model: "llama3.2".into(),
                        api_key_env: None,
                        integration: Some("ollama".into()),
                        needs_key: false,
                        timeout: None,
                    }
                ),
                ("smollm2-135m".into(), LlmChoice::Local { model: "smollm2-135m".into() }),
            ])
        );
        // A list of one is that model; a plain string keeps working.
        let one = agents(&format!("{AGENT}llm_model = [\"smollm2-135m\"]"), &DialPolicy::default()).unwrap();
        assert_eq!(one[0].llm, LlmChoice::Local { model: "smollm2-135m".into() });
        let plain = agents(&format!("{AGENT}llm_model = \"vllm:qwen\""), &DialPolicy::default()).unwrap();
        assert!(matches!(&plain[0].llm, LlmChoice::OpenAiCompatible { model, .. } if model == "qwen"));
    }

    #[test]
    fn a_bad_llm_chain_is_refused_with_the_link_and_what_to_do() {
        let refused = |value: &str| {
            format!("{:#}", agents(&format!("{AGENT}llm_model = {value}"), &DialPolicy::default()).unwrap_err())
        };
        let err = refused("[]");
        assert!(err.contains("agents.desk.llm_model") && err.contains("empty"), "{err}");
        let err = refused("[\"mystery:m\", \"smollm2-135m\"]");
        assert!(err.contains("unknown provider \"mystery\"") && err.contains("VOICERA_MYSTERY_BASE_URL"), "{err}");
        if std::env::var_os("VOICERA_ANTHROPIC_API_KEY").is_none() {
            let err = refused("[\"anthropic:claude-3-5-haiku\"]");
            assert!(err.contains("VOICERA_ANTHROPIC_API_KEY"), "{err}");
        }
        let err = refused("[\"gpt-9\"]");
        assert!(err.contains("not available locally") && err.contains("provider:model"), "{err}");
        let err = refused("[\"ollama:\"]");
        assert!(err.contains("must be provider:model"), "{err}");
        if std::env::var_os("VOICERA_OPENAI_API_KEY").is_none() {
            let err = refused("[\"openai:gpt-4o-mini\"]");
            assert!(err.contains("VOICERA_OPENAI_API_KEY"), "{err}");
        }
    }

    #[test]
    fn transfer_call_without_targets_is_a_config_error_naming_the_agent_and_field() {
        let err = format!(
            "{:#}",
            agents(&format!("{AGENT}tools = [\"transfer_call\"]"), &DialPolicy::default()).unwrap_err()
        );
        assert!(err.contains("agents.desk.tools") && err.contains("agents.desk.transfer_targets"), "{err}");
        // Other tools need no targets.
        let config = agents(&format!("{AGENT}tools = [\"end_call\"]"), &DialPolicy::default()).unwrap();
        assert_eq!(transfer_targets(&config[0]), None);
    }

    #[test]
    fn transfer_targets_pass_the_dial_policy_and_are_kept_in_normal_form() {
        let policy = DialPolicy::new(&DialPolicySettings {
            allowed_sip_hosts: vec!["pbx.example.com".into()],
            ..Default::default()
        })
        .unwrap();
        let text = format!(
            "{AGENT}tools = [\"transfer_call\"]\ntransfer_targets = [\"+91 80000 00002\", \"0091-8000000002\", \"sip:sales@pbx.example.com\", \"2001\"]"
        );
        let config = agents(&text, &policy).unwrap();
        assert_eq!(
            transfer_targets(&config[0]),
            Some(&["+918000000002".to_string(), "sip:sales@pbx.example.com".into(), "2001".into()][..]),
            "one entry per target, normalised"
        );
        for (target, expected) in [
            ("+1 900 555 1234", "premium-rate"),
            ("sip:sales@evil.example", "evil.example is not in dial_policy.allowed_sip_hosts"),
            ("*72+15551230000", "feature codes"),
            ("not a number", "is not a phone number"),
        ] {
            let text = format!("{AGENT}transfer_targets = [\"{target}\"]");
            let err = format!("{:#}", agents(&text, &policy).unwrap_err());
            assert!(err.starts_with("agents.desk.transfer_targets: ") && err.contains(expected), "{target}: {err}");
        }
    }

    #[test]
    fn stt_and_tts_models_take_cloud_links_and_chains_with_local_ones() {
        // Variables no other test reads.
        std::env::set_var("VOICERA_DEEPGRAM_API_KEY", "dg-test-key");
        std::env::set_var("VOICERA_CARTESIA_API_KEY", "ca-test-key");
        let text = format!(
            "{AGENT}stt_model = [\"deepgram:nova-3\", \"whisper-tiny.en\"]\n\
             tts_model = [\"deepgram:aura-2-thalia-en\", \"cartesia:sonic-2\", \"espeak\"]\n\
             tts_voices = {{ cartesia = \"a0e99841\" }}"
        );
        let config = agents(&text, &DialPolicy::default()).unwrap();
        let SttChoice::Chain(links) = &config[0].stt else { panic!("a chain: {:?}", config[0].stt) };
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0],
            (
                "deepgram:nova-3".to_string(),
                SttChoice::Cloud(CloudSpeech {
                    name: "deepgram:nova-3".into(),
                    provider: speech::SpeechProvider::Deepgram,
                    base_url: "https://api.deepgram.com".into(),
                    model: "nova-3".into(),
                    api_key_env: Some("VOICERA_DEEPGRAM_API_KEY".into()),
                    needs_key: true,
                    voice: None,
                    account: "deepgram",
                    timeout: None,
                })
            )
        );
        assert_eq!(links[1], ("whisper-tiny.en".to_string(), SttChoice::Local("whisper-tiny.en".into())));
        let TtsChoice::Chain(voices) = &config[0].tts else { panic!("a chain: {:?}", config[0].tts) };
        assert!(
            matches!(&voices[1].1, TtsChoice::Cloud(c) if c.voice.as_deref() == Some("a0e99841") && c.model == "sonic-2")
        );
        assert_eq!(voices[2].1, TtsChoice::Espeak);
        // A plain string keeps working; a list of one is that model.
        let plain =
            agents(&format!("{AGENT}stt_model = \"deepgram:nova-2\"\ntts_model = [\"piper\"]"), &DialPolicy::default())
                .unwrap();
        assert!(matches!(&plain[0].stt, SttChoice::Cloud(c) if c.model == "nova-2"));
        assert_eq!(plain[0].tts, TtsChoice::Piper);
    }

    #[test]
    fn a_bad_speech_link_is_refused_naming_the_key() {
        std::env::set_var("VOICERA_CARTESIA_API_KEY", "ca-test-key");
        let refused =
            |text: &str| format!("{:#}", agents(&format!("{AGENT}{text}"), &DialPolicy::default()).unwrap_err());
        let err = refused("stt_model = [\"mystery:x\", \"whisper-tiny.en\"]");
        assert!(err.starts_with("agents.desk.stt_model: unknown provider \"mystery\""), "{err}");
        let err = refused("stt_model = \"cartesia:sonic-2\"");
        assert!(err.contains("agents.desk.stt_model: cartesia offers no speech to text"), "{err}");
        let err = refused("tts_model = [\"cartesia:sonic-2\", \"espeak\"]");
        assert!(err.starts_with("agents.desk.tts_voices: cartesia has no default voice"), "{err}");
        let err = refused("tts_model = \"espeak\"\ntts_voices = { elevenlabs = \"x\" }");
        assert!(err.starts_with("agents.desk.tts_voices: \"elevenlabs\" is not a provider of tts_model"), "{err}");
        let err = refused("language = \"hi\"\nstt_model = [\"whisper-base\", \"whisper-tiny.en\"]");
        assert!(err.contains("English only"), "{err}");
        let err = refused("stt_model = []");
        assert!(err.starts_with("agents.desk.stt_model: an empty list"), "{err}");
        if std::env::var_os("VOICERA_SARVAM_API_KEY").is_none() {
            let err = refused("stt_model = [\"sarvam:saarika:v2.5\", \"whisper-tiny.en\"]");
            assert!(err.starts_with("agents.desk.stt_model: ") && err.contains("VOICERA_SARVAM_API_KEY"), "{err}");
        }
        if std::env::var_os("VOICERA_AI4BHARAT_BASE_URL").is_none() {
            let err = refused("language = \"hi\"\nstt_model = \"ai4bharat:indic-conformer\"");
            assert!(err.contains("VOICERA_AI4BHARAT_BASE_URL"), "{err}");
        }
        // The API's check is the same compile step: its error names the field.
        let compiler =
            AgentCompiler { policy: std::sync::Arc::new(DialPolicy::default()), providers: Default::default() };
        let config = serde_json::json!({"system_prompt": "x", "stt_model": ["mystery:x", "whisper-tiny.en"]});
        let err = compiler.compile("api-agent", &config).unwrap_err();
        assert_eq!(err.field, "stt_model", "{}", err.message);
        assert!(err.message.contains("unknown provider"), "{}", err.message);
    }

    /// `agents` with `[providers]` tables.
    fn agents_with(providers: &str, toml_text: &str) -> Result<Vec<AgentConfig>> {
        #[derive(Deserialize)]
        struct Tables {
            providers: std::collections::BTreeMap<String, super::super::providers::RawProvider>,
        }
        let tables: Tables = toml::from_str(providers)?;
        let providers = super::super::providers::compile_providers(tables.providers)?;
        #[derive(Deserialize)]
        struct File {
            agents: Vec<RawAgent>,
        }
        let file: File = toml::from_str(toml_text)?;
        compile_agents(
            file.agents,
            Path::new("."),
            &DialPolicy::default(),
            Clouds { providers: &providers, keys_now: true },
        )
    }

    #[test]
    fn the_language_table_refuses_a_cloud_link_that_cannot_serve_the_agents_language() {
        std::env::set_var("VOICERA_SARVAM_API_KEY", "sv-test-key");
        std::env::set_var("VOICERA_BHASHINI_API_KEY", "user:ulca-test-key");
        std::env::set_var("VOICERA_DEEPGRAM_API_KEY", "dg-test-key");
        let refused =
            |text: &str| format!("{:#}", agents(&format!("{AGENT}{text}"), &DialPolicy::default()).unwrap_err());
        // Santali: Deepgram cannot hear it, Sarvam cannot say it; the error names the key and who can.
        let err = refused(
            "language = \"sat\"\nstt_model = [\"deepgram:nova-3\", \"bhashini:asr\"]\ntts_model = \"bhashini:tts\"",
        );
        assert!(
            err.starts_with("agents.desk.stt_model: \"deepgram:nova-3\" serves no Santali (sat) speech to text"),
            "{err}"
        );
        assert!(err.contains("bhashini") && err.contains("ai4bharat"), "{err}");
        let err = refused("language = \"sat\"\nstt_model = \"bhashini:asr\"\ntts_model = \"sarvam:bulbul:v2\"");
        assert!(
            err.starts_with("agents.desk.tts_model: \"sarvam:bulbul:v2\" serves no Santali (sat) text to speech"),
            "{err}"
        );
        // A region is the same language; Odia on Sarvam is served.
        assert!(agents(
            &format!("{AGENT}language = \"or\"\nstt_model = \"sarvam:saarika:v2.5\"\ntts_model = \"sarvam:bulbul:v2\""),
            &DialPolicy::default()
        )
        .is_ok());
        let err = refused("language = \"ta-IN\"\ntts_model = \"deepgram:aura-2-thalia-en\"");
        assert!(err.contains("serves no Tamil (ta) text to speech"), "{err}");
        // A language espeak-ng lacks is served when the chain does not use espeak-ng (Manipuri on Bhashini).
        let config = agents(
            &format!("{AGENT}language = \"mni\"\nstt_model = \"bhashini:asr\"\ntts_model = \"bhashini:tts\""),
            &DialPolicy::default(),
        )
        .unwrap();
        assert!(matches!(&config[0].tts, TtsChoice::Cloud(c) if c.voice.as_deref() == Some("female")));
        let err = refused("language = \"mni\"\nstt_model = \"bhashini:asr\"");
        assert!(err.starts_with("agents.desk.language: ") && err.contains("espeak"), "{err}");
        let err = refused("language = \"qq\"\ntts_model = \"bhashini:tts\"\nstt_model = \"bhashini:asr\"");
        assert!(err.starts_with("agents.desk.language: \"qq\""), "{err}");
        for (code, _) in speech::LANGUAGES {
            assert!(speech::language_table().contains(&format!("(`{code}`)")));
        }
    }

    #[test]
    fn dhruva_and_google_stream_are_streaming_recognisers_with_their_own_accounts() {
        std::env::set_var("VOICERA_DHRUVA_API_KEY", "dh-test-key");
        std::env::set_var("VOICERA_GOOGLE_API_KEY", "AIza-test-key");
        let text = format!(
            "{AGENT}language = \"hi\"\nstt_model = [\"dhruva:indic-conformer\", \"google-stream:chirp_2\"]\n\
             tts_model = \"espeak\""
        );
        let config = agents(&text, &DialPolicy::default()).unwrap();
        let SttChoice::Chain(links) = &config[0].stt else { panic!("a chain: {:?}", config[0].stt) };
        let clouds: Vec<&CloudSpeech> =
            links.iter().filter_map(|(_, l)| if let SttChoice::Cloud(c) = l { Some(c) } else { None }).collect();
        assert_eq!(clouds[0].provider, speech::SpeechProvider::Dhruva);
        assert_eq!((clouds[0].account, clouds[0].model.as_str()), ("dhruva", "indic-conformer"));
        if std::env::var_os("VOICERA_DHRUVA_BASE_URL").is_none() {
            assert_eq!(clouds[0].base_url, "wss://dhruva-api.bhashini.gov.in");
        }
        assert_eq!(clouds[1].provider, speech::SpeechProvider::GoogleStream);
        assert_eq!((clouds[1].account, clouds[1].model.as_str()), ("google", "chirp_2"), "Google's key and table");
        let refused =
            |text: &str| format!("{:#}", agents(&format!("{AGENT}{text}"), &DialPolicy::default()).unwrap_err());
        let err = refused("language = \"hi\"\ntts_model = \"dhruva:indic-conformer\"");
        assert!(err.contains("dhruva offers no text to speech"), "{err}");
        let err = refused("language = \"sat\"\nstt_model = \"google-stream:chirp_2\"\ntts_model = \"bhashini:tts\"");
        assert!(err.contains("serves no Santali (sat) speech to text") && err.contains("dhruva"), "{err}");
    }

    #[test]
    fn the_readme_shows_the_language_table_as_the_code_has_it() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&speech::language_table()),
            "README.md's table differs from speech::SERVED:\n{}",
            speech::language_table()
        );
    }

    #[test]
    fn a_providers_timeout_and_account_reach_its_links() {
        std::env::set_var("VOICERA_ELEVENLABS_API_KEY", "xi-test-key");
        std::env::set_var("VOICERA_GOOGLE_API_KEY", "g-test-key");
        let config = agents_with(
            "[providers.elevenlabs]\ntimeout_ms = 700\nbase_url = \"http://127.0.0.1:9\"\n",
            &format!("{AGENT}language = \"hi\"\nstt_model = \"google:latest_short\"\ntts_model = [\"elevenlabs-ws:eleven_flash_v2_5\", \"google:hi-IN-Neural2-A\", \"espeak\"]\ntts_voices = {{ elevenlabs-ws = \"v1\" }}"),
        )
        .unwrap();
        let TtsChoice::Chain(links) = &config[0].tts else { panic!("{:?}", config[0].tts) };
        let TtsChoice::Cloud(ws) = &links[0].1 else { panic!() };
        assert_eq!((ws.account, ws.timeout), ("elevenlabs", Some(std::time::Duration::from_millis(700))));
        assert_eq!(ws.base_url, "http://127.0.0.1:9", "the account's root");
        assert_eq!(ws.api_key_env.as_deref(), Some("VOICERA_ELEVENLABS_API_KEY"));
        assert_eq!(ws.voice.as_deref(), Some("v1"));
        let TtsChoice::Cloud(google) = &links[1].1 else { panic!() };
        assert_eq!(google.base_url, "https://texttospeech.googleapis.com", "Google's TTS root");
        assert_eq!((google.voice.as_deref(), google.timeout), (None, None), "the model is the voice");
        let SttChoice::Cloud(stt) = &config[0].stt else { panic!() };
        assert_eq!(stt.base_url, "https://speech.googleapis.com");
        let err = format!("{:#}", agents_with("[providers.openai]\ntimeout_ms = 5\n", AGENT).unwrap_err());
        assert!(err.starts_with("providers.openai.timeout_ms: "), "{err}");
        let config = agents_with(
            "[providers.groq]\ntimeout_ms = 900\napi_key_env = \"VOICERA_TEST_GROQ_KEY\"\n",
            &format!("{AGENT}llm_model = [\"ollama:llama3.2\", \"smollm2-135m\"]"),
        )
        .unwrap();
        assert!(
            matches!(&config[0].llm, LlmChoice::Chain(links) if matches!(&links[0].1, LlmChoice::OpenAiCompatible { timeout: None, .. }))
        );
        let config = agents_with(
            "[providers.ollama]\ntimeout_ms = 900\n",
            &format!("{AGENT}llm_model = [\"ollama:llama3.2\", \"smollm2-135m\"]"),
        )
        .unwrap();
        assert!(
            matches!(&config[0].llm, LlmChoice::Chain(links) if matches!(&links[0].1, LlmChoice::OpenAiCompatible { timeout: Some(t), .. } if t.as_millis() == 900))
        );
    }

    /// What the original console's wizard saves compiles to the same cloud links an operator would write.
    #[test]
    fn the_original_consoles_model_objects_and_language_names_compile() {
        let compiler =
            AgentCompiler { policy: std::sync::Arc::new(DialPolicy::default()), providers: Default::default() };
        let config = serde_json::json!({
            "interaction_mode": "conversational", "system_prompt": "You help.", "greeting_message": "Hi.",
            "language": "English (India)",
            "llm_model": {"name": "OpenAI", "model": "gpt-4o-mini"},
            "stt_model": {"name": "Deepgram", "model": "nova-2", "keywords": "Acme"},
            "tts_model": {"name": "Cartesia", "speaker": "", "args": {"model": "sonic-2", "voice_id": "v-123"}},
            "knowledge_base_enabled": false,
        });
        let agent = compiler.compile("orig", &config).unwrap();
        assert_eq!(agent.language, "en-IN");
        assert!(
            matches!(&agent.llm, LlmChoice::OpenAiCompatible { model, .. } if model == "gpt-4o-mini"),
            "{:?}",
            agent.llm
        );
        assert!(matches!(&agent.stt, SttChoice::Cloud(c) if c.name == "deepgram:nova-2"), "{:?}", agent.stt);
        match &agent.tts {
            TtsChoice::Cloud(c) => {
                assert_eq!((c.name.as_str(), c.voice.as_deref()), ("cartesia:sonic-2", Some("v-123")))
            }
            other => panic!("{other:?}"),
        }
        // Defaults where the original had them; Sarvam's speaker is the voice; Hindi is `hi`.
        let config = serde_json::json!({"system_prompt": "x", "language": "Hindi",
            "llm_model": {"name": "Anthropic"}, "tts_model": {"name": "Sarvam", "speaker": "meera"}});
        let agent = compiler.compile("orig", &config).unwrap();
        assert_eq!(agent.language, "hi");
        assert!(matches!(&agent.llm, LlmChoice::Native { model, .. } if model == "claude-sonnet-4-5-20250929"));
        assert!(
            matches!(&agent.tts, TtsChoice::Cloud(c) if c.name == "sarvam:bulbul:v2" && c.voice.as_deref() == Some("meera"))
        );
        // Providers without a client here are refused naming the field; local names pass through.
        let err =
            compiler.compile("orig", &serde_json::json!({"system_prompt": "x", "llm_model": {"name": "Kenpath"}}));
        assert_eq!(err.unwrap_err().field, "llm_model");
        let local = serde_json::json!({"system_prompt": "x", "llm_model": {"name": "smollm2-135m"}});
        assert!(matches!(compiler.compile("orig", &local).unwrap().llm, LlmChoice::Local { .. }));
    }

    /// `[[agents]]` takes the original's language display names as the API does, through the same mapping.
    #[test]
    fn a_toml_agent_and_an_api_agent_with_a_display_name_compile_to_one_language() {
        let compiler =
            AgentCompiler { policy: std::sync::Arc::new(DialPolicy::default()), providers: Default::default() };
        for (name, code) in [("English (India)", "en-IN"), ("Hindi", "hi"), ("tamil", "ta"), ("hi", "hi")] {
            let toml_agent = &agents(&format!("{AGENT}language = \"{name}\"\n"), &DialPolicy::default()).unwrap()[0];
            let api_agent = compiler.compile("desk", &serde_json::json!({"system_prompt": "x", "language": name}));
            let api_agent = api_agent.unwrap();
            assert_eq!((toml_agent.language.as_str(), api_agent.language.as_str()), (code, code), "{name}");
        }
        // A name the original did not have is still refused as an unknown code, naming the field.
        let err = agents(&format!("{AGENT}language = \"Klingon\"\n"), &DialPolicy::default()).unwrap_err();
        assert!(format!("{err:#}").starts_with("agents.desk.language: \"Klingon\""), "{err:#}");
    }
}
