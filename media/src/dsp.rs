//! Signal processing on the media path: a polyphase rational resampler (8/16/24/48 kHz in any direction).
//!
//! The resampler is a windowed-sinc FIR split into L phases (upsample by L, filter, keep every M-th sample,
//! computed directly so no zero-stuffed samples are ever multiplied). A rate pair's coefficients are built once
//! per process and shared by every resampler of that pair; a resampler itself holds only its 31 samples of
//! history and its phase, so a call's state stays small. Processing allocates nothing.
//!
//! Pure up-sampling (8 → 16 kHz, every G.711 caller frame) and pure down-sampling (16 → 8 kHz, every reply)
//! are computed eight outputs at a time: each output column takes one broadcast coefficient times eight
//! neighbouring inputs per multiply-add, with no horizontal sum per output. Other ratios (16 ↔ 24 kHz) walk
//! the outputs one by one. With the work areas shared per thread (`Scratch`), a 20 ms frame 8 → 16 kHz and
//! back costs 0.46 µs instead of 1.45 µs.
//!
//! The inner loops come in two builds, chosen per block at run time ([`Lanes`]): AVX2 with fused
//! multiply-adds where the CPU has them, portable code (which the compiler vectorises for the build's
//! baseline, SSE2 on any x86-64) everywhere else, so one binary runs on every x86-64 and is fast on the
//! CPUs that have AVX2.

use std::sync::{Arc, Mutex};

/// Filter taps per phase: 32 gives ~60 dB stop-band with a Blackman window, plenty for telephony.
const TAPS_PER_PHASE: usize = 32;
/// Input samples processed per inner block at most; longer inputs are processed in pieces. A 20 ms frame
/// at up to 8 kHz is one block, at 16 kHz two.
const BLOCK: usize = 256;
/// Outputs of one block at most (a block's outputs and the filter's work areas live in [`Scratch`]): six per
/// input covers 8 → 48 kHz; a resampler with a larger ratio takes smaller blocks.
const MAX_BLOCK_OUT: usize = BLOCK * 6 + 1;

/// Samples of history a resampler carries from one block to the next.
const HISTORY: usize = TAPS_PER_PHASE - 1;

/// Work areas of one block, shared by all resamplers on a thread: they hold nothing between blocks, and one
/// copy that stays in cache costs far less than one per resampler (with hundreds of calls per thread, each
/// call's own copies were cold on every tick).
struct Scratch {
    /// The resampler's history followed by the block's input, as f32: the window the filter runs over.
    window: [f32; HISTORY + BLOCK],
    /// A block's outputs as f32 before they are rounded to i16 in one vectorised pass.
    produced: [f32; MAX_BLOCK_OUT],
    /// Pure up-sampling: the phases' outputs before they are interleaved. Pure down-sampling by M: the
    /// window split into its M residue streams (`columns[r * stream_len + m] = window[M·m + r]`).
    columns: [f32; MAX_BLOCK_OUT],
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Box<Scratch>> = std::cell::RefCell::new(Box::new(Scratch {
        window: [0.0; HISTORY + BLOCK],
        produced: [0.0; MAX_BLOCK_OUT],
        columns: [0.0; MAX_BLOCK_OUT],
    }));
}

/// The filter of one rate pair. It never changes, so every resampler between the same two rates shares one
/// ([`Filter::shared`]): on a node with hundreds of calls the coefficients stay in cache for all of them.
#[derive(Debug)]
struct Filter {
    up: usize,
    down: usize,
    /// Coefficients by phase, each phase stored oldest-sample-first so that an output is a plain dot product
    /// with a contiguous window of the input: `coeffs[phase * TAPS_PER_PHASE + j]`.
    coeffs: Vec<f32>,
    /// Per phase, its only non-zero tap (position in the window, coefficient), if it has just one.
    single_tap: Vec<Option<(usize, f32)>>,
    /// `down` as whole input samples plus a phase remainder, so the output loop steps without dividing.
    step: (usize, usize),
    /// Input samples per block: [`BLOCK`], or fewer when the ratio would overflow the scratch outputs.
    block: usize,
    /// Pure down-sampling by M: the taps in M groups, group g holding taps g, g+M, g+2M, … (one FIR per
    /// residue stream).
    tap_groups: Vec<Vec<f32>>,
}

/// Streaming resampler between two fixed rates: the shared filter, and this stream's history and phase.
#[derive(Debug, Clone)]
pub struct Resampler {
    filter: Arc<Filter>,
    /// The last [`HISTORY`] input samples, as f32.
    history: [f32; HISTORY],
    /// Position of the next output in upsampled units, relative to the first sample of the next input block.
    position: usize,
    /// The history holds only zeros: a block of digital silence then resamples to silence without the filter
    /// (agent audio between replies, muted callers, trunks that send digital silence).
    silent_history: bool,
    /// Tests compare the column kernels with the output walk.
    #[cfg(test)]
    walk_only: bool,
    /// Tests compare the portable kernels with the AVX2 ones.
    #[cfg(test)]
    portable_only: bool,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A filter and the (from, to) rates it is for.
type RatedFilter = ((u32, u32), Arc<Filter>);

impl Filter {
    /// The filter from `from_hz` to `to_hz`, built once per rate pair for the whole process.
    fn shared(from_hz: u32, to_hz: u32) -> Arc<Filter> {
        static FILTERS: Mutex<Vec<RatedFilter>> = Mutex::new(Vec::new());
        let mut filters = FILTERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, filter)) = filters.iter().find(|(rates, _)| *rates == (from_hz, to_hz)) {
            return Arc::clone(filter);
        }
        let filter = Arc::new(Filter::new(from_hz, to_hz));
        filters.push(((from_hz, to_hz), Arc::clone(&filter)));
        filter
    }

    fn new(from_hz: u32, to_hz: u32) -> Filter {
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
        let block = BLOCK.min((MAX_BLOCK_OUT - 1) * down / up).max(1);
        // Down-sampling splits the window into `down` streams in the scratch area.
        let tap_groups = if up == 1 && down > 1 && BLOCK + TAPS_PER_PHASE + down <= MAX_BLOCK_OUT {
            (0..down).map(|g| coeffs[..TAPS_PER_PHASE].iter().skip(g).step_by(down).copied().collect()).collect()
        } else {
            Vec::new()
        };
        Filter { up, down, coeffs, single_tap, step: (down / up, down % up), block, tap_groups }
    }

    /// Up-sampling by L (`down == 1`): every block starts on phase 0 and yields L outputs per input, so each
    /// phase is a plain FIR over the window; its outputs are then interleaved into `produced`. Returns the
    /// outputs and the next position.
    #[inline(always)]
    fn upsample_block<L: Lanes>(&self, n: usize, scratch: &mut Scratch) -> (usize, usize) {
        let up = self.up;
        let Scratch { window, produced, columns } = scratch;
        for phase in 0..up {
            let column = &mut columns[phase * n..(phase + 1) * n];
            match self.single_tap[phase] {
                Some((j, c)) => {
                    for (o, w) in column.iter_mut().zip(&window[j..j + n]) {
                        *o = w * c;
                    }
                }
                None => {
                    column.fill(0.0);
                    let taps = &self.coeffs[phase * TAPS_PER_PHASE..(phase + 1) * TAPS_PER_PHASE];
                    fir_accumulate::<L>(taps, &window[..n + TAPS_PER_PHASE - 1], column);
                }
            }
        }
        let produced = &mut produced[..n * up];
        if up == 2 {
            let (first, second) = columns[..2 * n].split_at(n);
            for (pair, (a, b)) in produced.chunks_exact_mut(2).zip(first.iter().zip(second)) {
                pair[0] = *a;
                pair[1] = *b;
            }
        } else {
            for (i, group) in produced.chunks_exact_mut(up).enumerate() {
                for (phase, o) in group.iter_mut().enumerate() {
                    *o = columns[phase * n + i];
                }
            }
        }
        (n * up, n * up)
    }

    /// Down-sampling by M (`up == 1`): output k starts at window index s + M·k, so split the window into its
    /// M residue streams and run each tap group as a plain FIR over its stream. Groups are added in tap
    /// order whatever s is, so the result does not depend on where blocks begin.
    #[inline(always)]
    fn downsample_block<L: Lanes>(&self, n: usize, start: usize, scratch: &mut Scratch) -> (usize, usize) {
        let down = self.down;
        if start >= n {
            return (0, start);
        }
        let count = (n - start).div_ceil(down);
        let filled = n + TAPS_PER_PHASE - 1;
        let stream_len = filled.div_ceil(down);
        let Scratch { window, produced, columns } = scratch;
        let streams = &mut columns[..down * stream_len];
        if down == 2 {
            let (even, odd) = streams.split_at_mut(stream_len);
            let pairs = window[..filled].chunks_exact(2);
            if let [last] = pairs.remainder() {
                even[stream_len - 1] = *last;
            }
            for (pair, (e, o)) in pairs.zip(even.iter_mut().zip(odd.iter_mut())) {
                *e = pair[0];
                *o = pair[1];
            }
        } else {
            for (m, group) in window[..filled].chunks(down).enumerate() {
                for (residue, w) in group.iter().enumerate() {
                    streams[residue * stream_len + m] = *w;
                }
            }
        }
        let out = &mut produced[..count];
        out.fill(0.0);
        for (group, taps) in self.tap_groups.iter().enumerate() {
            let (residue, offset) = ((start + group) % down, (start + group) / down);
            let stream = &columns[residue * stream_len..(residue + 1) * stream_len];
            let needed = count + taps.len() - 1;
            fir_accumulate::<L>(taps, &stream[offset..offset + needed], out);
        }
        (count, start + count * down)
    }

    /// Any other ratio: walk the outputs by (input index, phase) without a division per sample.
    #[inline(always)]
    fn resample_block<L: Lanes>(&self, n: usize, position: usize, scratch: &mut Scratch) -> (usize, usize) {
        let (mut index, mut phase) = (position / self.up, position % self.up);
        let mut count = 0;
        while index < n {
            scratch.produced[count] = match self.single_tap[phase] {
                Some((j, c)) => scratch.window[index + j] * c,
                None => {
                    let taps = &self.coeffs[phase * TAPS_PER_PHASE..(phase + 1) * TAPS_PER_PHASE];
                    L::dot(taps, &scratch.window[index..index + TAPS_PER_PHASE])
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
        (count, index * self.up + phase)
    }

    /// The block's outputs into `scratch.produced`, by the kernel that fits the ratio (the output walk alone
    /// when `walk_only`, for tests); returns the outputs and the next position.
    #[inline(always)]
    fn filter_block<L: Lanes>(
        &self,
        n: usize,
        position: usize,
        walk_only: bool,
        scratch: &mut Scratch,
    ) -> (usize, usize) {
        if walk_only {
            self.resample_block::<L>(n, position, scratch)
        } else if self.down == 1 {
            self.upsample_block::<L>(n, scratch)
        } else if self.up == 1 && !self.tap_groups.is_empty() {
            self.downsample_block::<L>(n, position, scratch)
        } else {
            self.resample_block::<L>(n, position, scratch)
        }
    }

    /// [`Filter::filter_block`] compiled for AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA ([`avx2_fma`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn filter_block_avx2_fma(
        &self,
        n: usize,
        position: usize,
        walk_only: bool,
        scratch: &mut Scratch,
    ) -> (usize, usize) {
        self.filter_block::<Avx2Fma>(n, position, walk_only, scratch)
    }

    /// [`Filter::filter_block`] with the AVX2 kernels when the CPU has them (and `portable_only` is off),
    /// else the portable ones.
    fn filter_block_dispatched(
        &self,
        n: usize,
        position: usize,
        walk_only: bool,
        portable_only: bool,
        scratch: &mut Scratch,
    ) -> (usize, usize) {
        #[cfg(target_arch = "x86_64")]
        {
            if !portable_only && avx2_fma() {
                // SAFETY: avx2_fma() says the CPU has both features.
                return unsafe { self.filter_block_avx2_fma(n, position, walk_only, scratch) };
            }
        }
        let _ = portable_only;
        self.filter_block::<Portable>(n, position, walk_only, scratch)
    }
}

/// Whether this CPU has AVX2 and FMA (std caches the answer: one load and a test per call; a constant when
/// the build already targets them).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`. Equal rates give a pass-through.
    pub fn new(from_hz: u32, to_hz: u32) -> Resampler {
        Resampler {
            filter: Filter::shared(from_hz, to_hz),
            history: [0.0; HISTORY],
            position: 0,
            silent_history: true,
            #[cfg(test)]
            walk_only: false,
            #[cfg(test)]
            portable_only: false,
        }
    }

    /// Whether input and output rates are equal, so samples are copied and not filtered.
    pub fn is_passthrough(&self) -> bool {
        self.filter.up == 1 && self.filter.down == 1
    }

    /// Output samples that `input_len` input samples can produce at most.
    pub fn max_output(&self, input_len: usize) -> usize {
        (input_len * self.filter.up).div_ceil(self.filter.down) + 1
    }

    /// Resamples `input` into `out`; returns the samples written. `out` should hold
    /// [`Resampler::max_output`] samples; extra output is dropped if it does not.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        if self.is_passthrough() {
            let n = input.len().min(out.len());
            out[..n].copy_from_slice(&input[..n]);
            return n;
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let mut written = 0;
            for block in input.chunks(self.filter.block) {
                let start = written.min(out.len());
                written += self.process_block(block, &mut out[start..], scratch);
            }
            written
        })
    }

    fn process_block(&mut self, input: &[i16], out: &mut [i16], scratch: &mut Scratch) -> usize {
        let filter = &*self.filter;
        let n = input.len();
        let limit = n * filter.up;
        let silent_input = input.iter().all(|s| *s == 0);
        if silent_input && self.silent_history {
            // Zeros in, zeros out: only the output count and the phase move on.
            let count = limit.saturating_sub(self.position).div_ceil(filter.down);
            let written = count.min(out.len());
            out[..written].fill(0);
            self.position += count * filter.down;
            self.position -= limit;
            return written;
        }
        scratch.window[..HISTORY].copy_from_slice(&self.history);
        for (w, s) in scratch.window[HISTORY..HISTORY + n].iter_mut().zip(input) {
            *w = *s as f32;
        }
        let (count, position) =
            filter.filter_block_dispatched(n, self.position, self.walk_only(), self.portable_only(), scratch);
        let written = count.min(out.len());
        for (o, p) in out[..written].iter_mut().zip(&scratch.produced[..written]) {
            // `max` maps NaN to the lower bound, so the value is a finite number within the i16 range and the
            // unchecked conversion is sound; unlike a saturating `as i16`, it vectorises.
            #[allow(clippy::manual_clamp)] // `clamp` would keep a NaN
            let clamped = p.round_ties_even().max(-32768.0).min(32767.0);
            // SAFETY: `clamped` is finite and within i32 (see above).
            *o = unsafe { clamped.to_int_unchecked::<i32>() } as i16;
        }
        self.position = position - limit;
        // The last HISTORY samples become the history of the next block.
        self.history.copy_from_slice(&scratch.window[n..n + HISTORY]);
        self.silent_history = self.history.iter().all(|s| *s == 0.0);
        written
    }

    #[inline(always)]
    fn walk_only(&self) -> bool {
        #[cfg(test)]
        return self.walk_only;
        #[cfg(not(test))]
        false
    }

    #[inline(always)]
    fn portable_only(&self) -> bool {
        #[cfg(test)]
        return self.portable_only;
        #[cfg(not(test))]
        false
    }

    /// Clears the filter state (after a discontinuity such as a flush).
    pub fn reset(&mut self) {
        self.history = [0.0; HISTORY];
        self.position = 0;
        self.silent_history = true;
    }
}

/// The inner loops of one instruction set. Every method is `#[inline(always)]`: the block functions are
/// instantiated once per implementation, the AVX2 one inside a `#[target_feature]` function
/// ([`Filter::filter_block_avx2_fma`]), so its intrinsics compile as AVX2 without the whole build targeting it.
trait Lanes {
    /// The eight-lane part of [`fir_accumulate`]; returns how many outputs it computed.
    fn fir_columns(taps: &[f32], src: &[f32], out: &mut [f32]) -> usize;
    /// `c · x + acc` as the lanes compute it (fused with FMA), so the tail agrees exactly with the lanes.
    fn multiply_add(c: f32, x: f32, acc: f32) -> f32;
    /// Dot product of one phase's taps with a window of [`TAPS_PER_PHASE`] samples.
    fn dot(a: &[f32], b: &[f32]) -> f32;
}

/// `out[k] += Σ_j taps[j] · src[k + j]` for every k, eight outputs at a time: one coefficient broadcast
/// against eight neighbouring inputs per multiply-add. Each output adds its products in tap order, the same
/// in the tail, so the result does not depend on which outputs fall in the tail. `src` holds
/// `out.len() + taps.len() - 1` samples.
#[inline(always)]
fn fir_accumulate<L: Lanes>(taps: &[f32], src: &[f32], out: &mut [f32]) {
    let columns = L::fir_columns(taps, src, out);
    for (i, o) in out[columns..].iter_mut().enumerate() {
        let mut acc = *o;
        for (c, x) in taps.iter().zip(&src[columns + i..]) {
            acc = L::multiply_add(*c, *x, acc);
        }
        *o = acc;
    }
}

/// AVX2 with fused multiply-adds. Only ever used by [`Filter::filter_block_avx2_fma`], which runs only on a
/// CPU with AVX2 and FMA: that is what makes its calls into the `#[target_feature]` kernels sound.
#[cfg(target_arch = "x86_64")]
struct Avx2Fma;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2Fma {
    #[inline(always)]
    fn fir_columns(taps: &[f32], src: &[f32], out: &mut [f32]) -> usize {
        // SAFETY: the CPU has AVX2 and FMA (see Avx2Fma).
        unsafe { fir_columns_avx2_fma(taps, src, out) }
    }

    /// One rounding, as `_mm256_fmadd_ps` (a single instruction: FMA is enabled where this is inlined).
    #[inline(always)]
    fn multiply_add(c: f32, x: f32, acc: f32) -> f32 {
        c.mul_add(x, acc)
    }

    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let (Ok(a), Ok(b)) = (<&[f32; TAPS_PER_PHASE]>::try_from(a), <&[f32; TAPS_PER_PHASE]>::try_from(b)) else {
            return 0.0;
        };
        // SAFETY: the CPU has AVX2 and FMA (see Avx2Fma).
        unsafe { dot_avx2_fma(a, b) }
    }
}

/// [`Lanes::fir_columns`] with AVX2 FMA.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fir_columns_avx2_fma(taps: &[f32], src: &[f32], out: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let columns = out.len() / 8 * 8;
    if taps.is_empty() || src.len() < columns + taps.len() - 1 {
        return 0;
    }
    let (src, dst) = (src.as_ptr(), out.as_mut_ptr());
    // Four columns at a time: a multiply-add waits ~4 cycles for the previous one on its accumulator, so one
    // column alone would run at a quarter of the FMA units' rate.
    let quads = columns / 32 * 32;
    // SAFETY (the loads and stores): for k < columns (a multiple of 8) and j < taps.len(),
    // src[k + j .. k + j + 8] lies within src (its length is at least columns + taps.len() - 1, checked
    // above: the highest index read is columns - 8 + taps.len() - 1 + 7 = columns + taps.len() - 2), and
    // out[k .. k + 8] within out.
    for k in (0..quads).step_by(32) {
        let mut acc = [_mm256_setzero_ps(); 4];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = unsafe { _mm256_loadu_ps(dst.add(k + 8 * i)) };
        }
        for (j, c) in taps.iter().enumerate() {
            let c = _mm256_set1_ps(*c);
            for (i, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(c, unsafe { _mm256_loadu_ps(src.add(k + 8 * i + j)) }, *a);
            }
        }
        for (i, a) in acc.iter().enumerate() {
            unsafe { _mm256_storeu_ps(dst.add(k + 8 * i), *a) };
        }
    }
    for k in (quads..columns).step_by(8) {
        let mut acc = unsafe { _mm256_loadu_ps(dst.add(k)) };
        for (j, c) in taps.iter().enumerate() {
            acc = _mm256_fmadd_ps(_mm256_set1_ps(*c), unsafe { _mm256_loadu_ps(src.add(k + j)) }, acc);
        }
        unsafe { _mm256_storeu_ps(dst.add(k), acc) };
    }
    columns
}

/// [`Lanes::dot`] with AVX2 FMA: four 8-lane steps and one horizontal sum (LLVM's auto-vectoriser only
/// managed 2-lane loads here).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dot_avx2_fma(a: &[f32; TAPS_PER_PHASE], b: &[f32; TAPS_PER_PHASE]) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: both arrays hold TAPS_PER_PHASE (32) floats, so every 8-float unaligned load is in bounds.
    let (a0, b0) = unsafe { (_mm256_loadu_ps(a.as_ptr()), _mm256_loadu_ps(b.as_ptr())) };
    let (a1, b1) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(8)), _mm256_loadu_ps(b.as_ptr().add(8))) };
    let (a2, b2) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(16)), _mm256_loadu_ps(b.as_ptr().add(16))) };
    let (a3, b3) = unsafe { (_mm256_loadu_ps(a.as_ptr().add(24)), _mm256_loadu_ps(b.as_ptr().add(24))) };
    let even = _mm256_fmadd_ps(a2, b2, _mm256_mul_ps(a0, b0));
    let odd = _mm256_fmadd_ps(a3, b3, _mm256_mul_ps(a1, b1));
    let sum = _mm256_add_ps(even, odd);
    let quad = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
}

/// Portable code: the compiler vectorises the lane loops for whatever the build targets.
struct Portable;

impl Lanes for Portable {
    #[inline(always)]
    fn fir_columns(taps: &[f32], src: &[f32], out: &mut [f32]) -> usize {
        const LANES: usize = 8;
        let columns = out.len() / LANES * LANES;
        for (chunk, k) in out[..columns].chunks_exact_mut(LANES).zip((0..).step_by(LANES)) {
            let mut acc = [0f32; LANES];
            acc.copy_from_slice(chunk);
            for (j, c) in taps.iter().enumerate() {
                for lane in 0..LANES {
                    acc[lane] = Self::multiply_add(*c, src[k + j + lane], acc[lane]);
                }
            }
            chunk.copy_from_slice(&acc);
        }
        columns
    }

    /// Unfused: without FMA hardware `f32::mul_add` is a library call per sample.
    #[inline(always)]
    fn multiply_add(c: f32, x: f32, acc: f32) -> f32 {
        c * x + acc
    }

    /// Eight independent accumulators.
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
        let through: Vec<_> = r.filter.single_tap.iter().flatten().collect();
        assert_eq!(through.len(), 1, "one of the two phases is a single tap");
        assert!((through[0].1 - 1.0).abs() < 0.01, "{through:?}");
        // The other ratios keep their full filters.
        assert!(Resampler::new(16000, 8000).filter.single_tap.iter().all(Option::is_none));
        assert!(Resampler::new(16000, 48000).filter.single_tap.iter().all(Option::is_none));
    }

    #[test]
    fn column_kernels_match_the_output_walk() {
        let mut input = tone(440.0, 48000.0, 3000);
        input.extend(tone(3100.0, 48000.0, 3000));
        for (from, to) in [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (48000, 8000), (8000, 48000)] {
            let (mut fast, mut walk) = (Resampler::new(from, to), Resampler::new(from, to));
            walk.walk_only = true;
            let mut out_fast = vec![0i16; fast.max_output(333)];
            let mut out_walk = out_fast.clone();
            for chunk in input.chunks(333) {
                let n = fast.process(chunk, &mut out_fast);
                assert_eq!(n, walk.process(chunk, &mut out_walk), "{from} → {to}");
                for (a, b) in out_fast[..n].iter().zip(&out_walk[..n]) {
                    assert!(a.abs_diff(*b) <= 1, "{from} → {to}: {a} vs {b}");
                }
            }
        }
    }

    /// The AVX2 kernels (when this CPU has them) and the portable ones agree to the rounding of the last bit,
    /// in every kernel: columns up and down, the output walk.
    #[test]
    fn avx2_and_portable_kernels_agree() {
        let mut input = tone(440.0, 48000.0, 3000);
        input.extend(tone(3100.0, 48000.0, 3000));
        for walk_only in [false, true] {
            for (from, to) in [(8000, 16000), (16000, 8000), (16000, 24000), (24000, 16000), (48000, 8000)] {
                let (mut fast, mut portable) = (Resampler::new(from, to), Resampler::new(from, to));
                (fast.walk_only, portable.walk_only, portable.portable_only) = (walk_only, walk_only, true);
                let mut out_fast = vec![0i16; fast.max_output(333)];
                let mut out_portable = out_fast.clone();
                let (mut heard, mut total) = (0, 0);
                for chunk in input.chunks(333) {
                    let n = fast.process(chunk, &mut out_fast);
                    assert_eq!(n, portable.process(chunk, &mut out_portable), "{from} → {to}");
                    total += n;
                    for (a, b) in out_fast[..n].iter().zip(&out_portable[..n]) {
                        assert!(a.abs_diff(*b) <= 1, "{from} → {to}: {a} vs {b}");
                        heard += usize::from(*a != 0);
                    }
                }
                assert!(heard * 10 > total * 9, "{from} → {to}: the tones came through ({heard} of {total})");
            }
        }
    }

    #[test]
    fn block_size_does_not_change_the_result() {
        let input = tone(440.0, 8000.0, 1600);
        assert_eq!(run(8000, 16000, &input, 160), run(8000, 16000, &input, 7));
    }
}
