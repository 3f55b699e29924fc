//! Per-source back-off after failed authentication, so a password cannot be guessed at line rate.
//!
//! A source that fails `max_failures` times within `window` is blocked for `first_block`; each further block
//! doubles, up to `max_block`. While blocked, its requests are refused without hashing anything (the user agent
//! answers 403). A source's history is kept for `max_block` after it was last seen, so a guesser pausing
//! briefly still meets the longer block; the table is bounded ([`SourceTable`]). Time is passed in.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::source::{SourceKey, SourceState, SourceTable};

/// Thresholds of [`FailureBackoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Failures within `window` that trigger a block.
    pub max_failures: u32,
    /// The period failures are counted over; a source with no failure for this long starts afresh.
    pub window: Duration,
    /// Length of the first block; doubles with every further block.
    pub first_block: Duration,
    /// The longest a block lasts, however often it doubles.
    pub max_block: Duration,
    /// Sources remembered at most (oldest forgotten first).
    pub max_sources: usize,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(60),
            first_block: Duration::from_secs(30),
            max_block: Duration::from_secs(3600),
            max_sources: 16_384,
        }
    }
}

#[derive(Debug, Clone)]
struct SourceFailures {
    window_start: Instant,
    failures: u32,
    /// Blocks served so far; the next one lasts `first_block · 2^blocks`.
    blocks: u32,
    blocked_until: Option<Instant>,
    last_seen: Instant,
    /// Forget the source after this (its history no longer changes a decision).
    forget_at: Instant,
}

impl SourceState for SourceFailures {
    fn is_idle(&self, now: Instant) -> bool {
        now >= self.forget_at
    }

    fn last_seen(&self) -> Instant {
        self.last_seen
    }
}

/// Failure counts and blocks per source.
#[derive(Debug, Clone)]
pub struct FailureBackoff {
    config: BackoffConfig,
    sources: SourceTable<SourceFailures>,
}

impl FailureBackoff {
    /// An empty table with these thresholds.
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, sources: SourceTable::new(config.max_sources) }
    }

    /// If `source` is blocked at `now`, until when.
    pub fn blocked_until(&self, source: IpAddr, now: Instant) -> Option<Instant> {
        self.sources.get(&SourceKey::of(source))?.blocked_until.filter(|until| *until > now)
    }

    /// Counts a failed attempt; returns the end of the block it starts, if it starts one.
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) -> Option<Instant> {
        let config = self.config;
        let entry = self.sources.entry(SourceKey::of(source), now, || SourceFailures {
            window_start: now,
            failures: 0,
            blocks: 0,
            blocked_until: None,
            last_seen: now,
            forget_at: now,
        });
        entry.last_seen = now;
        entry.forget_at = now + config.max_block.max(config.window);
        if entry.blocked_until.is_some_and(|until| until > now) {
            return None; // already blocked; callers refuse before verifying, so this is rare
        }
        if now.saturating_duration_since(entry.window_start) > config.window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures < config.max_failures {
            return None;
        }
        let factor = 1u32.checked_shl(entry.blocks.min(31)).unwrap_or(u32::MAX);
        let block = config.first_block.saturating_mul(factor).min(config.max_block);
        let until = now + block;
        entry.blocks = entry.blocks.saturating_add(1);
        entry.failures = 0;
        entry.window_start = until;
        entry.blocked_until = Some(until);
        entry.forget_at = until + config.max_block;
        Some(until)
    }

    /// A successful attempt clears the failure count (not the record of earlier blocks, so that one valid
    /// account cannot be used to reset a guesser working on another).
    pub fn record_success(&mut self, source: IpAddr) {
        if let Some(entry) = self.sources.get_mut(&SourceKey::of(source)) {
            entry.failures = 0;
        }
    }

    /// Sources currently remembered.
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn five_failures_in_a_window_block_and_blocks_double() {
        let mut backoff = FailureBackoff::new(BackoffConfig::default());
        let t0 = Instant::now();
        let source = ip("198.51.100.7");
        for i in 0..4 {
            assert_eq!(backoff.record_failure(source, t0 + Duration::from_secs(i)), None);
        }
        let until = backoff.record_failure(source, t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(until, t0 + Duration::from_secs(34));
        assert_eq!(backoff.blocked_until(source, t0 + Duration::from_secs(10)), Some(until));
        assert_eq!(backoff.blocked_until(ip("198.51.100.8"), t0 + Duration::from_secs(10)), None, "others unaffected");
        assert_eq!(backoff.blocked_until(source, until), None, "block over");
        // Five more failures right after: the second block is twice as long.
        let mut second = None;
        for i in 0..5 {
            second = backoff.record_failure(source, until + Duration::from_secs(i));
        }
        assert_eq!(second, Some(until + Duration::from_secs(4) + Duration::from_secs(60)));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_block() {
        let mut backoff = FailureBackoff::new(BackoffConfig::default());
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(backoff.record_failure(ip("198.51.100.7"), t0 + Duration::from_secs(i * 20)), None);
        }
    }

    #[test]
    fn success_resets_the_count_and_blocks_are_capped() {
        let config = BackoffConfig { max_block: Duration::from_secs(100), ..BackoffConfig::default() };
        let mut backoff = FailureBackoff::new(config);
        let source = ip("2001:db8::1");
        let mut now = Instant::now();
        for _ in 0..4 {
            backoff.record_failure(source, now);
        }
        backoff.record_success(source);
        assert_eq!(backoff.record_failure(source, now), None, "count restarted");
        for _ in 0..10 {
            // Block after block: never longer than max_block.
            let until = loop {
                if let Some(until) = backoff.record_failure(source, now) {
                    break until;
                }
            };
            assert!(until - now <= Duration::from_secs(100));
            now = until;
        }
        assert!(backoff.blocked_until(ip("2001:db8::ffff"), now - Duration::from_secs(1)).is_some(), "same /64");
    }
}
