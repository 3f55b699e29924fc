//! Voice activity detection, sans-IO: a per-frame speech-probability model behind the [`SpeechProbability`]
//! trait (today an adaptive energy model; Silero and WebRTC join it with the local-models work) and the
//! [`VadGate`] that turns probabilities into `SpeechStarted`/`SpeechStopped` with the original VoicEra's
//! parameters: a frame counts as speech when its probability reaches `confidence` and its volume reaches
//! `min_volume`; `start_secs` of speech starts a turn, `stop_secs` of non-speech ends it.
//! Time is counted in audio, not read from a clock, so the gate is deterministic.

use crate::dsp::rms;

/// Gate parameters. Defaults are the original's Silero settings (`voice_2_voice_server/api/bot.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadParams {
    /// Speech probability (0–1) at which a frame counts as speech.
    pub confidence: f32,
    /// Seconds of speech that start a turn.
    pub start_secs: f32,
    /// Seconds of non-speech that end it.
    pub stop_secs: f32,
    /// Volume (0–1, see [`volume`]) a frame needs to count as speech, so quiet noise does not.
    pub min_volume: f32,
}

impl Default for VadParams {
    fn default() -> Self {
        Self { confidence: 0.3, start_secs: 0.1, stop_secs: 0.4, min_volume: 0.4 }
    }
}

impl VadParams {
    /// The profile the original uses with Bhashini STT.
    pub fn bhashini() -> Self {
        Self { confidence: 0.7, start_secs: 0.2, stop_secs: 0.2, min_volume: 0.6 }
    }
}

pub use voicera_models::SpeechProbability;

/// Speech probability from energy above an adaptive noise floor: cheap (one pass over the frame), good
/// enough to gate a heavier model, and robust to steady line noise because the floor follows it.
#[derive(Debug, Clone)]
pub struct EnergyModel {
    /// Noise floor estimate, linear RMS (0..1).
    floor: f32,
}

impl Default for EnergyModel {
    fn default() -> Self {
        // −60 dBFS: a quiet line until measured otherwise.
        Self { floor: 0.001 }
    }
}

impl SpeechProbability for EnergyModel {
    fn probability(&mut self, frame: &[i16]) -> f32 {
        let level = rms(frame).max(1e-6);
        // The floor falls fast (silence is reached quickly) and rises slowly (speech must not lift it).
        let rate = if level < self.floor { 0.2 } else { 0.005 };
        self.floor = (self.floor + (level - self.floor) * rate).max(1e-5);
        let snr_db = 20.0 * (level / self.floor).log10();
        // 6 dB above the floor is even odds; 18 dB is near certainty.
        1.0 / (1.0 + (-(snr_db - 6.0) / 3.0).exp())
    }
}

/// Frame volume on the 0–1 scale `min_volume` is expressed in: dBFS mapped linearly from −60 (0) to 0 (1), so
/// the default 0.4 is −36 dBFS — quieter than any speech on a phone line, louder than line hiss.
pub fn volume(frame: &[i16]) -> f32 {
    let db = 20.0 * rms(frame).max(1e-6).log10();
    ((db + 60.0) / 60.0).clamp(0.0, 1.0)
}

/// What the gate reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// The caller started speaking (`start_secs` of speech).
    SpeechStarted,
    /// The caller stopped (`stop_secs` of non-speech).
    SpeechStopped,
}

/// Runs are counted in 16 kHz samples: integers, so 0.4 s is exactly 20 frames of 20 ms. (Counting in
/// `Duration::from_secs_f32(0.4)` gave 400.000006 ms, which took a 21st frame: 20 ms on every turn.)
#[derive(Debug, Clone, Copy, PartialEq)]
enum GateState {
    Quiet { speech_run: usize },
    Speaking { quiet_run: usize },
}

fn samples_of(secs: f32) -> usize {
    (secs.max(0.0) * 16_000.0).round() as usize
}

/// Turns per-frame probabilities into speech start/stop events.
pub struct VadGate<M: SpeechProbability> {
    params: VadParams,
    model: M,
    state: GateState,
    /// Smoothed volume: rises at once, decays by 20 % per frame. Pipecat smooths both ways, which delays the
    /// start of speech by ~100 ms; a fast attack keeps barge-in within budget while the slow release still
    /// bridges the dips between syllables.
    smoothed_volume: f32,
    /// Whether the last frame was speech by the model and the volume, before the gate's start/stop times.
    voiced: bool,
}

impl<M: SpeechProbability> VadGate<M> {
    /// A gate using `model`, quiet until speech starts.
    pub fn new(params: VadParams, model: M) -> Self {
        Self { params, model, state: GateState::Quiet { speech_run: 0 }, smoothed_volume: 0.0, voiced: false }
    }

    /// Whether the last frame held voice (the raw decision, without the gate's hangover): what barge-in
    /// measures a caller's speech by, so that a cough's stop time does not count as speech.
    pub fn heard_voice(&self) -> bool {
        self.voiced
    }

    /// Whether the gate is in a turn (between start and stop).
    pub fn is_speaking(&self) -> bool {
        matches!(self.state, GateState::Speaking { .. })
    }

    /// While the caller is speaking: how long they have been quiet (zero while they talk). `None` when no
    /// speech is in progress.
    pub fn quiet_for(&self) -> Option<std::time::Duration> {
        match self.state {
            GateState::Speaking { quiet_run } => {
                Some(std::time::Duration::from_micros(quiet_run as u64 * 1_000_000 / 16_000))
            }
            GateState::Quiet { .. } => None,
        }
    }

    /// Ends the speech in progress now (a turn detector decided before the stop time ran out), as if the stop
    /// time had passed.
    pub fn end_speech(&mut self) {
        self.state = GateState::Quiet { speech_run: 0 };
    }

    /// Feeds one 16 kHz frame; returns an event when the state changes.
    pub fn process(&mut self, frame: &[i16]) -> Option<VadEvent> {
        let duration = frame.len();
        let probability = self.model.probability(frame);
        let current = volume(frame);
        self.smoothed_volume = if current > self.smoothed_volume {
            current
        } else {
            self.smoothed_volume + (current - self.smoothed_volume) * 0.2
        };
        let speech = probability >= self.params.confidence && self.smoothed_volume >= self.params.min_volume;
        self.voiced = speech;
        let start = samples_of(self.params.start_secs);
        let stop = samples_of(self.params.stop_secs);
        match (&mut self.state, speech) {
            (GateState::Quiet { speech_run }, true) => {
                *speech_run += duration;
                if *speech_run >= start {
                    self.state = GateState::Speaking { quiet_run: 0 };
                    return Some(VadEvent::SpeechStarted);
                }
            }
            (GateState::Quiet { speech_run }, false) => *speech_run = 0,
            (GateState::Speaking { quiet_run }, false) => {
                *quiet_run += duration;
                if *quiet_run >= stop {
                    self.state = GateState::Quiet { speech_run: 0 };
                    return Some(VadEvent::SpeechStopped);
                }
            }
            (GateState::Speaking { quiet_run }, true) => *quiet_run = 0,
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms frames: `silence_ms` of low noise, `speech_ms` of a loud vowel-like tone, then silence again.
    fn signal(silence_ms: usize, speech_ms: usize, tail_ms: usize) -> Vec<[i16; 320]> {
        let mut seed = 7u32;
        let mut noise = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) as i16 % 30) as f32
        };
        let mut frames = Vec::new();
        let mut t = 0usize;
        for (ms, loud) in [(silence_ms, false), (speech_ms, true), (tail_ms, false)] {
            for _ in 0..ms / 20 {
                let mut f = [0i16; 320];
                for s in f.iter_mut() {
                    let x = t as f32 / 16000.0;
                    let voice = if loud {
                        6000.0 * (x * 220.0 * std::f32::consts::TAU).sin() * (1.0 + 0.3 * (x * 3.0).sin())
                    } else {
                        0.0
                    };
                    *s = (voice + noise()) as i16;
                    t += 1;
                }
                frames.push(f);
            }
        }
        frames
    }

    fn events(params: VadParams, frames: &[[i16; 320]]) -> Vec<(usize, VadEvent)> {
        let mut gate = VadGate::new(params, EnergyModel::default());
        frames.iter().enumerate().filter_map(|(i, f)| gate.process(f).map(|e| (i * 20, e))).collect()
    }

    #[test]
    fn speech_span_is_found_with_the_original_timings() {
        let e = events(VadParams::default(), &signal(1000, 1500, 1000));
        assert_eq!(e.len(), 2, "{e:?}");
        let (start, stop) = (e[0].0, e[1].0);
        // Starts once 0.1 s of speech is heard; stops 0.4 s after speech ends.
        assert!((1080..=1140).contains(&start), "started at {start} ms");
        assert!((2880..=3000).contains(&stop), "stopped at {stop} ms");
    }

    #[test]
    fn start_and_stop_take_exactly_their_frame_counts() {
        // Speech in frames 50..100, then silence: the 5th speech frame (index 54) starts the turn and the 20th
        // quiet frame (index 119) ends it: 0.1 s and 0.4 s to the frame, not one frame more.
        let e = events(VadParams::default(), &signal(1000, 1000, 1000));
        assert_eq!(e, vec![(54 * 20, VadEvent::SpeechStarted), (119 * 20, VadEvent::SpeechStopped)]);
    }

    #[test]
    fn short_clicks_do_not_start_a_turn() {
        assert!(events(VadParams::default(), &signal(1000, 60, 1000)).is_empty());
    }

    #[test]
    fn bhashini_profile_stops_sooner() {
        let e = events(VadParams::bhashini(), &signal(1000, 1500, 1000));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[1].0 < 2800, "stopped at {} ms", e[1].0);
    }

    #[test]
    fn steady_line_noise_is_not_speech() {
        let mut frames = signal(0, 0, 0);
        let mut seed = 3u32;
        for _ in 0..200 {
            let mut f = [0i16; 320];
            for s in f.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *s = ((seed >> 16) as i16) / 40; // about −38 dBFS of hiss
            }
            frames.push(f);
        }
        assert!(events(VadParams::default(), &frames).is_empty());
    }
}
