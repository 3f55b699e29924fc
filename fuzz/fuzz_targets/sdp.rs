//! Any SDP body through the parser and the offer/answer negotiation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_media::codec::CodecKind;
use voicera_media::negotiate::{accept_answer, negotiate};
use voicera_sip::sdp::SessionDescription;

const PREFERENCE: [CodecKind; 5] =
    [CodecKind::Opus, CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma, CodecKind::L16(16000)];

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let _ = negotiate(&sdp, &PREFERENCE);
        let _ = accept_answer(&sdp, &PREFERENCE);
        let _ = SessionDescription::parse(&sdp.to_bytes());
    }
});
