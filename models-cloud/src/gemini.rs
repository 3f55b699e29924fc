//! A language model on Google's Gemini API: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`
//! with `x-goog-api-key`, answered as server-sent events each carrying a `GenerateContentResponse`
//! (ai.google.dev/api/generate-content). Text parts become tokens; a `functionCall` part becomes an
//! [`LlmEvent::ToolCall`]; the chunk with a `finishReason` ends the reply.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_models::{ChatMessage, FailureKind, LanguageModel, LlmEvent, LlmStream, ModelError, Role, ToolSpec};

use crate::http;
use crate::streams::{pump_sse, spawn_reply, EventDecoder};

/// Google's Gemini API root.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Where and how to ask.
#[derive(Clone, PartialEq)]
pub struct GeminiConfig {
    /// The API root, e.g. `https://generativelanguage.googleapis.com`.
    pub base_url: String,
    /// Sent as `x-goog-api-key`.
    pub api_key: String,
    /// The model, e.g. `gemini-2.0-flash`.
    pub model: String,
    /// Sampling temperature; `None` leaves the API's default.
    pub temperature: Option<f32>,
    /// Cap on the reply's tokens; `None` leaves the API's default.
    pub max_output_tokens: Option<u32>,
    /// How long the API may take to start answering.
    pub first_byte_timeout: Duration,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

impl GeminiConfig {
    /// A config for `model` at `base_url` (a trailing `/` is dropped), a 10 s first-byte timeout.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            temperature: None,
            max_output_tokens: None,
            first_byte_timeout: Duration::from_secs(10),
        }
    }
}

/// The client; its HTTP agent is shared by every reply.
#[derive(Clone)]
pub struct GeminiChat {
    config: Arc<GeminiConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for GeminiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiChat").field("config", &self.config).finish()
    }
}

impl GeminiChat {
    /// A client for `config`.
    pub fn new(config: GeminiConfig) -> Self {
        let agent = http::agent(config.first_byte_timeout);
        Self { config: Arc::new(config), agent }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl LanguageModel for GeminiChat {
    fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream> {
        let body = request_body(&self.config, history, tools).to_string();
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        spawn_reply("gemini-reply", move |events, cancelled| stream_reply(&agent, &config, &body, events, cancelled))
    }
}

fn stream_reply(
    agent: &ureq::Agent,
    config: &GeminiConfig,
    body: &str,
    events: &Sender<LlmEvent>,
    cancelled: &AtomicBool,
) {
    let url = format!("{}/v1beta/models/{}:streamGenerateContent?alt=sse", config.base_url, config.model);
    let request = agent.post(&url).header("content-type", "application/json").header("x-goog-api-key", &config.api_key);
    let response = match request.send(body) {
        Ok(response) => response,
        Err(err) => {
            let _ = events.send(LlmEvent::Failed(http::transport_error(&url, &err)));
            return;
        }
    };
    if !response.status().is_success() {
        let _ = events.send(LlmEvent::Failed(http::status_error(&url, response)));
        return;
    }
    let mut decoder = ResponseDecoder::default();
    pump_sse(&url, response.into_body().into_reader(), &mut decoder, events, cancelled);
}

/// Turns `GenerateContentResponse` chunks into [`LlmEvent`]s, sans-IO.
#[derive(Debug, Default)]
pub struct ResponseDecoder {
    tool_call: Option<(String, String)>,
    finished: bool,
}

impl ResponseDecoder {
    fn fail(&mut self, kind: FailureKind, message: String) -> Vec<LlmEvent> {
        self.finished = true;
        vec![LlmEvent::Failed(ModelError::new(kind, message))]
    }
}

impl EventDecoder for ResponseDecoder {
    fn push(&mut self, data: &str) -> Vec<LlmEvent> {
        if self.finished {
            return Vec::new();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            let shown: String = data.chars().take(200).collect();
            return self.fail(FailureKind::Malformed, format!("unreadable stream chunk: {shown}"));
        };
        if !chunk["error"].is_null() {
            let status = chunk["error"]["code"].as_u64().unwrap_or(500) as u16;
            return self.fail(http::status_kind(status), http::error_message(data));
        }
        if let Some(reason) = chunk["promptFeedback"]["blockReason"].as_str() {
            return self.fail(FailureKind::Rejected, format!("the prompt was blocked: {reason}"));
        }
        let mut events = Vec::new();
        let Some(candidate) = chunk["candidates"].as_array().and_then(|c| c.first()) else { return events };
        for part in candidate["content"]["parts"].as_array().into_iter().flatten() {
            if part["thought"] == true {
                continue;
            }
            if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                events.push(LlmEvent::Token(text.to_string()));
            }
            if let Some(name) = part["functionCall"]["name"].as_str() {
                if self.tool_call.is_none() {
                    let args = &part["functionCall"]["args"];
                    let arguments = if args.is_null() { "{}".to_string() } else { args.to_string() };
                    self.tool_call = Some((name.to_string(), arguments));
                }
            }
        }
        match candidate["finishReason"].as_str() {
            None | Some("") | Some("FINISH_REASON_UNSPECIFIED") => {}
            Some(reason @ ("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII")) => {
                events.extend(self.fail(FailureKind::Rejected, format!("the reply was stopped: {reason}")));
            }
            Some(_) => {
                self.finished = true;
                events.push(match self.tool_call.take() {
                    Some((name, arguments)) => LlmEvent::ToolCall { name, arguments },
                    None => LlmEvent::Done,
                });
            }
        }
        events
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

/// The request: the system prompt as `systemInstruction`, the conversation as `user` / `model` contents, a
/// tool call as a `functionCall` part answered by a `functionResponse` part of the same name.
pub fn request_body(config: &GeminiConfig, history: &[ChatMessage], tools: &[ToolSpec]) -> Value {
    let mut system = Vec::new();
    let mut contents: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut open_call: Option<String> = None;
    for message in history {
        let (role, part) = match message.role {
            Role::System => {
                system.push(message.content.as_str());
                continue;
            }
            Role::User => ("user", json!({"text": message.content})),
            Role::Assistant => match crate::openai::parse_tool_call(&message.content) {
                Some((name, arguments)) => {
                    let args: Value = serde_json::from_str(&arguments).unwrap_or_else(|_| json!({}));
                    open_call = Some(name.clone());
                    ("model", json!({"functionCall": {"name": name, "args": args}}))
                }
                None => ("model", json!({"text": message.content})),
            },
            Role::Tool => match open_call.take() {
                Some(name) => {
                    ("user", json!({"functionResponse": {"name": name, "response": {"result": message.content}}}))
                }
                None => ("user", json!({"text": format!("(tool result) {}", message.content)})),
            },
        };
        match contents.last_mut() {
            Some((last, parts)) if *last == role => parts.push(part),
            _ => contents.push((role, vec![part])),
        }
    }
    let contents: Vec<Value> =
        contents.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect();
    let mut body = json!({"contents": contents});
    if !system.is_empty() {
        body["systemInstruction"] = json!({"parts": [{"text": system.join("\n\n")}]});
    }
    let mut generation = serde_json::Map::new();
    if let Some(t) = config.temperature {
        generation.insert("temperature".into(), json!(t));
    }
    if let Some(n) = config.max_output_tokens {
        generation.insert("maxOutputTokens".into(), json!(n));
    }
    if !generation.is_empty() {
        body["generationConfig"] = Value::Object(generation);
    }
    if !tools.is_empty() {
        let declarations: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut declaration = json!({"name": t.name, "description": t.description});
                let schema: Value = serde_json::from_str(&t.parameters).unwrap_or(Value::Null);
                if schema["properties"].as_object().is_some_and(|p| !p.is_empty()) {
                    declaration["parameters"] = schema;
                }
                declaration
            })
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_call_part_ends_the_reply_as_a_tool_call() {
        let mut decoder = ResponseDecoder::default();
        let first = r#"{"candidates":[{"content":{"parts":[{"text":"One moment."}],"role":"model"},"index":0}],"modelVersion":"gemini-2.0-flash"}"#;
        let last = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"end_call","args":{"reason":"bye"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5}}"#;
        assert_eq!(decoder.push(first), [LlmEvent::Token("One moment.".into())]);
        assert_eq!(
            decoder.push(last),
            [LlmEvent::ToolCall { name: "end_call".into(), arguments: r#"{"reason":"bye"}"#.into() }]
        );
        assert!(decoder.finished());
    }

    #[test]
    fn history_uses_model_role_and_function_responses() {
        let history = vec![
            ChatMessage { role: Role::System, content: "Be brief.".into() },
            ChatMessage { role: Role::User, content: "Bye".into() },
            ChatMessage { role: Role::Assistant, content: voicera_models::tool_call_text("end_call", "{}") },
            ChatMessage { role: Role::Tool, content: "ok".into() },
        ];
        let body = request_body(&GeminiConfig::new("http://x", "m", "k"), &history, &[]);
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(body["contents"][1]["role"], "model");
        assert_eq!(body["contents"][1]["parts"][0]["functionCall"]["name"], "end_call");
        assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["name"], "end_call");
    }
}
