//! One call's conversation, sans-IO: every 20 ms the call loop hands over the caller's frame and the engine
//! runs VAD, feeds STT, moves the [`TurnMachine`], streams LLM tokens through a clause chunker into TTS, and
//! queues agent audio on the call's outgoing queue, keeping about [`LOOKAHEAD_SAMPLES`] ahead so a barge-in
//! throws little away. Models are polled, never awaited, so nothing here blocks the loop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use voicera_models::{
    tool_call_text, ChatMessage, LlmEvent, LlmStream, ModelError, ModelStage, Role, SttStream, Switch, ToolSpec,
    Transcript, TtsStream,
};

use crate::agent::{is_farewell, render_template, Agent, AgentTool, CallContext, InteractionMode, ToolRequest};
use crate::turn::{words_fit_voiced_time, Phase, TurnAction, TurnEvent, TurnMachine};
use voicera_media::dsp::Resampler;
use voicera_media::stream::{ENGINE_FRAME, ENGINE_RATE};
use voicera_media::vad::{EnergyModel, SpeechProbability, VadEvent, VadGate};

/// Agent audio kept queued ahead of playback: 200 ms, enough to ride out a slow TTS chunk, little to discard.
pub const LOOKAHEAD_SAMPLES: usize = ENGINE_RATE as usize / 5;

/// Spoken when the language model fails before saying anything.
pub const LLM_FAILED_REPLY: &str = "Sorry, I could not answer that just now. Could you say it again?";

/// Where agent audio goes: the call's outgoing queue (RTP egress today, provider streams later).
pub trait AudioSink {
    /// Queues agent audio (16 kHz) to play after what is queued.
    fn queue_audio(&mut self, pcm: &[i16]);
    /// Drops queued audio, playing or paused; returns the samples dropped. Playback is no longer paused.
    fn flush_audio(&mut self) -> usize;
    /// Agent audio queued and not yet played.
    fn queued_audio(&self) -> usize;
    /// Stops playing at once (silence goes out), keeping what is queued: the caller spoke over the agent.
    fn pause_audio(&mut self);
    /// Plays on from where [`AudioSink::pause_audio`] stopped, without repeating or skipping audio.
    fn resume_audio(&mut self);
}

impl AudioSink for voicera_media::stream::RtpStream {
    fn queue_audio(&mut self, pcm: &[i16]) {
        voicera_media::stream::RtpStream::queue_audio(self, pcm);
    }

    fn flush_audio(&mut self) -> usize {
        self.flush_outbound()
    }

    fn queued_audio(&self) -> usize {
        self.queued_outbound()
    }

    fn pause_audio(&mut self) {
        self.pause_outbound(true);
    }

    fn resume_audio(&mut self) {
        self.pause_outbound(false);
    }
}

impl AudioSink for voicera_media::egress::EgressQueue {
    fn queue_audio(&mut self, pcm: &[i16]) {
        self.push(pcm);
    }

    fn flush_audio(&mut self) -> usize {
        self.flush()
    }

    fn queued_audio(&self) -> usize {
        self.len()
    }

    fn pause_audio(&mut self) {
        self.set_paused(true);
    }

    fn resume_audio(&mut self) {
        self.set_paused(false);
    }
}

/// Things worth logging or storing, reported by [`Conversation::on_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationNote {
    /// A final transcript of the caller, taken as turn `turn`.
    UserSaid {
        /// The turn it starts.
        turn: u64,
        /// The words.
        text: String,
    },
    /// First agent audio of a turn, with the ticks (20 ms) since the caller stopped speaking and where they
    /// went.
    AgentStarted {
        /// The turn.
        turn: u64,
        /// Engine ticks (20 ms) from end of speech to this audio.
        ticks_since_end_of_speech: u64,
        /// Where that time went.
        stages: StageTimings,
    },
    /// What the agent said in a turn, once it is done (or cut off).
    AgentSaid {
        /// The turn.
        turn: u64,
        /// The words sent to TTS.
        text: String,
        /// The caller interrupted the reply.
        interrupted: bool,
    },
    /// The caller interrupted the agent: its unplayed audio was dropped (`paused_ms`: how long it was paused
    /// before the interruption was confirmed; 0 when the VAD alone interrupts).
    BargeIn {
        /// Agent samples dropped unplayed.
        dropped_samples: usize,
        /// How long the agent was paused first.
        paused_ms: u64,
    },
    /// The caller's voice paused the agent but was no interruption (a cough, "mm-hm"): it played on.
    BargeInResumed {
        /// How long the agent was paused.
        paused_ms: u64,
    },
    /// A model failed: an utterance went untranscribed, a reply or a clause was cut short. The call goes on
    /// (the engine says so or skips the clause); the failure is logged, counted and kept in the record.
    ModelFailed {
        /// Which model.
        stage: ModelStage,
        /// What went wrong.
        error: ModelError,
    },
    /// A fallback chain moved to its next model (the caller hears the rest of the turn from it).
    ModelFallback {
        /// Which model.
        stage: ModelStage,
        /// The model left.
        from: String,
        /// The model answering now.
        to: String,
        /// Why.
        reason: ModelError,
    },
    /// The agent ends the call (its last words, if any, have been played): BYE / provider hangup.
    HangUp {
        /// Why.
        reason: HangUpReason,
    },
    /// Send keypad tones to the other side (RFC 4733 on SIP, `sendDTMF` on Plivo streams).
    SendDtmf {
        /// The keys: digits, `*`, `#`.
        digits: String,
    },
    /// Carry out a tool call and report with [`Conversation::on_tool_result`] under `id`.
    Tool {
        /// Report the result under this id.
        id: u64,
        /// What to do.
        request: ToolRequest,
    },
}

/// Where a turn's latency went, in ms on the engine's 20 ms clock (None: the stage did not happen before
/// the first audio, e.g. a hold message played first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageTimings {
    /// End of speech (VAD stop) → the final transcript that started the reply.
    pub stt_ms: Option<u64>,
    /// Reply requested → first LLM token.
    pub llm_first_token_ms: Option<u64>,
    /// First clause sent to TTS → its first audio.
    pub tts_first_audio_ms: Option<u64>,
}

/// Why the agent ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpReason {
    /// The agent's reply held a farewell, now spoken.
    Farewell,
    /// The caller stayed silent past `user_silence_hangup`.
    UserSilence,
    /// The call reached `call_timeout`.
    CallTimeout,
    /// A non-conversational agent has spoken its message.
    MessageDelivered,
    /// The language model called `end_call`.
    EndCallTool,
    /// The caller was transferred elsewhere.
    Transferred,
    /// The engine itself failed (a bug, or a model that panicked): the call ends cleanly, its record kept.
    EngineFailed,
    /// An operator hung the call up from the console or the API (`POST /api/v1/calls/live/{id}/hangup`).
    Operator,
    /// An answering machine answered a campaign call whose `amd` setting hangs up on machines.
    AnsweringMachine,
    /// The campaign's voicemail message was left on an answering machine.
    VoicemailLeft,
}

impl HangUpReason {
    /// The reason as stored in records and metrics labels (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            HangUpReason::Farewell => "farewell",
            HangUpReason::UserSilence => "user_silence",
            HangUpReason::CallTimeout => "call_timeout",
            HangUpReason::MessageDelivered => "message_delivered",
            HangUpReason::EndCallTool => "end_call",
            HangUpReason::Transferred => "transferred",
            HangUpReason::EngineFailed => "engine_failed",
            HangUpReason::Operator => "operator",
            HangUpReason::AnsweringMachine => "answering_machine",
            HangUpReason::VoicemailLeft => "voicemail_left",
        }
    }
}

/// One clause being synthesised.
struct Utterance {
    tts: Box<dyn TtsStream>,
    resampler: Option<Resampler>,
    text: String,
    /// A clause of the LLM's reply (not the greeting, an idle prompt or a hold message).
    of_reply: bool,
    /// Some of its audio has been queued.
    started: bool,
}

/// One reply of the agent in the making, from the caller's turn to its last clause: everything that goes
/// when the reply is cancelled.
#[derive(Default)]
struct Reply {
    llm: Option<Box<dyn LlmStream>>,
    /// LLM text not yet handed to TTS (waiting for a clause boundary).
    clause: String,
    /// Full text of the reply so far.
    text: String,
    /// Agent audio of the reply has started.
    audio_started: bool,
    /// Clauses whose audio was queued, with the reply's sample count when each began.
    clauses: Vec<(String, usize)>,
    /// Samples of the reply queued so far.
    queued: usize,
    /// Ticks of the reply's first LLM token and first clause handed to TTS.
    first_token_tick: Option<u64>,
    first_clause_tick: Option<u64>,
    /// Tick at which the reply was requested; whether a hold message was said for it.
    respond_tick: u64,
    hold_said: bool,
    /// The tool call whose result the reply waits for.
    pending_tool: Option<u64>,
    /// Tool calls made for this reply (a loop of calls is cut off).
    tool_calls: u32,
}

/// The agent paused under the caller's voice, waiting for the verdict on an interruption.
struct BargeInPause {
    since_tick: u64,
    voiced_ticks: u64,
}

/// The engine of one call.
pub struct Conversation {
    agent: Arc<Agent>,
    /// The greeting with this call's variables filled in.
    greeting: String,
    turns: TurnMachine,
    vad: VadGate<Box<dyn SpeechProbability>>,
    stt: Box<dyn SttStream>,
    /// What the caller said this turn so far (finals, then the latest partial), for the turn detector.
    turn_text: String,
    turn_finals: usize,
    history: Vec<ChatMessage>,
    /// The reply in the making; cancelling it (barge-in) is replacing it with an empty one.
    reply: Reply,
    /// Speech queued for TTS: the reply's clauses, and the greeting, hold and idle messages.
    utterances: VecDeque<Utterance>,
    /// The caller's voice has paused the agent: since when, and how much of it was voiced since.
    pause: Option<BargeInPause>,
    turn: u64,
    ticks: u64,
    end_of_speech_tick: u64,
    /// Ticks of caller silence since the agent last played audio (while listening).
    silent_ticks: u64,
    idle_prompted: bool,
    /// Hang up once the queued audio has played.
    hang_up_after_audio: Option<HangUpReason>,
    /// Leaving a voicemail message ([`Conversation::leave_message`]): the caller is a machine recording, so
    /// nothing it plays is listened to; the call ends when the message has played.
    message_only: bool,
    hung_up: bool,
    /// The engine panicked once; it does nothing more.
    failed: bool,
    /// Samples dropped by the last flush (what the caller did not hear).
    last_flush_dropped: usize,
    hold_index: usize,
    tool_specs: Vec<ToolSpec>,
    tools_called: u64,
    /// A transfer was accepted: silent until signalling ends the call, or this tick.
    transferring_until: Option<u64>,
    /// Notes produced outside `on_frame` (tool results), delivered with the next tick.
    deferred: Vec<ConversationNote>,
    /// Keypad digits not yet handed to the LLM, and when the last one came.
    dtmf: String,
    dtmf_tick: u64,
    scratch: Vec<i16>,
    resampled: Vec<i16>,
}

/// How long an accepted transfer may take to complete before the agent leaves the call itself (30 s).
const TRANSFER_GRACE_TICKS: u64 = 30 * 50;

/// Tool calls one turn may make before the model is cut off (a model stuck calling tools).
const MAX_TOOL_CALLS_PER_TURN: u32 = 4;

/// Keypad digits are handed over after this pause (2 s) unless '#' ends them sooner.
const DTMF_PAUSE_TICKS: u64 = 100;
/// Digits kept per entry (a long account number fits; a stuck key does not grow memory).
const MAX_DTMF_DIGITS: usize = 32;

/// Engine ticks per second (20 ms frames).
const TICKS_PER_SECOND: u64 = 50;

fn ticks(d: Duration) -> u64 {
    (d.as_millis() as u64).div_ceil(1000 / TICKS_PER_SECOND)
}

impl Conversation {
    /// A conversation with no call context (variables render empty; `{{date}}` is the Unix epoch's).
    pub fn new(agent: Arc<Agent>) -> Self {
        Self::for_call(agent, &CallContext::default())
    }

    /// A conversation for one call: `{{variables}}` in the prompt and greeting are filled from `call`
    /// (`{{date}}` and `{{time}}` from its start on the call's clock, so this reads no clock).
    pub fn for_call(agent: Arc<Agent>, call: &CallContext) -> Self {
        let now = call.started_at_ms / 1000;
        let greeting = render_template(&agent.greeting, &agent, call, now);
        let system_prompt = render_template(&agent.system_prompt, &agent, call, now);
        let has_greeting = !greeting.trim().is_empty();
        let history = vec![ChatMessage { role: Role::System, content: system_prompt }];
        Self {
            greeting,
            turns: TurnMachine::new(agent.policy, has_greeting),
            vad: VadGate::new(
                agent.vad,
                agent.speech_model.as_ref().map_or_else(|| Box::new(EnergyModel::default()) as _, |make| make()),
            ),
            stt: agent.stt.stream(&agent.language),
            turn_text: String::with_capacity(256),
            turn_finals: 0,
            history,
            reply: Reply::default(),
            utterances: VecDeque::new(),
            pause: None,
            turn: 0,
            ticks: 0,
            end_of_speech_tick: 0,
            silent_ticks: 0,
            idle_prompted: false,
            hang_up_after_audio: None,
            message_only: false,
            hung_up: false,
            failed: false,
            last_flush_dropped: 0,
            hold_index: 0,
            tool_specs: agent.tools.iter().map(AgentTool::spec).collect(),
            tools_called: 0,
            transferring_until: None,
            deferred: Vec::new(),
            dtmf: String::new(),
            dtmf_tick: 0,
            scratch: Vec::with_capacity(4096),
            resampled: Vec::with_capacity(8192),
            agent,
        }
    }

    /// Starts the call: speaks the greeting.
    pub fn start(&mut self) {
        if self.turns.phase() == &Phase::Greeting {
            let greeting = self.greeting.clone();
            self.speak(&greeting);
            self.history.push(ChatMessage { role: Role::Assistant, content: greeting });
        }
    }

    /// Instead of [`Conversation::start`], on an answering machine that records now: speaks `message` (its
    /// `{{variables}}` already filled), listens to nothing, and hangs up with [`HangUpReason::VoicemailLeft`]
    /// once the message has played. An empty message hangs up at once (as [`HangUpReason::AnsweringMachine`]:
    /// nothing was left).
    pub fn leave_message(&mut self, message: &str) {
        self.message_only = true;
        let message = message.trim();
        if message.is_empty() {
            self.hang_up_after_audio = Some(HangUpReason::AnsweringMachine);
            return;
        }
        self.speak(message);
        self.history.push(ChatMessage { role: Role::Assistant, content: message.to_string() });
        self.hang_up_after_audio = Some(HangUpReason::VoicemailLeft);
    }

    /// Where the conversation is in its turn-taking.
    pub fn phase(&self) -> &Phase {
        self.turns.phase()
    }

    /// The agent this conversation is with.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The agent, to start another call with (a transfer we carry out).
    pub fn shared_agent(&self) -> Arc<Agent> {
        Arc::clone(&self.agent)
    }

    /// The greeting as this call hears it.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// One 20 ms frame of the caller's audio. A panic inside the engine or a model it drives is contained
    /// here: the call hangs up with [`HangUpReason::EngineFailed`] and its transport ends it the usual way
    /// (BYE, stop), storing the record, instead of the call's task dying with the transcript in it.
    pub fn on_frame(&mut self, frame: &[i16; ENGINE_FRAME], out: &mut dyn AudioSink) -> Vec<ConversationNote> {
        if self.failed {
            return Vec::new();
        }
        let mut notes = Vec::new();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step(frame, out, &mut notes))) {
            Ok(()) => notes,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, turn = self.turn, "the conversation engine failed; the call ends");
                self.failed = true;
                self.hung_up = true;
                notes.push(ConversationNote::HangUp { reason: HangUpReason::EngineFailed });
                notes
            }
        }
    }

    /// The frame's work; notes go into `notes` as they arise, so those of a step that panics are kept.
    fn step(&mut self, frame: &[i16; ENGINE_FRAME], out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        if self.hung_up {
            // The transport is ending the call; nothing more is heard or said.
            return;
        }
        self.ticks += 1;
        if let Some(until) = self.transferring_until {
            if self.ticks >= until {
                self.hung_up = true;
                notes.push(ConversationNote::HangUp { reason: HangUpReason::Transferred });
                return;
            }
            return;
        }
        notes.append(&mut self.deferred);
        if self.message_only {
            // A machine recording the message: its audio is not a turn, only the message's playing matters.
            self.pump_tts(out, notes);
            if self.utterances.is_empty() && out.queued_audio() == 0 {
                self.hung_up = true;
                let reason = self.hang_up_after_audio.unwrap_or(HangUpReason::VoicemailLeft);
                notes.push(ConversationNote::HangUp { reason });
            }
            return;
        }
        self.stt.push_audio(frame);
        match self.vad.process(frame) {
            Some(VadEvent::SpeechStarted) => self.apply(TurnEvent::SpeechStarted, out, notes),
            Some(VadEvent::SpeechStopped) => self.end_of_speech(out, notes),
            None => {}
        }
        self.take_transcripts(out, notes);
        if self.turn_over_early() {
            self.vad.end_speech();
            self.end_of_speech(out, notes);
            self.take_transcripts(out, notes);
        }
        self.watch_pause(out, notes);
        self.take_dtmf(out, notes);
        self.maybe_hold();
        notes.extend(self.pump_llm());
        self.pump_tts(out, notes);
        let idle = self.reply.llm.is_none()
            && self.reply.pending_tool.is_none()
            && self.utterances.is_empty()
            && out.queued_audio() == 0;
        self.check_limits(idle, notes);
        match self.turns.phase() {
            Phase::Greeting if idle => self.apply(TurnEvent::GreetingFinished, out, notes),
            Phase::Thinking if idle => {
                // The reply ended with nothing to say (an empty completion): listen again.
                tracing::warn!(turn = self.turn, "the language model gave an empty reply");
                notes.push(ConversationNote::AgentSaid { turn: self.turn, text: String::new(), interrupted: false });
                self.apply(TurnEvent::AgentAudioFinished, out, notes);
            }
            Phase::AgentSpeaking | Phase::AgentPaused if idle => {
                notes.push(ConversationNote::AgentSaid {
                    turn: self.turn,
                    text: self.reply.text.trim().to_string(),
                    interrupted: false,
                });
                self.apply(TurnEvent::AgentAudioFinished, out, notes);
            }
            _ => {}
        }
    }

    /// The caller stopped speaking: the VAD's stop time passed, or the turn detector ended the turn.
    fn end_of_speech(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        self.end_of_speech_tick = self.ticks;
        self.stt.end_of_speech();
        self.apply(TurnEvent::SpeechStopped, out, notes);
    }

    fn take_transcripts(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        while let Some(transcript) = self.stt.poll_transcript() {
            let transcript = self.without_invented_words(transcript);
            let event = match transcript {
                Transcript::Partial(text) => {
                    self.turn_text.truncate(self.turn_finals);
                    self.turn_text.push_str(&text);
                    TurnEvent::Partial(text)
                }
                Transcript::Final(text) => {
                    self.turn_text.truncate(self.turn_finals);
                    self.turn_text.push_str(&text);
                    self.turn_text.push(' ');
                    self.turn_finals = self.turn_text.len();
                    TurnEvent::Final(text)
                }
                // The utterance ends without words, as silence would: the turn machine reprompts or waits.
                Transcript::Failed(error) => {
                    notes.push(ConversationNote::ModelFailed { stage: ModelStage::Stt, error });
                    TurnEvent::Final(String::new())
                }
            };
            self.apply(event, out, notes);
        }
        while let Some(Switch { from, to, reason }) = self.stt.take_switch() {
            notes.push(ConversationNote::ModelFallback { stage: ModelStage::Stt, from, to, reason });
        }
    }

    /// While the agent is paused under the caller's voice, a transcript with more words than the caller's voiced
    /// time since the pause could carry is the recogniser inventing speech from noise (a cough heard as a
    /// sentence): it counts as no words, so the paused reply plays on instead of being cut.
    fn without_invented_words(&self, transcript: Transcript) -> Transcript {
        let Some(pause) = &self.pause else { return transcript };
        let voiced_ms = pause.voiced_ticks * (1000 / TICKS_PER_SECOND);
        match transcript {
            Transcript::Partial(text) if !words_fit_voiced_time(&text, voiced_ms) => {
                tracing::debug!(voiced_ms, "partial with more words than the caller's voice could carry ignored");
                Transcript::Partial(String::new())
            }
            Transcript::Final(text) if !words_fit_voiced_time(&text, voiced_ms) => {
                tracing::debug!(voiced_ms, "final with more words than the caller's voice could carry ignored");
                Transcript::Final(String::new())
            }
            other => other,
        }
    }

    /// While the agent is paused under the caller's voice: once the window passes without the recogniser's
    /// verdict, the VAD's evidence decides (voiced time since the pause, or a caller still talking).
    fn watch_pause(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        let Some(pause) = self.pause.as_mut() else { return };
        pause.voiced_ticks += u64::from(self.vad.heard_voice());
        if self.ticks - pause.since_tick < ticks(self.agent.limits.barge_in_window) {
            return;
        }
        // Still talking when the window ends is speech too: a cough is over by then (its stop time included),
        // while words with pauses between them may not add up to the minimum voiced time yet.
        let caller_spoke_long =
            pause.voiced_ticks >= ticks(self.agent.limits.barge_in_min_speech) || self.vad.is_speaking();
        self.apply(TurnEvent::ConfirmWindowPassed { caller_spoke_long }, out, notes);
    }

    /// While the caller pauses mid-turn: whether the turn detector hears a finished turn before the VAD's
    /// stop time.
    fn turn_over_early(&self) -> bool {
        matches!(self.turns.phase(), Phase::UserSpeaking)
            && self
                .vad
                .quiet_for()
                .is_some_and(|quiet| !quiet.is_zero() && self.agent.turn_detector.turn_over(&self.turn_text, quiet))
    }

    /// Carries out (or hands to the transport) a tool call of the language model.
    fn call_tool(&mut self, name: &str, arguments: &str) -> Vec<ConversationNote> {
        self.history.push(ChatMessage { role: Role::Assistant, content: tool_call_text(name, arguments) });
        self.reply.tool_calls += 1;
        if self.reply.tool_calls > MAX_TOOL_CALLS_PER_TURN {
            tracing::warn!(tool = name, "too many tool calls in one turn: ignored");
            return Vec::new();
        }
        let args: serde_json::Value = serde_json::from_str(arguments).unwrap_or(serde_json::Value::Null);
        let text_arg = |key: &str| args.get(key).and_then(|v| v.as_str()).map(str::trim).unwrap_or("").to_string();
        let Some(tool) = self.agent.tools.iter().find(|t| t.name() == name).cloned() else {
            self.tool_result_and_continue(Err(format!("there is no tool named {name:?}")));
            return Vec::new();
        };
        tracing::info!(tool = name, "tool call");
        crate::content_event!(tool = name, %arguments, "tool call arguments");
        match tool {
            AgentTool::EndCall => {
                self.history.push(ChatMessage { role: Role::Tool, content: "ok: the call ends now".into() });
                self.hang_up_after_audio = Some(HangUpReason::EndCallTool);
                Vec::new()
            }
            AgentTool::SendDtmf => {
                let digits: String =
                    text_arg("digits").chars().filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#')).collect();
                if digits.is_empty() {
                    self.tool_result_and_continue(Err("digits must contain 0-9, * or #".into()));
                    return Vec::new();
                }
                self.tool_result_and_continue(Ok(format!("pressed {digits}")));
                vec![ConversationNote::SendDtmf { digits }]
            }
            AgentTool::TransferCall { targets } => {
                let target = text_arg("target");
                // Only the configured targets: a model talked into "transfer me to +1900…" dials nothing.
                if target.is_empty() || !targets.contains(&target) {
                    let allowed = if targets.is_empty() { "none".to_string() } else { targets.join(", ") };
                    self.tool_result_and_continue(Err(format!("cannot transfer to {target:?}; allowed: {allowed}")));
                    return Vec::new();
                }
                self.request_tool(ToolRequest::Transfer { target })
            }
            AgentTool::Http(tool) => self.request_tool(ToolRequest::Http { tool, arguments: arguments.to_string() }),
            AgentTool::KnowledgeLookup(base) => {
                let query = text_arg("query");
                if query.is_empty() {
                    self.tool_result_and_continue(Err("query must not be empty".into()));
                } else {
                    self.tool_result_and_continue(Ok(base.answer(&query)));
                }
                Vec::new()
            }
        }
    }

    fn request_tool(&mut self, request: ToolRequest) -> Vec<ConversationNote> {
        self.tools_called += 1;
        self.reply.pending_tool = Some(self.tools_called);
        vec![ConversationNote::Tool { id: self.tools_called, request }]
    }

    /// The result of a tool call the transport carried out. A transfer that succeeded ends the call; other
    /// results go back to the language model, which continues the reply.
    pub fn on_tool_result(&mut self, id: u64, result: Result<String, String>, transferred: bool) {
        if self.reply.pending_tool != Some(id) || self.hung_up {
            return; // cancelled by a barge-in, or the call is ending
        }
        self.reply.pending_tool = None;
        if transferred && result.is_ok() {
            // The other side accepted the transfer: go quiet and let signalling end the call when the target
            // answers; if nothing ends it within the grace time, hang up.
            self.history.push(ChatMessage { role: Role::Tool, content: "ok: transferred".into() });
            self.transferring_until = Some(self.ticks + TRANSFER_GRACE_TICKS);
            self.reply.llm = None;
            self.utterances.clear();
            return;
        }
        self.tool_result_and_continue(result);
    }

    fn tool_result_and_continue(&mut self, result: Result<String, String>) {
        let content = match result {
            Ok(text) => format!("ok: {text}"),
            Err(text) => format!("error: {text}"),
        };
        // Webhook answers and knowledge passages are text from outside, as the caller's words are.
        let content = crate::agent::sanitize_untrusted(&content).into_owned();
        self.history.push(ChatMessage { role: Role::Tool, content });
        if !self.reply.text.is_empty() && !self.reply.text.ends_with(char::is_whitespace) {
            self.reply.text.push(' '); // the continuation is a new sentence of the same reply
        }
        self.reply.llm = Some(self.agent.llm.reply(&self.history, &self.tool_specs));
    }

    /// A keypad digit from the caller (RFC 4733, SIP INFO or a provider's stream event).
    pub fn on_dtmf(&mut self, digit: char) {
        if self.dtmf.len() < MAX_DTMF_DIGITS {
            self.dtmf.push(digit);
        }
        self.dtmf_tick = self.ticks;
    }

    /// Digits reach the LLM as text once the caller is done typing ('#' or a pause) and the agent listens.
    fn take_dtmf(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        let complete = self.dtmf.ends_with('#') || self.ticks.saturating_sub(self.dtmf_tick) >= DTMF_PAUSE_TICKS;
        if self.dtmf.is_empty() || !complete || self.turns.phase() != &Phase::Listening {
            return;
        }
        let digits: Vec<String> = std::mem::take(&mut self.dtmf).chars().map(String::from).collect();
        let text = format!("(The caller pressed {} on the keypad.)", digits.join(" "));
        self.apply(TurnEvent::Final(text), out, notes);
    }

    /// A hold message when the reply's first audio is late, once per turn.
    fn maybe_hold(&mut self) {
        let limits = &self.agent.limits;
        let Some(after) = limits.hold_after else { return };
        if self.reply.hold_said
            || self.reply.audio_started
            || limits.hold_messages.is_empty()
            || self.turns.phase() != &Phase::Thinking
            || self.ticks.saturating_sub(self.reply.respond_tick) < ticks(after)
        {
            return;
        }
        let message = limits.hold_messages[self.hold_index % limits.hold_messages.len()].clone();
        self.hold_index += 1;
        self.reply.hold_said = true;
        self.speak(&message);
    }

    /// Call timeout, idle prompt, silence hangup, and hang-up after a farewell once it has been heard.
    fn check_limits(&mut self, idle: bool, notes: &mut Vec<ConversationNote>) {
        if self.hung_up {
            return;
        }
        let agent = Arc::clone(&self.agent);
        let limits = &agent.limits;
        let mut hang_up = None;
        if limits.call_timeout.is_some_and(|t| self.ticks >= ticks(t)) {
            hang_up = Some(HangUpReason::CallTimeout);
        }
        if idle {
            if let Some(reason) = self.hang_up_after_audio {
                hang_up = hang_up.or(Some(reason));
            }
        }
        let listening = idle && self.turns.phase() == &Phase::Listening;
        if listening {
            self.silent_ticks += 1;
        } else {
            self.silent_ticks = 0;
            if self.turns.phase() != &Phase::Listening {
                // A turn happened (caller spoke or the agent answered): the next silence may be prompted again.
                // The idle prompt itself does not re-arm it, so silence after it ends in a hang-up.
                self.idle_prompted = false;
            }
        }
        if listening {
            if let Some(after) = limits.idle_prompt_after {
                if !self.idle_prompted && self.silent_ticks >= ticks(after) {
                    self.idle_prompted = true;
                    let message = limits.idle_message.clone();
                    self.speak(&message);
                    self.history.push(ChatMessage { role: Role::Assistant, content: message });
                }
            }
            if limits.user_silence_hangup.is_some_and(|t| self.silent_ticks >= ticks(t)) {
                hang_up = hang_up.or(Some(HangUpReason::UserSilence));
            }
        }
        if self.agent.mode == InteractionMode::NonConversational && idle && self.turns.phase() != &Phase::Greeting {
            // The message has been spoken in full (or there was none): the call's work is done.
            hang_up = hang_up.or(Some(HangUpReason::MessageDelivered));
        }
        if let Some(reason) = hang_up {
            self.hung_up = true;
            notes.push(ConversationNote::HangUp { reason });
        }
    }

    /// Whether the engine has ended the call.
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// The call is ending (either side hung up, or the transport failed) while the agent may be mid-reply:
    /// what it said so far — the part the caller heard, `out` holding what was not played — goes into the
    /// record as an interrupted reply, so a hang-up never loses the agent's last words.
    pub fn finish(&mut self, out: &dyn AudioSink) -> Vec<ConversationNote> {
        if self.failed {
            return Vec::new(); // its state may be half-updated: nothing more is read from it
        }
        let speaking = matches!(self.turns.phase(), Phase::AgentSpeaking | Phase::AgentPaused | Phase::Thinking);
        if !speaking || self.reply.text.trim().is_empty() {
            return Vec::new();
        }
        let heard = self.heard_reply(out.queued_audio());
        self.reply.text.clear();
        vec![ConversationNote::AgentSaid { turn: self.turn, text: heard, interrupted: true }]
    }

    fn apply(&mut self, event: TurnEvent, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        for action in self.turns.transition(event) {
            match action {
                TurnAction::Respond { turn, text } => {
                    self.turn_text.clear();
                    self.turn_finals = 0;
                    notes.push(ConversationNote::UserSaid { turn, text: text.clone() });
                    self.turn = turn;
                    // What the caller said or typed never reaches the model as its control markers.
                    let content = crate::agent::sanitize_untrusted(&text).into_owned();
                    self.history.push(ChatMessage { role: Role::User, content });
                    self.reply = Reply {
                        llm: Some(self.agent.llm.reply(&self.history, &self.tool_specs)),
                        respond_tick: self.ticks,
                        ..Reply::default()
                    };
                }
                TurnAction::CancelResponse => {
                    // LLM and TTS work stop as their streams are dropped with the reply; a late result of its
                    // tool call is ignored (no pending id matches).
                    self.reply = Reply::default();
                    self.utterances.clear();
                }
                TurnAction::FlushAudio => {
                    let dropped = out.flush_audio();
                    self.last_flush_dropped = dropped;
                    let paused_ms = self.pause.take().map_or(0, |p| (self.ticks - p.since_tick) * 20);
                    notes.push(ConversationNote::BargeIn { dropped_samples: dropped, paused_ms });
                }
                TurnAction::PauseAudio => {
                    out.pause_audio();
                    self.pause = Some(BargeInPause { since_tick: self.ticks, voiced_ticks: 0 });
                    tracing::debug!(turn = self.turn, "caller speaks over the agent: audio paused");
                }
                TurnAction::ResumeAudio => {
                    out.resume_audio();
                    let paused_ms = self.pause.take().map_or(0, |p| (self.ticks - p.since_tick) * 20);
                    notes.push(ConversationNote::BargeInResumed { paused_ms });
                }
                TurnAction::MarkInterrupted => {
                    if !self.reply.text.is_empty() {
                        // Transcript honesty: only what the caller heard goes into the record and the history.
                        let heard = self.heard_reply(self.last_flush_dropped);
                        match self.history.last_mut() {
                            // The reply was complete: keep only what was heard of it.
                            Some(last) if last.role == Role::Assistant && last.content == self.reply.text.trim() => {
                                last.content = heard.clone();
                            }
                            // Interrupted while still generating: the heard part is all there is.
                            _ if !heard.is_empty() => {
                                self.history.push(ChatMessage { role: Role::Assistant, content: heard.clone() })
                            }
                            _ => {}
                        }
                        notes.push(ConversationNote::AgentSaid { turn: self.turn, text: heard, interrupted: true });
                    }
                }
            }
        }
        // The sink is paused exactly while the agent is: a reply that ran out under the caller's voice leaves
        // nothing to resume, but the next one must play.
        if self.pause.is_some() && self.turns.phase() != &Phase::AgentPaused {
            self.pause = None;
            out.resume_audio();
        }
    }

    /// Moves LLM tokens into clauses for TTS: the first clause is spoken as soon as it is complete.
    fn pump_llm(&mut self) -> Vec<ConversationNote> {
        let Some(llm) = self.reply.llm.as_mut() else { return Vec::new() };
        let mut failed = None;
        let mut fallbacks = Vec::new();
        let mut finished = false;
        let mut tool_call = None;
        let mut clauses = Vec::new();
        while let Some(event) = llm.poll_event() {
            match event {
                LlmEvent::Token(token) => {
                    self.reply.first_token_tick.get_or_insert(self.ticks);
                    self.reply.text.push_str(&token);
                    self.reply.clause.push_str(&token);
                    if token.trim_end().ends_with(['.', '!', '?', ',', ';', ':', '।']) {
                        clauses.push(std::mem::take(&mut self.reply.clause));
                    }
                }
                LlmEvent::Done => {
                    finished = true;
                    break;
                }
                LlmEvent::ToolCall { name, arguments } => {
                    tool_call = Some((name, arguments));
                    finished = true;
                    break;
                }
                LlmEvent::Switched { from, to, reason } => {
                    fallbacks.push(ConversationNote::ModelFallback { stage: ModelStage::Llm, from, to, reason });
                }
                LlmEvent::Failed(error) => {
                    failed = Some(error);
                    if self.reply.text.trim().is_empty() {
                        // Say so rather than leave the caller in silence.
                        self.reply.text.push_str(LLM_FAILED_REPLY);
                        self.reply.clause.push_str(LLM_FAILED_REPLY);
                    }
                    finished = true;
                    break;
                }
            }
        }
        if finished {
            clauses.push(std::mem::take(&mut self.reply.clause));
            self.reply.llm = None;
            if self.agent.limits.hang_up_on_farewell && is_farewell(&self.reply.text) {
                self.hang_up_after_audio = Some(HangUpReason::Farewell);
            }
            if !self.reply.text.trim().is_empty() {
                self.history.push(ChatMessage { role: Role::Assistant, content: self.reply.text.trim().to_string() });
            }
        }
        for clause in clauses {
            if !clause.trim().is_empty() {
                self.speak_as(&clause, true);
            }
        }
        let mut notes = match tool_call {
            Some((name, arguments)) => self.call_tool(&name, &arguments),
            None => Vec::new(),
        };
        if let Some(error) = failed {
            notes.push(ConversationNote::ModelFailed { stage: ModelStage::Llm, error });
        }
        notes.append(&mut fallbacks);
        notes
    }

    fn speak(&mut self, text: &str) {
        self.speak_as(text, false);
    }

    fn speak_as(&mut self, text: &str, of_reply: bool) {
        if of_reply {
            self.reply.first_clause_tick.get_or_insert(self.ticks);
        }
        let text = text.trim();
        let tts = self.agent.tts.speak(text);
        let rate = tts.sample_rate();
        let resampler = (rate != ENGINE_RATE).then(|| Resampler::new(rate, ENGINE_RATE));
        self.utterances.push_back(Utterance { tts, resampler, text: text.to_string(), of_reply, started: false });
    }

    /// The part of the reply the caller heard before interrupting: clauses whose audio started playing, the
    /// last one cut where playback stopped (by its share of samples played, when known).
    fn heard_reply(&self, unplayed: usize) -> String {
        let played = self.reply.queued.saturating_sub(unplayed);
        let mut heard = Vec::new();
        for (i, (text, start)) in self.reply.clauses.iter().enumerate() {
            if *start >= played {
                break;
            }
            let end = self.reply.clauses.get(i + 1).map(|(_, s)| *s).unwrap_or(self.reply.queued);
            if played >= end {
                heard.push(text.clone());
            } else {
                let words: Vec<&str> = text.split_whitespace().collect();
                let share = (played - start) as f64 / (end - start).max(1) as f64;
                let n = ((words.len() as f64 * share).ceil() as usize).clamp(1, words.len());
                heard.push(format!("{}—", words[..n].join(" ")));
                break;
            }
        }
        heard.join(" ")
    }

    /// Keeps the outgoing queue [`LOOKAHEAD_SAMPLES`] ahead.
    fn pump_tts(&mut self, out: &mut dyn AudioSink, notes: &mut Vec<ConversationNote>) {
        while out.queued_audio() < LOOKAHEAD_SAMPLES {
            let Some(utterance) = self.utterances.front_mut() else { break };
            self.scratch.clear();
            let more = utterance.tts.poll_audio(&mut self.scratch);
            let failure = if more { None } else { utterance.tts.failure().cloned() };
            while let Some(Switch { from, to, reason }) = utterance.tts.take_switch() {
                notes.push(ConversationNote::ModelFallback { stage: ModelStage::Tts, from, to, reason });
            }
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
                if utterance.of_reply {
                    if !utterance.started {
                        self.reply.clauses.push((utterance.text.clone(), self.reply.queued));
                    }
                    self.reply.queued += pcm.len();
                }
                utterance.started = true;
                if !self.reply.audio_started && matches!(self.turns.phase(), Phase::Thinking) {
                    self.reply.audio_started = true;
                    let ms = |from: u64, to: u64| to.saturating_sub(from) * 20;
                    let stages = StageTimings {
                        stt_ms: Some(ms(self.end_of_speech_tick, self.reply.respond_tick)),
                        llm_first_token_ms: self.reply.first_token_tick.map(|t| ms(self.reply.respond_tick, t)),
                        tts_first_audio_ms: self.reply.first_clause_tick.map(|t| ms(t, self.ticks)),
                    };
                    notes.push(ConversationNote::AgentStarted {
                        turn: self.turn,
                        ticks_since_end_of_speech: self.ticks - self.end_of_speech_tick,
                        stages,
                    });
                    self.apply(TurnEvent::AgentAudioStarted, out, notes);
                }
            }
            if !more {
                if let Some(error) = failure {
                    notes.push(ConversationNote::ModelFailed { stage: ModelStage::Tts, error });
                    if self.message_only {
                        // The machine did not record the whole message: the call ends as a machine reached,
                        // not as a message left (the record and the dialer must not count it as delivered).
                        self.hang_up_after_audio = Some(HangUpReason::AnsweringMachine);
                    }
                }
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
    use crate::agent::{CallLimits, HttpTool};
    use voicera_models::{LanguageModel, SpeechToText, TurnDetector};

    /// A queue that plays 320 samples per tick, like the RTP egress.
    #[derive(Default)]
    struct Speaker {
        queued: usize,
        played: usize,
        flushed: usize,
        paused: bool,
    }

    impl AudioSink for Speaker {
        fn queue_audio(&mut self, pcm: &[i16]) {
            self.queued += pcm.len();
        }
        fn flush_audio(&mut self) -> usize {
            let dropped = self.queued;
            self.flushed += dropped;
            self.queued = 0;
            self.paused = false;
            dropped
        }
        fn queued_audio(&self) -> usize {
            self.queued
        }
        fn pause_audio(&mut self) {
            self.paused = true;
        }
        fn resume_audio(&mut self) {
            self.paused = false;
        }
    }

    impl Speaker {
        fn play_tick(&mut self) {
            if self.paused {
                return;
            }
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
        let stages = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentStarted { stages, .. } => Some(*stages),
            _ => None,
        });
        let instant = StageTimings { stt_ms: Some(0), llm_first_token_ms: Some(0), tts_first_audio_ms: Some(0) };
        assert_eq!(stages, Some(instant));
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentSaid { interrupted: false, .. })));
        assert_eq!(conv.phase(), &Phase::Listening);
    }

    #[test]
    fn a_non_conversational_agent_speaks_its_message_then_hangs_up() {
        let mut agent = Agent::bench(false);
        agent.mode = InteractionMode::NonConversational;
        agent.greeting = "Your appointment is tomorrow at {{time}}.".into();
        let mut conv = Conversation::for_call(Arc::new(agent), &CallContext::default());
        assert!(conv.greeting().starts_with("Your appointment is tomorrow at ") && !conv.greeting().contains("{{"));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..100, |t| (5..15).contains(&t));
        let (tick, reason) = hang_up_tick(&notes).expect("hang-up");
        assert_eq!(reason, HangUpReason::MessageDelivered);
        // Six words = 360 ms of tone: hung up right after it played, the caller's speech ignored.
        assert!((18..=22).contains(&tick), "{tick}");
        assert_eq!(speaker.played, 6 * 60 * 16);
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { .. })));
    }

    #[test]
    fn a_voicemail_message_is_spoken_over_a_machine_and_then_the_call_hangs_up() {
        let mut conv = Conversation::new(Arc::new(Agent::bench(false)));
        let mut speaker = Speaker::default();
        conv.leave_message("  Please call us back today.  ");
        // The machine keeps making noise while the message plays: nothing of it is a turn or a barge-in.
        let notes = run(&mut conv, &mut speaker, 0..100, |_| true);
        let (tick, reason) = hang_up_tick(&notes).expect("hang-up");
        assert_eq!(reason, HangUpReason::VoicemailLeft);
        // Five words = 300 ms of the stand-in voice, played in full before the hang-up.
        assert_eq!(speaker.played, 5 * 60 * 16);
        assert!((15..=19).contains(&tick), "{tick}");
        assert!(notes.iter().all(|(_, n)| matches!(n, ConversationNote::HangUp { .. })), "{notes:?}");
        let mut empty = Conversation::new(Arc::new(Agent::bench(false)));
        empty.leave_message(" ");
        let notes = run(&mut empty, &mut Speaker::default(), 0..3, |_| false);
        assert_eq!(hang_up_tick(&notes), Some((0, HangUpReason::AnsweringMachine)));
    }

    #[test]
    fn a_voicemail_whose_voice_fails_is_not_counted_as_left() {
        use voicera_models::{FailureKind, TextToSpeech};
        /// A voice whose provider fails every clause before any audio.
        struct Broken;
        impl TextToSpeech for Broken {
            fn speak(&self, _text: &str) -> Box<dyn TtsStream> {
                struct Stream(ModelError);
                impl TtsStream for Stream {
                    fn sample_rate(&self) -> u32 {
                        16_000
                    }
                    fn poll_audio(&mut self, _out: &mut Vec<i16>) -> bool {
                        false
                    }
                    fn failure(&self) -> Option<&ModelError> {
                        Some(&self.0)
                    }
                }
                Box::new(Stream(ModelError::new(FailureKind::Engine, "HTTP 500")))
            }
        }
        let mut agent = Agent::bench(false);
        agent.tts = Arc::new(Broken);
        let mut conv = Conversation::new(Arc::new(agent));
        let mut speaker = Speaker::default();
        conv.leave_message("Please call us back today.");
        let notes = run(&mut conv, &mut speaker, 0..20, |_| true);
        assert_eq!(speaker.played, 0);
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::ModelFailed { .. })), "{notes:?}");
        assert_eq!(hang_up_tick(&notes).map(|(_, reason)| reason), Some(HangUpReason::AnsweringMachine));
    }

    #[test]
    fn date_and_time_are_the_calls_start_on_its_clock() {
        // The transport read the wall clock once as the call began: 2026-11-25 18:40:00.250 UTC, which is
        // 2026-11-26 00:10 in India (+5:30). The conversation reads no clock of its own.
        let wall = std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_632_000_250);
        let clock = crate::journal::WallClock::new(std::time::Instant::now(), wall);
        let mut agent = Agent::bench(false);
        agent.utc_offset_minutes = 330;
        agent.greeting = "Today is {{date}}, {{time}}.".into();
        agent.system_prompt = "The call began on {{date}} at {{time}} local time.".into();
        let call = CallContext { started_at_ms: clock.anchor_unix_ms(), ..CallContext::default() };
        let conv = Conversation::for_call(Arc::new(agent), &call);
        assert_eq!(conv.greeting(), "Today is 2026-11-26, 00:10.");
        assert_eq!(conv.history[0].content, "The call began on 2026-11-26 at 00:10 local time.");
    }

    /// A scripted LLM that thinks for `delay` polls (one per tick), then says `text`; it keeps every history
    /// it was asked to answer.
    struct Scripted {
        delay: u32,
        text: &'static str,
        asked: std::sync::Mutex<Vec<Vec<ChatMessage>>>,
    }
    impl LanguageModel for Scripted {
        fn reply(&self, history: &[ChatMessage], _tools: &[ToolSpec]) -> Box<dyn LlmStream> {
            self.asked.lock().unwrap().push(history.to_vec());
            struct Late(u32, Option<String>, bool);
            impl LlmStream for Late {
                fn poll_event(&mut self) -> Option<LlmEvent> {
                    if self.0 > 0 {
                        self.0 -= 1;
                        return None;
                    }
                    if let Some(t) = self.1.take() {
                        return Some(LlmEvent::Token(t));
                    }
                    (!std::mem::replace(&mut self.2, true)).then_some(LlmEvent::Done)
                }
            }
            Box::new(Late(self.delay, Some(self.text.to_string()), false))
        }
    }

    fn scripted(delay: u32, text: &'static str) -> Arc<Scripted> {
        Arc::new(Scripted { delay, text, asked: std::sync::Mutex::new(Vec::new()) })
    }

    #[test]
    fn a_late_reply_is_preceded_by_one_hold_message() {
        let llm = scripted(150, "The answer is ready.");
        let limits = CallLimits {
            hold_after: Some(Duration::from_secs(1)),
            hold_messages: vec!["One moment please.".into(), "Still checking.".into()],
            ..CallLimits::default()
        };
        let mut conv = Conversation::new(agent(limits, llm.clone()));
        let mut speaker = Speaker::default();
        conv.start();
        run(&mut conv, &mut speaker, 0..30, |_| false);
        let before = speaker.played;
        // The caller stops at tick 80; the turn ends ~tick 100; the LLM answers 3 s later (tick ~250).
        let notes = run(&mut conv, &mut speaker, 30..420, |t| (30..80).contains(&t));
        let started = notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::AgentStarted { .. }).then_some(*t));
        // The hold message ("One moment please." = 3 words) starts 1 s after the turn ended, once.
        assert!(started.is_some_and(|t| (140..=160).contains(&t)), "{notes:?}");
        let said = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentSaid { text, .. } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(said.as_deref(), Some("The answer is ready."), "the hold message is not part of the reply");
        let stages = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentStarted { stages, .. } => Some(*stages),
            _ => None,
        });
        // The hold message was the first audio: the LLM had not answered yet.
        assert_eq!(stages.map(|s| s.llm_first_token_ms), Some(None));
        // 3 words of hold message + 4 words of reply were played.
        assert_eq!(speaker.played - before, 7 * 60 * 16);
    }

    #[test]
    fn keypad_digits_reach_the_llm_as_text() {
        let llm = scripted(0, "Thank you.");
        let mut conv = Conversation::new(agent(CallLimits::default(), llm.clone()));
        let mut speaker = Speaker::default();
        conv.start();
        run(&mut conv, &mut speaker, 0..30, |_| false);
        for digit in "42#".chars() {
            conv.on_dtmf(digit);
        }
        let notes = run(&mut conv, &mut speaker, 30..40, |_| false);
        let expected = "(The caller pressed 4 2 # on the keypad.)";
        assert!(
            notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { text, .. } if text == expected)),
            "{notes:?}"
        );
        let asked = llm.asked.lock().unwrap();
        assert_eq!(asked[0].last().map(|m| m.content.as_str()), Some(expected));
        drop(asked);
        // Without '#', digits go after a 2 s pause.
        run(&mut conv, &mut speaker, 40..100, |_| false);
        conv.on_dtmf('7');
        let notes = run(&mut conv, &mut speaker, 100..190, |_| false);
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { .. })), "not before the pause");
        let notes = run(&mut conv, &mut speaker, 190..220, |_| false);
        assert!(notes
            .iter()
            .any(|(_, n)| matches!(n, ConversationNote::UserSaid { text, .. } if text.contains("pressed 7"))));
    }

    #[test]
    fn an_interrupted_reply_keeps_only_what_was_heard() {
        let mut conv = Conversation::new(Arc::new(Agent::bench(false)));
        let mut speaker = Speaker::default();
        conv.start();
        run(&mut conv, &mut speaker, 0..30, |_| false);
        run(&mut conv, &mut speaker, 30..110, |t| (30..80).contains(&t));
        // The 12-word reply (60 ms per word) plays from ~tick 100; the caller barges in at tick 110 and the
        // flush comes ~12 ticks later: about 7 words were heard.
        let notes = run(&mut conv, &mut speaker, 110..200, |t| (110..150).contains(&t));
        let heard = notes
            .iter()
            .find_map(|(_, n)| match n {
                ConversationNote::AgentSaid { text, interrupted: true, .. } => Some(text.clone()),
                _ => None,
            })
            .expect("an interrupted reply");
        let full = "Sure, it is about three in the afternoon here. Anything else today?";
        assert!(heard.ends_with('—') && full.starts_with(heard.trim_end_matches('—')), "{heard:?}");
        let words = heard.split_whitespace().count();
        assert!((5..=9).contains(&words), "only the start was heard: {heard:?}");
        let history = &conv.history;
        assert!(history.iter().any(|m| m.role == Role::Assistant && m.content == heard), "{history:?}");
    }

    /// An LLM that plays one script of events per reply, in order, and keeps what it was asked.
    struct Playbook {
        scripts: std::sync::Mutex<VecDeque<Vec<LlmEvent>>>,
        asked: std::sync::Mutex<Vec<Vec<ChatMessage>>>,
    }
    impl LanguageModel for Playbook {
        fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream> {
            assert!(!tools.is_empty(), "the agent's tools are offered");
            self.asked.lock().unwrap().push(history.to_vec());
            struct Play(VecDeque<LlmEvent>);
            impl LlmStream for Play {
                fn poll_event(&mut self) -> Option<LlmEvent> {
                    self.0.pop_front()
                }
            }
            let script = self.scripts.lock().unwrap().pop_front().unwrap_or_else(|| vec![LlmEvent::Done]);
            Box::new(Play(script.into()))
        }
    }

    fn playbook(scripts: Vec<Vec<LlmEvent>>) -> Arc<Playbook> {
        Arc::new(Playbook { scripts: std::sync::Mutex::new(scripts.into()), asked: std::sync::Mutex::new(Vec::new()) })
    }

    fn call(name: &str, arguments: &str) -> LlmEvent {
        LlmEvent::ToolCall { name: name.into(), arguments: arguments.into() }
    }

    fn tool_agent(llm: Arc<Playbook>, tools: Vec<AgentTool>) -> Arc<Agent> {
        let mut agent = Agent::bench(false);
        agent.llm = llm;
        agent.tools = tools;
        Arc::new(agent)
    }

    /// Greets, then the caller asks something (ticks 30..80); returns the notes from tick 30 on.
    fn ask(conv: &mut Conversation, speaker: &mut Speaker, until: usize) -> Vec<(usize, ConversationNote)> {
        conv.start();
        run(conv, speaker, 0..30, |_| false);
        run(conv, speaker, 30..until, |t| (30..80).contains(&t))
    }

    #[test]
    fn end_call_hangs_up_after_the_goodbye_is_heard() {
        let llm = playbook(vec![vec![LlmEvent::Token("Thanks for calling.".into()), call("end_call", "{}")]]);
        let mut conv = Conversation::new(tool_agent(llm, vec![AgentTool::EndCall]));
        let mut speaker = Speaker::default();
        let notes = ask(&mut conv, &mut speaker, 300);
        let (tick, reason) = hang_up_tick(&notes).expect("hang-up");
        assert_eq!(reason, HangUpReason::EndCallTool);
        let said =
            notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::AgentSaid { .. }).then_some(*t)).unwrap();
        assert!(said <= tick, "the words are heard first");
        assert!(conv.history.iter().any(|m| m.content.contains("<tool_call>") && m.content.contains("end_call")));
    }

    #[test]
    fn send_dtmf_reaches_the_transport_and_the_model_continues() {
        let llm = playbook(vec![
            vec![call("send_dtmf", r#"{"digits":"1 2#x"}"#)],
            vec![LlmEvent::Token("I pressed it.".into()), LlmEvent::Done],
        ]);
        let mut conv = Conversation::new(tool_agent(llm.clone(), vec![AgentTool::SendDtmf]));
        let mut speaker = Speaker::default();
        let notes = ask(&mut conv, &mut speaker, 200);
        assert!(notes.iter().any(|(_, n)| n == &ConversationNote::SendDtmf { digits: "12#".into() }), "{notes:?}");
        assert!(notes
            .iter()
            .any(|(_, n)| matches!(n, ConversationNote::AgentSaid { text, .. } if text == "I pressed it.")));
        let asked = llm.asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[1].last().map(|m| (m.role, m.content.as_str())), Some((Role::Tool, "ok: pressed 12#")));
    }

    #[test]
    fn an_http_tool_waits_for_its_result_then_the_model_answers_with_it() {
        let tool = HttpTool {
            name: "check_order".into(),
            description: "Order status.".into(),
            parameters: "{}".into(),
            url: "http://127.0.0.1:9/".into(),
            method: "POST".into(),
            timeout: Duration::from_secs(2),
            header: None,
        };
        let llm = playbook(vec![
            vec![LlmEvent::Token("Let me check.".into()), call("check_order", r#"{"order_id":"A-17"}"#)],
            vec![LlmEvent::Token("It has shipped.".into()), LlmEvent::Done],
        ]);
        let mut conv = Conversation::new(tool_agent(llm.clone(), vec![AgentTool::Http(tool.clone())]));
        let mut speaker = Speaker::default();
        let notes = ask(&mut conv, &mut speaker, 200);
        let id = notes
            .iter()
            .find_map(|(_, n)| match n {
                ConversationNote::Tool { id, request: ToolRequest::Http { tool: t, arguments } } => {
                    assert_eq!((t, arguments.as_str()), (&tool, r#"{"order_id":"A-17"}"#));
                    Some(*id)
                }
                _ => None,
            })
            .expect("the tool request");
        // While the result is pending the turn is not over: no second reply, no return to listening.
        assert_eq!(llm.asked.lock().unwrap().len(), 1);
        assert_ne!(conv.phase(), &Phase::Listening);
        conv.on_tool_result(id + 1, Ok("stale".into()), false);
        conv.on_tool_result(id, Ok(r#"{"status":"shipped"}"#.into()), false);
        let notes = run(&mut conv, &mut speaker, 200..300, |_| false);
        let said = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentSaid { text, .. } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(said.as_deref(), Some("Let me check. It has shipped."));
        let asked = llm.asked.lock().unwrap();
        assert_eq!(asked[1].last().map(|m| m.content.as_str()), Some(r#"ok: {"status":"shipped"}"#));
    }

    #[test]
    fn knowledge_lookup_is_answered_in_the_engine_from_the_documents() {
        let base = crate::knowledge::KnowledgeBase::from_documents([(
            "hours.md",
            "The library opens at 9 am on weekdays.\n\nParking is behind the building.",
        )]);
        let llm = playbook(vec![
            vec![call("knowledge_lookup", r#"{"query":"when does the library open"}"#)],
            vec![LlmEvent::Token("It opens at nine.".into()), LlmEvent::Done],
        ]);
        let mut conv = Conversation::new(tool_agent(llm.clone(), vec![AgentTool::KnowledgeLookup(Arc::new(base))]));
        let mut speaker = Speaker::default();
        let notes = ask(&mut conv, &mut speaker, 300);
        // No transport round trip: the lookup result goes straight back to the model.
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::Tool { .. })));
        let asked = llm.asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        let result = &asked[1].last().unwrap().content;
        assert!(result.starts_with("ok: [1] (hours.md) The library opens at 9 am"), "{result}");
        assert!(notes
            .iter()
            .any(|(_, n)| matches!(n, ConversationNote::AgentSaid { text, .. } if text == "It opens at nine.")));
    }

    #[test]
    fn transfer_goes_only_to_allowed_targets_and_an_accepted_one_ends_the_agent() {
        let targets = vec!["+918000000002".to_string()];
        let llm = playbook(vec![
            vec![call("transfer_call", r#"{"target":"+1999"}"#)],
            vec![call("transfer_call", r#"{"target":"+918000000002"}"#)],
        ]);
        let mut conv = Conversation::new(tool_agent(llm.clone(), vec![AgentTool::TransferCall { targets }]));
        let mut speaker = Speaker::default();
        let notes = ask(&mut conv, &mut speaker, 200);
        let requests: Vec<(u64, ToolRequest)> = notes
            .iter()
            .filter_map(|(_, n)| match n {
                ConversationNote::Tool { id, request } => Some((*id, request.clone())),
                _ => None,
            })
            .collect();
        // The refused target went back to the model as an error; the allowed one reached the transport.
        assert_eq!(requests, [(1, ToolRequest::Transfer { target: "+918000000002".into() })]);
        assert!(llm.asked.lock().unwrap()[1]
            .last()
            .unwrap()
            .content
            .starts_with("error: cannot transfer to \"+1999\""));
        conv.on_tool_result(1, Ok("transferring".into()), true);
        // Quiet while signalling completes the transfer; after the grace time the agent leaves by itself.
        let notes = run(&mut conv, &mut speaker, 200..(200 + TRANSFER_GRACE_TICKS as usize + 5), |t| t % 100 < 50);
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { .. })));
        assert_eq!(hang_up_tick(&notes).map(|(_, r)| r), Some(HangUpReason::Transferred));
    }

    #[test]
    fn an_unknown_tool_or_a_loop_of_calls_does_not_wedge_the_call() {
        let calls: Vec<Vec<LlmEvent>> = (0..8).map(|_| vec![call("nope", "{}")]).collect();
        let llm = playbook(calls);
        let mut conv = Conversation::new(tool_agent(llm.clone(), vec![AgentTool::EndCall]));
        let mut speaker = Speaker::default();
        ask(&mut conv, &mut speaker, 200);
        assert_eq!(conv.phase(), &Phase::Listening, "back to listening after the cut-off");
        // The answer to the question, then one follow-up per allowed call; the call after that is cut off.
        assert_eq!(llm.asked.lock().unwrap().len(), MAX_TOOL_CALLS_PER_TURN as usize + 1);
    }

    /// A scripted LLM that replies with a fixed text at once.
    struct Says(&'static str);
    impl LanguageModel for Says {
        fn reply(&self, _history: &[ChatMessage], _tools: &[ToolSpec]) -> Box<dyn LlmStream> {
            struct Once(Option<String>, bool);
            impl LlmStream for Once {
                fn poll_event(&mut self) -> Option<LlmEvent> {
                    if let Some(t) = self.0.take() {
                        return Some(LlmEvent::Token(t));
                    }
                    (!std::mem::replace(&mut self.1, true)).then_some(LlmEvent::Done)
                }
            }
            Box::new(Once(Some(self.0.to_string()), false))
        }
    }

    fn agent(limits: CallLimits, llm: Arc<dyn LanguageModel>) -> Arc<Agent> {
        let mut agent = Agent::bench(false);
        agent.limits = limits;
        agent.llm = llm;
        Arc::new(agent)
    }

    fn hang_up_tick(notes: &[(usize, ConversationNote)]) -> Option<(usize, HangUpReason)> {
        notes.iter().find_map(|(t, n)| match n {
            ConversationNote::HangUp { reason } => Some((*t, *reason)),
            _ => None,
        })
    }

    /// An STT that hears `text`: as a partial once 200 ms of voice came in, as the final at end of speech.
    struct Hears(&'static str);
    impl SpeechToText for Hears {
        fn stream(&self, _language: &str) -> Box<dyn SttStream> {
            struct Stream(&'static str, usize, Option<Transcript>);
            impl SttStream for Stream {
                fn push_audio(&mut self, pcm: &[i16]) {
                    if voicera_media::dsp::rms(pcm) > 0.05 {
                        self.1 += 1;
                        if self.1 == 10 {
                            self.2 = Some(Transcript::Partial(self.0.to_string()));
                        }
                    }
                }
                fn end_of_speech(&mut self) {
                    self.2 = Some(Transcript::Final(self.0.to_string()));
                    self.1 = 0;
                }
                fn poll_transcript(&mut self) -> Option<Transcript> {
                    self.2.take()
                }
            }
            Box::new(Stream(self.0, 0, None))
        }
    }

    /// The tick at which the caller's turn (speech in ticks 30..80) is answered.
    fn answered_at(heard: &'static str, detector: Arc<dyn TurnDetector>) -> Option<usize> {
        let mut agent = Agent::bench(false);
        agent.stt = Arc::new(Hears(heard));
        agent.turn_detector = detector;
        let mut conv = Conversation::new(Arc::new(agent));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..200, |t| (30..80).contains(&t));
        notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::UserSaid { .. }).then_some(*t))
    }

    #[test]
    fn a_finished_sentence_is_answered_before_the_vad_stop_time() {
        use voicera_models::turn::{PunctuationTurn, SilenceTurn};
        // Quiet from tick 80: the VAD's 0.4 s ends the turn on the 20th quiet frame (tick 99); the punctuation
        // detector ends it after 0.2 s (tick 89) when the words are a finished sentence, and not otherwise.
        assert_eq!(answered_at("What time is it?", Arc::new(SilenceTurn)), Some(99));
        assert_eq!(answered_at("What time is it?", Arc::new(PunctuationTurn::default())), Some(89));
        assert_eq!(answered_at("I want to", Arc::new(PunctuationTurn::default())), Some(99));
        assert_eq!(answered_at("I want to go and.", Arc::new(PunctuationTurn::default())), Some(99));
    }

    #[test]
    fn a_model_that_panics_ends_the_call_instead_of_killing_its_task() {
        struct Broken;
        impl LanguageModel for Broken {
            fn reply(&self, _history: &[ChatMessage], _tools: &[ToolSpec]) -> Box<dyn LlmStream> {
                struct Boom;
                impl LlmStream for Boom {
                    fn poll_event(&mut self) -> Option<LlmEvent> {
                        panic!("model bug")
                    }
                }
                Box::new(Boom)
            }
        }
        let mut conv = Conversation::new(agent(CallLimits::default(), Arc::new(Broken)));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..200, |t| (30..80).contains(&t));
        // The caller's words are noted before the model is asked; then the engine gives up, once.
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { turn: 1, .. })));
        let hang_ups: Vec<_> = notes.iter().filter(|(_, n)| matches!(n, ConversationNote::HangUp { .. })).collect();
        assert_eq!(hang_ups.len(), 1, "{notes:?}");
        assert_eq!(hang_up_tick(&notes).map(|(_, r)| r), Some(HangUpReason::EngineFailed));
        assert!(conv.hung_up() && conv.finish(&speaker).is_empty());
    }

    #[test]
    fn a_hang_up_mid_reply_keeps_what_the_caller_heard() {
        let mut conv = Conversation::new(agent(CallLimits::default(), Arc::new(Says("One two three four five six."))));
        let mut speaker = Speaker::default();
        conv.start();
        // The caller asks (ticks 30..80); the 6-word reply (360 ms) starts about tick 100 and is cut at tick 105.
        let notes = run(&mut conv, &mut speaker, 0..105, |t| (30..80).contains(&t));
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentStarted { .. })), "{notes:?}");
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentSaid { .. })));
        let end = conv.finish(&speaker);
        match &end[..] {
            [ConversationNote::AgentSaid { turn: 1, text, interrupted: true }] => {
                assert!(text.starts_with("One") && text.ends_with('—') && !text.contains("six"), "{text}")
            }
            other => panic!("{other:?}"),
        }
        assert!(conv.finish(&speaker).is_empty(), "said once");
    }

    #[test]
    fn a_farewell_is_spoken_in_full_then_the_agent_hangs_up() {
        let mut conv = Conversation::new(agent(CallLimits::default(), Arc::new(Says("Thank you, goodbye!"))));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..300, |t| (30..80).contains(&t));
        let (tick, reason) = hang_up_tick(&notes).expect("hang-up");
        assert_eq!(reason, HangUpReason::Farewell);
        // "Thank you, goodbye!" is 3 words = 180 ms of tone, starting ~tick 100: all of it played first.
        let said = notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::AgentSaid { .. }).then_some(*t));
        assert!(said.is_some_and(|s| s <= tick), "{notes:?}");
        assert_eq!(speaker.queued, 0);
        assert!(conv.hung_up());
        assert_eq!(notes.iter().filter(|(_, n)| matches!(n, ConversationNote::HangUp { .. })).count(), 1);
    }

    #[test]
    fn silence_brings_an_idle_prompt_then_a_hang_up() {
        let limits = CallLimits {
            idle_prompt_after: Some(Duration::from_secs(10)),
            user_silence_hangup: Some(Duration::from_secs(20)),
            ..CallLimits::default()
        };
        let mut conv = Conversation::new(agent(limits, Arc::new(voicera_models::standin::FixedLlm)));
        let mut speaker = Speaker::default();
        conv.start();
        let before = speaker.played;
        // Greeting ends by tick 30; 10 s of silence later (tick ~530) the idle prompt plays.
        run(&mut conv, &mut speaker, 0..520, |_| false);
        let greeting = speaker.played - before;
        run(&mut conv, &mut speaker, 520..560, |_| false);
        assert!(speaker.played - before > greeting, "the idle prompt was spoken");
        // The silence clock restarts after the prompt: 20 s after it the agent hangs up.
        let notes = run(&mut conv, &mut speaker, 560..1700, |_| false);
        let (tick, reason) = hang_up_tick(&notes).expect("hang-up");
        assert_eq!(reason, HangUpReason::UserSilence);
        assert!((1500..1580).contains(&tick), "hang-up at tick {tick}");
    }

    #[test]
    fn speech_resets_the_silence_clock_and_the_call_timeout_still_ends_the_call() {
        let limits = CallLimits {
            user_silence_hangup: Some(Duration::from_secs(5)),
            call_timeout: Some(Duration::from_secs(30)),
            ..CallLimits::default()
        };
        let mut conv = Conversation::new(agent(limits, Arc::new(voicera_models::standin::FixedLlm)));
        let mut speaker = Speaker::default();
        conv.start();
        // The caller speaks every 4 s: never 5 s of silence, so only the 30 s timeout ends the call.
        let notes = run(&mut conv, &mut speaker, 0..1600, |t| t % 200 >= 150 && t % 200 < 180);
        assert_eq!(hang_up_tick(&notes), Some((1499, HangUpReason::CallTimeout)), "{:?}", hang_up_tick(&notes));
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

    /// An STT that hears the given texts, one per utterance: as a partial once 200 ms of voice came in, as
    /// the final at end of speech.
    struct HearsInTurn(&'static [&'static str]);
    impl SpeechToText for HearsInTurn {
        fn stream(&self, _language: &str) -> Box<dyn SttStream> {
            struct Stream(&'static [&'static str], usize, usize, Option<Transcript>);
            impl SttStream for Stream {
                fn push_audio(&mut self, pcm: &[i16]) {
                    if voicera_media::dsp::rms(pcm) > 0.05 {
                        self.2 += 1;
                        if self.2 == 10 {
                            self.3 = Some(Transcript::Partial(self.0[self.1.min(self.0.len() - 1)].to_string()));
                        }
                    }
                }
                fn end_of_speech(&mut self) {
                    self.3 = Some(Transcript::Final(self.0[self.1.min(self.0.len() - 1)].to_string()));
                    self.1 += 1;
                    self.2 = 0;
                }
                fn poll_transcript(&mut self) -> Option<Transcript> {
                    self.3.take()
                }
            }
            Box::new(Stream(self.0, 0, 0, None))
        }
    }

    /// The bench agent after its greeting and a first turn (caller speech in ticks 30..80), its reply
    /// (12 words of tone, 720 ms) starting to play at tick ~100.
    fn replying(heard: &'static [&'static str]) -> (Conversation, Speaker) {
        let mut agent = Agent::bench(false);
        agent.stt = Arc::new(HearsInTurn(heard));
        let mut conv = Conversation::new(Arc::new(agent));
        let mut speaker = Speaker::default();
        conv.start();
        run(&mut conv, &mut speaker, 0..104, |t| (30..80).contains(&t));
        assert_eq!(conv.phase(), &Phase::AgentSpeaking);
        (conv, speaker)
    }

    const GREETING_AND_REPLY_SAMPLES: usize = (6 + 12) * 60 * 16;

    #[test]
    fn a_cough_over_the_reply_pauses_it_at_once_and_it_plays_on_without_a_gap_in_the_words() {
        let (mut conv, mut speaker) = replying(&["what time is it", "(coughs)"]);
        let mut paused_at = None;
        let mut notes = Vec::new();
        for tick in 104..260 {
            notes.extend(run(&mut conv, &mut speaker, tick..tick + 1, |t| (104..112).contains(&t)));
            if speaker.paused && paused_at.is_none() {
                paused_at = Some(tick);
            }
        }
        // VAD start (0.1 s) after the onset at tick 104: silent at once, not after the clause.
        assert!(paused_at.is_some_and(|t| t <= 110), "paused at {paused_at:?}");
        let resumed = notes.iter().find_map(|(t, n)| match n {
            ConversationNote::BargeInResumed { paused_ms } => Some((*t, *paused_ms)),
            _ => None,
        });
        // The recogniser's final for the cough (no words) comes at the VAD's stop time and resumes the agent.
        assert!(resumed.is_some_and(|(t, ms)| t < 140 && ms > 0), "{notes:?}");
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::BargeIn { .. })), "{notes:?}");
        // Nothing repeated, nothing skipped: the whole reply played, and it is recorded as said in full.
        assert_eq!(speaker.flushed, 0);
        assert_eq!(speaker.played, GREETING_AND_REPLY_SAMPLES);
        let said = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentSaid { text, interrupted, .. } => Some((text.clone(), *interrupted)),
            _ => None,
        });
        assert_eq!(said, Some(("Sure, it is about three in the afternoon here. Anything else today?".into(), false)));
        assert_eq!(conv.phase(), &Phase::Listening);
    }

    #[test]
    fn long_speech_the_recogniser_has_no_words_for_interrupts_when_the_window_passes() {
        let (mut conv, mut speaker) = replying(&["what time is it", ""]);
        // The caller talks 1.6 s over the reply; the recogniser gives no words in time.
        let notes = run(&mut conv, &mut speaker, 104..200, |t| (104..184).contains(&t));
        let barge = notes.iter().find_map(|(t, n)| match n {
            ConversationNote::BargeIn { paused_ms, .. } => Some((*t, *paused_ms)),
            _ => None,
        });
        // Paused at ~tick 110; the 800 ms window passes at ~tick 150 with the caller voiced throughout.
        assert!(barge.is_some_and(|(t, ms)| (145..=155).contains(&t) && ms == 800), "{barge:?}");
        assert!(speaker.flushed > 0, "the paused rest of the reply is dropped");
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentSaid { interrupted: true, .. })));
        assert_eq!(conv.phase(), &Phase::UserSpeaking);
    }
    #[test]
    fn an_untranscribed_utterance_is_noted_and_the_agent_keeps_listening() {
        struct Deaf;
        impl SpeechToText for Deaf {
            fn stream(&self, _language: &str) -> Box<dyn SttStream> {
                struct Stream(Option<Transcript>);
                impl SttStream for Stream {
                    fn push_audio(&mut self, _pcm: &[i16]) {}
                    fn end_of_speech(&mut self) {
                        let error = ModelError::new(voicera_models::FailureKind::Overloaded, "queue full");
                        self.0 = Some(Transcript::Failed(error));
                    }
                    fn poll_transcript(&mut self) -> Option<Transcript> {
                        self.0.take()
                    }
                }
                Box::new(Stream(None))
            }
        }
        let mut agent = Agent::bench(false);
        agent.stt = Arc::new(Deaf);
        let mut conv = Conversation::new(Arc::new(agent));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..200, |t| (30..80).contains(&t));
        let failures: Vec<_> = notes
            .iter()
            .filter_map(|(_, n)| match n {
                ConversationNote::ModelFailed { stage, error } => Some((*stage, error.kind)),
                _ => None,
            })
            .collect();
        assert_eq!(failures, [(ModelStage::Stt, voicera_models::FailureKind::Overloaded)]);
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { .. })), "{notes:?}");
        assert_eq!(conv.phase(), &Phase::Listening);
    }

    #[test]
    fn switches_of_speech_chains_are_noted_with_their_stage_and_the_call_goes_on() {
        use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, SystemClock};
        use voicera_models::speech_chain::{FallbackStt, FallbackTts};
        use voicera_models::{FailureKind, TextToSpeech};
        /// A recogniser whose provider refuses every utterance.
        struct Refused;
        impl SpeechToText for Refused {
            fn stream(&self, _language: &str) -> Box<dyn SttStream> {
                struct Stream(Option<Transcript>);
                impl SttStream for Stream {
                    fn push_audio(&mut self, _pcm: &[i16]) {}
                    fn end_of_speech(&mut self) {
                        self.0 = Some(Transcript::Failed(ModelError::new(FailureKind::Unreachable, "refused")));
                    }
                    fn poll_transcript(&mut self) -> Option<Transcript> {
                        self.0.take()
                    }
                }
                Box::new(Stream(None))
            }
        }
        /// A voice whose provider fails every clause, at the rate of the voice behind it.
        struct Broken(u32);
        impl TextToSpeech for Broken {
            fn speak(&self, _text: &str) -> Box<dyn TtsStream> {
                struct Stream(u32, ModelError);
                impl TtsStream for Stream {
                    fn sample_rate(&self) -> u32 {
                        self.0
                    }
                    fn poll_audio(&mut self, _out: &mut Vec<i16>) -> bool {
                        false
                    }
                    fn failure(&self) -> Option<&ModelError> {
                        Some(&self.1)
                    }
                }
                Box::new(Stream(self.0, ModelError::new(FailureKind::Engine, "HTTP 500")))
            }
        }
        let mut agent = Agent::bench(false);
        let rate = agent.tts.speak("x").sample_rate();
        let stt_links = vec![
            Link::new("cloud-stt", Arc::new(Refused) as Arc<dyn SpeechToText>, BreakerPolicy::default()),
            Link::new("local-stt", Arc::clone(&agent.stt), BreakerPolicy::default()),
        ];
        let tts_links = vec![
            Link::new("cloud-tts", Arc::new(Broken(rate)) as Arc<dyn TextToSpeech>, BreakerPolicy::default()),
            Link::new("local-tts", Arc::clone(&agent.tts), BreakerPolicy::default()),
        ];
        agent.stt = Arc::new(FallbackStt::new(stt_links, ChainBudget::default(), Arc::new(SystemClock)));
        agent.tts = Arc::new(FallbackTts::new(tts_links, ChainBudget::default(), Arc::new(SystemClock)));
        let mut conv = Conversation::new(Arc::new(agent));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..200, |t| (30..80).contains(&t));
        let switches: Vec<_> = notes
            .iter()
            .filter_map(|(_, n)| match n {
                ConversationNote::ModelFallback { stage, from, to, reason } => {
                    Some((*stage, from.as_str(), to.as_str(), reason.kind))
                }
                _ => None,
            })
            .collect();
        assert!(
            switches.contains(&(ModelStage::Stt, "cloud-stt", "local-stt", FailureKind::Unreachable)),
            "{switches:?}"
        );
        assert!(switches.contains(&(ModelStage::Tts, "cloud-tts", "local-tts", FailureKind::Engine)), "{switches:?}");
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { .. })), "the caller was heard");
        assert!(!notes.iter().any(|(_, n)| matches!(n, ConversationNote::ModelFailed { .. })), "{notes:?}");
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::AgentStarted { .. })), "the agent answered");
    }

    #[test]
    fn a_failed_reply_is_noted_and_the_caller_hears_an_apology_not_silence() {
        struct Down;
        impl LanguageModel for Down {
            fn reply(&self, _history: &[ChatMessage], _tools: &[ToolSpec]) -> Box<dyn LlmStream> {
                struct Refused(bool);
                impl LlmStream for Refused {
                    fn poll_event(&mut self) -> Option<LlmEvent> {
                        let kind = voicera_models::FailureKind::Unreachable;
                        (!std::mem::replace(&mut self.0, true))
                            .then(|| LlmEvent::Failed(ModelError::new(kind, "connection refused")))
                    }
                }
                Box::new(Refused(false))
            }
        }
        let mut conv = Conversation::new(agent(CallLimits::default(), Arc::new(Down)));
        let mut speaker = Speaker::default();
        conv.start();
        let notes = run(&mut conv, &mut speaker, 0..200, |t| (30..80).contains(&t));
        assert!(notes.iter().any(|(_, n)| matches!(
            n,
            ConversationNote::ModelFailed { stage: ModelStage::Llm, error } if error.message == "connection refused"
        )));
        let said = notes.iter().find_map(|(_, n)| match n {
            ConversationNote::AgentSaid { text, .. } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(said.as_deref(), Some(LLM_FAILED_REPLY));
    }
}
