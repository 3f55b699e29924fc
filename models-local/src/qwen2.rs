//! Qwen2 (and Qwen2.5) decoder on GGUF weights, quantized: the forward pass of candle-transformers 0.11's
//! `quantized_qwen2` (MIT OR Apache-2.0), kept here because that type cannot be cloned.
//!
//! The chat engine ([`crate::smollm`]) clones a model per reply: the weights are shared (`Arc`ed quantized
//! tensors), while each clone carries its own attention cache, so an agent's prefilled system prompt can be
//! the starting state of every reply. Same architecture as upstream: grouped-query attention with q/k/v
//! biases, RoPE, RMSNorm, SwiGLU; the lm head falls back to the tied embedding matrix.
//!
//! One difference: matrices in formats that candle multiplies without SIMD are requantised to Q8_0 at load
//! ([`needs_requantising`]). In the Qwen2.5-0.5B file most matrices are Q5_0: its 896 columns are no multiple
//! of the 256-wide k-quant block, so llama.cpp's Q4_K_M falls back to Q5_0 for them.

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::Embedding;
use candle_transformers::quantized_nn::RmsNorm;
use candle_transformers::utils::{build_causal_mask, repeat_kv};

/// Longest sequence the rotary tables cover. A voice agent's prompt is cut to well under this (the engine's
/// prompt budget), so tables for the model's full 32k context would only cost load time and memory.
const MAX_POSITIONS: usize = 8192;

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

#[derive(Debug, Clone)]
struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    bq: Tensor,
    bk: Tensor,
    bv: Tensor,
    wo: QMatMul,
    attention_norm: RmsNorm,
    mlp: Mlp,
    ffn_norm: RmsNorm,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
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
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }

    fn attention(&mut self, x: &Tensor, mask: Option<&Tensor>, index_pos: usize) -> Result<Tensor> {
        let (batch, seq_len, n_embd) = x.dims3()?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            t.reshape((batch, seq_len, n, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let q = heads(self.wq.forward(x)?.broadcast_add(&self.bq)?, self.n_head)?;
        let k = heads(self.wk.forward(x)?.broadcast_add(&self.bk)?, self.n_kv_head)?;
        let v = heads(self.wv.forward(x)?.broadcast_add(&self.bv)?, self.n_kv_head)?;
        let q = self.rotate(&q, index_pos)?;
        let k = self.rotate(&k, index_pos)?;
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
}

/// A Qwen2-architecture model with its attention cache. Cloning shares the weights and copies the cache.
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
    /// Loads the `qwen2` architecture of a GGUF file (`qwen2.*` metadata, llama.cpp tensor names).
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<ModelWeights> {
        let meta = |key: &str| match content.metadata.get(key) {
            Some(v) => Ok(v),
            None => candle_core::bail!("GGUF lacks {key}"),
        };
        let n_head = meta("qwen2.attention.head_count")?.to_u32()? as usize;
        let n_kv_head = meta("qwen2.attention.head_count_kv")?.to_u32()? as usize;
        let n_embd = meta("qwen2.embedding_length")?.to_u32()? as usize;
        let context = meta("qwen2.context_length")?.to_u32()? as usize;
        let n_layer = meta("qwen2.block_count")?.to_u32()? as usize;
        let eps = meta("qwen2.attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let rope_base = meta("qwen2.rope.freq_base").and_then(|m| m.to_f32()).unwrap_or(10_000.0);
        let head_dim = n_embd / n_head;
        let positions = context.min(MAX_POSITIONS);
        let (cos, sin) = rope_tables(head_dim, rope_base, positions, device)?;

        let embeddings = content.tensor(reader, "token_embd.weight", device)?.dequantize(device)?;
        let norm = RmsNorm::from_qtensor(content.tensor(reader, "output_norm.weight", device)?, eps)?;
        let output = match content.tensor(reader, "output.weight", device) {
            Ok(w) => matmul(w)?,
            Err(_) => matmul(content.tensor(reader, "token_embd.weight", device)?)?,
        };
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let mut tensor = |name: &str| content.tensor(reader, &format!("blk.{i}.{name}"), device);
            let mut weight = |name: &str| matmul(tensor(name)?);
            let (wq, wk, wv, wo) = (
                weight("attn_q.weight")?,
                weight("attn_k.weight")?,
                weight("attn_v.weight")?,
                weight("attn_output.weight")?,
            );
            let mlp = Mlp {
                gate: weight("ffn_gate.weight")?,
                down: weight("ffn_down.weight")?,
                up: weight("ffn_up.weight")?,
            };
            let mut tensor = |name: &str| content.tensor(reader, &format!("blk.{i}.{name}"), device);
            layers.push(Layer {
                wq,
                wk,
                wv,
                bq: tensor("attn_q.bias")?.dequantize(device)?,
                bk: tensor("attn_k.bias")?.dequantize(device)?,
                bv: tensor("attn_v.bias")?.dequantize(device)?,
                wo,
                attention_norm: RmsNorm::from_qtensor(tensor("attn_norm.weight")?, eps)?,
                mlp,
                ffn_norm: RmsNorm::from_qtensor(tensor("ffn_norm.weight")?, eps)?,
                n_head,
                n_kv_head,
                head_dim,
                cos: cos.clone(),
                sin: sin.clone(),
                kv_cache: None,
            });
        }
        Ok(ModelWeights { embeddings: Embedding::new(embeddings, n_embd), layers, norm, output, positions })
    }

    /// Runs `x` (`[1, tokens]`, at positions `index_pos..`) and returns the logits of its last position.
    pub fn forward(&mut self, x: &Tensor, index_pos: usize) -> Result<Tensor> {
        let (_, seq_len) = x.dims2()?;
        if index_pos + seq_len > self.positions {
            candle_core::bail!(
                "a sequence of {} tokens exceeds the {} positions supported",
                index_pos + seq_len,
                self.positions
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
}

/// Rotary cos/sin tables, `[positions, head_dim / 2]`.
fn rope_tables(head_dim: usize, base: f32, positions: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
    let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
    let angles = Tensor::arange(0, positions as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((positions, 1))?
        .matmul(&inv_freq.reshape((1, inv_freq.elem_count()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}
