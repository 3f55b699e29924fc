//! Just enough WAV for model input and output: 16-bit PCM (and 32-bit float) in, 16-bit PCM out. Tolerates
//! the streaming header espeak-ng writes to a pipe (sizes of 0x7fffffff), which strict readers reject.

use crate::Error;

/// A decoded WAV: sample rate, channels, interleaved samples normalised to ±1.
#[derive(Debug)]
pub struct Wav {
    /// Samples per second.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// The samples, interleaved, in ±1.
    pub samples: Vec<f32>,
}

impl Wav {
    /// The file mixed down to mono.
    pub fn mono(&self) -> Vec<f32> {
        let ch = self.channels.max(1) as usize;
        self.samples.chunks(ch).map(|frame| frame.iter().sum::<f32>() / ch as f32).collect()
    }
}

/// Parses a RIFF/WAVE file.
pub fn parse(bytes: &[u8]) -> Result<Wav, Error> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(Error::Format("not a WAV file (no RIFF/WAVE header)".into()));
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        let body = at + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > bytes.len() {
                return Err(Error::Format("WAV fmt chunk too short".into()));
            }
            let f = &bytes[body..body + 16];
            let tag = u16::from_le_bytes([f[0], f[1]]);
            let channels = u16::from_le_bytes([f[2], f[3]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            let bits = u16::from_le_bytes([f[14], f[15]]);
            format = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let (tag, channels, rate, bits) =
                format.ok_or_else(|| Error::Format("WAV data before its fmt chunk".into()))?;
            // A streamed header carries a placeholder size: the data runs to the end.
            let data = &bytes[body..(body.saturating_add(size)).min(bytes.len())];
            let samples = match (tag, bits) {
                (1 | 0xFFFE, 16) => {
                    data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect()
                }
                (3 | 0xFFFE, 32) => {
                    data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
                }
                _ => {
                    return Err(Error::Unsupported(format!(
                        "WAV format {tag} with {bits}-bit samples (16-bit PCM or 32-bit float expected)"
                    )))
                }
            };
            if channels == 0 || rate == 0 {
                return Err(Error::Format("WAV with zero channels or sample rate".into()));
            }
            return Ok(Wav { rate, channels, samples });
        }
        at = body.saturating_add(size + (size & 1));
    }
    Err(Error::Format("WAV file has no data chunk".into()))
}

/// Parses a mono 16-bit WAV into its rate and samples.
pub fn parse_pcm16(bytes: &[u8]) -> Result<(u32, Vec<i16>), Error> {
    let wav = parse(bytes)?;
    let pcm = wav.mono().iter().map(|s| (s * 32768.0).clamp(-32768.0, 32767.0) as i16).collect();
    Ok((wav.rate, pcm))
}

/// A mono 16-bit PCM WAV file.
pub fn encode_pcm16(rate: u32, pcm: &[i16]) -> Vec<u8> {
    let data_len = (pcm.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + pcm.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_streamed_headers() {
        let pcm = [0i16, 1000, -1000, 32767];
        let bytes = encode_pcm16(8000, &pcm);
        assert_eq!(parse_pcm16(&bytes).unwrap(), (8000, pcm.to_vec()));
        let mut streamed = bytes.clone();
        streamed[40..44].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        assert_eq!(parse_pcm16(&streamed).unwrap().1, pcm.to_vec());
        assert!(parse(b"RIFF\0\0\0\0WAVE").unwrap_err().to_string().contains("no data chunk"));
        assert!(parse(b"hello").unwrap_err().to_string().contains("not a WAV"));
    }
}
