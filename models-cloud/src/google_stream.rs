//! Google Cloud Speech-to-Text v2 streaming recognition: `StreamingRecognize`, a bidirectional gRPC call
//! (`/google.cloud.speech.v2.Speech/StreamingRecognize` on `speech.googleapis.com`, or `{location}-speech…` for
//! a regional recognizer) with the API key in `x-goog-api-key`, over the client's pooled HTTP/2 connection
//! ([`crate::grpc`]). Messages as `google/cloud/speech/v2/cloud_speech.proto` (googleapis) defines them:
//!
//! - the first `StreamingRecognizeRequest` names the `recognizer` (3,
//!   `projects/{project}/locations/{location}/recognizers/_`, the default one) and carries `streaming_config`
//!   (6): a `StreamingRecognitionConfig` with `config` (1: `RecognitionConfig` with
//!   `explicit_decoding_config` 8 = {`encoding` 1 = LINEAR16, `sample_rate_hertz` 2 = 16000,
//!   `audio_channel_count` 3 = 1}, `features` 2 = {`enable_automatic_punctuation` 4}, `model` 9,
//!   `language_codes` 10) and `streaming_features` (2: `interim_results` 2 = true);
//! - every later request carries `audio` (5): 16-bit little-endian PCM, at most 15 KB each;
//! - each `StreamingRecognizeResponse` carries `results` (6) of `StreamingRecognitionResult`: `alternatives`
//!   (1, the first's `transcript` 1), `is_final` (2), `stability` (3); interim results of one response
//!   concatenate, final ones are kept;
//! - the client half-closes the request stream when the engine's VAD ends the utterance: Google answers the
//!   audio's final results and ends the call with `grpc-status` 0; a refusal comes as a `grpc-status` with
//!   Google's `grpc-message` (`API key not valid…`, `INVALID_ARGUMENT: …`).
//!
//! Each utterance is one call on the client's connections ([`crate::grpc_pool`]: up to 100 calls on one
//! connection, more connections past that, PINGs on idle ones); the next call opens as soon as the previous
//! one is answered, so it is warm when the caller speaks again. Dropping the stream object resets its call
//! (`RST_STREAM`), which stops the network work at once.
//!
//! Google ends a streaming call after about five minutes (`OUT_OF_RANGE`, "Exceeded maximum allowed stream
//! duration of 305 seconds"), and an idle one sooner. A call carries over instead of failing: the client
//! replaces it by itself once it has carried [`DEFAULT_STREAM_LIMIT`] of audio, and replaces it when Google
//! ends it that way; the new call gets the same config, then the audio since the end of the last final
//! result (`result_end_offset`, [`CallAudio`]), then the rest. Finals already heard stand, and the audio they
//! cover is not sent again, so no word is lost or said twice.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::ResponseFuture;
use h2::SendStream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, Transcript};

use crate::deepgram::encode;
use crate::grpc::{
    self, Activity, Connector, GrpcChannel, GrpcDecoder, ProtoReader, ProtoValue, ProtoWriter, StreamLease,
};
use crate::grpc_pool::PoolConfig;
use crate::streams::pcm16_bytes;

/// Speech-to-Text's API root (the global location).
pub const DEFAULT_BASE_URL: &str = "https://speech.googleapis.com";
/// The method's path.
pub const STREAMING_RECOGNIZE: &str = "/google.cloud.speech.v2.Speech/StreamingRecognize";
/// How long the final results may take after the audio's end.
const END_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long to wait for Google's status after a write failed (it says why better than the reset does).
const STATUS_GRACE: Duration = Duration::from_millis(200);
/// The most audio per request (the API's limit is 15 KB).
const MAX_AUDIO: usize = 15 * 1024;
/// Audio one call carries before the client replaces it: under Google's 305 s per streaming call, with room
/// for the audio resent at the start of a call.
pub const DEFAULT_STREAM_LIMIT: Duration = Duration::from_secs(290);
/// The most audio kept for a new call to hear again (words longer than this without a final are rare: Google
/// ends a result at each pause).
const MAX_CARRIED: Duration = Duration::from_secs(10);
/// New audio a call must have carried before Google's ending it counts as the stream limit again (a call
/// ended at once, twice in a row, is a failure, not a limit).
const MIN_PROGRESS: Duration = Duration::from_secs(1);
/// Bytes of 16 kHz 16-bit mono audio per second.
const BYTES_PER_SECOND: u64 = 32_000;

/// Where and how to recognise.
#[derive(Clone, PartialEq)]
pub struct GoogleStreamConfig {
    /// The API root, `https://speech.googleapis.com` or `https://{location}-speech.googleapis.com`.
    pub base_url: String,
    /// Sent as `x-goog-api-key`.
    pub api_key: String,
    /// The model: `chirp_2`, `chirp_3`, `long`, `short`, `telephony`, `latest_short`, …
    pub model: String,
    /// The Google Cloud project the key belongs to.
    pub project: String,
    /// The recognizer's location: `global`, or the region of a regional root.
    pub location: String,
}

impl std::fmt::Debug for GoogleStreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleStreamConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("project", &self.project)
            .field("location", &self.location)
            .finish()
    }
}

/// The location a root serves: `us-central1` for `https://us-central1-speech.googleapis.com`, else `global`.
pub fn location_of(base_url: &str) -> String {
    let host = base_url.split("://").nth(1).unwrap_or(base_url).split(['/', ':']).next().unwrap_or_default();
    match host.strip_suffix("-speech.googleapis.com") {
        Some(region) if !region.is_empty() => region.to_string(),
        _ => "global".to_string(),
    }
}

impl GoogleStreamConfig {
    /// `model` in `project` at `base_url`, the location read from the root.
    pub fn new(base_url: &str, model: &str, project: &str, api_key: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        let location = location_of(&base_url);
        Self {
            base_url,
            api_key: api_key.to_string(),
            model: model.to_string(),
            project: project.to_string(),
            location,
        }
    }

    /// The default recognizer of the project and location.
    pub fn recognizer(&self) -> String {
        format!("projects/{}/locations/{}/recognizers/_", self.project, self.location)
    }

    /// The first request of a call in `language` (`hi` → `hi-IN`).
    pub fn config_request(&self, language: &str) -> Vec<u8> {
        let decoding = ProtoWriter::default().uint(1, 1).uint(2, 16_000).uint(3, 1).finish();
        let features = ProtoWriter::default().uint(4, 1).finish();
        let recognition = ProtoWriter::default()
            .bytes(8, &decoding)
            .bytes(2, &features)
            .string(9, &self.model)
            .string(10, &crate::google::language_code(language))
            .finish();
        let streaming_features = ProtoWriter::default().uint(2, 1).finish();
        let streaming = ProtoWriter::default().bytes(1, &recognition).bytes(2, &streaming_features).finish();
        ProtoWriter::default().string(3, &self.recognizer()).bytes(6, &streaming).finish()
    }
}

/// A request carrying `pcm` (16-bit little-endian).
pub fn audio_request(pcm: &[u8]) -> Vec<u8> {
    ProtoWriter::default().bytes(5, pcm).finish()
}

/// One `StreamingRecognitionResult`, as much of it as the engine uses.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingResult {
    /// The first alternative's transcript.
    pub transcript: String,
    /// The result will not change.
    pub is_final: bool,
    /// How likely an interim result is to stay (0 when not given).
    pub stability: f32,
    /// Where the result ends in the call's audio (`result_end_offset`), when Google says.
    pub end_offset: Option<Duration>,
}

/// The results of one `StreamingRecognizeResponse` (none for a speech event or metadata only).
pub fn read_response(message: &[u8]) -> Result<Vec<StreamingResult>, ModelError> {
    let mut results = Vec::new();
    let mut response = ProtoReader::new(message);
    while let Some((field, value)) = response.next_field()? {
        let (6, ProtoValue::Bytes(bytes)) = (field, value) else { continue };
        let mut result =
            StreamingResult { transcript: String::new(), is_final: false, stability: 0.0, end_offset: None };
        let mut first_alternative = true;
        let mut reader = ProtoReader::new(bytes);
        while let Some((field, value)) = reader.next_field()? {
            match (field, value) {
                (1, ProtoValue::Bytes(alternative)) if first_alternative => {
                    first_alternative = false;
                    let mut alternative = ProtoReader::new(alternative);
                    while let Some((field, value)) = alternative.next_field()? {
                        if let (1, ProtoValue::Bytes(text)) = (field, value) {
                            result.transcript = String::from_utf8(text.to_vec()).map_err(|_| {
                                ModelError::new(FailureKind::Malformed, "a transcript that is not UTF-8")
                            })?;
                        }
                    }
                }
                (2, ProtoValue::Varint(flag)) => result.is_final = flag != 0,
                (3, ProtoValue::Fixed32(bits)) => result.stability = f32::from_bits(bits),
                (4, ProtoValue::Bytes(duration)) => result.end_offset = Some(read_duration(duration)?),
                _ => {}
            }
        }
        results.push(result);
    }
    Ok(results)
}

/// A `google.protobuf.Duration` (`seconds` 1, `nanos` 2); negative values read as 0.
fn read_duration(message: &[u8]) -> Result<Duration, ModelError> {
    let (mut seconds, mut nanos) = (0u64, 0u64);
    let mut reader = ProtoReader::new(message);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            // int64 and int32 on the wire: a negative one is a ten-byte varint, over i64::MAX here.
            (1, ProtoValue::Varint(v)) => seconds = if v > i64::MAX as u64 { 0 } else { v },
            (2, ProtoValue::Varint(v)) => nanos = if v >= 1_000_000_000 { 0 } else { v },
            _ => {}
        }
    }
    Ok(Duration::from_secs(seconds) + Duration::from_nanos(nanos))
}

/// The audio of the current call that no final result covers yet, sans-IO: what the next call must hear
/// again when this one is replaced (the client's stream limit, or Google's). Offsets in a call's results
/// count from the start of that call's audio, so a new call's start is the audio resent to it.
#[derive(Debug)]
pub struct CallAudio {
    /// Bytes a call may carry before it is replaced.
    limit: usize,
    /// The most bytes kept.
    keep: usize,
    /// Bytes sent on the current call, those resent at its start included.
    sent: usize,
    /// Where in the current call `kept` starts.
    kept_from: usize,
    /// The call's audio since the end of its last final (the newest `keep` bytes of it).
    kept: VecDeque<u8>,
    /// Audio no final covered was let go to stay within `keep`: a new call will not hear all of it.
    truncated: bool,
}

impl CallAudio {
    /// Calls replaced after `limit` of audio; at most 10 s (or half the limit) kept for the next.
    pub fn new(limit: Duration) -> CallAudio {
        let limit = to_bytes(limit).max(2);
        let keep = to_bytes(MAX_CARRIED).min(limit / 2) & !1;
        CallAudio { limit, keep, sent: 0, kept_from: 0, kept: VecDeque::new(), truncated: false }
    }

    /// Audio sent on the call.
    pub fn sent(&mut self, pcm: &[u8]) {
        self.sent += pcm.len();
        self.kept.extend(pcm);
        let excess = self.kept.len().saturating_sub(self.keep);
        if excess > 0 {
            self.kept.drain(..excess);
            self.kept_from += excess;
            self.truncated = true;
        }
    }

    /// A final result ending at `end` of the call's audio (without an offset: all audio sent so far): the
    /// audio before it is covered.
    pub fn finalised(&mut self, end: Option<Duration>) {
        let end = end.map_or(self.sent, |end| to_bytes(end).min(self.sent));
        if end > self.kept_from {
            let covered = (end - self.kept_from).min(self.kept.len());
            self.kept.drain(..covered);
            self.kept_from = end;
            // The audio let go before `kept_from` is covered by this final.
            self.truncated = false;
        }
    }

    /// The call carried its limit: replace it.
    pub fn due(&self) -> bool {
        self.sent >= self.limit
    }

    /// Bytes sent on the current call.
    pub fn sent_on_call(&self) -> usize {
        self.sent
    }

    /// A new call replaces the current one: the audio to send it first, from which its offsets count. Only
    /// the newest `MAX_CARRIED` (10 s) of speech without a final is carried: older words of it are lost to
    /// the new call, which is logged as a warning.
    pub fn next_call(&mut self) -> Vec<u8> {
        if std::mem::take(&mut self.truncated) && self.sent > self.kept.len() {
            tracing::warn!(
                carried_ms = self.kept.len() as u64 * 1000 / BYTES_PER_SECOND,
                "google streaming call replaced inside long speech without a final: older audio is not heard again"
            );
        }
        self.sent = self.kept.len();
        self.kept_from = 0;
        self.kept.iter().copied().collect()
    }
}

/// Bytes of audio in `duration`, whole samples.
fn to_bytes(duration: Duration) -> usize {
    let bytes = duration.as_nanos() * u128::from(BYTES_PER_SECOND) / 1_000_000_000;
    usize::try_from(bytes).unwrap_or(usize::MAX) & !1
}

/// One call's utterance, sans-IO: puts results together into what the engine is told.
#[derive(Debug, Default)]
pub struct GoogleTranscript {
    finals: String,
    interim: String,
    ended: bool,
    answered: bool,
}

impl GoogleTranscript {
    /// The audio's end was sent (the request stream half-closed).
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether the end was sent and the answer is awaited.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Google's answer began (its headers came): it is alive.
    pub fn answered(&mut self) {
        self.answered = true;
    }

    /// The call is replaced by a new one hearing the audio since the last final: the finals stand, the
    /// interim result is heard again.
    pub fn carry_over(&mut self) {
        self.interim.clear();
    }

    fn joined(&self) -> String {
        match (self.finals.is_empty(), self.interim.is_empty()) {
            (_, true) => self.finals.clone(),
            (true, false) => self.interim.clone(),
            (false, false) => format!("{} {}", self.finals, self.interim),
        }
    }

    /// One response's results: a partial transcript when it says something.
    pub fn on_results(&mut self, results: &[StreamingResult]) -> Option<Transcript> {
        self.answered = true;
        let mut interim = String::new();
        let mut finals_grew = false;
        for result in results {
            if result.is_final {
                let text = result.transcript.trim();
                if !text.is_empty() {
                    if !self.finals.is_empty() {
                        self.finals.push(' ');
                    }
                    self.finals.push_str(text);
                    finals_grew = true;
                }
            } else {
                interim.push_str(&result.transcript);
            }
        }
        self.interim = interim.trim().to_string();
        let text = self.joined();
        (!text.is_empty() && (finals_grew || !self.interim.is_empty())).then_some(Transcript::Partial(text))
    }

    /// The call ended with status OK after the end: the utterance's final transcript.
    pub fn complete(&mut self) -> Transcript {
        let text = self.joined();
        *self = GoogleTranscript::default();
        Transcript::Final(text)
    }

    /// No answer in time after the end: what was heard stands; a call Google never answered failed.
    pub fn give_up(&mut self, url: &str) -> Transcript {
        let answered = self.answered;
        let text = self.joined();
        *self = GoogleTranscript::default();
        if !answered {
            return Transcript::Failed(ModelError::new(FailureKind::TimedOut, format!("{url}: no answer to the end")));
        }
        Transcript::Final(text)
    }

    /// The call broke after the end: what was heard stands; with nothing heard the utterance failed.
    pub fn broken(&mut self, reason: ModelError) -> Transcript {
        let text = self.joined();
        *self = GoogleTranscript::default();
        if text.is_empty() {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(text)
        }
    }
}

/// The streaming client; its HTTP/2 connections ([`crate::grpc_pool`]) are shared by every call's stream.
#[derive(Debug, Clone)]
pub struct GoogleStreamStt {
    config: Arc<GoogleStreamConfig>,
    connect_timeout: Duration,
    pool: PoolConfig,
    stream_limit: Duration,
    /// Where calls run: the process's `voicera-grpc` thread unless told otherwise.
    runtime: Option<tokio::runtime::Handle>,
    /// Connections made by this instead of TCP (tests).
    connector: Option<Connector>,
    channel: Result<Arc<GrpcChannel>, ModelError>,
}

impl GoogleStreamStt {
    /// A client for `config`, connecting within 5 s, with the default pool and stream limit.
    pub fn new(config: GoogleStreamConfig) -> Self {
        let mut client = Self {
            config: Arc::new(config),
            connect_timeout: crate::ws::CONNECT_TIMEOUT,
            pool: PoolConfig::default(),
            stream_limit: DEFAULT_STREAM_LIMIT,
            runtime: None,
            connector: None,
            channel: Err(ModelError::new(FailureKind::Engine, "not built")),
        };
        client.rebuild();
        client
    }

    fn rebuild(&mut self) {
        let channel = GrpcChannel::with_pool(&self.config.base_url, self.connect_timeout, self.pool);
        let connector = self.connector.clone();
        self.channel = channel.map(|channel| match connector {
            Some(connector) => Arc::new(channel.with_connector(connector)),
            None => Arc::new(channel),
        });
    }

    /// Connects (TCP, TLS, HTTP/2 and a PING answered) within `timeout` (`[providers.google] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.rebuild();
        self
    }

    /// The connection pool's limits and keepalive (tests shorten them; operators keep the defaults).
    pub fn with_pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self.rebuild();
        self
    }

    /// The audio a call carries before the client replaces it ([`DEFAULT_STREAM_LIMIT`]).
    pub fn with_stream_limit(mut self, limit: Duration) -> Self {
        self.stream_limit = limit;
        self
    }

    /// Runs the calls and connections on `runtime` instead of the process's `voicera-grpc` thread (a test
    /// drives them on its paused clock).
    pub fn on_runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Makes its connections with `connector` instead of TCP (a test connects in memory).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = Some(connector);
        self.rebuild();
        self
    }

    /// Silence before a keepalive PING now (doubled each time Google said `ENHANCE_YOUR_CALM`).
    pub fn keepalive_interval(&self) -> Option<Duration> {
        self.channel.as_ref().ok().map(|channel| channel.keepalive_interval())
    }

    /// HTTP/2 connections taking calls, and the calls on every connection.
    pub fn usage(&self) -> (usize, usize) {
        self.channel.as_ref().map_or((0, 0), |channel| channel.usage())
    }
}

enum Command {
    Audio(Vec<u8>),
    End,
}

impl SpeechToText for GoogleStreamStt {
    fn stream(&self, language: &str) -> Box<dyn SttStream> {
        let (commands, command_receiver) = unbounded_channel();
        let (results, receiver) = std::sync::mpsc::channel();
        let (cancel, cancelled) = oneshot::channel();
        let started = self.channel.clone().and_then(|channel| {
            let runtime = match &self.runtime {
                Some(runtime) => runtime.clone(),
                None => grpc::runtime()?,
            };
            let recognition = Recognition {
                channel,
                config: Arc::clone(&self.config),
                language: language.to_string(),
                stream_limit: self.stream_limit,
            };
            runtime.spawn(recognition.drive(command_receiver, results, cancelled));
            Ok(())
        });
        Box::new(GoogleStream { commands, receiver, _cancel: cancel, failure: started.err(), unreported: 1 })
    }
}

/// One call's recognition stream; dropping it cancels the call's task and resets its gRPC call.
struct GoogleStream {
    commands: UnboundedSender<Command>,
    receiver: Receiver<Transcript>,
    /// Dropped with the stream: the task sees the cancel at once.
    _cancel: oneshot::Sender<()>,
    /// The task could not start: the first poll and each utterance report it.
    failure: Option<ModelError>,
    /// Failures owed to the engine (the start, then one per utterance).
    unreported: usize,
}

impl SttStream for GoogleStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        let _ = self.commands.send(Command::Audio(pcm16_bytes(pcm)));
    }

    fn end_of_speech(&mut self) {
        if self.failure.is_some() {
            // Never started: this utterance fails with the reason too.
            self.unreported += 1;
        } else {
            let _ = self.commands.send(Command::End);
        }
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        if let Some(failure) = &self.failure {
            self.unreported = self.unreported.checked_sub(1)?;
            return Some(Transcript::Failed(failure.clone()));
        }
        self.receiver.try_recv().ok()
    }
}

/// What the reader of a call's answer saw.
enum Answer {
    /// The answer's headers: Google took the call.
    Headers,
    /// A response's results.
    Results(Vec<StreamingResult>),
    /// The call ended with status OK.
    Done,
    /// The call failed: Google's status, a broken connection, garbage.
    Failed(Ending),
}

/// Why a call failed, and whether a new call can take over from it.
struct Ending {
    error: ModelError,
    /// Google ended the call at its stream limit (`OUT_OF_RANGE`), or refused it unprocessed (a GOAWAY or
    /// `REFUSED_STREAM` before any answer): the recognition goes on, on a new call.
    carries_over: bool,
}

impl Ending {
    fn fatal(error: ModelError) -> Ending {
        Ending { error, carries_over: false }
    }
}

/// How one utterance ended.
enum Flow {
    /// Open the next call.
    Next,
    /// The stream object is gone.
    Stop,
}

/// Aborts a task when dropped (the reader of a call that is over).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A gRPC call in progress. Fields drop in order: the request stream (resetting the call), the reader, then
/// the call's place on its connection.
struct OpenCall {
    send: SendStream<Bytes>,
    answers: UnboundedReceiver<Answer>,
    _reader: AbortOnDrop,
    lease: StreamLease,
    /// Bytes of audio resent at its start (what it carried over from the call before).
    resent: usize,
}

/// What one wake-up of an utterance's loop brought.
enum Event {
    Cancelled,
    Command(Option<Command>),
    Answer(Option<Answer>),
    EndTimedOut,
    /// A write failed and no status came within [`STATUS_GRACE`].
    NoStatus,
}

/// One stream's recognition: what every call of it needs.
struct Recognition {
    channel: Arc<GrpcChannel>,
    config: Arc<GoogleStreamConfig>,
    language: String,
    stream_limit: Duration,
}

impl Recognition {
    fn shown(&self) -> String {
        format!("{}{STREAMING_RECOGNIZE}", self.channel.origin())
    }

    /// The stream's task: one gRPC call per utterance (more when one carries over) until the stream object
    /// goes; after a failure each later utterance fails with it.
    async fn drive(
        self,
        mut commands: UnboundedReceiver<Command>,
        results: Sender<Transcript>,
        mut cancelled: oneshot::Receiver<()>,
    ) {
        let mut state = GoogleTranscript::default();
        let failure = loop {
            match self.utterance(&mut state, &mut commands, &results, &mut cancelled).await {
                Ok(Flow::Next) => {}
                Ok(Flow::Stop) => return,
                Err(err) => break err,
            }
        };
        tracing::warn!(error = %failure, "google streaming recognition failed");
        if state.ended() {
            let _ = results.send(state.broken(failure.clone()));
        }
        loop {
            tokio::select! {
                _ = &mut cancelled => return,
                command = commands.recv() => match command {
                    Some(Command::End) => {
                        let _ = results.send(Transcript::Failed(failure.clone()));
                    }
                    Some(Command::Audio(_)) => {}
                    None => return,
                },
            }
        }
    }

    /// Opens a call: the config, then the audio carried over from the call before (and the end, when the
    /// utterance already ended).
    async fn open(&self, audio: &mut CallAudio, ended: bool) -> Result<OpenCall, ModelError> {
        match self.open_once(audio, ended).await {
            // Refused unprocessed (GOAWAY, REFUSED_STREAM) right as it opened: once more, on another connection.
            Err(ending) if ending.carries_over => {
                tracing::info!(reason = %ending.error, "google streaming call refused as it opened; opened again");
                self.open_once(audio, ended).await.map_err(|ending| ending.error)
            }
            opened => opened.map_err(|ending| ending.error),
        }
    }

    async fn open_once(&self, audio: &mut CallAudio, ended: bool) -> Result<OpenCall, Ending> {
        let shown = self.shown();
        let params = format!("recognizer={}", encode(&self.config.recognizer()));
        let headers = [("x-goog-api-key", self.config.api_key.as_str()), ("x-goog-request-params", params.as_str())];
        let grpc::Call { response, mut send, lease } =
            self.channel.open(STREAMING_RECOGNIZE, &headers).await.map_err(Ending::fatal)?;
        let (answers_sender, mut answers) = unbounded_channel();
        let reader = AbortOnDrop(tokio::spawn(read_answer(shown.clone(), response, answers_sender, lease.activity())));
        let carried = audio.next_call();
        let mut sent = send.send_data(grpc::frame(&self.config.config_request(&self.language)), false);
        for piece in carried.chunks(MAX_AUDIO) {
            sent = sent.and_then(|()| send.send_data(grpc::frame(&audio_request(piece)), false));
        }
        if ended {
            sent = sent.and_then(|()| send.send_data(Bytes::new(), true));
        }
        if let Err(err) = sent {
            let carries_over = refused_unprocessed(&err);
            let ending = status_or(&mut answers, grpc::h2_error(&shown, &err)).await;
            return Err(Ending {
                error: lease.explain(ending.error),
                carries_over: carries_over || ending.carries_over,
            });
        }
        Ok(OpenCall { send, answers, _reader: reader, lease, resent: carried.len() })
    }

    /// One utterance: the config, then audio until the engine's end of speech, then the final results; the
    /// call replaced by a new one whenever it reaches its stream limit.
    async fn utterance(
        &self,
        state: &mut GoogleTranscript,
        commands: &mut UnboundedReceiver<Command>,
        results: &Sender<Transcript>,
        cancelled: &mut oneshot::Receiver<()>,
    ) -> Result<Flow, ModelError> {
        let shown = self.shown();
        let mut audio = CallAudio::new(self.stream_limit);
        let mut call = tokio::select! {
            _ = &mut *cancelled => return Ok(Flow::Stop),
            opened = self.open(&mut audio, false) => opened?,
        };
        // Calls in a row that Google ended before they carried MIN_PROGRESS of new audio.
        let mut cut_short = 0u32;
        let mut end_deadline: Option<tokio::time::Instant> = None;
        // A write failed (the call was reset): Google's status, which says why better, is awaited a moment,
        // the answers before it handled as usual.
        let mut broken: Option<(ModelError, tokio::time::Instant)> = None;
        loop {
            let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
            let deadline = end_deadline.unwrap_or_else(far);
            let grace = broken.as_ref().map_or_else(far, |(_, until)| *until);
            let event = tokio::select! {
                _ = &mut *cancelled => Event::Cancelled,
                command = commands.recv(), if end_deadline.is_none() && broken.is_none() => Event::Command(command),
                answer = call.answers.recv() => Event::Answer(answer),
                _ = tokio::time::sleep_until(deadline), if end_deadline.is_some() => Event::EndTimedOut,
                _ = tokio::time::sleep_until(grace), if broken.is_some() => Event::NoStatus,
            };
            // A call that failed: carried over to a new call when it may be, else the utterance's failure.
            let ending = match event {
                Event::Cancelled | Event::Command(None) => return Ok(Flow::Stop),
                Event::Command(Some(Command::Audio(pcm))) => {
                    let sent = pcm
                        .chunks(MAX_AUDIO)
                        .try_for_each(|piece| call.send.send_data(grpc::frame(&audio_request(piece)), false));
                    // Counted even when the write failed: a call that carries over sends it again.
                    audio.sent(&pcm);
                    match sent {
                        Ok(()) if !audio.due() => continue,
                        Ok(()) => {
                            // The client's own limit: replace the call before Google ends it.
                            tracing::debug!(
                                bytes = audio.sent_on_call(),
                                "google streaming call replaced at its limit"
                            );
                            state.carry_over();
                            drop(call);
                            match self.reopen(&mut audio, state, &mut end_deadline, cancelled).await? {
                                Some(next) => call = next,
                                None => return Ok(Flow::Stop),
                            }
                            continue;
                        }
                        Err(err) => {
                            broken = Some((grpc::h2_error(&shown, &err), tokio::time::Instant::now() + STATUS_GRACE));
                            continue;
                        }
                    }
                }
                Event::Command(Some(Command::End)) => {
                    state.end();
                    end_deadline = Some(tokio::time::Instant::now() + END_TIMEOUT);
                    if let Err(err) = call.send.send_data(Bytes::new(), true) {
                        broken = Some((grpc::h2_error(&shown, &err), tokio::time::Instant::now() + STATUS_GRACE));
                    }
                    continue;
                }
                Event::Answer(Some(Answer::Headers)) => {
                    state.answered();
                    continue;
                }
                Event::Answer(Some(Answer::Results(list))) => {
                    // Results alone do not clear `cut_short`: only new audio carried does (below), so a call
                    // Google keeps ending at once cannot reopen for ever on the strength of its results.
                    for result in list.iter().filter(|r| r.is_final) {
                        audio.finalised(result.end_offset);
                    }
                    if let Some(transcript) = state.on_results(&list) {
                        if results.send(transcript).is_err() {
                            return Ok(Flow::Stop);
                        }
                    }
                    continue;
                }
                Event::Answer(Some(Answer::Done)) => {
                    if state.ended() {
                        // The utterance is answered.
                        if results.send(state.complete()).is_err() {
                            return Ok(Flow::Stop);
                        }
                        return Ok(Flow::Next);
                    }
                    // Google closed the call on its own before the end: the words heard stand and the rest
                    // goes on a new call.
                    Ending {
                        error: ModelError::new(FailureKind::Unreachable, format!("{shown}: the call ended early")),
                        carries_over: true,
                    }
                }
                Event::Answer(Some(Answer::Failed(ending))) => ending,
                Event::NoStatus => match broken.take() {
                    Some((error, _)) => Ending::fatal(error),
                    None => continue,
                },
                Event::Answer(None) => {
                    Ending::fatal(ModelError::new(FailureKind::Unreachable, format!("{shown}: the answer stopped")))
                }
                Event::EndTimedOut => {
                    let given_up = state.give_up(&shown);
                    let failed = matches!(given_up, Transcript::Failed(_));
                    if results.send(given_up).is_err() {
                        return Ok(Flow::Stop);
                    }
                    if failed {
                        return Err(ModelError::new(FailureKind::TimedOut, format!("{shown}: no answer to the end")));
                    }
                    return Ok(Flow::Next);
                }
            };
            let progressed = audio.sent_on_call().saturating_sub(call.resent) >= to_bytes(MIN_PROGRESS);
            if !ending.carries_over || (cut_short > 0 && !progressed) {
                return Err(call.lease.explain(ending.error));
            }
            cut_short = if progressed { 0 } else { cut_short + 1 };
            tracing::info!(reason = %ending.error, "google streaming call carried over to a new call");
            state.carry_over();
            broken = None;
            drop(call);
            match self.reopen(&mut audio, state, &mut end_deadline, cancelled).await? {
                Some(next) => call = next,
                None => return Ok(Flow::Stop),
            }
        }
    }

    /// A new call in place of one that reached its limit, hearing the audio no final covered (and the end
    /// again, with a fresh wait for its answer, when the utterance had ended); `None` when the stream object
    /// went meanwhile.
    async fn reopen(
        &self,
        audio: &mut CallAudio,
        state: &GoogleTranscript,
        end_deadline: &mut Option<tokio::time::Instant>,
        cancelled: &mut oneshot::Receiver<()>,
    ) -> Result<Option<OpenCall>, ModelError> {
        let call = tokio::select! {
            _ = &mut *cancelled => return Ok(None),
            opened = self.open(audio, state.ended()) => opened?,
        };
        if state.ended() {
            *end_deadline = Some(tokio::time::Instant::now() + END_TIMEOUT);
        }
        Ok(Some(call))
    }
}

/// A write failed (the call was reset): Google's status says why, if it comes soon; else `err`.
async fn status_or(answers: &mut UnboundedReceiver<Answer>, err: ModelError) -> Ending {
    let waited = tokio::time::timeout(STATUS_GRACE, async {
        while let Some(answer) = answers.recv().await {
            if let Answer::Failed(ending) = answer {
                return Some(ending);
            }
        }
        None
    });
    waited.await.ok().flatten().unwrap_or_else(|| Ending::fatal(err))
}

/// Reads a call's answer into `answers`, ending with [`Answer::Done`] or [`Answer::Failed`]; each message
/// heard is noted on the connection's `activity` for its keepalive.
async fn read_answer(
    shown: String,
    response: ResponseFuture,
    answers: UnboundedSender<Answer>,
    activity: Arc<Activity>,
) {
    let last = match read(&shown, response, &answers, &activity).await {
        Ok(()) => Answer::Done,
        Err(ending) => Answer::Failed(ending),
    };
    let _ = answers.send(last);
}

/// Google's status `OUT_OF_RANGE`: the stream's length limit (or its idle limit) was reached.
const OUT_OF_RANGE: u32 = 11;

/// Whether an HTTP/2 failure left the call unprocessed by the server, so a new call may take over.
fn refused_unprocessed(err: &h2::Error) -> bool {
    err.is_go_away() || err.reason() == Some(h2::Reason::REFUSED_STREAM)
}

async fn read(
    shown: &str,
    response: ResponseFuture,
    answers: &UnboundedSender<Answer>,
    activity: &Activity,
) -> Result<(), Ending> {
    let response = response
        .await
        .map_err(|e| Ending { error: grpc::h2_error(shown, &e), carries_over: refused_unprocessed(&e) })?;
    activity.heard();
    let (head, mut body) = response.into_parts();
    // A trailers-only answer: the status is in the headers.
    if let Some(error) = grpc::status_error(shown, &head.headers) {
        return Err(Ending { error, carries_over: grpc::status_code(&head.headers) == Some(OUT_OF_RANGE) });
    }
    if head.status != http::StatusCode::OK {
        let status = head.status.as_u16();
        return Err(Ending::fatal(ModelError::new(
            crate::http::status_kind(status),
            format!("{shown}: HTTP {status}"),
        )));
    }
    let content_type = head.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/grpc") {
        return Err(Ending::fatal(ModelError::new(
            FailureKind::Malformed,
            format!("{shown}: not a gRPC answer ({content_type:?})"),
        )));
    }
    if grpc::status_code(&head.headers) == Some(0) {
        return Ok(());
    }
    let _ = answers.send(Answer::Headers);
    let mut decoder = GrpcDecoder::default();
    while let Some(data) = body.data().await {
        let data = data.map_err(|e| Ending::fatal(grpc::h2_error(shown, &e)))?;
        activity.heard();
        let _ = body.flow_control().release_capacity(data.len());
        decoder.push(&data);
        while let Some(message) = decoder.next_message().map_err(|e| Ending::fatal(in_context(shown, e)))? {
            let results = read_response(&message).map_err(|e| Ending::fatal(in_context(shown, e)))?;
            if !results.is_empty() {
                let _ = answers.send(Answer::Results(results));
            }
        }
    }
    if decoder.pending() > 0 {
        return Err(Ending::fatal(ModelError::new(
            FailureKind::Malformed,
            format!("{shown}: the answer ended inside a message"),
        )));
    }
    let trailers = body.trailers().await.map_err(|e| Ending::fatal(grpc::h2_error(shown, &e)))?;
    let Some(trailers) = trailers else {
        return Err(Ending::fatal(ModelError::new(
            FailureKind::Malformed,
            format!("{shown}: the answer ended without a status"),
        )));
    };
    match (grpc::status_error(shown, &trailers), grpc::status_code(&trailers)) {
        (Some(error), code) => Err(Ending { error, carries_over: code == Some(OUT_OF_RANGE) }),
        (None, Some(0)) => Ok(()),
        (None, _) => Err(Ending::fatal(ModelError::new(
            FailureKind::Malformed,
            format!("{shown}: trailers without grpc-status"),
        ))),
    }
}

fn in_context(url: &str, mut err: ModelError) -> ModelError {
    err.message = format!("{url}: {}", err.message);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(results: &[(&str, bool, f32)]) -> Vec<u8> {
        let mut writer = ProtoWriter::default();
        for (text, is_final, stability) in results {
            let alternative = ProtoWriter::default().string(1, text).finish();
            let mut result = ProtoWriter::default();
            result.bytes(1, &alternative).uint(2, u64::from(*is_final));
            let mut result = result.finish();
            // stability: fixed32 field 3
            result.push(3 << 3 | 5);
            result.extend_from_slice(&stability.to_bits().to_le_bytes());
            writer.bytes(6, &result);
        }
        writer.uint(3, 0).finish()
    }

    #[test]
    fn interim_results_concatenate_and_finals_join_into_the_utterance() {
        let mut state = GoogleTranscript::default();
        let first = read_response(&response(&[("to be", false, 0.9), (" or not to be", false, 0.01)])).unwrap();
        assert_eq!(first[0].stability, 0.9);
        assert_eq!(state.on_results(&first), Some(Transcript::Partial("to be or not to be".into())));
        let second = read_response(&response(&[("to be or not to be", true, 0.0)])).unwrap();
        assert_eq!(state.on_results(&second), Some(Transcript::Partial("to be or not to be".into())));
        let third = read_response(&response(&[(" that is", false, 0.5)])).unwrap();
        assert_eq!(state.on_results(&third), Some(Transcript::Partial("to be or not to be that is".into())));
        state.end();
        let last = read_response(&response(&[(" that is the question", true, 0.0)])).unwrap();
        state.on_results(&last);
        assert_eq!(state.complete(), Transcript::Final("to be or not to be that is the question".into()));
        assert!(!state.ended());
        assert_eq!(read_response(&ProtoWriter::default().uint(3, 2).finish()).unwrap(), vec![], "a speech event");
    }

    #[test]
    fn the_config_request_names_the_recognizer_model_language_and_linear16() {
        let config = GoogleStreamConfig::new("https://us-central1-speech.googleapis.com/", "chirp_2", "acme-1", "k");
        assert_eq!(config.recognizer(), "projects/acme-1/locations/us-central1/recognizers/_");
        assert_eq!(location_of("http://127.0.0.1:4000"), "global");
        let request = config.config_request("hi");
        let mut reader = ProtoReader::new(&request);
        assert_eq!(
            reader.next_field().unwrap(),
            Some((3, ProtoValue::Bytes(b"projects/acme-1/locations/us-central1/recognizers/_")))
        );
        let Some((6, ProtoValue::Bytes(streaming))) = reader.next_field().unwrap() else { panic!("no config") };
        let Some((1, ProtoValue::Bytes(recognition))) = ProtoReader::new(streaming).next_field().unwrap() else {
            panic!("no recognition config")
        };
        let mut fields = Vec::new();
        let mut reader = ProtoReader::new(recognition);
        while let Some(field) = reader.next_field().unwrap() {
            fields.push(field);
        }
        assert_eq!(fields[0], (8, ProtoValue::Bytes(&[0x08, 1, 0x10, 0x80, 0x7d, 0x18, 1])));
        assert!(fields.contains(&(9, ProtoValue::Bytes(b"chirp_2"))));
        assert!(fields.contains(&(10, ProtoValue::Bytes(b"hi-IN"))));
        assert_eq!(audio_request(&[1, 2]), vec![0x2a, 2, 1, 2]);
        assert!(!format!("{config:?}").contains("\"k\""));
    }

    #[test]
    fn an_unanswered_end_fails_only_a_silent_call() {
        let mut state = GoogleTranscript::default();
        state.end();
        assert!(matches!(state.give_up("u"), Transcript::Failed(e) if e.kind == FailureKind::TimedOut));
        state.answered();
        state.on_results(&[StreamingResult {
            transcript: "hello".into(),
            is_final: false,
            stability: 0.1,
            end_offset: None,
        }]);
        state.end();
        assert_eq!(state.give_up("u"), Transcript::Final("hello".into()));
    }

    #[test]
    fn a_new_call_hears_the_audio_since_the_last_final_and_counts_its_offsets_from_there() {
        // 1 s of audio per call (32,000 bytes); half of it at most kept.
        let mut audio = CallAudio::new(Duration::from_secs(1));
        let pcm: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        audio.sent(&pcm[..10_000]);
        audio.finalised(Some(Duration::from_millis(250))); // 8,000 bytes covered
        audio.sent(&pcm[10_000..]);
        assert!(!audio.due());
        assert_eq!(audio.next_call(), pcm[8_000..].to_vec());
        assert_eq!(audio.sent_on_call(), 12_000, "the resent audio counts toward the new call's limit");
        // The new call's offsets start at the resent audio.
        audio.finalised(Some(Duration::from_millis(125))); // 4,000 bytes of it
        audio.sent(&pcm[..2_000]);
        let mut expected = pcm[12_000..].to_vec();
        expected.extend_from_slice(&pcm[..2_000]);
        assert_eq!(audio.next_call(), expected);
        // A final without an offset covers everything sent; one past the audio is clamped.
        audio.finalised(None);
        assert!(audio.next_call().is_empty());
        audio.sent(&[1; 100]);
        audio.finalised(Some(Duration::from_secs(9)));
        assert!(audio.next_call().is_empty());
        // Past the limit the call is due, and only the newest half-limit is kept.
        audio.sent(&vec![3u8; 40_000]);
        assert!(audio.due());
        assert_eq!(audio.next_call().len(), 16_000);
        assert!(!audio.due());
    }

    #[test]
    fn a_results_end_offset_is_read() {
        let duration = ProtoWriter::default().uint(1, 2).uint(2, 500_000_000).finish();
        let alternative = ProtoWriter::default().string(1, "hello").finish();
        let result = ProtoWriter::default().bytes(1, &alternative).uint(2, 1).bytes(4, &duration).finish();
        let message = ProtoWriter::default().bytes(6, &result).finish();
        let results = read_response(&message).unwrap();
        assert_eq!(results[0].end_offset, Some(Duration::from_millis(2_500)));
        assert!(results[0].is_final);
        // A negative duration (a ten-byte varint) reads as zero, not as centuries.
        let negative = ProtoWriter::default().uint(1, u64::MAX).finish();
        assert_eq!(read_duration(&negative).unwrap(), Duration::ZERO);
    }
}
