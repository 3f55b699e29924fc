//! The control-plane API served by the binary: the owner from `VOICERA_ADMIN_EMAIL`/`VOICERA_ADMIN_PASSWORD`
//! exists from the first start and logs in; its token reads `users/me` and creates an agent that the same
//! compile step as `[[agents]]` checked (a wrong field is a 422 naming it); strangers get 401; the OpenAPI
//! document is served. (The API's own suite, on SQLite and MongoDB, is `api/tests/control_plane.rs`.)

mod common;

use common::api::{request, OWNER};
use common::Server;
use serde_json::json;

#[test]
fn the_owner_logs_in_and_manages_agents_over_the_served_api() {
    let server = Server::start_env("control-plane", "", false, &OWNER);
    let (status, _) = request(server.http, "GET", "/api/v1/users/me", "", None);
    assert_eq!(status, 401, "a stranger is nobody");
    let (status, _) = request(server.http, "GET", "/api/v1/agents/org/any", "", None);
    assert_eq!(status, 401, "a stranger reads no agents");
    let (status, document) = request(server.http, "GET", "/api/v1/openapi.json", "", None);
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{document}");

    let login = json!({"email": OWNER[0].1, "password": OWNER[1].1});
    let (status, session) = request(server.http, "POST", "/api/v1/users/login", "", Some(login));
    assert_eq!(status, 200, "{session}");
    let token = session["access_token"].as_str().expect("an access token").to_string();
    let (status, me) = request(server.http, "GET", "/api/v1/users/me", &token, None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER[0].1);
    assert_eq!(me["is_owner"], true);
    let wrong = json!({"email": OWNER[0].1, "password": "not-the-password"});
    assert_eq!(request(server.http, "POST", "/api/v1/users/login", "", Some(wrong)).0, 401);

    // An agent whose config the `[[agents]]` compile step refuses: 422 naming the field.
    let org = me["org_id"].as_str().unwrap().to_string();
    let bad = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help.", "greeting_message": "Hi.", "llm_model": {"name": "no-such-model"}}});
    let (status, error) = request(server.http, "POST", "/api/v1/agents", &token, Some(bad));
    assert_eq!(status, 422, "{error}");
    assert!(error["field"].as_str().is_some_and(|f| f.contains("llm_model")), "{error}");
    let good = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help callers of Acme.", "greeting_message": "Hello, Acme here.",
        "llm_model": {"name": "smollm2-135m"}, "language": "en"}});
    let (status, created) = request(server.http, "POST", "/api/v1/agents", &token, Some(good));
    assert!(status == 200 || status == 201, "{status} {created}");
    let (status, listed) = request(server.http, "GET", &format!("/api/v1/agents/org/{org}"), &token, None);
    assert_eq!(status, 200, "{listed}");
    assert!(listed.to_string().contains("support"), "{listed}");
}
