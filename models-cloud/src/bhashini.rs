//! Bhashini (India's National Language Translation Mission) speech to text and text to speech through the
//! ULCA pipeline (dibd-bhashini.gitbook.io/bhashini-apis: "Pipeline Config Call", "Pipeline Compute Call"):
//!
//! 1. The config call, `POST {config base}/ulca/apis/v0/model/getModelsPipeline` with headers `userID` and
//!    `ulcaApiKey`, body `{"pipelineTasks": [{"taskType": "asr"|"tts", "config": {"language":
//!    {"sourceLanguage": "hi"}}}], "pipelineRequestConfig": {"pipelineId"}}`, answers which service serves
//!    the task (`pipelineResponseConfig[0].config[0].serviceId`) and where and with which key to compute
//!    (`pipelineInferenceAPIEndPoint.callbackUrl`, `.inferenceApiKey {name, value}`).
//! 2. The compute call, `POST {callbackUrl}` with the header `{name}: {value}`: ASR `{"pipelineTasks":
//!    [{"taskType": "asr", "config": {"language", "serviceId", "audioFormat": "wav", "samplingRate": 16000}}],
//!    "inputData": {"audio": [{"audioContent": <base64 WAV>}]}}` → `{"pipelineResponse": [{"taskType":
//!    "asr", "output": [{"source": <text>}]}]}`; TTS `{"pipelineTasks": [{"taskType": "tts", "config":
//!    {"language", "serviceId", "gender", "samplingRate"}}], "inputData": {"input": [{"source": <text>}]}}` →
//!    `{"pipelineResponse": [{"taskType": "tts", "audio": [{"audioContent": <base64 WAV>}], "config":
//!    {"samplingRate"}}]}`.
//!
//! The config answer is kept per task and language and asked again after a refused compute call (an
//! expired inference key). The key is one secret, `<userID>:<ulcaApiKey>`.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, TextToSpeech, TtsStream};

use crate::http;
use crate::sarvam::wav_pcm16;
use crate::streams::{spawn_audio, AudioEvent, Pcm16Decoder};
use crate::utterance::{buffered_stream, wav_file, Transcriber};

/// The ULCA config endpoint's root.
pub const DEFAULT_BASE_URL: &str = "https://meity-auth.ulcacontrib.org";
/// MeitY's public pipeline (ASR, translation, TTS for the scheduled languages).
pub const DEFAULT_PIPELINE_ID: &str = "64392f96daac500b55c543cd";
/// The config call's path under the root.
pub const CONFIG_PATH: &str = "/ulca/apis/v0/model/getModelsPipeline";

/// A Bhashini account: the config root, the pipeline, and the two halves of the key.
#[derive(Clone, PartialEq)]
pub struct BhashiniAccount {
    /// The config call's root, `https://meity-auth.ulcacontrib.org`.
    pub base_url: String,
    /// The pipeline asked for services.
    pub pipeline_id: String,
    /// Sent as `userID`.
    pub user_id: String,
    /// Sent as `ulcaApiKey`.
    pub api_key: String,
}

impl std::fmt::Debug for BhashiniAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BhashiniAccount")
            .field("base_url", &self.base_url)
            .field("pipeline_id", &self.pipeline_id)
            .field("user_id", &self.user_id)
            .field("api_key", &"***")
            .finish()
    }
}

impl BhashiniAccount {
    /// The account at `base_url` for `key` = `<userID>:<ulcaApiKey>`, on `pipeline_id` (empty: MeitY's).
    pub fn new(base_url: &str, pipeline_id: &str, key: &str) -> Result<Self, ModelError> {
        let Some((user_id, api_key)) = key.split_once(':').filter(|(u, k)| !u.is_empty() && !k.is_empty()) else {
            return Err(ModelError::new(
                FailureKind::Rejected,
                "a Bhashini key is <userID>:<ulcaApiKey> (both from the Bhashini profile page)",
            ));
        };
        let pipeline_id = if pipeline_id.is_empty() { DEFAULT_PIPELINE_ID } else { pipeline_id };
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            pipeline_id: pipeline_id.to_string(),
            user_id: user_id.to_string(),
            api_key: api_key.to_string(),
        })
    }
}

/// What the config call settled for one task and language.
#[derive(Clone, PartialEq)]
pub struct ComputeTarget {
    /// The service that serves the task.
    pub service_id: String,
    /// Where to compute.
    pub callback_url: String,
    /// The inference key's header (`Authorization`) and value.
    pub key_header: (String, String),
}

impl std::fmt::Debug for ComputeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeTarget")
            .field("service_id", &self.service_id)
            .field("callback_url", &self.callback_url)
            .field("key_header", &self.key_header.0)
            .finish()
    }
}

/// The config call's body for `task` (`asr`, `tts`) in `language`.
pub fn config_body(pipeline_id: &str, task: &str, language: &str) -> Value {
    json!({
        "pipelineTasks": [{"taskType": task, "config": {"language": {"sourceLanguage": language}}}],
        "pipelineRequestConfig": {"pipelineId": pipeline_id},
    })
}

/// The service, endpoint and inference key from a config answer for `task`.
pub fn compute_target(answer: &Value, task: &str) -> Result<ComputeTarget, String> {
    let configs = answer["pipelineResponseConfig"].as_array().ok_or("no pipelineResponseConfig")?;
    let config = configs.iter().find(|c| c["taskType"] == task).ok_or(format!("no {task} service for the language"))?;
    let service_id = config["config"][0]["serviceId"].as_str().ok_or("no serviceId")?;
    let endpoint = &answer["pipelineInferenceAPIEndPoint"];
    let callback_url = endpoint["callbackUrl"].as_str().ok_or("no callbackUrl")?;
    let name = endpoint["inferenceApiKey"]["name"].as_str().ok_or("no inferenceApiKey")?;
    let value = endpoint["inferenceApiKey"]["value"].as_str().ok_or("no inferenceApiKey")?;
    if !(callback_url.starts_with("https://") || callback_url.starts_with("http://")) {
        return Err(format!("a callbackUrl that is not http(s): {callback_url}"));
    }
    Ok(ComputeTarget {
        service_id: service_id.to_string(),
        callback_url: callback_url.to_string(),
        key_header: (name.to_string(), value.to_string()),
    })
}

/// The shared client: the HTTP agent and the config answers so far.
struct Pipeline {
    account: BhashiniAccount,
    agent: ureq::Agent,
    targets: Mutex<HashMap<(String, String), ComputeTarget>>,
}

const MAX_ANSWER: u64 = 16 << 20;

/// The answer of `sent` to `url` as JSON (at most [`MAX_ANSWER`] bytes).
fn read_json(url: &str, sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, ModelError> {
    http::json_answer(url, sent, MAX_ANSWER)
}

impl Pipeline {
    fn new(account: BhashiniAccount, timeout: Duration) -> Pipeline {
        Pipeline {
            account,
            agent: http::agent_within(timeout.min(Duration::from_secs(5)), timeout),
            targets: Mutex::default(),
        }
    }

    /// The config call (or its kept answer) for `task` in `language`.
    fn target(&self, task: &str, language: &str) -> Result<ComputeTarget, ModelError> {
        let key = (task.to_string(), language.to_string());
        if let Some(target) = self.targets.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(target.clone());
        }
        let url = format!("{}{CONFIG_PATH}", self.account.base_url);
        let body = config_body(&self.account.pipeline_id, task, language).to_string();
        let request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("userID", &self.account.user_id)
            .header("ulcaApiKey", &self.account.api_key);
        let answer = read_json(&url, request.send(body))?;
        let target = compute_target(&answer, task).map_err(|what| {
            let kind = if what.starts_with("no asr") || what.starts_with("no tts") {
                FailureKind::Unsupported
            } else {
                FailureKind::Malformed
            };
            ModelError::new(kind, format!("{url}: {what} ({language})"))
        })?;
        self.targets.lock().unwrap_or_else(|p| p.into_inner()).insert(key, target.clone());
        Ok(target)
    }

    /// The compute call for `task` in `language` with `config` added to the task's config and `input`.
    fn compute(&self, task: &str, language: &str, config: Value, input: Value) -> Result<Value, ModelError> {
        let target = self.target(task, language)?;
        let mut task_config = json!({"language": {"sourceLanguage": language}, "serviceId": target.service_id});
        if let (Some(into), Some(extra)) = (task_config.as_object_mut(), config.as_object()) {
            into.extend(extra.clone());
        }
        let body = json!({"pipelineTasks": [{"taskType": task, "config": task_config}], "inputData": input});
        let url = target.callback_url.clone();
        let request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header(target.key_header.0.as_str(), target.key_header.1.as_str());
        let result = read_json(&url, request.send(body.to_string()));
        if matches!(&result, Err(e) if e.kind == FailureKind::Rejected) {
            // An expired or revoked inference key: the next call asks the config again.
            self.targets.lock().unwrap_or_else(|p| p.into_inner()).remove(&(task.to_string(), language.to_string()));
        }
        let answer = result?;
        let response = answer["pipelineResponse"]
            .as_array()
            .and_then(|r| r.iter().find(|t| t["taskType"] == task))
            .cloned()
            .ok_or_else(|| ModelError::new(FailureKind::Malformed, format!("{url}: no {task} in pipelineResponse")))?;
        Ok(response)
    }
}

/// Bhashini's languages are ISO 639 codes (`hi`, `brx`, `mni`); a BCP-47 region is dropped.
fn bhashini_language(language: &str) -> String {
    language.split('-').next().unwrap_or(language).to_ascii_lowercase()
}

/// Speech to text: each utterance the VAD ends is one compute call.
#[derive(Clone)]
pub struct BhashiniStt {
    pipeline: Arc<Pipeline>,
}

impl std::fmt::Debug for BhashiniStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BhashiniStt").field("account", &self.pipeline.account).finish()
    }
}

impl BhashiniStt {
    /// A recogniser on `account`, each call waiting at most `timeout` for its answer's first byte.
    pub fn new(account: BhashiniAccount, timeout: Duration) -> Self {
        Self { pipeline: Arc::new(Pipeline::new(account, timeout)) }
    }
}

impl SpeechToText for BhashiniStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let pipeline = Arc::clone(&self.pipeline);
        let transcriber: Transcriber = Arc::new(move |language: &str, audio: &[i16]| {
            let language = bhashini_language(language);
            let content = base64::engine::general_purpose::STANDARD.encode(wav_file(audio));
            let config = json!({"audioFormat": "wav", "samplingRate": 16000});
            let input = json!({"audio": [{"audioContent": content}]});
            let response = pipeline.compute("asr", &language, config, input)?;
            match response["output"][0]["source"].as_str() {
                Some(text) => Ok(text.trim().to_string()),
                None if response["output"].as_array().is_some_and(Vec::is_empty) => Ok(String::new()),
                None => {
                    Err(ModelError::new(FailureKind::Malformed, "Bhashini: an asr answer without output[0].source"))
                }
            }
        });
        buffered_stream("bhashini-stt", language, transcriber)
    }
}

/// Text to speech: each clause is one compute call answering a WAV file.
#[derive(Clone)]
pub struct BhashiniTts {
    pipeline: Arc<Pipeline>,
    language: String,
    /// `female` or `male`.
    gender: String,
    sample_rate: u32,
}

impl std::fmt::Debug for BhashiniTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BhashiniTts")
            .field("account", &self.pipeline.account)
            .field("language", &self.language)
            .field("gender", &self.gender)
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

/// The rate asked of Bhashini's TTS (`samplingRate`) when none is set: the engine's, so nothing is
/// resampled on the way in.
pub const DEFAULT_TTS_RATE: u32 = 16_000;

impl BhashiniTts {
    /// A voice of `gender` (`female`, `male`) speaking `language` on `account`, at [`DEFAULT_TTS_RATE`].
    pub fn new(account: BhashiniAccount, language: &str, gender: &str, timeout: Duration) -> Self {
        Self {
            pipeline: Arc::new(Pipeline::new(account, timeout)),
            language: bhashini_language(language),
            gender: gender.to_string(),
            sample_rate: DEFAULT_TTS_RATE,
        }
    }

    /// Asks for audio at `rate` (the compute call's `samplingRate`; 8 kHz for a telephony-only path, 22.05 or
    /// 44.1 kHz for a service's native rate) and declares it on every stream, so the pipeline resamples it to
    /// the engine's and the call's rates. A service that answers another rate than asked fails the clause
    /// naming both (never played at the wrong speed and pitch).
    pub fn with_sample_rate(mut self, rate: u32) -> Self {
        self.sample_rate = rate;
        self
    }

    /// The rate asked for and declared.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}

impl TextToSpeech for BhashiniTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (pipeline, text) = (Arc::clone(&self.pipeline), text.to_string());
        let (language, gender, rate) = (self.language.clone(), self.gender.clone(), self.sample_rate);
        spawn_audio("bhashini-speak", rate, move |events, _| {
            let result = synthesise(&pipeline, &language, &gender, rate, &text);
            send(events, result);
        })
    }
}

fn send(events: &Sender<AudioEvent>, result: Result<Vec<i16>, ModelError>) {
    let _ = match result {
        Ok(samples) => events.send(AudioEvent::Samples(samples)).and_then(|()| events.send(AudioEvent::Done)),
        Err(err) => events.send(AudioEvent::Failed(err)),
    };
}

fn synthesise(
    pipeline: &Pipeline,
    language: &str,
    gender: &str,
    rate: u32,
    text: &str,
) -> Result<Vec<i16>, ModelError> {
    let config = json!({"gender": gender, "samplingRate": rate});
    let input = json!({"input": [{"source": text}]});
    let response = pipeline.compute("tts", language, config, input)?;
    let malformed = |what: &str| ModelError::new(FailureKind::Malformed, format!("Bhashini tts: {what}"));
    let content = response["audio"][0]["audioContent"].as_str().ok_or_else(|| malformed("no audio[0].audioContent"))?;
    let wav = base64::engine::general_purpose::STANDARD.decode(content).map_err(|_| malformed("audio not base64"))?;
    let (got, pcm) = wav_pcm16(&wav).ok_or_else(|| malformed("audio that is not 16-bit mono WAV"))?;
    if got != rate {
        return Err(malformed(&format!("audio at {got} Hz, asked for {rate}")));
    }
    Ok(Pcm16Decoder::default().push(pcm))
}

/// The check: a config call for Hindi ASR (nothing is computed, nothing billed).
pub fn check(base_url: &str, key: &str, timeout: Duration) -> Result<String, ModelError> {
    let account = BhashiniAccount::new(base_url, "", key)?;
    let pipeline = Pipeline::new(account, timeout);
    let target = pipeline.target("asr", "hi")?;
    Ok(format!("the pipeline serves Hindi ASR with {}", target.service_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_answer_gives_the_service_endpoint_and_key() {
        let answer = json!({
            "languages": [{"sourceLanguage": "hi", "targetLanguageList": []}],
            "pipelineResponseConfig": [{"taskType": "asr", "config": [
                {"serviceId": "ai4bharat/conformer-hi-gpu--t4", "modelId": "m", "language": {"sourceLanguage": "hi"}}
            ]}],
            "pipelineInferenceAPIEndPoint": {
                "callbackUrl": "https://dhruva-api.bhashini.gov.in/services/inference/pipeline",
                "inferenceApiKey": {"name": "Authorization", "value": "inf-key"},
                "isMultilingualEnabled": true, "isSyncApi": true
            }
        });
        let target = compute_target(&answer, "asr").unwrap();
        assert_eq!(target.service_id, "ai4bharat/conformer-hi-gpu--t4");
        assert_eq!(target.key_header, ("Authorization".into(), "inf-key".into()));
        assert!(!format!("{target:?}").contains("inf-key"));
        assert!(compute_target(&answer, "tts").unwrap_err().contains("no tts service"));
        assert!(BhashiniAccount::new("x", "", "no-colon").is_err());
        assert_eq!(bhashini_language("hi-IN"), "hi");
    }
}
