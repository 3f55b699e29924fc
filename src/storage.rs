//! The node's store and master key, opened the same way by `serve` and `migrate`: MongoDB when
//! `VOICERA_MONGODB_URI` is set, else SQLite in the data dir; the key from `VOICERA_MASTER_KEY`, else the data
//! dir's key file (generated on first use, with a warning).

use anyhow::{Context, Result};
use voicera_store::secret::{KeySource, MasterKey};
use voicera_store::Store;

use crate::config::Config;

/// `takes_calls`: a node whose calls' records can wait in its spool starts while MongoDB is unreachable
/// ([`Store::open_or_later`]); other uses (the API alone, `migrate`) need it at once.
pub(crate) async fn open(config: &Config, takes_calls: bool) -> Result<(Store, MasterKey)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let uri = config.mongodb_uri.as_deref();
    let store = match takes_calls {
        true => Store::open_or_later(&config.data_dir, uri).await,
        false => Store::open(&config.data_dir, uri).await,
    }
    .context("cannot open the store")?;
    let env_key = std::env::var("VOICERA_MASTER_KEY").ok();
    let (key, source) = MasterKey::load_or_create(&config.data_dir, env_key.as_deref())?;
    match &source {
        KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            "generated a master key for stored secrets; keep it with the data (without it sealed keys cannot be \
             opened) and in production set VOICERA_MASTER_KEY from a secret manager instead"
        ),
        KeySource::File(path) => {
            tracing::info!(path = %path.display(), key = key.fingerprint(), "master key from the data dir")
        }
        KeySource::Environment => tracing::info!(key = key.fingerprint(), "master key from VOICERA_MASTER_KEY"),
    }
    tracing::info!(store = %store.describe(), "store open");
    Ok((store, key))
}
