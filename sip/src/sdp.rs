//! SDP (RFC 4566) session descriptions: the subset an audio UA uses, parsed tolerantly and printed strictly.
//! Offer/answer decisions (which codec) belong to the media layer; this module only models the text, plus the
//! SDES crypto attributes of RFC 4568 (`a=crypto`) and which of an offer's suites an answer takes.

use std::fmt::Write as _;
use std::net::IpAddr;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default when no attribute is given).
    #[default]
    SendRecv,
    /// The sender only sends (e.g. music on hold).
    SendOnly,
    /// The sender only receives.
    RecvOnly,
    /// No media either way (a call on hold).
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

    /// The attribute's name (`sendrecv`, ...).
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
    /// The payload type the format list uses for this codec.
    pub payload_type: u8,
    /// The codec name as written (`PCMU`, `opus`, `telephone-event`).
    pub encoding: String,
    /// The RTP clock rate, Hz.
    pub clock_rate: u32,
    /// Audio channels (1 unless given).
    pub channels: u8,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type (`audio`, `video`, ...).
    pub media: String,
    /// The port media goes to; 0 rejects or disables the stream.
    pub port: u16,
    /// The transport profile (`RTP/AVP`, `RTP/SAVP`, ...), see [`RtpProfile`].
    pub protocol: String,
    /// Payload types, in the sender's order of preference.
    pub formats: Vec<u8>,
    /// The section's `c=` address, overriding the session's.
    pub connection: Option<IpAddr>,
    /// The `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`.
    pub fmtps: Vec<(u8, String)>,
    /// The section's direction attribute, overriding the session's.
    pub direction: Option<Direction>,
    /// `a=ptime`: the packet duration wanted, ms.
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

    /// The `a=fmtp` parameters of payload type `pt`, if any.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps.iter().find(|(p, _)| *p == pt).map(|(_, f)| f.as_str())
    }

    /// The transport profile of the `m=` line, when it is one of the RTP profiles.
    pub fn rtp_profile(&self) -> Option<RtpProfile> {
        RtpProfile::parse(&self.protocol)
    }

    /// The section's `a=crypto` attributes (RFC 4568) that parse, in offer order. Lines with suites or
    /// parameters we do not know are skipped here but stay in `other_attributes`, so printing keeps them.
    pub fn crypto(&self) -> impl Iterator<Item = CryptoAttribute> + '_ {
        self.other_attributes.iter().filter_map(|a| CryptoAttribute::parse(a.strip_prefix("crypto:")?))
    }

    /// Adds an `a=crypto` line (kept with the other verbatim attributes: the struct stays as it was).
    pub fn push_crypto(&mut self, crypto: &CryptoAttribute) {
        self.other_attributes.push(crypto.to_attribute());
    }

    /// Drops every `a=crypto` line (an answer carries only the one it chose).
    pub fn clear_crypto(&mut self) {
        self.other_attributes.retain(|a| !a.starts_with("crypto:"));
    }
}

/// The RTP transport profiles of an `m=` line (RFC 3551, RFC 3711, RFC 4585, RFC 5124).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpProfile {
    /// `RTP/AVP`: plain RTP.
    Avp,
    /// `RTP/AVPF`: plain RTP with RTCP feedback.
    Avpf,
    /// `RTP/SAVP`: SRTP; keys in `a=crypto` (SDES) when signalled over SIP.
    Savp,
    /// `RTP/SAVPF`: SRTP with feedback (WebRTC's, keyed by DTLS there).
    Savpf,
}

impl RtpProfile {
    /// Case-insensitive, as SDP tokens are compared in practice.
    pub fn parse(protocol: &str) -> Option<RtpProfile> {
        let profiles = [
            ("RTP/AVP", RtpProfile::Avp),
            ("RTP/AVPF", RtpProfile::Avpf),
            ("RTP/SAVP", RtpProfile::Savp),
            ("RTP/SAVPF", RtpProfile::Savpf),
        ];
        profiles.iter().find(|(name, _)| protocol.eq_ignore_ascii_case(name)).map(|(_, p)| *p)
    }

    /// The profile token as SDP writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RtpProfile::Avp => "RTP/AVP",
            RtpProfile::Avpf => "RTP/AVPF",
            RtpProfile::Savp => "RTP/SAVP",
            RtpProfile::Savpf => "RTP/SAVPF",
        }
    }

    /// Whether media under this profile is SRTP.
    pub fn is_secure(self) -> bool {
        matches!(self, RtpProfile::Savp | RtpProfile::Savpf)
    }
}

/// The SRTP crypto suites we speak, by their SDES names (RFC 4568 §6.2, RFC 6188 §4, RFC 7714 §14.2).
/// The names and key sizes live here because SDP carries them; the cryptography is `voicera_media::srtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm256HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568).
    AesCm128HmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    AesCm256HmacSha1_32,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568).
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Every suite, most preferred first: AEAD-GCM, then an 80-bit HMAC tag, then a 32-bit one; within each
    /// class the 256-bit key first.
    pub const PREFERENCE: [SrtpSuite; 6] = [
        SrtpSuite::AeadAes256Gcm,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AesCm256HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm256HmacSha1_32,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The SDES name, as in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Suite names are case-sensitive tokens (RFC 4568 §9.1), so the match is exact.
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::PREFERENCE.into_iter().find(|s| s.name() == name)
    }

    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes256Gcm | SrtpSuite::AesCm256HmacSha1_80 | SrtpSuite::AesCm256HmacSha1_32 => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes: 112 bits for AES-CM, 96 for GCM (RFC 7714 §12).
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Whether this is an AEAD (GCM) suite.
    pub fn is_aead(self) -> bool {
        matches!(self, SrtpSuite::AeadAes256Gcm | SrtpSuite::AeadAes128Gcm)
    }

    /// The authentication tag of an SRTP packet, in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes256Gcm | SrtpSuite::AeadAes128Gcm => 16,
            SrtpSuite::AesCm256HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm256HmacSha1_32 | SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }

    /// The authentication tag of an SRTCP packet: the _32 suites still use 80 bits there (RFC 4568 §6.2.2).
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }
}

/// A master key identifier (RFC 3711 §3.1) as SDES signals it: `|<value>:<length in bytes>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// The MKI's value.
    pub value: u32,
    /// 1..=4: we carry the value in a `u32`; longer MKIs are refused at parse time.
    pub length: u8,
}

/// One `a=crypto:<tag> <suite> inline:<key||salt>[|<lifetime>][|<mki>:<length>] [<session params>]` attribute
/// (RFC 4568 §9.1) with a single key. Session parameters we could honour only by weakening SRTP
/// (`UNENCRYPTED_SRTP`, a non-zero `KDR`...) make the attribute unusable: see [`CryptoAttribute::is_supported`].
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The attribute's tag; the answer echoes the tag of the one it accepts.
    pub tag: u32,
    /// The crypto suite, which fixes the key and salt lengths.
    pub suite: SrtpSuite,
    /// Master key followed by master salt, exactly the suite's lengths.
    pub key_salt: Vec<u8>,
    /// Master key lifetime in packets, when given.
    pub lifetime: Option<u64>,
    /// The master key identifier, when packets carry one.
    pub mki: Option<Mki>,
    /// Session parameters, verbatim.
    pub session_params: Vec<String>,
}

/// The key is a secret: Debug shows everything but the key.
impl std::fmt::Debug for CryptoAttribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoAttribute")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("key_salt", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .field("session_params", &self.session_params)
            .finish()
    }
}

impl CryptoAttribute {
    /// Parses the value after `crypto:`. `None` for anything malformed, an unknown suite, a key of the wrong
    /// length, or several keys (MKI key lists: we hold one key per direction).
    pub fn parse(value: &str) -> Option<CryptoAttribute> {
        let mut fields = value.split_ascii_whitespace();
        let tag_text = fields.next()?;
        // RFC 4568 §9.1: tag = 1*9DIGIT.
        if tag_text.is_empty() || tag_text.len() > 9 || !tag_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let tag = tag_text.parse().ok()?;
        let suite = SrtpSuite::from_name(fields.next()?)?;
        let key_params = fields.next()?;
        if key_params.contains(';') {
            return None;
        }
        let mut parts = key_params.strip_prefix("inline:")?.split('|');
        let key_text = parts.next()?;
        // Peers pad their base64 or not; accept both.
        let key_salt =
            STANDARD.decode(key_text).or_else(|_| STANDARD_NO_PAD.decode(key_text.trim_end_matches('='))).ok()?;
        if key_salt.len() != suite.master_key_len() + suite.master_salt_len() {
            return None;
        }
        let mut lifetime = None;
        let mut mki = None;
        for part in parts {
            if let Some((value, length)) = part.split_once(':') {
                if mki.is_some() {
                    return None;
                }
                let length: u8 = length.parse().ok()?;
                if !(1..=4).contains(&length) {
                    return None;
                }
                let value: u32 = value.parse().ok()?;
                if length < 4 && value >> (u32::from(length) * 8) != 0 {
                    return None;
                }
                mki = Some(Mki { value, length });
            } else {
                if lifetime.is_some() || mki.is_some() {
                    return None;
                }
                lifetime = Some(parse_lifetime(part)?);
            }
        }
        let session_params = fields.map(str::to_string).collect();
        Some(CryptoAttribute { tag, suite, key_salt, lifetime, mki, session_params })
    }

    /// The attribute value, `crypto:...`, as it goes after `a=`.
    pub fn to_attribute(&self) -> String {
        let mut out = format!("crypto:{} {} inline:{}", self.tag, self.suite.name(), STANDARD.encode(&self.key_salt));
        if let Some(lifetime) = self.lifetime {
            if lifetime.is_power_of_two() {
                let _ = write!(out, "|2^{}", lifetime.trailing_zeros());
            } else {
                let _ = write!(out, "|{lifetime}");
            }
        }
        if let Some(mki) = self.mki {
            let _ = write!(out, "|{}:{}", mki.value, mki.length);
        }
        for param in &self.session_params {
            out.push(' ');
            out.push_str(param);
        }
        out
    }

    /// The master key part of `key_salt`.
    pub fn master_key(&self) -> &[u8] {
        &self.key_salt[..self.suite.master_key_len().min(self.key_salt.len())]
    }

    /// The master salt part of `key_salt`.
    pub fn master_salt(&self) -> &[u8] {
        &self.key_salt[self.suite.master_key_len().min(self.key_salt.len())..]
    }

    /// Whether we can use this attribute as it stands: session parameters that only weaken SRTP
    /// (`UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP`, `UNAUTHENTICATED_SRTP`), a key derivation rate other than 0 and
    /// FEC ordering we do not implement make it unusable; the window-size hint `WSH` is only a hint.
    pub fn is_supported(&self) -> bool {
        self.session_params.iter().all(|p| p.starts_with("WSH=") || p == "KDR=0")
    }

    /// Our answer to this offered attribute: same tag and suite, our own key (RFC 4568 §7.1.2), no MKI and no
    /// lifetime (both optional; we rekey by re-INVITE).
    pub fn answer(&self, our_key_salt: Vec<u8>) -> CryptoAttribute {
        CryptoAttribute {
            tag: self.tag,
            suite: self.suite,
            key_salt: our_key_salt,
            lifetime: None,
            mki: None,
            session_params: Vec::new(),
        }
    }
}

/// The offered crypto attribute an answer should take: the first usable one in the offer's order (RFC 4568
/// §7.1.1: the offerer lists them most preferred first; every suite we parse is one we speak).
pub fn choose_crypto(offered: &[CryptoAttribute]) -> Option<&CryptoAttribute> {
    offered.iter().find(|c| c.is_supported())
}

/// Why none of a media section's `a=crypto` lines is usable, line by line, for a 488's Warning and the log
/// (`tag 1 F8_128_HMAC_SHA1_80: unknown suite or malformed key; tag 2 AES_CM_128_HMAC_SHA1_80: unsupported
/// session parameter UNENCRYPTED_SRTP`).
pub fn describe_unusable_crypto(media: &MediaDescription) -> String {
    let reasons: Vec<String> = media
        .other_attributes
        .iter()
        .filter_map(|a| a.strip_prefix("crypto:"))
        .map(|value| {
            let mut fields = value.split_ascii_whitespace();
            let (tag, suite) = (fields.next().unwrap_or("?"), fields.next().unwrap_or("?"));
            match CryptoAttribute::parse(value) {
                None if SrtpSuite::from_name(suite).is_none() => format!("tag {tag} {suite}: unknown suite"),
                None => format!("tag {tag} {suite}: malformed key, key list, lifetime or MKI longer than 4 bytes"),
                Some(c) => {
                    let unsupported: Vec<&str> = c
                        .session_params
                        .iter()
                        .map(String::as_str)
                        .filter(|p| !(p.starts_with("WSH=") || *p == "KDR=0"))
                        .collect();
                    format!("tag {tag} {suite}: unsupported session parameter {}", unsupported.join(" "))
                }
            }
        })
        .collect();
    if reasons.is_empty() {
        "no a=crypto line (SDES keys are required for RTP/SAVP)".to_string()
    } else {
        reasons.join("; ")
    }
}

/// `2^n` or a decimal number of packets.
fn parse_lifetime(text: &str) -> Option<u64> {
    match text.strip_prefix("2^") {
        Some(exponent) => {
            let exponent: u32 = exponent.parse().ok()?;
            (exponent < 64).then(|| 1u64 << exponent)
        }
        None => text.parse().ok(),
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` username (`-` when none).
    pub origin_user: String,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` version; raised with every changed description (a re-INVITE's answer).
    pub session_version: u64,
    /// `o=` address of the originator.
    pub origin_address: String,
    /// `s=` session name.
    pub session_name: String,
    /// The session-level `c=` address (sections may override it).
    pub connection: Option<IpAddr>,
    /// The session-level direction attribute (sections may override it).
    pub direction: Option<Direction>,
    /// The `m=` sections, in order (an answer keeps the offer's order).
    pub media: Vec<MediaDescription>,
}

/// Why an SDP body is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not UTF-8.
    #[error("SDP is not UTF-8")]
    NotUtf8,
    /// The line at this (1-based) number does not parse.
    #[error("SDP line {0} is malformed")]
    BadLine(usize),
    /// No `m=` section: nothing to negotiate.
    #[error("SDP has no m= line")]
    NoMedia,
    /// No usable `c=` address (missing, or not IN IP4/IP6).
    #[error("SDP connection address is missing or unsupported")]
    BadConnection,
}

impl SessionDescription {
    /// Parses an SDP body (RFC 8866); unknown lines are skipped.
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

    /// The description as SDP text, lines ending in CRLF.
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

    /// RFC 4568 §8.1's example key (key||salt of AES_CM_128_HMAC_SHA1_80).
    const EXAMPLE_KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

    #[test]
    fn crypto_attributes_parse_and_print() {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 49170 RTP/SAVP 0\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|2^20|1:4\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{EXAMPLE_KEY}\r\n\
             a=crypto:3 F8_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}\r\n"
        );
        let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
        let audio = sdp.audio().unwrap();
        assert_eq!(audio.rtp_profile(), Some(RtpProfile::Savp));
        assert!(audio.rtp_profile().unwrap().is_secure());
        let crypto: Vec<CryptoAttribute> = audio.crypto().collect();
        assert_eq!(crypto.len(), 2, "the unknown F8 suite is skipped");
        assert_eq!(crypto[0].tag, 1);
        assert_eq!(crypto[0].suite, SrtpSuite::AesCm128HmacSha1_80);
        assert_eq!(crypto[0].lifetime, Some(1 << 20));
        assert_eq!(crypto[0].mki, Some(Mki { value: 1, length: 4 }));
        assert_eq!(crypto[0].master_key().len(), 16);
        assert_eq!(crypto[0].master_salt().len(), 14);
        assert_eq!(crypto[1].suite, SrtpSuite::AesCm128HmacSha1_32);
        assert_eq!(crypto[1].mki, None);
        // Printing gives back the same attributes (the unknown one verbatim).
        let again = SessionDescription::parse(&sdp.to_bytes()).unwrap();
        assert_eq!(again, sdp);
        assert_eq!(crypto[0].to_attribute(), format!("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|2^20|1:4"));
        assert!(!format!("{:?}", crypto[0]).contains(EXAMPLE_KEY), "Debug must not show the key");
    }

    #[test]
    fn malformed_crypto_attributes_are_refused() {
        let bad = [
            "".to_string(),
            "1".into(),
            format!("x AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}"),
            format!("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}"),
            format!("1 aes_cm_128_hmac_sha1_80 inline:{EXAMPLE_KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {EXAMPLE_KEY}"),
            // Key of the wrong length for the suite (GCM-128 wants 28 bytes, this is 30).
            format!("1 AEAD_AES_128_GCM inline:{EXAMPLE_KEY}"),
            "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64".into(),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|1:5"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|256:1"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|2^64"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|1:1|2^20"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|1:1;inline:{EXAMPLE_KEY}|2:1"),
        ];
        for value in bad {
            assert_eq!(CryptoAttribute::parse(&value), None, "{value}");
        }
    }

    fn attribute(tag: u32, suite: SrtpSuite, params: &[&str]) -> CryptoAttribute {
        let key_salt = vec![7; suite.master_key_len() + suite.master_salt_len()];
        let attribute = CryptoAttribute {
            tag,
            suite,
            key_salt,
            lifetime: None,
            mki: None,
            session_params: params.iter().map(|p| p.to_string()).collect(),
        };
        // Every attribute we build survives its own printing.
        assert_eq!(
            CryptoAttribute::parse(attribute.to_attribute().strip_prefix("crypto:").unwrap()).as_ref(),
            Some(&attribute)
        );
        attribute
    }

    #[test]
    fn the_answer_takes_the_first_usable_line_of_the_offer() {
        use SrtpSuite::*;
        let offer = [
            attribute(3, AeadAes128Gcm, &["UNENCRYPTED_SRTP"]),
            attribute(4, AeadAes128Gcm, &["WSH=128"]),
            attribute(1, AesCm128HmacSha1_32, &[]),
            attribute(2, AesCm128HmacSha1_80, &[]),
        ];
        assert_eq!(choose_crypto(&offer).map(|c| c.tag), Some(4), "an UNENCRYPTED_SRTP line is skipped");
        assert_eq!(choose_crypto(&offer[2..]).map(|c| c.tag), Some(1), "the offer's order decides");
        assert_eq!(choose_crypto(&offer[..1]), None);
        assert_eq!(choose_crypto(&[attribute(9, AesCm128HmacSha1_80, &["KDR=20"])]), None);
        let answer = offer[3].answer(vec![1; 30]);
        assert_eq!((answer.tag, answer.suite), (2, AesCm128HmacSha1_80));
        let mut media = SessionDescription::parse(OFFER.as_bytes()).unwrap().media.remove(0);
        media.push_crypto(&answer);
        assert_eq!(media.crypto().collect::<Vec<_>>(), vec![answer]);
        media.clear_crypto();
        assert_eq!(media.crypto().count(), 0);
        assert_eq!(RtpProfile::parse("rtp/savpf"), Some(RtpProfile::Savpf));
        assert_eq!(RtpProfile::parse("UDP/TLS/RTP/SAVPF"), None);
    }

    #[test]
    fn unusable_crypto_lines_are_described_one_by_one() {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 49170 RTP/SAVP 0\r\n\
             a=crypto:1 F8_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY} UNENCRYPTED_SRTP WSH=64\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{EXAMPLE_KEY}|1:5\r\n"
        );
        let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
        assert_eq!(
            describe_unusable_crypto(sdp.audio().unwrap()),
            "tag 1 F8_128_HMAC_SHA1_80: unknown suite; \
             tag 2 AES_CM_128_HMAC_SHA1_80: unsupported session parameter UNENCRYPTED_SRTP; \
             tag 3 AES_CM_128_HMAC_SHA1_80: malformed key, key list, lifetime or MKI longer than 4 bytes"
        );
        let bare = SessionDescription::parse(OFFER.as_bytes()).unwrap();
        assert!(describe_unusable_crypto(bare.audio().unwrap()).starts_with("no a=crypto line"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
            let _ = SessionDescription::parse(text.as_bytes());
        }

        #[test]
        fn arbitrary_crypto_text_never_panics(text in "(?s).{0,200}") {
            let _ = CryptoAttribute::parse(&text);
        }

        /// Text shaped like a crypto attribute, to reach past the first checks.
        #[test]
        fn crypto_like_text_never_panics(
            tag in "[0-9]{0,10}",
            suite in proptest::sample::select(vec!["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_256_GCM", "X"]),
            key in "[A-Za-z0-9+/=]{0,60}",
            tail in "(\\|[0-9^:]{0,12}){0,3}( [A-Z_=0-9]{0,10}){0,2}",
        ) {
            let text = format!("{tag} {suite} inline:{key}{tail}");
            if let Some(parsed) = CryptoAttribute::parse(&text) {
                let printed = parsed.to_attribute();
                proptest::prop_assert_eq!(CryptoAttribute::parse(printed.strip_prefix("crypto:").unwrap()), Some(parsed));
            }
        }
    }
}
