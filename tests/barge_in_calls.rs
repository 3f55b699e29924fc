//! Barge-in on real models, measured at the caller: the `demo` agent (Silero VAD, Whisper tiny.en, SmolLM2,
//! Piper) is talked over while it answers, on each transport — a real SIP softphone (pjsua2), a Vobiz media
//! stream (the provider's playout modelled), and Chromium over WebRTC — and what the caller heard shows how
//! soon the agent's voice stopped, that the agent then answered the interruption, and the call record marks
//! the reply that was cut. A cough over the reply instead pauses the agent at most: the same reply plays on,
//! nothing repeated or skipped. Stop times are printed for bench/results/barge-in.md, not judged beyond a
//! generous bound (timed assertions on performance do not belong in tests), except Chromium's stop over WebRTC,
//! which issue 16 bounds at 300 ms at the caller.
//! Heavy (real model weights, fetched into the shared cache on first use): `#[ignore]`d in the quick loop.

mod common;

use std::time::{Duration, Instant};

use common::{require_tool, run_peer, Server};

/// Waits until the agent's local models are loaded (first run: fetched into the shared cache).
fn wait_for_agent(server: &Server, id: &str) {
    let field = format!("agent=\"{id}\"");
    server.wait_for(&format!("agent {id}"), Duration::from_secs(600), |s| {
        let log = s.log();
        let line = |what: &str| log.lines().any(|l| l.contains(what) && l.contains(&field));
        assert!(!line("agent unavailable"), "agent {id} failed to load:\n{log}");
        line("agent ready")
    });
}

/// The words of the caller's turns, lower-cased.
fn user_text(turn: &serde_json::Value) -> String {
    turn["user_text"].as_str().unwrap_or_default().to_lowercase()
}

/// The outcomes of the barge-ins into a turn's reply ("interrupted", "resumed").
fn barge_in_outcomes(turn: &serde_json::Value) -> Vec<String> {
    turn["barge_ins"]
        .as_array()
        .map_or(vec![], |b| b.iter().filter_map(|b| b["outcome"].as_str().map(String::from)).collect())
}

/// Checks the call record of a barge-in call: the interruption was heard as a turn of its own, the reply
/// before it is marked interrupted (with an "interrupted" barge-in), and the agent answered it.
fn assert_record_shows_the_cut(server: &Server, interruption_words: &[&str]) -> serde_json::Value {
    server.wait_for("the call record", Duration::from_secs(15), |s| s.log().contains("call record stored"));
    let record = server.call_records().into_iter().next().expect("a call record");
    println!("call record: {record:#}");
    assert_eq!(record["agent"], "demo");
    let turns = record["turns"].as_array().expect("turns");
    let asked = turns
        .iter()
        .position(|t| interruption_words.iter().any(|w| user_text(t).contains(w)))
        .unwrap_or_else(|| panic!("the interruption was not heard: {record}"));
    assert!(asked > 0, "the interruption is the question's turn: {record}");
    let cut = &turns[asked - 1];
    assert_eq!(cut["interrupted"], true, "{record}");
    assert!(barge_in_outcomes(cut).iter().any(|o| o == "interrupted"), "{record}");
    let answer = turns[asked]["agent_text"].as_str().unwrap_or_default();
    assert!(!answer.trim().is_empty(), "the agent did not answer the interruption: {record}");
    assert!(server.metric("voicera_barge_ins_total") >= 1.0, "{}", server.metrics());
    record
}

/// A pjsua2 caller asks `demo` for a long story over SIP (G.722) and talks over the reply a second into it.
/// Measured in the caller's recording: the agent's voice stops soon after the caller's onset (printed as
/// `barge-in stop: N ms`; bound 1.5 s), and resumes only after the caller has finished, answering. The call
/// record shows the story's turn cut.
#[test]
#[ignore = "heavy: local models on real weights"]
fn demo_agent_over_sip_stops_when_talked_over_and_answers_the_interruption() {
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start_with("barge-in-sip", "", true);
    wait_for_agent(&server, "demo");
    let workdir = server.dir.join("pjsua");
    let uri = format!("sip:demo@{}", server.sip);
    let out = run_peer(
        &server,
        "pjsua_barge_in.py",
        &[
            uri.as_ref(),
            workdir.as_os_str(),
            "Please tell me a long story about a brave knight and a dragon.".as_ref(),
            "Wait, stop, I want to ask you something else".as_ref(),
        ],
    );
    assert!(server.log().contains("codec=G722"), "the call was not G.722");
    let stop_ms = out
        .lines()
        .find_map(|l| l.strip_prefix("barge-in stop: ")?.split(' ').next()?.parse::<f64>().ok())
        .expect("the peer printed the stop time");
    println!("SIP (pjsua2, G.722) barge-in stop at the caller: {stop_ms:.0} ms");
    let record = assert_record_shows_the_cut(&server, &["wait", "stop", "ask", "else"]);
    let turns = record["turns"].as_array().expect("turns");
    let cut = turns.iter().find(|t| t["interrupted"] == true).expect("a cut turn");
    println!("the cut reply kept: {:?}", cut["agent_text"]);
}

/// Seconds of voice (20 ms frames at or above the peer's `VOICED_RMS`) in `text` said by the `demo` agent's
/// Piper voice without interruption (`voicera models tts`), clause by clause as the agent says it (a clause
/// said on its own is paced differently from the same words inside a sentence), carried as `line` carries it.
fn piper_voiced_seconds(server: &Server, text: &str, line: Line) -> f64 {
    let mut clauses = Vec::new();
    let mut clause = String::new();
    for c in text.chars() {
        clause.push(c);
        if matches!(c, ',' | '.' | '?' | '!' | ';' | ':') {
            clauses.push(std::mem::take(&mut clause));
        }
    }
    clauses.push(clause);
    clauses
        .iter()
        .map(|c| c.trim_matches(|c: char| c.is_whitespace() || c == '—'))
        .filter(|c| !c.is_empty())
        .map(|clause| clause_voiced_seconds(server, clause, line))
        .sum()
}

/// How the caller's line carries the agent's voice, for the voice said without interruption to be measured as
/// the caller hears it: an 8 kHz line loses the energy of fricatives above 4 kHz (and with it frames near the
/// threshold); Opus spreads a word's edges into the quiet beside it.
#[derive(Clone, Copy, Debug)]
enum Line {
    /// Piper's own rate (G.722 keeps all that matters).
    Wideband,
    /// The engine's 16 kHz brought to 8 kHz by the server's own resampler and carried as μ-law, as a stream
    /// carries it. (sox's 8 kHz kept more of the 3.7–4 kHz band than the server's filter: the reference came out
    /// 0.16 s longer than the reply as heard on average over 8 runs, a third of the bound.)
    Narrowband,
    /// The engine's 16 kHz through the server's own Opus encoder and decoder, 20 ms frames.
    Opus,
}

fn clause_voiced_seconds(server: &Server, text: &str, line: Line) -> f64 {
    let mut wav = server.dir.join("uninterrupted.wav");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_voicera"))
        .args(["models", "tts", text, "--model", "piper", "--output"])
        .arg(&wav)
        .env("VOICERA_MODELS_DIR", common::models_cache())
        .output()
        .expect("run voicera models tts");
    assert!(out.status.success(), "voicera models tts failed: {}", String::from_utf8_lossy(&out.stderr));
    if let Line::Narrowband | Line::Opus = line {
        let resampled = server.dir.join("uninterrupted-line.wav");
        let sox = std::process::Command::new("sox").arg(&wav).args(["-r", "16000"]).arg(&resampled).status();
        assert!(sox.expect("run sox").success(), "sox could not resample the reply");
        wav = resampled;
    }
    let bytes = std::fs::read(&wav).expect("the synthesised reply");
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).expect("a WAV chunk");
    let fmt = at(b"fmt ") + 8;
    let mut rate = u32::from_le_bytes([bytes[fmt + 4], bytes[fmt + 5], bytes[fmt + 6], bytes[fmt + 7]]) as usize;
    let mut pcm = common::wav_samples(&bytes);
    if let Line::Narrowband = line {
        use voicera_media::codec::g711::{linear_to_ulaw, ulaw_to_linear};
        let mut down = voicera_media::dsp::Resampler::new(16000, 8000);
        let mut narrow = vec![0i16; down.max_output(pcm.len())];
        let n = down.process(&pcm, &mut narrow);
        pcm = narrow[..n].iter().map(|&s| ulaw_to_linear(linear_to_ulaw(s))).collect();
        rate = 8000;
    }
    if let Line::Opus = line {
        let mut opus = voicera_media::codec::CodecKind::Opus.build().expect("an Opus codec");
        let (mut payload, mut decoded) = (vec![0u8; 1500], vec![0i16; 1920]);
        let mut carried = Vec::with_capacity(pcm.len());
        pcm.resize(pcm.len().div_ceil(320) * 320, 0);
        for frame in pcm.chunks_exact(320) {
            let n = opus.encode(frame, &mut payload).expect("Opus encodes");
            let m = opus.decode(&payload[..n], &mut decoded).expect("Opus decodes");
            carried.extend_from_slice(&decoded[..m]);
        }
        pcm = carried;
    }
    let samples: Vec<f64> = pcm.iter().map(|&s| f64::from(s)).collect();
    let frame = rate / 50;
    let voiced = samples
        .chunks_exact(frame)
        .filter(|f| (f.iter().map(|s| s * s).sum::<f64>() / frame as f64).sqrt() >= 600.0)
        .count();
    voiced as f64 * 0.02
}

/// A pjsua2 caller asks `demo` for a story over SIP and coughs over the reply (300 ms of shaped noise and
/// buzz, no words), inside a clause. Measured in the caller's recording: the agent paused and then spoke on,
/// and the reply as heard holds as much voice as its text said without interruption (nothing repeated,
/// nothing skipped: a clause is ≥ 0.6 s of voice, more than the bound allows). The call record has the reply's
/// `resumed` barge-in and no turn for the cough; `/metrics` counts the resume and no interruption.
#[test]
#[ignore = "heavy: local models on real weights"]
fn demo_agent_over_sip_pauses_for_a_cough_and_plays_the_same_reply_on() {
    require_tool("espeak-ng");
    require_tool("sox");
    let server = Server::start_with("cough-sip", "", true);
    wait_for_agent(&server, "demo");
    let workdir = server.dir.join("pjsua");
    let uri = format!("sip:demo@{}", server.sip);
    let out = run_peer(
        &server,
        "pjsua_barge_in.py",
        &[
            uri.as_ref(),
            workdir.as_os_str(),
            "Please tell me a long story about a brave knight and a dragon.".as_ref(),
            "(a cough)".as_ref(),
            "--cough".as_ref(),
        ],
    );
    let heard = out
        .lines()
        .find_map(|l| l.strip_prefix("reply voiced: ")?.split(' ').next()?.parse::<f64>().ok())
        .expect("the peer printed the reply's voiced seconds");
    assert_the_same_reply_played_on(&server, heard, "SIP (G.722)", Line::Wideband);
}

/// Checks a call in which the caller coughed over the agent's reply: the call record has one turn (the
/// question's) whose barge-ins were all `resumed` after a pause, `/metrics` counts the resume and no
/// interruption, and the reply as heard (`heard`: its voiced seconds at the caller) holds as much voice as its
/// text said without interruption by the same voice.
fn assert_the_same_reply_played_on(server: &Server, heard: f64, transport: &str, line: Line) {
    server.wait_for("the call record", Duration::from_secs(15), |s| s.log().contains("call record stored"));
    let record = server.call_records().into_iter().next().expect("a call record");
    println!("call record: {record:#}");
    let turns = record["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 1, "the cough made a turn of its own: {record}");
    let reply = &turns[0];
    assert!(["story", "dragon"].iter().any(|w| user_text(reply).contains(w)), "the question's turn: {record}");
    // (`interrupted` is not asked: a hang-up while the language model is still generating marks it too.)
    let outcomes = barge_in_outcomes(reply);
    assert!(!outcomes.is_empty(), "the cough paused nothing (no barge-in): {record}");
    assert!(outcomes.iter().all(|o| o == "resumed"), "the cough cut the reply: {record}");
    assert!(reply["barge_ins"][0]["paused_ms"].as_u64().is_some_and(|ms| ms > 0), "{record}");
    assert!(server.metric("voicera_barge_ins_resumed_total") >= 1.0, "{}", server.metrics());
    assert_eq!(server.metric("voicera_barge_ins_total"), 0.0, "{}", server.metrics());
    // The local recogniser's tail decodes are counted by outcome (whether any ran depends on Whisper).
    let metrics = server.metrics();
    for outcome in ["joined", "unchanged", "failed", "dropped"] {
        let series = format!("voicera_stt_tail_redecodes_total{{outcome=\"{outcome}\"}} ");
        assert!(metrics.lines().any(|l| l.starts_with(&series)), "no {series:?} in:\n{metrics}");
    }
    let text = reply["agent_text"].as_str().expect("the reply's text");
    let uninterrupted = piper_voiced_seconds(server, text, line);
    let difference = heard - uninterrupted;
    println!(
        "{transport}: reply heard with a cough: {heard:.2} s of voice; said without interruption: {uninterrupted:.2} s ({difference:+.2} s); paused {} ms",
        reply["barge_ins"][0]["paused_ms"]
    );
    // Piper draws its durations at random (noise_w) and the line's codec blurs frame edges: a few percent.
    // A clause played again from its start after the pause adds at least the 0.6 s of it already heard (the
    // callers cough only once the agent has spoken that long without a pause).
    let bound = (0.06 * uninterrupted).clamp(0.3, 0.5);
    assert!(
        difference.abs() <= bound,
        "the reply as heard has {difference:+.2} s of voice against its text said without interruption (bound {bound:.2} s): repeated or skipped audio at the pause"
    );
}

/// A 300 ms voiced cough at `rate` Hz, as the SIP peer makes it (tests/peers/pjsua_barge_in.py, `cough()`): pink
/// noise and a 200 Hz glottal buzz through two formants (500 and 1500 Hz, an open "uh"), a sharp onset and a
/// decaying body, made at 16 kHz by sox (and brought to `rate` by sox's resampler). The unvoiced cough the
/// callers made before (noise and a 130 Hz buzz through one 900 Hz band) is no speech to Silero as the model
/// itself runs (from a fresh state, or with the state the line's silence leaves: 0 and 8 of 64 alignments of
/// the question and the cough paused): it paused the agent only through the state the VAD keeps frozen over
/// digital silence (its last chunk before it: the question's end, whose 32 ms alignment decided, so that a
/// whole stream call's coughs paused nothing in about one run of three). This one Silero hears as speech in 64
/// of 64 alignments, from any of those states, and in 52–58 of 64 over a line noise floor; the recogniser gives
/// it no words (or a sentence too long for its 0.3 s of voice, which is no interruption either).
fn voiced_cough(dir: &std::path::Path, rate: u32) -> Vec<i16> {
    use std::process::Command;
    require_tool("sox");
    let path = |name: &str| dir.join(name);
    let run = |sox: &mut Command| assert!(sox.status().expect("run sox").success(), "{sox:?} failed");
    let synth = ["-n", "-r", "16000", "-c", "1", "-b", "16"];
    run(Command::new("sox").args(synth).arg(path("vc-noise.wav")).args(["synth", "0.3", "pinknoise"]));
    run(Command::new("sox").args(synth).arg(path("vc-buzz.wav")).args(["synth", "0.3", "sawtooth", "200"]));
    run(Command::new("sox").arg(path("vc-buzz.wav")).arg(path("vc-f1.wav")).args(["bandpass", "500", "3q"]));
    run(Command::new("sox").arg(path("vc-buzz.wav")).arg(path("vc-f2.wav")).args(["bandpass", "1500", "4q"]));
    run(Command::new("sox")
        .args(["-m", "-v", "1.0"])
        .arg(path("vc-f1.wav"))
        .args(["-v", "0.6"])
        .arg(path("vc-f2.wav"))
        .args(["-v", "0.4"])
        .arg(path("vc-noise.wav"))
        .arg(path("vc-mix.wav")));
    run(Command::new("sox")
        .arg(path("vc-mix.wav"))
        .args(["-r", &rate.to_string()])
        .arg(path("voiced-cough.wav"))
        .args(["fade", "t", "0.01", "0.3", "0.2", "norm", "-4"]));
    common::wav_samples(&std::fs::read(path("voiced-cough.wav")).expect("the cough"))
}

/// Seconds the agent had been speaking without a pause (gaps of up to [`WORD_GAP_S`] are inside a clause) up
/// to the end of frame `last` of `levels` (20 ms RMS); 0 when that frame is quiet. As the SIP peer's `run_s`.
fn unbroken_run(levels: &[f64], last: usize, voiced: f64) -> f64 {
    if levels.get(last).is_none_or(|&l| l < voiced) {
        return 0.0;
    }
    let gap_frames = (WORD_GAP_S / 0.02).round() as usize;
    let (mut quiet, mut start) = (0, last);
    for i in (0..=last).rev() {
        if levels[i] >= voiced {
            (quiet, start) = (0, i);
        } else {
            quiet += 1;
            if quiet > gap_frames {
                break;
            }
        }
    }
    (last + 1 - start) as f64 * 0.02
}

/// Longest gap between words inside a clause (stop consonants, word joins); a longer one is a pause.
const WORD_GAP_S: f64 = 0.12;
/// Callers talk or cough over a reply once the agent has spoken this long without a pause (so that the onset
/// lands inside a clause, not where the agent would have paused anyway), or, with clauses too short for that,
/// once the reply has gone on [`OVER_THE_REPLY_ANYWAY_S`].
const MID_CLAUSE_S: f64 = 0.6;
const OVER_THE_REPLY_ANYWAY_S: f64 = 8.2;
/// The reply is over once the agent has been quiet this long after speaking again (under load a clause's
/// synthesis has come 7.5 s after the one before).
const REPLY_OVER_QUIET_S: f64 = 10.0;
/// How long a caller who talked over the reply waits for the answer: on two cores shared with builds, Whisper's
/// final, SmolLM2's first clause and Piper have together taken 29 s (end of speech → reply audio, load 20).
const ANSWER_WAIT_S: f64 = 60.0;

/// The owner of the node: `/browser/session` tokens for `demo` need its credentials.
const OWNER: [(&str, &str); 2] =
    [("VOICERA_ADMIN_EMAIL", "owner@example.com"), ("VOICERA_ADMIN_PASSWORD", "s3cret-pass")];

/// A 16-bit mono WAV file (in memory) of `text` said by espeak-ng at 16 kHz, trimmed to where it is audible.
fn speech_wav(text: &str) -> Vec<u8> {
    let pcm = common::espeak_speech(text, 16000);
    let first = pcm.iter().position(|s| s.unsigned_abs() > 500).unwrap_or(0);
    let last = pcm.iter().rposition(|s| s.unsigned_abs() > 500).unwrap_or(pcm.len() - 1);
    wav_file(&pcm[first..=last], 16000)
}

/// A 16-bit mono WAV file (in memory) of `pcm` at `rate` Hz.
fn wav_file(pcm: &[i16], rate: u32) -> Vec<u8> {
    let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(2 * rate).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

/// Runs in the `/call-test` page: a WebRTC call to `demo` whose microphone is a Web Audio graph, so that the
/// caller can speak when it chooses. One AudioWorklet meters, in the same 20 ms render blocks (one clock),
/// what the caller sends and what it hears from the agent; the script asks once the greeting is over and
/// says `overWav` over the reply once the agent has spoken `midClause` seconds without a pause, as the SIP
/// peer does (tests/peers/pjsua_barge_in.py). With `mode` "talk" it then listens for the answer; with "cough"
/// it listens until the reply is over (quiet `replyOverQuiet` seconds after speaking again). Everything is
/// kept in `window.bargeIn` for the test to read.
const BROWSER_CALLER: &str = r#"
const [email, password, questionWav, overWav, mode, midClause, overAnyway, wordGap, replyOverQuiet, maxSounds, answerWait] = arguments;
// `serverBargeIns`: the barge-ins the server has counted, kept up to date by the test.
// `playout`: the browser's receive jitter buffer, sampled every 100 ms on the meter's clock: [seconds, cumulative
// jitterBufferDelay (s), jitterBufferEmittedCount, jitterBufferTargetDelay (s), concealedSamples, totalSamplesReceived,
// removedSamplesForAcceleration, insertedSamplesForDeceleration, the page's wall clock (s), silentConcealedSamples].
const state = window.bargeIn = { step: "connecting", agent: [], caller: [], playout: [], error: null, failure: null, attempts: 0, serverBargeIns: 0 };
(async () => {
  const { VoiceraCall } = await import("/call-test/voicera-call.js");
  // 32 kHz: a 20 ms frame is exactly five 128-sample render quanta.
  const ctx = new AudioContext({ sampleRate: 32000 });
  await ctx.resume();
  const meterCode = `class Meter extends AudioWorkletProcessor {
    constructor() { super(); this.n = 0; this.sums = [0, 0]; }
    process(inputs) {
      for (let k = 0; k < 2; k++) {
        const ch = inputs[k] && inputs[k][0];
        if (ch) for (let i = 0; i < ch.length; i++) this.sums[k] += ch[i] * ch[i];
      }
      this.n += 128;
      if (this.n >= 640) {
        this.port.postMessage([Math.sqrt(this.sums[0] / this.n), Math.sqrt(this.sums[1] / this.n)]);
        this.n = 0; this.sums = [0, 0];
      }
      return true;
    }
  }
  registerProcessor("barge-in-meter", Meter);`;
  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([meterCode], { type: "text/javascript" })));
  const meter = new AudioWorkletNode(ctx, "barge-in-meter", { numberOfInputs: 2, numberOfOutputs: 1 });
  const muted = ctx.createGain();
  muted.gain.value = 0;
  meter.connect(muted).connect(ctx.destination);
  const microphone = ctx.createMediaStreamDestination();
  // A real microphone is never digitally silent: a noise floor at -70 dBFS (far below the VAD's volume gate and
  // the meter's threshold; not metered) keeps the browser sending audio between the caller's lines, as a
  // caller's line does. Digital zeros let the browser stop sending, and a server whose reply takes longer
  // than its media timeout (30 s on a loaded machine) hangs the call up.
  const floor = ctx.createBuffer(1, ctx.sampleRate, ctx.sampleRate);
  const floorSamples = floor.getChannelData(0);
  let seed = 12345;
  for (let i = 0; i < floorSamples.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    floorSamples[i] = (seed / 1073741824 - 1) * 0.00055;
  }
  const floorSource = ctx.createBufferSource();
  floorSource.buffer = floor;
  floorSource.loop = true;
  floorSource.connect(microphone);
  floorSource.start();
  const decode = (b64) => ctx.decodeAudioData(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer);
  const question = await decode(questionWav), over = await decode(overWav);
  const say = (buffer) => {
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(microphone);
    source.connect(meter, 0, 1);
    source.start();
  };
  const VOICED = 600 / 32768, FRAME_S = 0.02;
  const voicedSince = (t) => state.agent.slice(Math.floor(t / FRAME_S)).filter((l) => l >= VOICED).length * FRAME_S;
  // Seconds the agent has been speaking without a pause (gaps up to wordGap are inside a clause), up to now.
  const unbrokenRun = () => {
    const levels = state.agent, gapFrames = Math.round(wordGap / FRAME_S);
    if (!levels.length || levels[levels.length - 1] < VOICED) return 0;
    let quiet = 0, start = levels.length - 1;
    for (let i = levels.length - 1; i >= 0; i--) {
      if (levels[i] >= VOICED) { quiet = 0; start = i; } else if (++quiet > gapFrames) break;
    }
    return (levels.length - start) * FRAME_S;
  };
  let lastVoiced = null, askedAt = 0, overAt = 0, replyFrom = null, doneAt = null;
  meter.port.onmessage = (e) => {
    state.agent.push(e.data[0]);
    state.caller.push(e.data[1]);
    const now = state.agent.length * FRAME_S;
    if (state.agent.length % 5 === 0 && window.voiceraCall && window.voiceraCall.pc) {
      window.voiceraCall.pc.getStats().then((stats) => {
        for (const r of stats.values()) {
          if (r.type === "inbound-rtp" && r.kind === "audio") {
            state.playout.push([now, r.jitterBufferDelay || 0, r.jitterBufferEmittedCount || 0, r.jitterBufferTargetDelay || 0,
              r.concealedSamples || 0, r.totalSamplesReceived || 0, r.removedSamplesForAcceleration || 0,
              r.insertedSamplesForDeceleration || 0, performance.now() / 1000, r.silentConcealedSamples || 0]);
          }
        }
      });
    }
    if (e.data[0] >= VOICED) lastVoiced = now;
    if (state.step === "greeting" && lastVoiced !== null && now - lastVoiced >= 1.2) {
      say(question);
      state.step = "asking";
      askedAt = now;
    } else if (state.step === "asking" && now > askedAt + question.duration && voicedSince(askedAt + question.duration) > 0) {
      replyFrom = replyFrom ?? now;
      const inClause = unbrokenRun() >= midClause || now - replyFrom >= overAnyway;
      if (now - replyFrom >= 0.2 && inClause) {
        say(over);
        state.step = "over the reply";
        state.runAtOnset = unbrokenRun();
        state.attempts = 1;
        overAt = now;
      }
    } else if (state.step === "over the reply" && now > overAt + over.duration) {
      state.step = "listening";
    } else if (state.step === "listening") {
      const end = overAt + over.duration;
      if (mode === "cough" && state.serverBargeIns === 0 && now >= end + 2.0 && state.attempts < maxSounds && unbrokenRun() >= midClause) {
        // The VAD did not take the sound for speech (a short cough can pass), so nothing paused: the caller
        // makes it again at the next clause, so that the pause and resume are tested.
        say(over);
        state.step = "over the reply";
        state.runAtOnset = unbrokenRun();
        state.attempts += 1;
        overAt = now;
      } else if (mode === "cough") {
        // The reply plays on to its end: the agent spoke again after the cough and has since been quiet.
        if (voicedSince(end) >= 0.5 && now - lastVoiced >= replyOverQuiet) state.step = "done";
        if (now > end + 120) { state.failure = "the reply did not end within 120 s of the cough"; state.step = "done"; }
      } else {
        if (doneAt === null && voicedSince(end) >= 0.5) doneAt = now + 1.0;
        if ((doneAt !== null && now >= doneAt) || now > end + answerWait) state.step = "done";
      }
    }
  };
  const call = new VoiceraCall({ agentId: "demo", transport: "webrtc", credentials: { email, password }, microphone: microphone.stream });
  window.voiceraCall = call;
  await call.start();
  while (!call.player) await new Promise((resolve) => setTimeout(resolve, 20));
  ctx.createMediaStreamSource(call.player.srcObject).connect(meter, 0, 0);
  state.agent = [];
  state.caller = [];
  state.step = "greeting";
})().catch((e) => { state.error = String(e && e.stack ? e.stack : e); state.step = "done"; });
return true;
"#;

/// One reading of the page's receive jitter buffer (`inbound-rtp` getStats, cumulative counters).
#[derive(Debug, Clone, Copy)]
struct PlayoutSample {
    /// Seconds on the meter's clock.
    at: f64,
    delay_s: f64,
    emitted: f64,
    target_s: f64,
    concealed: f64,
    /// Of the concealed samples, those played as silence or comfort noise (NetEq's expansion faded out).
    silent_concealed: f64,
    received: f64,
    /// Samples NetEq removed (accelerate) and inserted (decelerate) to move its buffer level to the target.
    accelerated: f64,
    decelerated: f64,
    /// The page's wall clock (s): the meter's clock falling behind it is render quanta the page lost.
    wall: f64,
}

/// The page's playout over `[from, to)` seconds of the meter's clock.
#[derive(Debug)]
struct PlayoutWindow {
    /// The jitter buffer's average delay, and its average target, per sample emitted (ms).
    delay_ms: f64,
    target_ms: f64,
    /// Samples concealed, received, removed (accelerate) and inserted (decelerate), in ms of 48 kHz audio.
    concealed_ms: f64,
    silent_concealed_ms: f64,
    received_ms: f64,
    accelerated_ms: f64,
    decelerated_ms: f64,
    /// The page's wall time minus the meter's time over the window (ms): render quanta lost.
    meter_lag_ms: f64,
}

fn playout_window(samples: &[PlayoutSample], from: f64, to: f64) -> Option<PlayoutWindow> {
    let first = samples.iter().find(|s| s.at >= from)?;
    let last = samples.iter().rev().find(|s| s.at < to)?;
    let emitted = last.emitted - first.emitted;
    (emitted > 0.0).then(|| PlayoutWindow {
        delay_ms: (last.delay_s - first.delay_s) / emitted * 1000.0,
        target_ms: (last.target_s - first.target_s) / emitted * 1000.0,
        concealed_ms: (last.concealed - first.concealed) / 48.0,
        silent_concealed_ms: (last.silent_concealed - first.silent_concealed) / 48.0,
        received_ms: (last.received - first.received) / 48.0,
        accelerated_ms: (last.accelerated - first.accelerated) / 48.0,
        decelerated_ms: (last.decelerated - first.decelerated) / 48.0,
        meter_lag_ms: ((last.wall - first.wall) - (last.at - first.at)) * 1000.0,
    })
}

/// Seconds of the voiced frames of `levels` (start times `voiced`, from `from` on) that the page's jitter buffer
/// made up rather than received: NetEq conceals the slots of packets that never came (a server task that missed
/// its ticks under load leaves such gaps) by stretching the audio before them, and the expansion of a voiced
/// frame is voiced at the meter. Per getStats interval, its audible concealment (`concealedSamples` less
/// `silentConcealedSamples`, at 48 kHz) is counted against the voiced frames the meter heard in it; what is
/// left over is carried into the next interval only (the meter hears NetEq's output a little after the counter
/// moves), never further (concealment that faded below the voiced level is no voice to take away).
fn concealed_voice_s(voiced: &[f64], playout: &[PlayoutSample], from: f64) -> f64 {
    let mut made_up = 0u64;
    let mut carried = 0u64;
    for pair in playout.windows(2).filter(|p| p[0].at >= from) {
        let (a, b) = (&pair[0], &pair[1]);
        let audible = |s: &PlayoutSample| s.concealed - s.silent_concealed;
        let concealed = ((audible(b) - audible(a)).max(0.0) / 960.0).round() as u64;
        let heard = voiced.iter().filter(|&&t| t >= a.at && t < b.at).count() as u64;
        let pending = concealed + carried;
        let counted = pending.min(heard);
        made_up += counted;
        carried = (pending - counted).min(concealed);
    }
    made_up as f64 * 0.02
}

/// The page's made-up voice is what its jitter buffer concealed audibly, counted against the voiced frames heard
/// in the same getStats interval or the next: never more than was concealed, nor than was heard beside it.
#[test]
fn concealment_is_counted_against_the_voice_heard_beside_it() {
    let sample = |at: f64, concealed_frames: f64, silent_frames: f64| PlayoutSample {
        at,
        delay_s: 0.0,
        emitted: 0.0,
        target_s: 0.0,
        concealed: concealed_frames * 960.0,
        silent_concealed: silent_frames * 960.0,
        received: 0.0,
        accelerated: 0.0,
        decelerated: 0.0,
        wall: at,
    };
    // Voice heard from 0.0 to 0.6 s and from 1.0 to 1.2 s; getStats read halfway between frame starts.
    let voiced: Vec<f64> = (0..30).chain(50..60).map(|i| f64::from(i) * 0.02).collect();
    let playout = [
        sample(0.05, 0.0, 0.0),
        sample(0.15, 3.0, 0.0), // 3 frames made up among 5 heard
        sample(0.25, 3.0, 0.0),
        sample(0.35, 5.0, 1.0), // 2 concealed, 1 of them silent
        sample(0.45, 5.0, 1.0),
        sample(0.55, 12.0, 1.0), // 7 concealed among 5 heard: 2 carried into the next interval (2 heard)
        sample(0.65, 12.0, 1.0),
        sample(0.75, 16.0, 1.0), // 4 concealed, nothing heard: carried once, then gone
        sample(0.85, 16.0, 1.0),
        sample(0.95, 18.0, 1.0), // 2 concealed just before the voice that starts at 1.0 s: the meter's lag
        sample(1.05, 18.0, 1.0),
        sample(1.15, 18.0, 1.0),
    ];
    let frames = |s: f64| (s / 0.02).round() as u32;
    assert_eq!(frames(concealed_voice_s(&voiced, &playout, 0.0)), 3 + 1 + 5 + 2 + 2);
    assert_eq!(frames(concealed_voice_s(&voiced, &playout, 0.45)), 5 + 2 + 2);
}

/// What the page's caller heard and said, as 20 ms levels on the page's one audio clock.
struct BrowserCall {
    /// The browser's receive jitter buffer, every 100 ms.
    playout: Vec<PlayoutSample>,
    agent: Vec<f64>,
    caller: Vec<f64>,
    transcript: Vec<serde_json::Value>,
    /// The agent's unbroken run when the caller started over the reply, as the page read it live.
    run_at_onset: f64,
    /// How many times the caller made its sound over the reply (a cough that paused nothing is made again).
    attempts: u64,
}

/// Opens `/call-test` in headless Chromium, calls `demo` over WebRTC with [`BROWSER_CALLER`] (`mode` "talk"
/// or "cough", saying `over` over the reply), waits until the script is done, and hangs up.
fn browser_call(server: &Server, question: &[u8], over: &[u8], mode: &str) -> BrowserCall {
    use base64::Engine as _;
    let silence = server.dir.join("silence.wav");
    std::fs::write(&silence, wav_file(&[0; 16000], 16000)).unwrap();
    let browser = common::browser::Browser::start(&silence);
    browser.open(server.http, "/call-test");
    browser.wait_for("the page", Duration::from_secs(10), "return document.getElementById('call') !== null");
    let b64 = |wav: &[u8]| base64::engine::general_purpose::STANDARD.encode(wav);
    browser.run(
        BROWSER_CALLER,
        serde_json::json!([
            OWNER[0].1,
            OWNER[1].1,
            b64(question),
            b64(over),
            mode,
            MID_CLAUSE_S,
            OVER_THE_REPLY_ANYWAY_S,
            WORD_GAP_S,
            REPLY_OVER_QUIET_S,
            MAX_SOUNDS_OVER_THE_REPLY,
            ANSWER_WAIT_S
        ]),
    );
    // A story on two loaded cores: the greeting, the question, a reply of 20–40 s, 10 s of quiet after it.
    let deadline = Instant::now() + Duration::from_secs(300);
    let step = loop {
        let barge_ins = server.metric("voicera_barge_ins_resumed_total") + server.metric("voicera_barge_ins_total");
        let step = browser.run(
            "window.bargeIn.serverBargeIns = arguments[0]; return window.bargeIn.step",
            serde_json::json!([barge_ins]),
        );
        if step == "done" {
            break step;
        }
        assert!(Instant::now() < deadline, "the barge-in script did not finish (step {step})");
        std::thread::sleep(Duration::from_millis(200));
    };
    let seen = browser.run(
        "const s = window.bargeIn; return {crash: s.error, failure: s.failure, agent: s.agent, caller: s.caller, \
         playout: s.playout, runAtOnset: s.runAtOnset, attempts: s.attempts, transcript: window.voiceraCall ? window.voiceraCall.transcript : null}",
        serde_json::json!([]),
    );
    // (Not `error`: WebDriver reads that key of a script's result as its own failure.)
    assert!(seen["crash"].is_null(), "the page's caller failed ({step}): {}", seen["crash"]);
    assert!(seen["failure"].is_null(), "{}", seen["failure"]);
    browser.run("window.voiceraCall.hangUp()", serde_json::json!([]));
    let levels = |side: &str| -> Vec<f64> {
        seen[side].as_array().expect("levels").iter().map(|l| l.as_f64().unwrap_or(0.0)).collect()
    };
    let playout = seen["playout"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    let r: Vec<f64> = r.as_array()?.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect();
                    Some(PlayoutSample {
                        at: r[0],
                        delay_s: r[1],
                        emitted: r[2],
                        target_s: r[3],
                        concealed: r[4],
                        received: r[5],
                        accelerated: r[6],
                        decelerated: r[7],
                        wall: r[8],
                        silent_concealed: r.get(9).copied().unwrap_or(0.0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    BrowserCall {
        playout,
        agent: levels("agent"),
        caller: levels("caller"),
        transcript: seen["transcript"].as_array().cloned().unwrap_or_default(),
        run_at_onset: seen["runAtOnset"].as_f64().unwrap_or(0.0),
        attempts: seen["attempts"].as_u64().unwrap_or(0),
    }
}

/// (start, end) seconds of the runs of 20 ms `levels` at or above `voiced`; gaps up to `max_gap` seconds do
/// not split a run.
fn voiced_runs(levels: &[f64], voiced: f64, max_gap: f64) -> Vec<(f64, f64)> {
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for (i, _) in levels.iter().enumerate().filter(|(_, &l)| l >= voiced) {
        let (start, end) = (i as f64 * 0.02, (i + 1) as f64 * 0.02);
        match runs.last_mut() {
            Some(run) if start - run.1 <= max_gap => run.1 = end,
            _ => runs.push((start, end)),
        }
    }
    runs
}

/// Start times of the frames of `levels` at or above `voiced` in `[from, to)` seconds.
fn voiced_frames(levels: &[f64], voiced: f64, from: f64, to: f64) -> Vec<f64> {
    let frame = 0.02;
    (((from.max(0.0) / frame) as usize)..((to / frame) as usize).min(levels.len()))
        .filter(|&i| levels[i] >= voiced)
        .map(|i| i as f64 * frame)
        .collect()
}

/// Chromium calls `demo` over WebRTC (Opus, DTLS-SRTP) with a Web Audio microphone, asks for a long story
/// and talks over the reply inside a clause. Measured on the page's own meter of what it sent and heard (one
/// audio clock): the agent's voice stops within 300 ms of the caller's onset (issue 16's bound, both network
/// legs and Chromium's jitter buffer included) and comes back only after the caller has finished, answering.
/// The call record shows the story's turn cut. The page's playout delay and the server's own share of the
/// stop (its log) are printed, so that a slow stop can be told apart.
#[test]
#[ignore = "heavy: local models on real weights"]
fn demo_agent_over_webrtc_in_chromium_stops_when_talked_over_and_answers_the_interruption() {
    let server = Server::start_env("barge-in-webrtc", "", true, &OWNER);
    wait_for_agent(&server, "demo");
    let call = browser_call(
        &server,
        &speech_wav("Please tell me a long story about a brave knight and a dragon."),
        &speech_wav("Wait, stop, I want to ask you something else"),
        "talk",
    );
    let voiced = 600.0 / 32768.0;
    let caller_runs = voiced_runs(&call.caller, voiced, 0.8);
    let agent_runs = voiced_runs(&call.agent, voiced, 0.6);
    println!("caller speaks: {caller_runs:.2?}\nagent speaks: {agent_runs:.2?}");
    assert!(caller_runs.len() >= 2, "a question and an interruption: {caller_runs:?}");
    let (onset, said_end) = caller_runs[1];
    let voiced_at = |from: f64, to: f64| voiced_frames(&call.agent, voiced, from, to);
    assert!(
        !voiced_at(onset - 0.3, onset).is_empty(),
        "the agent was not speaking when the caller started at {onset:.2} s"
    );
    println!("talked over after the agent had spoken {:.2} s without a pause", call.run_at_onset);
    let stop = voiced_at(onset, said_end).last().map_or(onset, |t| t + 0.02);
    let stop_ms = (stop - onset) * 1000.0;
    println!("WebRTC (Chromium, Opus) barge-in stop at the caller: {stop_ms:.0} ms");
    print_playout(&call, onset);
    assert!(stop_ms <= 300.0, "the agent went on {stop_ms:.0} ms over the caller (bound 300 ms)");
    let answer = voiced_at(said_end, f64::MAX);
    assert!(answer.len() as f64 * 0.02 >= 0.3, "the agent did not answer after the caller stopped at {said_end:.2} s");
    println!("answer starts {:.0} ms after the caller stopped", (answer[0] - said_end) * 1000.0);
    // The page's transcript marks the cut reply too.
    let transcript = &call.transcript;
    assert!(transcript.iter().any(|m| m["role"] == "assistant" && m["interrupted"] == true), "{transcript:?}");
    let record = assert_record_shows_the_cut(&server, &["wait", "stop", "ask", "else"]);
    assert_eq!(record["transport"], "webrtc");
    print_server_timings(&server);
}

/// Prints the page's playout delay over the call and in the second before `onset`, and the server's own
/// barge-in timings (its log), so that a stop time can be split into its legs.
fn print_playout(call: &BrowserCall, onset: f64) {
    let end = call.playout.last().map_or(0.0, |s| s.at);
    let mut from = 0.0;
    while from < end {
        if let Some(w) = playout_window(&call.playout, from, from + 2.0) {
            println!(
                "page playout {from:5.1}-{:5.1} s: delay {:4.0} ms, target {:4.0} ms, received {:5.0} ms, concealed {:4.0} ms ({:4.0} ms silent), accelerated {:4.0} ms, decelerated {:4.0} ms, meter lag {:4.0} ms",
                from + 2.0,
                w.delay_ms,
                w.target_ms,
                w.received_ms,
                w.concealed_ms,
                w.silent_concealed_ms,
                w.accelerated_ms,
                w.decelerated_ms,
                w.meter_lag_ms
            );
        }
        from += 2.0;
    }
    match playout_window(&call.playout, onset - 1.0, onset + 0.1) {
        Some(w) => println!("page playout in the second before the onset: {w:?}"),
        None => println!("page playout: no getStats readings around the onset"),
    }
}

/// The server's log lines on the WebRTC call's pauses and pacing.
fn print_server_timings(server: &Server) {
    for line in server.log().lines().filter(|l| l.contains("WebRTC barge-in") || l.contains("WebRTC call ended")) {
        println!("server: {line}");
    }
}

/// Chromium calls `demo` over WebRTC, asks for a long story and coughs over the reply inside a clause (the
/// SIP peer's 300 ms cough). Measured on the page's meter: the agent paused (printed) and spoke on, and the
/// reply as received (the voice heard, less the voice Chromium's jitter buffer made up over the slots of
/// packets a loaded server never sent: [`concealed_voice_s`]) holds as much voice as its text said without
/// interruption: the same reply resumed, nothing repeated or skipped. The record has one turn whose barge-ins all `resumed`; `/metrics` counts no cut.
#[test]
#[ignore = "heavy: local models on real weights"]
fn demo_agent_over_webrtc_in_chromium_pauses_for_a_cough_and_plays_the_same_reply_on() {
    let server = Server::start_env("cough-webrtc", "", true, &OWNER);
    wait_for_agent(&server, "demo");
    let question = speech_wav("Please tell me a long story about a brave knight and a dragon.");
    let call = browser_call(&server, &question, &wav_file(&voiced_cough(&server.dir, 16000), 16000), "cough");
    let voiced = 600.0 / 32768.0;
    let caller_runs = voiced_runs(&call.caller, voiced, 0.8);
    println!("caller sounds: {caller_runs:.2?}\nagent speaks: {:.2?}", voiced_runs(&call.agent, voiced, 0.6));
    assert!(caller_runs.len() >= 2, "a question and a cough: {caller_runs:?}");
    // The last cough is the one that paused the agent (one that paused nothing is made again).
    let ((_, asked_end), (onset, cough_end)) = (caller_runs[0], caller_runs[caller_runs.len() - 1]);
    println!("coughs made: {}", call.attempts);
    let agent_voiced = voiced_frames(&call.agent, voiced, 0.0, f64::MAX);
    assert!(
        agent_voiced.iter().any(|&t| t >= onset - 0.3 && t < onset),
        "the agent was not speaking in the 300 ms before the cough at {onset:.2} s"
    );
    println!(
        "cough {onset:.2}-{cough_end:.2} s; the agent had spoken {:.2} s without a pause at its onset",
        call.run_at_onset
    );
    match pause_after(&agent_voiced, onset) {
        Some((from, to)) => println!(
            "WebRTC (Chromium, Opus) cough pause at the caller: from {:.0} ms after the onset, {:.0} ms long",
            (from - onset) * 1000.0,
            (to - from) * 1000.0
        ),
        None => println!("WebRTC (Chromium, Opus): no pause longer than a word gap heard after the cough"),
    }
    let after = agent_voiced.iter().filter(|&&t| t >= cough_end).count() as f64 * 0.02;
    assert!(after >= 0.5, "the agent did not speak on after the cough ({after:.2} s of voice after it)");
    // What the server sent: the voice the page heard, less the voice its jitter buffer made up over packets
    // that never came (the server's task misses ticks under load; the gaps are concealed, not delayed).
    let heard_at_page = agent_voiced.iter().filter(|&&t| t >= asked_end).count() as f64 * 0.02;
    let made_up = concealed_voice_s(&agent_voiced, &call.playout, asked_end);
    let heard = heard_at_page - made_up;
    println!("the page heard {heard_at_page:.2} s of voice, {made_up:.2} s of it concealment: {heard:.2} s received");
    print_playout(&call, onset);
    print_server_timings(&server);
    assert_the_same_reply_played_on(&server, heard, "WebRTC (Chromium, Opus)", Line::Opus);
}

/// The agent's first pause (a gap longer than a word gap) after `onset` in the start times of its voiced
/// frames: (end of the voice before it, start of the voice after it), in seconds.
fn pause_after(voiced: &[f64], onset: f64) -> Option<(f64, f64)> {
    let gap = WORD_GAP_S + 0.02 + 1e-6;
    let mut previous = voiced.iter().copied().filter(|&t| t < onset).last().unwrap_or(onset - 0.02);
    for &t in voiced.iter().filter(|&&t| t >= onset) {
        if t - previous > gap {
            return Some((previous + 0.02, t));
        }
        previous = t;
    }
    None
}

/// The Vobiz account the stream test signs its answer webhook with.
const VOBIZ: &str = r#"
[telephony.vobiz]
auth_id = "MA_VOBIZ"
auth_token = "vobiz-token"
"#;

/// What a Vobiz caller (this test) heard of the agent, on the provider's playout clock: each `playAudio`
/// chunk plays after the audio queued before it, and `clearAudio` drops what has not played in full (the
/// frame under way is cut). A `checkpoint` is confirmed (`playedStream`) once the audio before it has played
/// in full, never after a `clearAudio`, which is acknowledged (`clearedAudio`), as Vobiz documents.
#[derive(Default)]
struct Playout {
    /// Checkpoint names, with when the audio queued before each ends (the end of its last frame's slot).
    checkpoints: std::collections::VecDeque<(String, f64)>,
    /// Checkpoints whose audio had played in full when a `clearAudio` came, still to be confirmed.
    confirmed_before_clear: Vec<String>,
    /// A `clearAudio` to acknowledge (`clearedAudio`, after the confirmations of what played before it).
    clear_to_ack: bool,
    /// RMS of each 20 ms frame the caller heard, by frame index since the stream started.
    levels: Vec<f64>,
    /// When the audio queued so far ends (seconds since the stream started).
    queued_until: f64,
    /// When each `clearAudio` arrived.
    clears: Vec<f64>,
    /// For each `clearAudio`: the levels of the frames it dropped unplayed, and of as many frames (and one
    /// more) played after it.
    drops: Vec<(Vec<f64>, Vec<f64>)>,
}

impl Playout {
    const FRAME_S: f64 = 0.02;

    fn play(&mut self, at: f64, ulaw_audio: &[u8]) {
        self.queued_until = self.queued_until.max(at);
        for frame in ulaw_audio.chunks(160) {
            let energy: f64 = frame.iter().map(|&b| f64::from(common::provider::ulaw_sample(b)).powi(2)).sum();
            let index = (self.queued_until / Self::FRAME_S).round() as usize;
            if self.levels.len() <= index {
                self.levels.resize(index + 1, 0.0);
            }
            let level = (energy / frame.len() as f64).sqrt();
            self.levels[index] = level;
            self.queued_until += Self::FRAME_S;
            if let Some((_, after)) = self.drops.last_mut().filter(|(dropped, after)| after.len() <= dropped.len()) {
                after.push(level);
            }
        }
    }

    fn checkpoint(&mut self, at: f64, name: &str) {
        // Frames are played in the slots `play` put them in.
        let end = (self.queued_until.max(at) / Self::FRAME_S).round() * Self::FRAME_S;
        self.checkpoints.push_back((name.to_string(), end));
    }

    /// The checkpoints whose audio has played in full by `now`, once each.
    fn confirmed(&mut self, now: f64) -> Vec<String> {
        let mut due = std::mem::take(&mut self.confirmed_before_clear);
        while self.checkpoints.front().is_some_and(|(_, end)| *end <= now + 1e-9) {
            due.extend(self.checkpoints.pop_front().map(|(name, _)| name));
        }
        due
    }

    fn clear(&mut self, at: f64) {
        self.clears.push(at);
        let played = self.confirmed(at);
        self.confirmed_before_clear = played;
        self.clear_to_ack = true;
        self.checkpoints.clear();
        let from = ((at / Self::FRAME_S).floor() as usize).min(self.levels.len());
        let queued = ((self.queued_until / Self::FRAME_S).round() as usize).clamp(from, self.levels.len());
        self.drops.push((self.levels[from..queued].to_vec(), Vec::new()));
        self.levels.iter_mut().skip(from).for_each(|l| *l = 0.0);
        self.queued_until = at;
    }

    /// Seconds the agent had been speaking without a pause when the frame ending at `now` was heard.
    fn unbroken_run(&self, now: f64) -> f64 {
        match ((now / Self::FRAME_S) as usize).checked_sub(1) {
            Some(last) => unbroken_run(&self.levels, last, 600.0),
            None => 0.0,
        }
    }

    /// Start times of the voiced frames heard in `[from, to)`.
    fn voiced(&self, from: f64, to: f64) -> Vec<f64> {
        let to = ((to / Self::FRAME_S) as usize).min(self.levels.len());
        ((from / Self::FRAME_S) as usize..to)
            .filter(|&i| self.levels[i] >= 600.0)
            .map(|i| i as f64 * Self::FRAME_S)
            .collect()
    }
}

/// By how many frames the audio played after a `clearAudio` is shifted against what that clear dropped
/// (`dropped`, `after`: 20 ms levels): 0 when the same audio is sent again from where the caller stopped hearing
/// it, 1 or 2 when that many frames were skipped, -1 when one already heard is played again; None when it is
/// none of these (audio skipped or repeated at the pause). Frames match within 25 %, the first one sent again
/// not compared (the resampler's history differs for it); the best-matching shift wins. The server resumes from the
/// frames the provider never confirmed (shift 0); its tick model alone used to run 1–2 frames ahead of the
/// provider's playout on a loaded machine (those frames were skipped).
fn resume_shift(dropped: &[f64], after: &[f64]) -> Option<i64> {
    // The largest relative difference of the frames that overlap at `shift` (None: no overlap). The first frame
    // sent again is left out: the 16→8 kHz resampler filters its start with the history of another frame (the
    // last one sent before the pause), which on a quiet frame is most of its level (128 dropped, 710 played).
    let mismatch = |shift: i64| {
        (1..after.len() as i64)
            .filter_map(|i| Some((after[i as usize], *dropped.get(usize::try_from(i + shift).ok()?)?)))
            .map(|(a, d)| (a - d).abs() / (a.max(d) + 150.0))
            .reduce(f64::max)
    };
    let matched = [0, 1, -1, 2]
        .into_iter()
        .filter_map(|shift| Some((shift, mismatch(shift)?)))
        .filter(|&(_, worst)| worst <= 0.25)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(shift, _)| shift);
    // One frame dropped: it is the one not compared, so no frame tells shift 0 apart, and another shift can match
    // only by two neighbouring frames of like level ([4770] dropped, then [4808, 4369] played: 4369 is within
    // 25 % of 4770). The first frame sent again decides then: shift 0 unless it is not the dropped one.
    if dropped.len() <= 1 {
        let first_sent_again =
            after.first().zip(dropped.first()).is_some_and(|(&a, &d)| (a - d).abs() / (a.max(d) + 150.0) <= 0.25);
        return if first_sent_again || dropped.is_empty() { Some(0) } else { matched.or(Some(0)) };
    }
    matched
}

/// A resume after a clear that dropped one frame is shift 0 when that frame is played first, whatever the level
/// of the frame after it; with more frames dropped, the frames after the first decide.
#[test]
fn one_dropped_frame_sent_again_first_is_no_shift() {
    assert_eq!(resume_shift(&[4770.0], &[4808.0, 4369.0]), Some(0));
    assert_eq!(resume_shift(&[4770.0], &[900.0, 4780.0]), Some(-1));
    assert_eq!(resume_shift(&[3462.0, 3002.0], &[3138.0, 3462.0, 3002.0]), Some(-1));
    assert_eq!(resume_shift(&[3515.0, 3139.0, 937.0], &[3197.0, 3139.0, 937.0, 373.0]), Some(0));
    assert_eq!(resume_shift(&[3626.0, 668.0], &[192.0, 1.0, 11.0]), None);
}

/// What a Vobiz caller did and heard on a stream, in seconds since the stream started.
struct StreamCall {
    playout: Playout,
    /// When the caller's question ended.
    asked_end: f64,
    /// When the caller started over the reply (its first frame is audible), and when it stopped.
    onset: f64,
    said_end: f64,
    /// The agent's unbroken run at the onset, as heard.
    run_at_onset: f64,
    /// How many times the caller spoke over the reply (a sound that paused nothing is made again).
    attempts: u32,
}

/// A caller whose sound over the reply paused nothing makes it again at the next clause, up to this many times
/// in all.
const MAX_SOUNDS_OVER_THE_REPLY: u32 = 3;

/// A Vobiz call to `demo`: the signed answer webhook, then the media stream at real pace, the provider's
/// playout modelled by [`Playout`]. The caller asks `question` once the greeting has played out and says
/// `over` over the reply once the agent has spoken [`MID_CLAUSE_S`] without a pause; with `until_reply_over`
/// it then listens until the reply is over (quiet [`REPLY_OVER_QUIET_S`] after speaking again), else until
/// the agent has answered for a second. `question` and `over` are μ-law at 8 kHz, trimmed to where they are
/// audible (a line's first frame is its onset).
async fn vobiz_call(server: &Server, id: &str, question: &[u8], over: &[u8], until_reply_over: bool) -> StreamCall {
    use base64::Engine as _;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pairs = [("CallUUID", id), ("From", "+919000000001"), ("To", "+918000000001"), ("Direction", "inbound")];
    let (status, xml) = common::provider::answer_v3(
        server,
        "X-Vobiz-Signature-V3",
        "vobiz-token",
        "/telephony/vobiz/answer?agent_id=demo",
        &pairs,
        &format!("nonce-{id}"),
    );
    assert_eq!(status, 200, "{xml}");
    let url = common::provider::stream_url(&xml);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("the stream connects");
    let start = serde_json::json!({"sequenceNumber":0,"event":"start","start":{"callId":id,"streamId":"st-barge","accountId":"MA_VOBIZ","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"{}"});
    ws.send(Message::Text(start.to_string().into())).await.expect("start");
    let began = Instant::now();
    let mut playout = Playout::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut step, mut speaking): (&str, Option<(&[u8], usize)>) = ("greeting", None);
    let (mut asked_end, mut onset, mut said_end, mut done_at) = (None, None, None, None);
    let (mut reply_from, mut run_at_onset, mut attempts) = (None, 0.0, 1);
    let mut sequence = 1u64;
    while step != "done" {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let at = began.elapsed().as_secs_f64();
                    let value: serde_json::Value = serde_json::from_str(text.as_str()).expect("server frames are JSON");
                    match value["event"].as_str() {
                        Some("playAudio") => {
                            let payload = value["media"]["payload"].as_str().unwrap_or_default();
                            playout.play(at, &b64.decode(payload).expect("base64 audio"));
                        }
                        Some("clearAudio") => playout.clear(at),
                        Some("checkpoint") => playout.checkpoint(at, value["name"].as_str().unwrap_or_default()),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => panic!("the stream ended in step {step}"),
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {
                let now = began.elapsed().as_secs_f64();
                for name in playout.confirmed(now) {
                    let played = serde_json::json!({"event": "playedStream", "name": name});
                    ws.send(Message::Text(played.to_string().into())).await.expect("playedStream");
                }
                if std::mem::take(&mut playout.clear_to_ack) {
                    let cleared = serde_json::json!({"event": "clearedAudio", "streamId": "st-barge"});
                    ws.send(Message::Text(cleared.to_string().into())).await.expect("clearedAudio");
                }
                let heard_voice = |from: f64| !playout.voiced(from, now).is_empty();
                match step {
                    "greeting" if heard_voice(0.0) && playout.voiced(now - 1.2, now + 60.0).is_empty() => {
                        (step, speaking) = ("asking", Some((question, 0)));
                    }
                    "replying" if heard_voice(asked_end.expect("asked")) => {
                        let from = *reply_from.get_or_insert(now);
                        let run = playout.unbroken_run(now);
                        let in_clause = run >= MID_CLAUSE_S || now - from >= OVER_THE_REPLY_ANYWAY_S;
                        if now - from >= 0.2 && in_clause && heard_voice(now - Playout::FRAME_S) {
                            (onset, run_at_onset) = (Some(now), run);
                            (step, speaking) = ("over the reply", Some((over, 0)));
                        }
                    }
                    "listening" if until_reply_over => {
                        // The reply plays on to its end: the agent spoke again and has since been quiet.
                        let end = said_end.expect("said");
                        // A sound the VAD did not take for speech (a short cough can be) paused nothing: the
                        // caller makes it again at the next clause, so that the pause and resume are tested.
                        let paused = playout.clears.iter().any(|&c| c >= onset.expect("spoke over"));
                        let run = playout.unbroken_run(now);
                        if !paused && now >= end + 1.0 && attempts < MAX_SOUNDS_OVER_THE_REPLY && run >= MID_CLAUSE_S {
                            attempts += 1;
                            (onset, run_at_onset) = (Some(now), run);
                            (step, speaking) = ("over the reply", Some((over, 0)));
                        }
                        let spoke_on = playout.voiced(end, now).len() as f64 * Playout::FRAME_S >= 0.5;
                        if spoke_on && playout.voiced(now - REPLY_OVER_QUIET_S, now + 60.0).is_empty() {
                            step = "done";
                        }
                        assert!(now < end + 120.0, "the reply did not end within 120 s of the caller's sound");
                    }
                    "listening" => {
                        let end = said_end.expect("said");
                        if done_at.is_none() && playout.voiced(end, now).len() as f64 * Playout::FRAME_S >= 0.5 {
                            done_at = Some(now + 1.0);
                        }
                        if done_at.is_some_and(|d| now >= d) || now > end + ANSWER_WAIT_S {
                            step = "done";
                        }
                    }
                    _ => {}
                }
                assert!(now < 300.0, "the conversation did not finish (step {step})");
                let mut frame = [0xffu8; 160];
                if let Some((audio, at)) = speaking.as_mut() {
                    let chunk = &audio[*at..(*at + 160).min(audio.len())];
                    frame[..chunk.len()].copy_from_slice(chunk);
                    *at += 160;
                    if *at >= audio.len() {
                        speaking = None;
                        match step {
                            "asking" => (step, asked_end) = ("replying", Some(now + Playout::FRAME_S)),
                            _ => (step, said_end) = ("listening", Some(now + Playout::FRAME_S)),
                        }
                    }
                }
                let media = serde_json::json!({"sequenceNumber":sequence,"streamId":"st-barge","event":"media","media":{"track":"inbound","timestamp":(sequence * 20).to_string(),"chunk":sequence,"payload":b64.encode(frame)},"extra_headers":"{}"});
                sequence += 1;
                ws.send(Message::Text(media.to_string().into())).await.expect("media");
            }
        }
    }
    let stop = serde_json::json!({"sequenceNumber":sequence,"streamId":"st-barge","event":"stop"});
    let _ = ws.send(Message::Text(stop.to_string().into())).await;
    let _ = ws.close(None).await;
    StreamCall {
        playout,
        asked_end: asked_end.expect("asked"),
        onset: onset.expect("spoke over the reply"),
        said_end: said_end.expect("finished"),
        run_at_onset,
        attempts,
    }
}

/// `text` said by espeak-ng as μ-law at 8 kHz, trimmed to where it is audible (its first frame is its onset).
fn ulaw_line(text: &str) -> Vec<u8> {
    let pcm = common::espeak_speech(text, 8000);
    let first = pcm.iter().position(|s| s.unsigned_abs() > 500).unwrap_or(0);
    let last = pcm.iter().rposition(|s| s.unsigned_abs() > 500).unwrap_or(pcm.len() - 1);
    common::provider::ulaw(&pcm[first..=last])
}

/// A Vobiz call to `demo` (signed answer webhook, then the media stream at real pace): the caller asks for a
/// long story once the greeting has played out and talks over the reply inside a clause. Measured on the
/// provider's playout clock: `clearAudio` soon after the caller's onset (printed as the stop time; bound
/// 1.5 s), no agent audio while the caller goes on, an answer after the caller has finished; the call record
/// shows the story's turn cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: local models on real weights"]
async fn demo_agent_over_a_vobiz_stream_stops_when_talked_over_and_answers_the_interruption() {
    require_tool("espeak-ng");
    let server = Server::start_with("barge-in-vobiz", VOBIZ, true);
    wait_for_agent(&server, "demo");
    let question = ulaw_line("Please tell me a long story about a brave knight and a dragon.");
    let interruption = ulaw_line("Wait, stop, I want to ask you something else");
    let call = vobiz_call(&server, "vz-barge-1", &question, &interruption, false).await;
    let (playout, onset, said_end) = (&call.playout, call.onset, call.said_end);
    println!("talked over after the agent had spoken {:.2} s without a pause", call.run_at_onset);
    let clear = playout.clears.iter().copied().find(|&c| c >= onset).expect("clearAudio after the caller's onset");
    let stop_ms = (clear - onset) * 1000.0;
    println!("Vobiz stream barge-in stop (clearAudio after the caller's onset): {stop_ms:.0} ms");
    assert!(stop_ms <= 1500.0, "the agent went on {stop_ms:.0} ms over the caller");
    let over_the_caller = playout.voiced(clear + 0.1, said_end);
    assert!(over_the_caller.is_empty(), "agent audio while the caller still spoke, at {over_the_caller:.2?} s");
    let answer = playout.voiced(said_end, f64::MAX);
    assert!(answer.len() as f64 * Playout::FRAME_S >= 0.3, "no answer after the caller stopped at {said_end:.2} s");
    println!("answer starts {:.0} ms after the caller stopped", (answer[0] - said_end) * 1000.0);
    let record = tokio::task::spawn_blocking(move || {
        let record = assert_record_shows_the_cut(&server, &["wait", "stop", "ask", "else"]);
        drop(server);
        record
    })
    .await
    .expect("the record check");
    assert_eq!(record["transport"], "vobiz");
}

/// A Vobiz call to `demo` in which the caller coughs over the reply inside a clause (the SIP peer's 300 ms
/// voiced cough, [`voiced_cough`], μ-law at 8 kHz). The agent may pause (`clearAudio`: the provider drops what it
/// held), and then the same reply plays on from where the caller stopped hearing it: on the provider's playout
/// clock the reply holds as much voice as its text said without interruption (nothing the provider dropped is
/// lost, nothing is sent twice). The record has one turn whose barge-ins all `resumed`; `/metrics` counts no cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: local models on real weights"]
async fn demo_agent_over_a_vobiz_stream_pauses_for_a_cough_and_plays_the_same_reply_on() {
    require_tool("espeak-ng");
    let server = Server::start_with("cough-vobiz", VOBIZ, true);
    wait_for_agent(&server, "demo");
    let question = ulaw_line("Please tell me a long story about a brave knight and a dragon.");
    let cough = common::provider::ulaw(&voiced_cough(&server.dir, 8000));
    let call = vobiz_call(&server, "vz-cough-1", &question, &cough, true).await;
    let (playout, onset, cough_end) = (&call.playout, call.onset, call.said_end);
    println!(
        "cough {onset:.2}-{cough_end:.2} s (cough {} of the call); the agent had spoken {:.2} s without a pause at its onset",
        call.attempts, call.run_at_onset
    );
    assert!(!playout.voiced(onset - 0.3, onset).is_empty(), "the agent was not speaking before the cough");
    let voiced = playout.voiced(0.0, f64::MAX);
    match playout.clears.iter().copied().find(|&c| c >= onset) {
        Some(clear) => {
            let back = voiced.iter().copied().find(|&t| t >= clear).unwrap_or(f64::NAN);
            println!(
                "Vobiz stream cough: clearAudio {:.0} ms after the onset, voice again {:.0} ms after it",
                (clear - onset) * 1000.0,
                (back - clear) * 1000.0
            );
        }
        None => println!("Vobiz stream cough: no clearAudio after the onset"),
    }
    // What the provider dropped at the pause is what plays first after it: sent again, not lost.
    for (dropped, after) in &playout.drops {
        println!("clearAudio dropped {} frames {dropped:.0?}; then played {after:.0?}", dropped.len());
        if dropped.iter().any(|&l| l >= 600.0) {
            let shift = resume_shift(dropped, after);
            println!("resumed at a shift of {shift:?} frames");
            assert_eq!(
                shift,
                Some(0),
                "the audio after the pause is not what clearAudio dropped: {dropped:.0?} then {after:.0?}"
            );
        }
    }
    let after = playout.voiced(cough_end, f64::MAX).len() as f64 * Playout::FRAME_S;
    assert!(after >= 0.5, "the agent did not speak on after the cough ({after:.2} s of voice after it)");
    let heard = playout.voiced(call.asked_end, f64::MAX).len() as f64 * Playout::FRAME_S;
    tokio::task::spawn_blocking(move || {
        assert_the_same_reply_played_on(&server, heard, "Vobiz stream (μ-law, 8 kHz)", Line::Narrowband);
        drop(server);
    })
    .await
    .expect("the record check");
}
