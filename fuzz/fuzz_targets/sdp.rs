//! Any SDP body through the parser and the offer/answer negotiation, and the answer we would send to it
//! (every `m=` line mirrored) back through the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_media::codec::CodecKind;
use voicera_media::negotiate::{accept_answer, answer_offer_sdp, negotiate, negotiate_with, SrtpPolicy};
use voicera_sip::sdp::SessionDescription;

const PREFERENCE: [CodecKind; 5] =
    [CodecKind::Opus, CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma, CodecKind::L16(16000)];

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let _ = negotiate(&sdp, &PREFERENCE);
        let _ = accept_answer(&sdp, &PREFERENCE);
        let _ = SessionDescription::parse(&sdp.to_bytes());
        if let Ok(plan) = negotiate_with(&sdp, &PREFERENCE, SrtpPolicy::Offer, None) {
            let answer = answer_offer_sdp(&sdp, &plan, std::net::Ipv4Addr::LOCALHOST.into(), 10000, 1, 1);
            assert!(SessionDescription::parse(&answer.to_bytes()).is_ok(), "our answer does not parse");
        }
    }
});
