//! The transports of VoiceERA-rs: how calls reach the call core and how its actions reach the world. Each
//! transport moves bytes and time into a [`CallCore`](voicera_conversation::core::CallCore) and carries out
//! its actions its own way; routing is the conversation crate's [`Router`](voicera_conversation::routing::Router),
//! asked the same way by all.
//!
//! | module | owns |
//! |---|---|
//! | [`sip_rtp`] | the node's SIP user agent (signalling task: answers, dialogs, registrations, REFER) and the media workers that tick SIP calls' RTP (`sip_rtp::media`) |
//! | [`ws_stream`] | provider media streams (Vobiz, Plivo, Twilio, Exotel) and the browser socket: webhooks, signatures, stream sessions (the REST clients are `voicera-carrier-rest`'s) |
//! | [`webrtc`] | browser calls over WebRTC (str0m): offer/answer, Opus, data-channel control |
//! | [`outbound`] | outbound calls for agents: through a trunk or a provider's REST API |
//! | [`tools`] | the operator webhooks an agent's tools call, run off the media path for any transport |
//! | [`grid`] | the node's shared 20 ms tick grid every transport paces on |
//! | [`frame_clock`] | the RTP slot of a paced sender's frame on wall time (a missed tick is a gap, not a delay) |

#![forbid(unsafe_code)]

pub mod frame_clock;
pub mod grid;
pub mod outbound;
pub mod sip_rtp;
pub mod tools;
pub mod webrtc;
pub mod ws_stream;
