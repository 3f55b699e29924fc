//! End-to-end SIP calls against the real binary with sipp: basic calls over UDP and TCP, CANCEL, re-INVITE
//! hold/resume, rejections (404, 488), 20 sequential and 20 concurrent calls, trunk REGISTER with digest.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{assert_sipp_ok, free_port, repo_path, require_tool, sipp, sipp_template, Server};

#[test]
fn basic_echo_call_over_udp_exchanges_rtp_both_ways() {
    let server = Server::start("basic-udp", "");
    let out = sipp(&server, "basic_call.xml", &["-s", "echo", "-m", "1"]);
    assert_sipp_ok(&server, &out, "basic call");
    server.wait_for("call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);
    // sipp's pcap is about 2 s of PCMA; the echo sends a frame every 20 ms for the whole call.
    assert!(server.metric("voicera_rtp_packets_received_total") >= 50.0, "{}", server.metrics());
    assert!(server.metric("voicera_rtp_packets_sent_total") >= 100.0, "{}", server.metrics());
}

#[test]
fn basic_echo_call_over_tcp() {
    let server = Server::start("basic-tcp", "");
    let out = sipp(&server, "basic_call.xml", &["-s", "echo", "-m", "1", "-t", "t1"]);
    assert_sipp_ok(&server, &out, "basic call over TCP");
    server.wait_for("call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);
}

#[test]
fn cancel_while_ringing_gets_487() {
    let server = Server::start("cancel", "[sip]\nanswer_delay_ms = 3000\n");
    let out = sipp(&server, "cancel.xml", &["-m", "1"]);
    assert_sipp_ok(&server, &out, "CANCEL");
    assert_eq!(server.metric("voicera_calls_total{result=\"cancelled\"}"), 1.0);
    assert_eq!(server.metric("voicera_calls_active"), 0.0);
}

#[test]
fn reinvite_hold_and_resume() {
    let server = Server::start("hold", "");
    let out = sipp(&server, "reinvite_hold.xml", &["-m", "1"]);
    assert_sipp_ok(&server, &out, "re-INVITE hold");
}

#[test]
fn unknown_user_gets_404() {
    let server = Server::start("404", "");
    let out = sipp_template(&server, "reject.xml", &[("CODEC", "0"), ("EXPECT", "404")], &["-s", "nobody", "-m", "1"]);
    assert_sipp_ok(&server, &out, "404");
}

#[test]
fn no_common_codec_gets_488() {
    let server = Server::start("488", "");
    // Payload type 3 is GSM, which we do not offer.
    let out = sipp_template(&server, "reject.xml", &[("CODEC", "3"), ("EXPECT", "488")], &["-s", "echo", "-m", "1"]);
    assert_sipp_ok(&server, &out, "488");
    assert_eq!(server.metric("voicera_calls_total{result=\"rejected\"}"), 1.0);
}

#[test]
fn twenty_sequential_calls() {
    let server = Server::start("sequential", "");
    let out = sipp(&server, "basic_call.xml", &["-s", "echo", "-m", "20", "-l", "1"]);
    assert_sipp_ok(&server, &out, "20 sequential calls");
    server.wait_for("calls to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 20.0);
}

#[test]
fn twenty_concurrent_calls() {
    let server = Server::start("concurrent", "");
    let out = sipp(&server, "basic_call.xml", &["-s", "echo", "-m", "20", "-l", "20", "-r", "20"]);
    assert_sipp_ok(&server, &out, "20 concurrent calls");
    server.wait_for("calls to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 20.0);
}

#[test]
fn trunk_registers_through_a_digest_challenge() {
    require_tool("sipp");
    let registrar_port = free_port();
    let dir = common::test_dir("registrar");
    let registrar = Command::new("timeout")
        .args(["60", "sipp", "-sf"])
        .arg(repo_path("tests/sipp/registrar.xml"))
        .args(["-i", "127.0.0.1", "-p", &registrar_port.to_string(), "-m", "1", "-nostdin", "-trace_err"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let config = format!(
        "[[trunks]]\nname = \"t1\"\nregistrar = \"127.0.0.1:{registrar_port}\"\nusername = \"1001\"\n\
         password = \"secret\"\nregister = true\nexpires = 60\n"
    );
    let server = Server::start("register", &config);
    server.wait_for("registration", Duration::from_secs(20), |s| {
        s.metrics().contains("voicera_trunk_registered{trunk=\"t1\"} 1")
    });
    let out = registrar.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "registrar sipp: {}", String::from_utf8_lossy(&out.stderr));
    assert!(server.log().contains("trunk registered"));
}

#[test]
fn dtmf_by_rfc4733_and_sip_info_reaches_the_call() {
    let server = Server::start("dtmf", "");
    let out = sipp(&server, "dtmf.xml", &["-s", "echo", "-m", "1"]);
    assert_sipp_ok(&server, &out, "DTMF");
    server.wait_for("call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    // The call takes control (the INFO's digit) and reports its counters (RFC 4733 digits) at its next tick,
    // within a ptime of the BYE.
    server.wait_for("three DTMF digits heard and counted", Duration::from_secs(2), |s| {
        let log = s.log();
        s.metric("voicera_dtmf_events_total") == 3.0
            && log.contains("DTMF (RFC 4733) digit=1")
            && log.contains("DTMF (RFC 4733) digit=#")
            && log.contains("DTMF (SIP INFO) digit=5")
    });
}

const DIGEST_CONFIG: &str = "[sip]\nauth = \"digest\"\nrealm = \"voicera.test\"\n\n[[sip.users]]\nusername = \"alice\"\npassword = \"wonderland\"\n";

#[test]
fn digest_auth_admits_callers_with_the_right_password() {
    let server = Server::start("inbound-auth", DIGEST_CONFIG);
    let out = sipp(&server, "invite_auth.xml", &["-m", "1", "-au", "alice", "-ap", "wonderland"]);
    assert_sipp_ok(&server, &out, "authenticated call");
    server.wait_for("call to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);
}

#[test]
fn digest_auth_challenges_callers_without_credentials() {
    let server = Server::start("inbound-auth-401", DIGEST_CONFIG);
    let out = sipp_template(&server, "reject.xml", &[("CODEC", "0"), ("EXPECT", "401")], &["-s", "echo", "-m", "1"]);
    assert_sipp_ok(&server, &out, "401 without credentials");
}
