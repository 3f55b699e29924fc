//! A node's webhook figures for `/metrics`: what its worker's attempts came to, how long they took, how many
//! deliveries wait in the shared queue, and what the delivery-log sweeper removed. Counters are this node's;
//! the pending gauge is the whole queue (every node sees the same).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::schedule::Next;

/// Upper bounds (seconds) of the attempt latency histogram's buckets; `+Inf` follows.
const LATENCY_BOUNDS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The outcomes `voicera_webhook_deliveries_total` counts, in the order rendered.
const OUTCOMES: [&str; 5] = ["delivered", "retry", "dead_letter", "gone", "cancelled"];

/// Webhook counters, the latency histogram and the queue gauge. Shared by the worker, the sweeper and the
/// node's `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    /// Per [`OUTCOMES`] entry.
    outcomes: [AtomicU64; 5],
    /// Attempts per latency bucket (not cumulative; summed when rendered), the last for `+Inf`.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    latency_sum_ms: AtomicU64,
    attempts: AtomicU64,
    pending: AtomicU64,
    swept: AtomicU64,
}

impl WebhookMetrics {
    /// Counts one attempt that took `latency_ms` and what it led to.
    pub fn attempt(&self, next: Next, latency_ms: u64) {
        let outcome = match next {
            Next::Delivered => 0,
            Next::RetryAt(_) => 1,
            Next::DeadLetter => 2,
            Next::EndpointGone => 3,
        };
        self.outcomes[outcome].fetch_add(1, Relaxed);
        let seconds = latency_ms as f64 / 1000.0;
        let bucket = LATENCY_BOUNDS.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.latency_sum_ms.fetch_add(latency_ms, Relaxed);
        self.attempts.fetch_add(1, Relaxed);
    }

    /// Counts a claimed delivery dropped unsent (its endpoint deleted or disabled).
    pub fn cancelled(&self) {
        self.outcomes[4].fetch_add(1, Relaxed);
    }

    /// Sets how many deliveries wait in the queue (all orgs, all nodes).
    pub fn set_pending(&self, entries: u64) {
        self.pending.store(entries, Relaxed);
    }

    /// Counts finished deliveries the log's retention removed.
    pub fn swept(&self, deliveries: u64) {
        self.swept.fetch_add(deliveries, Relaxed);
    }

    /// Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP voicera_webhook_deliveries_total Webhook delivery attempts made by this node, by what they came to.\n\
             # TYPE voicera_webhook_deliveries_total counter"
        );
        for (name, count) in OUTCOMES.iter().zip(&self.outcomes) {
            let _ = writeln!(out, "voicera_webhook_deliveries_total{{outcome=\"{name}\"}} {}", count.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP voicera_webhook_dead_letters_total Deliveries this node gave up on (out of time, or 410 Gone).\n\
             # TYPE voicera_webhook_dead_letters_total counter\nvoicera_webhook_dead_letters_total {}",
            self.outcomes[2].load(Relaxed) + self.outcomes[3].load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP voicera_webhook_attempt_seconds Time of one webhook POST, connect to answer.\n\
             # TYPE voicera_webhook_attempt_seconds histogram"
        );
        let mut cumulative = 0;
        for (at, count) in self.buckets.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = LATENCY_BOUNDS.get(at).map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "voicera_webhook_attempt_seconds_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "voicera_webhook_attempt_seconds_sum {}\nvoicera_webhook_attempt_seconds_count {}",
            self.latency_sum_ms.load(Relaxed) as f64 / 1000.0,
            self.attempts.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP voicera_webhook_pending Deliveries waiting in the queue for an attempt (all orgs).\n\
             # TYPE voicera_webhook_pending gauge\nvoicera_webhook_pending {}",
            self.pending.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP voicera_webhook_log_swept_total Finished deliveries removed from the delivery log by retention.\n\
             # TYPE voicera_webhook_log_swept_total counter\nvoicera_webhook_log_swept_total {}",
            self.swept.load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, name: &str) -> &'a str {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' '))).unwrap_or("missing")
    }

    #[test]
    fn attempts_count_by_outcome_and_fall_in_cumulative_buckets() {
        let metrics = WebhookMetrics::default();
        metrics.attempt(Next::RetryAt(5), 40);
        metrics.attempt(Next::RetryAt(9), 10_000);
        metrics.attempt(Next::Delivered, 120);
        metrics.attempt(Next::DeadLetter, 60_000);
        metrics.attempt(Next::EndpointGone, 5);
        metrics.cancelled();
        metrics.set_pending(7);
        metrics.swept(3);
        let text = metrics.render();
        assert_eq!(line(&text, "voicera_webhook_deliveries_total{outcome=\"delivered\"}"), "1");
        assert_eq!(line(&text, "voicera_webhook_deliveries_total{outcome=\"retry\"}"), "2");
        assert_eq!(line(&text, "voicera_webhook_deliveries_total{outcome=\"dead_letter\"}"), "1");
        assert_eq!(line(&text, "voicera_webhook_deliveries_total{outcome=\"gone\"}"), "1");
        assert_eq!(line(&text, "voicera_webhook_deliveries_total{outcome=\"cancelled\"}"), "1");
        assert_eq!(line(&text, "voicera_webhook_dead_letters_total"), "2");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_bucket{le=\"0.05\"}"), "2", "5 ms and 40 ms");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_bucket{le=\"0.25\"}"), "3");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_bucket{le=\"10\"}"), "4", "10 s is within 10");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_bucket{le=\"30\"}"), "4");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_bucket{le=\"+Inf\"}"), "5");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_count"), "5");
        assert_eq!(line(&text, "voicera_webhook_attempt_seconds_sum"), "70.165");
        assert_eq!(line(&text, "voicera_webhook_pending"), "7");
        assert_eq!(line(&text, "voicera_webhook_log_swept_total"), "3");
        // Every series has its HELP and TYPE.
        for name in ["deliveries_total", "dead_letters_total", "attempt_seconds", "pending", "log_swept_total"] {
            assert!(text.contains(&format!("# TYPE voicera_webhook_{name} ")), "{name}");
        }
    }
}
