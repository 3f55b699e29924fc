//! Trunk resolution (RFC 3263) through the `Resolver` with scripted DNS answers: NAPTR → SRV → A/AAAA chains,
//! the fallbacks when records are missing, and the timeout that keeps a slow name server from holding anyone up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use voicera_sip::resolve::{
    Destination, DnsLookup, NaptrRecord, ResolveError, Resolver, SrvRecord, Target, DEFAULT_RESOLVE_TIMEOUT,
};
use voicera_sip::transport::SipProtocol;
use voicera_sip::uri::SipUri;

/// DNS answers from tables; a query listed in `stall` as (record type, name) never answers.
#[derive(Default)]
struct ScriptedDns {
    naptr: HashMap<String, Vec<NaptrRecord>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    hosts: HashMap<String, Vec<[u8; 4]>>,
    stall: Vec<(&'static str, String)>,
}

impl ScriptedDns {
    async fn stall_if_listed(&self, record_type: &str, name: &str) {
        if self.stall.iter().any(|(t, n)| *t == record_type && n == name) {
            std::future::pending::<()>().await;
        }
    }
}

impl DnsLookup for ScriptedDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
        self.stall_if_listed("NAPTR", name).await;
        Ok(self.naptr.get(name).cloned().unwrap_or_default())
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        self.stall_if_listed("SRV", name).await;
        Ok(self.srv.get(name).cloned().unwrap_or_default())
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        self.stall_if_listed("A", host).await;
        match self.hosts.get(host) {
            Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::from((*ip, port))).collect()),
            None => Err(ResolveError::NotFound { host: host.to_string() }),
        }
    }
}

fn target(uri: &str) -> Target {
    Target::from_uri(&SipUri::parse(uri).expect("uri"))
}

fn destination(protocol: SipProtocol, addr: &str, server_name: &str) -> Destination {
    Destination { protocol, addr: addr.parse().expect("addr"), server_name: server_name.into() }
}

fn srv(priority: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord { priority, weight: 0, port, target: target.into() }
}

#[tokio::test]
async fn naptr_chooses_tls_and_srv_orders_the_hosts() {
    let mut dns = ScriptedDns::default();
    dns.naptr.insert(
        "trunk.example".into(),
        vec![
            NaptrRecord {
                order: 20,
                preference: 0,
                flags: "s".into(),
                services: "SIP+D2U".into(),
                replacement: "_sip._udp.trunk.example".into(),
            },
            NaptrRecord {
                order: 10,
                preference: 0,
                flags: "S".into(),
                services: "SIPS+D2T".into(),
                replacement: "_sips._tcp.trunk.example".into(),
            },
        ],
    );
    dns.srv.insert(
        "_sips._tcp.trunk.example".into(),
        vec![srv(20, 5062, "backup.trunk.example"), srv(10, 5061, "main.trunk.example")],
    );
    dns.hosts.insert("main.trunk.example".into(), vec![[127, 0, 0, 10], [127, 0, 0, 11]]);
    dns.hosts.insert("backup.trunk.example".into(), vec![[127, 0, 0, 20]]);
    let resolver = Resolver::new(dns, DEFAULT_RESOLVE_TIMEOUT);

    let found = tokio::spawn(resolver.resolve(target("sip:1001@trunk.example"))).await.expect("task");

    // The certificate must name the host asked for, not the SRV target.
    assert_eq!(
        found,
        Ok(vec![
            destination(SipProtocol::Tls, "127.0.0.10:5061", "trunk.example"),
            destination(SipProtocol::Tls, "127.0.0.11:5061", "trunk.example"),
            destination(SipProtocol::Tls, "127.0.0.20:5062", "trunk.example"),
        ])
    );
}

#[tokio::test]
async fn sips_uses_only_tls_srv_then_the_host_on_5061() {
    let mut dns = ScriptedDns::default();
    // A NAPTR for UDP must not matter to a sips: target.
    dns.srv.insert("_sip._udp.secure.example".into(), vec![srv(0, 5060, "udp.secure.example")]);
    dns.hosts.insert("secure.example".into(), vec![[127, 0, 0, 30]]);
    dns.hosts.insert("udp.secure.example".into(), vec![[127, 0, 0, 31]]);
    let resolver = Resolver::new(dns, DEFAULT_RESOLVE_TIMEOUT);

    let found = resolver.resolve(target("sips:1001@secure.example")).await;

    assert_eq!(found, Ok(vec![destination(SipProtocol::Tls, "127.0.0.30:5061", "secure.example")]));
}

#[tokio::test]
async fn without_naptr_or_srv_the_host_is_used_over_udp_on_5060() {
    let mut dns = ScriptedDns::default();
    dns.hosts.insert("plain.example".into(), vec![[127, 0, 0, 40]]);
    let resolver = Resolver::new(dns, DEFAULT_RESOLVE_TIMEOUT);

    let found = resolver.resolve(target("sip:1001@plain.example")).await;

    assert_eq!(found, Ok(vec![destination(SipProtocol::Udp, "127.0.0.40:5060", "plain.example")]));
}

#[tokio::test(start_paused = true)]
async fn an_explicit_port_skips_naptr_and_srv() {
    // Were NAPTR or SRV queried, these would stall the resolution into a timeout.
    let mut dns = ScriptedDns {
        stall: vec![("NAPTR", "ported.example".into()), ("SRV", "_sip._tcp.ported.example".into())],
        ..ScriptedDns::default()
    };
    dns.hosts.insert("ported.example".into(), vec![[127, 0, 0, 50]]);
    let resolver = Resolver::new(dns, DEFAULT_RESOLVE_TIMEOUT);

    let found =
        resolver.resolve(Target::from_host_port("ported.example:5070", Some(SipProtocol::Tcp)).expect("t")).await;

    assert_eq!(found, Ok(vec![destination(SipProtocol::Tcp, "127.0.0.50:5070", "ported.example")]));
}

#[tokio::test]
async fn an_unknown_host_is_not_found() {
    let resolver = Resolver::new(ScriptedDns::default(), DEFAULT_RESOLVE_TIMEOUT);
    let found = resolver.resolve(target("sip:1001@nowhere.example;transport=tcp")).await;
    assert!(matches!(found, Err(ResolveError::Lookup { .. }) | Err(ResolveError::NotFound { .. })), "{found:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_name_server_times_out_while_the_caller_carries_on() {
    let dns = ScriptedDns { stall: vec![("NAPTR", "slow.example".into())], ..ScriptedDns::default() };
    let timeout = Duration::from_secs(3);
    let resolver = Resolver::new(dns, timeout);
    let started = Instant::now();

    let resolution = tokio::spawn(resolver.resolve(target("sip:1001@slow.example")));
    // The caller (the signalling task) is not blocked: it goes on working while DNS is stuck.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!resolution.is_finished());

    let found = resolution.await.expect("task");
    assert_eq!(found, Err(ResolveError::TimedOut { host: "slow.example".into() }));
    assert_eq!(started.elapsed(), timeout);
}
