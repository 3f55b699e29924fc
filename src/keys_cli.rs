//! `voicera keys list|create|revoke`: an org's API keys for scripts over the running server's `/api/v1`
//! (`/api-keys`), through [`ApiClient`] (admins and owners). A new key's text is printed once, as the API
//! shows it once; it is stored only hashed.

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::api_client::{cell, path_segment, table, ApiClient, ServerArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// The org's API keys (without their secrets).
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a key; its text is printed this once (set it as VOICERA_API_KEY in the script using it).
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// A label: what uses the key.
        #[arg(long)]
        name: String,
        /// viewer, member (the server's default) or admin; at most your own role.
        #[arg(long)]
        role: Option<String>,
        /// Print the API's JSON answer (with the key) instead.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests with it fail from then on.
    Revoke {
        #[command(flatten)]
        server: ServerArgs,
        key_id: String,
    },
}

/// The keys as a table.
fn list_text(keys: &[Value]) -> String {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            ["key_id", "name", "role", "prefix", "created_by", "created_at", "revoked_at"]
                .iter()
                .map(|field| cell(&k[*field]))
                .collect()
        })
        .collect();
    table(&["KEY_ID", "NAME", "ROLE", "PREFIX", "CREATED_BY", "CREATED", "REVOKED"], &rows)
}

/// Runs a `voicera keys` subcommand.
pub(crate) fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::List { server, json } => {
            let client = ApiClient::connect(&server)?;
            let answer = client.send("GET", "/api-keys", None)?;
            if json {
                println!("{answer:#}");
            } else {
                print!("{}", list_text(answer["keys"].as_array().map(Vec::as_slice).unwrap_or_default()));
            }
        }
        KeysCommand::Create { server, name, role, json } => {
            let client = ApiClient::connect(&server)?;
            let mut body = json!({"name": name});
            if let Some(role) = role {
                body["role"] = Value::String(role);
            }
            let answer = client.send_json("POST", "/api-keys", &body)?;
            if json {
                println!("{answer:#}");
            } else {
                let key = answer["key"].as_str().context("the answer has no key")?;
                println!("key_id: {}", cell(&answer["key_id"]));
                println!("role: {}", cell(&answer["role"]));
                println!("key: {key}");
                eprintln!("the key is shown this once: keep it now (e.g. as VOICERA_API_KEY)");
            }
        }
        KeysCommand::Revoke { server, key_id } => {
            let path = format!("/api-keys/{}", path_segment("a key id (`voicera keys list` shows them)", &key_id)?);
            let client = ApiClient::connect(&server)?;
            client.send("DELETE", &path, None)?;
            println!("revoked key {key_id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_list_without_secrets_with_revocations() {
        let keys = [json!({"key_id": "0a1b", "name": "nightly", "role": "member", "prefix": "vk_0a1b",
                           "created_by": "o@x.io", "created_at": "2026-12-06T01:00:00.000Z", "revoked_at": null})];
        let text = list_text(&keys);
        assert!(text.starts_with("KEY_ID  NAME     ROLE    PREFIX   CREATED_BY"), "{text}");
        assert!(text.lines().nth(1).unwrap().ends_with("2026-12-06T01:00:00.000Z  -"), "{text}");
    }
}
