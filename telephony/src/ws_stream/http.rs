//! The telephony endpoints on the node's HTTP port (interfaces.md): answer and hangup webhooks, and the
//! media WebSockets the answer documents point at, for Vobiz, Plivo, Twilio and Exotel, plus the aliases
//! applications configured for the original VoicEra use (`/answer?agent_id=`, `/agent/{id}`, `/plivo/...`).
//!
//! Every webhook must carry a valid provider signature for a configured account (403 otherwise, logged), and
//! a delivery already handled is a replay (403); one we failed (5xx) may be retried. Every stream must present
//! the token our answer put in its URL (or its `start` parameters), once per call, except provider and socket
//! streams to the built-in agents listed as open (`bench`: stand-in models, no data). WebRTC offers always need
//! a token from `POST /browser/session`, open agents included: each takes a media port. One tokio task per
//! stream moves frames between the socket and its sans-IO [`StreamSession`] on the node's 20 ms grid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};

use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::time::{interval_at, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::protocol::{answer_document, AudioFormat, Inbound, Outgoing, Peer, Provider, StreamFormats, StreamStart};
use voicera_carrier_rest::document::dial_document;
pub use voicera_carrier_rest::ProviderAccount;
use voicera_carrier_rest::ProviderRest;
use voicera_conversation::agent::{render_template, Agent, CallContext};
use voicera_conversation::amd::{AmdEvent, AmdGate};
use voicera_conversation::core::{CallAction, CallCore, CallService, EndReason};
use voicera_conversation::engine::Conversation;
use voicera_conversation::journal::{FinishedCall, RecordingPlan, WallClock};
use voicera_conversation::live::CallParties;
use voicera_conversation::recorder::{unix_ms, RecordingSink};
use voicera_conversation::routing::{Destination, Router};
use voicera_media::amd::AmdParams;
use voicera_media::metrics::{CallResult, Metrics};
use voicera_media::stream::ENGINE_RATE;

use super::dialled::{DialEvent, DialFuture, DialledCall, DialledCalls, DIAL_PARAM, STATUS_FIELDS};
use super::session::{SessionEvent, StreamSession};
use super::signature::{self, Delivery, ReplayGuard, SignedRequest, SpentTokens, StreamTokens, TokenError, TokenKey};
use crate::grid::aligned_start;
use crate::tools::{ToolOutcome, ToolResults};

/// How long a new stream may take to send its `start`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest webhook body we read (providers send a few hundred bytes of form fields).
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;
/// Largest WebSocket frame we accept: a second of L16 at 24 kHz in base64 is 64 KB.
const MAX_FRAME: usize = 256 * 1024;

/// Settings of the telephony endpoints.
#[derive(Debug, Clone)]
pub struct TelephonyConfig {
    /// `http(s)://host[:port]` as providers reach us; webhook signatures are checked against it and stream
    /// URLs built from it (`wss://` for https).
    pub public_url: String,
    /// The provider accounts this node serves.
    pub accounts: HashMap<Provider, ProviderAccount>,
    /// What we ask Vobiz/Plivo to send (Twilio is always μ-law 8 kHz, Exotel 16-bit 8 kHz).
    pub format: AudioFormat,
    /// Agents whose streams need no token (the built-in `bench` agent of interfaces.md).
    pub open_agents: Vec<String>,
    /// The address browsers reach this node's media on: the host candidate of WebRTC answers.
    pub media_ip: std::net::IpAddr,
    /// Signs the stream tokens of answer documents and browser sessions; the same on every node (derived
    /// from the master key), so a stream may land on any node.
    pub stream_token_key: TokenKey,
    /// Where transfers may go (`[dial_policy]`), the same policy as outbound calls and SIP REFER.
    pub dial_policy: Arc<voicera_conversation::dial_policy::DialPolicy>,
    /// The record of spent stream and session tokens every node shares (the store), so a token is used once in
    /// the deployment, not once per node; `None`: once per node.
    pub spent_tokens: Option<Arc<dyn SpentTokens>>,
    /// Calls our dialer placed through a provider's REST API (a campaign's), on this node or another: their
    /// streams get the contact's variables and answering-machine detection, their webhooks are checked with
    /// the placing account's token, and their stream and status callbacks are reported to the dialer.
    pub dialled: DialledCalls,
}

/// What a browser needs to open a test call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrowserCall {
    /// The call's id (also the stream's).
    pub call_id: String,
    /// The stream token that lets the browser's socket in.
    pub token: String,
    /// The browser socket (L16 16 kHz).
    pub ws_url: String,
    /// Where the page POSTs its WebRTC offer (`{"type":"offer","sdp":...}`) for the answer.
    pub webrtc_url: String,
}

/// Shared state of the telephony endpoints.
pub struct Telephony {
    config: TelephonyConfig,
    router: Arc<dyn Router>,
    tokens: Mutex<StreamTokens>,
    replay: Mutex<ReplayGuard>,
    metrics: Arc<Metrics>,
    recordings: Option<Arc<dyn RecordingSink>>,
    draining: Arc<AtomicBool>,
    /// Cancelled when the node stops: live streams say goodbye and close.
    shutdown: CancellationToken,
    /// Media ports for WebRTC calls (the node's RTP range); an ephemeral port when there is none.
    ports: Option<voicera_media::ports::PortPool>,
}

impl Telephony {
    /// The endpoints' state; `ports` gives WebRTC calls their media ports, `shutdown` ends live streams.
    pub fn new(
        config: TelephonyConfig,
        router: Arc<dyn Router>,
        metrics: Arc<Metrics>,
        recordings: Option<Arc<dyn RecordingSink>>,
        draining: Arc<AtomicBool>,
        shutdown: CancellationToken,
        ports: Option<voicera_media::ports::PortPool>,
    ) -> Arc<Telephony> {
        let tokens = Mutex::new(StreamTokens::new(config.stream_token_key.clone()));
        Arc::new(Telephony {
            config,
            router,
            tokens,
            replay: Mutex::new(ReplayGuard::default()),
            metrics,
            recordings,
            draining,
            shutdown,
            ports,
        })
    }

    /// Transfers on a stream go through the provider's REST API (the provider fetches our dial document at
    /// `/telephony/{provider}/transfer?to=`); the outcome comes back on `tools`. The browser cannot transfer.
    fn transfer(&self, peer: Peer, session: &StreamSession, tools: &ToolResults, id: u64, target: String) {
        let account = match peer {
            Peer::Provider(provider) => self.config.accounts.get(&provider).map(|account| (provider, account)),
            Peer::Browser => None,
        };
        let Some((provider, account)) = account else {
            tools.report_now(id, Err("transfers are not available on this call".into()), true);
            return;
        };
        let target = match self.config.dial_policy.check(&target) {
            Ok(allowed) => allowed.dial_string().to_string(),
            Err(err) => {
                tracing::warn!(%err, "transfer refused by the dial policy");
                tools.report_now(id, Err(format!("cannot transfer there: {err}")), true);
                return;
            }
        };
        let to: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let rest = ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
        let call_id = session.start_info().call_id.clone();
        let dial_url = format!("{}/telephony/{}/transfer?to={to}", self.config.public_url, provider.as_str());
        let results = tools.sender().clone();
        tokio::spawn(async move {
            let outcome = tokio::task::spawn_blocking(move || {
                rest.transfer(&call_id, &target, &dial_url).map(|()| format!("transferring to {target}"))
            })
            .await;
            let result = match outcome {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(e) => Err(format!("transfer task failed: {e}")),
            };
            let _ = results.send(ToolOutcome { id, result, transferred: true }).await;
        });
    }

    /// The call core for a call to `agent` over `transport`, or the WebSocket close code and reason to
    /// refuse it with (1008 unknown agent, 1013 not ready yet).
    fn core_for(
        &self,
        agent: &str,
        transport: &'static str,
        start: &StreamStart,
        dialled: Option<&DialledCall>,
    ) -> Result<CallCore, (u16, String)> {
        // The call's wall clock, read once: the core dates its record from the session's monotonic ticks.
        let clock = WallClock::new(tokio::time::Instant::now().into_std(), SystemTime::now());
        match self.router.route(agent) {
            Some(Destination::Agent(a)) => {
                let context = CallContext {
                    call_id: start.call_id.clone(),
                    caller_number: start.from.clone().unwrap_or_default(),
                    called_number: start.to.clone().unwrap_or_default(),
                    extra: start
                        .parameters
                        .iter()
                        .filter(|(k, _)| !["token", "from", "to", DIRECTION_PARAM, DIAL_PARAM].contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        // A dialled call's contact: its CSV columns, as a SIP campaign call gets them.
                        .chain(dialled.into_iter().flat_map(|d| d.variables.iter().cloned()))
                        .collect(),
                    started_at_ms: clock.anchor_unix_ms(),
                };
                let service = CallService::Agent(Box::new(Conversation::for_call(Arc::clone(&a), &context)));
                let mut core =
                    CallCore::new(service, Arc::clone(&self.metrics), self.recording_for(&a, start), transport, clock);
                // The same hold as a SIP campaign call's: the stream's audio goes to the detector first.
                if let Some(amd) = dialled.and_then(|d| d.amd.as_ref()) {
                    let message = render_template(&amd.message, &a, &context, context.started_at_ms / 1000);
                    let gate = AmdGate::new(ENGINE_RATE, amd.on_machine, AmdParams::default());
                    core.hold_for_amd(gate, message);
                }
                Ok(core.with_parties(parties_of(start)))
            }
            Some(Destination::Echo) => {
                Ok(CallCore::new(CallService::Echo, Arc::clone(&self.metrics), None, transport, clock)
                    .with_parties(parties_of(start)))
            }
            Some(Destination::Unavailable { reason, .. }) => {
                self.metrics.count_result(CallResult::Rejected);
                Err((1013, reason))
            }
            None => {
                self.metrics.count_result(CallResult::Rejected);
                Err((1008, format!("no agent {agent:?}")))
            }
        }
    }

    /// Where the call's record goes (every agent call has a log; its agent decides whether a transcript and
    /// recording come with it).
    fn recording_for(&self, _agent: &Agent, start: &StreamStart) -> Option<RecordingPlan> {
        let sink = self.recordings.as_ref()?;
        let CallParties { caller, called, outbound } = parties_of(start);
        Some(RecordingPlan { sink: Arc::clone(sink), caller, called, outbound })
    }

    /// Spends the stream token of a call over `scope` (a provider's name, or `browser` for the socket and
    /// WebRTC): it must have been issued for this agent and call, unexpired, and this call's first stream.
    /// This node's memory answers first (a token it spent is refused without a round trip), then the record all
    /// nodes share: a token spent on another node is refused here too. When that record cannot be reached the
    /// stream is let in on this node's word alone (logged): refusing every call while the store is away would
    /// turn a store outage into a call outage, and the token is still bound to its call and expires in minutes.
    async fn redeem(&self, scope: &str, agent: &str, call_id: &str, token: Option<&str>) -> Result<(), TokenError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenError::Missing)?;
        let now = unix_ms() / 1000;
        let (expires, shared_id) = {
            let mut tokens = self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let expires = tokens.check(token, scope, agent, call_id, now)?;
            (expires, tokens.spend_here(scope, agent, call_id, expires, now)?)
        };
        let Some(shared) = &self.config.spent_tokens else { return Ok(()) };
        match shared.spend(shared_id, expires, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TokenError::Used),
            Err(err) => {
                tracing::warn!(%err, %call_id, "the shared record of spent tokens is unreachable: token checked on this node only");
                Ok(())
            }
        }
    }

    /// A stream token for `agent` on `call_id` over `scope`.
    fn issue_token(&self, scope: &str, agent: &str, call_id: &str) -> String {
        let tokens = self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tokens.issue(scope, agent, call_id, unix_ms() / 1000)
    }

    /// Counts a finished call and stores its record off the reactor.
    async fn finish_call(&self, reason: &EndReason, finished: Option<FinishedCall>) {
        self.metrics.call_ended(match reason {
            EndReason::MediaError(_) | EndReason::Panicked => CallResult::Failed,
            _ => CallResult::Completed,
        });
        if let Some(finished) = finished {
            if let Err(err) = tokio::task::spawn_blocking(move || finished.store()).await {
                tracing::error!(%err, "call record task failed");
            }
        }
    }

    /// Agents anyone may call without a token (stand-in models, no data).
    pub fn is_open(&self, agent: &str) -> bool {
        self.config.open_agents.iter().any(|a| a == agent)
    }

    /// A browser call to `agent`: a fresh call id and the token for `/browser/agent/{agent}` (the caller of
    /// this function has authenticated the user).
    pub fn browser_call(&self, agent: &str) -> BrowserCall {
        let call_id = format!("browser-{:016x}", rand::random::<u64>());
        let token = self.issue_token("browser", agent, &call_id);
        let agent_path: String = form_urlencoded::byte_serialize(agent.as_bytes()).collect();
        let query = format!("call_id={call_id}&token={token}");
        let ws_url = format!("{}/browser/agent/{agent_path}?{query}", self.ws_base());
        let webrtc_url = format!("{}/browser/webrtc/{agent_path}?{query}", self.config.public_url);
        BrowserCall { call_id, token, ws_url, webrtc_url }
    }

    fn ws_base(&self) -> String {
        let url = &self.config.public_url;
        if let Some(rest) = url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", url.strip_prefix("http://").unwrap_or(url))
        }
    }
}

/// Which URL shape a request came in on: the canonical paths or the original VoicEra's aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paths {
    Canonical,
    Compat,
}

fn stream_path(provider: Provider, paths: Paths, agent: &str) -> String {
    let agent = form_urlencoded::byte_serialize(agent.as_bytes()).collect::<String>();
    match (paths, provider) {
        (Paths::Compat, Provider::Vobiz) => format!("/agent/{agent}"),
        (Paths::Compat, Provider::Plivo) => format!("/plivo/agent/{agent}"),
        _ => format!("/telephony/{}/stream/{agent}", provider.as_str()),
    }
}

/// The telephony routes, to merge into the node's router.
pub fn router(telephony: Arc<Telephony>) -> axum::Router {
    axum::Router::new()
        .route("/telephony/{provider}/answer", get(answer_canonical).post(answer_canonical))
        .route("/telephony/{provider}/hangup", get(hangup_canonical).post(hangup_canonical))
        .route("/telephony/{provider}/transfer", get(transfer_document).post(transfer_document))
        .route("/telephony/{provider}/stream/{agent}", any(stream_canonical))
        .route("/answer", get(answer_vobiz_compat).post(answer_vobiz_compat))
        .route("/agent/{agent}", any(stream_vobiz_compat))
        .route("/plivo/answer", get(answer_plivo_compat).post(answer_plivo_compat))
        .route("/plivo/hangup", get(hangup_plivo_compat).post(hangup_plivo_compat))
        .route("/plivo/agent/{agent}", any(stream_plivo_compat))
        .route("/browser/agent/{agent}", any(stream_browser))
        .route("/browser/webrtc/{agent}", post(webrtc_offer))
        .with_state(telephony)
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.into()).into_response()
}

/// A refused request: the status and a message for the provider's (or operator's) logs.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        plain(self.0, self.1)
    }
}

fn provider_of(name: &str) -> Result<Provider, Refusal> {
    Provider::parse(name).ok_or_else(|| {
        Refusal(StatusCode::NOT_FOUND, format!("unknown provider {name:?} (vobiz, plivo, twilio, exotel)"))
    })
}

/// A webhook request, read and authenticated, with its claim on the delivery (none for providers whose
/// deliveries are not told apart, see [`signature::replay_key`]).
struct Webhook<'a> {
    form: Vec<(String, String)>,
    query: Vec<(String, String)>,
    claim: Option<DeliveryClaim<'a>>,
    /// A call our dialer placed (`?dial=`): its dial id and the call, whose account signed the webhook.
    dialled: Option<(String, DialledCall)>,
}

impl Webhook<'_> {
    fn field(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.form.iter().chain(self.query.iter()).find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
    }

    /// Settles the delivery by the handler's answer: used when it succeeded (2xx), free for the provider's
    /// retry otherwise.
    fn settle(self, response: Response) -> Response {
        if let Some(claim) = self.claim {
            claim.settle(response.status().is_success());
        }
        response
    }
}

/// A delivery being handled ([`Delivery::Fresh`]). Dropped unsettled (the handler failed early, or the
/// request was cancelled), it is released so a retry is fresh.
struct DeliveryClaim<'a> {
    guard: &'a Mutex<ReplayGuard>,
    key: String,
    settled: bool,
}

impl DeliveryClaim<'_> {
    fn settle(mut self, handled: bool) {
        self.finish(handled);
    }

    fn finish(&mut self, handled: bool) {
        if !self.settled {
            self.settled = true;
            let mut guard = self.guard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.finish(&self.key, handled, unix_ms() / 1000);
        }
    }
}

impl Drop for DeliveryClaim<'_> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

fn authenticate<'a>(
    telephony: &'a Telephony,
    provider: Provider,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    dialled: Option<(String, DialledCall)>,
) -> Result<Webhook<'a>, Refusal> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if *method == Method::POST && is_form {
        form_urlencoded::parse(body).into_owned().collect()
    } else if *method == Method::POST && !body.is_empty() {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "webhook body must be application/x-www-form-urlencoded".into(),
        ));
    } else {
        Vec::new()
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path_and_query}", telephony.config.public_url);
    // A call we placed is signed with the placing account's token, and only that (never the node's own).
    let account = match &dialled {
        Some((_, call)) => Some(&call.account),
        None => telephony.config.accounts.get(&provider),
    };
    let Some(account) = account else {
        let err = signature::SignatureError::NotConfigured(provider.as_str());
        tracing::warn!(provider = provider.as_str(), path = uri.path(), %err, "webhook refused");
        return Err(Refusal(StatusCode::FORBIDDEN, err.to_string()));
    };
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let request = SignedRequest { method: method.as_str(), url: &url, form: &form, header: &lookup };
    if let Err(err) = signature::verify(provider, &account.auth_token, &request) {
        tracing::warn!(provider = provider.as_str(), path = uri.path(), %err, "webhook refused: bad signature");
        return Err(Refusal(StatusCode::FORBIDDEN, err.to_string()));
    }
    let claim = match signature::replay_key(provider, &request) {
        None => None,
        Some(key) => {
            let delivery = {
                let mut guard = telephony.replay.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                guard.begin(&key, unix_ms() / 1000)
            };
            match delivery {
                Delivery::Fresh => Some(DeliveryClaim { guard: &telephony.replay, key, settled: false }),
                Delivery::InProgress => {
                    let err = signature::SignatureError::InProgress;
                    tracing::info!(provider = provider.as_str(), path = uri.path(), %err, "webhook deferred");
                    return Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, err.to_string()));
                }
                Delivery::Replayed => {
                    let err = signature::SignatureError::Replayed;
                    tracing::warn!(provider = provider.as_str(), path = uri.path(), %err, "webhook refused");
                    return Err(Refusal(StatusCode::FORBIDDEN, err.to_string()));
                }
            }
        }
    };
    Ok(Webhook { form, query, claim, dialled })
}

async fn answer_canonical(State(t): State<Arc<Telephony>>, Path(provider): Path<String>, request: Request) -> Response {
    match provider_of(&provider) {
        Ok(provider) => answer(&t, provider, Paths::Canonical, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn answer_vobiz_compat(State(t): State<Arc<Telephony>>, request: Request) -> Response {
    answer(&t, Provider::Vobiz, Paths::Compat, request).await
}

async fn answer_plivo_compat(State(t): State<Arc<Telephony>>, request: Request) -> Response {
    answer(&t, Provider::Plivo, Paths::Compat, request).await
}

/// Reads and authenticates a webhook; the body is cut off at [`MAX_WEBHOOK_BODY`].
async fn read_webhook(t: &Telephony, provider: Provider, request: Request) -> Result<Webhook<'_>, Refusal> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_WEBHOOK_BODY)
        .await
        .map_err(|_| Refusal(StatusCode::PAYLOAD_TOO_LARGE, format!("webhook body over {MAX_WEBHOOK_BODY} bytes")))?;
    // A call our dialer placed (on any node) is signed with the placing account's token.
    let dial = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == DIAL_PARAM)
        .map(|(_, id)| id.into_owned());
    let dialled = match dial {
        Some(id) => match t.config.dialled.find(&id, provider).await {
            Some(call) => Some((id, call)),
            None => {
                // No dialer follows it (its node lost the call, it ended, or the id is made up): there is no
                // account to check the signature with, and nobody would record what it says.
                tracing::warn!(
                    provider = provider.as_str(),
                    path = parts.uri.path(),
                    "webhook of a dialled call nobody follows"
                );
                return Err(Refusal(StatusCode::NOT_FOUND, "no dialled call is followed under this id".into()));
            }
        },
        None => None,
    };
    authenticate(t, provider, &parts.method, &parts.uri, &parts.headers, &body, dialled)
}

/// The stream URL's parameter (a Twilio custom parameter) saying the agent placed the call: `outbound`.
pub const DIRECTION_PARAM: &str = "direction";
/// [`DIRECTION_PARAM`]'s value for a call the agent placed.
const OUTBOUND: &str = "outbound";

async fn answer(t: &Telephony, provider: Provider, paths: Paths, request: Request) -> Response {
    match read_webhook(t, provider, request).await {
        Ok(hook) => {
            let response = answer_call(t, provider, paths, &hook).await;
            hook.settle(response)
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// Answers a call: the provider's document that opens a bidirectional stream to the agent.
async fn answer_call(t: &Telephony, provider: Provider, paths: Paths, hook: &Webhook<'_>) -> Response {
    // The original's Vobiz app posted hangups to the answer URL with Event=Hangup.
    if hook.field(&["Event"]).is_some_and(|e| e.eq_ignore_ascii_case("hangup")) {
        if let Some(response) = dialled_status(t, provider, hook).await {
            return response;
        }
        return hangup_logged(t, provider, hook).await;
    }
    if t.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], "draining").into_response();
    }
    let call_id = hook.field(&["CallUUID", "CallSid", "call_sid", "CallId"]).unwrap_or("").to_string();
    let to = hook.field(&["To", "to", "CallTo"]).unwrap_or("").to_string();
    let agent = hook.field(&["agent_id", "agent_type"]).map(String::from).unwrap_or_else(|| to.clone());
    // A call our dialer placed was signed with the placing org's own account: it may reach only the agent it
    // was placed for, never another org's by a changed `agent_id`.
    // The call may have been placed by another node: the registry is the deployment's.
    // (`read_webhook` found it, or refused the webhook.)
    let dial = hook.dialled.as_ref().map(|(id, _)| id.as_str());
    if let Some((_, call)) = &hook.dialled {
        if call.agent != agent {
            tracing::warn!(provider = provider.as_str(), %agent, %call_id, "answer: a dialled call names another agent");
            return plain(StatusCode::FORBIDDEN, "this call was placed for another agent");
        }
    }
    if agent.is_empty() {
        return plain(StatusCode::BAD_REQUEST, "no agent: pass ?agent_id= or attach the called number to an agent");
    }
    match t.router.route(&agent) {
        None => {
            tracing::warn!(provider = provider.as_str(), %agent, %call_id, "answer: unknown agent");
            t.metrics.count_result(CallResult::Rejected);
            plain(StatusCode::NOT_FOUND, format!("no agent {agent:?}"))
        }
        Some(Destination::Unavailable { reason, retry_after_secs }) => {
            t.metrics.count_result(CallResult::Rejected);
            let retry = retry_after_secs.to_string();
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)], reason).into_response()
        }
        Some(destination) => {
            // A called number resolves to its agent's id: the stream URL names the agent itself.
            let agent = match destination {
                Destination::Agent(a) => a.id.clone(),
                _ => agent,
            };
            let token = t.issue_token(provider.as_str(), &agent, &call_id);
            let url = format!("{}{}", t.ws_base(), stream_path(provider, paths, &agent));
            let format = if provider.negotiates_format() { t.config.format } else { provider.default_format() };
            // The numbers ride along: Vobiz's and Plivo's `start` events do not carry them. So does the
            // direction: the provider's (`outbound`, Twilio's `outbound-api`), or our dialler's answer URL's.
            let from = hook.field(&["From", "from", "CallFrom"]).unwrap_or("");
            let mut params = vec![("token", token.as_str()), ("from", from), ("to", to.as_str())];
            if hook.field(&["Direction", "direction"]).is_some_and(|d| d.to_ascii_lowercase().starts_with(OUTBOUND)) {
                params.push((DIRECTION_PARAM, OUTBOUND));
            }
            // A call our dialer placed: its stream finds the call's contact and detection by it.
            if let Some(dial) = dial {
                params.push((DIAL_PARAM, dial));
            }
            let (content_type, body) = answer_document(provider, &url, format, &params);
            tracing::info!(provider = provider.as_str(), %agent, %call_id, from = hook.field(&["From", "from"]).unwrap_or(""), %to, "answering with a stream");
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    }
}

async fn hangup_canonical(State(t): State<Arc<Telephony>>, Path(provider): Path<String>, request: Request) -> Response {
    match provider_of(&provider) {
        Ok(provider) => hangup(&t, provider, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn hangup_plivo_compat(State(t): State<Arc<Telephony>>, request: Request) -> Response {
    hangup(&t, Provider::Plivo, request).await
}

async fn hangup(t: &Telephony, provider: Provider, request: Request) -> Response {
    match read_webhook(t, provider, request).await {
        Ok(hook) => {
            if let Some(response) = dialled_status(t, provider, &hook).await {
                return hook.settle(response);
            }
            let response = hangup_logged(t, provider, &hook).await;
            hook.settle(response)
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// The document a provider fetches when we transfer a call through its API: dial the target.
async fn transfer_document(
    State(t): State<Arc<Telephony>>,
    Path(provider): Path<String>,
    request: Request,
) -> Response {
    let provider = match provider_of(&provider) {
        Ok(provider) => provider,
        Err(refusal) => return refusal.into_response(),
    };
    match read_webhook(&t, provider, request).await {
        Ok(hook) => {
            let target = hook.field(&["to"]).filter(|to| !to.is_empty()).map(|to| t.config.dial_policy.check(to));
            let response = match target {
                Some(Err(err)) => {
                    tracing::warn!(provider = provider.as_str(), %err, "transfer document refused by the dial policy");
                    plain(StatusCode::FORBIDDEN, format!("transfer target refused: {err}"))
                }
                Some(Ok(allowed)) => {
                    let to = allowed.dial_string();
                    tracing::info!(provider = provider.as_str(), %to, "transfer: dialling the target");
                    ([(header::CONTENT_TYPE, "application/xml")], dial_document(provider, to)).into_response()
                }
                None => plain(StatusCode::BAD_REQUEST, "transfer document needs ?to="),
            };
            hook.settle(response)
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// The provider's end-of-call report: the authoritative end of a Vobiz/Plivo call (their sockets just close),
/// and the only trace of a call that never reached a stream (busy, no answer). Kept beside the call record.
async fn hangup_logged(t: &Telephony, provider: Provider, hook: &Webhook<'_>) -> Response {
    let report = provider_report(provider, hook, unix_ms() / 1000);
    tracing::info!(
        provider = provider.as_str(),
        call_id = %report.call_id,
        cause = %report.cause,
        duration = ?report.duration_secs,
        unanswered = report.unanswered,
        "provider reports the call ended"
    );
    if report.call_id.is_empty() {
        return plain(StatusCode::BAD_REQUEST, "hangup report without a call id (CallUUID/CallSid)");
    }
    if let Some(sink) = t.recordings.clone() {
        let saved = tokio::task::spawn_blocking(move || {
            let result = sink.store_provider_report(&report);
            (result, report)
        })
        .await;
        match saved {
            Ok((Ok(()), _)) => {}
            Ok((Err(err), report)) => {
                // The provider retries on a 5xx; the report is in the log in full meanwhile.
                tracing::error!(%err, ?report, "provider report not stored");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "report not stored; retry");
            }
            Err(err) => {
                tracing::error!(%err, "provider report task failed");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "report not stored; retry");
            }
        }
    }
    plain(StatusCode::OK, "")
}

/// Reads a hangup webhook or status callback, whatever the provider calls its fields.
fn provider_report(provider: Provider, hook: &Webhook<'_>, now: u64) -> voicera_conversation::recorder::ProviderReport {
    let text = |names: &[&str]| hook.field(names).unwrap_or("").to_string();
    let cause = text(&["HangupCause", "HangupCauseName", "CallStatus", "Status"]);
    let status = text(&["CallStatus", "Status"]).to_ascii_lowercase();
    let unanswered = ["busy", "no-answer", "no_answer", "failed", "canceled", "cancel"].contains(&status.as_str())
        || ["USER_BUSY", "NO_ANSWER", "NO_USER_RESPONSE", "CALL_REJECTED", "ORIGINATOR_CANCEL"]
            .iter()
            .any(|c| cause.eq_ignore_ascii_case(c));
    voicera_conversation::recorder::ProviderReport {
        provider: provider.as_str(),
        call_id: text(&["CallUUID", "CallSid", "call_sid", "CallId"]),
        caller: text(&["From", "from", "CallFrom"]),
        called: text(&["To", "to", "CallTo"]),
        direction: text(&["Direction", "direction"]),
        cause,
        duration_secs: hook
            .field(&["Duration", "CallDuration", "BillDuration", "DialCallDuration"])
            .and_then(|d| d.trim().parse().ok()),
        unanswered,
        received_at: now,
    }
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    token: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// `outbound` when the agent placed the call ([`DIRECTION_PARAM`]).
    direction: Option<String>,
    /// Browser calls: the call id the token was issued for.
    call_id: Option<String>,
    /// A call our dialer placed ([`DIAL_PARAM`]).
    dial: Option<String>,
}

async fn stream_canonical(
    State(t): State<Arc<Telephony>>,
    Path((provider, agent)): Path<(String, String)>,
    Query(query): Query<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match provider_of(&provider) {
        Ok(provider) => accept(t, Peer::Provider(provider), agent, query, upgrade),
        Err(refusal) => refusal.into_response(),
    }
}

async fn stream_vobiz_compat(
    State(t): State<Arc<Telephony>>,
    Path(agent): Path<String>,
    Query(query): Query<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    accept(t, Peer::Provider(Provider::Vobiz), agent, query, upgrade)
}

async fn stream_plivo_compat(
    State(t): State<Arc<Telephony>>,
    Path(agent): Path<String>,
    Query(query): Query<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    accept(t, Peer::Provider(Provider::Plivo), agent, query, upgrade)
}

/// The browser test socket: L16 16 kHz binary frames both ways, JSON control and transcript events.
async fn stream_browser(
    State(t): State<Arc<Telephony>>,
    Path(agent): Path<String>,
    Query(query): Query<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    accept(t, Peer::Browser, agent, query, upgrade)
}

fn accept(t: Arc<Telephony>, peer: Peer, agent: String, query: StreamQuery, upgrade: WebSocketUpgrade) -> Response {
    if t.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], "draining").into_response();
    }
    upgrade.max_frame_size(MAX_FRAME).max_message_size(MAX_FRAME).on_upgrade(move |socket| {
        let span = tracing::info_span!("stream", peer = peer.as_str(), %agent);
        let run = async move {
            match peer {
                Peer::Provider(provider) => run_provider_stream(t, provider, agent, query, socket).await,
                Peer::Browser => run_browser_stream(t, agent, query, socket).await,
            }
        };
        tracing::Instrument::instrument(run, span)
    })
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame { code, reason: reason.chars().take(120).collect::<String>().into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Waits for the provider's `start` (skipping `connected` and anything before it).
/// A status callback of a call our dialer placed goes to the dialer (a progress report, Twilio's `initiated`,
/// `ringing`, `answered`, is no end of the call and needs no record): the response, None when the webhook names
/// no dial. A dialled call's end is the dialer's to record, in its campaign's org (its contact's outcome; an
/// answered call's log comes from its stream): never a report in the node owner's call log. One that could not
/// be recorded (the store failed or kept changing) asks the provider to try again.
async fn dialled_status(t: &Telephony, provider: Provider, hook: &Webhook<'_>) -> Option<Response> {
    let (dial, call) = hook.dialled.as_ref()?;
    let progress = voicera_carrier_rest::read_callback(|name| hook.field(&[name]));
    let going = matches!(progress, voicera_carrier_rest::CallProgress::Going { .. });
    let fields = STATUS_FIELDS
        .iter()
        .copied()
        .filter_map(|name| hook.field(&[name]).map(|value| (name.to_string(), value.to_string())))
        .collect();
    let recorded = t.config.dialled.report(dial, call, DialEvent::Status(fields)).await;
    if going || recorded {
        return Some(plain(StatusCode::OK, ""));
    }
    tracing::warn!(provider = provider.as_str(), %dial, "status of a dialled call not recorded: provider to retry");
    Some((StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "status not recorded; retry").into_response())
}

async fn wait_for_start(socket: &mut WebSocket) -> Result<StreamStart, String> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let mut scratch = Vec::new();
    loop {
        let message = tokio::time::timeout_at(deadline, socket.recv())
            .await
            .map_err(|_| format!("no start event within {} s", START_TIMEOUT.as_secs()))?;
        match message {
            Some(Ok(Message::Text(text))) => match super::protocol::parse_event(text.as_str(), &mut scratch) {
                Ok(Inbound::Start(start)) => return Ok(*start),
                Ok(Inbound::Stop) => return Err("stopped before start".into()),
                Ok(_) => scratch.clear(),
                Err(err) => return Err(err.to_string()),
            },
            Some(Ok(Message::Close(_))) | None => return Err("closed before start".into()),
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.to_string()),
        }
    }
}

async fn run_provider_stream(
    t: Arc<Telephony>,
    provider: Provider,
    agent: String,
    query: StreamQuery,
    mut socket: WebSocket,
) {
    let mut start = match wait_for_start(&mut socket).await {
        Ok(start) => start,
        Err(reason) => {
            tracing::warn!(%reason, "stream refused");
            close(&mut socket, 1002, &reason).await;
            return;
        }
    };
    let token = query.token.or_else(|| start.parameters.get("token").cloned());
    // Numbers from our own stream URL (Vobiz/Plivo) or the start's parameters (Twilio), when `start` lacks them.
    start.from =
        start.from.take().or(query.from).or_else(|| start.parameters.get("from").cloned()).filter(|s| !s.is_empty());
    start.to = start.to.take().or(query.to).or_else(|| start.parameters.get("to").cloned()).filter(|s| !s.is_empty());
    if let Some(direction) = query.direction {
        start.parameters.insert(DIRECTION_PARAM.to_string(), direction);
    }
    let dial = query.dial.or_else(|| start.parameters.get(DIAL_PARAM).cloned());
    if !t.is_open(&agent) {
        if let Err(err) = t.redeem(provider.as_str(), &agent, &start.call_id, token.as_deref()).await {
            tracing::warn!(call_id = %start.call_id, %err, "stream refused");
            t.metrics.count_result(CallResult::Rejected);
            close(&mut socket, 1008, &err.to_string()).await;
            return;
        }
    }
    let requested = if provider.negotiates_format() { t.config.format } else { provider.default_format() };
    let Some(id) = dial else {
        run_call(t, Peer::Provider(provider), agent, start, requested, socket, None, None).await;
        return;
    };
    // A stream naming a dial is that call's or nothing: never a plain call with its caller's choice of dial.
    let Some(mut call) = t.config.dialled.find(&id, provider).await else {
        tracing::warn!(dial = %id, call_id = %start.call_id, "stream refused: a dialled call nobody follows");
        t.metrics.count_result(CallResult::Rejected);
        close(&mut socket, 1011, "no dialled call is followed under this id").await;
        return;
    };
    // The stream's token was issued for `agent`: the dial must be a call placed for that agent (as its answer
    // webhook checks), so no stream borrows another org's call, contact variables and detection.
    if call.agent != agent {
        tracing::warn!(dial = %id, call_id = %start.call_id, %agent, "stream refused: the dialled call names another agent");
        t.metrics.count_result(CallResult::Rejected);
        close(&mut socket, 1008, "this call was placed for another agent").await;
        return;
    }
    tracing::info!(dial = %id, call_id = %start.call_id, "stream of a dialled call");
    let registry = t.config.dialled.clone();
    // What the registry checks a report against (the call's provider and placing account).
    let reporter = DialledCall {
        provider: call.provider,
        account: call.account.clone(),
        agent: call.agent.clone(),
        variables: Vec::new(),
        amd: None,
    };
    registry.report(&id, &reporter, DialEvent::StreamStarted { call_id: start.call_id.clone() }).await;
    // Detection events go to the dialer through the registry, in order, and all of them before the stream's
    // end (the dialer reads the verdict once it learns the call ended).
    let forwarder = call.amd.as_mut().map(|amd| {
        let (events, mut heard) = tokio::sync::mpsc::unbounded_channel();
        amd.events = Some(events);
        let (registry, id) = (registry.clone(), id.clone());
        let reporter = DialledCall {
            provider: reporter.provider,
            account: reporter.account.clone(),
            agent: reporter.agent.clone(),
            variables: Vec::new(),
            amd: None,
        };
        tokio::spawn(async move {
            while let Some(event) = heard.recv().await {
                registry.report(&id, &reporter, DialEvent::Amd(event)).await;
            }
        })
    });
    // The node serving the stream watches the dial for as long as it runs: a call whose placing node died (or
    // whose contact another node settled) is hung up here, so its contact is never called twice at once.
    let call_id = start.call_id.clone();
    let watch = registry.watch(&id, &reporter, &call_id);
    run_call(Arc::clone(&t), Peer::Provider(provider), agent, start, requested, socket, Some(&call), Some(watch)).await;
    drop(call);
    if let Some(forwarder) = forwarder {
        let _ = forwarder.await;
    }
    registry.report(&id, &reporter, DialEvent::StreamEnded).await;
}

async fn run_browser_stream(t: Arc<Telephony>, agent: String, query: StreamQuery, mut socket: WebSocket) {
    let call_id =
        query.call_id.filter(|c| !c.is_empty()).unwrap_or_else(|| format!("browser-{:016x}", rand::random::<u64>()));
    if !t.is_open(&agent) {
        if let Err(err) = t.redeem("browser", &agent, &call_id, query.token.as_deref()).await {
            tracing::warn!(%call_id, %err, "browser call refused");
            t.metrics.count_result(CallResult::Rejected);
            close(&mut socket, 1008, &format!("{err}: get one from POST /browser/session")).await;
            return;
        }
    }
    let start = browser_start(call_id, &agent, Some(AudioFormat::L16_16K));
    run_call(t, Peer::Browser, agent, start, AudioFormat::L16_16K, socket, None, None).await;
}

/// A browser call as the engine and the call record see it: the browser calls the agent.
fn browser_start(call_id: String, agent: &str, format: Option<AudioFormat>) -> StreamStart {
    StreamStart {
        stream_id: call_id.clone(),
        call_id,
        format,
        from: Some("browser".into()),
        to: Some(agent.to_string()),
        parameters: Default::default(),
    }
}

/// Runs an authorised stream to its end: the agent (or echo) on the call, a journal when the agent records,
/// metrics, and the call record at the end. A dialled call's `dialer_gone` resolves when its dialer no longer
/// follows it (see [`DialledCalls::watch`]): the stream then ends.
#[allow(clippy::too_many_arguments)] // one call's parts, each from a different source; a struct would only rename them
async fn run_call(
    t: Arc<Telephony>,
    peer: Peer,
    agent: String,
    start: StreamStart,
    requested: AudioFormat,
    mut socket: WebSocket,
    dialled: Option<&DialledCall>,
    dialer_gone: Option<DialFuture<'_, String>>,
) {
    let core = match t.core_for(&agent, peer.as_str(), &start, dialled) {
        Ok(core) => core,
        Err((code, reason)) => {
            close(&mut socket, code, &reason).await;
            return;
        }
    };
    let call_id = start.call_id.clone();
    let greeting = core.greeting().to_string();
    let mut session = StreamSession::new(peer, start, requested, core);
    tracing::info!(%call_id, stream_id = %session.start_info().stream_id, format = %session.format().content_type(), "stream started");
    if peer == Peer::Browser {
        let started = serde_json::json!({
            "event": "started",
            "callId": call_id,
            "agent": agent,
            "format": session.format().content_type(),
            "greeting": greeting,
        });
        if socket.send(Message::Text(started.to_string().into())).await.is_err() {
            return;
        }
    }
    t.metrics.call_started();
    session.begin();
    let amd_events = dialled.and_then(|d| d.amd.as_ref()).and_then(|amd| amd.events.as_ref());
    let reason = drive(&t, peer, &mut session, &mut socket, amd_events, dialer_gone).await;
    tracing::info!(%call_id, ?reason, protocol_errors = session.protocol_errors(), "stream ended");
    let finished = session.finish(&reason);
    t.finish_call(&reason, finished).await;
}

/// The stream's loop: peer frames in (caller audio is heard as it arrives), a tick per 20 ms on the node's
/// grid (agent audio paced out, silence for late audio), and after either, what the call core asked for is
/// carried out.
async fn drive(
    t: &Telephony,
    peer: Peer,
    session: &mut StreamSession,
    socket: &mut WebSocket,
    amd_events: Option<&tokio::sync::mpsc::UnboundedSender<AmdEvent>>,
    dialer_gone: Option<DialFuture<'_, String>>,
) -> EndReason {
    let mut dialer_gone = dialer_gone.unwrap_or_else(|| Box::pin(std::future::pending()));
    let ptime = Duration::from_millis(20);
    let mut tick = interval_at(aligned_start(ptime), ptime);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut tools = ToolResults::default();
    loop {
        tokio::select! {
            Some(ToolOutcome { id, result, transferred }) = tools.next() => session.on_tool_result(id, result, transferred),
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => match session.on_text(text.as_str()) {
                    Ok(SessionEvent::None) => {}
                    Ok(SessionEvent::Dtmf(digit)) => {
                        voicera_conversation::content_event!(%digit, "DTMF (stream event)");
                        t.metrics.dtmf_received();
                    }
                    Ok(SessionEvent::Stopped) => return EndReason::Stopped,
                    Err(err) => tracing::warn!(%err, "stream frame skipped"),
                },
                Some(Ok(Message::Binary(bytes))) => session.on_binary(&bytes),
                Some(Ok(Message::Close(_))) | None => return EndReason::Stopped,
                Some(Ok(_)) => continue,
                Some(Err(err)) => return EndReason::MediaError(err.to_string()),
            },
            _ = tick.tick() => session.tick(tokio::time::Instant::now().into_std()),
            _ = t.shutdown.cancelled() => {
                say_goodbye(session.stop_message("the server is shutting down"), socket).await;
                return EndReason::Stopped;
            }
            // Nobody follows this dialled call any more (the registry hung it up at the provider): end the
            // stream too, rather than talk on a call the provider no longer carries.
            why = &mut dialer_gone => {
                tracing::warn!(%why, "a dialled call's dialer is gone: hanging up");
                say_goodbye(session.stop_message("the call's dialer is gone"), socket).await;
                return EndReason::Stopped;
            }
        }
        // Answering-machine detection's verdict (then a message left) to the dialer, as a SIP call reports it.
        while let Some(event) = session.take_amd_event() {
            if let Some(events) = amd_events {
                let _ = events.send(event);
            }
        }
        if let Some(reason) = carry_out(t, peer, session, socket, &tools).await {
            return reason;
        }
    }
}

/// After each input: the tools and DTMF the call core asked for, then the messages to send, then its
/// hang-up. Returns why the stream ends, if it does.
async fn carry_out(
    t: &Telephony,
    peer: Peer,
    session: &mut StreamSession,
    socket: &mut WebSocket,
    tools: &ToolResults,
) -> Option<EndReason> {
    let mut hang_up = None;
    let actions: Vec<CallAction> = session.take_actions().collect();
    for action in actions {
        match action {
            CallAction::SendDtmf(digits) => {
                if !session.send_dtmf(&digits) {
                    tracing::warn!(digits = digits.len(), "this stream cannot send DTMF");
                }
            }
            CallAction::RunTool { id, tool, arguments } => tools.run_http(id, tool, arguments),
            CallAction::Transfer { id, target } => t.transfer(peer, session, tools, id, target),
            CallAction::HangUp(reason) => hang_up = Some(reason),
            CallAction::Said { .. } => {}
        }
    }
    let outgoing: Vec<Outgoing> = session.take_outgoing().collect();
    for message in outgoing {
        let message = match message {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Binary(bytes) => Message::Binary(bytes.into()),
        };
        if let Err(err) = socket.send(message).await {
            return Some(EndReason::MediaError(err.to_string()));
        }
    }
    if let Some(reason) = hang_up {
        say_goodbye(session.stop_message("the agent ended the call"), socket).await;
        return Some(EndReason::AgentHangUp(reason));
    }
    None
}

/// Ends the stream from our side: the peer's stop message where it has one, then the close handshake.
async fn say_goodbye(stop: Option<String>, socket: &mut WebSocket) {
    if let Some(stop) = stop {
        let _ = socket.send(Message::Text(stop.into())).await;
    }
    close(socket, 1000, "call ended").await;
}

/// A WebRTC offer from the browser test page.
#[derive(serde::Deserialize)]
struct RtcOffer {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
}

fn json_problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({"status": "error", "message": message.into()}))).into_response()
}

/// `POST /browser/webrtc/{agent}?call_id=&token=`: answers the page's offer and starts the call on a UDP
/// socket of its own.
async fn webrtc_offer(
    State(t): State<Arc<Telephony>>,
    Path(agent): Path<String>,
    Query(query): Query<StreamQuery>,
    body: Bytes,
) -> Response {
    if t.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], "draining").into_response();
    }
    let call_id =
        query.call_id.filter(|c| !c.is_empty()).unwrap_or_else(|| format!("webrtc-{:016x}", rand::random::<u64>()));
    // The body is checked before the one-use token is spent on it: a page that sent a malformed offer can
    // correct it and retry with the same token.
    let offer: RtcOffer = match serde_json::from_slice(&body) {
        Ok(offer) => offer,
        Err(err) => return json_problem(StatusCode::BAD_REQUEST, format!("invalid offer body: {err}")),
    };
    if offer.kind != "offer" {
        return json_problem(StatusCode::BAD_REQUEST, format!("expected an SDP offer, got type {:?}", offer.kind));
    }
    if !offer.sdp.trim_start().starts_with("v=0") {
        return json_problem(StatusCode::BAD_REQUEST, "the offer's sdp is not an SDP session description (v=0 …)");
    }
    // Every offer, open agents' included, needs a session token: each call takes a media port.
    if let Err(err) = t.redeem("browser", &agent, &call_id, query.token.as_deref()).await {
        tracing::warn!(%agent, %call_id, %err, "WebRTC call refused");
        t.metrics.count_result(CallResult::Rejected);
        return json_problem(StatusCode::FORBIDDEN, format!("{err}: get one from POST /browser/session"));
    }
    let start = browser_start(call_id.clone(), &agent, None);
    let core = match t.core_for(&agent, "webrtc", &start, None) {
        Ok(core) => core,
        Err((1013, reason)) => return json_problem(StatusCode::SERVICE_UNAVAILABLE, reason),
        Err((_, reason)) => return json_problem(StatusCode::NOT_FOUND, reason),
    };
    // A port from the RTP range (RTCP is multiplexed: its odd neighbour stays unused), else an ephemeral one.
    let (lease, socket) = match &t.ports {
        Some(pool) => match pool.allocate().await {
            Ok((lease, rtp, _rtcp)) => (Some(lease), rtp),
            Err(err) => return json_problem(StatusCode::SERVICE_UNAVAILABLE, format!("no media port: {err}")),
        },
        None => {
            let any: std::net::IpAddr = if t.config.media_ip.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            match tokio::net::UdpSocket::bind((any, 0)).await {
                Ok(socket) => (None, socket),
                Err(err) => {
                    return json_problem(StatusCode::SERVICE_UNAVAILABLE, format!("no UDP port for media: {err}"))
                }
            }
        }
    };
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let local = std::net::SocketAddr::new(t.config.media_ip, port);
    let now = std::time::Instant::now();
    let (rtc, answer) = match crate::webrtc::answer_offer(&offer.sdp, local, now) {
        Ok(answered) => answered,
        Err(err) => return json_problem(StatusCode::BAD_REQUEST, err.to_string()),
    };
    let session = match crate::webrtc::WebRtcSession::new(rtc, local, core, call_id.clone(), now) {
        Ok(session) => session,
        Err(err) => return json_problem(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    };
    tracing::info!(%agent, %call_id, %local, "WebRTC call answered");
    t.metrics.call_started();
    let span = tracing::info_span!("webrtc", %agent, %call_id);
    let task = async move {
        // The port goes back to the pool when the call ends, however it ends.
        let _lease = lease;
        let (reason, finished) = crate::webrtc::run(session, socket, &t.metrics, t.shutdown.clone()).await;
        t.finish_call(&reason, finished).await;
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    axum::Json(serde_json::json!({"type": "answer", "sdp": answer})).into_response()
}

/// Who is on a stream's call, from its start message: the live view shows them for every call, recorded or not.
fn parties_of(start: &StreamStart) -> CallParties {
    CallParties {
        caller: start.from.clone().unwrap_or_default(),
        called: start.to.clone().unwrap_or_default(),
        // The start message does not say who dialled: the answer webhook's `Direction` (or our dialler's answer
        // URL) rode along on the stream URL ([`DIRECTION_PARAM`]).
        outbound: start.parameters.get(DIRECTION_PARAM).is_some_and(|d| d == OUTBOUND),
    }
}
