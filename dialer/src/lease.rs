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
//! These functions are pure: each takes a document as read and returns the document to write. Two nodes can
//! read the same document and both compute a claim, so the write must be conditional on the document not having
//! changed since the read: [`ContactDocument::version`] is bumped by every transition, and the store adapter
//! writes only if the stored version is still the one read (SQLite: `UPDATE … WHERE version = ?`; MongoDB:
//! `update_one({_id, version}, …)`). The loser of the race re-reads and finds the contact leased.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DialerError, UnixMillis};

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

    /// Whether `node` may claim the contact at `now`: queued and due, or dialling under a lapsed lease.
    pub fn claimable(&self, now: UnixMillis) -> bool {
        match self.status {
            ContactStatus::Queued => self.next_attempt_at <= now && self.live_lease(now).is_none(),
            ContactStatus::Dialing => self.live_lease(now).is_none(),
            ContactStatus::Done => false,
        }
    }

    /// `node` claims the contact for an attempt starting at `now`, leased until `now + ttl_ms`. A contact left
    /// dialling by a node whose lease lapsed has that attempt recorded as `failed(node lost)` first.
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
        if let Some(open) = next.history.last_mut().filter(|a| a.outcome.is_none()) {
            open.ended_at = Some(now);
            open.outcome = Some("failed(node lost)".into());
        }
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
    fn a_dead_nodes_contact_is_taken_over_once_its_lease_lapses() {
        let a = contact().claim("node-a", 1_000, TTL).unwrap();
        assert!(!a.claimable(30_999));
        assert!(a.claimable(31_000));
        let b = a.claim("node-b", 31_000, TTL).unwrap();
        assert_eq!(b.attempts, 2);
        assert_eq!(b.history[0].outcome.as_deref(), Some("failed(node lost)"));
        assert_eq!(b.history[1].node, "node-b");
        // The dead node, back, can neither renew nor report.
        assert_eq!(b.renew("node-a", 32_000, TTL), Err(DialerError::LeaseLost { node: "node-a".into() }));
        assert!(b.finish("node-a", "busy", AfterAttempt::RetryAt(0), 32_000).is_err());
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
