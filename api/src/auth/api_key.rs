//! API keys for scripts: `vk_<key id>_<secret>`, 16 hex digits of public id and 256 random bits. The id finds
//! the stored key (`ApiKeys/<org>/<key id>`) in one lookup; only the secret's hash is stored, so the key is
//! shown once, at creation. A key carries a role no higher than its creator's and works until revoked.

use serde::{Deserialize, Serialize};

use super::Role;

/// What every API key starts with, so scanners and people can tell one from other secrets.
pub const PREFIX: &str = "vk_";

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// The public half of the key: 16 hex digits, also the record's id.
    pub key_id: String,
    /// The label its creator gave it (where it is used).
    pub name: String,
    /// What requests with the key may do; never above the creator's role.
    pub role: Role,
    /// Email of the member who created it; requests with the key act as them.
    pub created_by: String,
    /// When it was created (UTC text).
    pub created_at: String,
    /// Hash of the secret half; a presented key is checked against it in constant time.
    pub secret_hash: String,
    /// When it was revoked (UTC text); a revoked key authenticates nothing.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

impl StoredKey {
    /// The start of the key as lists show it (`vk_<key id>_…`).
    pub fn prefix(&self) -> String {
        format!("{PREFIX}{}_…", self.key_id)
    }
}

/// A key's text split into id and secret.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() >= 32).then_some((id, secret))
}

/// The full key text from its id and secret: what its creator is shown, once.
pub fn text(key_id: &str, secret: &str) -> String {
    format!("{PREFIX}{key_id}_{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_even_when_the_secret_has_underscores() {
        let secret = "ab_cd-ef_".repeat(5);
        assert_eq!(parse(&text("0123456789abcdef", &secret)), Some(("0123456789abcdef", secret.as_str())));
    }

    #[test]
    fn other_text_is_not_a_key() {
        let secret = "s".repeat(43);
        for bad in [
            String::new(),
            format!("vk_0123456789abcde_{secret}"),
            format!("vk_0123456789abcdeg_{secret}"),
            "vk_0123456789abcdef_short".to_string(),
            format!("xk_0123456789abcdef_{secret}"),
            "eyJhbGciOiJIUzI1NiJ9.e30.sig".to_string(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
