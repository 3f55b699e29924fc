//! A webhook receiver on loopback that accepts every delivery (200), and the signature check the README
//! tells receivers to make. (tests/webhooks.rs has its own receiver that fails on purpose to test retries.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One delivery: its `Voicera-*` headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) event: String,
    pub(crate) delivery_id: String,
    pub(crate) signature: String,
    pub(crate) body: Vec<u8>,
}

impl Delivery {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Accepts every request with 200 and keeps it.
pub(crate) struct AcceptingReceiver {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Delivery>>>,
}

impl AcceptingReceiver {
    pub(crate) fn start() -> AcceptingReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || accept(stream, &shared));
            }
        });
        AcceptingReceiver { addr, received }
    }

    pub(crate) fn received(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }
}

fn accept(mut stream: TcpStream, received: &Mutex<Vec<Delivery>>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < head_end + length {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    received.lock().unwrap().push(Delivery {
        event: header("voicera-event"),
        delivery_id: header("voicera-delivery"),
        signature: header("voicera-signature"),
        body: data[head_end..].to_vec(),
    });
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// Verifies a `Voicera-Signature` header (`t=<unix secs>,v1=<hex HMAC-SHA256 of "t.body">`, at most 5 minutes
/// old) as the README tells receivers to.
pub(crate) fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if t.parse::<u64>().map_or(true, |t| now.abs_diff(t) > 300) {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}
