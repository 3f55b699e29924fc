//! Call recordings in the blob store: a [`RecordingSink`] that writes each call's stereo recording to a
//! local segment file (WAV, or Opus in Ogg), uploads it to the `recordings` bucket at the call's end, and
//! puts the object's URL in the call record. Memory stays bounded: the file is written in small chunks
//! ([`SegmentWriter`]) and sent in parts; with `open_recording` / `store_streamed` the call's recorder hands
//! each second on to a writer thread as the call runs, so not even the call's audio is held whole. An upload that fails leaves the file in place and returns a
//! [`RecordingUploadFailed`] error that a spool can retry with [`upload_file`](crate::upload_file).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};

use voicera_conversation::recorder::{
    new_record_id, CallRecord, FsRecordingSink, ProviderReport, RecordingSink, RecordingWriter,
};

use crate::{validate_key, BlobError, BlobStore, Bucket, OggOpusWriter};

/// Recordings' sample rate: the engine's.
pub const RECORDING_RATE: u32 = 16_000;
/// Opus bitrate for a stereo 16 kHz recording: 32 kbit/s, 4 kB/s against WAV's 64 kB/s (16× smaller), and
/// transparent for telephone speech.
const OPUS_BITRATE: i32 = 32_000;
/// Samples per channel in one 20 ms Opus frame at [`RECORDING_RATE`].
const OPUS_FRAME: usize = RECORDING_RATE as usize / 50;
/// Interleaved samples written to a segment file at a time, so a long recording is never copied whole.
const WRITE_CHUNK: usize = 16 * 1024;
/// Messages queued for the segment writer thread: calls hand on a second at a time (64 kB), so this is about
/// 64 MB at worst, and a full queue drops audio rather than stall a call.
const SEGMENT_QUEUE: usize = 1024;

/// How recordings are encoded (`[server] recording_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordingFormat {
    /// 16-bit PCM WAV: 64 kB per second of stereo call.
    #[default]
    Wav,
    /// Opus in Ogg at 32 kbit/s: 4 kB per second.
    Opus,
}

impl RecordingFormat {
    /// The file extension (and object key suffix).
    pub fn extension(self) -> &'static str {
        match self {
            RecordingFormat::Wav => "wav",
            RecordingFormat::Opus => "ogg",
        }
    }

    /// The MIME type to serve the recording as.
    pub fn content_type(self) -> &'static str {
        match self {
            RecordingFormat::Wav => "audio/wav",
            RecordingFormat::Opus => "audio/ogg",
        }
    }
}

impl std::str::FromStr for RecordingFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "wav" => Ok(RecordingFormat::Wav),
            "opus" => Ok(RecordingFormat::Opus),
            other => Err(format!("recording_format {other:?} must be \"wav\" or \"opus\"")),
        }
    }
}

/// A stereo recording being written to a local file as audio arrives, in either format. Memory: one chunk of
/// the caller's samples in flight, plus under one Opus frame kept for the next call.
pub struct SegmentWriter {
    path: PathBuf,
    encoder: Encoder,
}

enum Encoder {
    Wav { file: BufWriter<File>, data_bytes: u64 },
    Opus { ogg: OggOpusWriter<BufWriter<File>>, opus: opus::Encoder, pending: Vec<i16>, frames: u64, packet: Vec<u8> },
}

impl SegmentWriter {
    /// Creates (truncates) the segment file `path`, its directory made as needed.
    pub fn create(path: &Path, format: RecordingFormat) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = BufWriter::new(File::create(path)?);
        let encoder = match format {
            RecordingFormat::Wav => {
                // Sizes are zero until `finish` knows them.
                file.write_all(&wav_header(0))?;
                Encoder::Wav { file, data_bytes: 0 }
            }
            RecordingFormat::Opus => {
                let opus_error = |e: opus::Error| std::io::Error::other(format!("opus encoder: {e}"));
                let mut opus = opus::Encoder::new(RECORDING_RATE, opus::Channels::Stereo, opus::Application::Voip)
                    .map_err(opus_error)?;
                opus.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE)).map_err(opus_error)?;
                // Lookahead comes in input-rate samples; the header wants 48 kHz ones.
                let lookahead = opus.get_lookahead().map_err(opus_error)?;
                let pre_skip = u16::try_from(lookahead.max(0) * 3).unwrap_or(u16::MAX);
                let ogg = OggOpusWriter::new(file, 2, RECORDING_RATE, pre_skip, rand::random())?;
                Encoder::Opus {
                    ogg,
                    opus,
                    pending: Vec::with_capacity(OPUS_FRAME * 2),
                    frames: 0,
                    packet: vec![0; 4000],
                }
            }
        };
        Ok(Self { path: path.to_path_buf(), encoder })
    }

    /// Appends interleaved stereo samples (caller left, agent right).
    pub fn write(&mut self, interleaved: &[i16]) -> std::io::Result<()> {
        match &mut self.encoder {
            Encoder::Wav { file, data_bytes } => {
                let mut bytes = Vec::with_capacity(WRITE_CHUNK * 2);
                for chunk in interleaved.chunks(WRITE_CHUNK) {
                    bytes.clear();
                    bytes.extend(chunk.iter().flat_map(|s| s.to_le_bytes()));
                    file.write_all(&bytes)?;
                    *data_bytes += bytes.len() as u64;
                }
                Ok(())
            }
            Encoder::Opus { ogg, opus, pending, frames, packet } => {
                for &sample in interleaved {
                    pending.push(sample);
                    if pending.len() == OPUS_FRAME * 2 {
                        let len =
                            opus.encode(pending, packet).map_err(|e| std::io::Error::other(format!("opus: {e}")))?;
                        ogg.write_packet(&packet[..len], OPUS_FRAME as u32)?;
                        *frames += 1;
                        pending.clear();
                    }
                }
                Ok(())
            }
        }
    }

    /// Completes the file (WAV sizes patched in; Opus: the last frame padded with silence, end of stream
    /// marked) and syncs it to disk. Returns its path.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        let file = match self.encoder {
            Encoder::Wav { mut file, data_bytes } => {
                let data_len = u32::try_from(data_bytes).map_err(|_| std::io::Error::other("WAV over 4 GiB"))?;
                file.seek(SeekFrom::Start(0))?;
                file.write_all(&wav_header(data_len))?;
                file.into_inner().map_err(|e| e.into_error())?
            }
            Encoder::Opus { mut ogg, mut opus, mut pending, mut frames, mut packet } => {
                let real = frames * OPUS_FRAME as u64 + (pending.len() / 2) as u64;
                if !pending.is_empty() {
                    pending.resize(OPUS_FRAME * 2, 0);
                    let len =
                        opus.encode(&pending, &mut packet).map_err(|e| std::io::Error::other(format!("opus: {e}")))?;
                    ogg.write_packet(&packet[..len], OPUS_FRAME as u32)?;
                    frames += 1;
                }
                let _ = frames;
                ogg.finish(real)?.into_inner().map_err(|e| e.into_error())?
            }
        };
        file.sync_all()?;
        Ok(self.path)
    }
}

/// The 44-byte header of a 16 kHz stereo 16-bit WAV with `data_len` bytes of samples.
fn wav_header(data_len: u32) -> [u8; 44] {
    let channels: u16 = 2;
    let mut header = [0u8; 44];
    header[0..4].copy_from_slice(b"RIFF");
    header[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    header[8..16].copy_from_slice(b"WAVEfmt ");
    header[16..20].copy_from_slice(&16u32.to_le_bytes());
    header[20..22].copy_from_slice(&1u16.to_le_bytes());
    header[22..24].copy_from_slice(&channels.to_le_bytes());
    header[24..28].copy_from_slice(&RECORDING_RATE.to_le_bytes());
    header[28..32].copy_from_slice(&(RECORDING_RATE * u32::from(channels) * 2).to_le_bytes());
    header[32..34].copy_from_slice(&(channels * 2).to_le_bytes());
    header[34..36].copy_from_slice(&16u16.to_le_bytes());
    header[36..40].copy_from_slice(b"data");
    header[40..44].copy_from_slice(&data_len.to_le_bytes());
    header
}

/// A recording whose upload failed: the file is kept at `path` for a spool to send later with
/// [`upload_file`]`(store, bucket, key, path)`. Carried inside the `io::Error` the sink returns
/// (`err.get_ref()` → `downcast_ref::<RecordingUploadFailed>()`).
#[derive(Debug, thiserror::Error)]
#[error("recording {bucket}/{key} not uploaded (kept at {path}): {source}")]
pub struct RecordingUploadFailed {
    /// The bucket it belongs in.
    pub bucket: String,
    /// Its key there.
    pub key: String,
    /// The local file holding it.
    pub path: PathBuf,
    /// Why the upload failed.
    pub source: Box<BlobError>,
}

/// Where a finished recording's segment file goes: the `recordings` bucket, now or later.
pub trait SegmentUploader: Send + Sync {
    /// Takes the finished segment file at `path` for `bucket/key` (it is the uploader's from now on: moved
    /// into the store, or kept until it is) and returns the URL the object has, or will have once a queued
    /// upload is through. An error means the recording is neither stored nor queued: the file is kept where
    /// it is. Blocking: called from the thread that stores the call's record.
    fn upload(&self, bucket: &str, key: &str, path: PathBuf) -> Result<String, RecordingUploadFailed>;
}

/// Uploads at once on the sink's runtime and reports a failure (the file kept): the sink on its own, without
/// a spool (`voicera-records` queues failed uploads instead).
pub struct DirectUpload {
    store: Arc<dyn BlobStore>,
    runtime: tokio::runtime::Handle,
}

impl DirectUpload {
    /// Uploads to `store`, run on `runtime`.
    pub fn new(store: Arc<dyn BlobStore>, runtime: tokio::runtime::Handle) -> Self {
        Self { store, runtime }
    }
}

impl SegmentUploader for DirectUpload {
    fn upload(&self, bucket: &str, key: &str, path: PathBuf) -> Result<String, RecordingUploadFailed> {
        let moved = self.runtime.block_on(async {
            validate_key(key)?;
            self.store.move_file(bucket, key, &path).await
        });
        match moved {
            Ok(()) => Ok(self.store.url(bucket, key)),
            Err(source) => Err(RecordingUploadFailed {
                bucket: bucket.to_string(),
                key: key.to_string(),
                path,
                source: Box::new(source),
            }),
        }
    }
}

/// Records go where they went before (JSON under `<data>/calls/<date>/`); recordings go to the blob store's
/// `recordings` bucket as `<date>/<record id>.wav|.ogg`, and the record's `recording` is the object's URL.
pub struct BlobRecordingSink {
    store: Arc<dyn BlobStore>,
    uploader: Arc<dyn SegmentUploader>,
    records: FsRecordingSink,
    segments: PathBuf,
    format: RecordingFormat,
    /// The thread that writes streamed recordings' segment files (started with the sink).
    writer: SyncSender<SegmentMsg>,
    next_stream: AtomicU64,
}

/// Work for the segment writer thread.
enum SegmentMsg {
    Open { id: u64, path: PathBuf },
    Write { id: u64, samples: Vec<i16> },
    Finish { id: u64, reply: mpsc::Sender<std::io::Result<PathBuf>> },
}

/// Writes every streamed recording's segment file, off the calls' reactors; ends when the sink is dropped.
fn run_segment_writer(format: RecordingFormat, queue: mpsc::Receiver<SegmentMsg>) {
    let mut open: HashMap<u64, std::io::Result<SegmentWriter>> = HashMap::new();
    for msg in queue {
        match msg {
            SegmentMsg::Open { id, path } => {
                open.insert(id, SegmentWriter::create(&path, format));
            }
            SegmentMsg::Write { id, samples } => {
                if let Some(Ok(writer)) = open.get_mut(&id) {
                    if let Err(err) = writer.write(&samples) {
                        open.insert(id, Err(err));
                    }
                }
            }
            SegmentMsg::Finish { id, reply } => {
                let done = match open.remove(&id) {
                    Some(Ok(writer)) => writer.finish(),
                    Some(Err(err)) => Err(err),
                    None => Err(std::io::Error::other("no such recording stream")),
                };
                let _ = reply.send(done);
            }
        }
    }
}

/// A call's recording on its way to a segment file: what the call's [`StereoRecorder`] writes to.
///
/// [`StereoRecorder`]: voicera_conversation::recorder::StereoRecorder
struct StreamedRecording {
    id: u64,
    key: String,
    path: PathBuf,
    queue: SyncSender<SegmentMsg>,
    /// Samples dropped because the writer thread's queue was full.
    dropped: u64,
}

impl RecordingWriter for StreamedRecording {
    fn write(&mut self, interleaved: &[i16]) {
        match self.queue.try_send(SegmentMsg::Write { id: self.id, samples: interleaved.to_vec() }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped += interleaved.len() as u64,
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

impl BlobRecordingSink {
    /// Records as JSON under `records_dir`, recordings through `store` via segment files in `segments_dir`
    /// (keep it on the data dir's disk). `runtime` runs the uploads: `store` is called from the blocking
    /// threads transports store records on.
    pub fn new(
        store: Arc<dyn BlobStore>,
        runtime: tokio::runtime::Handle,
        records_dir: impl Into<PathBuf>,
        segments_dir: impl Into<PathBuf>,
        format: RecordingFormat,
    ) -> Self {
        let (writer, queue) = mpsc::sync_channel(SEGMENT_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("recording-writer".into())
            .spawn(move || run_segment_writer(format, queue));
        if let Err(err) = spawned {
            // Without the thread, `open_recording` fails its sends and calls record in memory instead.
            tracing::error!(%err, "cannot start the recording writer thread: recordings stay in memory");
        }
        Self {
            uploader: Arc::new(DirectUpload::new(Arc::clone(&store), runtime)),
            store,
            records: FsRecordingSink::new(records_dir),
            segments: segments_dir.into(),
            format,
            writer,
            next_stream: AtomicU64::new(0),
        }
    }

    /// Finished segment files go through `uploader` (a spool that retries failed uploads) instead of being
    /// uploaded once, at the call's end, on the sink's runtime.
    pub fn with_uploader(mut self, uploader: Arc<dyn SegmentUploader>) -> Self {
        self.uploader = uploader;
        self
    }

    /// The object key and segment file of `record`'s recording.
    fn key_and_path(&self, record: &CallRecord) -> (String, PathBuf) {
        let day = day_of(record.started_at);
        let name = format!("{}.{}", safe_stem(&record.record_id), self.format.extension());
        let path = self.segments.join(&day).join(&name);
        (format!("{day}/{name}"), path)
    }

    /// Writes and uploads one recording held in memory; `Ok(url)`, or the failure with the file kept.
    fn store_recording(
        &self,
        record: &CallRecord,
        stereo: &[i16],
    ) -> std::io::Result<Result<String, RecordingUploadFailed>> {
        let (key, path) = self.key_and_path(record);
        let mut segment = SegmentWriter::create(&path, self.format)?;
        segment.write(stereo)?;
        let path = segment.finish()?;
        Ok(self.upload(key, path))
    }

    /// Hands a finished segment file to the uploader; the object's URL, or the failure with the file kept.
    fn upload(&self, key: String, path: PathBuf) -> Result<String, RecordingUploadFailed> {
        let bucket = self.store.bucket_name(Bucket::Recordings);
        self.uploader.upload(&bucket, &key, path)
    }

    /// Puts the upload's outcome in the record, stores the record, and returns the failure for a spool.
    fn conclude(
        &self,
        record: &mut CallRecord,
        uploaded: Option<Result<String, RecordingUploadFailed>>,
    ) -> std::io::Result<()> {
        let failed = match uploaded {
            Some(Ok(url)) => {
                record.recording = Some(url);
                None
            }
            Some(Err(failed)) => {
                // The record points at the local file until a spool uploads it.
                record.recording = Some(failed.path.display().to_string());
                Some(failed)
            }
            None => None,
        };
        self.records.store(record, None)?;
        match failed {
            None => Ok(()),
            Some(failed) => Err(std::io::Error::other(failed)),
        }
    }
}

impl RecordingSink for BlobRecordingSink {
    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
        if record.record_id.is_empty() {
            record.record_id = new_record_id();
        }
        let uploaded = match stereo {
            Some(samples) => Some(self.store_recording(record, samples)?),
            None => None,
        };
        self.conclude(record, uploaded)
    }

    /// No recording to upload: what the record files keep of such a call (see [`FsRecordingSink`]).
    fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()> {
        self.records.store_log_only(record)
    }

    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        self.records.store_provider_report(report)
    }

    /// Streams the recording to its segment file through the writer thread (`None` if its queue is full:
    /// the call then records in memory).
    fn open_recording(&self, record: &CallRecord) -> Option<Box<dyn RecordingWriter>> {
        let (key, path) = self.key_and_path(record);
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        self.writer.try_send(SegmentMsg::Open { id, path: path.clone() }).ok()?;
        Some(Box::new(StreamedRecording { id, key, path, queue: self.writer.clone(), dropped: 0 }))
    }

    fn store_streamed(&self, record: &mut CallRecord, recording: Box<dyn RecordingWriter>) -> std::io::Result<()> {
        let Ok(stream) = recording.into_any().downcast::<StreamedRecording>() else {
            self.records.store(record, None)?;
            return Err(std::io::Error::other("a recording streamed to another sink"));
        };
        if stream.dropped > 0 {
            tracing::warn!(record_id = %record.record_id, samples = stream.dropped, "recording writer fell behind: audio dropped");
        }
        let (reply, done) = mpsc::channel();
        let gone = || std::io::Error::other("the recording writer thread is gone");
        // Blocking is fine here (a blocking thread); the queue drains at disk speed.
        let finished = match stream.queue.send(SegmentMsg::Finish { id: stream.id, reply }) {
            Ok(()) => done.recv().unwrap_or_else(|_| Err(gone())),
            Err(_) => Err(gone()),
        };
        match finished {
            Ok(path) => self.conclude(record, Some(self.upload(stream.key, path))),
            Err(err) => {
                tracing::error!(record_id = %record.record_id, path = %stream.path.display(), %err, "recording segment not written");
                self.records.store(record, None)?;
                Err(err)
            }
        }
    }
}

/// `YYYY-MM-DD` (UTC) of Unix seconds.
fn day_of(unix_secs: u64) -> String {
    let (year, month, day) = crate::s3::civil_from_days((unix_secs / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Record ids are ours (`rec-<ms>-<hex>`), but keep keys safe whatever they hold.
fn safe_stem(id: &str) -> String {
    let stem: String =
        id.chars().take(120).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if stem.is_empty() {
        "call".into()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{upload_file, FsBlobStore};
    use tokio::io::AsyncReadExt;

    fn record() -> CallRecord {
        CallRecord { record_id: "rec-1-abc".into(), ..CallRecord::example() }
    }

    /// One second of stereo: a 440 Hz tone on the left, silence on the right.
    fn second_of_audio() -> Vec<i16> {
        (0..RECORDING_RATE as usize)
            .flat_map(|i| {
                let t = i as f32 / RECORDING_RATE as f32;
                [((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16, 0]
            })
            .collect()
    }

    #[test]
    fn wav_segments_get_their_sizes_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SegmentWriter::create(&dir.path().join("a/b.wav"), RecordingFormat::Wav).unwrap();
        writer.write(&[1, 2, 3, 4]).unwrap();
        writer.write(&[5, 6]).unwrap();
        let bytes = std::fs::read(writer.finish().unwrap()).unwrap();
        assert_eq!(bytes.len(), 44 + 12);
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 12);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 12);
        assert_eq!(&bytes[44..48], &[1, 0, 2, 0]);
        let same = voicera_conversation::recorder::wav_bytes(&[1, 2, 3, 4, 5, 6], RECORDING_RATE, 2);
        assert_eq!(bytes, same, "the same file the filesystem sink writes");
    }

    #[test]
    fn opus_segments_are_much_smaller_than_wav() {
        let dir = tempfile::tempdir().unwrap();
        let audio: Vec<i16> = (0..5).flat_map(|_| second_of_audio()).collect();
        let mut opus = SegmentWriter::create(&dir.path().join("a.ogg"), RecordingFormat::Opus).unwrap();
        // Odd-sized writes: frames span calls.
        for chunk in audio.chunks(1234) {
            opus.write(chunk).unwrap();
        }
        let ogg = std::fs::read(opus.finish().unwrap()).unwrap();
        let wav_len = 44 + audio.len() * 2;
        assert!(ogg.len() * 10 < wav_len, "ogg {} bytes vs wav {wav_len}", ogg.len());
        assert_eq!(&ogg[..4], b"OggS");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sink_uploads_and_records_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let sink = BlobRecordingSink::new(
            Arc::clone(&store),
            tokio::runtime::Handle::current(),
            dir.path().join("calls"),
            dir.path().join("segments"),
            RecordingFormat::Wav,
        );
        let audio = second_of_audio();
        let mut rec = record();
        let stored = tokio::task::spawn_blocking(move || sink.store(&mut rec, Some(&audio)).map(|()| rec))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.recording.as_deref(), Some("fs://recordings/2026-11-25/rec-1-abc.wav"));
        let mut read = crate::get_url(store.as_ref(), stored.recording.as_deref().unwrap(), None).await.unwrap();
        let mut wav = Vec::new();
        read.reader.read_to_end(&mut wav).await.unwrap();
        assert_eq!(wav.len(), 44 + RECORDING_RATE as usize * 4);
        let json = std::fs::read_to_string(dir.path().join("calls/2026-11-25/rec-1-abc.json")).unwrap();
        assert!(json.contains("fs://recordings/2026-11-25/rec-1-abc.wav"), "{json}");
        assert!(!dir.path().join("segments/2026-11-25/rec-1-abc.wav").exists(), "the segment file is removed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_streamed_recording_is_the_same_file_as_one_made_in_memory() {
        use voicera_conversation::recorder::StereoRecorder;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let sink = Arc::new(BlobRecordingSink::new(
            Arc::clone(&store),
            tokio::runtime::Handle::current(),
            dir.path().join("calls"),
            dir.path().join("segments"),
            RecordingFormat::Wav,
        ));
        let mut rec = record();
        let mut streaming = StereoRecorder::streaming(sink.open_recording(&rec).unwrap());
        let mut memory = StereoRecorder::default();
        let audio = second_of_audio();
        // 3.5 s of call, a 20 ms frame of each side per tick.
        for frame in audio.chunks(640).cycle().take(175) {
            let (left, right): (Vec<i16>, Vec<i16>) = frame.chunks(2).map(|p| (p[0], p[0] / 2)).unzip();
            for r in [&mut streaming, &mut memory] {
                r.push_caller(&left);
                r.push_agent(&right);
            }
        }
        assert!(streaming.samples().len() < memory.samples().len() / 3, "most of it was handed on");
        let writer = streaming.finish().unwrap();
        let stored = {
            let sink = Arc::clone(&sink);
            tokio::task::spawn_blocking(move || sink.store_streamed(&mut rec, writer).map(|()| rec))
                .await
                .unwrap()
                .unwrap()
        };
        let url = stored.recording.unwrap();
        assert_eq!(url, "fs://recordings/2026-11-25/rec-1-abc.wav");
        let mut read = crate::get_url(store.as_ref(), &url, None).await.unwrap();
        let mut wav = Vec::new();
        read.reader.read_to_end(&mut wav).await.unwrap();
        let expected = voicera_conversation::recorder::wav_bytes(memory.samples(), RECORDING_RATE, 2);
        assert_eq!(wav.len(), expected.len());
        assert!(wav == expected, "streamed and in-memory recordings differ");
        assert!(!dir.path().join("segments/2026-11-25/rec-1-abc.wav").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_upload_keeps_the_file_for_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        // The store's root is a file: every write fails.
        std::fs::write(dir.path().join("blobs"), b"").unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let sink = BlobRecordingSink::new(
            store,
            tokio::runtime::Handle::current(),
            dir.path().join("calls"),
            dir.path().join("segments"),
            RecordingFormat::Opus,
        );
        let audio = second_of_audio();
        let mut rec = record();
        let err = tokio::task::spawn_blocking(move || sink.store(&mut rec, Some(&audio))).await.unwrap().unwrap_err();
        let failed = err.get_ref().and_then(|e| e.downcast_ref::<RecordingUploadFailed>()).unwrap();
        assert_eq!((failed.bucket.as_str(), failed.key.as_str()), ("recordings", "2026-11-25/rec-1-abc.ogg"));
        assert!(failed.path.exists(), "the recording is kept");
        let json = std::fs::read_to_string(dir.path().join("calls/2026-11-25/rec-1-abc.json")).unwrap();
        assert!(json.contains("segments/2026-11-25/rec-1-abc.ogg"), "the record points at the kept file: {json}");

        // Once the store is back, the spool's retry uploads the kept file.
        let good = FsBlobStore::new(dir.path().join("blobs2"));
        let url = upload_file(&good, &failed.bucket, &failed.key, &failed.path).await.unwrap();
        assert_eq!(url, "fs://recordings/2026-11-25/rec-1-abc.ogg");
        assert_eq!(
            good.head("recordings", &failed.key).await.unwrap().unwrap().len,
            std::fs::metadata(&failed.path).unwrap().len()
        );
    }
}
