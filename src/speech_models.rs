//! An agent's recogniser and voice from its configuration: local engines, cloud clients (`provider:model`),
//! and fallback chains of them ([`voicera_models::speech_chain`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use voicera_media::dsp::Resampler;
use voicera_models::fallback::{BreakerPolicy, ChainBudget, Link, Probe, SystemClock};
use voicera_models::speech_chain::{FallbackStt, FallbackTts};
use voicera_models::{ModelError, ModelStage, SpeechToText, Switch, TextToSpeech, TtsStream};
use voicera_models_cloud::ai4bharat::{Ai4BharatStt, Ai4BharatSttConfig, ParlerConfig, ParlerTts};
use voicera_models_cloud::bhashini::{BhashiniAccount, BhashiniStt, BhashiniTts};
use voicera_models_cloud::cartesia::{CartesiaConfig, CartesiaTts};
use voicera_models_cloud::check::{check_within, CheckedApi};
use voicera_models_cloud::deepgram::{DeepgramStt, DeepgramSttConfig, DeepgramTts, DeepgramTtsConfig};
use voicera_models_cloud::dhruva::{DhruvaConfig, DhruvaStt};
use voicera_models_cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsStt, ElevenLabsTts, ElevenLabsWsTts};
use voicera_models_cloud::google::{GoogleStt, GoogleTts, GoogleTtsConfig};
use voicera_models_cloud::google_stream::{GoogleStreamConfig, GoogleStreamStt};
use voicera_models_cloud::openai_stt::OpenAiStt;
use voicera_models_cloud::openai_tts::{OpenAiTts, OpenAiTtsConfig};
use voicera_models_cloud::sarvam::{SarvamStt, SarvamTts, SarvamTtsConfig};

use crate::config::{CloudSpeech, SpeechProvider};
use crate::provider_keys::{key_for, OrgKeys};

/// The rate every link of a TTS chain speaks at: the engine's, so a switch never changes the speed.
const CHAIN_RATE: u32 = 16_000;

/// How often a chain's prober looks for breakers whose hold is over.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe's budget when its provider sets no `timeout_ms`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a chain link carries besides its model: its provider's `timeout_ms` (the link's budget to its first
/// result) and its probe (the provider's `voicera providers check` request, made when its breaker's hold
/// ends). Local models have neither.
#[derive(Clone, Default)]
pub(crate) struct LinkCare {
    pub(crate) timeout: Option<Duration>,
    pub(crate) probe: Option<Probe>,
}

impl LinkCare {
    /// `link` with this care.
    pub(crate) fn apply<M: ?Sized>(self, mut link: Link<M>) -> Link<M> {
        if let Some(timeout) = self.timeout {
            link = link.with_first_result(timeout);
        }
        if let Some(probe) = self.probe {
            link = link.with_probe(probe);
        }
        link
    }
}

/// The probe of a provider: `api`'s check at `base_url` with `key`, within `timeout` (else 5 s).
pub(crate) fn probe(api: CheckedApi, base_url: &str, key: &str, timeout: Option<Duration>) -> Probe {
    let (base_url, key, timeout) = (base_url.to_string(), key.to_string(), timeout.unwrap_or(PROBE_TIMEOUT));
    Arc::new(move || check_within(api, &base_url, &key, timeout).map(|_| ()))
}

/// The care of a cloud link of `stage` (speech to text or text to speech): its timeout, and the probe its
/// provider's check makes (none for the AI4Bharat servers, which have no cheap request).
pub(crate) fn cloud_care(speech: &CloudSpeech, stage: ModelStage, keys: &OrgKeys) -> Result<LinkCare> {
    let key = key(speech, keys)?;
    let base = speech.base_url.as_str();
    let http_root = |url: &str| {
        url.strip_prefix("wss://")
            .map(|r| format!("https://{r}"))
            .or_else(|| url.strip_prefix("ws://").map(|r| format!("http://{r}")))
            .unwrap_or_else(|| url.to_string())
    };
    let check = match speech.provider {
        SpeechProvider::Deepgram => Some((CheckedApi::Deepgram, base.to_string())),
        SpeechProvider::ElevenLabs | SpeechProvider::ElevenLabsWs => Some((CheckedApi::ElevenLabs, http_root(base))),
        SpeechProvider::Cartesia => Some((CheckedApi::Cartesia, base.to_string())),
        SpeechProvider::Sarvam => Some((CheckedApi::Sarvam, base.to_string())),
        SpeechProvider::OpenAi => Some((CheckedApi::OpenAiCompatible, base.to_string())),
        // Each of Google's two APIs is probed with its own request at the link's root, so a key scoped to
        // one of them is probed by what it may call; the streaming recogniser's key is the same API's (a REST
        // recognition of silence at its root).
        SpeechProvider::Google | SpeechProvider::GoogleStream if stage == ModelStage::Stt => {
            Some((CheckedApi::GoogleStt, base.to_string()))
        }
        SpeechProvider::Google | SpeechProvider::GoogleStream => Some((CheckedApi::GoogleTts, base.to_string())),
        SpeechProvider::Bhashini => Some((CheckedApi::Bhashini, base.to_string())),
        SpeechProvider::Dhruva => Some((CheckedApi::Dhruva, base.to_string())),
        SpeechProvider::Ai4Bharat => None,
    };
    Ok(LinkCare { timeout: speech.timeout, probe: check.map(|(api, base)| probe(api, &base, &key, speech.timeout)) })
}

/// The key of `speech`: the org's, else read from its variable now (never logged).
fn key(speech: &CloudSpeech, keys: &OrgKeys) -> Result<String> {
    let key = key_for(keys, &speech.name, Some(speech.account), speech.api_key_env.as_deref(), speech.needs_key)?;
    Ok(key.unwrap_or_default())
}

/// `client` with the link's `timeout_ms`, when it has one.
fn timed<C>(client: C, timeout: Option<Duration>, with: impl FnOnce(C, Duration) -> C) -> C {
    match timeout {
        Some(timeout) => with(client, timeout),
        None => client,
    }
}

/// Bhashini's account from its key (`<userID>:<ulcaApiKey>`).
fn bhashini(speech: &CloudSpeech, key: &str) -> Result<BhashiniAccount> {
    BhashiniAccount::new(&speech.base_url, "", key).map_err(|e| anyhow::anyhow!("{}: {}", speech.name, e.message))
}

/// The Google Cloud project a `google-stream:` link recognises in (`VOICERA_GOOGLE_PROJECT`): v2 recognizers
/// are named by project, which an API key does not tell.
fn google_project(speech: &CloudSpeech) -> Result<String> {
    match std::env::var(GOOGLE_PROJECT_ENV).ok().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()) {
        Some(project) => Ok(project),
        None => bail!("{}: set the Google Cloud project of the key in {GOOGLE_PROJECT_ENV}", speech.name),
    }
}

/// Where `google-stream:` links find their project.
pub(crate) const GOOGLE_PROJECT_ENV: &str = "VOICERA_GOOGLE_PROJECT";

/// The recogniser for a cloud link, calling with the org's key when `keys` has one.
pub(crate) fn cloud_stt(speech: &CloudSpeech, keys: &OrgKeys) -> Result<Arc<dyn SpeechToText>> {
    let (base, model, key) = (speech.base_url.as_str(), speech.model.as_str(), key(speech, keys)?);
    let t = speech.timeout;
    tracing::info!(model = %speech.name, %base, "speech to text in the cloud");
    Ok(match speech.provider {
        SpeechProvider::Deepgram => {
            Arc::new(timed(DeepgramStt::new(DeepgramSttConfig::new(base, model, &key)), t, DeepgramStt::with_timeout))
        }
        SpeechProvider::ElevenLabs => {
            Arc::new(timed(ElevenLabsStt::new(base, model, &key), t, ElevenLabsStt::with_timeout))
        }
        SpeechProvider::Sarvam => Arc::new(timed(SarvamStt::new(base, model, &key), t, SarvamStt::with_timeout)),
        SpeechProvider::OpenAi => Arc::new(timed(OpenAiStt::new(base, model, &key), t, OpenAiStt::with_timeout)),
        SpeechProvider::Google => Arc::new(timed(GoogleStt::new(base, model, &key), t, GoogleStt::with_timeout)),
        SpeechProvider::Bhashini => {
            Arc::new(BhashiniStt::new(bhashini(speech, &key)?, t.unwrap_or(Duration::from_secs(15))))
        }
        SpeechProvider::Dhruva => {
            Arc::new(timed(DhruvaStt::new(DhruvaConfig::new(base, model, &key)), t, DhruvaStt::with_timeout))
        }
        SpeechProvider::GoogleStream => {
            let project = google_project(speech)?;
            let client = GoogleStreamStt::new(GoogleStreamConfig::new(base, model, &project, &key));
            Arc::new(timed(client, t, GoogleStreamStt::with_timeout))
        }
        SpeechProvider::Ai4Bharat => {
            let mut config = Ai4BharatSttConfig::new(base);
            config.timeout = t.unwrap_or(config.timeout);
            Arc::new(Ai4BharatStt::new(config))
        }
        SpeechProvider::Cartesia | SpeechProvider::ElevenLabsWs => {
            bail!("{}: the provider offers no speech to text", speech.name)
        }
    })
}

/// The voice for a cloud link speaking `language`, calling with the org's key when `keys` has one.
pub(crate) fn cloud_tts(speech: &CloudSpeech, language: &str, keys: &OrgKeys) -> Result<Arc<dyn TextToSpeech>> {
    let (base, model, key) = (speech.base_url.as_str(), speech.model.as_str(), key(speech, keys)?);
    let voice = speech.voice.as_deref().unwrap_or_default();
    let t = speech.timeout;
    tracing::info!(model = %speech.name, %base, voice, "text to speech in the cloud");
    Ok(match speech.provider {
        SpeechProvider::Deepgram => {
            Arc::new(timed(DeepgramTts::new(DeepgramTtsConfig::new(base, model, &key)), t, DeepgramTts::with_timeout))
        }
        SpeechProvider::ElevenLabs => {
            let client = ElevenLabsTts::new(ElevenLabsConfig::new(base, model, voice, &key));
            Arc::new(timed(client, t, ElevenLabsTts::with_timeout))
        }
        SpeechProvider::ElevenLabsWs => {
            let client = ElevenLabsWsTts::new(ElevenLabsConfig::new(base, model, voice, &key));
            Arc::new(timed(client, t, ElevenLabsWsTts::with_timeout))
        }
        SpeechProvider::Cartesia => {
            let client = CartesiaTts::new(CartesiaConfig::new(base, model, voice, language, &key));
            Arc::new(timed(client, t, CartesiaTts::with_timeout))
        }
        SpeechProvider::Sarvam => {
            let client = SarvamTts::new(SarvamTtsConfig::new(base, model, voice, language, &key));
            Arc::new(timed(client, t, SarvamTts::with_timeout))
        }
        SpeechProvider::OpenAi => {
            Arc::new(timed(OpenAiTts::new(OpenAiTtsConfig::new(base, model, voice, &key)), t, OpenAiTts::with_timeout))
        }
        // The model names the voice (`google:hi-IN-Neural2-A`).
        SpeechProvider::Google => {
            let client = GoogleTts::new(GoogleTtsConfig::new(base, model, language, &key));
            Arc::new(timed(client, t, GoogleTts::with_timeout))
        }
        SpeechProvider::Bhashini => {
            let timeout = t.unwrap_or(Duration::from_secs(15));
            Arc::new(BhashiniTts::new(bhashini(speech, &key)?, language, voice, timeout))
        }
        SpeechProvider::Dhruva | SpeechProvider::GoogleStream => {
            bail!("{}: the provider offers no text to speech", speech.name)
        }
        SpeechProvider::Ai4Bharat => {
            Arc::new(timed(ParlerTts::new(ParlerConfig::new(base, voice, language)), t, ParlerTts::with_timeout))
        }
    })
}

/// A recogniser chain over named links, each with its care; its prober runs while the chain lives.
pub(crate) fn stt_chain(links: Vec<(String, Arc<dyn SpeechToText>, LinkCare)>) -> Arc<dyn SpeechToText> {
    let names: Vec<&str> = links.iter().map(|(name, _, _)| name.as_str()).collect();
    tracing::info!(chain = ?names, "speech-to-text fallback chain");
    let links =
        links.into_iter().map(|(name, model, care)| care.apply(Link::new(name, model, BreakerPolicy::default())));
    let chain = FallbackStt::new(links.collect(), ChainBudget::default(), Arc::new(SystemClock));
    chain.spawn_prober(PROBE_EVERY);
    Arc::new(chain)
}

/// A voice chain over named links, each resampled to [`CHAIN_RATE`] and with its care; its prober runs
/// while the chain lives.
pub(crate) fn tts_chain(links: Vec<(String, Arc<dyn TextToSpeech>, LinkCare)>) -> Arc<dyn TextToSpeech> {
    let names: Vec<&str> = links.iter().map(|(name, _, _)| name.as_str()).collect();
    tracing::info!(chain = ?names, "text-to-speech fallback chain");
    let links = links.into_iter().map(|(name, model, care)| {
        let model: Arc<dyn TextToSpeech> = Arc::new(AtRate(model));
        care.apply(Link::new(name, model, BreakerPolicy::default()))
    });
    let chain = FallbackTts::new(links.collect(), ChainBudget::default(), Arc::new(SystemClock));
    chain.spawn_prober(PROBE_EVERY);
    Arc::new(chain)
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::config::SpeechProvider;

    /// A one-request HTTP server answering `status` and `body`; returns the request's head.
    fn fake(status: &str, body: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let status = status.to_string();
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        (format!("http://{address}"), handle)
    }

    fn speech(provider: SpeechProvider, base_url: &str, timeout: Option<Duration>) -> CloudSpeech {
        CloudSpeech {
            name: "deepgram:nova-3".into(),
            provider,
            base_url: base_url.into(),
            model: "nova-3".into(),
            api_key_env: Some("VOICERA_TEST_CARE_KEY".into()),
            needs_key: true,
            voice: None,
            account: "deepgram",
            timeout,
        }
    }

    #[test]
    fn a_cloud_links_care_is_its_timeout_and_its_providers_check_as_the_probe() {
        // One value for every test of this module: they run in parallel and share the variable.
        std::env::set_var("VOICERA_TEST_CARE_KEY", "care-key");
        let (base, server) = fake("200 OK", r#"{"projects":[]}"#);
        let care = cloud_care(
            &speech(SpeechProvider::Deepgram, &base, Some(Duration::from_millis(900))),
            ModelStage::Stt,
            &OrgKeys::none(),
        )
        .unwrap();
        assert_eq!(care.timeout, Some(Duration::from_millis(900)));
        let probe = care.probe.expect("a probe");
        assert!(probe().is_ok());
        let head = server.join().unwrap();
        assert!(head.starts_with("GET /v1/projects HTTP/1.1"), "{head}");
        assert!(head.to_ascii_lowercase().contains("authorization: token care-key"), "{head}");
        // A failing provider fails its probe with its own words.
        let (base, _server) = fake("503 Service Unavailable", r#"{"err_code":"BUSY","err_msg":"Try later"}"#);
        let error = (cloud_care(&speech(SpeechProvider::Deepgram, &base, None), ModelStage::Stt, &OrgKeys::none())
            .unwrap()
            .probe
            .unwrap())()
        .unwrap_err();
        assert!(error.message.contains("Try later"), "{error}");
        // The AI4Bharat servers have no cheap request: no probe, a caller half-opens their breaker.
        let care =
            cloud_care(&speech(SpeechProvider::Ai4Bharat, &base, None), ModelStage::Stt, &OrgKeys::none()).unwrap();
        assert!(care.probe.is_none());
    }

    /// A Google link is probed by its own API: recognition for speech to text, the voice list for speech.
    #[test]
    fn a_google_stt_link_is_probed_by_a_recognition_and_a_tts_link_by_the_voice_list() {
        std::env::set_var("VOICERA_TEST_CARE_KEY", "care-key");
        let (base, server) = fake("200 OK", r#"{"totalBilledTime":"1s","requestId":"42"}"#);
        let google = speech(SpeechProvider::Google, &base, None);
        assert!((cloud_care(&google, ModelStage::Stt, &OrgKeys::none()).unwrap().probe.unwrap())().is_ok());
        let head = server.join().unwrap();
        assert!(head.starts_with("POST /v1/speech:recognize HTTP/1.1"), "{head}");
        assert!(head.to_ascii_lowercase().contains("x-goog-api-key: care-key"), "{head}");
        let (base, server) = fake("200 OK", r#"{"voices":[]}"#);
        let google = speech(SpeechProvider::Google, &base, None);
        assert!((cloud_care(&google, ModelStage::Tts, &OrgKeys::none()).unwrap().probe.unwrap())().is_ok());
        assert!(server.join().unwrap().starts_with("GET /v1/voices?languageCode=en-US HTTP/1.1"));
    }
}
