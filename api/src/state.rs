//! What the control plane's handlers share: the store, the token key, the clock, the binary's agent
//! validator, settings, and the login limiter. Cheap to clone.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use voicera_store::Store;

use crate::auth::limiter::LoginLimiter;
use crate::auth::password::PasswordCost;
use crate::auth::token::TokenKey;
use crate::clock::{Clock, SystemClock};

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
        ApiState(Arc::new(Inner {
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
        }))
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
