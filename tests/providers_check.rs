//! `voicera providers check` against local fakes of each provider's API (the paths, auth headers and error
//! bodies they document): good keys print ok and exit 0; a bad key prints the provider's own message and
//! the command exits non-zero.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;

/// The key every fake accepts.
const GOOD: &str = "good-key";

/// One request: method, path, lower-case headers.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Answers as each provider does: `(status, body)`.
fn answer(request: &Request) -> (u16, &'static str) {
    let route = (request.method.as_str(), request.path.as_str());
    match route {
        // Deepgram: `Authorization: Token …`.
        ("GET", "/deepgram/v1/projects") if request.header("authorization") == Some(&format!("Token {GOOD}")) => {
            (200, r#"{"projects":[{"project_id":"3a7d","name":"voicera"}]}"#)
        }
        ("GET", "/deepgram/v1/projects") => {
            (401, r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"9b1f"}"#)
        }
        // OpenAI: `Authorization: Bearer …`.
        ("GET", "/openai/v1/models") if request.header("authorization") == Some(&format!("Bearer {GOOD}")) => (
            200,
            r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}"#,
        ),
        ("GET", "/openai/v1/models") => (
            401,
            r#"{"error":{"message":"Incorrect API key provided: bad-key. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        ),
        // ElevenLabs: `xi-api-key`.
        ("GET", "/elevenlabs/v1/models") if request.header("xi-api-key") == Some(GOOD) => {
            (200, r#"[{"model_id":"eleven_flash_v2_5","name":"Eleven Flash v2.5","can_do_text_to_speech":true}]"#)
        }
        ("GET", "/elevenlabs/v1/models") => (401, r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#),
        // Sarvam: `api-subscription-key`, language identification of one word.
        ("POST", "/sarvam/text-lid") if request.header("api-subscription-key") == Some(GOOD) => {
            (200, r#"{"request_id":"20250101_1","language_code":"en-IN","script_code":"Latn"}"#)
        }
        ("POST", "/sarvam/text-lid") => {
            (403, r#"{"error":{"message":"Invalid API key or subscription","code":"invalid_api_key_error"}}"#)
        }
        _ => (404, r#"{"error":{"message":"no such route"}}"#),
    }
}

/// A fake of every provider, each under `/<provider>`.
fn fake_providers() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let mut lines = head.lines();
            let mut first = lines.next().unwrap_or_default().split(' ');
            let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = socket.read_exact(&mut body);
            let request = Request { method: method.into(), path: path.into(), headers };
            let (status, body) = answer(&request);
            let reason = match status {
                200 => "OK",
                401 => "Unauthorized",
                403 => "Forbidden",
                _ => "Not Found",
            };
            let _ = write!(
                socket,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

/// Runs `voicera providers check` with only `env`.
fn providers_check(env: &[(&str, String)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voicera"));
    command.args(["providers", "check"]).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn env_for(fake: SocketAddr, keys: [&str; 4]) -> Vec<(&'static str, String)> {
    vec![
        ("VOICERA_DEEPGRAM_BASE_URL", format!("http://{fake}/deepgram")),
        ("VOICERA_DEEPGRAM_API_KEY", keys[0].into()),
        ("VOICERA_OPENAI_BASE_URL", format!("http://{fake}/openai/v1")),
        ("VOICERA_OPENAI_API_KEY", keys[1].into()),
        ("VOICERA_ELEVENLABS_BASE_URL", format!("http://{fake}/elevenlabs")),
        ("VOICERA_ELEVENLABS_API_KEY", keys[2].into()),
        ("VOICERA_SARVAM_BASE_URL", format!("http://{fake}/sarvam")),
        ("VOICERA_SARVAM_API_KEY", keys[3].into()),
    ]
}

fn line<'a>(stdout: &'a str, provider: &str) -> &'a str {
    stdout.lines().find(|l| l.split_whitespace().next() == Some(provider)).unwrap_or_else(|| panic!("{provider}: {stdout}"))
}

#[test]
fn every_good_key_is_reported_ok_and_the_command_succeeds() {
    let fake = fake_providers();
    let (code, stdout, stderr) = providers_check(&env_for(fake, [GOOD; 4]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    for provider in ["deepgram", "openai", "elevenlabs", "sarvam"] {
        assert!(line(&stdout, provider).contains(" ok "), "{stdout}");
    }
    assert!(line(&stdout, "deepgram").contains("/deepgram/v1/projects"), "{stdout}");
    assert!(!stdout.contains(GOOD) && !stderr.contains(GOOD), "keys are never printed");
}

#[test]
fn a_bad_key_prints_the_providers_message_and_fails_the_command() {
    let fake = fake_providers();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // nothing listens once dropped
    let mut env = env_for(fake, [GOOD, "bad-key", "bad-key", GOOD]);
    env.push(("VOICERA_CARTESIA_BASE_URL", format!("ws://{closed}")));
    env.push(("VOICERA_CARTESIA_API_KEY", GOOD.into()));
    let (code, stdout, stderr) = providers_check(&env);
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(line(&stdout, "deepgram").contains(" ok "), "{stdout}");
    let openai = line(&stdout, "openai");
    assert!(openai.contains("FAILED") && openai.contains("rejected"), "{stdout}");
    assert!(openai.contains("HTTP 401: Incorrect API key provided"), "{stdout}");
    assert!(line(&stdout, "elevenlabs").contains("HTTP 401: Invalid API key"), "{stdout}");
    let cartesia = line(&stdout, "cartesia");
    assert!(cartesia.contains("FAILED") && cartesia.contains("unreachable"), "{stdout}");
    assert!(cartesia.contains(&format!("http://{closed}/voices")), "the WebSocket root is checked over HTTP: {stdout}");
    assert!(stderr.contains("3 of 5 provider checks failed"), "{stderr}");
}

#[test]
fn with_no_keys_there_is_nothing_to_check() {
    let (code, stdout, _) = providers_check(&[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("no provider keys"), "{stdout}");
}
