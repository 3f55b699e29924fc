//! A browser's WebRTC offer (the SDP in `POST /browser/webrtc/{agent}`) through the answer: any text may be
//! refused, none may panic. Offers reach this only with a session token, but the token is cheap to get for
//! anyone with a console login, so the parser faces strangers' bytes.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use voicera_telephony::webrtc::answer_offer;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else { return };
    let local = "127.0.0.1:40000".parse().unwrap();
    let _ = answer_offer(sdp, local, Instant::now());
});
