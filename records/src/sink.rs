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

    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        self.files.store_provider_report(report)
    }
}
