//! Calls operators start from outside the node: outbound calls (`POST /outbound/call/`, the original
//! VoicEra's path and fields, now authenticated, and the `voicera call` command that uses it) and browser
//! test calls (`GET /browser/agents`, `POST /browser/session`: the agent picker and the call token of the
//! `/call-test` page). Until the control-plane API has users, the owner account is the one of interfaces.md
//! (`VOICERA_ADMIN_EMAIL`, `VOICERA_ADMIN_PASSWORD`), presented as HTTP Basic credentials; without it these
//! endpoints answer 503 (browser calls to the open agents of `[telephony] open_agents`, `bench` by default, need
//! no credentials).

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use voicera_telephony::outbound::{DialError, Dialer, Route};
use voicera_telephony::ws_stream::{Provider, Telephony};

/// The owner's credentials (email, password).
pub(crate) type Owner = Option<(String, String)>;

/// The owner account from the environment, if set.
pub(crate) fn owner_from_env() -> Owner {
    let email = std::env::var("VOICERA_ADMIN_EMAIL").ok().filter(|v| !v.is_empty())?;
    let password = std::env::var("VOICERA_ADMIN_PASSWORD").ok().filter(|v| !v.is_empty())?;
    Some((email, password))
}

struct CallsState {
    dialer: Dialer,
    owner: Owner,
    /// The control plane, when this node serves it: its credentials then authorise these routes.
    api: Option<voicera_api::ApiState>,
    telephony: Arc<Telephony>,
}

pub(crate) fn router(
    dialer: Dialer,
    owner: Owner,
    api: Option<voicera_api::ApiState>,
    telephony: Arc<Telephony>,
) -> Router {
    Router::new()
        .route("/outbound/call/", post(outbound_call))
        .route("/browser/agents", get(browser_agents))
        .route("/browser/session", post(browser_session))
        .route("/call-test", get(call_test_page))
        .route("/call-test/voicera-call.js", get(call_test_module))
        .with_state(Arc::new(CallsState { dialer, owner, api, telephony }))
}

/// The original's body, plus the route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundCall {
    customer_number: String,
    agent_id: String,
    caller_id: Option<String>,
    trunk: Option<String>,
    provider: Option<String>,
    /// Accepted for compatibility; unused (as in the original).
    #[allow(dead_code)]
    custom_field: Option<serde_json::Value>,
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "status": "error", "message": message.into() }))).into_response()
}

fn authorised(owner: &(String, String), headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
    else {
        return false;
    };
    let expected = format!("{}:{}", owner.0, owner.1).into_bytes();
    given.len() == expected.len() && given.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The owner's credentials must come with the request: 503 when no owner account exists, 401 otherwise.
async fn require_owner(state: &CallsState, headers: &HeaderMap, what: &str) -> Result<(), Box<Response>> {
    // With the control plane on this node, its credentials: an admin's token, API key or cookie session, or
    // the owner's email and password (checked against the store, rate-limited).
    if let Some(api) = &state.api {
        let caller = match voicera_api::authenticate_header(api, headers).await {
            Ok(caller) => caller,
            // A throttled source hears so (429 with Retry-After); any other refusal as without the API.
            Err(err) if err.status == StatusCode::TOO_MANY_REQUESTS => {
                tracing::warn!("{what}: refused, too many failed attempts from this source");
                return Err(Box::new(err.into_response()));
            }
            Err(_) if state.owner.is_none() => return Err(Box::new(no_owner(what))),
            Err(_) => return Err(Box::new(refused(what))),
        };
        return caller.require(voicera_api::Role::Admin, what).map_err(|err| {
            tracing::warn!(who = %caller.email, "{what}: refused, the role is too low");
            Box::new(err.into_response())
        });
    }
    let Some(owner) = &state.owner else {
        return Err(Box::new(no_owner(what)));
    };
    if !authorised(owner, headers) {
        return Err(Box::new(refused(what)));
    }
    Ok(())
}

/// 503 on a node with no owner account (and, with the API, no account whose credentials came).
fn no_owner(what: &str) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("no owner account: set VOICERA_ADMIN_EMAIL and VOICERA_ADMIN_PASSWORD to {what}"),
    )
}

/// 401 for missing or wrong credentials, logged without them. The challenge names a scheme no browser answers
/// with a password dialog: a `Basic` one would have the browser ask for the owner's password and then send it
/// by itself with every later request to this node, including the ones another site's page makes (CSRF).
/// Clients send their credentials up front (`voicera call`, the console).
fn refused(what: &str) -> Response {
    tracing::warn!("{what}: refused, bad or missing owner credentials");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"voicera\"")],
        Json(json!({"status": "error", "message": "owner credentials required"})),
    )
        .into_response()
}

/// The built-in test-call page and its module (the console embeds the same module later).
const CALL_TEST_PAGE: &str = include_str!("../web/call-test/index.html");
const CALL_TEST_MODULE: &str = include_str!("../web/call-test/voicera-call.js");
/// Scripts only from this origin (the audio worklet is a blob), sockets to this node.
const CALL_TEST_CSP: &str =
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; \
     connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; frame-ancestors 'none'";

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CALL_TEST_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn call_test_page() -> Response {
    static_asset("text/html; charset=utf-8", CALL_TEST_PAGE)
}

async fn call_test_module() -> Response {
    static_asset("text/javascript; charset=utf-8", CALL_TEST_MODULE)
}

/// 415 unless the body is declared JSON. Another site's page can send a `text/plain` (or form) POST to this node
/// without the browser asking this node first (no CORS preflight); a JSON one it cannot. With ambient
/// credentials (a cookie) that would let any page the owner visits place calls.
fn json_body_only(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(Box::new(
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::ACCEPT, "application/json")],
            Json(json!({ "status": "error", "message": "the body must be JSON (Content-Type: application/json)" })),
        )
            .into_response(),
    ))
}

/// The agents a browser test call can reach, with their readiness.
async fn browser_agents(State(state): State<Arc<CallsState>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = require_owner(&state, &headers, "list agents").await {
        return *refusal;
    }
    Json(state.dialer.router.list()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrowserSession {
    agent_id: String,
}

/// A browser test call: a call id and the token the page opens `/browser/agent/{id}` (or WebRTC) with.
async fn browser_session(
    State(state): State<Arc<CallsState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refusal) = json_body_only(&headers) {
        return *refusal;
    }
    let request: BrowserSession = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    if !state.telephony.is_open(&request.agent_id) {
        if let Err(refusal) = require_owner(&state, &headers, "start browser calls").await {
            return *refusal;
        }
    }
    if state.dialer.router.route(&request.agent_id).is_none() {
        return problem(StatusCode::NOT_FOUND, format!("no agent {:?}", request.agent_id));
    }
    let call = state.telephony.browser_call(&request.agent_id);
    tracing::info!(agent = %request.agent_id, call_id = %call.call_id, "browser call token issued");
    Json(call).into_response()
}

async fn outbound_call(State(state): State<Arc<CallsState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(refusal) = json_body_only(&headers) {
        return *refusal;
    }
    if let Err(refusal) = require_owner(&state, &headers, "place calls").await {
        return *refusal;
    }
    let request: OutboundCall = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    let route = match (&request.trunk, &request.provider) {
        (Some(_), Some(_)) => return problem(StatusCode::BAD_REQUEST, "give either trunk or provider, not both"),
        (Some(trunk), None) => Route::Trunk(trunk.clone()),
        (None, Some(name)) => match Provider::parse(name) {
            Some(p) => Route::Provider(p),
            None => return problem(StatusCode::BAD_REQUEST, format!("unknown provider {name:?}")),
        },
        // The original dialled through Vobiz by default.
        (None, None) => Route::Provider(Provider::Vobiz),
    };
    let placed = state
        .dialer
        .place_call(&request.agent_id, &request.customer_number, request.caller_id.as_deref(), route.clone())
        .await;
    match placed {
        Ok(call) => {
            tracing::info!(agent = %request.agent_id, to = %request.customer_number, call_id = %call.call_id, ?route, "outbound call placed");
            Json(json!({
                "status": "success",
                "message": "call placed",
                "customer_number": request.customer_number,
                "agent_id": request.agent_id,
                "caller_id": request.caller_id,
                "call_id": call.call_id,
            }))
            .into_response()
        }
        Err(err) => {
            let status = match &err {
                DialError::UnknownAgent(_) => StatusCode::NOT_FOUND,
                DialError::BadNumber(_) | DialError::NeedsFrom | DialError::NoAccount(_) => StatusCode::BAD_REQUEST,
                // An unreadable target is the client's mistake; a readable one the dial policy refuses is
                // forbidden, with the policy's reason in the message.
                DialError::Refused(e) if e.is_malformed() => StatusCode::BAD_REQUEST,
                DialError::Refused(_) => StatusCode::FORBIDDEN,
                DialError::AgentUnavailable(_) | DialError::NoSip => StatusCode::SERVICE_UNAVAILABLE,
                DialError::Sip(_) | DialError::Provider(_) => StatusCode::BAD_GATEWAY,
            };
            tracing::warn!(agent = %request.agent_id, to = %request.customer_number, %err, "outbound call failed");
            problem(status, err.to_string())
        }
    }
}

/// `voicera call`: asks the running server to place a call.
#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The agent that talks on the call.
    #[arg(long)]
    agent: String,
    /// Number (or SIP user) to call.
    #[arg(long)]
    to: String,
    /// Caller id.
    #[arg(long)]
    from: Option<String>,
    /// Call through this `[[trunks]]` entry.
    #[arg(long, conflicts_with = "provider")]
    trunk: Option<String>,
    /// Call through this provider account (vobiz, plivo, twilio).
    #[arg(long)]
    provider: Option<String>,
    /// The running server's HTTP address.
    #[arg(long, env = "VOICERA_HTTP", default_value = "127.0.0.1:8080")]
    http: String,
}

pub(crate) fn run(args: CallArgs) -> Result<()> {
    let (email, password) = owner_from_env()
        .context("set VOICERA_ADMIN_EMAIL and VOICERA_ADMIN_PASSWORD (the owner account) to place calls")?;
    let host = args.http.replace("0.0.0.0", "127.0.0.1");
    let url = if host.starts_with("http") {
        format!("{host}/outbound/call/")
    } else {
        format!("http://{host}/outbound/call/")
    };
    let body = json!({
        "customer_number": args.to, "agent_id": args.agent, "caller_id": args.from,
        "trunk": args.trunk, "provider": args.provider,
    });
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{password}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(90)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Basic {basic}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .with_context(|| format!("cannot reach the server at {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    println!("{text}");
    if status != 200 {
        bail!("the server refused the call (HTTP {status})");
    }
    Ok(())
}
