//! Stream connection limits of the SIP transport, on loopback: the connection caps refuse extra connections at
//! once while admitted ones keep working; idle, oversized and silent-TLS connections are closed. Timing tests run
//! on tokio's paused clock, so "30 s" takes no wall time and the bounds are exact.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use voicera_sip::tls;
use voicera_sip::transport::{ConnectionLimits, Inbound, SipTransport, TlsListen, TransportConfig};
use voicera_sip::Transmit;

const OPTIONS: &[u8] = b"OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\n\
Content-Length: 0\r\n\r\n";
const REPLY: &[u8] = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
/// Bound on waits for things that happen without timers; only reached when the code under test is broken.
const PATIENCE: Duration = Duration::from_secs(5);

async fn start(limits: ConnectionLimits) -> (Arc<SipTransport>, mpsc::Receiver<Inbound>) {
    let config = TransportConfig { limits, ..TransportConfig::new(loopback(0)) };
    SipTransport::bind_with(config, CancellationToken::new()).await.expect("bind")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn connect_from(source: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(source, 0)).expect("bind source");
    socket.connect(to).await.expect("connect")
}

/// True when the server closed the stream within `within`: end of file, or a reset because it closed with our
/// bytes unread.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, stream.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

/// Sends OPTIONS on `stream`, checks the transport delivers it, answers through the transport and reads the answer.
async fn round_trip(transport: &Arc<SipTransport>, inbound: &mut mpsc::Receiver<Inbound>, stream: &mut TcpStream) {
    stream.write_all(OPTIONS).await.expect("write");
    let got = tokio::time::timeout(PATIENCE, inbound.recv()).await.expect("delivered in time").expect("open");
    assert_eq!(got.bytes, OPTIONS);
    assert_eq!(got.peer.addr, stream.local_addr().expect("addr"));
    transport.send(Transmit { peer: got.peer, bytes: REPLY.to_vec() });
    let mut buf = vec![0u8; REPLY.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut buf)).await.expect("answer in time").expect("read");
    assert_eq!(buf, REPLY);
}

#[tokio::test]
async fn connections_over_the_caps_are_closed_and_admitted_ones_keep_working() {
    let limits = ConnectionLimits { max_connections: 3, max_connections_per_ip: 2, ..ConnectionLimits::default() };
    let (transport, mut inbound) = start(limits).await;
    let server = transport.local_addr();
    let a: IpAddr = [127, 0, 0, 1].into();
    let b: IpAddr = [127, 0, 0, 2].into();

    // The listener accepts in arrival order, so these are admitted before the ones below are considered.
    let mut a1 = connect_from(a, server).await;
    let mut a2 = connect_from(a, server).await;
    let mut a3 = connect_from(a, server).await;
    let mut b1 = connect_from(b, server).await;
    let mut b2 = connect_from(b, server).await;

    assert!(closed_by_server(&mut a3, PATIENCE).await, "third connection from one IP is over the per-IP cap");
    assert!(closed_by_server(&mut b2, PATIENCE).await, "fourth connection in all is over the total cap");
    assert_eq!(transport.refused_connections(), 2);

    round_trip(&transport, &mut inbound, &mut a1).await;
    round_trip(&transport, &mut inbound, &mut a2).await;
    round_trip(&transport, &mut inbound, &mut b1).await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_messages_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_secs(30);
    let (transport, _inbound) = start(ConnectionLimits { idle_timeout: idle, ..ConnectionLimits::default() }).await;
    let mut client = TcpStream::connect(transport.local_addr()).await.expect("connect");
    let opened = Instant::now();
    // Keep-alive CRLFs are not messages: they do not hold the connection open.
    client.write_all(b"\r\n\r\n").await.expect("write");

    assert!(closed_by_server(&mut client, Duration::from_secs(3600)).await);
    let lived = opened.elapsed();
    assert!(lived >= idle && lived < idle + Duration::from_secs(1), "closed after {lived:?}");
}

#[tokio::test(start_paused = true)]
async fn each_complete_message_restarts_the_idle_timeout() {
    let idle = Duration::from_secs(30);
    let (transport, mut inbound) = start(ConnectionLimits { idle_timeout: idle, ..ConnectionLimits::default() }).await;
    let mut client = TcpStream::connect(transport.local_addr()).await.expect("connect");
    let opened = Instant::now();

    tokio::time::sleep(Duration::from_secs(20)).await;
    client.write_all(OPTIONS).await.expect("write");
    let got = inbound.recv().await.expect("delivered");
    assert_eq!(got.bytes, OPTIONS);

    assert!(closed_by_server(&mut client, Duration::from_secs(3600)).await);
    let lived = opened.elapsed();
    assert!(lived >= Duration::from_secs(50), "closed after {lived:?}, before 30 s of silence after the message");
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_byte_cap_closes_the_connection_at_once() {
    let limits = ConnectionLimits { max_message_bytes: 4096, ..ConnectionLimits::default() };
    let (transport, mut inbound) = start(limits).await;
    let mut client = TcpStream::connect(transport.local_addr()).await.expect("connect");
    let opened = Instant::now();

    let mut endless = b"OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\n".to_vec();
    while endless.len() <= 4096 {
        endless.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    client.write_all(&endless).await.expect("write");

    assert!(closed_by_server(&mut client, Duration::from_secs(3600)).await);
    assert!(opened.elapsed() < Duration::from_secs(1), "closed by size, not by a timer");
    assert!(inbound.try_recv().is_err(), "nothing delivered");
}

#[tokio::test(start_paused = true)]
async fn a_tls_client_that_never_handshakes_is_closed_at_the_handshake_timeout() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let server =
        tls::server_config_from_pem(certified.cert.pem().as_bytes(), certified.signing_key.serialize_pem().as_bytes())
            .expect("server config");
    let handshake = Duration::from_secs(10);
    let config = TransportConfig {
        tls_listen: Some(TlsListen { addr: loopback(0), server }),
        limits: ConnectionLimits { handshake_timeout: handshake, ..ConnectionLimits::default() },
        ..TransportConfig::new(loopback(0))
    };
    let (transport, _inbound) = SipTransport::bind_with(config, CancellationToken::new()).await.expect("bind");
    let tls_addr = transport.tls_local_addr().expect("TLS listener");
    let mut client = TcpStream::connect(tls_addr).await.expect("connect");
    let opened = Instant::now();

    assert!(closed_by_server(&mut client, Duration::from_secs(3600)).await);
    let lived = opened.elapsed();
    assert!(lived >= handshake && lived < handshake + Duration::from_secs(1), "closed after {lived:?}");
}
