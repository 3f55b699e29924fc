//! Recordings in object storage, end to end: a real SIP call (sipp sending PCMA audio) to the built-in `bench`
//! agent with recording on, the server pointed at a real S3 server (s3s-fs on 127.0.0.1, started here) through
//! `VOICERA_S3_*`. The call's stereo recording must be an object in the prefixed `recordings` bucket, named
//! by the call record, decoding to two channels and the call's length; ranges of it read back byte-exact. With
//! the server killed mid-call the call is unaffected, its recording (a file on disk) and transcript wait in
//! the blob spool (the API serving the recording from its file meanwhile), and both arrive once each when the
//! server is back, where the call log's URLs said. A node killed mid-call completes the call's half-written
//! recording (WAV or Ogg) and its transcript on its next start, links both into the orphan's closed log,
//! sends the customer its `call.ended`, and uploads them once S3 answers; an Ogg with no whole page is
//! quarantined once.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{owner_token, OWNER};
use common::restarted::Restarted;
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
    // While the upload is pending the API serves the recording from its segment file (it used to be a 404).
    let (status, pending) = api(server.http, "GET", &format!("/api/v1/meetings/{meeting}/recording"), Some(&token), "");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pending));
    assert!(pending == std::fs::read(&segment).unwrap(), "the pending segment file's bytes");
    assert_call_wav(&pending);

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
    assert!(served == pending, "the same recording before and after its upload");
    server.wait_for("blobs up again", Duration::from_secs(10), |s| {
        json(http_get(s.http, "/health").unwrap().1.as_bytes())["checks"]["blobs"] == "up"
    });
}

/// A sipp call of `pause_ms` to `bench` in the background (tests/sipp/call_for.xml); killed on drop.
struct BackgroundCall(Option<Child>);

impl BackgroundCall {
    fn start(dir: &std::path::Path, sip: std::net::SocketAddr, pause_ms: u64) -> BackgroundCall {
        let template = std::fs::read_to_string(common::repo_path("tests/sipp/call_for.xml")).unwrap();
        let dir = dir.join(format!("sipp-call-{}", common::free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("call.xml");
        std::fs::write(&scenario, template.replace("@PAUSE_MS@", &pause_ms.to_string())).unwrap();
        let child = Command::new("timeout")
            .arg("120")
            .arg("sipp")
            .arg(sip.to_string())
            .args(["-sf", &scenario.to_string_lossy(), "-s", "bench", "-m", "1"])
            .args(["-i", "127.0.0.1", "-p", &common::free_port().to_string(), "-mp", &common::free_port().to_string()])
            .args(["-timeout", "60", "-nostdin"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run sipp");
        BackgroundCall(Some(child))
    }
}

impl Drop for BackgroundCall {
    fn drop(&mut self) {
        common::stop(&mut self.0);
    }
}

fn login(http: std::net::SocketAddr) -> String {
    let body = serde_json::json!({"email": OWNER[0].1, "password": OWNER[1].1}).to_string();
    let (status, login) = api(http, "POST", "/api/v1/users/login", None, &body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&login));
    json(&login)["access_token"].as_str().unwrap().to_string()
}

/// The owner's only call log, once `check` holds for it.
fn wait_for_log(
    http: std::net::SocketAddr,
    token: &str,
    what: &str,
    server_log: impl Fn() -> String,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        let (status, page) = api(http, "GET", "/api/v1/meetings", Some(token), "");
        if status == 200 {
            let page = json(&page);
            if page["total"] == 1 && check(&page["items"][0]) {
                return page["items"][0].clone();
            }
            last = page;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}; last page: {last}\nlog:\n{}", server_log());
}

/// The bench agent records; webhooks may go to a plain-http receiver on loopback, polled often.
const KILLED_CONFIG: &str = "[bench]\nrecord = true\n\n[webhooks]\nallow_http_loopback = true\n";

/// A node (S3 on `s3`, `extra_env` besides) killed by SIGKILL while a sipp call is up, once `ready` holds for
/// the files under its `data/recordings`: its data dir, the environment to restart it with, the call's
/// meeting id, and the webhook receiver and secret registered (for `call.ended`) before the call.
struct KilledNode {
    dir: std::path::PathBuf,
    env: Vec<(&'static str, String)>,
    meeting: String,
    receiver: common::hooks::Receiver,
    secret: String,
}

impl KilledNode {
    fn segments(&self) -> std::path::PathBuf {
        self.dir.join("data/recordings")
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

fn kill_mid_call(
    name: &str,
    s3: &S3Server,
    extra_env: &[(&'static str, String)],
    ready: impl Fn(&[std::path::PathBuf]) -> bool,
) -> KilledNode {
    require_tool("sipp");
    let mut env = s3.env();
    env.extend(OWNER.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("VOICERA_WEBHOOKS_POLL_MS", "200".to_string()));
    env.extend(extra_env.iter().cloned());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start_env(name, KILLED_CONFIG, false, &pairs);
    let token = login(server.http);
    let receiver = common::hooks::Receiver::accepting();
    let hook = serde_json::json!({"url": format!("http://{}/hook", receiver.addr), "events": ["call.ended"]});
    let (status, created) = common::api::request(server.http, "POST", "/api/v1/webhooks", &token, Some(hook));
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let call = BackgroundCall::start(&server.dir, server.sip, 30_000);
    let started =
        wait_for_log(server.http, &token, "the call in progress", || server.log(), |l| l["status"] == "in-progress");
    let meeting = started["meeting_id"].as_str().unwrap().to_string();
    let segments = server.dir.join("data/recordings");
    server.wait_for("the call's files on disk", Duration::from_secs(20), |_| ready(&walk(&segments)));
    // The node is killed without a chance to finish anything.
    server.signal("KILL");
    assert!(server.wait_exit(Duration::from_secs(10)).is_none(), "killed by a signal, no exit code");
    drop(call);
    KilledNode { dir: server.dir.clone(), env, meeting, receiver, secret }
}

fn with_extension(files: &[std::path::PathBuf], extension: &str) -> Vec<std::path::PathBuf> {
    files.iter().filter(|p| p.extension().is_some_and(|e| e == extension)).cloned().collect()
}

fn file_len_at_least(files: &[std::path::PathBuf], extension: &str, len: u64) -> bool {
    with_extension(files, extension).iter().any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= len))
}

/// The bench agent's greeting as its transcript line says it.
const GREETING_LINE: &str = "assistant: Hello, how can I help you?";

#[test]
fn a_node_killed_mid_call_uploads_the_calls_recording_and_transcript_once_and_sends_its_call_ended() {
    let mut s3 = S3Server::start("recordings-crash");
    // A second and a half of audio and the greeting's transcript line on disk.
    let killed = kill_mid_call("recordings-crash", &s3, &[], |files| {
        file_len_at_least(files, "wav", 44 + 96_000)
            && with_extension(files, "txt")
                .iter()
                .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(GREETING_LINE)))
    });
    let (meeting, segments) = (killed.meeting.clone(), killed.segments());
    let files = walk(&segments);
    let (wavs, texts) = (with_extension(&files, "wav"), with_extension(&files, "txt"));
    assert_eq!((wavs.len(), texts.len(), files.len()), (1, 1, 2), "{files:?}");
    let segment = wavs[0].clone();
    let transcript_file = texts[0].clone();
    assert_eq!(transcript_file.with_extension("wav"), segment, "the transcript beside its recording");
    let unfinished = std::fs::read(&segment).unwrap();
    assert_eq!(&unfinished[40..44], &[0, 0, 0, 0], "the killed run never wrote the WAV's data size");
    assert!(segment.to_string_lossy().contains(&meeting), "{} is the call's", segment.display());
    let said = std::fs::read_to_string(&transcript_file).unwrap();
    assert!(said.starts_with('[') && said.ends_with('\n'), "whole `[ts] role: text` lines: {said:?}");

    // The node starts again while S3 is down.
    s3.kill();
    let env = killed.env();
    let restarted = Restarted::start(&killed.dir, &env);
    let token = login(restarted.http);
    let closed = wait_for_log(
        restarted.http,
        &token,
        "the orphan closed with its recording",
        || restarted.log(),
        |l| l["status"] == "completed",
    );
    assert_eq!(closed["end_reason"], "node_restarted", "{closed}");
    assert_eq!(closed["meeting_id"], meeting.as_str());
    // The history links recordings through the API; the store keeps the object's URL.
    assert_eq!(closed["recording_url"], format!("/api/v1/meetings/{meeting}/recording"), "{closed}");
    // What was said before the kill is the log's transcript, linked to its object.
    assert_eq!(closed["transcript_content"], said.as_str(), "{closed}");
    assert!(closed["transcript_url"].as_str().is_some_and(|u| !u.is_empty()), "{closed}");
    restarted.wait_for("the recording and transcript spooled", Duration::from_secs(20), |r| {
        r.metric("voicera_blob_spool_items") == 2.0
    });
    assert_eq!(restarted.metric("voicera_recovery_recordings_total"), 1.0);
    assert_eq!(restarted.metric("voicera_recovery_transcripts_total"), 1.0);
    assert!(segment.exists() && transcript_file.exists(), "kept on disk while S3 is away");
    // Meanwhile the API serves the completed file.
    let (status, pending) =
        api(restarted.http, "GET", &format!("/api/v1/meetings/{meeting}/recording"), Some(&token), "");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pending));
    let data_len = u32::from_le_bytes(pending[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len, pending.len() - 44, "the data size fixed up");
    assert_eq!(u32::from_le_bytes(pending[4..8].try_into().unwrap()) as usize, pending.len() - 8, "RIFF size");
    assert_eq!(data_len % 4, 0, "whole stereo frames");
    assert!(data_len >= 96_000, "at least the 1.5 s seen before the kill: {data_len} bytes");
    assert!(unfinished.len() - 44 - data_len < 4, "nothing but a cut frame dropped");
    assert_eq!(&pending[44..], &unfinished[44..44 + data_len], "the audio as the killed run wrote it");
    let caller_energy: u64 =
        pending[44..].chunks_exact(4).map(|f| i16::from_le_bytes([f[0], f[1]]).unsigned_abs() as u64).sum();
    assert!(caller_energy > 0, "sipp's audio on the caller's side");

    // The customer hears the call ended, once, signed, with what was recovered.
    let receiver = &killed.receiver;
    restarted.wait_for("call.ended delivered", Duration::from_secs(30), |_| !receiver.accepted().is_empty());
    std::thread::sleep(Duration::from_secs(1));
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1, "exactly one delivery: {accepted:#?}");
    let ended = &accepted[0];
    assert_eq!(ended.event(), "call.ended");
    assert!(common::hooks::signature_ok(&killed.secret, ended.signature(), &ended.body), "signed");
    let data = &ended.json()["data"];
    assert_eq!(data["call_id"], meeting.as_str(), "{data}");
    assert_eq!(data["end_reason"], "node_restarted", "{data}");
    assert_eq!(data["transcript_text"], said.as_str(), "{data}");
    assert_eq!(data["transcript"][0]["role"], "assistant", "{data}");
    assert_eq!(data["transcript"][0]["text"], "Hello, how can I help you?", "{data}");
    assert_eq!(data["duration_secs"], serde_json::Value::Null, "unknown: {data}");
    let link = data["recording_url"].as_str().unwrap_or_else(|| panic!("a signed recording link: {data}"));
    assert!(link.contains("/recording/signed?"), "{link}");

    // S3 is back: each uploaded once, the files gone, the objects the same bytes.
    s3.restart();
    restarted
        .wait_for("the blob spool to drain", Duration::from_secs(60), |r| r.metric("voicera_blob_spool_items") == 0.0);
    assert_eq!(restarted.metric("voicera_blob_uploads_total"), 2.0, "exactly once each");
    assert!(!segment.exists() && !transcript_file.exists(), "the files are gone once uploaded");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = s3.store();
    let listed = runtime.block_on(store.list("e2e-recordings", "")).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let key = segment.strip_prefix(&segments).unwrap().to_string_lossy().into_owned();
    assert_eq!(listed[0].key, key);
    let object = runtime.block_on(read_object(&store, &format!("s3://e2e-recordings/{key}"), None));
    assert!(object == pending, "the object is the completed recording");
    let (status, served) =
        api(restarted.http, "GET", &format!("/api/v1/meetings/{meeting}/recording"), Some(&token), "");
    assert_eq!(status, 200);
    assert!(served == object, "served from S3 now");
    let transcripts = runtime.block_on(store.list("e2e-transcripts", "")).unwrap();
    let text_key = transcript_file.strip_prefix(&segments).unwrap().to_string_lossy().into_owned();
    assert_eq!(transcripts.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), [text_key.as_str()]);
    let text = runtime.block_on(read_object(&store, &format!("s3://e2e-transcripts/{text_key}"), None));
    assert_eq!(String::from_utf8_lossy(&text), said, "the transcript object is what was said");
    assert!(restarted.log().contains("a recording left by the last run"), "{}", restarted.log());
    assert_eq!(receiver.accepted().len(), 1, "never sent again");
}

#[test]
fn a_killed_opus_call_is_served_as_an_ogg_that_decodes_and_a_pageless_ogg_is_quarantined_once() {
    require_tool("ffmpeg");
    let s3 = S3Server::start("recordings-crash-opus");
    // Opus at 4 kB/s through an 8 kB write buffer: a few seconds of whole pages on disk.
    let killed = kill_mid_call("recordings-crash-opus", &s3, &[("VOICERA_RECORDING_FORMAT", "opus".into())], |files| {
        file_len_at_least(files, "ogg", 16_000)
    });
    let (meeting, segments) = (killed.meeting.clone(), killed.segments());
    let oggs = with_extension(&walk(&segments), "ogg");
    assert_eq!(oggs.len(), 1, "{oggs:?}");
    let segment = oggs[0].clone();
    // A recording killed before its first whole page (a node killed as a call started): nothing to keep.
    let pageless = segment.with_file_name("rec-1-pageless.ogg");
    std::fs::write(&pageless, b"OggS\0\x02").unwrap();

    let env = killed.env();
    let restarted = Restarted::start(&killed.dir, &env);
    let token = login(restarted.http);
    let closed =
        wait_for_log(restarted.http, &token, "the orphan closed", || restarted.log(), |l| l["status"] == "completed");
    assert_eq!(closed["end_reason"], "node_restarted", "{closed}");
    restarted.wait_for("the repaired Ogg uploaded", Duration::from_secs(30), |_| !segment.exists());
    let (status, served) =
        api(restarted.http, "GET", &format!("/api/v1/meetings/{meeting}/recording"), Some(&token), "");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&served));
    assert_eq!(&served[..4], b"OggS");
    let path = killed.dir.join("repaired.ogg");
    std::fs::write(&path, &served).unwrap();
    let decoded =
        Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&path).args(["-f", "null", "-"]).output().unwrap();
    let errors = String::from_utf8_lossy(&decoded.stderr);
    assert!(decoded.status.success() && errors.trim().is_empty(), "ffmpeg decodes it cleanly: {errors}");
    // The last page ends the stream.
    let last_page = served.windows(4).rposition(|w| w == b"OggS").unwrap();
    assert_eq!(served[last_page + 5] & 0x04, 0x04, "end-of-stream flag on the last page");

    // The pageless one is moved aside once and counted; the next start neither sees nor logs it.
    let quarantined = segments.join("quarantine").join(pageless.strip_prefix(&segments).unwrap());
    assert!(!pageless.exists() && quarantined.exists(), "{}", quarantined.display());
    assert_eq!(restarted.metric("voicera_recovery_quarantined_total"), 1.0);
    assert_eq!(restarted.log().matches("quarantined").count(), 1, "{}", restarted.log());
    drop(restarted);
    let again = Restarted::start(&killed.dir, &env);
    assert_eq!(again.metric("voicera_recovery_quarantined_total"), 0.0);
    assert_eq!(again.metric("voicera_recovery_recordings_total"), 0.0);
    assert!(!again.log().contains("cannot be completed"), "{}", again.log());
    assert!(quarantined.exists(), "kept for the operator");
}

/// A multipart upload of one `file` part to the node's API: (status, body as JSON).
fn upload(addr: std::net::SocketAddr, token: &str, filename: &str, bytes: &[u8]) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let boundary = "voicera-e2e-boundary-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST /api/v1/knowledge/upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    let status = String::from_utf8_lossy(&response[..head_end]).split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, json(&response[head_end..]))
}

#[test]
fn knowledge_documents_are_objects_in_the_s3_knowledge_bucket() {
    let s3 = S3Server::start("knowledge-s3");
    let mut env = s3.env();
    env.extend(OWNER.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_env("knowledge-s3", "", false, &env);
    let token = login(server.http);
    let faq = b"Refunds reach the customer's bank within seven working days of the return.";
    let (status, uploaded) = upload(server.http, &token, "faq.txt", faq);
    assert_eq!((status, uploaded["status"].as_str()), (201, Some("processing")), "{uploaded}");
    // Stored and read in the background: the list says when it is done.
    let listed = |id: &str| {
        let (status, list) = api(server.http, "GET", "/api/v1/knowledge", Some(&token), "");
        assert_eq!(status, 200);
        json(&list).as_array().unwrap().iter().find(|d| d["document_id"] == id).cloned().unwrap_or_default()
    };
    let id = uploaded["document_id"].as_str().unwrap();
    server.wait_for("the document to be read", Duration::from_secs(15), |_| listed(id)["status"] != "processing");
    let document = listed(id);
    assert_eq!(document["status"], "ready", "{document}");
    let (org, id) = (document["org_id"].as_str().unwrap(), document["document_id"].as_str().unwrap());
    let object_url = format!("s3://e2e-knowledge/{org}/{id}/original.txt");
    assert_eq!(document["object_url"], object_url.as_str(), "{document}");
    let text_url = document["text_url"].as_str().unwrap().to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = s3.store();
    assert_eq!(runtime.block_on(read_object(&store, &object_url, None)), faq, "the original in S3");
    assert_eq!(runtime.block_on(read_object(&store, &text_url, None)), faq, "its text beside it");
    assert!(!server.dir.join("data/knowledge").exists(), "nothing on the node's disk");

    // Retrieval reads the text from S3.
    let ask = serde_json::json!({"question": "when do refunds reach the bank"}).to_string();
    let (status, found) = api(server.http, "POST", "/api/v1/rag/retrieve", Some(&token), &ask);
    assert_eq!(status, 200);
    let found = json(&found);
    assert!(found["chunks"][0]["text"].as_str().is_some_and(|t| t.contains("seven working days")), "{found}");

    // Deleting the document deletes both objects.
    let (status, _) = api(server.http, "DELETE", &format!("/api/v1/knowledge/{id}"), Some(&token), "");
    assert_eq!(status, 200);
    let listed = runtime.block_on(store.list("e2e-knowledge", "")).unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}
