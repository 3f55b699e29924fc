//! Turn detectors ([`crate::TurnDetector`]): when the caller's pause ends their turn.

use std::time::Duration;

use crate::TurnDetector;

/// The VAD's stop time alone decides (the original's behaviour).
#[derive(Debug, Default, Clone, Copy)]
pub struct SilenceTurn;

impl TurnDetector for SilenceTurn {
    fn turn_over(&self, _transcript: &str, _quiet: Duration) -> bool {
        false
    }
}

/// Ends the turn after a short pause when the words so far make a finished sentence: they end in sentence
/// punctuation (recognisers such as Whisper punctuate), and the last word is not one that promises more
/// ("and", "because", "um", Hindi "और", "क्योंकि", …). Otherwise the VAD's stop time decides.
#[derive(Debug, Clone, Copy)]
pub struct PunctuationTurn {
    /// The pause that must have passed before a finished sentence ends the turn.
    pub min_quiet: Duration,
}

impl Default for PunctuationTurn {
    fn default() -> Self {
        Self { min_quiet: Duration::from_millis(200) }
    }
}

/// Sentence ends: Latin, Devanagari danda and double danda, Arabic/Urdu question mark, CJK full stop.
const SENTENCE_ENDS: [char; 7] = ['.', '!', '?', '।', '॥', '؟', '。'];

/// Last words after which a speaker is still going: conjunctions, fillers and words that need an object, in
/// English and the Indian languages the agents speak most (Hindi, Bengali, Tamil, Telugu, Marathi).
const CONTINUATIONS: &[&str] = &[
    "and",
    "but",
    "or",
    "so",
    "because",
    "that",
    "which",
    "if",
    "then",
    "um",
    "uh",
    "er",
    "hmm",
    "like",
    "the",
    "a",
    "an",
    "to",
    "of",
    "for",
    "with",
    "my",
    "is",
    "are",
    "और",
    "लेकिन",
    "पर",
    "तो",
    "कि",
    "क्योंकि",
    "या",
    "मतलब",
    "आणि",
    "पण",
    "কিন্তু",
    "এবং",
    "আর",
    "மற்றும்",
    "ஆனால்",
    "మరియు",
    "కానీ",
];

impl TurnDetector for PunctuationTurn {
    fn turn_over(&self, transcript: &str, quiet: Duration) -> bool {
        if quiet < self.min_quiet {
            return false;
        }
        let text = transcript.trim_end();
        let Some(body) = text.strip_suffix(SENTENCE_ENDS) else { return false };
        // Whisper ends a trailing-off phrase with "..." too: that is not a finished sentence.
        if body.ends_with('.') || text.ends_with('…') {
            return false;
        }
        let last = body.split_whitespace().last().unwrap_or("");
        let last = last.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        !last.is_empty() && !CONTINUATIONS.contains(&last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(text: &str, quiet_ms: u64) -> bool {
        PunctuationTurn::default().turn_over(text, Duration::from_millis(quiet_ms))
    }

    #[test]
    fn a_finished_sentence_ends_the_turn_after_a_short_pause() {
        assert!(over("What are your opening hours?", 200));
        assert!(over("Yes.", 300));
        assert!(over(" मुझे टिकट चाहिए। ", 200));
        assert!(!over("What are your opening hours?", 100), "the pause is too short yet");
    }

    #[test]
    fn unfinished_words_wait_for_the_vad() {
        assert!(!over("I would like to book a table for", 300), "no punctuation");
        assert!(!over("I want to go to Delhi and.", 300), "a conjunction promises more");
        assert!(!over("Well, um.", 300));
        assert!(!over("So I was thinking...", 300), "trailing off");
        assert!(!over("मुझे टिकट चाहिए और।", 300));
        assert!(!over("", 300));
        assert!(!over("?", 300));
    }

    #[test]
    fn silence_alone_never_ends_early() {
        assert!(!SilenceTurn.turn_over("What are your opening hours?", Duration::from_secs(5)));
    }
}
