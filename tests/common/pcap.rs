//! Audio for sipp's `play_pcap_audio`: 8 kHz PCM written as a pcap of PCMA RTP packets (Ethernet, IPv4, UDP,
//! RTP), one every 20 ms, as a capture of a phone's stream would hold them. sipp sends the UDP payloads to the
//! call's media address with the capture's timing.

use std::path::Path;

use voicera_media::codec::g711::linear_to_alaw;

use super::media_peer::PEER_SSRC;

/// Writes `pcm` (8 kHz) to `path` as PCMA RTP in a pcap, as the media peer's source ([`PEER_SSRC`]). Sequence
/// numbers and timestamps end just before the 16-bit (32-bit) wrap, so the test's own media peer, carrying on
/// after the answer from sequence and timestamp 0, continues the same stream in order: one source, as a
/// phone or voicemail system that answers its own early media is.
pub(crate) fn write_pcma(path: &Path, pcm: &[i16]) {
    let frames: Vec<&[i16]> = pcm.chunks(160).collect();
    let first_sequence = 0u16.wrapping_sub(frames.len() as u16);
    let first_timestamp = 0u32.wrapping_sub(frames.len() as u32 * 160);
    let mut out = Vec::with_capacity(24 + frames.len() * 230);
    // Global header: magic, version 2.4, GMT offset, accuracy, snaplen, link type Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        let mut rtp = [0u8; 12 + 160];
        let sequence = first_sequence.wrapping_add(i as u16);
        let timestamp = first_timestamp.wrapping_add(i as u32 * 160);
        voicera_media::rtp::write_rtp_header(&mut rtp, i == 0, 8, sequence, timestamp, PEER_SSRC);
        for (byte, sample) in rtp[12..].iter_mut().zip(frame.iter().chain(std::iter::repeat(&0))) {
            *byte = linear_to_alaw(*sample);
        }
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut packet = Vec::with_capacity(14 + ip_len);
        packet.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
        packet.extend_from_slice(&[0x45, 0]);
        packet.extend_from_slice(&(ip_len as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        packet.extend_from_slice(&6000u16.to_be_bytes());
        packet.extend_from_slice(&6002u16.to_be_bytes());
        packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
        packet.extend_from_slice(&rtp);
        let micros = i as u64 * 20_000;
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&packet);
    }
    std::fs::write(path, out).unwrap();
}
