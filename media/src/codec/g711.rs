//! G.711 μ-law and A-law (ITU-T G.711), table-driven in both directions: decoding is one lookup per byte and
//! encoding one lookup per sample in a 16 KiB table built at compile time.

/// μ-law byte → linear sample.
static ULAW_TO_LINEAR: [i16; 256] = build_ulaw_decode();
/// A-law byte → linear sample.
static ALAW_TO_LINEAR: [i16; 256] = build_alaw_decode();
/// Linear sample (top 14 bits) → μ-law byte.
static LINEAR_TO_ULAW: [u8; 16384] = build_ulaw_encode();
/// Linear sample (top 13 bits) → A-law byte.
static LINEAR_TO_ALAW: [u8; 8192] = build_alaw_encode();

const fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let t = ((((u & 0x0f) as i32) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Reference μ-law encoder (the classic Sun g711.c algorithm), used only to build the table.
const fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut pcm = sample as i32;
    let mask;
    if pcm < 0 {
        pcm = -pcm;
        mask = 0x7f;
    } else {
        mask = 0xff;
    }
    if pcm > CLIP {
        pcm = CLIP;
    }
    pcm += BIAS;
    let mut seg = 0;
    let mut v = pcm >> 7;
    while v > 1 && seg < 7 {
        v >>= 1;
        seg += 1;
    }
    let uval = (seg << 4) | ((pcm >> (seg + 3)) & 0x0f);
    (uval ^ mask) as u8
}

/// Reference A-law encoder, used only to build the table.
const fn alaw_encode(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask;
    if pcm >= 0 {
        mask = 0xd5;
    } else {
        mask = 0x55;
        pcm = -pcm - 1;
    }
    let mut seg = 0;
    let seg_end = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
    while seg < 8 && pcm > seg_end[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return (0x7f ^ mask) as u8;
    }
    let aval = (seg as i32) << 4;
    let aval = if seg < 2 { aval | ((pcm >> 1) & 0x0f) } else { aval | ((pcm >> seg) & 0x0f) };
    (aval ^ mask) as u8
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode(i as u8);
        i += 1;
    }
    t
}

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // Index = sample >> 2 as an unsigned 14-bit value; encode the centre of the bucket.
        let sample = ((i as i32) << 2) as i16 as i32;
        let sample = if i >= 8192 { sample - 65536 } else { sample };
        t[i] = ulaw_encode(sample as i16);
        i += 1;
    }
    t
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        let sample = (i as i32) << 3;
        let sample = if i >= 4096 { sample - 65536 } else { sample };
        t[i] = alaw_encode(sample as i16);
        i += 1;
    }
    t
}

/// Decodes a G.711 µ-law byte (PCMU) to a linear sample, by table.
#[inline]
pub fn ulaw_to_linear(byte: u8) -> i16 {
    ULAW_TO_LINEAR[byte as usize]
}

/// Decodes a G.711 A-law byte (PCMA) to a linear sample, by table.
#[inline]
pub fn alaw_to_linear(byte: u8) -> i16 {
    ALAW_TO_LINEAR[byte as usize]
}

/// Encodes a linear sample as G.711 µ-law (PCMU), by table (14-bit input, as the law defines).
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    LINEAR_TO_ULAW[((sample as u16) >> 2) as usize]
}

/// Encodes a linear sample as G.711 A-law (PCMA), by table (13-bit input, as the law defines).
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    LINEAR_TO_ALAW[((sample as u16) >> 3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_reference_encoders() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            // The table quantises the input to 14/13 bits first, which the companding step sizes absorb.
            assert_eq!(linear_to_ulaw(s), ulaw_encode(s & !3), "ulaw {s}");
            assert_eq!(linear_to_alaw(s), alaw_encode(s & !7), "alaw {s}");
        }
    }

    #[test]
    fn round_trip_error_is_within_the_segment_step() {
        for s in (-32000i16..=32000).step_by(13) {
            let u = ulaw_to_linear(linear_to_ulaw(s)) as i32;
            let a = alaw_to_linear(linear_to_alaw(s)) as i32;
            let tolerance = (s as i32).abs() / 16 + 16;
            assert!((u - s as i32).abs() <= tolerance, "ulaw {s} -> {u}");
            assert!((a - s as i32).abs() <= tolerance, "alaw {s} -> {a}");
        }
    }

    #[test]
    fn known_code_points() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(alaw_to_linear(0x55), -8);
    }
}
