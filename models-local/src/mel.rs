//! Whisper's mel filterbank: Slaney-scale, Slaney-normalised triangles over the 201 bins of a 400-point FFT at
//! 16 kHz — what `librosa.filters.mel(sr=16000, n_fft=400, n_mels=N)` returns and OpenAI ships as
//! `mel_filters.npz`. Computed rather than shipped: the registry's CTranslate2 weights don't carry it.
//!
//! [`LogMel`] computes Whisper's log-mel spectrogram the way OpenAI's `log_mel_spectrogram` does (400-point
//! periodic Hann window, hop 160, centred frames with reflect padding, power spectrum, log10 clamped to 8 below
//! the peak, scaled to ~[-1, 1]) — but only for the frames of the audio, not for a padded 30 s window.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Whisper's STFT size and hop.
pub const N_FFT: usize = 400;
/// Samples between two frames (10 ms at 16 kHz).
pub const HOP: usize = 160;

/// FFT bins of Whisper's 400-point STFT.
pub const N_BINS: usize = 201;

fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        MIN_LOG_HZ / F_SP + (hz / MIN_LOG_HZ).ln() / log_step
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let log_step = 6.4f64.ln() / 27.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (log_step * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// The `[n_mels, 201]` filterbank, row-major, as candle's `pcm_to_mel` takes it.
pub fn filters(n_mels: usize) -> Vec<f32> {
    filters_for(N_FFT, n_mels)
}

/// `librosa.filters.mel(sr=16000, n_fft, n_mels)` (Slaney scale and norm): `[n_mels, n_fft / 2 + 1]`, row-major.
/// NeMo's preprocessors (IndicConformer) use it with a 512-point FFT.
pub fn filters_for(n_fft: usize, n_mels: usize) -> Vec<f32> {
    let sample_rate = 16000.0;
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins).map(|j| j as f64 * (sample_rate / 2.0) / (bins - 1) as f64).collect();
    let top = hz_to_mel(sample_rate / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let mut out = vec![0f32; n_mels * bins];
    for i in 0..n_mels {
        let norm = 2.0 / (edges[i + 2] - edges[i]);
        for (j, f) in fft_freqs.iter().enumerate() {
            let rising = (f - edges[i]) / (edges[i + 1] - edges[i]);
            let falling = (edges[i + 2] - f) / (edges[i + 2] - edges[i + 1]);
            out[i * bins + j] = (rising.min(falling).max(0.0) * norm) as f32;
        }
    }
    out
}

/// Log-mel spectrogram computer (plans its FFT once; cheap to clone and share between threads).
#[derive(Clone)]
pub struct LogMel {
    n_mels: usize,
    filters: Arc<Vec<f32>>,
    window: Arc<Vec<f32>>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl LogMel {
    /// A log-mel front end with `n_mels` filters (80 for Whisper base, 128 for large-v3).
    pub fn new(n_mels: usize) -> LogMel {
        let window =
            (0..N_FFT).map(|i| 0.5 * (1.0 - (std::f32::consts::TAU * i as f32 / N_FFT as f32).cos())).collect();
        LogMel {
            n_mels,
            filters: Arc::new(filters(n_mels)),
            window: Arc::new(window),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
        }
    }

    /// `[n_mels, frames]` row-major for `pcm` (16 kHz) followed by `tail` samples of silence, with
    /// `frames = (pcm.len() + tail) / HOP`.
    pub fn compute(&self, pcm: &[f32], tail: usize) -> (Vec<f32>, usize) {
        let half = N_FFT / 2;
        let len = pcm.len() + tail;
        let frames = len / HOP;
        // Centred frames: reflect-pad half a window at the start; zeros past the audio.
        let sample = |i: isize| -> f32 {
            let j = if i < 0 { (-i) as usize } else { i as usize };
            pcm.get(j).copied().unwrap_or(0.0)
        };
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_BINS];
        let mut mel = vec![0f32; self.n_mels * frames];
        for f in 0..frames {
            let start = (f * HOP) as isize - half as isize;
            for (k, x) in input.iter_mut().enumerate() {
                *x = sample(start + k as isize) * self.window[k];
            }
            if self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).is_err() {
                continue; // lengths are fixed by the plan; cannot happen
            }
            for (p, c) in power.iter_mut().zip(spectrum.iter()) {
                *p = c.norm_sqr();
            }
            for m in 0..self.n_mels {
                let row = &self.filters[m * N_BINS..(m + 1) * N_BINS];
                let energy: f32 = row.iter().zip(power.iter()).map(|(w, p)| w * p).sum();
                mel[m * frames + f] = energy.max(1e-10).log10();
            }
        }
        let peak = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in mel.iter_mut() {
            *v = (v.max(peak - 8.0) + 4.0) / 4.0;
        }
        (mel, frames)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_mel_of_a_tone_peaks_in_its_band_and_is_scaled_like_whisper() {
        let mel = super::LogMel::new(80);
        let tone: Vec<f32> = (0..16000).map(|i| (i as f32 * 1000.0 * std::f32::consts::TAU / 16000.0).sin()).collect();
        let (spec, frames) = mel.compute(&tone, 800);
        assert_eq!(frames, (16000 + 800) / 160);
        // Mid-clip frame: the loudest band is the one whose triangle is centred nearest 1 kHz. On the
        // Slaney scale 1 kHz is 15 mel, the 82 edge points span 0..45.25 mel, so band 26 peaks at 1005.6 Hz.
        let f = 50;
        let loudest = (0..80).max_by(|&a, &b| spec[a * frames + f].total_cmp(&spec[b * frames + f])).unwrap();
        assert_eq!(loudest, 26, "band {loudest}");
        let max = spec.iter().copied().fold(f32::MIN, f32::max);
        let min = spec.iter().copied().fold(f32::MAX, f32::min);
        assert!(max <= 4.0 && (max - min - 2.0).abs() < 1e-4, "dynamic range clamped to 8 (log10) / 4: {min}..{max}");
    }

    #[test]
    fn matches_librosa_slaney_filters() {
        // Reference values from librosa's algorithm (Slaney scale and norm), computed independently.
        let f = super::filters(80);
        assert_eq!(f.len(), 80 * 201);
        assert!((f[1] - 0.024_862_594).abs() < 1e-6, "{}", f[1]);
        assert!((f[79 * 201 + 190] - 0.002_232_055).abs() < 1e-7, "{}", f[79 * 201 + 190]);
        let total: f32 = f.iter().sum();
        assert!((total - 1.999_024).abs() < 1e-3, "{total}");
    }
}
