//! Speed of the local LLM and of candle's Whisper encoder on this CPU, for comparing builds: one built for
//! x86-64-v3 (`.cargo/config.toml` before), one for the x86-64 baseline where candle chooses its AVX2/FMA
//! kernels at run time. Figures for `bench/results/cpu-dispatch.md`.
//!
//! `cargo run -p voicera-models-local --no-default-features --example cpu_dispatch -- [RUNS]` (weights from
//! `$VOICERA_MODELS_DIR`, else `target/models-cache`, fetched on first use).

use std::path::PathBuf;
use std::time::Instant;

use voicera_models::{ChatMessage, Role};
use voicera_models_local::smollm::{GenerationParams, SmolLm};
use voicera_models_local::whisper::WhisperModel;
use voicera_models_local::{cache, ModelCache};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let dir = std::env::var_os("VOICERA_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/models-cache"));
    let models = ModelCache::new(dir);
    for name in ["smollm2-135m", "whisper-tiny.en"] {
        models.fetch(cache::spec(name)?)?;
    }
    println!(
        "built for avx2: {}, fma: {}; this CPU has avx2: {}, fma: {}",
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("fma"),
    );

    // The LLM: one turn of a short call, greedy, from a cold state each run (no conversation cache).
    let llm = SmolLm::load(&models.require("smollm2-135m")?.join("model.gguf"), &candle_core::Device::Cpu)?
        .with_conversation_cache(0);
    let history = [
        ChatMessage { role: Role::System, content: "You are a helpful assistant. Answer briefly.".into() },
        ChatMessage { role: Role::User, content: "Tell me about the history of the bicycle.".into() },
    ];
    let prompt_tokens = llm.prompt_tokens(&history)?.len();
    let params = GenerationParams { max_tokens: 64, repeat_penalty: 1.15, ..GenerationParams::default() };
    let mut first_token_ms = Vec::new();
    let mut decode_rates = Vec::new();
    let mut reply = String::new();
    for _ in 0..runs + 1 {
        let started = Instant::now();
        let mut first = None;
        let mut tokens = 0usize;
        reply.clear();
        llm.generate(&history, params, |piece| {
            tokens += 1;
            first.get_or_insert_with(|| started.elapsed());
            reply.push_str(piece);
            true
        })?;
        let total = started.elapsed();
        let first = first.unwrap_or(total);
        first_token_ms.push(first.as_secs_f64() * 1000.0);
        decode_rates.push(tokens.saturating_sub(1) as f64 / (total - first).as_secs_f64().max(1e-9));
    }
    // The first run is a warm-up (page faults, thread pool start).
    first_token_ms.remove(0);
    decode_rates.remove(0);
    println!(
        "smollm2-135m: {prompt_tokens} prompt tokens, first token {:.1} ms, decode {:.1} tokens/s (median of {runs}); \
         reply {:?}",
        median(first_token_ms),
        median(decode_rates),
        reply.trim()
    );

    // candle's Whisper encoder (f32 matmuls through gemm) on 10 s of audio.
    let whisper = WhisperModel::load(&models.require("whisper-tiny.en")?, &candle_core::Device::Cpu)?;
    let pcm: Vec<f32> = (0..160_000).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
    let mut encode_ms = Vec::new();
    for _ in 0..runs + 1 {
        encode_ms.push(whisper.time_encoder_batch(&pcm, 1)?.as_secs_f64() * 1000.0);
    }
    encode_ms.remove(0);
    println!("whisper-tiny.en (candle): encoder on 10 s of audio {:.1} ms (median of {runs})", median(encode_ms));
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}
