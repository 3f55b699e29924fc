//! SIP over TLS end to end: the server, given a certificate in `[sip.tls]`, listens on `--sip-tls`; a client
//! that trusts that certificate (and only it) answers OPTIONS and sets up, and hangs up, a call to `echo`
//! over one verified TLS connection, with our Contact and Via naming TLS. A client that does not trust the
//! certificate cannot even connect.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{free_port, test_dir, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate for `localhost` and 127.0.0.1, written as PEM files into `dir`.
fn certificate(dir: &std::path::Path) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("sip-cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("sip-key.pem"), certified.signing_key.serialize_pem()).unwrap();
    certified.cert.pem()
}

/// Reads one SIP message (headers and a Content-Length body) from `stream`, with a timeout.
async fn read_message<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, pending: &mut Vec<u8>) -> String {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if pending.len() >= end + 4 + length {
                let message = String::from_utf8_lossy(&pending[..end + 4 + length]).to_string();
                pending.drain(..end + 4 + length);
                return message;
            }
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a SIP message within 5 s")
            .expect("the TLS connection stays up");
        assert!(n > 0, "the server closed the TLS connection");
        pending.extend_from_slice(&buf[..n]);
    }
}

/// The final response (provisional ones skipped).
async fn final_response<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, pending: &mut Vec<u8>) -> String {
    loop {
        let message = read_message(stream, pending).await;
        let status: u16 = message.get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0);
        if message.starts_with("SIP/2.0 ") && status >= 200 {
            return message;
        }
    }
}

fn message(text: &str) -> Vec<u8> {
    let crlf = text.replace('\n', "\r\n");
    let (head, body) = crlf.split_once("\r\n\r\n").unwrap_or((&crlf, ""));
    format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[test]
fn a_call_to_echo_over_verified_tls() {
    let dir = test_dir("sip-tls-certs");
    let ca = certificate(&dir);
    let tls_port = free_port();
    let config = format!(
        "[sip.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.join("sip-cert.pem").display(),
        dir.join("sip-key.pem").display()
    );
    let tls_addr = format!("127.0.0.1:{tls_port}");
    let server = Server::start_env("sip-tls", &config, false, &[("VOICERA_SIP_TLS", tls_addr.as_str())]);
    server.wait_for("the TLS listener", Duration::from_secs(10), |s| s.log().contains("SIP over TLS listening"));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let trusting = voicera_sip::tls::client_config_trusting_pem(ca.as_bytes()).unwrap();
        let name = voicera_sip::tls::server_name("localhost").unwrap();
        // A client trusting only the public roots refuses our self-signed certificate.
        let strangers = voicera_sip::tls::client_config(&voicera_sip::tls::TlsClientOptions::default()).unwrap();
        let tcp = tokio::net::TcpStream::connect(&tls_addr).await.unwrap();
        let refused = tokio_rustls::TlsConnector::from(strangers).connect(name.clone(), tcp).await;
        assert!(refused.is_err(), "a client without our certificate in its roots connected");

        let tcp = tokio::net::TcpStream::connect(&tls_addr).await.unwrap();
        let local_port = tcp.local_addr().unwrap().port();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::clone(&trusting)).connect(name, tcp).await.unwrap();
        let mut pending = Vec::new();
        let host = &tls_addr;
        let via = |branch: &str| format!("SIP/2.0/TLS 127.0.0.1:{local_port};branch=z9hG4bK{branch};rport");
        let options = format!(
            "OPTIONS sip:echo@{host} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sip:t@test>;tag=o1\n\
             To: <sip:echo@{host}>\nCall-ID: tls-options\nCSeq: 1 OPTIONS\n\n",
            via("opt1")
        );
        tls.write_all(&message(&options)).await.unwrap();
        let answer = final_response(&mut tls, &mut pending).await;
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");

        let media = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let media_port = media.local_addr().unwrap().port();
        let invite = format!(
            "INVITE sips:echo@{host} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sips:t@test>;tag=c1\n\
             To: <sips:echo@{host}>\nCall-ID: tls-call\nCSeq: 1 INVITE\n\
             Contact: <sip:t@127.0.0.1:{local_port};transport=tls>\nContent-Type: application/sdp\n\n\
             v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio {media_port} RTP/AVP 0\n",
            via("inv1")
        );
        tls.write_all(&message(&invite)).await.unwrap();
        let ok = final_response(&mut tls, &mut pending).await;
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        let contact = ok.lines().find(|l| l.starts_with("Contact:")).unwrap_or_default().to_string();
        assert!(contact.contains(";transport=tls") && contact.contains(&format!(":{tls_port}")), "{contact}");
        let tag = ok
            .lines()
            .find(|l| l.starts_with("To:"))
            .and_then(|l| l.split(";tag=").nth(1))
            .unwrap_or_default()
            .to_string();
        let in_dialog = |method: &str, cseq: u32, branch: &str| {
            format!(
                "{method} sips:echo@{host} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sips:t@test>;tag=c1\n\
                 To: <sips:echo@{host}>;tag={tag}\nCall-ID: tls-call\nCSeq: {cseq} {method}\n\n",
                via(branch)
            )
        };
        tls.write_all(&message(&in_dialog("ACK", 1, "ack1"))).await.unwrap();
        tls.write_all(&message(&in_dialog("BYE", 2, "bye1"))).await.unwrap();
        let bye = final_response(&mut tls, &mut pending).await;
        assert!(bye.starts_with("SIP/2.0 200") && bye.contains("CSeq: 2 BYE"), "{bye}");
    });
    server.wait_for("the call's end", Duration::from_secs(5), |s| s.log().contains("media ended"));
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of `name` in a Digest header (`name="v"` or `name=v`).
fn digest_param(header: &str, name: &str) -> Option<String> {
    header.trim_start_matches("Digest").split(',').find_map(|p| {
        let (key, value) = p.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"').to_string())
    })
}

/// A registrar that only speaks TLS (as a carrier that requires it), with the certificate written by
/// [`certificate`]: it challenges the first REGISTER with digest and answers the second with 200 when its
/// Authorization is right for user 1001, password "secret". Returns whether it did, and the REGISTERs' Vias.
async fn tls_registrar(listener: tokio::net::TcpListener, dir: std::path::PathBuf) -> (bool, Vec<String>) {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let cert = tokio_rustls::rustls::pki_types::CertificateDer::from_pem_file(dir.join("sip-cert.pem")).unwrap();
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("sip-key.pem")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut vias = Vec::new();
    let nonce = "tls-registrar-nonce";
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
        let mut pending = Vec::new();
        loop {
            let register = read_message(&mut tls, &mut pending).await;
            assert!(register.starts_with("REGISTER "), "{register}");
            let header = |name: &str| {
                register
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
                    .unwrap_or_default()
            };
            vias.push(header("Via"));
            let echo = format!(
                "Via: {}\r\nFrom: {}\r\nTo: {};tag=reg\r\nCall-ID: {}\r\nCSeq: {}\r\n",
                header("Via"),
                header("From"),
                header("To"),
                header("Call-ID"),
                header("CSeq")
            );
            let authorization = header("Authorization");
            if authorization.is_empty() {
                let challenge = format!(
                    "SIP/2.0 401 Unauthorized\r\n{echo}WWW-Authenticate: Digest realm=\"carrier.test\", \
                     nonce=\"{nonce}\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
                );
                tls.write_all(challenge.as_bytes()).await.unwrap();
                continue;
            }
            let uri = digest_param(&authorization, "uri").unwrap_or_default();
            let ha1 = md5_hex("1001:carrier.test:secret");
            let ha2 = md5_hex(&format!("REGISTER:{uri}"));
            let right = digest_param(&authorization, "username").as_deref() == Some("1001")
                && digest_param(&authorization, "response") == Some(md5_hex(&format!("{ha1}:{nonce}:{ha2}")));
            let answer = if right {
                format!(
                    "SIP/2.0 200 OK\r\n{echo}Contact: {};expires=60\r\nContent-Length: 0\r\n\r\n",
                    header("Contact")
                )
            } else {
                format!("SIP/2.0 403 Forbidden\r\n{echo}Content-Length: 0\r\n\r\n")
            };
            tls.write_all(answer.as_bytes()).await.unwrap();
            return (right, vias);
        }
    }
}

/// A trunk whose carrier requires TLS (`transport = "tls"`, its CA in `tls_ca`) registers over a verified TLS
/// connection through the carrier's digest challenge, and the node reports it registered.
#[test]
fn a_trunk_that_requires_tls_registers_over_verified_tls() {
    let dir = test_dir("sip-tls-registrar");
    certificate(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let registrar = runtime.spawn(tls_registrar(listener, dir.clone()));
    let config = format!(
        "[[trunks]]\nname = \"tls-carrier\"\nregistrar = \"127.0.0.1:{port}\"\ntransport = \"tls\"\n\
         tls_ca = \"{}\"\nusername = \"1001\"\npassword = \"secret\"\nregister = true\nexpires = 60\n",
        dir.join("sip-cert.pem").display()
    );
    let server = Server::start("sip-tls-register", &config);
    let (right, vias) = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), registrar).await })
        .expect("the node registers within 20 s")
        .unwrap();
    assert!(right, "the REGISTER's digest answer was wrong");
    assert!(vias.len() >= 2 && vias.iter().all(|v| v.starts_with("SIP/2.0/TLS ")), "{vias:?}");
    server.wait_for("registration", Duration::from_secs(10), |s| {
        s.metrics().contains("voicera_trunk_registered{trunk=\"tls-carrier\"} 1")
    });
}
