//! Browser calls over WebRTC: the `/call-test` page (and later the console) sends an SDP offer with its
//! microphone track and an `events` data channel; we answer as an ICE-lite peer with one host candidate,
//! DTLS-SRTP and Opus, and the call runs the same conversation engine as every other transport.
//!
//! [`WebRtcSession`] is sans-IO like the rest of the media path: datagrams and timeouts in, datagrams out,
//! one [`WebRtcSession::tick`] per 20 ms. str0m does the WebRTC protocol work (ICE, DTLS, SRTP, SCTP);
//! its one rule is that every mutation is followed by draining its output, which `WebRtcSession::drain`
//! does after each. The tokio task in `run` owns the UDP socket and the clocks.
//!
//! Being ICE-lite we never send a connectivity check of our own: we answer the browser's checks, so media
//! only ever goes to an address that reached us first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::format::Codec as RtcCodec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig, RtcError};

use voicera_conversation::core::{CallAction, CallCore, EndReason};
use voicera_conversation::journal::FinishedCall;
use voicera_media::codec::{Codec, CodecKind};
use voicera_media::egress::EgressQueue;
use voicera_media::metrics::Metrics;
use voicera_media::stream::ENGINE_FRAME;

use crate::frame_clock::FrameClock;
use crate::tools::{ToolOutcome, ToolResults};
use crate::ws_stream::protocol::{parse_event, Inbound};
use crate::ws_stream::session::{transcript_event, CallerAudio, MAX_EGRESS_SAMPLES};

/// Control messages held until the data channel opens.
const MAX_PENDING_CONTROL: usize = 64;
/// Opus runs on a 48 kHz RTP clock whatever the audio bandwidth: 960 ticks per 20 ms frame.
const RTP_TICKS_PER_FRAME: u64 = 960;
/// The call ends when nothing at all (STUN consent checks, RTCP, RTP, DTLS) has come from the browser for this
/// long. Not media alone: a browser sends no RTP while its microphone is silent (Opus DTX, a muted track),
/// but keeps answering consent freshness every few seconds for as long as the page is alive.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);
/// Packets str0m holds back waiting for a missing one before it lets later packets past the gap. Its default
/// (15 packets, up to 1 s) put a lost packet's whole wait in front of the caller's next words: a cough was
/// heard stretched by 300 ms, and speech after a quiet spell (one DTX packet per 400 ms) up to 1 s late. Audio
/// is better concealed than waited for: two packets absorb a local reorder.
const REORDER_HOLD_PACKETS: usize = 2;
/// The longest str0m waits for a missing audio packet, whatever the count.
const REORDER_TIMEOUT: Duration = Duration::from_millis(40);
/// A gap in the RTP timeline at most this long (16 kHz samples, 60 ms) is a lost packet and is concealed by
/// the decoder for its exact length; a longer one is a quiet spell (DTX) for which the tick has already let
/// the engine hear silence (see `CallerAudio`), so filling it again would only delay what follows.
const MAX_CONCEALED_SAMPLES: usize = 3 * ENGINE_FRAME;
/// 20 ms frames, both ways.
const PTIME: Duration = Duration::from_millis(20);
/// A 20 ms frame at or above this RMS (600 of 16-bit full scale, as the barge-in tests meter it) is voice, for
/// the barge-in timing log.
const VOICED_RMS: f32 = 600.0 / 32768.0;
/// Caller audio this long below [`VOICED_RMS`] ends a sound: the next voiced packet is an onset.
const CALLER_QUIET_BEFORE_ONSET: Duration = Duration::from_millis(300);
/// The browser must complete ICE and DTLS within this time after our answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a WebRTC call could not start or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    /// The browser's SDP offer is unusable.
    #[error("invalid SDP offer: {0}")]
    Offer(String),
    /// str0m failed (ICE, DTLS, SRTP or SDP).
    #[error("WebRTC: {0}")]
    Rtc(#[from] RtcError),
    /// The Opus codec could not be set up or failed.
    #[error("Opus: {0}")]
    Codec(#[from] voicera_media::codec::CodecError),
    /// The media socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// How a WebRTC call ended from the browser's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEnd {
    /// `{"event":"stop"}` on the data channel, or the channel closed.
    HungUp,
    /// ICE lost the browser.
    Disconnected,
    /// No media for [`MEDIA_TIMEOUT`].
    MediaTimeout,
}

/// Accepts a browser's offer: an ICE-lite peer with one host candidate at `local`, Opus only.
pub fn answer_offer(offer_sdp: &str, local: SocketAddr, now: Instant) -> Result<(Rtc, String), WebRtcError> {
    let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| WebRtcError::Offer(e.to_string()))?;
    if !offer_sdp.lines().any(|l| l.starts_with("m=audio")) {
        return Err(WebRtcError::Offer("the offer has no audio m-line".into()));
    }
    let mut rtc = RtcConfig::new()
        .set_ice_lite(true)
        .clear_codecs()
        .enable_opus(true, false)
        .set_reordering_size_audio(REORDER_HOLD_PACKETS)
        .set_reordering_timeout_audio(Some(REORDER_TIMEOUT))
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .build(now);
    let candidate = Candidate::host(local, "udp").map_err(|e| WebRtcError::Offer(format!("host candidate: {e}")))?;
    rtc.add_local_candidate(candidate);
    let answer = rtc.sdp_api().accept_offer(offer)?;
    Ok((rtc, answer.to_sdp_string()))
}

/// One browser call over WebRTC, sans-IO.
pub struct WebRtcSession {
    rtc: Rtc,
    local: SocketAddr,
    opus: Box<dyn Codec>,
    core: CallCore,
    call_id: String,
    /// What the call core asked for, for the task to carry out (transcript words already queued as control).
    actions: Vec<CallAction>,
    caller: CallerAudio,
    egress: EgressQueue,
    /// Where our audio goes: the browser's sendrecv audio m-line, and Opus's payload type on it.
    audio_out: Option<(Mid, Pt)>,
    channel: Option<ChannelId>,
    pending_control: VecDeque<String>,
    /// The RTP timestamp of grid slot 0.
    rtp_base: u64,
    /// Which grid slot each tick's frame takes (its RTP timestamp): a missed tick is a gap, not a delay.
    frames: FrameClock,
    /// When the last datagram came in (the time of the events it produced).
    input_at: Instant,
    stop: StopTimings,
    decoded: Vec<i16>,
    encoded: Vec<u8>,
    agent_frame: [i16; ENGINE_FRAME],
    /// When the browser last sent anything str0m accepted (consent checks included).
    last_heard_at: Option<Instant>,
    timeline: RtpTimeline,
    ended: Option<PeerEnd>,
    dtmf: Vec<char>,
    transmits: Vec<(SocketAddr, Vec<u8>)>,
    next_timeout: Instant,
    /// Packets or frames that could not be used (logged by the task, counted here).
    errors: u64,
}

impl WebRtcSession {
    /// A session over `rtc` (which has accepted the browser's offer, see [`answer_offer`]), whose media socket is `local`.
    pub fn new(
        rtc: Rtc,
        local: SocketAddr,
        core: CallCore,
        call_id: String,
        now: Instant,
    ) -> Result<Self, WebRtcError> {
        let mut session = WebRtcSession {
            rtc,
            local,
            opus: CodecKind::Opus.build()?,
            core,
            call_id,
            actions: Vec::new(),
            caller: CallerAudio::default(),
            egress: EgressQueue::new(MAX_EGRESS_SAMPLES),
            audio_out: None,
            channel: None,
            pending_control: VecDeque::new(),
            rtp_base: rand::random::<u32>() as u64,
            frames: FrameClock::new(PTIME, None),
            input_at: now,
            stop: StopTimings::default(),
            // An Opus packet holds at most 120 ms.
            decoded: vec![0; 6 * ENGINE_FRAME],
            encoded: vec![0; 1500],
            agent_frame: [0; ENGINE_FRAME],
            last_heard_at: None,
            timeline: RtpTimeline::default(),
            ended: None,
            dtmf: Vec::new(),
            transmits: Vec::new(),
            next_timeout: now,
            errors: 0,
        };
        session.drain()?;
        Ok(session)
    }

    /// Puts the frames' RTP timestamps on the tick grid through `origin` (the task's first tick instant);
    /// without it the first tick starts the grid.
    pub fn set_tick_origin(&mut self, origin: Instant) {
        self.frames = FrameClock::new(PTIME, Some(origin));
    }

    /// Grid slots in which no frame went out (ticks the task missed), and the latest a tick fired into its
    /// slot.
    pub fn pacing(&self) -> (u64, Duration) {
        (self.frames.skipped(), self.frames.latest_in_slot())
    }

    /// Starts the call at `now`: the agent's greeting is queued, its journal opens.
    pub fn begin(&mut self, now: Instant) {
        self.core.start(&self.call_id, now);
    }

    /// The call's core.
    pub fn core(&self) -> &CallCore {
        &self.core
    }

    /// The outcome of a tool call the task carried out for the agent.
    pub fn on_tool_result(&mut self, id: u64, result: Result<String, String>, transferred: bool) {
        self.core.on_tool_result(id, result, transferred);
    }

    /// What the call core asked for since the last call (tools, hang-up, words said), in order.
    pub fn take_actions(&mut self) -> std::vec::Drain<'_, CallAction> {
        self.actions.drain(..)
    }

    /// A datagram from `source`.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) -> Result<(), WebRtcError> {
        let Ok(contents) = bytes.try_into() else {
            // Not STUN, DTLS, RTP or RTCP: someone else's traffic.
            self.errors += 1;
            return Ok(());
        };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination: self.local, contents });
        if !self.rtc.accepts(&input) {
            self.errors += 1;
            return Ok(());
        }
        self.input_at = now;
        self.rtc.handle_input(input)?;
        self.last_heard_at = Some(now);
        self.drain()
    }

    /// When str0m wants to be woken next (retransmissions, keep-alives, RTCP).
    pub fn next_timeout(&self) -> Instant {
        self.next_timeout
    }

    /// Wakes str0m at `now` (its [`next_timeout`](Self::next_timeout) has passed).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), WebRtcError> {
        self.rtc.handle_input(Input::Timeout(now))?;
        self.drain()
    }

    /// Datagrams to send, in order.
    pub fn take_transmits(&mut self) -> std::vec::Drain<'_, (SocketAddr, Vec<u8>)> {
        self.transmits.drain(..)
    }

    /// DTMF the browser sent since the last call.
    pub fn take_dtmf(&mut self) -> std::vec::Drain<'_, char> {
        self.dtmf.drain(..)
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// Whether the browser ended the call, and how.
    pub fn peer_end(&self, now: Instant) -> Option<PeerEnd> {
        self.ended.or_else(|| {
            self.last_heard_at
                .filter(|at| now.saturating_duration_since(*at) > MEDIA_TIMEOUT)
                .map(|_| PeerEnd::MediaTimeout)
        })
    }

    /// Packets or frames that could not be used so far.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Runs str0m until it only waits: datagrams are collected, events handled.
    fn drain(&mut self) -> Result<(), WebRtcError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => {
                    self.next_timeout = at;
                    return Ok(());
                }
                Output::Transmit(t) => self.transmits.push((t.destination, t.contents.to_vec())),
                Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::MediaAdded(added)
                if added.kind == MediaKind::Audio && added.direction.is_sending() && self.audio_out.is_none() =>
            {
                let pt = self
                    .rtc
                    .writer(added.mid)
                    .and_then(|w| w.payload_params().find(|p| p.spec().codec == RtcCodec::Opus).map(|p| p.pt()));
                self.audio_out = pt.map(|pt| (added.mid, pt));
            }
            Event::MediaData(data) => {
                let timestamp = data.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer();
                let Some(missing) = self.timeline.missing_before(timestamp) else {
                    // A duplicate or a packet older than audio already heard.
                    self.errors += 1;
                    return;
                };
                if missing > 0 {
                    // A lost packet: the decoder's concealment, of the lost audio's length, keeps what
                    // follows in its place.
                    match self.opus.conceal(missing, &mut self.decoded) {
                        Ok(Some(n)) => self.caller.push(&self.decoded[..n]),
                        Ok(None) | Err(_) => {
                            self.decoded[..missing].fill(0);
                            self.caller.push(&self.decoded[..missing]);
                        }
                    }
                }
                // The packet's length is what it decodes to (its TOC says 10 to 120 ms).
                match self.opus.decode(&data.data, &mut self.decoded) {
                    Ok(n) => {
                        self.stop.caller_packet(self.input_at, voicera_media::dsp::rms(&self.decoded[..n]));
                        self.caller.push(&self.decoded[..n]);
                        self.timeline.played(timestamp, n);
                    }
                    Err(_) => self.errors += 1,
                }
            }
            Event::ChannelOpen(id, _label) => {
                self.channel = Some(id);
            }
            Event::ChannelData(data) => {
                let text = String::from_utf8_lossy(&data.data);
                let mut scratch = Vec::new();
                match parse_event(&text, &mut scratch) {
                    Ok(Inbound::Dtmf(digit)) => {
                        self.core.on_dtmf(digit);
                        self.dtmf.push(digit);
                    }
                    Ok(Inbound::Stop) => self.ended = Some(PeerEnd::HungUp),
                    Ok(_) => {}
                    Err(_) => self.errors += 1,
                }
            }
            Event::ChannelClose(_) => self.ended = self.ended.or(Some(PeerEnd::HungUp)),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.ended = self.ended.or(Some(PeerEnd::Disconnected))
            }
            _ => {}
        }
    }

    /// Sends a JSON control message on the data channel (held until it opens).
    pub fn control(&mut self, text: String) -> Result<(), WebRtcError> {
        if self.pending_control.len() < MAX_PENDING_CONTROL {
            self.pending_control.push_back(text);
        }
        self.flush_control()
    }

    fn flush_control(&mut self) -> Result<(), WebRtcError> {
        let Some(id) = self.channel else { return Ok(()) };
        while let Some(text) = self.pending_control.front() {
            let Some(mut channel) = self.rtc.channel(id) else { return Ok(()) };
            if !channel.write(false, text.as_bytes())? {
                // The channel's buffer is full: try again next tick.
                return self.drain();
            }
            self.pending_control.pop_front();
            self.drain()?;
        }
        Ok(())
    }

    /// One 20 ms step: the engine hears the caller's frame; one frame of agent audio goes out as Opus.
    pub fn tick(&mut self, now: Instant) -> Result<(), WebRtcError> {
        // Heard on the tick, not on arrival: agent audio leaves on the tick anyway (one RTP frame per 20 ms).
        self.caller.clear_heard();
        let queued_before = self.egress.len();
        self.caller.tick(&mut self.core, &mut self.egress, now);
        // A barge-in pauses the queue, or (confirmed at once) flushes it.
        let stopped = self.egress.is_paused() || self.egress.len() < queued_before;
        while let Some(action) = self.core.poll_action() {
            if let Some(event) = transcript_event(&action) {
                if self.pending_control.len() < MAX_PENDING_CONTROL {
                    self.pending_control.push_back(event);
                }
            }
            self.actions.push(action);
        }
        self.flush_control()?;
        self.egress.pop_frame(&mut self.agent_frame);
        self.core.on_agent_audio(&self.agent_frame);
        if let Some(timing) = self.stop.agent_frame(now, stopped, voicera_media::dsp::rms(&self.agent_frame)) {
            let (skipped, latest) = self.pacing();
            tracing::info!(
                caller_voice_to_pause_ms = timing.caller_voice_to_pause.map(|d| d.as_millis() as u64),
                last_voiced_frame_before_pause_ms = timing.last_voiced_before_pause.map(|d| d.as_millis() as u64),
                ticks_skipped = skipped,
                latest_tick_in_slot_ms = latest.as_millis() as u64,
                "WebRTC barge-in: agent audio paused"
            );
        }
        if let (Some((mid, pt)), true) = (self.audio_out, self.rtc.is_connected()) {
            let n = self.opus.encode(&self.agent_frame, &mut self.encoded)?;
            let slot = self.frames.slot(now);
            let rtp_time = self.rtp_base.wrapping_add(slot.wrapping_mul(RTP_TICKS_PER_FRAME));
            let time = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
            if let Some(writer) = self.rtc.writer(mid) {
                writer.write(pt, now, time, self.encoded[..n].to_vec())?;
                self.drain()?;
            }
        }
        Ok(())
    }

    /// The caller audio the engine heard in the last tick, and the agent audio sent.
    pub fn last_frames(&self) -> (&[i16], &[i16; ENGINE_FRAME]) {
        (self.caller.heard(), &self.agent_frame)
    }

    /// Ends the call from our side: tells the page why, then closes the peer connection.
    pub fn hang_up(&mut self, reason: &str) -> Result<(), WebRtcError> {
        let _ = self.control(serde_json::json!({"event": "end", "reason": reason}).to_string());
        self.rtc.disconnect();
        self.drain()
    }
}

/// Where the browser's packets fall on the caller's timeline, by RTP timestamp (48 kHz for Opus whatever the
/// audio bandwidth): what was lost in between, and what is stale. Sans-IO; timestamps are str0m's extended
/// ones, so wrap-around does not arise.
#[derive(Debug, Default)]
pub(crate) struct RtpTimeline {
    /// The timestamp the next packet should carry: where the last one heard ended.
    next: Option<u64>,
}

impl RtpTimeline {
    /// 16 kHz samples missing between the audio heard and a packet stamped `timestamp`: a lost packet's worth
    /// to conceal (at most [`MAX_CONCEALED_SAMPLES`]), 0 for the next packet or after a quiet spell, `None`
    /// for a packet whose audio starts before what was already heard (duplicate, or overtaken).
    pub(crate) fn missing_before(&self, timestamp: u64) -> Option<usize> {
        let Some(next) = self.next else { return Some(0) };
        if timestamp < next {
            return None;
        }
        let missing = ((timestamp - next) / RTP_TICKS_PER_SAMPLE) as usize;
        Some(if missing > MAX_CONCEALED_SAMPLES { 0 } else { missing })
    }

    /// A packet stamped `timestamp` was heard and decoded to `samples` at 16 kHz.
    pub(crate) fn played(&mut self, timestamp: u64, samples: usize) {
        self.next = Some(timestamp + samples as u64 * RTP_TICKS_PER_SAMPLE);
    }
}

/// When the caller's voice arrived, when the agent last sent voice, and when a pause came: the server's share
/// of a barge-in's stop time, logged at each pause. Sans-IO: arrival and tick instants are passed in.
#[derive(Debug, Default)]
struct StopTimings {
    /// The arrival of the first voiced packet after a quiet spell, and of the latest voiced one.
    caller_onset: Option<Instant>,
    caller_last_voiced: Option<Instant>,
    agent_last_voiced: Option<Instant>,
    paused: bool,
}

/// One pause's timings (None: no caller voice or no agent voice seen before it).
#[derive(Debug, PartialEq)]
struct PauseTiming {
    /// From the arrival of the caller's voice to the tick that sent silence.
    caller_voice_to_pause: Option<Duration>,
    /// From the tick that sent the agent's last voiced frame to the one that sent silence.
    last_voiced_before_pause: Option<Duration>,
}

impl StopTimings {
    /// A packet of caller audio of RMS `level` arrived at `at`.
    fn caller_packet(&mut self, at: Instant, level: f32) {
        if level < VOICED_RMS {
            return;
        }
        let quiet =
            self.caller_last_voiced.is_none_or(|last| at.saturating_duration_since(last) >= CALLER_QUIET_BEFORE_ONSET);
        if quiet {
            self.caller_onset = Some(at);
        }
        self.caller_last_voiced = Some(at);
    }

    /// The tick at `now` sent an agent frame of RMS `level` (`paused`: the egress was paused or flushed); the
    /// timing of a pause that began with this frame.
    fn agent_frame(&mut self, now: Instant, paused: bool, level: f32) -> Option<PauseTiming> {
        let began = paused && !self.paused;
        self.paused = paused;
        if !paused && level >= VOICED_RMS {
            self.agent_last_voiced = Some(now);
        }
        began.then(|| PauseTiming {
            caller_voice_to_pause: self.caller_onset.map(|at| now.saturating_duration_since(at)),
            last_voiced_before_pause: self.agent_last_voiced.map(|at| now.saturating_duration_since(at)),
        })
    }
}

/// 48 kHz RTP ticks per 16 kHz engine sample.
const RTP_TICKS_PER_SAMPLE: u64 = 3;

/// Runs a WebRTC call to its end; the call's record comes back to be stored.
pub(crate) async fn run(
    mut session: WebRtcSession,
    socket: tokio::net::UdpSocket,
    metrics: &Metrics,
    shutdown: tokio_util::sync::CancellationToken,
) -> (EndReason, Option<FinishedCall>) {
    let reason = drive(&mut session, &socket, metrics, shutdown).await;
    let (ticks_skipped, latest) = session.pacing();
    tracing::info!(
        ?reason,
        unusable_inputs = session.errors(),
        ticks_skipped,
        latest_tick_in_slot_ms = latest.as_millis() as u64,
        "WebRTC call ended"
    );
    let finished = session.core.finish(&session.egress, &reason, Instant::now());
    (reason, finished)
}

async fn drive(
    session: &mut WebRtcSession,
    socket: &tokio::net::UdpSocket,
    metrics: &Metrics,
    shutdown: tokio_util::sync::CancellationToken,
) -> EndReason {
    let first_tick = crate::grid::aligned_start(PTIME);
    let mut tick = tokio::time::interval_at(first_tick, PTIME);
    // A stalled task sends one frame, not its backlog in a burst; the frames' timestamps stay on wall time
    // (see `FrameClock`), so the stall is a gap the browser conceals, not a delay it keeps.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    session.set_tick_origin(first_tick.into_std());
    let connect_deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut buf = vec![0u8; 2048];
    let mut begun = false;
    let mut tools = ToolResults::default();
    loop {
        for (destination, bytes) in session.take_transmits() {
            if let Err(err) = socket.send_to(&bytes, destination).await {
                tracing::debug!(%err, %destination, "WebRTC datagram not sent");
            }
        }
        let wake = tokio::time::Instant::from_std(session.next_timeout());
        tokio::select! {
            Some(ToolOutcome { id, result, transferred }) = tools.next() => session.on_tool_result(id, result, transferred),
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    if let Err(err) = session.receive(Instant::now(), source, &buf[..n]) {
                        return EndReason::MediaError(err.to_string());
                    }
                }
                Err(err) => return EndReason::MediaError(err.to_string()),
            },
            _ = tokio::time::sleep_until(wake) => {
                if let Err(err) = session.handle_timeout(Instant::now()) {
                    return EndReason::MediaError(err.to_string());
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if !session.is_connected() {
                    if now > connect_deadline {
                        return EndReason::MediaError(format!("no ICE/DTLS connection within {} s", CONNECT_TIMEOUT.as_secs()));
                    }
                    continue;
                }
                if !begun {
                    // The greeting starts once the browser can hear it.
                    begun = true;
                    session.begin(now);
                }
                if let Err(err) = session.tick(now) {
                    return EndReason::MediaError(err.to_string());
                }
                for digit in session.take_dtmf() {
                    voicera_conversation::content_event!(%digit, "DTMF (data channel)");
                    metrics.dtmf_received();
                }
                let mut hang_up = None;
                let actions: Vec<CallAction> = session.take_actions().collect();
                for action in actions {
                    match action {
                        CallAction::RunTool { id, tool, arguments } => tools.run_http(id, tool, arguments),
                        CallAction::Transfer { id, .. } => {
                            tools.report_now(id, Err("a browser call cannot be transferred".into()), true)
                        }
                        CallAction::SendDtmf(digits) => tracing::warn!(digits = digits.len(), "a browser call cannot receive DTMF"),
                        CallAction::HangUp(reason) => hang_up = Some(reason),
                        CallAction::Said { .. } => {}
                    }
                }
                if let Some(reason) = hang_up {
                    let _ = session.hang_up("the agent ended the call");
                    flush(session, socket).await;
                    return EndReason::AgentHangUp(reason);
                }
                if let Some(end) = session.peer_end(now) {
                    return match end {
                        PeerEnd::MediaTimeout => EndReason::RtpTimeout,
                        PeerEnd::HungUp | PeerEnd::Disconnected => EndReason::Stopped,
                    };
                }
            }
            _ = shutdown.cancelled() => {
                let _ = session.hang_up("the server is shutting down");
                flush(session, socket).await;
                return EndReason::Stopped;
            }
        }
    }
}

async fn flush(session: &mut WebRtcSession, socket: &tokio::net::UdpSocket) {
    for (destination, bytes) in session.take_transmits() {
        let _ = socket.send_to(&bytes, destination).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use str0m::media::Direction;

    use super::*;
    use voicera_conversation::agent::Agent;
    use voicera_conversation::core::CallService;
    use voicera_conversation::engine::Conversation;

    fn core(service: CallService) -> CallCore {
        let clock = voicera_conversation::journal::WallClock::new(Instant::now(), std::time::SystemTime::UNIX_EPOCH);
        CallCore::new(service, Arc::new(Metrics::default()), None, "webrtc", clock)
    }

    /// A browser stand-in: a full (controlling) str0m peer with an audio track and a data channel.
    struct Browser {
        rtc: Rtc,
        addr: SocketAddr,
        mid: Mid,
        channel: Option<ChannelId>,
        heard_audio_frames: usize,
        /// The 48 kHz RTP timestamp of each audio frame heard.
        heard_times: Vec<u64>,
        texts: Vec<String>,
        transmits: Vec<(SocketAddr, Vec<u8>)>,
    }

    impl Browser {
        fn drain(&mut self) {
            loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(_) => return,
                    Output::Transmit(t) => self.transmits.push((t.destination, t.contents.to_vec())),
                    Output::Event(Event::MediaData(data)) => {
                        self.heard_audio_frames += 1;
                        self.heard_times.push(data.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer());
                    }
                    Output::Event(Event::ChannelOpen(id, _)) => self.channel = Some(id),
                    Output::Event(Event::ChannelData(d)) => self.texts.push(String::from_utf8(d.data).unwrap()),
                    Output::Event(_) => {}
                }
            }
        }
    }

    fn connect(core: CallCore) -> (Browser, WebRtcSession, Instant) {
        let now = Instant::now();
        let browser_addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let server_addr: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_opus(true, false)
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .build(now);
        rtc.add_local_candidate(Candidate::host(browser_addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        change.add_channel("events".into());
        let (offer, pending) = change.apply().unwrap();
        let (server_rtc, answer) = answer_offer(&offer.to_sdp_string(), server_addr, now).unwrap();
        let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
        rtc.sdp_api().accept_answer(pending, answer).unwrap();
        let mut browser = Browser {
            rtc,
            addr: browser_addr,
            mid,
            channel: None,
            heard_audio_frames: 0,
            heard_times: vec![],
            texts: vec![],
            transmits: vec![],
        };
        browser.drain();
        let session = WebRtcSession::new(server_rtc, server_addr, core, "w1".into(), now).unwrap();
        (browser, session, now)
    }

    /// Moves datagrams both ways and advances both clocks by `step`.
    fn exchange(browser: &mut Browser, session: &mut WebRtcSession, now: Instant) {
        for _ in 0..20 {
            let to_server: Vec<_> = browser.transmits.drain(..).collect();
            let to_browser: Vec<_> = session.take_transmits().collect();
            if to_server.is_empty() && to_browser.is_empty() {
                break;
            }
            for (_, bytes) in to_server {
                session.receive(now, browser.addr, &bytes).unwrap();
            }
            for (_, bytes) in to_browser {
                let input = Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source: session.local,
                        destination: browser.addr,
                        contents: bytes.as_slice().try_into().unwrap(),
                    },
                );
                browser.rtc.handle_input(input).unwrap();
                browser.drain();
            }
        }
        browser.rtc.handle_input(Input::Timeout(now)).unwrap();
        browser.drain();
        session.handle_timeout(now).unwrap();
    }

    fn tone_opus(encoder: &mut Box<dyn Codec>, tick: usize) -> Vec<u8> {
        let pcm: Vec<i16> = (0..ENGINE_FRAME)
            .map(|i| {
                (((tick * ENGINE_FRAME + i) as f32 / 16000.0 * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
            })
            .collect();
        let mut out = vec![0; 1500];
        let n = encoder.encode(&pcm, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn a_browser_peer_connects_and_hears_its_echo() {
        let (mut browser, mut session, start) = connect(core(CallService::Echo));
        let mut encoder = CodecKind::Opus.build().unwrap();
        let pt = browser.rtc.writer(browser.mid).unwrap().payload_params().next().unwrap().pt();
        let mut now = start;
        for tick in 0..150 {
            now += Duration::from_millis(20);
            exchange(&mut browser, &mut session, now);
            if browser.rtc.is_connected() {
                let payload = tone_opus(&mut encoder, tick);
                let time = MediaTime::new(tick as u64 * 960, Frequency::FORTY_EIGHT_KHZ);
                browser.rtc.writer(browser.mid).unwrap().write(pt, now, time, payload).unwrap();
                browser.drain();
            }
            session.tick(now).unwrap();
        }
        assert!(session.is_connected(), "ICE + DTLS completed");
        let energy: f32 = voicera_media::dsp::rms(session.last_frames().0);
        assert!(energy > 0.1, "the server decodes the browser's Opus (rms {energy} of full scale)");
        assert!(browser.heard_audio_frames > 50, "echo came back: {} frames", browser.heard_audio_frames);
        assert_eq!(session.peer_end(now), None);
        // Hang-up from the page over the data channel.
        let id = browser.channel.expect("the events channel opened");
        browser.rtc.channel(id).unwrap().write(false, br#"{"event":"dtmf","dtmf":{"digit":"4"}}"#).unwrap();
        browser.drain();
        browser.rtc.channel(id).unwrap().write(false, br#"{"event":"stop"}"#).unwrap();
        browser.drain();
        exchange(&mut browser, &mut session, now + Duration::from_millis(20));
        assert_eq!(session.take_dtmf().collect::<Vec<_>>(), ['4']);
        assert_eq!(session.peer_end(now), Some(PeerEnd::HungUp));
        // Silence from the browser for 30 s ends a call whose page vanished.
        assert_eq!(session.peer_end(now + MEDIA_TIMEOUT + Duration::from_secs(1)), Some(PeerEnd::HungUp));
    }

    #[test]
    fn the_agent_greets_and_transcripts_arrive_on_the_data_channel() {
        let agent = Arc::new(Agent::bench(false));
        let (mut browser, mut session, start) = connect(core(CallService::Agent(Box::new(Conversation::new(agent)))));
        let mut encoder = CodecKind::Opus.build().unwrap();
        let pt = browser.rtc.writer(browser.mid).unwrap().payload_params().next().unwrap().pt();
        session.begin(start);
        let mut now = start;
        for tick in 0..200 {
            now += Duration::from_millis(20);
            exchange(&mut browser, &mut session, now);
            if browser.rtc.is_connected() {
                let payload = if (40..90).contains(&tick) {
                    tone_opus(&mut encoder, tick)
                } else {
                    let mut out = vec![0; 1500];
                    let n = encoder.encode(&[0; ENGINE_FRAME], &mut out).unwrap();
                    out[..n].to_vec()
                };
                let time = MediaTime::new(tick as u64 * 960, Frequency::FORTY_EIGHT_KHZ);
                browser.rtc.writer(browser.mid).unwrap().write(pt, now, time, payload).unwrap();
                browser.drain();
            }
            session.tick(now).unwrap();
        }
        let transcripts: Vec<serde_json::Value> =
            browser.texts.iter().map(|t| serde_json::from_str(t).unwrap()).collect();
        assert!(transcripts.iter().any(|t| t["event"] == "transcript" && t["role"] == "user"), "{transcripts:?}");
        assert!(transcripts.iter().any(|t| t["event"] == "transcript" && t["role"] == "assistant"), "{transcripts:?}");
        assert!(browser.heard_audio_frames > 100);
    }

    #[test]
    fn a_stalled_tick_leaves_a_gap_in_the_timeline_not_a_delay() {
        let (mut browser, mut session, start) = connect(core(CallService::Echo));
        session.set_tick_origin(start);
        let mut now = start;
        let tick = |session: &mut WebRtcSession, browser: &mut Browser, now: Instant| {
            session.tick(now).unwrap();
            exchange(browser, session, now);
        };
        while !session.is_connected() || browser.heard_times.len() < 10 {
            now += Duration::from_millis(20);
            exchange(&mut browser, &mut session, now);
            tick(&mut session, &mut browser, now);
        }
        // The task stalls: the tick due 20 ms later fires 95 ms late (the interval then skips to its grid).
        now += Duration::from_millis(115);
        tick(&mut session, &mut browser, now);
        now += Duration::from_millis(5);
        tick(&mut session, &mut browser, now);
        for _ in 0..3 {
            now += Duration::from_millis(20);
            tick(&mut session, &mut browser, now);
        }
        // Each frame is stamped with the slot it went out in: the one 115 ms after the last is 5 slots on, and
        // all others follow their predecessor by one: no frame is stamped late (a delay the browser's jitter
        // buffer would keep) and none is sent twice or in a burst.
        let steps: Vec<u64> = browser.heard_times.windows(2).map(|w| (w[1] - w[0]) / 960).collect();
        assert_eq!(steps.iter().filter(|&&s| s == 5).count(), 1, "{steps:?}");
        assert!(steps.iter().all(|&s| s == 1 || s == 5), "{steps:?}");
        assert_eq!(session.pacing().0, 4, "the four missed slots are counted");
    }

    #[test]
    fn a_pause_is_timed_from_the_callers_voice_and_the_agents_last_voiced_frame() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut stop = StopTimings::default();
        // The agent speaks; the caller's line is quiet, then voiced from 100 ms (each packet as it arrives).
        assert_eq!(stop.agent_frame(at(0), false, 0.2), None);
        stop.caller_packet(at(50), 0.0001);
        stop.caller_packet(at(100), 0.1);
        assert_eq!(stop.agent_frame(at(120), false, 0.2), None);
        stop.caller_packet(at(121), 0.1);
        // A word gap in the agent's voice, then the pause.
        assert_eq!(stop.agent_frame(at(140), false, 0.0), None);
        let timing = stop.agent_frame(at(160), true, 0.0).expect("the pause began");
        assert_eq!(
            timing,
            PauseTiming {
                caller_voice_to_pause: Some(Duration::from_millis(60)),
                last_voiced_before_pause: Some(Duration::from_millis(40)),
            }
        );
        // Only the tick that began the pause reports it.
        assert_eq!(stop.agent_frame(at(180), true, 0.0), None);
        // A new sound after 300 ms of quiet is a new onset; voice inside a sound is not.
        stop.caller_packet(at(400), 0.1);
        stop.caller_packet(at(900), 0.1);
        assert_eq!(stop.agent_frame(at(920), false, 0.2), None);
        let timing = stop.agent_frame(at(940), true, 0.0).expect("a second pause");
        assert_eq!(timing.caller_voice_to_pause, Some(Duration::from_millis(40)));
    }

    #[test]
    fn packets_are_placed_by_their_rtp_timestamps() {
        let mut timeline = RtpTimeline::default();
        // The first packet starts the timeline wherever its timestamp is.
        assert_eq!(timeline.missing_before(1_000_000), Some(0));
        timeline.played(1_000_000, ENGINE_FRAME);
        // The next 20 ms packet follows with nothing missing.
        assert_eq!(timeline.missing_before(1_000_960), Some(0));
        // A 40 ms packet (two Opus frames) is as long as it decodes to: the one after it follows on.
        timeline.played(1_000_960, 2 * ENGINE_FRAME);
        assert_eq!(timeline.missing_before(1_002_880), Some(0));
        timeline.played(1_002_880, ENGINE_FRAME);
        // One lost 20 ms packet: exactly its length is concealed, not a whole tick more or less.
        assert_eq!(timeline.missing_before(1_004_800), Some(ENGINE_FRAME));
        // Two lost 20 ms packets.
        assert_eq!(timeline.missing_before(1_005_760), Some(2 * ENGINE_FRAME));
        timeline.played(1_005_760, ENGINE_FRAME);
        // A duplicate, or a packet that arrives after the audio that followed it, is not heard twice.
        assert_eq!(timeline.missing_before(1_005_760), None);
        assert_eq!(timeline.missing_before(1_004_800), None);
        // A quiet spell (DTX: nothing for 400 ms) is not filled again: the tick let the engine hear silence
        // while it lasted, so the words after it are heard at once.
        assert_eq!(timeline.missing_before(1_006_720 + 400 * 48), Some(0));
    }

    #[test]
    fn a_silent_browser_is_not_timed_out_while_its_session_is_alive() {
        let (mut browser, mut session, start) = connect(core(CallService::Echo));
        let mut encoder = CodecKind::Opus.build().unwrap();
        let pt = browser.rtc.writer(browser.mid).unwrap().payload_params().next().unwrap().pt();
        let mut now = start;
        let mut spoken = 0;
        // A second of speech once connected...
        while spoken < 50 {
            now += Duration::from_millis(20);
            exchange(&mut browser, &mut session, now);
            if browser.rtc.is_connected() {
                let time = MediaTime::new(spoken as u64 * 960, Frequency::FORTY_EIGHT_KHZ);
                let payload = tone_opus(&mut encoder, spoken);
                browser.rtc.writer(browser.mid).unwrap().write(pt, now, time, payload).unwrap();
                browser.drain();
                spoken += 1;
            }
            session.tick(now).unwrap();
        }
        let start = now;
        // ...then no RTP at all for far longer than the media timeout (a muted microphone, or Opus
        // DTX): the browser's consent checks keep the call.
        let quiet = MEDIA_TIMEOUT + Duration::from_secs(15);
        while now < start + quiet {
            now += Duration::from_millis(500);
            exchange(&mut browser, &mut session, now);
            session.tick(now).unwrap();
        }
        assert!(session.is_connected());
        assert_eq!(session.peer_end(now), None, "a silent but live browser keeps its call");
        // The page vanishes: nothing more arrives, and the call ends once the timeout has passed.
        assert_eq!(session.peer_end(now + Duration::from_secs(5)), None);
        assert_eq!(session.peer_end(now + MEDIA_TIMEOUT + Duration::from_secs(1)), Some(PeerEnd::MediaTimeout));
    }

    #[test]
    fn offers_without_audio_or_junk_are_refused() {
        let local: SocketAddr = "127.0.0.1:40004".parse().unwrap();
        assert!(matches!(answer_offer("not sdp", local, Instant::now()), Err(WebRtcError::Offer(_))));
        let now = Instant::now();
        let mut rtc = Rtc::builder().set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags())).build(now);
        let mut change = rtc.sdp_api();
        change.add_channel("events".into());
        let (offer, _) = change.apply().unwrap();
        let err = answer_offer(&offer.to_sdp_string(), local, now).unwrap_err();
        assert!(err.to_string().contains("no audio"), "{err}");
    }
}
