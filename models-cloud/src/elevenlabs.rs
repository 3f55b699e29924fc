//! ElevenLabs: Scribe realtime speech to text ([`ElevenLabsStt`], below), text to speech over its WebSocket
//! ([`ElevenLabsWsTts`], below), and text to speech over HTTP streaming: `POST {base}/v1/text-to-speech/{voice_id}/stream?
//! output_format=pcm_16000` with `xi-api-key` and `{"text", "model_id", "voice_settings"}`, answered by raw
//! 16-bit PCM as it is made (elevenlabs.io/docs/api-reference/text-to-speech/stream). Errors come as
//! `{"detail": {"status", "message"}}`.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, TextToSpeech, TtsStream};

use crate::deepgram::{encode, speak_http};
use crate::http;
use crate::live::{self, Heard, LiveProtocol};
use crate::streams::{spawn_audio, AudioEvent};
use crate::ws;
use crate::ws_speech::{self, SpeechSocket, Spoken};

/// ElevenLabs' API root.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";

/// Where and how to synthesise.
#[derive(Clone, PartialEq)]
pub struct ElevenLabsConfig {
    /// The API root, `https://api.elevenlabs.io`.
    pub base_url: String,
    /// Sent as `xi-api-key`.
    pub api_key: String,
    /// The model, e.g. `eleven_turbo_v2_5` (the original's default), `eleven_flash_v2_5`.
    pub model: String,
    /// The voice (required by the API).
    pub voice_id: String,
    /// Speaking speed, 0.7 to 1.2; `None` leaves the voice's own.
    pub speed: Option<f32>,
    /// Sample rate asked for (`pcm_{rate}`) and played.
    pub sample_rate: u32,
}

impl std::fmt::Debug for ElevenLabsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("voice_id", &self.voice_id)
            .finish()
    }
}

impl ElevenLabsConfig {
    /// `model` speaking with `voice_id` at `base_url`, 16 kHz.
    pub fn new(base_url: &str, model: &str, voice_id: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            voice_id: voice_id.to_string(),
            speed: None,
            sample_rate: 16000,
        }
    }
}

/// The client; its HTTP agent is shared by every utterance.
#[derive(Clone)]
pub struct ElevenLabsTts {
    config: Arc<ElevenLabsConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ElevenLabsTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsTts").field("config", &self.config).finish()
    }
}

impl ElevenLabsTts {
    /// A client for `config`.
    pub fn new(config: ElevenLabsConfig) -> Self {
        Self { config: Arc::new(config), agent: http::agent(Duration::from_secs(10)) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

/// The request body.
pub fn request_body(config: &ElevenLabsConfig, text: &str) -> Value {
    let mut body = json!({"text": text, "model_id": config.model});
    if let Some(speed) = config.speed {
        body["voice_settings"] = json!({"speed": speed});
    }
    body
}

impl TextToSpeech for ElevenLabsTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let body = request_body(&config, text).to_string();
        spawn_audio("elevenlabs-speak", config.sample_rate, move |events, cancelled| {
            let url = format!(
                "{}/v1/text-to-speech/{}/stream?output_format=pcm_{}",
                config.base_url,
                encode(&config.voice_id),
                config.sample_rate
            );
            let request = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "audio/pcm")
                .header("xi-api-key", &config.api_key);
            speak_http(&url, request.send(body), events, cancelled);
        })
    }
}

/// ElevenLabs Scribe realtime speech to text (elevenlabs.io/docs, "Realtime speech to text"):
/// `{base}/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=pcm_16000&commit_strategy=manual
/// &language_code=…` upgraded to a WebSocket with `xi-api-key`; audio goes as `{"message_type":
/// "input_audio_chunk", "audio_base_64", "commit": false, "sample_rate": 16000}`, the end of an utterance as an
/// empty chunk with `"commit": true`; answers are `session_started`, `partial_transcript` and
/// `committed_transcript` messages with `text`, or an error message type (`auth_error`, `quota_exceeded`,
/// `rate_limited`, …) with `error`.
#[derive(Clone)]
pub struct ElevenLabsStt {
    base_url: String,
    api_key: String,
    model: String,
    connect_timeout: Duration,
}

impl std::fmt::Debug for ElevenLabsStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsStt")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

impl ElevenLabsStt {
    /// `model` (`scribe_v2_realtime`, the original's only one) at `base_url` (`https://api.elevenlabs.io`;
    /// `ws(s)://` is used).
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            connect_timeout: crate::ws::CONNECT_TIMEOUT,
        }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The WebSocket URL for a stream in `language`.
    pub fn realtime_url(&self, language: &str) -> String {
        let base = ws::ws_root(&self.base_url);
        let language = language.split('-').next().unwrap_or(language);
        format!(
            "{base}/v1/speech-to-text/realtime?model_id={}&audio_format=pcm_16000&commit_strategy=manual&language_code={}",
            encode(&self.model),
            encode(language)
        )
    }
}

impl voicera_models::SpeechToText for ElevenLabsStt {
    fn stream(&self, language: &str) -> Box<dyn voicera_models::SttStream> {
        let headers = vec![("xi-api-key".to_string(), self.api_key.clone())];
        let url = self.realtime_url(language);
        live::spawn_within("elevenlabs-listen", url, headers, ScribeProtocol, self.connect_timeout)
    }
}

/// Scribe realtime's messages.
#[derive(Debug, Clone, Copy)]
pub struct ScribeProtocol;

fn chunk(audio: &[u8], commit: bool) -> Message {
    let message = json!({
        "message_type": "input_audio_chunk",
        "audio_base_64": base64::engine::general_purpose::STANDARD.encode(audio),
        "commit": commit,
        "sample_rate": 16000,
    });
    Message::Text(message.to_string().into())
}

impl LiveProtocol for ScribeProtocol {
    fn audio(&self, pcm: &[u8]) -> Message {
        chunk(pcm, false)
    }

    fn finalize(&self) -> Message {
        chunk(&[], true)
    }

    fn keep_alive(&self) -> Option<Message> {
        None
    }

    fn close(&self) -> Option<Message> {
        None
    }

    fn read(&self, text: &str) -> Result<Heard, ModelError> {
        let message: Value = serde_json::from_str(text).map_err(|_| {
            let shown: String = text.chars().take(200).collect();
            ModelError::new(FailureKind::Malformed, format!("unreadable message: {shown}"))
        })?;
        let text = || message["text"].as_str().unwrap_or_default().to_string();
        let error = |kind: FailureKind| {
            let reason = message["error"].as_str().or(message["message"].as_str()).unwrap_or("an error message");
            Err(ModelError::new(kind, format!("{}: {reason}", message["message_type"].as_str().unwrap_or("error"))))
        };
        match message["message_type"].as_str() {
            Some("partial_transcript") => Ok(Heard::Interim(text())),
            Some("committed_transcript") => Ok(Heard::Finalized(text())),
            // A commit of silence: the utterance had no words.
            Some("insufficient_audio_activity") => Ok(Heard::Finalized(String::new())),
            Some("auth_error" | "unaccepted_terms" | "input_error" | "chunk_size_exceeded") => {
                error(FailureKind::Rejected)
            }
            Some("quota_exceeded" | "rate_limited" | "resource_exhausted" | "queue_overflow") => {
                error(FailureKind::Overloaded)
            }
            Some("error" | "transcriber_error" | "session_time_limit_exceeded") => error(FailureKind::Engine),
            Some(_) => Ok(Heard::Nothing), // session_started, committed_transcript_with_timestamps, commit_throttled
            None => Err(ModelError::new(FailureKind::Malformed, "a message without a message_type")),
        }
    }
}

/// ElevenLabs text to speech over its stream-input WebSocket
/// (elevenlabs.io/docs/api-reference/text-to-speech/v-1-text-to-speech-voice-id-stream-input):
/// `{base}/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=pcm_16000` upgraded with
/// `xi-api-key`; the client sends the beginning of stream `{"text": " ", "voice_settings"}`, the clause as
/// `{"text": "… ", "flush": true}` (text ends with a space), and the end of stream `{"text": ""}`; the server
/// answers `{"audio": <base64 PCM>, "isFinal": null, "normalizedAlignment", "alignment"}` messages and ends
/// with `{"isFinal": true}`. A refused key or bad input closes the socket with 1008 and a reason, or sends
/// `{"message", "error", "code"}` first. Audio starts as soon as the first chunk is made, without waiting
/// for an HTTP response head; a dropped stream closes the socket (the server stops generating).
#[derive(Debug, Clone)]
pub struct ElevenLabsWsTts {
    config: Arc<ElevenLabsConfig>,
    connect_timeout: Duration,
}

impl ElevenLabsWsTts {
    /// A client for `config` (its `base_url` as `https://`/`http://` or `wss://`/`ws://`).
    pub fn new(config: ElevenLabsConfig) -> Self {
        Self { config: Arc::new(config), connect_timeout: ws::CONNECT_TIMEOUT }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The socket's URL.
    pub fn stream_input_url(&self) -> String {
        format!(
            "{}/v1/text-to-speech/{}/stream-input?model_id={}&output_format=pcm_{}",
            ws::ws_root(&self.config.base_url),
            encode(&self.config.voice_id),
            encode(&self.config.model),
            self.config.sample_rate
        )
    }
}

/// The messages one clause sends, in order: beginning of stream, the text, end of stream.
pub fn stream_input_messages(config: &ElevenLabsConfig, text: &str) -> [Value; 3] {
    let mut begin = json!({"text": " "});
    if let Some(speed) = config.speed {
        begin["voice_settings"] = json!({"speed": speed});
    }
    // The API wants each text piece to end with a space; the flush makes it speak all of it now.
    let text = format!("{} ", text.trim_end());
    [begin, json!({"text": text, "flush": true}), json!({"text": ""})]
}

impl TextToSpeech for ElevenLabsWsTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, timeout, url) = (Arc::clone(&self.config), self.connect_timeout, self.stream_input_url());
        let text = text.to_string();
        spawn_audio("elevenlabs-ws-speak", config.sample_rate, move |events, cancelled| {
            if let Err(err) = stream_input(&config, &url, &text, timeout, events, cancelled) {
                let _ = events.send(AudioEvent::Failed(err));
            }
        })
    }
}

fn stream_input(
    config: &ElevenLabsConfig,
    url: &str,
    text: &str,
    connect_timeout: Duration,
    events: &Sender<AudioEvent>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let shown = url.split('?').next().unwrap_or(url).to_string();
    let headers = [("xi-api-key", config.api_key.as_str())];
    let socket = SpeechSocket { url, shown: &shown, headers: &headers, connect_timeout };
    let opening = stream_input_messages(config, text).map(|message| message.to_string());
    ws_speech::speak(&socket, &opening, None, |message| read_stream_output(&shown, message), events, cancelled)
}

/// Reads one message of the stream-input socket (sans-IO): its audio and whether it is the last, or the
/// provider's error in its own words.
fn read_stream_output(shown: &str, text: &str) -> Result<Spoken, ModelError> {
    let malformed = || {
        let quoted: String = text.chars().take(200).collect();
        ModelError::new(FailureKind::Malformed, format!("{shown}: unreadable message: {quoted}"))
    };
    let message: Value = serde_json::from_str(text).map_err(|_| malformed())?;
    if let Some(error) = message.get("error").filter(|e| !e.is_null()) {
        let reason = message["message"].as_str().or(error.as_str()).unwrap_or("an error message");
        let kind = match error.as_str().unwrap_or_default() {
            "quota_exceeded" | "rate_limited" | "too_many_concurrent_requests" => FailureKind::Overloaded,
            "invalid_api_key" | "unauthorized" | "voice_not_found" | "input_timeout_exceeded" => FailureKind::Rejected,
            _ if message["code"].as_u64() == Some(1008) => FailureKind::Rejected,
            _ => FailureKind::Engine,
        };
        return Err(ModelError::new(kind, format!("{shown}: {reason}")));
    }
    let pcm = match message["audio"].as_str().filter(|a| !a.is_empty()) {
        Some(audio) => base64::engine::general_purpose::STANDARD.decode(audio).map_err(|_| malformed())?,
        None => Vec::new(),
    };
    Ok(Spoken { pcm, done: message["isFinal"].as_bool() == Some(true) })
}
