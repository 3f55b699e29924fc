//! `webhooks`: an org's webhook endpoints (URL, subscribed events, a signing secret made here and shown only
//! in the answer that creates or rotates it, sealed at rest with the master key and masked after), their
//! delivery log with every attempt, a hand replay of any delivery and a test event. Deliveries themselves
//! are made by each node's worker ([`voicera_webhooks::worker`]) from the queue these routes write to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::secret::mask;
use voicera_store::{utc_text, Collection, Record};
use voicera_webhooks::outbox::{self, secret_context, Endpoint};
use voicera_webhooks::{events, signing};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::ApiState;

/// Endpoints an org may have.
const MAX_ENDPOINTS: usize = 20;
/// Largest page of deliveries.
const MAX_LIMIT: u64 = 100;

/// `POST /webhooks` (`url` and `events` required) and `PUT /webhooks/{id}` (each optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
    /// `PUT` only: replace the signing secret (the new one is in the answer, once).
    #[serde(default)]
    rotate_secret: bool,
}

fn check_url(state: &ApiState, url: &str) -> Result<String, ApiError> {
    voicera_webhooks::check_url(url, state.config().webhooks_allow_http_loopback)
        .map_err(|expected| ApiError::invalid("url", format!("url must be {expected}")))?;
    Ok(url.trim().to_string())
}

fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() || events.len() > 32 {
        return Err(ApiError::invalid("events", "events lists 1 to 32 subscriptions"));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        let event = event.trim();
        if !events::is_valid_subscription(event) {
            return Err(ApiError::invalid(
                "events",
                format!(
                    "unknown event {event:?}: one of {}, a family (call.*, campaign.*) or *",
                    events::EVENTS.join(", ")
                ),
            ));
        }
        if !out.iter().any(|e| e == event) {
            out.push(event.to_string());
        }
    }
    Ok(out)
}

fn check_description(description: &str) -> Result<String, ApiError> {
    let description = description.trim();
    if description.chars().count() > 500 {
        return Err(ApiError::invalid("description", "a description of at most 500 characters"));
    }
    Ok(description.to_string())
}

/// Seals a new secret into the endpoint's document; the secret in clear, for the one answer that shows it.
fn new_secret(state: &ApiState, record: &mut Record) -> Result<String, ApiError> {
    let secret = signing::generate_secret();
    let sealed = state
        .resources()?
        .master_key
        .seal(&secret, &secret_context(&record.org_id, &record.id))
        .map_err(|e| ApiError::internal("sealing a webhook secret", e))?;
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("secret".into(), json!(sealed));
        doc.insert("secret_hint".into(), json!(mask(&secret)));
    }
    Ok(secret)
}

/// An endpoint as answered: the secret masked.
fn answered(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        let hint = map.remove("secret_hint").unwrap_or_else(|| json!("••••"));
        map.insert("secret".into(), hint);
        map.insert("id".into(), json!(record.id));
    }
    doc
}

async fn endpoint(state: &ApiState, caller: &Caller, id: &str) -> Result<Record, ApiError> {
    state
        .store()
        .get(Collection::WebhookEndpoints, &caller.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook endpoint {id:?} in your org")))
}

/// `POST /webhooks`: a new endpoint; the answer carries its signing secret, the only time it is shown.
pub async fn create(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<EndpointBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "manage webhooks")?;
    let url = check_url(&state, body.url.as_deref().ok_or_else(|| ApiError::invalid("url", "url is required"))?)?;
    let subscriptions =
        check_events(body.events.as_deref().ok_or_else(|| ApiError::invalid("events", "events is required"))?)?;
    let description = check_description(body.description.as_deref().unwrap_or_default())?;
    let store = state.store();
    if store.list(Collection::WebhookEndpoints, &caller.org_id).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "limit",
            format!("an org has at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let now = utc_text(state.now());
    let doc = json!({
        "url": url, "events": subscriptions, "description": description, "enabled": body.enabled.unwrap_or(true),
        "disabled_reason": null, "created_at": now, "updated_at": now,
    });
    let mut record = Record { org_id: caller.org_id.clone(), id: outbox::new_id("we"), doc };
    let secret = new_secret(&state, &mut record)?;
    store.put(Collection::WebhookEndpoints, &record).await?;
    crate::audit::record(&state, &caller, "create_webhook", &record.id).await?;
    let mut answer = answered(&record);
    answer["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /webhooks`: the org's endpoints, secrets masked.
pub async fn list(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let records = state.store().list(Collection::WebhookEndpoints, &caller.org_id).await?;
    let items: Vec<Value> = records.iter().map(answered).collect();
    Ok(Json(json!({"webhooks": items, "count": items.len(), "events": events::EVENTS})))
}

/// `GET /webhooks/{endpoint_id}`: one endpoint, secret masked.
pub async fn get(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answered(&endpoint(&state, &caller, &id).await?)))
}

/// `PUT /webhooks/{endpoint_id}`: changes the URL, events, description or enabled state; `rotate_secret`
/// makes a new secret, shown in this answer only. Enabling clears a `disabled_reason` (a 410 Gone).
pub async fn update(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndpointBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "manage webhooks")?;
    let mut record = endpoint(&state, &caller, &id).await?;
    let changes = [
        body.url.as_deref().map(|u| check_url(&state, u).map(|u| ("url", json!(u)))),
        body.events.as_deref().map(|e| check_events(e).map(|e| ("events", json!(e)))),
        body.description.as_deref().map(|d| check_description(d).map(|d| ("description", json!(d)))),
    ];
    let mut fields = Vec::new();
    for change in changes.into_iter().flatten() {
        fields.push(change?);
    }
    if let Some(enabled) = body.enabled {
        fields.push(("enabled", json!(enabled)));
        if enabled {
            fields.push(("disabled_reason", Value::Null));
        }
    }
    fields.push(("updated_at", json!(utc_text(state.now()))));
    if let Some(doc) = record.doc.as_object_mut() {
        for (field, value) in fields {
            doc.insert(field.into(), value);
        }
    }
    let secret = if body.rotate_secret { Some(new_secret(&state, &mut record)?) } else { None };
    state.store().put(Collection::WebhookEndpoints, &record).await?;
    crate::audit::record(&state, &caller, "update_webhook", &id).await?;
    let mut answer = answered(&record);
    if let Some(secret) = secret {
        answer["secret"] = json!(secret);
    }
    Ok(Json(answer))
}

/// `DELETE /webhooks/{endpoint_id}`: removes an endpoint; its queued deliveries are cancelled when due, its
/// log stays readable by delivery id.
pub async fn remove(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "manage webhooks")?;
    if !state.store().delete(Collection::WebhookEndpoints, &caller.org_id, &id).await? {
        return Err(ApiError::not_found(format!("no webhook endpoint {id:?} in your org")));
    }
    crate::audit::record(&state, &caller, "delete_webhook", &id).await?;
    Ok(Json(json!({"status": "success", "message": format!("webhook endpoint {id} deleted")})))
}

/// The query of `GET /webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    /// 1-based page.
    page: Option<u64>,
    /// Deliveries per page (1 to 100, default 20).
    limit: Option<u64>,
}

/// A delivery as listed: no body, no attempts (the detail has them).
fn summary(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.remove("body");
        map.remove("attempts");
        map.insert("id".into(), json!(record.id));
    }
    doc
}

/// `GET /webhooks/{endpoint_id}/deliveries`: the endpoint's deliveries, newest first, one page.
pub async fn deliveries(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    endpoint(&state, &caller, &id).await?;
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    let limit = query.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_LIMIT}")));
    }
    let skip = (page - 1).saturating_mul(limit);
    let (records, total) = state
        .store()
        .list_newest_where(Collection::WebhookDeliveries, &caller.org_id, "endpoint_id", &id, skip, limit)
        .await?;
    let items: Vec<Value> = records.iter().map(summary).collect();
    Ok(Json(json!({"items": items, "total": total, "page": page, "limit": limit})))
}

async fn delivery(state: &ApiState, caller: &Caller, endpoint_id: &str, id: &str) -> Result<Record, ApiError> {
    state
        .store()
        .get(Collection::WebhookDeliveries, &caller.org_id, id)
        .await?
        .filter(|r| r.doc.get("endpoint_id").and_then(Value::as_str) == Some(endpoint_id))
        .ok_or_else(|| ApiError::not_found(format!("no delivery {id:?} to webhook endpoint {endpoint_id:?}")))
}

/// `GET /webhooks/{endpoint_id}/deliveries/{delivery_id}`: one delivery with its body and every attempt
/// (time, status, latency, the first KB of the answer, the error).
pub async fn delivery_detail(
    caller: Caller,
    State(state): State<ApiState>,
    Path((endpoint_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = delivery(&state, &caller, &endpoint_id, &id).await?;
    let mut doc = record.doc;
    doc["id"] = json!(record.id);
    Ok(Json(doc))
}

/// `POST /webhooks/{endpoint_id}/deliveries/{delivery_id}/replay`: sends the delivery's event again as a new
/// delivery (same event id and body, new delivery id, a fresh 24 h of retries).
pub async fn replay(
    caller: Caller,
    State(state): State<ApiState>,
    Path((endpoint_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "replay webhook deliveries")?;
    delivery(&state, &caller, &endpoint_id, &id).await?;
    let now = u64::try_from(state.now()).unwrap_or(0);
    let replayed = outbox::replay(state.store(), &caller.org_id, &id, now)
        .await
        .map_err(|e| ApiError::internal("queueing a webhook replay", e))?
        .ok_or_else(|| ApiError::not_found(format!("webhook endpoint {endpoint_id:?} is gone")))?;
    crate::audit::record(&state, &caller, "replay_webhook_delivery", &id).await?;
    Ok(Json(json!({"delivery_id": replayed, "replay_of": id, "status": outbox::PENDING})))
}

/// `POST /webhooks/{endpoint_id}/test`: queues a `webhook.test` event to this endpoint.
pub async fn test(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "send webhook tests")?;
    let record = endpoint(&state, &caller, &id).await?;
    let endpoint = Endpoint::from_record(&record)
        .ok_or_else(|| ApiError::internal("reading a webhook endpoint", "the stored endpoint has no url"))?;
    let now = u64::try_from(state.now()).unwrap_or(0);
    let delivery_id = outbox::send_test(state.store(), &endpoint, now)
        .await
        .map_err(|e| ApiError::internal("queueing a webhook test", e))?;
    crate::audit::record(&state, &caller, "test_webhook", &id).await?;
    Ok(Json(json!({"delivery_id": delivery_id, "event": events::WEBHOOK_TEST, "status": outbox::PENDING})))
}
