//! The per-call media task: one tokio task owns the call's sockets and its [`RtpStream`], and runs one
//! `select!` over control commands, tool results and the ptime tick; RTP (and, once a second, RTCP) is read
//! from its socket on the tick. The task is supervised: whatever way it ends
//! (hang-up, RTP timeout, panic), the signalling service hears exactly one [`CallNotice::Ended`], and the port
//! lease drops with the task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::conversation::engine::{Conversation, ConversationNote, HangUpReason};
use crate::metrics::Metrics;
use crate::negotiate::MediaPlan;
use crate::ports::PortLease;
use crate::recorder::{unix_now, CallRecord, RecordingSink, StereoRecorder, TurnRecord};
use crate::rtp_socket::{arrival_instant, BatchBuffers, Datagram, RtpSocket, BATCH, DATAGRAM};
use crate::stream::{ntp_now, RtpStream, StreamEvent, RTCP_INTERVAL};

/// Identifies a call inside this node (the dialog id's text).
pub type CallKey = String;

/// What runs on the call's audio.
pub enum CallService {
    /// Caller audio looped back through the full decode → jitter → 16 kHz → encode → paced egress path.
    Echo,
    /// An AI agent's conversation.
    Agent(Box<Conversation>),
}

/// Commands from signalling to a call.
#[derive(Debug)]
pub enum CallCommand {
    /// A re-INVITE/UPDATE renegotiated the stream.
    UpdatePlan(MediaPlan),
    /// DTMF received by SIP INFO (RFC 2976 + application/dtmf-relay).
    DtmfReceived(char),
    /// Send DTMF to the peer as RFC 4733 events.
    SendDtmf(String),
    /// Stop now (BYE received or sent, shutdown).
    Stop,
    /// The early-media call we placed was answered; from now on it is known by `key` (the confirmed dialog's,
    /// which differs from the early one when another fork answered).
    Answered { key: CallKey },
}

/// Why a call's media ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// Signalling told it to stop.
    Stopped,
    /// No RTP from the peer for the configured time (while not on hold).
    RtpTimeout,
    /// The media task failed.
    MediaError(String),
    /// The media task panicked; contained here.
    Panicked,
    /// The agent ended the call (farewell, caller silence, call timeout).
    AgentHangUp(HangUpReason),
}

/// What a call tells signalling.
#[derive(Debug)]
pub enum CallNotice {
    Ended {
        call: CallKey,
        reason: EndReason,
    },
    Dtmf {
        call: CallKey,
        digit: char,
    },
    /// The agent transfers the caller (REFER); the reply says whether the other side accepted.
    Transfer {
        call: CallKey,
        target: String,
        reply: tokio::sync::oneshot::Sender<Result<(), crate::sip_rtp::TransferError>>,
    },
}

/// The result of a tool call carried out for a call's agent: (id, result, whether it was a transfer).
pub(crate) type ToolOutcome = (u64, Result<String, String>, bool);

/// How a call's transport carries out a transfer.
pub(crate) enum TransferVia<'a> {
    /// SIP REFER, by the signalling task.
    Sip { notices: &'a mpsc::Sender<CallNotice>, call: &'a CallKey },
    /// The provider's REST API; the provider fetches `dial_url` (Vobiz/Plivo) to dial the target.
    Rest { rest: crate::ws_stream::rest::ProviderRest, call_id: String, dial_url: String },
    /// This transport cannot transfer.
    Unavailable,
}

/// Starts the work of a tool request; its outcome arrives on `results`.
pub(crate) fn start_tool(
    id: u64,
    request: crate::conversation::engine::ToolRequest,
    results: &mpsc::Sender<ToolOutcome>,
    transfer: TransferVia<'_>,
) {
    use crate::conversation::engine::ToolRequest;
    let results = results.clone();
    match (request, transfer) {
        (ToolRequest::Http { tool, arguments }, _) => {
            tokio::spawn(async move {
                let result = crate::tools::run_http_tool(tool, arguments).await;
                let _ = results.send((id, result, false)).await;
            });
        }
        (ToolRequest::Transfer { target }, TransferVia::Sip { notices, call }) => {
            let (reply, accepted) = tokio::sync::oneshot::channel();
            let notice = CallNotice::Transfer { call: call.clone(), target: target.clone(), reply };
            if notices.try_send(notice).is_err() {
                let _ = results.try_send((id, Err("signalling is busy; try again".into()), true));
                return;
            }
            tokio::spawn(async move {
                let result = match accepted.await {
                    Ok(Ok(())) => Ok(format!("transferring to {target}")),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("signalling stopped".into()),
                };
                let _ = results.send((id, result, true)).await;
            });
        }
        (ToolRequest::Transfer { target }, TransferVia::Rest { rest, call_id, dial_url }) => {
            tokio::spawn(async move {
                let outcome = tokio::task::spawn_blocking(move || {
                    rest.transfer(&call_id, &target, &dial_url).map(|()| format!("transferring to {target}"))
                })
                .await;
                let result = match outcome {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(e) => Err(format!("transfer task failed: {e}")),
                };
                let _ = results.send((id, result, true)).await;
            });
        }
        (ToolRequest::Transfer { .. }, TransferVia::Unavailable) => {
            let _ = results.try_send((id, Err("transfers are not available on this call".into()), true));
        }
    }
}

/// Where and what to record of an agent call.
pub struct RecordingPlan {
    pub sink: Arc<dyn RecordingSink>,
    pub caller: String,
    pub called: String,
}

/// Everything a call task needs.
pub struct CallSetup {
    pub key: CallKey,
    pub service: CallService,
    pub stream: RtpStream,
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub lease: PortLease,
    pub metrics: Arc<Metrics>,
    /// End the call when no RTP arrives for this long while the peer should be sending.
    pub rtp_timeout: Duration,
    /// Transcript/recording of an agent call, when the agent asks for one.
    pub recording: Option<RecordingPlan>,
    /// Early media of a call we placed (RFC 3960): until [`CallCommand::Answered`] the task only listens
    /// (ringback, announcements), sends nothing, and the service has not started.
    pub early: bool,
}

/// Upper bound on datagrams read from the RTP socket per tick, so a flood cannot starve the loop (a normal
/// peer sends one or two per tick; a burst after a network stall a dozen).
const MAX_PACKETS_PER_TICK: usize = 64;
/// Frames the engine may hear in one tick while working down a jitter-buffer surplus (100 ms).
const MAX_FRAMES_HEARD_PER_TICK: usize = 5;

/// Commands queued per call: control is rare, 16 is ample.
const COMMAND_QUEUE: usize = 16;

/// Starts the call task under a supervisor. Returns the command sender.
pub fn spawn_call(setup: CallSetup, notices: mpsc::Sender<CallNotice>) -> mpsc::Sender<CallCommand> {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let key = setup.key.clone();
    let span = tracing::info_span!("call", call_id = %key);
    let task = tokio::spawn(tracing::Instrument::instrument(run_call(setup, rx, notices.clone()), span));
    tokio::spawn(async move {
        let reason = match task.await {
            Ok(reason) => reason,
            Err(err) => {
                tracing::error!(call = %key, %err, "call media task failed");
                EndReason::Panicked
            }
        };
        let _ = notices.send(CallNotice::Ended { call: key, reason }).await;
    });
    tx
}

async fn run_call(
    setup: CallSetup,
    mut commands: mpsc::Receiver<CallCommand>,
    notices: mpsc::Sender<CallNotice>,
) -> EndReason {
    let CallSetup { mut key, mut service, mut stream, rtp, rtcp, lease, metrics, rtp_timeout, recording, early } =
        setup;
    let mut journal = None;
    let mut recording = recording;
    let mut answered = !early;
    if answered {
        journal = start_service(&mut service, recording.take(), &key);
    }
    // RTP packets of early media heard before the answer (ringback, announcements), for the log.
    let mut early_packets = 0u64;
    let _lease = lease;
    let mut rtp = match RtpSocket::new(rtp) {
        Ok(socket) => socket,
        Err(err) => return EndReason::MediaError(format!("RTP socket: {err}")),
    };
    let ptime = Duration::from_millis(stream.plan().ptime.max(10) as u64);
    // Calls tick on a shared 20 ms grid, so the runtime wakes a few times per grid period for all calls
    // instead of once per call at scattered times (measured: fewer worker park/unpark cycles per call); each
    // call takes the grid slot just after its packets arrive ([`TickPhase`]).
    let mut tick = interval_at(aligned_start(ptime), ptime);
    let mut phase = TickPhase::new(ptime);
    // A late tick is skipped rather than bursted: the peer's jitter buffer prefers a gap to a burst.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // RTCP is read once a second and sent every RTCP_INTERVAL from the tick, like RTP outside the reactor:
    // no timer, readiness or waker of its own to poll on every tick.
    let mut rtcp = match RtpSocket::new(rtcp) {
        Ok(socket) => socket,
        Err(err) => return EndReason::MediaError(format!("RTCP socket: {err}")),
    };
    let rtcp_every = (RTCP_INTERVAL.as_millis() as u64 / ptime.as_millis().max(1) as u64).max(1);
    // When the call was answered: RTP silence is counted from here at the earliest.
    let mut started = Instant::now();
    let mut rtp_buffers: BatchBuffers = [[0u8; DATAGRAM]; BATCH];
    let mut datagrams = [Datagram::EMPTY; BATCH];
    let mut rtcp_buf = [0u8; 1500];
    let mut packet = [0u8; 1500];
    let mut ticks: u64 = 0;
    let cname = format!("voicera-{key}");
    let (tool_results, mut tool_outcomes) = mpsc::channel::<ToolOutcome>(8);
    // Tool calls started and not yet answered: their channel is only polled while there are some.
    let mut tools_running = 0u32;
    tracing::info!(codec = ?stream.plan().codec, remote = %stream.remote(), "media started");

    let reason = loop {
        tokio::select! {
            // Control first, so that Stop is never starved by media.
            biased;
            command = commands.recv() => match command {
                None | Some(CallCommand::Stop) => break EndReason::Stopped,
                Some(CallCommand::Answered { key: confirmed }) => {
                    tracing::info!(early_packets, call = %confirmed, "answered after early media");
                    key = confirmed;
                    answered = true;
                    started = Instant::now();
                    journal = start_service(&mut service, recording.take(), &key);
                }
                Some(CallCommand::UpdatePlan(plan)) => {
                    tracing::info!(direction = ?plan.direction, codec = ?plan.codec, "media renegotiated");
                    if let Err(err) = stream.update_plan(plan) {
                        break EndReason::MediaError(err.to_string());
                    }
                }
                Some(CallCommand::DtmfReceived(digit)) => {
                    tracing::info!(%digit, "DTMF (SIP INFO)");
                    if let CallService::Agent(conversation) = &mut service {
                        conversation.on_dtmf(digit);
                    }
                }
                Some(CallCommand::SendDtmf(digits)) => {
                    let remote = stream.remote();
                    for digit in digits.chars() {
                        stream.dtmf_packets(digit, 100, |bytes| { let _ = rtp.try_send_to(bytes, remote); });
                    }
                }
            },
            Some((id, result, transferred)) = tool_outcomes.recv(), if tools_running > 0 => {
                tools_running -= 1;
                if let CallService::Agent(conversation) = &mut service {
                    conversation.on_tool_result(id, result, transferred);
                }
            }
            _ = tick.tick() => {
                ticks += 1;
                // RTP is read here, once per tick, rather than woken up per packet: the packets of the last
                // ptime are all waiting in the socket buffer, and one wake-up per call per ptime halves the
                // scheduling cost. It adds at most one ptime before a packet reaches the jitter buffer.
                let now = std::time::Instant::now();
                let mut last_stamp = None;
                // Follow the packets' arrival phase: soon after the call starts, then once a second.
                let probe = ticks == 3 || ticks.is_multiple_of(50);
                for _ in 0..MAX_PACKETS_PER_TICK / BATCH {
                    let received = rtp.recv_batch(&mut rtp_buffers, &mut datagrams, probe).unwrap_or(0);
                    for (buffer, Datagram { len: n, from, stamped }) in rtp_buffers.iter().zip(&datagrams).take(received) {
                        last_stamp = stamped.or(last_stamp);
                        early_packets += u64::from(!answered);
                        if let Some(StreamEvent::Dtmf(digit)) = stream.handle_rtp(&buffer[..*n], *from, now) {
                            tracing::info!(%digit, "DTMF (RFC 4733)");
                            if let CallService::Agent(conversation) = &mut service {
                                conversation.on_dtmf(digit);
                            }
                            let _ = notices.try_send(CallNotice::Dtmf { call: key.clone(), digit });
                        }
                    }
                    if received < BATCH {
                        break;
                    }
                }
                // The caller's frame (and any surplus the jitter buffer holds), the engine, then our packet:
                // a reply (or echo) leaves in the tick that produced it.
                let mut notes = Vec::new();
                if !answered {
                    // Early media is listened to, not answered: nothing is sent, no service runs yet, and a
                    // silent ringing line is no RTP timeout.
                    let _ = stream.hear();
                    continue;
                }
                for heard in 0..MAX_FRAMES_HEARD_PER_TICK {
                    let frame = if heard == 0 {
                        *stream.hear()
                    } else {
                        match stream.hear_surplus() {
                            Some(frame) => *frame,
                            None => break,
                        }
                    };
                    match &mut service {
                        CallService::Echo => stream.queue_audio(&frame),
                        CallService::Agent(conversation) => notes.extend(conversation.on_frame(&frame, &mut stream)),
                    }
                    if let Some(journal) = journal.as_mut() {
                        journal.on_audio(&frame, &[]);
                    }
                }
                let len = stream.send_frame(&mut packet);
                if len > 0 {
                    send_now(&rtp, &packet[..len], stream.remote());
                }
                if let Some(journal) = journal.as_mut() {
                    journal.on_audio(&[], stream.last_outbound_frame());
                    journal.on_notes(&notes);
                }
                for note in &notes {
                    match note {
                        ConversationNote::SendDtmf { digits } => {
                            let remote = stream.remote();
                            for digit in digits.chars() {
                                stream.dtmf_packets(digit, 100, |bytes| { let _ = rtp.try_send_to(bytes, remote); });
                            }
                        }
                        ConversationNote::Tool { id, request } => {
                            tools_running += 1;
                            start_tool(*id, request.clone(), &tool_results, TransferVia::Sip { notices: &notices, call: &key });
                        }
                        _ => {}
                    }
                }
                if let Some(reason) = account_notes(&metrics, &notes) {
                    break EndReason::AgentHangUp(reason);
                }
                if let Some(arrived) = last_stamp.filter(|_| probe).and_then(arrival_instant) {
                    let arrived = Instant::from_std(arrived);
                    if let Some(offset) = phase.on_arrival(grid_phase(ptime, arrived), stream.jitter()) {
                        tick.reset_at(next_on_grid(ptime, offset, Instant::now()));
                    }
                }
                if ticks.is_multiple_of(50) {
                    for _ in 0..MAX_PACKETS_PER_TICK {
                        let Ok(datagram) = rtcp.try_recv(&mut rtcp_buf) else { break };
                        if let Some(rtt) = stream.handle_rtcp(&rtcp_buf[..datagram.len], ntp_now()) {
                            tracing::debug!(rtt_ms = rtt.as_millis() as u64, "RTCP round trip");
                        }
                    }
                }
                if ticks.is_multiple_of(rtcp_every) {
                    let n = stream.rtcp_report(&mut rtcp_buf, ntp_now(), cname.as_bytes());
                    if let Err(err) = rtcp.try_send_to(&rtcp_buf[..n], stream.remote_rtcp()) {
                        tracing::trace!(%err, "RTCP send failed");
                    }
                }
                if ticks.is_multiple_of(50) {
                    metrics.add(&stream.take_counters());
                    if let Some(reason) = check_rtp_timeout(&stream, started, rtp_timeout) {
                        break reason;
                    }
                }
            }
        }
    };
    metrics.add(&stream.take_counters());
    tracing::info!(?reason, "media ended");
    if let Some(mut journal) = journal {
        if let CallService::Agent(conversation) = &mut service {
            journal.on_notes(&conversation.finish(&stream));
        }
        journal.store(&reason).await;
    }
    reason
}

/// Starts the call's service once the call is answered: an agent greets, and its journal opens when it keeps
/// records.
fn start_service(service: &mut CallService, recording: Option<RecordingPlan>, key: &str) -> Option<Journal> {
    let CallService::Agent(conversation) = service else { return None };
    conversation.start();
    let plan = recording?;
    let agent = conversation.agent();
    Some(Journal::new(plan, "sip", key, &agent.id, conversation.greeting(), agent.record_audio))
}

/// What an agent call records as it goes (every transport uses it).
pub(crate) struct Journal {
    plan: RecordingPlan,
    record: CallRecord,
    audio: Option<StereoRecorder>,
}

impl Journal {
    pub(crate) fn new(
        plan: RecordingPlan,
        transport: &'static str,
        key: &str,
        agent: &str,
        greeting: &str,
        audio: bool,
    ) -> Self {
        let record = CallRecord {
            call_id: key.to_string(),
            agent: agent.to_string(),
            caller: plan.caller.clone(),
            called: plan.called.clone(),
            transport,
            started_at: unix_now(),
            ended_at: 0,
            end_reason: String::new(),
            greeting: greeting.to_string(),
            turns: Vec::new(),
            recording: None,
            recording_truncated: false,
        };
        Self { plan, record, audio: audio.then(StereoRecorder::default) }
    }

    /// Audio of either side as it happens: the caller's as the engine hears it, the agent's as it plays.
    /// Each side keeps its own timeline in the recording, so they need not come in pairs.
    pub(crate) fn on_audio(&mut self, caller: &[i16], agent: &[i16]) {
        if let Some(audio) = self.audio.as_mut() {
            audio.push_caller(caller);
            audio.push_agent(agent);
        }
    }

    pub(crate) fn on_notes(&mut self, notes: &[ConversationNote]) {
        for note in notes {
            match note {
                ConversationNote::UserSaid { turn, text } => self.record.turns.push(TurnRecord {
                    turn: *turn,
                    user_text: text.clone(),
                    agent_text: String::new(),
                    interrupted: false,
                    end_of_speech_to_audio_ms: None,
                    stt_ms: None,
                    llm_first_token_ms: None,
                    tts_first_audio_ms: None,
                }),
                ConversationNote::AgentStarted { turn, ticks_since_end_of_speech, stages } => {
                    if let Some(t) = self.record.turns.iter_mut().find(|t| t.turn == *turn) {
                        t.end_of_speech_to_audio_ms = Some(ticks_since_end_of_speech * 20);
                        t.stt_ms = stages.stt_ms;
                        t.llm_first_token_ms = stages.llm_first_token_ms;
                        t.tts_first_audio_ms = stages.tts_first_audio_ms;
                    }
                }
                ConversationNote::AgentSaid { turn, text, interrupted } => {
                    if let Some(t) = self.record.turns.iter_mut().find(|t| t.turn == *turn) {
                        t.agent_text = text.clone();
                        t.interrupted = *interrupted;
                    }
                }
                ConversationNote::BargeIn { .. }
                | ConversationNote::HangUp { .. }
                | ConversationNote::SendDtmf { .. }
                | ConversationNote::Tool { .. } => {}
            }
        }
    }

    /// Hands the record to the sink off the reactor; a failure is logged with the record itself, so the
    /// transcript is never silently lost.
    pub(crate) async fn store(mut self, reason: &EndReason) {
        self.record.ended_at = unix_now();
        self.record.end_reason = match reason {
            EndReason::AgentHangUp(why) => format!("agent_hangup:{}", why.as_str()),
            other => format!("{other:?}"),
        };
        self.record.recording_truncated = self.audio.as_ref().is_some_and(|a| a.truncated);
        let sink = self.plan.sink.clone();
        let mut record = self.record;
        let audio = self.audio;
        let result = tokio::task::spawn_blocking(move || {
            let outcome = sink.store(&mut record, audio.as_ref().map(|a| a.samples()));
            (outcome, record)
        })
        .await;
        match result {
            Ok((Ok(()), record)) => {
                tracing::info!(recording = ?record.recording, turns = record.turns.len(), "call record stored")
            }
            Ok((Err(err), record)) => {
                tracing::error!(%err, record = %serde_json::to_string(&record).unwrap_or_default(), "cannot store call record")
            }
            Err(err) => tracing::error!(%err, "call record task failed"),
        }
    }
}

/// Logs a tick's notes and counts them in the metrics; returns the agent's hang-up, if it asked for one.
pub(crate) fn account_notes(metrics: &Metrics, notes: &[ConversationNote]) -> Option<HangUpReason> {
    let mut hang_up = None;
    for note in notes {
        match note {
            ConversationNote::AgentStarted { ticks_since_end_of_speech, stages, .. } => {
                metrics.observe_turn_latency(ticks_since_end_of_speech * 20);
                metrics.observe_stages(stages.stt_ms, stages.llm_first_token_ms, stages.tts_first_audio_ms);
            }
            ConversationNote::BargeIn { .. } => metrics.barge_in(),
            ConversationNote::HangUp { reason } => hang_up = Some(*reason),
            _ => {}
        }
        log_note(note);
    }
    hang_up
}

fn log_note(note: &ConversationNote) {
    match note {
        ConversationNote::UserSaid { turn, text } => tracing::info!(turn, %text, "caller said"),
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
            tracing::info!(turn, %text, interrupted, "agent said")
        }
        ConversationNote::BargeIn { dropped_samples } => {
            tracing::info!(dropped_ms = dropped_samples / 16, "caller barged in: agent audio flushed")
        }
        ConversationNote::HangUp { reason } => tracing::info!(reason = reason.as_str(), "agent hangs up"),
        ConversationNote::SendDtmf { digits } => tracing::info!(%digits, "agent sends DTMF"),
        ConversationNote::Tool { id, request } => tracing::info!(id, ?request, "agent calls a tool"),
    }
}

fn grid_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The next instant on a process-wide grid of `ptime` steps.
pub(crate) fn aligned_start(ptime: Duration) -> Instant {
    next_on_grid(ptime, Duration::ZERO, Instant::now())
}

/// The first instant after `now` that lies `offset` past a point of the process-wide `ptime` grid.
fn next_on_grid(ptime: Duration, offset: Duration, now: Instant) -> Instant {
    let epoch = grid_epoch();
    let step = ptime.as_nanos().max(1);
    let elapsed = now.saturating_duration_since(epoch).as_nanos();
    let offset = offset.as_nanos() % step;
    let mut next = elapsed / step * step + offset;
    if next <= elapsed {
        next += step;
    }
    epoch + Duration::from_nanos(next.min(u64::MAX as u128) as u64)
}

/// Where `at` falls within the process-wide `ptime` grid.
fn grid_phase(ptime: Duration, at: Instant) -> Duration {
    let step = ptime.as_nanos().max(1);
    Duration::from_nanos((at.saturating_duration_since(grid_epoch()).as_nanos() % step) as u64)
}

/// Puts a call's tick just after its caller's packets arrive, on one of [`TICK_SLOTS`] phases of the grid.
///
/// An RTP call reads its socket once per tick, so a packet waits for the next tick: up to a whole ptime
/// (0–20 ms, 10 on average) added to every turn if the tick's phase is left to chance. Here the tick moves to
/// the first slot after the packets' measured arrival phase plus a margin that grows with jitter. Slots keep
/// the wake-ups coalesced (calls share four instants per ptime, not one each), so the grid's saving in
/// scheduling is mostly kept. Sans-IO: the loop measures, this decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TickPhase {
    ptime: Duration,
    /// The tick's current offset from the grid.
    offset: Duration,
}

/// Phases per ptime a call's tick may take (every 5 ms at 20 ms).
const TICK_SLOTS: u32 = 4;
/// Least time between a packet's arrival and the tick that reads it.
const ARRIVAL_MARGIN: Duration = Duration::from_millis(1);

impl TickPhase {
    pub(crate) fn new(ptime: Duration) -> Self {
        Self { ptime, offset: Duration::ZERO }
    }

    /// A packet arrived at `phase` into the grid period; `jitter` is the stream's estimate. Returns the new
    /// offset if the tick should move.
    pub(crate) fn on_arrival(&mut self, phase: Duration, jitter: Duration) -> Option<Duration> {
        let slot = self.ptime / TICK_SLOTS;
        let margin = (ARRIVAL_MARGIN + jitter * 3).min(self.ptime / 2);
        let wanted = phase + margin;
        let slots = wanted.as_nanos().div_ceil(slot.as_nanos().max(1)) as u32 % TICK_SLOTS;
        let offset = slot * slots;
        (offset != self.offset).then(|| {
            self.offset = offset;
            offset
        })
    }
}

/// Sends without awaiting: a full socket buffer drops this packet instead of delaying the next tick.
fn send_now(socket: &RtpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(err) = socket.try_send_to(bytes, to) {
        if err.kind() != std::io::ErrorKind::WouldBlock {
            tracing::trace!(%err, %to, "RTP send failed");
        }
    }
}

fn check_rtp_timeout(stream: &RtpStream, started: Instant, timeout: Duration) -> Option<EndReason> {
    // Our direction is the answer to theirs: when we are sendonly or inactive the peer sends nothing on purpose
    // (it put us on hold).
    let peer_sends =
        matches!(stream.direction(), voicera_sip::sdp::Direction::SendRecv | voicera_sip::sdp::Direction::RecvOnly);
    if !peer_sends || timeout.is_zero() {
        return None;
    }
    let last = stream.last_rtp_at().map(Instant::from_std).unwrap_or(started).max(started);
    (last.elapsed() > timeout).then_some(EndReason::RtpTimeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    #[test]
    fn the_tick_moves_to_the_first_slot_after_arrival_plus_margin() {
        let mut phase = TickPhase::new(PTIME);
        let ms = Duration::from_millis;
        // Packets arrive 3 ms into the period: 3 + 1 ms margin → the 5 ms slot.
        assert_eq!(phase.on_arrival(ms(3), Duration::ZERO), Some(ms(5)));
        assert_eq!(phase.on_arrival(ms(3), Duration::ZERO), None, "already there");
        // More jitter, more margin: 3 + 1 + 3 × 2 ms = 10 ms → the 10 ms slot.
        assert_eq!(phase.on_arrival(ms(3), ms(2)), Some(ms(10)));
        // Arrivals late in the period wrap to the next period's first slot.
        assert_eq!(phase.on_arrival(ms(19), Duration::ZERO), Some(ms(0)));
        // The margin never exceeds half a ptime, however bad the jitter.
        assert_eq!(phase.on_arrival(ms(1), ms(100)), Some(ms(15)));
    }

    #[test]
    fn grid_instants_have_the_asked_phase_and_lie_ahead() {
        grid_epoch();
        let now = Instant::now();
        for offset in [0, 5, 10, 15] {
            let offset = Duration::from_millis(offset);
            let next = next_on_grid(PTIME, offset, now);
            assert!(next > now && next <= now + PTIME, "{offset:?}");
            assert_eq!(grid_phase(PTIME, next), offset);
        }
    }
}
