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
