//! Per-source state with bounded memory, shared by the request rate limiter ([`crate::rate_limit`]) and the
//! digest failure back-off ([`crate::auth::backoff`]).
//!
//! Two things keep an attacker from defeating per-source bookkeeping: IPv6 sources are keyed by their /64 (one
//! host usually owns a whole /64, so rotating addresses inside it buys nothing), and the table never grows past
//! its capacity (when full, idle entries go first, then the least recently seen eighth, so the cost of eviction
//! is amortised O(1) per insertion).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

/// The unit a per-source limit applies to: an IPv4 address, or the /64 prefix of an IPv6 address (IPv4-mapped
/// IPv6 addresses count as their IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    /// The key `ip` is counted under: itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(v4) => SourceKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    SourceKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    /// The address (IPv4) or network address of the /64 (IPv6) this key stands for.
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

impl From<IpAddr> for SourceKey {
    fn from(ip: IpAddr) -> Self {
        SourceKey::of(ip)
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// What a [`SourceTable`] needs to know about an entry to evict it.
pub trait SourceState {
    /// Whether the entry holds nothing worth keeping at `now` (forgetting it changes no decision).
    fn is_idle(&self, now: Instant) -> bool;
    /// When the source was last seen, for least-recently-seen eviction.
    fn last_seen(&self) -> Instant;
}

/// A map from source to state that never holds more than `capacity` entries.
#[derive(Debug, Clone)]
pub struct SourceTable<V> {
    entries: HashMap<SourceKey, V>,
    capacity: usize,
}

impl<V: SourceState> SourceTable<V> {
    /// An empty table holding at most `capacity` sources.
    pub fn new(capacity: usize) -> Self {
        Self { entries: HashMap::new(), capacity: capacity.max(1) }
    }

    /// Sources tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A source's state, if tracked.
    pub fn get(&self, key: &SourceKey) -> Option<&V> {
        self.entries.get(key)
    }

    /// A source's state to change, if tracked.
    pub fn get_mut(&mut self, key: &SourceKey) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    /// Forgets a source, returning its state.
    pub fn remove(&mut self, key: &SourceKey) -> Option<V> {
        self.entries.remove(key)
    }

    /// The entry for `key`, created with `make` when absent (evicting others first if the table is full).
    pub fn entry(&mut self, key: SourceKey, now: Instant, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.entries.entry(key).or_insert_with(make)
    }

    /// Drops idle entries; if that frees less than an eighth of the table, drops the least recently seen entries
    /// until an eighth is free, so the next `capacity / 8` insertions need no eviction.
    fn make_room(&mut self, now: Instant) {
        self.entries.retain(|_, v| !v.is_idle(now));
        let target = self.capacity - (self.capacity / 8).max(1);
        if self.entries.len() <= target {
            return;
        }
        let excess = self.entries.len() - target;
        let mut by_age: Vec<(Instant, SourceKey)> = self.entries.iter().map(|(k, v)| (v.last_seen(), *k)).collect();
        by_age.select_nth_unstable_by_key(excess - 1, |(seen, _)| *seen);
        for (_, key) in &by_age[..excess] {
            self.entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Seen {
        at: Instant,
        idle_after: Instant,
    }

    impl SourceState for Seen {
        fn is_idle(&self, now: Instant) -> bool {
            now >= self.idle_after
        }
        fn last_seen(&self) -> Instant {
            self.at
        }
    }

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn ipv6_sources_are_keyed_by_their_64_and_mapped_ipv4_by_the_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(SourceKey::of(a), SourceKey::of(b));
        assert_ne!(SourceKey::of(a), SourceKey::of(c));
        assert_eq!(SourceKey::of(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(SourceKey::of(mapped), SourceKey::of("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn a_full_table_evicts_idle_entries_first_then_the_least_recently_seen() {
        let t0 = Instant::now();
        let mut table = SourceTable::new(16);
        // Source 0 is idle from the start; the others stay busy, seen at t0 + i seconds.
        table.entry(SourceKey::of(v4(0)), t0, || Seen { at: t0, idle_after: t0 });
        for i in 1..16u32 {
            let at = t0 + Duration::from_secs(i.into());
            table.entry(SourceKey::of(v4(i)), at, || Seen { at, idle_after: t0 + Duration::from_secs(1000) });
        }
        assert_eq!(table.len(), 16);
        let now = t0 + Duration::from_secs(20);
        table.entry(SourceKey::of(v4(100)), now, || Seen { at: now, idle_after: now + Duration::from_secs(1000) });
        assert!(table.len() <= 16);
        assert!(table.get(&SourceKey::of(v4(0))).is_none(), "idle entry evicted");
        assert!(table.get(&SourceKey::of(v4(1))).is_none(), "oldest busy entry evicted to free an eighth");
        assert!(table.get(&SourceKey::of(v4(15))).is_some(), "recent entry kept");
        assert!(table.get(&SourceKey::of(v4(100))).is_some());
    }

    #[test]
    fn a_flood_of_sources_never_grows_the_table_past_capacity() {
        let t0 = Instant::now();
        let mut table = SourceTable::new(100);
        for i in 0..10_000u32 {
            let at = t0 + Duration::from_millis(i.into());
            table.entry(SourceKey::of(v4(i)), at, || Seen { at, idle_after: at + Duration::from_secs(3600) });
            assert!(table.len() <= 100);
        }
    }
}
