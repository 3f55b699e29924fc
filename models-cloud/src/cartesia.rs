//! Cartesia text to speech over its WebSocket (docs.cartesia.ai/api-reference/tts/websocket):
//! `{base}/tts/websocket?cartesia_version=…` with the key in headers; one generation request per
//! utterance `{"model_id", "transcript", "voice": {"mode": "id", "id"}, "language", "context_id",
//! "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate"}, "continue": false}`, answered
//! by `{"type": "chunk", "data": <base64 PCM>}` messages, then `{"type": "done"}`, or `{"type": "error",
//! "error", "status_code"}`. `timestamps` and `flush_done` messages are skipped.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use voicera_models::{FailureKind, ModelError, TextToSpeech, TtsStream};

use crate::streams::{spawn_audio, AudioEvent};
use crate::ws_speech::{self, SpeechSocket, Spoken};
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
    let headers =
        [("X-API-Key", config.api_key.as_str()), ("Authorization", bearer.as_str()), ("Cartesia-Version", API_VERSION)];
    let context_id = format!(
        "voicera-{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    let socket = SpeechSocket { url: &url, shown: &url, headers: &headers, connect_timeout };
    let opening = [request(config, text, &context_id).to_string()];
    let cancel = json!({"context_id": context_id, "cancel": true}).to_string();
    let read = |message: &str| -> Result<Spoken, ModelError> {
        let said = read_message(message, &context_id)
            .map_err(|err| ModelError { message: format!("{url}: {}", err.message), ..err })?;
        Ok(match said {
            Said::Audio { pcm, done } => Spoken { pcm, done },
            Said::Done => Spoken { pcm: Vec::new(), done: true },
            Said::Nothing => Spoken::default(),
        })
    };
    ws_speech::speak(&socket, &opening, Some(&cancel), read, events, cancelled)
}

/// What one message on Cartesia's socket says about the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// Audio of the generation: little-endian 16-bit PCM bytes (a chunk may end mid-sample); `done` when the
    /// chunk also says the generation is complete.
    Audio {
        /// The decoded `data`.
        pcm: Vec<u8>,
        /// The chunk carried `"done": true`.
        done: bool,
    },
    /// `{"type": "done"}`: the generation is complete.
    Done,
    /// Nothing for the audio: word or phoneme timestamps, `flush_done`, message types added later.
    Nothing,
}

/// Reads one text message of the generation `context_id` (sans-IO): audio, the end, nothing, or why the
/// generation failed. Cartesia's `error` messages keep its own words and status (`400` is the request's
/// fault, `429` an overload); anything unreadable is `Malformed` and names what was wrong, showing at most
/// 200 characters of the message. A message naming another context is refused: this socket carries only ours,
/// and audio of someone else's text must never be played into a call.
pub fn read_message(text: &str, context_id: &str) -> Result<Said, ModelError> {
    let malformed = |why: &str| {
        let shown: String = text.chars().take(200).collect();
        ModelError::new(FailureKind::Malformed, format!("{why}: {shown}"))
    };
    let message: Value = serde_json::from_str(text).map_err(|_| malformed("a message that is not JSON"))?;
    if !message.is_object() {
        return Err(malformed("a message that is not a JSON object"));
    }
    if let Some(theirs) = message.get("context_id").filter(|c| !c.is_null()) {
        if theirs.as_str() != Some(context_id) {
            return Err(malformed(&format!("a message for another context than {context_id}")));
        }
    }
    let done = message.get("done").and_then(Value::as_bool).unwrap_or(false);
    match message.get("type").map(|t| t.as_str()) {
        Some(Some("chunk")) => {
            let data = message
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("a chunk without base64 \"data\""))?;
            let pcm = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|err| malformed(&format!("a chunk whose data is not base64 ({err})")))?;
            Ok(Said::Audio { pcm, done })
        }
        Some(Some("done")) => Ok(Said::Done),
        Some(Some("error")) => {
            // `status_code` as the HTTP status it mirrors; one outside 100..=599 (or none) is the server's.
            let status = message
                .get("status_code")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (100..=599).contains(s))
                .unwrap_or(500);
            // Older answers say `error`; current ones `title` and `message` (and `error_code`).
            let words = |key: &str| message.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
            let reason = match (words("title"), words("message").or(words("error"))) {
                (Some(title), Some(detail)) if !detail.starts_with(title) => format!("{title}: {detail}"),
                (_, Some(detail)) => detail.to_string(),
                (Some(title), None) => title.to_string(),
                (None, None) => "an error message without words".to_string(),
            };
            let reason: String = reason.chars().take(500).collect();
            let code = words("error_code").map(|c| format!(" ({c})")).unwrap_or_default();
            Err(ModelError::new(http::status_kind(status), format!("{status}: {reason}{code}")))
        }
        Some(Some(_)) => Ok(Said::Nothing),
        Some(None) => Err(malformed("a message whose type is not a string")),
        None => Err(malformed("a message without a type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::Pcm16Decoder;

    const CONTEXT: &str = "50dc3b5e-5841-4aa1-9f94-60cfb9aead79";

    fn read(text: &str) -> Result<Said, ModelError> {
        read_message(text, CONTEXT)
    }

    fn malformed(text: &str) -> String {
        let err = read(text).expect_err(text);
        assert_eq!(err.kind, FailureKind::Malformed, "{err}");
        err.message
    }

    /// The messages of docs.cartesia.ai/api-reference/tts/websocket, as documented.
    #[test]
    fn the_documented_messages() {
        let chunk = format!(
            r#"{{"type":"chunk","data":"aSDinaTvuI8gbWludGxpZnk=","done":false,"status_code":206,"step_time":123,"context_id":"{CONTEXT}"}}"#
        );
        let pcm = base64::engine::general_purpose::STANDARD.decode("aSDinaTvuI8gbWludGxpZnk=").unwrap();
        assert_eq!(read(&chunk), Ok(Said::Audio { pcm, done: false }));
        let done = format!(r#"{{"type":"done","done":true,"status_code":206,"context_id":"{CONTEXT}"}}"#);
        assert_eq!(read(&done), Ok(Said::Done));
        for skipped in [
            format!(
                r#"{{"type":"flush_done","done":false,"flush_done":true,"flush_id":1,"status_code":206,"context_id":"{CONTEXT}"}}"#
            ),
            format!(
                r#"{{"type":"timestamps","done":false,"status_code":206,"context_id":"{CONTEXT}","word_timestamps":{{"words":["Hello","world"],"start":[0,0.5],"end":[0.4,0.9]}}}}"#
            ),
            format!(
                r#"{{"type":"phoneme_timestamps","done":false,"status_code":206,"context_id":"{CONTEXT}","phoneme_timestamps":{{"phonemes":["h"],"start":[0.093],"end":[0.174]}}}}"#
            ),
            r#"{"type":"a_type_added_later"}"#.to_string(),
        ] {
            assert_eq!(read(&skipped), Ok(Said::Nothing), "{skipped}");
        }
        // A last chunk that says it is the last.
        assert_eq!(
            read(r#"{"type":"chunk","data":"AAE=","done":true}"#),
            Ok(Said::Audio { pcm: vec![0, 1], done: true })
        );
        // `context_id` is optional (connection-level messages) and may be null.
        assert_eq!(read(r#"{"type":"done","context_id":null}"#), Ok(Said::Done));
    }

    /// Both documented error shapes keep Cartesia's words and status; the status picks the failure kind.
    #[test]
    fn error_messages_keep_the_providers_words_and_status() {
        let old = format!(
            r#"{{"type":"error","done":true,"error":"Invalid model: The model is not valid.","status_code":400,"context_id":"{CONTEXT}"}}"#
        );
        let err = read(&old).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (FailureKind::Rejected, "400: Invalid model: The model is not valid.")
        );
        let current = r#"{"type":"error","done":true,"title":"Invalid model","message":"The model is not valid.","error_code":"model_not_found","status_code":400}"#;
        let err = read(current).unwrap_err();
        assert_eq!(err.message, "400: Invalid model: The model is not valid. (model_not_found)");
        let err = read(r#"{"type":"error","status_code":429,"message":"Too many concurrent requests"}"#).unwrap_err();
        assert_eq!((err.kind, err.message.as_str()), (FailureKind::Overloaded, "429: Too many concurrent requests"));
        // No status, a status that is no HTTP status, no words: the server's fault, said so.
        for text in [
            r#"{"type":"error"}"#,
            r#"{"type":"error","status_code":70400}"#,
            r#"{"type":"error","status_code":-1,"error":""}"#,
            r#"{"type":"error","status_code":"400"}"#,
        ] {
            let err = read(text).unwrap_err();
            assert_eq!(
                (err.kind, err.message.as_str()),
                (FailureKind::Engine, "500: an error message without words"),
                "{text}"
            );
        }
        let long = format!(r#"{{"type":"error","status_code":400,"error":"{}"}}"#, "x".repeat(5000));
        assert_eq!(read(&long).unwrap_err().message.len(), "400: ".len() + 500, "a long reason is cut");
    }

    /// Whatever else the socket carries fails the generation with a reason, never a panic and never audio.
    #[test]
    fn malformed_messages_are_refused_precisely() {
        assert_eq!(malformed("not json"), "a message that is not JSON: not json");
        assert_eq!(malformed(""), "a message that is not JSON: ");
        assert_eq!(malformed("[1,2]"), "a message that is not a JSON object: [1,2]");
        assert_eq!(malformed("\"chunk\""), "a message that is not a JSON object: \"chunk\"");
        assert_eq!(malformed(r#"{"data":"AAE="}"#), r#"a message without a type: {"data":"AAE="}"#);
        assert_eq!(malformed(r#"{"type":7}"#), r#"a message whose type is not a string: {"type":7}"#);
        assert_eq!(malformed(r#"{"type":"chunk"}"#), r#"a chunk without base64 "data": {"type":"chunk"}"#);
        assert_eq!(
            malformed(r#"{"type":"chunk","data":null}"#),
            r#"a chunk without base64 "data": {"type":"chunk","data":null}"#
        );
        assert!(malformed(r#"{"type":"chunk","data":"%%%"}"#).starts_with("a chunk whose data is not base64 (Invalid"));
        let other = r#"{"type":"chunk","data":"AAE=","context_id":"someone-else"}"#;
        assert_eq!(malformed(other), format!("a message for another context than {CONTEXT}: {other}"));
        assert!(malformed(r#"{"type":"done","context_id":7}"#).starts_with("a message for another context"));
        // What the reason shows of the message is bounded (a multi-megabyte frame stays out of the log).
        let huge = format!(r#"{{"type":"chunk","data":"{}!"}}"#, "A".repeat(100_000));
        assert!(malformed(&huge).chars().count() < 300);
        let multibyte = format!("{}\u{fffd}", "é".repeat(300));
        assert_eq!(
            malformed(&multibyte),
            format!("a message that is not JSON: {}", "é".repeat(200)),
            "cut by characters"
        );
    }

    /// A chunk may end mid-sample: the bytes are returned as sent, the PCM decoder carries the odd byte.
    #[test]
    fn an_odd_chunk_is_returned_whole() {
        let Ok(Said::Audio { pcm, .. }) = read(r#"{"type":"chunk","data":"AQID"}"#) else { panic!("audio") };
        assert_eq!(pcm, [1, 2, 3]);
        let mut decoder = Pcm16Decoder::default();
        assert_eq!(decoder.push(&pcm), [i16::from_le_bytes([1, 2])]);
        assert_eq!(decoder.push(&[4]), [i16::from_le_bytes([3, 4])]);
    }
}
