//! SIP over TLS end to end: the server, given a certificate in `[sip.tls]`, listens on `--sip-tls`; a client
//! that trusts that certificate (and only it) answers OPTIONS and sets up, and hangs up, a call to `echo`
//! over one verified TLS connection, with our Contact and Via naming TLS. A client that does not trust the
//! certificate cannot even connect. Then a real SIP stack: sipp over TLS (`sipp-tls`, built from
//! third_party/sipp by scripts/setup.sh) calls `echo` with audio, answers a digest challenge over TLS, and
//! plays a carrier that only speaks TLS, which the node dials through a `transport = "tls"` trunk.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::api::OWNER;
use common::{free_port, repo_path, test_dir, Server};
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

/// sipp with TLS: `sipp-tls` on the PATH or in Cargo's bin directory, where scripts/setup.sh builds it from
/// third_party/sipp (Debian's sipp has no TLS). Missing, the test says it is skipped and returns None — but
/// never in CI or under scripts/test.sh (`CI` or `VOICERA_REQUIRE_PEERS` set), where it must be there.
fn sipp_tls() -> Option<PathBuf> {
    let on_path = Command::new("sh")
        .args(["-c", "command -v sipp-tls"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let in_cargo_bin = cargo_home.map(|dir| dir.join("bin/sipp-tls")).filter(|path| path.is_file());
    if let Some(found) = on_path.or(in_cargo_bin) {
        return Some(found);
    }
    let required = std::env::var_os("CI").is_some() || std::env::var_os("VOICERA_REQUIRE_PEERS").is_some();
    assert!(!required, "sipp-tls is not installed: run scripts/setup.sh");
    eprintln!("skipped: sipp-tls is not installed (scripts/setup.sh builds it from third_party/sipp)");
    None
}

/// The sipp options naming its certificate and key (sipp loads both in client mode too) from `certificate`'s
/// files in `dir`.
fn sipp_certificate(dir: &Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    vec!["-tls_cert".into(), path("sip-cert.pem"), "-tls_key".into(), path("sip-key.pem")]
}

/// Runs sipp over TLS (`-t l1`) as a caller of `target` with `scenario` (a path), trusting only our
/// certificate (`-tls_ca`: sipp verifies the server's chain); returns its output. Its message log is in the
/// returned directory.
fn sipp_tls_call(sipp: &Path, server: &Server, target: &str, scenario: &Path, args: &[&str]) -> (Output, PathBuf) {
    // A port found free can be taken by another test before sipp binds it: then sipp exits at once, having
    // sent nothing, and a new port is tried.
    for attempt in 0.. {
        let port = free_port();
        let dir = server.dir.join(format!("sipp-tls-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("timeout")
            .arg("120")
            .arg(sipp)
            .arg(target)
            .arg("-sf")
            .arg(scenario)
            .args(["-t", "l1"])
            .args(sipp_certificate(&server.dir))
            .arg("-tls_ca")
            .arg(server.dir.join("sip-cert.pem"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
            .args(["-timeout", "60", "-nostdin", "-trace_err", "-trace_msg"])
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run sipp-tls");
        let raced = String::from_utf8_lossy(&out.stderr).contains("Address already in use");
        if !raced || attempt == 4 {
            return (out, dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    unreachable!("the loop returns")
}

/// Everything sipp wrote in `dir` (its message and error logs).
fn sipp_logs(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "log"))
        .map(|f| format!("== {}\n{}", f.path().display(), std::fs::read_to_string(f.path()).unwrap_or_default()))
        .collect()
}

fn assert_sipp_tls_ok(server: &Server, out: &Output, dir: &Path, what: &str) {
    assert!(
        out.status.code() == Some(0),
        "{what}: sipp-tls exit {:?}\nstdout:\n{}\nstderr:\n{}\n{}\nserver log:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        sipp_logs(dir),
        server.log()
    );
}

/// A server with a TLS listener on a free port, its certificate written into its directory; and that
/// listener's address.
fn tls_server(name: &str, extra_config: &str) -> (Server, String) {
    let certs = test_dir(&format!("{name}-certs"));
    certificate(&certs);
    let tls_addr = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "{extra_config}\n[sip.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        certs.join("sip-cert.pem").display(),
        certs.join("sip-key.pem").display()
    );
    let server = Server::start_env(name, &config, false, &[("VOICERA_SIP_TLS", tls_addr.as_str())]);
    server.wait_for("the TLS listener", Duration::from_secs(10), |s| s.log().contains("SIP over TLS listening"));
    // sipp reads the certificate from the server's directory (its -tls_ca, and its own -tls_cert/-tls_key).
    for file in ["sip-cert.pem", "sip-key.pem"] {
        std::fs::copy(certs.join(file), server.dir.join(file)).unwrap();
    }
    (server, tls_addr)
}

/// sipp over TLS calls `echo` (tests/sipp/basic_call.xml: INVITE, 2 s of PCMA speech from a pcap, BYE),
/// verifying our certificate: the call is set up and torn down over TLS, with our Via and Contact naming TLS,
/// and the echo carries the audio both ways.
#[test]
fn sipp_over_tls_calls_echo_with_audio_both_ways() {
    let Some(sipp) = sipp_tls() else { return };
    let (server, tls_addr) = tls_server("sipp-tls-echo", "");
    let scenario = repo_path("tests/sipp/basic_call.xml");
    let (out, dir) = sipp_tls_call(&sipp, &server, &tls_addr, &scenario, &["-s", "echo", "-m", "1"]);
    assert_sipp_tls_ok(&server, &out, &dir, "an echo call over TLS");
    server.wait_for("the call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);
    // sipp's pcap is about 2 s of PCMA; the echo sends a frame every 20 ms for the whole call.
    assert!(server.metric("voicera_rtp_packets_received_total") >= 50.0, "{}", server.metrics());
    assert!(server.metric("voicera_rtp_packets_sent_total") >= 100.0, "{}", server.metrics());
    let messages = sipp_logs(&dir);
    let tls_port = tls_addr.rsplit(':').next().unwrap_or_default();
    assert!(messages.contains("INVITE sip:echo@") && messages.contains("Via: SIP/2.0/TLS "), "{messages}");
    assert!(messages.contains(&format!(":{tls_port};transport=tls>")), "our Contact names TLS: {messages}");
}

const DIGEST_CONFIG: &str =
    "[sip]\nauth = \"digest\"\nrealm = \"voicera.test\"\n\n[[sip.users]]\nusername = \"alice\"\npassword = \"wonderland\"\n";

/// A node that demands digest authentication, over TLS: sipp answers the challenge with the right password
/// and its call goes through; with a wrong one it gets no call.
#[test]
fn sipp_over_tls_answers_a_digest_challenge_and_a_wrong_password_gets_no_call() {
    let Some(sipp) = sipp_tls() else { return };
    let (server, tls_addr) = tls_server("sipp-tls-digest", DIGEST_CONFIG);
    let scenario = repo_path("tests/sipp/invite_auth.xml");
    let (out, dir) = sipp_tls_call(&sipp, &server, &tls_addr, &scenario, &["-m", "1"]);
    assert_sipp_tls_ok(&server, &out, &dir, "an authenticated call over TLS");
    server.wait_for("the call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);

    // The scenario names its credentials itself: a copy with the wrong password.
    let wrong_scenario = server.dir.join("invite_wrong_password.xml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(text.contains("password=wonderland"), "the scenario's credentials moved");
    std::fs::write(&wrong_scenario, text.replace("password=wonderland", "password=not-the-password")).unwrap();
    let (out, dir) = sipp_tls_call(&sipp, &server, &tls_addr, &wrong_scenario, &["-m", "1", "-timeout", "10"]);
    let messages = sipp_logs(&dir);
    assert_ne!(out.status.code(), Some(0), "a wrong password got a call: {messages}");
    // It failed for the right reason: sipp connected, was challenged, and the node refused the INVITE that
    // carried the (wrong) credentials.
    assert!(
        refused_with_credentials(&messages),
        "no refusal of the INVITE with credentials:\n{messages}\n{}",
        server.log()
    );
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0, "no second call");
}

/// Whether sipp's message log shows the INVITE carrying `Authorization` (CSeq 2) sent over TLS and answered
/// 401 or 403 (sipp's log separates messages with a line of dashes).
fn refused_with_credentials(messages: &str) -> bool {
    let chunks: Vec<&str> = messages.split("-----------------------------------------------").collect();
    let sent = chunks.iter().any(|m| {
        m.contains("TLS message sent")
            && m.contains("INVITE sip:")
            && m.contains("Authorization: Digest")
            && m.contains("CSeq: 2 INVITE")
    });
    let refused = chunks.iter().any(|m| {
        m.contains("TLS message received")
            && (m.contains("SIP/2.0 401 ") || m.contains("SIP/2.0 403 "))
            && m.contains("CSeq: 2 INVITE")
    });
    sent && refused
}

/// Whether something listens on TCP `port` at 127.0.0.1 (/proc/net/tcp, state 0A). Read rather than probed:
/// sipp's TLS server exits on a connection that closes before the handshake.
fn listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
    })
}

/// The node dials a carrier that only speaks TLS (sipp over TLS with its own certificate, which the trunk's
/// `tls_ca` trusts): `voicera call` places the bench agent's call through the `transport = "tls"` trunk, which
/// answers the carrier's digest challenge over TLS; the carrier answers, sends 2 s of audio and hangs up
/// (tests/sipp/uas_digest.xml, its Contact naming TLS so the node's in-dialog requests stay on it).
#[test]
fn the_node_calls_out_through_a_trunk_that_only_speaks_tls() {
    let Some(sipp) = sipp_tls() else { return };
    let certs = test_dir("sipp-tls-carrier-certs");
    certificate(&certs);
    let scenario = std::fs::read_to_string(repo_path("tests/sipp/uas_digest.xml")).unwrap().replace(
        "Contact: <sip:callee@[local_ip]:[local_port]>",
        "Contact: <sip:callee@[local_ip]:[local_port];transport=tls>",
    );
    let carrier_dir = test_dir("sipp-tls-carrier-uas");
    std::fs::write(carrier_dir.join("uas_tls.xml"), scenario).unwrap();
    // The carrier listens before the node is told its port: wait until it does; a port found free can be
    // taken before sipp binds it (sipp then exits), so a new one is tried.
    let (carrier, trunk_port) = (0..5)
        .find_map(|_| {
            let port = free_port();
            let mut carrier = Command::new("timeout")
                .arg("60")
                .arg(&sipp)
                .args(["-sf", "uas_tls.xml", "-t", "l1"])
                .args(sipp_certificate(&certs))
                .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
                .args(["-m", "1", "-nostdin", "-trace_err", "-trace_msg"])
                .current_dir(&carrier_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                if listening(port) {
                    return Some((carrier, port));
                }
                if let Some(status) = carrier.try_wait().unwrap() {
                    let out = carrier.wait_with_output().unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(stderr.contains("Address already in use"), "the carrier exited ({status}): {stderr}");
                    return None;
                }
                assert!(std::time::Instant::now() < deadline, "the carrier never listened on {port}");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .expect("a free port for the carrier in 5 tries");
    let config = format!(
        "[bench]\nrecord = true\n\n[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\n\
         transport = \"tls\"\ntls_ca = \"{}\"\nusername = \"1001\"\npassword = \"secret\"\n",
        certs.join("sip-cert.pem").display()
    );
    let server = Server::start_env("sipp-tls-carrier", &config, false, &OWNER);
    let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["call", "--agent", "bench", "--to", "+15551230000", "--trunk", "carrier"])
        .args(["--http", &server.http.to_string()])
        .env("VOICERA_ADMIN_EMAIL", OWNER[0].1)
        .env("VOICERA_ADMIN_PASSWORD", OWNER[1].1)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "voicera call: {stdout} {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());
    assert!(stdout.contains("\"status\":\"success\""), "{stdout}");
    let finished = carrier.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "the carrier's scenario: {}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&finished.stderr),
        sipp_logs(&carrier_dir),
        server.log()
    );
    let messages = sipp_logs(&carrier_dir);
    let invites: Vec<&str> = messages.split("INVITE sip:").skip(1).collect();
    assert!(invites.len() >= 2, "a challenged INVITE and its answer: {messages}");
    assert!(invites.iter().all(|i| i.contains("Via: SIP/2.0/TLS ")), "INVITEs over TLS: {messages}");
    server.wait_for("the call record", Duration::from_secs(10), |s| !s.call_records().is_empty());
    let record = &server.call_records()[0];
    assert_eq!(
        (record["agent"].as_str(), record["called"].as_str()),
        (Some("bench"), Some("+15551230000")),
        "{record}"
    );
}
