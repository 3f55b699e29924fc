//! The audit log: every change made through the API appends one record to `audit_log` (who: the member and,
//! through a key, the API key; which org; what: the operation id and its target; when; from which address).
//! Handlers call [`record`] after their change is stored; owners and admins read the log, newest first, at
//! `GET /api/v1/audit`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use voicera_store::{utc_text, Collection, Record};

use crate::auth::{random_hex, Caller, Credential, Role};
use crate::error::{ApiError, ApiQuery};
use crate::state::ApiState;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The member (for an API key, its creator; for an accepted invite or a reset password, the person).
    pub user: String,
    /// The API key the change was made with, if one was.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The org the change was made in.
    pub org_id: String,
    /// The address the request came from.
    pub ip: String,
}

impl Actor {
    /// The actor of an authenticated request.
    pub fn of(caller: &Caller) -> Actor {
        Actor {
            user: caller.email.clone(),
            key_id: match &caller.credential {
                Credential::ApiKey { key_id } => Some(key_id.clone()),
                Credential::AccessToken | Credential::Password | Credential::Session { .. } => None,
            },
            org_id: caller.org_id.clone(),
            ip: caller.source.clone(),
        }
    }
}

/// One audit record, as stored and as `GET /audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Who.
    #[serde(flatten)]
    pub actor: Actor,
    /// What: the route table's operation id (`update_agent`, `delete_member`, ...).
    pub operation: String,
    /// What it was done to (an agent id, an email, a key id, ...).
    pub target: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// When, UTC text.
    pub at: String,
}

/// Records that `caller` did `operation` (the route's operation id) to `target`. Call it after the change is
/// stored; an error means the store failed, and the handler answers with it.
pub async fn record(state: &ApiState, caller: &Caller, operation: &str, target: &str) -> Result<(), ApiError> {
    record_as(state, Actor::of(caller), operation, target).await
}

/// [`record`] for a change made without a [`Caller`] (an invite accepted, a password reset by its link).
pub async fn record_as(state: &ApiState, actor: Actor, operation: &str, target: &str) -> Result<(), ApiError> {
    let now = state.now();
    let sequence = state.0.audit_sequence.fetch_add(1, Ordering::Relaxed);
    // Sorts by time; within one millisecond by this node's sequence; the random part keeps nodes apart.
    let id = format!("{:013}-{sequence:012}-{}", now.max(0), random_hex(4)?);
    let entry = Entry { actor, operation: operation.into(), target: target.into(), at_ms: now, at: utc_text(now) };
    let doc = serde_json::to_value(&entry).map_err(|e| ApiError::internal("audit record", e))?;
    state.store().put(Collection::AuditLog, &Record { org_id: entry.actor.org_id.clone(), id, doc }).await?;
    tracing::info!(org_id = %entry.actor.org_id, user = %entry.actor.user, operation, target, "audit");
    Ok(())
}

/// The query of `GET /audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// 1-based page.
    #[serde(default)]
    page: Option<u64>,
    /// Records per page (1 to 200, default 50).
    #[serde(default)]
    limit: Option<u64>,
}

/// Largest page of `GET /audit`.
pub const MAX_LIMIT: u64 = 200;

/// `GET /audit`: the org's audit log, newest first, one page (owners and admins).
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "reading the audit log")?;
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_LIMIT}")));
    }
    let skip = (page - 1).saturating_mul(limit);
    let (records, total) = state.store().list_newest(Collection::AuditLog, &caller.org_id, skip, limit).await?;
    let items: Vec<Value> = records
        .into_iter()
        .map(|r| {
            let mut doc = r.doc;
            doc["id"] = Value::String(r.id);
            doc
        })
        .collect();
    Ok(Json(json!({"items": items, "total": total, "page": page, "limit": limit})))
}
