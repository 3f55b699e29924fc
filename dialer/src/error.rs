//! The crate's one error type.

use crate::UnixMillis;

/// What went wrong in the dialer core. Per-row problems in a contact list are not errors (the list loads and
/// reports them, see [`crate::contacts::RowProblem`]); these are the failures that stop an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialerError {
    /// The uploaded file is larger than a contact list may be.
    #[error("the contact list is {size} bytes; at most {limit} bytes are accepted")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The file is UTF-16 (a spreadsheet's "Unicode text" export), not UTF-8.
    #[error("the contact list is UTF-16 text; save it as CSV UTF-8")]
    Utf16,
    /// The file is not UTF-8 (often Windows-1252 or Latin-1 from a spreadsheet).
    #[error("line {line}: byte {byte:#04x} at offset {offset} is not UTF-8; save the file as CSV UTF-8")]
    NotUtf8 {
        /// The line (from 1) holding the bad byte.
        line: usize,
        /// The byte's offset in the file.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The file has no header line.
    #[error("the contact list is empty (it needs a header line with a contact_number column)")]
    Empty,
    /// The header names no phone column.
    #[error("the header has no {wanted:?} column (found: {found})")]
    MissingPhoneColumn {
        /// The column looked for.
        wanted: &'static str,
        /// The header's columns, comma-separated.
        found: String,
    },
    /// Two header columns have the same name (their variables would collide).
    #[error("line 1: column {name:?} appears twice")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// A header column has no name.
    #[error("line 1: column {column} has no name")]
    UnnamedColumn {
        /// The column's position, from 1.
        column: usize,
    },
    /// A quoted field never ends.
    #[error("line {line}: a quoted field is never closed")]
    UnclosedQuote {
        /// The line where the field opens.
        line: usize,
    },
    /// An unknown default country.
    #[error("{0:?} is not a country the dialer knows")]
    UnknownCountry(String),
    /// Campaign settings that cannot work.
    #[error("invalid campaign settings: {0}")]
    Settings(String),
    /// An outcome for a contact the campaign is not dialling.
    #[error("contact {contact} is not being dialled (it is {state})")]
    NotDialing {
        /// The contact.
        contact: usize,
        /// What it is doing instead.
        state: String,
    },
    /// A contact id the campaign does not have.
    #[error("the campaign has no contact {0}")]
    NoSuchContact(usize),
    /// Another node holds the contact's lease.
    #[error("contact is leased by node {holder:?} until {expires_at}")]
    Leased {
        /// The node holding the lease.
        holder: String,
        /// When its lease lapses.
        expires_at: UnixMillis,
    },
    /// The node's lease on the contact was lost (it expired, or another node took it over).
    #[error("node {node:?} no longer holds the lease")]
    LeaseLost {
        /// The node that asked.
        node: String,
    },
    /// A stored contact document that cannot be read.
    #[error("bad contact document: {0}")]
    Document(String),
}
