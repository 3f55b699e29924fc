//! One provider media stream, sans-IO: text frames in, text frames out, and a [`StreamSession::tick`] every
//! 20 ms. The tokio task in [`super::http`] only moves frames between the socket and this object.
//!
//! Caller audio is decoded to 16 kHz and heard by the conversation engine as soon as a whole 20 ms frame is
//! in (`CallerAudio`); the tick stands in silence only for audio that is late. Agent audio is paced: we keep
//! about [`PROVIDER_LEAD_SAMPLES`] buffered at the provider, so that on barge-in the `clearAudio`/`clear`
//! message has little to throw away and the engine's own queue holds the rest; a reply's first frames go out
//! in the input that ended the caller's turn. A model of the provider's buffer, advanced 20 ms per tick, says
//! what the caller is hearing now (for the recording and for "the agent has finished speaking"); a
//! checkpoint/mark after each burst corrects it when the provider reports that everything played.
//!
//! Vobiz and Plivo confirm a `checkpoint` only once the audio before it has played in full, never after a
//! `clearAudio`: we send one after every frame. A barge-in pause clears the provider, and a resume sends again
//! (once `clearedAudio` says no confirmation is still on its way, or after 200 ms without one) exactly the
//! frames whose playing it never confirmed, so that the reply goes on from where the caller
//! stopped hearing it whatever the network did to the provider's playout (the tick model alone ran 1–2 frames
//! ahead of it under load, and those were skipped). Twilio and Exotel echo the marks of cleared audio too, and
//! a provider may confirm nothing: those are resumed by the tick model.

use std::collections::VecDeque;
use std::time::Instant;

use voicera_conversation::core::{CallAction, CallCore, EndReason, Speaker};
use voicera_conversation::engine::AudioSink;
use voicera_conversation::journal::FinishedCall;
use voicera_media::dsp::Resampler;
use voicera_media::stream::{ENGINE_FRAME, ENGINE_RATE};

use super::protocol::{
    parse_event, AudioFormat, Inbound, Outgoing, Peer, ProtocolError, Provider, StreamStart, Writer,
};

/// Agent audio kept at the provider ahead of playback: 60 ms (three frames) rides out network jitter; more
/// would only be thrown away on barge-in.
pub const PROVIDER_LEAD_SAMPLES: usize = 3 * ENGINE_FRAME;
/// Caller audio kept at most (2 s): a provider that floods us cannot grow memory without bound.
pub(crate) const MAX_INBOUND_SAMPLES: usize = 100 * ENGINE_FRAME;
/// Agent audio queued at most (120 s at 16 kHz).
pub(crate) const MAX_EGRESS_SAMPLES: usize = 120 * ENGINE_RATE as usize;

/// Something the transport task has to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Nothing for the task to do.
    None,
    /// The caller pressed a key.
    Dtmf(char),
    /// The provider ended the stream.
    Stopped,
}

/// Frames sent and not yet confirmed played kept at most (2 s): a provider that confirms late or never loses
/// the oldest (taken as played) rather than growing memory.
const MAX_UNCONFIRMED_FRAMES: usize = 100;
/// Ticks (200 ms) a resume waits for the provider's `clearedAudio` (after which no confirmation of audio played
/// before the clear can come) before it sends again what was not confirmed.
const CLEARED_WAIT_TICKS: u32 = 10;
/// The name prefix of the checkpoint/mark after each frame; its number is the frame's.
const FRAME_CHECKPOINT: &str = "f";

/// A frame of agent audio sent to the provider: its number on the stream, and its samples (for sending again).
#[derive(Clone, Copy)]
struct SentFrame {
    number: u64,
    len: usize,
    pcm: [i16; ENGINE_FRAME],
}

/// Agent audio on its way to the provider: our queue, a model of what the provider holds, and what it has not
/// confirmed playing.
struct StreamEgress {
    queue: VecDeque<i16>,
    /// Samples sent and (by the tick model) not yet played by the provider, oldest first.
    at_provider: VecDeque<i16>,
    /// Frames sent whose playing the provider has not confirmed, oldest first.
    unconfirmed: VecDeque<SentFrame>,
    /// The number the next frame sent takes.
    next_frame: u64,
    /// Each frame is followed by a checkpoint that the provider confirms only once it has played (Vobiz,
    /// Plivo).
    checkpoint_frames: bool,
    /// The provider confirms frames as they play (one confirmation seen on this stream).
    confirms_frames: bool,
    /// Ticks left to wait for `clearedAudio` before a resume sends again what was not confirmed (0: none).
    awaiting_cleared: u32,
    /// A resume is due to send again the frames not confirmed, once the provider has acknowledged the clear.
    resend_unconfirmed: bool,
    clear_pending: bool,
    /// The caller spoke over the agent: nothing is sent until it resumes or the reply is flushed.
    paused: bool,
}

impl StreamEgress {
    /// The provider played every frame up to `number` in full.
    fn confirm(&mut self, number: u64) {
        self.confirms_frames = true;
        while self.unconfirmed.front().is_some_and(|f| f.number <= number) {
            self.unconfirmed.pop_front();
        }
    }

    /// Unconfirmed frames count as audio still to play while paused (they will be sent again).
    fn held_samples(&self) -> usize {
        if (self.paused || self.resend_unconfirmed) && self.confirms_frames {
            self.unconfirmed.iter().map(|f| f.len).sum()
        } else {
            0
        }
    }
}

impl AudioSink for StreamEgress {
    fn queue_audio(&mut self, pcm: &[i16]) {
        let room = MAX_EGRESS_SAMPLES.saturating_sub(self.queue.len());
        self.queue.extend(pcm.iter().take(room));
    }

    fn flush_audio(&mut self) -> usize {
        let dropped = self.queued_audio();
        if !self.at_provider.is_empty() {
            self.clear_pending = true;
        }
        self.queue.clear();
        self.at_provider.clear();
        self.unconfirmed.clear();
        self.resend_unconfirmed = false;
        self.paused = false;
        dropped
    }

    fn queued_audio(&self) -> usize {
        self.queue.len() + self.at_provider.len() + self.held_samples()
    }

    /// Stops the provider playing at once (`clearAudio`/`clear`). A provider that confirms frames will have
    /// confirmed, by the time we resume, every frame it played before the clear: the rest is sent again
    /// then. For one that does not, what the tick model says it held goes back to the front of our queue.
    fn pause_audio(&mut self) {
        if self.paused {
            return;
        }
        self.paused = true;
        if self.at_provider.is_empty() && (!self.confirms_frames || self.unconfirmed.is_empty()) {
            return;
        }
        self.clear_pending = true;
        if self.confirms_frames {
            self.at_provider.clear();
        } else {
            for sample in self.at_provider.drain(..).rev() {
                self.queue.push_front(sample);
            }
            self.unconfirmed.clear();
        }
    }

    /// Plays on: the frames the provider dropped unplayed go out first, in order (once it has acknowledged the
    /// clear, so that no confirmation of a frame it played before the clear is still on its way).
    fn resume_audio(&mut self) {
        if !self.paused {
            return;
        }
        self.resend_unconfirmed = self.confirms_frames;
        self.paused = false;
    }
}

/// One media stream between a provider and a service.
pub struct StreamSession {
    start: StreamStart,
    writer: Writer,
    core: CallCore,
    payload: Vec<u8>,
    decoded: Vec<i16>,
    upsampler: Resampler,
    upsampled: Vec<i16>,
    caller: CallerAudio,
    egress: StreamEgress,
    downsampler: Resampler,
    downsampled: Vec<i16>,
    encoded: Vec<u8>,
    outgoing: Vec<Outgoing>,
    /// What the call core asked for since [`StreamSession::take_actions`] (browser transcript events are
    /// already sent for its `Said` ones).
    actions: Vec<CallAction>,
    /// The agent audio the caller heard in the last tick (a model of the provider's playback).
    agent_frame: [i16; ENGINE_FRAME],
    /// Whether the last input was a tick (so `agent_frame` is new).
    ticked: bool,
    /// Name of the checkpoint we wait for, once a burst of agent audio has been sent.
    checkpoint: Option<String>,
    protocol_errors: u64,
    /// The session's time: its last tick's (the core's clock anchor before the first). Input between ticks is
    /// heard, and dated in the call's record, at it.
    now: Instant,
}

impl StreamSession {
    /// A session for a stream that has started. `format` is what the provider sends (the start's own
    /// announcement wins over what we asked for).
    pub fn new(peer: Peer, start: StreamStart, requested: AudioFormat, core: CallCore) -> Self {
        let format = start.format.unwrap_or(requested);
        let writer = Writer::new(peer, &start.stream_id, format);
        let core_clock_anchor = core.clock().anchor();
        Self {
            writer,
            core,
            payload: Vec::with_capacity(1024),
            decoded: Vec::with_capacity(1024),
            upsampler: Resampler::new(format.rate, ENGINE_RATE),
            upsampled: Vec::with_capacity(2048),
            caller: CallerAudio::default(),
            egress: StreamEgress {
                queue: VecDeque::with_capacity(ENGINE_RATE as usize),
                at_provider: VecDeque::with_capacity(2 * PROVIDER_LEAD_SAMPLES),
                unconfirmed: VecDeque::with_capacity(MAX_UNCONFIRMED_FRAMES),
                next_frame: 0,
                checkpoint_frames: matches!(peer, Peer::Provider(Provider::Vobiz | Provider::Plivo)),
                confirms_frames: false,
                awaiting_cleared: 0,
                resend_unconfirmed: false,
                clear_pending: false,
                paused: false,
            },
            downsampler: Resampler::new(ENGINE_RATE, format.rate),
            downsampled: Vec::with_capacity(1024),
            encoded: Vec::with_capacity(1024),
            outgoing: Vec::with_capacity(8),
            actions: Vec::with_capacity(8),
            agent_frame: [0; ENGINE_FRAME],
            ticked: false,
            checkpoint: None,
            protocol_errors: 0,
            now: core_clock_anchor,
            start,
        }
    }

    /// The stream's start event as the provider sent it.
    pub fn start_info(&self) -> &StreamStart {
        &self.start
    }

    /// The format of the stream's audio.
    pub fn format(&self) -> AudioFormat {
        self.writer.format()
    }

    /// The call core the stream drives.
    pub fn core(&self) -> &CallCore {
        &self.core
    }

    /// Frames from the provider that could not be understood (each was logged and skipped).
    pub fn protocol_errors(&self) -> u64 {
        self.protocol_errors
    }

    /// Starts the call: the agent's greeting is queued, its journal opens.
    pub fn begin(&mut self) {
        self.core.start(&self.start.call_id, self.now);
    }

    /// The next answering-machine detection event of the call (the verdict, then a message left), once each.
    pub fn take_amd_event(&mut self) -> Option<voicera_conversation::amd::AmdEvent> {
        self.core.take_amd_event()
    }

    /// Handles one text frame from the provider. A frame that cannot be understood is an error for the
    /// caller to log; the stream goes on.
    pub fn on_text(&mut self, text: &str) -> Result<SessionEvent, ProtocolError> {
        self.begin_input();
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
                self.caller.push(&self.upsampled[..n]);
                self.caller.hear_arrived(&mut self.core, &mut self.egress, self.now);
                self.after_engine();
                SessionEvent::None
            }
            Inbound::Dtmf(digit) => {
                self.core.on_dtmf(digit);
                SessionEvent::Dtmf(digit)
            }
            Inbound::Played(name) => {
                let number = name.strip_prefix(FRAME_CHECKPOINT).and_then(|n| n.parse::<u64>().ok());
                if let (Some(number), true) = (number, self.egress.checkpoint_frames) {
                    self.egress.confirm(number);
                }
                if self.checkpoint.as_deref() == Some(name.as_str()) {
                    // Everything sent before the checkpoint has played, and nothing was sent after it.
                    self.checkpoint = None;
                    self.egress.at_provider.clear();
                }
                SessionEvent::None
            }
            Inbound::Stop => SessionEvent::Stopped,
            Inbound::Cleared => {
                // Every confirmation of audio played before the clear came before this.
                self.egress.awaiting_cleared = 0;
                self.after_engine();
                SessionEvent::None
            }
            Inbound::Start(_) | Inbound::Connected | Inbound::Other(_) => SessionEvent::None,
        })
    }

    /// Binary frames carry raw audio in the stream's format (the browser test socket and some Exotel setups).
    pub fn on_binary(&mut self, bytes: &[u8]) {
        self.begin_input();
        self.decoded.clear();
        self.writer.format().decode(bytes, &mut self.decoded);
        self.upsampled.resize(self.upsampler.max_output(self.decoded.len()), 0);
        let n = self.upsampler.process(&self.decoded, &mut self.upsampled);
        self.caller.push(&self.upsampled[..n]);
        self.caller.hear_arrived(&mut self.core, &mut self.egress, self.now);
        self.after_engine();
    }

    /// One 20 ms step of wall time, to `now`: the provider's playback advances, the engine hears silence if
    /// the caller's audio is late, and agent audio is topped up. Messages to send are then in
    /// [`StreamSession::take_outgoing`], what the call core asks for in [`StreamSession::take_actions`].
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        self.begin_input();
        self.caller.tick(&mut self.core, &mut self.egress, now);
        self.advance_playback();
        self.core.on_agent_audio(&self.agent_frame);
        self.ticked = true;
        self.egress.awaiting_cleared = self.egress.awaiting_cleared.saturating_sub(1);
        self.after_engine();
    }

    fn begin_input(&mut self) {
        self.caller.clear_heard();
        self.ticked = false;
    }

    /// What follows engine work: the core's actions collected (the browser's transcript events sent), the
    /// clear message of a barge-in, and agent audio sent up to the lead at once (a reply starts in the input
    /// that ended the turn).
    fn after_engine(&mut self) {
        while let Some(action) = self.core.poll_action() {
            if self.writer.peer() == Peer::Browser {
                if let Some(event) = transcript_event(&action) {
                    self.outgoing.push(Outgoing::Text(event));
                }
            }
            self.actions.push(action);
        }
        if std::mem::take(&mut self.egress.clear_pending) {
            self.outgoing.push(Outgoing::Text(self.writer.clear()));
            self.checkpoint = None;
            if self.egress.confirms_frames {
                self.egress.awaiting_cleared = CLEARED_WAIT_TICKS;
            }
        }
        self.top_up();
    }

    /// Advances the model of the provider's buffer by 20 ms.
    fn advance_playback(&mut self) {
        let played = self.egress.at_provider.len().min(ENGINE_FRAME);
        self.agent_frame = [0; ENGINE_FRAME];
        for (slot, sample) in self.agent_frame.iter_mut().zip(self.egress.at_provider.drain(..played)) {
            *slot = sample;
        }
    }

    /// Sends agent audio until the provider holds [`PROVIDER_LEAD_SAMPLES`].
    fn top_up(&mut self) {
        if self.egress.paused {
            return;
        }
        if self.egress.resend_unconfirmed {
            if self.egress.awaiting_cleared > 0 {
                return;
            }
            self.egress.resend_unconfirmed = false;
            for frame in self.egress.unconfirmed.drain(..).rev() {
                for &sample in frame.pcm[..frame.len].iter().rev() {
                    self.egress.queue.push_front(sample);
                }
            }
        }
        while self.egress.at_provider.len() < PROVIDER_LEAD_SAMPLES && !self.egress.queue.is_empty() {
            let n = self.egress.queue.len().min(ENGINE_FRAME);
            let mut chunk = [0i16; ENGINE_FRAME];
            for (slot, sample) in chunk.iter_mut().zip(self.egress.queue.drain(..n)) {
                *slot = sample;
            }
            self.egress.at_provider.extend(&chunk[..n]);
            self.downsampled.resize(self.downsampler.max_output(n), 0);
            let m = self.downsampler.process(&chunk[..n], &mut self.downsampled);
            self.encoded.clear();
            self.writer.format().encode(&self.downsampled[..m], &mut self.encoded);
            let message = self.writer.play_audio(&self.encoded);
            self.outgoing.push(message);
            let number = self.egress.next_frame;
            self.egress.next_frame += 1;
            let burst_over = self.egress.queue.is_empty();
            self.checkpoint = None;
            if self.egress.checkpoint_frames {
                // The provider confirms the frame once it has played in full (not after a clear): what a
                // resume sends again by.
                if self.egress.unconfirmed.len() == MAX_UNCONFIRMED_FRAMES {
                    self.egress.unconfirmed.pop_front();
                }
                self.egress.unconfirmed.push_back(SentFrame { number, len: n, pcm: chunk });
            }
            if self.egress.checkpoint_frames || burst_over {
                let name = format!("{FRAME_CHECKPOINT}{number}");
                self.outgoing.push(Outgoing::Text(self.writer.checkpoint(&name)));
                // The last frame of a burst: its confirmation says the provider has played everything.
                self.checkpoint = burst_over.then_some(name);
            }
        }
    }

    /// Messages to send, in order.
    pub fn take_outgoing(&mut self) -> std::vec::Drain<'_, Outgoing> {
        self.outgoing.drain(..)
    }

    /// What the call core asked for since the last call (tools, DTMF, hang-up, words said), in order.
    pub fn take_actions(&mut self) -> std::vec::Drain<'_, CallAction> {
        self.actions.drain(..)
    }

    /// The audio of the last input: the caller audio the engine heard, and (after a tick) the agent audio
    /// the caller heard.
    pub fn recorded_audio(&self) -> (&[i16], &[i16]) {
        let agent: &[i16] = if self.ticked { &self.agent_frame } else { &[] };
        (self.caller.heard(), agent)
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
        self.core.on_tool_result(id, result, transferred);
    }

    /// The stream is over (at its last tick): the agent's words of a reply it was in the middle of are
    /// recorded (what the caller heard), and the call's record comes back to be stored.
    pub fn finish(&mut self, reason: &EndReason) -> Option<FinishedCall> {
        self.core.finish(&self.egress, reason, self.now)
    }

    /// Our closing message, if the peer's protocol has one (else closing the socket ends the stream).
    pub fn stop_message(&self, reason: &str) -> Option<String> {
        self.writer.stop(reason)
    }
}

/// The engine is at most this many frames (60 ms) behind wall time before it hears silence in place of
/// caller audio that has not arrived: enough for network jitter, short enough that the timers of a call whose
/// peer stopped sending (silence hang-up, idle prompt) are barely late.
pub(crate) const LATE_FRAMES: u64 = 3;

/// Caller audio on its way into the engine, and the engine's place in the caller's timeline.
///
/// A frame is heard the moment it is complete, so a turn ends on the frame that completes the VAD's stop
/// time, not on the next tick (waiting for the tick cost 10 ms on average, and a frame that came just after a
/// tick used to be queued behind a silence frame for the rest of the call). The 20 ms tick only keeps the
/// engine's clock going when audio is late or absent: once the engine is more than [`LATE_FRAMES`] behind wall
/// time it hears silence. Audio that arrives later still is heard all the same: nothing is dropped, and a
/// burst (TCP catching up) is worked down at once.
pub(crate) struct CallerAudio {
    fifo: VecDeque<i16>,
    frame: [i16; ENGINE_FRAME],
    frames_heard: u64,
    ticks: u64,
    /// What the engine heard since [`CallerAudio::clear_heard`], for the recording.
    heard: Vec<i16>,
}

impl Default for CallerAudio {
    fn default() -> Self {
        Self {
            fifo: VecDeque::with_capacity(MAX_INBOUND_SAMPLES),
            frame: [0; ENGINE_FRAME],
            frames_heard: 0,
            ticks: 0,
            heard: Vec::with_capacity(4 * ENGINE_FRAME),
        }
    }
}

impl CallerAudio {
    /// Queues decoded 16 kHz audio. A peer that floods us (far faster than real time) loses its oldest audio
    /// beyond [`MAX_INBOUND_SAMPLES`] rather than growing memory.
    pub(crate) fn push(&mut self, pcm: &[i16]) {
        let room = MAX_INBOUND_SAMPLES.saturating_sub(self.fifo.len());
        if pcm.len() > room {
            self.fifo.drain(..(pcm.len() - room).min(self.fifo.len()));
        }
        let keep = pcm.len().min(MAX_INBOUND_SAMPLES);
        self.fifo.extend(&pcm[pcm.len() - keep..]);
    }

    /// Hears every complete frame that has arrived, at `now`.
    pub(crate) fn hear_arrived(&mut self, core: &mut CallCore, sink: &mut dyn AudioSink, now: Instant) {
        while self.fifo.len() >= ENGINE_FRAME {
            for (slot, sample) in self.frame.iter_mut().zip(self.fifo.drain(..ENGINE_FRAME)) {
                *slot = sample;
            }
            self.hear_frame(core, sink, now);
        }
    }

    /// One 20 ms tick of wall time: what has arrived is heard, and silence stands in for audio that is more
    /// than [`LATE_FRAMES`] late.
    pub(crate) fn tick(&mut self, core: &mut CallCore, sink: &mut dyn AudioSink, now: Instant) {
        self.ticks += 1;
        self.hear_arrived(core, sink, now);
        while self.frames_heard + LATE_FRAMES < self.ticks {
            self.frame = [0; ENGINE_FRAME];
            self.hear_frame(core, sink, now);
        }
    }

    fn hear_frame(&mut self, core: &mut CallCore, sink: &mut dyn AudioSink, now: Instant) {
        self.frames_heard += 1;
        if self.heard.len() < MAX_INBOUND_SAMPLES {
            self.heard.extend_from_slice(&self.frame);
        }
        core.hear(&self.frame, now, sink);
    }

    /// The caller audio heard since the last [`CallerAudio::clear_heard`].
    pub(crate) fn heard(&self) -> &[i16] {
        &self.heard
    }

    pub(crate) fn clear_heard(&mut self) {
        self.heard.clear();
    }

    /// The last frame the engine heard.
    #[cfg(test)]
    pub(crate) fn last_frame(&self) -> &[i16; ENGINE_FRAME] {
        &self.frame
    }

    /// Audio waiting for the engine (less than a frame, but for a burst being worked down).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.fifo.len()
    }
}

/// A browser's live-transcript event for words said: what the caller said, and what the agent said (on
/// barge-in, only what was heard), dated on the call's clock.
pub fn transcript_event(action: &CallAction) -> Option<String> {
    let CallAction::Said { speaker, turn, text, interrupted, at_ms } = action else { return None };
    let role = match speaker {
        Speaker::Caller => "user",
        Speaker::Agent => "assistant",
    };
    let event = serde_json::json!({
        "event": "transcript",
        "role": role,
        "content": text,
        "turn": turn,
        "interrupted": interrupted,
        "timestamp_ms": at_ms,
    });
    Some(event.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use serde_json::Value;

    use super::*;
    use crate::ws_stream::protocol::{Encoding, Provider, StreamFormats};
    use voicera_conversation::agent::Agent;
    use voicera_conversation::core::CallService;
    use voicera_conversation::engine::Conversation;
    use voicera_conversation::journal::WallClock;
    use voicera_media::metrics::Metrics;

    /// The tests' virtual clock: its origin, read once, and 20 ms per tick from there.
    fn clock() -> WallClock {
        clock_at(0)
    }

    /// A virtual clock whose origin is the wall time `wall_ms` (Unix milliseconds).
    fn clock_at(wall_ms: u64) -> WallClock {
        WallClock::new(Instant::now(), std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(wall_ms))
    }

    fn echo() -> CallCore {
        CallCore::new(CallService::Echo, Arc::new(Metrics::default()), None, "test", clock())
    }

    fn bench_agent(metrics: &Arc<Metrics>) -> CallCore {
        bench_agent_at(metrics, clock())
    }

    fn bench_agent_at(metrics: &Arc<Metrics>, clock: WallClock) -> CallCore {
        let agent = Arc::new(Agent::bench(false));
        CallCore::new(CallService::Agent(Box::new(Conversation::new(agent))), Arc::clone(metrics), None, "test", clock)
    }

    /// One tick, 20 ms after the session's last.
    fn step(session: &mut StreamSession) {
        let now = session.now + std::time::Duration::from_millis(20);
        session.tick(now);
    }

    fn caller_said(action: &CallAction, wanted_turn: Option<u64>) -> bool {
        matches!(action, CallAction::Said { speaker: Speaker::Caller, turn, .. } if wanted_turn.is_none_or(|t| t == *turn))
    }

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
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, echo());
        let mut sent = Vec::new();
        for tick in 0..50 {
            session.on_text(&media_frame(format, &tone(tick))).unwrap();
            step(&mut session);
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
        let metrics = Arc::new(Metrics::default());
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, bench_agent(&metrics));
        session.begin();
        let mut all = Vec::new();
        let mut actions = Vec::new();
        let mut barge = None;
        // Greeting (≈0.36 s), then the caller speaks 1 s, waits for the reply, and barges in on it.
        for tick in 0..200 {
            let speaking = (30..80).contains(&tick) || (110..150).contains(&tick);
            let pcm = if speaking { tone(tick) } else { vec![0; 160] };
            session.on_text(&media_frame(format, &pcm)).unwrap();
            step(&mut session);
            actions.extend(session.take_actions());
            if barge.is_none() && metrics.barge_ins() > 0 {
                barge = Some(tick);
            }
            all.extend(session.take_outgoing().filter_map(|m| m.text().map(String::from)).map(|m| (tick, m)));
        }
        assert!(actions.iter().any(|a| caller_said(a, Some(1))), "{actions:?}");
        let clear = all.iter().find_map(|(t, m)| m.contains(r#""event":"clearAudio""#).then_some(*t));
        assert!(barge.is_some() && barge == clear, "clearAudio in the barge-in tick: {barge:?} {clear:?}");
        // After the clear no more of the interrupted reply is sent until the next answer.
        let greeting_checkpoint = all.iter().any(|(t, m)| *t < 30 && m.contains("checkpoint"));
        assert!(greeting_checkpoint, "a checkpoint follows the greeting burst");
    }

    #[test]
    fn the_reply_leaves_with_the_frame_that_ends_the_turn() {
        let format = AudioFormat::MULAW_8K;
        let metrics = Arc::new(Metrics::default());
        let mut session =
            StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, bench_agent(&metrics));
        session.begin();
        // The greeting plays out (ticks 0..50); the caller speaks in frames 50..100, then is quiet.
        let mut first_reply = None;
        for frame in 0..160 {
            let pcm = if (50..100).contains(&frame) { tone(frame) } else { vec![0; 160] };
            session.on_text(&media_frame(format, &pcm)).unwrap();
            let said_user = session.take_actions().any(|a| caller_said(&a, None));
            let plays = session.take_outgoing().filter(|m| m.text().is_some_and(|t| t.contains("playAudio"))).count();
            if said_user {
                first_reply = Some((frame, plays));
            }
            step(&mut session);
            session.take_actions().for_each(drop);
            session.take_outgoing().for_each(drop);
        }
        // The 20th quiet frame (0.4 s, the VAD stop time) ends the turn, and the stand-in models answer in the
        // same input: three frames (the provider lead) leave before any tick.
        assert_eq!(first_reply, Some((119, 3)));
    }

    #[test]
    fn a_pause_clears_the_provider_and_a_resume_sends_the_same_audio_again() {
        let format = AudioFormat::MULAW_8K;
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, echo());
        let speech: Vec<i16> = (0..10 * ENGINE_FRAME).map(|i| (i % 300) as i16 * 20).collect();
        session.egress.queue_audio(&speech);
        // The first tick sends the lead; the second plays a frame of it and tops it up.
        step(&mut session);
        step(&mut session);
        assert_eq!(session.egress.at_provider.len(), PROVIDER_LEAD_SAMPLES);
        session.take_outgoing().for_each(drop);
        let sent_before: Vec<i16> = session.egress.at_provider.iter().copied().collect();
        // The caller's voice: the provider drops what it holds, we keep it, nothing more is sent.
        session.egress.pause_audio();
        step(&mut session);
        let sent: Vec<String> = session.take_outgoing().filter_map(|m| m.text().map(String::from)).collect();
        assert_eq!(events(&sent), ["clearAudio"]);
        assert_eq!(session.egress.queued_audio(), speech.len() - ENGINE_FRAME, "one frame played before the pause");
        step(&mut session);
        assert_eq!(session.take_outgoing().count(), 0, "silence while paused");
        // A cough after all: the audio the provider dropped is sent again, from where playback stopped.
        session.egress.resume_audio();
        step(&mut session);
        let resent: Vec<i16> = session.egress.at_provider.iter().copied().collect();
        assert_eq!(resent[..ENGINE_FRAME], sent_before[..ENGINE_FRAME], "the first unplayed frame goes again");
        let sent: Vec<String> = session.take_outgoing().filter_map(|m| m.text().map(String::from)).collect();
        assert_eq!(events(&sent).iter().filter(|e| *e == "playAudio").count(), 3);
    }

    /// A provider as Vobiz documents it: what it is sent plays from when it arrives, one 20 ms frame after
    /// another (a frame that arrives after the last has finished starts at once); a checkpoint is confirmed
    /// once the audio before it has played in full, never after a `clearAudio`, which drops what has not
    /// finished playing (the frame under way is cut). Frames are told apart by their samples (each frame of
    /// the test's reply is one value). Times are ms on the test's virtual clock.
    #[derive(Default)]
    struct FakeProvider {
        /// (frame, start, end) of the frames queued or playing.
        queued: VecDeque<(i16, u64, u64)>,
        /// Checkpoint names, with when the audio before each ends.
        checkpoints: VecDeque<(String, u64)>,
        queued_until: u64,
        /// Frames played in full, in order; frames cut by a clear while they played.
        played: Vec<i16>,
        cut: Vec<i16>,
        /// What it sends back (`playedStream`, `clearedAudio`), in order.
        outbox: Vec<String>,
    }

    impl FakeProvider {
        fn receive(&mut self, at: u64, message: &str) {
            let value: Value = serde_json::from_str(message).unwrap();
            match value["event"].as_str().unwrap() {
                "playAudio" => {
                    let payload = value["media"]["payload"].as_str().unwrap();
                    let bytes = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
                    let mut pcm = Vec::new();
                    AudioFormat::new(Encoding::L16, 16000).unwrap().decode(&bytes, &mut pcm);
                    assert!(pcm.iter().all(|&s| s == pcm[0]), "one frame of the reply per message");
                    let start = self.queued_until.max(at);
                    self.queued_until = start + 20;
                    self.queued.push_back((pcm[0], start, start + 20));
                }
                "checkpoint" => {
                    self.checkpoints.push_back((value["name"].as_str().unwrap().to_string(), self.queued_until))
                }
                "clearAudio" => {
                    self.play_until(at);
                    if let Some(&(frame, _, _)) = self.queued.front().filter(|(_, start, _)| *start < at) {
                        self.cut.push(frame);
                    }
                    self.queued.clear();
                    self.checkpoints.clear();
                    self.queued_until = at;
                    self.outbox.push(r#"{"event":"clearedAudio","streamId":"s1"}"#.to_string());
                }
                other => panic!("unexpected {other}"),
            }
        }

        /// Plays up to `now`: the `playedStream` confirmations that are due go in the outbox.
        fn play_until(&mut self, now: u64) {
            while let Some(&(frame, _, _)) = self.queued.front().filter(|(_, _, end)| *end <= now) {
                self.played.push(frame);
                self.queued.pop_front();
            }
            while self.checkpoints.front().is_some_and(|(_, end)| *end <= now) {
                let (name, _) = self.checkpoints.pop_front().unwrap();
                self.outbox.push(format!(r#"{{"event":"playedStream","name":"{name}"}}"#));
            }
        }
    }

    /// A reply of `frames` frames, the k-th (from 1) all samples 10·k, is sent to a [`FakeProvider`] at real
    /// pace; the caller's voice pauses it at `pause_at` ms and it resumes `paused` ms later. `delay(at)` is the
    /// network's delivery time (ms) for what the session sends at `at`, `back` for what the provider sends;
    /// `stall` skips the ticks in a span of ms (a stalled task). Returns what the provider played in full, in
    /// order, and what it cut.
    fn resume_after_a_pause(
        frames: i16,
        (pause_at, paused, back): (u64, u64, u64),
        delay: impl Fn(u64) -> u64,
        stall: std::ops::Range<u64>,
        confirms: bool,
    ) -> (Vec<i16>, Vec<i16>) {
        let l16 = AudioFormat::new(Encoding::L16, 16000).unwrap();
        let mut vobiz = start(Provider::Vobiz);
        vobiz.format = Some(l16);
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), vobiz, l16, echo());
        let reply: Vec<i16> = (1..=frames).flat_map(|k| [10 * k; ENGINE_FRAME]).collect();
        session.egress.queue_audio(&reply);
        let anchor = session.now;
        let mut provider = FakeProvider::default();
        // Messages on the way, in order: (arrival, text). The network keeps their order.
        let mut to_provider: VecDeque<(u64, String)> = VecDeque::new();
        let mut to_session: VecDeque<(u64, String)> = VecDeque::new();
        let mut last_arrival = 0;
        let mut is_paused = false;
        for ms in 0..(u64::from(frames as u16) * 20 + 3000) {
            while to_session.front().is_some_and(|(at, _)| *at <= ms) {
                let (_, text) = to_session.pop_front().unwrap();
                session.on_text(&text).unwrap();
            }
            if ms == pause_at {
                session.egress.pause_audio();
                session.after_engine();
                is_paused = true;
            }
            if is_paused && ms == pause_at + paused {
                session.egress.resume_audio();
                session.after_engine();
                is_paused = false;
            }
            if ms % 20 == 0 && !stall.contains(&ms) {
                session.tick(anchor + std::time::Duration::from_millis(ms));
            }
            for message in session.take_outgoing() {
                let text = message.text().unwrap().to_string();
                last_arrival = last_arrival.max(ms + delay(ms));
                to_provider.push_back((last_arrival, text));
            }
            while to_provider.front().is_some_and(|(at, _)| *at <= ms) {
                let (at, text) = to_provider.pop_front().unwrap();
                provider.receive(at, &text);
            }
            provider.play_until(ms);
            for message in provider.outbox.drain(..) {
                if confirms {
                    to_session.push_back((ms + back, message));
                }
            }
        }
        // (The echo service behind the session plays back the silence it hears: frames of 0 after the reply.)
        let reply = |frames: Vec<i16>| frames.into_iter().filter(|&f| f != 0).collect::<Vec<_>>();
        (reply(provider.played), reply(provider.cut))
    }

    fn reply_frames(frames: i16) -> Vec<i16> {
        (1..=frames).map(|k| 10 * k).collect()
    }

    #[test]
    fn a_resume_neither_repeats_nor_skips_a_frame_when_delivery_is_late() {
        // Delivery takes 5 ms, but what is sent from 300 to 400 ms is 70 ms late (more than the provider's
        // 60 ms lead): the provider runs dry and plays on 70 ms behind the tick model, which then holds as
        // played frames the provider has not reached. Paused mid-frame at 1010 ms.
        let late = |at: u64| if (300..400).contains(&at) { 70 } else { 5 };
        let (played, cut) = resume_after_a_pause(100, (1010, 800, 5), late, 0..0, true);
        assert_eq!(played, reply_frames(100), "every frame played in full once, in order (cut: {cut:?})");
        assert_eq!(cut.len(), 1, "the frame under way at the clear was cut, and sent again");
    }

    #[test]
    fn a_resume_neither_repeats_nor_skips_a_frame_after_a_stalled_task() {
        // The session's task misses five ticks (100 ms): the provider plays out its lead and runs dry, then
        // plays ahead of the tick model.
        let (played, cut) = resume_after_a_pause(100, (1013, 800, 5), |_| 5, 500..600, true);
        assert_eq!(played, reply_frames(100), "every frame played in full once, in order (cut: {cut:?})");
    }

    #[test]
    fn a_resume_at_once_waits_for_the_clear_to_be_acknowledged() {
        // The pause is over 2 ms after it began, and what the provider sends takes 30 ms: the confirmations of
        // frames it played before the clear are still on their way at the resume, so nothing is sent again
        // until its `clearedAudio` (which follows them) has come.
        let (played, cut) = resume_after_a_pause(100, (1030, 2, 30), |_| 5, 0..0, true);
        assert_eq!(played, reply_frames(100), "every frame played in full once, in order (cut: {cut:?})");
    }

    #[test]
    fn without_confirmations_the_tick_model_resumes_from_what_the_provider_held() {
        // A provider that confirms nothing, on time: the tick model is right to within the frame under way.
        let (played, cut) = resume_after_a_pause(60, (610, 800, 5), |_| 0, 0..0, false);
        assert_eq!(played, reply_frames(60), "every frame played in full once, in order (cut: {cut:?})");
    }

    #[test]
    fn late_audio_is_stood_in_for_by_silence_and_still_heard() {
        let format = AudioFormat::MULAW_8K;
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), start(Provider::Vobiz), format, echo());
        for _ in 0..10 {
            step(&mut session);
        }
        // Nothing arrived for 200 ms: the engine heard silence for all but the last 60 ms.
        assert_eq!(session.caller.frames_heard, 10 - LATE_FRAMES);
        for frame in 0..5 {
            session.on_text(&media_frame(format, &tone(frame))).unwrap();
        }
        assert_eq!(session.caller.frames_heard, 15 - LATE_FRAMES, "late audio is heard on arrival");
        step(&mut session);
        assert_eq!(session.caller.frames_heard, 15 - LATE_FRAMES, "no silence while the engine is ahead");
    }

    #[test]
    fn played_checkpoint_resets_the_provider_buffer_model() {
        let format = AudioFormat::MULAW_8K;
        let mut session = StreamSession::new(Peer::Provider(Provider::Plivo), start(Provider::Plivo), format, echo());
        // The echo leaves as the frame arrives, before any tick has played it.
        session.on_text(&media_frame(format, &tone(0))).unwrap();
        let sent: Vec<String> = session.take_outgoing().filter_map(|m| m.text().map(String::from)).collect();
        assert_eq!(events(&sent), ["playAudio", "checkpoint"]);
        assert_eq!(session.egress.queued_audio(), ENGINE_FRAME);
        // The frame's checkpoint is the burst's last: everything sent has played.
        session.on_text(r#"{"event":"playedStream","name":"f0"}"#).unwrap();
        assert_eq!(session.egress.queued_audio(), 0);
        assert!(session.egress.unconfirmed.is_empty());
    }

    #[test]
    fn bursts_are_processed_not_dropped_and_bad_frames_are_counted() {
        let format = AudioFormat::MULAW_8K;
        let mut session = StreamSession::new(Peer::Provider(Provider::Twilio), start(Provider::Twilio), format, echo());
        for tick in 0..10 {
            session.on_text(&media_frame(format, &tone(tick))).unwrap();
        }
        // 10 frames arrived at once: each was heard as it came, nothing waits for ticks.
        assert!(session.caller.waiting() < ENGINE_FRAME);
        assert_eq!(session.caller.frames_heard, 10);
        step(&mut session);
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
        let mut session = StreamSession::new(Peer::Provider(Provider::Vobiz), s, AudioFormat::MULAW_8K, echo());
        assert_eq!(session.format(), format);
        let pcm: Vec<i16> = (0..320).map(|i| i as i16 * 10).collect();
        session.on_text(&media_frame(format, &pcm)).unwrap();
        assert_eq!(session.recorded_audio().0, &pcm[..]);
        assert_eq!(session.caller.last_frame()[..], pcm[..]);
    }

    #[test]
    fn browser_sends_and_receives_raw_l16_and_sees_the_transcript() {
        let l16 = AudioFormat::new(Encoding::L16, 16000).unwrap();
        let start =
            StreamStart { call_id: "b1".into(), stream_id: "b1".into(), format: Some(l16), ..Default::default() };
        // The call's clock read 2026-11-25 04:37:02.250 UTC as the call began; the session ticks from there.
        const BEGAN_MS: u64 = 1_795_588_622_250;
        let core = bench_agent_at(&Arc::new(Metrics::default()), clock_at(BEGAN_MS));
        let anchor = core.clock().anchor();
        let mut session = StreamSession::new(Peer::Browser, start, l16, core);
        session.begin();
        let mut binary = 0;
        // Each text the session sent, with the wall time of the virtual clock when it was sent.
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
            for input in 0..2 {
                if input == 0 {
                    session.on_binary(&bytes);
                } else {
                    step(&mut session);
                }
                let sent_at_ms = BEGAN_MS + session.now.duration_since(anchor).as_millis() as u64;
                for message in session.take_outgoing() {
                    match message {
                        Outgoing::Binary(frame) => {
                            assert_eq!(frame.len(), 640, "20 ms of L16 at 16 kHz");
                            binary += 1;
                        }
                        Outgoing::Text(text) => texts.push((serde_json::from_str::<Value>(&text).unwrap(), sent_at_ms)),
                    }
                }
            }
        }
        let texts: Vec<Value> = texts
            .into_iter()
            .map(|(text, sent_at_ms)| {
                if text["event"] == "transcript" {
                    assert_eq!(text["timestamp_ms"], sent_at_ms, "dated on the call's clock: {text}");
                }
                text
            })
            .collect();
        assert!(binary > 10, "the greeting and the reply arrive as binary frames ({binary})");
        let user = texts.iter().find(|t| t["event"] == "transcript" && t["role"] == "user").expect("user transcript");
        assert_eq!(user["turn"], 1);
        assert!(user["timestamp_ms"].as_u64().unwrap() > BEGAN_MS);
        assert!(texts.iter().any(|t| t["event"] == "transcript" && t["role"] == "assistant"), "{texts:?}");
        assert!(texts.iter().any(|t| t["event"] == "mark"), "marks follow bursts");
        session.on_text(r#"{"event":"dtmf","dtmf":{"digit":"7"}}"#).unwrap();
        assert_eq!(session.on_text(r#"{"event":"stop"}"#), Ok(SessionEvent::Stopped));
    }
}
