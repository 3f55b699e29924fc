//! The dial policy against the running server: `POST /outbound/call/` (through `voicera call`) refuses a
//! premium-rate number, a number outside `[dial_policy] allowed_prefixes` and a SIP URI at a stranger's host
//! with 403 and the policy's reason before any provider is asked, and still places an allowed call; a
//! configuration whose agent could transfer anywhere does not load.

mod common;

use std::process::{Command, Output};

use common::api::OWNER;
use common::provider::fake_rest;
use common::Server;

fn voicera_call(server: &Server, to: &str) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["call", "--agent", "bench", "--to", to, "--from", "+918000000001", "--provider", "vobiz"])
        .args(["--http", &server.http.to_string()])
        .envs(OWNER)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

#[test]
fn outbound_calls_pass_the_dial_policy_before_the_provider_is_asked() {
    // The fake provider answers exactly one request: the allowed call, placed last.
    let (api_port, requests) =
        fake_rest(1, |_| (201, r#"{"api_id":"x","request_uuid":"req-91","message":"Call fired"}"#.into()));
    let config = format!(
        "[dial_policy]\nallowed_prefixes = [\"+\", \"+91\"]\nblocked_prefixes = [\"+44\"]\n\n\
         [telephony.vobiz]\nauth_id = \"MA_T\"\nauth_token = \"tok\"\napi_base = \"http://127.0.0.1:{api_port}/api/v1\"\n"
    );
    let server = Server::start_env("dial-policy", &config, false, &OWNER);
    for (to, status, reason) in [
        ("+1 900 555 1234", 403, "+19005551234 is in the North American premium-rate (900) range +1900"),
        ("+44 20 7946 0000", 403, "+442079460000 matches the blocked prefix +44"),
        ("00 881 6 1234 5678", 403, "global mobile satellite"),
        ("*72+15551230000", 403, "feature codes"),
        ("sip:bob@evil.example", 403, "SIP host evil.example is not in dial_policy.allowed_sip_hosts"),
        ("0119009876543", 403, "max_local_digits"),
        ("1; DROP", 400, "is not a phone number"),
    ] {
        let (out, text) = voicera_call(&server, to);
        assert!(!out.status.success(), "{to}: {text}");
        assert!(text.contains(&format!("(HTTP {status})")) && text.contains(reason), "{to}: {text}");
    }
    let (out, text) = voicera_call(&server, "+91 98765-43210");
    assert!(out.status.success() && text.contains("req-91"), "{text}\n{}", server.log());
    let requests = requests.join().unwrap();
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_str(requests[0].split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["to"], "+919876543210", "the provider is given the number in normal form");
}

#[test]
fn an_agent_that_could_transfer_anywhere_does_not_load() {
    let dir = common::test_dir("dial-policy-config");
    let check = |toml: &str| {
        std::fs::write(dir.join("voicera.toml"), toml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
            .args(["config", "check", "--config", "voicera.toml", "--data-dir", "data"])
            .current_dir(&dir)
            .env("VOICERA_DEMO_AGENT", "0")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let agent = "[[agents]]\nid = \"desk\"\nsystem_prompt = \"You help callers.\"\n";
    let (ok, err) = check(&format!("{agent}tools = [\"transfer_call\"]\n"));
    assert!(!ok && err.contains("agents.desk.tools: transfer_call needs agents.desk.transfer_targets"), "{err}");
    let (ok, err) = check(&format!("{agent}tools = [\"transfer_call\"]\ntransfer_targets = [\"+44 909 879 0000\"]\n"));
    assert!(!ok && err.contains("agents.desk.transfer_targets: +449098790000 is in the UK premium-rate"), "{err}");
    let (ok, err) = check(&format!("{agent}transfer_targets = [\"sip:desk@127.0.0.1\"]\n"));
    assert!(!ok && err.contains("SIP host 127.0.0.1 is not in dial_policy.allowed_sip_hosts"), "{err}");
    let (ok, err) = check(&format!(
        "[dial_policy]\nallowed_sip_hosts = [\"127.0.0.1\"]\n\n{agent}tools = [\"transfer_call\"]\n\
         transfer_targets = [\"sip:desk@127.0.0.1\", \"+91 80000 00002\"]\n"
    ));
    assert!(ok, "{err}");
}
