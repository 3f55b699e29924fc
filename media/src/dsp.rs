//! Signal processing on the media path: a polyphase rational resampler (8/16/24/48 kHz in any direction).
//!
//! The resampler is a windowed-sinc FIR split into L phases (upsample by L, filter, keep every M-th sample,
//! computed directly so no zero-stuffed samples are ever multiplied). Coefficients and the history buffer are
//! allocated once at construction; processing allocates nothing.

/// Filter taps per phase: 32 gives ~60 dB stop-band with a Blackman window, plenty for telephony.
const TAPS_PER_PHASE: usize = 32;
/// Input samples processed per inner block; longer inputs are processed in pieces.
const BLOCK: usize = 1024;

/// Streaming resampler between two fixed rates.
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    /// Coefficients by phase, each phase stored oldest-sample-first so that an output is a plain dot product
    /// with a contiguous window of the input: `coeffs[phase * TAPS_PER_PHASE + j]`.
    coeffs: Vec<f32>,
    /// Per phase, its only non-zero tap (position in the window, coefficient), if it has just one.
    single_tap: Vec<Option<(usize, f32)>>,
    /// `TAPS_PER_PHASE - 1` samples of history followed by the current block, as f32.
    window: Vec<f32>,
    /// Position of the next output in upsampled units, relative to the first sample of the next input block.
    position: usize,
    /// The history holds only zeros: a block of digital silence then resamples to silence without the filter
    /// (agent audio between replies, muted callers, trunks that send digital silence).
    silent_history: bool,
    /// `down` as whole input samples plus a phase remainder, so the output loop steps without dividing.
    step: (usize, usize),
    /// A block's outputs as f32 before they are rounded to i16 in one vectorised pass.
    produced: Vec<f32>,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`. Equal rates give a pass-through.
    pub fn new(from_hz: u32, to_hz: u32) -> Resampler {
        let g = gcd(from_hz as usize, to_hz as usize).max(1);
        let (up, down) = (to_hz as usize / g, from_hz as usize / g);
        let taps = TAPS_PER_PHASE * up;
        // Doubling the rate (8 → 16 kHz, every caller frame of a G.711 call) uses a half-band filter: cut-off at
        // exactly the old Nyquist frequency and an odd length centred on a sample, so every other tap is zero
        // and one of the two phases is the input itself — half the multiplications. Other ratios cut off a
        // little inside the lower Nyquist frequency, for the transition band.
        let half_band = up == 2 && down == 1;
        let (cutoff, length) = if half_band { (0.25, taps - 1) } else { (0.92 / (2.0 * up.max(down) as f64), taps) };
        let centre = (length - 1) as f64 / 2.0;
        let mut prototype: Vec<f64> = (0..taps)
            .map(|n| {
                if n >= length {
                    return 0.0;
                }
                let x = n as f64 - centre;
                let sinc = if x == 0.0 {
                    2.0 * cutoff
                } else if half_band && (x as i64) % 2 == 0 {
                    0.0 // exactly, not sin(π) rounded
                } else {
                    (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
                };
                let w = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / (length - 1) as f64).cos()
                    + 0.08 * (4.0 * std::f64::consts::PI * n as f64 / (length - 1) as f64).cos();
                sinc * w
            })
            .collect();
        // Unity gain at DC for every phase (the up-sampler's gain of L is folded in).
        let sum: f64 = prototype.iter().sum();
        for c in prototype.iter_mut() {
            *c *= up as f64 / sum;
        }
        let mut coeffs = vec![0f32; taps];
        for phase in 0..up {
            for k in 0..TAPS_PER_PHASE {
                // Tap k multiplies x[index - k]; store it at j = TAPS-1-k so the window runs oldest first.
                coeffs[phase * TAPS_PER_PHASE + (TAPS_PER_PHASE - 1 - k)] = prototype[phase + k * up] as f32;
            }
        }
        // Phases with a single non-zero tap (the half-band's pass-through phase) skip the dot product.
        let single_tap = (0..up)
            .map(|phase| {
                let taps = &coeffs[phase * TAPS_PER_PHASE..(phase + 1) * TAPS_PER_PHASE];
                let mut nonzero = taps.iter().enumerate().filter(|(_, c)| **c != 0.0);
                match (nonzero.next(), nonzero.next()) {
                    (Some((j, c)), None) => Some((j, *c)),
                    _ => None,
                }
            })
            .collect();
        Resampler {
            up,
            down,
            coeffs,
            single_tap,
            window: vec![0.0; TAPS_PER_PHASE - 1 + BLOCK],
            position: 0,
            silent_history: true,
            step: (down / up, down % up),
            produced: vec![0.0; (BLOCK * up).div_ceil(down) + 1],
        }
    }

    pub fn is_passthrough(&self) -> bool {
        self.up == 1 && self.down == 1
    }

    /// Output samples that `input_len` input samples can produce at most.
    pub fn max_output(&self, input_len: usize) -> usize {
        (input_len * self.up).div_ceil(self.down) + 1
    }

    /// Resamples `input` into `out`; returns the samples written. `out` should hold
    /// [`Resampler::max_output`] samples; extra output is dropped if it does not.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        if self.is_passthrough() {
            let n = input.len().min(out.len());
            out[..n].copy_from_slice(&input[..n]);
            return n;
        }
        let mut written = 0;
        for block in input.chunks(BLOCK) {
            let start = written.min(out.len());
            written += self.process_block(block, &mut out[start..]);
        }
        written
    }

    fn process_block(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let hist = TAPS_PER_PHASE - 1;
        let silent_input = input.iter().all(|s| *s == 0);
        if silent_input && self.silent_history {
            // Zeros in, zeros out: only the output count and the phase move on.
            let limit = input.len() * self.up;
            let count = limit.saturating_sub(self.position).div_ceil(self.down);
            let written = count.min(out.len());
            out[..written].fill(0);
            self.position += count * self.down;
            self.position -= limit;
            return written;
        }
        for (w, s) in self.window[hist..hist + input.len()].iter_mut().zip(input) {
            *w = *s as f32;
        }
        let limit = input.len() * self.up;
        // Walk the outputs by (input index, phase) without a division per sample.
        let (mut index, mut phase) = (self.position / self.up, self.position % self.up);
        let mut count = 0;
        while index < input.len() {
            self.produced[count] = match self.single_tap[phase] {
                Some((j, c)) => self.window[index + j] * c,
                None => {
                    let taps = &self.coeffs[phase * TAPS_PER_PHASE..(phase + 1) * TAPS_PER_PHASE];
                    dot(taps, &self.window[index..index + TAPS_PER_PHASE])
                }
            };
            count += 1;
            index += self.step.0;
            phase += self.step.1;
            if phase >= self.up {
                phase -= self.up;
                index += 1;
            }
        }
        self.position = index * self.up + phase;
        let written = count.min(out.len());
        for (o, p) in out[..written].iter_mut().zip(&self.produced[..written]) {
            // `as` saturates to the i16 range.
            *o = p.round() as i16;
        }
        self.position -= limit;
        // The last TAPS-1 samples become the history of the next block.
        self.window.copy_within(input.len()..input.len() + hist, 0);
        self.silent_history = self.window[..hist].iter().all(|s| *s == 0.0);
        written
    }

    /// Clears the filter state (after a discontinuity such as a flush).
    pub fn reset(&mut self) {
        self.window.fill(0.0);
        self.position = 0;
        self.silent_history = true;
    }
}

/// Dot product of one phase's taps with a window, with AVX2 fused multiply-adds: four 8-lane steps and one
/// horizontal sum (LLVM's auto-vectoriser only managed 2-lane loads here).
#[cfg(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let (Ok(a), Ok(b)) = (<&[f32; TAPS_PER_PHASE]>::try_from(a), <&[f32; TAPS_PER_PHASE]>::try_from(b)) else {
        return 0.0;
    };
    // SAFETY: both arrays hold TAPS_PER_PHASE (32) floats, so every 8-float unaligned load is in bounds; the
    // instructions exist because this is compiled only with AVX2 and FMA enabled.
    unsafe {
        let load = |x: &[f32; TAPS_PER_PHASE], at: usize| _mm256_loadu_ps(x.as_ptr().add(at));
        let mut even = _mm256_mul_ps(load(a, 0), load(b, 0));
        let mut odd = _mm256_mul_ps(load(a, 8), load(b, 8));
        even = _mm256_fmadd_ps(load(a, 16), load(b, 16), even);
        odd = _mm256_fmadd_ps(load(a, 24), load(b, 24), odd);
        let sum = _mm256_add_ps(even, odd);
        let quad = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
    }
}

/// Dot product of one phase's taps with a window (portable: eight independent accumulators).
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")))]
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum()
}

/// Root-mean-square level of a frame, 0.0–1.0 of full scale.
pub fn rms(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|s| (*s as f64) * (*s as f64)).sum();
    ((sum / frame.len() as f64).sqrt() / 32768.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 * freq * std::f64::consts::TAU / rate).sin() * 10000.0) as i16).collect()
    }

    /// Amplitude of `freq` in `signal` (single-bin DFT), skipping the filter's start-up.
    fn amplitude(signal: &[i16], freq: f64, rate: f64) -> f64 {
        let s = &signal[200..];
        let (mut re, mut im) = (0.0, 0.0);
        for (i, x) in s.iter().enumerate() {
            let p = i as f64 * freq * std::f64::consts::TAU / rate;
            re += *x as f64 * p.cos();
            im += *x as f64 * p.sin();
        }
        2.0 * (re * re + im * im).sqrt() / s.len() as f64
    }

    fn run(from: u32, to: u32, input: &[i16], block: usize) -> Vec<i16> {
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        let mut buf = vec![0i16; r.max_output(block)];
        for chunk in input.chunks(block) {
            let n = r.process(chunk, &mut buf);
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn passband_tones_keep_their_level_in_every_direction() {
        for (from, to) in [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (16000, 24000), (24000, 16000)]
        {
            let input = tone(1000.0, from as f64, from as usize / 2);
            let out = run(from, to, &input, 160);
            let expected_len = input.len() * to as usize / from as usize;
            assert!(out.len().abs_diff(expected_len) <= 1, "{from}->{to}: {} samples", out.len());
            let amp = amplitude(&out, 1000.0, to as f64);
            assert!((amp - 10000.0).abs() < 600.0, "{from}->{to}: amplitude {amp:.0}");
        }
    }

    #[test]
    fn downsampling_removes_what_would_alias() {
        // 6 kHz cannot exist at 8 kHz: it must be filtered out, not folded to 2 kHz.
        let input = tone(6000.0, 16000.0, 8000);
        let out = run(16000, 8000, &input, 320);
        assert!(amplitude(&out, 2000.0, 8000.0) < 100.0);
    }

    #[test]
    fn silence_skips_the_filter_without_changing_the_result() {
        // Speech, digital silence long enough to empty the filter, speech again: however the blocks fall
        // (so the silent shortcut is taken at different places), the output is the same, sample for sample.
        for (from, to) in [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (16000, 24000)] {
            let mut input = tone(440.0, from as f64, 600);
            input.extend(std::iter::repeat_n(0, 2000));
            input.extend(tone(440.0, from as f64, 600));
            let reference = run(from, to, &input, 7);
            assert_eq!(run(from, to, &input, 160), reference, "{from} → {to}");
            assert_eq!(run(from, to, &input, 1024), reference, "{from} → {to}");
        }
    }

    #[test]
    fn doubling_the_rate_passes_every_other_sample_through() {
        let r = Resampler::new(8000, 16000);
        let through: Vec<_> = r.single_tap.iter().flatten().collect();
        assert_eq!(through.len(), 1, "one of the two phases is a single tap");
        assert!((through[0].1 - 1.0).abs() < 0.01, "{through:?}");
        // The other ratios keep their full filters.
        assert!(Resampler::new(16000, 8000).single_tap.iter().all(Option::is_none));
        assert!(Resampler::new(16000, 48000).single_tap.iter().all(Option::is_none));
    }

    #[test]
    fn block_size_does_not_change_the_result() {
        let input = tone(440.0, 8000.0, 1600);
        assert_eq!(run(8000, 16000, &input, 160), run(8000, 16000, &input, 7));
    }
}
