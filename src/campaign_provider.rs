//! The campaign runner's provider arm: a contact called through a provider's REST API (Vobiz, Plivo, Twilio)
//! instead of a `[[trunks]]` entry. The provider calls the number and, once it is answered, fetches this node's
//! answer URL, whose document opens the media stream to the agent (with the contact's variables and, when the
//! campaign asks, answering-machine detection on the stream's audio); its signed status callbacks report the
//! end. The call holds its place among the campaign's live calls from the request until its final status
//! callback or the end of its stream, and a call whose provider goes quiet is given up on after a time-out
//! (hung up through the API, best effort), so no slot leaks.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use voicera_carrier_rest::{CallRequest, Provider, ProviderAccount, ProviderRest};
use voicera_dialer::campaign::AttemptOutcome;
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Store};
use voicera_telephony::sip_rtp::AmdRequest;
use voicera_telephony::ws_stream::dialled::{follow, DialledCall, DialledCalls, DIAL_PARAM};

/// How long a placed call may go without a word from the provider beyond its ring time-out: no stream and no
/// final status by then, and it is hung up and counted failed.
const SETUP_GRACE: Duration = Duration::from_secs(20);

/// What the provider arm needs from the node.
pub(crate) struct ProviderCalls {
    /// The calls the telephony endpoints report on.
    pub(crate) dialled: DialledCalls,
    /// This node's public URL: the provider fetches the answer and posts the status here.
    pub(crate) public_url: String,
    /// The node's `[telephony.<provider>]` accounts (the owner's org may dial with them).
    pub(crate) node_accounts: HashMap<Provider, ProviderAccount>,
    /// Opens the orgs' sealed integration keys.
    pub(crate) master_key: MasterKey,
    /// The owner's org (None: no owner on this node).
    pub(crate) owner_org: Option<String>,
}

/// One provider call to place for a campaign contact.
pub(crate) struct ProviderCall {
    pub(crate) provider: Provider,
    pub(crate) agent_id: String,
    /// The number to call, as the dial policy normalised it.
    pub(crate) to: String,
    pub(crate) caller_id: String,
    pub(crate) ring_timeout: Duration,
    pub(crate) variables: Vec<(String, String)>,
    pub(crate) amd: Option<AmdRequest>,
}

/// How a provider call ended: the outcome (the provider's machine detection included; the runner adds its
/// own detection's verdict) and the provider's call id once known.
pub(crate) struct ProviderCallEnd {
    pub(crate) outcome: AttemptOutcome,
    pub(crate) call_id: Option<String>,
}

impl ProviderCalls {
    /// The account `org_id` dials with on `provider`: its own integrations (`VobizAuthId`/`VobizAuthToken`,
    /// `PlivoAuthId`/`PlivoAuthToken`, `TwilioAccountSid`/`TwilioAuthToken`), else the node's for the owner's
    /// org, as the API's number proxies choose. Requests go to the node's `api_base` for the provider if set.
    pub(crate) async fn account(
        &self,
        store: &Store,
        org_id: &str,
        provider: Provider,
    ) -> Result<Option<ProviderAccount>, voicera_store::StoreError> {
        let node = self.node_accounts.get(&provider);
        let (id_name, token_name) = provider.integration_names();
        let records = store.list(Collection::Integrations, org_id).await?;
        let normal = |name: &str| name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
        let open = |name: &str| {
            let record = records.iter().find(|r| normal(&r.id) == normal(name))?;
            let sealed = record.doc.get("api_key").and_then(serde_json::Value::as_str)?;
            let context = format!("{}/{}/{}", Collection::Integrations.name(), record.org_id, record.id);
            match self.master_key.open(sealed, &context) {
                Ok(key) if !key.is_empty() => Some(key),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%org_id, integration = %record.id, %error, "an org's provider key does not open");
                    None
                }
            }
        };
        if let (Some(auth_id), Some(auth_token)) = (open(id_name), open(token_name)) {
            return Ok(Some(ProviderAccount { auth_id, auth_token, api_base: node.and_then(|a| a.api_base.clone()) }));
        }
        Ok(node.filter(|_| self.owner_org.as_deref() == Some(org_id)).cloned())
    }

    /// Places `call` with `account` and follows it to its end.
    /// `lost` is cancelled when this node loses the contact's lease: the call is hung up through the API (another
    /// node may take the contact), as a SIP campaign call is.
    pub(crate) async fn place(
        &self,
        account: ProviderAccount,
        call: ProviderCall,
        lost: &tokio_util::sync::CancellationToken,
    ) -> ProviderCallEnd {
        let provider = call.provider;
        let dial_id = dial_id();
        let base = self.public_url.trim_end_matches('/');
        let agent: String = form_urlencoded::byte_serialize(call.agent_id.as_bytes()).collect();
        let name = provider.as_str();
        let answer_url =
            format!("{base}/telephony/{name}/answer?agent_id={agent}&direction=outbound&{DIAL_PARAM}={dial_id}");
        let status_url = format!("{base}/telephony/{name}/hangup?{DIAL_PARAM}={dial_id}");
        let ring_secs = u32::try_from(call.ring_timeout.as_secs()).unwrap_or(u32::MAX);
        let request = CallRequest {
            ring_timeout_secs: Some(ring_secs),
            progress_events: true,
            // With the campaign's AMD on, the provider's own detection too; its verdict comes to the status URL
            // and counts where ours has none (see `Call::through_provider`).
            machine_detection_url: call.amd.is_some().then(|| status_url.clone()),
            ..CallRequest::new(&call.caller_id, &call.to, &answer_url, &status_url)
        };
        let rest = ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
        let (events, mut heard) = mpsc::unbounded_channel();
        // Followed before it is placed: the provider may answer before its reply to the request reaches us.
        self.dialled.insert(
            &dial_id,
            DialledCall {
                provider,
                account,
                agent: call.agent_id.clone(),
                variables: call.variables,
                amd: call.amd,
                events,
            },
        );
        let placing = rest.clone();
        let placed = tokio::task::spawn_blocking(move || placing.place_call(&request)).await;
        let placed = match placed {
            Ok(Ok(placed)) => placed,
            Ok(Err(error)) => {
                self.dialled.remove(&dial_id);
                tracing::warn!(%error, to = %call.to, "campaign: the provider refused the call");
                return ProviderCallEnd { outcome: AttemptOutcome::Failed(error.to_string()), call_id: None };
            }
            Err(error) => {
                self.dialled.remove(&dial_id);
                return ProviderCallEnd {
                    outcome: AttemptOutcome::Failed(format!("dial task: {error}")),
                    call_id: None,
                };
            }
        };
        tracing::debug!(provider = name, call_id = %placed.call_id, %dial_id, "campaign: provider call placed");
        let setup_limit = call.ring_timeout + SETUP_GRACE;
        let followed = tokio::select! {
            followed = follow(&mut heard, setup_limit) => followed,
            _ = lost.cancelled() => {
                self.dialled.remove(&dial_id);
                let id = placed.call_id.clone();
                let hung_up = tokio::task::spawn_blocking(move || rest.hang_up(&id)).await;
                tracing::warn!(call_id = %placed.call_id, ok = matches!(hung_up, Ok(Ok(_))), "campaign: hung up a provider call whose lease was lost");
                return ProviderCallEnd {
                    outcome: AttemptOutcome::Failed(crate::campaigns::LEASE_LOST.into()),
                    call_id: Some(placed.call_id),
                };
            }
        };
        self.dialled.remove(&dial_id);
        let call_id = followed.call_id.clone().unwrap_or(placed.call_id);
        if followed.hang_up {
            // The provider went quiet: make sure the call is down before its slot is given back.
            let id = call_id.clone();
            let hung_up = tokio::task::spawn_blocking(move || rest.hang_up(&id)).await;
            if let Ok(Err(error)) = hung_up {
                tracing::warn!(%error, %call_id, "campaign: cannot hang up a call whose provider went quiet");
            }
        }
        let outcome = match &followed.end {
            // Our own detection's verdict is added by the runner (it reads the stream's detection events).
            Some(end) => AttemptOutcome::from_provider_end(end, false),
            None => AttemptOutcome::Failed(format!(
                "no answer or status from the provider within {} s",
                setup_limit.as_secs()
            )),
        };
        ProviderCallEnd { outcome, call_id: Some(call_id) }
    }
}

/// A fresh dial id: 128 random bits. It names the call in our URLs and picks the account whose token must sign
/// the call's webhooks, so nobody may guess another org's live id.
fn dial_id() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}
