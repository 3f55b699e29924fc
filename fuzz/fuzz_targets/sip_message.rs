//! Any datagram through the SIP parser, the request checks, the URI and typed-header parsers, and the
//! transaction layer: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_sip::header::{CSeq, NameAddr, Via};
use voicera_sip::transaction::TimerConfig;
use voicera_sip::uri::SipUri;
use voicera_sip::{Endpoint, Message, Peer};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::parse(data) {
        if let Message::Request(request) = &message {
            let _ = request.validate();
            let _ = voicera_sip::check::check_request(request);
            let _ = SipUri::parse(&request.uri);
        }
        for (_, value) in message.headers().iter() {
            let _ = Via::parse(value);
            let _ = CSeq::parse(value);
            let _ = NameAddr::parse(value);
        }
        let _ = Message::parse(&message.to_bytes());
    }
    let mut endpoint = Endpoint::new(TimerConfig::default(), "fuzz");
    let now = std::time::Instant::now();
    endpoint.handle_input(data, Peer::udp("127.0.0.1:5060".parse().unwrap()), now);
    while endpoint.poll_transmit().is_some() {}
    while endpoint.poll_event().is_some() {}
});
