//! OpenAI text to speech: `POST {base}/audio/speech` with `Authorization: Bearer …` and `{"model", "input",
//! "voice", "response_format": "pcm", "speed"}`, answered by raw 24 kHz 16-bit little-endian PCM streamed as
//! it is made (platform.openai.com/docs/api-reference/audio/createSpeech). Errors are OpenAI's
//! `{"error": {"message"}}`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_models::{TextToSpeech, TtsStream};

use crate::deepgram::speak_http;
use crate::http;
use crate::streams::spawn_audio;

/// The rate of OpenAI's `pcm` format.
pub const SAMPLE_RATE: u32 = 24_000;

/// Where and how to synthesise.
#[derive(Clone, PartialEq)]
pub struct OpenAiTtsConfig {
    /// The API root with its version, `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// `gpt-4o-mini-tts`, `tts-1`, …
    pub model: String,
    /// `alloy`, `nova`, …
    pub voice: String,
    /// 0.25 to 4.0; `None` leaves 1.0.
    pub speed: Option<f32>,
}

impl std::fmt::Debug for OpenAiTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiTtsConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("voice", &self.voice)
            .finish()
    }
}

impl OpenAiTtsConfig {
    /// `model` speaking with `voice` at `base_url`.
    pub fn new(base_url: &str, model: &str, voice: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
            speed: None,
        }
    }
}

/// The client; its HTTP agent is shared by every utterance.
#[derive(Clone)]
pub struct OpenAiTts {
    config: Arc<OpenAiTtsConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiTts").field("config", &self.config).finish()
    }
}

impl OpenAiTts {
    /// A client for `config`.
    pub fn new(config: OpenAiTtsConfig) -> Self {
        Self { config: Arc::new(config), agent: http::agent(Duration::from_secs(10)) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

/// The request body.
pub fn request_body(config: &OpenAiTtsConfig, text: &str) -> Value {
    let mut body = json!({"model": config.model, "input": text, "voice": config.voice, "response_format": "pcm"});
    if let Some(speed) = config.speed {
        body["speed"] = json!(speed);
    }
    body
}

impl TextToSpeech for OpenAiTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let body = request_body(&config, text).to_string();
        spawn_audio("openai-speak", SAMPLE_RATE, move |events, cancelled| {
            let url = format!("{}/audio/speech", config.base_url);
            let request = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Authorization", &format!("Bearer {}", config.api_key));
            speak_http(&url, request.send(body), events, cancelled);
        })
    }
}
