//! Outbound calls from outside the node: `POST /outbound/call/` (the original VoicEra's path and fields, now
//! authenticated) and the `voicera call` command that uses it. Until the control-plane API has users, the
//! owner account is the one of interfaces.md (`VOICERA_ADMIN_EMAIL`, `VOICERA_ADMIN_PASSWORD`), presented as
//! HTTP Basic credentials; without it the endpoint answers 503 and places nothing.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use voicera_media::outbound::{DialError, Dialer, Route};
use voicera_media::ws_stream::Provider;

/// The owner's credentials (email, password).
pub type Owner = Option<(String, String)>;

/// The owner account from the environment, if set.
pub fn owner_from_env() -> Owner {
    let email = std::env::var("VOICERA_ADMIN_EMAIL").ok().filter(|v| !v.is_empty())?;
    let password = std::env::var("VOICERA_ADMIN_PASSWORD").ok().filter(|v| !v.is_empty())?;
    Some((email, password))
}

struct CallsState {
    dialer: Dialer,
    owner: Owner,
}

pub fn router(dialer: Dialer, owner: Owner) -> Router {
    Router::new().route("/outbound/call/", post(outbound_call)).with_state(Arc::new(CallsState { dialer, owner }))
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

async fn outbound_call(State(state): State<Arc<CallsState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(owner) = &state.owner else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "no owner account: set VOICERA_ADMIN_EMAIL and VOICERA_ADMIN_PASSWORD to place calls",
        );
    };
    if !authorised(owner, &headers) {
        tracing::warn!("outbound call refused: bad or missing owner credentials");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"voicera\"")],
            Json(json!({"status": "error", "message": "owner credentials required"})),
        )
            .into_response();
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
pub struct CallArgs {
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

pub fn run(args: CallArgs) -> Result<()> {
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
