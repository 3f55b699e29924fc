//! Recordings a killed process left half-written. A segment file is written as the call runs and completed
//! at its end ([`recording::SegmentWriter::finish`](crate::recording)): a WAV's sizes are patched into its
//! header, an Ogg stream's last page is flagged end-of-stream. A process killed mid-call (SIGKILL, OOM, power)
//! leaves the file without that step: a WAV whose header says zero bytes of audio (players show an empty
//! file), an Ogg whose last page may be cut off. [`finalise_segment`] makes such a file what `finish` would
//! have made of the audio that reached the disk, so the next start can upload it like any other recording.
//! It is idempotent: a finished file is left as it is. A call's transcript, appended a line at a time beside
//! its recording (`.txt`), is completed the same way: a line cut by the kill is dropped.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The canonical header's length: `RIFF`, `fmt ` and `data` chunk headers, as our segment writer makes it.
const WAV_HEADER: u64 = 44;
/// Bytes of one stereo 16-bit frame: a cut-off frame is dropped.
const WAV_FRAME: u64 = 4;
/// The fixed part of an Ogg page header, before its segment table.
const OGG_PAGE_HEADER: usize = 27;
/// Ogg's end-of-stream header flag.
const OGG_EOS: u8 = 0x04;

/// What [`finalise_segment`] found and made of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finalised {
    /// The file's length now.
    pub len: u64,
    /// Whether it had to be changed (false: it was already complete).
    pub repaired: bool,
}

/// Completes a segment file by its extension (`.wav`, `.ogg` or a transcript's `.txt`) in place: a WAV's
/// header gets the length of the audio on disk (a trailing partial frame cut), an Ogg is cut after its last
/// whole page, which is flagged end-of-stream, a transcript after its last whole line. A file that is not
/// one of ours (wrong magic, no whole page or line) is an error, left as it is. Blocking.
pub fn finalise_segment(path: &Path) -> std::io::Result<Finalised> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("wav") => finalise_wav(path),
        Some("ogg") => finalise_ogg(path),
        Some("txt") => finalise_transcript(path),
        _ => Err(invalid("not a .wav, .ogg or .txt segment file")),
    }
}

/// A transcript is written a whole line per write; only a power loss (or a full disk) cuts one.
fn finalise_transcript(path: &Path) -> std::io::Result<Finalised> {
    let bytes = std::fs::read(path)?;
    let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Err(invalid("a transcript without a whole line"));
    };
    let len = last_newline as u64 + 1;
    if len == bytes.len() as u64 {
        return Ok(Finalised { len, repaired: false });
    }
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()?;
    Ok(Finalised { len, repaired: true })
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn finalise_wav(path: &Path) -> std::io::Result<Finalised> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut header = [0u8; WAV_HEADER as usize];
    file.read_exact(&mut header).map_err(|_| invalid("a WAV shorter than its header"))?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" || &header[36..40] != b"data" {
        return Err(invalid("not a WAV segment (RIFF/WAVE/data header)"));
    }
    let len = file.metadata()?.len();
    let data = (len - WAV_HEADER) / WAV_FRAME * WAV_FRAME;
    let data_len = u32::try_from(data).map_err(|_| invalid("a WAV over 4 GiB"))?;
    let riff_len = data_len.saturating_add(36);
    let had = (
        u32::from_le_bytes([header[4], header[5], header[6], header[7]]),
        u32::from_le_bytes([header[40], header[41], header[42], header[43]]),
    );
    if had == (riff_len, data_len) && len == WAV_HEADER + data {
        return Ok(Finalised { len, repaired: false });
    }
    file.set_len(WAV_HEADER + data)?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff_len.to_le_bytes())?;
    file.seek(SeekFrom::Start(40))?;
    file.write_all(&data_len.to_le_bytes())?;
    file.sync_all()?;
    Ok(Finalised { len: WAV_HEADER + data, repaired: true })
}

/// Where each whole page starts and ends (half-open), in order, until the first page that is cut off or
/// fails its CRC.
fn whole_pages(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut pages = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + OGG_PAGE_HEADER && &bytes[at..at + 4] == b"OggS" {
        let segments = bytes[at + 26] as usize;
        let table_end = at + OGG_PAGE_HEADER + segments;
        let Some(table) = bytes.get(at + OGG_PAGE_HEADER..table_end) else { break };
        let end = table_end + table.iter().map(|&b| b as usize).sum::<usize>();
        let Some(page) = bytes.get(at..end) else { break };
        let mut zeroed = page.to_vec();
        zeroed[22..26].fill(0);
        if crate::ogg::crc32(&zeroed) != u32::from_le_bytes([page[22], page[23], page[24], page[25]]) {
            break;
        }
        pages.push((at, end));
        at = end;
    }
    pages
}

fn finalise_ogg(path: &Path) -> std::io::Result<Finalised> {
    // Opus at 32 kbit/s: an hour is ~15 MB, read whole once at start-up.
    let bytes = std::fs::read(path)?;
    let pages = whole_pages(&bytes);
    // OpusHead, OpusTags: without both there is no stream to play.
    let Some(&(last_start, last_end)) = pages.get(2..).and_then(|audio| audio.last()) else {
        return Err(invalid("an Ogg segment without a whole audio page"));
    };
    let eos = bytes[last_start + 5] & OGG_EOS != 0;
    if eos && last_end == bytes.len() {
        return Ok(Finalised { len: bytes.len() as u64, repaired: false });
    }
    let mut last = bytes[last_start..last_end].to_vec();
    last[5] |= OGG_EOS;
    last[22..26].fill(0);
    let crc = crate::ogg::crc32(&last);
    last[22..26].copy_from_slice(&crc.to_le_bytes());
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.set_len(last_end as u64)?;
    file.seek(SeekFrom::Start(last_start as u64))?;
    file.write_all(&last)?;
    file.sync_all()?;
    Ok(Finalised { len: last_end as u64, repaired: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OggOpusWriter;

    fn wav_with_zero_sizes(samples: &[i16], extra: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16_000u32.to_le_bytes());
        bytes.extend_from_slice(&64_000u32.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend_from_slice(extra);
        bytes
    }

    #[test]
    fn a_killed_wav_gets_its_sizes_and_loses_only_a_cut_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.wav");
        let samples: Vec<i16> = (0..800).collect();
        std::fs::write(&path, wav_with_zero_sizes(&samples, &[9, 9, 9])).unwrap();
        let done = finalise_segment(&path).unwrap();
        assert_eq!(done, Finalised { len: 44 + 1600, repaired: true });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 44 + 1600, "the 3 bytes of a cut frame are dropped");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 1600);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 1600);
        assert_eq!(&bytes[44..48], &[0, 0, 1, 0], "audio untouched");
        // Idempotent: a finished file is left alone.
        assert_eq!(finalise_segment(&path).unwrap(), Finalised { len: 44 + 1600, repaired: false });
        // A header and no audio yet is an empty recording, not an error.
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, wav_with_zero_sizes(&[], &[])).unwrap();
        assert_eq!(finalise_segment(&empty).unwrap().len, 44);
    }

    #[test]
    fn files_that_are_not_ours_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("a.wav", b"RIFX0000WAVE".to_vec()), ("b.wav", vec![0; 10]), ("c.ogg", b"OggS".to_vec())]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(finalise_segment(&path).unwrap_err().kind(), std::io::ErrorKind::InvalidData, "{name}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} untouched");
        }
        let other = dir.path().join("d.json");
        std::fs::write(&other, b"x").unwrap();
        assert!(finalise_segment(&other).is_err());
        let no_line = dir.path().join("e.txt");
        std::fs::write(&no_line, b"[2026-12-06T").unwrap();
        assert_eq!(finalise_segment(&no_line).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_killed_ogg_is_cut_after_its_last_whole_page_and_flagged_end_of_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = OggOpusWriter::new(Vec::new(), 2, 16_000, 312, 7).unwrap();
        for _ in 0..120 {
            writer.write_packet(&[0xAB; 100], 320).unwrap();
        }
        let finished = writer.finish(120 * 320).unwrap();
        let pages = whole_pages(&finished);
        assert_eq!(pages.len(), 5);
        // Killed while the fifth page was being written: half of it on disk, no end-of-stream anywhere.
        let (fourth_start, fourth_end) = pages[3];
        let cut = &finished[..pages[4].0 + 40];
        let path = dir.path().join("rec.ogg");
        std::fs::write(&path, cut).unwrap();
        let done = finalise_segment(&path).unwrap();
        assert_eq!(done, Finalised { len: fourth_end as u64, repaired: true });
        let bytes = std::fs::read(&path).unwrap();
        let repaired = whole_pages(&bytes);
        assert_eq!(repaired.len(), 4, "every page left is whole and passes its CRC");
        assert_eq!(bytes[fourth_start + 5] & OGG_EOS, OGG_EOS, "the last page ends the stream");
        assert_eq!(&bytes[..fourth_start], &finished[..fourth_start], "earlier pages untouched");
        assert_eq!(finalise_segment(&path).unwrap().repaired, false, "idempotent");
        // The finished file needs nothing.
        std::fs::write(&path, &finished).unwrap();
        assert_eq!(finalise_segment(&path).unwrap(), Finalised { len: finished.len() as u64, repaired: false });
    }

    #[test]
    fn a_killed_transcript_keeps_its_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.txt");
        std::fs::write(&path, b"[a] assistant: Hello\n[b] user: hi\n[c] assis").unwrap();
        assert_eq!(finalise_segment(&path).unwrap(), Finalised { len: 34, repaired: true });
        assert_eq!(std::fs::read(&path).unwrap(), b"[a] assistant: Hello\n[b] user: hi\n");
        assert_eq!(finalise_segment(&path).unwrap(), Finalised { len: 34, repaired: false }, "idempotent");
    }
}
