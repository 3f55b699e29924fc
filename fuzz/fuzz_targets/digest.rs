//! Digest header values (`WWW-Authenticate`, `Authorization`) through the challenge and credentials parsers,
//! the client that answers challenges (its answer parsed back), and the server verifier with its nonce cache
//! and back-off over simulated minutes: nothing may panic.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voicera_sip::auth::{verify, Challenge, Credentials, DigestClient, DigestVerifier, VerifierConfig};
use voicera_sip::{Message, Request};

fn request_with(authorization: &str) -> Option<Request> {
    let text = format!(
        "INVITE sip:demo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKfuzz\r\n\
         From: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:demo@127.0.0.1>\r\nCall-ID: fuzz\r\nCSeq: 1 INVITE\r\n\
         Authorization: {authorization}\r\nContent-Length: 0\r\n\r\n"
    );
    match Message::parse(text.as_bytes()) {
        Ok(Message::Request(request)) => Some(request),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Header values are single lines.
    let value = text.split(['\r', '\n']).next().unwrap_or_default();
    if let Ok(challenge) = Challenge::parse(value) {
        let mut client = DigestClient::new("1001", "secret", None);
        client.set_challenge(challenge);
        if let Some(answer) = client.authorization("INVITE", "sip:demo@127.0.0.1") {
            let _ = Credentials::parse(&answer);
        }
    }
    if let Ok(credentials) = Credentials::parse(value) {
        let _ = credentials.proves("INVITE", "secret");
    }
    let _ = verify(value, "INVITE", "secret");
    let mut verifier =
        DigestVerifier::new(VerifierConfig::new("voicera"), [("1001".to_string(), "secret".to_string())]);
    let source = "127.0.0.1".parse().unwrap();
    let now = Instant::now();
    let _ = verifier.challenge(source, now);
    if let Some(request) = request_with(value) {
        for step in 0..8u64 {
            let at = now + Duration::from_secs(step * 60);
            if let Err(rejection) = verifier.verify(&request, source, at) {
                let _ = verifier.rejection_response(&request, &rejection, source, at);
            }
        }
    }
});
