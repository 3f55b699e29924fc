//! What the spool carries and how each kind reaches the store. Every write is an idempotent upsert keyed by
//! the call's record id, so delivering an item twice (a crash between the store's acknowledgement and the
//! spool's delete) leaves the same single document:
//!
//! - [`SpoolItem::CallStarted`] inserts the in-progress log only if the store has none for the call (a
//!   re-delivery, or a start that arrives after its end, changes nothing);
//! - [`SpoolItem::CallFinished`] replaces the log with the complete one;
//! - [`SpoolItem::CallOrphaned`] replaces the log only while it is still in progress (a call whose real end
//!   has landed keeps it).
//!
//! The blob store's uploads join as another variant (`Blob { bucket, key, path }`) with its own delivery.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use voicera_store::{Collection, Record, Store, StoreError};

use crate::call_log;
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
}

/// Something waiting to reach a dependency of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpoolItem {
    /// A call started: its in-progress log, inserted if absent.
    CallStarted(CallLogWrite),
    /// A call ended: its complete log, replacing the in-progress one.
    CallFinished(CallLogWrite),
    /// A call its node lost (crash): closed, replacing the log only while it is in progress.
    CallOrphaned(CallLogWrite),
}

impl SpoolItem {
    /// The call-log write it carries.
    pub fn call_log(&self) -> &CallLogWrite {
        match self {
            SpoolItem::CallStarted(w) | SpoolItem::CallFinished(w) | SpoolItem::CallOrphaned(w) => w,
        }
    }
}

/// Delivers [`SpoolItem`]s to the [`Store`].
#[derive(Clone)]
pub struct StoreDelivery {
    store: Store,
}

impl StoreDelivery {
    /// Deliveries into `store`.
    pub fn new(store: Store) -> StoreDelivery {
        StoreDelivery { store }
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
    async fn deliver(&self, item: &SpoolItem) -> Result<(), DeliveryError> {
        let write = item.call_log();
        let record = Record { org_id: write.org_id.clone(), id: write.id.clone(), doc: write.doc.clone() };
        let existing =
            || async { self.store.get(Collection::CallLogs, &write.org_id, &write.id).await.map_err(classify) };
        let put = match item {
            SpoolItem::CallStarted(_) => existing().await?.is_none(),
            SpoolItem::CallFinished(_) => true,
            SpoolItem::CallOrphaned(_) => existing().await?.is_none_or(|r| call_log::is_in_progress(&r.doc)),
        };
        if put {
            self.store.put(Collection::CallLogs, &record).await.map_err(classify)?;
        }
        Ok(())
    }
}

/// A restart's review of what the previous run left in the spool: a call that started there and whose end
/// never came (the process died mid-call) is closed as an orphan instead of being opened in progress
/// forever. Returns the closing writes (for the `call.ended` each orphan still owes its customer).
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
            let mut doc = call_log::closed_as_orphan(&write.doc, now_ms);
            recordings.link_into(&mut doc);
            let write = CallLogWrite { doc, ..write.clone() };
            spool.replace(*seq, &SpoolItem::CallOrphaned(write.clone()))?;
            closed.push(write);
        }
    }
    Ok(closed)
}

/// The start-up sweep: this node's logs still in progress in the store are calls of a run that died; each
/// is closed with end reason `node_restarted`. Run before the node takes calls. Returns the closing writes
/// for the writer (they go through the spool like any other write, so a store that fails now loses nothing).
/// A recording the start recovered for such a call (`recordings`) is linked into its closing log.
pub async fn orphans_in_store(
    store: &Store,
    node_id: &str,
    now_ms: u64,
    recordings: &Leftovers,
) -> Result<Vec<SpoolItem>, StoreError> {
    let open = store.call_logs_in_progress_on(node_id).await?;
    Ok(open
        .into_iter()
        .map(|r| {
            let mut doc = call_log::closed_as_orphan(&r.doc, now_ms);
            recordings.link_into(&mut doc);
            SpoolItem::CallOrphaned(CallLogWrite { doc, org_id: r.org_id, id: r.id })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(id: &str, status: &str) -> CallLogWrite {
        CallLogWrite {
            org_id: "org1".into(),
            id: id.into(),
            doc: json!({"meeting_id": id, "status": status, "node_id": "n1", "created_at": "2024-11-19T07:00:00.000Z"}),
        }
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

    #[tokio::test]
    async fn the_sweep_closes_this_nodes_open_calls_only() {
        let (_dir, store) = sqlite().await;
        let delivery = StoreDelivery::new(store.clone());
        delivery.deliver(&SpoolItem::CallStarted(write("mine", "in-progress"))).await.unwrap();
        delivery.deliver(&SpoolItem::CallFinished(write("done", "completed"))).await.unwrap();
        let mut theirs = write("theirs", "in-progress");
        theirs.doc["node_id"] = json!("n2");
        delivery.deliver(&SpoolItem::CallStarted(theirs)).await.unwrap();
        let closing = orphans_in_store(&store, "n1", 1_732_000_000_000, &Leftovers::default()).await.unwrap();
        assert_eq!(closing.len(), 1);
        assert_eq!(closing[0].call_log().id, "mine");
        assert_eq!(closing[0].call_log().doc["end_reason"], call_log::NODE_RESTARTED);
        delivery.deliver(&closing[0]).await.unwrap();
        assert_eq!(status(&store, "mine").await, Some(json!("completed")));
        assert!(orphans_in_store(&store, "n1", 0, &Leftovers::default()).await.unwrap().is_empty());
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
        assert_eq!(kinds[0].call_log().doc["recording_url"], "fs://recordings/d/lost.wav");
        assert!(matches!(&kinds[1], SpoolItem::CallStarted(_)));
        assert!(matches!(&kinds[2], SpoolItem::CallFinished(_)));
    }
}
