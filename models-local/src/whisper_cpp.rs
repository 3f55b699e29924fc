//! Whisper on whisper.cpp (through whisper-rs): the second speech-to-text backend, behind the same
//! [`Transcribe`] interface as the candle one, so [`crate::whisper::WhisperStt`] streams with either.
//!
//! The weights are the cache's converted Whisper, written once more in ggml form ([`crate::ggml`]). The
//! encoder window is trimmed to the audio with `audio_ctx`, as the candle backend trims its mel frames.
//! whisper.cpp keeps its working buffers in a `WhisperState` (tens of MB): states are pooled, one per
//! concurrent transcription, rather than made per call.

use std::path::Path;
use std::sync::{Arc, Mutex};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use crate::whisper::Transcribe;
use crate::Error;

/// Mel frames after the audio (0.5 s), as in the candle backend.
const TAIL_FRAMES: usize = 50;
/// Samples per mel frame (10 ms at 16 kHz).
const HOP: usize = 160;
/// Whisper's window: 30 s at 16 kHz.
const MAX_SAMPLES: usize = 480_000;

/// A whisper.cpp Whisper model (weights shared, cheap to clone).
#[derive(Clone)]
pub struct WhisperCpp {
    context: Arc<WhisperContext>,
    states: Arc<Mutex<Vec<WhisperState>>>,
    threads: i32,
    multilingual: bool,
}

impl WhisperCpp {
    /// Loads the converted model in `dir`, writing its ggml form first if it is not there yet. `threads`:
    /// whisper.cpp's threads per transcription.
    pub fn load(dir: &Path, threads: usize) -> Result<WhisperCpp, Error> {
        let missing = missing_cpu_features();
        if !missing.is_empty() {
            return Err(Error::Unsupported(format!(
                "whisper.cpp in this build was compiled to use {} and this CPU lacks {}: use the candle backend \
                 ([models] whisper_backend = \"candle\", the default), or build for this CPU with GGML_AVX=OFF \
                 GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF (README \"CPU requirements\")",
                compiled_for().join(", "),
                missing.join(", ")
            )));
        }
        let path = crate::ggml::ensure_whisper_ggml(dir)?;
        quiet_logging();
        let path_text = path.to_str().ok_or_else(|| Error::Format(format!("{} is not UTF-8", path.display())))?;
        let parameters = WhisperContextParameters { use_gpu: cfg!(feature = "cuda"), ..Default::default() };
        let context = WhisperContext::new_with_params(path_text, parameters)
            .map_err(|e| Error::Format(format!("whisper.cpp cannot load {}: {e}", path.display())))?;
        let multilingual = context.is_multilingual();
        let model = WhisperCpp {
            context: Arc::new(context),
            states: Arc::new(Mutex::new(Vec::new())),
            threads: threads.clamp(1, 16) as i32,
            multilingual,
        };
        // Warm-up: the first transcription on a state sizes its compute graphs (~1.5 s for tiny), which
        // would otherwise land on the first caller's first turn. The warmed state goes back to the pool.
        model.transcribe(&[0.0; 16000], "en")?;
        Ok(model)
    }

    fn take_state(&self) -> Result<WhisperState, Error> {
        if let Some(state) = self.states.lock().ok().and_then(|mut states| states.pop()) {
            return Ok(state);
        }
        self.context.create_state().map_err(|e| Error::Format(format!("whisper.cpp state: {e}")))
    }
}

impl Transcribe for WhisperCpp {
    fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
        let pcm = &pcm[pcm.len().saturating_sub(MAX_SAMPLES)..];
        if pcm.is_empty() {
            return Ok(String::new());
        }
        let language = if self.multilingual { language.split(['-', '_']).next().unwrap_or("en") } else { "en" };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.threads);
        params.set_language(Some(language));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_single_segment(true);
        params.set_suppress_blank(true);
        params.set_temperature(0.0);
        // No temperature fallback: one greedy pass, like the candle backend (a retry would double the time).
        params.set_temperature_inc(0.0);
        params.set_no_speech_thold(0.6);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        let frames = (pcm.len() / HOP + TAIL_FRAMES).div_ceil(2) * 2;
        params.set_audio_ctx((frames / 2).clamp(1, 1500) as i32);
        // Speech runs at most ~5 tokens a second; more is Whisper looping.
        params.set_max_tokens((pcm.len() / 16000 * 6 + 8) as i32);

        let mut state = self.take_state()?;
        let outcome = state.full(params, pcm);
        let text = outcome.map_err(|e| Error::Format(format!("whisper.cpp transcription: {e}"))).map(|()| {
            (0..state.full_n_segments())
                .filter_map(|i| state.get_segment(i))
                .filter_map(|segment| segment.to_str_lossy().ok().map(|s| s.into_owned()))
                .collect::<String>()
        });
        if let Ok(mut states) = self.states.lock() {
            states.push(state);
        }
        Ok(without_repeated_tail(text?.trim()))
    }

    fn is_multilingual(&self) -> bool {
        self.multilingual
    }
}

/// `text` without a phrase looping at its end ("Please tell me. Please tell me. Please tell me"): the same
/// span of 1–12 words, ignoring case and punctuation, repeated back to back is cut to one. The candle backend
/// stops such loops token by token; whisper.cpp's greedy decoder only stops at its token limit.
fn without_repeated_tail(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let key = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let keys: Vec<String> = words.iter().map(|w| key(w)).collect();
    let mut end = words.len();
    while let Some(period) = (1..=12.min(end / 2)).find(|&p| keys[end - p..end] == keys[end - 2 * p..end - p]) {
        end -= period;
    }
    words[..end].join(" ")
}

/// whisper.cpp logs every model load and transcription to stderr; route it through `tracing` instead.
fn quiet_logging() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(whisper_rs::install_logging_hooks);
}

/// The x86 instructions whisper.cpp's CPU code was compiled to use, as its ggml reports them. Unlike candle,
/// ggml picks its instructions when it is compiled (`GGML_AVX2`… in `.cargo/config.toml`): it chooses at run time
/// only between CPU backends built as separate shared libraries (`GGML_BACKEND_DL`, `GGML_CPU_ALL_VARIANTS`),
/// which whisper-rs-sys cannot build (it links ggml statically).
pub fn compiled_for() -> Vec<&'static str> {
    ggml_features().into_iter().filter(|(_, compiled, _)| *compiled).map(|(name, _, _)| name).collect()
}

/// Those of [`compiled_for`] that this CPU lacks: whisper.cpp would stop the process with SIGILL on its first
/// transcription, so [`WhisperCpp::load`] refuses instead. Empty when it can run here.
pub fn missing_cpu_features() -> Vec<&'static str> {
    ggml_features().into_iter().filter(|(_, compiled, here)| *compiled && !here).map(|(name, _, _)| name).collect()
}

/// (name, compiled into ggml, present on this CPU) for each x86 feature ggml can be built for.
#[cfg(target_arch = "x86_64")]
fn ggml_features() -> Vec<(&'static str, bool, bool)> {
    use std::is_x86_feature_detected as has;
    use whisper_rs_sys as ggml;
    // SAFETY: each `ggml_cpu_has_*` returns a constant fixed when ggml was compiled (`#if defined(__AVX2__)`…):
    // it runs no instruction of the feature it names, so it is safe to call on any CPU.
    let compiled = |f: unsafe extern "C" fn() -> std::os::raw::c_int| unsafe { f() } != 0;
    vec![
        ("sse3", compiled(ggml::ggml_cpu_has_sse3), has!("sse3")),
        ("ssse3", compiled(ggml::ggml_cpu_has_ssse3), has!("ssse3")),
        ("avx", compiled(ggml::ggml_cpu_has_avx), has!("avx")),
        ("avx2", compiled(ggml::ggml_cpu_has_avx2), has!("avx2")),
        ("fma", compiled(ggml::ggml_cpu_has_fma), has!("fma")),
        ("f16c", compiled(ggml::ggml_cpu_has_f16c), has!("f16c")),
        ("bmi2", compiled(ggml::ggml_cpu_has_bmi2), has!("bmi2")),
        ("avxvnni", compiled(ggml::ggml_cpu_has_avx_vnni), has!("avxvnni")),
        ("avx512f", compiled(ggml::ggml_cpu_has_avx512), has!("avx512f")),
        ("avx512vbmi", compiled(ggml::ggml_cpu_has_avx512_vbmi), has!("avx512vbmi")),
        ("avx512vnni", compiled(ggml::ggml_cpu_has_avx512_vnni), has!("avx512vnni")),
        ("avx512bf16", compiled(ggml::ggml_cpu_has_avx512_bf16), has!("avx512bf16")),
    ]
}

#[cfg(not(target_arch = "x86_64"))]
fn ggml_features() -> Vec<(&'static str, bool, bool)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::without_repeated_tail;

    #[test]
    fn a_looping_phrase_is_cut_to_one() {
        assert_eq!(
            without_repeated_tail("Please tell me. Please tell me. Please tell me. Please tell me"),
            "Please tell me."
        );
        assert_eq!(without_repeated_tail("no no no"), "no");
        assert_eq!(without_repeated_tail("And so my fellow Americans, ask not"), "And so my fellow Americans, ask not");
        assert_eq!(without_repeated_tail(""), "");
    }
}
