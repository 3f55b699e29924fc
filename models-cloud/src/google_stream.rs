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
//! Each utterance is one call on the shared connection; the next call opens as soon as the previous one is
//! answered, so it is warm when the caller speaks again. Dropping the stream object resets its call
//! (`RST_STREAM`), which stops the network work at once.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::ResponseFuture;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use voicera_models::{FailureKind, ModelError, SpeechToText, SttStream, Transcript};

use crate::deepgram::encode;
use crate::grpc::{self, GrpcChannel, GrpcDecoder, ProtoReader, ProtoValue, ProtoWriter};
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
}

/// The results of one `StreamingRecognizeResponse` (none for a speech event or metadata only).
pub fn read_response(message: &[u8]) -> Result<Vec<StreamingResult>, ModelError> {
    let mut results = Vec::new();
    let mut response = ProtoReader::new(message);
    while let Some((field, value)) = response.next_field()? {
        let (6, ProtoValue::Bytes(bytes)) = (field, value) else { continue };
        let mut result = StreamingResult { transcript: String::new(), is_final: false, stability: 0.0 };
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
                _ => {}
            }
        }
        results.push(result);
    }
    Ok(results)
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

/// The streaming client; its HTTP/2 connection is shared by every call's stream.
#[derive(Debug, Clone)]
pub struct GoogleStreamStt {
    config: Arc<GoogleStreamConfig>,
    channel: Result<Arc<GrpcChannel>, ModelError>,
}

impl GoogleStreamStt {
    /// A client for `config`, connecting within 5 s.
    pub fn new(config: GoogleStreamConfig) -> Self {
        let channel = GrpcChannel::new(&config.base_url, crate::ws::CONNECT_TIMEOUT).map(Arc::new);
        Self { config: Arc::new(config), channel }
    }

    /// Connects (TCP, TLS, HTTP/2 and a PING answered) within `timeout` (`[providers.google] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.channel = GrpcChannel::new(&self.config.base_url, timeout).map(Arc::new);
        self
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
            let runtime = grpc::runtime()?;
            let (config, language) = (Arc::clone(&self.config), language.to_string());
            runtime.spawn(drive(channel, config, language, command_receiver, results, cancelled));
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
    Failed(ModelError),
}

/// How one call ended.
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

/// A call's task: one gRPC call per utterance until the stream object goes; after a failure each later
/// utterance fails with it.
async fn drive(
    channel: Arc<GrpcChannel>,
    config: Arc<GoogleStreamConfig>,
    language: String,
    mut commands: UnboundedReceiver<Command>,
    results: Sender<Transcript>,
    mut cancelled: oneshot::Receiver<()>,
) {
    let shown = format!("{}{STREAMING_RECOGNIZE}", channel.origin());
    let mut state = GoogleTranscript::default();
    let failure = loop {
        let call = Call { channel: &channel, config: &config, language: &language, shown: &shown };
        match call.utterance(&mut state, &mut commands, &results, &mut cancelled).await {
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

/// What one call needs.
struct Call<'a> {
    channel: &'a GrpcChannel,
    config: &'a GoogleStreamConfig,
    language: &'a str,
    shown: &'a str,
}

impl Call<'_> {
    /// One gRPC call: the config, then audio until the engine's end of speech, then the final results.
    async fn utterance(
        &self,
        state: &mut GoogleTranscript,
        commands: &mut UnboundedReceiver<Command>,
        results: &Sender<Transcript>,
        cancelled: &mut oneshot::Receiver<()>,
    ) -> Result<Flow, ModelError> {
        let shown = self.shown;
        let params = format!("recognizer={}", encode(&self.config.recognizer()));
        let headers = [("x-goog-api-key", self.config.api_key.as_str()), ("x-goog-request-params", params.as_str())];
        let (response, mut send) = tokio::select! {
            _ = &mut *cancelled => return Ok(Flow::Stop),
            opened = self.channel.open(STREAMING_RECOGNIZE, &headers) => opened?,
        };
        let (answers_sender, mut answers) = unbounded_channel();
        let _reader = AbortOnDrop(tokio::spawn(read_answer(shown.to_string(), response, answers_sender)));
        let first = grpc::frame(&self.config.config_request(self.language));
        if let Err(err) = send.send_data(first, false) {
            return Err(status_or(&mut answers, grpc::h2_error(shown, &err)).await);
        }
        let mut end_deadline: Option<tokio::time::Instant> = None;
        loop {
            let deadline = end_deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = &mut *cancelled => return Ok(Flow::Stop),
                command = commands.recv(), if end_deadline.is_none() => {
                    let sent = match command {
                        None => return Ok(Flow::Stop),
                        Some(Command::Audio(pcm)) => pcm
                            .chunks(MAX_AUDIO)
                            .try_for_each(|piece| send.send_data(grpc::frame(&audio_request(piece)), false)),
                        Some(Command::End) => {
                            state.end();
                            end_deadline = Some(tokio::time::Instant::now() + END_TIMEOUT);
                            send.send_data(Bytes::new(), true)
                        }
                    };
                    if let Err(err) = sent {
                        return Err(status_or(&mut answers, grpc::h2_error(shown, &err)).await);
                    }
                }
                answer = answers.recv() => match answer {
                    Some(Answer::Headers) => state.answered(),
                    Some(Answer::Results(list)) => {
                        if let Some(transcript) = state.on_results(&list) {
                            if results.send(transcript).is_err() {
                                return Ok(Flow::Stop);
                            }
                        }
                    }
                    Some(Answer::Done) => {
                        // After the end: the utterance is answered. Before it: Google closed the call on its
                        // own (its stream length limit); the words heard carry over to the next call.
                        if state.ended() && results.send(state.complete()).is_err() {
                            return Ok(Flow::Stop);
                        }
                        return Ok(Flow::Next);
                    }
                    Some(Answer::Failed(err)) => return Err(err),
                    None => {
                        return Err(ModelError::new(FailureKind::Unreachable, format!("{shown}: the answer stopped")))
                    }
                },
                _ = tokio::time::sleep_until(deadline), if end_deadline.is_some() => {
                    let given_up = state.give_up(shown);
                    let failed = matches!(given_up, Transcript::Failed(_));
                    if results.send(given_up).is_err() {
                        return Ok(Flow::Stop);
                    }
                    if failed {
                        return Err(ModelError::new(FailureKind::TimedOut, format!("{shown}: no answer to the end")));
                    }
                    return Ok(Flow::Next);
                }
            }
        }
    }
}

/// A write failed (the call was reset): Google's status says why, if it comes soon; else `err`.
async fn status_or(answers: &mut UnboundedReceiver<Answer>, err: ModelError) -> ModelError {
    let waited = tokio::time::timeout(STATUS_GRACE, async {
        while let Some(answer) = answers.recv().await {
            if let Answer::Failed(status) = answer {
                return Some(status);
            }
        }
        None
    });
    waited.await.ok().flatten().unwrap_or(err)
}

/// Reads a call's answer into `answers`, ending with [`Answer::Done`] or [`Answer::Failed`].
async fn read_answer(shown: String, response: ResponseFuture, answers: UnboundedSender<Answer>) {
    let last = match read(&shown, response, &answers).await {
        Ok(()) => Answer::Done,
        Err(err) => Answer::Failed(err),
    };
    let _ = answers.send(last);
}

async fn read(shown: &str, response: ResponseFuture, answers: &UnboundedSender<Answer>) -> Result<(), ModelError> {
    let response = response.await.map_err(|e| grpc::h2_error(shown, &e))?;
    let (head, mut body) = response.into_parts();
    // A trailers-only answer: the status is in the headers.
    if let Some(err) = grpc::status_error(shown, &head.headers) {
        return Err(err);
    }
    if head.status != http::StatusCode::OK {
        let status = head.status.as_u16();
        return Err(ModelError::new(crate::http::status_kind(status), format!("{shown}: HTTP {status}")));
    }
    let content_type = head.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/grpc") {
        return Err(ModelError::new(FailureKind::Malformed, format!("{shown}: not a gRPC answer ({content_type:?})")));
    }
    if grpc::status_code(&head.headers) == Some(0) {
        return Ok(());
    }
    let _ = answers.send(Answer::Headers);
    let mut decoder = GrpcDecoder::default();
    while let Some(data) = body.data().await {
        let data = data.map_err(|e| grpc::h2_error(shown, &e))?;
        let _ = body.flow_control().release_capacity(data.len());
        decoder.push(&data);
        while let Some(message) = decoder.next_message().map_err(|e| in_context(shown, e))? {
            let results = read_response(&message).map_err(|e| in_context(shown, e))?;
            if !results.is_empty() {
                let _ = answers.send(Answer::Results(results));
            }
        }
    }
    if decoder.pending() > 0 {
        return Err(ModelError::new(FailureKind::Malformed, format!("{shown}: the answer ended inside a message")));
    }
    let trailers = body.trailers().await.map_err(|e| grpc::h2_error(shown, &e))?;
    let Some(trailers) = trailers else {
        return Err(ModelError::new(FailureKind::Malformed, format!("{shown}: the answer ended without a status")));
    };
    match (grpc::status_error(shown, &trailers), grpc::status_code(&trailers)) {
        (Some(err), _) => Err(err),
        (None, Some(0)) => Ok(()),
        (None, _) => Err(ModelError::new(FailureKind::Malformed, format!("{shown}: trailers without grpc-status"))),
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
        state.on_results(&[StreamingResult { transcript: "hello".into(), is_final: false, stability: 0.1 }]);
        state.end();
        assert_eq!(state.give_up("u"), Transcript::Final("hello".into()));
    }
}
