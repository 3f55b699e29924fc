//! espeak-ng text-to-speech: formant synthesis, robotic but instant (~30 ms a clause), and it speaks every
//! language we serve (en, hi, bn, ta, te, mr, gu, kn, ml, pa, ur, …). It is the always-available voice and
//! the fallback behind neural TTS. It runs as the `espeak-ng` program (Debian package `espeak-ng`), text on
//! stdin, WAV on stdout, one process per clause on the inference pool.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use voicera_models::{TextToSpeech, TtsStream};

use crate::clause_audio::ClauseAudio;
use crate::pool::InferencePool;
use crate::Error;

/// espeak-ng's output rate.
pub const ESPEAK_RATE: u32 = 22050;

/// The espeak-ng voice for a BCP 47 language tag.
pub fn voice_for(language: &str) -> Result<&'static str, Error> {
    let lang = language.to_ascii_lowercase().replace('_', "-");
    Ok(match lang.as_str() {
        "en" | "en-us" => "en-us",
        "en-in" => "en-in",
        "en-gb" => "en-gb",
        _ => match lang.split('-').next().unwrap_or("") {
            "en" => "en-us",
            "hi" => "hi",
            "bn" => "bn",
            "ta" => "ta",
            "te" => "te",
            "mr" => "mr",
            "gu" => "gu",
            "kn" => "kn",
            "ml" => "ml",
            "pa" => "pa",
            "ur" => "ur",
            "or" => "or",
            "as" => "as",
            "ne" => "ne",
            "es" => "es",
            "fr" => "fr",
            "de" => "de",
            _ => return Err(Error::Unsupported(format!("espeak-ng has no voice for language {language:?}"))),
        },
    })
}

/// Synthesises `text` with `voice` at `words_per_minute`; returns 22.05 kHz mono samples.
pub fn synthesize(text: &str, voice: &str, words_per_minute: u32) -> Result<Vec<i16>, Error> {
    let wpm = words_per_minute.to_string();
    let wav = run(&["--stdout", "--stdin", "-b", "1", "-v", voice, "-s", &wpm], text, "failed")?;
    let (rate, samples) = crate::wav::parse_pcm16(&wav)?;
    if rate != ESPEAK_RATE {
        return Err(Error::Format(format!("espeak-ng produced {rate} Hz audio, expected {ESPEAK_RATE}")));
    }
    Ok(samples)
}

/// Runs `espeak-ng` with `args`, `text` on its standard input; its standard output, or an error that says
/// what `failed` (with espeak-ng's own message).
pub(crate) fn run(args: &[&str], text: &str, failed: &str) -> Result<Vec<u8>, Error> {
    let mut child = Command::new("espeak-ng")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Unavailable(format!("cannot run espeak-ng (apt install espeak-ng): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(Error::Unavailable(format!(
            "espeak-ng {failed} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// espeak-ng as the conversation engine's [`TextToSpeech`].
#[derive(Clone)]
pub struct EspeakTts {
    voice: Arc<str>,
    words_per_minute: u32,
    pool: InferencePool,
}

impl EspeakTts {
    /// A voice for `language` (fails for a language espeak-ng lacks).
    pub fn new(language: &str, pool: InferencePool) -> Result<EspeakTts, Error> {
        Ok(EspeakTts { voice: voice_for(language)?.into(), words_per_minute: 165, pool })
    }

    /// A named espeak-ng voice (e.g. `hi+f3`); an unknown voice fails at the first synthesis, with
    /// espeak-ng's message.
    pub fn with_voice(voice: &str, pool: InferencePool) -> EspeakTts {
        EspeakTts { voice: voice.into(), words_per_minute: 165, pool }
    }
}

impl TextToSpeech for EspeakTts {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let (text, voice, wpm) = (text.to_string(), Arc::clone(&self.voice), self.words_per_minute);
        Box::new(ClauseAudio::synthesize(&self.pool, ESPEAK_RATE, move || synthesize(&text, &voice, wpm)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_map_to_voices() {
        assert_eq!(voice_for("en").unwrap(), "en-us");
        assert_eq!(voice_for("en-IN").unwrap(), "en-in");
        assert_eq!(voice_for("hi-IN").unwrap(), "hi");
        assert_eq!(voice_for("ta").unwrap(), "ta");
        assert!(voice_for("xx").unwrap_err().to_string().contains("no voice"));
    }

    #[test]
    fn speaks_english_and_hindi() {
        for (text, voice) in [("Hello there, how are you?", "en-us"), ("नमस्ते, आप कैसे हैं?", "hi")]
        {
            let pcm = synthesize(text, voice, 165).unwrap();
            let seconds = pcm.len() as f32 / ESPEAK_RATE as f32;
            assert!((0.5..5.0).contains(&seconds), "{voice}: {seconds} s");
            let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak > 3000, "{voice}: audible speech, peak {peak}");
        }
    }
}
