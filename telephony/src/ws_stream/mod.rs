//! Calls that arrive over WebSockets instead of SIP/RTP: provider media streams (Vobiz, Plivo, Twilio, Exotel)
//! and the browser test socket. The wire protocols ([`protocol`]), webhook signatures and stream tokens
//! ([`signature`]), the sans-IO stream session that feeds the conversation engine ([`session`]), and the
//! HTTP/WebSocket endpoints ([`http`], which also answers the browser's WebRTC offers and hands them to
//! [`crate::webrtc`]), and the calls this node placed through a provider's REST API and follows
//! ([`dialled`]). The providers' REST APIs are `voicera-carrier-rest`'s.

pub mod dialled;
pub mod http;
pub mod protocol;
pub mod session;
pub mod signature;

pub use dialled::{follow, DialEvent, DialFuture, DialRegistry, DialledCall, DialledCalls, Followed, DIAL_PARAM};
pub use http::{router, BrowserCall, ProviderAccount, Telephony, TelephonyConfig};
pub use protocol::{AudioFormat, Encoding, Outgoing, Peer, Provider, StreamFormats};
pub use signature::TokenKey;
