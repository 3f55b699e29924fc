//! Real-time media for VoiceERA-rs: everything inside one call, and the SIP/RTP call service.
//!
//! | module | owns |
//! |---|---|
//! | [`rtp`] | RTP/RTCP packets, sequence extension, reception statistics, RFC 4733 events |
//! | [`codec`] | G.711, G.722, Opus, L16 behind the [`codec::Codec`] trait |
//! | [`dsp`] | polyphase resampling, levels |
//! | [`jitter`] | adaptive jitter buffer |
//! | [`egress`] | bounded outgoing PCM queue with flush (barge-in) |
//! | [`srtp`] | SRTP/SRTCP keyed by SDES (AES-CM + HMAC-SHA1, AES-GCM), sans-IO, in place |
//! | [`stream`] | one call's RTP stream, sans-IO: receive, play out, conceal, encode, pace |
//! | [`negotiate`] | SDP offer/answer |
//! | [`ports`] | RTP port pool with leases |
//! | [`call`] | a call's media ticked by the media workers (many calls per wake-up), its journal |
//! | [`outbound`] | outbound calls for agents: through a trunk or a provider's REST API |
//! | [`sip_rtp`] | the node's SIP signalling task: answers, routes, registers, hangs up |
//! | [`conversation`] | what an agent is, the turn-taking machine, and the per-call conversation engine (VAD, STT, LLM, TTS, barge-in) |
//! | [`vad`] | voice activity: speech probability models and the start/stop gate |
//! | [`recorder`] | call records (transcript JSON, stereo WAV) and where they are stored |
//! | [`ws_stream`] | provider media streams (Vobiz, Plivo, Twilio, Exotel) and the browser socket: webhooks, signatures, stream sessions, REST |
//! | [`webrtc`] | browser calls over WebRTC (str0m): offer/answer, Opus, data-channel control |
//! | [`tools`] | tool calls that leave the call: transfers and operator webhooks |
//! | [`metrics`] | counters for `/metrics` |

pub mod call;
pub mod codec;
pub mod conversation;
pub mod dsp;
pub mod egress;
pub mod jitter;
pub mod metrics;
pub mod negotiate;
pub mod outbound;
pub mod ports;
pub mod recorder;
pub mod rtp;
mod rtp_socket;
pub mod sip_rtp;
pub mod srtp;
pub mod stream;
#[cfg(test)]
mod test_http;
pub mod tools;
pub mod vad;
pub mod webrtc;
pub mod ws_stream;
