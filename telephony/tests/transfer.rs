//! Blind transfer by REFER against a real peer: sipp calls `echo`, the service transfers the call to a
//! number, sipp accepts, reports success by NOTIFY sipfrag, and gets our BYE.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voicera_conversation::routing::{Destination, Router};
use voicera_media::metrics::Metrics;
use voicera_telephony::sip_rtp::{self, SipServiceConfig, TransferError};

struct EchoOnly;
impl Router for EchoOnly {
    fn route(&self, user: &str) -> Option<Destination> {
        (user == "echo").then_some(Destination::Echo)
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refer_transfers_the_caller_then_hangs_up() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("transfer");
    std::fs::create_dir_all(&dir).unwrap();
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let mut config = SipServiceConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
    let base = 44000 + (std::process::id() % 100) as u16 * 20;
    config.rtp_ports = (base, base + 19);
    let handle = sip_rtp::start(config, Arc::new(EchoOnly), metrics.clone(), shutdown.clone()).await.unwrap();

    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/sipp/refer.xml");
    let caller = Command::new("timeout")
        .args(["60", "sipp"])
        .arg(handle.local_addr.to_string())
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-m", "1", "-nostdin", "-trace_err"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp is installed (scripts/setup.sh)");

    let mut calls = Vec::new();
    for _ in 0..100 {
        calls = handle.calls().await;
        if !calls.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(calls.len(), 1, "the caller is connected");
    assert_eq!(
        handle.transfer(calls[0].clone(), "not a target".into()).await,
        Err(TransferError::BadTarget("not a target".into()))
    );
    handle.transfer(calls[0].clone(), "+15559990000".into()).await.expect("REFER accepted");
    let out = tokio::task::spawn_blocking(move || caller.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "sipp: {}", String::from_utf8_lossy(&out.stderr));
    assert!(handle.calls().await.is_empty(), "we left the call after the transfer");
    assert!(metrics.render().contains("voicera_calls_total{result=\"completed\"} 1"));
    assert_eq!(handle.transfer("gone".into(), "+1".into()).await, Err(TransferError::NoSuchCall("gone".into())));
    shutdown.cancel();
}
