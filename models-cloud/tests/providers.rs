//! Each cloud client against a fake of its provider on 127.0.0.1: a real HTTP or WebSocket server that checks
//! the request the way the provider would (path, auth header, body) and answers with the provider's documented
//! frames, error bodies, cut streams and garbage. The production clients run unchanged, pointed at the fakes
//! by base URL.

// tungstenite's handshake callback returns its `ErrorResponse` (an http::Response) unboxed.
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::{Message, WebSocket};
use voicera_models::{
    ChatMessage, FailureKind, LanguageModel, LlmEvent, LlmStream, Role, SpeechToText, SttStream, TextToSpeech,
    ToolSpec, Transcript, TtsStream,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// A request as the fake HTTP server read it.
struct HttpRequest {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn read_request(socket: &mut TcpStream) -> HttpRequest {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before sending a request");
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let length: usize =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    while request.len() < body_start + length {
        let n = socket.read(&mut buf).unwrap();
        request.extend_from_slice(&buf[..n]);
    }
    HttpRequest { line, headers, body: request[body_start..body_start + length].to_vec() }
}

/// A one-request HTTP server: answers with `head` and then `body` pieces written one by one (a stream, not
/// one read); returns the request it read.
fn http_server(head: String, body: Vec<Vec<u8>>) -> (SocketAddr, JoinHandle<HttpRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let request = read_request(&mut socket);
        socket.write_all(head.as_bytes()).unwrap();
        for piece in body {
            if socket.write_all(&piece).is_err() {
                break;
            }
            let _ = socket.flush();
            std::thread::sleep(Duration::from_millis(2));
        }
        request
    });
    (address, handle)
}

fn stream_head(content_type: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n")
}

fn error_head(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nretry-after: 2\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A one-connection WebSocket server: `check` sees the upgrade request (and may refuse it), `script` runs the
/// conversation; returns what `script` returns.
fn ws_server<T, C, S>(check: C, script: S) -> (SocketAddr, JoinHandle<Option<T>>)
where
    T: Send + 'static,
    C: FnOnce(&Request) -> Result<(), ErrorResponse> + Send + 'static,
    S: FnOnce(&mut WebSocket<TcpStream>) -> T + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(DEADLINE)).unwrap();
        let callback = |request: &Request, response: Response| check(request).map(|()| response);
        let mut socket = tungstenite::accept_hdr(socket, callback).ok()?;
        Some(script(&mut socket))
    });
    (address, handle)
}

fn refuse(status: u16, body: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body.to_string()));
    *response.status_mut() = tungstenite::http::StatusCode::from_u16(status).unwrap();
    response
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn collect_reply(mut stream: Box<dyn LlmStream>) -> Vec<LlmEvent> {
    let deadline = Instant::now() + DEADLINE;
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

fn collect_audio(mut stream: Box<dyn TtsStream>) -> (Vec<i16>, Option<voicera_models::ModelError>) {
    let deadline = Instant::now() + DEADLINE;
    let mut audio = Vec::new();
    while stream.poll_audio(&mut audio) {
        assert!(Instant::now() < deadline, "no end of audio");
        std::thread::sleep(Duration::from_millis(2));
    }
    (audio, stream.failure().cloned())
}

fn next_transcript(stream: &mut dyn SttStream) -> Transcript {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(transcript) = stream.poll_transcript() {
            return transcript;
        }
        assert!(Instant::now() < deadline, "no transcript");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn history() -> Vec<ChatMessage> {
    vec![
        ChatMessage { role: Role::System, content: "You are a helpful assistant.".into() },
        ChatMessage { role: Role::User, content: "What time is it?".into() },
    ]
}

fn failure_of(events: &[LlmEvent]) -> &voicera_models::ModelError {
    match events.last() {
        Some(LlmEvent::Failed(err)) => err,
        other => panic!("no failure: {other:?} in {events:?}"),
    }
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

mod anthropic {
    use voicera_models_cloud::anthropic::{AnthropicChat, AnthropicConfig};

    use super::*;

    fn event(name: &str, data: Value) -> Vec<u8> {
        format!("event: {name}\ndata: {data}\n\n").into_bytes()
    }

    fn opening() -> Vec<Vec<u8>> {
        vec![
            event(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant",
                    "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            ),
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event("ping", json!({"type": "ping"})),
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "It is"}}),
            ),
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " noon."}}),
            ),
        ]
    }

    #[test]
    fn tokens_stream_and_the_request_is_what_the_messages_api_takes() {
        let mut body = opening();
        body.push(event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        body.push(event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 15}}),
        ));
        body.push(event("message_stop", json!({"type": "message_stop"})));
        let (address, server) = http_server(stream_head("text/event-stream"), body);
        let config = AnthropicConfig::new(&format!("http://{address}"), "claude-sonnet-4-5-20250929", "sk-ant-test");
        assert!(!format!("{config:?}").contains("sk-ant-test"), "the key is masked");
        let tools = [ToolSpec {
            name: "end_call".into(),
            description: "Ends the call.".into(),
            parameters: r#"{"type":"object","properties":{"reason":{"type":"string"}}}"#.into(),
        }];
        let events = collect_reply(AnthropicChat::new(config).reply(&history(), &tools));
        assert_eq!(events, [LlmEvent::Token("It is".into()), LlmEvent::Token(" noon.".into()), LlmEvent::Done]);
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1/messages HTTP/1.1");
        assert_eq!(request.header("x-api-key"), Some("sk-ant-test"));
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(request.header("authorization"), None);
        let body = request.json();
        assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
        assert_eq!(body["stream"], true);
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(body["system"][0]["text"], "You are a helpful assistant.");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "What time is it?"}]}])
        );
        assert_eq!(body["tools"][0]["input_schema"]["properties"]["reason"]["type"], "string");
    }

    #[test]
    fn status_errors_keep_the_message_and_map_to_kinds() {
        let cases = [
            (
                "401 Unauthorized",
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
                FailureKind::Rejected,
                "invalid x-api-key",
            ),
            (
                "429 Too Many Requests",
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
                FailureKind::Overloaded,
                "per-minute rate limit",
            ),
            (
                "529 Overloaded",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                FailureKind::Overloaded,
                "Overloaded",
            ),
            (
                "500 Internal Server Error",
                r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
                FailureKind::Engine,
                "Internal server error",
            ),
        ];
        for (status, body, kind, message) in cases {
            let (address, _server) = http_server(error_head(status, body), vec![]);
            let config = AnthropicConfig::new(&format!("http://{address}"), "m", "sk-ant-bad");
            let events = collect_reply(AnthropicChat::new(config).reply(&history(), &[]));
            let err = failure_of(&events);
            assert_eq!(err.kind, kind, "{status}: {err}");
            assert!(err.message.contains(message) && !err.message.contains("sk-ant-bad"), "{err}");
            // `retry-after: 2` is honoured on a 429 only (a 5xx other than 503 carries no promise).
            let retry_after = status.starts_with("429").then_some(Duration::from_secs(2));
            assert_eq!(err.retry_after, retry_after, "{status}");
        }
    }

    #[test]
    fn an_error_event_mid_stream_a_cut_and_garbage_fail_after_the_tokens() {
        let mut body = opening();
        body.push(event(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ));
        let (address, _server) = http_server(stream_head("text/event-stream"), body);
        let events = collect_reply(
            AnthropicChat::new(AnthropicConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
        );
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(failure_of(&events).kind, FailureKind::Overloaded);

        let (address, _server) = http_server(stream_head("text/event-stream"), opening());
        let events = collect_reply(
            AnthropicChat::new(AnthropicConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
        );
        assert_eq!(events[..2], [LlmEvent::Token("It is".into()), LlmEvent::Token(" noon.".into())]);
        assert_eq!(failure_of(&events).kind, FailureKind::Unreachable);

        let mut body = opening();
        body.push(b"event: content_block_delta\ndata: {\"type\": \"content_block_del\n\n".to_vec());
        let (address, _server) = http_server(stream_head("text/event-stream"), body);
        let events = collect_reply(
            AnthropicChat::new(AnthropicConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
        );
        assert_eq!(failure_of(&events).kind, FailureKind::Malformed);
    }
}

mod gemini {
    use voicera_models_cloud::gemini::{GeminiChat, GeminiConfig};

    use super::*;

    fn chunk(parts: Value, finish: Option<&str>) -> Vec<u8> {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        let data = json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": 9}, "modelVersion": "gemini-2.0-flash"});
        format!("data: {data}\r\n\r\n").into_bytes()
    }

    #[test]
    fn tokens_stream_from_the_sse_endpoint_with_the_key_header() {
        let body = vec![chunk(json!([{"text": "It is"}]), None), chunk(json!([{"text": " noon."}]), Some("STOP"))];
        let (address, server) = http_server(stream_head("text/event-stream"), body);
        let config = GeminiConfig::new(&format!("http://{address}"), "gemini-2.0-flash", "AIza-test");
        let events = collect_reply(GeminiChat::new(config).reply(&history(), &[]));
        assert_eq!(events, [LlmEvent::Token("It is".into()), LlmEvent::Token(" noon.".into()), LlmEvent::Done]);
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse HTTP/1.1");
        assert_eq!(request.header("x-goog-api-key"), Some("AIza-test"));
        let body = request.json();
        assert_eq!(body["contents"], json!([{"role": "user", "parts": [{"text": "What time is it?"}]}]));
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "You are a helpful assistant.");
    }

    #[test]
    fn errors_cuts_and_garbage_have_their_kinds() {
        let cases = [
            (
                "400 Bad Request",
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#,
                FailureKind::Rejected,
            ),
            (
                "429 Too Many Requests",
                r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#,
                FailureKind::Overloaded,
            ),
        ];
        for (status, body, kind) in cases {
            let (address, _server) = http_server(error_head(status, body), vec![]);
            let events = collect_reply(
                GeminiChat::new(GeminiConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
            );
            let err = failure_of(&events);
            assert_eq!(err.kind, kind);
            assert!(
                err.message.contains(
                    &serde_json::from_str::<Value>(body).unwrap()["error"]["message"].as_str().unwrap()[..20]
                ),
                "{err}"
            );
        }
        let (address, _server) =
            http_server(stream_head("text/event-stream"), vec![chunk(json!([{"text": "It"}]), None)]);
        let events = collect_reply(
            GeminiChat::new(GeminiConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
        );
        assert_eq!(failure_of(&events).kind, FailureKind::Unreachable);
        let (address, _server) = http_server(stream_head("text/event-stream"), vec![b"data: <html>\n\n".to_vec()]);
        let events = collect_reply(
            GeminiChat::new(GeminiConfig::new(&format!("http://{address}"), "m", "k")).reply(&history(), &[]),
        );
        assert_eq!(failure_of(&events).kind, FailureKind::Malformed);
    }
}

mod deepgram {
    use voicera_models_cloud::deepgram::{DeepgramStt, DeepgramSttConfig, DeepgramTts, DeepgramTtsConfig};

    use super::*;

    fn results(transcript: &str, is_final: bool, from_finalize: bool) -> Message {
        let message = json!({
            "type": "Results", "channel_index": [0, 1], "duration": 0.5, "start": 0.0,
            "is_final": is_final, "speech_final": is_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.99, "words": []}]},
            "metadata": {"request_id": "a1", "model_info": {"name": "2-general-nova", "version": "2024", "arch": "nova-3"}, "model_uuid": "u"},
        });
        Message::Text(message.to_string().into())
    }

    fn check_listen(request: &Request) -> Result<(), ErrorResponse> {
        let uri = request.uri().to_string();
        assert!(uri.starts_with("/v1/listen?model=nova-3&language=hi&encoding=linear16&sample_rate=16000"), "{uri}");
        assert!(uri.contains("interim_results=true") && uri.contains("endpointing=150"), "{uri}");
        if header(request, "authorization") != "Token dg-test" {
            return Err(refuse(
                401,
                r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"r"}"#,
            ));
        }
        Ok(())
    }

    /// What the fake heard: audio bytes, then the text messages, in order.
    fn read_until(socket: &mut WebSocket<TcpStream>, audio: &mut Vec<u8>, text: &str) -> Vec<String> {
        let mut texts = Vec::new();
        loop {
            match socket.read() {
                Ok(Message::Binary(bytes)) => audio.extend_from_slice(&bytes),
                Ok(Message::Text(t)) => {
                    let done = t.contains(text);
                    texts.push(t.to_string());
                    if done {
                        return texts;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return texts,
                Ok(_) => {}
            }
        }
    }

    #[test]
    fn interim_and_final_results_make_an_utterance_closed_by_finalize() {
        let (address, server) = ws_server(check_listen, |socket| {
            let mut audio = Vec::new();
            while audio.len() < 640 {
                if let Message::Binary(bytes) = socket.read().unwrap() {
                    audio.extend_from_slice(&bytes);
                }
            }
            socket.send(results("namaste", false, false)).unwrap();
            socket.send(results("namaste doston", true, false)).unwrap();
            let texts = read_until(socket, &mut audio, "Finalize");
            socket.send(results("kaise ho", true, true)).unwrap();
            let after = read_until(socket, &mut audio, "CloseStream");
            (audio, texts, after)
        });
        let config = DeepgramSttConfig::new(&format!("http://{address}"), "nova-3", "dg-test");
        let mut stream = DeepgramStt::new(config).stream("hi");
        let frame: Vec<i16> = (0..320).map(|i| i as i16 * 7).collect();
        stream.push_audio(&frame);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("namaste".into()));
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("namaste doston".into()));
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("namaste doston kaise ho".into()));
        drop(stream);
        let (audio, texts, after) = server.join().unwrap().unwrap();
        assert_eq!(audio, pcm_bytes(&frame), "the audio went as linear16");
        assert_eq!(serde_json::from_str::<Value>(texts.last().unwrap()).unwrap(), json!({"type": "Finalize"}));
        assert_eq!(serde_json::from_str::<Value>(after.last().unwrap()).unwrap(), json!({"type": "CloseStream"}));
    }

    #[test]
    fn a_refused_key_fails_each_utterance_with_deepgrams_message() {
        let (address, _server) = ws_server(check_listen, |_| ());
        let config = DeepgramSttConfig::new(&format!("http://{address}"), "nova-3", "dg-wrong");
        let mut stream = DeepgramStt::new(config).stream("hi");
        stream.push_audio(&[0; 160]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected, "{err}");
                assert!(err.message.contains("Invalid credentials") && !err.message.contains("dg-wrong"), "{err}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_and_a_dropped_connection_fail_the_pending_utterance() {
        let (address, _server) = ws_server(check_listen, |socket| {
            let mut audio = Vec::new();
            read_until(socket, &mut audio, "Finalize");
            socket.send(Message::Text("{\"type\": \"Resu".into())).unwrap();
        });
        let mut stream =
            DeepgramStt::new(DeepgramSttConfig::new(&format!("http://{address}"), "nova-3", "dg-test")).stream("hi");
        stream.end_of_speech();
        assert!(matches!(next_transcript(stream.as_mut()), Transcript::Failed(e) if e.kind == FailureKind::Malformed));

        let (address, _server) = ws_server(check_listen, |socket| {
            let mut audio = Vec::new();
            read_until(socket, &mut audio, "Finalize");
            socket.send(results("half", true, false)).unwrap();
            // The server goes away without answering Finalize.
        });
        let mut stream =
            DeepgramStt::new(DeepgramSttConfig::new(&format!("http://{address}"), "nova-3", "dg-test")).stream("hi");
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("half".into()));
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("half".into()), "what was heard is kept");
    }

    #[test]
    fn aura_streams_linear16_and_keeps_error_messages() {
        let samples: Vec<i16> = (0..4001).map(|i| (i * 13 % 3000) as i16 - 1500).collect();
        let bytes = pcm_bytes(&samples);
        // Pieces of odd sizes: samples split across reads.
        let body: Vec<Vec<u8>> = bytes.chunks(333).map(<[u8]>::to_vec).collect();
        let (address, server) = http_server(stream_head("audio/l16"), body);
        let config = DeepgramTtsConfig::new(&format!("http://{address}"), "aura-2-thalia-en", "dg-test");
        let stream = DeepgramTts::new(config).speak("Hello there.");
        assert_eq!(stream.sample_rate(), 16000);
        let (audio, failure) = collect_audio(stream);
        assert_eq!(failure, None);
        assert_eq!(audio, samples);
        let request = server.join().unwrap();
        assert_eq!(
            request.line,
            "POST /v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000&container=none HTTP/1.1"
        );
        assert_eq!(request.header("authorization"), Some("Token dg-test"));
        assert_eq!(request.json(), json!({"text": "Hello there."}));

        let (address, _server) = http_server(
            error_head(
                "429 Too Many Requests",
                r#"{"err_code":"TOO_MANY_REQUESTS","err_msg":"Too many requests. Please try again later","request_id":"r"}"#,
            ),
            vec![],
        );
        let (_, failure) = collect_audio(
            DeepgramTts::new(DeepgramTtsConfig::new(&format!("http://{address}"), "aura-2-thalia-en", "k")).speak("Hi"),
        );
        let failure = failure.unwrap();
        assert_eq!(failure.kind, FailureKind::Overloaded);
        assert!(failure.message.contains("Too many requests"), "{failure}");
        assert_eq!(failure.retry_after, Some(Duration::from_secs(2)), "the breaker stays open as asked");
    }
}

mod elevenlabs {
    use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};

    use super::*;

    #[test]
    fn pcm_streams_from_the_voice_path_with_the_key_header() {
        let samples: Vec<i16> = (0..1000).map(|i| i as i16).collect();
        let (address, server) =
            http_server(stream_head("audio/pcm"), vec![pcm_bytes(&samples[..501]), pcm_bytes(&samples[501..])]);
        let mut config =
            ElevenLabsConfig::new(&format!("http://{address}"), "eleven_turbo_v2_5", "21m00Tcm4TlvDq8ikWAM", "xi-test");
        config.speed = Some(1.1);
        let (audio, failure) = collect_audio(ElevenLabsTts::new(config).speak("Namaste."));
        assert_eq!((audio, failure), (samples, None));
        let request = server.join().unwrap();
        assert_eq!(
            request.line,
            "POST /v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream?output_format=pcm_16000 HTTP/1.1"
        );
        assert_eq!(request.header("xi-api-key"), Some("xi-test"));
        let body = request.json();
        assert_eq!(body["text"], "Namaste.");
        assert_eq!(body["model_id"], "eleven_turbo_v2_5");
        assert!((body["voice_settings"]["speed"].as_f64().unwrap() - 1.1).abs() < 1e-6);
    }

    #[test]
    fn a_bad_key_and_a_cut_stream_fail() {
        let (address, _server) = http_server(
            error_head("401 Unauthorized", r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#),
            vec![],
        );
        let (_, failure) = collect_audio(
            ElevenLabsTts::new(ElevenLabsConfig::new(&format!("http://{address}"), "m", "v", "k")).speak("Hi"),
        );
        let failure = failure.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid API key"), "{failure}");
        // A body announced longer than what comes: the cut is a failure, not the end of the text.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: audio/pcm\r\nContent-Length: 64000\r\n\r\n".to_string();
        let (address, _server) = http_server(head, vec![vec![0u8; 1000]]);
        let (audio, failure) = collect_audio(
            ElevenLabsTts::new(ElevenLabsConfig::new(&format!("http://{address}"), "m", "v", "k")).speak("Hi"),
        );
        assert_eq!(audio.len(), 500);
        assert_eq!(failure.unwrap().kind, FailureKind::Unreachable);
    }
}

mod cartesia {
    use voicera_models_cloud::cartesia::{CartesiaConfig, CartesiaTts};

    use super::*;

    fn check(request: &Request) -> Result<(), ErrorResponse> {
        assert_eq!(request.uri().to_string(), "/tts/websocket?cartesia_version=2024-06-10");
        assert_eq!(header(request, "cartesia-version"), "2024-06-10");
        if header(request, "x-api-key") != "ck-test" || header(request, "authorization") != "Bearer ck-test" {
            return Err(refuse(401, r#"{"error":"Invalid API key"}"#));
        }
        Ok(())
    }

    #[test]
    fn chunks_then_done_and_error_messages() {
        let samples: Vec<i16> = (0..900).map(|i| (i * 31) as i16).collect();
        let chunks: Vec<String> =
            samples.chunks(300).map(|c| base64::engine::general_purpose::STANDARD.encode(pcm_bytes(c))).collect();
        let (address, server) = ws_server(check, move |socket| {
            let request: Value = serde_json::from_str(socket.read().unwrap().to_text().unwrap()).unwrap();
            let context = request["context_id"].clone();
            for data in chunks {
                let chunk = json!({"type": "chunk", "data": data, "done": false, "status_code": 206, "step_time": 12.5, "context_id": context});
                socket.send(Message::Text(chunk.to_string().into())).unwrap();
            }
            let done = json!({"type": "done", "done": true, "status_code": 206, "context_id": context});
            socket.send(Message::Text(done.to_string().into())).unwrap();
            request
        });
        let config = CartesiaConfig::new(
            &format!("ws://{address}"),
            "sonic-2",
            "a0e99841-438c-4a64-b679-ae501e7d6091",
            "hi",
            "ck-test",
        );
        let (audio, failure) = collect_audio(CartesiaTts::new(config).speak("Namaste."));
        assert_eq!((audio, failure), (samples, None));
        let request = server.join().unwrap().unwrap();
        assert_eq!(request["model_id"], "sonic-2");
        assert_eq!(request["transcript"], "Namaste.");
        assert_eq!(request["voice"], json!({"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"}));
        assert_eq!(
            request["output_format"],
            json!({"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000})
        );
        assert_eq!(request["language"], "hi");

        let (address, _server) = ws_server(check, |socket| {
            let request: Value = serde_json::from_str(socket.read().unwrap().to_text().unwrap()).unwrap();
            let error = json!({"type": "error", "context_id": request["context_id"], "status_code": 400, "done": true, "error": "Invalid voice id"});
            socket.send(Message::Text(error.to_string().into())).unwrap();
        });
        let config = CartesiaConfig::new(&format!("ws://{address}"), "sonic-2", "nope", "en", "ck-test");
        let failure = collect_audio(CartesiaTts::new(config).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid voice id"), "{failure}");

        let (address, _server) = ws_server(check, |_| ());
        let config = CartesiaConfig::new(&format!("ws://{address}"), "sonic-2", "v", "en", "ck-bad");
        let failure = collect_audio(CartesiaTts::new(config).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid API key") && !failure.message.contains("ck-bad"), "{failure}");
    }
}

mod ai4bharat {
    use voicera_models_cloud::ai4bharat::{Ai4BharatStt, Ai4BharatSttConfig, ParlerConfig, ParlerTts};

    use super::*;

    #[test]
    fn an_utterance_is_posted_as_base64_pcm_and_its_text_is_final() {
        let answer = r#"{"text": "नमस्ते"}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
        let (address, server) = http_server(head, vec![]);
        let mut stream = Ai4BharatStt::new(Ai4BharatSttConfig::new(&format!("http://{address}/"))).stream("hi");
        let frames: Vec<i16> = (0..640).map(|i| (i * 3) as i16).collect();
        stream.push_audio(&frames[..320]);
        stream.push_audio(&frames[320..]);
        assert_eq!(stream.poll_transcript(), None);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("नमस्ते".into()));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /transcribe HTTP/1.1");
        let body = request.json();
        assert_eq!(body["language_id"], "hi");
        let audio = base64::engine::general_purpose::STANDARD.decode(body["audio_b64"].as_str().unwrap()).unwrap();
        assert_eq!(audio, pcm_bytes(&frames));
    }

    #[test]
    fn bhili_has_its_own_path_and_a_full_queue_is_overload() {
        let (address, server) =
            http_server(error_head("503 Service Unavailable", r#"{"detail":"queue full"}"#), vec![]);
        let mut stream = Ai4BharatStt::new(Ai4BharatSttConfig::new(&format!("http://{address}"))).stream("bhb");
        stream.push_audio(&[1; 160]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Overloaded);
                assert!(err.message.contains("queue full"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.join().unwrap().line, "POST /transcribe/bhili HTTP/1.1");
    }

    fn float_frame(samples: &[f32]) -> Message {
        Message::Binary(samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>().into())
    }

    fn meta(rate: u32) -> Message {
        Message::Text(
            json!({"type": "meta", "pid": 7, "sample_rate": rate, "dtype": "float32", "channels": 1})
                .to_string()
                .into(),
        )
    }

    #[test]
    fn parler_meta_float_frames_and_done_become_pcm() {
        let (address, server) = ws_server(
            |request| {
                assert_eq!(request.uri().path(), "/ws");
                Ok(())
            },
            |socket| {
                let request: Value = serde_json::from_str(socket.read().unwrap().to_text().unwrap()).unwrap();
                socket.send(meta(44_100)).unwrap();
                socket.send(float_frame(&[0.0, 0.5, -0.5])).unwrap();
                socket.send(float_frame(&[1.0, -1.0, 2.0])).unwrap();
                socket.send(Message::Text(json!({"type": "done", "pid": 7}).to_string().into())).unwrap();
                request
            },
        );
        let config = ParlerConfig::new(&format!("ws://{address}/ws"), "Rohit speaks clearly.", "hi");
        let stream = ParlerTts::new(config).speak("नमस्ते");
        assert_eq!(stream.sample_rate(), 44_100);
        let (audio, failure) = collect_audio(stream);
        assert_eq!(failure, None);
        assert_eq!(audio, [0, 16384, -16384, 32767, -32767, 32767]);
        assert_eq!(
            server.join().unwrap().unwrap(),
            json!({"prompt": "नमस्ते", "description": "Rohit speaks clearly.", "language": "hi"})
        );
    }

    #[test]
    fn parler_errors_cuts_garbage_and_wrong_rates_fail() {
        type Script = Box<dyn FnOnce(&mut WebSocket<TcpStream>) + Send>;
        let cases: Vec<(Script, FailureKind)> = vec![
            (
                Box::new(|s| {
                    s.send(Message::Text(r#"{"type":"error","message":"CUDA out of memory"}"#.into())).unwrap()
                }),
                FailureKind::Engine,
            ),
            (
                Box::new(|s| {
                    s.send(meta(44_100)).unwrap();
                    s.send(float_frame(&[0.1; 64])).unwrap();
                }),
                FailureKind::Unreachable,
            ),
            (
                Box::new(|s| {
                    s.send(meta(44_100)).unwrap();
                    s.send(Message::Binary(vec![0u8; 6].into())).unwrap();
                }),
                FailureKind::Malformed,
            ),
            (Box::new(|s| s.send(meta(24_000)).unwrap()), FailureKind::Unsupported),
        ];
        for (script, kind) in cases {
            let (address, _server) = ws_server(
                |_| Ok(()),
                move |socket| {
                    let _ = socket.read();
                    script(socket);
                    // Returning drops the socket without a close frame: a cut connection.
                },
            );
            let config = ParlerConfig::new(&format!("ws://{address}/ws"), "Divya", "ta");
            let failure = collect_audio(ParlerTts::new(config).speak("வணக்கம்")).1;
            assert_eq!(failure.map(|f| f.kind), Some(kind));
        }
    }
}

mod cancellation {
    use voicera_models_cloud::deepgram::{DeepgramStt, DeepgramSttConfig};
    use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};

    use super::*;

    #[test]
    fn dropping_a_stream_closes_its_connection_promptly() {
        // Speech: a long PCM stream; the server notices the client leaving when its writes fail.
        let body: Vec<Vec<u8>> = (0..2000).map(|_| vec![0u8; 640]).collect();
        let (address, server) = http_server(stream_head("audio/pcm"), body);
        let mut stream =
            ElevenLabsTts::new(ElevenLabsConfig::new(&format!("http://{address}"), "m", "v", "k")).speak("long");
        let mut audio = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while audio.is_empty() && Instant::now() < deadline {
            stream.poll_audio(&mut audio);
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(stream);
        let started = Instant::now();
        server.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

        // Recognition: the socket is closed (CloseStream, then a close frame) when the stream goes.
        let (address, server) = ws_server(
            |_| Ok(()),
            |socket| {
                let mut seen = Vec::new();
                loop {
                    match socket.read() {
                        Ok(Message::Text(t)) => seen.push(t.to_string()),
                        Ok(Message::Close(_)) | Err(_) => return (seen, Instant::now()),
                        Ok(_) => {}
                    }
                }
            },
        );
        let mut stream =
            DeepgramStt::new(DeepgramSttConfig::new(&format!("http://{address}"), "nova-3", "k")).stream("en");
        stream.push_audio(&[0; 320]);
        std::thread::sleep(Duration::from_millis(50));
        let dropped = Instant::now();
        drop(stream);
        let (seen, closed) = server.join().unwrap().unwrap();
        assert!(closed.duration_since(dropped) < Duration::from_millis(500), "{:?}", closed.duration_since(dropped));
        assert!(seen.iter().any(|t| t.contains("CloseStream")), "{seen:?}");
    }
}

mod openai_tts {
    use voicera_models_cloud::openai_tts::{OpenAiTts, OpenAiTtsConfig};

    use super::*;

    #[test]
    fn speech_streams_24_khz_pcm_and_a_bad_key_keeps_openais_message() {
        let samples: Vec<i16> = (0..2400).map(|i| (i * 5) as i16).collect();
        let body: Vec<Vec<u8>> = pcm_bytes(&samples).chunks(1001).map(<[u8]>::to_vec).collect();
        let (address, server) = http_server(stream_head("audio/pcm"), body);
        let mut config = OpenAiTtsConfig::new(&format!("http://{address}/v1"), "gpt-4o-mini-tts", "alloy", "sk-test");
        config.speed = Some(1.25);
        let stream = OpenAiTts::new(config).speak("Hello.");
        assert_eq!(stream.sample_rate(), 24_000);
        assert_eq!(collect_audio(stream), (samples, None));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1/audio/speech HTTP/1.1");
        assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
        let body = request.json();
        assert_eq!(
            (&body["model"], &body["input"], &body["voice"], &body["response_format"]),
            (&json!("gpt-4o-mini-tts"), &json!("Hello."), &json!("alloy"), &json!("pcm"))
        );
        assert_eq!(body["speed"], 1.25);

        let error = r#"{"error":{"message":"Incorrect API key provided: sk-bad.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let (address, _server) = http_server(error_head("401 Unauthorized", error), vec![]);
        let failure = collect_audio(
            OpenAiTts::new(OpenAiTtsConfig::new(&format!("http://{address}/v1"), "tts-1", "alloy", "sk-bad"))
                .speak("Hi"),
        )
        .1
        .unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Incorrect API key"), "{failure}");
    }
}

/// A 16-bit mono PCM WAV file at `rate`.
fn wav(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data = pcm_bytes(samples);
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

mod sarvam {
    use voicera_models_cloud::sarvam::{SarvamTts, SarvamTtsConfig};

    use super::*;

    fn answer(wav: &[u8]) -> String {
        let body =
            json!({"request_id": "r1", "audios": [base64::engine::general_purpose::STANDARD.encode(wav)]}).to_string();
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    }

    #[test]
    fn bulbul_answers_base64_wav_and_v2_takes_pitch_and_loudness() {
        let samples: Vec<i16> = (0..800).map(|i| (i * 9) as i16).collect();
        let (address, server) = http_server(answer(&wav(16000, &samples)), vec![]);
        let mut config = SarvamTtsConfig::new(&format!("http://{address}"), "bulbul:v2", "anushka", "hi", "sv-test");
        (config.pitch, config.loudness, config.pace) = (Some(0.25), Some(1.5), Some(1.1));
        assert_eq!(collect_audio(SarvamTts::new(config).speak("नमस्ते")), (samples, None));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /text-to-speech HTTP/1.1");
        assert_eq!(request.header("api-subscription-key"), Some("sv-test"));
        let body = request.json();
        assert_eq!(body["target_language_code"], "hi-IN");
        assert_eq!((&body["speaker"], &body["model"]), (&json!("anushka"), &json!("bulbul:v2")));
        assert_eq!((body["pitch"].as_f64(), body["loudness"].as_f64()), (Some(0.25), Some(1.5)));
        assert_eq!(body["speech_sample_rate"], 16000);
    }

    #[test]
    fn errors_and_a_wrong_rate_fail() {
        let (address, _server) = http_server(
            error_head(
                "403 Forbidden",
                r#"{"error":{"message":"Invalid API key","code":"invalid_api_key_error","request_id":"r"}}"#,
            ),
            vec![],
        );
        let config = SarvamTtsConfig::new(&format!("http://{address}"), "bulbul:v3", "aditya", "ta", "bad");
        let failure = collect_audio(SarvamTts::new(config).speak("வணக்கம்")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid API key"), "{failure}");
        let (address, _server) = http_server(answer(&wav(22050, &[0; 10])), vec![]);
        let config = SarvamTtsConfig::new(&format!("http://{address}"), "bulbul:v3", "aditya", "ta", "k");
        assert_eq!(collect_audio(SarvamTts::new(config).speak("x")).1.unwrap().kind, FailureKind::Malformed);
    }
}

/// The parts of a `multipart/form-data` request: (name, body bytes), checked against its boundary.
fn form_parts(request: &HttpRequest) -> Vec<(String, Vec<u8>)> {
    let content_type = request.header("content-type").unwrap();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
    let delimiter = format!("\r\n--{boundary}");
    let body = [b"\r\n".as_slice(), &request.body].concat();
    let mut parts = Vec::new();
    let mut rest = &body[..];
    loop {
        let start = rest.windows(delimiter.len()).position(|w| w == delimiter.as_bytes()).unwrap();
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            return parts;
        }
        let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let name = head.split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let content = &rest[head_end + 4..];
        let end = content.windows(delimiter.len()).position(|w| w == delimiter.as_bytes()).unwrap();
        parts.push((name, content[..end].to_vec()));
        rest = &content[end..];
    }
}

fn json_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn wav_data(wav: &[u8]) -> &[u8] {
    assert_eq!((&wav[..4], &wav[8..16]), (b"RIFF".as_slice(), b"WAVEfmt ".as_slice()));
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 16_000);
    &wav[44..]
}

mod segment_stt {
    use voicera_models_cloud::openai_stt::OpenAiStt;
    use voicera_models_cloud::sarvam::SarvamStt;

    use super::*;

    #[test]
    fn sarvam_gets_a_wav_form_and_its_transcript_is_final() {
        let (address, server) = http_server(
            json_answer(r#"{"request_id":"r","transcript":"मुझे टिकट चाहिए","language_code":"hi-IN"}"#),
            vec![],
        );
        let mut stream = SarvamStt::new(&format!("http://{address}"), "saarika:v2.5", "sv-test").stream("hi");
        let audio: Vec<i16> = (0..480).map(|i| i as i16).collect();
        stream.push_audio(&audio);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("मुझे टिकट चाहिए".into()));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /speech-to-text HTTP/1.1");
        assert_eq!(request.header("api-subscription-key"), Some("sv-test"));
        let parts = form_parts(&request);
        assert_eq!(parts[0], ("model".to_string(), b"saarika:v2.5".to_vec()));
        assert_eq!(parts[1], ("language_code".to_string(), b"hi-IN".to_vec()));
        assert_eq!(parts[2].0, "file");
        assert_eq!(wav_data(&parts[2].1), pcm_bytes(&audio));
    }

    #[test]
    fn openai_transcription_and_its_rate_limit() {
        let (address, server) = http_server(json_answer(r#"{"text":" Hello there. "}"#), vec![]);
        let mut stream = OpenAiStt::new(&format!("http://{address}/v1"), "whisper-1", "sk-test").stream("en-IN");
        stream.push_audio(&[5; 320]);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("Hello there.".into()));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1/audio/transcriptions HTTP/1.1");
        assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
        let parts = form_parts(&request);
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["model", "language", "response_format", "file"]);
        assert_eq!(parts[1].1, b"en");
        assert_eq!(wav_data(&parts[3].1), pcm_bytes(&[5; 320]));

        let error = r#"{"error":{"message":"Rate limit reached for whisper-1","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let (address, _server) = http_server(error_head("429 Too Many Requests", error), vec![]);
        let mut stream = OpenAiStt::new(&format!("http://{address}/v1"), "whisper-1", "sk-test").stream("en");
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Overloaded);
                assert!(err.message.contains("Rate limit reached"), "{err}");
                assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
            }
            other => panic!("{other:?}"),
        }
    }
}

mod scribe {
    use voicera_models_cloud::elevenlabs::ElevenLabsStt;

    use super::*;

    fn check(request: &Request) -> Result<(), ErrorResponse> {
        assert_eq!(
            request.uri().to_string(),
            "/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=pcm_16000&commit_strategy=manual&language_code=hi"
        );
        if header(request, "xi-api-key") != "xi-test" {
            return Err(refuse(401, r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#));
        }
        Ok(())
    }

    fn send(socket: &mut WebSocket<TcpStream>, message: Value) {
        socket.send(Message::Text(message.to_string().into())).unwrap();
    }

    #[test]
    fn partials_then_a_manual_commit_give_the_final() {
        let (address, server) = ws_server(check, |socket| {
            send(
                socket,
                json!({"message_type": "session_started", "session_id": "s1", "config": {"sample_rate": 16000}}),
            );
            let mut audio = Vec::new();
            let commit = loop {
                let message: Value = serde_json::from_str(socket.read().unwrap().to_text().unwrap()).unwrap();
                assert_eq!(message["message_type"], "input_audio_chunk");
                if message["commit"] == true {
                    break message;
                }
                assert_eq!(message["sample_rate"], 16000);
                audio.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(message["audio_base_64"].as_str().unwrap())
                        .unwrap(),
                );
                send(socket, json!({"message_type": "partial_transcript", "text": "नमस्ते"}));
            };
            send(socket, json!({"message_type": "committed_transcript", "text": "नमस्ते दोस्तों"}));
            let _ = socket.read();
            (audio, commit)
        });
        let mut stream =
            ElevenLabsStt::new(&format!("http://{address}"), "scribe_v2_realtime", "xi-test").stream("hi-IN");
        stream.push_audio(&[3; 160]);
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Partial("नमस्ते".into()));
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("नमस्ते दोस्तों".into()));
        drop(stream);
        let (audio, commit) = server.join().unwrap().unwrap();
        assert_eq!(audio, pcm_bytes(&[3; 160]));
        assert_eq!(commit["audio_base_64"], "");
    }

    #[test]
    fn a_refused_key_and_an_error_message_fail_the_utterance() {
        let (address, _server) = ws_server(check, |_| ());
        let mut stream = ElevenLabsStt::new(&format!("http://{address}"), "scribe_v2_realtime", "xi-bad").stream("hi");
        stream.end_of_speech();
        assert!(
            matches!(next_transcript(stream.as_mut()), Transcript::Failed(e) if e.kind == FailureKind::Rejected && e.message.contains("Invalid API key"))
        );

        let (address, _server) = ws_server(check, |socket| {
            let _ = socket.read();
            send(socket, json!({"message_type": "quota_exceeded", "error": "Quota exceeded for this month"}));
            let _ = socket.read();
        });
        let mut stream = ElevenLabsStt::new(&format!("http://{address}"), "scribe_v2_realtime", "xi-test").stream("hi");
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Overloaded);
                assert!(err.message.contains("Quota exceeded"), "{err}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An HTTP server answering one request per connection with `answers` in turn (each a whole response with
/// `Connection: close`); returns the requests it read.
fn http_sequence(answers: Vec<String>) -> (SocketAddr, JoinHandle<Vec<HttpRequest>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut socket, _) = listener.accept().unwrap();
            requests.push(read_request(&mut socket));
            socket.write_all(answer.as_bytes()).unwrap();
        }
        requests
    });
    (address, handle)
}

/// A server that accepts connections and never answers (a stalled provider); it holds them for `hold`.
fn stalling_server(hold: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + hold;
        listener.set_nonblocking(true).unwrap();
        while Instant::now() < until {
            if let Ok((socket, _)) = listener.accept() {
                held.push(socket);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    address
}

mod timeouts {
    use std::sync::Arc;

    use voicera_models::fallback::{BreakerPolicy, ChainBudget, FallbackLlm, Link, SystemClock};
    use voicera_models_cloud::deepgram::{DeepgramStt, DeepgramSttConfig};
    use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsWsTts};
    use voicera_models_cloud::openai::{OpenAiChat, OpenAiConfig};

    use super::*;

    fn sse_answer(words: &[&str]) -> Vec<Vec<u8>> {
        let mut body: Vec<Vec<u8>> = words
            .iter()
            .map(|w| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": w}}]})).into_bytes())
            .collect();
        body.push(
            b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".to_vec(),
        );
        body
    }

    #[test]
    fn a_stalled_provider_fails_after_its_timeout_and_the_chain_answers_from_the_next_link() {
        let stalled = stalling_server(Duration::from_secs(20));
        let (backup, backup_server) = http_server(stream_head("text/event-stream"), sse_answer(&["It is ", "three."]));
        let timeout = Duration::from_millis(300);
        let primary = OpenAiChat::new(OpenAiConfig::new(&format!("http://{stalled}/v1"), "gpt-4o-mini", None))
            .with_timeout(timeout);
        let secondary = OpenAiChat::new(OpenAiConfig::new(&format!("http://{backup}/v1"), "llama", None));
        let links = vec![
            Link::new("openai:gpt-4o-mini", Arc::new(primary) as Arc<dyn LanguageModel>, BreakerPolicy::default())
                .with_first_result(timeout),
            Link::new("groq:llama", Arc::new(secondary) as Arc<dyn LanguageModel>, BreakerPolicy::default()),
        ];
        // The chain's own budget is far longer: the switch comes from the provider's timeout_ms.
        let budget = ChainBudget { first_token: Duration::from_secs(30), stall: Duration::from_secs(30) };
        let chain = FallbackLlm::new(links, budget, Arc::new(SystemClock));
        let started = Instant::now();
        // A switch notice does not end the reply: collect until its end.
        let mut reply = chain.reply(&history(), &[]);
        let mut events = Vec::new();
        while started.elapsed() < DEADLINE {
            match reply.poll_event() {
                Some(event) => {
                    let end = matches!(event, LlmEvent::Done | LlmEvent::Failed(_) | LlmEvent::ToolCall { .. });
                    events.push(event);
                    if end {
                        break;
                    }
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        let switched = events
            .iter()
            .find_map(|e| match e {
                LlmEvent::Switched { from, to, reason } => Some((from.clone(), to.clone(), reason.kind)),
                _ => None,
            })
            .expect("a switch");
        assert_eq!(switched, ("openai:gpt-4o-mini".into(), "groq:llama".into(), FailureKind::TimedOut));
        let text: String =
            events.iter().filter_map(|e| if let LlmEvent::Token(t) = e { Some(t.as_str()) } else { None }).collect();
        assert_eq!(text, "It is three.");
        assert!(started.elapsed() < Duration::from_secs(10), "switched long before the chain's 30 s");
        assert_eq!(backup_server.join().unwrap().line, "POST /v1/chat/completions HTTP/1.1");
    }

    #[test]
    fn http_and_websocket_clients_give_up_on_a_stalled_provider_as_timed_out() {
        let stalled = stalling_server(Duration::from_secs(20));
        let timeout = Duration::from_millis(250);
        let chat = OpenAiChat::new(OpenAiConfig::new(&format!("http://{stalled}/v1"), "m", None)).with_timeout(timeout);
        let events = collect_reply(chat.reply(&history(), &[]));
        assert_eq!(failure_of(&events).kind, FailureKind::TimedOut, "{events:?}");
        // A WebSocket whose handshake never comes back.
        let config = ElevenLabsConfig::new(&format!("ws://{stalled}"), "eleven_flash_v2_5", "v", "xi-test");
        let failure = collect_audio(ElevenLabsWsTts::new(config).with_timeout(timeout).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::TimedOut, "{failure}");
        let stt = DeepgramStt::new(DeepgramSttConfig::new(&format!("http://{stalled}"), "nova-3", "dg"))
            .with_timeout(timeout);
        let mut stream = stt.stream("en");
        stream.push_audio(&[0; 160]);
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => assert_eq!(err.kind, FailureKind::TimedOut, "{err}"),
            other => panic!("{other:?}"),
        }
    }
}

mod probes {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use voicera_models::fallback::{BreakerPolicy, BreakerState, ChainBudget, Clock, FallbackLlm, Link, Probe};
    use voicera_models_cloud::check::{check_within, CheckedApi};
    use voicera_models_cloud::openai::{OpenAiChat, OpenAiConfig};

    use super::*;

    struct VirtualClock {
        base: Instant,
        ms: AtomicU64,
    }

    impl Clock for VirtualClock {
        fn now(&self) -> Instant {
            self.base + Duration::from_millis(self.ms.load(Ordering::Relaxed))
        }
    }

    #[test]
    fn the_probe_reopens_on_a_failing_provider_and_closes_when_it_recovers() {
        // The provider: a turn gets 503, the first probe of its model list 503, the second the list.
        let busy = error_head("503 Service Unavailable", r#"{"error":{"message":"The server is overloaded"}}"#);
        let (provider, server) = http_sequence(vec![
            busy.clone(),
            busy,
            json_answer(r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}"#),
        ]);
        let base = format!("http://{provider}/v1");
        let probe_base = base.clone();
        let probe: Probe = Arc::new(move || {
            check_within(CheckedApi::OpenAiCompatible, &probe_base, "sk-test", Duration::from_secs(5)).map(|_| ())
        });
        let clock = Arc::new(VirtualClock { base: Instant::now(), ms: AtomicU64::new(0) });
        let chat = OpenAiChat::new(OpenAiConfig::new(&base, "gpt-4o-mini", Some("sk-test".into())));
        let policy = BreakerPolicy { failures_to_open: 1, open_for: Duration::from_secs(30) };
        let link = Link::new("openai:gpt-4o-mini", Arc::new(chat) as Arc<dyn LanguageModel>, policy).with_probe(probe);
        let chain = FallbackLlm::new(vec![link], ChainBudget::default(), clock.clone());
        // A turn fails: the breaker opens.
        let events = collect_reply(chain.reply(&history(), &[]));
        assert_eq!(failure_of(&events).kind, FailureKind::Overloaded);
        let link = &chain.links()[0];
        assert!(matches!(link.breaker_state(), BreakerState::Open { .. }));
        assert_eq!(chain.probe_now(), 0, "no probe within the hold");
        clock.ms.fetch_add(30_000, Ordering::Relaxed);
        assert_eq!(chain.probe_now(), 1, "the hold is over: one probe");
        assert!(matches!(link.breaker_state(), BreakerState::Open { .. }), "the provider still fails: open again");
        assert_eq!(chain.probe_now(), 0);
        clock.ms.fetch_add(30_000, Ordering::Relaxed);
        assert_eq!(chain.probe_now(), 1);
        assert_eq!(link.breaker_state(), BreakerState::Closed { failures: 0 }, "the provider is back");
        let requests = server.join().unwrap();
        assert_eq!(requests[0].line, "POST /v1/chat/completions HTTP/1.1");
        for request in &requests[1..] {
            assert_eq!(request.line, "GET /v1/models HTTP/1.1");
            assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
        }
    }
}

mod google_probe {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use voicera_models::fallback::{BreakerPolicy, BreakerState, ChainBudget, Clock, Link, Probe};
    use voicera_models::speech_chain::FallbackStt;
    use voicera_models_cloud::check::{check_within, CheckedApi};
    use voicera_models_cloud::google::GoogleStt;

    use super::*;

    struct VirtualClock {
        base: Instant,
        ms: AtomicU64,
    }

    impl Clock for VirtualClock {
        fn now(&self) -> Instant {
            self.base + Duration::from_millis(self.ms.load(Ordering::Relaxed))
        }
    }

    /// A key allowed Speech-to-Text only: the link's probe is a recognition of silence, never the voice list
    /// (which such a key is refused), so the probe closes the breaker instead of handing it to a caller.
    #[test]
    fn a_google_stt_link_is_probed_by_a_recognition_of_silence_and_closes() {
        let busy = error_head(
            "503 Service Unavailable",
            r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#,
        );
        let (provider, server) =
            http_sequence(vec![busy, json_answer(r#"{"totalBilledTime":"1s","requestId":"4711"}"#)]);
        let base = format!("http://{provider}");
        let probe_base = base.clone();
        let probe: Probe = Arc::new(move || {
            check_within(CheckedApi::GoogleStt, &probe_base, "stt-only", Duration::from_secs(5)).map(|_| ())
        });
        let clock = Arc::new(VirtualClock { base: Instant::now(), ms: AtomicU64::new(0) });
        let stt = GoogleStt::new(&base, "latest_short", "stt-only");
        let policy = BreakerPolicy { failures_to_open: 1, open_for: Duration::from_secs(30) };
        let link = Link::new("google:latest_short", Arc::new(stt) as Arc<dyn SpeechToText>, policy).with_probe(probe);
        let chain = FallbackStt::new(vec![link], ChainBudget::default(), clock.clone());
        // An utterance fails with 503: the breaker opens.
        let mut stream = chain.stream("en");
        stream.push_audio(&[0; 1600]);
        stream.end_of_speech();
        let deadline = Instant::now() + DEADLINE;
        while !matches!(chain.links()[0].breaker_state(), BreakerState::Open { .. }) {
            assert!(Instant::now() < deadline, "the breaker never opened");
            let _ = stream.poll_transcript();
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(chain.probe_now(), 0, "no probe within the hold");
        clock.ms.fetch_add(30_000, Ordering::Relaxed);
        assert_eq!(chain.probe_now(), 1);
        assert_eq!(chain.links()[0].breaker_state(), BreakerState::Closed { failures: 0 }, "the probe closed it");
        let requests = server.join().unwrap();
        let probe = &requests[1];
        assert_eq!(probe.line, "POST /v1/speech:recognize HTTP/1.1");
        assert_eq!(probe.header("x-goog-api-key"), Some("stt-only"));
        let body = probe.json();
        assert_eq!(body["config"], json!({"encoding": "LINEAR16", "sampleRateHertz": 16000, "languageCode": "en-US"}));
        let audio = base64::engine::general_purpose::STANDARD.decode(body["audio"]["content"].as_str().unwrap());
        assert_eq!(audio.unwrap(), vec![0u8; 3200], "100 ms of 16 kHz silence");
    }
}

mod elevenlabs_ws {
    use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsWsTts};

    use super::*;

    fn check(request: &Request) -> Result<(), ErrorResponse> {
        assert_eq!(
            request.uri().to_string(),
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input?model_id=eleven_flash_v2_5&output_format=pcm_16000"
        );
        if header(request, "xi-api-key") != "xi-test" {
            return Err(refuse(401, r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#));
        }
        Ok(())
    }

    fn config(address: SocketAddr, key: &str) -> ElevenLabsConfig {
        ElevenLabsConfig::new(&format!("http://{address}"), "eleven_flash_v2_5", "21m00Tcm4TlvDq8ikWAM", key)
    }

    #[test]
    fn begin_text_and_end_of_stream_are_answered_by_base64_audio_until_is_final() {
        let samples: Vec<i16> = (0..1200).map(|i| (i * 7) as i16).collect();
        let chunks: Vec<String> =
            samples.chunks(500).map(|c| base64::engine::general_purpose::STANDARD.encode(pcm_bytes(c))).collect();
        let (address, server) = ws_server(check, move |socket| {
            let mut sent = Vec::new();
            for _ in 0..3 {
                sent.push(serde_json::from_str::<Value>(socket.read().unwrap().to_text().unwrap()).unwrap());
            }
            for audio in chunks {
                let alignment = json!({"chars": ["N"], "charStartTimesMs": [0], "charDurationsMs": [50]});
                let message =
                    json!({"audio": audio, "isFinal": null, "normalizedAlignment": alignment, "alignment": alignment});
                socket.send(Message::Text(message.to_string().into())).unwrap();
            }
            socket.send(Message::Text(json!({"isFinal": true}).to_string().into())).unwrap();
            sent
        });
        let mut config = config(address, "xi-test");
        config.speed = Some(1.1);
        let (audio, failure) = collect_audio(ElevenLabsWsTts::new(config).speak("Namaste."));
        assert_eq!((audio, failure), (samples, None));
        let sent = server.join().unwrap().unwrap();
        assert_eq!(sent[0]["text"], " ", "beginning of stream");
        assert!((sent[0]["voice_settings"]["speed"].as_f64().unwrap() - 1.1).abs() < 1e-6);
        assert_eq!(sent[1], json!({"text": "Namaste. ", "flush": true}), "the text ends with a space");
        assert_eq!(sent[2], json!({"text": ""}), "end of stream");
    }

    #[test]
    fn a_refused_key_an_error_message_and_a_policy_close_fail() {
        let (address, _server) = ws_server(check, |_| ());
        let failure = collect_audio(ElevenLabsWsTts::new(config(address, "xi-bad")).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid API key") && !failure.message.contains("xi-bad"), "{failure}");

        let (address, _server) = ws_server(check, |socket| {
            for _ in 0..3 {
                let _ = socket.read();
            }
            let error = json!({"message": "Quota exceeded for this voice", "error": "quota_exceeded", "code": 1008});
            socket.send(Message::Text(error.to_string().into())).unwrap();
        });
        let failure = collect_audio(ElevenLabsWsTts::new(config(address, "xi-test")).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Overloaded);
        assert!(failure.message.contains("Quota exceeded"), "{failure}");

        let (address, _server) = ws_server(check, |socket| {
            for _ in 0..3 {
                let _ = socket.read();
            }
            let frame = tungstenite::protocol::CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Policy,
                reason: "Input timeout exceeded".into(),
            };
            let _ = socket.close(Some(frame));
            let _ = socket.flush();
            let _ = socket.read();
        });
        let failure = collect_audio(ElevenLabsWsTts::new(config(address, "xi-test")).speak("Hi")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("1008") && failure.message.contains("Input timeout"), "{failure}");
    }
}

mod google {
    use voicera_models_cloud::google::{GoogleStt, GoogleTts, GoogleTtsConfig};
    use voicera_models_cloud::utterance::wav_file;

    use super::*;

    #[test]
    fn recognize_posts_linear16_in_base64_and_joins_the_results() {
        let answer = r#"{"results":[{"alternatives":[{"transcript":"मुझे टिकट","confidence":0.93}],"resultEndTime":"1.2s","languageCode":"hi-in"},{"alternatives":[{"transcript":" चाहिए","confidence":0.9}],"languageCode":"hi-in"}],"totalBilledTime":"2s","requestId":"123"}"#;
        let (address, server) = http_server(json_answer(answer), vec![]);
        let mut stream = GoogleStt::new(&format!("http://{address}"), "latest_short", "g-test").stream("hi");
        let audio: Vec<i16> = (0..640).map(|i| (i * 3) as i16).collect();
        stream.push_audio(&audio);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("मुझे टिकट चाहिए".into()));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1/speech:recognize HTTP/1.1");
        assert_eq!(request.header("x-goog-api-key"), Some("g-test"));
        let body = request.json();
        assert_eq!(
            body["config"],
            json!({"encoding": "LINEAR16", "sampleRateHertz": 16000, "languageCode": "hi-IN", "model": "latest_short", "enableAutomaticPunctuation": true})
        );
        let sent =
            base64::engine::general_purpose::STANDARD.decode(body["audio"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(sent, pcm_bytes(&audio));

        let error = r#"{"error":{"code":403,"message":"API key not valid. Please pass a valid API key.","status":"PERMISSION_DENIED"}}"#;
        let (address, _server) = http_server(error_head("403 Forbidden", error), vec![]);
        let mut stream = GoogleStt::new(&format!("http://{address}"), "latest_short", "bad").stream("en");
        stream.end_of_speech();
        match next_transcript(stream.as_mut()) {
            Transcript::Failed(err) => {
                assert_eq!(err.kind, FailureKind::Rejected);
                assert!(err.message.contains("API key not valid"), "{err}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn synthesize_sends_voice_and_audio_config_and_plays_the_wav() {
        let samples: Vec<i16> = (0..900).map(|i| (i * 11) as i16).collect();
        let answer = json!({"audioContent": base64::engine::general_purpose::STANDARD.encode(wav_file(&samples))});
        let (address, server) = http_server(json_answer(&answer.to_string()), vec![]);
        let mut config = GoogleTtsConfig::new(&format!("http://{address}"), "hi-IN-Neural2-A", "hi", "g-test");
        (config.speaking_rate, config.pitch, config.volume_gain_db) = (Some(1.25), Some(-2.0), Some(3.0));
        assert_eq!(collect_audio(GoogleTts::new(config).speak("नमस्ते")), (samples, None));
        let request = server.join().unwrap();
        assert_eq!(request.line, "POST /v1/text:synthesize HTTP/1.1");
        assert_eq!(request.header("x-goog-api-key"), Some("g-test"));
        assert_eq!(
            request.json(),
            json!({
                "input": {"text": "नमस्ते"},
                "voice": {"languageCode": "hi-IN", "name": "hi-IN-Neural2-A"},
                "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 16000, "speakingRate": 1.25, "pitch": -2.0, "volumeGainDb": 3.0}
            })
        );
        let (address, _server) = http_server(json_answer(r#"{"audioContent":"not base64!"}"#), vec![]);
        let config = GoogleTtsConfig::new(&format!("http://{address}"), "", "ta", "g-test");
        assert_eq!(collect_audio(GoogleTts::new(config).speak("x")).1.unwrap().kind, FailureKind::Malformed);
    }
}

mod bhashini {
    use voicera_models_cloud::bhashini::{BhashiniAccount, BhashiniStt, BhashiniTts};
    use voicera_models_cloud::utterance::wav_file;

    use super::*;

    /// A config answer pointing compute calls at `compute`.
    fn config_answer(task: &str, service: &str, compute: SocketAddr) -> String {
        json_answer(
            &json!({
                "languages": [{"sourceLanguage": "mni", "targetLanguageList": []}],
                "pipelineResponseConfig": [{"taskType": task, "config": [
                    {"serviceId": service, "modelId": "6411746956e9de23f65b5426", "language": {"sourceLanguage": "mni", "sourceScriptCode": "Beng"}}
                ]}],
                "feedbackUrl": "https://dhruva-api.bhashini.gov.in/services/feedback/submit",
                "pipelineInferenceAPIEndPoint": {
                    "callbackUrl": format!("http://{compute}/services/inference/pipeline"),
                    "inferenceApiKey": {"name": "Authorization", "value": "inference-key-1"},
                    "isMultilingualEnabled": true,
                    "isSyncApi": true
                },
                "pipelineInferenceSocketEndPoint": {"callbackUrl": "wss://dhruva-api.bhashini.gov.in", "isSyncApi": true}
            })
            .to_string(),
        )
    }

    #[test]
    fn asr_asks_the_pipeline_config_once_then_computes_with_the_inference_key() {
        let answer = |text: &str| {
            json_answer(&json!({"pipelineResponse": [{"taskType": "asr", "config": null, "output": [{"source": text}], "audio": null}]}).to_string())
        };
        let (compute, compute_server) = http_sequence(vec![answer("ꯈꯨꯔꯨꯝꯖꯔꯤ"), answer("ꯊꯥꯒꯠꯆꯔꯤ")]);
        let (config, config_server) =
            http_server(config_answer("asr", "ai4bharat/conformer-multilingual-all--gpu-t4", compute), vec![]);
        let account = BhashiniAccount::new(&format!("http://{config}"), "", "user-1:ulca-key").unwrap();
        let mut stream = BhashiniStt::new(account, Duration::from_secs(5)).stream("mni");
        let audio: Vec<i16> = (0..800).map(|i| i as i16).collect();
        stream.push_audio(&audio);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("ꯈꯨꯔꯨꯝꯖꯔꯤ".into()));
        stream.push_audio(&audio);
        stream.end_of_speech();
        assert_eq!(next_transcript(stream.as_mut()), Transcript::Final("ꯊꯥꯒꯠꯆꯔꯤ".into()));
        let request = config_server.join().unwrap();
        assert_eq!(request.line, "POST /ulca/apis/v0/model/getModelsPipeline HTTP/1.1");
        assert_eq!((request.header("userID"), request.header("ulcaApiKey")), (Some("user-1"), Some("ulca-key")));
        assert_eq!(
            request.json(),
            json!({"pipelineTasks": [{"taskType": "asr", "config": {"language": {"sourceLanguage": "mni"}}}],
                   "pipelineRequestConfig": {"pipelineId": "64392f96daac500b55c543cd"}})
        );
        let computed = compute_server.join().unwrap();
        assert_eq!(computed.len(), 2, "one config call served both utterances");
        let request = &computed[0];
        assert_eq!(request.line, "POST /services/inference/pipeline HTTP/1.1");
        assert_eq!(request.header("authorization"), Some("inference-key-1"));
        assert_eq!(request.header("ulcaApiKey"), None, "the account key stays with the config call");
        let body = request.json();
        assert_eq!(
            body["pipelineTasks"],
            json!([{"taskType": "asr", "config": {"language": {"sourceLanguage": "mni"}, "serviceId": "ai4bharat/conformer-multilingual-all--gpu-t4", "audioFormat": "wav", "samplingRate": 16000}}])
        );
        let wav = base64::engine::general_purpose::STANDARD
            .decode(body["inputData"]["audio"][0]["audioContent"].as_str().unwrap())
            .unwrap();
        assert_eq!(wav_data(&wav), pcm_bytes(&audio));
    }

    /// A compute server for `count` TTS calls that synthesises `TONE_HZ` for `TONE_MS` at the `samplingRate`
    /// each request asks (or at `answer_rate` when set: a service that ignores it); returns the rates asked.
    fn tone_compute(count: usize, answer_rate: Option<u32>) -> (SocketAddr, JoinHandle<Vec<u64>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut asked = Vec::new();
            for _ in 0..count {
                let (mut socket, _) = listener.accept().unwrap();
                let request = read_request(&mut socket);
                let rate = request.json()["pipelineTasks"][0]["config"]["samplingRate"].as_u64().unwrap();
                asked.push(rate);
                let rate = answer_rate.unwrap_or(rate as u32);
                let samples: Vec<i16> = (0..(rate as usize * TONE_MS / 1000))
                    .map(|n| {
                        let phase = 2.0 * std::f64::consts::PI * TONE_HZ * n as f64 / f64::from(rate);
                        (phase.sin() * 12_000.0) as i16
                    })
                    .collect();
                let audio = base64::engine::general_purpose::STANDARD.encode(wav(rate, &samples));
                let answer = json!({"pipelineResponse": [{"taskType": "tts", "config": {"language": {"sourceLanguage": "hi"}, "audioFormat": "wav", "encoding": "base64", "samplingRate": rate}, "output": null, "audio": [{"audioContent": audio, "audioUri": null}]}]});
                socket.write_all(json_answer(&answer.to_string()).as_bytes()).unwrap();
            }
            asked
        });
        (address, handle)
    }

    const TONE_HZ: f64 = 1000.0;
    const TONE_MS: usize = 300;

    /// The frequency of a tone from its rising zero crossings, away from the resamplers' edges.
    fn tone_frequency(samples: &[i16], rate: u32) -> f64 {
        let edge = rate as usize / 50;
        let middle = &samples[edge..samples.len() - edge];
        let rising: Vec<usize> = (1..middle.len()).filter(|&i| middle[i - 1] < 0 && middle[i] >= 0).collect();
        let (first, last) = (rising[0], rising[rising.len() - 1]);
        (rising.len() - 1) as f64 * f64::from(rate) / (last - first) as f64
    }

    /// Whatever rate is asked of Bhashini, the stream declares the rate of its audio, so the call's path (the
    /// engine to 16 kHz, then the transport to 8 kHz telephony or 24 kHz WebRTC, with the media resampler)
    /// keeps the voice's length and pitch.
    #[test]
    fn tts_at_any_asked_rate_reaches_8_and_24_khz_calls_with_its_length_and_pitch() {
        use voicera_media::dsp::Resampler;
        use voicera_media::stream::ENGINE_RATE;

        let through = |samples: &[i16], from: u32, to: u32| -> Vec<i16> {
            if from == to {
                return samples.to_vec();
            }
            let mut resampler = Resampler::new(from, to);
            let mut out = vec![0; resampler.max_output(samples.len())];
            let n = resampler.process(samples, &mut out);
            out.truncate(n);
            out
        };
        for asked in [8_000, 16_000, 22_050] {
            let (compute, compute_server) = tone_compute(2, None);
            let (config, _config_server) = http_server(config_answer("tts", "Bhashini/IITM/TTS", compute), vec![]);
            let account = BhashiniAccount::new(&format!("http://{config}"), "", "user-1:ulca-key").unwrap();
            let tts = BhashiniTts::new(account, "hi", "female", Duration::from_secs(5)).with_sample_rate(asked);
            for call_rate in [8_000, 24_000] {
                let stream = tts.speak("नमस्ते");
                let declared = stream.sample_rate();
                assert_eq!(declared, asked);
                let (audio, failure) = collect_audio(stream);
                assert_eq!(failure, None);
                let at_call = through(&through(&audio, declared, ENGINE_RATE), ENGINE_RATE, call_rate);
                let ms = at_call.len() as f64 * 1000.0 / f64::from(call_rate);
                assert!((ms - TONE_MS as f64).abs() <= 5.0, "asked {asked}, call {call_rate}: {ms} ms");
                let hz = tone_frequency(&at_call, call_rate);
                assert!((hz - TONE_HZ).abs() <= 10.0, "asked {asked}, call {call_rate}: {hz} Hz");
            }
            assert_eq!(compute_server.join().unwrap(), vec![u64::from(asked); 2], "samplingRate is the rate asked");
        }
        // A service that answers at its own rate instead is refused, naming both: never played at the wrong pitch.
        let (compute, _compute_server) = tone_compute(1, Some(22_050));
        let (config, _config_server) = http_server(config_answer("tts", "Bhashini/IITM/TTS", compute), vec![]);
        let account = BhashiniAccount::new(&format!("http://{config}"), "", "user-1:ulca-key").unwrap();
        let tts = BhashiniTts::new(account, "hi", "female", Duration::from_secs(5)).with_sample_rate(8_000);
        let failure = collect_audio(tts.speak("नमस्ते")).1.expect("a failure");
        assert_eq!(failure.kind, FailureKind::Malformed);
        assert!(failure.message.contains("22050 Hz, asked for 8000"), "{failure}");
    }

    #[test]
    fn tts_computes_a_wav_and_a_refused_config_fails_with_the_providers_words() {
        let samples: Vec<i16> = (0..700).map(|i| (i * 5) as i16).collect();
        let audio = base64::engine::general_purpose::STANDARD.encode(wav_file(&samples));
        let answer = json!({"pipelineResponse": [{"taskType": "tts", "config": {"language": {"sourceLanguage": "mni"}, "audioFormat": "wav", "encoding": "base64", "samplingRate": 16000}, "output": null, "audio": [{"audioContent": audio, "audioUri": null}]}]});
        let (compute, compute_server) = http_server(json_answer(&answer.to_string()), vec![]);
        let (config, _config_server) = http_server(config_answer("tts", "Bhashini/IITM/TTS", compute), vec![]);
        let account = BhashiniAccount::new(&format!("http://{config}"), "", "user-1:ulca-key").unwrap();
        let tts = BhashiniTts::new(account, "mni", "male", Duration::from_secs(5));
        assert_eq!(collect_audio(tts.speak("ꯈꯨꯔꯨꯝꯖꯔꯤ")), (samples, None));
        let body = compute_server.join().unwrap().json();
        assert_eq!(
            body,
            json!({"pipelineTasks": [{"taskType": "tts", "config": {"language": {"sourceLanguage": "mni"}, "serviceId": "Bhashini/IITM/TTS", "gender": "male", "samplingRate": 16000}}],
                   "inputData": {"input": [{"source": "ꯈꯨꯔꯨꯝꯖꯔꯤ"}]}})
        );

        let (config, _server) =
            http_server(error_head("401 Unauthorized", r#"{"message":"Invalid ulcaApiKey"}"#), vec![]);
        let account = BhashiniAccount::new(&format!("http://{config}"), "", "user-1:bad").unwrap();
        let failure =
            collect_audio(BhashiniTts::new(account, "hi", "female", Duration::from_secs(5)).speak("x")).1.unwrap();
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert!(failure.message.contains("Invalid ulcaApiKey"), "{failure}");
    }
}
