//! Customer webhooks end to end: the real binary, a real SIP call (sipp to the `bench` agent, recording on)
//! and a receiver on loopback that checks every signature, answers each delivery's first attempt 500, lets
//! the second time out and accepts the third. The call's `call.started` and `call.ended` arrive, retried
//! with the same delivery id and bytes, accepted once each and never sent again; the delivery log shows
//! every attempt; the recording link in `call.ended` works without a credential and not when tampered
//! with; a replay re-sends the event under a new delivery id; a 410 Gone disables the endpoint.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::hooks::signature_ok;
use common::{assert_sipp_ok, sipp, Server};
use serde_json::{json, Value};

const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass")];

/// The bench agent keeps a recording.
const RECORDING: &str = "[bench]\nrecord = true\n";

/// A short back-off so the test sees three attempts in seconds (the 24 h schedule is the scheduler's
/// unit tests'), and a 1.5 s attempt timeout for the receiver's silent attempt to exceed.
const WEBHOOK_ENV: [(&str, &str); 5] = [
    ("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1"),
    ("VOICERA_WEBHOOKS_RETRY_FIRST_MS", "300"),
    ("VOICERA_WEBHOOKS_RETRY_MAX_MS", "1000"),
    ("VOICERA_WEBHOOKS_TIMEOUT_MS", "1500"),
    ("VOICERA_WEBHOOKS_POLL_MS", "200"),
];

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// What it answered: a status, or None when it kept silent past the sender's timeout.
    answered: Option<u16>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str).unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A webhook receiver on loopback. Per delivery id: attempt 1 → 500, attempt 2 → silence for 4 s (the
/// sender times out), attempt 3 and later → 200; a `webhook.test` event → 410 Gone.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::<Received>::new()));
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { addr, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests of one delivery, in order.
    fn attempts(&self, delivery: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.header("voicera-delivery") == delivery).collect()
    }

    /// The deliveries answered 200, by delivery id.
    fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.answered == Some(200)).collect()
    }

    fn wait_for(&self, what: &str, timeout: Duration, server: &Server, check: impl Fn(&Receiver) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; received: {:#?}\nlog:\n{}", self.received(), server.log());
    }
}

fn serve(mut stream: TcpStream, received: &Mutex<Vec<Received>>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while data.len() < head_end + length {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = data[head_end..].to_vec();
    let delivery = headers.get("voicera-delivery").cloned().unwrap_or_default();
    let earlier = received.lock().unwrap().iter().filter(|r| r.header("voicera-delivery") == delivery).count();
    let test_event = headers.get("voicera-event").is_some_and(|e| e == "webhook.test");
    let answered = match earlier {
        _ if test_event => Some(410),
        0 => Some(500),
        1 => None,
        _ => Some(200),
    };
    received.lock().unwrap().push(Received { headers, body, answered });
    match answered {
        Some(status) => {
            let reason = match status {
                200 => "OK",
                410 => "Gone",
                _ => "Internal Server Error",
            };
            let text = format!("receiver says {status}");
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        // Silent past the sender's 1.5 s timeout, then gone.
        None => std::thread::sleep(Duration::from_secs(4)),
    }
}

/// One JSON request; (status, body as JSON or Null, raw body bytes).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let raw = response[split..].to_vec();
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null), raw)
}

fn login(http: SocketAddr) -> String {
    let body = json!({"email": OWNER[0].1, "password": OWNER[1].1});
    let (status, session, _) = request(http, "POST", "/api/v1/users/login", None, Some(body));
    assert_eq!(status, 200, "{session}");
    session["access_token"].as_str().expect("an access token").to_string()
}

#[test]
fn call_events_are_signed_retried_logged_and_delivered_once() {
    let env: Vec<(&str, &str)> = OWNER.iter().chain(WEBHOOK_ENV.iter()).copied().collect();
    let server = Server::start_env("webhooks", RECORDING, false, &env);
    let token = login(server.http);
    let receiver = Receiver::start();
    let hook_url = format!("http://{}/hook", receiver.addr);

    // Only https, or http to loopback when the node allows it; the error names the field.
    let (status, error, _) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        Some(&token),
        Some(json!({"url": "http://203.0.113.9/hook", "events": ["call.*"]})),
    );
    assert_eq!((status, error["field"].clone()), (422, json!("url")), "{error}");
    let (status, error, _) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        Some(&token),
        Some(json!({"url": hook_url, "events": ["call.answered"]})),
    );
    assert_eq!((status, error["field"].clone()), (422, json!("events")), "{error}");
    let (status, created, _) = request(
        server.http,
        "POST",
        "/api/v1/webhooks",
        Some(&token),
        Some(json!({"url": hook_url, "events": ["call.started", "call.ended"], "description": "CRM"})),
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("the secret, shown once").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = created["id"].as_str().unwrap().to_string();
    let (status, shown, _) = request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}"), Some(&token), None);
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
    receiver.wait_for("call.started and call.ended accepted", Duration::from_secs(60), &server, |r| {
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
    let (status, _, audio) = request(server.http, "GET", path, None, None);
    assert_eq!(status, 200, "{link}");
    assert!(audio.starts_with(b"RIFF") || audio.starts_with(b"OggS"), "audio: {:?}", &audio[..audio.len().min(16)]);
    let tampered = path.replace("expires=", "expires=9");
    assert_eq!(request(server.http, "GET", &tampered, None, None).0, 403);

    // The delivery log: both deliveries, each attempt with its status, latency and the answer's start.
    let (status, log, _) =
        request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}/deliveries"), Some(&token), None);
    assert_eq!((status, log["total"].clone()), (200, json!(2)), "{log}");
    let ended_id =
        accepted.iter().find(|r| r.header("voicera-event") == "call.ended").unwrap().header("voicera-delivery");
    let detail_path = format!("/api/v1/webhooks/{endpoint}/deliveries/{ended_id}");
    let (status, detail, _) = request(server.http, "GET", &detail_path, Some(&token), None);
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["status"], json!("delivered"), "{detail}");
    let attempts = detail["attempts"].as_array().expect("attempts");
    let statuses: Vec<Value> = attempts.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, [json!(500), Value::Null, json!(200)], "{detail}");
    assert_eq!(attempts[0]["response"], json!("receiver says 500"));
    assert!(attempts[1]["error"].as_str().is_some_and(|e| !e.is_empty()), "the timeout is explained: {detail}");
    assert!(attempts[1]["latency_ms"].as_u64().is_some_and(|ms| ms >= 1_000), "{detail}");

    // A replay: the same event and bytes under a new delivery id, retried like any delivery.
    let (status, replayed, _) = request(server.http, "POST", &format!("{detail_path}/replay"), Some(&token), None);
    assert_eq!(status, 200, "{replayed}");
    let replay_id = replayed["delivery_id"].as_str().unwrap().to_string();
    assert_ne!(replay_id, ended_id);
    receiver.wait_for("the replay accepted", Duration::from_secs(30), &server, |r| r.accepted().len() >= 3);
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

    // A test event answered 410 Gone disables the endpoint; the audit log has the writes.
    let (status, test, _) =
        request(server.http, "POST", &format!("/api/v1/webhooks/{endpoint}/test"), Some(&token), None);
    assert_eq!(status, 200, "{test}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, shown, _) = request(server.http, "GET", &format!("/api/v1/webhooks/{endpoint}"), Some(&token), None);
        if shown["enabled"] == json!(false) {
            assert!(shown["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{shown}");
            break;
        }
        assert!(Instant::now() < deadline, "the endpoint was not disabled: {shown}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, audit, _) = request(server.http, "GET", "/api/v1/audit", Some(&token), None);
    let operations: Vec<&str> =
        audit["items"].as_array().unwrap().iter().filter_map(|i| i["operation"].as_str()).collect();
    for operation in ["create_webhook", "replay_webhook_delivery", "test_webhook"] {
        assert!(operations.contains(&operation), "{operation} in {operations:?}");
    }
}
