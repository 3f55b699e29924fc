//! `[sip]` keys that keep strangers out and the node up: call caps, the longest call, the hold timeout,
//! registrar trust over UDP, per-source rate limits, and `[sip.refer]` (who may make us place calls by REFER).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;
use voicera_telephony::sip_rtp::{CallCaps, ReferPolicy};

use super::RawSip;

/// `[sip.refer]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRefer {
    #[serde(default)]
    trusted_peers: Vec<IpAddr>,
    #[serde(default)]
    allowed_targets: Vec<String>,
}

/// The SIP user agent's security settings, checked.
#[derive(Debug, Clone)]
pub struct SipSecurity {
    pub caps: CallCaps,
    pub refer: ReferPolicy,
    pub trust_registrars_over_udp: bool,
    pub rate_limit: bool,
    pub rate_limit_exempt: Vec<IpAddr>,
}

pub(super) fn compile(raw: &RawSip) -> Result<SipSecurity> {
    let defaults = CallCaps::default();
    let max_calls = raw.max_calls.unwrap_or(defaults.max_calls);
    if max_calls == 0 {
        bail!("sip.max_calls must be at least 1");
    }
    let max_duration = match raw.max_call_secs {
        Some(s) if !(60..=7 * 86_400).contains(&s) => bail!("sip.max_call_secs must be between 60 and 604800"),
        Some(s) => Duration::from_secs(s),
        None => defaults.max_duration,
    };
    let hold_timeout = match raw.hold_timeout_secs {
        Some(s) if !(10..=86_400).contains(&s) => bail!("sip.hold_timeout_secs must be between 10 and 86400"),
        Some(s) => Duration::from_secs(s),
        None => defaults.hold_timeout,
    };
    let refer = match &raw.refer {
        Some(r) => {
            if !r.trusted_peers.is_empty() && r.allowed_targets.is_empty() {
                bail!("sip.refer: trusted_peers without allowed_targets would allow no transfer; list the targets");
            }
            if let Some(bad) = r.allowed_targets.iter().find(|t| t.trim().is_empty() || t.contains(char::is_whitespace))
            {
                bail!("sip.refer.allowed_targets: {bad:?} is neither a host[:port] nor a number prefix");
            }
            ReferPolicy { trusted_peers: r.trusted_peers.clone(), allowed_targets: r.allowed_targets.clone() }
        }
        None => ReferPolicy::default(),
    };
    Ok(SipSecurity {
        caps: CallCaps {
            max_calls,
            max_calls_per_source: raw.max_calls_per_source.unwrap_or(defaults.max_calls_per_source),
            max_duration,
            hold_timeout,
            retry_after_secs: defaults.retry_after_secs,
        },
        refer,
        trust_registrars_over_udp: raw.trust_registrars_over_udp.unwrap_or(false),
        rate_limit: raw.rate_limit.unwrap_or(true),
        rate_limit_exempt: raw
            .rate_limit_exempt
            .clone()
            .unwrap_or_else(|| vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]),
    })
}
