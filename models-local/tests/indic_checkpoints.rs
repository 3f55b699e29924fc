//! AI4Bharat's models load from an operator's directory (their weights are in no registry here). These tests
//! make small checkpoints with random weights but the real file layout, tensor names and shapes, and load them
//! through the same code as the real ones.
//!
//! IndicWhisper is a Hugging Face Whisper checkpoint (`config.json`, `model.safetensors`, `tokenizer.json`),
//! multilingual, fine-tuned per language. Indic Parler-TTS is a Parler-TTS checkpoint with two tokenizers
//! (the text's, and the description's for its flan-t5 text encoder); its transformer is made small here, its
//! DAC codec keeps the real architecture (candle fixes its sizes), so that test is heavy.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::whisper as wm;
use voicera_models::TextToSpeech;
use voicera_models_local::parler::{IndicParler, ParlerTts};
use voicera_models_local::whisper::{Transcribe, WhisperModel};
use voicera_models_local::InferencePool;

/// Whisper's special tokens, as IndicWhisper's tokenizer names them (ids after the 256 byte tokens here).
const SPECIALS: [&str; 9] = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|hi|>",
    "<|ta|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
];

/// A two-layer multilingual Whisper with random weights, saved in f16 like many published checkpoints.
fn random_indic_whisper(dir: &Path) {
    let config = serde_json::json!({
        "model_type": "whisper",
        "architectures": ["WhisperForConditionalGeneration"],
        "num_mel_bins": 80,
        "max_source_positions": 1500,
        "d_model": 64,
        "encoder_attention_heads": 2,
        "encoder_layers": 2,
        "vocab_size": 51865,
        "max_target_positions": 448,
        "decoder_attention_heads": 2,
        "decoder_layers": 2,
        "suppress_tokens": [],
        "torch_dtype": "float16"
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let parsed: wm::Config = serde_json::from_value(config).unwrap();
    // Building candle's model creates every tensor under its real name and shape.
    wm::model::Whisper::load(&vb, parsed).unwrap();
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().to_dtype(DType::F16).unwrap()))
        .collect();
    assert!(tensors.contains_key("model.decoder.embed_positions.weight"), "{:?}", tensors.keys());
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("tokenizer.json"), byte_level_tokenizer().to_string()).unwrap();
}

/// A byte-level BPE tokenizer.json (the format of Whisper's): the 256 byte tokens, no merges, the specials.
fn byte_level_tokenizer() -> serde_json::Value {
    let vocab: serde_json::Map<String, serde_json::Value> = voicera_models_local::ggml::gpt2_byte_encoder()
        .into_iter()
        .map(|(byte, c)| (c.to_string(), serde_json::json!(byte)))
        .collect();
    let added: Vec<serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"id": 256 + i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                               "normalized": false, "special": true})
        })
        .collect();
    let byte_level =
        serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added, "normalizer": null,
        "pre_tokenizer": byte_level, "post_processor": null, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []}
    })
}

fn noise(seconds: f32) -> Vec<f32> {
    let mut state = 12345u32;
    (0..(16000.0 * seconds) as usize)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((state >> 16) as f32 / 65536.0 - 0.5) * 0.2
        })
        .collect()
}

#[test]
fn an_indic_whisper_checkpoint_loads_and_transcribes_in_its_languages() {
    let dir = tempfile::tempdir().unwrap();
    random_indic_whisper(dir.path());
    let model = WhisperModel::load(dir.path(), &Device::Cpu).unwrap();
    assert!(Transcribe::is_multilingual(&model));
    // Random weights say nothing useful, but the whole path runs: mel, encoder, the language prompt, decoding.
    model.transcribe(&noise(1.0), "hi").unwrap();
    model.transcribe(&noise(1.0), "ta-IN").unwrap();
    let unknown = model.transcribe(&noise(1.0), "xx").unwrap_err().to_string();
    assert!(unknown.contains("does not know language"), "{unknown}");
}

#[test]
fn a_checkpoint_without_weights_or_tokenizer_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    random_indic_whisper(dir.path());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let error = WhisperModel::load(dir.path(), &Device::Cpu).err().unwrap().to_string();
    assert!(error.contains("tokenizer.json"), "{error}");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), byte_level_tokenizer().to_string()).unwrap();
    let error = WhisperModel::load(dir.path(), &Device::Cpu).err().unwrap().to_string();
    assert!(error.contains("no model.safetensors"), "{error}");
}

/// The same checkpoint on whisper.cpp: written as ggml (the vocabulary's byte tokens, whisper.cpp names the
/// rest), loaded and run.
#[cfg(feature = "whisper-cpp")]
#[test]
fn an_indic_whisper_checkpoint_runs_on_whisper_cpp_too() {
    let dir = tempfile::tempdir().unwrap();
    random_indic_whisper(dir.path());
    let model = voicera_models_local::whisper_cpp::WhisperCpp::load(dir.path(), 1).unwrap();
    assert!(model.is_multilingual());
    model.transcribe(&noise(1.0), "hi").unwrap();
}

/// A Parler-TTS checkpoint laid out like `ai4bharat/indic-parler-tts`, with random weights: a one-layer text
/// encoder and decoder, the real DAC codec (9 codebooks of 1024, 44.1 kHz).
fn random_indic_parler(dir: &Path) {
    let config = parler_config();
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    random_parler_weights(dir, config);
}

/// The configuration of the small Parler checkpoint (Indic Parler-TTS's field names and codec).
fn parler_config() -> serde_json::Value {
    serde_json::json!({
        "model_type": "parler_tts",
        "decoder_start_token_id": 1025,
        "pad_token_id": 1024,
        "vocab_size": 300,
        "decoder": {
            "vocab_size": 1088, "max_position_embeddings": 512, "num_hidden_layers": 1, "ffn_dim": 32,
            "num_attention_heads": 2, "num_key_value_heads": 2, "num_cross_attention_key_value_heads": 2,
            "activation_function": "gelu", "hidden_size": 16, "scale_embedding": false, "num_codebooks": 9,
            "pad_token_id": 1024, "bos_token_id": 1025, "eos_token_id": 1024, "tie_word_embeddings": false,
            "rope_embeddings": false, "rope_theta": 10000.0
        },
        "text_encoder": {
            "vocab_size": 300, "d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2,
            "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128, "dropout_rate": 0.1,
            "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0, "feed_forward_proj": "gated-gelu",
            "is_encoder_decoder": true, "pad_token_id": 0, "eos_token_id": 1
        },
        "audio_encoder": {
            "num_codebooks": 9, "model_bitrate": 8, "codebook_size": 1024, "latent_dim": 1024, "frame_rate": 86,
            "sampling_rate": 44100
        }
    })
}

fn random_parler_weights(dir: &Path, config: serde_json::Value) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let parsed: candle_transformers::models::parler_tts::Config = serde_json::from_value(config).unwrap();
    candle_transformers::models::parler_tts::Model::new(&parsed, vb).unwrap();
    // candle fills what has no initialiser with zeros (weight-normed convolutions would divide by zero).
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| {
            let t = var.as_tensor();
            (name.clone(), Tensor::randn(0f32, 0.05, t.shape(), &Device::Cpu).unwrap().to_dtype(DType::F16).unwrap())
        })
        .collect();
    for name in [
        "text_encoder.encoder.embed_tokens.weight",
        "decoder.model.decoder.embed_positions.weights",
        "audio_encoder.model.quantizer.quantizers.0.codebook.weight",
    ] {
        assert!(tensors.contains_key(name), "{name} in {:?}", tensors.keys().take(20).collect::<Vec<_>>());
    }
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("tokenizer.json"), byte_level_tokenizer().to_string()).unwrap();
    std::fs::create_dir_all(dir.join("description_tokenizer")).unwrap();
    std::fs::write(dir.join("description_tokenizer/tokenizer.json"), byte_level_tokenizer().to_string()).unwrap();
}

#[test]
#[ignore = "heavy: an 80M-parameter DAC codec with random weights"]
fn an_indic_parler_checkpoint_speaks_a_described_voice() {
    let dir = tempfile::tempdir().unwrap();
    random_indic_parler(dir.path());
    let voice = std::sync::Arc::new(IndicParler::load(dir.path(), &Device::Cpu).unwrap());
    assert_eq!(voice.sample_rate(), 44100);
    // "नमस्ते" in Devanagari: the prompt tokenizer takes any script.
    let pcm = voice.synthesize("नमस्ते", "A calm female voice.", 7).unwrap();
    // Every decoding step past the delay pattern is one DAC frame of 512 samples.
    assert!(!pcm.is_empty() && pcm.len().is_multiple_of(512), "{} samples", pcm.len());
    assert_eq!(pcm, voice.synthesize("नमस्ते", "A calm female voice.", 7).unwrap(), "a seed repeats its sampling");
    // As an agent's voice: the clause arrives on the pool as 44.1 kHz chunks.
    let tts = ParlerTts::new(voice, "A calm female voice.", InferencePool::new(1, 4));
    let mut stream = tts.speak("hi");
    assert_eq!(stream.sample_rate(), 44100);
    let started = std::time::Instant::now();
    let mut samples = Vec::new();
    while stream.poll_audio(&mut samples) {
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "no audio");
    }
    let samples = samples.len();
    assert!(samples > 0);
}

#[test]
fn a_parler_checkpoint_without_its_description_tokenizer_says_which_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let error = IndicParler::load(dir.path(), &Device::Cpu).err().unwrap().to_string();
    assert!(error.contains("config.json"), "{error}");
    std::fs::write(dir.path().join("config.json"), serde_json::to_vec(&parler_config()).unwrap()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), byte_level_tokenizer().to_string()).unwrap();
    let error = IndicParler::load(dir.path(), &Device::Cpu).err().unwrap().to_string();
    assert!(error.contains("no description tokenizer"), "{error}");
}
