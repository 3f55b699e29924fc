//! Deepgram: live speech to text over a WebSocket, and Aura text to speech over HTTP
//! (developers.deepgram.com/reference/speech-to-text-api/listen-streaming, …/text-to-speech-api/speak).
//!
//! Live STT: `GET {base}/v1/listen?model=…&language=…&encoding=linear16&sample_rate=16000&channels=1&
//! interim_results=true&endpointing=…&smart_format=true` upgraded to a WebSocket, `Authorization: Token …`.
//! Caller audio goes as binary frames of little-endian 16-bit PCM; Deepgram answers with `Results` messages
//! (`is_final` when a segment will not change, `speech_final` at its own endpoint, `from_finalize` on the
//! answer to a `{"type":"Finalize"}`), plus `Metadata`, `SpeechStarted` and `UtteranceEnd`. The engine's VAD
//! ends an utterance: the client sends `Finalize` and the utterance's final transcript is every final segment
//! since the last one, complete when the `from_finalize` result arrives. `KeepAlive` holds a quiet socket
//! open; `CloseStream` ends it.
//!
//! Aura: `POST {base}/v1/speak?model=aura-2-…&encoding=linear16&sample_rate=16000&container=none` with
//! `{"text": …}`, answered by raw PCM streamed as it is made.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, TextToSpeech, TtsStream};

use crate::http;
use crate::live::{self, Heard, LiveProtocol};
use crate::streams::{pump_pcm, spawn_audio, AudioEvent};

/// Deepgram's API root for both clients; the STT client speaks WebSocket to the same host.
pub const DEFAULT_BASE_URL: &str = "https://api.deepgram.com";

/// Live STT settings.
#[derive(Clone, PartialEq)]
pub struct DeepgramSttConfig {
    /// The API root, `https://api.deepgram.com` (or `http://…` for a self-hosted one); `ws(s)://` is used.
    pub base_url: String,
    /// Sent as `Authorization: Token …`.
    pub api_key: String,
    /// `nova-3`, `nova-2`, …
    pub model: String,
    /// Milliseconds of silence Deepgram's own endpointing waits (the original: 150).
    pub endpointing_ms: u32,
    /// Words to boost: `keyterm` for Nova-3, `keywords` for older models.
    pub keywords: Vec<String>,
}

impl std::fmt::Debug for DeepgramSttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramSttConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("endpointing_ms", &self.endpointing_ms)
            .finish()
    }
}

impl DeepgramSttConfig {
    /// `model` at `base_url`, endpointing 150 ms as the original had it, no keywords.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            endpointing_ms: 150,
            keywords: Vec::new(),
        }
    }

    /// The WebSocket URL for a stream in `language`.
    pub fn listen_url(&self, language: &str) -> String {
        let base = crate::ws::ws_root(&self.base_url);
        let mut url = format!(
            "{base}/v1/listen?model={}&language={}&encoding=linear16&sample_rate=16000&channels=1\
             &interim_results=true&endpointing={}&smart_format=true",
            encode(&self.model),
            encode(language),
            self.endpointing_ms
        );
        let parameter = if self.model.starts_with("nova-3") { "keyterm" } else { "keywords" };
        for word in &self.keywords {
            url.push_str(&format!("&{parameter}={}", encode(word)));
        }
        url
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The live STT client; each call gets its own socket.
#[derive(Debug, Clone)]
pub struct DeepgramStt {
    config: Arc<DeepgramSttConfig>,
    connect_timeout: Duration,
}

impl DeepgramStt {
    /// A client for `config`.
    pub fn new(config: DeepgramSttConfig) -> Self {
        Self { config: Arc::new(config), connect_timeout: crate::ws::CONNECT_TIMEOUT }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

impl SpeechToText for DeepgramStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let url = self.config.listen_url(language);
        let key = format!("Token {}", self.config.api_key);
        let headers = vec![("Authorization".into(), key)];
        live::spawn_within("deepgram-listen", url, headers, DeepgramProtocol, self.connect_timeout)
    }
}

/// Deepgram's live messages.
#[derive(Debug, Clone, Copy)]
pub struct DeepgramProtocol;

impl LiveProtocol for DeepgramProtocol {
    fn audio(&self, pcm: &[u8]) -> Message {
        Message::Binary(pcm.to_vec().into())
    }

    fn finalize(&self) -> Message {
        Message::Text(json!({"type": "Finalize"}).to_string().into())
    }

    fn keep_alive(&self) -> Option<Message> {
        Some(Message::Text(json!({"type": "KeepAlive"}).to_string().into()))
    }

    fn close(&self) -> Option<Message> {
        Some(Message::Text(json!({"type": "CloseStream"}).to_string().into()))
    }

    fn read(&self, text: &str) -> Result<Heard, ModelError> {
        let message: Value = serde_json::from_str(text).map_err(|_| {
            let shown: String = text.chars().take(200).collect();
            ModelError::new(FailureKind::Malformed, format!("unreadable message: {shown}"))
        })?;
        match message["type"].as_str() {
            Some("Results") => {}
            Some("Error") => {
                let description = message["description"].as_str().or(message["message"].as_str());
                return Err(ModelError::new(
                    FailureKind::Engine,
                    description.unwrap_or("an error message").to_string(),
                ));
            }
            Some(_) => return Ok(Heard::Nothing), // Metadata, SpeechStarted, UtteranceEnd
            None => return Err(ModelError::new(FailureKind::Malformed, "a message without a type".to_string())),
        }
        let transcript = message["channel"]["alternatives"][0]["transcript"].as_str().unwrap_or_default().trim();
        let transcript = transcript.to_string();
        Ok(if message["from_finalize"] == true {
            Heard::Finalized(transcript)
        } else if message["is_final"] == true {
            Heard::Final(transcript)
        } else {
            Heard::Interim(transcript)
        })
    }
}

/// Aura settings.
#[derive(Clone, PartialEq)]
pub struct DeepgramTtsConfig {
    /// The API root, `https://api.deepgram.com`.
    pub base_url: String,
    /// Sent as `Authorization: Token …`.
    pub api_key: String,
    /// The voice model, e.g. `aura-2-thalia-en`.
    pub model: String,
    /// Sample rate asked for and played (8000, 16000, 24000, 48000).
    pub sample_rate: u32,
}

impl std::fmt::Debug for DeepgramTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramTtsConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

impl DeepgramTtsConfig {
    /// `model` at `base_url`, 16 kHz.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            sample_rate: 16000,
        }
    }
}

/// The Aura client; its HTTP agent is shared by every utterance.
#[derive(Clone)]
pub struct DeepgramTts {
    config: Arc<DeepgramTtsConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for DeepgramTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramTts").field("config", &self.config).finish()
    }
}

impl DeepgramTts {
    /// A client for `config`.
    pub fn new(config: DeepgramTtsConfig) -> Self {
        Self { config: Arc::new(config), agent: http::agent(Duration::from_secs(10)) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl TextToSpeech for DeepgramTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let body = json!({"text": text}).to_string();
        spawn_audio("deepgram-speak", config.sample_rate, move |events, cancelled| {
            let url = format!(
                "{}/v1/speak?model={}&encoding=linear16&sample_rate={}&container=none",
                config.base_url,
                encode(&config.model),
                config.sample_rate
            );
            let request = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Authorization", &format!("Token {}", config.api_key));
            speak_http(&url, request.send(body), events, cancelled);
        })
    }
}

/// Streams an HTTP answer of raw PCM into `events`.
pub(crate) fn speak_http(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    events: &Sender<AudioEvent>,
    cancelled: &AtomicBool,
) {
    let shown = url.split('?').next().unwrap_or(url);
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            let _ = events.send(AudioEvent::Failed(http::transport_error(shown, &err)));
            return;
        }
    };
    if !response.status().is_success() {
        let _ = events.send(AudioEvent::Failed(http::status_error(shown, response)));
        return;
    }
    pump_pcm(shown, response.into_body().into_reader(), events, cancelled);
}

#[cfg(test)]
mod tests {
    use voicera_models::Transcript;

    use super::*;
    use crate::live::LiveTranscript;

    fn results(transcript: &str, is_final: bool, from_finalize: bool) -> String {
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": 1.2, "start": 0.0,
            "is_final": is_final, "speech_final": is_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.98, "words": []}]},
            "metadata": {"request_id": "r", "model_info": {"name": "general-nova-3"}},
        })
        .to_string()
    }

    #[test]
    fn final_segments_join_into_the_utterance_completed_by_finalize() {
        let mut state = LiveTranscript::default();
        assert_eq!(
            state.on_message(&DeepgramProtocol, &results("book a", false, false)).unwrap(),
            Some(Transcript::Partial("book a".into()))
        );
        assert_eq!(
            state.on_message(&DeepgramProtocol, &results("book a table", true, false)).unwrap(),
            Some(Transcript::Partial("book a table".into()))
        );
        assert_eq!(
            state.on_message(&DeepgramProtocol, &results("for two", false, false)).unwrap(),
            Some(Transcript::Partial("book a table for two".into()))
        );
        state.finalize();
        assert_eq!(
            state.on_message(&DeepgramProtocol, &results("for two", true, true)).unwrap(),
            Some(Transcript::Final("book a table for two".into()))
        );
        assert!(!state.finalizing());
        assert_eq!(
            state.on_message(&DeepgramProtocol, r#"{"type":"SpeechStarted","channel":[0],"timestamp":1.0}"#).unwrap(),
            None
        );
        assert_eq!(state.on_message(&DeepgramProtocol, "garbage").unwrap_err().kind, FailureKind::Malformed);
    }

    #[test]
    fn an_unanswered_finalize_keeps_final_words_and_fails_only_when_words_were_lost() {
        let timeout = || ModelError::new(FailureKind::TimedOut, "no answer to Finalize");
        let mut state = LiveTranscript::default();
        state.finalize();
        assert_eq!(state.give_up(timeout()), Transcript::Final(String::new()), "silence: nothing was heard");
        state.on_message(&DeepgramProtocol, &results("hello", false, false)).unwrap();
        state.finalize();
        assert!(state.interim_pending());
        assert!(matches!(state.give_up(timeout()), Transcript::Failed(e) if e.kind == FailureKind::TimedOut));
        state.on_message(&DeepgramProtocol, &results("hello", true, false)).unwrap();
        state.finalize();
        assert_eq!(state.give_up(timeout()), Transcript::Final("hello".into()));
    }

    #[test]
    fn the_url_carries_the_documented_parameters() {
        let mut config = DeepgramSttConfig::new("https://api.deepgram.com/", "nova-3", "k");
        config.keywords = vec!["Vobiz Ltd".into()];
        let url = config.listen_url("en-IN");
        assert!(url.starts_with("wss://api.deepgram.com/v1/listen?model=nova-3&language=en-IN&encoding=linear16"));
        assert!(url.contains("&sample_rate=16000&") && url.contains("&interim_results=true&endpointing=150&"));
        assert!(url.ends_with("&keyterm=Vobiz%20Ltd"), "{url}");
        assert!(!format!("{config:?}").contains("\"k\""));
    }
}
