//! Media streams of calls our dialer placed (`?dial=`): a stream is that dial's call or nothing. A stream
//! naming a dial nobody follows is closed with 1011, one naming a dial placed for another agent than the
//! stream's (another org's call, its contact variables and detection) with 1008; neither reaches the registry.
//! The dial's own agent gets its call, reported to the registry from start to end.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use voicera_carrier_rest::{Provider, ProviderAccount};
use voicera_conversation::dial_policy::DialPolicy;
use voicera_telephony::ws_stream::dialled::{DialEvent, DialFuture, DialRegistry, DialledCall, DialledCalls};
use voicera_telephony::ws_stream::{AudioFormat, TelephonyConfig, TokenKey};

/// One followed dial, `d1`, a Twilio call placed for `echo`; every report is recorded.
#[derive(Default)]
struct OneDial {
    reports: Mutex<Vec<(String, DialEvent)>>,
}

impl DialRegistry for OneDial {
    fn find<'a>(&'a self, dial_id: &'a str, provider: Provider) -> DialFuture<'a, Option<DialledCall>> {
        Box::pin(async move {
            (dial_id == "d1" && provider == Provider::Twilio).then(|| DialledCall {
                provider,
                account: ProviderAccount { auth_id: "AC_ORG".into(), auth_token: "org-token".into(), api_base: None },
                agent: "echo".into(),
                variables: Vec::new(),
                amd: None,
            })
        })
    }

    fn report<'a>(&'a self, dial_id: &'a str, _: &'a DialledCall, event: DialEvent) -> DialFuture<'a, bool> {
        Box::pin(async move {
            self.reports.lock().unwrap().push((dial_id.to_string(), event));
            true
        })
    }
}

/// A node whose `echo` and `sales` agents take streams without a token (open agents), with `registry`.
async fn node(registry: Arc<OneDial>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = TelephonyConfig {
        public_url: format!("http://{addr}"),
        accounts: HashMap::new(),
        format: AudioFormat::MULAW_8K,
        open_agents: vec!["echo".into(), "sales".into()],
        media_ip: [127, 0, 0, 1].into(),
        stream_token_key: TokenKey::new([5; 32]),
        dial_policy: Arc::new(DialPolicy::default()),
        spent_tokens: None,
        dialled: DialledCalls::new(registry),
    };
    common::serve(listener, config);
    addr
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens Twilio's stream to `agent` naming dial `dial` (as the dial's answer webhook writes it into the
/// stream's parameters) and sends its `start`.
async fn stream(addr: SocketAddr, agent: &str, dial: &str) -> Socket {
    let url = format!("ws://{addr}/telephony/twilio/stream/{agent}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let start = serde_json::json!({
        "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"accountSid": "AC_ORG", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
                  "customParameters": {"dial": dial},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
    });
    socket.send(Message::Text(start.to_string().into())).await.unwrap();
    socket
}

/// The close frame the node ends `socket` with: its code and reason (skipping what it sent before).
async fn closed_with(socket: &mut Socket) -> (CloseCode, String) {
    let read = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(Some(frame))) => return (frame.code, frame.reason.to_string()),
                Ok(Message::Close(None)) => panic!("closed without a code"),
                Ok(_) => {}
                Err(error) => panic!("the stream failed instead of closing: {error}"),
            }
        }
        panic!("the stream ended without a close frame")
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the node closes the stream")
}

#[tokio::test]
async fn a_stream_naming_a_dial_nobody_follows_is_closed_with_1011() {
    let registry = Arc::new(OneDial::default());
    let addr = node(Arc::clone(&registry)).await;
    let mut socket = stream(addr, "echo", "d2").await;
    let (code, reason) = closed_with(&mut socket).await;
    assert_eq!(code, CloseCode::Error, "1011: {reason}");
    assert_eq!(u16::from(code), 1011);
    assert_eq!(reason, "no dialled call is followed under this id");
    assert!(registry.reports.lock().unwrap().is_empty(), "nothing reported of a dial nobody follows");
}

#[tokio::test]
async fn a_stream_naming_a_dial_placed_for_another_agent_is_closed_with_1008() {
    let registry = Arc::new(OneDial::default());
    let addr = node(Arc::clone(&registry)).await;
    // `d1` was placed for `echo`: a stream to `sales` may not take it over.
    let mut socket = stream(addr, "sales", "d1").await;
    let (code, reason) = closed_with(&mut socket).await;
    assert_eq!(code, CloseCode::Policy, "1008: {reason}");
    assert_eq!(u16::from(code), 1008);
    assert_eq!(reason, "this call was placed for another agent");
    assert!(registry.reports.lock().unwrap().is_empty(), "nothing reported to the dial by another agent's stream");

    // The dial's own agent gets the call: its start and end go to the registry.
    let mut socket = stream(addr, "echo", "d1").await;
    let stop =
        serde_json::json!({"event": "stop", "sequenceNumber": "2", "streamSid": "MZ1", "stop": {"callSid": "CA1"}});
    socket.send(Message::Text(stop.to_string().into())).await.unwrap();
    let ended = async {
        loop {
            if registry.reports.lock().unwrap().iter().any(|(_, e)| *e == DialEvent::StreamEnded) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ended).await.expect("the stream's end is reported");
    let reports = registry.reports.lock().unwrap().clone();
    assert_eq!(
        reports,
        [
            ("d1".to_string(), DialEvent::StreamStarted { call_id: "CA1".into() }),
            ("d1".to_string(), DialEvent::StreamEnded),
        ]
    );
}
