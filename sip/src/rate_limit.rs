//! Per-source request rate limits for new INVITE, REGISTER and OPTIONS transactions, sans-IO (time passed in).
//!
//! Each source ([`SourceKey`]: IPv4 address or IPv6 /64) has one token bucket per request class, kept as a
//! GCRA "theoretical arrival time" (one `Instant` per bucket, no refill arithmetic). Policy over the limit:
//! - INVITE and REGISTER get `503 Service Unavailable` with `Retry-After` (RFC 3261 §21.5.4), so a real client
//!   backs off and retries; but the 503s themselves are budgeted per source (`rejections`), and beyond that
//!   budget the requests are dropped, so a flood (possibly from a spoofed address) is never amplified;
//! - OPTIONS (and the other classes' excess beyond the 503 budget) are dropped silently: an OPTIONS flood is a
//!   scan or an attack, and well-behaved keep-alive pings never reach the limit.
//!
//! Other methods (BYE, INFO, ...), ACK, CANCEL and retransmissions are never limited (the endpoint consults the
//! limiter only when a new INVITE/REGISTER/OPTIONS transaction would be created, in a dialog or not: a To tag is
//! the sender's to forge, and no real dialog re-INVITEs or pings at these rates), and sources listed as exempt
//! (trunks that carry many calls from one address) bypass it. Memory is bounded by `max_sources`
//! ([`SourceTable`]).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::message::Method;
use crate::source::{SourceKey, SourceState, SourceTable};

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Time between requests at the sustained rate.
    pub interval: Duration,
    /// Requests allowed back to back from a rested source.
    pub burst: u32,
}

impl Rate {
    /// `per_second` requests a second (at least 1), `burst` at once.
    pub fn per_second(per_second: u32, burst: u32) -> Rate {
        Rate { interval: Duration::from_secs(1) / per_second.max(1), burst: burst.max(1) }
    }

    /// How far ahead of `now` a source's arrival time may run (GCRA's burst tolerance).
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst - 1)
    }
}

/// Limits of a [`RateLimiter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// INVITEs per source: each may start a call, the costliest request.
    pub invite: Rate,
    /// REGISTERs per source (registration floods and password guessing).
    pub register: Rate,
    /// OPTIONS per source (scanners probe with it).
    pub options: Rate,
    /// 503 answers per source; over-limit requests beyond this are dropped.
    pub rejections: Rate,
    /// Sources tracked at most.
    pub max_sources: usize,
    /// Sources never limited (e.g. trunk addresses).
    pub exempt: HashSet<IpAddr>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            invite: Rate::per_second(10, 50),
            register: Rate::per_second(2, 10),
            options: Rate::per_second(10, 20),
            rejections: Rate::per_second(1, 5),
            max_sources: 65_536,
            exempt: HashSet::new(),
        }
    }
}

/// The request classes that are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// INVITE, limited by [`RateLimitConfig::invite`].
    Invite,
    /// REGISTER, limited by [`RateLimitConfig::register`].
    Register,
    /// OPTIONS, limited by [`RateLimitConfig::options`].
    Options,
}

impl RequestClass {
    /// The class of `method`, or `None` when it is not limited.
    pub fn of(method: &Method) -> Option<RequestClass> {
        match method {
            Method::Invite => Some(RequestClass::Invite),
            Method::Register => Some(RequestClass::Register),
            Method::Options => Some(RequestClass::Options),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle the request.
    Allow,
    /// Answer `503 Service Unavailable` with `Retry-After` (whole seconds, at least 1).
    Reject {
        /// How long the source should wait.
        retry_after: Duration,
    },
    /// Send nothing.
    Drop,
}

impl Verdict {
    /// `Retry-After` in whole seconds, rounded up.
    pub fn retry_after_secs(retry_after: Duration) -> u64 {
        (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1)
    }
}

#[derive(Debug, Clone)]
struct SourceBuckets {
    /// GCRA theoretical arrival time per [`RequestClass`]; at or before `now` means a full bucket.
    arrival: [Instant; 3],
    rejections: Instant,
    last_seen: Instant,
}

impl SourceState for SourceBuckets {
    fn is_idle(&self, now: Instant) -> bool {
        self.arrival.iter().all(|t| *t <= now) && self.rejections <= now
    }

    fn last_seen(&self) -> Instant {
        self.last_seen
    }
}

/// Per-source token buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    sources: SourceTable<SourceBuckets>,
}

impl RateLimiter {
    /// A limiter with no source tracked yet.
    pub fn new(config: RateLimitConfig) -> Self {
        let sources = SourceTable::new(config.max_sources);
        Self { config, sources }
    }

    /// Exempts `ip` (exactly this address) from all limits.
    pub fn exempt(&mut self, ip: IpAddr) {
        self.config.exempt.insert(ip);
    }

    /// Decides on a new request (transaction) of `method` from `source` at `now`, and counts it.
    pub fn check(&mut self, source: IpAddr, method: &Method, now: Instant) -> Verdict {
        let Some(class) = RequestClass::of(method) else { return Verdict::Allow };
        if self.config.exempt.contains(&source) {
            return Verdict::Allow;
        }
        let rate = match class {
            RequestClass::Invite => self.config.invite,
            RequestClass::Register => self.config.register,
            RequestClass::Options => self.config.options,
        };
        let rejections = self.config.rejections;
        let buckets = self.sources.entry(SourceKey::of(source), now, || SourceBuckets {
            arrival: [now; 3],
            rejections: now,
            last_seen: now,
        });
        buckets.last_seen = now;
        let Err(retry_after) = take(&mut buckets.arrival[class.index()], rate, now) else { return Verdict::Allow };
        if class == RequestClass::Options || take(&mut buckets.rejections, rejections, now).is_err() {
            return Verdict::Drop;
        }
        Verdict::Reject { retry_after }
    }

    /// Sources currently tracked.
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }
}

/// GCRA: takes one token from the bucket whose theoretical arrival time is `arrival`, or says how long until
/// one is available.
fn take(arrival: &mut Instant, rate: Rate, now: Instant) -> Result<(), Duration> {
    let earliest = arrival.checked_sub(rate.tolerance()).unwrap_or(now);
    if earliest > now {
        return Err(earliest - now);
    }
    *arrival = (*arrival).max(now) + rate.interval;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn config() -> RateLimitConfig {
        RateLimitConfig {
            invite: Rate::per_second(2, 4),
            register: Rate::per_second(1, 2),
            options: Rate::per_second(5, 5),
            rejections: Rate::per_second(1, 3),
            ..RateLimitConfig::default()
        }
    }

    #[test]
    fn a_burst_passes_then_invites_get_503_with_retry_after_then_are_dropped() {
        let mut limiter = RateLimiter::new(config());
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let verdicts: Vec<Verdict> = (0..10).map(|_| limiter.check(source, &Method::Invite, t0)).collect();
        assert!(verdicts[..4].iter().all(|v| *v == Verdict::Allow), "{verdicts:?}");
        // The bucket refills one INVITE every 500 ms.
        assert_eq!(verdicts[4], Verdict::Reject { retry_after: Duration::from_millis(500) });
        assert!(verdicts[5..7].iter().all(|v| matches!(v, Verdict::Reject { .. })), "{verdicts:?}");
        assert!(verdicts[7..].iter().all(|v| *v == Verdict::Drop), "503 budget spent: {verdicts:?}");
        assert_eq!(Verdict::retry_after_secs(Duration::from_millis(500)), 1);
        // Other sources and other classes are unaffected.
        assert_eq!(limiter.check(ip("198.51.100.8"), &Method::Invite, t0), Verdict::Allow);
        assert_eq!(limiter.check(source, &Method::Register, t0), Verdict::Allow);
        // Half a second later one more INVITE fits; a second later, two.
        assert_eq!(limiter.check(source, &Method::Invite, t0 + Duration::from_millis(500)), Verdict::Allow);
        assert_ne!(limiter.check(source, &Method::Invite, t0 + Duration::from_millis(500)), Verdict::Allow);
        assert_eq!(limiter.check(source, &Method::Invite, t0 + Duration::from_millis(1500)), Verdict::Allow);
        assert_eq!(limiter.check(source, &Method::Invite, t0 + Duration::from_millis(1500)), Verdict::Allow);
    }

    #[test]
    fn an_options_flood_is_dropped_without_answers_and_a_sustained_rate_passes() {
        let mut limiter = RateLimiter::new(config());
        let (source, t0) = (ip("2001:db8::1"), Instant::now());
        let mut allowed = 0;
        for i in 0..1000u64 {
            match limiter.check(source, &Method::Options, t0 + Duration::from_millis(i)) {
                Verdict::Allow => allowed += 1,
                Verdict::Drop => {}
                Verdict::Reject { .. } => panic!("OPTIONS are never answered 503"),
            }
        }
        assert_eq!(allowed, 5 + 4, "the burst, then 5 a second over one second");
        // Another address in the same /64 shares the budget.
        assert_eq!(limiter.check(ip("2001:db8::2"), &Method::Options, t0 + Duration::from_millis(999)), Verdict::Drop);
        // A prober at 1 OPTIONS per second is never limited.
        let mut slow = RateLimiter::new(config());
        assert!(
            (0..600u64).all(|s| slow.check(source, &Method::Options, t0 + Duration::from_secs(s)) == Verdict::Allow)
        );
    }

    #[test]
    fn unlimited_methods_and_exempt_sources_always_pass() {
        let mut limiter = RateLimiter::new(config());
        let t0 = Instant::now();
        limiter.exempt(ip("192.0.2.50"));
        for _ in 0..100 {
            assert_eq!(limiter.check(ip("192.0.2.50"), &Method::Invite, t0), Verdict::Allow);
            assert_eq!(limiter.check(ip("198.51.100.7"), &Method::Bye, t0), Verdict::Allow);
        }
        assert_eq!(limiter.tracked_sources(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_sources() {
        let mut limiter = RateLimiter::new(RateLimitConfig { max_sources: 1000, ..config() });
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            limiter.check(IpAddr::V4(i.into()), &Method::Invite, t0);
            assert!(limiter.tracked_sources() <= 1000);
        }
    }
}
