//! Campaigns whose calls go out through a provider's REST API instead of a `[[trunks]]` entry. The provider is
//! played by `common::fake_carrier` (Vobiz's documented request and response shapes; signed webhooks; the
//! media stream with the callee's espeak-ng audio). Checked: a person answers and hears the agent's greeting
//! with the contact's name, after the answering-machine verdict; a voicemail greeting with a beep is hung up
//! on (`amd = hangup`) having heard nothing; busy and ring-outs come from the status callbacks and are retried
//! per policy; a call the provider never reports on is given up on and hung up through the API; the live-call
//! limit holds at the carrier and is reached; a campaign naming a provider without an account is refused with
//! a 422 naming the field.

mod common;

use std::time::Duration;

use common::api::{owner_token, run_batch, send, upload_campaign, wait_agent_ready, OWNER};
use common::fake_carrier::{Callee, FakeCarrier, Flavor};
use common::greetings::{machine_greeting, person_answering};
use common::Server;
use serde_json::{json, Value};

const AGENT: &str = "[[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{contact.name}} of an appointment.\"\n\
    greeting_message = \"Hello {{contact.name}}, this is Green Valley Dental about your appointment.\"\n\
    interaction_mode = \"non_conversational\"\n";

fn api(server: &Server, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, answer, _) = send(server.http, method, path, token, "application/json", body.to_string().as_bytes());
    (status, answer)
}

/// How long a campaign here may take: its ring timeouts and retries, and the 25 s a silent provider is given.
const CAMPAIGN_WITHIN: Duration = Duration::from_secs(180);

fn contact<'a>(contacts: &'a [Value], number: &str) -> &'a Value {
    contacts.iter().find(|c| c["contact_number"] == number).unwrap_or_else(|| panic!("{number} in {contacts:?}"))
}

/// The call record of the call to `number` (waiting for it to be written).
fn record_of(server: &Server, number: &str) -> Value {
    let find = || server.call_records().into_iter().find(|r| r["called"].as_str() == Some(number));
    server.wait_for(&format!("the record of the call to {number}"), Duration::from_secs(20), |_| find().is_some());
    find().unwrap()
}

#[test]
fn campaign_calls_through_a_providers_api_get_dispositions_retries_and_amd_from_its_callbacks() {
    let (machine_clip, beep_end_ms) = machine_greeting();
    let person = person_answering();
    let carrier = FakeCarrier::start(Flavor::Vobiz, move |number, attempt| {
        let answers =
            |audio: &Vec<i16>| Callee::Answers { audio: audio.clone(), hang_up_after: Duration::from_secs(20) };
        match (number, attempt) {
            ("+15551000001", _) => answers(&person),
            ("+15554000001", _) => answers(&machine_clip),
            ("+15552000001", _) => Callee::Busy { after: Duration::from_millis(300) },
            ("+15553000001", 0) => Callee::RingsOut { after: Duration::from_millis(500) },
            ("+15553000001", _) => answers(&person),
            ("+15559000001", _) => Callee::Silent,
            _ => Callee::RingsOut { after: Duration::from_millis(1500) },
        }
    });
    let config = format!("{}\n{AGENT}", carrier.config());
    let server = Server::start_env("campaign-providers", &config, false, &OWNER);
    wait_agent_ready(&server, "caller");
    let token = owner_token(server.http);

    // A provider without an account, or without a caller id, is refused naming the field.
    let batch = upload_campaign(&server, &token, "caller", "refused", "contact_number\n+15551000009\n", json!({}));
    let settings = format!("/api/v1/campaigns/{batch}");
    let (status, e) = api(&server, "PUT", &settings, &token, json!({"provider": "plivo", "caller_id": "+15550000000"}));
    assert_eq!((status, e["field"].as_str()), (422, Some("provider")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("PlivoAuthId and PlivoAuthToken"), "{e}");
    let (status, e) = api(&server, "PUT", &settings, &token, json!({"provider": "vobiz"}));
    assert_eq!((status, e["field"].as_str()), (422, Some("caller_id")), "{e}");
    let run_body = json!({"provider": "plivo", "caller_id": "+15550000000"});
    let (status, e) = api(&server, "POST", &format!("/api/v1/batches/{batch}/run"), &token, run_body);
    assert_eq!((status, e["field"].as_str()), (422, Some("provider")), "{e}");

    // amd = hangup, busy retried once a second later, a ring-out retried and then answered, a silent provider.
    let csv = "contact_number,name\n+15551000001,Ben\n+15554000001,Asha\n+15552000001,Cara\n+15553000001,Dan\n\
               +15559000001,Eve\n";
    let campaign = json!({
        "max_live_calls": 2, "calls_per_second": 5, "ring_timeout_seconds": 5,
        "provider": "vobiz", "caller_id": "+15550000000", "amd": "hangup",
        "retry": {"busy": {"max_attempts": 2, "spacing_seconds": 1}, "no_answer": {"max_attempts": 2, "spacing_seconds": 1}},
    });
    let batch = upload_campaign(&server, &token, "caller", "through-vobiz", csv, campaign);
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());

    // Every request as Vobiz documents it, from the caller id, to our answer and status URLs.
    let requests = carrier.requests();
    assert_eq!(requests.len(), 7, "Ben, Asha, Cara ×2, Dan ×2, Eve: {requests:?}");
    let first = &requests[0].body;
    assert_eq!(first["from"], "+15550000000");
    assert_eq!(first["ring_timeout"], 5);
    let answer_url = first["answer_url"].as_str().unwrap();
    assert!(
        answer_url.starts_with(&format!(
            "http://{}/telephony/vobiz/answer?agent_id=caller&direction=outbound&dial=",
            server.http
        )),
        "{answer_url}"
    );
    assert!(first["hangup_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("http://{}/telephony/vobiz/hangup?dial=", server.http)));
    // The campaign's AMD is on: Vobiz's own detection is asked too, its verdict posted to the status URL.
    assert_eq!((&first["machine_detection"], &first["machine_detection_url"]), (&json!("true"), &first["hangup_url"]));

    let by_outcome = view["progress"]["by_outcome"].as_object().unwrap();
    for (outcome, count) in [("answered-human", 2), ("answered-machine", 1), ("busy", 1)] {
        assert_eq!(by_outcome.get(outcome), Some(&json!(count)), "{view}");
    }
    assert_eq!(by_outcome.len(), 4, "and one failure: {view}");
    let disposition = |n: &str| contact(&contacts, n)["disposition"].as_str().unwrap().to_string();
    assert_eq!(disposition("+15551000001"), "answered-human");
    assert_eq!(disposition("+15554000001"), "answered-machine");
    assert_eq!(
        (disposition("+15552000001"), &contact(&contacts, "+15552000001")["attempts"]),
        ("busy".into(), &json!(2))
    );
    assert_eq!(
        (disposition("+15553000001"), &contact(&contacts, "+15553000001")["attempts"]),
        ("answered-human".into(), &json!(2))
    );
    let eve = disposition("+15559000001");
    assert!(eve.starts_with("failed(no answer or status from the provider within 25 s"), "{eve}");
    let eve_call = requests.iter().find(|r| r.body["to"] == "+15559000001").unwrap();
    assert!(carrier.hung_up().contains(&eve_call.uuid), "the silent call was hung up through the API");
    assert_eq!(carrier.live(), 0, "no call left up at the carrier");
    assert!(carrier.max_live() <= 2, "at most 2 calls up at once at the carrier: {}", carrier.max_live());

    // The person heard the greeting with their name, after the verdict; the record says so.
    let ben = &contact(&contacts, "+15551000001");
    assert_eq!((&ben["last_amd"]["verdict"], &ben["last_amd"]["action"]), (&json!("human"), &json!("agent")), "{ben}");
    let record = record_of(&server, "+15551000001");
    assert_eq!((record["transport"].as_str(), record["outbound"].as_bool()), (Some("vobiz"), Some(true)), "{record}");
    assert_eq!(record["greeting"], "Hello Ben, this is Green Valley Dental about your appointment.", "{record}");
    let decided = record["amd"]["decided_after_ms"].as_u64().unwrap();
    assert!(decided < 3000, "a person is decided within 3 s: {record}");
    let heard = carrier.heard("+15551000001");
    assert_eq!(heard.len(), 1);
    let first_voiced = heard[0].voiced().next().expect("the person heard the greeting");
    assert!(first_voiced >= decided, "the greeting waited for the verdict ({first_voiced} ms, {decided} ms)");
    assert!(heard[0].voiced().count() >= 50, "a second or more of greeting");
    assert!(heard[0].ended_by_server, "the agent ended the call when its message was said");

    // The machine was hung up on within 3 s, before its greeting ended, having heard nothing.
    let asha = &contact(&contacts, "+15554000001")["last_amd"];
    assert_eq!((&asha["verdict"], &asha["action"]), (&json!("machine"), &json!("hangup")), "{asha}");
    let record = record_of(&server, "+15554000001");
    assert!(record["amd"]["decided_after_ms"].as_u64().unwrap() <= 3000, "decided within 3 s: {record}");
    assert_eq!(record["end_reason"], "agent_hangup:answering_machine", "{record}");
    let heard = carrier.heard("+15554000001");
    assert_eq!(heard[0].voiced().count(), 0, "nothing said to the machine");
    assert!(heard[0].ended_by_server, "we ended the machine's stream");
    let last = heard[0].frames.last().map_or(0, |f| f.0);
    assert!(last < beep_end_ms, "hung up before the greeting ended ({last} ms, beep ends {beep_end_ms} ms)");

    let metrics = server.metrics();
    for line in [
        "voicera_campaign_calls_total{disposition=\"answered-human\"} 2",
        "voicera_campaign_calls_total{disposition=\"answered-machine\"} 1",
        "voicera_campaign_calls_total{disposition=\"busy\"} 2",
        "voicera_campaign_calls_total{disposition=\"no-answer\"} 1",
        "voicera_campaign_calls_total{disposition=\"failed\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }

    // The live-call limit holds at the carrier, and is reached: 10 ring-outs of 1.5 s, 3 at a time.
    let csv: String =
        std::iter::once("contact_number\n".to_string()).chain((0..10).map(|i| format!("+1555700{i:04}\n"))).collect();
    let before = carrier.requests().len();
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "paced",
        &csv,
        json!({"max_live_calls": 3, "calls_per_second": 10, "provider": "vobiz", "caller_id": "+15550000000"}),
    );
    let (view, _) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"no-answer": 10}), "{view}");
    assert_eq!(carrier.requests().len() - before, 10);
    assert!(carrier.requests()[before].body.get("machine_detection").is_none(), "AMD off: not asked of Vobiz either");
    assert_eq!(carrier.max_live(), 3, "the limit of 3 live calls was reached and never passed");
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());
}

#[test]
fn twilio_campaign_calls_follow_its_status_callbacks_and_stream() {
    let person = person_answering();
    let carrier = FakeCarrier::start(Flavor::Twilio, move |number, _| match number {
        "+15551000001" => Callee::Answers { audio: person.clone(), hang_up_after: Duration::from_secs(4) },
        "+15552000001" => Callee::Busy { after: Duration::from_millis(300) },
        _ => Callee::RingsOut { after: Duration::from_millis(300) },
    });
    let config = format!("[bench]\nrecord = true\n\n{}", carrier.config());
    let server = Server::start_env("campaign-twilio", &config, false, &OWNER);
    let token = owner_token(server.http);
    let csv = "contact_number\n+15551000001\n+15552000001\n+15553000001\n";
    let campaign = json!({"max_live_calls": 3, "calls_per_second": 5, "provider": "twilio", "caller_id": "+15550000000",
        "ring_timeout_seconds": 20});
    let batch = upload_campaign(&server, &token, "bench", "through-twilio", csv, campaign);
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());
    assert_eq!(view["progress"]["by_outcome"], json!({"answered-human": 1, "busy": 1, "no-answer": 1}), "{view}");
    let requests = carrier.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        (requests[0].body["Timeout"].as_str(), requests[0].body["From"].as_str()),
        (Some("20"), Some("+15550000000"))
    );
    assert!(requests[0].body.get("MachineDetection").is_none(), "AMD off: not asked of Twilio either");
    // The person heard the agent (the bench agent's greeting is a tone) until they hung up.
    let heard = carrier.heard("+15551000001");
    assert_eq!(heard.len(), 1);
    assert!(heard[0].voiced().count() >= 10, "the agent spoke: {:?}", heard[0].frames.len());
    assert!(!heard[0].ended_by_server, "the callee hung up");
    let record = record_of(&server, "+15551000001");
    assert_eq!((record["transport"].as_str(), record["outbound"].as_bool()), (Some("twilio"), Some(true)), "{record}");
    let answered = contact(&contacts, "+15551000001");
    assert_eq!(answered["last_call_id"], json!(requests.iter().find(|r| r.body["To"] == "+15551000001").unwrap().uuid));
    assert_eq!(carrier.live(), 0);
}

/// With the campaign's AMD on, the provider's own machine detection is asked in the placement (Vobiz
/// `machine_detection` + `machine_detection_url`, Twilio `MachineDetection` + `AsyncAmd` +
/// `AsyncAmdStatusCallback`; the fake refuses a half-asked one) and its verdict, posted to our status URL during
/// the call, combines with ours: ours wins where both decided (the provider calls a person a machine: the
/// person, whom our detection heard and handed to the agent, stays `answered-human`), the provider's counts
/// where ours has none (the callee hung up in silence before ours could decide: `answered-machine`).
#[test]
fn the_providers_machine_detection_is_asked_and_ours_wins_where_both_decided() {
    for (flavor, machine) in [(Flavor::Vobiz, "true"), (Flavor::Twilio, "machine_start")] {
        let person = person_answering();
        let carrier = FakeCarrier::start(flavor, move |number, _| match number {
            "+15551000001" => Callee::Detected {
                audio: person.clone(),
                hang_up_after: Duration::from_secs(20),
                verdict: machine,
                after: Duration::from_millis(500),
            },
            _ => Callee::Detected {
                audio: vec![0; 800],
                hang_up_after: Duration::from_millis(1500),
                verdict: machine,
                after: Duration::from_millis(300),
            },
        });
        let config = format!("{}\n{AGENT}", carrier.config());
        let server = Server::start_env("campaign-provider-amd", &config, false, &OWNER);
        wait_agent_ready(&server, "caller");
        let token = owner_token(server.http);
        let provider = if flavor == Flavor::Vobiz { "vobiz" } else { "twilio" };
        let campaign = json!({"max_live_calls": 2, "provider": provider, "caller_id": "+15550000000", "amd": "hangup"});
        let batch = upload_campaign(
            &server,
            &token,
            "caller",
            "provider-amd",
            "contact_number,name\n+15551000001,Ben\n+15556000001,Ida\n",
            campaign,
        );
        let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
        assert!(carrier.faults().is_empty(), "{provider}: {:?}", carrier.faults());
        let requests = carrier.requests();
        assert_eq!(requests.len(), 2, "{provider}");
        for request in &requests {
            let body = &request.body;
            match flavor {
                Flavor::Vobiz => {
                    assert_eq!(body["machine_detection"], "true", "{body}");
                    assert_eq!(body["machine_detection_url"], body["hangup_url"], "{body}");
                }
                Flavor::Twilio => {
                    assert_eq!(
                        (body["MachineDetection"].as_str(), body["AsyncAmd"].as_str()),
                        (Some("Enable"), Some("true"))
                    );
                    assert_eq!(body["AsyncAmdStatusCallback"], body["StatusCallback"], "{body}");
                }
            }
        }
        assert_eq!(
            view["progress"]["by_outcome"],
            json!({"answered-human": 1, "answered-machine": 1}),
            "{provider}: {view}"
        );
        let ben = contact(&contacts, "+15551000001");
        assert_eq!(
            (&ben["disposition"], &ben["last_amd"]["verdict"]),
            (&json!("answered-human"), &json!("human")),
            "{ben}"
        );
        let ida = contact(&contacts, "+15556000001");
        assert_eq!(ida["disposition"], "answered-machine", "{provider}: {ida}");
        assert_eq!(ida["last_amd"]["verdict"], "undecided", "{provider}: {ida}");
        let heard = carrier.heard("+15551000001");
        assert!(heard[0].voiced().count() >= 50, "{provider}: the person got the agent's greeting");
    }
}
