//! SIP for VoiceERA-rs.
//!
//! Layers, bottom up, each in its own module:
//! - [`message`], [`header`], [`uri`]: parsing and printing (RFC 3261 §7, §19, §20); never panics on input.
//! - [`check`]: what a UAS refuses before reading a request's meaning (416, 415), as a pure function.
//! - [`framing`]: cutting TCP streams into messages.
//! - [`transaction`]: the four RFC 3261 §17 state machines, sans-IO, time passed in.
//! - [`endpoint`]: the transaction layer of a node (matching, retransmission absorption, Via routing).
//! - [`dialog`]: dialog state and in-dialog request construction.
//! - [`auth`]: HTTP Digest (MD5, SHA-256, qop=auth) for clients, and a server verifier with a nonce cache,
//!   replay, URI and realm checks and per-source back-off.
//! - [`source`]: bounded per-source state (IPv4 address or IPv6 /64) for limits and back-off.
//! - [`rate_limit`]: per-source token buckets for new INVITE/REGISTER/OPTIONS (503 + Retry-After or drop).
//! - [`registration`]: the REGISTER client machine for trunks.
//! - [`sdp`]: session descriptions.
//! - [`transport`]: the thin tokio driver (UDP, TCP and TLS sockets, connection limits).
//! - [`tls`]: TLS server and client configuration (certificates, trusted roots).
//! - [`resolve`]: finding a trunk's addresses (RFC 3263 NAPTR, SRV, A/AAAA) off the signalling task.
//!
//! Call logic (what to answer, media) lives in `voicera-telephony` (the user agent), which drives these layers.

#![forbid(unsafe_code)]

pub mod auth;
pub mod check;
pub mod dialog;
pub mod endpoint;
pub mod framing;
pub mod header;
pub mod message;
pub mod rate_limit;
pub mod registration;
pub mod resolve;
pub mod sdp;
pub mod source;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod uri;

pub use endpoint::{ClientKey, Endpoint, EndpointEvent, Peer, ServerKey, Transmit, TransportKind};
pub use message::{Headers, Message, Method, ParseError, Request, Response};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A challenge could not be answered.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// A session description did not parse.
    #[error(transparent)]
    Sdp(#[from] sdp::SdpError),
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
