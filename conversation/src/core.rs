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
use crate::engine::{AudioSink, Conversation, ConversationNote, HangUpReason};
use crate::journal::{account_notes, FinishedCall, Journal, RecordingPlan, WallClock};
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
        }
    }

    /// The call is answered (or the stream started) as `call_id` at `now`: an agent greets, and its journal
    /// opens when it keeps records. Later calls do nothing.
    pub fn start(&mut self, call_id: &str, now: Instant) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        self.register_live(call_id, self.clock.unix_ms(now));
        let CallService::Agent(conversation) = &mut self.service else { return };
        conversation.start();
        let Some(plan) = self.recording.take() else { return };
        let agent = conversation.agent();
        let started_ms = self.clock.unix_ms(now);
        self.journal = Some(Journal::new(plan, self.transport, call_id, agent, conversation.greeting(), started_ms));
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
        if let Some(journal) = self.journal.as_mut() {
            journal.on_audio(frame, &[]);
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
}
