//! One call's core, the same behind every transport (SIP/RTP, provider media streams, the browser socket,
//! WebRTC). Sans-IO: the transport feeds it the caller's 16 kHz frames, DTMF and tool results, and carries
//! out what it asks for, its own way.
//!
//! ```text
//!            frames, DTMF, tool results                 poll_action()
//! transport ───────────────────────────▶ CallCore ───────────────────────▶ transport
//!  (moves bytes and time)                 │  service: echo | the agent's Conversation
//!                                         │  journal: transcript, timings, recording
//!                                         ▼
//!                          agent audio into the transport's AudioSink (queue, flush on barge-in)
//! ```
//!
//! Agent audio goes straight into the transport's [`AudioSink`] (its RTP egress ring, a provider stream's
//! queue, a WebRTC track) rather than through [`CallCore::poll_action`]: a frame every 20 ms per call is the
//! hot path, and a sink call copies into a ring without allocating. Barge-in's flush goes the same way, at
//! once. Everything rarer is a [`CallAction`]: send DTMF, run an operator's HTTP tool, transfer, hang up, and
//! the words said (for a browser's live transcript). Each transport carries them out its own way (SIP REFER,
//! a provider's REST redirect, a WebRTC data channel), so nothing here names a transport.
//!
//! The core also keeps the call's journal (what the call leaves behind) and counts its notes in the node's
//! metrics, so every transport records and counts a call the same way.
//!
//! The core reads no clock. Each input that can end in the journal (start, a heard frame, the end) comes with
//! the driver's monotonic `now`, and the call's [`WallClock`] (the wall time the driver read once, when it
//! made the core) turns that into the record's dates and the transcript's times: on virtual time they are
//! exactly what the virtual clock says.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use voicera_media::metrics::Metrics;
use voicera_media::stream::ENGINE_FRAME;

use crate::agent::{HttpTool, ToolRequest};
use crate::amd::{AmdDecision, AmdEvent, AmdGate, GateStep};
use crate::engine::{AudioSink, Conversation, ConversationNote, HangUpReason};
use crate::journal::{account_notes, FinishedCall, Journal, RecordingPlan, WallClock};
use crate::live::{CallParties, LiveCallInfo, LiveCalls, LiveEntry};
use crate::recorder::AmdRecord;

/// What runs on a call's audio.
pub enum CallService {
    /// Caller audio looped back through the transport's whole media path.
    Echo,
    /// An AI agent's conversation.
    Agent(Box<Conversation>),
}

/// Why a call ended, as the call record says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer or signalling ended it (BYE, stream stop, shutdown).
    Stopped,
    /// No RTP from the peer for the configured time (or, on hold, no RTP or RTCP for the hold timeout).
    RtpTimeout,
    /// The call reached the node's longest call duration.
    DurationCap,
    /// The call's media failed (socket, codec, WebSocket).
    MediaError(String),
    /// The call's tick panicked; contained to this call.
    Panicked,
    /// The agent ended the call (farewell, caller silence, call timeout, a tool).
    AgentHangUp(HangUpReason),
}

/// Who said something, for a live transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The caller (a final transcript of their turn).
    Caller,
    /// The agent (on barge-in, only what the caller heard).
    Agent,
}

/// Something the transport carries out for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    /// Press these keys towards the peer (RFC 4733, a provider's `sendDTMF`).
    SendDtmf(String),
    /// Call an operator's webhook; answer with [`CallCore::on_tool_result`] under `id`.
    RunTool {
        /// Answer under this id.
        id: u64,
        /// The webhook to call.
        tool: HttpTool,
        /// The model's arguments, as JSON text.
        arguments: String,
    },
    /// Transfer the caller to `target` (an allow-listed number or URI); answer with
    /// [`CallCore::on_tool_result`] under `id`, `transferred = true`.
    Transfer {
        /// Answer under this id.
        id: u64,
        /// The number or URI to transfer to.
        target: String,
    },
    /// End the call: the agent's goodbye has been heard.
    HangUp(HangUpReason),
    /// Words of the conversation as they become final (transcript views; SIP ignores them).
    Said {
        /// Who spoke.
        speaker: Speaker,
        /// The turn the words belong to.
        turn: u64,
        /// The words.
        text: String,
        /// The agent was cut off by the caller (its words are what was sent, not all heard).
        interrupted: bool,
        /// When the words became final, in Unix milliseconds on the call's [`WallClock`].
        at_ms: u64,
    },
}

/// Actions waiting at most; a transport that stops polling cannot grow memory (the oldest `Said` go first).
const MAX_PENDING_ACTIONS: usize = 64;

/// One call's service, journal and pending actions.
pub struct CallCore {
    service: CallService,
    metrics: Arc<Metrics>,
    /// What to record, until the call starts and the journal opens with it.
    recording: Option<RecordingPlan>,
    journal: Option<Journal>,
    /// Wall time of the driver's monotonic instants, for the journal's dates.
    clock: WallClock,
    transport: &'static str,
    started: bool,
    actions: VecDeque<CallAction>,
    /// Tool calls handed out and not yet answered.
    tools_running: u32,
    /// Its place among the node's calls in progress ([`LiveCalls::node`]) from its start to its end.
    live: Option<LiveEntry>,
    /// Who is on the call, for the live view (set by the transport; the recording plan's numbers otherwise).
    parties: CallParties,
    /// Answering-machine detection holding the agent's start (a call we placed with it on).
    amd: Option<AmdHold>,
    /// Early media kept for the recording until the answer opens it (a call we placed, recording audio): at
    /// most [`MAX_EARLY_RECORDED_FRAMES`], the latest, from the first frame a packet was behind.
    early_recorded: Option<VecDeque<[i16; ENGINE_FRAME]>>,
}

/// Most early media a recording opens with: 10 s, the latest before the answer (an announcement or a greeting
/// begun before the answer, and the ringing just before it). Allocated once, at the first early frame.
pub const MAX_EARLY_RECORDED_FRAMES: usize = 10 * 50;

/// A call held for answering-machine detection: the gate, the message to leave, and what to report.
struct AmdHold {
    gate: AmdGate,
    /// The voicemail message, its variables filled (taken when spoken).
    message: String,
    /// When the call was answered ([`CallCore::start`]): the records' time zero.
    answered_at: Option<Instant>,
    /// The detector's time zero: the first frame of early media, or the answer.
    heard_from: Option<Instant>,
    /// Voice was heard in early media, not yet told to the transport.
    early_voice: bool,
    /// A special information tone was told to the transport.
    sit_reported: bool,
    /// The verdict, not yet taken by the transport.
    decided: Option<AmdEvent>,
    /// The message was left, not yet told to the transport.
    message_left: bool,
}

impl CallCore {
    /// A call's core. `recording` is where its record goes when the agent keeps one; `transport` names the
    /// transport in that record (`sip`, `vobiz`, `browser`, `webrtc`, …); `clock` dates the record from the
    /// driver's monotonic instants.
    pub fn new(
        service: CallService,
        metrics: Arc<Metrics>,
        recording: Option<RecordingPlan>,
        transport: &'static str,
        clock: WallClock,
    ) -> Self {
        let parties = recording
            .as_ref()
            .map(|plan| CallParties {
                caller: plan.caller.clone(),
                called: plan.called.clone(),
                outbound: plan.outbound,
            })
            .unwrap_or_default();
        CallCore {
            service,
            metrics,
            recording,
            journal: None,
            clock,
            transport,
            started: false,
            actions: VecDeque::with_capacity(8),
            tools_running: 0,
            live: None,
            parties,
            amd: None,
            early_recorded: None,
        }
    }

    /// Who is on the call, as the transport knows them: the live view shows them for every call (echo, an
    /// agent that keeps no record, a node without a record store), not only for calls that are recorded.
    #[must_use]
    pub fn with_parties(mut self, parties: CallParties) -> Self {
        self.parties = parties;
        self
    }

    /// Holds the agent's start until answering-machine detection decides (before [`CallCore::start`]): from
    /// the answer on, the caller's audio goes to `gate`; a person (or a machine the campaign connects) gets
    /// the agent, a machine gets a hang-up or `message` (spoken once it records). The journal keeps the verdict.
    pub fn hold_for_amd(&mut self, gate: AmdGate, message: String) {
        if !self.started {
            self.amd = Some(AmdHold {
                gate,
                message,
                answered_at: None,
                heard_from: None,
                early_voice: false,
                sit_reported: false,
                decided: None,
                message_left: false,
            });
        }
    }

    /// The next detection event for the transport to report (voice in early media, the verdict, then a
    /// message left), once each.
    pub fn take_amd_event(&mut self) -> Option<AmdEvent> {
        let amd = self.amd.as_mut()?;
        if std::mem::take(&mut amd.early_voice) {
            return Some(AmdEvent::EarlyVoice);
        }
        if !amd.sit_reported && amd.gate.heard_sit() {
            amd.sit_reported = true;
            return Some(AmdEvent::SpecialInformationTone);
        }
        if let Some(event) = amd.decided.take() {
            return Some(event);
        }
        std::mem::take(&mut amd.message_left).then_some(AmdEvent::MessageLeft)
    }

    /// One 20 ms frame of early media (RFC 3960: before the answer of a call we placed) at 16 kHz, heard at
    /// `now`: the answering-machine detector hears it (ringback, an announcement, a greeting that may go on
    /// past the answer), and a call recording audio keeps it for the recording's start (marked in the record as
    /// `early_media_ms`, at most [`MAX_EARLY_RECORDED_FRAMES`]); the agent hears nothing of it. `packet` says whether packets were behind the frame (false: padding before any RTP, concealment).
    pub fn hear_early(&mut self, frame: &[i16; ENGINE_FRAME], now: Instant, packet: bool) {
        if self.started {
            return;
        }
        self.keep_early(frame, packet);
        let Some(amd) = self.amd.as_mut() else { return };
        let from = match amd.heard_from {
            Some(from) => from,
            None => {
                amd.gate.listen_early();
                *amd.heard_from.insert(now)
            }
        };
        if amd.gate.hear_early(frame, now.saturating_duration_since(from), packet) {
            amd.early_voice = true;
            tracing::info!("answering-machine detection: voice in early media, before the answer");
        }
    }

    /// Keeps an early frame for the recording, when the call records audio: from the first frame a packet was
    /// behind (padding before any RTP is no audio), the latest [`MAX_EARLY_RECORDED_FRAMES`].
    fn keep_early(&mut self, frame: &[i16; ENGINE_FRAME], packet: bool) {
        if self.early_recorded.is_none() && (!packet || !self.records_audio()) {
            return;
        }
        let kept = self.early_recorded.get_or_insert_with(|| VecDeque::with_capacity(MAX_EARLY_RECORDED_FRAMES));
        if kept.len() == MAX_EARLY_RECORDED_FRAMES {
            kept.pop_front();
        }
        kept.push_back(*frame);
    }

    /// Whether the call's journal will record audio (an agent keeping transcripts and audio, and a plan).
    fn records_audio(&self) -> bool {
        let CallService::Agent(conversation) = &self.service else { return false };
        let agent = conversation.agent();
        self.recording.is_some() && agent.record_audio && agent.record_transcript
    }

    /// The media source changed after the answer of an early-media call (a new SSRC): the answering-machine
    /// detector does not count the early speech as the answering party's greeting.
    pub fn amd_source_changed(&mut self) {
        if let Some(amd) = self.amd.as_mut() {
            amd.gate.source_changed();
        }
    }

    /// Whether the agent is held for answering-machine detection.
    pub fn held_for_amd(&self) -> bool {
        self.amd.as_ref().is_some_and(|amd| amd.gate.holding())
    }

    /// The call is answered (or the stream started) as `call_id` at `now`: an agent greets, and its journal
    /// opens when it keeps records. Later calls do nothing.
    pub fn start(&mut self, call_id: &str, now: Instant) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        self.register_live(call_id, self.clock.unix_ms(now));
        let held = match self.amd.as_mut() {
            Some(amd) => {
                amd.answered_at = Some(now);
                match amd.heard_from {
                    Some(from) => amd.gate.answered(now.saturating_duration_since(from)),
                    None => amd.heard_from = Some(now),
                }
                true
            }
            None => false,
        };
        let CallService::Agent(conversation) = &mut self.service else { return };
        if !held {
            conversation.start();
        }
        let Some(plan) = self.recording.take() else { return };
        let agent = conversation.agent();
        let started_ms = self.clock.unix_ms(now);
        // A held call's first words are said (and recorded) once the verdict is in.
        let greeting = if held { "" } else { conversation.greeting() };
        let mut journal = Journal::new(plan, self.transport, call_id, agent, greeting, started_ms);
        // The recording opens with the early media, before anything of the answered call.
        for frame in self.early_recorded.take().iter().flatten() {
            journal.on_early_audio(frame);
        }
        self.journal = Some(journal);
    }

    /// Whether [`CallCore::start`] has run.
    pub fn started(&self) -> bool {
        self.started
    }

    /// What runs on the call.
    pub fn service(&self) -> &CallService {
        &self.service
    }

    /// The call's wall clock (a driver dates its own events on the call's time with it).
    pub fn clock(&self) -> WallClock {
        self.clock
    }

    /// The greeting the agent opens with (empty for echo).
    pub fn greeting(&self) -> &str {
        match &self.service {
            CallService::Agent(conversation) => conversation.greeting(),
            CallService::Echo => "",
        }
    }

    /// One 20 ms frame of the caller's audio at 16 kHz, heard at `now`: echo queues it back into `out`; an
    /// agent hears it and speaks into `out` (flushing it on barge-in). The journal records it, and dates the
    /// words that became final in it at `now`.
    pub fn hear(&mut self, frame: &[i16; ENGINE_FRAME], now: Instant, out: &mut dyn AudioSink) {
        self.hear_frame(frame, now, true, out);
    }

    /// [`CallCore::hear`] for a frame that may have no packet behind it (`packet` false: the silence padded
    /// in when nothing came, concealment of a loss): answering-machine detection learns nothing from it.
    pub fn hear_frame(&mut self, frame: &[i16; ENGINE_FRAME], now: Instant, packet: bool, out: &mut dyn AudioSink) {
        if let Some(journal) = self.journal.as_mut() {
            journal.on_audio(frame, &[]);
        }
        if self.held_for_amd() {
            // The detector hears the frame; the agent hears nothing until the verdict.
            self.hear_held(frame, now, packet);
            return;
        }
        match &mut self.service {
            CallService::Echo => out.queue_audio(frame),
            CallService::Agent(conversation) => {
                let notes = conversation.on_frame(frame, out);
                if !notes.is_empty() {
                    self.absorb(notes, now);
                }
            }
        }
    }

    /// A frame for the answering-machine detector; on its verdict, the agent starts, the call hangs up, or the
    /// voicemail message is spoken, and the journal and the transport learn of it.
    fn hear_held(&mut self, frame: &[i16; ENGINE_FRAME], now: Instant, packet: bool) {
        let Some(amd) = self.amd.as_mut() else { return };
        let since_answer = now.saturating_duration_since(amd.answered_at.unwrap_or(now));
        let heard_for = now.saturating_duration_since(amd.heard_from.or(amd.answered_at).unwrap_or(now));
        let step = amd.gate.hear_frame(frame, heard_for, packet);
        if step == GateStep::Hold {
            return;
        }
        let since_ms = since_answer.as_millis() as u64;
        let decision = amd
            .gate
            .decision()
            .unwrap_or(AmdDecision { verdict: voicera_media::amd::AmdVerdict::Undecided, decided_after_ms: since_ms });
        amd.decided = Some(AmdEvent::Decided { decision, step });
        let message = std::mem::take(&mut amd.message);
        let action = step.action(decision.verdict);
        tracing::info!(
            verdict = decision.verdict.as_str(),
            decided_after_ms = decision.decided_after_ms,
            action,
            "answering-machine detection"
        );
        let record = AmdRecord {
            verdict: decision.verdict.as_str(),
            decided_after_ms: decision.decided_after_ms,
            action,
            message_left: false,
            message_after_ms: (step == GateStep::LeaveMessage).then_some(since_ms),
        };
        let mut said = None;
        match (step, &mut self.service) {
            (GateStep::StartAgent, CallService::Agent(conversation)) => {
                conversation.start();
                said = Some(conversation.greeting().to_string());
            }
            (GateStep::LeaveMessage, CallService::Agent(conversation)) => {
                conversation.leave_message(&message);
                said = Some(message);
            }
            (GateStep::HangUp, _) | (GateStep::LeaveMessage, CallService::Echo) => {
                self.push(CallAction::HangUp(HangUpReason::AnsweringMachine))
            }
            (GateStep::StartAgent, CallService::Echo) | (GateStep::Hold, _) => {}
        }
        // What the agent says first after the verdict is the live view's first words, as a greeting is for
        // calls that were not held.
        if let (Some(entry), Some(said)) = (&self.live, said.as_deref().filter(|s| !s.trim().is_empty())) {
            entry.call().said("agent", 0, said, false, self.clock.unix_ms(now));
        }
        if let Some(journal) = self.journal.as_mut() {
            journal.set_amd(record);
            if let Some(said) = &said {
                journal.set_greeting(said);
            }
        }
    }

    /// The agent audio the caller heard (or was sent) in the last ptime, for the recording's agent side.
    pub fn on_agent_audio(&mut self, played: &[i16]) {
        if let Some(journal) = self.journal.as_mut() {
            journal.on_audio(&[], played);
        }
    }

    /// A key the caller pressed (RFC 4733, SIP INFO, a stream's DTMF event).
    pub fn on_dtmf(&mut self, digit: char) {
        if let CallService::Agent(conversation) = &mut self.service {
            conversation.on_dtmf(digit);
        }
    }

    /// The outcome of a [`CallAction::RunTool`] or [`CallAction::Transfer`] the transport carried out.
    pub fn on_tool_result(&mut self, id: u64, result: Result<String, String>, transferred: bool) {
        self.tools_running = self.tools_running.saturating_sub(1);
        if let CallService::Agent(conversation) = &mut self.service {
            conversation.on_tool_result(id, result, transferred);
        }
    }

    /// Tool calls handed out whose results have not come back yet (a transport polls its result channel
    /// only while there are some).
    pub fn tools_running(&self) -> u32 {
        self.tools_running
    }

    /// The next thing to carry out, oldest first; an operator's hang-up ([`crate::live`]) before anything.
    pub fn poll_action(&mut self) -> Option<CallAction> {
        if self.live.as_ref().is_some_and(|entry| entry.call().take_hang_up()) {
            tracing::info!("an operator hung the call up");
            return Some(CallAction::HangUp(HangUpReason::Operator));
        }
        self.actions.pop_front()
    }

    /// Joins the node's calls in progress: who, over what, and the greeting as the transcript's first words.
    fn register_live(&mut self, call_id: &str, started_at_ms: u64) {
        let (agent, greeting) = match &self.service {
            // A call held for answering-machine detection has said nothing yet.
            CallService::Agent(conversation) if self.amd.is_some() => (conversation.agent().id.clone(), ""),
            CallService::Agent(conversation) => (conversation.agent().id.clone(), conversation.greeting()),
            CallService::Echo => ("echo".to_string(), ""),
        };
        let CallParties { caller, called, outbound } = self.parties.clone();
        let info = LiveCallInfo {
            call_id: call_id.to_string(),
            agent,
            transport: self.transport.to_string(),
            caller,
            called,
            outbound,
            started_at_ms,
        };
        self.live = Some(LiveCalls::node().register(info, greeting));
    }

    /// The call is over at `now`: the agent's words of a reply it was in the middle of are recorded (only what
    /// `out` played), and the journal closes. The record comes back for the transport to store off its reactor
    /// ([`FinishedCall::store`] blocks).
    pub fn finish(&mut self, out: &dyn AudioSink, reason: &EndReason, now: Instant) -> Option<FinishedCall> {
        let at_ms = self.clock.unix_ms(now);
        if let CallService::Agent(conversation) = &mut self.service {
            let notes = conversation.finish(out);
            if let Some(journal) = self.journal.as_mut() {
                journal.on_notes(&notes, at_ms);
            }
        }
        // Ended while still held (the callee hung up during detection): the record says how far it got.
        if let (Some(amd), Some(journal)) = (self.amd.as_ref().filter(|a| a.gate.holding()), self.journal.as_mut()) {
            let decision = amd.gate.decision();
            let since = amd.answered_at.map_or(0, |at| now.saturating_duration_since(at).as_millis() as u64);
            journal.set_amd(AmdRecord {
                verdict: decision.map_or("undecided", |d| d.verdict.as_str()),
                decided_after_ms: decision.map_or(since, |d| d.decided_after_ms),
                action: "none",
                message_left: false,
                message_after_ms: None,
            });
        }
        // The call leaves the live view now that its words are all in.
        self.live = None;
        self.journal.take().map(|journal| journal.finish(reason, at_ms))
    }

    /// Records (dated `now`), counts and turns into actions what the engine reported.
    fn absorb(&mut self, notes: Vec<ConversationNote>, now: Instant) {
        let at_ms = self.clock.unix_ms(now);
        if let Some(journal) = self.journal.as_mut() {
            journal.on_notes(&notes, at_ms);
        }
        let hang_up = account_notes(&self.metrics, &notes);
        if hang_up == Some(HangUpReason::VoicemailLeft) {
            self.message_left();
        }
        if let Some(entry) = &self.live {
            for note in &notes {
                match note {
                    ConversationNote::UserSaid { turn, text } => entry.call().said("user", *turn, text, false, at_ms),
                    ConversationNote::AgentSaid { turn, text, interrupted } => {
                        entry.call().said("agent", *turn, text, *interrupted, at_ms)
                    }
                    _ => {}
                }
            }
        }
        for note in notes {
            let action = match note {
                ConversationNote::UserSaid { turn, text } => {
                    CallAction::Said { speaker: Speaker::Caller, turn, text, interrupted: false, at_ms }
                }
                ConversationNote::AgentSaid { turn, text, interrupted } => {
                    CallAction::Said { speaker: Speaker::Agent, turn, text, interrupted, at_ms }
                }
                ConversationNote::SendDtmf { digits } => CallAction::SendDtmf(digits),
                ConversationNote::Tool { id, request } => {
                    self.tools_running += 1;
                    match request {
                        ToolRequest::Http { tool, arguments } => CallAction::RunTool { id, tool, arguments },
                        ToolRequest::Transfer { target } => CallAction::Transfer { id, target },
                    }
                }
                ConversationNote::AgentStarted { .. }
                | ConversationNote::BargeIn { .. }
                | ConversationNote::BargeInResumed { .. }
                | ConversationNote::ModelFailed { .. }
                | ConversationNote::ModelFallback { .. }
                | ConversationNote::HangUp { .. } => continue,
            };
            self.push(action);
        }
        if let Some(reason) = hang_up {
            self.push(CallAction::HangUp(reason));
        }
    }

    /// The voicemail message played to the end: the journal and the transport learn of it.
    fn message_left(&mut self) {
        if let Some(amd) = self.amd.as_mut() {
            amd.message_left = true;
        }
        if let Some(journal) = self.journal.as_mut() {
            if let Some(mut record) = journal.amd().cloned() {
                record.message_left = true;
                journal.set_amd(record);
            }
        }
    }

    fn push(&mut self, action: CallAction) {
        if self.actions.len() >= MAX_PENDING_ACTIONS {
            if let Some(at) = self.actions.iter().position(|a| matches!(a, CallAction::Said { .. })) {
                self.actions.remove(at);
            }
        }
        self.actions.push_back(action);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::agent::Agent;
    use crate::recorder::{CallRecord, ProviderReport, RecordingSink};

    /// A sink that keeps what it was given.
    #[derive(Default)]
    struct Collect {
        queued: Vec<i16>,
    }

    impl AudioSink for Collect {
        fn queue_audio(&mut self, pcm: &[i16]) {
            self.queued.extend_from_slice(pcm);
        }
        fn flush_audio(&mut self) -> usize {
            std::mem::take(&mut self.queued).len()
        }
        fn queued_audio(&self) -> usize {
            self.queued.len()
        }
        fn pause_audio(&mut self) {}
        fn resume_audio(&mut self) {}
    }

    /// A record sink that keeps what it is given.
    #[derive(Default)]
    struct Kept {
        started: Mutex<Vec<CallRecord>>,
        stored: Mutex<Vec<CallRecord>>,
    }

    impl RecordingSink for Kept {
        fn call_started(&self, record: &CallRecord) {
            self.started.lock().unwrap().push(record.clone());
        }
        fn store(&self, record: &mut CallRecord, _stereo: Option<&[i16]>) -> std::io::Result<()> {
            self.stored.lock().unwrap().push(record.clone());
            Ok(())
        }
        fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()> {
            self.stored.lock().unwrap().push(record.clone());
            Ok(())
        }
        fn store_provider_report(&self, _report: &ProviderReport) -> std::io::Result<()> {
            Ok(())
        }
    }

    const TICK: Duration = Duration::from_millis(20);

    /// A clock whose origin is `wall_ms` (Unix milliseconds), and that origin's monotonic instant.
    fn clock_at(wall_ms: u64) -> (WallClock, Instant) {
        let origin = Instant::now();
        (WallClock::new(origin, SystemTime::UNIX_EPOCH + Duration::from_millis(wall_ms)), origin)
    }

    #[test]
    fn echo_queues_the_callers_frame_back_and_asks_for_nothing() {
        let (clock, t0) = clock_at(0);
        let mut core = CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test", clock);
        core.start("call-1", t0);
        let mut out = Collect::default();
        let frame = [7i16; ENGINE_FRAME];
        core.hear(&frame, t0, &mut out);
        core.hear(&frame, t0 + TICK, &mut out);
        assert_eq!(out.queued.len(), 2 * ENGINE_FRAME);
        assert!(out.queued.iter().all(|s| *s == 7));
        assert_eq!(core.poll_action(), None);
        assert!(core.finish(&out, &EndReason::Stopped, t0 + 2 * TICK).is_none(), "echo keeps no record");
    }

    #[test]
    fn a_call_that_keeps_no_record_shows_its_numbers_in_the_live_view() {
        let (clock, t0) = clock_at(0);
        let parties = CallParties { caller: "+15551230001".into(), called: "+15559870002".into(), outbound: true };
        let mut core =
            CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test", clock).with_parties(parties);
        core.start("call-parties-unrecorded", t0);
        let live = LiveCalls::node().list().into_iter().find(|c| c.info().call_id == "call-parties-unrecorded");
        let info = live.expect("the call is in the live view").info().clone();
        assert_eq!((info.caller.as_str(), info.called.as_str(), info.outbound), ("+15551230001", "+15559870002", true));
        assert!(core.finish(&Collect::default(), &EndReason::Stopped, t0 + TICK).is_none(), "echo keeps no record");
        let gone = LiveCalls::node().list().into_iter().all(|c| c.info().call_id != "call-parties-unrecorded");
        assert!(gone, "the call leaves the live view when it ends");
    }

    /// The caller's 200 Hz voice for frame `tick`.
    fn voice(tick: u32) -> [i16; ENGINE_FRAME] {
        let mut frame = [0i16; ENGINE_FRAME];
        for (i, s) in frame.iter_mut().enumerate() {
            let t = (tick as usize * ENGINE_FRAME + i) as f32 / 16000.0;
            *s = ((t * 200.0 * std::f32::consts::TAU).sin() * 6000.0) as i16;
        }
        frame
    }

    #[test]
    fn the_record_and_transcript_are_dated_by_the_drivers_clock() {
        // The wall clock reads 2026-11-25 04:37:02.250 at the origin; the call is answered 5 s later.
        let origin_ms = 1_795_588_622_250;
        let (clock, t0) = clock_at(origin_ms);
        let sink = Arc::new(Kept::default());
        let plan = RecordingPlan {
            sink: Arc::clone(&sink) as Arc<dyn RecordingSink>,
            caller: "100".into(),
            called: "bench".into(),
            outbound: false,
        };
        let agent = Agent { record_transcript: true, ..Agent::bench(false) };
        let service = CallService::Agent(Box::new(Conversation::new(Arc::new(agent))));
        let mut core = CallCore::new(service, Arc::new(Metrics::default()), Some(plan), "test", clock);
        let answered = t0 + Duration::from_secs(5);
        core.start("call-1", answered);
        let started = sink.started.lock().unwrap().pop().expect("the sink heard of the start");
        assert_eq!(started.started_at, (origin_ms + 5_000) / 1000);
        assert!(started.record_id.starts_with(&format!("rec-{}-", origin_ms + 5_000)), "{}", started.record_id);

        // The greeting plays (ticks 0..30), the caller talks for a second (30..80), then is quiet. Frame `tick`
        // is heard at `answered + tick × 20 ms`.
        let mut out = Collect::default();
        let mut caller_said_at = None;
        let mut agent_said_at = None;
        for tick in 0..200u32 {
            out.flush_audio();
            let frame = if (30..80).contains(&tick) { voice(tick) } else { [3i16; ENGINE_FRAME] };
            let now = answered + TICK * tick;
            core.hear(&frame, now, &mut out);
            while let Some(action) = core.poll_action() {
                if let CallAction::Said { speaker, turn: 1, at_ms, .. } = action {
                    let at = Some(origin_ms + 5_000 + 20 * u64::from(tick));
                    assert_eq!(Some(at_ms), at, "the words are dated on the core's clock");
                    match speaker {
                        Speaker::Caller => caller_said_at = caller_said_at.or(at),
                        Speaker::Agent => agent_said_at = agent_said_at.or(at),
                    }
                }
            }
        }
        let caller_said_at = caller_said_at.expect("the caller's words became final");
        assert!(agent_said_at.is_some(), "the agent answered");

        // The call ends 7.9 s after its last frame: its end is the driver's `now`, not the audio's.
        let ended = answered + TICK * 199 + Duration::from_millis(7_900);
        let finished = core.finish(&out, &EndReason::Stopped, ended).expect("an agent call keeps a record");
        finished.store();
        let record = sink.stored.lock().unwrap().pop().expect("the record was stored");
        assert_eq!(record.record_id, started.record_id);
        assert_eq!(record.started_at, 1_795_588_627);
        assert_eq!(record.ended_at, (origin_ms + 5_000 + 199 * 20 + 7_900) / 1000);
        assert_eq!(record.ended_at, 1_795_588_639);
        let turn = record.turns.first().expect("a turn");
        assert_eq!(turn.user_text, "what time is it");
        assert_eq!(turn.user_at_ms, caller_said_at, "dated at the frame its words became final in");
        // The stand-in models answer in the tick the turn ends: the answer's first audio is dated there too.
        assert_eq!(turn.agent_at_ms, Some(caller_said_at));
    }

    /// Speech-like bursts at 16 kHz (a buzz with harmonics, modulated like syllables), `ms` long.
    fn babble(ms: u32) -> Vec<i16> {
        (0..(16 * ms) as usize)
            .map(|i| {
                let t = i as f32 / 16000.0;
                let v: f32 = (1..12).map(|h| (t * 140.0 * h as f32 * std::f32::consts::TAU).sin() / h as f32).sum();
                (v * (0.55 + 0.45 * (t * 4.0 * std::f32::consts::TAU).sin()) * 0.15 * 32767.0) as i16
            })
            .collect()
    }

    fn quiet(ms: u32) -> Vec<i16> {
        vec![0; (16 * ms) as usize]
    }

    fn beep(ms: u32) -> Vec<i16> {
        (0..(16 * ms) as usize)
            .map(|i| ((i as f32 * 1000.0 * std::f32::consts::TAU / 16000.0).sin() * 0.3 * 32767.0) as i16)
            .collect()
    }

    /// An agent call held for detection, answered at `t0`, its record kept in `sink`.
    fn held_call(action: crate::amd::MachineAction, sink: &Arc<Kept>) -> (CallCore, Instant) {
        let (mut core, t0) = recorded_outbound_call(sink, false);
        let gate = AmdGate::new(16000, action, voicera_media::amd::AmdParams::default());
        core.hold_for_amd(gate, "Please call us back today.".into());
        core.start("call-amd", t0);
        (core, t0)
    }

    /// Plays `signal` to the call in 20 ms frames on the virtual clock from `t0`, the sink playing one frame a
    /// tick; per frame: (ms since answer, samples the agent queued by then, actions).
    fn play(core: &mut CallCore, t0: Instant, signal: &[i16]) -> Vec<(u64, usize, Vec<CallAction>)> {
        let mut out = Collect::default();
        let mut played = 0;
        let mut trace = Vec::new();
        for (i, frame) in signal.chunks_exact(ENGINE_FRAME).enumerate() {
            let frame: &[i16; ENGINE_FRAME] = frame.try_into().unwrap();
            let ms = (i as u64 + 1) * 20;
            core.hear(frame, t0 + Duration::from_millis(ms), &mut out);
            let n = out.queued.len().min(ENGINE_FRAME);
            out.queued.drain(..n);
            played += n;
            let actions: Vec<CallAction> = std::iter::from_fn(|| core.poll_action()).collect();
            trace.push((ms, played, actions));
        }
        trace
    }

    fn hang_up_at(trace: &[(u64, usize, Vec<CallAction>)]) -> Option<(u64, HangUpReason)> {
        trace.iter().find_map(|(ms, _, actions)| {
            actions.iter().find_map(|a| match a {
                CallAction::HangUp(reason) => Some((*ms, *reason)),
                _ => None,
            })
        })
    }

    #[test]
    fn a_machine_gets_the_message_after_its_beep_and_the_record_says_so() {
        let sink = Arc::new(Kept::default());
        let (mut core, t0) = held_call(crate::amd::MachineAction::LeaveMessage, &sink);
        assert!(core.held_for_amd());
        let mut signal = quiet(300);
        signal.extend(babble(4000));
        signal.extend(quiet(300));
        signal.extend(beep(500));
        signal.extend(quiet(3000));
        let trace = play(&mut core, t0, &signal);
        // Nothing is said over the greeting or the beep (which ends at 5.1 s); the message follows at once.
        let first_audio = trace.iter().find(|(_, played, _)| *played > 0).map(|t| t.0).expect("the message");
        assert!((5180..=5260).contains(&first_audio), "the message started at {first_audio} ms");
        let (hung_up, reason) = hang_up_at(&trace).expect("a hang-up");
        assert_eq!(reason, HangUpReason::VoicemailLeft);
        // Five words of the stand-in voice (300 ms), played in full.
        assert!(hung_up >= first_audio + 300, "{hung_up}");
        let decided = match core.take_amd_event() {
            Some(AmdEvent::Decided { decision, step: GateStep::LeaveMessage }) => decision,
            other => panic!("{other:?}"),
        };
        assert_eq!(decided.verdict, voicera_media::amd::AmdVerdict::Machine);
        assert!(decided.decided_after_ms <= 2300, "{decided:?}");
        assert_eq!(core.take_amd_event(), Some(AmdEvent::MessageLeft));
        assert_eq!(core.take_amd_event(), None);
        // The live view shows the message as the agent's first words (nothing was said before the verdict).
        let shown = LiveCalls::node()
            .list()
            .into_iter()
            .filter(|c| c.info().call_id == "call-amd")
            .any(|c| c.transcript().iter().any(|t| t.role == "agent" && t.content == "Please call us back today."));
        assert!(shown, "the message is in the live transcript");
        let finished = core.finish(&Collect::default(), &EndReason::AgentHangUp(reason), t0 + Duration::from_secs(9));
        finished.expect("a record").store();
        let record = sink.stored.lock().unwrap().pop().unwrap();
        let amd = record.amd.expect("the record has the detection");
        assert_eq!((amd.verdict, amd.action, amd.message_left), ("machine", "leave_message", true));
        assert_eq!(amd.decided_after_ms, decided.decided_after_ms);
        assert_eq!(amd.message_after_ms, Some(5200));
        assert_eq!(record.greeting, "Please call us back today.");
    }

    #[test]
    fn a_person_gets_the_greeting_after_the_verdict_and_a_machine_a_hang_up() {
        let sink = Arc::new(Kept::default());
        let (mut core, t0) = held_call(crate::amd::MachineAction::HangUp, &sink);
        let mut hello = quiet(400);
        hello.extend(babble(600));
        hello.extend(quiet(2000));
        let trace = play(&mut core, t0, &hello);
        let first_audio = trace.iter().find(|(_, played, _)| *played > 0).map(|t| t.0).expect("the greeting");
        let decision = match core.take_amd_event() {
            Some(AmdEvent::Decided { decision, step: GateStep::StartAgent }) => decision,
            other => panic!("{other:?}"),
        };
        assert_eq!(decision.verdict, voicera_media::amd::AmdVerdict::Human);
        assert!(decision.decided_after_ms < 3000 && first_audio >= decision.decided_after_ms, "{decision:?}");
        assert!(!core.held_for_amd());
        assert_eq!(hang_up_at(&trace), None);
        core.finish(&Collect::default(), &EndReason::Stopped, t0 + Duration::from_secs(3)).unwrap().store();
        let record = sink.stored.lock().unwrap().pop().unwrap();
        assert_eq!(record.amd.as_ref().map(|a| (a.verdict, a.action)), Some(("human", "agent")));
        assert!(!record.greeting.is_empty(), "the greeting said after the verdict is recorded");

        let (mut core, t0) = held_call(crate::amd::MachineAction::HangUp, &sink);
        let trace = play(&mut core, t0, &babble(4000));
        assert!(trace.iter().all(|(_, played, _)| *played == 0), "nothing said to the machine");
        let (at, reason) = hang_up_at(&trace).expect("a hang-up");
        assert_eq!(reason, HangUpReason::AnsweringMachine);
        assert!(at <= 2300, "{at}");
        core.finish(&Collect::default(), &EndReason::AgentHangUp(reason), t0 + Duration::from_secs(3)).unwrap().store();
        let record = sink.stored.lock().unwrap().pop().unwrap();
        assert_eq!(record.amd.map(|a| (a.verdict, a.action, a.message_left)), Some(("machine", "hangup", false)));
        assert_eq!(record.greeting, "");
    }

    #[test]
    fn pending_actions_are_bounded_and_drop_transcript_words_first() {
        let (clock, _) = clock_at(0);
        let mut core = CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test", clock);
        core.push(CallAction::HangUp(HangUpReason::Farewell));
        for turn in 0..(2 * MAX_PENDING_ACTIONS as u64) {
            let said =
                CallAction::Said { speaker: Speaker::Caller, turn, text: "x".into(), interrupted: false, at_ms: 0 };
            core.push(said);
        }
        assert_eq!(core.actions.len(), MAX_PENDING_ACTIONS);
        assert_eq!(core.poll_action(), Some(CallAction::HangUp(HangUpReason::Farewell)), "the hang-up survives");
    }

    /// A sink that keeps each record with its recording (interleaved stereo).
    #[derive(Default)]
    struct KeptWithAudio {
        stored: Mutex<Vec<(CallRecord, Vec<i16>)>>,
    }

    impl RecordingSink for KeptWithAudio {
        fn call_started(&self, _record: &CallRecord) {}
        fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
            self.stored.lock().unwrap().push((record.clone(), stereo.unwrap_or_default().to_vec()));
            Ok(())
        }
        fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()> {
            self.stored.lock().unwrap().push((record.clone(), Vec::new()));
            Ok(())
        }
        fn store_provider_report(&self, _report: &ProviderReport) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A placed call recording audio (early media comes before `start`), its record kept in `sink`.
    fn recorded_outbound_call<S: RecordingSink + 'static>(sink: &Arc<S>, record_audio: bool) -> (CallCore, Instant) {
        let (clock, t0) = clock_at(1_795_588_622_000);
        let plan = RecordingPlan {
            sink: Arc::clone(sink) as Arc<dyn RecordingSink>,
            caller: "voicera".into(),
            called: "+15551000001".into(),
            outbound: true,
        };
        let agent = Agent { record_transcript: true, record_audio, ..Agent::bench(false) };
        let service = CallService::Agent(Box::new(Conversation::new(Arc::new(agent))));
        (CallCore::new(service, Arc::new(Metrics::default()), Some(plan), "test", clock), t0)
    }

    #[test]
    fn early_media_opens_the_recording_on_the_callers_side_and_the_record_marks_it() {
        let sink = Arc::new(KeptWithAudio::default());
        let (mut core, t0) = recorded_outbound_call(&sink, true);
        // 183 Session Progress: padding before any RTP (not kept), then 1.5 s of an announcement's tone.
        let announcement = [1234i16; ENGINE_FRAME];
        for tick in 0..10u32 {
            core.hear_early(&[0; ENGINE_FRAME], t0 + TICK * tick, false);
        }
        for tick in 10..85u32 {
            core.hear_early(&announcement, t0 + TICK * tick, true);
        }
        // Answered: the agent greets; the caller's answered audio follows the early media in the recording.
        let answered = t0 + TICK * 85;
        core.start("call-early", answered);
        let mut out = Collect::default();
        for tick in 0..50u32 {
            core.hear(&[-77; ENGINE_FRAME], answered + TICK * tick, &mut out);
            let played: Vec<i16> = out.queued.drain(..out.queued.len().min(ENGINE_FRAME)).collect();
            core.on_agent_audio(&played);
            while core.poll_action().is_some() {}
        }
        core.finish(&out, &EndReason::Stopped, answered + TICK * 50).expect("a record").store();
        let (record, stereo) = sink.stored.lock().unwrap().pop().expect("stored");
        assert_eq!(record.early_media_ms, 75 * 20, "the early media's length marks the answer in the recording");
        let early_samples = 75 * ENGINE_FRAME;
        let caller: Vec<i16> = stereo.iter().step_by(2).copied().collect();
        let agent: Vec<i16> = stereo.iter().skip(1).step_by(2).copied().collect();
        assert!(caller[..early_samples].iter().all(|s| *s == 1234), "the early media first, on the caller's side");
        assert!(agent[..early_samples].iter().all(|s| *s == 0), "the agent silent before the answer");
        assert_eq!(&caller[early_samples..early_samples + 50 * ENGINE_FRAME], &[-77; 50 * ENGINE_FRAME][..]);
        assert!(agent[early_samples..].iter().any(|s| *s != 0), "the greeting after the answer");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["early_media_ms"], 1500);
    }

    #[test]
    fn early_media_kept_is_bounded_and_only_for_calls_recording_audio() {
        let sink = Arc::new(KeptWithAudio::default());
        let (mut core, t0) = recorded_outbound_call(&sink, true);
        // A minute of ringing: the latest 10 s are kept.
        for tick in 0..3000u32 {
            core.hear_early(&[(tick % 1000) as i16; ENGINE_FRAME], t0 + TICK * tick, true);
        }
        let answered = t0 + TICK * 3000;
        core.start("call-long-ring", answered);
        core.finish(&Collect::default(), &EndReason::Stopped, answered + TICK).expect("a record").store();
        let (record, stereo) = sink.stored.lock().unwrap().pop().expect("stored");
        assert_eq!(record.early_media_ms, MAX_EARLY_RECORDED_FRAMES as u64 * 20);
        assert_eq!(stereo[0], (3000 - MAX_EARLY_RECORDED_FRAMES as i16) % 1000, "the latest frames");

        // No audio recorded: nothing kept, and the record has no early media (nor shows the field).
        let (mut core, t0) = recorded_outbound_call(&sink, false);
        core.hear_early(&[5; ENGINE_FRAME], t0, true);
        assert!(core.early_recorded.is_none());
        core.start("call-no-audio", t0 + TICK);
        core.finish(&Collect::default(), &EndReason::Stopped, t0 + TICK * 2).expect("a record").store();
        let (record, _) = sink.stored.lock().unwrap().pop().expect("stored");
        assert_eq!(record.early_media_ms, 0);
        assert!(serde_json::to_value(&record).unwrap().get("early_media_ms").is_none());
    }
}
