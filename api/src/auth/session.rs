//! The console's cookie session. A login (or refresh) that asks for it gets `__Host-voicera_session` (HttpOnly,
//! `Secure` and `__Host-`-named when the public URL is https, SameSite=Lax, Path=/): `<family id>.<secret>`,
//! naming the login's refresh-token family, which stores the secret's hash. So the cookie is revoked with the
//! family (logout, reuse detection, a password reset, removal from the org) and needs no other storage.
//!
//! CSRF: a cookie rides along on cross-site requests, so a cookie-authenticated unsafe request (POST, PUT,
//! PATCH, DELETE) must also carry `X-CSRF-Token`: the keyed tag of the family id ([`TokenKey::tag`]), handed
//! to the console in the login answer (`csrf_token`) and in the readable cookie `__Host-voicera_csrf`. A
//! cross-site page can neither read it nor compute it.

use axum::http::{header, HeaderMap, HeaderValue, Method};

use super::token::TokenKey;
use super::{same, secret_hash};
use crate::state::ApiConfig;

/// The session cookie's name on an https console (the `__Host-` prefix pins it to this host, `Path=/`, Secure).
pub const SESSION_COOKIE: &str = "__Host-voicera_session";
/// The CSRF cookie's name on an https console (readable by the console's scripts).
pub const CSRF_COOKIE: &str = "__Host-voicera_csrf";
/// The header a cookie-authenticated unsafe request repeats the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSRF_PURPOSE: &str = "voicera console csrf v1";

/// The session cookie's name: browsers accept `__Host-` cookies only with `Secure`, which needs https; a
/// plain-http console (a lab, localhost) gets the same cookie without the prefix.
pub fn session_cookie_name(config: &ApiConfig) -> &'static str {
    if config.secure_cookies() {
        SESSION_COOKIE
    } else {
        "voicera_session"
    }
}

/// The CSRF cookie's name (see [`session_cookie_name`]).
pub fn csrf_cookie_name(config: &ApiConfig) -> &'static str {
    if config.secure_cookies() {
        CSRF_COOKIE
    } else {
        "voicera_csrf"
    }
}

/// The cookie's text from a family id and its cookie secret.
pub fn cookie_value(family_id: &str, secret: &str) -> String {
    format!("{family_id}.{secret}")
}

/// A session cookie's value split into family id and secret.
pub fn parse(value: &str) -> Option<(&str, &str)> {
    let (family, secret) = value.split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok(family) && ok(secret)).then_some((family, secret))
}

/// Whether `secret` is the family's cookie secret (`stored` is its hash).
pub fn matches(stored: &str, secret: &str) -> bool {
    same(stored, &secret_hash(secret))
}

/// The CSRF token of the session whose family is `family_id`.
pub fn csrf_token(key: &TokenKey, family_id: &str) -> String {
    key.tag(CSRF_PURPOSE, family_id)
}

/// Methods that change something: a cookie-authenticated request with one of them needs the CSRF header.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Whether the request's `X-CSRF-Token` is the session's token.
pub fn csrf_ok(key: &TokenKey, family_id: &str, headers: &HeaderMap) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| same(given.trim(), &csrf_token(key, family_id)))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// The `Set-Cookie` values that start a session: the HttpOnly session cookie and the readable CSRF cookie,
/// both living `max_age_secs`.
pub fn set_cookies(config: &ApiConfig, value: &str, csrf: &str, max_age_secs: u64) -> [HeaderValue; 2] {
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    let session = format!(
        "{}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}",
        session_cookie_name(config)
    );
    let csrf = format!("{}={csrf}; Path=/; Max-Age={max_age_secs}; SameSite=Lax{secure}", csrf_cookie_name(config));
    [header_value(session), header_value(csrf)]
}

/// The `Set-Cookie` values that end a session (both cookies expired).
pub fn clear_cookies(config: &ApiConfig) -> [HeaderValue; 2] {
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    [
        header_value(format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}", session_cookie_name(config))),
        header_value(format!("{}=; Path=/; Max-Age=0; SameSite=Lax{secure}", csrf_cookie_name(config))),
    ]
}

fn header_value(text: String) -> HeaderValue {
    // Cookie values here are base64url and hex: always valid header text.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https() -> ApiConfig {
        ApiConfig { public_url: Some("https://Console.Acme.io/app/".into()), ..ApiConfig::default() }
    }

    #[test]
    fn cookies_are_host_only_secure_and_httponly_on_https() {
        let [session, csrf] = set_cookies(&https(), "fam.sec", "tok", 60);
        assert_eq!(session, "__Host-voicera_session=fam.sec; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(csrf, "__Host-voicera_csrf=tok; Path=/; Max-Age=60; SameSite=Lax; Secure");
        let plain = ApiConfig { public_url: Some("http://127.0.0.1:8080".into()), ..ApiConfig::default() };
        let [session, _] = set_cookies(&plain, "fam.sec", "tok", 60);
        assert_eq!(session, "voicera_session=fam.sec; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
        let [cleared, _] = clear_cookies(&https());
        assert!(cleared.to_str().unwrap().starts_with("__Host-voicera_session=; Path=/; Max-Age=0"));
    }

    #[test]
    fn cookies_are_found_among_others_and_values_parse() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-voicera_session=f1.s2 ; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("f1.s2"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "voicera_session"), None);
        assert_eq!(parse("f1.s2"), Some(("f1", "s2")));
        for bad in ["", ".", "f1.", ".s2", "f1 s2", "f1.s2;x"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_csrf_token_is_bound_to_the_session_and_the_key() {
        let key = TokenKey::new([3; 32]);
        let mut headers = HeaderMap::new();
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&csrf_token(&key, "fam1")).unwrap());
        assert!(csrf_ok(&key, "fam1", &headers));
        assert!(!csrf_ok(&key, "fam2", &headers));
        assert!(!csrf_ok(&TokenKey::new([4; 32]), "fam1", &headers));
        assert!(!csrf_ok(&key, "fam1", &HeaderMap::new()));
        assert!(is_unsafe(&Method::POST) && is_unsafe(&Method::DELETE) && !is_unsafe(&Method::GET));
    }

    #[test]
    fn the_public_origin_is_scheme_and_host() {
        assert_eq!(https().public_origin().as_deref(), Some("https://console.acme.io"));
        let with_port = ApiConfig { public_url: Some("https://acme.io:443".into()), ..ApiConfig::default() };
        assert_eq!(with_port.public_origin().as_deref(), Some("https://acme.io"));
        let odd_port = ApiConfig { public_url: Some("http://10.0.0.5:9100/".into()), ..ApiConfig::default() };
        assert_eq!(odd_port.public_origin().as_deref(), Some("http://10.0.0.5:9100"));
        assert_eq!(ApiConfig::default().public_origin(), None);
        assert!(https().secure_cookies() && !odd_port.secure_cookies());
    }
}
