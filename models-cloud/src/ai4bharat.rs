//! The original's own GPU servers (voicera-original §4 "Local model servers"), so operators keep them:
//!
//! - [`Ai4BharatStt`]: IndicConformer behind `POST {base}/transcribe` (Bhili: `/transcribe/bhili`) with
//!   `{"audio_b64": <16 kHz int16 PCM, base64>, "language_id"}`, answered `{"text"}`; 503 when its queue is
//!   full. The stream buffers an utterance's audio and posts it when the VAD ends it, as the original did.
//! - [`ParlerTts`]: Indic Parler-TTS behind a WebSocket: the client sends `{"prompt", "description",
//!   "language"}`; the server answers `{"type": "meta", "pid", "sample_rate", "dtype": "float32",
//!   "channels": 1}`, binary frames of float32 mono PCM, then `{"type": "done", "pid"}` or `{"type": "error",
//!   "message"}`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, TextToSpeech, TtsStream};

use crate::streams::{pcm16_bytes, spawn_audio, AudioEvent};
use crate::utterance::{buffered_stream, text_answer, Transcriber};
use crate::{http, ws};

/// The STT server.
#[derive(Debug, Clone, PartialEq)]
pub struct Ai4BharatSttConfig {
    /// The server's root, e.g. `http://gpu-1:8001`.
    pub base_url: String,
    /// How long one transcription may take.
    pub timeout: Duration,
}

impl Ai4BharatSttConfig {
    /// The server at `base_url`, 10 s per transcription.
    pub fn new(base_url: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), timeout: Duration::from_secs(10) }
    }
}

/// The STT client.
#[derive(Clone)]
pub struct Ai4BharatStt {
    config: Arc<Ai4BharatSttConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Ai4BharatStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ai4BharatStt").field("config", &self.config).finish()
    }
}

impl Ai4BharatStt {
    /// A client for `config`.
    pub fn new(config: Ai4BharatSttConfig) -> Self {
        let agent = http::agent(config.timeout);
        Self { config: Arc::new(config), agent }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl SpeechToText for Ai4BharatStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let path = if language == "bhb" { "/transcribe/bhili" } else { "/transcribe" };
            let url = format!("{}{path}", config.base_url);
            let body = json!({
                "audio_b64": base64::engine::general_purpose::STANDARD.encode(pcm16_bytes(audio)),
                "language_id": language,
            })
            .to_string();
            text_answer(&url, agent.post(&url).header("Content-Type", "application/json").send(body), "text")
        });
        buffered_stream("ai4bharat-stt", language, transcriber)
    }
}

/// The Parler TTS server.
#[derive(Debug, Clone, PartialEq)]
pub struct ParlerConfig {
    /// The server's WebSocket URL, e.g. `ws://gpu-1:8002/ws`.
    pub url: String,
    /// The speaker and style in words (`"Rohit speaks clearly at a moderate pace."`): Parler's `description`.
    pub description: String,
    /// The language code sent along (`hi`, `ta`, `bhb`, …).
    pub language: String,
    /// The rate the server synthesises at (44.1 kHz for the original's checkpoints); audio of another rate
    /// is refused rather than played at the wrong speed.
    pub sample_rate: u32,
}

impl ParlerConfig {
    /// The server at `url`, speaking `language` as `description` says, at 44.1 kHz.
    pub fn new(url: &str, description: &str, language: &str) -> Self {
        Self {
            url: url.to_string(),
            description: description.to_string(),
            language: language.to_string(),
            sample_rate: 44_100,
        }
    }
}

/// The Parler client.
#[derive(Debug, Clone)]
pub struct ParlerTts {
    config: Arc<ParlerConfig>,
    connect_timeout: Duration,
}

impl ParlerTts {
    /// A client for `config`.
    pub fn new(config: ParlerConfig) -> Self {
        Self { config: Arc::new(config), connect_timeout: ws::CONNECT_TIMEOUT }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

impl TextToSpeech for ParlerTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let config = Arc::clone(&self.config);
        let (text, timeout) = (text.to_string(), self.connect_timeout);
        spawn_audio("parler-speak", config.sample_rate, move |events, cancelled| {
            if let Err(err) = synthesise(&config, &text, timeout, events, cancelled) {
                let _ = events.send(AudioEvent::Failed(err));
            }
        })
    }
}

/// Float32 PCM in [-1, 1] as 16-bit samples.
pub fn f32_frame_to_pcm16(bytes: &[u8]) -> Option<Vec<i16>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| {
                let sample = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let sample = if sample.is_finite() { sample.clamp(-1.0, 1.0) } else { 0.0 };
                (sample * 32767.0).round() as i16
            })
            .collect(),
    )
}

fn synthesise(
    config: &ParlerConfig,
    text: &str,
    connect_timeout: Duration,
    events: &Sender<AudioEvent>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let url = config.url.as_str();
    let malformed = |what: String| ModelError::new(FailureKind::Malformed, format!("{url}: {what}"));
    let mut socket = ws::connect_within(url, &[], connect_timeout)?;
    let request = json!({"prompt": text, "description": config.description, "language": config.language});
    socket.send(Message::Text(request.to_string().into())).map_err(|e| ws::error(url, e))?;
    let mut started = false;
    loop {
        if cancelled.load(Ordering::Relaxed) {
            let _ = socket.close(None);
            let _ = socket.flush();
            return Ok(());
        }
        let message = match socket.read() {
            Ok(message) => message,
            Err(err) if ws::is_idle(&err) => continue,
            Err(err) => return Err(ws::error(url, err)),
        };
        match message {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(text.as_str()).map_err(|_| {
                    malformed(format!("unreadable message: {}", text.chars().take(200).collect::<String>()))
                })?;
                match message["type"].as_str() {
                    Some("meta") => {
                        let rate = message["sample_rate"].as_u64().unwrap_or(0);
                        let dtype = message["dtype"].as_str().unwrap_or("float32");
                        let channels = message["channels"].as_u64().unwrap_or(1);
                        if rate != u64::from(config.sample_rate) || dtype != "float32" || channels != 1 {
                            return Err(ModelError::new(
                                FailureKind::Unsupported,
                                format!(
                                    "{url}: audio of {rate} Hz {dtype} x{channels}, expected {} Hz float32 mono",
                                    config.sample_rate
                                ),
                            ));
                        }
                        started = true;
                    }
                    Some("done") => {
                        let _ = events.send(AudioEvent::Done);
                        let _ = socket.close(None);
                        let _ = socket.flush();
                        return Ok(());
                    }
                    Some("error") => {
                        let reason = message["message"].as_str().unwrap_or("an error message");
                        return Err(ModelError::new(FailureKind::Engine, format!("{url}: {reason}")));
                    }
                    _ => return Err(malformed(format!("an unexpected message: {message}"))),
                }
            }
            Message::Binary(bytes) => {
                if !started {
                    return Err(malformed("audio before its meta message".into()));
                }
                let samples =
                    f32_frame_to_pcm16(&bytes).ok_or_else(|| malformed("a frame of partial float32 samples".into()))?;
                if events.send(AudioEvent::Samples(samples)).is_err() {
                    return Ok(());
                }
            }
            Message::Close(frame) => return Err(ws::close_error(url, frame.as_ref())),
            _ => {}
        }
    }
}
