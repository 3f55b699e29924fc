//! The web console in a real headless Chromium, through its UI: sign in as the owner, see the node's agents,
//! create an agent with the wizard (an API refusal shown at its field on its step), edit it, talk to an agent
//! in the browser with a fake microphone and see the live transcript, open the calls page and export it,
//! visit every page (each shows its data, or says plainly that this node does not serve its API route yet),
//! light and dark, at phone width, sign out; follow a call on the Live page as it is said and hang it up from
//! there, and read the node on the System page. No page may log a JavaScript error. A screenshot of every page
//! goes to `<target>/console-screenshots/`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use common::api::OWNER;
use common::browser::Browser;
use common::Server;
use serde_json::{json, Value};

const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// One raw HTTP/1.1 GET; returns (status, headers in lower case, body).
fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").unwrap();
    // Bytes, not text: a gzip body is not UTF-8 (its head still is).
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("console-screenshots")
}

/// The console in one browser, with what every page must satisfy.
struct Console<'a> {
    server: &'a Server,
    browser: Browser,
}

impl Console<'_> {
    /// Waits until the page at `route` has rendered.
    fn ready(&self, route: &str) {
        self.browser.wait_for(
            &format!("the page {route}"),
            PAGE_TIMEOUT,
            &format!(
                "const d = document.documentElement.dataset; return d.route === {} && d.state === 'ready'",
                json!(route)
            ),
        );
    }

    /// Goes to `route` by the sidebar's link, as a user does.
    fn nav(&self, route: &str) {
        self.browser.click(&format!("nav.sidebar a[href='{route}']"));
        self.ready(route);
    }

    /// Fails on any JavaScript error the page recorded or the browser logged. Failed requests the console
    /// answered in words (a 401 before sign-in, a route this node lacks) are the network's log lines, not
    /// script errors.
    fn no_errors(&self, what: &str) {
        let recorded = self.browser.run("return window.__consoleErrors || []", json!([]));
        assert_eq!(recorded, json!([]), "{what}: JavaScript errors on the page");
        let logged: Vec<Value> = self
            .browser
            .console_log()
            .into_iter()
            .filter(|e| e["level"] == "SEVERE" && e["source"] != "network")
            .collect();
        assert!(logged.is_empty(), "{what}: the browser logged errors: {logged:?}");
    }

    fn shot(&self, name: &str) {
        self.browser.screenshot(&screenshots().join(format!("{name}.png")));
    }

    fn text(&self, css: &str) -> String {
        let value = self
            .browser
            .run("const el = document.querySelector(arguments[0]); return el ? el.innerText : null", json!([css]));
        value.as_str().unwrap_or_default().to_string()
    }

    /// The state of the page's first section under `scope`: its data (`data-state` absent) or `empty` /
    /// `unavailable`; and no error box anywhere.
    fn section_state(&self, scope: &str) -> String {
        let errors = self.text("main .notice.error");
        assert!(errors.is_empty(), "{}: an error is shown: {errors}", self.route());
        let state = self.browser.run(
            "const el = document.querySelector(arguments[0] + ' [data-state]'); return el ? el.dataset.state : 'data'",
            json!([scope]),
        );
        state.as_str().unwrap().to_string()
    }

    fn route(&self) -> String {
        self.browser.run("return document.documentElement.dataset.route", json!([])).as_str().unwrap().to_string()
    }

    fn log(&self) -> String {
        self.server.log()
    }
}

/// Puts one finished call into the node's call history (SQLite, as the node stores it), the way a call record
/// would arrive: the API has no route that writes call logs, and the console only reads them. A stored
/// recording only when the node serves recordings is not needed: without the route, the page must say so.
fn seed_call(server: &Server, with_recording: bool) -> &'static str {
    let org = sqlite(server, "SELECT org_id FROM users LIMIT 1");
    assert!(!org.is_empty(), "the owner's org exists");
    let mut doc = json!({
        "meeting_id": "call-seeded-1", "agent_type": "Front Desk", "agent_id": "front_desk", "org_id": org,
        "inbound": true, "from_number": "+919876543210", "to_number": "+918000000123",
        "created_at": "2026-01-05T10:00:00.000Z", "start_time_utc": "2026-01-05T10:00:00.000Z",
        "end_time_utc": "2026-01-05T10:01:05.000Z", "call_busy": false, "duration": 65,
        "transport": "sip", "end_reason": "caller hung up",
        "transcript_content": "[2026-01-05T10:00:01Z] assistant: Hello, Acme front desk.\n\
            [2026-01-05T10:00:05Z] user: When do you open?\n[2026-01-05T10:00:07Z] assistant: We open at nine.",
        "latency_metrics": {"turns": [
            {"turn_index": 1, "stt_ms": 180, "llm_ttfb_ms": 420, "tts_first_chunk_ms": 150}
        ]},
    });
    if with_recording {
        doc["recording_url"] = json!("recordings/call-seeded-1.wav");
    }
    let text = doc.to_string().replace('\'', "''");
    sqlite(
        server,
        &format!("INSERT INTO call_logs (org_id, id, doc, updated_at) VALUES ('{org}', 'call-seeded-1', '{text}', 0)"),
    );
    "call-seeded-1"
}

/// The node's OpenAPI document.
fn openapi(server: &Server) -> Value {
    let (status, _, body) = get(server.http, "/api/v1/openapi.json", "");
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

/// The API operations this node serves, from its OpenAPI document: which pages must show data and which
/// must say their route is not available.
fn operations(server: &Server) -> Vec<String> {
    let document = openapi(server);
    let mut found = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            found.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    found
}

#[test]
fn the_console_serves_its_assets_with_types_etags_and_client_routes() {
    let server = Server::start_env("console-assets", "", false, &OWNER);
    let (status, head, body) = get(server.http, "/", "");
    assert_eq!(status, 200);
    assert!(header(&head, "content-type").is_some_and(|t| t.starts_with("text/html")), "{head}");
    assert!(body.contains("/assets/app.js") && body.contains("/assets/boot.js"), "{body}");
    assert!(header(&head, "content-security-policy").is_some_and(|p| p.contains("default-src 'self'")));
    // Console paths answer the page; the client routes them.
    for path in ["/agents", "/agents/new", "/calls/some-call-id", "/signin", "/invite/abc", "/system"] {
        let (status, _, page) = get(server.http, path, "");
        assert_eq!((status, page == body), (200, true), "{path}");
    }
    let (status, head, script) = get(server.http, "/assets/app.js", "");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(header(&head, "cache-control"), Some("no-cache"));
    assert!(script.contains("ROUTES"));
    let etag = header(&head, "etag").expect("an ETag").to_string();
    let (status, _, body) = get(server.http, "/assets/app.js", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.as_str()), (304, ""), "revalidation without a body");
    // Browsers that take gzip get it, with their own ETag; the representation varies by Accept-Encoding.
    let (status, head, _) = get(server.http, "/assets/app.js", "Accept-Encoding: gzip, br\r\n");
    assert_eq!((status, header(&head, "content-encoding")), (200, Some("gzip")), "{head}");
    assert_eq!(header(&head, "vary"), Some("accept-encoding"));
    assert_ne!(header(&head, "etag"), Some(etag.as_str()));
    let (status, head, _) = get(server.http, "/assets/style.css", "");
    assert_eq!((status, header(&head, "content-type")), (200, Some("text/css; charset=utf-8")));
    // The call module the console imports is the /call-test one.
    let (_, _, console_module) = get(server.http, "/assets/voicera-call.js", "");
    let (_, _, call_test_module) = get(server.http, "/call-test/voicera-call.js", "");
    assert!(console_module.contains("class VoiceraCall") && console_module == call_test_module);
    // Not console paths: unknown assets, and the API's own 404 in the API's shape.
    assert_eq!(get(server.http, "/assets/nope.js", "").0, 404);
    let (status, _, body) = get(server.http, "/api/v1/no-such-route", "");
    assert_eq!(status, 404);
    assert!(body.contains("\"code\""), "{body}");
    assert_eq!(get(server.http, "/not-a-console-page", "").0, 404);
}

#[test]
fn the_owner_runs_the_console_in_chromium_and_no_page_logs_an_error() {
    let server = Server::start_env("console-ui", "[bench]\nrecord = true\n", false, &OWNER);
    let ops = operations(&server);
    let serves = |op: &str| ops.iter().any(|o| o == op);
    let recordings_served = serves("GET /api/v1/meetings/{meeting_id}/recording");
    let seeded = seed_call(&server, !recordings_served);
    let wav = common::browser::speech_wav(&server.dir, "Hello, what time is it?", 1.5);
    let browser = Browser::start_with(&wav, &["--window-size=1280,900"]);
    let ui = Console { server: &server, browser };

    // Signed out, any page leads to sign-in; a wrong password is refused in place, in words.
    ui.browser.open(server.http, "/calls");
    ui.ready("/signin");
    let paint = ui.browser.run(
        "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null",
        json!([]),
    );
    eprintln!("first contentful paint of the sign-in page: {paint} ms");
    assert!(paint.as_f64().is_some_and(|ms| ms < 1000.0), "first paint {paint} ms (target 300 ms on loopback)");
    assert_eq!(ui.browser.run("return location.search", json!([])), json!("?next=%2Fcalls"));
    ui.shot("signin");
    ui.browser.type_into("input[name=email]", OWNER[0].1);
    ui.browser.type_into("input[name=password]", "not-the-password");
    ui.browser.click("#sign-in");
    let refused =
        ui.browser.wait_for("the refusal", PAGE_TIMEOUT, "return document.querySelector('.form-message').innerText");
    assert!(refused.as_str().unwrap().contains("Error"), "{refused}");
    ui.no_errors("sign-in refused");
    ui.browser.type_into("input[name=password]", OWNER[1].1);
    ui.browser.click("#sign-in");
    ui.ready("/calls");
    assert_eq!(ui.text("#role"), "owner");
    // A cookie session where the login offers one (then nothing secret is kept in the page), else bearer.
    let login = &openapi(&server)["paths"]["/api/v1/users/login"]["post"]["requestBody"]["content"];
    let cookies = login["application/json"]["schema"]["properties"].get("session_cookie").is_some();
    let kept = ui.browser.run("return JSON.parse(sessionStorage.getItem('voicera.session'))", json!([]));
    eprintln!("session kept by the console: mode {}", kept["mode"]);
    if cookies {
        assert_eq!(kept["mode"], "cookie", "{kept}");
        assert!(kept.get("access_token").is_none() && kept["refresh_token"].is_null(), "{kept}");
    } else {
        assert_eq!(kept["mode"], "bearer", "{kept}");
    }
    ui.nav("/agents");

    // The node's agents are listed (demo, and the built-ins).
    ui.browser.element("li[data-agent='demo']", PAGE_TIMEOUT);
    ui.browser.element("li[data-agent='bench']", PAGE_TIMEOUT);
    ui.no_errors("agents");
    ui.shot("agents");

    // The wizard: a missing name stops at its field; a model the node cannot run comes back from the API as
    // a 422 naming agent_config.llm_model, shown at that field on the LLM step.
    ui.browser.click("#new-agent");
    ui.ready("/agents/new");
    ui.browser.click("#next");
    ui.browser.click("#next");
    let missing = ui.browser.wait_for(
        "the missing name",
        PAGE_TIMEOUT,
        "const e = document.querySelector('[name=agent_type]').closest('.field').querySelector('.field-error'); return !e.hidden && e.innerText",
    );
    assert!(missing.as_str().unwrap().contains("name"), "{missing}");
    ui.browser.type_into("[name=agent_type]", "Front Desk");
    assert_eq!(
        ui.browser.run("return document.querySelector('[name=agent_id]').value", json!([])),
        json!("front_desk")
    );
    ui.browser.type_into("[name=system_prompt]", "You answer calls for the Acme front desk. Keep answers short.");
    ui.browser.type_into("[name=greeting_message]", "Hello, Acme front desk.");
    ui.shot("wizard-agent");
    ui.browser.click("#next");
    ui.browser.run(
        "const s = document.querySelector('[name=llm_model]'); s.value = 'other'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    ui.browser.type_into("[name=llm_model_other]", "no-such-model");
    for _ in 0..3 {
        ui.browser.click("#next");
    }
    ui.browser.click("#create-agent");
    let refusal = ui.browser.wait_for(
        "the API's refusal at the model field",
        PAGE_TIMEOUT,
        "const c = document.querySelector('[name=llm_model], [name=llm_model_other]'); const e = c && c.closest('fieldset').querySelector('.field-error:not([hidden])'); return e && e.innerText",
    );
    assert!(refusal.as_str().unwrap().contains("no-such-model"), "{refusal}");
    ui.no_errors("wizard refusal");
    ui.shot("wizard-error");
    ui.browser.run(
        "const s = document.querySelector('[name=llm_model]'); s.value = 'smollm2-135m'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    ui.browser.click("#next");
    ui.browser.click("#next");
    ui.browser.type_into("[name=phone_number]", "+918000000123");
    ui.browser.click("#next");
    ui.shot("wizard-review");
    ui.browser.click("#create-agent");
    ui.ready("/agents");
    ui.browser.element("li[data-agent='front_desk']", PAGE_TIMEOUT);
    assert!(ui.text("li[data-agent='front_desk']").contains("Active"), "a number makes it active");
    ui.no_errors("agent created");

    // Edit it: a new greeting is saved.
    ui.browser.click("li[data-agent='front_desk'] h2 a");
    ui.ready("/agents/front_desk");
    ui.browser.type_into("[name=greeting_message]", "Good day, Acme front desk.");
    ui.browser.click("#save-agent");
    ui.browser.wait_for("the save", PAGE_TIMEOUT, "return document.querySelector('.toast') !== null");
    ui.no_errors("agent saved");
    ui.shot("agent-edit");

    // Talk in the browser to the bench agent: the fake microphone's words and the agent's answer appear.
    ui.nav("/agents");
    ui.browser.click("button[data-talk='bench']");
    ui.browser.click("#start-call");
    ui.browser.wait_for(
        "the call to go live",
        Duration::from_secs(20),
        "const c = window.voiceraCall; if (c && c.state === 'failed') throw new Error(document.getElementById('call-status').textContent); return c && c.state === 'live'",
    );
    ui.browser.wait_for(
        "the caller's words and the agent's answer in the live transcript",
        Duration::from_secs(30),
        "const b = [...document.querySelectorAll('#live-transcript .bubble')]; \
         return b.some(li => li.classList.contains('user')) && b.some(li => li.classList.contains('agent') && li.dataset.turn !== '0')",
    );
    ui.shot("talk");
    ui.browser.click("#hang-up");
    ui.browser.wait_for("the call to end", PAGE_TIMEOUT, "return window.voiceraCall.state === 'ended'");
    ui.browser.click("dialog .dialog-head button");
    ui.no_errors("browser call");

    // `echo` is not open: the console's session (an owner's) opens it; a node that wants the owner's password
    // instead gets it asked for in the dialog (and the browser opens no password prompt of its own).
    ui.browser.click("button[data-talk='echo']");
    ui.browser.click("#start-call");
    let outcome = ui.browser.wait_for(
        "the echo call to go live, or the request for the owner's password",
        Duration::from_secs(20),
        "const f = document.getElementById('owner-password'); if (f && !f.closest('.field').hidden) return 'password'; \
         return window.voiceraCall && window.voiceraCall.state === 'live' && 'live'",
    );
    if outcome == json!("password") {
        ui.browser.type_into("#owner-password", OWNER[1].1);
        ui.browser.click("#start-call");
        ui.browser.wait_for(
            "the echo call to go live",
            Duration::from_secs(20),
            "return window.voiceraCall.state === 'live'",
        );
    }
    ui.browser.click("#hang-up");
    ui.browser.wait_for("the echo call to end", PAGE_TIMEOUT, "return window.voiceraCall.state === 'ended'");
    ui.browser.click("dialog .dialog-head button");
    ui.no_errors("browser call with the owner's password");

    // Calls: the history with masked numbers, export, and a call's page.
    ui.nav("/calls");
    assert_eq!(ui.section_state("main"), "data");
    let table = ui.text("#calls");
    assert!(table.contains("Front Desk") && table.contains("3210") && !table.contains("9876543210"), "{table}");
    ui.browser.click("main .page-header button[aria-pressed]");
    assert!(ui.text("#calls").contains("+919876543210"), "numbers shown on request");
    ui.browser.click("#export-csv");
    ui.browser.wait_for("the export to finish", PAGE_TIMEOUT, "return !document.getElementById('export-csv').disabled");
    assert!(ui.text("main .notice.error").is_empty(), "export: {}", ui.text("main .notice.error"));
    ui.no_errors("calls");
    ui.shot("calls");
    ui.browser.click(&format!("#calls a[href='/calls/{seeded}']"));
    ui.ready(&format!("/calls/{seeded}"));
    let bubbles =
        ui.browser.run("return [...document.querySelectorAll('#transcript .bubble')].map(b => b.className)", json!([]));
    assert_eq!(bubbles, json!(["bubble agent", "bubble user", "bubble agent"]));
    assert!(ui.text("#call-facts").contains("caller hung up"), "the end reason");
    let bars = ui.browser.run("return document.querySelectorAll('#latency svg rect').length", json!([]));
    assert!(bars.as_u64().unwrap() >= 3 + 3, "three legend swatches and three stacked parts: {bars}");
    let timings = ui.text("#latency table");
    assert!(["180 ms", "420 ms", "150 ms"].iter().all(|t| timings.contains(t)), "{timings}");
    if !recordings_served {
        ui.browser.wait_for(
            "the recording's state",
            PAGE_TIMEOUT,
            "return document.querySelector('#recording [data-state=unavailable]') !== null",
        );
    }
    // The waveform with its turn markers, drawn from a stereo buffer by the page's own chart module.
    let drawn = ui.browser.run(
        "return import('/assets/charts.js').then(c => { const ctx = new OfflineAudioContext(2, 16000, 16000); \
         const b = ctx.createBuffer(2, 16000, 16000); const [l, r] = [b.getChannelData(0), b.getChannelData(1)]; \
         for (let i = 0; i < 16000; i++) { const v = Math.sin(i / 4) * Math.abs(Math.sin(i / 900)); \
         if (i < 7000) l[i] = v * 0.8; else if (i > 8500) r[i] = v * 0.6; } \
         const svg = c.waveform(c.peaks(b, 100), 1, [{t: 0.25, label: 'Caller: hi', short: '1'}, \
         {t: 0.75, label: 'Agent: hello', short: '2'}], null); \
         document.querySelector('#recording').append(svg); \
         return [svg.querySelectorAll('path.wave').length, svg.querySelectorAll('line.marker').length, \
         svg.querySelector('path.wave').getAttribute('d').length > 100]; })",
        json!([]),
    );
    assert_eq!(drawn, json!([2, 2, true]));
    ui.no_errors("call detail");
    ui.shot("call-detail");

    // Where the node keeps its calls in the history and serves recordings, the browser call above is there:
    // its transcript, and its recording drawn as a waveform.
    ui.nav("/calls");
    let bench_call = ui.browser.run(
        "const row = [...document.querySelectorAll('#calls tbody tr')].find(r => r.innerText.includes('bench')); \
         return row ? row.querySelector('a').getAttribute('href') : null",
        json!([]),
    );
    if let (Some(href), true) = (bench_call.as_str(), recordings_served) {
        ui.browser.click(&format!("#calls a[href='{href}']"));
        ui.ready(href);
        ui.browser.wait_for(
            "the recording's waveform",
            Duration::from_secs(20),
            "const r = document.querySelector('#recording'); \
             if (r.querySelector('.notice.error')) throw new Error(r.innerText); return r.querySelector('svg.waveform') !== null",
        );
        let roles = ui
            .browser
            .run("return [...document.querySelectorAll('#transcript .bubble')].map(b => b.className)", json!([]));
        assert!(roles.to_string().contains("user") && roles.to_string().contains("agent"), "{roles}");
        ui.no_errors("the browser call's page");
        ui.shot("call-detail-recorded");
    }

    // Every other page shows its data, or says its route is not served here; never an error.
    let pages = [
        ("/live", "GET /api/v1/calls/live", "main"),
        ("/numbers", "GET /api/v1/phone-numbers/org/{org_id}", "main"),
        ("/campaigns", "GET /api/v1/batches", "main"),
        ("/webhooks", "GET /api/v1/webhooks", "main"),
        ("/knowledge", "GET /api/v1/knowledge", "main"),
        ("/integrations", "GET /api/v1/integrations", "main > section:nth-of-type(1)"),
        ("/members", "GET /api/v1/members/{org_id}", "main"),
        ("/analytics", "GET /api/v1/analytics", "main"),
    ];
    for (route, op, scope) in pages {
        ui.nav(route);
        let state = ui.section_state(scope);
        if serves(op) {
            assert_ne!(state, "unavailable", "{route}: the node serves {op}");
        } else {
            assert_eq!(state, "unavailable", "{route}: the node does not serve {op}");
        }
        if route == "/members" {
            assert!(ui.text("#members").contains(OWNER[0].1), "the owner is a member");
        }
        ui.no_errors(route);
        ui.shot(route.trim_start_matches('/'));
    }

    // The flows of routes this node may not serve yet run once it does.
    if serves("POST /api/v1/phone-numbers/attach") {
        ui.nav("/numbers");
        ui.browser.type_into("#attach-number [name=phone_number]", "+918000000999");
        ui.browser.click("#attach-number button[type=submit]");
        ui.browser.wait_for(
            "the attached number",
            PAGE_TIMEOUT,
            "const t = document.querySelector('#numbers'); return t && t.innerText.includes('+918000000999')",
        );
        ui.no_errors("number attached");
    }
    if serves("POST /api/v1/batches/upload") {
        ui.nav("/campaigns");
        let csv = server.dir.join("contacts.csv");
        std::fs::write(&csv, "contact_number,name\n+918000000201,Asha\n+918000000202,Ravi\n").unwrap();
        ui.browser.type_into("#campaign-upload [name=batch_name]", "January reminders");
        ui.browser.type_into("#campaign-upload [name=file]", csv.to_str().unwrap());
        ui.browser.click("#campaign-upload button[type=submit]");
        ui.browser.wait_for(
            "the uploaded campaign",
            PAGE_TIMEOUT,
            "const t = document.querySelector('#campaigns'); return t && t.innerText.includes('January reminders')",
        );
        ui.no_errors("campaign uploaded");
        ui.shot("campaign-uploaded");
    }
    let mut invite = None;
    if serves("POST /api/v1/members/invite") && serves("POST /api/v1/members/add-member") {
        ui.nav("/members");
        ui.browser.type_into("#invite-form [name=email]", "member@example.com");
        ui.browser.click("#invite");
        let link = ui.browser.wait_for(
            "the invite link",
            PAGE_TIMEOUT,
            "const l = document.getElementById('invite-link'); return l && l.value",
        );
        let link = link.as_str().unwrap().to_string();
        let path = link.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()));
        invite = Some(path.unwrap_or(link));
        ui.no_errors("invite");
    }
    ui.nav("/system");
    ui.browser.wait_for(
        "the health",
        PAGE_TIMEOUT,
        "return document.querySelector('#health .badge')?.innerText === 'ok'",
    );
    ui.no_errors("system");
    ui.shot("system");

    // Dark, and a phone's width: the sidebar folds into a menu.
    ui.nav("/agents");
    ui.browser.click(".topbar .actions button:first-child");
    assert_eq!(ui.browser.run("return document.documentElement.dataset.theme", json!([])), json!("dark"));
    ui.shot("agents-dark");
    ui.browser.resize(390, 844);
    assert_eq!(
        ui.browser.run("return getComputedStyle(document.querySelector('nav.sidebar')).display", json!([])),
        json!("none")
    );
    ui.browser.click(".nav-toggle");
    ui.shot("phone-menu");
    ui.browser.click("nav.sidebar a[href='/calls']");
    ui.ready("/calls");
    ui.shot("phone-calls");
    ui.browser.resize(1280, 900);
    ui.no_errors("phone width");

    // Sign out: the session is gone, pages lead to sign-in again.
    ui.browser.click("#sign-out");
    ui.ready("/signin");
    ui.browser.open(server.http, "/agents");
    ui.ready("/signin");
    ui.no_errors("signed out");

    // The invited member joins with the link and has fewer rights.
    if let Some(path) = invite {
        ui.browser.open(server.http, &path);
        ui.browser.type_into("input[name=name]", "Mina Member");
        ui.browser.type_into("input[name=email]", "member@example.com");
        ui.browser.type_into("input[name=password]", "member-pass-1");
        ui.browser.click("main.auth button[type=submit]");
        ui.ready("/agents");
        assert_eq!(ui.text("#role"), "member");
        ui.nav("/members");
        let writes = ui.browser.run("return document.querySelector('#invite-form') === null", json!([]));
        assert_eq!(writes, json!(true), "a member invites no one");
        ui.no_errors("invited member");
    }
    eprintln!("screenshots in {}; server log:\n{}", screenshots().display(), ui.log().lines().count());
}

/// Signs the owner in on the console's sign-in page and waits for the agents page.
fn sign_in_owner(ui: &Console) {
    ui.browser.open(ui.server.http, "/signin");
    ui.ready("/signin");
    ui.browser.type_into("input[name=email]", OWNER[0].1);
    ui.browser.type_into("input[name=password]", OWNER[1].1);
    ui.browser.click("#sign-in");
    ui.ready("/agents");
}

#[test]
fn the_live_page_follows_a_call_as_it_is_said_and_hangs_it_up_and_the_system_page_shows_the_node() {
    let server = Server::start_env("console-live", "[bench]\nrecord = true\n", false, &OWNER);
    // The caller: the /call-test page in a browser of its own, calling the bench agent over the browser socket.
    let wav = common::browser::speech_wav(&server.dir, "Hello, what time is it?", 1.5);
    let caller = Browser::start(&wav);
    caller.open(server.http, "/call-test?agent=bench&transport=ws");
    caller.wait_for("the call page", PAGE_TIMEOUT, "return document.getElementById('keypad').children.length === 12");
    caller.run("document.getElementById('call').click()", json!([]));
    caller.wait_for(
        "the call to go live",
        Duration::from_secs(20),
        "const c = window.voiceraCall; if (c && c.state === 'failed') throw new Error(document.getElementById('status').textContent); return c && c.state === 'live'",
    );
    let call_id = caller.run("return window.voiceraCall.callId", json!([])).as_str().unwrap().to_string();

    // The operator: the Live page lists the call and follows its transcript as it is said.
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,900"]) };
    sign_in_owner(&ui);
    ui.nav("/live");
    let row = format!("#live-calls tr[data-call='{call_id}']");
    ui.browser.element(&row, PAGE_TIMEOUT);
    let listed = ui.text(&row);
    assert!(listed.contains("bench") && listed.contains("browser") && listed.contains("this node"), "{listed}");
    ui.browser.wait_for(
        "the caller's words and the agent's answer in the live transcript",
        Duration::from_secs(60),
        "const b = [...document.querySelectorAll('#live-transcript .bubble')]; \
         return b.some(li => li.classList.contains('user')) && b.filter(li => li.classList.contains('agent')).length >= 2",
    );
    let greeting = ui.text("#live-transcript .bubble.agent");
    assert!(!greeting.trim().is_empty(), "the greeting opens the transcript");
    ui.no_errors("live");
    ui.shot("live-call");

    // Hang up from the page: the caller's page sees the call end, the page sees it go.
    ui.browser.click(&format!("{row} button[data-hangup]"));
    ui.browser.click("dialog .actions .danger");
    caller.wait_for("the caller's call to end", PAGE_TIMEOUT, "return window.voiceraCall.state === 'ended'");
    ui.browser.wait_for(
        "the transcript to say the call ended",
        PAGE_TIMEOUT,
        "return document.getElementById('live-transcript-panel').dataset.state === 'ended'",
    );
    ui.browser.wait_for(
        "the call to leave the list",
        PAGE_TIMEOUT,
        &format!("return document.querySelector({}) === null", json!(row)),
    );
    ui.no_errors("live after the hang-up");
    server.wait_for("the call record", PAGE_TIMEOUT, |s| {
        s.call_records().iter().any(|r| r["call_id"] == call_id.as_str())
    });
    let record = server.call_records().into_iter().find(|r| r["call_id"] == call_id.as_str()).unwrap();
    assert_eq!(record["end_reason"], "agent_hangup:operator", "{record}");

    // System: the node, its store, SIP listener and the model cache (once the hang-up's toast has gone).
    ui.browser.wait_for("the toast to go", PAGE_TIMEOUT, "return document.querySelector('.toast') === null");
    ui.nav("/system");
    ui.browser.element("#model-cache tbody tr", PAGE_TIMEOUT);
    ui.browser.wait_for(
        "the health",
        PAGE_TIMEOUT,
        "return document.querySelector('#health .badge')?.innerText === 'ok'",
    );
    let node = ui.text("#node");
    assert!(node.contains(env!("CARGO_PKG_VERSION")) && node.contains("api, sip, media"), "{node}");
    assert!(ui.text("#storage").contains("sqlite"), "{}", ui.text("#storage"));
    assert!(ui.text("#sip-listeners").contains(&server.sip.port().to_string()), "{}", ui.text("#sip-listeners"));
    assert!(ui.text("#model-cache").contains("whisper-tiny.en"), "{}", ui.text("#model-cache"));
    ui.no_errors("system");
    ui.shot("system");
}

/// Runs `sql` on the node's SQLite store (fixtures the API has no route for yet).
fn sqlite(server: &Server, sql: &str) -> String {
    common::require_tool("sqlite3");
    let out = std::process::Command::new("sqlite3").arg(server.dir.join("data/voicera.db")).arg(sql).output().unwrap();
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_viewer_sees_everything_and_no_write_buttons() {
    let server = Server::start_env("console-viewer", "", false, &OWNER);
    // A viewer of the owner's org (the owner's password; the API makes viewers only through invites, which
    // this node may not serve yet), and one agent made over the API.
    sqlite(
        &server,
        "INSERT INTO users (org_id, id, doc, updated_at) SELECT org_id, 'viewer@example.com', \
         json_set(doc, '$.email', 'viewer@example.com', '$.name', 'Vera Viewer', '$.role', 'viewer', \
         '$.is_member', json('true')), updated_at FROM users WHERE id = 'owner@example.com'",
    );
    let org = sqlite(&server, "SELECT org_id FROM users WHERE id = 'viewer@example.com'");
    let agent = json!({"agent_type": "Support", "agent_id": "support", "org_id": org, "source": "api",
        "created_at": "2026-01-05T10:00:00.000Z", "agent_config": {"system_prompt": "You help.",
        "greeting_message": "Hello.", "language": "en", "llm_model": {"name": "smollm2-135m"}}});
    sqlite(
        &server,
        &format!("INSERT INTO agents (org_id, id, doc, updated_at) VALUES ('{org}', 'support', '{agent}', 0)"),
    );

    let wav = common::browser::speech_wav(&server.dir, "Hello.", 0.5);
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,900"]) };
    ui.browser.open(server.http, "/signin");
    ui.ready("/signin");
    ui.browser.type_into("input[name=email]", "viewer@example.com");
    ui.browser.type_into("input[name=password]", OWNER[1].1);
    ui.browser.click("#sign-in");
    ui.ready("/agents");
    assert_eq!(ui.text("#role"), "viewer");
    ui.browser.element("li[data-agent='support']", PAGE_TIMEOUT);
    let writes = "return [...document.querySelectorAll('#new-agent, #save-agent, #delete-agent, #test-call, \
        #invite-form, #attach-number, #campaign-upload, #knowledge-upload, #integration-form, #webhook-form, \
        [data-action], [data-test], [data-replay], [data-toggle], [data-delete]')].map(e => e.id || e.dataset.action)";
    assert_eq!(ui.browser.run(writes, json!([])), json!([]), "agents");
    ui.no_errors("viewer agents");
    ui.browser.click("li[data-agent='support'] h2 a");
    ui.ready("/agents/support");
    assert_eq!(ui.browser.run(writes, json!([])), json!([]), "agent page");
    let editable = ui.browser.run(
        "return [...document.querySelectorAll('#agent-form input, #agent-form select, #agent-form textarea')] \
         .filter(e => !e.disabled).length",
        json!([]),
    );
    assert_eq!(editable, json!(0), "every field is read-only");
    let greeting = ui.browser.run("return document.querySelector('[name=greeting_message]').value", json!([]));
    assert_eq!(greeting, json!("Hello."));
    ui.no_errors("viewer agent page");
    ui.shot("viewer-agent");
    for route in ["/members", "/numbers", "/campaigns", "/webhooks", "/knowledge", "/integrations", "/calls"] {
        ui.nav(route);
        assert_eq!(ui.browser.run(writes, json!([])), json!([]), "{route}");
        ui.no_errors(route);
    }
    ui.browser.open(server.http, "/agents/new");
    ui.ready("/agents/new");
    assert!(ui.text("main").contains("can see agents but not create them"));
    assert_eq!(ui.browser.run("return document.querySelector('#wizard') === null", json!([])), json!(true));
    ui.no_errors("viewer wizard");
}

/// Webhooks to a loopback receiver, read from the queue every 200 ms.
const WEBHOOK_ENV: [(&str, &str); 2] =
    [("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1"), ("VOICERA_WEBHOOKS_POLL_MS", "200")];

/// The owner's console with webhooks to loopback allowed and `config` as the node's voicera.toml.
fn start_console(name: &str, config: &str) -> (Server, std::path::PathBuf) {
    let env: Vec<(&str, &str)> = OWNER.iter().chain(WEBHOOK_ENV.iter()).copied().collect();
    let server = Server::start_env(name, config, false, &env);
    let wav = common::browser::speech_wav(&server.dir, "Hello.", 0.5);
    (server, wav)
}

/// Switches the console's theme with the top bar's toggle; returns the theme now shown.
fn toggle_theme(ui: &Console) -> String {
    ui.browser.click(".topbar .actions button:first-child");
    ui.browser.run("return document.documentElement.dataset.theme", json!([])).as_str().unwrap().to_string()
}

#[test]
fn a_campaign_is_uploaded_run_paused_resumed_and_followed_to_the_end_from_the_campaigns_page() {
    let trunk_port = common::free_port();
    let config = format!(
        "[[trunks]]\nname = \"carrier\"\nregistrar = \"127.0.0.1:{trunk_port}\"\nusername = \"1001\"\npassword = \"secret\"\n"
    );
    let (server, wav) = start_console("console-campaigns", &config);
    let carrier = common::carrier::Carrier::start(&server.dir, trunk_port);
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,1000"]) };
    sign_in_owner(&ui);
    ui.nav("/campaigns");
    assert_eq!(ui.section_state("main"), "empty");

    // The upload: two answered numbers, a busy one, one that rings out, one on the do-not-call list; a bad
    // number and a duplicate are refused, each by its line and reason.
    let csv = server.dir.join("spring.csv");
    std::fs::write(
        &csv,
        "contact_number,name\n+15551000001,Asha\n+15552000002,Ben\n+15553000003,Chen\nnot-a-number,Eve\n\
         +15551000001,Asha again\n+15551000004,Dev\n+15551000005,Fay\n",
    )
    .unwrap();
    ui.browser.type_into("#campaign-upload [name=batch_name]", "Spring follow-ups");
    ui.browser.run(
        "const s = document.querySelector('#campaign-upload [name=agent_type]'); s.value = 'echo'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    ui.browser.type_into("#campaign-upload [name=default_country]", "US");
    ui.browser.type_into("#campaign-upload [name=do_not_call]", "+1 555 100 0005");
    ui.browser.type_into("#campaign-upload [name=file]", csv.to_str().unwrap());
    ui.browser.click("#upload-campaign");
    ui.browser.element("#upload-result", PAGE_TIMEOUT);
    assert_eq!(ui.text("#upload-valid"), "4", "four to call; the fifth is on the do-not-call list");
    let rejected = ui.browser.run(
        "return [...document.querySelectorAll('#rejected-rows tbody tr')].map(r => [r.dataset.line, r.dataset.code, r.cells[3].innerText])",
        json!([]),
    );
    assert_eq!([&rejected[0][0], &rejected[0][1]], [&json!("5"), &json!("invalid_number")], "{rejected}");
    assert_eq!(rejected[1], json!(["6", "duplicate", "the same number is on line 2"]), "{rejected}");
    assert_eq!(rejected.as_array().unwrap().len(), 2, "{rejected}");
    assert!(ui.text("#dnc-rows").contains("line 8"), "{}", ui.text("#dnc-rows"));
    ui.no_errors("campaign uploaded");

    // The new campaign is chosen: its settings (the trunk, a short ring), then run through the dialog.
    ui.browser.wait_for(
        "the campaign's panel",
        PAGE_TIMEOUT,
        "const d = document.getElementById('campaign-detail'); return !d.hidden && d.dataset.status === 'not_started'",
    );
    assert_eq!(ui.browser.run("return document.querySelectorAll('#campaign-contacts tbody tr').length", json!([])), 5);
    ui.browser.click("#campaign-settings-box summary");
    ui.browser.type_into("#campaign-settings [name=ring_timeout_seconds]", "5");
    ui.browser.type_into("#campaign-settings [name=calls_per_second]", "2");
    ui.browser.type_into("#campaign-settings [name=trunk]", "carrier");
    ui.browser.click("#save-settings");
    ui.browser.wait_for(
        "the settings saved",
        PAGE_TIMEOUT,
        "return [...document.querySelectorAll('.toast')].some(t => t.innerText === 'Settings saved')",
    );
    ui.browser.click("#campaign-actions [data-action=run]");
    ui.browser.element("#run-form", PAGE_TIMEOUT);
    let trunk = ui.browser.run("return document.querySelector('#run-form [name=trunk]').value", json!([]));
    assert_eq!(trunk, json!("carrier"), "the run dialog offers the campaign's trunk");
    ui.shot("campaign-run-dialog");
    ui.browser.click("#run-confirm");
    ui.browser.wait_for(
        "the campaign to run",
        PAGE_TIMEOUT,
        "return document.getElementById('campaign-detail').dataset.status === 'running'",
    );
    // Pause and resume from the panel while the contacts are still being dialled.
    ui.browser.click("#campaign-actions [data-action=pause]");
    ui.browser.wait_for(
        "the campaign to pause",
        PAGE_TIMEOUT,
        "return document.getElementById('campaign-detail').dataset.status === 'paused'",
    );
    ui.browser.click("#campaign-actions [data-action=resume]");
    ui.browser.wait_for(
        "the campaign to finish",
        Duration::from_secs(90),
        "const s = document.getElementById('campaign-detail').dataset.status; \
         if (s === 'failed') throw new Error(document.getElementById('campaign-detail').innerText); return s === 'completed'",
    );
    // Progress at its end, counts per disposition, contacts with outcome and attempts, in place.
    let bar = ui
        .browser
        .run("const p = document.querySelector('#campaign-detail progress'); return [p.value, p.max]", json!([]));
    assert_eq!(bar, json!([5, 5]), "every contact done");
    assert!(ui.text("#campaign-detail .progress-text").contains("100%"));
    let outcomes = ui.browser.run(
        "return Object.fromEntries([...document.querySelectorAll('#campaign-outcomes dd[data-outcome]')].map(d => [d.dataset.outcome, d.innerText]))",
        json!([]),
    );
    assert_eq!(outcomes["busy"], "1", "{outcomes}");
    assert_eq!(outcomes["no-answer"], "1", "{outcomes}");
    assert_eq!(outcomes["dnc-skipped"], "1", "{outcomes}");
    let answered: u32 = outcomes
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("answered"))
        .map(|(_, v)| v.as_str().unwrap().parse::<u32>().unwrap())
        .sum();
    assert_eq!(answered, 2, "{outcomes}");
    let contacts = ui.browser.run(
        "return [...document.querySelectorAll('#campaign-contacts tbody tr')].map(r => [r.dataset.line, r.dataset.disposition, r.querySelector('.attempts').innerText])",
        json!([]),
    );
    assert!(contacts.as_array().unwrap().contains(&json!(["3", "busy", "1"])), "{contacts}");
    assert!(contacts.as_array().unwrap().contains(&json!(["8", "dnc-skipped", "0"])), "{contacts}");
    assert!(carrier.invites() >= 4, "the carrier saw the calls");
    let row = ui.text("#campaigns tbody tr");
    assert!(row.contains("Spring follow-ups") && row.contains("completed"), "{row}");
    ui.no_errors("campaign completed");
    ui.browser.run("document.getElementById('campaign-settings-box').open = false; window.scrollTo(0, 0)", json!([]));
    ui.shot("campaigns");

    // Focus survives the refresh: a focused button in the list is the same element two seconds later.
    ui.browser.run(
        "window.__focused = document.querySelector('#campaigns tbody tr [data-action=delete]'); window.__focused.focus()",
        json!([]),
    );
    std::thread::sleep(Duration::from_millis(2500));
    let focused = ui.browser.run("return document.activeElement === window.__focused", json!([]));
    assert_eq!(focused, json!(true), "focus survives the refresh");

    assert_eq!(toggle_theme(&ui), "dark");
    ui.shot("campaigns-dark");
    assert_eq!(toggle_theme(&ui), "light");

    // Scheduled for later from the run dialog, then the schedule cancelled behind a confirm dialog.
    ui.browser.click("#campaign-actions [data-action=run]");
    ui.browser.element("#run-form [name=when]", PAGE_TIMEOUT);
    ui.browser.run(
        "const w = document.querySelector('#run-form [name=when]'); w.value = 'later'; w.dispatchEvent(new Event('change')); \
         document.querySelector('#run-form [name=scheduled_at_local]').value = '2099-01-05T10:00'",
        json!([]),
    );
    ui.browser.type_into("#run-form [name=timezone]", "Asia/Kolkata");
    ui.browser.click("#run-confirm");
    ui.browser.wait_for(
        "the campaign to be scheduled",
        PAGE_TIMEOUT,
        "return document.getElementById('campaign-detail').dataset.status === 'scheduled'",
    );
    assert!(ui.text("#campaign-facts").contains("Asia/Kolkata"), "{}", ui.text("#campaign-facts"));
    ui.browser.click("#campaign-actions [data-action=cancel]");
    ui.browser.click("dialog .actions .danger");
    ui.browser.wait_for(
        "the schedule cancelled",
        PAGE_TIMEOUT,
        "return document.getElementById('campaign-detail').dataset.status === 'not_started'",
    );
    ui.no_errors("scheduled and cancelled");

    // Delete behind a confirm dialog: Cancel keeps it, Delete removes it.
    ui.browser.click("#campaigns tbody tr [data-action=delete]");
    ui.browser.click("dialog .actions .secondary");
    assert_eq!(ui.browser.run("return document.querySelectorAll('#campaigns tbody tr').length", json!([])), 1);
    ui.browser.click("#campaigns tbody tr [data-action=delete]");
    ui.browser.click("dialog .actions .danger");
    ui.browser.wait_for(
        "the campaign to go",
        PAGE_TIMEOUT,
        "return document.querySelector('main [data-state=empty]') !== null && document.getElementById('campaign-detail').hidden",
    );
    ui.no_errors("campaign deleted");

    // The Numbers page shows the node's trunks with their registration.
    ui.nav("/numbers");
    let trunk = ui.browser.wait_for(
        "the trunk's registration",
        PAGE_TIMEOUT,
        "const r = document.querySelector(\"#trunk-status tr[data-trunk='carrier']\"); return r && [r.dataset.registration, r.innerText]",
    );
    assert_eq!(trunk[0], "not_registering", "{trunk}");
    assert!(trunk[1].as_str().unwrap().contains(&format!("127.0.0.1:{trunk_port}")), "{trunk}");
    ui.no_errors("numbers");
    ui.shot("numbers-trunks");
}

#[test]
fn a_webhook_endpoint_is_added_tested_replayed_disabled_and_deleted_from_the_webhooks_page() {
    let (server, wav) = start_console("console-webhooks", "");
    let receiver = common::hooks::Receiver::accepting();
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,1000"]) };
    sign_in_owner(&ui);
    ui.nav("/webhooks");
    assert_eq!(ui.section_state("main"), "empty");

    // An API refusal lands at its field, in words.
    ui.browser.type_into("#webhook-form [name=url]", "ftp://example.com/hook");
    ui.browser.click("#add-webhook");
    let refusal = ui.browser.wait_for(
        "the URL's refusal",
        PAGE_TIMEOUT,
        "const e = document.querySelector('#webhook-form [name=url]').closest('.field').querySelector('.field-error'); return !e.hidden && e.innerText",
    );
    assert!(refusal.as_str().unwrap().contains("url must be"), "{refusal}");

    // Added: the secret shows once, with a copy button; the list shows it masked.
    let url = format!("http://{}/hook", receiver.addr);
    ui.browser.type_into("#webhook-form [name=url]", &url);
    ui.browser.type_into("#webhook-form [name=description]", "CRM");
    ui.browser.click("#add-webhook");
    let secret = ui.browser.wait_for(
        "the new secret",
        PAGE_TIMEOUT,
        "const s = document.getElementById('webhook-secret'); return s && s.value",
    );
    let secret = secret.as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    ui.browser.click("#copy-secret");
    ui.browser.wait_for("the copy", PAGE_TIMEOUT, "return document.getElementById('copy-secret').innerText !== 'Copy'");
    let masked = ui.text("#webhooks tbody tr .secret");
    assert!(!masked.contains(&secret) && !masked.is_empty(), "{masked}");
    ui.no_errors("webhook added");
    ui.shot("webhook-secret");
    ui.browser.click("#hide-secret");
    let shown = ui.browser.run(
        "return document.body.innerText.includes(arguments[0]) || [...document.querySelectorAll('input')].some(i => i.value === arguments[0])",
        json!([secret]),
    );
    assert_eq!(shown, json!(false), "the secret is not shown again");

    // A test event: delivered to the receiver, signed with that secret, and in the log with its answer.
    ui.browser.click("#webhooks tbody tr [data-test]");
    let deadline = std::time::Instant::now() + PAGE_TIMEOUT;
    while !receiver.received().iter().any(|d| d.event() == "webhook.test") {
        assert!(std::time::Instant::now() < deadline, "no test event delivered:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let delivery = receiver.received().into_iter().find(|d| d.event() == "webhook.test").unwrap();
    assert!(common::hooks::signature_ok(&secret, delivery.signature(), &delivery.body), "signed with the shown secret");
    let delivered = format!("#webhook-deliveries tr[data-delivery='{}']", delivery.delivery_id());
    ui.browser.wait_for(
        "the delivery in the log",
        PAGE_TIMEOUT,
        &format!("return document.querySelector({})?.dataset.status === 'delivered'", json!(delivered)),
    );
    assert_eq!(ui.text(&format!("{delivered} .http")), "200");
    assert_eq!(ui.text(&format!("{delivered} .attempts")), "1");
    assert!(ui.text(&format!("{delivered} .latency")).ends_with("ms"), "{}", ui.text(&format!("{delivered} .latency")));
    ui.no_errors("test delivered");
    ui.shot("webhooks");
    assert_eq!(toggle_theme(&ui), "dark");
    ui.shot("webhooks-dark");
    assert_eq!(toggle_theme(&ui), "light");

    // Its attempts in a dialog; then a replay: a new delivery of the same event, delivered too.
    ui.browser.click(&format!("{delivered} td button.link"));
    ui.browser.element("#delivery-detail", PAGE_TIMEOUT);
    assert!(ui.text("#delivery-detail").contains("receiver says 200"), "{}", ui.text("#delivery-detail"));
    ui.browser.click("dialog .dialog-head button.icon");
    ui.browser.click(&format!("{delivered} [data-replay]"));
    ui.browser.wait_for(
        "the replay delivered",
        PAGE_TIMEOUT,
        "const rows = [...document.querySelectorAll('#webhook-deliveries tbody tr')]; \
         return rows.length === 2 && rows.every(r => r.dataset.status === 'delivered')",
    );
    let tests: Vec<String> = receiver
        .received()
        .iter()
        .filter(|d| d.event() == "webhook.test")
        .map(|d| d.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(tests.len(), 2, "{tests:?}");
    assert_eq!(tests[0], tests[1], "a replay sends the same event");
    ui.no_errors("replayed");

    // Disable (behind a confirm), enable, delete (behind a confirm).
    ui.browser.click("#webhooks tbody tr [data-toggle]");
    ui.browser.click("dialog .actions .danger");
    ui.ready("/webhooks");
    let badge = "return document.querySelector('#webhooks tbody tr .badge')?.innerText";
    ui.browser.wait_for("disabled", PAGE_TIMEOUT, &format!("{badge} === 'disabled'"));
    ui.browser.click("#webhooks tbody tr [data-toggle]");
    ui.browser.wait_for("enabled", PAGE_TIMEOUT, &format!("{badge} === 'enabled'"));
    ui.browser.click("#webhooks tbody tr [data-delete]");
    ui.browser.click("dialog .actions .danger");
    ui.browser.wait_for(
        "the endpoint gone",
        PAGE_TIMEOUT,
        "return document.querySelector('main [data-state=empty]') !== null",
    );
    ui.no_errors("webhook deleted");
}

/// The console's first paint in Chromium (Performance API), on loopback from the embedded assets: each page
/// loaded afresh five times; the medians are printed and written to `<target>/console-first-paint.json` (the
/// figures in bench/results/console-first-paint.md come from it). No timed assertion: the machine's load is
/// not the console's.
#[test]
fn the_first_paint_of_each_console_page_is_measured() {
    let (server, wav) = start_console("console-paint", "");
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,900"]) };
    let mut figures = serde_json::Map::new();
    // Signed out first (the sign-in page), then each page of a signed-in operator.
    for route in ["/signin", "/agents", "/calls", "/live", "/campaigns", "/webhooks", "/system"] {
        if route == "/agents" {
            sign_in_owner(&ui);
        }
        let mut paints = Vec::new();
        let mut readies = Vec::new();
        for _ in 0..5 {
            ui.browser.open(server.http, route);
            ui.ready(route);
            // The page is ready before the browser has painted it: wait for the paint entry.
            let ready_at = ui.browser.run("return performance.now()", json!([]));
            let paint = ui.browser.wait_for(
                "the first contentful paint",
                PAGE_TIMEOUT,
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null",
            );
            paints.push(paint.as_f64().unwrap());
            readies.push(ready_at.as_f64().unwrap());
        }
        paints.sort_by(f64::total_cmp);
        readies.sort_by(f64::total_cmp);
        eprintln!(
            "{route}: first contentful paint median {:.0} ms (min {:.0}, max {:.0})",
            paints[2], paints[0], paints[4]
        );
        figures.insert(
            route.into(),
            json!({"fcp_ms": paints, "fcp_median_ms": paints[2], "ready_by_ms_at_most": readies[4]}),
        );
        ui.no_errors(route);
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("console-first-paint.json");
    std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(figures)).unwrap()).unwrap();
    eprintln!("written to {}", path.display());
}

#[test]
fn the_live_page_shows_the_numbers_of_a_sip_call_that_keeps_no_record() {
    // A SIP call from +15551230001 to the echo service: nothing is recorded, and the Live page still shows who
    // is talking to whom.
    common::require_tool("sipp");
    let (server, wav) = start_console("console-live-numbers", "");
    let template = std::fs::read_to_string(common::repo_path("tests/sipp/call_for.xml")).unwrap();
    let scenario = server.dir.join("call.xml");
    std::fs::write(&scenario, template.replace("@PAUSE_MS@", "30000").replace("sip:sipp@", "sip:+15551230001@"))
        .unwrap();
    let mut caller = Some(
        std::process::Command::new("timeout")
            .arg("60")
            .arg("sipp")
            .arg(server.sip.to_string())
            .args(["-sf", scenario.to_str().unwrap(), "-s", "echo", "-m", "1"])
            .args(["-i", "127.0.0.1", "-p", &common::free_port().to_string(), "-mp", &common::free_port().to_string()])
            .args(["-timeout", "60", "-nostdin"])
            .current_dir(&server.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,900"]) };
    sign_in_owner(&ui);
    ui.nav("/live");
    let row = ui.browser.wait_for(
        "the SIP call on the Live page",
        Duration::from_secs(20),
        "const r = document.querySelector('#live-calls tbody tr'); return r && [...r.cells].map(c => c.innerText)",
    );
    common::stop(&mut caller);
    // Agent, transport, direction, from, to: the numbers masked but there.
    assert_eq!(row[0], "echo", "{row}");
    assert_eq!(row[1], "sip", "{row}");
    assert_eq!(row[2], "inbound", "{row}");
    assert!(row[3].as_str().unwrap().ends_with("0001") && row[3] != "—", "{row}");
    assert_eq!(row[4], "echo", "{row}");
    ui.no_errors("live numbers");
}

/// The campaign form offers a provider's API as the route (Vobiz, Plivo, Twilio, with a caller id) beside a
/// trunk: choosing one hides the trunk, a missing caller id is shown on its field, the saved campaign names the
/// provider and no trunk, the run dialog keeps the route, and the calls reach the provider (a fake Vobiz API,
/// its callee ringing out) from the caller id.
#[test]
fn a_campaign_goes_out_through_a_providers_api_chosen_in_the_campaign_form() {
    use common::fake_carrier::{Callee, FakeCarrier, Flavor};
    let carrier = FakeCarrier::start(Flavor::Vobiz, |_, _| Callee::RingsOut { after: Duration::from_millis(300) });
    let config = format!(
        "{}\n[[agents]]\nid = \"caller\"\nsystem_prompt = \"You remind people of appointments.\"\n\
         greeting_message = \"Hello, this is Green Valley Dental.\"\ninteraction_mode = \"non_conversational\"\n",
        carrier.config()
    );
    let (server, wav) = start_console("console-campaign-provider", &config);
    common::api::wait_agent_ready(&server, "caller");
    let ui = Console { server: &server, browser: Browser::start_with(&wav, &["--window-size=1280,1000"]) };
    sign_in_owner(&ui);
    ui.nav("/campaigns");
    let csv = server.dir.join("provider.csv");
    std::fs::write(&csv, "contact_number,name\n+15553000001,Asha\n+15553000002,Ben\n").unwrap();
    ui.browser.type_into("#campaign-upload [name=batch_name]", "Through Vobiz");
    ui.browser.run(
        "const s = document.querySelector('#campaign-upload [name=agent_type]'); s.value = 'caller'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    ui.browser.type_into("#campaign-upload [name=default_country]", "US");
    ui.browser.type_into("#campaign-upload [name=file]", csv.to_str().unwrap());
    ui.browser.click("#upload-campaign");
    ui.browser.element("#upload-result", PAGE_TIMEOUT);
    ui.browser.wait_for(
        "the campaign's panel",
        PAGE_TIMEOUT,
        "const d = document.getElementById('campaign-detail'); return !d.hidden && d.dataset.status === 'not_started'",
    );

    // Settings: the route is a provider; the trunk's field goes away, and the caller id becomes required.
    ui.browser.click("#campaign-settings-box summary");
    let trunk_hidden = "return document.querySelector('#campaign-settings [name=trunk]').closest('.field').hidden";
    assert_eq!(ui.browser.run(trunk_hidden, json!([])), json!(false), "a trunk by default");
    ui.browser.run(
        "const s = document.querySelector('#campaign-settings [name=provider]'); s.value = 'vobiz'; s.dispatchEvent(new Event('change'))",
        json!([]),
    );
    assert_eq!(ui.browser.run(trunk_hidden, json!([])), json!(true), "no trunk for a provider route");
    ui.browser.type_into("#campaign-settings [name=ring_timeout_seconds]", "5");
    ui.browser.click("#save-settings");
    ui.browser.wait_for(
        "the caller id's error",
        PAGE_TIMEOUT,
        "const e = document.querySelector('#campaign-settings [name=caller_id]').closest('.field').querySelector('.field-error'); \
         return !e.hidden && e.innerText.length > 0",
    );
    ui.shot("campaign-provider-caller-id");
    ui.browser.type_into("#campaign-settings [name=caller_id]", "+15550000000");
    ui.browser.click("#save-settings");
    ui.browser.wait_for(
        "the settings saved",
        PAGE_TIMEOUT,
        "return [...document.querySelectorAll('.toast')].some(t => t.innerText === 'Settings saved')",
    );
    let token = common::api::owner_token(server.http);
    let (_, batches, _) = common::api::send(server.http, "GET", "/api/v1/batches", &token, "application/json", b"");
    let batch = batches
        .as_array()
        .or_else(|| batches["batches"].as_array())
        .and_then(|list| list.iter().find(|b| b["batch_name"] == "Through Vobiz"))
        .and_then(|b| b["batch_id"].as_str())
        .unwrap_or_else(|| panic!("the batch in {batches}"))
        .to_string();
    let (_, stored, _) =
        common::api::send(server.http, "GET", &format!("/api/v1/campaigns/{batch}"), &token, "application/json", b"");
    let campaign = &stored["campaign"];
    assert_eq!(
        (&campaign["provider"], &campaign["trunk"], &campaign["caller_id"]),
        (&json!("vobiz"), &Value::Null, &json!("+15550000000")),
        "{stored}"
    );

    // The run dialog keeps the route; the calls go to Vobiz from the caller id.
    ui.browser.click("#campaign-actions [data-action=run]");
    ui.browser.element("#run-form", PAGE_TIMEOUT);
    let route = ui.browser.run(
        "const f = document.getElementById('run-form'); \
         return [f.querySelector('[name=provider]').value, f.querySelector('[name=trunk]').closest('.field').hidden, f.querySelector('[name=caller_id]').value]",
        json!([]),
    );
    assert_eq!(route, json!(["vobiz", true, "+15550000000"]), "the run dialog offers the campaign's route");
    ui.shot("campaign-provider-run-dialog");
    ui.browser.click("#run-confirm");
    ui.browser.wait_for(
        "the campaign to finish",
        Duration::from_secs(90),
        "const s = document.getElementById('campaign-detail').dataset.status; \
         if (s === 'failed') throw new Error(document.getElementById('campaign-detail').innerText); return s === 'completed'",
    );
    let outcomes = ui.browser.run(
        "return Object.fromEntries([...document.querySelectorAll('#campaign-outcomes dd[data-outcome]')].map(d => [d.dataset.outcome, d.innerText]))",
        json!([]),
    );
    assert_eq!(outcomes["no-answer"], "2", "{outcomes}");
    let requests = carrier.requests();
    assert_eq!(requests.len(), 2, "both contacts called through Vobiz");
    assert!(requests.iter().all(|r| r.body["from"] == "+15550000000"), "{requests:?}");
    assert!(carrier.faults().is_empty(), "{:?}", carrier.faults());
    ui.no_errors("provider campaign completed");
}
