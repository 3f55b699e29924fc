//! Calls that arrive over WebSockets instead of SIP/RTP: provider media streams (Vobiz, Plivo, Twilio, Exotel)
//! and the browser test socket. The wire protocols ([`protocol`]), webhook signatures and stream tokens
//! ([`signature`]), the sans-IO stream session that feeds the conversation engine ([`session`]), the
//! providers' REST APIs ([`rest`]), and the HTTP/WebSocket endpoints ([`http`], which also answers the
//! browser's WebRTC offers and hands them to [`crate::webrtc`]).

pub mod http;
pub mod protocol;
pub mod rest;
pub mod session;
pub mod signature;

pub use http::{router, BrowserCall, ProviderAccount, Telephony, TelephonyConfig};
pub use protocol::{AudioFormat, Encoding, Outgoing, Peer, Provider};
pub use signature::TokenKey;
