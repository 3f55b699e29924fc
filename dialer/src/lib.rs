//! The campaign dialer's foundation (issue 21), with no I/O of its own:
//!
//! - [`contacts`]: a CSV contact list read into E.164 numbers and per-contact `{{variables}}`, with every bad,
//!   duplicate or do-not-call row reported by line number.
//! - [`phone`]: E.164 normalisation with a default country.
//! - [`schedule`]: calling windows (daily windows, days of week, a fixed UTC offset).
//! - [`campaign`]: the per-campaign state machine: pacing, retries, windows, pause/resume/stop, driven by
//!   [`campaign::Campaign::poll`] and [`campaign::Campaign::on_outcome`] with the time passed in.
//! - [`config`]: campaign settings as the API takes and the store keeps them, each fault named by field.
//! - [`lease`]: per-contact leases, so several nodes can share a campaign without dialling anyone twice.
//! - [`slots`]: live-call slots, so a campaign's live-call limit holds across nodes, and when a node must hang
//!   up a call whose lease it can no longer renew.
//! - [`pacing`]: the campaign-wide call rate, so `calls_per_second` holds across nodes.
//! - [`dials`]: calls placed through a provider's REST API, shared so that any node can serve their
//!   webhooks and stream while the placing node follows them.
//! - [`dial_watch`]: how the node serving a dialled call and the node that placed it watch each other through
//!   the dial (the serving node hangs up when the placing node is gone; the placing node gives up on a call
//!   whose serving node stopped beating), and how often the placing node reads it.
//!
//! Time everywhere is Unix milliseconds ([`UnixMillis`]); no function reads a clock.

pub mod campaign;
pub mod config;
pub mod contacts;
pub mod dial_watch;
pub mod dials;
pub mod error;
pub mod lease;
pub mod pacing;
pub mod phone;
pub mod schedule;
pub mod slots;

/// A point in time: milliseconds since 1970-01-01T00:00:00Z. Passed in by the driver, never read from a clock.
pub type UnixMillis = i64;

pub use error::DialerError;
