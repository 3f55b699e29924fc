//! What the spool carries and how each kind reaches the store. Every write is an idempotent upsert keyed by
//! the call's record id, so delivering an item twice (a crash between the store's acknowledgement and the
//! spool's delete) leaves the same single document:
//!
//! - [`SpoolItem::CallStarted`] inserts the in-progress log only if the store has none for the call (a
//!   re-delivery, or a start that arrives after its end, changes nothing);
//! - [`SpoolItem::CallFinished`] replaces the log with the complete one;
//! - [`SpoolItem::CallOrphaned`] replaces the log only while it is still in progress (a compare-and-set on
//!   `status`: a call whose real end has landed keeps it), and only then queues the orphan's `call.ended`;
//! - [`SpoolItem::Event`] queues a customer webhook event about a call (`call.started`, `call.transfer`,
//!   `call.ended`) in the store's outbox, its id fixed so a second delivery makes no second event.
//!
//! So a call's webhooks ride in the same ordered spool as its log: a store that is down when a call ends
//! delays its `call.ended`, never loses it, and never sends it ahead of the log it describes.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use voicera_store::{Collection, Record, Store, StoreError};
use voicera_webhooks::{events, Webhooks};

use crate::call_log;
use crate::orgs::{CallOrg, RecordsOrg};
use crate::recovery::Leftovers;
use crate::spool::Spool;
use crate::writer::{Deliver, DeliveryError};
use crate::RecordsError;

/// One call-log document to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallLogWrite {
    /// The tenant.
    pub org_id: String,
    /// The log's id: the call's record id (`meeting_id`).
    pub id: String,
    /// The document.
    pub doc: Value,
    /// An orphan's closing: when it was closed (Unix ms), the time of the `call.ended` it owes. Fixed when
    /// the closing is made, so a closing delivered twice names one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<u64>,
    /// The call's webhook events this write carries (`call.started` with its start; `call.started`,
    /// `call.transfer`, `call.ended` with its end), queued in the same delivery once the log is written: one
    /// spool item, so a crash loses neither without the other and no event overtakes its log. Spool files
    /// from before carry none (their events are [`SpoolItem::Event`] items).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventWrite>,
    /// Made under the records org's stand-in, its call started before the owner's org was known (a node that
    /// started with the store away): delivered to the records org once it is ([`StoreDelivery`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub org_pending: bool,
}

impl CallLogWrite {
    /// A write of `doc` as `org_id`'s log `id`.
    pub fn new(org_id: impl Into<String>, id: impl Into<String>, doc: Value) -> CallLogWrite {
        CallLogWrite {
            org_id: org_id.into(),
            id: id.into(),
            doc,
            closed_at_ms: None,
            events: Vec::new(),
            org_pending: false,
        }
    }

    /// A write of `doc` as log `id` of the org its call settled on.
    pub fn for_call(org: CallOrg, id: impl Into<String>, doc: Value) -> CallLogWrite {
        CallLogWrite { org_pending: org.pending, ..CallLogWrite::new(org.org_id, id, doc) }
    }

    /// The same write carrying `events`.
    pub fn with_events(mut self, events: Vec<EventWrite>) -> CallLogWrite {
        self.events = events;
        self
    }

    /// The same write for `org_id`, the records org now known: the document and the events name it, the
    /// events' ids follow from it (still one event however often each is made) and `moved` fixes what else
    /// an event's data says of its org.
    pub fn addressed_to(&self, org_id: &str, moved: Option<&EventMoved>) -> CallLogWrite {
        let mut write = self.clone();
        write.org_id = org_id.to_string();
        write.org_pending = false;
        if let Some(doc) = write.doc.as_object_mut().filter(|doc| doc.contains_key("org_id")) {
            doc.insert("org_id".into(), json!(org_id));
        }
        for event in &mut write.events {
            event.org_id = org_id.to_string();
            event.event_id = voicera_webhooks::outbox::event_id_for(&event.event, org_id, &write.id);
            if let Some(moved) = moved {
                moved(event);
            }
        }
        write
    }
}

/// A customer webhook event about a call, waiting to be queued in the store's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventWrite {
    /// The org whose endpoints get it.
    pub org_id: String,
    /// Its name (`call.ended`, ...).
    pub event: String,
    /// Its id, fixed when it was made ([`voicera_webhooks::outbox::event_id_for`]): one event however often
    /// it is delivered.
    pub event_id: String,
    /// Its `data`.
    pub data: Value,
    /// When it happened (Unix ms): its `created_at`.
    pub at_ms: u64,
}

impl EventWrite {
    /// The event `event` about the call `record_id` of `org_id`, made at `at_ms`: its id follows from the
    /// three, so the same event made twice (a call's real end and its closing as an orphan) is one.
    pub fn about_call(org_id: &str, event: &str, record_id: &str, data: Value, at_ms: u64) -> EventWrite {
        EventWrite {
            org_id: org_id.to_string(),
            event: event.to_string(),
            event_id: voicera_webhooks::outbox::event_id_for(event, org_id, record_id),
            data,
            at_ms,
        }
    }
}

/// Something waiting to reach a dependency of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpoolItem {
    /// A call started: its in-progress log, inserted if absent.
    CallStarted(CallLogWrite),
    /// A call ended: its complete log, replacing the in-progress one.
    CallFinished(CallLogWrite),
    /// A call its node lost (crash): closed, replacing the log only while it is in progress; its
    /// `call.ended` is queued when (and only when) this closing is what ended the call.
    CallOrphaned(CallLogWrite),
    /// A customer webhook event about a call: how spool files written before events rode inside their log's
    /// write ([`CallLogWrite::events`]) carry them; still delivered, no longer made.
    Event(EventWrite),
}

impl SpoolItem {
    /// The call-log write it carries, if it is one.
    pub fn call_log(&self) -> Option<&CallLogWrite> {
        match self {
            SpoolItem::CallStarted(w) | SpoolItem::CallFinished(w) | SpoolItem::CallOrphaned(w) => Some(w),
            SpoolItem::Event(_) => None,
        }
    }

    /// The same kind of item carrying `write` instead (an event stays as it is).
    fn with_call_log(&self, write: CallLogWrite) -> SpoolItem {
        match self {
            SpoolItem::CallStarted(_) => SpoolItem::CallStarted(write),
            SpoolItem::CallFinished(_) => SpoolItem::CallFinished(write),
            SpoolItem::CallOrphaned(_) => SpoolItem::CallOrphaned(write),
            SpoolItem::Event(event) => SpoolItem::Event(event.clone()),
        }
    }
}

/// Makes an orphan's `call.ended` data from its closing log (the node's: it signs the recording link).
pub type OrphanEnded = Arc<dyn Fn(&CallLogWrite) -> Value + Send + Sync>;

/// Fixes what an event's data says of its org once the event is addressed to another (its `org_id` already
/// is): the node's, which re-signs a recording link for it.
pub type EventMoved = Arc<dyn Fn(&mut EventWrite) + Send + Sync>;

/// Where call events go: the node's webhooks, and how an orphan's `call.ended` reads.
#[derive(Clone)]
pub struct EventOutlet {
    /// The webhook outbox (and its worker's wake-up).
    pub webhooks: Webhooks,
    /// An orphan's `call.ended` data.
    pub orphan_ended: OrphanEnded,
    /// An event's data, addressed to the records org once known ([`CallLogWrite::addressed_to`]).
    pub event_moved: EventMoved,
}

/// Delivers [`SpoolItem`]s to the [`Store`].
#[derive(Clone)]
pub struct StoreDelivery {
    store: Store,
    events: Option<EventOutlet>,
    /// Where writes made under its stand-in go once it is known; `None`: they go as they are.
    records_org: Option<Arc<RecordsOrg>>,
}

impl StoreDelivery {
    /// Deliveries into `store`; events are dropped (a node without webhooks).
    pub fn new(store: Store) -> StoreDelivery {
        StoreDelivery { store, events: None, records_org: None }
    }

    /// Writes made under the stand-in of `records_org` wait for it to be known, then go to it.
    pub fn with_records_org(mut self, records_org: Arc<RecordsOrg>) -> StoreDelivery {
        self.records_org = Some(records_org);
        self
    }

    /// A write made under the records org's stand-in, addressed to the records org now that it is known
    /// (`None`: any other item, delivered as it is). Until it is known such a write is retried, not
    /// delivered: under the stand-in, its call's later writes could land in another org than its earlier.
    fn addressed(&self, item: &SpoolItem) -> Result<Option<SpoolItem>, DeliveryError> {
        let (Some(write), Some(records_org)) = (item.call_log().filter(|w| w.org_pending), &self.records_org) else {
            return Ok(None);
        };
        let Some(org_id) = records_org.get() else {
            return Err(DeliveryError::Hold("the owner's org, where this call is logged, is not known yet".into()));
        };
        let moved = self.events.as_ref().map(|outlet| &outlet.event_moved);
        Ok(Some(item.with_call_log(write.addressed_to(org_id, moved))))
    }

    /// Events are queued through `outlet`.
    pub fn with_events(mut self, outlet: EventOutlet) -> StoreDelivery {
        self.events = Some(outlet);
        self
    }

    async fn emit(&self, event: &EventWrite) -> Result<(), DeliveryError> {
        let Some(outlet) = &self.events else { return Ok(()) };
        outlet
            .webhooks
            .emit_once(&event.org_id, &event.event, &event.event_id, event.data.clone(), event.at_ms)
            .await
            .map_err(|err| match err {
                voicera_webhooks::WebhookError::Store(err) => classify(err),
                other => DeliveryError::Retry(other.to_string()),
            })
    }

    /// Queues the events a log write carries, in order, after the write landed.
    async fn emit_all(&self, events: &[EventWrite]) -> Result<(), DeliveryError> {
        for event in events {
            self.emit(event).await?;
        }
        Ok(())
    }

    /// Closes an orphan's log if it is still in progress (or absent: its start never landed), then queues its
    /// `call.ended`. The event also goes out when the stored log is this very closing (a delivery again after
    /// a crash between the write and the event; the event's fixed id keeps it one); a log closed any other
    /// way (its real end, another sweep) gets nothing.
    async fn close_orphan(&self, write: &CallLogWrite) -> Result<(), DeliveryError> {
        let record = Record { org_id: write.org_id.clone(), id: write.id.clone(), doc: write.doc.clone() };
        let logs = Collection::CallLogs;
        let mut closed_now =
            self.store.replace_if(logs, &record, "status", &json!(call_log::IN_PROGRESS)).await.map_err(classify)?;
        if !closed_now {
            closed_now = self.store.insert_if_absent(logs, &record).await.map_err(classify)?;
        }
        let ours = closed_now
            || self
                .store
                .get(logs, &write.org_id, &write.id)
                .await
                .map_err(classify)?
                .is_some_and(|stored| call_log::is_same_closing(&stored.doc, &write.doc));
        if !ours {
            tracing::debug!(record_id = %write.id, "an orphan's log was already closed: no call.ended from here");
            return Ok(());
        }
        let Some(outlet) = &self.events else { return Ok(()) };
        // Its `call.started` first, when the closing replaced a start that never got out of the spool.
        self.emit_all(&write.events).await?;
        // A closing spooled before `closed_at_ms` existed: now (never 1970).
        let at_ms = write.closed_at_ms.unwrap_or_else(voicera_store::unix_ms);
        let data = (outlet.orphan_ended)(write);
        self.emit(&EventWrite::about_call(&write.org_id, events::CALL_ENDED, &write.id, data, at_ms)).await
    }
}

fn classify(err: StoreError) -> DeliveryError {
    match err {
        // The document itself is wrong: no retry will take it.
        StoreError::Invalid(_) | StoreError::Corrupt { .. } => DeliveryError::Reject(err.to_string()),
        other => DeliveryError::Retry(other.to_string()),
    }
}

impl Deliver<SpoolItem> for StoreDelivery {
    /// A call's writes keep their order (a held start holds its end); an event item (spool files from before
    /// events rode with their log) keeps its place against all.
    fn order_key(&self, item: &SpoolItem) -> Option<String> {
        item.call_log().map(|write| write.id.clone())
    }

    /// A write made under the records org's stand-in, addressed to the records org once known: kept so in the
    /// spool before it goes, so its call's writes cannot reach two orgs across a restart.
    fn settled(&self, item: &SpoolItem) -> Option<SpoolItem> {
        self.addressed(item).ok().flatten()
    }

    async fn deliver(&self, item: &SpoolItem) -> Result<(), DeliveryError> {
        let addressed = self.addressed(item)?;
        let item = addressed.as_ref().unwrap_or(item);
        let record = |w: &CallLogWrite| Record { org_id: w.org_id.clone(), id: w.id.clone(), doc: w.doc.clone() };
        match item {
            SpoolItem::CallStarted(w) => {
                self.store.insert_if_absent(Collection::CallLogs, &record(w)).await.map_err(classify)?;
                self.emit_all(&w.events).await?;
            }
            SpoolItem::CallFinished(w) => {
                self.store.put(Collection::CallLogs, &record(w)).await.map_err(classify)?;
                self.emit_all(&w.events).await?;
            }
            SpoolItem::CallOrphaned(w) => self.close_orphan(w).await?,
            SpoolItem::Event(event) => self.emit(event).await?,
        }
        Ok(())
    }
}

/// The ids of the calls whose logs wait in the spool: the start-up sweep leaves them to it (their end, or
/// their closing, is already there). Unreadable items are skipped (the writer moves them aside).
pub fn spooled_call_ids(spool: &Spool<SpoolItem>) -> HashSet<String> {
    spool
        .entries()
        .filter_map(|entry| spool.read(entry.seq).ok())
        .filter_map(|item| item.call_log().map(|w| w.id.clone()))
        .collect()
}

/// A restart's review of what the previous run left in the spool: a call that started there and whose end
/// never came (the process died mid-call) is closed as an orphan instead of being opened in progress
/// forever. Returns the closing writes.
///
/// A recording the start recovered for such a call (`recordings`, [`crate::recovery`]) is linked into its
/// closing log.
pub fn close_spooled_orphans(
    spool: &mut Spool<SpoolItem>,
    now_ms: u64,
    recordings: &Leftovers,
) -> Result<Vec<CallLogWrite>, RecordsError> {
    let mut items = Vec::new();
    for entry in spool.entries().collect::<Vec<_>>() {
        match spool.read(entry.seq) {
            Ok(item) => items.push((entry.seq, item)),
            // Left for the writer, which moves unreadable items aside.
            Err(err) => tracing::warn!(%err, seq = entry.seq, "unreadable spool item"),
        }
    }
    let mut closed = Vec::new();
    for (at, (seq, item)) in items.iter().enumerate() {
        let SpoolItem::CallStarted(write) = item else { continue };
        let ended_later =
            items[at + 1..].iter().any(|(_, later)| matches!(later, SpoolItem::CallFinished(w) if w.id == write.id));
        if !ended_later {
            // The start's `call.started` rides on with the closing, ahead of its `call.ended`; a start made
            // before the records org was known leaves its closing to be addressed to it too.
            let write = CallLogWrite {
                org_pending: write.org_pending,
                ..closing(write.org_id.clone(), write.id.clone(), &write.doc, now_ms, recordings)
                    .with_events(write.events.clone())
            };
            spool.replace(*seq, &SpoolItem::CallOrphaned(write.clone()))?;
            closed.push(write);
        }
    }
    Ok(closed)
}

/// An orphan's closing write: its log closed `node_restarted` at `now_ms`, what was recovered linked in.
fn closing(org_id: String, id: String, doc: &Value, now_ms: u64, recordings: &Leftovers) -> CallLogWrite {
    let mut doc = call_log::closed_as_orphan(doc, now_ms);
    recordings.link_into(&mut doc);
    CallLogWrite { closed_at_ms: Some(now_ms), ..CallLogWrite::new(org_id, id, doc) }
}

/// What the start-up sweep leaves alone.
#[derive(Debug, Clone, Default)]
pub struct SweepScope {
    /// This run's id: logs it wrote are of live calls ([`call_log::LogContext::run_id`]).
    pub run_id: String,
    /// Calls whose logs waited in the spool at start ([`spooled_call_ids`]): the spool ends them.
    pub spooled: HashSet<String>,
}

/// The start-up sweep: this node's logs still in progress in the store, written by an earlier run and not
/// waiting in the spool (`scope`), are calls of a run that died; each is closed with end reason
/// `node_restarted`. Returns the closing writes for the writer (they go through the spool like any other
/// write, so a store that fails now loses nothing; each queues its `call.ended` when it lands).
/// A recording the start recovered for such a call (`recordings`) is linked into its closing log.
pub async fn orphans_in_store(
    store: &Store,
    node_id: &str,
    scope: &SweepScope,
    now_ms: u64,
    recordings: &Leftovers,
) -> Result<Vec<SpoolItem>, StoreError> {
    let open = store.call_logs_in_progress_on(node_id).await?;
    Ok(open
        .into_iter()
        .filter(|r| !scope.spooled.contains(&r.id))
        .filter(|r| scope.run_id.is_empty() || r.doc.get("run_id").and_then(Value::as_str) != Some(&scope.run_id))
        .map(|r| SpoolItem::CallOrphaned(closing(r.org_id, r.id, &r.doc, now_ms, recordings)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use voicera_store::secret::MasterKey;

    fn write(id: &str, status: &str) -> CallLogWrite {
        CallLogWrite::new(
            "org1",
            id,
            json!({"meeting_id": id, "status": status, "node_id": "n1", "created_at": "2024-11-19T07:00:00.000Z"}),
        )
    }

    async fn sqlite() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        (dir, store)
    }

    async fn status(store: &Store, id: &str) -> Option<Value> {
        store.get(Collection::CallLogs, "org1", id).await.unwrap().map(|r| r.doc["status"].clone())
    }

    #[tokio::test]
    async fn deliveries_are_idempotent_and_never_reopen_an_ended_call() {
        let (_dir, store) = sqlite().await;
        let delivery = StoreDelivery::new(store.clone());
        let started = SpoolItem::CallStarted(write("c1", "in-progress"));
        let finished = SpoolItem::CallFinished(write("c1", "completed"));
        // A crash after each acknowledgement and before the spool's delete: everything is delivered twice.
        for item in [&started, &started, &finished, &finished, &started] {
            delivery.deliver(item).await.unwrap();
        }
        assert_eq!(store.count(Collection::CallLogs).await.unwrap(), 1);
        assert_eq!(status(&store, "c1").await, Some(json!("completed")), "a late start does not reopen the call");
        // An orphan closing changes only a call still in progress.
        delivery.deliver(&SpoolItem::CallOrphaned(write("c1", "orphan"))).await.unwrap();
        assert_eq!(status(&store, "c1").await, Some(json!("completed")));
        delivery.deliver(&SpoolItem::CallStarted(write("c2", "in-progress"))).await.unwrap();
        delivery.deliver(&SpoolItem::CallOrphaned(write("c2", "completed"))).await.unwrap();
        assert_eq!(status(&store, "c2").await, Some(json!("completed")));
        // A document the store refuses is rejected, not retried forever.
        let bad = SpoolItem::CallFinished(CallLogWrite { org_id: String::new(), ..write("c3", "completed") });
        assert!(matches!(delivery.deliver(&bad).await, Err(DeliveryError::Reject(_))));
    }

    /// The webhook deliveries `call.ended` made, by the `end_reason` of their bodies.
    async fn ended_events(store: &Store) -> Vec<String> {
        let mut reasons: Vec<String> = store
            .list(Collection::WebhookDeliveries, "org1")
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.doc["event"] == events::CALL_ENDED)
            .map(|r| {
                let body: Value = serde_json::from_str(r.doc["body"].as_str().unwrap()).unwrap();
                body["data"]["end_reason"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        reasons.sort();
        reasons
    }

    /// A delivery with the node's webhooks: an endpoint of org1 subscribed to every event.
    async fn with_events(store: &Store) -> (StoreDelivery, tokio_util::sync::CancellationToken) {
        let key = MasterKey::from_bytes([3; 32]);
        let id = voicera_webhooks::outbox::new_id("we");
        let sealed = key.seal("whsec_x", &voicera_webhooks::outbox::secret_context("org1", &id)).unwrap();
        let doc = json!({"url": "http://127.0.0.1:9/hook", "events": ["*"], "enabled": true, "secret": sealed});
        store.put(Collection::WebhookEndpoints, &Record { org_id: "org1".into(), id, doc }).await.unwrap();
        // A worker that claims nothing: the deliveries stay in the log as they were queued.
        let shutdown = tokio_util::sync::CancellationToken::new();
        let config = voicera_webhooks::WorkerConfig { max_claims: 0, ..Default::default() };
        let (webhooks, _task) = voicera_webhooks::worker::spawn(store.clone(), key, config, shutdown.clone());
        let outlet = EventOutlet {
            webhooks,
            orphan_ended: Arc::new(|w: &CallLogWrite| json!({"call_id": w.id, "end_reason": w.doc["end_reason"]})),
            event_moved: Arc::new(|event: &mut EventWrite| event.data["moved_to"] = json!(event.org_id)),
        };
        (StoreDelivery::new(store.clone()).with_events(outlet), shutdown)
    }

    /// A node that started with the store away logs calls of agents without an org under the records org's
    /// stand-in, marked pending: such writes wait (kept in the spool, the mark with them) until the owner's
    /// org is known, then go to it with their events, which are the owner's endpoints' (one each).
    #[tokio::test]
    async fn writes_made_before_the_records_org_was_known_wait_for_it_and_go_to_it_events_and_all() {
        let (_dir, store) = sqlite().await;
        let (delivery, shutdown) = with_events(&store).await;
        let records_org = Arc::new(RecordsOrg::pending("default"));
        let delivery = delivery.with_records_org(Arc::clone(&records_org));
        let pending = CallOrg { org_id: "default".into(), pending: true };
        let call_started = EventWrite::about_call("default", events::CALL_STARTED, "c1", json!({"call_id": "c1"}), 1);
        let call_ended = EventWrite::about_call("default", events::CALL_ENDED, "c1", json!({"call_id": "c1"}), 2);
        let log = |status: &str| {
            let mut doc = write("c1", status).doc;
            doc["org_id"] = json!("default");
            doc
        };
        let start = SpoolItem::CallStarted(
            CallLogWrite::for_call(pending.clone(), "c1", log("in-progress")).with_events(vec![call_started.clone()]),
        );
        assert!(matches!(delivery.deliver(&start).await, Err(DeliveryError::Hold(_))), "held: the org is unknown");
        assert_eq!(store.count(Collection::CallLogs).await.unwrap(), 0);
        // As the spool keeps it, and reads it back (a restart too).
        let spooled = serde_json::to_string(&start).unwrap();
        assert!(spooled.contains(r#""org_pending":true"#), "{spooled}");
        let start: SpoolItem = serde_json::from_str(&spooled).unwrap();

        assert_eq!(delivery.settled(&start), None, "nothing to settle on yet");
        assert!(records_org.settle("org1"));
        // What the spool keeps before it goes: addressed to the owner's org, no longer pending.
        let settled = delivery.settled(&start).expect("addressed now");
        let written = settled.call_log().unwrap();
        assert_eq!(
            (written.org_id.as_str(), written.org_pending, &written.doc["org_id"]),
            ("org1", false, &json!("org1"))
        );
        assert_eq!(delivery.settled(&settled), None, "settled once");
        delivery.deliver(&start).await.unwrap();
        let end = SpoolItem::CallFinished(
            CallLogWrite::for_call(pending, "c1", log("completed")).with_events(vec![call_started, call_ended]),
        );
        delivery.deliver(&end).await.unwrap();
        delivery.deliver(&end).await.unwrap();
        let stored = store.get(Collection::CallLogs, "org1", "c1").await.unwrap().expect("the owner's log").doc;
        assert_eq!((&stored["status"], &stored["org_id"]), (&json!("completed"), &json!("org1")), "{stored}");
        assert!(store.get(Collection::CallLogs, "default", "c1").await.unwrap().is_none(), "none under the stand-in");
        let mut delivered: Vec<(String, Value)> = store
            .list(Collection::WebhookDeliveries, "org1")
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let body: Value = serde_json::from_str(r.doc["body"].as_str().unwrap()).unwrap();
                (r.doc["event"].as_str().unwrap_or_default().to_string(), body["data"]["moved_to"].clone())
            })
            .collect();
        delivered.sort_by(|a, b| a.0.cmp(&b.0));
        let moved = json!("org1");
        assert_eq!(
            delivered,
            [(events::CALL_ENDED.to_string(), moved.clone()), (events::CALL_STARTED.to_string(), moved)],
            "one of each, to the owner's endpoint, their data moved"
        );
        shutdown.cancel();
    }

    /// Through the writer: a call's write held for the owner's org does not hold up another org's call behind
    /// it in the spool; once the org is known (`retry_now`), the held call lands there.
    #[tokio::test]
    async fn a_held_write_lets_another_orgs_record_through_the_writer() {
        let (dir, store) = sqlite().await;
        let records_org = Arc::new(RecordsOrg::pending("default"));
        let delivery = StoreDelivery::new(store.clone()).with_records_org(Arc::clone(&records_org));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let spool = Spool::open(dir.path().join("spool")).unwrap();
        let (writer, task) =
            crate::RecordWriter::spawn(crate::WriterConfig::default(), spool, delivery, shutdown.clone());
        let pending = CallOrg { org_id: "default".into(), pending: true };
        let held = CallLogWrite::for_call(pending, "c1", write("c1", "in-progress").doc);
        let other = CallLogWrite::new("org-b", "c2", write("c2", "completed").doc);
        assert!(writer.try_submit(SpoolItem::CallStarted(held)));
        assert!(writer.try_submit(SpoolItem::CallFinished(other)));
        let landed = |org: &'static str, id: &'static str| {
            let store = store.clone();
            async move {
                for _ in 0..500 {
                    if store.get(Collection::CallLogs, org, id).await.unwrap().is_some() {
                        return true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                false
            }
        };
        assert!(landed("org-b", "c2").await, "the other org's call goes past the held one");
        assert_eq!(store.count(Collection::CallLogs).await.unwrap(), 1, "the held call waits");
        assert!(!writer.degraded(), "a held write is no store failure");
        assert!(writer.render_metrics(crate::unix_ms()).contains("voicera_store_write_failures_total 0"));

        records_org.settle("org1");
        writer.retry_now();
        assert!(landed("org1", "c1").await, "the held call lands in the owner's org");
        assert!(store.get(Collection::CallLogs, "default", "c1").await.unwrap().is_none());
        shutdown.cancel();
        task.await.unwrap();
    }

    /// The orphan closing's compare-and-set, on any backend: the closing that ends a call in progress queues
    /// its `call.ended` once (also when it is delivered again after a crash), and a closing that finds the
    /// call already ended (its real end, another sweep's closing) changes nothing and sends nothing.
    async fn an_orphans_call_ended_goes_out_only_when_its_closing_ended_the_call(store: &Store) {
        let (delivery, shutdown) = with_events(store).await;
        delivery.deliver(&SpoolItem::CallStarted(write("lost", "in-progress"))).await.unwrap();
        let first =
            closing("org1".into(), "lost".into(), &write("lost", "in-progress").doc, 1_000, &Leftovers::default());
        let orphan = SpoolItem::CallOrphaned(first.clone());
        delivery.deliver(&orphan).await.unwrap();
        assert_eq!(status(store, "lost").await, Some(json!("completed")));
        assert_eq!(ended_events(store).await, [call_log::NODE_RESTARTED]);
        // Delivered again (the node died before the spool's delete): the same event, not a second.
        delivery.deliver(&orphan).await.unwrap();
        assert_eq!(ended_events(store).await, [call_log::NODE_RESTARTED]);
        // A second sweep (another start, another node with this id) closes nothing and sends nothing.
        let second =
            closing("org1".into(), "lost".into(), &write("lost", "in-progress").doc, 9_000, &Leftovers::default());
        delivery.deliver(&SpoolItem::CallOrphaned(second)).await.unwrap();
        assert_eq!(ended_events(store).await, [call_log::NODE_RESTARTED]);
        let stored = store.get(Collection::CallLogs, "org1", "lost").await.unwrap().unwrap().doc;
        assert_eq!(stored["end_time_utc"], first.doc["end_time_utc"], "the first closing stays");

        // A call whose real end landed first: its closing changes nothing and owes nothing.
        delivery.deliver(&SpoolItem::CallStarted(write("ended", "in-progress"))).await.unwrap();
        let real_end = json!({"call_id": "ended", "end_reason": "Stopped"});
        delivery.deliver(&SpoolItem::CallFinished(write("ended", "completed"))).await.unwrap();
        let event = EventWrite::about_call("org1", events::CALL_ENDED, "ended", real_end, 2_000);
        delivery.deliver(&SpoolItem::Event(event.clone())).await.unwrap();
        delivery.deliver(&SpoolItem::Event(event)).await.unwrap();
        let late =
            closing("org1".into(), "ended".into(), &write("ended", "in-progress").doc, 3_000, &Leftovers::default());
        delivery.deliver(&SpoolItem::CallOrphaned(late)).await.unwrap();
        assert_eq!(status(store, "ended").await, Some(json!("completed")));
        assert_eq!(ended_events(store).await, ["Stopped", call_log::NODE_RESTARTED], "one call.ended each");

        // A closing whose call's start never reached the store (both were in the spool): inserted, and owed.
        let unseen =
            closing("org1".into(), "unseen".into(), &write("unseen", "in-progress").doc, 4_000, &Leftovers::default());
        delivery.deliver(&SpoolItem::CallOrphaned(unseen)).await.unwrap();
        assert_eq!(status(store, "unseen").await, Some(json!("completed")));
        assert_eq!(ended_events(store).await.len(), 3);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn an_orphan_is_closed_by_compare_and_set_and_owes_one_call_ended_on_sqlite() {
        let (_dir, store) = sqlite().await;
        an_orphans_call_ended_goes_out_only_when_its_closing_ended_the_call(&store).await;
    }

    #[tokio::test]
    async fn an_orphan_is_closed_by_compare_and_set_and_owes_one_call_ended_on_mongodb() {
        let server = voicera_store::testing::SecantusServer::start();
        let mongo = voicera_store::mongo::MongoStore::connect(&server.uri, Some("orphans")).await.unwrap();
        an_orphans_call_ended_goes_out_only_when_its_closing_ended_the_call(&Store::Mongo(mongo)).await;
    }

    #[tokio::test]
    async fn the_sweep_closes_this_nodes_open_calls_of_earlier_runs_not_in_the_spool() {
        let (_dir, store) = sqlite().await;
        let delivery = StoreDelivery::new(store.clone());
        delivery.deliver(&SpoolItem::CallStarted(write("mine", "in-progress"))).await.unwrap();
        delivery.deliver(&SpoolItem::CallFinished(write("done", "completed"))).await.unwrap();
        let mut theirs = write("theirs", "in-progress");
        theirs.doc["node_id"] = json!("n2");
        delivery.deliver(&SpoolItem::CallStarted(theirs)).await.unwrap();
        // A call of this run (live), and one whose end waits in the spool.
        let mut live = write("live", "in-progress");
        live.doc["run_id"] = json!("run-now");
        delivery.deliver(&SpoolItem::CallStarted(live)).await.unwrap();
        delivery.deliver(&SpoolItem::CallStarted(write("spooled", "in-progress"))).await.unwrap();
        let scope = SweepScope { run_id: "run-now".into(), spooled: HashSet::from(["spooled".to_string()]) };
        let closing = orphans_in_store(&store, "n1", &scope, 1_732_000_000_000, &Leftovers::default()).await.unwrap();
        assert_eq!(closing.len(), 1, "{closing:?}");
        let write = closing[0].call_log().unwrap();
        assert_eq!(write.id, "mine");
        assert_eq!(write.doc["end_reason"], call_log::NODE_RESTARTED);
        assert_eq!(write.closed_at_ms, Some(1_732_000_000_000));
        delivery.deliver(&closing[0]).await.unwrap();
        assert_eq!(status(&store, "mine").await, Some(json!("completed")));
        let again = orphans_in_store(&store, "n1", &scope, 0, &Leftovers::default()).await.unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn a_spooled_start_without_its_end_is_closed_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::<SpoolItem>::open(dir.path()).unwrap();
        spool.push(&SpoolItem::CallStarted(write("lost", "in-progress")), 1).unwrap();
        spool.push(&SpoolItem::CallStarted(write("ended", "in-progress")), 2).unwrap();
        spool.push(&SpoolItem::CallFinished(write("ended", "completed")), 3).unwrap();
        // The killed run's recording of the lost call was recovered from its segment file.
        let recovered = Leftovers::new([("lost".to_string(), "fs://recordings/d/lost.wav".to_string())]);
        let closed = close_spooled_orphans(&mut spool, 1_732_000_000_000, &recovered).unwrap();
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].id.as_str(), &closed[0].doc["end_reason"]), ("lost", &json!(call_log::NODE_RESTARTED)));
        let kinds: Vec<SpoolItem> = spool.entries().map(|e| spool.read(e.seq).unwrap()).collect();
        assert!(matches!(&kinds[0], SpoolItem::CallOrphaned(w) if w.doc["end_reason"] == call_log::NODE_RESTARTED));
        assert_eq!(kinds[0].call_log().unwrap().doc["recording_url"], "fs://recordings/d/lost.wav");
        assert!(matches!(&kinds[1], SpoolItem::CallStarted(_)));
        assert!(matches!(&kinds[2], SpoolItem::CallFinished(_)));
        assert_eq!(spooled_call_ids(&spool), HashSet::from(["lost".to_string(), "ended".to_string()]));
    }

    /// The events of the deliveries made, in the order they were queued (`created_ms`, then id).
    async fn events_made(store: &Store) -> Vec<String> {
        let mut made: Vec<(u64, String, String)> = store
            .list(Collection::WebhookDeliveries, "org1")
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.doc["created_ms"].as_u64().unwrap(), r.id, r.doc["event"].as_str().unwrap().to_string()))
            .collect();
        made.sort();
        made.into_iter().map(|(_, _, event)| event).collect()
    }

    /// A call's events ride inside its log writes: queued in the delivery that writes the log, once however
    /// often it is delivered; a start closed as an orphan in the spool keeps its `call.started`, ahead of the
    /// closing's `call.ended`.
    #[tokio::test]
    async fn a_calls_events_ride_inside_its_log_writes_and_go_out_once_in_order() {
        let (_dir, store) = sqlite().await;
        let (delivery, shutdown) = with_events(&store).await;
        let started = |id: &str| EventWrite::about_call("org1", events::CALL_STARTED, id, json!({}), 1_000);
        let ended = EventWrite::about_call("org1", events::CALL_ENDED, "c1", json!({"end_reason": "Stopped"}), 2_000);
        let start = SpoolItem::CallStarted(write("c1", "in-progress").with_events(vec![started("c1")]));
        let end = SpoolItem::CallFinished(write("c1", "completed").with_events(vec![started("c1"), ended]));
        // The end delivered before its start (a start dropped from a full queue), then everything again.
        for item in [&end, &start, &end] {
            delivery.deliver(item).await.unwrap();
        }
        assert_eq!(events_made(&store).await, [events::CALL_STARTED, events::CALL_ENDED]);
        assert_eq!(status(&store, "c1").await, Some(json!("completed")));

        // A start left in the spool by a killed run: its closing carries its call.started.
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::<SpoolItem>::open(dir.path()).unwrap();
        let lost = SpoolItem::CallStarted(write("lost", "in-progress").with_events(vec![started("lost")]));
        spool.push(&lost, 1).unwrap();
        close_spooled_orphans(&mut spool, 3_000, &Leftovers::default()).unwrap();
        let closing = spool.read(spool.entries().next().unwrap().seq).unwrap();
        delivery.deliver(&closing).await.unwrap();
        delivery.deliver(&closing).await.unwrap();
        let made = events_made(&store).await;
        let expected = [events::CALL_STARTED, events::CALL_STARTED, events::CALL_ENDED, events::CALL_ENDED];
        assert_eq!(made, expected, "one call.started (at 1 s) and one call.ended (at 3 s) more");
        assert_eq!(ended_events(&store).await, ["Stopped", call_log::NODE_RESTARTED]);
        shutdown.cancel();
    }

    #[test]
    fn a_spool_file_of_an_earlier_version_still_reads() {
        let old = r#"{"kind":"call_orphaned","org_id":"o","id":"rec-1","doc":{"status":"completed"}}"#;
        let item: SpoolItem = serde_json::from_str(old).unwrap();
        assert_eq!(item.call_log().unwrap().closed_at_ms, None);
        assert!(item.call_log().unwrap().events.is_empty());
        let old_start = r#"{"kind":"call_started","org_id":"o","id":"rec-1","doc":{"status":"in-progress"}}"#;
        assert!(
            matches!(serde_json::from_str::<SpoolItem>(old_start).unwrap(), SpoolItem::CallStarted(w) if w.events.is_empty())
        );
        let event = SpoolItem::Event(EventWrite::about_call("o", "call.ended", "rec-1", json!({}), 5));
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.starts_with(r#"{"kind":"event""#), "{text}");
        assert_eq!(serde_json::from_str::<SpoolItem>(&text).unwrap(), event);
    }
}
