//! `voicera providers check`: every provider with a key (`VOICERA_<NAME>_API_KEY`, or the variable its
//! `[providers.<name>] api_key_env` names) gets its cheapest authenticated request
//! ([`voicera_models_cloud::check`]) at its API root (`VOICERA_<NAME>_BASE_URL`, `[providers.<name>]
//! base_url`, else the public one): the resolution calls use. One line each, ok or the provider's own error,
//! and a non-zero exit when any fails.

use std::path::PathBuf;

use anyhow::{bail, Result};
use voicera_models_cloud::check::{check, CheckedApi};

use crate::config::{provider_env, Providers, SpeechProvider, OPENAI_COMPATIBLE, SPEECH_PROVIDERS};

/// `voicera providers ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ProvidersCommand {
    /// Verify each configured provider key with the provider's cheapest authenticated request (list models
    /// or equivalent); exits non-zero when any fails.
    Check {
        /// Configuration file whose `[providers]` tables apply (default: ./voicera.toml when present).
        #[arg(long, env = "VOICERA_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print which cloud provider serves which of the original's languages, for speech to text and text to
    /// speech (the table an agent's `stt_model` and `tts_model` are checked against).
    Languages,
}

/// A provider to check: its name, the line's label, API family and root, and its key.
struct Configured {
    name: String,
    /// The name, or for a provider with two APIs checked apart, `<name>-stt` / `<name>-tts`.
    label: String,
    api: CheckedApi,
    base_url: String,
    key: String,
}

/// The providers with a key: the known ones (their public roots unless the environment or `[providers]` says
/// otherwise), then any other OpenAI-compatible one with a root and a key.
fn configured(providers: &Providers) -> Vec<Configured> {
    // (name, label, API, public root)
    let mut known: Vec<(String, String, CheckedApi, &str)> = OPENAI_COMPATIBLE
        .iter()
        .map(|(name, url, _)| (name.to_string(), name.to_string(), CheckedApi::OpenAiCompatible, *url))
        .collect();
    let anthropic = voicera_models_cloud::anthropic::DEFAULT_BASE_URL;
    known.push(("anthropic".into(), "anthropic".into(), CheckedApi::Anthropic, anthropic));
    known.push(("gemini".into(), "gemini".into(), CheckedApi::Gemini, voicera_models_cloud::gemini::DEFAULT_BASE_URL));
    for spec in SPEECH_PROVIDERS {
        let (name, root) = (spec.name.to_string(), spec.base_url.unwrap_or_default());
        let api = match spec.provider {
            SpeechProvider::Deepgram => CheckedApi::Deepgram,
            SpeechProvider::ElevenLabs => CheckedApi::ElevenLabs,
            SpeechProvider::Cartesia => CheckedApi::Cartesia,
            SpeechProvider::Sarvam => CheckedApi::Sarvam,
            // Two APIs a key may be scoped to one of: each checked with its own request at its own root.
            SpeechProvider::Google => {
                known.push((name.clone(), format!("{name}-stt"), CheckedApi::GoogleStt, root));
                let tts_root = spec.tts_base_url.unwrap_or(root);
                known.push((name.clone(), format!("{name}-tts"), CheckedApi::GoogleTts, tts_root));
                continue;
            }
            SpeechProvider::Bhashini => CheckedApi::Bhashini,
            SpeechProvider::Dhruva => CheckedApi::Dhruva,
            // OpenAI is checked as a chat provider, ElevenLabs' WebSocket as ElevenLabs; the AI4Bharat servers
            // take no key, Google's streaming recogniser shares Google's key.
            SpeechProvider::OpenAi
            | SpeechProvider::Ai4Bharat
            | SpeechProvider::ElevenLabsWs
            | SpeechProvider::GoogleStream => continue,
        };
        known.push((name.clone(), name, api, root));
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut found: Vec<Configured> = known
        .into_iter()
        .filter_map(|(name, label, api, url)| {
            let key = var(&providers.key_var(&name)?)?;
            let base_url = providers.base_url(&name).map_or_else(|| url.to_string(), |(url, _)| url);
            Some(Configured { name, label, api, base_url, key })
        })
        .collect();
    let mut others: Vec<Configured> = std::env::vars()
        .filter_map(|(name, _)| {
            let upper = name.strip_prefix("VOICERA_")?.strip_suffix("_API_KEY")?.to_string();
            let provider = upper.to_ascii_lowercase().replace('_', "-");
            if found.iter().any(|c| provider_env(&c.name) == format!("VOICERA_{upper}")) {
                return None;
            }
            let base_url = var(&format!("VOICERA_{upper}_BASE_URL"))?;
            let key = var(&name)?;
            Some(Configured {
                label: provider.clone(),
                name: provider,
                api: CheckedApi::OpenAiCompatible,
                base_url,
                key,
            })
        })
        .collect();
    // Tables of other servers (`[providers.vllm-eu]`), when the environment did not name them already.
    for name in providers.settings().keys() {
        if found.iter().chain(&others).any(|c| provider_env(&c.name) == provider_env(name)) {
            continue;
        }
        let (Some(key_var), Some((base_url, _))) = (providers.key_var(name), providers.base_url(name)) else {
            continue;
        };
        let Some(key) = var(&key_var) else { continue };
        let (name, label) = (name.clone(), name.clone());
        others.push(Configured { name, label, api: CheckedApi::OpenAiCompatible, base_url, key });
    }
    others.sort_by(|a, b| a.name.cmp(&b.name));
    found.append(&mut others);
    found
}

pub(crate) fn run(command: ProvidersCommand) -> Result<()> {
    match command {
        ProvidersCommand::Languages => {
            print!("{}", crate::config::language_table());
            Ok(())
        }
        ProvidersCommand::Check { config } => {
            let providers = configured(&crate::config::load_providers(config.as_deref())?);
            if providers.is_empty() {
                println!("no provider keys configured (VOICERA_<PROVIDER>_API_KEY, or [providers.<name>] api_key_env)");
                return Ok(());
            }
            let mut failed = 0;
            for provider in &providers {
                match check(provider.api, &provider.base_url, &provider.key) {
                    Ok(what) => println!("{:<12} ok      {what}", provider.label),
                    Err(error) => {
                        failed += 1;
                        println!("{:<12} FAILED  {error}", provider.label);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} provider checks failed", providers.len());
            }
            Ok(())
        }
    }
}
