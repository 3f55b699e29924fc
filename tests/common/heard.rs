//! What a caller heard: a pjsua2 softphone's recording of a SIP call, or the audio a provider received over a
//! Vobiz media stream, transcribed by Whisper (`voicera models stt`) from the shared model cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::provider::{answer_v3, stream_url, ulaw_sample};
use super::{models_cache, run_peer, Server};

/// What Whisper (`model`: a speech-to-text model of the cache, e.g. `whisper-tiny.en`) hears in the WAV at
/// `path`, lowercased.
pub(crate) fn transcribe_with(path: &Path, model: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["models", "stt", "--model", model])
        .arg(path)
        .env("VOICERA_MODELS_DIR", models_cache())
        .output()
        .unwrap();
    assert!(out.status.success(), "models stt: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_lowercase()
}

/// What Whisper tiny.en hears in the WAV at `path`, lowercased.
pub(crate) fn transcribe(path: &Path) -> String {
    transcribe_with(path, "whisper-tiny.en")
}

/// Calls `user` with a silent pjsua2 softphone (tests/peers/pjsua_listen.py, G.722) that records until the
/// agent hangs up; the recording (`<server dir>/<name>/heard.wav`).
pub(crate) fn listen_over_sip(server: &Server, user: &str, name: &str) -> PathBuf {
    let workdir = server.dir.join(name);
    let uri = format!("sip:{user}@{}", server.sip);
    run_peer(server, "pjsua_listen.py", &[uri.as_ref(), workdir.as_os_str(), "30".as_ref()]);
    workdir.join("heard.wav")
}

/// A Vobiz call `uuid` from +919876543210 to `number` as Vobiz places it: the signed answer webhook (nonce
/// `nonce`), then the media stream its answer document names, in the format the document asks for. The caller
/// is silent (a quiet frame every 20 ms); every `playAudio` frame is kept until the agent ends the stream
/// (`stop`, or closing it). The agent's audio as a WAV (`<server dir>/<uuid>.wav`, at the stream's rate).
pub(crate) fn listen_over_vobiz(server: &Server, [uuid, number, nonce]: [&str; 3]) -> PathBuf {
    let pairs = [("CallUUID", uuid), ("From", "+919876543210"), ("To", number)];
    let (status, xml) = answer_v3(server, "X-Vobiz-Signature-V3", "tok", "/telephony/vobiz/answer", &pairs, nonce);
    assert_eq!(status, 200, "{xml}");
    let url = stream_url(&xml);
    // `<Stream … contentType="audio/x-mulaw;rate=8000">`: what Vobiz then sends and expects.
    let content_type = xml
        .split_once("contentType=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("audio/x-mulaw;rate=8000", |(value, _)| value);
    let (encoding, rate) = content_type.split_once(";rate=").expect("contentType names its rate");
    let rate: u32 = rate.parse().unwrap();
    let quiet_frame = match encoding {
        "audio/x-mulaw" => vec![0xffu8; rate as usize / 50],
        _ => vec![0u8; rate as usize / 50 * 2],
    };
    let start = json!({"sequenceNumber": 0, "event": "start", "start": {"callId": uuid, "streamId": "heard-1",
        "accountId": "1", "tracks": ["inbound"], "mediaFormat": {"encoding": encoding, "sampleRate": rate}}});
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (pcm, stopped) = runtime.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("the stream connects");
        ws.send(Message::Text(start.to_string().into())).await.unwrap();
        let payload = base64::engine::general_purpose::STANDARD.encode(&quiet_frame);
        let quiet = json!({"event": "media", "streamId": "heard-1", "media": {"payload": payload}}).to_string();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let (mut pcm, mut stopped) = (Vec::<i16>::new(), false);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap();
                        match v["event"].as_str() {
                            Some("playAudio") => decode_play(&v, &mut pcm),
                            Some("stop") => stopped = true,
                            _ => {}
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                },
                _ = tick.tick() => {
                    assert!(tokio::time::Instant::now() < deadline, "the agent did not end the stream within 30 s");
                    // The agent may close first; a send into a closing socket is no failure here.
                    let _ = ws.send(Message::Text(quiet.clone().into())).await;
                }
            }
        }
        (pcm, stopped)
    });
    assert!(stopped, "the agent ends the Vobiz stream with stop");
    assert!(pcm.len() > rate as usize, "{} samples of agent audio", pcm.len());
    let path = server.dir.join(format!("{uuid}.wav"));
    std::fs::write(&path, voicera_models_local::wav::encode_pcm16(rate, &pcm)).unwrap();
    path
}

/// Appends the samples of one `playAudio` frame (μ-law or little-endian L16, as its `contentType` says).
fn decode_play(frame: &Value, pcm: &mut Vec<i16>) {
    let media = &frame["media"];
    let bytes = base64::engine::general_purpose::STANDARD.decode(media["payload"].as_str().unwrap()).unwrap();
    if media["contentType"].as_str().unwrap_or_default().starts_with("audio/x-mulaw") {
        pcm.extend(bytes.iter().map(|b| ulaw_sample(*b)));
    } else {
        pcm.extend(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
    }
}
