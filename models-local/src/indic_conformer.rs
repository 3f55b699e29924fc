//! AI4Bharat's IndicConformer (`indic-conformer-600m-multilingual`: 22 Indian languages, hybrid CTC + RNNT) on
//! ONNX Runtime, loaded from an operator's directory: its weights are in no registry here.
//!
//! The directory is the Hugging Face repository (or its `assets/` folder): `encoder.onnx` (with its external
//! data files), `ctc_decoder.onnx`, for RNNT `rnnt_decoder.onnx`, `joint_enc.onnx`, `joint_pred.onnx`,
//! `joint_pre_net.onnx` and one `joint_post_net_<lang>.onnx` per language, then `vocab.json` (language → its
//! 256 subword strings) and `language_masks.json` (language → which of the shared output ids are its own).
//! The repository's feature extractor is TorchScript (`preprocessor.ts`), which cannot run here: NeMo's
//! log-mel features are computed in Rust instead ([`NemoMel`]), unless a `preprocessor.onnx` export is present.
//!
//! Decoding follows the repository's `model_onnx.py`:
//! - CTC: the shared output is masked to the language's ids, the best id per frame taken, repeats collapsed,
//!   the blank (local id 256) dropped;
//! - RNNT, greedy: the prediction network starts from the shared blank (the last shared id) and is fed the
//!   language head's local ids; at most `RNNT_MAX_SYMBOLS` symbols per encoder frame.
//!
//! Sessions are found by position, not by name: the RNNT decoder's state inputs carry export-generated names.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;
use ort::tensor::TensorElementType;
use ort::value::{DynValue, Tensor, ValueType};
use realfft::RealFftPlanner;

use crate::whisper::Transcribe;
use crate::Error;

/// Which of IndicConformer's two decoders to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    /// One pass over the encoder output (faster).
    #[default]
    Ctc,
    /// The transducer (more accurate, a prediction-network step per symbol).
    Rnnt,
}

/// Settings from the repository's `config.json` (`IndicASRConfig`), with its defaults.
#[derive(Debug, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(rename = "BLANK_ID")]
    blank_id: usize,
    #[serde(rename = "RNNT_MAX_SYMBOLS")]
    rnnt_max_symbols: usize,
    #[serde(rename = "PRED_RNN_LAYERS")]
    pred_rnn_layers: usize,
    #[serde(rename = "PRED_RNN_HIDDEN_DIM")]
    pred_rnn_hidden_dim: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { blank_id: 256, rnnt_max_symbols: 10, pred_rnn_layers: 2, pred_rnn_hidden_dim: 640 }
    }
}

struct Sessions {
    preprocessor: Option<Session>,
    encoder: Session,
    ctc: Option<Session>,
    rnnt: Option<Transducer>,
}

struct Transducer {
    decoder: Session,
    joint_enc: Session,
    joint_pred: Session,
    joint_pre_net: Session,
    post_nets: HashMap<String, Session>,
}

/// A loaded IndicConformer.
pub struct IndicConformer {
    sessions: Mutex<Sessions>,
    vocab: HashMap<String, Vec<String>>,
    /// Per language, the shared output ids that are its own, in local-id order.
    masks: HashMap<String, Vec<usize>>,
    settings: Settings,
    decoding: Decoding,
    mel: NemoMel,
}

impl IndicConformer {
    /// Loads the model in `dir` (or `dir/assets`), with ONNX Runtime from `runtime_library`.
    pub fn load(dir: &Path, runtime_library: &Path, decoding: Decoding) -> Result<IndicConformer, Error> {
        let assets = if dir.join("assets/encoder.onnx").is_file() { dir.join("assets") } else { dir.to_path_buf() };
        crate::onnx::onnx_runtime(runtime_library)?;
        let settings: Settings = match std::fs::read(dir.join("config.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Format(format!("config.json: {e}")))?,
            Err(_) => Settings::default(),
        };
        let json = |name: &str| -> Result<serde_json::Value, Error> {
            let path = assets.join(name);
            let bytes = std::fs::read(&path).map_err(|e| Error::Missing(format!("{}: {e}", path.display())))?;
            serde_json::from_slice(&bytes).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
        };
        let vocab: HashMap<String, Vec<String>> =
            serde_json::from_value(json("vocab.json")?).map_err(|e| Error::Format(format!("vocab.json: {e}")))?;
        let raw_masks: HashMap<String, Vec<bool>> = serde_json::from_value(json("language_masks.json")?)
            .map_err(|e| Error::Format(format!("language_masks.json: {e}")))?;
        let masks: HashMap<String, Vec<usize>> = raw_masks
            .into_iter()
            .map(|(lang, mask)| (lang, mask.iter().enumerate().filter(|(_, keep)| **keep).map(|(i, _)| i).collect()))
            .collect();
        for (lang, ids) in &masks {
            let words = vocab.get(lang).map_or(0, Vec::len);
            if ids.len() != words + 1 && ids.len() != words {
                return Err(Error::Format(format!(
                    "language_masks.json keeps {} ids for {lang}, but vocab.json has {words} tokens",
                    ids.len()
                )));
            }
        }
        let session = |name: &str| session(&assets.join(name));
        let optional = |name: &str| -> Result<Option<Session>, Error> {
            if assets.join(name).is_file() {
                session(name).map(Some)
            } else {
                Ok(None)
            }
        };
        let rnnt = match decoding {
            Decoding::Ctc => None,
            Decoding::Rnnt => {
                let mut post_nets = HashMap::new();
                for lang in masks.keys() {
                    if let Some(net) = optional(&format!("joint_post_net_{lang}.onnx"))? {
                        post_nets.insert(lang.clone(), net);
                    }
                }
                Some(Transducer {
                    decoder: session("rnnt_decoder.onnx")?,
                    joint_enc: session("joint_enc.onnx")?,
                    joint_pred: session("joint_pred.onnx")?,
                    joint_pre_net: session("joint_pre_net.onnx")?,
                    post_nets,
                })
            }
        };
        let sessions = Sessions {
            preprocessor: optional("preprocessor.onnx")?,
            encoder: session("encoder.onnx")?,
            ctc: match decoding {
                Decoding::Ctc => Some(session("ctc_decoder.onnx")?),
                Decoding::Rnnt => None,
            },
            rnnt,
        };
        Ok(IndicConformer { sessions: Mutex::new(sessions), vocab, masks, settings, decoding, mel: NemoMel::new() })
    }

    /// The languages this model transcribes (with the chosen decoder).
    pub fn languages(&self) -> Vec<String> {
        let sessions = self.sessions.lock().ok();
        // With RNNT, only the languages whose joint head is present.
        let heads = sessions.as_ref().and_then(|s| s.rnnt.as_ref()).map(|rnnt| &rnnt.post_nets);
        let mut languages: Vec<String> =
            self.masks.keys().filter(|lang| heads.is_none_or(|heads| heads.contains_key(*lang))).cloned().collect();
        languages.sort();
        languages
    }

    fn language<'a>(&'a self, language: &str) -> Result<(&'a str, &'a [usize], &'a [String]), Error> {
        let base = language.split(['-', '_']).next().unwrap_or(language).to_ascii_lowercase();
        let (lang, ids) = self
            .masks
            .get_key_value(&base)
            .ok_or_else(|| Error::Unsupported(format!("IndicConformer has no language {language:?}")))?;
        let words = self.vocab.get(lang).map(Vec::as_slice).unwrap_or_default();
        Ok((lang.as_str(), ids.as_slice(), words))
    }

    fn transcribe_with(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
        let (lang, ids, words) = self.language(language)?;
        if pcm.len() < 1600 {
            return Ok(String::new()); // under 0.1 s: nothing to hear
        }
        let mut sessions = self.sessions.lock().map_err(|_| Error::Unavailable("IndicConformer poisoned".into()))?;
        let sessions = &mut *sessions;
        let (features, frames) = match sessions.preprocessor.as_mut() {
            Some(pre) => {
                let signal = Tensor::from_array(([1usize, pcm.len()], pcm.to_vec())).map_err(onnx)?;
                let length = int_tensor(pre, 1, vec![1], vec![pcm.len() as i64])?;
                let out = pre.run(ort::inputs![signal, length]).map_err(onnx)?;
                let (shape, data) = out[0].try_extract_tensor::<f32>().map_err(onnx)?;
                (data.to_vec(), shape.get(2).copied().unwrap_or(0) as usize)
            }
            None => self.mel.compute(pcm),
        };
        let bins = features.len() / frames.max(1);
        let signal = Tensor::from_array(([1usize, bins, frames], features)).map_err(onnx)?;
        let length = int_tensor(&sessions.encoder, 1, vec![1], vec![frames as i64])?;
        let encoded = sessions.encoder.run(ort::inputs![signal, length]).map_err(onnx)?;
        let (shape, data) = encoded[0].try_extract_tensor::<f32>().map_err(onnx)?;
        let (dim, steps) = (shape[1] as usize, shape[2] as usize);
        let encoder_out = data.to_vec();
        drop(encoded);
        let local_ids = match self.decoding {
            Decoding::Ctc => {
                let ctc = sessions.ctc.as_mut().ok_or_else(|| Error::Unavailable("no CTC decoder loaded".into()))?;
                ctc_ids(ctc, encoder_out, dim, steps, ids, self.settings.blank_id)?
            }
            Decoding::Rnnt => {
                let rnnt = sessions.rnnt.as_mut().ok_or_else(|| Error::Unavailable("no RNNT decoder loaded".into()))?;
                // The prediction network starts from the shared blank: the last of the shared ids.
                rnnt_ids(rnnt, lang, encoder_out, dim, steps, &self.settings, shared_blank(&self.masks))?
            }
        };
        Ok(detokenize(&local_ids, words))
    }
}

impl Transcribe for IndicConformer {
    fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
        self.transcribe_with(pcm, language)
    }

    fn is_multilingual(&self) -> bool {
        true
    }
}

/// The shared output's blank, which every language's mask keeps last (5632 of 5633 in the released model).
fn shared_blank(masks: &HashMap<String, Vec<usize>>) -> i64 {
    masks.values().filter_map(|ids| ids.last()).max().copied().unwrap_or(0) as i64
}

/// CTC: per frame the best of the language's ids, repeats collapsed, blanks dropped.
fn ctc_ids(
    ctc: &mut Session,
    encoder_out: Vec<f32>,
    dim: usize,
    steps: usize,
    ids: &[usize],
    blank: usize,
) -> Result<Vec<usize>, Error> {
    let input = Tensor::from_array(([1usize, dim, steps], encoder_out)).map_err(onnx)?;
    let out = ctc.run(ort::inputs![input]).map_err(onnx)?;
    let (shape, logprobs) = out[0].try_extract_tensor::<f32>().map_err(onnx)?;
    let vocabulary = shape[2] as usize;
    let mut best = Vec::with_capacity(shape[1] as usize);
    for frame in logprobs.chunks_exact(vocabulary) {
        // The argmax of the masked log-softmax is the argmax of the masked scores.
        let local = ids
            .iter()
            .enumerate()
            .filter_map(|(local, &id)| frame.get(id).map(|score| (local, *score)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(blank, |(local, _)| local);
        best.push(local);
    }
    best.dedup();
    Ok(best.into_iter().filter(|&id| id != blank).collect())
}

/// Greedy RNNT over the encoder frames (see the module documentation).
fn rnnt_ids(
    rnnt: &mut Transducer,
    lang: &str,
    encoder_out: Vec<f32>,
    dim: usize,
    steps: usize,
    settings: &Settings,
    sos: i64,
) -> Result<Vec<usize>, Error> {
    let post_net = rnnt
        .post_nets
        .get_mut(lang)
        .ok_or_else(|| Error::Unsupported(format!("IndicConformer has no RNNT head for {lang:?}")))?;
    // (1, D, T) → (1, T, D) for the joint's encoder projection.
    let mut by_frame = vec![0f32; dim * steps];
    for d in 0..dim {
        for t in 0..steps {
            by_frame[t * dim + d] = encoder_out[d * steps + t];
        }
    }
    let input = Tensor::from_array(([1usize, steps, dim], by_frame)).map_err(onnx)?;
    let projected = rnnt.joint_enc.run(ort::inputs![input]).map_err(onnx)?;
    let (shape, frames) = projected[0].try_extract_tensor::<f32>().map_err(onnx)?;
    let joint = shape[2] as usize;
    let frames = frames.to_vec();
    drop(projected);
    let state_len = settings.pred_rnn_layers * settings.pred_rnn_hidden_dim;
    let state_shape = vec![settings.pred_rnn_layers as i64, 1, settings.pred_rnn_hidden_dim as i64];
    let (mut hidden, mut cell) = (vec![0f32; state_len], vec![0f32; state_len]);
    let mut last = sos;
    let mut hypothesis = Vec::new();
    for frame in frames.chunks_exact(joint) {
        for _ in 0..settings.rnnt_max_symbols.max(1) {
            let targets = int_tensor(&rnnt.decoder, 0, vec![1, 1], vec![last])?;
            let target_length = int_tensor(&rnnt.decoder, 1, vec![1], vec![1])?;
            let h = Tensor::from_array((state_shape.clone(), hidden.clone())).map_err(onnx)?;
            let c = Tensor::from_array((state_shape.clone(), cell.clone())).map_err(onnx)?;
            let decoded = rnnt.decoder.run(ort::inputs![targets, target_length, h, c]).map_err(onnx)?;
            let (g_shape, g) = decoded[0].try_extract_tensor::<f32>().map_err(onnx)?;
            // (1, H, 1) → (1, 1, H)
            let g = Tensor::from_array(([1usize, 1, g_shape[1] as usize], g.to_vec())).map_err(onnx)?;
            let next_hidden = decoded[2].try_extract_tensor::<f32>().map_err(onnx)?.1.to_vec();
            let next_cell = decoded[3].try_extract_tensor::<f32>().map_err(onnx)?.1.to_vec();
            drop(decoded);
            let predicted = rnnt.joint_pred.run(ort::inputs![g]).map_err(onnx)?;
            let (_, g) = predicted[0].try_extract_tensor::<f32>().map_err(onnx)?;
            let sum: Vec<f32> = frame.iter().zip(g).map(|(f, g)| f + g).collect();
            drop(predicted);
            let sum = Tensor::from_array(([1usize, 1, joint], sum)).map_err(onnx)?;
            let pre = rnnt.joint_pre_net.run(ort::inputs![sum]).map_err(onnx)?;
            let (pre_shape, pre_data) = pre[0].try_extract_tensor::<f32>().map_err(onnx)?;
            let pre_input = Tensor::from_array((pre_shape.to_vec(), pre_data.to_vec())).map_err(onnx)?;
            drop(pre);
            let logits = post_net.run(ort::inputs![pre_input]).map_err(onnx)?;
            let (_, logits) = logits[0].try_extract_tensor::<f32>().map_err(onnx)?;
            let token =
                logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(settings.blank_id, |(i, _)| i);
            if token == settings.blank_id {
                break;
            }
            hypothesis.push(token);
            last = token as i64;
            (hidden, cell) = (next_hidden, next_cell);
        }
    }
    Ok(hypothesis)
}

/// Joins subword strings; `▁` starts a word.
fn detokenize(ids: &[usize], words: &[String]) -> String {
    let text: String = ids.iter().filter_map(|&id| words.get(id)).map(String::as_str).collect();
    text.replace('▁', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn onnx(e: ort::Error) -> Error {
    Error::Unavailable(format!("IndicConformer inference: {e}"))
}

fn session(path: &Path) -> Result<Session, Error> {
    if !path.is_file() {
        return Err(Error::Missing(format!("{} is missing", path.display())));
    }
    crate::onnx::session(path).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
}

/// An integer tensor of the element type the session's input `index` declares (exports differ: int32 or
/// int64 lengths and targets).
fn int_tensor(session: &Session, index: usize, shape: Vec<i64>, values: Vec<i64>) -> Result<DynValue, Error> {
    let int32 = matches!(
        session.inputs.get(index).map(|i| &i.input_type),
        Some(ValueType::Tensor { ty: TensorElementType::Int32, .. })
    );
    if int32 {
        let values: Vec<i32> = values.into_iter().map(|v| v as i32).collect();
        Ok(Tensor::from_array((shape, values)).map_err(onnx)?.into_dyn())
    } else {
        Ok(Tensor::from_array((shape, values)).map_err(onnx)?.into_dyn())
    }
}

/// NeMo's `AudioToMelSpectrogramPreprocessor` with IndicConformer's settings: 16 kHz, pre-emphasis 0.97,
/// 25 ms Hann window (symmetric) in a 512-point FFT, 10 ms hop, centred frames (zero-padded), power
/// spectrum, 80 Slaney mel bands, `ln(x + 2⁻²⁴)`, then each band normalised to zero mean and unit variance
/// over the utterance.
#[derive(Clone)]
pub struct NemoMel {
    filters: Vec<f32>,
    window: Vec<f32>,
}

const NEMO_FFT: usize = 512;
const NEMO_WINDOW: usize = 400;
const NEMO_HOP: usize = 160;
const NEMO_MELS: usize = 80;

impl Default for NemoMel {
    fn default() -> Self {
        NemoMel::new()
    }
}

impl NemoMel {
    /// The filter bank and window of IndicConformer's preprocessor (NeMo's defaults).
    pub fn new() -> NemoMel {
        let window = (0..NEMO_WINDOW)
            .map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / (NEMO_WINDOW - 1) as f64).cos()) as f32)
            .collect();
        NemoMel { filters: crate::mel::filters_for(NEMO_FFT, NEMO_MELS), window }
    }

    /// Features of 16 kHz `pcm`: `[80, frames]` row-major, and the frame count.
    pub fn compute(&self, pcm: &[f32]) -> (Vec<f32>, usize) {
        let mut emphasised = Vec::with_capacity(pcm.len());
        let mut previous = 0.0;
        for (i, &x) in pcm.iter().enumerate() {
            emphasised.push(if i == 0 { x } else { x - 0.97 * previous });
            previous = x;
        }
        let frames = 1 + pcm.len() / NEMO_HOP;
        let bins = NEMO_FFT / 2 + 1;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(NEMO_FFT);
        let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
        let offset = (NEMO_FFT - NEMO_WINDOW) / 2;
        let mut out = vec![0f32; NEMO_MELS * frames];
        let mut power = vec![0f32; bins];
        for frame in 0..frames {
            input.fill(0.0);
            // Centred: frame f covers samples f·hop − n_fft/2 … + n_fft/2, the window in its middle.
            let start = (frame * NEMO_HOP) as isize - (NEMO_FFT / 2) as isize + offset as isize;
            for (k, w) in self.window.iter().enumerate() {
                let at = start + k as isize;
                if at >= 0 && (at as usize) < emphasised.len() {
                    input[offset + k] = emphasised[at as usize] * w;
                }
            }
            if fft.process(&mut input, &mut spectrum).is_err() {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for m in 0..NEMO_MELS {
                let row = &self.filters[m * bins..(m + 1) * bins];
                let energy: f32 = row.iter().zip(&power).map(|(f, p)| f * p).sum();
                out[m * frames + frame] = (energy + 2f32.powi(-24)).ln();
            }
        }
        for band in out.chunks_exact_mut(frames) {
            let mean = band.iter().sum::<f32>() / frames as f32;
            let variance = band.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (frames.max(2) - 1) as f32;
            let scale = 1.0 / (variance.sqrt() + 1e-5);
            for x in band.iter_mut() {
                *x = (*x - mean) * scale;
            }
        }
        (out, frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_normalised_per_band() {
        let pcm: Vec<f32> = (0..16000).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let (features, frames) = NemoMel::new().compute(&pcm);
        assert_eq!(frames, 101);
        assert_eq!(features.len(), 80 * 101);
        for band in features.chunks_exact(frames) {
            let mean = band.iter().sum::<f32>() / frames as f32;
            assert!(mean.abs() < 1e-3, "mean {mean}");
        }
    }

    #[test]
    fn subwords_join_into_words() {
        let words: Vec<String> = ["▁नम", "स्ते", "▁दुनिया"].iter().map(|s| s.to_string()).collect();
        assert_eq!(detokenize(&[0, 1, 2], &words), "नमस्ते दुनिया");
        assert_eq!(detokenize(&[], &words), "");
    }
}
