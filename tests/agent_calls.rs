//! The built-in `bench` agent over SIP with a real softphone (pjsua2): greeting first audio within 1.5 s of
//! the answer, a reply after the caller's utterance, and barge-in stopping the agent's audio within 300 ms of
//! the caller speaking over it, all measured on the caller's recording (tests/peers/pjsua_agent.py).

mod common;

use common::{require_tool, run_peer, Server};

#[test]
fn bench_agent_greets_replies_and_yields_to_barge_in() {
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start("bench-agent", "[bench]\nrecord = true\n");
    let uri = format!("sip:bench@{}", server.sip);
    run_peer(&server, "pjsua_agent.py", &[uri.as_ref(), server.dir.join("pjsua").as_os_str()]);
    let log = server.log();
    assert!(log.contains("caller said turn=1 text=what time is it"), "{log}");
    assert!(log.contains("caller barged in"), "{log}");
    assert!(server.metric("voicera_barge_ins_total") >= 1.0);
    assert!(server.metric("voicera_turn_latency_seconds_count") >= 1.0);
    // The call record and the stereo recording are in the data dir once the call has ended.
    server.wait_for("the call record", std::time::Duration::from_secs(10), |s| s.log().contains("call record stored"));
    // Records under `calls/<day>/`, recordings in the filesystem blob store's `recordings/<day>/`.
    let days = ["data/calls", "data/blobs/recordings"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(server.dir.join(dir)).unwrap().flatten().map(|e| e.path()))
        .collect::<Vec<_>>();
    let files: Vec<_> = days.iter().flat_map(|d| std::fs::read_dir(d).unwrap().flatten().map(|e| e.path())).collect();
    let json = files.iter().find(|p| p.extension().is_some_and(|e| e == "json")).expect("a call record");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(record["agent"], "bench");
    assert_eq!(record["turns"][0]["user_text"], "what time is it");
    assert_eq!(record["turns"][0]["interrupted"], true, "{record}");
    let wav = files.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("a recording");
    let bytes = std::fs::read(wav).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "stereo");
    assert!(bytes.len() > 44 + 16000 * 4 * 5, "at least 5 s of audio");
}
