//! One provider media stream, sans-IO: text frames in, text frames out, one [`StreamSession::tick`] per
//! 20 ms. The tokio task in [`super::http`] only moves frames between the socket and this object.
//!
//! Caller audio is decoded into a FIFO at 16 kHz; each tick hands one 20 ms frame to the conversation engine
//! (more when a burst arrived over TCP, so speech is never dropped, only delayed). Agent audio is paced: we keep
//! about [`PROVIDER_LEAD_SAMPLES`] buffered at the provider, so that on barge-in the `clearAudio`/`clear`
//! message has little to throw away and the engine's own queue holds the rest. A model of the provider's
//! buffer, advanced 20 ms per tick, says what the caller is hearing now (for the recording and for
//! "the agent has finished speaking"); a checkpoint/mark after each burst corrects it when the provider
//! reports that everything played.

use std::collections::VecDeque;

use super::protocol::{parse_event, AudioFormat, Inbound, Outgoing, Peer, ProtocolError, StreamStart, Writer};
use crate::conversation::engine::{AudioSink, Conversation, ConversationNote};
use crate::dsp::Resampler;
use crate::stream::{ENGINE_FRAME, ENGINE_RATE};

/// Agent audio kept at the provider ahead of playback: 60 ms (three frames) rides out network jitter; more
/// would only be thrown away on barge-in.
pub const PROVIDER_LEAD_SAMPLES: usize = 3 * ENGINE_FRAME;
/// Caller audio waiting beyond this (100 ms) is processed at once instead of one frame per tick.
pub(crate) const MAX_INBOUND_BACKLOG: usize = 5 * ENGINE_FRAME;
/// Caller audio kept at most (2 s): a provider that floods us cannot grow memory without bound.
pub(crate) const MAX_INBOUND_SAMPLES: usize = 100 * ENGINE_FRAME;
/// Agent audio queued at most (120 s at 16 kHz).
pub(crate) const MAX_EGRESS_SAMPLES: usize = 120 * ENGINE_RATE as usize;

/// What runs on the stream's audio.
pub enum StreamService {
    Echo,
    Agent(Box<Conversation>),
}

/// Something the transport task has to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Nothing for the task to do.
    None,
    Dtmf(char),
    /// The provider ended the stream.
    Stopped,
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct TickOutcome {
    pub notes: Vec<ConversationNote>,
}

/// Agent audio on its way to the provider: our queue, and a model of what the provider holds.
struct StreamEgress {
    queue: VecDeque<i16>,
    /// Samples sent and (we believe) not yet played by the provider, oldest first.
    at_provider: VecDeque<i16>,
    clear_pending: bool,
}

impl AudioSink for StreamEgress {
    fn queue_audio(&mut self, pcm: &[i16]) {
        let room = MAX_EGRESS_SAMPLES.saturating_sub(self.queue.len());
        self.queue.extend(pcm.iter().take(room));
    }

    fn flush_audio(&mut self) -> usize {
        let dropped = self.queue.len() + self.at_provider.len();
        if !self.at_provider.is_empty() {
            self.clear_pending = true;
        }
        self.queue.clear();
        self.at_provider.clear();
        dropped
    }

    fn queued_audio(&self) -> usize {
        self.queue.len() + self.at_provider.len()
    }
}

/// One media stream between a provider and a service.
pub struct StreamSession {
    start: StreamStart,
    writer: Writer,
    service: StreamService,
    payload: Vec<u8>,
    decoded: Vec<i16>,
    upsampler: Resampler,
    upsampled: Vec<i16>,
    inbound: VecDeque<i16>,
    egress: StreamEgress,
    downsampler: Resampler,
    downsampled: Vec<i16>,
    encoded: Vec<u8>,
    outgoing: Vec<Outgoing>,
    caller_frame: [i16; ENGINE_FRAME],
    agent_frame: [i16; ENGINE_FRAME],
    /// Name of the checkpoint we wait for, once a burst of agent audio has been sent.
    checkpoint: Option<String>,
    checkpoints_sent: u64,
    protocol_errors: u64,
}

impl StreamSession {
    /// A session for a stream that has started. `format` is what the provider sends (the start's own
    /// announcement wins over what we asked for).
    pub fn new(peer: Peer, start: StreamStart, requested: AudioFormat, service: StreamService) -> Self {
        let format = start.format.unwrap_or(requested);
        let writer = Writer::new(peer, &start.stream_id, format);
        Self {
            writer,
            service,
            payload: Vec::with_capacity(1024),
            decoded: Vec::with_capacity(1024),
            upsampler: Resampler::new(format.rate, ENGINE_RATE),
            upsampled: Vec::with_capacity(2048),
            inbound: VecDeque::with_capacity(MAX_INBOUND_SAMPLES),
            egress: StreamEgress {
                queue: VecDeque::with_capacity(ENGINE_RATE as usize),
                at_provider: VecDeque::with_capacity(2 * PROVIDER_LEAD_SAMPLES),
                clear_pending: false,
            },
            downsampler: Resampler::new(ENGINE_RATE, format.rate),
            downsampled: Vec::with_capacity(1024),
            encoded: Vec::with_capacity(1024),
            outgoing: Vec::with_capacity(8),
            caller_frame: [0; ENGINE_FRAME],
            agent_frame: [0; ENGINE_FRAME],
            checkpoint: None,
            checkpoints_sent: 0,
            protocol_errors: 0,
            start,
        }
    }

    pub fn start_info(&self) -> &StreamStart {
        &self.start
    }

    pub fn format(&self) -> AudioFormat {
        self.writer.format()
    }

    pub fn service(&self) -> &StreamService {
        &self.service
    }

    /// Frames from the provider that could not be understood (each was logged and skipped).
    pub fn protocol_errors(&self) -> u64 {
        self.protocol_errors
    }

    /// Starts the service: the agent's greeting is queued.
    pub fn begin(&mut self) {
        if let StreamService::Agent(conversation) = &mut self.service {
            conversation.start();
        }
    }

    /// Handles one text frame from the provider. A frame that cannot be understood is an error for the
    /// caller to log; the stream goes on.
    pub fn on_text(&mut self, text: &str) -> Result<SessionEvent, ProtocolError> {
        self.payload.clear();
        let event = match parse_event(text, &mut self.payload) {
            Ok(event) => event,
            Err(err) => {
                self.protocol_errors += 1;
                return Err(err);
            }
        };
        Ok(match event {
            Inbound::Media => {
                self.decoded.clear();
                self.writer.format().decode(&self.payload, &mut self.decoded);
                self.upsampled.resize(self.upsampler.max_output(self.decoded.len()), 0);
                let n = self.upsampler.process(&self.decoded, &mut self.upsampled);
                let room = MAX_INBOUND_SAMPLES.saturating_sub(self.inbound.len());
                if n > room {
                    // A flood (the provider sent far faster than real time): the oldest audio goes.
                    self.inbound.drain(..(n - room).min(self.inbound.len()));
                }
                self.inbound.extend(&self.upsampled[..n]);
                SessionEvent::None
            }
            Inbound::Dtmf(digit) => {
                if let StreamService::Agent(conversation) = &mut self.service {
                    conversation.on_dtmf(digit);
                }
                SessionEvent::Dtmf(digit)
            }
            Inbound::Played(name) => {
                if self.checkpoint.as_deref() == Some(name.as_str()) {
                    // Everything sent before the checkpoint has played, and nothing was sent after it.
                    self.checkpoint = None;
                    self.egress.at_provider.clear();
                }
                SessionEvent::None
            }
            Inbound::Stop => SessionEvent::Stopped,
            Inbound::Start(_) | Inbound::Connected | Inbound::Cleared | Inbound::Other(_) => SessionEvent::None,
        })
    }

    /// Binary frames carry raw audio in the stream's format (the browser test socket and some Exotel setups).
    pub fn on_binary(&mut self, bytes: &[u8]) {
        self.decoded.clear();
        self.writer.format().decode(bytes, &mut self.decoded);
        self.upsampled.resize(self.upsampler.max_output(self.decoded.len()), 0);
        let n = self.upsampler.process(&self.decoded, &mut self.upsampled);
        let room = MAX_INBOUND_SAMPLES.saturating_sub(self.inbound.len());
        self.inbound.extend(self.upsampled[..n].iter().take(room));
    }

    /// One 20 ms step: the engine hears the caller's frame, agent audio is paced out, and the messages to
    /// send are ready in [`StreamSession::take_outgoing`].
    pub fn tick(&mut self) -> TickOutcome {
        let mut outcome = TickOutcome::default();
        hear_caller(&mut self.service, &mut self.inbound, &mut self.caller_frame, &mut self.egress, &mut outcome.notes);
        if self.writer.peer() == Peer::Browser {
            self.push_transcript_events(&outcome.notes);
        }
        if std::mem::take(&mut self.egress.clear_pending) {
            self.outgoing.push(Outgoing::Text(self.writer.clear()));
            self.checkpoint = None;
        }
        self.play_out();
        outcome
    }

    /// The browser page shows a live transcript.
    fn push_transcript_events(&mut self, notes: &[ConversationNote]) {
        self.outgoing.extend(notes.iter().filter_map(transcript_event).map(Outgoing::Text));
    }

    /// Advances the model of the provider's buffer by 20 ms, then tops it up to the lead.
    fn play_out(&mut self) {
        let played = self.egress.at_provider.len().min(ENGINE_FRAME);
        self.agent_frame = [0; ENGINE_FRAME];
        for (slot, sample) in self.agent_frame.iter_mut().zip(self.egress.at_provider.drain(..played)) {
            *slot = sample;
        }
        let mut sent = false;
        while self.egress.at_provider.len() < PROVIDER_LEAD_SAMPLES && !self.egress.queue.is_empty() {
            let n = self.egress.queue.len().min(ENGINE_FRAME);
            let mut chunk = [0i16; ENGINE_FRAME];
            for (slot, sample) in chunk.iter_mut().zip(self.egress.queue.drain(..n)) {
                *slot = sample;
            }
            let chunk = &chunk[..n];
            self.egress.at_provider.extend(chunk);
            self.downsampled.resize(self.downsampler.max_output(n), 0);
            let m = self.downsampler.process(chunk, &mut self.downsampled);
            self.encoded.clear();
            self.writer.format().encode(&self.downsampled[..m], &mut self.encoded);
            let message = self.writer.play_audio(&self.encoded);
            self.outgoing.push(message);
            sent = true;
        }
        if sent {
            self.checkpoint = None;
        }
        if sent && self.egress.queue.is_empty() {
            // End of a burst: ask the provider to tell us when it has played.
            self.checkpoints_sent += 1;
            let name = format!("played-{}", self.checkpoints_sent);
            self.outgoing.push(Outgoing::Text(self.writer.checkpoint(&name)));
            self.checkpoint = Some(name);
        }
    }

    /// Messages to send, in order.
    pub fn take_outgoing(&mut self) -> std::vec::Drain<'_, Outgoing> {
        self.outgoing.drain(..)
    }

    /// The caller audio the engine heard in the last tick, and the agent audio the caller heard.
    pub fn last_frames(&self) -> (&[i16; ENGINE_FRAME], &[i16; ENGINE_FRAME]) {
        (&self.caller_frame, &self.agent_frame)
    }

    /// The agent presses keys: Plivo's `sendDTMF`; other providers need their REST API (not wired yet).
    pub fn send_dtmf(&mut self, digits: &str) -> bool {
        match self.writer.send_dtmf(digits) {
            Some(message) => {
                self.outgoing.push(Outgoing::Text(message));
                true
            }
            None => false,
        }
    }

    /// The outcome of a tool call the transport carried out for the agent.
    pub fn on_tool_result(&mut self, id: u64, result: Result<String, String>, transferred: bool) {
        if let StreamService::Agent(conversation) = &mut self.service {
            conversation.on_tool_result(id, result, transferred);
        }
    }

    /// Our closing message, if the peer's protocol has one (else closing the socket ends the stream).
    pub fn stop_message(&self, reason: &str) -> Option<String> {
        self.writer.stop(reason)
    }
}

/// Runs the caller audio waiting in `inbound` through the service, one 20 ms frame at a time: one frame per
/// tick (silence when nothing arrived in time), more while over [`MAX_INBOUND_BACKLOG`], so a burst (TCP
/// catching up, a peer's clock running fast) is worked down instead of adding delay. `frame` is left holding
/// the last frame heard.
pub(crate) fn hear_caller(
    service: &mut StreamService,
    inbound: &mut VecDeque<i16>,
    frame: &mut [i16; ENGINE_FRAME],
    sink: &mut dyn AudioSink,
    notes: &mut Vec<ConversationNote>,
) {
    loop {
        if inbound.len() >= ENGINE_FRAME {
            for (slot, sample) in frame.iter_mut().zip(inbound.drain(..ENGINE_FRAME)) {
                *slot = sample;
            }
        } else {
            *frame = [0; ENGINE_FRAME];
        }
        match service {
            StreamService::Echo => sink.queue_audio(frame),
            StreamService::Agent(conversation) => notes.extend(conversation.on_frame(frame, sink)),
        }
        if inbound.len() <= MAX_INBOUND_BACKLOG {
            break;
        }
    }
}

/// A browser's live-transcript event for a note: what the caller said, and what the agent said (on
/// barge-in, only what was heard).
pub fn transcript_event(note: &ConversationNote) -> Option<String> {
    let (role, turn, text, interrupted) = match note {
        ConversationNote::UserSaid { turn, text } => ("user", turn, text, false),
        ConversationNote::AgentSaid { turn, text, interrupted } => ("assistant", turn, text, *interrupted),
        _ => return None,
    };
    let event = serde_json::json!({
        "event": "transcript",
        "role": role,
        "content": text,
        "turn": turn,
        "interrupted": interrupted,
        "timestamp_ms": unix_millis(),
    });
    Some(event.to_string())
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use serde_json::Value;

    use super::*;
    use crate::conversation::engine::Agent;
    use crate::ws_stream::protocol::{Encoding, Provider};

    fn start(provider: Provider) -> StreamStart {
        let format = Some(provider.default_format());
        StreamStart { call_id: "c1".into(), stream_id: "s1".into(), format, ..Default::default() }
    }

    fn media_frame(format: AudioFormat, pcm8k: &[i16]) -> String {
        let mut bytes = Vec::new();
        format.encode(pcm8k, &mut bytes);
        let payload = base64::engine::general_purpose::STANDARD.encode(bytes);
        format!(r#"{{"event":"media","streamId":"s1","media":{{"track":"inbound","chunk":1,"payload":"{payload}"}}}}"#)
    }

    fn tone(tick: usize) -> Vec<i16> {
        (0..160)
            .map(|i| (((tick * 160 + i) as f32 / 8000.0 * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
            .collect()
    }

    fn events(messages: &[String]) -> Vec<String> {
        messages
            .iter()
            .map(|m| serde_json::from_str::<Value>(m).unwrap()["event"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn echo_is_paced_with_a_60_ms_lead() {
        let format = AudioFormat::MULAW_8K;
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, StreamService::Echo);
        let mut sent = Vec::new();
        for tick in 0..50 {
            session.on_text(&media_frame(format, &tone(tick))).unwrap();
            session.tick();
            sent.extend(session.take_outgoing().filter_map(|m| m.text().map(String::from)));
        }
        let plays = events(&sent).iter().filter(|e| *e == "playAudio").count();
        // One frame per tick once flowing; the lead never exceeds three frames.
        assert!((48..=50).contains(&plays), "{plays}");
        assert!(session.egress.at_provider.len() <= PROVIDER_LEAD_SAMPLES);
        let first: Value = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(first["media"]["contentType"], "audio/x-mulaw");
        assert_eq!(first["streamId"], "s1");
    }

    #[test]
    fn barge_in_sends_clear_audio_and_the_transcript_agent_hears_the_caller() {
        let format = AudioFormat::MULAW_8K;
        let agent = Arc::new(Agent::bench(false));
        let service = StreamService::Agent(Box::new(Conversation::new(agent)));
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, service);
        session.begin();
        let mut all = Vec::new();
        let mut notes = Vec::new();
        // Greeting (≈0.36 s), then the caller speaks 1 s, waits for the reply, and barges in on it.
        for tick in 0..200 {
            let speaking = (30..80).contains(&tick) || (110..150).contains(&tick);
            let pcm = if speaking { tone(tick) } else { vec![0; 160] };
            session.on_text(&media_frame(format, &pcm)).unwrap();
            notes.extend(session.tick().notes.into_iter().map(|n| (tick, n)));
            all.extend(session.take_outgoing().filter_map(|m| m.text().map(String::from)).map(|m| (tick, m)));
        }
        assert!(notes.iter().any(|(_, n)| matches!(n, ConversationNote::UserSaid { turn: 1, .. })), "{notes:?}");
        let barge = notes.iter().find_map(|(t, n)| matches!(n, ConversationNote::BargeIn { .. }).then_some(*t));
        let clear = all.iter().find_map(|(t, m)| m.contains(r#""event":"clearAudio""#).then_some(*t));
        assert!(barge.is_some() && barge == clear, "clearAudio in the barge-in tick: {barge:?} {clear:?}");
        // After the clear no more of the interrupted reply is sent until the next answer.
        let greeting_checkpoint = all.iter().any(|(t, m)| *t < 30 && m.contains("checkpoint"));
        assert!(greeting_checkpoint, "a checkpoint follows the greeting burst");
    }

    #[test]
    fn played_checkpoint_resets_the_provider_buffer_model() {
        let format = AudioFormat::MULAW_8K;
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Plivo), start(Provider::Plivo), format, StreamService::Echo);
        session.on_text(&media_frame(format, &tone(0))).unwrap();
        session.tick();
        let sent: Vec<String> = session.take_outgoing().filter_map(|m| m.text().map(String::from)).collect();
        assert_eq!(events(&sent), ["playAudio", "checkpoint"]);
        assert_eq!(session.egress.queued_audio(), ENGINE_FRAME);
        session.on_text(r#"{"event":"playedStream","name":"played-1"}"#).unwrap();
        assert_eq!(session.egress.queued_audio(), 0);
    }

    #[test]
    fn bursts_are_processed_not_dropped_and_bad_frames_are_counted() {
        let format = AudioFormat::MULAW_8K;
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Twilio), start(Provider::Twilio), format, StreamService::Echo);
        for tick in 0..10 {
            session.on_text(&media_frame(format, &tone(tick))).unwrap();
        }
        session.tick();
        // 10 frames arrived at once; the backlog is worked down to ≤ 100 ms in one tick.
        assert!(session.inbound.len() <= MAX_INBOUND_BACKLOG);
        assert!(session.on_text("not json").is_err());
        assert!(session.on_text(r#"{"event":"media","media":{"payload":"***"}}"#).is_err());
        assert_eq!(session.protocol_errors(), 2);
        assert_eq!(session.on_text(r#"{"event":"stop","streamSid":"s1"}"#), Ok(SessionEvent::Stopped));
        let sent: Vec<String> = session.take_outgoing().filter_map(|m| m.text().map(String::from)).collect();
        assert!(events(&sent).iter().all(|e| e == "media" || e == "mark"), "{sent:?}");
    }

    #[test]
    fn l16_16k_streams_need_no_resampling() {
        let format = AudioFormat::parse_content_type("audio/x-l16;rate=16000").unwrap();
        let mut s = start(Provider::Vobiz);
        s.format = Some(format);
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Vobiz), s, AudioFormat::MULAW_8K, StreamService::Echo);
        assert_eq!(session.format(), format);
        let pcm: Vec<i16> = (0..320).map(|i| i as i16 * 10).collect();
        session.on_text(&media_frame(format, &pcm)).unwrap();
        session.tick();
        assert_eq!(session.last_frames().0[..], pcm[..]);
    }

    #[test]
    fn browser_sends_and_receives_raw_l16_and_sees_the_transcript() {
        let l16 = AudioFormat::new(Encoding::L16, 16000).unwrap();
        let start =
            StreamStart { call_id: "b1".into(), stream_id: "b1".into(), format: Some(l16), ..Default::default() };
        let agent = Arc::new(Agent::bench(false));
        let service = StreamService::Agent(Box::new(Conversation::new(agent)));
        let mut session = StreamSession::new(Peer::Browser, start, l16, service);
        session.begin();
        let mut binary = 0;
        let mut texts = Vec::new();
        for tick in 0..150 {
            let pcm: Vec<i16> = if (30..80).contains(&tick) {
                (0..320)
                    .map(|i| {
                        (((tick * 320 + i) as f32 / 16000.0 * 300.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
                    })
                    .collect()
            } else {
                vec![0; 320]
            };
            let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
            session.on_binary(&bytes);
            session.tick();
            for message in session.take_outgoing() {
                match message {
                    Outgoing::Binary(frame) => {
                        assert_eq!(frame.len(), 640, "20 ms of L16 at 16 kHz");
                        binary += 1;
                    }
                    Outgoing::Text(text) => texts.push(serde_json::from_str::<Value>(&text).unwrap()),
                }
            }
        }
        assert!(binary > 10, "the greeting and the reply arrive as binary frames ({binary})");
        let user = texts.iter().find(|t| t["event"] == "transcript" && t["role"] == "user").expect("user transcript");
        assert_eq!(user["turn"], 1);
        assert!(user["timestamp_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert!(texts.iter().any(|t| t["event"] == "transcript" && t["role"] == "assistant"), "{texts:?}");
        assert!(texts.iter().any(|t| t["event"] == "mark"), "marks follow bursts");
        session.on_text(r#"{"event":"dtmf","dtmf":{"digit":"7"}}"#).unwrap();
        assert_eq!(session.on_text(r#"{"event":"stop"}"#), Ok(SessionEvent::Stopped));
    }
}
