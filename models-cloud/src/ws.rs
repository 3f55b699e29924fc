//! A blocking WebSocket client (`ws://` or `wss://` with rustls and the webpki roots) for the streaming
//! providers, and the mapping of its errors to [`ModelError`]. After the handshake the socket reads with a
//! short timeout, so the stream's thread interleaves sending audio or text with reading answers and notices
//! a dropped stream object within [`POLL`].

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::WebSocket;
use voicera_models::{FailureKind, ModelError};

use crate::http;

/// How long one read waits before the thread looks at its commands and the cancel flag again.
pub const POLL: Duration = Duration::from_millis(10);
/// How long connecting and the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The WebSocket root for an API root: `https://` becomes `wss://`, `http://` `ws://`; a `wss://` or `ws://`
/// root stays as it is.
pub fn ws_root(base_url: &str) -> String {
    if let Some(rest) = base_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base_url.to_string()
    }
}

/// The connection under the WebSocket: plain TCP or TLS.
#[derive(Debug)]
pub enum Conn {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.read(buf),
            Conn::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.write(buf),
            Conn::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.flush(),
            Conn::Tls(tls) => tls.flush(),
        }
    }
}

/// A connected socket.
pub type Socket = WebSocket<Conn>;

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let config =
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Connects to `url` with `headers` (the key goes in one of them, or in the URL where the provider wants it
/// there); `url` is never logged with its query. A refused handshake keeps the provider's status and message.
pub fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Socket, ModelError> {
    connect_within(url, headers, CONNECT_TIMEOUT)
}

/// [`connect`] with `timeout` for the TCP connect, and again for the TLS and WebSocket handshakes (a
/// provider's `timeout_ms`): a server that accepts and then stalls is a [`FailureKind::TimedOut`].
pub fn connect_within(url: &str, headers: &[(&str, &str)], timeout: Duration) -> Result<Socket, ModelError> {
    let shown = url.split('?').next().unwrap_or(url).to_string();
    let unreachable = |message: String| ModelError::new(FailureKind::Unreachable, format!("{shown}: {message}"));
    let mut request = url.into_client_request().map_err(|e| ModelError::new(FailureKind::Rejected, e.to_string()))?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value)
            .map_err(|_| ModelError::new(FailureKind::Rejected, format!("a bad value for header {name}")))?;
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ModelError::new(FailureKind::Rejected, format!("a bad header name {name}")))?;
        request.headers_mut().insert(name, value);
    }
    let uri = request.uri().clone();
    let tls = uri.scheme_str() == Some("wss");
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addresses = (host.as_str(), port).to_socket_addrs().map_err(|e| unreachable(e.to_string()))?;
    let mut last = None;
    let mut tcp = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(err) => last = Some(err),
        }
    }
    let tcp = tcp.ok_or_else(|| match last {
        Some(err) if http::is_timeout(&err) => ModelError::new(FailureKind::TimedOut, format!("{shown}: {err}")),
        Some(err) => unreachable(err.to_string()),
        None => unreachable("no address".into()),
    })?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(timeout)).map_err(|e| unreachable(e.to_string()))?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| unreachable(e.to_string()))?;
    let conn = if tls {
        let config = tls_config().map_err(|e| ModelError::new(FailureKind::Engine, e))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| unreachable(e.to_string()))?;
        let session = rustls::ClientConnection::new(config, name).map_err(|e| unreachable(e.to_string()))?;
        Conn::Tls(Box::new(rustls::StreamOwned::new(session, tcp)))
    } else {
        Conn::Plain(tcp)
    };
    let socket = match tungstenite::client(request, conn) {
        Ok((socket, _response)) => socket,
        Err(HandshakeError::Interrupted(_)) => {
            return Err(ModelError::new(FailureKind::TimedOut, format!("{shown}: no handshake answer")))
        }
        Err(HandshakeError::Failure(err)) => return Err(error(&shown, err)),
    };
    socket.get_ref().tcp().set_read_timeout(Some(POLL)).map_err(|e| unreachable(e.to_string()))?;
    Ok(socket)
}

/// What a WebSocket error means: a refused handshake by its status (with the provider's message from the
/// body), a broken connection, or a protocol violation.
pub fn error(url: &str, err: tungstenite::Error) -> ModelError {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let message = match response.headers().get("dg-error").and_then(|v| v.to_str().ok()) {
                Some(reason) if body.is_empty() => reason.to_string(),
                _ => http::error_message(&body),
            };
            ModelError::new(http::status_kind(status), format!("{url}: HTTP {status}: {message}"))
                .with_retry_after(http::retry_after(status, response.headers()))
        }
        tungstenite::Error::Io(io) if http::is_timeout(&io) => {
            ModelError::new(FailureKind::TimedOut, format!("{url}: {io}"))
        }
        tungstenite::Error::Io(io) => ModelError::new(FailureKind::Unreachable, format!("{url}: {io}")),
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            ModelError::new(FailureKind::Unreachable, format!("{url}: the connection closed"))
        }
        tungstenite::Error::Tls(e) => ModelError::new(FailureKind::Unreachable, format!("{url}: {e}")),
        other => ModelError::new(FailureKind::Malformed, format!("{url}: {other}")),
    }
}

/// A close frame the provider sent: its code and reason as a failure (1008 policy and 1003 unsupported
/// data are refusals, 1013 try-again-later is overload, the rest the provider's failure).
pub fn close_error(url: &str, frame: Option<&tungstenite::protocol::CloseFrame>) -> ModelError {
    match frame {
        Some(frame) => {
            let code = u16::from(frame.code);
            let kind = match code {
                1008 | 1003 | 1007 | 4000..=4099 => FailureKind::Rejected,
                1013 => FailureKind::Overloaded,
                _ => FailureKind::Engine,
            };
            ModelError::new(kind, format!("{url}: closed with {code}: {}", frame.reason))
        }
        None => ModelError::new(FailureKind::Unreachable, format!("{url}: the connection closed")),
    }
}

/// Whether a read error only means no message arrived within [`POLL`].
pub fn is_idle(err: &tungstenite::Error) -> bool {
    matches!(err, tungstenite::Error::Io(io) if http::is_timeout(io))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_refused_upgrade_keeps_the_status_the_message_and_retry_after() {
        let response = tungstenite::http::Response::builder()
            .status(429)
            .header("retry-after", "30")
            .body(Some(br#"{"err_code":"TOO_MANY_REQUESTS","err_msg":"Too many requests"}"#.to_vec()))
            .unwrap();
        let err = error("wss://api.deepgram.com/v1/listen", tungstenite::Error::Http(Box::new(response)));
        assert_eq!(err.kind, FailureKind::Overloaded);
        assert!(err.message.ends_with("HTTP 429: Too many requests"), "{err}");
        assert_eq!(err.retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn an_api_root_becomes_its_websocket_root() {
        assert_eq!(ws_root("https://api.deepgram.com"), "wss://api.deepgram.com");
        assert_eq!(ws_root("http://127.0.0.1:9000/base"), "ws://127.0.0.1:9000/base");
        assert_eq!(ws_root("wss://dhruva-api.bhashini.gov.in"), "wss://dhruva-api.bhashini.gov.in");
    }
}
