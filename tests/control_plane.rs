//! The control-plane API served by the binary: the owner from `VOICERA_ADMIN_EMAIL`/`VOICERA_ADMIN_PASSWORD`
//! exists from the first start and logs in; its token reads `users/me` and creates an agent that the same
//! compile step as `[[agents]]` checked (a wrong field is a 422 naming it); strangers get 401; the OpenAPI
//! document is served. (The API's own suite, on SQLite and MongoDB, is `api/tests/control_plane.rs`.)

mod common;

use common::api::{request, OWNER};
use common::Server;
use serde_json::json;

#[test]
fn the_owner_logs_in_and_manages_agents_over_the_served_api() {
    let server = Server::start_env("control-plane", "", false, &OWNER);
    let (status, _) = request(server.http, "GET", "/api/v1/users/me", "", None);
    assert_eq!(status, 401, "a stranger is nobody");
    let (status, _) = request(server.http, "GET", "/api/v1/agents/org/any", "", None);
    assert_eq!(status, 401, "a stranger reads no agents");
    let (status, document) = request(server.http, "GET", "/api/v1/openapi.json", "", None);
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{document}");

    let login = json!({"email": OWNER[0].1, "password": OWNER[1].1});
    let (status, session) = request(server.http, "POST", "/api/v1/users/login", "", Some(login));
    assert_eq!(status, 200, "{session}");
    let token = session["access_token"].as_str().expect("an access token").to_string();
    let (status, me) = request(server.http, "GET", "/api/v1/users/me", &token, None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER[0].1);
    assert_eq!(me["is_owner"], true);
    let wrong = json!({"email": OWNER[0].1, "password": "not-the-password"});
    assert_eq!(request(server.http, "POST", "/api/v1/users/login", "", Some(wrong)).0, 401);

    // An agent whose config the `[[agents]]` compile step refuses: 422 naming the field.
    let org = me["org_id"].as_str().unwrap().to_string();
    let bad = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help.", "greeting_message": "Hi.", "llm_model": {"name": "no-such-model"}}});
    let (status, error) = request(server.http, "POST", "/api/v1/agents", &token, Some(bad));
    assert_eq!(status, 422, "{error}");
    assert!(error["field"].as_str().is_some_and(|f| f.contains("llm_model")), "{error}");
    let good = json!({"agent_type": "support", "org_id": org, "agent_config": {
        "system_prompt": "You help callers of Acme.", "greeting_message": "Hello, Acme here.",
        "llm_model": {"name": "smollm2-135m"}, "language": "en"}});
    let (status, created) = request(server.http, "POST", "/api/v1/agents", &token, Some(good));
    assert!(status == 200 || status == 201, "{status} {created}");
    let (status, listed) = request(server.http, "GET", &format!("/api/v1/agents/org/{org}"), &token, None);
    assert_eq!(status, 200, "{listed}");
    assert!(listed.to_string().contains("support"), "{listed}");
}

/// `voicera <args>` (the built binary) against `server`'s API: as the owner, or with `api_key` when given.
/// (success, stdout, stderr).
fn cli(server: &Server, api_key: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_voicera"));
    command.args(args).env("VOICERA_URL", format!("http://{}", server.http)).current_dir(&server.dir);
    match api_key {
        Some(key) => command.env("VOICERA_API_KEY", key).env_remove("VOICERA_ADMIN_EMAIL"),
        None => command.env_remove("VOICERA_API_KEY").envs(OWNER),
    };
    let out = command.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The operator's commands over the served API: `voicera keys` makes a key (shown once), lists it without its
/// secret and revokes it; with the key, `voicera agents` creates an agent from a TOML file, lists it, shows it
/// (table and `--json`), updates it from a JSON file, applies files (update, then create), deletes one; the
/// API's refusals print `detail (field F; HTTP N)` and exit 1: a field the compile step refuses (422), a
/// viewer's write (403), a missing agent (404), a revoked key (401).
#[test]
fn the_agents_and_keys_commands_manage_the_org_over_the_api() {
    let server = Server::start_env("operator-cli", "", false, &OWNER);
    let (ok, out, err) = cli(&server, None, &["keys", "create", "--name", "nightly sync", "--role", "admin"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("shown this once"), "{err}");
    let field = |name: &str| {
        out.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_else(|| panic!("{name} in {out}"))
    };
    let (key, key_id) = (field("key").to_string(), field("key_id").to_string());
    assert_eq!(field("role"), "admin");
    let (ok, listed, err) = cli(&server, None, &["keys", "list"]);
    assert!(ok, "{listed}{err}");
    assert!(listed.starts_with("KEY_ID") && listed.contains(&key_id) && listed.contains("nightly sync"), "{listed}");
    assert!(!listed.contains(&key), "the key's text is never listed: {listed}");

    let toml = "agent_type = \"Support Desk\"\n\n[agent_config]\nsystem_prompt = \"You read notices.\"\n\
                greeting_message = \"Support desk notice.\"\nlanguage = \"en\"\ninteraction_mode = \"non_conversational\"\n\n\
                [agent_config.llm_model]\nname = \"smollm2-135m\"\n";
    std::fs::write(server.dir.join("desk.toml"), toml).unwrap();
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "create", "desk.toml"]);
    assert!(ok, "{out}{err}\n{}", server.log());
    assert_eq!(out.trim(), "created agent support_desk (Support Desk)");
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "list"]);
    assert!(ok, "{out}{err}");
    let row = out.lines().find(|l| l.starts_with("support_desk ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("Support Desk") && row.contains(" store ") && row.contains("smollm2-135m"), "{out}");
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "get", "support_desk", "--json"]);
    assert!(ok, "{out}{err}");
    let agent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(agent["agent_config"]["greeting_message"], "Support desk notice.");

    let update = json!({"agent_config": {"system_prompt": "You read notices.", "greeting_message": "New notice.",
                        "language": "en", "llm_model": {"name": "smollm2-135m"}, "interaction_mode": "non_conversational"}});
    std::fs::write(server.dir.join("update.json"), update.to_string()).unwrap();
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "update", "support_desk", "update.json"]);
    assert!(ok && out.trim() == "updated agent support_desk (Support Desk)", "{out}{err}");
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "show", "support_desk"]);
    assert!(ok && out.lines().any(|l| l.starts_with("greeting_message") && l.ends_with("New notice.")), "{out}{err}");

    // apply: the file's agent_id exists → update; it does not → create.
    let mut applied = update.clone();
    applied["agent_type"] = json!("Support Desk");
    applied["agent_id"] = json!("support_desk");
    applied["agent_config"]["greeting_message"] = json!("Applied notice.");
    std::fs::write(server.dir.join("apply.json"), applied.to_string()).unwrap();
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "apply", "apply.json"]);
    assert!(ok && out.trim() == "updated agent support_desk (Support Desk)", "{out}{err}");
    applied["agent_type"] = json!("Night Desk");
    applied["agent_id"] = json!("night_desk");
    std::fs::write(server.dir.join("apply.json"), applied.to_string()).unwrap();
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "apply", "apply.json"]);
    assert!(ok && out.trim() == "created agent night_desk (Night Desk)", "{out}{err}");
    let (_, out, _) = cli(&server, Some(&key), &["agents", "get", "support_desk", "--json"]);
    let agent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(agent["agent_config"]["greeting_message"], "Applied notice.");

    // Refusals: detail, field and status; exit 1.
    std::fs::write(server.dir.join("bad.toml"), toml.replace("language = \"en\"", "language = \"xx-nowhere\""))
        .unwrap();
    let (ok, out, err) = cli(&server, Some(&key), &["agents", "create", "bad.toml"]);
    assert!(!ok && out.is_empty(), "{out}{err}");
    assert!(err.starts_with("voicera: error: ") && err.contains("(field agent_config.language; HTTP 422)"), "{err}");
    let (ok, out, err) = cli(&server, None, &["keys", "create", "--name", "dashboard", "--role", "viewer"]);
    assert!(ok, "{out}{err}");
    let viewer = out.lines().find_map(|l| l.strip_prefix("key: ")).unwrap().to_string();
    let (ok, _, err) = cli(&server, Some(&viewer), &["agents", "delete", "night_desk"]);
    assert!(!ok && err.contains("(HTTP 403)"), "{err}");
    let (ok, out, err) = cli(&server, Some(&viewer), &["agents", "list"]);
    assert!(ok && out.contains("night_desk"), "a viewer reads: {out}{err}");

    let (ok, out, err) = cli(&server, Some(&key), &["agents", "delete", "night_desk"]);
    assert!(ok && out.trim() == "deleted agent night_desk", "{out}{err}");
    let (ok, _, err) = cli(&server, Some(&key), &["agents", "get", "night_desk"]);
    assert!(!ok && err.contains("(HTTP 404)"), "{err}");
    let (ok, _, err) = cli(&server, Some(&key), &["agents", "get", "../users"]);
    assert!(!ok && err.contains("is not an agent id"), "{err}");

    let (ok, out, err) = cli(&server, None, &["keys", "revoke", &key_id]);
    assert!(ok && out.trim() == format!("revoked key {key_id}"), "{out}{err}");
    let (ok, _, err) = cli(&server, Some(&key), &["agents", "list"]);
    assert!(!ok && err.contains("(HTTP 401)"), "a revoked key works no more: {err}");
    let (ok, out, _) = cli(&server, None, &["keys", "list"]);
    let revoked = out.lines().find(|l| l.starts_with(&key_id)).unwrap();
    assert!(ok && !revoked.ends_with(" -"), "the list shows when it was revoked: {out}");
}

/// A one-message SMTP server on loopback (clear text, AUTH PLAIN): the lines it received, DATA included.
fn smtp_server() -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let mut writer = socket.try_clone().unwrap();
        let mut reader = BufReader::new(socket);
        writer.write_all(b"220 tiny ESMTP\r\n").unwrap();
        let (mut seen, mut in_data) = (Vec::new(), false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            seen.push(line.clone());
            let reply: &[u8] = match line.as_str() {
                "." if in_data => {
                    in_data = false;
                    b"250 queued\r\n"
                }
                _ if in_data => continue,
                l if l.starts_with("EHLO") => b"250-tiny\r\n250 AUTH PLAIN\r\n",
                l if l.starts_with("AUTH PLAIN") => b"235 ok\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go on\r\n"
                }
                "QUIT" => {
                    writer.write_all(b"221 bye\r\n").unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            writer.write_all(reply).unwrap();
        }
        seen
    });
    (port, handle)
}

/// `[smtp]`: a password-reset mail goes to the configured server (a loopback relay, clear text allowed
/// there), authenticated with the password from the variable `password_env` names, from `from`; bad settings
/// stop `voicera config check` with the key named.
#[test]
fn reset_mail_goes_through_the_smtp_table_and_bad_settings_name_the_key() {
    use base64::Engine;
    let (port, received) = smtp_server();
    let config = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nstarttls = false\nusername = \"mailer\"\n\
         password_env = \"VOICERA_TEST_SMTP_PASSWORD\"\nfrom = \"Acme Voice <noreply@acme.io>\"\n"
    );
    let mut env = OWNER.to_vec();
    env.push(("VOICERA_TEST_SMTP_PASSWORD", "relay-pass-77"));
    let server = Server::start_env("smtp-table", &config, false, &env);
    let (status, answer) =
        request(server.http, "POST", "/api/v1/users/forgot-password", "", Some(json!({"email": OWNER[0].1})));
    assert_eq!(status, 200, "{answer}");
    let seen = received.join().unwrap();
    let auth = seen.iter().find_map(|l| l.strip_prefix("AUTH PLAIN ")).unwrap_or_else(|| panic!("{seen:?}"));
    let decoded = base64::engine::general_purpose::STANDARD.decode(auth).unwrap();
    assert_eq!(decoded, b"\0mailer\0relay-pass-77");
    assert!(seen.contains(&"MAIL FROM:<noreply@acme.io>".to_string()), "{seen:?}");
    assert!(seen.contains(&format!("RCPT TO:<{}>", OWNER[0].1)), "{seen:?}");
    assert!(seen.iter().any(|l| l == "From: Acme Voice <noreply@acme.io>"), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("/reset-password?token=")), "the reset link: {seen:?}");
    assert!(!server.log().contains("relay-pass-77"), "the password is never logged");
    drop(server);

    let dir = common::test_dir("smtp-errors");
    for (table, key) in [
        ("host = \"smtp.acme.io\"\nstarttls = false\n", "smtp.starttls"),
        (
            "host = \"smtp.acme.io\"\nusername = \"mailer\"\npassword_env = \"VOICERA_TEST_UNSET_PASSWORD\"\n",
            "smtp.password_env",
        ),
        ("host = \"smtp.acme.io\"\nport = 70000\n", "smtp.port"),
    ] {
        std::fs::write(dir.join("voicera.toml"), format!("[smtp]\n{table}")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_voicera"))
            .args(["config", "check", "--config", "voicera.toml", "--data-dir", "data"])
            .env_remove("VOICERA_TEST_UNSET_PASSWORD")
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&format!("{key}: ")), "{table}: {err}");
    }
}
