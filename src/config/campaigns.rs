//! `[campaigns]` and `VOICERA_CAMPAIGNS_*`: how this node takes part in outbound campaigns. The variable wins
//! over the key in the file; a bad value in either is an error naming the key (or the variable).

use anyhow::{bail, Result};
use serde::Deserialize;

/// Shortest contact lease: the shortest that admits a campaign's shortest ring time-out (a ring time-out must
/// end within two thirds of the lease: see `voicera_dialer::config::longest_ring_timeout`). It is also over
/// three of the runner's one-second store polls, so a lease is renewed (every third of it) before it lapses
/// even when a poll comes late.
pub(crate) const MIN_LEASE_MS: u64 = voicera_dialer::config::MIN_LEASE_MS;
/// Longest contact lease: an hour (a dead node's contacts wait this long before another node settles them).
pub(crate) const MAX_LEASE_MS: u64 = voicera_dialer::config::MAX_LEASE_MS;

/// `[campaigns]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCampaigns {
    /// A contact lease's length (`VOICERA_CAMPAIGNS_LEASE_MS`).
    lease_ms: Option<u64>,
    /// Whether this node dials campaigns (`VOICERA_CAMPAIGNS_DIAL`); default true.
    dial: Option<bool>,
}

/// `[campaigns]` compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CampaignSettings {
    /// How long a node's claim on a contact lasts unless renewed (renewed every third of it while the call is
    /// up): how long a dead node's contacts wait before another node settles them. It must outlast what a dead
    /// node's call can still be doing at the carrier (see `voicera_dialer::lease`).
    pub(crate) lease_ms: u64,
    /// Whether this node dials campaigns. A node that does not still serves the provider webhooks and streams
    /// of campaign calls other nodes placed (the dial registry is in the store), and its API still runs them.
    pub(crate) dial: bool,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings { lease_ms: crate::campaigns::DEFAULT_LEASE_MS as u64, dial: true }
    }
}

/// Compiles `[campaigns]` with `VOICERA_CAMPAIGNS_*` from `env` over it.
pub(super) fn compile_campaigns(raw: RawCampaigns, env: impl Fn(&str) -> Option<String>) -> Result<CampaignSettings> {
    const VAR: &str = "VOICERA_CAMPAIGNS_LEASE_MS";
    let lease_ms = match env(VAR).filter(|v| !v.trim().is_empty()) {
        Some(text) => match text.trim().parse::<u64>() {
            Ok(ms) => Some((ms, VAR)),
            Err(_) => bail!("{VAR}={text:?} must be a whole number of milliseconds (it sets [campaigns] lease_ms)"),
        },
        None => raw.lease_ms.map(|ms| (ms, "[campaigns] lease_ms")),
    };
    let lease_ms = match lease_ms {
        None => CampaignSettings::default().lease_ms,
        Some((ms, _)) if (MIN_LEASE_MS..=MAX_LEASE_MS).contains(&ms) => ms,
        Some((ms, name)) => bail!(
            "{name} = {ms} must be {MIN_LEASE_MS} to {MAX_LEASE_MS} milliseconds (two thirds of it must exceed the \
             shortest ring time-out, {} s)",
            voicera_dialer::config::MIN_RING_TIMEOUT_SECONDS
        ),
    };
    const DIAL_VAR: &str = "VOICERA_CAMPAIGNS_DIAL";
    let dial = match env(DIAL_VAR).map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()) {
        Some(text) => match text.as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            _ => bail!("{DIAL_VAR}={text:?} must be true or false (it sets [campaigns] dial)"),
        },
        None => raw.dial.unwrap_or(true),
    };
    Ok(CampaignSettings { lease_ms, dial })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_lease_defaults_to_a_minute_and_the_variable_wins_over_the_file() {
        assert_eq!(compile_campaigns(RawCampaigns::default(), no_env).unwrap().lease_ms, 60_000);
        let raw = || toml::from_str::<RawCampaigns>("lease_ms = 8000").unwrap();
        assert_eq!(compile_campaigns(raw(), no_env).unwrap().lease_ms, 8_000);
        let env = |var: &str| (var == "VOICERA_CAMPAIGNS_LEASE_MS").then(|| "9000".to_string());
        assert_eq!(compile_campaigns(raw(), env).unwrap().lease_ms, 9_000);
    }

    #[test]
    fn a_node_dials_unless_told_not_to() {
        assert!(compile_campaigns(RawCampaigns::default(), no_env).unwrap().dial);
        let raw = || toml::from_str::<RawCampaigns>("dial = false").unwrap();
        assert!(!compile_campaigns(raw(), no_env).unwrap().dial);
        let env = |var: &str| (var == "VOICERA_CAMPAIGNS_DIAL").then(|| "TRUE".to_string());
        assert!(compile_campaigns(raw(), env).unwrap().dial);
        let env = |var: &str| (var == "VOICERA_CAMPAIGNS_DIAL").then(|| "maybe".to_string());
        let error = compile_campaigns(raw(), env).unwrap_err().to_string();
        assert!(error.starts_with("VOICERA_CAMPAIGNS_DIAL=\"maybe\""), "{error}");
    }

    #[test]
    fn a_lease_out_of_range_or_not_a_number_names_its_key() {
        let raw = toml::from_str::<RawCampaigns>("lease_ms = 1000").unwrap();
        let error = compile_campaigns(raw, no_env).unwrap_err().to_string();
        assert_eq!(
            error,
            "[campaigns] lease_ms = 1000 must be 7501 to 3600000 milliseconds (two thirds of it must exceed the \
             shortest ring time-out, 5 s)"
        );
        let env = |_: &str| Some("soon".to_string());
        let error = compile_campaigns(RawCampaigns::default(), env).unwrap_err().to_string();
        assert!(error.starts_with("VOICERA_CAMPAIGNS_LEASE_MS=\"soon\""), "{error}");
        assert!(toml::from_str::<RawCampaigns>("lease = 5000").is_err(), "unknown keys are refused");
    }

    #[test]
    fn every_lease_the_node_accepts_admits_a_ring_timeout() {
        // A lease of 3 to 7.5 s used to be accepted, and then no campaign could have a ring time-out.
        for ms in [3_000, 5_000, 7_500] {
            let raw = toml::from_str::<RawCampaigns>(&format!("lease_ms = {ms}")).unwrap();
            let error = compile_campaigns(raw, no_env).unwrap_err().to_string();
            assert!(error.starts_with(&format!("[campaigns] lease_ms = {ms} must be 7501 to 3600000")), "{error}");
        }
        for ms in [MIN_LEASE_MS, 7_800, 60_000, MAX_LEASE_MS] {
            let raw = toml::from_str::<RawCampaigns>(&format!("lease_ms = {ms}")).unwrap();
            let lease_ms = compile_campaigns(raw, no_env).unwrap().lease_ms;
            let longest = voicera_dialer::config::longest_ring_timeout(lease_ms);
            assert!(voicera_dialer::config::check_ring_timeout(longest, lease_ms).is_ok(), "{ms}");
            assert!(voicera_dialer::config::check_ring_timeout(5, lease_ms).is_ok(), "{ms}");
        }
    }
}
