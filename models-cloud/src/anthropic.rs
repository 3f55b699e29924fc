//! A language model on Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key`,
//! `anthropic-version: 2023-06-01` and `"stream": true`, answered as server-sent events `message_start`,
//! `content_block_start` / `content_block_delta` / `content_block_stop` per block, `message_delta` (the stop
//! reason), `message_stop`, `ping`s between, and `error` (docs.anthropic.com/en/api/messages-streaming).
//! Text deltas become tokens; a `tool_use` block, its input streamed as `input_json_delta` pieces, becomes an
//! [`LlmEvent::ToolCall`]. The system prompt goes in `system` with a prompt-caching breakpoint, so a long
//! agent prompt is read from Anthropic's cache on every turn after the first.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_models::{ChatMessage, FailureKind, LanguageModel, LlmEvent, LlmStream, ModelError, Role, ToolSpec};

use crate::http;
use crate::streams::{pump_sse, spawn_reply, EventDecoder};

/// Anthropic's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The API version every request names.
pub const API_VERSION: &str = "2023-06-01";

/// Where and how to ask.
#[derive(Clone, PartialEq)]
pub struct AnthropicConfig {
    /// The API root without `/v1`, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    /// Sent as `x-api-key`.
    pub api_key: String,
    /// The model, e.g. `claude-sonnet-4-5-20250929`.
    pub model: String,
    /// Cap on the reply's tokens (required by the API); the original sent 4096.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the API's default.
    pub temperature: Option<f32>,
    /// How long the API may take to start answering.
    pub first_byte_timeout: Duration,
}

impl std::fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

impl AnthropicConfig {
    /// A config for `model` at `base_url` (a trailing `/` is dropped), 4096 tokens at most, a 10 s first-byte
    /// timeout.
    pub fn new(base_url: &str, model: &str, api_key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            max_tokens: 4096,
            temperature: None,
            first_byte_timeout: Duration::from_secs(10),
        }
    }
}

/// The client; its HTTP agent is shared by every reply.
#[derive(Clone)]
pub struct AnthropicChat {
    config: Arc<AnthropicConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for AnthropicChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicChat").field("config", &self.config).finish()
    }
}

impl AnthropicChat {
    /// A client for `config`.
    pub fn new(config: AnthropicConfig) -> Self {
        let agent = http::agent(config.first_byte_timeout);
        Self { config: Arc::new(config), agent }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl LanguageModel for AnthropicChat {
    fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream> {
        let body = request_body(&self.config, history, tools).to_string();
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        spawn_reply("anthropic-reply", move |events, cancelled| stream_reply(&agent, &config, &body, events, cancelled))
    }
}

fn stream_reply(
    agent: &ureq::Agent,
    config: &AnthropicConfig,
    body: &str,
    events: &Sender<LlmEvent>,
    cancelled: &AtomicBool,
) {
    let url = format!("{}/v1/messages", config.base_url);
    let request = agent
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("x-api-key", &config.api_key)
        .header("anthropic-version", API_VERSION);
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
    let mut decoder = MessageDecoder::default();
    pump_sse(&url, response.into_body().into_reader(), &mut decoder, events, cancelled);
}

/// What an `error` event's type means (docs.anthropic.com/en/api/errors).
fn error_kind(error_type: &str) -> FailureKind {
    match error_type {
        "overloaded_error" | "rate_limit_error" => FailureKind::Overloaded,
        "api_error" => FailureKind::Engine,
        "timeout_error" => FailureKind::TimedOut,
        _ => FailureKind::Rejected,
    }
}

/// Turns Messages stream events into [`LlmEvent`]s, sans-IO.
#[derive(Debug, Default)]
pub struct MessageDecoder {
    /// The first tool-use block: (its index, name, input JSON so far).
    tool: Option<(u64, String, String)>,
    finished: bool,
}

impl MessageDecoder {
    fn finish(&mut self) -> Vec<LlmEvent> {
        if std::mem::replace(&mut self.finished, true) {
            return Vec::new();
        }
        match self.tool.take() {
            Some((_, name, input)) => {
                let arguments = if input.trim().is_empty() { "{}".to_string() } else { input };
                vec![LlmEvent::ToolCall { name, arguments }]
            }
            None => vec![LlmEvent::Done],
        }
    }

    fn fail(&mut self, kind: FailureKind, message: String) -> Vec<LlmEvent> {
        self.finished = true;
        vec![LlmEvent::Failed(ModelError::new(kind, message))]
    }
}

impl EventDecoder for MessageDecoder {
    fn push(&mut self, data: &str) -> Vec<LlmEvent> {
        if self.finished {
            return Vec::new();
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            let shown: String = data.chars().take(200).collect();
            return self.fail(FailureKind::Malformed, format!("unreadable stream event: {shown}"));
        };
        match event["type"].as_str().unwrap_or_default() {
            "content_block_start" => {
                let block = &event["content_block"];
                if block["type"] == "tool_use" && self.tool.is_none() {
                    let name = block["name"].as_str().unwrap_or_default().to_string();
                    self.tool = Some((event["index"].as_u64().unwrap_or(0), name, String::new()));
                }
                Vec::new()
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => match delta["text"].as_str().filter(|t| !t.is_empty()) {
                        Some(text) => vec![LlmEvent::Token(text.to_string())],
                        None => Vec::new(),
                    },
                    Some("input_json_delta") => {
                        if let Some((index, _, input)) = &mut self.tool {
                            if event["index"].as_u64() == Some(*index) {
                                input.push_str(delta["partial_json"].as_str().unwrap_or_default());
                            }
                        }
                        Vec::new()
                    }
                    _ => Vec::new(), // thinking, citations, signatures: not spoken
                }
            }
            "message_stop" => self.finish(),
            "message_delta" => match event["delta"]["stop_reason"].as_str() {
                Some("refusal") => self.fail(FailureKind::Rejected, "the model refused to answer".into()),
                _ => Vec::new(),
            },
            "error" => {
                let kind = error_kind(event["error"]["type"].as_str().unwrap_or_default());
                let message = event["error"]["message"].as_str().unwrap_or("an error event").to_string();
                self.fail(kind, message)
            }
            // message_start, content_block_stop, ping and event types added later.
            _ => Vec::new(),
        }
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

/// The request: the system prompt (cached), the conversation as alternating user/assistant turns, tools with
/// their input schemas. A tool call in the history becomes a `tool_use` block and its result a `tool_result`
/// block answering it by id, as the API requires.
pub fn request_body(config: &AnthropicConfig, history: &[ChatMessage], tools: &[ToolSpec]) -> Value {
    let mut system = Vec::new();
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::new();
    let mut open_call: Option<String> = None;
    for (i, message) in history.iter().enumerate() {
        let (role, block) = match message.role {
            Role::System => {
                system.push(message.content.as_str());
                continue;
            }
            Role::User => ("user", json!({"type": "text", "text": message.content})),
            Role::Assistant => match crate::openai::parse_tool_call(&message.content) {
                Some((name, arguments)) => {
                    let id = format!("toolu_{i}");
                    let input: Value = serde_json::from_str(&arguments).unwrap_or_else(|_| json!({}));
                    open_call = Some(id.clone());
                    ("assistant", json!({"type": "tool_use", "id": id, "name": name, "input": input}))
                }
                None => ("assistant", json!({"type": "text", "text": message.content})),
            },
            Role::Tool => match open_call.take() {
                Some(id) => ("user", json!({"type": "tool_result", "tool_use_id": id, "content": message.content})),
                None => ("user", json!({"type": "text", "text": format!("(tool result) {}", message.content)})),
            },
        };
        if block["type"] == "text" && block["text"].as_str().is_some_and(|t| t.trim().is_empty()) {
            continue; // the API refuses empty text blocks
        }
        match messages.last_mut() {
            Some((last, blocks)) if *last == role => blocks.push(block),
            _ => messages.push((role, vec![block])),
        }
    }
    let messages: Vec<Value> =
        messages.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    let mut body = json!({
        "model": config.model,
        "max_tokens": config.max_tokens,
        "messages": messages,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!([{"type": "text", "text": system.join("\n\n"), "cache_control": {"type": "ephemeral"}}]);
    }
    if let Some(t) = config.temperature {
        body["temperature"] = json!(t);
    }
    if !tools.is_empty() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let schema: Value =
                    serde_json::from_str(&t.parameters).unwrap_or_else(|_| json!({"type": "object", "properties": {}}));
                json!({"name": t.name, "description": t.description, "input_schema": schema})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_tool_use_block_becomes_one_tool_call() {
        let mut decoder = MessageDecoder::default();
        let frames = [
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"check_order","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"order_id\": "}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"42\"}"}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        let events: Vec<LlmEvent> = frames.iter().flat_map(|f| decoder.push(f)).collect();
        assert_eq!(
            events,
            [
                LlmEvent::Token("Let me check.".into()),
                LlmEvent::ToolCall { name: "check_order".into(), arguments: "{\"order_id\": \"42\"}".into() }
            ]
        );
    }

    #[test]
    fn history_alternates_and_tool_results_answer_by_id() {
        let history = vec![
            ChatMessage { role: Role::System, content: "Be brief.".into() },
            ChatMessage { role: Role::User, content: "Where is my order?".into() },
            ChatMessage { role: Role::Assistant, content: voicera_models::tool_call_text("check_order", "{}") },
            ChatMessage { role: Role::Tool, content: "shipped".into() },
            ChatMessage { role: Role::User, content: "Thanks".into() },
        ];
        let body = request_body(&AnthropicConfig::new("http://x", "m", "k"), &history, &[]);
        assert_eq!(body["system"][0]["text"], "Be brief.");
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "the tool result and the next words are one user turn: {messages:?}");
        assert_eq!(messages[1]["content"][0]["type"], "tool_use");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], messages[1]["content"][0]["id"]);
        assert_eq!(messages[2]["content"][1]["text"], "Thanks");
    }
}
