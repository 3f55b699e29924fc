//! The spool: items waiting for a dependency (the store, later the blob store), one file each under a
//! directory, named by a sequence number so that delivery order is file-name order and survives a restart.
//!
//! A file is written under a temporary name, fsync'd, renamed into place and the directory fsync'd: after a
//! crash an item is either whole or absent, never half. Leftover temporary files are removed on open. The
//! spool is generic over what it holds: anything serde can write, which the [`crate::writer`] delivers.
//!
//! Blocking (file I/O): callers on a runtime go through `spawn_blocking`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::RecordsError;

/// Extension of a spooled item's file.
const ITEM_EXT: &str = "item";
/// Extension of a file being written.
const TMP_EXT: &str = "tmp";

/// One spooled item as its file holds it.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Delivery order.
    seq: u64,
    /// When it was spooled, Unix milliseconds (the backlog's age).
    spooled_at_ms: u64,
    item: T,
}

/// What the spool knows of an item without reading its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Delivery order: lower first.
    pub seq: u64,
    /// Size of its file.
    pub bytes: u64,
    /// When it was spooled, Unix milliseconds.
    pub spooled_at_ms: u64,
}

/// The backlog at a glance, for `/metrics` and `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Items waiting.
    pub items: u64,
    /// Their files' total size.
    pub bytes: u64,
    /// When the oldest was spooled (Unix ms), if any.
    pub oldest_ms: Option<u64>,
}

/// A directory of items of type `T` waiting for delivery, oldest first.
pub struct Spool<T> {
    dir: PathBuf,
    entries: VecDeque<Entry>,
    next_seq: u64,
    _item: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Spool<T> {
    /// Opens (creating) the spool at `dir` and indexes what a previous run left there.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Spool<T>, RecordsError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| RecordsError::io(&dir, e))?;
        let mut entries = Vec::new();
        for file in std::fs::read_dir(&dir).map_err(|e| RecordsError::io(&dir, e))? {
            let path = file.map_err(|e| RecordsError::io(&dir, e))?.path();
            match path.extension().and_then(|e| e.to_str()) {
                // A write a crash interrupted: it was never renamed into place, so it was never acknowledged.
                Some(TMP_EXT) => {
                    let _ = std::fs::remove_file(&path);
                }
                Some(ITEM_EXT) => {
                    let Some(seq) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()) else {
                        continue;
                    };
                    let bytes = std::fs::metadata(&path).map_err(|e| RecordsError::io(&path, e))?.len();
                    let spooled_at_ms = read_envelope::<T>(&path).map(|e| e.spooled_at_ms).unwrap_or(0);
                    entries.push(Entry { seq, bytes, spooled_at_ms });
                }
                _ => {}
            }
        }
        entries.sort_by_key(|e| e.seq);
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        Ok(Spool { dir, entries: entries.into(), next_seq, _item: PhantomData })
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `item` (durably, before returning); its sequence number.
    pub fn push(&mut self, item: &T, now_ms: u64) -> Result<u64, RecordsError> {
        let seq = self.next_seq;
        let bytes = self.write(seq, item, now_ms)?;
        self.next_seq += 1;
        self.entries.push_back(Entry { seq, bytes, spooled_at_ms: now_ms });
        Ok(seq)
    }

    /// Rewrites the item at `seq` in place (same order, same age).
    pub fn replace(&mut self, seq: u64, item: &T) -> Result<(), RecordsError> {
        let Some(at) = self.entries.iter().position(|e| e.seq == seq) else {
            return Err(RecordsError::Missing(seq));
        };
        let bytes = self.write(seq, item, self.entries[at].spooled_at_ms)?;
        self.entries[at].bytes = bytes;
        Ok(())
    }

    /// The oldest item, read from its file.
    pub fn front(&self) -> Option<Result<(Entry, T), RecordsError>> {
        let entry = *self.entries.front()?;
        Some(self.read(entry.seq).map(|item| (entry, item)))
    }

    /// Every item, oldest first (a restart's review of what the last run left).
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter().copied()
    }

    /// The item at `seq`.
    pub fn read(&self, seq: u64) -> Result<T, RecordsError> {
        read_envelope(&self.path(seq)).map(|e| e.item)
    }

    /// Removes a delivered item. Removing one that is gone is no error (a retried removal).
    pub fn remove(&mut self, seq: u64) -> Result<(), RecordsError> {
        let path = self.path(seq);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RecordsError::io(&path, e)),
        }
        self.entries.retain(|e| e.seq != seq);
        Ok(())
    }

    /// Moves an item that can never be delivered aside, into `rejected/`, out of the queue's way.
    pub fn reject(&mut self, seq: u64) -> Result<(), RecordsError> {
        let aside = self.dir.join("rejected");
        std::fs::create_dir_all(&aside).map_err(|e| RecordsError::io(&aside, e))?;
        let from = self.path(seq);
        let to = aside.join(from.file_name().unwrap_or_default());
        std::fs::rename(&from, &to).map_err(|e| RecordsError::io(&from, e))?;
        self.entries.retain(|e| e.seq != seq);
        Ok(())
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Items waiting, their bytes and the oldest's age.
    pub fn backlog(&self) -> Backlog {
        Backlog {
            items: self.entries.len() as u64,
            bytes: self.entries.iter().map(|e| e.bytes).sum(),
            oldest_ms: self.entries.iter().map(|e| e.spooled_at_ms).min(),
        }
    }

    fn path(&self, seq: u64) -> PathBuf {
        // Zero-padded: a directory listing is delivery order too.
        self.dir.join(format!("{seq:020}.{ITEM_EXT}"))
    }

    fn write(&self, seq: u64, item: &T, spooled_at_ms: u64) -> Result<u64, RecordsError> {
        let path = self.path(seq);
        let json = serde_json::to_vec(&Envelope { seq, spooled_at_ms, item }).map_err(RecordsError::Encode)?;
        let tmp = path.with_extension(TMP_EXT);
        let written = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename is durable once the directory is.
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(RecordsError::io(&path, e));
        }
        Ok(json.len() as u64)
    }
}

fn read_envelope<T: DeserializeOwned>(path: &Path) -> Result<Envelope<T>, RecordsError> {
    let bytes = std::fs::read(path).map_err(|e| RecordsError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| RecordsError::Corrupt(path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::<String>::open(dir.path()).unwrap();
        assert!(spool.is_empty());
        for (i, text) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(spool.push(&text.to_string(), 1000 + i as u64).unwrap(), i as u64 + 1);
        }
        spool.remove(1).unwrap();
        // A crash mid-write leaves a temporary file: it is no item.
        std::fs::write(dir.path().join("00000000000000000009.tmp"), b"{half").unwrap();
        drop(spool);

        let mut reopened = Spool::<String>::open(dir.path()).unwrap();
        let backlog = reopened.backlog();
        assert_eq!((backlog.items, backlog.oldest_ms), (2, Some(1001)));
        assert!(backlog.bytes > 0);
        assert_eq!(reopened.front().unwrap().unwrap().1, "b");
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
        // New items follow the old ones.
        assert_eq!(reopened.push(&"d".to_string(), 2000).unwrap(), 4);
        let order: Vec<String> = reopened.entries().map(|e| reopened.read(e.seq).unwrap()).collect();
        assert_eq!(order, ["b", "c", "d"]);
    }

    #[test]
    fn replace_keeps_place_and_reject_moves_aside() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::<String>::open(dir.path()).unwrap();
        spool.push(&"x".to_string(), 5).unwrap();
        spool.push(&"y".to_string(), 6).unwrap();
        spool.replace(1, &"x2".to_string()).unwrap();
        assert_eq!(spool.front().unwrap().unwrap().1, "x2");
        assert_eq!(spool.front().unwrap().unwrap().0.spooled_at_ms, 5);
        spool.reject(1).unwrap();
        assert_eq!(spool.front().unwrap().unwrap().1, "y");
        assert!(dir.path().join("rejected/00000000000000000001.item").exists());
        assert!(matches!(spool.replace(1, &"z".to_string()), Err(RecordsError::Missing(1))));
        spool.remove(2).unwrap();
        spool.remove(2).unwrap();
        assert!(spool.is_empty());
    }
}
