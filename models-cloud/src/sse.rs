//! Server-sent events (the `text/event-stream` of the WHATWG HTML standard), sans-IO: bytes in, the `data`
//! of each complete event out. Handles `\n`, `\r\n` and `\r` line ends, multi-line data, comments and fields
//! we do not use (`event`, `id`, `retry`), and events split across reads at any byte.

/// Longest event we buffer (1 MB): a stream that never ends an event cannot grow memory without bound.
const MAX_EVENT: usize = 1 << 20;

/// Why a stream of server-sent events cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// An event grew past the buffer limit (a server that never ends an event).
    #[error("an event longer than {MAX_EVENT} bytes")]
    TooLong,
    /// An event's bytes are not UTF-8, which the standard requires.
    #[error("an event that is not UTF-8")]
    NotUtf8,
}

/// Splits a `text/event-stream` body into events, fed bytes as they arrive in reads of any size.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    /// The last byte was `\r`: a following `\n` belongs to the same line end.
    after_cr: bool,
}

impl SseParser {
    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr && byte == b'\n' {
                self.after_cr = false;
                continue;
            }
            self.after_cr = byte == b'\r';
            if byte == b'\n' || byte == b'\r' {
                self.end_line(&mut events)?;
            } else {
                if self.line.len() + self.data.len() >= MAX_EVENT {
                    return Err(SseError::TooLong);
                }
                self.line.push(byte);
            }
        }
        Ok(events)
    }

    fn end_line(&mut self, events: &mut Vec<String>) -> Result<(), SseError> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            // A blank line dispatches the event.
            if self.has_data {
                events.push(std::mem::take(&mut self.data));
                self.has_data = false;
            }
            return Ok(());
        }
        let line = String::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = match line.split_once(':') {
            Some(("", _)) => return Ok(()), // a comment
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(value);
            self.has_data = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream =
            b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&stream[..split]).unwrap();
            events.extend(parser.push(&stream[split..]).unwrap());
            assert_eq!(events, ["{\"a\":1}", "line one\nline two", "[DONE]"], "split at {split}");
        }
    }

    #[test]
    fn an_unending_event_is_an_error_not_a_leak() {
        let mut parser = SseParser::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..20 {
            result = parser.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SseError::TooLong));
    }
}
