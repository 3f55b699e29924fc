//! Webhooks of calls our dialer placed (`?dial=`): they are checked only against the placing account of the
//! dial they name (never the node's own account), a dial nobody follows is refused, and a status the registry
//! could not record asks the provider to retry (503) instead of landing in the node owner's call log.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voicera_carrier_rest::{Provider, ProviderAccount};
use voicera_conversation::dial_policy::DialPolicy;
use voicera_telephony::ws_stream::dialled::{DialEvent, DialFuture, DialRegistry, DialledCall, DialledCalls};
use voicera_telephony::ws_stream::signature::twilio_signature;
use voicera_telephony::ws_stream::{AudioFormat, TelephonyConfig, TokenKey};

fn account(auth_id: &str, auth_token: &str) -> ProviderAccount {
    ProviderAccount { auth_id: auth_id.into(), auth_token: auth_token.into(), api_base: None }
}

/// One followed dial, `d1`, placed for `echo` with the org's own Twilio account; reports are recorded (or,
/// with `records` false, fail as a store that is down does).
struct OneDial {
    records: bool,
    reports: Mutex<Vec<(String, String, DialEvent)>>,
}

impl DialRegistry for OneDial {
    fn find<'a>(&'a self, dial_id: &'a str, provider: Provider) -> DialFuture<'a, Option<DialledCall>> {
        Box::pin(async move {
            (dial_id == "d1" && provider == Provider::Twilio).then(|| DialledCall {
                provider,
                account: account("AC_ORG", "org-token"),
                agent: "echo".into(),
                variables: Vec::new(),
                amd: None,
            })
        })
    }

    fn report<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, event: DialEvent) -> DialFuture<'a, bool> {
        Box::pin(async move {
            let mut reports = self.reports.lock().unwrap();
            reports.push((dial_id.to_string(), call.account.auth_id.clone(), event));
            self.records
        })
    }
}

/// A node whose own Twilio account is `AC_NODE`/`node-token`, with `registry` for its dialled calls.
async fn node(registry: Arc<OneDial>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = TelephonyConfig {
        public_url: format!("http://{addr}"),
        accounts: HashMap::from([(Provider::Twilio, account("AC_NODE", "node-token"))]),
        format: AudioFormat::MULAW_8K,
        open_agents: Vec::new(),
        media_ip: [127, 0, 0, 1].into(),
        stream_token_key: TokenKey::new([5; 32]),
        dial_policy: Arc::new(DialPolicy::default()),
        spent_tokens: None,
        dialled: DialledCalls::new(registry),
    };
    common::serve(listener, config);
    addr
}

/// POSTs a Twilio status callback to `path`, signed with `token`: the response's status.
async fn post_status(addr: SocketAddr, path: &str, token: &str, status: &str) -> u16 {
    let form = vec![("CallSid".to_string(), "CA1".to_string()), ("CallStatus".to_string(), status.to_string())];
    let signature = twilio_signature(token, &format!("http://{addr}{path}"), &form);
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Twilio-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_dials_webhooks_are_signed_by_its_placing_account_only() {
    let registry = Arc::new(OneDial { records: true, reports: Mutex::new(Vec::new()) });
    let addr = node(Arc::clone(&registry)).await;
    let path = "/telephony/twilio/hangup?dial=d1";
    // The node's own account does not sign another org's dial.
    assert_eq!(post_status(addr, path, "node-token", "completed").await, 403);
    // A dial nobody follows is refused even signed by the node's account (nothing is recorded anywhere).
    assert_eq!(post_status(addr, "/telephony/twilio/hangup?dial=d2", "node-token", "completed").await, 404);
    assert!(registry.reports.lock().unwrap().is_empty());
    // The placing account's signature: the status goes to the dial, checked against that account.
    assert_eq!(post_status(addr, path, "org-token", "completed").await, 200);
    let reports = registry.reports.lock().unwrap().clone();
    let fields = vec![("CallStatus".to_string(), "completed".to_string())];
    assert_eq!(reports, [("d1".to_string(), "AC_ORG".to_string(), DialEvent::Status(fields))]);
}

#[tokio::test]
async fn a_dials_status_that_cannot_be_recorded_is_asked_again() {
    let registry = Arc::new(OneDial { records: false, reports: Mutex::new(Vec::new()) });
    let addr = node(Arc::clone(&registry)).await;
    assert_eq!(post_status(addr, "/telephony/twilio/hangup?dial=d1", "org-token", "completed").await, 503);
    // A progress report is no end of the call: nothing to retry.
    assert_eq!(post_status(addr, "/telephony/twilio/hangup?dial=d1", "org-token", "ringing").await, 200);
    assert_eq!(registry.reports.lock().unwrap().len(), 2);
}
