//! Recordings and transcripts a killed process left on disk. A recording streams to its segment file
//! (`<data-dir>/recordings/<day>/<record id>.wav|.ogg`) and its transcript to a file beside it
//! (`<record id>.txt`, [`crate::live_transcript`]) while its call runs, and both are uploaded at the call's
//! end; a process killed mid-call (SIGKILL, OOM, power) never gets there, and the files sit unfinished and
//! unlinked while the call's log is closed `node_restarted` on the next start. This start-up step finds
//! those files (any the blob spool does not already hold), completes each
//! ([`voicera_blob::salvage::finalise_segment`]: the WAV header gets its sizes, an Ogg its end-of-stream
//! page, a transcript loses a cut last line) and hands it to the blob uploads like a normal call end, so it
//! lands in the `recordings` or `transcripts` bucket once, and the orphan's closing log carries its URL and
//! text ([`Leftovers::link_into`]).
//!
//! A file that cannot be completed (an Ogg cut before its first audio page: no sound to keep) is moved to
//! `<segments-dir>/quarantine/<day>/` once, counted (`voicera_recovery_quarantined_total`), and not
//! looked at again by later starts.
//!
//! It runs before the node takes calls, so no file it sees is being written.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use voicera_blob::Bucket;

use crate::blobs::{BlobBody, BlobUpload, BlobUploads};
use crate::call_log;
use crate::live_transcript::TRANSCRIPT_EXTENSION;

/// Extensions of segment files ([`voicera_blob::recording::RecordingFormat`]).
const SEGMENT_EXTENSIONS: [&str; 2] = ["wav", "ogg"];
/// The directory under the segments' one where files that cannot be completed are moved (not a day).
pub const QUARANTINE_DIR: &str = "quarantine";

/// What a leftover file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftoverKind {
    /// A recording's segment file (`.wav`, `.ogg`): the `recordings` bucket.
    Recording,
    /// A live transcript (`.txt`): the `transcripts` bucket.
    Transcript,
}

/// A file found on disk: where it is and the object key it would have had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The file.
    pub path: PathBuf,
    /// `<day>/<file name>`: the key the recording sink (or the transcript upload) gives it.
    pub key: String,
    /// The file name without extension: the call's record id as files name it ([`call_log::file_stem`]).
    pub stem: String,
    /// Recording or transcript.
    pub kind: LeftoverKind,
}

fn kind_of(path: &Path) -> Option<LeftoverKind> {
    let ext = path.extension().and_then(|e| e.to_str())?.to_ascii_lowercase();
    if SEGMENT_EXTENSIONS.contains(&ext.as_str()) {
        Some(LeftoverKind::Recording)
    } else if ext == TRANSCRIPT_EXTENSION {
        Some(LeftoverKind::Transcript)
    } else {
        None
    }
}

/// Lists the segment and transcript files under `segments_dir` (`<day>/<stem>.<wav|ogg|txt>`) that `queued`
/// (the files the blob spool already holds) does not name, in key order; the quarantine is not looked at.
/// A missing directory is an empty list.
pub fn leftover_segments(segments_dir: &Path, queued: &HashSet<PathBuf>) -> Vec<Leftover> {
    let mut found = Vec::new();
    let Ok(days) = std::fs::read_dir(segments_dir) else { return found };
    for day in days.flatten() {
        let day_name = day.file_name().to_string_lossy().into_owned();
        if day_name == QUARANTINE_DIR {
            continue;
        }
        let Ok(files) = std::fs::read_dir(day.path()) else { continue };
        for file in files.flatten() {
            let path = file.path();
            let Some(kind) = kind_of(&path) else { continue };
            if !file.file_type().is_ok_and(|t| t.is_file()) || queued.contains(&path) {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            let key = format!("{day_name}/{}", file.file_name().to_string_lossy());
            if voicera_blob::validate_key(&key).is_err() {
                continue;
            }
            found.push(Leftover { path, key, stem, kind });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// A recovered transcript: its object's URL and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transcript {
    url: String,
    text: String,
}

/// What a start recovered, by the record id the files are named by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    urls: HashMap<String, String>,
    transcripts: HashMap<String, Transcript>,
    /// Files that could not be completed and were moved to the quarantine.
    quarantined: usize,
}

impl Leftovers {
    /// Recovered recordings: (file stem, object URL) pairs.
    pub fn new(urls: impl IntoIterator<Item = (String, String)>) -> Leftovers {
        Leftovers { urls: urls.into_iter().collect(), ..Leftovers::default() }
    }

    /// Adds a recovered transcript: its file stem, object URL and text.
    pub fn with_transcript(mut self, stem: &str, url: &str, text: &str) -> Leftovers {
        self.transcripts.insert(stem.to_string(), Transcript { url: url.to_string(), text: text.to_string() });
        self
    }

    /// How many recordings were recovered.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// How many transcripts were recovered.
    pub fn transcripts(&self) -> usize {
        self.transcripts.len()
    }

    /// How many files could not be completed and went to the quarantine.
    pub fn quarantined(&self) -> usize {
        self.quarantined
    }

    /// Whether nothing was recovered.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty() && self.transcripts.is_empty()
    }

    /// The recovered recording's URL of the call whose record id is `record_id`.
    pub fn recording_url(&self, record_id: &str) -> Option<&str> {
        self.urls.get(&call_log::file_stem(record_id)).map(String::as_str)
    }

    /// The recovered transcript (URL, text) of the call whose record id is `record_id`.
    pub fn transcript(&self, record_id: &str) -> Option<(&str, &str)> {
        self.transcripts.get(&call_log::file_stem(record_id)).map(|t| (t.url.as_str(), t.text.as_str()))
    }

    /// Links what was recovered of the call a log document is about into it (`recording_url`,
    /// `transcript_url` and `transcript_content`), where the log has none.
    pub fn link_into(&self, doc: &mut serde_json::Value) {
        let id = doc
            .get("record_id")
            .or_else(|| doc.get("meeting_id"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let Some(map) = doc.as_object_mut() else { return };
        let mut fill = |field: &str, value: &str| {
            if map.get(field).is_none_or(serde_json::Value::is_null) {
                map.insert(field.into(), serde_json::Value::String(value.to_string()));
            }
        };
        if let Some(url) = self.recording_url(&id) {
            fill("recording_url", url);
        }
        if let Some((url, text)) = self.transcript(&id) {
            fill("transcript_url", url);
            fill("transcript_content", text);
        }
    }

    /// Prometheus text: what this start recovered and quarantined.
    pub fn render_metrics(&self) -> String {
        let mut out = String::with_capacity(512);
        for (name, help, value) in [
            (
                "voicera_recovery_recordings_total",
                "Recordings of killed calls completed and queued at start",
                self.len(),
            ),
            ("voicera_recovery_transcripts_total", "Transcripts of killed calls queued at start", self.transcripts()),
            (
                "voicera_recovery_quarantined_total",
                "Files a killed run left that could not be completed, moved to the quarantine at start",
                self.quarantined,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
        }
        out
    }
}

/// Moves a file that cannot be completed to `<segments_dir>/quarantine/<day>/`, so later starts leave it.
fn quarantine(segments_dir: &Path, leftover: &Leftover) -> std::io::Result<PathBuf> {
    let to = segments_dir.join(QUARANTINE_DIR).join(&leftover.key);
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::rename(&leftover.path, &to)?;
    Ok(to)
}

/// Completes and queues for upload every segment and transcript file under `segments_dir` that a killed
/// run left (see the module doc); returns what was recovered by record id. A file that cannot be completed
/// is quarantined (logged once). Blocking: run on a blocking thread, after [`BlobUploads::start`] and
/// before calls are taken.
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
    let mut recovered = Leftovers::default();
    for leftover in leftover_segments(segments_dir, &queued) {
        let done = voicera_blob::salvage::finalise_segment(&leftover.path);
        // A transcript's text goes into the orphan's log as well as the bucket.
        let text = match (&done, leftover.kind) {
            (Ok(_), LeftoverKind::Transcript) => match std::fs::read(&leftover.path) {
                Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                Err(err) => {
                    tracing::error!(path = %leftover.path.display(), %err, "cannot read a transcript the last run left");
                    continue;
                }
            },
            _ => None,
        };
        match done {
            Ok(done) => {
                tracing::warn!(
                    path = %leftover.path.display(),
                    bytes = done.len,
                    repaired = done.repaired,
                    "a {} left by the last run: completed and queued for upload",
                    if leftover.kind == LeftoverKind::Recording { "recording" } else { "transcript" }
                );
                let bucket = uploads.store().bucket_name(match leftover.kind {
                    LeftoverKind::Recording => Bucket::Recordings,
                    LeftoverKind::Transcript => Bucket::Transcripts,
                });
                let url = uploads.store().url(&bucket, &leftover.key);
                // The file body: it stays on disk until uploaded, and the spool names it, so nothing is lost
                // if this start is killed too.
                uploads.writer().submit(BlobUpload {
                    bucket: bucket.clone(),
                    key: leftover.key,
                    body: BlobBody::File { path: leftover.path },
                });
                match text {
                    Some(text) => recovered = recovered.with_transcript(&leftover.stem, &url, &text),
                    None => {
                        recovered.urls.insert(leftover.stem, url);
                    }
                }
            }
            Err(err) => match quarantine(segments_dir, &leftover) {
                Ok(to) => {
                    recovered.quarantined += 1;
                    tracing::error!(from = %leftover.path.display(), to = %to.display(), %err, "a file left by the last run cannot be completed: quarantined");
                }
                Err(move_err) => {
                    tracing::error!(path = %leftover.path.display(), %err, %move_err, "a file left by the last run cannot be completed nor quarantined: kept as it is")
                }
            },
        }
    }
    recovered
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
        for name in ["rec-2-b.ogg", "rec-1-a.wav", "rec-1-a.txt", "queued.wav", "rec-9.json"] {
            std::fs::write(day.join(name), b"x").unwrap();
        }
        std::fs::create_dir_all(day.join("sub.wav")).unwrap();
        // What an earlier start could not complete is not looked at again.
        std::fs::create_dir_all(dir.path().join("quarantine/2026-12-05")).unwrap();
        std::fs::write(dir.path().join("quarantine/2026-12-05/rec-0.ogg"), b"OggS").unwrap();
        let queued = HashSet::from([day.join("queued.wav")]);
        let found = leftover_segments(dir.path(), &queued);
        let keys: Vec<(&str, &str, LeftoverKind)> =
            found.iter().map(|l| (l.key.as_str(), l.stem.as_str(), l.kind)).collect();
        assert_eq!(
            keys,
            [
                ("2026-12-06/rec-1-a.txt", "rec-1-a", LeftoverKind::Transcript),
                ("2026-12-06/rec-1-a.wav", "rec-1-a", LeftoverKind::Recording),
                ("2026-12-06/rec-2-b.ogg", "rec-2-b", LeftoverKind::Recording)
            ]
        );
        assert_eq!(found[1].path, day.join("rec-1-a.wav"));
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
        // A recovered transcript fills the log's link and text.
        let text = "[2026-12-06T03:00:00.000Z] assistant: Hello\n";
        let leftovers = leftovers.with_transcript("rec-1-a", "s3://transcripts/d/rec-1-a.txt", text);
        let mut orphan = json!({"meeting_id": "rec-1-a", "record_id": "rec-1-a"});
        leftovers.link_into(&mut orphan);
        assert_eq!(orphan["transcript_url"], "s3://transcripts/d/rec-1-a.txt");
        assert_eq!(orphan["transcript_content"], text);
        assert_eq!((leftovers.len(), leftovers.transcripts()), (1, 1));
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
        // Its transcript so far, the last line cut by the kill.
        let transcript = segments.join("2026-12-06/rec-1-a.txt");
        let said = "[2026-12-06T03:00:00.000Z] assistant: Hello\n[2026-12-06T03:00:02.000Z] user: hi\n";
        std::fs::write(&transcript, format!("{said}[2026-12-06T03:00:03.000Z] assis")).unwrap();
        // An Ogg cut before its first audio page: nothing to keep.
        let cut_ogg = segments.join("2026-12-06/rec-3-c.ogg");
        std::fs::write(&cut_ogg, b"OggS\0\x02").unwrap();
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
        assert_eq!(leftovers.transcript("rec-1-a"), Some(("fs://transcripts/2026-12-06/rec-1-a.txt", said)));
        assert_eq!(leftovers.quarantined(), 1);
        assert!(!cut_ogg.exists());
        let quarantined = segments.join("quarantine/2026-12-06/rec-3-c.ogg");
        assert_eq!(std::fs::read(&quarantined).unwrap(), b"OggS\0\x02", "moved as it was");
        assert!(leftovers.render_metrics().contains("voicera_recovery_quarantined_total 1\n"));
        wait_until("all uploaded", || {
            uploads.writer().backlog().items == 0 && !killed.exists() && !queued.exists() && !transcript.exists()
        })
        .await;
        let mut read = store.get("transcripts", "2026-12-06/rec-1-a.txt", None).await.unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut read.reader, &mut text).await.unwrap();
        assert_eq!(text, said, "whole lines only");
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
        assert_eq!(again.quarantined(), 0, "the quarantined file is not looked at again");
        assert!(quarantined.exists());
        shutdown.cancel();
        task.await.unwrap();
    }
}
