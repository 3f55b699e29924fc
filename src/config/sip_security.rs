//! `[sip]` keys that keep strangers out and the node up: call caps, the longest call, the hold timeout,
//! registrar trust over UDP, per-source rate limits, `agent_sources` (who reaches an agent without auth),
//! `[sip.refer]` (who may make us place calls by REFER), `[sip.tls]` (SIP over TLS), `[sip.limits]` (TCP/TLS
//! connections) and `srtp` (SRTP keyed by SDES, also per trunk).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;
use voicera_sip::transport::ConnectionLimits;
use voicera_telephony::sip_rtp::{AddressBlock, AgentSources, CallCaps, ReferPolicy, SipTls, SrtpPolicy};

use super::{NodeArgs, RawSip};

/// `[sip.tls]`: the certificate chain and key (PEM; paths relative to voicera.toml), or
/// `VOICERA_SIP_TLS_CERT` / `VOICERA_SIP_TLS_KEY`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// `[sip.limits]`: TCP and TLS connections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnectionLimits {
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    idle_timeout_secs: Option<u64>,
    max_message_bytes: Option<usize>,
    tls_handshake_timeout_secs: Option<u64>,
}

/// The default SIP over TLS port (RFC 3261 §19.1.2).
const DEFAULT_SIP_TLS_PORT: u16 = 5061;

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
pub(crate) struct SipSecurity {
    pub(crate) caps: CallCaps,
    pub(crate) refer: ReferPolicy,
    pub(crate) trust_registrars_over_udp: bool,
    pub(crate) rate_limit: bool,
    pub(crate) rate_limit_exempt: Vec<IpAddr>,
    pub(crate) agent_sources: AgentSources,
    pub(crate) tls: Option<SipTls>,
    pub(crate) connection_limits: ConnectionLimits,
    pub(crate) srtp: SrtpPolicy,
}

/// `srtp = "off" | "offer" | "required"` (`key` names the setting in the error).
pub(super) fn parse_srtp(key: &str, value: &str) -> Result<SrtpPolicy> {
    match SrtpPolicy::from_config_name(value) {
        Some(policy) => Ok(policy),
        None => bail!("{key} = {value:?} must be \"off\", \"offer\" or \"required\""),
    }
}

/// SIP over TLS: on when a certificate and key are configured; the address from `--sip-tls`, else the SIP
/// address's host on port 5061.
fn compile_tls(raw: &RawSip, args: &NodeArgs, sip: SocketAddr, config_dir: &Path) -> Result<Option<SipTls>> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let file = |env: &str, configured: Option<&PathBuf>| {
        from_env(env).or_else(|| configured.map(|p| if p.is_absolute() { p.clone() } else { config_dir.join(p) }))
    };
    let raw_tls = raw.tls.as_ref();
    let cert = file("VOICERA_SIP_TLS_CERT", raw_tls.and_then(|t| t.cert.as_ref()));
    let key = file("VOICERA_SIP_TLS_KEY", raw_tls.and_then(|t| t.key.as_ref()));
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) if args.sip_tls.is_none() => return Ok(None),
        (None, None) => bail!("--sip-tls needs a certificate: [sip.tls] cert and key (or VOICERA_SIP_TLS_CERT/_KEY)"),
        (Some(_), None) => bail!("sip.tls: a cert without a key (key, or VOICERA_SIP_TLS_KEY)"),
        (None, Some(_)) => bail!("sip.tls: a key without a cert (cert, or VOICERA_SIP_TLS_CERT)"),
    };
    for (what, path) in [("cert", &cert), ("key", &key)] {
        if !path.is_file() {
            bail!("sip.tls.{what}: {} is not a readable file", path.display());
        }
    }
    let listen = args.sip_tls.unwrap_or_else(|| SocketAddr::new(sip.ip(), DEFAULT_SIP_TLS_PORT));
    Ok(Some(SipTls { listen, cert, key }))
}

/// `[sip] agent_sources`: addresses or CIDR blocks (default: loopback and private networks).
fn compile_agent_sources(raw: Option<&Vec<String>>) -> Result<AgentSources> {
    let Some(entries) = raw else { return Ok(AgentSources::default()) };
    let mut blocks = Vec::with_capacity(entries.len());
    for entry in entries {
        match AddressBlock::parse(entry) {
            Some(block) => blocks.push(block),
            None => bail!("sip.agent_sources: {entry:?} is neither an address nor a CIDR block (like \"10.0.0.0/8\")"),
        }
    }
    Ok(AgentSources { blocks })
}

fn compile_connection_limits(raw: Option<&RawConnectionLimits>) -> Result<ConnectionLimits> {
    let mut limits = ConnectionLimits::default();
    let Some(raw) = raw else { return Ok(limits) };
    if let Some(n) = raw.max_connections {
        if n == 0 {
            bail!("sip.limits.max_connections must be at least 1");
        }
        limits.max_connections = n;
    }
    if let Some(n) = raw.max_connections_per_ip {
        if n == 0 {
            bail!("sip.limits.max_connections_per_ip must be at least 1");
        }
        limits.max_connections_per_ip = n;
    }
    if let Some(s) = raw.idle_timeout_secs {
        if !(5..=86_400).contains(&s) {
            bail!("sip.limits.idle_timeout_secs must be between 5 and 86400");
        }
        limits.idle_timeout = Duration::from_secs(s);
    }
    if let Some(n) = raw.max_message_bytes {
        if !(1024..=voicera_sip::message::MAX_MESSAGE_BYTES).contains(&n) {
            bail!("sip.limits.max_message_bytes must be between 1024 and {}", voicera_sip::message::MAX_MESSAGE_BYTES);
        }
        limits.max_message_bytes = n;
    }
    if let Some(s) = raw.tls_handshake_timeout_secs {
        if !(1..=120).contains(&s) {
            bail!("sip.limits.tls_handshake_timeout_secs must be between 1 and 120");
        }
        limits.handshake_timeout = Duration::from_secs(s);
    }
    Ok(limits)
}

pub(super) fn compile(raw: &RawSip, args: &NodeArgs, sip: SocketAddr, config_dir: &Path) -> Result<SipSecurity> {
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
        agent_sources: compile_agent_sources(raw.agent_sources.as_ref())?,
        tls: compile_tls(raw, args, sip, config_dir)?,
        connection_limits: compile_connection_limits(raw.limits.as_ref())?,
        srtp: raw.srtp.as_deref().map(|v| parse_srtp("sip.srtp", v)).transpose()?.unwrap_or_default(),
    })
}
