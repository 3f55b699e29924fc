//! Calls that arrive as provider media streams (Vobiz, Plivo, Twilio, Exotel) instead of SIP/RTP: the wire
//! protocols ([`protocol`]), webhook signatures and stream tokens ([`signature`]), the sans-IO stream session
//! that feeds the conversation engine ([`session`]), and the HTTP/WebSocket endpoints ([`http`]).

pub mod http;
pub mod protocol;
pub mod rest;
pub mod session;
pub mod signature;

pub use http::{router, BrowserCall, ProviderAccount, Telephony, TelephonyConfig};
pub use protocol::{AudioFormat, Encoding, Outgoing, Peer, Provider};
