//! The recording sink that puts every call into the store: the one place all transports report a call's
//! start ([`RecordingSink::call_started`], from the journal as the call is answered) and end
//! ([`RecordingSink::store`], from the transport's blocking thread once the call is over). Files (record
//! JSON, stereo WAV) still go to the wrapped sink; the transcript is written beside them in the original's
//! `[ISO ts] role: text` form; the call-log document goes to the [`RecordWriter`], so the store's state
//! never holds up a call.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use voicera_conversation::recorder::{CallRecord, ProviderReport, RecordingSink};

use crate::call_log::{self, LogContext};
use crate::item::{CallLogWrite, SpoolItem};
use crate::writer::RecordWriter;

/// A [`RecordingSink`] that writes each call's log to the store through the writer, around a file sink.
pub struct StoreRecordingSink {
    files: Arc<dyn RecordingSink>,
    /// The directory the file sink writes under (`<data-dir>/calls`): transcripts go beside recordings.
    calls_root: PathBuf,
    writer: RecordWriter<SpoolItem>,
    org_id: String,
    node_id: String,
}

impl StoreRecordingSink {
    /// Logs of `org_id`'s calls taken by `node_id`, with files through `files` under `calls_root`.
    pub fn new(
        files: Arc<dyn RecordingSink>,
        calls_root: impl Into<PathBuf>,
        writer: RecordWriter<SpoolItem>,
        org_id: impl Into<String>,
        node_id: impl Into<String>,
    ) -> StoreRecordingSink {
        StoreRecordingSink {
            files,
            calls_root: calls_root.into(),
            writer,
            org_id: org_id.into(),
            node_id: node_id.into(),
        }
    }

    fn context(&self) -> LogContext {
        LogContext { org_id: self.org_id.clone(), node_id: self.node_id.clone(), ..LogContext::default() }
    }

    fn write(&self, record: &CallRecord, doc: serde_json::Value) -> CallLogWrite {
        CallLogWrite { org_id: self.org_id.clone(), id: record.record_id.clone(), doc }
    }

    /// `<calls>/<YYYY-MM-DD>/<record id>.txt`, written atomically; its path relative to the data dir.
    fn write_transcript(&self, record: &CallRecord, text: &str) -> std::io::Result<String> {
        let day: String = voicera_store::utc_text(record.started_at as i64 * 1000).chars().take(10).collect();
        let stem: String =
            record.record_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let dir = self.calls_root.join(&day);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{stem}.txt"));
        let tmp = path.with_extension("txt.partial");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(format!("calls/{day}/{stem}.txt"))
    }
}

impl RecordingSink for StoreRecordingSink {
    /// Runs on the call's task: only queues (a full queue drops the start; the end still comes).
    fn call_started(&self, record: &CallRecord) {
        let doc = call_log::started(record, &self.context());
        if !self.writer.try_submit(SpoolItem::CallStarted(self.write(record, doc))) {
            tracing::warn!(record_id = %record.record_id, "record queue full: the call's start is not logged (its end will be)");
        }
    }

    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
        let stored = self.files.store(record, stereo);
        let text = call_log::transcript(record);
        let transcript_url = match self.write_transcript(record, &text) {
            Ok(url) => Some(url),
            Err(err) => {
                // The text is still in the log document's `transcript_content`.
                tracing::error!(%err, record_id = %record.record_id, "cannot write the transcript file");
                None
            }
        };
        let context = LogContext {
            recording_url: record.recording.as_ref().map(|r| format!("calls/{r}")),
            transcript_url,
            ..self.context()
        };
        let doc = call_log::finished(record, &context);
        // Blocking thread: a full queue spools here.
        self.writer.submit(SpoolItem::CallFinished(self.write(record, doc)));
        stored
    }

    /// The report goes to the files; a call that never connected also becomes a busy log in the store.
    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        let stored = self.files.store_provider_report(report);
        if report.unanswered {
            let (id, doc) = call_log::unanswered(report, &self.context());
            self.writer.submit(SpoolItem::CallFinished(CallLogWrite { org_id: self.org_id.clone(), id, doc }));
        }
        stored
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio_util::sync::CancellationToken;
    use voicera_conversation::recorder::FsRecordingSink;

    use super::*;
    use crate::spool::Spool;
    use crate::writer::{Deliver, DeliveryError, WriterConfig};

    /// Keeps what it is given.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpoolItem>>>);

    impl Deliver<SpoolItem> for Collect {
        async fn deliver(&self, item: &SpoolItem) -> Result<(), DeliveryError> {
            self.0.lock().unwrap().push(item.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_call_is_logged_at_its_start_and_end_with_its_transcript_file() {
        let dir = tempfile::tempdir().unwrap();
        let collected = Collect::default();
        let shutdown = CancellationToken::new();
        let spool = Spool::open(dir.path().join("spool")).unwrap();
        let (writer, task) = RecordWriter::spawn(WriterConfig::default(), spool, collected.clone(), shutdown.clone());
        let calls = dir.path().join("calls");
        let sink = StoreRecordingSink::new(Arc::new(FsRecordingSink::new(&calls)), &calls, writer, "org1", "n1");
        let mut record = CallRecord {
            record_id: "rec-1".into(),
            call_id: "c@h".into(),
            agent: "bench".into(),
            caller: "+911".into(),
            called: "bench".into(),
            outbound: false,
            transport: "sip",
            started_at: 1_732_000_000,
            ended_at: 1_732_000_003,
            end_reason: "Stopped".into(),
            greeting: "Hi".into(),
            turns: vec![],
            recording: None,
            recording_truncated: false,
            model_failures: vec![],
            model_fallbacks: vec![],
        };
        sink.call_started(&record);
        let stored = tokio::task::spawn_blocking(move || sink.store(&mut record, Some(&[0i16; 640])).map(|()| record))
            .await
            .unwrap()
            .unwrap();
        shutdown.cancel();
        task.await.unwrap();

        let items = collected.0.lock().unwrap().clone();
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[0], SpoolItem::CallStarted(w) if w.doc["status"] == "in-progress" && w.org_id == "org1")
        );
        let SpoolItem::CallFinished(end) = &items[1] else { panic!("{items:?}") };
        assert_eq!(end.id, "rec-1");
        assert_eq!(end.doc["duration"], 3.0);
        assert_eq!(end.doc["recording_url"], format!("calls/{}", stored.recording.unwrap()));
        assert_eq!(end.doc["transcript_url"], "calls/2024-11-19/rec-1.txt");
        let text = std::fs::read_to_string(calls.join("2024-11-19/rec-1.txt")).unwrap();
        assert_eq!(text, "[2024-11-19T07:06:40.000Z] assistant: Hi\n");
        assert_eq!(end.doc["transcript_content"], text);
    }
}
