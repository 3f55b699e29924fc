//! TLS configuration for SIP over TLS (RFC 3261 §26.2, RFC 5630): the server side from PEM certificate and key
//! files, the client side that verifies trunks against the public web PKI and, for private trunks, extra CA files.
//!
//! The crypto provider is named explicitly (ring) rather than taken from rustls' process-wide default, so the
//! configuration does not depend on which other crates in the binary enabled which provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{RootCertStore, ServerConfig};

/// The client side's configuration, as [`client_config`] builds it: named here so that holders (a trunk's own
/// trust) need no direct rustls dependency.
pub use rustls::ClientConfig;

/// Why a TLS configuration or a server name could not be built. Variants name the file involved, so a start-up
/// error tells the operator which setting to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read or holds no PEM item of the expected kind.
    #[error("cannot read PEM {what} from {path}: {reason}")]
    Pem {
        /// What was looked for (`private key`, `CA certificate`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// PEM text given in memory holds no item of the expected kind.
    #[error("no PEM {what} in the given text: {reason}")]
    PemText {
        /// What was looked for (`private key`, `CA certificate`, ...).
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate, key or protocol set (e.g. a key that does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rejected(String),
    /// Not a DNS name or IP address a certificate could be checked against.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemFiles {
    /// The leaf certificate first, then intermediates.
    pub cert: PathBuf,
    /// The private key of the leaf certificate.
    pub key: PathBuf,
}

/// How outgoing TLS connections (to trunks, `sips:` targets) verify the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// Trust Mozilla's root store (compiled in, so it works in minimal containers without a CA bundle). Turn off
    /// to trust only `ca_files`, e.g. for a private trunk whose certificates a public CA never signed.
    pub webpki_roots: bool,
    /// Extra trusted CA certificates (PEM, any number per file).
    pub ca_files: Vec<PathBuf>,
    /// Our certificate for trunks that require mutual TLS.
    pub client_identity: Option<PemFiles>,
}

impl Default for TlsClientOptions {
    fn default() -> Self {
        TlsClientOptions { webpki_roots: true, ca_files: Vec::new(), client_identity: None }
    }
}

/// Server configuration from a certificate chain file and a private key file (PKCS#8, PKCS#1 or SEC1 PEM).
pub fn server_config(files: &PemFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certs_from_file(&files.cert)?;
    let key = key_from_file(&files.key)?;
    server_config_from_der(certs, key)
}

/// Server configuration from PEM text held in memory (certificates from a store, tests).
pub fn server_config_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certs_from_text(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|err| TlsError::PemText { what: "private key", reason: err.to_string() })?;
    server_config_from_der(certs, key)
}

fn server_config_from_der(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(rejected)?;
    Ok(Arc::new(config))
}

/// Client configuration for outgoing connections.
pub fn client_config(options: &TlsClientOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    if options.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in &options.ca_files {
        add_roots(&mut roots, certs_from_file(path)?, Some(path))?;
    }
    let identity = match &options.client_identity {
        Some(files) => Some((certs_from_file(&files.cert)?, key_from_file(&files.key)?)),
        None => None,
    };
    client_config_from_roots(roots, identity)
}

/// Client configuration that trusts exactly the CA certificates in `ca_pem` (PEM text): private trunks whose CA
/// comes from a store rather than a file, and tests.
pub fn client_config_trusting_pem(ca_pem: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    add_roots(&mut roots, certs_from_text(ca_pem)?, None)?;
    client_config_from_roots(roots, None)
}

fn client_config_from_roots(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_root_certificates(roots);
    let config = match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(rejected)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name a server certificate must carry: a DNS name (`sip.trunk.example`) or an IP address literal (brackets
/// around IPv6 are accepted, as in SIP URIs).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn rejected(err: rustls::Error) -> TlsError {
    TlsError::Rejected(err.to_string())
}

fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    path: Option<&Path>,
) -> Result<(), TlsError> {
    for cert in certs {
        roots.add(cert).map_err(|err| match path {
            Some(path) => TlsError::Pem { what: "CA certificate", path: path.to_path_buf(), reason: err.to_string() },
            None => TlsError::PemText { what: "CA certificate", reason: err.to_string() },
        })?;
    }
    Ok(())
}

fn certs_from_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::Pem { what: "certificate", path: path.to_path_buf(), reason };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| fail(err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| fail(err.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn certs_from_text(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::PemText { what: "certificate", reason };
    let certs =
        CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|err| fail(err.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn key_from_file(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| TlsError::Pem {
        what: "private key",
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_accept_dns_names_and_ip_literals() {
        assert!(matches!(server_name("sip.trunk.example"), Ok(ServerName::DnsName(_))));
        assert!(matches!(server_name("192.0.2.7"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[2001:db8::1]"), Ok(ServerName::IpAddress(_))));
        assert_eq!(server_name("bad name"), Err(TlsError::ServerName("bad name".into())));
    }

    #[test]
    fn missing_files_name_the_path() {
        let files = PemFiles { cert: "/nonexistent/cert.pem".into(), key: "/nonexistent/key.pem".into() };
        match server_config(&files) {
            Err(TlsError::Pem { what: "certificate", path, .. }) => assert_eq!(path, files.cert),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn text_without_certificates_is_refused() {
        assert!(matches!(client_config_trusting_pem(b"not pem"), Err(TlsError::PemText { .. })));
    }

    #[test]
    fn default_client_trusts_the_public_roots() {
        assert!(client_config(&TlsClientOptions::default()).is_ok());
    }
}
