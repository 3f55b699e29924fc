//! `agents`: an org's agents, addressed by name (`agent_type`, the original's key) or by id (`agent_id`, what
//! calls and streams address). Every lookup is within the caller's org; an agent id is unique across orgs, so
//! a call routed by id reaches exactly one agent. `agent_config` is checked by the binary's compile step
//! ([`crate::AgentValidator`]) before it is stored.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use voicera_store::{utc_text, Collection, Record, RESERVED_AGENT_IDS};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::ApiState;

/// The original's optional agent fields, stored as given.
const OPTIONAL_FIELDS: &[&str] = &[
    "agent_category",
    "phone_number",
    "app_id",
    "greeting_message",
    "telephony_provider",
    "vobiz_app_id",
    "vobiz_answer_url",
    "plivo_app_id",
    "plivo_answer_url",
];

/// Longest agent name and id.
const MAX_NAME_CHARS: usize = 100;
const MAX_ID_CHARS: usize = 64;

/// The body of `POST /agents`: the agent's name, optional id and `agent_config`, plus any other fields the
/// original stored alongside them, which are kept.
#[derive(Debug, Deserialize)]
pub struct AgentCreate {
    agent_type: String,
    #[serde(default)]
    agent_id: Option<String>,
    agent_config: Value,
    /// The original's clients send their org; it must be the caller's.
    #[serde(default)]
    org_id: Option<String>,
    #[serde(flatten)]
    optional: Map<String, Value>,
}

/// The body of `PUT /agents/...`: a new `agent_config`, optionally a new name, and other fields kept as given.
#[derive(Debug, Deserialize)]
pub struct AgentUpdate {
    #[serde(default)]
    agent_type: Option<String>,
    agent_config: Value,
    #[serde(flatten)]
    optional: Map<String, Value>,
}

/// The original front end's slug of a name: lower case, spaces to `_`, other characters dropped.
fn slug(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => Some(c),
            _ => None,
        })
        .collect()
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid("agent_type", format!("name the agent (1 to {MAX_NAME_CHARS} characters)")));
    }
    Ok(name.to_string())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > MAX_ID_CHARS
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            "agent_id",
            format!("{id:?}: use 1 to {MAX_ID_CHARS} letters, digits, '-' or '_' (it is dialled as sip:<agent_id>@…)"),
        ));
    }
    if RESERVED_AGENT_IDS.contains(&id) {
        return Err(ApiError::invalid("agent_id", format!("{id:?} is a built-in service; choose another id")));
    }
    Ok(())
}

fn check_config(state: &ApiState, config: &Value) -> Result<(), ApiError> {
    if !config.is_object() {
        return Err(ApiError::invalid("agent_config", "agent_config must be a JSON object"));
    }
    state.0.validator.validate(config).map_err(|e| {
        let field = if e.field.is_empty() { "agent_config".to_string() } else { format!("agent_config.{}", e.field) };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_agent_config", e.message).at(field)
    })
}

/// Copies the original's optional fields that are present (text or null) into `doc`.
fn copy_optional(from: &Map<String, Value>, doc: &mut Map<String, Value>) -> Result<(), ApiError> {
    for &field in OPTIONAL_FIELDS {
        match from.get(field) {
            None => {}
            Some(value @ (Value::String(_) | Value::Null)) => {
                doc.insert(field.to_string(), value.clone());
            }
            Some(_) => return Err(ApiError::invalid(field, "must be text or null")),
        }
    }
    Ok(())
}

async fn by_name(state: &ApiState, org_id: &str, name: &str) -> Result<Record, ApiError> {
    let name = name.trim();
    state
        .store()
        .list(Collection::Agents, org_id)
        .await?
        .into_iter()
        .find(|r| r.doc.get("agent_type").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| ApiError::not_found(format!("no agent named {name:?} in your org")))
}

async fn by_id(state: &ApiState, org_id: &str, id: &str) -> Result<Record, ApiError> {
    state
        .store()
        .get(Collection::Agents, org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no agent with id {id:?} in your org")))
}

/// An agent as answers show it: the stored document with its org and id.
fn view(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.insert("org_id".into(), Value::String(record.org_id.clone()));
        map.entry("agent_id").or_insert_with(|| Value::String(record.id.clone()));
        map.entry("source").or_insert_with(|| Value::String("api".into()));
    }
    doc
}

/// `POST /agents`: creates an agent in the caller's org after the config validates.
pub async fn create(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<AgentCreate>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "creating agents")?;
    if body.org_id.as_deref().is_some_and(|o| o != caller.org_id) {
        return Err(ApiError::forbidden("you can create agents only in your own org").at("org_id"));
    }
    let name = check_name(&body.agent_type)?;
    let id =
        body.agent_id.as_deref().map(str::trim).filter(|i| !i.is_empty()).map_or_else(|| slug(&name), str::to_string);
    check_id(&id)?;
    check_config(&state, &body.agent_config)?;
    let mut doc = Map::new();
    copy_optional(&body.optional, &mut doc)?;
    if by_name(&state, &caller.org_id, &name).await.is_ok() {
        return Err(ApiError::conflict("agent_type", format!("your org already has an agent named {name:?}")));
    }
    // Unique across orgs: SIP and streams route by id alone.
    if !state.store().find_id(Collection::Agents, &id).await?.is_empty() {
        return Err(ApiError::conflict("agent_id", format!("agent id {id:?} is taken; choose another")));
    }
    let now = utc_text(state.now());
    doc.insert("agent_type".into(), Value::String(name.clone()));
    doc.insert("agent_id".into(), Value::String(id.clone()));
    doc.insert("org_id".into(), Value::String(caller.org_id.clone()));
    doc.insert("agent_config".into(), body.agent_config);
    doc.insert("source".into(), Value::String("api".into()));
    doc.insert("created_at".into(), Value::String(now.clone()));
    doc.insert("updated_at".into(), Value::String(now));
    let record = Record { org_id: caller.org_id.clone(), id: id.clone(), doc: Value::Object(doc) };
    state.store().put(Collection::Agents, &record).await?;
    tracing::info!(org_id = %caller.org_id, agent_id = %id, by = %caller.email, "agent created");
    crate::audit::record(&state, &caller, "create_agent", &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"status": "success", "message": "Agent created successfully", "agent_id": id, "agent_type": name, "agent": view(&record)}),
        ),
    ))
}

/// `GET /agents/org/{org_id}`: the org's agents (only the caller's own org).
pub async fn list_by_org(
    caller: Caller,
    State(state): State<ApiState>,
    Path(org_id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    if org_id != caller.org_id {
        return Err(ApiError::not_found(format!("no org {org_id:?} of yours")));
    }
    let agents = state.store().list(Collection::Agents, &caller.org_id).await?;
    Ok(Json(agents.iter().map(view).collect()))
}

/// `GET /agents/{agent_type}`: an agent by name.
pub async fn get_by_name(
    caller: Caller,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&by_name(&state, &caller.org_id, &name).await?)))
}

/// `GET /agents/id/{agent_id}`: an agent by id.
pub async fn get_by_id(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&by_id(&state, &caller.org_id, &id).await?)))
}

async fn update(
    state: &ApiState,
    caller: &Caller,
    mut record: Record,
    body: AgentUpdate,
) -> Result<Json<Value>, ApiError> {
    check_config(state, &body.agent_config)?;
    let current = record.doc.get("agent_type").and_then(Value::as_str).unwrap_or_default().to_string();
    let renamed = body.agent_type.as_deref().is_some_and(|new| new.trim() != current);
    let name = match body.agent_type.as_deref() {
        Some(new) if new.trim() != current => {
            let new = check_name(new)?;
            if by_name(state, &caller.org_id, &new).await.is_ok() {
                return Err(ApiError::conflict("agent_type", format!("your org already has an agent named {new:?}")));
            }
            new
        }
        _ => current,
    };
    let Some(doc) = record.doc.as_object_mut() else {
        return Err(ApiError::internal("agent update", "stored agent is not an object"));
    };
    copy_optional(&body.optional, doc)?;
    doc.insert("agent_type".into(), Value::String(name.clone()));
    doc.insert("agent_config".into(), body.agent_config);
    doc.insert("updated_at".into(), Value::String(utc_text(state.now())));
    state.store().put(Collection::Agents, &record).await?;
    if renamed {
        // The original cascaded a rename into everything naming the agent; here those documents carry the
        // agent's id too, so the name follows it there.
        let changed = state.store().rename_agent(&caller.org_id, &record.id, &name).await?;
        tracing::info!(agent_id = %record.id, documents = changed, "agent renamed in numbers, calls and campaigns");
    }
    tracing::info!(org_id = %caller.org_id, agent_id = %record.id, by = %caller.email, "agent updated");
    crate::audit::record(state, caller, "update_agent", &record.id).await?;
    Ok(Json(json!({"status": "success", "message": "Agent updated successfully", "agent": view(&record)})))
}

/// `PUT /agents/{agent_type}`: changes an agent found by name.
pub async fn update_by_name(
    caller: Caller,
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<AgentUpdate>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "changing agents")?;
    let record = by_name(&state, &caller.org_id, &name).await?;
    update(&state, &caller, record, body).await
}

/// `PUT /agents/id/{agent_id}`: changes an agent found by id.
pub async fn update_by_id(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AgentUpdate>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "changing agents")?;
    let record = by_id(&state, &caller.org_id, &id).await?;
    update(&state, &caller, record, body).await
}

async fn delete(state: &ApiState, caller: &Caller, record: Record) -> Result<Json<Value>, ApiError> {
    state.store().delete(Collection::Agents, &record.org_id, &record.id).await?;
    tracing::info!(org_id = %caller.org_id, agent_id = %record.id, by = %caller.email, "agent deleted");
    crate::audit::record(state, caller, "delete_agent", &record.id).await?;
    Ok(Json(json!({"status": "success", "message": "Agent deleted successfully", "agent_id": record.id})))
}

/// `DELETE /agents/{agent_type}`: deletes an agent found by name.
pub async fn delete_by_name(
    caller: Caller,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting agents")?;
    let record = by_name(&state, &caller.org_id, &name).await?;
    delete(&state, &caller, record).await
}

/// `DELETE /agents/id/{agent_id}`: deletes an agent found by id.
pub async fn delete_by_id(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting agents")?;
    let record = by_id(&state, &caller.org_id, &id).await?;
    delete(&state, &caller, record).await
}

/// The query of `DELETE /agents?agent_type=`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    agent_type: String,
}

/// The original's `DELETE /agents?agent_type=` (names with `/` in them).
pub async fn delete_by_query(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting agents")?;
    if query.agent_type.trim().is_empty() {
        return Err(ApiError::invalid("agent_type", "agent_type is required"));
    }
    let record = by_name(&state, &caller.org_id, &query.agent_type).await?;
    delete(&state, &caller, record).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_original_front_end() {
        assert_eq!(slug(" Sales Agent "), "sales_agent");
        assert_eq!(slug("Support-2 (Hindi)"), "support-2_hindi");
        assert_eq!(slug("नमस्ते"), "");
    }

    #[test]
    fn ids_must_be_dialable_and_not_built_in() {
        assert!(check_id("sales_agent-2").is_ok());
        for bad in ["", "a b", "x@y", "demo", "echo", &"a".repeat(65)] {
            assert_eq!(check_id(bad).unwrap_err().field.as_deref(), Some("agent_id"), "{bad}");
        }
    }
}
