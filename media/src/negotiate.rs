//! SDP offer/answer for audio (RFC 3264): pick the codec by our preference among those offered, keep
//! telephone-event when offered, answer the direction, key SRTP by SDES (RFC 4568) as the [`SrtpPolicy`]
//! allows, keep the offer's profile (RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF) and its `m=` lines, and
//! describe the result as a [`MediaPlan`].
//!
//! The feedback profiles (RFC 4585) differ from the plain ones only in RTCP: feedback messages may arrive
//! (they are read and skipped, as any RTCP packet we do not use) and the regular report interval may be
//! shorter. We send none and keep our regular reports, which RFC 4585 §3.5.1 allows, and answer no
//! `a=rtcp-fb` line, which tells the peer to send none either (§4.2).

use std::net::{IpAddr, SocketAddr};

use voicera_sip::sdp::{
    choose_crypto, describe_unusable_crypto, CryptoAttribute, Direction, MediaDescription, RtpProfile,
    SessionDescription, SrtpSuite,
};

use crate::codec::CodecKind;
use crate::srtp::{generate_key_salt, SrtpKeys};

/// `[sip] srtp` (and a trunk's `srtp`): whether a call's media is SRTP keyed by SDES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP only: an RTP/SAVP offer is refused (488), our offers are RTP/AVP.
    Off,
    /// SRTP when the peer offers RTP/SAVP, plain RTP when it offers RTP/AVP; our offers are RTP/SAVP with
    /// `a=crypto`, and a plain RTP/AVP answer to them is taken.
    #[default]
    Offer,
    /// SRTP only: an RTP/AVP offer or answer is refused.
    Required,
}

impl SrtpPolicy {
    /// The configuration word (`off`, `offer`, `required`).
    pub fn from_config_name(name: &str) -> Option<SrtpPolicy> {
        match name {
            "off" => Some(SrtpPolicy::Off),
            "offer" => Some(SrtpPolicy::Offer),
            "required" => Some(SrtpPolicy::Required),
            _ => None,
        }
    }

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpPolicy::Off => "off",
            SrtpPolicy::Offer => "offer",
            SrtpPolicy::Required => "required",
        }
    }

    /// Whether our offers are RTP/SAVP with `a=crypto`.
    pub fn offers_srtp(self) -> bool {
        self != SrtpPolicy::Off
    }

    /// The policy of a call we place when only `[sip] srtp` (this) speaks for it: `required` and `off` hold
    /// as they are, but the default `offer` ("SRTP when the peer asks for it") offers plain RTP/AVP: a
    /// carrier gets an RTP/SAVP offer only when its trunk says `srtp = "offer"` or `"required"`.
    pub fn for_calls_we_place(self) -> SrtpPolicy {
        match self {
            SrtpPolicy::Offer => SrtpPolicy::Off,
            other => other,
        }
    }
}

/// The suites our offers list, most preferred first: the one every SDES peer speaks, then AEAD-GCM, then the
/// short tag (some peers answer only that one).
pub const OFFERED_SUITES: [SrtpSuite; 4] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AeadAes256Gcm,
    SrtpSuite::AeadAes128Gcm,
    SrtpSuite::AesCm128HmacSha1_32,
];

/// What both sides agreed on for one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlan {
    /// The codec both sides use.
    pub codec: CodecKind,
    /// Its RTP payload type (the offerer's number for a dynamic one).
    pub payload_type: u8,
    /// RFC 4733 telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// Where the peer wants RTP (from SDP; symmetric RTP may later latch to the real source).
    pub remote_rtp: SocketAddr,
    /// Where the peer wants RTCP (`a=rtcp`, else the RTP port + 1).
    pub remote_rtcp: SocketAddr,
    /// Our direction in the answer.
    pub direction: Direction,
    /// Packet time, ms.
    pub ptime: u32,
    /// SRTP keys (RTP/SAVP, RTP/SAVPF); None for plain RTP.
    pub srtp: Option<SrtpKeys>,
    /// The stream's profile has RTCP feedback (RTP/AVPF, RTP/SAVPF; RFC 4585): our SDP says so too, as an
    /// answer must keep the offer's profile (RFC 3264 §6).
    pub feedback: bool,
}

impl MediaPlan {
    /// The `m=` line's profile: SRTP or not by [`MediaPlan::srtp`], with feedback or not by
    /// [`MediaPlan::feedback`].
    pub fn profile(&self) -> RtpProfile {
        match (self.srtp.is_some(), self.feedback) {
            (false, false) => RtpProfile::Avp,
            (false, true) => RtpProfile::Avpf,
            (true, false) => RtpProfile::Savp,
            (true, true) => RtpProfile::Savpf,
        }
    }
}

/// Why an offer cannot be accepted; each maps to `488 Not Acceptable Here`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The offer has no audio stream we can carry.
    #[error("offer has no audio stream over RTP/AVP, RTP/AVPF, RTP/SAVP or RTP/SAVPF")]
    NoAudio,
    /// The audio is keyed by DTLS (`UDP/TLS/RTP/SAVPF`, or `a=fingerprint` without `a=crypto`): WebRTC's
    /// keying, which SIP calls here do not speak.
    #[error("DTLS-SRTP (a=fingerprint, UDP/TLS/RTP/SAVPF) is not supported on SIP calls: offer SDES keys (a=crypto) over RTP/SAVP or RTP/SAVPF")]
    DtlsSrtp,
    /// The offer allows RTCP only on the RTP port (`a=rtcp-mux-only`, RFC 8858); ours is on its own port.
    #[error("a=rtcp-mux-only: RTCP multiplexed on the RTP port is not supported; RTCP goes to its own port")]
    RtcpMuxOnly,
    /// `srtp = "required"` and the audio is plain RTP/AVP.
    #[error("SRTP is required: offer RTP/SAVP with a=crypto (SDES)")]
    SrtpRequired,
    /// `srtp = "off"` and the audio is RTP/SAVP.
    #[error("SRTP is off here: offer RTP/AVP")]
    SrtpOff,
    /// RTP/SAVP without an `a=crypto` line we can use (why, line by line).
    #[error("no usable a=crypto: {0}")]
    NoUsableCrypto(String),
    /// None of the offered codecs is one we speak (the offered ones, for the log).
    #[error("no common codec (offered: {0})")]
    NoCommonCodec(String),
    /// No `c=` line gives an address to send media to.
    #[error("offer has no usable connection address")]
    NoConnection,
}

/// Default packet time.
pub const DEFAULT_PTIME_MS: u32 = 20;

/// Chooses the stream parameters for a plain RTP/AVP `offer` given our codec preference order (SRTP off).
pub fn negotiate(offer: &SessionDescription, preference: &[CodecKind]) -> Result<MediaPlan, NegotiationError> {
    negotiate_with(offer, preference, SrtpPolicy::Off, None)
}

/// Chooses the stream parameters for `offer`: the audio section `policy` allows (RTP/SAVP before RTP/AVP),
/// our preferred codec, and for RTP/SAVP the first usable `a=crypto` line of the offer answered with a fresh
/// key of ours. `current` is the call's SRTP keys on a re-offer: an unchanged line keeps them as they are
/// (no rekey); a new key of the same suite keeps our key (under the new tag) and rekeys the peer's direction.
pub fn negotiate_with(
    offer: &SessionDescription,
    preference: &[CodecKind],
    policy: SrtpPolicy,
    current: Option<&SrtpKeys>,
) -> Result<MediaPlan, NegotiationError> {
    let audio = audio_for(offer, policy)?;
    if audio.other_attributes.iter().any(|a| a == "rtcp-mux-only") {
        return Err(NegotiationError::RtcpMuxOnly);
    }
    let mut plan = plan_for(offer, audio, preference)?;
    if audio.rtp_profile().is_some_and(RtpProfile::is_secure) {
        let offered: Vec<CryptoAttribute> = audio.crypto().collect();
        let chosen = choose_crypto(&offered).ok_or_else(|| {
            // Keys by DTLS only (a fingerprint, no a=crypto line at all): say that, not "no a=crypto".
            let has = |prefix: &str| audio.other_attributes.iter().any(|a| a.starts_with(prefix));
            if !has("crypto:") && has("fingerprint:") {
                NegotiationError::DtlsSrtp
            } else {
                NegotiationError::NoUsableCrypto(describe_unusable_crypto(audio))
            }
        })?;
        plan.srtp = Some(answer_keys(chosen, current));
    }
    Ok(plan)
}

/// The audio section `policy` lets us answer: with SRTP allowed, the first RTP/SAVP or RTP/SAVPF one, else
/// the first RTP/AVP or RTP/AVPF one.
fn audio_for(offer: &SessionDescription, policy: SrtpPolicy) -> Result<&MediaDescription, NegotiationError> {
    let mut streams = offer
        .media
        .iter()
        .filter(|m| m.media == "audio" && m.port != 0)
        .filter_map(|m| m.rtp_profile().map(|profile| (m, profile.is_secure())));
    let secure = streams.clone().find(|(_, secure)| *secure).map(|(m, _)| m);
    let plain = streams.find(|(_, secure)| !*secure).map(|(m, _)| m);
    // Nothing to answer: say so precisely when the audio was WebRTC's DTLS-keyed profile.
    let none = || {
        let dtls = offer.media.iter().any(|m| m.media == "audio" && m.port != 0 && is_dtls_profile(&m.protocol));
        if dtls {
            NegotiationError::DtlsSrtp
        } else {
            NegotiationError::NoAudio
        }
    };
    match policy {
        SrtpPolicy::Off => plain.ok_or_else(|| if secure.is_some() { NegotiationError::SrtpOff } else { none() }),
        SrtpPolicy::Offer => secure.or(plain).ok_or_else(none),
        SrtpPolicy::Required => {
            secure.ok_or_else(|| if plain.is_some() { NegotiationError::SrtpRequired } else { none() })
        }
    }
}

/// `UDP/TLS/RTP/SAVP[F]` and `TCP/DTLS/RTP/SAVPF` (RFC 5764, RFC 7850): media keyed by DTLS.
fn is_dtls_profile(protocol: &str) -> bool {
    let protocol = protocol.to_ascii_uppercase();
    protocol.contains("TLS/RTP/SAVP")
}

/// Our answer's keys for the offered line `chosen` (see [`negotiate_with`]).
fn answer_keys(chosen: &CryptoAttribute, current: Option<&SrtpKeys>) -> SrtpKeys {
    match current {
        Some(keys) if keys.remote == *chosen => keys.clone(),
        Some(keys) if keys.local.suite == chosen.suite => {
            SrtpKeys { local: CryptoAttribute { tag: chosen.tag, ..keys.local.clone() }, remote: chosen.clone() }
        }
        _ => SrtpKeys { local: chosen.answer(generate_key_salt(chosen.suite)), remote: chosen.clone() },
    }
}

/// Codec, telephone-event, addresses and direction of one audio section (no SRTP yet).
fn plan_for(
    sdp: &SessionDescription,
    audio: &MediaDescription,
    preference: &[CodecKind],
) -> Result<MediaPlan, NegotiationError> {
    let (codec, payload_type) = preference
        .iter()
        .find_map(|kind| {
            audio.formats.iter().find_map(|pt| audio.rtpmap(*pt).filter(|m| kind.matches(m)).map(|_| (*kind, *pt)))
        })
        .ok_or_else(|| NegotiationError::NoCommonCodec(describe_formats(audio)))?;
    let dtmf_payload_type = audio.formats.iter().copied().find(|pt| {
        audio.rtpmap(*pt).is_some_and(|m| m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000)
    });
    let ip = sdp.connection_for(audio).ok_or(NegotiationError::NoConnection)?;
    let remote_rtcp_port = audio.rtcp_port.unwrap_or(audio.port.saturating_add(1));
    Ok(MediaPlan {
        codec,
        payload_type,
        dtmf_payload_type,
        remote_rtp: SocketAddr::new(ip, audio.port),
        remote_rtcp: SocketAddr::new(ip, remote_rtcp_port),
        direction: sdp.direction_for(audio).answer(),
        ptime: DEFAULT_PTIME_MS,
        srtp: None,
        feedback: matches!(audio.rtp_profile(), Some(RtpProfile::Avpf | RtpProfile::Savpf)),
    })
}

fn describe_formats(audio: &MediaDescription) -> String {
    audio
        .formats
        .iter()
        .map(|pt| audio.rtpmap(*pt).map_or(pt.to_string(), |m| format!("{}/{}", m.encoding, m.clock_rate)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Our answer to `offer` for `plan` (from [`negotiate_with`] on that offer): [`answer_sdp`]'s audio section in
/// the place of the offer's section we took, and every other `m=` line of the offer rejected (port 0, its
/// media, profile and formats), so the answer has the offer's `m=` lines in the offer's order (RFC 3264 §6):
/// video, a second audio stream, the plain twin of an SRTP stream.
pub fn answer_offer_sdp(
    offer: &SessionDescription,
    plan: &MediaPlan,
    local_ip: IpAddr,
    local_port: u16,
    session_id: u64,
    session_version: u64,
) -> SessionDescription {
    let mut answer = answer_sdp(plan, local_ip, local_port, session_id, session_version);
    let Some(ours) = answer.media.pop() else { return answer };
    // The section negotiate_with took: the first live audio one of the plan's profile (it takes the first
    // secure, else the first plain one, so no earlier live audio section has that profile).
    let profile = plan.profile();
    let taken = offer.media.iter().position(|m| m.media == "audio" && m.port != 0 && m.rtp_profile() == Some(profile));
    let mut ours = Some(ours);
    for (index, offered) in offer.media.iter().enumerate() {
        match ours.take_if(|_| taken == Some(index)) {
            Some(section) => answer.media.push(section),
            None => answer.media.push(MediaDescription {
                media: offered.media.clone(),
                port: 0,
                protocol: offered.protocol.clone(),
                formats: offered.formats.clone(),
                connection: None,
                rtpmaps: Vec::new(),
                fmtps: Vec::new(),
                direction: None,
                ptime: None,
                rtcp_port: None,
                other_attributes: Vec::new(),
            }),
        }
    }
    // An offer that does not hold the plan's section (not the offer it was negotiated from): ours alone.
    if let Some(section) = ours {
        answer.media = vec![section];
    }
    answer
}

/// Our SDP for `plan` (its audio section alone), with RTP on `local_ip:local_port`. `session_version` must
/// grow with each new offer or answer in the dialog (RFC 3264 §8). An answer to an offer with several `m=`
/// lines is [`answer_offer_sdp`].
pub fn answer_sdp(
    plan: &MediaPlan,
    local_ip: IpAddr,
    local_port: u16,
    session_id: u64,
    session_version: u64,
) -> SessionDescription {
    let mut formats = vec![plan.payload_type];
    let mut rtpmaps = vec![plan.codec.rtpmap(plan.payload_type)];
    let mut fmtps = Vec::new();
    if plan.codec == CodecKind::Opus {
        fmtps.push((plan.payload_type, "minptime=10;useinbandfec=1".to_string()));
    }
    if let Some(pt) = plan.dtmf_payload_type {
        formats.push(pt);
        add_telephone_event(pt, &mut rtpmaps, &mut fmtps);
    }
    let mut sdp = audio_sdp(
        local_ip,
        local_port,
        (session_id, session_version),
        formats,
        rtpmaps,
        fmtps,
        plan.direction,
        plan.ptime,
    );
    if let Some(keys) = &plan.srtp {
        secure(&mut sdp, std::slice::from_ref(&keys.local));
    }
    for media in &mut sdp.media {
        media.protocol = plan.profile().as_str().to_string();
    }
    sdp
}

/// Makes `sdp`'s audio RTP/SAVP with our `a=crypto` lines.
fn secure(sdp: &mut SessionDescription, crypto: &[CryptoAttribute]) {
    for media in &mut sdp.media {
        media.protocol = RtpProfile::Savp.as_str().to_string();
        for line in crypto {
            media.push_crypto(line);
        }
    }
}

/// Our `a=crypto` lines for an offer: one per suite of [`OFFERED_SUITES`], tags from 1, each with its own
/// fresh key. Keep them: the answer names the one the peer took.
pub fn offer_crypto() -> Vec<CryptoAttribute> {
    OFFERED_SUITES
        .iter()
        .zip(1u32..)
        .map(|(suite, tag)| CryptoAttribute {
            tag,
            suite: *suite,
            key_salt: generate_key_salt(*suite),
            lifetime: None,
            mki: None,
            session_params: Vec::new(),
        })
        .collect()
}

/// [`offer_sdp`] as RTP/SAVP with `crypto` (from [`offer_crypto`]).
pub fn secure_offer_sdp(
    codecs: &[CodecKind],
    local_ip: IpAddr,
    local_port: u16,
    session_id: u64,
    crypto: &[CryptoAttribute],
) -> SessionDescription {
    let mut sdp = offer_sdp(codecs, local_ip, local_port, session_id);
    secure(&mut sdp, crypto);
    sdp
}

/// RFC 4733 events 0–16 (digits, *, #, A–D, flash) on payload type `pt`.
fn add_telephone_event(pt: u8, rtpmaps: &mut Vec<voicera_sip::sdp::RtpMap>, fmtps: &mut Vec<(u8, String)>) {
    rtpmaps.push(voicera_sip::sdp::RtpMap {
        payload_type: pt,
        encoding: "telephone-event".into(),
        clock_rate: 8000,
        channels: 1,
    });
    fmtps.push((pt, "0-16".to_string()));
}

/// One audio stream from us, RTCP on the next port.
#[allow(clippy::too_many_arguments)] // each is one SDP field; a struct would only rename them
fn audio_sdp(
    local_ip: IpAddr,
    local_port: u16,
    (session_id, session_version): (u64, u64),
    formats: Vec<u8>,
    rtpmaps: Vec<voicera_sip::sdp::RtpMap>,
    fmtps: Vec<(u8, String)>,
    direction: Direction,
    ptime: u32,
) -> SessionDescription {
    SessionDescription {
        origin_user: "voicera".into(),
        session_id,
        session_version,
        origin_address: local_ip.to_string(),
        session_name: "voicera".into(),
        connection: Some(local_ip),
        direction: None,
        media: vec![MediaDescription {
            media: "audio".into(),
            port: local_port,
            protocol: "RTP/AVP".into(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            direction: Some(direction),
            ptime: Some(ptime),
            rtcp_port: Some(local_port + 1),
            other_attributes: Vec::new(),
        }],
    }
}

/// Payload type we use for telephone-event in offers.
pub const OFFER_DTMF_PT: u8 = 101;

/// Our SDP offer for an outgoing call: every configured codec in preference order, plus telephone-event.
pub fn offer_sdp(codecs: &[CodecKind], local_ip: IpAddr, local_port: u16, session_id: u64) -> SessionDescription {
    let mut next_dynamic = 96u8;
    let mut formats = Vec::new();
    let mut rtpmaps = Vec::new();
    let mut fmtps = Vec::new();
    for codec in codecs {
        let pt = codec.static_payload_type().unwrap_or_else(|| {
            let pt = next_dynamic;
            next_dynamic += 1;
            pt
        });
        formats.push(pt);
        rtpmaps.push(codec.rtpmap(pt));
        if *codec == CodecKind::Opus {
            fmtps.push((pt, "minptime=10;useinbandfec=1".to_string()));
        }
    }
    formats.push(OFFER_DTMF_PT);
    add_telephone_event(OFFER_DTMF_PT, &mut rtpmaps, &mut fmtps);
    let direction = Direction::SendRecv;
    audio_sdp(local_ip, local_port, (session_id, 1), formats, rtpmaps, fmtps, direction, DEFAULT_PTIME_MS)
}

/// Reads the peer's answer to our plain offer: the codec it chose (the first it lists that we offered).
pub fn accept_answer(answer: &SessionDescription, offered: &[CodecKind]) -> Result<MediaPlan, NegotiationError> {
    accept_answer_with(answer, offered, &[], SrtpPolicy::Off)
}

/// Reads the peer's answer to our offer with `our_crypto` (empty: we offered plain RTP/AVP): the codec it
/// chose, and the keys of the `a=crypto` line it answered (its tag and suite must be one of ours). A plain
/// answer to an SRTP offer is taken unless `policy` requires SRTP.
pub fn accept_answer_with(
    answer: &SessionDescription,
    offered: &[CodecKind],
    our_crypto: &[CryptoAttribute],
    policy: SrtpPolicy,
) -> Result<MediaPlan, NegotiationError> {
    let audio = answer.audio().filter(|m| m.port != 0 && m.rtp_profile().is_some()).ok_or(NegotiationError::NoAudio)?;
    // In an answer the peer's order rules: take its first format that is one of ours.
    let first_ours: Vec<CodecKind> = audio
        .formats
        .iter()
        .filter_map(|pt| audio.rtpmap(*pt))
        .filter_map(|map| offered.iter().copied().find(|c| c.matches(&map)))
        .take(1)
        .collect();
    let mut plan = plan_for(answer, audio, &first_ours)?;
    // The answer's direction is theirs; ours is its mirror.
    plan.direction = answer.direction_for(audio).answer();
    // Our offers are RTP/AVP or RTP/SAVP: the stream is what we offered, whatever profile the answer names.
    plan.feedback = false;
    let secure = audio.rtp_profile().is_some_and(RtpProfile::is_secure);
    let answered: Vec<CryptoAttribute> = audio.crypto().collect();
    if our_crypto.is_empty() {
        if secure {
            return Err(NegotiationError::SrtpOff);
        }
    } else if secure || !answered.is_empty() {
        let keys = answered
            .iter()
            .filter(|theirs| theirs.is_supported())
            .find_map(|theirs| {
                let ours = our_crypto.iter().find(|o| o.tag == theirs.tag && o.suite == theirs.suite)?;
                Some(SrtpKeys { local: ours.clone(), remote: theirs.clone() })
            })
            .ok_or_else(|| {
                NegotiationError::NoUsableCrypto(if answered.is_empty() {
                    describe_unusable_crypto(audio)
                } else {
                    "the answer's a=crypto matches no tag and suite we offered".to_string()
                })
            })?;
        plan.srtp = Some(keys);
    } else if policy == SrtpPolicy::Required {
        return Err(NegotiationError::SrtpRequired);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(m_line: &str, extra: &str) -> SessionDescription {
        let text =
            format!("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{m_line}\r\n{extra}");
        SessionDescription::parse(text.as_bytes()).unwrap()
    }

    const PREFS: [CodecKind; 4] = [CodecKind::Opus, CodecKind::G722, CodecKind::Pcmu, CodecKind::Pcma];

    #[test]
    fn picks_our_preferred_codec_and_keeps_dtmf() {
        let o = offer(
            "m=audio 4000 RTP/AVP 0 8 9 101",
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\n",
        );
        let plan = negotiate(&o, &PREFS).unwrap();
        assert_eq!((plan.codec, plan.payload_type, plan.dtmf_payload_type), (CodecKind::G722, 9, Some(101)));
        assert_eq!(plan.direction, Direction::RecvOnly);
        assert_eq!(plan.remote_rtp, "10.0.0.1:4000".parse().unwrap());
        let answer = answer_sdp(&plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1);
        let text = String::from_utf8(answer.to_bytes()).unwrap();
        assert!(text.contains("m=audio 10000 RTP/AVP 9 101"), "{text}");
        assert!(text.contains("a=recvonly"));
    }

    #[test]
    fn dynamic_opus_is_found_by_rtpmap() {
        let o = offer("m=audio 4000 RTP/AVP 96 0", "a=rtpmap:96 opus/48000/2\r\n");
        let plan = negotiate(&o, &PREFS).unwrap();
        assert_eq!((plan.codec, plan.payload_type), (CodecKind::Opus, 96));
    }

    #[test]
    fn offer_then_answer_round_trip() {
        let ours = offer_sdp(&PREFS, "127.0.0.1".parse().unwrap(), 12000, 7);
        let text = String::from_utf8(ours.to_bytes()).unwrap();
        assert!(text.contains("m=audio 12000 RTP/AVP 96 9 0 8 101"), "{text}");
        let answer = offer("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let plan = accept_answer(&answer, &PREFS).unwrap();
        assert_eq!((plan.codec, plan.payload_type, plan.dtmf_payload_type), (CodecKind::Pcmu, 0, Some(101)));
    }

    #[test]
    fn no_common_codec_names_what_was_offered() {
        let o = offer("m=audio 4000 RTP/AVP 18 3", "");
        assert_eq!(negotiate(&o, &PREFS), Err(NegotiationError::NoCommonCodec("18, 3".into())));
        let video = offer("m=video 4000 RTP/AVP 96", "");
        assert_eq!(negotiate(&video, &PREFS), Err(NegotiationError::NoAudio));
    }

    const KEY_80: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

    fn savp_offer(crypto: &str) -> SessionDescription {
        offer("m=audio 4000 RTP/SAVP 0 101", &format!("a=rtpmap:101 telephone-event/8000\r\n{crypto}"))
    }

    #[test]
    fn calls_we_place_offer_srtp_only_when_asked_to() {
        assert_eq!(SrtpPolicy::Offer.for_calls_we_place(), SrtpPolicy::Off);
        assert_eq!(SrtpPolicy::Required.for_calls_we_place(), SrtpPolicy::Required);
        assert_eq!(SrtpPolicy::Off.for_calls_we_place(), SrtpPolicy::Off);
        for policy in [SrtpPolicy::Off, SrtpPolicy::Offer, SrtpPolicy::Required] {
            assert_eq!(SrtpPolicy::from_config_name(policy.as_str()), Some(policy));
        }
        assert_eq!(SrtpPolicy::from_config_name("mandatory"), None);
    }

    /// Each policy against each kind of offer: plain, SRTP, and SRTP with no usable key.
    #[test]
    fn each_policy_answers_each_kind_of_offer() {
        use SrtpPolicy::*;
        let plain = offer("m=audio 4000 RTP/AVP 0", "");
        let secure = savp_offer(&format!("a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"));
        let weakened = savp_offer(&format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80} UNENCRYPTED_SRTP\r\n"));
        for policy in [Off, Offer] {
            assert_eq!(negotiate_with(&plain, &PREFS, policy, None).unwrap().srtp, None, "{policy:?}");
        }
        assert_eq!(negotiate_with(&plain, &PREFS, Required, None), Err(NegotiationError::SrtpRequired));
        assert!(NegotiationError::SrtpRequired.to_string().starts_with("SRTP is required"));
        assert_eq!(negotiate_with(&secure, &PREFS, Off, None), Err(NegotiationError::SrtpOff));
        assert_eq!(negotiate(&secure, &PREFS), Err(NegotiationError::SrtpOff), "plain negotiate is SRTP off");
        for policy in [Offer, Required] {
            let plan = negotiate_with(&secure, &PREFS, policy, None).unwrap();
            let keys = plan.srtp.expect("SRTP keys");
            assert_eq!((keys.remote.tag, keys.remote.suite), (7, SrtpSuite::AesCm128HmacSha1_80));
            assert_eq!((keys.local.tag, keys.local.suite), (7, SrtpSuite::AesCm128HmacSha1_80));
            assert_eq!(keys.local.key_salt.len(), 30);
            assert_ne!(keys.local.key_salt, keys.remote.key_salt, "our own key, not the peer's");
            assert_eq!((keys.local.lifetime, keys.local.mki, keys.local.session_params.len()), (None, None, 0));
            let why = negotiate_with(&weakened, &PREFS, policy, None).unwrap_err();
            assert_eq!(
                why,
                NegotiationError::NoUsableCrypto(
                    "tag 1 AES_CM_128_HMAC_SHA1_80: unsupported session parameter UNENCRYPTED_SRTP".into()
                )
            );
        }
        let no_crypto = savp_offer("");
        assert!(matches!(negotiate_with(&no_crypto, &PREFS, Offer, None), Err(NegotiationError::NoUsableCrypto(_))));
    }

    #[test]
    fn the_answer_is_savp_with_one_crypto_line_of_the_offered_tag_and_fresh_keys_per_call() {
        let offer_text = format!(
            "a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY_80}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_80}|2^20|1:4\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"
        );
        let o = savp_offer(&offer_text);
        let plan = negotiate_with(&o, &PREFS, SrtpPolicy::Offer, None).unwrap();
        let keys = plan.srtp.clone().unwrap();
        assert_eq!((keys.local.tag, keys.suite()), (2, SrtpSuite::AesCm128HmacSha1_32), "the offer's first usable");
        assert_eq!(keys.remote.lifetime, Some(1 << 20), "the peer's lifetime and MKI are kept for its direction");
        let answer = answer_sdp(&plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1);
        let text = String::from_utf8(answer.to_bytes()).unwrap();
        assert!(text.contains("m=audio 10000 RTP/SAVP 0 101"), "{text}");
        assert_eq!(text.matches("a=crypto:").count(), 1, "{text}");
        assert!(text.contains(&keys.local.to_attribute()), "{text}");
        let again = negotiate_with(&o, &PREFS, SrtpPolicy::Offer, None).unwrap().srtp.unwrap();
        assert_ne!(again.local.key_salt, keys.local.key_salt, "a fresh key per call");
    }

    /// A re-offer with the same line keeps every key; a new key of the same suite keeps ours (under the new
    /// tag); another suite gives a fresh key of ours.
    #[test]
    fn a_re_offer_keeps_or_rekeys() {
        let first = savp_offer(&format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"));
        let keys = negotiate_with(&first, &PREFS, SrtpPolicy::Offer, None).unwrap().srtp.unwrap();
        let same = negotiate_with(&first, &PREFS, SrtpPolicy::Required, Some(&keys)).unwrap().srtp.unwrap();
        assert_eq!(same, keys);
        let other_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
        let rekeyed = savp_offer(&format!("a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{other_key}\r\n"));
        let new = negotiate_with(&rekeyed, &PREFS, SrtpPolicy::Required, Some(&keys)).unwrap().srtp.unwrap();
        assert_eq!((new.local.tag, &new.local.key_salt), (4, &keys.local.key_salt));
        assert_ne!(new.remote, keys.remote);
        let gcm_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2w=";
        let gcm = savp_offer(&format!("a=crypto:9 AEAD_AES_256_GCM inline:{gcm_key}\r\n"));
        let new = negotiate_with(&gcm, &PREFS, SrtpPolicy::Required, Some(&keys)).unwrap().srtp.unwrap();
        assert_eq!((new.local.suite, new.local.key_salt.len()), (SrtpSuite::AeadAes256Gcm, 44));
    }

    /// A Linphone-style offer: SDES-keyed SRTP with RTCP feedback (RTP/SAVPF), `a=rtcp-fb` and `a=rtcp-mux`.
    fn savpf_offer(m_line: &str, extra: &str) -> SessionDescription {
        offer(
            m_line,
            &format!(
                "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp-fb:* trr-int 1000\r\n\
                 a=rtcp-fb:* ccm tmmbr\r\na=rtcp-mux\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n{extra}"
            ),
        )
    }

    fn text_of(sdp: &SessionDescription) -> String {
        String::from_utf8(sdp.to_bytes()).unwrap()
    }

    /// RTP/SAVPF and RTP/AVPF offers are answered in their own profile (an answer in RTP/SAVP is refused by
    /// strict stacks), with our keys, no `a=rtcp-fb` (we send no feedback, so the peer sends none) and no
    /// `a=rtcp-mux` (RTCP stays on its own port, which the offerer then uses: RFC 5761 §5.1.1).
    #[test]
    fn feedback_profiles_are_answered_in_kind() {
        let o = savpf_offer("m=audio 7078 RTP/SAVPF 96 0 8 101", "");
        for policy in [SrtpPolicy::Offer, SrtpPolicy::Required] {
            let plan = negotiate_with(&o, &PREFS, policy, None).unwrap();
            assert!(plan.feedback && plan.srtp.is_some(), "{policy:?}");
            assert_eq!(plan.profile(), RtpProfile::Savpf);
            assert_eq!((plan.codec, plan.payload_type, plan.dtmf_payload_type), (CodecKind::Opus, 96, Some(101)));
            let text = text_of(&answer_offer_sdp(&o, &plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1));
            assert!(text.contains("m=audio 10000 RTP/SAVPF 96 101\r\n"), "{text}");
            assert_eq!(text.matches("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:").count(), 1, "{text}");
            assert!(!text.contains("rtcp-fb") && !text.contains("rtcp-mux"), "{text}");
            assert!(text.contains("a=rtcp:10001\r\n"), "{text}");
            // The answer reads back as the same profile and keys, as the peer will read it.
            let back = SessionDescription::parse(text.as_bytes()).unwrap();
            let audio = back.audio().unwrap();
            assert_eq!(audio.rtp_profile(), Some(RtpProfile::Savpf));
            assert_eq!(audio.crypto().collect::<Vec<_>>(), [plan.srtp.clone().unwrap().local]);
        }
        assert_eq!(negotiate_with(&o, &PREFS, SrtpPolicy::Off, None), Err(NegotiationError::SrtpOff));

        let avpf = offer("m=audio 7078 RTP/AVPF 0 101", "a=rtpmap:101 telephone-event/8000\r\na=rtcp-fb:* nack\r\n");
        for policy in [SrtpPolicy::Off, SrtpPolicy::Offer] {
            let plan = negotiate_with(&avpf, &PREFS, policy, None).unwrap();
            assert_eq!((plan.profile(), plan.srtp.is_none()), (RtpProfile::Avpf, true));
            let text = text_of(&answer_offer_sdp(&avpf, &plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1));
            assert!(text.contains("m=audio 10000 RTP/AVPF 0 101\r\n") && !text.contains("crypto"), "{text}");
            // A session refresh without an offer: our offer of the call's stream keeps its profile.
            let text = text_of(&answer_sdp(&plan, "127.0.0.1".parse().unwrap(), 10000, 1, 2));
            assert!(text.contains("RTP/AVPF"), "{text}");
        }
        assert_eq!(negotiate_with(&avpf, &PREFS, SrtpPolicy::Required, None), Err(NegotiationError::SrtpRequired));
        assert_eq!(NegotiationError::SrtpRequired.to_string(), "SRTP is required: offer RTP/SAVP with a=crypto (SDES)");
        assert_eq!(
            (RtpProfile::Avp, RtpProfile::Savp),
            (negotiate(&offer("m=audio 1 RTP/AVP 0", ""), &PREFS).unwrap().profile(), {
                let plain =
                    offer("m=audio 1 RTP/SAVP 0", &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"));
                negotiate_with(&plain, &PREFS, SrtpPolicy::Offer, None).unwrap().profile()
            })
        );
    }

    /// What we cannot answer is refused with the reason: DTLS keying (WebRTC's), RTCP on the RTP port only.
    #[test]
    fn dtls_keying_and_rtcp_mux_only_are_refused_precisely() {
        let fingerprint = "a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n";
        let webrtc = offer("m=audio 9 UDP/TLS/RTP/SAVPF 111 0", &format!("a=rtpmap:111 opus/48000/2\r\n{fingerprint}"));
        for policy in [SrtpPolicy::Off, SrtpPolicy::Offer, SrtpPolicy::Required] {
            assert_eq!(negotiate_with(&webrtc, &PREFS, policy, None), Err(NegotiationError::DtlsSrtp), "{policy:?}");
        }
        assert!(NegotiationError::DtlsSrtp
            .to_string()
            .starts_with("DTLS-SRTP (a=fingerprint, UDP/TLS/RTP/SAVPF) is not supported"));
        // RTP/SAVPF keyed by DTLS only (a fingerprint, no a=crypto).
        let dtls_only = offer("m=audio 9 RTP/SAVPF 0", fingerprint);
        assert_eq!(negotiate_with(&dtls_only, &PREFS, SrtpPolicy::Offer, None), Err(NegotiationError::DtlsSrtp));
        // A fingerprint beside an unusable a=crypto: the a=crypto line is what to fix.
        let both =
            offer("m=audio 9 RTP/SAVPF 0", &format!("{fingerprint}a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"));
        assert_eq!(
            negotiate_with(&both, &PREFS, SrtpPolicy::Offer, None),
            Err(NegotiationError::NoUsableCrypto("tag 1 F8_128_HMAC_SHA1_80: unknown suite".into()))
        );
        // Without any a=crypto or fingerprint the old reason stands.
        assert_eq!(
            negotiate_with(&offer("m=audio 9 RTP/SAVPF 0", ""), &PREFS, SrtpPolicy::Offer, None),
            Err(NegotiationError::NoUsableCrypto("no a=crypto line (SDES keys are required for RTP/SAVP)".into()))
        );
        let mux_only = savpf_offer("m=audio 7078 RTP/SAVPF 0", "a=rtcp-mux-only\r\n");
        assert_eq!(negotiate_with(&mux_only, &PREFS, SrtpPolicy::Offer, None), Err(NegotiationError::RtcpMuxOnly));
        assert_eq!(
            negotiate(&offer("m=audio 4000 RTP/AVP 0", ""), &PREFS).map(|p| p.feedback),
            Ok(false),
            "a plain offer stays plain"
        );
    }

    /// The answer has the offer's m= lines in its order: the one we took answered, the others rejected with
    /// port 0 and their media, profile and formats (RFC 3264 §6).
    #[test]
    fn the_answer_keeps_every_m_line_of_the_offer() {
        let crypto = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n");
        // Audio and video, both SRTP with feedback (a video phone): the video is refused.
        let o = offer(
            "m=audio 7078 RTP/SAVPF 0 101",
            &format!("a=rtpmap:101 telephone-event/8000\r\n{crypto}m=video 9078 RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\n{crypto}"),
        );
        let plan = negotiate_with(&o, &PREFS, SrtpPolicy::Offer, None).unwrap();
        let answer = answer_offer_sdp(&o, &plan, "127.0.0.1".parse().unwrap(), 10000, 5, 6);
        let text = text_of(&answer);
        let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(m_lines, ["m=audio 10000 RTP/SAVPF 0 101", "m=video 0 RTP/SAVPF 96 97"], "{text}");
        assert_eq!(text.matches("a=crypto:").count(), 1, "keys only for the stream we take: {text}");
        assert!(text.contains("o=voicera 5 6 IN IP4 127.0.0.1"), "{text}");
        // Best-effort SRTP as two audio lines, the plain twin second: `offer` takes SRTP and rejects the twin,
        // `off` rejects the SRTP line and takes the twin.
        let twins = offer("m=audio 7078 RTP/SAVP 0", &format!("{crypto}m=audio 7080 RTP/AVP 0\r\n"));
        let expected = [
            (SrtpPolicy::Offer, ["m=audio 10000 RTP/SAVP 0", "m=audio 0 RTP/AVP 0"]),
            (SrtpPolicy::Off, ["m=audio 0 RTP/SAVP 0", "m=audio 10000 RTP/AVP 0"]),
        ];
        for (policy, m_lines) in expected {
            let plan = negotiate_with(&twins, &PREFS, policy, None).unwrap();
            assert_eq!(plan.remote_rtp.port(), if policy == SrtpPolicy::Off { 7080 } else { 7078 });
            let text = text_of(&answer_offer_sdp(&twins, &plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1));
            assert_eq!(text.lines().filter(|l| l.starts_with("m=")).collect::<Vec<_>>(), m_lines, "{policy:?}: {text}");
        }
        // A section the offer had already disabled stays disabled before the one we take.
        let disabled = offer("m=audio 0 RTP/AVP 0", "m=audio 7080 RTP/AVP 8\r\n");
        let plan = negotiate(&disabled, &PREFS).unwrap();
        let text = text_of(&answer_offer_sdp(&disabled, &plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1));
        assert_eq!(
            text.lines().filter(|l| l.starts_with("m=")).collect::<Vec<_>>(),
            ["m=audio 0 RTP/AVP 0", "m=audio 10000 RTP/AVP 8"],
            "{text}"
        );
        // Given an offer the plan does not come from, the answer is the plan's section alone.
        let other = offer("m=video 4000 RTP/AVP 96", "");
        let text = text_of(&answer_offer_sdp(&other, &plan, "127.0.0.1".parse().unwrap(), 10000, 1, 1));
        assert_eq!(text.lines().filter(|l| l.starts_with("m=")).collect::<Vec<_>>(), ["m=audio 10000 RTP/AVP 8"]);
    }

    /// Our SRTP offer and each kind of answer to it, under each policy that offers.
    #[test]
    fn answers_to_our_srtp_offer() {
        let crypto = offer_crypto();
        assert_eq!(
            crypto.iter().map(|c| (c.tag, c.suite)).collect::<Vec<_>>()[..2],
            [(1, SrtpSuite::AesCm128HmacSha1_80), (2, SrtpSuite::AeadAes256Gcm)]
        );
        let ours = secure_offer_sdp(&PREFS, "127.0.0.1".parse().unwrap(), 12000, 7, &crypto);
        let text = String::from_utf8(ours.to_bytes()).unwrap();
        assert!(text.contains("m=audio 12000 RTP/SAVP 96 9 0 8 101"), "{text}");
        assert_eq!(
            SessionDescription::parse(text.as_bytes()).unwrap().audio().unwrap().crypto().collect::<Vec<_>>(),
            crypto
        );
        let theirs = format!(
            "a=crypto:2 AEAD_AES_256_GCM inline:{}\r\n",
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2w="
        );
        let secure = savp_offer(&theirs);
        for policy in [SrtpPolicy::Offer, SrtpPolicy::Required] {
            let keys = accept_answer_with(&secure, &PREFS, &crypto, policy).unwrap().srtp.unwrap();
            assert_eq!(keys.local, crypto[1]);
            assert_eq!((keys.remote.tag, keys.remote.suite), (2, SrtpSuite::AeadAes256Gcm));
        }
        let plain = offer("m=audio 4000 RTP/AVP 0", "");
        assert_eq!(accept_answer_with(&plain, &PREFS, &crypto, SrtpPolicy::Offer).unwrap().srtp, None);
        assert_eq!(
            accept_answer_with(&plain, &PREFS, &crypto, SrtpPolicy::Required),
            Err(NegotiationError::SrtpRequired)
        );
        let wrong_tag = savp_offer(&format!("a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:{KEY_80}\r\n"));
        assert!(matches!(
            accept_answer_with(&wrong_tag, &PREFS, &crypto, SrtpPolicy::Offer),
            Err(NegotiationError::NoUsableCrypto(_))
        ));
        assert_eq!(accept_answer(&secure, &PREFS), Err(NegotiationError::SrtpOff), "SRTP answer to a plain offer");
    }
}
