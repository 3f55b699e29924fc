//! Media and call counters for `/metrics`. Calls keep their own counters and add them here about once a second
//! and at the end, so the per-packet path touches no shared memory.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use voicera_models::{FailureKind, ModelStage};

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
    /// RTP packets received on the call's socket.
    pub rtp_packets_in: u64,
    /// Bytes of those packets.
    pub rtp_bytes_in: u64,
    /// RTP packets sent.
    pub rtp_packets_out: u64,
    /// Bytes of those packets.
    pub rtp_bytes_out: u64,
    /// Datagrams that did not parse as RTP and were dropped.
    pub rtp_invalid: u64,
    /// RTP packets dropped because they came from a source the call is not latched to (hijack attempts,
    /// strays, or the first packets of a NAT rebinding before the run that re-latches).
    pub rtp_unlatched: u64,
    /// Packets that came after their playout slot.
    pub jitter_late: u64,
    /// Packets never received in time.
    pub jitter_lost: u64,
    /// Frames of loss concealment played in place of audio.
    pub jitter_concealed: u64,
    /// RFC 4733 DTMF digits received.
    pub dtmf_events: u64,
    /// SRTP/SRTCP packets dropped because they did not authenticate (forged, corrupted, another key, an
    /// unknown MKI, a spent key).
    pub srtp_auth_failures: u64,
    /// SRTP/SRTCP packets dropped as replays (already received, or older than the replay window).
    pub srtp_replays: u64,
}

/// Upper bounds (seconds) of the turn-latency histogram buckets.
const TURN_LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0];

/// A latency histogram: cumulative bucket counts (last = +Inf) and the sum in ms.
#[derive(Default)]
struct LatencyHistogram {
    buckets: [AtomicU64; 12],
    sum_ms: AtomicU64,
}

impl LatencyHistogram {
    fn observe(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        for (i, bound) in TURN_LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.buckets[TURN_LATENCY_BUCKETS.len()].fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
    }

    /// The Prometheus sample lines of histogram `name`.
    fn lines(&self, name: &str) -> String {
        let count = self.buckets[TURN_LATENCY_BUCKETS.len()].load(Relaxed);
        let mut lines: Vec<String> = TURN_LATENCY_BUCKETS
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{name}_bucket{{le=\"{b}\"}} {}", self.buckets[i].load(Relaxed)))
            .collect();
        lines.push(format!("{name}_bucket{{le=\"+Inf\"}} {count}"));
        lines.push(format!("{name}_sum {}", self.sum_ms.load(Relaxed) as f64 / 1000.0));
        lines.push(format!("{name}_count {count}"));
        lines.join("\n")
    }
}

/// A fallback switch's labels: stage, from, to, reason.
type FallbackKey = (&'static str, String, String, &'static str);

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    /// End of speech → first agent audio.
    turn_latency: LatencyHistogram,
    /// The stages of it: end of speech → final transcript, → first LLM token, first clause → first audio.
    stt_final: LatencyHistogram,
    llm_first_token: LatencyHistogram,
    tts_first_audio: LatencyHistogram,
    barge_ins: AtomicU64,
    barge_ins_resumed: AtomicU64,
    /// Model failures by stage and kind ([`ModelStage::index`], [`FailureKind::index`]).
    model_failures: [[AtomicU64; FailureKind::ALL.len()]; ModelStage::ALL.len()],
    calls_active: AtomicI64,
    calls_total: [AtomicU64; 4],
    rtp_packets_in: AtomicU64,
    rtp_bytes_in: AtomicU64,
    rtp_packets_out: AtomicU64,
    rtp_bytes_out: AtomicU64,
    rtp_invalid: AtomicU64,
    rtp_unlatched: AtomicU64,
    jitter_late: AtomicU64,
    jitter_lost: AtomicU64,
    jitter_concealed: AtomicU64,
    dtmf_events: AtomicU64,
    srtp_auth_failures: AtomicU64,
    srtp_replays: AtomicU64,
    sip_dropped: AtomicU64,
    /// Trunk name → registered (1) or not (0).
    registrations: Mutex<Vec<(String, bool)>>,
    /// Fallback-chain switches by (stage, from, to, reason). Switches are rare (a provider failing), so a
    /// map behind a lock costs nothing on the media path.
    fallbacks: Mutex<std::collections::BTreeMap<FallbackKey, u64>>,
}

impl Metrics {
    /// A call became active (answered): the active-calls gauge goes up.
    pub fn call_started(&self) {
        self.calls_active.fetch_add(1, Relaxed);
    }

    /// An active call ended with `result`: the gauge goes down and the result is counted.
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

    /// Calls active now (the node's load, also for drain).
    pub fn active_calls(&self) -> i64 {
        self.calls_active.load(Relaxed)
    }

    /// Counts a DTMF digit received by SIP INFO (RFC 4733 digits come through [`Metrics::add`]).
    pub fn dtmf_received(&self) {
        self.dtmf_events.fetch_add(1, Relaxed);
    }

    /// A turn's end-of-speech → first-agent-audio latency.
    pub fn observe_turn_latency(&self, ms: u64) {
        self.turn_latency.observe(ms);
    }

    /// A turn's stage timings, where known (a hold message can come before the LLM's first token).
    pub fn observe_stages(
        &self,
        stt_ms: Option<u64>,
        llm_first_token_ms: Option<u64>,
        tts_first_audio_ms: Option<u64>,
    ) {
        for (histogram, ms) in [
            (&self.stt_final, stt_ms),
            (&self.llm_first_token, llm_first_token_ms),
            (&self.tts_first_audio, tts_first_audio_ms),
        ] {
            if let Some(ms) = ms {
                histogram.observe(ms);
            }
        }
    }

    /// The caller interrupted the agent.
    pub fn barge_in(&self) {
        self.barge_ins.fetch_add(1, Relaxed);
    }

    /// The caller's voice paused the agent but was no interruption: it played on.
    pub fn barge_in_resumed(&self) {
        self.barge_ins_resumed.fetch_add(1, Relaxed);
    }

    /// A model failed (an utterance untranscribed, a reply or clause cut short).
    pub fn model_failed(&self, stage: ModelStage, kind: FailureKind) {
        self.model_failures[stage.index()][kind.index()].fetch_add(1, Relaxed);
    }

    /// A fallback chain moved from model `from` to `to` for `kind`.
    pub fn model_fallback(&self, stage: ModelStage, from: &str, to: &str, kind: FailureKind) {
        if let Ok(mut fallbacks) = self.fallbacks.lock() {
            *fallbacks.entry((stage.as_str(), from.to_string(), to.to_string(), kind.label())).or_default() += 1;
        }
    }

    /// Barge-ins counted so far.
    pub fn barge_ins(&self) -> u64 {
        self.barge_ins.load(Relaxed)
    }

    /// A SIP datagram was dropped (unparseable, over a limit, or rate-limited).
    pub fn sip_dropped(&self) {
        self.sip_dropped.fetch_add(1, Relaxed);
    }

    /// Records whether `trunk`'s registration is current, for the registration gauge in `/metrics`.
    pub fn set_registration(&self, trunk: &str, registered: bool) {
        if let Ok(mut regs) = self.registrations.lock() {
            match regs.iter_mut().find(|(n, _)| n == trunk) {
                Some(entry) => entry.1 = registered,
                None => regs.push((trunk.to_string(), registered)),
            }
        }
    }

    /// Each trunk that registers, and whether its registration is current (the System page's list).
    pub fn registrations(&self) -> Vec<(String, bool)> {
        self.registrations.lock().map(|regs| regs.clone()).unwrap_or_default()
    }

    /// Adds a call's counters (taken since its last flush).
    pub fn add(&self, c: &MediaCounters) {
        self.rtp_packets_in.fetch_add(c.rtp_packets_in, Relaxed);
        self.rtp_bytes_in.fetch_add(c.rtp_bytes_in, Relaxed);
        self.rtp_packets_out.fetch_add(c.rtp_packets_out, Relaxed);
        self.rtp_bytes_out.fetch_add(c.rtp_bytes_out, Relaxed);
        self.rtp_invalid.fetch_add(c.rtp_invalid, Relaxed);
        self.rtp_unlatched.fetch_add(c.rtp_unlatched, Relaxed);
        self.jitter_late.fetch_add(c.jitter_late, Relaxed);
        self.jitter_lost.fetch_add(c.jitter_lost, Relaxed);
        self.jitter_concealed.fetch_add(c.jitter_concealed, Relaxed);
        self.dtmf_events.fetch_add(c.dtmf_events, Relaxed);
        self.srtp_auth_failures.fetch_add(c.srtp_auth_failures, Relaxed);
        self.srtp_replays.fetch_add(c.srtp_replays, Relaxed);
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
            (
                "voicera_rtp_unlatched_total",
                "RTP packets dropped because they came from a source other than the call's media peer.",
                &self.rtp_unlatched,
            ),
            ("voicera_jitter_late_total", "RTP packets that arrived after their playout time.", &self.jitter_late),
            ("voicera_jitter_lost_total", "RTP packets never received by their playout time.", &self.jitter_lost),
            ("voicera_jitter_concealed_total", "Audio frames synthesised by loss concealment.", &self.jitter_concealed),
            ("voicera_dtmf_events_total", "RFC 4733 and SIP INFO DTMF digits received.", &self.dtmf_events),
            (
                "voicera_srtp_auth_failures_total",
                "SRTP/SRTCP packets dropped because they did not authenticate.",
                &self.srtp_auth_failures,
            ),
            ("voicera_srtp_replays_total", "SRTP/SRTCP packets dropped as replays.", &self.srtp_replays),
            ("voicera_sip_dropped_total", "SIP messages dropped as malformed or unroutable.", &self.sip_dropped),
        ];
        for (name, help, value) in counters {
            metric(name, "counter", help, format!("{name} {}", value.load(Relaxed)));
        }
        let histograms = [
            (
                "voicera_turn_latency_seconds",
                "From the end-of-speech decision to the agent's first audio, per turn.",
                &self.turn_latency,
            ),
            (
                "voicera_stt_final_seconds",
                "From the end-of-speech decision to the final transcript, per turn.",
                &self.stt_final,
            ),
            (
                "voicera_llm_first_token_seconds",
                "From the response request to the language model's first token, per turn.",
                &self.llm_first_token,
            ),
            (
                "voicera_tts_first_audio_seconds",
                "From the reply's first clause to its first audio, per turn.",
                &self.tts_first_audio,
            ),
        ];
        for (name, help, histogram) in histograms {
            metric(name, "histogram", help, histogram.lines(name));
        }
        metric(
            "voicera_barge_ins_total",
            "counter",
            "Times a caller interrupted the agent.",
            format!("voicera_barge_ins_total {}", self.barge_ins.load(Relaxed)),
        );
        metric(
            "voicera_barge_ins_resumed_total",
            "counter",
            "Times the caller's voice paused the agent but was no interruption (a cough, \"mm-hm\"): it played on.",
            format!("voicera_barge_ins_resumed_total {}", self.barge_ins_resumed.load(Relaxed)),
        );
        let failures: Vec<String> = ModelStage::ALL
            .iter()
            .flat_map(|stage| FailureKind::ALL.iter().map(move |kind| (*stage, *kind)))
            .filter_map(|(stage, kind)| {
                let n = self.model_failures[stage.index()][kind.index()].load(Relaxed);
                (n > 0).then(|| {
                    format!(
                        "voicera_model_failures_total{{stage=\"{}\",kind=\"{}\"}} {n}",
                        stage.as_str(),
                        kind.label()
                    )
                })
            })
            .collect();
        if !failures.is_empty() {
            metric(
                "voicera_model_failures_total",
                "counter",
                "Model failures by stage (stt, llm, tts) and kind: untranscribed utterances, failed replies and clauses.",
                failures.join("\n"),
            );
        }
        if let Ok(fallbacks) = self.fallbacks.lock() {
            if !fallbacks.is_empty() {
                let lines: Vec<String> = fallbacks
                    .iter()
                    .map(|((stage, from, to, reason), n)| {
                        format!(
                            "voicera_provider_fallbacks_total{{stage=\"{stage}\",from=\"{}\",to=\"{}\",reason=\"{reason}\"}} {n}",
                            label_value(from),
                            label_value(to)
                        )
                    })
                    .collect();
                metric(
                    "voicera_provider_fallbacks_total",
                    "counter",
                    "Fallback-chain switches to the next model, by stage, models and reason.",
                    lines.join("\n"),
                );
            }
        }
        if let Ok(regs) = self.registrations.lock() {
            if !regs.is_empty() {
                let lines: Vec<String> = regs
                    .iter()
                    .map(|(trunk, ok)| {
                        format!("voicera_trunk_registered{{trunk=\"{}\"}} {}", label_value(trunk), *ok as u8)
                    })
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

/// A label value in the text exposition format: backslash, double quote and line feed escaped, so a name from
/// the configuration cannot break or forge a metric line.
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
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
        assert_eq!(m.registrations(), [("vobiz".to_string(), true)]);
        m.observe_turn_latency(250);
        m.observe_turn_latency(900);
        let text = m.render();
        assert!(text.contains("voicera_calls_active 0"));
        assert!(text.contains("voicera_calls_total{result=\"completed\"} 1"));
        assert!(text.contains("voicera_rtp_packets_received_total 5"));
        assert!(text.contains("voicera_trunk_registered{trunk=\"vobiz\"} 1"));
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert!(text.contains("voicera_turn_latency_seconds_bucket{le=\"0.3\"} 1"), "{text}");
        assert!(text.contains("voicera_turn_latency_seconds_bucket{le=\"1\"} 2"));
        assert!(text.contains("voicera_turn_latency_seconds_count 2"));
        assert!(text.contains("voicera_turn_latency_seconds_sum 1.15"));
        m.observe_stages(Some(120), None, Some(15));
        let text = m.render();
        assert!(text.contains("voicera_stt_final_seconds_bucket{le=\"0.2\"} 1"), "{text}");
        assert!(text.contains("voicera_llm_first_token_seconds_count 0"));
        assert!(text.contains("voicera_tts_first_audio_seconds_sum 0.015"));
        assert!(text.contains("# TYPE voicera_tts_first_audio_seconds histogram"));
    }
}
