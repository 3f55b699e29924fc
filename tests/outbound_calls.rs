//! Outbound calls with an agent on the line, placed with `voicera call` against the running server: through a
//! SIP trunk played by sipp (digest challenge, answer, audio, BYE) and through a provider's REST API played by
//! the test (the request shape Vobiz documents). Only the owner may place calls. Also the transfers a PBX asks
//! of us by REFER, which place an outbound call of their own.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::api::OWNER;
use common::provider::fake_rest;
use common::{free_port, repo_path, require_tool, Server};

fn voicera_call(server: &Server, password: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voicera"))
        .arg("call")
        .args(args)
        .args(["--http", &server.http.to_string()])
        .env("VOICERA_ADMIN_EMAIL", OWNER[0].1)
        .env("VOICERA_ADMIN_PASSWORD", password)
        .output()
        .unwrap()
}

#[test]
fn the_bench_agent_calls_out_through_a_trunk() {
    require_tool("sipp");
    let trunk_port = free_port();
    let config = format!(
        "[bench]\nrecord = true\n\n[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n"
    );
    let server = Server::start_env("outbound-trunk", &config, false, &OWNER);
    let mut carrier = spawn_carrier(&server, trunk_port);
    std::thread::sleep(Duration::from_millis(300));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "+15551230000", "--trunk", "carrier"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "voicera call: {stdout} {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());
    assert!(stdout.contains("\"status\":\"success\"") && stdout.contains("call_id"), "{stdout}");
    assert!(carrier.wait().unwrap().success(), "the carrier's scenario completed");
    server.wait_for("the call record", Duration::from_secs(10), |s| !s.call_records().is_empty());
    let record = &server.call_records()[0];
    assert_eq!(record["agent"], "bench");
    assert_eq!(record["called"], "+15551230000");
    assert_eq!(record["caller"], "1001");
}

/// sipp plays a carrier on `port`: it challenges the INVITE (401, user 1001 / password secret), answers,
/// sends audio for 2 s and hangs up (tests/sipp/uas_digest.xml).
fn spawn_carrier(server: &Server, port: u16) -> std::process::Child {
    spawn_callee(server, port, "uas_digest.xml")
}

/// sipp plays the far end of an outbound call on `port` with `scenario` (in tests/sipp), once.
fn spawn_callee(server: &Server, port: u16, scenario: &str) -> std::process::Child {
    let dir = server.dir.join(format!("carrier-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new("timeout")
        .args(["60", "sipp", "-sf"])
        .arg(repo_path(&format!("tests/sipp/{scenario}")))
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
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The callee plays early media (183 with SDP, an announcement) before answering: we listen from the 183 on,
/// send nothing, and the agent starts at the answer on the same media session.
#[test]
fn early_media_is_heard_before_the_answer_and_the_call_goes_on() {
    require_tool("sipp");
    let trunk_port = free_port();
    let config =
        format!("[bench]\nrecord = true\n\n[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\n");
    let server = Server::start_env("outbound-early", &config, false, &OWNER);
    let mut callee = spawn_callee(&server, trunk_port, "uas_early_media.xml");
    std::thread::sleep(Duration::from_millis(300));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "+15551230001", "--trunk", "carrier"]);
    assert!(out.status.success(), "voicera call: {}\n{}", String::from_utf8_lossy(&out.stdout), server.log());
    assert!(callee.wait().unwrap().success(), "the callee's scenario completed");
    server.wait_for("the call record", Duration::from_secs(10), |s| !s.call_records().is_empty());
    let log = server.log();
    assert!(log.contains("early media: listening until the answer"), "{log}");
    let heard: u64 = log
        .lines()
        .find(|l| l.contains("answered after early media"))
        .and_then(|l| l.split("early_packets=").nth(1))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no answer after early media in the log:\n{log}"));
    // 1.5 s of announcement at 50 packets/s before the 200 OK (sipp starts playing a little late).
    assert!(heard >= 25, "only {heard} early-media packets heard");
    assert_eq!(server.call_records()[0]["called"], "+15551230001");
}

/// Early media then 486 Busy Here: the call fails with the callee's status, its listening task stops, and no
/// BYE is sent for the early dialog (the callee's scenario fails on one).
#[test]
fn early_media_then_busy_fails_the_call_without_a_bye() {
    require_tool("sipp");
    let trunk_port = free_port();
    let config = format!("[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\n");
    let server = Server::start_env("outbound-early-busy", &config, false, &OWNER);
    let mut callee = spawn_callee(&server, trunk_port, "uas_early_then_busy.xml");
    std::thread::sleep(Duration::from_millis(300));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "+15551230002", "--trunk", "carrier"]);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && printed.contains("486"), "voicera call: {printed}");
    assert!(callee.wait().unwrap().success(), "no BYE for the early dialog\n{}", server.log());
    let log = server.log();
    assert!(log.contains("early media: listening until the answer"), "{log}");
    server.wait_for("the early-media task to stop", Duration::from_secs(5), |s| s.log().contains("media ended"));
    assert!(server.call_records().is_empty(), "an unanswered call has no record");
}

/// A PBX transfers its call with us (REFER, RFC 3515): we accept, call the Refer-To target directly with the
/// credentials of the trunk it belongs to, report `100 Trying` and then `200 OK` by NOTIFY, and leave the
/// PBX's call (tests/sipp/refer_us.xml); the target's call runs echo until the target hangs up.
#[test]
fn a_refer_we_receive_is_carried_out_and_reported_by_notify() {
    require_tool("sipp");
    let trunk_port = free_port();
    // The PBX (sipp on loopback) is a trusted peer, the target's host allowed, and the trunk lends its
    // credentials to REFERs: none of this is the default (see tests/attacks.rs).
    let config = format!(
        "[sip.refer]\ntrusted_peers = [\"127.0.0.1\"]\nallowed_targets = [\"127.0.0.1:{trunk_port}\"]\n\n\
         [[trunks]]\nname = \"pbx\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\
         refer_credentials = true\n"
    );
    let server = Server::start_with("refer-us", &config, false);
    let mut target = spawn_carrier(&server, trunk_port);
    std::thread::sleep(Duration::from_millis(300));
    let refer_to = format!("sip:+15550001111@127.0.0.1:{trunk_port}");
    let out = common::sipp(&server, "refer_us.xml", &["-key", "target", &refer_to, "-m", "1"]);
    common::assert_sipp_ok(&server, &out, "the transfer is reported and the PBX's call left");
    assert!(target.wait().unwrap().success(), "the target was called with the trunk's credentials and answered");
    let log = server.log();
    assert!(log.contains("carrying out REFER"), "{log}");
}

#[test]
fn a_provider_call_asks_the_provider_to_fetch_the_agents_answer_url() {
    let (api_port, requests) =
        fake_rest(1, |_| (201, r#"{"api_id":"x","request_uuid":"req-77","message":"Call fired"}"#.into()));
    let config = format!(
        "[telephony.vobiz]\nauth_id = \"MA_T\"\nauth_token = \"tok\"\napi_base = \"http://127.0.0.1:{api_port}/api/v1\"\n"
    );
    let server = Server::start_env("outbound-provider", &config, false, &OWNER);
    let out = voicera_call(
        &server,
        OWNER[1].1,
        &["--agent", "bench", "--to", "+919876543210", "--from", "+918000000001", "--provider", "vobiz"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", server.log());
    assert!(stdout.contains("req-77"), "{stdout}");
    let request = &requests.join().unwrap()[0];
    assert!(request.starts_with("POST /api/v1/Account/MA_T/Call/ HTTP/1.1"), "{request}");
    assert!(request.contains("x-auth-id: MA_T") || request.contains("X-Auth-ID: MA_T"), "{request}");
    let body: serde_json::Value = serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["to"], "+919876543210");
    assert_eq!(body["from"], "+918000000001");
    assert_eq!(
        body["answer_url"],
        format!("http://{}/telephony/vobiz/answer?agent_id=bench&direction=outbound", server.http)
    );
}

#[test]
fn only_the_owner_places_calls_and_mistakes_are_named() {
    let server = Server::start_env("outbound-auth", "", false, &OWNER);
    let out = voicera_call(&server, "wrong", &["--agent", "bench", "--to", "100", "--trunk", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("owner credentials required"));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "nobody", "--to", "100", "--trunk", "x"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#"no agent \"nobody\""#));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "1; DROP", "--trunk", "x"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a phone number"));
    let out = voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "100", "--trunk", "nope"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no trunk named"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out =
        voicera_call(&server, OWNER[1].1, &["--agent", "bench", "--to", "100", "--provider", "vobiz", "--from", "1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no vobiz account"));
    // A server without an owner account places nothing.
    let bare = Server::start("outbound-no-owner", "");
    let out = voicera_call(&bare, OWNER[1].1, &["--agent", "bench", "--to", "100", "--trunk", "x"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no owner account"));
}

/// `voicera numbers`, as the original's console did: an application with this node's answer URL for the
/// agent, and the number attached to it — against a fake Vobiz API.
#[test]
fn numbers_attach_creates_the_agents_application_and_links_the_number() {
    let (port, requests) = fake_rest(3, |request| {
        if request.starts_with("POST /api/v1/Account/MA_VOBIZ/Application/ ") {
            (201, r#"{"api_id":"a","app_id":"app-42","message":"created"}"#.into())
        } else if request.starts_with("GET ") {
            (200, r#"{"items":[{"e164":"+918000000001","application_id":"app-42"}]}"#.into())
        } else {
            (202, r#"{"message":"linked"}"#.into())
        }
    });
    let dir = common::test_dir("numbers");
    let config = format!(
        "[telephony.vobiz]\nauth_id = \"MA_VOBIZ\"\nauth_token = \"tok\"\napi_base = \"http://127.0.0.1:{port}/api/v1\"\n"
    );
    std::fs::write(dir.join("voicera.toml"), config).unwrap();
    let numbers = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_voicera"))
            .arg("numbers")
            .args(args)
            .args(["--config", "voicera.toml", "--data-dir", "data", "--public-url", "https://voice.example.com"])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = numbers(&["attach", "--provider", "vobiz", "--number", "+918000000001", "--agent", "demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = numbers(&["list", "--provider", "vobiz"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "+918000000001\tapp-42");
    // No account for a provider: a clear error, nothing sent.
    let out = numbers(&["list", "--provider", "twilio"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no twilio account"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = requests.join().unwrap();
    let body = |r: &str| serde_json::from_str::<serde_json::Value>(&r[r.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let app = body(&requests[0]);
    assert_eq!(app["app_name"], "voicera-demo");
    assert_eq!(app["answer_url"], "https://voice.example.com/telephony/vobiz/answer?agent_id=demo");
    assert_eq!(app["hangup_url"], "https://voice.example.com/telephony/vobiz/hangup");
    assert!(requests[1].starts_with("POST /api/v1/account/MA_VOBIZ/numbers/%2B918000000001/application HTTP/1.1"));
    assert_eq!(body(&requests[1])["application_id"], "app-42");
    assert!(requests[1].to_ascii_lowercase().contains("x-auth-token: tok"));
}
