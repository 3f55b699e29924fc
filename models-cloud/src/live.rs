//! Streaming recognition over a WebSocket, shared by the providers that speak it (Deepgram, ElevenLabs
//! Scribe realtime): a thread per call forwards caller audio as it comes, asks the provider to finalize when
//! the engine's VAD ends an utterance, and turns what it hears into transcripts. A [`LiveProtocol`] says how
//! one provider writes audio and control messages and reads its answers; [`LiveTranscript`] (sans-IO) puts
//! the utterance together.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::Message;
use voicera_models::{FailureKind, ModelError, SttStream, Transcript};

use crate::streams::pcm16_bytes;
use crate::ws;

/// How long the final transcript may take after finalizing while words are still interim.
const FINALIZE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long to wait after finalizing when every word heard is already final: providers answer a finalize
/// only when they have audio buffered, so with nothing pending the utterance is complete after this grace.
const FINALIZE_GRACE: Duration = Duration::from_millis(300);
/// A socket without audio this long gets a keep-alive (Deepgram closes one silent for 10 s).
const KEEP_ALIVE: Duration = Duration::from_secs(4);

/// What one provider message says about the utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Interim text of the segment in progress (replaces the previous interim).
    Interim(String),
    /// A segment that will not change.
    Final(String),
    /// The answer to a finalize: the last segment, final; the utterance is complete.
    Finalized(String),
    /// Nothing for the transcript (metadata, session events).
    Nothing,
}

/// How one provider writes and reads its live socket.
pub trait LiveProtocol: Send + 'static {
    /// Caller audio (16 kHz little-endian 16-bit PCM) as a message.
    fn audio(&self, pcm: &[u8]) -> Message;
    /// The message asking for the utterance's final transcript now.
    fn finalize(&self) -> Message;
    /// The message keeping a quiet socket open, if the provider needs one.
    fn keep_alive(&self) -> Option<Message>;
    /// The message ending the session before the socket closes, if the provider has one.
    fn close(&self) -> Option<Message>;
    /// Reads a text message; an error ends the stream.
    fn read(&self, text: &str) -> Result<Heard, ModelError>;
}

/// The utterance being heard, sans-IO.
#[derive(Debug, Default)]
pub struct LiveTranscript {
    /// Final segments of the utterance so far.
    finals: String,
    /// A finalize was sent and its answer is awaited.
    finalizing: bool,
    /// The latest result was interim: words heard that are not final yet.
    interim_pending: bool,
}

impl LiveTranscript {
    /// A finalize was sent: the next [`Heard::Finalized`] completes the utterance.
    pub fn finalize(&mut self) {
        self.finalizing = true;
    }

    /// Whether a finalize awaits its answer.
    pub fn finalizing(&self) -> bool {
        self.finalizing
    }

    /// Whether words were heard that are not final yet (then a finalize will be answered).
    pub fn interim_pending(&self) -> bool {
        self.interim_pending
    }

    /// The finalize was not answered in time: the utterance ends with the final words heard; with none, it
    /// fails if interim words were lost, else it was silence (an empty final).
    pub fn give_up(&mut self, reason: ModelError) -> Transcript {
        self.finalizing = false;
        let lost = std::mem::take(&mut self.interim_pending);
        let text = std::mem::take(&mut self.finals);
        if text.is_empty() && lost {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(text)
        }
    }

    /// The stream broke while a finalize awaited its answer: the final words heard stand; with none, the
    /// utterance failed (words may have been lost with the connection).
    pub fn broken(&mut self, reason: ModelError) -> Transcript {
        self.finalizing = false;
        self.interim_pending = false;
        let text = std::mem::take(&mut self.finals);
        if text.is_empty() {
            Transcript::Failed(reason)
        } else {
            Transcript::Final(text)
        }
    }

    fn append(&mut self, segment: &str) {
        let segment = segment.trim();
        if !segment.is_empty() {
            if !self.finals.is_empty() {
                self.finals.push(' ');
            }
            self.finals.push_str(segment);
        }
    }

    /// Reads one text message with `protocol`; returns what it tells the engine.
    pub fn on_message(&mut self, protocol: &dyn LiveProtocol, text: &str) -> Result<Option<Transcript>, ModelError> {
        Ok(self.hear(protocol.read(text)?))
    }

    /// What a [`Heard`] tells the engine.
    pub fn hear(&mut self, heard: Heard) -> Option<Transcript> {
        match heard {
            Heard::Nothing => None,
            Heard::Interim(text) => {
                let text = text.trim();
                self.interim_pending = !text.is_empty();
                if text.is_empty() {
                    return None;
                }
                let partial = if self.finals.is_empty() { text.to_string() } else { format!("{} {text}", self.finals) };
                Some(Transcript::Partial(partial))
            }
            Heard::Final(text) => {
                self.interim_pending = false;
                self.append(&text);
                (!self.finals.is_empty()).then(|| Transcript::Partial(self.finals.clone()))
            }
            Heard::Finalized(text) => {
                self.interim_pending = false;
                self.append(&text);
                if self.finalizing {
                    self.finalizing = false;
                    Some(Transcript::Final(std::mem::take(&mut self.finals)))
                } else {
                    (!self.finals.is_empty()).then(|| Transcript::Partial(self.finals.clone()))
                }
            }
        }
    }
}

enum Command {
    Audio(Vec<u8>),
    Finalize,
}

/// Starts a call's recognition stream on `url` with `headers`, speaking `protocol`, on a thread named `name`.
pub fn spawn<P: LiveProtocol>(
    name: &str,
    url: String,
    headers: Vec<(String, String)>,
    protocol: P,
) -> Box<dyn SttStream> {
    spawn_within(name, url, headers, protocol, ws::CONNECT_TIMEOUT)
}

/// [`spawn`], connecting within `connect_timeout` (the provider's `timeout_ms`).
pub fn spawn_within<P: LiveProtocol>(
    name: &str,
    url: String,
    headers: Vec<(String, String)>,
    protocol: P,
    connect_timeout: Duration,
) -> Box<dyn SttStream> {
    let (commands, command_receiver) = mpsc::channel();
    let (results, receiver) = mpsc::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancelled);
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(&url, &headers, connect_timeout, &protocol, &command_receiver, &results, &stop));
    let failure = spawned.err().map(|e| ModelError::new(FailureKind::Engine, format!("cannot start: {e}")));
    Box::new(LiveStream { commands, receiver, cancelled, failure })
}

/// One call's recognition stream.
struct LiveStream {
    commands: Sender<Command>,
    receiver: Receiver<Transcript>,
    cancelled: Arc<AtomicBool>,
    /// The thread could not start: the next poll reports it.
    failure: Option<ModelError>,
}

impl SttStream for LiveStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        let _ = self.commands.send(Command::Audio(pcm16_bytes(pcm)));
    }

    fn end_of_speech(&mut self) {
        // A thread that is gone has answered every utterance with its failure already.
        let _ = self.commands.send(Command::Finalize);
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        if let Some(failure) = self.failure.take() {
            return Some(Transcript::Failed(failure));
        }
        self.receiver.try_recv().ok()
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The stream's thread: connects, then forwards audio and finalizes and reads results until the stream
/// object is dropped. After a failure, each later utterance fails with it.
fn run(
    url: &str,
    headers: &[(String, String)],
    connect_timeout: Duration,
    protocol: &dyn LiveProtocol,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) {
    let shown = url.split('?').next().unwrap_or(url).to_string();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let mut state = LiveTranscript::default();
    let failure = match ws::connect_within(url, &headers, connect_timeout) {
        Ok(mut socket) => match listen(&shown, &mut socket, protocol, &mut state, commands, results, cancelled) {
            Ok(()) => {
                if let Some(close) = protocol.close() {
                    let _ = socket.send(close);
                }
                let _ = socket.close(None);
                let _ = socket.flush();
                return;
            }
            Err(err) => err,
        },
        Err(err) => err,
    };
    tracing::warn!(error = %failure, "live recognition failed");
    if state.finalizing() {
        let _ = results.send(state.broken(failure.clone()));
    }
    // Dead: each utterance ends failed until the stream object goes.
    while !cancelled.load(Ordering::Relaxed) {
        match commands.recv() {
            Ok(Command::Finalize) => {
                let _ = results.send(Transcript::Failed(failure.clone()));
            }
            Ok(Command::Audio(_)) => {}
            Err(_) => return,
        }
    }
}

fn listen(
    url: &str,
    socket: &mut ws::Socket,
    protocol: &dyn LiveProtocol,
    state: &mut LiveTranscript,
    commands: &Receiver<Command>,
    results: &Sender<Transcript>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let mut last_sent = Instant::now();
    let mut finalize_deadline = None;
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Ok(());
        }
        loop {
            match commands.try_recv() {
                Ok(Command::Audio(bytes)) => {
                    socket.send(protocol.audio(&bytes)).map_err(|e| ws::error(url, e))?;
                    last_sent = Instant::now();
                }
                Ok(Command::Finalize) => {
                    socket.send(protocol.finalize()).map_err(|e| ws::error(url, e))?;
                    state.finalize();
                    let wait = if state.interim_pending() { FINALIZE_TIMEOUT } else { FINALIZE_GRACE };
                    finalize_deadline = Some(Instant::now() + wait);
                    last_sent = Instant::now();
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        if last_sent.elapsed() >= KEEP_ALIVE {
            if let Some(keep_alive) = protocol.keep_alive() {
                socket.send(keep_alive).map_err(|e| ws::error(url, e))?;
            }
            last_sent = Instant::now();
        }
        if let Some(deadline) = finalize_deadline {
            if !state.finalizing() {
                finalize_deadline = None;
            } else if Instant::now() >= deadline {
                finalize_deadline = None;
                let reason = ModelError::new(FailureKind::TimedOut, format!("{url}: no answer to the finalize"));
                if results.send(state.give_up(reason)).is_err() {
                    return Ok(());
                }
            }
        }
        match socket.read() {
            Ok(Message::Text(text)) => {
                if let Some(transcript) = state.on_message(protocol, text.as_str())? {
                    if results.send(transcript).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(Message::Close(frame)) => return Err(ws::close_error(url, frame.as_ref())),
            Ok(Message::Binary(_)) => {
                return Err(ModelError::new(FailureKind::Malformed, format!("{url}: an unexpected binary message")))
            }
            Ok(_) => {} // ping, pong
            Err(err) if ws::is_idle(&err) => {}
            Err(err) => return Err(ws::error(url, err)),
        }
    }
}
