//! The barge-in caller, as a pure state machine: what it says when, and what it measures of the agent. The
//! transports ([`crate::barge_in_run`]) feed it the agent's audio as it arrives and send the frame it hands
//! them every 20 ms; time is passed in.
//!
//! The script: wait for the greeting to play out; ask a question (espeak-ng speech, rendered once, the same
//! for every caller); once the reply's audio has played for `barge_after`, speak the next request over it,
//! its first voiced frame going out while the agent's audio is arriving (a reply that pauses between clauses
//! is waited for, up to 2 s of quiet); and so on, each request an interruption of the previous reply. Each
//! utterance is sent from its first voiced frame (espeak's leading silence is dropped). Measured:
//! - stop time: the onset of the caller's speech (the frame holding its first voiced sample is sent) → the
//!   agent's audio is silent at the caller. On RTP, the first of a run of quiet frames (mean magnitude below
//!   [`QUIET_LEVEL`]) that lasts [`STOP_HOLD`]: a word gap in the reply is shorter, a pause or a flush longer.
//!   On a provider stream the same, on the provider's playback as [`ProviderPlayout`] models it from the
//!   `playAudio` durations: `clearAudio` arriving (the provider drops what it buffered), or the buffer
//!   running dry and staying so for [`STOP_HOLD`] (the server had nothing buffered to clear and sent no more).
//! - reply time: the end of the caller's speech (the frame holding its last voiced sample is sent) → the
//!   first agent audio after it (RTP: a frame above the quiet level; streams: a `playAudio`). This includes the
//!   VAD's stop time; it is what the caller waits.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::turns::{hiss_frames, HISS_FRAMES};

/// Below this mean magnitude (linear, of 32768) an RTP frame is quiet: about −60 dBFS, the caller's own line
/// hiss. The server sends digital silence while paused and between replies.
pub(crate) const QUIET_LEVEL: f64 = 32.0;
/// How long the agent must stay quiet after the caller's onset for the quiet to be its stop.
pub(crate) const STOP_HOLD: Duration = Duration::from_millis(300);
/// The agent is talking now if its last audio arrived this recently (RTP and `playAudio` come every 20 ms).
const TALKING: Duration = Duration::from_millis(60);
/// A reply the agent has been quiet in for this long is over (or stalled): the caller speaks on.
const REPLY_OVER: Duration = Duration::from_secs(2);
/// The greeting has played out once the agent has been quiet this long after it.
const GREETING_DONE: Duration = Duration::from_millis(1500);
/// Without any greeting audio by then, the caller starts anyway.
const NO_GREETING: Duration = Duration::from_secs(20);
/// A barge-in the agent has not stopped for within this is counted as not stopped.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// Speech is where a sample's magnitude exceeds this (as tests/demo_agent.rs finds espeak's onset).
const VOICED_SAMPLE: u16 = 1000;

/// What the callers say, in order: a question, then requests that each cut into the previous reply. Each asks
/// for a long answer so that there is a reply to talk over.
pub(crate) const PROMPTS: [&str; 4] = [
    "Please tell me a long story about a brave knight and a dragon.",
    "Wait, stop please. Tell me a long story about a little boat on the sea instead.",
    "Sorry to cut in. Tell me a long story about a clever fox in a forest.",
    "Hold on, please stop. Tell me a long story about a girl who finds a map.",
];

/// One utterance: μ-law 8 kHz frames of 20 ms, and the frames holding its first and last voiced samples.
pub(crate) struct Utterance {
    frames: Vec<Vec<u8>>,
    onset: usize,
    end: usize,
}

impl Utterance {
    /// From linear 8 kHz PCM.
    pub(crate) fn from_pcm(pcm: &[i16]) -> Result<Self> {
        let onset = pcm.iter().position(|s| s.unsigned_abs() > VOICED_SAMPLE);
        let end = pcm.iter().rposition(|s| s.unsigned_abs() > VOICED_SAMPLE);
        let (Some(onset), Some(end)) = (onset, end) else { bail!("no speech in the utterance") };
        let frames = pcm
            .chunks(160)
            .map(|c| {
                let mut frame: Vec<u8> = c.iter().map(|s| voicera_media::codec::g711::linear_to_ulaw(*s)).collect();
                frame.resize(160, 0xff);
                frame
            })
            .collect();
        Ok(Self { frames, onset: onset / 160, end: end / 160 })
    }

    /// `text` spoken by espeak-ng (en-us, its default voice and rate), taken to 8 kHz by picking samples as
    /// the tests do (tests/common/mod.rs `espeak_speech`).
    pub(crate) fn espeak(text: &str) -> Result<Self> {
        let out =
            Command::new("espeak-ng").args(["--stdout", "-v", "en-us", text]).output().context("run espeak-ng")?;
        if !out.status.success() {
            bail!("espeak-ng failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let wav = out.stdout;
        let data = wav.windows(4).position(|w| w == b"data").context("no data chunk in espeak's WAV")? + 8;
        let pcm: Vec<i16> = wav[data..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let ratio = 22050.0 / 8000.0;
        let resampled: Vec<i16> = (0..(pcm.len() as f64 / ratio) as usize)
            .map(|i| pcm[((i as f64 * ratio) as usize).min(pcm.len() - 1)])
            .collect();
        Self::from_pcm(&resampled)
    }
}

/// Every caller's lines, and the line hiss sent between them.
pub(crate) struct Script {
    utterances: Vec<Utterance>,
    hiss: Vec<Vec<u8>>,
}

impl Script {
    /// `count` utterances, [`PROMPTS`] in turn.
    pub(crate) fn espeak(count: usize) -> Result<Self> {
        let rendered = PROMPTS.iter().map(|p| Utterance::espeak(p)).collect::<Result<Vec<_>>>()?;
        let mut utterances = Vec::with_capacity(count);
        for i in 0..count {
            let u = &rendered[i % rendered.len()];
            utterances.push(Utterance { frames: u.frames.clone(), onset: u.onset, end: u.end });
        }
        Ok(Self::new(utterances))
    }

    pub(crate) fn new(utterances: Vec<Utterance>) -> Self {
        Self { utterances, hiss: hiss_frames() }
    }
}

/// What a provider plays to the caller, modelled from the `playAudio` messages: each adds its duration after
/// what is already buffered, `clearAudio` drops the buffer. A stream caller hears agent audio while the buffer
/// lasts, not only when a message arrives: a server that sends a clause ahead of time keeps talking after its
/// last message, and one that had nothing buffered when the caller cut in has stopped without any `clearAudio`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProviderPlayout {
    until: Option<Instant>,
}

impl ProviderPlayout {
    /// `audio` more arrived at `now`.
    pub(crate) fn play(&mut self, now: Instant, audio: Duration) {
        let from = self.until.filter(|&u| u > now).unwrap_or(now);
        self.until = Some(from + audio);
    }

    /// The provider dropped what it held.
    pub(crate) fn clear(&mut self, now: Instant) {
        self.until = Some(now);
    }

    /// Whether agent audio is playing at `now`; `None` before the first audio.
    pub(crate) fn playing(&self, now: Instant) -> Option<bool> {
        self.until.map(|u| u > now)
    }
}

/// What one caller measured.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct CallStats {
    /// Caller onset → agent silent at the caller, ms, one per barge-in the agent stopped for.
    pub(crate) stop_ms: Vec<f64>,
    /// End of the first question → first reply audio, ms.
    pub(crate) question_reply_ms: Vec<f64>,
    /// End of an interruption → first agent audio after it, ms.
    pub(crate) interruption_reply_ms: Vec<f64>,
    /// Utterances spoken over agent audio.
    pub(crate) barge_ins: usize,
    /// Barge-ins the agent did not stop for within 3 s.
    pub(crate) not_stopped: usize,
    /// Utterances meant as barge-ins for which the reply had already ended.
    pub(crate) reply_ended_first: usize,
    /// Utterances after which no agent audio came within the reply timeout.
    pub(crate) reply_timeouts: usize,
    /// The script ran to its end.
    pub(crate) completed: bool,
}

/// A barge-in in progress: the caller's onset, waiting for the agent to stop.
#[derive(Debug, Clone, Copy)]
struct Barge {
    utterance: usize,
    onset: Instant,
    /// The first quiet frame since the onset, and the run of quiet frames since (RTP).
    quiet_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The greeting plays.
    Greeting,
    /// Frame `frame` of utterance `utterance` is next.
    Speaking {
        utterance: usize,
        frame: usize,
    },
    /// The caller has stopped speaking and waits for the agent's audio.
    Awaiting {
        utterance: usize,
        ended: Instant,
    },
    /// The reply to `utterance` has been playing since `since`.
    Listening {
        utterance: usize,
        since: Instant,
    },
    Done,
}

/// One simulated caller.
pub(crate) struct Caller<'a> {
    script: &'a Script,
    barge_after: Duration,
    /// A reply that has not begun within this is counted as timed out; the caller goes on with its script.
    reply_timeout: Duration,
    started: Instant,
    step: Step,
    barge: Option<Barge>,
    /// The utterance whose barge-in the agent did not stop for: the audio after it is the old reply, so its
    /// reply time is not measured.
    unstopped: Option<usize>,
    last_audio: Option<Instant>,
    frames_sent: usize,
    stats: CallStats,
}

impl<'a> Caller<'a> {
    /// A caller whose call was answered at `now`, cutting into each reply once it has played `barge_after`,
    /// and waiting `reply_timeout` at most for a reply.
    pub(crate) fn new(script: &'a Script, barge_after: Duration, reply_timeout: Duration, now: Instant) -> Self {
        Self {
            script,
            barge_after,
            reply_timeout,
            started: now,
            step: Step::Greeting,
            barge: None,
            unstopped: None,
            last_audio: None,
            frames_sent: 0,
            stats: CallStats::default(),
        }
    }

    /// The frame to send at `now` (every 20 ms), or `None` once the script has ended: hang up.
    pub(crate) fn next_frame(&mut self, now: Instant) -> Option<&'a [u8]> {
        let script = self.script;
        if let Some(barge) = self.barge {
            if now.duration_since(barge.onset) > STOP_TIMEOUT {
                self.stats.not_stopped += 1;
                self.barge = None;
                self.unstopped = Some(barge.utterance);
            }
        }
        let hiss = &script.hiss[self.frames_sent % HISS_FRAMES];
        self.frames_sent += 1;
        match self.step {
            Step::Greeting => {
                let played_out = self.last_audio.is_some_and(|t| now.duration_since(t) >= GREETING_DONE);
                if played_out || (self.last_audio.is_none() && now.duration_since(self.started) >= NO_GREETING) {
                    self.step = Step::Speaking { utterance: 0, frame: script.utterances[0].onset };
                }
                Some(hiss)
            }
            Step::Speaking { utterance, frame } => self.speak(utterance, frame, now),
            Step::Awaiting { utterance, ended } => {
                if now.duration_since(ended) > self.reply_timeout {
                    self.stats.reply_timeouts += 1;
                    self.step = self.after(utterance);
                }
                Some(hiss)
            }
            Step::Listening { utterance, since } => {
                if now.duration_since(since) < self.barge_after {
                    return Some(hiss);
                }
                let next = utterance + 1;
                if next == script.utterances.len() {
                    self.stats.completed = true;
                    self.step = Step::Done;
                    return None;
                }
                let talking = self.last_audio.is_some_and(|t| now.duration_since(t) <= TALKING);
                let over = self.last_audio.is_none_or(|t| now.duration_since(t) >= REPLY_OVER);
                if talking {
                    self.stats.barge_ins += 1;
                    self.barge = Some(Barge { utterance: next, onset: now, quiet_since: None });
                } else if over {
                    self.stats.reply_ended_first += 1;
                } else {
                    return Some(hiss);
                }
                self.speak(next, script.utterances[next].onset, now)
            }
            Step::Done => None,
        }
    }

    /// Sends frame `frame` of `utterance`.
    fn speak(&mut self, utterance: usize, frame: usize, now: Instant) -> Option<&'a [u8]> {
        let u = &self.script.utterances[utterance];
        self.step = if frame == u.end {
            Step::Awaiting { utterance, ended: now }
        } else {
            Step::Speaking { utterance, frame: frame + 1 }
        };
        Some(&u.frames[frame])
    }

    /// What follows `utterance`: the next, or the end of the script.
    fn after(&mut self, utterance: usize) -> Step {
        if utterance + 1 < self.script.utterances.len() {
            Step::Speaking { utterance: utterance + 1, frame: self.script.utterances[utterance + 1].onset }
        } else {
            self.stats.completed = true;
            Step::Done
        }
    }

    /// Agent audio arrived at `now` (an RTP frame above the quiet level, or a `playAudio`).
    pub(crate) fn agent_audio(&mut self, now: Instant) {
        self.last_audio = Some(now);
        if let Some(barge) = &mut self.barge {
            barge.quiet_since = None;
        }
        if let Step::Awaiting { utterance, ended } = self.step {
            if self.barge.is_some() {
                // The old reply still plays: not an answer.
                return;
            }
            if self.unstopped != Some(utterance) {
                let ms = now.duration_since(ended).as_secs_f64() * 1000.0;
                if utterance == 0 { &mut self.stats.question_reply_ms } else { &mut self.stats.interruption_reply_ms }
                    .push(ms);
            }
            self.step = Step::Listening { utterance, since: now };
        }
    }

    /// A quiet RTP frame arrived at `now`.
    pub(crate) fn agent_quiet(&mut self, now: Instant) {
        let Some(barge) = &mut self.barge else { return };
        let since = *barge.quiet_since.get_or_insert(now);
        // The frame that arrived now is 20 ms of quiet too.
        if now.duration_since(since) + Duration::from_millis(20) >= STOP_HOLD {
            self.stopped(since);
        }
    }

    /// The provider was told to drop the agent's audio (`clearAudio`/`clear`) at `now`.
    pub(crate) fn agent_cleared(&mut self, now: Instant) {
        self.last_audio = None;
        if self.barge.is_some() {
            self.stopped(now);
        }
    }

    fn stopped(&mut self, at: Instant) {
        if let Some(barge) = self.barge.take() {
            self.stats.stop_ms.push(at.duration_since(barge.onset).as_secs_f64() * 1000.0);
        }
    }

    /// Barge-ins still waiting for a stop count as not stopped when the call ends early.
    pub(crate) fn finish(mut self) -> CallStats {
        if self.barge.take().is_some() {
            self.stats.not_stopped += 1;
        }
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    /// Three utterances of 10 frames: 2 quiet, 6 voiced, 2 quiet.
    fn script() -> Script {
        let mut pcm = vec![0i16; 320];
        pcm.extend(std::iter::repeat_n(8000i16, 960));
        pcm.extend(vec![0i16; 320]);
        Script::new((0..3).map(|_| Utterance::from_pcm(&pcm).unwrap()).collect())
    }

    /// Runs the caller for `frames` ticks from `*now`, with the agent talking (`Some(true)`), quiet
    /// (`Some(false)`) or sending nothing, one frame per tick.
    fn run(caller: &mut Caller, now: &mut Instant, frames: usize, agent: impl Fn(usize) -> Option<bool>) -> usize {
        let mut sent = 0;
        for i in 0..frames {
            match agent(i) {
                Some(true) => caller.agent_audio(*now),
                Some(false) => caller.agent_quiet(*now),
                None => {}
            }
            if caller.next_frame(*now).is_some() {
                sent += 1;
            }
            *now += FRAME;
        }
        sent
    }

    #[test]
    fn onsets_and_ends_are_the_frames_with_the_first_and_last_voiced_samples() {
        let s = script();
        assert_eq!((s.utterances[0].onset, s.utterances[0].end, s.utterances[0].frames.len()), (2, 7, 10));
    }

    #[test]
    fn measures_reply_and_stop_times_over_rtp() {
        let s = script();
        let mut now = Instant::now();
        let mut caller = Caller::new(&s, Duration::from_millis(200), Duration::from_secs(30), now);
        // Greeting: 10 frames of audio, then 75 quiet (1.5 s) before the caller speaks.
        run(&mut caller, &mut now, 10, |_| Some(true));
        run(&mut caller, &mut now, 76, |_| Some(false));
        // The question, from its first voiced frame (2, with the last greeting tick) to its last (7, sent 5
        // ticks later); the reply starts 9 ticks after that.
        run(&mut caller, &mut now, 13, |_| Some(false));
        run(&mut caller, &mut now, 1, |_| Some(true));
        assert_eq!(caller.stats.question_reply_ms.len(), 1);
        let reply = caller.stats.question_reply_ms[0];
        assert!((reply - 180.0).abs() < 1.0, "{reply}");
        // The reply plays 200 ms, then the caller cuts in: its first voiced frame goes out at tick t.
        run(&mut caller, &mut now, 10, |_| Some(true));
        assert_eq!(caller.stats.barge_ins, 1);
        // The agent talks 4 more frames, has a word gap of two quiet frames (no stop), one more frame, then
        // stays quiet from tick t + 8 on: the stop is 160 ms after the onset.
        run(&mut caller, &mut now, 4, |_| Some(true));
        run(&mut caller, &mut now, 2, |_| Some(false));
        run(&mut caller, &mut now, 1, |_| Some(true));
        assert!(caller.stats.stop_ms.is_empty());
        run(&mut caller, &mut now, 20, |_| Some(false));
        assert_eq!(caller.stats.stop_ms.len(), 1);
        let stop = caller.stats.stop_ms[0];
        assert!((stop - 160.0).abs() < 1.0, "{stop}");
    }

    #[test]
    fn a_cleared_stream_stops_at_the_clear_and_old_audio_is_no_answer() {
        let s = script();
        let mut now = Instant::now();
        let mut caller = Caller::new(&s, Duration::from_millis(100), Duration::from_secs(30), now);
        // No greeting at all: the caller starts after 20 s, asks, and the reply comes.
        run(&mut caller, &mut now, 1009, |_| None);
        run(&mut caller, &mut now, 1, |_| Some(true));
        assert_eq!(caller.stats.question_reply_ms.len(), 1);
        // The agent talks on and never stops for the first cut-in: after 3 s it counts as not stopped, and
        // the audio after it is no answer to the interruption.
        let mut onsets = Vec::new();
        while onsets.len() < 2 {
            let before = caller.stats.barge_ins;
            caller.agent_audio(now);
            caller.next_frame(now);
            if caller.stats.barge_ins > before {
                onsets.push(now);
            }
            now += FRAME;
            assert!(caller.stats.barge_ins <= 2 && caller.stats.stop_ms.is_empty());
        }
        assert_eq!(caller.stats.not_stopped, 1);
        assert!(caller.stats.interruption_reply_ms.is_empty());
        assert!(onsets[1].duration_since(onsets[0]) > STOP_TIMEOUT);
        // The second cut-in is cleared 60 ms after its onset.
        caller.agent_cleared(onsets[1] + Duration::from_millis(60));
        assert_eq!(caller.stats.stop_ms, vec![60.0]);
    }

    #[test]
    fn a_stream_caller_hears_the_provider_buffer_play_out_and_its_running_dry_is_a_stop() {
        let s = script();
        let mut now = Instant::now();
        let mut caller = Caller::new(&s, Duration::from_millis(200), Duration::from_secs(30), now);
        let mut playout = ProviderPlayout::default();
        assert_eq!(playout.playing(now), None);
        // Ticks as `ws_call` runs them: the caller hears whatever the modelled buffer holds.
        let tick = |caller: &mut Caller, playout: &ProviderPlayout, now: &mut Instant, frames: usize| {
            for _ in 0..frames {
                match playout.playing(*now) {
                    Some(true) => caller.agent_audio(*now),
                    Some(false) => caller.agent_quiet(*now),
                    None => {}
                }
                caller.next_frame(*now);
                *now += FRAME;
            }
        };
        // A 400 ms greeting in one message, then the caller waits 1.5 s after it has played and asks.
        playout.play(now, Duration::from_millis(400));
        tick(&mut caller, &playout, &mut now, 20);
        assert_eq!(playout.playing(now), Some(false));
        tick(&mut caller, &playout, &mut now, 76 + 13);
        // The reply: 1 s of audio sent in two messages at once; the caller cuts in 200 ms into it, while the
        // buffer still plays though no message has arrived since.
        playout.play(now, Duration::from_millis(500));
        playout.play(now, Duration::from_millis(500));
        caller.agent_audio(now);
        assert_eq!(caller.stats.question_reply_ms.len(), 1);
        tick(&mut caller, &playout, &mut now, 11);
        assert_eq!(caller.stats.barge_ins, 1);
        let onset = now - FRAME;
        // The server sends neither more audio nor `clearAudio`: the stop is where the buffer ran dry, once it
        // has stayed dry for the hold.
        tick(&mut caller, &playout, &mut now, 40 + STOP_HOLD.as_millis() as usize / 20);
        assert_eq!(caller.stats.not_stopped, 0);
        assert_eq!(caller.stats.stop_ms.len(), 1);
        let dry = onset + Duration::from_millis(1000 - 200);
        let expected = dry.duration_since(onset).as_secs_f64() * 1000.0;
        assert!((caller.stats.stop_ms[0] - expected).abs() <= 20.0, "{:?} vs {expected}", caller.stats.stop_ms);
        // A clear drops the rest at once.
        playout.play(now, Duration::from_millis(500));
        playout.clear(now + FRAME);
        assert_eq!(playout.playing(now + FRAME), Some(false));
    }

    #[test]
    fn a_reply_that_ended_before_the_cut_in_is_no_barge_in_and_the_script_ends() {
        let s = script();
        let mut now = Instant::now();
        let mut caller = Caller::new(&s, Duration::from_millis(300), Duration::from_secs(30), now);
        run(&mut caller, &mut now, 1, |_| Some(true));
        run(&mut caller, &mut now, 76, |_| Some(false));
        run(&mut caller, &mut now, 8, |_| Some(false));
        // Each reply: one frame of audio, then quiet; 300 ms later the caller waits for more, and speaks once
        // the agent has been quiet for 2 s.
        for _ in 0..2 {
            run(&mut caller, &mut now, 1, |_| Some(true));
            run(&mut caller, &mut now, 99, |_| Some(false));
            assert_eq!(
                caller.stats.reply_ended_first + caller.stats.barge_ins,
                caller.stats.interruption_reply_ms.len()
            );
            run(&mut caller, &mut now, 11, |_| Some(false));
        }
        run(&mut caller, &mut now, 1, |_| Some(true));
        let sent = run(&mut caller, &mut now, 20, |_| Some(false));
        let stats = caller.finish();
        assert_eq!((stats.barge_ins, stats.reply_ended_first), (0, 2));
        assert_eq!((stats.question_reply_ms.len(), stats.interruption_reply_ms.len()), (1, 2));
        assert!(stats.completed);
        assert!(sent < 20, "hung up once the last reply had played 300 ms");
    }
}
