//! What the console's Live and System pages read from this node ([`voicera_api::NodeConsole`]): the calls in
//! progress (the process's [`LiveCalls`] registry, each call given its agent's org), and the node's make-up
//! (id, version, uptime, roles, store and spool health, blob store, model cache, SIP listeners, trunks).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use voicera_blob::BlobStore;
use voicera_conversation::live::LiveCalls;
use voicera_media::metrics::Metrics;
use voicera_models_local::cache::{ModelCache, CATALOGUE};
use voicera_records::{RecordWriter, RecordsOrg, SpoolItem};
use voicera_store::Store;
use voicera_telephony::sip_rtp::{SipServiceHandle, TrunkConfig};

use crate::agents::Directory;
use crate::local::{dir_bytes, DEMO_MODELS};

/// The node as the console sees it. Built once the listeners are up.
pub(crate) struct NodeConsole {
    /// This node's id (`VOICERA_NODE_ID` or the one kept in its data dir), on nodes that take calls.
    pub(crate) node_id: Option<String>,
    /// `api`, `sip`, `media` (what `serve`, `media` and `api` run).
    pub(crate) roles: Vec<&'static str>,
    /// When the process started serving.
    pub(crate) started: Instant,
    /// The same, Unix milliseconds.
    pub(crate) started_at_ms: u64,
    /// Routing: which org a stored agent (and so its calls) belongs to.
    pub(crate) directory: Option<Arc<Directory>>,
    /// The org of calls to built-in and configured agents (the org their call logs go to; `default` until a
    /// node that started with the store away knows it).
    pub(crate) calls_org: Arc<RecordsOrg>,
    /// The store and whether it answered its last ping.
    pub(crate) store: Store,
    /// Set by the store's watcher.
    pub(crate) store_up: Arc<AtomicBool>,
    /// The call records' writer and its spool, on nodes that take calls.
    pub(crate) records: Option<RecordWriter<SpoolItem>>,
    /// Where recordings and documents go.
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// The model cache directory.
    pub(crate) models_dir: PathBuf,
    /// The SIP service, on nodes that take calls.
    pub(crate) sip: Option<SipServiceHandle>,
    /// The SIP-over-TLS listener, when configured.
    pub(crate) sip_tls: Option<SocketAddr>,
    /// The configured trunks.
    pub(crate) trunks: Vec<TrunkConfig>,
    /// Where trunk registrations are reported.
    pub(crate) metrics: Arc<Metrics>,
}

impl voicera_api::NodeConsole for NodeConsole {
    fn node_id(&self) -> Option<String> {
        self.node_id.clone()
    }

    fn live_calls(&self) -> Vec<voicera_api::NodeCall> {
        LiveCalls::node()
            .list()
            .into_iter()
            .map(|call| {
                let org_id = self
                    .directory
                    .as_ref()
                    .and_then(|d| d.org_of(&call.info().agent))
                    .unwrap_or_else(|| self.calls_org.now().org_id);
                voicera_api::NodeCall { org_id, call }
            })
            .collect()
    }

    fn system(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + '_>> {
        Box::pin(self.report())
    }
}

impl NodeConsole {
    async fn report(&self) -> Value {
        let models_dir = self.models_dir.clone();
        // Sizing the cache reads directories: off the reactor.
        let models = tokio::task::spawn_blocking(move || model_cache(models_dir)).await.unwrap_or(Value::Null);
        let store_up = self.store_up.load(Ordering::Relaxed);
        let spooling = self.records.as_ref().is_some_and(|r| r.degraded());
        let spool = self.records.as_ref().map(|records| {
            let backlog = records.backlog();
            json!({
                "items": backlog.items,
                "bytes": backlog.bytes,
                "oldest_at": backlog.oldest_ms.map(|ms| voicera_store::utc_text(ms as i64)),
            })
        });
        let registered: std::collections::HashMap<String, bool> = self.metrics.registrations().into_iter().collect();
        let trunks: Vec<Value> = self
            .trunks
            .iter()
            .map(|t| {
                let registration = match (t.register, registered.get(&t.name)) {
                    (false, _) => "not_registering",
                    (true, Some(true)) => "registered",
                    (true, Some(false)) => "failed",
                    (true, None) => "pending",
                };
                json!({"name": t.name, "registrar": t.registrar, "registration": registration})
            })
            .collect();
        let mut listeners = Vec::new();
        if let Some(sip) = &self.sip {
            for transport in ["udp", "tcp"] {
                listeners.push(
                    json!({"transport": transport, "address": sip.local_addr.to_string(), "up": sip.is_running()}),
                );
            }
            if let Some(tls) = self.sip_tls {
                listeners.push(json!({"transport": "tls", "address": tls.to_string(), "up": sip.is_running()}));
            }
        }
        let now = voicera_records::unix_ms();
        json!({
            "node_id": self.node_id,
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": voicera_store::utc_text(self.started_at_ms as i64),
            "uptime_secs": self.started.elapsed().as_secs(),
            "now": voicera_store::utc_text(now as i64),
            "roles": self.roles,
            "calls_in_progress": LiveCalls::node().len(),
            "store": {
                "backend": match &self.store { Store::Sqlite(_) => "sqlite", Store::Mongo(_) => "mongodb" },
                "describe": self.store.describe(),
                "status": if !store_up { "down" } else if spooling { "degraded" } else { "ok" },
            },
            "spool": spool,
            "blob_store": {
                "kind": blob_kind(&self.blobs.describe()),
                "describe": self.blobs.describe(),
            },
            "models": models,
            "sip": {"listeners": listeners, "trunks": trunks},
        })
    }
}

/// `fs` or `s3`, from the blob store's description.
fn blob_kind(describe: &str) -> &'static str {
    if describe.starts_with("filesystem") {
        "fs"
    } else {
        "s3"
    }
}

/// What `voicera models list` prints: every model of the catalogue, whether it is cached and its size.
fn model_cache(dir: PathBuf) -> Value {
    let cache = ModelCache::new(&dir);
    let models: Vec<Value> = CATALOGUE
        .iter()
        .map(|spec| {
            let cached = cache.path(spec.name);
            json!({
                "name": spec.name,
                "kind": spec.kind.label(),
                "cached": cached.is_some(),
                "size_bytes": cached.as_deref().map(dir_bytes),
                "used_by": if DEMO_MODELS.contains(&spec.name) { vec!["demo"] } else { Vec::new() },
                "about": spec.about,
            })
        })
        .collect();
    json!({"dir": dir.display().to_string(), "items": models})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_cache_lists_the_catalogue_with_what_is_cached() {
        // An empty cache: a directory that does not exist.
        let dir = std::env::temp_dir().join(format!("voicera-live-models-{}", std::process::id()));
        let report = model_cache(dir);
        let items = report["items"].as_array().unwrap();
        assert_eq!(items.len(), CATALOGUE.len());
        assert!(items.iter().all(|m| m["cached"] == false && m["size_bytes"].is_null()));
        assert!(items.iter().any(|m| m["used_by"][0] == "demo"));
    }

    #[test]
    fn blob_kinds() {
        assert_eq!(blob_kind("filesystem /data/blobs"), "fs");
        assert_eq!(blob_kind("S3 http://127.0.0.1:9000 (prefix voicera-)"), "s3");
    }
}
