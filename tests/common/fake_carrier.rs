//! A telephony provider played by the test: Vobiz's REST API and what its network does with a call it was asked
//! to place. `POST /api/v1/Account/{auth_id}/Call/` is checked byte for byte against Vobiz's documentation
//! (`X-Auth-ID`/`X-Auth-Token`, a JSON body with `from`, `to`, `answer_url`/`answer_method`,
//! `hangup_url`/`hangup_method`, `ring_timeout`) and answered `201 {"api_id", "message": "call fired",
//! "request_uuid"}`; then, per the callee's script, the fake posts a signed (`X-Vobiz-Signature-V3`) hang-up
//! report for a busy line or a ring-out, or answers: it fetches the answer URL (signed), opens the media
//! WebSocket the document names, sends Vobiz's `start` and 20 ms μ-law `media` frames of the callee's audio,
//! keeps the level of every `playAudio` frame our server sends, and when either side ends the stream posts
//! the final report (`Event=Hangup`, `CallStatus=completed`). `DELETE …/Call/{uuid}/` hangs a call up (204).
//! Calls "up at the carrier" are counted from the request to the final report.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};
use voicera_media::codec::g711::{linear_to_ulaw, ulaw_to_linear};

use super::provider::{form, http, plivo_v3, stream_url};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the callee does on one attempt.
#[derive(Debug, Clone)]
pub(crate) enum Callee {
    /// Answers and plays this 8 kHz audio (then line silence); hangs up after `hang_up_after` if our side has
    /// not ended the call first.
    Answers { audio: Vec<i16>, hang_up_after: Duration },
    /// The line is busy: a `USER_BUSY` report after `after`.
    Busy { after: Duration },
    /// Rings out: a `NO_ANSWER` report after `after`.
    RingsOut { after: Duration },
    /// The provider accepts the request and is never heard from again.
    Silent,
}

/// One call request as it reached the fake.
#[derive(Debug, Clone)]
pub(crate) struct CallRequestSeen {
    /// The JSON body.
    pub(crate) body: Value,
    /// The id the fake gave the call.
    pub(crate) uuid: String,
}

/// Agent audio a call's callee heard: per `playAudio` frame, ms since the stream started and the frame's RMS.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeardAudio {
    pub(crate) frames: Vec<(u64, f64)>,
    /// Whether our server ended the stream (`stop` or a close before the callee hung up).
    pub(crate) ended_by_server: bool,
}

impl HeardAudio {
    /// Times of the frames louder than silence (the server's silence decodes to a few units).
    pub(crate) fn voiced(&self) -> impl Iterator<Item = u64> + '_ {
        self.frames.iter().filter(|(_, rms)| *rms > 200.0).map(|(at, _)| *at)
    }
}

#[derive(Default)]
struct State {
    requests: Vec<CallRequestSeen>,
    /// Attempts so far by number.
    attempts: HashMap<String, usize>,
    /// Calls up now at the carrier (by id), and the most at once.
    open: std::collections::HashSet<String>,
    max_live: usize,
    /// What each answered call's callee heard, by number (one entry per answered attempt).
    heard: HashMap<String, Vec<HeardAudio>>,
    /// Calls hung up through the API.
    hung_up: Vec<String>,
    /// Requests that broke the documented shape, and failed steps: the test asserts there are none.
    faults: Vec<String>,
}

/// The fake provider; its thread stops with the test process.
pub(crate) struct FakeCarrier {
    pub(crate) port: u16,
    state: Arc<Mutex<State>>,
}

/// The account the fake serves.
pub(crate) const AUTH_ID: &str = "MA_VOBIZ";
/// Its token (signs the webhooks).
pub(crate) const AUTH_TOKEN: &str = "vobiz-token";

impl FakeCarrier {
    /// Starts the fake; `script(number, attempt)` says what the callee does on that attempt (0-based).
    pub(crate) fn start(script: impl Fn(&str, usize) -> Callee + Send + Sync + 'static) -> FakeCarrier {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state: Arc<Mutex<State>> = Arc::default();
        let script = Arc::new(script);
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (state, script) = (Arc::clone(&shared), Arc::clone(&script));
                std::thread::spawn(move || {
                    let Some((head, body)) = super::read_request(&mut stream) else { return };
                    let (status, reply) = handle(&state, &*script, &head, &body);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
                });
            }
        });
        FakeCarrier { port, state }
    }

    /// `[telephony.vobiz]` pointing at the fake.
    pub(crate) fn config(&self) -> String {
        format!(
            "[telephony.vobiz]\nauth_id = \"{AUTH_ID}\"\nauth_token = \"{AUTH_TOKEN}\"\napi_base = \"http://127.0.0.1:{}/api/v1\"\n",
            self.port
        )
    }

    pub(crate) fn requests(&self) -> Vec<CallRequestSeen> {
        self.state.lock().unwrap().requests.clone()
    }

    pub(crate) fn max_live(&self) -> usize {
        self.state.lock().unwrap().max_live
    }

    pub(crate) fn live(&self) -> usize {
        self.state.lock().unwrap().open.len()
    }

    pub(crate) fn heard(&self, number: &str) -> Vec<HeardAudio> {
        self.state.lock().unwrap().heard.get(number).cloned().unwrap_or_default()
    }

    pub(crate) fn hung_up(&self) -> Vec<String> {
        self.state.lock().unwrap().hung_up.clone()
    }

    pub(crate) fn faults(&self) -> Vec<String> {
        self.state.lock().unwrap().faults.clone()
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

type Script = dyn Fn(&str, usize) -> Callee + Send + Sync;

/// One REST request: (status, JSON reply).
fn handle(state: &Arc<Mutex<State>>, script: &Script, head: &str, body: &[u8]) -> (u16, String) {
    let line = head.lines().next().unwrap_or_default().to_string();
    let fault = |what: String| {
        state.lock().unwrap().faults.push(format!("{line}: {what}"));
        (401, json!({"api_id": "x", "error": what}).to_string())
    };
    if header(head, "X-Auth-ID") != Some(AUTH_ID) || header(head, "X-Auth-Token") != Some(AUTH_TOKEN) {
        return fault("authentication headers".into());
    }
    let call_path = format!("/api/v1/Account/{AUTH_ID}/Call/");
    if let Some(uuid) = line.strip_prefix(&format!("DELETE {call_path}")).and_then(|r| r.strip_suffix("/ HTTP/1.1")) {
        let mut state = state.lock().unwrap();
        state.hung_up.push(uuid.to_string());
        state.open.remove(uuid);
        return (204, String::new());
    }
    if line != format!("POST {call_path} HTTP/1.1") {
        return fault("unknown path".into());
    }
    if header(head, "Content-Type") != Some("application/json") {
        return fault("content type".into());
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else { return fault("body is not JSON".into()) };
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let documented = ["from", "to", "answer_url", "hangup_url"].iter().all(|k| !text(k).is_empty())
        && text("answer_method") == "POST"
        && text("hangup_method") == "POST"
        && body["ring_timeout"].as_u64().is_some();
    if !documented {
        return fault(format!("body {body}"));
    }
    let to = text("to");
    let uuid = format!("{:08x}-call", rand_u32());
    let attempt = {
        let mut state = state.lock().unwrap();
        state.requests.push(CallRequestSeen { body: body.clone(), uuid: uuid.clone() });
        state.open.insert(uuid.clone());
        state.max_live = state.max_live.max(state.open.len());
        let attempts = state.attempts.entry(to.clone()).or_default();
        *attempts += 1;
        *attempts - 1
    };
    let callee = script(&to, attempt);
    let (state, call_uuid) = (Arc::clone(state), uuid.clone());
    std::thread::spawn(move || run_call(&state, callee, &body, &call_uuid));
    (201, json!({"api_id": format!("api-{uuid}"), "message": "call fired", "request_uuid": uuid}).to_string())
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0x5eed_0000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A webhook to our server, signed as Vobiz signs (V3, with a nonce); its status and body.
fn post_signed(url: &str, pairs: &[(&str, &str)], nonce: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = authority.parse().expect("loopback address");
    let sig = plivo_v3(AUTH_TOKEN, url, pairs, nonce);
    let headers = [("X-Vobiz-Signature-V3", sig), ("X-Vobiz-Signature-V3-Nonce", nonce.to_string())];
    http(addr, "POST", path, &headers, &form(pairs))
}

/// What the network does with one placed call.
fn run_call(state: &Arc<Mutex<State>>, callee: Callee, request: &Value, uuid: &str) {
    let text = |k: &str| request[k].as_str().unwrap_or_default().to_string();
    let (from, to, hangup_url) = (text("from"), text("to"), text("hangup_url"));
    let base = [("CallUUID", uuid), ("From", &from), ("To", &to), ("Direction", "outbound")];
    let report = |status: &str, cause: &str, duration: &str| {
        let mut pairs = base.to_vec();
        pairs.extend([("Event", "Hangup"), ("CallStatus", status), ("HangupCause", cause), ("Duration", duration)]);
        pairs.push(("BillDuration", duration));
        // The carrier's count drops as it reports the end.
        state.lock().unwrap().open.remove(uuid);
        let (code, answer) = post_signed(&hangup_url, &pairs, &format!("{uuid}-hangup"));
        if code != 200 {
            state.lock().unwrap().faults.push(format!("hang-up report answered {code}: {answer}"));
        }
    };
    match callee {
        Callee::Busy { after } => {
            std::thread::sleep(after);
            report("busy", "USER_BUSY", "0");
        }
        Callee::RingsOut { after } => {
            std::thread::sleep(after);
            report("no-answer", "NO_ANSWER", "0");
        }
        Callee::Silent => {}
        Callee::Answers { audio, hang_up_after } => {
            std::thread::sleep(Duration::from_millis(200));
            let mut pairs = base.to_vec();
            pairs.extend([("Event", "StartApp"), ("CallStatus", "in-progress")]);
            let (code, document) = post_signed(&text("answer_url"), &pairs, &format!("{uuid}-answer"));
            if code != 200 || !document.contains(r#"bidirectional="true""#) {
                state.lock().unwrap().faults.push(format!("answer URL answered {code}: {document}"));
                report("failed", "UNALLOCATED_NUMBER", "0");
                return;
            }
            let began = Instant::now();
            let heard = stream(&stream_url(&document), uuid, &audio, hang_up_after);
            let seconds = began.elapsed().as_secs().to_string();
            match heard {
                Ok(heard) => state.lock().unwrap().heard.entry(to.clone()).or_default().push(heard),
                Err(error) => state.lock().unwrap().faults.push(format!("stream of {uuid}: {error}")),
            }
            report("completed", "NORMAL_CLEARING", &seconds);
        }
    }
}

/// The callee's side of the media stream: `start`, then 20 ms μ-law frames of `audio` (then line silence),
/// keeping every `playAudio` frame's level, until our `stop`/close or `hang_up_after`.
fn stream(url: &str, uuid: &str, audio: &[i16], hang_up_after: Duration) -> Result<HeardAudio, String> {
    let (mut ws, _) = tungstenite::connect(url).map_err(|e| format!("connect {url}: {e}"))?;
    if let tungstenite::stream::MaybeTlsStream::Plain(socket) = ws.get_mut() {
        socket.set_read_timeout(Some(Duration::from_millis(2))).map_err(|e| e.to_string())?;
    }
    let stream_id = format!("{uuid}-stream");
    let start = json!({"sequenceNumber": 0, "event": "start", "start": {"callId": uuid, "streamId": stream_id,
        "accountId": "500025", "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}},
        "extra_headers": "{}"});
    ws.send(Message::Text(start.to_string().into())).map_err(|e| e.to_string())?;
    let began = Instant::now();
    let mut heard = HeardAudio::default();
    let mut sent = 0usize;
    let silence = [linear_to_ulaw(0); 160];
    loop {
        let now = began.elapsed();
        if now >= hang_up_after {
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(heard);
        }
        while began + Duration::from_millis(20 * sent as u64) <= Instant::now() {
            let chunk: Vec<u8> = match audio.get(sent * 160..(sent + 1) * 160) {
                Some(samples) => samples.iter().map(|s| linear_to_ulaw(*s)).collect(),
                None => silence.to_vec(),
            };
            sent += 1;
            let media = json!({"sequenceNumber": sent, "streamId": stream_id, "event": "media", "media": {"track": "inbound",
                "timestamp": (sent * 20).to_string(), "chunk": sent, "payload": B64.encode(&chunk)}, "extra_headers": "{}"});
            if ws.send(Message::Text(media.to_string().into())).is_err() {
                heard.ended_by_server = true;
                return Ok(heard);
            }
        }
        match ws.read() {
            Ok(Message::Text(text)) => {
                let event: Value = serde_json::from_str(text.as_str()).map_err(|e| format!("not JSON: {e}"))?;
                match event["event"].as_str() {
                    Some("playAudio") => {
                        let payload = B64.decode(event["media"]["payload"].as_str().unwrap_or_default());
                        let samples: Vec<f64> =
                            payload.map_err(|e| e.to_string())?.iter().map(|b| f64::from(ulaw_to_linear(*b))).collect();
                        let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
                        heard.frames.push((began.elapsed().as_millis() as u64, rms));
                    }
                    Some("stop") => {
                        heard.ended_by_server = true;
                        let _ = ws.close(None);
                        let _ = ws.flush();
                        return Ok(heard);
                    }
                    _ => {}
                }
            }
            Ok(Message::Close(_)) => {
                heard.ended_by_server = true;
                return Ok(heard);
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                heard.ended_by_server = true;
                return Ok(heard);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
