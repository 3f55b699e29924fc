//! Call records in the store, and a spool that loses none of them.
//!
//! Every agent call, whatever its transport, becomes a call-log document in the store (the original's
//! `CallLogs` shape, [`call_log`]): written when the call starts (`status: "in-progress"`) and completed
//! when it ends, through the [`sink::StoreRecordingSink`] that the journal reports both to. The writes leave
//! the call at once for a background [`writer`] that delivers them in order; when the store is down or slow
//! they wait in a local [`spool`] (fsync'd files under `<data-dir>/spool/`) and a reconciler delivers them
//! with [`backoff`] once it is back, exactly once ([`item`]: idempotent upserts keyed by the call's record
//! id). A node that died mid-call closes its orphans on the next start, by its [`node`] id.
//!
//! Recordings and transcripts go to the blob store the same way, through a spool of their own ([`blobs`]),
//! and [`retention`] deletes a call's objects and log together once its org's retention has passed.
//!
//! Crate map: `spool.rs` the directory of items · `backoff.rs` retry timing (sans-IO) · `writer.rs` the
//! queue, the writer task and its metrics · `item.rs` what is spooled and how each kind reaches the store,
//! the orphan sweeps · `blobs.rs` uploads to the blob store and their spool · `call_log.rs` the document and
//! transcript · `sink.rs` the recording sink · `retention.rs` the retention sweeper · `recovery.rs` recordings and transcripts a killed run left · `live_transcript.rs` transcripts written as calls run · `node.rs` the node id.

#![forbid(unsafe_code)]

pub mod backoff;
pub mod blobs;
pub mod call_log;
pub mod item;
pub mod live_transcript;
pub mod node;
pub mod orgs;
pub mod recovery;
pub mod retention;
pub mod sink;
pub mod spool;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voicera_conversation::recorder::RecordingSink;
use voicera_store::Store;

pub use blobs::{BlobUpload, BlobUploads};
pub use item::{CallLogWrite, SpoolItem, StoreDelivery};
pub use orgs::{AgentOrgs, CallOrgs};
pub use sink::StoreRecordingSink;
pub use spool::Spool;
pub use writer::{RecordWriter, WriterConfig};

/// What went wrong with the spool or the node id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// A file or directory of the spool (or the node id file) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An item could not be encoded as JSON.
    #[error("cannot encode a spool item: {0}")]
    Encode(serde_json::Error),
    /// A spool file does not hold a valid item.
    #[error("spool file {0} is not a valid item: {1}")]
    Corrupt(String, serde_json::Error),
    /// The spool has no item with this sequence number.
    #[error("no spool item {0}")]
    Missing(u64),
    /// A blocking spool task panicked or was cancelled.
    #[error("spool task failed: {0}")]
    Task(String),
}

impl RecordsError {
    fn io(path: &Path, source: std::io::Error) -> RecordsError {
        RecordsError::Io { path: path.display().to_string(), source }
    }
}

/// Unix milliseconds now (spool ages and orphan closing times; retries use tokio's clock): the store's one
/// wall-clock helper, named here for this crate's users.
pub use voicera_store::unix_ms;

/// How a node keeps its call records.
#[derive(Debug, Clone)]
pub struct RecordsConfig {
    /// The spool's directory (`<data-dir>/spool`; blob uploads spool in its `blobs/`).
    pub spool_dir: PathBuf,
    /// This node's id ([`node::node_id`]).
    pub node_id: String,
    /// The org of calls whose agent has none of its own (the built-in agents, `[[agents]]` from
    /// voicera.toml); a store agent's calls go to its org ([`StoreRecordingSink::agent_orgs`]).
    pub org_id: String,
    /// Queue and retry timing.
    pub writer: WriterConfig,
    /// Where recordings' segment files are written (`<data-dir>/recordings`): the files a killed run left
    /// there are completed, uploaded and linked to their calls' logs at start ([`recovery`]). `None`: no
    /// recovery (a node that records nothing).
    pub segments_dir: Option<PathBuf>,
}

/// A node's running call records: the sink for the transports, the writer for `/metrics` and `/health`.
pub struct Records {
    /// The sink every transport's journal reports to.
    pub sink: Arc<StoreRecordingSink>,
    /// The writer, for the backlog and the degraded state.
    pub writer: RecordWriter<SpoolItem>,
    /// The writer task; await it after shutdown so queued records reach the spool.
    pub task: tokio::task::JoinHandle<()>,
    /// Uploads of recordings and transcripts, for the backlog and the degraded state.
    pub uploads: BlobUploads,
    /// The uploads' writer task; await it after shutdown too.
    pub uploads_task: tokio::task::JoinHandle<()>,
    /// What this start recovered of the calls a killed run left (recordings, transcripts, quarantined
    /// files), for `/metrics`.
    pub recovered: recovery::Leftovers,
    /// The calls this start closed as orphans (`end_reason: "node_restarted"`), their closing logs with what
    /// was recovered of them linked in: each still owes its customer a `call.ended`.
    pub closed_orphans: Vec<CallLogWrite>,
}

/// How long the start-up sweep may take before the node starts without it (logged).
const SWEEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a node's blob uploads: the spool under `<spool_dir>/blobs` (resumed from the last run) and its
/// writer on `blobs`. Run before the recording sink is made: its segment files go through them.
pub async fn start_uploads(
    spool_dir: &Path,
    store: Arc<dyn voicera_blob::BlobStore>,
    shutdown: CancellationToken,
) -> Result<(BlobUploads, tokio::task::JoinHandle<()>), RecordsError> {
    BlobUploads::start(spool_dir.join("blobs"), store, blobs::blob_writer_config(), shutdown).await
}

/// Starts a node's call records: opens the spool (closing calls the last run left open in it), starts the
/// writer on `store`, closes this node's orphans in the store, and wraps `files` (records and recordings)
/// in the store sink, with transcripts through `uploads` (from [`start_uploads`]). Run before the node
/// takes calls.
pub async fn start(
    config: RecordsConfig,
    store: Store,
    files: Arc<dyn RecordingSink>,
    uploads: (BlobUploads, tokio::task::JoinHandle<()>),
    shutdown: CancellationToken,
) -> Result<Records, RecordsError> {
    // Recordings a killed run left half-written: completed and queued before anything else is uploaded.
    let (uploads, uploads_task) = uploads;
    let leftovers = match config.segments_dir.clone() {
        Some(dir) => {
            let recovering = uploads.clone();
            tokio::task::spawn_blocking(move || recovery::recover_segments(&dir, &recovering))
                .await
                .map_err(|e| RecordsError::Task(e.to_string()))?
        }
        None => recovery::Leftovers::default(),
    };
    if !leftovers.is_empty() {
        tracing::info!(
            recordings = leftovers.len(),
            transcripts = leftovers.transcripts(),
            "recordings and transcripts of calls the last run lost: uploading them"
        );
    }
    let spool_dir = config.spool_dir.clone();
    let spooled_leftovers = leftovers.clone();
    let (spool, mut closed_orphans) = tokio::task::spawn_blocking(move || -> Result<_, RecordsError> {
        let mut spool = Spool::open(spool_dir)?;
        let closed = item::close_spooled_orphans(&mut spool, unix_ms(), &spooled_leftovers)?;
        let backlog = spool.backlog();
        if backlog.items > 0 {
            tracing::info!(
                items = backlog.items,
                bytes = backlog.bytes,
                closed = closed.len(),
                "spooled records from the last run: delivering them"
            );
        }
        Ok((spool, closed))
    })
    .await
    .map_err(|e| RecordsError::Task(e.to_string()))??;
    let (writer, task) = RecordWriter::spawn(config.writer, spool, StoreDelivery::new(store.clone()), shutdown);
    match tokio::time::timeout(SWEEP_TIMEOUT, item::orphans_in_store(&store, &config.node_id, unix_ms(), &leftovers))
        .await
    {
        Ok(Ok(orphans)) => {
            if !orphans.is_empty() {
                tracing::info!(calls = orphans.len(), node_id = %config.node_id, "closing calls left in progress by this node's last run");
            }
            closed_orphans.extend(orphans.iter().map(|o| o.call_log().clone()));
            let submitter = writer.clone();
            let _ = tokio::task::spawn_blocking(move || orphans.into_iter().for_each(|o| submitter.submit(o))).await;
        }
        Ok(Err(err)) => tracing::warn!(%err, "cannot look for calls left in progress; they stay open"),
        Err(_) => tracing::warn!("the store did not list calls left in progress in time; they stay open"),
    }
    let mut sink = StoreRecordingSink::new(files, uploads.clone(), writer.clone(), config.org_id, config.node_id);
    if let Some(dir) = &config.segments_dir {
        match live_transcript::LiveTranscripts::start(dir) {
            Ok(live) => sink = sink.with_live_transcripts(live),
            // Calls still keep their transcripts, stored at their end; a kill mid-call loses them.
            Err(err) => tracing::error!(%err, "cannot start the transcript writer: transcripts kept in memory only"),
        }
    }
    Ok(Records { sink: Arc::new(sink), writer, task, uploads, uploads_task, recovered: leftovers, closed_orphans })
}
