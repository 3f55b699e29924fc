//! The filesystem blob store: `<root>/<bucket>/<key>`, the default when no S3 server is configured. Objects
//! are written to a temporary file beside the buckets and renamed into place, so a reader never sees half
//! of one.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::key::{validate_bucket, validate_key};
use crate::{BlobError, BlobMeta, BlobRead, BlobReader, BlobStore, Bucket, ByteRange};

/// Directory under the root for uploads in progress (a name no bucket can have: bucket names start with a
/// letter or digit).
const TMP_DIR: &str = ".partial";

/// Objects as files under a directory.
#[derive(Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    links: Option<LinkSigner>,
}

/// Signs links to objects served by the API (`<base>/<bucket>/<key>?expires=<unix>&signature=<hex>`).
#[derive(Clone)]
struct LinkSigner {
    base_url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore")
            .field("root", &self.root)
            .field("links", &self.links.as_ref().map(|l| &l.base_url))
            .finish()
    }
}

impl FsBlobStore {
    /// Objects under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), links: None }
    }

    /// Signed links point at `base_url` (the API route that serves them, e.g.
    /// `https://host/api/v1/blobs`) and are signed with `key` (derive it from the master key).
    pub fn with_links(mut self, base_url: &str, key: Vec<u8>) -> Self {
        self.links = Some(LinkSigner { base_url: base_url.trim_end_matches('/').to_string(), key });
        self
    }

    /// Whether a link's `expires` and `signature` query values are this store's for `bucket/key` and the
    /// link has not expired at `now`: what the route serving [`BlobStore::signed_get_url`]'s links checks.
    pub fn verify_link(&self, bucket: &str, key: &str, expires: u64, signature: &str, now: SystemTime) -> bool {
        let Some(links) = &self.links else { return false };
        let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(u64::MAX);
        let Some(given) = decode_hex(signature) else { return false };
        now <= expires && links.mac(bucket, key, expires).verify_slice(&given).is_ok()
    }

    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        Ok(self.root.join(bucket).join(key))
    }
}

impl LinkSigner {
    fn mac(&self, bucket: &str, key: &str, expires: u64) -> Hmac<Sha256> {
        // Keys are HMAC's own size or hashed by it: no length can fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{bucket}\n{key}\n{expires}").as_bytes());
        mac
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn describe(&self) -> String {
        format!("filesystem {}", self.root.display())
    }

    fn bucket_name(&self, bucket: Bucket) -> String {
        bucket.as_str().to_string()
    }

    fn url(&self, bucket: &str, key: &str) -> String {
        format!("fs://{bucket}/{key}")
    }

    async fn ensure_buckets(&self) -> Result<(), BlobError> {
        for bucket in Bucket::ALL {
            let dir = self.root.join(bucket.as_str());
            tokio::fs::create_dir_all(&dir).await.map_err(|e| BlobError::io(&dir, e))?;
        }
        Ok(())
    }

    async fn put_stream(&self, bucket: &str, key: &str, mut body: BlobReader) -> Result<(), BlobError> {
        let path = self.path(bucket, key)?;
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir).await.map_err(|e| BlobError::io(&tmp_dir, e))?;
        let tmp = tmp_dir.join(format!("{:016x}", rand::random::<u64>()));
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            tokio::io::copy(&mut body, &mut file).await?;
            file.flush().await?;
            file.sync_all().await?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(BlobError::io(&path, e));
        }
        Ok(())
    }

    /// A rename when the file and the store share a disk (the data dir's segment files do); else a copy.
    async fn move_file(&self, bucket: &str, key: &str, from: &Path) -> Result<(), BlobError> {
        let path = self.path(bucket, key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| BlobError::io(dir, e))?;
        }
        match tokio::fs::rename(from, &path).await {
            Ok(()) => {
                // The rename is durable once the bucket's directory is.
                if let Some(dir) = path.parent() {
                    let dir = dir.to_path_buf();
                    let synced = tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all()).await;
                    if let Ok(Err(e)) = synced {
                        return Err(BlobError::io(&path, e));
                    }
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::io(from, e)),
            // Another disk (EXDEV) or a rename the system refuses: copy, then remove.
            Err(_) => {
                let file = tokio::fs::File::open(from).await.map_err(|e| BlobError::io(from, e))?;
                self.put_stream(bucket, key, Box::pin(file)).await?;
                match tokio::fs::remove_file(from).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(BlobError::io(from, e)),
                }
            }
        }
    }

    async fn get(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let path = self.path(bucket, key)?;
        let not_found = || BlobError::NotFound { bucket: bucket.to_string(), key: key.to_string() };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(BlobError::io(&path, e)),
        };
        let meta = file.metadata().await.map_err(|e| BlobError::io(&path, e))?;
        if !meta.is_file() {
            return Err(not_found());
        }
        let total = meta.len();
        let (start, end) = match range {
            None => (0, total),
            Some(range) => range.resolve(total).ok_or(BlobError::RangeNotSatisfiable { total })?,
        };
        file.seek(SeekFrom::Start(start)).await.map_err(|e| BlobError::io(&path, e))?;
        Ok(BlobRead { reader: Box::pin(file.take(end - start)), total_len: total, start, end })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(BlobMeta {
                key: key.to_string(),
                len: meta.len(),
                modified: meta.modified().map_err(|e| BlobError::io(&path, e))?,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::io(&path, e)),
        }
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BlobError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::io(&path, e)),
        }
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        validate_bucket(bucket)?;
        let dir = self.root.join(bucket);
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk(&dir, "", &prefix, &mut found)?;
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
        .map_err(|_| BlobError::Cancelled)?
    }

    fn signed_get_url(&self, bucket: &str, key: &str, ttl: Duration, now: SystemTime) -> Result<String, BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let links = self.links.as_ref().ok_or(BlobError::LinksUnsupported)?;
        let expires = (now + ttl).duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let signature = encode_hex(&links.mac(bucket, key, expires).finalize().into_bytes());
        Ok(format!("{}/{bucket}/{key}?expires={expires}&signature={signature}", links.base_url))
    }
}

/// Collects the files under `dir` (keys relative to the bucket, `/`-separated) whose keys start with `prefix`,
/// descending only into directories that can hold such keys.
fn walk(dir: &Path, rel: &str, prefix: &str, found: &mut Vec<BlobMeta>) -> Result<(), BlobError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BlobError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| BlobError::io(dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let key = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let file_type = entry.file_type().map_err(|e| BlobError::io(entry.path(), e))?;
        if file_type.is_dir() {
            // `key/` may hold matches if either is a prefix of the other.
            let dir_key = format!("{key}/");
            if dir_key.starts_with(prefix) || prefix.starts_with(&dir_key) {
                walk(&entry.path(), &key, prefix, found)?;
            }
        } else if file_type.is_file() && key.starts_with(prefix) {
            let meta = entry.metadata().map_err(|e| BlobError::io(entry.path(), e))?;
            let modified = meta.modified().map_err(|e| BlobError::io(entry.path(), e))?;
            found.push(BlobMeta { key, len: meta.len(), modified });
        }
    }
    Ok(())
}

pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(read: BlobRead) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = read.reader;
        reader.read_to_end(&mut out).await.unwrap();
        out
    }

    fn store() -> (tempfile::TempDir, FsBlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path().join("blobs"));
        (dir, store)
    }

    #[tokio::test]
    async fn objects_round_trip_whole_and_by_range() {
        let (_dir, store) = store();
        store.ensure_buckets().await.unwrap();
        let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        store.put_bytes("recordings", "2026-11-25/a.wav", body.clone()).await.unwrap();
        assert_eq!(read_all(store.get("recordings", "2026-11-25/a.wav", None).await.unwrap()).await, body);

        let read = store.get("recordings", "2026-11-25/a.wav", Some(ByteRange::Inclusive(100, 199))).await.unwrap();
        assert_eq!((read.start, read.end, read.total_len), (100, 200, 10_000));
        assert_eq!(read_all(read).await, &body[100..200]);
        let tail = store.get("recordings", "2026-11-25/a.wav", Some(ByteRange::Suffix(10))).await.unwrap();
        assert_eq!(read_all(tail).await, &body[9_990..]);
        let err = store.get("recordings", "2026-11-25/a.wav", Some(ByteRange::From(10_000))).await.unwrap_err();
        assert!(matches!(err, BlobError::RangeNotSatisfiable { total: 10_000 }), "{err}");

        let meta = store.head("recordings", "2026-11-25/a.wav").await.unwrap().unwrap();
        assert_eq!(meta.len, 10_000);
        assert!(store.head("recordings", "2026-11-25/b.wav").await.unwrap().is_none());
        assert!(store.get("recordings", "nope", None).await.unwrap_err().is_not_found());
        store.delete("recordings", "2026-11-25/a.wav").await.unwrap();
        store.delete("recordings", "2026-11-25/a.wav").await.unwrap();
        assert!(store.head("recordings", "2026-11-25/a.wav").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn listing_by_prefix_and_retention() {
        let (_dir, store) = store();
        for key in ["org1/2026-01-01/a", "org1/2026-01-02/b", "org10/x", "org2/y", "top"] {
            store.put_bytes("transcripts", key, key.as_bytes().to_vec()).await.unwrap();
        }
        let keys = |list: Vec<BlobMeta>| list.into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(keys(store.list("transcripts", "org1/").await.unwrap()), ["org1/2026-01-01/a", "org1/2026-01-02/b"]);
        assert_eq!(
            keys(store.list("transcripts", "org1").await.unwrap()),
            ["org1/2026-01-01/a", "org1/2026-01-02/b", "org10/x"]
        );
        assert_eq!(keys(store.list("transcripts", "org1/2026-01-0").await.unwrap()).len(), 2);
        assert_eq!(keys(store.list("transcripts", "").await.unwrap()).len(), 5);
        assert!(store.list("knowledge", "").await.unwrap().is_empty());

        // Nothing under org1/ is older than an hour ago; all of it is older than an hour ahead.
        let now = SystemTime::now();
        assert_eq!(store.delete_older_than("transcripts", "org1/", now - Duration::from_secs(3600)).await.unwrap(), 0);
        assert_eq!(store.delete_older_than("transcripts", "org1/", now + Duration::from_secs(3600)).await.unwrap(), 2);
        assert_eq!(keys(store.list("transcripts", "").await.unwrap()), ["org10/x", "org2/y", "top"]);
    }

    #[tokio::test]
    async fn keys_and_buckets_cannot_reach_outside_the_store() {
        let (dir, store) = store();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        for key in ["../secret", "../../secret", "a/../../../secret", "/etc/passwd", ""] {
            assert!(matches!(store.get("recordings", key, None).await, Err(BlobError::InvalidKey(_))), "{key}");
            assert!(store.put_bytes("recordings", key, vec![1]).await.is_err(), "{key}");
            assert!(store.delete("recordings", key).await.is_err(), "{key}");
        }
        assert!(matches!(store.get("..", "secret", None).await, Err(BlobError::InvalidBucket(_))));
        assert!(matches!(store.list("../blobs", "").await, Err(BlobError::InvalidBucket(_))));
        assert_eq!(std::fs::read(dir.path().join("secret")).unwrap(), b"x");
    }

    #[test]
    fn signed_links_verify_until_they_expire() {
        let store = FsBlobStore::new("/nonexistent").with_links("https://host/api/v1/blobs/", vec![7; 32]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let url = store.signed_get_url("recordings", "a/b.wav", Duration::from_secs(300), now).unwrap();
        let query = url.strip_prefix("https://host/api/v1/blobs/recordings/a/b.wav?").unwrap();
        let (expires, signature) = query.split_once('&').unwrap();
        let expires: u64 = expires.strip_prefix("expires=").unwrap().parse().unwrap();
        let signature = signature.strip_prefix("signature=").unwrap();
        assert_eq!(expires, 1_000_300);
        assert!(store.verify_link("recordings", "a/b.wav", expires, signature, now));
        assert!(!store.verify_link("recordings", "a/c.wav", expires, signature, now));
        assert!(!store.verify_link("recordings", "a/b.wav", expires + 1, signature, now));
        assert!(!store.verify_link("recordings", "a/b.wav", expires, signature, now + Duration::from_secs(301)));
        assert!(FsBlobStore::new("/x").signed_get_url("recordings", "k", Duration::from_secs(1), now).is_err());
    }
}
