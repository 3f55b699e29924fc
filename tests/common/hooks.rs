//! A webhook receiver on loopback that answers each delivery by a policy the test chooses (accept every one,
//! or fail on purpose to test retries), and the signature check the README tells receivers to make.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got: its headers (lower-cased names), body and what it answered.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
    /// What the receiver answered: a status, or None when it kept silent past the sender's timeout.
    pub(crate) answered: Option<u16>,
}

impl Delivery {
    /// A header's value ("" when absent); the name in any case.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str).unwrap_or_default()
    }

    pub(crate) fn event(&self) -> &str {
        self.header("voicera-event")
    }

    pub(crate) fn delivery_id(&self) -> &str {
        self.header("voicera-delivery")
    }

    pub(crate) fn signature(&self) -> &str {
        self.header("voicera-signature")
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// How the receiver answers a request, given the request and how many earlier requests carried the same
/// delivery id: a status, or None to keep silent for 4 s (past the sender's timeout) and hang up.
pub(crate) type AnswerPolicy = fn(&Delivery, usize) -> Option<u16>;

/// A webhook receiver on loopback that keeps every request it gets.
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    /// A receiver that accepts every request with 200.
    pub(crate) fn accepting() -> Receiver {
        Receiver::start(|_, _| Some(200))
    }

    /// A receiver answering by `policy`.
    pub(crate) fn start(policy: AnswerPolicy) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared, policy));
            }
        });
        Receiver { addr, received }
    }

    pub(crate) fn received(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// Requests of one delivery, in order.
    pub(crate) fn attempts(&self, delivery: &str) -> Vec<Delivery> {
        self.received().into_iter().filter(|r| r.delivery_id() == delivery).collect()
    }

    /// The requests answered 200.
    pub(crate) fn accepted(&self) -> Vec<Delivery> {
        self.received().into_iter().filter(|r| r.answered == Some(200)).collect()
    }
}

fn serve(mut stream: TcpStream, received: &Mutex<Vec<Delivery>>, policy: AnswerPolicy) {
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
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while data.len() < head_end + length {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let mut delivery = Delivery { headers, body: data[head_end..].to_vec(), answered: None };
    let answered = {
        let mut received = received.lock().unwrap();
        let earlier = received.iter().filter(|r| r.delivery_id() == delivery.delivery_id()).count();
        delivery.answered = policy(&delivery, earlier);
        received.push(delivery.clone());
        delivery.answered
    };
    match answered {
        Some(status) => {
            let reason = match status {
                200 => "OK",
                410 => "Gone",
                _ => "Internal Server Error",
            };
            let text = format!("receiver says {status}");
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        None => std::thread::sleep(Duration::from_secs(4)),
    }
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
