//! A campaign's provider calls when the node that placed them dies mid-call (SIGKILL) while another node serves
//! their streams. Two nodes on one MongoDB (SecantusDB) behind one public URL; the provider is
//! `common::fake_carrier` (Vobiz's documented shapes), which sends every webhook and stream to node B, and
//! ends a call's stream when the call is hung up through its REST API (as the network tears the call down).
//!
//! Node A places three calls; their callees would talk for two minutes. A is killed once all three streams run
//! on B. What must hold (`voicera_dialer::dial_watch`, `voicera_dialer::lease`):
//!
//! - Left alone, B hangs each call up itself (its stream and, through the REST API, the call) once A's dial
//!   leases stop being renewed: nothing keeps talking on a call no node follows.
//! - A node coming back at once (the same node id, so its own old leases are not waited out) first hangs the
//!   dead process's calls up through the REST API, then settles their contacts `failed(node lost)`.
//! - Either way each contact is retried once per the `failed` rule (2 attempts), and the carrier never has two
//!   calls to one number up at once.

mod common;

use std::time::{Duration, Instant};

use common::api::{owner_token, request, upload_campaign, wait_agent_ready, OWNER};
use common::fake_carrier::{Callee, FakeCarrier, Flavor};
use common::greetings::person_answering;
use common::restarted::Restarted;
use common::{free_port, Server};
use serde_json::{json, Value};
use voicera_store::testing::SecantusServer;

/// A notice agent (it speaks its message, then hangs up) whose message outlasts the test's first calls by far:
/// only a hang-up ends them before the kill has been noticed.
const AGENT: &str = "[[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{contact.name}} of an appointment.\"\n\
    greeting_message = \"Hello {{contact.name}}, this is Green Valley Dental about your appointment next week. \
    We would like to remind you that your appointment is on Tuesday morning at half past nine, with doctor Rivera, \
    at our clinic on Main Street, next to the public library and across from the park. Please arrive fifteen \
    minutes early so that we can update your records, and bring your insurance card and a list of the medicines \
    you take. If you cannot come, please call us at least one day before, so that another patient can have your \
    time. Parking is free behind the building, and the entrance is on the side street. We look forward to seeing \
    you, and we wish you a very pleasant day. Thank you for choosing Green Valley Dental, goodbye.\"\n\
    interaction_mode = \"non_conversational\"\n";
/// The deployment's master key (64 hex digits), the same on both nodes.
const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455";
/// The contact and dial leases: short, so that a dead node's calls are noticed within seconds (the API keeps
/// the ring time-out, at least 5 s, under two thirds of it).
const LEASE_MS: u64 = 8_000;
const CONTACTS: usize = 3;

/// The deployment: node A dials, node B (`dial = false`) gets every webhook and stream. Returns A, B, A's env.
fn deployment(name: &str, mongo: &SecantusServer, carrier: &FakeCarrier) -> (Server, Server, Vec<(String, String)>) {
    let uri = mongo.uri.replacen("/?", "/voicera_rs?", 1);
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let config = |extra: &str| {
        format!(
            "{}\n{AGENT}\n[server]\npublic_url = \"{public_url}\"\n\n[campaigns]\nlease_ms = {LEASE_MS}\n{extra}",
            carrier.config()
        )
    };
    let shared = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str()), ("VOICERA_MASTER_KEY", MASTER_KEY)];
    let env_a: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-a")]).collect();
    let env_b: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-b")]).collect();
    let node_a = Server::start_env(&format!("{name}-a"), &config(""), false, &env_a);
    let node_b = Server::start_env(&format!("{name}-b"), &config("dial = false\n"), false, &env_b);
    wait_agent_ready(&node_a, "caller");
    wait_agent_ready(&node_b, "caller");
    carrier.deliver_to(node_b.http);
    let env = env_a.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    (node_a, node_b, env)
}

/// Every callee answers; the first call to each would last two minutes (only a hang-up ends it in time), the
/// retry a few seconds.
fn carrier() -> FakeCarrier {
    let person = person_answering();
    FakeCarrier::start(Flavor::Vobiz, move |_, attempt| {
        let hang_up_after = if attempt == 0 { Duration::from_secs(120) } else { Duration::from_secs(3) };
        Callee::Answers { audio: person.clone(), hang_up_after }
    })
}

/// Uploads the contacts and runs the campaign on `node`: the batch id.
fn start_campaign(node: &Server, token: &str) -> String {
    let csv: String = std::iter::once("contact_number,name\n".to_string())
        .chain((0..CONTACTS).map(|i| format!("+155560000{i:02},Contact{i}\n")))
        .collect();
    let campaign = json!({
        "max_live_calls": CONTACTS, "calls_per_second": 5, "ring_timeout_seconds": 5,
        "provider": "vobiz", "caller_id": "+15550000000",
        "retry": {"failed": {"max_attempts": 2, "spacing_seconds": 1}},
    });
    let batch = upload_campaign(node, token, "caller", "failover", &csv, campaign);
    let (status, answer) = request(node.http, "POST", &format!("/api/v1/batches/{batch}/run"), token, Some(json!({})));
    assert_eq!(status, 200, "{answer}");
    batch
}

/// Waits until every first call streams on B, then kills A (SIGKILL).
fn kill_mid_call(node_a: &mut Server, node_b: &Server, carrier: &FakeCarrier) {
    node_b.wait_for("every call streaming on node B", Duration::from_secs(60), |b| {
        b.log().matches("stream of a dialled call").count() == CONTACTS && carrier.live() == CONTACTS
    });
    // A moment of conversation, so that at least one renewal of each lease happened.
    std::thread::sleep(Duration::from_millis(LEASE_MS / 2));
    node_a.signal("KILL");
    assert!(node_a.wait_exit(Duration::from_secs(10)).is_none(), "killed, no exit code");
    assert_eq!(carrier.live(), CONTACTS, "the calls outlive their placing node at the carrier");
}

/// Pauses the campaign (through node B's API: A is dead), so that the node coming back settles the lost
/// attempts at once but retries nothing before its agent is ready.
fn pause(node_b: &Server, token: &str, batch: &str) {
    let (status, answer) = request(node_b.http, "POST", &format!("/api/v1/campaigns/{batch}/pause"), token, None);
    assert_eq!(status, 200, "{answer}");
}

/// Once the restarted node's agent is ready (its models loaded), resumes the campaign.
fn resume_when_ready(restarted: &Restarted, token: &str, batch: &str) {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", OWNER[0].1, OWNER[1].1));
    let auth = [("Authorization", format!("Basic {basic}"))];
    restarted.wait_for("the restarted node's agent to be ready", Duration::from_secs(300), |r| {
        let (status, body) = common::provider::http(r.http, "GET", "/browser/agents", &auth, "");
        let listing: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let ready = |agent: &Value| agent["id"] == "caller" && agent["status"] == "ready";
        status == 200 && listing.as_array().is_some_and(|agents| agents.iter().any(ready))
    });
    let (status, answer) = request(restarted.http, "POST", &format!("/api/v1/campaigns/{batch}/resume"), token, None);
    assert_eq!(status, 200, "{answer}");
}

/// Waits for the campaign to complete on the restarted node: its contacts.
fn finish(restarted: &Restarted, node_b: &Server, token: &str, batch: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, view) = request(restarted.http, "GET", &format!("/api/v1/batches/{batch}"), token, None);
        assert_eq!(status, 200, "{view}");
        if view["execution_status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {view}\n{}\n{}", restarted.log(), node_b.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let path = format!("/api/v1/batches/{batch}/contacts?limit=100");
    let (status, page) = request(restarted.http, "GET", &path, token, None);
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Every contact: a first attempt by A lost with it, a retry answered; every number called twice, never two
/// calls to it up at once; each first call hung up through the API; nothing left up.
fn assert_called_once_at_a_time(contacts: &[Value], carrier: &FakeCarrier) {
    assert_eq!(contacts.len(), CONTACTS);
    for contact in contacts {
        let history = contact["history"].as_array().unwrap();
        let outcomes: Vec<(&str, &str)> =
            history.iter().map(|a| (a["node"].as_str().unwrap(), a["outcome"].as_str().unwrap_or(""))).collect();
        assert_eq!(outcomes, [("node-a", "failed(node lost)"), ("node-a", "answered-human")], "{contact}");
        assert_eq!(contact["disposition"], "answered-human", "{contact}");
    }
    assert_eq!(carrier.max_live_per_number(), 1, "never two calls to one number up at once");
    let requests = carrier.requests();
    assert_eq!(requests.len(), 2 * CONTACTS, "each number called twice (the lost call and its retry)");
    let hung_up = carrier.hung_up();
    for i in 0..CONTACTS {
        let number = format!("+155560000{i:02}");
        let calls: Vec<_> = requests.iter().filter(|r| r.body["to"] == number.as_str()).collect();
        assert_eq!(calls.len(), 2, "{number}");
        assert!(hung_up.contains(&calls[0].uuid), "{number}'s lost call hung up through the API: {hung_up:?}");
        let heard = carrier.heard(&number);
        assert!(heard[0].ended_by_api || heard[0].ended_by_server, "{number}'s first stream ended by a hang-up");
        assert!(heard[0].voiced().count() >= 50, "{number} heard the greeting on the first call");
    }
    assert_eq!(carrier.live(), 0, "no call left up");
    // The lost calls' final reports reach a dial nobody follows any more (404); nothing else went wrong.
    let faults = carrier.faults();
    assert!(faults.iter().all(|f| f.contains("hangup callback answered 404")), "{faults:?}");
}

/// The two tests one after the other: each restarts a node through `Restarted`, whose RTP port range is fixed,
/// and each loads local models on three nodes (two cores).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_placing_node_killed_mid_call_has_its_calls_hung_up_by_the_serving_node_then_retried_once() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let carrier = carrier();
    let mongo = SecantusServer::start();
    let (mut node_a, node_b, env_a) = deployment("failover-lapse", &mongo, &carrier);
    let token = owner_token(node_a.http);
    let batch = start_campaign(&node_a, &token);
    kill_mid_call(&mut node_a, &node_b, &carrier);
    let killed = Instant::now();

    // Nobody renews A's dials: B sees no renewal for a lease (or the expiry pass, with the skew margin) at its
    // reads every third of a lease, and hangs each call up: the stream and, through the API, the call.
    node_b.wait_for("node B to hang up the dead node's calls", Duration::from_secs(30), |_| carrier.live() == 0);
    let took = killed.elapsed();
    println!("node B hung up the dead node's calls {took:?} after the kill");
    assert!(took <= Duration::from_millis(2 * LEASE_MS + 2_000), "bounded by the lease: {took:?}");
    let hung_up_by_b = node_b.log().matches("hanging up a call nobody follows any more").count();
    assert_eq!(hung_up_by_b, CONTACTS, "{}", node_b.log());

    // A comes back and settles the lost attempts; the `failed` rule retries each once.
    pause(&node_b, &token, &batch);
    let env: Vec<(&str, &str)> = env_a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let restarted = Restarted::start(&node_a.dir, &env);
    resume_when_ready(&restarted, &token, &batch);
    let contacts = finish(&restarted, &node_b, &token, &batch);
    assert_called_once_at_a_time(&contacts, &carrier);
    drop(mongo);
}

#[test]
fn a_placing_node_back_at_once_hangs_its_lost_calls_up_through_the_api_before_it_dials_them_again() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let carrier = carrier();
    let mongo = SecantusServer::start();
    let (mut node_a, node_b, env_a) = deployment("failover-restart", &mongo, &carrier);
    let token = owner_token(node_a.http);
    let batch = start_campaign(&node_a, &token);
    kill_mid_call(&mut node_a, &node_b, &carrier);

    // Back at once, its leases still live: its own are not waited out (nothing of the old process is calling),
    // so the calls B still serves must be ended before the contacts are settled and retried.
    pause(&node_b, &token, &batch);
    let env: Vec<(&str, &str)> = env_a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let restarted = Restarted::start(&node_a.dir, &env);
    // The lost calls are hung up as the campaign's task starts, before its agent is even ready.
    let hung_up = |_: &Restarted| carrier.live() == 0;
    restarted.wait_for("the restarted node to hang up the lost calls", Duration::from_secs(30), hung_up);
    // The reclaimer ended them, not B's own watch noticing the lapse (which would hang them up as well, and
    // hide a reclaimer that does nothing): B saw no lease lapse, only, at most, the dials settled.
    let lapsed_on_b = node_b.log().matches("the placing node stopped renewing the dial's lease").count();
    assert_eq!(lapsed_on_b, 0, "{}", node_b.log());
    resume_when_ready(&restarted, &token, &batch);
    let contacts = finish(&restarted, &node_b, &token, &batch);
    let by_reclaimer = restarted.log().matches("hanging up a call whose placing node was lost").count();
    assert_eq!(by_reclaimer, CONTACTS, "{}", restarted.log());
    assert_called_once_at_a_time(&contacts, &carrier);
    // B ended the streams of the dials the restarted node settled (or the hang-up closed them first).
    println!("streams B ended itself: {}", node_b.log().matches("a dialled call's dialer is gone").count());
    drop(mongo);
}
