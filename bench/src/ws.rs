//! `voicera-bench ws`: N concurrent Vobiz-protocol media streams against the built-in `bench` agent (real
//! engine, instant stand-in models), each a caller at real pace: μ-law 20 ms frames, a 1.2 s utterance every
//! 5 s. Measured from outside: server CPU and RSS per stream (/proc), and per turn the time from the end of
//! the caller's speech to the first `playAudio` of the reply, minus the VAD's stop time (0.4 s, the
//! original's parameter) — the latency the server adds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::run_load;
use crate::turns::{self, AgentReport, CallerScript, TurnTimer, TURN_FRAMES};

pub(crate) fn run(voicera: &Path, streams: usize, seconds: u64, work: &Path) -> Result<AgentReport> {
    let dir = work.join(format!("ws-{streams}"));
    let label = ("ws-vobiz-bench-agent", "stream");
    run_load(voicera, &dir, "34000-34100", label, (streams, seconds), |server| {
        let url = format!("ws://{}/agent/bench", server.http);
        move |i, latencies| {
            let url = url.clone();
            async move { caller(i, &url, seconds, latencies).await }
        }
    })
}

async fn caller(index: usize, url: &str, seconds: u64, latencies: Arc<Mutex<Vec<f64>>>) -> Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let stream_id = format!("bench-{index}");
    let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":format!("call-{index}"),"streamId":stream_id,"accountId":"bench","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}});
    ws.send(Message::Text(start.to_string().into())).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let script = CallerScript::default();
    let payloads: Vec<String> = (0..TURN_FRAMES).map(|n| b64.encode(script.frame(n))).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let began = Instant::now();
    let mut n = 0usize;
    let mut turns = TurnTimer::default();
    while began.elapsed() < Duration::from_secs(seconds) {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if turns.waiting() && text.as_str().contains("\"playAudio\"") {
                        turns.reply_heard(&latencies);
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => bail!("stream {index} closed early"),
            },
            _ = tick.tick() => {
                let payload = &payloads[n % TURN_FRAMES];
                let frame = format!(r#"{{"sequenceNumber":{},"streamId":"{stream_id}","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{n},"payload":"{payload}"}}}}"#, n + 1, n * 20);
                ws.send(Message::Text(frame.into())).await?;
                turns.frame_sent(n);
                n += 1;
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

pub(crate) fn markdown(reports: &[AgentReport]) -> String {
    turns::markdown(
        "Provider media streams (Vobiz protocol, bench agent)",
        reports,
        "Server-added latency = end of speech (the last speech frame sent) → first `playAudio` of the reply − \
         400 ms VAD stop time, measured at the client. The server hears each frame as it arrives and sends the \
         reply's first frames in the same step, so what remains is parsing, the engine and the socket, plus \
         waiting for CPU when both share the machine.",
    )
}
