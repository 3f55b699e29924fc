//! Google Cloud Speech-to-Text and Text-to-Speech over REST with an API key (`x-goog-api-key`).
//!
//! Recognition (cloud.google.com/speech-to-text/docs/reference/rest/v1/speech/recognize): each utterance the
//! VAD ends is posted to `POST {base}/v1/speech:recognize` as `{"config": {"encoding": "LINEAR16",
//! "sampleRateHertz": 16000, "languageCode": "hi-IN", "model", "enableAutomaticPunctuation": true}, "audio":
//! {"content": <base64>}}`, answered `{"results": [{"alternatives": [{"transcript", "confidence"}],
//! "languageCode"}], "totalBilledTime", "requestId"}` (no `results` when nothing was said); the utterance's
//! text is the first alternative of each result, in order.
//!
//! Synthesis (cloud.google.com/text-to-speech/docs/reference/rest/v1/text/synthesize): `POST
//! {base}/v1/text:synthesize` with `{"input": {"text"}, "voice": {"languageCode", "name"}, "audioConfig":
//! {"audioEncoding": "LINEAR16", "sampleRateHertz", "speakingRate", "pitch", "volumeGainDb"}}`, answered
//! `{"audioContent": <base64 WAV>}` (LINEAR16 comes with a WAV header). Speed, pitch and loudness reach the
//! voice. Errors are `{"error": {"code", "message", "status"}}`.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, TextToSpeech, TtsStream};

use crate::http::{self, RestAccount};
use crate::sarvam::wav_pcm16;
use crate::streams::{pcm16_bytes, spawn_audio, AudioEvent, Pcm16Decoder};
use crate::utterance::{buffered_stream, Transcriber};

/// Speech-to-Text's API root.
pub const DEFAULT_STT_BASE_URL: &str = "https://speech.googleapis.com";
/// Text-to-Speech's API root.
pub const DEFAULT_TTS_BASE_URL: &str = "https://texttospeech.googleapis.com";

/// A BCP-47 code as Google names the language: a bare `en` is `en-US`, other bare codes are the Indian
/// variant (`hi` → `hi-IN`), full codes pass.
pub fn language_code(language: &str) -> String {
    match language {
        "en" => "en-US".into(),
        code if code.contains('-') => code.into(),
        code => format!("{code}-IN"),
    }
}

/// The largest answer read (a long clause of WAV in base64).
const MAX_ANSWER: u64 = 16 << 20;

/// The answer of `sent` to `url` as JSON (at most [`MAX_ANSWER`] bytes).
fn read_json(url: &str, sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, ModelError> {
    http::json_answer(url, sent, MAX_ANSWER)
}

/// The recogniser: one `speech:recognize` request per utterance.
#[derive(Debug, Clone)]
pub struct GoogleStt {
    account: RestAccount,
}

impl GoogleStt {
    /// `model` (`latest_short`, `telephony`, `default`, …) at `base_url`.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self { account: RestAccount::new(base_url, model, api_key) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { account: self.account.with_timeout(timeout) }
    }
}

/// The `speech:recognize` body for 16 kHz `audio` in `language`.
pub fn recognize_body(model: &str, language: &str, audio: &[i16]) -> Value {
    json!({
        "config": {
            "encoding": "LINEAR16",
            "sampleRateHertz": 16000,
            "languageCode": language_code(language),
            "model": model,
            "enableAutomaticPunctuation": true,
        },
        "audio": {"content": base64::engine::general_purpose::STANDARD.encode(pcm16_bytes(audio))},
    })
}

/// The samples of the probe's silence: 100 ms at 16 kHz, the least Speech-to-Text bills.
const PROBE_SILENCE: usize = 1_600;

/// The body of the Speech-to-Text check and probe ([`crate::check::CheckedApi::GoogleStt`]): 100 ms of
/// silence in `en-US` with the default model, which any key allowed to recognise can ask for.
pub fn recognize_probe_body() -> Value {
    let mut body = recognize_body("", "en", &[0; PROBE_SILENCE]);
    if let Some(config) = body["config"].as_object_mut() {
        config.remove("model");
        config.remove("enableAutomaticPunctuation");
    }
    body
}

/// The text of a `speech:recognize` answer: each result's first alternative, joined.
pub fn recognized_text(answer: &Value) -> Result<String, String> {
    let Some(results) = answer.get("results") else {
        return if answer.is_object() { Ok(String::new()) } else { Err("not an object".into()) };
    };
    let results = results.as_array().ok_or("results is not a list")?;
    let mut text = Vec::new();
    for result in results {
        let transcript = result["alternatives"][0]["transcript"].as_str().ok_or("a result without a transcript")?;
        text.push(transcript.trim());
    }
    Ok(text.join(" ").trim().to_string())
}

impl SpeechToText for GoogleStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let account = self.account.clone();
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let url = account.url("/v1/speech:recognize");
            let body = recognize_body(&account.model, language, audio).to_string();
            let request = account
                .post(&url)
                .header("Content-Type", "application/json")
                .header("x-goog-api-key", &account.api_key);
            let answer = read_json(&url, request.send(body))?;
            recognized_text(&answer).map_err(|what| ModelError::new(FailureKind::Malformed, format!("{url}: {what}")))
        });
        buffered_stream("google-stt", language, transcriber)
    }
}

/// Where and how to synthesise.
#[derive(Clone, PartialEq)]
pub struct GoogleTtsConfig {
    /// The API root, `https://texttospeech.googleapis.com`.
    pub base_url: String,
    /// Sent as `x-goog-api-key`.
    pub api_key: String,
    /// The voice's name (`hi-IN-Neural2-A`, `en-IN-Chirp3-HD-Aoede`); its language comes from the name.
    pub voice: String,
    /// The language when the voice's name does not say (`hi` → `hi-IN`).
    pub language: String,
    /// Speaking rate, 0.25 to 4.0 (1.0 normal).
    pub speaking_rate: Option<f32>,
    /// Pitch in semitones, -20 to 20.
    pub pitch: Option<f32>,
    /// Loudness in dB, -96 to 16.
    pub volume_gain_db: Option<f32>,
    /// Sample rate asked for and played.
    pub sample_rate: u32,
}

impl std::fmt::Debug for GoogleTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleTtsConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("voice", &self.voice)
            .field("language", &self.language)
            .finish()
    }
}

impl GoogleTtsConfig {
    /// `voice` speaking `language` at `base_url`, 16 kHz.
    pub fn new(base_url: &str, voice: &str, language: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            voice: voice.to_string(),
            language: language.to_string(),
            speaking_rate: None,
            pitch: None,
            volume_gain_db: None,
            sample_rate: 16000,
        }
    }

    /// The voice's language: the `xx-YY` its name starts with, else the configured language.
    pub fn language_code(&self) -> String {
        let parts: Vec<&str> = self.voice.split('-').collect();
        if parts.len() >= 3 && parts[0].len() <= 3 && parts[1].len() == 2 {
            return format!("{}-{}", parts[0], parts[1]);
        }
        language_code(&self.language)
    }
}

/// The `text:synthesize` body.
pub fn synthesize_body(config: &GoogleTtsConfig, text: &str) -> Value {
    let mut audio = json!({"audioEncoding": "LINEAR16", "sampleRateHertz": config.sample_rate});
    if let Some(rate) = config.speaking_rate {
        audio["speakingRate"] = json!(rate);
    }
    if let Some(pitch) = config.pitch {
        audio["pitch"] = json!(pitch);
    }
    if let Some(gain) = config.volume_gain_db {
        audio["volumeGainDb"] = json!(gain);
    }
    let mut voice = json!({"languageCode": config.language_code()});
    if !config.voice.is_empty() {
        voice["name"] = json!(config.voice);
    }
    json!({"input": {"text": text}, "voice": voice, "audioConfig": audio})
}

/// The voice; its HTTP agent is shared by every clause.
#[derive(Clone)]
pub struct GoogleTts {
    config: Arc<GoogleTtsConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for GoogleTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleTts").field("config", &self.config).finish()
    }
}

impl GoogleTts {
    /// A client for `config`.
    pub fn new(config: GoogleTtsConfig) -> Self {
        Self { config: Arc::new(config), agent: http::agent(Duration::from_secs(15)) }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl TextToSpeech for GoogleTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        let body = synthesize_body(&config, text).to_string();
        // One answer holds the whole clause: a dropped stream simply discards it.
        spawn_audio("google-speak", config.sample_rate, move |events, _| synthesise(&agent, &config, body, events))
    }
}

fn synthesise(agent: &ureq::Agent, config: &GoogleTtsConfig, body: String, events: &Sender<AudioEvent>) {
    let url = format!("{}/v1/text:synthesize", config.base_url);
    let result = (|| {
        let request =
            agent.post(&url).header("Content-Type", "application/json").header("x-goog-api-key", &config.api_key);
        let answer = read_json(&url, request.send(body))?;
        let malformed = |what: &str| ModelError::new(FailureKind::Malformed, format!("{url}: {what}"));
        let content = answer["audioContent"].as_str().ok_or_else(|| malformed("no audioContent in the answer"))?;
        let wav = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|_| malformed("audioContent that is not base64"))?;
        let (rate, pcm) = wav_pcm16(&wav).ok_or_else(|| malformed("audio that is not 16-bit mono WAV"))?;
        if rate != config.sample_rate {
            return Err(malformed(&format!("audio at {rate} Hz, asked for {}", config.sample_rate)));
        }
        Ok(Pcm16Decoder::default().push(pcm))
    })();
    let _ = match result {
        Ok(samples) => events.send(AudioEvent::Samples(samples)).and_then(|()| events.send(AudioEvent::Done)),
        Err(err) => events.send(AudioEvent::Failed(err)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_join_their_first_alternatives_and_silence_is_no_words() {
        let answer = json!({"results": [
            {"alternatives": [{"transcript": "मुझे टिकट", "confidence": 0.9}, {"transcript": "x"}], "languageCode": "hi-in"},
            {"alternatives": [{"transcript": " चाहिए"}]}
        ], "totalBilledTime": "2s"});
        assert_eq!(recognized_text(&answer).unwrap(), "मुझे टिकट चाहिए");
        assert_eq!(recognized_text(&json!({"totalBilledTime": "1s"})).unwrap(), "");
        assert!(recognized_text(&json!({"results": [{"alternatives": []}]})).is_err());
        assert!(recognized_text(&json!([1])).is_err());
    }

    #[test]
    fn the_voice_name_gives_the_language() {
        let config = GoogleTtsConfig::new("x", "en-IN-Chirp3-HD-Aoede", "hi", "k");
        assert_eq!(config.language_code(), "en-IN");
        let config = GoogleTtsConfig::new("x", "", "ta", "k");
        assert_eq!(config.language_code(), "ta-IN");
        assert_eq!(language_code("en"), "en-US");
    }
}
