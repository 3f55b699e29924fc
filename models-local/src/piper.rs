//! Piper text-to-speech: a VITS voice (ONNX) run with ONNX Runtime, on espeak-ng phonemes.
//!
//! The voice's `voice.onnx.json` says which espeak-ng voice phonemises for it, the symbol → id table and the
//! sampling scales. Text is split into clauses at punctuation; each clause goes through `espeak-ng --ipa`
//! (one line of IPA per clause it sees), and the clause's punctuation is put back after it, as Piper's own
//! phonemiser does, since the voice was trained with it (it shapes pauses and intonation). The ids are
//! interspersed with the pad symbol between `^` and `$`, as Piper trained them.
//!
//! ONNX Runtime is loaded at run time from `libonnxruntime.so`, which the model cache takes from the PyPI
//! `onnxruntime` wheel next to the voice (ort's `load-dynamic`: no download at build time).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;
use voicera_models::{TextToSpeech, TtsStream};

use crate::clause_audio::ClauseAudio;
use crate::pool::InferencePool;
use crate::Error;

/// Peak level of a synthesised clause (Piper normalises every clause to its peak; full scale leaves no room
/// for the resampler's overshoot on the call path).
const PEAK: f32 = 0.8 * 32767.0;

#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    inference: InferenceConfig,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Deserialize)]
struct InferenceConfig {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// A loaded Piper voice.
pub struct PiperVoice {
    /// ONNX Runtime sessions take `&mut self` to run; clauses of concurrent calls take turns.
    session: Mutex<Session>,
    ids: HashMap<char, Vec<i64>>,
    rate: u32,
    espeak_voice: String,
    scales: [f32; 3],
}

impl PiperVoice {
    /// Loads `voice.onnx`, `voice.onnx.json` and (once per process) `libonnxruntime.so` from `dir`.
    pub fn load(dir: &Path) -> Result<PiperVoice, Error> {
        let config: VoiceConfig = serde_json::from_slice(&std::fs::read(dir.join("voice.onnx.json"))?)
            .map_err(|e| Error::Format(format!("voice.onnx.json: {e}")))?;
        crate::onnx::onnx_runtime(&dir.join("libonnxruntime.so"))?;
        let onnx = |e: ort::Error| Error::Unavailable(format!("ONNX Runtime: {e}"));
        let session = crate::onnx::session(&dir.join("voice.onnx")).map_err(onnx)?;
        let mut ids = HashMap::new();
        for (symbol, id) in config.phoneme_id_map {
            let mut chars = symbol.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                ids.insert(c, id);
            }
        }
        for required in ['^', '$', '_'] {
            if !ids.contains_key(&required) {
                return Err(Error::Format(format!("voice.onnx.json has no id for {required:?}")));
            }
        }
        let i = &config.inference;
        Ok(PiperVoice {
            session: Mutex::new(session),
            ids,
            rate: config.audio.sample_rate,
            espeak_voice: config.espeak.voice,
            scales: [i.noise_scale, i.length_scale, i.noise_w],
        })
    }

    /// The voice's output rate (16 or 22.05 kHz).
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Speaks `text`: `sample_rate()` Hz mono samples.
    pub fn synthesize(&self, text: &str) -> Result<Vec<i16>, Error> {
        let phonemes = phonemize(text, &self.espeak_voice)?;
        let ids = self.phoneme_ids(&phonemes);
        if ids.len() <= 3 {
            return Ok(Vec::new());
        }
        let onnx = |e: ort::Error| Error::Unavailable(format!("Piper inference: {e}"));
        let length = ids.len();
        let input = Tensor::from_array(([1usize, length], ids)).map_err(onnx)?;
        let lengths = Tensor::from_array(([1usize], vec![length as i64])).map_err(onnx)?;
        let scales = Tensor::from_array(([3usize], self.scales.to_vec())).map_err(onnx)?;
        let mut session = self.session.lock().map_err(|_| Error::Unavailable("Piper session poisoned".into()))?;
        let outputs = session
            .run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
            .map_err(onnx)?;
        let (_, audio) = outputs["output"].try_extract_tensor::<f32>().map_err(onnx)?;
        let peak = audio.iter().fold(0.01f32, |m, x| m.max(x.abs()));
        Ok(audio.iter().map(|x| (x * PEAK / peak) as i16).collect())
    }

    /// Piper's id sequence: `^`, then each known symbol followed by the pad `_`, then `$`.
    fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let id = |c: char| self.ids.get(&c).map(Vec::as_slice).unwrap_or_default();
        let mut out = Vec::with_capacity(phonemes.len() * 2 + 3);
        out.extend_from_slice(id('^'));
        out.extend_from_slice(id('_'));
        for c in phonemes.chars() {
            let ids = id(c);
            if !ids.is_empty() {
                out.extend_from_slice(ids);
                out.extend_from_slice(id('_'));
            }
        }
        out.extend_from_slice(id('$'));
        out
    }
}

/// Clauses of `text` with the punctuation that ends each (`None` for a trailing clause without any).
fn clauses(text: &str) -> Vec<(&str, Option<char>)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') {
            // A full stop inside a number ("3.5") does not end a clause.
            let next_is_digit = text[at + c.len_utf8()..].chars().next().is_some_and(|n| n.is_ascii_digit());
            if c == '.' && next_is_digit {
                continue;
            }
            let clause = text[start..at].trim();
            if !clause.is_empty() {
                out.push((clause, Some(c)));
            }
            start = at + c.len_utf8();
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push((rest, None));
    }
    out
}

/// IPA for `text` in Piper's convention: espeak-ng's phonemes per clause, the clause's punctuation after it,
/// clauses separated by a space.
fn phonemize(text: &str, voice: &str) -> Result<String, Error> {
    let mut out = String::new();
    for (clause, punctuation) in clauses(text) {
        let output = crate::espeak::run(&["-q", "--ipa", "--stdin", "-v", voice], clause, "could not phonemise")?;
        let ipa = String::from_utf8_lossy(&output);
        let ipa = ipa.split_whitespace().collect::<Vec<_>>().join(" ");
        if ipa.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&ipa);
        out.extend(punctuation);
    }
    Ok(out)
}

/// Clauses kept once synthesised: greetings, idle prompts and farewells repeat on every call, and a cached
/// clause starts playing at once instead of ~100–200 ms later.
const REMEMBERED_CLAUSES: usize = 64;
/// Longer clauses are unlikely to repeat; they are not kept.
const REMEMBERED_CHARS: usize = 200;

/// A Piper voice as the conversation engine's [`TextToSpeech`], synthesising on the inference pool.
#[derive(Clone)]
pub struct PiperTts {
    voice: Arc<PiperVoice>,
    pool: InferencePool,
    remembered: Arc<Mutex<HashMap<String, Arc<[i16]>>>>,
}

impl PiperTts {
    /// Speech in `voice`, synthesised on `pool`.
    pub fn new(voice: Arc<PiperVoice>, pool: InferencePool) -> PiperTts {
        PiperTts { voice, pool, remembered: Arc::default() }
    }

    /// Synthesises `text` now (on this thread) and keeps it, so its first use on a call plays at once.
    pub fn prepare(&self, text: &str) -> Result<(), Error> {
        let pcm = self.voice.synthesize(text)?;
        remember(&self.remembered, text, &pcm);
        Ok(())
    }
}

fn remember(remembered: &Mutex<HashMap<String, Arc<[i16]>>>, text: &str, pcm: &[i16]) {
    if text.len() > REMEMBERED_CHARS {
        return;
    }
    if let Ok(mut clauses) = remembered.lock() {
        if clauses.len() >= REMEMBERED_CLAUSES {
            clauses.clear(); // a rare reset, not an LRU: what repeats comes back on its next use
        }
        clauses.insert(text.to_string(), pcm.into());
    }
}

impl TextToSpeech for PiperTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let known = self.remembered.lock().ok().and_then(|clauses| clauses.get(text).cloned());
        if let Some(pcm) = known {
            return Box::new(ClauseAudio::ready(self.voice.rate, pcm.to_vec()));
        }
        let (voice, remembered, text) = (Arc::clone(&self.voice), Arc::clone(&self.remembered), text.to_string());
        Box::new(ClauseAudio::synthesize(&self.pool, self.voice.rate, move || {
            let pcm = voice.synthesize(&text)?;
            remember(&remembered, &text, &pcm);
            Ok(pcm)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_into_clauses_with_their_punctuation() {
        assert_eq!(
            clauses("Hello there, how are you? It costs 3.5 rupees"),
            [("Hello there", Some(',')), ("how are you", Some('?')), ("It costs 3.5 rupees", None)]
        );
        assert_eq!(clauses("  ...  "), []);
    }

    #[test]
    fn phonemes_keep_clause_punctuation() {
        let ipa = phonemize("Hello there, how are you?", "en-us").unwrap();
        assert!(ipa.contains(',') && ipa.ends_with('?'), "{ipa}");
        assert!(ipa.contains('ˈ'), "espeak-ng IPA has stress marks: {ipa}");
    }
}
