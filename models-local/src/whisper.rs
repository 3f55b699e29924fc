//! Whisper speech-to-text with candle, streaming over the call's audio.
//!
//! A [`WhisperModel`] is loaded once per node; its tensors are shared by every call. Each call's
//! [`SttStream`] keeps the audio of the utterance in progress, submits a partial transcription to the
//! [`InferencePool`] every [`PARTIAL_EVERY`] of new speech (less often when the machine is slow, see
//! `PARTIAL_BUDGET`) while nothing else of its own is in flight, and a
//! final one at end of speech. The encoder window is trimmed to the audio (plus a margin) instead of Whisper's
//! fixed 30 s — what whisper.cpp's `audio_ctx` does — which makes a 3 s utterance ~8x cheaper to encode.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{Device, IndexOp, Tensor, D};
use candle_nn::{Module, VarBuilder};
use candle_transformers::models::whisper::{self as wm, model::AudioEncoder, model::Whisper};
use tokenizers::Tokenizer;
use voicera_models::{SpeechToText, SttStream, Transcript};

use crate::pool::InferencePool;
use crate::stt_queue::{Request, TranscriptionQueue};
pub use crate::stt_queue::{TailRedecodeCounts, TailRedecodes};
use crate::whisper_decoder::CachedDecoder;
use crate::Error;

/// New speech between partial transcripts at most: 300 ms at 16 kHz, when the model is fast enough for it.
pub const PARTIAL_EVERY: usize = 4800;
/// Share of a call's audio time its partial transcripts may take in inference: each partial re-reads the whole
/// utterance so far, so on a slow machine they come less often (a partial that took 85 ms waits for 1.2 s of
/// new speech). With the final, a talking caller's streaming cost stays near a real-time factor of 0.1
/// (`voicera-bench models` streams jfk.wav at real pace to check).
const PARTIAL_BUDGET: f64 = 0.07;
/// Shortest segment worth a partial transcript: 1 s (Whisper invents words for shorter snippets).
const MIN_PARTIAL_SAMPLES: usize = 16000;
/// Audio kept before the first voiced frame of an utterance: 300 ms.
const PRE_ROLL: usize = 4800;
/// Whisper's window: 30 s.
const MAX_SAMPLES: usize = wm::N_SAMPLES;
/// Mel frames added after the audio before encoding (0.5 s): Whisper was trained on padded windows and ends
/// words more reliably with some silence after them.
const TAIL_FRAMES: usize = 50;
/// Frame RMS (of 16-bit samples) that counts as voiced for utterance trimming: about −40 dBFS.
const VOICED_RMS: f32 = 330.0;
/// Utterances of different calls transcribed in one encoder pass at most.
const MAX_BATCH: usize = 8;
/// A partial transcript still waiting after this is dropped: the stream has newer audio by then.
const PARTIAL_DEADLINE: Duration = Duration::from_millis(1500);
/// A final transcript still waiting after this is reported as failed (the inference pool is overloaded).
const FINAL_DEADLINE: Duration = Duration::from_secs(10);
/// Probability of Whisper's no-speech token above which the audio is taken as silence.
const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// One Whisper backend: transcribes a whole utterance. [`WhisperStt`] streams over any of them (candle's
/// [`WhisperModel`], whisper.cpp's [`crate::whisper_cpp::WhisperCpp`]).
pub trait Transcribe: Send + Sync + 'static {
    /// Transcribes 16 kHz mono audio (at most the last 30 s) in `language` (ignored by English-only models).
    fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error>;
    /// Whether the model understands languages other than English.
    fn is_multilingual(&self) -> bool;
    /// Several utterances (of different calls) at once; one result each, in order. Backends that gain from a
    /// shared forward pass override it; the default takes them one by one.
    fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, Error>> {
        utterances.iter().map(|(pcm, language)| self.transcribe(pcm, language)).collect()
    }
}

impl Transcribe for WhisperModel {
    fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
        WhisperModel::transcribe(self, pcm, language)
    }

    fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, Error>> {
        WhisperModel::transcribe_batch(self, utterances)
    }

    fn is_multilingual(&self) -> bool {
        self.multilingual
    }
}

/// A final transcript of `pcm` completed when Whisper stopped at a pause before the speech did: the audio
/// from that pause is decoded again and its words joined on (`tail`), at once, on the calling thread (the
/// streams' queue runs the same steps as a job of its own, [`WhisperStt`]). `text` is returned unchanged when it
/// covers the audio, when the second decode fails or when it adds nothing.
pub fn complete_tail(model: &dyn Transcribe, pcm: &[f32], language: &str, text: String) -> String {
    let Some(start) = crate::tail::lost_tail(pcm, &text) else { return text };
    match model.transcribe(&pcm[start..], language) {
        Ok(tail) => match crate::tail::join(&text, &tail) {
            Some(whole) => {
                tracing::debug!(from_ms = start / 16, "whisper: the words after a pause decoded again");
                whole
            }
            None => text,
        },
        Err(e) => {
            tracing::debug!(error = %e, "whisper: decoding the tail again failed");
            text
        }
    }
}

/// Which engine runs Whisper. Both load the same cached model; whisper.cpp writes its ggml form beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhisperBackend {
    /// candle, with our cached decoder (the default: the demo's tests and latency figures were made on it;
    /// whisper.cpp transcribes short finals faster, bench/results/models.md).
    #[default]
    Candle,
    /// whisper.cpp through whisper-rs (feature `whisper-cpp`).
    WhisperCpp,
}

impl std::str::FromStr for WhisperBackend {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "candle" => Ok(WhisperBackend::Candle),
            "whisper.cpp" | "whisper-cpp" | "whisper-rs" => Ok(WhisperBackend::WhisperCpp),
            other => Err(Error::Unsupported(format!("unknown Whisper backend {other:?} (candle, whisper.cpp)"))),
        }
    }
}

impl WhisperBackend {
    /// Loads the converted model in `dir` on this backend; `threads` is whisper.cpp's per transcription.
    pub fn load(self, dir: &Path, threads: usize) -> Result<Arc<dyn Transcribe>, Error> {
        match self {
            WhisperBackend::Candle => Ok(Arc::new(WhisperModel::load(dir, &default_device())?)),
            #[cfg(feature = "whisper-cpp")]
            WhisperBackend::WhisperCpp => Ok(Arc::new(crate::whisper_cpp::WhisperCpp::load(dir, threads)?)),
            #[cfg(not(feature = "whisper-cpp"))]
            WhisperBackend::WhisperCpp => {
                let _ = threads;
                Err(Error::Unsupported("this build has no whisper.cpp (feature whisper-cpp)".into()))
            }
        }
    }
}

/// A loaded Whisper model (weights shared, cheap to clone).
#[derive(Clone)]
pub struct WhisperModel {
    encoder: AudioEncoder,
    /// Our decoder with a self-attention cache (candle-transformers' re-runs every token each step).
    decoder: CachedDecoder,
    config: wm::Config,
    tokenizer: Arc<Tokenizer>,
    mel: crate::mel::LogMel,
    /// The output projection (the token embedding, tied), quantised to 8 bits: every decoding step reads the
    /// whole (vocab × d_model) matrix, 80 MB in f32 for tiny, which made it the decoder's largest cost; Q8_0
    /// reads a quarter of that (a 1.7 s final: 208 → 111 ms; jfk.wav 442 → 357 ms; same transcripts).
    output_projection: candle_core::quantized::QMatMul,
    suppress: Tensor,
    suppress_first: Tensor,
    sot: u32,
    eot: u32,
    no_timestamps: u32,
    transcribe: Option<u32>,
    no_speech: Option<u32>,
    multilingual: bool,
    device: Device,
}

impl WhisperModel {
    /// Loads a Whisper directory: the cache's converted models (`whisper-config.json`, `model.safetensors`,
    /// `tokenizer.json`), or a Hugging Face Whisper checkpoint such as AI4Bharat's IndicWhisper (`config.json`;
    /// `model.safetensors`, its shards `model-0000N-of-0000M.safetensors`, or `pytorch_model.bin`;
    /// `tokenizer.json`). Weights in f16 or bf16 are widened to f32.
    pub fn load(dir: &Path, device: &Device) -> Result<WhisperModel, Error> {
        let config_name = config_file(dir);
        let config: wm::Config = serde_json::from_slice(
            &std::fs::read(dir.join(config_name))
                .map_err(|e| Error::Missing(format!("{}: {e}", dir.join(config_name).display())))?,
        )
        .map_err(|e| Error::Format(format!("{config_name}: {e}")))?;
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| {
            Error::Format(format!("{}: {e} (an HF checkpoint's tokenizer.json: see README, Models)", dir.display()))
        })?;
        let vb = weights(dir, device)?;
        // candle-transformers' encoder; its decoder is dropped for ours.
        let Whisper { encoder, .. } = Whisper::load(&vb, config.clone())?;
        let decoder = CachedDecoder::load(vb.pp("model.decoder"), &config)?;
        let token = |t: &str| tokenizer.token_to_id(t);
        let need = |t: &str| token(t).ok_or_else(|| Error::Format(format!("tokenizer lacks {t}")));
        let sot = need(wm::SOT_TOKEN)?;
        let eot = need(wm::EOT_TOKEN)?;
        let no_timestamps = need(wm::NO_TIMESTAMPS_TOKEN)?;
        let multilingual = config.vocab_size >= 51865;
        let no_speech = wm::NO_SPEECH_TOKENS.iter().find_map(|t| token(t));
        let mut mask = vec![0f32; config.vocab_size];
        for &id in &config.suppress_tokens {
            if let Some(m) = mask.get_mut(id as usize) {
                *m = f32::NEG_INFINITY;
            }
        }
        // Timestamps are off, so every timestamp token (after <|notimestamps|>) is suppressed too.
        for m in mask.iter_mut().skip(no_timestamps as usize + 1) {
            *m = f32::NEG_INFINITY;
        }
        let mut first = mask.clone();
        // A transcript never starts with a blank or with end-of-text (Whisper's `suppress_blank`).
        for id in [token(" "), Some(eot)].into_iter().flatten() {
            if let Some(m) = first.get_mut(id as usize) {
                *m = f32::NEG_INFINITY;
            }
        }
        Ok(WhisperModel {
            encoder,
            decoder,
            mel: crate::mel::LogMel::new(config.num_mel_bins),
            config: config.clone(),
            output_projection: candle_core::quantized::QMatMul::from_qtensor(
                candle_core::quantized::QTensor::quantize(
                    &vb.get((config.vocab_size, config.d_model), "model.decoder.embed_tokens.weight")?,
                    candle_core::quantized::GgmlDType::Q8_0,
                )?,
            )?,
            suppress: Tensor::new(mask.as_slice(), device)?,
            suppress_first: Tensor::new(first.as_slice(), device)?,
            sot,
            eot,
            no_timestamps,
            transcribe: token(wm::TRANSCRIBE_TOKEN),
            no_speech,
            multilingual,
            tokenizer: Arc::new(tokenizer),
            device: device.clone(),
        })
    }

    /// Whether the model understands languages other than English.
    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// The encoder's input for `pcm`: (1, mels, frames), with only the audio's frames plus a tail, an even
    /// count (the encoder's convolution halves them), instead of Whisper's fixed 30 s window.
    fn log_mel(&self, pcm: &[f32]) -> Result<Tensor, Error> {
        let frames = ((pcm.len() / wm::HOP_LENGTH + TAIL_FRAMES).div_ceil(2) * 2).clamp(2, wm::N_FRAMES);
        let pad = frames * wm::HOP_LENGTH - pcm.len().min(frames * wm::HOP_LENGTH);
        let (mel, computed) = self.mel.compute(pcm, pad);
        Ok(Tensor::from_vec(mel, (1, self.config.num_mel_bins, computed), &self.device)?)
    }

    /// Time to encode `batch` copies of `pcm` in one forward pass (for `voicera-bench models`: whether
    /// batching utterances of several calls pays on this machine).
    pub fn time_encoder_batch(&self, pcm: &[f32], batch: usize) -> Result<std::time::Duration, Error> {
        let one = self.log_mel(pcm)?;
        let mels = Tensor::cat(&vec![&one; batch.max(1)], 0)?;
        let mut encoder = self.encoder.clone();
        let started = std::time::Instant::now();
        encoder.forward(&mels, true)?;
        Ok(started.elapsed())
    }

    /// Transcribes 16 kHz mono audio (at most 30 s are used: the last 30 s) in `language` (ignored by
    /// English-only models).
    pub fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
        let pcm = &pcm[pcm.len().saturating_sub(MAX_SAMPLES)..];
        if pcm.is_empty() {
            return Ok(String::new());
        }
        let started = std::time::Instant::now();
        let mut encoder = self.encoder.clone();
        let mel = self.log_mel(pcm)?;
        let features = encoder.forward(&mel, true)?;
        let encoded = started.elapsed();
        let text = self.decode(&features, pcm.len(), language);
        tracing::debug!(
            audio_ms = pcm.len() / 16,
            encode_ms = encoded.as_millis() as u64,
            decode_ms = (started.elapsed() - encoded).as_millis() as u64,
            "whisper transcription"
        );
        text
    }

    /// Utterances of several calls with one encoder pass: each is padded with silence to the longest (what
    /// Whisper's own 30 s window does), encoded together, then decoded one by one. Worth it for utterances
    /// of similar length (the caller groups them): `voicera-bench models` measures the gain.
    pub fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, Error>> {
        if utterances.len() <= 1 {
            return utterances.iter().map(|(pcm, language)| self.transcribe(pcm, language)).collect();
        }
        let clips: Vec<&[f32]> =
            utterances.iter().map(|(pcm, _)| &pcm[pcm.len().saturating_sub(MAX_SAMPLES)..]).collect();
        let longest = clips.iter().map(|c| c.len()).max().unwrap_or(0).max(1);
        let encoded = (|| -> Result<Tensor, Error> {
            let mels = clips
                .iter()
                .map(|clip| {
                    let mut padded = clip.to_vec();
                    padded.resize(longest, 0.0);
                    self.log_mel(&padded)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(self.encoder.clone().forward(&Tensor::cat(&mels, 0)?, true)?)
        })();
        match encoded {
            Ok(features) => clips
                .iter()
                .zip(utterances)
                .enumerate()
                .map(|(i, (clip, (_, language)))| {
                    if clip.is_empty() {
                        return Ok(String::new());
                    }
                    self.decode(&features.i(i..i + 1)?, clip.len(), language)
                })
                .collect(),
            Err(e) => {
                let message = e.to_string();
                utterances.iter().map(|_| Err(Error::Format(format!("batched encoder: {message}")))).collect()
            }
        }
    }

    /// Greedy decoding of one utterance's encoder output (`samples` long, for the token budget).
    fn decode(&self, features: &Tensor, samples: usize, language: &str) -> Result<String, Error> {
        let mut tokens = vec![self.sot];
        if self.multilingual {
            let lang = format!("<|{}|>", language.split(['-', '_']).next().unwrap_or("en").to_lowercase());
            match self.tokenizer.token_to_id(&lang) {
                Some(id) => tokens.push(id),
                None => return Err(Error::Unsupported(format!("Whisper does not know language {language:?}"))),
            }
            tokens.extend(self.transcribe);
        }
        tokens.push(self.no_timestamps);
        let prompt = tokens.len();
        // Speech runs at most ~5 tokens a second; more is Whisper looping.
        let seconds = samples / wm::SAMPLE_RATE + 1;
        let max_tokens = (seconds * 6 + 8).min(self.config.max_target_positions / 2);
        let mut state = self.decoder.start(features)?;
        for step in 0..max_tokens {
            // The whole prompt first, then only the token just chosen: earlier ones are in the cache.
            let fresh = if step == 0 { &tokens[..] } else { &tokens[tokens.len() - 1..] };
            let hidden = self.decoder.step(&mut state, fresh)?;
            let logits = self.output_projection.forward(&hidden.unsqueeze(0)?)?.i(0)?;
            if step == 0 {
                if let Some(id) = self.no_speech {
                    let p = candle_nn::ops::softmax(&logits, D::Minus1)?.i(id as usize)?.to_scalar::<f32>()?;
                    if p > NO_SPEECH_THRESHOLD {
                        return Ok(String::new());
                    }
                }
            }
            let mask = if step == 0 { &self.suppress_first } else { &self.suppress };
            let next = logits.broadcast_add(mask)?.argmax(D::Minus1)?.to_scalar::<u32>()?;
            if next == self.eot {
                break;
            }
            tokens.push(next);
            if let Some(repeat) = repeated_tail(&tokens[prompt..]) {
                tokens.truncate(tokens.len() - repeat);
                break;
            }
        }
        let text = self
            .tokenizer
            .decode(&tokens[prompt..], true)
            .map_err(|e| Error::Format(format!("cannot decode Whisper tokens: {e}")))?;
        Ok(text.trim().to_string())
    }
}

/// The configuration file of a Whisper directory: the cache's `whisper-config.json` (written by the CTranslate2
/// converter), else a Hugging Face checkpoint's `config.json` (the same field names).
pub(crate) fn config_file(dir: &Path) -> &'static str {
    if dir.join("whisper-config.json").exists() {
        "whisper-config.json"
    } else {
        "config.json"
    }
}

/// The weights of a Whisper directory (see [`WhisperModel::load`]), memory-mapped.
fn weights(dir: &Path, device: &Device) -> Result<VarBuilder<'static>, Error> {
    let shards = crate::safetensors_files(dir)?;
    if !shards.is_empty() {
        // SAFETY: model files are only read; the cache writes each once, and an operator's checkpoint is not
        // changed under a running node.
        return Ok(unsafe { VarBuilder::from_mmaped_safetensors(&shards, wm::DTYPE, device)? });
    }
    let pth = dir.join("pytorch_model.bin");
    if pth.exists() {
        return Ok(VarBuilder::from_pth(&pth, wm::DTYPE, device)?);
    }
    Err(Error::Missing(format!("{}: no model.safetensors, model-*.safetensors or pytorch_model.bin", dir.display())))
}

/// Length of a loop at the end of `tokens`: the same token three times, or the same span of 2–12 tokens
/// twice in a row (Whisper repeating a phrase on silence). The repetition is what gets cut.
fn repeated_tail(tokens: &[u32]) -> Option<usize> {
    let n = tokens.len();
    if n >= 3 && tokens[n - 3..].iter().all(|&t| t == tokens[n - 1]) {
        return Some(2);
    }
    (2..=12.min(n / 2)).find(|&p| tokens[n - p..] == tokens[n - 2 * p..n - p])
}

/// Whisper as the conversation engine's [`SpeechToText`].
#[derive(Clone)]
pub struct WhisperStt {
    queue: Arc<TranscriptionQueue>,
    pool: InferencePool,
}

impl WhisperStt {
    /// Transcriptions by `model` (its own queue), run on `pool`.
    pub fn new(model: impl Transcribe, pool: InferencePool) -> WhisperStt {
        WhisperStt::shared(Arc::new(model), pool)
    }

    /// A backend already shared with other engines. Every stream of this `WhisperStt` (and its clones) goes
    /// through one queue, so utterances of different calls can share an encoder pass.
    pub fn shared(model: Arc<dyn Transcribe>, pool: InferencePool) -> WhisperStt {
        WhisperStt { queue: TranscriptionQueue::new(model, MAX_BATCH, Arc::default()), pool }
    }

    /// The same recogniser counting how its finals' tail decodes end in `tails` (one set of counters for all
    /// of a node's recognisers, for `/metrics`). Call it before streaming: clones made earlier keep counting
    /// apart.
    pub fn counting_tail_redecodes_in(self, tails: Arc<TailRedecodes>) -> WhisperStt {
        let model = Arc::clone(self.queue.model());
        WhisperStt { queue: TranscriptionQueue::new(model, MAX_BATCH, tails), pool: self.pool }
    }

    /// How this recogniser's tail decodes have ended so far.
    pub fn tail_redecodes(&self) -> TailRedecodeCounts {
        self.queue.tails().counts()
    }
}

impl SpeechToText for WhisperStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let (results_tx, results) = channel();
        Box::new(WhisperStream {
            queue: Arc::clone(&self.queue),
            pool: self.pool.clone(),
            language: language.to_string(),
            audio: Vec::with_capacity(wm::SAMPLE_RATE * 10),
            first_voiced: None,
            voiced_since_partial: 0,
            partial_in_flight: Arc::new(AtomicBool::new(false)),
            partial_cost_us: Arc::new(AtomicU64::new(0)),
            utterance: 0,
            results_tx,
            results,
            cancelled: Arc::new(AtomicBool::new(false)),
            last_partial: String::new(),
        })
    }
}

struct Outcome {
    utterance: u64,
    is_final: bool,
    text: Result<String, Error>,
}

struct WhisperStream {
    queue: Arc<TranscriptionQueue>,
    pool: InferencePool,
    language: String,
    /// Audio since the last end of speech (normalised to ±1).
    audio: Vec<f32>,
    /// Index in `audio` of the first voiced frame.
    first_voiced: Option<usize>,
    voiced_since_partial: usize,
    partial_in_flight: Arc<AtomicBool>,
    /// How long the last partial took from submission to result, µs (sets the cadence, [`PARTIAL_BUDGET`]).
    partial_cost_us: Arc<AtomicU64>,
    /// Utterance counter: results of an earlier utterance's partials are dropped.
    utterance: u64,
    results_tx: Sender<Outcome>,
    results: Receiver<Outcome>,
    /// Set when the call ends: queued jobs of this stream are skipped.
    cancelled: Arc<AtomicBool>,
    last_partial: String,
}

impl WhisperStream {
    /// New speech to wait for before the next partial: [`PARTIAL_EVERY`], or more when the last partial cost
    /// more than [`PARTIAL_BUDGET`] of it.
    fn partial_every(&self) -> usize {
        let cost_seconds = self.partial_cost_us.load(Ordering::Relaxed) as f64 / 1e6;
        PARTIAL_EVERY.max((cost_seconds / PARTIAL_BUDGET * wm::SAMPLE_RATE as f64) as usize)
    }

    fn segment(&self) -> Option<Vec<f32>> {
        let first = self.first_voiced?;
        Some(self.audio[first.saturating_sub(PRE_ROLL)..].to_vec())
    }

    /// Queues a transcription of `pcm` for `utterance`; false when the pool is full.
    fn submit(&self, pcm: Vec<f32>, is_final: bool, utterance: u64) -> bool {
        let tx = self.results_tx.clone();
        let in_flight = Arc::clone(&self.partial_in_flight);
        let cost = Arc::clone(&self.partial_cost_us);
        let submitted = Instant::now();
        let request = Request {
            pcm,
            language: self.language.clone(),
            deadline: Instant::now() + if is_final { FINAL_DEADLINE } else { PARTIAL_DEADLINE },
            is_final,
            cancelled: Arc::clone(&self.cancelled),
            reply: Box::new(move |text| {
                if !is_final {
                    cost.store(submitted.elapsed().as_micros() as u64, Ordering::Relaxed);
                    in_flight.store(false, Ordering::Release);
                }
                let _ = tx.send(Outcome { utterance, is_final, text });
            }),
        };
        self.queue.submit(&self.pool, request).is_ok()
    }
}

impl SttStream for WhisperStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        if pcm.is_empty() {
            return;
        }
        let rms = (pcm.iter().map(|&s| (s as f32) * (s as f32)).sum::<f32>() / pcm.len() as f32).sqrt();
        if rms >= VOICED_RMS {
            self.first_voiced.get_or_insert(self.audio.len());
            self.voiced_since_partial += pcm.len();
        }
        self.audio.extend(pcm.iter().map(|&s| s as f32 / 32768.0));
        if self.first_voiced.is_none() && self.audio.len() > PRE_ROLL * 2 {
            // Silence only: keep just the pre-roll.
            self.audio.drain(..self.audio.len() - PRE_ROLL);
        } else if self.audio.len() > MAX_SAMPLES + PRE_ROLL {
            let excess = self.audio.len() - MAX_SAMPLES;
            self.audio.drain(..excess);
            self.first_voiced = self.first_voiced.map(|f| f.saturating_sub(excess));
        }
        if self.voiced_since_partial >= self.partial_every() && !self.partial_in_flight.load(Ordering::Acquire) {
            if let Some(segment) = self.segment().filter(|s| s.len() >= MIN_PARTIAL_SAMPLES) {
                self.partial_in_flight.store(true, Ordering::Release);
                if self.submit(segment, false, self.utterance) {
                    self.voiced_since_partial = 0;
                } else {
                    self.partial_in_flight.store(false, Ordering::Release); // busy: skip this partial
                }
            }
        }
    }

    fn end_of_speech(&mut self) {
        let segment = self.segment();
        self.audio.clear();
        self.first_voiced = None;
        self.voiced_since_partial = 0;
        self.last_partial.clear();
        let utterance = self.utterance;
        self.utterance += 1;
        match segment {
            // The final belongs to the utterance that just ended; later partials get the new number.
            Some(segment) => {
                if !self.submit(segment, true, utterance) {
                    let overloaded = Error::Unavailable("speech-to-text overloaded: utterance dropped".into());
                    let _ = self.results_tx.send(Outcome { utterance, is_final: true, text: Err(overloaded) });
                }
            }
            None => {
                let _ = self.results_tx.send(Outcome { utterance, is_final: true, text: Ok(String::new()) });
            }
        }
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        while let Ok(outcome) = self.results.try_recv() {
            let text = match outcome.text {
                Ok(text) => text,
                Err(e) if !outcome.is_final => {
                    tracing::debug!(error = %e, "partial transcript skipped");
                    continue;
                }
                Err(e) => return Some(Transcript::Failed(e.into())),
            };
            if outcome.is_final {
                return Some(Transcript::Final(text));
            }
            // Partials of an utterance that already ended are stale.
            if outcome.utterance == self.utterance && !text.is_empty() && text != self.last_partial {
                self.last_partial = text.clone();
                return Some(Transcript::Partial(text));
            }
        }
        None
    }
}

impl Drop for WhisperStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Loads Whisper on the CPU (or the first CUDA device with the `cuda` feature).
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::new_cuda(0) {
        return device;
    }
    Device::Cpu
}

/// Converts f32 samples at any rate to 16 kHz by linear interpolation — for offline files only (the call path
/// uses the media crate's polyphase resampler).
pub fn to_16k(pcm: &[f32], rate: u32) -> Vec<f32> {
    if rate == 16000 || pcm.is_empty() {
        return pcm.to_vec();
    }
    let ratio = rate as f64 / 16000.0;
    let n = (pcm.len() as f64 / ratio) as usize;
    (0..n)
        .map(|i| {
            let x = i as f64 * ratio;
            let j = x as usize;
            let frac = (x - j as f64) as f32;
            let a = pcm[j.min(pcm.len() - 1)];
            let b = pcm[(j + 1).min(pcm.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::repeated_tail;

    #[test]
    fn loops_are_cut() {
        assert_eq!(repeated_tail(&[1, 2, 3, 4]), None);
        assert_eq!(repeated_tail(&[1, 7, 7, 7]), Some(2));
        assert_eq!(repeated_tail(&[9, 1, 2, 3, 1, 2, 3]), Some(3));
        assert_eq!(repeated_tail(&[1, 2]), None);
    }
}
