//! The audio core of VoiceERA-rs: everything between a network packet and a 16 kHz PCM frame, knowing
//! nothing of calls, agents or HTTP. The call core (`voicera-conversation`) hears and speaks through it; the
//! transports (`voicera-telephony`) move its packets.
//!
//! | module | owns |
//! |---|---|
//! | [`rtp`] | RTP/RTCP packets, sequence extension, reception statistics, RFC 4733 events |
//! | [`rtp_socket`] | UDP sockets read in batches (`recvmmsg`) with kernel arrival stamps |
//! | [`codec`] | G.711, G.722, Opus, L16 behind the [`codec::Codec`] trait |
//! | [`dsp`] | polyphase resampling, levels |
//! | [`jitter`] | adaptive jitter buffer |
//! | [`egress`] | bounded outgoing PCM queue with flush (barge-in) |
//! | [`srtp`] | SRTP/SRTCP keyed by SDES (AES-CM + HMAC-SHA1, AES-GCM), sans-IO, in place |
//! | [`srtp`] | SRTP/SRTCP protect and unprotect (RFC 3711 AES-CM + HMAC-SHA1, RFC 7714 AES-GCM), SDES-keyed |
//! | [`stream`] | one call's RTP stream, sans-IO: receive, play out, conceal, encode, pace |
//! | [`negotiate`] | SDP offer/answer |
//! | [`ports`] | RTP port pool with leases |
//! | [`vad`] | voice activity: speech probability models and the start/stop gate |
//! | [`amd`] | answering-machine detection on an answered call's first seconds (greeting rules, beep) |
//! | [`metrics`] | the node's counters for `/metrics` (a leaf every layer above writes to) |

// Unsafe code is denied except in two modules, each with a `// SAFETY:` comment on every block.
#![deny(unsafe_code)]

pub mod amd;
pub mod codec;
// AVX2/FMA intrinsics for the resampler's filter and a float-to-int conversion that vectorises.
#[allow(unsafe_code)]
pub mod dsp;
pub mod egress;
pub mod jitter;
pub mod metrics;
pub mod negotiate;
pub mod ports;
pub mod rtp;
// `recvmmsg` and the kernel's receive stamps through libc: zeroed C structs and reads of the socket addresses
// the kernel filled in.
#[allow(unsafe_code)]
pub mod rtp_socket;
pub mod srtp;
pub mod stream;
pub mod vad;
