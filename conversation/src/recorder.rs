//! Call records: the transcript and timings of a call (JSON) and, when enabled, a stereo recording (caller
//! left, agent right, 16 kHz WAV), handed to a [`RecordingSink`] when the call ends, however it ends. The
//! filesystem sink writes under `<data-dir>/calls/<date>/`; the blob-store sink (`voicera-blob`: filesystem or
//! S3) implements the same trait, and can take the recording as the call runs ([`StereoRecorder::streaming`]).
//! Files are written to a temporary name and renamed, so a crash never leaves a half record. Records are named
//! by an id this server makes ([`new_record_id`]), never by the caller's Call-ID: two calls that send the same
//! one keep a record each.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use voicera_media::stream::ENGINE_FRAME;

/// Longest stereo recording kept in memory (16 kHz × 2 channels × 2 bytes = 64 KB/s → 15 min ≈ 58 MB);
/// beyond it the recording stops and the record says so. A streaming recorder ([`StereoRecorder::streaming`])
/// has no such cap.
pub const MAX_RECORDING_FRAMES: usize = 15 * 60 * 50;

/// One user turn and the agent's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TurnRecord {
    /// The turn number (1 is the caller's first).
    pub turn: u64,
    /// What the caller said.
    pub user_text: String,
    /// What the agent answered.
    pub agent_text: String,
    /// The caller cut the answer off.
    pub interrupted: bool,
    /// From the end-of-speech decision to the first agent audio.
    pub end_of_speech_to_audio_ms: Option<u64>,
    /// Where that time went: end of speech → final transcript, → first LLM token, first clause → TTS audio.
    pub stt_ms: Option<u64>,
    /// Reply requested → first LLM token.
    pub llm_first_token_ms: Option<u64>,
    /// First clause sent to TTS → its first audio.
    pub tts_first_audio_ms: Option<u64>,
    /// Times the caller's voice paused the agent during this turn's reply, and what came of each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub barge_ins: Vec<BargeInRecord>,
    /// When the caller's words became final, Unix milliseconds (the transcript's line time).
    pub user_at_ms: u64,
    /// When the agent's answer was said, Unix milliseconds.
    pub agent_at_ms: Option<u64>,
}

/// One barge-in: the caller's voice paused the agent; it was an interruption, or the agent played on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BargeInRecord {
    /// `interrupted` or `resumed`.
    pub outcome: &'static str,
    /// How long the agent was paused before the verdict.
    pub paused_ms: u64,
}

/// What is stored about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// This server's id of the record (`rec-<unix ms>-<16 hex>`): its file name.
    pub record_id: String,
    /// The transport's id of the call (SIP Call-ID, the provider's call UUID), as the other side sent it.
    pub call_id: String,
    /// The agent's id.
    pub agent: String,
    /// The caller's number or URI user.
    pub caller: String,
    /// The called number or agent.
    pub called: String,
    /// The agent placed the call rather than answered it.
    pub outbound: bool,
    /// How the call came: `sip`, `webrtc`, a provider stream's name.
    pub transport: &'static str,
    /// Unix seconds.
    pub started_at: u64,
    /// Unix seconds.
    pub ended_at: u64,
    /// Why the call ended, as [`HangUpReason::as_str`](crate::engine::HangUpReason::as_str) or the transport says.
    pub end_reason: String,
    /// The greeting as said (variables filled).
    pub greeting: String,
    /// The conversation, one entry per caller turn.
    pub turns: Vec<TurnRecord>,
    /// Where the recording is, if one was made: a path relative to the records' root (filesystem sink), a
    /// blob URL (`s3://bucket/key`, `fs://bucket/key`), or the local file while its upload waits for a spool.
    pub recording: Option<String>,
    /// The recording hit [`MAX_RECORDING_FRAMES`] and stops short of the call's end.
    pub recording_truncated: bool,
    /// Model failures during the call (an untranscribed utterance, a failed reply or clause), in order; at
    /// most [`MAX_MODEL_FAILURES`] are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_failures: Vec<ModelFailureRecord>,
    /// Fallback-chain switches during the call, in order; at most [`MAX_MODEL_FAILURES`] are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_fallbacks: Vec<ModelFallbackRecord>,
    /// Answering-machine detection on a campaign call placed with it on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amd: Option<AmdRecord>,
    /// The recording opens with this much early media (a call we placed: what the far end played before it
    /// answered, RFC 3960; the caller's side only): the answer is this far into it. 0 without early media.
    #[serde(skip_serializing_if = "is_zero")]
    pub early_media_ms: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// What answering-machine detection decided on a call, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmdRecord {
    /// `human`, `machine`, `machine-beep`, or `undecided` (no verdict in time: treated as a person).
    pub verdict: &'static str,
    /// From the answer to the verdict.
    pub decided_after_ms: u64,
    /// What the call did: `agent` (the agent started), `hangup`, `leave_message`, `connect`.
    pub action: &'static str,
    /// The voicemail message was spoken to the end.
    pub message_left: bool,
    /// From the answer to the message's start (the beep, or the greeting's end), when one was started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_after_ms: Option<u64>,
}

#[cfg(any(test, feature = "test-support"))]
impl CallRecord {
    /// A record for tests: an answered 8 s SIP call to the `bench` agent (from `1` to `2`, 2026-11-25
    /// 04:37:02 UTC) in which nothing was said. Tests change the fields they are about.
    pub fn example() -> CallRecord {
        CallRecord {
            record_id: "rec-1".into(),
            call_id: "call@host".into(),
            agent: "bench".into(),
            caller: "1".into(),
            called: "2".into(),
            outbound: false,
            transport: "sip",
            started_at: 1_795_588_622,
            ended_at: 1_795_588_630,
            end_reason: String::new(),
            greeting: String::new(),
            turns: Vec::new(),
            recording: None,
            recording_truncated: false,
            model_failures: Vec::new(),
            model_fallbacks: Vec::new(),
            amd: None,
            early_media_ms: 0,
        }
    }
}

/// A fallback chain's switch to its next model, as kept in the call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFallbackRecord {
    /// The caller turn it happened in.
    pub turn: Option<u64>,
    /// `stt`, `llm` or `tts`.
    pub stage: &'static str,
    /// The model left.
    pub from: String,
    /// The model that took over.
    pub to: String,
    /// The failure's kind.
    pub reason: &'static str,
    /// What the model left said.
    pub message: String,
}

/// The most model failures one call record keeps: a provider that fails every turn of a long call must not
/// grow the record without bound.
pub const MAX_MODEL_FAILURES: usize = 32;

/// One model failure, as kept in the call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFailureRecord {
    /// The caller turn it happened in (None: before the first, e.g. the greeting's speech).
    pub turn: Option<u64>,
    /// `stt`, `llm` or `tts`.
    pub stage: &'static str,
    /// The failure's kind (`overloaded`, `timed_out`, ...).
    pub kind: &'static str,
    /// What the engine or provider said.
    pub message: String,
}

/// A provider's end-of-call report (hangup webhook / status callback), kept beside the call record: the
/// authoritative cause and billed duration for calls that streamed, and the only trace of calls that never
/// did (busy, no answer, failed). The control plane reconciles the two by `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderReport {
    /// The provider's name (`plivo`, `twilio`, ...).
    pub provider: &'static str,
    /// The provider's id of the call.
    pub call_id: String,
    /// The caller's number, as the provider reports it.
    pub caller: String,
    /// The called number, as the provider reports it.
    pub called: String,
    /// `inbound` / `outbound` as the provider says, or empty.
    pub direction: String,
    /// The provider's hangup cause or call status (`NORMAL_CLEARING`, `USER_BUSY`, `no-answer`, ...).
    pub cause: String,
    /// Billed duration in seconds, when reported.
    pub duration_secs: Option<u64>,
    /// The call never connected (busy, no answer, failed, cancelled).
    pub unanswered: bool,
    /// Unix seconds.
    pub received_at: u64,
}

/// Where records go.
pub trait RecordingSink: Send + Sync {
    /// A call started and its journal opened (the record holds who, what and when; no end yet). Called on
    /// the call's own task: must not block (queue, don't write). The default does nothing.
    fn call_started(&self, _record: &CallRecord) {}

    /// One utterance of the call's transcript as it is said (`role` is `user` or `assistant`, `at_ms` Unix
    /// milliseconds), for a sink that keeps the transcript on disk as the call runs, so a process killed
    /// mid-call does not lose it. Only calls whose agent keeps transcripts report lines. Called on the call's
    /// own task: must not block (queue, don't write). The default does nothing: the record at the end holds
    /// every line.
    fn transcript_line(&self, _record: &CallRecord, _at_ms: u64, _role: &'static str, _text: &str) {}

    /// Stores the record and the interleaved stereo recording (if any). Blocking: call from a blocking task.
    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()>;

    /// Stores what is kept of a call whose agent keeps no transcript (`record_transcript` off): its log
    /// alone (who, when, how long, why it ended), no record file, no transcript, no recording; `record`'s
    /// texts are already blank. Blocking. Every sink decides: one with a call log writes it; one without
    /// says so.
    fn store_log_only(&self, record: &mut CallRecord) -> std::io::Result<()>;

    /// Stores a provider's end-of-call report. Blocking.
    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()>;

    /// Where the recording of the call `record` describes is written as the call runs
    /// ([`StereoRecorder::streaming`]), or `None` when this sink takes it whole at the end (`store`'s
    /// `stereo`). Sinks that stream keep a call's memory bounded however long it lasts.
    fn open_recording(&self, _record: &CallRecord) -> Option<Box<dyn RecordingWriter>> {
        None
    }

    /// Stores the record with a recording that was streamed to `recording` (from [`open_recording`]
    /// and [`StereoRecorder::finish`]). Blocking.
    ///
    /// [`open_recording`]: RecordingSink::open_recording
    fn store_streamed(&self, record: &mut CallRecord, recording: Box<dyn RecordingWriter>) -> std::io::Result<()> {
        drop(recording);
        self.store(record, None)?;
        Err(std::io::Error::other("this recording sink does not take streamed recordings"))
    }
}

/// Takes a call's interleaved stereo recording in order, as it is made. Called on the call's reactor: it must
/// not block (hand the samples to a writer thread).
pub trait RecordingWriter: Send {
    /// The next interleaved samples (caller, agent, caller, ...).
    fn write(&mut self, interleaved: &[i16]);

    /// The writer as `Any`, so the sink that opened it can take back its own type at the end.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// A new record id made now, `rec-<unix ms>-<16 hex>` (see [`record_id_at`]); for sinks that get a record
/// without one.
pub fn new_record_id() -> String {
    record_id_at(unix_ms())
}

/// Unix milliseconds now: the call side's wall clock (the transports' tokens, replay guards and reports, and
/// ids of records made outside a call). A call's own times come from its [`WallClock`](crate::journal::WallClock).
/// The control plane's twin is `voicera_store::unix_ms`: neither crate is below the other.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The id of a record that starts at `unix_ms`, `rec-<unix ms>-<16 hex>`: ordered by time in a directory
/// listing, unique across calls and processes (a per-process counter mixed with the process id and the
/// start time under a random SipHash key).
pub fn record_id_at(unix_ms: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u64(unix_ms);
    format!("rec-{unix_ms}-{:016x}", hasher.finish())
}

/// Records under a directory: `<root>/<YYYY-MM-DD>/<record id>.json` and `.wav`.
pub struct FsRecordingSink {
    root: PathBuf,
}

impl FsRecordingSink {
    /// Records under `root`; day directories are made as needed.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl RecordingSink for FsRecordingSink {
    fn store(&self, record: &mut CallRecord, stereo: Option<&[i16]>) -> std::io::Result<()> {
        let day = civil_date(record.started_at);
        let dir = self.root.join(&day);
        std::fs::create_dir_all(&dir)?;
        if record.record_id.is_empty() {
            record.record_id = new_record_id();
        }
        let stem = safe_file_stem(&record.record_id);
        if let Some(samples) = stereo {
            let name = format!("{stem}.wav");
            write_atomically(&dir.join(&name), &wav_bytes(samples, 16000, 2))?;
            record.recording = Some(format!("{day}/{name}"));
        }
        let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        write_atomically(&dir.join(format!("{stem}.json")), &json)
    }

    /// Keeps nothing: files are the transcript and recording an agent asked not to keep, and a directory of
    /// records has no call log (a store sink wrapping this one keeps it).
    fn store_log_only(&self, _record: &mut CallRecord) -> std::io::Result<()> {
        Ok(())
    }

    /// `<root>/<YYYY-MM-DD>/<call>.hangup.json`: a file of its own, so it never races the call's record.
    fn store_provider_report(&self, report: &ProviderReport) -> std::io::Result<()> {
        let dir = self.root.join(civil_date(report.received_at));
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
        write_atomically(&dir.join(format!("{}.hangup.json", safe_file_stem(&report.call_id))), &json)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Call-IDs may hold any token characters; keep file names portable.
fn safe_file_stem(call_id: &str) -> String {
    let stem: String = call_id
        .chars()
        .take(120)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    if stem.is_empty() {
        "call".into()
    } else {
        stem
    }
}

/// `YYYY-MM-DD` (UTC) of Unix seconds.
fn civil_date(unix_secs: u64) -> String {
    let (year, month, day) = crate::agent::civil_from_days((unix_secs / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A little-endian PCM WAV file.
pub fn wav_bytes(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Collects both directions of a call as interleaved stereo (caller left, agent right). Each side is
/// appended as it happens (the caller's audio when the engine hears it, the agent's as it plays), each with
/// its own write position, so the two stay aligned in audio time without being pushed in lock step.
///
/// In memory ([`Default`]) the whole recording is kept, up to [`MAX_RECORDING_FRAMES`]. Streaming
/// ([`StereoRecorder::streaming`]) hands each second both sides have reached to a [`RecordingWriter`] and
/// keeps only what the side that is behind has yet to fill, at most [`MAX_STREAMING_SKEW_FRAMES`].
pub struct StereoRecorder {
    /// Interleaved samples from channel position `flushed` on.
    interleaved: Vec<i16>,
    /// Samples per channel already handed to the writer (0 in memory).
    flushed: usize,
    /// Samples written so far on each channel.
    caller_len: usize,
    agent_len: usize,
    writer: Option<Box<dyn RecordingWriter>>,
    /// The recording reached [`MAX_RECORDING_FRAMES`] (in memory), or one side fell more than
    /// [`MAX_STREAMING_SKEW_FRAMES`] behind (streaming): some audio was dropped.
    pub truncated: bool,
}

impl Default for StereoRecorder {
    fn default() -> Self {
        // One minute up front; grows with the call up to the cap.
        Self {
            interleaved: Vec::with_capacity(ENGINE_FRAME * 2 * 50 * 60),
            flushed: 0,
            caller_len: 0,
            agent_len: 0,
            writer: None,
            truncated: false,
        }
    }
}

const MAX_RECORDING_SAMPLES: usize = MAX_RECORDING_FRAMES * ENGINE_FRAME;
/// A streaming recorder hands audio on once both sides hold this many samples (one second) past the last
/// hand-over: one write per second per call.
const STREAMING_CHUNK_SAMPLES: usize = 50 * ENGINE_FRAME;
/// How far (in frames: 10 s) one side may run ahead of the other in a streaming recorder before the lagging
/// side's span is handed on as silence.
pub const MAX_STREAMING_SKEW_FRAMES: usize = 10 * 50;

impl StereoRecorder {
    /// A recorder that streams to `writer` as the call runs, holding at most a few seconds in memory.
    pub fn streaming(writer: Box<dyn RecordingWriter>) -> Self {
        Self {
            interleaved: Vec::with_capacity((STREAMING_CHUNK_SAMPLES + ENGINE_FRAME) * 2 * 2),
            flushed: 0,
            caller_len: 0,
            agent_len: 0,
            writer: Some(writer),
            truncated: false,
        }
    }

    /// One frame of each side at once.
    pub fn push(&mut self, caller: &[i16; ENGINE_FRAME], agent: &[i16; ENGINE_FRAME]) {
        self.push_caller(caller);
        self.push_agent(agent);
    }

    /// Appends the caller's audio to the left channel.
    pub fn push_caller(&mut self, pcm: &[i16]) {
        self.caller_len = self.write(self.caller_len, 0, pcm);
        self.spill();
    }

    /// Appends the agent's audio to the right channel.
    pub fn push_agent(&mut self, pcm: &[i16]) {
        self.agent_len = self.write(self.agent_len, 1, pcm);
        self.spill();
    }

    fn write(&mut self, at: usize, channel: usize, pcm: &[i16]) -> usize {
        let pcm = if self.writer.is_some() {
            pcm
        } else {
            let room = MAX_RECORDING_SAMPLES.saturating_sub(at);
            if pcm.len() > room {
                self.truncated = true;
            }
            &pcm[..pcm.len().min(room)]
        };
        // A side so far behind that its span was handed on as silence resumes where the recording is now.
        let at = if at < self.flushed {
            self.truncated = true;
            self.flushed
        } else {
            at
        };
        let end = at + pcm.len();
        let start = at - self.flushed;
        let needed = (end - self.flushed) * 2;
        if self.interleaved.len() < needed {
            // The other side is behind: its part of the new span stays silent until it catches up.
            self.interleaved.resize(needed, 0);
        }
        for (i, sample) in pcm.iter().enumerate() {
            self.interleaved[(start + i) * 2 + channel] = *sample;
        }
        end
    }

    /// Streaming: hands on each full second both sides have reached, and the lagging side's span once the
    /// other is too far ahead.
    fn spill(&mut self) {
        if self.writer.is_none() {
            return;
        }
        let both = self.caller_len.min(self.agent_len);
        let ahead = self.caller_len.max(self.agent_len);
        let forced = ahead.saturating_sub(MAX_STREAMING_SKEW_FRAMES * ENGINE_FRAME);
        let ready = both.max(forced);
        if ready >= self.flushed + STREAMING_CHUNK_SAMPLES {
            self.hand_on(ready);
        }
    }

    /// Gives the writer every sample up to channel position `upto`.
    fn hand_on(&mut self, upto: usize) {
        let Some(writer) = self.writer.as_mut() else { return };
        let count = (upto - self.flushed) * 2;
        writer.write(&self.interleaved[..count]);
        self.interleaved.drain(..count);
        self.flushed = upto;
    }

    /// Ends a streaming recording: the rest is handed on and the writer returned (`None` in memory).
    pub fn finish(mut self) -> Option<Box<dyn RecordingWriter>> {
        let end = self.caller_len.max(self.agent_len);
        if end > self.flushed {
            self.hand_on(end);
        }
        self.writer.take()
    }

    /// The recording so far, interleaved (caller, agent, caller, ...): all of it in memory; streaming, only
    /// what has not been handed on yet.
    pub fn samples(&self) -> &[i16] {
        &self.interleaved
    }

    /// Whether this recorder streams to a writer.
    pub fn is_streaming(&self) -> bool {
        self.writer.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(951_782_400), "2000-02-29");
        assert_eq!(civil_date(1_795_588_622), "2026-11-25");
    }

    #[test]
    fn records_and_recordings_land_atomically() {
        let root = std::env::temp_dir().join(format!("voicera-rec-{}", std::process::id()));
        let sink = FsRecordingSink::new(&root);
        let mut record = CallRecord {
            record_id: new_record_id(),
            call_id: "abc@host;local=1/2".into(),
            caller: "sip:a@b".into(),
            called: "bench".into(),
            end_reason: "caller hung up".into(),
            greeting: "Hello".into(),
            ..CallRecord::example()
        };
        let mut rec = StereoRecorder::default();
        rec.push(&[1; ENGINE_FRAME], &[2; ENGINE_FRAME]);
        sink.store(&mut record, Some(rec.samples())).unwrap();
        let day = root.join("2026-11-25");
        let id = record.record_id.clone();
        let json = std::fs::read_to_string(day.join(format!("{id}.json"))).unwrap();
        assert!(json.contains(&format!("\"recording\": \"2026-11-25/{id}.wav\"")), "{json}");
        assert!(json.contains("\"call_id\": \"abc@host;local=1/2\""), "the caller's id is kept: {json}");
        let wav = std::fs::read(day.join(format!("{id}.wav"))).unwrap();
        assert_eq!(wav.len(), 44 + ENGINE_FRAME * 4);
        assert_eq!(&wav[44..48], &[1, 0, 2, 0], "caller left, agent right");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn two_calls_with_one_call_id_keep_a_record_each() {
        let root = std::env::temp_dir().join(format!("voicera-rec-dup-{}", std::process::id()));
        let sink = FsRecordingSink::new(&root);
        let record = |greeting: &str| CallRecord {
            record_id: new_record_id(),
            call_id: "same-call-id".into(),
            greeting: greeting.into(),
            ..CallRecord::example()
        };
        let (mut first, mut second) = (record("first"), record("second"));
        assert_ne!(first.record_id, second.record_id);
        sink.store(&mut first, None).unwrap();
        sink.store(&mut second, None).unwrap();
        let mut greetings: Vec<String> = std::fs::read_dir(root.join("2026-11-25"))
            .unwrap()
            .flatten()
            .map(|f| std::fs::read_to_string(f.path()).unwrap())
            .map(|json| serde_json::from_str::<serde_json::Value>(&json).unwrap()["greeting"].to_string())
            .collect();
        greetings.sort();
        assert_eq!(greetings, ["\"first\"", "\"second\""]);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn record_ids_are_time_ordered_and_unique() {
        let ids: Vec<String> = (0..1000).map(|_| new_record_id()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            let mut parts = id.splitn(3, '-');
            assert_eq!(parts.next(), Some("rec"));
            assert!(parts.next().is_some_and(|ms| ms.len() >= 13 && ms.bytes().all(|b| b.is_ascii_digit())), "{id}");
            assert!(parts.next().is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit())), "{id}");
        }
    }

    #[test]
    fn each_side_keeps_its_own_timeline() {
        let mut rec = StereoRecorder::default();
        // The caller is heard in two frames at once, the agent plays one frame per tick.
        rec.push_caller(&[1; 2 * ENGINE_FRAME]);
        rec.push_agent(&[2; ENGINE_FRAME]);
        assert_eq!(rec.samples().len(), 4 * ENGINE_FRAME);
        assert_eq!(&rec.samples()[2 * ENGINE_FRAME..2 * ENGINE_FRAME + 2], &[1, 0], "agent silent until it plays");
        rec.push_agent(&[3; ENGINE_FRAME]);
        rec.push_caller(&[]);
        assert_eq!(rec.samples().len(), 4 * ENGINE_FRAME);
        assert_eq!(&rec.samples()[..2], &[1, 2]);
        assert_eq!(&rec.samples()[4 * ENGINE_FRAME - 2..], &[1, 3]);
        assert!(!rec.truncated);
    }

    /// Collects what a streaming recorder hands on, and how often.
    struct Collect(std::sync::Arc<std::sync::Mutex<(Vec<i16>, usize)>>);

    impl RecordingWriter for Collect {
        fn write(&mut self, interleaved: &[i16]) {
            let mut got = self.0.lock().unwrap();
            got.0.extend_from_slice(interleaved);
            got.1 += 1;
        }

        fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
            self
        }
    }

    #[test]
    fn streaming_hands_on_each_second_and_holds_little() {
        let got = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), 0)));
        let mut streaming = StereoRecorder::streaming(Box::new(Collect(got.clone())));
        let mut memory = StereoRecorder::default();
        // 30 s of call; the caller's audio comes two frames at a time, the agent's one.
        for tick in 0..1500i16 {
            let caller = [tick; ENGINE_FRAME];
            let agent = [-tick; ENGINE_FRAME];
            for rec in [&mut streaming, &mut memory] {
                if tick % 2 == 1 {
                    rec.push_caller(&[[tick - 1; ENGINE_FRAME], caller].concat());
                }
                rec.push_agent(&agent);
            }
            assert!(streaming.samples().len() <= 2 * 2 * (STREAMING_CHUNK_SAMPLES + 2 * ENGINE_FRAME));
        }
        assert!(streaming.is_streaming() && !memory.is_streaming());
        let writer = streaming.finish().unwrap();
        assert!(writer.into_any().downcast::<Collect>().is_ok());
        let (samples, writes) = got.lock().unwrap().clone();
        assert_eq!(samples, memory.samples(), "the same recording as in memory");
        assert!((29..=31).contains(&writes), "about one write per second: {writes}");
    }

    #[test]
    fn a_side_too_far_behind_is_handed_on_as_silence() {
        let got = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), 0)));
        let mut rec = StereoRecorder::streaming(Box::new(Collect(got.clone())));
        // The agent plays for 12 s while the caller's side is never pushed.
        for _ in 0..600 {
            rec.push_agent(&[5; ENGINE_FRAME]);
        }
        assert!(rec.samples().len() <= 2 * (MAX_STREAMING_SKEW_FRAMES + 50) * ENGINE_FRAME, "bounded");
        // The caller's first frame arrives late: its first 2 s were handed on as silence, so it resumes there.
        assert!(!rec.truncated);
        rec.push_caller(&[7; ENGINE_FRAME]);
        assert!(rec.truncated);
        rec.finish();
        let samples = got.lock().unwrap().0.clone();
        assert_eq!(samples.len(), 600 * ENGINE_FRAME * 2);
        assert_eq!(&samples[..2], &[0, 5]);
        let resumed = 100 * ENGINE_FRAME * 2;
        assert_eq!(&samples[resumed - 2..resumed + 2], &[0, 5, 7, 5], "the caller resumes at the hand-over point");
    }
}
