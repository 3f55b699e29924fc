//! The providers' media-stream wire formats (see `shared/reference/telephony-streams.md`): a tolerant parser
//! for what Vobiz, Plivo, Twilio and Exotel send, and a strict writer for what we send back.
//!
//! Parsing is tolerant because the providers' own documents disagree (nested or flat `start`, `callId` or
//! `callSid`, camelCase or snake_case): every known spelling is read. Writing follows each provider's current
//! documentation exactly. Media frames, 50 per second per call, are parsed without building a JSON tree:
//! the payload is borrowed from the text and base64-decoded into the caller's buffer.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use voicera_media::codec::g711::{linear_to_ulaw, ulaw_to_linear};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub use voicera_carrier_rest::document::xml_escape;
pub use voicera_carrier_rest::Provider;

/// What a provider's media streams carry: the stream side of [`Provider`] (the REST side lives with the
/// provider in `voicera-carrier-rest`).
pub trait StreamFormats {
    /// Audio the provider sends when nothing else is asked for: μ-law 8 kHz, except Exotel (raw 16-bit PCM).
    fn default_format(self) -> AudioFormat;
    /// Whether the provider can be asked for another format in the answer document.
    fn negotiates_format(self) -> bool;
}

impl StreamFormats for Provider {
    fn default_format(self) -> AudioFormat {
        match self {
            Provider::Exotel => AudioFormat { encoding: Encoding::L16, rate: 8000 },
            _ => AudioFormat::MULAW_8K,
        }
    }

    fn negotiates_format(self) -> bool {
        matches!(self, Provider::Vobiz | Provider::Plivo)
    }
}

/// How samples are carried in a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 μ-law, one byte per sample.
    MuLaw,
    /// Signed 16-bit little-endian PCM (interfaces.md: every L16 payload is little-endian).
    L16,
}

/// Payload format of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// How samples are carried.
    pub encoding: Encoding,
    /// Sample rate in Hz.
    pub rate: u32,
}

impl AudioFormat {
    /// G.711 μ-law at 8 kHz: what telephone networks carry.
    pub const MULAW_8K: AudioFormat = AudioFormat { encoding: Encoding::MuLaw, rate: 8000 };
    /// 16-bit PCM at 16 kHz: what the engine runs at.
    pub const L16_16K: AudioFormat = AudioFormat { encoding: Encoding::L16, rate: 16000 };

    /// Parses a `contentType` such as `audio/x-mulaw;rate=8000` or `audio/x-l16;rate=16000`.
    pub fn parse_content_type(text: &str) -> Result<AudioFormat, ProtocolError> {
        let mut parts = text.split(';').map(str::trim);
        let encoding = match parts.next().unwrap_or("").to_ascii_lowercase().as_str() {
            "audio/x-mulaw" | "audio/mulaw" | "audio/pcmu" => Encoding::MuLaw,
            "audio/x-l16" | "audio/l16" | "raw/slin" | "audio/pcm" => Encoding::L16,
            _ => return Err(ProtocolError::UnsupportedFormat(text.to_string())),
        };
        let mut rate = 8000;
        for part in parts {
            if let Some(value) = part.strip_prefix("rate=") {
                rate = value.parse().map_err(|_| ProtocolError::UnsupportedFormat(text.to_string()))?;
            }
        }
        AudioFormat::new(encoding, rate).ok_or_else(|| ProtocolError::UnsupportedFormat(text.to_string()))
    }

    /// A supported format: μ-law at 8 kHz, L16 at 8, 16 or 24 kHz.
    pub fn new(encoding: Encoding, rate: u32) -> Option<AudioFormat> {
        let ok = match encoding {
            Encoding::MuLaw => rate == 8000,
            Encoding::L16 => matches!(rate, 8000 | 16000 | 24000),
        };
        ok.then_some(AudioFormat { encoding, rate })
    }

    /// The `contentType` naming this format, e.g. `audio/x-l16;rate=16000`.
    pub fn content_type(self) -> String {
        format!("{};rate={}", self.mime(), self.rate)
    }

    /// The MIME type without the rate.
    pub fn mime(self) -> &'static str {
        match self.encoding {
            Encoding::MuLaw => "audio/x-mulaw",
            Encoding::L16 => "audio/x-l16",
        }
    }

    /// Samples in 20 ms.
    pub fn frame_samples(self) -> usize {
        self.rate as usize / 50
    }

    /// Appends the samples of `payload` to `out`; a trailing odd byte of L16 is ignored.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        match self.encoding {
            Encoding::MuLaw => out.extend(payload.iter().map(|&b| ulaw_to_linear(b))),
            Encoding::L16 => out.extend(payload.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]))),
        }
    }

    /// Appends the payload bytes of `pcm` to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self.encoding {
            Encoding::MuLaw => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
            Encoding::L16 => {
                for s in pcm {
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
    }
}

/// What went wrong with a frame from the provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is no JSON object.
    #[error("not a JSON stream event: {0}")]
    Json(String),
    /// The event has no `event` field.
    #[error("stream event without an \"event\" field")]
    MissingEvent,
    /// A known event lacks a field it needs.
    #[error("\"{event}\" event without {field}")]
    MissingField {
        /// The event.
        event: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A media payload is not base64.
    #[error("media payload is not base64: {0}")]
    Base64(String),
    /// The announced audio format is one we do not decode.
    #[error("unsupported audio format {0:?} (supported: audio/x-mulaw;rate=8000, audio/x-l16;rate=8000|16000|24000)")]
    UnsupportedFormat(String),
}

/// The start of a stream: who is calling, and how the audio is carried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamStart {
    /// The provider's call id.
    pub call_id: String,
    /// The provider's stream id, echoed in what we send.
    pub stream_id: String,
    /// The announced media format, when the provider names one.
    pub format: Option<AudioFormat>,
    /// The caller, when the provider says.
    pub from: Option<String>,
    /// The called number, when the provider says.
    pub to: Option<String>,
    /// Twilio `customParameters`, Exotel `custom_parameters`, Plivo/Vobiz `extra_headers` (`k=v;k2=v2`).
    pub parameters: BTreeMap<String, String>,
}

/// An event from the provider. Media payloads are decoded into the buffer passed to [`parse_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Twilio's first message; carries nothing we need.
    Connected,
    /// The stream started.
    Start(Box<StreamStart>),
    /// Caller audio: the payload bytes were appended to the buffer.
    Media,
    /// The caller pressed a key.
    Dtmf(char),
    /// A checkpoint (`playedStream`) or mark echo: audio queued before it has played.
    Played(String),
    /// The provider confirmed a `clearAudio`.
    Cleared,
    /// The stream ends (Twilio/Exotel/old Vobiz docs); Vobiz and Plivo just close the socket.
    Stop,
    /// An event we have no use for, by name (logged at debug level).
    Other(String),
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    media: Option<MediaBody<'a>>,
    start: Option<Value>,
    dtmf: Option<Value>,
    mark: Option<Value>,
    name: Option<String>,
    // Flat (old Vobiz docs) and top-level identifiers.
    #[serde(rename = "callId", alias = "callSid", alias = "call_sid", alias = "CallUUID")]
    call_id: Option<String>,
    #[serde(rename = "streamId", alias = "streamSid", alias = "stream_sid")]
    stream_id: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
    extra_headers: Option<Value>,
}

#[derive(Deserialize)]
struct MediaBody<'a> {
    #[serde(borrow)]
    payload: Option<Cow<'a, str>>,
    track: Option<Cow<'a, str>>,
}

/// Parses one text frame. Media payload bytes are appended to `payload`.
pub fn parse_event(text: &str, payload: &mut Vec<u8>) -> Result<Inbound, ProtocolError> {
    let frame: Frame<'_> = serde_json::from_str(text).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let event = frame.event.as_deref().ok_or(ProtocolError::MissingEvent)?;
    match event {
        "media" => {
            let media = frame.media.ok_or(ProtocolError::MissingField { event: "media", field: "\"media\"" })?;
            // Only the caller's side is ours to hear (Twilio may send `outbound` with track=both).
            if media.track.as_deref().is_some_and(|t| t.starts_with("outbound")) {
                return Ok(Inbound::Other("media(outbound)".into()));
            }
            let data = media.payload.ok_or(ProtocolError::MissingField { event: "media", field: "media.payload" })?;
            let start = payload.len();
            payload.resize(start + base64::decoded_len_estimate(data.len()), 0);
            match B64.decode_slice(data.as_bytes(), &mut payload[start..]) {
                Ok(n) => {
                    payload.truncate(start + n);
                    Ok(Inbound::Media)
                }
                Err(e) => {
                    payload.truncate(start);
                    Err(ProtocolError::Base64(e.to_string()))
                }
            }
        }
        "start" => parse_start(frame).map(|s| Inbound::Start(Box::new(s))),
        "dtmf" => {
            let digit = frame
                .dtmf
                .as_ref()
                .and_then(|d| d.get("digit").or_else(|| d.get("digits")))
                .and_then(Value::as_str)
                .and_then(|d| d.chars().next())
                .ok_or(ProtocolError::MissingField { event: "dtmf", field: "dtmf.digit" })?;
            Ok(Inbound::Dtmf(digit))
        }
        "playedStream" | "played" | "mark" => {
            let name = frame
                .name
                .or_else(|| frame.mark.as_ref().and_then(|m| m.get("name")).and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            Ok(Inbound::Played(name))
        }
        "clearedAudio" => Ok(Inbound::Cleared),
        "stop" => Ok(Inbound::Stop),
        "connected" => Ok(Inbound::Connected),
        other => Ok(Inbound::Other(other.to_string())),
    }
}

fn text_of<'v>(value: Option<&'v Value>, keys: &[&str]) -> Option<&'v str> {
    let value = value?;
    keys.iter().find_map(|k| value.get(*k).and_then(Value::as_str)).filter(|s| !s.is_empty())
}

fn parse_start(frame: Frame<'_>) -> Result<StreamStart, ProtocolError> {
    let start = frame.start.as_ref();
    let call_id = text_of(start, &["callId", "callSid", "call_sid", "CallUUID"])
        .map(String::from)
        .or(frame.call_id)
        .ok_or(ProtocolError::MissingField { event: "start", field: "start.callId" })?;
    let stream_id = text_of(start, &["streamId", "streamSid", "stream_sid"])
        .map(String::from)
        .or(frame.stream_id)
        .ok_or(ProtocolError::MissingField { event: "start", field: "start.streamId" })?;
    let media_format = start.and_then(|s| s.get("mediaFormat").or_else(|| s.get("media_format")));
    let format = match (media_format, frame.content_type.as_deref()) {
        (Some(mf), _) => {
            let encoding = text_of(Some(mf), &["encoding"]).unwrap_or("audio/x-mulaw");
            let rate = mf
                .get("sampleRate")
                .or_else(|| mf.get("sample_rate"))
                .and_then(|r| r.as_u64().or_else(|| r.as_str().and_then(|s| s.parse().ok())))
                .unwrap_or(8000);
            // Exotel says `"encoding": "base64"` for its raw 16-bit PCM.
            let encoding = if encoding.eq_ignore_ascii_case("base64") { "audio/x-l16" } else { encoding };
            Some(AudioFormat::parse_content_type(&format!("{encoding};rate={rate}"))?)
        }
        (None, Some(content_type)) => Some(AudioFormat::parse_content_type(content_type)?),
        (None, None) => None,
    };
    let mut parameters = BTreeMap::new();
    for key in ["customParameters", "custom_parameters"] {
        if let Some(Value::Object(map)) = start.and_then(|s| s.get(key)) {
            for (k, v) in map {
                let v = v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
                parameters.insert(k.clone(), v);
            }
        }
    }
    if let Some(Value::String(headers)) = frame.extra_headers.as_ref() {
        for pair in headers.split([';', ',']) {
            if let Some((k, v)) = pair.split_once('=') {
                parameters.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    Ok(StreamStart {
        call_id,
        stream_id,
        format,
        from: text_of(start, &["from", "From"]).map(String::from).or(frame.from),
        to: text_of(start, &["to", "To"]).map(String::from).or(frame.to),
        parameters,
    })
}

/// Who is at the other end of a media WebSocket: a provider (its JSON protocol, base64 media) or the
/// browser test page (raw L16 binary frames plus JSON control, interfaces.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A provider, in its protocol.
    Provider(Provider),
    /// The browser test page.
    Browser,
}

impl Peer {
    /// The peer's name in records and metrics (`browser` or the provider's).
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Provider(p) => p.as_str(),
            Peer::Browser => "browser",
        }
    }
}

/// One message for the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A JSON message.
    Text(String),
    /// An audio frame (browser peers only).
    Binary(Vec<u8>),
}

impl Outgoing {
    /// The text of a JSON message (None for audio frames).
    pub fn text(&self) -> Option<&str> {
        match self {
            Outgoing::Text(text) => Some(text),
            Outgoing::Binary(_) => None,
        }
    }
}

/// Builds the messages we send on one stream, in the peer's exact shapes.
#[derive(Debug, Clone)]
pub struct Writer {
    peer: Peer,
    stream_id: String,
    format: AudioFormat,
    base64: String,
}

impl Writer {
    /// A writer for `peer`'s stream `stream_id` carrying `format`.
    pub fn new(peer: Peer, stream_id: &str, format: AudioFormat) -> Writer {
        // The stream id is echoed inside JSON strings: keep it to the characters providers use.
        let stream_id = stream_id.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.:".contains(*c)).collect();
        Writer { peer, stream_id, format, base64: String::with_capacity(1024) }
    }

    /// The format agent audio is sent in.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Who the messages are for.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    fn id_field(&self) -> &'static str {
        match self.peer {
            Peer::Provider(Provider::Vobiz | Provider::Plivo) => "streamId",
            Peer::Provider(Provider::Twilio) => "streamSid",
            Peer::Provider(Provider::Exotel) => "stream_sid",
            Peer::Browser => "callId",
        }
    }

    /// Agent audio (payload bytes in the stream's format): a JSON media message for providers, the bytes
    /// themselves for the browser.
    pub fn play_audio(&mut self, payload: &[u8]) -> Outgoing {
        let Peer::Provider(provider) = self.peer else {
            return Outgoing::Binary(payload.to_vec());
        };
        let mut out = String::with_capacity(payload.len() * 4 / 3 + 160);
        self.base64.clear();
        B64.encode_string(payload, &mut self.base64);
        let id = &self.stream_id;
        let _ = match provider {
            Provider::Vobiz | Provider::Plivo => write!(
                out,
                r#"{{"event":"playAudio","streamId":"{id}","media":{{"contentType":"{}","sampleRate":{},"payload":"{}"}}}}"#,
                self.format.mime(),
                self.format.rate,
                self.base64
            ),
            Provider::Twilio | Provider::Exotel => write!(
                out,
                r#"{{"event":"media","{}":"{id}","media":{{"payload":"{}"}}}}"#,
                self.id_field(),
                self.base64
            ),
        };
        Outgoing::Text(out)
    }

    /// Drops the audio the peer has buffered (barge-in).
    pub fn clear(&self) -> String {
        let event = match self.peer {
            Peer::Provider(Provider::Vobiz | Provider::Plivo) => "clearAudio",
            Peer::Provider(Provider::Twilio | Provider::Exotel) | Peer::Browser => "clear",
        };
        format!(r#"{{"event":"{event}","{}":"{}"}}"#, self.id_field(), self.stream_id)
    }

    /// Asks the peer to tell us when the audio sent so far has played (`playedStream` / mark echo).
    pub fn checkpoint(&self, name: &str) -> String {
        let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
        match self.peer {
            Peer::Provider(Provider::Vobiz | Provider::Plivo) => {
                format!(r#"{{"event":"checkpoint","streamId":"{}","name":"{name}"}}"#, self.stream_id)
            }
            Peer::Provider(Provider::Twilio | Provider::Exotel) | Peer::Browser => {
                format!(r#"{{"event":"mark","{}":"{}","mark":{{"name":"{name}"}}}}"#, self.id_field(), self.stream_id)
            }
        }
    }

    /// Ends the stream from our side. Twilio and Exotel have no such message: closing the socket ends the
    /// `<Connect>` and with it the call.
    pub fn stop(&self, reason: &str) -> Option<String> {
        match self.peer {
            Peer::Provider(Provider::Vobiz | Provider::Plivo) => {
                Some(format!(r#"{{"event":"stop","streamId":"{}"}}"#, self.stream_id))
            }
            Peer::Provider(Provider::Twilio | Provider::Exotel) => None,
            Peer::Browser => {
                Some(serde_json::json!({"event": "end", "callId": self.stream_id, "reason": reason}).to_string())
            }
        }
    }

    /// Sends DTMF to the caller's side where the stream protocol allows it (Plivo `sendDTMF`); others use
    /// their REST API.
    pub fn send_dtmf(&self, digits: &str) -> Option<String> {
        let digits: String = digits.chars().filter(|c| c.is_ascii_digit() || "*#ABCDwW".contains(*c)).collect();
        match self.peer {
            Peer::Provider(Provider::Plivo) => Some(format!(r#"{{"event":"sendDTMF","dtmf":"{digits}"}}"#)),
            _ => None,
        }
    }
}

/// The answer document that opens a bidirectional stream to `stream_url`: Vobiz/Plivo XML, TwiML, or
/// Exotel's JSON. Returns (content type, body).
pub fn answer_document(
    provider: Provider,
    stream_url: &str,
    format: AudioFormat,
    parameters: &[(&str, &str)],
) -> (&'static str, String) {
    match provider {
        Provider::Vobiz | Provider::Plivo => {
            // The URL is the element's text; query parameters carry the token (no <Parameter> element here).
            let mut url = stream_url.to_string();
            for (i, (k, v)) in parameters.iter().enumerate() {
                url.push(if i == 0 && !stream_url.contains('?') { '?' } else { '&' });
                url.push_str(&format!("{k}={}", url_encode(v)));
            }
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n    <Stream bidirectional=\"true\" keepCallAlive=\"true\" contentType=\"{}\">{}</Stream>\n</Response>\n",
                format.content_type(),
                xml_escape(&url)
            );
            ("application/xml", body)
        }
        Provider::Twilio => {
            // Twilio drops query strings from stream URLs; custom parameters travel in `start` instead.
            let params: String = parameters
                .iter()
                .map(|(k, v)| format!("<Parameter name=\"{}\" value=\"{}\"/>", xml_escape(k), xml_escape(v)))
                .collect();
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Connect><Stream url=\"{}\">{params}</Stream></Connect></Response>\n",
                xml_escape(stream_url)
            );
            ("text/xml", body)
        }
        Provider::Exotel => {
            let mut url = stream_url.to_string();
            for (i, (k, v)) in parameters.iter().enumerate() {
                url.push(if i == 0 && !stream_url.contains('?') { '?' } else { '&' });
                url.push_str(&format!("{k}={}", url_encode(v)));
            }
            ("application/json", serde_json::json!({ "url": url }).to_string())
        }
    }
}

fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vobiz_nested_start_and_media_are_read() {
        let start = r#"{"sequenceNumber":0,"event":"start","start":{"callId":"5401fd2e","streamId":"c4dfd815","accountId":"500025","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-l16","sampleRate":16000}},"extra_headers":"{}"}"#;
        let mut buf = Vec::new();
        let Inbound::Start(s) = parse_event(start, &mut buf).unwrap() else { panic!() };
        assert_eq!((s.call_id.as_str(), s.stream_id.as_str()), ("5401fd2e", "c4dfd815"));
        assert_eq!(s.format, Some(AudioFormat { encoding: Encoding::L16, rate: 16000 }));
        let media = r#"{"sequenceNumber":2,"streamId":"c4dfd815","event":"media","media":{"track":"inbound","timestamp":"1778597597091","chunk":2,"payload":"AAEC/w=="},"extra_headers":"{}"}"#;
        assert_eq!(parse_event(media, &mut buf).unwrap(), Inbound::Media);
        assert_eq!(buf, [0, 1, 2, 255]);
    }

    #[test]
    fn old_flat_vobiz_start_plivo_extra_headers_and_dtmf() {
        let flat = r#"{"event":"start","streamId":"s1","accountId":"MA_2210JXXN","callId":"c1","from":"+9111","to":"+9122","direction":"inbound","contentType":"audio/x-l16;rate=8000","audioTrack":"inbound"}"#;
        let Inbound::Start(s) = parse_event(flat, &mut Vec::new()).unwrap() else { panic!() };
        assert_eq!((s.call_id.as_str(), s.from.as_deref()), ("c1", Some("+9111")));
        assert_eq!(s.format, Some(AudioFormat { encoding: Encoding::L16, rate: 8000 }));
        let plivo = r#"{"event":"start","sequenceNumber":1,"start":{"callId":"c2","streamId":"s2","accountId":"MAX","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"userId=12345;sessionId=abc-xyz"}"#;
        let Inbound::Start(s) = parse_event(plivo, &mut Vec::new()).unwrap() else { panic!() };
        assert_eq!(s.parameters.get("sessionId").map(String::as_str), Some("abc-xyz"));
        assert_eq!(parse_event(r#"{"event":"dtmf","dtmf":{"digit":"5"}}"#, &mut Vec::new()), Ok(Inbound::Dtmf('5')));
        assert_eq!(
            parse_event(r#"{"event":"playedStream","name":"turn-3"}"#, &mut Vec::new()),
            Ok(Inbound::Played("turn-3".into()))
        );
    }

    #[test]
    fn twilio_and_exotel_frames_are_read() {
        let start = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"customParameters":{"token":"t0k"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}"#;
        let Inbound::Start(s) = parse_event(start, &mut Vec::new()).unwrap() else { panic!() };
        assert_eq!((s.call_id.as_str(), s.stream_id.as_str()), ("CA1", "MZ1"));
        assert_eq!(s.parameters.get("token").map(String::as_str), Some("t0k"));
        assert_eq!(
            parse_event(r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}"#, &mut Vec::new()),
            Ok(Inbound::Played("m1".into()))
        );
        let exotel = r#"{"event":"start","sequence_number":1,"stream_sid":"e1","start":{"stream_sid":"e1","call_sid":"x1","account_sid":"a","from":"0800","to":"0900","custom_parameters":{"token":"k"},"media_format":{"encoding":"base64","sample_rate":"8000","bit_rate":"128kbps"}}}"#;
        let Inbound::Start(s) = parse_event(exotel, &mut Vec::new()).unwrap() else { panic!() };
        assert_eq!(s.format, Some(AudioFormat { encoding: Encoding::L16, rate: 8000 }));
        assert_eq!(s.to.as_deref(), Some("0900"));
    }

    #[test]
    fn bad_frames_are_named_errors() {
        let mut buf = Vec::new();
        assert!(matches!(parse_event("{oops", &mut buf), Err(ProtocolError::Json(_))));
        assert_eq!(parse_event(r#"{"media":{}}"#, &mut buf), Err(ProtocolError::MissingEvent));
        assert!(matches!(
            parse_event(r#"{"event":"media","media":{"payload":"!!"}}"#, &mut buf),
            Err(ProtocolError::Base64(_))
        ));
        assert!(matches!(
            parse_event(r#"{"event":"start","start":{"callId":"c"}}"#, &mut buf),
            Err(ProtocolError::MissingField { .. })
        ));
        let opus = r#"{"event":"start","start":{"callId":"c","streamId":"s","mediaFormat":{"encoding":"audio/opus","sampleRate":48000}}}"#;
        assert!(matches!(parse_event(opus, &mut buf), Err(ProtocolError::UnsupportedFormat(_))));
        assert!(buf.is_empty());
    }

    #[test]
    fn writer_speaks_each_providers_shapes() {
        let mut vobiz = Writer::new(Peer::Provider(Provider::Vobiz), "s-1", AudioFormat::MULAW_8K);
        assert_eq!(
            vobiz.play_audio(&[0xff, 0x7f]),
            Outgoing::Text(
                r#"{"event":"playAudio","streamId":"s-1","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"/38="}}"#.into()
            )
        );
        assert_eq!(vobiz.clear(), r#"{"event":"clearAudio","streamId":"s-1"}"#);
        assert_eq!(vobiz.checkpoint("turn-1"), r#"{"event":"checkpoint","streamId":"s-1","name":"turn-1"}"#);
        let mut twilio = Writer::new(Peer::Provider(Provider::Twilio), "MZ\"1", AudioFormat::MULAW_8K);
        assert_eq!(
            twilio.play_audio(&[0xff]),
            Outgoing::Text(r#"{"event":"media","streamSid":"MZ1","media":{"payload":"/w=="}}"#.into())
        );
        assert_eq!(twilio.clear(), r#"{"event":"clear","streamSid":"MZ1"}"#);
        assert_eq!(twilio.stop("done"), None);
        let exotel = Writer::new(Peer::Provider(Provider::Exotel), "e1", Provider::Exotel.default_format());
        assert_eq!(exotel.checkpoint("a b"), r#"{"event":"mark","stream_sid":"e1","mark":{"name":"ab"}}"#);
        for text in [vobiz.clear(), twilio.checkpoint("x"), exotel.clear()] {
            serde_json::from_str::<Value>(&text).unwrap();
        }
    }

    #[test]
    fn browser_gets_raw_audio_and_json_control() {
        let l16 = AudioFormat::new(Encoding::L16, 16000).unwrap();
        let mut browser = Writer::new(Peer::Browser, "b-1", l16);
        assert_eq!(browser.play_audio(&[1, 2, 3, 4]), Outgoing::Binary(vec![1, 2, 3, 4]));
        assert_eq!(browser.clear(), r#"{"event":"clear","callId":"b-1"}"#);
        assert_eq!(browser.checkpoint("p1"), r#"{"event":"mark","callId":"b-1","mark":{"name":"p1"}}"#);
        let end: Value = serde_json::from_str(&browser.stop("agent hung up").unwrap()).unwrap();
        assert_eq!(end["event"], "end");
        assert_eq!(end["reason"], "agent hung up");
        assert_eq!(browser.send_dtmf("1"), None);
    }

    #[test]
    fn answer_documents_carry_the_stream_url_and_token() {
        let (ct, xml) =
            answer_document(Provider::Vobiz, "wss://h/agent/demo", AudioFormat::MULAW_8K, &[("token", "a&b")]);
        assert_eq!(ct, "application/xml");
        assert!(xml.contains(r#"<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">wss://h/agent/demo?token=a%26b</Stream>"#), "{xml}");
        let (_, twiml) = answer_document(Provider::Twilio, "wss://h/t", AudioFormat::MULAW_8K, &[("token", "x")]);
        assert!(twiml
            .contains(r#"<Connect><Stream url="wss://h/t"><Parameter name="token" value="x"/></Stream></Connect>"#));
        let (_, json) = answer_document(Provider::Exotel, "wss://h/e", AudioFormat::MULAW_8K, &[("token", "y")]);
        assert_eq!(json, r#"{"url":"wss://h/e?token=y"}"#);
    }

    #[test]
    fn formats_round_trip() {
        let pcm = [0i16, 1000, -1000, 32767, -32768];
        for format in [AudioFormat::MULAW_8K, AudioFormat::parse_content_type("audio/x-l16;rate=16000").unwrap()] {
            let mut bytes = Vec::new();
            format.encode(&pcm, &mut bytes);
            let mut back = Vec::new();
            format.decode(&bytes, &mut back);
            assert_eq!(back.len(), pcm.len());
            for (a, b) in pcm.iter().zip(&back) {
                assert!((*a as i32 - *b as i32).abs() <= 1100, "{a} {b}");
            }
        }
        assert!(AudioFormat::parse_content_type("audio/x-mulaw;rate=16000").is_err());
    }
}
