//! Recordings in object storage, end to end: a real SIP call (sipp sending PCMA audio) to the built-in `bench`
//! agent with recording on, the server pointed at a real S3 server (s3s-fs on 127.0.0.1, started here) through
//! `VOICERA_S3_*`. The call's stereo recording must be an object in the prefixed `recordings` bucket, named
//! by the call record, decoding to two channels and the call's length; ranges of it read back byte-exact. With
//! the server killed mid-call the call is unaffected, its recording (a file on disk) and transcript wait in
//! the blob spool, and both arrive once each when the server is back, where the call log's URLs said.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{owner_token, OWNER};
use common::{assert_sipp_ok, http_get, require_tool, sipp, Server};
use tokio::io::AsyncReadExt;
use voicera_blob::{get_url, parse_blob_url, BlobStore, ByteRange, S3BlobStore, S3Config};

const ACCESS_KEY: &str = "e2e-access";
const SECRET_KEY: &str = "e2e-secret-key";
const PREFIX: &str = "e2e-";
/// basic_call.xml keeps the call up this long after its ACK before it sends BYE.
const CALL_PAUSE: Duration = Duration::from_millis(2500);

/// A running s3s-fs (from scripts/setup.sh; `S3S_FS` names another binary), killed on drop.
struct S3Server {
    child: Option<Child>,
    endpoint: String,
    root: std::path::PathBuf,
    port: u16,
}

impl S3Server {
    fn start(name: &str) -> Self {
        Self::start_at(common::test_dir(&format!("{name}-s3s")), 0)
    }

    /// Stops the server (its objects stay on disk).
    fn kill(&mut self) {
        common::stop(&mut self.child);
    }

    /// The server again, on the same port and objects.
    fn restart(&mut self) {
        self.kill();
        let again = Self::start_at(self.root.clone(), self.port);
        assert_eq!(again.endpoint, self.endpoint);
        *self = again;
    }

    /// On `port` (0: any), objects under `root`.
    fn start_at(root: std::path::PathBuf, port: u16) -> Self {
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
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY])
            .args(["--secret-key", SECRET_KEY])
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
        let port = endpoint.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(port);
        Self { child: Some(child), endpoint, root, port }
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
        self.kill();
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

/// One HTTP request to the node's API: (status, body bytes); a chunked answer fails the test (downloads
/// have a length).
fn api(addr: std::net::SocketAddr, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    let head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, response[head_end..].to_vec())
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null)
}

/// Checks a stereo 16 kHz WAV of about the basic call's length with audio on both sides.
fn assert_call_wav(wav: &[u8]) {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 16_000);
    let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len, wav.len() - 44, "data size fixed up");
    let seconds = data_len as f64 / 64_000.0;
    assert!(
        (seconds - CALL_PAUSE.as_secs_f64()).abs() <= 0.5,
        "recording {seconds:.2} s; the call was up {CALL_PAUSE:?}"
    );
    let energy = |channel: usize| {
        wav[44..]
            .chunks_exact(4)
            .map(|f| i16::from_le_bytes([f[channel * 2], f[channel * 2 + 1]]).unsigned_abs() as u64)
            .sum::<u64>()
    };
    assert!(energy(0) > 0 && energy(1) > 0, "both sides recorded");
}

#[test]
fn with_s3_down_the_call_completes_and_its_recording_and_transcript_arrive_once_s3_is_back() {
    require_tool("sipp");
    let mut s3 = S3Server::start("recordings-s3-down");
    let mut env = s3.env();
    env.extend(OWNER.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_env("recordings-s3-down", "[bench]\nrecord = true\n", false, &env);
    let token = owner_token(server.http);

    // S3 goes away while the call is up (basic_call.xml holds it 2.5 s after the ACK).
    let out = std::thread::scope(|scope| {
        let call = scope.spawn(|| sipp(&server, "basic_call.xml", &["-s", "bench", "-m", "1"]));
        std::thread::sleep(Duration::from_millis(1200));
        s3.kill();
        call.join().unwrap()
    });
    assert_sipp_ok(&server, &out, "a call while S3 is down");
    server.wait_for("the call record", Duration::from_secs(20), |s| s.log().contains("call record stored"));
    assert_eq!(server.metric("voicera_calls_total{result=\"completed\"}"), 1.0, "the call itself is unaffected");
    // Recording and transcript wait in the blob spool; the recording as its segment file on disk.
    server.wait_for("both uploads spooled", Duration::from_secs(20), |s| s.metric("voicera_blob_spool_items") == 2.0);
    let (code, health) = http_get(server.http, "/health").unwrap();
    let health = json(health.as_bytes());
    assert_eq!((code, &health["checks"]["blobs"]), (200, &serde_json::json!("degraded")), "{health}");
    let records = server.call_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let url = records[0]["recording"].as_str().unwrap().to_string();
    let parsed = parse_blob_url(&url).unwrap();
    assert_eq!((parsed.scheme, parsed.bucket.as_str()), ("s3", "e2e-recordings"), "the object's URL from the start");
    let segment = server.dir.join("data/recordings").join(&parsed.key);
    assert!(segment.exists(), "the recording waits as a file: {}", segment.display());
    // The call log has both URLs already.
    let (status, page) = api(server.http, "GET", "/api/v1/meetings", Some(&token), "");
    assert_eq!(status, 200);
    let page = json(&page);
    let log = &page["items"][0];
    assert_eq!(log["status"], "completed", "{page}");
    let transcript_url = log["transcript_url"].as_str().expect("a transcript URL").to_string();
    let transcript = parse_blob_url(&transcript_url).unwrap();
    assert_eq!(transcript.bucket, "e2e-transcripts");
    assert_eq!(transcript.key, parsed.key.replace(".wav", ".txt"));
    let meeting = log["meeting_id"].as_str().unwrap().to_string();

    // S3 again, on the same port and objects: the spool drains, each object uploaded once.
    s3.restart();
    server
        .wait_for("the blob spool to drain", Duration::from_secs(60), |s| s.metric("voicera_blob_spool_items") == 0.0);
    assert_eq!(server.metric("voicera_blob_uploads_total"), 2.0, "exactly once each");
    assert!(!segment.exists(), "the segment file is gone once uploaded");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = s3.store();
    let wav = runtime.block_on(read_object(&store, &url, None));
    assert_call_wav(&wav);
    let listed = runtime.block_on(store.list("e2e-recordings", "")).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let text = String::from_utf8(runtime.block_on(read_object(&store, &transcript_url, None))).unwrap();
    assert_eq!(serde_json::Value::String(text.clone()), log["transcript_content"], "the same transcript");
    assert!(text.starts_with('[') && text.contains("] assistant: "), "{text}");
    // The API serves the recording from the URL its log kept.
    let (status, served) = api(server.http, "GET", &format!("/api/v1/meetings/{meeting}/recording"), Some(&token), "");
    assert_eq!(status, 200);
    assert!(served == wav, "the API serves the uploaded object");
    server.wait_for("blobs up again", Duration::from_secs(10), |s| {
        json(http_get(s.http, "/health").unwrap().1.as_bytes())["checks"]["blobs"] == "up"
    });
}
