//! Agents and phone numbers as call routing needs them, through `oneshot` on both stores (SQLite and MongoDB
//! via SecantusDB): configured agents listed read-only in the owner's org; agent ids and numbers resolving to
//! one agent across orgs and the configuration file; the original's phone-number routes; a rename followed
//! into numbers; and every write handed to the node's routing ([`AgentDirectory::changed`]).

#[macro_use]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::{accounts, AgentDirectory, AgentValidator, ApiConfig, ApiState, ConfigAgent, FieldError, Role};
use voicera_store::Collection;

/// Accepts any object config (the compile step itself is the binary's, tested there).
struct AnyConfig;

impl AgentValidator for AnyConfig {
    fn validate(&self, _config: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

/// The node's routing as the API sees it: one configured agent, and a count of the changes it was told of.
struct FakeRouting {
    owner_org: Mutex<Option<String>>,
    changes: AtomicUsize,
}

impl AgentDirectory for FakeRouting {
    fn config_org(&self) -> Option<String> {
        self.owner_org.lock().unwrap().clone()
    }

    fn config_agents(&self) -> Vec<ConfigAgent> {
        vec![ConfigAgent {
            id: "desk".into(),
            numbers: vec!["918000000020".into()],
            agent_config: json!({"greeting_message": "Front desk."}),
        }]
    }

    fn changed(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.changes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

struct Harness {
    app: Router,
    state: ApiState,
    routing: Arc<FakeRouting>,
    _backing: common::Backing,
}

async fn harness(kind: &str) -> Harness {
    let (store, backing) = common::test_store(kind, "routing").await;
    let config = ApiConfig { password_cost: PasswordCost::Minimal, ..ApiConfig::default() };
    let state = ApiState::new(store, [7; 32], Arc::new(AnyConfig), config);
    let routing = Arc::new(FakeRouting { owner_org: Mutex::new(None), changes: AtomicUsize::new(0) });
    assert!(state.set_agent_directory(routing.clone()));
    assert!(!state.set_agent_directory(routing.clone()), "plugged in once");
    Harness { app: voicera_api::control_plane(state.clone()), state, routing, _backing: backing }
}

impl Harness {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A new org with an account of `role` in it; (org, token).
    async fn org(&self, email: &str, role: Role) -> (String, String) {
        let org = accounts::create_org(&self.state, "Co").await.unwrap();
        accounts::create_user(&self.state, email, "s3cret-pass", "A", "Co", &org, role).await.unwrap();
        (org.clone(), self.token(email).await)
    }

    async fn token(&self, email: &str) -> String {
        let login = Request::post("/api/v1/users/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"email": email, "password": "s3cret-pass"}).to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(login).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        body["access_token"].as_str().expect("a token").to_string()
    }

    fn changes(&self) -> usize {
        self.routing.changes.load(Ordering::SeqCst)
    }
}

fn agent(name: &str) -> Value {
    json!({"agent_type": name, "agent_config": {"greeting_message": "Hello."}})
}

on_both_stores!(
    configured_agents_are_listed_read_only_in_the_owners_org_and_their_ids_are_taken,
    numbers_attach_to_one_agent_of_one_org_and_follow_renames_and_deletes,
);

async fn configured_agents_are_listed_read_only_in_the_owners_org_and_their_ids_are_taken(kind: &str) {
    let h = harness(kind).await;
    let (org, owner) = h.org("owner@acme.io", Role::Owner).await;
    *h.routing.owner_org.lock().unwrap() = Some(org.clone());
    let (other_org, other) = h.org("ravi@other.io", Role::Owner).await;

    let (code, created) = h.call(Method::POST, "/api/v1/agents", &owner, Some(agent("Sales"))).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(h.changes(), 1, "the create was handed to routing");
    let (code, list) = h.call(Method::GET, &format!("/api/v1/agents/org/{org}"), &owner, None).await;
    assert_eq!(code, StatusCode::OK);
    let sources: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["agent_id"].as_str().unwrap(), a["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("desk", "config"), ("sales", "store")]);
    assert_eq!(list[0]["agent_config"]["greeting_message"], "Front desk.");
    assert_eq!(list[0]["phone_number"], "+918000000020");
    let (code, desk) = h.call(Method::GET, "/api/v1/agents/id/desk", &owner, None).await;
    assert_eq!((code, desk["source"].as_str()), (StatusCode::OK, Some("config")));
    assert_eq!(h.call(Method::GET, "/api/v1/agents/desk", &owner, None).await.0, StatusCode::OK);

    // Read-only: every write refused with 409, nothing handed to routing.
    let update = json!({"agent_config": {"greeting_message": "Mine now."}});
    for (method, path, body) in [
        (Method::PUT, "/api/v1/agents/id/desk", Some(update.clone())),
        (Method::PUT, "/api/v1/agents/desk", Some(update)),
        (Method::DELETE, "/api/v1/agents/id/desk", None),
        (Method::DELETE, "/api/v1/agents/desk", None),
        (Method::DELETE, "/api/v1/agents?agent_type=desk", None),
    ] {
        let (code, body) = h.call(method.clone(), path, &owner, body).await;
        assert_eq!((code, body["code"].as_str()), (StatusCode::CONFLICT, Some("read_only")), "{method} {path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("voicera.toml"), "{body}");
    }
    assert_eq!(h.changes(), 1);

    // Other orgs neither see it nor take its id; no org takes another's id or the config agent's name.
    let (_, list) = h.call(Method::GET, &format!("/api/v1/agents/org/{other_org}"), &other, None).await;
    assert_eq!(list, json!([]));
    assert_eq!(h.call(Method::GET, "/api/v1/agents/id/desk", &other, None).await.0, StatusCode::NOT_FOUND);
    for (token, body, field) in [
        (&other, json!({"agent_type": "Desk", "agent_id": "desk", "agent_config": {}}), "agent_id"),
        (&owner, json!({"agent_type": "Desk 2", "agent_id": "desk", "agent_config": {}}), "agent_id"),
        (&other, agent("Sales"), "agent_id"),
        (&owner, json!({"agent_type": "desk", "agent_id": "desk_two", "agent_config": {}}), "agent_type"),
    ] {
        let (code, error) = h.call(Method::POST, "/api/v1/agents", token, Some(body)).await;
        assert_eq!((code, error["field"].as_str()), (StatusCode::CONFLICT, Some(field)), "{error}");
    }
    let rename = json!({"agent_type": "desk", "agent_config": {}});
    let (code, error) = h.call(Method::PUT, "/api/v1/agents/id/sales", &owner, Some(rename)).await;
    assert_eq!((code, error["field"].as_str()), (StatusCode::CONFLICT, Some("agent_type")), "{error}");
    assert_eq!(h.changes(), 1);
}

async fn numbers_attach_to_one_agent_of_one_org_and_follow_renames_and_deletes(kind: &str) {
    let h = harness(kind).await;
    let (org, owner) = h.org("owner@acme.io", Role::Owner).await;
    *h.routing.owner_org.lock().unwrap() = Some(org.clone());
    let viewer = {
        accounts::create_user(&h.state, "v@acme.io", "s3cret-pass", "V", "Co", &org, Role::Viewer).await.unwrap();
        h.token("v@acme.io").await
    };
    let (other_org, other) = h.org("ravi@other.io", Role::Owner).await;
    for name in ["Sales", "Support"] {
        assert_eq!(h.call(Method::POST, "/api/v1/agents", &owner, Some(agent(name))).await.0, StatusCode::CREATED);
    }
    let before = h.changes();

    // The original's body; the number is kept as written, keyed by its digits.
    let attach = json!({"phone_number": "+91 80000 00001", "provider": "Vobiz", "agent_type": "Sales"});
    let (code, body) = h.call(Method::POST, "/api/v1/phone-numbers/attach", &owner, Some(attach.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{body} (201, as the original)");
    let number = &body["phone_number"];
    assert_eq!(
        (number["agent_id"].as_str(), number["agent_type"].as_str(), number["last_link_action"].as_str()),
        (Some("sales"), Some("Sales"), Some("attached"))
    );
    assert_eq!(
        (number["last_link_by_email"].as_str(), number["provider"].as_str()),
        (Some("owner@acme.io"), Some("Vobiz"))
    );
    assert_eq!(h.changes(), before + 1, "the attach was handed to routing");
    let stored = h.state.store().get(Collection::PhoneNumbers, &org, "918000000001").await.unwrap().unwrap();
    assert_eq!(stored.doc["phone_number"], "+91 80000 00001");
    let (_, sales) = h.call(Method::GET, "/api/v1/agents/id/sales", &owner, None).await;
    assert_eq!(sales["phone_number"], "+91 80000 00001", "the agent shows its number, as the original's did");

    // Refused: viewers, other orgs, the configured agent's number, nonsense, unknown and configured agents.
    let (code, _) = h.call(Method::POST, "/api/v1/phone-numbers/attach", &viewer, Some(attach.clone())).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    for (token, body, code, field) in [
        (&other, json!({"phone_number": "918000000001", "provider": "Vobiz"}), StatusCode::CONFLICT, "phone_number"),
        (
            &owner,
            json!({"phone_number": "+91 80000 00020", "agent_type": "Support"}),
            StatusCode::CONFLICT,
            "phone_number",
        ),
        (
            &owner,
            json!({"phone_number": "call me", "agent_type": "Support"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_number",
        ),
        (&owner, json!({"phone_number": "+918000000002", "agent_type": "Nobody"}), StatusCode::NOT_FOUND, "agent_type"),
        (&owner, json!({"phone_number": "+918000000002", "agent_type": "desk"}), StatusCode::CONFLICT, "agent_type"),
    ] {
        let (got, error) = h.call(Method::POST, "/api/v1/phone-numbers/attach", token, Some(body.clone())).await;
        assert_eq!((got, error["field"].as_str()), (code, Some(field)), "{body}: {error}");
    }
    assert_eq!(h.changes(), before + 1);

    // Listings: the org's (configured numbers first), an agent's; another org sees none of them.
    let (code, list) = h.call(Method::GET, &format!("/api/v1/phone-numbers/org/{org}"), &owner, None).await;
    assert_eq!(code, StatusCode::OK);
    let rows: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["phone_number"].as_str().unwrap(), n["source"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("+918000000020", "config"), ("+91 80000 00001", "store")]);
    // By agent: one object, the original's `PhoneNumberResponse` fields only; 404 for an agent without one.
    let (code, by_agent) = h.call(Method::GET, "/api/v1/phone-numbers/agent/Sales", &owner, None).await;
    assert_eq!(code, StatusCode::OK, "{by_agent}");
    assert_eq!(
        by_agent,
        json!({"phone_number": "+91 80000 00001", "provider": "Vobiz", "agent_type": "Sales", "org_id": org,
               "created_at": stored.doc["created_at"], "updated_at": stored.doc["updated_at"]})
    );
    let (_, by_agent) = h.call(Method::GET, "/api/v1/phone-numbers/agent/desk", &owner, None).await;
    assert_eq!((by_agent["phone_number"].as_str(), by_agent.is_object()), (Some("+918000000020"), true));
    let (code, none) = h.call(Method::GET, "/api/v1/phone-numbers/agent/Support", &owner, None).await;
    assert_eq!(
        (code, none["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("No phone number attached to this agent"))
    );
    let (code, _) = h.call(Method::GET, "/api/v1/phone-numbers/agent/Sales", &other, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "another org has no agent of that name");
    assert_eq!(
        h.call(Method::GET, &format!("/api/v1/phone-numbers/org/{org}"), &other, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, theirs) = h.call(Method::GET, &format!("/api/v1/phone-numbers/org/{other_org}"), &other, None).await;
    assert_eq!(theirs, json!([]));

    // Moved to another agent: one agent holds it, the first no longer shows it.
    let mv = json!({"phone_number": "+918000000001", "provider": "Vobiz", "agent_type": "Support"});
    let (code, body) = h.call(Method::POST, "/api/v1/phone-numbers/attach", &owner, Some(mv)).await;
    assert_eq!((code, body["phone_number"]["agent_id"].as_str()), (StatusCode::CREATED, Some("support")), "{body}");
    let (_, sales) = h.call(Method::GET, "/api/v1/agents/id/sales", &owner, None).await;
    assert_eq!(sales["phone_number"], Value::Null);
    assert_eq!(h.state.store().find_id(Collection::PhoneNumbers, "918000000001").await.unwrap().len(), 1);

    // A rename follows into the number.
    let rename = json!({"agent_type": "Help Desk", "agent_config": {"greeting_message": "Hi."}});
    assert_eq!(h.call(Method::PUT, "/api/v1/agents/id/support", &owner, Some(rename)).await.0, StatusCode::OK);
    let stored = h.state.store().get(Collection::PhoneNumbers, &org, "918000000001").await.unwrap().unwrap();
    assert_eq!(stored.doc["agent_type"], "Help Desk");

    // Detached: kept by the org, leading nowhere; detaching what the org lacks is 404.
    let changes = h.changes();
    let detach = json!({"phone_number": "+91 80000 00001"});
    let (code, body) = h.call(Method::DELETE, "/api/v1/phone-numbers/detach", &owner, Some(detach.clone())).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        (body["phone_number"]["agent_id"].clone(), body["phone_number"]["last_link_agent_type"].as_str()),
        (Value::Null, Some("Help Desk"))
    );
    assert_eq!(h.changes(), changes + 1);
    let (_, support) = h.call(Method::GET, "/api/v1/agents/id/support", &owner, None).await;
    assert_eq!(support["phone_number"], Value::Null);
    let (code, _) = h.call(Method::DELETE, "/api/v1/phone-numbers/detach", &other, Some(detach)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = h
        .call(Method::DELETE, "/api/v1/phone-numbers/detach", &owner, Some(json!({"phone_number": "+918000000020"})))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "a configured number is read-only");

    // Deleting an agent detaches its numbers: a later agent with the same id does not inherit them.
    let again = json!({"phone_number": "+918000000001", "agent_type": "Sales"});
    assert_eq!(h.call(Method::POST, "/api/v1/phone-numbers/attach", &owner, Some(again)).await.0, StatusCode::CREATED);
    let changes = h.changes();
    assert_eq!(h.call(Method::DELETE, "/api/v1/agents/id/sales", &owner, None).await.0, StatusCode::OK);
    assert_eq!(h.changes(), changes + 1);
    let stored = h.state.store().get(Collection::PhoneNumbers, &org, "918000000001").await.unwrap().unwrap();
    assert_eq!(
        (stored.doc["agent_id"].clone(), stored.doc["last_link_action"].as_str()),
        (Value::Null, Some("detached"))
    );
}
