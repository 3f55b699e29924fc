//! `[smtp]`: the server the control plane's mail (password-reset links, invitations) goes through. The password
//! stays out of the file: `password_env` names the variable holding it. Port 465 speaks TLS from the first
//! byte; other ports upgrade with STARTTLS (`starttls = true`, the default, and a server that does not offer it
//! gets no mail) or, with `starttls = false`, talk in the clear — allowed only to a relay on this machine.
//! `VOICERA_SMTP_URL` (a URL with the credentials in it) wins over the table. Errors name the key.

use anyhow::{bail, Result};
use serde::Deserialize;
use voicera_api::{SmtpSecurity, SmtpServer};

/// `[smtp]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    host: Option<String>,
    /// Default 587 (465: TLS from the first byte).
    port: Option<i64>,
    username: Option<String>,
    /// The environment variable holding the password.
    password_env: Option<String>,
    /// The `From` header (`VoiceERA <noreply@example.com>`).
    from: Option<String>,
    /// Default true: STARTTLS or no mail; false: clear text, to a loopback relay only.
    starttls: Option<bool>,
}

/// `[smtp]` compiled: the server and the `From` header.
#[derive(Debug, Clone)]
pub(crate) struct SmtpSettings {
    pub(crate) server: SmtpServer,
    pub(crate) from: Option<String>,
}

/// The port `[smtp]` uses when none is given (message submission).
const DEFAULT_PORT: u16 = 587;
/// The port that speaks TLS from the first byte (submissions over TLS).
const IMPLICIT_TLS_PORT: u16 = 465;

fn loopback(host: &str) -> bool {
    host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks `[smtp]` (None when the table is absent); `env` reads the environment.
pub(super) fn compile_smtp(raw: Option<RawSmtp>, env: impl Fn(&str) -> Option<String>) -> Result<Option<SmtpSettings>> {
    let Some(raw) = raw else { return Ok(None) };
    let host = raw.host.as_deref().map(str::trim).unwrap_or_default().to_string();
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        bail!("smtp.host: name the SMTP server (a host name or address, e.g. \"smtp.example.com\")");
    }
    let port = match raw.port {
        None => DEFAULT_PORT,
        Some(port) => match u16::try_from(port) {
            Ok(port) if port > 0 => port,
            _ => bail!("smtp.port: {port} is not a TCP port (1 to 65535; 587 for STARTTLS, 465 for TLS)"),
        },
    };
    let security = match (port, raw.starttls) {
        (IMPLICIT_TLS_PORT, Some(true)) => {
            bail!("smtp.starttls: port 465 speaks TLS from the first byte; leave starttls out, or use port 587")
        }
        (IMPLICIT_TLS_PORT, _) => SmtpSecurity::Implicit,
        (_, None | Some(true)) => SmtpSecurity::RequireStartTls,
        (_, Some(false)) if loopback(&host) => SmtpSecurity::Plain,
        (_, Some(false)) => bail!(
            "smtp.starttls: false sends mail (and the password) in the clear, which is allowed only to a relay on \
             this machine (host 127.0.0.1, ::1 or localhost), not to {host:?}"
        ),
    };
    let username = raw.username.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let password_env = raw.password_env.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let credentials = match (username, password_env) {
        (None, None) => None,
        (Some(user), Some(var)) => match env(&var).filter(|p| !p.is_empty()) {
            Some(password) => Some((user, password)),
            None => bail!("smtp.password_env: the variable {var} is not set (it holds the SMTP password)"),
        },
        (Some(_), None) => {
            bail!("smtp.password_env: username is set, so name the variable holding the password (the password never goes in the file)")
        }
        (None, Some(_)) => bail!("smtp.username: password_env is set; name the user it belongs to"),
    };
    let from = raw.from.map(|f| f.trim().to_string()).filter(|f| !f.is_empty());
    if let Some(from) = &from {
        let address = match (from.rfind('<'), from.rfind('>')) {
            (Some(open), Some(close)) if open < close => &from[open + 1..close],
            _ => from.as_str(),
        };
        if !address.contains('@') || address.contains([' ', '\r', '\n']) {
            bail!("smtp.from: {from:?} is not a sender address (\"noreply@example.com\" or \"Name <noreply@example.com>\")");
        }
    }
    Ok(Some(SmtpSettings { server: SmtpServer { host, port, security, credentials }, from }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> Option<RawSmtp> {
        Some(toml::from_str(toml_text).unwrap())
    }

    fn env(var: &str) -> Option<String> {
        (var == "SMTP_PASS").then(|| "pw-1".to_string())
    }

    fn refused(toml_text: &str) -> String {
        compile_smtp(raw(toml_text), env).unwrap_err().to_string()
    }

    #[test]
    fn smtp_settings_compile_with_starttls_by_default_and_the_password_from_the_environment() {
        assert!(compile_smtp(None, env).unwrap().is_none());
        let s = compile_smtp(raw("host = \"smtp.acme.io\"\nusername = \"bot\"\npassword_env = \"SMTP_PASS\"\nfrom = \"Acme <noreply@acme.io>\""), env)
            .unwrap()
            .unwrap();
        assert_eq!((s.server.port, s.server.security), (587, SmtpSecurity::RequireStartTls));
        assert_eq!(s.server.credentials, Some(("bot".into(), "pw-1".into())));
        assert_eq!(s.from.as_deref(), Some("Acme <noreply@acme.io>"));
        assert!(!format!("{s:?}").contains("pw-1"));
        let s = compile_smtp(raw("host = \"smtp.acme.io\"\nport = 465"), env).unwrap().unwrap();
        assert_eq!(s.server.security, SmtpSecurity::Implicit);
        let s = compile_smtp(raw("host = \"127.0.0.1\"\nport = 2525\nstarttls = false"), env).unwrap().unwrap();
        assert_eq!((s.server.port, s.server.security), (2525, SmtpSecurity::Plain));
    }

    #[test]
    fn bad_smtp_settings_name_the_key() {
        for (text, key) in [
            ("port = 25", "smtp.host"),
            ("host = \"smtp.acme.io\"\nport = 0", "smtp.port"),
            ("host = \"smtp.acme.io\"\nport = 70000", "smtp.port"),
            ("host = \"smtp.acme.io\"\nstarttls = false", "smtp.starttls"),
            ("host = \"smtp.acme.io\"\nport = 465\nstarttls = true", "smtp.starttls"),
            ("host = \"smtp.acme.io\"\nusername = \"bot\"", "smtp.password_env"),
            ("host = \"smtp.acme.io\"\nusername = \"bot\"\npassword_env = \"UNSET_VAR\"", "smtp.password_env"),
            ("host = \"smtp.acme.io\"\npassword_env = \"SMTP_PASS\"", "smtp.username"),
            ("host = \"smtp.acme.io\"\nfrom = \"nobody\"", "smtp.from"),
        ] {
            let err = refused(text);
            assert!(err.starts_with(&format!("{key}: ")), "{text}: {err}");
        }
        assert!(
            refused("host = \"smtp.acme.io\"\nusername = \"bot\"\npassword_env = \"UNSET_VAR\"").contains("UNSET_VAR")
        );
    }
}
