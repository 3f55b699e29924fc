//! Call records in the store, end to end: a SIP call (sipp to the `bench` agent, records on) is in the
//! history API with its duration and transcript; with the node on SecantusDB (MongoDB wire) killed before
//! the call ends, the call still completes, its record waits in the spool while `/health` says the store is
//! `degraded`, and arrives exactly once when SecantusDB is back on the same data; a node killed mid-call
//! closes the call it left in progress when it starts again.
//!
//! With a webhook receiver (checking every signature) and restarts while SecantusDB is down: a call the
//! store missed entirely gets exactly one `call.ended`, its real one, after the restart; an orphan found
//! while the store is down is closed once the store is back, and its `call.ended` goes out once, also across
//! a second restart. A node that starts with the store away logs its calls in the owner's org once the store
//! names it.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{owner_token, request, OWNER};
use common::hooks::{signature_ok, Receiver};
use common::restarted::Restarted;
use common::{assert_sipp_ok, free_port, http_get, repo_path, require_tool, sipp, Server};
use serde_json::{json, Value};

/// The bench agent keeps records (it does not by default: it measures the server).
const RECORDING: &str = "[bench]\nrecord = true\n";

/// The owner's call history (`GET /api/v1/meetings`), or None while it cannot be read.
fn meetings(http: SocketAddr, token: &str) -> Option<Value> {
    match request(http, "GET", "/api/v1/meetings?limit=50", token, None) {
        (200, page) => Some(page),
        _ => None,
    }
}

/// Polls until `check` finds what it wants in the history; panics with the last page and the log.
fn wait_for_meeting(
    server_log: impl Fn() -> String,
    http: SocketAddr,
    token: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Some(page) = meetings(http, token) {
            if check(&page) {
                return page;
            }
            last = page;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}; last page: {last}\nlog:\n{}", server_log());
}

fn health(http: SocketAddr) -> (u16, Value) {
    let (code, body) = http_get(http, "/health").expect("health answered");
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A sipp call of about `pause_ms` to `service`, running in the background (killed on drop).
struct BackgroundCall {
    child: Child,
    dir: PathBuf,
}

impl BackgroundCall {
    fn start(dir: &Path, sip: SocketAddr, service: &str, pause_ms: u64) -> BackgroundCall {
        require_tool("sipp");
        let template = std::fs::read_to_string(repo_path("tests/sipp/call_for.xml")).unwrap();
        let dir = dir.join(format!("sipp-call-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("call.xml");
        std::fs::write(&scenario, template.replace("@PAUSE_MS@", &pause_ms.to_string())).unwrap();
        let child = Command::new("timeout")
            .arg("120")
            .arg("sipp")
            .arg(sip.to_string())
            .args(["-sf", &scenario.to_string_lossy(), "-s", service, "-m", "1"])
            .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
            .args(["-timeout", "60", "-nostdin", "-trace_err"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run sipp");
        BackgroundCall { child, dir }
    }

    /// Waits for sipp to end; its exit code.
    fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    fn errors(&self) -> String {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|f| f.path().to_string_lossy().ends_with("_errors.log"))
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .collect()
    }
}

impl Drop for BackgroundCall {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one call of a history page.
fn only_call(page: &Value) -> &Value {
    assert_eq!(page["total"], 1, "exactly one call: {page}");
    &page["items"][0]
}

fn status_is(page: &Value, status: &str) -> bool {
    page["items"].as_array().is_some_and(|items| items.iter().any(|c| c["status"] == status))
}

/// Calls the bench agent with sipp (about 2.5 s) and waits for the history to have the call completed.
fn completed_bench_call(server: &Server, token: &str) -> Value {
    let out = sipp(server, "basic_call.xml", &["-s", "bench", "-m", "1"]);
    assert_sipp_ok(server, &out, "bench call");
    let completed = |p: &Value| status_is(p, "completed");
    wait_for_meeting(|| server.log(), server.http, token, "the completed call", Duration::from_secs(20), completed)
}

#[test]
fn a_sip_call_is_in_the_history_with_its_duration_and_transcript() {
    let server = Server::start_env("records-sip", RECORDING, false, &OWNER);
    let token = owner_token(server.http);
    let page = completed_bench_call(&server, &token);
    let call = only_call(&page);
    assert_eq!(call["agent_id"], "bench", "{call}");
    assert_eq!(call["transport"], "sip", "{call}");
    assert_eq!(call["inbound"], true);
    assert_eq!(call["to_number"], "bench");
    assert!(call["meeting_id"].as_str().is_some_and(|id| id.starts_with("rec-")), "{call}");
    assert!(call["node_id"].as_str().is_some_and(|id| !id.is_empty()), "{call}");
    assert!(call["end_reason"].as_str().is_some_and(|r| !r.is_empty()), "{call}");
    let duration = call["duration"].as_f64().expect("a duration");
    assert!((2.0..=10.0).contains(&duration), "the call lasted about 2.5 s: {call}");
    assert!(call["start_time_utc"].as_str().is_some_and(|t| t.ends_with('Z')), "{call}");
    assert!(call["end_time_utc"].as_str() >= call["start_time_utc"].as_str(), "{call}");
    // The transcript: the original's lines, parsed by the API; the greeting is the agent's first line.
    let content = call["transcript_content"].as_str().expect("transcript content");
    assert!(content.starts_with('[') && content.contains("] assistant: "), "{content}");
    // The detail parses it into turns; the greeting is the agent's.
    let path = format!("/api/v1/meetings/{}", call["meeting_id"].as_str().unwrap_or_default());
    let (status, detail) = request(server.http, "GET", &path, &token, None);
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["transcript"][0]["role"], "agent", "{detail}");
    // The transcript is an object of the (filesystem) blob store's `transcripts` bucket, where `transcript_url`
    // points; the recording is the same call's object in `recordings`.
    let url = call["transcript_url"].as_str().expect("a transcript url");
    let key = url.strip_prefix("fs://transcripts/").unwrap_or_else(|| panic!("a transcripts object: {url}"));
    let blobs = server.dir.join("data/blobs");
    let file = std::fs::read_to_string(blobs.join("transcripts").join(key)).expect("the transcript object");
    assert_eq!(file, content);
    assert!(blobs.join("recordings").join(key.replace(".txt", ".wav")).exists(), "the recording object");
    assert!(call["recording_url"].as_str().is_some_and(|u| u.contains("/recording")), "{call}");
    // Nothing waited in the spool.
    assert_eq!(server.metric("voicera_spool_items"), 0.0);
    assert!(server.metric("voicera_store_writes_total") >= 2.0, "the start and the end");
    let (code, health) = health(server.http);
    assert_eq!((code, &health["checks"]["store"]), (200, &json!("up")), "{health}");
}

#[test]
fn a_call_whose_agent_keeps_no_records_still_has_its_log() {
    // The bench agent as shipped: no transcript, no recording.
    let server = Server::start_env("records-off", "", false, &OWNER);
    let token = owner_token(server.http);
    let page = completed_bench_call(&server, &token);
    let call = only_call(&page);
    assert_eq!((&call["agent_id"], &call["inbound"]), (&json!("bench"), &json!(true)), "{call}");
    assert!(call["duration"].as_f64().is_some_and(|d| (2.0..=10.0).contains(&d)), "{call}");
    // What was said stays out of it: no transcript, no recording, no files.
    assert_eq!(call["transcript_content"], Value::Null, "{call}");
    assert_eq!(call["transcript_url"], Value::Null, "{call}");
    assert_eq!(call["recording_url"], Value::Null, "{call}");
    assert!(server.call_records().is_empty(), "no record file");
    assert!(!server.dir.join("data/blobs/transcripts").read_dir().is_ok_and(|mut d| d.next().is_some()));
}

/// SecantusDB on a fixed port and data directory, so that it can be killed and started again on the same
/// data; killed on drop.
struct Secantus {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
}

impl Secantus {
    fn start(port: u16, data: &Path) -> Secantus {
        let program = repo_path(".venv/bin/secantusd-py");
        assert!(program.exists(), "{} missing: run scripts/setup.sh", program.display());
        let child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--storage-path"])
            .arg(data)
            .args(["--log-level", "WARNING", "--sync-on-commit"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start SecantusDB");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "SecantusDB did not listen on {addr} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Secantus { child: Some(child), port, data: data.to_path_buf() }
    }

    fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/voicera_rs?directConnection=true&serverSelectionTimeoutMS=1000", self.port)
    }

    fn kill(&mut self) {
        common::stop(&mut self.child);
    }

    fn restart(&mut self) {
        self.kill();
        *self = Secantus::start(self.port, &self.data.clone());
    }
}

impl Drop for Secantus {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn a_call_ending_while_the_store_is_down_is_spooled_and_delivered_once_it_is_back() {
    let dir = common::test_dir("records-secantus");
    let mut mongo = Secantus::start(free_port(), &dir.join("secantus"));
    let uri = mongo.uri();
    let env = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str())];
    let server = Server::start_env("records-spool", RECORDING, false, &env);
    let token = owner_token(server.http);

    let mut call = BackgroundCall::start(&server.dir, server.sip, "bench", 6000);
    wait_for_meeting(
        || server.log(),
        server.http,
        &token,
        "the call in progress",
        Duration::from_secs(20),
        |p| status_is(p, "in-progress"),
    );
    mongo.kill();

    // The call carries on and ends normally; its record waits in the spool.
    assert_eq!(call.wait(Duration::from_secs(60)), Some(0), "sipp: {}\nlog:\n{}", call.errors(), server.log());
    // Its end (and its call.ended behind it) in the spool's files.
    let spooled_end = |s: &Server| {
        std::fs::read_dir(s.dir.join("data/spool"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|e| e == "item"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .find(|item| item.contains("\"call_finished\""))
    };
    server.wait_for("the record in the spool", Duration::from_secs(30), |s| spooled_end(s).is_some());
    let record = spooled_end(&server).unwrap();
    assert!(record.contains("\"completed\""), "{record}");
    assert!(server.metric("voicera_spool_items") >= 1.0);
    assert!(server.metric("voicera_store_write_failures_total") >= 1.0);
    assert!(server.metric("voicera_spool_bytes") > 0.0);
    let (code, body) = health(server.http);
    assert_eq!(code, 200, "calls still work: {body}");
    assert_eq!(body["checks"]["store"], "degraded", "{body}");
    assert_eq!(body["status"], "degraded", "{body}");

    // SecantusDB again, on the same data: the spool drains and the call is there once, completed.
    mongo.restart();
    server.wait_for("the spool to drain", Duration::from_secs(60), |s| s.metric("voicera_spool_items") == 0.0);
    let page = wait_for_meeting(
        || server.log(),
        server.http,
        &token,
        "the completed call",
        Duration::from_secs(30),
        |p| status_is(p, "completed"),
    );
    let call = only_call(&page);
    assert!(call["duration"].as_f64().is_some_and(|d| d >= 5.0), "{call}");
    assert!(call["transcript_content"].as_str().is_some_and(|t| t.contains("assistant: ")), "{call}");
    assert_ne!(call["end_reason"], "node_restarted");
    server.wait_for("the store up again", Duration::from_secs(30), |s| health(s.http).1["checks"]["store"] == "up");
}

#[test]
fn a_node_killed_mid_call_closes_the_call_when_it_starts_again() {
    let mut server = Server::start_env("records-orphan", RECORDING, false, &OWNER);
    let token = owner_token(server.http);
    let call = BackgroundCall::start(&server.dir, server.sip, "bench", 30_000);
    let page = wait_for_meeting(
        || server.log(),
        server.http,
        &token,
        "the call in progress",
        Duration::from_secs(20),
        |p| status_is(p, "in-progress"),
    );
    let id = only_call(&page)["meeting_id"].clone();
    let node = only_call(&page)["node_id"].clone();
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));
    assert!(http_get(server.http, "/health").is_none(), "the node is gone");
    drop(call);

    let restarted = Restarted::start(&server.dir, &OWNER);
    let token = owner_token(restarted.http);
    let page = wait_for_meeting(
        || restarted.log(),
        restarted.http,
        &token,
        "the orphan closed",
        Duration::from_secs(20),
        |p| status_is(p, "completed"),
    );
    let call = only_call(&page);
    assert_eq!(call["meeting_id"], id);
    assert_eq!(call["node_id"], node, "the same node id across the restart");
    assert_eq!(call["end_reason"], "node_restarted", "{call}");
    assert!(call["end_time_utc"].as_str().is_some_and(|t| t.ends_with('Z')), "{call}");
    assert!(restarted.log().contains("closing calls left in progress"), "{}", restarted.log());
}

/// Records on, `call.*` webhooks to plain http on loopback, polled often (retries are not under test here).
const WEBHOOKS: &str = "[bench]\nrecord = true\n\n[webhooks]\nallow_http_loopback = true\npoll_ms = 200\n";

/// Registers a `call.*` endpoint at `receiver` in the owner's org; its id and secret.
fn register_endpoint(http: SocketAddr, token: &str, receiver: &Receiver) -> (String, String) {
    let url = format!("http://{}/hook", receiver.addr);
    let (status, created) =
        request(http, "POST", "/api/v1/webhooks", token, Some(json!({"url": url, "events": ["call.*"]})));
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string())
}

/// Waits until everything the node owes is out: the sweep for orphans has run (its log line, printed before
/// its closings are delivered), the spool is empty, the log holds the one `call.ended` each test owes (so a
/// closing still on its way is waited for), and every delivery in the endpoint's log is delivered and was accepted by the receiver. Then what
/// the receiver holds is all it will get. The delivery log's items.
fn wait_until_settled(node: &Restarted, token: &str, endpoint: &str, receiver: &Receiver) -> Vec<Value> {
    node.wait_for("the sweep for orphans", Duration::from_secs(60), |n| {
        n.log().contains("looked for calls left in progress by earlier runs")
    });
    node.wait_for("the spool to drain", Duration::from_secs(60), |n| n.metric("voicera_spool_items") == 0.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let (status, log) =
            request(node.http, "GET", &format!("/api/v1/webhooks/{endpoint}/deliveries?limit=100"), token, None);
        if status == 200 {
            let items = log["items"].as_array().cloned().unwrap_or_default();
            let all_delivered =
                items.iter().all(|d| d["status"] == "delivered") && items.iter().any(|d| d["event"] == "call.ended");
            let received: Vec<String> = receiver.accepted().iter().map(|d| d.delivery_id().to_string()).collect();
            if all_delivered
                && items.iter().all(|d| d["id"].as_str().is_some_and(|id| received.iter().any(|r| r == id)))
            {
                return items;
            }
            last = log;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("deliveries never settled; log: {last}\nreceived: {:#?}\nnode log:\n{}", receiver.received(), node.log());
}

/// The `call.ended` bodies the receiver accepted, each signature checked.
fn call_ended_received(receiver: &Receiver, secret: &str) -> Vec<Value> {
    receiver
        .accepted()
        .iter()
        .filter(|d| d.event() == "call.ended")
        .map(|d| {
            assert!(signature_ok(secret, d.signature(), &d.body), "signed with the endpoint's secret: {d:?}");
            d.json()
        })
        .collect()
}

/// The owner's token once the node reaches the store again (its client reconnects within a second or so).
fn owner_token_when_the_store_answers(http: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, session) = request(
            http,
            "POST",
            "/api/v1/users/login",
            "",
            Some(json!({"email": OWNER[0].1, "password": OWNER[1].1})),
        );
        if status == 200 {
            return session["access_token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no login within 30 s of the store's return: {status} {session}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The node's environment on a restart: the store and the owner account (made, or found, once a store that is
/// down answers: the node starts without it).
fn restart_env(uri: &str) -> [(&str, &str); 3] {
    [("VOICERA_MONGODB_URI", uri), OWNER[0], OWNER[1]]
}

#[test]
fn a_call_the_store_missed_gets_its_real_call_ended_once_after_a_restart() {
    let dir = common::test_dir("records-missed-call-db");
    let mut mongo = Secantus::start(free_port(), &dir.join("secantus"));
    let uri = mongo.uri();
    let env = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str())];
    let mut server = Server::start_env("records-missed-call", WEBHOOKS, false, &env);
    let token = owner_token(server.http);
    let receiver = Receiver::accepting();
    let (endpoint, secret) = register_endpoint(server.http, &token, &receiver);

    // The store is down for the whole call: its start, end and events all wait in the spool.
    mongo.kill();
    let mut call = BackgroundCall::start(&server.dir, server.sip, "bench", 3000);
    assert_eq!(call.wait(Duration::from_secs(60)), Some(0), "sipp: {}\nlog:\n{}", call.errors(), server.log());
    // The call's start (with call.started) and its end (with call.started and call.ended).
    server.wait_for("the call's writes in the spool", Duration::from_secs(30), |s| {
        s.metric("voicera_spool_items") >= 2.0
    });
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));

    // The node comes back while the store is still down, then the store does.
    let restarted = Restarted::start(&server.dir, &restart_env(&uri));
    assert!(restarted.log().contains("looking again in the background"), "{}", restarted.log());
    mongo.restart();
    let token = owner_token_when_the_store_answers(restarted.http);
    let deliveries = wait_until_settled(&restarted, &token, &endpoint, &receiver);

    let ended = call_ended_received(&receiver, &secret);
    assert_eq!(ended.len(), 1, "one call.ended: {ended:#?}\n{}", restarted.log());
    let data = &ended[0]["data"];
    let reason = data["end_reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty() && reason != "node_restarted", "the call's real end: {data}");
    assert!(data["duration_secs"].as_u64().is_some_and(|d| d >= 2), "{data}");
    let mut events: Vec<&str> = deliveries.iter().filter_map(|d| d["event"].as_str()).collect();
    events.sort_unstable();
    assert_eq!(events, ["call.ended", "call.started"], "{deliveries:#?}");

    let page = wait_for_meeting(
        || restarted.log(),
        restarted.http,
        &token,
        "the completed call",
        Duration::from_secs(30),
        |p| status_is(p, "completed"),
    );
    let log = only_call(&page);
    assert_eq!(log["meeting_id"], data["call_id"], "{log}");
    assert_eq!(log["end_reason"], data["end_reason"], "{log}");
    assert!(log["transcript_content"].as_str().is_some_and(|t| t.contains("assistant: ")), "{log}");
    assert!(!restarted.log().contains("closing calls left in progress"), "{}", restarted.log());
}

#[test]
fn an_orphan_found_while_the_store_is_down_is_closed_when_it_is_back_and_its_call_ended_sent_once() {
    let dir = common::test_dir("records-orphan-store-down-db");
    let mut mongo = Secantus::start(free_port(), &dir.join("secantus"));
    let uri = mongo.uri();
    let env = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str())];
    let mut server = Server::start_env("records-orphan-store-down", WEBHOOKS, false, &env);
    let token = owner_token(server.http);
    let receiver = Receiver::accepting();
    let (endpoint, secret) = register_endpoint(server.http, &token, &receiver);

    let call = BackgroundCall::start(&server.dir, server.sip, "bench", 30_000);
    let page = wait_for_meeting(
        || server.log(),
        server.http,
        &token,
        "the call in progress",
        Duration::from_secs(20),
        |p| status_is(p, "in-progress"),
    );
    let id = only_call(&page)["meeting_id"].clone();
    // Its call.started is out before the kill (a delivery the dead node held would wait out its lease).
    let started = || receiver.accepted().iter().any(|d| d.event() == "call.started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started() {
        assert!(
            Instant::now() < deadline,
            "no call.started: {:#?}
{}",
            receiver.received(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));
    drop(call);

    // The store goes down too; the node starts without it and takes calls, and looks for its orphans again
    // until the store answers.
    mongo.kill();
    let restarted = Restarted::start(&server.dir, &restart_env(&uri));
    assert!(restarted.log().contains("looking again in the background"), "{}", restarted.log());
    // Ready to take calls meanwhile, the store degraded from the start (never `ok` while it is down).
    restarted.wait_for("the store degraded, the node ready", Duration::from_secs(30), |r| {
        let (code, health) = health(r.http);
        assert_ne!(health["checks"]["store"], "ok", "{health}");
        code == 200 && health["checks"]["store"] == "degraded"
    });
    mongo.restart();
    let token = owner_token_when_the_store_answers(restarted.http);
    wait_until_settled(&restarted, &token, &endpoint, &receiver);
    let ended = call_ended_received(&receiver, &secret);
    assert_eq!(ended.len(), 1, "one call.ended: {ended:#?}\n{}", restarted.log());
    assert_eq!(ended[0]["data"]["call_id"], id);
    assert_eq!(ended[0]["data"]["end_reason"], "node_restarted", "{:#}", ended[0]);
    let page = meetings(restarted.http, &token).expect("the history");
    let log = only_call(&page);
    assert_eq!((log["status"].clone(), log["end_reason"].clone()), (json!("completed"), json!("node_restarted")));

    // Another restart, the store up: nothing is left open and nothing more is sent.
    drop(restarted);
    let again = Restarted::start(&server.dir, &restart_env(&uri));
    let token = owner_token(again.http);
    let deliveries = wait_until_settled(&again, &token, &endpoint, &receiver);
    assert!(again.log().contains("looked for calls left in progress by earlier runs closed=0"), "{}", again.log());
    assert_eq!(call_ended_received(&receiver, &secret).len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries.iter().filter(|d| d["event"] == "call.ended").count(), 1, "{deliveries:#?}");
}

/// A node that starts with the store away cannot look up its owner's org: a call to a built-in agent then waits
/// in the spool, marked pending, and is logged in the owner's org once the store answers (not in the `default`
/// stand-in), its `call.*` webhooks going to the owner's endpoint with a recording link signed for that org;
/// the next call goes there at once.
#[test]
fn a_node_started_with_the_store_away_logs_its_calls_in_the_owners_org_once_the_store_answers() {
    let dir = common::test_dir("records-org-later-db");
    let mut mongo = Secantus::start(free_port(), &dir.join("secantus"));
    let uri = mongo.uri();
    let env = [OWNER[0], OWNER[1], ("VOICERA_MONGODB_URI", uri.as_str())];
    let mut server = Server::start_env("records-org-later", WEBHOOKS, false, &env);
    let owner = common::api::login(server.http, OWNER[0].1, OWNER[1].1);
    let receiver = Receiver::accepting();
    let (endpoint, secret) = register_endpoint(server.http, &owner.token, &receiver);
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));

    mongo.kill();
    let restarted = Restarted::start(&server.dir, &restart_env(&uri));
    assert!(restarted.log().contains("go to the owner's org once"), "{}", restarted.log());
    let mut call = BackgroundCall::start(&server.dir, restarted.sip, "bench", 2000);
    assert_eq!(call.wait(Duration::from_secs(60)), Some(0), "sipp: {}\nlog:\n{}", call.errors(), restarted.log());
    restarted.wait_for("the call's start and end in the spool", Duration::from_secs(30), |r| {
        r.metric("voicera_spool_items") >= 2.0
    });
    let spooled: Vec<String> = std::fs::read_dir(server.dir.join("data/spool"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "item"))
        .filter_map(|f| std::fs::read_to_string(f.path()).ok())
        .collect();
    assert!(
        spooled.iter().any(|item| item.contains("\"call_finished\"") && item.contains("\"org_pending\":true")),
        "the end waits for the owner's org: {spooled:#?}"
    );

    mongo.restart();
    let token = owner_token_when_the_store_answers(restarted.http);
    wait_until_settled(&restarted, &token, &endpoint, &receiver);
    let page = wait_for_meeting(
        || restarted.log(),
        restarted.http,
        &token,
        "the call in the owner's history",
        Duration::from_secs(30),
        |p| status_is(p, "completed"),
    );
    let log = only_call(&page);
    let ended = call_ended_received(&receiver, &secret);
    assert_eq!(ended.len(), 1, "one call.ended, to the owner's endpoint: {ended:#?}\n{}", restarted.log());
    let data = &ended[0]["data"];
    assert_eq!(data["call_id"], log["meeting_id"], "{data}");
    let link = data["recording_url"].as_str().unwrap_or_else(|| panic!("a recording link: {data}"));
    assert!(link.contains(&format!("org_id={}", owner.org_id)), "signed for the owner's org: {link}");
    let path = &link[link.find("/api/v1/").unwrap_or_else(|| panic!("{link}"))..];
    let (status, _, audio) = common::api::send(restarted.http, "GET", path, "", "text/plain", b"");
    assert_eq!(status, 200, "the link plays: {link}");
    assert!(audio.starts_with(b"RIFF"), "the call's WAV recording: {link}");

    // The store up, the org known: the next call is the owner's from its start.
    let mut call = BackgroundCall::start(&server.dir, restarted.sip, "bench", 2000);
    assert_eq!(call.wait(Duration::from_secs(60)), Some(0), "sipp: {}\nlog:\n{}", call.errors(), restarted.log());
    wait_for_meeting(
        || restarted.log(),
        restarted.http,
        &token,
        "both calls in the owner's history",
        Duration::from_secs(30),
        |p| {
            p["total"] == 2
                && p["items"].as_array().is_some_and(|items| items.iter().all(|c| c["status"] == "completed"))
        },
    );
    assert_eq!(restarted.metric("voicera_spool_items"), 0.0, "nothing waits");
}
