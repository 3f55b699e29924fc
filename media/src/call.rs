//! The per-call media task: one tokio task owns the call's sockets and its [`RtpStream`], and runs one
//! `select!` over control commands, RTCP and the ptime tick; RTP is drained from its socket on each tick. The task is supervised: whatever way it ends
//! (hang-up, RTP timeout, panic), the signalling service hears exactly one [`CallNotice::Ended`], and the port
//! lease drops with the task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{interval, interval_at, Instant, MissedTickBehavior};

use crate::conversation::engine::{Conversation, ConversationNote, HangUpReason};
use crate::metrics::Metrics;
use crate::negotiate::MediaPlan;
use crate::ports::PortLease;
use crate::recorder::{unix_now, CallRecord, RecordingSink, StereoRecorder, TurnRecord};
use crate::stream::ENGINE_FRAME;
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
}

/// Upper bound on datagrams read from the RTP socket per tick, so a flood cannot starve the loop (a normal
/// peer sends one or two per tick; a burst after a network stall a dozen).
const MAX_PACKETS_PER_TICK: usize = 64;

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
    let CallSetup { key, mut service, mut stream, rtp, rtcp, lease, metrics, rtp_timeout, recording } = setup;
    let mut journal = None;
    if let CallService::Agent(conversation) = &mut service {
        conversation.start();
        if let Some(plan) = recording {
            let agent = conversation.agent();
            let greeting = conversation.greeting();
            journal = Some(Journal::new(plan, "sip", &key, &agent.id, greeting, agent.record_audio));
        }
    }
    let _lease = lease;
    let ptime = Duration::from_millis(stream.plan().ptime.max(10) as u64);
    // Every call ticks on the same 20 ms grid, so the runtime wakes once per grid point for all calls instead
    // of once per call at scattered times (measured: fewer worker park/unpark cycles per call).
    let mut tick = interval_at(aligned_start(ptime), ptime);
    // A late tick is skipped rather than bursted: the peer's jitter buffer prefers a gap to a burst.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut rtcp_timer = interval(RTCP_INTERVAL);
    rtcp_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut rtp_buf = [0u8; 2048];
    let mut rtcp_buf = [0u8; 1500];
    let mut packet = [0u8; 1500];
    let mut ticks: u64 = 0;
    let cname = format!("voicera-{key}");
    let (tool_results, mut tool_outcomes) = mpsc::channel::<ToolOutcome>(8);
    tracing::info!(codec = ?stream.plan().codec, remote = %stream.remote(), "media started");

    let reason = loop {
        tokio::select! {
            // Control first, so that Stop is never starved by media.
            biased;
            command = commands.recv() => match command {
                None | Some(CallCommand::Stop) => break EndReason::Stopped,
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
            Some((id, result, transferred)) = tool_outcomes.recv() => {
                if let CallService::Agent(conversation) = &mut service {
                    conversation.on_tool_result(id, result, transferred);
                }
            }
            received = rtcp.recv_from(&mut rtcp_buf) => {
                if let Ok((n, _)) = received {
                    if let Some(rtt) = stream.handle_rtcp(&rtcp_buf[..n], ntp_now()) {
                        tracing::debug!(rtt_ms = rtt.as_millis() as u64, "RTCP round trip");
                    }
                }
            }
            _ = tick.tick() => {
                ticks += 1;
                // RTP is read here, once per tick, rather than woken up per packet: the packets of the last
                // ptime are all waiting in the socket buffer, and one wake-up per call per ptime halves the
                // scheduling cost. It adds at most one ptime before a packet reaches the jitter buffer.
                let now = std::time::Instant::now();
                for _ in 0..MAX_PACKETS_PER_TICK {
                    let Ok((n, from)) = rtp.try_recv_from(&mut rtp_buf) else { break };
                    if let Some(StreamEvent::Dtmf(digit)) = stream.handle_rtp(&rtp_buf[..n], from, now) {
                        tracing::info!(%digit, "DTMF (RFC 4733)");
                        if let CallService::Agent(conversation) = &mut service {
                            conversation.on_dtmf(digit);
                        }
                        let _ = notices.try_send(CallNotice::Dtmf { call: key.clone(), digit });
                    }
                }
                let (frame, len) = stream.tick(&mut packet);
                let frame = *frame;
                match &mut service {
                    CallService::Echo => stream.queue_audio(&frame),
                    CallService::Agent(conversation) => {
                        let notes = conversation.on_frame(&frame, &mut stream);
                        if let Some(journal) = journal.as_mut() {
                            journal.on_tick(&frame, stream.last_outbound_frame(), &notes);
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
                                    start_tool(*id, request.clone(), &tool_results, TransferVia::Sip { notices: &notices, call: &key });
                                }
                                _ => {}
                            }
                        }
                        if let Some(reason) = account_notes(&metrics, &notes) {
                            break EndReason::AgentHangUp(reason);
                        }
                    }
                }
                if len > 0 {
                    send_now(&rtp, &packet[..len], stream.remote());
                }
                if ticks.is_multiple_of(50) {
                    metrics.add(&stream.take_counters());
                    if let Some(reason) = check_rtp_timeout(&stream, started, rtp_timeout) {
                        break reason;
                    }
                }
            }
            _ = rtcp_timer.tick() => {
                let n = stream.rtcp_report(&mut rtcp_buf, ntp_now(), cname.as_bytes());
                send_now(&rtcp, &rtcp_buf[..n], stream.remote_rtcp());
            }
        }
    };
    metrics.add(&stream.take_counters());
    tracing::info!(?reason, "media ended");
    if let Some(journal) = journal {
        journal.store(&reason).await;
    }
    reason
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

    pub(crate) fn on_tick(
        &mut self,
        caller: &[i16; ENGINE_FRAME],
        agent: &[i16; ENGINE_FRAME],
        notes: &[ConversationNote],
    ) {
        if let Some(audio) = self.audio.as_mut() {
            audio.push(caller, agent);
        }
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
            ConversationNote::AgentStarted { ticks_since_end_of_speech, .. } => {
                metrics.observe_turn_latency(ticks_since_end_of_speech * 20)
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

/// The next instant on a process-wide grid of `ptime` steps.
pub(crate) fn aligned_start(ptime: Duration) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let now = Instant::now();
    let step = ptime.as_nanos().max(1);
    let elapsed = now.duration_since(epoch).as_nanos();
    let next = (elapsed / step + 1) * step;
    epoch + Duration::from_nanos(next.min(u64::MAX as u128) as u64)
}

/// Sends without awaiting: a full socket buffer drops this packet instead of delaying the next tick.
fn send_now(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
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
    let last = stream.last_rtp_at().map(Instant::from_std).unwrap_or(started);
    (last.elapsed() > timeout).then_some(EndReason::RtpTimeout)
}
