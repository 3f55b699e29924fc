//! Login rate limiting, sans-IO: at most `max_failures` failed attempts per (email, source) within a window
//! that starts at the first failure; then refused until the window ends. A success clears the count. Memory is
//! bounded: past `capacity` keys, ended windows are dropped, then the oldest.

use std::collections::HashMap;

/// Locks out a login key (email and source) after too many failures within a window, so passwords cannot be
/// guessed at speed; bounded to `capacity` keys, forgetting expired then oldest windows. Time is passed in.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window_ms: i64,
    capacity: usize,
    failures: HashMap<String, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

impl LoginLimiter {
    /// A limiter allowing `max_failures` per `window_ms`, tracking at most `capacity` keys.
    pub fn new(max_failures: u32, window_ms: i64, capacity: usize) -> LoginLimiter {
        LoginLimiter { max_failures, window_ms, capacity: capacity.max(1), failures: HashMap::new() }
    }

    /// `Err(ms to wait)` while `key` is locked out at `now`.
    pub fn check(&mut self, key: &str, now: i64) -> Result<(), i64> {
        match self.failures.get(key) {
            Some(w) if now >= w.started + self.window_ms => {
                self.failures.remove(key);
                Ok(())
            }
            Some(w) if w.count >= self.max_failures => Err(w.started + self.window_ms - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed login for `key` at `now`, starting a new window when the last one has passed.
    pub fn record_failure(&mut self, key: &str, now: i64) {
        if !self.failures.contains_key(key) && self.failures.len() >= self.capacity {
            let window = self.window_ms;
            self.failures.retain(|_, w| now < w.started + window);
            if self.failures.len() >= self.capacity {
                if let Some(oldest) = self.failures.iter().min_by_key(|(_, w)| w.started).map(|(k, _)| k.clone()) {
                    self.failures.remove(&oldest);
                }
            }
        }
        let window = self.failures.entry(key.to_string()).or_insert(Window { started: now, count: 0 });
        if now >= window.started + self.window_ms {
            *window = Window { started: now, count: 0 };
        }
        window.count += 1;
    }

    /// A successful login clears `key`'s failures.
    pub fn record_success(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_failure_locks_the_key_until_its_window_ends() {
        let mut limiter = LoginLimiter::new(3, 60_000, 100);
        for t in [0, 10, 20] {
            assert_eq!(limiter.check("a|ip", t), Ok(()));
            limiter.record_failure("a|ip", t);
        }
        assert_eq!(limiter.check("a|ip", 30), Err(59_970));
        // Other emails and other sources are not affected.
        assert_eq!(limiter.check("b|ip", 30), Ok(()));
        assert_eq!(limiter.check("a|ip2", 30), Ok(()));
        assert_eq!(limiter.check("a|ip", 60_000), Ok(()));
        limiter.record_failure("a|ip", 60_001);
        assert_eq!(limiter.check("a|ip", 60_002), Ok(()));
    }

    #[test]
    fn a_success_clears_the_count() {
        let mut limiter = LoginLimiter::new(2, 60_000, 100);
        limiter.record_failure("a|ip", 0);
        limiter.record_success("a|ip");
        limiter.record_failure("a|ip", 1);
        assert_eq!(limiter.check("a|ip", 2), Ok(()));
    }

    #[test]
    fn memory_stays_within_capacity() {
        let mut limiter = LoginLimiter::new(1, 60_000, 10);
        for i in 0..1000 {
            limiter.record_failure(&format!("k{i}"), i);
        }
        assert!(limiter.failures.len() <= 10);
        // The newest keys are the ones kept.
        assert_eq!(limiter.check("k999", 1000), Err(59_999));
    }
}
