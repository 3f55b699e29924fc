//! Outbound calls with an agent on the line, placed with `voicera call` against the running server: through a
//! SIP trunk played by sipp (digest challenge, answer, audio, BYE) and through a provider's REST API played by
//! the test (the request shape Vobiz documents). Only the owner may place calls. Also the transfers a PBX asks
//! of us by REFER, which place an outbound call of their own.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::provider::fake_rest;
use common::{free_port, repo_path, require_tool, Server};

const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass")];

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
    let dir = server.dir.join(format!("carrier-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new("timeout")
        .args(["60", "sipp", "-sf"])
        .arg(repo_path("tests/sipp/uas_digest.xml"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string(), "-m", "1", "-nostdin"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A PBX transfers its call with us (REFER, RFC 3515): we accept, call the Refer-To target directly with the
/// credentials of the trunk it belongs to, report `100 Trying` and then `200 OK` by NOTIFY, and leave the
/// PBX's call (tests/sipp/refer_us.xml); the target's call runs echo until the target hangs up.
#[test]
fn a_refer_we_receive_is_carried_out_and_reported_by_notify() {
    require_tool("sipp");
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"pbx\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n"
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
    assert_eq!(body["answer_url"], format!("http://{}/telephony/vobiz/answer?agent_id=bench", server.http));
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
