//! SDP offer/answer for audio (RFC 3264): pick the codec by our preference among those offered, keep
//! telephone-event when offered, answer the direction, and describe the result as a [`MediaPlan`].

use std::net::{IpAddr, SocketAddr};

use voicera_sip::sdp::{Direction, MediaDescription, SessionDescription};

use crate::codec::CodecKind;

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
}

/// Why an offer cannot be accepted; each maps to `488 Not Acceptable Here`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The offer has no audio stream we can carry.
    #[error("offer has no audio stream over RTP/AVP")]
    NoAudio,
    /// None of the offered codecs is one we speak (the offered ones, for the log).
    #[error("no common codec (offered: {0})")]
    NoCommonCodec(String),
    /// No `c=` line gives an address to send media to.
    #[error("offer has no usable connection address")]
    NoConnection,
}

/// Default packet time.
pub const DEFAULT_PTIME_MS: u32 = 20;

/// Chooses the stream parameters for `offer` given our codec preference order.
pub fn negotiate(offer: &SessionDescription, preference: &[CodecKind]) -> Result<MediaPlan, NegotiationError> {
    let audio = offer
        .media
        .iter()
        .find(|m| m.media == "audio" && m.port != 0 && m.protocol.to_ascii_uppercase().starts_with("RTP/AVP"))
        .ok_or(NegotiationError::NoAudio)?;
    let (codec, payload_type) = preference
        .iter()
        .find_map(|kind| {
            audio.formats.iter().find_map(|pt| audio.rtpmap(*pt).filter(|m| kind.matches(m)).map(|_| (*kind, *pt)))
        })
        .ok_or_else(|| NegotiationError::NoCommonCodec(describe_formats(audio)))?;
    let dtmf_payload_type = audio.formats.iter().copied().find(|pt| {
        audio.rtpmap(*pt).is_some_and(|m| m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000)
    });
    let ip = offer.connection_for(audio).ok_or(NegotiationError::NoConnection)?;
    let remote_rtcp_port = audio.rtcp_port.unwrap_or(audio.port.saturating_add(1));
    Ok(MediaPlan {
        codec,
        payload_type,
        dtmf_payload_type,
        remote_rtp: SocketAddr::new(ip, audio.port),
        remote_rtcp: SocketAddr::new(ip, remote_rtcp_port),
        direction: offer.direction_for(audio).answer(),
        ptime: DEFAULT_PTIME_MS,
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

/// Our SDP for `plan`, with RTP on `local_ip:local_port`. `session_version` must grow with each new offer or
/// answer in the dialog (RFC 3264 §8).
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
    audio_sdp(local_ip, local_port, (session_id, session_version), formats, rtpmaps, fmtps, plan.direction, plan.ptime)
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

/// Reads the peer's answer to our offer: the codec it chose (the first it lists that we offered).
pub fn accept_answer(answer: &SessionDescription, offered: &[CodecKind]) -> Result<MediaPlan, NegotiationError> {
    let audio = answer.audio().ok_or(NegotiationError::NoAudio)?;
    // In an answer the peer's order rules: take its first format that is one of ours.
    let first_ours: Vec<CodecKind> = audio
        .formats
        .iter()
        .filter_map(|pt| audio.rtpmap(*pt))
        .filter_map(|map| offered.iter().copied().find(|c| c.matches(&map)))
        .take(1)
        .collect();
    let mut plan = negotiate(answer, &first_ours)?;
    // The answer's direction is theirs; ours is its mirror.
    plan.direction = answer.direction_for(audio).answer();
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
}
