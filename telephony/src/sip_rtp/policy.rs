//! The user agent's security decisions, pure: who may make us place calls by REFER and to where, and whether
//! a new call fits under the node's limits. The signalling task asks; nothing here touches a socket or a
//! clock, so every rule is tested on plain values.
//!
//! Defaults are closed: with no `[sip.refer]` configured every incoming REFER is refused (a caller of `echo`
//! could otherwise make the node dial anything, with a trunk's credentials, at the operator's cost); and with
//! `[sip] auth = "none"` only callers on the operator's own networks reach an agent ([`AgentSources`]): a SIP
//! scanner on the internet would otherwise run model inference for free.

use std::net::IpAddr;
use std::time::Duration;

use voicera_sip::uri::SipUri;

/// Who may ask us to call someone else (an in-dialog REFER, where we are the transferee), and where to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferPolicy {
    /// Peers whose REFERs we carry out (a PBX, an SBC). Empty: every REFER is refused with 403.
    pub trusted_peers: Vec<IpAddr>,
    /// Where a trusted peer may send the caller: a host (`pbx.example.com`, `10.0.0.7`, `10.0.0.7:5070`) that
    /// the Refer-To URI must point at, or a number prefix (`+91`, `1800`) its user part must start with.
    /// Empty: no target is allowed.
    pub allowed_targets: Vec<String>,
}

/// Why a REFER is refused: the status and reason phrase it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferRefusal {
    /// The SIP status to answer the REFER with.
    pub status: u16,
    /// Its reason phrase.
    pub reason: &'static str,
}

impl ReferPolicy {
    /// Whether a REFER from `source` to `target` may be carried out, `busy` telling whether one of this
    /// dialog's REFERs is still being carried out (one at a time per dialog).
    pub fn decide(&self, source: IpAddr, target: &SipUri, busy: bool) -> Result<(), ReferRefusal> {
        if !self.trusted_peers.contains(&source) {
            return Err(ReferRefusal { status: 403, reason: "Forbidden (REFER is not accepted from this peer)" });
        }
        if busy {
            return Err(ReferRefusal { status: 491, reason: "Request Pending (a transfer is already under way)" });
        }
        if !self.allows(target) {
            return Err(ReferRefusal { status: 403, reason: "Forbidden (transfer target not allowed)" });
        }
        Ok(())
    }

    fn allows(&self, target: &SipUri) -> bool {
        let host = target.host.to_ascii_lowercase();
        let host_port = target.port.map(|p| format!("{host}:{p}"));
        let user = target.user.as_deref().unwrap_or_default();
        let number = user.trim_start_matches('+');
        let is_number = !number.is_empty() && number.chars().all(|c| c.is_ascii_digit());
        self.allowed_targets.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            let allowed_host = allowed.trim_start_matches("sip:");
            if allowed_host == host || host_port.as_deref() == Some(allowed_host) {
                return true;
            }
            // A number prefix: digits with an optional leading '+', compared with the same normalisation.
            let prefix = allowed.trim_start_matches('+');
            is_number && !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_digit()) && number.starts_with(prefix)
        })
    }
}

/// How many calls the node takes, and how long one may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCaps {
    /// Calls at once on this node (ringing and answered, SIP); beyond it new INVITEs get 503 + Retry-After.
    pub max_calls: usize,
    /// Calls at once from one source address (a scanner, a runaway PBX); 0: no per-source cap.
    pub max_calls_per_source: usize,
    /// No call lasts longer than this, whatever runs on it (echo included).
    pub max_duration: Duration,
    /// A call whose peer sends nothing on purpose (hold, `a=inactive`, `recvonly`) ends after this long
    /// without RTP or RTCP from it.
    pub hold_timeout: Duration,
    /// What `Retry-After` says when the node is full.
    pub retry_after_secs: u32,
}

impl Default for CallCaps {
    fn default() -> Self {
        CallCaps {
            max_calls: 2000,
            max_calls_per_source: 0,
            max_duration: Duration::from_secs(4 * 3600),
            hold_timeout: Duration::from_secs(15 * 60),
            retry_after_secs: 5,
        }
    }
}

impl CallCaps {
    /// Whether one more call fits, given the calls up now in total and from its source.
    pub fn admit(&self, total: usize, from_source: usize) -> Result<(), &'static str> {
        if total >= self.max_calls {
            return Err("the node is at its call limit");
        }
        if self.max_calls_per_source > 0 && from_source >= self.max_calls_per_source {
            return Err("too many calls from this address");
        }
        Ok(())
    }
}

/// An address block: an address and how many leading bits of it a source must share (`10.0.0.0/8`,
/// `2001:db8::/32`; a plain address is the block of that address alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressBlock {
    network: IpAddr,
    prefix_len: u8,
}

impl AddressBlock {
    /// Parses `ADDRESS` or `ADDRESS/BITS` (BITS: decimal digits only); None when it is neither, or the prefix
    /// is longer than the address. An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) becomes the IPv4 block it
    /// names, since sources are compared as IPv4 ([`Self::contains`]); one wider than the mapped range (a
    /// prefix under 96) is refused rather than kept as a block that could never match.
    pub fn parse(text: &str) -> Option<AddressBlock> {
        let (address, bits) = match text.trim().split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match bits {
            // u8's parser takes a leading '+', which is no CIDR prefix.
            Some(bits) if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) => return None,
            Some(bits) => bits.parse::<u8>().ok().filter(|b| *b <= width)?,
            None => width,
        };
        match network {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Some(AddressBlock { network: IpAddr::V4(v4), prefix_len: prefix_len.checked_sub(96)? }),
                None => Some(AddressBlock { network, prefix_len }),
            },
            IpAddr::V4(_) => Some(AddressBlock { network, prefix_len }),
        }
    }

    /// Whether `source` is in the block. An IPv4 source reaching an IPv6 socket (`::ffff:a.b.c.d`) is compared
    /// as the IPv4 address it is.
    pub fn contains(&self, source: IpAddr) -> bool {
        let leading = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.prefix_len);
            // A /0 block shifts every bit out: any address matches.
            shift >= width || (a >> shift) == (b >> shift)
        };
        match (self.network, source.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(s)) => leading(u32::from(n).into(), u32::from(s).into(), 32),
            (IpAddr::V6(n), IpAddr::V6(s)) => leading(u128::from(n), u128::from(s), 128),
            _ => false,
        }
    }
}

impl std::fmt::Display for AddressBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

/// The blocks [`AgentSources::default`] admits: loopback, the private ranges (RFC 1918, RFC 4193) and
/// link-local — networks the operator's own machines, PBXs, SBCs and dispatchers sit on, and that no scanner
/// on the internet can send from (its packets carry a public source address).
pub const LOCAL_NETWORKS: [&str; 8] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

/// Who may reach an agent without authenticating when `[sip] auth = "none"` (`[sip] agent_sources`): an agent
/// call runs speech recognition, a language model and speech synthesis, paid for by the operator, so by default
/// only callers on local networks ([`LOCAL_NETWORKS`]) and the trunks' addresses get one; anyone else is
/// refused with 403 before a port or a model is taken. `echo` stays open to all (it runs no model, and the call
/// caps bound it). With `auth = "digest"` a caller's credentials decide instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSources {
    /// The blocks admitted (empty: only trunks).
    pub blocks: Vec<AddressBlock>,
}

impl Default for AgentSources {
    fn default() -> Self {
        AgentSources { blocks: LOCAL_NETWORKS.iter().filter_map(|b| AddressBlock::parse(b)).collect() }
    }
}

impl AgentSources {
    /// Whether an unauthenticated caller at `source` may reach an agent.
    pub fn admits(&self, source: IpAddr) -> bool {
        self.blocks.iter().any(|block| block.contains(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn by_default_agents_answer_local_networks_and_no_one_on_the_internet() {
        let sources = AgentSources::default();
        for local in ["127.0.0.1", "10.1.2.3", "172.16.0.9", "172.31.255.1", "192.168.1.20", "169.254.3.4", "::1"] {
            assert!(sources.admits(ip(local)), "{local}");
        }
        for local in ["fd12:3456::1", "fe80::1", "::ffff:192.168.1.20", "::ffff:127.0.0.1"] {
            assert!(sources.admits(ip(local)), "{local}");
        }
        for public in ["8.8.8.8", "203.0.113.9", "172.32.0.1", "100.64.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!sources.admits(ip(public)), "{public}");
        }
    }

    #[test]
    fn ipv4_mapped_blocks_become_ipv4_and_a_signed_prefix_is_refused() {
        let mapped = AddressBlock::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped, AddressBlock::parse("10.0.0.0/8").unwrap());
        assert!(mapped.contains(ip("10.1.2.3")) && mapped.contains(ip("::ffff:10.1.2.3")));
        assert!(!mapped.contains(ip("11.0.0.1")));
        assert_eq!(AddressBlock::parse("::ffff:203.0.113.9"), AddressBlock::parse("203.0.113.9/32"));
        // Wider than the mapped range: no IPv4 block says it, and as IPv6 it would never match.
        assert_eq!(AddressBlock::parse("::ffff:0.0.0.0/95"), None);
        for signed in ["10.0.0.0/+8", "10.0.0.0/-8", "10.0.0.0/", "10.0.0.0/ 8", "2001:db8::/+32"] {
            assert_eq!(AddressBlock::parse(signed), None, "{signed}");
        }
    }

    #[test]
    fn address_blocks_parse_and_match_by_their_prefix() {
        let block = AddressBlock::parse("198.51.100.0/24").unwrap();
        assert!(block.contains(ip("198.51.100.77")) && !block.contains(ip("198.51.101.1")));
        assert_eq!(block.to_string(), "198.51.100.0/24");
        let one = AddressBlock::parse(" 203.0.113.9 ").unwrap();
        assert!(one.contains(ip("203.0.113.9")) && !one.contains(ip("203.0.113.10")));
        let everyone = AgentSources { blocks: vec![AddressBlock::parse("0.0.0.0/0").unwrap()] };
        assert!(everyone.admits(ip("8.8.8.8")) && !everyone.admits(ip("2001:db8::1")), "IPv4 only");
        let v6 = AddressBlock::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")) && !v6.contains(ip("10.0.0.1")));
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/x", "example.com", "10.0.0/8"] {
            assert_eq!(AddressBlock::parse(bad), None, "{bad:?}");
        }
        assert!(!AgentSources { blocks: Vec::new() }.admits(ip("127.0.0.1")), "empty: trunks only");
    }

    fn uri(text: &str) -> SipUri {
        SipUri::parse(text).unwrap()
    }

    #[test]
    fn refer_is_refused_by_default_and_from_strangers() {
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let refusal = ReferPolicy::default().decide(stranger, &uri("sip:+15550001111@10.0.0.7"), false).unwrap_err();
        assert_eq!(refusal.status, 403);
        let policy =
            ReferPolicy { trusted_peers: vec!["10.0.0.5".parse().unwrap()], allowed_targets: vec!["10.0.0.7".into()] };
        assert_eq!(policy.decide(stranger, &uri("sip:+15550001111@10.0.0.7"), false).unwrap_err().status, 403);
    }

    #[test]
    fn a_trusted_peer_may_refer_to_allowed_hosts_and_numbers_one_at_a_time() {
        let pbx: IpAddr = "10.0.0.5".parse().unwrap();
        let policy = ReferPolicy {
            trusted_peers: vec![pbx],
            allowed_targets: vec!["sip:pbx.example.com".into(), "10.0.0.7:5070".into(), "+9180".into()],
        };
        assert_eq!(policy.decide(pbx, &uri("sip:desk@PBX.example.com"), false), Ok(()));
        assert_eq!(policy.decide(pbx, &uri("sip:desk@10.0.0.7:5070"), false), Ok(()));
        assert_eq!(policy.decide(pbx, &uri("sip:+918012345678@carrier.example"), false), Ok(()));
        assert_eq!(policy.decide(pbx, &uri("sip:918012345678@carrier.example"), false), Ok(()));
        // Elsewhere: another port, another number, another host.
        assert_eq!(policy.decide(pbx, &uri("sip:desk@10.0.0.7:5080"), false).unwrap_err().status, 403);
        assert_eq!(policy.decide(pbx, &uri("sip:+19005550000@carrier.example"), false).unwrap_err().status, 403);
        assert_eq!(policy.decide(pbx, &uri("sip:desk@evil.example"), false).unwrap_err().status, 403);
        // While one is under way, another is "pending".
        assert_eq!(policy.decide(pbx, &uri("sip:desk@pbx.example.com"), true).unwrap_err().status, 491);
    }

    #[test]
    fn calls_beyond_the_caps_are_refused() {
        let caps = CallCaps { max_calls: 3, max_calls_per_source: 2, ..CallCaps::default() };
        assert_eq!(caps.admit(0, 0), Ok(()));
        assert_eq!(caps.admit(2, 1), Ok(()));
        assert!(caps.admit(2, 2).is_err(), "per source");
        assert!(caps.admit(3, 0).is_err(), "node-wide");
        let unlimited_per_source = CallCaps { max_calls: 10, max_calls_per_source: 0, ..CallCaps::default() };
        assert_eq!(unlimited_per_source.admit(9, 9), Ok(()));
    }
}
