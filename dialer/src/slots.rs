//! Live-call slots: how a campaign's `max_live_calls` holds across every node dialling it.
//!
//! Each node's [`Campaign`](crate::campaign::Campaign) keeps its own calls under the limit; slots keep the sum
//! under it. A campaign has `max_live_calls` numbered slots, one store document each (`campaign_slots`, id
//! `"{batch_id}:{slot}"`). A node places a call only while it holds a slot: a lease (node, expiry) in the slot's
//! document, taken before the contact's own lease, renewed with it, and released when the call ends. A dead
//! node's slots lapse with its contact leases (same length, same renewals), so its calls, which died with it,
//! stop counting at the same time as its contacts may be taken over.
//!
//! A slot is claimed by a conditional write, as contacts are: an absent slot by insert-if-absent, a free one
//! (released, or its lease lapsed) by a compare-and-set on [`SlotDocument::version`]. Of two nodes racing for
//! one slot one wins; the loser tries the next free slot of the plan ([`plan_claim`]) or waits.
//!
//! **Editing the limit while running.** Only slots `0..limit` are ever claimed, and none while `limit` or more
//! slots are held, whatever their number: a lowered limit lets the calls in higher slots finish, and no new call
//! starts until fewer than `limit` are up. (Two nodes reading at once during the change can each take one of
//! the free low slots, so the total may exceed the new limit by the calls already above it until they end.)
//!
//! Functions here are pure; the runner does the reads and writes.

use serde::{Deserialize, Serialize};

use crate::lease::Lease;
use crate::{DialerError, UnixMillis};

/// One live-call slot of a campaign, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotDocument {
    /// The batch (campaign) it belongs to.
    pub batch_id: String,
    /// Its number, `0..max_live_calls`.
    pub slot: u32,
    /// The node using it, while a call is placed or up.
    pub lease: Option<Lease>,
    /// The contact (store id) whose call holds it, for the operator.
    pub contact: Option<String>,
    /// Bumped by every transition; writes are conditional on it.
    pub version: u64,
}

/// A write that would give `node` a slot: the runner tries a plan's claims in order until one is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotClaim {
    /// The slot has no document yet: insert it only if still absent.
    Insert(SlotDocument),
    /// The slot is free: replace it only if its stored version is still `expected_version`.
    Replace {
        /// The version read.
        expected_version: u64,
        /// The claimed slot.
        next: SlotDocument,
    },
}

impl SlotClaim {
    /// The slot this claim would hold.
    pub fn document(&self) -> &SlotDocument {
        match self {
            SlotClaim::Insert(doc) | SlotClaim::Replace { next: doc, .. } => doc,
        }
    }
}

impl SlotDocument {
    /// The store key of a campaign's slot: `"{batch_id}:{slot}"`.
    pub fn store_id_of(batch_id: &str, slot: u32) -> String {
        format!("{batch_id}:{slot}")
    }

    /// The prefix every slot id of a campaign starts with (`"{batch_id}:"`, so `b1:` never lists `b10:`'s).
    pub fn prefix(batch_id: &str) -> String {
        format!("{batch_id}:")
    }

    /// This slot's store key.
    pub fn store_id(&self) -> String {
        SlotDocument::store_id_of(&self.batch_id, self.slot)
    }

    /// The document as JSON for the store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A stored document.
    pub fn from_json(value: &serde_json::Value) -> Result<SlotDocument, DialerError> {
        SlotDocument::deserialize(value).map_err(|e| DialerError::Document(e.to_string()))
    }

    /// Whether a call holds the slot at `now` (a lease that has not lapsed).
    pub fn held(&self, now: UnixMillis) -> bool {
        self.lease.as_ref().is_some_and(|l| l.expires_at > now)
    }

    /// `node`, still holding the slot for `contact`, extends it to `now + ttl_ms`. Fails once the lease lapsed or
    /// the slot went to another call.
    pub fn renew(&self, node: &str, contact: &str, now: UnixMillis, ttl_ms: i64) -> Result<SlotDocument, DialerError> {
        self.check_holder(node, contact, now)?;
        let mut next = self.clone();
        next.lease = Some(Lease { node: node.to_string(), expires_at: now + ttl_ms });
        next.version += 1;
        Ok(next)
    }

    /// `node` frees the slot its call to `contact` held. A lapsed lease is still released by its holder (nobody
    /// else has written since); a slot already taken by another call is refused and left alone.
    pub fn release(&self, node: &str, contact: &str) -> Result<SlotDocument, DialerError> {
        match &self.lease {
            Some(lease) if lease.node == node && self.contact.as_deref() == Some(contact) => {
                let mut next = self.clone();
                next.lease = None;
                next.contact = None;
                next.version += 1;
                Ok(next)
            }
            _ => Err(DialerError::LeaseLost { node: node.to_string() }),
        }
    }

    /// The slot freed, if `node` holds it (lapsed or not): what a node restarting a campaign does with the slots
    /// its previous process left (nothing of that process is calling any more).
    pub fn free_own(&self, node: &str) -> Option<SlotDocument> {
        let lease = self.lease.as_ref()?;
        if lease.node != node {
            return None;
        }
        let mut next = self.clone();
        next.lease = None;
        next.contact = None;
        next.version += 1;
        Some(next)
    }

    fn check_holder(&self, node: &str, contact: &str, now: UnixMillis) -> Result<(), DialerError> {
        match &self.lease {
            Some(lease) if lease.node == node && lease.expires_at > now && self.contact.as_deref() == Some(contact) => {
                Ok(())
            }
            _ => Err(DialerError::LeaseLost { node: node.to_string() }),
        }
    }
}

/// The claims that would give `node` a slot of campaign `batch_id` for its call to `contact` at `now`, given the
/// campaign's slots as `stored` (any order, any numbers) and its current `limit`: none while `limit` or more
/// slots are held; else each free slot below `limit`, lowest first, to try in order.
pub fn plan_claim(
    batch_id: &str,
    stored: &[SlotDocument],
    limit: u32,
    node: &str,
    contact: &str,
    now: UnixMillis,
    ttl_ms: i64,
) -> Vec<SlotClaim> {
    let held = stored.iter().filter(|s| s.held(now)).count();
    if held >= limit as usize {
        return Vec::new();
    }
    let lease = Lease { node: node.to_string(), expires_at: now + ttl_ms };
    let mut plan = Vec::new();
    for slot in 0..limit {
        let claimed = |version| SlotDocument {
            batch_id: batch_id.to_string(),
            slot,
            lease: Some(lease.clone()),
            contact: Some(contact.to_string()),
            version,
        };
        match stored.iter().find(|s| s.slot == slot) {
            None => plan.push(SlotClaim::Insert(claimed(1))),
            Some(doc) if !doc.held(now) => {
                plan.push(SlotClaim::Replace { expected_version: doc.version, next: claimed(doc.version + 1) })
            }
            Some(_) => {}
        }
    }
    plan
}

/// A lease this node holds on a call, as far as it knows: when it lapses unless renewed. The node hangs the call
/// up when renewals keep failing (the store unreachable) before the lease can lapse, so that another node,
/// which may claim the contact once it lapsed, never calls while this call is still up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLease {
    expires_at: UnixMillis,
    ttl_ms: i64,
}

impl HeldLease {
    /// A lease of `ttl_ms` taken (or last renewed) at `now`.
    pub fn taken(now: UnixMillis, ttl_ms: i64) -> HeldLease {
        HeldLease { expires_at: now + ttl_ms, ttl_ms }
    }

    /// Renewed at `now`.
    pub fn renewed(&mut self, now: UnixMillis) {
        self.expires_at = now + self.ttl_ms;
    }

    /// When renewals are due: every third of the lease.
    pub fn renew_every(&self) -> i64 {
        (self.ttl_ms / 3).max(1)
    }

    /// Whether the call must be hung up at `now` because the lease could not be renewed: once less than a
    /// renewal interval is left (two renewals in a row failed), so the BYE leaves well before the lease lapses.
    pub fn must_hang_up(&self, now: UnixMillis) -> bool {
        now >= self.expires_at - self.renew_every()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 9_000;

    /// Applies a plan as a store would: the first claim whose condition holds is written.
    fn apply(store: &mut Vec<SlotDocument>, plan: Vec<SlotClaim>) -> Option<u32> {
        for claim in plan {
            match &claim {
                SlotClaim::Insert(doc) if !store.iter().any(|s| s.slot == doc.slot) => {
                    store.push(doc.clone());
                    return Some(doc.slot);
                }
                SlotClaim::Replace { expected_version, next } => {
                    if let Some(stored) =
                        store.iter_mut().find(|s| s.slot == next.slot && s.version == *expected_version)
                    {
                        *stored = next.clone();
                        return Some(next.slot);
                    }
                }
                SlotClaim::Insert(_) => {}
            }
        }
        None
    }

    #[test]
    fn two_nodes_never_hold_more_than_the_limit_together() {
        let mut store = Vec::new();
        let mut held = Vec::new();
        for (i, node) in ["a", "b", "a", "b", "a"].iter().enumerate() {
            let contact = format!("b1:{i}");
            let plan = plan_claim("b1", &store, 3, node, &contact, 1_000, TTL);
            held.push(apply(&mut store, plan));
        }
        assert_eq!(held, [Some(0), Some(1), Some(2), None, None]);
        // Two nodes that read the same state race for the same free slot: one wins, the other takes the next.
        let freed = store[1].release("b", "b1:1").unwrap();
        store[1] = freed;
        let snapshot = store.clone();
        let a = apply(&mut store, plan_claim("b1", &snapshot, 3, "a", "b1:5", 2_000, TTL));
        let b = apply(&mut store, plan_claim("b1", &snapshot, 3, "b", "b1:6", 2_000, TTL));
        assert_eq!((a, b), (Some(1), None), "the stale plan's only claim lost");
        assert_eq!(store.iter().filter(|s| s.held(2_000)).count(), 3);
    }

    #[test]
    fn a_dead_nodes_slots_lapse_with_its_lease_and_renewals_keep_them() {
        let mut store = Vec::new();
        for i in 0..3 {
            let plan = plan_claim("b1", &store, 3, "dead", &format!("c{i}"), 0, TTL);
            apply(&mut store, plan);
        }
        // The survivor renews nothing of the dead node's; its slots are taken at expiry, not before.
        assert!(plan_claim("b1", &store, 3, "b", "c9", TTL - 1, TTL).is_empty());
        let plan = plan_claim("b1", &store, 3, "b", "c9", TTL, TTL);
        assert_eq!(plan.len(), 3);
        assert_eq!(apply(&mut store, plan), Some(0));
        // The dead node, back, can neither renew nor release what is now another call's.
        assert!(store[0].renew("dead", "c0", TTL + 1, TTL).is_err());
        assert!(store[0].release("dead", "c0").is_err());
        // A renewed slot stays held past its first expiry.
        let renewed = store[0].renew("b", "c9", TTL + 5_000, TTL).unwrap();
        assert!(renewed.held(TTL * 2) && !renewed.held(TTL * 2 + 5_000));
        assert!(renewed.renew("b", "other", TTL + 6_000, TTL).is_err(), "held for another call");
        // A restarted node frees what its previous process held, live or not, and nobody else's.
        assert_eq!(renewed.free_own("dead"), None);
        let freed = renewed.free_own("b").unwrap();
        assert!(!freed.held(0) && freed.version == renewed.version + 1);
        assert_eq!(freed.free_own("b"), None);
    }

    #[test]
    fn a_lowered_limit_lets_higher_slots_finish_and_claims_none_above_it() {
        let mut store = Vec::new();
        for i in 0..5 {
            let plan = plan_claim("b1", &store, 5, "a", &format!("c{i}"), 0, TTL);
            apply(&mut store, plan);
        }
        // Limit 5 -> 2: five calls up, nothing claimed; as calls end, still nothing until fewer than 2 are up.
        assert!(plan_claim("b1", &store, 2, "a", "c5", 10, TTL).is_empty());
        for (slot, contact) in [(0, "c0"), (3, "c3"), (4, "c4")] {
            store[slot] = store[slot].release("a", contact).unwrap();
        }
        assert!(plan_claim("b1", &store, 2, "a", "c5", 10, TTL).is_empty(), "slots 1 and 2 still up");
        store[2] = store[2].release("a", "c2").unwrap();
        let plan = plan_claim("b1", &store, 2, "a", "c5", 10, TTL);
        assert_eq!(plan.iter().map(|c| c.document().slot).collect::<Vec<_>>(), [0], "slot 3 and 4 never again");
        // Raised to 4: the free slots below it, lowest first.
        let plan = plan_claim("b1", &store, 4, "a", "c5", 10, TTL);
        assert_eq!(plan.iter().map(|c| c.document().slot).collect::<Vec<_>>(), [0, 2, 3]);
        assert!(matches!(plan[0], SlotClaim::Replace { expected_version: 2, .. }));
    }

    #[test]
    fn slot_documents_round_trip_and_are_keyed_by_campaign() {
        let plan = plan_claim("b1", &[], 1, "a", "b1:2", 0, TTL);
        let doc = plan[0].document().clone();
        assert_eq!(doc.store_id(), "b1:0");
        assert_eq!(SlotDocument::prefix("b1"), "b1:");
        assert_eq!(SlotDocument::from_json(&doc.to_json()).unwrap(), doc);
        assert!(SlotDocument::from_json(&serde_json::json!({"slot": "x"})).is_err());
    }

    #[test]
    fn a_call_is_hung_up_once_renewals_failed_for_two_thirds_of_the_lease() {
        let mut lease = HeldLease::taken(0, TTL);
        assert_eq!(lease.renew_every(), 3_000);
        assert!(!lease.must_hang_up(5_999));
        lease.renewed(3_000);
        // Renewals at 6 s and 9 s fail (the store is unreachable): hang up at 9 s, 3 s before the lapse at 12 s.
        assert!(!lease.must_hang_up(8_999));
        assert!(lease.must_hang_up(9_000));
    }
}
