//! Customer webhooks on a node: the delivery worker ([`voicera_webhooks::worker`]) every node runs, and a
//! recording sink around the call records' that emits `call.started` when a call is answered and
//! `call.transfer` / `call.ended` when it is over (with the transcript, per-turn latency and a signed
//! recording link). Emitting queues deliveries in the store off the call's path; a failure is logged and
//! never touches the call.
//!
//! Settings: `[webhooks]` in voicera.toml, each key overridable by its `VOICERA_WEBHOOKS_*` variable
//! ([`crate::config::WebhookSettings`]): `allow_http_loopback`, `retry_first_ms`, `retry_max_ms`,
//! `give_up_ms`, `timeout_ms`, `poll_ms`, and `log_retention_days` (the delivery-log sweeper,
//! [`voicera_webhooks::retention`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use voicera_conversation::recorder::{CallRecord, ProviderReport, RecordingSink, RecordingWriter};
use voicera_records::call_log::{self, LogContext};
use voicera_store::secret::MasterKey;
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

/// A [`RecordingSink`] that emits call events around another sink (the call records').
pub(crate) struct CallEvents {
    inner: Arc<dyn RecordingSink>,
    webhooks: Webhooks,
    /// Each call's org (its agent's, else the records org): the org its events go to.
    orgs: voicera_records::CallOrgs,
    public_url: String,
    master_key: MasterKey,
    runtime: tokio::runtime::Handle,
}

impl CallEvents {
    /// Call events, each to its call's org as `orgs` settles it (the org its record goes to), recording links
    /// below `public_url`. Call from within the runtime.
    pub(crate) fn wrap(
        inner: Arc<dyn RecordingSink>,
        webhooks: Webhooks,
        orgs: voicera_records::CallOrgs,
        public_url: &str,
        master_key: MasterKey,
    ) -> Arc<dyn RecordingSink> {
        Arc::new(CallEvents {
            inner,
            webhooks,
            orgs,
            public_url: public_url.to_string(),
            master_key,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    fn emit(&self, org: String, emitted: Vec<(&'static str, Value)>) {
        let webhooks = self.webhooks.clone();
        self.runtime.spawn(async move {
            for (event, data) in emitted {
                webhooks.emit(&org, event, data).await;
            }
        });
    }

    /// After the inner sink stored the call (its recording's place is known): `call.transfer` when the
    /// agent transferred it, then `call.ended`.
    fn ended(&self, record: &CallRecord) {
        let org = self.orgs.ended(record);
        let mut emitted = Vec::with_capacity(2);
        if record.end_reason == "transferred" {
            emitted.push((
                events::CALL_TRANSFER,
                json!({
                    "call_id": record.record_id,
                    "transport_call_id": record.call_id,
                    "agent": record.agent,
                    "transferred_at": utc_text(record.ended_at as i64 * 1000),
                }),
            ));
        }
        emitted.push((events::CALL_ENDED, self.ended_data(record, &org)));
        self.emit(org, emitted);
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

/// Emits the `call.ended` each call a killed run left owes its customer, from its closing log (`orphans`,
/// [`voicera_records::Records::closed_orphans`]): `end_reason: "node_restarted"`, `ended_at` when the log
/// was closed, `duration_secs` and `latency` null (unknown), the transcript as recovered from disk, and a
/// signed recording link when a recording was recovered. Queued in the background: the start goes on.
pub(crate) fn emit_orphans_ended(
    webhooks: &Webhooks,
    orphans: Vec<voicera_records::CallLogWrite>,
    public_url: &str,
    master_key: &MasterKey,
) {
    if orphans.is_empty() {
        return;
    }
    let emitted: Vec<(String, Value)> = orphans
        .iter()
        .map(|o| (o.org_id.clone(), orphan_ended_data(&o.doc, &o.org_id, public_url, master_key)))
        .collect();
    let webhooks = webhooks.clone();
    tokio::spawn(async move {
        for (org, data) in emitted {
            webhooks.emit(&org, events::CALL_ENDED, data).await;
        }
    });
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

impl RecordingSink for CallEvents {
    fn call_started(&self, record: &CallRecord) {
        self.inner.call_started(record);
        let org = self.orgs.started(record);
        self.emit(org, vec![(events::CALL_STARTED, call_data(record))]);
    }

    fn transcript_line(&self, record: &CallRecord, at_ms: u64, role: &'static str, text: &str) {
        self.inner.transcript_line(record, at_ms, role, text);
    }

    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
        let stored = self.inner.store(record, stereo);
        self.ended(record);
        stored
    }

    fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()> {
        let stored = self.inner.store_log_only(record);
        self.ended(record);
        stored
    }

    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        self.inner.store_provider_report(report)
    }

    fn open_recording(&self, record: &CallRecord) -> Option<Box<dyn RecordingWriter>> {
        self.inner.open_recording(record)
    }

    fn store_streamed(&self, record: &mut CallRecord, recording: Box<dyn RecordingWriter>) -> std::io::Result<()> {
        let stored = self.inner.store_streamed(record, recording);
        self.ended(record);
        stored
    }
}
