//! No secret in any log or output: a node configured with a trunk password, SIP users' passwords, a provider
//! token, an HTTP tool's credential and an owner password goes through a registration, authenticated and
//! refused calls, signed and forged webhooks and owner requests, and none of those values appears anywhere
//! in its log (at the debug levels the tests run with). `voicera config check` prints them masked. What
//! callers say and type (transcripts, DTMF digits) is logged at INFO only when the operator asks for it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::provider::{answer_v3, http};
use common::{assert_sipp_ok, free_port, repo_path, require_tool, sipp, Server};

const TRUNK_PASSWORD: &str = "trunk-pw-Qx7Lm2Rk9";
const SIP_USER_PASSWORD: &str = "user-pw-Hc4Vb8Nw1";
const PROVIDER_TOKEN: &str = "vobiz-tok-Jd5Pz3Ty6";
const TOOL_KEY: &str = "tool-key-Wg2Ks9Fe4";
const OWNER_PASSWORD: &str = "owner-pw-Mn6Yt1Ua8";
const MONGO_PASSWORD: &str = "mongo-pw-Rv3Bq7Lc5";

const SECRETS: [&str; 5] = [TRUNK_PASSWORD, SIP_USER_PASSWORD, PROVIDER_TOKEN, TOOL_KEY, OWNER_PASSWORD];

/// A configuration holding one of each kind of secret; `registrar` is the trunk's registrar port.
fn config(registrar: u16) -> String {
    format!(
        r#"
[sip]
auth = "digest"
realm = "voicera.test"

[[sip.users]]
username = "alice"
password = "{SIP_USER_PASSWORD}"

[[trunks]]
name = "t1"
registrar = "127.0.0.1:{registrar}"
username = "1001"
password = "{TRUNK_PASSWORD}"
register = true
expires = 60

[telephony.vobiz]
auth_id = "MA_SECRETS"
auth_token = "{PROVIDER_TOKEN}"

[[agents]]
id = "desk"
system_prompt = "You help."
llm_base_url = "http://127.0.0.1:9/v1"
llm_model = "m"

[[agents.http_tools]]
name = "crm"
description = "Looks up an order."
url = "http://127.0.0.1:9/crm"
header = "Authorization: Bearer {TOOL_KEY}"
"#
    )
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS.iter().chain([&MONGO_PASSWORD]) {
        assert!(!text.contains(secret), "{what} shows the secret {secret:?}:\n{text}");
    }
}

fn basic(password: &str) -> String {
    let pair = format!("owner@example.com:{password}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

#[test]
fn configured_secrets_never_reach_the_server_log() {
    require_tool("sipp");
    // The trunk's registrar (sipp) challenges the REGISTER and checks the digest against the trunk password.
    let registrar_port = free_port();
    let dir = common::test_dir("secrets-registrar");
    let scenario = std::fs::read_to_string(repo_path("tests/sipp/registrar.xml"))
        .unwrap()
        .replace("password=\"secret\"", &format!("password=\"{TRUNK_PASSWORD}\""));
    std::fs::write(dir.join("registrar.xml"), scenario).unwrap();
    let registrar = Command::new("timeout")
        .args(["60", "sipp", "-sf", "registrar.xml"])
        .args(["-i", "127.0.0.1", "-p", &registrar_port.to_string(), "-m", "1", "-nostdin", "-trace_err"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let env = [
        ("VOICERA_ADMIN_EMAIL", "owner@example.com"),
        ("VOICERA_ADMIN_PASSWORD", OWNER_PASSWORD),
        // The configured agent's models cannot be fetched here: it is refused at load, quickly and offline.
        ("VOICERA_MODELS_DIR", "/dev/null/models"),
    ];
    let server = Server::start_env("secrets", &config(registrar_port), false, &env);

    // The trunk registers with its password.
    server.wait_for("registration", Duration::from_secs(20), |s| {
        s.metrics().contains("voicera_trunk_registered{trunk=\"t1\"} 1")
    });
    let out = registrar.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "registrar: {}", String::from_utf8_lossy(&out.stderr));

    // A webhook signed with the provider token is answered; a forged one is refused.
    let pairs = [("CallUUID", "secrets-1"), ("From", "+919000000001"), ("To", "+918000000001")];
    let path = "/telephony/vobiz/answer?agent_id=bench";
    let (status, body) = answer_v3(&server, "X-Vobiz-Signature-V3", PROVIDER_TOKEN, path, &pairs, "n-1");
    assert_eq!(status, 200, "{body}");
    assert_eq!(answer_v3(&server, "X-Vobiz-Signature-V3", "forged-token", path, &pairs, "n-2").0, 403);

    // The owner's requests are authenticated (the call itself fails: no Twilio account); a wrong password
    // is refused.
    let call = r#"{"agent_id":"bench","customer_number":"+15550001111","provider":"twilio"}"#;
    let (status, body) =
        http(server.http, "POST", "/outbound/call/", &[("Authorization", basic(OWNER_PASSWORD))], call);
    assert_ne!(status, 401, "{body}");
    let (status, _) = http(server.http, "POST", "/outbound/call/", &[("Authorization", basic("guess"))], call);
    assert_eq!(status, 401);

    // The configured agent (with the tool's credential) was compiled and handed to the loader.
    server.wait_for("the agent loader", Duration::from_secs(10), |s| s.log().contains("agent unavailable"));

    assert_clean(&server, &["trunk registered", "webhook refused: bad signature", "place calls: refused"]);
}

/// Callers authenticating with SIP digest: one with the right password, one with a wrong one. (A node of its
/// own: the one above trusts INVITEs from its trunk's registrar address, 127.0.0.1, without a challenge.)
#[test]
fn sip_users_passwords_never_reach_the_server_log() {
    let config = config(5070).split("[[trunks]]").next().unwrap().to_string();
    let server = Server::start("secrets-digest", &config);
    let out = invite_with_password(&server, SIP_USER_PASSWORD);
    assert_sipp_ok(&server, &out, "authenticated call");
    let wrong = invite_with_password(&server, "not-the-password");
    assert_ne!(wrong.status.code(), Some(0), "a wrong password is refused");
    server.wait_for("calls to end", Duration::from_secs(5), |s| s.metric("voicera_calls_active") == 0.0);
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0);
    assert_clean(&server, &["INVITE accepted"]);
}

/// One call to `echo` answering the digest challenge as alice with `password` (tests/sipp/invite_auth.xml).
fn invite_with_password(server: &Server, password: &str) -> std::process::Output {
    let scenario = std::fs::read_to_string(repo_path("tests/sipp/invite_auth.xml"))
        .unwrap()
        .replace("password=wonderland]", &format!("password={password}]"));
    let name = format!("invite_auth-{}.xml", free_port());
    std::fs::write(server.dir.join(&name), scenario).unwrap();
    Command::new("timeout")
        .args(["30", "sipp", &server.sip.to_string(), "-sf", &name, "-m", "1"])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-timeout", "10", "-nostdin", "-trace_err"])
        .current_dir(&server.dir)
        .output()
        .unwrap()
}

/// The server's log holds each of `happened` (so the paths that handle secrets ran) and no secret; nor
/// does anything the node wrote to its data dir (records, reports).
fn assert_clean(server: &Server, happened: &[&str]) {
    let log = server.log();
    for line in happened {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
    assert_no_secret("the server log", &log);
    for file in walk(&server.dir.join("data")) {
        if let Ok(text) = std::fs::read_to_string(&file) {
            assert_no_secret(&file.display().to_string(), &text);
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn config_check_prints_secrets_masked() {
    let dir = common::test_dir("secrets-config-check");
    let mongo = format!("[server]\nmongodb_uri = \"mongodb://admin:{MONGO_PASSWORD}@db.example:27017/voicera\"\n");
    std::fs::write(dir.join("voicera.toml"), mongo + &config(5070)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["config", "check", "--config", "voicera.toml"])
        .env_remove("VOICERA_MONGODB_URI")
        .current_dir(&dir)
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && printed.contains("configuration ok"), "{printed}");
    assert_no_secret("config check", &printed);
    // Masked, not dropped: the operator still sees that each one is set and which it is.
    for masked in [
        "mongodb://admin:mo****@db.example:27017/voicera",
        "\"tr****\"",
        "\"us****\"",
        "\"vo****\"",
        "\"Authorization\"",
        "\"Be****\"",
        "MA_SECRETS",
    ] {
        assert!(printed.contains(masked), "{masked} missing:\n{printed}");
    }
}

/// A call to the bench agent in which the caller speaks (the agent hears "what time is it" and answers) and
/// types (RFC 4733 and SIP INFO digits), on a node at the default log level (`info`: what `serve` logs without
/// RUST_LOG) keeping transcripts; returns the node once the call has ended and its record is stored.
fn spoken_call(name: &str, env: &[(&str, &str)]) -> Server {
    let mut env = env.to_vec();
    env.push(("RUST_LOG", "info"));
    let server = Server::start_env(name, "[bench]\nrecord = true\n", false, &env);
    let out = sipp(&server, "speech_dtmf.xml", &["-s", "bench", "-m", "1"]);
    assert_sipp_ok(&server, &out, "speech and DTMF");
    server.wait_for("the call to end, its digits counted and its record stored", Duration::from_secs(10), |s| {
        s.metric("voicera_calls_active") == 0.0
            && s.metric("voicera_dtmf_events_total") == 3.0
            && !s.call_records().is_empty()
    });
    server
}

/// What callers say and type is personal data: the transcript (both sides) and the digits reach the log only
/// when the operator sets `log_content`; either way the call record keeps the transcript.
#[test]
fn transcripts_and_digits_are_logged_at_info_only_when_the_operator_asks() {
    const CALLER_SAID: &str = "what time is it";
    const AGENT_SAID: &str = "three in the afternoon";
    let quiet = spoken_call("content-off", &[]);
    let record = &quiet.call_records()[0];
    assert_eq!(record["turns"][0]["user_text"], CALLER_SAID, "the agent heard the caller: {record}");
    // The reply was spoken in this call (in some turn: the caller's audio may barge into the first), so its
    // absence from the log below means the log kept it out.
    let replied = |record: &serde_json::Value| {
        record["turns"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|turn| turn["agent_text"].as_str().is_some_and(|text| text.contains(AGENT_SAID)))
    };
    assert!(replied(record), "the agent answered: {record}");
    let log = quiet.log();
    assert!(log.contains("INVITE accepted") && log.contains("routing to agent"), "{log}");
    for content in [CALLER_SAID, AGENT_SAID, "digit="] {
        assert!(!log.contains(content), "{content:?} logged without log_content:\n{log}");
    }

    let loud = spoken_call("content-on", &[("VOICERA_LOG_CONTENT", "1")]);
    let record = &loud.call_records()[0];
    assert!(replied(record), "the agent answered: {record}");
    let log = loud.log();
    for content in [
        &format!("caller said turn=1 text={CALLER_SAID}"),
        AGENT_SAID,
        "DTMF (RFC 4733) digit=1",
        "DTMF (RFC 4733) digit=#",
        "DTMF (SIP INFO) digit=5",
    ] {
        assert!(log.contains(content), "{content:?} missing with log_content on:\n{log}");
    }
}
