//! Cutting a byte stream (TCP) into SIP messages (RFC 3261 §18.3): each message ends after Content-Length body
//! bytes; CRLF keep-alives between messages are skipped. Handles several messages per read and partial reads.

use crate::message::MAX_MESSAGE_BYTES;

/// What the framer found wrong with a stream; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The header section grew past the message limit without ending.
    #[error("header section exceeds {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    /// A message without a Content-Length: on a stream its end cannot be found.
    #[error("message on a stream transport without a valid Content-Length")]
    MissingContentLength,
    /// Content-Length values that disagree: where the message ends is ambiguous (a smuggling attempt).
    #[error("message on a stream transport with conflicting Content-Length values")]
    ConflictingContentLength,
}

/// Accumulates stream bytes and yields complete messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buffer: Vec<u8>,
}

impl StreamFramer {
    /// A framer with nothing buffered, for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the next complete message, if one is buffered.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let skip = self.buffer.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
        self.buffer.drain(..skip);
        let Some((head_end, body_start)) = header_end(&self.buffer) else {
            if self.buffer.len() > MAX_MESSAGE_BYTES {
                return Err(FramingError::TooLarge);
            }
            return Ok(None);
        };
        let content_length = content_length(&self.buffer[..head_end])?;
        // A hostile Content-Length (up to usize::MAX) must not overflow the sum.
        let total = body_start.checked_add(content_length).filter(|t| *t <= MAX_MESSAGE_BYTES);
        let Some(total) = total else {
            return Err(FramingError::TooLarge);
        };
        if self.buffer.len() < total {
            return Ok(None);
        }
        let rest = self.buffer.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buffer, rest)))
    }
}

/// End of the header section: (header length, body offset). CRLF CRLF as RFC 3261 requires, or LF LF from
/// lenient peers.
fn header_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, p + 4));
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|p| (p, p + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The message's length on the stream. Values that disagree make the message boundary ambiguous (request
/// smuggling), so the stream is given up; agreeing repeats frame fine and the message parser refuses them (400).
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let head = std::str::from_utf8(head).map_err(|_| FramingError::MissingContentLength)?;
    let mut found: Option<usize> = None;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if !(name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l")) {
            continue;
        }
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FramingError::MissingContentLength);
        }
        let length = value.parse().unwrap_or(usize::MAX);
        match found {
            Some(previous) if previous != length => return Err(FramingError::ConflictingContentLength),
            _ => found = Some(length),
        }
    }
    found.ok_or(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn splits_back_to_back_messages_and_partial_reads() {
        let mut framer = StreamFramer::new();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(MSG);
        let (a, b) = stream.split_at(20);
        framer.push(a);
        assert_eq!(framer.next_message(), Ok(None));
        framer.push(b);
        assert_eq!(framer.next_message().unwrap().unwrap(), MSG);
        assert_eq!(framer.next_message().unwrap().unwrap(), MSG);
        assert_eq!(framer.next_message(), Ok(None));
    }

    #[test]
    fn huge_content_length_is_too_large_not_an_overflow() {
        // Found by the sip_stream fuzzer: `l: 18446744073709551615` (usize::MAX).
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 18446744073709551615\r\n\r\n");
        assert!(matches!(framer.next_message(), Err(FramingError::TooLarge)));
    }

    #[test]
    fn missing_content_length_is_an_error() {
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(framer.next_message(), Err(FramingError::MissingContentLength));
    }

    #[test]
    fn negative_or_conflicting_content_length_gives_up_the_stream_but_agreeing_repeats_frame() {
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n");
        assert_eq!(framer.next_message(), Err(FramingError::MissingContentLength));
        let mut framer = StreamFramer::new();
        framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 3\r\n\r\nabc");
        assert_eq!(framer.next_message(), Err(FramingError::ConflictingContentLength));
        let mut framer = StreamFramer::new();
        let repeated = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nl: 3\r\n\r\nabc";
        framer.push(repeated);
        assert_eq!(framer.next_message().unwrap().unwrap(), repeated);
    }

    #[test]
    fn endless_headers_are_cut_off() {
        let mut framer = StreamFramer::new();
        framer.push(&vec![b'a'; MAX_MESSAGE_BYTES + 1]);
        assert_eq!(framer.next_message(), Err(FramingError::TooLarge));
    }
}
