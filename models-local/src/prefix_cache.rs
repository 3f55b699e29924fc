//! Conversations' attention caches kept between turns (prefix reuse), bounded in bytes.
//!
//! On CPU a prompt token costs about as much to prefill as a generated token, and a call's prompt is its
//! whole history: without reuse, the first token of each turn came later than the one before (0.3 s on the
//! first turn, 4.3 s on the sixth, SmolLM2-135M on two cores). The model's state after a reply — the
//! attention keys and values of every token it has run — is kept here, keyed by those tokens. The next
//! turn's prompt begins with the same tokens (the history only grows), so its reply starts from the entry
//! sharing the longest prefix with it and prefills only the rest. When a barge-in cut the last reply, the
//! history holds only what the caller heard: the common prefix ends inside that reply, and the engine cuts
//! the cache back to it.
//!
//! Entries are found by content, not by call: the language-model interface has no notion of a call, and a
//! key made of the tokens themselves cannot hand one conversation's state to another (two calls whose
//! histories begin alike share exactly that prefix's state, which is the same for both). An entry is
//! replaced by the state derived from it; the least recently used go when the byte budget is exceeded, and
//! entries idle longer than `max_idle` (calls that ended) go at the next use of the cache. Time is passed in.

use std::time::{Duration, Instant};

/// A state taken from the cache for a new reply.
#[derive(Debug, Clone)]
pub struct Reuse<S> {
    /// The entry it came from, replaced when the new state is stored.
    pub entry: u64,
    /// Tokens at the start of the prompt whose state it holds.
    pub common: usize,
    /// The state after the entry's tokens (it may hold more than `common`: cut it back).
    pub state: S,
}

/// How the cache has done, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixCacheStats {
    /// Conversations cached now.
    pub entries: usize,
    /// Bytes their states hold.
    pub bytes: usize,
    /// The byte budget.
    pub max_bytes: usize,
    /// Lookups that found a shared prefix.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Entries dropped for room or idleness (not those replaced by their own continuation).
    pub evictions: u64,
    /// States not kept because one alone exceeds the budget.
    pub too_large: u64,
    /// Prompt tokens whose state came from the cache (not run again).
    pub reused_tokens: u64,
    /// Prompt tokens run through the model.
    pub prefilled_tokens: u64,
}

struct Entry<S> {
    id: u64,
    tokens: Vec<u32>,
    state: S,
    bytes: usize,
    last_used: Instant,
}

/// The cache: a few entries (one per live conversation), searched linearly.
pub struct PrefixCache<S> {
    entries: Vec<Entry<S>>,
    max_bytes: usize,
    max_idle: Duration,
    next_id: u64,
    stats: PrefixCacheStats,
}

impl<S: Clone> PrefixCache<S> {
    /// An empty cache holding at most `max_bytes` of state (0 turns it off), dropping entries unused for
    /// `max_idle`.
    pub fn new(max_bytes: usize, max_idle: Duration) -> PrefixCache<S> {
        PrefixCache {
            entries: Vec::new(),
            max_bytes,
            max_idle,
            next_id: 0,
            stats: PrefixCacheStats { max_bytes, ..PrefixCacheStats::default() },
        }
    }

    /// The state of the entry sharing the longest prefix with `prompt` (at least one token), if any. The
    /// entry stays (a clone of its state is returned) until [`PrefixCache::store`] replaces it.
    pub fn lookup(&mut self, prompt: &[u32], now: Instant) -> Option<Reuse<S>> {
        self.expire(now);
        let best = self
            .entries
            .iter_mut()
            .map(|e| (common_prefix(&e.tokens, prompt), e))
            .filter(|(common, _)| *common > 0)
            .max_by_key(|(common, e)| (*common, e.last_used));
        match best {
            Some((common, entry)) => {
                entry.last_used = now;
                self.stats.hits += 1;
                Some(Reuse { entry: entry.id, common, state: entry.state.clone() })
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Keeps `state`, the model after `tokens` holding `bytes`, in place of the entry it was taken from
    /// (`replaces`, when it is still here), then drops the least recently used entries until the budget holds.
    pub fn store(&mut self, tokens: Vec<u32>, state: S, bytes: usize, replaces: Option<u64>, now: Instant) {
        if let Some(id) = replaces {
            self.entries.retain(|e| e.id != id);
        }
        self.expire(now);
        if bytes > self.max_bytes || tokens.is_empty() {
            if self.max_bytes > 0 {
                self.stats.too_large += 1;
            }
            self.update_totals();
            return;
        }
        // The same conversation stored twice (two replies to one history): keep the newer.
        self.entries.retain(|e| e.tokens != tokens);
        self.next_id += 1;
        self.entries.push(Entry { id: self.next_id, tokens, state, bytes, last_used: now });
        while self.used() > self.max_bytes {
            let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i) else {
                break;
            };
            self.entries.swap_remove(oldest);
            self.stats.evictions += 1;
        }
        self.update_totals();
    }

    /// Counts a reply's prompt: `reused` tokens came from a cached state, `prefilled` were run.
    pub fn record_prefill(&mut self, reused: usize, prefilled: usize) {
        self.stats.reused_tokens += reused as u64;
        self.stats.prefilled_tokens += prefilled as u64;
    }

    /// The counters, with the current size.
    pub fn stats(&self) -> PrefixCacheStats {
        self.stats
    }

    fn used(&self) -> usize {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// Drops entries idle for longer than `max_idle`.
    fn expire(&mut self, now: Instant) {
        let before = self.entries.len();
        let max_idle = self.max_idle;
        self.entries.retain(|e| now.saturating_duration_since(e.last_used) <= max_idle);
        self.stats.evictions += (before - self.entries.len()) as u64;
        self.update_totals();
    }

    fn update_totals(&mut self) {
        self.stats.entries = self.entries.len();
        self.stats.bytes = self.used();
    }
}

/// How many tokens `a` and `b` share at their start.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(600);

    #[test]
    fn the_longest_shared_prefix_wins_and_its_continuation_replaces_it() {
        let t0 = Instant::now();
        let mut cache: PrefixCache<&str> = PrefixCache::new(1000, IDLE);
        assert!(cache.lookup(&[1, 2, 3], t0).is_none(), "empty");
        cache.store(vec![1, 2, 3, 4], "call a", 40, None, t0);
        cache.store(vec![1, 2, 9, 9, 9], "call b", 50, None, t0);
        let reuse = cache.lookup(&[1, 2, 3, 4, 5, 6], t0).unwrap();
        assert_eq!((reuse.common, reuse.state), (4, "call a"));
        // The next turn of call a replaces its entry.
        cache.store(vec![1, 2, 3, 4, 5, 6, 7], "call a, turn 2", 70, Some(reuse.entry), t0);
        assert_eq!(cache.stats().entries, 2);
        assert_eq!(cache.stats().bytes, 120);
        // A barge-in cut: the history diverges inside the cached reply; the common prefix is what is reused.
        let reuse = cache.lookup(&[1, 2, 3, 4, 5, 8], t0).unwrap();
        assert_eq!((reuse.common, reuse.state), (5, "call a, turn 2"));
        // Nothing in common: a miss.
        assert!(cache.lookup(&[7, 7], t0).is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions), (2, 2, 0));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut cache: PrefixCache<u32> = PrefixCache::new(100, IDLE);
        cache.store(vec![1], 1, 40, None, at(0));
        cache.store(vec![2], 2, 40, None, at(1));
        // Call 1 talks again: call 2 is now the least recently used.
        assert!(cache.lookup(&[1, 5], at(2)).is_some());
        cache.store(vec![3], 3, 40, None, at(3));
        assert_eq!(cache.stats().entries, 2);
        assert!(cache.stats().bytes <= 100);
        assert!(cache.lookup(&[2], at(4)).is_none(), "call 2 was evicted");
        assert_eq!(cache.lookup(&[1], at(5)).map(|r| r.state), Some(1));
        assert_eq!(cache.stats().evictions, 1);
        // A state larger than the whole budget is not kept, and evicts nothing.
        cache.store(vec![4], 4, 101, None, at(6));
        assert_eq!((cache.stats().entries, cache.stats().too_large), (2, 1));
    }

    #[test]
    fn idle_entries_expire_and_a_zero_budget_keeps_nothing() {
        let t0 = Instant::now();
        let mut cache: PrefixCache<u32> = PrefixCache::new(100, Duration::from_secs(60));
        cache.store(vec![1, 2], 1, 10, None, t0);
        assert!(cache.lookup(&[1, 2, 3], t0 + Duration::from_secs(60)).is_some(), "not idle yet");
        assert!(cache.lookup(&[1, 2, 3], t0 + Duration::from_secs(121)).is_none(), "the call ended long ago");
        assert_eq!((cache.stats().entries, cache.stats().bytes, cache.stats().evictions), (0, 0, 1));

        let mut off: PrefixCache<u32> = PrefixCache::new(0, IDLE);
        off.store(vec![1], 1, 1, None, t0);
        assert_eq!((off.stats().entries, off.stats().too_large), (0, 0));
    }

    #[test]
    fn the_same_history_stored_twice_is_kept_once() {
        let t0 = Instant::now();
        let mut cache: PrefixCache<u32> = PrefixCache::new(100, IDLE);
        cache.store(vec![1, 2], 1, 10, None, t0);
        cache.store(vec![1, 2], 2, 10, None, t0);
        assert_eq!(cache.stats().entries, 1);
        assert_eq!(cache.lookup(&[1, 2], t0).map(|r| r.state), Some(2));
    }

    #[test]
    fn common_prefix_counts_shared_leading_tokens() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(common_prefix(&[1, 2], &[1, 2, 3]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
        assert_eq!(common_prefix(&[5], &[1]), 0);
    }
}
