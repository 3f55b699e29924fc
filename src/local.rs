//! Local models in the binary: the `voicera models` commands, and the built-in `demo` agent that talks with
//! local models only (Whisper tiny.en, SmolLM2-135M, the Piper voice).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use voicera_conversation::agent::{Agent, AgentTool, CallLimits, InteractionMode, SpeechModelFactory};
use voicera_conversation::turn::TurnPolicy;
use voicera_media::vad::VadParams;
use voicera_models::fallback::{BreakerPolicy, ChainBudget, FallbackLlm, Link, SystemClock};
use voicera_models::turn::{PunctuationTurn, SilenceTurn};
use voicera_models::{toolcall, ChatMessage, LanguageModel, Role, SpeechProbability, SpeechToText, TextToSpeech};
use voicera_models_cloud::anthropic::{AnthropicChat, AnthropicConfig};
use voicera_models_cloud::gemini::{GeminiChat, GeminiConfig};
use voicera_models_cloud::openai::{OpenAiChat, OpenAiConfig};
use voicera_models_local::cache::{self, Fetched};
use voicera_models_local::espeak::{self, EspeakTts};
use voicera_models_local::indic_conformer::{Decoding, IndicConformer};
use voicera_models_local::parler::{IndicParler, ParlerTts};
use voicera_models_local::piper::{PiperTts, PiperVoice};
use voicera_models_local::prefix_cache::PrefixCacheStats;
use voicera_models_local::silero::SileroModel;
use voicera_models_local::smollm::{GenerationParams, LocalLlm, SmolLm};
use voicera_models_local::whisper::{
    default_device, to_16k, TailRedecodeCounts, TailRedecodes, Transcribe, WhisperBackend, WhisperStt,
};
use voicera_models_local::{wav, InferencePool, ModelCache};

use crate::config::{
    AgentConfig, LlmChoice, NativeLlm, SpeechModelChoice, SttChoice, TtsChoice, TurnDetection, PIPER_VOICE,
};
use crate::provider_keys::{key_for, OrgKeys};

/// The models the `demo` agent uses.
pub(crate) const DEMO_STT: &str = "whisper-tiny.en";
/// SmolLM2-135M. Qwen2.5-Coder-0.5B (`qwen2.5-coder-0.5b`) answers clear questions far better (first token
/// 0.28-0.35 s alone with the conversation cache, `bench/results/llm-turns.md`) but was tried as the demo's LLM
/// and refused the garbled requests a phone line and Whisper tiny make ("a long story about a braveite and a
/// dragon" -> "I'm sorry, but I can't assist with that."), and its first token in calls was 0.6-1.2 s.
pub(crate) const DEMO_LLM: &str = "smollm2-135m";
/// Silero, the VAD every agent on local models listens with (the demo included).
const SILERO_VAD: &str = "silero-vad";
pub(crate) const DEMO_MODELS: [&str; 4] = [DEMO_STT, DEMO_LLM, SILERO_VAD, PIPER_VOICE];

/// `voicera models ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ModelsCommand {
    /// Fetch, verify and convert weights into the cache (no names: the default set).
    Fetch {
        names: Vec<String>,
        #[command(flatten)]
        dirs: ModelDirs,
    },
    /// Show the cached models, their size and which agents use them.
    List {
        #[command(flatten)]
        dirs: ModelDirs,
    },
    /// Transcribe a WAV file (any rate, mono or stereo).
    Stt {
        file: PathBuf,
        #[arg(long, default_value = DEMO_STT)]
        model: String,
        #[arg(long, default_value = "en")]
        language: String,
        /// `candle` or `whisper.cpp`.
        #[arg(long, default_value = "candle")]
        backend: String,
        #[command(flatten)]
        dirs: ModelDirs,
    },
    /// Speak TEXT into a WAV file.
    Tts {
        text: String,
        #[arg(short, long)]
        output: PathBuf,
        /// TTS engine: espeak (every language espeak-ng has) or piper (a natural English voice).
        #[arg(long, default_value = "espeak")]
        model: String,
        #[arg(long, default_value = "en")]
        language: String,
        /// espeak-ng voice name, overriding the language's default voice.
        #[arg(long)]
        voice: Option<String>,
        #[command(flatten)]
        dirs: ModelDirs,
    },
    /// Stream a reply to PROMPT.
    Llm {
        prompt: String,
        #[arg(long, default_value = DEMO_LLM)]
        model: String,
        #[command(flatten)]
        dirs: ModelDirs,
    },
}

/// Where the model cache is.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ModelDirs {
    /// Data directory; the cache is `<data-dir>/models` unless VOICERA_MODELS_DIR says otherwise.
    #[arg(long, env = "VOICERA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl ModelDirs {
    fn cache(&self) -> ModelCache {
        ModelCache::new(models_dir(&self.data_dir))
    }
}

/// The model cache directory: `VOICERA_MODELS_DIR`, else `<data-dir>/models`.
pub(crate) fn models_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("VOICERA_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| data_dir.join("models"))
}

pub(crate) fn run(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::Fetch { names, dirs } => {
            let mut cache = dirs.cache();
            cache.progress = true;
            let specs: Vec<&cache::ModelSpec> = if names.is_empty() {
                cache::defaults().collect()
            } else {
                names.iter().map(|n| cache::spec(n)).collect::<Result<_, _>>()?
            };
            for spec in specs {
                match cache.fetch(spec).with_context(|| format!("cannot fetch {}", spec.name))? {
                    Fetched::AlreadyCached => println!("{}: already cached", spec.name),
                    Fetched::Downloaded => println!("{}: fetched into {}", spec.name, cache.dir().display()),
                }
            }
            Ok(())
        }
        ModelsCommand::List { dirs } => {
            let cache = dirs.cache();
            println!("cache: {}", cache.dir().display());
            for spec in cache::CATALOGUE {
                let (state, size) = match cache.path(spec.name) {
                    Some(dir) => ("cached", format!("{:.1} MB", dir_bytes(&dir) as f64 / 1e6)),
                    None => ("-", String::new()),
                };
                let used_by = if DEMO_MODELS.contains(&spec.name) { "demo" } else { "-" };
                println!(
                    "{:<24} {:<4} {:<7} {:>9}  agents: {:<5} {}",
                    spec.name,
                    spec.kind.label(),
                    state,
                    size,
                    used_by,
                    spec.about
                );
            }
            Ok(())
        }
        ModelsCommand::Stt { file, model, language, backend, dirs } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let audio = wav::parse(&bytes).with_context(|| format!("{}", file.display()))?;
            let pcm = to_16k(&audio.mono(), audio.rate);
            if cache::spec(&model)?.kind != cache::ModelKind::SpeechToText {
                bail!("{model} is not a speech-to-text model");
            }
            let dir = dirs.cache().require(&model)?;
            let whisper = backend.parse::<WhisperBackend>()?.load(&dir, whisper_threads())?;
            println!("{}", whisper.transcribe(&pcm, &language)?);
            Ok(())
        }
        ModelsCommand::Tts { text, output, model, language, voice, dirs } => {
            let (rate, pcm) = match model.as_str() {
                "espeak" | "espeak-ng" => {
                    let voice = match voice {
                        Some(v) => v,
                        None => espeak::voice_for(&language)?.to_string(),
                    };
                    (espeak::ESPEAK_RATE, espeak::synthesize(&text, &voice, 165)?)
                }
                "piper" | PIPER_VOICE => {
                    let piper = PiperVoice::load(&dirs.cache().require(PIPER_VOICE)?)?;
                    (piper.sample_rate(), piper.synthesize(&text)?)
                }
                other => bail!("TTS model {other:?} is not available (available: espeak, piper)"),
            };
            std::fs::write(&output, wav::encode_pcm16(rate, &pcm))
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("{}: {:.2} s of speech", output.display(), pcm.len() as f64 / rate as f64);
            Ok(())
        }
        ModelsCommand::Llm { prompt, model, dirs } => {
            if cache::spec(&model)?.kind != cache::ModelKind::LanguageModel {
                bail!("{model} is not a language model");
            }
            let path = dirs.cache().require(&model)?.join("model.gguf");
            let llm = SmolLm::load(&path, &default_device())?;
            let history = [
                ChatMessage { role: Role::System, content: "You are a helpful assistant.".into() },
                ChatMessage { role: Role::User, content: prompt },
            ];
            let mut stdout = std::io::stdout();
            llm.generate(&history, GenerationParams { max_tokens: 256, ..GenerationParams::default() }, |piece| {
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
                true
            })?;
            println!();
            Ok(())
        }
    }
}

/// The `/metrics` series of the local language models' conversation caches, one sample per model (`model`
/// label); nothing while no local language model is loaded.
pub(crate) fn render_llm_cache_metrics(models: &[(String, PrefixCacheStats)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if models.is_empty() {
        return out;
    }
    let label = |name: &str| name.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let series: [(&str, &str, &str, fn(&PrefixCacheStats) -> u64); 6] = [
        ("voicera_llm_cache_bytes", "gauge", "Bytes of attention state the conversation cache holds.", |s| {
            s.bytes as u64
        }),
        ("voicera_llm_cache_max_bytes", "gauge", "The conversation cache's byte budget.", |s| s.max_bytes as u64),
        ("voicera_llm_cache_entries", "gauge", "Conversations whose attention state is cached.", |s| s.entries as u64),
        ("voicera_llm_cache_hits_total", "counter", "Prompts that found a cached prefix.", |s| s.hits),
        ("voicera_llm_cache_misses_total", "counter", "Prompts that found no cached prefix.", |s| s.misses),
        ("voicera_llm_cache_evictions_total", "counter", "Cached conversations dropped for room or idleness.", |s| {
            s.evictions
        }),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (model, stats) in models {
            let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", label(model), value(stats));
        }
    }
    let name = "voicera_llm_prompt_tokens_total";
    let _ = writeln!(
        out,
        "# HELP {name} Prompt tokens taken from the cache (reused) or run through the model (prefilled)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for (model, stats) in models {
        let model = label(model);
        let _ = writeln!(out, "{name}{{model=\"{model}\",source=\"reused\"}} {}", stats.reused_tokens);
        let _ = writeln!(out, "{name}{{model=\"{model}\",source=\"prefilled\"}} {}", stats.prefilled_tokens);
    }
    out
}

/// The `/metrics` series of the local recognisers' tail decodes (a final that stopped at a pause decoded again
/// from there, `voicera_models_local::whisper`), by outcome.
pub(crate) fn render_stt_tail_metrics(counts: TailRedecodeCounts) -> String {
    use std::fmt::Write as _;
    let name = "voicera_stt_tail_redecodes_total";
    let mut out = format!(
        "# HELP {name} Finals of local speech-to-text decoded again from a pause, by outcome: joined (words \
         added), unchanged (nothing added), failed, dropped (no time left: the first decode went out).\n# TYPE \
         {name} counter\n"
    );
    for (outcome, n) in [
        ("joined", counts.joined),
        ("unchanged", counts.unchanged),
        ("failed", counts.failed),
        ("dropped", counts.dropped),
    ] {
        let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {n}");
    }
    out
}

pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The `demo` agent's prompt and greeting.
const DEMO_PROMPT: &str = "You are the VoiceERA demo assistant, speaking with a caller on the phone. \
Answer in one or two short sentences of plain spoken English, without lists, markdown or emojis. \
When the caller wants to end the call, say goodbye.";
const DEMO_GREETING: &str = "Hello! This is the VoiceERA demo agent. How can I help you today?";

/// Whether `dir` holds an IndicConformer (its language masks, at the top or in `assets/`).
pub(crate) fn is_indic_conformer(dir: &Path) -> bool {
    dir.join("language_masks.json").is_file() || dir.join("assets/language_masks.json").is_file()
}

/// whisper.cpp's threads per transcription: the inference pool runs one job per thread, and Whisper on two
/// threads answers a final sooner than two finals at once on one each would.
fn whisper_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(4)
}

/// Local models loaded once and shared by every agent that uses them (weights are reference-counted).
pub(crate) struct LocalModels {
    cache: ModelCache,
    pool: InferencePool,
    whisper_backend: WhisperBackend,
    /// Byte budget of each language model's conversation cache (`[models] llm_cache_mb`).
    llm_cache_bytes: usize,
    whisper: Mutex<HashMap<String, Arc<dyn Transcribe>>>,
    /// How the tail decodes of every local recogniser's finals ended (`/metrics`).
    stt_tails: Arc<TailRedecodes>,
    /// Local language models by cache name, loaded once and shared by every agent on them.
    llms: Mutex<std::collections::HashMap<String, SmolLm>>,
    silero: Mutex<Option<SileroModel>>,
    piper: Mutex<Option<Arc<PiperVoice>>>,
}

impl LocalModels {
    pub(crate) fn new(mut cache: ModelCache, pool: InferencePool, whisper_backend: WhisperBackend) -> LocalModels {
        cache.progress = false;
        LocalModels {
            cache,
            pool,
            whisper_backend,
            llm_cache_bytes: voicera_models_local::smollm::DEFAULT_CONVERSATION_CACHE_BYTES,
            whisper: Mutex::new(HashMap::new()),
            stt_tails: Arc::default(),
            llms: Mutex::new(std::collections::HashMap::new()),
            silero: Mutex::new(None),
            piper: Mutex::new(None),
        }
    }

    /// The same tables, loading language models with a conversation cache of `bytes` each (0: none).
    pub(crate) fn with_llm_cache(mut self, bytes: usize) -> LocalModels {
        self.llm_cache_bytes = bytes;
        self
    }

    /// The conversation cache of each loaded local language model, by model name (sorted), for `/metrics`.
    pub(crate) fn llm_cache_stats(&self) -> Vec<(String, PrefixCacheStats)> {
        // A poisoned table still holds usable models: the stats are read-only.
        let loaded = self.llms.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stats: Vec<_> =
            loaded.iter().map(|(name, model)| (name.clone(), model.conversation_cache_stats())).collect();
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        stats
    }

    /// How the local recognisers' tail decodes have ended so far, for `/metrics`.
    pub(crate) fn stt_tail_redecodes(&self) -> TailRedecodeCounts {
        self.stt_tails.counts()
    }

    /// A recogniser streaming over `model` on the shared pool, its tail decodes counted with the others.
    fn whisper_stt(&self, model: Arc<dyn Transcribe>) -> WhisperStt {
        WhisperStt::shared(model, self.pool.clone()).counting_tail_redecodes_in(Arc::clone(&self.stt_tails))
    }

    /// The cached directory of `name`, fetching it first when missing (logged: a call never waits on this).
    fn ensure(&self, name: &str) -> Result<PathBuf> {
        if self.cache.path(name).is_none() {
            let spec = cache::spec(name)?;
            tracing::info!(model = name, cache = %self.cache.dir().display(), "fetching model (first use)");
            self.cache.fetch(spec).with_context(|| format!("cannot fetch {name}"))?;
            tracing::info!(model = name, "model fetched");
        }
        Ok(self.cache.require(name)?)
    }

    /// Fetches every default model that is missing (interfaces.md: `serve` fetches missing defaults).
    pub(crate) fn fetch_defaults(&self) -> Result<()> {
        for spec in cache::defaults() {
            self.ensure(spec.name)?;
        }
        Ok(())
    }

    /// The speech-to-text model `name`: a cached Whisper, or a checkpoint directory (Hugging Face Whisper such
    /// as IndicWhisper, or IndicConformer with `decoding`).
    pub(crate) fn speech_to_text(&self, name: &str, decoding: Decoding) -> Result<Arc<dyn Transcribe>> {
        let key = format!("{name}#{decoding:?}");
        let mut loaded = self.whisper.lock().map_err(|_| anyhow::anyhow!("model table poisoned"))?;
        if let Some(model) = loaded.get(&key) {
            return Ok(Arc::clone(model));
        }
        // A checkpoint directory of the operator's (`stt_model = "/models/indicwhisper-hi"`), or a cached model.
        let dir = if name.contains('/') { PathBuf::from(name) } else { self.ensure(name)? };
        let model: Arc<dyn Transcribe> = if is_indic_conformer(&dir) {
            // ONNX Runtime's library comes with the Piper voice.
            let library = self.ensure(crate::config::PIPER_VOICE)?.join("libonnxruntime.so");
            let model = IndicConformer::load(&dir, &library, decoding)?;
            tracing::info!(model = name, ?decoding, "speech-to-text loaded: IndicConformer");
            Arc::new(model)
        } else {
            let model = self.whisper_backend.load(&dir, whisper_threads())?;
            tracing::info!(model = name, backend = ?self.whisper_backend, "speech-to-text loaded");
            model
        };
        // Warm-up, so the first caller doesn't pay for lazy initialisation.
        let _ = model.transcribe(&[0.0; 16000], "en");
        loaded.insert(key, Arc::clone(&model));
        Ok(model)
    }

    /// The local language model `name` (SmolLM2, Qwen2) with `system_prompt` and `greeting` prefilled (prefix
    /// cache), as an agent's language model.
    pub(crate) fn local_llm_for(
        &self,
        name: &str,
        system_prompt: &str,
        greeting: &str,
        tools: &[AgentTool],
    ) -> Result<Arc<dyn LanguageModel>> {
        let mut loaded = self.llms.lock().map_err(|_| anyhow::anyhow!("model table poisoned"))?;
        if !loaded.contains_key(name) {
            let model = SmolLm::load(&self.ensure(name)?.join("model.gguf"), &default_device())?
                .with_conversation_cache(self.llm_cache_bytes);
            let hello = [ChatMessage { role: Role::User, content: "Hi".into() }];
            model.generate(&hello, GenerationParams { max_tokens: 1, ..GenerationParams::default() }, |_| true)?;
            tracing::info!(model = name, cache_mb = self.llm_cache_bytes >> 20, "language model loaded");
            loaded.insert(name.to_string(), model);
        }
        let model = loaded.get(name).cloned().context("the language model was loaded above")?;
        drop(loaded);
        // Variables make each call's prompt different; only the literal part before the first one is shared.
        let literal = |text: &str| text.split("{{").next().unwrap_or("").to_string();
        // The system message as LocalLlm will send it: the prompt, then the tools' instructions.
        let specs: Vec<_> = tools.iter().map(AgentTool::spec).collect();
        let instructions = if specs.is_empty() { String::new() } else { toolcall::instructions(&specs) };
        let mut prefix =
            vec![ChatMessage { role: Role::System, content: format!("{}{instructions}", literal(system_prompt)) }];
        if !greeting.contains("{{") && !system_prompt.contains("{{") && !greeting.is_empty() {
            prefix.push(ChatMessage { role: Role::Assistant, content: greeting.into() });
        }
        let model = if system_prompt.contains("{{") { model } else { model.with_prefix(&prefix)? };
        Ok(Arc::new(LocalLlm::new(model, self.pool.clone(), GenerationParams::default())))
    }

    /// Silero VAD for each call (weights loaded once and shared).
    fn silero(&self) -> Result<SpeechModelFactory> {
        let mut slot = self.silero.lock().map_err(|_| anyhow::anyhow!("model table poisoned"))?;
        if slot.is_none() {
            let path = self.ensure(SILERO_VAD)?.join("silero_vad_16k.safetensors");
            *slot = Some(SileroModel::load(&path)?);
        }
        let model = slot.clone().context("Silero loaded above")?;
        Ok(Arc::new(move || Box::new(model.detector()) as Box<dyn SpeechProbability>))
    }

    /// The speech model an agent asked for.
    fn speech_model(&self, choice: SpeechModelChoice) -> Result<Option<SpeechModelFactory>> {
        match choice {
            SpeechModelChoice::Energy => Ok(None),
            SpeechModelChoice::Silero => self.silero().map(Some),
        }
    }

    /// An agent's Piper speech, with the lines every call says (its greeting, unless `{{variables}}` make it
    /// vary, and its idle prompt) synthesised now, so that they play at once.
    fn piper_tts(&self, greeting: &str, limits: &CallLimits) -> Result<PiperTts> {
        let piper = PiperTts::new(self.piper()?, self.pool.clone());
        let greeting = Some(greeting).filter(|g| !g.contains("{{"));
        for line in greeting.into_iter().chain([limits.idle_message.as_str()]) {
            piper.prepare(line)?;
        }
        Ok(piper)
    }

    /// The Piper voice, loaded once and shared by every agent that speaks with it.
    fn piper(&self) -> Result<Arc<PiperVoice>> {
        let mut slot = self.piper.lock().map_err(|_| anyhow::anyhow!("model lock poisoned"))?;
        if slot.is_none() {
            *slot = Some(Arc::new(PiperVoice::load(&self.ensure(PIPER_VOICE)?)?));
        }
        slot.clone().context("Piper loaded above")
    }

    pub(crate) fn pool(&self) -> &InferencePool {
        &self.pool
    }
}

/// Builds the `demo` agent (Whisper tiny.en, SmolLM2-135M, the Piper voice).
pub(crate) fn demo_agent(models: &LocalModels) -> Result<Agent> {
    // The demo's own models first, then the rest of the default set.
    let whisper = models.speech_to_text(DEMO_STT, Decoding::default())?;
    let llm = models.local_llm_for(DEMO_LLM, DEMO_PROMPT, DEMO_GREETING, &[])?;
    let limits = CallLimits {
        idle_prompt_after: Some(std::time::Duration::from_secs(10)),
        user_silence_hangup: Some(std::time::Duration::from_secs(30)),
        ..CallLimits::default()
    };
    // Piper: a natural voice for ~100–150 ms more per clause than espeak-ng (bench/results/models.md).
    let tts = models.piper_tts(DEMO_GREETING, &limits)?;
    models.fetch_defaults()?;
    Ok(Agent {
        id: "demo".into(),
        system_prompt: DEMO_PROMPT.into(),
        greeting: DEMO_GREETING.into(),
        language: "en".into(),
        vad: VadParams::default(),
        speech_model: models.speech_model(SpeechModelChoice::Silero)?,
        policy: TurnPolicy::default(),
        limits,
        mode: InteractionMode::Conversational,
        utc_offset_minutes: 0,
        tools: Vec::new(), // tool instructions would cost the 135M model its prefix cache and its focus
        record_transcript: true,
        record_audio: true,
        stt: Arc::new(models.whisper_stt(whisper)),
        // The VAD's stop time: Whisper tiny punctuates its partials of unfinished sentences too ("How many
        // days are we."), which made the punctuation detector cut the caller off mid-question in CI.
        turn_detector: Arc::new(SilenceTurn),
        llm,
        tts: Arc::new(tts),
    })
}

/// An agent's language model: one, or a fallback chain of them.
fn language_model(
    models: &LocalModels,
    config: &AgentConfig,
    choice: &LlmChoice,
    keys: &OrgKeys,
) -> Result<Arc<dyn LanguageModel>> {
    Ok(match choice {
        LlmChoice::Local { model } => {
            models.local_llm_for(model, &config.system_prompt, &config.greeting, &config.tools)?
        }
        LlmChoice::OpenAiCompatible { base_url, model, api_key_env, integration, needs_key, timeout } => {
            let name = integration.as_ref().map_or_else(|| model.clone(), |p| format!("{p}:{model}"));
            let api_key = key_for(keys, &name, integration.as_deref(), api_key_env.as_deref(), *needs_key)?;
            tracing::info!(agent = %config.id, %base_url, %model, "language model on an OpenAI-compatible server");
            let client = OpenAiChat::new(OpenAiConfig::new(base_url, model, api_key));
            Arc::new(match timeout {
                Some(timeout) => client.with_timeout(*timeout),
                None => client,
            })
        }
        LlmChoice::Native { provider, base_url, model, api_key_env, integration, timeout } => {
            let name = format!("{integration}:{model}");
            let key = key_for(keys, &name, Some(integration), api_key_env.as_deref(), true)?.unwrap_or_default();
            tracing::info!(agent = %config.id, ?provider, %base_url, %model, "language model in the cloud");
            match provider {
                NativeLlm::Anthropic => {
                    let client = AnthropicChat::new(AnthropicConfig::new(base_url, model, &key));
                    Arc::new(match timeout {
                        Some(timeout) => client.with_timeout(*timeout),
                        None => client,
                    })
                }
                NativeLlm::Gemini => {
                    let client = GeminiChat::new(GeminiConfig::new(base_url, model, &key));
                    Arc::new(match timeout {
                        Some(timeout) => client.with_timeout(*timeout),
                        None => client,
                    })
                }
            }
        }
        LlmChoice::Chain(links) => {
            let links = links
                .iter()
                .map(|(name, link)| {
                    let model = language_model(models, config, link, keys)?;
                    let care = llm_care(link, keys)?;
                    Ok(care.apply(Link::new(name.clone(), model, BreakerPolicy::default())))
                })
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
            tracing::info!(agent = %config.id, chain = ?names, "language model fallback chain");
            let chain = FallbackLlm::new(links, ChainBudget::default(), Arc::new(SystemClock));
            chain.spawn_prober(std::time::Duration::from_secs(1));
            Arc::new(chain)
        }
    })
}

/// A language-model link's care in a chain: its provider's `timeout_ms` and the probe `voicera providers
/// check` makes for it (listing models).
fn llm_care(link: &LlmChoice, keys: &OrgKeys) -> Result<crate::speech_models::LinkCare> {
    use voicera_models_cloud::check::CheckedApi;
    let probe = crate::speech_models::probe;
    Ok(match link {
        LlmChoice::OpenAiCompatible { base_url, model, api_key_env, integration, needs_key, timeout } => {
            let name = integration.as_ref().map_or_else(|| model.clone(), |p| format!("{p}:{model}"));
            let key = key_for(keys, &name, integration.as_deref(), api_key_env.as_deref(), *needs_key)?;
            crate::speech_models::LinkCare {
                timeout: *timeout,
                probe: Some(probe(
                    CheckedApi::OpenAiCompatible,
                    base_url,
                    key.as_deref().unwrap_or_default(),
                    *timeout,
                )),
            }
        }
        LlmChoice::Native { provider, base_url, model, api_key_env, integration, timeout } => {
            let name = format!("{integration}:{model}");
            let key = key_for(keys, &name, Some(integration), api_key_env.as_deref(), true)?.unwrap_or_default();
            let api = match provider {
                NativeLlm::Anthropic => CheckedApi::Anthropic,
                NativeLlm::Gemini => CheckedApi::Gemini,
            };
            crate::speech_models::LinkCare { timeout: *timeout, probe: Some(probe(api, base_url, &key, *timeout)) }
        }
        LlmChoice::Local { .. } | LlmChoice::Chain(_) => crate::speech_models::LinkCare::default(),
    })
}

/// A speech link's care in a chain (cloud links: timeout and probe; local ones: none).
fn speech_care(
    cloud: Option<&crate::config::CloudSpeech>,
    stage: voicera_models::ModelStage,
    keys: &OrgKeys,
) -> Result<crate::speech_models::LinkCare> {
    match cloud {
        Some(speech) => crate::speech_models::cloud_care(speech, stage, keys),
        None => Ok(crate::speech_models::LinkCare::default()),
    }
}

/// An agent's recogniser: a local model, a cloud one, or a fallback chain of them.
fn speech_to_text(
    models: &LocalModels,
    config: &AgentConfig,
    choice: &SttChoice,
    keys: &OrgKeys,
) -> Result<Arc<dyn SpeechToText>> {
    Ok(match choice {
        SttChoice::Local(model) => {
            let whisper = models.speech_to_text(model, config.stt_decoding)?;
            if config.language != "en" && !whisper.is_multilingual() {
                bail!("{model} understands English only; agent {} speaks {:?}", config.id, config.language);
            }
            Arc::new(models.whisper_stt(whisper))
        }
        SttChoice::Cloud(speech) => crate::speech_models::cloud_stt(speech, keys)?,
        SttChoice::Chain(links) => crate::speech_models::stt_chain(
            links
                .iter()
                .map(|(name, link)| {
                    let cloud = if let SttChoice::Cloud(speech) = link { Some(speech) } else { None };
                    let care = speech_care(cloud, voicera_models::ModelStage::Stt, keys)?;
                    Ok((name.clone(), speech_to_text(models, config, link, keys)?, care))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// An agent's voice: a local engine, a cloud one, or a fallback chain of them.
fn text_to_speech(
    models: &LocalModels,
    config: &AgentConfig,
    choice: &TtsChoice,
    keys: &OrgKeys,
) -> Result<Arc<dyn TextToSpeech>> {
    Ok(match (choice, &config.tts_voice) {
        (TtsChoice::Piper, _) => Arc::new(models.piper_tts(&config.greeting, &config.limits)?),
        (TtsChoice::Parler(dir), voice) => {
            let model = Arc::new(IndicParler::load(dir, &default_device())?);
            tracing::info!(agent = %config.id, checkpoint = %dir.display(), "Indic Parler-TTS loaded");
            let description = voice.as_deref().unwrap_or(voicera_models_local::parler::DEFAULT_DESCRIPTION);
            Arc::new(ParlerTts::new(model, description, models.pool().clone()))
        }
        (TtsChoice::Espeak, Some(voice)) => Arc::new(EspeakTts::with_voice(voice, models.pool().clone())),
        (TtsChoice::Espeak, None) => Arc::new(EspeakTts::new(&config.language, models.pool().clone())?),
        (TtsChoice::Cloud(speech), _) => crate::speech_models::cloud_tts(speech, &config.language, keys)?,
        (TtsChoice::Chain(links), _) => crate::speech_models::tts_chain(
            links
                .iter()
                .map(|(name, link)| {
                    let cloud = if let TtsChoice::Cloud(speech) = link { Some(speech) } else { None };
                    let care = speech_care(cloud, voicera_models::ModelStage::Tts, keys)?;
                    Ok((name.clone(), text_to_speech(models, config, link, keys)?, care))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// Builds a `[[agents]]` agent: its speech models local, in the cloud or chained, and its language model in
/// process or on a provider; cloud links call with the org's key from `keys` where it has one.
pub(crate) fn configured_agent(models: &LocalModels, config: &AgentConfig, keys: &OrgKeys) -> Result<Agent> {
    let stt = speech_to_text(models, config, &config.stt, keys)?;
    let llm = language_model(models, config, &config.llm, keys)?;
    let tts = text_to_speech(models, config, &config.tts, keys)?;
    Ok(Agent {
        id: config.id.clone(),
        system_prompt: config.system_prompt.clone(),
        greeting: config.greeting.clone(),
        language: config.language.clone(),
        vad: config.vad,
        speech_model: models.speech_model(config.speech_model)?,
        policy: config.policy,
        limits: config.limits.clone(),
        mode: config.mode,
        utc_offset_minutes: config.utc_offset_minutes,
        tools: config.tools.clone(),
        record_transcript: config.record,
        record_audio: config.record,
        stt,
        turn_detector: match config.turn_detection {
            TurnDetection::Silence => Arc::new(SilenceTurn),
            TurnDetection::Punctuation => Arc::new(PunctuationTurn::default()),
        },
        llm,
        tts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llm_cache_metrics_carry_each_models_stats() {
        assert_eq!(render_llm_cache_metrics(&[]), "");
        let stats = PrefixCacheStats {
            entries: 3,
            bytes: 4_600_000,
            max_bytes: 512 << 20,
            hits: 7,
            misses: 2,
            evictions: 1,
            too_large: 0,
            reused_tokens: 900,
            prefilled_tokens: 120,
        };
        let other = PrefixCacheStats { hits: 5, ..PrefixCacheStats::default() };
        let text = render_llm_cache_metrics(&[("smollm2-135m".into(), stats), ("qwen\"2".into(), other)]);
        for line in [
            "# TYPE voicera_llm_cache_bytes gauge",
            "voicera_llm_cache_bytes{model=\"smollm2-135m\"} 4600000",
            "voicera_llm_cache_max_bytes{model=\"smollm2-135m\"} 536870912",
            "voicera_llm_cache_entries{model=\"smollm2-135m\"} 3",
            "# TYPE voicera_llm_cache_hits_total counter",
            "voicera_llm_cache_hits_total{model=\"smollm2-135m\"} 7",
            "voicera_llm_cache_hits_total{model=\"qwen\\\"2\"} 5",
            "voicera_llm_cache_misses_total{model=\"smollm2-135m\"} 2",
            "voicera_llm_cache_evictions_total{model=\"smollm2-135m\"} 1",
            "# TYPE voicera_llm_prompt_tokens_total counter",
            "voicera_llm_prompt_tokens_total{model=\"smollm2-135m\",source=\"reused\"} 900",
            "voicera_llm_prompt_tokens_total{model=\"smollm2-135m\",source=\"prefilled\"} 120",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        // One HELP and TYPE per series, whatever the number of models.
        assert_eq!(text.matches("# TYPE voicera_llm_cache_hits_total").count(), 1);
    }

    #[test]
    fn the_tail_decode_metrics_carry_each_outcome() {
        let text = render_stt_tail_metrics(TailRedecodeCounts { joined: 3, unchanged: 5, failed: 0, dropped: 1 });
        for line in [
            "# TYPE voicera_stt_tail_redecodes_total counter",
            "voicera_stt_tail_redecodes_total{outcome=\"joined\"} 3",
            "voicera_stt_tail_redecodes_total{outcome=\"unchanged\"} 5",
            "voicera_stt_tail_redecodes_total{outcome=\"failed\"} 0",
            "voicera_stt_tail_redecodes_total{outcome=\"dropped\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }
}
