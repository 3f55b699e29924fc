//! The far end's media of a campaign call: an RTP socket that plays a clip (PCMA) to each stream it hears and
//! records what each sent (per packet: when, and how loud), so a test can tell when our agent spoke.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voicera_media::codec::g711::{alaw_to_linear, linear_to_alaw};

/// The SSRC the peer sends as (and the pcaps sipp plays as early media before it: one source across the answer).
pub(crate) const PEER_SSRC: u32 = 77;

/// Packets (20 ms of PCMA) louder than this RMS carry speech; the server's silence decodes to ±8.
pub(crate) const VOICED_RMS: f64 = 200.0;

/// What the far end heard of one call (one RTP stream, by SSRC): per packet, ms since its first packet and the
/// packet's level (RMS of the decoded samples).
#[derive(Debug, Clone, Default)]
pub(crate) struct Heard {
    pub(crate) packets: Vec<(u64, f64)>,
}

impl Heard {
    pub(crate) fn voiced(&self) -> impl Iterator<Item = u64> + '_ {
        self.packets.iter().filter(|(_, rms)| *rms > VOICED_RMS).map(|(at, _)| *at)
    }

    pub(crate) fn last(&self) -> u64 {
        self.packets.last().map_or(0, |p| p.0)
    }
}

/// The test's end of the calls' media: an RTP socket that plays `clip` (8 kHz PCM, sent as PCMA every 20 ms,
/// then silence) to each new stream it hears, from that stream's first packet on, and keeps what each sent.
pub(crate) struct MediaPeer {
    pub(crate) port: u16,
    heard: Arc<Mutex<Vec<Heard>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A stream being played to.
struct Playing {
    ssrc: u32,
    from: SocketAddr,
    started: Instant,
    sent: usize,
    last_heard: Instant,
    index: usize,
}

impl MediaPeer {
    pub(crate) fn start(clip: Vec<i16>) -> MediaPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
        let port = socket.local_addr().unwrap().port();
        let heard: Arc<Mutex<Vec<Heard>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopped) = (Arc::clone(&heard), Arc::clone(&stop));
        let payloads: Vec<Vec<u8>> = clip.chunks(160).map(|c| c.iter().map(|s| linear_to_alaw(*s)).collect()).collect();
        let thread = std::thread::spawn(move || {
            let mut playing: Vec<Playing> = Vec::new();
            let mut buf = [0u8; 2048];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let now = Instant::now();
                    let header = 12 + 4 * usize::from(buf[0] & 0x0f);
                    if n > header && buf[1] & 0x7f == 8 {
                        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                        let stream = match playing.iter_mut().position(|p| p.ssrc == ssrc) {
                            Some(at) => &mut playing[at],
                            None => {
                                let mut heard = kept.lock().unwrap();
                                heard.push(Heard::default());
                                let index = heard.len() - 1;
                                playing.push(Playing { ssrc, from, started: now, sent: 0, last_heard: now, index });
                                playing.last_mut().unwrap()
                            }
                        };
                        stream.last_heard = now;
                        stream.from = from;
                        let samples: Vec<f64> = buf[header..n].iter().map(|b| f64::from(alaw_to_linear(*b))).collect();
                        let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
                        let at = now.duration_since(stream.started).as_millis() as u64;
                        kept.lock().unwrap()[stream.index].packets.push((at, rms));
                    }
                }
                let now = Instant::now();
                for stream in &mut playing {
                    // A stream unheard for a second has hung up: nothing more is sent to it.
                    if now.duration_since(stream.last_heard) > Duration::from_secs(1) {
                        continue;
                    }
                    while stream.started + Duration::from_millis(20 * stream.sent as u64) <= now {
                        let mut packet = [0u8; 172];
                        let seq = stream.sent as u16;
                        let h = voicera_media::rtp::write_rtp_header(
                            &mut packet,
                            seq == 0,
                            8,
                            seq,
                            seq as u32 * 160,
                            PEER_SSRC,
                        );
                        match payloads.get(stream.sent) {
                            Some(payload) => packet[h..h + payload.len()].copy_from_slice(payload),
                            None => packet[h..h + 160].fill(linear_to_alaw(0)),
                        }
                        let _ = socket.send_to(&packet[..h + 160], stream.from);
                        stream.sent += 1;
                    }
                }
            }
        });
        MediaPeer { port, heard, stop, thread: Some(thread) }
    }

    pub(crate) fn heard(&self) -> Vec<Heard> {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for MediaPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
