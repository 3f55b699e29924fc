//! Blob storage: call recordings, transcripts and knowledge documents, on the filesystem under the data dir
//! (the default: nothing to set up) or on any S3-compatible server (MinIO, SeaweedFS, AWS, R2, s3s), behind
//! one [`BlobStore`] trait.
//!
//! Objects live in three buckets ([`Bucket`]); an S3 deployment may prefix their names
//! (`VOICERA_S3_BUCKET_PREFIX`). A stored object is named by a URL that records keep (`s3://bucket/key`,
//! `fs://bucket/key`; the original VoicEra's `minio://bucket/key` links are read as S3 objects), resolved back
//! with [`parse_blob_url`]. Uploads stream: a file or reader is sent in parts of [`PART_SIZE`], so a one-hour
//! recording never sits whole in memory. The [`recording`] module stores calls' stereo recordings through the
//! conversation's `RecordingSink` (WAV, or Opus in Ogg; feature `recording`, on by default).

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::AsyncRead;

mod config;
mod fs;
mod key;
mod ogg;
#[cfg(feature = "recording")]
pub mod recording;
mod s3;
pub mod salvage;

pub use config::{S3Config, S3ConfigError, UrlStyle};
pub use fs::FsBlobStore;
pub use key::validate_key;
pub use ogg::OggOpusWriter;
pub use s3::S3BlobStore;

/// Size of one part of a multipart upload: S3's minimum for every part but the last is 5 MiB; 8 MiB keeps a
/// one-hour stereo WAV (≈ 230 MB) well under the 10 000-part limit while holding one part in memory at a time.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The buckets VoiceERA-rs keeps objects in, named as the original did (`recordings`, `transcripts`) so its data
/// migrates as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Calls' stereo recordings (WAV or Ogg Opus).
    Recordings,
    /// Calls' transcripts (`[ISO ts] role: text` lines).
    Transcripts,
    /// Uploaded knowledge-base documents.
    Knowledge,
}

impl Bucket {
    /// Every bucket, for creating them at start-up.
    pub const ALL: [Bucket; 3] = [Bucket::Recordings, Bucket::Transcripts, Bucket::Knowledge];

    /// The bucket's name before any deployment prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Recordings => "recordings",
            Bucket::Transcripts => "transcripts",
            Bucket::Knowledge => "knowledge",
        }
    }
}

/// A byte range of an object, as an HTTP `Range: bytes=` header asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, both inclusive (`last` past the end means to the end).
    Inclusive(u64, u64),
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open span `[start, end)` this range selects of an object of `total` bytes; `None` when it
    /// selects nothing (HTTP 416).
    pub fn resolve(self, total: u64) -> Option<(u64, u64)> {
        let (start, end) = match self {
            ByteRange::Inclusive(first, last) => (first, last.saturating_add(1).min(total)),
            ByteRange::From(first) => (first, total),
            ByteRange::Suffix(n) => (total.saturating_sub(n), total),
        };
        (start < end && (!matches!(self, ByteRange::Suffix(0)))).then_some((start, end))
    }

    /// The value of an HTTP `Range` header asking for this range.
    pub fn header_value(self) -> String {
        match self {
            ByteRange::Inclusive(first, last) => format!("bytes={first}-{last}"),
            ByteRange::From(first) => format!("bytes={first}-"),
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

/// What is known of a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The object's key in its bucket.
    pub key: String,
    /// Its length in bytes.
    pub len: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// A reader of (part of) an object's bytes.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object being read: its bytes (the whole object or the requested range) and where they sit in it.
pub struct BlobRead {
    /// The selected bytes, `end - start` of them.
    pub reader: BlobReader,
    /// The whole object's length (for `Content-Range`).
    pub total_len: u64,
    /// First byte served.
    pub start: u64,
    /// One past the last byte served.
    pub end: u64,
}

impl std::fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRead")
            .field("total_len", &self.total_len)
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The key is empty, absolute, or climbs out of its bucket (`..`).
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    /// The bucket name is not one S3 accepts (or names a directory outside the store).
    #[error("invalid bucket name {0:?}")]
    InvalidBucket(String),
    /// No such object.
    #[error("no object {bucket}/{key}")]
    NotFound {
        /// The bucket looked in.
        bucket: String,
        /// The key asked for.
        key: String,
    },
    /// The range asked for lies outside the object (HTTP 416).
    #[error("range not satisfiable: the object has {total} bytes")]
    RangeNotSatisfiable {
        /// The object's length.
        total: u64,
    },
    /// A URL that names no object this store can read.
    #[error("not a blob URL this store reads: {0:?}")]
    UnsupportedUrl(String),
    /// This store cannot make signed links (a filesystem store without a link key).
    #[error("this blob store cannot sign links")]
    LinksUnsupported,
    /// The S3 server answered with an error status.
    #[error("S3 {operation} {bucket}/{key}: HTTP {status} {code}")]
    S3Status {
        /// What was being done (`PUT`, `GET`, `UploadPart`, ...).
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key (empty for bucket operations).
        key: String,
        /// The HTTP status.
        status: u16,
        /// The S3 error code from the body (`NoSuchBucket`, `SignatureDoesNotMatch`, ...), if any.
        code: String,
    },
    /// The S3 server could not be reached or broke off.
    #[error("S3 {operation} {bucket}/{key}: {source}")]
    S3Transport {
        /// What was being done.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The HTTP client's error.
        source: Box<ureq::Error>,
    },
    /// The S3 server's answer could not be understood.
    #[error("S3 {operation}: unexpected response: {detail}")]
    S3Protocol {
        /// What was being done.
        operation: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A local file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A blocking task was cancelled (the runtime is shutting down).
    #[error("blob task cancelled")]
    Cancelled,
}

impl BlobError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        BlobError::Io { path: path.as_ref().display().to_string(), source }
    }

    /// Whether the object simply is not there (as opposed to the store failing).
    pub fn is_not_found(&self) -> bool {
        matches!(self, BlobError::NotFound { .. })
    }
}

/// Where recordings, transcripts and documents are kept. Keys are `/`-separated relative paths
/// ([`validate_key`]); bucket arguments are full bucket names ([`BlobStore::bucket_name`]), so links imported
/// from the original (`minio://recordings/...`) read as they are.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// A line for logs saying what the store is (no credentials).
    fn describe(&self) -> String;

    /// The full name of one of VoiceERA-rs's buckets (with the deployment's prefix).
    fn bucket_name(&self, bucket: Bucket) -> String;

    /// The URL a record keeps for an object (`s3://bucket/key` or `fs://bucket/key`).
    fn url(&self, bucket: &str, key: &str) -> String;

    /// Creates VoiceERA-rs's buckets where missing.
    async fn ensure_buckets(&self) -> Result<(), BlobError>;

    /// Stores an object read from `body` to its end, streaming (one [`PART_SIZE`] part in memory at a time).
    /// The object appears whole or not at all.
    async fn put_stream(&self, bucket: &str, key: &str, body: BlobReader) -> Result<(), BlobError>;

    /// Reads an object, or the `range` of it.
    async fn get(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError>;

    /// The object's length and age, or `None` when there is no such object.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<BlobMeta>, BlobError>;

    /// Deletes an object; deleting a missing object is no error.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BlobError>;

    /// The objects whose keys start with `prefix`, in key order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<BlobMeta>, BlobError>;

    /// A link anyone can GET the object with until `now + ttl` (S3: a presigned URL; filesystem: a link to
    /// the API signed with the store's link key).
    fn signed_get_url(&self, bucket: &str, key: &str, ttl: Duration, now: SystemTime) -> Result<String, BlobError>;

    /// Stores a local file as an object, streaming.
    async fn put_file(&self, bucket: &str, key: &str, path: &Path) -> Result<(), BlobError> {
        let file = tokio::fs::File::open(path).await.map_err(|e| BlobError::io(path, e))?;
        self.put_stream(bucket, key, Box::pin(file)).await
    }

    /// Stores a local file as an object and removes the file: a recording's segment file once its call is
    /// over. The default uploads and then removes; the filesystem store renames the file into place when it
    /// is on the same disk (no copy of an hour of audio). A file that is gone is an error, the object intact.
    async fn move_file(&self, bucket: &str, key: &str, path: &Path) -> Result<(), BlobError> {
        self.put_file(bucket, key, path).await?;
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            // Removed by a concurrent retry of the same upload: the object is there all the same.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::io(path, e)),
        }
    }

    /// Stores bytes held in memory (small objects: transcripts, records).
    async fn put_bytes(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.put_stream(bucket, key, Box::pin(std::io::Cursor::new(bytes))).await
    }

    /// Retention: deletes the objects under `prefix` last written before `cutoff`; returns how many.
    async fn delete_older_than(&self, bucket: &str, prefix: &str, cutoff: SystemTime) -> Result<usize, BlobError> {
        let mut deleted = 0;
        for meta in self.list(bucket, prefix).await? {
            if meta.modified < cutoff {
                self.delete(bucket, &meta.key).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// Uploads a local file as `bucket/key` and returns the object's URL: what a spool calls to retry a recording
/// whose upload failed at the end of its call. The file is left in place; the caller removes it once the
/// URL is recorded.
pub async fn upload_file(store: &dyn BlobStore, bucket: &str, key: &str, path: &Path) -> Result<String, BlobError> {
    validate_key(key)?;
    let started = std::time::Instant::now();
    store.put_file(bucket, key, path).await?;
    tracing::debug!(bucket, key, ms = started.elapsed().as_millis() as u64, "blob uploaded");
    Ok(store.url(bucket, key))
}

/// How an object URL is read: which kind of store, which bucket, which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUrl {
    /// `s3` for `s3://` and `minio://` links, `fs` for the filesystem store's.
    pub scheme: &'static str,
    /// The full bucket name.
    pub bucket: String,
    /// The key in it.
    pub key: String,
}

/// Parses an object URL a record keeps: `s3://bucket/key`, `minio://bucket/key` (records imported from the
/// original VoicEra; read from S3) or `fs://bucket/key`.
pub fn parse_blob_url(url: &str) -> Result<BlobUrl, BlobError> {
    let unsupported = || BlobError::UnsupportedUrl(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(unsupported)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3" | "minio" => "s3",
        "fs" => "fs",
        _ => return Err(unsupported()),
    };
    let (bucket, key) = rest.split_once('/').ok_or_else(unsupported)?;
    if bucket.is_empty() {
        return Err(unsupported());
    }
    validate_key(key)?;
    Ok(BlobUrl { scheme, bucket: bucket.to_string(), key: key.to_string() })
}

/// Reads an object by the URL a record keeps, from `store` when it is the kind of store the URL names.
pub async fn get_url(store: &dyn BlobStore, url: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
    let parsed = parse_blob_url(url)?;
    if !store.url(&parsed.bucket, &parsed.key).starts_with(&format!("{}://", parsed.scheme)) {
        return Err(BlobError::UnsupportedUrl(url.to_string()));
    }
    store.get(&parsed.bucket, &parsed.key, range).await
}

/// Opens the node's blob store: S3 when `s3` is configured (creating the buckets that are missing), else the
/// filesystem under `<data_dir>/blobs`. A server that refuses us (bad credentials, a bucket name taken by
/// someone else) is an error: the configuration is wrong. A server that cannot be reached is not: calls go on,
/// their recordings wait on local disk for it, and the buckets are made by whichever node reaches it first.
pub async fn open(data_dir: &Path, s3: Option<&S3Config>) -> Result<Arc<dyn BlobStore>, BlobError> {
    let store: Arc<dyn BlobStore> = match s3 {
        Some(config) => Arc::new(S3BlobStore::new(config.clone())?),
        None => Arc::new(FsBlobStore::new(data_dir.join("blobs"))),
    };
    match store.ensure_buckets().await {
        Ok(()) => tracing::info!(blobs = %store.describe(), "blob store open"),
        Err(err @ BlobError::S3Transport { .. }) => tracing::error!(
            blobs = %store.describe(),
            %err,
            "blob store unreachable at start: recordings stay on local disk until their upload succeeds"
        ),
        Err(err) => return Err(err),
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_http() {
        assert_eq!(ByteRange::Inclusive(0, 9).resolve(100), Some((0, 10)));
        assert_eq!(ByteRange::Inclusive(90, 200).resolve(100), Some((90, 100)));
        assert_eq!(ByteRange::From(40).resolve(100), Some((40, 100)));
        assert_eq!(ByteRange::Suffix(10).resolve(100), Some((90, 100)));
        assert_eq!(ByteRange::Suffix(500).resolve(100), Some((0, 100)));
        assert_eq!(ByteRange::From(100).resolve(100), None);
        assert_eq!(ByteRange::Suffix(0).resolve(100), None);
        assert_eq!(ByteRange::Inclusive(5, 9).header_value(), "bytes=5-9");
    }

    #[test]
    fn urls_of_both_stores_and_of_the_original_parse() {
        let url = parse_blob_url("minio://recordings/2024/call.wav").unwrap();
        assert_eq!(url, BlobUrl { scheme: "s3", bucket: "recordings".into(), key: "2024/call.wav".into() });
        assert_eq!(parse_blob_url("fs://transcripts/a.txt").unwrap().scheme, "fs");
        assert!(parse_blob_url("http://x/y").is_err());
        assert!(parse_blob_url("s3://recordings/../etc/passwd").is_err());
        assert!(parse_blob_url("s3:///key").is_err());
    }
}
