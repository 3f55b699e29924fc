//! Speech and language models for VoiceERA-rs: the streaming traits the conversation engine drives, and the
//! engines behind them.
//!
//! Every model works as a *stream object* that the engine feeds and polls from its per-call loop: pushing is
//! cheap and never blocks, results come out of `poll_*` when ready, and dropping the object cancels the work.
//! Heavy engines (Whisper, Piper, SmolLM) run on an inference pool behind the same objects (local-models
//! work); the stand-ins in [`standin`] answer at once, which is what the built-in `bench` agent uses to
//! measure the server itself.

pub mod standin;

/// Something the speech recogniser heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcript {
    /// Interim text of the utterance in progress; may change.
    Partial(String),
    /// Final text of an utterance.
    Final(String),
}

/// A recognition stream for one call.
pub trait SttStream: Send {
    /// Caller audio, 16 kHz mono.
    fn push_audio(&mut self, pcm: &[i16]);
    /// VAD says the utterance ended: produce its final transcript.
    fn end_of_speech(&mut self);
    /// The next result, if one is ready.
    fn poll_transcript(&mut self) -> Option<Transcript>;
}

/// Speech-to-text engine.
pub trait SpeechToText: Send + Sync {
    /// A stream for one call in `language` (BCP 47, e.g. `en`, `hi`).
    fn stream(&self, language: &str) -> Box<dyn SttStream>;
}

/// One message of the conversation history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// What a language model produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    /// The next piece of text.
    Token(String),
    /// The reply is complete.
    Done,
    /// The reply failed; the engine speaks a fallback or tries the next model.
    Failed(String),
}

/// A reply being generated; dropping it cancels generation.
pub trait LlmStream: Send {
    fn poll_event(&mut self) -> Option<LlmEvent>;
}

/// Language model.
pub trait LanguageModel: Send + Sync {
    fn reply(&self, history: &[ChatMessage]) -> Box<dyn LlmStream>;
}

/// Synthesised audio, chunk by chunk; dropping it cancels synthesis.
pub trait TtsStream: Send {
    /// Sample rate of the chunks.
    fn sample_rate(&self) -> u32;
    /// Appends the next chunk to `out`; returns false once the text is fully spoken.
    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool;
}

/// Text-to-speech engine.
pub trait TextToSpeech: Send + Sync {
    fn speak(&self, text: &str) -> Box<dyn TtsStream>;
}
