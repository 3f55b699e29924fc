//! The client the operator commands (`voicera campaign`, `voicera agents`, `voicera keys`) share to talk to a
//! running server's `/api/v1`: the server's address is `--url` or `VOICERA_URL` (default
//! `http://127.0.0.1:8080`); the credentials an API key (`VOICERA_API_KEY`), or the owner's
//! `VOICERA_ADMIN_EMAIL`/`VOICERA_ADMIN_PASSWORD`, logged in for an access token. A refusal becomes an error
//! reading `detail (field F; HTTP N)`, which `main` prints before exiting 1.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::calls::owner_from_env;

/// Where the server is; shared by every subcommand.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "VOICERA_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// Send the credentials over plain `http://` to a host other than this machine (they cross the network
    /// readable by anyone on the path); without it such a URL is refused.
    #[arg(long, env = "VOICERA_INSECURE")]
    pub(crate) insecure: bool,
}

/// The API's refusal of a request: its HTTP status, `detail` and the `field` it names.
#[derive(Debug, thiserror::Error)]
#[error("{detail} ({}HTTP {status})", .field.as_deref().map(|f| format!("field {f}; ")).unwrap_or_default())]
pub(crate) struct Refused {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The API's `detail` (or the body's text).
    pub(crate) detail: String,
    /// The request field it names.
    pub(crate) field: Option<String>,
}

/// An authenticated client of the server's `/api/v1`.
pub(crate) struct ApiClient {
    base: String,
    http: ureq::Agent,
    bearer: String,
}

impl ApiClient {
    /// Connects with `VOICERA_API_KEY`, or logs the owner in.
    pub(crate) fn connect(server: &ServerArgs) -> Result<ApiClient> {
        if !server.insecure && !cleartext_is_safe(&server.url) {
            bail!(
                "{} is plain http to another machine: the API key or password would cross the network in clear \
                 text; use https://, or --insecure (VOICERA_INSECURE=true) if the path is private",
                server.url
            );
        }
        let base = format!("{}/api/v1", server.url.trim_end_matches('/'));
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut client = ApiClient { base, http, bearer: String::new() };
        if let Some(key) = std::env::var("VOICERA_API_KEY").ok().filter(|k| !k.is_empty()) {
            client.bearer = key;
            return Ok(client);
        }
        let (email, password) = owner_from_env()
            .context("set VOICERA_API_KEY, or VOICERA_ADMIN_EMAIL and VOICERA_ADMIN_PASSWORD, to use the API")?;
        let session = client.send(
            "POST",
            "/users/login",
            Some(("application/json", json!({"email": email, "password": password}).to_string().into_bytes())),
        )?;
        client.bearer = session["access_token"].as_str().context("the login answer has no access_token")?.to_string();
        Ok(client)
    }

    /// One request; the answer's JSON, or the API's `detail` as the error.
    pub(crate) fn send(&self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.bearer);
        let reached = match (method, body) {
            ("GET", _) => self.http.get(&url).header("Authorization", &auth).call(),
            ("DELETE", None) => self.http.delete(&url).header("Authorization", &auth).call(),
            (_, body) => {
                let (content_type, bytes) = body.unwrap_or(("application/json", b"{}".to_vec()));
                let request = match method {
                    "PUT" => self.http.put(&url),
                    "DELETE" => self.http.delete(&url).force_send_body(),
                    _ => self.http.post(&url),
                };
                request.header("Authorization", &auth).header("Content-Type", content_type).send(&bytes[..])
            }
        };
        let mut response = reached.with_context(|| format!("cannot reach the server at {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let detail = value["detail"].as_str().map(str::to_string).unwrap_or_else(|| text.trim().to_string());
            return Err(Refused { status, detail, field: value["field"].as_str().map(str::to_string) }.into());
        }
        Ok(value)
    }

    /// One request with a JSON body.
    pub(crate) fn send_json(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        self.send(method, path, Some(("application/json", body.to_string().into_bytes())))
    }
}

/// Whether credentials may go to `url`: over TLS anywhere, in clear text only to this machine (loopback).
fn cleartext_is_safe(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return true };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An id from the command line as one URL path segment: ids are letters, digits, `-` and `_` (what the server
/// hands out), so anything else is a mistake, not something to escape. `what` names the id in the error.
pub(crate) fn path_segment<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
        bail!("{id:?} is not {what} (letters, digits, '-' and '_')");
    }
    Ok(id)
}

/// A request body from a file: JSON, or TOML when the name ends in `.toml` (tables become JSON objects).
pub(crate) fn body_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
        let table: toml::Table = toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
        serde_json::to_value(table).with_context(|| format!("{} holds values JSON cannot carry", path.display()))?
    } else {
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    };
    if !value.is_object() {
        bail!("{} must hold one object (a table in TOML)", path.display());
    }
    Ok(value)
}

/// Rows as a table: each column as wide as its widest cell, two spaces apart.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// A JSON value as a table cell: text as is, null/missing as `-`.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) if text.is_empty() => "-".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_cells_show_missing_values_as_dashes() {
        let rows = vec![vec!["sales".to_string(), "Sales Agent".to_string()], vec!["x".into(), cell(&Value::Null)]];
        assert_eq!(table(&["ID", "NAME"], &rows), "ID     NAME\nsales  Sales Agent\nx      -\n");
        assert_eq!(path_segment("an agent id", "sales_2-x").unwrap(), "sales_2-x");
        assert!(path_segment("an agent id", "../users").is_err() && path_segment("an agent id", "").is_err());
        let refused = Refused { status: 422, detail: "bad".into(), field: Some("agent_config.language".into()) };
        assert_eq!(refused.to_string(), "bad (field agent_config.language; HTTP 422)");
        assert_eq!(Refused { status: 404, detail: "no".into(), field: None }.to_string(), "no (HTTP 404)");
    }

    #[test]
    fn bodies_come_from_json_or_toml_files() {
        let dir = std::env::temp_dir().join(format!("voicera-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_file = dir.join("agent.toml");
        std::fs::write(&toml_file, "agent_type = \"Sales\"\n[agent_config]\nlanguage = \"en\"\nhold = [\"a\"]\n")
            .unwrap();
        assert_eq!(
            body_file(&toml_file).unwrap(),
            json!({"agent_type": "Sales", "agent_config": {"language": "en", "hold": ["a"]}})
        );
        let json_file = dir.join("agent.json");
        std::fs::write(&json_file, "[1]").unwrap();
        assert!(body_file(&json_file).unwrap_err().to_string().contains("must hold one object"));
        std::fs::write(&json_file, "{\"agent_type\": \"x\"}").unwrap();
        assert_eq!(body_file(&json_file).unwrap()["agent_type"], "x");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn credentials_go_in_clear_text_only_to_this_machine() {
        for url in ["http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080", "http://127.0.0.2"] {
            assert!(cleartext_is_safe(url), "{url}");
        }
        assert!(cleartext_is_safe("https://voice.example.com"));
        for url in ["http://voice.example.com", "http://10.0.0.5:8080", "http://[2001:db8::1]:80/api"] {
            assert!(!cleartext_is_safe(url), "{url}");
        }
    }
}
