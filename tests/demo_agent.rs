//! The `demo` agent on local models (Whisper tiny.en, SmolLM2-135M, espeak-ng) answering a real softphone
//! (pjsua2) over SIP: it greets, understands a spoken question, and answers it aloud. Checked on the call
//! record and by transcribing, with `voicera models stt`, what the caller heard.
//! Heavy (real model weights, fetched into the shared cache on first use): `#[ignore]`d in the quick loop.

mod common;

use std::process::Command;
use std::time::Duration;

use common::provider::{answer_v3, stream_url};
use common::{models_cache, require_tool, run_peer, Server};

fn transcribe(path: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["models", "stt"])
        .arg(path)
        .env("VOICERA_MODELS_DIR", models_cache())
        .output()
        .unwrap();
    assert!(out.status.success(), "models stt: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_lowercase()
}

/// Waits until the agent's local models are loaded (first run: fetched into the shared cache).
fn wait_for_agent(server: &Server, id: &str) {
    let field = format!("agent=\"{id}\"");
    server.wait_for(&format!("agent {id}"), Duration::from_secs(600), |s| {
        let log = s.log();
        let line = |what: &str| log.lines().any(|l| l.contains(what) && l.contains(&field));
        assert!(!line("agent unavailable"), "agent {id} failed to load:\n{log}");
        line("agent ready")
    });
}

/// A `[[agents]]` alert agent reached by its attached number through a Vobiz stream: it speaks its message
/// with the caller's number filled in, then ends the stream itself (`stop`, close).
#[test]
#[ignore = "heavy: local models on real weights"]
fn a_configured_alert_agent_speaks_then_hangs_up_on_a_vobiz_stream() {
    let config = r#"
[telephony.vobiz]
auth_id = "MA_T"
auth_token = "tok"

[[agents]]
id = "reminder"
numbers = ["+91 80000 00009"]
system_prompt = "You remind callers of appointments."
greeting_message = "Hello {{caller_number}}, your appointment is confirmed."
interaction_mode = "non_conversational"
"#;
    let server = Server::start_with("alert-agent", config, false);
    wait_for_agent(&server, "reminder");
    // No agent_id: the called number picks the agent.
    let pairs = [("CallUUID", "alert-1"), ("From", "+919876543210"), ("To", "+918000000009")];
    let (status, xml) = answer_v3(&server, "X-Vobiz-Signature-V3", "tok", "/telephony/vobiz/answer", &pairs, "n1");
    assert_eq!(status, 200, "{xml}");
    let url = stream_url(&xml);
    assert!(url.contains("/telephony/vobiz/stream/reminder?"), "{url}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (plays, stopped) = runtime.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":"alert-1","streamId":"s9","accountId":"1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
        ws.send(Message::Text(start.to_string().into())).await.unwrap();
        let (mut plays, mut stopped) = (0, false);
        let silence = serde_json::json!({"event":"media","streamId":"s9","media":{"payload":"//////////8="}}).to_string();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                        match v["event"].as_str() {
                            Some("playAudio") => plays += 1,
                            Some("stop") => stopped = true,
                            _ => {}
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                },
                _ = tick.tick() => {
                    let _ = ws.send(Message::Text(silence.clone().into())).await;
                    assert!(tokio::time::Instant::now() < deadline, "the agent did not hang up");
                }
            }
        }
        (plays, stopped)
    });
    // "Hello +919876543210, your appointment is confirmed." takes a few seconds to say.
    assert!(plays > 50, "{plays} frames of the message");
    assert!(stopped, "the agent ends the Vobiz stream with stop");
    server.wait_for("the call record", Duration::from_secs(10), |s| s.log().contains("call record stored"));
    let record = server.call_records().into_iter().next().expect("a call record");
    assert_eq!(record["agent"], "reminder");
    assert_eq!(record["end_reason"], "agent_hangup:message_delivered");
    assert_eq!(record["greeting"], "Hello +919876543210, your appointment is confirmed.");
    assert_eq!(record["caller"], "+919876543210");
}

/// The same kind of agent over SIP, reached by its number: it speaks, then sends BYE itself.
#[test]
#[ignore = "heavy: local models on real weights"]
fn a_configured_alert_agent_sends_bye_after_its_message_over_sip() {
    let config = r#"
[[agents]]
id = "notice"
numbers = ["+918000000010"]
system_prompt = "You read notices."
greeting_message = "This is a test notice for {{caller_number}}."
interaction_mode = "non_conversational"
"#;
    let server = Server::start_with("alert-agent-sip", config, false);
    wait_for_agent(&server, "notice");
    // sipp answers the agent's BYE with 200 (tests/sipp/wait_for_bye.xml); the From user is "sipp".
    let out = common::sipp(&server, "wait_for_bye.xml", &["-s", "+918000000010", "-m", "1"]);
    common::assert_sipp_ok(&server, &out, "the agent hangs up");
    server.wait_for("the call record", Duration::from_secs(10), |s| s.log().contains("call record stored"));
    let record = server.call_records().into_iter().next().expect("a call record");
    assert_eq!(record["agent"], "notice");
    assert_eq!(record["transport"], "sip");
    assert_eq!(record["end_reason"], "agent_hangup:message_delivered");
    assert_eq!(record["greeting"], "This is a test notice for sipp.");
}

#[test]
#[ignore = "heavy: local models on real weights"]
fn demo_agent_answers_a_spoken_question() {
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start_with("demo-agent", "", true);
    wait_for_agent(&server, "demo");
    let workdir = server.dir.join("pjsua");
    let uri = format!("sip:demo@{}", server.sip);
    run_peer(&server, "pjsua_demo.py", &[uri.as_ref(), workdir.as_os_str(), "How many days are in a week?".as_ref()]);

    server.wait_for("the call record", Duration::from_secs(10), |s| s.log().contains("call record stored"));
    let record = server.call_records().into_iter().next().expect("a call record");
    println!("call record: {record:#}");
    assert_eq!(record["agent"], "demo");
    let turn = &record["turns"][0];
    let heard = turn["user_text"].as_str().unwrap_or_default().to_lowercase();
    assert!(heard.contains("days") && heard.contains("week"), "Whisper heard {heard:?}");
    let said = turn["agent_text"].as_str().unwrap_or_default().to_lowercase();
    assert!(said.split_whitespace().count() >= 2, "the LLM answered {said:?}");
    // SmolLM2-135M answers this question right when it hears it right; when the call path garbles a word
    // (packet loss on a loaded machine: "how many days are we that week"), its answer is anybody's guess.
    if heard.contains("in a week") {
        assert!(said.contains('7') || said.contains("seven"), "the LLM answered {said:?} to {heard:?}");
    } else {
        eprintln!("Whisper heard {heard:?}; not checking the LLM's arithmetic ({said:?})");
    }

    // What the caller actually heard.
    let greeting = transcribe(&workdir.join("greeting.wav"));
    // Narrowband espeak through Whisper tiny: "VoiceERA demo agent" comes back mangled ("moising ra memo
    // agent"); the plain words are stable.
    assert!(greeting.contains("hello") && greeting.contains("help you today"), "greeting heard as {greeting:?}");
    let reply = transcribe(&workdir.join("reply.wav"));
    // The caller heard the agent's words (Whisper may stop at the pause between two clauses, so not all).
    let heard_words =
        said.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 4).filter(|w| reply.contains(w)).count();
    assert!(heard_words >= 1, "reply heard as {reply:?} (agent said {said:?})");
    let latency = turn["end_of_speech_to_audio_ms"].as_u64().unwrap_or(u64::MAX);
    println!(
        "end of speech → first agent audio: {latency} ms (STT {} ms, LLM first token {} ms, TTS first audio {} ms)",
        turn["stt_ms"], turn["llm_first_token_ms"], turn["tts_first_audio_ms"]
    );
    // Whisper's final, SmolLM's first token and espeak's first audio are each timed in the record.
    for stage in ["stt_ms", "llm_first_token_ms", "tts_first_audio_ms"] {
        assert!(turn[stage].as_u64().is_some_and(|ms| ms < latency.max(1)), "{stage}: {turn}");
    }
    assert!(server.metric("voicera_turn_latency_seconds_count") >= 1.0);
}
