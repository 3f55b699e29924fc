//! Answering-machine detection, sans-IO: the first seconds of an answered outbound call's audio in (20 ms PCM
//! frames at 8 or 16 kHz, with the time since answer passed in), a verdict out — [`AmdVerdict::Human`],
//! [`AmdVerdict::Machine`], [`AmdVerdict::MachineBeep`] or [`AmdVerdict::Undecided`].
//!
//! Why these rules: a person answering says something short ("Hello?", "Hi, this is Asha") and then waits for
//! the caller; a voicemail greeting talks on ("Hi, you've reached …, leave a message after the tone") and ends
//! with a beep. So the detector segments the audio into speech with an energy gate: a frame is speech when its level
//! ([`rms`]) is `SPEECH_SNR_DB` above a noise floor seeded from the first frame (the VAD's
//! [`crate::vad::EnergyModel`] starts from a quiet line and learns a noisy one over seconds, too slowly for a
//! decision due in 3 s) and its [`volume`] reaches the VAD's speech range. It decides:
//!
//! - **Machine** when the greeting (speech from its onset, gaps shorter than `after_greeting_silence` included)
//!   runs longer than `max_human_greeting`, or when it holds more than `max_words` words (machine cadence:
//!   many short words in one breath);
//! - **Human** when a greeting no longer than `max_human_greeting` is followed by `after_greeting_silence`
//!   of silence, or when `decision_deadline` passes with nobody speaking (initial silence: the callee waits
//!   for us to speak — connect rather than hang up on a person). A greeting begun before the deadline is heard
//!   out: it is decided by its onset + `max_human_greeting` (machine) or its end + `after_greeting_silence`;
//! - **MachineBeep** when a steady single tone (Goertzel on 400–2000 Hz, one bin holding most of the frame's
//!   energy) lasts `min_beep`–`max_beep` and stops: the machine is recording, leave the message now.
//!
//! A Human verdict is final. A Machine verdict is final as a classification, but the detector keeps listening
//! so the call knows when to speak: [`AmdDetector::leave_message_now`] turns true when the beep is heard
//! (verdict `MachineBeep`) or when the greeting ends without one (`message_silence` of silence).
//!
//! **Early media** (RFC 3960: a 183 with SDP before the answer) is heard too when the detector is told to expect
//! it ([`AmdDetector::expect_early_media`]), on one timeline from the first early frame, with
//! [`AmdDetector::answer`] marking the answer on it. Before the answer nothing is decided (a person cannot speak
//! before picking up) and no tone is a beep or speech: ringback and special information tones are call progress
//! (a single tone by the Goertzel bank, or a frame whose energy sits in the 300–650 Hz band of the world's
//! ringback tones: 425 Hz, 400+450, 440+480, 400×25). Speech heard before the answer is counted
//! ([`AmdDetector::early_speech`]: an announcement, a voicemail greeting, a caller tune) and, when it is still
//! going at the answer and resumes within `WORD_GAP` of it from the same source, the greeting is measured from
//! its real start: a machine that began its greeting in early media is judged on the whole greeting. Otherwise
//! (a caller tune cut by the pickup, a "please hold" announcement, early media from another SSRC) it is
//! forgotten there with the noise floor learnt before the answer, and the deadline counts from the answer as
//! before. A single-frequency call-progress tone sounding at the answer is followed across it: its
//! continuation is never a beep, nor is a tone sequence (a special information tone). Frames without a packet
//! behind them ([`AmdDetector::process_frame`]) teach nothing before the answer and hold a tone run after it.
//!
//! The per-frame path does no allocation: the Goertzel coefficients are computed once, in the constructor.

use std::time::Duration;

use crate::dsp::rms;
use crate::vad::volume;

/// Lowest candidate tone frequency (Hz): below the lowest ringback component (350 Hz), so a ringback's
/// energy stays in the bank.
const TONE_LOW_HZ: f32 = 300.0;
/// Lowest beep frequency (Hz). Voicemail beeps sit between 400 Hz and 2 kHz, most at 1000–1400.
const BEEP_LOW_HZ: f32 = 400.0;
/// Highest candidate beep frequency (Hz).
const BEEP_HIGH_HZ: f32 = 2000.0;
/// Spacing of the candidate frequencies (Hz): half the 50 Hz resolution of a 20 ms frame, so a tone between
/// two candidates still keeps ~80 % of its power in the nearer one.
const BEEP_STEP_HZ: f32 = 25.0;
/// Number of candidate frequencies.
const BEEP_BINS: usize = ((BEEP_HIGH_HZ - TONE_LOW_HZ) / BEEP_STEP_HZ) as usize + 1;
/// First candidate that may be a beep.
const FIRST_BEEP_BIN: usize = ((BEEP_LOW_HZ - TONE_LOW_HZ) / BEEP_STEP_HZ) as usize;
/// Last candidate of the ringback band (650 Hz): 425 Hz (most of Europe and Asia), 400+450 (UK), 440+480
/// (North America), 400 Hz modulated by 25 Hz (India) all sit inside 350–500 Hz, with leakage to ±75 Hz.
const RINGBACK_LAST_BIN: usize = ((650.0 - TONE_LOW_HZ) / BEEP_STEP_HZ) as usize;
/// Share of a frame's energy in the ringback band that makes it call progress in early media. Speech spreads
/// over harmonics and formants up to 3.4 kHz and keeps well below; a ringback holds nearly all of it.
const RINGBACK_SHARE: f32 = 0.75;
/// Share of a frame's energy one candidate must hold for the frame to count as tone: speech and chords
/// spread their energy over several harmonics and stay well below.
const TONE_PURITY: f32 = 0.6;
/// How far (in candidates) the tone's frequency may wander between frames and still be the same tone.
const TONE_DRIFT_BINS: usize = 1;
/// How far above the noise floor a frame's level must be to count as speech.
const SPEECH_SNR_DB: f32 = 9.0;
/// How fast the noise floor falls to a quieter frame (per frame): at once, nearly.
const FLOOR_FALL: f32 = 0.3;
/// How fast it rises to a louder one (per frame): a time constant of four seconds, so a steady sound that is
/// not silence (hold music, a chord intro) keeps counting as the greeting. The line's noise is learnt from the
/// first frame instead: a call's audio starts with the line, before anyone speaks.
const FLOOR_RISE: f32 = 0.005;
/// Volume (see [`volume`]) a frame needs to count as speech or tone: −39 dBFS, below any phone greeting.
const MIN_VOLUME: f32 = 0.35;
/// Silence that separates two words.
const WORD_GAP: Duration = Duration::from_millis(100);
/// Speech a word needs to count (shorter bursts are clicks).
const MIN_WORD: Duration = Duration::from_millis(60);

/// The detector's tunables. Defaults decide a human within 3 s of answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmdParams {
    /// With nobody speaking by then, the callee is a person waiting for us: Human.
    pub decision_deadline: Duration,
    /// A greeting longer than this is a machine's.
    pub max_human_greeting: Duration,
    /// Silence that ends a greeting.
    pub after_greeting_silence: Duration,
    /// More words than this in one greeting is a machine's cadence.
    pub max_words: u32,
    /// After a Machine verdict, silence this long without a beep means the greeting is over: speak now.
    pub message_silence: Duration,
    /// Shortest tone that is a beep.
    pub min_beep: Duration,
    /// Longest tone that is a beep (longer steady tones are not a voicemail beep).
    pub max_beep: Duration,
}

impl Default for AmdParams {
    fn default() -> Self {
        Self {
            decision_deadline: Duration::from_secs(3),
            max_human_greeting: Duration::from_millis(1900),
            after_greeting_silence: Duration::from_millis(650),
            max_words: 6,
            message_silence: Duration::from_millis(1500),
            min_beep: Duration::from_millis(100),
            max_beep: Duration::from_millis(1500),
        }
    }
}

/// What the detector has decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmdVerdict {
    /// Not yet: keep feeding frames.
    Undecided,
    /// A person answered.
    Human,
    /// An answering machine answered; its beep has not been heard (yet).
    Machine,
    /// An answering machine answered and its beep was heard: leave the message now.
    MachineBeep,
}

impl AmdVerdict {
    /// Whether this is a machine verdict (with or without the beep).
    pub fn is_machine(self) -> bool {
        matches!(self, AmdVerdict::Machine | AmdVerdict::MachineBeep)
    }

    /// The verdict's name in records and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Undecided => "undecided",
            AmdVerdict::Human => "human",
            AmdVerdict::Machine => "machine",
            AmdVerdict::MachineBeep => "machine-beep",
        }
    }
}

/// Why the detector decided what it did (for logs, the bench report and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmdReason {
    /// No decision yet.
    None,
    /// A short greeting followed by silence.
    ShortGreeting,
    /// Nobody spoke before the decision deadline.
    InitialSilence,
    /// The greeting ran longer than a person's.
    LongGreeting,
    /// The greeting held more words than a person's.
    ManyWords,
    /// A beep was heard.
    Beep,
}

/// A steady tone being followed across frames.
#[derive(Debug, Clone, Copy)]
struct ToneRun {
    /// Candidate index of the tone's frequency in the latest frame.
    bin: usize,
    /// How long the tone has lasted.
    length: Duration,
    /// How long it has been missing since its last frame: a frame or two lost to the network (concealed as
    /// silence or noise) is no end of the beep, or a message would start over the rest of it.
    gap: Duration,
    /// Call progress, never a beep: the continuation of a tone that sounded before the answer (a ringback cut
    /// by it), or one step of a tone sequence (a special information tone: one frequency replaced by another
    /// with no gap between them).
    call_progress: bool,
}

/// How long a tone must be missing before it counts as stopped: a few frames lost in a row (a burst of
/// loss, a late packet the jitter buffer gave up on) are no end of the beep.
const TONE_GAP: Duration = Duration::from_millis(100);
/// How long frames without a packet (concealment, padding) leave a tone run as it was. Longer holes count as
/// the tone's gap: a machine that stops sending after its beep still gets its beep heard.
const MAX_HOLE: Duration = Duration::from_millis(200);
/// How long after the answer a tone at the early call-progress tone's frequency is still that tone.
const PROGRESS_AFTER_ANSWER: Duration = Duration::from_secs(1);
/// Lowest step of a special information tone (Hz): its three steps sit at 913.8/985.2, 1370.6/1428.5 and
/// 1776.7 Hz, well above any ringback (whose beating components can look like a tone changing pitch).
const SIT_LOW_HZ: f32 = 850.0;
const SIT_LOW_BIN: usize = ((SIT_LOW_HZ - TONE_LOW_HZ) / BEEP_STEP_HZ) as usize;
/// How long one step of a tone sequence must last (a SIT step lasts 274–380 ms).
const MIN_SEQUENCE_STEP: Duration = Duration::from_millis(200);
/// How recent the early call-progress tone must be at the answer to be carried across it.
const PROGRESS_AT_ANSWER: Duration = Duration::from_millis(200);

/// One call's answering-machine detector. Feed every frame from answer on to [`AmdDetector::process`].
#[derive(Debug, Clone)]
pub struct AmdDetector {
    params: AmdParams,
    sample_rate_hz: u32,
    /// Noise floor, linear RMS; None until the first frame.
    floor: Option<f32>,
    /// Goertzel coefficients `2·cos(2πf/fs)` of the candidate beep frequencies.
    coefficients: [f32; BEEP_BINS],
    verdict: AmdVerdict,
    reason: AmdReason,
    decided_at: Option<Duration>,
    /// When the current greeting's first speech started (None: no greeting yet, or it ended).
    greeting_start: Option<Duration>,
    /// When speech was last heard.
    last_speech: Option<Duration>,
    /// Consecutive speech in the current word, and whether it has counted as a word yet.
    word_run: Duration,
    word_counted: bool,
    /// Silence since the last speech frame.
    silence_run: Duration,
    /// Words in the current greeting.
    words: u32,
    tone: Option<ToneRun>,
    /// The beep was heard, or the machine's greeting ended without one.
    message_cue: bool,
    /// Where the answer is on the detector's timeline: zero for a detector that hears answered audio only,
    /// None while early media plays.
    answered_at: Option<Duration>,
    /// Speech heard before the answer.
    early_speech: Duration,
    /// The single-frequency call-progress tone (a ringback, a SIT step) last heard before the answer: its
    /// candidate, when, and how long it had lasted.
    early_tone: Option<(usize, Duration, Duration)>,
    /// After the answer: a tone at this candidate (± drift) before that time continues the early tone.
    progress_tone: Option<(usize, Duration)>,
    /// A greeting going on at the answer is kept only if the same source's speech resumes within
    /// [`WORD_GAP`] of it: a caller tune cut by the pickup, or early media from another source (an
    /// announcement server, a forked leg), is no greeting of the party that answered.
    carry_pending: bool,
    /// Frames in a row without a packet behind them.
    missing_run: Duration,
    /// A tone sequence (a special information tone) was heard after the answer: an announcement answered.
    heard_tone_sequence: bool,
}

impl AmdDetector {
    /// A detector for audio at `sample_rate_hz` (8000 or 16000 on calls; any rate above 4 kHz works).
    pub fn new(sample_rate_hz: u32, params: AmdParams) -> Self {
        let rate = sample_rate_hz.max(4001) as f32;
        let mut coefficients = [0.0; BEEP_BINS];
        for (i, c) in coefficients.iter_mut().enumerate() {
            let freq = TONE_LOW_HZ + i as f32 * BEEP_STEP_HZ;
            *c = 2.0 * (std::f32::consts::TAU * freq / rate).cos();
        }
        Self {
            params,
            sample_rate_hz: sample_rate_hz.max(1),
            floor: None,
            coefficients,
            verdict: AmdVerdict::Undecided,
            reason: AmdReason::None,
            decided_at: None,
            greeting_start: None,
            last_speech: None,
            word_run: Duration::ZERO,
            word_counted: false,
            silence_run: Duration::ZERO,
            words: 0,
            tone: None,
            message_cue: false,
            answered_at: Some(Duration::ZERO),
            early_speech: Duration::ZERO,
            early_tone: None,
            progress_tone: None,
            carry_pending: false,
            missing_run: Duration::ZERO,
            heard_tone_sequence: false,
        }
    }

    /// The call has early media: frames come before the answer, on a timeline from the first of them, until
    /// [`AmdDetector::answer`]. Call before the first frame.
    pub fn expect_early_media(&mut self) {
        if self.floor.is_none() && self.tone.is_none() && self.greeting_start.is_none() {
            self.answered_at = None;
        }
    }

    /// The call was answered at `at` on the detector's timeline. A greeting still going then (speech within
    /// `after_greeting_silence`) is kept, measured from its start in early media, provided speech resumes
    /// within [`WORD_GAP`] of the answer from the same source (see [`AmdDetector::source_changed`]); otherwise
    /// it is forgotten, with the noise floor learnt before the answer. A call-progress tone sounding at the
    /// answer (a ringback) is followed across it for a second: its continuation is never a beep.
    pub fn answer(&mut self, at: Duration) {
        if self.answered_at.is_some() {
            return;
        }
        self.answered_at = Some(at);
        self.tone = None;
        self.missing_run = Duration::ZERO;
        self.progress_tone = self
            .early_tone
            .filter(|(_, heard, _)| at.saturating_sub(*heard) <= PROGRESS_AT_ANSWER)
            .map(|(bin, _, _)| (bin, at + PROGRESS_AFTER_ANSWER));
        let ongoing = self.last_speech.is_some_and(|last| at.saturating_sub(last) < self.params.after_greeting_silence);
        if ongoing {
            self.carry_pending = true;
        } else {
            self.drop_early_greeting();
        }
    }

    /// The media source changed after the answer (a new SSRC, the jitter buffer reset): a greeting heard in
    /// early media is not the answering party's, so it is forgotten unless already confirmed by speech that
    /// resumed at once from the old source.
    pub fn source_changed(&mut self) {
        if self.carry_pending {
            self.carry_pending = false;
            self.drop_early_greeting();
        }
    }

    /// Whether a tone sequence (a special information tone: one steady tone replaced by another with no gap)
    /// was heard, in early media or after the answer: the network is announcing why the call cannot go
    /// through, and an "answer" after it is the announcement's, not a person's or a machine's.
    pub fn heard_tone_sequence(&self) -> bool {
        self.heard_tone_sequence
    }

    fn drop_early_greeting(&mut self) {
        self.forget_greeting();
        self.silence_run = Duration::ZERO;
        // The floor learnt in early media (ringback gaps, a quiet tune) is not this line's.
        self.floor = None;
    }

    /// Whether the answer has come (always, for a detector that was not told to expect early media).
    pub fn answered(&self) -> bool {
        self.answered_at.is_some()
    }

    /// Speech heard before the answer: an announcement, a greeting, a caller tune — never a ringback tone.
    pub fn early_speech(&self) -> Duration {
        self.early_speech
    }

    fn forget_greeting(&mut self) {
        self.greeting_start = None;
        self.last_speech = None;
        self.words = 0;
        self.word_run = Duration::ZERO;
        self.word_counted = false;
    }

    /// The verdict so far.
    pub fn verdict(&self) -> AmdVerdict {
        self.verdict
    }

    /// Why the verdict was reached.
    pub fn reason(&self) -> AmdReason {
        self.reason
    }

    /// Time since the answer at which the first non-Undecided verdict was reached.
    pub fn decided_at(&self) -> Option<Duration> {
        self.decided_at
    }

    /// For a machine: the beep was heard or its greeting ended, so a message recorded now is heard in full.
    pub fn leave_message_now(&self) -> bool {
        self.message_cue
    }

    /// Feeds one frame of mono PCM decoded from packets; `at` is the frame's end on the detector's timeline:
    /// the time since the answer, or since the first early frame when early media was expected. Returns the
    /// verdict (always Undecided before the answer).
    pub fn process(&mut self, frame: &[i16], at: Duration) -> AmdVerdict {
        self.process_frame(frame, at, true)
    }

    /// Feeds one frame; `packet` says whether packets were behind it (false: concealment of a loss, or the
    /// silence a receiver pads with when nothing came). A frame without a packet is no evidence of the line:
    /// before the answer it is skipped, and after it a tone run stands still over it (for up to `MAX_HOLE`)
    /// rather than ending, and it teaches the noise floor nothing.
    pub fn process_frame(&mut self, frame: &[i16], at: Duration, packet: bool) -> AmdVerdict {
        if frame.is_empty() || self.verdict == AmdVerdict::Human || self.message_cue {
            return self.verdict;
        }
        let frame_len = Duration::from_micros(frame.len() as u64 * 1_000_000 / u64::from(self.sample_rate_hz));
        self.missing_run = if packet { Duration::ZERO } else { self.missing_run + frame_len };
        let level = rms(frame).max(1e-6);
        let loud = volume(frame) >= MIN_VOLUME;
        let Some(answered_at) = self.answered_at else {
            if packet {
                let call_progress = loud && self.call_progress(frame, at, frame_len);
                self.process_early(level, loud, call_progress, at, frame_len);
            }
            return self.verdict;
        };
        let since_answer = at.saturating_sub(answered_at);
        let hole = !packet && self.missing_run <= MAX_HOLE;
        let above_floor = if packet { self.follow_floor(level) } else { false };
        let tone_bin = if loud && packet { self.tone_bin(frame) } else { None };
        // Tones below the beep band (a late ringback burst, a dial tone) are not speech, and not a beep.
        let beep_bin = tone_bin.filter(|bin| *bin >= FIRST_BEEP_BIN);
        // The early call-progress tone going on after the answer.
        let progress_tone = self
            .progress_tone
            .filter(|(progress_bin, until)| {
                at <= *until && tone_bin.is_some_and(|b| b.abs_diff(*progress_bin) <= TONE_DRIFT_BINS)
            })
            .is_some();

        // The beep: a steady tone that lasted min_beep..=max_beep and has now stopped.
        match (beep_bin, self.tone) {
            // A hole in the audio (packets lost) neither lengthens the tone nor ends it.
            (_, Some(_)) if hole => {}
            (Some(bin), Some(run)) if bin.abs_diff(run.bin) <= TONE_DRIFT_BINS => {
                // A short gap inside the tone (a lost packet) is part of it.
                self.tone = Some(ToneRun { bin, length: run.length + run.gap + frame_len, gap: Duration::ZERO, ..run });
            }
            (Some(bin), Some(run)) if run.gap.is_zero() && run.length >= self.params.min_beep => {
                // One steady tone replaced by another with no gap: a tone sequence (a special information
                // tone), call progress; neither step is a beep.
                self.heard_tone_sequence = true;
                self.tone = Some(ToneRun { bin, length: frame_len, gap: Duration::ZERO, call_progress: true });
            }
            (Some(bin), _) => {
                self.tone = Some(ToneRun { bin, length: frame_len, gap: Duration::ZERO, call_progress: progress_tone });
            }
            (None, Some(run)) if run.gap + frame_len < TONE_GAP => {
                self.tone = Some(ToneRun { gap: run.gap + frame_len, ..run });
            }
            (None, Some(run)) => {
                self.tone = None;
                let beep_length = run.length >= self.params.min_beep && run.length <= self.params.max_beep;
                if beep_length && !run.call_progress {
                    self.message_cue = true;
                    self.decide(AmdVerdict::MachineBeep, AmdReason::Beep, since_answer);
                    return self.verdict;
                }
            }
            (None, None) => {}
        }

        // Speech segmentation: tone frames are not speech.
        let speech = tone_bin.is_none() && loud && above_floor;
        if self.carry_pending {
            if speech {
                // The greeting goes on across the answer: the machine's, heard from its start.
                self.carry_pending = false;
            } else if since_answer >= WORD_GAP {
                // Music or an announcement cut by the pickup: the answering party has not spoken yet.
                self.carry_pending = false;
                self.drop_early_greeting();
            }
        }
        if packet || !hole {
            self.segment(speech, at, frame_len);
        }

        if self.verdict.is_machine() {
            // Decided; wait for the greeting to end so the message is not spoken over it.
            if self.silence_run >= self.params.message_silence && tone_bin.is_none() {
                self.message_cue = true;
            }
            return self.verdict;
        }

        if self.carry_pending {
            // Whether the early greeting is the answering party's is not known yet.
            return self.verdict;
        }
        if let (Some(start), Some(last)) = (self.greeting_start, self.last_speech) {
            // From the greeting's real start, early media included.
            let greeting = last.saturating_sub(start);
            if greeting > self.params.max_human_greeting {
                self.decide(AmdVerdict::Machine, AmdReason::LongGreeting, since_answer);
            } else if self.words > self.params.max_words {
                self.decide(AmdVerdict::Machine, AmdReason::ManyWords, since_answer);
            } else if self.silence_run >= self.params.after_greeting_silence {
                self.decide(AmdVerdict::Human, AmdReason::ShortGreeting, since_answer);
            }
        } else if since_answer >= self.params.decision_deadline && self.tone.is_none() {
            self.decide(AmdVerdict::Human, AmdReason::InitialSilence, since_answer);
        }
        self.verdict
    }

    /// A frame of early media: speech is counted and segmented into a greeting (ended by
    /// `after_greeting_silence`), call-progress tones are neither speech nor line noise, nothing is decided.
    fn process_early(&mut self, level: f32, loud: bool, call_progress: bool, at: Duration, frame_len: Duration) {
        if call_progress {
            // A ringback is no silence: it ends no word or greeting, and is no noise floor either.
            return;
        }
        let above_floor = self.follow_floor(level);
        let speech = loud && above_floor;
        self.segment(speech, at, frame_len);
        if speech {
            self.early_speech += frame_len;
        } else if self.silence_run >= self.params.after_greeting_silence {
            // An announcement's sentence that ended is no greeting the answer could continue.
            self.forget_greeting();
        }
    }

    /// Follows the noise floor with a frame's level; whether the frame stands `SPEECH_SNR_DB` above it.
    fn follow_floor(&mut self, level: f32) -> bool {
        let floor = *self.floor.get_or_insert(level);
        let rate = if level < floor { FLOOR_FALL } else { FLOOR_RISE };
        self.floor = Some(floor + (level - floor) * rate);
        20.0 * (level / floor.max(1e-6)).log10() >= SPEECH_SNR_DB
    }

    /// Speech segmentation: words, the greeting's start and last speech, the silence since.
    fn segment(&mut self, speech: bool, at: Duration, frame_len: Duration) {
        if speech {
            self.silence_run = Duration::ZERO;
            self.last_speech = Some(at);
            self.greeting_start.get_or_insert(at.saturating_sub(frame_len));
            self.word_run += frame_len;
            if !self.word_counted && self.word_run >= MIN_WORD {
                self.word_counted = true;
                self.words += 1;
            }
        } else {
            self.silence_run += frame_len;
            if self.silence_run >= WORD_GAP {
                self.word_run = Duration::ZERO;
                self.word_counted = false;
            }
        }
    }

    fn decide(&mut self, verdict: AmdVerdict, reason: AmdReason, at: Duration) {
        if self.decided_at.is_none() {
            self.decided_at = Some(at);
        }
        if !self.verdict.is_machine() || verdict == AmdVerdict::MachineBeep {
            self.reason = reason;
        }
        self.verdict = verdict;
    }

    /// Goertzel power of every candidate frequency over `frame`, as a share of a pure tone's (see `purity`).
    fn purities(&self, frame: &[i16]) -> Option<[f32; BEEP_BINS]> {
        let level = rms(frame);
        let energy = level * level * frame.len() as f32;
        if energy <= 0.0 {
            return None;
        }
        let mut purities = [0.0_f32; BEEP_BINS];
        for (purity, &coefficient) in purities.iter_mut().zip(&self.coefficients) {
            let (mut s1, mut s2) = (0.0_f32, 0.0_f32);
            for &sample in frame {
                let s0 = f32::from(sample) / 32768.0 + coefficient * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
            // A full-scale sine holding all the energy gives power = (N/2)²·A² and energy = N·A²/2.
            *purity = 2.0 * power / (frame.len() as f32 * energy);
        }
        Some(purities)
    }

    /// The candidate frequency holding at least [`TONE_PURITY`] of the frame's energy, if one does.
    fn tone_bin(&self, frame: &[i16]) -> Option<usize> {
        let purities = self.purities(frame)?;
        let (bin, purity) = strongest(&purities);
        (purity >= TONE_PURITY).then_some(bin)
    }

    /// Whether a frame is a call-progress tone: one steady tone (a special information tone, a single-frequency
    /// ringback), or nearly all its energy in the ringback band (a dual-tone ringback). A single tone is
    /// remembered (`early_tone`) so its continuation after the answer is not taken for a beep.
    fn call_progress(&mut self, frame: &[i16], at: Duration, frame_len: Duration) -> bool {
        let Some(purities) = self.purities(frame) else { return false };
        let (bin, purity) = strongest(&purities);
        if purity >= TONE_PURITY {
            let length = match self.early_tone {
                // The same tone, one frame on.
                Some((previous, heard, length))
                    if bin.abs_diff(previous) <= TONE_DRIFT_BINS && at.saturating_sub(heard) <= frame_len * 2 =>
                {
                    length + frame_len
                }
                // Another tone right after a steady one, both above any ringback: a SIT step.
                Some((previous, heard, length))
                    if at.saturating_sub(heard) <= frame_len * 2
                        && previous.min(bin) >= SIT_LOW_BIN
                        && length >= MIN_SEQUENCE_STEP =>
                {
                    self.heard_tone_sequence = true;
                    frame_len
                }
                _ => frame_len,
            };
            self.early_tone = Some((bin, at, length));
            return true;
        }
        // The bank samples the spectrum every BEEP_STEP_HZ, finer than the frame's resolution (rate / length):
        // each component shows in about resolution / step candidates, so the sum is scaled back by that.
        let resolution = self.sample_rate_hz as f32 / frame.len() as f32;
        let band: f32 = purities.iter().take(RINGBACK_LAST_BIN + 1).sum();
        band * (BEEP_STEP_HZ / resolution) >= RINGBACK_SHARE
    }
}

/// The candidate holding the largest share of the frame's energy, and that share.
fn strongest(purities: &[f32; BEEP_BINS]) -> (usize, f32) {
    purities.iter().copied().enumerate().fold((0, 0.0_f32), |best, (bin, p)| if p > best.1 { (bin, p) } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;
    const FRAME: usize = 160;

    /// Runs `signal` through a detector in 20 ms frames; returns the verdict after each frame's end time.
    fn run(signal: &[i16], rate: u32) -> (AmdDetector, Vec<(Duration, AmdVerdict)>) {
        let frame = rate as usize / 50;
        let mut detector = AmdDetector::new(rate, AmdParams::default());
        let mut trace = Vec::new();
        for (i, chunk) in signal.chunks_exact(frame).enumerate() {
            let at = Duration::from_millis((i as u64 + 1) * 20);
            trace.push((at, detector.process(chunk, at)));
        }
        (detector, trace)
    }

    fn tone(freq: f32, rate: u32, ms: u32, amplitude: f32) -> Vec<i16> {
        let n = (rate * ms / 1000) as usize;
        (0..n)
            .map(|i| ((i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * amplitude * 32767.0) as i16)
            .collect()
    }

    fn silence(rate: u32, ms: u32) -> Vec<i16> {
        vec![0; (rate * ms / 1000) as usize]
    }

    /// Speech-like bursts: a 140 Hz buzz with harmonics, amplitude-modulated like syllables.
    fn babble(rate: u32, ms: u32) -> Vec<i16> {
        let n = (rate * ms / 1000) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let pitch = 140.0 + 20.0 * (t * 3.0).sin();
                let mut v = 0.0;
                for h in 1..12 {
                    v += (t * pitch * h as f32 * std::f32::consts::TAU).sin() / h as f32;
                }
                let syllable = 0.55 + 0.45 * (t * 4.0 * std::f32::consts::TAU).sin();
                (v * syllable * 0.15 * 32767.0) as i16
            })
            .collect()
    }

    fn first_decision(trace: &[(Duration, AmdVerdict)]) -> Option<(Duration, AmdVerdict)> {
        trace.iter().copied().find(|(_, v)| *v != AmdVerdict::Undecided)
    }

    #[test]
    fn silence_is_undecided_until_the_deadline_then_human() {
        let (detector, trace) = run(&silence(RATE, 4000), RATE);
        for (at, verdict) in &trace {
            if *at < Duration::from_secs(3) {
                assert_eq!(*verdict, AmdVerdict::Undecided, "at {at:?}");
            }
        }
        assert_eq!(first_decision(&trace), Some((Duration::from_secs(3), AmdVerdict::Human)));
        assert_eq!(detector.reason(), AmdReason::InitialSilence);
    }

    #[test]
    fn a_pure_tone_that_stops_is_a_beep() {
        for freq in [440.0, 1000.0, 1400.0, 1930.0] {
            let mut signal = silence(RATE, 300);
            signal.extend(tone(freq, RATE, 500, 0.3));
            signal.extend(silence(RATE, 200));
            let (detector, trace) = run(&signal, RATE);
            let (at, verdict) = first_decision(&trace).expect("decided");
            assert_eq!(verdict, AmdVerdict::MachineBeep, "{freq} Hz");
            assert_eq!(at, Duration::from_millis(900), "{freq} Hz: decided once the tone has been gone TONE_GAP");
            assert!(detector.leave_message_now());
            assert_eq!(detector.reason(), AmdReason::Beep);
        }
    }

    #[test]
    fn a_beep_at_16_khz_is_heard_too() {
        let mut signal = silence(16000, 200);
        signal.extend(tone(1000.0, 16000, 400, 0.3));
        signal.extend(silence(16000, 100));
        let (_, trace) = run(&signal, 16000);
        assert_eq!(first_decision(&trace).map(|d| d.1), Some(AmdVerdict::MachineBeep));
    }

    #[test]
    fn a_frame_lost_inside_the_beep_does_not_end_it() {
        // 300 ms of tone, one 20 ms frame of silence (a lost packet, concealed as silence), 200 ms more tone.
        let tone = |ms: usize| -> Vec<i16> {
            (0..ms * 8).map(|i| ((i as f32 * 1000.0 * std::f32::consts::TAU / 8000.0).sin() * 12000.0) as i16).collect()
        };
        let mut signal = tone(300);
        signal.extend(std::iter::repeat(0i16).take(160));
        signal.extend(tone(200));
        signal.extend(std::iter::repeat(0i16).take(8 * 400));
        let mut detector = AmdDetector::new(8000, AmdParams::default());
        let mut cue_at = None;
        for (i, frame) in signal.chunks(160).enumerate() {
            let at = Duration::from_millis(20 * (i as u64 + 1));
            if detector.process(frame, at) == AmdVerdict::MachineBeep && cue_at.is_none() {
                cue_at = Some(at);
            }
        }
        let cue_at = cue_at.expect("the beep is heard");
        assert!(cue_at >= Duration::from_millis(520), "cued at {cue_at:?}, inside the beep (ends at 520 ms)");
    }

    #[test]
    fn tones_too_short_or_too_long_are_not_beeps() {
        let mut signal = silence(RATE, 200);
        signal.extend(tone(1000.0, RATE, 60, 0.3));
        signal.extend(silence(RATE, 400));
        signal.extend(tone(1000.0, RATE, 2500, 0.3));
        signal.extend(silence(RATE, 100));
        let (_, trace) = run(&signal, RATE);
        assert!(trace.iter().all(|(_, v)| *v != AmdVerdict::MachineBeep));
    }

    #[test]
    fn a_chord_is_not_a_beep() {
        let a = tone(523.0, RATE, 600, 0.15);
        let b = tone(659.0, RATE, 600, 0.15);
        let c = tone(784.0, RATE, 600, 0.15);
        let mut signal = silence(RATE, 200);
        signal.extend(a.iter().zip(&b).zip(&c).map(|((x, y), z)| x + y + z));
        signal.extend(silence(RATE, 100));
        let (_, trace) = run(&signal, RATE);
        assert!(trace.iter().all(|(_, v)| *v != AmdVerdict::MachineBeep));
    }

    #[test]
    fn a_short_greeting_then_silence_is_human() {
        let mut signal = silence(RATE, 400);
        signal.extend(babble(RATE, 700));
        signal.extend(silence(RATE, 2000));
        let (detector, trace) = run(&signal, RATE);
        let (at, verdict) = first_decision(&trace).expect("decided");
        assert_eq!(verdict, AmdVerdict::Human);
        assert_eq!(detector.reason(), AmdReason::ShortGreeting);
        assert!(at < Duration::from_secs(3), "decided at {at:?}");
    }

    #[test]
    fn a_long_greeting_is_a_machine_then_the_beep_cues_the_message() {
        let mut signal = silence(RATE, 300);
        signal.extend(babble(RATE, 4000));
        signal.extend(silence(RATE, 300));
        signal.extend(tone(1400.0, RATE, 400, 0.3));
        signal.extend(silence(RATE, 300));
        let (detector, trace) = run(&signal, RATE);
        let (at, verdict) = first_decision(&trace).expect("decided");
        assert_eq!(verdict, AmdVerdict::Machine);
        assert!(at <= Duration::from_millis(2300), "decided at {at:?}");
        let cue = trace.iter().find(|(_, v)| *v == AmdVerdict::MachineBeep).expect("beep");
        assert_eq!(cue.0, Duration::from_millis(5100));
        assert!(detector.leave_message_now());
        assert_eq!(detector.decided_at(), Some(at));
    }

    #[test]
    fn a_machine_without_a_beep_cues_the_message_when_its_greeting_ends() {
        let mut signal = babble(RATE, 3000);
        signal.extend(silence(RATE, 2000));
        let (detector, trace) = run(&signal, RATE);
        assert_eq!(first_decision(&trace).map(|d| d.1), Some(AmdVerdict::Machine));
        assert!(detector.leave_message_now());
        assert_eq!(detector.verdict(), AmdVerdict::Machine);
    }

    #[test]
    fn a_human_verdict_is_final() {
        let mut signal = babble(RATE, 500);
        signal.extend(silence(RATE, 1000));
        signal.extend(babble(RATE, 3000));
        signal.extend(tone(1000.0, RATE, 300, 0.3));
        signal.extend(silence(RATE, 200));
        let (_, trace) = run(&signal, RATE);
        let decided = first_decision(&trace).expect("decided");
        assert_eq!(decided.1, AmdVerdict::Human);
        assert!(trace.iter().skip_while(|(at, _)| *at < decided.0).all(|(_, v)| *v == AmdVerdict::Human));
    }

    /// Runs `early` as early media from the first frame, answers, then runs `answered`; the trace's times are
    /// since the answer.
    fn run_early(early: &[i16], answered: &[i16]) -> (AmdDetector, Vec<(Duration, AmdVerdict)>) {
        let mut detector = AmdDetector::new(RATE, AmdParams::default());
        detector.expect_early_media();
        let mut at = Duration::ZERO;
        for chunk in early.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            assert_eq!(detector.process(chunk, at), AmdVerdict::Undecided, "nothing is decided before the answer");
        }
        let answered_at = at;
        detector.answer(answered_at);
        let mut trace = Vec::new();
        for chunk in answered.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            trace.push((at - answered_at, detector.process(chunk, at)));
        }
        (detector, trace)
    }

    fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
        a.iter().zip(b).map(|(x, y)| x.saturating_add(*y)).collect()
    }

    /// Six seconds of the ringbacks of North America (440+480 Hz, 2 s on, 4 s off), the UK (400+450, 0.4 on 0.2
    /// off 0.4 on 2 off), India (400 Hz × 25 Hz: 375+425) and Europe (425 Hz, 1 s on, 4 s off).
    fn ringbacks() -> Vec<Vec<i16>> {
        let dual = |f1: f32, f2: f32, ms: u32| mix(&tone(f1, RATE, ms, 0.2), &tone(f2, RATE, ms, 0.2));
        let mut north_america = dual(440.0, 480.0, 2000);
        north_america.extend(silence(RATE, 4000));
        let mut uk = Vec::new();
        for _ in 0..2 {
            uk.extend(dual(400.0, 450.0, 400));
            uk.extend(silence(RATE, 200));
            uk.extend(dual(400.0, 450.0, 400));
            uk.extend(silence(RATE, 2000));
        }
        let mut india = Vec::new();
        for _ in 0..2 {
            india.extend(dual(375.0, 425.0, 400));
            india.extend(silence(RATE, 200));
            india.extend(dual(375.0, 425.0, 400));
            india.extend(silence(RATE, 2000));
        }
        let mut europe = tone(425.0, RATE, 1000, 0.3);
        europe.extend(silence(RATE, 4000));
        europe.extend(tone(425.0, RATE, 1000, 0.3));
        vec![north_america, uk, india, europe]
    }

    #[test]
    fn ringback_in_early_media_is_not_speech_and_a_person_answering_after_it_is_human() {
        for (i, ringback) in ringbacks().into_iter().enumerate() {
            let mut answered = silence(RATE, 400);
            answered.extend(babble(RATE, 700));
            answered.extend(silence(RATE, 2000));
            let (detector, trace) = run_early(&ringback, &answered);
            assert_eq!(detector.early_speech(), Duration::ZERO, "ringback {i} is no speech");
            let (at, verdict) = first_decision(&trace).expect("decided");
            assert_eq!((verdict, detector.reason()), (AmdVerdict::Human, AmdReason::ShortGreeting), "ringback {i}");
            assert!(at < Duration::from_secs(3), "ringback {i}: decided {at:?} after the answer");
        }
    }

    #[test]
    fn a_ringback_cut_by_the_answer_is_no_beep() {
        // A 425 Hz ringback still sounding when the call is answered, and still heard 150–400 ms after it (the
        // network's ringback reaching us after the 200 OK), then the person's quiet line.
        for after in [150, 200, 300, 400] {
            let mut answered = tone(425.0, RATE, after, 0.3);
            answered.extend(silence(RATE, 3200));
            let (detector, trace) = run_early(&tone(425.0, RATE, 800, 0.3), &answered);
            assert!(trace.iter().all(|(_, v)| *v != AmdVerdict::MachineBeep), "{after} ms after the answer");
            assert_eq!(first_decision(&trace).map(|d| d.1), Some(AmdVerdict::Human), "{after} ms");
            assert_eq!(detector.reason(), AmdReason::InitialSilence, "{after} ms");
        }
        // Control: the same tone heard after the answer only (no ringback before it) is a beep.
        let mut answered = tone(425.0, RATE, 300, 0.3);
        answered.extend(silence(RATE, 400));
        let (_, trace) = run_early(&silence(RATE, 800), &answered);
        assert_eq!(first_decision(&trace).map(|d| d.1), Some(AmdVerdict::MachineBeep));
    }

    #[test]
    fn a_call_answered_during_a_caller_tune_is_judged_from_the_answer() {
        // A caller tune (music, singing) plays in early media right up to the pickup; the person's line is
        // quiet for 300 ms, then "Hello?".
        for tune_ms in [1000, 2500, 6000] {
            let mut early = silence(RATE, 200);
            early.extend(babble(RATE, tune_ms));
            let mut answered = silence(RATE, 300);
            answered.extend(babble(RATE, 600));
            answered.extend(silence(RATE, 2000));
            let (detector, trace) = run_early(&early, &answered);
            let (at, verdict) = first_decision(&trace).expect("decided");
            assert_eq!(
                (verdict, detector.reason()),
                (AmdVerdict::Human, AmdReason::ShortGreeting),
                "tune {tune_ms} ms"
            );
            assert!(at >= Duration::from_millis(900), "tune {tune_ms} ms: decided {at:?}, before the Hello ended");
        }
    }

    #[test]
    fn a_greeting_across_the_answer_from_a_new_source_is_not_carried() {
        // Speech up to the answer, then the answered leg's (another SSRC) "Hello?" at once.
        let mut detector = AmdDetector::new(RATE, AmdParams::default());
        detector.expect_early_media();
        let mut at = Duration::ZERO;
        for chunk in babble(RATE, 2000).chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            detector.process(chunk, at);
        }
        detector.answer(at);
        detector.source_changed();
        let mut answered = babble(RATE, 600);
        answered.extend(silence(RATE, 1500));
        for chunk in answered.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            detector.process(chunk, at);
        }
        assert_eq!((detector.verdict(), detector.reason()), (AmdVerdict::Human, AmdReason::ShortGreeting));
    }

    /// Deterministic white noise at `amplitude` (share of full scale).
    fn noise(ms: u32, amplitude: f32, seed: u32) -> Vec<i16> {
        let mut state = seed.max(1);
        (0..RATE * ms / 1000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                ((state as f32 / u32::MAX as f32 * 2.0 - 1.0) * amplitude * 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_noisy_line_after_ringback_is_not_a_greeting() {
        // Padding before any RTP (no packet), a ringback with silent gaps, then a noisy line and "Hello?".
        let mut detector = AmdDetector::new(RATE, AmdParams::default());
        detector.expect_early_media();
        let mut at = Duration::ZERO;
        for chunk in silence(RATE, 500).chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            detector.process_frame(chunk, at, false);
        }
        let mut ringback = tone(425.0, RATE, 1000, 0.3);
        ringback.extend(silence(RATE, 1500));
        for chunk in ringback.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            detector.process(chunk, at);
        }
        detector.answer(at);
        let answered_at = at;
        let line = noise(3500, 0.03, 7);
        let mut answered = line.clone();
        let hello = babble(RATE, 600);
        answered[RATE as usize * 400 / 1000..][..hello.len()].copy_from_slice(&mix(&line[..hello.len()], &hello));
        for chunk in answered.chunks_exact(FRAME) {
            at += Duration::from_millis(20);
            detector.process(chunk, at);
        }
        assert_eq!((detector.verdict(), detector.reason()), (AmdVerdict::Human, AmdReason::ShortGreeting));
        assert!(
            detector.decided_at().is_some_and(|d| d < Duration::from_secs(2)),
            "{:?} after {answered_at:?}",
            detector.decided_at()
        );
    }

    #[test]
    fn a_concealed_hole_inside_the_beep_does_not_end_it() {
        for hole_ms in [60_u64, 160] {
            let mut detector = AmdDetector::new(RATE, AmdParams::default());
            let beep = tone(1000.0, RATE, 500, 0.3);
            let mut at = Duration::ZERO;
            let mut cue_at = None;
            let mut feed = |detector: &mut AmdDetector, frame: &[i16], packet: bool, at: &mut Duration| {
                *at += Duration::from_millis(20);
                if detector.process_frame(frame, *at, packet) == AmdVerdict::MachineBeep && cue_at.is_none() {
                    cue_at = Some(*at);
                }
            };
            for chunk in silence(RATE, 300).chunks_exact(FRAME) {
                feed(&mut detector, chunk, true, &mut at);
            }
            for (i, chunk) in beep.chunks_exact(FRAME).enumerate() {
                // From 200 ms into the beep, `hole_ms` of frames with no packet (concealed as silence).
                let missing = (10..10 + hole_ms as usize / 20).contains(&i);
                feed(&mut detector, if missing { &[0; FRAME] } else { chunk }, !missing, &mut at);
            }
            for chunk in silence(RATE, 400).chunks_exact(FRAME) {
                feed(&mut detector, chunk, true, &mut at);
            }
            let cue_at = cue_at.expect("the beep is heard");
            assert!(cue_at > Duration::from_millis(800), "{hole_ms} ms hole: cued at {cue_at:?}, inside the beep");
            assert_eq!(detector.reason(), AmdReason::Beep);
        }
    }

    #[test]
    fn a_special_information_tone_after_the_answer_is_no_beep() {
        let mut answered = silence(RATE, 200);
        answered.extend(tone(913.8, RATE, 340, 0.3));
        answered.extend(tone(1370.6, RATE, 340, 0.3));
        answered.extend(tone(1776.7, RATE, 340, 0.3));
        answered.extend(silence(RATE, 3000));
        let (detector, trace) = run(&answered, RATE);
        assert!(trace.iter().all(|(_, v)| *v != AmdVerdict::MachineBeep));
        assert!(detector.heard_tone_sequence());
    }

    #[test]
    fn a_special_information_tone_in_early_media_is_heard_and_ringbacks_are_not_one() {
        let mut early = silence(RATE, 200);
        early.extend(tone(913.8, RATE, 330, 0.3));
        early.extend(tone(1370.6, RATE, 330, 0.3));
        early.extend(tone(1776.7, RATE, 330, 0.3));
        early.extend(silence(RATE, 500));
        let (detector, _) = run_early(&early, &silence(RATE, 100));
        assert!(detector.heard_tone_sequence());
        for (i, ringback) in ringbacks().into_iter().enumerate() {
            let (detector, _) = run_early(&ringback, &silence(RATE, 100));
            assert!(!detector.heard_tone_sequence(), "ringback {i}");
        }
        // A beep after a greeting is no sequence either.
        let mut answered = babble(RATE, 2500);
        answered.extend(silence(RATE, 300));
        answered.extend(tone(1000.0, RATE, 400, 0.3));
        answered.extend(silence(RATE, 300));
        let (detector, _) = run(&answered, RATE);
        assert!(!detector.heard_tone_sequence());
        assert_eq!(detector.verdict(), AmdVerdict::MachineBeep);
    }

    #[test]
    fn a_greeting_begun_in_early_media_is_measured_from_its_real_start() {
        // The machine starts its greeting 1 s into early media; the answer comes 1.2 s later, mid-greeting.
        let mut early = silence(RATE, 1000);
        let greeting = babble(RATE, 4000);
        early.extend(&greeting[..(RATE as usize * 1200 / 1000)]);
        let (detector, trace) = run_early(&early, &greeting[(RATE as usize * 1200 / 1000)..]);
        let (at, verdict) = first_decision(&trace).expect("decided");
        assert_eq!((verdict, detector.reason()), (AmdVerdict::Machine, AmdReason::LongGreeting));
        // Heard from the answer only, the greeting would be judged at 1.9 s; from its start, 0.7 s after.
        assert!(at <= Duration::from_millis(800), "decided {at:?} after the answer");
        assert_eq!(detector.decided_at(), Some(at));
        // Frames in the syllables' troughs are too quiet to count: most of the 1.2 s, not all of it.
        assert!(detector.early_speech() >= Duration::from_millis(700), "{:?}", detector.early_speech());
    }

    #[test]
    fn an_announcement_over_before_the_answer_is_forgotten_there() {
        // "Please hold while we connect you" (1.5 s), a second of line, then a person answers "Hello?".
        let mut early = babble(RATE, 1500);
        early.extend(silence(RATE, 1000));
        let mut answered = silence(RATE, 300);
        answered.extend(babble(RATE, 600));
        answered.extend(silence(RATE, 1500));
        let (detector, trace) = run_early(&early, &answered);
        assert_eq!(first_decision(&trace).map(|d| d.1), Some(AmdVerdict::Human));
        assert_eq!(detector.reason(), AmdReason::ShortGreeting);
        // Speech from the very first frame seeds the noise floor: counted once the floor has fallen to the troughs.
        assert!(detector.early_speech() >= Duration::from_millis(500), "{:?}", detector.early_speech());
    }

    #[test]
    fn an_announcement_that_is_never_answered_counts_as_early_speech_and_decides_nothing() {
        // A special information tone (913.8, 1370.6, 1776.7 Hz), then "the number you are calling is switched
        // off" twice.
        let mut early = tone(913.8, RATE, 330, 0.3);
        early.extend(tone(1370.6, RATE, 330, 0.3));
        early.extend(tone(1776.7, RATE, 330, 0.3));
        early.extend(silence(RATE, 300));
        for _ in 0..2 {
            early.extend(babble(RATE, 2500));
            early.extend(silence(RATE, 800));
        }
        let mut detector = AmdDetector::new(RATE, AmdParams::default());
        detector.expect_early_media();
        for (i, chunk) in early.chunks_exact(FRAME).enumerate() {
            detector.process(chunk, Duration::from_millis(20 * (i as u64 + 1)));
        }
        assert_eq!(detector.verdict(), AmdVerdict::Undecided);
        assert!(!detector.answered());
        let speech = detector.early_speech();
        // Most of the 5 s of words (not the troughs between syllables, nor the tones).
        assert!((Duration::from_millis(2500)..=Duration::from_millis(5000)).contains(&speech), "{speech:?}");
    }

    proptest::proptest! {
        /// Any audio, any frame size, any clock: no panic, and a decision once made is never taken back.
        #[test]
        fn arbitrary_audio_never_panics_and_decisions_stick(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::num::i16::ANY, 0..400), 1..200),
            rate in proptest::sample::select(vec![8000_u32, 16000]),
        ) {
            let mut detector = AmdDetector::new(rate, AmdParams::default());
            let mut previous = AmdVerdict::Undecided;
            for (i, frame) in frames.iter().enumerate() {
                let verdict = detector.process(frame, Duration::from_millis(20 * (i as u64 + 1)));
                match previous {
                    AmdVerdict::Undecided => {}
                    AmdVerdict::Human => proptest::prop_assert_eq!(verdict, AmdVerdict::Human),
                    AmdVerdict::Machine | AmdVerdict::MachineBeep => proptest::prop_assert!(verdict.is_machine()),
                }
                previous = verdict;
            }
        }
    }

    #[test]
    fn odd_frames_do_not_panic() {
        let mut detector = AmdDetector::new(0, AmdParams::default());
        assert_eq!(detector.process(&[], Duration::ZERO), AmdVerdict::Undecided);
        assert_eq!(detector.process(&[i16::MAX; 7], Duration::from_millis(1)), AmdVerdict::Undecided);
        let mut detector = AmdDetector::new(RATE, AmdParams::default());
        detector.process(&[i16::MIN; FRAME], Duration::from_millis(20));
    }
}
