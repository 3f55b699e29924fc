//! What an agent call leaves behind: its [`Journal`] (transcript, per-turn timings, stereo recording), closed
//! into a [`FinishedCall`] that the transport hands to the recording sink off its reactor, and the logs and
//! metrics each conversation note feeds. The [`CallCore`](crate::core::CallCore) keeps both for every
//! transport.
//!
//! What callers say and type is personal data: lines carrying it (transcripts, DTMF digits, tool arguments)
//! log at DEBUG unless the operator turned [`set_log_content`] on (`[server] log_content`), through
//! [`content_event!`](crate::content_event).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use voicera_media::metrics::Metrics;
use voicera_media::stream::ENGINE_FRAME;

use crate::agent::{Agent, ToolRequest};
use crate::core::EndReason;
use crate::engine::{ConversationNote, HangUpReason};
use crate::recorder::{
    record_id_at, AmdRecord, BargeInRecord, CallRecord, ModelFailureRecord, ModelFallbackRecord, RecordingSink,
    StereoRecorder, TurnRecord, MAX_MODEL_FAILURES,
};

/// Whether call content is logged at INFO: one switch for the process, set once at start-up by the binary.
static LOG_CONTENT: AtomicBool = AtomicBool::new(false);

/// `[server] log_content` / `VOICERA_LOG_CONTENT`: log transcripts, digits and tool arguments at INFO
/// (else at DEBUG).
pub fn set_log_content(on: bool) {
    LOG_CONTENT.store(on, Ordering::Relaxed);
}

/// Whether call content is logged at INFO.
pub fn log_content() -> bool {
    LOG_CONTENT.load(Ordering::Relaxed)
}

/// A `tracing` event that carries call content (what was said or typed, tool arguments): at INFO when
/// [`set_log_content`] is on, else at DEBUG. Takes `tracing::info!`'s arguments; the caller's crate must
/// depend on `tracing` (the event's target is the caller's module, as with `tracing`'s own macros).
#[macro_export]
macro_rules! content_event {
    ($($arg:tt)+) => {
        if $crate::journal::log_content() {
            ::tracing::info!($($arg)+)
        } else {
            ::tracing::debug!($($arg)+)
        }
    };
}

/// A call's wall clock, read once: a wall time and the monotonic instant it was read at. Wall times of later
/// instants follow the monotonic clock from there, so the call's core needs no clock of its own, an NTP step
/// during the call cannot reorder its transcript, and on a virtual clock every date is exactly what that clock
/// says. The transport's driver makes it when it makes the call's core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    anchor: Instant,
    anchor_unix_ms: u64,
}

impl WallClock {
    /// A clock on which the monotonic instant `anchor` is the wall time `wall` (the two read together).
    pub fn new(anchor: Instant, wall: SystemTime) -> Self {
        let anchor_unix_ms = wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Self { anchor, anchor_unix_ms }
    }

    /// The monotonic instant the wall time was read at.
    pub fn anchor(&self) -> Instant {
        self.anchor
    }

    /// Unix milliseconds at the anchor: when the transport read the wall time, as the call began.
    pub fn anchor_unix_ms(&self) -> u64 {
        self.anchor_unix_ms
    }

    /// Unix milliseconds at the monotonic instant `now` (an instant before the anchor is the anchor's time).
    pub fn unix_ms(&self, now: Instant) -> u64 {
        self.anchor_unix_ms + now.saturating_duration_since(self.anchor).as_millis() as u64
    }
}

/// Where and what to record of an agent call.
pub struct RecordingPlan {
    /// Where the record and recording go when the call ends.
    pub sink: Arc<dyn RecordingSink>,
    /// The caller's number or URI user, as the transport knows it.
    pub caller: String,
    /// The called number or agent, as the transport knows it.
    pub called: String,
    /// The agent placed the call (an outbound or campaign call) rather than answered it.
    pub outbound: bool,
}

/// What an agent call records as it goes (every transport uses it).
pub struct Journal {
    plan: RecordingPlan,
    record: CallRecord,
    audio: Option<StereoRecorder>,
    /// The agent keeps transcripts: else only the call's log is stored, its texts blanked.
    content: bool,
}

impl Journal {
    /// Starts the journal of one call to `agent` at `started_ms` (Unix milliseconds): `key` is the transport's
    /// call id, `greeting` as said. What is kept follows the agent: with `record_transcript` off only the
    /// call's log is kept; `record_audio` (with transcripts) adds the stereo recording.
    pub fn new(
        plan: RecordingPlan,
        transport: &'static str,
        key: &str,
        agent: &Agent,
        greeting: &str,
        started_ms: u64,
    ) -> Self {
        let (content, audio) = (agent.record_transcript, agent.record_audio);
        let record = CallRecord {
            record_id: record_id_at(started_ms),
            call_id: key.to_string(),
            agent: agent.id.clone(),
            caller: plan.caller.clone(),
            called: plan.called.clone(),
            outbound: plan.outbound,
            transport,
            started_at: started_ms / 1000,
            ended_at: 0,
            end_reason: String::new(),
            greeting: greeting.to_string(),
            turns: Vec::new(),
            recording: None,
            recording_truncated: false,
            model_failures: Vec::new(),
            model_fallbacks: Vec::new(),
            amd: None,
            early_media_ms: 0,
        };
        // Every transport's call starts here: the one place the sink hears of it before the end.
        plan.sink.call_started(&record);
        if content {
            plan.sink.transcript_line(&record, record.started_at * 1000, "assistant", &record.greeting);
        }
        // A sink that takes the recording as it is made keeps memory bounded however long the call; others get
        // it whole at the end.
        let audio = (audio && content).then(|| match plan.sink.open_recording(&record) {
            Some(writer) => StereoRecorder::streaming(writer),
            None => StereoRecorder::default(),
        });
        Self { plan, record, audio, content }
    }

    /// Audio of either side as it happens: the caller's as the engine hears it, the agent's as it plays.
    /// Each side keeps its own timeline in the recording, so they need not come in pairs.
    pub fn on_audio(&mut self, caller: &[i16], agent: &[i16]) {
        if let Some(audio) = self.audio.as_mut() {
            audio.push_caller(caller);
            audio.push_agent(agent);
        }
    }

    /// Early media heard before the answer (a call we placed), in order, before any other audio: the caller's
    /// side of the recording's start, the agent's silent; the record says how long it is (`early_media_ms`).
    pub fn on_early_audio(&mut self, caller: &[i16; ENGINE_FRAME]) {
        if let Some(audio) = self.audio.as_mut() {
            audio.push_caller(caller);
            audio.push_agent(&[0; ENGINE_FRAME]);
            // A frame is 20 ms.
            self.record.early_media_ms += 20;
        }
    }

    /// Adds the conversation's notes (turns, latencies, barge-ins) to the record; words said are dated `at_ms`
    /// (Unix milliseconds).
    pub fn on_notes(&mut self, notes: &[ConversationNote], at_ms: u64) {
        for note in notes {
            match note {
                ConversationNote::UserSaid { turn, text } => {
                    if self.content {
                        self.plan.sink.transcript_line(&self.record, at_ms, "user", text);
                    }
                    self.record.turns.push(TurnRecord {
                        turn: *turn,
                        user_text: text.clone(),
                        agent_text: String::new(),
                        interrupted: false,
                        end_of_speech_to_audio_ms: None,
                        stt_ms: None,
                        llm_first_token_ms: None,
                        tts_first_audio_ms: None,
                        barge_ins: Vec::new(),
                        user_at_ms: at_ms,
                        agent_at_ms: None,
                    })
                }
                ConversationNote::AgentStarted { turn, ticks_since_end_of_speech, stages } => {
                    if let Some(t) = self.record.turns.iter_mut().find(|t| t.turn == *turn) {
                        t.end_of_speech_to_audio_ms = Some(ticks_since_end_of_speech * 20);
                        t.agent_at_ms = Some(at_ms);
                        t.stt_ms = stages.stt_ms;
                        t.llm_first_token_ms = stages.llm_first_token_ms;
                        t.tts_first_audio_ms = stages.tts_first_audio_ms;
                    }
                }
                ConversationNote::AgentSaid { turn, text, interrupted } => {
                    if let Some(t) = self.record.turns.iter_mut().find(|t| t.turn == *turn) {
                        t.agent_text = text.clone();
                        t.interrupted = *interrupted;
                        let said_at = *t.agent_at_ms.get_or_insert(at_ms);
                        if self.content {
                            self.plan.sink.transcript_line(&self.record, said_at, "assistant", text);
                        }
                    }
                }
                ConversationNote::BargeIn { paused_ms, .. } => self.barge_in("interrupted", *paused_ms),
                ConversationNote::BargeInResumed { paused_ms } => self.barge_in("resumed", *paused_ms),
                ConversationNote::ModelFallback { stage, from, to, reason } => {
                    if self.record.model_fallbacks.len() < MAX_MODEL_FAILURES {
                        self.record.model_fallbacks.push(ModelFallbackRecord {
                            turn: self.record.turns.last().map(|t| t.turn),
                            stage: stage.as_str(),
                            from: from.clone(),
                            to: to.clone(),
                            reason: reason.kind.label(),
                            message: reason.message.clone(),
                        });
                    }
                }
                ConversationNote::ModelFailed { stage, error } => {
                    if self.record.model_failures.len() < MAX_MODEL_FAILURES {
                        self.record.model_failures.push(ModelFailureRecord {
                            turn: self.record.turns.last().map(|t| t.turn),
                            stage: stage.as_str(),
                            kind: error.kind.label(),
                            message: error.message.clone(),
                        });
                    }
                }
                ConversationNote::HangUp { .. } | ConversationNote::SendDtmf { .. } | ConversationNote::Tool { .. } => {
                }
            }
        }
    }

    /// The agent's first words, when they are said after the journal opened (a call held for answering-machine
    /// detection greets, or leaves its message, once the verdict is in).
    pub fn set_greeting(&mut self, greeting: &str) {
        self.record.greeting = greeting.to_string();
        if self.content {
            self.plan.sink.transcript_line(&self.record, self.record.started_at * 1000, "assistant", greeting);
        }
    }

    /// What answering-machine detection decided, and what came of it so far.
    pub fn set_amd(&mut self, amd: AmdRecord) {
        self.record.amd = Some(amd);
    }

    /// The detection record so far, if any.
    pub fn amd(&self) -> Option<&AmdRecord> {
        self.record.amd.as_ref()
    }

    /// A barge-in belongs to the reply it cut into: the latest turn's.
    fn barge_in(&mut self, outcome: &'static str, paused_ms: u64) {
        if let Some(turn) = self.record.turns.last_mut() {
            turn.barge_ins.push(BargeInRecord { outcome, paused_ms });
        }
    }

    /// Closes the journal at the call's end, `ended_ms` (Unix milliseconds): the record is complete and ready
    /// for the sink.
    pub fn finish(mut self, reason: &EndReason, ended_ms: u64) -> FinishedCall {
        self.record.ended_at = ended_ms / 1000;
        self.record.end_reason = match reason {
            EndReason::AgentHangUp(why) => format!("agent_hangup:{}", why.as_str()),
            other => format!("{other:?}"),
        };
        self.record.recording_truncated = self.audio.as_ref().is_some_and(|a| a.truncated);
        if !self.content {
            // What was said stays out of the log; the turns keep their timings.
            self.record.greeting.clear();
            for turn in &mut self.record.turns {
                turn.user_text.clear();
                turn.agent_text.clear();
            }
        }
        FinishedCall { sink: self.plan.sink, record: self.record, audio: self.audio, content: self.content }
    }
}

/// A call's record and recording, complete, on their way to the recording sink.
pub struct FinishedCall {
    sink: Arc<dyn RecordingSink>,
    record: CallRecord,
    audio: Option<StereoRecorder>,
    content: bool,
}

impl FinishedCall {
    /// The record as it will be stored.
    pub fn record(&self) -> &CallRecord {
        &self.record
    }

    /// Stores the record and recording. Blocking (file or network I/O): transports run it on a blocking
    /// thread. A failure is logged with the record itself, so the transcript is never silently lost.
    pub fn store(mut self) {
        if !self.content {
            match self.sink.store_log_only(&mut self.record) {
                Ok(()) => {
                    tracing::debug!(record_id = %self.record.record_id, "call logged (its agent keeps no transcript)")
                }
                Err(err) => tracing::error!(%err, record_id = %self.record.record_id, "cannot log the call"),
            }
            return;
        }
        let stored = match self.audio.take() {
            Some(audio) if audio.is_streaming() => match audio.finish() {
                Some(writer) => self.sink.store_streamed(&mut self.record, writer),
                None => self.sink.store(&mut self.record, None),
            },
            audio => self.sink.store(&mut self.record, audio.as_ref().map(|a| a.samples())),
        };
        match stored {
            Ok(()) => {
                tracing::info!(recording = ?self.record.recording, turns = self.record.turns.len(), "call record stored")
            }
            Err(err) => {
                // The log is the record's last resort; with its transcript, it is call content.
                tracing::error!(%err, record_id = %self.record.record_id, "cannot store call record");
                crate::content_event!(record = %serde_json::to_string(&self.record).unwrap_or_default(), "the call record not stored")
            }
        }
    }
}

/// Logs a tick's notes and counts them in the metrics; returns the agent's hang-up, if it asked for one.
pub fn account_notes(metrics: &Metrics, notes: &[ConversationNote]) -> Option<HangUpReason> {
    let mut hang_up = None;
    for note in notes {
        match note {
            ConversationNote::AgentStarted { ticks_since_end_of_speech, stages, .. } => {
                metrics.observe_turn_latency(ticks_since_end_of_speech * 20);
                metrics.observe_stages(stages.stt_ms, stages.llm_first_token_ms, stages.tts_first_audio_ms);
            }
            ConversationNote::BargeIn { .. } => metrics.barge_in(),
            ConversationNote::BargeInResumed { .. } => metrics.barge_in_resumed(),
            ConversationNote::ModelFailed { stage, error } => metrics.model_failed(*stage, error.kind),
            ConversationNote::ModelFallback { stage, from, to, reason } => {
                metrics.model_fallback(*stage, from, to, reason.kind)
            }
            ConversationNote::HangUp { reason } => hang_up = Some(*reason),
            _ => {}
        }
        log_note(note);
    }
    hang_up
}

fn log_note(note: &ConversationNote) {
    match note {
        ConversationNote::UserSaid { turn, text } => crate::content_event!(turn, %text, "caller said"),
        ConversationNote::AgentStarted { turn, ticks_since_end_of_speech, stages } => {
            let ms = ticks_since_end_of_speech * 20;
            tracing::info!(
                turn,
                end_of_speech_to_audio_ms = ms,
                stt_ms = ?stages.stt_ms,
                llm_first_token_ms = ?stages.llm_first_token_ms,
                tts_first_audio_ms = ?stages.tts_first_audio_ms,
                "agent speaking"
            )
        }
        ConversationNote::AgentSaid { turn, text, interrupted } => {
            crate::content_event!(turn, %text, interrupted, "agent said")
        }
        ConversationNote::BargeIn { dropped_samples, paused_ms } => {
            tracing::info!(dropped_ms = dropped_samples / 16, paused_ms, "caller barged in: agent audio flushed")
        }
        ConversationNote::BargeInResumed { paused_ms } => {
            tracing::info!(paused_ms, "caller's voice was no interruption: agent plays on")
        }
        ConversationNote::ModelFallback { stage, from, to, reason } => {
            tracing::warn!(stage = stage.as_str(), %from, %to, reason = reason.kind.label(), message = %reason.message, "model fallback")
        }
        ConversationNote::ModelFailed { stage, error } => {
            tracing::warn!(stage = stage.as_str(), kind = error.kind.label(), message = %error.message, "model failed")
        }
        ConversationNote::HangUp { reason } => tracing::info!(reason = reason.as_str(), "agent hangs up"),
        ConversationNote::SendDtmf { digits } => {
            tracing::info!(digits = digits.len(), "agent sends DTMF");
            crate::content_event!(%digits, "DTMF digits sent")
        }
        ConversationNote::Tool { id, request } => {
            tracing::info!(id, tool = request.tool_name(), "agent calls a tool");
            match request {
                ToolRequest::Transfer { target } => crate::content_event!(id, %target, "transfer target"),
                ToolRequest::Http { arguments, .. } => crate::content_event!(id, %arguments, "tool arguments"),
            }
        }
    }
}
