//! SRTP (SDES, RFC 4568) on SIP calls end to end. Real SIP stacks that insist on SRTP — pjsua2 with
//! `srtpUse = PJMEDIA_SRTP_MANDATORY` (over UDP, and over SIP over TLS) and baresip with
//! `mediaenc=srtp-mand` — call the `echo` service of a server with `[sip] srtp = "required"`, send speech,
//! record what comes back, and tests/peers/echo_check.py checks it is the same speech: the peer only plays
//! packets that authenticate under our key, and we only echo packets that authenticate under theirs. pjsua2
//! offering RTCP feedback (RTP/SAVPF, and RTP/AVPF in the clear) is answered in its own profile. Then the
//! policy's refusals: a plain RTP/AVP offer to `required` (sipp) and an RTP/SAVP offer to `off` get 488 Not
//! Acceptable Here with a Warning that says why. And calls we place through a trunk: an RTP/SAVP offer whose
//! media, played by a carrier in this test, authenticates under the key of the line the carrier answered, and
//! under `offer` a plain RTP/AVP offer after the carrier's 488.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::OWNER;
use common::{assert_sipp_ok, espeak_wav, free_port, repo_path, require_tool, sipp_template, test_dir, Server};

fn venv_python() -> std::path::PathBuf {
    let python = repo_path(".venv/bin/python");
    assert!(python.exists(), "{} missing: run scripts/setup.sh", python.display());
    python
}

/// The real peers' echo checks compare audio timing: one at a time, so that they do not starve each other of
/// the CPU (their jitter buffers and ours would turn that into choppy audio and a poor correlation).
static REAL_PEER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_real_peer_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    REAL_PEER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs tests/peers/pjsua_srtp_echo.py against `uri`; returns its output once it passed.
fn pjsua_srtp_echo(server: &Server, uri: &str, tls: bool) -> String {
    pjsua_echo_with(server, uri, &if tls { vec!["--tls"] } else { vec![] })
}

/// Runs tests/peers/pjsua_srtp_echo.py against `uri` with `flags` (`--tls`, `--avpf`, `--plain`); returns its
/// output once it passed.
fn pjsua_echo_with(server: &Server, uri: &str, flags: &[&str]) -> String {
    let _one = one_real_peer_at_a_time();
    require_tool("espeak-ng");
    require_tool("sox");
    let mut command = Command::new(venv_python());
    command.arg(repo_path("tests/peers/pjsua_srtp_echo.py")).arg(uri).arg(server.dir.join("pjsua")).args(flags);
    let out = command.output().expect("run pjsua_srtp_echo.py");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("OK"),
        "pjsua2 SRTP echo failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

/// What every SRTP echo call must show on the server: the call was SRTP, media flowed, nothing failed to
/// authenticate.
fn assert_srtp_call(server: &Server) {
    server.wait_for("the call to end", Duration::from_secs(10), |s| s.metric("voicera_calls_active") == 0.0);
    let log = server.log();
    assert!(log.contains("INVITE accepted") && !log.contains("srtp=\"none\"") && !log.contains("srtp=none"), "{log}");
    assert!(server.metric("voicera_rtp_packets_received_total") > 100.0, "{}", server.metrics());
    assert_eq!(server.metric("voicera_srtp_auth_failures_total"), 0.0, "{}", server.metrics());
}

const REQUIRED: &str = "[sip]\nsrtp = \"required\"\n";

#[test]
fn pjsua2_srtp_echo_both_ways() {
    let server = Server::start("srtp-pjsua", REQUIRED);
    let stdout = pjsua_srtp_echo(&server, &format!("sip:echo@{}", server.sip), false);
    println!("{stdout}");
    assert_srtp_call(&server);
}

/// A phone offering SRTP with RTCP feedback (RTP/SAVPF, `a=rtcp-fb:* nack`), as WebRTC-minded SIP phones do:
/// pjsua refuses an answer in any other profile (it used to get RTP/SAVP and hang up), so the call is
/// answered in RTP/SAVPF with our key, and the speech comes back through SRTP both ways.
#[test]
fn pjsua2_savpf_echo_both_ways() {
    let server = Server::start("srtp-pjsua-savpf", REQUIRED);
    let stdout = pjsua_echo_with(&server, &format!("sip:echo@{}", server.sip), &["--avpf"]);
    println!("{stdout}");
    assert!(stdout.contains("answer profile: RTP/SAVPF suites: AES_256_CM_HMAC_SHA1_80"), "{stdout}");
    assert_srtp_call(&server);
}

/// The same phone with SRTP off offers RTP/AVPF: the default server answers RTP/AVPF in the clear, and the
/// speech comes back.
#[test]
fn pjsua2_avpf_echo_both_ways() {
    let server = Server::start("pjsua-avpf", "");
    let stdout = pjsua_echo_with(&server, &format!("sip:echo@{}", server.sip), &["--avpf", "--plain"]);
    println!("{stdout}");
    assert!(stdout.contains("answer profile: RTP/AVPF suites: \n"), "{stdout}");
    server.wait_for("the call to end", Duration::from_secs(10), |s| s.metric("voicera_calls_active") == 0.0);
    assert!(server.metric("voicera_rtp_packets_received_total") > 100.0, "{}", server.metrics());
}

/// A certificate for `localhost` and 127.0.0.1, written as PEM files into `dir`.
fn certificate(dir: &std::path::Path) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("sip-cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("sip-key.pem"), certified.signing_key.serialize_pem()).unwrap();
}

/// SIP over TLS carries the keys, SRTP the audio: the deployment SDES is meant for.
#[test]
fn pjsua2_srtp_echo_over_sip_tls() {
    let dir = test_dir("sip-srtp-tls-certs");
    certificate(&dir);
    let config = format!(
        "{REQUIRED}\n[sip.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.join("sip-cert.pem").display(),
        dir.join("sip-key.pem").display()
    );
    let tls_addr = format!("127.0.0.1:{}", free_port());
    let server = Server::start_env("srtp-pjsua-tls", &config, false, &[("VOICERA_SIP_TLS", tls_addr.as_str())]);
    server.wait_for("the TLS listener", Duration::from_secs(10), |s| s.log().contains("SIP over TLS listening"));
    let stdout = pjsua_srtp_echo(&server, &format!("sip:echo@{tls_addr};transport=tls"), true);
    println!("{stdout}");
    assert_srtp_call(&server);
}

#[test]
fn baresip_srtp_echo_both_ways() {
    let server = Server::start("srtp-baresip", REQUIRED);
    baresip_srtp_echo(&server, &format!("sip:echo@{}", server.sip), "");
}

/// baresip over SIP over TLS (trusting the server's certificate as its CA) with mandatory SRTP.
#[test]
fn baresip_srtp_echo_over_sip_tls() {
    let dir = test_dir("sip-srtp-tls-baresip-certs");
    certificate(&dir);
    let config = format!(
        "{REQUIRED}\n[sip.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.join("sip-cert.pem").display(),
        dir.join("sip-key.pem").display()
    );
    let tls_addr = format!("127.0.0.1:{}", free_port());
    let server = Server::start_env("srtp-baresip-tls", &config, false, &[("VOICERA_SIP_TLS", tls_addr.as_str())]);
    server.wait_for("the TLS listener", Duration::from_secs(10), |s| s.log().contains("SIP over TLS listening"));
    let cafile = format!("sip_cafile {}\n", dir.join("sip-cert.pem").display());
    let log = baresip_srtp_echo(&server, &format!("sip:echo@{tls_addr};transport=tls"), &cafile);
    // The port dialled is the TLS listener's: only a TLS connection gets an answer there.
    assert!(log.contains(&format!("Call established: sip:echo@{tls_addr};transport=tls")), "{log}");
}

/// baresip with `mediaenc=srtp-mand` dials `uri` (with `extra_config` lines in its config), plays speech and
/// records what comes back; echo_check.py compares them, and the server saw a clean SRTP call. Returns
/// baresip's output.
fn baresip_srtp_echo(server: &Server, uri: &str, extra_config: &str) -> String {
    require_tool("baresip");
    require_tool("espeak-ng");
    require_tool("sox");
    let dir = server.dir.join("baresip");
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let (raw, speech) = (dir.join("raw.wav"), dir.join("speech.wav"));
    espeak_wav("Testing secure media with baresip. Seven eight nine ten.", &raw, &speech, (16000, 1), (0.3, 1.5));
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:0\naudio_player aufile,{out}\naudio_source aufile,{src}\n\
         audio_alert aufile,{out}\nmodule_path /usr/lib/baresip/modules\nmodule g722.so\nmodule aufile.so\n\
         module sndfile.so\nmodule srtp.so\nmodule_app account.so\nmodule_app menu.so\nsnd_path {rec}\n{extra_config}",
        out = dir.join("player.wav").display(),
        src = speech.display(),
        rec = dir.join("rec").display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), "<sip:bs@127.0.0.1>;regint=0;audio_codecs=G722/16000/1;mediaenc=srtp-mand\n")
        .unwrap();
    let one = one_real_peer_at_a_time();
    let out = Command::new("timeout")
        .args(["40", "baresip", "-f"])
        .arg(&dir)
        .args(["-e", &format!("/dial {uri}"), "-t", "9"])
        .current_dir(&dir)
        .output()
        .unwrap();
    drop(one);
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Call established"), "baresip did not connect:\n{log}\nserver log:\n{}", server.log());
    assert!(log.to_ascii_lowercase().contains("srtp"), "baresip says nothing of SRTP:\n{log}");
    let find = |suffix: &str| {
        std::fs::read_dir(dir.join("rec"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} dump in {}:\n{log}", dir.display()))
    };
    let (sent, received) = (find("-enc.wav"), find("-dec.wav"));
    let out = Command::new("python3")
        .arg(repo_path("tests/peers/echo_check.py"))
        .args([&sent, &received])
        .args(["G722/16000/1 over SRTP", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "baresip SRTP echo:\n{stdout}\nbaresip:\n{log}\nserver log:\n{}", server.log());
    println!("{stdout}");
    assert_srtp_call(server);
    log
}

/// `required`: sipp's plain RTP/AVP offer of a codec we speak gets 488.
#[test]
fn required_refuses_a_plain_offer_with_488() {
    let server = Server::start("srtp-required-488", REQUIRED);
    let out = sipp_template(&server, "reject.xml", &[("CODEC", "0"), ("EXPECT", "488")], &["-s", "echo", "-m", "1"]);
    assert_sipp_ok(&server, &out, "488 for RTP/AVP under srtp = required");
    assert_eq!(server.metric("voicera_calls_total{result=\"rejected\"}"), 1.0);
    let response = invite(&server, "RTP/AVP", "");
    assert!(response.starts_with("SIP/2.0 488 Not Acceptable Here\r\n"), "{response}");
    let warning = response.lines().find(|l| l.starts_with("Warning:")).unwrap_or_else(|| panic!("{response}"));
    assert!(warning.contains("SRTP is required"), "{warning}");
}

/// `off`: an RTP/SAVP offer gets 488 saying SRTP is off; `offer` (the default) answers it with SRTP, and
/// refuses with the reason what it cannot answer.
#[test]
fn off_refuses_an_srtp_offer_and_the_default_answers_it() {
    let crypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";
    let off = Server::start("srtp-off-488", "[sip]\nsrtp = \"off\"\n");
    let response = invite(&off, "RTP/SAVP", crypto);
    assert!(response.starts_with("SIP/2.0 488 Not Acceptable Here\r\n"), "{response}");
    assert!(response.lines().any(|l| l.starts_with("Warning:") && l.contains("SRTP is off")), "{response}");
    drop(off);
    let default = Server::start("srtp-offer-default", "");
    let response = invite(&default, "RTP/SAVP", crypto);
    assert!(response.starts_with("SIP/2.0 200 OK\r\n"), "{response}");
    assert!(response.contains("m=audio ") && response.contains(" RTP/SAVP 0"), "{response}");
    assert_eq!(response.matches("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:").count(), 1, "{response}");
    assert!(!response.contains("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"), "our own key, not the offer's");
    let unusable = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=4\r\n";
    let response = invite(&default, "RTP/SAVP", unusable);
    assert!(response.starts_with("SIP/2.0 488"), "{response}");
    assert!(response.contains("unsupported session parameter KDR=4"), "{response}");
    // WebRTC's DTLS keying and RTCP only on the RTP port: refused, saying which.
    let response = invite(&default, "UDP/TLS/RTP/SAVPF", "a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n");
    assert!(response.starts_with("SIP/2.0 488"), "{response}");
    assert!(response.contains("DTLS-SRTP (a=fingerprint, UDP/TLS/RTP/SAVPF) is not supported"), "{response}");
    let response = invite(&default, "RTP/SAVPF", &format!("{crypto}a=rtcp-mux\r\na=rtcp-mux-only\r\n"));
    assert!(response.starts_with("SIP/2.0 488"), "{response}");
    assert!(response.contains("a=rtcp-mux-only: RTCP multiplexed on the RTP port is not supported"), "{response}");
}

/// Sends one INVITE for `echo` with a PCMU offer under `profile` over UDP (retransmitted as a UDP client
/// does) and returns the final response.
fn invite(server: &Server, profile: &str, attributes: &str) -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let sdp = format!(
        "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} {profile} 0\r\n{attributes}",
        free_port()
    );
    let call_id = format!("srtp-{}-{}", local.port(), profile.replace('/', ""));
    let request = format!(
        "INVITE sip:echo@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{id};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@test>;tag=t1\r\nTo: <sip:echo@{server}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:t@{local}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        server = server.sip,
        id = local.port(),
    );
    let mut buf = [0u8; 4096];
    for _ in 0..10 {
        socket.send_to(request.as_bytes(), server.sip).unwrap();
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            let response = String::from_utf8_lossy(&buf[..n]).to_string();
            let status: u16 = response.get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0);
            if status >= 200 {
                if status == 200 {
                    // Hang up what we set up.
                    let to = response.lines().find(|l| l.starts_with("To:")).unwrap_or("To: <sip:echo@x>");
                    let bye = format!(
                        "BYE sip:echo@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbye{id};rport\r\n\
                         Max-Forwards: 70\r\nFrom: <sip:t@test>;tag=t1\r\n{to}\r\nCall-ID: {call_id}\r\n\
                         CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
                        server = server.sip,
                        id = local.port(),
                    );
                    socket.send_to(bye.as_bytes(), server.sip).unwrap();
                } else {
                    let to = response.lines().find(|l| l.starts_with("To:")).unwrap_or("To: <sip:echo@x>");
                    let ack = format!(
                        "ACK sip:echo@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{id};rport\r\n\
                         Max-Forwards: 70\r\nFrom: <sip:t@test>;tag=t1\r\n{to}\r\nCall-ID: {call_id}\r\n\
                         CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                        server = server.sip,
                        id = local.port(),
                    );
                    socket.send_to(ack.as_bytes(), server.sip).unwrap();
                }
                return response;
            }
        }
    }
    panic!("no final response to the INVITE\nserver log:\n{}", server.log());
}

/// `voicera call` through trunk `carrier` with the bench agent, in the background.
fn place_call(server: &Server) -> std::thread::JoinHandle<std::process::Output> {
    let http = server.http.to_string();
    std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_voicera"))
            .args(["call", "--agent", "bench", "--to", "+15551230000", "--trunk", "carrier", "--http", &http])
            .env(OWNER[0].0, OWNER[0].1)
            .env(OWNER[1].0, OWNER[1].1)
            .output()
            .unwrap()
    })
}

/// The value of header `name` in a SIP message.
fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
        .unwrap_or_else(|| panic!("no {name} in\n{message}"))
}

/// A carrier's SIP socket: receives requests (answering retransmissions of nothing), sends responses.
struct Carrier {
    sip: std::net::UdpSocket,
}

/// `recv_from`, again when a signal interrupted it (the peers this binary spawns send SIGCHLD).
fn recv(socket: &std::net::UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, std::net::SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl Carrier {
    fn bind() -> Carrier {
        let sip = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sip.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Carrier { sip }
    }

    fn port(&self) -> u16 {
        self.sip.local_addr().unwrap().port()
    }

    /// The next request of `method` (others, such as retransmissions, are skipped).
    fn request(&self, method: &str) -> (String, std::net::SocketAddr) {
        let mut buf = [0u8; 8192];
        loop {
            let (n, from) = recv(&self.sip, &mut buf).expect("a request from the server");
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with(&format!("{method} ")) {
                return (text, from);
            }
        }
    }

    fn respond(&self, request: &str, to: std::net::SocketAddr, status: &str, sdp: &str) {
        let content_type = if sdp.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
        let response = format!(
            "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=carrier\r\nCall-ID: {}\r\nCSeq: {}\r\n\
             Contact: <sip:carrier@127.0.0.1:{}>\r\n{content_type}Content-Length: {}\r\n\r\n{sdp}",
            header(request, "Via"),
            header(request, "From"),
            header(request, "To"),
            header(request, "Call-ID"),
            header(request, "CSeq"),
            self.port(),
            sdp.len()
        );
        self.sip.send_to(response.as_bytes(), to).unwrap();
    }
}

fn trunk_config(carrier: &Carrier, srtp: &str) -> String {
    format!("[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{}\"\nsrtp = \"{srtp}\"\n", carrier.port())
}

/// `required` on the trunk: our INVITE offers RTP/SAVP with a=crypto lines; the carrier answers one of them
/// with its own key; every packet we send authenticates under the answered line's key, the carrier's SRTP
/// reaches us (and a forged packet is counted and dropped).
#[test]
fn a_trunk_call_offers_srtp_and_its_media_is_srtp_both_ways() {
    use voicera_media::srtp::{CryptoAttribute, SrtpContext};
    use voicera_sip::sdp::SessionDescription;
    let carrier = Carrier::bind();
    let server = Server::start_env("srtp-trunk", &trunk_config(&carrier, "required"), false, &OWNER);
    let call = place_call(&server);
    let (invite, from) = carrier.request("INVITE");
    let offer = SessionDescription::parse(invite.split_once("\r\n\r\n").unwrap().1.as_bytes()).unwrap();
    let audio = offer.audio().unwrap();
    assert_eq!(audio.protocol, "RTP/SAVP", "{invite}");
    let offered: Vec<CryptoAttribute> = audio.crypto().collect();
    assert!(offered.len() >= 2 && offered.iter().all(|c| c.mki.is_none() && c.lifetime.is_none()), "{invite}");
    let ours = offered.iter().find(|c| c.suite.name() == "AES_CM_128_HMAC_SHA1_80").expect("SHA1_80 offered");
    let media = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    media.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let carrier_key = CryptoAttribute { key_salt: vec![9; 30], ..ours.clone() };
    let sdp = format!(
        "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na={}\r\n",
        media.local_addr().unwrap().port(),
        carrier_key.to_attribute()
    );
    carrier.respond(&invite, from, "200 OK", &sdp);
    carrier.request("ACK");
    let out = call.join().unwrap();
    assert!(out.status.success(), "voicera call: {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());

    // What we send: SRTP under the key of the line the carrier answered.
    let mut receive = SrtpContext::from_crypto(ours).unwrap();
    let mut buf = [0u8; 1500];
    let mut server_media = None;
    for _ in 0..20 {
        let (n, from) = recv(&media, &mut buf).expect("RTP from the server");
        server_media = Some(from);
        assert_eq!(receive.unprotect_rtp(&mut buf[..n]), Ok(n - 10), "our packet authenticates");
    }
    // What the carrier sends: SRTP under its key; one forgery among them.
    let mut send = SrtpContext::from_crypto(&carrier_key).unwrap();
    let to = server_media.unwrap();
    for seq in 0..60u16 {
        let mut packet = [0u8; 200];
        let h = voicera_media::rtp::write_rtp_header(&mut packet, seq == 0, 0, seq, u32::from(seq) * 160, 7);
        packet[h..h + 160].fill(0xff);
        let len = send.protect_rtp(&mut packet, h + 160).unwrap();
        if seq == 30 {
            packet[20] ^= 1;
        }
        media.send_to(&packet[..len], to).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_for("the packets counted", Duration::from_secs(5), |s| {
        s.metric("voicera_rtp_packets_received_total") >= 59.0
    });
    assert_eq!(server.metric("voicera_srtp_auth_failures_total"), 1.0, "{}", server.metrics());
    assert!(server.log().contains("srtp=\"AES_CM_128_HMAC_SHA1_80\""), "{}", server.log());
}

/// `offer` on the trunk: a carrier that refuses RTP/SAVP (488) gets the same INVITE again with RTP/AVP.
#[test]
fn a_trunk_call_under_offer_falls_back_to_rtp_after_488() {
    let carrier = Carrier::bind();
    let server = Server::start_env("srtp-trunk-fallback", &trunk_config(&carrier, "offer"), false, &OWNER);
    let call = place_call(&server);
    let (invite, from) = carrier.request("INVITE");
    assert!(invite.contains(" RTP/SAVP ") && invite.contains("a=crypto:"), "{invite}");
    carrier.respond(&invite, from, "488 Not Acceptable Here", "");
    carrier.request("ACK");
    let (again, from) = carrier.request("INVITE");
    assert!(again.contains(" RTP/AVP ") && !again.contains("a=crypto:"), "{again}");
    assert_eq!(header(&again, "Call-ID"), header(&invite, "Call-ID"));
    assert_eq!(header(&again, "CSeq"), "2 INVITE");
    let media = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sdp = format!(
        "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        media.local_addr().unwrap().port()
    );
    carrier.respond(&again, from, "200 OK", &sdp);
    carrier.request("ACK");
    let out = call.join().unwrap();
    assert!(out.status.success(), "voicera call: {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());
    let mut buf = [0u8; 1500];
    media.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, _) = recv(&media, &mut buf).expect("plain RTP from the server");
    assert_eq!(n, 172, "a plain PCMU packet, no SRTP tag");
}
