//! Outbound routing against a second signalling service in the same process, with scripted DNS:
//! - a DNS server that never answers stalls only the call that waits on it, and that call fails with the
//!   resolution's timeout, naming the host;
//! - a trunk reached over TLS (`transport = tls`) through SRV: the first SRV target refuses the connection and the
//!   INVITE moves on to the next (RFC 3263 §4.3); the far end's certificate is verified against the trunk's own CA
//!   (`tls_ca`), and without it the call fails with the certificate error;
//! - a first SRV target that answers 503 hands the INVITE on to the next one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voicera_conversation::routing::{Destination, Router};
use voicera_media::metrics::Metrics;
use voicera_sip::resolve::{DnsLookup, NaptrRecord, ResolveError, Resolver, SharedResolver, SrvRecord};
use voicera_sip::transport::SipProtocol;
use voicera_sip::{Message, Method, Response};
use voicera_telephony::sip_rtp::{self, OutboundRequest, PlaceCallError, SipServiceConfig, SipTls, TrunkConfig};

struct EchoOnly;
impl Router for EchoOnly {
    fn route(&self, user: &str) -> Option<Destination> {
        (user == "echo").then_some(Destination::Echo)
    }
}

/// DNS with fixed SRV and address records; names in `silent` are never answered (a dead name server).
#[derive(Default)]
struct ScriptedDns {
    srv: HashMap<String, Vec<SrvRecord>>,
    hosts: HashMap<String, IpAddr>,
    silent: Vec<String>,
    /// Queries for silent names so far: the test waits on this instead of sleeping.
    stalled: Arc<AtomicUsize>,
}

impl ScriptedDns {
    async fn answer_or_stall(&self, name: &str) {
        if self.silent.iter().any(|s| name.ends_with(s.as_str())) {
            self.stalled.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
    }
}

impl DnsLookup for ScriptedDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
        self.answer_or_stall(name).await;
        Ok(Vec::new())
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        self.answer_or_stall(name).await;
        Ok(self.srv.get(name).cloned().unwrap_or_default())
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        self.answer_or_stall(host).await;
        match self.hosts.get(host) {
            Some(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            None => Err(ResolveError::NotFound { host: host.to_string() }),
        }
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn trunk(name: &str, registrar: String, transport: Option<SipProtocol>, tls_ca: Option<PathBuf>) -> TrunkConfig {
    TrunkConfig {
        name: name.into(),
        registrar,
        username: String::new(),
        password: String::new(),
        realm: None,
        register: false,
        expires: 300,
        transport,
        tls_ca,
        numbers: vec![],
        refer_credentials: false,
        srtp: None,
    }
}

/// A service config on loopback with its own small RTP range (`slot` apart from the other services of a test).
fn config(slot: u16) -> SipServiceConfig {
    let mut config = SipServiceConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    let base = 47000 + (std::process::id() % 40) as u16 * 60 + slot * 20;
    config.rtp_ports = (base, base + 19);
    config
}

async fn start(config: SipServiceConfig, shutdown: &CancellationToken) -> sip_rtp::SipServiceHandle {
    sip_rtp::start(config, Arc::new(EchoOnly), Arc::new(Metrics::default()), shutdown.clone()).await.unwrap()
}

fn call(trunk: &str) -> OutboundRequest {
    OutboundRequest {
        trunk: trunk.into(),
        to: "echo".into(),
        from: None,
        ring_timeout: None,
        agent: None,
        variables: Vec::new(),
        amd: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_dns_server_stalls_only_the_call_that_waits_on_it() {
    let shutdown = CancellationToken::new();
    let callee = start(config(0), &shutdown).await;

    let stalled = Arc::new(AtomicUsize::new(0));
    let dns = ScriptedDns { silent: vec!["slow.example".into()], stalled: stalled.clone(), ..Default::default() };
    let timeout = Duration::from_secs(3);
    let mut caller_config = config(1);
    caller_config.resolver = Some(SharedResolver::from(Resolver::new(dns, timeout)));
    caller_config.trunks = vec![
        trunk("slow", "slow.example".into(), None, None),
        trunk("direct", callee.local_addr.to_string(), Some(SipProtocol::Udp), None),
    ];
    let caller = start(caller_config, &shutdown).await;

    let waiting = {
        let caller = caller.clone();
        tokio::spawn(async move { caller.place_call(call("slow")).await })
    };
    let asked = async {
        while stalled.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), asked).await.expect("the slow trunk's name was looked up");
    // The first call waits on DNS; the second, to an IP address, needs none and connects meanwhile.
    let direct = tokio::time::timeout(Duration::from_secs(2), caller.place_call(call("direct"))).await;
    assert!(matches!(direct, Ok(Ok(_))), "{direct:?}");
    assert!(!waiting.is_finished(), "the first call still waits on its DNS answer");
    assert_eq!(callee.calls().await.len(), 1);

    let failed = waiting.await.unwrap();
    assert_eq!(failed, Err(PlaceCallError::DnsTimedOut { host: "slow.example".into() }));
    assert_eq!(failed.unwrap_err().to_string(), "DNS timed out for host slow.example");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_trunk_fails_over_by_srv_and_is_verified_with_its_own_ca() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sip-routes-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["trunk.test".into()]).unwrap();
    let (cert, key) = (dir.join("trunk.pem"), dir.join("trunk.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let shutdown = CancellationToken::new();
    let tls_port = free_tcp_port();
    let mut callee_config = config(0);
    callee_config.tls = Some(SipTls { listen: SocketAddr::from(([127, 0, 0, 1], tls_port)), cert: cert.clone(), key });
    let callee = start(callee_config, &shutdown).await;

    // `_sips._tcp.trunk.test`: a dead target first (nothing listens there), then the callee's TLS listener.
    let dead_port = free_tcp_port();
    let srv = |target: &str, priority, port| SrvRecord { priority, weight: 0, port, target: target.into() };
    let dns = ScriptedDns {
        srv: HashMap::from([(
            "_sips._tcp.trunk.test".to_string(),
            vec![srv("dead.trunk.test", 10, dead_port), srv("live.trunk.test", 20, tls_port)],
        )]),
        hosts: HashMap::from([
            ("dead.trunk.test".to_string(), IpAddr::from([127, 0, 0, 1])),
            ("live.trunk.test".to_string(), IpAddr::from([127, 0, 0, 1])),
        ]),
        ..Default::default()
    };
    let mut caller_config = config(1);
    caller_config.resolver = Some(SharedResolver::from(Resolver::new(dns, Duration::from_secs(3))));
    caller_config.trunks = vec![
        trunk("public-roots-only", "trunk.test".into(), Some(SipProtocol::Tls), None),
        trunk("own-ca", "trunk.test".into(), Some(SipProtocol::Tls), Some(cert)),
    ];
    let caller = start(caller_config, &shutdown).await;

    // Without the trunk's CA its self-signed certificate is refused: the call fails with the handshake's reason.
    let refused = tokio::time::timeout(Duration::from_secs(10), caller.place_call(call("public-roots-only"))).await;
    match refused {
        Ok(Err(PlaceCallError::Unreachable { destination, reason })) => {
            assert!(destination.contains(&tls_port.to_string()), "the last destination tried: {destination}");
            assert!(reason.contains("certificate") || reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected a certificate failure, got {other:?}"),
    }
    assert!(callee.calls().await.is_empty());

    // With it, the INVITE goes over TLS to the live target, after the dead one refused the connection.
    let connected = tokio::time::timeout(Duration::from_secs(10), caller.place_call(call("own-ca"))).await;
    assert!(matches!(connected, Ok(Ok(_))), "{connected:?}");
    assert_eq!(callee.calls().await.len(), 1, "the callee answered over its TLS listener");
    shutdown.cancel();
}

/// A SIP server on UDP that answers every INVITE with 503 and counts them.
async fn overloaded_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let invites = Arc::new(AtomicUsize::new(0));
    let counted = invites.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Ok(Message::Request(request)) = Message::parse(&buf[..n]) {
                if request.method == Method::Invite {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let busy = Response::for_request(&request, 503, "Service Unavailable");
                    let _ = socket.send_to(&busy.into_message().to_bytes(), from).await;
                }
            }
        }
    });
    (addr, invites)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_the_first_srv_target_moves_the_invite_to_the_next() {
    let shutdown = CancellationToken::new();
    let callee = start(config(0), &shutdown).await;
    let (overloaded, invites) = overloaded_server().await;
    let srv = |target: &str, priority, port| SrvRecord { priority, weight: 0, port, target: target.into() };
    let dns = ScriptedDns {
        srv: HashMap::from([(
            "_sip._udp.carrier.test".to_string(),
            vec![
                srv("busy.carrier.test", 10, overloaded.port()),
                srv("idle.carrier.test", 20, callee.local_addr.port()),
            ],
        )]),
        hosts: HashMap::from([
            ("busy.carrier.test".to_string(), IpAddr::from([127, 0, 0, 1])),
            ("idle.carrier.test".to_string(), IpAddr::from([127, 0, 0, 1])),
        ]),
        ..Default::default()
    };
    let mut caller_config = config(1);
    caller_config.resolver = Some(SharedResolver::from(Resolver::new(dns, Duration::from_secs(3))));
    caller_config.trunks = vec![trunk("carrier", "carrier.test".into(), Some(SipProtocol::Udp), None)];
    let caller = start(caller_config, &shutdown).await;

    let connected = tokio::time::timeout(Duration::from_secs(10), caller.place_call(call("carrier"))).await;
    assert!(matches!(connected, Ok(Ok(_))), "{connected:?}");
    assert_eq!(invites.load(Ordering::SeqCst), 1, "the first target was tried once");
    assert_eq!(callee.calls().await.len(), 1, "the next target answered");
    shutdown.cancel();
}
