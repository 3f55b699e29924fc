//! `[dial_policy]`: where the node may call, compiled into the one [`DialPolicy`] the outbound dialer, the
//! agents' transfer targets and the SIP user agent's REFER handling share.
//!
//! ```toml
//! [dial_policy]
//! # Numbers calls may go to. An entry with + turns E.164 numbers into an allow-list (default: every E.164
//! # number outside the blocked ranges); "+" alone allows every E.164 number, so a longer entry can lift
//! # part of a built-in block ("+", "+8816"). Entries without + allow local numbers of any length ("0":
//! # national numbers). Spaces, dashes and a leading 00 are ignored as in numbers.
//! allowed_prefixes = ["+91", "+1 415"]
//! # Numbers refused, on top of the built-in premium-rate list; the longest matching prefix wins, a block on
//! # a tie with an allowed one.
//! blocked_prefixes = ["+91 140"]
//! # The built-in premium-rate and high-cost ranges (+1900, +449, +4487, +4470, +49900, +3389, +34803/806/807/
//! # 905, +39899, +61190, +979, +870, +881, +882, +883, local 118): blocked unless false.
//! block_premium = true
//! # Hosts sip: targets may name (transfers, REFER): host, host:port, IPv4, [IPv6], *.domain for its
//! # subdomains. Default: none (trunk registrars are always allowed; loopback only when listed).
//! allowed_sip_hosts = ["pbx.example.com", "10.0.0.5:5080"]
//! # Most digits of any number (default 15, E.164's maximum; 1-32).
//! max_digits = 15
//! # Most digits of a number without + that no allowed prefix matches: extensions (default 6; 0 refuses
//! # them all; 0-32).
//! max_local_digits = 6
//! ```

use anyhow::Result;
use serde::Deserialize;
use voicera_conversation::dial_policy::{DialPolicy, DialPolicySettings, DEFAULT_MAX_LOCAL_DIGITS, E164_MAX_DIGITS};
use voicera_telephony::sip_rtp::TrunkConfig;

/// `[dial_policy]` as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDialPolicy {
    allowed_prefixes: Option<Vec<String>>,
    blocked_prefixes: Option<Vec<String>>,
    block_premium: Option<bool>,
    allowed_sip_hosts: Option<Vec<String>>,
    max_digits: Option<usize>,
    max_local_digits: Option<usize>,
}

/// The checked policy; each trunk's registrar is an allowed SIP host (its numbers pass the number rules all
/// the same: `sip:+1900…@trunk` is refused like `+1900…`).
pub(super) fn compile_dial_policy(raw: RawDialPolicy, trunks: &[TrunkConfig]) -> Result<DialPolicy> {
    let settings = DialPolicySettings {
        allowed_prefixes: raw.allowed_prefixes.unwrap_or_default(),
        blocked_prefixes: raw.blocked_prefixes.unwrap_or_default(),
        block_premium: raw.block_premium.unwrap_or(true),
        allowed_sip_hosts: raw.allowed_sip_hosts.unwrap_or_default(),
        max_digits: raw.max_digits.unwrap_or(E164_MAX_DIGITS),
        max_local_digits: raw.max_local_digits.unwrap_or(DEFAULT_MAX_LOCAL_DIGITS),
    };
    let mut policy = DialPolicy::new(&settings)?;
    for trunk in trunks {
        policy.allow_sip_host(&trunk.registrar).map_err(|e| {
            anyhow::anyhow!("trunks.{}: registrar {:?} as a SIP host: {e}", trunk.name, trunk.registrar)
        })?;
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicera_conversation::dial_policy::{NormalizedTarget, PolicyError};

    fn compile(toml_text: &str, trunks: &[TrunkConfig]) -> Result<DialPolicy> {
        #[derive(Deserialize)]
        struct File {
            dial_policy: RawDialPolicy,
        }
        let file: File = toml::from_str(toml_text)?;
        compile_dial_policy(file.dial_policy, trunks)
    }

    fn trunk(registrar: &str) -> TrunkConfig {
        TrunkConfig {
            name: "carrier".into(),
            registrar: registrar.into(),
            username: String::new(),
            password: String::new(),
            realm: None,
            register: false,
            expires: 300,
            transport: None,
            tls_ca: None,
            numbers: Vec::new(),
            refer_credentials: false,
            srtp: None,
        }
    }

    #[test]
    fn the_documented_block_compiles_and_decides() {
        let doc = include_str!("policy.rs");
        let block: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! [dial_policy]"))
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let policy = compile(&block, &[]).unwrap();
        assert!(policy.check("+91 98765 43210").is_ok());
        assert!(matches!(policy.check("+442079460000"), Err(PolicyError::NotAllowed { .. })));
        assert!(policy.check("sip:100@10.0.0.5:5080").is_ok());
    }

    #[test]
    fn trunk_registrars_are_allowed_sip_hosts_and_their_numbers_still_checked() {
        let policy = compile("[dial_policy]", &[trunk("127.0.0.1:5070")]).unwrap();
        assert!(matches!(policy.check("sip:+15550001111@127.0.0.1:5070"), Ok(NormalizedTarget::Sip(_))));
        assert!(matches!(policy.check("sip:+19005551234@127.0.0.1:5070"), Err(PolicyError::Premium { .. })));
        assert!(matches!(policy.check("sip:x@127.0.0.1:5071"), Err(PolicyError::SipHostNotAllowed { .. })));
        assert_eq!(compile("[dial_policy]", &[]).unwrap(), DialPolicy::default());
    }

    #[test]
    fn mistakes_name_the_key() {
        for (text, expected) in [
            ("[dial_policy]\nallowed_prefixes = [\"+91x\"]", "dial_policy.allowed_prefixes: \"+91x\""),
            ("[dial_policy]\nblocked_prefixes = [\"*\"]", "dial_policy.blocked_prefixes: \"*\""),
            ("[dial_policy]\nallowed_sip_hosts = [\"pbx example\"]", "dial_policy.allowed_sip_hosts: \"pbx example\""),
            ("[dial_policy]\nmax_digits = 40", "dial_policy.max_digits = 40"),
            ("[dial_policy]\nmax_local_digits = 99", "dial_policy.max_local_digits = 99"),
        ] {
            let err = compile(text, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(compile("[dial_policy]\nallow = []", &[]).is_err(), "unknown keys are errors");
    }
}
