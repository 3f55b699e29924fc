//! The control plane through `oneshot` (no socket), on both stores: every scenario runs on an embedded SQLite
//! file and on MongoDB (SecantusDB on loopback, as the store's tests start it). Time is a [`ManualClock`].

#[macro_use]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::clock::ManualClock;
use voicera_api::routes::Access;
use voicera_api::{accounts, AgentValidator, ApiConfig, ApiState, FieldError, Role};
use voicera_store::{Collection, Record};

/// Stands in for the binary's compile step: `language` must be one it knows, `llm_model.name` too.
struct CompileStep;

impl AgentValidator for CompileStep {
    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        match config.get("language").and_then(Value::as_str) {
            Some("en" | "Hindi" | "English (India)") => {}
            other => {
                return Err(FieldError {
                    field: "language".into(),
                    message: format!("{other:?} is not a language this server speaks"),
                })
            }
        }
        match config.pointer("/llm_model/name").map(|n| n.as_str()) {
            None | Some(Some("OpenAI" | "smollm2-135m")) => Ok(()),
            Some(other) => Err(FieldError {
                field: "llm_model.name".into(),
                message: format!("{other:?} is not a language model"),
            }),
        }
    }
}

struct Harness {
    app: Router,
    state: ApiState,
    clock: Arc<ManualClock>,
    _backing: common::Backing,
}

const T0: i64 = 1_732_000_000_000;

async fn harness(kind: &str, config: ApiConfig) -> Harness {
    let (store, backing) = common::test_store(kind, "api").await;
    let clock = Arc::new(ManualClock::at(T0));
    let config = ApiConfig { password_cost: PasswordCost::Minimal, ..config };
    let state = ApiState::with_clock(store, [9; 32], Arc::new(CompileStep), config, clock.clone());
    Harness { app: voicera_api::control_plane(state.clone()), state, clock, _backing: backing }
}

impl Harness {
    async fn call(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn signup(&self, email: &str, company: &str) -> String {
        let (code, body) = self
            .call(
                Method::POST,
                "/api/v1/users/signup",
                None,
                Some(json!({"email": email, "password": "s3cret-pass", "name": "Asha", "company_name": company})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        body["org_id"].as_str().unwrap().to_string()
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/v1/users/login", None, Some(json!({"email": email, "password": password}))).await
    }

    async fn token(&self, email: &str) -> String {
        let (code, body) = self.login(email, "s3cret-pass").await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A second org with its owner, made directly (signup is closed after the first account).
    async fn other_org(&self, email: &str) -> (String, String) {
        let org = accounts::create_org(&self.state, "Other Co").await.unwrap();
        accounts::create_user(&self.state, email, "s3cret-pass", "Other", "Other Co", &org, Role::Owner).await.unwrap();
        (org, self.token(email).await)
    }

    async fn member(&self, email: &str, org: &str, role: Role) -> String {
        accounts::create_user(&self.state, email, "s3cret-pass", "M", "Acme", org, role).await.unwrap();
        self.token(email).await
    }
}

fn agent_body(name: &str) -> Value {
    json!({"agent_type": name, "agent_config": {"language": "Hindi", "system_prompt": "SECRET-PROMPT-A", "greeting_message": "नमस्ते",
           "llm_model": {"name": "OpenAI", "model": "gpt-4o-mini"}}, "telephony_provider": "Vobiz"})
}

on_both_stores!(
    signup_opens_for_the_first_account_only_and_sessions_rotate,
    an_imported_bcrypt_password_logs_in_and_is_rehashed,
    failed_logins_are_rate_limited_per_email_and_source,
    api_keys_are_shown_once_act_with_their_role_and_revoke,
    agents_are_created_validated_read_changed_and_deleted_within_the_org,
    meetings_are_filtered_paged_and_parsed_within_the_org,
    meetings_page_by_signed_cursor_in_every_order_and_filter_within_the_org,
    the_owner_from_the_environment_is_created_once,
    every_documented_operation_refuses_strangers_forgeries_other_orgs_and_viewers,
);

async fn signup_opens_for_the_first_account_only_and_sessions_rotate(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let bad = json!({"email": "not-an-email", "password": "s3cret-pass", "name": "A", "company_name": "Acme"});
    let (code, body) = h.call(Method::POST, "/api/v1/users/signup", None, Some(bad)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")), "{body}");
    let short = json!({"email": "a@acme.io", "password": "short", "name": "A", "company_name": "Acme"});
    let (code, body) = h.call(Method::POST, "/api/v1/users/signup", None, Some(short)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")), "{body}");
    let missing = json!({"email": "a@acme.io", "password": "s3cret-pass", "name": "A"});
    let (code, body) = h.call(Method::POST, "/api/v1/users/signup", None, Some(missing)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("company_name")), "{body}");

    let org = h.signup("Asha@Acme.io", "Acme").await;
    assert_eq!(org.len(), 12);
    let second = json!({"email": "b@acme.io", "password": "s3cret-pass", "name": "B", "company_name": "B"});
    let (code, body) = h.call(Method::POST, "/api/v1/users/signup", None, Some(second)).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("signup_closed")), "{body}");
    let join =
        json!({"email": "b@acme.io", "password": "s3cret-pass", "name": "B", "company_name": "B", "org_id": org});
    let (code, body) = h.call(Method::POST, "/api/v1/users/signup", None, Some(join)).await;
    assert_eq!(
        (code, body["code"].as_str(), body["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("invite_required"), Some("org_id"))
    );

    let (code, body) = h.login("asha@acme.io", "wrong-pass").await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")), "{body}");
    let (code, body) = h.login("nobody@acme.io", "s3cret-pass").await;
    assert_eq!((code, body["detail"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong email or password")));
    let (code, session) = h.login(" ASHA@acme.io", "s3cret-pass").await;
    assert_eq!(code, StatusCode::OK, "{session}");
    assert_eq!((session["token_type"].as_str(), session["org_id"].as_str()), (Some("bearer"), Some(org.as_str())));
    assert_eq!(session["expires_in"], 900);
    let access = session["access_token"].as_str().unwrap();
    let (code, me) = h.call(Method::GET, "/api/v1/users/me", Some(access), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (me["email"].as_str(), me["is_owner"].as_bool(), me["role"].as_str()),
        (Some("asha@acme.io"), Some(true), Some("owner"))
    );
    assert!(me.get("password_hash").is_none(), "{me}");

    // Refresh rotates; the spent token presented again revokes the session, the newest token included.
    let first = session["refresh_token"].as_str().unwrap();
    let (code, rotated) =
        h.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": first}))).await;
    assert_eq!(code, StatusCode::OK, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let (code, _) = h.call(Method::GET, "/api/v1/users/me", rotated["access_token"].as_str(), None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = h.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": first}))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("refresh_token_reused")), "{body}");
    let (code, _) = h.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": second}))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // Two refreshes racing with one token: one wins, the other is a replay.
    let (_, session) = h.login("asha@acme.io", "s3cret-pass").await;
    let body = json!({"refresh_token": session["refresh_token"]});
    let (a, b) = tokio::join!(
        h.call(Method::POST, "/api/v1/auth/refresh", None, Some(body.clone())),
        h.call(Method::POST, "/api/v1/auth/refresh", None, Some(body))
    );
    let mut codes = [a.0.as_u16(), b.0.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 401], "{} {}", a.1, b.1);

    // Access tokens expire; logout ends a session.
    h.clock.advance(15 * 60 * 1000);
    let (code, body) = h.call(Method::GET, "/api/v1/users/me", Some(access), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
    let (_, session) = h.login("asha@acme.io", "s3cret-pass").await;
    let token = session["refresh_token"].clone();
    let (code, _) = h.call(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": token}))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = h.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": token}))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}

async fn an_imported_bcrypt_password_logs_in_and_is_rehashed(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    // As `voicera migrate` imports a user of the original (UserTable, bcrypt, is_member false).
    let doc = json!({"email": "ravi@example.com", "name": "Ravi", "org_id": "a1b2c3", "company_name": "Acme", "is_member": false,
                     "role": "owner", "password_hash": bcrypt::hash("original-pass", 4).unwrap(), "password_scheme": "bcrypt"});
    h.state
        .store()
        .put(Collection::Users, &Record { org_id: "a1b2c3".into(), id: "ravi@example.com".into(), doc })
        .await
        .unwrap();
    let (code, body) = h.login("ravi@example.com", "original-pass").await;
    assert_eq!((code, body["org_id"].as_str()), (StatusCode::OK, Some("a1b2c3")), "{body}");
    let stored = h.state.store().get(Collection::Users, "a1b2c3", "ravi@example.com").await.unwrap().unwrap();
    assert!(stored.doc["password_hash"].as_str().unwrap().starts_with("$argon2id$"), "{}", stored.doc);
    assert_eq!(stored.doc["password_scheme"], "argon2id");
    assert_eq!(stored.doc["name"], "Ravi");
    assert_eq!(h.login("ravi@example.com", "original-pass").await.0, StatusCode::OK);
    assert_eq!(h.login("ravi@example.com", "original-pas").await.0, StatusCode::UNAUTHORIZED);
}

async fn failed_logins_are_rate_limited_per_email_and_source(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    h.signup("asha@acme.io", "Acme").await;
    for _ in 0..5 {
        assert_eq!(h.login("asha@acme.io", "guess-guess").await.0, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused until the window ends.
    let request = Request::post("/api/v1/users/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"email": "asha@acme.io", "password": "s3cret-pass"}).to_string()))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "900");
    h.clock.advance(15 * 60 * 1000);
    assert_eq!(h.login("asha@acme.io", "s3cret-pass").await.0, StatusCode::OK);
}

async fn api_keys_are_shown_once_act_with_their_role_and_revoke(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io", "Acme").await;
    let owner = h.token("asha@acme.io").await;
    let (code, created) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "nightly sync"}))).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("vk_") && key.len() > 50, "{key}");
    assert_eq!(created["role"], "member");
    let (code, listed) = h.call(Method::GET, "/api/v1/api-keys", Some(&owner), None).await;
    assert_eq!((code, listed["count"].as_u64()), (StatusCode::OK, Some(1)));
    let listed_text = listed.to_string();
    assert!(!listed_text.contains(&key[20..]) && !listed_text.contains("secret_hash"), "{listed_text}");
    let stored = h.state.store().list(Collection::ApiKeys, &org).await.unwrap();
    assert!(!stored[0].doc.to_string().contains(&key[20..]), "the secret is stored hashed");

    // The key acts as its creator with its own role: a member writes agents but does not manage keys.
    let (code, me) = h.call(Method::GET, "/api/v1/users/me", Some(&key), None).await;
    assert_eq!(
        (code, me["role"].as_str(), me["email"].as_str()),
        (StatusCode::OK, Some("member"), Some("asha@acme.io"))
    );
    let (code, _) = h.call(Method::POST, "/api/v1/agents", Some(&key), Some(agent_body("Sales Agent"))).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = h.call(Method::POST, "/api/v1/api-keys", Some(&key), Some(json!({"name": "x"}))).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, viewer) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "read", "role": "viewer"}))).await;
    assert_eq!(code, StatusCode::CREATED);
    let viewer_key = viewer["key"].as_str().unwrap();
    let (code, body) = h.call(Method::DELETE, "/api/v1/agents/id/sales_agent", Some(viewer_key), None).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    let (code, body) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "x", "role": "owner"}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("role")));

    // Revoked: refused at once; a tampered key never worked.
    let key_id = created["key_id"].as_str().unwrap();
    let (code, _) = h.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), Some(&owner), None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = h.call(Method::GET, "/api/v1/users/me", Some(&key), None).await;
    assert_eq!((code, body["detail"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown or revoked API key")));
    let tampered = format!("{}x", &viewer_key[..viewer_key.len() - 1]);
    assert_eq!(h.call(Method::GET, "/api/v1/users/me", Some(&tampered), None).await.0, StatusCode::UNAUTHORIZED);
    let (code, _) = h.call(Method::DELETE, "/api/v1/api-keys/0000000000000000", Some(&owner), None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

async fn agents_are_created_validated_read_changed_and_deleted_within_the_org(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io", "Acme").await;
    let owner = h.token("asha@acme.io").await;
    let mut body = agent_body("Sales Agent");
    body["org_id"] = json!(org);
    let (code, created) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(body)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["agent_id"].as_str(), created["agent"]["source"].as_str()),
        (Some("sales_agent"), Some("store"))
    );

    // The compile step's verdict, with the field inside agent_config.
    let mut bad = agent_body("Broken");
    bad["agent_config"]["language"] = json!("Klingon");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(bad)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("invalid_agent_config"), Some("agent_config.language"))
    );
    assert!(body["detail"].as_str().unwrap().contains("Klingon"), "{body}");
    let mut bad = agent_body("Broken");
    bad["agent_config"]["llm_model"]["name"] = json!("Eliza");
    let (_, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(bad)).await;
    assert_eq!(body["field"], "agent_config.llm_model.name");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(json!({"agent_type": "x"}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agent_config")), "{body}");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(agent_body("Sales Agent"))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::CONFLICT, Some("agent_type")));
    let mut other_org = agent_body("Mine");
    other_org["org_id"] = json!("ffffff");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(other_org)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::FORBIDDEN, Some("org_id")));
    let mut reserved = agent_body("Demo");
    reserved["agent_id"] = json!("demo");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(reserved)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agent_id")));

    // Reads by name, by id, by org.
    let (code, agent) = h.call(Method::GET, "/api/v1/agents/Sales%20Agent", Some(&owner), None).await;
    assert_eq!((code, agent["agent_config"]["greeting_message"].as_str()), (StatusCode::OK, Some("नमस्ते")), "{agent}");
    assert_eq!(agent["telephony_provider"], "Vobiz");
    let (code, by_id) = h.call(Method::GET, "/api/v1/agents/id/sales_agent", Some(&owner), None).await;
    assert_eq!((code, &by_id), (StatusCode::OK, &agent));
    let (code, list) = h.call(Method::GET, &format!("/api/v1/agents/org/{org}"), Some(&owner), None).await;
    assert_eq!((code, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));

    // Another org cannot take the id (ids route calls across orgs) and sees none of this org's agents.
    let (other, stranger) = h.other_org("ravi@other.io").await;
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&stranger), Some(agent_body("Sales Agent"))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::CONFLICT, Some("agent_id")), "{body}");
    assert_eq!(
        h.call(Method::GET, "/api/v1/agents/id/sales_agent", Some(&stranger), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.call(Method::GET, &format!("/api/v1/agents/org/{org}"), Some(&stranger), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, theirs) = h.call(Method::GET, &format!("/api/v1/agents/org/{other}"), Some(&stranger), None).await;
    assert_eq!((code, theirs), (StatusCode::OK, json!([])));

    // Update by id (greeting), rename by name; the new name is unique in the org.
    let update = json!({"agent_config": {"language": "Hindi", "greeting_message": "Namaste again"}});
    let (code, updated) = h.call(Method::PUT, "/api/v1/agents/id/sales_agent", Some(&owner), Some(update)).await;
    assert_eq!(
        (code, updated["agent"]["agent_config"]["greeting_message"].as_str()),
        (StatusCode::OK, Some("Namaste again"))
    );
    let bad_update = json!({"agent_config": {"language": 7}});
    let (code, body) = h.call(Method::PUT, "/api/v1/agents/id/sales_agent", Some(&owner), Some(bad_update)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agent_config.language")));
    let (code, _) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(agent_body("Support"))).await;
    assert_eq!(code, StatusCode::CREATED);
    let rename = json!({"agent_type": "Support", "agent_config": {"language": "en"}});
    let (code, body) = h.call(Method::PUT, "/api/v1/agents/Sales%20Agent", Some(&owner), Some(rename)).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::CONFLICT, Some("agent_type")));
    let call = json!({"meeting_id": "CA-9", "agent_type": "Sales Agent", "agent_id": "sales_agent", "created_at": "2024-11-19T07:00:00.000Z"});
    h.state
        .store()
        .put(Collection::CallLogs, &Record { org_id: org.clone(), id: "CA-9".into(), doc: call })
        .await
        .unwrap();
    let rename = json!({"agent_type": "Sales & Renewals", "agent_config": {"language": "en"}});
    let (code, body) = h.call(Method::PUT, "/api/v1/agents/Sales%20Agent", Some(&owner), Some(rename)).await;
    assert_eq!((code, body["agent"]["agent_id"].as_str()), (StatusCode::OK, Some("sales_agent")), "{body}");
    // The rename reaches the call history (filters by name keep finding the agent's calls).
    let (_, calls) =
        h.call(Method::GET, "/api/v1/meetings?agent_type=Sales%20%26%20Renewals", Some(&owner), None).await;
    assert_eq!(calls["total"], 1, "{calls}");

    // Members and accounts: own org and own account only.
    let (code, members) = h.call(Method::GET, &format!("/api/v1/members/{org}"), Some(&owner), None).await;
    assert_eq!((code, members["count"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(members["members"][0]["is_owner"], true);
    assert_eq!(
        h.call(Method::GET, &format!("/api/v1/members/{org}"), Some(&stranger), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, user) = h.call(Method::GET, "/api/v1/users/Asha@acme.io", Some(&owner), None).await;
    assert_eq!((code, user["email"].as_str()), (StatusCode::OK, Some("asha@acme.io")));
    assert_eq!(h.call(Method::GET, "/api/v1/users/asha@acme.io", Some(&stranger), None).await.0, StatusCode::FORBIDDEN);

    // A viewer reads but does not write.
    let viewer = h.member("v@acme.io", &org, Role::Viewer).await;
    assert_eq!(h.call(Method::GET, "/api/v1/agents/id/support", Some(&viewer), None).await.0, StatusCode::OK);
    let (code, body) = h.call(Method::DELETE, "/api/v1/agents/id/support", Some(&viewer), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "deleting agents needs the member role or higher; you are viewer");

    // Deletes: by query (names with '/' or '&'), by id.
    let (code, _) =
        h.call(Method::DELETE, "/api/v1/agents?agent_type=Sales%20%26%20Renewals", Some(&owner), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(h.call(Method::GET, "/api/v1/agents/id/sales_agent", Some(&owner), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::DELETE, "/api/v1/agents/id/support", Some(&owner), None).await.0, StatusCode::OK);
    assert_eq!(h.call(Method::DELETE, "/api/v1/agents/id/support", Some(&owner), None).await.0, StatusCode::NOT_FOUND);
}

async fn meetings_are_filtered_paged_and_parsed_within_the_org(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io", "Acme").await;
    let owner = h.token("asha@acme.io").await;
    for i in 0..7 {
        let doc = json!({"meeting_id": format!("CA-{i}"), "agent_type": if i % 2 == 0 { "Sales" } else { "Support" },
                         "inbound": i < 5, "from_number": "+919900000001", "to_number": "+918000000001",
                         "created_at": format!("2024-11-1{i}T07:00:00.000Z"), "duration": f64::from(i) * 10.0,
                         "end_time_utc": format!("2024-11-1{i}T07:10:00.000Z"), "call_busy": i == 6,
                         "recording_url": format!("minio://recordings/CA-{i}.wav"),
                         "transcript_content": "[2024-11-19T07:06:40Z] user: नमस्ते\n[2024-11-19T07:06:41Z] assistant: Hello!"});
        h.state
            .store()
            .put(Collection::CallLogs, &Record { org_id: org.clone(), id: format!("CA-{i}"), doc })
            .await
            .unwrap();
    }
    let theirs = json!({"meeting_id": "CB-1", "agent_type": "Sales", "created_at": "2024-11-19T07:00:00.000Z"});
    h.state
        .store()
        .put(Collection::CallLogs, &Record { org_id: "other".into(), id: "CB-1".into(), doc: theirs })
        .await
        .unwrap();

    let (code, page) = h.call(Method::GET, "/api/v1/meetings?limit=3&page=2", Some(&owner), None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    let ids = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["meeting_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (ids(&page), page["total"].as_u64(), page["page"].as_u64(), page["limit"].as_u64()),
        (vec!["CA-3".into(), "CA-2".into(), "CA-1".into()], Some(7), Some(2), Some(3))
    );
    let (_, page) = h
        .call(Method::GET, "/api/v1/meetings?agent_type=Sales&inbound=true&date_sort_order=oldest", Some(&owner), None)
        .await;
    assert_eq!(ids(&page), ["CA-0", "CA-2", "CA-4"]);
    let (_, page) = h.call(Method::GET, "/api/v1/meetings?call_status=Busy", Some(&owner), None).await;
    assert_eq!(ids(&page), ["CA-6"]);
    let (_, page) = h
        .call(
            Method::GET,
            "/api/v1/meetings?duration_sort_order=longest&limit=2&call_status=Completed",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!((ids(&page), page["total"].as_u64()), (vec!["CA-5".into(), "CA-4".into()], Some(6)));
    let (_, page) =
        h.call(Method::GET, "/api/v1/meetings?date_from=2024-11-12&date_to=2024-11-13", Some(&owner), None).await;
    assert_eq!(ids(&page), ["CA-3", "CA-2"]);
    let (code, body) = h.call(Method::GET, "/api/v1/meetings?date_from=last%20week", Some(&owner), None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("date_from")));
    let (code, body) = h.call(Method::GET, "/api/v1/meetings?page=abc", Some(&owner), None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("page")), "{body}");

    let (code, options) = h.call(Method::GET, "/api/v1/meetings/filter-options", Some(&owner), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        options,
        json!({"agent_types": ["Sales", "Support"], "from_numbers": ["+919900000001"], "to_numbers": ["+918000000001"],
               "call_statuses": ["Busy", "Completed", "In Progress"]})
    );

    let (code, detail) = h.call(Method::GET, "/api/v1/meetings/CA-1", Some(&owner), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        detail["transcript"],
        json!([{"role": "user", "content": "नमस्ते", "timestamp": "2024-11-19T07:06:40Z"},
                                            {"role": "agent", "content": "Hello!", "timestamp": "2024-11-19T07:06:41Z"}])
    );
    assert_eq!(detail["recording_url"], "/api/v1/meetings/CA-1/recording");
    let (code, body) = h.call(Method::GET, "/api/v1/meetings/CB-1", Some(&owner), None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("2024-11-19"), "{body}");
}

/// The `meeting_id`s of a meetings page.
fn meeting_ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|m| m["meeting_id"].as_str().unwrap().to_string()).collect()
}

async fn meetings_page_by_signed_cursor_in_every_order_and_filter_within_the_org(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io", "Acme").await;
    let owner = h.token("asha@acme.io").await;
    let (other_org, stranger) = h.other_org("ravi@other.io").await;
    // Ties on every sort key (four creation times, three durations), calls with no duration or creation time.
    for i in 0..14u32 {
        let mut doc = json!({"meeting_id": format!("CA-{i:02}"), "agent_type": if i % 3 == 0 { "Sales" } else { "Support" },
                             "inbound": i % 2 == 0, "from_number": "+919900000001", "to_number": "+918000000001",
                             "call_busy": i % 5 == 0, "latency_metrics": {"turns": if i % 4 == 0 { json!([{"stt_ms": 90}]) } else { json!([]) }}});
        if i != 13 {
            doc["created_at"] = json!(format!("2024-11-1{}T07:00:00.000Z", i % 4));
        }
        if i % 7 != 6 {
            doc["duration"] = json!([10.0, 25.5, 10.0][i as usize % 3]);
        }
        if i % 5 != 0 && i % 3 != 2 {
            doc["end_time_utc"] = json!("2024-11-19T07:10:00.000Z");
        }
        h.state
            .store()
            .put(Collection::CallLogs, &Record { org_id: org.clone(), id: format!("CA-{i:02}"), doc })
            .await
            .unwrap();
    }
    let theirs = json!({"meeting_id": "CB-01", "agent_type": "Sales", "created_at": "2024-11-12T07:00:00.000Z", "duration": 10.0});
    h.state
        .store()
        .put(Collection::CallLogs, &Record { org_id: other_org.clone(), id: "CB-01".into(), doc: theirs })
        .await
        .unwrap();
    let h = &h;
    let get = |path: String, token: String| async move {
        let (code, body) = h.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(code, StatusCode::OK, "{path}: {body}");
        body
    };

    // Equal creation times are ordered by id, the same on every page.
    let whole = get("/api/v1/meetings?limit=50".into(), owner.clone()).await;
    let newest: Vec<String> =
        [11, 7, 3, 10, 6, 2, 9, 5, 1, 12, 8, 4, 0, 13].iter().map(|i| format!("CA-{i:02}")).collect();
    assert_eq!((meeting_ids(&whole), whole["next_cursor"].clone()), (newest, Value::Null));

    let sorts = ["", "date_sort_order=oldest", "duration_sort_order=longest", "duration_sort_order=shortest"];
    let filters = [
        "",
        "call_status=Busy",
        "call_status=Completed",
        "call_status=In%20Progress",
        "inbound=true",
        "agent_type=Sales&inbound=false",
        "date_from=2024-11-11&date_to=2024-11-12",
        "has_latency_metrics=true",
    ];
    for sort in sorts {
        for filter in filters {
            let selection = format!("{sort}&{filter}");
            let whole = get(format!("/api/v1/meetings?{selection}&limit=50"), owner.clone()).await;
            let expected = meeting_ids(&whole);
            for limit in [1, 2, 3] {
                let mut walked = Vec::new();
                let mut page = get(format!("/api/v1/meetings?{selection}&limit={limit}"), owner.clone()).await;
                for n in 1.. {
                    assert_eq!(
                        (page["total"].clone(), page["page"].as_u64(), page["limit"].as_u64()),
                        (whole["total"].clone(), Some(n), Some(limit)),
                        "{selection} by {limit}: {page}"
                    );
                    walked.extend(meeting_ids(&page));
                    assert!(walked.len() <= expected.len(), "{selection} by {limit}: {walked:?}");
                    let Some(cursor) = page["next_cursor"].as_str() else { break };
                    page =
                        get(format!("/api/v1/meetings?{selection}&limit={limit}&cursor={cursor}"), owner.clone()).await;
                }
                assert_eq!(walked, expected, "{selection}: walked by cursor, {limit} a page");
            }
            // The original's page numbers still page the same order, and give a cursor to continue by.
            let second = get(format!("/api/v1/meetings?{selection}&limit=2&page=2"), owner.clone()).await;
            assert_eq!(
                meeting_ids(&second),
                expected.iter().skip(2).take(2).cloned().collect::<Vec<_>>(),
                "{selection}"
            );
            assert_eq!(second["next_cursor"].is_string(), expected.len() > 4, "{selection}: {second}");
            if let Some(cursor) = second["next_cursor"].as_str() {
                let third = get(format!("/api/v1/meetings?{selection}&limit=2&cursor={cursor}"), owner.clone()).await;
                assert_eq!(meeting_ids(&third), expected.iter().skip(4).take(2).cloned().collect::<Vec<_>>());
                assert_eq!(third["page"], 3);
            }
        }
    }

    // A call added while a client walks neither repeats nor skips one.
    let first = get("/api/v1/meetings?limit=5".into(), owner.clone()).await;
    let newer = json!({"meeting_id": "CA-99", "agent_type": "Sales", "created_at": "2024-11-19T07:00:00.000Z", "duration": 1.0});
    h.state
        .store()
        .put(Collection::CallLogs, &Record { org_id: org.clone(), id: "CA-99".into(), doc: newer })
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let rest = get(format!("/api/v1/meetings?limit=50&cursor={cursor}"), owner.clone()).await;
    let mut walked = meeting_ids(&first);
    walked.extend(meeting_ids(&rest));
    assert_eq!(walked, meeting_ids(&whole), "the newer call is on page 1 now, not in the walk");

    // Forged, altered, mismatched: 422 naming the cursor, never a page.
    let refused = |path: String, token: String| async move {
        let (code, body) = h.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(
            (code, body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor")),
            "{path}: {body}"
        );
        assert!(body.get("items").is_none() && !body.to_string().contains("CA-"), "{body}");
        body["code"].as_str().unwrap().to_string()
    };
    let (payload, tag) = cursor.split_once('.').unwrap();
    let mut altered = payload.as_bytes().to_vec();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let altered = format!("{}.{tag}", String::from_utf8(altered).unwrap());
    for forged in [altered.as_str(), "bm90IGEgY3Vyc29y.AAAA", "nonsense", ".", &format!("{payload}.{}", &tag[1..])] {
        assert_eq!(
            refused(format!("/api/v1/meetings?cursor={forged}"), owner.clone()).await,
            "invalid_cursor",
            "{forged}"
        );
    }
    // Signed with another node's key (not this deployment's token key).
    let foreign = voicera_api::call_log_cursor::encode(
        &voicera_api::auth::token::TokenKey::new([1; 32]),
        &voicera_store::call_logs::CallLogQuery { org_id: org.clone(), ..Default::default() },
        &voicera_api::call_log_cursor::Cursor { key: None, position: 3 },
    );
    assert_eq!(refused(format!("/api/v1/meetings?cursor={foreign}"), owner.clone()).await, "invalid_cursor");
    for other in [
        "call_status=Busy",
        "date_sort_order=oldest",
        "duration_sort_order=longest",
        "inbound=true",
        "agent_type=Sales",
    ] {
        assert_eq!(
            refused(format!("/api/v1/meetings?{other}&cursor={cursor}"), owner.clone()).await,
            "cursor_mismatch",
            "{other}"
        );
    }
    // Another org's cursor shows nothing of either org.
    assert_eq!(refused(format!("/api/v1/meetings?cursor={cursor}"), stranger.clone()).await, "cursor_mismatch");
    let theirs = get("/api/v1/meetings?limit=1".into(), stranger.clone()).await;
    assert_eq!(
        (meeting_ids(&theirs), theirs["total"].as_u64(), theirs["next_cursor"].clone()),
        (vec!["CB-01".to_string()], Some(1), Value::Null)
    );
    // A page number and a cursor together are ambiguous.
    let (code, body) =
        h.call(Method::GET, &format!("/api/v1/meetings?page=2&cursor={cursor}"), Some(&owner), None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("page")), "{body}");
    // The export starts at a cursor too.
    let request = Request::get(format!("/api/v1/meetings/export?limit=2&cursor={cursor}"))
        .header(header::AUTHORIZATION, format!("Bearer {owner}"))
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csv = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(rows, meeting_ids(&whole)[5..7].iter().map(String::as_str).collect::<Vec<_>>());

    // The document describes the cursor and the answer that carries the next one.
    let document = voicera_api::openapi::document();
    let list = &document["paths"]["/api/v1/meetings"]["get"];
    let cursor_doc = list["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "cursor").unwrap();
    assert!(cursor_doc["description"].as_str().unwrap().contains("cursor_mismatch"), "{cursor_doc}");
    let answer = &list["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(answer["properties"]["next_cursor"]["type"], json!(["string", "null"]));
    assert_eq!(answer["required"], json!(["items", "total", "page", "limit", "next_cursor"]));
}

async fn the_owner_from_the_environment_is_created_once(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let created = voicera_api::bootstrap_owner(&h.state, "Admin@Example.com", "admin-pass-1").await.unwrap();
    let voicera_api::Bootstrap::Created { org_id } = created else { panic!("{created:?}") };
    let again = voicera_api::bootstrap_owner(&h.state, "admin@example.com", "another-pass").await.unwrap();
    assert_eq!(again, voicera_api::Bootstrap::Exists { org_id: org_id.clone() });
    // The password it was created with stays; the owner logs in and signup is now closed.
    let (code, session) = h.login("admin@example.com", "admin-pass-1").await;
    assert_eq!((code, session["org_id"].as_str()), (StatusCode::OK, Some(org_id.as_str())));
    let (_, me) = h.call(Method::GET, "/api/v1/users/me", session["access_token"].as_str(), None).await;
    assert_eq!(me["role"], "owner");
    let signup = json!({"email": "b@acme.io", "password": "s3cret-pass", "name": "B", "company_name": "B"});
    assert_eq!(h.call(Method::POST, "/api/v1/users/signup", None, Some(signup)).await.0, StatusCode::FORBIDDEN);
    let err = voicera_api::bootstrap_owner(&h.state, "root", "admin-pass-1").await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("VOICERA_ADMIN_EMAIL"));
}

/// A body with every required field of the operation's schema, plausibly filled.
fn sample_body(schema: &Value) -> Value {
    let mut body = serde_json::Map::new();
    for field in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let value = match schema["properties"][field]["type"].as_str() {
            Some("object") => json!({"language": "en"}),
            Some("array") => json!([format!("sweep-{field}")]),
            _ => json!(format!("sweep-{field}@x.io")),
        };
        body.insert(field.into(), value);
    }
    Value::Object(body)
}

async fn every_documented_operation_refuses_strangers_forgeries_other_orgs_and_viewers(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io", "Acme").await;
    let expired = h.token("asha@acme.io").await;
    h.clock.advance(16 * 60 * 1000);
    let owner = h.token("asha@acme.io").await;
    let (_, created) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(agent_body("Sales Agent"))).await;
    assert_eq!(created["agent_id"], "sales_agent");
    let (_, key) = h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "A's key"}))).await;
    let key_id = key["key_id"].as_str().unwrap().to_string();
    let call = json!({"meeting_id": "CA-SECRET", "agent_type": "Sales Agent", "created_at": "2024-11-19T07:00:00.000Z",
                      "transcript_content": "user: SECRET-TRANSCRIPT-A"});
    h.state
        .store()
        .put(Collection::CallLogs, &Record { org_id: org.clone(), id: "CA-SECRET".into(), doc: call })
        .await
        .unwrap();
    let viewer = h.member("viewer@acme.io", &org, Role::Viewer).await;
    let (_, stranger) = h.other_org("ravi@other.io").await;
    // A token signed with another key, claiming to be the owner.
    let forged = {
        let other = ApiState::new(h.state.store().clone(), [1; 32], Arc::new(CompileStep), ApiConfig::default());
        let member = accounts::member(h.state.store(), &org, "asha@acme.io").await.unwrap().unwrap();
        accounts::start_session(&other, &member, "forged").await.unwrap().access_token
    };

    let document = voicera_api::openapi::document();
    let mut swept = 0;
    for operation in voicera_api::routes::operations() {
        let path = operation
            .path
            .replace("{agent_type}", "Sales%20Agent")
            .replace("{agent_id}", "sales_agent")
            .replace("{org_id}", &org)
            .replace("{meeting_id}", "CA-SECRET")
            .replace("{key_id}", &key_id)
            .replace("{email}", "asha@acme.io");
        let path = format!(
            "/api/v1{path}{}",
            if operation.operation_id == "delete_agent_by_query" { "?agent_type=Sales%20Agent" } else { "" }
        );
        let documented =
            &document["paths"][format!("/api/v1{}", operation.path)][operation.method.as_str().to_lowercase()];
        let body = documented.pointer("/requestBody/content/application~1json/schema").map(sample_body);
        let what = format!("{} {path}", operation.method);
        let Access::AtLeast(min_role) = operation.access else {
            assert_eq!(documented["security"], json!([]), "{what}");
            continue;
        };
        swept += 1;
        for (credential, label) in [
            (None, "no credentials"),
            (Some(forged.as_str()), "forged token"),
            (Some(expired.as_str()), "expired token"),
            (Some("vk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "unknown key"),
        ] {
            let (code, answer) = h.call(operation.method.clone(), &path, credential, body.clone()).await;
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{what} with {label}: {answer}");
            assert_eq!(answer["code"], "unauthorized", "{what}");
        }
        let (code, answer) = h.call(operation.method.clone(), &path, Some(&stranger), body.clone()).await;
        let text = answer.to_string();
        assert!(!text.contains("SECRET-") && !text.contains("A's key"), "{what} as another org leaked: {text}");
        if ["vobiz", "plivo"].contains(&operation.tag) {
            // Their ids are the provider's, reached with the caller's own org's account: this org has none.
            assert_eq!(answer["code"], "no_provider_account", "{what} as another org: {code} {text}");
        } else if operation.path.contains("{") {
            assert!(
                code == StatusCode::NOT_FOUND || code == StatusCode::FORBIDDEN,
                "{what} as another org: {code} {text}"
            );
        }
        if min_role > Role::Viewer {
            let (code, answer) = h.call(operation.method.clone(), &path, Some(&viewer), body.clone()).await;
            assert_eq!(code, StatusCode::FORBIDDEN, "{what} as a viewer: {answer}");
        }
    }
    assert!(swept >= 15, "{swept} operations swept");
    // Nothing of the first org was changed by the others.
    let (code, agent) = h.call(Method::GET, "/api/v1/agents/id/sales_agent", Some(&owner), None).await;
    assert_eq!((code, agent["agent_config"]["system_prompt"].as_str()), (StatusCode::OK, Some("SECRET-PROMPT-A")));
    let (_, keys) = h.call(Method::GET, "/api/v1/api-keys", Some(&owner), None).await;
    assert_eq!(keys["keys"][0]["revoked_at"], Value::Null);
}

/// The router is built from the route table; this catches a route added around it. Paths come from the built
/// router itself (its `Debug` lists them); each method a path answers must be a documented operation, and each
/// documented operation must be routed.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations_and_limits_bodies() {
    let h = harness("sqlite", ApiConfig { body_limit: 64 * 1024, ..ApiConfig::default() }).await;
    let debug = format!("{:?}", h.app);
    let paths: std::collections::BTreeSet<&str> =
        debug.split('"').filter(|s| s.starts_with("/api/v1/") && !s.contains("{*")).collect();
    assert!(paths.len() >= 12, "{paths:?} from {debug}");
    let document = voicera_api::openapi::document();
    let fallback = |code: StatusCode, body: &Value| {
        code == StatusCode::NOT_FOUND && body["detail"].as_str().is_some_and(|d| d.starts_with("no such API route"))
    };
    let concrete =
        |path: &str| path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
    for path in &paths {
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let (code, body) = h.call(method.clone(), &concrete(path), None, None).await;
            if code != StatusCode::METHOD_NOT_ALLOWED && !fallback(code, &body) {
                let documented = &document["paths"][*path][method.as_str().to_lowercase()];
                assert!(documented.is_object(), "{method} {path} is routed but not in the OpenAPI document");
            }
        }
    }
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (code, body) = h.call(method.clone(), &concrete(path), None, None).await;
            assert!(
                code != StatusCode::METHOD_NOT_ALLOWED && !fallback(code, &body),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(operations, voicera_api::routes::operations().len());
    assert_eq!(document["openapi"], "3.1.0");
    let (code, served) = h.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!((code, &served), (StatusCode::OK, document));
    // The browsable docs: a page in the binary that reads the document (nothing from the internet).
    let request = Request::builder().uri("/api/docs").body(Body::empty()).unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let page = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(page.contains("/api/v1/openapi.json") && !page.contains("https://"), "self-contained docs page");
    assert_eq!(document["components"]["securitySchemes"]["session"]["in"], "cookie");
    let (code, body) = h.call(Method::GET, "/api/v1/no/such/route", None, None).await;
    assert!(fallback(code, &body), "{body}");
    let (code, body) = h.call(Method::GET, "/api/v1/users/login", None, None).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));

    // A body above the limit is refused before it is read whole.
    h.signup("asha@acme.io", "Acme").await;
    let owner = h.token("asha@acme.io").await;
    let mut huge = agent_body("Huge");
    huge["agent_config"]["system_prompt"] = json!("x".repeat(100 * 1024));
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(huge)).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")), "{body}");
    let (code, body) = h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(json!("not an object"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// The original's routes answer success with the original's status (its FastAPI decorators' `status_code`):
/// its front end and scripts may test for 201. Each is documented so in the route table, which the replay of
/// the original's flows (`tests/original_client.rs`) and the scenarios above check against the handlers.
#[test]
fn the_originals_routes_keep_its_success_statuses() {
    const ORIGINAL: &[(&str, &str, u16)] = &[
        ("POST", "/users/signup", 201),
        ("POST", "/users/login", 200),
        ("GET", "/users/me", 200),
        ("GET", "/users/{email}", 200),
        ("POST", "/users/forgot-password", 200),
        ("POST", "/users/reset-password", 200),
        ("POST", "/members/add-member", 201),
        ("GET", "/members/{org_id}", 200),
        ("POST", "/members/delete-member", 200),
        ("POST", "/members/transfer-ownership", 200),
        ("POST", "/agents", 201),
        ("GET", "/agents/org/{org_id}", 200),
        ("GET", "/agents/{agent_type}", 200),
        ("PUT", "/agents/{agent_type}", 200),
        ("DELETE", "/agents/{agent_type}", 200),
        ("DELETE", "/agents", 200),
        ("GET", "/meetings/filter-options", 200),
        ("GET", "/meetings", 200),
        ("GET", "/meetings/{meeting_id}", 200),
        ("GET", "/meetings/{meeting_id}/recording", 200),
        ("GET", "/phone-numbers/org/{org_id}", 200),
        ("GET", "/phone-numbers/agent/{agent_type}", 200),
        ("POST", "/phone-numbers/attach", 201),
        ("DELETE", "/phone-numbers/detach", 200),
        ("POST", "/vobiz/application", 201),
        ("GET", "/vobiz/numbers", 200),
        ("DELETE", "/vobiz/application/{application_id}", 200),
        ("POST", "/vobiz/numbers/link", 201),
        ("DELETE", "/vobiz/numbers/unlink", 200),
        ("POST", "/plivo/application", 201),
        ("GET", "/plivo/numbers", 200),
        ("DELETE", "/plivo/application/{application_id}", 200),
        ("POST", "/plivo/numbers/link", 201),
        ("DELETE", "/plivo/numbers/unlink", 200),
        ("GET", "/analytics", 200),
        ("POST", "/integrations", 201),
        ("GET", "/integrations", 200),
        ("GET", "/integrations/{model}", 200),
        ("DELETE", "/integrations/{model}", 200),
        ("GET", "/custom-llm-integrations", 200),
        ("POST", "/custom-llm-integrations", 201),
        ("PUT", "/custom-llm-integrations/{custom_llm_id}", 200),
        ("DELETE", "/custom-llm-integrations/{custom_llm_id}", 200),
        ("GET", "/knowledge", 200),
        ("POST", "/knowledge/upload", 201),
        ("DELETE", "/knowledge/{document_id}", 200),
        ("POST", "/rag/retrieve", 200),
        ("GET", "/batches", 200),
        ("POST", "/batches/upload", 201),
        ("DELETE", "/batches/{batch_id}", 200),
        ("POST", "/batches/{batch_id}/run", 200),
        ("POST", "/batches/{batch_id}/stop", 200),
        ("POST", "/batches/{batch_id}/schedule", 200),
        ("POST", "/batches/{batch_id}/schedule/reschedule", 200),
        ("POST", "/batches/{batch_id}/schedule/cancel", 200),
    ];
    let operations = voicera_api::routes::operations();
    let document = voicera_api::openapi::document();
    for (method, path, status) in ORIGINAL {
        let operation = operations
            .iter()
            .find(|o| o.method.as_str() == *method && o.path == *path)
            .unwrap_or_else(|| panic!("the original's {method} {path} is not served"));
        assert_eq!(operation.success, *status, "{method} {path}");
        let documented = &document["paths"][format!("/api/v1{path}")][method.to_lowercase()]["responses"];
        assert!(documented[status.to_string()].is_object(), "{method} {path} documents {documented}");
    }
}
