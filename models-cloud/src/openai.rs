//! A language model on an OpenAI-compatible chat-completions endpoint: `POST {base}/chat/completions` with
//! `"stream": true`, answered as server-sent events of `chat.completion.chunk` objects and a final
//! `data: [DONE]` (platform.openai.com/docs/api-reference/chat/streaming). Text deltas become tokens; tool-call
//! deltas are put together by index and become one [`LlmEvent::ToolCall`]; an error status or an `error`
//! object becomes [`LlmEvent::Failed`] with the server's own message. vLLM, llama.cpp's server and Ollama speak
//! the same protocol at their `/v1`.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_models::{ChatMessage, FailureKind, LanguageModel, LlmEvent, LlmStream, ModelError, Role, ToolSpec};

use crate::http;
use crate::sse::SseParser;
use crate::streams::spawn_reply;

/// Where and how to ask.
#[derive(Clone, PartialEq)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1` (vLLM).
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set (local servers usually need none).
    pub api_key: Option<String>,
    /// The model name the server knows (`gpt-4o-mini`, a vLLM `--served-model-name`, an Ollama tag).
    pub model: String,
    /// Sampling temperature; `None` leaves the server's default.
    pub temperature: Option<f32>,
    /// Cap on the reply's tokens; `None` leaves the server's default. Spoken replies are short anyway.
    pub max_tokens: Option<u32>,
    /// How long the server may take to start answering (the response head); the stream may run longer.
    pub first_byte_timeout: Duration,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .finish()
    }
}

impl OpenAiConfig {
    /// A config for `model` at `base_url` (a trailing `/` is dropped, an empty key counts as none), with the
    /// server's sampling defaults and a 10 s first-byte timeout.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
            model: model.to_string(),
            temperature: None,
            max_tokens: None,
            first_byte_timeout: Duration::from_secs(10),
        }
    }
}

/// How long a streamed reply may take in all.
const STREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// The client: a [`LanguageModel`] whose replies stream from the server. Its HTTP agent (timeouts, TLS
/// roots, connection pool) is built once and shared by every reply.
#[derive(Clone)]
pub struct OpenAiChat {
    config: Arc<OpenAiConfig>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat").field("config", &self.config).finish()
    }
}

impl OpenAiChat {
    /// A client for `config`; builds the HTTP agent every reply will share.
    pub fn new(config: OpenAiConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(config.first_byte_timeout))
            .timeout_recv_body(Some(STREAM_TIMEOUT))
            .http_status_as_error(false)
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
            .build()
            .into();
        Self { config: Arc::new(config), agent }
    }

    /// Connects and waits for the answer's first byte at most `timeout` each (`[providers.<name>] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = http::agent_within(timeout, timeout);
        self
    }
}

impl LanguageModel for OpenAiChat {
    fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream> {
        let body = request_body(&self.config, history, tools).to_string();
        let (config, agent) = (Arc::clone(&self.config), self.agent.clone());
        spawn_reply("openai-reply", move |events, cancelled| stream_reply(&agent, &config, &body, events, cancelled))
    }
}

fn failed(kind: FailureKind, message: impl Into<String>) -> LlmEvent {
    LlmEvent::Failed(ModelError::new(kind, message))
}

/// The request's thread: sends, then reads the event stream until it ends, fails or is abandoned.
fn stream_reply(
    agent: &ureq::Agent,
    config: &OpenAiConfig,
    body: &str,
    events: &Sender<LlmEvent>,
    cancelled: &AtomicBool,
) {
    let url = format!("{}/chat/completions", config.base_url);
    let mut request = agent.post(&url).header("Content-Type", "application/json").header("Accept", "text/event-stream");
    if let Some(key) = &config.api_key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    let response = match request.send(body) {
        Ok(response) => response,
        Err(err) => {
            let kind =
                if matches!(err, ureq::Error::Timeout(_)) { FailureKind::TimedOut } else { FailureKind::Unreachable };
            let _ = events.send(failed(kind, format!("{url}: {err}")));
            return;
        }
    };
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let _ = events.send(LlmEvent::Failed(crate::http::status_error(&url, response)));
        return;
    }
    let mut reader = response.into_body().into_reader();
    let mut parser = SseParser::default();
    let mut decoder = ChunkDecoder::default();
    let mut buf = [0u8; 8192];
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return; // dropping the reader closes the connection: the server stops generating
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                let kind = match err.kind() {
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => FailureKind::TimedOut,
                    _ => FailureKind::Unreachable,
                };
                let _ = events.send(failed(kind, format!("{url}: the stream broke: {err}")));
                return;
            }
        };
        let data = match parser.push(&buf[..n]) {
            Ok(data) => data,
            Err(err) => {
                let _ = events.send(failed(FailureKind::Malformed, format!("{url}: {err}")));
                return;
            }
        };
        for payload in data {
            for event in decoder.push(&payload) {
                if events.send(event).is_err() {
                    return; // the stream object is gone
                }
            }
            if decoder.finished() {
                return;
            }
        }
    }
    // The connection closed without `[DONE]` or a finish reason: the reply was cut (a server or proxy died
    // mid-stream). Its tokens stand; a fallback chain continues it on the next model.
    let _ =
        events.send(failed(FailureKind::Unreachable, format!("{url}: the stream ended before the reply was complete")));
}

/// The server's message from an OpenAI-style error body (`{"error": {"message": …}}`), else the body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| v["error"]["message"].as_str().or_else(|| v["error"].as_str()));
    match message {
        Some(message) => message.to_string(),
        None => body.chars().take(300).collect(),
    }
}

/// Turns the `data` of each event into [`LlmEvent`]s, sans-IO.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    /// Tool calls being streamed, by their `index`: (name, arguments so far).
    tool_calls: Vec<(String, String)>,
    finished: bool,
}

impl ChunkDecoder {
    /// Decodes the `data` of one server-sent event (a JSON chunk or `[DONE]`) into the events it completes;
    /// an unreadable chunk or an error object fails the reply, and nothing more comes after the end.
    pub fn push(&mut self, data: &str) -> Vec<LlmEvent> {
        if self.finished {
            return Vec::new();
        }
        if data.trim() == "[DONE]" {
            return self.finish();
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(_) => {
                self.finished = true;
                let shown: String = data.chars().take(200).collect();
                return vec![failed(FailureKind::Malformed, format!("unreadable stream chunk: {shown}"))];
            }
        };
        if !chunk["error"].is_null() {
            self.finished = true;
            return vec![failed(FailureKind::Engine, error_message(data))];
        }
        let mut events = Vec::new();
        // Only the first choice is asked for (no `n`), so only it is read.
        let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) else { return events };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            events.push(LlmEvent::Token(text.to_string()));
        }
        for (position, call) in delta["tool_calls"].as_array().into_iter().flatten().enumerate() {
            let index = call["index"].as_u64().map_or(position, |i| i as usize).min(15);
            if self.tool_calls.len() <= index {
                self.tool_calls.resize(index + 1, (String::new(), String::new()));
            }
            let (name, arguments) = &mut self.tool_calls[index];
            if let Some(n) = call["function"]["name"].as_str() {
                name.push_str(n);
            }
            if let Some(a) = call["function"]["arguments"].as_str() {
                arguments.push_str(a);
            }
        }
        if choice["finish_reason"].as_str().is_some() {
            events.extend(self.finish());
        }
        events
    }

    /// The end of the reply: its tool call (the engine takes one per reply, the first), else `Done`.
    pub fn finish(&mut self) -> Vec<LlmEvent> {
        if std::mem::replace(&mut self.finished, true) {
            return Vec::new();
        }
        match self.tool_calls.iter().find(|(name, _)| !name.is_empty()) {
            Some((name, arguments)) => {
                let arguments = if arguments.trim().is_empty() { "{}".to_string() } else { arguments.clone() };
                vec![LlmEvent::ToolCall { name: name.clone(), arguments }]
            }
            None => vec![LlmEvent::Done],
        }
    }

    /// Whether the reply has ended (done, tool call or failure): later chunks are ignored.
    pub fn finished(&self) -> bool {
        self.finished
    }
}

/// The request: the history in OpenAI's message format, the tools as function tools, streaming on.
///
/// The engine writes a tool call into the history as `<tool_call>{"name": …, "arguments": …}</tool_call>`
/// and its result as a [`Role::Tool`] message; here they become an assistant message with `tool_calls` and a
/// `tool` message answering it by id, as the API requires.
pub fn request_body(config: &OpenAiConfig, history: &[ChatMessage], tools: &[ToolSpec]) -> Value {
    let mut messages = Vec::with_capacity(history.len());
    let mut open_call: Option<String> = None;
    for (i, message) in history.iter().enumerate() {
        match message.role {
            Role::System => messages.push(json!({"role": "system", "content": message.content})),
            Role::User => messages.push(json!({"role": "user", "content": message.content})),
            Role::Assistant => match parse_tool_call(&message.content) {
                Some((name, arguments)) => {
                    let id = format!("call_{i}");
                    messages.push(json!({
                        "role": "assistant",
                        "content": null,
                        "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}],
                    }));
                    open_call = Some(id);
                }
                None => messages.push(json!({"role": "assistant", "content": message.content})),
            },
            Role::Tool => match open_call.take() {
                Some(id) => messages.push(json!({"role": "tool", "tool_call_id": id, "content": message.content})),
                None => messages.push(json!({"role": "user", "content": format!("(tool result) {}", message.content)})),
            },
        }
    }
    let mut body = json!({"model": config.model, "messages": messages, "stream": true});
    if let Some(t) = config.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = config.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !tools.is_empty() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let parameters: Value =
                    serde_json::from_str(&t.parameters).unwrap_or_else(|_| json!({"type": "object", "properties": {}}));
                json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": parameters}})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// Reads back a tool call the engine wrote into the history: (name, arguments as JSON text).
pub(crate) fn parse_tool_call(content: &str) -> Option<(String, String)> {
    let inner = content.trim().strip_prefix("<tool_call>")?.strip_suffix("</tool_call>")?;
    let call: Value = serde_json::from_str(inner).ok()?;
    let name = call["name"].as_str()?.to_string();
    let arguments = if call["arguments"].is_null() { "{}".to_string() } else { call["arguments"].to_string() };
    Some((name, arguments))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{SocketAddr, TcpListener};
    use std::time::Instant;

    use super::*;

    /// OpenAI's documented streaming frames (chat.completion.chunk), as the API sends them.
    fn chunk(delta: Value, finish: Option<&str>) -> String {
        let chunk = json!({
            "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
            "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        format!("data: {chunk}\n\n")
    }

    /// A one-request HTTP server on loopback: records the request, answers with `head` and then `body`
    /// pieces written one by one (so the client sees a stream, not one read).
    fn fake_server(head: &'static str, body: Vec<String>) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let body_start = loop {
                let n = socket.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break end + 4;
                }
            };
            let head_text = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
            let length: usize = head_text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while request.len() < body_start + length {
                let n = socket.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            socket.write_all(head.as_bytes()).unwrap();
            for piece in body {
                if socket.write_all(piece.as_bytes()).is_err() {
                    break;
                }
                let _ = socket.flush();
                std::thread::sleep(Duration::from_millis(5));
            }
            String::from_utf8_lossy(&request).into_owned()
        });
        (address, handle)
    }

    const STREAM_HEAD: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";

    fn collect(mut stream: Box<dyn LlmStream>) -> Vec<LlmEvent> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut events = Vec::new();
        while Instant::now() < deadline {
            match stream.poll_event() {
                Some(event) => {
                    let end = !matches!(event, LlmEvent::Token(_));
                    events.push(event);
                    if end {
                        return events;
                    }
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        panic!("no end of reply: {events:?}");
    }

    fn history() -> Vec<ChatMessage> {
        vec![
            ChatMessage { role: Role::System, content: "You are a helpful assistant.".into() },
            ChatMessage { role: Role::User, content: "What time is it?".into() },
        ]
    }

    #[test]
    fn tokens_stream_in_order_and_the_request_has_the_documented_shape() {
        let body = vec![
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "It is"}), None),
            chunk(json!({"content": " three o'clock."}), None),
            chunk(json!({}), Some("stop")),
            "data: [DONE]\n\n".to_string(),
        ];
        let (address, server) = fake_server(STREAM_HEAD, body);
        let mut config = OpenAiConfig::new(&format!("http://{address}/v1/"), "gpt-4o-mini", Some("sk-test".into()));
        config.temperature = Some(0.2);
        let tools = [ToolSpec {
            name: "end_call".into(),
            description: "Ends the call.".into(),
            parameters: r#"{"type":"object","properties":{"reason":{"type":"string"}}}"#.into(),
        }];
        let events = collect(OpenAiChat::new(config).reply(&history(), &tools));
        assert_eq!(
            events,
            [LlmEvent::Token("It is".into()), LlmEvent::Token(" three o'clock.".into()), LlmEvent::Done]
        );
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"), "{request}");
        assert!(request.to_lowercase().contains("authorization: bearer sk-test"));
        let body: Value = serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "What time is it?"}));
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["tools"][0]["function"]["parameters"]["properties"]["reason"]["type"], "string");
        assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    }

    #[test]
    fn a_tool_call_streamed_in_pieces_is_put_together() {
        let body = vec![
            chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_abc", "type": "function", "function": {"name": "end_call", "arguments": ""}}]}),
                None,
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"rea"}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "son\": \"bye\"}"}}]}), None),
            chunk(json!({}), Some("tool_calls")),
            "data: [DONE]\n\n".to_string(),
        ];
        let (address, server) = fake_server(STREAM_HEAD, body);
        let config = OpenAiConfig::new(&format!("http://{address}/v1"), "gpt-4o-mini", None);
        let events = collect(OpenAiChat::new(config).reply(&history(), &[]));
        assert_eq!(events, [LlmEvent::ToolCall { name: "end_call".into(), arguments: "{\"reason\": \"bye\"}".into() }]);
        let request = server.join().unwrap();
        assert!(!request.to_lowercase().contains("authorization:"), "no key, no header");
    }

    #[test]
    fn an_error_status_fails_with_the_servers_message() {
        let error = r#"{"error":{"message":"Incorrect API key provided: sk-***.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let head: &'static str = Box::leak(
            format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{error}",
                error.len()
            )
            .into_boxed_str(),
        );
        let (address, _server) = fake_server(head, vec![]);
        let config = OpenAiConfig::new(&format!("http://{address}/v1"), "gpt-4o-mini", Some("sk-bad".into()));
        let events = collect(OpenAiChat::new(config).reply(&history(), &[]));
        match &events[..] {
            [LlmEvent::Failed(reason)] => {
                assert_eq!(reason.kind, FailureKind::Rejected);
                assert!(reason.message.contains("HTTP 401") && reason.message.contains("Incorrect API key"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreachable_server_and_a_silent_one_fail_instead_of_hanging() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let config = OpenAiConfig::new(&format!("http://{closed}/v1"), "m", None);
        let events = collect(OpenAiChat::new(config).reply(&history(), &[]));
        assert!(matches!(&events[..], [LlmEvent::Failed(e)] if e.kind == FailureKind::Unreachable), "{events:?}");
        // A server that accepts and never answers: the first-byte timeout ends the wait.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = OpenAiConfig::new(&format!("http://{}/v1", silent.local_addr().unwrap()), "m", None);
        config.first_byte_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let events = collect(OpenAiChat::new(config).reply(&history(), &[]));
        assert!(matches!(&events[..], [LlmEvent::Failed(e)] if e.kind == FailureKind::TimedOut), "{events:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tool_calls_in_the_history_become_assistant_tool_calls_answered_by_id() {
        let history = vec![
            ChatMessage { role: Role::User, content: "Where is my order?".into() },
            ChatMessage {
                role: Role::Assistant,
                content: voicera_models::tool_call_text("check_order", r#"{"order_id": "42"}"#),
            },
            ChatMessage { role: Role::Tool, content: "shipped".into() },
        ];
        let body = request_body(&OpenAiConfig::new("http://x/v1", "m", None), &history, &[]);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[1]["tool_calls"][0]["function"]["name"], "check_order");
        let arguments: Value =
            serde_json::from_str(messages[1]["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments["order_id"], "42");
        assert_eq!(messages[2]["role"], "tool");
        assert_eq!(messages[2]["tool_call_id"], messages[1]["tool_calls"][0]["id"]);
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn errors_inside_the_stream_and_garbage_end_the_reply() {
        let mut decoder = ChunkDecoder::default();
        let events = decoder.push(r#"{"error":{"message":"The server had an error while processing your request."}}"#);
        assert!(
            matches!(&events[..], [LlmEvent::Failed(m)] if m.message.contains("server had an error")),
            "{events:?}"
        );
        assert!(decoder.push("[DONE]").is_empty(), "nothing after the end");
        let mut decoder = ChunkDecoder::default();
        assert!(matches!(&decoder.push("{not json")[..], [LlmEvent::Failed(e)] if e.kind == FailureKind::Malformed));
        // A stream cut without [DONE] or a finish reason still ends the reply.
        let mut decoder = ChunkDecoder::default();
        assert_eq!(decoder.push(&chunk(json!({"content": "Hi"}), None)[6..]), [LlmEvent::Token("Hi".into())]);
        assert_eq!(decoder.finish(), [LlmEvent::Done]);
    }

    #[test]
    fn a_stream_cut_mid_reply_fails_after_its_tokens() {
        let body = vec![chunk(json!({"content": "The library"}), None), chunk(json!({"content": " opens"}), None)];
        let (address, _server) = fake_server(STREAM_HEAD, body);
        let config = OpenAiConfig::new(&format!("http://{address}/v1"), "m", None);
        let events = collect(OpenAiChat::new(config).reply(&history(), &[]));
        match &events[..] {
            [LlmEvent::Token(a), LlmEvent::Token(b), LlmEvent::Failed(e)] => {
                assert_eq!(format!("{a}{b}"), "The library opens");
                assert_eq!(e.kind, FailureKind::Unreachable);
                assert!(e.message.contains("ended before the reply was complete"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dropping_the_reply_closes_the_connection() {
        // A long stream: the server notices the client leaving when its writes fail.
        let body: Vec<String> = (0..2000).map(|i| chunk(json!({"content": format!("word{i} ")}), None)).collect();
        let (address, server) = fake_server(STREAM_HEAD, body);
        let config = OpenAiConfig::new(&format!("http://{address}/v1"), "m", None);
        let mut stream = OpenAiChat::new(config).reply(&history(), &[]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(stream.poll_event(), Some(LlmEvent::Token(_))) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(stream);
        let started = Instant::now();
        server.join().unwrap();
        // 2000 pieces at 5 ms would take 10 s; the server stops soon after the client goes.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
