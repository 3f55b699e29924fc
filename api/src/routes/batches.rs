//! `batches` (the original's outbound campaigns, same paths and shapes) and `campaigns` (what the original
//! lacked: pacing, calling windows, retries per outcome, the trunk and caller id).
//!
//! An upload (multipart `file`, or the CSV as the raw body) is read by [`voicera_dialer::contacts`]: every row
//! is a contact (do-not-call numbers included, marked done as `dnc-skipped`) or a rejected row reported with
//! its line and reason; nothing is dropped silently. Contacts are stored in one bulk write, each a
//! [`ContactDocument`] keyed `<batch_id>:<row_number>`. Run, stop, pause, schedule only change the batch's
//! `execution_status`; the campaign runner of each calling node (the binary's `campaigns` module) follows it,
//! dialling under per-contact leases in the store.

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use voicera_dialer::config::{local_time_to_unix, utc_offset_of, CampaignConfig, CampaignRoute};
use voicera_dialer::contacts::{self, ListOptions, RowProblem, MAX_FILE_BYTES};
use voicera_dialer::lease::{ContactDocument, ContactStatus};
use voicera_dialer::phone::{to_e164, CountryPlan};
use voicera_store::{utc_text, Collection, Record, Store};

use super::agents::{find_by_name, Found};
use super::upload::{self, UploadLimit};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::ApiState;

/// The upload route's body limit: the file plus room for the multipart framing and the other fields.
pub const UPLOAD_BODY_LIMIT: usize = MAX_FILE_BYTES + 64 * 1024;

/// Rejected rows kept in the batch document (the upload's answer lists them all).
const STORED_REJECTED_ROWS: usize = 10_000;

/// The built-in services a campaign may put on the line without a stored agent (tests and probes).
const BUILT_IN_AGENTS: [&str; 2] = ["echo", "bench"];

/// Batch `execution_status` values the runner acts on.
pub mod status {
    /// Uploaded, never run.
    pub const NOT_STARTED: &str = "not_started";
    /// Waiting for `scheduled_at_ms`.
    pub const SCHEDULED: &str = "scheduled";
    /// Dialling.
    pub const RUNNING: &str = "running";
    /// No new calls; live calls continue; `resume` continues.
    pub const PAUSED: &str = "paused";
    /// Asked to stop: live calls finish, then `stopped`.
    pub const STOPPING: &str = "stopping";
    /// Stopped by request.
    pub const STOPPED: &str = "stopped";
    /// Every contact done.
    pub const COMPLETED: &str = "completed";
    /// The runner could not run it (`error_message` says why).
    pub const FAILED: &str = "failed";
}

fn text(doc: &Value, field: &str) -> Option<String> {
    doc.get(field).and_then(Value::as_str).map(str::to_string)
}

fn new_batch_id() -> String {
    rand::random::<[u8; 8]>().iter().map(|b| format!("{b:02x}")).collect()
}

/// The store key prefix of a batch's contacts.
pub fn contact_prefix(batch_id: &str) -> String {
    format!("{batch_id}:")
}

/// Reads, changes (with `change`) and writes a batch document, conditional on its `version`, retrying when
/// another writer (the API, a runner on any node) changed it in between. `Ok(None)`: no such batch.
/// `change` returns an error to refuse the change (nothing is written).
pub async fn update_batch<E: From<voicera_store::StoreError>>(
    store: &Store,
    org_id: &str,
    batch_id: &str,
    mut change: impl FnMut(&mut Map<String, Value>) -> Result<(), E>,
) -> Result<Option<Record>, E> {
    loop {
        let Some(mut record) = store.get(Collection::Batches, org_id, batch_id).await? else {
            return Ok(None);
        };
        let stored_version = record.doc.get("version").and_then(Value::as_u64);
        let Some(doc) = record.doc.as_object_mut() else {
            return Ok(None);
        };
        change(doc)?;
        doc.insert("version".into(), json!(stored_version.unwrap_or(0) + 1));
        let written = match stored_version {
            Some(version) => store.put_if_version(Collection::Batches, &record, Some(version)).await?,
            // A batch imported from the original has no version: its first write gives it one.
            None => {
                store.put(Collection::Batches, &record).await?;
                true
            }
        };
        if written {
            return Ok(Some(record));
        }
    }
}

/// What every `campaign.*` webhook says about its batch.
pub fn campaign_event_data(batch: &Record) -> Value {
    let field = |name: &str| batch.doc.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "batch_id": batch.id,
        "batch_name": field("batch_name"),
        "agent_id": field("agent_id"),
        "agent_type": field("agent_type"),
        "execution_status": field("execution_status"),
    })
}

/// Emits a `campaign.*` webhook about `batch` to its org (queued in the store; each node's worker delivers
/// it). A store error loses the webhook, never the action: it is logged.
pub async fn emit_campaign_event(store: &Store, batch: &Record, event: &str, extra: Map<String, Value>, now_ms: i64) {
    let mut data = campaign_event_data(batch);
    if let Some(map) = data.as_object_mut() {
        map.extend(extra);
    }
    if let Err(error) = voicera_webhooks::emit(store, &batch.org_id, event, data, now_ms.max(0) as u64).await {
        tracing::warn!(%error, batch = %batch.id, %event, "cannot queue a campaign webhook");
    }
}

/// The org's batch, or 404.
async fn batch_of(state: &ApiState, org_id: &str, batch_id: &str) -> Result<Record, ApiError> {
    state
        .store()
        .get(Collection::Batches, org_id, batch_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no batch {batch_id:?} in your org")))
}

/// The batch's campaign settings (defaults where none were set).
pub fn campaign_of(doc: &Value) -> Result<CampaignConfig, String> {
    match doc.get("campaign") {
        None | Some(Value::Null) => Ok(CampaignConfig::default()),
        Some(value) => CampaignConfig::deserialize(value).map_err(|e| e.to_string()),
    }
}

/// An agent a campaign can put on the line: (id, name).
async fn agent_named(state: &ApiState, org_id: &str, name: &str, field: &str) -> Result<(String, String), ApiError> {
    let name = name.trim();
    if BUILT_IN_AGENTS.contains(&name) {
        return Ok((name.to_string(), name.to_string()));
    }
    match find_by_name(state, org_id, name).await {
        Ok(Found::Stored(record)) => Ok((record.id.clone(), text(&record.doc, "agent_type").unwrap_or(record.id))),
        Ok(Found::Config(agent)) => Ok((agent.id.clone(), agent.id)),
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(ApiError::invalid(field, e.detail)),
        Err(e) => Err(e),
    }
}

/// The fields of an upload besides the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFields {
    #[serde(default)]
    batch_name: Option<String>,
    #[serde(default)]
    agent_type: Option<String>,
    #[serde(default)]
    org_id: Option<String>,
    /// ISO country whose national format numbers without `+` are read in (default `IN`).
    #[serde(default)]
    default_country: Option<String>,
    /// Numbers never to call, separated by commas, semicolons or line breaks.
    #[serde(default)]
    do_not_call: Option<String>,
}

/// What the contact-list upload accepts.
const CONTACT_LIST: UploadLimit = UploadLimit { max_bytes: MAX_FILE_BYTES, what: "a contact list" };

/// `POST /batches/upload`: multipart (`file`, `batch_name`, `agent_type`, optional `org_id`, `default_country`,
/// `do_not_call`), or the CSV as the raw body with those fields in the query.
pub async fn upload(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<UploadFields>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "uploading contact lists")?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut fields = query;
    let mut filename = None;
    let bytes = if content_type.starts_with("multipart/form-data") {
        let mut multipart = upload::multipart(request, &state).await?;
        let mut file = None;
        while let Some(mut field) = CONTACT_LIST.next_field(&mut multipart).await? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                filename = field.file_name().map(str::to_string);
                file = Some(CONTACT_LIST.file_bytes(&mut field).await?);
                continue;
            }
            let value = CONTACT_LIST.field_text(field).await?;
            let slot = match name.as_str() {
                "batch_name" => &mut fields.batch_name,
                "agent_type" => &mut fields.agent_type,
                "org_id" => &mut fields.org_id,
                "default_country" => &mut fields.default_country,
                "do_not_call" => &mut fields.do_not_call,
                other => return Err(ApiError::invalid(other, format!("unknown field {other:?} in the upload"))),
            };
            *slot = Some(value);
        }
        file.ok_or_else(|| ApiError::invalid("file", "the upload has no `file` part"))?
    } else {
        CONTACT_LIST.raw_body(request).await?
    };
    if fields.org_id.as_deref().is_some_and(|o| !o.trim().is_empty() && o.trim() != caller.org_id) {
        return Err(ApiError::forbidden("org_id is not your org").at("org_id"));
    }
    let batch_name = fields.batch_name.as_deref().map(str::trim).unwrap_or_default().to_string();
    if batch_name.is_empty() || batch_name.chars().count() > 100 {
        return Err(ApiError::invalid("batch_name", "name the batch (1 to 100 characters)"));
    }
    let agent_name = fields.agent_type.as_deref().map(str::trim).unwrap_or_default().to_string();
    if agent_name.is_empty() {
        return Err(ApiError::invalid("agent_type", "name the agent that makes the calls"));
    }
    let (agent_id, agent_type) = agent_named(&state, &caller.org_id, &agent_name, "agent_type").await?;
    let country_code = fields.default_country.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or("IN");
    let country = CountryPlan::for_country(country_code).ok_or_else(|| {
        ApiError::invalid(
            "default_country",
            format!(
                "{country_code:?} is not a country the dialer knows ({})",
                CountryPlan::known().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let mut do_not_call = HashSet::new();
    for raw in fields.do_not_call.as_deref().unwrap_or_default().split([',', ';', '\n', '\r']) {
        if raw.trim().is_empty() {
            continue;
        }
        let number = to_e164(raw, &country).map_err(|e| ApiError::invalid("do_not_call", format!("{raw:?}: {e}")))?;
        do_not_call.insert(number);
    }
    let existing = state.store().list(Collection::Batches, &caller.org_id).await?;
    if existing.iter().any(|r| text(&r.doc, "batch_name").as_deref() == Some(batch_name.as_str())) {
        return Err(ApiError::conflict("batch_name", format!("your org already has a batch named {batch_name:?}")));
    }
    let mut list = contacts::load(&bytes, &ListOptions { country, do_not_call }).map_err(|e| match e {
        voicera_dialer::DialerError::TooLarge { .. } => CONTACT_LIST.too_large(),
        other => ApiError::invalid("file", other.to_string()),
    })?;
    // The org's do-not-call list (`/dnc`) as well as the upload's own: the list's numbers looked up in it (a
    // query per thousand), never the whole list read.
    let numbers: Vec<String> = list.contacts.iter().map(|c| c.number.clone()).collect();
    let listed = super::dnc::listed_among(&state.store(), &caller.org_id, &numbers).await?;
    for contact in &mut list.contacts {
        contact.do_not_call |= listed.contains(&contact.number);
    }

    let batch_id = new_batch_id();
    let now = utc_text(state.now());
    let mut documents = Vec::with_capacity(list.contacts.len());
    for contact in &list.contacts {
        let mut doc = ContactDocument::queued(&batch_id, contact.line, &contact.number, contact.variables.clone());
        if contact.do_not_call {
            doc.status = ContactStatus::Done;
            doc.disposition = Some("dnc-skipped".into());
        }
        let mut value = doc.to_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("org_id".into(), json!(caller.org_id));
            map.insert("agent_id".into(), json!(agent_id));
            map.insert("agent_type".into(), json!(agent_type));
            map.insert("raw_number".into(), json!(contact.raw_number));
            map.insert("is_valid".into(), json!(true));
            map.insert("do_not_call".into(), json!(contact.do_not_call));
        }
        documents.push(Record { org_id: caller.org_id.clone(), id: doc.store_id(), doc: value });
    }
    state.store().put_many(Collection::BatchContacts, &documents).await?;

    let reason_code = |p: &RowProblem| match p {
        RowProblem::Number(_) => "invalid_number",
        RowProblem::Duplicate { .. } => "duplicate",
        RowProblem::FieldCount { .. } => "field_count",
    };
    let rejected: Vec<Value> = list
        .rejected
        .iter()
        .map(|r| json!({"line": r.line, "contact_number": r.raw_number, "code": reason_code(&r.problem), "reason": r.problem.to_string()}))
        .collect();
    let duplicates = list.rejected.iter().filter(|r| matches!(r.problem, RowProblem::Duplicate { .. })).count();
    let dnc: Vec<Value> = list
        .contacts
        .iter()
        .filter(|c| c.do_not_call)
        .map(|c| json!({"line": c.line, "contact_number": c.number}))
        .collect();
    let counts = json!({
        "total_contacts": list.contacts.len() + list.rejected.len(),
        "valid_contacts": list.contacts.len() - dnc.len(),
        "invalid_contacts": list.rejected.len() - duplicates,
        "duplicate_contacts": duplicates,
        "dnc_contacts": dnc.len(),
        "blank_lines": list.blank_lines.len(),
    });
    let mut doc = json!({
        "batch_id": batch_id, "batch_name": batch_name, "agent_type": agent_type, "agent_id": agent_id,
        "concurrency": CampaignConfig::default().max_live_calls, "original_filename": filename,
        "status": "uploaded", "execution_status": status::NOT_STARTED, "columns": list.columns,
        "delimiter": list.delimiter.to_string(), "default_country": country.iso,
        "attempted_calls": 0, "successful_calls": 0, "failed_calls": 0, "error_message": null,
        "schedule_mode": "run_now", "scheduled_at_utc": null, "scheduled_timezone": null, "scheduled_status": "none",
        "campaign": CampaignConfig::default(),
        "rejected_rows": rejected.iter().take(STORED_REJECTED_ROWS).cloned().collect::<Vec<_>>(),
        "created_by": caller.email, "created_at": now, "updated_at": now, "version": 0,
    });
    if let (Some(map), Some(extra)) = (doc.as_object_mut(), counts.as_object()) {
        map.extend(extra.clone());
    }
    let record = Record { org_id: caller.org_id.clone(), id: batch_id.clone(), doc };
    state.store().put(Collection::Batches, &record).await?;
    crate::audit::record(&state, &caller, "create_batch", &batch_id).await?;
    let mut answer = json!({
        "status": "success", "message": "Batch uploaded", "batch_id": batch_id, "batch_name": batch_name,
        "agent_type": agent_type, "columns": list.columns, "rejected_rows": rejected, "dnc_rows": dnc,
        "blank_lines": list.blank_lines,
    });
    if let (Some(map), Some(extra)) = (answer.as_object_mut(), counts.as_object()) {
        map.extend(extra.clone());
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The query of `GET /batches`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    agent_type: Option<String>,
}

fn summary(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.remove("rejected_rows");
        map.insert("org_id".into(), json!(record.org_id));
        map.insert("batch_id".into(), json!(record.id));
    }
    doc
}

/// `GET /batches`: the org's batches, newest first (optionally one agent's).
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut batches: Vec<Record> = state.store().list(Collection::Batches, &caller.org_id).await?;
    if let Some(agent) = query.agent_type.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        batches.retain(|b| text(&b.doc, "agent_type").as_deref() == Some(agent));
    }
    batches.sort_by_key(|b| std::cmp::Reverse(text(&b.doc, "created_at")));
    let items: Vec<Value> = batches.iter().map(summary).collect();
    Ok(Json(json!({"batches": items, "count": items.len()})))
}

/// Counts of a batch's contacts by state and outcome, progress and an ETA.
async fn progress(state: &ApiState, batch: &Record) -> Result<Value, ApiError> {
    let contacts =
        state.store().list_prefix(Collection::BatchContacts, &batch.org_id, &contact_prefix(&batch.id)).await?;
    let (mut queued, mut dialing, mut done) = (0u64, 0u64, 0u64);
    let mut by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    let mut attempts_by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    let (mut attempts, mut call_ms, mut ended) = (0u64, 0i64, 0i64);
    for record in &contacts {
        let Ok(contact) = ContactDocument::from_json(&record.doc) else {
            continue;
        };
        match contact.status {
            ContactStatus::Queued => queued += 1,
            ContactStatus::Dialing => dialing += 1,
            ContactStatus::Done => {
                done += 1;
                *by_outcome.entry(contact.disposition.clone().unwrap_or_default()).or_default() += 1;
            }
        }
        for attempt in &contact.history {
            attempts += 1;
            if let (Some(end), Some(outcome)) = (attempt.ended_at, &attempt.outcome) {
                call_ms += end - attempt.started_at;
                ended += 1;
                *attempts_by_outcome.entry(outcome.clone()).or_default() += 1;
            }
        }
    }
    let total = contacts.len() as u64;
    let campaign = campaign_of(&batch.doc).unwrap_or_default();
    // Remaining contacts at the average attempt's length, `max_live_calls` at a time (retries not counted).
    let eta_seconds = (ended > 0 && queued + dialing > 0).then(|| {
        let average_ms = call_ms as f64 / ended as f64;
        ((queued + dialing) as f64 * average_ms / f64::from(campaign.max_live_calls.max(1)) / 1000.0).ceil() as u64
    });
    let percent = if total == 0 { 100.0 } else { (done as f64 * 1000.0 / total as f64).round() / 10.0 };
    Ok(json!({
        "contacts": total, "queued": queued, "dialing": dialing, "done": done, "percent_done": percent,
        "by_outcome": by_outcome, "attempts": attempts, "attempts_by_outcome": attempts_by_outcome,
        "eta_seconds": eta_seconds,
    }))
}

/// `GET /batches/{batch_id}`: the batch with its contacts' counts per outcome, progress and ETA.
pub async fn get(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let mut view = summary(&batch);
    let progress = progress(&state, &batch).await?;
    if let Some(map) = view.as_object_mut() {
        map.insert("progress".into(), progress);
        map.insert("rejected_rows".into(), batch.doc.get("rejected_rows").cloned().unwrap_or(json!([])));
    }
    Ok(Json(view))
}

/// The query of `GET /batches/{batch_id}/contacts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsQuery {
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /batches/{batch_id}/contacts`: the contacts in file order with state, disposition and every attempt.
pub async fn contacts_of(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
    ApiQuery(query): ApiQuery<ContactsQuery>,
) -> Result<Json<Value>, ApiError> {
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    let page = query.page.unwrap_or(1).max(1);
    let mut contacts =
        state.store().list_prefix(Collection::BatchContacts, &caller.org_id, &contact_prefix(&batch.id)).await?;
    contacts.sort_by_key(|r| r.doc.get("row_number").and_then(Value::as_u64).unwrap_or(0));
    let total = contacts.len();
    let items: Vec<Value> = contacts
        .into_iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .map(|mut r| {
            if let Some(map) = r.doc.as_object_mut() {
                map.remove("lease");
            }
            r.doc
        })
        .collect();
    Ok(Json(json!({"items": items, "total": total, "page": page, "limit": limit})))
}

/// The body of `run`, `schedule` and `reschedule`: the original's fields and the route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    agent_type: Option<String>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    trunk: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    caller_id: Option<String>,
    #[serde(default)]
    scheduled_at_local: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    /// Accepted for the original's console (its own org).
    #[serde(default)]
    org_id: Option<String>,
}

/// Applies a run body's agent, concurrency and route to the batch document (checked, 422 naming the field).
async fn apply_run_body(
    state: &ApiState,
    caller: &Caller,
    batch: &Record,
    body: &RunBody,
) -> Result<Map<String, Value>, ApiError> {
    if body.org_id.as_deref().is_some_and(|o| !o.trim().is_empty() && o.trim() != caller.org_id) {
        return Err(ApiError::forbidden("org_id is not your org").at("org_id"));
    }
    let provider = body.provider.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if provider.is_some() && body.trunk.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        return Err(ApiError::invalid("provider", "a campaign dials through a trunk or a provider, not both"));
    }
    let mut changes = Map::new();
    let mut campaign = campaign_of(&batch.doc).map_err(|e| ApiError::invalid("campaign", e))?;
    if let Some(name) = body.agent_type.as_deref().filter(|n| !n.trim().is_empty()) {
        let (id, name) = agent_named(state, &caller.org_id, name, "agent_type").await?;
        changes.insert("agent_id".into(), json!(id));
        changes.insert("agent_type".into(), json!(name));
    }
    if let Some(concurrency) = body.concurrency {
        if !(1..=voicera_dialer::config::MAX_LIVE_CALLS).contains(&concurrency) {
            return Err(ApiError::invalid(
                "concurrency",
                format!("must be 1 to {} live calls", voicera_dialer::config::MAX_LIVE_CALLS),
            ));
        }
        campaign.max_live_calls = concurrency;
        changes.insert("concurrency".into(), json!(concurrency));
    }
    // A route given here replaces the stored one, whichever kind it was.
    if let Some(trunk) = &body.trunk {
        campaign.trunk = Some(trunk.trim().to_string());
        campaign.provider = None;
    }
    if let Some(provider) = provider {
        campaign.provider = Some(provider.to_ascii_lowercase());
        campaign.trunk = None;
    }
    if let Some(caller_id) = &body.caller_id {
        campaign.caller_id = Some(caller_id.trim().to_string()).filter(|c| !c.is_empty());
    }
    if campaign.route().is_none() {
        return Err(ApiError::invalid(
            "trunk",
            "name the [[trunks]] entry the calls go through, or a `provider` (vobiz, plivo, twilio) with a \
             `caller_id` (here or in PUT /campaigns/{batch_id})",
        ));
    }
    campaign.settings().map_err(|p| ApiError::invalid(p.field, p.message))?;
    check_ring_timeout(state, &campaign)?;
    check_provider_account(state, &caller.org_id, &campaign).await?;
    changes.insert("campaign".into(), json!(campaign));
    Ok(changes)
}

/// A campaign call rings at most `ring_timeout_seconds`, and a node that cannot renew a call's lease hangs it
/// up once two thirds of the lease are gone: a SIP call still ringing then can only be hung up once it is
/// answered, so the ring time-out must end first, or another node could call the contact while it still rings
/// (`voicera_dialer::config::check_ring_timeout`, the rule the dialer nodes' `[campaigns] lease_ms` is checked
/// against too).
fn check_ring_timeout(state: &ApiState, campaign: &CampaignConfig) -> Result<(), ApiError> {
    let lease_ms = state.config().campaign_lease_ms;
    voicera_dialer::config::check_ring_timeout(campaign.ring_timeout_seconds, lease_ms)
        .map_err(|p| ApiError::invalid(p.field, p.message))
}

fn conflict_status(doc: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), ApiError> {
    let current = doc.get("execution_status").and_then(Value::as_str).unwrap_or(status::NOT_STARTED);
    if allowed.contains(&current) {
        Ok(())
    } else {
        Err(ApiError::conflict("execution_status", format!("the batch is {current}; it cannot {what}")))
    }
}

/// Writes `changes` and the new status, if the batch's status is one of `allowed`; then emits `event` (the
/// `campaign.*` webhook this transition means, if any).
#[allow(clippy::too_many_arguments)]
async fn transition(
    state: &ApiState,
    caller: &Caller,
    batch_id: &str,
    allowed: &[&str],
    what: &str,
    changes: Map<String, Value>,
    operation: &str,
    event: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let now = utc_text(state.now());
    let record = update_batch(state.store(), &caller.org_id, batch_id, |doc| {
        conflict_status(doc, allowed, what)?;
        for (k, v) in &changes {
            doc.insert(k.clone(), v.clone());
        }
        doc.insert("updated_at".into(), json!(now));
        Ok::<(), ApiError>(())
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no batch {batch_id:?} in your org")))?;
    // The write is a compare-and-set on the batch's version: exactly one request makes this transition,
    // so its event is emitted once whatever the number of API nodes.
    if let Some(event) = event {
        emit_campaign_event(state.store(), &record, event, Map::new(), state.now()).await;
    }
    crate::audit::record(state, caller, operation, batch_id).await?;
    Ok(Json(json!({"status": "success", "batch": summary(&record)})))
}

const STARTABLE: &[&str] =
    &[status::NOT_STARTED, status::STOPPED, status::COMPLETED, status::FAILED, status::SCHEDULED];

/// `POST /batches/{batch_id}/run`: start dialling now (the nodes' runners pick it up within a second).
pub async fn run(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "running campaigns")?;
    // The body is optional: an empty one runs with the batch's settings.
    let body: RunBody = if body.iter().all(u8::is_ascii_whitespace) {
        RunBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            let field = e.to_string().split('`').nth(1).map(str::to_string);
            let error = ApiError::invalid("body", format!("the JSON body: {e}"));
            match field {
                Some(f) => ApiError { field: Some(f), ..error },
                None => error,
            }
        })?
    };
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let mut changes = apply_run_body(&state, &caller, &batch, &body).await?;
    changes.insert("execution_status".into(), json!(status::RUNNING));
    changes.insert("schedule_mode".into(), json!("run_now"));
    changes.insert("status".into(), json!("processing"));
    changes.insert("error_message".into(), Value::Null);
    changes.insert("started_at".into(), json!(utc_text(state.now())));
    let started = Some(voicera_webhooks::events::CAMPAIGN_STARTED);
    transition(&state, &caller, &batch_id, STARTABLE, "run", changes, "run_batch", started).await
}

/// `POST /batches/{batch_id}/stop`: no new calls; live calls finish.
pub async fn stop(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "stopping campaigns")?;
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let current = text(&batch.doc, "execution_status").unwrap_or_default();
    let next = if current == status::SCHEDULED { status::STOPPED } else { status::STOPPING };
    let mut changes = Map::new();
    changes.insert("execution_status".into(), json!(next));
    if current == status::SCHEDULED {
        changes.insert("scheduled_status".into(), json!("canceled"));
    }
    let allowed = [status::RUNNING, status::PAUSED, status::SCHEDULED];
    // A scheduled batch never started: stopping it cancels no campaign.
    let cancelled = (current != status::SCHEDULED).then_some(voicera_webhooks::events::CAMPAIGN_CANCELLED);
    transition(&state, &caller, &batch_id, &allowed, "stop", changes, "stop_batch", cancelled).await
}

/// Reads a schedule body's time and zone: (Unix ms, zone name).
fn scheduled_time(state: &ApiState, body: &RunBody) -> Result<(i64, String), ApiError> {
    let zone = body.timezone.as_deref().map(str::trim).filter(|z| !z.is_empty()).unwrap_or("UTC");
    let offset = utc_offset_of(zone).ok_or_else(|| {
        ApiError::invalid(
            "timezone",
            format!("{zone:?} is not a time zone the dialer knows: use UTC, an offset like +05:30, or a zone without daylight saving time such as Asia/Kolkata"),
        )
    })?;
    let local = body
        .scheduled_at_local
        .as_deref()
        .ok_or_else(|| ApiError::invalid("scheduled_at_local", "give the start as YYYY-MM-DDTHH:MM in `timezone`"))?;
    let at = local_time_to_unix(local, offset).ok_or_else(|| {
        ApiError::invalid("scheduled_at_local", format!("{local:?} is not a date and time (YYYY-MM-DDTHH:MM[:SS])"))
    })?;
    if at <= state.now() {
        return Err(ApiError::invalid("scheduled_at_local", format!("{local} {zone} is in the past")));
    }
    Ok((at, zone.to_string()))
}

async fn schedule_with(
    caller: Caller,
    state: ApiState,
    batch_id: String,
    body: RunBody,
    allowed: &[&str],
    operation: &str,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "scheduling campaigns")?;
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let (at, zone) = scheduled_time(&state, &body)?;
    let mut changes = apply_run_body(&state, &caller, &batch, &body).await?;
    changes.insert("execution_status".into(), json!(status::SCHEDULED));
    changes.insert("schedule_mode".into(), json!("scheduled"));
    changes.insert("scheduled_at_ms".into(), json!(at));
    changes.insert("scheduled_at_utc".into(), json!(utc_text(at)));
    changes.insert("scheduled_timezone".into(), json!(zone));
    changes.insert("scheduled_status".into(), json!("scheduled"));
    changes.insert("scheduled_by".into(), json!(caller.email));
    transition(&state, &caller, &batch_id, allowed, "be scheduled", changes, operation, None).await
}

/// `POST /batches/{batch_id}/schedule`: run once at a future local time.
pub async fn schedule(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<Json<Value>, ApiError> {
    let allowed = [status::NOT_STARTED, status::STOPPED, status::COMPLETED, status::FAILED];
    schedule_with(caller, state, batch_id, body, &allowed, "schedule_batch").await
}

/// `POST /batches/{batch_id}/schedule/reschedule`: move a pending schedule.
pub async fn reschedule(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<Json<Value>, ApiError> {
    schedule_with(caller, state, batch_id, body, &[status::SCHEDULED], "reschedule_batch").await
}

/// `POST /batches/{batch_id}/schedule/cancel`: drop a pending schedule.
pub async fn cancel_schedule(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "scheduling campaigns")?;
    let mut changes = Map::new();
    changes.insert("execution_status".into(), json!(status::NOT_STARTED));
    changes.insert("scheduled_status".into(), json!("canceled"));
    changes.insert("schedule_mode".into(), json!("run_now"));
    transition(
        &state,
        &caller,
        &batch_id,
        &[status::SCHEDULED],
        "cancel a schedule",
        changes,
        "cancel_batch_schedule",
        None,
    )
    .await
}

/// `DELETE /batches/{batch_id}`: the batch and its contacts (not while it dials).
pub async fn remove(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting batches")?;
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let current = text(&batch.doc, "execution_status").unwrap_or_default();
    if [status::RUNNING, status::PAUSED, status::STOPPING].contains(&current.as_str()) {
        return Err(ApiError::conflict(
            "execution_status",
            format!("the batch is {current}; stop it before deleting it"),
        ));
    }
    let contacts =
        state.store().delete_prefix(Collection::BatchContacts, &caller.org_id, &contact_prefix(&batch_id)).await?;
    delete_dialling_records(state.store(), &caller.org_id, &batch_id).await?;
    state.store().delete(Collection::Batches, &caller.org_id, &batch_id).await?;
    crate::audit::record(&state, &caller, "delete_batch", &batch_id).await?;
    Ok(Json(
        json!({"status": "success", "message": "Batch deleted", "batch_id": batch_id, "contacts_deleted": contacts}),
    ))
}

/// Removes what the dialer nodes kept of a campaign besides its contacts: its pacing document
/// (`campaign_pacing`, id = batch id), its live-call slots (`campaign_slots`, ids `"{batch_id}:{slot}"`) and
/// the dial registrations of its provider calls (`campaign_dials`, keyed by dial id, naming the batch). Run
/// before the batch itself goes, so a failure leaves the batch to delete again rather than orphans.
async fn delete_dialling_records(store: &Store, org_id: &str, batch_id: &str) -> Result<(), ApiError> {
    store.delete(Collection::CampaignPacing, org_id, batch_id).await?;
    store
        .delete_prefix(Collection::CampaignSlots, org_id, &voicera_dialer::slots::SlotDocument::prefix(batch_id))
        .await?;
    // A batch that does not dial has none left (a finished call's registration is removed at its end, a dead
    // node's is swept an hour after its lease): the org's few are read and this batch's removed.
    for dial in store.list(Collection::CampaignDials, org_id).await? {
        if dial.doc.get("batch_id").and_then(Value::as_str) == Some(batch_id) {
            store.delete(Collection::CampaignDials, org_id, &dial.id).await?;
        }
    }
    Ok(())
}

/// `GET /campaigns/{batch_id}`: a batch's campaign settings and status.
pub async fn get_campaign(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let batch = batch_of(&state, &caller.org_id, &batch_id).await?;
    let campaign = campaign_of(&batch.doc).map_err(|e| ApiError::internal("reading campaign settings", e))?;
    Ok(Json(json!({
        "batch_id": batch.id, "batch_name": batch.doc.get("batch_name"), "agent_type": batch.doc.get("agent_type"),
        "execution_status": batch.doc.get("execution_status"), "campaign": campaign,
    })))
}

/// A campaign that dials through a provider needs an account on it: the org's, or (the owner's org) the
/// node's; else a 422 naming `provider` and the integrations to add.
async fn check_provider_account(state: &ApiState, org_id: &str, campaign: &CampaignConfig) -> Result<(), ApiError> {
    let Some(CampaignRoute::Provider(name)) = campaign.route() else { return Ok(()) };
    let Some(provider) = voicera_carrier_rest::Provider::parse(&name) else {
        return Err(ApiError::invalid("provider", format!("{name:?} places no calls here")));
    };
    if super::provider_numbers::org_account(state, org_id, provider).await?.is_none() {
        let (id_name, token_name) = provider.integration_names();
        return Err(ApiError::invalid(
            "provider",
            format!(
                "your org has no {name} account to place the calls with: add the {id_name} and {token_name} \
                 integrations (POST /api/v1/integrations)"
            ),
        ));
    }
    Ok(())
}

/// `PUT /campaigns/{batch_id}`: pacing, windows, retries, trunk and caller id; a running campaign follows
/// within a second (live calls above a lowered limit are not cut).
pub async fn put_campaign(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
    ApiJson(campaign): ApiJson<CampaignConfig>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "changing campaigns")?;
    campaign.settings().map_err(|p| ApiError::invalid(p.field, p.message))?;
    check_ring_timeout(&state, &campaign)?;
    check_provider_account(&state, &caller.org_id, &campaign).await?;
    let mut changes = Map::new();
    changes.insert("concurrency".into(), json!(campaign.max_live_calls));
    changes.insert("campaign".into(), json!(campaign));
    let any = [
        status::NOT_STARTED,
        status::SCHEDULED,
        status::RUNNING,
        status::PAUSED,
        status::STOPPED,
        status::COMPLETED,
        status::FAILED,
    ];
    transition(&state, &caller, &batch_id, &any, "be changed", changes, "update_campaign", None).await
}

/// `POST /campaigns/{batch_id}/pause`: no new calls until resumed; live calls continue.
pub async fn pause(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "pausing campaigns")?;
    let mut changes = Map::new();
    changes.insert("execution_status".into(), json!(status::PAUSED));
    let paused = Some(voicera_webhooks::events::CAMPAIGN_PAUSED);
    transition(&state, &caller, &batch_id, &[status::RUNNING], "pause", changes, "pause_campaign", paused).await
}

/// `POST /campaigns/{batch_id}/resume`: dialling continues after a pause.
pub async fn resume(
    caller: Caller,
    State(state): State<ApiState>,
    Path(batch_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "resuming campaigns")?;
    let mut changes = Map::new();
    changes.insert("execution_status".into(), json!(status::RUNNING));
    let resumed = Some(voicera_webhooks::events::CAMPAIGN_RESUMED);
    transition(&state, &caller, &batch_id, &[status::PAUSED], "resume", changes, "resume_campaign", resumed).await
}
