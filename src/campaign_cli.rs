//! `voicera campaign create|run|status|stop`: campaigns over the running server's `/api/v1` (the batches and
//! campaigns routes), as an operator's script would use them, through [`ApiClient`] (address and credentials
//! from the environment). A refusal prints the API's `detail` (and the field it names) and exits non-zero.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{Map, Value};

use crate::api_client::{ApiClient, ServerArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum CampaignCommand {
    /// Upload a contact list (CSV with a `contact_number` column; the other columns fill the agent's
    /// `{{contact.<column>}}`) as a new campaign, with its settings. Prints the batch id first.
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// The CSV file.
        #[arg(long)]
        file: PathBuf,
        /// The campaign's (batch's) name, unique in the org.
        #[arg(long)]
        name: String,
        /// The agent that talks on the calls (its id or name).
        #[arg(long)]
        agent: String,
        /// ISO country for numbers written without `+` (the server's default is IN).
        #[arg(long)]
        country: Option<String>,
        /// Numbers never to call, separated by commas.
        #[arg(long)]
        do_not_call: Option<String>,
        /// The `[[trunks]]` entry the calls go through.
        #[arg(long)]
        trunk: Option<String>,
        /// Caller id (the trunk's username when absent).
        #[arg(long)]
        caller_id: Option<String>,
        /// Calls up at once, at most.
        #[arg(long)]
        max_live_calls: Option<u32>,
        /// New calls per second, at most.
        #[arg(long)]
        calls_per_second: Option<u32>,
        /// Seconds a call may ring before it counts as no-answer.
        #[arg(long)]
        ring_timeout: Option<u32>,
        /// More settings as a JSON file (the body of `PUT /api/v1/campaigns/{id}`: windows, days, retry…);
        /// the flags above take precedence.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
    /// Start dialling a campaign now.
    Run {
        #[command(flatten)]
        server: ServerArgs,
        /// The batch id `create` printed.
        batch_id: String,
    },
    /// A campaign's state, progress and counts per disposition.
    Status {
        #[command(flatten)]
        server: ServerArgs,
        batch_id: String,
        /// Print the API's JSON view instead.
        #[arg(long)]
        json: bool,
    },
    /// Stop a campaign: no new calls; live calls finish.
    Stop {
        #[command(flatten)]
        server: ServerArgs,
        batch_id: String,
    },
}

/// Runs a `voicera campaign` subcommand.
pub(crate) fn run(command: CampaignCommand) -> Result<()> {
    match command {
        CampaignCommand::Create {
            server,
            file,
            name,
            agent,
            country,
            do_not_call,
            trunk,
            caller_id,
            max_live_calls,
            calls_per_second,
            ring_timeout,
            settings,
        } => {
            let csv = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut settings_body = match &settings {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                    match serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))? {
                        Value::Object(map) => map,
                        _ => bail!("{} must hold a JSON object of campaign settings", path.display()),
                    }
                }
                None => Map::new(),
            };
            let flags = [
                ("trunk", trunk.map(Value::from)),
                ("caller_id", caller_id.map(Value::from)),
                ("max_live_calls", max_live_calls.map(Value::from)),
                ("calls_per_second", calls_per_second.map(Value::from)),
                ("ring_timeout_seconds", ring_timeout.map(Value::from)),
            ];
            for (key, value) in flags {
                if let Some(value) = value {
                    settings_body.insert(key.to_string(), value);
                }
            }
            let client = ApiClient::connect(&server)?;
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("batch_name", &name).append_pair("agent_type", &agent);
            if let Some(country) = &country {
                query.append_pair("default_country", country);
            }
            if let Some(dnc) = &do_not_call {
                query.append_pair("do_not_call", dnc);
            }
            let uploaded =
                client.send("POST", &format!("/batches/upload?{}", query.finish()), Some(("text/csv", csv)))?;
            let batch = uploaded["batch_id"].as_str().context("the upload answer has no batch_id")?.to_string();
            println!("batch_id: {batch}");
            println!(
                "contacts: {} to call, {} invalid, {} duplicate, {} do-not-call",
                uploaded["valid_contacts"],
                uploaded["invalid_contacts"],
                uploaded["duplicate_contacts"],
                uploaded["dnc_contacts"]
            );
            for row in uploaded["rejected_rows"].as_array().into_iter().flatten() {
                println!(
                    "rejected line {}: {} ({})",
                    row["line"],
                    row["contact_number"],
                    row["reason"].as_str().unwrap_or_default()
                );
            }
            if !settings_body.is_empty() {
                let body = Value::Object(settings_body).to_string().into_bytes();
                client
                    .send("PUT", &format!("/campaigns/{batch}"), Some(("application/json", body)))
                    .with_context(|| format!("batch {batch} was uploaded, but its settings were refused"))?;
                println!("settings saved");
            }
            Ok(())
        }
        CampaignCommand::Run { server, batch_id } => {
            let client = ApiClient::connect(&server)?;
            let answer = client.send("POST", &format!("/batches/{}/run", path_segment(&batch_id)?), None)?;
            println!("batch {batch_id}: {}", answer["batch"]["execution_status"].as_str().unwrap_or("running"));
            Ok(())
        }
        CampaignCommand::Stop { server, batch_id } => {
            let client = ApiClient::connect(&server)?;
            let answer = client.send("POST", &format!("/batches/{}/stop", path_segment(&batch_id)?), None)?;
            println!("batch {batch_id}: {}", answer["batch"]["execution_status"].as_str().unwrap_or("stopping"));
            Ok(())
        }
        CampaignCommand::Status { server, batch_id, json } => {
            let client = ApiClient::connect(&server)?;
            let view = client.send("GET", &format!("/batches/{}", path_segment(&batch_id)?), None)?;
            if json {
                println!("{view:#}");
            } else {
                print!("{}", status_text(&view));
            }
            Ok(())
        }
    }
}

/// A batch id as one URL path segment (`create` prints it).
fn path_segment(id: &str) -> Result<&str> {
    crate::api_client::path_segment("a batch id (`voicera campaign create` prints it)", id)
}

/// The lines `status` prints for a batch's view (`GET /api/v1/batches/{id}`).
fn status_text(view: &Value) -> String {
    let progress = &view["progress"];
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = format!(
        "batch {} ({}): {}\n",
        view["batch_id"].as_str().unwrap_or_default(),
        view["batch_name"].as_str().unwrap_or_default(),
        view["execution_status"].as_str().unwrap_or("unknown"),
    );
    out.push_str(&format!(
        "progress: {}/{} done ({}%), {} dialling, {} queued",
        number(&progress["done"]),
        number(&progress["contacts"]),
        progress["percent_done"].as_f64().unwrap_or(0.0),
        number(&progress["dialing"]),
        number(&progress["queued"]),
    ));
    if let Some(eta) = progress["eta_seconds"].as_u64() {
        out.push_str(&format!(", about {eta} s left"));
    }
    out.push('\n');
    out.push_str(&format!(
        "calls: {} attempted, {} successful, {} failed\n",
        number(&view["attempted_calls"]),
        number(&view["successful_calls"]),
        number(&view["failed_calls"]),
    ));
    for (disposition, count) in progress["by_outcome"].as_object().into_iter().flatten() {
        out.push_str(&format!("{disposition}: {}\n", number(count)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_shows_progress_and_counts_per_disposition() {
        let view = json!({"batch_id": "b1", "batch_name": "spring", "execution_status": "running",
            "attempted_calls": 5, "successful_calls": 2, "failed_calls": 1,
            "progress": {"contacts": 5, "done": 3, "dialing": 1, "queued": 1, "percent_done": 60.0, "eta_seconds": 12,
                         "by_outcome": {"answered-human": 2, "busy": 1}}});
        assert_eq!(
            status_text(&view),
            "batch b1 (spring): running\nprogress: 3/5 done (60%), 1 dialling, 1 queued, about 12 s left\n\
             calls: 5 attempted, 2 successful, 1 failed\nanswered-human: 2\nbusy: 1\n"
        );
        assert_eq!(path_segment("9f3a_b-1").unwrap(), "9f3a_b-1");
        assert!(path_segment("../users").is_err() && path_segment("").is_err());
    }
}
