//! The caller every agent scenario plays, whatever the transport: 20 ms μ-law frames at real pace, a 1.2 s
//! utterance every 5 s, and the measure of what the server adds to a turn.

use std::time::Duration;

/// The VAD's stop time: the caller must be quiet this long before the turn ends (the original's 0.4 s).
pub const VAD_STOP: Duration = Duration::from_millis(400);
/// One turn: 1 s silence, 1.2 s speech, then silence (the reply plays) up to 5 s, in 20 ms frames.
pub const TURN_FRAMES: usize = 250;
pub const SPEECH_START: usize = 50;
pub const SPEECH_END: usize = 110;

/// What the caller sends as frame `n` of the call: speech, or the low hiss of a real line between
/// utterances (not digital silence, which servers can skip cheaply and real trunks rarely send).
pub struct CallerScript {
    speech: Vec<Vec<u8>>,
    hiss: Vec<Vec<u8>>,
}

/// Distinct frames of line hiss, cycled.
const HISS_FRAMES: usize = 50;

impl Default for CallerScript {
    fn default() -> Self {
        Self { speech: (0..SPEECH_END - SPEECH_START).map(tone_frame).collect(), hiss: hiss_frames() }
    }
}

impl CallerScript {
    pub fn frame(&self, n: usize) -> &[u8] {
        let phase = n % TURN_FRAMES;
        if (SPEECH_START..SPEECH_END).contains(&phase) {
            &self.speech[phase - SPEECH_START]
        } else {
            &self.hiss[n % HISS_FRAMES]
        }
    }

    /// Whether frame `n` is the last of an utterance: once it is sent, the caller's speech has ended (a
    /// provider or phone sends each frame once it has been captured).
    pub fn ends_speech(n: usize) -> bool {
        n % TURN_FRAMES == SPEECH_END - 1
    }
}

/// μ-law of a 300 Hz tone (speech for an energy VAD; the stand-in STT hears "what time is it").
fn tone_frame(tick: usize) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = (tick * 160 + i) as f32 / 8000.0;
            voicera_media::codec::g711::linear_to_ulaw(((t * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
        })
        .collect()
}

/// μ-law frames of white noise at about −60 dBFS.
fn hiss_frames() -> Vec<Vec<u8>> {
    let mut seed = 0x2545_f491_u32;
    (0..HISS_FRAMES)
        .map(|_| {
            (0..160)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let sample = (seed % 61) as i16 - 30;
                    voicera_media::codec::g711::linear_to_ulaw(sample)
                })
                .collect()
        })
        .collect()
}

/// Server-added latency of one turn: from the end of speech to the first reply audio, less the VAD's stop
/// time, in ms.
pub fn server_added_ms(speech_ended: std::time::Instant) -> f64 {
    speech_ended.elapsed().saturating_sub(VAD_STOP).as_secs_f64() * 1000.0
}

/// p50/p90/p99 of a sample (sorted here); zeros when empty.
pub fn percentiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| if values.is_empty() { 0.0 } else { values[((values.len() - 1) as f64 * q).round() as usize] };
    (pick(0.5), pick(0.9), pick(0.99))
}
