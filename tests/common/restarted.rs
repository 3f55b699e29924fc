//! `voicera serve` started again on a test server's data dir (after the first was killed), on new ports: what
//! a node finds when it comes back. Killed on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, http_get, stop};

/// A node restarted on a kept data dir.
pub(crate) struct Restarted {
    child: Option<Child>,
    /// Its HTTP address.
    pub(crate) http: SocketAddr,
    /// Its SIP address (UDP and TCP).
    pub(crate) sip: SocketAddr,
    log: PathBuf,
}

impl Restarted {
    /// Starts it in `dir` (the first node's `voicera.toml` and `data/`) with `env`, and waits until healthy.
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Restarted {
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let sip = free_port();
        let log = dir.join("server-restarted.log");
        let rtp = 40000 + (std::process::id() % 100) as u16 * 100;
        let child = Command::new(env!("CARGO_BIN_EXE_voicera"))
            .args(["serve", "--config", "voicera.toml", "--data-dir", "data"])
            .args(["--sip", &format!("127.0.0.1:{sip}"), "--http", &http.to_string()])
            .args(["--rtp-ports", &format!("{rtp}-{}", rtp + 99)])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("VOICERA_DEMO_AGENT", "0")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn voicera");
        let sip = SocketAddr::from(([127, 0, 0, 1], sip));
        let restarted = Restarted { child: Some(child), http, sip, log };
        restarted.wait_for("the restarted node to be healthy", Duration::from_secs(30), |r| {
            matches!(http_get(r.http, "/health"), Some((200, _)))
        });
        restarted
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One unlabelled series of its `/metrics`.
    pub(crate) fn metric(&self, name: &str) -> f64 {
        let metrics = http_get(self.http, "/metrics").map(|(_, body)| body).unwrap_or_default();
        super::metric_value(&metrics, name)
    }

    /// Polls `check` until it holds; panics with the log after `timeout`.
    pub(crate) fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&Restarted) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
