//! Sarvam Bulbul text to speech over REST (docs.sarvam.ai/api-reference-docs/text-to-speech/convert):
//! `POST {base}/text-to-speech` with `api-subscription-key` and `{"text", "target_language_code": "hi-IN",
//! "speaker", "model", "pace", "speech_sample_rate"}` (+ `pitch`, `loudness` on `bulbul:v2`, the only model
//! taking them), answered `{"request_id", "audios": [<base64 WAV>]}`. The original dropped pitch and
//! loudness; here they reach the model that takes them.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use voicera_models::{FailureKind, ModelError, TextToSpeech, TtsStream};

use crate::http::{self, RestAccount};
use crate::streams::{spawn_audio, AudioEvent, Pcm16Decoder};
use crate::utterance::{buffered_stream, multipart, text_answer, Transcriber, BOUNDARY};

/// Sarvam's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.sarvam.ai";

/// Where and how to synthesise.
#[derive(Clone, PartialEq)]
pub struct SarvamTtsConfig {
    /// The API root, `https://api.sarvam.ai`.
    pub base_url: String,
    /// Sent as `api-subscription-key`.
    pub api_key: String,
    /// `bulbul:v3` (the original's default, speaker `aditya`) or `bulbul:v2` (speaker `anushka`).
    pub model: String,
    /// The speaker's name.
    pub speaker: String,
    /// The language as Sarvam names it, `hi-IN`, `ta-IN`, `od-IN`, …
    pub language: String,
    /// Speaking pace (1.0 normal).
    pub pace: Option<f32>,
    /// Pitch, -0.75 to 0.75 (`bulbul:v2` only).
    pub pitch: Option<f32>,
    /// Loudness, 0.3 to 3.0 (`bulbul:v2` only).
    pub loudness: Option<f32>,
    /// Sample rate asked for and played.
    pub sample_rate: u32,
}

impl std::fmt::Debug for SarvamTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SarvamTtsConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("speaker", &self.speaker)
            .field("language", &self.language)
            .finish()
    }
}

impl SarvamTtsConfig {
    /// `model` speaking `language` (a bare code like `hi` becomes `hi-IN`) as `speaker`, 16 kHz.
    pub fn new(base_url: &str, model: &str, speaker: &str, language: &str, api_key: &str) -> Self {
        let language = match language {
            "or" => "od-IN".to_string(),
            code if code.contains('-') => code.to_string(),
            code => format!("{code}-IN"),
        };
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            speaker: speaker.to_string(),
            language,
            pace: None,
            pitch: None,
            loudness: None,
            sample_rate: 16000,
        }
    }
}

/// The request body.
pub fn request_body(config: &SarvamTtsConfig, text: &str) -> Value {
    let mut body = json!({
        "text": text,
        "target_language_code": config.language,
        "speaker": config.speaker,
        "model": config.model,
        "speech_sample_rate": config.sample_rate,
    });
    if let Some(pace) = config.pace {
        body["pace"] = json!(pace);
    }
    if config.model == "bulbul:v2" {
        if let Some(pitch) = config.pitch {
            body["pitch"] = json!(pitch);
        }
        if let Some(loudness) = config.loudness {
            body["loudness"] = json!(loudness);
        }
    }
    body
}

/// The client; its HTTP agent is shared by every utterance.
#[derive(Clone)]
pub struct SarvamTts {
    config: Arc<SarvamTtsConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for SarvamTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SarvamTts").field("config", &self.config).finish()
    }
}

impl SarvamTts {
    /// A client for `config`.
    pub fn new(config: SarvamTtsConfig) -> Self {
        Self { config: Arc::new(config), agent: http::agent(Duration::from_secs(15)) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl TextToSpeech for SarvamTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let body = request_body(&config, text).to_string();
        // One answer holds the whole audio: a dropped stream simply discards it.
        spawn_audio("sarvam-speak", config.sample_rate, move |events, _| synthesise(&agent, &config, &body, events))
    }
}

fn synthesise(agent: &ureq::Agent, config: &SarvamTtsConfig, body: &str, events: &Sender<AudioEvent>) {
    let url = format!("{}/text-to-speech", config.base_url);
    let result = (|| {
        let response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("api-subscription-key", &config.api_key)
            .send(body)
            .map_err(|e| http::transport_error(&url, &e))?;
        if !response.status().is_success() {
            return Err(http::status_error(&url, response));
        }
        let text = response
            .into_body()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| ModelError::new(FailureKind::Unreachable, format!("{url}: {e}")))?;
        let malformed = |what: &str| ModelError::new(FailureKind::Malformed, format!("{url}: {what}"));
        let answer: Value = serde_json::from_str(&text).map_err(|_| malformed("the answer is not JSON"))?;
        let mut samples = Vec::new();
        for audio in answer["audios"].as_array().ok_or_else(|| malformed("no audios in the answer"))? {
            let wav = base64::engine::general_purpose::STANDARD
                .decode(audio.as_str().unwrap_or_default())
                .map_err(|_| malformed("audio that is not base64"))?;
            let (rate, pcm) = wav_pcm16(&wav).ok_or_else(|| malformed("audio that is not 16-bit mono WAV"))?;
            if rate != config.sample_rate {
                return Err(malformed(&format!("audio at {rate} Hz, asked for {}", config.sample_rate)));
            }
            samples.extend(Pcm16Decoder::default().push(pcm));
        }
        Ok(samples)
    })();
    let _ = match result {
        Ok(samples) => events.send(AudioEvent::Samples(samples)).and_then(|()| events.send(AudioEvent::Done)),
        Err(err) => events.send(AudioEvent::Failed(err)),
    };
}

/// The sample rate and PCM bytes of a 16-bit mono PCM WAV file.
pub fn wav_pcm16(wav: &[u8]) -> Option<(u32, &[u8])> {
    if wav.len() < 12 || &wav[..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return None;
    }
    let mut rest = &wav[12..];
    let mut rate = None;
    while rest.len() >= 8 {
        let id = &rest[..4];
        let size = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let body = &rest[8..];
        let chunk = &body[..size.min(body.len())];
        if id == b"fmt " && chunk.len() >= 16 {
            let format = u16::from_le_bytes([chunk[0], chunk[1]]);
            let channels = u16::from_le_bytes([chunk[2], chunk[3]]);
            let bits = u16::from_le_bytes([chunk[14], chunk[15]]);
            if format != 1 || channels != 1 || bits != 16 {
                return None;
            }
            rate = Some(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        } else if id == b"data" {
            return Some((rate?, chunk));
        }
        let advance = (size + (size & 1)).min(body.len());
        rest = &body[advance..];
    }
    None
}

/// Saarika / Saaras speech to text over REST (docs.sarvam.ai/api-reference-docs/speech-to-text/transcribe):
/// `POST {base}/speech-to-text`, `multipart/form-data` with `file` (WAV), `model` and `language_code`
/// (`hi-IN`, or `unknown` to detect), answered `{"request_id", "transcript", "language_code"}`. Each utterance
/// is posted when the VAD ends it.
#[derive(Debug, Clone)]
pub struct SarvamStt {
    account: RestAccount,
}

impl SarvamStt {
    /// `model` (`saarika:v2.5`, the original's default) at `base_url`.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self { account: RestAccount::new(base_url, model, api_key) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { account: self.account.with_timeout(timeout) }
    }
}

impl voicera_models::SpeechToText for SarvamStt {
    fn stream(&self, language: &str) -> Box<dyn voicera_models::SttStream> {
        let account = self.account.clone();
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let url = account.url("/speech-to-text");
            let language = SarvamTtsConfig::new("", "", "", language, "").language;
            let body = multipart(&[("model", &account.model), ("language_code", &language)], audio);
            let request = account
                .post(&url)
                .header("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))
                .header("api-subscription-key", &account.api_key);
            text_answer(&url, request.send(&body[..]), "transcript")
        });
        buffered_stream("sarvam-stt", language, transcriber)
    }
}
