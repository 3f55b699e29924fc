//! Builds the RTP capture sipp plays into each call: espeak-ng speech, 8 kHz, μ-law, one RTP packet per
//! 20 ms, looped to the requested length, in classic libpcap format (Ethernet/IPv4/UDP; sipp rewrites the
//! addresses and ports to the call's). The same speech as raw μ-law ([`speech_ulaw`]) is what sipp's
//! `rtp_stream` sends from an ordinary UDP socket.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use voicera_media::codec::g711::linear_to_ulaw;

const SENTENCE: &str = "Hello, I would like to book an appointment for tomorrow morning, please. \
    Could you also tell me what time the office opens?";

/// The test sentence as 8 kHz 16-bit samples (espeak-ng, resampled by sox; the files are written in `dir`).
fn speech(dir: &Path) -> Result<Vec<i16>> {
    let wav = dir.join("speech.wav");
    let raw = dir.join("speech8k.raw");
    let ok = Command::new("espeak-ng").args(["-v", "en-us", "-w"]).arg(&wav).arg(SENTENCE).status()?.success();
    if !ok {
        bail!("espeak-ng failed");
    }
    let ok = Command::new("sox")
        .arg(&wav)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw"])
        .arg(&raw)
        .args(["pad", "0", "0.5"])
        .status()?
        .success();
    if !ok {
        bail!("sox failed");
    }
    let bytes = std::fs::read(&raw).context("read speech")?;
    Ok(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
}

/// The sentence once as raw μ-law (sipp's `rtp_stream` loops it).
pub(crate) fn speech_ulaw(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let speech = speech(path.parent().unwrap_or(Path::new(".")))?;
    // Whole 20 ms frames, so every packet sipp sends is full.
    let frames = speech.len() / 160;
    std::fs::write(path, speech[..frames * 160].iter().map(|s| linear_to_ulaw(*s)).collect::<Vec<u8>>())?;
    Ok(())
}

pub(crate) fn speech_pcap(path: &Path, seconds: f64) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let speech = speech(path.parent().unwrap_or(Path::new(".")))?;
    let frames = (seconds * 50.0) as usize;
    let mut out = Vec::with_capacity(24 + frames * 230);
    // Global header: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for frame in 0..frames {
        let mut rtp = vec![0x80, if frame == 0 { 0x80 } else { 0x00 }];
        rtp.extend_from_slice(&(frame as u16).to_be_bytes());
        rtp.extend_from_slice(&((frame * 160) as u32).to_be_bytes());
        rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        for i in 0..160 {
            rtp.push(linear_to_ulaw(speech[(frame * 160 + i) % speech.len()]));
        }
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut packet = vec![0u8; 12];
        packet.extend_from_slice(&[0x08, 0x00]);
        let mut ip =
            vec![0x45, 0, (ip_len >> 8) as u8, ip_len as u8, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        let checksum = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        packet.extend_from_slice(&ip);
        packet.extend_from_slice(&6000u16.to_be_bytes());
        packet.extend_from_slice(&6000u16.to_be_bytes());
        packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
        packet.extend_from_slice(&rtp);
        let micros = frame as u64 * 20_000;
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&packet);
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks_exact(2).map(|w| u16::from_be_bytes([w[0], w[1]]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
