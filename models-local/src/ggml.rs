//! Whisper in whisper.cpp's ggml file format, written from the Hugging Face-named safetensors the model cache
//! holds (converted from CTranslate2 by [`crate::ct2`], or an HF Whisper checkpoint such as IndicWhisper).
//!
//! The format is what whisper.cpp's `convert-pt-to-ggml.py` writes and `whisper_model_load` reads:
//! - magic `ggml` (u32), then eleven i32 hyper-parameters: n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
//!   n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = f16);
//! - the mel filter bank: n_mel, n_fft (i32, n_fft = 201 bins), then the f32 matrix;
//! - the vocabulary: a count, then each token's bytes (u32 length + bytes) in id order. Only the byte-level BPE
//!   tokens are written; whisper.cpp names the special tokens after them itself;
//! - every tensor: n_dims, name length, type (0 f32, 1 f16), the dims innermost first (PyTorch's shape
//!   reversed), the OpenAI name (`encoder.blocks.0.attn.query.weight`), the data.
//!
//! Matrices are stored as f16 (whisper.cpp's `wtype`); the conv biases (as (n, 1) matrices), both positional
//! embeddings, norms and biases stay f32, as the loader expects. The encoder's positional embedding is
//! Whisper's fixed sinusoids, which the HF checkpoint does not carry (candle computes them too).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::Error;

/// The file written next to the safetensors.
pub const GGML_FILE: &str = "ggml-model-f16.bin";
const MAGIC: u32 = 0x6767_6d6c;
/// Whisper's audio context: 30 s of 20 ms encoder frames.
const N_AUDIO_CTX: usize = 1500;
/// Frequency bins of Whisper's 400-point FFT.
const N_FFT_BINS: i32 = 201;

/// Hyper-parameters read from `whisper-config.json` (candle's `Config` names, which HF's `config.json` uses).
#[derive(Debug, serde::Deserialize)]
struct Hyper {
    vocab_size: usize,
    num_mel_bins: usize,
    d_model: usize,
    encoder_attention_heads: usize,
    encoder_layers: usize,
    decoder_attention_heads: usize,
    decoder_layers: usize,
    max_target_positions: usize,
}

/// Writes `ggml-model-f16.bin` into `dir` (which holds `model.safetensors`, `whisper-config.json` and
/// `tokenizer.json`) unless it is there already; returns its path. Written to a temporary name and renamed,
/// so a concurrent reader never sees half a file.
pub fn ensure_whisper_ggml(dir: &Path) -> Result<PathBuf, Error> {
    let path = dir.join(GGML_FILE);
    if path.exists() {
        return Ok(path);
    }
    let config_path = crate::whisper::config_file(dir);
    let hyper: Hyper = serde_json::from_slice(&std::fs::read(dir.join(config_path))?)
        .map_err(|e| Error::Format(format!("{config_path}: {e}")))?;
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)?;
    let vocabulary = byte_level_vocabulary(&std::fs::read(dir.join("tokenizer.json"))?)?;
    let temporary = dir.join(format!("{GGML_FILE}.{}.tmp", std::process::id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
    write_whisper_ggml(&mut out, &hyper, &tensors, &vocabulary)?;
    out.into_inner().map_err(|e| Error::Io(e.into_error()))?.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

fn write_whisper_ggml(
    out: &mut impl Write,
    hyper: &Hyper,
    tensors: &HashMap<String, Tensor>,
    vocabulary: &[Vec<u8>],
) -> Result<(), Error> {
    let i32_of = |v: usize| i32::try_from(v).map_err(|_| Error::Format(format!("{v} does not fit the ggml header")));
    out.write_all(&MAGIC.to_le_bytes())?;
    for value in [
        hyper.vocab_size,
        N_AUDIO_CTX,
        hyper.d_model,
        hyper.encoder_attention_heads,
        hyper.encoder_layers,
        hyper.max_target_positions,
        hyper.d_model,
        hyper.decoder_attention_heads,
        hyper.decoder_layers,
        hyper.num_mel_bins,
        1, // f16 weights
    ] {
        out.write_all(&i32_of(value)?.to_le_bytes())?;
    }
    out.write_all(&i32_of(hyper.num_mel_bins)?.to_le_bytes())?;
    out.write_all(&N_FFT_BINS.to_le_bytes())?;
    for f in crate::mel::filters(hyper.num_mel_bins) {
        out.write_all(&f.to_le_bytes())?;
    }
    out.write_all(&i32_of(vocabulary.len())?.to_le_bytes())?;
    for token in vocabulary {
        out.write_all(&(token.len() as u32).to_le_bytes())?;
        out.write_all(token)?;
    }
    let positions = sinusoids(N_AUDIO_CTX, hyper.d_model)?;
    write_tensor(out, "encoder.positional_embedding", &positions)?;
    for (hf, openai) in tensor_names(hyper) {
        let tensor = tensors.get(&hf).ok_or_else(|| Error::Format(format!("the checkpoint lacks {hf}")))?;
        let tensor = if openai.ends_with("conv1.bias") || openai.ends_with("conv2.bias") {
            tensor.unsqueeze(1)? // whisper.cpp adds it as an (n_state, 1) matrix
        } else {
            tensor.clone()
        };
        write_tensor(out, &openai, &tensor)?;
    }
    Ok(())
}

/// Every tensor whisper.cpp loads besides the encoder's positions: (HF name, OpenAI name).
fn tensor_names(hyper: &Hyper) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let mut both = |hf: String, openai: String, with_bias: bool| {
        if with_bias {
            names.push((format!("{hf}.bias"), format!("{openai}.bias")));
        }
        names.push((format!("{hf}.weight"), format!("{openai}.weight")));
    };
    for conv in ["conv1", "conv2"] {
        both(format!("model.encoder.{conv}"), format!("encoder.{conv}"), true);
    }
    for (side, layers) in [("encoder", hyper.encoder_layers), ("decoder", hyper.decoder_layers)] {
        for i in 0..layers {
            let (hf, openai) = (format!("model.{side}.layers.{i}"), format!("{side}.blocks.{i}"));
            let mut attention = |hf_attn: &str, openai_attn: &str| {
                for (p, o) in [("q_proj", "query"), ("k_proj", "key"), ("v_proj", "value"), ("out_proj", "out")] {
                    // Whisper's key projections have no bias.
                    both(format!("{hf}.{hf_attn}.{p}"), format!("{openai}.{openai_attn}.{o}"), p != "k_proj");
                }
            };
            attention("self_attn", "attn");
            if side == "decoder" {
                attention("encoder_attn", "cross_attn");
            }
            both(format!("{hf}.self_attn_layer_norm"), format!("{openai}.attn_ln"), true);
            if side == "decoder" {
                both(format!("{hf}.encoder_attn_layer_norm"), format!("{openai}.cross_attn_ln"), true);
            }
            both(format!("{hf}.fc1"), format!("{openai}.mlp.0"), true);
            both(format!("{hf}.fc2"), format!("{openai}.mlp.2"), true);
            both(format!("{hf}.final_layer_norm"), format!("{openai}.mlp_ln"), true);
        }
    }
    both("model.encoder.layer_norm".into(), "encoder.ln_post".into(), true);
    both("model.decoder.layer_norm".into(), "decoder.ln".into(), true);
    names.push(("model.decoder.embed_tokens.weight".into(), "decoder.token_embedding.weight".into()));
    names.push(("model.decoder.embed_positions.weight".into(), "decoder.positional_embedding".into()));
    names
}

fn write_tensor(out: &mut impl Write, name: &str, tensor: &Tensor) -> Result<(), Error> {
    let dims = tensor.dims();
    // Matrices in f16, except what whisper.cpp keeps in f32: positional embeddings and the conv biases.
    let f16 = dims.len() >= 2 && !name.ends_with("positional_embedding") && !name.ends_with(".bias");
    out.write_all(&(dims.len() as i32).to_le_bytes())?;
    out.write_all(&(name.len() as i32).to_le_bytes())?;
    out.write_all(&i32::from(f16).to_le_bytes())?;
    for d in dims.iter().rev() {
        out.write_all(&(*d as i32).to_le_bytes())?;
    }
    out.write_all(name.as_bytes())?;
    let flat = tensor.flatten_all()?;
    if f16 {
        for v in flat.to_dtype(DType::F16)?.to_vec1::<half::f16>()? {
            out.write_all(&v.to_le_bytes())?;
        }
    } else {
        for v in flat.to_dtype(DType::F32)?.to_vec1::<f32>()? {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    Ok(())
}

/// Whisper's encoder positions: `sinusoids(length, channels)` of OpenAI's `whisper/model.py`.
fn sinusoids(length: usize, channels: usize) -> Result<Tensor, Error> {
    let half = channels / 2;
    let increment = (10_000f64).ln() / (half.max(2) - 1) as f64;
    let mut data = Vec::with_capacity(length * channels);
    for t in 0..length {
        let scaled = |i: usize| t as f64 * (-increment * i as f64).exp();
        data.extend((0..half).map(|i| scaled(i).sin() as f32));
        data.extend((0..half).map(|i| scaled(i).cos() as f32));
    }
    Ok(Tensor::from_vec(data, (length, channels), &Device::Cpu)?)
}

/// The byte-level BPE tokens of an HF `tokenizer.json`, as raw bytes in id order: the ids below the first
/// added (special) token. GPT-2's byte encoder maps each byte to a printable character; this undoes it.
fn byte_level_vocabulary(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let json: serde_json::Value =
        serde_json::from_slice(tokenizer_json).map_err(|e| Error::Format(format!("tokenizer.json: {e}")))?;
    let vocab =
        json["model"]["vocab"].as_object().ok_or_else(|| Error::Format("tokenizer.json has no model.vocab".into()))?;
    let first_special = json["added_tokens"]
        .as_array()
        .and_then(|added| added.iter().filter_map(|t| t["id"].as_u64()).min())
        .unwrap_or(vocab.len() as u64) as usize;
    let decoder: HashMap<char, u8> = gpt2_byte_encoder().into_iter().map(|(b, c)| (c, b)).collect();
    let mut tokens = vec![Vec::new(); first_special.min(vocab.len())];
    for (text, id) in vocab {
        let Some(slot) = id.as_u64().and_then(|id| tokens.get_mut(id as usize)) else { continue };
        *slot = text
            .chars()
            .map(|c| decoder.get(&c).copied().ok_or_else(|| Error::Format(format!("token {text:?} is not byte-level"))))
            .collect::<Result<_, _>>()?;
    }
    Ok(tokens)
}

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100 onwards.
pub fn gpt2_byte_encoder() -> Vec<(u8, char)> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                (b, char::from(b))
            } else {
                let c = char::from_u32(next).unwrap_or('?');
                next += 1;
                (b, c)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_tokens_come_back_as_bytes_in_id_order() {
        // "Ġ" is GPT-2's stand-in for the space byte, "Ċ" for newline; specials are left to whisper.cpp.
        let json = r#"{"model":{"vocab":{"a":1,"Ġthe":0,"Ċ":2,"Ã©":3,"<|endoftext|>":4}},
                        "added_tokens":[{"id":4,"content":"<|endoftext|>"}]}"#;
        let tokens = byte_level_vocabulary(json.as_bytes()).unwrap();
        assert_eq!(tokens, vec![b" the".to_vec(), b"a".to_vec(), b"\n".to_vec(), "é".as_bytes().to_vec()]);
    }

    #[test]
    fn the_byte_encoder_is_a_bijection() {
        let map = gpt2_byte_encoder();
        let chars: std::collections::HashSet<char> = map.iter().map(|(_, c)| *c).collect();
        assert_eq!(chars.len(), 256);
        assert_eq!(map[b' ' as usize].1, 'Ġ');
    }

    #[test]
    fn sinusoids_match_openai() {
        // whisper.model.sinusoids(3, 4): increment ln(10000)/1; row 1 = [sin 1, sin 1e-4, cos 1, cos 1e-4].
        let s = sinusoids(3, 4).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(s[0], vec![0.0, 0.0, 1.0, 1.0]);
        let expected = [1f32.sin(), 1e-4f32.sin(), 1f32.cos(), 1e-4f32.cos()];
        for (a, b) in s[1].iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{:?}", s[1]);
        }
    }

    #[test]
    fn the_header_and_tensors_are_laid_out_as_whisper_cpp_reads_them() {
        let hyper = Hyper {
            vocab_size: 8,
            num_mel_bins: 80,
            d_model: 4,
            encoder_attention_heads: 1,
            encoder_layers: 1,
            decoder_attention_heads: 1,
            decoder_layers: 1,
            max_target_positions: 6,
        };
        let mut tensors = HashMap::new();
        for (hf, _) in tensor_names(&hyper) {
            let shape: Vec<usize> = if hf.contains("conv1.weight") {
                vec![4, 80, 3]
            } else if hf.contains("conv2.weight") {
                vec![4, 4, 3]
            } else if hf.ends_with("embed_tokens.weight") {
                vec![8, 4]
            } else if hf.ends_with("embed_positions.weight") {
                vec![6, 4]
            } else if hf.contains("fc1.weight") {
                vec![16, 4]
            } else if hf.contains("fc2.weight") {
                vec![4, 16]
            } else if hf.contains("fc1.bias") {
                vec![16]
            } else if hf.ends_with("proj.weight") {
                vec![4, 4]
            } else {
                vec![4]
            };
            tensors.insert(hf, Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap());
        }
        let mut out = Vec::new();
        write_whisper_ggml(&mut out, &hyper, &tensors, &[b"a".to_vec(), b" b".to_vec()]).unwrap();
        let word = |at: usize| i32::from_le_bytes(out[at..at + 4].try_into().unwrap());
        assert_eq!(word(0) as u32, MAGIC);
        assert_eq!((1..=11).map(|i| word(4 * i)).collect::<Vec<_>>(), vec![8, 1500, 4, 1, 1, 6, 4, 1, 1, 80, 1]);
        assert_eq!((word(48), word(52)), (80, 201), "filter bank dimensions");
        let vocab_at = 56 + 80 * 201 * 4;
        assert_eq!((word(vocab_at), word(vocab_at + 4)), (2, 1), "two tokens, the first one byte long");
        // The first tensor: the encoder's 1500 × 4 positions, f32, dims innermost first.
        let first = vocab_at + 4 + (4 + 1) + (4 + 2);
        assert_eq!((word(first), word(first + 8), word(first + 12), word(first + 16)), (2, 0, 4, 1500));
        // The conv1 bias becomes (4, 1): dims [1, 4], f32.
        let name = b"encoder.conv1.bias";
        let at = out.windows(name.len()).position(|w| w == name).unwrap();
        assert_eq!((word(at - 20), word(at - 12), word(at - 8), word(at - 4)), (2, 0, 1, 4));
    }
}
