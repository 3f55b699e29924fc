//! `users/*` and `auth/*`: signup (the first owner, or anyone when signup is open), login, the caller's own
//! account, refresh-token rotation and logout. Bodies and answers keep the original's field names.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::Collection;

use crate::accounts::{self, Session};
use crate::auth::refresh::{self, Family, Rotation};
use crate::auth::{random_text, Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// Where a request comes from, for the login limiter: the socket's address (when served with connect info),
/// or `X-Real-IP` when a trusted proxy sets it.
pub struct Source(pub String);

impl FromRequestParts<ApiState> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Source, ApiError> {
        let proxied = state
            .config()
            .trust_proxy_headers
            .then(|| parts.headers.get("x-real-ip").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()));
        let socket = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(Source(proxied.flatten().or(socket).unwrap_or_else(|| "unknown".into())))
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
}

/// `POST /users/login`: checks the password (rate-limited per email and source) and starts a session.
pub async fn login(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<Session>, ApiError> {
    let member = accounts::check_password(&state, &body.email, &body.password, &source).await?;
    Ok(Json(accounts::start_session(&state, &member, "User authenticated successfully").await?))
}

/// A member as the original's `UserResponse` shows it, plus the role.
fn member_view(member: &accounts::Member) -> Value {
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
        return Err(ApiError::not_found("no such user of yours (this route shows only your own account)"));
    }
    me(caller, State(state)).await
}

/// The original's `GET /members/{org_id}`: the org's accounts.
pub async fn members(
    caller: Caller,
    State(state): State<ApiState>,
    Path(org_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if org_id != caller.org_id {
        return Err(ApiError::not_found(format!("no org {org_id:?} of yours")));
    }
    let members: Vec<Value> = state
        .store()
        .list(Collection::Users, &caller.org_id)
        .await?
        .iter()
        .map(|r| member_view(&accounts::Member::from_record(r)))
        .collect();
    Ok(Json(json!({"members": members, "count": members.len()})))
}

/// The body of `POST /auth/refresh`.
#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
}

/// The family a refresh token names, if it exists.
async fn family_of(state: &ApiState, token: &str) -> Result<(String, String, Family), ApiError> {
    let unknown = || ApiError::unauthorized("unknown refresh token; log in again").at("refresh_token");
    let (family_id, secret) = refresh::parse(token).ok_or_else(unknown)?;
    let found = state.store().find_id(Collection::RefreshTokens, family_id).await?;
    let [record] = found.as_slice() else {
        return Err(unknown());
    };
    let family: Family = serde_json::from_value(record.doc.clone()).map_err(|_| unknown())?;
    Ok((family_id.to_string(), secret.to_string(), family))
}

/// `POST /auth/refresh`: spends a refresh token for a new session token pair; a reused one ends the session.
pub async fn refresh(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Session>, ApiError> {
    let _serialised = state.0.accounts_lock.lock().await;
    let (family_id, secret, mut family) = family_of(&state, &body.refresh_token).await?;
    let next = random_text(32)?;
    match family.rotate(&secret, &next, state.now()) {
        Rotation::Rotated => {
            accounts::put_family(&state, &family_id, &family).await?;
            let member = accounts::member(state.store(), &family.org_id, &family.email)
                .await?
                .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
            Ok(Json(accounts::session(&state, &member, "Token refreshed", refresh::text(&family_id, &next))))
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

/// Ends the session the refresh token belongs to (its access tokens run out within their short lifetime).
pub async fn logout(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Value>, ApiError> {
    let (family_id, secret, mut family) = family_of(&state, &body.refresh_token).await?;
    if !crate::auth::same(&family.current, &crate::auth::secret_hash(&secret)) {
        return Err(ApiError::unauthorized("unknown refresh token").at("refresh_token"));
    }
    family.revoked = true;
    accounts::put_family(&state, &family_id, &family).await?;
    Ok(Json(json!({"status": "success", "message": "Logged out"})))
}
