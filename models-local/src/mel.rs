//! Whisper's mel filterbank: Slaney-scale, Slaney-normalised triangles over the 201 bins of a 400-point FFT at
//! 16 kHz — what `librosa.filters.mel(sr=16000, n_fft=400, n_mels=N)` returns and OpenAI ships as
//! `mel_filters.npz`. Computed rather than shipped: the registry's CTranslate2 weights don't carry it.

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
    let sample_rate = 16000.0;
    let fft_freqs: Vec<f64> = (0..N_BINS).map(|j| j as f64 * (sample_rate / 2.0) / (N_BINS - 1) as f64).collect();
    let top = hz_to_mel(sample_rate / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let mut out = vec![0f32; n_mels * N_BINS];
    for i in 0..n_mels {
        let norm = 2.0 / (edges[i + 2] - edges[i]);
        for (j, f) in fft_freqs.iter().enumerate() {
            let rising = (f - edges[i]) / (edges[i + 1] - edges[i]);
            let falling = (edges[i + 2] - f) / (edges[i + 2] - edges[i + 1]);
            out[i * N_BINS + j] = (rising.min(falling).max(0.0) * norm) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
