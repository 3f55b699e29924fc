//! ElevenLabs text to speech over HTTP streaming: `POST {base}/v1/text-to-speech/{voice_id}/stream?
//! output_format=pcm_16000` with `xi-api-key` and `{"text", "model_id", "voice_settings"}`, answered by raw
//! 16-bit PCM as it is made (elevenlabs.io/docs/api-reference/text-to-speech/stream). Errors come as
//! `{"detail": {"status", "message"}}`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_models::{TextToSpeech, TtsStream};

use crate::deepgram::{encode, speak_http};
use crate::http;
use crate::streams::spawn_audio;

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
