//! Customer webhooks end to end: the real binary, a real SIP call (sipp to the `bench` agent, recording on)
//! and a receiver on loopback that checks every signature, answers each delivery's first attempt 500, lets
//! the second time out and accepts the third. The call's `call.started` and `call.ended` arrive, retried
//! with the same delivery id and bytes, accepted once each and never sent again; the delivery log shows
//! every attempt; the recording link in `call.ended` works without a credential and not when tampered
//! with; a replay re-sends the event under a new delivery id; a 410 Gone disables the endpoint.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::api::{owner_token, request, send, OWNER};
use common::hooks::{signature_ok, Delivery, Receiver};
use common::{assert_sipp_ok, sipp, Server};
use serde_json::{json, Value};

/// The bench agent keeps a recording; `[webhooks]` lets the receiver be plain http on loopback and retries
/// fast (the environment below sets the rest: both ways of configuring work).
const RECORDING: &str =
    "[bench]\nrecord = true\n\n[webhooks]\nallow_http_loopback = true\nretry_first_ms = 300\nretry_max_ms = 1000\n";

/// A short back-off so the test sees three attempts in seconds (the 24 h schedule is the scheduler's
/// unit tests'), and a 1.5 s attempt timeout for the receiver's silent attempt to exceed.
const WEBHOOK_ENV: [(&str, &str); 2] = [("VOICERA_WEBHOOKS_TIMEOUT_MS", "1500"), ("VOICERA_WEBHOOKS_POLL_MS", "200")];

/// Per delivery id: attempt 1 → 500, attempt 2 → silence for 4 s (the sender times out), attempt 3 and
/// later → 200; a `webhook.test` event → 410 Gone.
fn failing_twice(delivery: &Delivery, earlier: usize) -> Option<u16> {
    match earlier {
        _ if delivery.event() == "webhook.test" => Some(410),
        0 => Some(500),
        1 => None,
        _ => Some(200),
    }
}

/// Waits until `check` holds for what the receiver got.
fn wait_for(receiver: &Receiver, what: &str, timeout: Duration, server: &Server, check: impl Fn(&Receiver) -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check(receiver) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}; received: {:#?}\nlog:\n{}", receiver.received(), server.log());
}

#[test]
fn call_events_are_signed_retried_logged_and_delivered_once() {
    let env: Vec<(&str, &str)> = OWNER.iter().chain(WEBHOOK_ENV.iter()).copied().collect();
    let server = Server::start_env("webhooks", RECORDING, false, &env);
    let token = owner_token(server.http);
    let receiver = Receiver::start(failing_twice);
    let hook_url = format!("http://{}/hook", receiver.addr);

    // Only https, or http to loopback when the node allows it; the error names the field.
    let (status, error) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        &token,
        Some(json!({"url": "http://203.0.113.9/hook", "events": ["call.*"]})),
    );
    assert_eq!((status, error["field"].clone()), (422, json!("url")), "{error}");
    let (status, error) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        &token,
        Some(json!({"url": hook_url, "events": ["call.answered"]})),
    );
    assert_eq!((status, error["field"].clone()), (422, json!("events")), "{error}");
    let (status, created) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        &token,
        Some(json!({"url": hook_url, "events": ["call.started", "call.ended"], "description": "CRM"})),
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("the secret, shown once").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = created["id"].as_str().unwrap().to_string();
    let (status, shown) = request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}"), &token, None);
    assert_eq!(status, 200, "{shown}");
    assert_ne!(shown["secret"], json!(secret), "masked after creation: {shown}");
    assert!(!shown.to_string().contains(&secret[6..]), "{shown}");
    // The database and its write-ahead log hold the endpoint (its URL) but not the secret.
    let stored: Vec<u8> = ["data/voicera.db", "data/voicera.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(server.dir.join(f)).unwrap_or_default())
        .collect();
    assert!(String::from_utf8_lossy(&stored).contains(&hook_url), "the endpoint is stored");
    assert!(!String::from_utf8_lossy(&stored).contains(&secret), "the secret is sealed at rest");

    let out = sipp(&server, "basic_call.xml", &["-s", "bench", "-m", "1"]);
    assert_sipp_ok(&server, &out, "bench call");
    wait_for(&receiver, "call.started and call.ended accepted", Duration::from_secs(60), &server, |r| {
        r.accepted().len() >= 2
    });

    let accepted = receiver.accepted();
    let mut events: Vec<&str> = accepted.iter().map(|r| r.header("voicera-event")).collect();
    events.sort_unstable();
    assert_eq!(events, ["call.ended", "call.started"]);
    for delivery in &accepted {
        let id = delivery.header("voicera-delivery");
        let attempts = receiver.attempts(id);
        let answers: Vec<Option<u16>> = attempts.iter().map(|a| a.answered).collect();
        assert_eq!(answers, [Some(500), None, Some(200)], "500, a timeout, then accepted: {id}");
        for attempt in &attempts {
            assert!(signature_ok(&secret, attempt.header("voicera-signature"), &attempt.body), "{attempt:?}");
            assert_eq!(attempt.body, delivery.body, "every retry sends the same bytes");
            assert_eq!(attempt.header("content-type"), "application/json");
        }
        assert!(!signature_ok("whsec_wrong", delivery.header("voicera-signature"), &delivery.body));
        assert_eq!(delivery.json()["type"], json!(delivery.header("voicera-event")));
    }
    let ended = accepted.iter().find(|r| r.header("voicera-event") == "call.ended").unwrap().json();
    let started = accepted.iter().find(|r| r.header("voicera-event") == "call.started").unwrap().json();
    let data = &ended["data"];
    assert_eq!(data["call_id"], started["data"]["call_id"], "{ended}\n{started}");
    assert_eq!((data["agent"].clone(), data["direction"].clone()), (json!("bench"), json!("inbound")), "{data}");
    assert_eq!(data["to_number"], json!("bench"));
    assert!(data["duration_secs"].as_u64().is_some_and(|d| (1..=10).contains(&d)), "{data}");
    assert!(data["end_reason"].as_str().is_some_and(|r| !r.is_empty()), "{data}");
    assert!(data["transcript"].as_array().is_some_and(|t| !t.is_empty()), "the greeting at least: {data}");
    assert!(data.get("latency").is_some(), "{data}");

    // The recording link works without a credential, and not once tampered with.
    let link = data["recording_url"].as_str().expect("a signed recording link");
    let path = &link[link.find("/api/v1/").expect("an API link")..];
    let (status, _, audio) = send(server.http, "GET", path, "", "application/json", b"");
    assert_eq!(status, 200, "{link}");
    assert!(audio.starts_with(b"RIFF") || audio.starts_with(b"OggS"), "audio: {:?}", &audio[..audio.len().min(16)]);
    let tampered = path.replace("expires=", "expires=9");
    assert_eq!(request(server.http, "GET", &tampered, "", None).0, 403);

    // The delivery log: both deliveries, each attempt with its status, latency and the answer's start.
    let (status, log) = request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}/deliveries"), &token, None);
    assert_eq!((status, log["total"].clone()), (200, json!(2)), "{log}");
    let ended_id =
        accepted.iter().find(|r| r.header("voicera-event") == "call.ended").unwrap().header("voicera-delivery");
    let detail_path = format!("/api/v1/webhooks/{endpoint}/deliveries/{ended_id}");
    let (status, detail) = request(server.http, "GET", &detail_path, &token, None);
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["status"], json!("delivered"), "{detail}");
    let attempts = detail["attempts"].as_array().expect("attempts");
    let statuses: Vec<Value> = attempts.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, [json!(500), Value::Null, json!(200)], "{detail}");
    assert_eq!(attempts[0]["response"], json!("receiver says 500"));
    assert!(attempts[1]["error"].as_str().is_some_and(|e| !e.is_empty()), "the timeout is explained: {detail}");
    assert!(attempts[1]["latency_ms"].as_u64().is_some_and(|ms| ms >= 1_000), "{detail}");

    // A replay: the same event and bytes under a new delivery id, retried like any delivery.
    let (status, replayed) = request(server.http, "POST", &format!("{detail_path}/replay"), &token, None);
    assert_eq!(status, 200, "{replayed}");
    let replay_id = replayed["delivery_id"].as_str().unwrap().to_string();
    assert_ne!(replay_id, ended_id);
    wait_for(&receiver, "the replay accepted", Duration::from_secs(30), &server, |r| r.accepted().len() >= 3);
    let again = receiver.attempts(&replay_id).pop().unwrap();
    assert_eq!(again.json(), ended, "the same event");
    assert!(signature_ok(&secret, again.header("voicera-signature"), &again.body));

    // Nothing accepted is sent again.
    std::thread::sleep(Duration::from_secs(3));
    let per_delivery = receiver.received().iter().fold(BTreeMap::<String, usize>::new(), |mut m, r| {
        *m.entry(r.header("voicera-delivery").to_string()).or_default() += 1;
        m
    });
    assert_eq!(per_delivery.len(), 3, "{per_delivery:?}");
    assert!(per_delivery.values().all(|n| *n == 3), "three attempts each, none after the 200: {per_delivery:?}");
    // `/metrics` counts them: per delivery a retry after the 500, one after the timeout, then delivered.
    server.wait_for("the queue empty", Duration::from_secs(10), |s| s.metric("voicera_webhook_pending") == 0.0);
    assert_eq!(server.metric("voicera_webhook_deliveries_total{outcome=\"retry\"}"), 6.0);
    assert_eq!(server.metric("voicera_webhook_deliveries_total{outcome=\"delivered\"}"), 3.0);
    assert_eq!(server.metric("voicera_webhook_attempt_seconds_count"), 9.0);
    assert!(server.metric("voicera_webhook_attempt_seconds_bucket{le=\"+Inf\"}") == 9.0);
    assert!(server.metric("voicera_webhook_attempt_seconds_sum") >= 1.0, "the timed-out attempts took 1.5 s each");
    assert_eq!(server.metric("voicera_webhook_dead_letters_total"), 0.0);

    // A test event answered 410 Gone disables the endpoint; the audit log has the writes.
    let (status, test) = request(server.http, "POST", &format!("/api/v1/webhooks/{endpoint}/test"), &token, None);
    assert_eq!(status, 200, "{test}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, shown) = request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}"), &token, None);
        if shown["enabled"] == json!(false) {
            assert!(shown["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{shown}");
            break;
        }
        assert!(Instant::now() < deadline, "the endpoint was not disabled: {shown}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(server.metric("voicera_webhook_deliveries_total{outcome=\"gone\"}"), 1.0);
    assert_eq!(server.metric("voicera_webhook_dead_letters_total"), 1.0, "410 Gone ends the delivery");
    let (_, audit) = request(server.http, "GET", "/api/v1/audit", &token, None);
    let operations: Vec<&str> =
        audit["items"].as_array().unwrap().iter().filter_map(|i| i["operation"].as_str()).collect();
    for operation in ["create_webhook", "replay_webhook_delivery", "test_webhook"] {
        assert!(operations.contains(&operation), "{operation} in {operations:?}");
    }
}
