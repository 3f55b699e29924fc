//! Typed views of the headers the stack acts on: Via, CSeq and name-addr headers (From, To, Contact, Refer-To).
//! Each parses from the raw header value and prints back; unknown parameters are kept.

use std::fmt;

use crate::message::Method;

/// The RFC 3261 magic cookie that marks a globally unique branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// `;name=value` parameters in order; a flag parameter has no value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// Parses `;a=1;b` (the leading `;` optional).
    pub fn parse(text: &str) -> Params {
        let list = text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().trim_matches('"').to_string())),
                None => (p.to_string(), None),
            })
            .collect();
        Params(list)
    }

    /// A parameter's value (`None` when absent or valueless); names match case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
    }

    /// Whether a parameter is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Sets a parameter's value, replacing it or appending it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self.0.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        Ok(())
    }
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Upper-case transport token (`UDP`, `TCP`, `TLS`, `WS`...).
    pub transport: String,
    /// The sent-by host (name or address).
    pub host: String,
    /// The sent-by port, when given.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, ...).
    pub params: Params,
}

impl Via {
    /// Parses one Via value; `None` if it is not `SIP/2.0/<transport> host[:port]`.
    pub fn parse(value: &str) -> Option<Via> {
        // `SIP/2.0/UDP`, tolerating whitespace around the slashes (RFC 4475 §3.1.1.1).
        let mut rest = value.trim();
        let mut fields = [""; 3];
        for (i, field) in fields.iter_mut().enumerate() {
            rest = rest.trim_start();
            if i > 0 {
                rest = rest.strip_prefix('/')?.trim_start();
            }
            let end = rest.find(|c: char| c == '/' || c.is_whitespace()).unwrap_or(rest.len());
            *field = &rest[..end];
            rest = &rest[end..];
        }
        let [name, version, transport] = fields;
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || transport.is_empty() {
            return None;
        }
        let rest = rest.trim_start();
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(sent_by.trim())?;
        Some(Via { transport: transport.trim().to_ascii_uppercase(), host, port, params: Params::parse(params) })
    }

    /// The `branch` parameter, which keys the transaction (RFC 3261 §17).
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch")
    }

    /// The sent-by as `host:port`, with the transport's default port when absent.
    pub fn sent_by(&self) -> String {
        let default = if self.transport == "TLS" { 5061 } else { 5060 };
        format!("{}:{}", self.host, self.port.unwrap_or(default))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, format_host(&self.host))?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// `CSeq: 1 INVITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number; orders requests within a dialog.
    pub seq: u32,
    /// The method, which must be the request's own.
    pub method: Method,
}

impl CSeq {
    /// Parses `<number> <method>`; `None` if malformed.
    pub fn parse(value: &str) -> Option<CSeq> {
        let mut parts = value.split_whitespace();
        let seq = parts.next()?.parse().ok()?;
        let method = Method::parse(parts.next()?).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// `"Display" <sip:uri>;tag=x` or `sip:uri;tag=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted, when given.
    pub display: Option<String>,
    /// The URI, without its angle brackets.
    pub uri: String,
    /// Header parameters after the URI (`tag`, `expires`, ...).
    pub params: Params,
}

impl NameAddr {
    /// Parses a From/To/Contact style value; `None` if malformed.
    pub fn parse(value: &str) -> Option<NameAddr> {
        let value = value.trim();
        if let Some(lt) = find_unquoted(value, '<') {
            let gt = value[lt..].find('>')? + lt;
            let display = value[..lt].trim().trim_matches('"').trim();
            Some(NameAddr {
                display: (!display.is_empty()).then(|| display.to_string()),
                uri: value[lt + 1..gt].trim().to_string(),
                params: Params::parse(&value[gt + 1..]),
            })
        } else {
            // addr-spec form: parameters after the URI belong to the header, not the URI (RFC 3261 §20.10).
            let (uri, params) = match value.find(';') {
                Some(i) => (&value[..i], &value[i..]),
                None => (value, ""),
            };
            if uri.is_empty() || uri.contains([' ', '"']) {
                return None;
            }
            Some(NameAddr { display: None, uri: uri.to_string(), params: Params::parse(params) })
        }
    }

    /// The `tag` parameter, one half of the dialog id.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(display) = &self.display {
            write!(f, "\"{display}\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

fn find_unquoted(text: &str, needle: char) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c == needle && !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; IPv6 hosts are returned without brackets.
pub fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = match &rest[end + 1..] {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            if host.is_empty() {
                return None;
            }
            Some((host.to_string(), Some(port.parse().ok()?)))
        }
        Some(_) => None,
        None => Some((text.to_string(), None)),
    }
}

/// Brackets IPv6 literals for printing.
pub fn format_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_round_trips_with_rport_and_received() {
        let mut via = Via::parse("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(via.branch(), Some("z9hG4bKabc"));
        assert_eq!(via.sent_by(), "10.0.0.1:5062");
        via.params.set("received", Some("192.0.2.1".into()));
        via.params.set("rport", Some("40000".into()));
        assert_eq!(via.to_string(), "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport=40000;received=192.0.2.1");
    }

    #[test]
    fn via_with_ipv6_and_spaces() {
        let via = Via::parse("SIP / 2.0 / TCP [::1]:5070 ;branch=z9hG4bK1").unwrap();
        assert_eq!(via.transport, "TCP");
        assert_eq!(via.host, "::1");
        assert_eq!(via.port, Some(5070));
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Bob, Jr\" <sip:bob@h;transport=tcp>;tag=88").unwrap();
        assert_eq!(a.display.as_deref(), Some("Bob, Jr"));
        assert_eq!(a.uri, "sip:bob@h;transport=tcp");
        assert_eq!(a.tag(), Some("88"));
        let b = NameAddr::parse("sip:bob@h;tag=9").unwrap();
        assert_eq!(b.uri, "sip:bob@h");
        assert_eq!(b.tag(), Some("9"));
    }

    #[test]
    fn cseq_rejects_junk() {
        assert!(CSeq::parse("1 INVITE").is_some());
        assert!(CSeq::parse("x INVITE").is_none());
        assert!(CSeq::parse("99999999999 INVITE").is_none());
        assert!(CSeq::parse("1 INVITE extra").is_none());
    }
}
