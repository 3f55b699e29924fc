//! When to try a dependency again after a failure: exponential back-off, capped. Sans-IO: the caller passes
//! the time (milliseconds on any monotonic clock) and asks when the next attempt is due.

/// Retry timing after failures: `initial`, doubling per consecutive failure, never above `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial_ms: u64,
    max_ms: u64,
    /// Consecutive failures since the last success.
    failures: u32,
    /// When the next attempt may run; `None`: now.
    due_ms: Option<u64>,
}

impl Backoff {
    /// Back-off starting at `initial_ms` and capped at `max_ms`.
    pub fn new(initial_ms: u64, max_ms: u64) -> Backoff {
        Backoff { initial_ms: initial_ms.max(1), max_ms: max_ms.max(initial_ms.max(1)), failures: 0, due_ms: None }
    }

    /// An attempt failed at `now_ms`: the next waits longer. Returns when it is due.
    pub fn failed(&mut self, now_ms: u64) -> u64 {
        let delay = self.initial_ms.saturating_mul(1u64 << self.failures.min(32)).min(self.max_ms);
        self.failures = self.failures.saturating_add(1);
        let due = now_ms.saturating_add(delay);
        self.due_ms = Some(due);
        due
    }

    /// An attempt succeeded: the next may run at once and a later failure starts from `initial` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.due_ms = None;
    }

    /// When the next attempt is due (`None`: now).
    pub fn due_ms(&self) -> Option<u64> {
        self.due_ms
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_on_success() {
        let mut backoff = Backoff::new(500, 4000);
        assert_eq!(backoff.due_ms(), None);
        let delays: Vec<u64> = (0..6).map(|_| backoff.failed(10_000) - 10_000).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(backoff.failures(), 6);
        backoff.succeeded();
        assert_eq!(backoff.due_ms(), None);
        assert_eq!(backoff.failed(20_000), 20_500);
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut backoff = Backoff::new(1, u64::MAX);
        for _ in 0..100 {
            backoff.failed(u64::MAX - 1);
        }
        assert_eq!(backoff.due_ms(), Some(u64::MAX));
    }
}
