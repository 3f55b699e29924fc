//! What the control plane's handlers share: the store, the token key, the clock, the binary's agent
//! validator, settings, and the login limiter. Cheap to clone.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use voicera_store::secret::MasterKey;
use voicera_store::Store;

use crate::auth::limiter::LoginLimiter;
use crate::auth::password::PasswordCost;
use crate::auth::token::TokenKey;
use crate::clock::{Clock, SystemClock};
use crate::outbox::{FileOutbox, Outbox, OutboxError, SmtpOutbox, DEFAULT_FROM};

/// An agent configuration's first fault, as the compile step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path inside `agent_config` (`llm_model.name`, `language`); the API reports it as `agent_config.<field>`.
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

/// Checks an agent's `agent_config` with the same code that compiles `[[agents]]`, so the API refuses what a
/// call could not run. The binary owns that compile step and plugs it in here.
pub trait AgentValidator: Send + Sync + 'static {
    /// The config's first fault, or `Ok` when a call could run it.
    fn validate(&self, agent_config: &Value) -> Result<(), FieldError>;
}

/// An agent of the node's configuration file (`[[agents]]`): callable, listed in the owner's org with
/// `"source": "config"`, and read-only over the API (it changes with the file).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigAgent {
    /// Its id (also the name the API shows as `agent_type`).
    pub id: String,
    /// Its attached numbers, digits only.
    pub numbers: Vec<String>,
    /// Its settings as the API shows them (`agent_config`).
    pub agent_config: Value,
}

/// The node's call routing as the control plane sees it: the configured agents (whose ids and numbers no
/// stored agent may take) and the hook that makes this node's routing follow an API write at once (other
/// nodes notice by polling the store's revisions). The binary plugs it in with
/// [`ApiState::set_agent_directory`]; without one, no agents are configured and writes reach routing by polling.
pub trait AgentDirectory: Send + Sync + 'static {
    /// The org whose agent listings show the configured agents (the owner's, from `VOICERA_ADMIN_EMAIL`).
    fn config_org(&self) -> Option<String>;

    /// The configured agents.
    fn config_agents(&self) -> Vec<ConfigAgent>;

    /// Agents or numbers changed in the store: resolves once this node routes by the change (or after a
    /// bound the binary sets, when an agent's models take long to load).
    fn changed(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// Control-plane settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Anyone may sign up (creating a new org). Without it, signup is open only while no user exists.
    pub open_signup: bool,
    /// How long an access token works.
    pub access_ttl: Duration,
    /// A login session's absolute lifetime (its refresh tokens stop working then).
    pub refresh_ttl: Duration,
    /// How much work a password hash costs (lower only in tests).
    pub password_cost: PasswordCost,
    /// Largest request body accepted on `/api/v1`.
    pub body_limit: usize,
    /// Failed logins allowed per (email, source) within `login_window` before it is locked out.
    pub login_max_failures: u32,
    /// The window `login_max_failures` counts in; a locked-out key waits for its end.
    pub login_window: Duration,
    /// Take the client address from `X-Real-IP` (set by a reverse proxy in front) instead of the socket.
    pub trust_proxy_headers: bool,
    /// Where the console is served (`[server] public_url`): the only origin that gets CORS headers, the base
    /// of links in mail, and whether session cookies are `Secure` (when it is `https`).
    pub public_url: Option<String>,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
    /// Password-reset requests allowed per email within `reset_window`.
    pub reset_max_per_email: u32,
    /// Password-reset requests (and wrong reset tokens) allowed per source address within `reset_window`.
    pub reset_max_per_source: u32,
    /// The window the reset limits count in.
    pub reset_window: Duration,
    /// How long an invite link works.
    pub invite_ttl: Duration,
    /// Where mail goes.
    pub mail: MailConfig,
    /// Webhook endpoints may be `http://` to a loopback address (tests, a local relay); otherwise only
    /// `https://` (`VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK`).
    pub webhooks_allow_http_loopback: bool,
    /// The node's telephony provider accounts (`[telephony.<provider>]`): the number routes (`/vobiz/...`,
    /// `/plivo/...`) send to their `api_base`, and the owner's org uses their credentials when it stored none.
    pub telephony_accounts: Vec<(voicera_carrier_rest::Provider, voicera_carrier_rest::ProviderAccount)>,
    /// Knowledge uploads processed at once on this node (each holds up to 25 MB and a blocking thread while
    /// its text is read); an upload beyond them is refused with 429 and `Retry-After` before its body is read
    /// (`[api] knowledge_processing_slots`).
    pub knowledge_processing_slots: usize,
    /// How long one knowledge document may take to be stored and read before it is recorded `failed`
    /// (`[api] knowledge_processing_timeout_secs`; under [`crate::routes::knowledge::PROCESSING_LIMIT_MS`]).
    pub knowledge_processing_timeout: Duration,
    /// The dialer nodes' contact lease (`[campaigns] lease_ms`): a campaign's `ring_timeout_seconds` must stay
    /// under two thirds of it, so a ringing call never outlives a lease its node could not renew.
    pub campaign_lease_ms: u64,
}

/// Where the control plane's mail (reset links, invitations) goes.
#[derive(Clone, Default)]
pub enum MailConfig {
    /// Nowhere: each message is dropped with a warning in the log (a node that sends no mail).
    #[default]
    Disabled,
    /// `.eml` files in this directory (the binary passes `<data dir>/outbox` when no SMTP server is set).
    Files {
        /// The directory.
        dir: std::path::PathBuf,
        /// The `From` header.
        from: String,
    },
    /// An SMTP server: `smtp://[user:password@]host[:port]` (STARTTLS when offered) or `smtps://...`.
    Smtp {
        /// The server's URL, credentials included.
        url: String,
        /// The `From` header.
        from: String,
    },
    /// An SMTP server named by its parts (`[smtp]` in voicera.toml).
    SmtpServer {
        /// Host, port, TLS, credentials.
        server: crate::outbox::SmtpServer,
        /// The `From` header.
        from: String,
    },
    /// An outbox of the embedder's (tests, other transports).
    Custom(Arc<dyn Outbox>),
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailConfig::Disabled => f.write_str("Disabled"),
            MailConfig::Files { dir, from } => f.debug_struct("Files").field("dir", dir).field("from", from).finish(),
            // The URL may carry a password.
            MailConfig::Smtp { from, .. } => f.debug_struct("Smtp").field("from", from).finish_non_exhaustive(),
            MailConfig::SmtpServer { server, from } => {
                f.debug_struct("SmtpServer").field("server", server).field("from", from).finish()
            }
            MailConfig::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl MailConfig {
    /// The outbox this configuration names (`None` when mail is disabled).
    pub fn outbox(&self) -> Result<Option<Arc<dyn Outbox>>, OutboxError> {
        Ok(match self {
            MailConfig::Disabled => None,
            MailConfig::Files { dir, from } => Some(Arc::new(FileOutbox::new(dir.clone(), from_or_default(from)))),
            MailConfig::Smtp { url, from } => Some(Arc::new(SmtpOutbox::new(url, from_or_default(from))?)),
            MailConfig::SmtpServer { server, from } => {
                Some(Arc::new(SmtpOutbox::to_server(server.clone(), from_or_default(from))?))
            }
            MailConfig::Custom(outbox) => Some(Arc::clone(outbox)),
        })
    }
}

fn from_or_default(from: &str) -> String {
    if from.trim().is_empty() {
        DEFAULT_FROM.to_string()
    } else {
        from.to_string()
    }
}

impl ApiConfig {
    /// The origin of [`ApiConfig::public_url`] (`https://console.acme.io`, lower-case, no path or trailing
    /// slash): what a browser sends as `Origin` from the console.
    pub fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_deref()?.trim();
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        let authority = authority.rsplit_once('@').map_or(authority.as_str(), |(_, host)| host);
        // The default port is left out of an Origin.
        let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
            ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
            _ => authority,
        };
        (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
    }

    /// Whether the console is served over https (session cookies are then `Secure` and `__Host-` named).
    pub fn secure_cookies(&self) -> bool {
        self.public_origin().is_some_and(|o| o.starts_with("https://"))
    }

    /// [`ApiConfig::public_url`] without a trailing slash, for links in mail.
    pub(crate) fn link_base(&self) -> Option<String> {
        self.public_url.as_deref().map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty())
    }
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            open_signup: false,
            // Short enough that a leaked token is soon useless, long enough that the console refreshes rarely.
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            password_cost: PasswordCost::Standard,
            // Agent configurations are a few KB; 1 MiB leaves room without inviting abuse.
            body_limit: 1024 * 1024,
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            trust_proxy_headers: false,
            public_url: None,
            // Long enough to find the mail, short enough that an old inbox is no key to the account.
            reset_ttl: Duration::from_secs(30 * 60),
            reset_max_per_email: 3,
            reset_max_per_source: 10,
            reset_window: Duration::from_secs(3600),
            invite_ttl: Duration::from_secs(7 * 24 * 3600),
            mail: MailConfig::Disabled,
            webhooks_allow_http_loopback: false,
            telephony_accounts: Vec::new(),
            // The node also carries calls: a few documents at once bound the memory (~25 MB each) and the
            // blocking threads uploads can take.
            knowledge_processing_slots: 2,
            // A 25 MB PDF reads in seconds; well under the 10 minutes after which a listing calls it abandoned.
            knowledge_processing_timeout: Duration::from_secs(5 * 60),
            // The dialer's default lease (`voicera`'s `[campaigns] lease_ms`).
            campaign_lease_ms: 60_000,
        }
    }
}

/// The handlers' shared state.
#[derive(Clone)]
pub struct ApiState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub store: Store,
    pub tokens: TokenKey,
    pub clock: Arc<dyn Clock>,
    pub validator: Arc<dyn AgentValidator>,
    pub config: ApiConfig,
    pub limiter: Mutex<LoginLimiter>,
    /// A hash checked when a login names no account (made on first use).
    pub decoy_hash: OnceLock<String>,
    /// Serialises this node's read-decide-write account changes (the first signup's "no account yet" check,
    /// a refresh token's rotation), which the store cannot do atomically. Rare and short.
    pub accounts_lock: tokio::sync::Mutex<()>,
    /// The node's routing ([`AgentDirectory`]), once the binary has plugged it in.
    pub directory: OnceLock<Arc<dyn AgentDirectory>>,
    /// Serialises this node's checks that an agent id or a number is free across orgs with the write that
    /// takes it.
    pub routing_lock: tokio::sync::Mutex<()>,
    /// The master key, recordings and document files, attached once by the binary ([`ApiState::attach`]).
    pub resources: OnceLock<Resources>,
    /// Password-reset requests per email, and per source address (requests and wrong tokens both count).
    pub reset_limits: Mutex<ResetLimits>,
    /// Where mail goes (`None`: mail is disabled and only logged as unsent).
    pub outbox: Option<Arc<dyn Outbox>>,
    /// Orders audit records written within one millisecond on this node.
    pub audit_sequence: AtomicU64,
    /// The node's calls in progress and make-up ([`NodeConsole`]), once the binary has plugged them in.
    pub node_console: OnceLock<Arc<dyn NodeConsole>>,
    /// The slots of [`ApiConfig::knowledge_processing_slots`]: an upload takes one before its body is read and
    /// its processing task gives it back when done.
    pub knowledge_processing: Arc<tokio::sync::Semaphore>,
}

/// What the call history, integrations and knowledge routes need beyond the store. Until the binary attaches
/// them, those routes answer 503.
pub struct Resources {
    /// Seals provider keys and custom-LLM keys before they are stored.
    pub master_key: MasterKey,
    /// Where recordings are read by their call record's `recording_url`.
    pub recordings: Arc<dyn crate::recording::RecordingSource>,
    /// Where documents uploaded before the blob store kept them are read from (`<dir>/<org>/<document id>.…`).
    pub documents_dir: std::path::PathBuf,
    /// Where uploaded knowledge documents and their extracted text go: the blob store's `knowledge` bucket
    /// (`<org>/<document id>/original.<ext>`, `<org>/<document id>/text.txt`), S3 or the filesystem.
    pub blobs: Arc<dyn voicera_blob::BlobStore>,
    /// Documents' extracted texts kept between retrievals (bounded in bytes, keyed by object URL and
    /// document version), so a question does not read every document from the blob store.
    pub knowledge_texts: Arc<crate::knowledge_texts::KnowledgeTexts>,
}

impl Resources {
    /// A node's resources under its data dir: recordings in `<data>/calls` (where the recorder writes them),
    /// documents in the filesystem blob store `<data>/blobs` (older ones in `<data>/knowledge`).
    pub fn under_data_dir(data_dir: &std::path::Path, master_key: MasterKey) -> Resources {
        Resources {
            master_key,
            recordings: Arc::new(crate::recording::FsRecordings::new(data_dir.join("calls"))),
            documents_dir: data_dir.join("knowledge"),
            blobs: Arc::new(voicera_blob::FsBlobStore::new(data_dir.join("blobs"))),
            knowledge_texts: Arc::new(crate::knowledge_texts::KnowledgeTexts::default()),
        }
    }
}

/// The two limiters of password resets.
pub(crate) struct ResetLimits {
    pub per_email: LoginLimiter,
    pub per_source: LoginLimiter,
}

/// Keys the limiter tracks at once (each ~100 bytes).
const LIMITER_CAPACITY: usize = 100_000;

impl ApiState {
    /// `token_key`: 32 secret bytes, the same on every API node and across restarts (the binary passes
    /// `MasterKey::derive(TOKEN_KEY_PURPOSE)`).
    pub fn new(store: Store, token_key: [u8; 32], validator: Arc<dyn AgentValidator>, config: ApiConfig) -> ApiState {
        ApiState::with_clock(store, token_key, validator, config, Arc::new(SystemClock))
    }

    /// [`ApiState::new`] with the time taken from `clock` (tests pass a [`crate::clock::ManualClock`]).
    pub fn with_clock(
        store: Store,
        token_key: [u8; 32],
        validator: Arc<dyn AgentValidator>,
        config: ApiConfig,
        clock: Arc<dyn Clock>,
    ) -> ApiState {
        let window_ms = i64::try_from(config.login_window.as_millis()).unwrap_or(i64::MAX);
        let limiter = LoginLimiter::new(config.login_max_failures, window_ms, LIMITER_CAPACITY);
        let reset_ms = i64::try_from(config.reset_window.as_millis()).unwrap_or(i64::MAX);
        let reset_limits = ResetLimits {
            per_email: LoginLimiter::new(config.reset_max_per_email, reset_ms, LIMITER_CAPACITY),
            per_source: LoginLimiter::new(config.reset_max_per_source, reset_ms, LIMITER_CAPACITY),
        };
        let outbox = config.mail.outbox().unwrap_or_else(|error| {
            tracing::error!(%error, "the mail settings are unusable: mail is disabled");
            None
        });
        let knowledge_processing = Arc::new(tokio::sync::Semaphore::new(config.knowledge_processing_slots.max(1)));
        ApiState(Arc::new(Inner {
            knowledge_processing,
            store,
            tokens: TokenKey::new(token_key),
            clock,
            validator,
            config,
            limiter: Mutex::new(limiter),
            decoy_hash: OnceLock::new(),
            accounts_lock: tokio::sync::Mutex::new(()),
            directory: OnceLock::new(),
            routing_lock: tokio::sync::Mutex::new(()),
            resources: OnceLock::new(),
            reset_limits: Mutex::new(reset_limits),
            outbox,
            audit_sequence: AtomicU64::new(0),
            node_console: OnceLock::new(),
        }))
    }

    /// Gives the routes their [`Resources`]; once (a second call hands them back).
    pub fn attach(&self, resources: Resources) -> Result<(), Resources> {
        self.0.resources.set(resources)
    }

    /// The attached [`Resources`], or a 503 saying they are missing.
    pub(crate) fn resources(&self) -> Result<&Resources, crate::error::ApiError> {
        self.0.resources.get().ok_or_else(|| {
            crate::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                "this server has no master key or data dir attached to its API",
            )
        })
    }

    /// The document store every route reads and writes.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// Plugs in the node's routing (once; a second call is ignored and returns false).
    pub fn set_agent_directory(&self, directory: Arc<dyn AgentDirectory>) -> bool {
        self.0.directory.set(directory).is_ok()
    }

    /// The node's routing, when plugged in.
    pub(crate) fn agent_directory(&self) -> Option<&Arc<dyn AgentDirectory>> {
        self.0.directory.get()
    }

    pub(crate) fn now(&self) -> i64 {
        self.0.clock.now_millis()
    }

    pub(crate) fn config(&self) -> &ApiConfig {
        &self.0.config
    }
}

/// The purpose string the binary derives the token key with: `master_key.derive(TOKEN_KEY_PURPOSE)`.
pub const TOKEN_KEY_PURPOSE: &str = "voicera api access tokens v1";

/// One call in progress on this node, with the org it belongs to (its agent's).
#[derive(Clone)]
pub struct NodeCall {
    /// The org whose members see it.
    pub org_id: String,
    /// The call, its transcript so far and its hang-up switch.
    pub call: Arc<voicera_conversation::live::LiveCall>,
}

/// What the console's Live and System pages read from the node (`/api/v1/calls/live`, `/api/v1/system`): its
/// id, the calls in progress on it (from the process's [`voicera_conversation::live::LiveCalls`]), and its
/// make-up. The binary plugs it in with [`ApiState::set_node_console`]; without one, those routes answer 503.
pub trait NodeConsole: Send + Sync + 'static {
    /// This node's id (what its call logs carry as `node_id`), when it takes calls.
    fn node_id(&self) -> Option<String>;

    /// The calls in progress on this node, each with its org.
    fn live_calls(&self) -> Vec<NodeCall>;

    /// The node's state as `GET /api/v1/system` answers it (id, version, uptime, roles, store, spool, blob
    /// store, model cache, SIP listeners and trunks).
    fn system(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + '_>>;
}

impl ApiState {
    /// Plugs in the node's [`NodeConsole`] (once; a second call is ignored and returns false).
    pub fn set_node_console(&self, node: Arc<dyn NodeConsole>) -> bool {
        self.0.node_console.set(node).is_ok()
    }

    /// The node's [`NodeConsole`], or a 503 saying this server has none.
    pub(crate) fn node_console(&self) -> Result<&Arc<dyn NodeConsole>, crate::error::ApiError> {
        self.0.node_console.get().ok_or_else(|| {
            crate::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                "this server reports no calls or node state to its API",
            )
        })
    }
}
