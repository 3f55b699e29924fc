//! SIP URIs (RFC 3261 §19.1): `sip:user@host:port;params`. Only what routing needs is typed; the rest is kept.

use std::fmt;

use crate::header::{format_host, split_host_port, Params};
use crate::message::ParseError;

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:`: every hop must use TLS.
    pub secure: bool,
    /// Percent-decoded user part, if any.
    pub user: Option<String>,
    /// The host: a DNS name or an IP address literal.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
    /// URI parameters (`transport`, `lr`, ...).
    pub params: Params,
}

impl SipUri {
    /// Parses a SIP URI. Other schemes (`tel:`, `http:`) are [`UriError::UnsupportedScheme`] so a UAS can answer
    /// `416 Unsupported URI Scheme`.
    pub fn parse(text: &str) -> Result<SipUri, UriError> {
        let text = text.trim().trim_start_matches('<').trim_end_matches('>');
        let (scheme, rest) = text.split_once(':').ok_or(UriError::Malformed)?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "sip" => false,
            "sips" => true,
            _ => return Err(UriError::UnsupportedScheme(scheme.to_string())),
        };
        // Headers (`?a=b`) are irrelevant to routing.
        let rest = rest.split('?').next().unwrap_or_default();
        let (userinfo, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (hostport, params) = match hostpart.find(';') {
            Some(i) => (&hostpart[..i], &hostpart[i..]),
            None => (hostpart, ""),
        };
        let (host, port) = split_host_port(hostport).ok_or(UriError::Malformed)?;
        if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:_".contains(&b)) {
            return Err(UriError::Malformed);
        }
        let user = match userinfo {
            Some(info) => {
                let user = info.split(':').next().unwrap_or_default();
                if user.is_empty() {
                    return Err(UriError::Malformed);
                }
                Some(percent_decode(user).ok_or(UriError::Malformed)?)
            }
            None => None,
        };
        Ok(SipUri { secure, user, host, port, params: Params::parse(params) })
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&format_host(&self.host))?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// Why a URI cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The text is not a SIP URI.
    #[error("malformed SIP URI")]
    Malformed,
    /// Another scheme (`tel:`, `http:`, ...).
    #[error("unsupported URI scheme {0:?}")]
    UnsupportedScheme(String),
}

impl From<UriError> for ParseError {
    fn from(_: UriError) -> Self {
        ParseError::BadUri
    }
}

/// `%XX` escapes of a URI part decoded (RFC 3986 §2.1); None for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_host_port_params() {
        let uri = SipUri::parse("sip:%2B918000000001@[::1]:5070;transport=tcp?subject=x").unwrap();
        assert_eq!(uri.user.as_deref(), Some("+918000000001"));
        assert_eq!(uri.host, "::1");
        assert_eq!(uri.port, Some(5070));
        assert_eq!(uri.params.get("transport"), Some("tcp"));
        assert_eq!(uri.to_string(), "sip:+918000000001@[::1]:5070;transport=tcp");
    }

    #[test]
    fn other_schemes_are_named() {
        assert_eq!(SipUri::parse("tel:+1-555"), Err(UriError::UnsupportedScheme("tel".into())));
        assert_eq!(SipUri::parse("sip:@host"), Err(UriError::Malformed));
        assert_eq!(SipUri::parse("sip:a@ho st"), Err(UriError::Malformed));
    }
}
