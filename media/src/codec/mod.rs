//! Audio codecs behind one [`Codec`] trait: G.711 μ-law/A-law, G.722, Opus and L16.
//!
//! A codec turns PCM at its own rate ([`Codec::pcm_rate`]) into RTP payloads and back. Callers resample to and
//! from the engine's 16 kHz. Encoders and decoders write into caller buffers, so steady-state media needs no
//! allocation.

pub mod g711;
pub mod g722;

use voicera_sip::sdp::RtpMap;

/// Codecs this node can negotiate, in the default preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// Opus (RFC 7587): wideband and robust to loss; first choice when the peer offers it.
    Opus,
    /// G.722 at 16 kHz (with its RFC 3551 8 kHz RTP clock).
    G722,
    /// G.711 µ-law, 8 kHz: what every phone network speaks.
    Pcmu,
    /// G.711 A-law, 8 kHz: the European variant.
    Pcma,
    /// Linear 16-bit big-endian PCM (RFC 3551 L16) at the given rate, mono.
    L16(u32),
}

impl CodecKind {
    /// The SDP encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Opus => "opus",
            CodecKind::G722 => "G722",
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::L16(_) => "L16",
        }
    }

    /// Parses a configuration name (`pcmu`, `pcma`, `g722`, `opus`, `l16`, `l16/8000`).
    pub fn from_config_name(name: &str) -> Option<CodecKind> {
        match name.to_ascii_lowercase().as_str() {
            "opus" => Some(CodecKind::Opus),
            "g722" => Some(CodecKind::G722),
            "pcmu" | "ulaw" => Some(CodecKind::Pcmu),
            "pcma" | "alaw" => Some(CodecKind::Pcma),
            "l16" | "l16/16000" => Some(CodecKind::L16(16000)),
            "l16/8000" => Some(CodecKind::L16(8000)),
            _ => None,
        }
    }

    /// Whether an offered rtpmap is this codec.
    pub fn matches(self, map: &RtpMap) -> bool {
        if !map.encoding.eq_ignore_ascii_case(self.encoding_name()) {
            return false;
        }
        match self {
            CodecKind::Opus => map.clock_rate == 48000,
            CodecKind::G722 | CodecKind::Pcmu | CodecKind::Pcma => map.clock_rate == 8000,
            CodecKind::L16(rate) => map.clock_rate == rate && map.channels == 1,
        }
    }

    /// RTP timestamp units per second.
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Opus => 48000,
            // RFC 3551 §4.5.2: G.722's RTP clock is 8 kHz although it samples at 16 kHz.
            CodecKind::G722 | CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::L16(rate) => rate,
        }
    }

    /// PCM rate the codec's encoder takes and decoder gives.
    pub fn pcm_rate(self) -> u32 {
        match self {
            // libopus encodes and decodes at 16 kHz directly: no resampling to and from the engine's rate.
            CodecKind::Opus | CodecKind::G722 => 16000,
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::L16(rate) => rate,
        }
    }

    /// The static payload type, if any.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            CodecKind::Pcmu => Some(0),
            CodecKind::Pcma => Some(8),
            CodecKind::G722 => Some(9),
            _ => None,
        }
    }

    /// SDP `a=rtpmap` line values when we offer/answer it with `pt`.
    pub fn rtpmap(self, payload_type: u8) -> RtpMap {
        RtpMap {
            payload_type,
            encoding: self.encoding_name().to_string(),
            clock_rate: self.rtp_clock_rate(),
            channels: if self == CodecKind::Opus { 2 } else { 1 },
        }
    }

    /// Builds an encoder/decoder pair.
    pub fn build(self) -> Result<Box<dyn Codec>, CodecError> {
        Ok(match self {
            CodecKind::Pcmu => Box::new(G711 { alaw: false }),
            CodecKind::Pcma => Box::new(G711 { alaw: true }),
            CodecKind::G722 => Box::new(G722 { encoder: g722::G722Encoder::new(), decoder: g722::G722Decoder::new() }),
            CodecKind::Opus => Box::new(Opus::new()?),
            CodecKind::L16(rate) => Box::new(L16 { rate }),
        })
    }
}

/// Codec failures. Decoding errors are per packet: the caller counts and conceals, the call goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The caller's output buffer cannot hold a decoded frame of this codec.
    #[error("output buffer too small for the {0} frame")]
    BufferTooSmall(&'static str),
    /// libopus refused to encode or decode (its message).
    #[error("opus: {0}")]
    Opus(String),
}

/// One negotiated codec: encoder and decoder state for a call.
pub trait Codec: Send {
    /// Which codec this is (for the SDP answer and the payload type).
    fn kind(&self) -> CodecKind;

    /// PCM rate of [`Codec::encode`] input and [`Codec::decode`] output.
    fn pcm_rate(&self) -> u32 {
        self.kind().pcm_rate()
    }

    /// Encodes one frame of PCM; returns payload bytes written.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError>;

    /// Decodes one payload; returns samples written.
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError>;

    /// Codec-native loss concealment for `samples` missing samples, if the codec has one (Opus). `Ok(None)`
    /// means the caller conceals by itself.
    fn conceal(&mut self, _samples: usize, _out: &mut [i16]) -> Result<Option<usize>, CodecError> {
        Ok(None)
    }
}

struct G711 {
    alaw: bool,
}

impl Codec for G711 {
    fn kind(&self) -> CodecKind {
        if self.alaw {
            CodecKind::Pcma
        } else {
            CodecKind::Pcmu
        }
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if out.len() < pcm.len() {
            return Err(CodecError::BufferTooSmall("G.711"));
        }
        // One loop per law, so each table lookup is inlined (a function pointer chosen per packet is not).
        if self.alaw {
            convert_each(pcm, out, g711::linear_to_alaw);
        } else {
            convert_each(pcm, out, g711::linear_to_ulaw);
        }
        Ok(pcm.len())
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        if out.len() < payload.len() {
            return Err(CodecError::BufferTooSmall("G.711"));
        }
        if self.alaw {
            convert_each(payload, out, g711::alaw_to_linear);
        } else {
            convert_each(payload, out, g711::ulaw_to_linear);
        }
        Ok(payload.len())
    }
}

#[inline(always)]
fn convert_each<A: Copy, B>(input: &[A], out: &mut [B], convert: impl Fn(A) -> B) {
    for (o, x) in out.iter_mut().zip(input) {
        *o = convert(*x);
    }
}

struct G722 {
    encoder: g722::G722Encoder,
    decoder: g722::G722Decoder,
}

impl Codec for G722 {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if out.len() < pcm.len() / 2 {
            return Err(CodecError::BufferTooSmall("G.722"));
        }
        Ok(self.encoder.encode(pcm, out))
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        if out.len() < payload.len() * 2 {
            return Err(CodecError::BufferTooSmall("G.722"));
        }
        Ok(self.decoder.decode(payload, out))
    }
}

/// Opus in VoIP mode, mono, at 16 kHz PCM.
struct Opus {
    encoder: opus::Encoder,
    decoder: opus::Decoder,
}

impl Opus {
    fn new() -> Result<Self, CodecError> {
        let err = |e: opus::Error| CodecError::Opus(e.to_string());
        let mut encoder = opus::Encoder::new(16000, opus::Channels::Mono, opus::Application::Voip).map_err(err)?;
        // Inband FEC lets the far end recover single losses; the small bitrate cost is worth it on phone links.
        encoder.set_inband_fec(true).map_err(err)?;
        encoder.set_packet_loss_perc(5).map_err(err)?;
        let decoder = opus::Decoder::new(16000, opus::Channels::Mono).map_err(err)?;
        Ok(Self { encoder, decoder })
    }
}

impl Codec for Opus {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        self.encoder.encode(pcm, out).map_err(|e| CodecError::Opus(e.to_string()))
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.decoder.decode(payload, out, false).map_err(|e| CodecError::Opus(e.to_string()))
    }

    fn conceal(&mut self, samples: usize, out: &mut [i16]) -> Result<Option<usize>, CodecError> {
        let n = samples.min(out.len());
        // An empty packet asks libopus for its own concealment.
        self.decoder.decode(&[], &mut out[..n], false).map(Some).map_err(|e| CodecError::Opus(e.to_string()))
    }
}

struct L16 {
    rate: u32,
}

impl Codec for L16 {
    fn kind(&self) -> CodecKind {
        CodecKind::L16(self.rate)
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if out.len() < pcm.len() * 2 {
            return Err(CodecError::BufferTooSmall("L16"));
        }
        for (o, s) in out.chunks_exact_mut(2).zip(pcm) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        Ok(pcm.len() * 2)
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let n = payload.len() / 2;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall("L16"));
        }
        for (o, b) in out.iter_mut().zip(payload.chunks_exact(2)) {
            *o = i16::from_be_bytes([b[0], b[1]]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_a_20ms_frame() {
        for kind in [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::G722, CodecKind::Opus, CodecKind::L16(16000)] {
            let mut codec = kind.build().unwrap();
            let n = (codec.pcm_rate() / 50) as usize;
            let pcm: Vec<i16> = (0..n).map(|i| ((i as f32 * 0.2).sin() * 5000.0) as i16).collect();
            let mut payload = [0u8; 1500];
            let mut out = [0i16; 1920];
            let mut energy = 0f64;
            // Several frames so that adaptive codecs settle.
            for _ in 0..5 {
                let bytes = codec.encode(&pcm, &mut payload).unwrap();
                let samples = codec.decode(&payload[..bytes], &mut out).unwrap();
                assert_eq!(samples, n, "{kind:?}");
                energy = out[..n].iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / n as f64;
            }
            assert!(energy.sqrt() > 1000.0, "{kind:?} lost the signal: rms {}", energy.sqrt());
        }
    }

    #[test]
    fn opus_conceals_a_lost_frame() {
        let mut codec = CodecKind::Opus.build().unwrap();
        let mut out = [0i16; 320];
        assert_eq!(codec.conceal(320, &mut out).unwrap(), Some(320));
        let mut pcmu = CodecKind::Pcmu.build().unwrap();
        assert_eq!(pcmu.conceal(160, &mut out).unwrap(), None);
    }

    #[test]
    fn malformed_opus_is_an_error_not_a_panic() {
        let mut codec = CodecKind::Opus.build().unwrap();
        let mut out = [0i16; 1920];
        for junk in [&[0xffu8, 0xff, 0xff][..], &[0x03], &[0x0b, 0x00]] {
            let _ = codec.decode(junk, &mut out);
        }
    }
}
