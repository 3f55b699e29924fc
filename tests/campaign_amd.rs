//! Answering-machine detection on real campaign calls: the server dials through a `[[trunks]]` entry played by
//! sipp (tests/sipp/uas_amd.xml: answers, stays on the line until our BYE), whose answer points the media at
//! this test's RTP sockets. One plays a voicemail greeting (espeak-ng speech, then a 1 kHz beep), the other a
//! person's "Hello?"; both record every packet the server sends. Campaigns with `amd = hangup` and
//! `amd = leave_message` are run through `/api/v1`; the dispositions, the contacts' `last_amd`, the call
//! records' `amd` and — at the far end — when the agent's audio arrived relative to the beep are checked.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{owner_token, run_batch, send, upload_campaign, wait_agent_ready, OWNER};
use common::greetings::{announcement, machine_greeting, person_answering, ringback};
use common::media_peer::MediaPeer;
use common::{free_port, repo_path, require_tool, Server};
use serde_json::{json, Value};

/// sipp as the carrier (tests/sipp/uas_amd.xml) on `port`, sending each call's media to the peers.
struct Carrier(Child);

impl Carrier {
    fn start(server: &Server, port: u16, machine: &MediaPeer, human: &MediaPeer) -> Carrier {
        let dir = server.dir.join("carrier");
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("timeout")
            .args(["300", "sipp", "-sf"])
            .arg(repo_path("tests/sipp/uas_amd.xml"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
            .args(["-set", "machine_port", &machine.port.to_string(), "-set", "human_port", &human.port.to_string()])
            .args(["-nostdin", "-trace_msg"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_bound(port);
        Carrier(child)
    }
}

impl Carrier {
    /// sipp as a carrier whose calls play early media (tests/sipp/uas_early_amd.xml), its audio written as
    /// pcaps into sipp's directory: the first `early` of the machine's greeting, a ringback, an announcement.
    fn start_early(server: &Server, port: u16, (machine, early): (&MediaPeer, &[i16]), human: &MediaPeer) -> Carrier {
        let dir = server.dir.join("early-carrier");
        std::fs::create_dir_all(&dir).unwrap();
        common::pcap::write_pcma(&dir.join("machine_early.pcap"), early);
        common::pcap::write_pcma(&dir.join("ringback.pcap"), &ringback(500));
        common::pcap::write_pcma(&dir.join("announcement.pcap"), &announcement(2));
        let child = Command::new("timeout")
            .args(["300", "sipp", "-sf"])
            .arg(repo_path("tests/sipp/uas_early_amd.xml"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
            .args(["-set", "machine_port", &machine.port.to_string(), "-set", "human_port", &human.port.to_string()])
            .args(["-nostdin", "-trace_msg", "-trace_err"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_bound(port);
        Carrier(child)
    }
}

/// Waits until sipp holds its SIP port (binding it ourselves fails), at most 10 s.
fn wait_bound(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "sipp never bound 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn api(server: &Server, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, answer, _) = send(server.http, method, path, token, "application/json", body.to_string().as_bytes());
    (status, answer)
}

/// How long a campaign here may take: a few calls of seconds each, through sipp.
const CAMPAIGN_WITHIN: Duration = Duration::from_secs(120);

fn contact<'a>(contacts: &'a [Value], number: &str) -> &'a Value {
    contacts.iter().find(|c| c["contact_number"] == number).unwrap_or_else(|| panic!("{number} in {contacts:?}"))
}

/// The call record of the call to `number` (waiting for it to be written).
fn record_of(server: &Server, number: &str) -> Value {
    let find = || server.call_records().into_iter().find(|r| r["called"].as_str().is_some_and(|c| c.ends_with(number)));
    server.wait_for(&format!("the record of the call to {number}"), Duration::from_secs(20), |_| find().is_some());
    find().unwrap()
}

#[test]
fn machines_are_hung_up_on_or_left_a_message_after_the_beep_and_people_get_the_agent() {
    require_tool("sipp");
    let (machine_clip, beep_end_ms) = machine_greeting();
    let machine = MediaPeer::start(machine_clip);
    let human = MediaPeer::start(person_answering());
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\n\
         [[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{{{contact.name}}}} of an appointment.\"\n\
         greeting_message = \"Hello {{{{contact.name}}}}, this is Green Valley Dental about your appointment.\"\n\
         interaction_mode = \"non_conversational\"\n"
    );
    let server = Server::start_env("campaign-amd", &config, false, &OWNER);
    let _carrier = Carrier::start(&server, trunk_port, &machine, &human);
    wait_agent_ready(&server, "caller");
    let token = owner_token(server.http);

    // Bad settings name their field.
    let path = "/api/v1/batches/upload?batch_name=settings&agent_type=caller&default_country=US";
    let (_, uploaded, _) = send(server.http, "POST", path, &token, "text/csv", b"contact_number\n+15551000009\n");
    let settings = format!("/api/v1/campaigns/{}", uploaded["batch_id"].as_str().unwrap());
    let (status, e) = api(&server, "PUT", &settings, &token, json!({"amd": "maybe"}));
    assert_eq!((status, e["field"].as_str()), (422, Some("amd")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("`off`, `hangup`, `leave_message`, `connect`"), "{e}");
    let (status, e) = api(&server, "PUT", &settings, &token, json!({"amd": "leave_message", "voicemail_message": ""}));
    assert_eq!((status, e["field"].as_str()), (422, Some("voicemail_message")), "{e}");

    // amd = hangup: the machine is hung up on before its greeting ends, nothing said to it; the person gets
    // the agent's greeting once the verdict is in.
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "hangup",
        "contact_number,name\n+15554000001,Asha\n+15551000001,Ben\n",
        json!({"max_live_calls": 1, "calls_per_second": 5, "trunk": "carrier", "amd": "hangup"}),
    );
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"answered-machine": 1, "answered-human": 1}), "{view}");
    let asha = &contact(&contacts, "+15554000001")["last_amd"];
    assert_eq!(
        (&asha["verdict"], &asha["action"], &asha["message_left"]),
        (&json!("machine"), &json!("hangup"), &json!(false))
    );
    let ben = &contact(&contacts, "+15551000001")["last_amd"];
    assert_eq!((&ben["verdict"], &ben["action"]), (&json!("human"), &json!("agent")), "{ben}");
    assert_eq!(contact(&contacts, "+15554000001")["disposition"], "answered-machine");

    let record = record_of(&server, "15554000001");
    let amd = &record["amd"];
    assert_eq!((&amd["verdict"], &amd["action"]), (&json!("machine"), &json!("hangup")), "{record}");
    assert!(amd["decided_after_ms"].as_u64().unwrap() <= 3000, "decided within 3 s: {record}");
    assert_eq!(record["end_reason"], "agent_hangup:answering_machine", "{record}");
    assert_eq!(record["greeting"], "", "nothing said to the machine: {record}");
    let record = record_of(&server, "15551000001");
    assert_eq!(record["amd"]["verdict"], "human", "{record}");
    let person_decided = record["amd"]["decided_after_ms"].as_u64().unwrap();
    assert!(person_decided < 3000, "a person is decided within 3 s: {record}");
    assert_eq!(record["greeting"], "Hello Ben, this is Green Valley Dental about your appointment.", "{record}");

    // At the far end: the machine heard nothing from us and was hung up on mid-greeting; the person heard the
    // greeting, and only after the verdict.
    let machine_heard = machine.heard();
    assert_eq!(machine_heard.len(), 1, "one machine call so far");
    assert_eq!(machine_heard[0].voiced().count(), 0, "nothing said to the machine");
    assert!(
        machine_heard[0].last() < beep_end_ms - 1000,
        "hung up before the greeting ended: {}",
        machine_heard[0].last()
    );
    let human_heard = human.heard();
    assert_eq!(human_heard.len(), 1);
    let first_voiced = human_heard[0].voiced().next().expect("the person heard the greeting");
    assert!(
        first_voiced >= person_decided,
        "the greeting waited for the verdict ({first_voiced} ms, {person_decided} ms)"
    );
    assert!(human_heard[0].voiced().count() >= 50, "a second or more of greeting");

    // amd = leave_message: the message starts after the beep and is heard in full; the record says so. A message
    // left is final (`voicemail-left`): the machine retries the campaign allows are not used.
    let message = "Hello {{contact.name}}, this is Green Valley Dental. Please call us back today.";
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "voicemail",
        "contact_number,name\n+15554000002,Chen\n",
        json!({"max_live_calls": 1, "trunk": "carrier", "amd": "leave_message", "voicemail_message": message,
               "retry": {"machine": {"max_attempts": 3, "spacing_seconds": 1}}}),
    );
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"voicemail-left": 1}), "{view}");
    assert_eq!(contact(&contacts, "+15554000002")["history"].as_array().map(Vec::len), Some(1), "called once");
    let chen = &contact(&contacts, "+15554000002")["last_amd"];
    assert_eq!((&chen["action"], &chen["message_left"]), (&json!("leave_message"), &json!(true)), "{chen}");
    let record = record_of(&server, "15554000002");
    let amd = &record["amd"];
    assert_eq!((&amd["verdict"], &amd["message_left"]), (&json!("machine"), &json!(true)), "{record}");
    assert_eq!(record["end_reason"], "agent_hangup:voicemail_left", "{record}");
    assert_eq!(record["greeting"], "Hello Chen, this is Green Valley Dental. Please call us back today.");
    let message_at = amd["message_after_ms"].as_u64().unwrap();
    // The record's time is the call's (from our answer), the beep's the player's (from its first packet): the
    // player may start before our media does, by more on a loaded machine, so the window opens 0.5 s early;
    // that nothing was said before the beep is checked below, at the far end, on one clock. It closes 2.5 s
    // late: the detector cues on the beep's end, or on 1.5 s of silence after it should it miss the beep.
    assert!(
        (beep_end_ms.saturating_sub(500)..beep_end_ms + 2500).contains(&message_at),
        "cued by the beep ({message_at} ms, beep ends at {beep_end_ms} ms)"
    );
    let machine_heard = machine.heard();
    assert_eq!(machine_heard.len(), 2);
    let left = &machine_heard[1];
    assert_eq!(
        left.voiced().filter(|at| *at < beep_end_ms).count(),
        0,
        "nothing over the greeting or the beep: {left:?}"
    );
    let after_beep = left.voiced().filter(|at| *at >= beep_end_ms).count();
    println!("beep ends at {beep_end_ms} ms; message cued at {message_at} ms; {after_beep} voiced packets after it");
    assert!(after_beep >= 75, "the message (1.5 s or more) reached the machine after the beep: {after_beep} packets");

    let (_, metrics) = common::http_get(server.http, "/metrics").expect("/metrics answers");
    for line in [
        "voicera_campaign_calls_total{disposition=\"answered-machine\"} 1",
        "voicera_campaign_calls_total{disposition=\"voicemail-left\"} 1",
        "voicera_campaign_calls_total{disposition=\"answered-human\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

/// Early media (a 183 with SDP, played by sipp from pcaps) is heard by the detector before the answer: a
/// voicemail greeting that starts in early media and goes on after the 200 OK is judged from its real start
/// (decided well before a greeting heard from the answer could be) and left the message after its beep; a
/// ringback before a person's "Hello?" is no speech (a person, no voice in early media); an announcement with
/// no answer after it — 480, or ringing until our CANCEL — is `failed(announcement)`, retried under the
/// `failed` rule and no other, while a 486 after it stays busy.
#[test]
fn early_media_is_heard_greetings_from_their_start_ringback_as_no_speech_and_announcements_fail_the_attempt() {
    require_tool("sipp");
    let (machine_clip, beep_end_ms) = machine_greeting();
    // The machine's first 2 s (300 ms of line, then its greeting) play as early media; the rest after the answer.
    const EARLY_MS: u64 = 2000;
    let split = EARLY_MS as usize * 8;
    let machine = MediaPeer::start(machine_clip[split..].to_vec());
    let human = MediaPeer::start(person_answering());
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\n\
         [[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{{{contact.name}}}} of an appointment.\"\n\
         greeting_message = \"Hello {{{{contact.name}}}}, this is Green Valley Dental about your appointment.\"\n\
         interaction_mode = \"non_conversational\"\n"
    );
    let server = Server::start_env("campaign-amd-early", &config, false, &OWNER);
    let _carrier = Carrier::start_early(&server, trunk_port, (&machine, &machine_clip[..split]), &human);
    wait_agent_ready(&server, "caller");
    let token = owner_token(server.http);

    let message = "Hello {{contact.name}}, this is Green Valley Dental. Please call us back today.";
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "early",
        "contact_number,name\n+15554000011,Dana\n+15551000011,Eli\n",
        json!({"max_live_calls": 1, "trunk": "carrier", "amd": "leave_message", "voicemail_message": message}),
    );
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"voicemail-left": 1, "answered-human": 1}), "{view}");

    // The machine: decided soon after the answer, its greeting counted from its start in early media.
    let dana = &contact(&contacts, "+15554000011")["last_amd"];
    assert_eq!((&dana["verdict"], &dana["early_voice"]), (&json!("machine"), &json!(true)), "{dana}");
    let record = record_of(&server, "15554000011");
    let amd = &record["amd"];
    assert_eq!((&amd["verdict"], &amd["message_left"]), (&json!("machine"), &json!(true)), "{record}");
    let decided = amd["decided_after_ms"].as_u64().unwrap();
    // 1.7 s of its greeting came before the answer: the 1.9 s of a person's longest greeting is passed a
    // fraction of a second after it (heard from the answer only, it would take 1.9 s or more).
    assert!(decided <= 1200, "decided {decided} ms after the answer: {record}");
    // At the far end (the peer's clock starts at our first packet, just after the answer): nothing over the
    // greeting or the beep, the message after it.
    let beep_end = beep_end_ms - EARLY_MS;
    let message_at = amd["message_after_ms"].as_u64().unwrap();
    println!(
        "early greeting: decided {decided} ms after the answer, message at {message_at} ms (beep ends {beep_end})"
    );
    let heard = machine.heard();
    assert_eq!(heard.len(), 1, "one machine call");
    assert_eq!(
        heard[0].voiced().filter(|at| *at < beep_end).count(),
        0,
        "nothing over the greeting (message at {message_at} ms, beep ends {beep_end} ms): {:?}",
        heard[0]
    );
    let after_beep = heard[0].voiced().filter(|at| *at >= beep_end).count();
    assert!(after_beep >= 75, "the message reached the machine after the beep: {after_beep} packets");

    // The person: a ringback is no voice, and "Hello?" after it is a person's.
    let eli = &contact(&contacts, "+15551000011")["last_amd"];
    assert_eq!((&eli["verdict"], &eli["early_voice"]), (&json!("human"), &json!(false)), "{eli}");
    let record = record_of(&server, "15551000011");
    assert!(record["amd"]["decided_after_ms"].as_u64().unwrap() < 3000, "{record}");
    assert_eq!(record["greeting"], "Hello Eli, this is Green Valley Dental about your appointment.", "{record}");

    // Announcements, then 480 or ringing until our CANCEL (ring timeout 8 s, after the 6 s at which sipp sends
    // 480 or 486): final statuses that say nothing precise, so `failed(announcement)`, twice each under
    // `retry.failed`; the no-answer rule (one attempt) does not apply. Then 486: busy is precise and stands (one
    // attempt under `retry.busy`), the voice noted.
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "announcements",
        "contact_number,name\n+15554800001,Fay\n+15554860001,Gus\n+15554870001,Hal\n",
        json!({"max_live_calls": 3, "trunk": "carrier", "amd": "hangup", "ring_timeout_seconds": 8,
               "retry": {"failed": {"max_attempts": 2, "spacing_seconds": 1},
                         "busy": {"max_attempts": 1}, "no_answer": {"max_attempts": 1}}}),
    );
    let (view, contacts) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(
        view["progress"]["by_outcome"],
        json!({"failed(announcement)": 2, "busy": 1}),
        "{view}\n{}",
        server.log()
    );
    for number in ["+15554800001", "+15554870001"] {
        let contact = contact(&contacts, number);
        assert_eq!(contact["disposition"], "failed(announcement)", "{contact}");
        let history = contact["history"].as_array().unwrap();
        let outcomes: Vec<&str> = history.iter().map(|a| a["outcome"].as_str().unwrap_or("")).collect();
        assert_eq!(outcomes, ["failed(announcement)", "failed(announcement)"], "{number}: {contact}");
    }
    let gus = contact(&contacts, "+15554860001");
    assert_eq!(gus["disposition"], "busy", "{gus}");
    assert_eq!(gus["history"].as_array().unwrap().len(), 1, "{gus}");
    assert_eq!(gus["last_amd"]["early_voice"], json!(true), "the announcement before the 486 is noted: {gus}");
    assert_eq!(gus["last_amd"]["sit"], json!(true), "its special information tone too: {gus}");
    let (_, metrics) = common::http_get(server.http, "/metrics").expect("/metrics answers");
    // `failed(<reason>)` counts as `failed` in the metric (a label per reason would grow without bound).
    let line = "voicera_campaign_calls_total{disposition=\"failed\"} 4";
    assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
}

/// Early media is in the call recording: a call answered after 2.5 s of ringback in early media (183 with SDP)
/// is recorded from the ringback on, the caller's side only (the agent silent until the answer), and its record
/// and call log say how far into the recording the answer is (`early_media_ms`).
#[test]
fn early_media_opens_the_recording_of_a_dialled_call_and_is_marked() {
    require_tool("sipp");
    let (machine_clip, _) = machine_greeting();
    let machine = MediaPeer::start(machine_clip.clone());
    let human = MediaPeer::start(person_answering());
    let trunk_port = free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n\n\
         [[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind {{{{contact.name}}}} of an appointment.\"\n\
         greeting_message = \"Hello {{{{contact.name}}}}, this is Green Valley Dental about your appointment.\"\n\
         interaction_mode = \"non_conversational\"\n"
    );
    let server = Server::start_env("campaign-early-recording", &config, false, &OWNER);
    let _carrier = Carrier::start_early(&server, trunk_port, (&machine, &machine_clip[..16_000]), &human);
    wait_agent_ready(&server, "caller");
    let token = owner_token(server.http);
    let batch = upload_campaign(
        &server,
        &token,
        "caller",
        "early-recording",
        "contact_number,name\n+15551000021,Fay\n",
        json!({"max_live_calls": 1, "trunk": "carrier", "amd": "hangup"}),
    );
    let (view, _) = run_batch(&server, &token, &batch, CAMPAIGN_WITHIN);
    assert_eq!(view["progress"]["by_outcome"], json!({"answered-human": 1}), "{view}");

    let record = record_of(&server, "15551000021");
    // sipp plays 2.5 s of ringback (2 s of tone, then line) between its 183 and its 200 OK.
    let early_ms = record["early_media_ms"].as_u64().unwrap_or_else(|| panic!("no early media marked: {record}"));
    assert!((1500..=3500).contains(&early_ms), "early media of {early_ms} ms: {record}");
    // The filesystem blob store: `fs://<bucket>/<key>` under the data dir's blobs.
    let url = record["recording"].as_str().expect("a recording");
    let path = match url.strip_prefix("fs://") {
        Some(blob) => server.dir.join("data/blobs").join(blob),
        None => server.dir.join("data/calls").join(url),
    };
    let wav = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let channels = u16::from_le_bytes([wav[22], wav[23]]) as usize;
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]) as usize;
    assert_eq!(channels, 2, "caller left, agent right");
    let samples: Vec<i16> = wav[44..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let side = |channel: usize, from_ms: usize, to_ms: usize| -> f64 {
        let frames = samples.chunks_exact(2).skip(from_ms * rate / 1000).take((to_ms - from_ms) * rate / 1000);
        let (sum, n) = frames.fold((0f64, 0usize), |(sum, n), f| (sum + f64::from(f[channel]).powi(2), n + 1));
        (sum / n.max(1) as f64).sqrt()
    };
    // The ringback's tone in the recording's first second, on the caller's side; the agent silent until the
    // answer; after it, the greeting on the agent's side.
    let early_ms = early_ms as usize;
    assert!(side(0, 100, 1000) > 500.0, "the ringback is recorded: rms {}", side(0, 100, 1000));
    assert_eq!(side(1, 0, early_ms), 0.0, "the agent is silent before the answer");
    assert!(side(1, early_ms, early_ms + 6000) > 100.0, "the greeting after the answer");
    // The call log carries the mark too.
    let marked = |page: &Value| {
        let items = page["items"].as_array().cloned().unwrap_or_default();
        items.iter().any(|log| log["early_media_ms"].as_u64() == Some(early_ms as u64))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, page) = api(&server, "GET", "/api/v1/meetings", &token, Value::Null);
        if status == 200 && marked(&page) {
            break;
        }
        assert!(Instant::now() < deadline, "the call log never marked the early media: {page}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
