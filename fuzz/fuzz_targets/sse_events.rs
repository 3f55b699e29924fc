//! Server-sent event streams from language-model servers, cut into reads at arbitrary points, through the SSE
//! parser and each provider's event decoder (OpenAI-compatible chunks, Anthropic messages, Gemini responses):
//! a hostile or broken server may fail the reply, never panic the call.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_models_cloud::anthropic::MessageDecoder;
use voicera_models_cloud::gemini::ResponseDecoder;
use voicera_models_cloud::openai::ChunkDecoder;
use voicera_models_cloud::sse::SseParser;
use voicera_models_cloud::streams::EventDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let mut parser = SseParser::default();
    let mut openai = ChunkDecoder::default();
    let mut anthropic = MessageDecoder::default();
    let mut gemini = ResponseDecoder::default();
    for read in rest.chunks(usize::from(cut).max(1)) {
        let Ok(events) = parser.push(read) else { return };
        for data in events {
            let _ = openai.push(&data);
            let _ = EventDecoder::push(&mut anthropic, &data);
            let _ = EventDecoder::push(&mut gemini, &data);
        }
    }
    let _ = openai.finish();
    let _ = (openai.finished(), anthropic.finished(), gemini.finished());
});
