//! The web console (`web/console/`): a dependency-free single-page app (plain ES modules and CSS) embedded in
//! the binary and served at `/` and `/assets/...`. It talks only to the `/api/v1` API; the browser-call module
//! of `/call-test` is served again as `/assets/voicera-call.js` so that the console imports the same code.
//!
//! Every asset is in one static table with its content type and an ETag computed at compile time, so a
//! browser revalidates with `If-None-Match` and gets a 304 without a body. Browsers that accept gzip get the
//! asset compressed (once, on first use) with `Content-Encoding: gzip`, its own ETag and `Vary: Accept-Encoding`. The console's own paths (`/agents`,
//! `/calls/{id}`, ...) answer `index.html` and the client routes them; they are listed explicitly rather than
//! taken as a fallback, so an unknown path elsewhere (API, streams, webhooks) still answers that router's 404.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    /// Its path under `/` (`index.html`, `assets/app.js`).
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// FNV-1a of the body: the ETag.
    hash: u64,
}

/// FNV-1a 64, usable in constants: the ETag of an embedded file, fixed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $file:expr, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $file)),
            hash: fnv1a(include_bytes!(concat!("../web/", $file))),
        }
    };
    ($path:literal, $type:expr) => {
        asset!($path, concat!("console/", $path), $type)
    };
}

/// Everything the console is made of.
static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("assets/boot.js", JS),
    asset!("assets/app.js", JS),
    asset!("assets/api.js", JS),
    asset!("assets/ui.js", JS),
    asset!("assets/charts.js", JS),
    asset!("assets/style.css", CSS),
    asset!("assets/favicon.svg", SVG),
    asset!("assets/pages/auth.js", JS),
    asset!("assets/pages/agents.js", JS),
    asset!("assets/pages/wizard.js", JS),
    asset!("assets/pages/talk.js", JS),
    asset!("assets/pages/calls.js", JS),
    asset!("assets/pages/live.js", JS),
    asset!("assets/pages/numbers.js", JS),
    asset!("assets/pages/campaigns.js", JS),
    asset!("assets/pages/webhooks.js", JS),
    asset!("assets/pages/knowledge.js", JS),
    asset!("assets/pages/integrations.js", JS),
    asset!("assets/pages/members.js", JS),
    asset!("assets/pages/analytics.js", JS),
    asset!("assets/pages/system.js", JS),
    asset!("assets/voicera-call.js", "call-test/voicera-call.js", JS),
];

/// The console's own paths: each answers `index.html` and the client shows the page. `{*rest}` entries take
/// every path below them (an agent's id, a call's id, an invite token).
const PAGES: &[&str] = &[
    "/signin",
    "/signup",
    "/forgot-password",
    "/reset-password",
    "/invite/{*rest}",
    "/add-member/{*rest}",
    "/agents",
    "/agents/{*rest}",
    "/assistants",
    "/assistants/{*rest}",
    "/calls",
    "/calls/{*rest}",
    "/history",
    "/live",
    "/numbers",
    "/campaigns",
    "/webhooks",
    "/knowledge",
    "/integrations",
    "/members",
    "/analytics",
    "/system",
];

/// Scripts and styles only from this node; the call module's audio worklet is a blob; media and sockets to
/// this node. Nothing from elsewhere, ever.
const CSP: &str = "default-src 'self'; script-src 'self' blob:; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes, to merge into the node's router.
pub(crate) fn router() -> Router {
    let mut router = Router::new().route("/", get(index)).route("/assets/{*path}", get(asset_at));
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn etag(asset: &Asset) -> String {
    format!("\"{:016x}\"", asset.hash)
}

/// Whether the browser's `If-None-Match` already names this version.
fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        },
    )
}

/// Each asset gzip-compressed (`None` where that saves nothing), made once on the first request: ~250 KB of
/// text costs a few milliseconds once, and every later load sends a quarter of the bytes.
fn gzipped(index: usize) -> Option<&'static [u8]> {
    static GZIPPED: std::sync::OnceLock<Vec<Option<Vec<u8>>>> = std::sync::OnceLock::new();
    let all = GZIPPED.get_or_init(|| ASSETS.iter().map(|asset| gzip(asset.body)).collect());
    all.get(index).and_then(|g| g.as_deref())
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < body.len()).then_some(compressed)
}

/// Whether the browser takes gzip (`Accept-Encoding: gzip` or `*`, without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
            });
            (coding == "gzip" || coding == "x-gzip" || coding == "*") && !refused
        },
    )
}

fn respond(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let index = ASSETS.iter().position(|a| std::ptr::eq(a, asset)).unwrap_or(usize::MAX);
    let compressed = gzipped(index).filter(|_| accepts_gzip(headers));
    // Each encoding is its own representation, with its own tag.
    let etag = match compressed {
        Some(_) => format!("\"{:016x}-gz\"", asset.hash),
        None => etag(asset),
    };
    // File names carry no version: browsers revalidate every time, which costs a 304 on loopback or a LAN.
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::VARY, HeaderValue::from_static("Accept-Encoding")),
    ];
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    if fresh(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, common, [(header::ETAG, etag_value)]).into_response();
    }
    let content_type = (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    match compressed {
        Some(body) => (
            common,
            [(header::ETAG, etag_value), content_type, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
            body,
        )
            .into_response(),
        None => (common, [(header::ETAG, etag_value), content_type], asset.body).into_response(),
    }
}

async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => respond(asset, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn asset_at(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match find(&format!("assets/{path}")) {
        Some(asset) => respond(asset, &headers),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such asset\n")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_with_its_type_and_scripts_stay_small() {
        assert!(find("index.html").is_some_and(|a| a.content_type.starts_with("text/html")));
        assert!(find("assets/voicera-call.js").is_some_and(|a| a.content_type.starts_with("text/javascript")));
        assert!(find("assets/../index.html").is_none());
        let script: usize = ASSETS.iter().filter(|a| a.content_type == JS).map(|a| a.body.len()).sum();
        assert!(script < 200 * 1024, "the console's scripts are {script} bytes; the budget is 200 KB");
        let mut paths: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len(), "each asset once");
    }

    #[test]
    fn etags_change_with_content_and_if_none_match_is_honoured() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        let asset = find("assets/app.js").unwrap();
        let tag = etag(asset);
        let mut headers = HeaderMap::new();
        assert!(!fresh(&headers, &tag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap());
        assert!(fresh(&headers, &tag));
        let response = respond(asset, &headers);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = respond(asset, &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::ETAG], tag.as_str());
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
    }

    #[test]
    fn assets_go_gzipped_to_browsers_that_take_it_with_their_own_etag() {
        use std::io::Read;
        let asset = find("assets/app.js").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br"));
        let response = respond(asset, &headers);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::VARY], "Accept-Encoding");
        let tag = response.headers()[header::ETAG].to_str().unwrap().to_string();
        assert!(tag.ends_with("-gz\""), "{tag}");
        let compressed = gzipped(ASSETS.iter().position(|a| a.path == "assets/app.js").unwrap()).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(compressed).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, asset.body);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(respond(asset, &headers).status(), StatusCode::NOT_MODIFIED);
        // Refused, or not offered: the plain bytes.
        for refusal in ["gzip;q=0", "identity", ""] {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(refusal));
            let response = respond(asset, &headers);
            assert!(response.headers().get(header::CONTENT_ENCODING).is_none(), "{refusal}");
            assert_eq!(response.headers()[header::ETAG], etag(asset).as_str());
        }
    }

    #[test]
    fn page_paths_do_not_shadow_the_api_streams_or_calls() {
        for page in PAGES {
            for taken in ["/api", "/browser", "/telephony", "/agent/", "/call-test", "/health", "/metrics", "/answer"] {
                assert!(!page.starts_with(taken), "{page} would shadow {taken}");
            }
        }
    }
}
