//! WebSocket messages from live speech-recognition providers (Deepgram, ElevenLabs Scribe realtime; one
//! message per line) through their readers and the utterance assembly, the same lines through Cartesia's
//! text-to-speech reader (its audio into a PCM decoder), and binary audio through the PCM decoder: whatever
//! the provider (or whoever answers its address) sends, the call goes on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_models::ModelError;
use voicera_models_cloud::cartesia::{self, Said};
use voicera_models_cloud::deepgram::DeepgramProtocol;
use voicera_models_cloud::elevenlabs::ScribeProtocol;
use voicera_models_cloud::live::{LiveProtocol, LiveTranscript};
use voicera_models_cloud::streams::Pcm16Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let protocol: &dyn LiveProtocol = if selector & 1 == 0 { &DeepgramProtocol } else { &ScribeProtocol };
    let mut transcript = LiveTranscript::default();
    let mut pcm = Pcm16Decoder::default();
    let mut spoken = Pcm16Decoder::default();
    for (i, message) in rest.split(|b| *b == b'\n').enumerate() {
        let _ = pcm.push(message);
        let Ok(text) = std::str::from_utf8(message) else { continue };
        // The seeds' context id; other ids exercise the refusal.
        if let Ok(Said::Audio { pcm: audio, .. }) = cartesia::read_message(text, "fuzz") {
            let _ = spoken.push(&audio);
        }
        if selector >> 1 == i as u8 {
            transcript.finalize();
        }
        if transcript.on_message(protocol, text).is_err() {
            let _ = transcript.broken(ModelError::new(voicera_models::FailureKind::Engine, "fuzz"));
        }
    }
    if transcript.finalizing() {
        let _ = transcript.give_up(ModelError::new(voicera_models::FailureKind::Engine, "fuzz"));
    }
});
