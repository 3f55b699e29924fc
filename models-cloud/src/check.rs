//! `voicera providers check`: each provider's cheapest authenticated request, so an operator learns that a
//! key is wrong before a caller does. Listing models where the API has it (nothing is generated, nothing
//! billed); Deepgram's projects; Google's voices (Text-to-Speech) and a recognition of 100 ms of silence
//! (Speech-to-Text); Bhashini's pipeline config; Sarvam, which lists nothing,
//! identifies the language of one word. The same requests probe a provider whose breaker is open
//! ([`check_within`]).

use std::time::Duration;

use voicera_models::{FailureKind, ModelError};

use crate::http;

/// The request that proves a key works, by API family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedApi {
    /// `GET {base}/models` with `Authorization: Bearer` (OpenAI, Groq, Together, xAI, vLLM, Ollama, …).
    OpenAiCompatible,
    /// `GET {base}/v1/models` with `x-api-key` and `anthropic-version`.
    Anthropic,
    /// `GET {base}/v1beta/models?pageSize=1` with `x-goog-api-key`.
    Gemini,
    /// `GET {base}/v1/projects` with `Authorization: Token`.
    Deepgram,
    /// `GET {base}/v1/models` with `xi-api-key`.
    ElevenLabs,
    /// `GET {base}/voices?limit=1` (the WebSocket root as `https://`) with `X-API-Key` and `Cartesia-Version`.
    Cartesia,
    /// `POST {base}/text-lid` with `api-subscription-key` and `{"input": "hello"}`: Sarvam's language
    /// identification (docs.sarvam.ai/api-reference-docs/text/identify-language: `POST
    /// https://api.sarvam.ai/text-lid`, header `api-subscription-key`, body `{"input"}`, answer `{"request_id",
    /// "language_code", "script_code"}`), its cheapest authenticated call.
    Sarvam,
    /// `GET {base}/v1/voices?languageCode=en-US` with `x-goog-api-key` (Text-to-Speech's voice list; the key
    /// serves Speech-to-Text too).
    GoogleTts,
    /// `POST {base}/v1/speech:recognize` with `x-goog-api-key` and 100 ms of silence (LINEAR16, 16 kHz,
    /// `en-US`), answered `{}` or `{"totalBilledTime", "requestId"}`: Speech-to-Text's own cheapest call, so a
    /// key scoped to Speech-to-Text alone is verified (and its link probed) without the voice list.
    GoogleStt,
    /// Bhashini's pipeline config call for Hindi ASR with `userID` and `ulcaApiKey` (the key is
    /// `<userID>:<ulcaApiKey>`).
    Bhashini,
    /// Dhruva's streaming ASR: the WebSocket opened with the inference key and started for Hindi, answered by
    /// `ready`, then ended without audio ([`crate::dhruva::check`]).
    Dhruva,
}

/// The largest answer read (model lists of aggregators run to megabytes).
const MAX_CHECK_BODY: u64 = 8 * 1024 * 1024;
/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes `api`'s check against `base_url` with `api_key`: `Ok` with what was verified, or the failure with the
/// provider's own message.
pub fn check(api: CheckedApi, base_url: &str, api_key: &str) -> Result<String, ModelError> {
    check_within(api, base_url, api_key, CHECK_TIMEOUT)
}

/// [`check`] waiting at most `timeout` to connect and for the answer's first byte.
pub fn check_within(api: CheckedApi, base_url: &str, api_key: &str, timeout: Duration) -> Result<String, ModelError> {
    let base = base_url.trim_end_matches('/');
    let agent = http::agent_within(timeout, timeout);
    let (url, sent) = match api {
        CheckedApi::OpenAiCompatible => {
            let url = format!("{base}/models");
            let sent = agent.get(&url).header("Authorization", &format!("Bearer {api_key}")).call();
            (url, sent)
        }
        CheckedApi::Anthropic => {
            let url = format!("{base}/v1/models");
            let request = agent.get(&url).header("x-api-key", api_key);
            (url.clone(), request.header("anthropic-version", crate::anthropic::API_VERSION).call())
        }
        CheckedApi::Gemini => {
            let url = format!("{base}/v1beta/models?pageSize=1");
            (url.clone(), agent.get(&url).header("x-goog-api-key", api_key).call())
        }
        CheckedApi::Deepgram => {
            let url = format!("{base}/v1/projects");
            (url.clone(), agent.get(&url).header("Authorization", &format!("Token {api_key}")).call())
        }
        CheckedApi::ElevenLabs => {
            let url = format!("{base}/v1/models");
            (url.clone(), agent.get(&url).header("xi-api-key", api_key).call())
        }
        CheckedApi::Cartesia => {
            let rest = base.strip_prefix("wss://").map(|r| format!("https://{r}"));
            let rest = rest.or_else(|| base.strip_prefix("ws://").map(|r| format!("http://{r}")));
            let url = format!("{}/voices?limit=1", rest.as_deref().unwrap_or(base));
            let request = agent.get(&url).header("X-API-Key", api_key);
            (url.clone(), request.header("Cartesia-Version", crate::cartesia::API_VERSION).call())
        }
        CheckedApi::Sarvam => {
            let url = format!("{base}/text-lid");
            let request = agent.post(&url).header("api-subscription-key", api_key);
            (url.clone(), request.header("Content-Type", "application/json").send(r#"{"input":"hello"}"#))
        }
        CheckedApi::GoogleTts => {
            let url = format!("{base}/v1/voices?languageCode=en-US");
            (url.clone(), agent.get(&url).header("x-goog-api-key", api_key).call())
        }
        CheckedApi::GoogleStt => {
            let url = format!("{base}/v1/speech:recognize");
            let body = crate::google::recognize_probe_body().to_string();
            let request = agent.post(&url).header("x-goog-api-key", api_key);
            (url.clone(), request.header("Content-Type", "application/json").send(body))
        }
        CheckedApi::Bhashini => return crate::bhashini::check(base, api_key, timeout),
        CheckedApi::Dhruva => return crate::dhruva::check(base, api_key, timeout),
    };
    let response = sent.map_err(|e| http::transport_error(&url, &e))?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(http::status_error(&url, response));
    }
    // The body is read so that a server that answers 200 with garbage is not taken for a working key.
    let body = response
        .into_body()
        .with_config()
        .limit(MAX_CHECK_BODY)
        .read_to_string()
        .map_err(|e| ModelError::new(FailureKind::Unreachable, format!("{url}: {e}")))?;
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(_)) | Ok(serde_json::Value::Array(_)) => Ok(format!("HTTP {status} from {url}")),
        _ => Err(ModelError::new(FailureKind::Malformed, format!("{url}: HTTP {status} but not a JSON answer"))),
    }
}
