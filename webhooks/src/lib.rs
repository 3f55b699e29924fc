//! Customer webhooks: per org, endpoints subscribe to call and campaign events ([`events`]); each event is
//! delivered at least once to each subscribed endpoint as a signed JSON POST ([`signing`]), retried with
//! exponential back-off and jitter for 24 h ([`schedule`], sans IO, time passed in), every attempt kept in
//! a delivery log in the store and any delivery replayable by hand ([`outbox`]). A thin tokio task per node
//! drives it ([`worker`]); nodes sharing a store claim each attempt with a lease, so none is sent twice by
//! two nodes.
//!
//! Crate map: `events.rs` names and envelope · `signing.rs` HMAC headers and verification · `schedule.rs`
//! back-off and the scheduler · `outbox.rs` endpoints, deliveries and the queue in the store · `worker.rs`
//! the sending task · `metrics.rs` its `/metrics` figures · `retention.rs` the delivery log's sweeper.

#![forbid(unsafe_code)]

pub mod events;
pub mod metrics;
pub mod outbox;
pub mod retention;
pub mod schedule;
pub mod signing;
pub mod worker;

pub use metrics::WebhookMetrics;
pub use outbox::{emit, Endpoint};
pub use schedule::{Deliveries, Next, Outcome, Pending, RetryPolicy};
pub use worker::{Webhooks, WorkerConfig};

/// What went wrong with a webhook operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The store refused a read or write (or a secret did not open).
    #[error(transparent)]
    Store(#[from] voicera_store::StoreError),
    /// A blocking send task panicked or was cancelled.
    #[error("webhook send task failed: {0}")]
    Task(String),
}

/// Unix milliseconds now: the store's one wall-clock helper, named here for this crate's users.
pub use voicera_store::unix_ms;

/// Whether `url` may receive webhooks: `https://…`, or `http://` to a loopback address when
/// `allow_http_loopback` (tests, a local relay). The error says what is wrong, for the API's 422.
pub fn check_url(url: &str, allow_http_loopback: bool) -> Result<(), &'static str> {
    let url = url.trim();
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL of at most 2048 characters without spaces");
    }
    let (scheme, rest) = url.split_once("://").ok_or("an absolute https:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("an https:// URL with a host (and no user:password@)");
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if allow_http_loopback && is_loopback(authority) => Ok(()),
        "http" if allow_http_loopback => {
            Err("https://, or http:// only to a loopback address (127.0.0.1, [::1], localhost)")
        }
        _ => Err("an https:// URL (plain http is not accepted: deliveries carry call transcripts)"),
    }
}

fn is_loopback(authority: &str) -> bool {
    // host[:port], [v6][:port]
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_are_https_or_loopback_http_when_allowed() {
        assert!(check_url("https://hooks.example.com/voicera", false).is_ok());
        assert!(check_url("HTTPS://hooks.example.com:8443/x?y=1", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("http://[::1]:9000/hook", true).is_ok());
        assert!(check_url("http://localhost/hook", true).is_ok());
        assert!(check_url("http://10.0.0.5/hook", true).is_err());
        assert!(check_url("http://127.0.0.1.evil.com/hook", true).is_err());
        assert!(check_url("ftp://example.com", true).is_err());
        assert!(check_url("example.com/hook", false).is_err());
        assert!(check_url("https:///nohost", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("https://example.com/a b", false).is_err());
    }
}
