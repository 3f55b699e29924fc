//! Outbound calls for agents, by one function whatever the route: through a SIP trunk (our UAC) or through a
//! provider's REST API (the provider calls the number and fetches the agent's answer URL, which opens a media
//! stream back to us). The campaign dialer and the REST API call [`Dialer::place_call`]; today the
//! authenticated `POST /outbound/call/` endpoint (and `voicera call`) does. Every target passes the node's
//! [`DialPolicy`] before anything is asked of a trunk or a provider.

use std::sync::Arc;

use voicera_conversation::dial_policy::{DialPolicy, NormalizedTarget, PolicyError};
use voicera_conversation::routing::{Destination, Router};

use crate::sip_rtp::{OutboundRequest, SipServiceHandle};
use crate::ws_stream::{Provider, TelephonyConfig};
use voicera_carrier_rest::{CallRequest, PlacedCall, ProviderRest};

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
    /// No agent has this id.
    #[error("no agent {0:?}")]
    UnknownAgent(String),
    /// The agent exists but cannot take calls now (e.g. its models are loading); the text says why.
    #[error("{0}")]
    AgentUnavailable(String),
    /// The target is no phone number or SIP user.
    #[error("{0:?} is not a phone number or SIP user")]
    BadNumber(String),
    /// The dial policy refused the target (or could not read it: [`PolicyError::is_malformed`]).
    #[error("{0}")]
    Refused(#[from] PolicyError),
    /// The route is SIP but this node runs no SIP service.
    #[error("SIP is not running on this node")]
    NoSip,
    /// The route is a provider with no account configured.
    #[error("no {0} account is configured ([telephony.{0}])")]
    NoAccount(&'static str),
    /// A provider call was asked for without a caller id.
    #[error("a provider call needs a caller id (--from)")]
    NeedsFrom,
    /// The SIP call failed.
    #[error(transparent)]
    Sip(#[from] crate::sip_rtp::PlaceCallError),
    /// The provider's REST API refused or failed the call.
    #[error(transparent)]
    Provider(#[from] voicera_carrier_rest::RestError),
}

/// Places outbound calls for the node's agents.
pub struct Dialer {
    /// Finds the agent to put on the line.
    pub router: Arc<dyn Router>,
    /// The SIP service that places trunk calls (None: SIP is off).
    pub sip: Option<SipServiceHandle>,
    /// Provider accounts and the public URL their answer webhooks reach us on.
    pub telephony: TelephonyConfig,
    /// Where calls may go (`[dial_policy]`), shared with transfers and REFER.
    pub policy: Arc<DialPolicy>,
}

impl Dialer {
    /// Calls `to` from `from` with `agent` on the line, through `route`. Resolves when a SIP call is answered
    /// (or fails) and when a provider has accepted the request (its call id). `to` is dialled in the normal
    /// form the dial policy gives it (`+1 (555) 123-0000` as `+15551230000`).
    pub async fn place_call(
        &self,
        agent: &str,
        to: &str,
        from: Option<&str>,
        route: Route,
    ) -> Result<PlacedCall, DialError> {
        let to = match self.policy.check(to)? {
            // The route decides the host: a trunk's registrar or the provider's network.
            NormalizedTarget::Sip(_) => return Err(DialError::BadNumber(to.to_string())),
            target => target.dial_string().to_string(),
        };
        let valid = |n: &str| {
            !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(c))
        };
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
                    to,
                    from: from.map(String::from),
                    ring_timeout: Some(std::time::Duration::from_secs(60)),
                    agent: Some(agent_ref),
                    variables: Vec::new(),
                    amd: None,
                };
                let call_id = sip.place_call(request).await?;
                Ok(PlacedCall { call_id: call_id.into() })
            }
            Route::Provider(provider) => {
                let account = self.telephony.accounts.get(&provider).ok_or(DialError::NoAccount(provider.as_str()))?;
                let from = from.ok_or(DialError::NeedsFrom)?.to_string();
                let rest =
                    ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
                let base = &self.telephony.public_url;
                let agent_id: String = form_urlencoded::byte_serialize(agent_ref.id.as_bytes()).collect();
                // `direction=outbound`: the stream's call log says the agent placed the call, whatever the
                // provider's webhook says (Exotel's says nothing).
                let answer =
                    format!("{base}/telephony/{}/answer?agent_id={agent_id}&direction=outbound", provider.as_str());
                let hangup = format!("{base}/telephony/{}/hangup", provider.as_str());
                let call = CallRequest::new(&from, &to, &answer, &hangup);
                let placed = tokio::task::spawn_blocking(move || rest.place_call(&call))
                    .await
                    .map_err(|e| DialError::AgentUnavailable(format!("dialer task failed: {e}")))??;
                Ok(placed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use voicera_conversation::dial_policy::DialPolicySettings;

    use super::*;
    use crate::ws_stream::AudioFormat;

    /// Knows no agent; counts how often it was asked.
    #[derive(Default)]
    struct CountingRouter(AtomicUsize);

    impl Router for CountingRouter {
        fn route(&self, _user: &str) -> Option<Destination> {
            self.0.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    fn dialer(policy: DialPolicy) -> (Dialer, Arc<CountingRouter>) {
        let router = Arc::new(CountingRouter::default());
        let telephony = TelephonyConfig {
            public_url: "http://127.0.0.1:8080".into(),
            accounts: HashMap::new(),
            format: AudioFormat::MULAW_8K,
            open_agents: Vec::new(),
            media_ip: [127, 0, 0, 1].into(),
            stream_token_key: crate::ws_stream::TokenKey::new([7; 32]),
            spent_tokens: None,
            dial_policy: Arc::new(DialPolicy::default()),
            dialled: Default::default(),
        };
        let dialer = Dialer { router: router.clone(), sip: None, telephony, policy: Arc::new(policy) };
        (dialer, router)
    }

    #[tokio::test]
    async fn a_refused_target_is_a_dial_error_before_anything_is_asked() {
        let (dialer, router) = dialer(DialPolicy::default());
        for route in [Route::Trunk("carrier".into()), Route::Provider(Provider::Vobiz)] {
            let err = dialer.place_call("bench", "+1 900 555 1234", Some("+15550000000"), route).await.unwrap_err();
            assert!(matches!(&err, DialError::Refused(PolicyError::Premium { .. })), "{err:?}");
            assert!(err.to_string().contains("+19005551234 is in the North American premium-rate"), "{err}");
        }
        let err = dialer.place_call("bench", "1; DROP", None, Route::Trunk("x".into())).await.unwrap_err();
        assert!(matches!(&err, DialError::Refused(e) if e.is_malformed()), "{err:?}");
        assert!(err.to_string().contains("is not a phone number"), "{err}");
        let err = dialer.place_call("bench", "sip:bob@evil.example", None, Route::Trunk("x".into())).await;
        assert!(matches!(err, Err(DialError::Refused(PolicyError::SipHostNotAllowed { .. }))), "{err:?}");
        assert_eq!(router.0.load(Ordering::Relaxed), 0, "no refused target reached the router");

        // An allowed target goes on to the agent (unknown here).
        let err = dialer.place_call("nobody", "+1 (555) 123-0000", None, Route::Trunk("x".into())).await;
        assert_eq!(err.unwrap_err(), DialError::UnknownAgent("nobody".into()));
        assert_eq!(router.0.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn an_operator_allow_list_and_a_sip_uri_target() {
        let policy = DialPolicy::new(&DialPolicySettings {
            allowed_prefixes: vec!["+91".into()],
            allowed_sip_hosts: vec!["pbx.example.com".into()],
            ..Default::default()
        })
        .unwrap();
        let (dialer, router) = dialer(policy);
        let err = dialer.place_call("bench", "+15551230000", None, Route::Trunk("x".into())).await.unwrap_err();
        assert_eq!(err.to_string(), "+15551230000 matches none of dial_policy.allowed_prefixes (+91)");
        // A URI at an allowed host is still no number: the route picks the host.
        let err = dialer.place_call("bench", "sip:sales@pbx.example.com", None, Route::Trunk("x".into())).await;
        assert_eq!(err.unwrap_err(), DialError::BadNumber("sip:sales@pbx.example.com".into()));
        assert_eq!(router.0.load(Ordering::Relaxed), 0);
    }
}
