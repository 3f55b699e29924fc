//! Measures the CPU cost of one call's media per 20 ms tick, without sockets: PCMU packets in, echo, PCMU out.
//! Then the same for 500 PCMU calls ticked in turn, as a loaded node runs them: each call's state has gone
//! cold in the caches by its next tick, which is what the echo bench's per-call figure pays.
//! Run: `cargo run --release -p voicera-media --example stream_cost [many]`

use std::time::{Duration, Instant};

use voicera_media::codec::CodecKind;
use voicera_media::jitter::JitterConfig;
use voicera_media::negotiate::MediaPlan;
use voicera_media::rtp::write_rtp_header;
use voicera_media::stream::RtpStream;

fn main() {
    // `stream_cost many`: only the many-calls round (for profiling it).
    if std::env::args().nth(1).as_deref() == Some("many") {
        return many_calls(500);
    }
    for codec in [CodecKind::Pcmu, CodecKind::G722, CodecKind::Opus] {
        let plan = plan(codec, 4000);
        let mut stream = RtpStream::new(plan.clone(), JitterConfig::default()).unwrap();
        let mut encoder = codec.build().unwrap();
        let rate = codec.pcm_rate() as usize;
        let pcm: Vec<i16> = (0..rate / 50).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16).collect();
        let mut payload = [0u8; 1500];
        let mut packet = [0u8; 1500];
        let mut out = [0u8; 1500];
        let from = plan.remote_rtp;
        let ticks = 20_000u32;
        let start = Instant::now();
        let t0 = Instant::now();
        for i in 0..ticks {
            let n = encoder.encode(&pcm, &mut payload).unwrap();
            let h = write_rtp_header(
                &mut packet,
                i == 0,
                plan.payload_type,
                i as u16,
                i * (codec.rtp_clock_rate() / 50),
                7,
            );
            packet[h..h + n].copy_from_slice(&payload[..n]);
            stream.handle_rtp(&packet[..h + n], from, t0 + Duration::from_millis(20 * i as u64));
            let frame = *stream.hear();
            stream.queue_audio(&frame);
            stream.send_frame(&mut out);
        }
        let per_tick = start.elapsed() / ticks;
        println!(
            "{codec:?}: {per_tick:?} per 20 ms tick (includes the test's own encode) = {:.3} % of a core per call",
            per_tick.as_secs_f64() / 0.02 * 100.0
        );
    }
    many_calls(500);
}

/// A 20 ms stream of `codec` whose peer sends from `port` (RTCP on the next port).
fn plan(codec: CodecKind, port: u16) -> MediaPlan {
    MediaPlan {
        codec,
        payload_type: codec.static_payload_type().unwrap_or(96),
        dtmf_payload_type: Some(101),
        remote_rtp: format!("127.0.0.1:{port}").parse().unwrap(),
        remote_rtcp: format!("127.0.0.1:{}", port + 1).parse().unwrap(),
        direction: voicera_sip::sdp::Direction::SendRecv,
        ptime: 20,
        srtp: None,
        feedback: false,
    }
}

/// `calls` PCMU echo streams ticked one after another, 50 rounds a "second"; prints the cost per call tick.
fn many_calls(calls: usize) {
    let mut streams: Vec<RtpStream> = (0..calls)
        .map(|i| RtpStream::new(plan(CodecKind::Pcmu, 4000 + 2 * i as u16), JitterConfig::default()).unwrap())
        .collect();
    let mut encoder = CodecKind::Pcmu.build().unwrap();
    // One second of packets, encoded once: the loop measures the streams, not the test's encoder.
    let packets: Vec<Vec<u8>> = (0..50u32)
        .map(|i| {
            let pcm: Vec<i16> = (0..160).map(|j| (((i * 160 + j) as f32 * 0.3).sin() * 8000.0) as i16).collect();
            let mut payload = [0u8; 1500];
            let n = encoder.encode(&pcm, &mut payload).unwrap();
            let mut packet = vec![0u8; 12 + n];
            let h = write_rtp_header(&mut packet, i == 0, 0, 0, 0, 7);
            packet[h..h + n].copy_from_slice(&payload[..n]);
            packet
        })
        .collect();
    let sources: Vec<_> = (0..calls).map(|i| plan(CodecKind::Pcmu, 4000 + 2 * i as u16).remote_rtp).collect();
    let mut out = [0u8; 1500];
    let mut packet = [0u8; 1500];
    let t0 = Instant::now();
    let rounds = 1000u32;
    let mut start = Instant::now();
    for round in 0..rounds {
        if round == 50 {
            start = Instant::now(); // one "second" of warm-up
        }
        for (i, stream) in streams.iter_mut().enumerate() {
            let template = &packets[round as usize % 50];
            packet[..template.len()].copy_from_slice(template);
            packet[2..4].copy_from_slice(&(round as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&(round * 160).to_be_bytes());
            stream.handle_rtp(&packet[..template.len()], sources[i], t0 + Duration::from_millis(20 * round as u64));
            let frame = *stream.hear();
            stream.queue_audio(&frame);
            stream.send_frame(&mut out);
        }
    }
    let per_tick = start.elapsed() / ((rounds - 50) * calls as u32);
    println!(
        "Pcmu, {calls} calls in turn: {per_tick:?} per call tick = {:.4} % of a core per call (media only, no sockets)",
        per_tick.as_secs_f64() / 0.02 * 100.0
    );
}
