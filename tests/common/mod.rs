//! Shared helpers for end-to-end tests: start the real `voicera` binary on free loopback ports, talk HTTP to it,
//! and run real SIP peers (sipp, pjsua2, baresip) against it. Tests fail with a clear message when a peer is
//! not installed: run `scripts/setup.sh`.
#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod api;
pub(crate) mod browser;
pub(crate) mod carrier;
pub(crate) mod fake_carrier;
pub(crate) mod greetings;
pub(crate) mod heard;
pub(crate) mod hooks;
pub(crate) mod media_peer;
pub(crate) mod pcap;
pub(crate) mod provider;
pub(crate) mod restarted;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A running `voicera serve` with its own data dir and ports; killed on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) sip: SocketAddr,
    pub(crate) http: SocketAddr,
    pub(crate) dir: PathBuf,
    pub(crate) rtp_ports: (u16, u16),
}

static NEXT_RTP_BLOCK: AtomicU16 = AtomicU16::new(0);

/// A port free for both UDP and TCP on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// A block of 100 RTP ports unique within this test process (blocks differ by process id too).
fn rtp_block() -> (u16, u16) {
    let block = NEXT_RTP_BLOCK.fetch_add(1, Ordering::Relaxed) as u32;
    let base = 20000 + ((std::process::id() % 50) * 600 + block * 100) % 40000;
    (base as u16, base as u16 + 99)
}

/// Runs a pjsua2 peer script from tests/peers with `args`; panics with its output and the server log unless
/// it exits 0 and prints `OK`. Returns its stdout.
pub(crate) fn run_peer(server: &Server, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let python = repo_path(".venv/bin/python");
    assert!(python.exists(), "{} missing: run scripts/setup.sh", python.display());
    let out = Command::new(python).arg(repo_path(&format!("tests/peers/{script}"))).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

/// The model cache shared by every test (and kept between runs).
pub(crate) fn models_cache() -> PathBuf {
    std::env::var_os("VOICERA_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models-cache"))
}

pub(crate) fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    /// Starts the server with `config` as its voicera.toml (demo agent off: it loads models).
    pub(crate) fn start(name: &str, config: &str) -> Server {
        Server::start_with(name, config, false)
    }

    /// Starts the server; `demo` loads the `demo` agent from the shared model cache (`target/models-cache`,
    /// fetched on first use) and waits until it is ready.
    pub(crate) fn start_with(name: &str, config: &str, demo: bool) -> Server {
        Server::start_env(name, config, demo, &[])
    }

    /// Starts the server with extra environment variables.
    pub(crate) fn start_env(name: &str, config: &str, demo: bool, env: &[(&str, &str)]) -> Server {
        let dir = test_dir(name);
        std::fs::write(dir.join("voicera.toml"), config).unwrap();
        // A port found free can be taken by another test before the server binds it; the server then exits
        // with "Address already in use", and is started again on new ports.
        for attempt in 0.. {
            let sip = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let rtp_ports = rtp_block();
            let log = std::fs::File::create(dir.join("server.log")).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_voicera"))
                .args(["serve", "--config", "voicera.toml", "--data-dir", "data"])
                .args(["--sip", &sip.to_string(), "--http", &http.to_string()])
                .args(["--rtp-ports", &format!("{}-{}", rtp_ports.0, rtp_ports.1)])
                .env(
                    "RUST_LOG",
                    "info,voicera_sip=debug,voicera_media=debug,voicera_conversation=debug,voicera_telephony=debug",
                )
                .env("NO_COLOR", "1")
                .env("VOICERA_DEMO_AGENT", if demo { "1" } else { "0" })
                .env("VOICERA_MODELS_DIR", models_cache())
                .envs(env.iter().copied())
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn voicera");
            let mut server = Server { child: Some(child), sip, http, dir: dir.clone(), rtp_ports };
            let raced = server.exited_early_on_a_taken_port(Duration::from_secs(20));
            if !raced || attempt == 4 {
                server.wait_healthy(Duration::from_secs(20));
                return server;
            }
        }
        unreachable!("the loop returns")
    }

    /// Waits until the server is healthy; true when it exited instead because a port was taken.
    fn exited_early_on_a_taken_port(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.http, "/health") {
                return false;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some();
            if exited {
                return self.log().contains("Address already in use");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.http, "/health") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy; log:\n{}", self.log());
    }

    /// The call records stored under the data dir (`calls/<date>/<call>.json`).
    pub(crate) fn call_records(&self) -> Vec<serde_json::Value> {
        let mut records = Vec::new();
        for day in std::fs::read_dir(self.dir.join("data/calls")).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(day.path()).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                // Provider hangup reports (`.hangup.json`) sit beside the records.
                if name.ends_with(".json") && !name.ends_with(".hangup.json") {
                    let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                    records.extend(serde_json::from_str(&text).ok());
                }
            }
        }
        records
    }

    /// CPU time (user + system) the server process has used so far, from /proc.
    pub(crate) fn cpu_time(&self) -> Duration {
        let pid = self.child.as_ref().map(|c| c.id()).expect("a running server");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub(crate) fn metrics(&self) -> String {
        http_get(self.http, "/metrics").map(|(_, body)| body).unwrap_or_default()
    }

    /// Value of a metric line (exact name with labels).
    pub(crate) fn metric(&self, name: &str) -> f64 {
        metric_value(&self.metrics(), name)
    }

    /// Polls until `check` holds or `timeout` passes.
    pub(crate) fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&Server) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    pub(crate) fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        }
    }

    /// Waits for the process to exit; returns its exit code.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Kills and reaps a helper process (the server, a fake, a database), if it still runs; a second call is a
/// no-op.
pub(crate) fn stop(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The value of the `/metrics` line named `name` exactly (labels included); panics when it is missing.
pub(crate) fn metric_value(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// Minimal HTTP/1.1 GET: returns (status, body).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// The 16-bit samples of a WAV file's `data` chunk (as espeak-ng, sox and our server write them: PCM, little
/// endian).
pub(crate) fn wav_samples(wav: &[u8]) -> Vec<i16> {
    let data = wav.windows(4).position(|w| w == b"data").expect("a WAV data chunk") + 8;
    wav[data..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// espeak-ng speech at `rate` Hz (linear interpolation from its 22.05 kHz is plenty for a VAD and a
/// recogniser).
pub(crate) fn espeak_speech(text: &str, rate: u32) -> Vec<i16> {
    require_tool("espeak-ng");
    let out = Command::new("espeak-ng").args(["--stdout", "-v", "en-us", text]).output().unwrap();
    let pcm = wav_samples(&out.stdout);
    let ratio = 22050.0 / f64::from(rate);
    (0..(pcm.len() as f64 / ratio) as usize).map(|i| pcm[((i as f64 * ratio) as usize).min(pcm.len() - 1)]).collect()
}

/// Reads one HTTP/1.1 request from `socket` (a fake provider's): its head as text, and its body, as long as
/// its `Content-Length` says or what came before the peer stopped. None when the head never came whole.
pub(crate) fn read_request(socket: &mut impl std::io::Read) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match socket.read(&mut buf) {
            Ok(n) if n > 0 => data.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    Some((head, data.split_off(head_end)))
}

/// espeak-ng saying `text` (its own output in `raw`), converted by sox into `out`: a 16-bit WAV at `rate` Hz
/// on `channels`, with `pad` seconds of quiet before and after.
pub(crate) fn espeak_wav(text: &str, raw: &Path, out: &Path, (rate, channels): (u32, u32), pad: (f32, f32)) {
    let espeak =
        Command::new("espeak-ng").args(["-v", "en-us", "-s", "150", "-w"]).arg(raw).arg(text).status().unwrap();
    assert!(espeak.success());
    let sox = Command::new("sox")
        .arg(raw)
        .args(["-r", &rate.to_string(), "-c", &channels.to_string(), "-b", "16"])
        .arg(out)
        .args(["pad", &pad.0.to_string(), &pad.1.to_string()])
        .status()
        .unwrap();
    assert!(sox.success());
}

pub(crate) fn require_tool(tool: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map(|o| o.status.success());
    assert!(found.unwrap_or(false), "{tool} is not installed: run scripts/setup.sh");
}

pub(crate) fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs a sipp scenario from tests/sipp against the server; returns its output.
pub(crate) fn sipp(server: &Server, scenario: &str, args: &[&str]) -> Output {
    require_tool("sipp");
    // A port found free can be taken by another test before sipp binds it: then sipp exits at once, having
    // sent nothing, and a new pair of ports is tried.
    for attempt in 0.. {
        let port = free_port();
        let dir = server.dir.join(format!("sipp-{}-{port}", scenario.trim_end_matches(".xml")));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("timeout")
            .arg("120")
            .arg("sipp")
            .arg(server.sip.to_string())
            .args(["-sf", &repo_path(&format!("tests/sipp/{scenario}")).to_string_lossy()])
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &free_port().to_string()])
            .args(["-timeout", "60", "-nostdin", "-trace_err", "-trace_msg"])
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run sipp");
        let raced = String::from_utf8_lossy(&out.stderr).contains("Address already in use");
        if !raced || attempt == 4 {
            return out;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    unreachable!("the loop returns")
}

/// Asserts sipp finished with all calls successful, printing its traces otherwise.
pub(crate) fn assert_sipp_ok(server: &Server, out: &Output, what: &str) {
    if out.status.code() != Some(0) {
        let traces: String = std::fs::read_dir(&server.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .filter(|f| {
                f.path().to_string_lossy().ends_with("_errors.log")
                    || f.path().to_string_lossy().ends_with("_messages.log")
            })
            .map(|f| format!("== {}\n{}", f.path().display(), std::fs::read_to_string(f.path()).unwrap_or_default()))
            .collect();
        panic!(
            "{what}: sipp exit {:?}\nstdout:\n{}\nstderr:\n{}\n{traces}\nserver log:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
    }
}

/// Runs a scenario template from tests/sipp after replacing `@KEY@` placeholders.
pub(crate) fn sipp_template(server: &Server, scenario: &str, replacements: &[(&str, &str)], args: &[&str]) -> Output {
    let mut text = std::fs::read_to_string(repo_path(&format!("tests/sipp/{scenario}"))).unwrap();
    for (key, value) in replacements {
        text = text.replace(&format!("@{key}@"), value);
    }
    let name = format!("{}-{}.xml", scenario.trim_end_matches(".xml"), free_port());
    let path = server.dir.join(&name);
    std::fs::write(&path, text).unwrap();
    require_tool("sipp");
    Command::new("timeout")
        .arg("120")
        .arg("sipp")
        .arg(server.sip.to_string())
        .args(["-sf", &path.to_string_lossy()])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-timeout", "60", "-nostdin", "-trace_err"])
        .args(args)
        .current_dir(&server.dir)
        .output()
        .expect("run sipp")
}
