//! Contact documents and their leases: how several nodes share one campaign without dialling anyone twice.
//!
//! Each contact is a `BatchContacts` document (id `"{batch_id}:{row_number}"`, the same key the import of an
//! original database uses). A node dials a contact only while it holds the contact's lease: its node id and an
//! expiry, written into the document. The node renews the lease while the call is up; a node that dies stops
//! renewing, and once the lease lapses another node may claim the contact. Its call died with it (the SIP user
//! agent and media run in the node's process), so the new claim cannot overlap a live call as long as the lease
//! lasts longer than the time a dead node's call can outlive it (the far end's session timer; give the lease at
//! least the renewal interval plus that margin).
//!
//! **What a call in flight on a dead node counts as.** The store cannot know how far that call got (it may have
//! been answered), so the attempt is recorded as `failed(node lost)` and counted under the campaign's `failed`
//! retry rule ([`ContactDocument::settle_lost`]): with `failed.max_attempts` 1 the contact is done as
//! `failed(node lost)` and nobody calls it again; with more, it is queued again after the rule's spacing,
//! counted from when the lease lapsed. An operator who must never risk a second call keeps `failed` at 1.
//!
//! These functions are pure: each takes a document as read and returns the document to write. Two nodes can
//! read the same document and both compute a claim, so the write must be conditional on the document not having
//! changed since the read: [`ContactDocument::version`] is bumped by every transition, and the store adapter
//! writes only if the stored version is still the one read (SQLite: `UPDATE … WHERE version = ?`; MongoDB:
//! `update_one({_id, version}, …)`). The loser of the race re-reads and finds the contact leased.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::campaign::RetryRule;
use crate::{DialerError, UnixMillis};

/// The outcome (and, when no retry is left, the disposition) of an attempt that died with its node.
pub const NODE_LOST: &str = "failed(node lost)";

/// A node's claim on a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The node holding it.
    pub node: String,
    /// When it lapses unless renewed.
    pub expires_at: UnixMillis,
}

/// Where a stored contact stands (the original's `status` values where they mean the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// Waiting for its first attempt or a retry.
    Queued,
    /// A node is dialling it (under a lease).
    Dialing,
    /// Finished; see the disposition.
    Done,
}

/// One attempt, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The node that placed it.
    pub node: String,
    /// When it started.
    pub started_at: UnixMillis,
    /// When its outcome was recorded (None while up).
    pub ended_at: Option<UnixMillis>,
    /// The outcome (`busy`, `failed(SIP 503)`, `failed(node lost)`…), None while up.
    pub outcome: Option<String>,
}

/// A contact in the store (`BatchContacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactDocument {
    /// The batch (campaign) it belongs to.
    pub batch_id: String,
    /// Its line in the uploaded file.
    pub row_number: usize,
    /// E.164.
    pub contact_number: String,
    /// The other columns: the `{{variables}}` (the original's `dynamic_fields`).
    pub dynamic_fields: BTreeMap<String, String>,
    /// Where it stands.
    pub status: ContactStatus,
    /// Its final disposition once done (`answered-human`, `dnc-skipped`…).
    pub disposition: Option<String>,
    /// Attempts started.
    pub attempts: u32,
    /// No attempt before this time (retry spacing).
    pub next_attempt_at: UnixMillis,
    /// The node dialling it, while dialling.
    pub lease: Option<Lease>,
    /// Every attempt.
    pub history: Vec<AttemptRecord>,
    /// Bumped by every transition; writes are conditional on it (see the module documentation).
    pub version: u64,
}

/// What a finished attempt leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Try again, not before this time.
    RetryAt(UnixMillis),
    /// Finished with this disposition.
    Done(String),
}

impl ContactDocument {
    /// A contact waiting for its first attempt.
    pub fn queued(batch_id: &str, row_number: usize, number: &str, fields: BTreeMap<String, String>) -> Self {
        ContactDocument {
            batch_id: batch_id.to_string(),
            row_number,
            contact_number: number.to_string(),
            dynamic_fields: fields,
            status: ContactStatus::Queued,
            disposition: None,
            attempts: 0,
            next_attempt_at: UnixMillis::MIN,
            lease: None,
            history: Vec::new(),
            version: 0,
        }
    }

    /// The store key: `"{batch_id}:{row_number}"`.
    pub fn store_id(&self) -> String {
        format!("{}:{}", self.batch_id, self.row_number)
    }

    /// The document as JSON for the store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A stored document.
    pub fn from_json(value: &serde_json::Value) -> Result<ContactDocument, DialerError> {
        ContactDocument::deserialize(value).map_err(|e| DialerError::Document(e.to_string()))
    }

    /// The lease held by someone at `now`, if any.
    fn live_lease(&self, now: UnixMillis) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.expires_at > now)
    }

    /// Whether a node may claim the contact at `now`: queued, due, and leased to nobody. (A contact left dialling
    /// under a lapsed lease must be settled by [`settle_lost`](Self::settle_lost) first.)
    pub fn claimable(&self, now: UnixMillis) -> bool {
        self.status == ContactStatus::Queued && self.next_attempt_at <= now && self.live_lease(now).is_none()
    }

    /// Whether the contact was left dialling by a node whose lease lapsed by `now` (its call died with it).
    pub fn lost(&self, now: UnixMillis) -> bool {
        self.status == ContactStatus::Dialing && self.live_lease(now).is_none()
    }

    /// Settles an attempt that died with its node (see the module documentation): the open attempt ends at `now`
    /// as `failed(node lost)`, and the contact is queued again `failed.spacing_ms` after `now` while
    /// `failed.max_attempts` allows another attempt, else done as `failed(node lost)`. Refused while the lease
    /// is live (its node may still be calling).
    pub fn settle_lost(&self, now: UnixMillis, failed: RetryRule) -> Result<ContactDocument, DialerError> {
        if let Some(lease) = self.live_lease(now) {
            return Err(DialerError::Leased { holder: lease.node.clone(), expires_at: lease.expires_at });
        }
        if self.status != ContactStatus::Dialing {
            return Err(DialerError::Document(format!(
                "contact {} is {:?}, not dialling",
                self.store_id(),
                self.status
            )));
        }
        let mut next = self.clone();
        if let Some(open) = next.history.last_mut().filter(|a| a.outcome.is_none()) {
            open.ended_at = Some(now);
            open.outcome = Some(NODE_LOST.into());
        }
        next.lease = None;
        if next.attempts < failed.max_attempts {
            next.status = ContactStatus::Queued;
            next.next_attempt_at = now.saturating_add(failed.spacing_ms);
        } else {
            next.status = ContactStatus::Done;
            next.disposition = Some(NODE_LOST.into());
        }
        next.version += 1;
        Ok(next)
    }

    /// `node` claims the contact for an attempt starting at `now`, leased until `now + ttl_ms`.
    pub fn claim(&self, node: &str, now: UnixMillis, ttl_ms: i64) -> Result<ContactDocument, DialerError> {
        if let Some(lease) = self.live_lease(now) {
            return Err(DialerError::Leased { holder: lease.node.clone(), expires_at: lease.expires_at });
        }
        if !self.claimable(now) {
            return Err(DialerError::Document(format!(
                "contact {} is {:?} (next attempt at {})",
                self.store_id(),
                self.status,
                self.next_attempt_at
            )));
        }
        let mut next = self.clone();
        next.status = ContactStatus::Dialing;
        next.attempts += 1;
        next.lease = Some(Lease { node: node.to_string(), expires_at: now + ttl_ms });
        next.history.push(AttemptRecord { node: node.to_string(), started_at: now, ended_at: None, outcome: None });
        next.version += 1;
        Ok(next)
    }

    /// `node` extends its lease to `now + ttl_ms`. Fails if the lease lapsed or another node holds the contact:
    /// the node must then treat its call as not its own to report (and should hang it up).
    pub fn renew(&self, node: &str, now: UnixMillis, ttl_ms: i64) -> Result<ContactDocument, DialerError> {
        self.check_holder(node, now)?;
        let mut next = self.clone();
        next.lease = Some(Lease { node: node.to_string(), expires_at: now + ttl_ms });
        next.version += 1;
        Ok(next)
    }

    /// `node` records its attempt's `outcome` and releases the lease.
    pub fn finish(
        &self,
        node: &str,
        outcome: &str,
        after: AfterAttempt,
        now: UnixMillis,
    ) -> Result<ContactDocument, DialerError> {
        self.check_holder(node, now)?;
        let mut next = self.clone();
        if let Some(open) = next.history.last_mut() {
            open.ended_at = Some(now);
            open.outcome = Some(outcome.to_string());
        }
        next.lease = None;
        match after {
            AfterAttempt::RetryAt(at) => {
                next.status = ContactStatus::Queued;
                next.next_attempt_at = at;
            }
            AfterAttempt::Done(disposition) => {
                next.status = ContactStatus::Done;
                next.disposition = Some(disposition);
            }
        }
        next.version += 1;
        Ok(next)
    }

    /// `node` holds an unexpired lease on the contact.
    fn check_holder(&self, node: &str, now: UnixMillis) -> Result<(), DialerError> {
        match &self.lease {
            Some(lease) if lease.node == node && lease.expires_at > now && self.status == ContactStatus::Dialing => {
                Ok(())
            }
            _ => Err(DialerError::LeaseLost { node: node.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 30_000;

    fn contact() -> ContactDocument {
        let fields = BTreeMap::from([("name".to_string(), "Asha".to_string())]);
        ContactDocument::queued("b1", 2, "+918000000001", fields)
    }

    #[test]
    fn one_node_at_a_time() {
        let doc = contact();
        let a = doc.claim("node-a", 1_000, TTL).unwrap();
        assert_eq!((a.status, a.attempts, a.version), (ContactStatus::Dialing, 1, 1));
        assert_eq!(
            a.claim("node-b", 2_000, TTL),
            Err(DialerError::Leased { holder: "node-a".into(), expires_at: 31_000 })
        );
        // Renewal keeps others out past the first expiry.
        let a = a.renew("node-a", 20_000, TTL).unwrap();
        assert!(matches!(a.claim("node-b", 40_000, TTL), Err(DialerError::Leased { .. })));
        assert_eq!(a.renew("node-b", 21_000, TTL), Err(DialerError::LeaseLost { node: "node-b".into() }));
        let done = a.finish("node-a", "answered-human", AfterAttempt::Done("answered-human".into()), 45_000).unwrap();
        assert_eq!((done.status, done.lease.clone(), done.version), (ContactStatus::Done, None, 3));
        assert_eq!(done.history[0].outcome.as_deref(), Some("answered-human"));
        assert!(!done.claimable(i64::MAX));
        assert!(done.claim("node-b", 100_000, TTL).is_err());
    }

    #[test]
    fn a_dead_nodes_contact_is_taken_over_once_its_lease_lapses_if_the_failure_rule_allows() {
        let retry_once = RetryRule { max_attempts: 2, spacing_ms: 5_000 };
        let a = contact().claim("node-a", 1_000, TTL).unwrap();
        // Renewed at 20 s: live until 50 s.
        let a = a.renew("node-a", 20_000, TTL).unwrap();
        assert!(!a.lost(49_999) && a.lost(50_000));
        assert!(matches!(a.settle_lost(49_999, retry_once), Err(DialerError::Leased { expires_at: 50_000, .. })));
        assert!(!a.claimable(60_000), "a lapsed lease is settled before anyone claims");
        assert!(a.claim("node-b", 60_000, TTL).is_err());
        let settled = a.settle_lost(50_000, retry_once).unwrap();
        assert_eq!((settled.status, settled.lease.clone(), settled.attempts), (ContactStatus::Queued, None, 1));
        assert_eq!(settled.history[0].outcome.as_deref(), Some(NODE_LOST));
        assert_eq!(settled.history[0].ended_at, Some(50_000));
        // The failure rule's spacing, from the lapse.
        assert!(!settled.claimable(54_999));
        let b = settled.claim("node-b", 55_000, TTL).unwrap();
        assert_eq!((b.attempts, b.history.len()), (2, 2));
        assert_eq!(b.history[1].node, "node-b");
        // The dead node, back, can neither renew nor report.
        assert_eq!(b.renew("node-a", 56_000, TTL), Err(DialerError::LeaseLost { node: "node-a".into() }));
        assert!(b.finish("node-a", "busy", AfterAttempt::RetryAt(0), 56_000).is_err());
        assert!(b.settle_lost(56_000, retry_once).is_err(), "node-b's lease is live");
    }

    #[test]
    fn a_dead_nodes_contact_without_a_retry_left_is_done_as_node_lost() {
        let a = contact().claim("node-a", 1_000, TTL).unwrap();
        let settled = a.settle_lost(31_000, RetryRule::NEVER).unwrap();
        assert_eq!(settled.status, ContactStatus::Done);
        assert_eq!(settled.disposition.as_deref(), Some(NODE_LOST));
        assert!(!settled.claimable(i64::MAX));
        assert!(settled.settle_lost(40_000, RetryRule::NEVER).is_err(), "settled once");
        let queued = contact();
        assert!(queued.settle_lost(0, RetryRule::NEVER).is_err(), "only a dialling contact is lost");
    }

    #[test]
    fn retries_wait_for_their_time() {
        let a = contact().claim("node-a", 0, TTL).unwrap();
        let queued = a.finish("node-a", "busy", AfterAttempt::RetryAt(600_000), 10_000).unwrap();
        assert_eq!((queued.status, queued.lease.clone()), (ContactStatus::Queued, None));
        assert!(!queued.claimable(599_999));
        assert!(queued.claim("node-b", 599_999, TTL).is_err());
        let b = queued.claim("node-b", 600_000, TTL).unwrap();
        assert_eq!(b.history.len(), 2);
        assert_eq!(b.history[0].outcome.as_deref(), Some("busy"));
    }

    #[test]
    fn a_late_report_after_the_lease_lapsed_is_refused() {
        let a = contact().claim("node-a", 0, TTL).unwrap();
        assert!(a.finish("node-a", "busy", AfterAttempt::RetryAt(0), TTL).is_err());
    }

    #[test]
    fn documents_round_trip_through_json() {
        let a = contact().claim("node-a", 5, TTL).unwrap();
        let json = a.to_json();
        assert_eq!(json["status"], "dialing");
        assert_eq!(json["dynamic_fields"]["name"], "Asha");
        assert_eq!(json["lease"]["node"], "node-a");
        assert_eq!(ContactDocument::from_json(&json), Ok(a.clone()));
        assert_eq!(a.store_id(), "b1:2");
        assert!(matches!(
            ContactDocument::from_json(&serde_json::json!({"batch_id": 1})),
            Err(DialerError::Document(_))
        ));
    }
}
