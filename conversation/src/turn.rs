//! The turn-taking core of the conversation engine, as a pure state machine: `transition(event)` returns the
//! actions the call loop must carry out (start or cancel a response, flush outgoing audio). No I/O, no clock,
//! no catch-all arm: every (phase, event) pair is decided here and tested.
//!
//! Phases: the greeting plays; the engine listens; the caller speaks; the caller paused and the engine awaits
//! the final transcript; the engine thinks (LLM/TTS before first audio); the agent speaks; the agent is
//! paused because the caller spoke over it.
//!
//! Barge-in: stop fast, confirm after. When the VAD hears the caller start while the agent speaks, the agent's
//! audio pauses at once ([`TurnAction::PauseAudio`]: RTP silence, a provider's `clearAudio`), so the caller
//! is not talked over while the recogniser catches up. Then the words decide, as in the original: a transcript
//! with at least `interruption_min_words` words confirms the interruption (the reply is flushed, cancelled and
//! marked as heard only in part); a final transcript with fewer (a cough, "mm-hm", line noise) resumes the
//! agent where it paused ([`TurnAction::ResumeAudio`]). If the recogniser says nothing within the engine's
//! window, the VAD's own evidence decides ([`TurnEvent::ConfirmWindowPassed`]). With
//! `interruption_min_words = 0` the VAD alone interrupts at once. The greeting is never interrupted while
//! `ignore_user_speech_before_greeting` is set.

/// Per-agent turn policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnPolicy {
    /// Caller speech during the greeting neither interrupts it nor counts as a turn.
    pub ignore_user_speech_before_greeting: bool,
    /// Recognised words needed to confirm an interruption (0: the VAD alone interrupts).
    pub interruption_min_words: u32,
}

impl Default for TurnPolicy {
    fn default() -> Self {
        // The original's defaults.
        Self { ignore_user_speech_before_greeting: true, interruption_min_words: 1 }
    }
}

/// Where the conversation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The agent's greeting is playing.
    Greeting,
    /// Waiting for the caller to speak.
    Listening,
    /// The VAD hears the caller.
    UserSpeaking,
    /// VAD says the caller stopped; waiting for the STT final.
    AwaitingTranscript,
    /// A response is being generated; no agent audio yet.
    Thinking,
    /// The reply's audio is playing.
    AgentSpeaking,
    /// The caller started speaking over the agent: its audio is paused until the interruption is confirmed
    /// (words, or the VAD after the window) or not (the agent resumes).
    AgentPaused,
}

/// Inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// The greeting has been played.
    GreetingFinished,
    /// The VAD heard the caller start.
    SpeechStarted,
    /// The VAD heard the caller stop.
    SpeechStopped,
    /// An interim transcript of the current utterance.
    Partial(String),
    /// The final transcript of an utterance (may arrive before or after `SpeechStopped`).
    Final(String),
    /// The reply's first audio started playing.
    AgentAudioStarted,
    /// Everything queued for the current response has been played.
    AgentAudioFinished,
    /// The agent has been paused for the confirmation window and the recogniser gave no verdict: the VAD's
    /// evidence decides (`caller_spoke_long`: the caller's voiced time since the pause reached the minimum).
    ConfirmWindowPassed {
        /// The caller's voiced time since the pause reached the minimum.
        caller_spoke_long: bool,
    },
}

/// Outputs, carried out by the call loop in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnAction {
    /// Generate a response to this user text (turn `turn`).
    Respond {
        /// The turn number.
        turn: u64,
        /// What the caller said.
        text: String,
    },
    /// Stop generating: drop the reply (its LLM and TTS work).
    CancelResponse,
    /// Drop queued agent audio (RTP flush, provider `clearAudio`).
    FlushAudio,
    /// Stop playing agent audio at once, keeping what is queued (the caller may only have coughed).
    PauseAudio,
    /// Play the paused agent audio on from where it stopped.
    ResumeAudio,
    /// The agent was interrupted; the transcript must keep only what was played (before the reply is
    /// cancelled: it needs the reply's clauses).
    MarkInterrupted,
}

/// The state machine.
#[derive(Debug, Clone)]
pub struct TurnMachine {
    policy: TurnPolicy,
    phase: Phase,
    /// VAD currently hears the caller.
    caller_audible: bool,
    /// Final transcript text gathered for the current user turn.
    pending_text: String,
    turn: u64,
}

/// Backchannels and fillers: a listener's "mm-hm" over the agent is no interruption.
const FILLERS: &[&str] =
    &["hm", "hmm", "mm", "mmm", "mhm", "mm-hm", "mm-hmm", "uh", "uh-huh", "um", "umm", "ah", "oh", "er", "erm", "huh"];

/// Words a caller said: recognisers' annotations of non-speech (`(coughs)`, `[BLANK_AUDIO]`, `*laughs*`)
/// and fillers ("hmm", "uh-huh") are no words, so neither a cough nor a backchannel interrupts the agent.
fn word_count(text: &str) -> u32 {
    let mut spoken = String::with_capacity(text.len());
    let mut depth = 0u32;
    let mut starred = false;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                spoken.push(' ');
            }
            '*' => {
                starred = !starred;
                spoken.push(' ');
            }
            _ if depth == 0 && !starred => spoken.push(c),
            _ => {}
        }
    }
    spoken
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| w.chars().any(char::is_alphanumeric) && !FILLERS.contains(&w.as_str()))
        .count() as u32
}

/// Words per second of voice the VAD counted that a caller may say: conversational speech is 2–3, a fast
/// "no no no wait stop" 6–8, and the VAD can count soft or quick speech short; so the bound is generous, and a
/// recogniser's invented sentence (six words in a 300 ms cough) still fails it.
const MAX_WORDS_PER_VOICED_SECOND: u32 = 10;

/// Whether `transcript` has no more words than `voiced_ms` of the caller's voice could carry (one word of slack
/// for the voice before the VAD's onset). A recogniser given a cough or line noise may invent a whole sentence
/// (Whisper tiny has heard "I'm a fan of the game." in 300 ms of noise); such a transcript is no interruption.
pub fn words_fit_voiced_time(transcript: &str, voiced_ms: u64) -> bool {
    let most = 1 + voiced_ms.saturating_mul(u64::from(MAX_WORDS_PER_VOICED_SECOND)) / 1000;
    u64::from(word_count(transcript)) <= most
}

impl TurnMachine {
    /// Starts in `Greeting` when the agent has a greeting, else `Listening`.
    pub fn new(policy: TurnPolicy, has_greeting: bool) -> Self {
        let phase = if has_greeting { Phase::Greeting } else { Phase::Listening };
        Self { policy, phase, caller_audible: false, pending_text: String::new(), turn: 0 }
    }

    /// Where the conversation is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Feeds one event in; returns what to do, in order.
    pub fn transition(&mut self, event: TurnEvent) -> Vec<TurnAction> {
        use Phase::*;
        use TurnEvent::*;
        match &event {
            SpeechStarted => self.caller_audible = true,
            SpeechStopped => self.caller_audible = false,
            _ => {}
        }
        match (self.phase.clone(), event) {
            // Greeting: the caller is heard only if the policy allows barging into the greeting.
            (Greeting, GreetingFinished | AgentAudioFinished) => self.to(Listening),
            (Greeting, SpeechStarted | Partial(_)) if self.policy.ignore_user_speech_before_greeting => vec![],
            (Greeting, SpeechStarted) => self.maybe_interrupt(""),
            (Greeting, Partial(text)) => self.maybe_interrupt(&text),
            (Greeting, Final(_)) if self.policy.ignore_user_speech_before_greeting => vec![],
            (Greeting, Final(text)) => {
                let mut actions = self.maybe_interrupt(&text);
                self.pending_text = text;
                actions.extend(self.end_of_turn_if_ready());
                actions
            }
            (Greeting, SpeechStopped | AgentAudioStarted | ConfirmWindowPassed { .. }) => vec![],

            (Listening, SpeechStarted) => self.to(UserSpeaking),
            (Listening, Partial(_)) => self.to(UserSpeaking),
            (Listening, Final(text)) => {
                // A final without VAD (e.g. DTMF turned into text, or VAD missed a quiet utterance).
                self.pending_text = text;
                self.respond()
            }
            (
                Listening,
                SpeechStopped | GreetingFinished | AgentAudioStarted | AgentAudioFinished | ConfirmWindowPassed { .. },
            ) => vec![],

            (UserSpeaking, SpeechStopped) => {
                self.phase = AwaitingTranscript;
                self.end_of_turn_if_ready()
            }
            (UserSpeaking, Final(text)) => {
                self.append(&text);
                vec![]
            }
            (
                UserSpeaking,
                SpeechStarted
                | Partial(_)
                | GreetingFinished
                | AgentAudioStarted
                | AgentAudioFinished
                | ConfirmWindowPassed { .. },
            ) => vec![],

            (AwaitingTranscript, Final(text)) => {
                self.append(&text);
                if self.pending_text.trim().is_empty() {
                    // No words (noise, or the recogniser failed): nothing to answer, and no transcript is
                    // still due, so the caller's silence counts again.
                    return self.to(Listening);
                }
                self.end_of_turn_if_ready()
            }
            (AwaitingTranscript, SpeechStarted) => self.to(UserSpeaking),
            (
                AwaitingTranscript,
                Partial(_)
                | SpeechStopped
                | GreetingFinished
                | AgentAudioStarted
                | AgentAudioFinished
                | ConfirmWindowPassed { .. },
            ) => vec![],

            // The caller resumed before any agent audio: drop the response and keep listening to one turn.
            (Thinking, SpeechStarted) => {
                self.phase = UserSpeaking;
                vec![TurnAction::CancelResponse]
            }
            (Thinking, AgentAudioStarted) => self.to(AgentSpeaking),
            (Thinking, AgentAudioFinished) => self.to(Listening),
            (Thinking, Final(text)) => {
                // More words arrived for the turn being answered: answer the whole utterance instead.
                self.append(&text);
                let mut actions = vec![TurnAction::CancelResponse];
                actions.extend(self.respond());
                actions
            }
            (Thinking, Partial(_) | SpeechStopped | GreetingFinished | ConfirmWindowPassed { .. }) => vec![],

            // Stop fast: the caller's voice pauses the agent at once; the words decide after.
            (AgentSpeaking, SpeechStarted) if self.policy.interruption_min_words == 0 => self.interrupt(),
            (AgentSpeaking, SpeechStarted) => {
                self.phase = AgentPaused;
                vec![TurnAction::PauseAudio]
            }
            (AgentSpeaking, Partial(text)) => self.maybe_interrupt(&text),
            (AgentSpeaking, Final(text)) => {
                let mut actions = self.maybe_interrupt(&text);
                if self.phase != AgentSpeaking {
                    self.pending_text = text;
                    actions.extend(self.end_of_turn_if_ready());
                }
                actions
            }
            (AgentSpeaking, AgentAudioFinished) => self.to(Listening),
            (AgentSpeaking, SpeechStopped | GreetingFinished | AgentAudioStarted | ConfirmWindowPassed { .. }) => {
                vec![]
            }

            (AgentPaused, Partial(text)) if self.enough_words(&text) => self.interrupt(),
            (AgentPaused, Final(text)) if self.enough_words(&text) => {
                let mut actions = self.interrupt();
                self.pending_text = text;
                if !self.caller_audible {
                    self.phase = AwaitingTranscript;
                }
                actions.extend(self.end_of_turn_if_ready());
                actions
            }
            // The recogniser's verdict on what the caller said is "too few words" and they are quiet again.
            (AgentPaused, Final(_)) if !self.caller_audible => self.resume(),
            (AgentPaused, Final(_) | Partial(_) | SpeechStarted | SpeechStopped | GreetingFinished) => vec![],
            (AgentPaused, ConfirmWindowPassed { caller_spoke_long: true }) => {
                let actions = self.interrupt();
                if !self.caller_audible {
                    // Their words are still to come from the recogniser (its final for the utterance).
                    self.phase = AwaitingTranscript;
                }
                actions
            }
            (AgentPaused, ConfirmWindowPassed { caller_spoke_long: false }) => self.resume(),
            // Nothing was left to play when the caller spoke: the reply is over, their turn goes on.
            (AgentPaused, AgentAudioFinished) => self.to(if self.caller_audible { UserSpeaking } else { Listening }),
            (AgentPaused, AgentAudioStarted) => vec![],
        }
    }

    fn enough_words(&self, transcript: &str) -> bool {
        word_count(transcript) >= self.policy.interruption_min_words
    }

    /// The interruption is confirmed: the caller has the floor, the reply goes.
    fn interrupt(&mut self) -> Vec<TurnAction> {
        self.phase = Phase::UserSpeaking;
        vec![TurnAction::FlushAudio, TurnAction::MarkInterrupted, TurnAction::CancelResponse]
    }

    /// Not an interruption after all: the agent goes on where it paused.
    fn resume(&mut self) -> Vec<TurnAction> {
        self.phase = Phase::AgentSpeaking;
        vec![TurnAction::ResumeAudio]
    }

    fn to(&mut self, phase: Phase) -> Vec<TurnAction> {
        self.phase = phase;
        vec![]
    }

    fn append(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.pending_text.is_empty() {
            self.pending_text.push(' ');
        }
        self.pending_text.push_str(text);
    }

    /// Barge-in check while the agent talks: VAD must hear the caller and the transcript must carry enough words.
    fn maybe_interrupt(&mut self, transcript: &str) -> Vec<TurnAction> {
        if !(self.caller_audible && self.enough_words(transcript)) {
            return vec![];
        }
        self.interrupt()
    }

    /// After VAD stop: answer if a final transcript is in; an empty one means there was nothing to answer.
    fn end_of_turn_if_ready(&mut self) -> Vec<TurnAction> {
        if self.phase != Phase::AwaitingTranscript && self.caller_audible {
            return vec![];
        }
        if self.pending_text.trim().is_empty() {
            return vec![];
        }
        self.respond()
    }

    fn respond(&mut self) -> Vec<TurnAction> {
        let text = std::mem::take(&mut self.pending_text);
        if text.trim().is_empty() {
            self.phase = Phase::Listening;
            return vec![];
        }
        self.turn += 1;
        self.phase = Phase::Thinking;
        vec![TurnAction::Respond { turn: self.turn, text }]
    }
}

#[cfg(test)]
mod tests {
    use super::TurnAction::*;
    use super::TurnEvent::*;
    use super::*;

    fn run(machine: &mut TurnMachine, events: Vec<TurnEvent>) -> Vec<TurnAction> {
        events.into_iter().flat_map(|e| machine.transition(e)).collect()
    }

    #[test]
    fn a_turn_without_words_goes_back_to_listening_without_an_answer() {
        let mut m = TurnMachine::new(TurnPolicy::default(), true);
        let actions = run(&mut m, vec![GreetingFinished, SpeechStarted, SpeechStopped, Final(String::new())]);
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(m.phase(), &Phase::Listening);
        // The next turn with words is answered as usual.
        let actions = run(&mut m, vec![SpeechStarted, SpeechStopped, Final("what time".into())]);
        assert_eq!(actions, vec![Respond { turn: 1, text: "what time".into() }]);
    }

    #[test]
    fn a_plain_turn_answers_after_speech_stops_and_the_final_arrives() {
        let mut m = TurnMachine::new(TurnPolicy::default(), true);
        let actions = run(&mut m, vec![GreetingFinished, SpeechStarted, Partial("what".into()), SpeechStopped]);
        assert!(actions.is_empty(), "no answer before the final transcript");
        assert_eq!(m.phase(), &Phase::AwaitingTranscript);
        let actions = run(&mut m, vec![Final("what time is it".into())]);
        assert_eq!(actions, vec![Respond { turn: 1, text: "what time is it".into() }]);
        run(&mut m, vec![AgentAudioStarted]);
        assert_eq!(m.phase(), &Phase::AgentSpeaking);
        run(&mut m, vec![AgentAudioFinished]);
        assert_eq!(m.phase(), &Phase::Listening);
    }

    #[test]
    fn a_final_that_arrives_before_vad_stop_is_answered_at_the_stop() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        let actions = run(&mut m, vec![SpeechStarted, Final("hello".into()), Final("there".into()), SpeechStopped]);
        assert_eq!(actions, vec![Respond { turn: 1, text: "hello there".into() }]);
    }

    #[test]
    fn greeting_guard_ignores_the_caller_until_the_greeting_ends() {
        let mut m = TurnMachine::new(TurnPolicy::default(), true);
        let actions = run(&mut m, vec![SpeechStarted, Partial("hello hello".into()), Final("hello hello".into())]);
        assert!(actions.is_empty());
        assert_eq!(m.phase(), &Phase::Greeting);
    }

    #[test]
    fn without_the_guard_the_greeting_can_be_interrupted() {
        let policy = TurnPolicy { ignore_user_speech_before_greeting: false, interruption_min_words: 1 };
        let mut m = TurnMachine::new(policy, true);
        let actions = run(&mut m, vec![SpeechStarted, Partial("wait".into())]);
        assert_eq!(actions, vec![FlushAudio, MarkInterrupted, CancelResponse]);
        assert_eq!(m.phase(), &Phase::UserSpeaking);
    }

    #[test]
    fn barge_in_pauses_at_once_and_needs_enough_words_to_interrupt() {
        let policy = TurnPolicy { ignore_user_speech_before_greeting: true, interruption_min_words: 2 };
        let mut m = TurnMachine::new(policy, false);
        run(&mut m, vec![SpeechStarted, SpeechStopped, Final("hi".into()), AgentAudioStarted]);
        assert_eq!(m.phase(), &Phase::AgentSpeaking);
        // The agent's own echo transcribed without the caller audible: no interruption.
        assert!(run(&mut m, vec![Partial("sure it is".into())]).is_empty());
        // The caller's voice pauses the agent at once.
        assert_eq!(run(&mut m, vec![SpeechStarted]), vec![PauseAudio]);
        assert_eq!(m.phase(), &Phase::AgentPaused);
        // One word so far (a cough, "uh"): still paused, not interrupted.
        assert!(run(&mut m, vec![Partial("uh".into())]).is_empty());
        assert_eq!(run(&mut m, vec![Partial("no stop".into())]), vec![FlushAudio, MarkInterrupted, CancelResponse]);
        let actions = run(&mut m, vec![SpeechStopped, Final("no stop please".into())]);
        assert_eq!(actions, vec![Respond { turn: 2, text: "no stop please".into() }]);
    }

    #[test]
    fn a_cough_resumes_the_agent_where_it_paused() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        run(&mut m, vec![Final("hi".into()), AgentAudioStarted]);
        assert_eq!(run(&mut m, vec![SpeechStarted]), vec![PauseAudio]);
        // The cough ends; the recogniser's final for it has no words.
        assert!(run(&mut m, vec![SpeechStopped]).is_empty());
        assert_eq!(run(&mut m, vec![Final(" ".into())]), vec![ResumeAudio]);
        assert_eq!(m.phase(), &Phase::AgentSpeaking);
        run(&mut m, vec![AgentAudioFinished]);
        assert_eq!(m.phase(), &Phase::Listening);
    }

    #[test]
    fn without_a_verdict_the_vad_decides_when_the_window_passes() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        run(&mut m, vec![Final("hi".into()), AgentAudioStarted, SpeechStarted]);
        // Short voice, no words in time: the agent resumes.
        assert_eq!(run(&mut m, vec![ConfirmWindowPassed { caller_spoke_long: false }]), vec![ResumeAudio]);
        // Long voice, still talking, no words yet: the interruption stands; their words end the turn later.
        assert_eq!(run(&mut m, vec![SpeechStopped, SpeechStarted]), vec![PauseAudio]);
        let actions = run(&mut m, vec![ConfirmWindowPassed { caller_spoke_long: true }]);
        assert_eq!(actions, vec![FlushAudio, MarkInterrupted, CancelResponse]);
        assert_eq!(m.phase(), &Phase::UserSpeaking);
        let actions = run(&mut m, vec![SpeechStopped, Final("wait I have a question".into())]);
        assert_eq!(actions, vec![Respond { turn: 2, text: "wait I have a question".into() }]);
        // Long voice that already stopped: the final still to come ends the turn.
        run(&mut m, vec![AgentAudioStarted, SpeechStarted, SpeechStopped]);
        let actions = run(&mut m, vec![ConfirmWindowPassed { caller_spoke_long: true }]);
        assert_eq!(actions, vec![FlushAudio, MarkInterrupted, CancelResponse]);
        assert_eq!(m.phase(), &Phase::AwaitingTranscript);
        assert_eq!(run(&mut m, vec![Final("hello".into())]), vec![Respond { turn: 3, text: "hello".into() }]);
    }

    #[test]
    fn a_paused_reply_that_had_nothing_left_leaves_the_floor_to_the_caller() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        run(&mut m, vec![Final("hi".into()), AgentAudioStarted, SpeechStarted]);
        assert!(run(&mut m, vec![AgentAudioFinished]).is_empty());
        assert_eq!(m.phase(), &Phase::UserSpeaking);
        let actions = run(&mut m, vec![SpeechStopped, Final("thanks".into())]);
        assert_eq!(actions, vec![Respond { turn: 2, text: "thanks".into() }]);
    }

    #[test]
    fn zero_min_words_interrupts_on_vad_alone() {
        let policy = TurnPolicy { ignore_user_speech_before_greeting: true, interruption_min_words: 0 };
        let mut m = TurnMachine::new(policy, false);
        run(&mut m, vec![Final("hi".into()), AgentAudioStarted]);
        assert_eq!(run(&mut m, vec![SpeechStarted]), vec![FlushAudio, MarkInterrupted, CancelResponse]);
    }

    #[test]
    fn resuming_before_the_answer_cancels_it_and_merges_the_turn() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        let actions = run(&mut m, vec![SpeechStarted, SpeechStopped, Final("I want to book".into())]);
        assert_eq!(actions, vec![Respond { turn: 1, text: "I want to book".into() }]);
        assert_eq!(run(&mut m, vec![SpeechStarted]), vec![CancelResponse]);
        let actions = run(&mut m, vec![SpeechStopped, Final("a table for two".into())]);
        assert_eq!(actions, vec![Respond { turn: 2, text: "a table for two".into() }]);
    }

    #[test]
    fn annotations_of_non_speech_are_no_words() {
        assert_eq!(word_count("no stop please"), 3);
        assert_eq!(word_count("(coughs) [BLANK_AUDIO] *laughs* - ..."), 0);
        assert_eq!(word_count("wait (coughs) what"), 2);
        assert_eq!(word_count("it's 5 o'clock"), 3);
        assert_eq!(word_count("Hmm. Mm-hm, uh-huh..."), 0);
    }

    #[test]
    fn a_sentence_in_a_cough_is_the_recogniser_inventing_words() {
        // 300 ms of voice carries at most 4 words (1 + 3): Whisper's sentence for a cough does not fit.
        assert!(!words_fit_voiced_time("I'm a fan of the game.", 300));
        assert!(words_fit_voiced_time("no no no wait stop", 600));
        assert!(words_fit_voiced_time("Wait, stop", 300));
        assert!(words_fit_voiced_time("", 0));
        assert!(words_fit_voiced_time("Stop", 0));
        // A real interruption: nine words over 2.4 s of voice.
        assert!(words_fit_voiced_time("Wait, stop, I want to ask you something else", 2400));
        assert!(!words_fit_voiced_time("Wait, stop, I want to ask you something else", 500));
        // Fillers and annotations are no words at all.
        assert!(words_fit_voiced_time("(coughs) hmm uh-huh [BLANK_AUDIO]", 0));
        assert_eq!(word_count("Um, stop."), 1);
    }

    #[test]
    fn an_empty_final_is_not_answered() {
        let mut m = TurnMachine::new(TurnPolicy::default(), false);
        assert!(run(&mut m, vec![SpeechStarted, SpeechStopped, Final("  ".into())]).is_empty());
    }
}
