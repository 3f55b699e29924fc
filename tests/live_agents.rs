//! Agents and numbers created over the control-plane API reach calls without a restart: an agent created over
//! the API answers a SIP call at once with its greeting; an update to the greeting is what the next call
//! hears; a number attached over the API leads SIP calls and provider streams to it; once deleted, a call
//! to it is 404. The agents of voicera.toml show in the owner's org as read-only. Calls are sipp's; what the
//! agent said is read from the call record (a non-conversational agent speaks its greeting, then hangs up).
//! The agent runs on local models (Whisper tiny.en, SmolLM2-135M from the shared model cache; espeak-ng).
//! Then the same is heard: a pjsua2 softphone and a Vobiz media stream record what such an agent says, and
//! Whisper transcribes it, before and after its greeting is changed over the API.

mod common;

use std::time::{Duration, Instant};

use common::api::{call_record, login, request, wait_agent_ready, OWNER};
use common::heard::{listen_over_sip, listen_over_vobiz, transcribe};
use common::provider::{answer_v3, stream_url};
use common::{assert_sipp_ok, sipp_template, Server};
use serde_json::{json, Value};

/// The tests of this file run one at a time: each loads local models, and two servers running them side by
/// side on a 2-core machine starve each other's calls (late packets, garbled audio), which is not what they
/// test.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static MODELS_IN_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MODELS_IN_USE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const CONFIG: &str = r#"
[telephony.vobiz]
auth_id = "MA_T"
auth_token = "tok"

[[agents]]
id = "frontdesk"
numbers = ["+91 80000 00020"]
system_prompt = "You read notices."
greeting_message = "Front desk notice."
interaction_mode = "non_conversational"
"#;

/// A non-conversational agent that says `greeting` and hangs up.
fn notice(greeting: &str) -> Value {
    json!({"system_prompt": "You read notices.", "greeting_message": greeting, "language": "en",
           "llm_model": {"name": "smollm2-135m"}, "interaction_mode": "non_conversational"})
}

fn refused_with_404(server: &Server, user: &str) {
    let out = sipp_template(server, "reject.xml", &[("CODEC", "0"), ("EXPECT", "404")], &["-s", user, "-m", "1"]);
    assert_sipp_ok(server, &out, &format!("a call to {user} after the agent was deleted"));
}

#[test]
fn an_agent_created_over_the_api_takes_calls_at_once_and_follows_its_updates_numbers_and_deletion() {
    let _models = one_at_a_time();
    common::require_tool("espeak-ng");
    let server = Server::start_env("live-agents", CONFIG, false, &OWNER);
    let common::api::Session { token, org_id: org } = login(server.http, OWNER[0].1, OWNER[1].1);
    let http = server.http;

    // The configured agent is listed, read-only, in the owner's org; its id is not for the taking.
    let (status, listed) = request(http, "GET", &format!("/api/v1/agents/org/{org}"), &token, None);
    assert_eq!(status, 200, "{listed}");
    let frontdesk = listed.as_array().unwrap().iter().find(|a| a["agent_id"] == "frontdesk").expect("frontdesk");
    assert_eq!(
        (frontdesk["source"].as_str(), frontdesk["phone_number"].as_str()),
        (Some("config"), Some("+918000000020"))
    );
    let (status, error) =
        request(http, "PUT", "/api/v1/agents/id/frontdesk", &token, Some(json!({"agent_config": notice("Mine now.")})));
    assert_eq!((status, error["code"].as_str()), (409, Some("read_only")), "{error}");
    let taken = json!({"agent_type": "Desk", "agent_id": "frontdesk", "agent_config": notice("Hi.")});
    let (status, error) = request(http, "POST", "/api/v1/agents", &token, Some(taken));
    assert_eq!((status, error["field"].as_str()), (409, Some("agent_id")), "{error}");

    // Created over the API: the next call reaches it, with its greeting.
    let started = Instant::now();
    let create = json!({"agent_type": "Live Notice", "agent_config": notice("Live agent one speaking.")});
    let (status, created) = request(http, "POST", "/api/v1/agents", &token, Some(create));
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["agent_id"].as_str(), created["agent"]["source"].as_str()),
        (Some("live_notice"), Some("store"))
    );
    // The write returned once this node routed it (bounded: a cold model cache takes longer).
    wait_agent_ready(&server, "live_notice");
    println!("created → ready: {:?}", started.elapsed());
    let record = call_record(&server, "live_notice");
    println!("created → call answered and ended: {:?}", started.elapsed());
    assert_eq!(
        (record["agent"].as_str(), record["greeting"].as_str()),
        (Some("live_notice"), Some("Live agent one speaking."))
    );
    assert_eq!(record["end_reason"], "agent_hangup:message_delivered", "{record}");

    // Updated: the next call says the new greeting.
    let update = json!({"agent_config": notice("Live agent two speaking.")});
    let (status, updated) = request(http, "PUT", "/api/v1/agents/id/live_notice", &token, Some(update));
    assert_eq!(status, 200, "{updated}");
    let record = call_record(&server, "live_notice");
    assert_eq!(record["greeting"], "Live agent two speaking.", "{record}");

    // A number attached over the API leads SIP calls and provider streams to the agent; the configured
    // agent's number is not for the taking.
    let attach = json!({"phone_number": "+91 80000 00031", "provider": "Vobiz", "agent_type": "Live Notice"});
    let (status, attached) = request(http, "POST", "/api/v1/phone-numbers/attach", &token, Some(attach));
    assert_eq!(status, 201, "{attached}");
    assert_eq!(attached["phone_number"]["agent_id"], "live_notice");
    let steal = json!({"phone_number": "+918000000020", "provider": "Vobiz", "agent_type": "Live Notice"});
    let (status, error) = request(http, "POST", "/api/v1/phone-numbers/attach", &token, Some(steal));
    assert_eq!((status, error["field"].as_str()), (409, Some("phone_number")), "{error}");
    let (status, number) = request(http, "GET", "/api/v1/phone-numbers/agent/Live%20Notice", &token, None);
    assert_eq!((status, number["phone_number"].as_str()), (200, Some("+91 80000 00031")), "{number}");
    let record = call_record(&server, "+918000000031");
    assert_eq!(
        (record["agent"].as_str(), record["greeting"].as_str()),
        (Some("live_notice"), Some("Live agent two speaking."))
    );
    // A trunk that names its own account in the Request-URI and the dialled number only in To reaches it too.
    let id = |r: &Value| r["record_id"].as_str().unwrap_or_default().to_string();
    let before: Vec<String> = server.call_records().iter().map(id).collect();
    let out =
        sipp_template(&server, "wait_for_bye_to.xml", &[("TO", "+918000000031")], &["-s", "trunk-1001", "-m", "1"]);
    assert_sipp_ok(&server, &out, "a trunk's call with the number in To");
    let new = || server.call_records().into_iter().find(|r| !before.contains(&id(r)));
    server.wait_for("the trunk call's record", Duration::from_secs(10), |_| new().is_some());
    let record = new().expect("a call record");
    assert_eq!((record["agent"].as_str(), record["called"].as_str()), (Some("live_notice"), Some("+918000000031")));
    let pairs = [("CallUUID", "live-1"), ("From", "+919876543210"), ("To", "+918000000031")];
    let (status, xml) = answer_v3(&server, "X-Vobiz-Signature-V3", "tok", "/telephony/vobiz/answer", &pairs, "n1");
    assert_eq!(status, 200, "{xml}");
    assert!(stream_url(&xml).contains("/telephony/vobiz/stream/live_notice?"), "{xml}");

    // Deleted: calls to it, by id or number, are refused with 404; the number stays with the org, detached.
    let (status, deleted) = request(http, "DELETE", "/api/v1/agents/id/live_notice", &token, None);
    assert_eq!(status, 200, "{deleted}");
    refused_with_404(&server, "live_notice");
    refused_with_404(&server, "+918000000031");
    let (status, numbers) = request(http, "GET", &format!("/api/v1/phone-numbers/org/{org}"), &token, None);
    assert_eq!(status, 200, "{numbers}");
    let number = numbers.as_array().unwrap().iter().find(|n| n["phone_number"] == "+91 80000 00031").expect("kept");
    assert_eq!((number["agent_id"].clone(), number["last_link_action"].as_str()), (Value::Null, Some("detached")));
    // The configured agent is untouched.
    let (status, _) = request(http, "GET", "/api/v1/agents/id/frontdesk", &token, None);
    assert_eq!(status, 200);
}

/// A non-conversational agent that says `greeting` in Piper's voice and hangs up (Whisper tiny hears Piper
/// well even at 8 kHz, where it mishears espeak-ng).
fn announcer(greeting: &str) -> Value {
    json!({"system_prompt": "You read announcements.", "greeting_message": greeting, "language": "en",
           "llm_model": {"name": "smollm2-135m"}, "tts_model": {"name": "piper"},
           "interaction_mode": "non_conversational"})
}

const LIBRARY: &str = "Hello, the city library is open all day.";
const MUSEUM: &str = "Good evening, the museum is closed tonight.";
/// Words of each greeting Whisper tiny hears reliably (and that the other greeting does not have).
const LIBRARY_WORDS: [&str; 3] = ["library", "city", "open"];
const MUSEUM_WORDS: [&str; 3] = ["museum", "evening", "close"];

/// How many of `words` are in `heard`.
fn heard_words(heard: &str, words: [&str; 3]) -> usize {
    words.iter().filter(|w| heard.contains(*w)).count()
}

/// `heard` (a transcript of `what`) has most of `expected`'s words and none of `other`'s.
fn assert_heard(what: &str, heard: &str, expected: [&str; 3], other: [&str; 3]) {
    println!("{what}: heard {heard:?}");
    assert!(heard_words(heard, expected) >= 2, "{what}: heard {heard:?}, expected the words {expected:?}");
    assert_eq!(heard_words(heard, other), 0, "{what}: heard {heard:?}, which has words of {other:?}");
}

/// The issue's own words: an agent created over the API answers a SIP call (pjsua2) and a Vobiz stream seconds
/// later, no restart; an update to its greeting is heard on the next call. Heard means what the caller
/// received, transcribed by Whisper: a pjsua2 softphone's recording (G.722) and the `playAudio` audio of a Vobiz
/// stream (μ-law, 8 kHz) opened as Vobiz does, after the signed answer webhook for the number attached over
/// the API.
#[test]
#[ignore = "heavy: local models on real weights"]
fn an_agent_created_over_the_api_is_heard_on_sip_and_vobiz_and_so_is_its_new_greeting_on_the_next_calls() {
    let _models = one_at_a_time();
    let config = "[telephony.vobiz]\nauth_id = \"MA_T\"\nauth_token = \"tok\"\n";
    let server = Server::start_env("live-agents-heard", config, false, &OWNER);
    let common::api::Session { token, .. } = login(server.http, OWNER[0].1, OWNER[1].1);
    let http = server.http;

    let started = Instant::now();
    let create = json!({"agent_type": "Announcements", "agent_config": announcer(LIBRARY)});
    let (status, created) = request(http, "POST", "/api/v1/agents", &token, Some(create));
    assert_eq!((status, created["agent_id"].as_str()), (201, Some("announcements")), "{created}");
    let attach = json!({"phone_number": "+91 80000 00041", "provider": "Vobiz", "agent_type": "Announcements"});
    let (status, attached) = request(http, "POST", "/api/v1/phone-numbers/attach", &token, Some(attach));
    assert_eq!(status, 201, "{attached}");
    // Its models load once (from the shared cache; a cold cache fetches them first).
    wait_agent_ready(&server, "announcements");
    println!("created → ready: {:?}", started.elapsed());

    let heard = transcribe(&listen_over_sip(&server, "announcements", "sip-1"));
    assert_heard("the first SIP call", &heard, LIBRARY_WORDS, MUSEUM_WORDS);
    let heard = transcribe(&listen_over_vobiz(&server, ["vobiz-1", "+918000000041", "n1"]));
    assert_heard("the first Vobiz call", &heard, LIBRARY_WORDS, MUSEUM_WORDS);
    println!("created → heard on both: {:?}", started.elapsed());

    // The greeting changed over the API: the next calls say the new one, and only it.
    let update = json!({"agent_config": announcer(MUSEUM)});
    let (status, updated) = request(http, "PUT", "/api/v1/agents/id/announcements", &token, Some(update));
    assert_eq!(status, 200, "{updated}");
    let heard = transcribe(&listen_over_sip(&server, "announcements", "sip-2"));
    assert_heard("the SIP call after the update", &heard, MUSEUM_WORDS, LIBRARY_WORDS);
    let heard = transcribe(&listen_over_vobiz(&server, ["vobiz-2", "+918000000041", "n2"]));
    assert_heard("the Vobiz call after the update", &heard, MUSEUM_WORDS, LIBRARY_WORDS);

    // Each call's record says what was said, on which transport.
    server.wait_for("four call records", Duration::from_secs(10), |s| s.call_records().len() >= 4);
    let mut said: Vec<(String, String)> = server
        .call_records()
        .iter()
        .map(|r| {
            (r["transport"].as_str().unwrap_or("?").to_string(), r["greeting"].as_str().unwrap_or("?").to_string())
        })
        .collect();
    said.sort();
    let expected = [("sip", LIBRARY), ("sip", MUSEUM), ("vobiz", LIBRARY), ("vobiz", MUSEUM)];
    let mut expected: Vec<(String, String)> = expected.iter().map(|(t, g)| (t.to_string(), g.to_string())).collect();
    expected.sort();
    assert_eq!(said, expected);
}
