//! Measures the CPU cost of one call's media per 20 ms tick, without sockets: PCMU packets in, echo, PCMU out.
//! Run: `cargo run --release -p voicera-media --example stream_cost`

use std::time::{Duration, Instant};

use voicera_media::codec::CodecKind;
use voicera_media::jitter::JitterConfig;
use voicera_media::negotiate::MediaPlan;
use voicera_media::rtp::write_rtp_header;
use voicera_media::stream::RtpStream;

fn main() {
    for codec in [CodecKind::Pcmu, CodecKind::G722, CodecKind::Opus] {
        let plan = MediaPlan {
            codec,
            payload_type: codec.static_payload_type().unwrap_or(96),
            dtmf_payload_type: Some(101),
            remote_rtp: "127.0.0.1:4000".parse().unwrap(),
            remote_rtcp: "127.0.0.1:4001".parse().unwrap(),
            direction: voicera_sip::sdp::Direction::SendRecv,
            ptime: 20,
        };
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
}
