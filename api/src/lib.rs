//! HTTP for VoiceERA-rs: the operational endpoints every role serves ([`router`]: `GET /health` readiness,
//! `GET /metrics` Prometheus) and the control-plane REST API ([`control_plane`]: `/api/v1`, the original
//! VoicEra's routes and JSON shapes, authenticated and tenant-scoped, with its OpenAPI document).
//!
//! Crate map: `routes/` the route table (one [`routes::Operation`] per route, also the OpenAPI document's
//! source) and one handler module per area · `openapi.rs` the document · `auth/` credentials and the
//! [`Caller`] extractor · `accounts.rs` users, orgs, sessions, the owner bootstrap · `state.rs` [`ApiState`],
//! [`ApiConfig`], the [`AgentValidator`] the binary plugs in · `error.rs` the one error type · `clock.rs` ·
//! `call_log_cursor.rs` the meetings list's signed keyset cursor · `audit.rs` the audit log every change
//! writes · `outbox.rs` where mail goes (SMTP or `.eml` files) · `cors.rs` CORS for the console's origin only.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod call_log_cursor;
pub mod clock;
mod cors;
pub mod error;
pub mod knowledge_texts;
pub mod links;
pub mod openapi;
pub mod outbox;
pub mod recording;
pub mod routes;
pub mod state;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// One readiness check: a named component and whether it is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The component (`sip`, `store`, a listener's name).
    pub name: &'static str,
    /// Whether it answers; the node is ready only when all are up.
    pub up: bool,
    /// Up, but not fully: the node still works around it (call records wait in the spool while the store is
    /// away). Reported as `degraded`; the node stays ready.
    pub degraded: bool,
}

impl Check {
    /// A check that is up or down, never degraded.
    pub fn new(name: &'static str, up: bool) -> Check {
        Check { name, up, degraded: false }
    }

    fn state(&self) -> &'static str {
        match (self.up, self.degraded) {
            (false, _) => "down",
            (true, true) => "degraded",
            (true, false) => "up",
        }
    }
}

/// What the operational endpoints read from the running node.
pub trait NodeStatus: Send + Sync + 'static {
    /// Readiness of each listener and store.
    fn checks(&self) -> Vec<Check>;
    /// Whether the node is draining (shutting down).
    fn draining(&self) -> bool;
    /// Prometheus text exposition of the node's metrics.
    fn metrics(&self) -> String;
}

pub use accounts::{bootstrap_owner, Bootstrap};
pub use auth::{authenticate_header, Caller, Credential, Role};
pub use error::ApiError;
pub use outbox::{FileOutbox, Mail, Outbox, SmtpOutbox, SmtpSecurity, SmtpServer};
pub use state::{
    AgentDirectory, AgentValidator, ApiConfig, ApiState, ConfigAgent, FieldError, MailConfig, NodeCall, NodeConsole,
    Resources, TOKEN_KEY_PURPOSE,
};

/// The control-plane REST API, `/api/v1/...`, to merge into the node's router. Unknown paths under the prefix
/// answer 404 in the API's error shape; bodies above [`ApiConfig::body_limit`] answer 413; the console's origin
/// (the public URL's) gets CORS headers with credentials, no other origin does.
pub fn control_plane(state: ApiState) -> Router {
    let mut api = Router::new();
    for operation in routes::operations() {
        api = api.route(operation.path, operation.handler);
    }
    let limit = state.config().body_limit;
    let api = api
        .method_not_allowed_fallback(unknown_method)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors::layer))
        .with_state(state);
    Router::new().nest(routes::PREFIX, api).route("/api/docs", get(api_docs))
}

/// The browsable API documentation: one page, shipped in the binary, that reads `/api/v1/openapi.json`.
const API_DOCS_PAGE: &str = include_str!("docs/index.html");

async fn api_docs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        API_DOCS_PAGE,
    )
        .into_response()
}

async fn unknown_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this API route does not take this method; GET /api/v1/openapi.json lists them",
    )
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("no such API route; GET /api/v1/openapi.json lists them")
}

/// The HTTP router of a node: `/health` and `/metrics`.
pub fn router(status: Arc<dyn NodeStatus>) -> Router {
    health_router(Arc::clone(&status)).merge(metrics_router(status))
}

/// `/health` alone, for the public port when `/metrics` is served on a private address.
pub fn health_router(status: Arc<dyn NodeStatus>) -> Router {
    Router::new().route("/health", get(health)).with_state(status)
}

/// `/metrics` alone (Prometheus text), for a private metrics address.
pub fn metrics_router(status: Arc<dyn NodeStatus>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(status)
}

async fn health(State(status): State<Arc<dyn NodeStatus>>) -> Response {
    let checks = status.checks();
    let all_up = checks.iter().all(|c| c.up);
    let draining = status.draining();
    let degraded = checks.iter().any(|c| c.degraded);
    let body = json!({
        "status": if draining { "draining" } else if !all_up { "unavailable" } else if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": checks.iter().map(|c| (c.name.to_string(), json!(c.state()))).collect::<serde_json::Map<_, _>>(),
    });
    let code = if all_up && !draining { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

async fn metrics(State(status): State<Arc<dyn NodeStatus>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], status.metrics()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tower::ServiceExt;

    struct Fake {
        sip_up: AtomicBool,
        draining: AtomicBool,
        store_degraded: AtomicBool,
    }

    impl NodeStatus for Fake {
        fn checks(&self) -> Vec<Check> {
            vec![
                Check::new("http", true),
                Check::new("sip_udp", self.sip_up.load(Ordering::Relaxed)),
                Check { name: "store", up: true, degraded: self.store_degraded.load(Ordering::Relaxed) },
            ]
        }
        fn draining(&self) -> bool {
            self.draining.load(Ordering::Relaxed)
        }
        fn metrics(&self) -> String {
            "voicera_calls_active 0\n".into()
        }
    }

    async fn get(app: Router, path: &str) -> (StatusCode, String) {
        let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_is_200_only_when_every_check_is_up_and_not_draining() {
        let fake = Arc::new(Fake {
            sip_up: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            store_degraded: AtomicBool::new(false),
        });
        let (code, body) = get(router(fake.clone()), "/health").await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains(r#""status":"ok""#) && body.contains(r#""sip_udp":"up""#), "{body}");
        // Degraded is still ready: calls work while records wait in the spool.
        fake.store_degraded.store(true, Ordering::Relaxed);
        let (code, body) = get(router(fake.clone()), "/health").await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains(r#""status":"degraded""#) && body.contains(r#""store":"degraded""#), "{body}");
        fake.store_degraded.store(false, Ordering::Relaxed);
        fake.sip_up.store(false, Ordering::Relaxed);
        let (code, body) = get(router(fake.clone()), "/health").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains(r#""sip_udp":"down""#));
        fake.sip_up.store(true, Ordering::Relaxed);
        fake.draining.store(true, Ordering::Relaxed);
        assert_eq!(get(router(fake), "/health").await.0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let fake = Arc::new(Fake {
            sip_up: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            store_degraded: AtomicBool::new(false),
        });
        let (code, body) = get(router(fake), "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body, "voicera_calls_active 0\n");
    }
}
