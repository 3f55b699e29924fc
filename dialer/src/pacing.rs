//! Campaign-wide pacing: how `calls_per_second` holds across every node dialling a campaign.
//!
//! Each node's [`Campaign`](crate::campaign::Campaign) keeps its own starts under the rate; this keeps the sum
//! under it. A campaign has one store document (`campaign_pacing`, id = batch id) holding the earliest time
//! the next call may start, the "theoretical arrival time" of the generic cell-rate algorithm (a token bucket
//! told as one number).
//!
//! **Order: the contact and its slot first, then the start.** A start reserved for a contact another node had
//! just leased would be lost: nobody calls in it (two nodes at 4 calls a second reached about 2). So a node
//!
//! 1. looks at the document ([`claim_from`]): while the next start is more than [`CLAIM_LEAD_MS`] away it
//!    claims nothing and waits;
//! 2. takes a live-call slot ([`crate::slots`]) and the contact's lease ([`crate::lease`]), each by a
//!    conditional write of its own: losing either race costs no start;
//! 3. only then reserves its start ([`reserve_start`]): the later of the stored time and now, the document
//!    moved on by one interval (`1 / calls_per_second`) with a compare-and-set on [`PacingDocument::version`].
//!    Of two nodes reserving from the same read one write wins; the loser reads again and reserves the next
//!    start. Every reserved start is used: the node holds what it needs to dial, and places the call at its
//!    reserved start (or at once, if the claims took longer).
//!
//! Looking [`CLAIM_LEAD_MS`] ahead lets the claims' store round trips happen before the start instead of
//! delaying it, so a campaign paced by its rate reaches it. So however many nodes dial, reserved starts are at
//! least an interval apart ([`BURST`] of one), and any one-second window `[t, t + 1 s)` holds at most
//! `calls_per_second` of them. A reserved start is at most a lead away, plus an interval for each other node
//! that looked at the same time (each of them reserves one start first), so a claimed contact and its slot
//! wait little for their call.
//!
//! Times are microseconds (an interval of 1/3 s is not a whole number of milliseconds) so that rounding does
//! not add up over a campaign; the interval is rounded up, so that rounding never adds a start. Functions here
//! are pure; the runner does the reads and writes.

use serde::{Deserialize, Serialize};

use crate::{DialerError, UnixMillis};

/// Starts one node may make back to back after an idle spell: one. Every reserved start is at least an
/// interval after the one before, campaign-wide, so any one-second window `[t, t + 1 s)` holds at most
/// `calls_per_second` starts (`calls_per_second + 1` if the window is closed at both ends).
pub const BURST: u32 = 1;

/// How long before the campaign's next start a node may claim a contact and a slot for it: longer than the
/// claims' few store round trips take, so the start is not delayed by them; short, as the contact and its slot
/// are held meanwhile with no call up.
pub const CLAIM_LEAD_MS: UnixMillis = 100;

/// A campaign's call-rate state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacingDocument {
    /// The batch (campaign) it paces.
    pub batch_id: String,
    /// The earliest start the last reservation left for the next one, in Unix microseconds.
    pub next_at_us: i64,
    /// Bumped by every reservation; writes are conditional on it.
    pub version: u64,
}

/// A write that gives this node the start it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaceClaim {
    /// The campaign has no pacing document yet: insert it only if still absent.
    Insert(PacingDocument),
    /// Replace the document only if its stored version is still `expected_version`.
    Replace {
        /// The version read.
        expected_version: u64,
        /// The document after this start.
        next: PacingDocument,
    },
}

impl PaceClaim {
    /// The document this claim writes.
    pub fn document(&self) -> &PacingDocument {
        match self {
            PaceClaim::Insert(doc) | PaceClaim::Replace { next: doc, .. } => doc,
        }
    }

    /// The version the write is conditional on (None: insert if absent).
    pub fn expected_version(&self) -> Option<u64> {
        match self {
            PaceClaim::Insert(_) => None,
            PaceClaim::Replace { expected_version, .. } => Some(*expected_version),
        }
    }
}

/// A start reserved for a call whose contact and slot the node holds: the write that reserves it, and when
/// the call starts once the write is stored (if it is not, read again and reserve again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The conditional write.
    pub claim: PaceClaim,
    /// The reserved start, Unix milliseconds (rounded up): now, or a little later.
    pub start_at: UnixMillis,
}

impl PacingDocument {
    /// A stored document.
    pub fn from_json(value: &serde_json::Value) -> Result<PacingDocument, DialerError> {
        PacingDocument::deserialize(value).map_err(|e| DialerError::Document(e.to_string()))
    }

    /// The document as JSON for the store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The interval between starts at `calls_per_second`, in microseconds, rounded up (at least 1).
pub fn interval_us(calls_per_second: u32) -> i64 {
    let rate = i64::from(calls_per_second.max(1));
    (1_000_000 + rate - 1) / rate
}

/// Microseconds as milliseconds, rounded up: a start is never made earlier than reserved.
fn ceil_ms(us: i64) -> UnixMillis {
    us.div_euclid(1000).saturating_add(i64::from(us.rem_euclid(1000) > 0))
}

/// Whether a node may claim a contact (and a slot) at `now` for the campaign's next start, given its
/// `stored` pacing document (None: never written): `None` when it may (the next start is at most
/// [`CLAIM_LEAD_MS`] away), else the time from which it may. A read, never a write: nothing is reserved.
pub fn claim_from(stored: Option<&PacingDocument>, now: UnixMillis) -> Option<UnixMillis> {
    let next_start = ceil_ms(stored?.next_at_us);
    let from = next_start.saturating_sub(CLAIM_LEAD_MS);
    (from > now).then_some(from)
}

/// The next start of campaign `batch_id` at `calls_per_second`, reserved at `now` for a call whose contact and
/// slot the node holds, given its `stored` pacing document (None: never written): the later of the stored
/// time and `now`. A stored document whose values would overflow is corrupt (never wrapped into an old time
/// or version).
pub fn reserve_start(
    batch_id: &str,
    stored: Option<&PacingDocument>,
    calls_per_second: u32,
    now: UnixMillis,
) -> Result<Reservation, DialerError> {
    let interval = interval_us(calls_per_second);
    let now_us = now.saturating_mul(1000);
    let corrupt = |what: &str| DialerError::Document(format!("campaign {batch_id}'s pacing {what} is out of range"));
    let (start_us, version) = match stored {
        None => (now_us, 1),
        Some(doc) => (doc.next_at_us.max(now_us), doc.version.checked_add(1).ok_or_else(|| corrupt("version"))?),
    };
    let next = PacingDocument {
        batch_id: batch_id.to_string(),
        next_at_us: start_us.checked_add(interval).ok_or_else(|| corrupt("time"))?,
        version,
    };
    let claim = match stored {
        None => PaceClaim::Insert(next),
        Some(doc) => PaceClaim::Replace { expected_version: doc.version, next },
    };
    Ok(Reservation { claim, start_at: ceil_ms(start_us) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store holding one pacing document, written as the real ones are (insert-if-absent, compare-and-set).
    #[derive(Default)]
    struct OneDocument(Option<PacingDocument>);

    impl OneDocument {
        fn write(&mut self, claim: &PaceClaim) -> bool {
            let ok = match (&self.0, claim.expected_version()) {
                (None, None) => true,
                (Some(doc), Some(version)) => doc.version == version,
                _ => false,
            };
            if ok {
                self.0 = Some(claim.document().clone());
            }
            ok
        }
    }

    /// `nodes` nodes, each holding a contact and a slot whenever pacing lets it claim them (every millisecond
    /// otherwise), reserving on one virtual clock: the starts they reserved together.
    fn run_nodes(nodes: usize, rate: u32, until: UnixMillis, stale_reads: bool) -> Vec<UnixMillis> {
        let mut store = OneDocument::default();
        let mut wake = vec![0; nodes];
        let mut starts = Vec::new();
        for now in 0..until {
            // With `stale_reads`, every node reads the store before any writes: they race on one version.
            let snapshot = store.0.clone();
            for wake_at in wake.iter_mut() {
                if *wake_at > now {
                    continue;
                }
                let read = if stale_reads { snapshot.clone() } else { store.0.clone() };
                if let Some(from) = claim_from(read.as_ref(), now) {
                    assert!(from > now, "a wait ends in the future");
                    *wake_at = from;
                    continue;
                }
                // The contact and slot are held: reserve until a write lands (a lost race reads again).
                let mut read = read;
                loop {
                    let reservation = reserve_start("b1", read.as_ref(), rate, now).unwrap();
                    assert!(reservation.start_at >= now);
                    if store.write(&reservation.claim) {
                        starts.push(reservation.start_at);
                        break;
                    }
                    read = store.0.clone();
                }
            }
        }
        starts.sort_unstable();
        starts
    }

    /// The most starts in any window `[t, t + span)`.
    fn most_in(starts: &[UnixMillis], span: UnixMillis) -> usize {
        (0..starts.len()).map(|i| starts[i..].iter().take_while(|t| **t < starts[i] + span).count()).max().unwrap_or(0)
    }

    #[test]
    fn nodes_together_reserve_no_more_than_the_campaign_rate_and_reach_it() {
        for nodes in 1..=3 {
            for rate in [1, 3, 7, 20, 100] {
                for stale_reads in [false, true] {
                    let starts = run_nodes(nodes, rate, 10_000, stale_reads);
                    let most = most_in(&starts, 1000);
                    assert!(most <= rate as usize, "{nodes} nodes, rate {rate}: {most} starts in one second");
                    // Reached: ten seconds give ten seconds' worth, from the first start on.
                    let in_ten = starts.iter().filter(|t| **t < starts[0] + 10_000).count() as i64;
                    assert!(in_ten >= 10 * i64::from(rate) - 1, "{nodes} nodes, rate {rate}: {in_ten} in 10 s");
                    // Nobody reserves further ahead than the lead and one start per node.
                    let ahead = starts.last().unwrap() - 10_000;
                    assert!(ahead <= CLAIM_LEAD_MS + nodes as i64 * interval_us(rate) / 1000 + 1, "{ahead} ms ahead");
                }
            }
        }
    }

    #[test]
    fn starts_are_an_interval_apart_and_claims_wait_until_the_lead() {
        assert_eq!(interval_us(3), 333_334, "rounded up: three intervals are never under a second");
        assert_eq!(interval_us(100), 10_000);
        // Nothing stored: claim, and the first start is now.
        assert_eq!(claim_from(None, 10_000), None);
        let first = reserve_start("b1", None, 3, 10_000).unwrap();
        let doc = PacingDocument { batch_id: "b1".into(), next_at_us: 10_333_334, version: 1 };
        assert_eq!(first, Reservation { claim: PaceClaim::Insert(doc.clone()), start_at: 10_000 });
        // The next start is at 10 333.334 ms: a node claims a contact from 100 ms before (rounded up) ...
        assert_eq!(claim_from(Some(&doc), 10_100), Some(10_234));
        assert_eq!(claim_from(Some(&doc), 10_234), None);
        // ... and reserves the start itself, not now: the claims' time is not lost from the rate.
        let second = reserve_start("b1", Some(&doc), 3, 10_250).unwrap();
        assert_eq!((second.start_at, second.claim.expected_version()), (10_334, Some(1)));
        assert_eq!(second.claim.document().next_at_us, 10_666_668);
        // A late reservation counts from when it was made: missed starts are not caught up on.
        let late = reserve_start("b1", Some(second.claim.document()), 3, 11_000).unwrap();
        assert_eq!((late.start_at, late.claim.document().next_at_us), (11_000, 11_333_334));
        // After a minute idle, one start at once, then the interval again.
        let idle = reserve_start("b1", Some(late.claim.document()), 3, 70_000).unwrap();
        assert_eq!((idle.start_at, idle.claim.document().next_at_us), (70_000, 70_333_334));
        // A raised rate applies from the next reservation.
        let fast = reserve_start("b1", Some(idle.claim.document()), 100, 70_000).unwrap();
        assert_eq!((fast.start_at, fast.claim.document().next_at_us), (70_334, 70_343_334));
    }

    #[test]
    fn pacing_documents_round_trip() {
        let doc = PacingDocument { batch_id: "b1".into(), next_at_us: 1_700_000_000_123_456, version: 7 };
        assert_eq!(PacingDocument::from_json(&doc.to_json()).unwrap(), doc);
        assert!(PacingDocument::from_json(&serde_json::json!({"batch_id": 3})).is_err());
    }

    #[test]
    fn a_pacing_document_out_of_range_is_corrupt_not_wrapped() {
        let at = |next_at_us, version| PacingDocument { batch_id: "b1".into(), next_at_us, version };
        assert!(reserve_start("b1", Some(&at(i64::MIN, 1)), 3, 10_000).is_ok());
        assert_eq!(claim_from(Some(&at(i64::MIN, 1)), 10_000), None);
        assert!(matches!(reserve_start("b1", Some(&at(i64::MAX, 1)), 3, 10_000), Err(DialerError::Document(_))));
        assert_eq!(claim_from(Some(&at(i64::MAX, 1)), 10_000), Some(i64::MAX / 1000 + 1 - CLAIM_LEAD_MS));
        assert!(matches!(reserve_start("b1", Some(&at(0, u64::MAX)), 3, 10_000), Err(DialerError::Document(_))));
        // A clock at its limit saturates rather than wraps into the past (and its next start overflows).
        assert!(matches!(reserve_start("b1", None, 3, i64::MAX), Err(DialerError::Document(_))));
    }
}
