//! The thin tokio driver for SIP transports: one UDP socket and one TCP listener on the same address, and an
//! optional TLS listener. It moves bytes only; parsing, matching and timers live in the sans-IO
//! [`crate::endpoint::Endpoint`].
//!
//! TCP and TLS connections share one code path over any `AsyncRead + AsyncWrite` stream, with the same
//! Content-Length framing ([`crate::framing`]). Inbound connections pass an admission check before any work
//! (total and per source IP, [`ConnectionLimits`]); each connection is closed when no complete message crossed it
//! for [`ConnectionLimits::idle_timeout`], when one message grows past [`ConnectionLimits::max_message_bytes`], or
//! when its TLS handshake takes longer than [`ConnectionLimits::handshake_timeout`]. Refused connections are
//! accepted and dropped at once, so a flood never stalls UDP or the connections already admitted.
//!
//! The endpoint knows only reliable (`Tcp`) and unreliable (`Udp`) peers; TLS is a property of the connection.
//! A TLS connection's id is odd, so [`SipTransport::protocol`] can tell TLS from TCP for any peer, and a message for
//! a TLS connection that has gone away is never re-sent in clear text. Outgoing TLS is chosen per destination
//! address with [`SipTransport::route`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Peer, Transmit, TransportKind};
use crate::framing::StreamFramer;
use crate::message::MAX_MESSAGE_BYTES;
use crate::tls::TlsError;
use crate::uri::SipUri;

/// Bytes that arrived, and from whom.
#[derive(Debug)]
pub struct Inbound {
    /// The datagram, or one complete message framed from a stream.
    pub bytes: Vec<u8>,
    /// Who sent it (and, for TCP/TLS, on which connection).
    pub peer: Peer,
}

/// Outgoing messages queued per connection; a slow peer that fills it loses messages rather than stalling
/// signalling for everyone.
const STREAM_WRITE_QUEUE: usize = 64;
/// Inbound messages waiting for the signalling task.
const INBOUND_QUEUE: usize = 4096;
/// Bytes read per call. Small enough that the per-message byte cap is checked at a fine grain.
const READ_CHUNK: usize = 8 * 1024;

/// Inbound connections open at once, all sources together. Each takes a file descriptor, as do a call's two RTP
/// sockets: at the common soft limit of 1024 descriptors this leaves room for a few hundred calls.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Inbound connections from one IP address. A SIP proxy or trunk keeps one or a few; a phone one.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 32;
/// A connection that carried no complete message either way for this long is closed. Longer than a trunk
/// registration refresh (240 s at the default 300 s expiry), so a registered trunk's connection stays up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Connect plus TLS handshake; a peer that opens a socket and says nothing loses it after this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits on stream connections (TCP and TLS), to keep strangers from exhausting descriptors or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Inbound connections open at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// Inbound connections open at once from one source IP.
    pub max_connections_per_ip: usize,
    /// Close a connection when no complete message was received or sent for this long; also the bound on
    /// writing one message to a peer that stopped reading.
    pub idle_timeout: Duration,
    /// Bytes one message may take on the wire; a peer that sends more without completing it is disconnected.
    /// Capped at [`MAX_MESSAGE_BYTES`], the parser's own limit.
    pub max_message_bytes: usize,
    /// Time for an outgoing connect, and for the TLS handshake in either direction.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_message_bytes: MAX_MESSAGE_BYTES,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// A TLS listener: where, and with which certificate.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// Usually port 5061 (RFC 3261 §26.2.2).
    pub addr: SocketAddr,
    /// From [`crate::tls::server_config`].
    pub server: Arc<rustls::ServerConfig>,
}

/// What [`SipTransport::bind_with`] opens.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP and TCP, on one port (port 0 picks one free for both).
    pub listen: SocketAddr,
    /// The TLS listener; `None` serves no inbound TLS.
    pub tls_listen: Option<TlsListen>,
    /// Verification for outgoing TLS (from [`crate::tls::client_config`]); `None` refuses outgoing TLS.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Connection limits for TCP and TLS (total, per IP, idle time, message size, handshake time).
    pub limits: ConnectionLimits,
    /// Where to report outgoing connections that could not be opened (connect or TLS handshake failed), so the
    /// sender can try another destination at once instead of waiting for its transaction to time out
    /// (RFC 3263 §4.3). `None`: failures are only logged.
    pub stream_failures: Option<mpsc::Sender<StreamFailure>>,
}

/// An outgoing TCP or TLS connection that never carried a message: the connect or the handshake failed. The
/// messages queued for it were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    /// The destination.
    pub addr: SocketAddr,
    /// Whether it was to be TLS.
    pub tls: bool,
    /// What went wrong (`connection refused`, `TLS handshake failed: invalid peer certificate ...`).
    pub reason: String,
}

impl TransportConfig {
    /// UDP and TCP on `listen`, no TLS, default limits.
    pub fn new(listen: SocketAddr) -> Self {
        TransportConfig {
            listen,
            tls_listen: None,
            tls_client: None,
            limits: ConnectionLimits::default(),
            stream_failures: None,
        }
    }
}

/// The protocol a message travels on, as Via headers and URIs name it. The endpoint only needs
/// [`TransportKind`] (reliable or not); this adds TLS, for Via/Contact and for choosing how to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipProtocol {
    /// UDP datagrams: unreliable, so transactions retransmit.
    Udp,
    /// A plain TCP connection, framed by Content-Length.
    Tcp,
    /// TLS over TCP (`sips:`, or `;transport=tls`).
    Tls,
}

impl SipProtocol {
    /// The protocol a URI asks for (RFC 3263 §4.1 with an explicit or default transport): `sips:` always means
    /// TLS; otherwise `;transport=` decides, UDP when absent.
    pub fn for_uri(uri: &SipUri) -> SipProtocol {
        if uri.secure {
            return SipProtocol::Tls;
        }
        uri.params.get("transport").and_then(SipProtocol::parse).unwrap_or(SipProtocol::Udp)
    }

    /// Parses `udp`, `tcp` or `tls` in any case (Via transport tokens, URI parameters, configuration).
    pub fn parse(token: &str) -> Option<SipProtocol> {
        match token.to_ascii_lowercase().as_str() {
            "udp" => Some(SipProtocol::Udp),
            "tcp" => Some(SipProtocol::Tcp),
            "tls" => Some(SipProtocol::Tls),
            _ => None,
        }
    }

    /// What the endpoint needs to know: TLS is a reliable stream like TCP.
    pub fn kind(self) -> TransportKind {
        match self {
            SipProtocol::Udp => TransportKind::Udp,
            SipProtocol::Tcp | SipProtocol::Tls => TransportKind::Tcp,
        }
    }

    /// The Via sent-protocol transport token (`SIP/2.0/TLS`).
    pub fn via_token(self) -> &'static str {
        match self {
            SipProtocol::Udp => "UDP",
            SipProtocol::Tcp => "TCP",
            SipProtocol::Tls => "TLS",
        }
    }

    /// The `;transport=` parameter to put in our Contact, so the peer's requests come back the same way; empty
    /// for UDP, the default.
    pub fn contact_param(self) -> &'static str {
        match self {
            SipProtocol::Udp => "",
            SipProtocol::Tcp => ";transport=tcp",
            SipProtocol::Tls => ";transport=tls",
        }
    }

    /// The port when a URI names none (RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            SipProtocol::Udp | SipProtocol::Tcp => 5060,
            SipProtocol::Tls => 5061,
        }
    }
}

/// Bound SIP sockets.
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    tls_local: Option<SocketAddr>,
    tls_client: Option<TlsConnector>,
    limits: ConnectionLimits,
    registry: Mutex<Registry>,
    next_connection: AtomicU64,
    refused: AtomicU64,
    inbound: mpsc::Sender<Inbound>,
    stream_failures: Option<mpsc::Sender<StreamFailure>>,
    shutdown: CancellationToken,
}

/// Open connections and the bookkeeping that decides admission and reuse.
#[derive(Default)]
struct Registry {
    writers: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    /// Outgoing connections by destination, so requests to one trunk share a connection (and one handshake).
    /// TLS connections are keyed by the name and trust they were verified with too: two trunks at one address
    /// with different names each get their own connection, never one verified for the other's name.
    outgoing: HashMap<OutgoingKey, u64>,
    /// Destinations reached over TLS, for peers that name no connection: the name their certificate must carry,
    /// and how to verify it (the last route to the address).
    tls_routes: HashMap<SocketAddr, TlsRoute>,
    /// TLS connection ids handed out by [`SipTransport::route_with`], with the destination and route each is
    /// (re)opened for. They outlive their connections, so a dialog's later requests reconnect to the same name.
    /// One per (address, name, trust) routed to: trunks and permitted targets, not strangers.
    tls_handles: HashMap<u64, (SocketAddr, TlsRoute)>,
    admission: Admission,
}

/// How one destination is reached over TLS.
#[derive(Clone)]
struct TlsRoute {
    name: ServerName<'static>,
    /// The trust this destination is verified with (a trunk's own CA); `None`: the transport's client config.
    connector: Option<TlsConnector>,
}

/// What an outgoing connection may be shared by: plain TCP by address; TLS by address, the server name the
/// certificate was checked against, and the trust it was checked with.
#[derive(Clone, PartialEq, Eq, Hash)]
struct OutgoingKey {
    addr: SocketAddr,
    tls: Option<(ServerName<'static>, TrustId)>,
}

/// Which client configuration verified a TLS connection: the transport's own (0) or a trunk's, by identity.
type TrustId = usize;

impl OutgoingKey {
    fn new(addr: SocketAddr, route: Option<&TlsRoute>) -> Self {
        let tls = route.map(|route| {
            let trust = route.connector.as_ref().map_or(0, |c| Arc::as_ptr(c.config()) as usize);
            (route.name.clone(), trust)
        });
        OutgoingKey { addr, tls }
    }
}

impl SipTransport {
    /// Binds UDP and TCP on `addr` (port 0 picks one free port for both) and starts the receive tasks; no TLS,
    /// default limits.
    pub async fn bind(
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<(Arc<SipTransport>, mpsc::Receiver<Inbound>)> {
        SipTransport::bind_with(TransportConfig::new(addr), shutdown).await
    }

    /// Binds what `config` names and starts the receive tasks.
    pub async fn bind_with(
        config: TransportConfig,
        shutdown: CancellationToken,
    ) -> std::io::Result<(Arc<SipTransport>, mpsc::Receiver<Inbound>)> {
        let (udp, listener) = bind_pair(config.listen).await?;
        let local = udp.local_addr()?;
        let tls_listener = match &config.tls_listen {
            Some(tls) => Some((TcpListener::bind(tls.addr).await?, TlsAcceptor::from(tls.server.clone()))),
            None => None,
        };
        let tls_local = match &tls_listener {
            Some((listener, _)) => Some(listener.local_addr()?),
            None => None,
        };
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let transport = Arc::new(SipTransport {
            udp: Arc::new(udp),
            local,
            tls_local,
            tls_client: config.tls_client.map(TlsConnector::from),
            limits: ConnectionLimits {
                max_message_bytes: config.limits.max_message_bytes.min(MAX_MESSAGE_BYTES),
                ..config.limits
            },
            registry: Mutex::new(Registry::default()),
            next_connection: AtomicU64::new(1),
            refused: AtomicU64::new(0),
            inbound: tx,
            stream_failures: config.stream_failures,
            shutdown,
        });
        tokio::spawn(udp_receive_loop(transport.clone()));
        tokio::spawn(accept_loop(transport.clone(), listener, None));
        if let Some((listener, acceptor)) = tls_listener {
            tokio::spawn(accept_loop(transport.clone(), listener, Some(acceptor)));
        }
        Ok((transport, rx))
    }

    /// The UDP and TCP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The TLS listener's address, when there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls_local
    }

    /// The port to advertise in Via and Contact for `protocol`: the TLS listener's for TLS (the UDP/TCP port when
    /// there is no TLS listener: the peer then has to reuse our connection).
    pub fn local_port(&self, protocol: SipProtocol) -> u16 {
        match (protocol, self.tls_local) {
            (SipProtocol::Tls, Some(tls)) => tls.port(),
            _ => self.local.port(),
        }
    }

    /// Number of open TCP and TLS connections, both directions.
    pub fn tcp_connections(&self) -> usize {
        self.registry().writers.len()
    }

    /// Inbound connections refused by [`ConnectionLimits`] since the start.
    pub fn refused_connections(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The protocol a message from or to `peer` travels on: TLS for a TLS connection or a destination routed over
    /// TLS. Use it for the Via transport token and the Contact's `;transport=`.
    pub fn protocol(&self, peer: &Peer) -> SipProtocol {
        match (peer.transport, peer.connection) {
            (TransportKind::Udp, _) => SipProtocol::Udp,
            (TransportKind::Tcp, Some(id)) if is_tls_connection(id) => SipProtocol::Tls,
            (TransportKind::Tcp, Some(_)) => SipProtocol::Tcp,
            (TransportKind::Tcp, None) if self.registry().tls_routes.contains_key(&peer.addr) => SipProtocol::Tls,
            (TransportKind::Tcp, None) => SipProtocol::Tcp,
        }
    }

    /// The peer to hand the endpoint for sending to `addr` over `protocol`. For TLS it records that `addr` is
    /// reached over TLS with a certificate for `server_name` (the URI's or trunk's host name, not the resolved
    /// address), so every later message to `addr`, reconnects included, is encrypted and verified.
    pub fn route(&self, protocol: SipProtocol, addr: SocketAddr, server_name: &str) -> Result<Peer, TlsError> {
        self.route_with(protocol, addr, server_name, None)
    }

    /// [`SipTransport::route`] with the TLS client configuration this destination is verified with (a trunk's
    /// own CA, [`crate::tls::client_config`]) instead of the transport's.
    pub fn route_with(
        &self,
        protocol: SipProtocol,
        addr: SocketAddr,
        server_name: &str,
        client: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Peer, TlsError> {
        if protocol != SipProtocol::Tls {
            return Ok(Peer { transport: protocol.kind(), addr, connection: None });
        }
        let name = crate::tls::server_name(server_name)?;
        let route = TlsRoute { name, connector: client.map(TlsConnector::from) };
        let mut registry = self.registry();
        registry.tls_routes.insert(addr, route.clone());
        // The peer names the connection for this (address, name, trust): messages sent to it use that
        // connection, or reopen it verified for this name, whatever was routed to the address since.
        let key = OutgoingKey::new(addr, Some(&route));
        let id = match registry.outgoing.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.new_connection_id(true);
                registry.outgoing.insert(key, id);
                registry.tls_handles.insert(id, (addr, route));
                id
            }
        };
        Ok(Peer { transport: TransportKind::Tcp, addr, connection: Some(id) })
    }

    /// [`SipTransport::route`] for a resolved destination ([`crate::resolve::Resolver::resolve`]).
    pub fn route_to(&self, destination: &crate::resolve::Destination) -> Result<Peer, TlsError> {
        self.route(destination.protocol, destination.addr, &destination.server_name)
    }

    /// Sends without waiting: UDP is tried at once; TCP and TLS go to the connection's writer, opening a
    /// connection (or reusing the open one to the same destination) when the peer names none that is open.
    pub fn send(self: &Arc<Self>, transmit: Transmit) {
        match transmit.peer.transport {
            TransportKind::Udp => self.send_udp(transmit),
            TransportKind::Tcp => self.send_stream(transmit),
        }
    }

    fn send_udp(&self, transmit: Transmit) {
        if let Err(err) = self.udp.try_send_to(&transmit.bytes, transmit.peer.addr) {
            if err.kind() == std::io::ErrorKind::WouldBlock {
                let udp = self.udp.clone();
                tokio::spawn(async move {
                    let _ = udp.send_to(&transmit.bytes, transmit.peer.addr).await;
                });
            } else {
                tracing::debug!(peer = %transmit.peer.addr, %err, "SIP UDP send failed");
            }
        }
    }

    fn send_stream(self: &Arc<Self>, transmit: Transmit) {
        let peer = transmit.peer;
        let writer = {
            let mut registry = self.registry();
            let named = peer.connection.map(|id| (id, registry.writers.get(&id).cloned()));
            match named {
                Some((_, Some(writer))) => writer,
                Some((id, None)) if registry.tls_handles.contains_key(&id) => {
                    // A routed TLS destination whose connection is not open: reopen it under its id, verified
                    // for its own name.
                    let Some((addr, route)) = registry.tls_handles.get(&id).cloned() else { return };
                    match self.open(&mut registry, id, addr, Some(route)) {
                        Some(writer) => writer,
                        None => return,
                    }
                }
                _ => {
                    let tls_route = registry.tls_routes.get(&peer.addr).cloned();
                    if peer.connection.is_some_and(is_tls_connection) && tls_route.is_none() {
                        // The TLS connection this answer belonged to is gone, and there is no verified way back.
                        tracing::warn!(peer = %peer.addr, "SIP TLS connection closed; message dropped");
                        return;
                    }
                    let key = OutgoingKey::new(peer.addr, tls_route.as_ref());
                    let open = registry.outgoing.get(&key).copied();
                    match open.map(|id| (id, registry.writers.get(&id).cloned())) {
                        Some((_, Some(writer))) => writer,
                        Some((id, None)) => match self.open(&mut registry, id, peer.addr, tls_route) {
                            Some(writer) => writer,
                            None => return,
                        },
                        None => {
                            let id = self.new_connection_id(tls_route.is_some());
                            if let Some(route) = &tls_route {
                                registry.tls_handles.insert(id, (peer.addr, route.clone()));
                            }
                            registry.outgoing.insert(key, id);
                            match self.open(&mut registry, id, peer.addr, tls_route) {
                                Some(writer) => writer,
                                None => return,
                            }
                        }
                    }
                }
            }
        };
        if writer.try_send(transmit.bytes).is_err() {
            tracing::warn!(peer = %peer.addr, "SIP stream write queue full or closed; message dropped");
        }
    }

    /// Registers outgoing connection `id` (its queue takes messages at once) and starts connecting.
    fn open(
        self: &Arc<Self>,
        registry: &mut Registry,
        id: u64,
        addr: SocketAddr,
        route: Option<TlsRoute>,
    ) -> Option<mpsc::Sender<Vec<u8>>> {
        let (tls, connector) = match route {
            None => (None, None),
            Some(TlsRoute { name, connector: Some(own) }) => (Some(name), Some(own)),
            Some(TlsRoute { name, connector: None }) => match &self.tls_client {
                Some(connector) => (Some(name), Some(connector.clone())),
                None => {
                    tracing::warn!(peer = %addr, "SIP TLS destination but no TLS client configuration; message dropped");
                    self.report_failure(addr, true, "no TLS client configuration");
                    return None;
                }
            },
        };
        let (writer, outgoing) = mpsc::channel(STREAM_WRITE_QUEUE);
        registry.writers.insert(id, writer.clone());
        let this = self.clone();
        tokio::spawn(async move {
            let timeout = this.limits.handshake_timeout;
            let connected = tokio::time::timeout(timeout, async {
                let stream = TcpStream::connect(addr).await?;
                let _ = stream.set_nodelay(true);
                Ok::<_, std::io::Error>(stream)
            })
            .await;
            let stream = match connected {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => return this.fail_open(id, addr, &err.to_string()),
                Err(_) => return this.fail_open(id, addr, "connect timed out"),
            };
            match (connector, tls) {
                (Some(connector), Some(name)) => {
                    match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
                        Ok(Ok(stream)) => this.run_connection(stream, id, addr, outgoing, None).await,
                        Ok(Err(err)) => this.fail_open(id, addr, &format!("TLS handshake failed: {err}")),
                        Err(_) => this.fail_open(id, addr, "TLS handshake timed out"),
                    }
                }
                _ => this.run_connection(stream, id, addr, outgoing, None).await,
            }
        });
        Some(writer)
    }

    fn fail_open(&self, id: u64, addr: SocketAddr, reason: &str) {
        tracing::warn!(peer = %addr, reason, "SIP connection failed; queued messages dropped");
        self.forget(id);
        self.report_failure(addr, is_tls_connection(id), reason);
    }

    fn report_failure(&self, addr: SocketAddr, tls: bool, reason: &str) {
        if let Some(failures) = &self.stream_failures {
            // Never waits: a full queue loses the notice, and the sender's transaction timeout still applies.
            let _ = failures.try_send(StreamFailure { addr, tls, reason: reason.to_string() });
        }
    }

    fn new_connection_id(&self, tls: bool) -> u64 {
        (self.next_connection.fetch_add(1, Ordering::Relaxed) << 1) | u64::from(tls)
    }

    /// Admits an accepted connection (TLS handshake first, bounded in time) and serves it.
    async fn serve_inbound(
        self: Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        tls: Option<TlsAcceptor>,
        slot: AdmissionSlot,
    ) {
        let _ = stream.set_nodelay(true);
        let id = self.new_connection_id(tls.is_some());
        let (writer, outgoing) = mpsc::channel(STREAM_WRITE_QUEUE);
        match tls {
            None => {
                self.registry().writers.insert(id, writer);
                self.run_connection(stream, id, remote, outgoing, Some(slot)).await;
            }
            Some(acceptor) => {
                let handshake = tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    h = tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(stream)) => h,
                };
                match handshake {
                    Ok(Ok(stream)) => {
                        self.registry().writers.insert(id, writer);
                        self.run_connection(stream, id, remote, outgoing, Some(slot)).await;
                    }
                    Ok(Err(err)) => tracing::debug!(peer = %remote, %err, "SIP TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %remote, "SIP TLS handshake timed out; connection closed"),
                }
            }
        }
    }

    /// Reads, frames and writes one connection until it closes, idles out or misbehaves. Writes and reads are
    /// checked before the idle timer in every round, so a message that arrived in time is never lost to the timer;
    /// the deadline is checked again after reads that completed no message, so a trickle of bytes cannot hold the
    /// connection open.
    async fn run_connection<S>(
        self: Arc<Self>,
        mut stream: S,
        id: u64,
        remote: SocketAddr,
        mut outgoing: mpsc::Receiver<Vec<u8>>,
        _slot: Option<AdmissionSlot>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let peer = Peer { transport: TransportKind::Tcp, addr: remote, connection: Some(id) };
        let protocol = if is_tls_connection(id) { SipProtocol::Tls } else { SipProtocol::Tcp };
        let idle_timeout = self.limits.idle_timeout;
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; READ_CHUNK];
        // Bytes read since the last complete message: bounds what one message may buffer.
        let mut unframed = 0usize;
        let mut deadline = Instant::now() + idle_timeout;
        let end = loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break Closed::Shutdown,
                message = outgoing.recv() => {
                    let Some(bytes) = message else { break Closed::Shutdown };
                    let write = async {
                        stream.write_all(&bytes).await?;
                        // TLS buffers records until flushed.
                        stream.flush().await
                    };
                    match tokio::time::timeout_at(Instant::now() + idle_timeout, write).await {
                        Ok(Ok(())) => deadline = Instant::now() + idle_timeout,
                        Ok(Err(err)) => break Closed::Failed(err.to_string()),
                        Err(_) => break Closed::Failed("peer stopped reading".into()),
                    }
                }
                read = stream.read(&mut buf) => {
                    let n = match read {
                        Ok(0) => break Closed::ByPeer,
                        Ok(n) => n,
                        Err(err) => break Closed::Failed(err.to_string()),
                    };
                    framer.push(&buf[..n]);
                    unframed += n;
                    let mut framed = false;
                    let malformed = loop {
                        match framer.next_message() {
                            Ok(Some(bytes)) => {
                                framed = true;
                                if self.inbound.send(Inbound { bytes, peer }).await.is_err() {
                                    break None;
                                }
                            }
                            Ok(None) => break None,
                            Err(err) => break Some(err),
                        }
                    };
                    if let Some(err) = malformed {
                        break Closed::Malformed(err.to_string());
                    }
                    if framed {
                        unframed = 0;
                        deadline = Instant::now() + idle_timeout;
                    } else if unframed > self.limits.max_message_bytes {
                        break Closed::Malformed(format!("message exceeds {} bytes", self.limits.max_message_bytes));
                    } else if Instant::now() >= deadline {
                        break Closed::Idle;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break Closed::Idle,
            }
        };
        self.forget(id);
        match end {
            Closed::Shutdown | Closed::ByPeer => tracing::debug!(peer = %remote, ?protocol, "SIP connection closed"),
            Closed::Idle => tracing::debug!(peer = %remote, ?protocol, "SIP connection idle; closed"),
            Closed::Malformed(reason) => tracing::warn!(peer = %remote, ?protocol, reason, "closing SIP connection"),
            Closed::Failed(reason) => tracing::info!(peer = %remote, ?protocol, reason, "SIP connection failed"),
        }
        // TLS sends close_notify here; a peer that stopped reading must not keep the admission slot.
        let _ = tokio::time::timeout(self.limits.handshake_timeout, stream.shutdown()).await;
    }

    fn forget(&self, id: u64) {
        let mut registry = self.registry();
        registry.writers.remove(&id);
        // A TLS handle keeps its place: the next message to it reconnects under the same id and name.
        if !registry.tls_handles.contains_key(&id) {
            registry.outgoing.retain(|_, open| *open != id);
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry's maps stay consistent across a panic elsewhere (each change is one insert or remove).
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a connection ended, for the log line.
enum Closed {
    /// Our shutdown, or the transport dropped the connection.
    Shutdown,
    ByPeer,
    /// No complete message within the idle timeout.
    Idle,
    /// Framing error or a message over the size cap: the peer is broken or hostile.
    Malformed(String),
    /// An I/O error or a peer that stopped reading.
    Failed(String),
}

/// TLS connection ids are odd, TCP ids even: the bit survives the connection, so an answer for a TLS peer whose
/// connection closed is never sent in clear.
fn is_tls_connection(id: u64) -> bool {
    id & 1 == 1
}

/// Counts inbound connections against [`ConnectionLimits`]: a pure tally, taken before any work is done for a
/// connection and given back when it closes.
#[derive(Debug, Default)]
struct Admission {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    fn try_admit(&mut self, ip: IpAddr, limits: &ConnectionLimits) -> bool {
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if self.total >= limits.max_connections || from_ip >= limits.max_connections_per_ip {
            return false;
        }
        self.total += 1;
        self.per_ip.insert(ip, from_ip + 1);
        true
    }

    fn release(&mut self, ip: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(count) = self.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

/// An admitted connection's place in the tally; given back on drop, however the connection ends.
struct AdmissionSlot {
    transport: Arc<SipTransport>,
    ip: IpAddr,
}

impl Drop for AdmissionSlot {
    fn drop(&mut self) {
        self.transport.registry().admission.release(self.ip);
    }
}

async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    if addr.port() != 0 {
        return Ok((UdpSocket::bind(addr).await?, TcpListener::bind(addr).await?));
    }
    // Port 0: find a port free for both protocols.
    let mut last_err = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) => last_err = Some(err),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no port free for both UDP and TCP")))
}

async fn udp_receive_loop(transport: Arc<SipTransport>) {
    // Room for any datagram, so an oversized one is seen whole and rejected as too large, not truncated.
    let mut buf = vec![0u8; 65536];
    loop {
        let received = tokio::select! {
            _ = transport.shutdown.cancelled() => return,
            r = transport.udp.recv_from(&mut buf) => r,
        };
        match received {
            Ok((n, from)) => {
                let inbound = Inbound { bytes: buf[..n].to_vec(), peer: Peer::udp(from) };
                if transport.inbound.send(inbound).await.is_err() {
                    return;
                }
            }
            // ICMP port unreachable surfaces as ConnectionReset on some systems; keep serving.
            Err(err) => tracing::debug!(%err, "SIP UDP receive error"),
        }
    }
}

/// Accepts TCP (or, with an acceptor, TLS) connections. Admission is decided here, before any task or buffer
/// exists for the connection; a refused one is closed at once.
async fn accept_loop(transport: Arc<SipTransport>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    loop {
        let accepted = tokio::select! {
            _ = transport.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors, typically: back off instead of spinning.
                tracing::warn!(%err, "SIP TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admitted = transport.registry().admission.try_admit(remote.ip(), &transport.limits);
        if !admitted {
            let refused = transport.refused.fetch_add(1, Ordering::Relaxed) + 1;
            // One line per power of two, so a flood cannot flood the log too.
            if refused.is_power_of_two() {
                tracing::warn!(peer = %remote, refused, "SIP connection limit reached; connection refused");
            }
            drop(stream);
            continue;
        }
        let slot = AdmissionSlot { transport: transport.clone(), ip: remote.ip() };
        tokio::spawn(transport.clone().serve_inbound(stream, remote, tls.clone(), slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> ConnectionLimits {
        ConnectionLimits { max_connections: total, max_connections_per_ip: per_ip, ..ConnectionLimits::default() }
    }

    #[test]
    fn admission_caps_per_ip_then_total_and_gives_slots_back() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let limits = limits(3, 2);
        let mut admission = Admission::default();
        assert!(admission.try_admit(a, &limits));
        assert!(admission.try_admit(a, &limits));
        assert!(!admission.try_admit(a, &limits), "third from one IP");
        assert!(admission.try_admit(b, &limits));
        assert!(!admission.try_admit(b, &limits), "total reached");
        admission.release(a);
        assert!(admission.try_admit(b, &limits), "a released slot is free for anyone");
        admission.release(a);
        assert!(!admission.per_ip.contains_key(&a), "no entry left for an IP without connections");
    }

    #[tokio::test]
    async fn tls_ids_are_odd_and_decide_the_protocol_before_routes() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (transport, _inbound) = SipTransport::bind(addr, CancellationToken::new()).await.unwrap();
        let tcp = transport.new_connection_id(false);
        let tls = transport.new_connection_id(true);
        assert!(!is_tls_connection(tcp));
        assert!(is_tls_connection(tls));
        assert_ne!(tcp >> 1, tls >> 1, "ids stay unique across kinds");

        // A TLS route decides only for peers without a connection; a connection's own kind always wins.
        let trunk: SocketAddr = "192.0.2.9:5061".parse().unwrap();
        let routed = transport.route(SipProtocol::Tls, trunk, "trunk.example").unwrap();
        assert_eq!(transport.protocol(&routed), SipProtocol::Tls);
        let on = |connection| Peer { transport: TransportKind::Tcp, addr: trunk, connection: Some(connection) };
        assert_eq!(transport.protocol(&on(tcp)), SipProtocol::Tcp);
        assert_eq!(transport.protocol(&on(tls)), SipProtocol::Tls);
        assert_eq!(transport.protocol(&Peer::udp(trunk)), SipProtocol::Udp);
    }

    #[tokio::test]
    async fn an_answer_for_a_closed_tls_connection_is_never_sent_in_clear() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (transport, _inbound) = SipTransport::bind(addr, CancellationToken::new()).await.unwrap();
        let gone = |tls| Peer {
            transport: TransportKind::Tcp,
            addr: "127.0.0.1:9".parse().unwrap(),
            connection: Some(transport.new_connection_id(tls)),
        };
        // Connections are registered before send returns, so the count tells what send decided.
        transport.send(Transmit { peer: gone(true), bytes: b"SIP/2.0 200 OK\r\n\r\n".to_vec() });
        assert_eq!(transport.tcp_connections(), 0, "dropped, not re-sent over a new plain connection");
        transport.send(Transmit { peer: gone(false), bytes: b"SIP/2.0 200 OK\r\n\r\n".to_vec() });
        assert_eq!(transport.tcp_connections(), 1, "a plain TCP answer may reconnect");
    }

    #[test]
    fn protocol_comes_from_the_uri() {
        let of = |text: &str| SipProtocol::for_uri(&SipUri::parse(text).unwrap());
        assert_eq!(of("sips:a@trunk.example"), SipProtocol::Tls);
        assert_eq!(of("sips:a@trunk.example;transport=tcp"), SipProtocol::Tls);
        assert_eq!(of("sip:a@trunk.example;transport=TLS"), SipProtocol::Tls);
        assert_eq!(of("sip:a@trunk.example;transport=tcp"), SipProtocol::Tcp);
        assert_eq!(of("sip:a@trunk.example"), SipProtocol::Udp);
        assert_eq!(SipProtocol::Tls.kind(), TransportKind::Tcp);
        assert_eq!(SipProtocol::Tls.via_token(), "TLS");
        assert_eq!(SipProtocol::Tls.contact_param(), ";transport=tls");
        assert_eq!(SipProtocol::Tls.default_port(), 5061);
    }
}
