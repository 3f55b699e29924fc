//! gRPC over HTTP/2 for the streaming providers that speak it (Google Speech-to-Text v2): a small pool of
//! HTTP/2 connections per client (h2 over rustls with ALPN `h2`, or cleartext HTTP/2 with prior knowledge
//! for an `http://` root), each call's stream multiplexed on one of them, driven by one small tokio runtime
//! on a thread of its own so the call's engine never blocks. Which connection a call goes on, when a new one
//! opens, and when one is pinged or given up is decided sans-IO by [`crate::grpc_pool`]; here each
//! connection's task drives it, sends the PINGs and closes it when told.
//!
//! The wire format (grpc.io/docs/guides/wire, "gRPC over HTTP2"): a `POST` to `/{package.Service}/{Method}`
//! with `content-type: application/grpc` and `te: trailers`; each message in either direction is a
//! length-prefixed message, one byte compressed-flag (0 here: no `grpc-encoding` is offered) and a 4-byte
//! big-endian length, then the protobuf bytes; the answer ends with trailers carrying `grpc-status` (0 is OK)
//! and a percent-encoded `grpc-message`, or with a trailers-only answer whose headers carry them. The
//! protobuf encoding (protobuf.dev/programming-guides/encoding) is written by hand here for the few
//! messages a provider needs ([`ProtoWriter`], [`ProtoReader`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use tokio::sync::{oneshot, watch};
use voicera_models::{FailureKind, ModelError};

use crate::grpc_pool::{CloseReason, ConnectionId, Keepalive, Placement, Pool, PoolConfig};

/// The largest message taken from a provider (gRPC's own default limit).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The runtime every gRPC connection and stream runs on: current-thread, on the thread `voicera-grpc`,
/// started on first use and kept for the process.
pub fn runtime() -> Result<tokio::runtime::Handle, ModelError> {
    static HANDLE: OnceLock<Result<tokio::runtime::Handle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("voicera-grpc".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|e| format!("cannot start the gRPC thread: {e}"))?;
            Ok(handle)
        })
        .clone()
        .map_err(|message| ModelError::new(FailureKind::Engine, message))
}

/// Where a channel connects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
}

impl Target {
    fn parse(base_url: &str) -> Result<Target, ModelError> {
        let bad = || ModelError::new(FailureKind::Rejected, format!("{base_url:?} is not an http(s):// API root"));
        let (tls, rest) = if let Some(rest) = base_url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = base_url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host.to_string(), port.parse().map_err(|_| bad())?)
            }
            _ => (authority.to_string(), if tls { 443 } else { 80 }),
        };
        Ok(Target { tls, host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port })
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

fn tls_config() -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<std::sync::Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec()];
            Ok(std::sync::Arc::new(config))
        })
        .clone()
}

/// The byte stream under a connection.
pub trait Transport: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Transport for T {}

type Connecting = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Box<dyn Transport>>> + Send>>;

/// Makes each new connection's byte stream in place of TCP (and TLS) to the target, spoken as cleartext
/// HTTP/2: a test connects in memory, so its paused clock never runs ahead of bytes still in a socket.
#[derive(Clone)]
pub struct Connector(Arc<dyn Fn() -> Connecting + Send + Sync>);

impl Connector {
    /// A connector making each connection with `connect`.
    pub fn new<F, Fut>(connect: F) -> Connector
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::io::Result<Box<dyn Transport>>> + Send + 'static,
    {
        Connector(Arc::new(move || -> Connecting { Box::pin(connect()) }))
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// One provider's HTTP/2 connections ([`Pool`]): made on first use, more when the calls on them reach their
/// stream limit, each kept alive by PINGs, and dropped when they break, go away or stop answering.
pub struct GrpcChannel {
    target: Target,
    /// The budget to connect: TCP, TLS, the HTTP/2 preface and a PING answered (`timeout_ms`).
    connect_timeout: Duration,
    /// Connections made by this instead of TCP (tests).
    connector: Option<Connector>,
    shared: Arc<Shared>,
}

/// What the channel, its connections' drivers and its calls' leases share.
struct Shared {
    origin: String,
    pool: Mutex<Connections>,
}

/// What a connect in progress ended with, for the calls waiting on it (`None` while it runs; the sender
/// dropped when its caller hung up).
type ConnectResult = Option<Result<(), ModelError>>;

/// The pool's decisions and the connections they are about. Locked only for bookkeeping, never across an
/// await.
struct Connections {
    pool: Pool,
    handles: Vec<(ConnectionId, SendRequest<Bytes>, Arc<Activity>)>,
    /// The connects in progress, for calls placed to wait on them.
    pending: Vec<(ConnectionId, watch::Receiver<ConnectResult>)>,
    /// The last connect that failed, when, and why.
    failed: Option<(tokio::time::Instant, ModelError)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Connections> {
        // A panic elsewhere while bookkeeping leaves the counts usable: keep going with them.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Connections {
    /// Drops the handle of a connection that left the pool, so the connection can end once its calls do.
    fn forget(&mut self, id: ConnectionId) {
        self.handles.retain(|(handle, _, _)| *handle != id);
    }

    /// A server that says GOAWAY `ENHANCE_YOUR_CALM` was pinged too often: PINGs come half as often.
    fn calm_down_on(&mut self, origin: &str, err: &h2::Error) {
        if err.is_go_away() && err.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) {
            let interval = self.pool.calm_down();
            tracing::warn!(origin, interval_ms = interval.as_millis() as u64, "gRPC server asked for fewer PINGs");
        }
    }
}

/// A call's place on a connection from its placement until its call opens ([`StreamLease`]): an open
/// dropped before (the caller hung up during a connect) gives the place back, and a connect it was making
/// fails, so no slot stays counted for a call that never came.
struct Placed {
    shared: Arc<Shared>,
    id: ConnectionId,
    /// This call is making the connection.
    connecting: bool,
    /// The place is still this call's to give back.
    armed: bool,
}

impl Placed {
    /// The call opened on its connection: the place goes on as its lease.
    fn lease(mut self, activity: Arc<Activity>) -> StreamLease {
        self.armed = false;
        StreamLease { shared: Arc::clone(&self.shared), id: self.id, activity }
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut connections = self.shared.lock();
        if self.connecting {
            // The connect is abandoned: its connection leaves, and calls waiting on it place again.
            connections.pool.connect_failed(self.id);
            connections.pending.retain(|(pending, _)| *pending != self.id);
            connections.forget(self.id);
        } else if connections.pool.release(self.id, now().into_std()) {
            connections.forget(self.id);
        }
    }
}

/// When a connection last heard from the server, written by its calls' readers (one store per response,
/// not per audio packet) and read by its keepalive.
#[derive(Debug)]
pub struct Activity {
    epoch: tokio::time::Instant,
    millis: AtomicU64,
}

impl Activity {
    fn new(now: tokio::time::Instant) -> Activity {
        Activity { epoch: now, millis: AtomicU64::new(0) }
    }

    /// Something came from the server now.
    pub fn heard(&self) {
        let millis = now().saturating_duration_since(self.epoch).as_millis();
        self.millis.fetch_max(u64::try_from(millis).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        self.epoch + Duration::from_millis(self.millis.load(Ordering::Relaxed))
    }
}

/// The runtime's clock (virtual under a paused test runtime).
fn now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

impl std::fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcChannel")
            .field("origin", &self.shared.origin)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A call opened on a channel: the answer to come, the request stream to write, and its place on its
/// connection (given back when the call is dropped).
#[derive(Debug)]
pub struct Call {
    /// The answer's head, then its body.
    pub response: ResponseFuture,
    /// The request messages.
    pub send: SendStream<Bytes>,
    /// The call's stream counted on its connection.
    pub lease: StreamLease,
}

/// One call counted on its connection until dropped.
pub struct StreamLease {
    shared: Arc<Shared>,
    id: ConnectionId,
    activity: Arc<Activity>,
}

impl std::fmt::Debug for StreamLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamLease").field("connection", &self.id).finish()
    }
}

impl StreamLease {
    /// Where the call's reader notes what it hears, for the connection's keepalive.
    pub fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.activity)
    }

    /// Why the call's connection was given up, if it was: a call failing on a connection the keepalive
    /// dropped says so instead of "connection closed".
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.lock().pool.close_reason(self.id).cloned()
    }

    /// `err`, or the reason the connection was given up when that explains it better.
    pub fn explain(&self, err: ModelError) -> ModelError {
        match self.close_reason() {
            Some(reason @ CloseReason::PingUnanswered(_)) => {
                ModelError::new(FailureKind::Unreachable, format!("{}: {reason}", self.shared.origin))
            }
            _ => err,
        }
    }
}

impl Drop for StreamLease {
    fn drop(&mut self) {
        let mut connections = self.shared.lock();
        if connections.pool.release(self.id, now().into_std()) {
            connections.forget(self.id);
        }
    }
}

impl GrpcChannel {
    /// A channel to `base_url` (`https://host[:port]` or `http://host:port` for cleartext HTTP/2), connecting
    /// within `connect_timeout`, with the default pool ([`PoolConfig::default`]).
    pub fn new(base_url: &str, connect_timeout: Duration) -> Result<GrpcChannel, ModelError> {
        GrpcChannel::with_pool(base_url, connect_timeout, PoolConfig::default())
    }

    /// A channel with its pool's limits and keepalive set.
    pub fn with_pool(base_url: &str, connect_timeout: Duration, pool: PoolConfig) -> Result<GrpcChannel, ModelError> {
        let target = Target::parse(base_url)?;
        let origin = format!("{}://{}", target.scheme(), target.authority());
        let shared = Arc::new(Shared {
            origin,
            pool: Mutex::new(Connections {
                pool: Pool::new(pool),
                handles: Vec::new(),
                pending: Vec::new(),
                failed: None,
            }),
        });
        Ok(GrpcChannel { target, connect_timeout, connector: None, shared })
    }

    /// Makes connections with `connector` instead of TCP to the target.
    pub fn with_connector(mut self, connector: Connector) -> GrpcChannel {
        self.connector = Some(connector);
        self
    }

    fn placed(&self, id: ConnectionId, connecting: bool) -> Placed {
        Placed { shared: Arc::clone(&self.shared), id, connecting, armed: true }
    }

    /// The origin, for messages (`https://speech.googleapis.com`).
    pub fn origin(&self) -> String {
        self.shared.origin.clone()
    }

    /// Silence before a PING now (doubled each time a server said `ENHANCE_YOUR_CALM`).
    pub fn keepalive_interval(&self) -> Duration {
        self.shared.lock().pool.keepalive_interval()
    }

    /// Connections taking calls or being made, and the calls on every connection.
    pub fn usage(&self) -> (usize, usize) {
        let connections = self.shared.lock();
        (connections.pool.connections(), connections.pool.streams())
    }

    /// Opens a call to `path` (`/google.cloud.speech.v2.Speech/StreamingRecognize`) with `headers`, on the
    /// pool's connection with room, or on a new one. A connection found gone away or broken here is given up
    /// and the call goes on another; when every connection carries its most calls the call fails
    /// ([`FailureKind::Overloaded`]). A call finding a connection being made waits for that connect and
    /// shares its outcome; within `connect_backoff` of a failed connect a new one fails at once with that
    /// failure. Dropped before it opens (the caller hung up), the call gives its place back.
    pub async fn open(&self, path: &str, headers: &[(&str, &str)]) -> Result<Call, ModelError> {
        let shown = format!("{}{path}", self.shared.origin);
        let request = || {
            let mut request = http::Request::builder()
                .method(http::Method::POST)
                .uri(format!("{}{path}", self.shared.origin))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("user-agent", concat!("voicera/", env!("CARGO_PKG_VERSION"), " grpc-h2"));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.body(()).map_err(|e| ModelError::new(FailureKind::Rejected, format!("{shown}: a bad header: {e}")))
        };
        // Each failed try gives a connection up (or finds a connect abandoned), so the bound on connections
        // bounds the tries.
        let tries = self.shared.lock().pool.config().max_connections + 1;
        let mut last_failure = None;
        for _ in 0..tries {
            let (placement, done) = {
                let mut connections = self.shared.lock();
                let Connections { pool, handles, pending, .. } = &mut *connections;
                for (id, handle, _) in handles.iter() {
                    pool.server_max(*id, handle.current_max_send_streams());
                }
                match pool.place(now().into_std()) {
                    Ok(Placement::Connect(id)) => {
                        // Noted with the placement, under one lock: a caller placed to wait finds it.
                        let (done, result) = watch::channel(None);
                        pending.push((id, result));
                        (Ok(Placement::Connect(id)), Some(done))
                    }
                    other => (other, None),
                }
            };
            let placement =
                placement.map_err(|full| ModelError::new(FailureKind::Overloaded, format!("{shown}: {full}")))?;
            // From here a dropped open (the caller hung up) gives the place back.
            let (mut placed, fresh) = match placement {
                Placement::Existing(id) | Placement::Wait(id) => (self.placed(id, false), false),
                Placement::Connect(id) => (self.placed(id, true), true),
            };
            let id = placed.id;
            if let (Placement::Connect(_), Some(done)) = (placement, done) {
                let (recent, backoff) = {
                    let connections = self.shared.lock();
                    (connections.failed.clone(), connections.pool.config().connect_backoff)
                };
                let (made, tried) = match recent {
                    // A connect failed a moment ago: fail at once rather than each caller waiting it out.
                    Some((at, err)) if now() < at + backoff => (Err(err), false),
                    _ => (self.connect(id).await, true),
                };
                placed.connecting = false;
                let mut connections = self.shared.lock();
                connections.pending.retain(|(pending, _)| *pending != id);
                if let Err(err) = made {
                    connections.pool.connect_failed(id);
                    if tried {
                        connections.failed = Some((now(), err.clone()));
                    }
                    placed.armed = false;
                    drop(connections);
                    let _ = done.send(Some(Err(err.clone())));
                    return Err(err);
                }
                drop(connections);
                let _ = done.send(Some(Ok(())));
            } else if let Placement::Wait(_) = placement {
                let result =
                    self.shared.lock().pending.iter().find(|(pending, _)| *pending == id).map(|(_, r)| r.clone());
                let outcome = match result {
                    Some(mut result) => result.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()),
                    None => None,
                };
                match outcome {
                    Some(Ok(())) => {
                        let mut connections = self.shared.lock();
                        if connections.pool.streams_on(id) > connections.pool.limit_of(id) {
                            // The server allows fewer streams than waited on it: place again rather than
                            // queue inside HTTP/2 for a stream it may never free.
                            if connections.pool.release(id, now().into_std()) {
                                connections.forget(id);
                            }
                            placed.armed = false;
                            continue;
                        }
                    }
                    Some(Err(err)) => {
                        // The connect failed and took this call's place with it.
                        placed.armed = false;
                        return Err(err);
                    }
                    // The caller making it hung up: its connection left with it; place again.
                    None => continue,
                }
            }
            let found = {
                let connections = self.shared.lock();
                let handle = connections.handles.iter().find(|(handle, _, _)| *handle == id);
                handle.map(|(_, send, activity)| (send.clone(), Arc::clone(activity)))
            };
            let Some((send, activity)) = found else {
                // Gone between the placement and now (it closed): count nothing on it and try again.
                continue;
            };
            let lease = placed.lease(activity);
            let sent = match send.ready().await {
                Ok(mut ready) => ready.send_request(request()?, false),
                Err(err) => Err(err),
            };
            match sent {
                Ok((response, send)) => return Ok(Call { response, send, lease }),
                Err(err) if fresh => return Err(h2_error(&shown, &err)),
                Err(err) => {
                    // An existing connection that went away or broke: give it up and go on another.
                    let reason =
                        if err.is_go_away() { CloseReason::GoingAway } else { CloseReason::Broken(err.to_string()) };
                    tracing::info!(origin = %self.shared.origin, %reason, "gRPC connection given up");
                    let mut connections = self.shared.lock();
                    connections.calm_down_on(&self.shared.origin, &err);
                    if connections.pool.close(id, reason) {
                        connections.forget(id);
                    }
                    drop(connections);
                    last_failure = Some(h2_error(&shown, &err));
                }
            }
        }
        Err(last_failure
            .unwrap_or_else(|| ModelError::new(FailureKind::Unreachable, format!("{shown}: no usable connection"))))
    }

    /// Makes connection `id` within the budget: TCP, TLS with ALPN `h2`, the HTTP/2 handshake, and a PING
    /// round trip (a server that accepts and then stalls fails here). The connection's driver then runs on
    /// its own task, with its keepalive.
    async fn connect(&self, id: ConnectionId) -> Result<(), ModelError> {
        let budget = self.connect_timeout;
        let made = tokio::time::timeout(budget, async {
            let origin = &self.shared.origin;
            let unreachable =
                |e: &dyn std::fmt::Display| ModelError::new(FailureKind::Unreachable, format!("{origin}: {e}"));
            if let Some(Connector(connect)) = &self.connector {
                let io = connect().await.map_err(|e| unreachable(&e))?;
                return self.handshake(id, io).await;
            }
            let tcp = tokio::net::TcpStream::connect((self.target.host.as_str(), self.target.port))
                .await
                .map_err(|e| unreachable(&e))?;
            let _ = tcp.set_nodelay(true);
            if self.target.tls {
                let config = tls_config().map_err(|e| ModelError::new(FailureKind::Engine, e))?;
                let name =
                    rustls::pki_types::ServerName::try_from(self.target.host.clone()).map_err(|e| unreachable(&e))?;
                let tls =
                    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| unreachable(&e))?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(unreachable(&"the server does not speak HTTP/2 (ALPN h2 refused)"));
                }
                self.handshake(id, tls).await
            } else {
                self.handshake(id, tcp).await
            }
        });
        match made.await {
            Ok(made) => made,
            Err(_) => Err(ModelError::new(
                FailureKind::TimedOut,
                format!("{}: no HTTP/2 connection within {} ms", self.shared.origin, budget.as_millis()),
            )),
        }
    }

    async fn handshake<T>(&self, id: ConnectionId, io: T) -> Result<(), ModelError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let origin = &self.shared.origin;
        let mut builder = h2::client::Builder::new();
        builder.initial_window_size(1 << 20).initial_connection_window_size(4 << 20);
        let (send, mut connection) = builder.handshake::<_, Bytes>(io).await.map_err(|e| h2_error(origin, &e))?;
        let Some(ping) = connection.ping_pong() else {
            return Err(ModelError::new(FailureKind::Engine, format!("{origin}: no PING handle on a new connection")));
        };
        let (answered_sender, answered) = oneshot::channel();
        let activity = Arc::new(Activity::new(now()));
        let driver = Driver { shared: Arc::downgrade(&self.shared), id, ping, activity: Arc::clone(&activity) };
        tokio::spawn(driver.run(connection, answered_sender));
        match answered.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(ModelError::new(FailureKind::Unreachable, format!("{origin}: {why}"))),
            Err(_) => {
                return Err(ModelError::new(
                    FailureKind::Unreachable,
                    format!("{origin}: the connection ended at once"),
                ))
            }
        }
        let mut connections = self.shared.lock();
        if !connections.pool.connected(id, send.current_max_send_streams(), now().into_std()) {
            // Closed while being made: dropping the handle ends the connection.
            return Err(ModelError::new(FailureKind::Unreachable, format!("{origin}: the connection closed at once")));
        }
        connections.handles.push((id, send, activity));
        Ok(())
    }
}

/// A connection's task: drives the HTTP/2 connection, answers the connect's PING, then keeps the connection
/// alive as the pool says, and tells the pool when the connection ends. Dropping the connection (a dead
/// PING, the channel gone) closes its socket and fails the calls still on it.
struct Driver {
    shared: Weak<Shared>,
    id: ConnectionId,
    ping: h2::PingPong,
    activity: Arc<Activity>,
}

impl Driver {
    async fn run<T>(
        mut self,
        connection: h2::client::Connection<T, Bytes>,
        answered: oneshot::Sender<Result<(), String>>,
    ) where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        tokio::pin!(connection);
        // The connect's PING: answered, the connection is usable (and the server's SETTINGS applied).
        let mut connecting = Some(answered);
        let mut awaiting_pong = match self.ping.send_ping(h2::Ping::opaque()) {
            Ok(()) => true,
            Err(err) => {
                if let Some(answered) = connecting.take() {
                    let _ = answered.send(Err(err.to_string()));
                }
                return;
            }
        };
        loop {
            let wake = if connecting.is_some() {
                None
            } else {
                match self.keepalive() {
                    Some(Keepalive::Wait(at)) => Some(tokio::time::Instant::from_std(at)),
                    Some(Keepalive::Ping) => {
                        // One PING at a time (h2 allows no more): one still unanswered stands for this one.
                        if !awaiting_pong {
                            if let Err(err) = self.ping.send_ping(h2::Ping::opaque()) {
                                self.ended(CloseReason::Broken(err.to_string()));
                                return;
                            }
                        }
                        awaiting_pong = true;
                        continue;
                    }
                    Some(Keepalive::Dead | Keepalive::Idle | Keepalive::Gone) | None => return,
                }
            };
            tokio::select! {
                ended = &mut connection => {
                    let why = match ended {
                        Ok(()) => "the server closed it".to_string(),
                        Err(err) => {
                            if let Some(shared) = self.shared.upgrade() {
                                shared.lock().calm_down_on(&shared.origin, &err);
                            }
                            err.to_string()
                        }
                    };
                    if let Some(answered) = connecting.take() {
                        let _ = answered.send(Err(why));
                        return;
                    }
                    self.ended(CloseReason::Broken(why));
                    return;
                }
                pong = std::future::poll_fn(|cx| self.ping.poll_pong(cx)), if awaiting_pong => {
                    awaiting_pong = false;
                    match (pong, connecting.take()) {
                        (Ok(_), Some(answered)) => {
                            if answered.send(Ok(())).is_err() {
                                return; // the connect gave up (its budget passed)
                            }
                        }
                        (Ok(_), None) => {
                            if let Some(shared) = self.shared.upgrade() {
                                shared.lock().pool.pong(self.id, now().into_std());
                            }
                        }
                        (Err(err), Some(answered)) => {
                            let _ = answered.send(Err(err.to_string()));
                            return;
                        }
                        (Err(err), None) => {
                            self.ended(CloseReason::Broken(err.to_string()));
                            return;
                        }
                    }
                }
                _ = closed(&mut connecting) => return, // the connect gave up (its budget passed)
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// The keepalive's next step; `None` when the channel is gone (nobody can use the connection).
    fn keepalive(&self) -> Option<Keepalive> {
        let shared = self.shared.upgrade()?;
        let mut connections = shared.lock();
        connections.pool.heard(self.id, self.activity.last().into_std());
        let step = connections.pool.keepalive(self.id, now().into_std());
        match step {
            Keepalive::Dead => {
                connections.forget(self.id);
                let reason = connections.pool.close_reason(self.id).map(|r| r.to_string()).unwrap_or_default();
                tracing::warn!(origin = %shared.origin, connection = self.id.0, %reason, "gRPC connection dropped");
            }
            Keepalive::Idle => {
                connections.forget(self.id);
                tracing::debug!(origin = %shared.origin, connection = self.id.0, "idle gRPC connection closed");
            }
            Keepalive::Gone => connections.forget(self.id),
            Keepalive::Wait(_) | Keepalive::Ping => {}
        }
        Some(step)
    }

    /// The connection ended on its own: no new calls on it; those on it fail with the HTTP/2 error.
    fn ended(&self, reason: CloseReason) {
        let Some(shared) = self.shared.upgrade() else { return };
        tracing::info!(origin = %shared.origin, connection = self.id.0, %reason, "gRPC connection ended");
        let mut connections = shared.lock();
        connections.pool.close(self.id, reason);
        connections.forget(self.id);
    }
}

/// Resolves when the connect waiting on `connecting` gave up; never once it was answered.
async fn closed(connecting: &mut Option<oneshot::Sender<Result<(), String>>>) {
    match connecting {
        Some(answered) => answered.closed().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or for ever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What an HTTP/2 failure means for the call.
pub fn h2_error(url: &str, err: &h2::Error) -> ModelError {
    let kind = if err.is_io() {
        FailureKind::Unreachable
    } else {
        match err.reason() {
            Some(h2::Reason::REFUSED_STREAM | h2::Reason::ENHANCE_YOUR_CALM) => FailureKind::Overloaded,
            Some(h2::Reason::CANCEL | h2::Reason::NO_ERROR) => FailureKind::Unreachable,
            Some(h2::Reason::PROTOCOL_ERROR | h2::Reason::FRAME_SIZE_ERROR | h2::Reason::COMPRESSION_ERROR) => {
                FailureKind::Malformed
            }
            _ if err.is_go_away() => FailureKind::Unreachable,
            _ => FailureKind::Engine,
        }
    };
    ModelError::new(kind, format!("{url}: {err}"))
}

/// `message` as a length-prefixed gRPC message (not compressed).
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.freeze()
}

/// Splits the bytes of an answer into its messages, whatever the DATA frames' sizes.
#[derive(Debug, Default)]
pub struct GrpcDecoder {
    buffer: BytesMut,
}

impl GrpcDecoder {
    /// More bytes of the answer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, if one is in; a compressed message (none was offered) or one over
    /// [`MAX_MESSAGE`] is an error.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, ModelError> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        let compressed = self.buffer[0];
        let length = u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]) as usize;
        if compressed != 0 {
            return Err(ModelError::new(FailureKind::Malformed, "a compressed gRPC message (none was offered)"));
        }
        if length > MAX_MESSAGE {
            return Err(ModelError::new(FailureKind::Malformed, format!("a gRPC message of {length} bytes")));
        }
        if self.buffer.len() < 5 + length {
            return Ok(None);
        }
        self.buffer.advance(5);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }

    /// Bytes of a message begun but not finished (an answer that ends here was cut).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// The failure a `grpc-status` other than 0 (OK) stands for, with the provider's `grpc-message`; `None` for
/// OK or no status in `headers`.
pub fn status_error(url: &str, headers: &http::HeaderMap) -> Option<ModelError> {
    let code: u32 = headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    if code == 0 {
        return None;
    }
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok()).map(percent_decode).unwrap_or_default();
    let (kind, name) = match code {
        1 => (FailureKind::Unreachable, "CANCELLED"),
        3 => (FailureKind::Rejected, "INVALID_ARGUMENT"),
        4 => (FailureKind::TimedOut, "DEADLINE_EXCEEDED"),
        5 => (FailureKind::Rejected, "NOT_FOUND"),
        7 => (FailureKind::Rejected, "PERMISSION_DENIED"),
        8 => (FailureKind::Overloaded, "RESOURCE_EXHAUSTED"),
        9 => (FailureKind::Rejected, "FAILED_PRECONDITION"),
        11 => (FailureKind::Rejected, "OUT_OF_RANGE"),
        12 => (FailureKind::Unsupported, "UNIMPLEMENTED"),
        14 => (FailureKind::Overloaded, "UNAVAILABLE"),
        16 => (FailureKind::Rejected, "UNAUTHENTICATED"),
        _ => (FailureKind::Engine, "error"),
    };
    Some(ModelError::new(kind, format!("{url}: gRPC {code} {name}: {message}")))
}

/// The status code in `headers`, if any.
pub fn status_code(headers: &http::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// `grpc-message` is percent-encoded UTF-8.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes protobuf fields (proto3: default values are left out by the caller).
#[derive(Debug, Default)]
pub struct ProtoWriter {
    bytes: Vec<u8>,
}

impl ProtoWriter {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    /// A varint field (int32, enum, bool).
    pub fn uint(&mut self, field: u32, value: u64) -> &mut Self {
        self.key(field, 0);
        self.varint(value);
        self
    }

    /// A length-delimited field: bytes, a string or an embedded message.
    pub fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    /// A string field.
    pub fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    /// The encoded message.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// One field of a protobuf message as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProtoValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: bytes, a string, an embedded message or a packed repeated field.
    Bytes(&'a [u8]),
    /// Wire type 5 (a float's bits).
    Fixed32(u32),
}

/// Reads the fields of a protobuf message in order; unknown fields are for the caller to skip.
#[derive(Debug)]
pub struct ProtoReader<'a> {
    data: &'a [u8],
}

impl<'a> ProtoReader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn malformed(what: &str) -> ModelError {
        ModelError::new(FailureKind::Malformed, format!("a protobuf message with {what}"))
    }

    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.data.split_first().ok_or_else(|| Self::malformed("a cut varint"))?;
            self.data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Self::malformed("a varint over 64 bits"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.data.len() < n {
            return Err(Self::malformed("a cut field"));
        }
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(taken)
    }

    /// The next field number and value, `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, ProtoValue<'a>)>, ModelError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| Self::malformed("a field number over 32 bits"))?;
        let value = match key & 7 {
            0 => ProtoValue::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                ProtoValue::Fixed64(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            2 => {
                let length = usize::try_from(self.varint()?).map_err(|_| Self::malformed("a huge length"))?;
                ProtoValue::Bytes(self.take(length)?)
            }
            5 => {
                let b = self.take(4)?;
                ProtoValue::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            other => return Err(Self::malformed(&format!("wire type {other}"))),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_data_frames_come_out_whole() {
        let mut decoder = GrpcDecoder::default();
        let mut wire = frame(b"hello").to_vec();
        wire.extend_from_slice(&frame(b""));
        wire.extend_from_slice(&frame(&[7u8; 300]));
        for piece in wire.chunks(3) {
            decoder.push(piece);
        }
        assert_eq!(decoder.next_message().unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(decoder.next_message().unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(decoder.next_message().unwrap().map(|m| m.len()), Some(300));
        assert_eq!(decoder.next_message().unwrap(), None);
        assert_eq!(decoder.pending(), 0);
        decoder.push(&[1, 0, 0, 0, 1, 9]);
        assert_eq!(decoder.next_message().unwrap_err().kind, FailureKind::Malformed);
    }

    #[test]
    fn a_status_keeps_the_providers_message_and_its_kind() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert!(status_error("u", &headers).is_none());
        headers.insert("grpc-status", http::HeaderValue::from_static("16"));
        headers.insert(
            "grpc-message",
            http::HeaderValue::from_static("API%20key%20not%20valid.%20Please%20pass%20a%20valid%20API%20key."),
        );
        let err = status_error("https://speech.googleapis.com", &headers).unwrap();
        assert_eq!(err.kind, FailureKind::Rejected);
        assert!(
            err.message.ends_with("gRPC 16 UNAUTHENTICATED: API key not valid. Please pass a valid API key."),
            "{err}"
        );
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
        assert_eq!(status_error("u", &headers).unwrap().kind, FailureKind::Overloaded);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn protobuf_fields_round_trip() {
        let inner = ProtoWriter::default().string(1, "नमस्ते").uint(2, 1).finish();
        let outer = ProtoWriter::default().uint(3, 300).bytes(6, &inner).finish();
        let mut reader = ProtoReader::new(&outer);
        assert_eq!(reader.next_field().unwrap(), Some((3, ProtoValue::Varint(300))));
        let Some((6, ProtoValue::Bytes(bytes))) = reader.next_field().unwrap() else { panic!("no message") };
        assert_eq!(reader.next_field().unwrap(), None);
        let mut reader = ProtoReader::new(bytes);
        assert_eq!(reader.next_field().unwrap(), Some((1, ProtoValue::Bytes("नमस्ते".as_bytes()))));
        assert_eq!(reader.next_field().unwrap(), Some((2, ProtoValue::Varint(1))));
        assert_eq!(ProtoReader::new(&[0x0a, 0x05, 1]).next_field().unwrap_err().kind, FailureKind::Malformed);
        assert_eq!(Target::parse("http://127.0.0.1:5000").unwrap().authority(), "127.0.0.1:5000");
        assert_eq!(Target::parse("https://speech.googleapis.com/").unwrap().authority(), "speech.googleapis.com");
    }
}
