//! The account side of the control plane through `oneshot`, on both stores (SQLite file and MongoDB via
//! SecantusDB): password resets by mailed link, invites, member management and ownership, the console's cookie
//! session and its CSRF token, CORS, the audit log, and the credential check other routes share. Time is a
//! [`ManualClock`]; mail goes to a file outbox the tests read.

#[macro_use]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::clock::ManualClock;
use voicera_api::{accounts, AgentValidator, ApiConfig, ApiState, Credential, FieldError, MailConfig, Role};
use voicera_store::Collection;

struct AnyConfig;

impl AgentValidator for AnyConfig {
    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        match config.get("language").and_then(Value::as_str) {
            Some(_) => Ok(()),
            None => Err(FieldError { field: "language".into(), message: "give a language".into() }),
        }
    }
}

struct Harness {
    app: Router,
    state: ApiState,
    clock: Arc<ManualClock>,
    outbox: std::path::PathBuf,
    _backing: common::Backing,
}

const T0: i64 = 1_732_000_000_000;
const CONSOLE: &str = "https://console.acme.io";
const MINUTE: i64 = 60 * 1000;

async fn harness(kind: &str, config: ApiConfig) -> Harness {
    let (store, backing) = common::test_store(kind, "api").await;
    let clock = Arc::new(ManualClock::at(T0));
    let outbox = backing.dir.path().join("outbox");
    let config = ApiConfig {
        password_cost: PasswordCost::Minimal,
        mail: MailConfig::Files { dir: outbox.clone(), from: "VoiceERA <noreply@acme.io>".into() },
        ..config
    };
    let state = ApiState::with_clock(store, [9; 32], Arc::new(AnyConfig), config, clock.clone());
    Harness { app: voicera_api::control_plane(state.clone()), state, clock, outbox, _backing: backing }
}

fn console() -> ApiConfig {
    ApiConfig { public_url: Some(format!("{CONSOLE}/")), ..ApiConfig::default() }
}

/// A request's credentials and extra headers.
#[derive(Default, Clone)]
struct With {
    bearer: Option<String>,
    cookie: Option<String>,
    csrf: Option<String>,
    origin: Option<String>,
}

impl Harness {
    async fn send(
        &self,
        method: Method,
        path: &str,
        with: &With,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = &with.bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(cookie) = &with.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(csrf) = &with.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(origin) = &with.origin {
            request = request.header(header::ORIGIN, origin);
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, value)
    }

    async fn send_headers(&self, method: Method, path: &str, headers: HeaderMap) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        *request.headers_mut() = headers;
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer_token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let with = With { bearer: bearer_token.map(str::to_string), ..With::default() };
        let (code, _, value) = self.send(method, path, &with, body).await;
        (code, value)
    }

    async fn signup(&self, email: &str) -> String {
        let body = json!({"email": email, "password": "s3cret-pass", "name": "Asha", "company_name": "Acme"});
        let (code, body) = self.call(Method::POST, "/api/v1/users/signup", None, Some(body)).await;
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

    async fn member(&self, email: &str, org: &str, role: Role) -> String {
        accounts::create_user(&self.state, email, "s3cret-pass", "M", "Acme", org, role).await.unwrap();
        self.token(email).await
    }

    /// The messages in the outbox, oldest first.
    fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut names: Vec<_> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// The operations of the org's audit log, newest first, as the owner reads it.
    async fn audit(&self, token: &str) -> Vec<(String, String, String)> {
        let (code, page) = self.call(Method::GET, "/api/v1/audit?limit=200", Some(token), None).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (text("operation"), text("target"), text("user"))
            })
            .collect()
    }
}

/// `token` with its last character changed (a guess one character off).
fn tampered(token: &str) -> String {
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    format!("{}{last}", &token[..token.len() - 1])
}

/// The first word of `text` starting with `prefix` (a token in a mail or link).
fn word_starting(text: &str, prefix: &str) -> String {
    let at = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at..].split(|c: char| c.is_whitespace()).next().unwrap().to_string()
}

/// The `name=value` pairs of a response's `Set-Cookie` headers, joined as a request's `Cookie` header.
fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

on_both_stores!(
    a_reset_link_is_mailed_works_once_before_it_expires_and_ends_every_session,
    password_reset_requests_are_rate_limited_per_email,
    invites_are_bound_to_an_email_and_role_expire_and_work_once,
    an_existing_account_joins_by_invite_with_its_password,
    roles_change_and_members_leave_within_what_the_caller_may_do,
    ownership_moves_only_from_the_owner_and_the_org_always_has_exactly_one,
    cookie_sessions_need_the_csrf_token_for_changes_and_logout_ends_them,
    cors_headers_go_only_to_the_console_origin,
    every_change_is_audited_and_only_owners_and_admins_read_the_log,
    other_routes_authenticate_with_the_api_credentials,
);

async fn a_reset_link_is_mailed_works_once_before_it_expires_and_ends_every_session(kind: &str) {
    let h = harness(kind, console()).await;
    h.signup("asha@acme.io").await;
    let (_, bearer_session) = h.login("asha@acme.io", "s3cret-pass").await;
    let (_, headers, _) = h
        .send(
            Method::POST,
            "/api/v1/users/login",
            &With::default(),
            Some(json!({"email": "asha@acme.io", "password": "s3cret-pass", "session_cookie": true})),
        )
        .await;
    let cookie = With { cookie: Some(cookies(&headers)), ..With::default() };
    assert_eq!(h.send(Method::GET, "/api/v1/users/me", &cookie, None).await.0, StatusCode::OK);

    // An unknown email gets the same answer and no mail.
    let (code, unknown) =
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(json!({"email": "nobody@acme.io"}))).await;
    assert_eq!(code, StatusCode::OK);
    assert!(h.mails().is_empty());
    let (code, answer) =
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(json!({"email": "Asha@Acme.io "}))).await;
    assert_eq!((code, &answer), (StatusCode::OK, &unknown), "the answer tells nothing about the account");
    assert!(!answer.to_string().contains("pr_"), "{answer}");
    let mails = h.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: asha@acme.io\r\n"), "{}", mails[0]);
    let link = word_starting(&mails[0], "https://console.acme.io/reset-password?token=pr_");
    let token = link.split_once("token=").unwrap().1.to_string();
    let stored = h.state.store().find_id(Collection::PasswordResets, &token[3..19]).await.unwrap();
    assert!(!stored[0].doc.to_string().contains(&token[20..]), "the token is stored hashed");

    let reset = |token: &str, password: &str| json!({"token": token, "new_password": password});
    let (code, body) = h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&token, "short"))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("new_password")));
    let forged = tampered(&token);
    let (code, body) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&forged, "n3w-password"))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_token")), "{body}");
    let (code, body) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&token, "n3w-password"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // The new password works, the old does not, and every session ended (bearer refresh and cookie alike).
    assert_eq!(h.login("asha@acme.io", "s3cret-pass").await.0, StatusCode::UNAUTHORIZED);
    let (code, fresh) = h.login("asha@acme.io", "n3w-password").await;
    assert_eq!(code, StatusCode::OK);
    let refresh = json!({"refresh_token": bearer_session["refresh_token"]});
    assert_eq!(h.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(h.send(Method::GET, "/api/v1/users/me", &cookie, None).await.0, StatusCode::UNAUTHORIZED);

    // Once only.
    let (code, body) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&token, "an0ther-pass"))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_token")));

    // A second link works for 30 minutes and not a moment longer.
    h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(json!({"email": "asha@acme.io"}))).await;
    let second = word_starting(&h.mails()[1], "pr_");
    h.clock.advance(30 * MINUTE);
    let (code, _) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&second, "an0ther-pass"))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(json!({"email": "asha@acme.io"}))).await;
    let third = word_starting(&h.mails()[2], "pr_");
    h.clock.advance(30 * MINUTE - 1);
    let (code, _) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&third, "an0ther-pass"))).await;
    assert_eq!(code, StatusCode::OK);

    assert!(fresh["access_token"].is_string());

    // Of two open links, the one used closes the other.
    h.clock.advance(1);
    for _ in 0..2 {
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(json!({"email": "asha@acme.io"}))).await;
    }
    let (first, latest) = (word_starting(&h.mails()[3], "pr_"), word_starting(&h.mails()[4], "pr_"));
    let (code, _) =
        h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&latest, "f1nal-pass"))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = h.call(Method::POST, "/api/v1/users/reset-password", None, Some(reset(&first, "stale-pass"))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    let token = h.token_with("asha@acme.io", "f1nal-pass").await;
    let audit = h.audit(&token).await;
    let resets: Vec<_> = audit.iter().filter(|e| e.0 == "reset_password").collect();
    assert_eq!(resets.len(), 3, "{audit:?}");
    assert_eq!(resets[0].1, "asha@acme.io");
}

impl Harness {
    async fn token_with(&self, email: &str, password: &str) -> String {
        let (code, body) = self.login(email, password).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }
}

async fn password_reset_requests_are_rate_limited_per_email(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    h.signup("asha@acme.io").await;
    let forgot = |email: &str| json!({"email": email});
    for _ in 0..3 {
        let (code, _) = h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(forgot("asha@acme.io"))).await;
        assert_eq!(code, StatusCode::OK);
    }
    let request = Request::post("/api/v1/users/forgot-password")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(forgot("asha@acme.io").to_string()))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "3600");
    assert_eq!(h.mails().len(), 3, "no mail for a refused request");
    // Without a public URL, the mail carries the token itself. Another email is not limited by this one.
    assert!(h.mails()[0].contains("reset token: pr_"), "{}", h.mails()[0]);
    assert_eq!(
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(forgot("b@acme.io"))).await.0,
        StatusCode::OK
    );
    h.clock.advance(60 * MINUTE);
    assert_eq!(
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(forgot("asha@acme.io"))).await.0,
        StatusCode::OK
    );
    // The per-address limit: ten requests an hour from one source, whatever the emails.
    for i in 0..9 {
        h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(forgot(&format!("x{i}@acme.io")))).await;
    }
    let (code, body) = h.call(Method::POST, "/api/v1/users/forgot-password", None, Some(forgot("y@acme.io"))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")), "{body}");
}

async fn invites_are_bound_to_an_email_and_role_expire_and_work_once(kind: &str) {
    let h = harness(kind, console()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    let member = h.member("m@acme.io", &org, Role::Member).await;
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/invite", Some(&member), Some(json!({"email": "x@acme.io"}))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = h
        .call(
            Method::POST,
            "/api/v1/members/invite",
            Some(&owner),
            Some(json!({"email": "x@acme.io", "role": "owner"})),
        )
        .await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("role")));
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/invite", Some(&owner), Some(json!({"email": "m@acme.io"}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::CONFLICT, Some("email")));

    let (code, invite) = h
        .call(
            Method::POST,
            "/api/v1/members/invite",
            Some(&owner),
            Some(json!({"email": "Ravi@Acme.io", "role": "viewer"})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{invite}");
    let token = invite["invite_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("inv_") && token.len() >= 4 + 16 + 1 + 43, "at least 128 random bits: {token}");
    assert_eq!(invite["invite_link"], format!("{CONSOLE}/add-member/{org}-{token}"));
    assert_eq!((invite["role"].as_str(), invite["mailed"].as_bool()), (Some("viewer"), Some(true)));
    assert!(h.mails()[0].contains(&format!("{CONSOLE}/add-member/{org}-{token}")), "{}", h.mails()[0]);

    let accept = |email: &str, token: &str| json!({"email": email, "password": "ravi-pass-1", "name": "Ravi", "company_name": "ignored", "org_id": org, "invite_token": token});
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("eve@acme.io", &token))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("invalid_invite")), "{body}");
    let guessed = tampered(&token);
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("ravi@acme.io", &guessed))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let mut other_org = accept("ravi@acme.io", &token);
    other_org["org_id"] = json!("ffffffffffff");
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(other_org)).await.0,
        StatusCode::FORBIDDEN
    );

    let (code, body) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("ravi@acme.io", &token))).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let ravi = h.token_with("ravi@acme.io", "ravi-pass-1").await;
    let (_, me) = h.call(Method::GET, "/api/v1/users/me", Some(&ravi), None).await;
    assert_eq!(
        (me["org_id"].as_str(), me["role"].as_str(), me["company_name"].as_str()),
        (Some(org.as_str()), Some("viewer"), Some("Acme"))
    );
    // Once only: a second use (even to make another account) is refused.
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("ravi@acme.io", &token))).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("used"), "{body}");

    // Open invites are listed (without tokens) and can be revoked.
    let (_, gone) =
        h.call(Method::POST, "/api/v1/members/invite", Some(&owner), Some(json!({"email": "gone@acme.io"}))).await;
    let (_, late) =
        h.call(Method::POST, "/api/v1/members/invite", Some(&owner), Some(json!({"email": "late@acme.io"}))).await;
    let (code, open) = h.call(Method::GET, "/api/v1/members/invites", Some(&owner), None).await;
    assert_eq!((code, open["count"].as_u64()), (StatusCode::OK, Some(2)), "{open}");
    let listed: Vec<&str> = open["invites"].as_array().unwrap().iter().map(|i| i["email"].as_str().unwrap()).collect();
    assert!(listed.contains(&"gone@acme.io") && listed.contains(&"late@acme.io"), "{open}");
    assert!(!open.to_string().contains("inv_") && !open.to_string().contains("secret"), "{open}");
    let revoke = json!({"invite_id": gone["invite_id"]});
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/revoke-invite", Some(&member), Some(revoke.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/revoke-invite", Some(&owner), Some(revoke.clone())).await.0,
        StatusCode::OK
    );
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/revoke-invite", Some(&owner), Some(revoke)).await.0,
        StatusCode::NOT_FOUND
    );
    let gone_token = gone["invite_token"].as_str().unwrap();
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("gone@acme.io", gone_token))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("revoked"), "{body}");

    // Seven days by default, then refused.
    h.clock.advance(7 * 24 * 60 * MINUTE);
    let owner = h.token("asha@acme.io").await;
    let (_, open) = h.call(Method::GET, "/api/v1/members/invites", Some(&owner), None).await;
    assert_eq!(open["count"], 0);
    let late_token = late["invite_token"].as_str().unwrap();
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/add-member", None, Some(accept("late@acme.io", late_token))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
    assert!(accounts::find_by_email(h.state.store(), "late@acme.io").await.unwrap().is_none());
}

async fn an_existing_account_joins_by_invite_with_its_password(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    // Ravi owns a one-person org of his own, with a session and a key there.
    let solo = accounts::create_org(&h.state, "Solo").await.unwrap();
    accounts::create_user(&h.state, "ravi@solo.io", "ravi-pass-1", "Ravi", "Solo", &solo, Role::Owner).await.unwrap();
    let (_, old_session) = h.login("ravi@solo.io", "ravi-pass-1").await;
    let (_, invite) = h
        .call(
            Method::POST,
            "/api/v1/members/invite",
            Some(&owner),
            Some(json!({"email": "ravi@solo.io", "role": "member"})),
        )
        .await;
    assert_eq!(invite["invite_link"], Value::Null, "no public URL, no link");
    let token = invite["invite_token"].as_str().unwrap();
    let body =
        |password: &str| json!({"email": "ravi@solo.io", "password": password, "org_id": org, "invite_token": token});
    let (code, _) = h.call(Method::POST, "/api/v1/members/add-member", None, Some(body("wrong-pass"))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, answer) = h.call(Method::POST, "/api/v1/members/add-member", None, Some(body("ravi-pass-1"))).await;
    assert_eq!(code, StatusCode::CREATED, "{answer}");
    let (code, session) = h.login("ravi@solo.io", "ravi-pass-1").await;
    assert_eq!((code, session["org_id"].as_str()), (StatusCode::OK, Some(org.as_str())));
    let refresh = json!({"refresh_token": old_session["refresh_token"]});
    assert_eq!(h.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh)).await.0, StatusCode::UNAUTHORIZED);
    assert!(h.state.store().list(Collection::Users, &solo).await.unwrap().is_empty());
    let (_, members) = h.call(Method::GET, &format!("/api/v1/members/{org}"), Some(&owner), None).await;
    assert_eq!(members["count"], 2);
}

async fn roles_change_and_members_leave_within_what_the_caller_may_do(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    let admin = h.member("admin@acme.io", &org, Role::Admin).await;
    let member = h.member("m@acme.io", &org, Role::Member).await;
    h.member("v@acme.io", &org, Role::Viewer).await;
    let role = |email: &str, role: &str| json!({"email": email, "org_id": org, "role": role});

    let (code, body) =
        h.call(Method::POST, "/api/v1/members/update-role", Some(&admin), Some(role("m@acme.io", "admin"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // Now m is an admin too: another admin may not change or remove them; the owner may.
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/update-role", Some(&admin), Some(role("m@acme.io", "viewer"))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/update-role", Some(&owner), Some(role("m@acme.io", "member"))).await;
    assert_eq!(code, StatusCode::OK);
    let (_, me) = h.call(Method::GET, "/api/v1/users/me", Some(&member), None).await;
    assert_eq!(me["role"], "member", "a role change applies to tokens already issued");
    for (caller, body, expected) in [
        (&admin, role("asha@acme.io", "viewer"), StatusCode::FORBIDDEN),
        (&owner, role("asha@acme.io", "admin"), StatusCode::FORBIDDEN),
        (&owner, role("m@acme.io", "owner"), StatusCode::UNPROCESSABLE_ENTITY),
        (&owner, role("nobody@acme.io", "viewer"), StatusCode::NOT_FOUND),
        (&member, role("v@acme.io", "member"), StatusCode::FORBIDDEN),
    ] {
        let (code, answer) =
            h.call(Method::POST, "/api/v1/members/update-role", Some(caller), Some(body.clone())).await;
        assert_eq!(code, expected, "{body}: {answer}");
    }
    let mut elsewhere = role("m@acme.io", "viewer");
    elsewhere["org_id"] = json!("ffffffffffff");
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/update-role", Some(&owner), Some(elsewhere)).await.0,
        StatusCode::FORBIDDEN,
        "another org named in the body: 403, as the original"
    );

    // The admin's key and sessions die with their membership.
    let (_, key) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&admin), Some(json!({"name": "admin's script"}))).await;
    let key = key["key"].as_str().unwrap().to_string();
    let (_, admin_session) = h.login("admin@acme.io", "s3cret-pass").await;
    let remove = |email: &str| json!({"email": email, "org_id": org});
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/delete-member", Some(&admin), Some(remove("asha@acme.io"))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.call(Method::POST, "/api/v1/members/delete-member", Some(&owner), Some(remove("asha@acme.io"))).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, removed) =
        h.call(Method::POST, "/api/v1/members/delete-member", Some(&owner), Some(remove("admin@acme.io"))).await;
    assert_eq!(code, StatusCode::OK, "{removed}");
    assert_eq!((removed["sessions_revoked"].as_u64(), removed["api_keys_revoked"].as_u64()), (Some(2), Some(1)));
    assert_eq!(h.call(Method::GET, "/api/v1/users/me", Some(&admin), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(h.call(Method::GET, "/api/v1/users/me", Some(&key), None).await.0, StatusCode::UNAUTHORIZED);
    let refresh = json!({"refresh_token": admin_session["refresh_token"]});
    assert_eq!(h.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh)).await.0, StatusCode::UNAUTHORIZED);
    let (_, members) = h.call(Method::GET, &format!("/api/v1/members/{org}"), Some(&owner), None).await;
    let roles: Vec<(String, String)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().into(), m["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        roles,
        [
            ("asha@acme.io".to_string(), "owner".to_string()),
            ("m@acme.io".into(), "member".into()),
            ("v@acme.io".into(), "viewer".into())
        ]
    );
}

/// The owners the org's member list shows.
async fn owners(h: &Harness, token: &str, org: &str) -> Vec<String> {
    let (code, members) = h.call(Method::GET, &format!("/api/v1/members/{org}"), Some(token), None).await;
    assert_eq!(code, StatusCode::OK, "{members}");
    let list = members["members"].as_array().unwrap();
    for m in list {
        assert_eq!(m["is_owner"].as_bool(), Some(m["role"] == "owner"), "{m}");
    }
    list.iter().filter(|m| m["role"] == "owner").map(|m| m["email"].as_str().unwrap().to_string()).collect()
}

async fn ownership_moves_only_from_the_owner_and_the_org_always_has_exactly_one(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    let admin = h.member("admin@acme.io", &org, Role::Admin).await;
    h.member("m@acme.io", &org, Role::Member).await;
    let (_, other_token) = {
        let other = accounts::create_org(&h.state, "Other").await.unwrap();
        accounts::create_user(&h.state, "o@other.io", "s3cret-pass", "O", "Other", &other, Role::Owner).await.unwrap();
        (other, h.token("o@other.io").await)
    };
    let to = |email: &str| json!({"email": email, "org_id": org});
    assert_eq!(owners(&h, &owner, &org).await, ["asha@acme.io"]);
    for (caller, body, expected) in [
        (&admin, to("m@acme.io"), StatusCode::FORBIDDEN),
        (&owner, to("asha@acme.io"), StatusCode::UNPROCESSABLE_ENTITY),
        (&owner, to("o@other.io"), StatusCode::NOT_FOUND),
        (&other_token, to("m@acme.io"), StatusCode::FORBIDDEN),
    ] {
        let (code, answer) =
            h.call(Method::POST, "/api/v1/members/transfer-ownership", Some(caller), Some(body.clone())).await;
        assert_eq!(code, expected, "{body}: {answer}");
        assert_eq!(owners(&h, &owner, &org).await, ["asha@acme.io"]);
    }
    let (code, body) =
        h.call(Method::POST, "/api/v1/members/transfer-ownership", Some(&owner), Some(to("m@acme.io"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(owners(&h, &owner, &org).await, ["m@acme.io"]);
    let (_, me) = h.call(Method::GET, "/api/v1/users/me", Some(&owner), None).await;
    assert_eq!((me["role"].as_str(), me["is_owner"].as_bool()), (Some("admin"), Some(false)));
    // The former owner's token no longer carries ownership.
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/transfer-ownership", Some(&owner), Some(to("admin@acme.io"))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let new_owner = h.token("m@acme.io").await;
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/transfer-ownership", Some(&new_owner), Some(to("asha@acme.io"))).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(owners(&h, &owner, &org).await, ["asha@acme.io"]);

    // A transfer cut short after its first write (the org's document) still shows exactly one owner.
    let mut record = h.state.store().get(Collection::Orgs, &org, &org).await.unwrap().unwrap();
    record.doc["owner_email"] = json!("admin@acme.io");
    h.state.store().put(Collection::Orgs, &record).await.unwrap();
    assert_eq!(owners(&h, &owner, &org).await, ["admin@acme.io"]);
    let (_, me) = h.call(Method::GET, "/api/v1/users/me", Some(&owner), None).await;
    assert_eq!(me["role"], "admin");
    let (code, _) =
        h.call(Method::POST, "/api/v1/members/transfer-ownership", Some(&admin), Some(to("asha@acme.io"))).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(owners(&h, &owner, &org).await, ["asha@acme.io"]);
}

async fn cookie_sessions_need_the_csrf_token_for_changes_and_logout_ends_them(kind: &str) {
    let h = harness(kind, console()).await;
    h.signup("asha@acme.io").await;
    let login = json!({"email": "asha@acme.io", "password": "s3cret-pass", "session_cookie": true});
    let (code, headers, session) = h.send(Method::POST, "/api/v1/users/login", &With::default(), Some(login)).await;
    assert_eq!(code, StatusCode::OK, "{session}");
    let set: Vec<&str> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(
        set[0].starts_with("__Host-voicera_session=")
            && set[0].ends_with("; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure"),
        "{set:?}"
    );
    assert!(set[1].starts_with("__Host-voicera_csrf=") && !set[1].contains("HttpOnly"), "{set:?}");
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    assert!(set[1].contains(&csrf));
    assert!(session.get("refresh_token").is_none(), "the console's scripts get no long-lived secret: {session}");
    let jar = cookies(&headers);
    let cookie = With { cookie: Some(jar.clone()), ..With::default() };
    let with_csrf = With { csrf: Some(csrf.clone()), ..cookie.clone() };

    let (code, _, me) = h.send(Method::GET, "/api/v1/users/me", &cookie, None).await;
    assert_eq!((code, me["email"].as_str()), (StatusCode::OK, Some("asha@acme.io")));
    let agent = |name: &str| json!({"agent_type": name, "agent_config": {"language": "en"}});
    let (code, _, body) = h.send(Method::POST, "/api/v1/agents", &cookie, Some(agent("One"))).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")), "{body}");
    let wrong = With { csrf: Some(tampered(&csrf)), ..cookie.clone() };
    assert_eq!(h.send(Method::POST, "/api/v1/agents", &wrong, Some(agent("One"))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(h.send(Method::DELETE, "/api/v1/agents/id/one", &cookie, None).await.0, StatusCode::FORBIDDEN);
    let (code, _, body) = h.send(Method::POST, "/api/v1/agents", &with_csrf, Some(agent("One"))).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // A bearer credential needs no CSRF token: no browser sends it on its own.
    let token = h.token("asha@acme.io").await;
    let (code, _) = h.call(Method::POST, "/api/v1/agents", Some(&token), Some(agent("Two"))).await;
    assert_eq!(code, StatusCode::CREATED);
    // A forged cookie is no session.
    let forged =
        With { cookie: Some(jar.replace("__Host-voicera_session=", "__Host-voicera_session=0")), ..with_csrf.clone() };
    assert_eq!(h.send(Method::GET, "/api/v1/users/me", &forged, None).await.0, StatusCode::UNAUTHORIZED);

    // Logout: a change too (CSRF), then the cookies are cleared and the session is over.
    assert_eq!(h.send(Method::POST, "/api/v1/auth/logout", &cookie, None).await.0, StatusCode::FORBIDDEN);
    let (code, headers, body) = h.send(Method::POST, "/api/v1/auth/logout", &with_csrf, None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let cleared: Vec<&str> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cleared.iter().all(|c| c.contains("=; Path=/; Max-Age=0")) && cleared.len() == 2, "{cleared:?}");
    assert_eq!(h.send(Method::GET, "/api/v1/users/me", &cookie, None).await.0, StatusCode::UNAUTHORIZED);

    // A bearer session becomes a cookie one through refresh.
    let (_, bearer_session) = h.login("asha@acme.io", "s3cret-pass").await;
    let refresh = json!({"refresh_token": bearer_session["refresh_token"], "session_cookie": true});
    let (code, headers, refreshed) =
        h.send(Method::POST, "/api/v1/auth/refresh", &With::default(), Some(refresh)).await;
    assert_eq!(code, StatusCode::OK, "{refreshed}");
    let converted = With {
        cookie: Some(cookies(&headers)),
        csrf: refreshed["csrf_token"].as_str().map(str::to_string),
        ..With::default()
    };
    assert_eq!(h.send(Method::POST, "/api/v1/agents", &converted, Some(agent("Three"))).await.0, StatusCode::CREATED);
    let audit = h.audit(&token).await;
    assert_eq!(audit.iter().filter(|e| e.0 == "create_agent").count(), 3, "{audit:?}");
}

async fn cors_headers_go_only_to_the_console_origin(kind: &str) {
    let h = harness(kind, console()).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/agents")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type, x-csrf-token")
            .body(Body::empty())
            .unwrap()
    };
    let response = h.app.clone().oneshot(preflight(CONSOLE)).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], CONSOLE);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("x-csrf-token"));
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("DELETE"));
    let response = h.app.clone().oneshot(preflight("https://evil.example")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let from = |origin: &str| With { origin: Some(origin.to_string()), ..With::default() };
    let (code, headers, _) = h.send(Method::GET, "/api/v1/openapi.json", &from(CONSOLE), None).await;
    assert_eq!(
        (code, headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap())),
        (StatusCode::OK, Some(CONSOLE))
    );
    for origin in ["https://evil.example", "http://console.acme.io", "https://console.acme.io.evil.example"] {
        let (_, headers, _) = h.send(Method::GET, "/api/v1/openapi.json", &from(origin), None).await;
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{origin}");
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "{origin}");
    }
    // Errors from the console's origin carry the headers too (the console reads them).
    let (code, headers, _) = h.send(Method::GET, "/api/v1/users/me", &from(CONSOLE), None).await;
    assert_eq!((code, headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_some()), (StatusCode::UNAUTHORIZED, true));

    // Without a public URL, no origin gets CORS headers.
    let bare = harness(kind, ApiConfig::default()).await;
    let response = bare.app.clone().oneshot(preflight(CONSOLE)).await.unwrap();
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

async fn every_change_is_audited_and_only_owners_and_admins_read_the_log(kind: &str) {
    let h = harness(kind, ApiConfig::default()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    let viewer = h.member("v@acme.io", &org, Role::Viewer).await;
    let admin = h.member("admin@acme.io", &org, Role::Admin).await;
    let agent = json!({"agent_type": "Sales", "agent_config": {"language": "en"}});
    assert_eq!(h.call(Method::POST, "/api/v1/agents", Some(&owner), Some(agent.clone())).await.0, StatusCode::CREATED);
    h.clock.advance(1);
    let update = json!({"agent_config": {"language": "hi"}});
    assert_eq!(h.call(Method::PUT, "/api/v1/agents/id/sales", Some(&owner), Some(update)).await.0, StatusCode::OK);
    let (_, key) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "ci", "role": "admin"}))).await;
    let key_text = key["key"].as_str().unwrap().to_string();
    let key_id = key["key_id"].as_str().unwrap().to_string();
    assert_eq!(h.call(Method::DELETE, "/api/v1/agents/id/sales", Some(&key_text), None).await.0, StatusCode::OK);
    h.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), Some(&owner), None).await;
    h.call(Method::POST, "/api/v1/members/invite", Some(&owner), Some(json!({"email": "n@acme.io"}))).await;
    // Reads are not changes; refused changes are not either.
    h.call(Method::GET, &format!("/api/v1/agents/org/{org}"), Some(&owner), None).await;
    h.call(Method::POST, "/api/v1/agents", Some(&viewer), Some(agent)).await;

    let log = h.audit(&owner).await;
    let operations: Vec<&str> = log.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        operations,
        ["invite_member", "revoke_api_key", "delete_agent", "create_api_key", "update_agent", "create_agent", "signup"]
    );
    assert_eq!(log[2], ("delete_agent".to_string(), "sales".to_string(), "asha@acme.io".to_string()));
    let (_, page) = h.call(Method::GET, "/api/v1/audit?limit=2&page=2", Some(&admin), None).await;
    assert_eq!((page["total"].as_u64(), page["page"].as_u64()), (Some(7), Some(2)));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0]["operation"].as_str(), items[0]["key_id"].as_str()),
        (Some("delete_agent"), Some(key_id.as_str()))
    );
    assert_eq!((items[0]["org_id"].as_str(), items[0]["ip"].as_str()), (Some(org.as_str()), Some("unknown")));
    assert_eq!(items[1]["operation"], "create_api_key");
    assert_eq!(items[0]["at"], "2024-11-19T07:06:40.001Z");
    let (code, _) = h.call(Method::GET, "/api/v1/audit", Some(&viewer), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = h.call(Method::GET, "/api/v1/audit?limit=1000", Some(&owner), None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
    // Another org's log is its own.
    let other = accounts::create_org(&h.state, "Other").await.unwrap();
    accounts::create_user(&h.state, "o@other.io", "s3cret-pass", "O", "Other", &other, Role::Owner).await.unwrap();
    let stranger = h.token("o@other.io").await;
    assert!(h.audit(&stranger).await.is_empty());
    assert_eq!(log[6], ("signup".to_string(), "asha@acme.io".to_string(), "asha@acme.io".to_string()));
}

async fn other_routes_authenticate_with_the_api_credentials(kind: &str) {
    let h = harness(kind, console()).await;
    let org = h.signup("asha@acme.io").await;
    let owner = h.token("asha@acme.io").await;
    let (_, key) =
        h.call(Method::POST, "/api/v1/api-keys", Some(&owner), Some(json!({"name": "dialer", "role": "admin"}))).await;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, format!("Bearer {owner}").parse().unwrap());
    let caller = voicera_api::authenticate_header(&h.state, &headers).await.unwrap();
    assert_eq!(
        (caller.email.as_str(), caller.org_id.as_str(), caller.role),
        ("asha@acme.io", org.as_str(), Role::Owner)
    );
    headers.insert(header::AUTHORIZATION, format!("Bearer {}", key["key"].as_str().unwrap()).parse().unwrap());
    let caller = voicera_api::authenticate_header(&h.state, &headers).await.unwrap();
    assert_eq!(caller.role, Role::Admin);
    assert!(matches!(caller.credential, Credential::ApiKey { .. }));
    headers.insert(header::AUTHORIZATION, "Bearer not-a-token".parse().unwrap());
    assert_eq!(
        voicera_api::authenticate_header(&h.state, &headers).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        voicera_api::authenticate_header(&h.state, &HeaderMap::new()).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );

    // The console's cookie works there too, with its CSRF token.
    let login = json!({"email": "asha@acme.io", "password": "s3cret-pass", "session_cookie": true});
    let (_, set, session) = h.send(Method::POST, "/api/v1/users/login", &With::default(), Some(login)).await;
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, cookies(&set).parse().unwrap());
    let refused = voicera_api::authenticate_header(&h.state, &headers).await.unwrap_err();
    assert_eq!((refused.status, refused.code), (StatusCode::FORBIDDEN, "csrf"));
    headers.insert("x-csrf-token", session["csrf_token"].as_str().unwrap().parse().unwrap());
    let caller = voicera_api::authenticate_header(&h.state, &headers).await.unwrap();
    assert!(matches!(caller.credential, Credential::Session { .. }));
    // The owner's email and password as HTTP Basic credentials (what the call routes took so far), checked
    // against the store and rate-limited as logins are.
    use base64::Engine;
    let basic = |user: &str, password: &str| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        headers
    };
    let caller = voicera_api::authenticate_header(&h.state, &basic("Asha@acme.io", "s3cret-pass")).await.unwrap();
    assert_eq!((caller.role, caller.credential), (Role::Owner, Credential::Password));
    for _ in 0..5 {
        let refused = voicera_api::authenticate_header(&h.state, &basic("asha@acme.io", "guess")).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    let locked = voicera_api::authenticate_header(&h.state, &basic("asha@acme.io", "s3cret-pass")).await.unwrap_err();
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    // The API itself takes no passwords on its routes.
    let (code, _, _) = h.send_headers(Method::GET, "/api/v1/users/me", basic("o@x.io", "p")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // A viewer authenticates but is below what placing calls needs.
    h.member("v@acme.io", &org, Role::Viewer).await;
    let viewer = h.token("v@acme.io").await;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, format!("Bearer {viewer}").parse().unwrap());
    let caller = voicera_api::authenticate_header(&h.state, &headers).await.unwrap();
    assert_eq!(caller.require(Role::Admin, "placing calls").unwrap_err().status, StatusCode::FORBIDDEN);
}
