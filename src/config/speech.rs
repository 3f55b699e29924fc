//! Cloud links of `stt_model` and `tts_model`: `provider:model` on a speech provider (Deepgram, ElevenLabs,
//! Cartesia, Sarvam, OpenAI, Google, Bhashini, the original's AI4Bharat servers), checked when the
//! configuration loads: the provider is known and does that stage, serves the agent's language
//! ([`LANGUAGES`]), its API root is a URL, its key is in `VOICERA_<PROVIDER>_API_KEY`, and a voice is named
//! where the provider has no default one (`tts_voices`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};

use super::agents::{provider_env, Clouds};

/// Speech providers with a client in `models-cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpeechProvider {
    /// Deepgram: live STT (`deepgram:nova-3`), Aura TTS (`deepgram:aura-2-thalia-en`; the voice is the model).
    Deepgram,
    /// ElevenLabs: realtime Scribe STT, streaming TTS over HTTP.
    ElevenLabs,
    /// ElevenLabs TTS over its stream-input WebSocket (`elevenlabs-ws:eleven_flash_v2_5`); the account, key
    /// and API root are ElevenLabs' own.
    ElevenLabsWs,
    /// Google Cloud Speech-to-Text (`google:latest_short`) and Text-to-Speech (`google:hi-IN-Neural2-A`: the
    /// model is the voice) with an API key.
    Google,
    /// Bhashini's ULCA pipeline (`bhashini:asr`, `bhashini:tts`); the key is `<userID>:<ulcaApiKey>`.
    Bhashini,
    /// Bhashini's Dhruva streaming ASR over its WebSocket (`dhruva:indic-conformer`, or a full service id
    /// `dhruva:bhashini/ai4b/indic-conformer/grpc`); the key is the inference API key.
    Dhruva,
    /// Google Speech-to-Text v2 streaming over gRPC (`google-stream:chirp_2`, `google-stream:long`); Google's
    /// key, API root and `[providers.google]` table, the project in `VOICERA_GOOGLE_PROJECT`.
    GoogleStream,
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
    /// The public API root of its text to speech when it differs (Google's two APIs).
    pub(crate) tts_base_url: Option<&'static str>,
    /// The provider whose key, API root and `[providers]` table it uses (the name itself but for a second
    /// protocol of one provider).
    pub(crate) account: &'static str,
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
        tts_base_url: None,
        account: "deepgram",
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "elevenlabs",
        provider: SpeechProvider::ElevenLabs,
        base_url: Some(voicera_models_cloud::elevenlabs::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "elevenlabs",
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
        tts_base_url: None,
        account: "cartesia",
        needs_key: true,
        stt: false,
        tts: true,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "sarvam",
        provider: SpeechProvider::Sarvam,
        base_url: Some(voicera_models_cloud::sarvam::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "sarvam",
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: Some("anushka"),
    },
    SpeechProviderSpec {
        name: "openai",
        provider: SpeechProvider::OpenAi,
        base_url: Some("https://api.openai.com/v1"),
        tts_base_url: None,
        account: "openai",
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: Some("alloy"),
    },
    SpeechProviderSpec {
        name: "elevenlabs-ws",
        provider: SpeechProvider::ElevenLabsWs,
        base_url: Some(voicera_models_cloud::elevenlabs::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "elevenlabs",
        needs_key: true,
        stt: false,
        tts: true,
        default_voice: Some("21m00Tcm4TlvDzyHsCwe"),
    },
    SpeechProviderSpec {
        name: "google",
        provider: SpeechProvider::Google,
        base_url: Some(voicera_models_cloud::google::DEFAULT_STT_BASE_URL),
        tts_base_url: Some(voicera_models_cloud::google::DEFAULT_TTS_BASE_URL),
        account: "google",
        needs_key: true,
        stt: true,
        tts: true,
        // The model names the voice (`google:hi-IN-Neural2-A`).
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "bhashini",
        provider: SpeechProvider::Bhashini,
        base_url: Some(voicera_models_cloud::bhashini::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "bhashini",
        needs_key: true,
        stt: true,
        tts: true,
        default_voice: Some("female"),
    },
    SpeechProviderSpec {
        name: "dhruva",
        provider: SpeechProvider::Dhruva,
        base_url: Some(voicera_models_cloud::dhruva::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "dhruva",
        needs_key: true,
        stt: true,
        tts: false,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "google-stream",
        provider: SpeechProvider::GoogleStream,
        base_url: Some(voicera_models_cloud::google_stream::DEFAULT_BASE_URL),
        tts_base_url: None,
        account: "google",
        needs_key: true,
        stt: true,
        tts: false,
        default_voice: None,
    },
    SpeechProviderSpec {
        name: "ai4bharat",
        provider: SpeechProvider::Ai4Bharat,
        base_url: None,
        tts_base_url: None,
        account: "ai4bharat",
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
    /// The provider whose key and `[providers]` table it uses (`elevenlabs` for `elevenlabs-ws`).
    pub(crate) account: &'static str,
    /// `[providers.<account>] timeout_ms`: the budget to connect and to the first result.
    pub(crate) timeout: Option<Duration>,
}

/// The languages of the original (reference §4), by code and name: "English (US)" and "English (India)"
/// are both `en`.
pub(crate) const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("hi", "Hindi"),
    ("bn", "Bengali"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("mr", "Marathi"),
    ("gu", "Gujarati"),
    ("kn", "Kannada"),
    ("ml", "Malayalam"),
    ("pa", "Punjabi"),
    ("or", "Odia"),
    ("as", "Assamese"),
    ("ur", "Urdu"),
    ("ne", "Nepali"),
    ("sa", "Sanskrit"),
    ("mni", "Manipuri"),
    ("brx", "Bodo"),
    ("doi", "Dogri"),
    ("kok", "Konkani"),
    ("ks", "Kashmiri"),
    ("mai", "Maithili"),
    ("sat", "Santali"),
    ("sd", "Sindhi"),
    ("bhb", "Bhili"),
];

/// Which of [`LANGUAGES`] a provider serves, for speech to text and for text to speech: what its documented
/// models take (the narrower list where its models differ), so that an agent is refused at start rather
/// than failing on its first call. A language outside [`LANGUAGES`] is not checked.
pub(crate) struct ServedLanguages {
    /// The provider, as `provider:model` names it.
    pub(crate) provider: &'static str,
    /// Languages its speech to text serves.
    pub(crate) stt: &'static [&'static str],
    /// Languages its text to speech serves.
    pub(crate) tts: &'static [&'static str],
}

/// The language × provider table (rendered into README.md by [`language_table`]).
pub(crate) const SERVED: &[ServedLanguages] = &[
    // developers.deepgram.com/docs/models-languages-overview: of these, Nova-3/Nova-2 take en and hi; Aura
    // voices are English.
    ServedLanguages { provider: "deepgram", stt: &["en", "hi"], tts: &["en"] },
    // elevenlabs.io/docs/capabilities/speech-to-text (Scribe, 99 languages) and
    // elevenlabs.io/docs/capabilities/text-to-speech (Flash/Turbo v2.5, Multilingual v2: of these en, hi, ta).
    ServedLanguages {
        provider: "elevenlabs",
        stt: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "or", "as", "ur", "ne", "sd"],
        tts: &["en", "hi", "ta"],
    },
    ServedLanguages { provider: "elevenlabs-ws", stt: &[], tts: &["en", "hi", "ta"] },
    // docs.cartesia.ai (Sonic-2: of these English and Hindi).
    ServedLanguages { provider: "cartesia", stt: &[], tts: &["en", "hi"] },
    // docs.sarvam.ai (Saarika and Bulbul: en-IN and ten Indian languages).
    ServedLanguages {
        provider: "sarvam",
        stt: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "or"],
        tts: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "or"],
    },
    // platform.openai.com/docs/guides/speech-to-text#supported-languages (Whisper's list; speech follows it).
    ServedLanguages {
        provider: "openai",
        stt: &["en", "hi", "bn", "ta", "te", "mr", "kn", "ml", "pa", "ur", "ne"],
        tts: &["en", "hi", "kn", "mr", "ne", "ta", "ur"],
    },
    // cloud.google.com/speech-to-text/docs/speech-to-text-supported-languages and
    // cloud.google.com/text-to-speech/docs/voices (the xx-IN voices).
    ServedLanguages {
        provider: "google",
        stt: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "ur", "ne"],
        tts: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "ur"],
    },
    // bhashini.gov.in: ASR for English and the 22 scheduled languages; TTS voices for these.
    ServedLanguages {
        provider: "bhashini",
        stt: &[
            "en", "as", "bn", "brx", "doi", "gu", "hi", "kn", "kok", "ks", "mai", "ml", "mni", "mr", "ne", "or", "pa",
            "sa", "sat", "sd", "ta", "te", "ur",
        ],
        tts: &["en", "as", "bn", "brx", "gu", "hi", "kn", "ml", "mni", "mr", "or", "pa", "ta", "te"],
    },
    // Dhruva's streaming IndicConformer (bhashini/ai4b/indic-conformer/grpc): the 22 scheduled languages.
    ServedLanguages {
        provider: "dhruva",
        stt: &[
            "as", "bn", "brx", "doi", "gu", "hi", "kn", "kok", "ks", "mai", "ml", "mni", "mr", "ne", "or", "pa", "sa",
            "sat", "sd", "ta", "te", "ur",
        ],
        tts: &[],
    },
    // cloud.google.com/speech-to-text/v2/docs/speech-to-text-supported-languages: streaming takes the same
    // xx-IN languages as `google:`.
    ServedLanguages {
        provider: "google-stream",
        stt: &["en", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "ur", "ne"],
        tts: &[],
    },
    // The original's servers: IndicConformer (the 22 scheduled languages; Bhili on /transcribe/bhili) and
    // Indic Parler-TTS (its 21 officially supported languages).
    ServedLanguages {
        provider: "ai4bharat",
        stt: &[
            "as", "bn", "brx", "doi", "gu", "hi", "kn", "kok", "ks", "mai", "ml", "mni", "mr", "ne", "or", "pa", "sa",
            "sat", "sd", "ta", "te", "ur", "bhb",
        ],
        tts: &[
            "en", "as", "bn", "brx", "doi", "gu", "hi", "kn", "kok", "mai", "ml", "mni", "mr", "ne", "or", "sa", "sat",
            "sd", "ta", "te", "ur",
        ],
    },
];

impl ServedLanguages {
    /// The languages served for `stage`.
    fn list(&self, stage: Stage) -> &'static [&'static str] {
        match stage {
            Stage::Stt => self.stt,
            Stage::Tts => self.tts,
        }
    }
}

/// `language`'s code as the table has it (`hi-IN` → `hi`).
fn base_language(language: &str) -> String {
    language.split(['-', '_']).next().unwrap_or(language).to_ascii_lowercase()
}

/// Whether `provider` serves `language` for `stage`: `None` when the table knows neither.
pub(crate) fn serves(provider: &str, stage: Stage, language: &str) -> Option<bool> {
    let code = base_language(language);
    LANGUAGES.iter().find(|(c, _)| *c == code)?;
    let served = SERVED.iter().find(|s| s.provider == provider)?;
    Some(served.list(stage).contains(&code.as_str()))
}

/// The table as README.md shows it: a row per language, the cloud providers serving it per stage.
pub(crate) fn language_table() -> String {
    let mut out = String::from("| Language | Cloud STT | Cloud TTS |\n|---|---|---|\n");
    for (code, name) in LANGUAGES {
        let list = |stage: Stage| {
            let names: Vec<&str> = SERVED.iter().filter(|s| s.list(stage).contains(code)).map(|s| s.provider).collect();
            if names.is_empty() {
                "—".to_string()
            } else {
                names.join(", ")
            }
        };
        out.push_str(&format!("| {name} (`{code}`) | {} | {} |\n", list(Stage::Stt), list(Stage::Tts)));
    }
    out
}

/// Which stage a link serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Stt,
    Tts,
}

/// A `provider:model` link of `stt_model` or `tts_model` (`key`) for an agent speaking `language`, with the
/// agent's `tts_voices`.
#[allow(clippy::too_many_arguments)]
pub(super) fn cloud_link(
    at: &str,
    key: &str,
    stage: Stage,
    provider: &str,
    model: &str,
    language: &str,
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
    if serves(provider, stage, language) == Some(false) {
        let code = base_language(language);
        let named = LANGUAGES.iter().find(|(c, _)| *c == code).map_or("", |(_, n)| n);
        let others: Vec<&str> =
            SERVED.iter().filter(|s| s.list(stage).contains(&code.as_str())).map(|s| s.provider).collect();
        let what = if stage == Stage::Stt { "speech to text" } else { "text to speech" };
        let others = if others.is_empty() { "none".to_string() } else { others.join(", ") };
        bail!(
            "{at}.{key}: {name:?} serves no {named} ({code}) {what}; the agent's language needs another link \
             (cloud providers that serve it: {others})"
        );
    }
    let account = spec.account;
    let env = provider_env(account);
    // The Parler server is a WebSocket of its own, apart from the STT server.
    let (base_url, from) = match (spec.provider, stage) {
        (SpeechProvider::Ai4Bharat, Stage::Tts) => {
            let var = format!("{env}_TTS_URL");
            match std::env::var(&var).ok().filter(|v| !v.is_empty()) {
                Some(url) => (url, var),
                None => bail!("{at}.{key}: {name:?} is the operator's own server: set its URL in {var}"),
            }
        }
        _ => match (clouds.providers.base_url(account), stage_base_url(spec, stage)) {
            (Some(found), _) => found,
            (None, Some(url)) => (url.to_string(), String::new()),
            (None, None) => bail!(
                "{at}.{key}: {name:?} is the operator's own server: set its URL in {env}_BASE_URL or \
                 [providers.{account}] base_url"
            ),
        },
    };
    if !["http://", "https://", "ws://", "wss://"].iter().any(|s| base_url.starts_with(s)) {
        bail!("{from}: {base_url:?} must start with http://, https://, ws:// or wss://");
    }
    let api_key_env = clouds.providers.key_var(account);
    if spec.needs_key && api_key_env.is_none() && clouds.keys_now {
        bail!("{at}.{key}: {name:?} needs a key in {}", clouds.providers.key_places(account));
    }
    let voice = match stage {
        Stage::Stt => None,
        Stage::Tts => match (voices.get(provider), spec.default_voice, spec.provider) {
            (Some(voice), _, _) => Some(voice.clone()),
            (None, Some(voice), _) => Some(voice.to_string()),
            (None, None, SpeechProvider::Deepgram | SpeechProvider::Google) => None,
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
        account,
        timeout: clouds.providers.timeout(account),
    })
}

/// A provider's public API root for `stage`.
fn stage_base_url(spec: &SpeechProviderSpec, stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::Tts => spec.tts_base_url.or(spec.base_url),
        Stage::Stt => spec.base_url,
    }
}

/// `tts_voices` names only providers the agent's `tts_model` uses.
pub(super) fn check_voices(at: &str, voices: &BTreeMap<String, String>, used: &[&str]) -> Result<()> {
    match voices.keys().find(|p| !used.contains(&p.as_str())) {
        Some(unused) => bail!("{at}.tts_voices: {unused:?} is not a provider of tts_model"),
        None => Ok(()),
    }
}
