//! Outbound calls for agents, by one function whatever the route: through a SIP trunk (our UAC) or through a
//! provider's REST API (the provider calls the number and fetches the agent's answer URL, which opens a media
//! stream back to us). The campaign dialer and the REST API call [`Dialer::place_call`]; today the
//! authenticated `POST /outbound/call/` endpoint (and `voicera call`) does.

use std::sync::Arc;

use voicera_conversation::routing::{Destination, Router};

use crate::sip_rtp::{OutboundRequest, SipServiceHandle};
use crate::ws_stream::rest::{PlacedCall, ProviderRest};
use crate::ws_stream::{Provider, TelephonyConfig};

/// How an outbound call leaves the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A `[[trunks]]` entry by name.
    Trunk(String),
    /// A provider account of `[telephony.<provider>]`.
    Provider(Provider),
}

/// Why a call could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("no agent {0:?}")]
    UnknownAgent(String),
    #[error("{0}")]
    AgentUnavailable(String),
    #[error("{0:?} is not a phone number or SIP user")]
    BadNumber(String),
    #[error("SIP is not running on this node")]
    NoSip,
    #[error("no {0} account is configured ([telephony.{0}])")]
    NoAccount(&'static str),
    #[error("a provider call needs a caller id (--from)")]
    NeedsFrom,
    #[error(transparent)]
    Sip(#[from] crate::sip_rtp::PlaceCallError),
    #[error(transparent)]
    Provider(#[from] crate::ws_stream::rest::RestError),
}

/// Places outbound calls for the node's agents.
pub struct Dialer {
    pub router: Arc<dyn Router>,
    pub sip: Option<SipServiceHandle>,
    pub telephony: TelephonyConfig,
}

impl Dialer {
    /// Calls `to` from `from` with `agent` on the line, through `route`. Resolves when a SIP call is answered
    /// (or fails) and when a provider has accepted the request (its call id).
    pub async fn place_call(
        &self,
        agent: &str,
        to: &str,
        from: Option<&str>,
        route: Route,
    ) -> Result<PlacedCall, DialError> {
        let valid = |n: &str| {
            !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(c))
        };
        if !valid(to) {
            return Err(DialError::BadNumber(to.to_string()));
        }
        if let Some(from) = from.filter(|f| !valid(f)) {
            return Err(DialError::BadNumber(from.to_string()));
        }
        let agent_ref = match self.router.route(agent) {
            Some(Destination::Agent(a)) => a,
            Some(Destination::Unavailable { reason, .. }) => return Err(DialError::AgentUnavailable(reason)),
            Some(Destination::Echo) | None => return Err(DialError::UnknownAgent(agent.to_string())),
        };
        match route {
            Route::Trunk(trunk) => {
                let sip = self.sip.as_ref().ok_or(DialError::NoSip)?;
                let request = OutboundRequest {
                    trunk,
                    to: to.to_string(),
                    from: from.map(String::from),
                    ring_timeout: Some(std::time::Duration::from_secs(60)),
                    agent: Some(agent_ref),
                };
                let call_id = sip.place_call(request).await?;
                Ok(PlacedCall { call_id })
            }
            Route::Provider(provider) => {
                let account = self.telephony.accounts.get(&provider).ok_or(DialError::NoAccount(provider.as_str()))?;
                let from = from.ok_or(DialError::NeedsFrom)?.to_string();
                let rest =
                    ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
                let base = &self.telephony.public_url;
                let agent_id: String = form_urlencoded::byte_serialize(agent_ref.id.as_bytes()).collect();
                let answer = format!("{base}/telephony/{}/answer?agent_id={agent_id}", provider.as_str());
                let hangup = format!("{base}/telephony/{}/hangup", provider.as_str());
                let to = to.to_string();
                let placed = tokio::task::spawn_blocking(move || rest.place_call(&from, &to, &answer, &hangup))
                    .await
                    .map_err(|e| DialError::AgentUnavailable(format!("dialer task failed: {e}")))??;
                Ok(placed)
            }
        }
    }
}
