//! One call's RTP audio stream, sans-IO: packets in ([`RtpStream::handle_rtp`]), one 20 ms tick at a time out
//! ([`RtpStream::hear`] the caller's frame, then [`RtpStream::send_frame`] ours). Between them: symmetric-RTP latching, SSRC changes, the jitter buffer, decoding,
//! concealment, resampling to and from the engine's 16 kHz, the outgoing queue and RTP packetisation, RTCP.
//!
//! Everything is sized at construction; the per-packet and per-tick paths do not allocate, lock or panic.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voicera_sip::sdp::Direction;

use crate::codec::{Codec, CodecError};
use crate::dsp::Resampler;
use crate::egress::EgressQueue;
use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::metrics::MediaCounters;
use crate::negotiate::MediaPlan;
use crate::rtp::{self, ReceptionStats, RtpPacket, SequenceExtender, TelephoneEvent};

/// The engine's internal sample rate.
pub const ENGINE_RATE: u32 = 16000;
/// Samples per 20 ms at the engine rate.
pub const ENGINE_FRAME: usize = (ENGINE_RATE / 50) as usize;
/// Outgoing audio the queue holds: 2 s. Producers faster than real time (TTS) pace themselves on
/// [`RtpStream::queued_outbound`]; a short queue also bounds what a barge-in has to throw away.
const EGRESS_CAPACITY: usize = ENGINE_RATE as usize * 2;
/// Largest decoded packet: a full jitter-buffer slot of G.722 (2 samples per byte at 16 kHz); Opus decodes at
/// 16 kHz, so its 120 ms maximum (1920 samples) fits too.
const MAX_DECODED: usize = crate::jitter::MAX_PAYLOAD * 2;
/// RTCP report interval (RFC 3550's 5 s minimum).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// How long after the first accepted packet media may still move to any new source at once: early media
/// from another box, an SBC settling its port. After that a move needs [`LATCH_RUN`].
pub const LATCH_YOUTH: Duration = Duration::from_secs(2);
/// Packets in a row from one new source — one SSRC, consecutive sequence numbers, none from the current
/// source in between — that move an established call's media there (a NAT rebinding: the old mapping has
/// gone quiet). A stranger spraying packets at a guessed port cannot produce such a run while the caller
/// still talks, so the call's audio stays with the caller.
pub const LATCH_RUN: u32 = 5;

/// Packets from a source we are not latched to that might be a NAT rebinding of the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LatchCandidate {
    from: SocketAddr,
    ssrc: u32,
    last_sequence: u16,
    run: u32,
}

/// Something the stream noticed that the call should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// A DTMF digit ended (RFC 4733), reported once per event.
    Dtmf(char),
}

/// One call's media.
pub struct RtpStream {
    plan: MediaPlan,
    codec: Box<dyn Codec>,
    decode_resampler: Resampler,
    encode_resampler: Resampler,
    jitter: JitterBuffer,
    sequence: SequenceExtender,
    reception: ReceptionStats,
    remote_ssrc: Option<u32>,
    /// Where we send RTP: the SDP address until a packet arrives, then the packet's source (symmetric RTP,
    /// what makes calls through NAT work). Also the only source whose packets we play, once latched.
    remote: SocketAddr,
    latched: bool,
    /// When the first packet was accepted: the start of the [`LATCH_YOUTH`] window.
    first_rtp_at: Option<Instant>,
    /// A new source building up the [`LATCH_RUN`] that re-latches an established call.
    latch_candidate: Option<LatchCandidate>,
    /// Decoded inbound audio at the engine rate, consumed one frame per tick.
    inbound: EgressQueue,
    outbound: EgressQueue,
    /// Last good engine-rate frame and how many concealments followed it (repetition with fade).
    last_frame: [i16; ENGINE_FRAME],
    concealed_in_row: u32,
    /// The last audio queued came from concealment (a loss), not from a packet.
    concealing: bool,
    /// The frame last handed out by `hear`/`hear_surplus` was decoded from packets (not padding or
    /// concealment).
    heard_packet: bool,
    // Sender state.
    ssrc: u32,
    out_sequence: u16,
    out_timestamp: u32,
    sent_first: bool,
    packets_sent: u32,
    octets_sent: u32,
    last_dtmf_timestamp: Option<u32>,
    counters: MediaCounters,
    last_rtp_at: Option<Instant>,
    /// Jitter-buffer totals already reported through [`RtpStream::take_counters`].
    flushed_jitter: (u64, u64),
    jitter_config: JitterConfig,
    /// Reference instant for RTCP jitter arrival times.
    epoch: Option<Instant>,
    /// Scratch buffers, allocated once.
    decoded: Box<[i16]>,
    resampled: Box<[i16]>,
    frame: [i16; ENGINE_FRAME],
    /// The agent audio taken from the queue on the last tick (for the recorder).
    last_outbound: [i16; ENGINE_FRAME],
}

impl RtpStream {
    /// A stream for `plan`: codec state, resamplers to the 16 kHz engine rate, a jitter buffer, and random
    /// SSRC, sequence and timestamp starts (RFC 3550).
    pub fn new(plan: MediaPlan, jitter: JitterConfig) -> Result<Self, CodecError> {
        let codec = plan.codec.build()?;
        let rate = codec.pcm_rate();
        Ok(Self {
            decode_resampler: Resampler::new(rate, ENGINE_RATE),
            encode_resampler: Resampler::new(ENGINE_RATE, rate),
            jitter: JitterBuffer::new(jitter, plan.codec.rtp_clock_rate()),
            sequence: SequenceExtender::default(),
            reception: ReceptionStats::default(),
            remote_ssrc: None,
            remote: plan.remote_rtp,
            latched: false,
            first_rtp_at: None,
            latch_candidate: None,
            inbound: EgressQueue::new(ENGINE_FRAME * 8),
            outbound: EgressQueue::new(EGRESS_CAPACITY),
            last_frame: [0; ENGINE_FRAME],
            concealed_in_row: 0,
            concealing: false,
            heard_packet: false,
            ssrc: rand::random(),
            out_sequence: rand::random(),
            out_timestamp: rand::random(),
            sent_first: false,
            packets_sent: 0,
            octets_sent: 0,
            last_dtmf_timestamp: None,
            counters: MediaCounters::default(),
            last_rtp_at: None,
            flushed_jitter: (0, 0),
            jitter_config: jitter,
            epoch: None,
            decoded: vec![0; MAX_DECODED].into_boxed_slice(),
            // Upsampling by at most 2 (8 kHz codecs to the 16 kHz engine rate).
            resampled: vec![0; MAX_DECODED * 2 + 8].into_boxed_slice(),
            frame: [0; ENGINE_FRAME],
            last_outbound: [0; ENGINE_FRAME],
            codec,
            plan,
        })
    }

    /// The negotiated codec, payload types and addresses.
    pub fn plan(&self) -> &MediaPlan {
        &self.plan
    }

    /// Where RTP goes now: the SDP address until symmetric RTP latches to the real source.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Our SSRC (for RTCP reports).
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// When the last valid RTP packet arrived.
    pub fn last_rtp_at(&self) -> Option<Instant> {
        self.last_rtp_at
    }

    /// The jitter buffer's interarrival-jitter estimate (RFC 3550), as seen by the tick that reads packets.
    pub fn jitter(&self) -> Duration {
        self.jitter.jitter()
    }

    /// Takes the counters accumulated since the last call (for the shared metrics).
    pub fn take_counters(&mut self) -> MediaCounters {
        let stats = self.jitter.stats();
        let mut snapshot = std::mem::take(&mut self.counters);
        snapshot.jitter_late = stats.late.saturating_sub(self.flushed_jitter.0);
        snapshot.jitter_lost = stats.lost.saturating_sub(self.flushed_jitter.1);
        self.flushed_jitter = (stats.late, stats.lost);
        snapshot
    }

    /// Applies a renegotiation (re-INVITE): new direction, address or codec.
    pub fn update_plan(&mut self, plan: MediaPlan) -> Result<(), CodecError> {
        if plan.codec != self.plan.codec {
            self.codec = plan.codec.build()?;
            let rate = self.codec.pcm_rate();
            self.decode_resampler = Resampler::new(rate, ENGINE_RATE);
            self.encode_resampler = Resampler::new(ENGINE_RATE, rate);
            self.jitter = JitterBuffer::new(self.jitter_config, plan.codec.rtp_clock_rate());
            self.flushed_jitter = (0, 0);
            self.sequence.reset();
        }
        if plan.remote_rtp != self.plan.remote_rtp {
            // The new SDP address is trusted as the remote (it came through the dialog); a NATed peer's
            // packets from elsewhere re-latch by a run, as the call is no longer young.
            self.remote = plan.remote_rtp;
            self.latched = false;
            self.latch_candidate = None;
        }
        self.plan = plan;
        Ok(())
    }

    /// A datagram arrived on the RTP socket from `from` at `now`. Packets from a source other than the one
    /// the call is latched to are dropped (counted in `rtp_unlatched`) unless the call is young or they
    /// complete a run (see [`LATCH_YOUTH`], [`LATCH_RUN`]). On an SRTP call, pass the packet after
    /// `SrtpContext::unprotect_rtp` succeeded.
    pub fn handle_rtp(&mut self, bytes: &[u8], from: SocketAddr, now: Instant) -> Option<StreamEvent> {
        let Some(packet) = RtpPacket::parse(bytes) else {
            self.counters.rtp_invalid += 1;
            return None;
        };
        let is_dtmf = Some(packet.payload_type) == self.plan.dtmf_payload_type;
        if packet.payload_type != self.plan.payload_type && !is_dtmf {
            self.counters.rtp_invalid += 1;
            return None;
        }
        if !self.accept_source(from, packet.ssrc, packet.sequence, now) {
            self.counters.rtp_unlatched += 1;
            return None;
        }
        self.counters.rtp_packets_in += 1;
        self.counters.rtp_bytes_in += bytes.len() as u64;
        self.last_rtp_at = Some(now);
        if self.remote_ssrc != Some(packet.ssrc) {
            if self.remote_ssrc.is_some() {
                // New source (transfer, re-INVITE, media server switch): start a fresh playout.
                self.jitter.reset();
                self.sequence.reset();
            }
            self.remote_ssrc = Some(packet.ssrc);
            self.reception = ReceptionStats::new(packet.ssrc);
        }
        let ext = self.sequence.extend(packet.sequence);
        if is_dtmf {
            return self.handle_dtmf(&packet);
        }
        let clock = self.plan.codec.rtp_clock_rate() as i64;
        let arrival = now.duration_since(self.epoch(now)).as_millis() as i64 * clock / 1000;
        self.reception.on_packet(ext, packet.timestamp, arrival);
        self.jitter.push(ext, packet.timestamp, packet.payload_type, packet.payload, now);
        None
    }

    /// Symmetric-RTP latching: whether a packet of our payload types from `from` may be played, moving the
    /// call's media to `from` when that is allowed. Only packets that parsed as RTP of our payload types get
    /// here, so stray junk neither latches nor breaks a run.
    fn accept_source(&mut self, from: SocketAddr, ssrc: u32, sequence: u16, now: Instant) -> bool {
        if self.latched && from == self.remote {
            // The peer is still talking from where it was: whatever run a stranger was building is broken.
            self.latch_candidate = None;
            return true;
        }
        let first = *self.first_rtp_at.get_or_insert(now);
        let young = now.saturating_duration_since(first) < LATCH_YOUTH;
        // Before the first latch the SDP address is where media is expected; after a re-INVITE too.
        if young || (!self.latched && from == self.remote) {
            self.latch_to(from);
            return true;
        }
        let run = match self.latch_candidate {
            Some(c) if c.from == from && c.ssrc == ssrc && c.last_sequence.wrapping_add(1) == sequence => c.run + 1,
            _ => 1,
        };
        if run >= LATCH_RUN {
            tracing::info!(from = %from, previous = %self.remote, "RTP source moved (NAT rebinding): media re-latched");
            self.latch_to(from);
            return true;
        }
        self.latch_candidate = Some(LatchCandidate { from, ssrc, last_sequence: sequence, run });
        false
    }

    fn latch_to(&mut self, from: SocketAddr) {
        self.remote = from;
        self.latched = true;
        self.latch_candidate = None;
    }

    fn epoch(&mut self, now: Instant) -> Instant {
        *self.epoch.get_or_insert(now)
    }

    fn handle_dtmf(&mut self, packet: &RtpPacket<'_>) -> Option<StreamEvent> {
        let event = TelephoneEvent::parse(packet.payload)?;
        // An event is reported once: at its first end packet (the end packet is sent three times).
        if !event.end || self.last_dtmf_timestamp == Some(packet.timestamp) {
            return None;
        }
        self.last_dtmf_timestamp = Some(packet.timestamp);
        self.counters.dtmf_events += 1;
        event.digit().map(StreamEvent::Dtmf)
    }

    /// Queues engine-rate audio for sending.
    pub fn queue_audio(&mut self, pcm: &[i16]) {
        self.outbound.push(pcm);
    }

    /// Drops queued outgoing audio (barge-in); returns the samples dropped.
    pub fn flush_outbound(&mut self) -> usize {
        self.outbound.flush()
    }

    /// Pauses (silence goes out, the queue is kept) or resumes outgoing audio (barge-in).
    pub fn pause_outbound(&mut self, paused: bool) {
        self.outbound.set_paused(paused);
    }

    /// Outgoing audio still queued.
    pub fn queued_outbound(&self) -> usize {
        self.outbound.len()
    }

    /// First half of the 20 ms tick: the caller's audio for this tick (engine rate, silence if none).
    pub fn hear(&mut self) -> &[i16; ENGINE_FRAME] {
        self.play_inbound();
        self.heard_packet = self.inbound.len() >= ENGINE_FRAME && !self.concealing;
        // `pop_frame` pads with silence itself.
        self.inbound.pop_frame(&mut self.frame);
        &self.frame
    }

    /// Whether the frame last heard ([`RtpStream::hear`], [`RtpStream::hear_surplus`]) was decoded from
    /// packets: false for the silence padded in when nothing came and for concealment of a loss. Answering-
    /// machine detection learns nothing of the line from such frames.
    pub fn heard_packet(&self) -> bool {
        self.heard_packet
    }

    /// The SSRC of the source being played, once a packet came (it changes when another source takes over:
    /// the answered leg after early media from an announcement server, for one).
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote_ssrc
    }

    /// More caller audio in the same tick, when more has arrived than the jitter buffer needs to hold (a late
    /// packet came with its successor). The engine hears it at once instead of carrying a tick of delay for
    /// the rest of the call; a human ear could not, but the engine does not play audio, it listens to it.
    pub fn hear_surplus(&mut self) -> Option<&[i16; ENGINE_FRAME]> {
        if !self.jitter.has_surplus() {
            return None;
        }
        self.play_inbound();
        if self.inbound.len() < ENGINE_FRAME {
            return None;
        }
        self.heard_packet = !self.concealing;
        self.inbound.pop_frame(&mut self.frame);
        Some(&self.frame)
    }

    /// Second half of the tick, after the engine (or echo) had the frame from [`RtpStream::hear`]: writes the
    /// RTP packet to send into `packet` and returns its length (0 when we must not send, e.g. on hold). Audio
    /// the engine queued in this tick leaves in this tick.
    pub fn send_frame(&mut self, packet: &mut [u8]) -> usize {
        self.build_outgoing(packet)
    }

    /// Pulls from the jitter buffer until a frame of caller audio is ready (or nothing more can be had).
    fn play_inbound(&mut self) {
        for _ in 0..4 {
            if self.inbound.len() >= ENGINE_FRAME {
                return;
            }
            let samples = match self.jitter.pop() {
                Playout::Packet { payload, .. } => match self.codec.decode(payload, &mut self.decoded) {
                    Ok(n) => {
                        self.concealed_in_row = 0;
                        self.concealing = false;
                        n
                    }
                    Err(_) => {
                        self.counters.rtp_invalid += 1;
                        self.conceal()
                    }
                },
                Playout::Lost => self.conceal(),
                Playout::Underrun => return,
            };
            if samples == 0 {
                continue;
            }
            let n = self.decode_resampler.process(&self.decoded[..samples], &mut self.resampled);
            if n >= ENGINE_FRAME {
                self.last_frame.copy_from_slice(&self.resampled[n - ENGINE_FRAME..n]);
            }
            self.inbound.push(&self.resampled[..n]);
        }
    }

    /// One frame of concealment at the codec rate: the codec's own PLC, else the last frame repeated with a
    /// fade (halved each time, silent after three).
    fn conceal(&mut self) -> usize {
        self.counters.jitter_concealed += 1;
        self.concealing = true;
        let samples = (self.codec.pcm_rate() as usize * self.plan.ptime as usize / 1000).min(MAX_DECODED);
        if let Ok(Some(n)) = self.codec.conceal(samples, &mut self.decoded) {
            return n;
        }
        self.concealed_in_row += 1;
        let gain = match self.concealed_in_row {
            1 => 0.5,
            2 => 0.25,
            _ => 0.0,
        };
        // Repeat at the engine rate straight into the inbound queue, bypassing the resampler.
        let mut faded = [0i16; ENGINE_FRAME];
        for (o, s) in faded.iter_mut().zip(self.last_frame.iter()) {
            *o = (*s as f32 * gain) as i16;
        }
        self.inbound.push(&faded);
        0
    }

    fn build_outgoing(&mut self, packet: &mut [u8]) -> usize {
        let rate = self.codec.pcm_rate();
        let clock = self.plan.codec.rtp_clock_rate();
        let ticks_per_frame = clock * self.plan.ptime / 1000;
        // The frame goes out from `last_outbound` itself (the recorder reads it there): no copy of it.
        self.outbound.pop_frame(&mut self.last_outbound);
        if !self.plan.direction.we_send() || packet.len() < rtp::RTP_HEADER_LEN {
            // On hold we still consume the queue so that time passes for the engine, but send nothing.
            self.out_timestamp = self.out_timestamp.wrapping_add(ticks_per_frame);
            return 0;
        }
        let n = if rate == ENGINE_RATE {
            self.resampled[..ENGINE_FRAME].copy_from_slice(&self.last_outbound);
            ENGINE_FRAME
        } else {
            self.encode_resampler.process(&self.last_outbound, &mut self.resampled)
        };
        let header = rtp::write_rtp_header(
            packet,
            !self.sent_first,
            self.plan.payload_type,
            self.out_sequence,
            self.out_timestamp,
            self.ssrc,
        );
        let Ok(payload) = self.codec.encode(&self.resampled[..n], &mut packet[header..]) else {
            return 0;
        };
        self.sent_first = true;
        self.out_sequence = self.out_sequence.wrapping_add(1);
        self.out_timestamp = self.out_timestamp.wrapping_add(ticks_per_frame);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(payload as u32);
        self.counters.rtp_packets_out += 1;
        self.counters.rtp_bytes_out += (header + payload) as u64;
        header + payload
    }

    /// Builds the RTP packets of an RFC 4733 event for `digit` (`duration_ms` long, end packet sent three
    /// times); calls `send` for each. Audio sequence numbers continue across the event.
    pub fn dtmf_packets(&mut self, digit: char, duration_ms: u32, mut send: impl FnMut(&[u8])) {
        let (Some(pt), Some(event)) = (self.plan.dtmf_payload_type, rtp::digit_to_event(digit)) else { return };
        let clock = 8000;
        let step = clock * self.plan.ptime / 1000;
        let total = clock * duration_ms / 1000;
        let start = self.out_timestamp;
        let mut buf = [0u8; 16];
        let mut duration = step;
        let mut first = true;
        loop {
            let end = duration >= total;
            let repeats = if end { 3 } else { 1 };
            for _ in 0..repeats {
                let h = rtp::write_rtp_header(&mut buf, first, pt, self.out_sequence, start, self.ssrc);
                let ev = TelephoneEvent { event, end, volume: 10, duration: duration.min(u16::MAX as u32) as u16 };
                let n = h + ev.write(&mut buf[h..]);
                send(&buf[..n]);
                self.out_sequence = self.out_sequence.wrapping_add(1);
                first = false;
            }
            if end {
                break;
            }
            duration += step;
        }
        self.out_timestamp = self.out_timestamp.wrapping_add(total);
    }

    /// An RTCP packet arrived; returns the round-trip time if it carried a report about us.
    pub fn handle_rtcp(&mut self, bytes: &[u8], now_ntp: u64) -> Option<Duration> {
        let summary = rtp::parse_rtcp(bytes, self.ssrc)?;
        if let Some(info) = summary.sender_info {
            self.reception.last_sr = Some((((info.ntp >> 16) & 0xffff_ffff) as u32, ntp_to_ms(now_ntp)));
        }
        let report = summary.report?;
        if report.lsr == 0 {
            return None;
        }
        // RTT = now − LSR − DLSR, in 1/65536 s (RFC 3550 §6.4.1).
        let now_mid = ((now_ntp >> 16) & 0xffff_ffff) as u32;
        let rtt = now_mid.wrapping_sub(report.lsr).wrapping_sub(report.dlsr);
        (rtt < 0x8000_0000).then(|| Duration::from_secs_f64(rtt as f64 / 65536.0))
    }

    /// Our periodic RTCP report (SR while we send, else RR) into `out`; returns its length.
    pub fn rtcp_report(&mut self, out: &mut [u8], now_ntp: u64, cname: &[u8]) -> usize {
        let block = self.remote_ssrc.map(|_| self.reception.report_block(ntp_to_ms(now_ntp)));
        let sender = (self.packets_sent > 0).then_some(rtp::SenderInfo {
            ntp: now_ntp,
            rtp_timestamp: self.out_timestamp,
            packets: self.packets_sent,
            octets: self.octets_sent,
        });
        rtp::write_rtcp_report(out, self.ssrc, sender, block, cname)
    }

    /// Where RTCP goes: the peer's RTCP port next to the latched RTP address.
    pub fn remote_rtcp(&self) -> SocketAddr {
        if self.latched {
            SocketAddr::new(self.remote.ip(), self.remote.port().wrapping_add(1))
        } else {
            self.plan.remote_rtcp
        }
    }

    /// The agent audio of the last tick (silence when nothing was queued), at the engine rate.
    pub fn last_outbound_frame(&self) -> &[i16; ENGINE_FRAME] {
        &self.last_outbound
    }

    /// Whether we currently send media.
    pub fn direction(&self) -> Direction {
        self.plan.direction
    }
}

fn ntp_to_ms(ntp: u64) -> u64 {
    ((ntp >> 32) * 1000) + (((ntp & 0xffff_ffff) * 1000) >> 32)
}

/// NTP timestamp (RFC 3550 wall clock) for `now`.
pub fn ntp_now() -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() + UNIX_TO_NTP;
    let frac = ((since.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecKind;

    fn pcmu_stream() -> RtpStream {
        let plan = MediaPlan {
            codec: CodecKind::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            remote_rtp: "127.0.0.1:4000".parse().unwrap(),
            remote_rtcp: "127.0.0.1:4001".parse().unwrap(),
            direction: Direction::SendRecv,
            ptime: 20,
            srtp: None,
            feedback: false,
        };
        RtpStream::new(plan, JitterConfig::default()).unwrap()
    }

    /// A PCMU packet whose audio is the constant `level`.
    fn packet(seq: u16, level: i16) -> Vec<u8> {
        let mut bytes = vec![0u8; rtp::RTP_HEADER_LEN + 160];
        let header = rtp::write_rtp_header(&mut bytes, seq == 0, 0, seq, seq as u32 * 160, 9);
        bytes[header..].fill(crate::codec::g711::linear_to_ulaw(level));
        bytes
    }

    /// A PCMU packet of SSRC `ssrc` whose audio is the constant `level`.
    fn packet_of(ssrc: u32, seq: u16, level: i16) -> Vec<u8> {
        let mut bytes = vec![0u8; rtp::RTP_HEADER_LEN + 160];
        let header = rtp::write_rtp_header(&mut bytes, false, 0, seq, seq as u32 * 160, ssrc);
        bytes[header..].fill(crate::codec::g711::linear_to_ulaw(level));
        bytes
    }

    const CALLER: &str = "203.0.113.5:4000";
    const STRANGER: &str = "198.51.100.7:31000";

    /// A stream that has heard the caller from `CALLER` for 3 s (past the latching youth), one packet per tick.
    fn established_call(t0: Instant) -> RtpStream {
        let mut stream = pcmu_stream();
        let caller: SocketAddr = CALLER.parse().unwrap();
        for seq in 0..150u16 {
            stream.handle_rtp(&packet(seq, 1000), caller, t0 + Duration::from_millis(seq as u64 * 20));
            stream.hear();
        }
        assert_eq!(stream.remote(), caller, "latched to the first source, not the SDP address");
        stream
    }

    #[test]
    fn a_hijack_attempt_mid_call_is_ignored() {
        let t0 = Instant::now();
        let mut stream = established_call(t0);
        let caller: SocketAddr = CALLER.parse().unwrap();
        let stranger: SocketAddr = STRANGER.parse().unwrap();
        // The stranger sends a perfect run (one SSRC, consecutive sequence numbers, our payload type),
        // interleaved with the caller who is still talking.
        for i in 0..40u16 {
            let seq = 150 + i;
            let now = t0 + Duration::from_millis(seq as u64 * 20);
            assert_eq!(stream.handle_rtp(&packet_of(0x666, 7000 + i, -8000), stranger, now), None);
            stream.handle_rtp(&packet(seq, 1000), caller, now + Duration::from_millis(1));
            let heard = stream.hear()[100];
            assert!(heard > 900, "tick {i}: the agent hears the caller, not the stranger ({heard})");
        }
        assert_eq!(stream.remote(), caller, "our audio still goes to the caller");
        let counters = stream.take_counters();
        assert_eq!(counters.rtp_unlatched, 40);
        assert_eq!(counters.rtp_packets_in, 190, "only the caller's packets count as received");
        assert_eq!(stream.last_rtp_at(), Some(t0 + Duration::from_millis(189 * 20 + 1)));
    }

    #[test]
    fn a_scattered_spray_never_latches_even_when_the_caller_is_silent() {
        let t0 = Instant::now();
        let mut stream = established_call(t0);
        let stranger: SocketAddr = STRANGER.parse().unwrap();
        let at = |i: u64| t0 + Duration::from_millis(3000 + i * 20);
        // Guessed sequence numbers (gaps), then one SSRC per packet, then runs cut short by other ports.
        for i in 0..20u16 {
            stream.handle_rtp(&packet_of(0x666, i * 2, -8000), stranger, at(i as u64));
        }
        for i in 0..20u16 {
            stream.handle_rtp(&packet_of(0x1000 + i as u32, 500 + i, -8000), stranger, at(20 + i as u64));
        }
        for i in 0..20u16 {
            let port = 31000 + i / 4;
            let from = SocketAddr::new(stranger.ip(), port);
            stream.handle_rtp(&packet_of(0x777, 900 + i, -8000), from, at(40 + i as u64));
        }
        assert_eq!(stream.remote(), CALLER.parse::<SocketAddr>().unwrap());
        assert_eq!(stream.take_counters().rtp_unlatched, 60);
    }

    #[test]
    fn a_nat_rebinding_relatches_after_a_run() {
        let t0 = Instant::now();
        let mut stream = established_call(t0);
        let rebound: SocketAddr = "203.0.113.5:61000".parse().unwrap();
        // The caller's NAT mapping changes: same SSRC, the sequence continues, from a new port.
        for i in 0..(LATCH_RUN as u16 - 1) {
            let seq = 150 + i;
            stream.handle_rtp(&packet(seq, 2000), rebound, t0 + Duration::from_millis(seq as u64 * 20));
            assert_eq!(stream.remote(), CALLER.parse::<SocketAddr>().unwrap(), "not yet: {i}");
        }
        let seq = 150 + LATCH_RUN as u16 - 1;
        stream.handle_rtp(&packet(seq, 2000), rebound, t0 + Duration::from_millis(seq as u64 * 20));
        assert_eq!(stream.remote(), rebound, "the run re-latched");
        assert_eq!(stream.remote_rtcp(), "203.0.113.5:61001".parse().unwrap());
        assert_eq!(stream.take_counters().rtp_unlatched, LATCH_RUN as u64 - 1);
        // From now on the old address is the stranger.
        stream.handle_rtp(&packet(seq + 1, 1000), CALLER.parse().unwrap(), t0 + Duration::from_secs(4));
        assert_eq!(stream.remote(), rebound);
        assert_eq!(stream.take_counters().rtp_unlatched, 1);
    }

    #[test]
    fn a_young_call_follows_its_source_at_once() {
        let mut stream = pcmu_stream();
        let t0 = Instant::now();
        let sbc_a: SocketAddr = "192.0.2.1:20000".parse().unwrap();
        let sbc_b: SocketAddr = "192.0.2.2:20002".parse().unwrap();
        stream.handle_rtp(&packet(0, 1000), sbc_a, t0);
        assert_eq!(stream.remote(), sbc_a);
        stream.handle_rtp(&packet_of(42, 1, 1000), sbc_b, t0 + LATCH_YOUTH - Duration::from_millis(20));
        assert_eq!(stream.remote(), sbc_b, "within the youth window one packet moves the media");
        stream.handle_rtp(&packet(2, 1000), sbc_a, t0 + LATCH_YOUTH);
        assert_eq!(stream.remote(), sbc_b, "after it, one packet does not");
        assert_eq!(stream.take_counters().rtp_unlatched, 1);
    }

    #[test]
    fn a_reinvite_address_is_accepted_at_once() {
        let t0 = Instant::now();
        let mut stream = established_call(t0);
        let moved: SocketAddr = "192.0.2.9:30000".parse().unwrap();
        let mut plan = stream.plan().clone();
        plan.remote_rtp = moved;
        plan.remote_rtcp = "192.0.2.9:30001".parse().unwrap();
        stream.update_plan(plan).unwrap();
        assert_eq!(stream.remote(), moved);
        stream.handle_rtp(&packet_of(5, 1, 1000), moved, t0 + Duration::from_secs(10));
        assert_eq!(stream.take_counters().rtp_unlatched, 0, "the signalled address needs no run");
        assert_eq!(stream.remote(), moved);
    }

    #[test]
    fn a_late_packet_and_its_successor_are_heard_in_one_tick() {
        let mut stream = pcmu_stream();
        let from: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        stream.handle_rtp(&packet(0, 1000), from, ms(0));
        assert!(stream.hear()[100] > 900);
        assert!(stream.hear_surplus().is_none(), "nothing more arrived");
        // Packet 1 misses its tick and comes with packet 2.
        assert_eq!(stream.hear()[100], 0, "an underrun is silence");
        stream.handle_rtp(&packet(1, 2000), from, ms(40));
        stream.handle_rtp(&packet(2, 3000), from, ms(40));
        let first = stream.hear()[100];
        let surplus = stream.hear_surplus().map(|f| f[100]);
        assert!((1900..2100).contains(&first), "{first}");
        assert!(surplus.is_some_and(|s| (2900..3100).contains(&s)), "{surplus:?}");
        assert!(stream.hear_surplus().is_none());
    }
}
