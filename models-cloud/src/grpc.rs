//! gRPC over HTTP/2 for the streaming providers that speak it (Google Speech-to-Text v2): one pooled HTTP/2
//! connection per client (h2 over rustls with ALPN `h2`, or cleartext HTTP/2 with prior knowledge for an
//! `http://` root), each call's stream multiplexed on it, driven by one small tokio runtime on a thread of
//! its own so the call's engine never blocks.
//!
//! The wire format (grpc.io/docs/guides/wire, "gRPC over HTTP2"): a `POST` to `/{package.Service}/{Method}`
//! with `content-type: application/grpc` and `te: trailers`; each message in either direction is a
//! length-prefixed message, one byte compressed-flag (0 here: no `grpc-encoding` is offered) and a 4-byte
//! big-endian length, then the protobuf bytes; the answer ends with trailers carrying `grpc-status` (0 is OK)
//! and a percent-encoded `grpc-message`, or with a trailers-only answer whose headers carry them. The
//! protobuf encoding (protobuf.dev/programming-guides/encoding) is written by hand here for the few
//! messages a provider needs ([`ProtoWriter`], [`ProtoReader`]).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use voicera_models::{FailureKind, ModelError};

/// The largest message taken from a provider (gRPC's own default limit).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The runtime every gRPC connection and stream runs on: current-thread, on the thread `voicera-grpc`,
/// started on first use and kept for the process.
pub fn runtime() -> Result<tokio::runtime::Handle, ModelError> {
    static HANDLE: OnceLock<Result<tokio::runtime::Handle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("voicera-grpc".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|e| format!("cannot start the gRPC thread: {e}"))?;
            Ok(handle)
        })
        .clone()
        .map_err(|message| ModelError::new(FailureKind::Engine, message))
}

/// Where a channel connects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
}

impl Target {
    fn parse(base_url: &str) -> Result<Target, ModelError> {
        let bad = || ModelError::new(FailureKind::Rejected, format!("{base_url:?} is not an http(s):// API root"));
        let (tls, rest) = if let Some(rest) = base_url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = base_url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host.to_string(), port.parse().map_err(|_| bad())?)
            }
            _ => (authority.to_string(), if tls { 443 } else { 80 }),
        };
        Ok(Target { tls, host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port })
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

fn tls_config() -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<std::sync::Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec()];
            Ok(std::sync::Arc::new(config))
        })
        .clone()
}

/// One provider's HTTP/2 connection, opened on first use and again after it breaks; every call's stream
/// shares it.
pub struct GrpcChannel {
    target: Target,
    /// The budget to connect: TCP, TLS, the HTTP/2 preface and a PING answered (`timeout_ms`).
    connect_timeout: Duration,
    connection: tokio::sync::Mutex<Option<SendRequest<Bytes>>>,
}

impl std::fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcChannel")
            .field("origin", &format!("{}://{}", self.target.scheme(), self.target.authority()))
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A call opened on a channel: the answer to come and the request stream to write.
pub type Call = (ResponseFuture, SendStream<Bytes>);

impl GrpcChannel {
    /// A channel to `base_url` (`https://host[:port]` or `http://host:port` for cleartext HTTP/2), connecting
    /// within `connect_timeout`.
    pub fn new(base_url: &str, connect_timeout: Duration) -> Result<GrpcChannel, ModelError> {
        Ok(GrpcChannel { target: Target::parse(base_url)?, connect_timeout, connection: tokio::sync::Mutex::new(None) })
    }

    /// The origin, for messages (`https://speech.googleapis.com`).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.target.scheme(), self.target.authority())
    }

    /// Opens a call to `path` (`/google.cloud.speech.v2.Speech/StreamingRecognize`) with `headers`, on the
    /// pooled connection (made now if there is none or it broke).
    pub async fn open(&self, path: &str, headers: &[(&str, &str)]) -> Result<Call, ModelError> {
        let shown = format!("{}{path}", self.origin());
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}{path}", self.origin()))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("user-agent", concat!("voicera/", env!("CARGO_PKG_VERSION"), " grpc-h2"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(())
            .map_err(|e| ModelError::new(FailureKind::Rejected, format!("{shown}: a bad header: {e}")))?;
        let mut pooled = self.connection.lock().await;
        if let Some(connection) = pooled.as_ref() {
            match connection.clone().ready().await {
                Ok(mut ready) => {
                    return ready.send_request(request, false).map_err(|e| h2_error(&shown, &e));
                }
                Err(_) => *pooled = None, // broken: connect again
            }
        }
        let connection = match tokio::time::timeout(self.connect_timeout, self.connect()).await {
            Ok(connection) => connection?,
            Err(_) => {
                return Err(ModelError::new(
                    FailureKind::TimedOut,
                    format!("{shown}: no HTTP/2 connection within {} ms", self.connect_timeout.as_millis()),
                ))
            }
        };
        *pooled = Some(connection.clone());
        let mut ready = connection.ready().await.map_err(|e| h2_error(&shown, &e))?;
        ready.send_request(request, false).map_err(|e| h2_error(&shown, &e))
    }

    /// TCP, TLS with ALPN `h2`, the HTTP/2 handshake, and a PING round trip: a server that accepts and then
    /// stalls fails here, within the budget.
    async fn connect(&self) -> Result<SendRequest<Bytes>, ModelError> {
        let origin = self.origin();
        let unreachable =
            |e: &dyn std::fmt::Display| ModelError::new(FailureKind::Unreachable, format!("{origin}: {e}"));
        let tcp = tokio::net::TcpStream::connect((self.target.host.as_str(), self.target.port))
            .await
            .map_err(|e| unreachable(&e))?;
        let _ = tcp.set_nodelay(true);
        let mut builder = h2::client::Builder::new();
        builder.initial_window_size(1 << 20).initial_connection_window_size(4 << 20);
        if self.target.tls {
            let config = tls_config().map_err(|e| ModelError::new(FailureKind::Engine, e))?;
            let name =
                rustls::pki_types::ServerName::try_from(self.target.host.clone()).map_err(|e| unreachable(&e))?;
            let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| unreachable(&e))?;
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(unreachable(&"the server does not speak HTTP/2 (ALPN h2 refused)"));
            }
            let (send, mut connection) = builder.handshake::<_, Bytes>(tls).await.map_err(|e| h2_error(&origin, &e))?;
            let ping = connection.ping_pong();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            answer_ping(&origin, ping).await?;
            Ok(send)
        } else {
            let (send, mut connection) = builder.handshake::<_, Bytes>(tcp).await.map_err(|e| h2_error(&origin, &e))?;
            let ping = connection.ping_pong();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            answer_ping(&origin, ping).await?;
            Ok(send)
        }
    }
}

async fn answer_ping(origin: &str, ping: Option<h2::PingPong>) -> Result<(), ModelError> {
    if let Some(mut ping) = ping {
        ping.ping(h2::Ping::opaque()).await.map_err(|e| h2_error(origin, &e))?;
    }
    Ok(())
}

/// What an HTTP/2 failure means for the call.
pub fn h2_error(url: &str, err: &h2::Error) -> ModelError {
    let kind = if err.is_io() {
        FailureKind::Unreachable
    } else {
        match err.reason() {
            Some(h2::Reason::REFUSED_STREAM | h2::Reason::ENHANCE_YOUR_CALM) => FailureKind::Overloaded,
            Some(h2::Reason::CANCEL | h2::Reason::NO_ERROR) => FailureKind::Unreachable,
            Some(h2::Reason::PROTOCOL_ERROR | h2::Reason::FRAME_SIZE_ERROR | h2::Reason::COMPRESSION_ERROR) => {
                FailureKind::Malformed
            }
            _ if err.is_go_away() => FailureKind::Unreachable,
            _ => FailureKind::Engine,
        }
    };
    ModelError::new(kind, format!("{url}: {err}"))
}

/// `message` as a length-prefixed gRPC message (not compressed).
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.freeze()
}

/// Splits the bytes of an answer into its messages, whatever the DATA frames' sizes.
#[derive(Debug, Default)]
pub struct GrpcDecoder {
    buffer: BytesMut,
}

impl GrpcDecoder {
    /// More bytes of the answer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, if one is in; a compressed message (none was offered) or one over
    /// [`MAX_MESSAGE`] is an error.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, ModelError> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        let compressed = self.buffer[0];
        let length = u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]) as usize;
        if compressed != 0 {
            return Err(ModelError::new(FailureKind::Malformed, "a compressed gRPC message (none was offered)"));
        }
        if length > MAX_MESSAGE {
            return Err(ModelError::new(FailureKind::Malformed, format!("a gRPC message of {length} bytes")));
        }
        if self.buffer.len() < 5 + length {
            return Ok(None);
        }
        self.buffer.advance(5);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }

    /// Bytes of a message begun but not finished (an answer that ends here was cut).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// The failure a `grpc-status` other than 0 (OK) stands for, with the provider's `grpc-message`; `None` for
/// OK or no status in `headers`.
pub fn status_error(url: &str, headers: &http::HeaderMap) -> Option<ModelError> {
    let code: u32 = headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    if code == 0 {
        return None;
    }
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok()).map(percent_decode).unwrap_or_default();
    let (kind, name) = match code {
        1 => (FailureKind::Unreachable, "CANCELLED"),
        3 => (FailureKind::Rejected, "INVALID_ARGUMENT"),
        4 => (FailureKind::TimedOut, "DEADLINE_EXCEEDED"),
        5 => (FailureKind::Rejected, "NOT_FOUND"),
        7 => (FailureKind::Rejected, "PERMISSION_DENIED"),
        8 => (FailureKind::Overloaded, "RESOURCE_EXHAUSTED"),
        9 => (FailureKind::Rejected, "FAILED_PRECONDITION"),
        11 => (FailureKind::Rejected, "OUT_OF_RANGE"),
        12 => (FailureKind::Unsupported, "UNIMPLEMENTED"),
        14 => (FailureKind::Overloaded, "UNAVAILABLE"),
        16 => (FailureKind::Rejected, "UNAUTHENTICATED"),
        _ => (FailureKind::Engine, "error"),
    };
    Some(ModelError::new(kind, format!("{url}: gRPC {code} {name}: {message}")))
}

/// The status code in `headers`, if any.
pub fn status_code(headers: &http::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// `grpc-message` is percent-encoded UTF-8.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes protobuf fields (proto3: default values are left out by the caller).
#[derive(Debug, Default)]
pub struct ProtoWriter {
    bytes: Vec<u8>,
}

impl ProtoWriter {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    /// A varint field (int32, enum, bool).
    pub fn uint(&mut self, field: u32, value: u64) -> &mut Self {
        self.key(field, 0);
        self.varint(value);
        self
    }

    /// A length-delimited field: bytes, a string or an embedded message.
    pub fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    /// A string field.
    pub fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    /// The encoded message.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// One field of a protobuf message as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProtoValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: bytes, a string, an embedded message or a packed repeated field.
    Bytes(&'a [u8]),
    /// Wire type 5 (a float's bits).
    Fixed32(u32),
}

/// Reads the fields of a protobuf message in order; unknown fields are for the caller to skip.
#[derive(Debug)]
pub struct ProtoReader<'a> {
    data: &'a [u8],
}

impl<'a> ProtoReader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn malformed(what: &str) -> ModelError {
        ModelError::new(FailureKind::Malformed, format!("a protobuf message with {what}"))
    }

    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.data.split_first().ok_or_else(|| Self::malformed("a cut varint"))?;
            self.data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Self::malformed("a varint over 64 bits"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.data.len() < n {
            return Err(Self::malformed("a cut field"));
        }
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(taken)
    }

    /// The next field number and value, `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, ProtoValue<'a>)>, ModelError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| Self::malformed("a field number over 32 bits"))?;
        let value = match key & 7 {
            0 => ProtoValue::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                ProtoValue::Fixed64(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            2 => {
                let length = usize::try_from(self.varint()?).map_err(|_| Self::malformed("a huge length"))?;
                ProtoValue::Bytes(self.take(length)?)
            }
            5 => {
                let b = self.take(4)?;
                ProtoValue::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            other => return Err(Self::malformed(&format!("wire type {other}"))),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_data_frames_come_out_whole() {
        let mut decoder = GrpcDecoder::default();
        let mut wire = frame(b"hello").to_vec();
        wire.extend_from_slice(&frame(b""));
        wire.extend_from_slice(&frame(&[7u8; 300]));
        for piece in wire.chunks(3) {
            decoder.push(piece);
        }
        assert_eq!(decoder.next_message().unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(decoder.next_message().unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(decoder.next_message().unwrap().map(|m| m.len()), Some(300));
        assert_eq!(decoder.next_message().unwrap(), None);
        assert_eq!(decoder.pending(), 0);
        decoder.push(&[1, 0, 0, 0, 1, 9]);
        assert_eq!(decoder.next_message().unwrap_err().kind, FailureKind::Malformed);
    }

    #[test]
    fn a_status_keeps_the_providers_message_and_its_kind() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert!(status_error("u", &headers).is_none());
        headers.insert("grpc-status", http::HeaderValue::from_static("16"));
        headers.insert(
            "grpc-message",
            http::HeaderValue::from_static("API%20key%20not%20valid.%20Please%20pass%20a%20valid%20API%20key."),
        );
        let err = status_error("https://speech.googleapis.com", &headers).unwrap();
        assert_eq!(err.kind, FailureKind::Rejected);
        assert!(
            err.message.ends_with("gRPC 16 UNAUTHENTICATED: API key not valid. Please pass a valid API key."),
            "{err}"
        );
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
        assert_eq!(status_error("u", &headers).unwrap().kind, FailureKind::Overloaded);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn protobuf_fields_round_trip() {
        let inner = ProtoWriter::default().string(1, "नमस्ते").uint(2, 1).finish();
        let outer = ProtoWriter::default().uint(3, 300).bytes(6, &inner).finish();
        let mut reader = ProtoReader::new(&outer);
        assert_eq!(reader.next_field().unwrap(), Some((3, ProtoValue::Varint(300))));
        let Some((6, ProtoValue::Bytes(bytes))) = reader.next_field().unwrap() else { panic!("no message") };
        assert_eq!(reader.next_field().unwrap(), None);
        let mut reader = ProtoReader::new(bytes);
        assert_eq!(reader.next_field().unwrap(), Some((1, ProtoValue::Bytes("नमस्ते".as_bytes()))));
        assert_eq!(reader.next_field().unwrap(), Some((2, ProtoValue::Varint(1))));
        assert_eq!(ProtoReader::new(&[0x0a, 0x05, 1]).next_field().unwrap_err().kind, FailureKind::Malformed);
        assert_eq!(Target::parse("http://127.0.0.1:5000").unwrap().authority(), "127.0.0.1:5000");
        assert_eq!(Target::parse("https://speech.googleapis.com/").unwrap().authority(), "speech.googleapis.com");
    }
}
