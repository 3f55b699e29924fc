//! Instant stand-in models, exactly as interfaces.md specifies them for the built-in `bench` agent: the STT
//! hears `what time is it` at every end of speech (and, so that barge-in with `interruption_min_words` can be
//! exercised, reports growing partials — `what`, `what time`, … — for every 100 ms of voiced audio, as a streaming
//! recogniser would); the LLM streams a fixed reply word by word with no delay;
//! the TTS speaks a 440 Hz tone, 60 ms per word, in 40 ms chunks. They cost nothing, so a load test measures
//! the server (and peers can run the same stand-ins for a fair comparison).

use crate::{
    ChatMessage, LanguageModel, LlmEvent, LlmStream, SpeechToText, SttStream, TextToSpeech, Transcript, TtsStream,
};

/// The bench STT's transcript.
pub const BENCH_TRANSCRIPT: &str = "what time is it";
/// The bench LLM's reply.
pub const BENCH_REPLY: &str = "Sure, it is about three in the afternoon here. Anything else today?";
/// The bench agent's greeting.
pub const BENCH_GREETING: &str = "Hello, how can I help you?";

/// STT stand-in.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedStt;

struct FixedSttStream {
    pending: Option<Transcript>,
    /// Voiced audio heard since the last end of speech, in samples.
    voiced: usize,
    /// Words of the transcript already reported as partials.
    words_reported: usize,
}

/// Voiced audio (16 kHz samples) per reported word: 100 ms.
const PARTIAL_AFTER: usize = 1600;
/// RMS above which a chunk counts as voiced (about −40 dBFS).
const VOICED_RMS: f64 = 330.0;

impl SttStream for FixedSttStream {
    fn push_audio(&mut self, pcm: &[i16]) {
        if pcm.is_empty() {
            return;
        }
        let energy: i64 = pcm.iter().map(|s| *s as i64 * *s as i64).sum();
        let rms = (energy as f64 / pcm.len() as f64).sqrt();
        if rms >= VOICED_RMS {
            self.voiced += pcm.len();
        }
        let due = (self.voiced / PARTIAL_AFTER).min(BENCH_TRANSCRIPT.split(' ').count());
        if due > self.words_reported {
            self.words_reported = due;
            let partial: Vec<&str> = BENCH_TRANSCRIPT.split(' ').take(due).collect();
            self.pending = Some(Transcript::Partial(partial.join(" ")));
        }
    }

    fn end_of_speech(&mut self) {
        self.pending = Some(Transcript::Final(BENCH_TRANSCRIPT.to_string()));
        self.voiced = 0;
        self.words_reported = 0;
    }

    fn poll_transcript(&mut self) -> Option<Transcript> {
        self.pending.take()
    }
}

impl SpeechToText for FixedStt {
    fn stream(&self, _language: &str) -> Box<dyn SttStream> {
        Box::new(FixedSttStream { pending: None, voiced: 0, words_reported: 0 })
    }
}

/// LLM stand-in.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedLlm;

struct WordStream {
    words: std::vec::IntoIter<String>,
    done: bool,
}

impl LlmStream for WordStream {
    fn poll_event(&mut self) -> Option<LlmEvent> {
        if let Some(word) = self.words.next() {
            return Some(LlmEvent::Token(word));
        }
        (!std::mem::replace(&mut self.done, true)).then_some(LlmEvent::Done)
    }
}

impl LanguageModel for FixedLlm {
    fn reply(&self, _history: &[ChatMessage], _tools: &[crate::ToolSpec]) -> Box<dyn LlmStream> {
        let words: Vec<String> = BENCH_REPLY
            .split(' ')
            .enumerate()
            .map(|(i, w)| if i == 0 { w.to_string() } else { format!(" {w}") })
            .collect();
        Box::new(WordStream { words: words.into_iter(), done: false })
    }
}

/// TTS stand-in: a 440 Hz tone.
#[derive(Debug, Default, Clone, Copy)]
pub struct ToneTts;

/// Tone sample rate.
pub const TONE_RATE: u32 = 16000;
const MS_PER_WORD: usize = 60;
const CHUNK_MS: usize = 40;

/// 440 Hz repeats exactly every 400 samples at 16 kHz (11 cycles), so the tone is a table, not a `sin` per
/// sample (the stand-in must cost nothing next to what the bench measures).
const TONE_PERIOD: usize = 400;

fn tone_period() -> &'static [i16; TONE_PERIOD] {
    static TABLE: std::sync::OnceLock<[i16; TONE_PERIOD]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0i16; TONE_PERIOD];
        for (i, sample) in table.iter_mut().enumerate() {
            let t = i as f64 / TONE_RATE as f64;
            *sample = ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16;
        }
        table
    })
}

struct ToneStream {
    remaining: usize,
    phase: usize,
}

impl TtsStream for ToneStream {
    fn sample_rate(&self) -> u32 {
        TONE_RATE
    }

    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
        let n = self.remaining.min(TONE_RATE as usize * CHUNK_MS / 1000);
        let period = tone_period();
        for _ in 0..n {
            out.push(period[self.phase]);
            self.phase = (self.phase + 1) % TONE_PERIOD;
        }
        self.remaining -= n;
        self.remaining > 0
    }
}

impl TextToSpeech for ToneTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let words = text.split_whitespace().count().max(1);
        Box::new(ToneStream { remaining: words * MS_PER_WORD * TONE_RATE as usize / 1000, phase: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_behave_as_specified() {
        let mut stt = FixedStt.stream("en");
        stt.push_audio(&[10i16; 3200]);
        assert_eq!(stt.poll_transcript(), None, "silence is not speech");
        stt.push_audio(&[2000i16; 1600]);
        assert_eq!(stt.poll_transcript(), Some(Transcript::Partial("what".into())));
        stt.push_audio(&[2000i16; 1600]);
        assert_eq!(stt.poll_transcript(), Some(Transcript::Partial("what time".into())));
        stt.end_of_speech();
        assert_eq!(stt.poll_transcript(), Some(Transcript::Final(BENCH_TRANSCRIPT.into())));

        let mut llm = FixedLlm.reply(&[], &[]);
        let mut text = String::new();
        while let Some(LlmEvent::Token(t)) = llm.poll_event() {
            text.push_str(&t);
        }
        assert_eq!(text, BENCH_REPLY);

        let mut tts = ToneTts.speak("one two three");
        let mut audio = Vec::new();
        let mut chunks = 0;
        while tts.poll_audio(&mut audio) {
            chunks += 1;
        }
        assert_eq!(audio.len(), 3 * 60 * 16); // 180 ms at 16 kHz
        assert_eq!(chunks + 1, 5); // 40+40+40+40+20 ms
    }
}
