//! Provider media-stream text frames (Vobiz, Plivo, Twilio, Exotel; one frame per line) through the tolerant
//! parser, and, once a `start` arrives, through a live stream session (echo service) with its ticks, binary
//! frames and outgoing messages: nothing a provider (or anyone who opens a stream socket) sends may panic.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use voicera_conversation::core::{CallCore, CallService};
use voicera_conversation::journal::WallClock;
use voicera_media::metrics::Metrics;
use voicera_telephony::ws_stream::protocol::{parse_event, AudioFormat, Inbound};
use voicera_telephony::ws_stream::session::StreamSession;
use voicera_telephony::ws_stream::{Peer, Provider};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let peer = match selector % 5 {
        4 => Peer::Browser,
        n => Peer::Provider(Provider::ALL[n as usize]),
    };
    let requested = if selector & 0x80 == 0 { AudioFormat::MULAW_8K } else { AudioFormat::L16_16K };
    let mut scratch = Vec::new();
    let mut session: Option<StreamSession> = None;
    // A virtual clock: each frame is one 20 ms tick after the one before.
    let mut now = Instant::now();
    let clock = WallClock::new(now, SystemTime::UNIX_EPOCH);
    for frame in rest.split(|b| *b == b'\n') {
        let Ok(text) = std::str::from_utf8(frame) else {
            // Not UTF-8: what a binary WebSocket frame would carry.
            if let Some(session) = session.as_mut() {
                session.on_binary(frame);
            }
            continue;
        };
        match session.as_mut() {
            None => {
                scratch.clear();
                if let Ok(Inbound::Start(start)) = parse_event(text, &mut scratch) {
                    let core = CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "fuzz", clock);
                    let mut started = StreamSession::new(peer, *start, requested, core);
                    started.begin();
                    session = Some(started);
                }
            }
            Some(session) => {
                let _ = session.on_text(text);
                now += Duration::from_millis(20);
                session.tick(now);
                for _ in session.take_outgoing() {}
                for _ in session.take_actions() {}
                let _ = session.send_dtmf(text);
                let _ = session.stop_message(text);
            }
        }
    }
});
