//! Graceful shutdown: on SIGTERM the node refuses new calls (OPTIONS 503, /health 503), keeps live calls for the
//! drain time, then sends BYE to the rest and exits 0.

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, repo_path, require_tool, Server};

fn options_status(server: &Server) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let message = format!(
        "OPTIONS sip:probe@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKprobe{port};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@test>;tag=p\r\nTo: <sip:probe@{sip}>\r\nCall-ID: probe-{port}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket.send_to(message.as_bytes(), server.sip).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n]).get(8..11)?.parse().ok()
}

#[test]
fn sigterm_drains_then_hangs_up_and_exits_zero() {
    require_tool("sipp");
    let mut server = Server::start("shutdown", "[server]\ndrain_secs = 2\n");
    assert_eq!(options_status(&server), Some(200));
    let caller = Command::new("timeout")
        .args(["60", "sipp"])
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(repo_path("tests/sipp/wait_for_bye.xml"))
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-s", "echo", "-m", "1", "-nostdin", "-trace_err"])
        .current_dir(&server.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for("the call", Duration::from_secs(10), |s| s.metric("voicera_calls_active") == 1.0);

    let signalled = Instant::now();
    server.signal("TERM");
    server.wait_for("draining", Duration::from_secs(2), |s| http_get(s.http, "/health").is_some_and(|(c, _)| c == 503));
    assert_eq!(options_status(&server), Some(503), "OPTIONS while draining");
    // The call survives the drain time, then gets a BYE that the caller answers.
    let out = caller.wait_with_output().unwrap();
    let hung_up_after = signalled.elapsed();
    assert_eq!(out.status.code(), Some(0), "caller: {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());
    assert!(hung_up_after >= Duration::from_millis(1800), "BYE came before the drain time: {hung_up_after:?}");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0), "exit code; log:\n{}", server.log());
    assert!(server.log().contains("drain time over: sending BYE"));
}

#[test]
fn idle_node_exits_promptly_on_sigint() {
    let mut server = Server::start("sigint", "");
    let started = Instant::now();
    server.signal("INT");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// `/metrics` moves to a private address when one is configured: the public port no longer serves it.
#[test]
fn metrics_can_be_served_on_a_private_address_only() {
    let private = std::net::SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let address = private.to_string();
    let server = common::Server::start_env("private-metrics", "", false, &[("VOICERA_METRICS", address.as_str())]);
    let public = common::http_get(server.http, "/metrics").expect("the public port answers");
    assert_eq!(public.0, 404, "the public port still serves /metrics");
    let (status, body) = common::http_get(private, "/metrics").expect("the metrics address answers");
    assert_eq!(status, 200);
    assert!(body.contains("voicera_calls_active"), "{body}");
    assert_eq!(common::http_get(server.http, "/health").map(|(s, _)| s), Some(200));
}
