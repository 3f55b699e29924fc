//! `voicera providers check` against local fakes of each provider's API (the paths, auth headers and error
//! bodies they document): good keys print ok and exit 0; a bad key prints the provider's own message and
//! the command exits non-zero.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::provider::fake_rest;

/// The key every fake accepts.
const GOOD: &str = "good-key";
/// A Google key restricted to Speech-to-Text.
const STT_ONLY: &str = "stt-only-key";

/// The value of header `name` in a raw request.
fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().filter_map(|l| l.split_once(':')).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// Answers a raw request as each provider does: `(status, body)`.
fn answer(request: &str) -> (u16, String) {
    let line = request.lines().next().unwrap_or_default();
    let route = line.strip_suffix(" HTTP/1.1").unwrap_or(line);
    let (status, body) = match route {
        // Deepgram: `Authorization: Token …`.
        "GET /deepgram/v1/projects" if header(request, "authorization") == Some(&format!("Token {GOOD}")) => {
            (200, r#"{"projects":[{"project_id":"3a7d","name":"voicera"}]}"#)
        }
        "GET /deepgram/v1/projects" => {
            (401, r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"9b1f"}"#)
        }
        // OpenAI: `Authorization: Bearer …`.
        "GET /openai/v1/models" if header(request, "authorization") == Some(&format!("Bearer {GOOD}")) => (
            200,
            r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}"#,
        ),
        "GET /openai/v1/models" => (
            401,
            r#"{"error":{"message":"Incorrect API key provided: bad-key. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        ),
        // ElevenLabs: `xi-api-key`.
        "GET /elevenlabs/v1/models" if header(request, "xi-api-key") == Some(GOOD) => {
            (200, r#"[{"model_id":"eleven_flash_v2_5","name":"Eleven Flash v2.5","can_do_text_to_speech":true}]"#)
        }
        "GET /elevenlabs/v1/models" => (401, r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#),
        // Sarvam: `api-subscription-key`, language identification of one word.
        "POST /sarvam/text-lid" if header(request, "api-subscription-key") == Some(GOOD) => {
            (200, r#"{"request_id":"20250101_1","language_code":"en-IN","script_code":"Latn"}"#)
        }
        "POST /sarvam/text-lid" => {
            (403, r#"{"error":{"message":"Invalid API key or subscription","code":"invalid_api_key_error"}}"#)
        }
        // Google Cloud Text-to-Speech: `x-goog-api-key`, the voice list; a key restricted to Speech-to-Text is
        // refused as Google does.
        "GET /google/v1/voices?languageCode=en-US" if header(request, "x-goog-api-key") == Some(STT_ONLY) => (
            403,
            r#"{"error":{"code":403,"message":"Requests to this API texttospeech.googleapis.com method google.cloud.texttospeech.v1.TextToSpeech.ListVoices are blocked.","status":"PERMISSION_DENIED"}}"#,
        ),
        "GET /google/v1/voices?languageCode=en-US" if header(request, "x-goog-api-key") == Some(GOOD) => (
            200,
            r#"{"voices":[{"languageCodes":["en-US"],"name":"en-US-Neural2-A","ssmlGender":"MALE","naturalSampleRateHertz":24000}]}"#,
        ),
        "GET /google/v1/voices?languageCode=en-US" => (
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#,
        ),
        // Google Cloud Speech-to-Text: `x-goog-api-key`, a recognition of 100 ms of silence (no words, no
        // `results`). A key restricted to Speech-to-Text is refused by Text-to-Speech as Google does.
        "POST /google/v1/speech:recognize"
            if [Some(GOOD), Some(STT_ONLY)].contains(&header(request, "x-goog-api-key"))
                && request.contains(r#""sampleRateHertz":16000"#) =>
        {
            (200, r#"{"totalBilledTime":"1s","requestId":"4711"}"#)
        }
        "POST /google/v1/speech:recognize" => (
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#,
        ),
        // Bhashini: the ULCA pipeline config call with `userID` and `ulcaApiKey`.
        "POST /bhashini/ulca/apis/v0/model/getModelsPipeline"
            if header(request, "userid") == Some("user-1") && header(request, "ulcaapikey") == Some(GOOD) =>
        {
            (
                200,
                r#"{"pipelineResponseConfig":[{"taskType":"asr","config":[{"serviceId":"ai4bharat/conformer-hi-gpu--t4","modelId":"m","language":{"sourceLanguage":"hi"}}]}],"pipelineInferenceAPIEndPoint":{"callbackUrl":"https://dhruva-api.bhashini.gov.in/services/inference/pipeline","inferenceApiKey":{"name":"Authorization","value":"inference-key"}}}"#,
            )
        }
        "POST /bhashini/ulca/apis/v0/model/getModelsPipeline" => (401, r#"{"message":"Invalid ulcaApiKey or userID"}"#),
        _ => (404, r#"{"error":{"message":"no such route"}}"#),
    };
    (status, body.to_string())
}

/// A fake of every provider, each under `/<provider>`, for `requests` requests.
fn fake_providers(requests: usize) -> std::net::SocketAddr {
    let (port, _requests) = fake_rest(requests, answer);
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
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

fn env_for(fake: std::net::SocketAddr, keys: [&str; 4]) -> Vec<(&'static str, String)> {
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
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(provider))
        .unwrap_or_else(|| panic!("{provider}: {stdout}"))
}

#[test]
fn every_good_key_is_reported_ok_and_the_command_succeeds() {
    let fake = fake_providers(4);
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
    let fake = fake_providers(4);
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

/// `voicera providers check --config <file>` with `text` as the file and `env`.
fn providers_check_with(text: &str, env: &[(&str, String)]) -> (i32, String, String) {
    let path = std::env::temp_dir().join(format!("voicera-providers-check-{}-{}.toml", std::process::id(), text.len()));
    std::fs::write(&path, text).unwrap();
    let mut env = env.to_vec();
    env.push(("VOICERA_CONFIG", path.display().to_string()));
    let out = providers_check(&env);
    let _ = std::fs::remove_file(&path);
    out
}

#[test]
fn provider_tables_give_roots_and_key_variables_and_the_environment_wins() {
    let fake = fake_providers(2);
    let text = format!(
        "[providers.deepgram]\nbase_url = \"http://{fake}/deepgram\"\napi_key_env = \"TABLE_DEEPGRAM_KEY\"\n\n\
         [providers.openai]\nbase_url = \"http://{fake}/openai/v1\"\napi_key_env = \"TABLE_OPENAI_KEY\"\n"
    );
    let env = [
        ("TABLE_DEEPGRAM_KEY", GOOD.to_string()),
        // The table names a bad key; VOICERA_OPENAI_API_KEY overrides it.
        ("TABLE_OPENAI_KEY", "bad-key".to_string()),
        ("VOICERA_OPENAI_API_KEY", GOOD.to_string()),
    ];
    let (code, stdout, stderr) = providers_check_with(&text, &env);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(line(&stdout, "deepgram").contains(" ok ") && line(&stdout, "deepgram").contains("/deepgram/v1/projects"));
    assert!(line(&stdout, "openai").contains(" ok "), "{stdout}");

    // A key written into the file is refused, and not echoed.
    let (code, stdout, stderr) = providers_check_with("[providers.openai]\napi_key = \"sk-in-the-file\"\n", &[]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("providers.openai.api_key") && stderr.contains("api_key_env"), "{stderr}");
    assert!(!stderr.contains("sk-in-the-file") && !stdout.contains("sk-in-the-file"));
}

#[test]
fn google_and_bhashini_keys_are_checked_with_their_own_requests() {
    let env = |google: &str, bhashini: &str, fake: std::net::SocketAddr| {
        vec![
            ("VOICERA_GOOGLE_BASE_URL", format!("http://{fake}/google")),
            ("VOICERA_GOOGLE_API_KEY", google.to_string()),
            ("VOICERA_BHASHINI_BASE_URL", format!("http://{fake}/bhashini")),
            ("VOICERA_BHASHINI_API_KEY", bhashini.to_string()),
        ]
    };
    let (code, stdout, stderr) = providers_check(&env(GOOD, &format!("user-1:{GOOD}"), fake_providers(3)));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (stt, tts) = (line(&stdout, "google-stt"), line(&stdout, "google-tts"));
    assert!(stt.contains(" ok ") && stt.contains("/google/v1/speech:recognize"), "{stdout}");
    assert!(tts.contains(" ok ") && tts.contains("/google/v1/voices"), "{stdout}");
    assert!(line(&stdout, "bhashini").contains("ai4bharat/conformer-hi-gpu--t4"), "{stdout}");
    let (code, stdout, stderr) = providers_check(&env("bad-key", "user-1:bad-key", fake_providers(3)));
    assert_ne!(code, 0, "{stdout}");
    assert!(line(&stdout, "google-stt").contains("HTTP 400: API key not valid"), "{stdout}");
    assert!(line(&stdout, "google-tts").contains("HTTP 400: API key not valid"), "{stdout}");
    assert!(line(&stdout, "bhashini").contains("HTTP 401: Invalid ulcaApiKey"), "{stdout}");
    assert!(!stdout.contains("bad-key") && !stderr.contains("bad-key"), "keys are never printed");
    // A key scoped to Speech-to-Text: its own API is verified; the voice list says what it may not do.
    let (code, stdout, _) = providers_check(&env(STT_ONLY, &format!("user-1:{GOOD}"), fake_providers(3)));
    assert_ne!(code, 0, "{stdout}");
    assert!(line(&stdout, "google-stt").contains(" ok "), "{stdout}");
    let tts = line(&stdout, "google-tts");
    assert!(tts.contains("FAILED") && tts.contains("HTTP 403: Requests to this API texttospeech"), "{stdout}");
}
