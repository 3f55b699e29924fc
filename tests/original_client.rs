//! The original VoicEra console's flows replayed against the served API, with the request bodies its
//! `lib/api.ts` and pages send, checking the response fields and types its TypeScript reads — on the embedded
//! SQLite store and on MongoDB (SecantusDB): sign up, log in, `users/me`, provider keys (integrations,
//! custom LLMs), the agent wizard's body (cloud models named the original's way: `{"name": "OpenAI", "model":
//! …}`, the language as "English (India)"), the agents list, an update by name, the Numbers page (the Vobiz
//! proxy against a fake Vobiz REST API, with the org's own Vobiz keys), attaching a number, a SIP call to it,
//! History (filter options, the page, the detail with the transcript, the recording with `Range: bytes=100-199`),
//! Analytics, Members, Knowledge, and deleting the agent by `?agent_type=`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::api::{call_record, request, send, wait_agent_ready, OWNER};
use common::provider::fake_rest;
use common::Server;
use serde_json::{json, Value};
use voicera_store::testing::SecantusServer;

/// Asserts `value` has each field with the JSON type the original's TypeScript declares (`string?` may be
/// null or missing).
#[track_caller]
fn shape(what: &str, value: &Value, fields: &[(&str, &str)]) {
    for (field, kind) in fields {
        let got = &value[*field];
        let (kind, optional) = match kind.strip_suffix('?') {
            Some(kind) => (kind, true),
            None => (*kind, false),
        };
        let ok = match kind {
            "string" => got.is_string(),
            "number" => got.is_number(),
            "boolean" => got.is_boolean(),
            "array" => got.is_array(),
            "object" => got.is_object(),
            _ => unreachable!("{kind}"),
        };
        assert!(ok || (optional && got.is_null()), "{what}.{field} should be {kind}: {value:#}");
    }
}

/// A raw GET with a bearer token and extra headers: status, headers (lower-case names), body bytes.
fn get_raw(addr: SocketAddr, path: &str, token: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{extra}\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split..].to_vec())
}

/// A multipart form with `org_id` and one file.
fn multipart(org: &str, filename: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----voicera-replay-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"org_id\"\r\n\r\n{org}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn replay(store: &str) {
    common::require_tool("espeak-ng");
    common::require_tool("sipp");
    let mongo = (store == "mongodb").then(SecantusServer::start);
    // The fake Vobiz API answers the Numbers page's five requests.
    let (vobiz_port, vobiz_requests) = fake_rest(5, |request| {
        let line = request.lines().next().unwrap_or_default().to_string();
        if line.starts_with("GET /api/v1/account/MA_ORG/numbers ") {
            (200, r#"{"items":[{"e164":"+918000000042","application_id":null}],"total":1}"#.into())
        } else if line.starts_with("POST /api/v1/Account/MA_ORG/Application/ ") {
            (201, r#"{"api_id":"x","app_id":"app-77","message":"created"}"#.into())
        } else if line.contains("/numbers/%2B918000000042/application ") {
            (202, r#"{"message":"done"}"#.into())
        } else if line.starts_with("DELETE /api/v1/Account/MA_ORG/Application/app-77/ ") {
            (204, String::new())
        } else {
            (404, format!(r#"{{"error":"unexpected {line}"}}"#))
        }
    });
    // The fake Plivo API answers the same five, in Plivo's shapes (Basic auth, `objects`, `app_id`).
    let (plivo_port, plivo_requests) = fake_rest(5, |request| {
        let line = request.lines().next().unwrap_or_default().to_string();
        if line.starts_with("GET /v1/Account/MA_PLIVO_ORG/Number/ ") {
            let number = r#"{"number":"918000000043","application":"/v1/Account/MA_PLIVO_ORG/Application/29986316/"}"#;
            (200, format!(r#"{{"api_id":"x","meta":{{"total_count":1}},"objects":[{number}]}}"#))
        } else if line.starts_with("POST /v1/Account/MA_PLIVO_ORG/Application/ ") {
            (201, r#"{"api_id":"x","app_id":"29986316","message":"created"}"#.into())
        } else if line.starts_with("POST /v1/Account/MA_PLIVO_ORG/Number/918000000043/ ") {
            (202, r#"{"api_id":"x","message":"changed"}"#.into())
        } else if line.starts_with("DELETE /v1/Account/MA_PLIVO_ORG/Application/29986316/ ") {
            (204, String::new())
        } else {
            (404, format!(r#"{{"error":"unexpected {line}"}}"#))
        }
    });
    let config = format!(
        "[api]\nopen_signup = true\n\n[telephony.vobiz]\nauth_id = \"MA_NODE\"\nauth_token = \"node-token\"\n\
         api_base = \"http://127.0.0.1:{vobiz_port}/api/v1\"\n\n[telephony.plivo]\nauth_id = \"MA_PNODE\"\n\
         auth_token = \"plivo-node-token\"\napi_base = \"http://127.0.0.1:{plivo_port}/v1\"\n"
    );
    let uri = mongo.as_ref().map(|m| m.uri.clone()).unwrap_or_default();
    let mut env = OWNER.to_vec();
    if mongo.is_some() {
        env.push(("VOICERA_MONGODB_URI", uri.as_str()));
    }
    let server = Server::start_env(&format!("original-client-{store}"), &config, false, &env);
    let http = server.http;
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| request(http, method, path, token, body);

    // Sign up (a new org), log in, who am I.
    let signup = json!({"email": "asha@acme.io", "password": "s3cret-pass!", "name": "Asha", "company_name": "Acme"});
    let (status, created) = call("POST", "/api/v1/users/signup", "", Some(signup));
    assert_eq!(status, 201, "{created}");
    shape("signup", &created, &[("status", "string"), ("message", "string"), ("org_id", "string")]);
    let (status, session) =
        call("POST", "/api/v1/users/login", "", Some(json!({"email": "asha@acme.io", "password": "s3cret-pass!"})));
    assert_eq!(status, 200, "{session}");
    shape("login", &session, &[("access_token", "string"), ("token_type", "string"), ("org_id", "string")]);
    assert_eq!(session["token_type"], "bearer");
    let token = session["access_token"].as_str().unwrap().to_string();
    let org = session["org_id"].as_str().unwrap().to_string();
    assert_eq!(created["org_id"], org);
    let (status, me) = call("GET", "/api/v1/users/me", &token, None);
    assert_eq!(status, 200, "{me}");
    shape(
        "User",
        &me,
        &[
            ("email", "string"),
            ("name", "string"),
            ("org_id", "string"),
            ("company_name", "string"),
            ("created_at", "string"),
            ("is_owner", "boolean"),
        ],
    );
    assert_eq!((me["is_owner"].as_bool(), me["org_id"].as_str()), (Some(true), Some(org.as_str())));

    // Integrations: the keys the wizard's providers need, and the org's Vobiz account.
    for (model, key) in [
        ("OpenAI", "sk-org-openai-0001"),
        ("Deepgram", "dg-org-0002"),
        ("Cartesia", "ct-org-0003"),
        ("VobizAuthId", "MA_ORG"),
        ("VobizAuthToken", "vobiz-org-token-0004"),
        ("PlivoAuthId", "MA_PLIVO_ORG"),
        ("PlivoAuthToken", "plivo-org-token-0005"),
    ] {
        let (status, saved) =
            call("POST", "/api/v1/integrations", &token, Some(json!({"org_id": org, "model": model, "api_key": key})));
        assert_eq!(status, 201, "{model}: {saved}");
        shape("createIntegration", &saved, &[("status", "string"), ("message", "string")]);
        assert!(!saved.to_string().contains(key), "a key is never answered: {saved}");
    }
    let (status, integrations) = call("GET", "/api/v1/integrations", &token, None);
    assert_eq!(status, 200, "{integrations}");
    let integrations = integrations.as_array().unwrap_or_else(|| panic!("Integration[]: {integrations}"));
    assert_eq!(integrations.len(), 7);
    for integration in integrations {
        shape(
            "Integration",
            integration,
            &[("org_id", "string"), ("model", "string"), ("created_at", "string?"), ("updated_at", "string?")],
        );
    }
    let llm = json!({"org_id": org, "name": "Office vLLM", "base_url": "http://127.0.0.1:9", "api_key": "vllm-key-0005", "model": "qwen"});
    let (status, custom) = call("POST", "/api/v1/custom-llm-integrations", &token, Some(llm));
    assert_eq!(status, 201, "{custom}");
    shape("createCustomLLMIntegration", &custom, &[("status", "string"), ("integration", "object")]);
    shape(
        "CustomLLMIntegration",
        &custom["integration"],
        &[("id", "string"), ("org_id", "string"), ("name", "string"), ("base_url", "string"), ("model", "string")],
    );
    assert_eq!(custom["integration"]["base_url"], "http://127.0.0.1:9/v1");
    let (_, customs) = call("GET", "/api/v1/custom-llm-integrations", &token, None);
    assert_eq!(customs.as_array().map(Vec::len), Some(1), "CustomLLMIntegration[]: {customs}");
    let custom_id = custom["integration"]["id"].as_str().unwrap();
    let (status, deleted) = call("DELETE", &format!("/api/v1/custom-llm-integrations/{custom_id}"), &token, None);
    assert_eq!(status, 200, "{deleted}");
    shape("deleteCustomLLMIntegration", &deleted, &[("status", "string"), ("message", "string")]);

    // The agent wizard's body: a conversational agent on the org's cloud providers, named the original's way.
    let wizard = json!({
        "org_id": org, "agent_type": "Sales Agent", "agent_id": "sales_agent", "agent_category": "voicera_telephony",
        "telephony_provider": "Vobiz",
        "agent_config": {
            "interaction_mode": "conversational", "system_prompt": "You sell Acme plans.",
            "greeting_message": "Namaste! Acme here.", "ignore_user_speech_before_greeting": true,
            "interruption_min_words": 1, "user_silence_hangup_seconds": 0, "call_timeout_seconds": 600,
            "hold_messages": [], "hold_message_timeout_seconds": 0.3, "user_online_detection_enabled": false,
            "language": "English (India)", "knowledge_base_enabled": false, "knowledge_document_ids": [],
            "llm_model": {"name": "OpenAI", "model": "gpt-4o-mini"},
            "stt_model": {"name": "Deepgram", "model": "nova-3"},
            "tts_model": {"name": "Cartesia", "speaker": "", "args": {"model": "sonic-2", "voice_id": "a0e99841"}}
        }
    });
    let (status, created) = call("POST", "/api/v1/agents", &token, Some(wizard.clone()));
    assert_eq!(status, 201, "the wizard's agent: {created}\n{}", server.log());
    shape("createAgent", &created, &[("status", "string"), ("message", "string")]);
    // The update the edit page sends: the whole body again, by name.
    let mut edited = wizard.clone();
    edited["agent_config"]["greeting_message"] = json!("Hello from Acme.");
    let (status, updated) = call("PUT", "/api/v1/agents/Sales%20Agent", &token, Some(edited));
    assert_eq!(status, 200, "{updated}");
    // A notice line the test calls: the wizard's non-conversational shape, on this node's local engines.
    let notice = json!({
        "org_id": org, "agent_type": "Notice Line", "agent_id": "notice_line", "agent_category": "voicera_telephony",
        "telephony_provider": "Vobiz",
        "agent_config": {"interaction_mode": "non_conversational", "system_prompt": "You read notices.",
                         "greeting_message": "This is the Acme notice line.", "language": "English (US)",
                         "llm_model": {"name": "smollm2-135m"}}
    });
    let (status, created) = call("POST", "/api/v1/agents", &token, Some(notice));
    assert_eq!(status, 201, "{created}");
    let (status, agents) = call("GET", &format!("/api/v1/agents/org/{org}"), &token, None);
    assert_eq!(status, 200, "{agents}");
    let agents = agents.as_array().unwrap_or_else(|| panic!("Agent[]: {agents}"));
    assert_eq!(agents.len(), 2, "{agents:?}");
    for agent in agents {
        shape(
            "Agent",
            agent,
            &[
                ("org_id", "string"),
                ("agent_type", "string"),
                ("agent_id", "string"),
                ("agent_category", "string?"),
                ("agent_config", "object"),
                ("created_at", "string"),
                ("updated_at", "string"),
                ("telephony_provider", "string?"),
            ],
        );
    }
    let sales = agents.iter().find(|a| a["agent_id"] == "sales_agent").unwrap();
    assert_eq!(sales["agent_config"]["greeting_message"], "Hello from Acme.");
    assert_eq!(sales["agent_config"]["llm_model"], json!({"name": "OpenAI", "model": "gpt-4o-mini"}), "kept as sent");
    let (status, one) = call("GET", "/api/v1/agents/Sales%20Agent", &token, None);
    assert_eq!((status, one["agent_id"].as_str()), (200, Some("sales_agent")), "{one}");

    // The Numbers page: the account's numbers, the agent's application, link, unlink, delete (org's keys).
    let (status, numbers) = call("GET", "/api/v1/vobiz/numbers", &token, None);
    assert_eq!(status, 200, "{numbers}");
    shape("getVobizNumbers", &numbers, &[("status", "string"), ("numbers", "array")]);
    assert_eq!(numbers["numbers"], json!(["+918000000042"]));
    let app = json!({"agent_type": "Notice Line", "answer_url": "https://voice.acme.io/answer?agent_id=notice_line"});
    let (status, app) = call("POST", "/api/v1/vobiz/application", &token, Some(app));
    assert_eq!(status, 201, "{app}");
    shape("createVobizApplication", &app, &[("status", "string"), ("message", "string"), ("app_id", "string")]);
    assert_eq!(app["app_id"], "app-77");
    let link = json!({"phone_number": "+918000000042", "application_id": "app-77"});
    let (status, linked) = call("POST", "/api/v1/vobiz/numbers/link", &token, Some(link));
    assert_eq!(status, 201, "{linked}");
    shape("linkVobizNumber", &linked, &[("status", "string"), ("message", "string")]);
    let (status, unlinked) =
        call("DELETE", "/api/v1/vobiz/numbers/unlink", &token, Some(json!({"phone_number": "+918000000042"})));
    assert_eq!(status, 200, "{unlinked}");
    let (status, gone) = call("DELETE", "/api/v1/vobiz/application/app-77", &token, None);
    assert_eq!(status, 200, "{gone}");
    shape("deleteVobizApplication", &gone, &[("status", "string"), ("message", "string")]);
    let sent = vobiz_requests.join().unwrap();
    assert_eq!(sent.len(), 5);
    for request in &sent {
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.contains("x-auth-id: ma_org") && lower.contains("x-auth-token: vobiz-org-token-0004"),
            "{request}"
        );
    }
    let app_body: Value = serde_json::from_str(&sent[1][sent[1].find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(
        (app_body["app_name"].as_str(), app_body["answer_url"].as_str(), app_body["answer_method"].as_str()),
        (Some("Notice Line"), Some("https://voice.acme.io/answer?agent_id=notice_line"), Some("POST"))
    );
    assert_eq!(
        serde_json::from_str::<Value>(&sent[2][sent[2].find("\r\n\r\n").unwrap() + 4..]).unwrap()["application_id"],
        "app-77"
    );

    // The same page on Plivo: the original's `/plivo/...` paths, statuses and shapes, the org's Plivo account.
    let (status, numbers) = call("GET", "/api/v1/plivo/numbers", &token, None);
    assert_eq!(status, 200, "{numbers}");
    shape("getPlivoNumbers", &numbers, &[("status", "string"), ("numbers", "array")]);
    assert_eq!(numbers["items"][0]["application_id"], "29986316", "{numbers}");
    let app = json!({"agent_type": "Notice Line", "answer_url": "https://voice.acme.io/answer?agent_id=notice_line"});
    let (status, app) = call("POST", "/api/v1/plivo/application", &token, Some(app));
    assert_eq!(status, 201, "{app}");
    shape("createPlivoApplication", &app, &[("status", "string"), ("message", "string"), ("app_id", "string")]);
    assert_eq!(app["app_id"], "29986316");
    let link = json!({"phone_number": "+918000000043", "application_id": "29986316"});
    let (status, linked) = call("POST", "/api/v1/plivo/numbers/link", &token, Some(link));
    assert_eq!(status, 201, "{linked}");
    shape("linkPlivoNumber", &linked, &[("status", "string"), ("message", "string")]);
    let (status, unlinked) =
        call("DELETE", "/api/v1/plivo/numbers/unlink", &token, Some(json!({"phone_number": "+918000000043"})));
    assert_eq!(status, 200, "{unlinked}");
    let (status, gone) = call("DELETE", "/api/v1/plivo/application/29986316", &token, None);
    assert_eq!(status, 200, "{gone}");
    let sent = plivo_requests.join().unwrap();
    assert_eq!(sent.len(), 5, "{sent:#?}");
    for request in &sent {
        // Basic MA_PLIVO_ORG:plivo-org-token-0005 (the org's account, not the node's).
        assert!(request.contains("Basic TUFfUExJVk9fT1JHOnBsaXZvLW9yZy10b2tlbi0wMDA1"), "{request}");
    }
    let body_of = |request: &str| serde_json::from_str::<Value>(&request[request.find("\r\n\r\n").unwrap() + 4..]);
    assert_eq!(body_of(&sent[2]).unwrap()["app_id"], "29986316", "link: {}", sent[2]);
    assert_eq!(body_of(&sent[3]).unwrap()["app_id"], "", "unlink: {}", sent[3]);

    // Attach the number to the notice line; the org's numbers; a call to it.
    let attach = json!({"phone_number": "+918000000042", "provider": "Vobiz", "agent_type": "Notice Line"});
    let (status, attached) = call("POST", "/api/v1/phone-numbers/attach", &token, Some(attach));
    assert_eq!(status, 201, "{attached}");
    shape("attach", &attached, &[("status", "string"), ("message", "string")]);
    // The agent's number: one `PhoneNumberResponse` object (not a list), exactly its fields.
    let (status, by_agent) = call("GET", "/api/v1/phone-numbers/agent/Notice%20Line", &token, None);
    assert_eq!(status, 200, "{by_agent}");
    let mut fields: Vec<&str> =
        by_agent.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["agent_type", "created_at", "org_id", "phone_number", "provider", "updated_at"],
        "PhoneNumberResponse: {by_agent}"
    );
    assert_eq!(
        (by_agent["phone_number"].as_str(), by_agent["provider"].as_str(), by_agent["agent_type"].as_str()),
        (Some("+918000000042"), Some("Vobiz"), Some("Notice Line")),
        "{by_agent}"
    );
    let (status, none) = call("GET", "/api/v1/phone-numbers/agent/Sales%20Agent", &token, None);
    assert_eq!(status, 404, "an agent without a number: {none}");
    assert_eq!(none["detail"], "No phone number attached to this agent", "{none}");
    let (status, numbers) = call("GET", &format!("/api/v1/phone-numbers/org/{org}"), &token, None);
    assert_eq!(status, 200, "{numbers}");
    let number = &numbers.as_array().unwrap_or_else(|| panic!("PhoneNumber[]: {numbers}"))[0];
    shape(
        "PhoneNumber",
        number,
        &[("phone_number", "string"), ("provider", "string"), ("agent_type", "string"), ("org_id", "string")],
    );
    wait_agent_ready(&server, "notice_line");
    let record = call_record(&server, "918000000042");
    assert_eq!(record["agent"], "notice_line", "{record}");

    // History: the drop-downs, the page the tab asks for, the detail, the recording by ranges.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let (status, page) = call("GET", "/api/v1/meetings?page=1&limit=50", &token, None);
        assert_eq!(status, 200, "{page}");
        let done = page["items"][0]["end_time_utc"].is_string() && page["items"][0]["recording_url"].is_string();
        if done || std::time::Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    shape(
        "PaginatedMeetings",
        &page,
        &[("items", "array"), ("total", "number"), ("page", "number"), ("limit", "number")],
    );
    assert_eq!(
        (page["total"].as_u64(), page["page"].as_u64(), page["limit"].as_u64()),
        (Some(1), Some(1), Some(50)),
        "{page}"
    );
    let meeting = &page["items"][0];
    shape(
        "Meeting",
        meeting,
        &[
            ("meeting_id", "string"),
            ("agent_type", "string"),
            ("org_id", "string"),
            ("inbound", "boolean"),
            ("from_number", "string"),
            ("to_number", "string"),
            ("created_at", "string"),
            ("start_time_utc", "string"),
            ("end_time_utc", "string"),
            ("recording_url", "string"),
            ("transcript_url", "string?"),
            ("duration", "number"),
            ("call_busy", "boolean"),
        ],
    );
    assert_eq!((meeting["agent_type"].as_str(), meeting["org_id"].as_str()), (Some("Notice Line"), Some(org.as_str())));
    let (_, options) = call("GET", "/api/v1/meetings/filter-options", &token, None);
    shape(
        "MeetingFilterOptions",
        &options,
        &[("agent_types", "array"), ("from_numbers", "array"), ("to_numbers", "array")],
    );
    assert_eq!(options["agent_types"], json!(["Notice Line"]), "{options}");
    let (_, filtered) = call(
        "GET",
        "/api/v1/meetings?page=1&limit=50&agent_type=Notice%20Line&inbound=true&date_sort_order=latest",
        &token,
        None,
    );
    assert_eq!(filtered["total"], 1, "{filtered}");
    let id = meeting["meeting_id"].as_str().unwrap();
    let (status, detail) = call("GET", &format!("/api/v1/meetings/{id}"), &token, None);
    assert_eq!(status, 200, "{detail}");
    shape("MeetingDetails", &detail, &[("meeting_id", "string"), ("transcript", "array"), ("recording_url", "string")]);
    let said = detail["transcript"].as_array().unwrap();
    assert!(!said.is_empty(), "{detail}");
    for message in said {
        shape("TranscriptMessage", message, &[("role", "string"), ("content", "string"), ("timestamp", "string?")]);
        assert!(["user", "agent", "assistant", "human"].contains(&message["role"].as_str().unwrap()), "{message}");
    }
    assert!(said.iter().any(|m| m["content"] == "This is the Acme notice line."), "{detail}");
    let recording = format!("/api/v1/meetings/{id}/recording");
    let (status, head, whole) = get_raw(http, &recording, &token, "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: audio/wav") && head.contains("accept-ranges: bytes"), "{head}");
    assert!(whole.len() > 1000 && whole.starts_with(b"RIFF"), "{} bytes", whole.len());
    let (status, head, part) = get_raw(http, &recording, &token, "Range: bytes=100-199\r\n");
    assert_eq!(status, 206, "{head}");
    assert!(head.contains(&format!("content-range: bytes 100-199/{}", whole.len())), "{head}");
    assert_eq!(part, whole[100..200]);

    // Analytics, with the original's fields.
    let (status, analytics) = call("GET", "/api/v1/analytics", &token, None);
    assert_eq!(status, 200, "{analytics}");
    shape(
        "Analytics",
        &analytics,
        &[
            ("org_id", "string"),
            ("calls_attempted", "number"),
            ("calls_connected", "number"),
            ("average_call_duration", "number"),
            ("total_minutes_connected", "number"),
            ("most_used_agent", "string?"),
            ("most_used_agent_count", "number"),
            ("agent_breakdown", "array"),
            ("calculated_at", "string"),
            ("start_date", "string?"),
            ("end_date", "string?"),
        ],
    );
    assert_eq!(
        (analytics["calls_attempted"].as_u64(), analytics["most_used_agent"].as_str()),
        (Some(1), Some("Notice Line"))
    );
    shape("AgentBreakdown", &analytics["agent_breakdown"][0], &[("agent_type", "string"), ("call_count", "number")]);

    // Members.
    let (status, members) = call("GET", &format!("/api/v1/members/{org}"), &token, None);
    assert_eq!(status, 200, "{members}");
    shape("members", &members, &[("members", "array"), ("count", "number")]);
    shape(
        "Member",
        &members["members"][0],
        &[
            ("email", "string"),
            ("name", "string"),
            ("org_id", "string"),
            ("company_name", "string"),
            ("created_at", "string"),
            ("is_owner", "boolean"),
        ],
    );

    // Knowledge: upload (multipart `file` + `org_id`), list, delete.
    let (content_type, body) = multipart(&org, "faq.txt", "text/plain", b"Refunds take five working days.\n");
    let (status, uploaded, _) = send(http, "POST", "/api/v1/knowledge/upload", &token, &content_type, &body);
    assert_eq!(status, 201, "{uploaded}");
    shape(
        "KnowledgeUploadResponse",
        &uploaded,
        &[("document_id", "string"), ("org_id", "string"), ("original_filename", "string"), ("status", "string")],
    );
    let (_, documents) = call("GET", "/api/v1/knowledge", &token, None);
    let document = &documents.as_array().unwrap_or_else(|| panic!("KnowledgeDocument[]: {documents}"))[0];
    shape(
        "KnowledgeDocument",
        document,
        &[("document_id", "string"), ("org_id", "string"), ("original_filename", "string"), ("status", "string")],
    );
    let (status, removed) =
        call("DELETE", &format!("/api/v1/knowledge/{}", uploaded["document_id"].as_str().unwrap()), &token, None);
    assert_eq!((status, removed["deleted"].as_bool()), (200, Some(true)), "{removed}");

    // Deleting an agent the way the console does: by name in the query.
    let (status, deleted) = call("DELETE", "/api/v1/agents?agent_type=Sales%20Agent", &token, None);
    assert_eq!(status, 200, "{deleted}");
    shape("deleteAgent", &deleted, &[("status", "string"), ("message", "string")]);
    let (_, agents) = call("GET", &format!("/api/v1/agents/org/{org}"), &token, None);
    assert_eq!(agents.as_array().map(Vec::len), Some(1), "{agents}");
    drop(server);
    drop(mongo);
}

#[test]
fn the_original_consoles_flows_work_unchanged_on_sqlite() {
    replay("sqlite");
}

#[test]
fn the_original_consoles_flows_work_unchanged_on_mongodb() {
    replay("mongodb");
}
