//! Call records in the store, and a spool that loses none of them.
//!
//! Every agent call, whatever its transport, becomes a call-log document in the store (the original's
//! `CallLogs` shape, [`call_log`]): written when the call starts (`status: "in-progress"`) and completed
//! when it ends, through the [`sink::StoreRecordingSink`] that the journal reports both to. The writes leave
//! the call at once for a background [`writer`] that delivers them in order; when the store is down or slow
//! they wait in a local [`spool`] (fsync'd files under `<data-dir>/spool/`) and a reconciler delivers them
//! with [`backoff`] once it is back, exactly once ([`item`]: idempotent upserts keyed by the call's record
//! id). A call's customer webhook events ride in the same spool behind its log ([`SpoolItem::Event`]). A
//! node that died mid-call closes its orphans on the next start, by its [`node`] id ([`start`] says in
//! which order, and what happens when the store is away then).
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
pub use item::{CallLogWrite, EventMoved, EventOutlet, EventWrite, OrphanEnded, SpoolItem, StoreDelivery};
pub use orgs::{AgentOrgs, CallOrg, CallOrgs, RecordsOrg};
pub use sink::{CallEventSource, StoreRecordingSink};
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
    /// voicera.toml), known now or later; a store agent's calls go to its org
    /// ([`StoreRecordingSink::agent_orgs`]).
    pub records_org: Arc<RecordsOrg>,
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
    /// The writer, for the backlog and the degraded state (and the call events that ride with the logs).
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
}

/// How long the start-up sweep may wait for the store before the node starts without it; the sweep then
/// carries on in the background ([`sweep_when_the_store_answers`]).
const SWEEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The background sweep's first retry and longest wait between retries.
const SWEEP_RETRY_INITIAL: Duration = Duration::from_millis(500);
const SWEEP_RETRY_MAX: Duration = Duration::from_secs(30);

/// Starts a node's blob uploads: the spool under `<spool_dir>/blobs` (resumed from the last run) and its
/// writer on `blobs`. Run before the recording sink is made: its segment files go through them.
pub async fn start_uploads(
    spool_dir: &Path,
    store: Arc<dyn voicera_blob::BlobStore>,
    shutdown: CancellationToken,
) -> Result<(BlobUploads, tokio::task::JoinHandle<()>), RecordsError> {
    BlobUploads::start(spool_dir.join("blobs"), store, blobs::blob_writer_config(), shutdown).await
}

/// Starts a node's call records: opens the spool (closing calls the last run left open in it), closes this
/// node's orphans in the store, starts the writer on `store`, and wraps `files` (records and recordings) in
/// the store sink, with transcripts through `uploads` (from [`start_uploads`]). Call events (`events`) ride
/// in the writer's spool with the logs. Run before the node takes calls.
///
/// The order matters. The sweep runs before the writer delivers anything, and leaves the calls whose logs
/// wait in the spool to it: a call whose start and end were both spooled (the store was down through it)
/// would otherwise be seen in progress once its start landed, and closed `node_restarted` beside its real
/// end. Each orphan's `call.ended` is queued by its closing's delivery, only when that closing is what
/// ended the call (a compare-and-set on its status), so a second sweep, or a run that dies before its
/// closing lands, sends none twice. A store that does not answer within [`SWEEP_TIMEOUT`] does not hold
/// the node up: the sweep retries in the background until it answers, and closes only logs of earlier runs.
pub async fn start(
    config: RecordsConfig,
    store: Store,
    files: Arc<dyn RecordingSink>,
    uploads: (BlobUploads, tokio::task::JoinHandle<()>),
    events: Option<item::EventOutlet>,
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
    let run_id = format!("run-{:016x}", rand::random::<u64>());
    let spool_dir = config.spool_dir.clone();
    let spooled_leftovers = leftovers.clone();
    let (mut spool, spooled) = tokio::task::spawn_blocking(move || -> Result<_, RecordsError> {
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
        let spooled = item::spooled_call_ids(&spool);
        Ok((spool, spooled))
    })
    .await
    .map_err(|e| RecordsError::Task(e.to_string()))??;
    let scope = item::SweepScope { run_id: run_id.clone(), spooled };
    let swept = tokio::time::timeout(
        SWEEP_TIMEOUT,
        item::orphans_in_store(&store, &config.node_id, &scope, unix_ms(), &leftovers),
    )
    .await;
    let swept = match swept {
        Ok(Ok(orphans)) => Some(orphans),
        Ok(Err(err)) => {
            tracing::warn!(%err, "cannot look for calls left in progress: looking again in the background");
            None
        }
        Err(_) => {
            tracing::warn!("the store did not list calls left in progress in time: looking again in the background");
            None
        }
    };
    if let Some(orphans) = &swept {
        log_orphans(orphans.len(), &config.node_id);
        // Into the spool behind what the last run left, before the writer delivers any of it.
        let orphans = orphans.clone();
        spool = tokio::task::spawn_blocking(move || -> Result<_, RecordsError> {
            for orphan in &orphans {
                spool.push(orphan, unix_ms())?;
            }
            Ok(spool)
        })
        .await
        .map_err(|e| RecordsError::Task(e.to_string()))??;
    }
    let delivery = StoreDelivery::new(store.clone()).with_records_org(Arc::clone(&config.records_org));
    let delivery = match events {
        Some(outlet) => delivery.with_events(outlet),
        None => delivery,
    };
    let (writer, task) = RecordWriter::spawn(config.writer, spool, delivery, shutdown.clone());
    if config.records_org.get().is_none() {
        // The writes waiting for it go as soon as it is known, not at the spool's next retry.
        let (records_org, writer, shutdown) = (Arc::clone(&config.records_org), writer.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = records_org.wait_known() => writer.retry_now(),
            }
        });
    }
    if swept.is_none() {
        tokio::spawn(sweep_when_the_store_answers(
            store.clone(),
            config.node_id.clone(),
            scope,
            leftovers.clone(),
            writer.clone(),
            shutdown,
        ));
    }
    let mut sink = StoreRecordingSink::new(files, uploads.clone(), writer.clone(), config.records_org, config.node_id)
        .in_run(run_id);
    if let Some(dir) = &config.segments_dir {
        match live_transcript::LiveTranscripts::start(dir) {
            Ok(live) => sink = sink.with_live_transcripts(live),
            // Calls still keep their transcripts, stored at their end; a kill mid-call loses them.
            Err(err) => tracing::error!(%err, "cannot start the transcript writer: transcripts kept in memory only"),
        }
    }
    Ok(Records { sink: Arc::new(sink), writer, task, uploads, uploads_task, recovered: leftovers })
}

/// The sweep's outcome, in the log (tests wait for the second line: the sweep is over).
fn log_orphans(count: usize, node_id: &str) {
    if count > 0 {
        tracing::info!(calls = count, %node_id, "closing calls left in progress by this node's last run");
    }
    tracing::info!(closed = count, %node_id, "looked for calls left in progress by earlier runs");
}

/// The start-up sweep the store could not answer at start: retried with back-off (calls go on meanwhile)
/// until the store lists this node's in-progress logs, whose orphans (logs of earlier runs, not waiting in
/// the spool: `scope`) are then handed to the writer. Ends after one successful sweep, or at shutdown.
pub async fn sweep_when_the_store_answers(
    store: Store,
    node_id: String,
    scope: item::SweepScope,
    leftovers: recovery::Leftovers,
    writer: RecordWriter<SpoolItem>,
    shutdown: CancellationToken,
) {
    let epoch = tokio::time::Instant::now();
    let mut backoff = backoff::Backoff::new(SWEEP_RETRY_INITIAL.as_millis() as u64, SWEEP_RETRY_MAX.as_millis() as u64);
    backoff.failed(0);
    loop {
        let wake = epoch + Duration::from_millis(backoff.due_ms().unwrap_or(0));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
        }
        let attempt = tokio::time::timeout(
            SWEEP_TIMEOUT,
            item::orphans_in_store(&store, &node_id, &scope, unix_ms(), &leftovers),
        )
        .await;
        match attempt {
            Ok(Ok(orphans)) => {
                log_orphans(orphans.len(), &node_id);
                let _ = tokio::task::spawn_blocking(move || orphans.into_iter().for_each(|o| writer.submit(o))).await;
                return;
            }
            Ok(Err(err)) => tracing::debug!(%err, "the store still cannot list calls left in progress"),
            Err(_) => tracing::debug!("the store still does not list calls left in progress in time"),
        }
        backoff.failed(epoch.elapsed().as_millis() as u64);
    }
}
