//! `integrations` (an org's provider keys, one per provider: `OpenAI`, `Deepgram`, `VobizAuthToken`, ...) and
//! `custom-llm-integrations` (OpenAI-compatible servers an agent may think with). Keys are sealed with the
//! master key before they reach the store, bound to their record (`<collection>/<org>/<id>`, as `voicera
//! migrate` seals imported ones), and only their masked hint is ever answered; neither keys nor request bodies
//! are logged.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use voicera_store::secret::mask;
use voicera_store::{Collection, Record};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// `POST /integrations`: the original's body.
#[derive(Deserialize)]
pub struct IntegrationBody {
    model: String,
    api_key: String,
    /// The original sent it; it must be the caller's org when given.
    org_id: Option<String>,
}

/// A provider name as a record id: the console's names, or anything of letters, digits, `_.-` and spaces.
fn check_model(model: &str) -> Result<String, ApiError> {
    let model = model.trim();
    let ok = !model.is_empty()
        && model.len() <= 64
        && model.chars().all(|c| c.is_ascii_alphanumeric() || " _.-".contains(c));
    if ok {
        Ok(model.to_string())
    } else {
        Err(ApiError::invalid("model", "a provider name of letters, digits, spaces, '_', '.' or '-' (at most 64)"))
    }
}

fn check_org(caller: &Caller, org_id: Option<&str>) -> Result<(), ApiError> {
    match org_id.map(str::trim).filter(|o| !o.is_empty()) {
        Some(org) if org != caller.org_id => Err(ApiError::forbidden("org_id is not your org").at("org_id")),
        _ => Ok(()),
    }
}

fn check_key(key: &str) -> Result<&str, ApiError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 4096 {
        return Err(ApiError::invalid("api_key", "an API key of 1 to 4096 characters"));
    }
    Ok(key)
}

/// A stored document with its secret sealed for its record and a masked hint beside it.
fn seal_into(state: &ApiState, collection: Collection, record: &mut Record, key: &str) -> Result<(), ApiError> {
    let context = format!("{}/{}/{}", collection.name(), record.org_id, record.id);
    let sealed =
        state.resources()?.master_key.seal(key, &context).map_err(|e| ApiError::internal("sealing a key", e))?;
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("api_key".into(), Value::String(sealed));
        doc.insert("api_key_hint".into(), Value::String(mask(key)));
    }
    Ok(())
}

/// The org's key for integration `model` (`VobizAuthToken`), opened with the master key; `None` when the org
/// stored none. Names compare as the console writes them or normalised (`vobiz auth-token`).
pub(crate) async fn org_key(state: &ApiState, org_id: &str, model: &str) -> Result<Option<String>, ApiError> {
    let normal = |name: &str| name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let record = match state.store().get(Collection::Integrations, org_id, model).await? {
        Some(record) => Some(record),
        None => {
            let records = state.store().list(Collection::Integrations, org_id).await?;
            records.into_iter().find(|r| normal(&r.id) == normal(model))
        }
    };
    let Some(record) = record else { return Ok(None) };
    let Some(sealed) = record.doc.get("api_key").and_then(Value::as_str) else { return Ok(None) };
    let context = format!("{}/{}/{}", Collection::Integrations.name(), record.org_id, record.id);
    let key = state
        .resources()?
        .master_key
        .open(sealed, &context)
        .map_err(|e| ApiError::internal(&format!("opening the {model} key"), e))?;
    Ok(Some(key).filter(|k| !k.is_empty()))
}

/// A stored integration as answered: `api_key` is the masked hint.
fn masked(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        let hint = map.get("api_key_hint").cloned().unwrap_or_else(|| json!("••••"));
        map.insert("api_key".into(), hint);
        map.insert("org_id".into(), json!(record.org_id));
    }
    doc
}

/// `POST /integrations`: stores (or replaces) the org's key for a provider; 201 either way, as the original.
pub async fn upsert(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "change provider keys")?;
    check_org(&caller, body.org_id.as_deref())?;
    let model = check_model(&body.model)?;
    let key = check_key(&body.api_key)?;
    let store = state.store();
    let now = voicera_store::utc_text(state.now());
    let existing = store.get(Collection::Integrations, &caller.org_id, &model).await?;
    let created = existing.as_ref().and_then(|r| r.doc.get("created_at").cloned()).unwrap_or_else(|| json!(now));
    let doc = json!({"org_id": caller.org_id, "model": model, "created_at": created, "updated_at": now});
    let mut record = Record { org_id: caller.org_id.clone(), id: model, doc };
    seal_into(&state, Collection::Integrations, &mut record, key)?;
    store.put(Collection::Integrations, &record).await?;
    crate::audit::record(&state, &caller, "upsert_integration", &record.id).await?;
    // The org's agents call with the new key from their next call on.
    super::agents::routing_changed(&state).await;
    // The original answered 201 `{status, message}` for a new key and a replaced one alike; the masked
    // integration rides along.
    let mut answer = masked(&record);
    answer["status"] = json!("success");
    answer["message"] = json!(format!("{} key saved", record.id));
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /integrations`: the org's provider keys, masked; a JSON array, as the original answered.
pub async fn list(caller: Caller, State(state): State<ApiState>) -> Result<Json<Vec<Value>>, ApiError> {
    let records = state.store().list(Collection::Integrations, &caller.org_id).await?;
    Ok(Json(records.iter().map(masked).collect()))
}

/// `GET /integrations/{model}`: one provider's key, masked.
pub async fn get(
    caller: Caller,
    State(state): State<ApiState>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .store()
        .get(Collection::Integrations, &caller.org_id, &model)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {model:?} key in your org")))?;
    Ok(Json(masked(&record)))
}

/// `DELETE /integrations/{model}`: forgets a provider's key.
pub async fn remove(
    caller: Caller,
    State(state): State<ApiState>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "change provider keys")?;
    if !state.store().delete(Collection::Integrations, &caller.org_id, &model).await? {
        return Err(ApiError::not_found(format!("no {model:?} key in your org")));
    }
    crate::audit::record(&state, &caller, "delete_integration", &model).await?;
    super::agents::routing_changed(&state).await;
    Ok(Json(json!({"status": "success", "message": format!("{model} key deleted")})))
}

/// `POST /custom-llm-integrations` (all required) and `PUT /custom-llm-integrations/{id}` (each optional; the
/// key stays when none is sent).
#[derive(Deserialize)]
pub struct CustomLlmBody {
    name: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    model: Option<String>,
    org_id: Option<String>,
}

/// The original's rule: an `http(s)` URL, ending in `/v1` (appended when missing).
pub fn normalise_base_url(url: &str) -> Result<String, ApiError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err(ApiError::invalid("base_url", "an http:// or https:// URL of an OpenAI-compatible server"));
    }
    Ok(if url.ends_with("/v1") { url.to_string() } else { format!("{url}/v1") })
}

fn required_text(value: Option<&str>, field: &str) -> Result<String, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) if v.len() <= 256 => Ok(v.to_string()),
        Some(_) => Err(ApiError::invalid(field, "at most 256 characters")),
        None => Err(ApiError::invalid(field, format!("{field} is required"))),
    }
}

fn custom_llm_view(record: &Record) -> Value {
    let mut doc = masked(record);
    if let Some(map) = doc.as_object_mut() {
        map.insert("id".into(), json!(record.id));
        map.insert("_id".into(), json!(record.id));
    }
    doc
}

fn new_id() -> String {
    rand::random::<[u8; 8]>().iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /custom-llm-integrations`.
pub async fn create_custom_llm(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CustomLlmBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "change custom LLM integrations")?;
    check_org(&caller, body.org_id.as_deref())?;
    let name = required_text(body.name.as_deref(), "name")?;
    let base_url = normalise_base_url(&required_text(body.base_url.as_deref(), "base_url")?)?;
    let model = required_text(body.model.as_deref(), "model")?;
    let key = check_key(body.api_key.as_deref().unwrap_or_default())?;
    let now = voicera_store::utc_text(state.now());
    let doc = json!({"org_id": caller.org_id, "name": name, "base_url": base_url, "model": model,
                     "created_at": now, "updated_at": now});
    let mut record = Record { org_id: caller.org_id.clone(), id: new_id(), doc };
    seal_into(&state, Collection::CustomLlms, &mut record, key)?;
    state.store().put(Collection::CustomLlms, &record).await?;
    crate::audit::record(&state, &caller, "create_custom_llm", &record.id).await?;
    // The original answered `{status, integration}`; its fields also sit at the top level.
    let view = custom_llm_view(&record);
    let mut answer = view.clone();
    answer["status"] = json!("success");
    answer["integration"] = view;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /custom-llm-integrations`: a JSON array, as the original answered.
pub async fn list_custom_llms(caller: Caller, State(state): State<ApiState>) -> Result<Json<Vec<Value>>, ApiError> {
    let records = state.store().list(Collection::CustomLlms, &caller.org_id).await?;
    Ok(Json(records.iter().map(custom_llm_view).collect()))
}

/// `PUT /custom-llm-integrations/{id}`.
pub async fn update_custom_llm(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CustomLlmBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "change custom LLM integrations")?;
    check_org(&caller, body.org_id.as_deref())?;
    let store = state.store();
    let mut record = store
        .get(Collection::CustomLlms, &caller.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no custom LLM {id:?} in your org")))?;
    let mut changes = Map::new();
    if let Some(name) = body.name.as_deref() {
        changes.insert("name".into(), json!(required_text(Some(name), "name")?));
    }
    if let Some(url) = body.base_url.as_deref() {
        changes.insert("base_url".into(), json!(normalise_base_url(url)?));
    }
    if let Some(model) = body.model.as_deref() {
        changes.insert("model".into(), json!(required_text(Some(model), "model")?));
    }
    changes.insert("updated_at".into(), json!(voicera_store::utc_text(state.now())));
    if let Some(doc) = record.doc.as_object_mut() {
        doc.extend(changes);
    }
    if let Some(key) = body.api_key.as_deref() {
        seal_into(&state, Collection::CustomLlms, &mut record, check_key(key)?)?;
    }
    store.put(Collection::CustomLlms, &record).await?;
    crate::audit::record(&state, &caller, "update_custom_llm", &record.id).await?;
    Ok(Json(custom_llm_view(&record)))
}

/// `DELETE /custom-llm-integrations/{id}`.
pub async fn delete_custom_llm(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "change custom LLM integrations")?;
    if !state.store().delete(Collection::CustomLlms, &caller.org_id, &id).await? {
        return Err(ApiError::not_found(format!("no custom LLM {id:?} in your org")));
    }
    crate::audit::record(&state, &caller, "delete_custom_llm", &id).await?;
    Ok(Json(json!({"status": "success", "message": "custom LLM integration deleted"})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_end_in_v1_and_must_be_http() {
        assert_eq!(normalise_base_url("https://llm.example.com").unwrap(), "https://llm.example.com/v1");
        assert_eq!(normalise_base_url(" http://10.0.0.5:8003/v1/ ").unwrap(), "http://10.0.0.5:8003/v1");
        for bad in ["ftp://x", "llm.example.com", "https://", "https://a b"] {
            assert_eq!(normalise_base_url(bad).unwrap_err().field.as_deref(), Some("base_url"), "{bad}");
        }
        assert!(check_model("OpenAI").is_ok() && check_model("Vobiz Auth-Token").is_ok());
        assert!(check_model("../x").is_err() && check_model("").is_err());
    }
}
