//! Acting as a telephony provider: signed webhook requests (Plivo/Vobiz V3, Twilio), computed here
//! independently of the server, and reading the answer documents.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;

use super::Server;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One HTTP/1.1 request; returns (status, body). A body that starts with `{` is declared JSON, any other a form.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    // Providers post forms; the node's own JSON routes refuse any other declared type (CSRF, `src/calls.rs`).
    if body.starts_with('{') {
        request.push_str("Content-Type: application/json\r\n");
    } else if !body.is_empty() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded_serializer();
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn form_urlencoded_serializer() -> form_urlencoded::Serializer<'static, String> {
    form_urlencoded::Serializer::new(String::new())
}

/// Plivo/Vobiz V3 signature, computed here independently of the server (plivo SDK rules).
pub(crate) fn plivo_v3(token: &str, url: &str, pairs: &[(&str, &str)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    q.sort();
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut p: Vec<(&str, &str)> = pairs.to_vec();
    p.sort();
    let post: String = p.iter().map(|(k, v)| format!("{k}{v}")).collect();
    let mut signed = base.to_string();
    signed.push('?');
    signed.push_str(&query.join("&"));
    if !query.is_empty() {
        signed.push('.');
    }
    signed.push_str(&post);
    signed.push('.');
    signed.push_str(nonce);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

pub(crate) fn twilio_sig(token: &str, url: &str, pairs: &[(&str, &str)]) -> String {
    let mut p: Vec<(&str, &str)> = pairs.to_vec();
    p.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in p {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    B64.encode(mac.finalize().into_bytes())
}

/// A signed Vobiz/Plivo answer request; returns (status, body).
pub(crate) fn answer_v3(
    server: &Server,
    header: &str,
    token: &str,
    path: &str,
    pairs: &[(&str, &str)],
    nonce: &str,
) -> (u16, String) {
    let url = format!("http://{}{path}", server.http);
    let sig = plivo_v3(token, &url, pairs, nonce);
    let headers = [(header, sig), (&*format!("{header}-Nonce"), nonce.to_string())];
    let headers: Vec<(&str, String)> = headers.iter().map(|(k, v)| (*k, v.clone())).collect();
    http(server.http, "POST", path, &headers, &form(pairs))
}

/// The stream URL inside an answer document.
pub(crate) fn stream_url(document: &str) -> String {
    if let Ok(json) = serde_json::from_str::<Value>(document) {
        return json["url"].as_str().unwrap().to_string();
    }
    let url = if let Some(i) = document.find("url=\"") {
        let rest = &document[i + 5..];
        rest[..rest.find('"').unwrap()].to_string()
    } else {
        let start = document.find("\">").unwrap() + 2;
        document[start..document.find("</Stream>").unwrap()].trim().to_string()
    };
    url.replace("&amp;", "&")
}

/// A provider's REST API played by the test: answers `count` requests with `reply(request)` and hands back
/// the raw requests.
pub(crate) fn fake_rest(
    count: usize,
    reply: impl Fn(&str) -> (u16, String) + Send + 'static,
) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..count {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length || n == 0 {
                        break;
                    }
                }
            }
            let request = String::from_utf8_lossy(&data).to_string();
            let (status, body) = reply(&request);
            let response =
                format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            stream.write_all(response.as_bytes()).unwrap();
            requests.push(request);
        }
        requests
    });
    (port, handle)
}

/// G.711 μ-law bytes of 16-bit samples (the same table every provider uses).
pub(crate) fn ulaw(pcm: &[i16]) -> Vec<u8> {
    pcm.iter()
        .map(|&s| {
            let sign = if s < 0 { 0x80u8 } else { 0 };
            let mut x = (s as i32).abs().min(32635) + 0x84;
            let mut exponent = 7u8;
            while exponent > 0 && x & 0x4000 == 0 {
                x <<= 1;
                exponent -= 1;
            }
            let mantissa = ((x >> 10) & 0x0f) as u8;
            !(sign | (exponent << 4) | mantissa)
        })
        .collect()
}

/// The 16-bit sample of a G.711 μ-law byte.
pub(crate) fn ulaw_sample(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = (byte >> 4) & 0x07;
    let magnitude = ((((byte & 0x0f) as i32) << 3) + 0x84) << exponent;
    let sample = magnitude - 0x84;
    (if byte & 0x80 != 0 { -sample } else { sample }) as i16
}
