//! Two dialer nodes on one MongoDB (SecantusDB), one campaign, one node killed (SIGKILL) mid-campaign while it
//! holds contact leases. Both nodes are `voicera serve` with their own data dirs; the carrier is sipp
//! (tests/sipp/uas_campaign.xml: answers, keeps the call 1.5 s, hangs up), whose message log says when each
//! INVITE arrived and when each call ended there.
//!
//! What a call in flight on the dead node counts as (`voicera_dialer::lease`): an attempt `failed(node lost)`
//! under the campaign's `failed` retry rule, settled only once its lease lapsed. Here that rule allows a second
//! attempt a second later, so the survivor calls those contacts again — after the lease, never while the dead
//! node's call could still be up at the carrier — and everyone else exactly once.
//!
//! The campaign's live-call limit (3) holds across both nodes (slots in the store, `voicera_dialer::slots`): the
//! carrier never has more than 3 of its calls up at once, and has 3.
//!
//! A node that loses a call's lease (here another holder is written into the store) hangs the call up: the
//! carrier gets our BYE.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::api::{batch_contacts, login, owner_token, request, send, wait_batch_completed, OWNER};
use common::carrier::{Carrier, CarrierCall};
use common::{free_port, require_tool, Server};
use serde_json::{json, Value};
use voicera_store::testing::SecantusServer;

/// The contact lease: renewed every third of it. Longer than the carrier can keep a dead node's call (1.5 s
/// of call, or ~3.5 s for an answer nobody acknowledges with `-max_invite_retrans 2`) plus the INVITE's trip
/// on a loaded machine.
const LEASE_MS: i64 = 8_000;
/// The `failed` rule's spacing: the lost attempt's retry waits this long after the lease lapsed.
const FAILED_SPACING_MS: i64 = 1_000;
const CONTACTS: usize = 24;
/// The campaign's live-call limit, shared by the two nodes.
const MAX_LIVE: usize = 3;
/// The deployment's master key (64 hex digits), the same on both nodes.
const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The contact's attempts: (node, outcome or "", started_at, ended_at or 0).
fn attempts(contact: &Value) -> Vec<(String, String, i64, i64)> {
    contact["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["node"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap_or_default().to_string(),
                a["started_at"].as_i64().unwrap(),
                a["ended_at"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn a_node_killed_mid_campaign_loses_no_contact_and_its_calls_are_redialled_only_after_their_lease() {
    require_tool("sipp");
    let mongo = SecantusServer::start();
    let uri = mongo.uri.replacen("/?", "/voicera_rs?", 1);
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\n\
         [campaigns]\nlease_ms = {LEASE_MS}\n"
    );
    // One deployment: one store and one master key (a token from either node is good at both).
    let shared = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str()), ("VOICERA_MASTER_KEY", MASTER_KEY)];
    let env_a: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-a")]).collect();
    let env_b: Vec<(&str, &str)> = shared.iter().copied().chain([("VOICERA_NODE_ID", "node-b")]).collect();
    let mut node_a = Server::start_env("nodes-a", &config, false, &env_a);
    let node_b = Server::start_env("nodes-b", &config, false, &env_b);
    let carrier = Carrier::start_with(&node_b.dir, trunk_port, &["-max_invite_retrans", "2"]);
    let token = owner_token(node_a.http);

    let mut csv = String::from("contact_number\n");
    for i in 0..CONTACTS {
        csv.push_str(&format!("+1555100{i:04}\n"));
    }
    let path = "/api/v1/batches/upload?batch_name=two-nodes&agent_type=echo&default_country=US";
    let (status, uploaded, _) = send(node_a.http, "POST", path, &token, "text/csv", csv.as_bytes());
    assert_eq!((status, uploaded["valid_contacts"].as_u64()), (201, Some(CONTACTS as u64)), "{uploaded}");
    let batch = uploaded["batch_id"].as_str().unwrap().to_string();
    let settings = json!({"max_live_calls": MAX_LIVE, "calls_per_second": 5, "trunk": "carrier", "ring_timeout_seconds": 5,
                          "retry": {"failed": {"max_attempts": 2, "spacing_seconds": FAILED_SPACING_MS / 1000}}});
    let (status, answer) = request(node_a.http, "PUT", &format!("/api/v1/campaigns/{batch}"), &token, Some(settings));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) =
        request(node_a.http, "POST", &format!("/api/v1/batches/{batch}/run"), &token, Some(json!({})));
    assert_eq!(status, 200, "{answer}");

    // Both nodes dialling, a few contacts done, and node A holding leases on calls in flight: kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = batch_contacts(node_b.http, &token, &batch);
        let done = all.iter().filter(|c| c["status"] == "done").count();
        let by = |node: &str| all.iter().any(|c| attempts(c).iter().any(|a| a.0 == node));
        let a_in_flight = all.iter().filter(|c| {
            c["status"] == "dialing" && attempts(c).last().is_some_and(|a| a.0 == "node-a" && a.1.is_empty())
        });
        if done >= 4 && by("node-b") && a_in_flight.count() >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never both nodes dialling: {all:#?}\n{}\n{}", node_a.log(), node_b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed_at = now_ms();
    node_a.signal("KILL");
    assert!(node_a.wait_exit(Duration::from_secs(10)).is_none(), "killed, no exit code");

    // Node B finishes the campaign alone.
    let view = wait_batch_completed(&node_b, &token, &batch, Duration::from_secs(120));
    assert_eq!(view["progress"]["by_outcome"], json!({"answered-human": CONTACTS}), "every contact reached: {view}");

    // The store: the lost calls are A's open attempts, closed `failed(node lost)` by B only after their lease
    // lapsed (and after the kill), then retried by B after the failure rule's spacing; everyone else called once.
    let all = batch_contacts(node_b.http, &token, &batch);
    let mut lost = Vec::new();
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for contact in &all {
        let tries = attempts(contact);
        let number = contact["contact_number"].as_str().unwrap().to_string();
        assert_eq!(contact["status"], "done", "{contact}");
        if tries[0].1 == "failed(node lost)" {
            let (first, second) = (&tries[0], &tries[1]);
            assert_eq!((tries.len(), first.0.as_str(), second.0.as_str()), (2, "node-a", "node-b"), "{contact}");
            assert_eq!(second.1, "answered-human", "{contact}");
            assert!(first.3 >= first.2 + LEASE_MS, "settled before its lease could lapse: {contact}");
            assert!(first.3 > killed_at, "settled while node A was alive: {contact}");
            assert!(second.2 >= first.3 + FAILED_SPACING_MS, "retried before the failure rule's spacing: {contact}");
            lost.push(number);
        } else {
            assert_eq!(tries.len(), 1, "one attempt: {contact}");
            assert_eq!(tries[0].1, "answered-human", "{contact}");
            *by_node.entry(tries[0].0.clone()).or_default() += 1;
        }
    }
    println!("lost with node A: {lost:?}; answered by node: {by_node:?}");
    assert!(!lost.is_empty(), "node A held leases when it was killed");
    assert!(by_node.get("node-a").is_some_and(|n| *n >= 1) && by_node.get("node-b").is_some_and(|n| *n >= 1));
    assert_eq!(view["attempted_calls"].as_u64().map(|n| n >= CONTACTS as u64), Some(true), "{view}");

    // The carrier: everyone but the lost contacts dialled exactly once; a lost contact at most twice (A's INVITE
    // may not have left before the kill), and never two calls to one number up at once.
    let calls = carrier.timed_calls();
    let mut per_number: BTreeMap<&str, Vec<&CarrierCall>> = BTreeMap::new();
    for call in &calls {
        per_number.entry(call.number.as_str()).or_default().push(call);
    }
    assert_eq!(per_number.len(), CONTACTS, "every number reached the carrier: {calls:#?}");
    for (number, calls) in &per_number {
        let expected = if lost.iter().any(|l| l == number) { 1..=2 } else { 1..=1 };
        assert!(expected.contains(&calls.len()), "{number} dialled {} times: {calls:#?}", calls.len());
        assert_eq!(calls.last().map(|c| c.status), Some(200), "{number}: {calls:#?}");
        for pair in calls.windows(2) {
            // A dead node's call whose answer it never acknowledged stays "up" at the carrier until the carrier's
            // Timer H (32 s) gives up: longer than this test's short lease. Production's default lease (60 s)
            // outlasts it (the README's rule: `lease_ms` must outlast a dead node's call at the carrier).
            if !pair[0].acknowledged {
                println!("{number}: the dead node's call was answered but never acknowledged; Timer H ends it");
                continue;
            }
            assert!(
                pair[1].invited_at_us > pair[0].ended_at_us,
                "{number}: a second call while the first was up at the carrier: {pair:#?}"
            );
            println!(
                "{number}: redialled {} ms after the dead node's call ended at the carrier",
                (pair[1].invited_at_us - pair[0].ended_at_us) / 1000
            );
        }
    }
    // The limit held across both nodes, the dead node's calls included (they count until the carrier ended
    // them, and their slots until their lease lapsed), and was reached.
    let most = most_up_at_once(&calls);
    println!("most calls up at the carrier at once: {most} (limit {MAX_LIVE})");
    assert_eq!(most, MAX_LIVE, "the campaign-wide limit, reached and never passed: {calls:#?}");
    drop(mongo);
}

/// The most calls up at the carrier at once, each from its INVITE's arrival to its end there (a call that ends
/// when another's INVITE arrives at the same instant does not overlap it).
fn most_up_at_once(calls: &[CarrierCall]) -> usize {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for call in calls {
        edges.push((call.invited_at_us, 1));
        edges.push((call.ended_at_us, -1));
    }
    // Ends before starts at the same instant.
    edges.sort();
    let (mut up, mut most) = (0i32, 0i32);
    for (_, change) in edges {
        up += change;
        most = most.max(up);
    }
    most as usize
}

#[test]
fn a_node_that_loses_a_calls_lease_hangs_the_call_up() {
    require_tool("sipp");
    // Renewed every 2.6 s: a lease stolen is noticed within that. (Two thirds of it still outlast the shortest
    // ring time-out, 5 s, as the API requires.)
    const LEASE_MS: i64 = 7_800;
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\n\
         [campaigns]\nlease_ms = {LEASE_MS}\n"
    );
    let env: Vec<(&str, &str)> = vec![OWNER[0], OWNER[1], ("VOICERA_NODE_ID", "node-a")];
    let node = Server::start_env("lease-lost", &config, false, &env);
    let carrier = Carrier::start(&node.dir, trunk_port);
    let session = login(node.http, OWNER[0].1, OWNER[1].1);
    let token = session.token.clone();
    // +1555400xxxx: the carrier answers and keeps the call until we hang up.
    let csv = "contact_number\n+15554000001\n";
    let path = "/api/v1/batches/upload?batch_name=lease-lost&agent_type=echo&default_country=US";
    let (status, uploaded, _) = send(node.http, "POST", path, &token, "text/csv", csv.as_bytes());
    assert_eq!(status, 201, "{uploaded}");
    let batch = uploaded["batch_id"].as_str().unwrap().to_string();
    let settings = json!({"max_live_calls": 1, "calls_per_second": 5, "trunk": "carrier", "ring_timeout_seconds": 5});
    let (status, answer) = request(node.http, "PUT", &format!("/api/v1/campaigns/{batch}"), &token, Some(settings));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = request(node.http, "POST", &format!("/api/v1/batches/{batch}/run"), &token, Some(json!({})));
    assert_eq!(status, 200, "{answer}");

    // The call is up at the carrier (answered, not hung up).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !carrier.timed_calls().iter().any(|c| c.status == 200) {
        assert!(Instant::now() < deadline, "the call was never answered:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(received_byes(&carrier), 0, "nobody hung up yet");

    // Another holder takes the contact's lease, as a node that took it over would.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(voicera_store::Store::open(&node.dir.join("data"), None)).unwrap();
    let prefix = format!("{batch}:");
    let listed =
        runtime.block_on(store.list_prefix(voicera_store::Collection::BatchContacts, &session.org_id, &prefix));
    let mut record = listed.unwrap().pop().expect("the contact");
    assert_eq!(record.doc["lease"]["node"], "node-a", "{}", record.doc);
    let version = record.doc["version"].as_u64().unwrap();
    record.doc["lease"] = json!({"node": "thief", "expires_at": now_ms() + 600_000});
    record.doc["version"] = json!(version + 1);
    let stolen =
        runtime.block_on(store.put_if_version(voicera_store::Collection::BatchContacts, &record, Some(version)));
    assert!(stolen.unwrap(), "the lease was written over");

    // Within a renewal (and well within the lease), node A hangs up: the carrier receives its BYE.
    let deadline = Instant::now() + Duration::from_secs(15);
    while received_byes(&carrier) == 0 {
        assert!(Instant::now() < deadline, "no BYE after the lease was lost:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = node.log();
    assert!(log.contains("hung up a call whose lease was lost"), "{log}");
    assert_eq!(carrier.timed_calls().len(), 1, "one call");
}

/// BYEs the carrier received (from us).
fn received_byes(carrier: &Carrier) -> usize {
    let text = std::fs::read_to_string(&carrier.log).unwrap_or_default();
    text.split("-----------------------------------------------")
        .filter(|block| block.contains("message received") && block.lines().any(|l| l.trim().starts_with("BYE ")))
        .count()
}
