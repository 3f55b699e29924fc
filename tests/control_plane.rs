//! The control-plane API served by the binary: the owner from `VOICERA_ADMIN_EMAIL`/`VOICERA_ADMIN_PASSWORD`
//! exists from the first start and logs in; its token reads `users/me` and creates an agent that the same
//! compile step as `[[agents]]` checked (a wrong field is a 422 naming it); strangers get 401; the OpenAPI
//! document is served. (The API's own suite, on SQLite and MongoDB, is `api/tests/control_plane.rs`.)

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::Server;
use serde_json::{json, Value};

const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass")];

/// One JSON request; returns (status, body as JSON or Null).
fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn the_owner_logs_in_and_manages_agents_over_the_served_api() {
    let server = Server::start_env("control-plane", "", false, &OWNER);
    let (status, _) = request(server.http, "GET", "/api/v1/users/me", None, None);
    assert_eq!(status, 401, "a stranger is nobody");
    let (status, _) = request(server.http, "GET", "/api/v1/agents/org/any", None, None);
    assert_eq!(status, 401, "a stranger reads no agents");
    let (status, document) = request(server.http, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{document}");

    let login = json!({"email": OWNER[0].1, "password": OWNER[1].1});
    let (status, session) = request(server.http, "POST", "/api/v1/users/login", None, Some(login));
    assert_eq!(status, 200, "{session}");
    let token = session["access_token"].as_str().expect("an access token").to_string();
    let (status, me) = request(server.http, "GET", "/api/v1/users/me", Some(&token), None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER[0].1);
    assert_eq!(me["is_owner"], true);
    let wrong = json!({"email": OWNER[0].1, "password": "not-the-password"});
    assert_eq!(request(server.http, "POST", "/api/v1/users/login", None, Some(wrong)).0, 401);

    // An agent whose config the `[[agents]]` compile step refuses: 422 naming the field.
    let org = me["org_id"].as_str().unwrap().to_string();
    let bad = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help.", "greeting_message": "Hi.", "llm_model": {"name": "no-such-model"}}});
    let (status, error) = request(server.http, "POST", "/api/v1/agents", Some(&token), Some(bad));
    assert_eq!(status, 422, "{error}");
    assert!(error["field"].as_str().is_some_and(|f| f.contains("llm_model")), "{error}");
    let good = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help callers of Acme.", "greeting_message": "Hello, Acme here.",
        "llm_model": {"name": "smollm2-135m"}, "language": "en"}});
    let (status, created) = request(server.http, "POST", "/api/v1/agents", Some(&token), Some(good));
    assert!(status == 200 || status == 201, "{status} {created}");
    let (status, listed) = request(server.http, "GET", &format!("/api/v1/agents/org/{org}"), Some(&token), None);
    assert_eq!(status, 200, "{listed}");
    assert!(listed.to_string().contains("support"), "{listed}");
}
