//! `voicera-bench models`: speed of each local engine on this machine, with the weights of the model cache.
//!
//! Whisper (load, the 11 s JFK clip, a 2 s utterance as a call's final transcript), each local LLM (SmolLM2-135M
//! and Qwen2.5-Coder-0.5B: prompt prefill, time to the first token and to the first clause the TTS can speak,
//! tokens/s, and their answers to a few caller questions), espeak-ng and Piper (time to audio for a clause) and the
//! energy VAD (µs per 20 ms frame). Median of `--runs` after a warm-up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use voicera_media::vad::{EnergyModel, VadGate, VadParams};
use voicera_models::{ChatMessage, Role};
use voicera_models_local::smollm::{GenerationParams, SmolLm};
use voicera_models_local::whisper::{to_16k, Transcribe, WhisperModel};
use voicera_models_local::whisper_cpp::WhisperCpp;
use voicera_models_local::{cache, espeak, wav, ModelCache};

#[derive(Debug, Serialize)]
pub(crate) struct ModelsReport {
    whisper_load_ms: f64,
    jfk_seconds: f64,
    jfk_transcribe_ms: f64,
    jfk_rtf: f64,
    jfk_text: String,
    utterance_seconds: f64,
    utterance_transcribe_ms: f64,
    /// A streaming partial: the first second of the utterance (the shortest segment a partial is made of).
    partial_transcribe_ms: f64,
    /// (batch size, encoder ms per utterance) for the utterance encoded in batches.
    encoder_batch_ms_each: Vec<(usize, f64)>,
    /// (batch size, whole transcription ms per utterance): the finals of that many calls through
    /// `transcribe_batch` (one encoder pass, then each decoded), as the STT queue runs them under load.
    transcribe_batch_ms_each: Vec<(usize, f64)>,
    /// The same model on whisper.cpp (whisper-rs), 2 threads: load (ggml written beforehand), jfk.wav, the
    /// utterance.
    whisper_cpp_load_ms: f64,
    whisper_cpp_jfk_transcribe_ms: f64,
    whisper_cpp_jfk_text: String,
    whisper_cpp_utterance_transcribe_ms: f64,
    whisper_cpp_partial_transcribe_ms: f64,
    /// jfk.wav streamed at real pace through the STT stream (partials while speaking, a final at the end):
    /// inference time / audio time, the partials received, and the final's delay after the end of the audio.
    streaming_rtf: f64,
    streaming_partials: usize,
    streaming_final_ms: f64,
    whisper_cpp_streaming_rtf: f64,
    whisper_cpp_streaming_partials: usize,
    whisper_cpp_streaming_final_ms: f64,
    llm_load_ms: f64,
    llm_prompt_tokens: usize,
    llm_first_token_ms: f64,
    llm_first_clause_ms: f64,
    llm_tokens_per_second: f64,
    llm_reply: String,
    /// Every local LLM (the `llm_*` figures above are SmolLM2's, the first of them).
    llms: Vec<LlmFigures>,
    espeak_clause_ms: f64,
    piper_load_ms: f64,
    /// "In a week, there are seven days." (about 2 s of speech) → audio.
    piper_clause_ms: f64,
    energy_vad_us_per_frame: f64,
    silero_vad_us_per_frame: f64,
    threads: usize,
    machine: String,
}

/// One local LLM as an agent runs it: system prompt and greeting prefilled at load, then a caller's question.
#[derive(Debug, Serialize)]
pub(crate) struct LlmFigures {
    model: &'static str,
    load_ms: f64,
    prompt_tokens: usize,
    first_token_ms: f64,
    first_clause_ms: f64,
    tokens_per_second: f64,
    reply: String,
    /// (question, answer) for the questions of [`LLM_CHECKS`], each under its system prompt.
    answers: Vec<(String, String)>,
}

pub(crate) const DEMO_PROMPT: &str =
    "You are the VoiceERA demo assistant, speaking with a caller on the phone. Answer in one or \
                           two short sentences of plain spoken English, without lists, markdown or emojis.";
const SHOP_PROMPT: &str = "You are the phone assistant of Rosa's Bakery, 12 Market Street. Opening hours: Monday to \
                           Saturday 7 am to 6 pm, closed on Sunday. You can book cake orders and pickup appointments. \
                           Answer in one or two short sentences of plain spoken English.";
pub(crate) const GREETING: &str = "Hello! This is the VoiceERA demo agent. How can I help you today?";

/// Simple caller questions whose answers show whether a model is usable for a phone agent (system prompt, question).
const LLM_CHECKS: &[(&str, &str)] = &[
    (DEMO_PROMPT, "What is the capital of France?"),
    (DEMO_PROMPT, "Can you help me book an appointment tomorrow?"),
    (SHOP_PROMPT, "What are your opening hours?"),
    (SHOP_PROMPT, "Can you help me book an appointment tomorrow?"),
];

fn conversation(system: &str, question: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage { role: Role::System, content: system.into() },
        ChatMessage { role: Role::Assistant, content: GREETING.into() },
        ChatMessage { role: Role::User, content: question.into() },
    ]
}

fn time_llm(cache: &ModelCache, name: &'static str, device: &candle_core::Device, runs: usize) -> Result<LlmFigures> {
    let started = Instant::now();
    // Without the conversation cache: each run is a first turn, not a repeat of the last one.
    let llm = SmolLm::load(&cache.require(name)?.join("model.gguf"), device)?.with_conversation_cache(0);
    let load_ms = ms(started.elapsed());
    let history = conversation(DEMO_PROMPT, "How many days are in a week?");
    let prompt_tokens = llm.prompt_tokens(&history)?.len();
    // As an agent runs it: system prompt and greeting prefilled once at load.
    let prefilled = llm.clone().with_prefix(&history[..2])?;
    let mut first_token = Vec::new();
    let mut first_clause = Vec::new();
    let mut rates = Vec::new();
    let mut reply = String::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let mut first: Option<Duration> = None;
        let mut clause: Option<Duration> = None;
        let mut tokens = 0usize;
        reply.clear();
        prefilled.generate(&history, GenerationParams::default(), |piece| {
            tokens += 1;
            first.get_or_insert(t.elapsed());
            reply.push_str(piece);
            if clause.is_none() && piece.trim_end().ends_with(['.', '!', '?', ',']) {
                clause = Some(t.elapsed());
            }
            true
        })?;
        let total = t.elapsed();
        let first = first.unwrap_or(total);
        first_token.push(ms(first));
        first_clause.push(ms(clause.unwrap_or(total)));
        rates.push(tokens.saturating_sub(1) as f64 / (total - first).as_secs_f64().max(1e-9));
    }
    let mut answers = Vec::new();
    for (system, question) in LLM_CHECKS {
        let mut answer = String::new();
        llm.generate(&conversation(system, question), GenerationParams::default(), |piece| {
            answer.push_str(piece);
            true
        })?;
        answers.push((question.to_string(), answer.trim().to_string()));
    }
    Ok(LlmFigures {
        model: name,
        load_ms,
        prompt_tokens,
        first_token_ms: median(first_token),
        first_clause_ms: median(first_clause),
        tokens_per_second: median(rates),
        reply: reply.trim().to_string(),
        answers,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn run(models_dir: &Path, jfk: &Path, runs: usize) -> Result<ModelsReport> {
    let cache = ModelCache::new(models_dir);
    for spec in cache::defaults() {
        cache.fetch(spec).with_context(|| format!("fetch {}", spec.name))?;
    }
    let device = candle_core::Device::Cpu;

    let started = Instant::now();
    let whisper = WhisperModel::load(&cache.require("whisper-tiny.en")?, &device)?;
    let whisper_load_ms = ms(started.elapsed());
    let audio = wav::parse(&std::fs::read(jfk).with_context(|| format!("{}", jfk.display()))?)?;
    let jfk_pcm = to_16k(&audio.mono(), audio.rate);
    let utterance = espeak::synthesize("How many days are in a week?", "en-us", 165)?;
    let utterance: Vec<f32> =
        to_16k(&utterance.iter().map(|&s| s as f32 / 32768.0).collect::<Vec<_>>(), espeak::ESPEAK_RATE);
    let candle = time_transcriptions(&whisper, &jfk_pcm, &utterance, runs)?;

    let whisper_dir = cache.require("whisper-tiny.en")?;
    voicera_models_local::ggml::ensure_whisper_ggml(&whisper_dir)?;
    let started = Instant::now();
    let whisper_cpp = WhisperCpp::load(&whisper_dir, 2)?;
    let whisper_cpp_load_ms = ms(started.elapsed());
    let cpp = time_transcriptions(&whisper_cpp, &jfk_pcm, &utterance, runs)?;
    let candle_streaming = stream_at_real_pace(whisper.clone(), &jfk_pcm);
    let cpp_streaming = stream_at_real_pace(whisper_cpp.clone(), &jfk_pcm);

    // Batching finals of several calls into one encoder pass: per-utterance cost at batch 1, 4 and 16.
    let mut encoder_batch_ms_each = Vec::new();
    for batch in [1usize, 4, 16] {
        whisper.time_encoder_batch(&utterance, batch)?;
        let each = median(
            (0..runs)
                .map(|_| whisper.time_encoder_batch(&utterance, batch).map(|t| ms(t) / batch as f64).unwrap_or(0.0))
                .collect(),
        );
        encoder_batch_ms_each.push((batch, each));
    }
    let mut transcribe_batch_ms_each = Vec::new();
    for batch in [1usize, 4, 8] {
        let utterances: Vec<(&[f32], &str)> = (0..batch).map(|_| (utterance.as_slice(), "en")).collect();
        let each = median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    let _ = whisper.transcribe_batch(&utterances);
                    ms(t.elapsed()) / batch as f64
                })
                .collect(),
        );
        transcribe_batch_ms_each.push((batch, each));
    }

    let mut llms = Vec::new();
    for spec in cache::language_models() {
        cache.fetch(spec).with_context(|| format!("fetch {}", spec.name))?;
        llms.push(time_llm(&cache, spec.name, &device, runs)?);
    }
    let smollm = llms.first().context("no local LLM in the catalogue")?;

    let espeak_ms = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let _ = espeak::synthesize("In a week, there are seven days.", "en-us", 165);
                ms(t.elapsed())
            })
            .collect(),
    );

    // Piper: load, then one clause to first audio (each synthesis is the whole clause).
    let piper_dir = cache.require("piper-en_US-joe-medium")?;
    let t = Instant::now();
    let piper = voicera_models_local::piper::PiperVoice::load(&piper_dir)?;
    let piper_load_ms = ms(t.elapsed());
    let _ = piper.synthesize("Warming up.")?;
    let piper_ms = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let _ = piper.synthesize("In a week, there are seven days.");
                ms(t.elapsed())
            })
            .collect(),
    );

    let mut vad = VadGate::new(VadParams::default(), EnergyModel::default());
    let frames: Vec<[i16; 320]> = (0..5000)
        .map(|i| {
            let mut f = [0i16; 320];
            for (j, s) in f.iter_mut().enumerate() {
                *s = (((i * 320 + j) as f32 * 0.07).sin() * if i % 100 < 50 { 6000.0 } else { 30.0 }) as i16;
            }
            f
        })
        .collect();
    let t = Instant::now();
    for f in &frames {
        std::hint::black_box(vad.process(f));
    }
    let vad_us = t.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;

    // Silero on speech (jfk.wav): the network runs every 512 samples, so this is its cost per 20 ms of audio.
    let silero = voicera_models_local::silero::SileroModel::load(
        &cache.require("silero-vad")?.join("silero_vad_16k.safetensors"),
    )?;
    let jfk_i16: Vec<i16> = jfk_pcm.iter().map(|s| (s * 32767.0) as i16).collect();
    let silero_runs: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let mut vad = silero.detector();
            let t = Instant::now();
            for frame in jfk_i16.chunks_exact(320) {
                std::hint::black_box(voicera_models::SpeechProbability::probability(&mut vad, frame));
            }
            t.elapsed().as_secs_f64() * 1e6 / (jfk_i16.len() / 320) as f64
        })
        .collect();

    Ok(ModelsReport {
        whisper_load_ms,
        jfk_seconds: jfk_pcm.len() as f64 / 16000.0,
        jfk_transcribe_ms: candle.jfk_ms,
        jfk_rtf: candle.jfk_ms / 1000.0 / (jfk_pcm.len() as f64 / 16000.0),
        jfk_text: candle.jfk_text,
        utterance_seconds: utterance.len() as f64 / 16000.0,
        utterance_transcribe_ms: candle.utterance_ms,
        partial_transcribe_ms: candle.partial_ms,
        encoder_batch_ms_each,
        transcribe_batch_ms_each,
        whisper_cpp_load_ms,
        whisper_cpp_jfk_transcribe_ms: cpp.jfk_ms,
        whisper_cpp_jfk_text: cpp.jfk_text,
        whisper_cpp_utterance_transcribe_ms: cpp.utterance_ms,
        whisper_cpp_partial_transcribe_ms: cpp.partial_ms,
        streaming_rtf: candle_streaming.rtf,
        streaming_partials: candle_streaming.partials,
        streaming_final_ms: candle_streaming.final_ms,
        whisper_cpp_streaming_rtf: cpp_streaming.rtf,
        whisper_cpp_streaming_partials: cpp_streaming.partials,
        whisper_cpp_streaming_final_ms: cpp_streaming.final_ms,
        llm_load_ms: smollm.load_ms,
        llm_prompt_tokens: smollm.prompt_tokens,
        llm_first_token_ms: smollm.first_token_ms,
        llm_first_clause_ms: smollm.first_clause_ms,
        llm_tokens_per_second: smollm.tokens_per_second,
        llm_reply: smollm.reply.clone(),
        llms,
        espeak_clause_ms: espeak_ms,
        piper_load_ms,
        piper_clause_ms: piper_ms,
        energy_vad_us_per_frame: vad_us,
        silero_vad_us_per_frame: median(silero_runs),
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        machine: crate::procfs::machine(),
    })
}

/// Median times of one backend on jfk.wav (with its transcript) and on a turn-sized utterance, after a
/// warm-up.
/// A backend that adds up the time spent in it.
struct Metered<T> {
    inner: T,
    spent_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<T: Transcribe> Transcribe for Metered<T> {
    fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, voicera_models_local::Error> {
        let t = Instant::now();
        let text = self.inner.transcribe(pcm, language);
        self.spent_us.fetch_add(t.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        text
    }
    fn is_multilingual(&self) -> bool {
        self.inner.is_multilingual()
    }
    fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, voicera_models_local::Error>> {
        let t = Instant::now();
        let texts = self.inner.transcribe_batch(utterances);
        self.spent_us.fetch_add(t.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        texts
    }
}

struct Streaming {
    rtf: f64,
    partials: usize,
    final_ms: f64,
}

/// `pcm` (16 kHz) through a `WhisperStt` stream in 20 ms frames at real pace, as a call feeds it.
fn stream_at_real_pace<T: Transcribe>(model: T, pcm: &[f32]) -> Streaming {
    use voicera_models::{SpeechToText, Transcript};
    let spent_us = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let metered = Metered { inner: model, spent_us: std::sync::Arc::clone(&spent_us) };
    let stt = voicera_models_local::whisper::WhisperStt::new(metered, voicera_models_local::InferencePool::new(2, 16));
    let mut stream = stt.stream("en");
    let samples: Vec<i16> = pcm.iter().map(|s| (s * 32767.0) as i16).collect();
    let started = Instant::now();
    let mut partials = 0;
    for (i, frame) in samples.chunks(320).enumerate() {
        stream.push_audio(frame);
        while let Some(t) = stream.poll_transcript() {
            partials += usize::from(matches!(t, Transcript::Partial(_)));
        }
        let due = started + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let ended = Instant::now();
    stream.end_of_speech();
    let final_ms = loop {
        match stream.poll_transcript() {
            Some(Transcript::Final(_)) => break ms(ended.elapsed()),
            Some(Transcript::Partial(_)) => partials += 1,
            Some(Transcript::Failed(_)) => break f64::NAN,
            None if ended.elapsed() > Duration::from_secs(30) => break f64::NAN,
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let audio_seconds = pcm.len() as f64 / 16000.0;
    let spent = spent_us.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
    Streaming { rtf: spent / audio_seconds, partials, final_ms }
}

/// One backend's medians.
struct SttTimings {
    jfk_ms: f64,
    jfk_text: String,
    utterance_ms: f64,
    partial_ms: f64,
}

fn time_transcriptions(model: &dyn Transcribe, jfk: &[f32], utterance: &[f32], runs: usize) -> Result<SttTimings> {
    model.transcribe(&jfk[..16000.min(jfk.len())], "en")?;
    let mut text = String::new();
    let time = |pcm: &[f32], text: &mut String| {
        median(
            (0..runs.max(1))
                .map(|_| {
                    let t = Instant::now();
                    *text = model.transcribe(pcm, "en").unwrap_or_default();
                    ms(t.elapsed())
                })
                .collect(),
        )
    };
    let jfk_ms = time(jfk, &mut text);
    let utterance_ms = time(utterance, &mut String::new());
    let partial_ms = time(&utterance[..16000.min(utterance.len())], &mut String::new());
    Ok(SttTimings { jfk_ms, jfk_text: text, utterance_ms, partial_ms })
}

pub(crate) fn markdown(r: &ModelsReport) -> String {
    let mut out = format!(
        "# Local models on this machine\n\n{machine}, {threads} threads. Median of runs after a warm-up.\n\n\
| engine | figure |\n|---|---|\n\
| Whisper tiny.en load | {:.0} ms |\n\
| Whisper tiny.en, jfk.wav ({:.1} s) | {:.0} ms (RTF {:.3}) |\n\
| Whisper tiny.en, {:.1} s utterance (a turn's final) | {:.0} ms |\n\
| Whisper tiny.en, a streaming partial (its first 1 s) | {:.0} ms |\n\
| whisper.cpp (whisper-rs) tiny.en load | {:.0} ms |\n\
| whisper.cpp tiny.en, jfk.wav | {:.0} ms |\n\
| whisper.cpp tiny.en, the utterance | {:.0} ms |\n\
| whisper.cpp tiny.en, the partial | {:.0} ms |\n\
| streaming jfk.wav at real pace, candle: RTF / partials / final after the audio | {:.3} / {} / {:.0} ms |\n\
| the same, whisper.cpp | {:.3} / {} / {:.0} ms |\n\
| SmolLM2-135M load | {:.0} ms |\n\
| SmolLM2 prompt ({} tokens, system + greeting prefilled at load) → first token | {:.0} ms |\n\
| SmolLM2 → first speakable clause | {:.0} ms |\n\
| SmolLM2 decode | {:.1} tokens/s |\n\
| espeak-ng clause → audio | {:.0} ms |\n\
| Piper en_US joe medium load | {:.0} ms |\n\
| Piper clause (\"In a week, there are seven days.\") → audio | {:.0} ms |\n\
| energy VAD | {:.2} µs per 20 ms frame |\n\
| Silero VAD v6 (plain Rust, on speech) | {:.1} µs per 20 ms frame |\n\n\
jfk.wav transcript: {:?}\n\nwhisper.cpp's: {:?}\n\nSmolLM2 reply: {:?}\n",
        r.whisper_load_ms,
        r.jfk_seconds,
        r.jfk_transcribe_ms,
        r.jfk_rtf,
        r.utterance_seconds,
        r.utterance_transcribe_ms,
        r.partial_transcribe_ms,
        r.whisper_cpp_load_ms,
        r.whisper_cpp_jfk_transcribe_ms,
        r.whisper_cpp_utterance_transcribe_ms,
        r.whisper_cpp_partial_transcribe_ms,
        r.streaming_rtf,
        r.streaming_partials,
        r.streaming_final_ms,
        r.whisper_cpp_streaming_rtf,
        r.whisper_cpp_streaming_partials,
        r.whisper_cpp_streaming_final_ms,
        r.llm_load_ms,
        r.llm_prompt_tokens,
        r.llm_first_token_ms,
        r.llm_first_clause_ms,
        r.llm_tokens_per_second,
        r.espeak_clause_ms,
        r.piper_load_ms,
        r.piper_clause_ms,
        r.energy_vad_us_per_frame,
        r.silero_vad_us_per_frame,
        r.jfk_text,
        r.whisper_cpp_jfk_text,
        r.llm_reply,
        machine = r.machine,
        threads = r.threads,
    );
    out.push_str(&format!(
        "\nWhisper encoder, the {:.1} s utterance in batches (ms per utterance): ",
        r.utterance_seconds
    ));
    let batches: Vec<String> =
        r.encoder_batch_ms_each.iter().map(|(batch, each)| format!("batch {batch}: {each:.0}")).collect();
    out.push_str(&batches.join(", "));
    out.push_str(".\n\nWhole transcriptions of that many calls' finals in one batch (ms per utterance): ");
    let batches: Vec<String> =
        r.transcribe_batch_ms_each.iter().map(|(batch, each)| format!("batch {batch}: {each:.0}")).collect();
    out.push_str(&batches.join(", "));
    out.push_str(".\n\n## Local LLMs\n\nSystem prompt and greeting prefilled at load, then \"How many days are in a week?\".\n\n\
| model | load | prompt tokens | first token | first clause | decode |\n|---|---|---|---|---|---|\n");
    for llm in &r.llms {
        out.push_str(&format!(
            "| {} | {:.0} ms | {} | {:.0} ms | {:.0} ms | {:.1} tokens/s |\n",
            llm.model, llm.load_ms, llm.prompt_tokens, llm.first_token_ms, llm.first_clause_ms, llm.tokens_per_second
        ));
    }
    for llm in &r.llms {
        out.push_str(&format!("\n{}:\n\n", llm.model));
        for (question, answer) in &llm.answers {
            out.push_str(&format!("- {question:?} → {answer:?}\n"));
        }
    }
    out
}

/// Default model cache for the bench: the tests' shared cache.
pub(crate) fn default_models_dir() -> PathBuf {
    std::env::var_os("VOICERA_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/models-cache"))
}
