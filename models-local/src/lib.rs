//! Local speech and language engines for VoiceERA-rs, behind the traits of `voicera-models`:
//!
//! - [`whisper`]: Whisper speech-to-text, streaming partials and finals over any [`whisper::Transcribe`]
//!   backend: candle (with our cached decoder) or [`whisper_cpp`] (whisper.cpp, fed by the [`ggml`] writer);
//!   transcriptions of all calls go through one queue per model (`stt_queue`), which batches and drops stale work,
//!   and completes finals that stopped at a pause (`tail`);
//! - AI4Bharat models from an operator's directory: IndicWhisper (a Hugging Face Whisper, through [`whisper`]),
//!   [`indic_conformer`] (ONNX, CTC and RNNT) and [`parler`] (Indic Parler-TTS);
//! - [`smollm`]: GGUF chat models (SmolLM2, Qwen2.5) on our [`decoder`], streamed token by token, each
//!   call's attention cache kept between its turns ([`prefix_cache`]);
//! - [`espeak`]: espeak-ng speech in every language it has (the always-available voice);
//! - [`piper`]: Piper VITS voices on ONNX Runtime ([`onnx`]: the runtime's one-time loader and sessions,
//!   shared with IndicConformer);
//! - [`silero`]: Silero VAD in plain Rust on its safetensors weights;
//! - [`cache`]: the weight cache, fetched from package registries with pinned hashes, and [`ct2`], the
//!   CTranslate2 → safetensors converter it needs;
//! - [`pool`]: the inference pool every engine runs on, so no model ever runs on a call's reactor thread.
//!
//! This crate is separate from `voicera-models` so that the media crate (which needs only the traits) builds
//! without candle.

pub mod cache;
mod clause_audio;
pub mod ct2;
pub mod decoder;
pub mod espeak;
pub mod ggml;
pub mod indic_conformer;
pub mod mel;
pub mod onnx;
pub mod parler;
pub mod piper;
pub mod pool;
pub mod prefix_cache;
pub mod silero;
pub mod smollm;
mod stt_queue;
mod tail;
pub mod wav;
pub mod whisper;
#[cfg(feature = "whisper-cpp")]
pub mod whisper_cpp;
mod whisper_decoder;

pub use cache::{ModelCache, ModelKind, ModelSpec, CATALOGUE};
pub use pool::{InferencePool, Priority};

/// Errors of the local engines and the cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a model file or the cache directory failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// candle failed while loading or running a model.
    #[error("model inference: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file is not what it should be (truncated, wrong format, missing tensor).
    #[error("{0}")]
    Format(String),
    /// A download's hash differs from the pinned one.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// The registry or a program is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// A model is not in the cache.
    #[error("{0}")]
    Missing(String),
    /// A language, format or option the engine does not support.
    #[error("{0}")]
    Unsupported(String),
}

impl From<Error> for voicera_models::ModelError {
    /// What a local engine's error means to the conversation: a full queue or a missed deadline is overload
    /// (another engine may answer), a missing model or language is unsupported, the rest is the engine's fault.
    fn from(e: Error) -> voicera_models::ModelError {
        use voicera_models::FailureKind;
        let kind = match &e {
            Error::Unavailable(_) => FailureKind::Overloaded,
            Error::Missing(_) | Error::Unsupported(_) => FailureKind::Unsupported,
            Error::Io(_) | Error::Candle(_) | Error::Format(_) | Error::Integrity(_) => FailureKind::Engine,
        };
        voicera_models::ModelError::new(kind, e.to_string())
    }
}

/// The safetensors of a Hugging Face checkpoint directory: `model.safetensors` or its shards
/// (`model-0000N-of-0000M.safetensors`), in order; empty when it has none.
pub(crate) fn safetensors_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name == "model.safetensors" || (name.starts_with("model-") && name.ends_with(".safetensors"))
        })
        .collect();
    files.sort();
    Ok(files)
}
