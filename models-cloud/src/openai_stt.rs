//! OpenAI transcription (platform.openai.com/docs/api-reference/audio/createTranscription):
//! `POST {base}/audio/transcriptions` with `Authorization: Bearer …`, `multipart/form-data` with `file` (WAV),
//! `model` (`whisper-1`, `gpt-4o-mini-transcribe`), `language` (ISO 639-1) and `response_format=json`,
//! answered `{"text"}`. Each utterance is posted when the VAD ends it, as the original's segment STT did;
//! any OpenAI-compatible server (Groq, a local faster-whisper server) works by base URL.

use std::sync::Arc;
use std::time::Duration;

use voicera_models::{SpeechToText, SttStream};

use crate::http::RestAccount;
use crate::utterance::{buffered_stream, multipart, text_answer, Transcriber, BOUNDARY};

/// The client; its HTTP agent is shared by every utterance.
#[derive(Debug, Clone)]
pub struct OpenAiStt {
    account: RestAccount,
}

impl OpenAiStt {
    /// `model` at `base_url` (with its version, `https://api.openai.com/v1`).
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self { account: RestAccount::new(base_url, model, api_key) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { account: self.account.with_timeout(timeout) }
    }
}

impl SpeechToText for OpenAiStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let account = self.account.clone();
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let url = account.url("/audio/transcriptions");
            // ISO 639-1: `en-IN` is sent as `en`.
            let language = language.split('-').next().unwrap_or(language);
            let fields = [("model", account.model.as_str()), ("language", language), ("response_format", "json")];
            let body = multipart(&fields, audio);
            let request = account
                .post(&url)
                .header("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))
                .header("Authorization", &format!("Bearer {}", account.api_key));
            text_answer(&url, request.send(&body[..]), "text")
        });
        buffered_stream("openai-stt", language, transcriber)
    }
}
