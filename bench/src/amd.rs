//! `voicera-bench amd`: accuracy of the answering-machine detector ([`voicera_media::amd`]) on the labelled set
//! `scripts/amd-clips.sh` builds (8 kHz human answers and voicemail greetings with and without beeps). Each clip
//! is fed in 20 ms frames as a call's audio from answer on; the report gives the confusion matrix, accuracy,
//! decision times, beep detection and the detector's cost per frame.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use voicera_media::amd::{AmdDetector, AmdParams, AmdVerdict};
use voicera_models_local::wav;

/// One clip's outcome.
#[derive(Debug, Serialize)]
pub(crate) struct ClipResult {
    file: String,
    label: String,
    /// The beep's frequency in Hz, or "none".
    beep: String,
    verdict: &'static str,
    reason: String,
    decided_ms: Option<u64>,
    /// When the detector said "leave the message now" (machines: beep heard or greeting over).
    message_cue_ms: Option<u64>,
    beep_heard: bool,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct AmdReport {
    clips: usize,
    accuracy_percent: f64,
    /// Rows: the label (human, machine); columns: the verdict (human, machine, undecided).
    confusion: [[usize; 3]; 2],
    human_decided_ms_p50: f64,
    human_decided_ms_max: f64,
    humans_decided_within_3s: usize,
    humans: usize,
    machine_decided_ms_p50: f64,
    machine_decided_ms_max: f64,
    beeps_heard: usize,
    beep_clips: usize,
    /// Machine clips without a beep whose greeting end cued the message.
    no_beep_cued: usize,
    no_beep_clips: usize,
    /// Median cost of one 20 ms frame through the detector (release build if run with --release).
    frame_us_p50: f64,
    /// p99 of the same: the loud frames, where the beep detector's Goertzel bank runs.
    frame_us_p99: f64,
    /// Which build measured the cost.
    build: &'static str,
    results: Vec<ClipResult>,
    machine: String,
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// Runs every clip listed in `clips/labels.csv`.
pub(crate) fn run(clips: &Path) -> Result<AmdReport> {
    let labels = std::fs::read_to_string(clips.join("labels.csv"))
        .with_context(|| format!("{}/labels.csv (build the set with scripts/amd-clips.sh)", clips.display()))?;
    let mut results = Vec::new();
    let mut frame_us = Vec::new();
    for line in labels.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let [file, label, beep] = fields[..] else { bail!("labels.csv line {line:?}: file,label,beep expected") };
        let bytes = std::fs::read(clips.join(file)).with_context(|| format!("reading {file}"))?;
        let (rate, pcm) = wav::parse_pcm16(&bytes).with_context(|| format!("parsing {file}"))?;
        let frame = rate as usize / 50;
        let mut detector = AmdDetector::new(rate, AmdParams::default());
        let mut message_cue_ms = None;
        let mut beep_heard = false;
        for (i, chunk) in pcm.chunks_exact(frame).enumerate() {
            let at = Duration::from_millis((i as u64 + 1) * 20);
            let started = Instant::now();
            let verdict = detector.process(chunk, at);
            frame_us.push(started.elapsed().as_secs_f64() * 1e6);
            beep_heard |= verdict == AmdVerdict::MachineBeep;
            if message_cue_ms.is_none() && detector.leave_message_now() {
                message_cue_ms = Some(at.as_millis() as u64);
            }
        }
        results.push(ClipResult {
            file: file.to_string(),
            label: label.to_string(),
            beep: beep.to_string(),
            verdict: match detector.verdict() {
                AmdVerdict::MachineBeep => "machine",
                other => other.as_str(),
            },
            reason: format!("{:?}", detector.reason()),
            decided_ms: detector.decided_at().map(|d| d.as_millis() as u64),
            message_cue_ms,
            beep_heard,
        });
    }
    let mut confusion = [[0; 3]; 2];
    for r in &results {
        let row = usize::from(r.label == "machine");
        let col = match r.verdict {
            "human" => 0,
            "machine" => 1,
            _ => 2,
        };
        confusion[row][col] += 1;
    }
    let decided = |label: &str| -> Vec<f64> {
        results
            .iter()
            .filter(|r| r.label == label && r.verdict == label)
            .filter_map(|r| r.decided_ms)
            .map(|m| m as f64)
            .collect()
    };
    let mut human_ms = decided("human");
    let mut machine_ms = decided("machine");
    let correct = confusion[0][0] + confusion[1][1];
    let machines = results.iter().filter(|r| r.label == "machine");
    Ok(AmdReport {
        clips: results.len(),
        accuracy_percent: 100.0 * correct as f64 / results.len().max(1) as f64,
        confusion,
        human_decided_ms_p50: percentile(&mut human_ms, 0.5),
        human_decided_ms_max: human_ms.iter().copied().fold(0.0, f64::max),
        humans_decided_within_3s: results
            .iter()
            .filter(|r| r.label == "human" && r.verdict == "human" && r.decided_ms.is_some_and(|m| m <= 3000))
            .count(),
        humans: results.iter().filter(|r| r.label == "human").count(),
        machine_decided_ms_p50: percentile(&mut machine_ms, 0.5),
        machine_decided_ms_max: machine_ms.iter().copied().fold(0.0, f64::max),
        beeps_heard: machines.clone().filter(|r| r.beep != "none" && r.beep_heard).count(),
        beep_clips: machines.clone().filter(|r| r.beep != "none").count(),
        no_beep_cued: machines.clone().filter(|r| r.beep == "none" && r.message_cue_ms.is_some()).count(),
        no_beep_clips: machines.filter(|r| r.beep == "none").count(),
        frame_us_p50: percentile(&mut frame_us, 0.5),
        frame_us_p99: percentile(&mut frame_us, 0.99),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        results,
        machine: crate::procfs::machine(),
    })
}

/// The report as Markdown.
pub(crate) fn markdown(report: &AmdReport) -> String {
    let c = &report.confusion;
    let mut md = format!(
        "# Answering-machine detection\n\n\
         The detector (`media/src/amd.rs`) on the labelled set `scripts/amd-clips.sh` builds: {} clips at 8 kHz \
         (espeak-ng voices and speeds, brown line noise on a third; humans answer and wait, some repeat \
         \"hello?\"; machines read a voicemail greeting, with a 1000 or 1400 Hz beep, none, or a chord intro and a \
         beep). Each clip is fed in 20 ms frames from answer on.\n\n\
         Regenerate:\n\n```\nscripts/amd-clips.sh /tmp/amd-clips\n\
         cargo run --release -p voicera-bench -- amd --clips /tmp/amd-clips\n```\n\n\
         **Accuracy: {:.1} %**\n\n\
         | label \\ verdict | human | machine | undecided |\n|---|---|---|---|\n\
         | human | {} | {} | {} |\n| machine | {} | {} | {} |\n\n\
         | figure | value |\n|---|---|\n\
         | humans decided within 3 s of answer | {}/{} |\n\
         | human decision time p50 / max | {:.0} / {:.0} ms |\n\
         | machine decision time p50 / max | {:.0} / {:.0} ms |\n\
         | beeps heard (machine clips with a beep) | {}/{} |\n\
         | message cued at greeting end (machine clips without a beep) | {}/{} |\n\
         | detector cost per 20 ms frame, p50 / p99 ({} build) | {:.1} / {:.1} µs |\n\n\
         Machine: {}\n\n\
         | clip | label | beep | verdict | reason | decided ms | message cue ms |\n|---|---|---|---|---|---|---|\n",
        report.clips,
        report.accuracy_percent,
        c[0][0],
        c[0][1],
        c[0][2],
        c[1][0],
        c[1][1],
        c[1][2],
        report.humans_decided_within_3s,
        report.humans,
        report.human_decided_ms_p50,
        report.human_decided_ms_max,
        report.machine_decided_ms_p50,
        report.machine_decided_ms_max,
        report.beeps_heard,
        report.beep_clips,
        report.no_beep_cued,
        report.no_beep_clips,
        report.build,
        report.frame_us_p50,
        report.frame_us_p99,
        report.machine,
    );
    for r in &report.results {
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |m| m.to_string());
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.file,
            r.label,
            r.beep,
            r.verdict,
            r.reason,
            ms(r.decided_ms),
            ms(r.message_cue_ms)
        ));
    }
    md
}
