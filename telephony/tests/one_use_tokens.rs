//! One-use session tokens across nodes: two telephony nodes over one store, as two `voicera` nodes behind a
//! load balancer share one, on an SQLite file and on MongoDB (SecantusDB). A browser's session token issued
//! by one node opens a WebRTC call on the other exactly once: after that the token is refused on both nodes,
//! where each node's own memory alone would let the other node take it again.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, RtcConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voicera_conversation::dial_policy::DialPolicy;
use voicera_store::mongo::MongoStore;
use voicera_store::one_use::OneUseIds;
use voicera_store::sqlite::SqliteStore;
use voicera_store::testing::SecantusServer;
use voicera_store::Store;
use voicera_telephony::ws_stream::signature::SpentTokens;
use voicera_telephony::ws_stream::{AudioFormat, Telephony, TelephonyConfig, TokenKey};

/// What `voicera serve` hands its telephony: the store's one-use ids.
fn spent_tokens_in(store: &Store) -> Arc<dyn SpentTokens> {
    let used = Arc::new(OneUseIds::new(store.clone()));
    Arc::new(move |id: String, expires: u64, now: u64| {
        let used = Arc::clone(&used);
        async move { used.spend(&id, expires, now).await.map_err(|err| err.to_string()) }
    })
}

/// A node: its telephony endpoints on a loopback port, its tokens signed with the deployment's key.
async fn node(store: &Store) -> (SocketAddr, Arc<Telephony>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = TelephonyConfig {
        public_url: format!("http://{addr}"),
        accounts: HashMap::new(),
        format: AudioFormat::MULAW_8K,
        open_agents: Vec::new(),
        media_ip: [127, 0, 0, 1].into(),
        stream_token_key: TokenKey::new([5; 32]),
        dial_policy: Arc::new(DialPolicy::default()),
        spent_tokens: Some(spent_tokens_in(store)),
        dialled: Default::default(),
    };
    let telephony = common::serve(listener, config);
    (addr, telephony)
}

/// A browser's offer: Opus audio and the `events` data channel.
fn offer() -> String {
    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_opus(true, false)
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:40000".parse().unwrap(), "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    change.add_channel("events".into());
    let (offer, _pending) = change.apply().unwrap();
    offer.to_sdp_string()
}

/// POSTs the offer to `path` on `addr`; the status and body.
async fn post_offer(addr: SocketAddr, path: &str) -> (u16, String) {
    let body = serde_json::json!({"type": "offer", "sdp": offer()}).to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

/// The path of a browser session's WebRTC offer, on any node.
fn webrtc_path(telephony: &Telephony) -> String {
    let session = telephony.browser_call("echo");
    let (_, path) = session.webrtc_url.split_once("/browser/").unwrap();
    format!("/browser/{path}")
}

async fn a_token_is_used_once_across_two_nodes(a: &Store, b: &Store) {
    let (node_a, telephony_a) = node(a).await;
    let (node_b, telephony_b) = node(b).await;

    // Issued by A, used on B: the call starts.
    let path = webrtc_path(&telephony_a);
    let (status, body) = post_offer(node_b, &path).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"answer\""), "{body}");
    // The same token again: refused on A (it never saw it spent: the store did), and on B.
    for node in [node_a, node_b] {
        let (status, body) = post_offer(node, &path).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("already used"), "{body}");
    }

    // The other way round: issued by B, used on A, refused on B.
    let path = webrtc_path(&telephony_b);
    assert_eq!(post_offer(node_a, &path).await.0, 200);
    let (status, body) = post_offer(node_b, &path).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("already used"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_is_used_once_across_nodes_sharing_an_sqlite_store() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("one-use-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("voicera.db");
    let _ = std::fs::remove_file(&path);
    let a = Store::Sqlite(SqliteStore::open(&path).await.unwrap());
    let b = Store::Sqlite(SqliteStore::open(&path).await.unwrap());
    a_token_is_used_once_across_two_nodes(&a, &b).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_is_used_once_across_nodes_sharing_mongodb() {
    let server = SecantusServer::start();
    let a = Store::Mongo(MongoStore::connect(&server.uri, Some("tokens")).await.unwrap());
    let b = Store::Mongo(MongoStore::connect(&server.uri, Some("tokens")).await.unwrap());
    a_token_is_used_once_across_two_nodes(&a, &b).await;
}
