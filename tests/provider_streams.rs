//! Provider media streams end to end: this test acts as Vobiz, Plivo, Twilio and Exotel would. It signs the
//! answer webhook with the account's token, follows the answer document to the stream URL, speaks espeak-ng
//! speech as 20 ms frames at real pace, and checks the greeting, the reply, that barging in produces the
//! provider's clear message within 300 ms, DTMF, and the stored call record. Bad signatures, replays, missing
//! tokens and unconfigured providers are refused; a delivery we failed may be retried; a stream URL works once,
//! on any node that shares the master key.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::provider::{answer_v3, form, http, plivo_v3, stream_url, twilio_sig, ulaw};
use common::Server;
use futures_util::{SinkExt, StreamExt};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const CONFIG: &str = r#"
[bench]
record = true

[telephony.vobiz]
auth_id = "MA_VOBIZ"
auth_token = "vobiz-token"

[telephony.plivo]
auth_id = "MA_PLIVO"
auth_token = "plivo-token"

[telephony.twilio]
auth_id = "AC_TWILIO"
auth_token = "twilio-token"
"#;

fn speech_8k(text: &str) -> Vec<i16> {
    common::espeak_speech(text, 8000)
}

/// What the provider side saw of one call.
#[derive(Default, Debug)]
struct Heard {
    /// (time since the stream started, event name, message).
    events: Vec<(Duration, String, Value)>,
    barge_in_at: Option<Duration>,
    reply_started: Option<Duration>,
    close_code: Option<u16>,
}

impl Heard {
    fn first(&self, event: &str, after: Duration) -> Option<Duration> {
        self.events.iter().find(|(t, e, _)| e == event && *t >= after).map(|(t, _, _)| *t)
    }
}

#[derive(Clone, Copy)]
struct Shapes {
    play: &'static str,
    clear: &'static str,
}

/// Plays a caller: 0.6 s silence (the greeting plays), a question, silence until the reply has played for
/// 300 ms, then speech over it (barge-in), silence, DTMF digits, then hang up (or `stop`).
async fn converse(
    url: &str,
    start: Value,
    frame: impl Fn(&[u8]) -> Value,
    shapes: Shapes,
    dtmf: Vec<Value>,
    stop: Option<Value>,
) -> Heard {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("stream connects");
    let question = ulaw(&speech_8k("What time is it?"));
    let barge_pcm = speech_8k("No wait, tell me something else please.");
    let voiced = barge_pcm.iter().position(|s| s.unsigned_abs() > 1000).unwrap_or(0);
    let barge_voice_offset = Duration::from_millis((voiced / 160 * 20) as u64);
    let barge = ulaw(&barge_pcm);
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let began = Instant::now();
    let mut heard = Heard::default();
    let silence = vec![0xffu8; 160];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut n = 0usize;
    let mut question_end = None;
    let mut barge_pos: Option<usize> = None;
    let mut after_barge = 0usize;
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("server frames are JSON");
                    let event = value["event"].as_str().unwrap_or("").to_string();
                    let t = began.elapsed();
                    if event == shapes.play && question_end.is_some_and(|q| t > q) && heard.reply_started.is_none() {
                        heard.reply_started = Some(t);
                    }
                    heard.events.push((t, event, value));
                }
                Some(Ok(Message::Close(frame))) => { heard.close_code = frame.map(|f| f.code.into()); break; }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            _ = tick.tick() => {
                n += 1;
                let t = began.elapsed();
                let chunk: Vec<u8> = if n >= 30 && question_end.is_none() {
                    let i = (n - 30) * 160;
                    if i + 160 <= question.len() { question[i..i + 160].to_vec() } else { question_end = Some(t); silence.clone() }
                } else if let Some(pos) = barge_pos.as_mut() {
                    let i = *pos;
                    *pos += 160;
                    if i + 160 <= barge.len() { barge[i..i + 160].to_vec() } else { after_barge += 1; silence.clone() }
                } else {
                    if heard.reply_started.is_some_and(|r| t > r + Duration::from_millis(300)) {
                        barge_pos = Some(0);
                        // The caller starts speaking where the clip's voice starts (espeak leads with silence).
                        heard.barge_in_at = Some(t + barge_voice_offset);
                    }
                    silence.clone()
                };
                ws.send(Message::Text(frame(&chunk).to_string().into())).await.unwrap();
                if after_barge == 50 {
                    for d in &dtmf { ws.send(Message::Text(d.to_string().into())).await.unwrap(); }
                }
                if after_barge == 150 {
                    match &stop {
                        Some(s) => { ws.send(Message::Text(s.to_string().into())).await.unwrap(); }
                        None => { let _ = ws.close(None).await; }
                    }
                }
                if t > Duration::from_secs(30) { panic!("the conversation did not finish: {heard:?}"); }
            }
        }
        if after_barge >= 150 && heard.close_code.is_none() && began.elapsed() > Duration::from_secs(1) {
            // Wait briefly for the close handshake.
            if let Ok(Some(Ok(Message::Close(frame)))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
                heard.close_code = frame.map(|f| f.code.into());
            }
            break;
        }
    }
    heard
}

fn check_conversation(heard: &Heard, shapes: Shapes) {
    let greeting = heard.first(shapes.play, Duration::ZERO).expect("greeting audio");
    assert!(greeting < Duration::from_millis(1500), "greeting's first audio after {greeting:?} (budget 1.5 s)");
    assert!(heard.reply_started.is_some(), "the agent answered the question: {:?}", names(heard));
    let barge = heard.barge_in_at.expect("barged in");
    let clear = heard.first(shapes.clear, barge).expect("clear message after barge-in");
    let delay = clear - barge;
    eprintln!("greeting {greeting:?}, reply at {:?}, clear {delay:?} after barge-in", heard.reply_started);
    assert!(delay <= Duration::from_millis(300), "clear {delay:?} after the caller started speaking (budget 300 ms)");
}

fn names(heard: &Heard) -> Vec<String> {
    heard.events.iter().map(|(t, e, _)| format!("{}:{e}", t.as_millis())).collect()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The first server frame with this `event` name, within 3 s.
async fn first_event(ws: &mut Socket, event: &str) -> Option<Value> {
    let wait = async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).expect("server frames are JSON");
                if value["event"] == event {
                    return Some(value);
                }
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(3), wait).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vobiz_call_answers_barge_in_clears_dtmf_and_record() {
    let server = Server::start("vobiz-stream", CONFIG);
    let pairs = [
        ("CallUUID", "vz-call-1"),
        ("From", "+919000000001"),
        ("To", "+918000000001"),
        ("Direction", "inbound"),
        ("Event", "StartApp"),
    ];
    let (status, xml) = answer_v3(
        &server,
        "X-Vobiz-Signature-V3",
        "vobiz-token",
        "/telephony/vobiz/answer?agent_id=bench",
        &pairs,
        "nonce-1",
    );
    assert_eq!(status, 200, "{xml}");
    assert!(
        xml.contains(r#"bidirectional="true""#) && xml.contains(r#"contentType="audio/x-mulaw;rate=8000""#),
        "{xml}"
    );
    let url = stream_url(&xml);
    assert!(url.starts_with(&format!("ws://{}/telephony/vobiz/stream/bench?token=", server.http)), "{url}");
    let start = json!({"sequenceNumber":0,"event":"start","start":{"callId":"vz-call-1","streamId":"st-1","accountId":"500025","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"{}"});
    let seq = std::sync::atomic::AtomicU64::new(1);
    let frame = |chunk: &[u8]| {
        let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({"sequenceNumber":n,"streamId":"st-1","event":"media","media":{"track":"inbound","timestamp":(n * 20).to_string(),"chunk":n,"payload":B64.encode(chunk)},"extra_headers":"{}"})
    };
    let shapes = Shapes { play: "playAudio", clear: "clearAudio" };
    let dtmf = vec![json!({"event":"dtmf","dtmf":{"digit":"5"}}), json!({"event":"dtmf","dtmf":{"digit":"#"}})];
    let heard = converse(&url, start, frame, shapes, dtmf, None).await;
    check_conversation(&heard, shapes);
    let play = heard.events.iter().find(|(_, e, _)| e == "playAudio").unwrap();
    assert_eq!(play.2["streamId"], "st-1");
    assert_eq!(play.2["media"]["contentType"], "audio/x-mulaw");
    assert_eq!(B64.decode(play.2["media"]["payload"].as_str().unwrap()).unwrap().len() % 160, 0);
    assert!(heard.events.iter().any(|(_, e, _)| e == "checkpoint"), "checkpoints after agent audio");
    server.wait_for("the call record", Duration::from_secs(10), |s| !s.call_records().is_empty());
    let record = &server.call_records()[0];
    assert_eq!(record["transport"], "vobiz");
    assert_eq!(record["call_id"], "vz-call-1");
    assert_eq!(record["caller"], "+919000000001", "numbers carried from the answer webhook: {record}");
    assert_eq!(record["called"], "+918000000001");
    assert_eq!(record["outbound"], false, "Direction=inbound: {record}");
    assert_eq!(record["turns"][0]["user_text"], "what time is it", "{record}");
    assert!(record["turns"].as_array().unwrap().iter().any(|t| t["interrupted"] == true), "{record}");
    let turns = record["turns"].as_array().unwrap();
    assert!(
        turns.iter().any(|t| t["user_text"] == "(The caller pressed 5 # on the keypad.)"),
        "keypad reached the agent: {record}"
    );
    assert!(server.metric("voicera_dtmf_events_total") >= 2.0);
    assert!(server.log().contains("DTMF (stream event)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_stream_speaks_twiml_media_clear_and_mark() {
    let server = Server::start("twilio-stream", CONFIG);
    // A call the agent placed (Twilio says `outbound-api`): its record is not inbound.
    let pairs = [
        ("CallSid", "CA0001"),
        ("From", "+15550001"),
        ("To", "bench"),
        ("AccountSid", "AC_TWILIO"),
        ("Direction", "outbound-api"),
    ];
    let url = format!("http://{}/telephony/twilio/answer", server.http);
    let sig = twilio_sig("twilio-token", &url, &pairs);
    let (status, twiml) =
        http(server.http, "POST", "/telephony/twilio/answer", &[("X-Twilio-Signature", sig)], &form(&pairs));
    assert_eq!(status, 200, "{twiml}");
    assert!(twiml.contains("<Connect><Stream url=\"ws://"), "{twiml}");
    let token = twiml.split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(twiml.contains(r#"<Parameter name="direction" value="outbound"/>"#), "{twiml}");
    let ws_url = stream_url(&twiml);
    assert!(!ws_url.contains('?'), "Twilio stream URLs carry no query: {ws_url}");
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    ws.send(Message::Text(json!({"event":"connected","protocol":"Call","version":"1.0.0"}).to_string().into()))
        .await
        .unwrap();
    drop(ws); // a stream that never starts is simply dropped; the real one follows
    let start = json!({"event":"start","sequenceNumber":"1","start":{"accountSid":"AC_TWILIO","streamSid":"MZ01","callSid":"CA0001","tracks":["inbound"],"customParameters":{"token":token,"direction":"outbound"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ01"});
    let frame = |chunk: &[u8]| json!({"event":"media","sequenceNumber":"2","streamSid":"MZ01","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":B64.encode(chunk)}});
    let shapes = Shapes { play: "media", clear: "clear" };
    let stop = json!({"event":"stop","sequenceNumber":"9","streamSid":"MZ01","stop":{"accountSid":"AC_TWILIO","callSid":"CA0001"}});
    let heard = converse(&ws_url, start, frame, shapes, Vec::new(), Some(stop)).await;
    check_conversation(&heard, shapes);
    let media = heard.events.iter().find(|(_, e, _)| e == "media").unwrap();
    assert_eq!(media.2["streamSid"], "MZ01");
    assert!(heard.events.iter().any(|(_, e, v)| e == "mark" && v["mark"]["name"].is_string()));
    server.wait_for("the call record", Duration::from_secs(10), |s| !s.call_records().is_empty());
    assert_eq!(server.call_records()[0]["outbound"], true, "an outbound-placed stream is not inbound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_aliases_of_the_original_answer_and_stream() {
    let server = Server::start("compat-stream", CONFIG);
    // The original's Vobiz app: POST /answer?agent_id=… → WS /agent/{id}.
    let pairs = [("CallUUID", "vz-2"), ("From", "+91900"), ("To", "+91800")];
    let (status, xml) =
        answer_v3(&server, "X-Vobiz-Signature-V3", "vobiz-token", "/answer?agent_id=bench", &pairs, "n-2");
    assert_eq!(status, 200, "{xml}");
    let url = stream_url(&xml);
    assert!(url.contains("/agent/bench?token="), "{url}");
    // Plivo: /plivo/answer → /plivo/agent/{id}; the agent named by agent_type (the original's alias).
    let pairs = [("CallUUID", "pl-1"), ("From", "+91901"), ("To", "+91801")];
    let (status, xml) =
        answer_v3(&server, "X-Plivo-Signature-V3", "plivo-token", "/plivo/answer?agent_type=bench", &pairs, "n-3");
    assert_eq!(status, 200, "{xml}");
    let plivo_url = stream_url(&xml);
    assert!(plivo_url.contains("/plivo/agent/bench?token="), "{plivo_url}");
    let (mut ws, _) = tokio_tungstenite::connect_async(&plivo_url).await.unwrap();
    let start = json!({"event":"start","sequenceNumber":1,"start":{"callId":"pl-1","streamId":"ps-1","accountId":"MA_PLIVO","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":""});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let greeting = first_event(&mut ws, "playAudio").await.expect("greeting on the Plivo alias");
    assert_eq!(greeting["streamId"], "ps-1");
    // The document Plivo fetches when the agent transfers the call through its API: dial the target.
    let (status, xml) = answer_v3(
        &server,
        "X-Plivo-Signature-V3",
        "plivo-token",
        "/telephony/plivo/transfer?to=%2B918000000002",
        &[("CallUUID", "pl-1")],
        "n-5",
    );
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<Dial><Number>+918000000002</Number></Dial>"), "{xml}");
    // Hangup webhook (signed): accepted, and its report kept beside the call record.
    let pairs = [("CallUUID", "pl-1"), ("HangupCause", "NORMAL_CLEARING"), ("Duration", "3"), ("Direction", "inbound")];
    let (status, _) = answer_v3(&server, "X-Plivo-Signature-V3", "plivo-token", "/plivo/hangup", &pairs, "n-4");
    assert_eq!(status, 200);
    let report = hangup_report(&server, "pl-1");
    assert_eq!(report["cause"], "NORMAL_CLEARING");
    assert_eq!(report["duration_secs"], 3);
    assert_eq!(report["unanswered"], false);
    // A call that never reached a stream (busy) is not lost: its report is the record, as the original
    // logged busy calls from the answer URL's Hangup event.
    let pairs = [
        ("CallUUID", "vz-busy"),
        ("Event", "Hangup"),
        ("HangupCause", "USER_BUSY"),
        ("From", "+91902"),
        ("To", "+91802"),
    ];
    let (status, _) =
        answer_v3(&server, "X-Vobiz-Signature-V3", "vobiz-token", "/answer?agent_id=bench", &pairs, "n-6");
    assert_eq!(status, 200);
    let report = hangup_report(&server, "vz-busy");
    assert_eq!((report["provider"].as_str(), report["unanswered"].as_bool()), (Some("vobiz"), Some(true)));
    assert_eq!(report["caller"], "+91902");
    // A report without a call id is refused with the reason.
    let (status, body) =
        answer_v3(&server, "X-Plivo-Signature-V3", "plivo-token", "/plivo/hangup", &[("HangupCause", "X")], "n-7");
    assert_eq!((status, body.contains("call id")), (400, true), "{body}");
}

/// The provider's end-of-call report stored for `call_id` (`calls/<date>/<call>.hangup.json`).
fn hangup_report(server: &Server, call_id: &str) -> Value {
    let mut found = None;
    server.wait_for("the hangup report", Duration::from_secs(5), |s| {
        for day in std::fs::read_dir(s.dir.join("data/calls")).into_iter().flatten().flatten() {
            let path = day.path().join(format!("{call_id}.hangup.json"));
            if path.exists() {
                return true;
            }
        }
        false
    });
    for day in std::fs::read_dir(server.dir.join("data/calls")).unwrap().flatten() {
        let path = day.path().join(format!("{call_id}.hangup.json"));
        if let Ok(text) = std::fs::read_to_string(path) {
            found = serde_json::from_str(&text).ok();
        }
    }
    found.expect("hangup report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_replays_missing_tokens_and_unknown_accounts_are_refused() {
    let server = Server::start("stream-security", CONFIG);
    let path = "/telephony/vobiz/answer?agent_id=bench";
    let pairs = [("CallUUID", "vz-9"), ("From", "+91900"), ("To", "+91800")];
    // Unsigned.
    let (status, body) = http(server.http, "POST", path, &[], &form(&pairs));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-Vobiz-Signature-V3"), "{body}");
    // Signed with the wrong token, and tampered after signing.
    assert_eq!(answer_v3(&server, "X-Vobiz-Signature-V3", "not-the-token", path, &pairs, "n1").0, 403);
    let url = format!("http://{}{path}", server.http);
    let sig = plivo_v3("vobiz-token", &url, &pairs, "n2");
    let tampered = [("CallUUID", "vz-9"), ("From", "+91999"), ("To", "+91800")];
    let headers = [("X-Vobiz-Signature-V3", sig.clone()), ("X-Vobiz-Signature-V3-Nonce", "n2".to_string())];
    assert_eq!(http(server.http, "POST", path, &headers, &form(&tampered)).0, 403);
    // Valid once; the same request again is a replay.
    assert_eq!(http(server.http, "POST", path, &headers, &form(&pairs)).0, 200);
    let (status, body) = http(server.http, "POST", path, &headers, &form(&pairs));
    assert_eq!(status, 403);
    assert!(body.contains("replayed"), "{body}");
    // An oversized body is refused before anything else.
    let big = format!("CallUUID={}", "x".repeat(70 * 1024));
    assert_eq!(http(server.http, "POST", path, &[], &big).0, 413);
    // A provider without a configured account.
    let (status, body) = http(server.http, "POST", "/telephony/exotel/answer", &[], &form(&pairs));
    assert_eq!(status, 403);
    assert!(body.contains("[telephony.exotel]"), "{body}");
    // Unknown agent (signed): 404.
    let (status, _) = answer_v3(
        &server,
        "X-Vobiz-Signature-V3",
        "vobiz-token",
        "/telephony/vobiz/answer?agent_id=nobody",
        &pairs,
        "n3",
    );
    assert_eq!(status, 404);
    // A stream to a non-open service without a token is closed with a policy violation; a forged token too.
    for url in [
        format!("ws://{}/telephony/vobiz/stream/echo", server.http),
        format!("ws://{}/telephony/vobiz/stream/echo?token=99999999999.AAAA", server.http),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let start = json!({"event":"start","start":{"callId":"x","streamId":"y"}});
        ws.send(Message::Text(start.to_string().into())).await.unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Close(frame) = m {
                    return frame.map(|f| u16::from(f.code));
                }
            }
            None
        })
        .await
        .unwrap();
        assert_eq!(closed, Some(1008), "{url}");
    }
    // Garbage instead of a start event: closed with a protocol error, the server keeps serving.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/agent/bench", server.http)).await.unwrap();
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let mut code = None;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(frame) = m {
            code = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(code, Some(1002));
    assert_eq!(common::http_get(server.http, "/health").map(|r| r.0), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exotel_stream_with_basic_auth_and_raw_pcm() {
    let config = format!("{CONFIG}\n[telephony.exotel]\nauth_id = \"exo-key\"\nauth_token = \"exo-token\"\n");
    let server = Server::start("exotel-stream", &config);
    let basic = format!("Basic {}", B64.encode("exo-key:exo-token"));
    let pairs = [("CallSid", "ex-1"), ("From", "0800"), ("To", "bench")];
    let (status, body) =
        http(server.http, "POST", "/telephony/exotel/answer", &[("Authorization", basic)], &form(&pairs));
    assert_eq!(status, 200, "{body}");
    let url = stream_url(&body);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let start = json!({"event":"start","sequence_number":1,"stream_sid":"es-1","start":{"stream_sid":"es-1","call_sid":"ex-1","account_sid":"a","from":"0800","to":"bench","media_format":{"encoding":"base64","sample_rate":"8000","bit_rate":"128kbps"}}});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let media = first_event(&mut ws, "media").await.expect("greeting");
    assert_eq!(media["stream_sid"], "es-1");
    // 16-bit PCM at 8 kHz: 320 bytes per 20 ms.
    assert_eq!(B64.decode(media["media"]["payload"].as_str().unwrap()).unwrap().len() % 320, 0);

    // The same call's status callbacks (answered, then terminal) carry the same Basic credentials as the
    // answer: each is a delivery of its own and accepted.
    let basic = format!("Basic {}", B64.encode("exo-key:exo-token"));
    let answered = [("CallSid", "ex-1"), ("EventType", "answered"), ("Status", "in-progress")];
    let (status, body) =
        http(server.http, "POST", "/telephony/exotel/hangup", &[("Authorization", basic.clone())], &form(&answered));
    assert_eq!(status, 200, "status callback: {body}");
    let terminal =
        [("CallSid", "ex-1"), ("EventType", "terminal"), ("Status", "completed"), ("ConversationDuration", "4")];
    let (status, body) =
        http(server.http, "POST", "/telephony/exotel/hangup", &[("Authorization", basic.clone())], &form(&terminal));
    assert_eq!(status, 200, "hangup: {body}");
    let report = hangup_report(&server, "ex-1");
    assert_eq!((report["provider"].as_str(), report["cause"].as_str()), (Some("exotel"), Some("completed")));
    // The hangup again, byte for byte, is a replay.
    let (status, body) =
        http(server.http, "POST", "/telephony/exotel/hangup", &[("Authorization", basic)], &form(&terminal));
    assert_eq!((status, body.contains("replayed")), (403, true), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_may_be_retried_and_a_handled_one_not_replayed() {
    let server = Server::start("webhook-retries", CONFIG);
    // The call store fails (its directory is a file): hangup reports answer 503, and providers retry.
    let calls = server.dir.join("data/calls");
    let _ = std::fs::remove_dir_all(&calls);
    std::fs::write(&calls, "not a directory").unwrap();
    let twilio_pairs = [("CallSid", "CA-retry"), ("CallStatus", "completed"), ("CallDuration", "7")];
    let url = format!("http://{}/telephony/twilio/hangup", server.http);
    let twilio = [("X-Twilio-Signature", twilio_sig("twilio-token", &url, &twilio_pairs))];
    let twilio_hangup = || http(server.http, "POST", "/telephony/twilio/hangup", &twilio, &form(&twilio_pairs));
    let vobiz_pairs = [("CallUUID", "vz-retry"), ("HangupCause", "NORMAL_CLEARING"), ("Duration", "5")];
    let vobiz_hangup =
        || answer_v3(&server, "X-Vobiz-Signature-V3", "vobiz-token", "/telephony/vobiz/hangup", &vobiz_pairs, "n-r");
    assert_eq!(twilio_hangup().0, 503);
    assert_eq!(vobiz_hangup().0, 503);
    // The store is back: the providers' retries (the very same requests) go through.
    std::fs::remove_file(&calls).unwrap();
    let (status, body) = twilio_hangup();
    assert_eq!(status, 200, "Twilio's retry after our 503: {body}");
    let (status, body) = vobiz_hangup();
    assert_eq!(status, 200, "Vobiz's retry after our 503: {body}");
    assert_eq!(hangup_report(&server, "CA-retry")["duration_secs"], 7);
    assert_eq!(hangup_report(&server, "vz-retry")["duration_secs"], 5);
    // Handled: the V3 request (its nonce) is spent. Twilio's signature has no nonce, so a repeat cannot be told
    // from Twilio's own retry of a delivery whose answer it lost, and is accepted (storing the same report).
    let (status, body) = vobiz_hangup();
    assert_eq!((status, body.contains("replayed")), (403, true), "{body}");
    assert_eq!(twilio_hangup().0, 200);
}

/// Opens a stream at `url` and starts it; then either the agent's first `playAudio` (after sending a few
/// frames of tone, which `echo` sends back) or the close code and reason the stream was refused with.
async fn try_vobiz_stream(url: &str, call_id: &str) -> Result<Value, (u16, String)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("stream connects");
    let start = json!({"event":"start","sequenceNumber":0,"start":{"callId":call_id,"streamId":"st-x","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    let tone: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16).collect();
    let payload = B64.encode(ulaw(&tone));
    let wait = async {
        let mut sent = 0u64;
        loop {
            if sent < 50 {
                sent += 1;
                let media = json!({"event":"media","sequenceNumber":sent,"media":{"track":"inbound","timestamp":(sent * 20).to_string(),"chunk":sent,"payload":payload}});
                if ws.send(Message::Text(media.to_string().into())).await.is_err() {
                    // Refused and closed: the close frame is still to be read.
                    sent = 50;
                }
            }
            match tokio::time::timeout(Duration::from_millis(20), ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("server frames are JSON");
                    if value["event"] == "playAudio" {
                        return Ok(value);
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or_default())
                }
                Ok(Some(Ok(_))) | Err(_) => {}
                Ok(None | Some(Err(_))) => return Err((0, "closed without a close frame".into())),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait).await.expect("the stream answered or was refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_url_works_once_on_any_node_sharing_the_master_key() {
    let master_key = [("VOICERA_MASTER_KEY", "5a".repeat(32))];
    let env: Vec<(&str, &str)> = master_key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answering = Server::start_env("token-node-a", CONFIG, false, &env);
    let streaming = Server::start_env("token-node-b", CONFIG, false, &env);
    // Node A answers the webhook; the stream lands on node B (as behind a load balancer).
    let pairs = [("CallUUID", "vz-node"), ("From", "+91900"), ("To", "+91800")];
    let (status, xml) = answer_v3(
        &answering,
        "X-Vobiz-Signature-V3",
        "vobiz-token",
        "/telephony/vobiz/answer?agent_id=echo",
        &pairs,
        "n-node",
    );
    assert_eq!(status, 200, "{xml}");
    let url = stream_url(&xml).replace(&answering.http.to_string(), &streaming.http.to_string());
    assert!(url.contains(&format!("{}/telephony/vobiz/stream/echo?token=", streaming.http)), "{url}");
    let echoed = try_vobiz_stream(&url, "vz-node").await;
    assert!(echoed.is_ok(), "node B accepts node A's token: {echoed:?}");
    // The same URL again (a captured one replayed): refused.
    let replayed = try_vobiz_stream(&url, "vz-node").await;
    let (code, reason) = replayed.expect_err("a replayed stream URL is refused");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("already used"), "{reason}");
    // A node with another master key does not accept the tokens.
    let other_key = "a5".repeat(32);
    let stranger = Server::start_env("token-node-c", CONFIG, false, &[("VOICERA_MASTER_KEY", other_key.as_str())]);
    let (status, xml) = answer_v3(
        &answering,
        "X-Vobiz-Signature-V3",
        "vobiz-token",
        "/telephony/vobiz/answer?agent_id=echo",
        &[("CallUUID", "vz-other"), ("From", "+91900"), ("To", "+91800")],
        "n-other",
    );
    assert_eq!(status, 200, "{xml}");
    let url = stream_url(&xml).replace(&answering.http.to_string(), &stranger.http.to_string());
    let (code, reason) = try_vobiz_stream(&url, "vz-other").await.expect_err("another key's token is refused");
    assert_eq!((code, reason.contains("invalid stream token")), (1008, true), "{reason}");
}
