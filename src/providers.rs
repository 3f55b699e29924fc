//! `voicera providers check`: every provider with a key in the environment (`VOICERA_<NAME>_API_KEY`) gets
//! its cheapest authenticated request ([`voicera_models_cloud::check`]); one line each, ok or the provider's
//! own error, and a non-zero exit when any fails.

use anyhow::{bail, Result};
use voicera_models_cloud::check::{check, CheckedApi};

use crate::config::{provider_env, SpeechProvider, OPENAI_COMPATIBLE, SPEECH_PROVIDERS};

/// `voicera providers ...`
#[derive(Debug, clap::Subcommand)]
pub enum ProvidersCommand {
    /// Verify each provider key in the environment with the provider's cheapest authenticated request (list
    /// models or equivalent); exits non-zero when any fails.
    Check,
}

/// A provider to check: its name, API family and root, and its key.
struct Configured {
    name: String,
    api: CheckedApi,
    base_url: String,
    key: String,
}

/// The providers with a key in the environment: the known ones (their public roots unless
/// `VOICERA_<NAME>_BASE_URL` says otherwise), then any other OpenAI-compatible one with both variables set.
fn configured() -> Vec<Configured> {
    let mut known: Vec<(String, CheckedApi, &str)> =
        OPENAI_COMPATIBLE.iter().map(|(name, url, _)| (name.to_string(), CheckedApi::OpenAiCompatible, *url)).collect();
    known.push(("anthropic".into(), CheckedApi::Anthropic, voicera_models_cloud::anthropic::DEFAULT_BASE_URL));
    known.push(("gemini".into(), CheckedApi::Gemini, voicera_models_cloud::gemini::DEFAULT_BASE_URL));
    for spec in SPEECH_PROVIDERS {
        let api = match spec.provider {
            SpeechProvider::Deepgram => CheckedApi::Deepgram,
            SpeechProvider::ElevenLabs => CheckedApi::ElevenLabs,
            SpeechProvider::Cartesia => CheckedApi::Cartesia,
            SpeechProvider::Sarvam => CheckedApi::Sarvam,
            // OpenAI is checked as a chat provider; the AI4Bharat servers take no key.
            SpeechProvider::OpenAi | SpeechProvider::Ai4Bharat => continue,
        };
        known.push((spec.name.into(), api, spec.base_url.unwrap_or_default()));
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut found: Vec<Configured> = known
        .into_iter()
        .filter_map(|(name, api, url)| {
            let env = provider_env(&name);
            let key = var(&format!("{env}_API_KEY"))?;
            let base_url = var(&format!("{env}_BASE_URL")).unwrap_or_else(|| url.to_string());
            Some(Configured { name, api, base_url, key })
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
            Some(Configured { name: provider, api: CheckedApi::OpenAiCompatible, base_url, key })
        })
        .collect();
    others.sort_by(|a, b| a.name.cmp(&b.name));
    found.append(&mut others);
    found
}

pub fn run(command: ProvidersCommand) -> Result<()> {
    match command {
        ProvidersCommand::Check => {
            let providers = configured();
            if providers.is_empty() {
                println!("no provider keys in the environment (VOICERA_<PROVIDER>_API_KEY)");
                return Ok(());
            }
            let mut failed = 0;
            for provider in &providers {
                match check(provider.api, &provider.base_url, &provider.key) {
                    Ok(what) => println!("{:<12} ok      {what}", provider.name),
                    Err(error) => {
                        failed += 1;
                        println!("{:<12} FAILED  {error}", provider.name);
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
