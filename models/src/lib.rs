//! Speech and language models for VoiceERA-rs: the streaming traits the conversation engine drives, and the
//! engines behind them.
//!
//! Every model works as a *stream object* that the engine feeds and polls from its per-call loop: pushing is
//! cheap and never blocks, results come out of `poll_*` when ready, and dropping the object cancels the work.
//! Heavy engines (Whisper, Piper, SmolLM) run on an inference pool behind the same objects (local-models
//! work); the stand-ins in [`standin`] answer at once, which is what the built-in `bench` agent uses to
//! measure the server itself.

#![forbid(unsafe_code)]

pub mod fallback;
pub mod speech_chain;
pub mod standin;
pub mod toolcall;
pub mod turn;

/// A model giving the probability that a frame of caller audio holds speech (energy, Silero): what the VAD
/// gate of the conversation engine turns into speech start/stop events.
pub trait SpeechProbability: Send {
    /// `frame` is 16 kHz mono, 10 to 32 ms. Models with a longer window buffer frames and report their
    /// latest estimate.
    fn probability(&mut self, frame: &[i16]) -> f32;
}

impl SpeechProbability for Box<dyn SpeechProbability> {
    fn probability(&mut self, frame: &[i16]) -> f32 {
        (**self).probability(frame)
    }
}

/// Decides, while the caller pauses, whether their turn is over. The VAD alone ends a turn after its full
/// stop time (0.4 s) of quiet; a detector that can tell from the words that the caller has finished lets the
/// agent answer sooner, and one that can tell they have not ("I want to …") keeps it from cutting in.
pub trait TurnDetector: Send + Sync {
    /// `transcript` is what the caller said this turn so far (final transcripts and the latest partial);
    /// `quiet` how long they have been silent. True when the turn can end now, before the VAD's stop time.
    fn turn_over(&self, transcript: &str, quiet: std::time::Duration) -> bool;
}

/// Why a model's work failed, in the terms the engine acts on: a fallback chain moves to its next link on
/// any of them, a circuit breaker counts them per provider, metrics label them by [`FailureKind::label`].
/// The message keeps the engine's or provider's own words (never a key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ModelError {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for the log and the call record.
    pub message: String,
    /// How long the provider asked to be left alone (`Retry-After` on a 429 or 503): a circuit breaker stays
    /// open that long.
    pub retry_after: Option<std::time::Duration>,
}

impl ModelError {
    /// A failure of `kind`, described by `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> ModelError {
        ModelError { kind, message: message.into(), retry_after: None }
    }

    /// The same failure, with the provider's `Retry-After`.
    pub fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> ModelError {
        self.retry_after = retry_after;
        self
    }
}

/// A fallback chain moved a stream to its next model: what the engine logs, counts in
/// `voicera_provider_fallbacks_total` and writes into the call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// The model left.
    pub from: String,
    /// The model working now.
    pub to: String,
    /// Why the first was left.
    pub reason: ModelError,
}

/// The kinds of [`ModelError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureKind {
    /// No capacity now: a local inference queue is full, or a provider answered 429 / 503.
    #[error("overloaded")]
    Overloaded,
    /// The provider could not be reached (DNS, connect, TLS) or the connection broke.
    #[error("unreachable")]
    Unreachable,
    /// The provider refused the request (4xx other than 429: a bad key, a bad parameter).
    #[error("rejected")]
    Rejected,
    /// The provider failed (5xx) or the local engine raised an error while running.
    #[error("engine error")]
    Engine,
    /// No answer in time: a deadline passed or a stream stalled.
    #[error("timed out")]
    TimedOut,
    /// The answer could not be read (garbage, a truncated frame, an unexpected message).
    #[error("malformed answer")]
    Malformed,
    /// The engine cannot do what was asked (a language or voice it lacks).
    #[error("unsupported")]
    Unsupported,
}

impl FailureKind {
    /// Every kind, in the order of [`FailureKind::index`].
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Overloaded,
        FailureKind::Unreachable,
        FailureKind::Rejected,
        FailureKind::Engine,
        FailureKind::TimedOut,
        FailureKind::Malformed,
        FailureKind::Unsupported,
    ];

    /// The kind's position in [`FailureKind::ALL`], for counters kept in arrays.
    pub fn index(self) -> usize {
        match self {
            FailureKind::Overloaded => 0,
            FailureKind::Unreachable => 1,
            FailureKind::Rejected => 2,
            FailureKind::Engine => 3,
            FailureKind::TimedOut => 4,
            FailureKind::Malformed => 5,
            FailureKind::Unsupported => 6,
        }
    }

    /// A short label for metrics (`reason="timed_out"`).
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Overloaded => "overloaded",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Rejected => "rejected",
            FailureKind::Engine => "engine",
            FailureKind::TimedOut => "timed_out",
            FailureKind::Malformed => "malformed",
            FailureKind::Unsupported => "unsupported",
        }
    }
}

/// The models of a call's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStage {
    /// Speech to text.
    Stt,
    /// The language model.
    Llm,
    /// Text to speech.
    Tts,
}

impl ModelStage {
    /// Every stage, in the order of [`ModelStage::index`].
    pub const ALL: [ModelStage; 3] = [ModelStage::Stt, ModelStage::Llm, ModelStage::Tts];

    /// The label in metrics and call records.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStage::Stt => "stt",
            ModelStage::Llm => "llm",
            ModelStage::Tts => "tts",
        }
    }

    /// The stage's position in [`ModelStage::ALL`].
    pub fn index(self) -> usize {
        match self {
            ModelStage::Stt => 0,
            ModelStage::Llm => 1,
            ModelStage::Tts => 2,
        }
    }
}

/// Something the speech recogniser heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcript {
    /// Interim text of the utterance in progress; may change.
    Partial(String),
    /// Final text of an utterance.
    Final(String),
    /// The utterance could not be transcribed: it ends without text. (A failed partial is not reported;
    /// the next one or the final replaces it.)
    Failed(ModelError),
}

/// A recognition stream for one call.
pub trait SttStream: Send {
    /// Caller audio, 16 kHz mono.
    fn push_audio(&mut self, pcm: &[i16]);
    /// VAD says the utterance ended: produce its final transcript.
    fn end_of_speech(&mut self);
    /// The next result, if one is ready.
    fn poll_transcript(&mut self) -> Option<Transcript>;
    /// A switch of a fallback chain ([`speech_chain`]) since the last call, if any; other streams never switch.
    fn take_switch(&mut self) -> Option<Switch> {
        None
    }
}

/// Speech-to-text engine.
pub trait SpeechToText: Send + Sync {
    /// A stream for one call in `language` (BCP 47, e.g. `en`, `hi`).
    fn stream(&self, language: &str) -> Box<dyn SttStream>;
}

/// One message of the conversation history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it; engines map it to their chat template's roles.
    pub role: Role,
    /// What was said (for [`Role::Tool`], the tool's result text).
    pub content: String,
}

/// The speaker of a [`ChatMessage`], as in OpenAI-style chat APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The agent's instructions (its prompt), placed before the conversation.
    System,
    /// The caller: their transcribed speech.
    User,
    /// The agent: what it said (or the tool call it made, see [`tool_call_text`]).
    Assistant,
    /// The result of a tool the assistant called (content: the result text).
    Tool,
}

/// A function the language model may call (OpenAI-style function tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    /// The function name the model calls it by (letters, digits, `_`).
    pub name: String,
    /// When the model should call it, in words the model reads.
    pub description: String,
    /// JSON Schema of the arguments object, as JSON text.
    pub parameters: String,
}

/// How a tool call is written into the conversation history (an assistant message): one line that every
/// engine can read back, `<tool_call>{"name": …, "arguments": …}</tool_call>` (the Hermes/SmolLM format).
pub fn tool_call_text(name: &str, arguments: &str) -> String {
    let arguments = if arguments.trim().is_empty() { "{}" } else { arguments.trim() };
    format!("<tool_call>{{\"name\": \"{}\", \"arguments\": {arguments}}}</tool_call>", name.replace('"', ""))
}

/// What a language model produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    /// The next piece of text.
    Token(String),
    /// The reply is complete.
    Done,
    /// The reply failed; the engine speaks a fallback or tries the next model.
    Failed(ModelError),
    /// The reply moved to the next model of a fallback chain ([`fallback`]); its text goes on after this.
    Switched {
        /// The model left.
        from: String,
        /// The model answering now.
        to: String,
        /// Why the first was left.
        reason: ModelError,
    },
    /// The model calls a tool. The reply ends with it.
    ToolCall {
        /// The tool's name, one of the [`ToolSpec`]s offered.
        name: String,
        /// The arguments: a JSON object as text, as the model wrote it (not yet validated).
        arguments: String,
    },
}

/// A reply being generated; dropping it cancels generation.
pub trait LlmStream: Send {
    /// The next event, or `None` while the model is still working; never blocks, so the call's tick can poll it.
    fn poll_event(&mut self) -> Option<LlmEvent>;
}

/// Language model.
pub trait LanguageModel: Send + Sync {
    /// Starts a reply to `history`; the model may call one of `tools` instead of (or after) speaking.
    fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream>;
}

/// Synthesised audio, chunk by chunk; dropping it cancels synthesis.
pub trait TtsStream: Send {
    /// Sample rate of the chunks.
    fn sample_rate(&self) -> u32;
    /// Appends the next chunk to `out`; returns false once the text is fully spoken, or synthesis failed.
    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool;
    /// Why synthesis stopped early, once [`TtsStream::poll_audio`] has returned false; `None` when the text
    /// was fully spoken.
    fn failure(&self) -> Option<&ModelError> {
        None
    }
    /// A switch of a fallback chain ([`speech_chain`]) since the last call, if any; other streams never switch.
    fn take_switch(&mut self) -> Option<Switch> {
        None
    }
}

/// Text-to-speech engine.
pub trait TextToSpeech: Send + Sync {
    /// Starts synthesising `text`; the audio is pulled from the returned stream as the call plays it.
    fn speak(&self, text: &str) -> Box<dyn TtsStream>;
}
