//! Whose key a cloud call uses: the agent's org's own (its integrations, sealed in the store with the master
//! key, id = the provider's name as the console shows it: `OpenAI`, `Deepgram`), else the node's (the
//! environment variable the configuration resolved: `VOICERA_<NAME>_API_KEY` or `[providers.<name>]
//! api_key_env`). Keys are opened once per routing snapshot and never logged nor shown in Debug output.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use anyhow::{bail, Context, Result};
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Record};

/// Providers known by two names (`gemini:…` links; a `Google` integration).
const ALIASES: &[(&str, &str)] = &[("gemini", "google")];

/// A provider's name as both sides compare it: `OpenAI`, `openai` and `open-ai` are one provider.
fn normalised(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// One org's opened provider keys, by normalised provider name.
#[derive(Clone, Default)]
pub(crate) struct OrgKeys {
    keys: HashMap<String, String>,
}

impl OrgKeys {
    /// No org keys: the node's keys serve (configured agents).
    pub(crate) fn none() -> OrgKeys {
        OrgKeys::default()
    }

    /// Opens `records` (one org's `integrations`). One that does not open (another master key, damaged) is
    /// skipped with a warning naming it, never its contents: the node's key serves instead.
    pub(crate) fn open(records: &[&Record], master_key: &MasterKey) -> OrgKeys {
        let mut keys = HashMap::new();
        for record in records {
            let Some(sealed) = record.doc.get("api_key").and_then(serde_json::Value::as_str) else { continue };
            let context = format!("{}/{}/{}", Collection::Integrations.name(), record.org_id, record.id);
            match master_key.open(sealed, &context) {
                Ok(key) if !key.is_empty() => {
                    keys.insert(normalised(&record.id), key);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    org_id = %record.org_id, integration = %record.id, error = %e,
                    "an org's provider key does not open with this node's master key; the node's key serves"
                ),
            }
        }
        OrgKeys { keys }
    }

    /// The org's key for `provider` (`provider:model`'s name).
    pub(crate) fn get(&self, provider: &str) -> Option<&str> {
        let name = normalised(provider);
        if let Some(key) = self.keys.get(&name) {
            return Some(key);
        }
        ALIASES
            .iter()
            .find_map(|(a, b)| (name == *a).then_some(*b).or((name == *b).then_some(*a)))
            .and_then(|alias| self.keys.get(alias))
            .map(String::as_str)
    }

    /// A digest that changes when any key changes (agents built with the old keys are rebuilt); not a way
    /// back to the keys.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut entries: Vec<(&String, &String)> = self.keys.iter().collect();
        entries.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        entries.hash(&mut hasher);
        hasher.finish()
    }
}

impl fmt::Debug for OrgKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut providers: Vec<&String> = self.keys.keys().collect();
        providers.sort();
        f.debug_struct("OrgKeys").field("providers", &providers).finish_non_exhaustive()
    }
}

/// The key a link `name` on `provider` calls with: the org's, else the one in `api_key_env`; none when the
/// provider takes calls without one (`needs_key` false), an error naming where to put one otherwise.
pub(crate) fn key_for(
    keys: &OrgKeys,
    name: &str,
    provider: Option<&str>,
    api_key_env: Option<&str>,
    needs_key: bool,
) -> Result<Option<String>> {
    if let Some(key) = provider.and_then(|p| keys.get(p)) {
        tracing::debug!(model = name, "calls with the org's own key");
        return Ok(Some(key.to_string()));
    }
    match api_key_env {
        Some(var) => {
            Ok(Some(std::env::var(var).ok().filter(|v| !v.is_empty()).with_context(|| format!("{var} is not set"))?))
        }
        None if needs_key => {
            let provider = provider.unwrap_or(name);
            bail!(
                "{name} needs a key: add the org's {provider} integration, or set {}_API_KEY on the node",
                crate::config::provider_env(provider)
            )
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orgs_key_wins_and_is_found_by_the_consoles_name() {
        let master = MasterKey::from_bytes([7; 32]);
        let seal = |id: &str, key: &str| Record {
            org_id: "o1".into(),
            id: id.into(),
            doc: serde_json::json!({"api_key": master.seal(key, &format!("integrations/o1/{id}")).unwrap()}),
        };
        let (openai, google, other) = (seal("OpenAI", "sk-org"), seal("Google", "g-org"), seal("Deepgram", ""));
        let mut forged = seal("ElevenLabs", "el-org");
        forged.org_id = "o2".into();
        let keys = OrgKeys::open(&[&openai, &google, &other, &forged], &master);
        assert_eq!(keys.get("openai"), Some("sk-org"));
        assert_eq!(keys.get("gemini"), Some("g-org"));
        assert_eq!(keys.get("deepgram"), None, "an empty key is no key");
        assert_eq!(keys.get("elevenlabs"), None, "a key sealed for another record does not open");
        assert!(!format!("{keys:?}").contains("sk-org"));
        assert_eq!(
            key_for(&keys, "openai:gpt-4o-mini", Some("openai"), None, true).unwrap().as_deref(),
            Some("sk-org")
        );
        let err = key_for(&keys, "groq:llama", Some("groq"), None, true).unwrap_err().to_string();
        assert!(err.contains("groq integration") && err.contains("VOICERA_GROQ_API_KEY"), "{err}");
        assert_eq!(key_for(&keys, "ollama:llama3.2", Some("ollama"), None, false).unwrap(), None);
        let before = keys.fingerprint();
        let keys = OrgKeys::open(&[&openai], &master);
        assert_ne!(keys.fingerprint(), before);
    }
}
