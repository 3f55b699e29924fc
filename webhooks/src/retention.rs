//! Delivery-log retention: a finished delivery (delivered, dead-lettered, cancelled) and its attempts leave
//! the log `[webhooks] log_retention_days` after it finished (default 30; 0 keeps them for ever). Pending
//! deliveries are never touched: their queue entries still point at them.
//!
//! The choice is pure ([`select`]: the log's documents and the time, passed in); [`sweep`] asks the store
//! for the same choice a page of [`PAGE`] at a time ([`Store::list_finished_before`]: filtered in the store,
//! a key cursor), so its memory is one page whatever the log's size, and deletes; [`run`] sweeps at start
//! and every [`SWEEP_INTERVAL`] on a clock it is given. Every node sweeps the shared log; deleting what
//! another node already deleted is no error.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use voicera_store::{utc_text, Collection, FinishedBefore, Record, Store};

use crate::metrics::WebhookMetrics;
use crate::outbox::{CANCELLED, DELIVERED, FAILED};
use crate::WebhookError;

/// How often [`run`] sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Milliseconds in a day.
const DAY_MS: u64 = 86_400_000;
/// Deliveries read (and deleted) per page.
pub const PAGE: u64 = 500;

/// The deliveries of `log` to delete at `now_ms` when finished ones are kept `days`: those whose status is
/// final and that finished (else, for logs written before `finished_at` existed, were created) before the
/// cutoff. Times compare as the store writes them (fixed-width UTC text). Returns (org, delivery id) pairs.
pub fn select(log: &[Record], days: u32, now_ms: u64) -> Vec<(String, String)> {
    let cutoff = utc_text(now_ms.saturating_sub(u64::from(days) * DAY_MS) as i64);
    log.iter()
        .filter(|record| {
            let doc = &record.doc;
            let status = doc.get("status").and_then(Value::as_str).unwrap_or_default();
            let finished = doc
                .get("finished_at")
                .filter(|at| !at.is_null())
                .or_else(|| doc.get("created_at"))
                .and_then(Value::as_str);
            [DELIVERED, FAILED, CANCELLED].contains(&status) && finished.is_some_and(|at| at < cutoff.as_str())
        })
        .map(|record| (record.org_id.clone(), record.id.clone()))
        .collect()
}

/// Deletes the finished deliveries older than `days` at `now_ms`, `page` at a time; how many.
pub async fn sweep(store: &Store, days: u32, now_ms: u64) -> Result<u64, WebhookError> {
    sweep_in_pages(store, days, now_ms, PAGE).await
}

async fn sweep_in_pages(store: &Store, days: u32, now_ms: u64, page: u64) -> Result<u64, WebhookError> {
    let mut query = FinishedBefore {
        statuses: [DELIVERED, FAILED, CANCELLED].map(String::from).to_vec(),
        time_field: "finished_at".into(),
        fallback_time_field: "created_at".into(),
        before: utc_text(now_ms.saturating_sub(u64::from(days) * DAY_MS) as i64),
        after: None,
        limit: page,
    };
    let mut deleted = 0;
    loop {
        let found = store.list_finished_before(Collection::WebhookDeliveries, &query).await?;
        // The store filtered; `select` is the same rule, kept as the one definition the tests pin down.
        for (org_id, id) in select(&found, days, now_ms) {
            if store.delete(Collection::WebhookDeliveries, &org_id, &id).await? {
                deleted += 1;
            }
        }
        match found.last() {
            Some(last) if found.len() as u64 == page => query.after = Some((last.org_id.clone(), last.id.clone())),
            _ => return Ok(deleted),
        }
    }
}

/// Sweeps at start and every [`SWEEP_INTERVAL`] until `shutdown`, reading the time from `clock` (Unix ms);
/// counts what it removed in `metrics`. A failed sweep is logged and tried again at the next interval.
pub async fn run(
    store: Store,
    days: u32,
    metrics: Arc<WebhookMetrics>,
    clock: fn() -> u64,
    shutdown: CancellationToken,
) {
    loop {
        match sweep(&store, days, clock()).await {
            Ok(0) => {}
            Ok(deleted) => {
                metrics.swept(deleted);
                tracing::info!(deleted, days, "webhook delivery log: finished deliveries past retention removed");
            }
            Err(err) => tracing::warn!(%err, "webhook delivery log sweep failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_795_000_000_000;

    fn delivery(id: &str, status: &str, finished_ms: Option<u64>, created_ms: u64) -> Record {
        let mut doc = json!({"status": status, "created_at": utc_text(created_ms as i64)});
        if let Some(at) = finished_ms {
            doc["finished_at"] = json!(utc_text(at as i64));
        }
        Record { org_id: "org1".into(), id: id.into(), doc }
    }

    #[test]
    fn finished_deliveries_past_the_cutoff_go_and_pending_ones_stay_on_a_virtual_clock() {
        let day = DAY_MS;
        let log = vec![
            delivery("old-delivered", DELIVERED, Some(NOW - 31 * day), NOW - 31 * day),
            delivery("old-failed", FAILED, Some(NOW - 40 * day), NOW - 41 * day),
            delivery("old-cancelled", CANCELLED, Some(NOW - 30 * day - 1), NOW - 31 * day),
            // Exactly at the cutoff: kept (strictly before goes).
            delivery("at-cutoff", DELIVERED, Some(NOW - 30 * day), NOW - 30 * day),
            delivery("recent", DELIVERED, Some(NOW - day), NOW - day),
            // Created long ago, finished recently (a day of retries): its finish counts.
            delivery("late-finish", FAILED, Some(NOW - 29 * day), NOW - 31 * day),
            // Pending for ever (a bug elsewhere): never removed, its queue entry points at it.
            delivery("pending", "pending", None, NOW - 90 * day),
            // Written before `finished_at` existed: its creation counts.
            delivery("legacy", DELIVERED, None, NOW - 31 * day),
            Record { org_id: "org1".into(), id: "no-time".into(), doc: json!({"status": DELIVERED}) },
        ];
        let mut ids: Vec<String> = select(&log, 30, NOW).into_iter().map(|(_, id)| id).collect();
        ids.sort();
        assert_eq!(ids, ["legacy", "old-cancelled", "old-delivered", "old-failed"]);
        // A day later, the one at the cutoff and the late finisher's turn has not come yet; then it has.
        let later: Vec<String> = select(&log, 30, NOW + day).into_iter().map(|(_, id)| id).collect();
        assert!(later.contains(&"at-cutoff".to_string()) && !later.contains(&"late-finish".to_string()));
        let much_later: Vec<String> = select(&log, 30, NOW + 2 * day).into_iter().map(|(_, id)| id).collect();
        assert!(much_later.contains(&"late-finish".to_string()));
        assert!(!much_later.contains(&"pending".to_string()) && !much_later.contains(&"no-time".to_string()));
    }

    #[tokio::test]
    async fn the_sweep_deletes_from_the_store_and_a_second_sweep_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        for record in [
            delivery("old", DELIVERED, Some(NOW - 31 * DAY_MS), NOW - 31 * DAY_MS),
            delivery("new", DELIVERED, Some(NOW - DAY_MS), NOW - DAY_MS),
            delivery("waiting", "pending", None, NOW - 31 * DAY_MS),
        ] {
            store.put(Collection::WebhookDeliveries, &record).await.unwrap();
        }
        assert_eq!(sweep(&store, 30, NOW).await.unwrap(), 1);
        assert_eq!(sweep(&store, 30, NOW).await.unwrap(), 0);
        // Many old deliveries in pages smaller than the log: every one goes, the recent and pending stay.
        for n in 0..23 {
            let org = if n % 2 == 0 { "org1" } else { "org2" };
            let old = delivery(&format!("old-{n:02}"), DELIVERED, Some(NOW - 40 * DAY_MS), NOW - 40 * DAY_MS);
            store.put(Collection::WebhookDeliveries, &Record { org_id: org.into(), ..old }).await.unwrap();
        }
        assert_eq!(sweep_in_pages(&store, 30, NOW, 5).await.unwrap(), 23);
        let left: Vec<String> =
            store.list_all(Collection::WebhookDeliveries).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(store.get(Collection::WebhookDeliveries, "org1", "old").await.unwrap().is_none());
    }
}
