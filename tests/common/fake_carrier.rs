//! A telephony provider played by the test: Vobiz's or Twilio's REST API and what its network does with a call
//! it was asked to place.
//!
//! Vobiz: `POST /api/v1/Account/{auth_id}/Call/` is checked against its documentation (`X-Auth-ID`/
//! `X-Auth-Token`, a JSON body with `from`, `to`, `answer_url`/`answer_method`, `hangup_url`/`hangup_method`,
//! `ring_timeout`) and answered `201 {"api_id", "message": "call fired", "request_uuid"}`; webhooks are signed
//! `X-Vobiz-Signature-V3` (with its nonce); the end is one `Event=Hangup` report (`CallStatus`,
//! `HangupCause`); `DELETE …/Call/{uuid}/` hangs up (204). Twilio: `POST /2010-04-01/Accounts/{sid}/Calls.json`
//! with Basic auth and a form (`From`, `To`, `Url`, `Method`, `StatusCallback`, `StatusCallbackMethod`,
//! `StatusCallbackEvent` × 4, `Timeout`), answered `201 {"sid", "status": "queued"}`; webhooks signed
//! `X-Twilio-Signature`; status callbacks `initiated`, `ringing`, then `in-progress` or the end (`completed`,
//! `busy`, `no-answer`); `POST …/Calls/{sid}.json Status=completed` hangs up.
//!
//! Machine detection, when the request asks for it: Vobiz `machine_detection` (`true`|`hangup`) with
//! `machine_detection_url` (method POST), Twilio `MachineDetection` (`Enable`|`DetectMessageEnd`) with
//! `AsyncAmd=true` and `AsyncAmdStatusCallback` (method POST); a half-asked detection is a fault. A callee
//! scripted [`Callee::Detected`] then gets the provider's verdict posted (signed) to that URL during the call:
//! Vobiz `Machine=true|false`, Twilio `AnsweredBy` and `MachineDetectionDuration`.
//!
//! Per the callee's script the fake reports a busy line or a ring-out, or answers: it fetches the answer URL
//! (signed), opens the media WebSocket the document names, sends the provider's `start` (Twilio: `connected`
//! first, the document's `<Parameter>`s as `customParameters`) and 20 ms μ-law `media` frames of the callee's
//! audio, keeps the level of every agent audio frame our server sends (`playAudio` / `media`), and when either
//! side ends the stream reports the call completed. Calls "up at the carrier" are counted from the request to
//! the final report or a hang-up through the API, which also ends the call's stream (as the network tears the
//! call down), and per number as well: a number never has two calls up at once unless the test sees it.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};
use voicera_media::codec::g711::{linear_to_ulaw, ulaw_to_linear};

use super::provider::{form, http, plivo_v3, stream_url, twilio_sig};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the callee does on one attempt.
#[derive(Debug, Clone)]
pub(crate) enum Callee {
    /// Answers and plays this 8 kHz audio (then line silence); hangs up after `hang_up_after` if our side has
    /// not ended the call first.
    Answers { audio: Vec<i16>, hang_up_after: Duration },
    /// Answers as [`Callee::Answers`], and the provider's machine detection, when the request asked for it,
    /// posts `verdict` (Vobiz `Machine`: `true`/`false`; Twilio `AnsweredBy`: `human`, `machine_start`…)
    /// `after` the answer.
    Detected { audio: Vec<i16>, hang_up_after: Duration, verdict: &'static str, after: Duration },
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
    /// Whether a hang-up through the REST API ended it (the network tore the call down).
    pub(crate) ended_by_api: bool,
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
    /// The number each call (by id) went to, and the most calls up at once to one number.
    numbers: HashMap<String, String>,
    max_live_per_number: usize,
    /// What each answered call's callee heard, by number (one entry per answered attempt).
    heard: HashMap<String, Vec<HeardAudio>>,
    /// Calls hung up through the API.
    hung_up: Vec<String>,
    /// Requests that broke the documented shape, and failed steps: the test asserts there are none.
    faults: Vec<String>,
    /// Where webhooks and streams go instead of the address in their URL: a load balancer in front of
    /// several nodes that sends this node every request (the URL, and so the signature, stay as given).
    deliver_to: Option<SocketAddr>,
    /// When each call request arrived (since the fake started), in order.
    requested_at: Vec<Duration>,
}

/// The fake provider; its thread stops with the test process.
pub(crate) struct FakeCarrier {
    pub(crate) port: u16,
    flavor: Flavor,
    state: Arc<Mutex<State>>,
    started: Instant,
}

/// Which provider the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Vobiz,
    Twilio,
}

impl Flavor {
    /// The account id the fake serves.
    pub(crate) fn auth_id(self) -> &'static str {
        match self {
            Flavor::Vobiz => "MA_VOBIZ",
            Flavor::Twilio => "AC_TWILIO",
        }
    }

    /// The account's token (authenticates requests, signs webhooks).
    pub(crate) fn token(self) -> &'static str {
        match self {
            Flavor::Vobiz => "vobiz-token",
            Flavor::Twilio => "twilio-token",
        }
    }
}

impl FakeCarrier {
    /// Starts the fake; `script(number, attempt)` says what the callee does on that attempt (0-based).
    pub(crate) fn start(flavor: Flavor, script: impl Fn(&str, usize) -> Callee + Send + Sync + 'static) -> FakeCarrier {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state: Arc<Mutex<State>> = Arc::default();
        let started = Instant::now();
        let script = Arc::new(script);
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (state, script) = (Arc::clone(&shared), Arc::clone(&script));
                std::thread::spawn(move || {
                    let Some((head, body)) = super::read_request(&mut stream) else { return };
                    if is_placement(flavor, &head) {
                        state.lock().unwrap().requested_at.push(started.elapsed());
                    }
                    let (status, reply) = match flavor {
                        Flavor::Vobiz => handle_vobiz(&state, &*script, &head, &body),
                        Flavor::Twilio => handle_twilio(&state, &*script, &head, &body),
                    };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
                });
            }
        });
        FakeCarrier { port, flavor, state, started }
    }

    /// Sends every webhook and stream to `node` from now on, whatever address their URL names (the URL is
    /// still what is signed): a load balancer that picks another node than the one that placed the call.
    pub(crate) fn deliver_to(&self, node: SocketAddr) {
        self.state.lock().unwrap().deliver_to = Some(node);
    }

    /// When each call request arrived, since the fake started.
    pub(crate) fn requested_at(&self) -> Vec<Duration> {
        self.state.lock().unwrap().requested_at.clone()
    }

    /// `[telephony.<provider>]` pointing at the fake.
    pub(crate) fn config(&self) -> String {
        let (name, base) = match self.flavor {
            Flavor::Vobiz => ("vobiz", format!("http://127.0.0.1:{}/api/v1", self.port)),
            Flavor::Twilio => ("twilio", format!("http://127.0.0.1:{}/2010-04-01", self.port)),
        };
        let (id, token) = (self.flavor.auth_id(), self.flavor.token());
        format!("[telephony.{name}]\nauth_id = \"{id}\"\nauth_token = \"{token}\"\napi_base = \"{base}\"\n")
    }

    pub(crate) fn requests(&self) -> Vec<CallRequestSeen> {
        self.state.lock().unwrap().requests.clone()
    }

    pub(crate) fn max_live(&self) -> usize {
        self.state.lock().unwrap().max_live
    }

    /// The most calls up at once to any one number.
    pub(crate) fn max_live_per_number(&self) -> usize {
        self.state.lock().unwrap().max_live_per_number
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

/// Whether a request is a call placement (not a hang-up).
fn is_placement(flavor: Flavor, head: &str) -> bool {
    let line = head.lines().next().unwrap_or_default();
    match flavor {
        Flavor::Vobiz => line.starts_with("POST ") && line.ends_with("/Call/ HTTP/1.1"),
        Flavor::Twilio => line.starts_with("POST ") && line.ends_with("/Calls.json HTTP/1.1"),
    }
}

/// One Vobiz REST request: (status, JSON reply).
fn handle_vobiz(state: &Arc<Mutex<State>>, script: &Script, head: &str, body: &[u8]) -> (u16, String) {
    const AUTH_ID: &str = "MA_VOBIZ";
    const AUTH_TOKEN: &str = "vobiz-token";
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
    let amd_url = match body.get("machine_detection").map(|v| v.as_str().unwrap_or_default()) {
        None => None,
        Some("true" | "hangup")
            if !text("machine_detection_url").is_empty()
                && matches!(body.get("machine_detection_method").and_then(Value::as_str), None | Some("POST")) =>
        {
            Some(text("machine_detection_url"))
        }
        Some(_) => return fault(format!("machine detection in {body}")),
    };
    let uuid = format!("{:08x}-call", rand_u32());
    let call = PlacedCall {
        flavor: Flavor::Vobiz,
        uuid: uuid.clone(),
        from: text("from"),
        to: text("to"),
        answer_url: text("answer_url"),
        status_url: text("hangup_url"),
        amd_url,
    };
    accept(state, script, call, body);
    (201, json!({"api_id": format!("api-{uuid}"), "message": "call fired", "request_uuid": uuid}).to_string())
}

/// One Twilio REST request: (status, JSON reply).
fn handle_twilio(state: &Arc<Mutex<State>>, script: &Script, head: &str, body: &[u8]) -> (u16, String) {
    let line = head.lines().next().unwrap_or_default().to_string();
    let fault = |what: String| {
        state.lock().unwrap().faults.push(format!("{line}: {what}"));
        (401, json!({"code": 20003, "message": what, "status": 401}).to_string())
    };
    let basic = format!("Basic {}", B64.encode("AC_TWILIO:twilio-token"));
    if header(head, "Authorization") != Some(basic.as_str()) {
        return fault("authentication".into());
    }
    if header(head, "Content-Type") != Some("application/x-www-form-urlencoded") {
        return fault("content type".into());
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let one = |k: &str| form.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let calls = "/2010-04-01/Accounts/AC_TWILIO/Calls";
    if let Some(sid) = line.strip_prefix(&format!("POST {calls}/")).and_then(|r| r.strip_suffix(".json HTTP/1.1")) {
        if one("Status") != "completed" {
            return fault(format!("hang-up form {form:?}"));
        }
        let mut state = state.lock().unwrap();
        state.hung_up.push(sid.to_string());
        state.open.remove(sid);
        return (200, json!({"sid": sid, "status": "completed"}).to_string());
    }
    if line != format!("POST {calls}.json HTTP/1.1") {
        return fault("unknown path".into());
    }
    let events: Vec<&str> = form.iter().filter(|(k, _)| k == "StatusCallbackEvent").map(|(_, v)| v.as_str()).collect();
    let documented = ["From", "To", "Url", "StatusCallback"].iter().all(|k| !one(k).is_empty())
        && one("Method") == "POST"
        && one("StatusCallbackMethod") == "POST"
        && events == ["initiated", "ringing", "answered", "completed"]
        && one("Timeout").parse::<u32>().is_ok();
    if !documented {
        return fault(format!("form {form:?}"));
    }
    let amd_url = match one("MachineDetection").as_str() {
        "" if ["AsyncAmd", "AsyncAmdStatusCallback"].iter().all(|k| one(k).is_empty()) => None,
        "Enable" | "DetectMessageEnd"
            if one("AsyncAmd") == "true"
                && !one("AsyncAmdStatusCallback").is_empty()
                && matches!(one("AsyncAmdStatusCallbackMethod").as_str(), "" | "POST") =>
        {
            Some(one("AsyncAmdStatusCallback"))
        }
        _ => return fault(format!("machine detection (the fake plays asynchronous AMD) in {form:?}")),
    };
    let sid = format!("CA{:08x}", rand_u32());
    let call = PlacedCall {
        flavor: Flavor::Twilio,
        uuid: sid.clone(),
        from: one("From"),
        to: one("To"),
        answer_url: one("Url"),
        status_url: one("StatusCallback"),
        amd_url,
    };
    let body = json!(form.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>());
    accept(state, script, call, body);
    (201, json!({"sid": sid, "status": "queued", "account_sid": "AC_TWILIO"}).to_string())
}

/// A call the fake accepted to place.
#[derive(Debug, Clone)]
struct PlacedCall {
    flavor: Flavor,
    uuid: String,
    from: String,
    to: String,
    answer_url: String,
    status_url: String,
    /// Where the provider's machine detection posts its verdict (None: not asked).
    amd_url: Option<String>,
}

/// Counts an accepted call and sets its network going.
fn accept(state: &Arc<Mutex<State>>, script: &Script, call: PlacedCall, body: Value) {
    let attempt = {
        let mut state = state.lock().unwrap();
        state.requests.push(CallRequestSeen { body, uuid: call.uuid.clone() });
        state.open.insert(call.uuid.clone());
        state.max_live = state.max_live.max(state.open.len());
        state.numbers.insert(call.uuid.clone(), call.to.clone());
        let to_number = state.open.iter().filter(|id| state.numbers.get(*id) == Some(&call.to)).count();
        state.max_live_per_number = state.max_live_per_number.max(to_number);
        let attempts = state.attempts.entry(call.to.clone()).or_default();
        *attempts += 1;
        *attempts - 1
    };
    let callee = script(&call.to, attempt);
    let state = Arc::clone(state);
    std::thread::spawn(move || run_call(&state, callee, &call));
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0x5eed_0000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A webhook to our server, signed as the provider signs (Vobiz V3 with a nonce, Twilio's HMAC-SHA1); its
/// status and body.
fn post_signed(
    flavor: Flavor,
    url: &str,
    pairs: &[(&str, &str)],
    nonce: &str,
    deliver_to: Option<SocketAddr>,
) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = deliver_to.unwrap_or_else(|| authority.parse().expect("loopback address"));
    let headers = match flavor {
        Flavor::Vobiz => {
            let sig = plivo_v3(flavor.token(), url, pairs, nonce);
            vec![("X-Vobiz-Signature-V3", sig), ("X-Vobiz-Signature-V3-Nonce", nonce.to_string())]
        }
        Flavor::Twilio => vec![("X-Twilio-Signature", twilio_sig(flavor.token(), url, pairs))],
    };
    http(addr, "POST", path, &headers, &form(pairs))
}

/// What the network does with one placed call.
fn run_call(state: &Arc<Mutex<State>>, callee: Callee, call: &PlacedCall) {
    let flavor = call.flavor;
    let uuid = call.uuid.as_str();
    let deliver_to = state.lock().unwrap().deliver_to;
    let base: Vec<(&str, &str)> = match flavor {
        Flavor::Vobiz => vec![("CallUUID", uuid), ("From", &call.from), ("To", &call.to), ("Direction", "outbound")],
        Flavor::Twilio => vec![
            ("CallSid", uuid),
            ("AccountSid", "AC_TWILIO"),
            ("From", &call.from),
            ("To", &call.to),
            ("Direction", "outbound-api"),
        ],
    };
    let post = |pairs: &[(&str, &str)], what: &str| {
        let (code, answer) = post_signed(flavor, &call.status_url, pairs, &format!("{uuid}-{what}"), deliver_to);
        if code != 200 {
            state.lock().unwrap().faults.push(format!("{what} callback answered {code}: {answer}"));
        }
    };
    // Twilio reports progress when asked to (Vobiz reports the end only).
    let progress = |status: &str| {
        if flavor == Flavor::Twilio {
            let mut pairs = base.clone();
            pairs.push(("CallStatus", status));
            post(&pairs, status);
        }
    };
    let report = |status: &str, cause: &str, duration: &str| {
        let mut pairs = base.clone();
        match flavor {
            Flavor::Vobiz => {
                pairs.extend([("Event", "Hangup"), ("CallStatus", status), ("HangupCause", cause)]);
                pairs.extend([("Duration", duration), ("BillDuration", duration)]);
            }
            Flavor::Twilio => pairs.extend([("CallStatus", status), ("CallDuration", duration)]),
        }
        // The carrier's count drops as it reports the end.
        state.lock().unwrap().open.remove(uuid);
        post(&pairs, "hangup");
    };
    progress("initiated");
    progress("ringing");
    let detected = match &callee {
        Callee::Detected { verdict, after, .. } => Some((*verdict, *after)),
        _ => None,
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
        Callee::Answers { audio, hang_up_after } | Callee::Detected { audio, hang_up_after, .. } => {
            std::thread::sleep(Duration::from_millis(200));
            let mut pairs = base.clone();
            match flavor {
                Flavor::Vobiz => pairs.extend([("Event", "StartApp"), ("CallStatus", "in-progress")]),
                Flavor::Twilio => pairs.push(("CallStatus", "in-progress")),
            }
            let (code, document) = post_signed(flavor, &call.answer_url, &pairs, &format!("{uuid}-answer"), deliver_to);
            let opens = document.contains(r#"bidirectional="true""#) || document.contains("<Connect><Stream");
            if code != 200 || !opens {
                state.lock().unwrap().faults.push(format!("answer URL answered {code}: {document}"));
                report("failed", "UNALLOCATED_NUMBER", "0");
                return;
            }
            progress("in-progress");
            // The provider's machine detection runs beside the stream and posts its verdict when it has one.
            let detection = match (&call.amd_url, detected) {
                (Some(url), Some((verdict, after))) => {
                    let url = url.clone();
                    let mut pairs: Vec<(String, String)> =
                        base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    match flavor {
                        Flavor::Vobiz => pairs
                            .extend([("Machine".into(), verdict.into()), ("CallStatus".into(), "in-progress".into())]),
                        Flavor::Twilio => pairs.extend([
                            ("AnsweredBy".into(), verdict.into()),
                            ("MachineDetectionDuration".into(), after.as_millis().to_string()),
                        ]),
                    }
                    let (state, nonce) = (Arc::clone(state), format!("{uuid}-amd"));
                    Some(std::thread::spawn(move || {
                        std::thread::sleep(after);
                        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        let (code, answer) = post_signed(flavor, &url, &pairs, &nonce, deliver_to);
                        if code != 200 {
                            state
                                .lock()
                                .unwrap()
                                .faults
                                .push(format!("machine detection callback answered {code}: {answer}"));
                        }
                    }))
                }
                _ => None,
            };
            let began = Instant::now();
            let hung_up = || state.lock().unwrap().hung_up.iter().any(|id| id == uuid);
            let heard = stream(flavor, &document, uuid, &audio, hang_up_after, deliver_to, &hung_up);
            let seconds = began.elapsed().as_secs().to_string();
            match heard {
                Ok(heard) => state.lock().unwrap().heard.entry(call.to.clone()).or_default().push(heard),
                Err(error) => state.lock().unwrap().faults.push(format!("stream of {uuid}: {error}")),
            }
            if let Some(detection) = detection {
                let _ = detection.join();
            }
            report("completed", "NORMAL_CLEARING", &seconds);
        }
    }
}

/// Twilio's `<Parameter name= value=>`s of an answer document.
fn twiml_parameters(document: &str) -> serde_json::Map<String, Value> {
    document
        .split("<Parameter ")
        .skip(1)
        .filter_map(|p| {
            let attribute = |name: &str| {
                let rest = p.split(&format!("{name}=\"")).nth(1)?;
                Some(rest[..rest.find('"')?].replace("&amp;", "&"))
            };
            Some((attribute("name")?, json!(attribute("value")?)))
        })
        .collect()
}

/// The callee's side of the media stream: `start`, then 20 ms μ-law frames of `audio` (then line silence),
/// keeping every `playAudio` frame's level, until our `stop`/close or `hang_up_after`.
fn stream(
    flavor: Flavor,
    document: &str,
    uuid: &str,
    audio: &[i16],
    hang_up_after: Duration,
    deliver_to: Option<SocketAddr>,
    hung_up: &dyn Fn() -> bool,
) -> Result<HeardAudio, String> {
    let mut url = stream_url(document);
    if let Some(node) = deliver_to {
        // ws://<authority>/path: the same path on the node the balancer picked.
        let rest = url.split_once("://").map(|(_, r)| r.to_string()).unwrap_or_default();
        let path = rest.find('/').map_or("/", |at| &rest[at..]).to_string();
        url = format!("ws://{node}{path}");
    }
    let (mut ws, _) = tungstenite::connect(url.as_str()).map_err(|e| format!("connect {url}: {e}"))?;
    if let tungstenite::stream::MaybeTlsStream::Plain(socket) = ws.get_mut() {
        socket.set_read_timeout(Some(Duration::from_millis(2))).map_err(|e| e.to_string())?;
    }
    let stream_id = format!("{uuid}-stream");
    let start = match flavor {
        Flavor::Vobiz => json!({"sequenceNumber": 0, "event": "start", "start": {"callId": uuid, "streamId": stream_id,
            "accountId": "500025", "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}},
            "extra_headers": "{}"}),
        Flavor::Twilio => {
            let connected = json!({"event": "connected", "protocol": "Call", "version": "1.0.0"});
            ws.send(Message::Text(connected.to_string().into())).map_err(|e| e.to_string())?;
            json!({"event": "start", "sequenceNumber": "1", "streamSid": stream_id, "start": {"accountSid": "AC_TWILIO",
                "streamSid": stream_id, "callSid": uuid, "tracks": ["inbound"], "customParameters": twiml_parameters(document),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        }
    };
    ws.send(Message::Text(start.to_string().into())).map_err(|e| e.to_string())?;
    let began = Instant::now();
    let mut heard = HeardAudio::default();
    let mut sent = 0usize;
    let silence = [linear_to_ulaw(0); 160];
    loop {
        let now = began.elapsed();
        if hung_up() {
            heard.ended_by_api = true;
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(heard);
        }
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
            let media = match flavor {
                Flavor::Vobiz => {
                    json!({"sequenceNumber": sent, "streamId": stream_id, "event": "media", "media": {"track": "inbound",
                    "timestamp": (sent * 20).to_string(), "chunk": sent, "payload": B64.encode(&chunk)}, "extra_headers": "{}"})
                }
                Flavor::Twilio => {
                    json!({"event": "media", "sequenceNumber": (sent + 1).to_string(), "streamSid": stream_id,
                    "media": {"track": "inbound", "chunk": sent.to_string(), "timestamp": (sent * 20).to_string(),
                    "payload": B64.encode(&chunk)}})
                }
            };
            if ws.send(Message::Text(media.to_string().into())).is_err() {
                heard.ended_by_server = true;
                return Ok(heard);
            }
        }
        match ws.read() {
            Ok(Message::Text(text)) => {
                let event: Value = serde_json::from_str(text.as_str()).map_err(|e| format!("not JSON: {e}"))?;
                match event["event"].as_str() {
                    Some("playAudio" | "media") => {
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
