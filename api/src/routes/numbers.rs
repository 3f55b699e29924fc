//! `phone-numbers`: which agent a called number leads to, with the original's routes and shapes. A number
//! belongs to one org (its document's id is the number's digits, and no other org may hold the same digits)
//! and is attached to at most one agent, so SIP calls to it (Request-URI user) and provider streams for it
//! reach exactly one agent. Attaching also sets the agent's `phone_number`, as the original did; every change
//! is handed to the node's routing before the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use voicera_store::{utc_text, Collection, Record};

use super::agents::{config_agents, config_agents_of, find_by_name, read_only, routing_changed, Found};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// Fewest digits of a number (shorter ones are extensions, not numbers).
const MIN_DIGITS: usize = 3;
/// Most digits of a number (E.164 has at most 15; some trunks prefix a few).
const MAX_DIGITS: usize = 20;

/// The body of `POST /phone-numbers/attach`.
#[derive(Debug, Deserialize)]
pub struct Attach {
    phone_number: String,
    #[serde(default)]
    provider: Option<String>,
    /// The agent's name; without it the number is registered to the org, attached to nothing.
    #[serde(default)]
    agent_type: Option<String>,
}

/// The body of `DELETE /phone-numbers/detach`.
#[derive(Debug, Deserialize)]
pub struct Detach {
    phone_number: String,
}

/// A number's digits (`+91 80000 00001` → `918000000001`), or a 422 naming `phone_number`.
fn digits_of(number: &str) -> Result<String, ApiError> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let allowed = number.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(ApiError::invalid(
            "phone_number",
            format!("{number:?} is not a phone number ({MIN_DIGITS} to {MAX_DIGITS} digits, optionally +, spaces, -)"),
        ));
    }
    Ok(digits)
}

fn text(doc: &Value, field: &str) -> Option<String> {
    doc.get(field).and_then(Value::as_str).map(str::to_string)
}

/// A number as answers show it.
fn view(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.insert("org_id".into(), Value::String(record.org_id.clone()));
        map.insert("source".into(), Value::String("store".into()));
    }
    doc
}

/// A configured agent's number, in the shape of a stored one.
fn config_view(org_id: &str, agent_id: &str, digits: &str) -> Value {
    json!({"phone_number": format!("+{digits}"), "provider": null, "agent_type": agent_id, "agent_id": agent_id,
           "org_id": org_id, "source": "config"})
}

/// Writes the agent's `phone_number` field (the original kept the attached number on the agent too).
async fn set_agent_number(
    state: &ApiState,
    org_id: &str,
    agent_id: &str,
    number: Option<&str>,
    only_if: Option<&str>,
) -> Result<(), ApiError> {
    let Some(mut agent) = state.store().get(Collection::Agents, org_id, agent_id).await? else {
        return Ok(());
    };
    // Only when the agent still shows that number (however it was written).
    let digits = |n: &str| n.chars().filter(char::is_ascii_digit).collect::<String>();
    let current = text(&agent.doc, "phone_number").map(|n| digits(&n));
    if only_if.is_some_and(|expected| current != Some(digits(expected))) {
        return Ok(());
    }
    if let Some(doc) = agent.doc.as_object_mut() {
        doc.insert("phone_number".into(), number.map_or(Value::Null, |n| Value::String(n.to_string())));
        doc.insert("updated_at".into(), Value::String(utc_text(state.now())));
    }
    state.store().put(Collection::Agents, &agent).await?;
    Ok(())
}

/// Marks `doc` detached from its agent, by `caller`.
fn mark_detached(doc: &mut Map<String, Value>, caller: &Caller, now: &str) {
    let previous = doc.get("agent_type").cloned().unwrap_or(Value::Null);
    doc.insert("agent_type".into(), Value::Null);
    doc.insert("agent_id".into(), Value::Null);
    doc.insert("last_link_action".into(), Value::String("detached".into()));
    doc.insert("last_link_agent_type".into(), previous);
    doc.insert("last_link_by_email".into(), Value::String(caller.email.clone()));
    doc.insert("last_link_at".into(), Value::String(now.to_string()));
    doc.insert("updated_at".into(), Value::String(now.to_string()));
}

/// `POST /phone-numbers/attach`: takes the number for the caller's org and attaches it to the named agent
/// (moving it from another agent of the org). 201, as the original answered (also when the number was there).
pub async fn attach(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Attach>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "attaching numbers")?;
    let number = body.phone_number.trim().to_string();
    let digits = digits_of(&number)?;
    let agent = match body.agent_type.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        None => None,
        Some(name) => match find_by_name(&state, &caller.org_id, name).await.map_err(|e| e.at("agent_type"))? {
            Found::Stored(record) => Some(record),
            Found::Config(agent) => return Err(read_only(&agent.id).at("agent_type")),
        },
    };
    // The number must stay free between this check and the write (on this node; see `routing_lock`).
    let taken = state.0.routing_lock.lock().await;
    if let Some(owner) = config_agents(&state).into_iter().find(|a| a.numbers.contains(&digits)) {
        return Err(ApiError::conflict(
            "phone_number",
            format!("{number} is attached to agent {:?} in voicera.toml", owner.id),
        ));
    }
    let holders = state.store().find_id(Collection::PhoneNumbers, &digits).await?;
    if holders.iter().any(|r| r.org_id != caller.org_id) {
        return Err(ApiError::conflict("phone_number", format!("{number} belongs to another org")));
    }
    let existing = holders.into_iter().next();
    let now = utc_text(state.now());
    let mut doc = existing.as_ref().and_then(|r| r.doc.as_object().cloned()).unwrap_or_default();
    let previous_agent = text(&Value::Object(doc.clone()), "agent_id");
    doc.insert("phone_number".into(), Value::String(number.clone()));
    if let Some(provider) = &body.provider {
        doc.insert("provider".into(), Value::String(provider.clone()));
    }
    doc.entry("provider").or_insert(Value::Null);
    doc.insert("org_id".into(), Value::String(caller.org_id.clone()));
    doc.entry("created_at").or_insert_with(|| Value::String(now.clone()));
    match &agent {
        Some(agent) => {
            let name = text(&agent.doc, "agent_type").unwrap_or_else(|| agent.id.clone());
            doc.insert("agent_type".into(), Value::String(name.clone()));
            doc.insert("agent_id".into(), Value::String(agent.id.clone()));
            doc.insert("last_link_action".into(), Value::String("attached".into()));
            doc.insert("last_link_agent_type".into(), Value::String(name));
            doc.insert("last_link_by_email".into(), Value::String(caller.email.clone()));
            doc.insert("last_link_at".into(), Value::String(now.clone()));
            doc.insert("updated_at".into(), Value::String(now));
        }
        None if previous_agent.is_some() => mark_detached(&mut doc, &caller, &now),
        None => {
            doc.entry("agent_type").or_insert(Value::Null);
            doc.entry("agent_id").or_insert(Value::Null);
            doc.insert("updated_at".into(), Value::String(now));
        }
    }
    let record = Record { org_id: caller.org_id.clone(), id: digits.clone(), doc: Value::Object(doc) };
    state.store().put(Collection::PhoneNumbers, &record).await?;
    drop(taken);
    let new_agent = agent.as_ref().map(|a| a.id.as_str());
    if let Some(previous) = previous_agent.as_deref().filter(|p| Some(*p) != new_agent) {
        set_agent_number(&state, &caller.org_id, previous, None, Some(&number)).await?;
    }
    if let Some(agent) = new_agent {
        set_agent_number(&state, &caller.org_id, agent, Some(&number), None).await?;
    }
    routing_changed(&state).await;
    crate::audit::record(&state, &caller, "attach_phone_number", &digits).await?;
    tracing::info!(org_id = %caller.org_id, number = %digits, agent = ?new_agent, by = %caller.email, "number attached");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"status": "success", "message": "Phone number attached successfully", "phone_number": view(&record)}),
        ),
    ))
}

/// `DELETE /phone-numbers/detach`: the number leads to no agent any more (the org keeps it).
pub async fn detach(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Detach>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "detaching numbers")?;
    let number = body.phone_number.trim().to_string();
    let digits = digits_of(&number)?;
    if config_agents_of(&state, &caller.org_id).iter().any(|a| a.numbers.contains(&digits)) {
        return Err(read_only_number(&number));
    }
    let Some(mut record) = state.store().get(Collection::PhoneNumbers, &caller.org_id, &digits).await? else {
        return Err(ApiError::not_found(format!("no number {number} in your org")).at("phone_number"));
    };
    let previous = text(&record.doc, "agent_id");
    if let Some(doc) = record.doc.as_object_mut() {
        mark_detached(doc, &caller, &utc_text(state.now()));
    }
    state.store().put(Collection::PhoneNumbers, &record).await?;
    if let Some(agent) = &previous {
        let stored = text(&record.doc, "phone_number").unwrap_or(number);
        set_agent_number(&state, &caller.org_id, agent, None, Some(&stored)).await?;
    }
    routing_changed(&state).await;
    crate::audit::record(&state, &caller, "detach_phone_number", &digits).await?;
    tracing::info!(org_id = %caller.org_id, number = %digits, agent = ?previous, by = %caller.email, "number detached");
    Ok(Json(
        json!({"status": "success", "message": "Phone number detached successfully", "phone_number": view(&record)}),
    ))
}

fn read_only_number(number: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "read_only",
        format!("{number} is attached in voicera.toml ([[agents]] numbers) and is read-only over the API"),
    )
    .at("phone_number")
}

/// Detaches every number of the org attached to `agent_id` (the agent is being deleted); how many.
pub(crate) async fn detach_agent(state: &ApiState, caller: &Caller, agent_id: &str) -> Result<usize, ApiError> {
    let now = utc_text(state.now());
    let mut detached = 0;
    for mut record in state.store().list(Collection::PhoneNumbers, &caller.org_id).await? {
        if text(&record.doc, "agent_id").as_deref() != Some(agent_id) {
            continue;
        }
        if let Some(doc) = record.doc.as_object_mut() {
            mark_detached(doc, caller, &now);
        }
        state.store().put(Collection::PhoneNumbers, &record).await?;
        detached += 1;
    }
    Ok(detached)
}

/// `GET /phone-numbers/org/{org_id}`: the org's numbers (only the caller's own org), configured ones first.
pub async fn list_by_org(
    caller: Caller,
    State(state): State<ApiState>,
    Path(org_id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    if org_id != caller.org_id {
        // 403 with the original's words (the path names an org; nothing of it is read).
        return Err(ApiError::forbidden("Not authorized to access this organization's phone numbers").at("org_id"));
    }
    let configured = config_agents_of(&state, &caller.org_id);
    let mut numbers: Vec<Value> =
        configured.iter().flat_map(|a| a.numbers.iter().map(|n| config_view(&caller.org_id, &a.id, n))).collect();
    let stored = state.store().list(Collection::PhoneNumbers, &caller.org_id).await?;
    numbers.extend(stored.iter().map(view));
    Ok(Json(numbers))
}

/// The fields of the original's `PhoneNumberResponse` (FastAPI dropped every other field of the document).
const ORIGINAL_FIELDS: [&str; 6] = ["phone_number", "provider", "agent_type", "org_id", "created_at", "updated_at"];

/// `number` cut down to the original's `PhoneNumberResponse`.
fn original_view(number: &Value) -> Value {
    let fields = ORIGINAL_FIELDS.iter().map(|f| ((*f).to_string(), number.get(*f).cloned().unwrap_or(Value::Null)));
    Value::Object(fields.collect())
}

/// `GET /phone-numbers/agent/{agent_type}`: the number attached to the org's agent of that name, one object
/// in the original's `PhoneNumberResponse` shape; 404 when the agent has none. An agent may hold several
/// numbers here (the original kept one): the one on the agent (the last attached) is answered, else the
/// first; `GET /phone-numbers/org/{org_id}` lists them all with their `agent_id`.
pub async fn get_by_agent(
    caller: Caller,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let number = match find_by_name(&state, &caller.org_id, &name).await? {
        Found::Config(agent) => agent.numbers.first().map(|n| config_view(&caller.org_id, &agent.id, n)),
        Found::Stored(agent) => {
            let digits = |n: &str| n.chars().filter(char::is_ascii_digit).collect::<String>();
            let on_agent = text(&agent.doc, "phone_number").map(|n| digits(&n));
            let stored = state.store().list(Collection::PhoneNumbers, &caller.org_id).await?;
            let attached: Vec<&Record> =
                stored.iter().filter(|r| text(&r.doc, "agent_id").as_deref() == Some(agent.id.as_str())).collect();
            attached
                .iter()
                .find(|r| on_agent.as_deref() == Some(r.id.as_str()))
                .or_else(|| attached.first())
                .map(|r| view(r))
        }
    };
    match number {
        Some(number) => Ok(Json(original_view(&number))),
        None => Err(ApiError::not_found("No phone number attached to this agent")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_kept_as_digits_and_nonsense_is_refused_naming_the_field() {
        assert_eq!(digits_of("+91 80000-00001").unwrap(), "918000000001");
        assert_eq!(digits_of("(555) 123").unwrap(), "555123");
        for bad in ["12", "sip:sales@example.com", "+1 555 CALL NOW", &"9".repeat(21)] {
            assert_eq!(digits_of(bad).unwrap_err().field.as_deref(), Some("phone_number"), "{bad}");
        }
    }
}
