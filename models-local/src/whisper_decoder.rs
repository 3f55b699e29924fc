//! Whisper's text decoder with a key/value cache for its self-attention.
//!
//! candle-transformers' decoder caches only the cross-attention keys and values, so every step runs the whole
//! token sequence through every layer again: a 25-token transcript costs ~400 token-passes instead of ~30,
//! as much work as the encoder on an 11 s clip. This decoder keeps each layer's self-attention keys and
//! values and feeds only the new token. The weights and the maths (pre-norm blocks, scaled q and k, tanh
//! GELU, tied output embedding) are the same as candle-transformers' `TextDecoder`, so the transcripts are
//! the same.

use candle_core::{Device, IndexOp, Result, Tensor};
use candle_nn::{embedding, layer_norm, linear, linear_no_bias, Embedding, LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::whisper::Config;

struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    n_head: usize,
    /// Whisper scales q and k each by head_dim^-1/4.
    scale: f64,
}

impl Attention {
    fn load(n_state: usize, n_head: usize, vb: VarBuilder) -> Result<Attention> {
        Ok(Attention {
            query: linear(n_state, n_state, vb.pp("q_proj"))?,
            key: linear_no_bias(n_state, n_state, vb.pp("k_proj"))?,
            value: linear(n_state, n_state, vb.pp("v_proj"))?,
            out: linear(n_state, n_state, vb.pp("out_proj"))?,
            n_head,
            scale: ((n_state / n_head) as f64).powf(-0.25),
        })
    }

    /// (1, n, d) → (1, heads, n, d / heads), times `scale`.
    fn heads(&self, x: &Tensor, scale: f64) -> Result<Tensor> {
        let (batch, n, d) = x.dims3()?;
        x.reshape((batch, n, self.n_head, d / self.n_head))?.transpose(1, 2)? * scale
    }

    /// Keys and values of `x` in head layout (keys scaled, as Whisper scales both q and k by d^-1/4).
    fn keys_values(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = self.heads(&self.key.forward(x)?, self.scale)?;
        let v = self.heads(&self.value.forward(x)?, 1.0)?.contiguous()?;
        Ok((k, v))
    }

    /// Attention of `x`'s queries over `k`/`v` (head layout), with an optional additive mask.
    fn attend(&self, x: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let q = self.heads(&self.query.forward(x)?, self.scale)?;
        let mut weights = q.matmul(&k.transpose(2, 3)?)?;
        if let Some(mask) = mask {
            weights = weights.broadcast_add(mask)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&weights)?;
        self.out.forward(&weights.matmul(v)?.transpose(1, 2)?.flatten_from(2)?)
    }
}

struct Block {
    self_attn: Attention,
    self_ln: LayerNorm,
    cross_attn: Attention,
    cross_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_ln: LayerNorm,
}

/// The decoder's weights; cheap to share between transcriptions (tensors are reference-counted).
#[derive(Clone)]
pub(crate) struct CachedDecoder {
    inner: std::sync::Arc<Weights>,
}

struct Weights {
    embed: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    device: Device,
}

/// One transcription's cache: cross-attention keys/values of the audio, self-attention keys/values of the
/// tokens so far.
pub(crate) struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    past: Vec<Option<(Tensor, Tensor)>>,
    position: usize,
}

impl CachedDecoder {
    /// Loads `model.decoder.*` (Hugging Face Whisper names).
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> Result<CachedDecoder> {
        let n_state = config.d_model;
        let n_head = config.decoder_attention_heads;
        let ln = |vb: VarBuilder| layer_norm(n_state, 1e-5, vb);
        let blocks = (0..config.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    self_attn: Attention::load(n_state, n_head, vb.pp("self_attn"))?,
                    self_ln: ln(vb.pp("self_attn_layer_norm"))?,
                    cross_attn: Attention::load(n_state, n_head, vb.pp("encoder_attn"))?,
                    cross_ln: ln(vb.pp("encoder_attn_layer_norm"))?,
                    fc1: linear(n_state, 4 * n_state, vb.pp("fc1"))?,
                    fc2: linear(4 * n_state, n_state, vb.pp("fc2"))?,
                    final_ln: ln(vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CachedDecoder {
            inner: std::sync::Arc::new(Weights {
                embed: embedding(config.vocab_size, n_state, vb.pp("embed_tokens"))?,
                positions: vb.get((config.max_target_positions, n_state), "embed_positions.weight")?,
                blocks,
                ln: ln(vb.pp("layer_norm"))?,
                device: vb.device().clone(),
            }),
        })
    }

    /// A cache for decoding over `features` (the encoder's output, (1, frames, d)).
    pub(crate) fn start(&self, features: &Tensor) -> Result<DecoderState> {
        let cross = self.inner.blocks.iter().map(|b| b.cross_attn.keys_values(features)).collect::<Result<Vec<_>>>()?;
        Ok(DecoderState { past: (0..cross.len()).map(|_| None).collect(), cross, position: 0 })
    }

    /// Feeds `tokens` (the prompt, then one token a step); returns the final hidden state of the last one, (d).
    pub(crate) fn step(&self, state: &mut DecoderState, tokens: &[u32]) -> Result<Tensor> {
        let w = &self.inner;
        let n = tokens.len();
        let input = Tensor::new(tokens, &w.device)?.unsqueeze(0)?;
        let mut x = w.embed.forward(&input)?.broadcast_add(&w.positions.narrow(0, state.position, n)?)?;
        // Within the new tokens, each sees itself and those before it (all earlier ones are in the cache).
        let start = state.position;
        let mask = if n > 1 {
            let total = start + n;
            let values: Vec<f32> = (0..n)
                .flat_map(|i| (0..total).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            Some(Tensor::from_vec(values, (n, total), &w.device)?)
        } else {
            None
        };
        for ((block, past), (cross_k, cross_v)) in w.blocks.iter().zip(state.past.iter_mut()).zip(&state.cross) {
            let normed = block.self_ln.forward(&x)?;
            let (k, v) = block.self_attn.keys_values(&normed)?;
            let (k, v) = match past.take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                None => (k, v),
            };
            x = (&x + block.self_attn.attend(&normed, &k, &v, mask.as_ref())?)?;
            *past = Some((k, v));
            x = (&x + block.cross_attn.attend(&block.cross_ln.forward(&x)?, cross_k, cross_v, None)?)?;
            let mlp = block.fc2.forward(&block.fc1.forward(&block.final_ln.forward(&x)?)?.gelu()?)?;
            x = (x + mlp)?;
        }
        state.position += n;
        w.ln.forward(&x)?.i((0, n - 1))
    }
}
