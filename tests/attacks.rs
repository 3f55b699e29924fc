//! The node attacked as a stranger on the internet would, in its default configuration unless a test says
//! otherwise: toll fraud by REFER, calls beyond the node's capacity, a port pair held by an `inactive` call, a
//! replayed digest answer, a media hijack from another port, and model inference asked of an agent by a caller
//! without credentials. Each attack fails; the node keeps serving.
//! A raw SIP client over UDP plays the attacker, so every byte on the wire is the test's own.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::Server;

/// A SIP user agent client on a UDP socket of its own, speaking raw messages.
struct Uac {
    socket: UdpSocket,
    /// The RTP socket its SDP offers name.
    media: UdpSocket,
    server: SocketAddr,
    port: u16,
}

/// What came back for one request: the final response's status, its text, and the To tag.
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.text.lines().find_map(|l| l.to_ascii_lowercase().starts_with(&prefix).then(|| l[prefix.len()..].trim()))
    }

    fn to_tag(&self) -> String {
        let to = self.header("To").unwrap_or_default();
        to.split(";tag=").nth(1).unwrap_or_default().split(';').next().unwrap_or_default().to_string()
    }

    /// The RTP port of the SDP answer.
    fn media_port(&self) -> u16 {
        let m = self.text.lines().find(|l| l.starts_with("m=audio ")).expect("an SDP answer");
        m.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Uac {
    fn new(server: &Server) -> Uac {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let media = UdpSocket::bind("127.0.0.1:0").unwrap();
        Uac { socket, media, server: server.sip, port }
    }

    fn send(&self, text: &str) {
        let crlf = text.replace('\n', "\r\n");
        let (head, body) = crlf.split_once("\r\n\r\n").unwrap_or((&crlf, ""));
        let message = format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        self.socket.send_to(message.as_bytes(), self.server).unwrap();
    }

    /// The next message from the server (request or response), if one comes within `timeout`.
    fn next(&self, timeout: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_536];
        self.socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).unwrap();
        let (n, _) = self.socket.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The final response to what was just sent (provisional ones skipped).
    fn final_response(&self, timeout: Duration) -> Option<Answer> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let text = self.next(left)?;
            let Some(status) = text.strip_prefix("SIP/2.0 ").and_then(|s| s.get(..3)).and_then(|s| s.parse().ok())
            else {
                continue;
            };
            if status >= 200 {
                return Some(Answer { status, text });
            }
        }
        None
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK{branch};rport", self.port)
    }

    fn invite(&self, user: &str, call: &str, branch: &str, sdp_extra: &str, extra_headers: &str) -> String {
        let host = self.server;
        format!(
            "INVITE sip:{user}@{host} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: <sip:caller@test>;tag=t{call}\n\
             To: <sip:{user}@{host}>\nCall-ID: {call}\nCSeq: 1 INVITE\nContact: <sip:caller@127.0.0.1:{port}>\n\
             {extra_headers}Content-Type: application/sdp\n\nv=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\n\
             t=0 0\nm=audio {media} RTP/AVP 0\n{sdp_extra}",
            via = self.via(branch),
            port = self.port,
            media = self.media.local_addr().unwrap().port(),
        )
    }

    /// An in-dialog request of the call `call` answered with To tag `tag`.
    fn in_dialog(&self, method: &str, user: &str, call: &str, tag: &str, cseq: u32, headers: &str) -> String {
        let host = self.server;
        format!(
            "{method} sip:{user}@{host} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: <sip:caller@test>;tag=t{call}\n\
             To: <sip:{user}@{host}>;tag={tag}\nCall-ID: {call}\nCSeq: {cseq} {method}\n\
             Contact: <sip:caller@127.0.0.1:{port}>\n{headers}\n",
            via = self.via(&format!("{call}{cseq}{method}")),
            port = self.port,
        )
    }

    /// Sends `request` and retransmits it as a UDP client does (RFC 3261 Timer A: 0.5 s, doubling) until a
    /// final response comes, within `timeout`.
    fn request(&self, request: &str, timeout: Duration) -> Option<Answer> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(500);
        loop {
            self.send(request);
            let left = deadline.checked_duration_since(Instant::now())?;
            if let Some(answer) = self.final_response(interval.min(left)) {
                return Some(answer);
            }
            interval = (interval * 2).min(Duration::from_secs(4));
        }
    }

    /// Calls `user`; returns the 200 OK (ACKed) or panics with what came instead.
    fn call(&self, user: &str, call: &str, sdp_extra: &str, headers: &str) -> Answer {
        let invite = self.invite(user, call, call, sdp_extra, headers);
        let answer = self.request(&invite, Duration::from_secs(10)).expect("an answer to the INVITE");
        assert_eq!(answer.status, 200, "{}", answer.text);
        self.send(&self.in_dialog("ACK", user, call, &answer.to_tag(), 1, ""));
        answer
    }

    fn hang_up(&self, user: &str, call: &str, tag: &str) {
        self.send(&self.in_dialog("BYE", user, call, tag, 3, ""));
        let _ = self.final_response(Duration::from_secs(2));
    }
}

/// A UDP socket standing in for a carrier: it records whether anything was sent to it.
fn carrier() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// Toll fraud: a stranger calls `echo` and asks the node by REFER to call a premium number through the
/// configured trunk (with its credentials). Refused with 403; not one packet reaches the trunk.
#[test]
fn an_unauthenticated_refer_is_refused_and_nothing_is_dialled() {
    let (trunk, trunk_port) = carrier();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n"
    );
    let server = Server::start("attack-refer", &config);
    let uac = Uac::new(&server);
    let answer = uac.call("echo", "refer-1", "", "");
    let tag = answer.to_tag();
    let refer_to = format!("Refer-To: <sip:+19005550123@127.0.0.1:{trunk_port}>\nReferred-By: <sip:caller@test>\n");
    for cseq in 2..5 {
        let refer = uac.in_dialog("REFER", "echo", "refer-1", &tag, cseq, &refer_to);
        let refused = uac.request(&refer, Duration::from_secs(10)).expect("an answer to the REFER");
        assert_eq!(refused.status, 403, "{}", refused.text);
    }
    trunk.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    let mut buf = [0u8; 2048];
    assert!(trunk.recv_from(&mut buf).is_err(), "an INVITE left the node for the trunk");
    assert!(server.log().contains("REFER refused"));
    uac.hang_up("echo", "refer-1", &tag);
}

/// Free inference for scanners: with `auth = "none"` (the default) an agent answers only callers on the
/// operator's own networks (`[sip] agent_sources`, loopback and private ranges unless configured) and the
/// trunks. Tests may only use loopback, so here the list leaves loopback out and 127.0.0.1 stands for an address
/// on the internet: its INVITE to an agent gets 403 naming what to change, before any port or model is taken,
/// and so does one to a name that is no agent (no 404 to enumerate agents by), while `echo` (no model) still
/// answers it. The same address is let in once it is a trunk's, over UDP only
/// with `trust_registrars_over_udp` (the rule digest authentication applies to trunks).
#[test]
fn an_unauthenticated_stranger_reaches_no_agent_but_echo_and_a_trunk_do() {
    let config = "[sip]\nagent_sources = [\"10.0.0.0/8\"]\n";
    let server = Server::start("attack-agent-strangers", config);
    let stranger = Uac::new(&server);
    let refused = stranger
        .request(&stranger.invite("bench", "stranger-bench", "sb1", "", ""), Duration::from_secs(10))
        .expect("an answer to the INVITE");
    assert_eq!(refused.status, 403, "{}", refused.text);
    let warning = refused.header("Warning").unwrap_or_default();
    assert!(warning.contains("sip.agent_sources") && warning.contains("sip.auth = 'digest'"), "{warning}");
    assert!(server.log().contains("INVITE refused: unauthenticated caller"), "{}", server.log());
    assert!(!server.log().contains("routing to agent"), "the agent was started:\n{}", server.log());
    assert_eq!(server.metric("voicera_calls_total{result=\"rejected\"}"), 1.0);
    // A name that is no agent gets the very same answer (not 404): a scanner cannot tell which names exist.
    let scanner = Uac::new(&server);
    let unknown = scanner
        .request(&scanner.invite("no-such-agent", "stranger-unknown", "su1", "", ""), Duration::from_secs(10))
        .expect("an answer to the INVITE");
    assert_eq!(
        (unknown.status, unknown.header("Warning")),
        (refused.status, refused.header("Warning")),
        "{}",
        unknown.text
    );
    assert_eq!(server.metric("voicera_calls_total{result=\"rejected\"}"), 2.0);
    // echo runs no model: open to everyone (the call caps bound it). A new socket: the 403 above is
    // retransmitted to the first one until its ACK, which a raw client does not send.
    let echo_caller = Uac::new(&server);
    let answer = echo_caller.call("echo", "stranger-echo", "", "");
    echo_caller.hang_up("echo", "stranger-echo", &answer.to_tag());

    // A trunk's address over UDP is no credential (a UDP source can be forged): a spoofer of the carrier's
    // address still gets 403, as digest authentication would refuse it, unless the operator trusts
    // registrars over UDP.
    let trunk = format!("{config}\n[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:9\"\n");
    let server = Server::start("attack-agent-trunk-udp", &trunk);
    server.wait_for("the trunk's address", Duration::from_secs(10), |s| s.log().contains("trunk registrar resolved"));
    let spoofer = Uac::new(&server);
    let refused = spoofer
        .request(&spoofer.invite("bench", "spoofed-trunk", "st1", "", ""), Duration::from_secs(10))
        .expect("an answer to the INVITE");
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(!server.log().contains("routing to agent"), "the agent was started:\n{}", server.log());

    // With the operator's say-so, the trunk's address reaches agents without being listed: the carrier's
    // calls to the operator's numbers.
    let trusted = trunk.replace("[sip]\n", "[sip]\ntrust_registrars_over_udp = true\n");
    let server = Server::start("attack-agent-trunk", &trusted);
    server.wait_for("the trunk's address", Duration::from_secs(10), |s| s.log().contains("trunk registrar resolved"));
    let carrier = Uac::new(&server);
    let answer = carrier.call("bench", "trunk-bench", "", "");
    carrier.hang_up("bench", "trunk-bench", &answer.to_tag());
    assert!(server.log().contains("routing to agent"), "{}", server.log());
}

/// Calls beyond `max_calls` are refused with 503 and Retry-After; the calls already up go on.
#[test]
fn calls_beyond_max_calls_get_503_with_retry_after_and_earlier_calls_go_on() {
    let server = Server::start("attack-capacity", "[sip]\nmax_calls = 2\n");
    let uac = Uac::new(&server);
    let first = uac.call("echo", "cap-1", "", "");
    let second = uac.call("echo", "cap-2", "", "");
    let refused = uac
        .request(&uac.invite("echo", "cap-3", "cap-3", "", ""), Duration::from_secs(10))
        .expect("an answer to the third INVITE");
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.header("Retry-After").is_some_and(|v| v.parse::<u32>().is_ok()), "{}", refused.text);
    // The first call still echoes RTP.
    let media = &uac.media;
    let to = SocketAddr::from(([127, 0, 0, 1], first.media_port()));
    let mut echoed = false;
    let mut buf = [0u8; 2048];
    media.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    for seq in 0..100u16 {
        let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        packet.extend((0..160).map(|i| if (i / 8) % 2 == 0 { 0x10 } else { 0x90 }));
        media.send_to(&packet, to).unwrap();
        if matches!(media.recv_from(&mut buf), Ok((172, _))) && buf[12..172].iter().any(|b| *b != 0xff) {
            echoed = true;
            break;
        }
    }
    assert!(echoed, "the first call no longer echoes");
    uac.hang_up("echo", "cap-1", &first.to_tag());
    uac.hang_up("echo", "cap-2", &second.to_tag());
    // Room again: a new call is taken.
    let third = uac.call("echo", "cap-4", "", "");
    uac.hang_up("echo", "cap-4", &third.to_tag());
}

/// An `a=inactive` call sends no media on purpose and would hold a port pair forever: with neither RTP nor
/// RTCP from the peer, the node hangs up at the hold timeout.
#[test]
fn an_inactive_call_is_hung_up_at_the_hold_timeout() {
    let server = Server::start("attack-inactive", "[sip]\nhold_timeout_secs = 10\n");
    let uac = Uac::new(&server);
    let started = Instant::now();
    let answer = uac.call("echo", "inactive-1", "a=inactive\n", "");
    assert!(answer.text.contains("a=inactive"), "{}", answer.text);
    let deadline = started + Duration::from_secs(20);
    let bye = loop {
        let left = deadline.checked_duration_since(Instant::now()).expect("no BYE within 20 s");
        match uac.next(left) {
            Some(text) if text.starts_with("BYE ") => break text,
            Some(_) => continue,
            None => panic!("no BYE within 20 s"),
        }
    };
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(10), "hung up after {waited:?}, before the hold timeout");
    // Answer the BYE so the node's transaction completes.
    let via = bye.lines().find(|l| l.starts_with("Via:")).unwrap_or_default();
    let headers: Vec<&str> =
        bye.lines().filter(|l| ["From:", "To:", "Call-ID:", "CSeq:"].iter().any(|h| l.starts_with(h))).collect();
    uac.send(&format!("SIP/2.0 200 OK\n{via}\n{}\n", headers.join("\n")));
    server.wait_for("the call's end", Duration::from_secs(5), |s| s.log().contains("RtpTimeout"));
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest answer captured from one INVITE and replayed on a new one is refused (the nonce count was used).
#[test]
fn a_replayed_digest_authorization_is_refused() {
    let config =
        "[sip]\nauth = \"digest\"\nrealm = \"voicera.test\"\n\n[[sip.users]]\nusername = \"alice\"\npassword = \"wonderland\"\n";
    let server = Server::start("attack-digest-replay", config);
    let uac = Uac::new(&server);
    let challenge =
        uac.request(&uac.invite("echo", "digest-1", "d1a", "", ""), Duration::from_secs(10)).expect("a challenge");
    assert_eq!(challenge.status, 401, "{}", challenge.text);
    let www = challenge.header("WWW-Authenticate").expect("WWW-Authenticate").to_string();
    let param = |name: &str| {
        www.split(',')
            .find_map(|p| p.trim().trim_start_matches("Digest ").strip_prefix(&format!("{name}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    let nonce = param("nonce").expect("a nonce");
    let uri = format!("sip:echo@{}", server.sip);
    let ha1 = md5_hex("alice:voicera.test:wonderland");
    let ha2 = md5_hex(&format!("INVITE:{uri}"));
    let authorization = if www.contains("qop") {
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
        format!(
            "Authorization: Digest username=\"alice\", realm=\"voicera.test\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\n"
        )
    } else {
        let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            "Authorization: Digest username=\"alice\", realm=\"voicera.test\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5\n"
        )
    };
    // The answer gets the next INVITE in (a new call: this client does not re-use the challenged one's CSeq).
    let admitted = uac.call("echo", "digest-1b", "", &authorization);
    uac.hang_up("echo", "digest-1b", &admitted.to_tag());
    // The same Authorization on a new INVITE (a new call): refused.
    let replay = uac
        .request(&uac.invite("echo", "digest-2", "d2a", "", &authorization), Duration::from_secs(10))
        .expect("an answer to the replay");
    assert_eq!(replay.status, 401, "a replayed Authorization was accepted:\n{}", replay.text);
}

/// A stranger who finds a call's RTP port and sends packets of the right payload type from another address
/// does not take the call's media: the caller keeps hearing its echo, the stranger hears nothing.
#[test]
fn a_media_hijack_from_another_port_is_ignored() {
    let server = Server::start("attack-hijack", "");
    let uac = Uac::new(&server);
    let answer = uac.call("echo", "hijack-1", "", "");
    let to = SocketAddr::from(([127, 0, 0, 1], answer.media_port()));
    // The caller's media comes from the port its SDP named.
    let caller = &uac.media;
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Drained without waiting, once per 20 ms: the call sends a packet every ptime (silence included).
    caller.set_nonblocking(true).unwrap();
    stranger.set_nonblocking(true).unwrap();
    let packet = |seq: u16, ssrc: u8, loud: bool| {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ssrc];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend((0..160).map(|i| {
            if loud && (i / 8) % 2 == 0 {
                0x10
            } else if loud {
                0x90
            } else {
                0xff
            }
        }));
        p
    };
    let mut buf = [0u8; 2048];
    let (mut stranger_heard, mut caller_heard_late) = (0, 0);
    // 2.5 s of the caller alone (the call is young: its first packets latch the media), then 2 s with the
    // stranger sending every 20 ms from its own port with its own SSRC.
    for seq in 0..225u16 {
        caller.send_to(&packet(seq, 42, true), to).unwrap();
        if seq >= 125 {
            stranger.send_to(&packet(1000 + seq, 7, true), to).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        while let Ok((n, _)) = caller.recv_from(&mut buf) {
            if seq >= 150 && n == 172 && buf[12..n].iter().any(|b| *b != 0xff) {
                caller_heard_late += 1;
            }
        }
        while stranger.recv_from(&mut buf).is_ok() {
            stranger_heard += 1;
        }
    }
    assert_eq!(stranger_heard, 0, "the stranger received the call's media");
    assert!(caller_heard_late > 20, "the caller stopped hearing its echo ({caller_heard_late} frames)");
    assert!(server.metric("voicera_rtp_unlatched_total") > 50.0, "{}", server.metrics());
    uac.hang_up("echo", "hijack-1", &answer.to_tag());
}

/// Options to a raw UDP client, for "does the node still answer": the status of its answer.
fn options_status(uac: &Uac, call: &str) -> Option<u16> {
    let host = uac.server;
    let options = format!(
        "OPTIONS sip:echo@{host} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sip:probe@test>;tag={call}\n\
         To: <sip:echo@{host}>\nCall-ID: {call}\nCSeq: 1 OPTIONS\n\n",
        uac.via(call)
    );
    uac.request(&options, Duration::from_secs(5)).map(|a| a.status)
}

/// The two load tests run one at a time: each measures the node under its own load, not the other's.
fn one_load_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOAD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOAD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 2,000 TCP connections that never send a message: the node keeps only its per-address cap of them open,
/// closes the rest at once, and still answers over UDP; once they go, TCP works again.
#[test]
fn two_thousand_idle_tcp_connections_are_capped_and_the_node_still_answers() {
    use std::io::{Read, Write};
    let _load = one_load_at_a_time();
    let server = Server::start("attack-tcp-idle", "");
    let started = Instant::now();
    let held: Vec<std::net::TcpStream> =
        (0..2000).filter_map(|_| std::net::TcpStream::connect(server.sip).ok()).collect();
    assert!(held.len() >= 1900, "only {} connections could be opened", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let mut open = 0;
    for stream in &held {
        stream.set_nonblocking(true).unwrap();
        match (&*stream).read(&mut [0u8; 16]) {
            Ok(0) => {}
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            _ => {}
        }
    }
    // The default per-address cap is 32 (sip.limits.max_connections_per_ip).
    assert!(open <= 32, "{open} idle connections from one address stay open");
    let uac = Uac::new(&server);
    assert_eq!(options_status(&uac, "idle-udp"), Some(200), "UDP still answered");
    assert!(started.elapsed() < Duration::from_secs(30), "the flood took {:?}", started.elapsed());
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut tcp = std::net::TcpStream::connect(server.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let host = server.sip;
    let options = format!(
        "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKidle1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@test>;tag=t1\r\nTo: <sip:echo@{host}>\r\nCall-ID: idle-tcp\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    tcp.write_all(options.as_bytes()).unwrap();
    let mut answer = [0u8; 2048];
    let n = tcp.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("SIP/2.0 200"), "TCP answers again");
}

/// A flood of 20,000 OPTIONS, each a new transaction: the node's CPU cost stays proportional (transactions on
/// a timer heap, not a scan of all of them per message), and a real call still sets up at once.
#[test]
fn a_unique_options_flood_costs_bounded_cpu_and_calls_still_set_up() {
    let _load = one_load_at_a_time();
    let server = Server::start("attack-options-flood", "");
    let flooder = Uac::new(&server);
    let before = server.cpu_time();
    let host = server.sip;
    for i in 0..20_000u32 {
        let call = format!("flood-{i}");
        let options = format!(
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKf{i}\r\nMax-Forwards: 70\r\n\
             From: <sip:f@test>;tag=f{i}\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            flooder.port
        );
        let _ = flooder.socket.send_to(options.as_bytes(), host);
        if i % 500 == 499 {
            // The answers are not read: let the kernel drop them rather than fill our buffer.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let caller = Uac::new(&server);
    let started = Instant::now();
    let answer = caller.call("echo", "after-flood", "", "");
    assert!(started.elapsed() < Duration::from_secs(5), "the call took {:?} to set up", started.elapsed());
    caller.hang_up("echo", "after-flood", &answer.to_tag());
    let used = server.cpu_time().saturating_sub(before);
    // A few tens of microseconds of work per OPTIONS; a quadratic scan of 20,000 live transactions would
    // take minutes.
    assert!(used < Duration::from_secs(8), "the flood cost {used:?} of CPU");
    println!("20,000 unique OPTIONS cost {used:?} of server CPU");
}

/// One HTTP/1.1 POST with these headers and a declared `content_type` ("" for none); the status and the whole
/// response (head and body).
fn post(addr: SocketAddr, path: &str, headers: &[(&str, String)], content_type: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !content_type.is_empty() {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status");
    (status, response)
}

/// Cross-site request forgery: a page on another site, open in the owner's browser, posts a call to the node
/// as `text/plain` or a form (kinds a browser sends cross-site without asking the node first) and relies on the
/// browser adding the owner's credentials. Refused with 415 before anything is dialled. And no refusal asks a
/// browser for a password: a `Basic` challenge would make the browser keep the owner's password and add it
/// by itself to every later request to the node, other sites' included.
#[test]
fn a_cross_site_post_places_no_call_and_no_refusal_asks_a_browser_for_a_password() {
    let (trunk, trunk_port) = carrier();
    let config = format!("[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\n");
    let server = Server::start_env("attack-csrf", &config, false, &common::api::OWNER);
    let owner = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        common::api::OWNER[0].1,
        common::api::OWNER[1].1
    ));
    let credentials = [("Authorization", format!("Basic {owner}")), ("Origin", "https://evil.example".into())];
    let call = r#"{"agent_id":"echo","customer_number":"+15550001111","trunk":"carrier"}"#;
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let (status, response) = post(server.http, "/outbound/call/", &credentials, content_type, call);
        assert_eq!(status, 415, "{content_type:?}: {response}");
        let (status, response) =
            post(server.http, "/browser/session", &credentials, content_type, r#"{"agent_id":"echo"}"#);
        assert_eq!(status, 415, "{content_type:?}: {response}");
    }
    trunk.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    let mut buf = [0u8; 2048];
    assert!(trunk.recv_from(&mut buf).is_err(), "an INVITE left the node for the trunk");
    // The same credentials with a JSON body are the owner's and reach the dialler (an unknown agent here).
    let (status, response) = post(
        server.http,
        "/outbound/call/",
        &credentials,
        "application/json; charset=utf-8",
        r#"{"agent_id":"nobody","customer_number":"+15550001111","trunk":"carrier"}"#,
    );
    assert_eq!(status, 404, "{response}");
    // Without credentials: 401, with a challenge no browser answers by asking for a password.
    for (path, body) in [("/outbound/call/", call), ("/browser/session", r#"{"agent_id":"echo"}"#)] {
        let (status, response) = post(server.http, path, &[], "application/json", body);
        assert_eq!(status, 401, "{path}: {response}");
        let head = response.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
        let challenge = head.lines().find_map(|l| l.strip_prefix("www-authenticate:")).map(str::trim);
        assert!(challenge.is_some_and(|c| !c.starts_with("basic")), "{path}: {challenge:?}");
    }
}

/// With digest authentication on, a trunk's registrar is let in by its address only where an address cannot be
/// forged: over TCP (a handshake proves it). Over UDP anyone can send from the registrar's address, so its
/// INVITEs are challenged like a stranger's, unless the operator says the network is trusted
/// (`trust_registrars_over_udp`).
#[test]
fn a_trunk_registrar_is_trusted_by_address_over_tcp_and_over_udp_only_when_configured() {
    use std::io::{Read, Write};
    let config = |udp: bool| {
        format!(
            "[sip]\nauth = \"digest\"\nrealm = \"voicera.test\"\ntrust_registrars_over_udp = {udp}\n\n\
             [[sip.users]]\nusername = \"alice\"\npassword = \"wonderland\"\n\n\
             [[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:9\"\n"
        )
    };
    let server = Server::start("attack-registrar-trust", &config(false));
    let uac = Uac::new(&server);
    let forged = uac
        .request(&uac.invite("echo", "udp-registrar", "ur1", "", ""), Duration::from_secs(10))
        .expect("an answer over UDP");
    assert_eq!(forged.status, 401, "an INVITE over UDP from the registrar's address skipped the challenge");

    // The same INVITE over TCP from that address: let in.
    let mut tcp = std::net::TcpStream::connect(server.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let invite = uac
        .invite("echo", "tcp-registrar", "tr1", "", "")
        .replace(&format!("SIP/2.0/UDP 127.0.0.1:{}", uac.port), &format!("SIP/2.0/TCP 127.0.0.1:{port}"))
        .replace('\n', "\r\n");
    let (head, body) = invite.split_once("\r\n\r\n").unwrap();
    tcp.write_all(format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 8192];
    let status = loop {
        let n = tcp.read(&mut buf).expect("an answer over TCP");
        assert!(n > 0, "the connection closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        let finals: Vec<&str> =
            seen.split("SIP/2.0 ").skip(1).map(|r| &r[..3]).filter(|s| !s.starts_with('1')).collect();
        if let Some(status) = finals.first() {
            break status.to_string();
        }
    };
    assert_eq!(status, "200", "{seen}");
    drop(tcp);

    let trusting = Server::start("attack-registrar-trust-udp", &config(true));
    let uac = Uac::new(&trusting);
    let answer = uac.call("echo", "udp-trusted", "", "");
    uac.hang_up("echo", "udp-trusted", &answer.to_tag());
}

/// A transfer a trusted peer asks for, to an allowed target behind a trunk: the node calls the target, but
/// answers its digest challenge with the trunk's credentials only when the trunk lends them to transfers
/// (`refer_credentials`); otherwise a trusted peer's REFER could spend the operator's account anywhere on it.
#[test]
fn a_trusted_refer_gets_the_trunks_credentials_only_when_the_trunk_lends_them() {
    for lend in [false, true] {
        let (target, target_port) = carrier();
        let config = format!(
            "[sip.refer]\ntrusted_peers = [\"127.0.0.1\"]\nallowed_targets = [\"127.0.0.1:{target_port}\"]\n\n\
             [[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{target_port}\"\nusername = \"1001\"\n\
             password = \"secret\"\nrefer_credentials = {lend}\n"
        );
        let server = Server::start(&format!("attack-refer-credentials-{lend}"), &config);
        let uac = Uac::new(&server);
        let call = format!("lend-{lend}");
        let answer = uac.call("echo", &call, "", "");
        let refer_to = format!("Refer-To: <sip:+15550001111@127.0.0.1:{target_port}>\n");
        let refer = uac.in_dialog("REFER", "echo", &call, &answer.to_tag(), 2, &refer_to);
        let accepted = uac.request(&refer, Duration::from_secs(10)).expect("an answer to the REFER");
        assert_eq!(accepted.status, 202, "{}", accepted.text);

        // The target challenges the node's INVITE, as a carrier does.
        target.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, node) = target.recv_from(&mut buf).expect("the transfer's INVITE");
        let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(invite.starts_with("INVITE ") && !invite.contains("Authorization:"), "{invite}");
        let header = |name: &str| {
            invite.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::trim)).unwrap_or_default()
        };
        let challenge = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=c1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
             WWW-Authenticate: Digest realm=\"carrier.test\", nonce=\"n-{lend}\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n",
            header("Via"),
            header("From"),
            header("To"),
            header("Call-ID"),
            header("CSeq")
        );
        target.send_to(challenge.as_bytes(), node).unwrap();
        // What the node sends next within 3 s: an ACK for the 401, and a second INVITE only if it may answer.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut answered_with = None;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            target.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
            let Ok((n, _)) = target.recv_from(&mut buf) else { break };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            if message.starts_with("INVITE ") {
                answered_with = message.lines().find(|l| l.starts_with("Authorization:")).map(str::to_string);
                break;
            }
        }
        if lend {
            let authorization = answered_with.expect("the trunk lends its credentials: the challenge is answered");
            assert!(authorization.contains("username=\"1001\""), "{authorization}");
        } else {
            assert_eq!(answered_with, None, "the trunk's credentials went to a transfer the trunk does not allow");
        }
    }
}
