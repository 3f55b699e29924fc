//! `voicera migrate --from-mongodb URI`: imports an original VoicEra database into this node's store
//! (voicera_store::migrate does the mapping).

use std::path::PathBuf;

use anyhow::{bail, Result};
use voicera_store::migrate::{self, Options};

use crate::config::{Config, NodeArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    /// The original VoicEra's MongoDB, e.g. mongodb://admin:PASSWORD@host:27017/voicera?authSource=admin
    #[arg(long = "from-mongodb", value_name = "URI")]
    pub(crate) from_mongodb: String,
    /// Database to read (default: the URI's, else `voicera`).
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// Read and map everything, say what would change, write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Configuration file of the node to import into (default: ./voicera.toml when present).
    #[arg(long, env = "VOICERA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory of the node to import into (its SQLite store and master key).
    #[arg(long, env = "VOICERA_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

pub(crate) fn run(args: MigrateArgs) -> Result<()> {
    crate::serve::init_logging(crate::config::LogFormat::Human);
    let node = NodeArgs { config: args.config.clone(), data_dir: args.data_dir.clone(), ..NodeArgs::default() };
    let config = Config::load(&node)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (store, key) = crate::storage::open(&config, false).await?;
        println!(
            "importing VoicEra from {} into {} (secrets sealed with master key {}){}",
            without_credentials(&args.from_mongodb),
            store.describe(),
            key.fingerprint(),
            if args.dry_run { " — dry run, nothing is written" } else { "" }
        );
        let options = Options { database: args.database.clone(), dry_run: args.dry_run };
        let report = migrate::from_mongodb(&args.from_mongodb, &store, &key, &options).await?;
        println!("database {:?}:", report.database);
        print!("{}", report.render());
        if !args.dry_run {
            let totals = migrate::totals(&store).await?;
            let line: Vec<String> = totals.iter().filter(|(_, n)| **n > 0).map(|(c, n)| format!("{c} {n}")).collect();
            println!("store now holds: {}", if line.is_empty() { "nothing".to_string() } else { line.join(", ") });
        }
        if !report.rejected.is_empty() {
            bail!(
                "{} documents were not imported (listed above); everything else was. Fix them in the source and run \
                 again: documents already imported are left as they are",
                report.rejected.len()
            );
        }
        Ok(())
    })
}

/// The URI as logs may show it: `user:password@` removed.
fn without_credentials(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &uri[..scheme + 3], &uri[at + 1..]),
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_never_reach_the_output() {
        assert_eq!(
            super::without_credentials("mongodb://admin:admin123@db:27017/voicera?authSource=admin"),
            "mongodb://db:27017/voicera?authSource=admin"
        );
        assert_eq!(super::without_credentials("mongodb://db:27017"), "mongodb://db:27017");
    }
}
