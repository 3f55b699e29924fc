//! SIP over TLS between two transports on loopback, with a self-signed certificate made in the test: a request
//! and its answer cross one verified connection, a client refuses a server its roots do not vouch for, a route may
//! carry its own trust, and connections that cannot be opened are reported.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use voicera_sip::tls;
use voicera_sip::transport::{Inbound, SipProtocol, SipTransport, TlsListen, TransportConfig};
use voicera_sip::{Transmit, TransportKind};

const OPTIONS: &[u8] = b"OPTIONS sips:echo@localhost SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK1\r\n\
Content-Length: 0\r\n\r\n";
const REPLY: &[u8] = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
/// Bound on waits; only reached when the code under test is broken.
const PATIENCE: Duration = Duration::from_secs(10);

struct Identity {
    cert_pem: String,
    key_pem: String,
}

fn identity(name: &str) -> Identity {
    let certified = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("certificate");
    Identity { cert_pem: certified.cert.pem(), key_pem: certified.signing_key.serialize_pem() }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn tls_client(trusted_ca_pem: &str) -> (Arc<SipTransport>, mpsc::Receiver<Inbound>) {
    let client = tls::client_config_trusting_pem(trusted_ca_pem.as_bytes()).expect("client config");
    let config = TransportConfig { tls_client: Some(client), ..TransportConfig::new(loopback()) };
    SipTransport::bind_with(config, CancellationToken::new()).await.expect("bind client")
}

async fn next(inbound: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(PATIENCE, inbound.recv()).await.expect("in time").expect("open")
}

/// Writes `text` to a file of its own under the temp dir (the operator's configuration names files).
fn temp_file(label: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("voicera-sip-tls-{}-{label}.pem", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

#[tokio::test]
async fn a_request_and_its_answer_cross_one_verified_tls_connection() {
    let server_identity = identity("localhost");
    // Both sides configured from files, as `[sip.tls]` would: cert + key for the server, a CA file for the client.
    let files = tls::PemFiles {
        cert: temp_file("cert", &server_identity.cert_pem),
        key: temp_file("key", &server_identity.key_pem),
    };
    let server_config = TransportConfig {
        tls_listen: Some(TlsListen { addr: loopback(), server: tls::server_config(&files).expect("server config") }),
        ..TransportConfig::new(loopback())
    };
    let (server, mut server_inbound) =
        SipTransport::bind_with(server_config, CancellationToken::new()).await.expect("bind server");
    let private_trunk =
        tls::TlsClientOptions { webpki_roots: false, ca_files: vec![files.cert.clone()], client_identity: None };
    let client_config = TransportConfig {
        tls_client: Some(tls::client_config(&private_trunk).expect("client config")),
        ..TransportConfig::new(loopback())
    };
    let (client, mut client_inbound) =
        SipTransport::bind_with(client_config, CancellationToken::new()).await.expect("bind client");
    let _ = std::fs::remove_file(&files.cert);
    let _ = std::fs::remove_file(&files.key);
    let tls_addr = server.tls_local_addr().expect("TLS listener");
    assert_eq!(server.local_port(SipProtocol::Tls), tls_addr.port());

    let peer = client.route(SipProtocol::Tls, tls_addr, "localhost").expect("route");
    assert_eq!(peer.transport, TransportKind::Tcp);
    assert_eq!(client.protocol(&peer), SipProtocol::Tls);
    client.send(Transmit { peer, bytes: OPTIONS.to_vec() });
    client.send(Transmit { peer, bytes: OPTIONS.to_vec() });
    assert_eq!(client.tcp_connections(), 1, "the second request waits on the first one's connection");

    let first = next(&mut server_inbound).await;
    let second = next(&mut server_inbound).await;
    assert_eq!(first.bytes, OPTIONS);
    assert_eq!(second.bytes, OPTIONS);
    assert_eq!(first.peer, second.peer, "one connection");
    assert_eq!(server.protocol(&first.peer), SipProtocol::Tls);

    server.send(Transmit { peer: first.peer, bytes: REPLY.to_vec() });
    let answer = next(&mut client_inbound).await;
    assert_eq!(answer.bytes, REPLY);
    assert_eq!(answer.peer.addr, tls_addr);
    assert_eq!(client.protocol(&answer.peer), SipProtocol::Tls);
    assert_eq!(answer.peer.connection.map(|_| ()), Some(()), "answers arrive on the connection");
}

/// Has a client transport that trusts `trusted_ca_pem` send to a bare TLS server presenting `server`, under the
/// name `name`, and returns how the server's side of the handshake ended.
async fn handshake_seen_by_server(server: &Identity, trusted_ca_pem: &str, name: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let server_addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(
        tls::server_config_from_pem(server.cert_pem.as_bytes(), server.key_pem.as_bytes()).expect("config"),
    );
    let (client, _client_inbound) = tls_client(trusted_ca_pem).await;
    let peer = client.route(SipProtocol::Tls, server_addr, name).expect("route");
    client.send(Transmit { peer, bytes: OPTIONS.to_vec() });

    let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept()).await.expect("in time").expect("accept");
    tokio::time::timeout(PATIENCE, acceptor.accept(stream)).await.expect("in time").map(|_| ())
}

#[tokio::test]
async fn the_client_completes_the_handshake_with_a_server_it_trusts() {
    let server = identity("localhost");
    handshake_seen_by_server(&server, &server.cert_pem, "localhost").await.expect("handshake");
}

#[tokio::test]
async fn the_client_refuses_a_server_its_roots_do_not_vouch_for() {
    let impostor = identity("localhost");
    let trusted = identity("localhost");
    // Both certificates carry the same subject, so the client finds the "issuer" and fails its signature check.
    let err = handshake_seen_by_server(&impostor, &trusted.cert_pem, "localhost").await.expect_err("refused");
    assert!(err.to_string().contains("fatal alert"), "the client aborts with an alert: {err}");
}

#[tokio::test]
async fn the_client_refuses_a_certificate_for_another_name() {
    let server = identity("sip.other.example");
    let err = handshake_seen_by_server(&server, &server.cert_pem, "localhost").await.expect_err("refused");
    assert!(err.to_string().to_lowercase().contains("certificate"), "the client's alert names the certificate: {err}");
}

/// A destination routed with its own trust (a trunk's CA) is verified with it, whatever the transport's default
/// trusts; a connection that cannot be opened is reported, with the reason, to whoever asked for reports.
#[tokio::test]
async fn a_route_carries_its_own_trust_and_failed_connections_are_reported() {
    let server_identity = identity("trunk.example");
    let server_tls =
        tls::server_config_from_pem(server_identity.cert_pem.as_bytes(), server_identity.key_pem.as_bytes())
            .expect("server config");
    let server_config = TransportConfig {
        tls_listen: Some(TlsListen { addr: loopback(), server: server_tls }),
        ..TransportConfig::new(loopback())
    };
    let (server, mut server_inbound) =
        SipTransport::bind_with(server_config, CancellationToken::new()).await.expect("bind server");
    let tls_addr = server.tls_local_addr().expect("TLS listener");

    // The client's default trust is someone else's CA: only the route's own trust lets the handshake pass.
    let (failures_tx, mut failures) = mpsc::channel(4);
    let client_config = TransportConfig {
        tls_client: Some(
            tls::client_config_trusting_pem(identity("other.example").cert_pem.as_bytes()).expect("client"),
        ),
        stream_failures: Some(failures_tx),
        ..TransportConfig::new(loopback())
    };
    let (client, _client_inbound) =
        SipTransport::bind_with(client_config, CancellationToken::new()).await.expect("bind");

    let default_trust = client.route(SipProtocol::Tls, tls_addr, "trunk.example").expect("route");
    client.send(Transmit { peer: default_trust, bytes: OPTIONS.to_vec() });
    let refused = tokio::time::timeout(PATIENCE, failures.recv()).await.expect("in time").expect("a report");
    assert_eq!((refused.addr, refused.tls), (tls_addr, true));
    assert!(refused.reason.contains("TLS handshake failed"), "{}", refused.reason);

    let own_trust = tls::client_config_trusting_pem(server_identity.cert_pem.as_bytes()).expect("trunk CA");
    let peer = client.route_with(SipProtocol::Tls, tls_addr, "trunk.example", Some(own_trust)).expect("route");
    client.send(Transmit { peer, bytes: OPTIONS.to_vec() });
    assert_eq!(next(&mut server_inbound).await.bytes, OPTIONS, "verified with the route's own CA");

    // Nothing listens on a port just freed: the connect fails and is reported as plain TCP.
    let closed = TcpListener::bind(loopback()).await.expect("bind").local_addr().expect("addr");
    let peer = client.route(SipProtocol::Tcp, closed, "127.0.0.1").expect("route");
    client.send(Transmit { peer, bytes: OPTIONS.to_vec() });
    let failed = tokio::time::timeout(PATIENCE, failures.recv()).await.expect("in time").expect("a report");
    assert_eq!((failed.addr, failed.tls), (closed, false));
}

/// Reads from a server-side TLS stream until `wanted` bytes have arrived.
async fn read_exactly<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, wanted: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut bytes = vec![0; wanted];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut bytes)).await.expect("in time").expect("read");
    bytes
}

#[tokio::test]
async fn two_names_at_one_address_never_share_a_connection() {
    // One address (an SBC fronting two trunks) whose certificate is for a.example only.
    let server = identity("a.example");
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(
        tls::server_config_from_pem(server.cert_pem.as_bytes(), server.key_pem.as_bytes()).expect("config"),
    );
    let (failures_tx, mut failures) = mpsc::channel(8);
    let client_tls = tls::client_config_trusting_pem(server.cert_pem.as_bytes()).expect("client config");
    let config = TransportConfig {
        tls_client: Some(client_tls),
        stream_failures: Some(failures_tx),
        ..TransportConfig::new(loopback())
    };
    let (client, _inbound) = SipTransport::bind_with(config, CancellationToken::new()).await.expect("bind client");

    let a = client.route(SipProtocol::Tls, addr, "a.example").expect("route a");
    let b = client.route(SipProtocol::Tls, addr, "b.example").expect("route b");
    assert_ne!(a.connection, b.connection, "each name has a connection of its own");
    assert_eq!(client.route(SipProtocol::Tls, addr, "a.example").expect("route a again"), a, "reused per name");
    assert_eq!((client.protocol(&a), client.protocol(&b)), (SipProtocol::Tls, SipProtocol::Tls));

    // a.example's connection opens, verified for its name.
    client.send(Transmit { peer: a, bytes: OPTIONS.to_vec() });
    let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept()).await.expect("in time").expect("accept");
    let mut for_a = tokio::time::timeout(PATIENCE, acceptor.accept(stream)).await.expect("in time").expect("a");
    assert_eq!(read_exactly(&mut for_a, OPTIONS.len()).await, OPTIONS);

    // With it open, a message for b.example opens its own connection, which fails verification (the
    // certificate is not b.example's), instead of riding the connection verified for a.example.
    let for_b_only = b"OPTIONS sips:b@b.example SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    client.send(Transmit { peer: b, bytes: for_b_only.to_vec() });
    let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept()).await.expect("in time").expect("accept b");
    let refused = tokio::time::timeout(PATIENCE, acceptor.accept(stream)).await.expect("in time");
    assert!(refused.is_err(), "the client refused the certificate for b.example");
    let failure = tokio::time::timeout(PATIENCE, failures.recv()).await.expect("in time").expect("reported");
    assert!(failure.tls && failure.addr == addr, "{failure:?}");
    assert!(failure.reason.contains("TLS handshake failed"), "{failure:?}");

    // a.example's connection carried nothing of b.example's: the next bytes on it are a.example's next request.
    client.send(Transmit { peer: a, bytes: REPLY.to_vec() });
    assert_eq!(read_exactly(&mut for_a, REPLY.len()).await, REPLY);
}
