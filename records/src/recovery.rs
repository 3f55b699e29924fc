//! Recordings a killed process left on disk. A recording streams to its segment file
//! (`<data-dir>/recordings/<day>/<record id>.wav|.ogg`) while its call runs and is uploaded at the call's end;
//! a process killed mid-call (SIGKILL, OOM, power) never gets there, and the file sits unfinished and
//! unlinked while the call's log is closed `node_restarted` on the next start. This start-up step finds those
//! files (any segment file the blob spool does not already hold), completes each
//! ([`voicera_blob::salvage::finalise_segment`]: the WAV header gets its sizes, an Ogg its end-of-stream
//! page) and hands it to the blob uploads like a normal call end, so it lands in the `recordings` bucket
//! once, and the orphan's closing log carries its URL ([`Leftovers::recording_url`]).
//!
//! It runs before the node takes calls, so no file it sees is being written.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use voicera_blob::Bucket;

use crate::blobs::{BlobBody, BlobUpload, BlobUploads};
use crate::call_log;

/// Extensions of segment files ([`voicera_blob::recording::RecordingFormat`]).
const SEGMENT_EXTENSIONS: [&str; 2] = ["wav", "ogg"];

/// A segment file found on disk: where it is and the object key it would have had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The file.
    pub path: PathBuf,
    /// `<day>/<file name>`: the key the recording sink gives it.
    pub key: String,
    /// The file name without extension: the call's record id as files name it ([`call_log::file_stem`]).
    pub stem: String,
}

/// Lists the segment files under `segments_dir` (`<day>/<stem>.<wav|ogg>`) that `queued` (the files the blob
/// spool already holds) does not name, in key order. A missing directory is an empty list.
pub fn leftover_segments(segments_dir: &Path, queued: &HashSet<PathBuf>) -> Vec<Leftover> {
    let mut found = Vec::new();
    let Ok(days) = std::fs::read_dir(segments_dir) else { return found };
    for day in days.flatten() {
        let day_name = day.file_name().to_string_lossy().into_owned();
        let Ok(files) = std::fs::read_dir(day.path()) else { continue };
        for file in files.flatten() {
            let path = file.path();
            let is_segment = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SEGMENT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if !is_segment || !file.file_type().is_ok_and(|t| t.is_file()) || queued.contains(&path) {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            let key = format!("{day_name}/{}", file.file_name().to_string_lossy());
            if voicera_blob::validate_key(&key).is_err() {
                continue;
            }
            found.push(Leftover { path, key, stem });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// The recordings a start recovered, by the record id their files are named by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    urls: HashMap<String, String>,
}

impl Leftovers {
    /// Recovered recordings: (file stem, object URL) pairs.
    pub fn new(urls: impl IntoIterator<Item = (String, String)>) -> Leftovers {
        Leftovers { urls: urls.into_iter().collect() }
    }

    /// How many were recovered.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The recovered recording's URL of the call whose record id is `record_id`.
    pub fn recording_url(&self, record_id: &str) -> Option<&str> {
        self.urls.get(&call_log::file_stem(record_id)).map(String::as_str)
    }

    /// Links the recovered recording of the call a log document is about into it (`recording_url`), when
    /// the log has none.
    pub fn link_into(&self, doc: &mut serde_json::Value) {
        let id = doc.get("record_id").or_else(|| doc.get("meeting_id")).and_then(|v| v.as_str()).unwrap_or_default();
        let Some(url) = self.recording_url(id).map(str::to_string) else { return };
        if let Some(map) = doc.as_object_mut() {
            if map.get("recording_url").is_none_or(serde_json::Value::is_null) {
                map.insert("recording_url".into(), serde_json::Value::String(url));
            }
        }
    }
}

/// Completes and queues for upload every segment file under `segments_dir` that a killed run left (see the
/// module doc); returns their URLs by record id. A file that cannot be completed is left where it is
/// (logged). Blocking: run on a blocking thread, after [`BlobUploads::start`] and before calls are taken.
pub fn recover_segments(segments_dir: &Path, uploads: &BlobUploads) -> Leftovers {
    let queued: HashSet<PathBuf> = uploads
        .writer()
        .spooled()
        .into_iter()
        .filter_map(|item| match item.body {
            BlobBody::File { path } => Some(path),
            BlobBody::Text { .. } => None,
        })
        .collect();
    let bucket = uploads.store().bucket_name(Bucket::Recordings);
    let mut urls = Vec::new();
    for leftover in leftover_segments(segments_dir, &queued) {
        match voicera_blob::salvage::finalise_segment(&leftover.path) {
            Ok(done) => {
                tracing::warn!(
                    path = %leftover.path.display(),
                    bytes = done.len,
                    repaired = done.repaired,
                    "a recording left by the last run: completed and queued for upload"
                );
                let url = uploads.store().url(&bucket, &leftover.key);
                uploads.writer().submit(BlobUpload {
                    bucket: bucket.clone(),
                    key: leftover.key,
                    body: BlobBody::File { path: leftover.path },
                });
                urls.push((leftover.stem, url));
            }
            Err(err) => {
                tracing::error!(path = %leftover.path.display(), %err, "a recording left by the last run cannot be completed: kept as it is")
            }
        }
    }
    Leftovers::new(urls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segment_files_not_queued_are_leftovers_named_by_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2026-12-06");
        std::fs::create_dir_all(&day).unwrap();
        for name in ["rec-2-b.ogg", "rec-1-a.wav", "queued.wav", "notes.txt"] {
            std::fs::write(day.join(name), b"x").unwrap();
        }
        std::fs::create_dir_all(day.join("sub.wav")).unwrap();
        let queued = HashSet::from([day.join("queued.wav")]);
        let found = leftover_segments(dir.path(), &queued);
        let keys: Vec<(&str, &str)> = found.iter().map(|l| (l.key.as_str(), l.stem.as_str())).collect();
        assert_eq!(keys, [("2026-12-06/rec-1-a.wav", "rec-1-a"), ("2026-12-06/rec-2-b.ogg", "rec-2-b")]);
        assert_eq!(found[0].path, day.join("rec-1-a.wav"));
        assert!(leftover_segments(&dir.path().join("missing"), &queued).is_empty());
    }

    #[test]
    fn an_orphans_log_gets_its_recovered_recording_and_others_do_not() {
        let leftovers = Leftovers::new([("rec-1-a".to_string(), "s3://recordings/d/rec-1-a.wav".to_string())]);
        let mut orphan = json!({"meeting_id": "rec-1-a", "record_id": "rec-1-a", "recording_url": null});
        leftovers.link_into(&mut orphan);
        assert_eq!(orphan["recording_url"], "s3://recordings/d/rec-1-a.wav");
        let mut other = json!({"meeting_id": "rec-9", "record_id": "rec-9", "recording_url": null});
        leftovers.link_into(&mut other);
        assert_eq!(other["recording_url"], serde_json::Value::Null);
        // A log that already links a recording keeps it.
        let mut linked = json!({"record_id": "rec-1-a", "recording_url": "s3://recordings/x.wav"});
        leftovers.link_into(&mut linked);
        assert_eq!(linked["recording_url"], "s3://recordings/x.wav");
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_runs_segment_is_completed_and_uploaded_once_and_a_queued_one_is_left_to_its_spool() {
        use std::sync::Arc;
        use tokio_util::sync::CancellationToken;
        use voicera_blob::recording::{RecordingFormat, SegmentWriter};
        use voicera_blob::{BlobStore, FsBlobStore};

        let dir = tempfile::tempdir().unwrap();
        let segments = dir.path().join("recordings");
        // A recording the killed run was writing: its samples on disk, its header's sizes never patched.
        let killed = segments.join("2026-12-06/rec-1-a.wav");
        let mut writer = SegmentWriter::create(&killed, RecordingFormat::Wav).unwrap();
        writer.write(&vec![7i16; 4000]).unwrap();
        drop(writer);
        assert_eq!(&std::fs::read(&killed).unwrap()[40..44], &[0, 0, 0, 0]);
        // A finished recording already waiting in the blob spool (the store was down at its call's end).
        let queued = segments.join("2026-12-06/rec-2-b.wav");
        std::fs::write(&queued, b"RIFF-queued").unwrap();
        let spool_dir = dir.path().join("spool/blobs");
        let item = BlobUpload {
            bucket: "recordings".into(),
            key: "2026-12-06/rec-2-b.wav".into(),
            body: BlobBody::File { path: queued.clone() },
        };
        crate::spool::Spool::<BlobUpload>::open(&spool_dir).unwrap().push(&item, 1).unwrap();

        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let shutdown = CancellationToken::new();
        let (uploads, task) =
            BlobUploads::start(spool_dir, Arc::clone(&store), crate::blobs::blob_writer_config(), shutdown.clone())
                .await
                .unwrap();
        let recovering = uploads.clone();
        let recovery_dir = segments.clone();
        let leftovers =
            tokio::task::spawn_blocking(move || recover_segments(&recovery_dir, &recovering)).await.unwrap();
        assert_eq!(leftovers.len(), 1, "the queued one is its spool's: {leftovers:?}");
        assert_eq!(leftovers.recording_url("rec-1-a"), Some("fs://recordings/2026-12-06/rec-1-a.wav"));
        wait_until("both uploaded", || uploads.writer().backlog().items == 0 && !killed.exists() && !queued.exists())
            .await;
        let mut read = store.get("recordings", "2026-12-06/rec-1-a.wav", None).await.unwrap();
        let mut wav = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut read.reader, &mut wav).await.unwrap();
        assert_eq!(wav.len(), 44 + 8000);
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 8000, "the data size fixed up");
        assert_eq!(store.head("recordings", "2026-12-06/rec-2-b.wav").await.unwrap().unwrap().len, 11);
        // The next start finds nothing left.
        let recovering = uploads.clone();
        let again = tokio::task::spawn_blocking(move || recover_segments(&segments, &recovering)).await.unwrap();
        assert!(again.is_empty());
        shutdown.cancel();
        task.await.unwrap();
    }
}
