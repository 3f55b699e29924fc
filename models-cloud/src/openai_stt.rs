//! OpenAI transcription (platform.openai.com/docs/api-reference/audio/createTranscription):
//! `POST {base}/audio/transcriptions` with `Authorization: Bearer …`, `multipart/form-data` with `file` (WAV),
//! `model` (`whisper-1`, `gpt-4o-mini-transcribe`), `language` (ISO 639-1) and `response_format=json`,
//! answered `{"text"}`. Each utterance is posted when the VAD ends it, as the original's segment STT did;
//! any OpenAI-compatible server (Groq, a local faster-whisper server) works by base URL.

use std::sync::Arc;
use std::time::Duration;

use voicera_models::{SpeechToText, SttStream};

use crate::http;
use crate::utterance::{buffered_stream, multipart, text_answer, Transcriber, BOUNDARY};

/// The client; its HTTP agent is shared by every utterance.
#[derive(Clone)]
pub struct OpenAiStt {
    base_url: String,
    api_key: String,
    model: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiStt")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

impl OpenAiStt {
    /// `model` at `base_url` (with its version, `https://api.openai.com/v1`).
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            agent: http::agent(Duration::from_secs(15)),
        }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl SpeechToText for OpenAiStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let this = self.clone();
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let url = format!("{}/audio/transcriptions", this.base_url);
            // ISO 639-1: `en-IN` is sent as `en`.
            let language = language.split('-').next().unwrap_or(language);
            let body = multipart(&[("model", &this.model), ("language", language), ("response_format", "json")], audio);
            let request = this
                .agent
                .post(&url)
                .header("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))
                .header("Authorization", &format!("Bearer {}", this.api_key));
            text_answer(&url, request.send(&body[..]), "text")
        });
        buffered_stream("openai-stt", language, transcriber)
    }
}
