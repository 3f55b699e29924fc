//! Model clients that talk to a server over the network, behind the same streaming traits as the local
//! engines ([`voicera_models`]):
//!
//! - language models: [`openai::OpenAiChat`] (any OpenAI-compatible chat endpoint: OpenAI, Groq, vLLM,
//!   llama.cpp's server, Ollama), [`anthropic::AnthropicChat`], [`gemini::GeminiChat`];
//! - speech to text: [`deepgram::DeepgramStt`] and [`elevenlabs::ElevenLabsStt`] (live WebSockets), [`sarvam::SarvamStt`],
//!   [`openai_stt::OpenAiStt`], [`google::GoogleStt`], [`bhashini::BhashiniStt`], [`ai4bharat::Ai4BharatStt`] (the
//!   original's IndicConformer server), and streaming [`dhruva::DhruvaStt`] (Bhashini's Dhruva WebSocket ASR) and
//!   [`google_stream::GoogleStreamStt`] (Speech-to-Text v2 `StreamingRecognize` over gRPC, [`grpc`], on a pool of
//!   HTTP/2 connections kept alive by PINGs, [`grpc_pool`]);
//! - text to speech: [`elevenlabs::ElevenLabsTts`] (HTTP) and [`elevenlabs::ElevenLabsWsTts`] (WebSocket),
//!   [`deepgram::DeepgramTts`] (Aura), [`cartesia::CartesiaTts`], [`openai_tts::OpenAiTts`], [`sarvam::SarvamTts`]
//!   (Bulbul), [`google::GoogleTts`], [`bhashini::BhashiniTts`], [`ai4bharat::ParlerTts`] (the original's Indic
//!   Parler server).
//!
//! Every client takes `with_timeout` (`[providers.<name>] timeout_ms`): the budget to connect and to the
//! answer's first byte (HTTP) or to connect and finish the handshake (WebSocket).
//!
//! Each request or stream runs on a thread of its own with blocking I/O and short read timeouts, and hands
//! events to the stream object through a channel, so the call's engine only ever polls; dropping the stream
//! object cancels the work. Protocol parsing is sans-IO ([`sse::SseParser`] and each provider's decoder) and
//! every failure is a [`voicera_models::ModelError`] keeping the provider's own message; keys appear in no
//! `Debug` output or log.

#![forbid(unsafe_code)]

pub mod ai4bharat;
pub mod anthropic;
pub mod bhashini;
pub mod cartesia;
pub mod check;
pub mod deepgram;
pub mod dhruva;
pub mod elevenlabs;
pub mod gemini;
pub mod google;
pub mod google_stream;
pub mod grpc;
pub mod grpc_pool;
pub mod http;
pub mod live;
pub mod openai;
pub mod openai_stt;
pub mod openai_tts;
pub mod sarvam;
pub mod sse;
pub mod streams;
pub mod utterance;
pub mod ws;
mod ws_speech;
