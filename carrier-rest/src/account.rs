//! Who we talk to: the providers, and an account on one of them.

/// A telephony provider whose media streams and REST API we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Vobiz (Plivo's API and stream protocol, its own auth headers).
    Vobiz,
    /// Plivo.
    Plivo,
    /// Twilio (Media Streams, the 2010-04-01 REST API).
    Twilio,
    /// Exotel (voicebot streams; its REST API is not wired).
    Exotel,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 4] = [Provider::Vobiz, Provider::Plivo, Provider::Twilio, Provider::Exotel];

    /// The provider's name in URLs, config sections and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Vobiz => "vobiz",
            Provider::Plivo => "plivo",
            Provider::Twilio => "twilio",
            Provider::Exotel => "exotel",
        }
    }

    /// The provider named `name` (any case).
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether calls can be placed through the provider's REST API here (Exotel's is not wired).
    pub fn places_calls(self) -> bool {
        !matches!(self, Provider::Exotel)
    }

    /// The names of the org integrations that hold an account's id and token (the original console's for
    /// Vobiz and Plivo).
    pub fn integration_names(self) -> (&'static str, &'static str) {
        match self {
            Provider::Vobiz => ("VobizAuthId", "VobizAuthToken"),
            Provider::Plivo => ("PlivoAuthId", "PlivoAuthToken"),
            Provider::Twilio => ("TwilioAccountSid", "TwilioAuthToken"),
            Provider::Exotel => ("ExotelApiKey", "ExotelApiToken"),
        }
    }
}

/// A provider account: the credentials its REST API takes and its webhooks are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    /// The account id (Plivo/Vobiz Auth ID, Twilio Account SID, ...).
    pub auth_id: String,
    /// The account secret: webhooks are signed with it and REST calls authenticate with it (masked in Debug).
    pub auth_token: String,
    /// The provider's REST API base (None: its public API); a local fake in tests.
    pub api_base: Option<String>,
}

/// A secret as logs may show it: its first two characters at most.
pub(crate) fn masked(secret: &str) -> String {
    match secret.chars().count() {
        0 => String::new(),
        1..=11 => "****".into(),
        _ => secret.chars().take(2).chain("****".chars()).collect(),
    }
}

/// The token never reaches a log line.
impl std::fmt::Debug for ProviderAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderAccount")
            .field("auth_id", &self.auth_id)
            .field("auth_token", &masked(&self.auth_token))
            .field("api_base", &self.api_base)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_tokens_stay_out_of_debug() {
        assert_eq!(Provider::parse("TWILIO"), Some(Provider::Twilio));
        assert_eq!(Provider::parse("sip"), None);
        let account = ProviderAccount { auth_id: "MA1".into(), auth_token: "secret-token-1234".into(), api_base: None };
        let shown = format!("{account:?}");
        assert!(shown.contains("MA1") && !shown.contains("secret-token"), "{shown}");
    }
}
