//! Campaign-wide pacing: how `calls_per_second` holds across every node dialling a campaign.
//!
//! Each node's [`Campaign`](crate::campaign::Campaign) keeps its own starts under the rate; this keeps the sum
//! under it. A campaign has one store document (`campaign_pacing`, id = batch id) holding the earliest time
//! the next call may start, the "theoretical arrival time" of the generic cell-rate algorithm (a token bucket
//! told as one number). A node about to start a call claims a start: if the time has come it moves the
//! document on by one interval (`1 / calls_per_second`) with a compare-and-set on [`PacingDocument::version`];
//! otherwise it waits until then. Of two nodes claiming with the same read one write wins; the loser reads
//! again. So however many nodes dial, starts are at least an interval apart, except for a burst of
//! [`BURST`] starts after an idle spell.
//!
//! Times are microseconds (an interval of 1/3 s is not a whole number of milliseconds) so that rounding does
//! not add up over a campaign. Functions here are pure; the runner does the reads and writes.

use serde::{Deserialize, Serialize};

use crate::{DialerError, UnixMillis};

/// Starts one node may make back to back after an idle spell: one. Every start is then at least an interval
/// after the one before, campaign-wide, so any one-second window holds at most `calls_per_second + 1` starts
/// (a window that begins just at a start and ends just after its `rate`-th successor).
pub const BURST: u32 = 1;

/// A campaign's call-rate state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacingDocument {
    /// The batch (campaign) it paces.
    pub batch_id: String,
    /// The earliest start the last claim left for the next one, in Unix microseconds (before the tolerance of
    /// a burst is taken off).
    pub next_at_us: i64,
    /// Bumped by every claim; writes are conditional on it.
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

/// What a node may do about the next start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pace {
    /// Start the call once this write is stored (if it is not, read again and plan again).
    Start(PaceClaim),
    /// Too soon: no start before this time (Unix milliseconds, rounded up).
    WaitUntil(UnixMillis),
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

/// The interval between starts at `calls_per_second`, in microseconds (at least 1).
pub fn interval_us(calls_per_second: u32) -> i64 {
    1_000_000 / i64::from(calls_per_second.max(1))
}

/// Whether campaign `batch_id` may start a call at `now` at `calls_per_second`, given its `stored` pacing
/// document (None: never written): the write that takes the start, or when to ask again. A stored document
/// whose values would overflow is corrupt (never wrapped into an old time or version).
pub fn plan_start(
    batch_id: &str,
    stored: Option<&PacingDocument>,
    calls_per_second: u32,
    now: UnixMillis,
) -> Result<Pace, DialerError> {
    let interval = interval_us(calls_per_second);
    let now_us = now.saturating_mul(1000);
    let tolerance = interval.saturating_mul(i64::from(BURST.saturating_sub(1)));
    let Some(doc) = stored else {
        let next =
            PacingDocument { batch_id: batch_id.to_string(), next_at_us: now_us.saturating_add(interval), version: 1 };
        return Ok(Pace::Start(PaceClaim::Insert(next)));
    };
    let corrupt = |what: &str| DialerError::Document(format!("campaign {batch_id}'s pacing {what} is out of range"));
    let earliest = doc.next_at_us.checked_sub(tolerance).ok_or_else(|| corrupt("time"))?;
    if earliest > now_us {
        // Rounded up: waking a millisecond early would only find it too soon again.
        return Ok(Pace::WaitUntil(earliest.div_euclid(1000).saturating_add(i64::from(earliest.rem_euclid(1000) > 0))));
    }
    let next = PacingDocument {
        batch_id: batch_id.to_string(),
        next_at_us: doc.next_at_us.max(now_us).checked_add(interval).ok_or_else(|| corrupt("time"))?,
        version: doc.version.checked_add(1).ok_or_else(|| corrupt("version"))?,
    };
    Ok(Pace::Start(PaceClaim::Replace { expected_version: doc.version, next }))
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

    /// `nodes` nodes, each asking for a start whenever it has a contact (every millisecond), on one virtual
    /// clock: the starts they get together.
    fn run_nodes(nodes: usize, rate: u32, until: UnixMillis, stale_reads: bool) -> Vec<(UnixMillis, usize)> {
        let mut store = OneDocument::default();
        let mut wake = vec![0; nodes];
        let mut starts = Vec::new();
        for now in 0..until {
            // With `stale_reads`, every node reads the store before any writes: they race on one version.
            let snapshot = store.0.clone();
            for node in 0..nodes {
                if wake[node] > now {
                    continue;
                }
                let read = if stale_reads { snapshot.clone() } else { store.0.clone() };
                match plan_start("b1", read.as_ref(), rate, now).unwrap() {
                    Pace::Start(claim) => {
                        if store.write(&claim) {
                            starts.push((now, node));
                        }
                    }
                    Pace::WaitUntil(at) => {
                        assert!(at > now, "a wait ends in the future");
                        wake[node] = at;
                    }
                }
            }
        }
        starts
    }

    /// The most starts in any window `[t, t + span)`.
    fn most_in(starts: &[(UnixMillis, usize)], span: UnixMillis) -> usize {
        starts.iter().map(|(t, _)| starts.iter().filter(|(u, _)| *u >= *t && *u < t + span).count()).max().unwrap_or(0)
    }

    #[test]
    fn three_nodes_together_start_no_more_than_the_campaign_rate() {
        for rate in [1, 3, 5, 20] {
            for stale_reads in [false, true] {
                let starts = run_nodes(3, rate, 10_000, stale_reads);
                let most = most_in(&starts, 1000);
                assert!(most <= (rate + BURST) as usize, "rate {rate}: {most} starts in one second");
                // ... and the rate is reached: ten seconds give ten seconds' worth (give or take the edges).
                let total = starts.len() as i64;
                assert!((total - 10 * i64::from(rate)).abs() <= 1, "rate {rate}: {total} starts in 10 s");
            }
        }
    }

    #[test]
    fn starts_are_an_interval_apart_and_an_idle_spell_gives_one_burst() {
        let interval = interval_us(3);
        assert_eq!(interval, 333_333);
        let Pace::Start(first) = plan_start("b1", None, 3, 10_000).unwrap() else { panic!("the first start is free") };
        assert_eq!(first, PaceClaim::Insert(PacingDocument { batch_id: "b1".into(), next_at_us: 10_333_333, version: 1 }));
        let doc = first.document().clone();
        // Too soon: wait until the interval is over (rounded up to the millisecond).
        assert_eq!(plan_start("b1", Some(&doc), 3, 10_100).unwrap(), Pace::WaitUntil(10_334));
        let Pace::Start(second) = plan_start("b1", Some(&doc), 3, 10_334).unwrap() else { panic!("due") };
        assert_eq!(second.expected_version(), Some(1));
        // A late claim counts from when it was made: missed starts are not caught up on (never over the rate).
        assert_eq!(second.document().next_at_us, 10_667_333);
        // After a minute idle, one start at once, then the interval again.
        let idle = second.document().clone();
        let Pace::Start(after_idle) = plan_start("b1", Some(&idle), 3, 70_000).unwrap() else { panic!("idle") };
        assert_eq!(after_idle.document().next_at_us, 70_333_333);
        assert_eq!(plan_start("b1", Some(after_idle.document()), 3, 70_000).unwrap(), Pace::WaitUntil(70_334));
        // A raised rate applies from the next claim.
        assert_eq!(plan_start("b1", Some(after_idle.document()), 100, 70_000).unwrap(), Pace::WaitUntil(70_334));
        let Pace::Start(fast) = plan_start("b1", Some(after_idle.document()), 100, 70_334).unwrap() else { panic!("due") };
        assert_eq!(fast.document().next_at_us, 70_344_000);
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
        // (With a burst above one, a time at the bottom of the range would be too: `next_at_us - tolerance`.)
        assert!(matches!(plan_start("b1", Some(&at(i64::MIN, 1)), 3, 10_000), Ok(Pace::Start(_))));
        assert!(matches!(plan_start("b1", Some(&at(i64::MAX, 1)), 3, i64::MAX), Err(DialerError::Document(_))));
        assert!(matches!(plan_start("b1", Some(&at(0, u64::MAX)), 3, 10_000), Err(DialerError::Document(_))));
        // A clock at its limit saturates rather than wraps into the past.
        assert!(matches!(plan_start("b1", None, 3, i64::MAX), Ok(Pace::Start(_))));
    }
}
