//! The decoder of the GGUF chat models, quantized: the `llama` architecture (SmolLM2) and `qwen2` (Qwen2,
//! Qwen2.5), after candle-transformers 0.11's `quantized_llama` and `quantized_qwen2` (MIT OR Apache-2.0).
//! Kept here because candle's types keep their attention cache private: the chat engine ([`crate::smollm`])
//! reuses a conversation's cache from one turn to the next, and cuts it back when the history changed
//! ([`ModelWeights::truncate_cache`]), which needs the cache in hand.
//!
//! Cloning a model shares the weights (`Arc`ed quantized tensors) and the cache's tensors (they are never
//! written in place: each forward pass concatenates into new ones), so a clone is cheap and each clone then
//! grows its own cache. Grouped-query attention, RoPE (interleaved for `llama`, NeoX halves for `qwen2`),
//! RMSNorm, SwiGLU; q/k/v biases when the file has them (Qwen2); the lm head falls back to the tied
//! embedding matrix.
//!
//! One difference from upstream: matrices in formats that candle multiplies without SIMD are requantised to
//! Q8_0 at load ([`needs_requantising`]). SmolLM2-135M is Q4_1 throughout; in the Qwen2.5-0.5B file most
//! matrices are Q5_0 (its 896 columns are no multiple of the 256-wide k-quant block, so llama.cpp's Q4_K_M
//! falls back to Q5_0 for them).

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::Embedding;
use candle_transformers::quantized_nn::RmsNorm;
use candle_transformers::utils::{build_causal_mask, repeat_kv};

/// Longest sequence the rotary tables cover. A voice agent's prompt is cut to well under this (the engine's
/// prompt budget), so tables for a model's full 32k context would only cost load time and memory.
const MAX_POSITIONS: usize = 8192;

/// The architectures this decoder runs, by a GGUF file's `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama (SmolLM2): no attention biases, interleaved rotary pairs.
    Llama,
    /// Qwen2: q/k/v biases, rotary pairs from the two halves of a head (NeoX style).
    Qwen2,
}

impl Architecture {
    /// The architecture named `name` (`llama`, `qwen2`), if supported.
    pub fn from_name(name: &str) -> Option<Architecture> {
        match name {
            "llama" => Some(Architecture::Llama),
            "qwen2" => Some(Architecture::Qwen2),
            _ => None,
        }
    }

    /// The prefix of its metadata keys.
    fn key(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate: QMatMul,
    down: QMatMul,
    up: QMatMul,
}

/// Whether candle multiplies `dtype` only with its scalar fallback (no AVX kernel in candle 0.11: Q4_1,
/// Q5_0, Q5_1), several times slower than Q8_0. Q8_0 is finer than those grids, so a requantised matrix gives
/// the same answers within rounding, at ~1.5× its memory.
pub fn needs_requantising(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// `weight`, requantised to Q8_0 when [`needs_requantising`] says so.
pub fn fast_format(weight: QTensor) -> Result<QTensor> {
    if needs_requantising(weight.dtype()) {
        QTensor::quantize(&weight.dequantize(&weight.device())?, GgmlDType::Q8_0)
    } else {
        Ok(weight)
    }
}

fn matmul(weight: QTensor) -> Result<QMatMul> {
    QMatMul::from_qtensor(fast_format(weight)?)
}

impl Mlp {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(xs)?)?;
        self.down.forward(&(gate * self.up.forward(xs)?)?)
    }
}

/// The q, k and v biases of a layer (Qwen2 has them, Llama not).
#[derive(Debug, Clone)]
struct Biases {
    q: Tensor,
    k: Tensor,
    v: Tensor,
}

#[derive(Debug, Clone)]
struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    biases: Option<Biases>,
    wo: QMatMul,
    attention_norm: RmsNorm,
    mlp: Mlp,
    ffn_norm: RmsNorm,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    rope_neox: bool,
    cos: Tensor,
    sin: Tensor,
    /// Keys and values of the positions seen so far, `[batch, kv heads, positions, head dim]`.
    kv_cache: Option<(Tensor, Tensor)>,
}

impl Layer {
    fn rotate(&self, x: &Tensor, index_pos: usize) -> Result<Tensor> {
        let (_, _, seq_len, _) = x.dims4()?;
        let cos = self.cos.narrow(0, index_pos, seq_len)?;
        let sin = self.sin.narrow(0, index_pos, seq_len)?;
        if self.rope_neox {
            candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin)
        }
    }

    fn attention(&mut self, x: &Tensor, mask: Option<&Tensor>, index_pos: usize) -> Result<Tensor> {
        let (batch, seq_len, n_embd) = x.dims3()?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            t.reshape((batch, seq_len, n, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let (q, k, v) = (self.wq.forward(x)?, self.wk.forward(x)?, self.wv.forward(x)?);
        let (q, k, v) = match &self.biases {
            Some(b) => (q.broadcast_add(&b.q)?, k.broadcast_add(&b.k)?, v.broadcast_add(&b.v)?),
            None => (q, k, v),
        };
        let q = self.rotate(&heads(q, self.n_head)?, index_pos)?;
        let k = self.rotate(&heads(k, self.n_kv_head)?, index_pos)?;
        let v = heads(v, self.n_kv_head)?;
        let (k, v) = match &self.kv_cache {
            Some((k_cache, v_cache)) if index_pos > 0 => {
                (Tensor::cat(&[k_cache, &k], 2)?, Tensor::cat(&[v_cache, &v], 2)?)
            }
            _ => (k, v),
        };
        self.kv_cache = Some((k.clone(), v.clone()));
        let k = repeat_kv(k, self.n_head / self.n_kv_head)?;
        let v = repeat_kv(v, self.n_head / self.n_kv_head)?;
        let scores = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?;
        let scores = match mask {
            Some(mask) => {
                let mask = mask.broadcast_as(scores.shape())?;
                let neg_inf = Tensor::new(f32::NEG_INFINITY, scores.device())?.broadcast_as(scores.shape())?;
                mask.where_cond(&neg_inf, &scores)?
            }
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = weights.matmul(&v.contiguous()?)?;
        let y = y.transpose(1, 2)?.reshape((batch, seq_len, n_embd))?;
        self.wo.forward(&y)
    }

    /// Positions in the attention cache.
    fn cached(&self) -> usize {
        self.kv_cache.as_ref().and_then(|(k, _)| k.dims4().ok()).map_or(0, |(_, _, positions, _)| positions)
    }
}

/// A decoder with its attention cache. Cloning shares the weights and the cache's tensors.
#[derive(Debug, Clone)]
pub struct ModelWeights {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    /// Positions the rotary tables cover.
    positions: usize,
}

impl ModelWeights {
    /// Loads `architecture` from a GGUF file (`<architecture>.*` metadata, llama.cpp tensor names).
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(
        architecture: Architecture,
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<ModelWeights> {
        let meta = |key: &str| {
            let key = format!("{}.{key}", architecture.key());
            match content.metadata.get(&key) {
                Some(v) => Ok(v),
                None => candle_core::bail!("GGUF lacks {key}"),
            }
        };
        let n_head = meta("attention.head_count")?.to_u32()? as usize;
        let n_kv_head = meta("attention.head_count_kv")?.to_u32()? as usize;
        let n_embd = meta("embedding_length")?.to_u32()? as usize;
        let context = meta("context_length").and_then(|m| m.to_u32()).map_or(MAX_POSITIONS, |c| c as usize);
        let n_layer = meta("block_count")?.to_u32()? as usize;
        let eps = meta("attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let rope_base = meta("rope.freq_base").and_then(|m| m.to_f32()).unwrap_or(10_000.0);
        let head_dim = n_embd / n_head;
        let rope_dim = meta("rope.dimension_count").and_then(|m| m.to_u32()).map_or(head_dim, |d| d as usize);
        let positions = context.min(MAX_POSITIONS);
        let (cos, sin) = rope_tables(rope_dim, rope_base, positions, device)?;

        let embeddings = content.tensor(reader, "token_embd.weight", device)?.dequantize(device)?;
        let norm = RmsNorm::from_qtensor(content.tensor(reader, "output_norm.weight", device)?, eps)?;
        let output = match content.tensor(reader, "output.weight", device) {
            Ok(w) => matmul(w)?,
            Err(_) => matmul(content.tensor(reader, "token_embd.weight", device)?)?,
        };
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let mut tensor = |name: &str| content.tensor(reader, &format!("blk.{i}.{name}"), device);
            let (wq, wk, wv, wo) = (
                matmul(tensor("attn_q.weight")?)?,
                matmul(tensor("attn_k.weight")?)?,
                matmul(tensor("attn_v.weight")?)?,
                matmul(tensor("attn_output.weight")?)?,
            );
            let mlp = Mlp {
                gate: matmul(tensor("ffn_gate.weight")?)?,
                down: matmul(tensor("ffn_down.weight")?)?,
                up: matmul(tensor("ffn_up.weight")?)?,
            };
            let biases = match architecture {
                Architecture::Qwen2 => Some(Biases {
                    q: tensor("attn_q.bias")?.dequantize(device)?,
                    k: tensor("attn_k.bias")?.dequantize(device)?,
                    v: tensor("attn_v.bias")?.dequantize(device)?,
                }),
                Architecture::Llama => None,
            };
            layers.push(Layer {
                wq,
                wk,
                wv,
                biases,
                wo,
                attention_norm: RmsNorm::from_qtensor(tensor("attn_norm.weight")?, eps)?,
                mlp,
                ffn_norm: RmsNorm::from_qtensor(tensor("ffn_norm.weight")?, eps)?,
                n_head,
                n_kv_head,
                head_dim,
                rope_neox: architecture == Architecture::Qwen2,
                cos: cos.clone(),
                sin: sin.clone(),
                kv_cache: None,
            });
        }
        Ok(ModelWeights { embeddings: Embedding::new(embeddings, n_embd), layers, norm, output, positions })
    }

    /// Runs `x` (`[1, tokens]`, at positions `index_pos..`) and returns the logits of its last position. The
    /// cache must hold exactly `index_pos` positions (0: it is replaced).
    pub fn forward(&mut self, x: &Tensor, index_pos: usize) -> Result<Tensor> {
        let (_, seq_len) = x.dims2()?;
        if index_pos + seq_len > self.positions {
            candle_core::bail!(
                "a sequence of {} tokens exceeds the {} positions supported",
                index_pos + seq_len,
                self.positions
            );
        }
        if index_pos > 0 && self.cached_positions() != index_pos {
            candle_core::bail!(
                "input at position {index_pos} follows a cache of {} positions",
                self.cached_positions()
            );
        }
        // A prompt chunk attends causally within itself; a single new token sees everything before it.
        let mask = if seq_len == 1 { None } else { Some(build_causal_mask(seq_len, index_pos, x.device())?) };
        let mut hidden = self.embeddings.forward(x)?;
        for layer in self.layers.iter_mut() {
            let attn = layer.attention(&layer.attention_norm.forward(&hidden)?, mask.as_ref(), index_pos)?;
            let hidden_attn = (attn + &hidden)?;
            let mlp = layer.mlp.forward(&layer.ffn_norm.forward(&hidden_attn)?)?;
            hidden = (mlp + hidden_attn)?;
        }
        let last = self.norm.forward(&hidden)?.i((.., seq_len - 1, ..))?;
        self.output.forward(&last)
    }

    /// Positions in the attention cache: the tokens run so far.
    pub fn cached_positions(&self) -> usize {
        self.layers.first().map_or(0, Layer::cached)
    }

    /// Keeps the first `positions` positions of the attention cache and forgets the rest, so that the next
    /// input continues from position `positions` (a conversation whose last turn changed).
    pub fn truncate_cache(&mut self, positions: usize) -> Result<()> {
        if positions >= self.cached_positions() {
            return Ok(());
        }
        for layer in self.layers.iter_mut() {
            layer.kv_cache = match (positions, layer.kv_cache.take()) {
                (0, _) | (_, None) => None,
                // A copy, so the cut tail's memory is freed with the original.
                (n, Some((k, v))) => Some((k.narrow(2, 0, n)?.contiguous()?, v.narrow(2, 0, n)?.contiguous()?)),
            };
        }
        Ok(())
    }

    /// Bytes the attention cache holds.
    pub fn cache_bytes(&self) -> usize {
        let bytes = |t: &Tensor| t.elem_count() * t.dtype().size_in_bytes();
        self.layers.iter().filter_map(|l| l.kv_cache.as_ref()).map(|(k, v)| bytes(k) + bytes(v)).sum()
    }
}

/// Rotary cos/sin tables, `[positions, dim / 2]`.
fn rope_tables(dim: usize, base: f32, positions: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / dim as f32)).collect();
    let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
    let angles = Tensor::arange(0, positions as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((positions, 1))?
        .matmul(&inv_freq.reshape((1, inv_freq.elem_count()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}
