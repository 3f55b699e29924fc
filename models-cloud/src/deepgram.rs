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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, TextToSpeech, Transcript, TtsStream};

use crate::streams::{pcm16_bytes, pump_pcm, spawn_audio, AudioEvent};
use crate::{http, ws};

/// Deepgram's API root for both clients; the STT client speaks WebSocket to the same host.
pub const DEFAULT_BASE_URL: &str = "https://api.deepgram.com";

/// How long the final transcript may take after `Finalize` while words are still interim.
const FINALIZE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long to wait after `Finalize` when every word heard is already final: Deepgram answers `Finalize`
/// only when it has audio buffered, so with nothing pending the utterance is complete after this grace.
const FINALIZE_GRACE: Duration = Duration::from_millis(300);
/// A socket without audio this long gets a `KeepAlive` (Deepgram closes one silent for 10 s).
const KEEP_ALIVE: Duration = Duration::from_secs(4);

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
        let base = if let Some(rest) = self.base_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base_url.clone()
        };
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
}

impl DeepgramStt {
    /// A client for `config`.
    pub fn new(config: DeepgramSttConfig) -> Self {
        Self { config: Arc::new(config) }
    }
}

enum Command {
    Audio(Vec<u8>),
    Finalize,
}

impl SpeechToText for DeepgramStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let (commands, command_receiver) = mpsc::channel();
        let (results, receiver) = mpsc::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancelled);
        let url = self.config.listen_url(language);
        let key = format!("Token {}", self.config.api_key);
        let spawned = std::thread::Builder::new()
            .name("deepgram-listen".into())
            .spawn(move || run_listen(&url, &key, &command_receiver, &results, &stop));
        let failure = spawned.err().map(|e| ModelError::new(FailureKind::Engine, format!("cannot start: {e}")));
        Box::new(DeepgramStream { commands, receiver, cancelled, failure })
    }
}

/// One call's recognition stream.
struct DeepgramStream {
    commands: Sender<Command>,
    receiver: Receiver<Transcript>,
    cancelled: Arc<AtomicBool>,
    /// The thread could not start: every utterance fails with this.
    failure: Option<ModelError>,
}

impl SttStream for DeepgramStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        let _ = self.commands.send(Command::Audio(pcm16_bytes(pcm)));
    }

    fn end_of_speech(&mut self) {
        if self.commands.send(Command::Finalize).is_err() {
            // The thread is gone; the poll below reports it.
        }
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        if let Some(failure) = self.failure.take() {
            return Some(Transcript::Failed(failure));
        }
        self.receiver.try_recv().ok()
    }
}

impl Drop for DeepgramStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The utterance being heard, from `Results` messages, sans-IO.
#[derive(Debug, Default)]
pub struct LiveTranscript {
    /// Final segments of the utterance so far.
    finals: String,
    /// A `Finalize` was sent and its answer is awaited.
    finalizing: bool,
    /// The latest result was interim: words heard that are not final yet.
    interim_pending: bool,
}

impl LiveTranscript {
    /// A `Finalize` was sent: the next `from_finalize` result completes the utterance.
    pub fn finalize(&mut self) {
        self.finalizing = true;
    }

    /// Whether a `Finalize` awaits its answer.
    pub fn finalizing(&self) -> bool {
        self.finalizing
    }

    /// Whether words were heard that are not final yet (then `Finalize` will be answered).
    pub fn interim_pending(&self) -> bool {
        self.interim_pending
    }

    /// The answer to `Finalize` did not come in time: the utterance ends with the final words heard; with
    /// none, it fails if interim words were lost, else it was silence (an empty final).
    pub fn give_up(&mut self, reason: ModelError) -> Transcript {
        self.finalizing = false;
        let lost = std::mem::take(&mut self.interim_pending);
        let text = std::mem::take(&mut self.finals);
        if text.is_empty() && lost {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(text)
        }
    }

    /// The stream broke while `Finalize` awaited its answer: the final words heard stand; with none, the
    /// utterance failed (words may have been lost with the connection).
    pub fn broken(&mut self, reason: ModelError) -> Transcript {
        self.finalizing = false;
        self.interim_pending = false;
        let text = std::mem::take(&mut self.finals);
        if text.is_empty() {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(text)
        }
    }

    /// Reads one text message; returns what it tells the engine.
    pub fn on_message(&mut self, text: &str) -> Result<Option<Transcript>, ModelError> {
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
            Some(_) => return Ok(None), // Metadata, SpeechStarted, UtteranceEnd
            None => {
                return Err(ModelError::new(FailureKind::Malformed, "a message without a type".to_string()));
            }
        }
        let transcript = message["channel"]["alternatives"][0]["transcript"].as_str().unwrap_or_default().trim();
        let is_final = message["is_final"] == true;
        self.interim_pending = !is_final && !transcript.is_empty();
        if is_final && !transcript.is_empty() {
            if !self.finals.is_empty() {
                self.finals.push(' ');
            }
            self.finals.push_str(transcript);
        }
        if message["from_finalize"] == true && self.finalizing {
            self.finalizing = false;
            return Ok(Some(Transcript::Final(std::mem::take(&mut self.finals))));
        }
        if is_final {
            return Ok((!self.finals.is_empty()).then(|| Transcript::Partial(self.finals.clone())));
        }
        if transcript.is_empty() {
            return Ok(None);
        }
        let partial =
            if self.finals.is_empty() { transcript.to_string() } else { format!("{} {transcript}", self.finals) };
        Ok(Some(Transcript::Partial(partial)))
    }
}

/// The stream's thread: connects, then forwards audio and `Finalize` and reads results until the stream
/// object is dropped. After a failure, each later utterance fails with it.
fn run_listen(
    url: &str,
    key: &str,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) {
    let shown = url.split('?').next().unwrap_or(url).to_string();
    let mut state = LiveTranscript::default();
    let failure = match ws::connect(url, &[("Authorization", key)]) {
        Ok(mut socket) => match listen(&shown, &mut socket, &mut state, commands, results, cancelled) {
            Ok(()) => {
                let _ = socket.send(Message::Text(json!({"type": "CloseStream"}).to_string().into()));
                let _ = socket.close(None);
                let _ = socket.flush();
                return;
            }
            Err(err) => err,
        },
        Err(err) => err,
    };
    tracing::warn!(error = %failure, "deepgram stream failed");
    if state.finalizing() {
        let _ = results.send(state.broken(failure.clone()));
    }
    // Dead: each utterance ends failed until the stream object goes.
    while !cancelled.load(Ordering::Relaxed) {
        match commands.recv() {
            Ok(Command::Finalize) => {
                let _ = results.send(Transcript::Failed(failure.clone()));
            }
            Ok(Command::Audio(_)) => {}
            Err(_) => return,
        }
    }
}

fn listen(
    url: &str,
    socket: &mut ws::Socket,
    state: &mut LiveTranscript,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let mut last_sent = Instant::now();
    let mut finalize_deadline = None;
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Ok(());
        }
        loop {
            match commands.try_recv() {
                Ok(Command::Audio(bytes)) => {
                    socket.send(Message::Binary(bytes.into())).map_err(|e| ws::error(url, e))?;
                    last_sent = Instant::now();
                }
                Ok(Command::Finalize) => {
                    socket
                        .send(Message::Text(json!({"type": "Finalize"}).to_string().into()))
                        .map_err(|e| ws::error(url, e))?;
                    state.finalize();
                    let wait = if state.interim_pending() { FINALIZE_TIMEOUT } else { FINALIZE_GRACE };
                    finalize_deadline = Some(Instant::now() + wait);
                    last_sent = Instant::now();
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        if last_sent.elapsed() >= KEEP_ALIVE {
            socket
                .send(Message::Text(json!({"type": "KeepAlive"}).to_string().into()))
                .map_err(|e| ws::error(url, e))?;
            last_sent = Instant::now();
        }
        if let Some(deadline) = finalize_deadline {
            if !state.finalizing() {
                finalize_deadline = None;
            } else if Instant::now() >= deadline {
                finalize_deadline = None;
                let reason = ModelError::new(FailureKind::TimedOut, format!("{url}: no answer to Finalize"));
                if results.send(state.give_up(reason)).is_err() {
                    return Ok(());
                }
            }
        }
        match socket.read() {
            Ok(Message::Text(text)) => {
                if let Some(transcript) = state.on_message(text.as_str())? {
                    if results.send(transcript).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(Message::Close(frame)) => return Err(ws::close_error(url, frame.as_ref())),
            Ok(Message::Binary(_)) => {
                return Err(ModelError::new(FailureKind::Malformed, format!("{url}: an unexpected binary message")))
            }
            Ok(_) => {} // ping, pong
            Err(err) if ws::is_idle(&err) => {}
            Err(err) => return Err(ws::error(url, err)),
        }
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
    use super::*;

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
            state.on_message(&results("book a", false, false)).unwrap(),
            Some(Transcript::Partial("book a".into()))
        );
        assert_eq!(
            state.on_message(&results("book a table", true, false)).unwrap(),
            Some(Transcript::Partial("book a table".into()))
        );
        assert_eq!(
            state.on_message(&results("for two", false, false)).unwrap(),
            Some(Transcript::Partial("book a table for two".into()))
        );
        state.finalize();
        assert_eq!(
            state.on_message(&results("for two", true, true)).unwrap(),
            Some(Transcript::Final("book a table for two".into()))
        );
        assert!(!state.finalizing());
        assert_eq!(state.on_message(r#"{"type":"SpeechStarted","channel":[0],"timestamp":1.0}"#).unwrap(), None);
        assert_eq!(state.on_message("garbage").unwrap_err().kind, FailureKind::Malformed);
    }

    #[test]
    fn an_unanswered_finalize_keeps_final_words_and_fails_only_when_words_were_lost() {
        let timeout = || ModelError::new(FailureKind::TimedOut, "no answer to Finalize");
        let mut state = LiveTranscript::default();
        state.finalize();
        assert_eq!(state.give_up(timeout()), Transcript::Final(String::new()), "silence: nothing was heard");
        state.on_message(&results("hello", false, false)).unwrap();
        state.finalize();
        assert!(state.interim_pending());
        assert!(matches!(state.give_up(timeout()), Transcript::Failed(e) if e.kind == FailureKind::TimedOut));
        state.on_message(&results("hello", true, false)).unwrap();
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
