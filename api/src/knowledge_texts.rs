//! The extracted texts of knowledge documents, kept in memory between retrievals so `/rag/retrieve` does not
//! read every document from the blob store (S3: a GET per document) on every question.
//!
//! Bounded by bytes ([`DEFAULT_CAPACITY_BYTES`]): the least recently used texts leave first, and a text
//! larger than the whole cache is never kept. An entry is keyed by the object's URL and the document's
//! version (its record's `updated_at`), both read from the store on each retrieval, so it is right across
//! nodes without asking the blob store: a document changed on another node has a new version (a miss), a
//! deleted one is no longer listed (its entry is never asked for again and ages out), and this node's
//! deletes drop their entries at once ([`KnowledgeTexts::forget`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The cache's size when none is given: 64 MiB, the text of a few thousand typical documents (a 25 MB PDF's
/// text layer is rarely over a megabyte).
pub const DEFAULT_CAPACITY_BYTES: usize = 64 * 1024 * 1024;

/// Cached document texts (see the module doc). Cheap to share (`Arc`); the lock is held for map work only.
#[derive(Debug)]
pub struct KnowledgeTexts {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<(String, String), Entry>,
    bytes: usize,
    /// Bumped on every use: the least recent entry has the smallest.
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    text: Arc<str>,
    used: u64,
}

impl KnowledgeTexts {
    /// A cache holding at most `capacity` bytes of text; 0 keeps nothing (`[storage] knowledge_cache_mib = 0`).
    pub fn new(capacity: usize) -> KnowledgeTexts {
        KnowledgeTexts { capacity, inner: Mutex::new(Entries::default()) }
    }

    /// The text of the object at `url` at `version`, if kept.
    pub fn get(&self, url: &str, version: &str) -> Option<Arc<str>> {
        let mut entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.by_key.get_mut(&(url.to_string(), version.to_string()))?;
        entry.used = now;
        Some(Arc::clone(&entry.text))
    }

    /// Keeps `text` as the object at `url` at `version`, making room by dropping the least recently used; a
    /// text over the capacity is not kept. Older versions of the same URL go.
    pub fn insert(&self, url: &str, version: &str, text: Arc<str>) {
        // A cache of no bytes keeps no entry at all, not even an empty text's.
        if self.capacity == 0 || text.len() > self.capacity {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.remove_url(url);
        while entries.bytes + text.len() > self.capacity {
            let Some(oldest) = entries.by_key.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.clock += 1;
        let used = entries.clock;
        entries.bytes += text.len();
        entries.by_key.insert((url.to_string(), version.to_string()), Entry { text, used });
    }

    /// Drops every version of the object at `url` (its document was deleted).
    pub fn forget(&self, url: &str) {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove_url(url);
    }

    /// Bytes of text kept.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).bytes
    }
}

impl Default for KnowledgeTexts {
    fn default() -> Self {
        KnowledgeTexts::new(DEFAULT_CAPACITY_BYTES)
    }
}

impl Entries {
    fn remove(&mut self, key: &(String, String)) {
        if let Some(entry) = self.by_key.remove(key) {
            self.bytes -= entry.text.len();
        }
    }

    fn remove_url(&mut self, url: &str) {
        let keys: Vec<(String, String)> = self.by_key.keys().filter(|(u, _)| u == url).cloned().collect();
        for key in &keys {
            self.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Arc<str> {
        Arc::from("x".repeat(n))
    }

    #[test]
    fn the_least_recently_used_text_leaves_first_and_bytes_stay_under_the_cap() {
        let cache = KnowledgeTexts::new(100);
        cache.insert("s3://k/a", "v1", text(40));
        cache.insert("s3://k/b", "v1", text(40));
        assert!(cache.get("s3://k/a", "v1").is_some(), "a is now the more recent");
        cache.insert("s3://k/c", "v1", text(40));
        assert_eq!(cache.bytes(), 80);
        assert!(cache.get("s3://k/b", "v1").is_none(), "b was the least recently used");
        assert!(cache.get("s3://k/a", "v1").is_some() && cache.get("s3://k/c", "v1").is_some());
        // Too big for the whole cache: not kept, nothing evicted for it.
        cache.insert("s3://k/huge", "v1", text(101));
        assert!(cache.get("s3://k/huge", "v1").is_none());
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn a_cache_of_no_bytes_keeps_nothing() {
        let off = KnowledgeTexts::new(0);
        off.insert("s3://k/a", "v1", text(1));
        off.insert("s3://k/empty", "v1", text(0));
        assert!(off.get("s3://k/a", "v1").is_none() && off.get("s3://k/empty", "v1").is_none());
        assert_eq!(off.bytes(), 0);
    }

    #[test]
    fn a_new_version_misses_and_replaces_the_old_and_forget_drops_a_url() {
        let cache = KnowledgeTexts::new(100);
        cache.insert("s3://k/a", "2026-12-01T00:00:00.000Z", text(10));
        assert!(cache.get("s3://k/a", "2026-12-02T00:00:00.000Z").is_none(), "changed elsewhere: a miss");
        cache.insert("s3://k/a", "2026-12-02T00:00:00.000Z", text(20));
        assert_eq!(cache.bytes(), 20, "the old version went");
        cache.forget("s3://k/a");
        assert!(cache.get("s3://k/a", "2026-12-02T00:00:00.000Z").is_none());
        assert_eq!(cache.bytes(), 0);
    }
}
