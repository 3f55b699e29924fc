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

// ---------------------------------------------------------------------------------------------------------
// IndicConformer: ONNX graphs with the repository's file names and input/output signatures (the RNNT
// decoder's state inputs keep their export-generated names), written with a minimal protobuf encoder.

/// Protocol-buffer encoding, the few wire types ONNX's `ModelProto` needs.
mod pb {
    pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    pub(super) fn int(out: &mut Vec<u8>, field: u32, v: i64) {
        varint(out, u64::from(field) << 3);
        varint(out, v as u64);
    }
    pub(super) fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
        varint(out, (u64::from(field) << 3) | 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }
}

const FLOAT: i64 = 1;
const INT32: i64 = 6;
const INT64: i64 = 7;

/// `ValueInfoProto`: a named tensor of `elem_type`, dims as numbers or symbols.
fn value_info(name: &str, elem_type: i64, dims: &[&str]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d.parse::<i64>() {
            Ok(n) => pb::int(&mut dim, 1, n),
            Err(_) => pb::bytes(&mut dim, 2, d.as_bytes()),
        }
        pb::bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    pb::int(&mut tensor, 1, elem_type);
    pb::bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    pb::bytes(&mut ty, 1, &tensor);
    let mut out = Vec::new();
    pb::bytes(&mut out, 1, name.as_bytes());
    pb::bytes(&mut out, 2, &ty);
    out
}

/// `NodeProto`, with an optional `perm` (Transpose) attribute.
fn node(op: &str, inputs: &[&str], outputs: &[&str], perm: Option<&[i64]>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in inputs {
        pb::bytes(&mut out, 1, i.as_bytes());
    }
    for o in outputs {
        pb::bytes(&mut out, 2, o.as_bytes());
    }
    pb::bytes(&mut out, 4, op.as_bytes());
    if let Some(perm) = perm {
        let mut attribute = Vec::new();
        pb::bytes(&mut attribute, 1, b"perm");
        for p in perm {
            pb::int(&mut attribute, 8, *p);
        }
        pb::int(&mut attribute, 20, 7); // INTS
        pb::bytes(&mut out, 5, &attribute);
    }
    out
}

/// `TensorProto`: an f32 initializer.
fn initializer(name: &str, dims: &[usize], values: &[f32]) -> Vec<u8> {
    assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
    let mut out = Vec::new();
    for d in dims {
        pb::int(&mut out, 1, *d as i64);
    }
    pb::int(&mut out, 2, FLOAT);
    pb::bytes(&mut out, 8, name.as_bytes());
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    pb::bytes(&mut out, 9, &raw);
    out
}

/// Writes a `ModelProto` (IR 8, opset 13) to `path`.
fn onnx_model(path: &Path, nodes: &[Vec<u8>], initializers: &[Vec<u8>], inputs: &[Vec<u8>], outputs: &[Vec<u8>]) {
    let mut graph = Vec::new();
    for n in nodes {
        pb::bytes(&mut graph, 1, n);
    }
    pb::bytes(&mut graph, 2, b"g");
    for i in initializers {
        pb::bytes(&mut graph, 5, i);
    }
    for i in inputs {
        pb::bytes(&mut graph, 11, i);
    }
    for o in outputs {
        pb::bytes(&mut graph, 12, o);
    }
    let mut opset = Vec::new();
    pb::bytes(&mut opset, 1, b"");
    pb::int(&mut opset, 2, 13);
    let mut model = Vec::new();
    pb::int(&mut model, 1, 8);
    pb::bytes(&mut model, 8, &opset);
    pb::bytes(&mut model, 7, &graph);
    std::fs::write(path, model).unwrap();
}

fn small_random(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1 << 24) as f32 - 0.5) * 0.02
        })
        .collect()
}

/// Two languages of four subwords each over a shared output of 9 (hi 0–3, ta 4–7, blank 8), local blank 4.
/// The weights are random, but biases make the answers known: CTC always prefers shared id 2 (hi's third
/// subword), then id 6 (ta's third); the RNNT head says hi's fourth subword once, then blank, because the
/// prediction network's embedding of that subword pushes the joint towards blank.
fn small_indic_conformer(dir: &Path) {
    let (mels, d, v, h, j, layers) = (80usize, 8usize, 9usize, 4usize, 6usize, 1usize);
    std::fs::write(
        dir.join("config.json"),
        serde_json::json!({"model_type": "iasr", "BLANK_ID": 4, "RNNT_MAX_SYMBOLS": 10, "PRED_RNN_LAYERS": layers,
                           "PRED_RNN_HIDDEN_DIM": h})
        .to_string(),
    )
    .unwrap();
    let assets = dir.join("assets");
    std::fs::create_dir(&assets).unwrap();
    let vocab = serde_json::json!({"hi": ["▁क", "ख", "▁ग", "घ"], "ta": ["▁க", "ங", "▁ச", "ஞ"]});
    std::fs::write(assets.join("vocab.json"), vocab.to_string()).unwrap();
    let mask = |own: std::ops::Range<usize>| (0..v).map(|i| own.contains(&i) || i == 8).collect::<Vec<bool>>();
    std::fs::write(
        assets.join("language_masks.json"),
        serde_json::json!({"hi": mask(0..4), "ta": mask(4..8)}).to_string(),
    )
    .unwrap();

    onnx_model(
        &assets.join("encoder.onnx"),
        &[
            node("Transpose", &["audio_signal"], &["x"], Some(&[0, 2, 1])),
            node("MatMul", &["x", "w"], &["y"], None),
            node("Transpose", &["y"], &["outputs"], Some(&[0, 2, 1])),
            node("Identity", &["length"], &["encoded_lengths"], None),
        ],
        &[initializer("w", &[mels, d], &small_random(mels * d, 1))],
        &[value_info("audio_signal", FLOAT, &["1", "80", "T"]), value_info("length", INT64, &["1"])],
        &[value_info("outputs", FLOAT, &["1", "8", "T"]), value_info("encoded_lengths", INT64, &["1"])],
    );
    let mut ctc_bias = vec![0f32; v];
    (ctc_bias[2], ctc_bias[6]) = (10.0, 5.0);
    onnx_model(
        &assets.join("ctc_decoder.onnx"),
        &[
            node("Transpose", &["encoder_output"], &["x"], Some(&[0, 2, 1])),
            node("MatMul", &["x", "w"], &["y"], None),
            node("Add", &["y", "b"], &["logprobs"], None),
        ],
        &[initializer("w", &[d, v], &small_random(d * v, 2)), initializer("b", &[v], &ctc_bias)],
        &[value_info("encoder_output", FLOAT, &["1", "8", "T"])],
        &[value_info("logprobs", FLOAT, &["1", "T", "9"])],
    );
    // Prediction network: an embedding lookup; the fourth subword (local 3) embeds as [5, 5, 5, 5].
    let mut embedding = vec![0f32; v * h];
    embedding[3 * h..4 * h].fill(5.0);
    onnx_model(
        &assets.join("rnnt_decoder.onnx"),
        &[
            node("Gather", &["e", "targets"], &["g"], None),
            node("Transpose", &["g"], &["outputs"], Some(&[0, 2, 1])),
            node("Identity", &["target_length"], &["prednet_lengths"], None),
            node("Tanh", &["states.1"], &["states"], None),
            node("Tanh", &["onnx::Slice_3"], &["162"], None),
        ],
        &[initializer("e", &[v, h], &embedding)],
        &[
            value_info("targets", INT32, &["1", "1"]),
            value_info("target_length", INT32, &["1"]),
            value_info("states.1", FLOAT, &["1", "1", "4"]),
            value_info("onnx::Slice_3", FLOAT, &["1", "1", "4"]),
        ],
        &[
            value_info("outputs", FLOAT, &["1", "4", "1"]),
            value_info("prednet_lengths", INT32, &["1"]),
            value_info("states", FLOAT, &["1", "1", "4"]),
            value_info("162", FLOAT, &["1", "1", "4"]),
        ],
    );
    let matmul =
        |name: &str, rows: usize, cols: usize, weights: Vec<f32>, bias: Option<Vec<f32>>, dims_in: [&str; 3]| {
            let mut nodes = vec![node("MatMul", &["input", "w"], &[if bias.is_some() { "y" } else { "output" }], None)];
            let mut inits = vec![initializer("w", &[rows, cols], &weights)];
            if let Some(bias) = bias {
                nodes.push(node("Add", &["y", "b"], &["output"], None));
                inits.push(initializer("b", &[cols], &bias));
            }
            let out_dims = [dims_in[0], dims_in[1], &cols.to_string()].map(|s| s.to_string());
            let out_dims: Vec<&str> = out_dims.iter().map(String::as_str).collect();
            onnx_model(
                &assets.join(name),
                &nodes,
                &inits,
                &[value_info("input", FLOAT, &dims_in)],
                &[value_info("output", FLOAT, &out_dims)],
            );
        };
    // The joint: encoder frames contribute nothing, the prediction adds up into every joint unit.
    matmul("joint_enc.onnx", d, j, vec![0.0; d * j], None, ["1", "T", "8"]);
    matmul("joint_pred.onnx", h, j, vec![1.0; h * j], None, ["1", "1", "4"]);
    onnx_model(
        &assets.join("joint_pre_net.onnx"),
        &[node("Relu", &["input"], &["output"], None)],
        &[],
        &[value_info("input", FLOAT, &["1", "1", "6"])],
        &[value_info("output", FLOAT, &["1", "1", "6"])],
    );
    // Each head: bias towards its fourth subword; any joint activity votes for blank (local 4).
    for lang in ["hi", "ta"] {
        let mut weights = vec![0f32; j * 5];
        for row in weights.chunks_exact_mut(5) {
            row[4] = 1.0;
        }
        matmul(
            &format!("joint_post_net_{lang}.onnx"),
            j,
            5,
            weights,
            Some(vec![0.0, 0.0, 0.0, 1.0, 0.0]),
            ["1", "1", "6"],
        );
    }
}

/// ONNX Runtime's library, which the model cache ships with the Piper voice.
fn onnx_runtime_library() -> std::path::PathBuf {
    let dir = std::env::var_os("VOICERA_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("target/models-cache")
    });
    let cache = voicera_models_local::ModelCache::new(dir);
    let spec = voicera_models_local::cache::spec("piper-en_US-joe-medium").unwrap();
    cache.fetch(spec).unwrap();
    cache.require("piper-en_US-joe-medium").unwrap().join("libonnxruntime.so")
}

#[test]
#[ignore = "needs ONNX Runtime from the model cache"]
fn an_indic_conformer_checkpoint_decodes_with_ctc_and_rnnt_per_language() {
    use voicera_models_local::indic_conformer::{Decoding, IndicConformer};
    let dir = tempfile::tempdir().unwrap();
    small_indic_conformer(dir.path());
    let library = onnx_runtime_library();
    let ctc = IndicConformer::load(dir.path(), &library, Decoding::Ctc).unwrap();
    assert_eq!(ctc.languages(), ["hi", "ta"]);
    let audio = noise(1.0);
    // Every frame's best is shared id 2: in Hindi its third subword, once after collapsing repeats.
    assert_eq!(ctc.transcribe(&audio, "hi").unwrap(), "ग");
    // Tamil's mask hides id 2; its best is id 6, Tamil's third subword.
    assert_eq!(ctc.transcribe(&audio, "ta-IN").unwrap(), "ச");
    let unknown = ctc.transcribe(&audio, "fr").unwrap_err().to_string();
    assert!(unknown.contains("no language"), "{unknown}");
    assert_eq!(ctc.transcribe(&audio[..800], "hi").unwrap(), "", "under 0.1 s");

    let rnnt = IndicConformer::load(dir.path(), &library, Decoding::Rnnt).unwrap();
    // From the shared blank the head says its fourth subword; fed back, that subword's embedding makes it say
    // blank on every later step: one symbol for the utterance.
    assert_eq!(rnnt.transcribe(&audio, "hi").unwrap(), "घ");
    assert_eq!(rnnt.transcribe(&audio, "ta").unwrap(), "ஞ");
}

#[test]
fn an_indic_conformer_directory_without_its_vocabulary_says_so() {
    use voicera_models_local::indic_conformer::{Decoding, IndicConformer};
    let dir = tempfile::tempdir().unwrap();
    let error = IndicConformer::load(dir.path(), Path::new("/nonexistent/libonnxruntime.so"), Decoding::Ctc)
        .err()
        .unwrap()
        .to_string();
    // ONNX Runtime is loaded first when none is yet; either way the failure names what is missing.
    assert!(error.contains("ONNX Runtime") || error.contains("vocab.json"), "{error}");
}
