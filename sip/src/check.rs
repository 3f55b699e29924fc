//! What a UAS must refuse before looking at a request's meaning (RFC 3261 §8.2.2.1 and §8.2.3), as a pure
//! function so that the user agent answers with the RFC's status and the headers that tell the client how to
//! retry:
//! - a Request-URI scheme other than `sip`, `sips` or `tel` → 416 Unsupported URI Scheme;
//! - a body in a `Content-Encoding` other than `identity` → 415 with `Accept-Encoding: identity`;
//! - an INVITE or UPDATE body that is not `application/sdp` (or has no Content-Type) → 415 with
//!   `Accept: application/sdp`.
//!
//! Checks happen in the RFC's order (URI before content). ACK is never answered, so it always passes.

use crate::message::{split_list, Method, Request, Response};

/// URI schemes a Request-URI may use here. `tel` is understood even though routing may still refuse it.
pub const SUPPORTED_SCHEMES: [&str; 3] = ["sip", "sips", "tel"];
/// The only session description format we accept.
pub const ACCEPTED_BODY: &str = "application/sdp";

/// A refusal: status, reason phrase and the headers RFC 3261 asks for with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code to answer with.
    pub status: u16,
    /// The reason phrase that goes with the status.
    pub reason: &'static str,
    /// Headers the RFC requires with this status (`Unsupported`, `Accept`, `Allow`, ...).
    pub headers: Vec<(&'static str, String)>,
}

impl Rejection {
    /// The response to `request` (the caller adds a To tag).
    pub fn response(&self, request: &Request) -> Response {
        let mut response = Response::for_request(request, self.status, self.reason);
        for (name, value) in &self.headers {
            response.headers.push(*name, value.clone());
        }
        response
    }
}

/// Checks the Request-URI scheme and the body's encoding and type: [`check_request_uri`] then [`check_body`].
/// A user agent that also answers 420 for `Require` calls the two separately, the URI check before and the body
/// check after its 420 (the order of RFC 3261 §8.2).
pub fn check_request(request: &Request) -> Result<(), Rejection> {
    check_request_uri(request)?;
    check_body(request)
}

/// 416 for a Request-URI scheme other than `sip`, `sips` or `tel` (RFC 3261 §8.2.2.1).
pub fn check_request_uri(request: &Request) -> Result<(), Rejection> {
    if request.method == Method::Ack {
        return Ok(());
    }
    let scheme = request.uri.trim().split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
    if !SUPPORTED_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(Rejection { status: 416, reason: "Unsupported URI Scheme", headers: Vec::new() });
    }
    Ok(())
}

/// 415 for a `Content-Encoding` other than `identity`, or an INVITE/UPDATE body that is not SDP
/// (RFC 3261 §8.2.3).
pub fn check_body(request: &Request) -> Result<(), Rejection> {
    if request.method == Method::Ack {
        return Ok(());
    }
    let encodings = request.headers.get_all("Content-Encoding").flat_map(split_list);
    if encodings.into_iter().any(|coding| !coding.eq_ignore_ascii_case("identity")) {
        return Err(Rejection {
            status: 415,
            reason: "Unsupported Media Type",
            headers: vec![("Accept-Encoding", "identity".to_string())],
        });
    }
    let carries_session = matches!(request.method, Method::Invite | Method::Update);
    if carries_session && !request.body.is_empty() {
        let media_type = request.headers.get("Content-Type").map(|ct| ct.split(';').next().unwrap_or("").trim());
        if !media_type.is_some_and(|t| t.eq_ignore_ascii_case(ACCEPTED_BODY)) {
            return Err(Rejection {
                status: 415,
                reason: "Unsupported Media Type",
                headers: vec![("Accept", ACCEPTED_BODY.to_string())],
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn request(start: &str, extra: &str, body: &str) -> Request {
        let text = format!(
            "{start} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n\
             Call-ID: c\r\nCSeq: 1 {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            start.split(' ').next().unwrap_or_default(),
            body.len()
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const SDP: &str = "v=0\r\n";

    #[test]
    fn sip_sips_and_tel_pass_other_schemes_get_416() {
        for uri in ["sip:echo@h", "SIPS:echo@h", "tel:+15551234"] {
            assert_eq!(check_request(&request(&format!("OPTIONS {uri}"), "", "")), Ok(()), "{uri}");
        }
        for uri in ["http://evil/", "mailto:a@b", "urn:service:sos"] {
            let rejection = check_request(&request(&format!("OPTIONS {uri}"), "", "")).unwrap_err();
            assert_eq!((rejection.status, rejection.reason), (416, "Unsupported URI Scheme"), "{uri}");
        }
    }

    #[test]
    fn unknown_content_encoding_gets_415_with_accept_encoding() {
        let gzip = request("OPTIONS sip:echo@h", "Content-Encoding: gzip\r\n", "");
        let rejection = check_request(&gzip).unwrap_err();
        assert_eq!(rejection.status, 415);
        let response = rejection.response(&gzip);
        assert_eq!(response.headers.get("Accept-Encoding"), Some("identity"));
        assert_eq!(response.call_id(), "c");
        let compact = request("INVITE sip:echo@h", "e: identity, deflate\r\nContent-Type: application/sdp\r\n", SDP);
        assert_eq!(check_request(&compact).map_err(|r| r.status), Err(415));
        let identity = request("INVITE sip:echo@h", "Content-Encoding: Identity\r\nc: application/sdp\r\n", SDP);
        assert_eq!(check_request(&identity), Ok(()));
    }

    #[test]
    fn invite_bodies_must_be_sdp() {
        let ok = request("INVITE sip:echo@h", "Content-Type: Application/SDP; charset=utf-8\r\n", SDP);
        assert_eq!(check_request(&ok), Ok(()));
        for extra in ["Content-Type: text/plain\r\n", "Content-Type: multipart/mixed;boundary=x\r\n", ""] {
            let rejection = check_request(&request("INVITE sip:echo@h", extra, SDP)).unwrap_err();
            assert_eq!(rejection.status, 415, "{extra:?}");
            assert_eq!(rejection.headers, vec![("Accept", "application/sdp".to_string())]);
        }
        // No body (late offer) is not a media type question; INFO bodies are the user agent's business.
        assert_eq!(check_request(&request("INVITE sip:echo@h", "", "")), Ok(()));
        let info = request("INFO sip:echo@h", "Content-Type: application/dtmf-relay\r\n", "Signal=5\r\n");
        assert_eq!(check_request(&info), Ok(()));
    }

    #[test]
    fn the_uri_is_checked_before_the_body() {
        let both = request("OPTIONS http://x", "Content-Encoding: gzip\r\n", "");
        assert_eq!(check_request(&both).map_err(|r| r.status), Err(416));
        assert_eq!(check_body(&both).map_err(|r| r.status), Err(415));
        assert_eq!(check_request_uri(&request("OPTIONS sip:x@h", "Content-Encoding: gzip\r\n", "")), Ok(()));
    }

    #[test]
    fn ack_always_passes() {
        assert_eq!(check_request(&request("ACK http://x", "Content-Encoding: gzip\r\n", "")), Ok(()));
    }
}
