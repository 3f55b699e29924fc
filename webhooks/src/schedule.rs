//! The retry schedule, sans IO: deliveries go in, the ones due at a time passed in come out, each attempt's
//! outcome goes back in and the next attempt time (or the end) comes out. Exponential back-off from
//! [`RetryPolicy::first_delay_ms`] doubling to [`RetryPolicy::max_delay_ms`], with a jitter seeded by the
//! delivery id and attempt number (deterministic: the same delivery always waits the same, yet two
//! deliveries failing together spread out), until [`RetryPolicy::give_up_after_ms`] after the delivery was
//! created: then it is dead-lettered (kept in the log as `failed`, replayable by hand).

use std::collections::{BTreeMap, BTreeSet};

/// When to retry and when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt.
    pub first_delay_ms: u64,
    /// The longest wait between two attempts.
    pub max_delay_ms: u64,
    /// No attempt starts later than this after the delivery was created.
    pub give_up_after_ms: u64,
    /// Each wait is moved by up to this percentage either way (0 to 50).
    pub jitter_percent: u64,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min, ... up to 1 h between attempts, for 24 h: about 30 attempts.
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_delay_ms: 30_000,
            max_delay_ms: 3_600_000,
            give_up_after_ms: 24 * 3_600_000,
            jitter_percent: 20,
        }
    }
}

impl RetryPolicy {
    /// The wait after `failed_attempts` (1 or more) failed attempts of `delivery_id`.
    pub fn delay_ms(&self, delivery_id: &str, failed_attempts: u32) -> u64 {
        let doublings = failed_attempts.saturating_sub(1).min(40);
        let base = self.first_delay_ms.saturating_mul(1u64 << doublings).min(self.max_delay_ms).max(1);
        let jitter = self.jitter_percent.min(50);
        if jitter == 0 {
            return base;
        }
        // A value in [0, 2·span] from the seed, shifted to [-span, +span].
        let span = base * jitter / 100;
        let seed = mix(fnv1a(delivery_id.as_bytes()) ^ u64::from(failed_attempts));
        let offset = seed % (2 * span + 1);
        (base - span + offset).max(1)
    }

    /// When the next attempt starts after `failed_attempts` failures, the last one ending at `now_ms`, for a
    /// delivery created at `created_ms`; `None` when that is past the give-up time.
    pub fn next_attempt_ms(
        &self,
        delivery_id: &str,
        created_ms: u64,
        failed_attempts: u32,
        now_ms: u64,
    ) -> Option<u64> {
        let at = now_ms.saturating_add(self.delay_ms(delivery_id, failed_attempts));
        (at <= created_ms.saturating_add(self.give_up_after_ms)).then_some(at)
    }
}

/// FNV-1a, 64 bits: a stable hash of the delivery id (std's hasher is randomly keyed per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64's finaliser: spreads neighbouring seeds over the whole range.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A delivery waiting for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The delivery's id (also the `Voicera-Delivery` header).
    pub id: String,
    /// When it was created (Unix ms): the give-up clock starts here.
    pub created_ms: u64,
    /// When its next attempt is due (Unix ms).
    pub due_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
}

/// How one attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// Anything else: another status, a timeout, a refused connection.
    Failed,
    /// The endpoint answered 410 Gone: it wants no more deliveries.
    Gone,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Done: the endpoint has it.
    Delivered,
    /// Try again at this time (Unix ms).
    RetryAt(u64),
    /// Out of time: the delivery is dead-lettered (failed, kept in the log, replayable).
    DeadLetter,
    /// The endpoint is gone: the delivery stops and the endpoint should be disabled.
    EndpointGone,
}

/// The deliveries a worker is responsible for: pending ones by due time, and those being attempted.
#[derive(Debug, Default)]
pub struct Deliveries {
    policy: RetryPolicy,
    pending: BTreeMap<String, Pending>,
    /// (due, id): the order attempts are handed out in.
    by_due: BTreeSet<(u64, String)>,
    in_flight: BTreeMap<String, Pending>,
}

impl Deliveries {
    /// No deliveries yet, retried by `policy`.
    pub fn new(policy: RetryPolicy) -> Deliveries {
        Deliveries { policy, ..Deliveries::default() }
    }

    /// The policy retries follow.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Takes a delivery in; `false` (and nothing changes) when one with its id is already pending or being
    /// attempted, so an event handed in twice is still delivered once.
    pub fn enqueue(&mut self, pending: Pending) -> bool {
        if self.pending.contains_key(&pending.id) || self.in_flight.contains_key(&pending.id) {
            return false;
        }
        self.by_due.insert((pending.due_ms, pending.id.clone()));
        self.pending.insert(pending.id.clone(), pending);
        true
    }

    /// The deliveries due at `now_ms`, earliest first, now counted as being attempted (each attempt's
    /// number is its `attempts + 1`).
    pub fn due(&mut self, now_ms: u64) -> Vec<Pending> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.by_due.first() {
            if *at > now_ms {
                break;
            }
            let Some((_, id)) = self.by_due.pop_first() else { break };
            if let Some(pending) = self.pending.remove(&id) {
                self.in_flight.insert(id, pending.clone());
                due.push(pending);
            }
        }
        due
    }

    /// When the earliest pending delivery is due, for the driver's sleep.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.by_due.first().map(|(at, _)| *at)
    }

    /// How many deliveries are pending or being attempted.
    pub fn len(&self) -> usize {
        self.pending.len() + self.in_flight.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The outcome of the attempt of `id` that ended at `now_ms`, and what follows: a failure is pending
    /// again at its retry time. `None` for an id not being attempted (a late or duplicate outcome).
    pub fn outcome(&mut self, id: &str, outcome: Outcome, now_ms: u64) -> Option<Next> {
        let mut pending = self.in_flight.remove(id)?;
        pending.attempts = pending.attempts.saturating_add(1);
        let next = match outcome {
            Outcome::Delivered => Next::Delivered,
            Outcome::Gone => Next::EndpointGone,
            Outcome::Failed => {
                match self.policy.next_attempt_ms(&pending.id, pending.created_ms, pending.attempts, now_ms) {
                    Some(at) => Next::RetryAt(at),
                    None => Next::DeadLetter,
                }
            }
        };
        if let Next::RetryAt(at) = next {
            pending.due_ms = at;
            self.enqueue(pending);
        }
        Some(next)
    }

    /// Drops a delivery (another node took it over, or its endpoint was deleted); whether it was here.
    pub fn forget(&mut self, id: &str) -> bool {
        let pending = self.pending.remove(id);
        if let Some(p) = &pending {
            self.by_due.remove(&(p.due_ms, p.id.clone()));
        }
        pending.is_some() | self.in_flight.remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn pending(id: &str, at: u64) -> Pending {
        Pending { id: id.into(), created_ms: at, due_ms: at, attempts: 0 }
    }

    #[test]
    fn waits_double_within_the_jitter_and_stop_at_the_cap() {
        let policy = RetryPolicy::default();
        for n in 1..=20u32 {
            let base = (30_000u64 << (n - 1).min(30)).min(HOUR);
            let delay = policy.delay_ms("d-1", n);
            assert!(delay >= base * 80 / 100 && delay <= base * 120 / 100, "attempt {n}: {delay} vs {base}");
            // Deterministic: the same delivery and attempt always wait the same.
            assert_eq!(delay, policy.delay_ms("d-1", n));
        }
        // Jitter spreads deliveries that fail together.
        let delays: BTreeSet<u64> = (0..50).map(|i| policy.delay_ms(&format!("d-{i}"), 3)).collect();
        assert!(delays.len() > 40, "{delays:?}");
        let exact = RetryPolicy { jitter_percent: 0, ..policy };
        assert_eq!([1, 2, 3, 4].map(|n| exact.delay_ms("x", n)), [30_000, 60_000, 120_000, 240_000]);
        assert_eq!(exact.delay_ms("x", 60), HOUR, "no overflow for many attempts");
    }

    #[test]
    fn a_failing_endpoint_is_retried_for_24_hours_then_dead_lettered() {
        let mut deliveries = Deliveries::new(RetryPolicy::default());
        let start = 1_700_000_000_000;
        assert!(deliveries.enqueue(pending("d-1", start)));
        let mut now = start;
        let mut attempts = Vec::new();
        loop {
            let due = deliveries.due(now);
            assert_eq!(due.len(), 1, "one attempt due at {now}");
            attempts.push(now);
            // Each attempt takes 10 s (a timeout) before it fails.
            now += 10_000;
            match deliveries.outcome("d-1", Outcome::Failed, now) {
                Some(Next::RetryAt(at)) => {
                    assert!(at > now);
                    assert!(deliveries.due(at - 1).is_empty(), "nothing before the retry time");
                    assert_eq!(deliveries.next_due_ms(), Some(at));
                    now = at;
                }
                Some(Next::DeadLetter) => break,
                other => panic!("{other:?}"),
            }
        }
        let last = *attempts.last().unwrap();
        assert!(last <= start + 24 * HOUR, "no attempt after 24 h");
        assert!(last >= start + 22 * HOUR, "retried for about a day, last at {} h", (last - start) / HOUR);
        assert!((20..40).contains(&attempts.len()), "{} attempts", attempts.len());
        for pair in attempts.windows(2) {
            assert!(pair[1] - pair[0] <= HOUR * 12 / 10 + 10_000, "no wait beyond the cap");
        }
        assert!(deliveries.is_empty(), "a dead letter leaves the scheduler");
    }

    #[test]
    fn success_after_failures_ends_the_delivery_and_gone_stops_it() {
        let policy = RetryPolicy { first_delay_ms: 1_000, jitter_percent: 0, ..RetryPolicy::default() };
        let mut deliveries = Deliveries::new(policy);
        deliveries.enqueue(pending("a", 0));
        deliveries.enqueue(pending("b", 0));
        assert_eq!(deliveries.due(0).iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(deliveries.outcome("a", Outcome::Failed, 100), Some(Next::RetryAt(1_100)));
        assert_eq!(deliveries.outcome("b", Outcome::Gone, 100), Some(Next::EndpointGone));
        assert_eq!(deliveries.outcome("b", Outcome::Delivered, 100), None, "a late outcome changes nothing");
        let retry = deliveries.due(1_100);
        assert_eq!(retry, vec![Pending { id: "a".into(), created_ms: 0, due_ms: 1_100, attempts: 1 }]);
        assert_eq!(deliveries.outcome("a", Outcome::Failed, 1_200), Some(Next::RetryAt(3_200)));
        assert_eq!(deliveries.due(3_200).len(), 1);
        assert_eq!(deliveries.outcome("a", Outcome::Delivered, 3_300), Some(Next::Delivered));
        assert!(deliveries.is_empty());
        assert!(deliveries.due(u64::MAX).is_empty());
    }

    #[test]
    fn a_delivery_handed_in_twice_is_attempted_once() {
        let mut deliveries = Deliveries::new(RetryPolicy::default());
        assert!(deliveries.enqueue(pending("a", 5)));
        assert!(!deliveries.enqueue(pending("a", 5)));
        assert!(!deliveries.enqueue(Pending { due_ms: 0, ..pending("a", 5) }));
        let due = deliveries.due(10);
        assert_eq!(due.len(), 1);
        assert!(!deliveries.enqueue(pending("a", 5)), "not while it is being attempted");
        assert!(deliveries.due(10).is_empty());
        assert!(deliveries.forget("a"));
        assert!(!deliveries.forget("a"));
        deliveries.enqueue(pending("b", 50));
        assert!(deliveries.forget("b"));
        assert_eq!(deliveries.next_due_ms(), None);
    }
}
