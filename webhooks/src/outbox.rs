//! Webhook endpoints and deliveries in the store. An event becomes one delivery per subscribed, enabled
//! endpoint of its org: a document in the delivery log ([`Collection::WebhookDeliveries`], with the body
//! made once so every retry sends the same bytes, and every attempt appended) and an entry in the queue
//! ([`Collection::WebhookQueue`], only while attempts remain). A worker claims a due queue entry with a lease
//! through a compare-and-set on its `rev`, so of several nodes sharing the store one sends each attempt; a
//! node that dies holding a lease only delays the attempt until the lease runs out (at least once).

use serde_json::{json, Value};
use voicera_store::secret::MasterKey;
use voicera_store::{utc_text, Collection, Record, Store};

use crate::events;
use crate::schedule::{Next, Pending};
use crate::signing::hex;
use crate::WebhookError;

/// `status` of a delivery with attempts left.
pub const PENDING: &str = "pending";
/// `status` of a delivery the endpoint answered 2xx.
pub const DELIVERED: &str = "delivered";
/// `status` of a dead-lettered delivery (out of time, or the endpoint answered 410 Gone).
pub const FAILED: &str = "failed";
/// `status` of a delivery dropped because its endpoint was deleted or disabled before it went out.
pub const CANCELLED: &str = "cancelled";
/// Characters of an endpoint's answer kept in an attempt.
pub const RESPONSE_SNIPPET_BYTES: usize = 1024;

/// An endpoint as the worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The org it belongs to.
    pub org_id: String,
    /// Its id (`we_…`).
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it subscribes to ([`events::subscribed`]).
    pub events: Vec<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// The signing secret, sealed with the master key for this record ([`secret_context`]).
    pub sealed_secret: String,
}

impl Endpoint {
    /// The endpoint a stored document describes, if it is one.
    pub fn from_record(record: &Record) -> Option<Endpoint> {
        let doc = &record.doc;
        Some(Endpoint {
            org_id: record.org_id.clone(),
            id: record.id.clone(),
            url: doc.get("url")?.as_str()?.to_string(),
            events: doc
                .get("events")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            enabled: doc.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            sealed_secret: doc.get("secret").and_then(Value::as_str).unwrap_or_default().to_string(),
        })
    }

    /// The secret in clear, for signing.
    pub fn secret(&self, master_key: &MasterKey) -> Result<String, WebhookError> {
        Ok(master_key.open(&self.sealed_secret, &secret_context(&self.org_id, &self.id))?)
    }
}

/// What an endpoint's secret is sealed for: its record, so a sealed secret copied to another record does not
/// open.
pub fn secret_context(org_id: &str, endpoint_id: &str) -> String {
    format!("{}/{org_id}/{endpoint_id}", Collection::WebhookEndpoints.name())
}

/// A new id with a prefix (`we`, `evt`): the prefix, `_` and 12 random bytes in hex.
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 12] = rand::random();
    format!("{prefix}_{}", hex(&bytes))
}

/// A new delivery id: `<unix ms, 13 digits>-<random>`, so the log lists newest first.
fn delivery_id(now_ms: u64) -> String {
    let bytes: [u8; 6] = rand::random();
    format!("{now_ms:013}-{}", hex(&bytes))
}

/// The enabled endpoints of `org_id` that subscribe to `event`.
async fn subscribed_endpoints(store: &Store, org_id: &str, event: &str) -> Result<Vec<Endpoint>, WebhookError> {
    let endpoints = store.list(Collection::WebhookEndpoints, org_id).await?;
    Ok(endpoints
        .iter()
        .filter_map(Endpoint::from_record)
        .filter(|e| e.enabled && events::subscribed(&e.events, event))
        .collect())
}

/// Emits `event` with `data` to every enabled endpoint of `org_id` that subscribes to it; the ids of the
/// deliveries made (none when no endpoint wants it). The dialer calls this with the `campaign.*` events.
pub async fn emit(
    store: &Store,
    org_id: &str,
    event: &str,
    data: Value,
    now_ms: u64,
) -> Result<Vec<String>, WebhookError> {
    let subscribed = subscribed_endpoints(store, org_id, event).await?;
    if subscribed.is_empty() {
        return Ok(Vec::new());
    }
    let event_id = new_id("evt");
    let body = events::envelope(&event_id, event, &utc_text(now_ms as i64), org_id, data).to_string();
    let mut ids = Vec::with_capacity(subscribed.len());
    for endpoint in &subscribed {
        ids.push(enqueue(store, endpoint, event, &event_id, body.clone(), now_ms, None).await?);
    }
    Ok(ids)
}

/// The id of the one event of kind `event` about `subject` (a call's record id): the same on every node and
/// every retry, so a caller that may emit it twice (a spool delivered again after a crash, an orphan closed
/// by two sweeps) can make it once with [`emit_once`]. `evt_` and 12 bytes of SHA-256 in hex, the shape of
/// [`new_id`]'s.
pub fn event_id_for(event: &str, org_id: &str, subject: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{event}\n{org_id}\n{subject}").as_bytes());
    format!("evt_{}", hex(&digest[..12]))
}

/// How long [`emit_once`] remembers an event it made (in [`Collection::UsedTokens`]): longer than anything
/// that emits one again (a spool waiting on a store that was down, an orphan sweep) waits.
const EMITTED_MARKER_TTL_SECS: u64 = 30 * 24 * 3600;

/// [`emit`] made idempotent: the event's id is its caller's (`event_id`, from [`event_id_for`]); the first
/// emission to an endpoint leaves a marker keyed by (event id, endpoint) alone, inserted only if absent, that
/// names its delivery (its id `<at_ms>-<hash>`, so the log still orders by time); so emitting the same event
/// again, at any `at_ms`, makes no second delivery. The ids of the deliveries made now.
///
/// A delivery logged by an earlier emission whose queue entry never landed (a crash between the two writes)
/// gets it now, while it has had no attempt: after its first attempt the worker has written the log, and
/// re-queuing could send it twice.
pub async fn emit_once(
    store: &Store,
    org_id: &str,
    event: &str,
    event_id: &str,
    data: Value,
    at_ms: u64,
) -> Result<Vec<String>, WebhookError> {
    let subscribed = subscribed_endpoints(store, org_id, event).await?;
    if subscribed.is_empty() {
        return Ok(Vec::new());
    }
    let body = events::envelope(event_id, event, &utc_text(at_ms as i64), org_id, data).to_string();
    let mut made = Vec::with_capacity(subscribed.len());
    for endpoint in &subscribed {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{event_id}\n{}", endpoint.id).as_bytes());
        // The first emission's marker names its delivery: a later one (another `at_ms`: the same call's end
        // made again, an orphan closed by two sweeps) finds it and makes none.
        let marker_id = format!("webhook-event:{event_id}:{}", endpoint.id);
        let fresh_id = format!("{at_ms:013}-{}", hex(&digest[..6]));
        let marker = Record {
            org_id: endpoint.org_id.clone(),
            id: marker_id.clone(),
            doc: json!({"delivery_id": fresh_id, "expires_at": at_ms / 1000 + EMITTED_MARKER_TTL_SECS}),
        };
        let id = if store.insert_if_absent(Collection::UsedTokens, &marker).await? {
            fresh_id
        } else {
            let marked = store.get(Collection::UsedTokens, &endpoint.org_id, &marker_id).await?;
            match marked.as_ref().and_then(|m| m.doc.get("delivery_id")).and_then(Value::as_str) {
                Some(id) => id.to_string(),
                // Not readable as ours: the event counts as made.
                None => continue,
            }
        };
        let (log, entry) = delivery_docs(endpoint, &id, event, event_id, body.clone(), at_ms, None);
        let key = |doc: Value| Record { org_id: endpoint.org_id.clone(), id: id.clone(), doc };
        if store.insert_if_absent(Collection::WebhookDeliveries, &key(log)).await? {
            store.put(Collection::WebhookQueue, &key(entry)).await?;
            made.push(id);
            continue;
        }
        let logged = store.get(Collection::WebhookDeliveries, &endpoint.org_id, &id).await?;
        let untried = logged.is_some_and(|r| {
            r.doc.get("status").and_then(Value::as_str) == Some(PENDING) && number(&r.doc, "attempt_count") == 0
        });
        if untried && store.insert_if_absent(Collection::WebhookQueue, &key(entry)).await? {
            tracing::warn!(delivery = %id, "a logged webhook delivery had no queue entry: queued now");
            made.push(id);
        }
    }
    Ok(made)
}

/// Sends a `webhook.test` event to one endpoint, whatever it subscribes to (disabled ones too: the test is
/// how an operator checks a fixed receiver); the delivery's id.
pub async fn send_test(store: &Store, endpoint: &Endpoint, now_ms: u64) -> Result<String, WebhookError> {
    let event_id = new_id("evt");
    let data = json!({"endpoint_id": endpoint.id, "message": "a test event from VoiceERA"});
    let body = events::envelope(&event_id, events::WEBHOOK_TEST, &utc_text(now_ms as i64), &endpoint.org_id, data);
    enqueue(store, endpoint, events::WEBHOOK_TEST, &event_id, body.to_string(), now_ms, None).await
}

/// Sends a logged delivery's event again as a new delivery (same event id and body, a new delivery id and a
/// fresh 24 h of retries; `replay_of` names the original); `None` when the org has no such delivery or its
/// endpoint is gone.
pub async fn replay(
    store: &Store,
    org_id: &str,
    delivery_id: &str,
    now_ms: u64,
) -> Result<Option<String>, WebhookError> {
    let Some(original) = store.get(Collection::WebhookDeliveries, org_id, delivery_id).await? else {
        return Ok(None);
    };
    let text = |k: &str| original.doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let endpoint_id = text("endpoint_id");
    let Some(endpoint) = store.get(Collection::WebhookEndpoints, org_id, &endpoint_id).await? else {
        return Ok(None);
    };
    let Some(endpoint) = Endpoint::from_record(&endpoint) else { return Ok(None) };
    let id =
        enqueue(store, &endpoint, &text("event"), &text("event_id"), text("body"), now_ms, Some(delivery_id)).await?;
    Ok(Some(id))
}

/// Logs a delivery of `body` to `endpoint` and queues its first attempt now.
async fn enqueue(
    store: &Store,
    endpoint: &Endpoint,
    event: &str,
    event_id: &str,
    body: String,
    now_ms: u64,
    replay_of: Option<&str>,
) -> Result<String, WebhookError> {
    let id = delivery_id(now_ms);
    let (doc, entry) = delivery_docs(endpoint, &id, event, event_id, body, now_ms, replay_of);
    // The log first: a queue entry never points at a delivery that is not logged.
    store.put(Collection::WebhookDeliveries, &Record { org_id: endpoint.org_id.clone(), id: id.clone(), doc }).await?;
    store
        .put(Collection::WebhookQueue, &Record { org_id: endpoint.org_id.clone(), id: id.clone(), doc: entry })
        .await?;
    Ok(id)
}

/// A new delivery's log document and its queue entry (first attempt due at `now_ms`).
fn delivery_docs(
    endpoint: &Endpoint,
    id: &str,
    event: &str,
    event_id: &str,
    body: String,
    now_ms: u64,
    replay_of: Option<&str>,
) -> (Value, Value) {
    let doc = json!({
        "id": id,
        "endpoint_id": endpoint.id,
        "url": endpoint.url,
        "event": event,
        "event_id": event_id,
        "body": body,
        "status": PENDING,
        "created_at": utc_text(now_ms as i64),
        "created_ms": now_ms,
        "attempt_count": 0,
        "next_attempt_at": utc_text(now_ms as i64),
        "attempts": [],
        "replay_of": replay_of,
    });
    let entry = json!({"rev": 0, "endpoint_id": endpoint.id, "created_ms": now_ms, "due_ms": now_ms, "attempts": 0,
                       "lease_owner": null, "lease_until_ms": 0});
    (doc, entry)
}

/// A queue entry this node holds the lease on.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The delivery's org.
    pub org_id: String,
    /// The endpoint it goes to.
    pub endpoint_id: String,
    /// The entry's revision after the claim (the next write must expect it).
    pub rev: u64,
    /// The delivery as the scheduler sees it.
    pub pending: Pending,
    /// The entry as claimed.
    entry: Value,
}

fn number(doc: &Value, key: &str) -> u64 {
    doc.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Claims up to `max` queue entries due at `now_ms` whose lease is free (never taken, or run out), each for
/// `lease_ms`, for `node`. Entries another node claims first are skipped.
pub async fn claim_due(
    store: &Store,
    node: &str,
    now_ms: u64,
    lease_ms: u64,
    max: usize,
) -> Result<Vec<Claim>, WebhookError> {
    let mut entries = store.list_all(Collection::WebhookQueue).await?;
    entries.retain(|r| number(&r.doc, "due_ms") <= now_ms && number(&r.doc, "lease_until_ms") <= now_ms);
    entries.sort_by_key(|r| (number(&r.doc, "due_ms"), r.id.clone()));
    let mut claims = Vec::new();
    for record in entries {
        if claims.len() >= max {
            break;
        }
        let rev = number(&record.doc, "rev");
        let mut entry = record.doc.clone();
        if let Some(map) = entry.as_object_mut() {
            map.insert("rev".into(), json!(rev + 1));
            map.insert("lease_owner".into(), json!(node));
            map.insert("lease_until_ms".into(), json!(now_ms + lease_ms));
        }
        let claimed = Record { org_id: record.org_id.clone(), id: record.id.clone(), doc: entry.clone() };
        if !store.replace_if(Collection::WebhookQueue, &claimed, "rev", &json!(rev)).await? {
            continue;
        }
        let attempts = u32::try_from(number(&entry, "attempts")).unwrap_or(u32::MAX);
        claims.push(Claim {
            org_id: record.org_id,
            endpoint_id: entry.get("endpoint_id").and_then(Value::as_str).unwrap_or_default().to_string(),
            rev: rev + 1,
            pending: Pending {
                id: record.id,
                created_ms: number(&entry, "created_ms"),
                due_ms: number(&entry, "due_ms"),
                attempts,
            },
            entry,
        });
    }
    Ok(claims)
}

/// One attempt as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// How long until the answer (or the failure).
    pub latency_ms: u64,
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    /// The start of the answer's body, at most [`RESPONSE_SNIPPET_BYTES`].
    pub response: String,
    /// Why there was no answer (timeout, refused, ...), or why the delivery could not be sent.
    pub error: Option<String>,
}

/// What the worker loaded to send a claimed delivery.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// Send this body with these headers' values.
    Send {
        /// The endpoint.
        endpoint: Endpoint,
        /// The event's name.
        event: String,
        /// The body, as made at emission.
        body: String,
    },
    /// The endpoint was deleted or disabled, or the delivery vanished: the entry was dropped.
    Dropped,
}

/// Loads what a claimed delivery needs; drops the entry (and marks the delivery cancelled) when its endpoint
/// is deleted or disabled.
pub async fn load(store: &Store, claim: &Claim, now_ms: u64) -> Result<Loaded, WebhookError> {
    let delivery = store.get(Collection::WebhookDeliveries, &claim.org_id, &claim.pending.id).await?;
    let endpoint = store.get(Collection::WebhookEndpoints, &claim.org_id, &claim.endpoint_id).await?;
    let endpoint = endpoint.as_ref().and_then(Endpoint::from_record);
    let event = delivery.as_ref().and_then(|d| d.doc.get("event")).and_then(Value::as_str).unwrap_or_default();
    // A test event goes to a disabled endpoint too (that is how a fixed receiver is checked).
    match (&delivery, endpoint) {
        (Some(delivery), Some(endpoint)) if endpoint.enabled || event == events::WEBHOOK_TEST => {
            let body = delivery.doc.get("body").and_then(Value::as_str).unwrap_or_default().to_string();
            Ok(Loaded::Send { endpoint, event: event.to_string(), body })
        }
        (delivery, _) => {
            if let Some(delivery) = delivery {
                let mut doc = delivery.doc.clone();
                if let Some(map) = doc.as_object_mut() {
                    map.insert("status".into(), json!(CANCELLED));
                    map.insert("next_attempt_at".into(), Value::Null);
                    map.insert("finished_at".into(), json!(utc_text(now_ms as i64)));
                }
                store.put(Collection::WebhookDeliveries, &Record { doc, ..delivery.clone() }).await?;
            }
            store.delete(Collection::WebhookQueue, &claim.org_id, &claim.pending.id).await?;
            Ok(Loaded::Dropped)
        }
    }
}

/// Writes an attempt and what follows it: the attempt joins the delivery's log, the queue entry moves to its
/// retry time (lease released) or leaves the queue, and a 410 disables the endpoint.
pub async fn record_attempt(
    store: &Store,
    claim: &Claim,
    node: &str,
    attempt: &Attempt,
    next: Next,
) -> Result<(), WebhookError> {
    let org = &claim.org_id;
    let attempts_made = claim.pending.attempts + 1;
    let finished_at = attempt.started_ms + attempt.latency_ms;
    if let Some(delivery) = store.get(Collection::WebhookDeliveries, org, &claim.pending.id).await? {
        let mut doc = delivery.doc.clone();
        if let Some(map) = doc.as_object_mut() {
            let entry = json!({
                "n": attempts_made,
                "at": utc_text(attempt.started_ms as i64),
                "status": attempt.status,
                "latency_ms": attempt.latency_ms,
                "response": attempt.response,
                "error": attempt.error,
                "node": node,
            });
            if let Some(list) = map.get_mut("attempts").and_then(Value::as_array_mut) {
                list.push(entry);
            } else {
                map.insert("attempts".into(), json!([entry]));
            }
            map.insert("attempt_count".into(), json!(attempts_made));
            let (status, next_at) = match next {
                Next::Delivered => (DELIVERED, Value::Null),
                Next::RetryAt(at) => (PENDING, json!(utc_text(at as i64))),
                Next::DeadLetter | Next::EndpointGone => (FAILED, Value::Null),
            };
            map.insert("status".into(), json!(status));
            map.insert("next_attempt_at".into(), next_at);
            if status != PENDING {
                map.insert("finished_at".into(), json!(utc_text(finished_at as i64)));
            }
            if next == Next::EndpointGone {
                map.insert("error".into(), json!("the endpoint answered 410 Gone and was disabled"));
            }
        }
        store.put(Collection::WebhookDeliveries, &Record { doc, ..delivery }).await?;
    }
    match next {
        Next::RetryAt(at) => {
            let mut entry = claim.entry.clone();
            if let Some(map) = entry.as_object_mut() {
                map.insert("rev".into(), json!(claim.rev + 1));
                map.insert("due_ms".into(), json!(at));
                map.insert("attempts".into(), json!(attempts_made));
                map.insert("lease_owner".into(), Value::Null);
                map.insert("lease_until_ms".into(), json!(0));
            }
            let record = Record { org_id: org.clone(), id: claim.pending.id.clone(), doc: entry };
            if !store.replace_if(Collection::WebhookQueue, &record, "rev", &json!(claim.rev)).await? {
                // Our lease ran out and another node claimed the entry: it carries on from here.
                tracing::warn!(delivery = %claim.pending.id, "webhook lease lost during an attempt");
            }
        }
        Next::Delivered | Next::DeadLetter | Next::EndpointGone => {
            store.delete(Collection::WebhookQueue, org, &claim.pending.id).await?;
        }
    }
    if next == Next::EndpointGone {
        if let Some(endpoint) = store.get(Collection::WebhookEndpoints, org, &claim.endpoint_id).await? {
            let mut doc = endpoint.doc.clone();
            if let Some(map) = doc.as_object_mut() {
                map.insert("enabled".into(), json!(false));
                map.insert("disabled_reason".into(), json!("the endpoint answered 410 Gone"));
                map.insert("updated_at".into(), json!(utc_text(finished_at as i64)));
            }
            store.put(Collection::WebhookEndpoints, &Record { doc, ..endpoint }).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Deliveries, Outcome, RetryPolicy};

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        (dir, store)
    }

    async fn endpoint(store: &Store, key: &MasterKey, org: &str, events: &[&str], enabled: bool) -> Endpoint {
        let id = new_id("we");
        let sealed = key.seal("whsec_abc", &secret_context(org, &id)).unwrap();
        let doc = json!({"url": "https://example.test/hook", "events": events, "enabled": enabled, "secret": sealed});
        store.put(Collection::WebhookEndpoints, &Record { org_id: org.into(), id: id.clone(), doc }).await.unwrap();
        Endpoint::from_record(&store.get(Collection::WebhookEndpoints, org, &id).await.unwrap().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn events_go_to_subscribed_enabled_endpoints_of_their_org() {
        let (_dir, store) = store().await;
        let key = MasterKey::from_bytes([7; 32]);
        let calls = endpoint(&store, &key, "org1", &["call.*"], true).await;
        let campaigns = endpoint(&store, &key, "org1", &["campaign.*"], true).await;
        endpoint(&store, &key, "org1", &["*"], false).await;
        endpoint(&store, &key, "org2", &["*"], true).await;
        assert_eq!(calls.secret(&key).unwrap(), "whsec_abc");

        let ids = emit(&store, "org1", events::CALL_ENDED, json!({"call_id": "c1"}), 1_000).await.unwrap();
        assert_eq!(ids.len(), 1);
        let delivery = store.get(Collection::WebhookDeliveries, "org1", &ids[0]).await.unwrap().unwrap();
        assert_eq!(delivery.doc["endpoint_id"], json!(calls.id));
        let body: Value = serde_json::from_str(delivery.doc["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["type"], json!("call.ended"));
        assert_eq!(body["data"]["call_id"], json!("c1"));
        assert_eq!(body["org_id"], json!("org1"));
        let ids = emit(&store, "org1", events::CAMPAIGN_STARTED, json!({}), 1_000).await.unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(emit(&store, "org3", events::CALL_ENDED, json!({}), 1_000).await.unwrap(), Vec::<String>::new());
        let _ = campaigns;
    }

    #[tokio::test]
    async fn an_event_emitted_once_makes_one_delivery_however_often_it_is_emitted() {
        let (_dir, store) = store().await;
        let key = MasterKey::from_bytes([7; 32]);
        endpoint(&store, &key, "org1", &["call.ended"], true).await;
        endpoint(&store, &key, "org1", &["*"], true).await;
        let event_id = event_id_for(events::CALL_ENDED, "org1", "rec-1");
        assert_eq!(event_id, event_id_for(events::CALL_ENDED, "org1", "rec-1"));
        assert_ne!(event_id, event_id_for(events::CALL_ENDED, "org1", "rec-2"));
        assert_ne!(event_id, event_id_for(events::CALL_STARTED, "org1", "rec-1"));
        assert_eq!(event_id.len(), 4 + 24);
        let made = emit_once(&store, "org1", events::CALL_ENDED, &event_id, json!({"n": 1}), 5_000).await.unwrap();
        assert_eq!(made.len(), 2);
        // Emitted again (a spool delivered twice): nothing more, and the first body stays.
        let again = emit_once(&store, "org1", events::CALL_ENDED, &event_id, json!({"n": 2}), 5_000).await.unwrap();
        assert!(again.is_empty(), "{again:?}");
        // Made again at another time (a call's end made twice, an orphan closed by two sweeps): nothing more.
        let later = emit_once(&store, "org1", events::CALL_ENDED, &event_id, json!({"n": 3}), 9_000).await.unwrap();
        assert!(later.is_empty(), "{later:?}");
        assert_eq!(store.count(Collection::WebhookDeliveries).await.unwrap(), 2);
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 2);
        let log = store.get(Collection::WebhookDeliveries, "org1", &made[0]).await.unwrap().unwrap().doc;
        let body: Value = serde_json::from_str(log["body"].as_str().unwrap()).unwrap();
        assert_eq!((body["id"].clone(), body["data"]["n"].clone()), (json!(event_id), json!(1)));
        // A crash between a delivery's log and its queue entry: the next emission queues it, once.
        store.delete(Collection::WebhookQueue, "org1", &made[0]).await.unwrap();
        let healed = emit_once(&store, "org1", events::CALL_ENDED, &event_id, json!({}), 5_000).await.unwrap();
        assert_eq!(healed, [made[0].clone()]);
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 2);
        // Once attempted and delivered (queue entry gone, attempt logged), it is never queued again.
        let claims = claim_due(&store, "n", 5_000, 60_000, 10).await.unwrap();
        for claim in &claims {
            let attempt =
                Attempt { started_ms: 5_000, latency_ms: 5, status: Some(200), response: String::new(), error: None };
            record_attempt(&store, claim, "n", &attempt, Next::Delivered).await.unwrap();
        }
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 0);
        assert!(emit_once(&store, "org1", events::CALL_ENDED, &event_id, json!({}), 5_000).await.unwrap().is_empty());
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 0);
    }

    /// Two nodes polling the same store: each due attempt is claimed by one of them only, and a lease that
    /// runs out (its node died) lets the other take over.
    #[tokio::test]
    async fn one_node_claims_each_attempt_and_a_dead_nodes_lease_runs_out() {
        let (_dir, store) = store().await;
        claims_are_exclusive(&store).await;
    }

    /// The same on MongoDB (SecantusDB), where the claim is one conditional `replaceOne`.
    #[tokio::test]
    async fn one_node_claims_each_attempt_on_mongodb() {
        let server = voicera_store::testing::SecantusServer::start();
        let mongo = voicera_store::mongo::MongoStore::connect(&server.uri, Some("webhooks")).await.unwrap();
        claims_are_exclusive(&Store::Mongo(mongo)).await;
    }

    async fn claims_are_exclusive(store: &Store) {
        let store = store.clone();
        let key = MasterKey::from_bytes([7; 32]);
        endpoint(&store, &key, "org1", &["call.ended"], true).await;
        for _ in 0..5 {
            emit(&store, "org1", events::CALL_ENDED, json!({}), 1_000).await.unwrap();
        }
        let (a, b) = tokio::join!(
            claim_due(&store, "node-a", 2_000, 60_000, 100),
            claim_due(&store, "node-b", 2_000, 60_000, 100)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 5, "every entry claimed once: {} + {}", a.len(), b.len());
        assert!(claim_due(&store, "node-c", 2_000, 60_000, 100).await.unwrap().is_empty(), "all leased");
        // node-a dies with its leases; after they run out node-c takes them.
        let late = claim_due(&store, "node-c", 62_001, 60_000, 100).await.unwrap();
        assert_eq!(late.len(), 5);
    }

    #[tokio::test]
    async fn attempts_are_logged_and_the_schedule_moves_the_queue() {
        let (_dir, store) = store().await;
        let key = MasterKey::from_bytes([7; 32]);
        let hook = endpoint(&store, &key, "org1", &["call.ended"], true).await;
        let id = emit(&store, "org1", events::CALL_ENDED, json!({}), 1_000).await.unwrap().remove(0);
        let policy = RetryPolicy { first_delay_ms: 1_000, jitter_percent: 0, ..RetryPolicy::default() };
        let mut deliveries = Deliveries::new(policy);

        let claim = claim_due(&store, "n", 1_000, 60_000, 10).await.unwrap().remove(0);
        assert!(matches!(load(&store, &claim, 1_000).await.unwrap(), Loaded::Send { .. }));
        deliveries.enqueue(claim.pending.clone());
        assert_eq!(deliveries.due(1_000).len(), 1);
        let next = deliveries.outcome(&id, Outcome::Failed, 1_500).unwrap();
        assert_eq!(next, Next::RetryAt(2_500));
        let attempt =
            Attempt { started_ms: 1_000, latency_ms: 500, status: Some(500), response: "oops".into(), error: None };
        record_attempt(&store, &claim, "n", &attempt, next).await.unwrap();
        assert!(claim_due(&store, "n", 2_499, 60_000, 10).await.unwrap().is_empty(), "not due yet");
        let claim = claim_due(&store, "n", 2_500, 60_000, 10).await.unwrap().remove(0);
        assert_eq!(claim.pending.attempts, 1);
        record_attempt(&store, &claim, "n", &Attempt { status: Some(410), ..attempt.clone() }, Next::EndpointGone)
            .await
            .unwrap();
        let log = store.get(Collection::WebhookDeliveries, "org1", &id).await.unwrap().unwrap().doc;
        assert_eq!(log["status"], json!(FAILED));
        assert_eq!(log["attempt_count"], json!(2));
        assert_eq!(log["attempts"][0]["status"], json!(500));
        assert_eq!(log["attempts"][0]["response"], json!("oops"));
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 0);
        let endpoint = store.get(Collection::WebhookEndpoints, "org1", &hook.id).await.unwrap().unwrap();
        assert_eq!(endpoint.doc["enabled"], json!(false), "410 disables the endpoint");
        // A disabled endpoint gets no new events, and a replay of the failed delivery is dropped on load.
        assert!(emit(&store, "org1", events::CALL_ENDED, json!({}), 3_000).await.unwrap().is_empty());
        let replayed = replay(&store, "org1", &id, 3_000).await.unwrap().unwrap();
        let claim = claim_due(&store, "n", 3_000, 60_000, 10).await.unwrap().remove(0);
        assert_eq!(claim.pending.id, replayed);
        assert!(matches!(load(&store, &claim, 3_000).await.unwrap(), Loaded::Dropped));
        let log = store.get(Collection::WebhookDeliveries, "org1", &replayed).await.unwrap().unwrap().doc;
        assert_eq!((log["status"].clone(), log["replay_of"].clone()), (json!(CANCELLED), json!(id)));
        assert_eq!(store.count(Collection::WebhookQueue).await.unwrap(), 0);
    }
}
