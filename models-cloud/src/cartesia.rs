//! Cartesia text to speech over its WebSocket (docs.cartesia.ai/api-reference/tts/websocket):
//! `{base}/tts/websocket?cartesia_version=…` with the key in headers; one generation request per
//! utterance `{"model_id", "transcript", "voice": {"mode": "id", "id"}, "language", "context_id",
//! "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate"}, "continue": false}`, answered
//! by `{"type": "chunk", "data": <base64 PCM>}` messages, then `{"type": "done"}`, or `{"type": "error",
//! "error", "status_code"}`. `timestamps` and `flush_done` messages are skipped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, TextToSpeech, TtsStream};

use crate::streams::{spawn_audio, AudioEvent, Pcm16Decoder};
use crate::{http, ws};

/// Cartesia's API root.
pub const DEFAULT_BASE_URL: &str = "wss://api.cartesia.ai";
/// The API version every connection names.
pub const API_VERSION: &str = "2024-06-10";

/// Where and how to synthesise.
#[derive(Clone, PartialEq)]
pub struct CartesiaConfig {
    /// The WebSocket root, `wss://api.cartesia.ai`.
    pub base_url: String,
    /// Sent as `X-API-Key`.
    pub api_key: String,
    /// The model, e.g. `sonic-2`.
    pub model: String,
    /// The voice id.
    pub voice_id: String,
    /// The language code (`en`, `hi`, …).
    pub language: String,
    /// Sample rate asked for and played.
    pub sample_rate: u32,
}

impl std::fmt::Debug for CartesiaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartesiaConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("voice_id", &self.voice_id)
            .finish()
    }
}

impl CartesiaConfig {
    /// `model` speaking `language` with `voice_id`, 16 kHz.
    pub fn new(base_url: &str, model: &str, voice_id: &str, language: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            voice_id: voice_id.to_string(),
            language: language.to_string(),
            sample_rate: 16000,
        }
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct CartesiaTts {
    config: Arc<CartesiaConfig>,
    connect_timeout: Duration,
}

impl CartesiaTts {
    /// A client for `config`.
    pub fn new(config: CartesiaConfig) -> Self {
        Self { config: Arc::new(config), connect_timeout: ws::CONNECT_TIMEOUT }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The generation request for `text` in context `context_id`.
pub fn request(config: &CartesiaConfig, text: &str, context_id: &str) -> Value {
    json!({
        "model_id": config.model,
        "transcript": text,
        "voice": {"mode": "id", "id": config.voice_id},
        "language": config.language,
        "context_id": context_id,
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": config.sample_rate},
        "continue": false,
    })
}

impl TextToSpeech for CartesiaTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let config = Arc::clone(&self.config);
        let (text, timeout) = (text.to_string(), self.connect_timeout);
        spawn_audio("cartesia-speak", config.sample_rate, move |events, cancelled| {
            if let Err(err) = synthesise(&config, &text, timeout, events, cancelled) {
                let _ = events.send(AudioEvent::Failed(err));
            }
        })
    }
}

fn synthesise(
    config: &CartesiaConfig,
    text: &str,
    connect_timeout: Duration,
    events: &Sender<AudioEvent>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let url = format!("{}/tts/websocket?cartesia_version={API_VERSION}", config.base_url);
    // The key as the REST API takes it (`X-API-Key`) and as current docs name it (`Authorization: Bearer`),
    // in headers rather than the `?api_key=` browsers need, so it never reaches a URL in a log.
    let bearer = format!("Bearer {}", config.api_key);
    let mut socket = ws::connect_within(
        &url,
        &[("X-API-Key", &config.api_key), ("Authorization", &bearer), ("Cartesia-Version", API_VERSION)],
        connect_timeout,
    )?;
    let context_id = format!(
        "voicera-{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    socket
        .send(Message::Text(request(config, text, &context_id).to_string().into()))
        .map_err(|e| ws::error(&url, e))?;
    let mut decoder = Pcm16Decoder::default();
    loop {
        if cancelled.load(Ordering::Relaxed) {
            let _ = socket.send(Message::Text(json!({"context_id": context_id, "cancel": true}).to_string().into()));
            let _ = socket.close(None);
            let _ = socket.flush();
            return Ok(());
        }
        let message = match socket.read() {
            Ok(message) => message,
            Err(err) if ws::is_idle(&err) => continue,
            Err(err) => return Err(ws::error(&url, err)),
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => return Err(ws::close_error(&url, frame.as_ref())),
            Message::Binary(_) => {
                return Err(ModelError::new(FailureKind::Malformed, format!("{url}: an unexpected binary message")))
            }
            _ => continue,
        };
        let malformed = || {
            let shown: String = text.chars().take(200).collect();
            ModelError::new(FailureKind::Malformed, format!("{url}: unreadable message: {shown}"))
        };
        let message: Value = serde_json::from_str(text.as_str()).map_err(|_| malformed())?;
        match message["type"].as_str() {
            Some("chunk") => {
                let data = message["data"].as_str().ok_or_else(malformed)?;
                let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| malformed())?;
                if events.send(AudioEvent::Samples(decoder.push(&bytes))).is_err() {
                    return Ok(());
                }
            }
            Some("done") => {
                let _ = events.send(AudioEvent::Done);
                let _ = socket.close(None);
                let _ = socket.flush();
                return Ok(());
            }
            Some("error") => {
                let status = message["status_code"].as_u64().unwrap_or(500) as u16;
                let reason = message["error"].as_str().or(message["message"].as_str()).unwrap_or("an error message");
                return Err(ModelError::new(http::status_kind(status), format!("{url}: {status}: {reason}")));
            }
            Some(_) => {} // timestamps, flush_done, phoneme timestamps
            None => return Err(malformed()),
        }
    }
}
