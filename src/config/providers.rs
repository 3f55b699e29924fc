//! `[providers.<name>]`: where a cloud provider's API root and key come from when the environment does not
//! say. `VOICERA_<NAME>_BASE_URL` and `VOICERA_<NAME>_API_KEY` win over the table; the table names the variable
//! holding the key (`api_key_env`), never the key itself, so keys stay out of files that get copied and
//! committed. An org's own keys (its integrations in the store) win over both for that org's agents.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::de::IgnoredAny;
use serde::Deserialize;
use voicera_conversation::agent::mask_secret;

use super::agents::provider_env;

/// `[providers.<name>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    base_url: Option<String>,
    api_key_env: Option<String>,
    timeout_ms: Option<u64>,
    /// Refused with a message that says where a key goes.
    api_key: Option<IgnoredAny>,
}

/// One provider's settings from `voicera.toml`.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ProviderSettings {
    /// Its API root (`[providers.<name>] base_url`).
    pub(crate) base_url: Option<String>,
    /// The environment variable holding its key (`[providers.<name>] api_key_env`).
    pub(crate) api_key_env: Option<String>,
    /// Its budget to connect and to the first byte or result (`[providers.<name>] timeout_ms`): past it, the
    /// request fails and a fallback chain moves on.
    pub(crate) timeout: Option<Duration>,
}

/// The shortest and longest `timeout_ms` taken: under 100 ms no provider answers; over two minutes a caller
/// has hung up.
pub(crate) const TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 100..=120_000;

/// Every `[providers.<name>]` table, by provider name (`openai`, `deepgram`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Providers {
    settings: BTreeMap<String, ProviderSettings>,
}

/// A provider name as `provider:model` spells it: lowercase letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// An environment variable's name: letters, digits and `_`, not starting with a digit.
fn valid_var(var: &str) -> bool {
    var.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `[providers]` tables checked.
pub(super) fn compile_providers(raw: BTreeMap<String, RawProvider>) -> Result<Providers> {
    let mut settings = BTreeMap::new();
    for (name, table) in raw {
        let at = format!("providers.{name}");
        if !valid_name(&name) {
            bail!("{at}: a provider name is lowercase letters, digits, '-' or '_' (as in provider:model)");
        }
        if table.api_key.is_some() {
            bail!(
                "{at}.api_key: keys do not go in the configuration file; put the key in an environment variable \
                 and name it in api_key_env (or set {}_API_KEY)",
                provider_env(&name)
            );
        }
        let base_url = table.base_url.map(|url| url.trim().trim_end_matches('/').to_string());
        if let Some(url) = &base_url {
            if !["http://", "https://", "ws://", "wss://"].iter().any(|s| url.starts_with(s)) {
                bail!("{at}.base_url: {url:?} must start with http://, https://, ws:// or wss://");
            }
        }
        let api_key_env = table.api_key_env.map(|var| var.trim().to_string());
        if let Some(var) = &api_key_env {
            if !valid_var(var) {
                bail!("{at}.api_key_env: {var:?} is not an environment variable name (letters, digits, '_')");
            }
        }
        let timeout = match table.timeout_ms {
            Some(ms) if !TIMEOUT_MS_RANGE.contains(&ms) => bail!(
                "{at}.timeout_ms: {ms} is out of range ({} to {} milliseconds)",
                TIMEOUT_MS_RANGE.start(),
                TIMEOUT_MS_RANGE.end()
            ),
            ms => ms.map(Duration::from_millis),
        };
        settings.insert(name, ProviderSettings { base_url, api_key_env, timeout });
    }
    Ok(Providers { settings })
}

/// A variable's value when it is set and not empty.
fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

impl Providers {
    /// The tables, by provider name.
    pub(crate) fn settings(&self) -> &BTreeMap<String, ProviderSettings> {
        &self.settings
    }

    /// `provider`'s API root: `VOICERA_<NAME>_BASE_URL`, else `[providers.<name>] base_url`; with where it
    /// came from (for error messages).
    pub(crate) fn base_url(&self, provider: &str) -> Option<(String, String)> {
        let var = format!("{}_BASE_URL", provider_env(provider));
        if let Some(url) = env(&var) {
            return Some((url, var));
        }
        let url = self.settings.get(provider)?.base_url.clone()?;
        Some((url, format!("providers.{provider}.base_url")))
    }

    /// The variable holding `provider`'s key, when it is set: `VOICERA_<NAME>_API_KEY`, else the one
    /// `[providers.<name>] api_key_env` names.
    pub(crate) fn key_var(&self, provider: &str) -> Option<String> {
        let var = format!("{}_API_KEY", provider_env(provider));
        if env(&var).is_some() {
            return Some(var);
        }
        let named = self.settings.get(provider)?.api_key_env.clone()?;
        env(&named).is_some().then_some(named)
    }

    /// `provider`'s `timeout_ms`, when its table sets one.
    pub(crate) fn timeout(&self, provider: &str) -> Option<Duration> {
        self.settings.get(provider)?.timeout
    }

    /// Where a key for `provider` may go, for an error message.
    pub(crate) fn key_places(&self, provider: &str) -> String {
        let var = format!("{}_API_KEY", provider_env(provider));
        match self.settings.get(provider).and_then(|s| s.api_key_env.as_deref()) {
            Some(named) => format!("the environment variable {var} or {named} ([providers.{provider}] api_key_env)"),
            None => format!("the environment variable {var}"),
        }
    }
}

impl fmt::Debug for Providers {
    /// The tables, with whether each key variable is set (its value masked).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, settings) in &self.settings {
            map.entry(name, settings);
        }
        map.finish()
    }
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.api_key_env.as_ref().map(|var| match env(var) {
            Some(value) => format!("{var} = {}", mask_secret(&value)),
            None => format!("{var} (not set)"),
        });
        f.debug_struct("ProviderSettings")
            .field("base_url", &self.base_url)
            .field("api_key_env", &key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Providers> {
        #[derive(Deserialize)]
        struct File {
            providers: BTreeMap<String, RawProvider>,
        }
        let file: File = toml::from_str(text)?;
        compile_providers(file.providers)
    }

    #[test]
    fn tables_name_an_api_root_and_the_variable_holding_the_key_never_the_key() {
        let providers = parse(
            "[providers.deepgram]\nbase_url = \"https://api.eu.deepgram.com/\"\napi_key_env = \"DG_TEST_KEY_UNSET\"\n",
        )
        .unwrap();
        let deepgram = &providers.settings()["deepgram"];
        assert_eq!(deepgram.base_url.as_deref(), Some("https://api.eu.deepgram.com"));
        if std::env::var_os("VOICERA_DEEPGRAM_BASE_URL").is_none() {
            assert_eq!(
                providers.base_url("deepgram"),
                Some(("https://api.eu.deepgram.com".into(), "providers.deepgram.base_url".into()))
            );
        }
        assert!(format!("{providers:?}").contains("DG_TEST_KEY_UNSET (not set)"));
        std::env::set_var("VOICERA_TEST_PROVIDERS_KEY", "dg-secret-value-123456");
        let shown = format!("{:?}", parse("[providers.x]\napi_key_env = \"VOICERA_TEST_PROVIDERS_KEY\"\n").unwrap());
        assert!(shown.contains("VOICERA_TEST_PROVIDERS_KEY = ") && !shown.contains("dg-secret-value"), "{shown}");
        assert!(providers.key_places("deepgram").contains("DG_TEST_KEY_UNSET"));

        let err = parse("[providers.openai]\napi_key = \"sk-live-123\"\n").unwrap_err().to_string();
        assert!(err.starts_with("providers.openai.api_key: ") && err.contains("api_key_env"), "{err}");
        assert!(!err.contains("sk-live-123"), "{err}");
        let err = parse("[providers.openai]\nbase_url = \"api.openai.com\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.openai.base_url"), "{err}");
        let err = parse("[providers.openai]\napi_key_env = \"my key\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.openai.api_key_env"), "{err}");
        let err = parse("[providers.OpenAI]\n").unwrap_err().to_string();
        assert!(err.contains("providers.OpenAI"), "{err}");
    }

    #[test]
    fn timeout_ms_is_a_providers_budget_in_range_and_errors_name_the_key() {
        let providers =
            parse("[providers.deepgram]\ntimeout_ms = 800\n[providers.groq]\nbase_url = \"http://x\"\n").unwrap();
        assert_eq!(providers.timeout("deepgram"), Some(Duration::from_millis(800)));
        assert_eq!(providers.timeout("groq"), None);
        assert_eq!(providers.timeout("openai"), None);
        for bad in ["timeout_ms = 0", "timeout_ms = 99", "timeout_ms = 120001"] {
            let err = parse(&format!("[providers.sarvam]\n{bad}\n")).unwrap_err().to_string();
            assert!(err.starts_with("providers.sarvam.timeout_ms: ") && err.contains("100 to 120000"), "{err}");
        }
        let err = parse("[providers.sarvam]\ntimeout_ms = \"fast\"\n").unwrap_err().to_string();
        assert!(err.contains("timeout_ms"), "{err}");
    }
}
