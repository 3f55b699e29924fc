//! `users/*` and `auth/*`: signup (the first owner, or anyone when signup is open), login (bearer tokens, or
//! the console's cookie session), the caller's own account, refresh-token rotation, logout, and the password
//! reset by emailed link. Bodies and answers keep the original's field names.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::{utc_text, Collection, Record};

use crate::accounts::{self, Session};
use crate::audit::{self, Actor};
use crate::auth::refresh::{self, Family, Rotation};
use crate::auth::{random_hex, random_text, same, secret_hash, session, Caller, Credential, Role};
use crate::error::{ApiError, ApiJson};
use crate::outbox::Mail;
use crate::state::ApiState;

/// Where a request comes from, for the limiters and the audit log: the socket's address (when served with
/// connect info), or `X-Real-IP` when a trusted proxy sets it.
pub struct Source(pub String);

impl FromRequestParts<ApiState> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Source, ApiError> {
        Ok(Source(crate::auth::client_source(state, &parts.headers, &parts.extensions)))
    }
}

/// The body of `POST /users/signup`: a new account in a new org.
#[derive(Debug, Deserialize)]
pub struct SignupBody {
    email: String,
    password: String,
    name: String,
    company_name: String,
    /// The original's join-by-org-id; refused here (joining needs an invite link).
    #[serde(default)]
    org_id: Option<String>,
}

/// `POST /users/signup`: creates an owner account and its org (when signup is open) and logs it in.
pub async fn signup(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.org_id.as_deref().is_some_and(|o| !o.trim().is_empty()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invite_required",
            "joining an existing org needs an invite link from its owner",
        )
        .at("org_id"));
    }
    let email = accounts::normalize_email(&body.email);
    accounts::check_email(&email, "email")?;
    accounts::check_new_password(&body.password, "password")?;
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "give your name"));
    }
    let company = body.company_name.trim();
    if company.is_empty() {
        return Err(ApiError::invalid("company_name", "give your company's name"));
    }
    let _serialised = state.0.accounts_lock.lock().await;
    if !state.config().open_signup && state.store().count(Collection::Users).await? > 0 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signup_closed",
            "signup is closed on this server: ask an owner for an invite (or set [api] open_signup = true)",
        ));
    }
    if accounts::find_by_email(state.store(), &email).await?.is_some() {
        return Err(ApiError::conflict("email", "an account with this email already exists"));
    }
    let org_id = accounts::create_org(&state, company).await?;
    accounts::create_user(&state, &email, &body.password, name, company, &org_id, Role::Owner).await?;
    let actor = Actor { user: email.clone(), key_id: None, org_id: org_id.clone(), ip: source };
    audit::record_as(&state, actor, "signup", &email).await?;
    tracing::info!(%email, %org_id, "signup: new org and its owner");
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": "success", "message": "User created successfully", "org_id": org_id})),
    ))
}

/// The body of `POST /users/login`.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
    /// The console asks for a cookie session: the answer sets the session and CSRF cookies and carries
    /// `csrf_token` instead of a refresh token.
    #[serde(default)]
    session_cookie: bool,
}

/// A session answer, with the cookies of a cookie session.
fn session_answer(state: &ApiState, session: Session, cookie: Option<String>) -> Response {
    let csrf = session.csrf_token.clone();
    let mut response = Json(session).into_response();
    if let (Some(cookie), Some(csrf)) = (cookie, csrf) {
        let max_age = state.config().refresh_ttl.as_secs();
        for value in session::set_cookies(state.config(), &cookie, &csrf, max_age) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    response
}

/// `POST /users/login`: checks the password (rate-limited per email and source) and starts a session: bearer
/// tokens, or with `session_cookie: true` the console's cookie session.
pub async fn login(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let member = accounts::check_password(&state, &body.email, &body.password, &source).await?;
    const MESSAGE: &str = "User authenticated successfully";
    if body.session_cookie {
        let (session, cookie) = accounts::start_cookie_session(&state, &member, MESSAGE).await?;
        Ok(session_answer(&state, session, Some(cookie)))
    } else {
        Ok(session_answer(&state, accounts::start_session(&state, &member, MESSAGE).await?, None))
    }
}

/// A member as the original's `UserResponse` shows it, plus the role.
pub(crate) fn member_view(member: &accounts::Member) -> Value {
    json!({
        "email": member.email,
        "name": member.name,
        "org_id": member.org_id,
        "company_name": member.company_name,
        "created_at": member.created_at,
        "is_owner": member.role == Role::Owner,
        "role": member.role,
    })
}

/// `GET /users/me`: the caller's account.
pub async fn me(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let member = accounts::member(state.store(), &caller.org_id, &caller.email)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    let mut view = member_view(&member);
    // Through an API key, the key's role (never above the member's).
    view["role"] = json!(caller.role);
    Ok(Json(view))
}

/// The original's `GET /users/{email}`: the caller's own account only.
pub async fn by_email(
    caller: Caller,
    State(state): State<ApiState>,
    Path(email): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if accounts::normalize_email(&email) != caller.email {
        // 403 with the original's words: this route shows only the caller's own account.
        return Err(ApiError::forbidden("Not authorized to access this user's data").at("email"));
    }
    me(caller, State(state)).await
}

/// The body of `POST /auth/refresh`.
#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
    /// Also make the session a cookie session (the answer sets the cookies and carries `csrf_token`).
    #[serde(default)]
    session_cookie: bool,
}

/// The family a refresh token names, if it exists.
async fn family_of(state: &ApiState, token: &str) -> Result<(String, String, Family), ApiError> {
    let unknown = || ApiError::unauthorized("unknown refresh token; log in again").at("refresh_token");
    let (family_id, secret) = refresh::parse(token).ok_or_else(unknown)?;
    let family = family_by_id(state, family_id).await?;
    Ok((family_id.to_string(), secret.to_string(), family))
}

/// The family with this id, if it exists.
async fn family_by_id(state: &ApiState, family_id: &str) -> Result<Family, ApiError> {
    let unknown = || ApiError::unauthorized("unknown refresh token; log in again").at("refresh_token");
    let found = state.store().find_id(Collection::RefreshTokens, family_id).await?;
    let [record] = found.as_slice() else {
        return Err(unknown());
    };
    serde_json::from_value(record.doc.clone()).map_err(|_| unknown())
}

/// `POST /auth/refresh`: spends a refresh token for a new session token pair; a reused one ends the session.
/// With `session_cookie: true` the session also becomes the console's cookie session.
pub async fn refresh(State(state): State<ApiState>, ApiJson(body): ApiJson<RefreshBody>) -> Result<Response, ApiError> {
    let _serialised = state.0.accounts_lock.lock().await;
    let (family_id, secret, mut family) = family_of(&state, &body.refresh_token).await?;
    let next = random_text(32)?;
    match family.rotate(&secret, &next, state.now()) {
        Rotation::Rotated => {
            let cookie =
                if body.session_cookie { Some(accounts::attach_cookie(&mut family, &family_id)?) } else { None };
            accounts::put_family(&state, &family_id, &family).await?;
            let member = accounts::member(state.store(), &family.org_id, &family.email)
                .await?
                .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
            let mut answer = accounts::session(&state, &member, "Token refreshed", refresh::text(&family_id, &next));
            if cookie.is_some() {
                answer.csrf_token = Some(session::csrf_token(&state.0.tokens, &family_id));
            }
            Ok(session_answer(&state, answer, cookie))
        }
        Rotation::Reused => {
            accounts::put_family(&state, &family_id, &family).await?;
            tracing::warn!(email = %family.email, "a spent refresh token was presented again: session revoked");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "this refresh token was already used, so the session is revoked; log in again",
            )
            .at("refresh_token"))
        }
        Rotation::Ended => Err(ApiError::unauthorized("the session has ended; log in again").at("refresh_token")),
        Rotation::Unknown => Err(ApiError::unauthorized("unknown refresh token; log in again").at("refresh_token")),
    }
}

/// The body of `POST /auth/logout`: the refresh token of the session to end; a cookie session sends none.
#[derive(Debug, Deserialize)]
pub struct LogoutBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `POST /auth/logout`: ends the session of the refresh token in the body or, without one, of the session
/// cookie (which then needs its CSRF token); the cookies are cleared. Access tokens already issued run out
/// within their short lifetime.
pub async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: LogoutBody = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutBody { refresh_token: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("refresh_token", format!("the JSON body: {e}")))?
    };
    let (family_id, mut family) = match body.refresh_token {
        Some(token) => {
            let (family_id, secret, family) = family_of(&state, &token).await?;
            if !same(&family.current, &secret_hash(&secret)) {
                return Err(ApiError::unauthorized("unknown refresh token").at("refresh_token"));
            }
            (family_id, family)
        }
        None => {
            let caller = crate::auth::authenticate(&state, &axum::http::Method::POST, &headers, String::new()).await?;
            let Credential::Session { family_id } = caller.credential else {
                return Err(ApiError::invalid("refresh_token", "give the refresh_token of the session to end"));
            };
            let family = family_by_id(&state, &family_id).await?;
            (family_id, family)
        }
    };
    family.revoked = true;
    accounts::put_family(&state, &family_id, &family).await?;
    let mut response = Json(json!({"status": "success", "message": "Logged out"})).into_response();
    for value in session::clear_cookies(state.config()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The body of `POST /users/forgot-password` (the original's).
#[derive(Debug, Deserialize)]
pub struct ForgotPasswordBody {
    email: String,
}

/// What a forgot-password request answers, whether or not the account exists (so it tells nobody which
/// emails have accounts).
const RESET_SENT: &str = "If an account exists for this email, a link to reset its password has been sent to it";

fn too_many(wait_ms: i64, what: &str) -> ApiError {
    let mut error =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", format!("too many {what}; try again later"));
    error.retry_after_secs = Some(u64::try_from((wait_ms + 999).div_euclid(1000)).unwrap_or(1).max(1));
    error
}

/// `POST /users/forgot-password`: mails a single-use reset link (valid [`crate::ApiConfig::reset_ttl`]) to the
/// account's email. Rate-limited per email and per source; the answer is the same for unknown emails.
pub async fn forgot_password(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<ForgotPasswordBody>,
) -> Result<Json<Value>, ApiError> {
    let email = accounts::normalize_email(&body.email);
    accounts::check_email(&email, "email")?;
    {
        let now = state.now();
        let mut limits = state.0.reset_limits.lock().unwrap_or_else(|p| p.into_inner());
        limits
            .per_source
            .check(&source, now)
            .map_err(|wait| too_many(wait, "password-reset requests from your address"))?;
        limits.per_email.check(&email, now).map_err(|wait| too_many(wait, "password-reset requests for this email"))?;
        // Every request counts, not only failures: each one sends a mail.
        limits.per_source.record_failure(&source, now);
        limits.per_email.record_failure(&email, now);
    }
    let Some(member) = accounts::find_by_email(state.store(), &email).await? else {
        tracing::info!(%email, "password reset asked for an unknown email");
        return Ok(Json(json!({"status": "success", "message": RESET_SENT})));
    };
    let (reset_id, secret) = (random_hex(8)?, random_text(32)?);
    let now = state.now();
    let ttl = i64::try_from(state.config().reset_ttl.as_millis()).unwrap_or(i64::MAX);
    let doc = json!({
        "email": member.email, "secret_hash": secret_hash(&secret), "created_at": utc_text(now),
        "expires_at": now.saturating_add(ttl), "used_at": null, "requested_from": source,
    });
    state
        .store()
        .put(Collection::PasswordResets, &Record { org_id: member.org_id.clone(), id: reset_id.clone(), doc })
        .await?;
    let token = format!("pr_{reset_id}.{secret}");
    let minutes = state.config().reset_ttl.as_secs() / 60;
    let link = match state.config().link_base() {
        Some(base) => format!("{base}/reset-password?token={token}"),
        None => format!("reset token: {token}"),
    };
    let mail = Mail {
        to: member.email.clone(),
        subject: "Reset your VoiceERA password".into(),
        body: format!(
            "Someone (hopefully you) asked to reset the password of your VoiceERA account {}.\n\n\
             To choose a new password, open this link within {minutes} minutes; it works once:\n\n{link}\n\n\
             If you did not ask for this, ignore this message: your password stays as it is.\n",
            member.email
        ),
        sent_at_millis: now,
    };
    send_mail(&state, &mail).await;
    Ok(Json(json!({"status": "success", "message": RESET_SENT})))
}

/// Sends `mail` through the outbox; a failure is logged, not answered (the answer must not say whether the
/// account exists, and the operator sees the log).
pub(crate) async fn send_mail(state: &ApiState, mail: &Mail) -> bool {
    let Some(outbox) = &state.0.outbox else {
        tracing::warn!(to = %mail.to, subject = %mail.subject, "mail is disabled ([smtp] or the file outbox): message dropped");
        return false;
    };
    match outbox.send(mail).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, to = %mail.to, "sending mail failed");
            false
        }
    }
}

/// The body of `POST /users/reset-password` (the original's).
#[derive(Debug, Deserialize)]
pub struct ResetPasswordBody {
    token: String,
    new_password: String,
}

/// `POST /users/reset-password`: sets a new password with a reset link's token (once, before it expires) and
/// ends every session of the account.
pub async fn reset_password(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<ResetPasswordBody>,
) -> Result<Json<Value>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "this reset link is invalid, used or expired; ask for a new one",
        )
        .at("token")
    };
    {
        let limits = &mut state.0.reset_limits.lock().unwrap_or_else(|p| p.into_inner()).per_source;
        limits
            .check(&source, state.now())
            .map_err(|wait| too_many(wait, "password-reset attempts from your address"))?;
    }
    let wrong = |state: &ApiState| {
        let limits = &mut state.0.reset_limits.lock().unwrap_or_else(|p| p.into_inner()).per_source;
        limits.record_failure(&source, state.now());
        invalid()
    };
    let Some((reset_id, secret)) = body.token.strip_prefix("pr_").and_then(|t| t.split_once('.')) else {
        return Err(wrong(&state));
    };
    accounts::check_new_password(&body.new_password, "new_password")?;
    let _serialised = state.0.accounts_lock.lock().await;
    let found = state.store().find_id(Collection::PasswordResets, reset_id).await?;
    let [record] = found.as_slice() else {
        return Err(wrong(&state));
    };
    let doc = &record.doc;
    let stored = doc.get("secret_hash").and_then(Value::as_str).unwrap_or_default();
    let expires_at = doc.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
    let used = !doc.get("used_at").is_none_or(Value::is_null);
    if !same(stored, &secret_hash(secret)) || used || state.now() >= expires_at {
        return Err(wrong(&state));
    }
    let email = doc.get("email").and_then(Value::as_str).unwrap_or_default().to_string();
    let member = accounts::member(state.store(), &record.org_id, &email).await?.ok_or_else(invalid)?;
    // Spent first: a failure after this leaves a used link, never a reusable one.
    let mut spent = record.clone();
    spent.doc["used_at"] = Value::String(utc_text(state.now()));
    state.store().put(Collection::PasswordResets, &spent).await?;
    accounts::set_password(&state, &member.org_id, &member.email, &body.new_password).await?;
    // Other links still open for the account are closed too: the password they would replace is new.
    for mut other in state.store().list(Collection::PasswordResets, &member.org_id).await? {
        let open = other.doc.get("used_at").is_none_or(Value::is_null);
        if other.id != record.id && open && other.doc.get("email").and_then(Value::as_str) == Some(&member.email) {
            other.doc["used_at"] = Value::String(utc_text(state.now()));
            other.doc["closed_by_reset"] = Value::String(record.id.clone());
            state.store().put(Collection::PasswordResets, &other).await?;
        }
    }
    let sessions = accounts::revoke_sessions(&state, &member.org_id, &member.email).await?;
    let actor = Actor { user: member.email.clone(), key_id: None, org_id: member.org_id.clone(), ip: source };
    audit::record_as(&state, actor, "reset_password", &member.email).await?;
    tracing::info!(email = %member.email, sessions, "password reset by emailed link; sessions ended");
    Ok(Json(json!({"status": "success", "message": "Password reset successfully"})))
}
