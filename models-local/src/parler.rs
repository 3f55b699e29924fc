//! AI4Bharat's Indic Parler-TTS (speech in English and 20+ Indian languages, a voice described in words) on
//! candle's `parler_tts`, loaded from an operator's directory: its weights are in no registry here.
//!
//! The directory is the Hugging Face checkpoint (`ai4bharat/indic-parler-tts`): `config.json`, the weights
//! (`model.safetensors` or its shards), `tokenizer.json` for the text to speak, and the *description*
//! tokenizer, which is the text encoder's own (flan-t5) and not the prompt's: `description_tokenizer.json` or
//! `description_tokenizer/tokenizer.json`. Parler-TTS v1.1 models need both; giving the description to the
//! prompt tokenizer yields noise.
//!
//! A clause is synthesised whole: the decoder samples DAC codes (9 codebooks, delay pattern) conditioned on the
//! encoded description, then the DAC decoder turns them into 44.1 kHz audio. It is slow on a CPU (a GPU is
//! what it is for, with the `cuda` feature), so agents using it are for GPU nodes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::parler_tts;
use tokenizers::Tokenizer;
use voicera_models::{TextToSpeech, TtsStream};

use crate::clause_audio::ClauseAudio;
use crate::pool::InferencePool;
use crate::Error;

/// The voice when an agent describes none (the model card's style of description).
pub const DEFAULT_DESCRIPTION: &str =
    "A female speaker delivers a clear, expressive speech at a moderate pace with very clear audio.";
/// DAC frames per second of speech at most, and the margin for the delay pattern: bounds the decoding steps.
const FRAMES_PER_CHAR: usize = 6;
const EXTRA_STEPS: usize = 32;

/// A loaded Indic Parler-TTS model.
pub struct IndicParler {
    model: Mutex<parler_tts::Model>,
    prompt_tokenizer: Tokenizer,
    description_tokenizer: Tokenizer,
    sample_rate: u32,
    max_position: usize,
    codebook_size: u32,
    device: Device,
}

impl IndicParler {
    /// Loads the checkpoint in `dir` (see the module documentation for its files).
    pub fn load(dir: &Path, device: &Device) -> Result<IndicParler, Error> {
        let config_path = dir.join("config.json");
        let config: parler_tts::Config = serde_json::from_slice(
            &std::fs::read(&config_path).map_err(|e| Error::Missing(format!("{}: {e}", config_path.display())))?,
        )
        .map_err(|e| Error::Format(format!("{}: {e}", config_path.display())))?;
        let tokenizer =
            |path: PathBuf| Tokenizer::from_file(&path).map_err(|e| Error::Format(format!("{}: {e}", path.display())));
        let prompt_tokenizer = tokenizer(dir.join("tokenizer.json"))?;
        let description_path =
            [dir.join("description_tokenizer.json"), dir.join("description_tokenizer/tokenizer.json")]
                .into_iter()
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    Error::Missing(format!(
                    "{}: no description tokenizer (description_tokenizer.json or description_tokenizer/tokenizer.json: \
                     the text encoder's, e.g. google/flan-t5-large's tokenizer.json)",
                    dir.display()
                ))
                })?;
        let description_tokenizer = tokenizer(description_path)?;
        let vb = safetensors(dir, device)?;
        let model = parler_tts::Model::new(&config, vb)?;
        Ok(IndicParler {
            model: Mutex::new(model),
            prompt_tokenizer,
            description_tokenizer,
            sample_rate: config.audio_encoder.sampling_rate,
            max_position: config.decoder.max_position_embeddings,
            codebook_size: config.audio_encoder.codebook_size as u32,
            device: device.clone(),
        })
    }

    /// Output sample rate (44.1 kHz for the DAC codec of Indic Parler-TTS).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Speaks `text` in the voice `description` describes. `seed` makes the sampling repeatable.
    pub fn synthesize(&self, text: &str, description: &str, seed: u64) -> Result<Vec<i16>, Error> {
        let ids = |tokenizer: &Tokenizer, what: &str, text: &str| -> Result<Tensor, Error> {
            let encoding = tokenizer.encode(text, true).map_err(|e| Error::Format(format!("{what} tokenizer: {e}")))?;
            let ids = encoding.get_ids();
            if ids.is_empty() {
                return Err(Error::Format(format!("the {what} has no tokens")));
            }
            Ok(Tensor::new(ids, &self.device)?.unsqueeze(0)?)
        };
        let prompt = ids(&self.prompt_tokenizer, "text", text)?;
        let description = ids(&self.description_tokenizer, "description", description)?;
        let max_steps = (text.chars().count() * FRAMES_PER_CHAR + EXTRA_STEPS)
            .min(self.max_position.saturating_sub(prompt.dim(1)? + 1))
            .max(1);
        let mut model = self.model.lock().map_err(|_| Error::Unavailable("Parler-TTS model poisoned".into()))?;
        // Parler samples (temperature 1), as its reference generation does; greedy decoding loops.
        let sampler = LogitsProcessor::new(seed, Some(1.0), None);
        let codes = model.generate(&prompt, &description, sampler, max_steps)?;
        if codes.dim(1)? == 0 {
            return Ok(Vec::new());
        }
        // The decoder's vocabulary has special tokens past the codebook; one sampled into the codes (the model
        // should not, but sampling is sampling) would index past the codec's codebook, so it becomes code 0.
        let codes = codes.to_dtype(DType::U32)?;
        let in_codebook = codes.lt(self.codebook_size)?;
        let codes = in_codebook.where_cond(&codes, &codes.zeros_like()?)?.unsqueeze(0)?.to_device(&self.device)?;
        let audio = model.audio_encoder.decode_codes(&codes)?.i((0, 0))?.to_dtype(DType::F32)?;
        Ok(audio.to_vec1::<f32>()?.into_iter().map(to_i16).collect())
    }
}

fn to_i16(sample: f32) -> i16 {
    if sample.is_finite() {
        (sample * 32767.0).clamp(-32768.0, 32767.0) as i16
    } else {
        0
    }
}

/// The checkpoint's safetensors (one file or shards), memory-mapped.
fn safetensors(dir: &Path, device: &Device) -> Result<VarBuilder<'static>, Error> {
    let files = crate::safetensors_files(dir)?;
    if files.is_empty() {
        return Err(Error::Missing(format!("{}: no model.safetensors", dir.display())));
    }
    // SAFETY: checkpoint files are only read and not changed under a running node.
    Ok(unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, device)? })
}

/// Indic Parler-TTS as an agent's [`TextToSpeech`]: each clause on the inference pool.
#[derive(Clone)]
pub struct ParlerTts {
    voice: Arc<IndicParler>,
    description: Arc<str>,
    pool: InferencePool,
}

impl ParlerTts {
    /// Speech in `voice`, styled by `description` (Parler's caption of the speaker), synthesised on `pool`.
    pub fn new(voice: Arc<IndicParler>, description: &str, pool: InferencePool) -> ParlerTts {
        ParlerTts { voice, description: description.into(), pool }
    }
}

impl TextToSpeech for ParlerTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (voice, description, text) = (Arc::clone(&self.voice), Arc::clone(&self.description), text.to_string());
        Box::new(ClauseAudio::synthesize(&self.pool, self.voice.sample_rate, move || {
            // One seed per text: the same clause sounds the same each time it is said.
            let seed =
                text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
            voice.synthesize(&text, &description, seed)
        }))
    }
}
