//! An agent's recogniser and voice from its configuration: local engines, cloud clients (`provider:model`),
//! and fallback chains of them ([`voicera_models::speech_chain`]).

use std::sync::Arc;

use anyhow::{bail, Result};
use voicera_media::dsp::Resampler;
use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, SystemClock};
use voicera_models::speech_chain::{FallbackStt, FallbackTts};
use voicera_models::{ModelError, SpeechToText, Switch, TextToSpeech, TtsStream};
use voicera_models_cloud::ai4bharat::{Ai4BharatStt, Ai4BharatSttConfig, ParlerConfig, ParlerTts};
use voicera_models_cloud::cartesia::{CartesiaConfig, CartesiaTts};
use voicera_models_cloud::deepgram::{DeepgramStt, DeepgramSttConfig, DeepgramTts, DeepgramTtsConfig};
use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsStt, ElevenLabsTts};
use voicera_models_cloud::openai_stt::OpenAiStt;
use voicera_models_cloud::openai_tts::{OpenAiTts, OpenAiTtsConfig};
use voicera_models_cloud::sarvam::{SarvamStt, SarvamTts, SarvamTtsConfig};

use crate::config::{CloudSpeech, SpeechProvider};
use crate::provider_keys::{key_for, OrgKeys};

/// The rate every link of a TTS chain speaks at: the engine's, so a switch never changes the speed.
const CHAIN_RATE: u32 = 16_000;

/// The key of `speech`: the org's, else read from its variable now (never logged).
fn key(speech: &CloudSpeech, keys: &OrgKeys) -> Result<String> {
    let provider = speech.name.split_once(':').map(|(provider, _)| provider);
    let key = key_for(keys, &speech.name, provider, speech.api_key_env.as_deref(), speech.needs_key)?;
    Ok(key.unwrap_or_default())
}

/// The recogniser for a cloud link, calling with the org's key when `keys` has one.
pub(crate) fn cloud_stt(speech: &CloudSpeech, keys: &OrgKeys) -> Result<Arc<dyn SpeechToText>> {
    let (base, model, key) = (speech.base_url.as_str(), speech.model.as_str(), key(speech, keys)?);
    tracing::info!(model = %speech.name, %base, "speech to text in the cloud");
    Ok(match speech.provider {
        SpeechProvider::Deepgram => Arc::new(DeepgramStt::new(DeepgramSttConfig::new(base, model, &key))),
        SpeechProvider::ElevenLabs => Arc::new(ElevenLabsStt::new(base, model, &key)),
        SpeechProvider::Sarvam => Arc::new(SarvamStt::new(base, model, &key)),
        SpeechProvider::OpenAi => Arc::new(OpenAiStt::new(base, model, &key)),
        SpeechProvider::Ai4Bharat => Arc::new(Ai4BharatStt::new(Ai4BharatSttConfig::new(base))),
        SpeechProvider::Cartesia => bail!("{}: Cartesia offers no speech to text", speech.name),
    })
}

/// The voice for a cloud link speaking `language`, calling with the org's key when `keys` has one.
pub(crate) fn cloud_tts(speech: &CloudSpeech, language: &str, keys: &OrgKeys) -> Result<Arc<dyn TextToSpeech>> {
    let (base, model, key) = (speech.base_url.as_str(), speech.model.as_str(), key(speech, keys)?);
    let voice = speech.voice.as_deref().unwrap_or_default();
    tracing::info!(model = %speech.name, %base, voice, "text to speech in the cloud");
    Ok(match speech.provider {
        SpeechProvider::Deepgram => Arc::new(DeepgramTts::new(DeepgramTtsConfig::new(base, model, &key))),
        SpeechProvider::ElevenLabs => Arc::new(ElevenLabsTts::new(ElevenLabsConfig::new(base, model, voice, &key))),
        SpeechProvider::Cartesia => Arc::new(CartesiaTts::new(CartesiaConfig::new(base, model, voice, language, &key))),
        SpeechProvider::Sarvam => Arc::new(SarvamTts::new(SarvamTtsConfig::new(base, model, voice, language, &key))),
        SpeechProvider::OpenAi => Arc::new(OpenAiTts::new(OpenAiTtsConfig::new(base, model, voice, &key))),
        SpeechProvider::Ai4Bharat => Arc::new(ParlerTts::new(ParlerConfig::new(base, voice, language))),
    })
}

/// A recogniser chain over named links.
pub(crate) fn stt_chain(links: Vec<(String, Arc<dyn SpeechToText>)>) -> Arc<dyn SpeechToText> {
    let names: Vec<&str> = links.iter().map(|(name, _)| name.as_str()).collect();
    tracing::info!(chain = ?names, "speech-to-text fallback chain");
    let links = links.into_iter().map(|(name, model)| Link::new(name, model, BreakerPolicy::default())).collect();
    Arc::new(FallbackStt::new(links, ChainBudget::default(), Arc::new(SystemClock)))
}

/// A voice chain over named links, each resampled to [`CHAIN_RATE`].
pub(crate) fn tts_chain(links: Vec<(String, Arc<dyn TextToSpeech>)>) -> Arc<dyn TextToSpeech> {
    let names: Vec<&str> = links.iter().map(|(name, _)| name.as_str()).collect();
    tracing::info!(chain = ?names, "text-to-speech fallback chain");
    let links = links
        .into_iter()
        .map(|(name, model)| {
            let model: Arc<dyn TextToSpeech> = Arc::new(AtRate(model));
            Link::new(name, model, BreakerPolicy::default())
        })
        .collect();
    Arc::new(FallbackTts::new(links, ChainBudget::default(), Arc::new(SystemClock)))
}

/// A voice resampled to [`CHAIN_RATE`], so that the links of a chain can stand in for each other.
struct AtRate(Arc<dyn TextToSpeech>);

impl TextToSpeech for AtRate {
    fn speak(&self, text: &str) -> Box<dyn TtsStream> {
        let stream = self.0.speak(text);
        let rate = stream.sample_rate();
        let resampler = (rate != CHAIN_RATE).then(|| Resampler::new(rate, CHAIN_RATE));
        Box::new(AtRateStream { stream, resampler, scratch: Vec::new() })
    }
}

struct AtRateStream {
    stream: Box<dyn TtsStream>,
    resampler: Option<Resampler>,
    scratch: Vec<i16>,
}

impl TtsStream for AtRateStream {
    fn sample_rate(&self) -> u32 {
        CHAIN_RATE
    }

    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
        let Some(resampler) = self.resampler.as_mut() else { return self.stream.poll_audio(out) };
        self.scratch.clear();
        let more = self.stream.poll_audio(&mut self.scratch);
        let start = out.len();
        out.resize(start + resampler.max_output(self.scratch.len()), 0);
        let n = resampler.process(&self.scratch, &mut out[start..]);
        out.truncate(start + n);
        more
    }

    fn failure(&self) -> Option<&ModelError> {
        self.stream.failure()
    }

    fn take_switch(&mut self) -> Option<Switch> {
        self.stream.take_switch()
    }
}
