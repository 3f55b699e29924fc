//! Any datagram as RTP into a live stream (all codecs), and as RTCP.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voicera_media::codec::CodecKind;
use voicera_media::jitter::JitterConfig;
use voicera_media::negotiate::MediaPlan;
use voicera_media::rtp::{parse_rtcp, RtpPacket, TelephoneEvent};
use voicera_media::stream::RtpStream;

fuzz_target!(|data: &[u8]| {
    let _ = RtpPacket::parse(data);
    let _ = parse_rtcp(data, 1);
    let _ = TelephoneEvent::parse(data);
    let codec = match data.first().map(|b| b % 4) {
        Some(0) => CodecKind::Pcmu,
        Some(1) => CodecKind::G722,
        Some(2) => CodecKind::Opus,
        _ => CodecKind::L16(8000),
    };
    let pt = data.get(1).map(|b| b & 0x7f).unwrap_or(0);
    let plan = MediaPlan {
        codec,
        payload_type: pt,
        dtmf_payload_type: Some(101),
        remote_rtp: "127.0.0.1:4000".parse().unwrap(),
        remote_rtcp: "127.0.0.1:4001".parse().unwrap(),
        direction: voicera_sip::sdp::Direction::SendRecv,
        ptime: 20,
        srtp: None,
        feedback: false,
    };
    let Ok(mut stream) = RtpStream::new(plan, JitterConfig::default()) else { return };
    let t0 = Instant::now();
    let mut out = [0u8; 1500];
    // Treat the input as a sequence of datagrams separated by 0xff 0xff.
    for (i, packet) in data.split(|b| *b == 0xff).enumerate() {
        stream.handle_rtp(packet, "127.0.0.1:4000".parse().unwrap(), t0 + Duration::from_millis(i as u64 * 20));
        let _ = stream.hear();
        while stream.hear_surplus().is_some() {}
        let _ = stream.send_frame(&mut out);
        let _ = stream.handle_rtcp(packet, 0);
    }
});
