//! What the telephony crate's integration tests share: a router that knows only `echo`, and a node serving a
//! given telephony configuration on a listener.

// Each test file uses a part.
#![allow(dead_code)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use voicera_conversation::routing::{Destination, Router};
use voicera_media::metrics::Metrics;
use voicera_telephony::ws_stream::{router, Telephony, TelephonyConfig};

/// Routes `echo` and nothing else.
pub(crate) struct EchoOnly;

impl Router for EchoOnly {
    fn route(&self, user: &str) -> Option<Destination> {
        (user == "echo").then_some(Destination::Echo)
    }
}

/// Serves `config`'s telephony (agents: [`EchoOnly`]) on `listener` in a task of its own: the telephony.
pub(crate) fn serve(listener: tokio::net::TcpListener, config: TelephonyConfig) -> Arc<Telephony> {
    let telephony = Telephony::new(
        config,
        Arc::new(EchoOnly),
        Arc::new(Metrics::default()),
        None,
        Arc::new(AtomicBool::new(false)),
        CancellationToken::new(),
        None,
    );
    let app = router(Arc::clone(&telephony));
    tokio::spawn(async move { axum::serve(listener, app).await });
    telephony
}
