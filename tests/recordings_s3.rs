//! Recordings in object storage, end to end: a real SIP call (sipp sending PCMA audio) to the built-in `bench`
//! agent with recording on, the server pointed at a real S3 server (s3s-fs on 127.0.0.1, started here) through
//! `VOICERA_S3_*`. The call's stereo recording must be an object in the prefixed `recordings` bucket, named
//! by the call record, decoding to two channels and the call's length; ranges of it read back byte-exact. With
//! the server down the call is unaffected and the recording waits on disk for a spool.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_sipp_ok, require_tool, sipp, Server};
use tokio::io::AsyncReadExt;
use voicera_blob::{get_url, parse_blob_url, BlobStore, ByteRange, S3BlobStore, S3Config};

const ACCESS_KEY: &str = "e2e-access";
const SECRET_KEY: &str = "e2e-secret-key";
const PREFIX: &str = "e2e-";
/// basic_call.xml keeps the call up this long after its ACK before it sends BYE.
const CALL_PAUSE: Duration = Duration::from_millis(2500);

/// A running s3s-fs (from scripts/setup.sh; `S3S_FS` names another binary), killed on drop.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start(name: &str) -> Self {
        let root = common::test_dir(&format!("{name}-s3s"));
        let binary = std::env::var("S3S_FS").unwrap_or_else(|_| {
            let home = std::env::var("CARGO_HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
            let cargo_bin = home.join("bin/s3s-fs");
            if cargo_bin.exists() {
                cargo_bin.display().to_string()
            } else {
                "s3s-fs".into()
            }
        });
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} ({e}): run scripts/setup.sh to install s3s-fs"));
        // It logs its bound address once listening: "server is running at http://127.0.0.1:PORT".
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines.next().expect("s3s-fs exited before listening").unwrap();
            if let Some(at) = line.find("running at ") {
                break line[at + "running at ".len()..].trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, endpoint }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VOICERA_S3_ENDPOINT", self.endpoint.clone()),
            ("VOICERA_S3_BUCKET_PREFIX", PREFIX.into()),
            ("VOICERA_S3_ACCESS_KEY", ACCESS_KEY.into()),
            ("VOICERA_S3_SECRET_KEY", SECRET_KEY.into()),
            ("VOICERA_S3_REGION", "us-east-1".into()),
        ]
    }

    fn store(&self) -> S3BlobStore {
        S3BlobStore::new(S3Config::new(&self.endpoint, None, Some(PREFIX), ACCESS_KEY, SECRET_KEY, None).unwrap())
            .unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes one bench call with recording on, server on `s3`; returns the server, the record's recording URL
/// and how long sipp's whole run took (an upper bound of the call's length).
fn recorded_call(name: &str, s3: &S3Server, extra_env: &[(&'static str, String)]) -> (Server, String, Duration) {
    require_tool("sipp");
    let mut env = s3.env();
    env.extend(extra_env.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_env(name, "[bench]\nrecord = true\n", false, &env);
    let log = server.log();
    assert!(!log.contains(SECRET_KEY), "the secret key is never logged:\n{log}");
    let started = Instant::now();
    let out = sipp(&server, "basic_call.xml", &["-s", "bench", "-m", "1"]);
    let sipp_run = started.elapsed();
    assert_sipp_ok(&server, &out, "recorded call");
    server.wait_for("the call record", Duration::from_secs(20), |s| s.log().contains("call record stored"));
    let records = server.call_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let url =
        records[0]["recording"].as_str().unwrap_or_else(|| panic!("no recording URL: {}", records[0])).to_string();
    (server, url, sipp_run)
}

async fn read_object(store: &S3BlobStore, url: &str, range: Option<ByteRange>) -> Vec<u8> {
    let read = get_url(store, url, range).await.unwrap();
    let mut bytes = Vec::new();
    let mut reader = read.reader;
    reader.read_to_end(&mut bytes).await.unwrap();
    bytes
}

#[test]
fn a_recorded_call_lands_in_s3_as_a_stereo_wav_of_the_calls_length() {
    let s3 = S3Server::start("recordings-s3-wav");
    let (server, url, sipp_run) = recorded_call("recordings-s3-wav", &s3, &[]);
    let parsed = parse_blob_url(&url).unwrap();
    assert_eq!((parsed.scheme, parsed.bucket.as_str()), ("s3", "e2e-recordings"), "{url}");
    assert!(parsed.key.ends_with(".wav"), "{url}");
    let log = server.log();
    assert!(log.contains("blob store open"), "{log}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = s3.store();
    let wav = runtime.block_on(read_object(&store, &url, None));
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize, wav.len() - 8, "RIFF size fixed up");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    let rate = u32::from_le_bytes(wav[24..28].try_into().unwrap());
    assert_eq!(rate, 16_000);
    let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len, wav.len() - 44, "data size fixed up");
    let seconds = data_len as f64 / f64::from(rate * 4);
    assert!(
        (seconds - CALL_PAUSE.as_secs_f64()).abs() <= 0.5 && seconds <= sipp_run.as_secs_f64() + 0.1,
        "recording {seconds:.2} s; the call was up {CALL_PAUSE:?} (sipp ran {sipp_run:?})"
    );
    // The caller's channel holds sipp's audio; the agent's the bench greeting.
    let energy = |channel: usize| {
        wav[44..]
            .chunks_exact(4)
            .map(|f| i16::from_le_bytes([f[channel * 2], f[channel * 2 + 1]]).unsigned_abs() as u64)
            .sum::<u64>()
    };
    assert!(energy(0) > 0 && energy(1) > 0, "both sides recorded");

    // Range reads return exactly those bytes (the console's player seeks with them).
    let middle = runtime.block_on(read_object(&store, &url, Some(ByteRange::Inclusive(1000, 4999))));
    assert_eq!(middle, &wav[1000..5000]);
    let tail = runtime.block_on(read_object(&store, &url, Some(ByteRange::Suffix(100))));
    assert_eq!(tail, &wav[wav.len() - 100..]);
    // Nothing is left waiting for an upload.
    let pending: Vec<_> = walk(&server.dir.join("data/recordings"));
    assert!(pending.is_empty(), "segment files left behind: {pending:?}");
}

#[test]
fn opus_recordings_are_ogg_objects_a_tenth_the_size() {
    require_tool("ffprobe");
    let s3 = S3Server::start("recordings-s3-opus");
    let (server, url, _) =
        recorded_call("recordings-s3-opus", &s3, &[("VOICERA_RECORDING_FORMAT", "opus".to_string())]);
    assert!(url.ends_with(".ogg"), "{url}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = s3.store();
    let ogg = runtime.block_on(read_object(&store, &url, None));
    let path = server.dir.join("call.ogg");
    std::fs::write(&path, &ogg).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,channels:format=duration", "-of", "default=nw=1"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "{text}{}", String::from_utf8_lossy(&probe.stderr));
    assert!(text.contains("codec_name=opus") && text.contains("channels=2"), "{text}");
    let seconds: f64 = text.lines().find_map(|l| l.strip_prefix("duration=")).unwrap().parse().unwrap();
    assert!((seconds - CALL_PAUSE.as_secs_f64()).abs() <= 0.5, "{seconds} s");
    let wav_len = 44.0 + seconds * 16_000.0 * 4.0;
    assert!((ogg.len() as f64) * 8.0 < wav_len, "{} bytes of Ogg for {seconds} s", ogg.len());
    let meta = runtime.block_on(store.head(&parse_blob_url(&url).unwrap().bucket, &parse_blob_url(&url).unwrap().key));
    assert_eq!(meta.unwrap().unwrap().len, ogg.len() as u64);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

#[test]
fn with_s3_down_the_call_completes_and_its_recording_waits_on_disk() {
    let s3 = S3Server::start("recordings-s3-down");
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_env("recordings-s3-down", "[bench]\nrecord = true\n", false, &env);
    drop(s3);
    let out = sipp(&server, "basic_call.xml", &["-s", "bench", "-m", "1"]);
    assert_sipp_ok(&server, &out, "a call while S3 is down");
    server.wait_for("the call record", Duration::from_secs(20), |s| s.log().contains("cannot store call record"));
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0, "the call itself is unaffected");
    let log = server.log();
    assert!(log.contains("not uploaded (kept at"), "{log}");
    // The record is on disk and points at the kept recording, ready for a spool to upload.
    let records = server.call_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let kept = std::path::PathBuf::from(records[0]["recording"].as_str().unwrap());
    let kept = if kept.is_absolute() { kept } else { server.dir.join(kept) };
    let wav = std::fs::read(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2);
    assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize, wav.len() - 44);
}
