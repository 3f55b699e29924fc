//! The [`Caller`] extractor: every protected handler takes one, so a route cannot forget authentication. It
//! reads `Authorization: Bearer <access token | API key>` or, without that header, the console's session
//! cookie (then an unsafe method also needs `X-CSRF-Token`: [`super::session`]), checks it, and loads the
//! member from the store on each request, so a removed member or a lowered role takes effect at once, not when
//! a token expires. [`authenticate_header`] is the same check for routes outside the API.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, Method, StatusCode};

use super::api_key::{self, StoredKey};
use super::refresh::Family;
use super::{same, secret_hash, session, Role};
use crate::accounts;
use crate::error::ApiError;
use crate::state::ApiState;
use voicera_store::Collection;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A signed access token from a login (a person at the console).
    AccessToken,
    /// An API key (a script).
    ApiKey {
        /// The key's public id, for audit logs.
        key_id: String,
    },
    /// An email and password sent as HTTP Basic credentials, accepted only outside the API
    /// ([`authenticate_header`]: the owner-authenticated call routes scripts have always used).
    Password,
    /// The console's session cookie (with its CSRF token on changes).
    Session {
        /// The login session's refresh-token family, which logout revokes.
        family_id: String,
    },
}

/// An authenticated request's member: who, in which org, with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The member the request acts as (for an API key, its creator).
    pub email: String,
    /// The org every read and write of the request is confined to.
    pub org_id: String,
    /// What the request may do (an API key's role, not its creator's).
    pub role: Role,
    /// How they proved it (audit logs, and actions only a person at the console may take).
    pub credential: Credential,
    /// The address the request came from (the socket's, or `X-Real-IP` behind a trusted proxy), for audit logs.
    pub source: String,
}

impl Caller {
    /// Refuses (403) unless the caller's role is at least `role`; `action` says what was refused.
    pub fn require(&self, role: Role, action: &str) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{action} needs the {} role or higher; you are {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        let source = client_source(state, &parts.headers, &parts.extensions);
        authenticate(state, &parts.method, &parts.headers, source).await
    }
}

/// Where a request comes from: `X-Real-IP` when a trusted proxy sets it ([`crate::ApiConfig::trust_proxy_headers`]),
/// else the socket's address (when served with connect info), else `unknown`.
pub fn client_source(state: &ApiState, headers: &HeaderMap, extensions: &Extensions) -> String {
    let proxied = state
        .config()
        .trust_proxy_headers
        .then(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()))
        .flatten()
        .filter(|v| !v.is_empty());
    let socket = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    proxied.or(socket).unwrap_or_else(|| "unknown".into())
}

/// Authenticates a request by its method and headers: `Authorization: Bearer <access token | API key>`, or the
/// session cookie (with `X-CSRF-Token` when `method` changes something). `source` is recorded in the caller.
pub async fn authenticate(
    state: &ApiState,
    method: &Method,
    headers: &HeaderMap,
    source: String,
) -> Result<Caller, ApiError> {
    let caller = if headers.contains_key(header::AUTHORIZATION) {
        let credential = bearer(headers)?;
        if credential.starts_with(api_key::PREFIX) {
            by_api_key(state, credential).await?
        } else {
            by_access_token(state, credential).await?
        }
    } else if let Some(cookie) = session::cookie(headers, session::session_cookie_name(state.config())) {
        let caller = by_session(state, cookie).await?;
        if let Credential::Session { family_id } = &caller.credential {
            if session::is_unsafe(method) && !session::csrf_ok(&state.0.tokens, family_id, headers) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a change made with the session cookie needs the X-CSRF-Token header (the csrf_token of the login answer)",
                ));
            }
        }
        caller
    } else {
        return Err(missing());
    };
    Ok(Caller { source, ..caller })
}

/// The check of the API's [`Caller`] for routes outside `/api/v1` (`/outbound/call/`, `/browser/session`):
/// a bearer access token or API key, the console's session cookie with its `X-CSRF-Token` (every such route
/// is treated as a change), or a member's email and password as HTTP Basic credentials (checked against the
/// store and rate-limited as logins are, so the owner from `VOICERA_ADMIN_EMAIL` keeps working after a
/// password change). The caller's role is for the route to check (`caller.require(Role::Admin, ...)`); the
/// source is `X-Real-IP` behind a trusted proxy, else `unknown` (the socket is not in a `HeaderMap`).
pub async fn authenticate_header(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let source = client_source(state, headers, &Extensions::new());
    if let Some((email, password)) = basic(headers) {
        let member = accounts::check_password(state, &email, &password, &source).await?;
        return Ok(Caller {
            email: member.email,
            org_id: member.org_id,
            role: member.role,
            credential: Credential::Password,
            source,
        });
    }
    authenticate(state, &Method::POST, headers, source).await
}

/// `Authorization: Basic base64(email:password)`, decoded.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (email, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((email.to_string(), password.to_string()))
}

fn missing() -> ApiError {
    ApiError::unauthorized("send Authorization: Bearer <access token or API key>, or log in for a session cookie")
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(missing());
    }
    Ok(credential.trim())
}

async fn by_session(state: &ApiState, cookie: &str) -> Result<Caller, ApiError> {
    let ended = || ApiError::unauthorized("the session has ended; log in again");
    let (family_id, secret) = session::parse(cookie).ok_or_else(ended)?;
    let found = state.store().find_id(Collection::RefreshTokens, family_id).await?;
    let [record] = found.as_slice() else {
        return Err(ended());
    };
    let family: Family = serde_json::from_value(record.doc.clone()).map_err(|_| ended())?;
    let cookie_matches = family.cookie.as_deref().is_some_and(|stored| session::matches(stored, secret));
    if !cookie_matches || !family.live(state.now()) {
        return Err(ended());
    }
    let member = accounts::member(state.store(), &family.org_id, &family.email)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Caller {
        email: member.email,
        org_id: member.org_id,
        role: member.role,
        credential: Credential::Session { family_id: family_id.to_string() },
        source: String::new(),
    })
}

async fn by_access_token(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
    let claims = state
        .0
        .tokens
        .verify(token, state.now().div_euclid(1000))
        .map_err(|e| ApiError::unauthorized(format!("{e}; log in again or refresh")))?;
    let member = accounts::member(state.store(), &claims.org_id, &claims.email)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Caller {
        email: claims.email,
        org_id: claims.org_id,
        role: member.role,
        credential: Credential::AccessToken,
        source: String::new(),
    })
}

async fn by_api_key(state: &ApiState, key: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthorized("unknown or revoked API key");
    let (key_id, secret) = api_key::parse(key).ok_or_else(invalid)?;
    let found = state.store().find_id(Collection::ApiKeys, key_id).await?;
    let [record] = found.as_slice() else {
        return Err(invalid());
    };
    let stored: StoredKey = serde_json::from_value(record.doc.clone()).map_err(|_| invalid())?;
    if stored.revoked_at.is_some() || !same(&stored.secret_hash, &secret_hash(secret)) {
        return Err(invalid());
    }
    let creator = accounts::member(state.store(), &record.org_id, &stored.created_by)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the API key's creator is no longer a member; create a new key"))?;
    Ok(Caller {
        email: stored.created_by,
        org_id: record.org_id.clone(),
        // A key never does more than its creator can today.
        role: stored.role.min(creator.role),
        credential: Credential::ApiKey { key_id: stored.key_id },
        source: String::new(),
    })
}
