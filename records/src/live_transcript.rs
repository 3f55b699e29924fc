//! Transcripts written as calls run, so a process killed mid-call (SIGKILL, OOM, power) does not lose what
//! was said. Each call's lines are appended to `<segments-dir>/<YYYY-MM-DD>/<record id>.txt`, beside its
//! recording's segment file, in the transcript's own `[ISO ts] role: text` form, by one writer thread off
//! the calls' tasks. At a call's normal end the transcript is stored from its record as before and the file
//! is removed; after a kill the next start finds the file in the same recovery that completes recordings
//! ([`crate::recovery`]) and uploads it as the call's transcript.
//!
//! Durability: every line is written (`write(2)`) as it comes, so a killed process loses none that reached
//! the thread; files are synced at most every [`SYNC_EVERY`], so a power loss costs at most that much of a
//! call, and a line is never synced on its own (one utterance every few seconds per call, many calls per
//! node).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use voicera_conversation::recorder::CallRecord;

use crate::call_log;

/// The extension of a live transcript file.
pub const TRANSCRIPT_EXTENSION: &str = "txt";
/// How long a written line may wait for its fsync: the most a power loss takes from a call's transcript.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Lines queued for the writer thread. A line is an utterance: a full queue (a disk stalled for minutes)
/// drops lines from the file only; the record at the call's end still has them all.
const QUEUE: usize = 4096;

/// Work for the writer thread.
enum Work {
    Line { path: PathBuf, line: String },
    Remove { path: PathBuf, done: mpsc::Sender<()> },
}

/// The live transcript files of a node's calls (cheap to clone: a queue to the one writer thread).
#[derive(Clone)]
pub struct LiveTranscripts {
    dir: PathBuf,
    queue: SyncSender<Work>,
}

impl LiveTranscripts {
    /// Files under `dir` (the recordings' segment directory), written by a thread started here; it ends
    /// when the last clone is dropped.
    pub fn start(dir: impl Into<PathBuf>) -> std::io::Result<LiveTranscripts> {
        let (queue, work) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new().name("transcript-writer".into()).spawn(move || run(work))?;
        Ok(LiveTranscripts { dir: dir.into(), queue })
    }

    /// The file of `record`'s call: `<dir>/<day it started>/<record id>.txt` (the day and stem its
    /// transcript object has).
    pub fn path_of(&self, record: &CallRecord) -> PathBuf {
        self.dir
            .join(call_log::day_of(record.started_at))
            .join(format!("{}.{TRANSCRIPT_EXTENSION}", call_log::file_stem(&record.record_id)))
    }

    /// Appends one utterance to its call's file. Never blocks (a call's task): a full queue drops the line
    /// from the file (logged), not from the call's record.
    pub fn line(&self, record: &CallRecord, at_ms: u64, role: &str, text: &str) {
        let Some(line) = call_log::transcript_line(at_ms, role, text) else { return };
        if self.queue.try_send(Work::Line { path: self.path_of(record), line }).is_err() {
            tracing::warn!(record_id = %record.record_id, "transcript writer behind: a line kept only in memory");
        }
    }

    /// Removes the call's file once every line queued before is written (its transcript is stored from the
    /// record now). Blocking: call from the thread that stores the record.
    pub fn finish(&self, record: &CallRecord) {
        let (done, wait) = mpsc::channel();
        if self.queue.send(Work::Remove { path: self.path_of(record), done }).is_ok() {
            let _ = wait.recv();
        }
    }
}

/// An open file and since when it has lines not yet synced.
struct Open {
    file: File,
    unsynced_since: Option<Instant>,
}

fn run(work: mpsc::Receiver<Work>) {
    let mut open: HashMap<PathBuf, Open> = HashMap::new();
    loop {
        match work.recv_timeout(SYNC_EVERY) {
            Ok(Work::Line { path, line }) => {
                if let Err(err) = append(&mut open, &path, &line) {
                    tracing::warn!(path = %path.display(), %err, "cannot write a transcript line to disk");
                }
            }
            Ok(Work::Remove { path, done }) => {
                open.remove(&path);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => tracing::warn!(path = %path.display(), %err, "cannot remove a live transcript"),
                }
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                sync_due(&mut open, None);
                return;
            }
        }
        sync_due(&mut open, Some(Instant::now()));
    }
}

fn append(open: &mut HashMap<PathBuf, Open>, path: &Path, line: &str) -> std::io::Result<()> {
    if !open.contains_key(path) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        open.insert(path.to_path_buf(), Open { file, unsynced_since: None });
    }
    let Some(entry) = open.get_mut(path) else { return Ok(()) };
    // One write per line: a kill between lines leaves whole lines.
    entry.file.write_all(line.as_bytes())?;
    entry.unsynced_since.get_or_insert_with(Instant::now);
    Ok(())
}

/// Syncs the files whose oldest unsynced line is [`SYNC_EVERY`] old at `now` (every file when `None`).
fn sync_due(open: &mut HashMap<PathBuf, Open>, now: Option<Instant>) {
    for (path, entry) in open.iter_mut() {
        let due = match (entry.unsynced_since, now) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(since), Some(now)) => now.saturating_duration_since(since) >= SYNC_EVERY,
        };
        if due {
            if let Err(err) = entry.file.sync_data() {
                tracing::warn!(path = %path.display(), %err, "cannot sync a live transcript");
            }
            entry.unsynced_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CallRecord {
        CallRecord { record_id: "rec-1-a".into(), started_at: 1_732_000_000, ..CallRecord::example() }
    }

    #[test]
    fn lines_reach_the_calls_file_as_said_and_the_file_goes_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let live = LiveTranscripts::start(dir.path()).unwrap();
        let call = record();
        let path = live.path_of(&call);
        assert_eq!(path, dir.path().join("2024-11-19/rec-1-a.txt"));
        live.line(&call, 1_732_000_000_000, "assistant", "Hello!");
        live.line(&call, 1_732_000_001_000, "user", "  ");
        live.line(&call, 1_732_000_002_500, "user", "what\ntime is it");
        // Nothing but the thread holds the lines: wait for them the way a reader would, on the disk.
        let expected =
            "[2024-11-19T07:06:40.000Z] assistant: Hello!\n[2024-11-19T07:06:42.500Z] user: what time is it\n";
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&path).unwrap_or_default() != expected {
            assert!(Instant::now() < deadline, "{:?}", std::fs::read_to_string(&path));
            std::thread::sleep(Duration::from_millis(10));
        }
        // The same lines as the transcript the record makes at the end.
        let mut ended = call.clone();
        ended.greeting = "Hello!".into();
        assert!(call_log::transcript(&ended).starts_with("[2024-11-19T07:06:40.000Z] assistant: Hello!\n"));
        live.finish(&call);
        assert!(!path.exists());
        // A call that said nothing has no file, and finishing it is no error.
        let quiet = CallRecord { record_id: "rec-2".into(), ..record() };
        live.finish(&quiet);
        assert!(!live.path_of(&quiet).exists());
    }

    #[test]
    fn the_sync_is_due_once_a_line_has_waited_its_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/rec.txt");
        let mut open = HashMap::new();
        append(&mut open, &path, "[x] user: a\n").unwrap();
        let since = open[&path].unsynced_since.unwrap();
        append(&mut open, &path, "[x] user: b\n").unwrap();
        assert_eq!(open[&path].unsynced_since, Some(since), "the oldest unsynced line sets the deadline");
        sync_due(&mut open, Some(since + SYNC_EVERY / 2));
        assert!(open[&path].unsynced_since.is_some(), "not yet");
        sync_due(&mut open, Some(since + SYNC_EVERY));
        assert!(open[&path].unsynced_since.is_none(), "synced");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[x] user: a\n[x] user: b\n");
    }
}
