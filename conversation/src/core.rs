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

use std::collections::VecDeque;
use std::sync::Arc;

use voicera_media::metrics::Metrics;
use voicera_media::stream::ENGINE_FRAME;

use crate::agent::{HttpTool, ToolRequest};
use crate::engine::{AudioSink, Conversation, ConversationNote, HangUpReason};
use crate::journal::{account_notes, FinishedCall, Journal, RecordingPlan};
use crate::live::{LiveCallInfo, LiveCalls, LiveEntry};

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
    transport: &'static str,
    started: bool,
    actions: VecDeque<CallAction>,
    /// Tool calls handed out and not yet answered.
    tools_running: u32,
    /// Its place among the node's calls in progress ([`LiveCalls::node`]) from its start to its end.
    live: Option<LiveEntry>,
}

impl CallCore {
    /// A call's core. `recording` is where its record goes when the agent keeps one; `transport` names the
    /// transport in that record (`sip`, `vobiz`, `browser`, `webrtc`, …).
    pub fn new(
        service: CallService,
        metrics: Arc<Metrics>,
        recording: Option<RecordingPlan>,
        transport: &'static str,
    ) -> Self {
        CallCore {
            service,
            metrics,
            recording,
            journal: None,
            transport,
            started: false,
            actions: VecDeque::with_capacity(8),
            tools_running: 0,
            live: None,
        }
    }

    /// The call is answered (or the stream started) as `call_id`: an agent greets, and its journal opens
    /// when it keeps records. Later calls do nothing.
    pub fn start(&mut self, call_id: &str) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        self.register_live(call_id);
        let CallService::Agent(conversation) = &mut self.service else { return };
        conversation.start();
        let Some(plan) = self.recording.take() else { return };
        let agent = conversation.agent();
        self.journal = Some(Journal::new(
            plan,
            self.transport,
            call_id,
            &agent.id,
            conversation.greeting(),
            agent.record_transcript,
            agent.record_audio,
        ));
    }

    /// Whether [`CallCore::start`] has run.
    pub fn started(&self) -> bool {
        self.started
    }

    /// What runs on the call.
    pub fn service(&self) -> &CallService {
        &self.service
    }

    /// The greeting the agent opens with (empty for echo).
    pub fn greeting(&self) -> &str {
        match &self.service {
            CallService::Agent(conversation) => conversation.greeting(),
            CallService::Echo => "",
        }
    }

    /// One 20 ms frame of the caller's audio at 16 kHz, as heard now: echo queues it back into `out`; an
    /// agent hears it and speaks into `out` (flushing it on barge-in). The journal records it.
    pub fn hear(&mut self, frame: &[i16; ENGINE_FRAME], out: &mut dyn AudioSink) {
        if let Some(journal) = self.journal.as_mut() {
            journal.on_audio(frame, &[]);
        }
        match &mut self.service {
            CallService::Echo => out.queue_audio(frame),
            CallService::Agent(conversation) => {
                let notes = conversation.on_frame(frame, out);
                if !notes.is_empty() {
                    self.absorb(notes);
                }
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
    fn register_live(&mut self, call_id: &str) {
        let (agent, greeting) = match &self.service {
            CallService::Agent(conversation) => (conversation.agent().id.clone(), conversation.greeting()),
            CallService::Echo => ("echo".to_string(), ""),
        };
        let (caller, called, outbound) = match &self.recording {
            Some(plan) => (plan.caller.clone(), plan.called.clone(), plan.outbound),
            None => Default::default(),
        };
        let info = LiveCallInfo {
            call_id: call_id.to_string(),
            agent,
            transport: self.transport.to_string(),
            caller,
            called,
            outbound,
            started_at_ms: crate::journal::unix_now_ms(),
        };
        self.live = Some(LiveCalls::node().register(info, greeting));
    }

    /// The call is over: the agent's words of a reply it was in the middle of are recorded (only what `out`
    /// played), and the journal closes. The record comes back for the transport to store off its reactor
    /// ([`FinishedCall::store`] blocks).
    pub fn finish(&mut self, out: &dyn AudioSink, reason: &EndReason) -> Option<FinishedCall> {
        if let CallService::Agent(conversation) = &mut self.service {
            let notes = conversation.finish(out);
            if let Some(journal) = self.journal.as_mut() {
                journal.on_notes(&notes);
            }
        }
        // The call leaves the live view now that its words are all in.
        self.live = None;
        self.journal.take().map(|journal| journal.finish(reason))
    }

    /// Records, counts and turns into actions what the engine reported.
    fn absorb(&mut self, notes: Vec<ConversationNote>) {
        if let Some(journal) = self.journal.as_mut() {
            journal.on_notes(&notes);
        }
        let hang_up = account_notes(&self.metrics, &notes);
        if let Some(entry) = &self.live {
            let now = crate::journal::unix_now_ms();
            for note in &notes {
                match note {
                    ConversationNote::UserSaid { turn, text } => entry.call().said("user", *turn, text, false, now),
                    ConversationNote::AgentSaid { turn, text, interrupted } => {
                        entry.call().said("agent", *turn, text, *interrupted, now)
                    }
                    _ => {}
                }
            }
        }
        for note in notes {
            let action = match note {
                ConversationNote::UserSaid { turn, text } => {
                    CallAction::Said { speaker: Speaker::Caller, turn, text, interrupted: false }
                }
                ConversationNote::AgentSaid { turn, text, interrupted } => {
                    CallAction::Said { speaker: Speaker::Agent, turn, text, interrupted }
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
    use super::*;

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

    #[test]
    fn echo_queues_the_callers_frame_back_and_asks_for_nothing() {
        let mut core = CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test");
        core.start("call-1");
        let mut out = Collect::default();
        let frame = [7i16; ENGINE_FRAME];
        core.hear(&frame, &mut out);
        core.hear(&frame, &mut out);
        assert_eq!(out.queued.len(), 2 * ENGINE_FRAME);
        assert!(out.queued.iter().all(|s| *s == 7));
        assert_eq!(core.poll_action(), None);
        assert!(core.finish(&out, &EndReason::Stopped).is_none(), "echo keeps no record");
    }

    #[test]
    fn pending_actions_are_bounded_and_drop_transcript_words_first() {
        let mut core = CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test");
        core.push(CallAction::HangUp(HangUpReason::Farewell));
        for turn in 0..(2 * MAX_PENDING_ACTIONS as u64) {
            core.push(CallAction::Said { speaker: Speaker::Caller, turn, text: "x".into(), interrupted: false });
        }
        assert_eq!(core.actions.len(), MAX_PENDING_ACTIONS);
        assert_eq!(core.poll_action(), Some(CallAction::HangUp(HangUpReason::Farewell)), "the hang-up survives");
    }
}
