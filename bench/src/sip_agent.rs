//! `voicera-bench sip-agent`: N concurrent SIP calls to the built-in `bench` agent (real SIP, RTP, jitter
//! buffer, VAD and turn engine; instant stand-in models), each a caller at real pace: PCMU 20 ms packets with
//! a 1.2 s utterance every 5 s ([`crate::turns`]). Measured from outside: server CPU and RSS per call (/proc),
//! and per turn the time from the last RTP packet of speech to the first RTP packet of the reply, minus the
//! VAD's stop time: the latency the server adds, jitter buffer included.
//!
//! `voicera-bench sip-echo-ua` runs the same callers against the `echo` service: the media path's CPU per call
//! without sipp, whose pcap playback opens a raw socket per call that every loopback packet of the server is
//! then checked against (a kernel cost charged to the server, growing with the number of calls).
//!
//! The caller is a small SIP user agent written here (INVITE with an SDP offer, ACK, BYE over UDP, with
//! retransmission), so that each call's RTP can be timed per packet; sipp cannot measure a reply.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::net::UdpSocket;

use crate::run_load;
use crate::turns::{self, AgentReport, CallerScript, TurnTimer};

/// A reply frame is agent audio when its mean magnitude is above this (the stand-in voice is a tone at
/// 8000; the server sends digital silence between replies).
const REPLY_LEVEL: f64 = 1000.0;
/// SIP timer T1: the first retransmission interval over UDP.
const T1: Duration = Duration::from_millis(500);

/// Which service the callers reach.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Callee {
    /// The bench agent: turns are timed.
    BenchAgent,
    /// The echo service: CPU and memory only (an echo has no turns).
    Echo,
}

impl Callee {
    fn user(self) -> &'static str {
        match self {
            Callee::BenchAgent => "bench",
            Callee::Echo => "echo",
        }
    }
}

pub(crate) fn run(voicera: &Path, calls: usize, seconds: u64, work: &Path, callee: Callee) -> Result<AgentReport> {
    let dir = work.join(format!("sip-{}-{calls}", callee.user()));
    let label = match callee {
        Callee::BenchAgent => ("sip-pcmu-bench-agent", "call"),
        Callee::Echo => ("sip-pcmu-echo-ua", "call"),
    };
    run_load(voicera, &dir, "30000-34000", label, (calls, seconds), |server| {
        let sip = server.sip;
        move |i, latencies| caller(i, sip, callee, seconds, latencies)
    })
}

/// One call: set up, talk at real pace while timing the replies, hang up.
async fn caller(
    index: usize,
    server: SocketAddr,
    callee: Callee,
    seconds: u64,
    latencies: Arc<Mutex<Vec<f64>>>,
) -> Result<()> {
    let sip = UdpSocket::bind("127.0.0.1:0").await?;
    let rtp = UdpSocket::bind("127.0.0.1:0").await?;
    let mut dialog = Dialog::new(index, sip.local_addr()?, server, callee.user());
    let offer = format!(
        "v=0\r\no=- {index} 1 IN IP4 127.0.0.1\r\ns=bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
        rtp.local_addr()?.port()
    );
    let answer = dialog.request(&sip, "INVITE", &offer).await.context("INVITE")?;
    let media = answer_media(&answer).ok_or_else(|| anyhow!("call {index}: no audio in the answer"))?;
    dialog.ack(&sip).await?;

    let script = CallerScript::default();
    let ssrc = 0x5eed_0000 | index as u32;
    let mut packet = [0u8; 12 + 160];
    let mut incoming = [0u8; 2048];
    let mut signalling = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let began = Instant::now();
    let mut n = 0usize;
    let mut turns = TurnTimer::default();
    while began.elapsed() < Duration::from_secs(seconds) {
        tokio::select! {
            received = rtp.recv_from(&mut incoming) => {
                let (len, _) = received?;
                let timed = matches!(callee, Callee::BenchAgent);
                if timed && turns.waiting() && len > 12 && mean_magnitude(&incoming[12..len]) > REPLY_LEVEL {
                    turns.reply_heard(&latencies);
                }
            }
            received = sip.recv_from(&mut signalling) => {
                let (len, _) = received?;
                let message = String::from_utf8_lossy(&signalling[..len]);
                if message.starts_with("BYE ") {
                    bail!("call {index}: the server hung up after {:?}", began.elapsed());
                }
                if message.starts_with("SIP/2.0 200") && cseq_method(&message) == Some("INVITE") {
                    // Our ACK was lost: the 200 is retransmitted until it arrives.
                    dialog.ack(&sip).await?;
                }
            }
            _ = tick.tick() => {
                let seq = n as u16;
                let timestamp = (n as u32).wrapping_mul(160);
                packet[0] = 0x80;
                packet[1] = if n == 0 { 0x80 } else { 0 };
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
                packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                packet[12..].copy_from_slice(script.frame(n));
                rtp.send_to(&packet, media).await?;
                turns.frame_sent(n);
                n += 1;
            }
        }
    }
    dialog.request(&sip, "BYE", "").await.context("BYE")?;
    Ok(())
}

/// The caller's side of one SIP dialog.
pub(crate) struct Dialog {
    index: usize,
    /// The Request-URI user called.
    user: &'static str,
    local: SocketAddr,
    server: SocketAddr,
    call_id: String,
    cseq: u32,
    /// The To header of the 2xx, with the server's tag.
    to: Option<String>,
    invite_cseq: u32,
}

impl Dialog {
    pub(crate) fn new(index: usize, local: SocketAddr, server: SocketAddr, user: &'static str) -> Self {
        let call_id = format!("bench-{index}-{}@127.0.0.1", std::process::id());
        Self { index, user, local, server, call_id, cseq: 0, to: None, invite_cseq: 0 }
    }

    fn message(&self, method: &str, cseq: u32, branch: &str, body: &str) -> String {
        let to = self.to.clone().unwrap_or_else(|| format!("<sip:{}@{}>", self.user, self.server));
        let content_type = if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
        format!(
            "{method} sip:{user}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:caller{index}@127.0.0.1>;tag=c{index}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller{index}@{local}>\r\n\
             {content_type}Content-Length: {}\r\n\r\n{body}",
            body.len(),
            user = self.user,
            server = self.server,
            local = self.local,
            index = self.index,
            call_id = self.call_id,
        )
    }

    /// Sends a request and waits for its final response (retransmitting per timer A/E), which must be 2xx.
    /// Returns the response's body.
    pub(crate) async fn request(&mut self, socket: &UdpSocket, method: &str, body: &str) -> Result<String> {
        self.cseq += 1;
        let cseq = self.cseq;
        let branch = format!("z9hG4bK-{}-{cseq}", self.index);
        let message = self.message(method, cseq, &branch, body);
        let deadline = Instant::now() + 64 * T1;
        let mut wait = T1;
        let mut buf = [0u8; 4096];
        socket.send_to(message.as_bytes(), self.server).await?;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                bail!("no final response to {method}");
            }
            match tokio::time::timeout(wait.min(remaining), socket.recv_from(&mut buf)).await {
                Err(_) => {
                    socket.send_to(message.as_bytes(), self.server).await?;
                    wait = (wait * 2).min(Duration::from_secs(4));
                }
                Ok(received) => {
                    let (len, _) = received?;
                    let response = String::from_utf8_lossy(&buf[..len]).into_owned();
                    if !response.starts_with("SIP/2.0 ") || !response.contains(&format!("CSeq: {cseq} {method}")) {
                        continue; // a request from the server, or a stray retransmission
                    }
                    let status: u16 = response.get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0);
                    if status < 200 {
                        continue;
                    }
                    if status >= 300 {
                        bail!("{method} got {}", response.lines().next().unwrap_or_default());
                    }
                    if method == "INVITE" {
                        self.to = header(&response, "To").map(str::to_string);
                        self.invite_cseq = cseq;
                    }
                    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
                    return Ok(body);
                }
            }
        }
    }

    pub(crate) async fn ack(&self, socket: &UdpSocket) -> Result<()> {
        let branch = format!("z9hG4bK-{}-ack", self.index);
        // ACK carries the INVITE's sequence number with its own method.
        let message = self.message("ACK", self.invite_cseq, &branch, "");
        socket.send_to(message.as_bytes(), self.server).await?;
        Ok(())
    }
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

pub(crate) fn cseq_method(message: &str) -> Option<&str> {
    header(message, "CSeq")?.split_whitespace().nth(1)
}

/// Where the answer's audio goes: its `c=` address and `m=audio` port.
pub(crate) fn answer_media(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp.lines().find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?.trim().parse().ok()?;
    let port = sdp.lines().find_map(|l| l.trim().strip_prefix("m=audio "))?.split_whitespace().next()?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

pub(crate) fn mean_magnitude(ulaw: &[u8]) -> f64 {
    let sum: f64 = ulaw.iter().map(|b| (voicera_media::codec::g711::ulaw_to_linear(*b) as f64).abs()).sum();
    sum / ulaw.len().max(1) as f64
}

pub(crate) fn markdown(reports: &[AgentReport]) -> String {
    turns::markdown(
        "SIP calls to the bench agent (PCMU, real engine, instant stand-in models)",
        reports,
        "The callers are SIP user agents in this crate. Server-added latency = end of speech (the last RTP \
         packet of speech sent) → first RTP packet of the reply − 400 ms VAD stop time, measured at the caller. \
         It includes the wait for the call's 20 ms tick (the server reads RTP once per tick) and the jitter \
         buffer.",
    )
}

pub(crate) fn echo_markdown(reports: &[AgentReport]) -> String {
    turns::markdown(
        "SIP echo calls from the bench's own user agents (PCMU)",
        reports,
        "The same callers as the agent bench, calling `echo`: every packet goes through depacketize → jitter \
         buffer → decode → 16 kHz → encode → paced egress. Unlike sipp's pcap playback, these callers open no \
         raw sockets, so the figures compare with the bare C echo floor (c-baseline.md). An echo has no turns.",
    )
}
