//! The outbound UAC against a real peer: sipp plays a trunk that challenges the INVITE with digest auth (401),
//! answers, sends audio and hangs up. The call service runs in-process.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voicera_conversation::routing::{Destination, Router};
use voicera_media::metrics::Metrics;
use voicera_sip::transport::SipProtocol;
use voicera_telephony::sip_rtp::{self, OutboundRequest, PlaceCallError, SipServiceConfig, TrunkConfig};

struct NoRoutes;
impl Router for NoRoutes {
    fn route(&self, _user: &str) -> Option<Destination> {
        None
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn trunk(port: u16, password: &str) -> TrunkConfig {
    TrunkConfig {
        name: "sipp".into(),
        registrar: format!("127.0.0.1:{port}"),
        username: "1001".into(),
        password: password.into(),
        realm: None,
        register: false,
        expires: 300,
        transport: Some(SipProtocol::Udp),
        tls_ca: None,
        numbers: vec![],
        refer_credentials: false,
        srtp: None,
    }
}

fn start_sipp_uas(port: u16, dir: &std::path::Path) -> std::process::Child {
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/sipp/uas_digest.xml");
    Command::new("timeout")
        .args(["60", "sipp", "-sf"])
        .arg(scenario)
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &free_port().to_string(),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp is installed (scripts/setup.sh)")
}

async fn service(trunk: TrunkConfig, metrics: Arc<Metrics>, shutdown: CancellationToken) -> sip_rtp::SipServiceHandle {
    let mut config = SipServiceConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    let base = 40000 + (std::process::id() % 100) as u16 * 100;
    config.rtp_ports = (base, base + 50);
    config.trunks = vec![trunk];
    sip_rtp::start(config, Arc::new(NoRoutes), metrics, shutdown).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_through_a_digest_challenge() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("outbound-ok");
    std::fs::create_dir_all(&dir).unwrap();
    let sipp_port = free_port();
    let sipp = start_sipp_uas(sipp_port, &dir);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let handle = service(trunk(sipp_port, "secret"), metrics.clone(), shutdown.clone()).await;
    let request = OutboundRequest {
        trunk: "sipp".into(),
        to: "+15551230000".into(),
        from: None,
        ring_timeout: None,
        agent: None,
        variables: Vec::new(),
        amd: None,
    };
    let key = tokio::time::timeout(Duration::from_secs(20), handle.place_call(request)).await.unwrap();
    assert!(key.is_ok(), "{key:?}");
    let out = tokio::task::spawn_blocking(move || sipp.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "sipp UAS: {}", String::from_utf8_lossy(&out.stderr));
    // The callee hung up: the call ended cleanly and media flowed both ways.
    for _ in 0..50 {
        if metrics.active_calls() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = metrics.render();
    assert!(text.contains("voicera_calls_total{result=\"completed\"} 1"), "{text}");
    let received: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("voicera_rtp_packets_received_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(received > 20.0, "{text}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_reported_as_auth_failure() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("outbound-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let sipp_port = free_port();
    let sipp = start_sipp_uas(sipp_port, &dir);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shutdown = CancellationToken::new();
    let handle = service(trunk(sipp_port, "wrong"), Arc::new(Metrics::default()), shutdown.clone()).await;
    let request = OutboundRequest {
        trunk: "sipp".into(),
        to: "100".into(),
        from: Some("2000".into()),
        ring_timeout: None,
        agent: None,
        variables: Vec::new(),
        amd: None,
    };
    let result = tokio::time::timeout(Duration::from_secs(20), handle.place_call(request)).await.unwrap();
    assert_eq!(result, Err(PlaceCallError::Rejected { status: 403, reason: "Forbidden".into() }));
    let _ = tokio::task::spawn_blocking(move || sipp.wait_with_output()).await;
    let unknown = handle
        .place_call(OutboundRequest {
            trunk: "nope".into(),
            to: "1".into(),
            from: None,
            ring_timeout: None,
            agent: None,
            variables: Vec::new(),
            amd: None,
        })
        .await;
    assert_eq!(unknown, Err(PlaceCallError::UnknownTrunk("nope".into())));
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_call_is_cancelled_after_the_ring_timeout() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("outbound-cancel");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/sipp/uas_no_answer.xml");
    let sipp = Command::new("timeout")
        .args(["60", "sipp", "-sf"])
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m", "1", "-nostdin", "-trace_err"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp is installed (scripts/setup.sh)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let handle = service(trunk(port, "secret"), metrics, shutdown.clone()).await;
    let started = std::time::Instant::now();
    let request = OutboundRequest {
        trunk: "sipp".into(),
        to: "200".into(),
        from: None,
        ring_timeout: Some(Duration::from_millis(800)),
        agent: None,
        variables: Vec::new(),
        amd: None,
    };
    let result = tokio::time::timeout(Duration::from_secs(20), handle.place_call(request)).await.unwrap();
    assert_eq!(result, Err(PlaceCallError::NoAnswer));
    assert!(started.elapsed() >= Duration::from_millis(800));
    let out = tokio::task::spawn_blocking(move || sipp.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "sipp: {}", String::from_utf8_lossy(&out.stderr));
    shutdown.cancel();
}
