//! The `voicera` binary: command-line wiring only. Each role lives in its own module.

mod agents;
mod agents_cli;
mod api_client;
mod calls;
mod campaign_cli;
mod campaign_provider;
mod campaigns;
mod config;
mod console;
mod keys_cli;
// Linux on x86-64 only: the check reads CPUID and runs from ELF's `.init_array`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod cpu_check;
mod live;
mod local;
mod migrate;
mod numbers;
mod provider_keys;
mod providers;
mod serve;
mod speech_models;
mod storage;
mod webhooks;

#[cfg(test)]
mod test_support {
    /// An empty directory `voicera-{name}-{pid}` under the system's temp dir (left over from an earlier run of
    /// the same process id: emptied first).
    pub(crate) fn fresh_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("voicera-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

use clap::{Parser, Subcommand};

use config::NodeArgs;

/// VoiceERA-rs: AI voice agents for SIP trunks and telephony media streams.
#[derive(Debug, Parser)]
#[command(name = "voicera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// All roles in one process, with embedded defaults.
    Serve(NodeArgs),
    /// SIP/RTP, media WebSockets and the conversation engine.
    Media(NodeArgs),
    /// REST API, console, webhooks and campaign dialer.
    Api(NodeArgs),
    /// Local model cache and engines: fetch, list, and try STT/TTS/LLM without a call.
    Models {
        #[command(subcommand)]
        command: local::ModelsCommand,
    },
    /// Place an outbound call with an agent, through the running server (owner credentials from the environment).
    Call(calls::CallArgs),
    /// Outbound campaigns over the running server's API: create (upload a contact list), run, status, stop.
    Campaign {
        #[command(subcommand)]
        command: campaign_cli::CampaignCommand,
    },
    /// Agents over the running server's API: list, get, create/update/apply from a file, delete.
    Agents {
        #[command(subcommand)]
        command: agents_cli::AgentsCommand,
    },
    /// API keys over the running server's API: list, create (shown once), revoke.
    Keys {
        #[command(subcommand)]
        command: keys_cli::KeysCommand,
    },
    /// Provider numbers and applications: list, buy, attach to an agent, detach.
    Numbers {
        #[command(subcommand)]
        command: numbers::NumbersCommand,
    },
    /// Cloud providers: check the keys in the environment.
    Providers {
        #[command(subcommand)]
        command: providers::ProvidersCommand,
    },
    /// Import an original VoicEra database (MongoDB) into this node's store.
    Migrate(migrate::MigrateArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and check the configuration, print the result, exit non-zero on errors.
    Check(NodeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args, serve::Role::All),
        Command::Media(args) => serve::run(args, serve::Role::Media),
        Command::Api(args) => serve::run(args, serve::Role::Api),
        Command::Models { command } => local::run(command),
        Command::Call(args) => calls::run(args),
        Command::Campaign { command } => campaign_cli::run(command),
        Command::Agents { command } => agents_cli::run(command),
        Command::Keys { command } => keys_cli::run(command),
        Command::Numbers { command } => numbers::run(command),
        Command::Providers { command } => providers::run(command),
        Command::Migrate(args) => migrate::run(args),
        Command::Config { command: ConfigCommand::Check(args) } => config::Config::load(&args).map(|config| {
            println!("configuration ok: {config:#?}");
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("voicera: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
