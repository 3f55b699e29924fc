//! A real headless Chromium driven over WebDriver (chromedriver), with a fake microphone that plays a WAV
//! file: what the browser test page and the console are tested with.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{free_port, require_tool};

/// One Chromium session; the driver and browser stop on drop.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Starts headless Chromium whose microphone plays `microphone_wav` once (then silence).
    pub(crate) fn start(microphone_wav: &Path) -> Browser {
        Browser::start_with(microphone_wav, &[])
    }

    /// [`Browser::start`] with more Chromium arguments (e.g. `--window-size=1280,900`); the browser's console
    /// log is kept for [`Browser::console_log`].
    pub(crate) fn start_with(microphone_wav: &Path, extra_args: &[&str]) -> Browser {
        require_tool("chromium");
        require_tool("chromedriver");
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-audio-capture={}%noloop", microphone_wav.display()),
            "--autoplay-policy=no-user-gesture-required".into(),
            // WebRTC on loopback only: gather the loopback host candidate, no mDNS names.
            "--allow-loopback-in-peer-connection".into(),
            "--disable-features=WebRtcHideLocalIpsWithMdns".into(),
        ];
        let args: Vec<String> = args.into_iter().chain(extra_args.iter().map(|a| a.to_string())).collect();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut browser = Browser { driver, base, session: String::new() };
        let created = browser.post("/session", capabilities);
        browser.session = created["sessionId"].as_str().expect("a WebDriver session").to_string();
        browser
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .content_type("application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let text = response.body_mut().read_to_string().expect("WebDriver answers");
        let value: Value = serde_json::from_str(&text).expect("WebDriver answers JSON");
        assert!(value["value"].get("error").is_none(), "WebDriver {path}: {value}");
        value["value"].clone()
    }

    pub(crate) fn open(&self, server: SocketAddr, path: &str) {
        self.post(&format!("/session/{}/url", self.session), json!({"url": format!("http://{server}{path}")}));
    }

    /// Runs `script` (a function body; `arguments` as given) in the page and returns its value.
    pub(crate) fn run(&self, script: &str, args: Value) -> Value {
        self.post(&format!("/session/{}/execute/sync", self.session), json!({"script": script, "args": args}))
    }

    /// Polls `script` until it returns something truthy, or fails with `what` after `timeout`.
    pub(crate) fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.run(script, json!([]));
            if !(value.is_null() || value == json!(false) || value == json!("") || value == json!([])) {
                return value;
            }
            if Instant::now() > deadline {
                let state = self.run("return document.body.innerText", json!([]));
                panic!("{what}: not within {timeout:?}; page shows:\n{state}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let text = response.body_mut().with_config().limit(64 << 20).read_to_string().expect("WebDriver answers");
        let value: Value = serde_json::from_str(&text).expect("WebDriver answers JSON");
        assert!(value["value"].get("error").is_none(), "WebDriver {path}: {value}");
        value["value"].clone()
    }

    /// The first element matching `css`, waiting up to `timeout` for it to exist.
    pub(crate) fn element(&self, css: &str, timeout: Duration) -> String {
        let found = self.wait_for(
            &format!("an element {css}"),
            timeout,
            &format!("return document.querySelector({}) !== null", json!(css)),
        );
        assert_eq!(found, json!(true));
        let element =
            self.post(&format!("/session/{}/element", self.session), json!({"using": "css selector", "value": css}));
        element[ELEMENT].as_str().expect("an element reference").to_string()
    }

    /// Clicks the element matching `css` as a user would (it must be visible and not covered).
    pub(crate) fn click(&self, css: &str) {
        let id = self.element(css, Duration::from_secs(10));
        self.post(&format!("/session/{}/element/{id}/click", self.session), json!({}));
    }

    /// Clears the field matching `css` and types `text` into it, key by key.
    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css, Duration::from_secs(10));
        self.post(&format!("/session/{}/element/{id}/clear", self.session), json!({}));
        self.post(&format!("/session/{}/element/{id}/value", self.session), json!({"text": text}));
    }

    /// Resizes the window (CSS pixels of the outer window).
    pub(crate) fn resize(&self, width: u32, height: u32) {
        self.post(&format!("/session/{}/window/rect", self.session), json!({"width": width, "height": height}));
    }

    /// Saves a PNG of the viewport to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let encoded = self.get(&format!("/session/{}/screenshot", self.session));
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 screenshot"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// The browser console's entries since the last call (`level`, `source`, `message`): script errors, failed
    /// loads, `console.*` output. Needs a browser from [`Browser::start_with`] or [`Browser::start`].
    pub(crate) fn console_log(&self) -> Vec<Value> {
        let entries = self.post(&format!("/session/{}/se/log", self.session), json!({"type": "browser"}));
        entries.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Speech for the fake microphone: `lead_secs` of silence (the greeting plays), then espeak-ng saying
/// `text`, as a 16-bit mono WAV at 16 kHz.
pub(crate) fn speech_wav(dir: &Path, text: &str, lead_secs: f32) -> std::path::PathBuf {
    require_tool("espeak-ng");
    require_tool("sox");
    let out = dir.join("microphone.wav");
    super::espeak_wav(text, &dir.join("spoken.wav"), &out, (16000, 1), (lead_secs, 3.0));
    out
}
