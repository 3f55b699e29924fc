//! `voicera numbers`: the provider-side wiring the original VoicEra did from its console — list the account's
//! numbers, buy one, and attach a number to an agent (an application whose answer URL is this node's
//! `/telephony/{provider}/answer?agent_id=…`) or detach it. Uses the provider accounts of `voicera.toml`
//! (`[telephony.<provider>]`, or the `VOICERA_<PROVIDER>_AUTH_ID/_TOKEN` environment) and `--public-url`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use voicera_carrier_rest::{Provider, ProviderRest};

use crate::config::{Config, NodeArgs};

/// The provider account every subcommand works on, and the node configuration that holds it.
#[derive(Debug, Args)]
pub(crate) struct Account {
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NumbersCommand {
    /// The account's numbers and the application each is attached to.
    List {
        #[command(flatten)]
        account: Account,
    },
    /// Rent a number (Plivo, Twilio; Vobiz sells numbers in its console).
    Buy {
        #[command(flatten)]
        account: Account,
        #[arg(long)]
        number: String,
    },
    /// Send a number's calls to an agent: creates the application `voicera-<agent>` with this node's answer
    /// URL (or points `--app` at it), then attaches the number.
    Attach {
        #[command(flatten)]
        account: Account,
        #[arg(long)]
        number: String,
        #[arg(long)]
        agent: String,
        /// Reuse (and update) this application instead of creating one.
        #[arg(long)]
        app: Option<String>,
    },
    /// Detach a number from its application.
    Detach {
        #[command(flatten)]
        account: Account,
        #[arg(long)]
        number: String,
    },
}

/// The REST client of a configured provider account, and the node's public URL.
fn client(Account { provider, node }: &Account) -> Result<(ProviderRest, Provider, String)> {
    let provider_kind = Provider::parse(provider).with_context(|| format!("unknown provider {provider:?}"))?;
    let config = Config::load(node)?;
    let account = config.telephony.accounts.get(&provider_kind).with_context(|| {
        format!(
            "no {provider} account: add [telephony.{provider}] auth_id/auth_token to voicera.toml or set \
             VOICERA_{}_AUTH_ID and VOICERA_{}_AUTH_TOKEN",
            provider.to_uppercase(),
            provider.to_uppercase()
        )
    })?;
    let rest = ProviderRest::new(provider_kind, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
    Ok((rest, provider_kind, config.public_url))
}

pub(crate) fn run(command: NumbersCommand) -> Result<()> {
    match command {
        NumbersCommand::List { account } => {
            let provider = &account.provider;
            let (rest, _, _) = client(&account)?;
            let numbers = rest.list_numbers()?;
            if numbers.is_empty() {
                println!("no numbers on this {provider} account");
            }
            for n in numbers {
                println!("{}\t{}", n.number, n.application_id.as_deref().unwrap_or("-"));
            }
        }
        NumbersCommand::Buy { account, number } => {
            let (rest, _, _) = client(&account)?;
            rest.buy_number(&number)?;
            println!("bought {number}");
        }
        NumbersCommand::Attach { account, number, agent, app } => {
            let provider = &account.provider;
            let (rest, kind, public_url) = client(&account)?;
            if public_url.contains("://127.") || public_url.contains("://localhost") {
                bail!("the public URL {public_url} is not reachable by {provider}: set --public-url (or [server] public_url)");
            }
            let agent_q: String = form_urlencoded::byte_serialize(agent.as_bytes()).collect();
            let answer = format!("{public_url}/telephony/{}/answer?agent_id={agent_q}", kind.as_str());
            let hangup = format!("{public_url}/telephony/{}/hangup", kind.as_str());
            let name = format!("voicera-{agent}");
            let app_id = match app {
                Some(id) => {
                    rest.update_application(&id, &name, &answer, &hangup)?;
                    id
                }
                None => rest.create_application(&name, &answer, &hangup)?,
            };
            rest.attach_number(&number, &app_id)?;
            println!("{number} → application {app_id} → {answer}");
        }
        NumbersCommand::Detach { account, number } => {
            let (rest, _, _) = client(&account)?;
            rest.detach_number(&number)?;
            println!("detached {number}");
        }
    }
    Ok(())
}
