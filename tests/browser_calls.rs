//! Browser test calls end to end: the `/browser/agent/{id}` socket (L16 16 kHz binary frames both ways, JSON
//! control and live transcript events), its tokens from `POST /browser/session` (owner credentials, except
//! for open agents; WebRTC offers need one for every agent), and the `/call-test` page.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::api::OWNER;
use common::provider::http;
use common::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn basic(email: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{email}:{password}")))
}

fn owner_auth() -> Vec<(&'static str, String)> {
    vec![("Authorization", basic(OWNER[0].1, OWNER[1].1))]
}

/// espeak-ng speech at 16 kHz, as little-endian bytes.
fn speech_16k_le(text: &str) -> Vec<u8> {
    common::espeak_speech(text, 16000).iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// What the page side of one call saw.
#[derive(Debug, Default)]
struct Seen {
    started: Option<Value>,
    /// (time since connect, bytes) of each binary frame.
    audio: Vec<(Duration, usize)>,
    events: Vec<(Duration, Value)>,
    close_code: Option<u16>,
}

impl Seen {
    fn transcripts(&self, role: &str) -> Vec<&Value> {
        self.events.iter().map(|(_, v)| v).filter(|v| v["event"] == "transcript" && v["role"] == role).collect()
    }
}

/// A browser call: 0.6 s of silence, a spoken question, then silence until the agent's answer has been
/// heard in the transcript, then `stop`.
async fn browser_call(url: &str, question: &str) -> Seen {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("socket opens");
    let speech = speech_16k_le(question);
    let began = Instant::now();
    let mut seen = Seen::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut n = 0usize;
    let mut stop_sent = false;
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(bytes))) => seen.audio.push((began.elapsed(), bytes.len())),
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("control frames are JSON");
                    if value["event"] == "started" {
                        seen.started = Some(value.clone());
                    }
                    if value["event"] == "mark" {
                        // The page acknowledges marks once its playback reaches them.
                        let ack = json!({"event": "mark", "mark": {"name": value["mark"]["name"]}});
                        ws.send(Message::Text(ack.to_string().into())).await.unwrap();
                    }
                    seen.events.push((began.elapsed(), value));
                }
                Some(Ok(Message::Close(frame))) => { seen.close_code = frame.map(|f| f.code.into()); break; }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            _ = tick.tick() => {
                n += 1;
                let i = n.saturating_sub(30) * 640;
                let frame = if n >= 30 && i + 640 <= speech.len() { speech[i..i + 640].to_vec() } else { vec![0u8; 640] };
                if !stop_sent {
                    ws.send(Message::Binary(frame.into())).await.unwrap();
                }
                if !stop_sent && !seen.transcripts("assistant").iter().all(|t| t["turn"] == 0) {
                    ws.send(Message::Text(json!({"event": "dtmf", "dtmf": {"digit": "5"}}).to_string().into())).await.unwrap();
                    ws.send(Message::Text(json!({"event": "stop"}).to_string().into())).await.unwrap();
                    stop_sent = true;
                }
                assert!(began.elapsed() < Duration::from_secs(30), "the call did not finish: {seen:?}");
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_socket_carries_l16_both_ways_with_a_live_transcript() {
    let server = Server::start("browser-bench", "[bench]\nrecord = true\n");
    // `bench` is open: no token needed.
    let url = format!("ws://{}/browser/agent/bench", server.http);
    let seen = browser_call(&url, "What are your opening hours?").await;
    let started = seen.started.as_ref().expect("a started event first");
    assert_eq!(started["format"], "audio/x-l16;rate=16000");
    assert_eq!(started["agent"], "bench");
    let call_id = started["callId"].as_str().unwrap().to_string();
    let (first_audio, _) = seen.audio.first().copied().expect("greeting audio");
    assert!(first_audio < Duration::from_millis(1500), "greeting after {first_audio:?}");
    assert!(seen.audio.iter().all(|(_, len)| *len == 640), "20 ms L16 frames");
    let user = seen.transcripts("user");
    assert_eq!(user.len(), 1, "{:?}", seen.events);
    assert!(!user[0]["content"].as_str().unwrap().is_empty());
    assert!(seen.transcripts("assistant").iter().any(|t| t["turn"] == 1));
    server.wait_for("the call record", Duration::from_secs(5), |s| {
        s.call_records().iter().any(|r| r["call_id"] == call_id.as_str())
    });
    let record = server.call_records().into_iter().find(|r| r["call_id"] == call_id.as_str()).unwrap();
    assert_eq!(record["transport"], "browser", "{record}");
    assert!(server.log().contains("DTMF (stream event)"), "the DTMF event reached the agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_calls_need_owner_credentials_and_a_token_for_the_agent_and_call() {
    let server = Server::start_env("browser-auth", "", false, &OWNER);
    // The agent list and session endpoints want the owner.
    let (status, _) = http(server.http, "GET", "/browser/agents", &[], "");
    assert_eq!(status, 401);
    let wrong = vec![("Authorization", basic(OWNER[0].1, "nope"))];
    let (status, _) = http(server.http, "POST", "/browser/session", &wrong, r#"{"agent_id":"echo"}"#);
    assert_eq!(status, 401);
    let (status, body) = http(server.http, "GET", "/browser/agents", &owner_auth(), "");
    assert_eq!(status, 200, "{body}");
    let agents: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = agents.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"echo") && ids.contains(&"bench") && ids.contains(&"demo"), "{ids:?}");
    let (status, body) = http(server.http, "POST", "/browser/session", &owner_auth(), r#"{"agent_id":"nobody"}"#);
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(server.http, "POST", "/browser/session", &owner_auth(), r#"{"agent":"echo"}"#);
    assert_eq!(status, 400, "{body}");
    // Open agents get a session without credentials.
    let (status, _) = http(server.http, "POST", "/browser/session", &[], r#"{"agent_id":"bench"}"#);
    assert_eq!(status, 200);

    let (status, body) = http(server.http, "POST", "/browser/session", &owner_auth(), r#"{"agent_id":"echo"}"#);
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    let ws_url = session["ws_url"].as_str().unwrap().to_string();
    assert!(ws_url.starts_with(&format!("ws://{}/browser/agent/echo?", server.http)), "{ws_url}");

    // Echo: what we send comes back, through the same pacing.
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let tone: Vec<u8> = (0..320)
        .flat_map(|i| (((i as f32 / 16000.0 * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16).to_le_bytes())
        .collect();
    let mut echoed = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while echoed < 20 && Instant::now() < deadline {
        ws.send(Message::Binary(tone.clone().into())).await.unwrap();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_millis(20), ws.next()).await {
            if let Message::Binary(bytes) = message {
                assert_eq!(bytes.len(), 640);
                echoed += 1;
            }
        }
    }
    assert!(echoed >= 20, "echo returned {echoed} frames");
    ws.close(None).await.unwrap();

    // A token is bound to its agent and call: not usable for another agent, nor without it.
    let token = session["token"].as_str().unwrap();
    let call_id = session["call_id"].as_str().unwrap();
    for url in [
        format!("ws://{}/browser/agent/demo?call_id={call_id}&token={token}", server.http),
        format!("ws://{}/browser/agent/echo?call_id=other&token={token}", server.http),
        format!("ws://{}/browser/agent/echo", server.http),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                other => panic!("{url}: expected a close, got {other:?}"),
            }
        };
        assert_eq!(code, Some(1008), "{url}");
    }

    // A malformed WebRTC offer is refused before the token is spent; an offer that passes the checks spends
    // it, even if its SDP then turns out to be unusable.
    let (_, body) = http(server.http, "POST", "/browser/session", &owner_auth(), r#"{"agent_id":"echo"}"#);
    let session: Value = serde_json::from_str(&body).unwrap();
    let path = format!(
        "/browser/webrtc/echo?call_id={}&token={}",
        session["call_id"].as_str().unwrap(),
        session["token"].as_str().unwrap()
    );
    let (status, body) = http(server.http, "POST", &path, &[], "{}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid offer body"), "{body}");
    let (status, body) = http(server.http, "POST", &path, &[], r#"{"type":"offer","sdp":"hello"}"#);
    assert_eq!((status, body.contains("v=0")), (400, true), "{body}");
    let (status, body) = http(server.http, "POST", &path, &[], r#"{"type":"offer","sdp":"v=0\r\n"}"#);
    assert_eq!(status, 400, "the token was still good, the SDP is not: {body}");
    let (status, body) = http(server.http, "POST", &path, &[], r#"{"type":"offer","sdp":"v=0\r\n"}"#);
    assert_eq!(status, 403, "now the token is spent: {body}");
    assert!(body.contains("already used"), "{body}");

    // A WebRTC offer takes a media port: even an open agent's needs a session token (which needs no
    // credentials for an open agent), once.
    let offer = r#"{"type":"offer","sdp":"v=0\r\n"}"#;
    for path in ["/browser/webrtc/bench", "/browser/webrtc/bench?call_id=browser-0123456789abcdef&token=1.AAAA"] {
        let (status, body) = http(server.http, "POST", path, &[], offer);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("POST /browser/session"), "{body}");
    }
    let (status, body) = http(server.http, "POST", "/browser/session", &[], r#"{"agent_id":"bench"}"#);
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    let webrtc_url = session["webrtc_url"].as_str().unwrap();
    let path = webrtc_url.strip_prefix(&format!("http://{}", server.http)).expect("an URL of this node");
    assert!(path.starts_with("/browser/webrtc/bench?call_id="), "{path}");
    let (status, body) = http(server.http, "POST", path, &[], offer);
    assert_eq!(status, 400, "the token is good, this SDP is not: {body}");
    let (status, _) = http(server.http, "POST", path, &[], offer);
    assert_eq!(status, 403, "one offer per session token");
}

/// Opens `/call-test` in Chromium and calls `agent` over `transport` (`ws` or `webrtc`); returns the call
/// once the page shows the caller's words and the agent's answer.
fn page_call(server: &Server, browser: &common::browser::Browser, agent: &str, transport: &str, owner: bool) -> Value {
    browser.open(server.http, &format!("/call-test?agent={agent}&transport={transport}"));
    browser.wait_for(
        "the page",
        Duration::from_secs(10),
        "return document.getElementById('keypad').children.length === 12",
    );
    if owner {
        browser.run(
            "document.getElementById('email').value = arguments[0]; document.getElementById('password').value = arguments[1];",
            json!([OWNER[0].1, OWNER[1].1]),
        );
    }
    browser.run("document.getElementById('call').click()", json!([]));
    browser.wait_for(
        "the call to go live",
        Duration::from_secs(20),
        "const c = window.voiceraCall; if (c && c.state === 'failed') throw new Error(document.getElementById('status').textContent); return c && c.state === 'live'",
    );
    browser.wait_for(
        "the caller's words and the agent's answer in the transcript",
        Duration::from_secs(60),
        "const items = [...document.querySelectorAll('#transcript li')]; \
         return items.some(li => li.className.startsWith('user')) && items.some(li => li.className.startsWith('assistant') && li.dataset.turn !== '0')",
    );
    let mut call = browser.run(
        "const c = window.voiceraCall; return {callId: c.callId, transcript: c.transcript, \
         shown: [...document.querySelectorAll('#transcript li')].map(li => [li.className, li.textContent])}",
        json!([]),
    );
    call["heard_agent_audio"] = json!(page_heard_agent_audio(browser, transport));
    browser.run("document.getElementById('hangup').click()", json!([]));
    browser.wait_for("the call to end", Duration::from_secs(10), "return window.voiceraCall.state === 'ended'");
    call
}

/// Whether agent audio reached the page: samples queued for playback (socket) or RTP received (WebRTC).
fn page_heard_agent_audio(browser: &common::browser::Browser, transport: &str) -> bool {
    if transport == "ws" {
        return browser.run("return window.voiceraCall.queued > 16000", json!([])) == json!(true);
    }
    browser.run(
        "window.voiceraCall.pc.getStats().then(s => { window.rtpIn = [...s.values()] \
         .filter(r => r.type === 'inbound-rtp' && r.kind === 'audio').map(r => r.packetsReceived)[0] || 0; })",
        json!([]),
    );
    std::thread::sleep(Duration::from_millis(300));
    browser.run("return window.rtpIn", json!([])).as_u64().unwrap_or(0) > 50
}

#[test]
fn call_test_page_talks_to_the_bench_agent_over_the_socket_and_webrtc_in_chromium() {
    let server = Server::start("browser-page-bench", "[bench]\nrecord = true\n");
    let (status, page) = common::http_get(server.http, "/call-test").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("voicera-call.js"));
    let wav = common::browser::speech_wav(&server.dir, "Hello, can you hear me?", 1.5);
    for transport in ["ws", "webrtc"] {
        let browser = common::browser::Browser::start(&wav);
        let call = page_call(&server, &browser, "bench", transport, false);
        eprintln!("{transport}: {call}");
        let call_id = call["callId"].as_str().unwrap().to_string();
        // `bench` hears with a stand-in recogniser; that the words were heard at all is what counts here.
        assert!(call["transcript"].as_array().unwrap().iter().any(|m| m["role"] == "user"), "{call}");
        server.wait_for("the call record", Duration::from_secs(10), |s| {
            s.call_records().iter().any(|r| r["call_id"] == call_id.as_str())
        });
        let record = server.call_records().into_iter().find(|r| r["call_id"] == call_id.as_str()).unwrap();
        assert_eq!(record["transport"], if transport == "ws" { "browser" } else { "webrtc" });
        assert!(!record["turns"].as_array().unwrap().is_empty(), "{record}");
        assert_eq!(call["heard_agent_audio"], true, "{transport}: the agent's audio reached the page");
        drop(browser);
    }
    // WebRTC media used a port of the node's RTP range.
    let log = server.log();
    let line = log.lines().find(|l| l.contains("WebRTC call answered")).expect("WebRTC answer logged");
    let port: u16 = line
        .split("local=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit() && c != ':' && c != '.').next())
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!((server.rtp_ports.0..=server.rtp_ports.1).contains(&port), "{port} not in {:?}", server.rtp_ports);
}

/// The real thing: Chromium's fake microphone asks the demo agent (Whisper, SmolLM, espeak-ng) a question
/// over each transport, and the page's transcript shows what the file said.
#[test]
#[ignore = "loads the local models (runs in the full suite)"]
fn chromium_asks_the_demo_agent_and_the_transcript_shows_what_it_said() {
    let server = Server::start_env("browser-page-demo", "", true, &OWNER);
    server.wait_for("the demo agent", Duration::from_secs(600), |s| {
        let (_, body) = http(s.http, "GET", "/browser/agents", &owner_auth(), "");
        body.contains(r#"{"id":"demo","status":"ready"}"#)
    });
    let wav = common::browser::speech_wav(&server.dir, "Please tell me the opening hours of the library.", 7.0);
    for transport in ["ws", "webrtc"] {
        let browser = common::browser::Browser::start(&wav);
        let call = page_call(&server, &browser, "demo", transport, true);
        eprintln!("{transport}: {call}");
        let said: String = call["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| m["content"].as_str().unwrap().to_lowercase())
            .collect();
        // Whisper tiny.en after the browser's audio processing and Opus: the key words, not every word.
        assert!(
            said.contains("library") && (said.contains("hours") || said.contains("open")),
            "{transport}: Whisper heard {said:?}"
        );
        assert_eq!(call["heard_agent_audio"], true, "{transport}: the agent's audio reached the page");
    }
}
