//! Model clients that talk to a server over the network, behind the same streaming traits as the local
//! engines ([`voicera_models`]). Today: [`openai::OpenAiChat`], a language model on any OpenAI-compatible
//! chat-completions endpoint (OpenAI itself, vLLM, llama.cpp's server, Ollama), streamed over server-sent
//! events with function calling.
//!
//! Each request runs on a thread of its own with blocking I/O and hands events to the stream object through
//! a channel, so the call's engine only ever polls; dropping the stream cancels the request. Protocol parsing
//! is sans-IO ([`sse::SseParser`], [`openai::ChunkDecoder`]) and tested on the provider's documented frames.

#![forbid(unsafe_code)]

pub mod openai;
pub mod sse;
