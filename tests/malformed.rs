//! Malformed and hostile SIP input, over UDP and TCP: every case gets the RFC's answer or is dropped, and the
//! server keeps serving afterwards. Cases draw on RFC 3261 and the torture tests of RFC 4475.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::Server;

/// What the server must do with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Status(u16),
    /// No response at all (dropped and logged).
    Silent,
}
use Expect::*;

struct Case {
    name: &'static str,
    /// Message text; `{via}` `{branch}` `{call}` `{host}` are filled in; `\n` becomes CRLF unless `raw`.
    text: String,
    expect: Expect,
    /// Sent exactly as written: no CRLF conversion, no Content-Length fix-up.
    raw: bool,
    /// A message sent first whose response is ignored (for merged-request detection).
    prelude: Option<String>,
    /// What TCP must do instead, where it differs: a stream whose message boundary cannot be known (a
    /// negative or conflicting Content-Length) is closed rather than answered.
    over_tcp: Option<Expect>,
}

fn case(name: &'static str, text: &str, expect: Expect) -> Case {
    Case { name, text: text.to_string(), expect, raw: false, prelude: None, over_tcp: None }
}

fn raw(name: &'static str, text: &str, expect: Expect) -> Case {
    Case { name, text: text.to_string(), expect, raw: true, prelude: None, over_tcp: None }
}

impl Case {
    fn over_tcp(mut self, expect: Expect) -> Case {
        self.over_tcp = Some(expect);
        self
    }
}

const OPTIONS: &str = "OPTIONS sip:echo@{host} SIP/2.0\nVia: {via}\nMax-Forwards: 70\n\
    From: <sip:t@test>;tag=ft\nTo: <sip:echo@{host}>\nCall-ID: {call}\nCSeq: 1 OPTIONS\n\n";

const SDP: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n";

fn invite(user: &str, extra_headers: &str, body: &str) -> String {
    let ct = if body.is_empty() { String::new() } else { "Content-Type: application/sdp\n".to_string() };
    format!(
        "INVITE sip:{user}@{{host}} SIP/2.0\nVia: {{via}}\nMax-Forwards: 70\nFrom: <sip:t@test>;tag=ft\n\
         To: <sip:{user}@{{host}}>\nCall-ID: {{call}}\nCSeq: 1 INVITE\nContact: <sip:t@127.0.0.1:9>\n\
         {extra_headers}{ct}\n{body}"
    )
}

fn options_with(replace: &str, with: &str) -> String {
    OPTIONS.replace(replace, with)
}

fn corpus() -> Vec<Case> {
    let mut cases = vec![
        case("valid OPTIONS", OPTIONS, Status(200)),
        raw("random bytes", "\u{1}\u{2}\u{3} garbage \u{7f}\r\n\r\n", Silent),
        raw("CRLF keep-alive", "\r\n\r\n", Silent),
        case("extra token in request line", &options_with("SIP/2.0\nVia", "SIP/2.0 extra\nVia"), Silent),
        case("SIP/3.0 version", &options_with(" SIP/2.0\nVia", " SIP/3.0\nVia"), Status(505)),
        case("missing Via", &options_with("Via: {via}\n", ""), Silent),
        case("missing From", &options_with("From: <sip:t@test>;tag=ft\n", ""), Status(400)),
        case("missing To", &options_with("To: <sip:echo@{host}>\n", ""), Status(400)),
        case("missing Call-ID", &options_with("Call-ID: {call}\n", ""), Status(400)),
        case("missing CSeq", &options_with("CSeq: 1 OPTIONS\n", ""), Status(400)),
        case("CSeq method mismatch", &options_with("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), Status(400)),
        case("CSeq not a number", &options_with("CSeq: 1 OPTIONS", "CSeq: one OPTIONS"), Status(400)),
        case("CSeq beyond 2^32", &options_with("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS"), Status(400)),
        case("Max-Forwards 0", &options_with("Max-Forwards: 70", "Max-Forwards: 0"), Status(483)),
        case("Max-Forwards not a number", &options_with("Max-Forwards: 70", "Max-Forwards: many"), Status(400)),
        case("unknown method", &options_with("OPTIONS sip", "FOO sip").replace("1 OPTIONS", "1 FOO"), Status(501)),
        case("lower-case method is an unknown extension", &options_with("OPTIONS sip", "options sip").replace("1 OPTIONS", "1 options"), Status(501)),
        case("SUBSCRIBE not allowed", &options_with("OPTIONS sip", "SUBSCRIBE sip").replace("1 OPTIONS", "1 SUBSCRIBE"), Status(405)),
        case("MESSAGE not allowed", &options_with("OPTIONS sip", "MESSAGE sip").replace("1 OPTIONS", "1 MESSAGE"), Status(405)),
        case("unsupported Require", &options_with("CSeq: 1 OPTIONS\n", "CSeq: 1 OPTIONS\nRequire: 100rel, foo\n"), Status(420)),
        case("supported Require timer", &options_with("CSeq: 1 OPTIONS\n", "CSeq: 1 OPTIONS\nRequire: timer\n"), Status(200)),
        raw(
            "Content-Length larger than body",
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\nshort",
            Silent,
        ),
        raw(
            "negative Content-Length",
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: -5\r\n\r\n",
            Status(400),
        )
        .over_tcp(Silent),
        raw(
            "duplicated Content-Length",
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
            Status(400),
        ),
        raw(
            "conflicting Content-Length",
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\nContent-Length: 4\r\n\r\nbody",
            Status(400),
        )
        .over_tcp(Silent),
        raw(
            "absurd Content-Length",
            "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\nTo: <sip:echo@{host}>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 99999999999999999999\r\n\r\n",
            Silent,
        ),
        case("INVITE without SDP", &invite("echo", "", ""), Status(488)),
        case("INVITE with garbage SDP", &invite("echo", "", "this is not sdp\n"), Status(488)),
        case("INVITE offering only video", &invite("echo", "", &SDP.replace("m=audio 4000 RTP/AVP 0", "m=video 4000 RTP/AVP 96")), Status(488)),
        case("INVITE offering only GSM", &invite("echo", "", &SDP.replace("RTP/AVP 0", "RTP/AVP 3")), Status(488)),
        case("OPTIONS to an http: URI", &options_with("OPTIONS sip:echo@{host}", "OPTIONS http://{host}/"), Status(416)),
        case("unknown Content-Encoding", &options_with("CSeq: 1 OPTIONS\n", "CSeq: 1 OPTIONS\nContent-Encoding: gzip\nContent-Type: application/sdp\n\nxx"), Status(415)),
        case("INVITE with a text/plain body", &invite("echo", "", SDP).replace("Content-Type: application/sdp", "Content-Type: text/plain"), Status(415)),
        case("INVITE to a tel: URI", &invite("echo", "", SDP).replace("INVITE sip:echo@{host}", "INVITE tel:+15551234"), Status(416)),
        case("INVITE to an unknown user", &invite("nobody", "", SDP), Status(404)),
        case("INVITE with too short Session-Expires", &invite("echo", "Session-Expires: 30\nSupported: timer\n", SDP), Status(422)),
        case("BYE for no dialog", &options_with("OPTIONS sip", "BYE sip").replace("1 OPTIONS", "1 BYE").replace("<sip:echo@{host}>\n", "<sip:echo@{host}>;tag=nosuch\n"), Status(481)),
        case("CANCEL for no transaction", &options_with("OPTIONS sip", "CANCEL sip").replace("1 OPTIONS", "1 CANCEL"), Status(481)),
        case("INFO outside a dialog", &options_with("OPTIONS sip", "INFO sip").replace("1 OPTIONS", "1 INFO"), Status(481)),
        case("stray ACK is absorbed", &options_with("OPTIONS sip", "ACK sip").replace("1 OPTIONS", "1 ACK"), Silent),
        case("header line without colon", &options_with("Max-Forwards: 70", "Max-Forwards 70"), Silent),
        case("header name with a space", &options_with("Max-Forwards: 70", "Max Forwards: 70"), Silent),
        case("oversize header", &options_with("Max-Forwards: 70", &format!("Max-Forwards: 70\nX-Big: {}", "a".repeat(40_000))), Silent),
        case("too many headers", &options_with("Max-Forwards: 70", &format!("Max-Forwards: 70\n{}", "X-H: 1\n".repeat(200).trim_end())), Silent),
        raw("non-UTF-8 header bytes", "OPTIONS sip:echo@{host} SIP/2.0\r\nVia: {via}\r\nX-Bad: {ff}{fe}\r\n\r\n", Silent),
        raw("stray response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", Silent),
        case("Via with wrong protocol version", &options_with("Via: {via}", "Via: SIP/1.0/UDP 127.0.0.1:9;branch=z9hG4bKx"), Silent),
        case("RFC 2543 Via without branch", &options_with(";branch={branch}", ""), Status(200)),
        case(
            "compact header forms",
            "OPTIONS sip:echo@{host} SIP/2.0\nv: {via}\nMax-Forwards: 70\nf: <sip:t@test>;tag=ft\nt: <sip:echo@{host}>\ni: {call}\nCSeq: 1 OPTIONS\n\n",
            Status(200),
        ),
        case("folded header line", &options_with("CSeq: 1 OPTIONS", "CSeq: 1\n   OPTIONS"), Status(200)),
        raw(
            "LF-only line ends",
            "OPTIONS sip:echo@{host} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: <sip:t@test>;tag=ft\nTo: <sip:echo@{host}>\nCall-ID: {call}\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
            Status(200),
        ),
        case("Request-URI without scheme", &options_with("OPTIONS sip:echo@{host}", "OPTIONS echo"), Silent),
        case("escaped quotes in display name", &options_with("From: <sip:t@test>;tag=ft", "From: \"J \\\"Rosenberg\\\\\\\"\" <sip:t@test>;tag=ft"), Status(200)),
        case("unusual header case", &options_with("Call-ID:", "cALL-iD:").replace("Max-Forwards", "mAX-fORWARDS"), Status(200)),
        case("whitespace around colons", &options_with("CSeq: 1 OPTIONS", "CSeq   :    1    OPTIONS"), Status(200)),
    ];
    let mut merged = case("merged request (same INVITE, new branch)", &invite("echo", "", SDP), Status(482));
    merged.prelude = Some(invite("echo", "", SDP));
    cases.push(merged);
    cases
}

fn fill(text: &str, via: &str, branch: &str, call: &str, host: &str, raw: bool) -> Vec<u8> {
    let filled = text.replace("{via}", via).replace("{branch}", branch).replace("{call}", call).replace("{host}", host);
    if raw {
        // `{ff}`/`{fe}` stand for bytes that cannot appear in a Rust string.
        let mut bytes = Vec::new();
        let mut rest = filled.as_str();
        while let Some(pos) = rest.find('{') {
            bytes.extend_from_slice(&rest.as_bytes()[..pos]);
            match rest.get(pos..pos + 4) {
                Some("{ff}") => bytes.push(0xff),
                Some("{fe}") => bytes.push(0xfe),
                _ => {
                    bytes.push(b'{');
                    rest = &rest[pos + 1..];
                    continue;
                }
            }
            rest = &rest[pos + 4..];
        }
        bytes.extend_from_slice(rest.as_bytes());
        return bytes;
    }
    let crlf = filled.replace('\n', "\r\n");
    let (head, body) = crlf.split_once("\r\n\r\n").unwrap_or((&crlf, ""));
    format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Reads responses until a final one (skipping 1xx) or the timeout.
fn final_status(mut next: impl FnMut(Duration) -> Option<Vec<u8>>, timeout: Duration) -> Option<u16> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next(left).and_then(|b| status_of(&b)) {
            Some(s) if s >= 200 => return Some(s),
            Some(_) => continue,
            None => return None,
        }
    }
    None
}

fn run_udp(server: &Server, case: &Case, index: usize) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let branch = format!("z9hG4bKudp{index}x{port}");
    let via = format!("SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport");
    let call = format!("malformed-udp-{index}-{port}");
    let host = server.sip.to_string();
    let mut buf = vec![0u8; 70_000];
    if let Some(prelude) = &case.prelude {
        let other_branch = format!("{branch}pre");
        let prelude_via = via.replace(&branch, &other_branch);
        socket.send_to(&fill(prelude, &prelude_via, &other_branch, &call, &host, false), server.sip).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        while socket.set_read_timeout(Some(Duration::from_millis(100))).is_ok() && socket.recv(&mut buf).is_ok() {}
    }
    socket.send_to(&fill(&case.text, &via, &branch, &call, &host, case.raw), server.sip).unwrap();
    final_status(
        |left| {
            socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
            let n = socket.recv(&mut buf).ok()?;
            Some(buf[..n].to_vec())
        },
        Duration::from_millis(700),
    )
}

fn run_tcp(server: &Server, case: &Case, index: usize) -> Option<u16> {
    let mut stream = TcpStream::connect(server.sip).unwrap();
    let port = stream.local_addr().unwrap().port();
    let branch = format!("z9hG4bKtcp{index}x{port}");
    let via = format!("SIP/2.0/TCP 127.0.0.1:{port};branch={branch};rport");
    let call = format!("malformed-tcp-{index}-{port}");
    let host = server.sip.to_string();
    let mut pending = Vec::new();
    if let Some(prelude) = &case.prelude {
        let other_branch = format!("{branch}pre");
        let prelude_via = via.replace(&branch, &other_branch);
        stream.write_all(&fill(prelude, &prelude_via, &other_branch, &call, &host, false)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let _ = stream.write_all(&fill(&case.text, &via, &branch, &call, &host, case.raw));
    final_status(
        |left| {
            // Responses may arrive several per read; split them by the status line.
            loop {
                if let Some(pos) = find_next_message(&pending) {
                    let message = pending[..pos].to_vec();
                    pending.drain(..pos);
                    return Some(message);
                }
                stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
                let mut buf = [0u8; 8192];
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        if pending.is_empty() {
                            return None;
                        }
                        return Some(std::mem::take(&mut pending));
                    }
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
        },
        Duration::from_millis(700),
    )
}

/// End of the first complete message in `buf` (header end plus Content-Length).
fn find_next_message(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(head_end + length)
}

fn check_corpus(transport: &str, run: fn(&Server, &Case, usize) -> Option<u16>) {
    let server = Server::start(&format!("malformed-{transport}"), "");
    let cases = corpus();
    assert!(cases.len() >= 40, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let got = match run(&server, case, index) {
            Some(status) => Status(status),
            None => Silent,
        };
        let expect = if transport == "tcp" { case.over_tcp.unwrap_or(case.expect) } else { case.expect };
        if got != expect {
            failures.push(format!("{}: expected {expect:?}, got {got:?}", case.name));
        }
    }
    // Still serving after all of it.
    assert_eq!(
        run(&server, &case("OPTIONS afterwards", OPTIONS, Status(200)), 999),
        Some(200),
        "server stopped answering"
    );
    assert!(common::http_get(server.http, "/health").is_some_and(|(s, _)| s == 200));
    assert!(
        failures.is_empty(),
        "{transport} corpus failures:\n{}\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );
}

#[test]
fn malformed_corpus_over_udp() {
    check_corpus("udp", run_udp);
}

#[test]
fn malformed_corpus_over_tcp() {
    check_corpus("tcp", run_tcp);
}
