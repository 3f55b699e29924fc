//! SIP messages (RFC 3261 §7): parsing from bytes and printing back.
//!
//! The parser is strict about structure (start line, header syntax, Content-Length) and lenient about what does
//! not matter for interoperability (LF-only line ends, header folding, compact header names, header-name case).
//! Any input yields either a [`Message`] or a [`ParseError`] naming what is wrong; it never panics.

use std::fmt::{self, Write as _};

use crate::header::{CSeq, Via};
use crate::{Error, Result};

/// Largest message accepted on any transport. Real INVITEs, even with long SDP, stay below 8 KiB; 32 KiB leaves
/// ample room while keeping a hostile peer from making us buffer without limit.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Upper bound on header lines, for the same reason.
pub const MAX_HEADERS: usize = 128;

/// A SIP method. Unknown methods are kept so that the UAS can answer `501 Not Implemented` or `405`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// Starts a session (a call).
    Invite,
    /// Acknowledges the final response to an INVITE.
    Ack,
    /// Ends a session.
    Bye,
    /// Cancels a pending INVITE.
    Cancel,
    /// Asks for capabilities; also a keep-alive probe.
    Options,
    /// Binds an address of record to a contact (RFC 3261 §10).
    Register,
    /// Mid-call information, e.g. DTMF (RFC 6086).
    Info,
    /// Changes session parameters before the call is answered (RFC 3311).
    Update,
    /// Asks the peer to contact a third party: call transfer (RFC 3515).
    Refer,
    /// Reports an event of a subscription, e.g. a transfer's progress (RFC 6665).
    Notify,
    /// Subscribes to events (RFC 6665).
    Subscribe,
    /// An instant message (RFC 3428).
    Message,
    /// Acknowledges a reliable provisional response (RFC 3262).
    Prack,
    /// Publishes event state (RFC 3903).
    Publish,
    /// Any other method token, kept to be answered 405/501.
    Other(String),
}

impl Method {
    /// Parses a method token; anything that is a valid token but not a known method becomes `Other`.
    pub fn parse(token: &str) -> Result<Method> {
        if token.is_empty() || !token.bytes().all(is_token_byte) {
            return Err(Error::Parse(ParseError::BadMethod));
        }
        Ok(match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        })
    }

    /// The method token as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes are not a SIP message. Each variant is specific enough to log and, where a response can still be
/// routed, to put in a `400` reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No bytes, or only line ends (a keep-alive).
    #[error("empty message")]
    Empty,
    /// Larger than the message limit.
    #[error("message larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    /// The header section is not UTF-8.
    #[error("message is not valid UTF-8 in its header section")]
    NotUtf8,
    /// The first line is neither a request line nor a status line.
    #[error("malformed start line")]
    BadStartLine,
    /// Not SIP/2.0.
    #[error("unsupported SIP version")]
    BadVersion,
    /// The method is not a token.
    #[error("malformed method")]
    BadMethod,
    /// The status code is not three digits from 100 to 699.
    #[error("malformed status code")]
    BadStatus,
    /// The header line at this (1-based) number has no name and colon.
    #[error("malformed header line {0}")]
    BadHeader(usize),
    /// More header lines than the limit.
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// The header section does not end with a blank line.
    #[error("no blank line after the headers")]
    UnterminatedHeaders,
    /// Content-Length is not a number.
    #[error("malformed Content-Length")]
    BadContentLength,
    /// Content-Length appears more than once (even with the same value).
    #[error("Content-Length given more than once")]
    DuplicateContentLength,
    /// Content-Length values disagree.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// The body is shorter than Content-Length says (a truncated datagram).
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    BodyTruncated {
        /// Bytes Content-Length declares.
        declared: usize,
        /// Bytes actually received.
        available: usize,
    },
    /// A header every request needs is absent (its name).
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A header's value does not parse (its name).
    #[error("malformed {0} header")]
    BadHeaderValue(&'static str),
    /// The CSeq names another method than the request line.
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMethodMismatch {
        /// The request line's method.
        method: String,
        /// The CSeq header's method.
        cseq: String,
    },
    /// The Request-URI is not a SIP URI.
    #[error("malformed SIP URI")]
    BadUri,
}

/// Header list in arrival order. Names are stored in their canonical long form (`v` becomes `Via`), so lookups
/// are by long name, case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of `name`, in order (one per header line; comma lists are not split here).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Appends a header line as given; use the long name, which lookups go by.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every `name` line with one line holding `value` (at the position of the first, else at the end).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.entries.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(pos) => {
                self.entries[pos].1 = value;
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    let keep = index <= pos || !n.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// Removes every `name` line.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Every line as (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Mutable access to the first value of `name`.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut String> {
        self.entries.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The CSeq header, typed.
    pub fn cseq(&self) -> std::result::Result<CSeq, ParseError> {
        let raw = self.get("CSeq").ok_or(ParseError::MissingHeader("CSeq"))?;
        CSeq::parse(raw).ok_or(ParseError::BadHeaderValue("CSeq"))
    }

    /// The first value of the first Via line, typed.
    pub fn top_via(&self) -> std::result::Result<Via, ParseError> {
        let first_line = self.get("Via").ok_or(ParseError::MissingHeader("Via"))?;
        let first = split_list(first_line).into_iter().next().ok_or(ParseError::BadHeaderValue("Via"))?;
        Via::parse(first).ok_or(ParseError::BadHeaderValue("Via"))
    }

    /// Call-ID, empty when absent (validation reports absence).
    pub fn call_id(&self) -> &str {
        self.get("Call-ID").unwrap_or_default()
    }

    /// Number of comma-separated values across all lines of a list header such as Via.
    pub fn count_list(&self, name: &str) -> usize {
        self.get_all(name).map(|v| split_list(v).len()).sum()
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request line's method; it decides which transaction machine handles the request.
    pub method: Method,
    /// The Request-URI as received; parse it with [`crate::uri::SipUri::parse`].
    pub uri: String,
    /// Header lines in arrival order (see [`Headers`]).
    pub headers: Headers,
    /// The body (usually SDP), exactly Content-Length bytes.
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (100–699).
    pub status: u16,
    /// The reason phrase, for people.
    pub reason: String,
    /// Header lines in arrival order (see [`Headers`]).
    pub headers: Headers,
    /// The body (usually SDP), exactly Content-Length bytes.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request (it has a request line).
    Request(Request),
    /// A response (it has a status line).
    Response(Response),
}

impl Message {
    /// The header lines of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Parses one message from a datagram or a frame cut by [`crate::framing::StreamFramer`].
    ///
    /// Content-Length rules (RFC 3261 §18.3): when absent the body is the rest of the bytes (datagrams only;
    /// the framer always supplies it on streams); when larger than what arrived the message is rejected; when
    /// smaller, the surplus is ignored.
    ///
    /// A malformed (e.g. negative), repeated or conflicting Content-Length makes the body's extent unknowable:
    /// [`ParseError::BadContentLength`], [`ParseError::DuplicateContentLength`] and
    /// [`ParseError::ConflictingContentLength`] (the endpoint answers these with 400 where it can, reading the
    /// message with [`Message::parse_ignoring_content_length`] only to address the answer).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Message, ParseError> {
        Self::parse_with(bytes, true)
    }

    /// Parses as a datagram whose body is everything after the headers, whatever Content-Length says. Only for
    /// addressing the 400 that answers a message [`Message::parse`] refused for its Content-Length.
    pub fn parse_ignoring_content_length(bytes: &[u8]) -> std::result::Result<Message, ParseError> {
        Self::parse_with(bytes, false)
    }

    fn parse_with(bytes: &[u8], use_content_length: bool) -> std::result::Result<Message, ParseError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::TooLarge);
        }
        // RFC 3261 §7.5: CRLFs before the start line are ignored (keep-alives).
        let start = bytes.iter().position(|b| *b != b'\r' && *b != b'\n').ok_or(ParseError::Empty)?;
        let bytes = &bytes[start..];
        let (head_len, body_start) = find_header_end(bytes).ok_or(ParseError::UnterminatedHeaders)?;
        let head = std::str::from_utf8(&bytes[..head_len]).map_err(|_| ParseError::NotUtf8)?;
        let mut lines = unfold_lines(head);
        let start_line = lines.next().ok_or(ParseError::BadStartLine)?;
        let mut headers = Headers::new();
        for (index, line) in lines.enumerate() {
            if headers.entries.len() >= MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            let (name, value) = line.split_once(':').ok_or(ParseError::BadHeader(index + 1))?;
            let name = name.trim_end_matches([' ', '\t']);
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(ParseError::BadHeader(index + 1));
            }
            headers.push(canonical_name(name), value.trim_matches([' ', '\t']).to_string());
        }
        let available = bytes.len() - body_start;
        let body_len = match use_content_length {
            true => match declared_content_length(&headers)? {
                Some(declared) if declared > available => {
                    return Err(ParseError::BodyTruncated { declared, available });
                }
                Some(declared) => declared,
                None => available,
            },
            false => available,
        };
        let body = bytes[body_start..body_start + body_len].to_vec();
        parse_start_line(&start_line, headers, body)
    }

    /// Prints the message, setting Content-Length to the body's length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        let (headers, body) = match self {
            Message::Request(r) => {
                let _ = write!(out, "{} {} SIP/2.0\r\n", r.method, r.uri);
                (&r.headers, &r.body)
            }
            Message::Response(r) => {
                let _ = write!(out, "SIP/2.0 {} {}\r\n", r.status, r.reason);
                (&r.headers, &r.body)
            }
        };
        for (name, value) in headers.iter() {
            if name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

impl Request {
    /// Checks what every request must carry (RFC 3261 §8.1.1) and that CSeq names this method.
    pub fn validate(&self) -> std::result::Result<(), ParseError> {
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if self.headers.get(name).is_none() {
                return Err(ParseError::MissingHeader(name));
            }
        }
        // Max-Forwards is mandatory for requests, but RFC 3261 §16.6 lets a UAS live without it; we tolerate
        // its absence (older UAs omit it) and reject only malformed values.
        if let Some(mf) = self.headers.get("Max-Forwards") {
            mf.trim().parse::<u8>().map_err(|_| ParseError::BadHeaderValue("Max-Forwards"))?;
        }
        let cseq = self.cseq()?;
        let method_matches = cseq.method == self.method;
        if !method_matches {
            return Err(ParseError::CSeqMethodMismatch {
                method: self.method.to_string(),
                cseq: cseq.method.to_string(),
            });
        }
        self.top_via()?;
        Ok(())
    }

    /// The parsed CSeq header (checked present when the request was parsed).
    pub fn cseq(&self) -> std::result::Result<CSeq, ParseError> {
        self.headers.cseq()
    }

    /// The parsed top Via (the one whose branch keys the transaction).
    pub fn top_via(&self) -> std::result::Result<Via, ParseError> {
        self.headers.top_via()
    }

    /// The Call-ID header (empty if absent).
    pub fn call_id(&self) -> &str {
        self.headers.call_id()
    }

    /// Max-Forwards, if present and valid.
    pub fn max_forwards(&self) -> Option<u8> {
        self.headers.get("Max-Forwards").and_then(|v| v.trim().parse().ok())
    }

    /// Wraps the request as a [`Message`].
    pub fn into_message(self) -> Message {
        Message::Request(self)
    }
}

impl Response {
    /// A response to `request` with the headers RFC 3261 §8.2.6 says to copy (Via, From, To, Call-ID, CSeq).
    /// The To tag, if the UAS adds one, is set by the caller.
    pub fn for_request(request: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::new();
        for (name, value) in request.headers.iter() {
            if ["Via", "From", "To", "Call-ID", "CSeq"].iter().any(|n| n.eq_ignore_ascii_case(name)) {
                headers.push(name, value);
            }
        }
        Response { status, reason: reason.to_string(), headers, body: Vec::new() }
    }

    /// The parsed CSeq header, which names the request it answers.
    pub fn cseq(&self) -> std::result::Result<CSeq, ParseError> {
        self.headers.cseq()
    }

    /// The parsed top Via (ours, when we sent the request).
    pub fn top_via(&self) -> std::result::Result<Via, ParseError> {
        self.headers.top_via()
    }

    /// The Call-ID header (empty if absent).
    pub fn call_id(&self) -> &str {
        self.headers.call_id()
    }

    /// Provisional (1xx).
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// Wraps the response as a [`Message`].
    pub fn into_message(self) -> Message {
        Message::Response(self)
    }

    /// Sets the To tag unless one is already there.
    pub fn ensure_to_tag(&mut self, tag: &str) {
        if let Some(to) = self.headers.get_mut("To") {
            if !to.to_ascii_lowercase().contains(";tag=") {
                to.push_str(";tag=");
                to.push_str(tag);
            }
        }
    }
}

/// The one Content-Length of a message, if any. RFC 3261 §20.14 allows one value of 1*DIGIT; a second line is
/// an error even when it agrees (it is how request smuggling starts), and a different one doubly so.
fn declared_content_length(headers: &Headers) -> std::result::Result<Option<usize>, ParseError> {
    let mut values = headers.get_all("Content-Length").map(str::trim);
    let Some(first) = values.next() else { return Ok(None) };
    let parse = |v: &str| -> std::result::Result<usize, ParseError> {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadContentLength);
        }
        // All digits: only overflow fails, and a length beyond usize is larger than any body.
        Ok(v.parse().unwrap_or(usize::MAX))
    };
    let declared = parse(first)?;
    let mut duplicate = false;
    for other in values {
        if parse(other)? != declared {
            return Err(ParseError::ConflictingContentLength);
        }
        duplicate = true;
    }
    if duplicate {
        return Err(ParseError::DuplicateContentLength);
    }
    Ok(Some(declared))
}

fn parse_start_line(line: &str, headers: Headers, body: Vec<u8>) -> std::result::Result<Message, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let (version, rest) = rest.split_once(' ').ok_or(ParseError::BadStartLine)?;
        if version != "2.0" {
            return Err(ParseError::BadVersion);
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 {
            return Err(ParseError::BadStatus);
        }
        let status: u16 = code.parse().map_err(|_| ParseError::BadStatus)?;
        if !(100..700).contains(&status) {
            return Err(ParseError::BadStatus);
        }
        return Ok(Message::Response(Response { status, reason: reason.to_string(), headers, body }));
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine);
    };
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(if version.starts_with("SIP/") { ParseError::BadVersion } else { ParseError::BadStartLine });
    }
    let method = Method::parse(method).map_err(|_| ParseError::BadMethod)?;
    if uri.is_empty() || !uri.contains(':') {
        return Err(ParseError::BadUri);
    }
    Ok(Message::Request(Request { method, uri: uri.to_string(), headers, body }))
}

/// Finds the end of the header section: returns (length of the header text, offset of the body).
fn find_header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let next = bytes.get(i + 1).copied();
            if next == Some(b'\n') {
                return Some((i, i + 2));
            }
            if next == Some(b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Splits the header section into logical lines, joining folded continuation lines (RFC 3261 §7.3.1).
fn unfold_lines(head: &str) -> impl Iterator<Item = String> + '_ {
    let mut raw = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
    std::iter::from_fn(move || {
        let mut line = raw.next()?.to_string();
        while let Some(next) = raw.peek() {
            if next.starts_with([' ', '\t']) {
                line.push(' ');
                line.push_str(next.trim_start_matches([' ', '\t']));
                raw.next();
            } else {
                break;
            }
        }
        Some(line)
    })
}

/// Canonical long form of a header name; compact forms (RFC 3261 §7.3.3 and extensions) are expanded.
pub fn canonical_name(name: &str) -> String {
    let long = match name.to_ascii_lowercase().as_str() {
        "v" | "via" => "Via",
        "f" | "from" => "From",
        "t" | "to" => "To",
        "i" | "call-id" => "Call-ID",
        "m" | "contact" => "Contact",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "e" | "content-encoding" => "Content-Encoding",
        "s" | "subject" => "Subject",
        "k" | "supported" => "Supported",
        "o" | "event" => "Event",
        "r" | "refer-to" => "Refer-To",
        "b" | "referred-by" => "Referred-By",
        "u" | "allow-events" => "Allow-Events",
        "x" | "session-expires" => "Session-Expires",
        "cseq" => "CSeq",
        "max-forwards" => "Max-Forwards",
        "require" => "Require",
        "proxy-require" => "Proxy-Require",
        "www-authenticate" => "WWW-Authenticate",
        "proxy-authenticate" => "Proxy-Authenticate",
        "authorization" => "Authorization",
        "proxy-authorization" => "Proxy-Authorization",
        "record-route" => "Record-Route",
        "route" => "Route",
        "expires" => "Expires",
        "user-agent" => "User-Agent",
        "allow" => "Allow",
        "min-se" => "Min-SE",
        _ => return name.to_string(),
    };
    long.to_string()
}

/// RFC 3261 token characters.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Splits a comma-separated header value, ignoring commas inside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped, mut start) = (false, false, false, 0);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:echo@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:echo@127.0.0.1>\r\n\
        From: \"Alice\" <sip:alice@10.0.0.1>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@10.0.0.1\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:alice@10.0.0.1>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_a_request_and_prints_it_back() {
        let Message::Request(req) = Message::parse(INVITE.as_bytes()).unwrap() else { panic!("not a request") };
        assert_eq!(req.method, Method::Invite);
        assert_eq!(req.uri, "sip:echo@127.0.0.1");
        assert_eq!(req.body, b"v=0\n");
        req.validate().unwrap();
        let again = Message::parse(&Message::Request(req.clone()).to_bytes()).unwrap();
        assert_eq!(again, Message::Request(req));
    }

    #[test]
    fn compact_names_and_folding_are_understood() {
        let text = "OPTIONS sip:x@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@h>;tag=1\r\n\
                    t: <sip:x@h>\r\ni: abc\r\nCSeq: 1\r\n  OPTIONS\r\nl: 0\r\n\r\n";
        let Message::Request(req) = Message::parse(text.as_bytes()).unwrap() else { panic!() };
        assert_eq!(req.call_id(), "abc");
        assert_eq!(req.cseq().unwrap().seq, 1);
        req.validate().unwrap();
    }

    #[test]
    fn content_length_larger_than_body_is_rejected() {
        let text = INVITE.replace("Content-Length: 4", "Content-Length: 400");
        assert_eq!(Message::parse(text.as_bytes()), Err(ParseError::BodyTruncated { declared: 400, available: 4 }));
    }

    #[test]
    fn negative_repeated_and_conflicting_content_lengths_are_errors() {
        let with = |lines: &str| INVITE.replace("Content-Length: 4\r\n", lines);
        assert_eq!(Message::parse(with("Content-Length: -5\r\n").as_bytes()), Err(ParseError::BadContentLength));
        assert_eq!(Message::parse(with("Content-Length: +4\r\n").as_bytes()), Err(ParseError::BadContentLength));
        assert_eq!(
            Message::parse(with("Content-Length: 4\r\nl: 4\r\n").as_bytes()),
            Err(ParseError::DuplicateContentLength)
        );
        assert_eq!(
            Message::parse(with("Content-Length: 4\r\nContent-Length: 0\r\n").as_bytes()),
            Err(ParseError::ConflictingContentLength)
        );
        // An absurd but well-formed length is just larger than the body (discarded on UDP, RFC 3261 §18.3).
        assert!(matches!(
            Message::parse(with("Content-Length: 99999999999999999999\r\n").as_bytes()),
            Err(ParseError::BodyTruncated { .. })
        ));
        // Read for addressing only: the body is what follows the headers.
        let Ok(Message::Request(req)) =
            Message::parse_ignoring_content_length(with("Content-Length: -5\r\n").as_bytes())
        else {
            panic!("not a request")
        };
        assert_eq!(req.body, b"v=0\n");
    }

    #[test]
    fn cseq_method_mismatch_is_reported() {
        let text = INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE");
        let Message::Request(req) = Message::parse(text.as_bytes()).unwrap() else { panic!() };
        assert!(matches!(req.validate(), Err(ParseError::CSeqMethodMismatch { .. })));
    }

    #[test]
    fn responses_parse() {
        let text = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let Message::Response(resp) = Message::parse(text.as_bytes()).unwrap() else { panic!() };
        assert_eq!(resp.status, 180);
        assert_eq!(resp.reason, "Ringing");
    }

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        assert_eq!(split_list(r#""a,b" <sip:x@y;p=1,2>, <sip:z>"#), vec![r#""a,b" <sip:x@y;p=1,2>"#, "<sip:z>"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            if let Ok(Message::Request(req)) = Message::parse(&bytes) {
                let _ = req.validate();
            }
        }

        #[test]
        fn mutated_invites_never_panic(pos in 0usize..400, byte in proptest::num::u8::ANY) {
            let mut bytes = INVITE.as_bytes().to_vec();
            let pos = pos % bytes.len();
            bytes[pos] = byte;
            if let Ok(Message::Request(req)) = Message::parse(&bytes) {
                let _ = req.validate();
                let _ = crate::uri::SipUri::parse(&req.uri);
            }
        }
    }
}
