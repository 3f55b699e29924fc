//! The stream objects the engine polls, fed by a request's thread through a channel: a language model's
//! reply (`spawn_reply`) and synthesised audio (`spawn_audio`). Dropping either sets a flag the thread
//! checks between reads (each read waits at most a short timeout), so network work stops promptly.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;

use voicera_models::{FailureKind, LlmEvent, LlmStream, ModelError, TtsStream};

use crate::http;
use crate::sse::SseParser;

/// Runs `work` on a thread of its own and returns the reply stream it feeds.
pub(crate) fn spawn_reply<F>(name: &str, work: F) -> Box<dyn LlmStream>
where
    F: FnOnce(&Sender<LlmEvent>, &AtomicBool) + Send + 'static,
{
    let (events, receiver) = mpsc::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancelled);
    let thread_events = events.clone();
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || work(&thread_events, &stop));
    if let Err(err) = spawned {
        let _ = events
            .send(LlmEvent::Failed(ModelError::new(FailureKind::Engine, format!("cannot start the request: {err}"))));
    }
    drop(events);
    Box::new(ReplyStream { receiver, cancelled, finished: false })
}

/// A reply on its way; dropping it abandons the request.
struct ReplyStream {
    receiver: Receiver<LlmEvent>,
    cancelled: Arc<AtomicBool>,
    finished: bool,
}

impl LlmStream for ReplyStream {
    fn poll_event(&mut self) -> Option<LlmEvent> {
        if self.finished {
            return None;
        }
        match self.receiver.try_recv() {
            Ok(event) => {
                self.finished = !matches!(event, LlmEvent::Token(_));
                Some(event)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.finished = true;
                Some(LlmEvent::Failed(ModelError::new(FailureKind::Engine, "the request ended without a reply")))
            }
        }
    }
}

impl Drop for ReplyStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Turns the `data` of a provider's server-sent events into [`LlmEvent`]s, sans-IO.
pub trait EventDecoder {
    /// The events one event's data completes.
    fn push(&mut self, data: &str) -> Vec<LlmEvent>;
    /// Whether the reply has ended (done, tool call or failure).
    fn finished(&self) -> bool;
}

/// Reads an event stream body into `events` until the decoder finishes, the body breaks or ends, or the
/// stream object is dropped. A body that ends before the decoder finished is a cut reply.
pub(crate) fn pump_sse(
    url: &str,
    mut reader: impl Read,
    decoder: &mut dyn EventDecoder,
    events: &Sender<LlmEvent>,
    cancelled: &AtomicBool,
) {
    let mut parser = SseParser::default();
    let mut buf = [0u8; 8192];
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return; // dropping the reader closes the connection: the server stops generating
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                let _ = events.send(LlmEvent::Failed(http::read_error(url, &err)));
                return;
            }
        };
        let data = match parser.push(&buf[..n]) {
            Ok(data) => data,
            Err(err) => {
                let _ = events.send(LlmEvent::Failed(ModelError::new(FailureKind::Malformed, format!("{url}: {err}"))));
                return;
            }
        };
        for payload in data {
            for event in decoder.push(&payload) {
                if events.send(event).is_err() {
                    return; // the stream object is gone
                }
            }
            if decoder.finished() {
                return;
            }
        }
    }
    let _ = events.send(LlmEvent::Failed(ModelError::new(
        FailureKind::Unreachable,
        format!("{url}: the stream ended before the reply was complete"),
    )));
}

/// What a synthesis thread hands the audio stream.
#[derive(Debug)]
pub(crate) enum AudioEvent {
    /// Samples at the stream's rate.
    Samples(Vec<i16>),
    /// The text is fully spoken.
    Done,
    /// Synthesis failed.
    Failed(ModelError),
}

/// Runs `work` on a thread of its own and returns the audio stream it feeds, at `sample_rate`.
pub(crate) fn spawn_audio<F>(name: &str, sample_rate: u32, work: F) -> Box<dyn TtsStream>
where
    F: FnOnce(&Sender<AudioEvent>, &AtomicBool) + Send + 'static,
{
    let (events, receiver) = mpsc::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancelled);
    let thread_events = events.clone();
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || work(&thread_events, &stop));
    if let Err(err) = spawned {
        let _ = events
            .send(AudioEvent::Failed(ModelError::new(FailureKind::Engine, format!("cannot start the request: {err}"))));
    }
    drop(events);
    Box::new(AudioStream { receiver, cancelled, sample_rate, ended: false, failure: None })
}

/// Audio on its way; dropping it abandons the synthesis.
struct AudioStream {
    receiver: Receiver<AudioEvent>,
    cancelled: Arc<AtomicBool>,
    sample_rate: u32,
    ended: bool,
    failure: Option<ModelError>,
}

impl TtsStream for AudioStream {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
        while !self.ended {
            match self.receiver.try_recv() {
                Ok(AudioEvent::Samples(samples)) => out.extend_from_slice(&samples),
                Ok(AudioEvent::Done) => self.ended = true,
                Ok(AudioEvent::Failed(err)) => {
                    self.ended = true;
                    self.failure = Some(err);
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    self.ended = true;
                    self.failure = Some(ModelError::new(FailureKind::Engine, "the synthesis ended without audio"));
                }
            }
        }
        false
    }

    fn failure(&self) -> Option<&ModelError> {
        self.failure.as_ref()
    }
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Little-endian 16-bit PCM arriving in reads of any size: whole samples out, an odd byte kept for the next.
#[derive(Debug, Default)]
pub struct Pcm16Decoder {
    carry: Option<u8>,
}

impl Pcm16Decoder {
    /// The samples `bytes` complete.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<i16> {
        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
        if let (Some(low), Some((&high, rest))) = (self.carry, bytes.split_first()) {
            samples.push(i16::from_le_bytes([low, high]));
            self.carry = None;
            bytes = rest;
        }
        let pairs = bytes.chunks_exact(2);
        if let [odd] = pairs.remainder() {
            self.carry = Some(*odd);
        }
        samples.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
        samples
    }
}

/// Reads a raw PCM body into `events` until it ends (done), breaks, or the stream object is dropped.
pub(crate) fn pump_pcm(url: &str, mut reader: impl Read, events: &Sender<AudioEvent>, cancelled: &AtomicBool) {
    let mut decoder = Pcm16Decoder::default();
    let mut buf = [0u8; 8192];
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return;
        }
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = events.send(AudioEvent::Done);
                return;
            }
            Ok(n) => {
                let samples = decoder.push(&buf[..n]);
                if !samples.is_empty() && events.send(AudioEvent::Samples(samples)).is_err() {
                    return;
                }
            }
            Err(err) => {
                let _ = events.send(AudioEvent::Failed(http::read_error(url, &err)));
                return;
            }
        }
    }
}

/// 16 kHz samples as the little-endian bytes of `linear16` / `pcm_s16le`.
pub(crate) fn pcm16_bytes(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_split_at_any_byte_decodes_the_same() {
        let samples: Vec<i16> = vec![1, -2, 300, i16::MIN, i16::MAX];
        let bytes = pcm16_bytes(&samples);
        for split in 0..bytes.len() {
            let mut decoder = Pcm16Decoder::default();
            let mut out = decoder.push(&bytes[..split]);
            out.extend(decoder.push(&bytes[split..]));
            assert_eq!(out, samples, "split at {split}");
        }
    }
}
