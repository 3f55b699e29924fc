//! `api-keys`: an org's keys for scripts. Admins and owners create, list and revoke them; the key text is in
//! the creation answer only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::{utc_text, Collection, Record};

use crate::auth::api_key::{self, StoredKey};
use crate::auth::{random_hex, random_text, secret_hash, Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// The body of `POST /api-keys`: a label and the key's role.
#[derive(Debug, Deserialize)]
pub struct CreateKeyBody {
    name: String,
    /// `viewer`, `member` (default) or `admin`; at most the creator's role.
    #[serde(default)]
    role: Option<String>,
}

fn view(key: &StoredKey) -> Value {
    json!({
        "key_id": key.key_id, "name": key.name, "role": key.role, "prefix": key.prefix(),
        "created_by": key.created_by, "created_at": key.created_at, "revoked_at": key.revoked_at,
    })
}

/// `POST /api-keys`: creates a key and shows its text, the only time it is shown.
pub async fn create(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "creating API keys")?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "name the key (1 to 100 characters), e.g. after the script using it"));
    }
    let role = match body.role.as_deref() {
        None => Role::Member,
        Some(text) => Role::parse(text)
            .filter(|r| *r != Role::Owner)
            .ok_or_else(|| ApiError::invalid("role", format!("{text:?} is not viewer, member or admin")))?,
    };
    if role > caller.role {
        return Err(
            ApiError::forbidden(format!("a key cannot have more than your role ({})", caller.role.as_str())).at("role")
        );
    }
    let (key_id, secret) = (random_hex(8)?, random_text(32)?);
    let stored = StoredKey {
        key_id: key_id.clone(),
        name: name.to_string(),
        role,
        created_by: caller.email.clone(),
        created_at: utc_text(state.now()),
        secret_hash: secret_hash(&secret),
        revoked_at: None,
    };
    let doc = serde_json::to_value(&stored).map_err(|e| ApiError::internal("API key", e))?;
    state.store().put(Collection::ApiKeys, &Record { org_id: caller.org_id.clone(), id: key_id.clone(), doc }).await?;
    tracing::info!(org_id = %caller.org_id, %key_id, by = %caller.email, "API key created");
    crate::audit::record(&state, &caller, "create_api_key", &key_id).await?;
    let mut answer = view(&stored);
    answer["key"] = Value::String(api_key::text(&key_id, &secret));
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /api-keys`: the org's keys, without their secrets (admins only).
pub async fn list(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "listing API keys")?;
    let keys: Vec<Value> = state
        .store()
        .list(Collection::ApiKeys, &caller.org_id)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_value::<StoredKey>(r.doc).ok())
        .map(|k| view(&k))
        .collect();
    Ok(Json(json!({"keys": keys, "count": keys.len()})))
}

/// `DELETE /api-keys/{key_id}`: revokes a key; requests with it fail from then on.
pub async fn revoke(
    caller: Caller,
    State(state): State<ApiState>,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "revoking API keys")?;
    let not_found = || ApiError::not_found(format!("no API key {key_id} in your org"));
    let mut record = state.store().get(Collection::ApiKeys, &caller.org_id, &key_id).await?.ok_or_else(not_found)?;
    let mut stored: StoredKey = serde_json::from_value(record.doc.clone()).map_err(|_| not_found())?;
    if stored.revoked_at.is_none() {
        stored.revoked_at = Some(utc_text(state.now()));
        record.doc = serde_json::to_value(&stored).map_err(|e| ApiError::internal("API key", e))?;
        state.store().put(Collection::ApiKeys, &record).await?;
        tracing::info!(org_id = %caller.org_id, %key_id, by = %caller.email, "API key revoked");
        crate::audit::record(&state, &caller, "revoke_api_key", &key_id).await?;
    }
    Ok(Json(json!({"status": "success", "message": "API key revoked", "key": view(&stored)})))
}
