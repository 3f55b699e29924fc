//! Finding where to send a request for a SIP target (RFC 3263 §4): NAPTR picks the protocol, SRV the hosts and
//! ports (RFC 2782 priority and weight), A/AAAA the addresses.
//!
//! The selection rules are pure functions ([`order_naptr`], [`order_srv`], [`plan`]); the lookups sit behind
//! [`DnsLookup`], so the rules are tested without DNS. [`Resolver::resolve`] returns a `'static` future bounded by a
//! timeout, meant to be spawned: the signalling task never waits on DNS, it gets the answer as a message.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::transport::SipProtocol;
use crate::uri::SipUri;

/// How long one resolution (all its lookups) may take. Below the 32 s a SIP transaction lives (64 × T1), so a
/// caller that resolves before sending still has time to send.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a target has no destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookups did not finish within the resolver's timeout.
    #[error("resolving {host} timed out")]
    TimedOut {
        /// The host being resolved.
        host: String,
    },
    /// DNS answered, but with no usable record.
    #[error("no address for {host}")]
    NotFound {
        /// The host being resolved.
        host: String,
    },
    /// The lookup itself failed (no name server reachable, malformed name, ...).
    #[error("DNS lookup of {name} failed: {reason}")]
    Lookup {
        /// The name queried.
        name: String,
        /// The resolver's message.
        reason: String,
    },
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Among equal priorities, the share of picks (RFC 2782 weighted random order).
    pub weight: u16,
    /// The port the service listens on.
    pub port: u16,
    /// Host name, without the trailing dot; `"."` (service not offered) never appears here.
    pub target: String,
}

/// One NAPTR record (RFC 3403), as RFC 3263 uses them: `services` such as `SIPS+D2T`, flag `s` for "SRV next".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower is used first.
    pub order: u16,
    /// Among equal orders, lower is preferred.
    pub preference: u16,
    /// `s` when the replacement is an SRV name (the only kind RFC 3263 follows).
    pub flags: String,
    /// The protocol offered (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`).
    pub services: String,
    /// The SRV name to query next, without the trailing dot.
    pub replacement: String,
}

/// What to resolve: a URI's or a trunk's host, with what it says about port and protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name or IP address literal.
    pub host: String,
    /// The port, when given (no SRV lookup is then made).
    pub port: Option<u16>,
    /// `Some` when the URI or configuration fixes the protocol (`sips:`, `;transport=`); `None` lets NAPTR choose.
    pub protocol: Option<SipProtocol>,
    /// `sips:`: only TLS is acceptable, whatever DNS says.
    pub secure: bool,
}

impl Target {
    /// The target of a request to `uri` (RFC 3263 §4.1).
    pub fn from_uri(uri: &SipUri) -> Target {
        let explicit = uri.params.get("transport").and_then(SipProtocol::parse);
        let protocol = if uri.secure { Some(SipProtocol::Tls) } else { explicit };
        Target { host: uri.host.clone(), port: uri.port, protocol, secure: uri.secure }
    }

    /// A trunk's `host[:port]` with its configured protocol, if any.
    pub fn from_host_port(host_port: &str, protocol: Option<SipProtocol>) -> Option<Target> {
        let (host, port) = crate::header::split_host_port(host_port)?;
        let secure = protocol == Some(SipProtocol::Tls);
        Some(Target { host, port, protocol, secure })
    }
}

/// Where to send: the protocol, the address, and the name the server's certificate must carry (the host the user
/// asked for, RFC 5922 §4, not the SRV target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The transport to use.
    pub protocol: SipProtocol,
    /// The address to connect or send to.
    pub addr: SocketAddr,
    /// The name TLS verifies the server's certificate against.
    pub server_name: String,
}

/// The DNS queries resolution needs. Each returns an empty list when the name has no such record; errors are for
/// failed lookups.
pub trait DnsLookup: Send + Sync + 'static {
    /// The NAPTR records of `name`.
    fn naptr(&self, name: &str) -> impl Future<Output = Result<Vec<NaptrRecord>, ResolveError>> + Send;
    /// The SRV records of `name` (e.g. `_sip._udp.example.com`).
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>, ResolveError>> + Send;
    /// The A and AAAA addresses of `host`, with `port`.
    fn addresses(&self, host: &str, port: u16) -> impl Future<Output = Result<Vec<SocketAddr>, ResolveError>> + Send;
}

/// The first lookup RFC 3263 §4 calls for, decided from the target alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// An IP address: no DNS at all.
    Literal(Destination),
    /// A port is given: A/AAAA only.
    Addresses {
        /// The transport (from the target, else UDP).
        protocol: SipProtocol,
        /// The given port.
        port: u16,
    },
    /// The protocol is fixed: SRV for it, then A/AAAA on the default port.
    Srv {
        /// The fixed transport.
        protocol: SipProtocol,
    },
    /// Nothing fixed: NAPTR, else SRV for each protocol in `fallback` order, else A/AAAA over UDP.
    Naptr {
        /// The protocols to try by SRV when there is no NAPTR record.
        fallback: Vec<SipProtocol>,
    },
}

/// Decides the first lookup for `target`.
pub fn plan(target: &Target) -> Plan {
    let bare = target.host.trim_start_matches('[').trim_end_matches(']');
    let protocol = target.protocol.unwrap_or(if target.secure { SipProtocol::Tls } else { SipProtocol::Udp });
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let port = target.port.unwrap_or(protocol.default_port());
        return Plan::Literal(Destination { protocol, addr: SocketAddr::new(ip, port), server_name: bare.to_string() });
    }
    if let Some(port) = target.port {
        return Plan::Addresses { protocol, port };
    }
    if target.protocol.is_some() || target.secure {
        return Plan::Srv { protocol };
    }
    Plan::Naptr { fallback: vec![SipProtocol::Udp, SipProtocol::Tcp, SipProtocol::Tls] }
}

/// The SRV owner name for `protocol` at `domain` (`_sips._tcp.example.com`).
pub fn srv_name(protocol: SipProtocol, domain: &str) -> String {
    match protocol {
        SipProtocol::Udp => format!("_sip._udp.{domain}"),
        SipProtocol::Tcp => format!("_sip._tcp.{domain}"),
        SipProtocol::Tls => format!("_sips._tcp.{domain}"),
    }
}

/// The usable NAPTR records in the order to try them (RFC 3263 §4.1: lowest order, then lowest preference):
/// terminal `s` records for the SIP services we speak, TLS only when `secure`. Returns each one's protocol and the
/// SRV name to query.
pub fn order_naptr(mut records: Vec<NaptrRecord>, secure: bool) -> Vec<(SipProtocol, String)> {
    records.sort_by_key(|r| (r.order, r.preference));
    records
        .into_iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            let protocol = match r.services.to_ascii_uppercase().as_str() {
                "SIP+D2U" => SipProtocol::Udp,
                "SIP+D2T" => SipProtocol::Tcp,
                "SIPS+D2T" => SipProtocol::Tls,
                _ => return None,
            };
            (!secure || protocol == SipProtocol::Tls).then_some((protocol, r.replacement))
        })
        .collect()
}

/// SRV records in the order to try them (RFC 2782): ascending priority; within one priority, a weighted random
/// order where each record's chance of coming next is its weight over the remaining weights (weight-0 records
/// get a small chance, listed first among equals as the RFC says). `random(total)` must return a value uniformly
/// in `0..=total`; passing it in keeps the order reproducible in tests.
pub fn order_srv(mut records: Vec<SrvRecord>, random: &mut impl FnMut(u32) -> u32) -> Vec<SrvRecord> {
    // A single "." target means "not offered here" (RFC 2782); callers drop it before, this keeps it safe.
    records.retain(|r| r.target != "." && !r.target.is_empty());
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let priority = records[0].priority;
        let same = records.iter().take_while(|r| r.priority == priority).count();
        let mut group: Vec<SrvRecord> = records.drain(..same).collect();
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = random(total);
            let mut running = 0u32;
            let index = group
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(group.len() - 1);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// Resolves SIP targets with `D`'s lookups, each resolution bounded by a timeout.
pub struct Resolver<D> {
    dns: Arc<D>,
    timeout: Duration,
}

impl<D> Clone for Resolver<D> {
    fn clone(&self) -> Self {
        Resolver { dns: self.dns.clone(), timeout: self.timeout }
    }
}

impl<D: DnsLookup> Resolver<D> {
    /// A resolver over `dns` that gives up on a target after `timeout` in all.
    pub fn new(dns: D, timeout: Duration) -> Self {
        Resolver { dns: Arc::new(dns), timeout }
    }

    /// The destinations for `target`, best first (try the next on failure). The future owns what it needs: spawn
    /// it and send its result back to the signalling task.
    pub fn resolve(
        &self,
        target: Target,
    ) -> impl Future<Output = Result<Vec<Destination>, ResolveError>> + Send + 'static {
        let dns = self.dns.clone();
        let timeout = self.timeout;
        async move {
            let host = target.host.clone();
            match tokio::time::timeout(timeout, resolve_with(&*dns, target)).await {
                Ok(Ok(found)) if found.is_empty() => Err(ResolveError::NotFound { host }),
                Ok(result) => result,
                Err(_) => Err(ResolveError::TimedOut { host }),
            }
        }
    }
}

/// The answer of one resolution, boxed so that holders of a [`SharedResolver`] need not name the lookup type.
pub type Resolution = Pin<Box<dyn Future<Output = Result<Vec<Destination>, ResolveError>> + Send + 'static>>;

/// A [`Resolver`] with its lookup type erased: what a long-lived, non-generic holder (the signalling service)
/// keeps, so that tests can hand it scripted DNS and the node the system's.
#[derive(Clone)]
pub struct SharedResolver {
    resolve: Arc<dyn Fn(Target) -> Resolution + Send + Sync>,
}

impl SharedResolver {
    /// Real DNS from the system configuration; when that cannot be read (no `/etc/resolv.conf` in a minimal
    /// container), addresses only, through `getaddrinfo`, as before NAPTR and SRV were known.
    pub fn system(timeout: Duration) -> SharedResolver {
        match SystemDns::from_system_conf() {
            Ok(dns) => Resolver::new(dns, timeout).into(),
            Err(err) => {
                tracing::warn!(%err, "no DNS configuration: SIP targets resolve by A/AAAA only (no NAPTR/SRV)");
                Resolver::new(AddressesOnly, timeout).into()
            }
        }
    }

    /// The destinations for `target`, best first; see [`Resolver::resolve`].
    pub fn resolve(&self, target: Target) -> Resolution {
        (self.resolve)(target)
    }
}

impl<D: DnsLookup> From<Resolver<D>> for SharedResolver {
    fn from(resolver: Resolver<D>) -> Self {
        SharedResolver { resolve: Arc::new(move |target| Box::pin(resolver.resolve(target))) }
    }
}

/// Lookups without NAPTR and SRV: the system's `getaddrinfo` for addresses.
struct AddressesOnly;

impl DnsLookup for AddressesOnly {
    async fn naptr(&self, _name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
        Ok(Vec::new())
    }

    async fn srv(&self, _name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        Ok(Vec::new())
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        getaddrinfo(host, port).await
    }
}

async fn getaddrinfo(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(err) => Err(ResolveError::Lookup { name: host.to_string(), reason: err.to_string() }),
    }
}

async fn resolve_with<D: DnsLookup>(dns: &D, target: Target) -> Result<Vec<Destination>, ResolveError> {
    let server_name = target.host.clone();
    match plan(&target) {
        Plan::Literal(destination) => Ok(vec![destination]),
        Plan::Addresses { protocol, port } => addresses(dns, &target.host, port, protocol, &server_name).await,
        Plan::Srv { protocol } => {
            let found = via_srv(dns, &srv_name(protocol, &target.host), protocol, &server_name).await?;
            if !found.is_empty() {
                return Ok(found);
            }
            addresses(dns, &target.host, protocol.default_port(), protocol, &server_name).await
        }
        Plan::Naptr { fallback } => {
            let records = dns.naptr(&target.host).await.unwrap_or_else(|err| {
                tracing::debug!(%err, "NAPTR lookup failed; trying SRV");
                Vec::new()
            });
            for (protocol, name) in order_naptr(records, target.secure) {
                let found = via_srv(dns, &name, protocol, &server_name).await?;
                if !found.is_empty() {
                    return Ok(found);
                }
            }
            for protocol in fallback {
                let found = via_srv(dns, &srv_name(protocol, &target.host), protocol, &server_name).await?;
                if !found.is_empty() {
                    return Ok(found);
                }
            }
            let protocol = SipProtocol::Udp;
            addresses(dns, &target.host, protocol.default_port(), protocol, &server_name).await
        }
    }
}

/// SRV at `name`, then each target's addresses, in RFC 2782 order. A target that does not resolve is skipped. A
/// failed SRV query counts as no record: the host's own addresses are the fallback (a name server that cannot
/// answer SRV must not make a host in `/etc/hosts` unreachable).
async fn via_srv<D: DnsLookup>(
    dns: &D,
    name: &str,
    protocol: SipProtocol,
    server_name: &str,
) -> Result<Vec<Destination>, ResolveError> {
    let records = dns.srv(name).await.unwrap_or_else(|err| {
        tracing::debug!(%err, name, "SRV lookup failed; falling back");
        Vec::new()
    });
    let records = {
        // Not held across an await: the thread-local generator is not Send.
        let mut rng = rand::rng();
        order_srv(records, &mut |total| rand::Rng::random_range(&mut rng, 0..=total))
    };
    let mut found = Vec::new();
    for record in records {
        match addresses(dns, &record.target, record.port, protocol, server_name).await {
            Ok(mut more) => found.append(&mut more),
            Err(err) => tracing::debug!(%err, target = %record.target, "SRV target does not resolve; skipped"),
        }
    }
    Ok(found)
}

async fn addresses<D: DnsLookup>(
    dns: &D,
    host: &str,
    port: u16,
    protocol: SipProtocol,
    server_name: &str,
) -> Result<Vec<Destination>, ResolveError> {
    let addrs = dns.addresses(host, port).await?;
    Ok(addrs.into_iter().map(|addr| Destination { protocol, addr, server_name: server_name.to_string() }).collect())
}

/// Lookups against real DNS: NAPTR and SRV through hickory-resolver, A/AAAA through the system's resolver
/// (`getaddrinfo`, so `/etc/hosts` applies as for every other program on the host).
#[derive(Clone)]
pub struct SystemDns {
    resolver: TokioResolver,
}

impl SystemDns {
    /// Name servers from the system configuration (`/etc/resolv.conf`).
    pub fn from_system_conf() -> Result<SystemDns, ResolveError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(|builder| builder.build())
            .map_err(|err| ResolveError::Lookup { name: "/etc/resolv.conf".into(), reason: err.to_string() })?;
        Ok(SystemDns { resolver })
    }

    /// NAPTR and SRV from the name servers at `servers` (UDP, then TCP for truncated answers).
    pub fn with_name_servers(servers: &[SocketAddr]) -> Result<SystemDns, ResolveError> {
        use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|err| ResolveError::Lookup { name: "name servers".into(), reason: err.to_string() })?;
        Ok(SystemDns { resolver })
    }

    async fn records(&self, name: &str, record_type: RecordType) -> Result<Vec<RData>, ResolveError> {
        // Fully qualified: no search-domain expansion of a trunk's name.
        let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
        match self.resolver.lookup(fqdn.as_str(), record_type).await {
            Ok(lookup) => Ok(lookup.answers().iter().map(|record| record.data.clone()).collect()),
            Err(err) if err.is_no_records_found() || err.is_nx_domain() => Ok(Vec::new()),
            Err(err) => Err(ResolveError::Lookup { name: name.to_string(), reason: err.to_string() }),
        }
    }
}

fn without_root_dot(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_string()
}

impl DnsLookup for SystemDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
        let records = self.records(name, RecordType::NAPTR).await?;
        Ok(records
            .into_iter()
            .filter_map(|data| match data {
                RData::NAPTR(naptr) => Some(NaptrRecord {
                    order: naptr.order,
                    preference: naptr.preference,
                    flags: String::from_utf8_lossy(&naptr.flags).into_owned(),
                    services: String::from_utf8_lossy(&naptr.services).into_owned(),
                    replacement: without_root_dot(&naptr.replacement.to_ascii()),
                }),
                _ => None,
            })
            .collect())
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        let records = self.records(name, RecordType::SRV).await?;
        Ok(records
            .into_iter()
            .filter_map(|data| match data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: without_root_dot(&srv.target.to_ascii()),
                }),
                _ => None,
            })
            .filter(|srv| !srv.target.is_empty())
            .collect())
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        getaddrinfo(host, port).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord { priority, weight, port: 5060, target: target.into() }
    }

    fn naptr(order: u16, preference: u16, services: &str, replacement: &str) -> NaptrRecord {
        NaptrRecord { order, preference, flags: "s".into(), services: services.into(), replacement: replacement.into() }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn srv_priority_comes_before_weight() {
        let records = vec![srv(20, 100, "backup"), srv(10, 1, "light"), srv(10, 0, "zero")];
        // Always the lowest value: the first record in running order whose sum reaches it.
        let ordered = order_srv(records, &mut |_| 0);
        assert_eq!(targets(&ordered), ["zero", "light", "backup"]);
    }

    #[test]
    fn srv_weight_decides_by_running_sum() {
        let records = vec![srv(10, 10, "a"), srv(10, 30, "b"), srv(10, 60, "c")];
        // Running sums a=10, b=40, c=100: 41 falls in c's share; then a=10, b=40 and 11 falls in b's.
        let mut picks = vec![41, 11, 0].into_iter();
        let ordered = order_srv(records, &mut |_| picks.next().unwrap_or(0));
        assert_eq!(targets(&ordered), ["c", "b", "a"]);
    }

    #[test]
    fn srv_weights_share_first_place_in_proportion() {
        let records = vec![srv(10, 100, "rare"), srv(10, 300, "common")];
        let mut state = 0x2545_f491_u32;
        let mut firsts = 0;
        for _ in 0..4000 {
            let mut random = |total: u32| {
                // xorshift: a fixed sequence, so the count is reproducible.
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state % (total + 1)
            };
            if order_srv(records.clone(), &mut random)[0].target == "common" {
                firsts += 1;
            }
        }
        // RFC 2782 draws from 0..=400: 300 of the 401 values pick "common", about 2993 of 4000.
        assert!((2800..3200).contains(&firsts), "common first {firsts} times");
    }

    /// NAPTR and SRV queries fail; only addresses answer.
    struct OnlyAddresses;

    impl DnsLookup for OnlyAddresses {
        async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
            Err(ResolveError::Lookup { name: name.into(), reason: "SERVFAIL".into() })
        }

        async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
            Err(ResolveError::Lookup { name: name.into(), reason: "SERVFAIL".into() })
        }

        async fn addresses(&self, _host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
            Ok(vec![SocketAddr::from(([192, 0, 2, 5], port))])
        }
    }

    #[tokio::test]
    async fn failed_naptr_and_srv_queries_fall_back_to_the_hosts_addresses() {
        let resolver = Resolver::new(OnlyAddresses, DEFAULT_RESOLVE_TIMEOUT);
        let found = resolver.resolve(Target::from_uri(&SipUri::parse("sip:a@pbx.example").unwrap())).await;
        let udp = Destination {
            protocol: SipProtocol::Udp,
            addr: "192.0.2.5:5060".parse().unwrap(),
            server_name: "pbx.example".into(),
        };
        assert_eq!(found, Ok(vec![udp]));
        let tls = Target::from_host_port("pbx.example", Some(SipProtocol::Tls)).unwrap();
        assert_eq!(resolver.resolve(tls).await.unwrap()[0].addr, "192.0.2.5:5061".parse().unwrap());
    }

    #[test]
    fn srv_dot_target_means_not_offered() {
        assert!(order_srv(vec![srv(0, 0, ".")], &mut |_| 0).is_empty());
    }

    #[test]
    fn naptr_follows_order_then_preference_and_skips_what_we_do_not_speak() {
        let records = vec![
            naptr(50, 10, "SIP+D2U", "_sip._udp.example.com"),
            naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com"),
            naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
            naptr(10, 5, "SIP+D2S", "_sip._sctp.example.com"),
        ];
        let ordered = order_naptr(records.clone(), false);
        assert_eq!(
            ordered,
            vec![
                (SipProtocol::Tls, "_sips._tcp.example.com".to_string()),
                (SipProtocol::Tcp, "_sip._tcp.example.com".to_string()),
                (SipProtocol::Udp, "_sip._udp.example.com".to_string()),
            ]
        );
        assert_eq!(order_naptr(records, true), vec![(SipProtocol::Tls, "_sips._tcp.example.com".to_string())]);
    }

    #[test]
    fn plan_follows_rfc_3263() {
        let of = |uri: &str| plan(&Target::from_uri(&SipUri::parse(uri).unwrap()));
        assert_eq!(
            of("sips:a@192.0.2.1"),
            Plan::Literal(Destination {
                protocol: SipProtocol::Tls,
                addr: "192.0.2.1:5061".parse().unwrap(),
                server_name: "192.0.2.1".into(),
            })
        );
        assert_eq!(of("sip:a@trunk.example:5070"), Plan::Addresses { protocol: SipProtocol::Udp, port: 5070 });
        assert_eq!(of("sip:a@trunk.example;transport=tcp"), Plan::Srv { protocol: SipProtocol::Tcp });
        assert_eq!(of("sips:a@trunk.example"), Plan::Srv { protocol: SipProtocol::Tls });
        assert!(matches!(of("sip:a@trunk.example"), Plan::Naptr { .. }));
        assert_eq!(
            Target::from_host_port("trunk.example:5061", Some(SipProtocol::Tls)),
            Some(Target {
                host: "trunk.example".into(),
                port: Some(5061),
                protocol: Some(SipProtocol::Tls),
                secure: true,
            })
        );
    }
}
