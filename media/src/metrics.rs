//! Media and call counters for `/metrics`. Calls keep their own counters and add them here about once a second
//! and at the end, so the per-packet path touches no shared memory.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// How a call ended, for `voicera_calls_total{result=...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// Answered and ended normally.
    Completed,
    /// Rejected before answer (404, 488, 503...).
    Rejected,
    /// Caller cancelled before answer.
    Cancelled,
    /// Ended by a failure (no ACK, RTP timeout, media error).
    Failed,
}

const RESULTS: [(CallResult, &str); 4] = [
    (CallResult::Completed, "completed"),
    (CallResult::Rejected, "rejected"),
    (CallResult::Cancelled, "cancelled"),
    (CallResult::Failed, "failed"),
];

/// Per-call media counters, flushed into [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaCounters {
    pub rtp_packets_in: u64,
    pub rtp_bytes_in: u64,
    pub rtp_packets_out: u64,
    pub rtp_bytes_out: u64,
    pub rtp_invalid: u64,
    pub jitter_late: u64,
    pub jitter_lost: u64,
    pub jitter_concealed: u64,
    pub dtmf_events: u64,
}

/// Upper bounds (seconds) of the turn-latency histogram buckets.
const TURN_LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0];

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    /// End of speech → first agent audio, cumulative bucket counts (last = +Inf) and sum in ms.
    turn_latency_buckets: [AtomicU64; 12],
    turn_latency_sum_ms: AtomicU64,
    barge_ins: AtomicU64,
    calls_active: AtomicI64,
    calls_total: [AtomicU64; 4],
    rtp_packets_in: AtomicU64,
    rtp_bytes_in: AtomicU64,
    rtp_packets_out: AtomicU64,
    rtp_bytes_out: AtomicU64,
    rtp_invalid: AtomicU64,
    jitter_late: AtomicU64,
    jitter_lost: AtomicU64,
    jitter_concealed: AtomicU64,
    dtmf_events: AtomicU64,
    sip_dropped: AtomicU64,
    /// Trunk name → registered (1) or not (0).
    registrations: Mutex<Vec<(String, bool)>>,
}

impl Metrics {
    pub fn call_started(&self) {
        self.calls_active.fetch_add(1, Relaxed);
    }

    pub fn call_ended(&self, result: CallResult) {
        self.calls_active.fetch_sub(1, Relaxed);
        self.count_result(result);
    }

    /// Counts a call that never became active (rejected or cancelled before answer).
    pub fn count_result(&self, result: CallResult) {
        if let Some(i) = RESULTS.iter().position(|(r, _)| *r == result) {
            self.calls_total[i].fetch_add(1, Relaxed);
        }
    }

    pub fn active_calls(&self) -> i64 {
        self.calls_active.load(Relaxed)
    }

    /// Counts a DTMF digit received by SIP INFO (RFC 4733 digits come through [`Metrics::add`]).
    pub fn dtmf_received(&self) {
        self.dtmf_events.fetch_add(1, Relaxed);
    }

    /// A turn's end-of-speech → first-agent-audio latency.
    pub fn observe_turn_latency(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        for (i, bound) in TURN_LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.turn_latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.turn_latency_buckets[TURN_LATENCY_BUCKETS.len()].fetch_add(1, Relaxed);
        self.turn_latency_sum_ms.fetch_add(ms, Relaxed);
    }

    pub fn barge_in(&self) {
        self.barge_ins.fetch_add(1, Relaxed);
    }

    pub fn sip_dropped(&self) {
        self.sip_dropped.fetch_add(1, Relaxed);
    }

    pub fn set_registration(&self, trunk: &str, registered: bool) {
        if let Ok(mut regs) = self.registrations.lock() {
            match regs.iter_mut().find(|(n, _)| n == trunk) {
                Some(entry) => entry.1 = registered,
                None => regs.push((trunk.to_string(), registered)),
            }
        }
    }

    /// Adds a call's counters (taken since its last flush).
    pub fn add(&self, c: &MediaCounters) {
        self.rtp_packets_in.fetch_add(c.rtp_packets_in, Relaxed);
        self.rtp_bytes_in.fetch_add(c.rtp_bytes_in, Relaxed);
        self.rtp_packets_out.fetch_add(c.rtp_packets_out, Relaxed);
        self.rtp_bytes_out.fetch_add(c.rtp_bytes_out, Relaxed);
        self.rtp_invalid.fetch_add(c.rtp_invalid, Relaxed);
        self.jitter_late.fetch_add(c.jitter_late, Relaxed);
        self.jitter_lost.fetch_add(c.jitter_lost, Relaxed);
        self.jitter_concealed.fetch_add(c.jitter_concealed, Relaxed);
        self.dtmf_events.fetch_add(c.dtmf_events, Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{value}");
        };
        metric(
            "voicera_calls_active",
            "gauge",
            "Calls in progress.",
            format!("voicera_calls_active {}", self.active_calls()),
        );
        let totals: Vec<String> = RESULTS
            .iter()
            .enumerate()
            .map(|(i, (_, label))| {
                format!("voicera_calls_total{{result=\"{label}\"}} {}", self.calls_total[i].load(Relaxed))
            })
            .collect();
        metric("voicera_calls_total", "counter", "Calls by how they ended.", totals.join("\n"));
        let counters = [
            ("voicera_rtp_packets_received_total", "RTP packets received.", &self.rtp_packets_in),
            ("voicera_rtp_bytes_received_total", "RTP bytes received.", &self.rtp_bytes_in),
            ("voicera_rtp_packets_sent_total", "RTP packets sent.", &self.rtp_packets_out),
            ("voicera_rtp_bytes_sent_total", "RTP bytes sent.", &self.rtp_bytes_out),
            (
                "voicera_rtp_invalid_total",
                "Datagrams on RTP ports that were not valid RTP for the call.",
                &self.rtp_invalid,
            ),
            ("voicera_jitter_late_total", "RTP packets that arrived after their playout time.", &self.jitter_late),
            ("voicera_jitter_lost_total", "RTP packets never received by their playout time.", &self.jitter_lost),
            ("voicera_jitter_concealed_total", "Audio frames synthesised by loss concealment.", &self.jitter_concealed),
            ("voicera_dtmf_events_total", "RFC 4733 and SIP INFO DTMF digits received.", &self.dtmf_events),
            ("voicera_sip_dropped_total", "SIP messages dropped as malformed or unroutable.", &self.sip_dropped),
        ];
        for (name, help, value) in counters {
            metric(name, "counter", help, format!("{name} {}", value.load(Relaxed)));
        }
        let count = self.turn_latency_buckets[TURN_LATENCY_BUCKETS.len()].load(Relaxed);
        let mut lines: Vec<String> = TURN_LATENCY_BUCKETS
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "voicera_turn_latency_seconds_bucket{{le=\"{b}\"}} {}",
                    self.turn_latency_buckets[i].load(Relaxed)
                )
            })
            .collect();
        lines.push(format!("voicera_turn_latency_seconds_bucket{{le=\"+Inf\"}} {count}"));
        lines.push(format!(
            "voicera_turn_latency_seconds_sum {}",
            self.turn_latency_sum_ms.load(Relaxed) as f64 / 1000.0
        ));
        lines.push(format!("voicera_turn_latency_seconds_count {count}"));
        metric(
            "voicera_turn_latency_seconds",
            "histogram",
            "From the end-of-speech decision to the agent's first audio, per turn.",
            lines.join("\n"),
        );
        metric(
            "voicera_barge_ins_total",
            "counter",
            "Times a caller interrupted the agent.",
            format!("voicera_barge_ins_total {}", self.barge_ins.load(Relaxed)),
        );
        if let Ok(regs) = self.registrations.lock() {
            if !regs.is_empty() {
                let lines: Vec<String> = regs
                    .iter()
                    .map(|(trunk, ok)| format!("voicera_trunk_registered{{trunk=\"{trunk}\"}} {}", *ok as u8))
                    .collect();
                metric(
                    "voicera_trunk_registered",
                    "gauge",
                    "1 while the trunk's REGISTER binding is active.",
                    lines.join("\n"),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.call_started();
        m.add(&MediaCounters { rtp_packets_in: 5, ..Default::default() });
        m.call_ended(CallResult::Completed);
        m.set_registration("vobiz", true);
        m.observe_turn_latency(250);
        m.observe_turn_latency(900);
        let text = m.render();
        assert!(text.contains("voicera_calls_active 0"));
        assert!(text.contains("voicera_calls_total{result=\"completed\"} 1"));
        assert!(text.contains("voicera_rtp_packets_received_total 5"));
        assert!(text.contains("voicera_trunk_registered{trunk=\"vobiz\"} 1"));
        assert!(text.contains("voicera_turn_latency_seconds_bucket{le=\"0.3\"} 1"), "{text}");
        assert!(text.contains("voicera_turn_latency_seconds_bucket{le=\"1\"} 2"));
        assert!(text.contains("voicera_turn_latency_seconds_count 2"));
        assert!(text.contains("voicera_turn_latency_seconds_sum 1.15"));
    }
}
