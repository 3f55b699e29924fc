//! Campaign calls through a provider's REST API on several nodes sharing one MongoDB (SecantusDB), behind one
//! public URL (a load balancer). The provider is `common::fake_carrier` (Vobiz's documented shapes, signed
//! webhooks, the media stream); it sends every webhook and stream to whichever node the test says, as a
//! balancer may, signing the public URL.
//!
//! - Node A dials, node B (`[campaigns] dial = false`) gets every answer webhook, stream and status callback of
//!   A's calls: B finds each call in the store's dial registry (its agent, the placing org's account, the
//!   contact's variables, answering-machine detection) and records what it hears there; A follows its calls
//!   to their end from the registry. The campaign completes with every disposition right, the greeting names
//!   each contact, a machine is hung up on having heard nothing, and the live-call limit (3) holds at the
//!   carrier, which counts a call from its request to its final report: a slot is held until then, whichever
//!   node heard the end.
//! - Two nodes dialling one campaign at `calls_per_second` = 4 start no more than 4 calls a second between them
//!   (claims in the store's pacing document): the carrier counts the requests in each second.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::api::{owner_token, run_batch, upload_campaign, wait_agent_ready, OWNER};
use common::fake_carrier::{Callee, FakeCarrier, Flavor};
use common::greetings::{machine_greeting, person_answering};
use common::{free_port, Server};
use serde_json::{json, Value};
use voicera_store::testing::SecantusServer;

const AGENT: &str = "[[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{contact.name}} of an appointment.\"\n\
    greeting_message = \"Hello {{contact.name}}, this is Green Valley Dental about your appointment.\"\n\
    interaction_mode = \"non_conversational\"\n";
/// The deployment's master key (64 hex digits), the same on both nodes: stream tokens and sealed keys.
const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455";

/// Two nodes of one deployment on `mongo` (test dirs `<name>-a`, `<name>-b`), with extra config each; both
/// behind one public URL.
fn two_nodes(
    name: &str,
    mongo: &SecantusServer,
    carrier: &FakeCarrier,
    a_extra: &str,
    b_extra: &str,
) -> (Server, Server) {
    let uri = mongo.uri.replacen("/?", "/voicera_rs?", 1);
    // Nothing listens there: the carrier is told which node to reach, as a balancer would pick.
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let config =
        |extra: &str| format!("{}\n{AGENT}\n[server]\npublic_url = \"{public_url}\"\n\n{extra}", carrier.config());
    let shared = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str()), ("VOICERA_MASTER_KEY", MASTER_KEY)];
    let env_a: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-a")]).collect();
    let env_b: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-b")]).collect();
    let node_a = Server::start_env(&format!("{name}-a"), &config(a_extra), false, &env_a);
    let node_b = Server::start_env(&format!("{name}-b"), &config(b_extra), false, &env_b);
    wait_agent_ready(&node_a, "caller");
    wait_agent_ready(&node_b, "caller");
    (node_a, node_b)
}

/// How long a campaign here may take: its ring timeouts and retries, through two nodes.
const CAMPAIGN_WITHIN: Duration = Duration::from_secs(180);

/// The nodes that placed a contact's attempts.
fn placed_by(contact: &Value) -> Vec<String> {
    contact["history"].as_array().unwrap().iter().map(|a| a["node"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_provider_calling_back_another_node_completes_the_campaign_within_the_live_call_limit() {
    let (machine_clip, _) = machine_greeting();
    let person = person_answering();
    let carrier = FakeCarrier::start(Flavor::Vobiz, move |number, _| match number {
        "+15554000001" => Callee::Answers { audio: machine_clip.clone(), hang_up_after: Duration::from_secs(20) },
        "+15552000001" => Callee::Busy { after: Duration::from_millis(300) },
        _ => Callee::Answers { audio: person.clone(), hang_up_after: Duration::from_secs(20) },
    });
    let mongo = SecantusServer::start();
    let (node_a, node_b) = two_nodes("provider-nodes", &mongo, &carrier, "", "[campaigns]\ndial = false\n");
    // Whatever node placed a call, the balancer sends its answer, stream and callbacks to B.
    carrier.deliver_to(node_b.http);
    let token = owner_token(node_a.http);

    let names = ["Ben", "Asha", "Cara", "Dan", "Eve", "Farid", "Gita"];
    let mut csv = String::from("contact_number,name\n");
    for (i, name) in names.iter().enumerate() {
        csv.push_str(&format!("+155510000{i:02},{name}\n"));
    }
    csv.push_str("+15554000001,Machine\n+15552000001,Busy\n");
    let campaign = json!({
        "max_live_calls": 3, "calls_per_second": 5, "ring_timeout_seconds": 5,
        "provider": "vobiz", "caller_id": "+15550000000", "amd": "hangup",
        "retry": {"busy": {"max_attempts": 1, "spacing_seconds": 1}},
    });
    let batch = upload_campaign(&node_a, &token, "caller", "across-nodes", &csv, campaign);
    let (view, contacts) = run_batch(&node_a, &token, &batch, CAMPAIGN_WITHIN);
    assert!(carrier.faults().is_empty(), "every webhook answered 200 by node B: {:?}", carrier.faults());
    let expected = json!({"answered-human": names.len(), "answered-machine": 1, "busy": 1});
    assert_eq!(view["progress"]["by_outcome"], expected, "{view}\n{}\n{}", node_a.log(), node_b.log());
    for contact in &contacts {
        assert_eq!(placed_by(contact), ["node-a"], "one attempt, placed by A: {contact}");
    }

    // Node B ran every stream; node A ran none, and learnt each call's end from the registry.
    let streams = |server: &Server| server.log().matches("stream of a dialled call").count();
    assert_eq!((streams(&node_a), streams(&node_b)), (0, names.len() + 1), "{}", node_b.log());
    for (i, name) in names.iter().enumerate() {
        let number = format!("+155510000{i:02}");
        let find = || node_b.call_records().into_iter().find(|r| r["called"].as_str() == Some(number.as_str()));
        node_b.wait_for(&format!("the record of {number}"), Duration::from_secs(20), |_| find().is_some());
        let record = find().unwrap();
        let greeting = format!("Hello {name}, this is Green Valley Dental about your appointment.");
        assert_eq!(record["greeting"], json!(greeting), "the contact's variables reached node B: {record}");
        assert!(carrier.heard(&number)[0].voiced().count() >= 50, "{number} heard the greeting");
    }
    // The machine: detection on B (asked for in the registry), its verdict back to A (the disposition).
    let machine = contacts.iter().find(|c| c["contact_number"] == "+15554000001").unwrap();
    assert_eq!(
        (&machine["last_amd"]["verdict"], &machine["last_amd"]["action"]),
        (&json!("machine"), &json!("hangup"))
    );
    assert_eq!(carrier.heard("+15554000001")[0].voiced().count(), 0, "nothing said to the machine");

    // A call held its slot from the request to its final report, whichever node heard it: the carrier never
    // had more than 3 up, and had 3.
    assert_eq!(carrier.max_live(), 3, "the live-call limit, reached and never passed");
    assert_eq!(carrier.live(), 0, "no call left up");
    drop(mongo);
}

#[test]
fn two_nodes_together_start_no_more_calls_a_second_than_the_campaign_allows() {
    const RATE: usize = 4;
    const CONTACTS: usize = 24;
    // One token-bucket burst over the rate: a one-second window may hold one start more (see
    // `voicera_dialer::pacing::BURST`).
    const BURST: usize = 1;
    let carrier = FakeCarrier::start(Flavor::Vobiz, |_, _| Callee::Busy { after: Duration::from_millis(100) });
    let mongo = SecantusServer::start();
    let (node_a, node_b) = two_nodes("paced-nodes", &mongo, &carrier, "", "");
    // Every call reports to B: A's calls cross nodes, B's stay on it.
    carrier.deliver_to(node_b.http);
    let token = owner_token(node_a.http);
    let csv: String = std::iter::once("contact_number\n".to_string())
        .chain((0..CONTACTS).map(|i| format!("+1555300{i:04}\n")))
        .collect();
    let campaign = json!({
        "max_live_calls": 50, "calls_per_second": RATE, "ring_timeout_seconds": 5,
        "provider": "vobiz", "caller_id": "+15550000000",
        "retry": {"busy": {"max_attempts": 1, "spacing_seconds": 1}},
    });
    let batch = upload_campaign(&node_a, &token, "caller", "paced", &csv, campaign);
    let (view, contacts) = run_batch(&node_a, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"busy": CONTACTS}), "{view}");
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for contact in &contacts {
        for node in placed_by(contact) {
            *by_node.entry(node).or_default() += 1;
        }
    }
    println!("calls placed by node: {by_node:?}");
    assert_eq!(by_node.len(), 2, "both nodes dialled: {by_node:?}\n{}\n{}", node_a.log(), node_b.log());

    let at = carrier.requested_at();
    assert_eq!(at.len(), CONTACTS, "one request per contact");
    let first = at[0];
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for t in &at {
        *per_second.entry((*t - first).as_secs()).or_default() += 1;
    }
    println!("requests per second at the carrier: {per_second:?}");
    let most = per_second.values().copied().max().unwrap_or(0);
    assert!(most <= RATE + BURST, "{most} calls in one second at {RATE} a second: {per_second:?}");
    // And the campaign rate, not each node's: 24 starts at 4 a second span (24 - 1) / 4 s at least (two nodes
    // pacing apart would take half that). A little is allowed for a start's trip to the carrier.
    let span = *at.last().unwrap() - first;
    let least = Duration::from_millis((CONTACTS as u64 - 1) * 1000 / RATE as u64 - 300);
    assert!(span >= least, "{CONTACTS} starts in {span:?}: faster than {RATE} a second");
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());
    drop(mongo);
}

/// A network announcement answering a provider call (a special information tone, then "the number you are
/// calling is switched off"): node B runs the stream and hears the tone; node A, which placed the call and
/// learns of it only through the dial registry, records the attempt as `failed(announcement)`, as the SIP path
/// does, where a provider reports the call `completed`.
#[test]
fn a_special_information_tone_heard_on_another_node_fails_the_attempt_as_an_announcement() {
    let person = person_answering();
    let carrier = FakeCarrier::start(Flavor::Vobiz, move |number, _| match number {
        "+15556000001" => {
            Callee::Answers { audio: common::greetings::announcement(2), hang_up_after: Duration::from_secs(15) }
        }
        _ => Callee::Answers { audio: person.clone(), hang_up_after: Duration::from_secs(6) },
    });
    let mongo = SecantusServer::start();
    let (node_a, node_b) = two_nodes("sit-nodes", &mongo, &carrier, "", "[campaigns]\ndial = false\n");
    carrier.deliver_to(node_b.http);
    let token = owner_token(node_a.http);
    let csv = "contact_number,name\n+15556000001,Announced\n+15551000001,Ben\n";
    let campaign = json!({
        "max_live_calls": 2, "calls_per_second": 5, "ring_timeout_seconds": 5,
        "provider": "vobiz", "caller_id": "+15550000000", "amd": "hangup",
    });
    let batch = upload_campaign(&node_a, &token, "caller", "announced", csv, campaign);
    let (view, contacts) = run_batch(&node_a, &token, &batch, CAMPAIGN_WITHIN);
    let expected = json!({"failed(announcement)": 1, "answered-human": 1});
    assert_eq!(view["progress"]["by_outcome"], expected, "{view}\n{}\n{}", node_a.log(), node_b.log());
    let announced = contacts.iter().find(|c| c["contact_number"] == "+15556000001").unwrap();
    assert_eq!(announced["disposition"], "failed(announcement)", "{announced}");
    assert_eq!(placed_by(announced), ["node-a"], "placed by A: {announced}");
    assert_eq!(announced["last_amd"]["sit"], json!(true), "the tone B heard is noted on A's attempt: {announced}");
    let streams = |server: &Server| server.log().matches("stream of a dialled call").count();
    assert_eq!((streams(&node_a), streams(&node_b)), (0, 2), "B ran both streams");
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());
    drop(mongo);
}
