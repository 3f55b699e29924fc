//! RTP and RTCP packets (RFC 3550) and RFC 4733 telephone events, parsed from and written into caller buffers
//! without allocation. Parsers return `None` for anything malformed; they never panic.

/// A parsed RTP header; `payload` borrows from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The marker bit (start of a talkspurt for audio).
    pub marker: bool,
    /// Which codec the payload is in, as negotiated.
    pub payload_type: u8,
    /// The 16-bit sequence number; see [`SequenceExtender`] to extend it.
    pub sequence: u16,
    /// Sampling instant of the first sample, in the codec's clock units.
    pub timestamp: u32,
    /// Synchronisation source: the sender's stream id.
    pub ssrc: u32,
    /// The payload after the header, its extension and any CSRCs.
    pub payload: &'a [u8],
}

/// RTP fixed header length.
pub const RTP_HEADER_LEN: usize = 12;

impl<'a> RtpPacket<'a> {
    /// Parses an RTP packet: version 2, CSRCs, header extension and padding handled.
    pub fn parse(bytes: &'a [u8]) -> Option<RtpPacket<'a>> {
        if bytes.len() < RTP_HEADER_LEN || bytes[0] >> 6 != 2 {
            return None;
        }
        let padding = bytes[0] & 0x20 != 0;
        let extension = bytes[0] & 0x10 != 0;
        let csrc_count = (bytes[0] & 0x0f) as usize;
        let payload_type = bytes[1] & 0x7f;
        // RTCP packet types 200–204 land on 72–76 with the marker bit: those are RTCP muxed on the RTP port.
        if (72..=76).contains(&payload_type) && bytes[1] & 0x80 != 0 {
            return None;
        }
        let mut offset = RTP_HEADER_LEN + 4 * csrc_count;
        if extension {
            let ext = bytes.get(offset..offset + 4)?;
            let words = u16::from_be_bytes([ext[2], ext[3]]) as usize;
            offset += 4 + 4 * words;
        }
        let mut end = bytes.len();
        if padding {
            let pad = *bytes.last()? as usize;
            if pad == 0 || pad > end.saturating_sub(offset) {
                return None;
            }
            end -= pad;
        }
        let payload = bytes.get(offset..end)?;
        Some(RtpPacket {
            marker: bytes[1] & 0x80 != 0,
            payload_type,
            sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
            timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            payload,
        })
    }
}

/// Writes a 12-byte RTP header into `out`; returns the header length.
pub fn write_rtp_header(
    out: &mut [u8],
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) -> usize {
    out[0] = 0x80;
    out[1] = (payload_type & 0x7f) | if marker { 0x80 } else { 0 };
    out[2..4].copy_from_slice(&sequence.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
    RTP_HEADER_LEN
}

/// Extends 16-bit sequence numbers to 64 bits across wrap-around (RFC 3550 appendix A.1, simplified: the
/// nearest extension to the last value wins).
#[derive(Debug, Clone, Copy, Default)]
pub struct SequenceExtender {
    last: Option<u64>,
}

impl SequenceExtender {
    /// The 64-bit extended sequence number of `seq`, choosing the wrap-around cycle nearest the last one.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let Some(last) = self.last else {
            // Start in the middle of the space so early reordering cannot go below zero.
            let ext = (1u64 << 32) + seq as u64;
            self.last = Some(ext);
            return ext;
        };
        let cycle = last & !0xffff;
        let candidates = [cycle.wrapping_sub(0x10000) + seq as u64, cycle + seq as u64, cycle + 0x10000 + seq as u64];
        let ext = candidates.into_iter().min_by_key(|c| c.abs_diff(last)).unwrap_or(cycle + seq as u64);
        if ext > last {
            self.last = Some(ext);
        }
        ext
    }

    /// Forgets history (new SSRC).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// An RFC 4733 telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0–9 digits, 10 `*`, 11 `#`, 12–15 A–D, 16 flash.
    pub event: u8,
    /// The final packet of the event (sent three times).
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// Duration in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads a 4-byte event payload; `None` if shorter.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let p = payload.get(..4)?;
        Some(TelephoneEvent {
            event: p[0],
            end: p[1] & 0x80 != 0,
            volume: p[1] & 0x3f,
            duration: u16::from_be_bytes([p[2], p[3]]),
        })
    }

    /// Writes the 4-byte payload into `out` (at least 4 bytes); returns the length written.
    pub fn write(&self, out: &mut [u8]) -> usize {
        out[0] = self.event;
        out[1] = (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3f);
        out[2..4].copy_from_slice(&self.duration.to_be_bytes());
        4
    }

    /// The DTMF character for the event, if it is one.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// The DTMF character of an RFC 4733 event code (0–15), if it is one.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// The RFC 4733 event code of a DTMF character (`0`–`9`, `*`, `#`, `A`–`D`, case-insensitive).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// Receiver statistics for one source, as RTCP report blocks carry them (RFC 3550 §6.4.1, appendix A.3, A.8).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceptionStats {
    /// The source these statistics are about.
    pub ssrc: u32,
    base_seq: Option<u64>,
    /// Highest extended sequence number received.
    pub max_seq: u64,
    /// Packets received (duplicates included, as the RFC counts).
    pub received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in timestamp units, ×16 fixed point as in the RFC's sample code.
    jitter_q4: u32,
    last_transit: Option<i64>,
    /// Middle 32 bits of the NTP time of the last SR received, and when (in ms of our clock).
    pub last_sr: Option<(u32, u64)>,
}

impl ReceptionStats {
    /// Fresh statistics for source `ssrc`.
    pub fn new(ssrc: u32) -> Self {
        Self { ssrc, ..Default::default() }
    }

    /// Accounts one packet with extended sequence `ext_seq`, RTP `timestamp`, and arrival time in the same
    /// timestamp units.
    pub fn on_packet(&mut self, ext_seq: u64, timestamp: u32, arrival_ts_units: i64) {
        if self.base_seq.is_none() {
            self.base_seq = Some(ext_seq);
            self.max_seq = ext_seq;
        }
        self.max_seq = self.max_seq.max(ext_seq);
        self.received += 1;
        let transit = arrival_ts_units - timestamp as i64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs().min(u32::MAX as u64) as u32;
            // J += (|D| - J) / 16, in ×16 fixed point.
            self.jitter_q4 = self.jitter_q4.wrapping_add(d).wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected from the first and highest sequence numbers (RFC 3550 A.3).
    pub fn expected(&self) -> u64 {
        self.base_seq.map_or(0, |base| self.max_seq - base + 1)
    }

    /// Packets lost so far (may be negative with duplicates; clamped at zero).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Builds a report block and advances the "since last report" counters.
    pub fn report_block(&mut self, now_ms: u64) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8).checked_div(expected_interval).unwrap_or(0).min(255) as u8;
        let (lsr, dlsr) = match self.last_sr {
            // DLSR in units of 1/65536 s.
            Some((lsr, at_ms)) => (lsr, ((now_ms.saturating_sub(at_ms)) * 65536 / 1000) as u32),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.lost().min(0x7f_ffff) as u32,
            highest_seq: self.max_seq as u32,
            jitter: self.jitter(),
            lsr,
            dlsr,
        }
    }
}

/// An RTCP report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source the block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, ×256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24 bits).
    pub cumulative_lost: u32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Last SR timestamp: the middle 32 bits of its NTP time.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s (the peer computes round-trip time from both).
    pub dlsr: u32,
}

impl ReportBlock {
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        out[5..8].copy_from_slice(&self.cumulative_lost.to_be_bytes()[1..]);
        out[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.lsr.to_be_bytes());
        out[20..24].copy_from_slice(&self.dlsr.to_be_bytes());
    }

    fn parse(b: &[u8]) -> Option<ReportBlock> {
        let b = b.get(..24)?;
        let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(ReportBlock {
            ssrc: be32(0),
            fraction_lost: b[4],
            cumulative_lost: u32::from_be_bytes([0, b[5], b[6], b[7]]),
            highest_seq: be32(8),
            jitter: be32(12),
            lsr: be32(16),
            dlsr: be32(20),
        })
    }
}

/// Sender info of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time of the report, NTP 64-bit format.
    pub ntp: u64,
    /// The same instant on the RTP clock (lip sync, RTT).
    pub rtp_timestamp: u32,
    /// Packets sent since the start.
    pub packets: u32,
    /// Payload octets sent since the start.
    pub octets: u32,
}

/// What an RTCP compound packet told us (first SR/RR only; other packet types are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpSummary {
    /// The SSRC of the report's sender.
    pub sender_ssrc: u32,
    /// Sender info, when the report was an SR.
    pub sender_info: Option<SenderInfo>,
    /// The report block about our stream, if present.
    pub report: Option<ReportBlock>,
    /// The compound packet contained a BYE: the peer ends the stream.
    pub bye: bool,
}

/// Parses an RTCP compound packet, looking for the report about `our_ssrc`.
pub fn parse_rtcp(bytes: &[u8], our_ssrc: u32) -> Option<RtcpSummary> {
    let mut summary = RtcpSummary::default();
    let mut offset = 0;
    let mut seen = false;
    while offset + 4 <= bytes.len() {
        let header = &bytes[offset..offset + 4];
        if header[0] >> 6 != 2 {
            return None;
        }
        let count = (header[0] & 0x1f) as usize;
        let packet_type = header[1];
        let len = (u16::from_be_bytes([header[2], header[3]]) as usize + 1) * 4;
        let packet = bytes.get(offset..offset + len)?;
        let be32 = |i: usize| packet.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        match packet_type {
            200 | 201 => {
                summary.sender_ssrc = be32(4)?;
                let mut blocks = 8;
                if packet_type == 200 {
                    summary.sender_info = Some(SenderInfo {
                        ntp: ((be32(8)? as u64) << 32) | be32(12)? as u64,
                        rtp_timestamp: be32(16)?,
                        packets: be32(20)?,
                        octets: be32(24)?,
                    });
                    blocks = 28;
                }
                for i in 0..count {
                    let block = ReportBlock::parse(packet.get(blocks + 24 * i..)?)?;
                    if block.ssrc == our_ssrc {
                        summary.report = Some(block);
                    }
                }
            }
            203 => summary.bye = true,
            _ => {}
        }
        seen = true;
        offset += len;
    }
    seen.then_some(summary)
}

/// Writes an SR (when `sender` is given) or RR with at most one report block, followed by an SDES CNAME.
/// Returns the bytes written; `out` needs 100 bytes.
pub fn write_rtcp_report(
    out: &mut [u8],
    ssrc: u32,
    sender: Option<SenderInfo>,
    block: Option<ReportBlock>,
    cname: &[u8],
) -> usize {
    let count = block.is_some() as u8;
    let mut len = 8;
    out[0] = 0x80 | count;
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    if let Some(info) = sender {
        out[1] = 200;
        out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
        out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
        out[20..24].copy_from_slice(&info.packets.to_be_bytes());
        out[24..28].copy_from_slice(&info.octets.to_be_bytes());
        len = 28;
    } else {
        out[1] = 201;
    }
    if let Some(block) = block {
        block.write(&mut out[len..len + 24]);
        len += 24;
    }
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    // SDES with one CNAME item, padded to a 32-bit boundary.
    let cname = &cname[..cname.len().min(40)];
    let start = len;
    out[start] = 0x81;
    out[start + 1] = 202;
    out[start + 4..start + 8].copy_from_slice(&ssrc.to_be_bytes());
    out[start + 8] = 1;
    out[start + 9] = cname.len() as u8;
    out[start + 10..start + 10 + cname.len()].copy_from_slice(cname);
    let mut end = start + 10 + cname.len();
    // At least one null octet ends the item list, then pad to 4.
    out[end] = 0;
    end += 1;
    while !end.is_multiple_of(4) {
        out[end] = 0;
        end += 1;
    }
    out[start + 2..start + 4].copy_from_slice(&(((end - start) / 4 - 1) as u16).to_be_bytes());
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_round_trip_and_rejections() {
        let mut buf = [0u8; 32];
        let n = write_rtp_header(&mut buf, true, 0, 65535, 160, 0xdead_beef);
        buf[n..n + 4].copy_from_slice(b"abcd");
        let packet = RtpPacket::parse(&buf[..n + 4]).unwrap();
        assert!(packet.marker);
        assert_eq!((packet.sequence, packet.timestamp, packet.ssrc), (65535, 160, 0xdead_beef));
        assert_eq!(packet.payload, b"abcd");
        assert!(RtpPacket::parse(&buf[..11]).is_none());
        let mut v1 = buf;
        v1[0] = 0x40;
        assert!(RtpPacket::parse(&v1[..16]).is_none());
        let mut bad_pad = buf;
        bad_pad[0] |= 0x20;
        bad_pad[n + 3] = 200;
        assert!(RtpPacket::parse(&bad_pad[..n + 4]).is_none());
    }

    #[test]
    fn sequence_extension_survives_wrap_and_reordering() {
        let mut ext = SequenceExtender::default();
        let a = ext.extend(65534);
        let b = ext.extend(65535);
        let c = ext.extend(1);
        let d = ext.extend(0); // late, after the wrap
        assert_eq!((b - a, c - b, c - d), (1, 2, 1));
    }

    #[test]
    fn rtcp_report_round_trip() {
        let mut stats = ReceptionStats::new(7);
        let mut ext = SequenceExtender::default();
        for (i, seq) in [1u16, 2, 4, 5].iter().enumerate() {
            stats.on_packet(ext.extend(*seq), *seq as u32 * 160, (i as i64) * 160);
        }
        let block = stats.report_block(0);
        assert_eq!(block.cumulative_lost, 1);
        assert_eq!(block.fraction_lost, 51); // 1 of 5 = 0.2 × 256
        let mut out = [0u8; 128];
        let info = SenderInfo { ntp: 1 << 32, rtp_timestamp: 800, packets: 5, octets: 800 };
        let n = write_rtcp_report(&mut out, 99, Some(info), Some(block), b"voicera@test");
        assert_eq!(n % 4, 0);
        let summary = parse_rtcp(&out[..n], 7).unwrap();
        assert_eq!(summary.sender_ssrc, 99);
        assert_eq!(summary.sender_info, Some(info));
        assert_eq!(summary.report, Some(block));
    }

    #[test]
    fn telephone_events() {
        let ev = TelephoneEvent { event: 11, end: true, volume: 10, duration: 800 };
        let mut b = [0u8; 4];
        ev.write(&mut b);
        assert_eq!(TelephoneEvent::parse(&b), Some(ev));
        assert_eq!(ev.digit(), Some('#'));
        assert_eq!(digit_to_event('#'), Some(11));
        assert_eq!(digit_to_event('x'), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = RtpPacket::parse(&bytes);
            let _ = parse_rtcp(&bytes, 1);
            let _ = TelephoneEvent::parse(&bytes);
        }
    }
}
