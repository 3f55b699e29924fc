//! A SIP call's media: [`CallMedia`] owns the call's sockets, its [`RtpStream`] and its [`CallCore`], and is
//! ticked once per ptime by a media worker ([`MediaWorkers`]) that ticks many calls per wake-up. On the tick it
//! takes control commands and tool results, reads RTP (and, once a second, RTCP) from its socket, lets the
//! core hear the caller, sends its packet and carries out the core's actions (RFC 4733 DTMF, REFER through
//! the signalling task, webhooks). Whatever way a call ends (hang-up, RTP timeout, panic), the signalling
//! service hears exactly one [`CallNotice::Ended`], and the port lease is released first.
//!
//! An SRTP call (RTP/SAVP, keys from `a=crypto`) unprotects each datagram in place in its receive buffer
//! before anything parses it — so only packets that authenticate reach the stream and its latching — and
//! protects each packet in place in its send buffer after packetizing. A packet that fails is dropped and
//! counted (`voicera_srtp_auth_failures_total`, `voicera_srtp_replays_total`).
//!
//! The tick grid the workers share is [`crate::grid`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use voicera_conversation::amd::{AmdEvent, AmdGate};
use voicera_conversation::core::{CallAction, CallCore};
pub use voicera_conversation::core::{CallService, EndReason};
pub use voicera_conversation::journal::RecordingPlan;
use voicera_conversation::journal::WallClock;
use voicera_conversation::live::CallParties;
use voicera_media::metrics::{MediaCounters, Metrics};
use voicera_media::negotiate::MediaPlan;
use voicera_media::ports::PortLease;
use voicera_media::rtp_socket::{arrival_instant, BatchBuffers, Datagram, RtpSocket, BATCH, DATAGRAM};
use voicera_media::srtp::{SrtpError, SrtpSession};
use voicera_media::stream::{ntp_now, RtpStream, StreamEvent, RTCP_INTERVAL};

use crate::grid::{aligned_start, grid_phase, next_on_grid, TickPhase};
use crate::tools::{ToolOutcome, ToolResults};

/// Identifies a call inside this node (its dialog).
pub use super::call_key::CallKey;

/// Commands from signalling to a call.
#[derive(Debug)]
pub enum CallCommand {
    /// A re-INVITE/UPDATE renegotiated the stream.
    UpdatePlan(Box<MediaPlan>),
    /// DTMF received by SIP INFO (RFC 2976 + application/dtmf-relay).
    DtmfReceived(char),
    /// Send DTMF to the peer as RFC 4733 events.
    SendDtmf(String),
    /// Stop now (BYE received or sent, shutdown).
    Stop,
    /// The early-media call we placed was answered; from now on it is known by `key` (the confirmed dialog's,
    /// which differs from the early one when another fork answered).
    Answered {
        /// The confirmed dialog's key.
        key: CallKey,
    },
    /// Tests: panic inside the call's next tick.
    #[cfg(test)]
    PanicForTest,
}

/// What a call tells signalling.
#[derive(Debug)]
pub enum CallNotice {
    /// The call ended (its media task is done).
    Ended {
        /// Which call.
        call: CallKey,
        /// Why it ended.
        reason: EndReason,
    },
    /// The peer pressed a key.
    Dtmf {
        /// Which call.
        call: CallKey,
        /// The key the peer pressed (RFC 4733).
        digit: char,
    },
    /// Answering-machine detection on a call we placed reached its verdict (the agent starts, the call hangs
    /// up, or the voicemail message is left, as the call's [`AmdSetup`] said).
    Amd {
        /// Which call.
        call: CallKey,
        /// The verdict (`Undecided` when none came in time: the agent was started).
        verdict: voicera_media::amd::AmdVerdict,
        /// From the answer to the verdict.
        decided_after_ms: u64,
    },
    /// The agent transfers the caller (REFER); the reply says whether the other side accepted.
    Transfer {
        /// Which call.
        call: CallKey,
        /// The number or URI to transfer to.
        target: String,
        /// Whether the REFER was accepted.
        reply: tokio::sync::oneshot::Sender<Result<(), super::TransferError>>,
    },
}

/// Everything a call's media needs.
pub struct CallSetup {
    /// The call's dialog key.
    pub key: CallKey,
    /// What the call is connected to (echo or an agent).
    pub service: CallService,
    /// The negotiated RTP stream: codec, payload types, peer address.
    pub stream: RtpStream,
    /// The RTP socket.
    pub rtp: UdpSocket,
    /// The RTCP socket, beside the RTP one.
    pub rtcp: UdpSocket,
    /// Holds the port pair until the call ends.
    pub lease: PortLease,
    /// Node metrics the call updates.
    pub metrics: Arc<Metrics>,
    /// End the call when no RTP arrives for this long while the peer should be sending.
    pub rtp_timeout: Duration,
    /// End the call when its peer sends nothing on purpose (hold, `inactive`) and no RTP or RTCP arrived for
    /// this long: a held port pair is not held forever.
    pub hold_timeout: Duration,
    /// End the call when it has lasted this long, whatever runs on it.
    pub max_duration: Duration,
    /// Transcript/recording of an agent call, when the agent asks for one.
    pub recording: Option<RecordingPlan>,
    /// Who is on the call (the live view shows them for every call, recorded or not).
    pub parties: CallParties,
    /// Early media of a call we placed (RFC 3960): until [`CallCommand::Answered`] the task only listens
    /// (ringback, announcements), sends nothing, and the service has not started.
    pub early: bool,
    /// The call's wall clock, read once when its service was chosen: the core dates its record from the
    /// ticks' monotonic `now` with it, and the conversation's `{{date}}` is its start.
    pub clock: WallClock,
    /// Answering-machine detection holding the service's start (a call we placed with it on).
    pub amd: Option<AmdSetup>,
}

/// Answering-machine detection on a call: the gate, the voicemail message, and who hears the events.
pub struct AmdSetup {
    /// The detector and the campaign's action on machines.
    pub gate: AmdGate,
    /// The voicemail message, its variables filled.
    pub message: String,
    /// Where the detection events go (the dialer that placed the call), besides signalling and the record.
    pub events: Option<mpsc::UnboundedSender<AmdEvent>>,
}

/// Upper bound on datagrams read from the RTP socket per tick, so a flood cannot starve the loop (a normal
/// peer sends one or two per tick; a burst after a network stall a dozen).
const MAX_PACKETS_PER_TICK: usize = 64;
/// Frames the engine may hear in one tick while working down a jitter-buffer surplus (100 ms).
const MAX_FRAMES_HEARD_PER_TICK: usize = 5;

/// Commands queued per call: control is rare, 16 is ample.
const COMMAND_QUEUE: usize = 16;

/// The media workers of a node. Each is one tokio task that owns many calls and, at every instant of the
/// shared ptime grid, ticks all its calls due then, one after another: one timer and one wake-up per worker
/// per grid slot, instead of a timer, a wake-up, a scheduler pass and a `select!` per call per ptime (at 500
/// echo calls those were a sixth of the node's CPU). Commands reach a call at its next tick (within a ptime).
/// A panic while ticking a call ends that call only.
#[derive(Clone)]
pub struct MediaWorkers {
    inboxes: Arc<[mpsc::UnboundedSender<CallMedia>]>,
    next: Arc<AtomicUsize>,
}

impl MediaWorkers {
    /// Starts `count` workers (at least one) on the current tokio runtime; they stop with it.
    pub fn start(count: usize) -> MediaWorkers {
        let inboxes: Vec<_> = (0..count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_worker(rx));
                tx
            })
            .collect();
        MediaWorkers { inboxes: inboxes.into(), next: Arc::new(AtomicUsize::new(0)) }
    }

    /// One worker per core (the runtime runs one thread per core).
    pub fn per_core() -> MediaWorkers {
        MediaWorkers::start(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Starts a call's media on the next worker in turn. Returns the call's command sender. However the call
    /// ends (hang-up, RTP timeout, panic), `notices` hears exactly one [`CallNotice::Ended`], and the port
    /// lease is released.
    pub fn spawn_call(&self, setup: CallSetup, notices: mpsc::Sender<CallNotice>) -> mpsc::Sender<CallCommand> {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let key = setup.key.clone();
        let span = tracing::info_span!("call", call_id = %key);
        let media = match span.in_scope(|| CallMedia::new(setup, rx, notices.clone(), span.clone())) {
            Ok(media) => media,
            Err(reason) => {
                report_end(notices, key, reason);
                return tx;
            }
        };
        let worker = self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len();
        if let Err(mpsc::error::SendError(media)) = self.inboxes[worker].send(media) {
            // The worker is gone (its runtime is shutting down): end the call as a failed one.
            tokio::spawn(media.finish(EndReason::MediaError("media worker stopped".into())));
        }
        tx
    }
}

/// Tells signalling that a call's media ended, for a call with nothing left to store (it never started, or
/// its tick panicked).
fn report_end(notices: mpsc::Sender<CallNotice>, call: CallKey, reason: EndReason) {
    tokio::spawn(async move {
        let _ = notices.send(CallNotice::Ended { call, reason }).await;
    });
}

/// A call's time limits (zero: no limit).
#[derive(Debug, Clone, Copy)]
struct TimeLimits {
    /// End when a peer that should send RTP sends none for this long.
    rtp_timeout: Duration,
    /// End a call on hold (the peer sends no RTP on purpose) when neither RTP nor RTCP comes for this long.
    hold_timeout: Duration,
    /// The longest call.
    max_duration: Duration,
}

/// What the call heard from its peer, and since when it counts.
#[derive(Debug, Clone, Copy)]
struct PeerHeard {
    /// When the call was answered: silence is counted from here at the earliest.
    started: Instant,
    /// The peer's last RTP packet.
    last_rtp: Option<Instant>,
    /// The peer's last RTCP packet: liveness of a call on hold.
    last_rtcp: Option<Instant>,
    /// Whether the peer should be sending RTP (sendrecv or its sendonly); false while it holds the call.
    peer_sends: bool,
}

/// Whether a limit ends the call at `now`: the longest call, RTP silence from a peer that should send, and a
/// hold (or `inactive` stream) with no RTP or RTCP from the peer for the hold timeout.
fn time_limit_reached(limits: &TimeLimits, heard: &PeerHeard, now: Instant) -> Option<EndReason> {
    if !limits.max_duration.is_zero() && now.duration_since(heard.started) > limits.max_duration {
        return Some(EndReason::DurationCap);
    }
    let last_rtp = heard.last_rtp.unwrap_or(heard.started).max(heard.started);
    let (last_heard, timeout) = if heard.peer_sends {
        (last_rtp, limits.rtp_timeout)
    } else {
        (last_rtp.max(heard.last_rtcp.unwrap_or(heard.started)), limits.hold_timeout)
    };
    (!timeout.is_zero() && now.duration_since(last_heard) > timeout).then_some(EndReason::RtpTimeout)
}

/// A media worker: sleeps until the earliest tick among its calls, then ticks every call due.
async fn run_worker(mut inbox: mpsc::UnboundedReceiver<CallMedia>) {
    let mut calls: Vec<CallMedia> = Vec::new();
    // Each call's next tick, beside the calls so that finding the next wake-up reads no call's state.
    let mut due: Vec<Instant> = Vec::new();
    let mut inbox_open = true;
    loop {
        let next = due.iter().min().copied();
        tokio::select! {
            biased;
            call = inbox.recv(), if inbox_open => match call {
                Some(call) => {
                    due.push(call.next_tick);
                    calls.push(call);
                    continue;
                }
                None => inbox_open = false,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {}
            else => return,
        }
        let now = Instant::now();
        let mut i = 0;
        while i < calls.len() {
            if due[i] > now {
                i += 1;
                continue;
            }
            let call = &mut calls[i];
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.tick_in_span(now)))
                .unwrap_or_else(|_| {
                    tracing::error!(call = %calls[i].key, "call media panicked; the call is ended");
                    Some(EndReason::Panicked)
                });
            match ended {
                None => {
                    due[i] = calls[i].next_tick;
                    i += 1;
                }
                Some(reason) => {
                    due.swap_remove(i);
                    let call = calls.swap_remove(i);
                    if reason == EndReason::Panicked {
                        // Its state may be inconsistent: report the end without running any more of it.
                        let (notices, key) = (call.notices.clone(), call.key.clone());
                        drop(call);
                        report_end(notices, key, reason);
                    } else {
                        tokio::spawn(call.finish(reason));
                    }
                }
            }
        }
    }
}

/// One call's media state, owned by a media worker: its sockets, [`RtpStream`], service and journal.
pub struct CallMedia {
    key: CallKey,
    span: tracing::Span,
    core: CallCore,
    stream: RtpStream,
    rtp: RtpSocket,
    rtcp: RtpSocket,
    _lease: PortLease,
    metrics: Arc<Metrics>,
    rtp_timeout: Duration,
    hold_timeout: Duration,
    max_duration: Duration,
    /// The last RTCP packet from the peer: liveness of a call on hold.
    last_rtcp_at: Option<Instant>,
    answered: bool,
    /// RTP packets of early media heard before the answer (ringback, announcements), for the log.
    early_packets: u64,
    commands: mpsc::Receiver<CallCommand>,
    notices: mpsc::Sender<CallNotice>,
    tools: ToolResults,
    ptime: Duration,
    /// The next tick; on the shared ptime grid, at the slot just after the caller's packets arrive
    /// ([`TickPhase`]).
    next_tick: Instant,
    phase: TickPhase,
    rtcp_every: u64,
    /// When the call was answered: RTP silence is counted from here at the earliest.
    started: Instant,
    ticks: u64,
    cname: String,
    rtp_buffers: Box<BatchBuffers>,
    datagrams: [Datagram; BATCH],
    packet: [u8; 1500],
    /// The call's SRTP contexts (None: plain RTP).
    srtp: Option<SrtpSession>,
    /// SRTP packets dropped since the last flush into the metrics.
    srtp_drops: SrtpDrops,
    /// Where answering-machine detection events go (the dialer that placed the call).
    amd_events: Option<mpsc::UnboundedSender<AmdEvent>>,
    /// The source (SSRC) played when an early-media call was answered, until it changes or detection ends:
    /// a greeting heard in early media counts as the answering party's only while the source is the same.
    ssrc_at_answer: Option<u32>,
}

/// SRTP/SRTCP packets a call dropped, by why.
#[derive(Debug, Default, Clone, Copy)]
struct SrtpDrops {
    auth_failures: u64,
    replays: u64,
    /// Not SRTP at all (too short for a tag, not RTP/RTCP): some peers send a plain RTCP keep-alive (baresip's
    /// 16-byte APP packet); counted with the other invalid datagrams, not as forgeries.
    malformed: u64,
}

impl SrtpDrops {
    fn count(&mut self, err: SrtpError) {
        match err {
            SrtpError::Replayed | SrtpError::TooOld => self.replays += 1,
            SrtpError::Malformed => self.malformed += 1,
            _ => self.auth_failures += 1,
        }
    }
}

/// Protects the RTP packet in `buffer[..len]` in place when the call is SRTP; the length to send, or None
/// when it cannot be protected (dropped: a packet is never sent in the clear on an SRTP call).
fn protect_rtp(srtp: &mut Option<SrtpSession>, buffer: &mut [u8], len: usize) -> Option<usize> {
    let Some(session) = srtp else { return Some(len) };
    match session.send().protect_rtp(buffer, len) {
        Ok(len) => Some(len),
        Err(err) => {
            tracing::debug!(%err, "SRTP protect failed; packet dropped");
            None
        }
    }
}

impl CallMedia {
    /// The `nth` frame heard in this tick: the first is always one (the jitter buffer's, padded or concealed
    /// when nothing came), the rest only while surplus audio waits (a burst after a stall), so a late tick
    /// catches up instead of letting the caller's audio lag.
    fn next_heard(&mut self, nth: usize) -> Option<[i16; voicera_media::stream::ENGINE_FRAME]> {
        if nth == 0 {
            Some(*self.stream.hear())
        } else {
            self.stream.hear_surplus().copied()
        }
    }

    fn new(
        setup: CallSetup,
        commands: mpsc::Receiver<CallCommand>,
        notices: mpsc::Sender<CallNotice>,
        span: tracing::Span,
    ) -> Result<CallMedia, EndReason> {
        let CallSetup {
            key,
            service,
            stream,
            rtp,
            rtcp,
            lease,
            metrics,
            rtp_timeout,
            hold_timeout,
            max_duration,
            recording,
            parties,
            early,
            amd,
            clock,
        } = setup;
        // RTP is read on the tick, outside the runtime's reactor: arriving packets wake nobody.
        let rtp = RtpSocket::new(rtp).map_err(|err| EndReason::MediaError(format!("RTP socket: {err}")))?;
        // RTCP is read once a second and sent every RTCP_INTERVAL from the tick, the same way.
        let rtcp = RtpSocket::new(rtcp).map_err(|err| EndReason::MediaError(format!("RTCP socket: {err}")))?;
        let answered = !early;
        let set_up_at = Instant::now();
        let mut core = CallCore::new(service, Arc::clone(&metrics), recording, "sip", clock).with_parties(parties);
        let amd_events = amd.and_then(|AmdSetup { gate, message, events }| {
            core.hold_for_amd(gate, message);
            events
        });
        if answered {
            core.start(&key, set_up_at.into_std());
        }
        let ptime = Duration::from_millis(stream.plan().ptime.max(10) as u64);
        let srtp = match &stream.plan().srtp {
            Some(keys) => Some(SrtpSession::new(keys).map_err(|err| EndReason::MediaError(format!("SRTP: {err}")))?),
            None => None,
        };
        let suite = srtp.as_ref().map_or("none", |s| s.keys().suite().name());
        tracing::info!(codec = ?stream.plan().codec, remote = %stream.remote(), srtp = suite, "media started");
        Ok(CallMedia {
            cname: format!("voicera-{key}"),
            key,
            span,
            core,
            stream,
            rtp,
            rtcp,
            _lease: lease,
            metrics,
            rtp_timeout,
            hold_timeout,
            max_duration,
            last_rtcp_at: None,
            answered,
            early_packets: 0,
            commands,
            notices,
            tools: ToolResults::default(),
            ptime,
            next_tick: aligned_start(ptime),
            phase: TickPhase::new(ptime),
            rtcp_every: (RTCP_INTERVAL.as_millis() as u64 / ptime.as_millis().max(1) as u64).max(1),
            started: set_up_at,
            ticks: 0,
            rtp_buffers: Box::new([[0u8; DATAGRAM]; BATCH]),
            datagrams: [Datagram::EMPTY; BATCH],
            packet: [0u8; 1500],
            srtp,
            srtp_drops: SrtpDrops::default(),
            amd_events,
            ssrc_at_answer: None,
        })
    }

    /// Control that arrived since the last tick, handled at the tick's `now`. Returns the end of the call, if a
    /// command ends it.
    fn handle_command(&mut self, command: CallCommand, now: Instant) -> Option<EndReason> {
        match command {
            CallCommand::Stop => return Some(EndReason::Stopped),
            CallCommand::Answered { key: confirmed } => {
                tracing::info!(early_packets = self.early_packets, call = %confirmed, "answered after early media");
                self.key = confirmed;
                self.answered = true;
                self.ssrc_at_answer = self.stream.remote_ssrc();
                self.started = now;
                self.core.start(&self.key, now.into_std());
            }
            CallCommand::UpdatePlan(plan) => {
                let suite = plan.srtp.as_ref().map_or("none", |k| k.suite().name());
                tracing::info!(direction = ?plan.direction, codec = ?plan.codec, srtp = suite, "media renegotiated");
                let rekeyed = match (&mut self.srtp, &plan.srtp) {
                    (Some(session), Some(keys)) => session.rekey(keys),
                    (None, Some(keys)) => SrtpSession::new(keys).map(|session| self.srtp = Some(session)),
                    (_, None) => {
                        self.srtp = None;
                        Ok(())
                    }
                };
                if let Err(err) = rekeyed {
                    return Some(EndReason::MediaError(format!("SRTP: {err}")));
                }
                if let Err(err) = self.stream.update_plan(*plan) {
                    return Some(EndReason::MediaError(err.to_string()));
                }
            }
            CallCommand::DtmfReceived(digit) => {
                voicera_conversation::content_event!(%digit, "DTMF (SIP INFO)");
                self.core.on_dtmf(digit);
            }
            CallCommand::SendDtmf(digits) => self.send_dtmf(&digits),
            #[cfg(test)]
            CallCommand::PanicForTest => panic!("test panic inside a call's tick"),
        }
        None
    }

    fn send_dtmf(&mut self, digits: &str) {
        let (rtp, remote, srtp) = (&self.rtp, self.stream.remote(), &mut self.srtp);
        for digit in digits.chars() {
            self.stream.dtmf_packets(digit, 100, |bytes| {
                // An event packet is 16 bytes; room after it for the SRTP tag and MKI.
                let mut packet = [0u8; 64];
                let Some(start) = packet.get_mut(..bytes.len()) else { return };
                start.copy_from_slice(bytes);
                if let Some(len) = protect_rtp(srtp, &mut packet, bytes.len()) {
                    let _ = rtp.try_send_to(&packet[..len], remote);
                }
            });
        }
    }

    /// The call's media counters since the last flush, SRTP drops included.
    fn take_counters(&mut self) -> MediaCounters {
        let mut counters = self.stream.take_counters();
        let drops = std::mem::take(&mut self.srtp_drops);
        counters.srtp_auth_failures = drops.auth_failures;
        counters.srtp_replays = drops.replays;
        counters.rtp_invalid += drops.malformed;
        counters
    }

    /// [`CallMedia::tick`] inside the call's span (moved out for the tick rather than cloned: a clone and its
    /// drop are two trips into the tracing registry per call per ptime).
    fn tick_in_span(&mut self, now: Instant) -> Option<EndReason> {
        let span = std::mem::replace(&mut self.span, tracing::Span::none());
        let ended = span.in_scope(|| self.tick(now));
        self.span = span;
        ended
    }

    /// One ptime tick at `now` (due at `self.next_tick`): control first, then RTP in, the caller's frame (and
    /// any surplus the jitter buffer holds) to the service, our packet out, housekeeping. Returns the end of the
    /// call, if it ended.
    fn tick(&mut self, now: Instant) -> Option<EndReason> {
        // Control first, so that Stop is never starved by media.
        loop {
            match self.commands.try_recv() {
                Ok(command) => {
                    if let Some(reason) = self.handle_command(command, now) {
                        return Some(reason);
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                // Signalling forgot the call: nobody can stop it any more, so it stops now.
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(EndReason::Stopped),
            }
        }
        while self.core.tools_running() > 0 {
            let Some(ToolOutcome { id, result, transferred }) = self.tools.try_next() else { break };
            self.core.on_tool_result(id, result, transferred);
        }
        self.schedule_next(now);
        self.ticks += 1;
        let ticks = self.ticks;
        // RTP is read here, once per tick, rather than woken up per packet: the packets of the last ptime are
        // all waiting in the socket buffer. It adds at most one ptime before a packet reaches the jitter buffer.
        // The worker's wake-up time for every call it ticks: packets are read once per tick, so their arrival
        // time as the jitter estimate sees it is the tick's, not when in the worker's round this call came.
        let arrival_now = now.into_std();
        let mut last_stamp = None;
        // Follow the packets' arrival phase: soon after the call starts, then once a second.
        let probe = ticks == 3 || ticks.is_multiple_of(50);
        for _ in 0..MAX_PACKETS_PER_TICK / BATCH {
            let received = self.rtp.recv_batch(&mut self.rtp_buffers, &mut self.datagrams, probe).unwrap_or(0);
            for (buffer, Datagram { len: n, from, stamped }) in
                self.rtp_buffers.iter_mut().zip(&self.datagrams).take(received)
            {
                last_stamp = stamped.or(last_stamp);
                // SRTP: unprotected in place; a packet that does not authenticate goes no further (it neither
                // plays nor latches).
                let n = match &mut self.srtp {
                    Some(session) => match session.receive().unprotect_rtp(&mut buffer[..*n]) {
                        Ok(len) => len,
                        Err(err) => {
                            tracing::trace!(%err, len = *n, %from, "SRTP packet dropped");
                            self.srtp_drops.count(err);
                            continue;
                        }
                    },
                    None => *n,
                };
                self.early_packets += u64::from(!self.answered);
                if let Some(StreamEvent::Dtmf(digit)) = self.stream.handle_rtp(&buffer[..n], *from, arrival_now) {
                    voicera_conversation::content_event!(%digit, "DTMF (RFC 4733)");
                    self.core.on_dtmf(digit);
                    let _ = self.notices.try_send(CallNotice::Dtmf { call: self.key.clone(), digit });
                }
            }
            if received < BATCH {
                break;
            }
        }
        if !self.answered {
            // Early media is listened to, not answered: nothing is sent, no service runs yet, and a silent
            // ringing line is no RTP timeout. Answering-machine detection hears it (ringback, announcements, a
            // greeting begun before the answer) and reports voice in it at once: the INVITE may fail any moment.
            for heard in 0..MAX_FRAMES_HEARD_PER_TICK {
                let Some(frame) = self.next_heard(heard) else { break };
                self.core.hear_early(&frame, arrival_now, self.stream.heard_packet());
            }
            while let Some(event) = self.core.take_amd_event() {
                self.report_amd(event);
            }
            return None;
        }
        if let Some(at_answer) = self.ssrc_at_answer {
            if !self.core.held_for_amd() {
                self.ssrc_at_answer = None;
            } else if self.stream.remote_ssrc() != Some(at_answer) {
                tracing::debug!("another media source after the answer: early speech is not the answerer's");
                self.core.amd_source_changed();
                self.ssrc_at_answer = None;
            }
        }
        // The caller's frame (and any surplus), the engine, then our packet: a reply (or echo) leaves in the
        // tick that produced it.
        for heard in 0..MAX_FRAMES_HEARD_PER_TICK {
            let Some(frame) = self.next_heard(heard) else { break };
            let packet = self.stream.heard_packet();
            self.core.hear_frame(&frame, arrival_now, packet, &mut self.stream);
        }
        // The packet leaves room at the end of the buffer for the SRTP tag and MKI (at most 20 bytes).
        let len = self.stream.send_frame(&mut self.packet[..1400]);
        if len > 0 {
            if let Some(len) = protect_rtp(&mut self.srtp, &mut self.packet, len) {
                send_now(&self.rtp, &self.packet[..len], self.stream.remote());
            }
        }
        self.core.on_agent_audio(self.stream.last_outbound_frame());
        while let Some(event) = self.core.take_amd_event() {
            self.report_amd(event);
        }
        while let Some(action) = self.core.poll_action() {
            match action {
                CallAction::SendDtmf(digits) => self.send_dtmf(&digits),
                CallAction::RunTool { id, tool, arguments } => self.tools.run_http(id, tool, arguments),
                CallAction::Transfer { id, target } => self.transfer(id, target),
                CallAction::HangUp(reason) => return Some(EndReason::AgentHangUp(reason)),
                CallAction::Said { .. } => {}
            }
        }
        if let Some(arrived) = last_stamp.filter(|_| probe).and_then(arrival_instant) {
            let arrived = Instant::from_std(arrived);
            if let Some(offset) = self.phase.on_arrival(grid_phase(self.ptime, arrived), self.stream.jitter()) {
                self.next_tick = next_on_grid(self.ptime, offset, Instant::now());
            }
        }
        if ticks.is_multiple_of(50) {
            let mut rtcp_buf = [0u8; 1500];
            for _ in 0..MAX_PACKETS_PER_TICK {
                let Ok(datagram) = self.rtcp.try_recv(&mut rtcp_buf) else { break };
                let len = match &mut self.srtp {
                    Some(session) => match session.receive().unprotect_rtcp(&mut rtcp_buf[..datagram.len]) {
                        Ok(len) => len,
                        Err(err) => {
                            tracing::trace!(%err, len = datagram.len, "SRTCP packet dropped");
                            self.srtp_drops.count(err);
                            continue;
                        }
                    },
                    None => datagram.len,
                };
                if datagram.from.ip() == self.stream.remote_rtcp().ip() {
                    self.last_rtcp_at = Some(now);
                }
                if let Some(rtt) = self.stream.handle_rtcp(&rtcp_buf[..len], ntp_now()) {
                    tracing::debug!(rtt_ms = rtt.as_millis() as u64, "RTCP round trip");
                }
            }
        }
        if ticks.is_multiple_of(self.rtcp_every) {
            let mut rtcp_buf = [0u8; 1500];
            // The report leaves room at the end of the buffer for the SRTCP trailer (at most 4 + 16 + 4 bytes).
            let n = self.stream.rtcp_report(&mut rtcp_buf[..1400], ntp_now(), self.cname.as_bytes());
            let n = match &mut self.srtp {
                Some(session) => session.send().protect_rtcp(&mut rtcp_buf, n).map_err(|err| {
                    tracing::debug!(%err, "SRTCP protect failed; report dropped");
                }),
                None => Ok(n),
            };
            if let Ok(n) = n {
                if let Err(err) = self.rtcp.try_send_to(&rtcp_buf[..n], self.stream.remote_rtcp()) {
                    tracing::trace!(%err, "RTCP send failed");
                }
            }
        }
        if ticks.is_multiple_of(50) {
            let counters = self.take_counters();
            self.metrics.add(&counters);
            if let Some(reason) = self.check_timeouts(now) {
                return Some(reason);
            }
        }
        None
    }

    /// An answering-machine detection event: to the dialer that placed the call, and the verdict to signalling
    /// (once per call; neither send waits).
    fn report_amd(&mut self, event: AmdEvent) {
        if let AmdEvent::Decided { decision, .. } = event {
            let notice = CallNotice::Amd {
                call: self.key.clone(),
                verdict: decision.verdict,
                decided_after_ms: decision.decided_after_ms,
            };
            let _ = self.notices.try_send(notice);
        }
        if let Some(events) = &self.amd_events {
            let _ = events.send(event);
        }
    }

    /// Asks the signalling task to REFER the caller to `target`; its answer comes back as the tool's result.
    fn transfer(&mut self, id: u64, target: String) {
        let (reply, accepted) = tokio::sync::oneshot::channel();
        let notice = CallNotice::Transfer { call: self.key.clone(), target: target.clone(), reply };
        if self.notices.try_send(notice).is_err() {
            self.tools.report_now(id, Err("signalling is busy; try again".into()), true);
            return;
        }
        let results = self.tools.sender().clone();
        tokio::spawn(async move {
            let result = match accepted.await {
                Ok(Ok(())) => Ok(format!("transferring to {target}")),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err("signalling stopped".into()),
            };
            let _ = results.send(ToolOutcome { id, result, transferred: true }).await;
        });
    }

    /// The call's time limits, checked once a second (see [`time_limit_reached`]).
    fn check_timeouts(&self, now: Instant) -> Option<EndReason> {
        // Our direction is the answer to theirs: when we are sendonly or inactive the peer sends nothing on
        // purpose (it put us on hold), and only its RTCP says it is still there.
        let peer_sends = matches!(
            self.stream.direction(),
            voicera_sip::sdp::Direction::SendRecv | voicera_sip::sdp::Direction::RecvOnly
        );
        let limits = TimeLimits {
            rtp_timeout: self.rtp_timeout,
            hold_timeout: self.hold_timeout,
            max_duration: self.max_duration,
        };
        let heard = PeerHeard {
            started: self.started,
            last_rtp: self.stream.last_rtp_at().map(Instant::from_std),
            last_rtcp: self.last_rtcp_at,
            peer_sends,
        };
        time_limit_reached(&limits, &heard, now)
    }

    /// The tick after this one: a ptime later on the grid; a late worker skips ticks rather than bursting
    /// them (the peer's jitter buffer prefers a gap to a burst).
    fn schedule_next(&mut self, now: Instant) {
        let mut next = self.next_tick + self.ptime;
        if next <= now {
            let behind = now.duration_since(self.next_tick).as_nanos() / self.ptime.as_nanos().max(1);
            next = self.next_tick + self.ptime * (behind as u32 + 1);
        }
        self.next_tick = next;
    }

    /// After the last tick: counters, the journal stored, then the one [`CallNotice::Ended`].
    async fn finish(mut self, reason: EndReason) {
        let span = self.span.clone();
        let notices = self.notices.clone();
        let key = self.key.clone();
        let finished = async move {
            let counters = self.take_counters();
            self.metrics.add(&counters);
            tracing::info!(?reason, "media ended");
            if let Some(finished) = self.core.finish(&self.stream, &reason, Instant::now().into_std()) {
                if let Err(err) = tokio::task::spawn_blocking(move || finished.store()).await {
                    tracing::error!(%err, "call record task failed");
                }
            }
            // The sockets and the port lease go before signalling hears of the end.
            drop(self);
            reason
        };
        let reason = tracing::Instrument::instrument(finished, span).await;
        let _ = notices.send(CallNotice::Ended { call: key, reason }).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TimeLimits = TimeLimits {
        rtp_timeout: Duration::from_secs(60),
        hold_timeout: Duration::from_secs(900),
        max_duration: Duration::from_secs(3600),
    };

    #[test]
    fn a_held_call_lives_on_rtcp_until_the_hold_timeout() {
        let t0 = Instant::now();
        let secs = |n| t0 + Duration::from_secs(n);
        // The peer puts us on hold at 10 s: no RTP from then on, on purpose.
        let mut held =
            PeerHeard { started: t0, last_rtp: Some(secs(10)), last_rtcp: Some(secs(10)), peer_sends: false };
        assert_eq!(time_limit_reached(&LIMITS, &held, secs(10 + 61)), None, "the RTP timeout does not apply on hold");
        assert_eq!(time_limit_reached(&LIMITS, &held, secs(910)), None, "exactly the hold timeout is not over it");
        assert_eq!(time_limit_reached(&LIMITS, &held, secs(911)), Some(EndReason::RtpTimeout));
        // Its RTCP keeps the held call alive.
        held.last_rtcp = Some(secs(800));
        assert_eq!(time_limit_reached(&LIMITS, &held, secs(1600)), None);
        assert_eq!(time_limit_reached(&LIMITS, &held, secs(1701)), Some(EndReason::RtpTimeout));
        // No hold timeout configured: a held call waits for the longest-call cap only.
        let no_hold = TimeLimits { hold_timeout: Duration::ZERO, ..LIMITS };
        assert_eq!(time_limit_reached(&no_hold, &held, secs(3600)), None);
        assert_eq!(time_limit_reached(&no_hold, &held, secs(3601)), Some(EndReason::DurationCap));
    }

    #[test]
    fn a_sending_peer_that_goes_silent_times_out_and_silence_counts_from_the_answer() {
        let t0 = Instant::now();
        let secs = |n| t0 + Duration::from_secs(n);
        // Answered at 20 s after early media: RTP heard before the answer does not count against the call.
        let mut talking = PeerHeard { started: secs(20), last_rtp: Some(secs(5)), last_rtcp: None, peer_sends: true };
        assert_eq!(time_limit_reached(&LIMITS, &talking, secs(80)), None);
        assert_eq!(time_limit_reached(&LIMITS, &talking, secs(81)), Some(EndReason::RtpTimeout));
        talking.last_rtp = Some(secs(500));
        // RTCP alone does not keep a call alive whose peer should be sending.
        talking.last_rtcp = Some(secs(559));
        assert_eq!(time_limit_reached(&LIMITS, &talking, secs(560)), None);
        assert_eq!(time_limit_reached(&LIMITS, &talking, secs(561)), Some(EndReason::RtpTimeout));
        let no_rtp_timeout = TimeLimits { rtp_timeout: Duration::ZERO, ..LIMITS };
        assert_eq!(time_limit_reached(&no_rtp_timeout, &talking, secs(3000)), None);
    }

    use voicera_media::codec::CodecKind;
    use voicera_media::jitter::JitterConfig;
    use voicera_media::ports::PortPool;

    async fn echo_call(pool: &PortPool, caller: &UdpSocket, key: &str) -> CallSetup {
        let (lease, rtp, rtcp) = pool.allocate().await.unwrap();
        let plan = MediaPlan {
            codec: CodecKind::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
            remote_rtp: caller.local_addr().unwrap(),
            remote_rtcp: caller.local_addr().unwrap(),
            direction: voicera_sip::sdp::Direction::SendRecv,
            ptime: 20,
            srtp: None,
            feedback: false,
        };
        CallSetup {
            key: key.into(),
            service: CallService::Echo,
            stream: RtpStream::new(plan, JitterConfig::default()).unwrap(),
            rtp,
            rtcp,
            lease,
            metrics: Arc::new(Metrics::default()),
            rtp_timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(900),
            max_duration: Duration::from_secs(3600),
            recording: None,
            parties: CallParties::default(),
            early: false,
            amd: None,
            clock: WallClock::new(std::time::Instant::now(), std::time::SystemTime::UNIX_EPOCH),
        }
    }

    /// Sends one PCMU packet of a loud square wave to `to`.
    async fn speak(caller: &UdpSocket, to: SocketAddr, seq: u16) {
        let mut packet = [0u8; 172];
        let h = voicera_media::rtp::write_rtp_header(&mut packet, seq == 0, 0, seq, u32::from(seq) * 160, 42);
        for (i, b) in packet[h..].iter_mut().enumerate() {
            *b = if (i / 8) % 2 == 0 { 0x10 } else { 0x90 };
        }
        caller.send_to(&packet, to).await.unwrap();
    }

    async fn ended(notices: &mut mpsc::Receiver<CallNotice>) -> (CallKey, EndReason) {
        loop {
            match tokio::time::timeout(Duration::from_secs(2), notices.recv()).await.expect("an Ended notice").unwrap()
            {
                CallNotice::Ended { call, reason } => return (call, reason),
                _ => continue,
            }
        }
    }

    /// Two calls on one worker: each is echoed; a command ends one within a ptime or two; a panic inside
    /// another call's tick ends that call only, with one `Panicked` notice, and frees its port.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_worker_ticks_many_calls_and_contains_their_ends() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 31000, 31099).unwrap();
        let workers = MediaWorkers::start(1);
        let (notices_tx, mut notices) = mpsc::channel(16);
        let callers = [
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        ];
        let mut commands = Vec::new();
        let mut servers = Vec::new();
        for (i, caller) in callers.iter().enumerate() {
            let setup = echo_call(&pool, caller, &format!("call-{i}")).await;
            servers.push(SocketAddr::from(([127, 0, 0, 1], setup.lease.port())));
            commands.push(workers.spawn_call(setup, notices_tx.clone()));
        }
        assert_eq!(pool.available(), 50 - 3);
        // Every call echoes what its caller says.
        for (caller, server) in callers.iter().zip(&servers) {
            let mut echoed = false;
            for seq in 0..30u16 {
                speak(caller, *server, seq).await;
                let mut buf = [0u8; 1500];
                if let Ok(Ok((n, _))) =
                    tokio::time::timeout(Duration::from_millis(20), caller.recv_from(&mut buf)).await
                {
                    // The echo is speech, not the silence sent before the first packet has played out.
                    if n == 172 && buf[12..n].iter().any(|b| *b != 0xff) {
                        echoed = true;
                        break;
                    }
                }
            }
            assert!(echoed, "no echo from {server}");
        }

        commands[0].send(CallCommand::Stop).await.unwrap();
        assert_eq!(ended(&mut notices).await, (CallKey::from("call-0"), EndReason::Stopped));
        commands[1].send(CallCommand::PanicForTest).await.unwrap();
        assert_eq!(ended(&mut notices).await, (CallKey::from("call-1"), EndReason::Panicked));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.available(), 50 - 1, "the ended calls' ports are free again");
        // The third call still runs on the same worker.
        assert!(tokio::time::timeout(Duration::from_millis(100), notices.recv()).await.is_err(), "no other notice");
        let mut buf = [0u8; 1500];
        speak(&callers[2], servers[2], 100).await;
        let got = tokio::time::timeout(Duration::from_millis(200), callers[2].recv_from(&mut buf)).await;
        assert!(matches!(got, Ok(Ok((172, _)))), "the third call still answers");
        // Signalling forgetting a call (its command sender dropped) stops it too.
        drop(commands);
        assert_eq!(ended(&mut notices).await, (CallKey::from("call-2"), EndReason::Stopped));
    }

    /// An SRTP echo call: the caller's protected speech is unprotected, echoed, and protected back under our
    /// key; forged packets from another source (a wrong key) and a replay are dropped and counted, and the
    /// forger neither latches nor hears anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_srtp_call_round_trips_and_drops_forgeries() {
        use voicera_media::srtp::{CryptoAttribute, SrtpContext, SrtpKeys, SrtpSuite};
        let crypto = |fill: u8| CryptoAttribute {
            tag: 1,
            suite: SrtpSuite::AesCm128HmacSha1_80,
            key_salt: vec![fill; 30],
            lifetime: None,
            mki: None,
            session_params: Vec::new(),
        };
        let keys = SrtpKeys { local: crypto(1), remote: crypto(2) };
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 31100, 31199).unwrap();
        let workers = MediaWorkers::start(1);
        let (notices_tx, mut notices) = mpsc::channel(16);
        let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let forger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut setup = echo_call(&pool, &caller, "srtp-call").await;
        let mut plan = setup.stream.plan().clone();
        plan.srtp = Some(keys.clone());
        setup.stream = RtpStream::new(plan, JitterConfig::default()).unwrap();
        let metrics = Arc::clone(&setup.metrics);
        let server = SocketAddr::from(([127, 0, 0, 1], setup.lease.port()));
        let command = workers.spawn_call(setup, notices_tx);

        let mut caller_send = SrtpContext::from_crypto(&keys.remote).unwrap();
        let mut forger_send = SrtpContext::from_crypto(&crypto(3)).unwrap();
        let mut caller_receive = SrtpContext::from_crypto(&keys.local).unwrap();
        let protected = |context: &mut SrtpContext, seq: u16| {
            let mut packet = [0u8; 200];
            let h = voicera_media::rtp::write_rtp_header(&mut packet, seq == 0, 0, seq, u32::from(seq) * 160, 42);
            for (i, b) in packet[h..172].iter_mut().enumerate() {
                *b = if (i / 8) % 2 == 0 { 0x10 } else { 0x90 };
            }
            let len = context.protect_rtp(&mut packet, 172).unwrap();
            (packet, len)
        };
        // The forger speaks first, while the call is young enough to latch to anyone.
        for seq in 0..5u16 {
            let (packet, len) = protected(&mut forger_send, seq);
            forger.send_to(&packet[..len], server).await.unwrap();
        }
        let mut echoed = false;
        let mut first = None;
        for seq in 0..40u16 {
            let (packet, len) = protected(&mut caller_send, seq);
            first.get_or_insert((packet, len));
            caller.send_to(&packet[..len], server).await.unwrap();
            let mut buf = [0u8; 1500];
            if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(20), caller.recv_from(&mut buf)).await {
                assert_eq!(n, 172 + 10, "SRTP: the RTP packet and an 80-bit tag");
                let len = caller_receive.unprotect_rtp(&mut buf[..n]).expect("our packets authenticate");
                if buf[12..len].iter().any(|b| *b != 0xff) {
                    echoed = true;
                    break;
                }
            }
        }
        assert!(echoed, "no echo of the caller's SRTP speech");
        // A replay of the caller's first packet.
        let (packet, len) = first.unwrap();
        caller.send_to(&packet[..len], server).await.unwrap();
        let mut buf = [0u8; 1500];
        assert!(
            tokio::time::timeout(Duration::from_millis(100), forger.recv_from(&mut buf)).await.is_err(),
            "the forger latched nothing and hears nothing"
        );
        command.send(CallCommand::Stop).await.unwrap();
        assert_eq!(ended(&mut notices).await, (CallKey::from("srtp-call"), EndReason::Stopped));
        let text = metrics.render();
        assert!(text.contains("voicera_srtp_auth_failures_total 5"), "{text}");
        assert!(text.contains("voicera_srtp_replays_total 1"), "{text}");
    }
}
