//! The control-plane API as the tests use it: raw HTTP/1.1 requests on loopback, the owner's sign-in, waiting
//! for an agent created through the API to route, a call whose record the test reads, and a campaign run to
//! its end.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{assert_sipp_ok, sipp, Server};

/// The owner the tests' servers are started with (`Server::start_env(.., &OWNER)`).
pub(crate) const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass")];

/// One HTTP request with a bearer `token` ("" for none); the status, the body as JSON (Null when it is not
/// JSON) and the raw body. Writes wait for the node's routing to follow them (model loads included), hence
/// the long read timeout.
pub(crate) fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A refused upload may be answered before the whole body is read.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let raw = response[split..].to_vec();
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null), raw)
}

/// One JSON request with a bearer `token` ("" for none); the status and the body as JSON (Null when not JSON).
pub(crate) fn request(addr: SocketAddr, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, answer, _) = send(addr, method, path, token, "application/json", body.as_bytes());
    (status, answer)
}

/// A signed-in user's session.
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) org_id: String,
}

/// Signs in (`POST /users/login`), asserting it succeeds.
pub(crate) fn login(addr: SocketAddr, email: &str, password: &str) -> Session {
    let (status, session) =
        request(addr, "POST", "/api/v1/users/login", "", Some(json!({"email": email, "password": password})));
    assert_eq!(status, 200, "{session}");
    let text = |key: &str| session[key].as_str().unwrap_or_else(|| panic!("no {key} in {session}")).to_string();
    Session { token: text("access_token"), org_id: text("org_id") }
}

/// Signs the [`OWNER`] in; the access token.
pub(crate) fn owner_token(addr: SocketAddr) -> String {
    login(addr, OWNER[0].1, OWNER[1].1).token
}

/// Waits until the node's routing has agent `id` ready (the first agent on local models loads them: seconds,
/// or longer on a machine whose model cache is cold); fails at once when its status says `failed`.
pub(crate) fn wait_agent_ready(server: &Server, id: &str) {
    wait_agent_ready_as(server, OWNER, id);
}

/// [`wait_agent_ready`] on a server started with another `owner` (its `VOICERA_ADMIN_*` pair).
pub(crate) fn wait_agent_ready_as(server: &Server, owner: [(&str, &str); 2], id: &str) {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", owner[0].1, owner[1].1));
    let auth = [("Authorization", format!("Basic {basic}"))];
    server.wait_for(&format!("agent {id} ready"), Duration::from_secs(300), |s| {
        let (status, body) = super::provider::http(s.http, "GET", "/browser/agents", &auth, "");
        assert_eq!(status, 200, "{body}");
        let listing: Value = serde_json::from_str(&body).unwrap();
        let status = listing.as_array().unwrap().iter().find(|a| a["id"] == id).map(|a| a["status"].clone());
        assert!(!status.as_ref().and_then(Value::as_str).is_some_and(|s| s.starts_with("failed")), "{listing}");
        status.as_ref().and_then(Value::as_str) == Some("ready")
    });
}

/// Calls `user` with sipp (on the line until the agent's BYE); returns the call's record.
pub(crate) fn call_record(server: &Server, user: &str) -> Value {
    let id = |r: &Value| r["record_id"].as_str().unwrap_or_default().to_string();
    let before: Vec<String> = server.call_records().iter().map(id).collect();
    let out = sipp(server, "wait_for_bye.xml", &["-s", user, "-m", "1"]);
    assert_sipp_ok(server, &out, &format!("a call to {user}"));
    let new = || server.call_records().into_iter().find(|r| !before.contains(&id(r)));
    server.wait_for("the call record", Duration::from_secs(10), |_| new().is_some());
    new().expect("a call record")
}

/// Uploads `csv` (a contact list) as batch `name` for agent `agent` and stores its `campaign` settings, both
/// asserted to succeed; the batch id.
pub(crate) fn upload_campaign(
    server: &Server,
    token: &str,
    agent: &str,
    name: &str,
    csv: &str,
    campaign: Value,
) -> String {
    let path = format!("/api/v1/batches/upload?batch_name={name}&agent_type={agent}&default_country=US");
    let (status, uploaded, _) = send(server.http, "POST", &path, token, "text/csv", csv.as_bytes());
    assert_eq!(status, 201, "{uploaded}");
    let batch = uploaded["batch_id"].as_str().expect("a batch id").to_string();
    let (status, answer) = request(server.http, "PUT", &format!("/api/v1/campaigns/{batch}"), token, Some(campaign));
    assert_eq!(status, 200, "{answer}");
    batch
}

/// Runs `batch` and waits, `within` at most, for it to complete; the batch's view and its contacts.
pub(crate) fn run_batch(server: &Server, token: &str, batch: &str, within: Duration) -> (Value, Vec<Value>) {
    let (status, answer) =
        request(server.http, "POST", &format!("/api/v1/batches/{batch}/run"), token, Some(json!({})));
    assert_eq!(status, 200, "{answer}");
    let view = wait_batch_completed(server, token, batch, within);
    (view, batch_contacts(server.http, token, batch))
}

/// Polls `batch` on `server` until it is completed, `within` at most (the failure shows the server's log);
/// its view.
pub(crate) fn wait_batch_completed(server: &Server, token: &str, batch: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, view) = request(server.http, "GET", &format!("/api/v1/batches/{batch}"), token, None);
        assert_eq!(status, 200, "{view}");
        if view["execution_status"] == "completed" {
            return view;
        }
        assert!(Instant::now() < deadline, "the campaign never completed: {view}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The contacts of `batch` (all of them: up to the page limit of 1000).
pub(crate) fn batch_contacts(addr: SocketAddr, token: &str, batch: &str) -> Vec<Value> {
    let (status, page) = request(addr, "GET", &format!("/api/v1/batches/{batch}/contacts?limit=1000"), token, None);
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("a page of contacts").clone()
}
