//! Agents and numbers created over the control-plane API reach calls without a restart: an agent created over
//! the API answers a SIP call at once with its greeting; an update to the greeting is what the next call
//! hears; a number attached over the API leads SIP calls and provider streams to it; once deleted, a call
//! to it is 404. The agents of voicera.toml show in the owner's org as read-only. Calls are sipp's; what the
//! agent said is read from the call record (a non-conversational agent speaks its greeting, then hangs up).
//! The agent runs on local models (Whisper tiny.en, SmolLM2-135M from the shared model cache; espeak-ng).

mod common;

use std::time::{Duration, Instant};

use common::api::{call_record, login, request, wait_agent_ready, OWNER};
use common::provider::{answer_v3, stream_url};
use common::{assert_sipp_ok, sipp_template, Server};
use serde_json::{json, Value};

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
