//! Recordings and transcripts on their way to the blob store, losing none when it is away.
//!
//! A finished call's recording (its segment file) and transcript (text) are uploaded at once from the thread
//! that stores the call's record, so the call's log is complete (its `recording_url` readable) when the call
//! is reported stored. When that upload fails, or earlier uploads still wait, the object goes to a spool of
//! its own (`<data-dir>/spool/blobs/`, a second [`RecordWriter`]: an S3 outage must not hold up the call
//! logs' deliveries to the store) as a [`BlobUpload`] naming the local file, not its bytes. The writer
//! retries with back-off and uploads in order once the blob store is back; a restart resumes the spool.
//!
//! The URL an object will have is known before it is uploaded, so the call log carries it from the start
//! and stays right whenever the upload lands. Uploads are idempotent (the same key, the same bytes): a crash
//! between an upload and its spool file's removal uploads again, or, when the segment file was already moved
//! into the store, finds the object there and counts it delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use voicera_blob::recording::{RecordingUploadFailed, SegmentUploader};
use voicera_blob::{validate_key, BlobError, BlobStore};

use crate::spool::Spool;
use crate::writer::{Deliver, DeliveryError, RecordWriter, WriterConfig, WriterNames};
use crate::RecordsError;

/// What an object is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum BlobBody {
    /// A local file (a recording's segment file), moved into the store once uploaded.
    File {
        /// The file.
        path: PathBuf,
    },
    /// Text held in the item itself (a transcript: a few kilobytes).
    Text {
        /// The object's content.
        text: String,
    },
}

/// One object to put in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUpload {
    /// The full bucket name.
    pub bucket: String,
    /// The key in it.
    pub key: String,
    /// Its content.
    pub body: BlobBody,
}

/// The blob uploads' logs and `/metrics` names.
pub static BLOB_NAMES: WriterNames = WriterNames {
    dependency: "blob store",
    spool_items: "voicera_blob_spool_items",
    spool_bytes: "voicera_blob_spool_bytes",
    spool_oldest_seconds: "voicera_blob_spool_oldest_seconds",
    delivered_total: "voicera_blob_uploads_total",
    failures_total: "voicera_blob_upload_failures_total",
    rejected_total: "voicera_blob_spool_rejected_total",
    spool_errors_total: "voicera_blob_spool_write_errors_total",
    delivery_seconds: "voicera_blob_upload_seconds",
    spool_held_items: "voicera_blob_spool_held_items",
};

/// The blob writer's timing: one attempt may carry an hour of WAV (230 MB), so it gets the S3 client's own
/// request limit rather than the store writer's seconds.
pub fn blob_writer_config() -> WriterConfig {
    WriterConfig {
        queue: 256,
        attempt_timeout: Duration::from_secs(15 * 60),
        backoff_initial: Duration::from_millis(500),
        backoff_max: Duration::from_secs(30),
        names: &BLOB_NAMES,
    }
}

/// Puts one object: idempotent. A file that is gone was moved into the store by an earlier attempt whose
/// spool file outlived it (a crash in between): the object being there is success; neither being there is
/// [`BlobError::NotFound`] (nothing left to upload, ever).
async fn upload(store: &dyn BlobStore, item: &BlobUpload) -> Result<(), BlobError> {
    validate_key(&item.key)?;
    match &item.body {
        BlobBody::Text { text } => store.put_bytes(&item.bucket, &item.key, text.clone().into_bytes()).await,
        BlobBody::File { path } => {
            let Err(err) = store.move_file(&item.bucket, &item.key, path).await else { return Ok(()) };
            if tokio::fs::try_exists(path).await.unwrap_or(true) {
                return Err(err);
            }
            match store.head(&item.bucket, &item.key).await? {
                Some(_) => Ok(()),
                None => {
                    tracing::error!(%err, path = %path.display(), "a spooled recording's file is gone and not in the store");
                    Err(BlobError::NotFound { bucket: item.bucket.clone(), key: item.key.clone() })
                }
            }
        }
    }
}

/// Which failures retrying cannot cure: a key or bucket the store refuses, a source that is gone.
fn is_permanent(err: &BlobError) -> bool {
    matches!(err, BlobError::InvalidKey(_) | BlobError::InvalidBucket(_) | BlobError::NotFound { .. })
}

/// Delivers [`BlobUpload`]s to a [`BlobStore`] (the blob writer's delivery).
#[derive(Clone)]
pub struct BlobDelivery {
    store: Arc<dyn BlobStore>,
}

impl Deliver<BlobUpload> for BlobDelivery {
    async fn deliver(&self, item: &BlobUpload) -> Result<(), DeliveryError> {
        upload(self.store.as_ref(), item).await.map_err(|err| {
            if is_permanent(&err) {
                DeliveryError::Reject(err.to_string())
            } else {
                DeliveryError::Retry(err.to_string())
            }
        })
    }
}

/// A node's uploads to its blob store: at once when the store answers, else through the blob spool. Cheap to
/// clone.
#[derive(Clone)]
pub struct BlobUploads {
    store: Arc<dyn BlobStore>,
    writer: RecordWriter<BlobUpload>,
    runtime: tokio::runtime::Handle,
    attempt_timeout: Duration,
}

impl BlobUploads {
    /// Opens the blob spool at `spool_dir` (what a previous run left there is uploaded first) and starts its
    /// writer on `store` until `shutdown`. Await the handle after shutdown.
    pub async fn start(
        spool_dir: PathBuf,
        store: Arc<dyn BlobStore>,
        config: WriterConfig,
        shutdown: CancellationToken,
    ) -> Result<(BlobUploads, tokio::task::JoinHandle<()>), RecordsError> {
        let spool = tokio::task::spawn_blocking(move || Spool::<BlobUpload>::open(spool_dir))
            .await
            .map_err(|e| RecordsError::Task(e.to_string()))??;
        let backlog = spool.backlog();
        if backlog.items > 0 {
            tracing::info!(
                items = backlog.items,
                bytes = backlog.bytes,
                "spooled uploads from the last run: uploading them"
            );
        }
        let delivery = BlobDelivery { store: Arc::clone(&store) };
        let (writer, task) = RecordWriter::spawn(config, spool, delivery, shutdown);
        let uploads = BlobUploads {
            store,
            writer,
            runtime: tokio::runtime::Handle::current(),
            attempt_timeout: config.attempt_timeout,
        };
        Ok((uploads, task))
    }

    /// The blob store.
    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// The writer, for `/metrics` and `/health`.
    pub fn writer(&self) -> &RecordWriter<BlobUpload> {
        &self.writer
    }

    /// Puts `item` in the blob store and returns the object's URL: uploaded now when nothing waits in the
    /// spool and the store takes it; else spooled (behind what waits, so uploads keep their order) for the
    /// writer, with the URL it will have. An error only for an object no store would take (a bad key).
    /// Blocking: call from a blocking thread.
    pub fn put(&self, item: BlobUpload) -> Result<String, BlobError> {
        validate_key(&item.key)?;
        let url = self.store.url(&item.bucket, &item.key);
        if !self.writer.degraded() {
            let started = Instant::now();
            let attempt =
                self.runtime.block_on(tokio::time::timeout(self.attempt_timeout, upload(self.store.as_ref(), &item)));
            match attempt {
                Ok(Ok(())) => {
                    self.writer.count_direct(Some(started.elapsed()));
                    return Ok(url);
                }
                Ok(Err(err)) if is_permanent(&err) => return Err(err),
                Ok(Err(err)) => tracing::warn!(%err, %url, "upload failed: spooled for a retry"),
                Err(_) => tracing::warn!(%url, "upload timed out: spooled for a retry"),
            }
            self.writer.count_direct(None);
        }
        self.writer.submit(item);
        Ok(url)
    }
}

/// Recordings' segment files go through the uploads: the recording sink's URL is the object's, uploaded or
/// spooled.
impl SegmentUploader for BlobUploads {
    fn upload(&self, bucket: &str, key: &str, path: PathBuf) -> Result<String, RecordingUploadFailed> {
        let item = BlobUpload {
            bucket: bucket.to_string(),
            key: key.to_string(),
            body: BlobBody::File { path: path.clone() },
        };
        self.put(item).map_err(|source| RecordingUploadFailed {
            bucket: bucket.to_string(),
            key: key.to_string(),
            path,
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicera_blob::FsBlobStore;

    fn writer_config() -> WriterConfig {
        WriterConfig {
            attempt_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            ..blob_writer_config()
        }
    }

    async fn read(store: &dyn BlobStore, bucket: &str, key: &str) -> Option<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let mut read = store.get(bucket, key, None).await.ok()?;
        let mut bytes = Vec::new();
        read.reader.read_to_end(&mut bytes).await.ok()?;
        Some(bytes)
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_fails_spools_uploads_and_they_land_in_order_once_it_is_back_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        // The store's root is a file: every write fails until it is removed.
        let root = dir.path().join("blobs");
        std::fs::write(&root, b"").unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(&root));
        let spool_dir = dir.path().join("spool/blobs");
        let segment = dir.path().join("segments/a.wav");
        std::fs::create_dir_all(segment.parent().unwrap()).unwrap();
        std::fs::write(&segment, b"RIFF-recording").unwrap();

        let shutdown = CancellationToken::new();
        let (uploads, task) =
            BlobUploads::start(spool_dir.clone(), Arc::clone(&store), writer_config(), shutdown.clone()).await.unwrap();
        let (recording_url, transcript_url) = {
            let uploads = uploads.clone();
            let segment = segment.clone();
            tokio::task::spawn_blocking(move || {
                let recording = uploads.upload("recordings", "d/a.wav", segment).unwrap();
                let transcript = uploads
                    .put(BlobUpload {
                        bucket: "transcripts".into(),
                        key: "d/a.txt".into(),
                        body: BlobBody::Text { text: "[t] user: hi\n".into() },
                    })
                    .unwrap();
                (recording, transcript)
            })
            .await
            .unwrap()
        };
        assert_eq!(
            (recording_url.as_str(), transcript_url.as_str()),
            ("fs://recordings/d/a.wav", "fs://transcripts/d/a.txt")
        );
        wait_until("both spooled", || uploads.writer().backlog().items == 2).await;
        assert!(uploads.writer().degraded());
        assert!(segment.exists(), "the recording waits on disk, not in memory");
        let spooled = std::fs::read_dir(&spool_dir).unwrap().count();
        assert!(spooled >= 2, "spool files");
        // The node stops with the store still down: the uploads stay spooled.
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(Spool::<BlobUpload>::open(&spool_dir).unwrap().backlog().items, 2);

        // The store is back; a new run on the same spool uploads both, once each.
        std::fs::remove_file(&root).unwrap();
        let shutdown = CancellationToken::new();
        let (uploads, task) =
            BlobUploads::start(spool_dir.clone(), Arc::clone(&store), writer_config(), shutdown.clone()).await.unwrap();
        wait_until("the spool to drain", || uploads.writer().backlog().items == 0).await;
        assert_eq!(read(store.as_ref(), "recordings", "d/a.wav").await.unwrap(), b"RIFF-recording");
        assert_eq!(read(store.as_ref(), "transcripts", "d/a.txt").await.unwrap(), b"[t] user: hi\n");
        assert!(!segment.exists(), "the segment file was moved into the store");
        assert!(uploads.render_metrics_contains("voicera_blob_uploads_total 2"));

        // A redelivery after a crash that followed the move: the file is gone, the object there: delivered.
        let again = BlobUpload {
            bucket: "recordings".into(),
            key: "d/a.wav".into(),
            body: BlobBody::File { path: segment.clone() },
        };
        let delivery = BlobDelivery { store: Arc::clone(&store) };
        assert_eq!(delivery.deliver(&again).await, Ok(()));
        let lost = BlobUpload { key: "d/lost.wav".into(), ..again };
        assert!(matches!(delivery.deliver(&lost).await, Err(DeliveryError::Reject(_))), "nothing to upload, ever");
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_store_up_an_upload_is_done_before_put_returns() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let shutdown = CancellationToken::new();
        let (uploads, task) =
            BlobUploads::start(dir.path().join("spool"), Arc::clone(&store), writer_config(), shutdown.clone())
                .await
                .unwrap();
        let segment = dir.path().join("seg.ogg");
        std::fs::write(&segment, b"OggS").unwrap();
        let url = {
            let uploads = uploads.clone();
            let segment = segment.clone();
            tokio::task::spawn_blocking(move || uploads.upload("recordings", "x/seg.ogg", segment))
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(url, "fs://recordings/x/seg.ogg");
        assert_eq!(read(store.as_ref(), "recordings", "x/seg.ogg").await.unwrap(), b"OggS");
        assert!(!segment.exists());
        assert_eq!(uploads.writer().backlog().items, 0);
        let bad = {
            let uploads = uploads.clone();
            tokio::task::spawn_blocking(move || {
                uploads.put(BlobUpload {
                    bucket: "recordings".into(),
                    key: "../x".into(),
                    body: BlobBody::Text { text: String::new() },
                })
            })
            .await
            .unwrap()
        };
        assert!(matches!(bad, Err(BlobError::InvalidKey(_))));
        shutdown.cancel();
        task.await.unwrap();
    }

    impl BlobUploads {
        fn render_metrics_contains(&self, line: &str) -> bool {
            self.writer.render_metrics(0).lines().any(|l| l == line)
        }
    }
}
