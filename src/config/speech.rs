//! Cloud links of `stt_model` and `tts_model`: `provider:model` on a speech provider (Deepgram, ElevenLabs,
//! Cartesia, Sarvam, OpenAI, the original's AI4Bharat servers), checked when the configuration loads: the
//! provider is known and does that stage, its API root is a URL, its key is in `VOICERA_<PROVIDER>_API_KEY`,
//! and a voice is named where the provider has no default one (`tts_voices`).

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::agents::{provider_env, Clouds};

/// Speech providers with a client in `models-cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpeechProvider {
    /// Deepgram: live STT (`deepgram:nova-3`), Aura TTS (`deepgram:aura-2-thalia-en`; the voice is the model).
    Deepgram,
    /// ElevenLabs: realtime Scribe STT, streaming TTS.
    ElevenLabs,
    /// Cartesia: WebSocket TTS.
    Cartesia,
    /// Sarvam: Saarika STT, Bulbul TTS.
    Sarvam,
    /// OpenAI: transcription, speech.
    OpenAi,
    /// The original's own servers: IndicConformer STT (`/transcribe`), Indic Parler TTS (WebSocket).
    Ai4Bharat,
}

/// What the configuration knows of a speech provider.
pub(crate) struct SpeechProviderSpec {
    /// The name in `provider:model`, and in `VOICERA_<NAME>_…`.
    pub(crate) name: &'static str,
    /// The provider.
    pub(crate) provider: SpeechProvider,
    /// The public API root (`VOICERA_<NAME>_BASE_URL` overrides); `None`: the operator's server, the variable
    /// is required.
    pub(crate) base_url: Option<&'static str>,
    /// A key is required (`VOICERA_<NAME>_API_KEY`).
    pub(crate) needs_key: bool,
    /// Speech to text is offered.
    pub(crate) stt: bool,
    /// Text to speech is offered.
    pub(crate) tts: bool,
    /// The voice used when `tts_voices` names none; `None` with `tts`: a voice must be named (or, for
    /// Deepgram, the model is the voice).
    pub(crate) default_voice: Option<&'static str>,
}

/// Every speech provider, in the order `voicera providers check` lists them.
pub(crate) const SPEECH_PROVIDERS: &[SpeechProviderSpec] = &[
    SpeechProviderSpec {
        name: "deepgram",
        provider: SpeechProvider::Deepgram,
        base_url: Some(voicera_models_cloud::deepgram::DEFAULT_BASE_URL),
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "elevenlabs",
        provider: SpeechProvider::ElevenLabs,
        base_url: Some(voicera_models_cloud::elevenlabs::DEFAULT_BASE_URL),
        needs_key: true,
        stt: true,
        tts: true,
        // "Rachel", one of the premade voices every account has.
        default_voice: Some("21m00Tcm4TlvDzyHsCwe"),
    },
    SpeechProviderSpec {
        name: "cartesia",
        provider: SpeechProvider::Cartesia,
        base_url: Some(voicera_models_cloud::cartesia::DEFAULT_BASE_URL),
        needs_key: true,
        stt: false,
        tts: true,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "sarvam",
        provider: SpeechProvider::Sarvam,
        base_url: Some(voicera_models_cloud::sarvam::DEFAULT_BASE_URL),
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: Some("anushka"),
    },
    SpeechProviderSpec {
        name: "openai",
        provider: SpeechProvider::OpenAi,
        base_url: Some("https://api.openai.com/v1"),
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: Some("alloy"),
    },
    SpeechProviderSpec {
        name: "ai4bharat",
        provider: SpeechProvider::Ai4Bharat,
        base_url: None,
        needs_key: false,
        stt: true,
        tts: true,
        // Parler's description of the speaker.
        default_voice: Some(voicera_models_local::parler::DEFAULT_DESCRIPTION),
    },
];

/// A model on a speech provider, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloudSpeech {
    /// The name the configuration gave it (`deepgram:nova-3`).
    pub(crate) name: String,
    /// The provider.
    pub(crate) provider: SpeechProvider,
    /// Its API root (for AI4Bharat's TTS: the Parler server's WebSocket URL).
    pub(crate) base_url: String,
    /// The provider's model name.
    pub(crate) model: String,
    /// The variable holding the key, read when the agent loads (keys stay out of the configuration); the
    /// agent's org's own key for the provider wins.
    pub(crate) api_key_env: Option<String>,
    /// The provider takes no call without a key.
    pub(crate) needs_key: bool,
    /// The voice (TTS only).
    pub(crate) voice: Option<String>,
}

/// Which stage a link serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Stt,
    Tts,
}

/// A `provider:model` link of `stt_model` or `tts_model` (`key`), with the agent's `tts_voices`.
pub(super) fn cloud_link(
    at: &str,
    key: &str,
    stage: Stage,
    provider: &str,
    model: &str,
    voices: &BTreeMap<String, String>,
    clouds: Clouds<'_>,
) -> Result<CloudSpeech> {
    let name = format!("{provider}:{model}");
    if model.trim().is_empty() {
        bail!("{at}.{key}: {name:?} must be provider:model (deepgram:nova-3)");
    }
    let offered = |spec: &&SpeechProviderSpec| match stage {
        Stage::Stt => spec.stt,
        Stage::Tts => spec.tts,
    };
    let Some(spec) = SPEECH_PROVIDERS.iter().find(|s| s.name == provider) else {
        let known: Vec<&str> = SPEECH_PROVIDERS.iter().filter(offered).map(|s| s.name).collect();
        bail!("{at}.{key}: unknown provider {provider:?} in {name:?} (known: {})", known.join(", "));
    };
    if !offered(&spec) {
        let known: Vec<&str> = SPEECH_PROVIDERS.iter().filter(offered).map(|s| s.name).collect();
        let what = if stage == Stage::Stt { "speech to text" } else { "text to speech" };
        bail!("{at}.{key}: {provider} offers no {what} (providers that do: {})", known.join(", "));
    }
    let env = provider_env(provider);
    // The Parler server is a WebSocket of its own, apart from the STT server.
    let (base_url, from) = match (spec.provider, stage) {
        (SpeechProvider::Ai4Bharat, Stage::Tts) => {
            let var = format!("{env}_TTS_URL");
            match std::env::var(&var).ok().filter(|v| !v.is_empty()) {
                Some(url) => (url, var),
                None => bail!("{at}.{key}: {name:?} is the operator's own server: set its URL in {var}"),
            }
        }
        _ => match (clouds.providers.base_url(provider), spec.base_url) {
            (Some(found), _) => found,
            (None, Some(url)) => (url.to_string(), String::new()),
            (None, None) => bail!(
                "{at}.{key}: {name:?} is the operator's own server: set its URL in {env}_BASE_URL or \
                 [providers.{provider}] base_url"
            ),
        },
    };
    if !["http://", "https://", "ws://", "wss://"].iter().any(|s| base_url.starts_with(s)) {
        bail!("{from}: {base_url:?} must start with http://, https://, ws:// or wss://");
    }
    let api_key_env = clouds.providers.key_var(provider);
    if spec.needs_key && api_key_env.is_none() && clouds.keys_now {
        bail!("{at}.{key}: {name:?} needs a key in {}", clouds.providers.key_places(provider));
    }
    let voice = match stage {
        Stage::Stt => None,
        Stage::Tts => match (voices.get(provider), spec.default_voice, spec.provider) {
            (Some(voice), _, _) => Some(voice.clone()),
            (None, Some(voice), _) => Some(voice.to_string()),
            (None, None, SpeechProvider::Deepgram) => None,
            (None, None, _) => bail!("{at}.tts_voices: {provider} has no default voice; name one ({provider} = \"…\")"),
        },
    };
    Ok(CloudSpeech {
        name,
        provider: spec.provider,
        base_url: base_url.trim_end_matches('/').to_string(),
        model: model.to_string(),
        api_key_env,
        needs_key: spec.needs_key,
        voice,
    })
}

/// `tts_voices` names only providers the agent's `tts_model` uses.
pub(super) fn check_voices(at: &str, voices: &BTreeMap<String, String>, used: &[&str]) -> Result<()> {
    match voices.keys().find(|p| !used.contains(&p.as_str())) {
        Some(unused) => bail!("{at}.tts_voices: {unused:?} is not a provider of tts_model"),
        None => Ok(()),
    }
}
