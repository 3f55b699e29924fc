//! Where a call's recording is read from, and HTTP byte ranges over it. The meetings route streams a
//! recording through a [`RecordingSource`] (the data dir's files today, the blob store later) from the offset a
//! `Range` header asks for, so a player seeking in a long call never makes the server read the whole file.

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncSeekExt};

/// A recording opened for reading.
pub struct OpenRecording {
    /// The whole recording's length in bytes (not what is left after the offset).
    pub length: u64,
    /// The bytes from the offset asked for to the end.
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// Why a recording could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// No recording at that address here (missing file, or an address this source does not serve).
    #[error("no recording at {0:?}")]
    NotFound(String),
    /// The recording exists but reading it failed.
    #[error("reading recording {url:?}: {source}")]
    Io {
        /// The call record's `recording_url`.
        url: String,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// The future [`RecordingSource::open`] answers with.
pub type OpenFuture<'a> = Pin<Box<dyn Future<Output = Result<OpenRecording, RecordingError>> + Send + 'a>>;

/// Reads recordings by the `recording_url` of their call record.
pub trait RecordingSource: Send + Sync + 'static {
    /// Opens the recording at `url`, positioned at byte `offset` (at most its length).
    fn open<'a>(&'a self, url: &'a str, offset: u64) -> OpenFuture<'a>;
}

/// Recordings under a directory (`<data-dir>/calls`, where [`FsRecordingSink`] writes them): a call log's
/// `recording_url` is the path below the data dir (`calls/2026-12-05/rec-….wav`, as the records writer stores
/// it) or below this directory (`2026-12-05/rec-….wav`, as a call record names it), optionally after
/// `file://`. Absolute paths and `..` are refused, so a stored URL can never reach outside the directory.
///
/// [`FsRecordingSink`]: voicera_conversation::recorder::FsRecordingSink
pub struct FsRecordings {
    root: PathBuf,
}

impl FsRecordings {
    /// Recordings below `root`.
    pub fn new(root: impl Into<PathBuf>) -> FsRecordings {
        FsRecordings { root: root.into() }
    }

    /// The file a URL names, if it names one below the root.
    fn path_of(&self, url: &str) -> Option<PathBuf> {
        let path = url.strip_prefix("file://").unwrap_or(url);
        // Call logs name recordings relative to the data dir (`calls/<day>/<file>`), records relative to `calls`.
        let path = path.strip_prefix("calls/").unwrap_or(path);
        // Another scheme (`minio://`, `s3://`) is the blob store's, not a path here.
        if path.is_empty() || path.contains("://") {
            return None;
        }
        let relative = Path::new(path);
        relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| self.root.join(relative))
    }
}

impl RecordingSource for FsRecordings {
    fn open<'a>(&'a self, url: &'a str, offset: u64) -> OpenFuture<'a> {
        Box::pin(async move {
            let path = self.path_of(url).ok_or_else(|| RecordingError::NotFound(url.to_string()))?;
            let io = |source: std::io::Error| match source.kind() {
                std::io::ErrorKind::NotFound => RecordingError::NotFound(url.to_string()),
                _ => RecordingError::Io { url: url.to_string(), source },
            };
            let mut file = tokio::fs::File::open(&path).await.map_err(io)?;
            let metadata = file.metadata().await.map_err(io)?;
            if !metadata.is_file() {
                return Err(RecordingError::NotFound(url.to_string()));
            }
            let length = metadata.len();
            file.seek(std::io::SeekFrom::Start(offset.min(length))).await.map_err(io)?;
            Ok(OpenRecording { length, reader: Box::pin(file) })
        })
    }
}

/// What a `Range` header asks of a representation `length` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one the server may ignore (several ranges, another unit, a malformed header): the whole
    /// representation, 200.
    Whole,
    /// Bytes `start..=end` (inclusive, within the length): 206.
    Part {
        /// First byte.
        start: u64,
        /// Last byte.
        end: u64,
    },
    /// A well-formed single range that selects nothing (starts at or past the end, or `bytes=-0`): 416.
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14) for one range of bytes: `bytes=100-199`, `bytes=100-` (to the
/// end), `bytes=-500` (the last 500). An end past the last byte is clamped; several ranges are served whole,
/// which the RFC allows.
pub fn parse_range(header: Option<&str>, length: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            None => RangeRequest::Whole,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if length == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part { start: length.saturating_sub(n), end: length - 1 },
        },
        (start, end) => {
            let Some(start) = number(start) else { return RangeRequest::Whole };
            let end = match end {
                "" => None,
                end => match number(end) {
                    Some(end) if end >= start => Some(end),
                    _ => return RangeRequest::Whole,
                },
            };
            if start >= length {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part { start, end: end.map_or(length - 1, |e| e.min(length - 1)) }
            }
        }
    }
}

/// The `Content-Type` of a recording, by its file extension (the original's rule).
pub fn content_type(url: &str) -> &'static str {
    let extension = url.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "mp4" | "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeRequest::{Part, Unsatisfiable, Whole};
        let r = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(r("bytes=100-199"), Part { start: 100, end: 199 });
        assert_eq!(r("bytes=-500"), Part { start: 500, end: 999 });
        assert_eq!(r("bytes=100-"), Part { start: 100, end: 999 });
        assert_eq!(r("bytes=0-0"), Part { start: 0, end: 0 });
        assert_eq!(r("bytes=990-5000"), Part { start: 990, end: 999 });
        assert_eq!(r("bytes=-5000"), Part { start: 0, end: 999 });
        assert_eq!(r("bytes=1000-"), Unsatisfiable);
        assert_eq!(r("bytes=1000-1001"), Unsatisfiable);
        assert_eq!(r("bytes=-0"), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-1"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=5-1", "bytes=-", "bytes=+1-2", "bytes"] {
            assert_eq!(r(ignored), Whole, "{ignored}");
        }
        assert_eq!(parse_range(None, 1000), Whole);
    }

    #[tokio::test]
    async fn files_open_at_an_offset_and_never_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("2026-12-05")).unwrap();
        std::fs::write(dir.path().join("2026-12-05/rec-1.wav"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"no").unwrap();
        let source = FsRecordings::new(dir.path().join(""));
        let mut opened = source.open("2026-12-05/rec-1.wav", 4).await.unwrap();
        let mut rest = String::new();
        opened.reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!((opened.length, rest.as_str()), (10, "456789"));
        for same in ["file://2026-12-05/rec-1.wav", "calls/2026-12-05/rec-1.wav"] {
            assert_eq!(source.open(same, 0).await.unwrap().length, 10, "{same}");
        }
        let outside = dir.path().join("secret.txt").display().to_string();
        for refused in [
            "minio://recordings/rec-1.wav",
            "../secret.txt",
            "2026-12-05/../../etc/passwd",
            outside.as_str(),
            "",
            "2026-12-05",
            "nope.wav",
        ] {
            assert!(matches!(source.open(refused, 0).await, Err(RecordingError::NotFound(_))), "{refused}");
        }
        assert_eq!(content_type("x/rec.WAV"), "audio/wav");
        assert_eq!(content_type("minio://recordings/a.mp3"), "audio/mpeg");
    }
}
