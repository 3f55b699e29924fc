//! G.722 at 64 kbit/s (ITU-T G.722 mode 1): 16 kHz audio as two sub-band ADPCM streams, one byte per pair of
//! samples. The algorithm follows the public-domain SpanDSP/CMU implementation block by block (block names from
//! the Recommendation); this version writes into caller buffers and never allocates.
//! Note the RTP quirk (RFC 3551 §4.5.2): the RTP clock is 8000 Hz although audio is sampled at 16 kHz.

const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339,
    1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
    4, 0,
];
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34,
    33, 32, 0,
];
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [i32; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025,
    3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
const QM4: [i32; 16] =
    [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0];
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576,
    -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040,
    -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
    4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [i32; 4] = [2, 1, 2, 1];

#[inline]
fn sat(v: i32) -> i32 {
    v.clamp(i16::MIN as i32, i16::MAX as i32)
}

/// ADPCM predictor state of one sub-band.
#[derive(Debug, Clone, Default)]
struct Band {
    s: i32,
    sp: i32,
    sz: i32,
    r: [i32; 3],
    a: [i32; 3],
    ap: [i32; 3],
    p: [i32; 3],
    d: [i32; 7],
    b: [i32; 7],
    bp: [i32; 7],
    sg: [i32; 7],
    nb: i32,
    det: i32,
}

impl Band {
    fn new() -> Self {
        // Initial step sizes of the Recommendation (low band 32, high band 8).
        Band { det: 32, ..Default::default() }
    }

    fn new_high() -> Self {
        Band { det: 8, ..Default::default() }
    }

    /// Scale factor adaptation (blocks 3L/3H LOGSC + SCALE).
    fn adapt_scale(&mut self, weight: i32, limit: i32, shift_base: i32) {
        let nb = ((self.nb * 127) >> 7) + weight;
        self.nb = nb.clamp(0, limit);
        let wd1 = (self.nb >> 6) & 31;
        let wd2 = shift_base - (self.nb >> 11);
        let wd3 = if wd2 < 0 { ILB[wd1 as usize] << -wd2 } else { ILB[wd1 as usize] >> wd2 };
        self.det = wd3 << 2;
    }

    /// Block 4: reconstruction, pole/zero predictor adaptation and prediction.
    fn update(&mut self, d: i32) {
        self.d[0] = d;
        self.r[0] = sat(self.s + d);
        self.p[0] = sat(self.sz + d);
        // UPPOL2
        for i in 0..3 {
            self.sg[i] = self.p[i] >> 15;
        }
        let wd1 = sat(self.a[1] << 2);
        let mut wd2 = if self.sg[0] == self.sg[1] { -wd1 } else { wd1 };
        wd2 = wd2.min(32767);
        let mut wd3 = (wd2 >> 7) + if self.sg[0] == self.sg[2] { 128 } else { -128 };
        wd3 += (self.a[2] * 32512) >> 15;
        self.ap[2] = wd3.clamp(-12288, 12288);
        // UPPOL1
        self.sg[0] = self.p[0] >> 15;
        self.sg[1] = self.p[1] >> 15;
        let wd1 = if self.sg[0] == self.sg[1] { 192 } else { -192 };
        let wd2 = (self.a[1] * 32640) >> 15;
        self.ap[1] = sat(wd1 + wd2);
        let wd3 = sat(15360 - self.ap[2]);
        self.ap[1] = self.ap[1].clamp(-wd3, wd3);
        // UPZERO
        let step = if d == 0 { 0 } else { 128 };
        self.sg[0] = d >> 15;
        for i in 1..7 {
            self.sg[i] = self.d[i] >> 15;
            let wd2 = if self.sg[i] == self.sg[0] { step } else { -step };
            let wd3 = (self.b[i] * 32640) >> 15;
            self.bp[i] = sat(wd2 + wd3);
        }
        // DELAYA
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
            self.b[i] = self.bp[i];
        }
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
            self.a[i] = self.ap[i];
        }
        // FILTEP
        let wd1 = (self.a[1] * sat(self.r[1] + self.r[1])) >> 15;
        let wd2 = (self.a[2] * sat(self.r[2] + self.r[2])) >> 15;
        self.sp = sat(wd1 + wd2);
        // FILTEZ
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat(sz);
        // PREDIC
        self.s = sat(self.sp + self.sz);
    }
}

/// G.722 encoder: 16 kHz samples in, one byte per two samples out.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the standard's reset state, as at the start of a stream.
    pub fn new() -> Self {
        Self { x: [0; 24], low: Band::new(), high: Band::new_high() }
    }

    /// Encodes `pcm` (an even number of 16 kHz samples; a trailing odd sample is ignored) into `out`, which
    /// must hold `pcm.len() / 2` bytes. Returns the bytes written.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = (pcm.len() / 2).min(out.len());
        for (pair, byte) in pcm.chunks_exact(2).zip(out.iter_mut()).take(n) {
            // Transmit QMF: split into low and high bands at 8 kHz.
            self.x.copy_within(2.., 0);
            self.x[22] = pair[0] as i32;
            self.x[23] = pair[1] as i32;
            let (mut sum_odd, mut sum_even) = (0, 0);
            for i in 0..12 {
                sum_odd += self.x[2 * i] * QMF[i];
                sum_even += self.x[2 * i + 1] * QMF[11 - i];
            }
            let xlow = (sum_even + sum_odd) >> 14;
            let xhigh = (sum_even - sum_odd) >> 14;

            // Low band: SUBTRA, QUANTL, INVQAL, LOGSCL/SCALEL, block 4.
            let el = sat(xlow - self.low.s);
            let wd = if el >= 0 { el } else { -(el + 1) };
            let mut i = 1;
            while i < 30 && wd >= (Q6[i] * self.low.det) >> 12 {
                i += 1;
            }
            let ilow = if el < 0 { ILN[i] } else { ILP[i] };
            let ril = (ilow >> 2) as usize;
            let dlow = (self.low.det * QM4[ril]) >> 15;
            self.low.adapt_scale(WL[RL42[ril] as usize], 18432, 8);
            self.low.update(dlow);

            // High band: SUBTRA, QUANTH, INVQAH, LOGSCH/SCALEH, block 4.
            let eh = sat(xhigh - self.high.s);
            let wd = if eh >= 0 { eh } else { -(eh + 1) };
            let mih = if wd >= (564 * self.high.det) >> 12 { 2 } else { 1 };
            let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
            let dhigh = (self.high.det * QM2[ihigh as usize]) >> 15;
            self.high.adapt_scale(WH[RH2[ihigh as usize] as usize], 22528, 10);
            self.high.update(dhigh);

            *byte = ((ihigh << 6) | ilow) as u8;
        }
        n
    }
}

/// G.722 decoder: one byte in, two 16 kHz samples out.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the standard's reset state, as at the start of a stream.
    pub fn new() -> Self {
        Self { x: [0; 24], low: Band::new(), high: Band::new_high() }
    }

    /// Decodes `data` into `out` (which must hold `2 * data.len()` samples). Returns the samples written.
    pub fn decode(&mut self, data: &[u8], out: &mut [i16]) -> usize {
        let n = data.len().min(out.len() / 2);
        for (code, pair) in data.iter().zip(out.chunks_exact_mut(2)).take(n) {
            let code = *code as i32;
            let ilow = (code & 0x3f) as usize;
            let ihigh = ((code >> 6) & 0x3) as usize;

            // Low band: INVQBL + RECONS + LIMIT for output; INVQAL for adaptation.
            let rlow = (self.low.s + ((self.low.det * QM6[ilow]) >> 15)).clamp(-16384, 16383);
            let ril = ilow >> 2;
            let dlow = (self.low.det * QM4[ril]) >> 15;
            self.low.adapt_scale(WL[RL42[ril] as usize], 18432, 8);
            self.low.update(dlow);

            // High band.
            let dhigh = (self.high.det * QM2[ihigh]) >> 15;
            let rhigh = (dhigh + self.high.s).clamp(-16384, 16383);
            self.high.adapt_scale(WH[RH2[ihigh] as usize], 22528, 10);
            self.high.update(dhigh);

            // Receive QMF: recombine the bands into two output samples.
            self.x.copy_within(2.., 0);
            self.x[22] = rlow + rhigh;
            self.x[23] = rlow - rhigh;
            let (mut out1, mut out2) = (0, 0);
            for i in 0..12 {
                out2 += self.x[2 * i] * QMF[i];
                out1 += self.x[2 * i + 1] * QMF[11 - i];
            }
            pair[0] = sat(out1 >> 11) as i16;
            pair[1] = sat(out2 >> 11) as i16;
        }
        n * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f32 * freq * std::f32::consts::TAU / 16000.0).sin() * 8000.0) as i16).collect()
    }

    /// Signal-to-noise ratio of `decoded` against `reference`, aligned by the best lag (the QMF pair delays).
    fn snr_db(reference: &[i16], decoded: &[i16]) -> f32 {
        (0..40)
            .map(|lag| {
                let (mut sig, mut noise) = (0f64, 0f64);
                for i in 400..reference.len() - 40 {
                    let r = reference[i] as f64;
                    let d = decoded[i + lag] as f64;
                    sig += r * r;
                    noise += (r - d) * (r - d);
                }
                (10.0 * (sig / noise.max(1.0)).log10()) as f32
            })
            .fold(f32::MIN, f32::max)
    }

    #[test]
    fn tones_survive_a_round_trip_in_both_bands() {
        for freq in [440.0, 1000.0, 3000.0, 5500.0] {
            let pcm = tone(freq, 3200);
            let mut enc = G722Encoder::new();
            let mut dec = G722Decoder::new();
            let mut bytes = vec![0u8; 1600];
            assert_eq!(enc.encode(&pcm, &mut bytes), 1600);
            let mut out = vec![0i16; 3200];
            assert_eq!(dec.decode(&bytes, &mut out), 3200);
            let snr = snr_db(&pcm, &out);
            assert!(snr > 15.0, "{freq} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn short_output_buffers_are_respected() {
        let mut enc = G722Encoder::new();
        let mut out = [0u8; 3];
        assert_eq!(enc.encode(&[0i16; 20], &mut out), 3);
        let mut dec = G722Decoder::new();
        let mut pcm = [0i16; 5];
        assert_eq!(dec.decode(&[0u8; 10], &mut pcm), 4);
    }
}
