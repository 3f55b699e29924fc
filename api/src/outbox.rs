//! Where the control plane's mail goes (password-reset links, invitations): an [`Outbox`]. With an SMTP server
//! (`[smtp]` host, port, ... in voicera.toml, or `VOICERA_SMTP_URL`), [`SmtpOutbox`] hands each message to it; otherwise [`FileOutbox`] writes it
//! as an RFC 5322 file, `<data dir>/outbox/<time>-<id>.eml`, which operators (and tests) read. Either way the
//! secrets in a message never appear in an HTTP answer.
//!
//! The SMTP client is deliberately small: one message per connection, `EHLO`, STARTTLS when the server offers
//! it (`smtp://`; required with `[smtp] starttls = true`) or TLS from the start (`smtps://`, port 465), `AUTH
//! PLAIN` when credentials are set (never over a clear connection except to a loopback relay),
//! `MAIL`/`RCPT`/`DATA`, `QUIT`.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// One message to one recipient, plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line (any Unicode; encoded for the header).
    pub subject: String,
    /// The text, with `\n` line ends.
    pub body: String,
    /// When it was written (Unix ms), for the `Date` header: the API's clock, so tests see their virtual time.
    pub sent_at_millis: i64,
}

/// Why a message could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The file outbox could not write.
    #[error("writing {path}: {source}")]
    File {
        /// The file being written.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The SMTP URL is not one this client takes.
    #[error("the SMTP URL: {0}")]
    Url(String),
    /// The connection failed or broke.
    #[error("SMTP connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server refused a step (the reply is kept for the log).
    #[error("the SMTP server refused {step}: {reply}")]
    Refused {
        /// What was being done (`RCPT TO`, `AUTH`, ...).
        step: &'static str,
        /// The server's reply.
        reply: String,
    },
    /// TLS could not be set up.
    #[error("SMTP TLS: {0}")]
    Tls(String),
    /// The server did not finish within the time allowed.
    #[error("the SMTP server did not answer in time")]
    Timeout,
}

/// A boxed future, so an outbox can sit behind `dyn`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), OutboxError>> + Send + 'a>>;

/// Delivers the control plane's mail.
pub trait Outbox: Send + Sync + 'static {
    /// Sends `mail`, returning once it is handed over (written, or accepted by the SMTP server).
    fn send<'a>(&'a self, mail: &'a Mail) -> SendFuture<'a>;
}

/// The `From` used when none is configured.
pub const DEFAULT_FROM: &str = "VoiceERA <noreply@voicera.invalid>";

/// Encodes a header value that is not plain ASCII as an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    if text.is_ascii() && !text.contains(['\r', '\n']) {
        text.to_string()
    } else {
        format!("=?utf-8?b?{}?=", STANDARD.encode(text.replace(['\r', '\n'], " ")))
    }
}

/// The address inside `Name <address>`, or the text itself.
fn bare_address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from.trim(),
    }
}

/// `mail` as an RFC 5322 message with CRLF line ends: ASCII bodies as 7bit text, others as base64.
pub fn render(mail: &Mail, from: &str, message_id: &str) -> String {
    let date = httpdate(mail.sent_at_millis);
    let domain = bare_address(from).rsplit('@').next().unwrap_or("voicera.invalid");
    let mut text = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{message_id}@{domain}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        mail.to,
        header_text(&mail.subject)
    );
    if mail.body.is_ascii() {
        text.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in mail.body.lines() {
            text.push_str(line);
            text.push_str("\r\n");
        }
    } else {
        text.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = STANDARD.encode(mail.body.replace('\n', "\r\n"));
        for chunk in encoded.as_bytes().chunks(76) {
            text.push_str(&String::from_utf8_lossy(chunk));
            text.push_str("\r\n");
        }
    }
    text
}

/// RFC 5322 date-time in UTC (`Tue, 19 Nov 2024 07:06:40 +0000`) from Unix ms.
fn httpdate(unix_millis: i64) -> String {
    let secs = unix_millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!("{weekday}, {day:02} {month_name} {year} {h:02}:{m:02}:{s:02} +0000")
}

/// Writes each message to `<dir>/<unix ms, 13 digits>-<sequence>.eml` (written to a `.tmp` name first, then
/// renamed, so a reader never sees half a message). File names sort in the order messages were sent.
#[derive(Debug)]
pub struct FileOutbox {
    dir: PathBuf,
    from: String,
    sequence: AtomicU64,
}

impl FileOutbox {
    /// An outbox writing into `dir` (created on first use), messages from `from`.
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> FileOutbox {
        FileOutbox { dir: dir.into(), from: from.into(), sequence: AtomicU64::new(0) }
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Outbox for FileOutbox {
    fn send<'a>(&'a self, mail: &'a Mail) -> SendFuture<'a> {
        Box::pin(async move {
            let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
            let name = format!("{:013}-{sequence:06}-{}", mail.sent_at_millis.max(0), std::process::id());
            let text = render(mail, &self.from, &name);
            let path = self.dir.join(format!("{name}.eml"));
            let temporary = self.dir.join(format!(".{name}.tmp"));
            let failed = |source| OutboxError::File { path: path.display().to_string(), source };
            tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
            tokio::fs::write(&temporary, text).await.map_err(failed)?;
            tokio::fs::rename(&temporary, &path).await.map_err(failed)?;
            tracing::info!(to = %mail.to, path = %path.display(), "mail written to the outbox");
            Ok(())
        })
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// STARTTLS when the server offers it (`smtp://` URLs).
    StartTls,
    /// STARTTLS or nothing: a server that does not offer it gets no message (`[smtp] starttls = true`).
    RequireStartTls,
    /// No TLS at all, for a relay on this machine (`[smtp] starttls = false` to a loopback host).
    Plain,
}

use SmtpSecurity as Security;

/// An SMTP server named by its parts (`[smtp]` in voicera.toml) rather than by a URL.
#[derive(Clone)]
pub struct SmtpServer {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is protected.
    pub security: SmtpSecurity,
    /// `AUTH PLAIN` user and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

/// The password never reaches a log line.
impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

/// Hands messages to an SMTP server (`smtp://[user:password@]host[:port]`, port 25 by default, STARTTLS when
/// offered; `smtps://...`, port 465, TLS from the start).
pub struct SmtpOutbox {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    from: String,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpOutbox")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

/// Decodes `%XX` escapes of a URL's user or password.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SmtpOutbox {
    /// An outbox for the server at `url`, sending as `from` (`Name <address>` or an address).
    pub fn new(url: &str, from: impl Into<String>) -> Result<SmtpOutbox, OutboxError> {
        let bad =
            |why: &str| OutboxError::Url(format!("{why} (expected smtp://[user:password@]host[:port] or smtps://...)"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => (Security::StartTls, 25),
            "smtps" => (Security::Implicit, 465),
            _ => return Err(bad("unknown scheme")),
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let credentials = userinfo.map(|u| match u.split_once(':') {
            Some((user, password)) => (percent_decoded(user), percent_decoded(password)),
            None => (percent_decoded(u), String::new()),
        });
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (host.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None => default_port,
        };
        Ok(SmtpOutbox {
            host,
            port,
            security,
            credentials,
            from: from.into(),
            tls: web_roots()?,
            timeout: Duration::from_secs(30),
        })
    }

    /// An outbox for `server` (named by its parts), sending as `from`.
    pub fn to_server(server: SmtpServer, from: impl Into<String>) -> Result<SmtpOutbox, OutboxError> {
        if server.host.is_empty() {
            return Err(OutboxError::Url("no host".into()));
        }
        Ok(SmtpOutbox {
            host: server.host,
            port: server.port,
            security: server.security,
            credentials: server.credentials,
            from: from.into(),
            tls: web_roots()?,
            timeout: Duration::from_secs(30),
        })
    }

    /// The same outbox verifying the server's certificate with `tls` instead of the public web roots (a
    /// private relay with its own CA; tests).
    pub fn trusting(mut self, tls: Arc<rustls::ClientConfig>) -> SmtpOutbox {
        self.tls = tls;
        self
    }

    fn loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    async fn deliver(&self, mail: &Mail) -> Result<(), OutboxError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let mut conn = match self.security {
            Security::Implicit => Conn::new(Box::new(self.tls_over(tcp).await?)),
            Security::StartTls | Security::RequireStartTls | Security::Plain => Conn::new(Box::new(tcp)),
        };
        conn.expect("the greeting", 220).await?;
        let hello = format!("EHLO {}\r\n", hello_name(&self.from));
        let mut extensions = conn.command(&hello, "EHLO", 250).await?;
        let mut secure = self.security == Security::Implicit;
        let offered = offers(&extensions, "STARTTLS");
        if self.security == Security::RequireStartTls && !offered {
            return Err(OutboxError::Tls(format!(
                "{} does not offer STARTTLS, which [smtp] starttls = true requires",
                self.host
            )));
        }
        if !secure && self.security != Security::Plain && offered {
            conn.command("STARTTLS\r\n", "STARTTLS", 220).await?;
            let plain = conn.into_plain().ok_or_else(|| OutboxError::Tls("STARTTLS on a TLS stream".into()))?;
            conn = Conn::new(Box::new(self.tls_over(plain).await?));
            extensions = conn.command(&hello, "EHLO", 250).await?;
            secure = true;
        }
        if let Some((user, password)) = &self.credentials {
            if !secure && !self.loopback() {
                return Err(OutboxError::Tls(format!(
                    "{} offers no STARTTLS; refusing to send the password in the clear (use smtps://)",
                    self.host
                )));
            }
            if !offers(&extensions, "AUTH") {
                return Err(OutboxError::Refused { step: "AUTH", reply: "the server does not offer AUTH".into() });
            }
            let token = STANDARD.encode(format!("\0{user}\0{password}"));
            conn.command(&format!("AUTH PLAIN {token}\r\n"), "AUTH", 235).await?;
        }
        let sender = bare_address(&self.from).to_string();
        conn.command(&format!("MAIL FROM:<{sender}>\r\n"), "MAIL FROM", 250).await?;
        conn.command(&format!("RCPT TO:<{}>\r\n", bare_address(&mail.to)), "RCPT TO", 250).await?;
        conn.command("DATA\r\n", "DATA", 354).await?;
        let message = render(mail, &self.from, &format!("{}.{}", mail.sent_at_millis, std::process::id()));
        conn.write(&dot_stuffed(&message)).await?;
        conn.command(".\r\n", "the message", 250).await?;
        // The message is accepted; a failed QUIT changes nothing.
        let _ = conn.command("QUIT\r\n", "QUIT", 221).await;
        tracing::info!(to = %mail.to, server = %self.host, "mail handed to the SMTP server");
        Ok(())
    }

    async fn tls_over(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, OutboxError> {
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|_| OutboxError::Tls(format!("{:?} is not a server name", self.host)))?;
        tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
            .connect(name, tcp)
            .await
            .map_err(|e| OutboxError::Tls(e.to_string()))
    }
}

impl Outbox for SmtpOutbox {
    fn send<'a>(&'a self, mail: &'a Mail) -> SendFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.deliver(mail)).await.map_err(|_| OutboxError::Timeout)?
        })
    }
}

/// A TLS client trusting the public web roots.
fn web_roots() -> Result<Arc<rustls::ClientConfig>, OutboxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| OutboxError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// The name given in `EHLO`: the sender address's domain.
fn hello_name(from: &str) -> String {
    bare_address(from).rsplit('@').next().filter(|d| !d.is_empty()).unwrap_or("localhost").to_string()
}

/// Whether an `EHLO` reply lists `extension` (its lines are `250-NAME args`).
fn offers(reply: &str, extension: &str) -> bool {
    reply.lines().skip(1).any(|line| {
        let name = line.get(4..).unwrap_or_default().split_whitespace().next().unwrap_or_default();
        name.eq_ignore_ascii_case(extension)
    })
}

/// The message with lines starting with `.` doubled (RFC 5321 §4.5.2), ending in CRLF.
fn dot_stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    for line in message.split("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    // `split` yields an empty last piece after the final CRLF.
    out.truncate(out.len() - 2);
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::any::Any {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// One SMTP conversation: commands out, replies (possibly multi-line) in.
struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(io: Box<dyn Io>) -> Conn {
        Conn { io, buf: Vec::new() }
    }

    /// The plain TCP stream again, for STARTTLS (nothing is buffered: the server waits after its 220).
    fn into_plain(self) -> Option<TcpStream> {
        self.io.into_any().downcast::<TcpStream>().ok().map(|b| *b)
    }

    async fn write(&mut self, text: &str) -> Result<(), OutboxError> {
        self.io.write_all(text.as_bytes()).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Reads one reply (all its lines) and checks its code.
    async fn expect(&mut self, step: &'static str, code: u16) -> Result<String, OutboxError> {
        let mut reply = String::new();
        loop {
            let line = self.line().await?;
            reply.push_str(&line);
            reply.push('\n');
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let got: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
                return if got == Some(code) {
                    Ok(reply)
                } else {
                    Err(OutboxError::Refused { step, reply: reply.trim_end().to_string() })
                };
            }
        }
    }

    async fn command(&mut self, text: &str, step: &'static str, code: u16) -> Result<String, OutboxError> {
        self.write(text).await?;
        self.expect(step, code).await
    }

    async fn line(&mut self) -> Result<String, OutboxError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(OutboxError::Refused { step: "a reply", reply: "a reply line over 64 KiB".into() });
            }
            let mut chunk = [0u8; 1024];
            let n = self.io.read(&mut chunk).await?;
            if n == 0 {
                return Err(OutboxError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the SMTP server closed the connection",
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    fn mail(body: &str) -> Mail {
        Mail {
            to: "asha@acme.io".into(),
            subject: "Reset your VoiceERA password".into(),
            body: body.into(),
            sent_at_millis: 1_732_000_000_000,
        }
    }

    #[test]
    fn messages_render_with_headers_dates_and_encodings() {
        let text = render(&mail("line one\n.dot line\n"), "VoiceERA <noreply@acme.io>", "m1");
        assert!(text.starts_with("From: VoiceERA <noreply@acme.io>\r\nTo: asha@acme.io\r\n"), "{text}");
        assert!(text.contains("Date: Tue, 19 Nov 2024 07:06:40 +0000\r\n"), "{text}");
        assert!(text.contains("Message-ID: <m1@acme.io>\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nline one\r\n.dot line\r\n"), "{text}");
        let unicode = Mail { subject: "नमस्ते".into(), ..mail("नमस्ते\n") };
        let text = render(&unicode, DEFAULT_FROM, "m2");
        assert!(text.contains(&format!("Subject: =?utf-8?b?{}?=\r\n", STANDARD.encode("नमस्ते"))), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\n"), "{text}");
        assert_eq!(dot_stuffed("a\r\n.b\r\n"), "a\r\n..b\r\n");
        assert_eq!(httpdate(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(httpdate(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn smtp_urls_parse_and_bad_ones_are_refused() {
        let o = SmtpOutbox::new("smtp://relay.acme.io", DEFAULT_FROM).unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.security, o.credentials.clone()),
            ("relay.acme.io", 25, Security::StartTls, None)
        );
        let o = SmtpOutbox::new("smtps://me%40acme.io:p%3Ass@mail.acme.io", DEFAULT_FROM).unwrap();
        assert_eq!((o.port, o.security), (465, Security::Implicit));
        assert_eq!(o.credentials, Some(("me@acme.io".into(), "p:ss".into())));
        assert!(!format!("{o:?}").contains("p:ss"));
        let o = SmtpOutbox::new("smtp://[::1]:2525", DEFAULT_FROM).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 2525));
        for bad in ["relay.acme.io", "http://relay", "smtp://", "smtp://host:port"] {
            assert!(SmtpOutbox::new(bad, DEFAULT_FROM).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_file_outbox_writes_one_eml_per_message_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = FileOutbox::new(dir.path().join("outbox"), DEFAULT_FROM);
        outbox.send(&mail("first\n")).await.unwrap();
        outbox.send(&mail("second\n")).await.unwrap();
        let mut names: Vec<String> = std::fs::read_dir(outbox.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(".eml") && n.starts_with("1732000000000-")), "{names:?}");
        let second = std::fs::read_to_string(outbox.dir().join(&names[1])).unwrap();
        assert!(second.contains("To: asha@acme.io\r\n") && second.ends_with("\r\n\r\nsecond\r\n"), "{second}");
    }

    /// A loopback SMTP server that accepts one message and returns the conversation it saw.
    async fn fake_server(offer_auth: bool) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut seen = Vec::new();
            write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line.clone());
                let reply: &[u8] = if in_data {
                    if line == "." {
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        continue;
                    }
                } else if line.starts_with("EHLO") {
                    if offer_auth {
                        b"250-fake\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n"
                    } else {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    }
                } else if line.starts_with("AUTH PLAIN") {
                    b"235 ok\r\n"
                } else if line == "DATA" {
                    in_data = true;
                    b"354 go on\r\n"
                } else if line.starts_with("RCPT TO:<nobody@") {
                    b"550 no such user\r\n"
                } else if line == "QUIT" {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                write.write_all(reply).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    #[tokio::test]
    async fn smtp_delivers_with_auth_and_dot_stuffing_to_a_loopback_server() {
        let (port, server) = fake_server(true).await;
        let outbox = SmtpOutbox::new(&format!("smtp://bot:pw@127.0.0.1:{port}"), "VoiceERA <noreply@acme.io>").unwrap();
        outbox.send(&mail("hello\n.hidden\n")).await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!(seen[0], "EHLO acme.io");
        assert_eq!(seen[1], format!("AUTH PLAIN {}", STANDARD.encode("\0bot\0pw")));
        assert_eq!(seen[2..5], ["MAIL FROM:<noreply@acme.io>", "RCPT TO:<asha@acme.io>", "DATA"]);
        assert!(seen.contains(&"..hidden".to_string()), "{seen:?}");
        assert_eq!(seen[seen.len() - 2..], [".", "QUIT"]);
    }

    /// A TLS server identity for 127.0.0.1 and a client configuration trusting it.
    fn tls_pair() -> (tokio_rustls::TlsAcceptor, Arc<rustls::ClientConfig>) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (tokio_rustls::TlsAcceptor::from(Arc::new(server)), Arc::new(client))
    }

    /// Answers SMTP commands on `stream` until QUIT (or STARTTLS, which it reports), recording what it saw.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        stream: S,
        greet: bool,
        offer_tls: bool,
        seen: &mut Vec<String>,
    ) -> (S, bool) {
        let mut stream = BufReader::new(stream);
        if greet {
            stream.get_mut().write_all(b"220 fake ESMTP\r\n").await.unwrap();
        }
        let mut in_data = false;
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await.unwrap() == 0 {
                return (stream.into_inner(), false);
            }
            let line = line.trim_end().to_string();
            seen.push(line.clone());
            let reply: &[u8] = if in_data {
                if line != "." {
                    continue;
                }
                in_data = false;
                b"250 queued\r\n"
            } else if line.starts_with("EHLO") && offer_tls {
                b"250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"
            } else if line.starts_with("EHLO") {
                b"250-fake\r\n250 AUTH PLAIN\r\n"
            } else if line == "STARTTLS" {
                stream.get_mut().write_all(b"220 go ahead\r\n").await.unwrap();
                return (stream.into_inner(), true);
            } else if line.starts_with("AUTH") {
                b"235 ok\r\n"
            } else if line == "DATA" {
                in_data = true;
                b"354 go on\r\n"
            } else if line == "QUIT" {
                stream.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                return (stream.into_inner(), false);
            } else {
                b"250 ok\r\n"
            };
            stream.get_mut().write_all(reply).await.unwrap();
        }
    }

    #[tokio::test]
    async fn smtp_upgrades_with_starttls_before_authenticating_and_smtps_starts_in_tls() {
        let (acceptor, client) = tls_pair();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = acceptor.clone();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (mut clear, mut secure) = (Vec::new(), Vec::new());
            let (socket, upgrade) = converse(socket, true, true, &mut clear).await;
            assert!(upgrade, "{clear:?}");
            let stream = tls.accept(socket).await.unwrap();
            converse(stream, false, false, &mut secure).await;
            (clear, secure)
        });
        let outbox = SmtpOutbox::new(&format!("smtp://bot:pw@127.0.0.1:{port}"), DEFAULT_FROM)
            .unwrap()
            .trusting(Arc::clone(&client));
        outbox.send(&mail("over tls\n")).await.unwrap();
        let (clear, secure) = server.await.unwrap();
        assert_eq!(clear, ["EHLO voicera.invalid", "STARTTLS"], "nothing secret before TLS");
        assert!(secure[0].starts_with("EHLO") && secure[1].starts_with("AUTH PLAIN"), "{secure:?}");
        assert!(secure.contains(&"over tls".to_string()), "{secure:?}");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let stream = acceptor.accept(socket).await.unwrap();
            let mut seen = Vec::new();
            converse(stream, true, false, &mut seen).await;
            seen
        });
        let outbox =
            SmtpOutbox::new(&format!("smtps://bot:pw@127.0.0.1:{port}"), DEFAULT_FROM).unwrap().trusting(client);
        outbox.send(&mail("implicit\n")).await.unwrap();
        let seen = server.await.unwrap();
        assert!(seen[1].starts_with("AUTH PLAIN") && seen.contains(&"implicit".to_string()), "{seen:?}");
        // A server whose certificate the client does not trust gets nothing.
        let (acceptor, _) = tls_pair();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let _ = acceptor.accept(socket).await;
        });
        let outbox = SmtpOutbox::new(&format!("smtps://bot:pw@127.0.0.1:{port}"), DEFAULT_FROM).unwrap();
        assert!(matches!(outbox.send(&mail("x\n")).await, Err(OutboxError::Tls(_))));
    }

    #[tokio::test]
    async fn required_starttls_sends_nothing_without_it_and_plain_never_upgrades() {
        let (port, server) = fake_server(true).await;
        let required = SmtpServer {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::RequireStartTls,
            credentials: Some(("bot".into(), "pw".into())),
        };
        let outbox = SmtpOutbox::to_server(required.clone(), DEFAULT_FROM).unwrap();
        let refused = outbox.send(&mail("x\n")).await.unwrap_err();
        assert!(matches!(&refused, OutboxError::Tls(m) if m.contains("STARTTLS")), "{refused}");
        server.abort();
        let (acceptor, _) = tls_pair();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            // Offers STARTTLS; a plain client must not take it.
            let (_, upgraded) = converse(socket, true, true, &mut seen).await;
            drop(acceptor);
            (seen, upgraded)
        });
        let plain = SmtpServer { port, security: SmtpSecurity::Plain, ..required };
        assert!(format!("{plain:?}").contains("bot") && !format!("{plain:?}").contains("pw"));
        SmtpOutbox::to_server(plain, DEFAULT_FROM).unwrap().send(&mail("plain\n")).await.unwrap();
        let (seen, upgraded) = server.await.unwrap();
        assert!(!upgraded && seen.iter().any(|l| l.starts_with("AUTH PLAIN")) && seen.contains(&"plain".to_string()));
    }

    #[tokio::test]
    async fn smtp_reports_a_refused_recipient_and_missing_auth() {
        let (port, _server) = fake_server(false).await;
        let outbox = SmtpOutbox::new(&format!("smtp://127.0.0.1:{port}"), DEFAULT_FROM).unwrap();
        let refused = outbox.send(&Mail { to: "nobody@acme.io".into(), ..mail("x\n") }).await.unwrap_err();
        assert!(
            matches!(&refused, OutboxError::Refused { step: "RCPT TO", reply } if reply.starts_with("550")),
            "{refused}"
        );
        let (port, _server) = fake_server(false).await;
        let outbox = SmtpOutbox::new(&format!("smtp://u:p@127.0.0.1:{port}"), DEFAULT_FROM).unwrap();
        let refused = outbox.send(&mail("x\n")).await.unwrap_err();
        assert!(matches!(refused, OutboxError::Refused { step: "AUTH", .. }), "{refused}");
    }
}
