//! The answering-machine detector on clips from the labelled set (`scripts/amd-clips.sh`, stored as 8 kHz
//! μ-law as a phone line carries them): espeak-ng people answering and voicemail greetings with and without a
//! beep, two of them with line noise.

use std::time::Duration;

use voicera_media::amd::{AmdDetector, AmdParams, AmdReason, AmdVerdict};
use voicera_media::codec::g711::ulaw_to_linear;

struct Outcome {
    verdict: AmdVerdict,
    reason: AmdReason,
    decided_at: Duration,
    beep_at: Option<Duration>,
    message_cue_at: Option<Duration>,
}

fn detect(name: &str) -> Outcome {
    let path = format!("{}/tests/data/amd/{name}.ul", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pcm: Vec<i16> = bytes.iter().map(|b| ulaw_to_linear(*b)).collect();
    let mut detector = AmdDetector::new(8000, AmdParams::default());
    let (mut beep_at, mut message_cue_at) = (None, None);
    for (i, frame) in pcm.chunks_exact(160).enumerate() {
        let at = Duration::from_millis((i as u64 + 1) * 20);
        if detector.process(frame, at) == AmdVerdict::MachineBeep {
            beep_at.get_or_insert(at);
        }
        if detector.leave_message_now() {
            message_cue_at.get_or_insert(at);
        }
    }
    Outcome {
        verdict: detector.verdict(),
        reason: detector.reason(),
        decided_at: detector.decided_at().expect("a decision"),
        beep_at,
        message_cue_at,
    }
}

#[test]
fn a_person_saying_hello_is_human_within_3_s() {
    for clip in ["human-00", "human-14"] {
        let outcome = detect(clip);
        assert_eq!(outcome.verdict, AmdVerdict::Human, "{clip}");
        assert_eq!(outcome.reason, AmdReason::ShortGreeting, "{clip}");
        assert!(outcome.decided_at <= Duration::from_secs(3), "{clip}: decided at {:?}", outcome.decided_at);
        assert_eq!(outcome.message_cue_at, None, "{clip}");
    }
}

#[test]
fn a_voicemail_greeting_is_a_machine_and_its_beep_cues_the_message() {
    for clip in ["machine-00", "machine-13"] {
        let outcome = detect(clip);
        assert_eq!(outcome.verdict, AmdVerdict::MachineBeep, "{clip}");
        assert!(outcome.decided_at <= Duration::from_secs(3), "{clip}: decided at {:?}", outcome.decided_at);
        let beep_at = outcome.beep_at.expect("beep heard");
        assert!(beep_at > Duration::from_secs(5), "{clip}: the beep ends the greeting, heard at {beep_at:?}");
        assert_eq!(outcome.message_cue_at, Some(beep_at), "{clip}");
    }
}

#[test]
fn a_voicemail_greeting_without_a_beep_cues_the_message_when_it_ends() {
    let outcome = detect("machine-06");
    assert_eq!(outcome.verdict, AmdVerdict::Machine);
    assert_eq!(outcome.reason, AmdReason::LongGreeting);
    assert_eq!(outcome.beep_at, None);
    let cue = outcome.message_cue_at.expect("cued at the greeting's end");
    assert!(cue > outcome.decided_at + Duration::from_secs(2), "cue at {cue:?}");
}
