//! The thin tokio driver for SIP transports: one UDP socket and one TCP listener on the same address. It moves
//! bytes only; parsing, matching and timers live in the sans-IO [`crate::endpoint::Endpoint`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Peer, Transmit, TransportKind};
use crate::framing::StreamFramer;

/// Bytes that arrived, and from whom.
#[derive(Debug)]
pub struct Inbound {
    pub bytes: Vec<u8>,
    pub peer: Peer,
}

/// Outgoing messages queued per TCP connection; a slow peer that fills it loses messages rather than stalling
/// signalling for everyone.
const TCP_WRITE_QUEUE: usize = 64;
/// Inbound messages waiting for the signalling task.
const INBOUND_QUEUE: usize = 4096;

/// Bound SIP sockets.
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    connections: Mutex<HashMap<u64, mpsc::Sender<Vec<u8>>>>,
    next_connection: AtomicU64,
    inbound: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
}

impl SipTransport {
    /// Binds UDP and TCP on `addr` (port 0 picks one free port for both) and starts the receive tasks.
    pub async fn bind(
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<(Arc<SipTransport>, mpsc::Receiver<Inbound>)> {
        let (udp, listener) = bind_pair(addr).await?;
        let local = udp.local_addr()?;
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let transport = Arc::new(SipTransport {
            udp: Arc::new(udp),
            local,
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            inbound: tx,
            shutdown,
        });
        tokio::spawn(udp_receive_loop(transport.clone()));
        tokio::spawn(tcp_accept_loop(transport.clone(), listener));
        Ok((transport, rx))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Number of open TCP connections.
    pub fn tcp_connections(&self) -> usize {
        self.connections.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Sends without waiting: UDP is tried at once; TCP goes to the connection's writer task, opening a
    /// connection when the peer has none.
    pub fn send(self: &Arc<Self>, transmit: Transmit) {
        match transmit.peer.transport {
            TransportKind::Udp => {
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
            TransportKind::Tcp => {
                let writer = transmit
                    .peer
                    .connection
                    .and_then(|id| self.connections.lock().ok().and_then(|c| c.get(&id).cloned()));
                match writer {
                    Some(writer) => {
                        if writer.try_send(transmit.bytes).is_err() {
                            tracing::warn!(peer = %transmit.peer.addr, "SIP TCP write queue full or closed; message dropped");
                        }
                    }
                    None => {
                        let this = self.clone();
                        tokio::spawn(async move {
                            match TcpStream::connect(transmit.peer.addr).await {
                                Ok(stream) => {
                                    let writer = this.clone().adopt(stream, transmit.peer.addr);
                                    let _ = writer.send(transmit.bytes).await;
                                }
                                Err(err) => tracing::warn!(peer = %transmit.peer.addr, %err, "SIP TCP connect failed"),
                            }
                        });
                    }
                }
            }
        }
    }

    /// Registers a TCP stream and starts its reader and writer tasks.
    fn adopt(self: Arc<Self>, stream: TcpStream, peer_addr: SocketAddr) -> mpsc::Sender<Vec<u8>> {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let (writer_tx, mut writer_rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
        if let Ok(mut map) = self.connections.lock() {
            map.insert(id, writer_tx.clone());
        }
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            while let Some(bytes) = writer_rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            let peer = Peer { transport: TransportKind::Tcp, addr: peer_addr, connection: Some(id) };
            let mut framer = StreamFramer::new();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    read = reader.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    },
                };
                framer.push(&buf[..n]);
                loop {
                    match framer.next_message() {
                        Ok(Some(bytes)) => {
                            if self.inbound.send(Inbound { bytes, peer }).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            tracing::warn!(peer = %peer_addr, %err, "closing SIP TCP connection");
                            self.forget(id);
                            return;
                        }
                    }
                }
            }
            self.forget(id);
        });
        writer_tx
    }

    fn forget(&self, id: u64) {
        if let Ok(mut map) = self.connections.lock() {
            map.remove(&id);
        }
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

async fn tcp_accept_loop(transport: Arc<SipTransport>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = transport.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                transport.clone().adopt(stream, peer);
            }
            Err(err) => {
                tracing::warn!(%err, "SIP TCP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
