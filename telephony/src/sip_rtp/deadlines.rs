//! The signalling loop's own timing decisions, told the time rather than reading the clock: when an unanswered
//! outgoing INVITE is cancelled, when the loop must wake next, which calls' session timers ran out (RFC 4028), and
//! when "hang up every call" has waited long enough for its BYEs. The loop reads the clock once per turn and
//! passes it in; tests pass instants of their own.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::media::CallKey;

/// How long the loop sleeps when nothing is scheduled (it wakes on every message anyway).
const IDLE_WAKE: Duration = Duration::from_secs(3600);
/// How long a hang-up of every call waits for its BYE transactions to complete.
pub(super) const BYE_GRACE: Duration = Duration::from_secs(2);

/// Ring timeouts of outgoing INVITEs (by their transaction key `K`), earliest first.
pub(super) struct RingDeadlines<K> {
    by_time: BTreeMap<(Instant, K), ()>,
}

impl<K> Default for RingDeadlines<K> {
    fn default() -> Self {
        RingDeadlines { by_time: BTreeMap::new() }
    }
}

impl<K: Ord + Clone> RingDeadlines<K> {
    /// The INVITE `key`, sent at `now`, is cancelled if still unanswered after `ring_timeout`.
    pub(super) fn start(&mut self, key: K, ring_timeout: Duration, now: Instant) {
        self.stop(&key);
        self.by_time.insert((now + ring_timeout, key), ());
    }

    /// The INVITE `key` got its final response (or was abandoned): no cancel.
    pub(super) fn stop(&mut self, key: &K) {
        self.by_time.retain(|(_, k), _| k != key);
    }

    /// The earliest ring timeout.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_time.first_key_value().map(|((at, _), _)| *at)
    }

    /// The INVITEs whose ring timeout passed by `now`, earliest first; they are forgotten.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_time.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, key), _) = entry.remove_entry();
            due.push(key);
        }
        due
    }
}

/// When the loop must wake: the earliest of `deadlines`, or [`IDLE_WAKE`] after `now` when none is set.
pub(super) fn wake_at(now: Instant, deadlines: impl IntoIterator<Item = Option<Instant>>) -> Instant {
    deadlines.into_iter().flatten().fold(now + IDLE_WAKE, Instant::min)
}

/// RFC 4028: the calls whose session expired by `now` without a refresh (`expires`: when each call's session
/// expires, `None` without a session timer).
pub(super) fn expired_sessions<'a>(
    expires: impl IntoIterator<Item = (&'a CallKey, Option<Instant>)>,
    now: Instant,
) -> Vec<CallKey> {
    expires.into_iter().filter(|(_, at)| at.is_some_and(|at| at <= now)).map(|(key, _)| key.clone()).collect()
}

/// The wait that follows "hang up every call": over once nothing is outstanding (BYEs, calls, media still
/// storing its record), or at the latest [`BYE_GRACE`] after it began.
pub(super) struct HangupGrace {
    deadline: Instant,
}

impl HangupGrace {
    /// The hang-up began at `now`.
    pub(super) fn begin(now: Instant) -> Self {
        HangupGrace { deadline: now + BYE_GRACE }
    }

    /// Whether the wait is over at `now` with `outstanding` things still running.
    pub(super) fn is_over(&self, outstanding: usize, now: Instant) -> bool {
        outstanding == 0 || now >= self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(branch: &str) -> String {
        branch.to_string()
    }

    #[test]
    fn ring_timeouts_fall_due_in_order_and_only_once() {
        let t0 = Instant::now();
        let mut rings = RingDeadlines::default();
        rings.start(key("late"), Duration::from_secs(30), t0);
        rings.start(key("early"), Duration::from_secs(10), t0);
        rings.start(key("answered"), Duration::from_secs(5), t0);
        rings.stop(&key("answered"));
        assert_eq!(rings.next(), Some(t0 + Duration::from_secs(10)));
        assert!(rings.take_due(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(rings.take_due(t0 + Duration::from_secs(10)), vec![key("early")]);
        assert!(rings.take_due(t0 + Duration::from_secs(10)).is_empty(), "taken once");
        // A challenged INVITE is re-sent under a new key; restarting one key keeps a single deadline.
        rings.start(key("late"), Duration::from_secs(60), t0 + Duration::from_secs(20));
        assert_eq!(rings.take_due(t0 + Duration::from_secs(79)), Vec::<String>::new());
        assert_eq!(rings.take_due(t0 + Duration::from_secs(80)), vec![key("late")]);
        assert_eq!(rings.next(), None);
    }

    #[test]
    fn the_loop_wakes_at_the_earliest_deadline_or_after_an_idle_hour() {
        let t0 = Instant::now();
        let at = |secs| Some(t0 + Duration::from_secs(secs));
        assert_eq!(wake_at(t0, [None, at(40), at(7), None]), t0 + Duration::from_secs(7));
        assert_eq!(wake_at(t0, [None, None]), t0 + IDLE_WAKE);
        assert_eq!(wake_at(t0, [at(7200)]), t0 + IDLE_WAKE, "never later than the idle wake");
    }

    #[test]
    fn only_sessions_past_their_expiry_end() {
        let t0 = Instant::now();
        let (refreshed, lapsed, untimed) = (CallKey::from("a"), CallKey::from("b"), CallKey::from("c"));
        let expires = [
            (&refreshed, Some(t0 + Duration::from_secs(90))),
            (&lapsed, Some(t0 + Duration::from_secs(30))),
            (&untimed, None),
        ];
        assert!(expired_sessions(expires, t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(expired_sessions(expires, t0 + Duration::from_secs(30)), vec![lapsed.clone()]);
        assert_eq!(expired_sessions(expires, t0 + Duration::from_secs(90)).len(), 2);
    }

    #[test]
    fn a_hang_up_waits_for_what_is_outstanding_but_not_past_the_grace() {
        let t0 = Instant::now();
        let grace = HangupGrace::begin(t0);
        assert!(!grace.is_over(3, t0 + Duration::from_millis(1999)));
        assert!(grace.is_over(0, t0 + Duration::from_millis(1)), "everything done early");
        assert!(grace.is_over(3, t0 + BYE_GRACE), "stragglers are not waited for");
    }
}
