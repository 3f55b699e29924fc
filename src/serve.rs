//! `voicera serve|media|api`: starts the listeners of a role, reports readiness, and shuts down gracefully
//! (SIGTERM/SIGINT: drain → wait for calls up to the drain time → BYE the rest → exit 0).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use voicera_api::{Check, NodeStatus};
use voicera_blob::recording::BlobRecordingSink;
use voicera_blob::BlobStore;
use voicera_conversation::agent::Agent;
use voicera_conversation::recorder::RecordingSink;
use voicera_conversation::routing::Router;
use voicera_media::metrics::Metrics;
use voicera_records::{BlobUpload, RecordWriter, RecordsOrg, SpoolItem};
use voicera_sip::transaction::TimerConfig;
use voicera_telephony::outbound::Dialer;
use voicera_telephony::sip_rtp::{self, InboundAuth, SipServiceConfig, SipServiceHandle};
use voicera_telephony::ws_stream::signature::SpentTokens;
use voicera_telephony::ws_stream::{Telephony, TelephonyConfig, TokenKey};

use crate::agents::{self, Directory};
use crate::calls;
use crate::config::{Config, LogFormat, NodeArgs};
use crate::local::{self, LocalModels};
use voicera_models_local::{InferencePool, ModelCache};

/// Which listeners a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    All,
    Media,
    Api,
}

impl Role {
    fn runs_sip(self) -> bool {
        matches!(self, Role::All | Role::Media)
    }

    fn runs_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    /// What the process runs, as the System page lists it.
    fn names(self) -> Vec<&'static str> {
        match self {
            Role::All => vec!["api", "sip", "media"],
            Role::Media => vec!["sip", "media"],
            Role::Api => vec!["api"],
        }
    }
}

pub(crate) fn run(args: NodeArgs, role: Role) -> Result<()> {
    init_logging(args.log_format);
    let config = Config::load(&args)?;
    voicera_conversation::journal::set_log_content(config.log_content);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config, role))
}

pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

struct Status {
    role: Role,
    metrics: Arc<Metrics>,
    sip: Option<SipServiceHandle>,
    http_up: AtomicBool,
    draining: Arc<AtomicBool>,
    /// Whether the store answered its last ping ([`watch_store`]).
    store_up: Arc<AtomicBool>,
    /// The call records' writer on nodes that take calls: while it spools, the store is `degraded`, not
    /// down (calls still work and their records wait).
    records: Option<RecordWriter<SpoolItem>>,
    /// The blob uploads' writer on nodes that take calls: while it spools, `blobs` is `degraded`.
    uploads: Option<RecordWriter<BlobUpload>>,
    /// What the start recovered of calls a killed run left, on nodes that take calls.
    recovered: Option<voicera_records::recovery::Leftovers>,
    /// The local models on nodes that take calls, for the language models' conversation-cache series.
    models: Option<Arc<agents::SharedModels>>,
    /// The campaign runner's figures on nodes that dial.
    campaigns: Option<Arc<crate::campaigns::CampaignMetrics>>,
    /// This node's webhook deliveries (every node runs the worker).
    webhooks: Arc<voicera_webhooks::WebhookMetrics>,
}

impl NodeStatus for Status {
    fn checks(&self) -> Vec<Check> {
        let mut checks = vec![Check::new("http", self.http_up.load(Ordering::Relaxed))];
        if self.role.runs_sip() {
            // One task serves both sockets; it runs only while both are bound.
            let sip_up = self.sip.as_ref().is_some_and(|s| s.is_running());
            checks.push(Check::new("sip_udp", sip_up));
            checks.push(Check::new("sip_tcp", sip_up));
        }
        let store_up = self.store_up.load(Ordering::Relaxed);
        checks.push(match &self.records {
            Some(records) => Check { name: "store", up: true, degraded: !store_up || records.degraded() },
            None => Check::new("store", store_up),
        });
        if let Some(uploads) = &self.uploads {
            checks.push(Check { name: "blobs", up: true, degraded: uploads.degraded() });
        }
        checks
    }

    fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> String {
        let mut text = self.metrics.render();
        if let Some(records) = &self.records {
            text.push_str(&records.render_metrics(voicera_records::unix_ms()));
        }
        if let Some(uploads) = &self.uploads {
            text.push_str(&uploads.render_metrics(voicera_records::unix_ms()));
        }
        if let Some(recovered) = &self.recovered {
            text.push_str(&recovered.render_metrics());
        }
        if let Some(models) = self.models.as_ref().and_then(|m| m.loaded()) {
            text.push_str(&local::render_llm_cache_metrics(&models.llm_cache_stats()));
            text.push_str(&local::render_stt_tail_metrics(models.stt_tail_redecodes()));
        }
        if let Some(campaigns) = &self.campaigns {
            text.push_str(&campaigns.render());
        }
        text.push_str(&self.webhooks.render());
        text
    }
}

/// The purpose the stream-token key is derived from the master key for (changing it voids live tokens).
const STREAM_TOKEN_KEY_PURPOSE: &str = "telephony stream tokens";

/// The record of spent stream and session tokens: the store's one-use ids, shared by every node.
fn spent_tokens_in(store: &voicera_store::Store) -> Arc<dyn SpentTokens> {
    let used = Arc::new(voicera_store::one_use::OneUseIds::new(store.clone()));
    Arc::new(move |id: String, expires: u64, now: u64| {
        let used = Arc::clone(&used);
        async move { used.spend(&id, expires, now).await.map_err(|err| err.to_string()) }
    })
}

/// How often readiness re-checks the store.
const STORE_PING_INTERVAL: Duration = Duration::from_secs(5);

/// Pings the store every few seconds for `/health`; logs each change of state once.
async fn watch_store(store: voicera_store::Store, up: Arc<AtomicBool>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STORE_PING_INTERVAL) => {}
        }
        let result = tokio::time::timeout(STORE_PING_INTERVAL, store.ping()).await;
        let now_up = matches!(result, Ok(Ok(())));
        if now_up != up.swap(now_up, Ordering::Relaxed) {
            match result {
                Ok(Ok(())) => tracing::info!(store = %store.describe(), "store reachable again"),
                Ok(Err(e)) => tracing::error!(store = %store.describe(), error = %e, "store unreachable"),
                Err(_) => tracing::error!(
                    store = %store.describe(),
                    timeout_secs = STORE_PING_INTERVAL.as_secs(),
                    "store did not answer within the ping interval"
                ),
            }
        }
    }
}

async fn serve(config: Config, role: Role) -> Result<()> {
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let campaign_metrics = Arc::new(crate::campaigns::CampaignMetrics::default());
    tracing::info!(?role, config = ?config.source, data_dir = %config.data_dir.display(), "starting voicera");
    if let Some(loss) = crate::cpu_check::what_this_cpu_loses() {
        tracing::warn!("{loss}");
    }

    // The store is opened before anything listens. A node that takes calls starts while MongoDB is away (its
    // calls' records wait in the spool, `/health` says `degraded`); the API alone needs it at once.
    let (store, master_key) = crate::storage::open(&config, role.runs_sip()).await?;
    // `/health` says what the store is from the start (a node that starts with MongoDB away is degraded).
    let up_at_start = matches!(tokio::time::timeout(START_STORE_TIMEOUT, store.ping()).await, Ok(Ok(())));
    let store_up = Arc::new(AtomicBool::new(up_at_start));
    tokio::spawn(watch_store(store.clone(), Arc::clone(&store_up), shutdown.clone()));
    // The org of calls to the built-in and configured agents: the owner's, known at start or, on a node that
    // starts with the store away, once it answers (`settle_records_org`).
    let records_org = Arc::new(RecordsOrg::pending(DEFAULT_ORG));
    let mut owner_made_later = false;
    // One directory of agents for every transport: configured agents, and the store's agents of every org,
    // kept current by `sync_store` (at once after this node's API writes, by polling for other nodes').
    let (directory, shared_models) = if role.runs_sip() {
        let directory = Arc::new(Directory::new(Agent::bench(config.bench_record), config.demo_agent, &config.agents));
        let (data_dir, threads, backend) = (config.data_dir.clone(), config.inference_threads, config.whisper_backend);
        let llm_cache_bytes = config.llm_cache_bytes;
        let models = Arc::new(agents::SharedModels::new(move || {
            LocalModels::new(ModelCache::new(local::models_dir(&data_dir)), InferencePool::new(threads, 256), backend)
                .with_llm_cache(llm_cache_bytes)
        }));
        if config.demo_agent || !config.agents.is_empty() {
            agents::spawn_loader(Arc::clone(&directory), models.get(), config.demo_agent, config.agents.clone());
        }
        let compiler = crate::config::AgentCompiler {
            policy: Arc::clone(&config.dial_policy),
            providers: Arc::clone(&config.providers),
        };
        tokio::spawn(agents::sync_store(
            Arc::clone(&directory),
            store.clone(),
            compiler,
            Arc::clone(&models),
            master_key.clone(),
            shutdown.clone(),
        ));
        (Some(directory), Some(models))
    } else {
        (None, None)
    };
    // Recordings, transcripts and documents: S3 when configured, else files under the data dir.
    let blobs = voicera_blob::open(&config.data_dir, config.s3.as_ref()).await.context("cannot open the blob store")?;
    let mut api_state = None;
    let control_plane = if role.runs_api() {
        let validator = Arc::new(crate::config::AgentCompiler {
            policy: Arc::clone(&config.dial_policy),
            providers: Arc::clone(&config.providers),
        });
        let api_config = voicera_api::ApiConfig {
            public_url: Some(config.public_url.clone()),
            mail: mail_config(&config.data_dir, config.smtp.as_ref()),
            webhooks_allow_http_loopback: config.webhooks.allow_http_loopback,
            open_signup: config.open_signup,
            knowledge_processing_slots: config.knowledge_processing_slots,
            knowledge_processing_timeout: config.knowledge_processing_timeout,
            // The `/vobiz` and `/plivo` number routes reach these accounts' REST APIs.
            telephony_accounts: config.telephony.accounts.iter().map(|(p, a)| (*p, a.clone())).collect(),
            campaign_lease_ms: config.campaigns.lease_ms,
            ..Default::default()
        };
        // A bad SMTP setting stops the start here, not at the first reset mail.
        api_config.mail.outbox().map_err(|err| {
            let key = if matches!(api_config.mail, voicera_api::MailConfig::SmtpServer { .. }) {
                "smtp"
            } else {
                "VOICERA_SMTP_URL"
            };
            anyhow::anyhow!("{key}: {err}")
        })?;
        let api = voicera_api::ApiState::new(
            store.clone(),
            master_key.derive(voicera_api::TOKEN_KEY_PURPOSE),
            validator,
            api_config,
        );
        // Recordings from `<data>/calls`, knowledge files under `<data>/knowledge`, provider keys sealed.
        let mut resources = voicera_api::Resources::under_data_dir(&config.data_dir, master_key.clone());
        resources.recordings = Arc::new(BlobRecordings {
            blobs: Arc::clone(&blobs),
            files: voicera_api::recording::FsRecordings::new(config.data_dir.join("calls")),
            pending: config.data_dir.join("recordings"),
        });
        // Knowledge documents in the blob store's `knowledge` bucket, like recordings; their texts cached
        // `[storage] knowledge_cache_mib`.
        resources.blobs = Arc::clone(&blobs);
        resources.knowledge_texts =
            Arc::new(voicera_api::knowledge_texts::KnowledgeTexts::new(config.knowledge_cache_bytes));
        let _ = api.attach(resources);
        let mut owner_org = None;
        if let Some((email, password)) = calls::owner_from_env() {
            // Read when the API lists agents: the owner's org once known, however late.
            owner_org = Some(Arc::clone(&records_org));
            match voicera_api::bootstrap_owner(&api, &email, &password).await {
                Ok(bootstrap) => {
                    tracing::info!(?bootstrap, "owner account");
                    records_org.settle(owner_org_of(bootstrap));
                }
                // A node that takes calls starts while the store is away: the owner is made once it answers.
                Err(err) if role.runs_sip() && err.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
                    tracing::error!(%err, "the owner account from VOICERA_ADMIN_EMAIL: made once the store answers");
                    owner_made_later = true;
                    let records_org = Arc::clone(&records_org);
                    tokio::spawn(bootstrap_owner_later(api.clone(), email, password, records_org, shutdown.clone()));
                }
                Err(err) => anyhow::bail!("the owner account from VOICERA_ADMIN_EMAIL: {err}"),
            }
        }
        // The configured agents show (read-only) in the owner's org; API writes reach this node's calls at once.
        api.set_agent_directory(Arc::new(agents::ApiAgents::new(owner_org, &config.agents, directory.clone())));
        api_state = Some(api.clone());
        Some(voicera_api::control_plane(api))
    } else {
        None
    };

    let draining = Arc::new(AtomicBool::new(false));
    let node_id = voicera_records::node::node_id(&config.data_dir, std::env::var("VOICERA_NODE_ID").ok().as_deref())?;
    // Every node delivers customer webhooks from the shared queue.
    let (webhooks, webhooks_task) = voicera_webhooks::worker::spawn(
        store.clone(),
        master_key.clone(),
        crate::webhooks::worker_config(&config.webhooks, node_id.clone()),
        shutdown.clone(),
    );
    // The delivery log keeps finished deliveries `[webhooks] log_retention_days`.
    if let Some(days) = config.webhooks.log_retention_days {
        tokio::spawn(voicera_webhooks::retention::run(
            store.clone(),
            days,
            Arc::clone(webhooks.metrics()),
            voicera_webhooks::unix_ms,
            shutdown.clone(),
        ));
    }
    // Nodes that take calls log each one in the store (through the spool when the store is away), and close
    // the calls a crash of their last run left open (before taking new ones, or in the background once a
    // store that is away answers). Recordings and transcripts go to the blob store, spooled while it is away.
    let mut swept_orgs = vec![DEFAULT_ORG.to_string()];
    let records = if role.runs_sip() {
        let node_id = node_id.clone();
        settle_records_org(&store, &records_org, owner_made_later, &shutdown).await;
        let org = records_org.now();
        tracing::info!(%node_id, org_id = %org.org_id, org_pending = org.pending, "call records go to the store");
        swept_orgs.push(org.org_id);
        let spool_dir = config.data_dir.join("spool");
        let uploads = voicera_records::start_uploads(&spool_dir, Arc::clone(&blobs), shutdown.clone()).await?;
        let files = recording_sink(&config, &blobs, &uploads.0);
        let records_config = voicera_records::RecordsConfig {
            spool_dir,
            node_id,
            records_org: Arc::clone(&records_org),
            writer: voicera_records::WriterConfig::default(),
            segments_dir: Some(config.data_dir.join("recordings")),
        };
        // Call events ride with the logs; the calls the last run left open owe a `call.ended` once closed.
        let events = crate::webhooks::orphan_outlet(&webhooks, &config.public_url, &master_key);
        let records =
            voicera_records::start(records_config, store.clone(), files, uploads, Some(events), shutdown.clone())
                .await?;
        Some(records)
    } else {
        None
    };
    // Retention: expired calls' recordings, transcripts and logs go together (orgs' own days, else the default).
    let sweeper = voicera_records::retention::Sweeper::new(
        store.clone(),
        Arc::clone(&blobs),
        &config.data_dir,
        config.recording_retention_days,
        swept_orgs,
    )
    .on_node(node_id.clone());
    tokio::spawn(voicera_records::retention::run(sweeper, voicera_records::unix_ms, shutdown.clone()));
    let mut telephony = None;
    let mut calls_router = None;
    let sip = if role.runs_sip() {
        let Some(directory) = directory.clone() else {
            anyhow::bail!("a role that takes calls has an agent directory");
        };
        let agents: Arc<dyn Router> = directory.clone();
        let Some(recordings) = records.as_ref().map(|r| -> Arc<dyn RecordingSink> { r.sink.clone() }) else {
            anyhow::bail!("a role that takes calls keeps call records");
        };
        // A store agent's calls belong to its org (records and events alike); the rest to the records org.
        let agent_orgs: voicera_records::AgentOrgs = {
            let directory = Arc::clone(&directory);
            Arc::new(move |agent: &str| directory.org_of(agent))
        };
        if let Some(records) = records.as_ref() {
            records.sink.agent_orgs(Arc::clone(&agent_orgs));
            // Their logs show a stored agent's name as `agent_type`, as the original's did.
            let directory = Arc::clone(&directory);
            records.sink.agent_names(Arc::new(move |agent: &str| directory.name_of(agent)));
        }
        if let Some(records) = records.as_ref() {
            // Each call's events ride inside its log's writes, to the org its log goes to.
            records.sink.call_events(crate::webhooks::CallEvents::new(&config.public_url, master_key.clone()));
        }
        let mut sip_config = SipServiceConfig::new(config.sip);
        sip_config.external_ip = config.external_ip;
        sip_config.rtp_ports = config.rtp_ports;
        sip_config.codecs = config.codecs.clone();
        sip_config.answer_delay = config.answer_delay;
        sip_config.rtp_timeout = config.rtp_timeout;
        sip_config.timers = TimerConfig { t1: config.t1, ..TimerConfig::default() };
        sip_config.trunks = config.trunks.clone();
        sip_config.auth = config.inbound_auth.clone();
        let security = &config.sip_security;
        sip_config.agent_sources = security.agent_sources.clone();
        if config.inbound_auth == InboundAuth::None && !config.sip.ip().is_loopback() {
            let sources: Vec<String> = security.agent_sources.blocks.iter().map(ToString::to_string).collect();
            tracing::info!(
                agent_sources = %sources.join(", "),
                "sip.auth = \"none\": agents answer callers from these addresses and the trunks' resolved registrar \
                 addresses (over UDP only with sip.trust_registrars_over_udp) only; others get 403. Behind a SIP \
                 dispatcher, a Docker port proxy or Kubernetes SNAT every caller arrives from a private address and \
                 is let in: list the real allowed sources instead, or set sip.auth = \"digest\""
            );
        }
        sip_config.caps = security.caps;
        sip_config.refer = security.refer.clone();
        sip_config.trust_registrars_over_udp = security.trust_registrars_over_udp;
        if !security.rate_limit {
            sip_config.rate_limit = None;
        }
        sip_config.rate_limit_exempt = security.rate_limit_exempt.clone();
        sip_config.tls = security.tls.clone();
        sip_config.connection_limits = security.connection_limits;
        sip_config.srtp = security.srtp;
        sip_config.dial_policy = Arc::clone(&config.dial_policy);
        sip_config.recordings = Some(Arc::clone(&recordings));
        let handle = sip_rtp::start(sip_config, Arc::clone(&agents), metrics.clone(), shutdown.clone())
            .await
            .context("cannot start SIP")?;
        tracing::info!(sip = %handle.local_addr, rtp_ports = ?config.rtp_ports, "SIP listening on UDP and TCP");
        let settings = &config.telephony;
        if settings.accounts.is_empty() {
            tracing::info!("no provider accounts configured ([telephony.<provider>]): provider webhooks answer 403");
        }
        // Outbound campaigns: this node dials the batches the API marks running (leases in the store).
        let node_id =
            voicera_records::node::node_id(&config.data_dir, std::env::var("VOICERA_NODE_ID").ok().as_deref())?;
        let lease_ms = i64::try_from(config.campaigns.lease_ms).unwrap_or(crate::campaigns::DEFAULT_LEASE_MS);
        // Campaign calls placed through a provider's REST API: registered in the store, so that any node serves
        // their webhooks and streams (the telephony endpoints find them here).
        let provider_calls = Arc::new(crate::campaign_provider::ProviderCalls {
            store: store.clone(),
            node_id: node_id.clone(),
            lease_ms,
            public_url: config.public_url.clone(),
            node_accounts: settings.accounts.clone(),
            master_key: master_key.clone(),
            owner_org: Arc::clone(&records_org),
        });
        let telephony_config = TelephonyConfig {
            public_url: config.public_url.clone(),
            accounts: settings.accounts.clone(),
            format: settings.stream_format,
            open_agents: settings.open_agents.clone(),
            media_ip: media_ip(&config),
            // Every node with the same master key signs and accepts the same stream tokens.
            stream_token_key: TokenKey::new(master_key.derive(STREAM_TOKEN_KEY_PURPOSE)),
            dial_policy: Arc::clone(&config.dial_policy),
            // ... and spend them once in the deployment: in the store every node shares.
            spent_tokens: Some(spent_tokens_in(&store)),
            dialled: voicera_telephony::ws_stream::DialledCalls::new(provider_calls.clone()),
        };
        let dialer = Dialer {
            router: Arc::clone(&agents),
            sip: Some(handle.clone()),
            telephony: telephony_config.clone(),
            policy: Arc::clone(&config.dial_policy),
        };
        let runner = crate::campaigns::CampaignRunner {
            store: store.clone(),
            node_id,
            lease_ms,
            sip: handle.clone(),
            router: Arc::clone(&agents),
            policy: Arc::clone(&config.dial_policy),
            webhooks: webhooks.clone(),
            metrics: Arc::clone(&campaign_metrics),
            provider_calls,
        };
        if config.campaigns.dial {
            crate::campaigns::spawn(runner, shutdown.clone());
        } else {
            tracing::info!("[campaigns] dial = false: this node dials no campaign (it serves their provider webhooks)");
        }
        let owner = calls::owner_from_env();
        if owner.is_none() {
            tracing::info!("no owner account (VOICERA_ADMIN_EMAIL/VOICERA_ADMIN_PASSWORD): outbound calls are off");
        }
        let stream_calls = Telephony::new(
            telephony_config,
            agents,
            metrics.clone(),
            Some(recordings),
            Arc::clone(&draining),
            shutdown.clone(),
            // WebRTC media from the same port range as RTP: one firewall rule for all media.
            Some(handle.ports()),
        );
        calls_router = Some(calls::router(dialer, owner, api_state.clone(), Arc::clone(&stream_calls)));
        telephony = Some(stream_calls);
        Some(handle)
    } else {
        None
    };

    let status = Arc::new(Status {
        role,
        metrics: metrics.clone(),
        sip: sip.clone(),
        http_up: AtomicBool::new(false),
        draining: Arc::clone(&draining),
        store_up,
        records: records.as_ref().map(|r| r.writer.clone()),
        uploads: records.as_ref().map(|r| r.uploads.writer().clone()),
        recovered: records.as_ref().map(|r| r.recovered.clone()),
        models: shared_models,
        campaigns: role.runs_sip().then(|| Arc::clone(&campaign_metrics)),
        webhooks: Arc::clone(webhooks.metrics()),
    });
    if let Some(api) = &api_state {
        let parts = crate::live::NodeConsole {
            node_id: role.runs_sip().then(|| node_id.clone()),
            roles: role.names(),
            started: std::time::Instant::now(),
            started_at_ms: voicera_records::unix_ms(),
            directory: directory.clone(),
            calls_org: Arc::clone(&records_org),
            store: store.clone(),
            store_up: Arc::clone(&status.store_up),
            records: status.records.clone(),
            blobs: Arc::clone(&blobs),
            models_dir: local::models_dir(&config.data_dir),
            sip: sip.clone(),
            sip_tls: config.sip_security.tls.as_ref().map(|tls| tls.listen),
            trunks: config.trunks.clone(),
            metrics: metrics.clone(),
        };
        api.set_node_console(Arc::new(parts));
    }
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot bind HTTP on {}", config.http))?;
    let http_addr: SocketAddr = listener.local_addr()?;
    // `/metrics` on a private address when one is configured, else beside `/health` on the public port.
    let mut app = match config.metrics {
        Some(addr) => {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind the metrics address {addr}"))?;
            let router = voicera_api::metrics_router(status.clone());
            let metrics_shutdown = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(metrics, router).with_graceful_shutdown(metrics_shutdown.cancelled_owned()).await
            });
            tracing::info!(%addr, "metrics on their own address");
            voicera_api::health_router(status.clone())
        }
        None => voicera_api::router(status.clone()),
    };
    if let Some(telephony) = telephony {
        app = app.merge(voicera_telephony::ws_stream::router(telephony));
    }
    if let Some(calls) = calls_router {
        app = app.merge(calls);
    }
    if let Some(control_plane) = control_plane {
        app = app.merge(control_plane).merge(crate::console::router());
    }
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        // The peer's address reaches handlers: login rate limits key on it.
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(http_shutdown.cancelled_owned())
            .await
    });
    status.http_up.store(true, Ordering::Relaxed);
    tracing::info!(http = %http_addr, public_url = %config.public_url, "ready");

    wait_for_signal().await;
    tracing::info!(drain_secs = config.drain.as_secs(), "shutting down: draining calls");
    status.draining.store(true, Ordering::Relaxed);
    if let Some(sip) = &sip {
        sip.drain().await;
        let deadline = tokio::time::Instant::now() + config.drain;
        let mut second_signal = std::pin::pin!(wait_for_signal());
        loop {
            if metrics.active_calls() <= 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = &mut second_signal => {
                    tracing::warn!("second signal: hanging up now");
                    break;
                }
            }
        }
        if metrics.active_calls() > 0 {
            tracing::info!(calls = metrics.active_calls(), "drain time over: sending BYE to remaining calls");
        }
        sip.hangup_all().await;
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    if let Some(records) = records {
        // The writers spool what is still queued, so the next start delivers it.
        let _ = tokio::time::timeout(Duration::from_secs(5), records.task).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), records.uploads_task).await;
    }
    // Attempts under way finish or are retried by the next start (their leases run out).
    let _ = tokio::time::timeout(Duration::from_secs(5), webhooks_task).await;
    tracing::info!("stopped");
    Ok(())
}

/// Where call records and recordings go. Records stay JSON files under `<data>/calls/<date>/`; recordings
/// stream to a segment file under `<data>/recordings/` as the call runs and go to the blob store's
/// `recordings` bucket (WAV or Ogg Opus) when it ends: S3 when configured, else `<data>/blobs/` (a rename, no
/// copy). An upload that fails leaves the segment file to the blob spool.
fn recording_sink(
    config: &Config,
    blobs: &Arc<dyn BlobStore>,
    uploads: &voicera_records::BlobUploads,
) -> Arc<dyn RecordingSink> {
    let sink = BlobRecordingSink::new(
        Arc::clone(blobs),
        tokio::runtime::Handle::current(),
        config.data_dir.join("calls"),
        config.data_dir.join("recordings"),
        config.recording_format,
    );
    Arc::new(sink.with_uploader(Arc::new(uploads.clone())))
}

/// The org an owner account's bootstrap found or made.
fn owner_org_of(bootstrap: voicera_api::Bootstrap) -> String {
    match bootstrap {
        voicera_api::Bootstrap::Created { org_id } | voicera_api::Bootstrap::Exists { org_id } => org_id,
    }
}

/// Settles `records_org`, the org a node's calls are logged under when their agent has none of its own (the
/// built-in agents, those from voicera.toml): the owner's (bootstrapped already, or found by
/// `VOICERA_ADMIN_EMAIL` on a media node), else — no owner configured — `default`. A store that does not answer,
/// or has no account for the owner yet, leaves it to be found later: by the owner's bootstrap when that waits
/// for the store too (`owner_made_later`), else by looking again. Calls are logged under `default` meanwhile, marked pending, and their writes go to the owner's org
/// once it is known ([`voicera_records::StoreDelivery`]).
async fn settle_records_org(
    store: &voicera_store::Store,
    records_org: &Arc<RecordsOrg>,
    owner_made_later: bool,
    shutdown: &CancellationToken,
) {
    if records_org.get().is_some() {
        return;
    }
    let Some((email, _)) = calls::owner_from_env() else {
        records_org.settle(DEFAULT_ORG);
        return;
    };
    if owner_made_later {
        tracing::warn!("calls to built-in and configured agents go to the owner's org once the owner account is made");
        return;
    }
    let email = email.to_lowercase();
    let why = match find_owner_org(store, &email).await {
        Ok(Some(org_id)) => return settle_owner_org(records_org, org_id),
        // The API node that makes the owner account may not have started yet: calls wait for it rather than go
        // to `default` for good.
        Ok(None) => NO_OWNER_ACCOUNT.to_string(),
        Err(why) => why,
    };
    tracing::warn!(%email, "{why}: calls to built-in and configured agents go to the owner's org once the store names it");
    tokio::spawn(find_owner_org_later(store.clone(), email, Arc::clone(records_org), shutdown.clone()));
}

/// Why a lookup of the owner's org found none though the store answered.
const NO_OWNER_ACCOUNT: &str = "no account for VOICERA_ADMIN_EMAIL yet";

/// The org of the account `email`, if there is one, asked of the store for [`START_STORE_TIMEOUT`] at most;
/// else why the store did not say.
async fn find_owner_org(store: &voicera_store::Store, email: &str) -> Result<Option<String>, String> {
    // (`Ok(None)`: the store answered and has no such account.)
    let lookup = store.find_id(voicera_store::Collection::Users, email);
    match tokio::time::timeout(START_STORE_TIMEOUT, lookup).await {
        Ok(Ok(found)) => Ok(found.first().map(|user| user.org_id.clone())),
        Ok(Err(err)) => Err(format!("cannot look up the owner's org: {err}")),
        Err(_) => Err("the store did not name the owner's org in time".to_string()),
    }
}

/// Settles the records org on the owner's org.
fn settle_owner_org(records_org: &RecordsOrg, org_id: String) {
    if records_org.settle(org_id.clone()) {
        tracing::info!(%org_id, "calls to built-in and configured agents are logged in this org");
    }
}

/// The owner's org on a node that started while the store was away or before the owner account was made:
/// looked up with back-off (0.5 s doubling to 30 s, as the sweep for orphans) until the store names it, or
/// shutdown. Calls' records wait for it meanwhile, so a lookup that keeps failing is a warning now and then.
async fn find_owner_org_later(
    store: voicera_store::Store,
    email: String,
    records_org: Arc<RecordsOrg>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(500);
    let mut failed: u32 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let why = match find_owner_org(&store, &email).await {
            Ok(Some(org_id)) => {
                settle_owner_org(&records_org, org_id);
                return;
            }
            Ok(None) => NO_OWNER_ACCOUNT.to_string(),
            Err(why) => why,
        };
        failed += 1;
        if failed == FIRST_OWNER_LOOKUP_WARNING || failed.is_multiple_of(OWNER_LOOKUPS_PER_WARNING) {
            tracing::warn!(
                %email,
                lookups = failed,
                "{why}: records of calls to built-in and configured agents wait for the owner's org"
            );
        } else {
            tracing::debug!("{why}: looking again");
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Failed lookups of the owner's org before the first warning (about 30 s of back-off), and between later ones
/// (about 10 min).
const FIRST_OWNER_LOOKUP_WARNING: u32 = 5;
const OWNER_LOOKUPS_PER_WARNING: u32 = 20;

/// How long the start waits for the store's answer to a question (is it up, the owner's org) before going on
/// without it.
const START_STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The owner account from VOICERA_ADMIN_* on a node that started while the store was away: made (or found)
/// once the store answers, retried with back-off from 1 s to 60 s until then or shutdown. Its org is then the
/// records org (`default` if the account cannot be made, so that the calls waiting for it are logged).
async fn bootstrap_owner_later(
    api: voicera_api::ApiState,
    email: String,
    password: String,
    records_org: Arc<RecordsOrg>,
    shutdown: CancellationToken,
) {
    let mut delay = std::time::Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        match voicera_api::bootstrap_owner(&api, &email, &password).await {
            Ok(bootstrap) => {
                tracing::info!(?bootstrap, "owner account (the store answers)");
                settle_owner_org(&records_org, owner_org_of(bootstrap));
                return;
            }
            Err(err) if err.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
                tracing::debug!(%err, "the owner account still cannot be made")
            }
            Err(err) => {
                tracing::error!(%err, "the owner account from VOICERA_ADMIN_EMAIL cannot be made");
                records_org.settle(DEFAULT_ORG);
                return;
            }
        }
        delay = (delay * 2).min(std::time::Duration::from_secs(60));
    }
}

/// The org of call records on a node without an owner account.
const DEFAULT_ORG: &str = "default";

/// The address browsers reach our media on (the WebRTC host candidate): `--external-ip`, else the public
/// URL's host when it is an address, else the HTTP listener's address, else loopback.
fn media_ip(config: &Config) -> std::net::IpAddr {
    let from_url =
        config.public_url.split("://").nth(1).and_then(|rest| rest.split(['/', '?']).next()).and_then(|authority| {
            authority
                .parse::<SocketAddr>()
                .map(|a| a.ip())
                .ok()
                .or_else(|| authority.trim_matches(['[', ']']).parse().ok())
        });
    let ip = config
        .external_ip
        .or(from_url)
        .or_else(|| (!config.http.ip().is_unspecified()).then(|| config.http.ip()))
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    if ip.is_loopback() && config.external_ip.is_none() {
        tracing::info!(%ip, "WebRTC media on loopback: set --external-ip for browsers on other machines");
    }
    ip
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where the control plane's mail (reset links, invitations) goes: the SMTP server of `VOICERA_SMTP_URL`, else
/// `[smtp]`'s, else `.eml` files under `<data>/outbox` for the operator to read or forward. The sender is
/// `VOICERA_SMTP_FROM`, else `[smtp] from`.
fn mail_config(data_dir: &std::path::Path, smtp: Option<&crate::config::SmtpSettings>) -> voicera_api::MailConfig {
    let from = std::env::var("VOICERA_SMTP_FROM")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| smtp.and_then(|s| s.from.clone()))
        .unwrap_or_else(|| "VoiceERA <noreply@voicera.invalid>".into());
    match (std::env::var("VOICERA_SMTP_URL").ok().filter(|v| !v.trim().is_empty()), smtp) {
        (Some(url), _) => voicera_api::MailConfig::Smtp { url, from },
        (None, Some(smtp)) => voicera_api::MailConfig::SmtpServer { server: smtp.server.clone(), from },
        (None, None) => voicera_api::MailConfig::Files { dir: data_dir.join("outbox"), from },
    }
}

/// Recordings for the API: objects in the blob store (`s3://…`, `minio://…`, `fs://…` links) and files under
/// `<data>/calls` (plain paths, as the file sink names them). A recording whose upload is still pending (the
/// blob store was away when its call ended, or a killed run left it) is served from its segment file under
/// `<data>/recordings/<key>`: the log carries the object's URL from the call's end, and the file is there
/// until the upload lands (then it is gone and the object answers).
struct BlobRecordings {
    blobs: Arc<dyn BlobStore>,
    files: voicera_api::recording::FsRecordings,
    /// Segment files waiting for their upload, by object key (`<day>/<record id>.<ext>`).
    pending: std::path::PathBuf,
}

impl BlobRecordings {
    /// The segment file of a `recordings` object whose upload has not landed, if this node holds one.
    fn pending_file(&self, url: &str) -> Option<std::path::PathBuf> {
        let parsed = voicera_blob::parse_blob_url(url).ok()?;
        // Keys are validated by the parse (relative, no `..`): the path stays under the segments dir.
        (parsed.bucket == self.blobs.bucket_name(voicera_blob::Bucket::Recordings))
            .then(|| self.pending.join(&parsed.key))
            .filter(|path| path.is_file())
    }
}

impl voicera_api::recording::RecordingSource for BlobRecordings {
    fn open<'a>(&'a self, url: &'a str, offset: u64) -> voicera_api::recording::OpenFuture<'a> {
        use voicera_api::recording::{OpenRecording, RecordingError};
        if !url.contains("://") || url.starts_with("file://") {
            return self.files.open(url, offset);
        }
        Box::pin(async move {
            // Pending first: asking a blob store that is away would only fail (or time out) before this.
            if let Some(path) = self.pending_file(url) {
                match open_file_at(&path, offset).await {
                    Ok(open) => return Ok(open),
                    // Uploaded (moved away) between the look and the open: the object has it now.
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(RecordingError::Io { url: url.to_string(), source }),
                }
            }
            let range = Some(voicera_blob::ByteRange::From(offset));
            match voicera_blob::get_url(&*self.blobs, url, range).await {
                Ok(read) => Ok(OpenRecording { length: read.total_len, reader: read.reader }),
                // At the end already: nothing left to read, the length still answers Content-Range.
                Err(voicera_blob::BlobError::RangeNotSatisfiable { total }) => {
                    Ok(OpenRecording { length: total, reader: Box::pin(tokio::io::empty()) })
                }
                Err(err) if err.is_not_found() => Err(RecordingError::NotFound(url.to_string())),
                Err(err) => {
                    Err(RecordingError::Io { url: url.to_string(), source: std::io::Error::other(err.to_string()) })
                }
            }
        })
    }
}

/// A local file opened at `offset` (clamped to its length), with its whole length.
async fn open_file_at(path: &std::path::Path, offset: u64) -> std::io::Result<voicera_api::recording::OpenRecording> {
    use tokio::io::AsyncSeekExt;
    let mut file = tokio::fs::File::open(path).await?;
    let length = file.metadata().await?.len();
    file.seek(std::io::SeekFrom::Start(offset.min(length))).await?;
    Ok(voicera_api::recording::OpenRecording { length, reader: Box::pin(file) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicera_store::{Collection, Record, Store};

    /// A media node whose store answers but has no account for VOICERA_ADMIN_EMAIL yet (the API node that makes
    /// it has not started) does not settle its calls on `default` for good: it looks again until the account
    /// is there, then its calls are the owner's.
    #[tokio::test]
    async fn a_store_without_the_owner_account_yet_is_asked_again_until_it_has_it() {
        let dir = crate::test_support::fresh_dir("owner-later");
        let store = Store::open(&dir, None).await.unwrap();
        let email = "owner@example.com";
        let records_org = Arc::new(RecordsOrg::pending(DEFAULT_ORG));
        let shutdown = CancellationToken::new();
        let looking =
            tokio::spawn(find_owner_org_later(store.clone(), email.into(), Arc::clone(&records_org), shutdown.clone()));
        // Lookups at 0.5 s and 1.5 s find no account.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        assert_eq!(records_org.get(), None, "still looking, not settled on the stand-in");
        assert!(!looking.is_finished());
        let user = Record { org_id: "org-owner".into(), id: email.into(), doc: serde_json::json!({"email": email}) };
        store.put(Collection::Users, &user).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), records_org.wait_known())
            .await
            .expect("found at the next lookup");
        assert_eq!(records_org.get(), Some("org-owner"));
        looking.await.unwrap();
        shutdown.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
