//! Arbitrary TCP byte streams, cut at arbitrary points, through the stream framer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_sip::framing::StreamFramer;
use voicera_sip::Message;

fuzz_target!(|data: &[u8]| {
    let mut framer = StreamFramer::new();
    let cut = data.first().copied().unwrap_or(1).max(1) as usize;
    for chunk in data.chunks(cut) {
        framer.push(chunk);
        loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    let _ = Message::parse(&message);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
});
