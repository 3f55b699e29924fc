//! The [`Caller`] extractor: every protected handler takes one, so a route cannot forget authentication. It
//! reads `Authorization: Bearer <access token | API key>`, checks it, and loads the member from the store on
//! each request, so a removed member or a lowered role takes effect at once, not when a token expires.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::api_key::{self, StoredKey};
use super::{same, secret_hash, Role};
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
        let credential = bearer(parts)?;
        if credential.starts_with(api_key::PREFIX) {
            by_api_key(state, credential).await
        } else {
            by_access_token(state, credential).await
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthorized("send Authorization: Bearer <access token or API key>");
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(missing());
    }
    Ok(credential.trim())
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
    Ok(Caller { email: claims.email, org_id: claims.org_id, role: member.role, credential: Credential::AccessToken })
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
    })
}
