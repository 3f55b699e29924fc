//! The recording sink that puts every call into the store: the one place all transports report a call's
//! start ([`RecordingSink::call_started`], from the journal as the call is answered) and end
//! ([`RecordingSink::store`], from the transport's blocking thread once the call is over). The record JSON and
//! the recording go to the wrapped sink (the blob recording sink: the recording streamed to a segment file
//! and uploaded through [`BlobUploads`]); the transcript goes to the `transcripts` bucket in the original's
//! `[ISO ts] role: text` form; the call-log document, with both URLs, goes to the [`RecordWriter`], so neither
//! the store's state nor the blob store's ever holds up a call.

use std::sync::Arc;

use voicera_blob::Bucket;
use voicera_conversation::recorder::{CallRecord, ProviderReport, RecordingSink, RecordingWriter};

use crate::blobs::{BlobBody, BlobUpload, BlobUploads};
use crate::call_log::{self, LogContext};
use crate::item::{CallLogWrite, EventWrite, SpoolItem};
use crate::live_transcript::LiveTranscripts;
use crate::orgs::{AgentOrgs, CallOrgs, RecordsOrg};
use crate::writer::RecordWriter;

/// Makes a call's customer webhook events, which ride inside its log's writes ([`CallLogWrite::events`]).
pub trait CallEventSource: Send + Sync {
    /// The events of a call that started (`call.started`), for `org_id`.
    fn started(&self, record: &CallRecord, org_id: &str) -> Vec<EventWrite>;
    /// The events of a call that ended (its recording stored), for `org_id`: `call.started` again (its start
    /// may never have been queued; the fixed event id keeps it one), then `call.transfer` / `call.ended`.
    fn ended(&self, record: &CallRecord, org_id: &str) -> Vec<EventWrite>;
}

/// A [`RecordingSink`] that writes each call's log to the store through the writer, around a file sink.
pub struct StoreRecordingSink {
    files: Arc<dyn RecordingSink>,
    /// Where transcripts go (the `transcripts` bucket), spooled when the blob store is away.
    uploads: BlobUploads,
    writer: RecordWriter<SpoolItem>,
    /// Each call's org: its agent's, else the records org.
    orgs: CallOrgs,
    /// A stored agent's name (`agent_type`, as the original's call logs carry it), by agent id.
    names: std::sync::OnceLock<AgentOrgs>,
    node_id: String,
    /// This process's run ([`LogContext::run_id`]).
    run_id: String,
    /// Where transcripts are written as calls run (salvaged after a kill); `None`: only at the end.
    live: Option<LiveTranscripts>,
    /// Each call's webhook events, carried in its log's writes (set once; none until then).
    events: std::sync::OnceLock<Arc<dyn CallEventSource>>,
}

impl StoreRecordingSink {
    /// Logs of the calls taken by `node_id` (under `records_org` until [`Self::agent_orgs`] names agents'
    /// orgs, and for agents without one), with records and recordings through `files` and transcripts
    /// through `uploads`.
    pub fn new(
        files: Arc<dyn RecordingSink>,
        uploads: BlobUploads,
        writer: RecordWriter<SpoolItem>,
        records_org: Arc<RecordsOrg>,
        node_id: impl Into<String>,
    ) -> StoreRecordingSink {
        StoreRecordingSink {
            files,
            uploads,
            writer,
            orgs: CallOrgs::new(records_org),
            names: std::sync::OnceLock::new(),
            node_id: node_id.into(),
            run_id: String::new(),
            live: None,
            events: std::sync::OnceLock::new(),
        }
    }

    /// Calls' logs name `run_id` as the run that took them, so this run's start-up sweep leaves them.
    pub fn in_run(mut self, run_id: impl Into<String>) -> StoreRecordingSink {
        self.run_id = run_id.into();
        self
    }

    /// Calls' transcripts are also written to files through `live` as they are said, so a killed process
    /// leaves them for the next start's recovery ([`crate::recovery`]).
    pub fn with_live_transcripts(mut self, live: LiveTranscripts) -> StoreRecordingSink {
        self.live = Some(live);
        self
    }

    /// From now on a call is logged under its agent's org as `agents` names it (a store agent's org), else
    /// under the records org.
    pub fn agent_orgs(&self, agents: AgentOrgs) {
        self.orgs.resolve_with(agents);
    }

    /// From now on a call's log names its agent by `names` (a stored agent's `agent_type`), else by its id
    /// (set once; a second call is ignored).
    pub fn agent_names(&self, names: AgentOrgs) {
        let _ = self.names.set(names);
    }

    /// From now on each call's log writes carry its webhook events as `source` makes them (set once; a
    /// second call is ignored).
    pub fn call_events(&self, source: Arc<dyn CallEventSource>) {
        let _ = self.events.set(source);
    }

    fn context(&self, org_id: String, record: &CallRecord) -> LogContext {
        let agent_name = self.names.get().and_then(|names| names(&record.agent));
        LogContext {
            org_id,
            node_id: self.node_id.clone(),
            agent_name,
            run_id: self.run_id.clone(),
            ..LogContext::default()
        }
    }

    /// Puts the transcript in the `transcripts` bucket as `<YYYY-MM-DD>/<record id>.txt` (uploaded now, or
    /// spooled); its URL.
    fn put_transcript(&self, record: &CallRecord, text: &str) -> Option<String> {
        let day = call_log::day_of(record.started_at);
        let key = format!("{day}/{}.txt", call_log::file_stem(&record.record_id));
        let bucket = self.uploads.store().bucket_name(Bucket::Transcripts);
        let upload = BlobUpload { bucket, key, body: BlobBody::Text { text: text.to_string() } };
        match self.uploads.put(upload) {
            Ok(url) => Some(url),
            Err(err) => {
                // The text is still in the log document's `transcript_content`.
                tracing::error!(%err, record_id = %record.record_id, "the transcript cannot be stored as an object");
                None
            }
        }
    }
}

impl RecordingSink for StoreRecordingSink {
    /// Runs on the call's task: only queues (a full queue drops the start and its `call.started`; the end
    /// carries both).
    fn call_started(&self, record: &CallRecord) {
        let org = self.orgs.started(record);
        let doc = call_log::started(record, &self.context(org.org_id.clone(), record));
        let events = self.events.get().map(|source| source.started(record, &org.org_id)).unwrap_or_default();
        let write = CallLogWrite::for_call(org, record.record_id.clone(), doc).with_events(events);
        if !self.writer.try_submit(SpoolItem::CallStarted(write)) {
            tracing::warn!(record_id = %record.record_id, "record queue full: the call's start is not logged (its end will be)");
        }
    }

    /// On the call's task: queued for the live transcript's writer thread.
    fn transcript_line(&self, record: &CallRecord, at_ms: u64, role: &'static str, text: &str) {
        if let Some(live) = &self.live {
            live.line(record, at_ms, role, text);
        }
    }

    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
        let stored = self.files.store(record, stereo);
        self.log_finished(record, true);
        stored
    }

    /// The recording streams to the wrapped sink as the call runs (bounded memory for any call length).
    fn open_recording(&self, record: &CallRecord) -> Option<Box<dyn RecordingWriter>> {
        self.files.open_recording(record)
    }

    fn store_streamed(&self, record: &mut CallRecord, recording: Box<dyn RecordingWriter>) -> std::io::Result<()> {
        let stored = self.files.store_streamed(record, recording);
        self.log_finished(record, true);
        stored
    }

    /// No files, no transcript: the call's log alone.
    fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()> {
        self.log_finished(record, false);
        Ok(())
    }

    /// The report goes to the files; a call that never connected also becomes a busy log in the store.
    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        let stored = self.files.store_provider_report(report);
        if report.unanswered {
            let org = self.orgs.fallback();
            let context =
                LogContext { org_id: org.org_id.clone(), node_id: self.node_id.clone(), ..LogContext::default() };
            let (id, doc) = call_log::unanswered(report, &context);
            self.writer.submit(SpoolItem::CallFinished(CallLogWrite::for_call(org, id, doc)));
        }
        stored
    }
}

impl StoreRecordingSink {
    /// Stores the transcript (when the call keeps one) and hands the finished call's log to the writer (a
    /// full queue spools).
    fn log_finished(&self, record: &CallRecord, transcribed: bool) {
        let org = self.orgs.ended(record);
        let transcript_url = if transcribed {
            let text = call_log::transcript(record);
            self.put_transcript(record, &text)
        } else {
            None
        };
        if let Some(live) = &self.live {
            // The record has every line now (uploaded or spooled above, and in the log below).
            live.finish(record);
        }
        let context = LogContext {
            recording_url: record.recording.as_ref().map(|r| {
                if r.contains("://") {
                    r.clone()
                } else {
                    format!("calls/{r}")
                }
            }),
            transcript_url,
            ..self.context(org.org_id.clone(), record)
        };
        let mut doc = call_log::finished(record, &context);
        if !transcribed {
            // Its agent keeps no transcripts: what was said stays out of the store.
            doc["transcript_content"] = serde_json::Value::Null;
        }
        let events = self.events.get().map(|source| source.ended(record, &org.org_id)).unwrap_or_default();
        // Blocking thread: a full queue spools here.
        let write = CallLogWrite::for_call(org, record.record_id.clone(), doc).with_events(events);
        self.writer.submit(SpoolItem::CallFinished(write));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio_util::sync::CancellationToken;
    use voicera_blob::{BlobStore, FsBlobStore};
    use voicera_conversation::recorder::FsRecordingSink;

    use super::*;
    use crate::blobs::blob_writer_config;
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

    fn record() -> CallRecord {
        CallRecord {
            call_id: "c@h".into(),
            caller: "+911".into(),
            called: "bench".into(),
            started_at: 1_732_000_000,
            ended_at: 1_732_000_003,
            end_reason: "Stopped".into(),
            greeting: "Hi".into(),
            ..CallRecord::example()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_is_logged_at_its_start_and_end_with_its_transcript_object() {
        let dir = tempfile::tempdir().unwrap();
        let collected = Collect::default();
        let shutdown = CancellationToken::new();
        let spool = Spool::open(dir.path().join("spool")).unwrap();
        let (writer, task) = RecordWriter::spawn(WriterConfig::default(), spool, collected.clone(), shutdown.clone());
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let (uploads, uploads_task) = BlobUploads::start(
            dir.path().join("spool/blobs"),
            Arc::clone(&blobs),
            blob_writer_config(),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let calls = dir.path().join("calls");
        let live = LiveTranscripts::start(dir.path().join("recordings")).unwrap();
        let sink = Arc::new(
            StoreRecordingSink::new(
                Arc::new(FsRecordingSink::new(&calls)),
                uploads,
                writer,
                Arc::new(RecordsOrg::known("org1")),
                "n1",
            )
            .with_live_transcripts(live.clone()),
        );
        let mut call = record();
        sink.call_started(&call);
        // What is said reaches the call's live transcript file as the call runs.
        sink.transcript_line(&call, call.started_at * 1000, "assistant", "Hi");
        let live_file = live.path_of(&call);
        for _ in 0..500 {
            if live_file.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(std::fs::read_to_string(&live_file).unwrap(), "[2024-11-19T07:06:40.000Z] assistant: Hi\n");
        let stored = {
            let sink = Arc::clone(&sink);
            tokio::task::spawn_blocking(move || sink.store(&mut call, Some(&[0i16; 640])).map(|()| call))
                .await
                .unwrap()
                .unwrap()
        };
        // A call whose agent keeps no transcript: its log alone.
        let mut quiet = CallRecord { record_id: "rec-2".into(), ..record() };
        tokio::task::spawn_blocking(move || sink.store_log_only(&mut quiet)).await.unwrap().unwrap();
        shutdown.cancel();
        task.await.unwrap();
        uploads_task.await.unwrap();

        assert!(!live_file.exists(), "a call that ended keeps its transcript in the log and object, not the file");
        let items = collected.0.lock().unwrap().clone();
        assert_eq!(items.len(), 3);
        assert!(
            matches!(&items[0], SpoolItem::CallStarted(w) if w.doc["status"] == "in-progress" && w.org_id == "org1")
        );
        let SpoolItem::CallFinished(end) = &items[1] else { panic!("{items:?}") };
        assert_eq!(end.id, "rec-1");
        assert_eq!(end.doc["duration"], 3.0);
        assert_eq!(end.doc["recording_url"], format!("calls/{}", stored.recording.unwrap()));
        assert_eq!(end.doc["transcript_url"], "fs://transcripts/2024-11-19/rec-1.txt");
        let text = std::fs::read_to_string(dir.path().join("blobs/transcripts/2024-11-19/rec-1.txt")).unwrap();
        assert_eq!(text, "[2024-11-19T07:06:40.000Z] assistant: Hi\n");
        assert_eq!(end.doc["transcript_content"], text);
        let SpoolItem::CallFinished(quiet) = &items[2] else { panic!("{items:?}") };
        assert_eq!((quiet.id.as_str(), &quiet.doc["status"]), ("rec-2", &serde_json::json!("completed")));
        assert_eq!(quiet.doc["transcript_content"], serde_json::Value::Null);
        assert_eq!(quiet.doc["transcript_url"], serde_json::Value::Null);
        assert!(!dir.path().join("blobs/transcripts/2024-11-19/rec-2.txt").exists());
    }
}
