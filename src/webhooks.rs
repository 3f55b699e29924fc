//! Customer webhooks on a node: the delivery worker ([`voicera_webhooks::worker`]) every node runs, and a
//! maker of call events for the call records' sink: `call.started` when a call is answered and
//! `call.transfer` / `call.ended` when it is over (with the transcript, per-turn latency and a signed
//! recording link). A call's events ride inside its log's writes in the call records' spool
//! ([`voicera_records::CallLogWrite::events`], each with an id fixed by the call and the event), queued in
//! the delivery that writes the log: a store that is down delays them, a restart resumes them, none
//! overtakes its log and none is queued twice. An orphan's `call.ended` is made by
//! [`orphan_outlet`] when its closing lands.
//!
//! Settings: `[webhooks]` in voicera.toml, each key overridable by its `VOICERA_WEBHOOKS_*` variable
//! ([`crate::config::WebhookSettings`]): `allow_http_loopback`, `retry_first_ms`, `retry_max_ms`,
//! `give_up_ms`, `timeout_ms`, `poll_ms`, and `log_retention_days` (the delivery-log sweeper,
//! [`voicera_webhooks::retention`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_conversation::recorder::CallRecord;
use voicera_records::call_log::{self, LogContext};
use voicera_records::{CallEventSource, EventWrite};
use voicera_store::secret::MasterKey;
use voicera_store::unix_ms;
use voicera_store::utc_text;
use voicera_webhooks::{events, RetryPolicy, Webhooks, WorkerConfig};

/// How long a `call.ended` recording link works: the 24 h of retries and a day to fetch it.
const RECORDING_LINK_TTL: Duration = Duration::from_secs(48 * 3600);

/// The worker's settings from `[webhooks]`, for `node_id`.
pub(crate) fn worker_config(settings: &crate::config::WebhookSettings, node_id: String) -> WorkerConfig {
    let defaults = WorkerConfig::default();
    let policy = RetryPolicy {
        first_delay_ms: settings.retry_first_ms,
        max_delay_ms: settings.retry_max_ms,
        give_up_after_ms: settings.give_up_ms,
        ..defaults.policy
    };
    WorkerConfig {
        policy,
        attempt_timeout: Duration::from_millis(settings.timeout_ms),
        poll_interval: Duration::from_millis(settings.poll_ms),
        node_id,
        ..defaults
    }
}

/// Makes a call's events for the call records' sink, which carries them inside the call's log writes
/// ([`voicera_records::CallLogWrite::events`]): `call.started` when it is answered, `call.transfer` /
/// `call.ended` when it is over (its recording stored).
pub(crate) struct CallEvents {
    public_url: String,
    master_key: MasterKey,
}

impl CallEvents {
    /// Call events whose recording links are below `public_url`.
    pub(crate) fn new(public_url: &str, master_key: MasterKey) -> Arc<dyn CallEventSource> {
        Arc::new(CallEvents { public_url: public_url.to_string(), master_key })
    }

    fn call_started(&self, record: &CallRecord, org: &str) -> EventWrite {
        // At the call's start whenever it is made (at its end too, when its start was never queued).
        let at_ms = record.started_at * 1000;
        EventWrite::about_call(org, events::CALL_STARTED, &record.record_id, call_data(record), at_ms)
    }

    fn ended_data(&self, record: &CallRecord, org_id: &str) -> Value {
        let mut data = call_data(record);
        let log = call_log::finished(record, &LogContext::default());
        let transcript: Vec<Value> = std::iter::once(json!({
            "role": "assistant", "text": record.greeting, "at": utc_text(record.started_at as i64 * 1000),
        }))
        .filter(|_| !record.greeting.trim().is_empty())
        .chain(record.turns.iter().flat_map(|t| {
            [
                json!({"role": "user", "text": t.user_text, "at": utc_text(t.user_at_ms as i64), "turn": t.turn}),
                json!({"role": "assistant", "text": t.agent_text, "interrupted": t.interrupted,
                       "at": utc_text(t.agent_at_ms.unwrap_or(t.user_at_ms) as i64), "turn": t.turn}),
            ]
        }))
        .filter(|line| line["text"].as_str().is_some_and(|t| !t.trim().is_empty()))
        .collect();
        let (recording_url, recording_expires_at) = match &record.recording {
            Some(_) => {
                let expires = voicera_webhooks::unix_ms() / 1000 + RECORDING_LINK_TTL.as_secs();
                let link = voicera_api::links::recording_link(
                    &self.public_url,
                    &self.master_key,
                    org_id,
                    &record.record_id,
                    expires,
                );
                (json!(link), json!(utc_text(expires as i64 * 1000)))
            }
            None => (Value::Null, Value::Null),
        };
        if let Some(map) = data.as_object_mut() {
            map.insert("ended_at".into(), json!(utc_text(record.ended_at as i64 * 1000)));
            map.insert("duration_secs".into(), json!(record.ended_at.saturating_sub(record.started_at)));
            map.insert("end_reason".into(), json!(record.end_reason));
            map.insert("transcript".into(), json!(transcript));
            map.insert("transcript_text".into(), log.get("transcript_content").cloned().unwrap_or(Value::Null));
            map.insert("latency".into(), log.get("latency_metrics").cloned().unwrap_or(Value::Null));
            map.insert("recording_url".into(), recording_url);
            map.insert("recording_expires_at".into(), recording_expires_at);
        }
        data
    }
}

/// Where the call records' writer queues call events: `webhooks`, an orphan's `call.ended` made from its
/// closing log when that closing lands (`end_reason: "node_restarted"`, `ended_at` when the log was closed,
/// `duration_secs` and `latency` null (unknown), the transcript as recovered from disk, and a signed
/// recording link when a recording was recovered). An event moved to the owner's org once known (its call
/// was logged before the node could look it up) has its recording link signed again for that org.
pub(crate) fn orphan_outlet(
    webhooks: &Webhooks,
    public_url: &str,
    master_key: &MasterKey,
) -> voicera_records::EventOutlet {
    let (public_url, master_key) = (public_url.to_string(), master_key.clone());
    let (moved_url, moved_key) = (public_url.clone(), master_key.clone());
    voicera_records::EventOutlet {
        webhooks: webhooks.clone(),
        orphan_ended: Arc::new(move |closing: &voicera_records::CallLogWrite| {
            orphan_ended_data(&closing.doc, &closing.org_id, &public_url, &master_key)
        }),
        event_moved: Arc::new(move |event: &mut EventWrite| {
            let now_secs = voicera_webhooks::unix_ms() / 1000;
            sign_recording_link_again(&mut event.data, &event.org_id, &moved_url, &moved_key, now_secs)
        }),
    }
}

/// The recording link in an event's `data`, if any, signed again for `org_id`, valid for
/// [`RECORDING_LINK_TTL`] from `now_secs` (the event goes out now: a call that waited for its org a day must not
/// bring a link about to expire), `recording_expires_at` with it.
fn sign_recording_link_again(data: &mut Value, org_id: &str, public_url: &str, master_key: &MasterKey, now_secs: u64) {
    if !data.get("recording_url").is_some_and(Value::is_string) {
        return;
    }
    let Some(call_id) = data.get("call_id").and_then(Value::as_str) else { return };
    let expires = now_secs + RECORDING_LINK_TTL.as_secs();
    let link = voicera_api::links::recording_link(public_url, master_key, org_id, call_id, expires);
    data["recording_url"] = json!(link);
    data["recording_expires_at"] = json!(utc_text(expires as i64 * 1000));
}

/// `call.ended`'s data for an orphan's closing log (the same fields as a call that ended; what is unknown
/// is null).
fn orphan_ended_data(doc: &Value, org_id: &str, public_url: &str, master_key: &MasterKey) -> Value {
    let text = |field: &str| doc.get(field).cloned().unwrap_or(Value::Null);
    let id = doc.get("meeting_id").and_then(Value::as_str).unwrap_or_default();
    let transcript_text = doc.get("transcript_content").and_then(Value::as_str);
    let transcript: Vec<Value> = call_log::parse_transcript(transcript_text.unwrap_or_default())
        .into_iter()
        .map(|(at, role, text)| json!({"role": role, "text": text, "at": at}))
        .collect();
    let (recording_url, recording_expires_at) = match doc.get("recording_url") {
        Some(Value::String(_)) => {
            let expires = voicera_webhooks::unix_ms() / 1000 + RECORDING_LINK_TTL.as_secs();
            let link = voicera_api::links::recording_link(public_url, master_key, org_id, id, expires);
            (json!(link), json!(utc_text(expires as i64 * 1000)))
        }
        _ => (Value::Null, Value::Null),
    };
    json!({
        "call_id": id,
        "transport_call_id": text("call_id"),
        "transport": text("transport"),
        "agent": text("agent_id"),
        "direction": if doc.get("inbound") == Some(&Value::Bool(false)) { "outbound" } else { "inbound" },
        "from_number": text("from_number"),
        "to_number": text("to_number"),
        "started_at": text("start_time_utc"),
        "ended_at": text("end_time_utc"),
        "duration_secs": Value::Null,
        "end_reason": text("end_reason"),
        "transcript": transcript,
        "transcript_text": transcript_text,
        "latency": Value::Null,
        "recording_url": recording_url,
        "recording_expires_at": recording_expires_at,
    })
}

/// What `call.started` and `call.ended` both say about a call.
fn call_data(record: &CallRecord) -> Value {
    json!({
        "call_id": record.record_id,
        "transport_call_id": record.call_id,
        "transport": record.transport,
        "agent": record.agent,
        "direction": if record.outbound { "outbound" } else { "inbound" },
        "from_number": record.caller,
        "to_number": record.called,
        "started_at": utc_text(record.started_at as i64 * 1000),
    })
}

impl CallEventSource for CallEvents {
    fn started(&self, record: &CallRecord, org_id: &str) -> Vec<EventWrite> {
        vec![self.call_started(record, org_id)]
    }

    /// `call.started` (a no-op when it went out already), `call.transfer` when the agent transferred the
    /// call, then `call.ended`.
    fn ended(&self, record: &CallRecord, org_id: &str) -> Vec<EventWrite> {
        let now = unix_ms();
        let mut emitted = vec![self.call_started(record, org_id)];
        if record.end_reason == "transferred" {
            let data = json!({
                "call_id": record.record_id,
                "transport_call_id": record.call_id,
                "agent": record.agent,
                "transferred_at": utc_text(record.ended_at as i64 * 1000),
            });
            emitted.push(EventWrite::about_call(org_id, events::CALL_TRANSFER, &record.record_id, data, now));
        }
        let data = self.ended_data(record, org_id);
        emitted.push(EventWrite::about_call(org_id, events::CALL_ENDED, &record.record_id, data, now));
        emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_events_recording_link_is_signed_again_for_its_new_org_valid_from_now() {
        let key = MasterKey::from_bytes([7; 32]);
        let url = "http://127.0.0.1:8080";
        let made = 1_900_000_000;
        let link =
            voicera_api::links::recording_link(url, &key, "default", "rec-1", made + RECORDING_LINK_TTL.as_secs());
        let mut data = json!({"call_id": "rec-1", "recording_url": link, "recording_expires_at": "old"});
        // Moved a day after the call, when its org became known.
        let now = made + 24 * 3600;
        sign_recording_link_again(&mut data, "org-owner", url, &key, now);
        let expires = now + RECORDING_LINK_TTL.as_secs();
        assert_eq!(data["recording_expires_at"], json!(utc_text(expires as i64 * 1000)));
        let moved = data["recording_url"].as_str().unwrap();
        assert!(moved.contains("org_id=org-owner") && moved.contains(&format!("expires={expires}")), "{moved}");
        let sig = moved.rsplit("sig=").next().unwrap();
        let verify = |org: &str| voicera_api::links::verify(&key, org, "rec-1", expires, sig, expires - 1);
        assert!(verify("org-owner") && !verify("default"), "{moved}");
        // No link: nothing to sign.
        let mut data = json!({"call_id": "rec-2", "recording_url": null});
        sign_recording_link_again(&mut data, "org-owner", url, &key, now);
        assert_eq!(data["recording_url"], Value::Null);
        assert!(data.get("recording_expires_at").is_none());
    }
}
