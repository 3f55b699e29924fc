//! RFC strictness over real loopback sockets: the transport, the endpoint and a minimal user agent that answers
//! what `check_request` refuses and 200 to the rest, as the telephony crate does. Cases mirror the malformed-
//! message corpus (tests/malformed.rs) for what the sip crate decides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use voicera_sip::check::check_request;
use voicera_sip::transaction::TimerConfig;
use voicera_sip::transport::SipTransport;
use voicera_sip::{Endpoint, EndpointEvent, Response};

/// Binds a transport on loopback and runs a signalling loop that answers every request.
async fn start_user_agent(shutdown: CancellationToken) -> SocketAddr {
    let (transport, mut inbound) =
        SipTransport::bind("127.0.0.1:0".parse().unwrap(), shutdown.clone()).await.expect("bind loopback");
    let local = transport.local_addr();
    tokio::spawn(async move {
        let mut endpoint = Endpoint::new(TimerConfig::default(), "strictness-test");
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = inbound.recv() => received,
            };
            let Some(received) = received else { return };
            let now = Instant::now();
            endpoint.handle_input(&received.bytes, received.peer, now);
            while let Some(event) = endpoint.poll_event() {
                if let EndpointEvent::Request { key, request, .. } = event {
                    let mut response = match check_request(&request) {
                        Ok(()) => Response::for_request(&request, 200, "OK"),
                        Err(rejection) => rejection.response(&request),
                    };
                    response.ensure_to_tag("uas");
                    endpoint.respond(&key, response, now);
                }
            }
            flush(&transport, &mut endpoint);
        }
    });
    local
}

fn flush(transport: &Arc<SipTransport>, endpoint: &mut Endpoint) {
    while let Some(transmit) = endpoint.poll_transmit() {
        transport.send(transmit);
    }
}

fn options(via: &str, call: &str, extra: &str, body: &str, content_length: &str) -> String {
    format!(
        "OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:t@test>;tag=ft\r\n\
         To: <sip:echo@127.0.0.1>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\n{extra}{content_length}\r\n{body}"
    )
}

fn status(bytes: &[u8]) -> Option<u16> {
    std::str::from_utf8(bytes.get(8..11)?).ok()?.parse().ok()
}

/// Sends `text` over UDP and returns the first final response, if one comes within a second.
async fn udp_exchange(server: SocketAddr, text: impl Fn(&str, &str) -> String) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let via = format!("SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKstrict{port};rport");
    socket.send_to(text(&via, &format!("strict-{port}")).as_bytes(), server).await.unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await.ok()?.ok()?;
        let reply = String::from_utf8_lossy(&buf[..n]).to_string();
        if status(reply.as_bytes()).is_some_and(|s| s >= 200) {
            return Some(reply);
        }
    }
}

async fn read_reply(stream: &mut TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await.ok()?.ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).to_string())
}

#[tokio::test]
async fn udp_answers_bad_content_length_with_400_and_refusals_with_416_and_415() {
    let shutdown = CancellationToken::new();
    let server = start_user_agent(shutdown.clone()).await;
    let cases: [(&str, &str, &str, &str, u16); 6] = [
        ("negative", "", "", "Content-Length: -5\r\n", 400),
        ("duplicated", "", "", "Content-Length: 0\r\nContent-Length: 0\r\n", 400),
        ("conflicting", "", "abc", "Content-Length: 3\r\nl: 0\r\n", 400),
        ("gzip", "Content-Encoding: gzip\r\n", "", "Content-Length: 0\r\n", 415),
        ("valid", "", "", "Content-Length: 0\r\n", 200),
        ("absurd length is discarded", "", "", "Content-Length: 99999999999999999999\r\n", 0),
    ];
    for (name, extra, body, length, expected) in cases {
        let reply = udp_exchange(server, |via, call| options(via, call, extra, body, length)).await;
        let got = reply.as_deref().and_then(|r| status(r.as_bytes())).unwrap_or(0);
        assert_eq!(got, expected, "{name}: {reply:?}");
        if expected == 415 {
            assert!(reply.unwrap_or_default().contains("Accept-Encoding: identity\r\n"), "{name}");
        }
    }
    let http = udp_exchange(server, |via, call| {
        options(via, call, "", "", "Content-Length: 0\r\n").replacen("sip:echo@127.0.0.1", "http://127.0.0.1/", 1)
    })
    .await;
    assert_eq!(http.as_deref().and_then(|r| status(r.as_bytes())), Some(416), "{http:?}");
    let text_invite = udp_exchange(server, |via, call| {
        options(via, call, "Content-Type: text/plain\r\n", "hello", "Content-Length: 5\r\n")
            .replace("OPTIONS sip", "INVITE sip")
            .replace("1 OPTIONS", "1 INVITE")
    })
    .await
    .unwrap_or_default();
    assert!(text_invite.starts_with("SIP/2.0 415") && text_invite.contains("Accept: application/sdp\r\n"));
    shutdown.cancel();
}

#[tokio::test]
async fn tcp_closes_on_unframeable_lengths_and_answers_agreeing_repeats_with_400() {
    let shutdown = CancellationToken::new();
    let server = start_user_agent(shutdown.clone()).await;
    let connect = || async {
        let stream = TcpStream::connect(server).await.unwrap();
        let port = stream.local_addr().unwrap().port();
        (stream, format!("SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKtcp{port}"), format!("tcp-{port}"))
    };
    // Negative or conflicting: the message boundary is unknowable, so the connection is closed unanswered.
    for length in ["Content-Length: -5\r\n", "Content-Length: 3\r\nl: 0\r\n"] {
        let (mut stream, via, call) = connect().await;
        stream.write_all(options(&via, &call, "", "abc", length).as_bytes()).await.unwrap();
        assert_eq!(read_reply(&mut stream).await, None, "{length:?}");
    }
    // The same length twice frames fine: 400, and the connection keeps serving.
    let (mut stream, via, call) = connect().await;
    stream.write_all(options(&via, &call, "", "", "Content-Length: 0\r\nl: 0\r\n").as_bytes()).await.unwrap();
    let reply = read_reply(&mut stream).await.unwrap_or_default();
    assert!(reply.starts_with("SIP/2.0 400 Bad Request (Content-Length given more than once)"), "{reply}");
    let next =
        options(&via.replace("z9hG4bKtcp", "z9hG4bKnext"), &format!("{call}-2"), "", "", "Content-Length: 0\r\n");
    stream.write_all(next.as_bytes()).await.unwrap();
    let reply = read_reply(&mut stream).await.unwrap_or_default();
    assert!(reply.starts_with("SIP/2.0 200 OK"), "{reply}");
    shutdown.cancel();
}
