//! Fallback chains for speech: an agent's recogniser or voice as an ordered list of links
//! (`stt_model = ["deepgram:nova-3", "whisper-tiny.en"]`, `tts_model = ["elevenlabs:eleven_flash_v2_5",
//! "piper"]`), each behind the circuit breaker of [`crate::fallback`], with the same budgets.
//!
//! Recognition ([`FallbackStt`]) moves to the next link when the current one reports a failed utterance (a
//! refused connection, an error frame), when an ended utterance's final is later than the first-token budget,
//! or, at the start of a call, when its breaker is open. The caller's words are not lost: the chain keeps the
//! audio of the utterance being spoken and of those awaiting their final (bounded: [`MAX_REPLAY`] samples
//! each, [`MAX_AWAITING`] utterances) and replays them to the next link.
//!
//! Speech ([`FallbackTts`]) moves to the next link when a clause fails, when its first audio is later than
//! the first-token budget or its audio stalls; the clause restarts from its beginning with the next voice.
//! Every link must speak at one sample rate (the binary resamples each to the engine's rate); a link at
//! another rate is passed over.
//!
//! Each switch comes out of the stream's `take_switch` as a [`Switch`], which the engine logs, counts and
//! writes into the call record. Time is read through a [`Clock`], so tests run the chains on a virtual one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::fallback::{next_allowed, Chain, ChainBudget, Clock, Link};
use crate::{FailureKind, ModelError, SpeechToText, SttStream, Switch, TextToSpeech, Transcript, TtsStream};

/// The most caller audio kept per utterance for a replay: 20 s at 16 kHz (640 KB).
pub const MAX_REPLAY: usize = 20 * 16_000;
/// The most ended utterances kept while their finals are awaited (older ones are not replayed).
pub const MAX_AWAITING: usize = 4;

/// The link a stream starts on: the first whose breaker lets it through, else the last one (a call always has
/// a recogniser and a voice: the last link is the last resort, usually a local model). `None` for no links.
fn first_link<M: ?Sized>(links: &[Link<M>], next: &mut usize, now: Instant) -> Option<usize> {
    next_allowed(links, next, now).or_else(|| links.len().checked_sub(1))
}

/// A recogniser made of links tried in order.
pub type FallbackStt = Chain<dyn SpeechToText>;

/// A voice made of links tried in order (all speaking at one sample rate).
pub type FallbackTts = Chain<dyn TextToSpeech>;

/// The stream of a chain without links: every utterance and clause fails at once.
struct NoLinks {
    error: ModelError,
    ended: usize,
}

impl NoLinks {
    fn new(what: &str) -> NoLinks {
        NoLinks { error: ModelError::new(FailureKind::Unsupported, format!("a {what} chain without links")), ended: 0 }
    }
}

impl SttStream for NoLinks {
    fn push_audio(&mut self, _pcm: &[i16]) {}

    fn end_of_speech(&mut self) {
        self.ended += 1;
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        self.ended = self.ended.checked_sub(1)?;
        Some(Transcript::Failed(self.error.clone()))
    }
}

impl TtsStream for NoLinks {
    fn sample_rate(&self) -> u32 {
        16_000
    }

    fn poll_audio(&mut self, _out: &mut Vec<i16>) -> bool {
        false
    }

    fn failure(&self) -> Option<&ModelError> {
        Some(&self.error)
    }
}

impl SpeechToText for FallbackStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let mut next = 0;
        let Some(index) = first_link(&self.links, &mut next, self.clock.now()) else {
            return Box::new(NoLinks::new("speech-to-text"));
        };
        Box::new(SttChainStream {
            stream: self.links[index].model.stream(language),
            links: Arc::clone(&self.links),
            budget: self.budget,
            clock: Arc::clone(&self.clock),
            language: language.to_string(),
            index,
            next,
            // Grows to the longest stretch between two ends of speech (at most MAX_REPLAY), not allocated up
            // front: most calls never fill it.
            speaking: VecDeque::new(),
            awaiting: VecDeque::with_capacity(MAX_AWAITING),
            switches: VecDeque::new(),
        })
    }
}

/// One call's recognition through the chain.
struct SttChainStream {
    links: Arc<[Link<dyn SpeechToText>]>,
    budget: ChainBudget,
    clock: Arc<dyn Clock>,
    language: String,
    /// The link hearing the call now, and its stream.
    index: usize,
    stream: Box<dyn SttStream>,
    /// The next link to try.
    next: usize,
    /// Audio since the last end of speech: the utterance being spoken.
    speaking: VecDeque<i16>,
    /// Utterances ended whose final has not come, oldest first: their audio, and when they were (re)sent.
    awaiting: VecDeque<(Vec<i16>, Instant)>,
    switches: VecDeque<Switch>,
}

impl SttChainStream {
    /// Moves the call to the next link that lets it through, replaying the awaited utterances and the one
    /// being spoken; false (and nothing changed) when there is none.
    fn fail_over(&mut self, now: Instant, error: ModelError) -> bool {
        let Some(to) = next_allowed(&self.links, &mut self.next, now) else { return false };
        self.links[self.index].breaker().on_error(now, &error);
        self.switches.push_back(Switch {
            from: self.links[self.index].name.clone(),
            to: self.links[to].name.clone(),
            reason: error,
        });
        let mut stream = self.links[to].model.stream(&self.language);
        for (audio, sent) in self.awaiting.iter_mut() {
            stream.push_audio(audio);
            stream.end_of_speech();
            *sent = now;
        }
        let (older, newer) = self.speaking.as_slices();
        stream.push_audio(older);
        stream.push_audio(newer);
        self.index = to;
        self.stream = stream;
        true
    }
}

impl SttStream for SttChainStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        self.stream.push_audio(pcm);
        let pcm = &pcm[pcm.len().saturating_sub(MAX_REPLAY)..];
        let excess = (self.speaking.len() + pcm.len()).saturating_sub(MAX_REPLAY);
        self.speaking.drain(..excess);
        self.speaking.extend(pcm);
    }

    fn end_of_speech(&mut self) {
        self.stream.end_of_speech();
        if self.awaiting.len() == MAX_AWAITING {
            self.awaiting.pop_front();
        }
        let audio: Vec<i16> = self.speaking.drain(..).collect();
        self.awaiting.push_back((audio, self.clock.now()));
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        loop {
            let now = self.clock.now();
            match self.stream.poll_transcript() {
                Some(Transcript::Final(text)) => {
                    self.awaiting.pop_front();
                    self.links[self.index].breaker().on_success();
                    return Some(Transcript::Final(text));
                }
                Some(Transcript::Partial(text)) => return Some(Transcript::Partial(text)),
                Some(Transcript::Failed(error)) => {
                    if self.fail_over(now, error.clone()) {
                        continue;
                    }
                    // The last link: the utterance ends without words.
                    self.links[self.index].breaker().on_error(now, &error);
                    self.awaiting.pop_front();
                    return Some(Transcript::Failed(error));
                }
                None => {
                    let (_, sent) = self.awaiting.front()?;
                    let budget = self.links[self.index].first_result_budget(&self.budget);
                    if now.saturating_duration_since(*sent) <= budget {
                        return None;
                    }
                    let name = &self.links[self.index].name;
                    let message = format!("{name}: no final within {} ms", budget.as_millis());
                    if !self.fail_over(now, ModelError::new(FailureKind::TimedOut, message)) {
                        return None; // the last link: its own timeouts end the wait
                    }
                }
            }
        }
    }

    fn take_switch(&mut self) -> Option<Switch> {
        self.switches.pop_front()
    }
}

impl TextToSpeech for FallbackTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let mut next = 0;
        let Some(index) = first_link(&self.links, &mut next, self.clock.now()) else {
            return Box::new(NoLinks::new("text-to-speech"));
        };
        let stream = self.links[index].model.speak(text);
        Box::new(TtsChainStream {
            rate: stream.sample_rate(),
            stream,
            links: Arc::clone(&self.links),
            budget: self.budget,
            clock: Arc::clone(&self.clock),
            text: text.to_string(),
            index,
            next,
            heard: false,
            waiting_since: None,
            switches: VecDeque::new(),
            failure: None,
        })
    }
}

/// One clause through the chain.
struct TtsChainStream {
    links: Arc<[Link<dyn TextToSpeech>]>,
    budget: ChainBudget,
    clock: Arc<dyn Clock>,
    text: String,
    /// The link speaking now, and its stream.
    index: usize,
    stream: Box<dyn TtsStream>,
    /// The next link to try.
    next: usize,
    /// The chain's rate: the first link's.
    rate: u32,
    /// The current link has given audio.
    heard: bool,
    /// Since when the current link was polled without giving audio.
    waiting_since: Option<Instant>,
    switches: VecDeque<Switch>,
    failure: Option<ModelError>,
}

impl TtsChainStream {
    /// Restarts the clause on the next link that lets it through at the chain's rate; false (and nothing
    /// changed) when there is none.
    fn fail_over(&mut self, now: Instant, error: ModelError) -> bool {
        loop {
            let Some(to) = next_allowed(&self.links, &mut self.next, now) else { return false };
            let stream = self.links[to].model.speak(&self.text);
            if stream.sample_rate() != self.rate {
                continue; // a link the chain cannot play: passed over
            }
            self.links[self.index].breaker().on_error(now, &error);
            self.switches.push_back(Switch {
                from: self.links[self.index].name.clone(),
                to: self.links[to].name.clone(),
                reason: error,
            });
            self.index = to;
            self.stream = stream;
            self.heard = false;
            self.waiting_since = None;
            return true;
        }
    }
}

impl TtsStream for TtsChainStream {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
        if self.failure.is_some() {
            return false;
        }
        loop {
            let before = out.len();
            let more = self.stream.poll_audio(out);
            let now = self.clock.now();
            if out.len() > before {
                if !self.heard {
                    self.heard = true;
                    self.links[self.index].breaker().on_success();
                }
                self.waiting_since = None;
            }
            if !more {
                let Some(error) = self.stream.failure().cloned() else { return false };
                if self.fail_over(now, error.clone()) {
                    continue;
                }
                self.links[self.index].breaker().on_error(now, &error);
                self.failure = Some(error);
                return false;
            }
            if out.len() == before {
                let since = *self.waiting_since.get_or_insert(now);
                let (budget, what) = if self.heard {
                    (self.budget.stall, "next audio")
                } else {
                    (self.links[self.index].first_result_budget(&self.budget), "first audio")
                };
                if now.saturating_duration_since(since) > budget {
                    let name = &self.links[self.index].name;
                    let message = format!("{name}: no {what} within {} ms", budget.as_millis());
                    if self.fail_over(now, ModelError::new(FailureKind::TimedOut, message)) {
                        continue;
                    }
                }
            }
            return true;
        }
    }

    fn failure(&self) -> Option<&ModelError> {
        self.failure.as_ref()
    }

    fn take_switch(&mut self) -> Option<Switch> {
        self.switches.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fallback::{BreakerPolicy, BreakerState};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    /// A clock moved by hand.
    struct VirtualClock {
        base: Instant,
        ms: AtomicU64,
    }

    impl VirtualClock {
        fn new() -> Arc<VirtualClock> {
            Arc::new(VirtualClock { base: Instant::now(), ms: AtomicU64::new(0) })
        }
        fn advance(&self, ms: u64) {
            self.ms.fetch_add(ms, Ordering::Relaxed);
        }
        fn ms(&self) -> u64 {
            self.ms.load(Ordering::Relaxed)
        }
    }

    impl Clock for VirtualClock {
        fn now(&self) -> Instant {
            self.base + Duration::from_millis(self.ms.load(Ordering::Relaxed))
        }
    }

    /// What a scripted recogniser does when an utterance ends.
    #[derive(Clone)]
    enum Heard {
        /// Answers with the number of samples it heard for the utterance.
        Count,
        /// Fails it with this error.
        Fail(ModelError),
        /// Never answers.
        Silent,
    }

    /// A recogniser that answers each utterance as scripted and keeps every sample it was given.
    struct ScriptedStt {
        heard: Heard,
        audio: Arc<Mutex<Vec<i16>>>,
        streams: AtomicU64,
    }

    impl ScriptedStt {
        fn new(heard: Heard) -> Arc<ScriptedStt> {
            Arc::new(ScriptedStt { heard, audio: Arc::default(), streams: AtomicU64::new(0) })
        }
    }

    impl SpeechToText for ScriptedStt {
        fn stream(&self, _language: &str) -> Box<dyn SttStream> {
            self.streams.fetch_add(1, Ordering::Relaxed);
            struct Stream {
                heard: Heard,
                audio: Arc<Mutex<Vec<i16>>>,
                utterance: usize,
                results: VecDeque<Transcript>,
            }
            impl SttStream for Stream {
                fn push_audio(&mut self, pcm: &[i16]) {
                    self.audio.lock().unwrap().extend_from_slice(pcm);
                    self.utterance += pcm.len();
                }
                fn end_of_speech(&mut self) {
                    let samples = std::mem::take(&mut self.utterance);
                    match &self.heard {
                        Heard::Count => self.results.push_back(Transcript::Final(format!("{samples} samples"))),
                        Heard::Fail(e) => self.results.push_back(Transcript::Failed(e.clone())),
                        Heard::Silent => {}
                    }
                }
                fn poll_transcript(&mut self) -> Option<Transcript> {
                    self.results.pop_front()
                }
            }
            Box::new(Stream {
                heard: self.heard.clone(),
                audio: Arc::clone(&self.audio),
                utterance: 0,
                results: VecDeque::new(),
            })
        }
    }

    fn stt_chain(links: Vec<(&str, Arc<ScriptedStt>)>, clock: Arc<VirtualClock>) -> FallbackStt {
        let links = links
            .into_iter()
            .map(|(name, model)| Link::new(name, model as Arc<dyn SpeechToText>, BreakerPolicy::default()))
            .collect();
        FallbackStt::new(links, ChainBudget::default(), clock)
    }

    /// Speaks `frames` 20 ms frames of a ramp into `stream`, ends the utterance, and polls (advancing the
    /// clock `step_ms` between empty polls) until its final or failure.
    fn utterance(stream: &mut dyn SttStream, clock: &VirtualClock, frames: usize, step_ms: u64) -> Transcript {
        for f in 0..frames {
            let frame: Vec<i16> = (0..320).map(|i| (f * 320 + i) as i16).collect();
            stream.push_audio(&frame);
        }
        stream.end_of_speech();
        for _ in 0..1000 {
            match stream.poll_transcript() {
                Some(Transcript::Partial(_)) => {}
                Some(done) => return done,
                None => clock.advance(step_ms),
            }
        }
        panic!("no final");
    }

    fn switches(stream: &mut dyn SttStream) -> Vec<(String, String, FailureKind)> {
        std::iter::from_fn(|| stream.take_switch()).map(|s| (s.from, s.to, s.reason.kind)).collect()
    }

    #[test]
    fn a_refused_recogniser_hands_the_utterance_to_the_next_with_all_its_audio() {
        let clock = VirtualClock::new();
        let refused = ScriptedStt::new(Heard::Fail(ModelError::new(FailureKind::Unreachable, "connection refused")));
        let local = ScriptedStt::new(Heard::Count);
        let stt =
            stt_chain(vec![("deepgram:nova-3", refused.clone()), ("whisper-tiny.en", local.clone())], clock.clone());
        let mut stream = stt.stream("en");
        assert_eq!(utterance(&mut *stream, &clock, 50, 10), Transcript::Final("16000 samples".into()));
        assert_eq!(
            switches(&mut *stream),
            [("deepgram:nova-3".into(), "whisper-tiny.en".into(), FailureKind::Unreachable)]
        );
        assert_eq!(*local.audio.lock().unwrap(), *refused.audio.lock().unwrap(), "the same audio, in order");
        assert_eq!(clock.ms(), 0, "no time lost to the refusal");
        // The call stays on the next link: the following utterance goes there alone.
        assert_eq!(utterance(&mut *stream, &clock, 10, 10), Transcript::Final("3200 samples".into()));
        assert_eq!(refused.audio.lock().unwrap().len(), 16000);
    }

    #[test]
    fn audio_spoken_while_the_final_is_awaited_is_replayed_too() {
        let clock = VirtualClock::new();
        let silent = ScriptedStt::new(Heard::Silent);
        let local = ScriptedStt::new(Heard::Count);
        let stt = stt_chain(vec![("silent", silent), ("local", local.clone())], clock.clone());
        let mut stream = stt.stream("en");
        stream.push_audio(&[1; 8000]);
        stream.end_of_speech();
        stream.push_audio(&[2; 1600]); // the caller goes on talking
        clock.advance(2001);
        assert_eq!(stream.poll_transcript(), Some(Transcript::Final("8000 samples".into())));
        assert_eq!(switches(&mut *stream)[0].2, FailureKind::TimedOut);
        stream.end_of_speech();
        assert_eq!(stream.poll_transcript(), Some(Transcript::Final("1600 samples".into())));
    }

    #[test]
    fn a_recogniser_silent_past_the_budget_is_abandoned_after_two_seconds() {
        let clock = VirtualClock::new();
        let stt = stt_chain(
            vec![("slow", ScriptedStt::new(Heard::Silent)), ("backup", ScriptedStt::new(Heard::Count))],
            clock.clone(),
        );
        let mut stream = stt.stream("en");
        assert_eq!(utterance(&mut *stream, &clock, 5, 100), Transcript::Final("1600 samples".into()));
        assert!((2000..=2100).contains(&clock.ms()), "switched once the 2 s budget passed, at {} ms", clock.ms());
    }

    #[test]
    fn the_replayed_audio_is_bounded() {
        let clock = VirtualClock::new();
        let silent = ScriptedStt::new(Heard::Silent);
        let local = ScriptedStt::new(Heard::Count);
        let stt = stt_chain(vec![("silent", silent), ("local", local.clone())], clock.clone());
        let mut stream = stt.stream("en");
        // 30 s of audio: the last 20 s are kept.
        assert_eq!(utterance(&mut *stream, &clock, 1500, 100), Transcript::Final(format!("{MAX_REPLAY} samples")));
        let replayed = local.audio.lock().unwrap();
        assert_eq!(replayed[0], (1500 * 320 - MAX_REPLAY) as i16, "the oldest audio was dropped");
    }

    #[test]
    fn when_the_last_recogniser_fails_the_utterance_fails() {
        let clock = VirtualClock::new();
        let a = ScriptedStt::new(Heard::Fail(ModelError::new(FailureKind::Engine, "a")));
        let b = ScriptedStt::new(Heard::Fail(ModelError::new(FailureKind::Rejected, "b")));
        let stt = stt_chain(vec![("a", a), ("b", b)], clock.clone());
        let mut stream = stt.stream("en");
        assert!(
            matches!(utterance(&mut *stream, &clock, 5, 10), Transcript::Failed(e) if e.kind == FailureKind::Rejected)
        );
        assert_eq!(stt.links()[1].breaker_state(), BreakerState::Closed { failures: 1 });
    }

    #[test]
    fn retry_after_keeps_the_recogniser_skipped_that_long() {
        let clock = VirtualClock::new();
        let busy = ModelError::new(FailureKind::Overloaded, "HTTP 429").with_retry_after(Some(Duration::from_secs(60)));
        let primary = ScriptedStt::new(Heard::Fail(busy));
        let local = ScriptedStt::new(Heard::Count);
        let stt = stt_chain(vec![("primary", primary.clone()), ("local", local)], clock.clone());
        let mut stream = stt.stream("en");
        utterance(&mut *stream, &clock, 5, 10);
        // One failure opens it (it asked to be left alone), for 60 s rather than the policy's 30 s.
        assert_eq!(stt.links()[0].breaker_state(), BreakerState::Open { until: clock.now() + Duration::from_secs(60) });
        clock.advance(45_000);
        let _ = stt.stream("en");
        assert_eq!(primary.streams.load(Ordering::Relaxed), 1, "a call 45 s later starts on the next link");
        clock.advance(15_000);
        let _ = stt.stream("en");
        assert_eq!(primary.streams.load(Ordering::Relaxed), 2, "after 60 s one probe goes through");
    }

    /// What a scripted voice does on each poll.
    #[derive(Clone, Debug)]
    enum Step {
        Audio(usize),
        Nothing,
        Fail(FailureKind),
    }

    /// A voice that plays a script per clause (audio of its own sample value) at `rate`.
    struct ScriptedTts {
        value: i16,
        rate: u32,
        scripts: Mutex<VecDeque<Vec<Step>>>,
        asked: Mutex<Vec<String>>,
    }

    impl ScriptedTts {
        fn new(value: i16, scripts: Vec<Vec<Step>>) -> Arc<ScriptedTts> {
            Arc::new(ScriptedTts { value, rate: 16000, scripts: Mutex::new(scripts.into()), asked: Mutex::default() })
        }
    }

    impl TextToSpeech for ScriptedTts {
        fn speak(&self, text: &str) -> Box<dyn TtsStream> {
            self.asked.lock().unwrap().push(text.to_string());
            struct Play {
                value: i16,
                rate: u32,
                steps: VecDeque<Step>,
                failure: Option<ModelError>,
            }
            impl TtsStream for Play {
                fn sample_rate(&self) -> u32 {
                    self.rate
                }
                fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
                    match self.steps.pop_front() {
                        Some(Step::Audio(n)) => {
                            out.extend(std::iter::repeat_n(self.value, n));
                            true
                        }
                        Some(Step::Nothing) => true,
                        Some(Step::Fail(kind)) => {
                            self.failure = Some(ModelError::new(kind, "boom"));
                            false
                        }
                        None => false,
                    }
                }
                fn failure(&self) -> Option<&ModelError> {
                    self.failure.as_ref()
                }
            }
            let steps = self.scripts.lock().unwrap().pop_front().unwrap_or_default();
            Box::new(Play { value: self.value, rate: self.rate, steps: steps.into(), failure: None })
        }
    }

    fn tts_chain(links: Vec<(&str, Arc<ScriptedTts>)>, clock: Arc<VirtualClock>) -> FallbackTts {
        let links = links
            .into_iter()
            .map(|(name, model)| Link::new(name, model as Arc<dyn TextToSpeech>, BreakerPolicy::default()))
            .collect();
        FallbackTts::new(links, ChainBudget::default(), clock)
    }

    /// Plays a clause to its end, advancing the clock `step_ms` on polls without audio; the audio, the
    /// switches and the failure.
    fn play(
        stream: &mut dyn TtsStream,
        clock: &VirtualClock,
        step_ms: u64,
    ) -> (Vec<i16>, Vec<Switch>, Option<FailureKind>) {
        let mut audio = Vec::new();
        let mut switched = Vec::new();
        for _ in 0..10_000 {
            let before = audio.len();
            let more = stream.poll_audio(&mut audio);
            switched.extend(std::iter::from_fn(|| stream.take_switch()));
            if !more {
                return (audio, switched, stream.failure().map(|e| e.kind));
            }
            if audio.len() == before {
                clock.advance(step_ms);
            }
        }
        panic!("the clause never ended");
    }

    #[test]
    fn a_voice_failing_mid_clause_restarts_the_clause_with_the_next_voice() {
        let clock = VirtualClock::new();
        let first = ScriptedTts::new(1, vec![vec![Step::Audio(160), Step::Fail(FailureKind::Engine)]]);
        let second = ScriptedTts::new(2, vec![vec![Step::Audio(400), Step::Audio(400)]]);
        let tts = tts_chain(vec![("elevenlabs:eleven_flash_v2_5", first), ("piper", second.clone())], clock.clone());
        let (audio, switched, failure) = play(&mut *tts.speak("Hello there."), &clock, 10);
        assert_eq!(failure, None);
        assert_eq!(audio.iter().filter(|s| **s == 1).count(), 160, "what the first voice said stays said");
        assert_eq!(audio[160..], [2; 800], "then the whole clause in the next voice");
        assert_eq!(second.asked.lock().unwrap().as_slice(), ["Hello there."]);
        assert_eq!(switched.len(), 1);
        assert_eq!((switched[0].from.as_str(), switched[0].to.as_str()), ("elevenlabs:eleven_flash_v2_5", "piper"));
        assert_eq!(switched[0].reason.kind, FailureKind::Engine);
    }

    #[test]
    fn a_voice_without_audio_past_the_budget_is_abandoned() {
        let clock = VirtualClock::new();
        let slow = ScriptedTts::new(1, vec![vec![Step::Nothing; 10_000]]);
        let backup = ScriptedTts::new(2, vec![vec![Step::Audio(320)]]);
        let tts = tts_chain(vec![("slow", slow), ("backup", backup)], clock.clone());
        let (audio, switched, _) = play(&mut *tts.speak("Hi."), &clock, 100);
        assert_eq!(audio, [2; 320]);
        assert_eq!(switched[0].reason.kind, FailureKind::TimedOut);
        assert!((2000..=2100).contains(&clock.ms()), "switched at {} ms", clock.ms());
    }

    #[test]
    fn a_voice_that_stalls_mid_clause_is_abandoned_after_the_stall_budget() {
        let clock = VirtualClock::new();
        let stalls = ScriptedTts::new(1, vec![[vec![Step::Audio(320)], vec![Step::Nothing; 10_000]].concat()]);
        let backup = ScriptedTts::new(2, vec![vec![Step::Audio(320)]]);
        let tts = tts_chain(vec![("stalls", stalls), ("backup", backup)], clock.clone());
        let (audio, switched, _) = play(&mut *tts.speak("Hi."), &clock, 100);
        assert_eq!(audio.len(), 640);
        assert_eq!(switched[0].reason.kind, FailureKind::TimedOut);
        assert!((3000..=3100).contains(&clock.ms()), "switched at {} ms", clock.ms());
    }

    #[test]
    fn a_clause_waiting_its_turn_is_not_timed_out_before_it_is_played() {
        let clock = VirtualClock::new();
        let voice = ScriptedTts::new(1, vec![vec![Step::Audio(320)]]);
        let backup = ScriptedTts::new(2, vec![]);
        let tts = tts_chain(vec![("voice", voice), ("backup", backup.clone())], clock.clone());
        let mut stream = tts.speak("Later.");
        clock.advance(5_000); // queued behind other clauses
        let (audio, switched, _) = play(&mut *stream, &clock, 10);
        assert_eq!(audio, [1; 320]);
        assert!(switched.is_empty() && backup.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn when_every_voice_fails_the_clause_fails_with_the_last_error_and_breakers_open() {
        let clock = VirtualClock::new();
        let a = ScriptedTts::new(1, (0..3).map(|_| vec![Step::Fail(FailureKind::Unreachable)]).collect());
        let b = ScriptedTts::new(2, (0..3).map(|_| vec![Step::Fail(FailureKind::Rejected)]).collect());
        let tts = tts_chain(vec![("a", a.clone()), ("b", b)], clock.clone());
        for _ in 0..3 {
            let (_, _, failure) = play(&mut *tts.speak("Hi."), &clock, 10);
            assert_eq!(failure, Some(FailureKind::Rejected));
        }
        assert!(matches!(tts.links()[0].breaker_state(), BreakerState::Open { .. }));
        // Every link open: the last one is the last resort, still asked.
        let _ = tts.speak("Hi.");
        assert_eq!(a.asked.lock().unwrap().len(), 3, "the open first link is not asked");
    }

    #[test]
    fn a_chain_without_links_fails_each_utterance_and_clause() {
        let clock = VirtualClock::new();
        let stt = FallbackStt::new(Vec::new(), ChainBudget::default(), clock.clone());
        let mut stream = stt.stream("en");
        assert_eq!(stream.poll_transcript(), None);
        assert!(
            matches!(utterance(&mut *stream, &clock, 1, 10), Transcript::Failed(e) if e.kind == FailureKind::Unsupported)
        );
        let tts = FallbackTts::new(Vec::new(), ChainBudget::default(), clock.clone());
        let (audio, _, failure) = play(&mut *tts.speak("Hi."), &clock, 10);
        assert!(audio.is_empty() && failure == Some(FailureKind::Unsupported));
    }

    #[test]
    fn a_voice_at_another_rate_is_passed_over() {
        let clock = VirtualClock::new();
        let first = ScriptedTts::new(1, vec![vec![Step::Fail(FailureKind::Engine)]]);
        let other_rate = Arc::new(ScriptedTts {
            value: 3,
            rate: 22050,
            scripts: Mutex::new(vec![vec![Step::Audio(10)]].into()),
            asked: Mutex::default(),
        });
        let last = ScriptedTts::new(2, vec![vec![Step::Audio(10)]]);
        let tts = tts_chain(vec![("first", first), ("other", other_rate), ("last", last)], clock.clone());
        let (audio, switched, _) = play(&mut *tts.speak("Hi."), &clock, 10);
        assert_eq!(audio, [2; 10]);
        assert_eq!(switched[0].to, "last");
    }
}
