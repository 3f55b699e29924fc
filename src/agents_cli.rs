//! `voicera agents list|get|create|update|apply|delete`: an org's agents over the running server's `/api/v1`
//! (`/agents/...`), through [`ApiClient`]. Create, update and apply read the API's body (`agent_type`,
//! `agent_id`, `agent_config`, ...) from a JSON or TOML file; agents are addressed by their id. Output is a
//! table, or the API's JSON with `--json`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::Value;

use crate::api_client::{cell, path_segment, table, ApiClient, Refused, ServerArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// The org's agents: stored ones, and the read-only ones of voicera.toml (`source` config).
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One agent, by id.
    #[command(alias = "show")]
    Get {
        #[command(flatten)]
        server: ServerArgs,
        agent_id: String,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create an agent from a JSON or TOML file (`agent_type`, optional `agent_id`, `[agent_config]`).
    Create {
        #[command(flatten)]
        server: ServerArgs,
        file: PathBuf,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Change an agent (by id) to a JSON or TOML file's settings (`agent_config`, optionally a new
    /// `agent_type` name).
    Update {
        #[command(flatten)]
        server: ServerArgs,
        agent_id: String,
        file: PathBuf,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Create the file's agent, or update it when its `agent_id` exists (the file must name `agent_id`).
    Apply {
        #[command(flatten)]
        server: ServerArgs,
        file: PathBuf,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Delete an agent, by id (its numbers are detached).
    Delete {
        #[command(flatten)]
        server: ServerArgs,
        agent_id: String,
    },
}

fn agent_path(id: &str) -> Result<String> {
    Ok(format!("/agents/id/{}", path_segment("an agent id", id)?))
}

/// A model choice as the list shows it: `{"name": …, "model": …}` objects (the original's) or names.
fn model_cell(value: &Value) -> String {
    match value {
        Value::Object(model) => match (model.get("name"), model.get("model").and_then(Value::as_str)) {
            (Some(name), Some(m)) if !m.is_empty() => format!("{}:{m}", cell(name)),
            (Some(name), _) => cell(name),
            _ => cell(&Value::Null),
        },
        Value::Array(links) => links.iter().map(model_cell).collect::<Vec<_>>().join(" > "),
        other => cell(other),
    }
}

/// The agents as a table.
fn list_text(agents: &[Value]) -> String {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            let config = &a["agent_config"];
            vec![
                cell(&a["agent_id"]),
                cell(&a["agent_type"]),
                cell(&a["source"]),
                cell(&a["phone_number"]),
                cell(&config["language"]),
                model_cell(&config["llm_model"]),
                cell(&a["updated_at"]),
            ]
        })
        .collect();
    table(&["AGENT_ID", "NAME", "SOURCE", "NUMBER", "LANGUAGE", "LLM", "UPDATED"], &rows)
}

/// One agent as a two-column table of its main settings.
fn agent_text(agent: &Value) -> String {
    let config = &agent["agent_config"];
    let rows: Vec<Vec<String>> = [
        ("agent_id", cell(&agent["agent_id"])),
        ("name", cell(&agent["agent_type"])),
        ("source", cell(&agent["source"])),
        ("phone_number", cell(&agent["phone_number"])),
        ("interaction_mode", cell(&config["interaction_mode"])),
        ("language", cell(&config["language"])),
        ("llm_model", model_cell(&config["llm_model"])),
        ("stt_model", model_cell(&config["stt_model"])),
        ("tts_model", model_cell(&config["tts_model"])),
        ("greeting_message", cell(&config["greeting_message"])),
        ("updated_at", cell(&agent["updated_at"])),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v])
    .collect();
    table(&["FIELD", "VALUE"], &rows)
}

/// Prints a write's answer: its JSON, or one line naming the agent.
fn report(answer: &Value, json: bool, done: &str) {
    if json {
        println!("{answer:#}");
    } else {
        let agent = &answer["agent"];
        println!("{done} agent {} ({})", cell(&agent["agent_id"]), cell(&agent["agent_type"]));
    }
}

/// Runs a `voicera agents` subcommand.
pub(crate) fn run(command: AgentsCommand) -> Result<()> {
    match command {
        AgentsCommand::List { server, json } => {
            let client = ApiClient::connect(&server)?;
            let me = client.send("GET", "/users/me", None)?;
            let org = me["org_id"].as_str().context("the account answer has no org_id")?;
            let agents = client.send("GET", &format!("/agents/org/{}", path_segment("an org id", org)?), None)?;
            if json {
                println!("{agents:#}");
            } else {
                print!("{}", list_text(agents.as_array().map(Vec::as_slice).unwrap_or_default()));
            }
        }
        AgentsCommand::Get { server, agent_id, json } => {
            let client = ApiClient::connect(&server)?;
            let agent = client.send("GET", &agent_path(&agent_id)?, None)?;
            if json {
                println!("{agent:#}");
            } else {
                print!("{}", agent_text(&agent));
            }
        }
        AgentsCommand::Create { server, file, json } => {
            let body = crate::api_client::body_file(&file)?;
            let client = ApiClient::connect(&server)?;
            report(&client.send_json("POST", "/agents", &body)?, json, "created");
        }
        AgentsCommand::Update { server, agent_id, file, json } => {
            let body = crate::api_client::body_file(&file)?;
            let path = agent_path(&agent_id)?;
            let client = ApiClient::connect(&server)?;
            report(&client.send_json("PUT", &path, &body)?, json, "updated");
        }
        AgentsCommand::Apply { server, file, json } => {
            let mut body = crate::api_client::body_file(&file)?;
            let Some(id) = body["agent_id"].as_str().map(str::to_string) else {
                bail!("{} names no agent_id: apply needs it to find the agent (or use create)", file.display());
            };
            let path = agent_path(&id)?;
            let client = ApiClient::connect(&server)?;
            match client.send("GET", &path, None) {
                Ok(_) => {
                    // The update body takes no id (the path names the agent).
                    if let Some(map) = body.as_object_mut() {
                        map.remove("agent_id");
                        map.remove("org_id");
                    }
                    report(&client.send_json("PUT", &path, &body)?, json, "updated");
                }
                Err(err) if err.downcast_ref::<Refused>().is_some_and(|r| r.status == 404) => {
                    report(&client.send_json("POST", "/agents", &body)?, json, "created");
                }
                Err(err) => return Err(err),
            }
        }
        AgentsCommand::Delete { server, agent_id } => {
            let path = agent_path(&agent_id)?;
            let client = ApiClient::connect(&server)?;
            client.send("DELETE", &path, None)?;
            println!("deleted agent {agent_id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agents_show_as_tables_with_their_models() {
        let agents = [
            json!({"agent_id": "sales", "agent_type": "Sales Agent", "source": "store", "phone_number": "+918000000001",
                   "updated_at": "2026-12-06T01:00:00.000Z",
                   "agent_config": {"language": "en", "llm_model": {"name": "OpenAI", "model": "gpt-4o"}}}),
            json!({"agent_id": "desk", "agent_type": "desk", "source": "config",
                   "agent_config": {"llm_model": ["openai:gpt-4o-mini", "smollm2-135m"]}}),
        ];
        let text = list_text(&agents);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>()[..3], ["AGENT_ID", "NAME", "SOURCE"]);
        assert!(
            lines[1].starts_with("sales     Sales Agent  store   +918000000001  en        OpenAI:gpt-4o"),
            "{text}"
        );
        assert!(lines[2].contains("openai:gpt-4o-mini > smollm2-135m"), "{text}");
        let one = agent_text(&agents[0]);
        assert!(one.contains("\nllm_model         OpenAI:gpt-4o\n"), "{one}");
        assert!(agent_path("../x").is_err());
    }
}
