//! Whisper's lost tails: Whisper (tiny above all) sometimes ends its transcript at a pause inside an
//! utterance, and the words after the pause are lost ("How many days are in a week? [pause] And in a
//! month?" comes back as the first question alone). A final transcript whose text is too short for the
//! speech in its audio is completed by decoding again from the pause where the text most likely stopped,
//! and joining the two (without repeating words the first decode already had).
//!
//! Whisper is run without timestamps (they cost decoding steps and accuracy on short utterances), so where
//! the text stops is estimated from its length: speech runs at roughly [`CHARS_PER_SECOND`] characters of
//! transcript per second. The estimate only chooses whether a second, short decode is worth its cost; the
//! join decides what the caller said.

/// Voicing frames: 20 ms at 16 kHz.
const FRAME: usize = 320;
/// Frame RMS (of samples normalised to ±1) that counts as voiced: about −40 dBFS, as the stream's trimming.
const VOICED_RMS: f32 = 330.0 / 32768.0;
/// Shortest silence inside an utterance after which Whisper may stop: 300 ms.
const MIN_PAUSE_FRAMES: usize = 15;
/// Voiced speech after a pause worth decoding again: 300 ms.
const MIN_TAIL_VOICED_FRAMES: usize = 15;
/// Characters of transcript (letters, spaces, punctuation) per second of speech at a fast pace (read
/// English is 12–17, espeak-ng at 165 words a minute about 20): a text shorter than this rate gives for the audio up to the middle of the tail
/// after a pause is taken to have stopped at the pause.
const CHARS_PER_SECOND: f32 = 20.0;
/// Audio kept before the tail's first voiced frame when decoding it: 200 ms (Whisper clips a word
/// started cold).
const TAIL_PRE_ROLL: usize = 3200;

/// The sample to decode again from when `text` looks as if Whisper stopped at a pause of `pcm` (16 kHz,
/// normalised to ±1) before the speech did; None when the text plausibly covers all of it.
pub(crate) fn lost_tail(pcm: &[f32], text: &str) -> Option<usize> {
    let voiced: Vec<bool> = pcm
        .chunks(FRAME)
        .map(|frame| (frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32).sqrt() >= VOICED_RMS)
        .collect();
    let first = voiced.iter().position(|&v| v)?;
    let last = voiced.iter().rposition(|&v| v)?;
    // Pauses inside the speech: (first silent frame, first voiced frame after it).
    let mut pauses = Vec::new();
    let mut silent_from = None;
    for (i, &v) in voiced.iter().enumerate().take(last + 1).skip(first) {
        match (v, silent_from) {
            (false, None) => silent_from = Some(i),
            (true, Some(from)) => {
                if i - from >= MIN_PAUSE_FRAMES {
                    pauses.push((from, i));
                }
                silent_from = None;
            }
            _ => {}
        }
    }
    let text_frames = text.trim().chars().count() as f32 / CHARS_PER_SECOND * (16000 / FRAME) as f32;
    let text_ends = first as f32 + text_frames;
    // The pause nearest to where the text ends, among those with enough speech after them.
    let (pause_start, pause_end) = pauses
        .into_iter()
        .filter(|&(_, end)| voiced[end..=last].iter().filter(|&&v| v).count() >= MIN_TAIL_VOICED_FRAMES)
        .min_by(|a, b| (a.0 as f32 - text_ends).abs().total_cmp(&(b.0 as f32 - text_ends).abs()))?;
    // Speech before the pause plus half the speech after it: a text that would not last that long stopped at
    // the pause (the pause itself is not speech).
    let covers = (pause_start - first) as f32 + (last + 1 - pause_end) as f32 / 2.0;
    (text_frames < covers).then(|| (pause_end * FRAME).saturating_sub(TAIL_PRE_ROLL))
}

/// Words compared loosely: lower case, letters and digits only.
fn normalised(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// `text` completed with `tail` (the transcript of the audio from the pause on); None when the tail adds
/// nothing: it is empty, or its words are already at the end of `text` (the first decode had not stopped,
/// or the second one heard the same words a little differently).
pub(crate) fn join(text: &str, tail: &str) -> Option<String> {
    let tail_words: Vec<(&str, String)> =
        tail.split_whitespace().map(|w| (w, normalised(w))).filter(|(_, n)| !n.is_empty()).collect();
    if tail_words.is_empty() {
        return None;
    }
    let words: Vec<String> = text.split_whitespace().map(normalised).filter(|n| !n.is_empty()).collect();
    // Already there: the text ends as the tail does, and at least half of the tail's words are, in order,
    // among the text's last words (common words alone do not count: "a", "in" are in most sentences).
    let recent = &words[words.len().saturating_sub(tail_words.len() + 2)..];
    let ends_alike = tail_words.last().is_some_and(|(_, last)| words.iter().rev().take(2).any(|w| w == last));
    if ends_alike && in_order(&tail_words, recent) * 2 >= tail_words.len() {
        return None;
    }
    // The text may end with the tail's first words (it stopped inside the tail): keep them once.
    let overlap = (1..=words.len().min(tail_words.len()))
        .rev()
        .find(|&k| tail_words[..k].iter().map(|(_, n)| n).eq(&words[words.len() - k..]))
        .unwrap_or(0);
    let rest: Vec<&str> = tail_words[overlap..].iter().map(|(w, _)| *w).collect();
    if rest.is_empty() {
        return None;
    }
    let text = text.trim();
    Some(if text.is_empty() { rest.join(" ") } else { format!("{text} {}", rest.join(" ")) })
}

/// How many of `tail`'s words appear in `text` in the same order (longest common subsequence).
fn in_order(tail: &[(&str, String)], text: &[String]) -> usize {
    let mut row = vec![0usize; text.len() + 1];
    for (_, word) in tail {
        let mut diagonal = 0;
        for (j, other) in text.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if word == other { diagonal + 1 } else { above.max(row[j]) };
            diagonal = above;
        }
    }
    row[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16 kHz audio: a 200 Hz tone (voiced) for each `(true, seconds)`, silence for `(false, seconds)`.
    fn audio(parts: &[(bool, f32)]) -> Vec<f32> {
        let mut pcm = Vec::new();
        for &(voiced, seconds) in parts {
            let n = (seconds * 16000.0) as usize;
            let start = pcm.len();
            pcm.extend((0..n).map(|i| {
                if voiced {
                    0.3 * ((start + i) as f32 * 2.0 * std::f32::consts::PI * 200.0 / 16000.0).sin()
                } else {
                    0.0
                }
            }));
        }
        pcm
    }

    #[test]
    fn a_text_that_stops_at_the_pause_is_decoded_again_from_there() {
        // 0.3 s lead-in, 1.6 s of speech, a 0.5 s pause, 1.4 s of speech, 0.6 s of trailing silence.
        let pcm = audio(&[(false, 0.3), (true, 1.6), (false, 0.5), (true, 1.4), (false, 0.6)]);
        // 28 characters: ~1.4 s of speech, the first part only.
        let start = lost_tail(&pcm, "How many days are in a week?").expect("the tail is lost");
        // The pause ends at 2.4 s; decoding starts 200 ms before.
        assert_eq!(start, 38400 - 3200);
        // The whole of it (53 characters, ~2.7 s) covers the audio.
        assert_eq!(lost_tail(&pcm, "How many days are in a week? And how many in a month?"), None);
    }

    #[test]
    fn no_pause_short_pauses_and_short_tails_are_left_alone() {
        let no_pause = audio(&[(false, 0.3), (true, 3.0), (false, 0.6)]);
        assert_eq!(lost_tail(&no_pause, "Hi."), None);
        let short_pause = audio(&[(false, 0.3), (true, 1.6), (false, 0.2), (true, 1.4), (false, 0.6)]);
        assert_eq!(lost_tail(&short_pause, "How many days are in a week?"), None);
        // A cough after the pause (200 ms) is no tail worth a second decode.
        let cough = audio(&[(false, 0.3), (true, 1.6), (false, 0.5), (true, 0.2), (false, 0.6)]);
        assert_eq!(lost_tail(&cough, "How many days are in a week?"), None);
        assert_eq!(lost_tail(&audio(&[(false, 1.0)]), ""), None);
    }

    #[test]
    fn with_several_pauses_the_one_where_the_text_stops_is_chosen() {
        // Speech 0.3–1.3, pause, 1.8–2.8, pause, 3.3–4.3 s.
        let pcm = audio(&[(false, 0.3), (true, 1.0), (false, 0.5), (true, 1.0), (false, 0.5), (true, 1.0)]);
        // ~2 s of text (40 characters): stops at the second pause (ends 3.3 s).
        let start = lost_tail(&pcm, "One two three four five six seven eight.").expect("the tail is lost");
        assert_eq!(start, 165 * 320 - 3200);
        // ~1 s of text: the first pause (ends 1.8 s).
        let start = lost_tail(&pcm, "One two three..").expect("the tail is lost");
        assert_eq!(start, 90 * 320 - 3200);
    }

    #[test]
    fn the_tail_is_appended_once() {
        let text = "How many days are in a week?";
        assert_eq!(
            join(text, "And how many in a month?").as_deref(),
            Some("How many days are in a week? And how many in a month?")
        );
        // The first decode had started the tail: its words are not repeated.
        assert_eq!(
            join("How many days are in a week? And how", "and how many in a month?").as_deref(),
            Some("How many days are in a week? And how many in a month?")
        );
        // Nothing new: the tail's words are already at the end (heard a little differently).
        assert_eq!(join("Days in a week? And in a month?", "and in the month"), None);
        assert_eq!(join(text, ""), None);
        assert_eq!(join(text, " . "), None);
        assert_eq!(join("", "A month.").as_deref(), Some("A month."));
    }
}
