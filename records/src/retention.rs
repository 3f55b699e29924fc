//! Retention: a call's recording, transcript and log are deleted together once its org's retention has
//! passed. An org sets `recording_retention_days` on its document (the `Orgs` collection); orgs that set
//! none take the node's default (`[storage] recording_retention_days`); with neither, calls are kept.
//!
//! The choice of what to delete is pure ([`select`]: a page of call logs and the time, passed in); the
//! [`Sweeper`] reads pages from the store and deletes, blobs first: a log is removed only once every object
//! it points at is gone, so a failure leaves it for the next sweep rather than an object nobody can find.
//! [`run`] sweeps on a clock it is given, every [`SWEEP_INTERVAL`].
//!
//! With filesystem blobs each node holds the files of the calls it took, so a node sweeps only the calls
//! whose objects it can see ([`Sweeper::on_node`]): a log of another node's call that links `fs://` objects
//! is left for that node's sweeper (not deleted here, which would orphan the files there, and no failure of
//! the sweep). Logs with `s3://` links, or of no known node, are swept by any node.
//!
//! A node also keeps each call it took as a record file (`<data-dir>/calls/<day>/<record id>.json`, with
//! the call's transcript). Once the log is in the store that file is only a local copy, and with S3 the node
//! sweeping the log may not be the node holding the file; so every node sweeps its own record files by age
//! ([`Sweeper::sweep`], [`stale_record_days`]): a day's `.json` files go once the whole day is older than the
//! shortest retention of any org, so no copy outlives the log it mirrors, whichever node swept that. Other
//! files there (recordings an older layout kept beside the records) are the calls' own and stay for the
//! log's sweep.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use voicera_blob::{parse_blob_url, BlobStore};
use voicera_store::call_logs::{CallLogQuery, CallLogSort};
use voicera_store::{utc_text, Collection, Record, Store, StoreError};

use crate::call_log;

/// How often [`run`] sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Call logs read per page.
const PAGE: u64 = 200;
/// Milliseconds in a day.
const DAY_MS: u64 = 86_400_000;

/// The field of an org's document that sets its retention.
pub const ORG_FIELD: &str = "recording_retention_days";

/// An org's own retention from its document: a positive whole number of days; anything else is none.
pub fn org_days(doc: &Value) -> Option<u32> {
    doc.get(ORG_FIELD).and_then(Value::as_u64).filter(|d| *d > 0).and_then(|d| u32::try_from(d).ok())
}

/// Text time before which an org with `days` of retention keeps no call, at `now_ms` (the store's time
/// format, so that it compares with the logs' times as text).
pub fn cutoff(now_ms: u64, days: u32) -> String {
    utc_text(now_ms.saturating_sub(u64::from(days) * DAY_MS) as i64)
}

/// What to delete of one call whose retention has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The tenant.
    pub org_id: String,
    /// The call log's id.
    pub id: String,
    /// Objects it points at (`recording_url`, `transcript_url` that are blob URLs).
    pub blobs: Vec<String>,
    /// Files under the data dir it points at or has (`calls/<day>/<id>.json`, a recording kept there).
    pub files: Vec<PathBuf>,
    /// The node that took the call (`node_id`), when the log names one.
    pub node_id: Option<String>,
}

/// The calls of `logs` that an org keeping `days` of them deletes at `now_ms`: those started (else created)
/// before [`cutoff`] and not in progress. Logs without a time are kept: their age is unknown.
pub fn select(logs: &[Record], days: u32, now_ms: u64) -> Vec<Expired> {
    let cutoff = cutoff(now_ms, days);
    let text =
        |doc: &Value, key: &str| doc.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    logs.iter()
        .filter(|r| !call_log::is_in_progress(&r.doc))
        .filter_map(|r| {
            let started = text(&r.doc, "start_time_utc").or_else(|| text(&r.doc, "created_at"))?;
            (started < cutoff).then(|| {
                let mut blobs = Vec::new();
                let mut files = Vec::new();
                for key in ["recording_url", "transcript_url"] {
                    match text(&r.doc, key) {
                        Some(url) if url.contains("://") => blobs.push(url),
                        // Older logs name files under the data dir (`calls/<day>/<file>`).
                        Some(path) => files.extend(relative_path(&path)),
                        None => {}
                    }
                }
                // This server's calls also have a record file beside the day's others.
                if let Some(record_id) = text(&r.doc, "record_id") {
                    let day: String = started.chars().take(10).collect();
                    files.push(Path::new("calls").join(day).join(format!("{}.json", call_log::file_stem(&record_id))));
                }
                Expired { org_id: r.org_id.clone(), id: r.id.clone(), blobs, files, node_id: text(&r.doc, "node_id") }
            })
        })
        .collect()
}

/// A path below the data dir, or `None` when it would leave it (absolute, `..`).
fn relative_path(path: &str) -> Option<PathBuf> {
    let path = Path::new(path.strip_prefix("file://").unwrap_or(path));
    path.components().all(|c| matches!(c, Component::Normal(_))).then(|| path.to_path_buf())
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Call logs deleted (with their objects and files).
    pub calls: u64,
    /// Objects deleted.
    pub blobs: u64,
    /// Expired calls kept because an object could not be deleted (retried next sweep).
    pub kept: u64,
    /// Expired calls left to the node holding their files (filesystem blobs on another node).
    pub elsewhere: u64,
    /// This node's local record files (`calls/<day>/*.json`) removed by age.
    pub local_files: u64,
}

/// Deletes expired calls: their objects in the blob store, their files under the data dir, their logs.
pub struct Sweeper {
    store: Store,
    blobs: Arc<dyn BlobStore>,
    data_dir: PathBuf,
    default_days: Option<u32>,
    /// Orgs swept even without a document of their own (a node's `default` org).
    also_orgs: Vec<String>,
    /// This node's id: filesystem objects of other nodes' calls are theirs to sweep.
    node_id: Option<String>,
}

impl Sweeper {
    /// A sweeper of `store`'s call logs and `blobs`' objects, files under `data_dir`; orgs without their
    /// own retention keep calls `default_days` (`None`: for ever). `also_orgs` are swept beside the orgs
    /// the store has documents of.
    pub fn new(
        store: Store,
        blobs: Arc<dyn BlobStore>,
        data_dir: impl Into<PathBuf>,
        default_days: Option<u32>,
        also_orgs: Vec<String>,
    ) -> Sweeper {
        Sweeper { store, blobs, data_dir: data_dir.into(), default_days, also_orgs, node_id: None }
    }

    /// This sweeper runs on node `node_id`: calls another node took whose objects are `fs://` (on that node's
    /// disk) are left to it.
    pub fn on_node(mut self, node_id: impl Into<String>) -> Sweeper {
        self.node_id = Some(node_id.into());
        self
    }

    /// Whether `expired`'s objects are files on another node's disk (its log names another node and links
    /// `fs://` objects).
    fn on_another_node(&self, expired: &Expired) -> bool {
        let (Some(mine), Some(theirs)) = (&self.node_id, &expired.node_id) else { return false };
        mine != theirs && expired.blobs.iter().any(|url| parse_blob_url(url).is_ok_and(|b| b.scheme == "fs"))
    }

    /// Each org's retention: its own, else the default; orgs keeping calls for ever are left out.
    async fn policies(&self) -> Result<BTreeMap<String, u32>, StoreError> {
        let mut own: BTreeMap<String, Option<u32>> = self.also_orgs.iter().map(|org| (org.clone(), None)).collect();
        for org in self.store.list_all(Collection::Orgs).await? {
            own.insert(org.org_id.clone(), org_days(&org.doc));
        }
        Ok(own.into_iter().filter_map(|(org, days)| Some((org, days.or(self.default_days)?))).collect())
    }

    /// One sweep at `now_ms`: every org's expired calls deleted, blobs first.
    pub async fn sweep(&self, now_ms: u64) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let policies = self.policies().await?;
        for (org_id, days) in policies.clone() {
            let mut offset = 0;
            loop {
                let query = CallLogQuery {
                    org_id: org_id.clone(),
                    to_time: Some(cutoff(now_ms, days)),
                    sort: CallLogSort::Oldest,
                    offset,
                    limit: PAGE,
                    ..CallLogQuery::default()
                };
                let page = self.store.query_call_logs(&query).await?;
                let read = page.records.len() as u64;
                let mut deleted = 0;
                for expired in select(&page.records, days, now_ms) {
                    if self.on_another_node(&expired) {
                        report.elsewhere += 1;
                        continue;
                    }
                    if self.delete(&expired, &mut report).await? {
                        deleted += 1;
                    }
                }
                // What stays (kept, in progress, not yet old enough) is skipped on the next page.
                offset += read - deleted;
                if read < PAGE {
                    break;
                }
            }
        }
        if let Some(shortest) = policies.values().min().copied() {
            let calls_dir = self.data_dir.join("calls");
            let before = cutoff(now_ms, shortest).chars().take(10).collect::<String>();
            report.local_files = tokio::task::spawn_blocking(move || sweep_record_files(&calls_dir, &before))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        if report.calls > 0 || report.kept > 0 || report.local_files > 0 {
            tracing::info!(
                calls = report.calls,
                blobs = report.blobs,
                kept = report.kept,
                elsewhere = report.elsewhere,
                local_files = report.local_files,
                "retention sweep"
            );
        }
        Ok(report)
    }

    /// Deletes one call's objects, files and log; false (and the log kept) when an object would not go.
    async fn delete(&self, expired: &Expired, report: &mut SweepReport) -> Result<bool, StoreError> {
        for url in &expired.blobs {
            let deleted = match parse_blob_url(url) {
                // Only objects of the kind of store this node has (an `s3://` link on a filesystem node stays).
                Ok(blob) if self.blobs.url(&blob.bucket, &blob.key).starts_with(&format!("{}://", blob.scheme)) => {
                    self.blobs.delete(&blob.bucket, &blob.key).await.map_err(|e| e.to_string())
                }
                Ok(_) => Err("an object of another kind of blob store".to_string()),
                Err(err) => Err(err.to_string()),
            };
            match deleted {
                Ok(()) => report.blobs += 1,
                Err(err) => {
                    tracing::warn!(%err, %url, org_id = %expired.org_id, id = %expired.id, "retention: object not deleted; the call is kept");
                    report.kept += 1;
                    return Ok(false);
                }
            }
        }
        for file in &expired.files {
            let path = self.data_dir.join(file);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(%err, path = %path.display(), "retention: file not deleted; the call is kept");
                    report.kept += 1;
                    return Ok(false);
                }
            }
        }
        self.store.delete(Collection::CallLogs, &expired.org_id, &expired.id).await?;
        report.calls += 1;
        Ok(true)
    }
}

/// The day directories under `calls_dir` (`YYYY-MM-DD`) before the day `before` (`YYYY-MM-DD`): every call
/// in them started before the cutoff whose date `before` is, so every org's log of them is past retention.
pub fn stale_record_days(calls_dir: &Path, before: &str) -> Vec<PathBuf> {
    let is_day = |name: &str| {
        name.len() == 10
            && name.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() })
    };
    let mut days: Vec<PathBuf> = std::fs::read_dir(calls_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|entry| entry.file_name().to_str().is_some_and(|name| is_day(name) && name < before))
        .map(|entry| entry.path())
        .collect();
    days.sort();
    days
}

/// Removes the record files (`*.json`) of the day directories [`stale_record_days`] names, and a day
/// directory left empty; how many files. Blocking.
fn sweep_record_files(calls_dir: &Path, before: &str) -> u64 {
    let mut removed = 0;
    for day in stale_record_days(calls_dir, before) {
        for entry in std::fs::read_dir(&day).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") && entry.file_type().is_ok_and(|t| t.is_file()) {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(err) => tracing::warn!(%err, path = %path.display(), "retention: record file not deleted"),
                }
            }
        }
        // Only when empty: a recording kept beside the records stays.
        let _ = std::fs::remove_dir(&day);
    }
    removed
}

/// Sweeps now and every [`SWEEP_INTERVAL`] until `shutdown`, at the times `now_ms` gives (Unix ms).
pub async fn run(sweeper: Sweeper, now_ms: impl Fn() -> u64 + Send + 'static, shutdown: CancellationToken) {
    loop {
        if let Err(err) = sweeper.sweep(now_ms()).await {
            tracing::warn!(%err, "retention sweep failed; retried at the next");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-12-05T00:00:00Z: the virtual "now" of these tests.
    const NOW: u64 = 1_796_428_800_000;

    fn log(id: &str, started_days_ago: u64, status: &str) -> Record {
        let at = utc_text((NOW - started_days_ago * DAY_MS) as i64);
        Record {
            org_id: "o1".into(),
            id: id.into(),
            doc: json!({
                "meeting_id": id, "record_id": id, "status": status, "start_time_utc": at, "created_at": at,
                "recording_url": format!("s3://p-recordings/{id}.wav"), "transcript_url": format!("s3://p-transcripts/{id}.txt"),
            }),
        }
    }

    fn ids(expired: &[Expired]) -> Vec<&str> {
        expired.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn calls_older_than_the_retention_go_and_the_rest_stay() {
        let logs = [log("old", 31, "completed"), log("edge", 30, "completed"), log("new", 29, "completed")];
        // 30 days at NOW: older than exactly 30 days goes; the call at the cutoff itself stays.
        assert_eq!(ids(&select(&logs, 30, NOW)), ["old"]);
        // A millisecond later, the edge call has passed it too.
        assert_eq!(ids(&select(&logs, 30, NOW + 1)), ["old", "edge"]);
        // A day on, all but the newest.
        assert_eq!(ids(&select(&logs, 30, NOW + DAY_MS)), ["old", "edge"]);
        assert_eq!(ids(&select(&logs, 30, NOW + DAY_MS + 1)), ["old", "edge", "new"]);
        // A longer retention keeps everything.
        assert!(select(&logs, 365, NOW).is_empty());
        let expired = &select(&logs, 30, NOW)[0];
        assert_eq!(expired.blobs, ["s3://p-recordings/old.wav", "s3://p-transcripts/old.txt"]);
        let day: String = utc_text((NOW - 31 * DAY_MS) as i64).chars().take(10).collect();
        assert_eq!(expired.files, [Path::new("calls").join(day).join("old.json")]);
    }

    #[test]
    fn calls_in_progress_or_without_a_time_are_kept_and_old_paths_stay_inside_the_data_dir() {
        let mut untimed = log("untimed", 400, "completed");
        untimed.doc.as_object_mut().unwrap().retain(|k, _| k != "start_time_utc" && k != "created_at");
        let mut old_layout = log("files", 400, "completed");
        old_layout.doc["recording_url"] = json!("calls/2025-01-01/files.wav");
        old_layout.doc["transcript_url"] = json!("/etc/passwd");
        let logs = [log("live", 400, "in-progress"), untimed, old_layout];
        let expired = select(&logs, 1, NOW);
        assert_eq!(ids(&expired), ["files"]);
        assert!(expired[0].blobs.is_empty());
        assert_eq!(expired[0].files[0], Path::new("calls/2025-01-01/files.wav"));
        assert_eq!(expired[0].files.len(), 2, "the absolute path is never a file to delete: {:?}", expired[0].files);
    }

    #[test]
    fn an_orgs_own_retention_is_a_positive_whole_number() {
        assert_eq!(org_days(&json!({ORG_FIELD: 30})), Some(30));
        for none in [
            json!({}),
            json!({ORG_FIELD: 0}),
            json!({ORG_FIELD: -3}),
            json!({ORG_FIELD: "30"}),
            json!({ORG_FIELD: 1.5}),
        ] {
            assert_eq!(org_days(&none), None, "{none}");
        }
        assert_eq!(cutoff(NOW, 1), "2026-12-04T00:00:00.000Z");
    }
}
