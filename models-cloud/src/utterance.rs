//! Recognition for providers that transcribe a whole utterance per request (the AI4Bharat server, Sarvam
//! REST, OpenAI transcription): the stream buffers the caller's audio and, when the VAD ends the utterance,
//! posts it on a thread of its own; its text comes back as the final transcript. Also the pieces those
//! requests share: a WAV file of the audio, a `multipart/form-data` body, a JSON answer's text field.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use voicera_models::{FailureKind, ModelError, SttStream, Transcript};

use crate::http;
use crate::streams::pcm16_bytes;

/// The longest utterance posted (30 s at 16 kHz); older audio is dropped.
pub const MAX_UTTERANCE: usize = 30 * 16_000;

/// Transcribes one utterance of 16 kHz audio in a language: the provider's request.
pub type Transcriber = Arc<dyn Fn(&str, &[i16]) -> Result<String, ModelError> + Send + Sync>;

/// A stream for one call in `language` whose utterances `transcriber` turns into text.
pub fn buffered_stream(name: &str, language: &str, transcriber: Transcriber) -> Box<dyn SttStream> {
    let (results, receiver) = mpsc::channel();
    Box::new(BufferedStream {
        name: name.to_string(),
        language: language.to_string(),
        transcriber,
        audio: Vec::new(),
        results,
        receiver,
        cancelled: Arc::new(AtomicBool::new(false)),
    })
}

struct BufferedStream {
    name: String,
    language: String,
    transcriber: Transcriber,
    audio: Vec<i16>,
    results: Sender<Transcript>,
    receiver: Receiver<Transcript>,
    cancelled: Arc<AtomicBool>,
}

impl SttStream for BufferedStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        self.audio.extend_from_slice(pcm);
        if self.audio.len() > MAX_UTTERANCE {
            let excess = self.audio.len() - MAX_UTTERANCE;
            self.audio.drain(..excess);
        }
    }

    fn end_of_speech(&mut self) {
        let audio = std::mem::take(&mut self.audio);
        let (transcriber, language) = (Arc::clone(&self.transcriber), self.language.clone());
        let (results, cancelled) = (self.results.clone(), Arc::clone(&self.cancelled));
        let spawned = std::thread::Builder::new().name(self.name.clone()).spawn(move || {
            let transcript = match transcriber(&language, &audio) {
                Ok(text) => Transcript::Final(text),
                Err(err) => Transcript::Failed(err),
            };
            if !cancelled.load(Ordering::Relaxed) {
                let _ = results.send(transcript);
            }
        });
        if let Err(err) = spawned {
            let _ = self.results.send(Transcript::Failed(ModelError::new(FailureKind::Engine, err.to_string())));
        }
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        self.receiver.try_recv().ok()
    }
}

impl Drop for BufferedStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// 16 kHz mono 16-bit audio as a WAV file.
pub fn wav_file(pcm: &[i16]) -> Vec<u8> {
    let data = pcm16_bytes(pcm);
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

/// The boundary of our multipart bodies: a string no field or WAV header here contains.
pub const BOUNDARY: &str = "voicera-7f3c9a1e5b2d4c60";

/// A `multipart/form-data` body of text `fields` and the utterance as `file` (`audio.wav`).
pub fn multipart(fields: &[(&str, &str)], pcm: &[i16]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&wav_file(pcm));
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Reads a JSON answer and the string at `field` (an error status keeps the provider's message).
pub fn text_answer(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    field: &str,
) -> Result<String, ModelError> {
    let answer = http::json_answer(url, sent, http::MAX_ERROR_BODY)?;
    let shown = || answer.to_string().chars().take(200).collect::<String>();
    match answer[field].as_str() {
        Some(text) => Ok(text.trim().to_string()),
        None => Err(ModelError::new(FailureKind::Malformed, format!("{url}: no {field} in {}", shown()))),
    }
}
