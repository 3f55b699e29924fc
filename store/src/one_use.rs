//! One-use ids shared by every node of a deployment: a token (a provider's stream token, a browser's session
//! token) spent on one node is refused on all, because spending is an insert that the store's unique key lets
//! only one node win ([`crate::Store::insert_if_absent`]). Each spent id carries its expiry; after it the id
//! may be spent again (the token it stood for is refused as expired anyway) and is removed by a cleanup that
//! runs at most once per [`CLEANUP_INTERVAL`] on the spending path, so the collection holds only live ids.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use crate::{Collection, Record, Result, Store};

/// The tenant the platform's own one-use ids are kept under (tenant ids are generated and never start with `_`).
pub const PLATFORM_ORG: &str = "_platform";
/// Expired ids are removed at most this often (seconds), by whichever spend comes first after it.
pub const CLEANUP_INTERVAL: u64 = 60;

/// Spends ids once across every node sharing the store. Cheap to clone the store it holds.
pub struct OneUseIds {
    store: Store,
    collection: Collection,
    /// When the last cleanup started (unix seconds).
    last_cleanup: AtomicU64,
}

impl OneUseIds {
    /// One-use ids in [`Collection::UsedTokens`] of `store`.
    pub fn new(store: Store) -> OneUseIds {
        OneUseIds { store, collection: Collection::UsedTokens, last_cleanup: AtomicU64::new(0) }
    }

    /// Spends `id` until `expires_at` (unix seconds): `true` for the first spend anywhere, `false` while an
    /// earlier spend of it has not expired at `now`.
    pub async fn spend(&self, id: &str, expires_at: u64, now: u64) -> Result<bool> {
        self.clean_up_if_due(now).await;
        let record = Record { org_id: PLATFORM_ORG.into(), id: id.into(), doc: json!({ "expires_at": expires_at }) };
        if self.store.insert_if_absent(self.collection, &record).await? {
            return Ok(true);
        }
        // Taken: by a live spend, or by one that expired and has not been cleaned up yet.
        let taken = self.store.get(self.collection, PLATFORM_ORG, id).await?;
        let expired = match &taken {
            Some(taken) => taken.doc["expires_at"].as_u64().is_some_and(|until| until < now),
            None => true, // removed since
        };
        if !expired {
            return Ok(false);
        }
        self.store.delete_expired(self.collection, now).await?;
        // Nodes racing here all removed the same expired id; the unique key lets one of them insert.
        self.store.insert_if_absent(self.collection, &record).await
    }

    /// Removes the ids expired at `now`; how many.
    pub async fn clean_up(&self, now: u64) -> Result<u64> {
        self.last_cleanup.store(now, Ordering::Relaxed);
        self.store.delete_expired(self.collection, now).await
    }

    async fn clean_up_if_due(&self, now: u64) {
        let last = self.last_cleanup.load(Ordering::Relaxed);
        if now < last.saturating_add(CLEANUP_INTERVAL) {
            return;
        }
        // One spend per interval does the cleanup; a failed one is retried after the next interval.
        if self.last_cleanup.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            if let Err(err) = self.store.delete_expired(self.collection, now).await {
                tracing::warn!(%err, "expired one-use ids not removed");
            }
        }
    }
}

/// Conformance of one-use ids on any backend (the MongoDB run is in `tests/mongodb.rs`); `a` and `b` are two
/// handles on one store, as two nodes have.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub async fn conformance(a: &Store, b: &Store) {
    let (node_a, node_b) = (OneUseIds::new(a.clone()), OneUseIds::new(b.clone()));
    assert!(node_a.spend("stream:c1", 1_300, 1_000).await.unwrap(), "the first spend wins");
    assert!(!node_b.spend("stream:c1", 1_300, 1_001).await.unwrap(), "refused on the other node");
    assert!(!node_a.spend("stream:c1", 1_400, 1_002).await.unwrap(), "and on the first");
    assert!(node_b.spend("stream:c2", 1_300, 1_002).await.unwrap(), "another id is its own");
    // Racing spends of one id: exactly one wins.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let ids = OneUseIds::new(if i % 2 == 0 { a.clone() } else { b.clone() });
            tokio::spawn(async move { ids.spend("stream:race", 1_300, 1_003).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1, "one spend of a raced id");
    assert_eq!(a.count(Collection::UsedTokens).await.unwrap(), 3);
    // Past its expiry an id may be spent again (its token is refused as expired before this is asked); the
    // spend after the cleanup interval removed the other expired ids.
    assert!(node_b.spend("stream:c1", 1_700, 1_301).await.unwrap(), "spent again after expiry");
    assert!(!node_a.spend("stream:c1", 1_700, 1_302).await.unwrap());
    assert_eq!(b.count(Collection::UsedTokens).await.unwrap(), 1, "only c1 (until 1700) is left");
    // The cleanup removes only expired ids.
    assert!(node_a.spend("stream:c3", 1_350, 1_303).await.unwrap());
    assert_eq!(node_a.clean_up(1_400).await.unwrap(), 1, "c3 expired at 1350");
    assert_eq!(a.count(Collection::UsedTokens).await.unwrap(), 1, "c1 lives until 1700");
    assert!(!node_b.spend("stream:c1", 1_700, 1_401).await.unwrap());
}
