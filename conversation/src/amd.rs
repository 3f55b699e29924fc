//! Answering-machine detection on a call we placed, as a gate in front of the agent (sans-IO, time passed in).
//!
//! With AMD on, an answered call's first seconds go to the detector ([`voicera_media::amd::AmdDetector`])
//! instead of the agent, and the agent's start (its greeting) waits for the verdict: a person gets the agent as
//! usual; a machine gets what the campaign asked for ([`MachineAction`]) — a hang-up, the agent anyway, or a
//! message left once the machine records (its beep, or the silence after its greeting). The gate decides; the
//! [`CallCore`](crate::core::CallCore) carries its steps out. Allocation-free per frame.
//!
//! A call with early media (a 183 with SDP) is heard from its first early frame ([`AmdGate::listen_early`],
//! [`AmdGate::hear_early`], [`AmdGate::answered`]): a greeting begun before the answer is judged from its real
//! start, ringback is no speech, and voice heard before any answer is reported ([`AmdEvent::EarlyVoice`]) so
//! that a call which then fails or rings out is known to have played an announcement.

use std::time::Duration;

use voicera_media::amd::{AmdDetector, AmdParams, AmdVerdict};

/// With no verdict this long after the answer (a steady tone that never stops, say), the callee is treated
/// as a person: connecting a machine costs less than hanging up on a customer.
pub const MAX_DETECTION: Duration = Duration::from_secs(6);
/// After a machine verdict, the message is left at the latest this long after the verdict, cue or none (a
/// greeting that never ends must not keep the line forever).
pub const MAX_CUE_WAIT: Duration = Duration::from_secs(30);
/// Speech in early media that makes it voice (an announcement, a greeting, a caller tune) rather than a click
/// or a stray word: the shortest carrier announcement ("The number you have dialled is switched off") takes
/// two seconds; one second of it is enough to know.
pub const EARLY_VOICE: Duration = Duration::from_secs(1);

/// What to do when a machine answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineAction {
    /// Hang up at once (nothing is said to the machine).
    HangUp,
    /// Wait for the beep (or the end of the greeting), speak the voicemail message, hang up.
    LeaveMessage,
    /// Start the agent as for a person.
    Connect,
}

impl MachineAction {
    /// The action's name in settings and records: `hangup`, `leave_message`, `connect`.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineAction::HangUp => "hangup",
            MachineAction::LeaveMessage => "leave_message",
            MachineAction::Connect => "connect",
        }
    }
}

/// What the call does next, as the gate decides on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateStep {
    /// Still listening: the agent stays silent.
    Hold,
    /// Start the agent (a person, `connect`, or no verdict in [`MAX_DETECTION`]).
    StartAgent,
    /// A machine, and the campaign hangs up on machines.
    HangUp,
    /// A machine that records now: speak the voicemail message, then hang up.
    LeaveMessage,
}

/// What the detector decided and when, as reported to the dialer and kept in the call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdDecision {
    /// `Human`, `Machine` or `MachineBeep`; `Undecided` when [`MAX_DETECTION`] passed without a verdict.
    pub verdict: AmdVerdict,
    /// Milliseconds from the answer to the verdict.
    pub decided_after_ms: u64,
}

impl GateStep {
    /// What the call did on `verdict`, as records name it: `agent` (a person: the agent started), `connect` (a
    /// machine given the agent anyway), `hangup`, `leave_message`.
    pub fn action(self, verdict: AmdVerdict) -> &'static str {
        match self {
            GateStep::StartAgent if verdict.is_machine() => "connect",
            GateStep::StartAgent | GateStep::Hold => "agent",
            GateStep::HangUp => "hangup",
            GateStep::LeaveMessage => "leave_message",
        }
    }
}

/// What a held call reports to its transport (and on to the dialer that placed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmdEvent {
    /// The verdict, and what the call does with it.
    Decided {
        /// The verdict and when it came.
        decision: AmdDecision,
        /// What the call does: start the agent, hang up, or leave the message.
        step: GateStep,
    },
    /// The voicemail message was spoken to the end; the call hangs up next.
    MessageLeft,
    /// Voice was heard in early media, before any answer ([`EARLY_VOICE`] of speech, never ringback): a call
    /// that then fails or rings out played an announcement. Sent once, before the answer.
    EarlyVoice,
    /// A special information tone (a tone sequence) was heard, before or after the answer: the network's
    /// announcement that the call cannot go through. Sent once.
    SpecialInformationTone,
}

/// Where the gate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    /// Listening for the verdict.
    Detecting,
    /// A machine: waiting for it to record (beep or silence) before the message.
    WaitingForCue {
        /// When the verdict came (time since answer).
        decided_at: Duration,
    },
    /// Done: the step was taken.
    Released,
}

/// One call's gate: feed it every frame heard from the answer on while [`AmdGate::holding`].
#[derive(Debug, Clone)]
pub struct AmdGate {
    detector: AmdDetector,
    on_machine: MachineAction,
    state: GateState,
    decision: Option<AmdDecision>,
    /// Time since answer at which the message cue came (beep or end of greeting).
    cued_at: Option<Duration>,
    /// Where the answer is on the gate's timeline (zero unless early media came first).
    answered_at: Duration,
    /// [`AmdEvent::EarlyVoice`] was reported.
    early_voice: bool,
}

impl AmdGate {
    /// A gate for audio at `sample_rate_hz` (the engine's 16 kHz on calls).
    pub fn new(sample_rate_hz: u32, on_machine: MachineAction, params: AmdParams) -> Self {
        Self {
            detector: AmdDetector::new(sample_rate_hz, params),
            on_machine,
            state: GateState::Detecting,
            decision: None,
            cued_at: None,
            answered_at: Duration::ZERO,
            early_voice: false,
        }
    }

    /// The call has early media: the gate hears it from its first frame ([`AmdGate::hear_early`]) on a
    /// timeline that starts there, until [`AmdGate::answered`]. Call before any frame.
    pub fn listen_early(&mut self) {
        self.detector.expect_early_media();
    }

    /// One frame of early media `at` its end on the gate's timeline; `packet` says whether packets were behind
    /// it (false: padding before any RTP, concealment). Returns true once, when the speech heard before the
    /// answer reaches [`EARLY_VOICE`].
    pub fn hear_early(&mut self, frame: &[i16], at: Duration, packet: bool) -> bool {
        if self.detector.answered() {
            return false;
        }
        self.detector.process_frame(frame, at, packet);
        if self.early_voice || self.detector.early_speech() < EARLY_VOICE {
            return false;
        }
        self.early_voice = true;
        true
    }

    /// The call was answered `at` on the gate's timeline (after [`AmdGate::listen_early`]); from here on
    /// [`AmdGate::hear`] takes frames on the same timeline, and the deadlines count from the answer.
    pub fn answered(&mut self, at: Duration) {
        if !self.detector.answered() {
            self.answered_at = at;
            self.detector.answer(at);
        }
    }

    /// The media source changed after the answer (a new SSRC): early speech is not the answering party's.
    pub fn source_changed(&mut self) {
        self.detector.source_changed();
    }

    /// Whether a special information tone was heard (early media, or after the answer while detecting).
    pub fn heard_sit(&self) -> bool {
        self.detector.heard_tone_sequence()
    }

    /// Speech heard in early media before the answer.
    pub fn early_speech(&self) -> Duration {
        self.detector.early_speech()
    }

    /// What the campaign does with machines.
    pub fn on_machine(&self) -> MachineAction {
        self.on_machine
    }

    /// Whether the agent is still held (frames go to the gate, not the agent).
    pub fn holding(&self) -> bool {
        self.state != GateState::Released
    }

    /// The verdict, once there is one.
    pub fn decision(&self) -> Option<AmdDecision> {
        self.decision
    }

    /// When the machine started recording (the message's moment), time since answer, for a left message.
    pub fn cued_at(&self) -> Option<Duration> {
        self.cued_at
    }

    /// One frame of answered audio `at` its end on the gate's timeline (the time since the answer, unless
    /// early media came first: then since its first frame). Returns what the call does now; after a step other
    /// than [`GateStep::Hold`] the gate is released ([`AmdGate::holding`] is false) and answers `Hold` to
    /// anything more.
    pub fn hear(&mut self, frame: &[i16], at: Duration) -> GateStep {
        self.hear_frame(frame, at, true)
    }

    /// [`AmdGate::hear`] for a frame that may have no packet behind it (`packet` false: concealment, padding).
    pub fn hear_frame(&mut self, frame: &[i16], at: Duration, packet: bool) -> GateStep {
        let since_answer = at.saturating_sub(self.answered_at);
        match self.state {
            GateState::Released => GateStep::Hold,
            GateState::Detecting => {
                let verdict = self.detector.process_frame(frame, at, packet);
                match verdict {
                    AmdVerdict::Undecided => {
                        if since_answer < MAX_DETECTION {
                            return GateStep::Hold;
                        }
                        self.decide(AmdVerdict::Undecided, since_answer);
                        self.release(GateStep::StartAgent)
                    }
                    AmdVerdict::Human => {
                        self.decide(verdict, self.detector.decided_at().unwrap_or(since_answer));
                        self.release(GateStep::StartAgent)
                    }
                    AmdVerdict::Machine | AmdVerdict::MachineBeep => {
                        self.decide(verdict, self.detector.decided_at().unwrap_or(since_answer));
                        match self.on_machine {
                            MachineAction::Connect => self.release(GateStep::StartAgent),
                            MachineAction::HangUp => self.release(GateStep::HangUp),
                            MachineAction::LeaveMessage => {
                                self.state = GateState::WaitingForCue { decided_at: since_answer };
                                self.cue(since_answer)
                            }
                        }
                    }
                }
            }
            GateState::WaitingForCue { .. } => {
                self.detector.process_frame(frame, at, packet);
                self.cue(since_answer)
            }
        }
    }

    /// Leaves the message when the machine records, or when waiting for it has lasted [`MAX_CUE_WAIT`].
    fn cue(&mut self, since_answer: Duration) -> GateStep {
        let GateState::WaitingForCue { decided_at } = self.state else { return GateStep::Hold };
        if self.detector.leave_message_now() || since_answer.saturating_sub(decided_at) >= MAX_CUE_WAIT {
            self.cued_at = Some(since_answer);
            return self.release(GateStep::LeaveMessage);
        }
        GateStep::Hold
    }

    fn decide(&mut self, verdict: AmdVerdict, at: Duration) {
        self.decision = Some(AmdDecision { verdict, decided_after_ms: at.as_millis() as u64 });
    }

    fn release(&mut self, step: GateStep) -> GateStep {
        self.state = GateState::Released;
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16000;
    const FRAME: usize = 320;

    /// Speech-like bursts: a buzz with harmonics, amplitude-modulated like syllables.
    fn babble(ms: u32) -> Vec<i16> {
        let n = (RATE * ms / 1000) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                let mut v = 0.0;
                for h in 1..12 {
                    v += (t * 140.0 * h as f32 * std::f32::consts::TAU).sin() / h as f32;
                }
                let syllable = 0.55 + 0.45 * (t * 4.0 * std::f32::consts::TAU).sin();
                (v * syllable * 0.15 * 32767.0) as i16
            })
            .collect()
    }

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; (RATE * ms / 1000) as usize]
    }

    fn tone(freq: f32, ms: u32) -> Vec<i16> {
        let n = (RATE * ms / 1000) as usize;
        (0..n).map(|i| ((i as f32 * freq * std::f32::consts::TAU / RATE as f32).sin() * 0.3 * 32767.0) as i16).collect()
    }

    /// Runs `signal` through a gate on a virtual clock (20 ms frames); the first step that is not Hold and the
    /// time it came at.
    fn run(gate: &mut AmdGate, signal: &[i16]) -> Option<(Duration, GateStep)> {
        for (i, frame) in signal.chunks_exact(FRAME).enumerate() {
            let at = Duration::from_millis((i as u64 + 1) * 20);
            let step = gate.hear(frame, at);
            if step != GateStep::Hold {
                return Some((at, step));
            }
        }
        None
    }

    fn machine_with_beep() -> Vec<i16> {
        let mut signal = silence(300);
        signal.extend(babble(4000));
        signal.extend(silence(300));
        signal.extend(tone(1000.0, 500));
        signal.extend(silence(2000));
        signal
    }

    fn person() -> Vec<i16> {
        let mut signal = silence(400);
        signal.extend(babble(600));
        signal.extend(silence(3000));
        signal
    }

    #[test]
    fn a_person_starts_the_agent_within_three_seconds_whatever_the_machine_action() {
        for action in [MachineAction::HangUp, MachineAction::LeaveMessage, MachineAction::Connect] {
            let mut gate = AmdGate::new(RATE, action, AmdParams::default());
            let (at, step) = run(&mut gate, &person()).expect("a step");
            assert_eq!(step, GateStep::StartAgent, "{action:?}");
            assert!(at < Duration::from_secs(3), "{at:?}");
            assert!(!gate.holding());
            let decision = gate.decision().unwrap();
            assert_eq!(decision.verdict, AmdVerdict::Human);
            assert_eq!(decision.decided_after_ms, at.as_millis() as u64);
        }
    }

    #[test]
    fn a_machine_is_hung_up_on_or_connected_as_the_campaign_says() {
        let mut gate = AmdGate::new(RATE, MachineAction::HangUp, AmdParams::default());
        let (at, step) = run(&mut gate, &machine_with_beep()).expect("a step");
        assert_eq!(step, GateStep::HangUp);
        assert!(at <= Duration::from_millis(2300), "decided on the greeting's length: {at:?}");
        assert_eq!(gate.decision().unwrap().verdict, AmdVerdict::Machine);
        let mut gate = AmdGate::new(RATE, MachineAction::Connect, AmdParams::default());
        assert_eq!(run(&mut gate, &machine_with_beep()).map(|s| s.1), Some(GateStep::StartAgent));
        assert_eq!(gate.decision().unwrap().verdict, AmdVerdict::Machine);
    }

    #[test]
    fn the_message_waits_for_the_beep() {
        let mut gate = AmdGate::new(RATE, MachineAction::LeaveMessage, AmdParams::default());
        let (at, step) = run(&mut gate, &machine_with_beep()).expect("a step");
        assert_eq!(step, GateStep::LeaveMessage);
        // The beep runs 4.6–5.1 s; it is over once it has been gone 100 ms (a few lost frames are no end).
        assert_eq!(at, Duration::from_millis(5200));
        assert_eq!(gate.cued_at(), Some(at));
        let decision = gate.decision().unwrap();
        assert_eq!(decision.verdict, AmdVerdict::Machine, "the verdict is the first one, before the beep");
        assert!(decision.decided_after_ms <= 2300, "{decision:?}");
    }

    #[test]
    fn without_a_beep_the_message_follows_the_greetings_end() {
        let mut signal = babble(3000);
        signal.extend(silence(3000));
        let mut gate = AmdGate::new(RATE, MachineAction::LeaveMessage, AmdParams::default());
        let (at, step) = run(&mut gate, &signal).expect("a step");
        assert_eq!(step, GateStep::LeaveMessage);
        // 1.5 s of silence after the greeting's end at 3 s.
        assert!((Duration::from_millis(4400)..=Duration::from_millis(4600)).contains(&at), "{at:?}");
    }

    #[test]
    fn a_greeting_that_never_ends_gets_the_message_after_the_longest_wait() {
        let mut gate = AmdGate::new(RATE, MachineAction::LeaveMessage, AmdParams::default());
        let (at, step) = run(&mut gate, &babble(40_000)).expect("a step");
        assert_eq!(step, GateStep::LeaveMessage);
        let decided = Duration::from_millis(gate.decision().unwrap().decided_after_ms);
        assert_eq!(at, decided + MAX_CUE_WAIT);
    }

    #[test]
    fn no_verdict_by_the_longest_detection_connects() {
        // A steady tone that never stops is neither a beep nor speech.
        let mut gate = AmdGate::new(RATE, MachineAction::HangUp, AmdParams::default());
        let (at, step) = run(&mut gate, &tone(700.0, 10_000)).expect("a step");
        assert_eq!((at, step), (MAX_DETECTION, GateStep::StartAgent));
        assert_eq!(gate.decision(), Some(AmdDecision { verdict: AmdVerdict::Undecided, decided_after_ms: 6000 }));
    }

    #[test]
    fn early_voice_is_reported_once_and_a_greeting_across_the_answer_is_timed_from_the_answer() {
        let mut gate = AmdGate::new(RATE, MachineAction::LeaveMessage, AmdParams::default());
        gate.listen_early();
        // 600 ms of line, then a greeting: 1.6 s of it before the answer.
        let mut early = silence(600);
        let greeting = babble(4000);
        early.extend(&greeting[..RATE as usize * 1600 / 1000]);
        let mut at = Duration::ZERO;
        let mut reported = Vec::new();
        for frame in early.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            if gate.hear_early(frame, at, true) {
                reported.push(at);
            }
        }
        assert_eq!(reported.len(), 1, "reported once: {reported:?}");
        assert!(
            reported[0] >= Duration::from_millis(1600) && reported[0] <= Duration::from_millis(1900),
            "{reported:?}"
        );
        assert!(gate.holding(), "nothing decided before the answer");
        let answered_at = at;
        gate.answered(answered_at);
        let mut rest = greeting[RATE as usize * 1600 / 1000..].to_vec();
        rest.extend(silence(300));
        rest.extend(tone(1000.0, 500));
        rest.extend(silence(2000));
        let mut first = None;
        let mut step = GateStep::Hold;
        for frame in rest.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            assert!(!gate.hear_early(frame, at, true), "no early voice after the answer");
            step = gate.hear(frame, at);
            if gate.decision().is_some() && first.is_none() {
                first = gate.decision();
            }
            if step != GateStep::Hold {
                break;
            }
        }
        assert_eq!(step, GateStep::LeaveMessage);
        let decision = first.expect("a verdict");
        assert_eq!(decision.verdict, AmdVerdict::Machine);
        // 1.9 s of greeting is reached 0.3 s after the answer: its first 1.6 s came in early media.
        assert!(decision.decided_after_ms <= 500, "{decision:?}");
        // The beep ends 2.4 + 0.3 + 0.5 s after the answer; cued 100 ms later.
        assert_eq!(gate.cued_at(), Some(Duration::from_millis(3300)));
    }
}
