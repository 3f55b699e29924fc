//! The node's SIP signalling service: one tokio task that owns the transaction layer
//! ([`voicera_sip::Endpoint`]), every dialog and every trunk registration, and hands each call's media to the
//! media workers ([`MediaWorkers`]).
//!
//! Policy, in the order a new INVITE meets it: draining → 503; Max-Forwards 0 → 483; unsupported `Require`
//! → 420; non-SIP Request-URI → 416; unknown user → 404; bad or unacceptable SDP → 488 (with a Warning);
//! no RTP ports → 503; else 200 OK with our SDP (after 180 Ringing when an answer delay is configured).
//! In-dialog: BYE, re-INVITE/UPDATE (hold, codec change, session refresh per RFC 4028), INFO (DTMF), ACK,
//! REFER (we call the target and report by NOTIFY) and NOTIFY (progress of our own REFERs);
//! OPTIONS answers 200 (503 while draining); other methods 405/501.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use voicera_sip::dialog::{dialog_id_of_request, new_branch, Dialog};
use voicera_sip::header::Via;
use voicera_sip::registration::{Registration, RegistrationConfig};
use voicera_sip::resolve::{SharedResolver, Target, DEFAULT_RESOLVE_TIMEOUT};
use voicera_sip::sdp::SessionDescription;
use voicera_sip::tls::ClientConfig;
use voicera_sip::transaction::TimerConfig;
use voicera_sip::transport::{SipProtocol, SipTransport};
use voicera_sip::uri::SipUri;
use voicera_sip::{ClientKey, Endpoint, EndpointEvent, Method, Peer, Request, Response, ServerKey};

use voicera_conversation::agent::Agent;
use voicera_conversation::journal::WallClock;
use voicera_conversation::routing::Router;
use voicera_media::codec::CodecKind;
use voicera_media::jitter::JitterConfig;
use voicera_media::metrics::{CallResult, Metrics};
use voicera_media::negotiate::MediaPlan;
pub use voicera_media::negotiate::SrtpPolicy;
use voicera_media::ports::PortPool;

mod call_key;
mod deadlines;
mod inbound;
pub mod media;
mod outbound;
pub mod policy;
mod registrations;
mod routes;
mod transfer;

use media::{CallCommand, CallKey, CallNotice, CallService, CallSetup, EndReason, MediaWorkers};

use outbound::OutboundCall;
pub use outbound::{AmdRequest, OutboundRequest, PlaceCallError};
pub use policy::{AddressBlock, AgentSources, CallCaps, ReferPolicy};
use registrations::TrunkRegistration;
use routes::{RouteAnswer, RouteFor};
use transfer::PendingRefer;
pub use transfer::TransferError;

/// Methods we implement, for `Allow`.
const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REFER, NOTIFY";
/// Option tags we support (RFC 4028 session timers).
const SUPPORTED: &str = "timer";
/// Smallest session interval we accept (RFC 4028 §4 recommends 90 s).
const MIN_SE: u32 = 90;

/// One SIP trunk account, as `[[trunks]]` in `voicera.toml` declares it.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    /// The trunk's name, as routes and logs refer to it.
    pub name: String,
    /// `host[:port]`.
    pub registrar: String,
    /// Digest user name.
    pub username: String,
    /// Digest password (never logged).
    pub password: String,
    /// Digest realm (None: take the challenge's).
    pub realm: Option<String>,
    /// Keep a registration with the registrar (off: calls only).
    pub register: bool,
    /// Registration lifetime asked for, in seconds.
    pub expires: u32,
    /// UDP, TCP or TLS towards the trunk (`None`: as its DNS says, RFC 3263 NAPTR then SRV; UDP when DNS says
    /// nothing or the registrar is an IP address).
    pub transport: Option<SipProtocol>,
    /// A CA certificate file (PEM) trusted for this trunk's TLS certificate, besides the public roots (a
    /// private trunk, or one with a self-signed certificate).
    pub tls_ca: Option<std::path::PathBuf>,
    /// The numbers (DIDs) this trunk carries.
    pub numbers: Vec<String>,
    /// A REFER from a trusted peer to a target behind this trunk may use the trunk's credentials (off: the
    /// target is called without them).
    pub refer_credentials: bool,
    /// SRTP on calls we place through this trunk (None: `[sip] srtp` when it is `required` or `off`; plain
    /// RTP/AVP offers when it is the default `offer`).
    pub srtp: Option<SrtpPolicy>,
}

/// Service settings.
#[derive(Clone)]
pub struct SipServiceConfig {
    /// The SIP listening address.
    pub listen: SocketAddr,
    /// Address to put in SDP and Contact (NAT); else the local address that routes to the peer.
    pub external_ip: Option<IpAddr>,
    /// The range (first, last) calls take their RTP and RTCP ports from.
    pub rtp_ports: (u16, u16),
    /// Codec preference order for answers.
    pub codecs: Vec<CodecKind>,
    /// Ring this long (180) before answering; 0 answers at once.
    pub answer_delay: Duration,
    /// End a call when no RTP arrives for this long.
    pub rtp_timeout: Duration,
    /// Jitter buffer settings of every call.
    pub jitter: JitterConfig,
    /// SIP transaction timers (T1, T2, T4).
    pub timers: TimerConfig,
    /// The trunk accounts to register with and call through.
    pub trunks: Vec<TrunkConfig>,
    /// The `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// Who may place calls to us.
    pub auth: InboundAuth,
    /// With [`InboundAuth::None`]: the callers who may reach an agent (others get 403; trunks always may).
    pub agent_sources: AgentSources,
    /// SIP over TLS: the listener and its certificate (None: no TLS listener).
    pub tls: Option<SipTls>,
    /// Caps on TCP and TLS connections (total, per address, idle time, message size, handshake time).
    pub connection_limits: voicera_sip::transport::ConnectionLimits,
    /// Where the agent's transfers and a peer's REFERs may send a call (`[dial_policy]`).
    pub dial_policy: Arc<voicera_conversation::dial_policy::DialPolicy>,
    /// Trust INVITEs from a trunk's registrar address over UDP without a challenge (a UDP source address
    /// can be forged; over TCP/TLS it cannot). Off by default.
    pub trust_registrars_over_udp: bool,
    /// Who may make us place calls by REFER, and to where (default: nobody).
    pub refer: ReferPolicy,
    /// Calls at once, per source, and how long one may last.
    pub caps: CallCaps,
    /// Per-source limits on INVITE/REGISTER/OPTIONS (None: off), and the addresses exempt from them.
    pub rate_limit: Option<voicera_sip::rate_limit::RateLimitConfig>,
    /// Sources exempt from `rate_limit` (default: loopback).
    pub rate_limit_exempt: Vec<IpAddr>,
    /// Where agent call records go (None: not stored).
    pub recordings: Option<Arc<dyn voicera_conversation::recorder::RecordingSink>>,
    /// SRTP (SDES) for calls we answer, and for calls we place where the trunk does not say.
    pub srtp: SrtpPolicy,
    /// How SIP targets are resolved (RFC 3263), off the signalling task (None: the system's DNS, each
    /// resolution bounded by [`DEFAULT_RESOLVE_TIMEOUT`]).
    pub resolver: Option<SharedResolver>,
}

/// SIP over TLS (RFC 3261 §26, `sips:`): where to listen, with which certificate chain and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTls {
    /// Where the TLS listener binds.
    pub listen: SocketAddr,
    /// The certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// The private key (PEM).
    pub key: std::path::PathBuf,
}

/// Authentication of incoming INVITEs.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum InboundAuth {
    /// Anyone may call `echo`; agent ids and attached numbers answer callers in
    /// [`SipServiceConfig::agent_sources`] and the trunks' addresses.
    #[default]
    None,
    /// INVITEs must pass a digest challenge with one of these (username, password) pairs, except those from a
    /// trunk's registrar address, which are trusted for that trunk.
    Digest {
        /// The realm challenges name.
        realm: String,
        /// The accepted (username, password) pairs.
        users: Vec<(String, String)>,
    },
}

/// Passwords never reach a log line or `config check`'s output.
impl std::fmt::Debug for TrunkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkConfig")
            .field("name", &self.name)
            .field("registrar", &self.registrar)
            .field("username", &self.username)
            .field("password", &voicera_conversation::agent::mask_secret(&self.password))
            .field("realm", &self.realm)
            .field("register", &self.register)
            .field("expires", &self.expires)
            .field("transport", &self.transport)
            .field("tls_ca", &self.tls_ca)
            .field("numbers", &self.numbers)
            .field("refer_credentials", &self.refer_credentials)
            .field("srtp", &self.srtp)
            .finish()
    }
}

impl std::fmt::Debug for InboundAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InboundAuth::None => f.write_str("None"),
            InboundAuth::Digest { realm, users } => {
                let users: Vec<(&str, String)> = users
                    .iter()
                    .map(|(user, password)| (user.as_str(), voicera_conversation::agent::mask_secret(password)))
                    .collect();
                f.debug_struct("Digest").field("realm", realm).field("users", &users).finish()
            }
        }
    }
}

impl SipServiceConfig {
    /// Defaults for `listen`; the binary overrides from flags and config.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            external_ip: None,
            rtp_ports: (10000, 20000),
            codecs: vec![CodecKind::Opus, CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma],
            answer_delay: Duration::ZERO,
            rtp_timeout: Duration::from_secs(60),
            jitter: JitterConfig::default(),
            timers: TimerConfig::default(),
            trunks: Vec::new(),
            user_agent: format!("voicera/{}", env!("CARGO_PKG_VERSION")),
            auth: InboundAuth::None,
            agent_sources: AgentSources::default(),
            tls: None,
            connection_limits: voicera_sip::transport::ConnectionLimits::default(),
            dial_policy: Arc::new(voicera_conversation::dial_policy::DialPolicy::default()),
            trust_registrars_over_udp: false,
            refer: ReferPolicy::default(),
            caps: CallCaps::default(),
            rate_limit: Some(voicera_sip::rate_limit::RateLimitConfig::default()),
            rate_limit_exempt: vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)],
            recordings: None,
            srtp: SrtpPolicy::default(),
            resolver: None,
        }
    }
}

/// Errors starting the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A SIP listener could not bind.
    #[error("cannot bind SIP on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The configured RTP port range is unusable.
    #[error(transparent)]
    Ports(#[from] voicera_media::ports::PortError),
    /// The TLS certificate or key could not be loaded.
    #[error("SIP over TLS: {0}")]
    Tls(#[from] voicera_sip::tls::TlsError),
}

enum ServiceCommand {
    Drain,
    HangupAll(oneshot::Sender<()>),
    Hangup(CallKey, oneshot::Sender<bool>),
    PlaceCall(OutboundRequest, oneshot::Sender<Result<CallKey, PlaceCallError>>),
    Transfer(CallKey, String, oneshot::Sender<Result<(), TransferError>>),
    ListCalls(oneshot::Sender<Vec<CallKey>>),
}

/// Handle to the running service.
#[derive(Clone)]
pub struct SipServiceHandle {
    /// The address the SIP listener is bound to.
    pub local_addr: SocketAddr,
    commands: mpsc::Sender<ServiceCommand>,
    running: Arc<AtomicBool>,
    ports: PortPool,
}

impl SipServiceHandle {
    /// The node's RTP port pool: other media transports (WebRTC) take their ports from the same range, so one
    /// firewall rule covers all media.
    pub fn ports(&self) -> PortPool {
        self.ports.clone()
    }

    /// Whether the service task is alive (UDP and TCP bound and being served).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Stop accepting calls: INVITE and OPTIONS get 503 from now on.
    pub async fn drain(&self) {
        let _ = self.commands.send(ServiceCommand::Drain).await;
    }

    /// Places an outgoing call through a trunk; resolves when it is answered (or fails).
    pub async fn place_call(&self, request: OutboundRequest) -> Result<CallKey, PlaceCallError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(ServiceCommand::PlaceCall(request, tx)).await.map_err(|_| PlaceCallError::ServiceStopped)?;
        rx.await.map_err(|_| PlaceCallError::ServiceStopped)?
    }

    /// Transfers a call (REFER) to a SIP URI or a number; resolves once the peer accepted or refused.
    pub async fn transfer(&self, call: CallKey, target: String) -> Result<(), TransferError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(ServiceCommand::Transfer(call, target, tx))
            .await
            .map_err(|_| TransferError::ServiceStopped)?;
        rx.await.map_err(|_| TransferError::ServiceStopped)?
    }

    /// Keys of the calls in progress.
    pub async fn calls(&self) -> Vec<CallKey> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(ServiceCommand::ListCalls(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Hangs up one call: BYE once answered, CANCEL while it rings with early media. Whether the service had the
    /// call (false: it had ended already, or the service stopped).
    pub async fn hangup(&self, call: CallKey) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(ServiceCommand::Hangup(call, tx)).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Hang up every call (BYE) and wait briefly for the BYEs to complete.
    pub async fn hangup_all(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(ServiceCommand::HangupAll(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Starts the service on `config.listen`.
pub async fn start(
    config: SipServiceConfig,
    router: Arc<dyn Router>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<SipServiceHandle, ServiceError> {
    let mut transport_config = voicera_sip::transport::TransportConfig::new(config.listen);
    transport_config.limits = config.connection_limits;
    if let Some(tls) = &config.tls {
        let files = voicera_sip::tls::PemFiles { cert: tls.cert.clone(), key: tls.key.clone() };
        let server = voicera_sip::tls::server_config(&files)?;
        transport_config.tls_listen = Some(voicera_sip::transport::TlsListen { addr: tls.listen, server });
    }
    transport_config.tls_client =
        Some(voicera_sip::tls::client_config(&voicera_sip::tls::TlsClientOptions::default())?);
    let (failures_tx, failures_rx) = mpsc::channel(64);
    transport_config.stream_failures = Some(failures_tx);
    // Each trunk with its own CA is verified against the public roots plus that CA, and only that trunk.
    let mut trunk_tls = HashMap::new();
    for trunk in config.trunks.iter() {
        if let Some(ca) = &trunk.tls_ca {
            let options = voicera_sip::tls::TlsClientOptions { ca_files: vec![ca.clone()], ..Default::default() };
            trunk_tls.insert(trunk.name.clone(), voicera_sip::tls::client_config(&options)?);
        }
    }
    let (transport, inbound) = SipTransport::bind_with(transport_config, shutdown.clone())
        .await
        .map_err(|source| ServiceError::Bind { addr: config.listen, source })?;
    if let Some(tls) = transport.tls_local_addr() {
        tracing::info!(%tls, "SIP over TLS listening");
    }
    let local_addr = transport.local_addr();
    let ports = PortPool::new(config.listen.ip(), config.rtp_ports.0, config.rtp_ports.1)?;
    let handle_ports = ports.clone();
    let (commands_tx, commands_rx) = mpsc::channel(8);
    let (notices_tx, notices_rx) = mpsc::channel(1024);
    let running = Arc::new(AtomicBool::new(true));
    let now = Instant::now();
    let registrations = config
        .trunks
        .iter()
        .filter(|t| t.register)
        .filter_map(|t| {
            let Some(target) = Target::from_host_port(&t.registrar, t.transport) else {
                tracing::warn!(trunk = %t.name, registrar = %t.registrar, "registrar is not host[:port]; not registering");
                return None;
            };
            Some((t, target))
        })
        .map(|(t, target)| TrunkRegistration {
            trunk: t.name.clone(),
            target,
            tls: trunk_tls.get(&t.name).cloned(),
            machine: Registration::new(
                RegistrationConfig {
                    registrar: t.registrar.clone(),
                    username: t.username.clone(),
                    password: t.password.clone(),
                    realm: t.realm.clone().filter(|r| !r.is_empty()),
                    expires: t.expires,
                    contact: String::new(),
                },
                now.into_std(),
            ),
            pending: None,
            destinations: Vec::new(),
            resolving: false,
        })
        .collect();
    let mut endpoint = Endpoint::new(config.timers, config.user_agent.clone());
    if let Some(limits) = config.rate_limit.clone() {
        let mut limiter = voicera_sip::rate_limit::RateLimiter::new(limits);
        for ip in &config.rate_limit_exempt {
            limiter.exempt(*ip);
        }
        endpoint.set_rate_limiter(Some(limiter));
    }
    let resolver = config.resolver.clone().unwrap_or_else(|| SharedResolver::system(DEFAULT_RESOLVE_TIMEOUT));
    let (route_answers_tx, route_answers_rx) = mpsc::channel(64);
    let digest = match &config.auth {
        InboundAuth::Digest { realm, users } => {
            Some(voicera_sip::auth::DigestVerifier::new(voicera_sip::auth::VerifierConfig::new(realm), users.clone()))
        }
        InboundAuth::None => None,
    };
    let service = Service {
        endpoint,
        transport,
        local_addr,
        ports,
        router,
        metrics,
        calls: HashMap::new(),
        pending_answers: HashMap::new(),
        answer_timers: deadlines::Deadlines::default(),
        bye_keys: HashMap::new(),
        outbound: HashMap::new(),
        refers: HashMap::new(),
        ring_deadlines: deadlines::Deadlines::default(),
        registrations,
        trusted_sources: Vec::new(),
        trunk_addresses: HashMap::new(),
        trunk_tls,
        resolver,
        route_answers: route_answers_tx,
        pending_routes: HashMap::new(),
        next_route: 0,
        digest,
        referring: std::collections::HashSet::new(),
        draining: false,
        notices: notices_tx,
        media: MediaWorkers::per_core(),
        media_running: 0,
        config,
        now,
    };
    let mut service = service;
    // Trunk registrars' addresses: INVITEs from them are trusted without a challenge. IP addresses are known
    // now; names resolve in the background and are trusted from their answer on.
    for trunk in service.config.trunks.clone() {
        match Target::from_host_port(&trunk.registrar, trunk.transport) {
            Some(target) => service.resolve_for(target, RouteFor::Trunk(trunk.name)).await,
            None => tracing::warn!(trunk = %trunk.name, registrar = %trunk.registrar, "cannot resolve trunk registrar"),
        }
    }
    let flag = running.clone();
    let channels = Channels {
        inbound,
        commands: commands_rx,
        notices: notices_rx,
        routes: route_answers_rx,
        failures: failures_rx,
    };
    tokio::spawn(async move {
        service.run(channels, shutdown).await;
        flag.store(false, Ordering::Relaxed);
    });
    Ok(SipServiceHandle { local_addr, commands: commands_tx, running, ports: handle_ports })
}

/// A live call as signalling sees it.
struct CallEntry {
    dialog: Dialog,
    commands: mpsc::Sender<CallCommand>,
    local_ip: IpAddr,
    rtp_port: u16,
    session_id: u64,
    session_version: u64,
    plan: MediaPlan,
    /// RFC 4028: the session timer, when the caller asked for one.
    session_expires: Option<deadlines::SessionTimer>,
    /// The agent on the call (None: echo); a REFER we carry out puts it on the new call.
    agent: Option<Arc<Agent>>,
}

/// An INVITE we are ringing on before answering.
struct PendingAnswer {
    request: Request,
    peer: Peer,
    local_tag: String,
    setup: CallSetup,
    local_ip: IpAddr,
    answer: SessionDescription,
    session_timer: Option<Duration>,
}

struct Service {
    endpoint: Endpoint,
    transport: Arc<SipTransport>,
    local_addr: SocketAddr,
    ports: PortPool,
    router: Arc<dyn Router>,
    metrics: Arc<Metrics>,
    calls: HashMap<CallKey, CallEntry>,
    pending_answers: HashMap<ServerKey, PendingAnswer>,
    /// When each INVITE we ring on is answered (`answer_delay`).
    answer_timers: deadlines::Deadlines<ServerKey>,
    /// BYEs we sent, so their completion can be awaited at shutdown.
    bye_keys: HashMap<ClientKey, CallKey>,
    /// Outgoing INVITEs awaiting a final response.
    outbound: HashMap<ClientKey, OutboundCall>,
    /// Ring timeouts of outgoing INVITEs.
    ring_deadlines: deadlines::Deadlines<ClientKey>,
    /// REFERs awaiting a final response.
    refers: HashMap<ClientKey, PendingRefer>,
    registrations: Vec<TrunkRegistration>,
    /// Addresses whose INVITEs skip digest authentication (trunk registrars).
    trusted_sources: Vec<IpAddr>,
    /// Each trunk's resolved addresses (REFER targets behind a trunk are recognised by them).
    trunk_addresses: HashMap<String, Vec<SocketAddr>>,
    /// The TLS trust of trunks with their own CA (`tls_ca`).
    trunk_tls: HashMap<String, Arc<ClientConfig>>,
    /// Resolves targets off this task: the answers come back on `route_answers`.
    resolver: SharedResolver,
    route_answers: mpsc::Sender<RouteAnswer>,
    /// What waits for a resolution, by its id.
    pending_routes: HashMap<u64, RouteFor>,
    next_route: u64,
    /// Digest verification of INVITEs (`[sip] auth = "digest"`): nonces, nonce counts, back-off per source.
    digest: Option<voicera_sip::auth::DigestVerifier>,
    /// Calls whose peer's REFER we are carrying out (one at a time per dialog).
    referring: std::collections::HashSet<CallKey>,
    draining: bool,
    notices: mpsc::Sender<CallNotice>,
    /// The workers that tick the calls' media.
    media: MediaWorkers,
    /// Calls whose media has not reported its end yet (it stores the call's record first): shutdown waits
    /// for them, so no record is cut off.
    media_running: usize,
    config: SipServiceConfig,
    /// The instant of the current turn of the run loop, its one clock read: every decision of the turn is told
    /// this time (handlers read it, never the clock), so the same input at the same instant decides the same.
    now: Instant,
}

/// What woke the run loop.
enum Wake {
    Command(ServiceCommand),
    Route(RouteAnswer),
    Message(voicera_sip::transport::Inbound),
    Notice(CallNotice),
    Failure(voicera_sip::transport::StreamFailure),
    Timers,
}

/// What the signalling loop listens to besides its timers.
struct Channels {
    inbound: mpsc::Receiver<voicera_sip::transport::Inbound>,
    commands: mpsc::Receiver<ServiceCommand>,
    notices: mpsc::Receiver<CallNotice>,
    /// Answers of spawned resolutions.
    routes: mpsc::Receiver<RouteAnswer>,
    /// Outgoing connections that failed to open.
    failures: mpsc::Receiver<voicera_sip::transport::StreamFailure>,
}

impl Service {
    /// The thin driver: wait for input or the next deadline, read the clock once, hand the input and that
    /// instant to the decisions, then send what they queued and compute the next wake-up.
    async fn run(mut self, channels: Channels, shutdown: CancellationToken) {
        let Channels { mut inbound, mut commands, mut notices, mut routes, mut failures } = channels;
        let mut hangup_done: Option<(oneshot::Sender<()>, deadlines::HangupGrace)> = None;
        // The first turn runs at once: registrations due at start go out without waiting for input.
        let mut wake = self.now;
        loop {
            let input = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(command) = commands.recv() => Wake::Command(command),
                Some(answer) = routes.recv() => Wake::Route(answer),
                Some(message) = inbound.recv() => Wake::Message(message),
                Some(notice) = notices.recv() => Wake::Notice(notice),
                Some(failure) = failures.recv() => Wake::Failure(failure),
                _ = tokio::time::sleep_until(wake) => Wake::Timers,
            };
            // The one clock read of a turn: the decisions below are told the time.
            self.now = Instant::now();
            let now = self.now;
            match input {
                Wake::Command(command) => match command {
                    ServiceCommand::Drain => {
                        tracing::info!(calls = self.calls.len(), "draining: new calls get 503");
                        self.draining = true;
                    }
                    ServiceCommand::PlaceCall(request, reply) => self.place_call(request, reply).await,
                    ServiceCommand::Transfer(call, target, reply) => self.transfer(call, target, reply),
                    ServiceCommand::ListCalls(reply) => {
                        let _ = reply.send(self.calls.keys().cloned().collect());
                    }
                    ServiceCommand::Hangup(key, reply) => {
                        let known = self.calls.contains_key(&key);
                        if known {
                            tracing::info!(call = %key, "hanging up on request");
                            self.hang_up(&key, CallResult::Failed);
                        }
                        let _ = reply.send(known);
                    }
                    ServiceCommand::HangupAll(done) => {
                        self.draining = true;
                        let keys: Vec<CallKey> = self.calls.keys().cloned().collect();
                        for key in keys {
                            self.hang_up(&key, CallResult::Completed);
                        }
                        for reg in &mut self.registrations {
                            reg.machine.unregister(now.into_std());
                        }
                        hangup_done = Some((done, deadlines::HangupGrace::begin(now)));
                    }
                },
                Wake::Route(answer) => self.handle_route_answer(answer).await,
                Wake::Message(message) => self.endpoint.handle_input(&message.bytes, message.peer, now.into_std()),
                Wake::Notice(notice) => self.handle_notice(notice),
                Wake::Failure(failure) => self.handle_stream_failure(failure),
                Wake::Timers => self.handle_timers(),
            }
            self.poll_registrations().await;
            self.flush().await;
            if let Some((_, grace)) = &hangup_done {
                let outstanding = self.bye_keys.len() + self.calls.len() + self.media_running;
                if grace.is_over(outstanding, now) {
                    if let Some((done, _)) = hangup_done.take() {
                        let _ = done.send(());
                    }
                }
            }
            wake = self.next_wakeup(now);
        }
        for (_, call) in self.calls.drain() {
            let _ = call.commands.try_send(CallCommand::Stop);
        }
    }

    fn next_wakeup(&mut self, now: Instant) -> Instant {
        let transactions = self.endpoint.poll_timeout().map(Instant::from_std);
        let registrations = self.registrations.iter().map(|reg| reg.machine.next_attempt().map(Instant::from_std));
        let sessions = self.calls.values().map(|call| call.session_expires.map(|timer| timer.expires_at()));
        let ours = [transactions, self.answer_timers.next(), self.ring_deadlines.next()];
        deadlines::wake_at(now, ours.into_iter().chain(registrations).chain(sessions))
    }

    fn handle_timers(&mut self) {
        let now = self.now;
        self.endpoint.handle_timeout(now.into_std());
        self.cancel_unanswered(now);
        for key in self.answer_timers.take_due(now) {
            if let Some(pending) = self.pending_answers.remove(&key) {
                self.answer(key, pending);
            }
        }
        let sessions = self.calls.iter().map(|(key, call)| (key, call.session_expires.map(|timer| timer.expires_at())));
        for key in deadlines::expired_sessions(sessions, now) {
            tracing::info!(call = %key, "session timer expired without refresh (RFC 4028): hanging up");
            self.hang_up(&key, CallResult::Failed);
        }
    }

    /// Sends what the endpoint queued and handles its events until both are empty.
    async fn flush(&mut self) {
        loop {
            while let Some(transmit) = self.endpoint.poll_transmit() {
                self.transport.send(transmit);
            }
            let Some(event) = self.endpoint.poll_event() else { break };
            self.handle_event(event).await;
        }
    }

    async fn handle_event(&mut self, event: EndpointEvent) {
        match event {
            EndpointEvent::Request { key, request, peer } => self.handle_request(key, request, peer).await,
            EndpointEvent::Ack { request, .. } => {
                if let Some(entry) = dialog_id_of_request(&request).and_then(|id| self.calls.get(&CallKey::from(&id))) {
                    tracing::debug!(call = %entry.dialog.id, "ACK");
                }
            }
            EndpointEvent::Cancelled { invite, .. } => {
                if let Some(pending) = self.pending_answers.remove(&invite) {
                    let mut response = Response::for_request(&pending.request, 487, "Request Terminated");
                    response.ensure_to_tag(&pending.local_tag);
                    self.endpoint.respond(&invite, response, self.now.into_std());
                    self.metrics.count_result(CallResult::Cancelled);
                    tracing::info!(call_id = pending.request.call_id(), "caller cancelled before answer");
                }
            }
            EndpointEvent::Response { key, response } => {
                if self.handle_outbound_response(&key, response.clone()) || self.handle_refer_response(&key, &response)
                {
                    return;
                }
                if let Some(index) = self.registrations.iter().position(|r| r.pending.as_ref() == Some(&key)) {
                    let reg = &mut self.registrations[index];
                    if response.status >= 200 {
                        reg.pending = None;
                    }
                    reg.machine.handle_response(&response, self.now.into_std());
                    self.report_registration(index);
                } else if response.status >= 200 {
                    self.bye_keys.remove(&key);
                }
            }
            EndpointEvent::ClientTimeout { key } => {
                if self.handle_outbound_timeout(&key) || self.handle_refer_timeout(&key) {
                    return;
                }
                if let Some(index) = self.registrations.iter().position(|r| r.pending.as_ref() == Some(&key)) {
                    self.registrar_timed_out(index);
                } else {
                    self.bye_keys.remove(&key);
                }
            }
            EndpointEvent::AckTimeout { call_id, .. } => {
                let keys: Vec<CallKey> =
                    self.calls.iter().filter(|(_, c)| c.dialog.id.call_id == call_id).map(|(k, _)| k.clone()).collect();
                for key in keys {
                    tracing::warn!(call = %key, "no ACK for our 200 OK: hanging up");
                    self.hang_up(&key, CallResult::Failed);
                }
            }
            EndpointEvent::Dropped { peer, reason } => {
                self.metrics.sip_dropped();
                tracing::warn!(peer = %peer.addr, %reason, "SIP message dropped");
            }
        }
    }

    fn handle_notice(&mut self, notice: CallNotice) {
        match notice {
            CallNotice::Ended { call, reason } => {
                self.media_running = self.media_running.saturating_sub(1);
                if self.calls.contains_key(&call) {
                    tracing::info!(%call, ?reason, "media ended: hanging up");
                    let result = match reason {
                        EndReason::Stopped | EndReason::AgentHangUp(_) | EndReason::DurationCap => {
                            CallResult::Completed
                        }
                        _ => CallResult::Failed,
                    };
                    self.hang_up(&call, result);
                }
            }
            CallNotice::Dtmf { call, digit } => tracing::debug!(%call, %digit, "DTMF"),
            CallNotice::Amd { call, verdict, decided_after_ms } => {
                tracing::info!(%call, verdict = verdict.as_str(), decided_after_ms, "answering-machine detection decided")
            }
            CallNotice::Transfer { call, target, reply } => {
                tracing::info!(%call, %target, "the agent transfers the call");
                self.transfer(call, target, reply);
            }
        }
    }

    /// A new call's wall clock: the wall time, read once per call as its service is chosen, at the loop's
    /// `now`. The call's `{{date}}` and `{{time}}` are its anchor; its record's dates follow from there.
    fn call_clock(&self) -> WallClock {
        WallClock::new(self.now.into_std(), std::time::SystemTime::now())
    }

    /// A call's media set-up with this node's metrics and RTP timeout, dated on `clock`.
    fn call_setup(
        &self,
        (service, stream): (CallService, voicera_media::stream::RtpStream),
        (lease, rtp, rtcp): (voicera_media::ports::PortLease, tokio::net::UdpSocket, tokio::net::UdpSocket),
        recording: Option<media::RecordingPlan>,
        early: bool,
        clock: WallClock,
    ) -> CallSetup {
        CallSetup {
            key: CallKey::default(), // the dialog's, set by `start_call`
            service,
            stream,
            rtp,
            rtcp,
            lease,
            metrics: self.metrics.clone(),
            rtp_timeout: self.config.rtp_timeout,
            hold_timeout: self.config.caps.hold_timeout,
            max_duration: self.config.caps.max_duration,
            recording,
            parties: Default::default(),
            early,
            amd: None,
            clock,
        }
    }

    /// Starts the media of an answered call on a media worker and tracks it under its dialog id.
    fn start_call(
        &mut self,
        mut setup: CallSetup,
        dialog: Dialog,
        local_ip: IpAddr,
        session_id: u64,
        session_expires: Option<deadlines::SessionTimer>,
    ) {
        let key = CallKey::from(&dialog.id);
        setup.key = key.clone();
        let plan = setup.stream.plan().clone();
        let rtp_port = setup.lease.port();
        let agent = match &setup.service {
            media::CallService::Agent(conversation) => Some(conversation.shared_agent()),
            media::CallService::Echo => None,
        };
        // A call with early media counts as started when it is answered.
        if !setup.early {
            self.metrics.call_started();
        }
        let commands = self.media.spawn_call(setup, self.notices.clone());
        self.media_running += 1;
        let entry = CallEntry {
            dialog,
            commands,
            local_ip,
            rtp_port,
            session_id,
            session_version: 1,
            plan,
            session_expires,
            agent,
        };
        self.calls.insert(key, entry);
    }

    /// Sends BYE for a call, stops its media and forgets it.
    fn hang_up(&mut self, key: &CallKey, result: CallResult) {
        let Some(mut call) = self.calls.remove(key) else { return };
        let _ = call.commands.try_send(CallCommand::Stop);
        if call.dialog.state == voicera_sip::dialog::DialogState::Early {
            // A call we placed, still ringing with early media: CANCEL its INVITE (BYE is for confirmed
            // dialogs); the 487 that follows settles it.
            if let Some((invite, outbound)) = self.outbound.iter_mut().find(|(_, o)| o.is_early(key)) {
                outbound.cancelled = true;
                self.endpoint.cancel(invite, self.now.into_std());
            }
            return;
        }
        self.metrics.call_ended(result);
        let via = self.via_to(&call.dialog.peer, call.local_ip);
        let bye = call.dialog.request(Method::Bye, &via);
        match self.endpoint.send_request(bye, call.dialog.peer, self.now.into_std()) {
            Ok(client_key) => {
                self.bye_keys.insert(client_key, key.clone());
            }
            Err(err) => tracing::error!(%err, call = %key, "cannot send BYE"),
        }
    }

    /// Our Via for a request to `peer` on the connection it uses, or will open (TLS when it reached us over TLS
    /// or is routed over TLS).
    fn via_to(&self, peer: &Peer, local_ip: IpAddr) -> Via {
        self.via_with(self.transport.protocol(peer), local_ip)
    }

    fn via_with(&self, protocol: SipProtocol, local_ip: IpAddr) -> Via {
        let mut via = Via {
            transport: protocol.via_token().into(),
            host: local_ip.to_string(),
            port: Some(self.transport.local_port(protocol)),
            params: Default::default(),
        };
        via.params.set("branch", Some(new_branch()));
        via.params.set("rport", None);
        via
    }

    /// Our Contact toward `peer`: its transport's port and `;transport=` parameter.
    fn contact(&self, request: &Request, local_ip: IpAddr, peer: &Peer) -> String {
        let user = SipUri::parse(&request.uri).ok().and_then(|u| u.user).unwrap_or_else(|| "voicera".into());
        self.contact_for(&user, local_ip, self.transport.protocol(peer))
    }

    /// Our Contact as `user` over `protocol`: that transport's port and `;transport=` parameter, so the peer's
    /// requests come back the same way (`;transport=tls` for a trunk reached over TLS).
    fn contact_for(&self, user: &str, local_ip: IpAddr, protocol: SipProtocol) -> String {
        format!("<{}>", self.contact_uri(user, local_ip, protocol))
    }

    /// The URI inside [`Self::contact_for`].
    fn contact_uri(&self, user: &str, local_ip: IpAddr, protocol: SipProtocol) -> String {
        let host = voicera_sip::header::format_host(&local_ip.to_string());
        format!("sip:{user}@{host}:{}{}", self.transport.local_port(protocol), protocol.contact_param())
    }

    /// The address peers should reach us at: the configured external IP, else the local address the kernel
    /// would use toward the peer (correct on multi-homed hosts and on loopback).
    fn local_ip_toward(&self, peer: IpAddr) -> IpAddr {
        if let Some(ip) = self.config.external_ip {
            return ip;
        }
        if !self.local_addr.ip().is_unspecified() {
            return self.local_addr.ip();
        }
        let bind: SocketAddr = if peer.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        std::net::UdpSocket::bind(bind)
            .and_then(|s| s.connect(SocketAddr::new(peer, 9)).map(|_| s))
            .and_then(|s| s.local_addr())
            .map(|a| a.ip())
            .unwrap_or(peer)
    }
}
