//! The telephony providers' REST APIs (Vobiz, Plivo, Twilio), in a crate of their own so that the transports,
//! the control-plane API, the `voicera numbers` CLI and the campaign dialer share one client without the
//! control plane pulling in the transports.
//!
//! | module | owns |
//! |---|---|
//! | [`account`] | the providers and an account's credentials |
//! | [`rest`] | the blocking REST client: place, hang up and transfer calls; applications; numbers |
//! | [`status`] | reading a call status callback: still going, or ended and how |
//! | [`document`] | the dial document a transfer fetches, XML escaping |

#![forbid(unsafe_code)]

pub mod account;
pub mod document;
pub mod rest;
pub mod status;
#[cfg(any(test, feature = "test-support"))]
pub mod test_http;

pub use account::{Provider, ProviderAccount};
pub use rest::{CallRequest, PlacedCall, ProviderNumber, ProviderRest, RestError};
pub use status::{read_callback, AnsweredBy, CallEnd, CallProgress, EndKind};
