//! Silero VAD v6 (16 kHz) in plain Rust, from the safetensors weights PyPI `silero-vad` ships
//! (`data/silero_vad_16k.safetensors`); the forward pass follows the package's own `tinygrad_model.py`:
//! a 256-point STFT as a convolution (stride 128) over 64 samples of context + 512 new samples (right-padded
//! by reflection), magnitudes, four 1-D convolutions with ReLU, an LSTM cell (state carried between chunks),
//! and a 1×1 convolution to a sigmoid probability.
//!
//! About 0.6 M multiply-adds per 32 ms chunk, in preallocated buffers: no allocation per chunk, no runtime
//! beyond this file, the same on every machine. Chunks of near-digital silence skip the network. Engine frames are 20 ms; [`SileroVad::probability`] buffers
//! them and runs the network whenever 512 new samples are in, reporting the latest probability meanwhile.

use std::path::Path;

use voicera_models::SpeechProbability;

use crate::Error;

const CHUNK: usize = 512;
const CONTEXT: usize = 64;
const PAD: usize = 64;
const N_FFT: usize = 256;
const HOP: usize = 128;
const BINS: usize = N_FFT / 2 + 1; // 129
const FRAMES: usize = (CONTEXT + CHUNK + PAD - N_FFT) / HOP + 1; // 4
const HIDDEN: usize = 128;
/// Chunks whose peak stays below this (−50 dBFS) are silence without running the network. The LSTM state
/// stays as the last sound left it, so the first sound after a silence is judged with that memory: primed by
/// the caller's last words, which makes the barge-in stop fast. Measured against letting the state settle
/// over the first 3 s of silence (session 18, quiet release, `demo` agent): settling made the verdict the
/// same whatever sentence came before (the frozen state can read a new sound's first chunk as 0.59 speech)
/// but stopped the agent later — 1 call 145/140 ms vs 110/120 ms (SIP/stream p50), 10 calls p99 213/220 vs
/// 147/141 ms — so the state stays frozen.
const QUIET_PEAK: f32 = 0.003;

/// A 1-D convolution, weights stored `[out][k][in]` so that each tap is one contiguous dot product over the
/// input channels; activations are time-major (`[time][channel]`).
struct Conv {
    out: usize,
    inp: usize,
    k: usize,
    stride: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv {
    /// From PyTorch's `[out][in][k]` layout.
    fn new(out: usize, inp: usize, k: usize, stride: usize, torch: &[f32], bias: Vec<f32>) -> Conv {
        let mut weight = vec![0.0; out * k * inp];
        for o in 0..out {
            for i in 0..inp {
                for j in 0..k {
                    weight[(o * k + j) * inp + i] = torch[(o * inp + i) * k + j];
                }
            }
        }
        Conv { out, inp, k, stride, weight, bias }
    }

    /// `x` is `[len][inp]`; writes `[out_len][out]` into `y` (padding k/2), ReLU applied; returns `out_len`.
    fn forward(&self, x: &[f32], len: usize, y: &mut [f32]) -> usize {
        let pad = self.k / 2;
        let out_len = (len + 2 * pad - self.k) / self.stride + 1;
        for t in 0..out_len {
            for o in 0..self.out {
                let mut acc = self.bias[o];
                for j in 0..self.k {
                    let Some(pos) = (t * self.stride + j).checked_sub(pad).filter(|p| *p < len) else { continue };
                    acc +=
                        dot(&self.weight[(o * self.k + j) * self.inp..][..self.inp], &x[pos * self.inp..][..self.inp]);
                }
                y[t * self.out + o] = acc.max(0.0);
            }
        }
        out_len
    }
}

/// A dot product in eight independent lanes, so that it vectorises (a plain float sum cannot be reordered).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let split = a.len().min(b.len()) / 8 * 8;
    let mut lanes = [0.0f32; 8];
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a[split..].iter().zip(&b[split..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// The network's weights.
struct Weights {
    stft: Vec<f32>, // [258][256]
    convs: [Conv; 4],
    w_ih: Vec<f32>, // [512][128]
    w_hh: Vec<f32>, // [512][128]
    b: Vec<f32>,    // b_ih + b_hh
    final_w: Vec<f32>,
    final_b: f32,
}

/// Silero VAD with its LSTM state and sample buffer: one per call.
pub struct SileroVad {
    weights: std::sync::Arc<Weights>,
    /// Context (64) followed by up to 512 new samples, as floats in −1..1.
    input: Vec<f32>,
    padded: Vec<f32>,
    spectrum: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    gates: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    last: f32,
}

/// Loaded weights, shared by every call's [`SileroVad`].
#[derive(Clone)]
pub struct SileroModel {
    weights: std::sync::Arc<Weights>,
}

fn tensor(
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    name: &str,
    len: usize,
) -> Result<Vec<f32>, Error> {
    let t = tensors.get(name).ok_or_else(|| Error::Format(format!("silero: missing tensor {name}")))?;
    let v: Vec<f32> =
        t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| Error::Format(format!("silero: {name}: {e}")))?;
    if v.len() != len {
        return Err(Error::Format(format!("silero: {name} has {} values, expected {len}", v.len())));
    }
    Ok(v)
}

impl SileroModel {
    /// Loads `silero_vad_16k.safetensors`.
    pub fn load(path: &Path) -> Result<SileroModel, Error> {
        let tensors = candle_core::safetensors::load(path, &candle_core::Device::Cpu)
            .map_err(|e| Error::Format(format!("silero: {}: {e}", path.display())))?;
        let conv = |name: &str, out: usize, inp: usize, stride: usize| -> Result<Conv, Error> {
            let torch = tensor(&tensors, &format!("{name}.weight"), out * inp * 3)?;
            Ok(Conv::new(out, inp, 3, stride, &torch, tensor(&tensors, &format!("{name}.bias"), out)?))
        };
        let b_ih = tensor(&tensors, "lstm_cell.bias_ih", 4 * HIDDEN)?;
        let b_hh = tensor(&tensors, "lstm_cell.bias_hh", 4 * HIDDEN)?;
        let weights = Weights {
            stft: tensor(&tensors, "stft_conv.weight", 2 * BINS * N_FFT)?,
            convs: [
                conv("conv1", 128, BINS, 1)?,
                conv("conv2", 64, 128, 2)?,
                conv("conv3", 64, 64, 2)?,
                conv("conv4", 128, 64, 1)?,
            ],
            w_ih: tensor(&tensors, "lstm_cell.weight_ih", 4 * HIDDEN * HIDDEN)?,
            w_hh: tensor(&tensors, "lstm_cell.weight_hh", 4 * HIDDEN * HIDDEN)?,
            b: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
            final_w: tensor(&tensors, "final_conv.weight", HIDDEN)?,
            final_b: tensor(&tensors, "final_conv.bias", 1)?[0],
        };
        Ok(SileroModel { weights: std::sync::Arc::new(weights) })
    }

    /// A detector with fresh state, for one call.
    pub fn detector(&self) -> SileroVad {
        SileroVad {
            weights: self.weights.clone(),
            input: {
                let mut input = Vec::with_capacity(CONTEXT + CHUNK);
                input.resize(CONTEXT, 0.0);
                input
            },
            padded: vec![0.0; CONTEXT + CHUNK + PAD],
            spectrum: vec![0.0; BINS * FRAMES],
            a: vec![0.0; 128 * FRAMES],
            b: vec![0.0; 128 * FRAMES],
            gates: vec![0.0; 4 * HIDDEN],
            h: vec![0.0; HIDDEN],
            c: vec![0.0; HIDDEN],
            last: 0.0,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl SileroVad {
    /// Runs the network on the 64 + 512 samples in `input`; returns the speech probability.
    fn run_chunk(&mut self) -> f32 {
        let w = &*self.weights;
        // Reflection padding on the right: x[n + i] = x[n − 2 − i].
        let n = CONTEXT + CHUNK;
        self.padded[..n].copy_from_slice(&self.input[..n]);
        for i in 0..PAD {
            self.padded[n + i] = self.input[n - 2 - i];
        }
        // STFT by convolution: rows 0..129 real, 129..258 imaginary.
        for f in 0..FRAMES {
            let window = &self.padded[f * HOP..][..N_FFT];
            for bin in 0..BINS {
                let re = dot(&w.stft[bin * N_FFT..][..N_FFT], window);
                let im = dot(&w.stft[(bin + BINS) * N_FFT..][..N_FFT], window);
                self.spectrum[f * BINS + bin] = (re * re + im * im).sqrt();
            }
        }
        let len = w.convs[0].forward(&self.spectrum, FRAMES, &mut self.a);
        let len = w.convs[1].forward(&self.a, len, &mut self.b);
        let len = w.convs[2].forward(&self.b, len, &mut self.a);
        let len = w.convs[3].forward(&self.a, len, &mut self.b);
        debug_assert_eq!(len, 1);
        // LSTM cell (PyTorch gate order: input, forget, cell, output).
        for g in 0..4 * HIDDEN {
            let wi = &w.w_ih[g * HIDDEN..][..HIDDEN];
            let wh = &w.w_hh[g * HIDDEN..][..HIDDEN];
            self.gates[g] = dot(wi, &self.b[..HIDDEN]) + dot(wh, &self.h) + w.b[g];
        }
        let mut out = w.final_b;
        for j in 0..HIDDEN {
            let i = sigmoid(self.gates[j]);
            let f = sigmoid(self.gates[HIDDEN + j]);
            let g = self.gates[2 * HIDDEN + j].tanh();
            let o = sigmoid(self.gates[3 * HIDDEN + j]);
            self.c[j] = f * self.c[j] + i * g;
            self.h[j] = o * self.c[j].tanh();
            out += w.final_w[j] * self.h[j].max(0.0);
        }
        sigmoid(out)
    }
}

impl SpeechProbability for SileroVad {
    fn probability(&mut self, frame: &[i16]) -> f32 {
        for &s in frame {
            self.input.push(f32::from(s) / 32768.0);
            if self.input.len() == CONTEXT + CHUNK {
                // A chunk below −50 dBFS (digital silence, DTX) is not speech: skip the network.
                let peak = self.input[CONTEXT..].iter().fold(0.0f32, |m, s| m.max(s.abs()));
                self.last = if peak < QUIET_PEAK { 0.0 } else { self.run_chunk() };
                // The last 64 samples are the next chunk's context.
                self.input.drain(..CHUNK);
            }
        }
        self.last
    }
}
