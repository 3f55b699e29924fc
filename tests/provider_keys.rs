//! Whose key a cloud call carries. Two orgs each create an agent over the API whose voice is a chain led by
//! Deepgram Aura (`["deepgram:aura-2-thalia-en", "espeak"]`); the node's Deepgram root and key come from
//! `[providers.deepgram]` (`base_url` → a local fake of Aura's `POST /v1/speak`, `api_key_env` → the node's
//! key). Org A stores its own Deepgram key through `POST /api/v1/integrations`: its agent's calls carry that
//! key (`Authorization: Token …`, checked by the fake), org B's carry the node's, and a new key for org A
//! reaches its next call. No key shows in the node's log. Calls are sipp's; the agents are non-conversational
//! (greeting, then hang up) on local Whisper tiny.en and SmolLM2 from the shared model cache.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::api::{call_record, login, request, wait_agent_ready_as};
use common::Server;
use serde_json::{json, Value};

const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner-a@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass-a")];
const NODE_KEY: &str = "dg-node-key-0001";
const ORG_KEY: &str = "dg-org-a-key-0001";
const ORG_KEY_2: &str = "dg-org-a-key-0002";

/// What the fake saw: the `Authorization` header and the text asked for, per request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Deepgram Aura on loopback: `POST /v1/speak?model=…&encoding=linear16&sample_rate=…&container=none` with
/// `Authorization: Token <key>` and `{"text": …}` answers raw 16-bit little-endian PCM (0.4 s of a tone);
/// a key it does not know gets Deepgram's 401 body.
fn fake_aura(keys: &'static [&'static str]) -> (SocketAddr, Seen) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            let Some((head, body)) = common::read_request(&mut socket) else { continue };
            let header = |name: &str| {
                head.lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            };
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let line = head.lines().next().unwrap_or_default().to_string();
            let auth = header("authorization").unwrap_or_default();
            log.lock().unwrap().push((auth.clone(), body["text"].as_str().unwrap_or_default().to_string()));
            let known = keys.iter().any(|k| auth == format!("Token {k}"));
            let rate: u32 = line
                .split(['?', '&', ' '])
                .find_map(|p| p.strip_prefix("sample_rate="))
                .and_then(|r| r.parse().ok())
                .unwrap_or(24_000);
            let response = if !line.starts_with("POST /v1/speak?") {
                let body = r#"{"err_code":"NOT_FOUND","err_msg":"Not found.","request_id":"f1"}"#;
                format!("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
            } else if !known {
                let body = r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"f2"}"#;
                format!("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
            } else {
                let samples = rate as usize * 2 / 5;
                let pcm: Vec<u8> = (0..samples)
                    .flat_map(|i| {
                        let t = i as f32 / rate as f32;
                        (((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16).to_le_bytes()
                    })
                    .collect();
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: audio/l16\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    pcm.len()
                )
                .into_bytes();
                out.extend_from_slice(&pcm);
                out
            };
            let _ = socket.write_all(&response);
        }
    });
    (address, seen)
}

/// A non-conversational agent that says `greeting` with Aura (espeak-ng behind it) and hangs up.
fn notice(greeting: &str) -> Value {
    json!({"system_prompt": "You read notices.", "greeting_message": greeting, "language": "en",
           "llm_model": {"name": "smollm2-135m"}, "interaction_mode": "non_conversational",
           "tts_model": ["deepgram:aura-2-thalia-en", "espeak"]})
}

/// The call history of `token`'s org (`GET /api/v1/meetings`): each call's meeting id and status.
fn meetings(server: &Server, token: &str) -> Vec<(String, String)> {
    let (status, page) = request(server.http, "GET", "/api/v1/meetings?limit=50", token, None);
    assert_eq!(status, 200, "{page}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    page["items"]
        .as_array()
        .map(|items| items.iter().map(|m| (text(&m["meeting_id"]), text(&m["status"]))).collect())
        .unwrap_or_default()
}

/// The keys the fake saw for requests to say `greeting`.
fn keys_for(seen: &Seen, greeting: &str) -> Vec<String> {
    let seen = seen.lock().unwrap();
    let mut keys: Vec<String> =
        seen.iter().filter(|(_, text)| text == greeting).map(|(auth, _)| auth.clone()).collect();
    keys.dedup();
    keys
}

#[test]
fn an_orgs_own_provider_key_carries_its_agents_calls_and_other_orgs_use_the_nodes() {
    common::require_tool("espeak-ng");
    let (aura, seen) = fake_aura(&[NODE_KEY, ORG_KEY, ORG_KEY_2]);
    let config = format!(
        r#"
[api]
open_signup = true

[providers.deepgram]
base_url = "http://{aura}"
api_key_env = "TEST_DEEPGRAM_NODE_KEY"
"#
    );
    let env = [OWNER[0], OWNER[1], ("TEST_DEEPGRAM_NODE_KEY", NODE_KEY)];
    let server = Server::start_env("provider-keys", &config, false, &env);
    let http = server.http;
    let token_a = login(server.http, OWNER[0].1, OWNER[1].1).token;
    let signup = json!({"email": "owner-b@example.com", "password": "s3cret-pass-b", "name": "B",
                        "company_name": "Org B"});
    let (status, created) = request(http, "POST", "/api/v1/users/signup", "", Some(signup));
    assert_eq!(status, 201, "{created}");
    let token_b = login(server.http, "owner-b@example.com", "s3cret-pass-b").token;

    // Org A's own Deepgram key, by the console's provider name; answered masked.
    let key = json!({"model": "Deepgram", "api_key": ORG_KEY});
    let (status, stored) = request(http, "POST", "/api/v1/integrations", &token_a, Some(key));
    assert_eq!(status, 201, "{stored}");
    assert!(!stored.to_string().contains(ORG_KEY), "{stored}");

    let (greeting_a, greeting_b) = ("Org A notice.", "Org B notice.");
    let create = json!({"agent_type": "A Notice", "agent_config": notice(greeting_a)});
    let (status, created) = request(http, "POST", "/api/v1/agents", &token_a, Some(create));
    assert_eq!(status, 201, "{created}");
    let create = json!({"agent_type": "B Notice", "agent_config": notice(greeting_b)});
    let (status, created) = request(http, "POST", "/api/v1/agents", &token_b, Some(create));
    assert_eq!(status, 201, "{created}");
    wait_agent_ready_as(&server, OWNER, "a_notice");
    wait_agent_ready_as(&server, OWNER, "b_notice");

    let record = call_record(&server, "a_notice");
    assert_eq!(record["greeting"], greeting_a, "{record}");
    let call_a = record["record_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(keys_for(&seen, greeting_a), [format!("Token {ORG_KEY}")], "org A's calls carry org A's key");
    let record = call_record(&server, "b_notice");
    assert_eq!(record["greeting"], greeting_b, "{record}");
    let call_b = record["record_id"].as_str().unwrap_or_default().to_string();
    // Each call is logged in its agent's org: B's history has B's call, and only B's.
    let completed = |id: &str| (id.to_string(), "completed".to_string());
    server.wait_for("org B's call in org B's history", Duration::from_secs(10), |_| {
        meetings(&server, &token_b).contains(&completed(&call_b))
    });
    server.wait_for("org A's call in org A's history", Duration::from_secs(10), |_| {
        meetings(&server, &token_a).contains(&completed(&call_a))
    });
    let history_a = meetings(&server, &token_a);
    assert!(history_a.iter().all(|(id, _)| *id != call_b), "org B's call leaked to org A: {history_a:?}");
    let history_b = meetings(&server, &token_b);
    assert!(history_b.iter().all(|(id, _)| *id != call_a), "org A's call leaked to org B: {history_b:?}");
    assert_eq!(keys_for(&seen, greeting_b), [format!("Token {NODE_KEY}")], "org B has no key: the node's");
    // Nothing fell back: Aura answered both (a wrong key would have moved the turn to espeak-ng).
    let metrics = server.metrics();
    assert!(!metrics.contains("voicera_provider_fallbacks_total{"), "{metrics}");

    // A new key for org A: its next call carries it (the write returns once this node routes by it).
    let key = json!({"model": "Deepgram", "api_key": ORG_KEY_2});
    let (status, stored) = request(http, "POST", "/api/v1/integrations", &token_a, Some(key));
    assert_eq!(status, 201, "{stored} (a replaced key answers 201, as the original)");
    seen.lock().unwrap().clear();
    call_record(&server, "a_notice");
    assert_eq!(keys_for(&seen, greeting_a), [format!("Token {ORG_KEY_2}")]);

    let log = server.log();
    for secret in [NODE_KEY, ORG_KEY, ORG_KEY_2] {
        assert!(!log.contains(secret), "a key in the node's log");
    }
}
