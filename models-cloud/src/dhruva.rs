//! Bhashini's Dhruva streaming ASR over a WebSocket, as the original used it (reference §4: "Bhashini (Dhruva
//! WS …)"). The protocol followed here is the original's client
//! (`bhashini-dibd/voicera_mono_repository`, `voice_2_voice_server/services/bhashini/stt.py`, the WebSocket
//! version) and the protocol notes of a Bhashini WebSocket ASR test client taken from Bhashini's Python SDK:
//!
//! - `GET {base}/ws/v1/asr/stream?api_key=<inference key>` upgraded to a WebSocket (the key goes in the
//!   query; it is never logged, URLs are shown without their query);
//! - first a text message `{"type": "start", "controlConfig": {"dataTracking": false}, "config":
//!   {"serviceId": "bhashini/ai4b/indic-conformer/grpc", "language": {"sourceLanguage": "hi"}, "audioFormat":
//!   "pcm", "encoding": "raw", "samplingRate": 16000, "transcriptionFormat": {"value": "transcript"}},
//!   "streamingConfig": {"chunkDurationMs": 200, "interimResults": true, "endOfStreamPolicy":
//!   "client_signal"}}`;
//! - then caller audio as binary messages of little-endian 32-bit float samples in [-1, 1), 16 kHz mono, one
//!   message per `chunkDurationMs`;
//! - `{"type": "end"}` ends the stream (`client_signal`): the server answers with the final transcript;
//! - the server sends `{"type": "ready", "sessionId"}` once started, `{"type": "transcript", "output":
//!   [{"source": <text>}], "isFinal": bool}` (interim text replaces the previous interim), and `{"type":
//!   "error", "message"}`.
//!
//! As in the original, a socket serves one utterance: after its final (or the end's deadline) it closes and
//! the next socket is opened and started at once, so it is warm when the caller speaks again; audio heard
//! meanwhile waits in the stream's channel and is sent on the new socket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, Transcript};

use crate::deepgram::encode;
use crate::ws;

/// Dhruva's API root (the WebSocket host).
pub const DEFAULT_BASE_URL: &str = "wss://dhruva-api.bhashini.gov.in";
/// The streaming ASR path under the root.
pub const STREAM_PATH: &str = "/ws/v1/asr/stream";
/// The service the original streamed to: IndicConformer behind Dhruva's gRPC bridge.
pub const DEFAULT_SERVICE_ID: &str = "bhashini/ai4b/indic-conformer/grpc";
/// How long the final may take after `{"type": "end"}` (the original waited 0.8 s, then kept the interim).
const END_TIMEOUT: Duration = Duration::from_millis(1500);
/// Samples per second sent.
const RATE: u32 = 16_000;

/// Where and how to stream.
#[derive(Clone, PartialEq)]
pub struct DhruvaConfig {
    /// The API root, `wss://dhruva-api.bhashini.gov.in` (`https://` and `http://` are taken as `wss://`, `ws://`).
    pub base_url: String,
    /// The inference API key, sent as the `api_key` query parameter.
    pub api_key: String,
    /// The Dhruva service, e.g. `bhashini/ai4b/indic-conformer/grpc`.
    pub service_id: String,
    /// Milliseconds of audio per binary message (and `streamingConfig.chunkDurationMs`).
    pub chunk_ms: u32,
}

impl std::fmt::Debug for DhruvaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhruvaConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("service_id", &self.service_id)
            .field("chunk_ms", &self.chunk_ms)
            .finish()
    }
}

impl DhruvaConfig {
    /// `model` at `base_url`: a service id as Dhruva names it (`bhashini/ai4b/indic-conformer/grpc`), or its
    /// short name (`indic-conformer` → `bhashini/ai4b/indic-conformer/grpc`); 100 ms chunks.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        let model = model.trim();
        let service_id = if model.contains('/') { model.to_string() } else { format!("bhashini/ai4b/{model}/grpc") };
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            service_id,
            chunk_ms: 100,
        }
    }

    /// The WebSocket URL with the key in its query.
    pub fn stream_url(&self) -> String {
        let base = ws::ws_root(&self.base_url);
        format!("{base}{STREAM_PATH}?api_key={}", encode(&self.api_key))
    }

    /// The start message for a stream in `language` (ISO 639 code, `hi`; a region is dropped: `hi-IN` → `hi`).
    pub fn start_message(&self, language: &str) -> String {
        let language = language.split(['-', '_']).next().unwrap_or(language).to_ascii_lowercase();
        json!({
            "type": "start",
            "controlConfig": {"dataTracking": false},
            "config": {
                "serviceId": self.service_id,
                "language": {"sourceLanguage": language},
                "audioFormat": "pcm",
                "encoding": "raw",
                "samplingRate": RATE,
                "transcriptionFormat": {"value": "transcript"},
            },
            "streamingConfig": {
                "chunkDurationMs": self.chunk_ms,
                "interimResults": true,
                "endOfStreamPolicy": "client_signal",
            },
        })
        .to_string()
    }

    /// Samples per binary message.
    fn chunk_samples(&self) -> usize {
        (RATE as usize * self.chunk_ms.clamp(10, 1000) as usize) / 1000
    }
}

/// The message ending a stream (`endOfStreamPolicy: client_signal`).
pub const END_MESSAGE: &str = r#"{"type":"end"}"#;

/// 16-bit samples as Dhruva's audio: little-endian 32-bit floats, `sample / 32768`.
pub fn float32_bytes(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.len() * 4);
    for &sample in pcm {
        out.extend_from_slice(&(f32::from(sample) / 32768.0).to_le_bytes());
    }
    out
}

/// One socket's utterance, sans-IO: reads Dhruva's messages and says what they tell the engine.
#[derive(Debug, Default)]
pub struct DhruvaTranscript {
    /// Segments the server finalized on its own before the end.
    finals: String,
    /// The latest interim text.
    interim: String,
    /// `{"type": "end"}` was sent.
    ended: bool,
    /// The server said anything at all (ready, a transcript): it is alive.
    answered: bool,
}

impl DhruvaTranscript {
    /// The end was sent: the next final completes the utterance.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the end was sent.
    pub fn ended(&self) -> bool {
        self.ended
    }

    fn joined(&self, last: &str) -> String {
        match (self.finals.is_empty(), last.trim().is_empty()) {
            (true, _) => last.trim().to_string(),
            (false, true) => self.finals.clone(),
            (false, false) => format!("{} {}", self.finals, last.trim()),
        }
    }

    /// Reads one text message: a transcript for the engine, `Ok(None)` for session messages, an error for
    /// Dhruva's error message or garbage.
    pub fn on_message(&mut self, text: &str) -> Result<Option<Transcript>, ModelError> {
        let message: Value = serde_json::from_str(text).map_err(|_| {
            let shown: String = text.chars().take(200).collect();
            ModelError::new(FailureKind::Malformed, format!("unreadable message: {shown}"))
        })?;
        match message["type"].as_str() {
            Some("transcript") => {}
            Some("error") => {
                let said = message["message"].as_str().or(message["error"].as_str()).unwrap_or("an error message");
                return Err(ModelError::new(FailureKind::Engine, said.to_string()));
            }
            Some(_) => {
                // ready, and whatever else the session says.
                self.answered = true;
                return Ok(None);
            }
            None => return Err(ModelError::new(FailureKind::Malformed, "a message without a type".to_string())),
        }
        self.answered = true;
        let text = message["output"][0]["source"].as_str().unwrap_or_default().trim().to_string();
        let is_final = message["isFinal"] == true;
        if is_final && self.ended {
            self.interim.clear();
            let whole = self.joined(&text);
            self.finals.clear();
            self.ended = false;
            return Ok(Some(Transcript::Final(whole)));
        }
        if is_final {
            // A segment the server closed on its own pause.
            self.interim.clear();
            if !text.is_empty() {
                self.finals = self.joined(&text);
            }
            return Ok((!self.finals.is_empty()).then(|| Transcript::Partial(self.finals.clone())));
        }
        if text.is_empty() {
            return Ok(None);
        }
        self.interim = text;
        Ok(Some(Transcript::Partial(self.joined(&self.interim))))
    }

    /// No final came in time after the end: what was heard stands (the interim promoted, as the original
    /// did); a server that never said anything failed.
    pub fn give_up(&mut self, url: &str) -> Transcript {
        self.ended = false;
        if !self.answered {
            return Transcript::Failed(ModelError::new(
                FailureKind::TimedOut,
                format!("{url}: no answer to the end of the stream"),
            ));
        }
        let interim = std::mem::take(&mut self.interim);
        let whole = self.joined(&interim);
        self.finals.clear();
        Transcript::Final(whole)
    }

    /// The socket broke: after the end, what was heard stands; with nothing heard the utterance failed.
    pub fn broken(&mut self, reason: ModelError) -> Transcript {
        self.ended = false;
        let interim = std::mem::take(&mut self.interim);
        let whole = self.joined(&interim);
        self.finals.clear();
        if whole.is_empty() {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(whole)
        }
    }
}

/// The streaming ASR client; each call gets its own sockets, one per utterance.
#[derive(Debug, Clone)]
pub struct DhruvaStt {
    config: Arc<DhruvaConfig>,
    connect_timeout: Duration,
}

impl DhruvaStt {
    /// A client for `config`.
    pub fn new(config: DhruvaConfig) -> Self {
        Self { config: Arc::new(config), connect_timeout: ws::CONNECT_TIMEOUT }
    }

    /// Connects (TCP, TLS and the WebSocket handshake) within `timeout` (`[providers.dhruva] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

enum Command {
    Audio(Vec<i16>),
    End,
}

impl SpeechToText for DhruvaStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let (commands, command_receiver) = mpsc::channel();
        let (results, receiver) = mpsc::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancelled);
        let (config, language, timeout) = (Arc::clone(&self.config), language.to_string(), self.connect_timeout);
        let spawned = std::thread::Builder::new()
            .name("dhruva-asr".into())
            .spawn(move || run(&config, &language, timeout, &command_receiver, &results, &stop));
        let failure = spawned.err().map(|e| ModelError::new(FailureKind::Engine, format!("cannot start: {e}")));
        Box::new(DhruvaStream { commands, receiver, cancelled, failure })
    }
}

/// One call's recognition stream.
struct DhruvaStream {
    commands: Sender<Command>,
    receiver: Receiver<Transcript>,
    cancelled: Arc<AtomicBool>,
    failure: Option<ModelError>,
}

impl SttStream for DhruvaStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        let _ = self.commands.send(Command::Audio(pcm.to_vec()));
    }

    fn end_of_speech(&mut self) {
        let _ = self.commands.send(Command::End);
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        if let Some(failure) = self.failure.take() {
            return Some(Transcript::Failed(failure));
        }
        self.receiver.try_recv().ok()
    }
}

impl Drop for DhruvaStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// How one socket's session ended.
enum Session {
    /// The utterance is answered: open the next socket.
    Next,
    /// The stream object is gone.
    Stop,
}

/// The stream's thread: a socket per utterance until the stream object goes; after a failure each later
/// utterance fails with it.
fn run(
    config: &DhruvaConfig,
    language: &str,
    timeout: Duration,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) {
    let url = config.stream_url();
    let shown = url.split('?').next().unwrap_or(&url).to_string();
    let start = config.start_message(language);
    let failure = loop {
        if cancelled.load(Ordering::Relaxed) {
            return;
        }
        let mut state = DhruvaTranscript::default();
        let mut socket = match ws::connect_within(&url, &[], timeout) {
            Ok(socket) => socket,
            Err(err) => break err,
        };
        let session = socket
            .send(Message::Text(start.clone().into()))
            .map_err(|e| ws::error(&shown, e))
            .and_then(|()| utterance(&shown, config, &mut socket, &mut state, commands, results, cancelled));
        match session {
            Ok(session) => {
                let _ = socket.close(None);
                let _ = socket.flush();
                if matches!(session, Session::Stop) {
                    return;
                }
            }
            Err(err) => {
                if state.ended() {
                    let _ = results.send(state.broken(err.clone()));
                }
                break err;
            }
        }
    };
    tracing::warn!(error = %failure, "dhruva streaming recognition failed");
    while !cancelled.load(Ordering::Relaxed) {
        match commands.recv() {
            Ok(Command::End) => {
                let _ = results.send(Transcript::Failed(failure.clone()));
            }
            Ok(Command::Audio(_)) => {}
            Err(_) => return,
        }
    }
}

/// One socket: sends audio in chunks, the end on the engine's end of speech, and reads results until the
/// utterance's final.
fn utterance(
    url: &str,
    config: &DhruvaConfig,
    socket: &mut ws::Socket,
    state: &mut DhruvaTranscript,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) -> Result<Session, ModelError> {
    let chunk = config.chunk_samples();
    let mut pending: Vec<i16> = Vec::with_capacity(chunk);
    let mut end_deadline = None;
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Ok(Session::Stop);
        }
        // After the end, audio stays queued for the next socket.
        while end_deadline.is_none() {
            match commands.try_recv() {
                Ok(Command::Audio(samples)) => {
                    pending.extend_from_slice(&samples);
                    while pending.len() >= chunk {
                        let bytes = float32_bytes(&pending[..chunk]);
                        pending.drain(..chunk);
                        socket.send(Message::Binary(bytes.into())).map_err(|e| ws::error(url, e))?;
                    }
                }
                Ok(Command::End) => {
                    if !pending.is_empty() {
                        let bytes = float32_bytes(&pending);
                        pending.clear();
                        socket.send(Message::Binary(bytes.into())).map_err(|e| ws::error(url, e))?;
                    }
                    socket.send(Message::Text(END_MESSAGE.into())).map_err(|e| ws::error(url, e))?;
                    state.end();
                    end_deadline = Some(Instant::now() + END_TIMEOUT);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(Session::Stop),
            }
        }
        if let Some(deadline) = end_deadline {
            if !state.ended() {
                return Ok(Session::Next);
            }
            if Instant::now() >= deadline {
                let given_up = state.give_up(url);
                let failed = matches!(given_up, Transcript::Failed(_));
                if results.send(given_up).is_err() {
                    return Ok(Session::Stop);
                }
                if failed {
                    return Err(ModelError::new(FailureKind::TimedOut, format!("{url}: no answer to the end")));
                }
                return Ok(Session::Next);
            }
        }
        match socket.read() {
            Ok(Message::Text(text)) => {
                if let Some(transcript) = state.on_message(text.as_str()).map_err(|e| e.in_context(url))? {
                    if results.send(transcript).is_err() {
                        return Ok(Session::Stop);
                    }
                }
            }
            Ok(Message::Close(frame)) => return Err(ws::close_error(url, frame.as_ref())),
            Ok(Message::Binary(_)) => {
                return Err(ModelError::new(FailureKind::Malformed, format!("{url}: an unexpected binary message")))
            }
            Ok(_) => {}
            Err(err) if ws::is_idle(&err) => {}
            Err(err) => return Err(ws::error(url, err)),
        }
    }
}

/// Names the endpoint in an error read from a message.
trait InContext {
    fn in_context(self, url: &str) -> ModelError;
}

impl InContext for ModelError {
    fn in_context(mut self, url: &str) -> ModelError {
        self.message = format!("{url}: {}", self.message);
        self
    }
}

/// `voicera providers check` for Dhruva: opens the stream, starts it for Hindi, and waits for `ready` (or
/// Dhruva's error), then ends it without sending audio; nothing is transcribed.
pub fn check(base_url: &str, api_key: &str, timeout: Duration) -> Result<String, ModelError> {
    let config = DhruvaConfig::new(base_url, DEFAULT_SERVICE_ID, api_key);
    let url = config.stream_url();
    let shown = url.split('?').next().unwrap_or(&url).to_string();
    let mut socket = ws::connect_within(&url, &[], timeout)?;
    socket.send(Message::Text(config.start_message("hi").into())).map_err(|e| ws::error(&shown, e))?;
    let deadline = Instant::now() + timeout;
    let mut state = DhruvaTranscript::default();
    let verdict = loop {
        if Instant::now() >= deadline {
            break Err(ModelError::new(FailureKind::TimedOut, format!("{shown}: no answer to the start message")));
        }
        match socket.read() {
            Ok(Message::Text(text)) => match state.on_message(text.as_str()) {
                Ok(_) if state.answered => break Ok(format!("ready from {shown}")),
                Ok(_) => {}
                Err(err) => break Err(err.in_context(&shown)),
            },
            Ok(Message::Close(frame)) => break Err(ws::close_error(&shown, frame.as_ref())),
            Ok(_) => {}
            Err(err) if ws::is_idle(&err) => {}
            Err(err) => break Err(ws::error(&shown, err)),
        }
    };
    let _ = socket.send(Message::Text(END_MESSAGE.into()));
    let _ = socket.close(None);
    let _ = socket.flush();
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(text: &str, is_final: bool) -> String {
        json!({"type": "transcript", "output": [{"source": text}], "isFinal": is_final}).to_string()
    }

    #[test]
    fn interim_text_replaces_and_the_final_after_the_end_completes_the_utterance() {
        let mut state = DhruvaTranscript::default();
        assert_eq!(state.on_message(r#"{"type":"ready","sessionId":"s1"}"#).unwrap(), None);
        assert_eq!(state.on_message(&transcript("नमस्ते", false)).unwrap(), Some(Transcript::Partial("नमस्ते".into())));
        assert_eq!(
            state.on_message(&transcript("नमस्ते दोस्तों", false)).unwrap(),
            Some(Transcript::Partial("नमस्ते दोस्तों".into()))
        );
        // A segment the server closed on its own, then more speech.
        assert_eq!(
            state.on_message(&transcript("नमस्ते दोस्तों", true)).unwrap(),
            Some(Transcript::Partial("नमस्ते दोस्तों".into()))
        );
        assert_eq!(
            state.on_message(&transcript("कैसे", false)).unwrap(),
            Some(Transcript::Partial("नमस्ते दोस्तों कैसे".into()))
        );
        state.end();
        assert_eq!(
            state.on_message(&transcript("कैसे हो", true)).unwrap(),
            Some(Transcript::Final("नमस्ते दोस्तों कैसे हो".into()))
        );
        assert!(!state.ended());
    }

    #[test]
    fn errors_keep_dhruvas_message_and_garbage_is_malformed() {
        let mut state = DhruvaTranscript::default();
        let err = state.on_message(r#"{"type":"error","message":"Invalid serviceId"}"#).unwrap_err();
        assert_eq!((err.kind, err.message.as_str()), (FailureKind::Engine, "Invalid serviceId"));
        assert_eq!(state.on_message("{\"type\": \"trans").unwrap_err().kind, FailureKind::Malformed);
        assert_eq!(state.on_message("{}").unwrap_err().kind, FailureKind::Malformed);
    }

    #[test]
    fn an_unanswered_end_keeps_what_was_heard_and_fails_a_silent_server() {
        let mut state = DhruvaTranscript::default();
        state.end();
        assert!(matches!(state.give_up("wss://x"), Transcript::Failed(e) if e.kind == FailureKind::TimedOut));
        let mut state = DhruvaTranscript::default();
        state.on_message(&transcript("hello", false)).unwrap();
        state.end();
        assert_eq!(state.give_up("wss://x"), Transcript::Final("hello".into()), "the interim is promoted");
        let mut state = DhruvaTranscript::default();
        state.on_message(r#"{"type":"ready"}"#).unwrap();
        state.end();
        assert_eq!(state.give_up("wss://x"), Transcript::Final(String::new()), "silence");
    }

    #[test]
    fn the_start_message_url_and_audio_are_as_documented() {
        let config = DhruvaConfig::new("https://dhruva-api.bhashini.gov.in/", "indic-conformer", "k&y");
        assert_eq!(config.service_id, DEFAULT_SERVICE_ID);
        assert_eq!(config.stream_url(), "wss://dhruva-api.bhashini.gov.in/ws/v1/asr/stream?api_key=k%26y");
        let start: Value = serde_json::from_str(&config.start_message("hi-IN")).unwrap();
        assert_eq!(start["type"], "start");
        assert_eq!(start["config"]["serviceId"], DEFAULT_SERVICE_ID);
        assert_eq!(start["config"]["language"]["sourceLanguage"], "hi");
        assert_eq!(start["config"]["samplingRate"], 16000);
        assert_eq!(start["streamingConfig"]["endOfStreamPolicy"], "client_signal");
        assert_eq!(start["streamingConfig"]["interimResults"], true);
        assert_eq!(
            float32_bytes(&[0, 16384, -32768]),
            [0.0f32, 0.5, -1.0].iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<_>>()
        );
        assert!(!format!("{config:?}").contains("k&y"));
        assert_eq!(DhruvaConfig::new("wss://h", "a/b/c", "k").service_id, "a/b/c");
    }
}
