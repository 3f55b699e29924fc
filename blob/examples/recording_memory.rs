//! Memory of recorded calls: heap bytes held per call while it records, streaming to the blob recording
//! sink (a segment file per call, written by the sink's writer thread) against the in-memory recorder the
//! file sink used. A counting allocator measures live heap bytes; calls are simulated faster than real time
//! (20 ms frames of both sides, paced at `SPEED`× so the writer thread sees a realistic rate per call).
//!
//! `cargo run -p voicera-blob --example recording_memory` writes `bench/results/recording-memory.{json,md}`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use voicera_blob::recording::{BlobRecordingSink, RecordingFormat};
use voicera_blob::{BlobStore, FsBlobStore};
use voicera_conversation::recorder::{new_record_id, CallRecord, RecordingSink, StereoRecorder};

/// Counts live heap bytes and their peak (the measurement; everything else goes to the system allocator).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Simulated seconds of call per real second: fast enough to run an hour's call in two minutes, slow enough
/// that the (debug-built) writer thread keeps up, as it does with calls at real time.
const SPEED: u64 = 30;
/// Samples per 20 ms frame at 16 kHz.
const FRAME: usize = 320;

fn record() -> CallRecord {
    CallRecord { record_id: new_record_id(), call_id: "bench".into(), ..CallRecord::example() }
}

/// One scenario's figures.
struct Figures {
    name: &'static str,
    calls: usize,
    minutes: u64,
    streaming: bool,
    /// Peak live heap above the baseline while the calls recorded, per call.
    peak_per_call: usize,
    /// Live heap above the baseline at the calls' last second, per call.
    end_per_call: usize,
}

/// Records `calls` calls of `minutes` each at once, streaming to `sink` or in memory; the figures.
fn run(
    name: &'static str,
    sink: &Arc<BlobRecordingSink>,
    calls: usize,
    minutes: u64,
    streaming: bool,
    speed: u64,
) -> Figures {
    let baseline = LIVE.load(Relaxed);
    PEAK.store(baseline, Relaxed);
    let mut records: Vec<CallRecord> = (0..calls).map(|_| record()).collect();
    let mut recorders: Vec<StereoRecorder> = records
        .iter()
        .map(|r| match streaming {
            true => StereoRecorder::streaming(sink.open_recording(r).expect("the sink streams")),
            false => StereoRecorder::default(),
        })
        .collect();
    let caller: Vec<i16> = (0..FRAME).map(|i| ((i as f32 * 0.17).sin() * 3000.0) as i16).collect();
    let agent: Vec<i16> = (0..FRAME).map(|i| ((i as f32 * 0.05).sin() * 3000.0) as i16).collect();
    let started = Instant::now();
    let seconds = minutes * 60;
    for second in 0..seconds {
        for _ in 0..50 {
            for recorder in &mut recorders {
                recorder.push_caller(&caller);
                recorder.push_agent(&agent);
            }
        }
        // Paced: second `s` of call audio is done at s / speed real seconds.
        let due = started + Duration::from_millis((second + 1) * 1000 / speed);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let end = LIVE.load(Relaxed).saturating_sub(baseline);
    let peak = PEAK.load(Relaxed).saturating_sub(baseline);
    for (recorder, record) in recorders.into_iter().zip(records.iter_mut()) {
        let stored = match recorder.finish() {
            Some(writer) => sink.store_streamed(record, writer),
            None => Ok(()),
        };
        stored.expect("recording stored");
    }
    Figures { name, calls, minutes, streaming, peak_per_call: peak / calls, end_per_call: end / calls }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("voicera-recording-memory-{}", std::process::id()));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.join("blobs")));
    let sink = Arc::new(BlobRecordingSink::new(
        Arc::clone(&store),
        runtime.handle().clone(),
        dir.join("calls"),
        dir.join("recordings"),
        RecordingFormat::Wav,
    ));
    let figures = [
        run("one long call, streamed", &sink, 1, 60, true, SPEED),
        // The writer thread sees the same seconds of audio per second as with the one call.
        run("ten calls at once, streamed", &sink, 10, 2, true, SPEED / 10),
        run("one call, in memory (the old file sink)", &sink, 1, 15, false, SPEED),
    ];
    let _ = std::fs::remove_dir_all(&dir);

    let mut md = String::from(
        "# Memory of recorded calls\n\n\
         | scenario | calls | minutes each | recorder | peak heap per call | heap per call at the end |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut json = Vec::new();
    for f in &figures {
        let recorder = if f.streaming { "streaming to the blob sink" } else { "in memory" };
        md.push_str(&format!(
            "| {} | {} | {} | {recorder} | {:.1} KiB | {:.1} KiB |\n",
            f.name,
            f.calls,
            f.minutes,
            f.peak_per_call as f64 / 1024.0,
            f.end_per_call as f64 / 1024.0
        ));
        json.push(format!(
            "{{\"scenario\":\"{}\",\"calls\":{},\"minutes\":{},\"streaming\":{},\"peak_heap_bytes_per_call\":{},\"end_heap_bytes_per_call\":{}}}",
            f.name, f.calls, f.minutes, f.streaming, f.peak_per_call, f.end_per_call
        ));
    }
    md.push_str(&format!(
        "\nLive heap bytes counted by a global allocator, above the baseline before the calls started: the \
         recorder, the queue to the sink's writer thread and the writer's buffers (the segment file's page \
         cache is the kernel's, not counted). Calls run at {SPEED}× real time (the ten calls at {}×: the same \
         {SPEED} call-seconds per second through the one writer thread), 20 ms frames of both sides \
         (16 kHz stereo WAV, 64 kB per second of call). In memory, a recording is capped at 15 minutes \
         (58 MB). The peak includes seconds queued for the writer thread (a debug build); the end figure is \
         what a call holds in steady state. `cargo run -p voicera-blob --example recording_memory`.\n",
        SPEED / 10
    ));
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::write(out.join("recording-memory.md"), &md).expect("write the report");
    std::fs::write(out.join("recording-memory.json"), format!("[\n  {}\n]\n", json.join(",\n  "))).expect("write");
    print!("{md}");
}
