//! SDP (RFC 4566) session descriptions: the subset an audio UA uses, parsed tolerantly and printed strictly.
//! Offer/answer decisions (which codec) belong to the media layer; this module only models the text.

use std::fmt::Write as _;
use std::net::IpAddr;

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction an answerer uses for an offer with this direction.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether we may send media.
    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
}

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: u8,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub media: String,
    pub port: u16,
    pub protocol: String,
    pub formats: Vec<u8>,
    pub connection: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`.
    pub fmtps: Vec<(u8, String)>,
    pub direction: Option<Direction>,
    pub ptime: Option<u32>,
    /// `a=rtcp:<port>` (RFC 3605).
    pub rtcp_port: Option<u16>,
    /// Attributes not modelled above, kept verbatim (`name` or `name:value`).
    pub other_attributes: Vec<String>,
}

impl MediaDescription {
    /// The rtpmap for a payload type, falling back to the static assignments of RFC 3551.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt).cloned().or_else(|| static_rtpmap(pt))
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps.iter().find(|(p, _)| *p == pt).map(|(_, f)| f.as_str())
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin_user: String,
    pub session_id: u64,
    pub session_version: u64,
    pub origin_address: String,
    pub session_name: String,
    pub connection: Option<IpAddr>,
    pub direction: Option<Direction>,
    pub media: Vec<MediaDescription>,
}

/// Why an SDP body is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("SDP line {0} is malformed")]
    BadLine(usize),
    #[error("SDP has no m= line")]
    NoMedia,
    #[error("SDP connection address is missing or unsupported")]
    BadConnection,
}

impl SessionDescription {
    pub fn parse(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        let text = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        let mut sdp = SessionDescription {
            origin_user: "-".into(),
            session_id: 0,
            session_version: 0,
            origin_address: String::new(),
            session_name: "-".into(),
            connection: None,
            direction: None,
            media: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            if line.is_empty() {
                continue;
            }
            let bad = || SdpError::BadLine(index + 1);
            let (kind, value) = line.split_once('=').ok_or_else(bad)?;
            if kind.len() != 1 {
                return Err(bad());
            }
            match kind {
                "o" => {
                    let parts: Vec<&str> = value.split_whitespace().collect();
                    if parts.len() != 6 {
                        return Err(bad());
                    }
                    sdp.origin_user = parts[0].to_string();
                    sdp.session_id = parts[1].parse().unwrap_or(0);
                    sdp.session_version = parts[2].parse().unwrap_or(0);
                    sdp.origin_address = parts[5].to_string();
                }
                "s" => sdp.session_name = value.to_string(),
                "c" => {
                    let addr = parse_connection(value).ok_or(SdpError::BadConnection)?;
                    match sdp.media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => sdp.connection = Some(addr),
                    }
                }
                "m" => {
                    let mut parts = value.split_whitespace();
                    let media = parts.next().ok_or_else(bad)?.to_string();
                    // `port/count` is allowed; we use the first port.
                    let port = parts.next().and_then(|p| p.split('/').next()?.parse().ok()).ok_or_else(bad)?;
                    let protocol = parts.next().ok_or_else(bad)?.to_string();
                    let formats = parts.filter_map(|f| f.parse().ok()).filter(|pt: &u8| *pt < 128).collect();
                    sdp.media.push(MediaDescription {
                        media,
                        port,
                        protocol,
                        formats,
                        connection: None,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        direction: None,
                        ptime: None,
                        rtcp_port: None,
                        other_attributes: Vec::new(),
                    });
                }
                "a" => {
                    let direction = match value {
                        "sendrecv" => Some(Direction::SendRecv),
                        "sendonly" => Some(Direction::SendOnly),
                        "recvonly" => Some(Direction::RecvOnly),
                        "inactive" => Some(Direction::Inactive),
                        _ => None,
                    };
                    let Some(m) = sdp.media.last_mut() else {
                        if direction.is_some() {
                            sdp.direction = direction;
                        }
                        continue;
                    };
                    if direction.is_some() {
                        m.direction = direction;
                    } else if let Some(rest) = value.strip_prefix("rtpmap:") {
                        if let Some(map) = parse_rtpmap(rest) {
                            m.rtpmaps.push(map);
                        }
                    } else if let Some(rest) = value.strip_prefix("fmtp:") {
                        if let Some((pt, params)) = rest.split_once(' ') {
                            if let Ok(pt) = pt.parse() {
                                m.fmtps.push((pt, params.trim().to_string()));
                            }
                        }
                    } else if let Some(rest) = value.strip_prefix("ptime:") {
                        m.ptime = rest.trim().parse().ok();
                    } else if let Some(rest) = value.strip_prefix("rtcp:") {
                        m.rtcp_port = rest.split_whitespace().next().and_then(|p| p.parse().ok());
                    } else {
                        m.other_attributes.push(value.to_string());
                    }
                }
                _ => {}
            }
        }
        if sdp.media.is_empty() {
            return Err(SdpError::NoMedia);
        }
        Ok(sdp)
    }

    /// The connection address of a media section (media-level `c=` overrides session-level).
    pub fn connection_for(&self, media: &MediaDescription) -> Option<IpAddr> {
        media.connection.or(self.connection)
    }

    /// Effective direction of a media section.
    pub fn direction_for(&self, media: &MediaDescription) -> Direction {
        let direction = media.direction.or(self.direction).unwrap_or_default();
        // RFC 3264 §8.4: c=0.0.0.0 is the old way to say hold.
        if self.connection_for(media).is_some_and(|ip| ip.is_unspecified()) && direction == Direction::SendRecv {
            return Direction::SendOnly;
        }
        direction
    }

    /// The first audio section.
    pub fn audio(&self) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.media == "audio")
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        let ip_kind = |ip: &IpAddr| if ip.is_ipv6() { "IP6" } else { "IP4" };
        let _ = write!(out, "v=0\r\n");
        let origin_kind = if self.origin_address.contains(':') { "IP6" } else { "IP4" };
        let _ = write!(
            out,
            "o={} {} {} IN {} {}\r\n",
            self.origin_user, self.session_id, self.session_version, origin_kind, self.origin_address
        );
        let _ = write!(out, "s={}\r\n", self.session_name);
        if let Some(c) = &self.connection {
            let _ = write!(out, "c=IN {} {}\r\n", ip_kind(c), c);
        }
        let _ = write!(out, "t=0 0\r\n");
        for m in &self.media {
            let formats: Vec<String> = m.formats.iter().map(u8::to_string).collect();
            let _ = write!(out, "m={} {} {} {}\r\n", m.media, m.port, m.protocol, formats.join(" "));
            if let Some(c) = &m.connection {
                let _ = write!(out, "c=IN {} {}\r\n", ip_kind(c), c);
            }
            for map in &m.rtpmaps {
                let _ = write!(out, "a=rtpmap:{} {}/{}", map.payload_type, map.encoding, map.clock_rate);
                if map.channels > 1 {
                    let _ = write!(out, "/{}", map.channels);
                }
                out.push_str("\r\n");
            }
            for (pt, params) in &m.fmtps {
                let _ = write!(out, "a=fmtp:{pt} {params}\r\n");
            }
            if let Some(ptime) = m.ptime {
                let _ = write!(out, "a=ptime:{ptime}\r\n");
            }
            if let Some(port) = m.rtcp_port {
                let _ = write!(out, "a=rtcp:{port}\r\n");
            }
            for attr in &m.other_attributes {
                let _ = write!(out, "a={attr}\r\n");
            }
            if let Some(d) = m.direction {
                let _ = write!(out, "a={}\r\n", d.as_str());
            }
        }
        out.into_bytes()
    }
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_whitespace();
    if parts.next()? != "IN" {
        return None;
    }
    let _kind = parts.next()?;
    // Multicast TTL suffixes (`/127`) are irrelevant for unicast telephony.
    parts.next()?.split('/').next()?.parse().ok()
}

fn parse_rtpmap(text: &str) -> Option<RtpMap> {
    let (pt, rest) = text.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.to_string();
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
    Some(RtpMap { payload_type: pt.parse().ok()?, encoding, clock_rate, channels })
}

/// RFC 3551 static payload types that telephony uses.
pub fn static_rtpmap(pt: u8) -> Option<RtpMap> {
    let (encoding, clock_rate) = match pt {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        _ => return None,
    };
    Some(RtpMap { payload_type: pt, encoding: encoding.into(), clock_rate, channels: 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n\
        t=0 0\r\nm=audio 49170 RTP/AVP 111 0 8 101\r\na=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
        a=ptime:20\r\na=sendonly\r\n";

    #[test]
    fn parses_offer() {
        let sdp = SessionDescription::parse(OFFER.as_bytes()).unwrap();
        let audio = sdp.audio().unwrap();
        assert_eq!(audio.port, 49170);
        assert_eq!(audio.formats, vec![111, 0, 8, 101]);
        assert_eq!(audio.rtpmap(111).unwrap().channels, 2);
        assert_eq!(audio.rtpmap(0).unwrap().encoding, "PCMU");
        assert_eq!(audio.fmtp(101), Some("0-16"));
        assert_eq!(sdp.direction_for(audio), Direction::SendOnly);
        assert_eq!(sdp.connection_for(audio), Some("10.0.0.1".parse().unwrap()));
        let again = SessionDescription::parse(&sdp.to_bytes()).unwrap();
        assert_eq!(again, sdp);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(SessionDescription::parse(b"v=0\r\n"), Err(SdpError::NoMedia));
        assert_eq!(SessionDescription::parse(b"hello"), Err(SdpError::BadLine(1)));
        assert_eq!(SessionDescription::parse(b"v=0\r\nc=IN IP4 nonsense\r\n"), Err(SdpError::BadConnection));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
            let _ = SessionDescription::parse(text.as_bytes());
        }
    }
}
