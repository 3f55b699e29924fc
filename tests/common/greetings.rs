//! What the far end of a campaign call plays: a voicemail greeting ending in a beep, or a person answering
//! (espeak-ng speech at 8 kHz, trimmed of the silence espeak pads around it).

use super::espeak_speech;

/// `ms` of line silence at 8 kHz.
pub(crate) fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

/// espeak-ng's speech without the silence it pads around it (a recorded greeting's beep follows its last word).
pub(crate) fn spoken(text: &str) -> Vec<i16> {
    let speech = espeak_speech(text, 8000);
    let first = speech.iter().position(|s| s.unsigned_abs() > 300).unwrap_or(0);
    let last = speech.iter().rposition(|s| s.unsigned_abs() > 300).map_or(speech.len(), |at| at + 1);
    speech[first..last].to_vec()
}

/// A voicemail greeting (8 kHz): 300 ms of line, the greeting, 300 ms, a 500 ms 1 kHz beep; and the beep's end
/// in ms from the clip's start.
pub(crate) fn machine_greeting() -> (Vec<i16>, u64) {
    let mut clip = silence(300);
    clip.extend(spoken(
        "Hi, you have reached the voicemail of Alex Morgan. I cannot take your call right now. \
         Please leave a message after the tone.",
    ));
    clip.extend(silence(300));
    clip.extend((0..4000).map(|i| ((i as f32 * 1000.0 * std::f32::consts::TAU / 8000.0).sin() * 0.4 * 32767.0) as i16));
    let beep_end = clip.len() as u64 / 8;
    (clip, beep_end)
}

/// A person answering: 400 ms of line, "Hello?", then waiting.
pub(crate) fn person_answering() -> Vec<i16> {
    let mut clip = silence(400);
    clip.extend(spoken("Hello?"));
    clip
}

/// A North American ringback (8 kHz): 440 + 480 Hz at −24 dBFS each, 2 s on, then `off_ms` of line.
pub(crate) fn ringback(off_ms: usize) -> Vec<i16> {
    let mut clip: Vec<i16> = (0..16_000)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let v = (t * 440.0 * std::f32::consts::TAU).sin() + (t * 480.0 * std::f32::consts::TAU).sin();
            (v * 0.06 * 32767.0) as i16
        })
        .collect();
    clip.extend(silence(off_ms));
    clip
}

/// A network's announcement over early media (8 kHz): the special information tone (913.8, 1370.6,
/// 1776.7 Hz, 330 ms each), then "The number you are calling is switched off. Please try again later." and
/// 700 ms of line, `times` times.
pub(crate) fn announcement(times: usize) -> Vec<i16> {
    let tone = |freq: f32| -> Vec<i16> {
        (0..2640).map(|i| ((i as f32 * freq * std::f32::consts::TAU / 8000.0).sin() * 0.2 * 32767.0) as i16).collect()
    };
    let mut clip = silence(200);
    for freq in [913.8, 1370.6, 1776.7] {
        clip.extend(tone(freq));
    }
    clip.extend(silence(300));
    let words = spoken("The number you are calling is switched off. Please try again later.");
    for _ in 0..times {
        clip.extend(&words);
        clip.extend(silence(700));
    }
    clip
}
