//! The Live and System routes through `oneshot` on a SQLite store: this node's calls (a real
//! [`LiveCalls`] registry, as call cores fill it) listed with their transcripts to their org only, other nodes'
//! calls from their in-progress call logs, the transcript as Server-Sent Events up to the call's end, hang-up
//! for admins only (audit-logged), and the node's state for admins.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::{accounts, AgentValidator, ApiConfig, ApiState, FieldError, NodeCall, NodeConsole, Role};
use voicera_conversation::live::{LiveCallInfo, LiveCalls, LiveEntry};
use voicera_store::sqlite::SqliteStore;
use voicera_store::{Collection, Record, Store};

struct AnyConfig;

impl AgentValidator for AnyConfig {
    fn validate(&self, _config: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

/// The node as the binary reports it: its own registry, and each call's org by its agent.
struct Node {
    calls: Arc<LiveCalls>,
    orgs: std::sync::Mutex<Vec<(String, String)>>,
}

impl NodeConsole for Node {
    fn node_id(&self) -> Option<String> {
        Some("node-a".into())
    }

    fn live_calls(&self) -> Vec<NodeCall> {
        let orgs = self.orgs.lock().unwrap().clone();
        self.calls
            .list()
            .into_iter()
            .filter_map(|call| {
                let org_id = orgs.iter().find(|(agent, _)| *agent == call.info().agent)?.1.clone();
                Some(NodeCall { org_id, call })
            })
            .collect()
    }

    fn system(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + '_>> {
        Box::pin(async { json!({"node_id": "node-a", "roles": ["api", "sip"]}) })
    }
}

struct Harness {
    app: Router,
    state: ApiState,
    node: Arc<Node>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Sqlite(SqliteStore::open(&dir.path().join("voicera.db")).await.unwrap());
    let config = ApiConfig { password_cost: PasswordCost::Minimal, ..ApiConfig::default() };
    let state = ApiState::new(store, [7; 32], Arc::new(AnyConfig), config);
    let node = Arc::new(Node { calls: Arc::new(LiveCalls::default()), orgs: Default::default() });
    Harness { app: voicera_api::control_plane(state.clone()), state, node, _dir: dir }
}

impl Harness {
    fn plug_in(&self) {
        assert!(self.state.set_node_console(self.node.clone()));
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> axum::response::Response {
        let mut request =
            Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn call(&self, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self.request(method, path, token, &[]).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// An account of `role` in `org` (a new org when `None`); (org, token).
    async fn account(&self, email: &str, role: Role, org: Option<&str>) -> (String, String) {
        let org = match org {
            Some(org) => org.to_string(),
            None => accounts::create_org(&self.state, "Co").await.unwrap(),
        };
        accounts::create_user(&self.state, email, "s3cret-pass", "A", "Co", &org, role).await.unwrap();
        let login = Request::post("/api/v1/users/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"email": email, "password": "s3cret-pass"}).to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(login).await.unwrap();
        let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
        (org, body["access_token"].as_str().expect("a token").to_string())
    }

    /// A call of `agent` (belonging to `org`) in progress on this node.
    fn start_call(&self, call_id: &str, agent: &str, org: &str) -> LiveEntry {
        self.node.orgs.lock().unwrap().push((agent.into(), org.into()));
        let info = LiveCallInfo {
            call_id: call_id.into(),
            agent: agent.into(),
            transport: "sip".into(),
            caller: "+919876543210".into(),
            called: "+918000000123".into(),
            outbound: false,
            started_at_ms: 1_700_000_000_000,
        };
        self.node.calls.register(info, "Hello, front desk.")
    }
}

#[tokio::test]
async fn each_org_sees_only_its_own_calls_with_their_transcripts_and_other_nodes_calls_from_the_store() {
    let h = harness().await;
    let (org_a, viewer_a) = h.account("viewer@a.example", Role::Viewer, None).await;
    let (org_b, admin_b) = h.account("admin@b.example", Role::Admin, None).await;
    assert_eq!(
        h.call(Method::GET, "/api/v1/calls/live", &viewer_a).await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "no node plugged in"
    );
    h.plug_in();
    let mine = h.start_call("call-a1", "desk_a", &org_a);
    mine.call().said("user", 1, "When do you open?", false, 1_700_000_003_000);
    let _theirs = h.start_call("call-b1", "desk_b", &org_b);
    // A call of org A on another node sharing the store, and org A's log of a call on this node.
    for (id, node) in [("rec-remote", "node-b"), ("rec-local", "node-a")] {
        let doc = json!({"meeting_id": id, "call_id": id, "org_id": org_a, "node_id": node, "agent_type": "desk_a",
            "agent_id": "desk_a", "transport": "plivo", "inbound": false, "from_number": "+918000000123",
            "to_number": "+919800000001", "status": "in-progress", "created_at": "2026-01-05T10:00:00.000Z",
            "start_time_utc": "2026-01-05T10:00:00.000Z", "end_time_utc": null, "duration": null});
        h.state.store().put(Collection::CallLogs, &Record { org_id: org_a.clone(), id: id.into(), doc }).await.unwrap();
    }

    let (status, body) = h.call(Method::GET, "/api/v1/calls/live", &viewer_a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["node_id"], "node-a");
    let calls = body["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "this node's call and the other node's: {body}");
    let local = &calls[0];
    assert_eq!((local["id"].as_str(), local["on_this_node"].as_bool()), (Some("call-a1"), Some(true)));
    assert_eq!((local["agent_type"].as_str(), local["transport"].as_str()), (Some("desk_a"), Some("sip")));
    assert_eq!((local["direction"].as_str(), local["from_number"].as_str()), (Some("inbound"), Some("+919876543210")));
    assert_eq!(local["start_time_utc"], "2023-11-14T22:13:20.000Z");
    assert!(local["duration"].as_f64().unwrap() > 0.0);
    let said: Vec<(&str, &str)> = local["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["role"].as_str().unwrap(), t["content"].as_str().unwrap()))
        .collect();
    assert_eq!(said, [("agent", "Hello, front desk."), ("user", "When do you open?")]);
    let remote = &calls[1];
    assert_eq!((remote["id"].as_str(), remote["on_this_node"].as_bool()), (Some("rec-remote"), Some(false)));
    assert_eq!((remote["node_id"].as_str(), remote["direction"].as_str()), (Some("node-b"), Some("outbound")));
    assert_eq!(remote["transcript"], json!([]));

    // Org B sees its call only; one of org A's is unknown to it.
    let (_, body) = h.call(Method::GET, "/api/v1/calls/live", &admin_b).await;
    let ids: Vec<&str> = body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["call-b1"]);
    assert_eq!(h.call(Method::GET, "/api/v1/calls/live/call-a1", &admin_b).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::GET, "/api/v1/calls/live/call-a1/events", &admin_b).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::POST, "/api/v1/calls/live/call-a1/hangup", &admin_b).await.0, StatusCode::NOT_FOUND);
    assert!(!mine.call().hang_up_requested(), "another org's admin cannot end it");
    // Without credentials, nothing.
    assert_eq!(h.call(Method::GET, "/api/v1/calls/live", "not-a-token").await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = h.call(Method::GET, "/api/v1/calls/live/call-a1", &viewer_a).await;
    assert_eq!((status, body["transcript"].as_array().unwrap().len()), (StatusCode::OK, 2));
    drop(mine);
    let (_, body) = h.call(Method::GET, "/api/v1/calls/live", &viewer_a).await;
    assert_eq!(body["calls"].as_array().unwrap().len(), 1, "an ended call leaves the list: {body}");
}

#[tokio::test]
async fn only_admins_hang_up_and_the_hang_up_is_audited() {
    let h = harness().await;
    h.plug_in();
    let (org, viewer) = h.account("viewer@a.example", Role::Viewer, None).await;
    let (_, member) = h.account("member@a.example", Role::Member, Some(&org)).await;
    let (_, admin) = h.account("admin@a.example", Role::Admin, Some(&org)).await;
    let entry = h.start_call("call-1", "desk", &org);
    for token in [&viewer, &member] {
        let (status, body) = h.call(Method::POST, "/api/v1/calls/live/call-1/hangup", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("hanging up calls"), "{body}");
    }
    assert!(!entry.call().hang_up_requested());
    let (status, body) = h.call(Method::POST, "/api/v1/calls/live/call-1/hangup", &admin).await;
    assert_eq!((status, &body), (StatusCode::ACCEPTED, &json!({"id": "call-1", "status": "hanging_up"})));
    assert!(entry.call().take_hang_up(), "the call's core takes the hang-up at its next poll");
    let (_, list) = h.call(Method::GET, "/api/v1/calls/live", &viewer).await;
    assert_eq!(list["calls"][0]["id"], "call-1");
    let (status, audit) = h.call(Method::GET, "/api/v1/audit", &admin).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["items"].as_array().or(audit.as_array()).cloned().unwrap_or_default();
    assert!(
        entries.iter().any(|e| e["operation"] == "hangup_call" && e["target"] == "call-1"),
        "the audit log keeps the hang-up: {audit}"
    );
    // An org's call on another node: only that node can end it, and the answer says so.
    let doc = json!({"meeting_id": "rec-b", "org_id": org, "node_id": "node-b", "status": "in-progress",
        "start_time_utc": "2026-01-05T10:00:00.000Z", "created_at": "2026-01-05T10:00:00.000Z"});
    h.state.store().put(Collection::CallLogs, &Record { org_id: org.clone(), id: "rec-b".into(), doc }).await.unwrap();
    let (status, body) = h.call(Method::POST, "/api/v1/calls/live/rec-b/hangup", &admin).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("on_another_node")), "{body}");
    assert_eq!(h.call(Method::POST, "/api/v1/calls/live/no-such-call/hangup", &admin).await.0, StatusCode::NOT_FOUND);
}

/// Reads a Server-Sent Events body until it ends (or `limit` passes), as (event, id, data) triples.
async fn read_events(response: axum::response::Response, limit: Duration) -> Vec<(String, Option<String>, Value)> {
    let mut body = response.into_body();
    let mut text = String::new();
    let _ = tokio::time::timeout(limit, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                text.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    })
    .await;
    text.split("\n\n")
        .filter(|block| block.starts_with("event:"))
        .map(|block| {
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            let data = field("data:").map(|d| serde_json::from_str(&d).unwrap()).unwrap_or(Value::Null);
            (field("event:").unwrap(), field("id:"), data)
        })
        .collect()
}

#[tokio::test]
async fn the_transcript_streams_as_it_is_said_until_the_call_ends() {
    let h = harness().await;
    h.plug_in();
    let (org, viewer) = h.account("viewer@a.example", Role::Viewer, None).await;
    let entry = h.start_call("call-sse", "desk", &org);
    let call = Arc::clone(entry.call());
    let response = h.request(Method::GET, "/api/v1/calls/live/call-sse/events", &viewer, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let talk = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        call.said("user", 1, "What time is it?", false, 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        call.said("agent", 1, "It is nine.", true, 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(entry);
    });
    let events = read_events(response, Duration::from_secs(10)).await;
    talk.await.unwrap();
    let seen: Vec<(&str, Option<&str>, &str)> = events
        .iter()
        .map(|(e, id, d)| (e.as_str(), id.as_deref(), d["content"].as_str().or(d["id"].as_str()).unwrap_or_default()))
        .collect();
    assert_eq!(
        seen,
        [
            ("turn", Some("0"), "Hello, front desk."),
            ("turn", Some("1"), "What time is it?"),
            ("turn", Some("2"), "It is nine."),
            ("ended", None, "call-sse"),
        ]
    );
    assert_eq!((events[2].2["role"].as_str(), events[2].2["interrupted"].as_bool()), (Some("agent"), Some(true)));

    // A reconnecting browser sends the last id it had and gets only what followed.
    let entry = h.start_call("call-resume", "desk", &org);
    entry.call().said("user", 1, "Hi", false, 1);
    let response =
        h.request(Method::GET, "/api/v1/calls/live/call-resume/events", &viewer, &[("Last-Event-ID", "0")]).await;
    let reader = tokio::spawn(read_events(response, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(entry);
    let events = reader.await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = events.iter().map(|(e, id, _)| (e.as_str(), id.as_deref())).collect();
    assert_eq!(kinds, [("turn", Some("1")), ("ended", None)]);
}

#[tokio::test]
async fn the_nodes_state_is_for_admins() {
    let h = harness().await;
    let (org, viewer) = h.account("viewer@a.example", Role::Viewer, None).await;
    let (_, admin) = h.account("admin@a.example", Role::Admin, Some(&org)).await;
    assert_eq!(h.call(Method::GET, "/api/v1/system", &admin).await.0, StatusCode::SERVICE_UNAVAILABLE);
    h.plug_in();
    let (status, body) = h.call(Method::GET, "/api/v1/system", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = h.call(Method::GET, "/api/v1/system", &admin).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"node_id": "node-a", "roles": ["api", "sip"]})));
}
