//! Text to speech over a provider's WebSocket, the part ElevenLabs' stream-input and Cartesia share: connect
//! with the key in headers, send the clause's opening messages, then read text messages (each provider
//! decodes its own, sans-IO) into PCM until the provider says the clause is done. A close frame, a binary
//! message or a broken socket fails the clause with the provider's words; a dropped stream object sends the
//! provider's cancel message, if it has one, and closes the socket so generation stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use tungstenite::Message;
use voicera_models::{FailureKind, ModelError};

use crate::streams::{AudioEvent, Pcm16Decoder};
use crate::ws;

/// What one text message of the socket carried: PCM bytes (possibly none, possibly ending mid-sample) and
/// whether the clause is complete.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Spoken {
    /// Little-endian 16-bit PCM.
    pub(crate) pcm: Vec<u8>,
    /// The provider said the clause is complete.
    pub(crate) done: bool,
}

/// Where and how a clause's socket is opened.
pub(crate) struct SpeechSocket<'a> {
    /// The URL connected to (may carry a query).
    pub(crate) url: &'a str,
    /// The URL as errors name it.
    pub(crate) shown: &'a str,
    /// The upgrade's headers (the key among them).
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// Budget for TCP, TLS and the handshake.
    pub(crate) connect_timeout: Duration,
}

/// Speaks one clause: connects, sends `opening`, and hands what `read` decodes from each text message to
/// `events` until it says done. `cancel` is sent before closing when the stream object is dropped.
pub(crate) fn speak(
    socket: &SpeechSocket<'_>,
    opening: &[String],
    cancel: Option<&str>,
    mut read: impl FnMut(&str) -> Result<Spoken, ModelError>,
    events: &Sender<AudioEvent>,
    cancelled: &AtomicBool,
) -> Result<(), ModelError> {
    let shown = socket.shown;
    let mut ws = ws::connect_within(socket.url, socket.headers, socket.connect_timeout)?;
    for message in opening {
        ws.send(Message::Text(message.as_str().into())).map_err(|e| ws::error(shown, e))?;
    }
    let mut decoder = Pcm16Decoder::default();
    loop {
        if cancelled.load(Ordering::Relaxed) {
            if let Some(cancel) = cancel {
                let _ = ws.send(Message::Text(cancel.into()));
            }
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(());
        }
        let message = match ws.read() {
            Ok(message) => message,
            Err(err) if ws::is_idle(&err) => continue,
            Err(err) => return Err(ws::error(shown, err)),
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => return Err(ws::close_error(shown, frame.as_ref())),
            Message::Binary(_) => {
                return Err(ModelError::new(FailureKind::Malformed, format!("{shown}: an unexpected binary message")))
            }
            _ => continue,
        };
        let spoken = read(text.as_str())?;
        if !spoken.pcm.is_empty() && events.send(AudioEvent::Samples(decoder.push(&spoken.pcm))).is_err() {
            return Ok(()); // the stream object is gone
        }
        if spoken.done {
            let _ = events.send(AudioEvent::Done);
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(());
        }
    }
}
