//! One call's conversation, sans-IO: every 20 ms the call loop hands over the caller's frame and the engine
//! runs VAD, feeds STT, moves the [`TurnMachine`], streams LLM tokens through a clause chunker into TTS, and
//! queues agent audio on the call's outgoing queue, keeping about [`LOOKAHEAD_SAMPLES`] ahead so a barge-in
//! throws little away. Models are polled, never awaited, so nothing here blocks the loop.

use std::collections::VecDeque;
use std::sync::Arc;

use voicera_models::{
    ChatMessage, LanguageModel, LlmEvent, LlmStream, Role, SpeechToText, SttStream, TextToSpeech, Transcript, TtsStream,
};

use super::turn::{Phase, TurnAction, TurnEvent, TurnMachine, TurnPolicy};
use crate::dsp::Resampler;
use crate::stream::{ENGINE_FRAME, ENGINE_RATE};
use crate::vad::{EnergyModel, VadEvent, VadGate, VadParams};

/// Agent audio kept queued ahead of playback: 200 ms, enough to ride out a slow TTS chunk, little to discard.
pub const LOOKAHEAD_SAMPLES: usize = ENGINE_RATE as usize / 5;

/// Spoken when the language model fails before saying anything.
pub const LLM_FAILED_REPLY: &str = "Sorry, I could not answer that just now. Could you say it again?";

/// What an agent is: its prompt and behaviour, and the models it talks with.
pub struct Agent {
    pub id: String,
    pub system_prompt: String,
    pub greeting: String,
    pub language: String,
    pub vad: VadParams,
    pub policy: TurnPolicy,
    /// Store a transcript record (and a stereo recording) of each call.
    pub record_transcript: bool,
    pub record_audio: bool,
    pub stt: Arc<dyn SpeechToText>,
    pub llm: Arc<dyn LanguageModel>,
    pub tts: Arc<dyn TextToSpeech>,
}

impl Agent {
    /// The built-in `bench` agent of interfaces.md: the real engine with instant stand-in models; transcript
    /// and recording off unless `record` (they would measure the disk, not the server).
    pub fn bench(record: bool) -> Agent {
        use voicera_models::standin::{FixedLlm, FixedStt, ToneTts, BENCH_GREETING};
        Agent {
            id: "bench".into(),
            system_prompt: "You are a helpful assistant.".into(),
            greeting: BENCH_GREETING.into(),
            language: "en".into(),
            vad: VadParams::default(),
            policy: TurnPolicy::default(),
            record_transcript: record,
            record_audio: record,
            stt: Arc::new(FixedStt),
            llm: Arc::new(FixedLlm),
            tts: Arc::new(ToneTts),
        }
    }
}

/// Where agent audio goes: the call's outgoing queue (RTP egress today, provider streams later).
pub trait AudioSink {
    fn queue_audio(&mut self, pcm: &[i16]);
    /// Drops queued audio; returns the samples dropped.
    fn flush_audio(&mut self) -> usize;
    fn queued_audio(&self) -> usize;
}

impl AudioSink for crate::stream::RtpStream {
    fn queue_audio(&mut self, pcm: &[i16]) {
        crate::stream::RtpStream::queue_audio(self, pcm);
    }

    fn flush_audio(&mut self) -> usize {
        self.flush_outbound()
    }

    fn queued_audio(&self) -> usize {
        self.queued_outbound()
    }
}

/// Things worth logging or storing, reported by [`Conversation::on_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationNote {
    UserSaid {
        turn: u64,
        text: String,
    },
    /// First agent audio of a turn, with the ticks (20 ms) since the caller stopped speaking.
    AgentStarted {
        turn: u64,
        ticks_since_end_of_speech: u64,
    },
    AgentSaid {
        turn: u64,
        text: String,
        interrupted: bool,
    },
    BargeIn {
        dropped_samples: usize,
    },
}

/// One clause being synthesised.
struct Utterance {
    tts: Box<dyn TtsStream>,
    resampler: Option<Resampler>,
}

/// The engine of one call.
pub struct Conversation {
    agent: Arc<Agent>,
    turns: TurnMachine,
    vad: VadGate<EnergyModel>,
    stt: Box<dyn SttStream>,
    history: Vec<ChatMessage>,
    llm: Option<Box<dyn LlmStream>>,
    /// LLM text not yet handed to TTS (waiting for a clause boundary).
    clause: String,
    /// Full text of the current reply.
    reply: String,
    utterances: VecDeque<Utterance>,
    /// Agent audio of the current response has started.
    audio_started: bool,
    turn: u64,
    ticks: u64,
    end_of_speech_tick: u64,
    scratch: Vec<i16>,
    resampled: Vec<i16>,
}

impl Conversation {
    pub fn new(agent: Arc<Agent>) -> Self {
        let has_greeting = !agent.greeting.trim().is_empty();
        let history = vec![ChatMessage { role: Role::System, content: agent.system_prompt.clone() }];
        Self {
            turns: TurnMachine::new(agent.policy, has_greeting),
            vad: VadGate::new(agent.vad, EnergyModel::default()),
            stt: agent.stt.stream(&agent.language),
            history,
            llm: None,
            clause: String::new(),
            reply: String::new(),
            utterances: VecDeque::new(),
            audio_started: false,
            turn: 0,
            ticks: 0,
            end_of_speech_tick: 0,
            scratch: Vec::with_capacity(4096),
            resampled: Vec::with_capacity(8192),
            agent,
        }
    }

    /// Starts the call: speaks the greeting.
    pub fn start(&mut self) {
        if self.turns.phase() == &Phase::Greeting {
            let greeting = self.agent.greeting.clone();
            self.speak(&greeting);
            self.history.push(ChatMessage { role: Role::Assistant, content: greeting });
        }
    }

    pub fn phase(&self) -> &Phase {
        self.turns.phase()
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// One 20 ms tick with the caller's audio.
    pub fn on_frame(&mut self, frame: &[i16; ENGINE_FRAME], out: &mut dyn AudioSink) -> Vec<ConversationNote> {
        self.ticks += 1;
        let mut notes = Vec::new();
        self.stt.push_audio(frame);
        match self.vad.process(frame) {
            Some(VadEvent::SpeechStarted) => self.apply(TurnEvent::SpeechStarted, out, &mut notes),
            Some(VadEvent::SpeechStopped) => {
                self.end_of_speech_tick = self.ticks;
                self.stt.end_of_speech();
                self.apply(TurnEvent::SpeechStopped, out, &mut notes);
            }
            None => {}
        }
        while let Some(transcript) = self.stt.poll_transcript() {
            let event = match transcript {
                Transcript::Partial(text) => TurnEvent::Partial(text),
                Transcript::Final(text) => TurnEvent::Final(text),
            };
            self.apply(event, out, &mut notes);
        }
        self.pump_llm();
        self.pump_tts(out, &mut notes);
        let idle = self.llm.is_none() && self.utterances.is_empty() && out.queued_audio() == 0;
        match self.turns.phase() {
            Phase::Greeting if idle => self.apply(TurnEvent::GreetingFinished, out, &mut notes),
            Phase::Thinking if idle => {
                // The reply ended with nothing to say (an empty completion): listen again.
                tracing::warn!(turn = self.turn, "the language model gave an empty reply");
                notes.push(ConversationNote::AgentSaid { turn: self.turn, text: String::new(), interrupted: false });
                self.apply(TurnEvent::AgentAudioFinished, out, &mut notes);
            }
            Phase::AgentSpeaking if idle => {
                notes.push(ConversationNote::AgentSaid {
                    turn: self.turn,
                    text: self.reply.trim().to_string(),
                    interrupted: false,
                });
                self.apply(TurnEvent::AgentAudioFinished, out, &mut notes);
            }
            _ => {}
        }
        notes
    }

    fn apply(&mut self, event: TurnEvent, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        for action in self.turns.transition(event) {
            match action {
                TurnAction::Respond { turn, text } => {
                    notes.push(ConversationNote::UserSaid { turn, text: text.clone() });
                    self.turn = turn;
                    self.history.push(ChatMessage { role: Role::User, content: text });
                    self.llm = Some(self.agent.llm.reply(&self.history));
                    self.reply.clear();
                    self.clause.clear();
                    self.audio_started = false;
                }
                TurnAction::CancelResponse => {
                    self.llm = None;
                    self.utterances.clear();
                    self.clause.clear();
                }
                TurnAction::FlushAudio => {
                    let dropped = out.flush_audio();
                    notes.push(ConversationNote::BargeIn { dropped_samples: dropped });
                }
                TurnAction::MarkInterrupted => {
                    if !self.reply.is_empty() {
                        // Transcript honesty: the reply is kept as interrupted (played-text accounting per
                        // clause comes with the recorder).
                        notes.push(ConversationNote::AgentSaid {
                            turn: self.turn,
                            text: self.reply.trim().to_string(),
                            interrupted: true,
                        });
                    }
                }
            }
        }
    }

    /// Moves LLM tokens into clauses for TTS: the first clause is spoken as soon as it is complete.
    fn pump_llm(&mut self) {
        let Some(llm) = self.llm.as_mut() else { return };
        let mut finished = false;
        let mut clauses = Vec::new();
        while let Some(event) = llm.poll_event() {
            match event {
                LlmEvent::Token(token) => {
                    self.reply.push_str(&token);
                    self.clause.push_str(&token);
                    if token.trim_end().ends_with(['.', '!', '?', ',', ';', ':', '।']) {
                        clauses.push(std::mem::take(&mut self.clause));
                    }
                }
                LlmEvent::Done => {
                    finished = true;
                    break;
                }
                LlmEvent::Failed(reason) => {
                    tracing::warn!(%reason, "LLM failed");
                    if self.reply.trim().is_empty() {
                        // Say so rather than leave the caller in silence.
                        self.reply.push_str(LLM_FAILED_REPLY);
                        self.clause.push_str(LLM_FAILED_REPLY);
                    }
                    finished = true;
                    break;
                }
            }
        }
        if finished {
            clauses.push(std::mem::take(&mut self.clause));
            self.llm = None;
            self.history.push(ChatMessage { role: Role::Assistant, content: self.reply.trim().to_string() });
        }
        for clause in clauses {
            if !clause.trim().is_empty() {
                self.speak(&clause);
            }
        }
    }

    fn speak(&mut self, text: &str) {
        let tts = self.agent.tts.speak(text.trim());
        let rate = tts.sample_rate();
        let resampler = (rate != ENGINE_RATE).then(|| Resampler::new(rate, ENGINE_RATE));
        self.utterances.push_back(Utterance { tts, resampler });
    }

    /// Keeps the outgoing queue [`LOOKAHEAD_SAMPLES`] ahead.
    fn pump_tts(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        while out.queued_audio() < LOOKAHEAD_SAMPLES {
            let Some(utterance) = self.utterances.front_mut() else { break };
            self.scratch.clear();
            let more = utterance.tts.poll_audio(&mut self.scratch);
            if !self.scratch.is_empty() {
                let pcm: &[i16] = match utterance.resampler.as_mut() {
                    Some(r) => {
                        self.resampled.resize(r.max_output(self.scratch.len()), 0);
                        let n = r.process(&self.scratch, &mut self.resampled);
                        &self.resampled[..n]
                    }
                    None => &self.scratch,
                };
                out.queue_audio(pcm);
                if !self.audio_started && matches!(self.turns.phase(), Phase::Thinking) {
                    self.audio_started = true;
                    notes.push(ConversationNote::AgentStarted {
                        turn: self.turn,
                        ticks_since_end_of_speech: self.ticks - self.end_of_speech_tick,
                    });
                    self.apply(TurnEvent::AgentAudioStarted, out, notes);
                }
            }
            if !more {
                self.utterances.pop_front();
            } else if self.scratch.is_empty() {
                break; // the engine has nothing ready yet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue that plays 320 samples per tick, like the RTP egress.
    #[derive(Default)]
    struct Speaker {
        queued: usize,
        played: usize,
        flushed: usize,
    }

    impl AudioSink for Speaker {
        fn queue_audio(&mut self, pcm: &[i16]) {
            self.queued += pcm.len();
        }
        fn flush_audio(&mut self) -> usize {
            let dropped = self.queued;
            self.flushed += dropped;
            self.queued = 0;
            dropped
        }
        fn queued_audio(&self) -> usize {
            self.queued
        }
    }

    impl Speaker {
        fn play_tick(&mut self) {
            let n = self.queued.min(ENGINE_FRAME);
            self.queued -= n;
            self.played += n;
        }
    }

    fn voice(tick: usize) -> [i16; ENGINE_FRAME] {
        let mut f = [0i16; ENGINE_FRAME];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (tick * ENGINE_FRAME + i) as f32 / 16000.0;
            *s = ((t * 200.0 * std::f32::consts::TAU).sin() * 6000.0) as i16;
        }
        f
    }

    /// Runs `ticks` ticks; `speaking(tick)` says whether the caller talks.
    fn run(
        conv: &mut Conversation,
        speaker: &mut Speaker,
        ticks: std::ops::Range<usize>,
        speaking: impl Fn(usize) -> bool,
    ) -> Vec<(usize, ConversationNote)> {
        let mut notes = Vec::new();
        for tick in ticks {
            speaker.play_tick();
            let frame = if speaking(tick) { voice(tick) } else { [3i16; ENGINE_FRAME] };
            notes.extend(conv.on_frame(&frame, speaker).into_iter().map(|n| (tick, n)));
        }
        notes
    }

    #[test]
    fn bench_agent_greets_then_answers_after_the_caller_stops() {
        let mut conv = Conversation::new(Arc::new(Agent::bench(false)));
        let mut speaker = Speaker::default();
        conv.start();
        // Greeting: 6 words → 360 ms of tone; it finishes by tick 30.
        run(&mut conv, &mut speaker, 0..30, |_| false);
        assert_eq!(conv.phase(), &Phase::Listening);
        assert_eq!(speaker.played, 6 * 60 * 16);
        // The caller talks for 1 s (ticks 30..80), then is quiet.
        let notes = run(&mut conv, &mut speaker, 30..200, |t| (30..80).contains(&t));
        let said: Vec<&ConversationNote> = notes.iter().map(|(_, n)| n).collect();
        assert!(said.contains(&&ConversationNote::UserSaid { turn: 1, text: "what time is it".into() }), "{notes:?}");
        let started = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentStarted { ticks_since_end_of_speech, .. } => Some(*ticks_since_end_of_speech),
            _ => None,
        });
        assert_eq!(started, Some(0), "stand-in models answer in the tick the turn ends");
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentSaid { interrupted: false, .. })));
        assert_eq!(conv.phase(), &Phase::Listening);
    }

    #[test]
    fn speaking_over_the_agent_flushes_its_audio_within_the_vad_start_time() {
        let mut conv = Conversation::new(Arc::new(Agent::bench(false)));
        let mut speaker = Speaker::default();
        conv.start();
        run(&mut conv, &mut speaker, 0..30, |_| false);
        run(&mut conv, &mut speaker, 30..110, |t| (30..80).contains(&t));
        assert_eq!(conv.phase(), &Phase::AgentSpeaking);
        // Barge in at tick 110, while the 720 ms reply (ticks ~100–136) plays.
        let notes = run(&mut conv, &mut speaker, 110..200, |t| (110..150).contains(&t));
        let barge = notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::BargeIn { .. }).then_some(*t));
        // VAD needs 0.1 s (+ volume smoothing) and the partial 0.1 s of voice: flushed within 300 ms.
        assert!(barge.is_some_and(|t| t <= 125), "{notes:?}");
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentSaid { interrupted: true, .. })));
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { turn: 2, .. })), "{notes:?}");
        assert!(speaker.flushed > 0);
    }
}
