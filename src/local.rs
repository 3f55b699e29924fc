//! Local models in the binary: the `voicera models` commands, and the built-in `demo` agent that talks with
//! local models only (Whisper tiny.en, SmolLM2-135M, espeak-ng).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use voicera_media::conversation::engine::{Agent, CallLimits};
use voicera_media::conversation::turn::TurnPolicy;
use voicera_media::sip_rtp::Destination;
use voicera_media::vad::VadParams;
use voicera_models::{ChatMessage, LanguageModel, Role};
use voicera_models_local::cache::{self, Fetched};
use voicera_models_local::espeak::{self, EspeakTts};
use voicera_models_local::smollm::{GenerationParams, LocalLlm, SmolLm};
use voicera_models_local::whisper::{default_device, to_16k, WhisperModel, WhisperStt};
use voicera_models_local::{wav, InferencePool, ModelCache};

/// The models the `demo` agent uses.
pub const DEMO_STT: &str = "whisper-tiny.en";
pub const DEMO_LLM: &str = "smollm2-135m";

/// `voicera models ...`
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
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
        #[command(flatten)]
        dirs: ModelDirs,
    },
    /// Speak TEXT into a WAV file.
    Tts {
        text: String,
        #[arg(short, long)]
        output: PathBuf,
        /// TTS engine: espeak (every language espeak-ng has).
        #[arg(long, default_value = "espeak")]
        model: String,
        #[arg(long, default_value = "en")]
        language: String,
        /// espeak-ng voice name, overriding the language's default voice.
        #[arg(long)]
        voice: Option<String>,
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
pub struct ModelDirs {
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
pub fn models_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("VOICERA_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| data_dir.join("models"))
}

pub fn run(command: ModelsCommand) -> Result<()> {
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
                let used_by = if [DEMO_STT, DEMO_LLM].contains(&spec.name) { "demo" } else { "-" };
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
        ModelsCommand::Stt { file, model, language, dirs } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let audio = wav::parse(&bytes).with_context(|| format!("{}", file.display()))?;
            let pcm = to_16k(&audio.mono(), audio.rate);
            if cache::spec(&model)?.kind != cache::ModelKind::SpeechToText {
                bail!("{model} is not a speech-to-text model");
            }
            let dir = dirs.cache().require(&model)?;
            let whisper = WhisperModel::load(&dir, &default_device())?;
            println!("{}", whisper.transcribe(&pcm, &language)?);
            Ok(())
        }
        ModelsCommand::Tts { text, output, model, language, voice } => {
            if model != "espeak" {
                bail!("TTS model {model:?} is not available (available: espeak)");
            }
            let voice = match voice {
                Some(v) => v,
                None => espeak::voice_for(&language)?.to_string(),
            };
            let pcm = espeak::synthesize(&text, &voice, 165)?;
            std::fs::write(&output, wav::encode_pcm16(espeak::ESPEAK_RATE, &pcm))
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("{}: {:.2} s of speech", output.display(), pcm.len() as f64 / espeak::ESPEAK_RATE as f64);
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

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The `demo` agent's prompt and greeting.
const DEMO_PROMPT: &str = "You are the VoiceERA demo assistant, speaking with a caller on the phone. \
Answer in one or two short sentences of plain spoken English, without lists, markdown or emojis. \
When the caller wants to end the call, say goodbye.";
const DEMO_GREETING: &str = "Hello! This is the VoiceERA demo agent. How can I help you today?";

/// Builds the `demo` agent on local models from `cache`, fetching missing weights first (logged).
pub fn demo_agent(cache: &ModelCache, pool: &InferencePool) -> Result<Agent> {
    // The whole default set (interfaces.md: `serve` fetches missing defaults on first use), the demo's own
    // models first.
    let demo_first = [DEMO_STT, DEMO_LLM].into_iter().map(cache::spec).collect::<Result<Vec<_>, _>>()?;
    for spec in demo_first.into_iter().chain(cache::defaults()) {
        if cache.path(spec.name).is_none() {
            tracing::info!(model = spec.name, cache = %cache.dir().display(), "fetching model (first use)");
            cache.fetch(spec).with_context(|| format!("cannot fetch {}", spec.name))?;
            tracing::info!(model = spec.name, "model fetched");
        }
    }
    let device = default_device();
    let whisper = WhisperModel::load(&cache.require(DEMO_STT)?, &device)?;
    let llm = SmolLm::load(&cache.require(DEMO_LLM)?.join("model.gguf"), &device)?.with_prefix(&[
        ChatMessage { role: Role::System, content: DEMO_PROMPT.into() },
        ChatMessage { role: Role::Assistant, content: DEMO_GREETING.into() },
    ])?;
    // Warm-up, so the first caller doesn't pay for lazy initialisation.
    let _ = whisper.transcribe(&[0.0; 16000], "en");
    let hello = [ChatMessage { role: Role::User, content: "Hi".into() }];
    llm.generate(&hello, GenerationParams { max_tokens: 1, ..GenerationParams::default() }, |_| true)?;
    let llm: Arc<dyn LanguageModel> = Arc::new(LocalLlm::new(llm, pool.clone(), GenerationParams::default()));
    Ok(Agent {
        id: "demo".into(),
        system_prompt: DEMO_PROMPT.into(),
        greeting: DEMO_GREETING.into(),
        language: "en".into(),
        vad: VadParams::default(),
        policy: TurnPolicy::default(),
        limits: CallLimits {
            idle_prompt_after: Some(std::time::Duration::from_secs(10)),
            user_silence_hangup: Some(std::time::Duration::from_secs(30)),
            ..CallLimits::default()
        },
        record_transcript: true,
        record_audio: true,
        stt: Arc::new(WhisperStt::new(whisper, pool.clone())),
        llm,
        tts: Arc::new(EspeakTts::new("en", pool.clone())?),
    })
}

/// The `demo` agent as routing sees it while its models load.
#[derive(Clone)]
pub enum DemoSlot {
    Loading,
    Ready(Arc<Agent>),
    Failed(String),
}

/// Shared state of the demo agent, filled by a background loader.
pub type SharedDemo = Arc<RwLock<DemoSlot>>;

/// Where a call to `demo` goes right now.
pub fn demo_destination(demo: &SharedDemo) -> Destination {
    let slot = demo.read().map(|s| s.clone()).unwrap_or(DemoSlot::Failed("demo state poisoned".into()));
    match slot {
        DemoSlot::Ready(agent) => Destination::Agent(agent),
        DemoSlot::Loading => Destination::Unavailable {
            reason: "the demo agent is still loading its local models".into(),
            retry_after_secs: 10,
        },
        DemoSlot::Failed(reason) => Destination::Unavailable {
            reason: format!("the demo agent failed to load: {reason}"),
            retry_after_secs: 60,
        },
    }
}

/// Loads the demo agent on a blocking thread and publishes it into `demo`.
pub fn spawn_demo_loader(models_dir: PathBuf, pool: InferencePool, demo: SharedDemo) {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut cache = ModelCache::new(models_dir);
        cache.progress = false;
        let slot = match demo_agent(&cache, &pool) {
            Ok(agent) => {
                tracing::info!(took = ?started.elapsed(), "demo agent ready (local models)");
                DemoSlot::Ready(Arc::new(agent))
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "demo agent unavailable");
                DemoSlot::Failed(format!("{e:#}"))
            }
        };
        if let Ok(mut s) = demo.write() {
            *s = slot;
        }
    });
}
