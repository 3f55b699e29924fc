//! What every HTTP client here shares: one way to build the agent (timeouts, TLS roots, status codes read as
//! answers), one mapping from statuses and transport errors to [`FailureKind`], and one reader of providers'
//! error bodies that keeps their own words.

use std::time::Duration;

use serde_json::Value;
use voicera_models::{FailureKind, ModelError};

/// How long a streamed answer may take in all.
pub(crate) const STREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// Error bodies are read up to this size.
pub(crate) const MAX_ERROR_BODY: u64 = 64 * 1024;

/// An agent with a 5 s connect timeout, `first_byte` for the response head, [`STREAM_TIMEOUT`] for the body,
/// and error statuses returned as responses (their bodies carry the provider's message).
pub(crate) fn agent(first_byte: Duration) -> ureq::Agent {
    agent_within(Duration::from_secs(5), first_byte)
}

/// An agent with `connect` to connect (and TLS), `first_byte` for the response head (a provider's
/// `timeout_ms` sets both), [`STREAM_TIMEOUT`] for the body, error statuses returned as responses.
pub(crate) fn agent_within(connect: Duration, first_byte: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(connect))
        .timeout_recv_response(Some(first_byte))
        .timeout_recv_body(Some(STREAM_TIMEOUT))
        .http_status_as_error(false)
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
        .build()
        .into()
}

/// An account at a REST provider whose clients post one request per utterance (Google, Sarvam and OpenAI
/// transcription): the API root, the key, the model, and the HTTP agent every request shares. `Debug` masks
/// the key.
#[derive(Clone)]
pub struct RestAccount {
    /// The API root, without a trailing `/`.
    pub base_url: String,
    /// The provider's key (sent the way each provider wants it).
    pub api_key: String,
    /// The model asked for.
    pub model: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RestAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestAccount")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

impl RestAccount {
    /// How long an answer's first byte may take when no `timeout_ms` is set.
    pub const DEFAULT_FIRST_BYTE: Duration = Duration::from_secs(15);

    /// `model` at `base_url` with `api_key`: 5 s to connect, [`Self::DEFAULT_FIRST_BYTE`] to the first byte.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            agent: agent(Self::DEFAULT_FIRST_BYTE),
        }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent_within(timeout, timeout);
        self
    }

    /// `path` (starting with `/`) under the API root.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A `POST` to `url` with the shared agent.
    pub(crate) fn post(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        self.agent.post(url)
    }
}

/// What an HTTP error status means for the next try: 429, 503 and Anthropic's 529 are a busy provider, other
/// 4xx a request it will keep refusing, other 5xx its own failure.
pub fn status_kind(status: u16) -> FailureKind {
    match status {
        429 | 503 | 529 => FailureKind::Overloaded,
        400..=499 => FailureKind::Rejected,
        _ => FailureKind::Engine,
    }
}

/// A request that got no response: a timeout, or the provider could not be reached.
pub(crate) fn transport_error(url: &str, err: &ureq::Error) -> ModelError {
    let kind = match err {
        ureq::Error::Timeout(_) => FailureKind::TimedOut,
        ureq::Error::Io(io) if is_timeout(io) => FailureKind::TimedOut,
        _ => FailureKind::Unreachable,
    };
    ModelError::new(kind, format!("{url}: {err}"))
}

/// A provider's JSON answer of at most `limit` bytes: a failed send, an error status (its message kept), a
/// broken read or a body that is not JSON each become the [`ModelError`] that says so.
pub(crate) fn json_answer(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<serde_json::Value, ModelError> {
    let response = sent.map_err(|e| transport_error(url, &e))?;
    if !response.status().is_success() {
        return Err(status_error(url, response));
    }
    let text = response
        .into_body()
        .with_config()
        .limit(limit)
        .read_to_string()
        .map_err(|e| ModelError::new(FailureKind::Unreachable, format!("{url}: {e}")))?;
    serde_json::from_str(&text).map_err(|_| {
        let shown: String = text.chars().take(200).collect();
        ModelError::new(FailureKind::Malformed, format!("{url}: not JSON: {shown}"))
    })
}

/// A read of a body that broke.
pub(crate) fn read_error(url: &str, err: &std::io::Error) -> ModelError {
    let kind = if is_timeout(err) { FailureKind::TimedOut } else { FailureKind::Unreachable };
    ModelError::new(kind, format!("{url}: the stream broke: {err}"))
}

pub(crate) fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)
}

/// An answer with an error status: its kind, and the provider's message from the body.
pub(crate) fn status_error(url: &str, response: ureq::http::Response<ureq::Body>) -> ModelError {
    let status = response.status().as_u16();
    let wait = retry_after(status, response.headers());
    let text = response.into_body().with_config().limit(MAX_ERROR_BODY).read_to_string().unwrap_or_default();
    ModelError::new(status_kind(status), format!("{url}: HTTP {status}: {}", error_message(&text)))
        .with_retry_after(wait)
}

/// The longest `Retry-After` honoured: a provider asking for more is tried again after this anyway.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How long a 429 or 503 answer asks the client to wait: `Retry-After` in seconds (RFC 9110 §10.2.3; the
/// HTTP-date form is read as no hint), at most [`MAX_RETRY_AFTER`]. Other statuses give none.
pub fn retry_after(status: u16, headers: &ureq::http::HeaderMap) -> Option<Duration> {
    if !matches!(status, 429 | 503) {
        return None;
    }
    let seconds: u64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// The provider's message from an error body, in the shapes they use: OpenAI and Anthropic
/// `{"error": {"message"}}`, Google `{"error": {"message", "status"}}`, Deepgram `{"err_msg"}`, ElevenLabs
/// `{"detail": {"message"}}` or `{"detail": "…"}`, Cartesia and others `{"message"}` / `{"error": "…"}`;
/// else the body's start.
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["err_msg"].as_str())
            .or_else(|| v["detail"]["message"].as_str())
            .or_else(|| v["detail"].as_str())
            .or_else(|| v["message"].as_str())
    });
    match message {
        Some(message) => message.to_string(),
        None => body.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_providers_error_shape_gives_its_message() {
        let bodies = [
            (r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, "Overloaded"),
            (
                r#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}"#,
                "Resource exhausted",
            ),
            (
                r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"x"}"#,
                "Invalid credentials.",
            ),
            (r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#, "Invalid API key"),
            (r#"{"detail":"Not authenticated"}"#, "Not authenticated"),
            ("<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ];
        for (body, message) in bodies {
            assert_eq!(error_message(body), message);
        }
        assert_eq!(status_kind(529), FailureKind::Overloaded);
        assert_eq!(status_kind(401), FailureKind::Rejected);
        assert_eq!(status_kind(500), FailureKind::Engine);
    }

    #[test]
    fn retry_after_is_read_in_seconds_on_429_and_503_only() {
        let mut headers = ureq::http::HeaderMap::new();
        headers.insert("retry-after", ureq::http::HeaderValue::from_static(" 17 "));
        assert_eq!(retry_after(429, &headers), Some(Duration::from_secs(17)));
        assert_eq!(retry_after(503, &headers), Some(Duration::from_secs(17)));
        assert_eq!(retry_after(500, &headers), None);
        headers.insert("retry-after", ureq::http::HeaderValue::from_static("86400"));
        assert_eq!(retry_after(429, &headers), Some(MAX_RETRY_AFTER));
        headers.insert("retry-after", ureq::http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(429, &headers), None);
    }
}
