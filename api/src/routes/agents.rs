//! `agents`: an org's agents, addressed by name (`agent_type`, the original's key) or by id (`agent_id`, what
//! calls and streams address). Every lookup is within the caller's org; an agent id is unique across orgs, so
//! a call routed by id reaches exactly one agent. `agent_config` is checked by the binary's compile step
//! ([`crate::AgentValidator`]) before it is stored, and every write is handed to the node's routing
//! ([`crate::AgentDirectory::changed`]) so the next call on this node meets the change. The agents of
//! `voicera.toml` show in the owner's org with `"source": "config"` and are read-only here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use voicera_store::{utc_text, Collection, Record, RESERVED_AGENT_IDS};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::{ApiState, ConfigAgent};

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

/// An agent of an org: stored (changed over the API) or configured (`[[agents]]`, read-only).
pub(crate) enum Found {
    Stored(Record),
    Config(ConfigAgent),
}

/// The configured agents (none without a plugged-in directory).
pub(crate) fn config_agents(state: &ApiState) -> Vec<ConfigAgent> {
    state.agent_directory().map(|d| d.config_agents()).unwrap_or_default()
}

/// The configured agents as `org_id` sees them: all of them in the owner's org, none elsewhere.
pub(crate) fn config_agents_of(state: &ApiState, org_id: &str) -> Vec<ConfigAgent> {
    match state.agent_directory() {
        Some(d) if d.config_org().as_deref() == Some(org_id) => d.config_agents(),
        _ => Vec::new(),
    }
}

/// Tells this node's routing that agents or numbers changed, and waits until it routes by them.
pub(crate) async fn routing_changed(state: &ApiState) {
    if let Some(directory) = state.agent_directory() {
        directory.changed().await;
    }
}

async fn stored_by_name(state: &ApiState, org_id: &str, name: &str) -> Result<Option<Record>, ApiError> {
    let name = name.trim();
    Ok(state
        .store()
        .list(Collection::Agents, org_id)
        .await?
        .into_iter()
        .find(|r| r.doc.get("agent_type").and_then(Value::as_str) == Some(name)))
}

/// The org's agent named `name`, stored or configured.
pub(crate) async fn find_by_name(state: &ApiState, org_id: &str, name: &str) -> Result<Found, ApiError> {
    if let Some(record) = stored_by_name(state, org_id, name).await? {
        return Ok(Found::Stored(record));
    }
    let name = name.trim();
    config_agents_of(state, org_id)
        .into_iter()
        .find(|a| a.id == name)
        .map(Found::Config)
        .ok_or_else(|| ApiError::not_found(format!("no agent named {name:?} in your org")))
}

async fn find_by_id(state: &ApiState, org_id: &str, id: &str) -> Result<Found, ApiError> {
    if let Some(record) = state.store().get(Collection::Agents, org_id, id).await? {
        return Ok(Found::Stored(record));
    }
    config_agents_of(state, org_id)
        .into_iter()
        .find(|a| a.id == id)
        .map(Found::Config)
        .ok_or_else(|| ApiError::not_found(format!("no agent with id {id:?} in your org")))
}

/// The stored agent of a lookup, or the 409 that configured agents are read-only.
fn writable(found: Found) -> Result<Record, ApiError> {
    match found {
        Found::Stored(record) => Ok(record),
        Found::Config(agent) => Err(read_only(&agent.id)),
    }
}

/// A configured agent cannot be changed here.
pub(crate) fn read_only(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "read_only",
        format!(
            "agent {id:?} is configured in voicera.toml ([[agents]]) and is read-only over the API; change it in \
             the file and restart, or create a stored agent with another id"
        ),
    )
    .at("agent_id")
}

/// An agent as answers show it: the stored document with its org and id.
fn view(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.insert("org_id".into(), Value::String(record.org_id.clone()));
        map.entry("agent_id").or_insert_with(|| Value::String(record.id.clone()));
        map.insert("source".into(), Value::String("store".into()));
    }
    doc
}

/// A configured agent as answers show it, in the shape of a stored one.
fn config_view(agent: &ConfigAgent, org_id: &str) -> Value {
    json!({
        "agent_type": agent.id,
        "agent_id": agent.id,
        "org_id": org_id,
        "agent_config": agent.agent_config,
        "phone_number": agent.numbers.first().map(|n| format!("+{n}")),
        "numbers": agent.numbers.iter().map(|n| format!("+{n}")).collect::<Vec<_>>(),
        "source": "config",
    })
}

fn found_view(found: &Found, org_id: &str) -> Value {
    match found {
        Found::Stored(record) => view(record),
        Found::Config(agent) => config_view(agent, org_id),
    }
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
    // The id must stay free between this check and the write (on this node; see `routing_lock`).
    let taken = state.0.routing_lock.lock().await;
    if find_by_name(&state, &caller.org_id, &name).await.is_ok() {
        return Err(ApiError::conflict("agent_type", format!("your org already has an agent named {name:?}")));
    }
    // Unique across orgs and the configuration file: SIP and streams route by id alone.
    if config_agents(&state).iter().any(|a| a.id == id) {
        return Err(ApiError::conflict(
            "agent_id",
            format!("agent id {id:?} belongs to an agent configured in voicera.toml; choose another"),
        ));
    }
    if !state.store().find_id(Collection::Agents, &id).await?.is_empty() {
        return Err(ApiError::conflict("agent_id", format!("agent id {id:?} is taken; choose another")));
    }
    let now = utc_text(state.now());
    doc.insert("agent_type".into(), Value::String(name.clone()));
    doc.insert("agent_id".into(), Value::String(id.clone()));
    doc.insert("org_id".into(), Value::String(caller.org_id.clone()));
    doc.insert("agent_config".into(), body.agent_config);
    doc.insert("created_at".into(), Value::String(now.clone()));
    doc.insert("updated_at".into(), Value::String(now));
    let record = Record { org_id: caller.org_id.clone(), id: id.clone(), doc: Value::Object(doc) };
    state.store().put(Collection::Agents, &record).await?;
    drop(taken);
    routing_changed(&state).await;
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
        // 403 with the original's words (the path names an org; nothing of it is read).
        return Err(ApiError::forbidden("Not authorized to access this organization's agents").at("org_id"));
    }
    let agents = state.store().list(Collection::Agents, &caller.org_id).await?;
    let configured = config_agents_of(&state, &caller.org_id);
    Ok(Json(configured.iter().map(|a| config_view(a, &caller.org_id)).chain(agents.iter().map(view)).collect()))
}

/// `GET /agents/{agent_type}`: an agent by name.
pub async fn get_by_name(
    caller: Caller,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(found_view(&find_by_name(&state, &caller.org_id, &name).await?, &caller.org_id)))
}

/// `GET /agents/id/{agent_id}`: an agent by id.
pub async fn get_by_id(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(found_view(&find_by_id(&state, &caller.org_id, &id).await?, &caller.org_id)))
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
            if find_by_name(state, &caller.org_id, &new).await.is_ok() {
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
    routing_changed(state).await;
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
    let record = writable(find_by_name(&state, &caller.org_id, &name).await?)?;
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
    let record = writable(find_by_id(&state, &caller.org_id, &id).await?)?;
    update(&state, &caller, record, body).await
}

async fn delete(state: &ApiState, caller: &Caller, record: Record) -> Result<Json<Value>, ApiError> {
    state.store().delete(Collection::Agents, &record.org_id, &record.id).await?;
    // Its numbers stop leading to it (a later agent with the same id must not inherit them).
    let detached = super::numbers::detach_agent(state, caller, &record.id).await?;
    routing_changed(state).await;
    if detached > 0 {
        tracing::info!(agent_id = %record.id, numbers = detached, "numbers of the deleted agent detached");
    }
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
    let record = writable(find_by_name(&state, &caller.org_id, &name).await?)?;
    delete(&state, &caller, record).await
}

/// `DELETE /agents/id/{agent_id}`: deletes an agent found by id.
pub async fn delete_by_id(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting agents")?;
    let record = writable(find_by_id(&state, &caller.org_id, &id).await?)?;
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
    let record = writable(find_by_name(&state, &caller.org_id, &query.agent_type).await?)?;
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
