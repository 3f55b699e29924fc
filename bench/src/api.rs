//! `voicera-bench api`: the control plane's read paths over a large call history. It fills a store (SQLite
//! in a temporary data dir; with `--mongodb` a SecantusDB it starts, storage in the work dir; or the MongoDB
//! at `--mongodb-uri`, database `voicera_bench_api`, emptied first) with N call records of one org plus a
//! smaller second org, then drives the API's router in process (`tower::oneshot`, no socket, so the figures
//! are the handlers' and the store's, not the network's): the meetings list with filters, sorts, page 1 and
//! the last page, the filter drop-downs, analytics over the whole history, agent reads and logins (argon2id
//! at its production cost). Each scenario is timed one request at a time (p50/p99) and then with several
//! requests in flight (requests/s).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::{accounts, AgentValidator, ApiConfig, ApiState, FieldError, Role};
use voicera_store::{Collection, Record, Store};

/// What to run.
pub(crate) struct Settings {
    /// Call records of the measured org.
    pub(crate) records: usize,
    /// Requests per scenario, one at a time (the latency figures).
    pub(crate) requests: usize,
    /// Requests in flight for the throughput figure.
    pub(crate) concurrency: usize,
    /// The store measured.
    pub(crate) backend: Backend,
}

/// The store the API runs on.
pub(crate) enum Backend {
    /// An embedded SQLite file in the work directory (the default deployment).
    Sqlite,
    /// A SecantusDB (MongoDB wire protocol) the bench starts with this program, storage in the work directory.
    Secantus(PathBuf),
    /// The MongoDB at this URI; its database [`MONGO_DATABASE`] is emptied and filled.
    Mongo(String),
}

impl Backend {
    /// The results' file stem: `api` or `api-mongodb`.
    pub(crate) fn file_stem(&self) -> &'static str {
        match self {
            Backend::Sqlite => "api",
            Backend::Secantus(_) | Backend::Mongo(_) => "api-mongodb",
        }
    }
}

/// The database the MongoDB runs fill (dropped first, so every run starts empty).
pub(crate) const MONGO_DATABASE: &str = "voicera_bench_api";

/// One scenario's figures.
#[derive(Debug, Serialize)]
pub(crate) struct ScenarioReport {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) requests: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Sequential: one request at a time.
    pub(crate) requests_per_second_sequential: f64,
    /// With `concurrency` requests in flight.
    pub(crate) requests_per_second_concurrent: f64,
    /// The first answer's `total` (list scenarios) or size, to show what was read.
    pub(crate) answer: String,
}

/// The run's figures.
#[derive(Debug, Serialize)]
pub(crate) struct ApiReport {
    pub(crate) backend: String,
    /// What answered the store's requests (the SQLite file, the SecantusDB started, the MongoDB's host).
    pub(crate) server: String,
    pub(crate) records: usize,
    pub(crate) other_org_records: usize,
    pub(crate) fill_seconds: f64,
    /// Requests per scenario (`--requests`).
    pub(crate) requests: usize,
    pub(crate) concurrency: usize,
    pub(crate) build: String,
    pub(crate) machine: String,
    /// `/proc/loadavg` when the run ended: other work on the machine inflates the figures.
    pub(crate) load_average: String,
    pub(crate) scenarios: Vec<ScenarioReport>,
}

struct AcceptAll;

impl AgentValidator for AcceptAll {
    fn validate(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

const AGENTS: usize = 20;

/// A call record of the original's shape, varied by `i` (deterministic: the same history every run).
fn call_record(i: usize, agents: &[(String, String)]) -> Value {
    // A small LCG: reproducible spread without a random source.
    let mix = |salt: u64| {
        ((i as u64 ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 33) as usize
    };
    let (agent_id, agent_type) = &agents[mix(1) % agents.len()];
    let day = mix(2) % 90;
    let second = mix(3) % 86_400;
    let created = 1_725_148_800_000i64 + (day as i64 * 86_400 + second as i64) * 1000;
    let busy = mix(4) % 10 == 0;
    let in_progress = !busy && mix(5) % 50 == 0;
    let duration = if busy { 0.0 } else { (mix(6) % 600) as f64 + 0.5 };
    let turns: Vec<Value> = (0..if busy { 0 } else { 2 + mix(7) % 6 })
        .map(|t| {
            json!({"turn_index": t + 1, "user_text_preview": "I would like to know about my order",
                   "stt_ms": 80 + mix(8 + t as u64) % 200, "llm_ttfb_ms": 200 + mix(20 + t as u64) % 600,
                   "tts_first_chunk_ms": 60 + mix(40 + t as u64) % 150})
        })
        .collect();
    let start = voicera_store::utc_text(created + 1500);
    json!({
        "meeting_id": format!("CA-{i:08}"), "agent_type": agent_type, "agent_id": agent_id,
        "inbound": mix(9) % 10 < 7, "from_number": format!("+9199{:08}", mix(10) % 5000),
        "to_number": format!("+9180{:08}", mix(1) % agents.len()),
        "created_at": voicera_store::utc_text(created), "start_time_utc": start,
        "end_time_utc": if busy || in_progress { Value::Null } else { json!(voicera_store::utc_text(created + 1500 + (duration * 1000.0) as i64)) },
        "call_busy": busy, "duration": duration,
        "recording_url": format!("2024-09-01/CA-{i:08}.wav"),
        "transcript_url": format!("minio://transcripts/CA-{i:08}.txt"),
        "transcript_content": "[2024-09-01T07:00:01Z] assistant: Namaste, how can I help?\n[2024-09-01T07:00:04Z] user: I would like to know about my order\n[2024-09-01T07:00:05Z] assistant: Of course, may I have the order number?",
        "latency_metrics": {"turns": turns},
        "agent_category": "voicera_telephony",
    })
}

async fn request(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(StatusCode, Vec<u8>)> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()))?,
        None => builder.body(Body::empty())?,
    };
    let response = app.clone().oneshot(request).await?;
    let status = response.status();
    Ok((status, response.into_body().collect().await?.to_bytes().to_vec()))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

struct Scenario {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    requests: usize,
    token: Option<String>,
}

async fn measure(app: &Router, s: &Scenario, concurrency: usize) -> Result<ScenarioReport> {
    let (status, first) = request(app, s.method.clone(), &s.path, s.token.as_deref(), s.body.as_ref()).await?;
    if !status.is_success() {
        bail!("{} {}: {status} {}", s.method, s.path, String::from_utf8_lossy(&first));
    }
    let answer = match serde_json::from_slice::<Value>(&first) {
        Ok(v) if v.get("total").is_some() => {
            format!("total {}, {} items", v["total"], v["items"].as_array().map_or(0, Vec::len))
        }
        Ok(v) if v.get("calls_attempted").is_some() => format!("{} calls", v["calls_attempted"]),
        _ => format!("{} bytes", first.len()),
    };
    let mut times = Vec::with_capacity(s.requests);
    let began = Instant::now();
    for _ in 0..s.requests {
        let t = Instant::now();
        let (status, _) = request(app, s.method.clone(), &s.path, s.token.as_deref(), s.body.as_ref()).await?;
        if !status.is_success() {
            bail!("{} {}: {status}", s.method, s.path);
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let sequential = s.requests as f64 / began.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (app, method, path, token, body) =
            (app.clone(), s.method.clone(), s.path.clone(), s.token.clone(), s.body.clone());
        let share = s.requests / concurrency + usize::from(worker < s.requests % concurrency);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                request(&app, method.clone(), &path, token.as_deref(), body.as_ref()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let concurrent = s.requests as f64 / began.elapsed().as_secs_f64();
    Ok(ScenarioReport {
        name: s.name.to_string(),
        path: format!("{} {}", s.method, s.path),
        requests: s.requests,
        p50_ms: percentile(&times, 0.50),
        p99_ms: percentile(&times, 0.99),
        max_ms: times.last().copied().unwrap_or_default(),
        requests_per_second_sequential: sequential,
        requests_per_second_concurrent: concurrent,
        answer,
    })
}

/// Records written per `put_many` while filling.
const FILL_BATCH: usize = 1000;

/// The store on the MongoDB at `uri`, its bench database emptied first (a run never reads an earlier run's).
async fn mongo_store(uri: &str) -> Result<Store> {
    voicera_store::mongo::database_at(uri, Some(MONGO_DATABASE)).await?.drop().await?;
    Ok(Store::Mongo(voicera_store::mongo::MongoStore::connect(uri, Some(MONGO_DATABASE)).await?))
}

/// `host:port` of a MongoDB URI, without credentials or options (the report names the server, not the keys).
fn host_of(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    // Credentials are percent-encoded in a URI, so the authority ends at the first `/` or `?`.
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts).to_string()
}

/// The list's total for `selection` (a query string without page or limit).
async fn list_total(app: &Router, token: &str, selection: &str) -> Result<u64> {
    let path = format!("/api/v1/meetings?{selection}&page=1&limit=50");
    let (status, body) = request(app, Method::GET, &path, Some(token), None).await?;
    if status != StatusCode::OK {
        bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
    }
    serde_json::from_slice::<Value>(&body)?["total"].as_u64().context("no total")
}

/// The query string of `selection`'s last page of 50 by page number.
async fn last_page_by_number(app: &Router, token: &str, selection: &str) -> Result<String> {
    let pages = list_total(app, token, selection).await?.div_ceil(50).max(1);
    Ok(format!("{selection}&page={pages}&limit=50"))
}

/// The query string of `selection`'s last page of 50 by cursor: the `next_cursor` of the page before it.
async fn last_page_by_cursor(app: &Router, token: &str, selection: String) -> Result<String> {
    let pages = list_total(app, token, &selection).await?.div_ceil(50);
    if pages < 2 {
        bail!("{selection}: one page only, no cursor to follow (fill more records)");
    }
    let path = format!("/api/v1/meetings?{selection}&page={}&limit=50", pages - 1);
    let (status, body) = request(app, Method::GET, &path, Some(token), None).await?;
    if status != StatusCode::OK {
        bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
    }
    let body: Value = serde_json::from_slice(&body)?;
    let cursor = body["next_cursor"].as_str().with_context(|| format!("GET {path}: no next_cursor"))?;
    Ok(format!("{selection}&cursor={cursor}&limit=50").trim_start_matches('&').to_string())
}

/// Runs the benchmark with `work` as scratch space.
pub(crate) fn run(settings: &Settings, work: &std::path::Path) -> Result<ApiReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(settings, work))
}

async fn run_async(settings: &Settings, work: &std::path::Path) -> Result<ApiReport> {
    let dir = work.join("api");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    // Killed when the run ends (dropped after the store).
    let mut secantus = None;
    let (store, backend, server) = match &settings.backend {
        Backend::Sqlite => {
            let store = voicera_store::sqlite::SqliteStore::open(&dir.join("voicera.db")).await?;
            (Store::Sqlite(store), "SQLite".to_string(), "an embedded SQLite file (WAL) in the work directory".into())
        }
        Backend::Secantus(program) => {
            let started = crate::secantus::Secantus::start(program, &dir.join("secantus"))?;
            let store = mongo_store(&started.uri).await?;
            let server = format!(
                "SecantusDB (`{}`, MongoDB wire protocol) started by the bench, storage on disk in the work directory",
                started.program.display()
            );
            secantus = Some(started);
            (store, "MongoDB (SecantusDB)".to_string(), server)
        }
        Backend::Mongo(uri) => {
            let store = mongo_store(uri).await?;
            (store, "MongoDB".to_string(), format!("the MongoDB at {}", host_of(uri)))
        }
    };
    let state = ApiState::new(store.clone(), [3; 32], Arc::new(AcceptAll), ApiConfig::default());
    let app = voicera_api::control_plane(state.clone());
    let org = accounts::create_org(&state, "Bench Co").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    accounts::create_user(&state, "owner@bench.example", "bench-password-1", "Owner", "Bench Co", &org, Role::Owner)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let login = json!({"email": "owner@bench.example", "password": "bench-password-1"});
    let (status, body) = request(&app, Method::POST, "/api/v1/users/login", None, Some(&login)).await?;
    if status != StatusCode::OK {
        bail!("login: {status} {}", String::from_utf8_lossy(&body));
    }
    let token =
        serde_json::from_slice::<Value>(&body)?["access_token"].as_str().context("no access token")?.to_string();

    let mut agents = Vec::new();
    for a in 0..AGENTS {
        let body = json!({"agent_type": format!("Agent {a:02}"), "agent_config": {"language": "Hindi",
            "system_prompt": "You help callers with their orders.", "greeting_message": "Namaste",
            "llm_model": {"name": "OpenAI", "model": "gpt-4o-mini"}}, "telephony_provider": "Vobiz"});
        let (status, answer) = request(&app, Method::POST, "/api/v1/agents", Some(&token), Some(&body)).await?;
        if status != StatusCode::CREATED {
            bail!("create agent: {status} {}", String::from_utf8_lossy(&answer));
        }
        let answer: Value = serde_json::from_slice(&answer)?;
        agents.push((answer["agent_id"].as_str().unwrap_or_default().to_string(), format!("Agent {a:02}")));
    }

    let other_org_records = settings.records / 10;
    eprintln!("filling {backend} with {} + {other_org_records} call records", settings.records);
    let fill = Instant::now();
    let total = settings.records + other_org_records;
    // In batches (`put_many`: one transaction on SQLite, one unordered `insert_many` on MongoDB).
    let mut batch = Vec::with_capacity(FILL_BATCH);
    for i in 0..total {
        let owner = if i < settings.records { org.clone() } else { "other-org".to_string() };
        batch.push(Record { org_id: owner, id: format!("CA-{i:08}"), doc: call_record(i, &agents) });
        if batch.len() == FILL_BATCH || i + 1 == total {
            store.put_many(Collection::CallLogs, &batch).await?;
            batch.clear();
        }
        if i > 0 && i % 20_000 == 0 {
            eprintln!("  {i} records ({:.0} s)", fill.elapsed().as_secs_f64());
        }
    }
    let fill_seconds = fill.elapsed().as_secs_f64();
    eprintln!("filled in {fill_seconds:.1} s");

    let n = settings.requests;
    let last_page = settings.records.div_ceil(50);
    let list = |name: &'static str, query: String| Scenario {
        name,
        method: Method::GET,
        path: format!("/api/v1/meetings?{query}"),
        body: None,
        requests: n,
        token: Some(token.clone()),
    };
    // The last page by cursor: the cursor the page before it answers with (as a client walking by cursor holds).
    let by_cursor = |selection: &str| last_page_by_cursor(&app, &token, selection.to_string());
    let mut scenarios = vec![
        list("list, page 1, newest first", "page=1&limit=50".into()),
        list("list, last page, newest first", format!("page={last_page}&limit=50")),
        list("list, last page by cursor, newest first", by_cursor("").await?),
        // The page number's worst case: as far from either end as a page can be.
        list("list, middle page, newest first", format!("page={}&limit=50", last_page.div_ceil(2))),
        list("list, page 1, longest first", "page=1&limit=50&duration_sort_order=longest".into()),
        list("list, last page, longest first", format!("page={last_page}&limit=50&duration_sort_order=longest")),
        list("list, last page by cursor, longest first", by_cursor("duration_sort_order=longest").await?),
        list("list, last page by cursor, shortest first", by_cursor("duration_sort_order=shortest").await?),
        list("list, one agent, page 1", "agent_type=Agent%2007&page=1&limit=50".into()),
        list(
            "list, one agent, last page",
            format!("agent_type=Agent%2007&page={}&limit=50", (last_page / AGENTS).max(1)),
        ),
        list("list, one caller's number", "from_number=%2B919900000042".into()),
        list(
            "list, inbound completed, oldest first",
            "inbound=true&call_status=Completed&date_sort_order=oldest".into(),
        ),
        list(
            "list, inbound completed, oldest first, last page",
            last_page_by_number(&app, &token, "inbound=true&call_status=Completed&date_sort_order=oldest").await?,
        ),
        list(
            "list, inbound completed, oldest first, last page by cursor",
            by_cursor("inbound=true&call_status=Completed&date_sort_order=oldest").await?,
        ),
        list("list, busy, newest first, last page by cursor", by_cursor("call_status=Busy").await?),
        list("list, one week", "date_from=2024-09-10&date_to=2024-09-16".into()),
        list("list, one agent in one week", "agent_type=Agent%2003&date_from=2024-09-10&date_to=2024-09-16".into()),
        Scenario {
            name: "filter options",
            method: Method::GET,
            path: "/api/v1/meetings/filter-options".into(),
            body: None,
            requests: n / 10,
            token: Some(token.clone()),
        },
        Scenario {
            name: "meeting detail",
            method: Method::GET,
            // A call of the measured org (ids `CA-00000000` up), also in small runs.
            path: format!("/api/v1/meetings/CA-{:08}", 4242.min(settings.records.saturating_sub(1))),
            body: None,
            requests: n,
            token: Some(token.clone()),
        },
        Scenario {
            name: "analytics, whole history",
            method: Method::GET,
            path: "/api/v1/analytics".into(),
            body: None,
            requests: (n / 50).max(5),
            token: Some(token.clone()),
        },
        Scenario {
            name: "agents of the org",
            method: Method::GET,
            path: format!("/api/v1/agents/org/{org}"),
            body: None,
            requests: n,
            token: Some(token.clone()),
        },
        Scenario {
            name: "agent by id",
            method: Method::GET,
            path: format!("/api/v1/agents/id/{}", agents[7].0),
            body: None,
            requests: n,
            token: Some(token.clone()),
        },
        Scenario {
            name: "login (argon2id, production cost)",
            method: Method::POST,
            path: "/api/v1/users/login".into(),
            body: Some(login.clone()),
            requests: (n / 20).max(5),
            token: None,
        },
    ];
    let mut reports = Vec::new();
    // The store alone (no HTTP, no JSON out), to show where a list request's time goes. The last page by key
    // starts after the last call of the page before it.
    let whole = voicera_store::call_logs::CallLogQuery { org_id: org.clone(), limit: 50, ..Default::default() };
    let before_last =
        voicera_store::call_logs::CallLogQuery { offset: (last_page as u64).saturating_sub(2) * 50, ..whole.clone() };
    let last_key = store.query_call_logs(&before_last).await?.last_key(whole.sort);
    for (name, offset, after) in [
        ("store only: page 1, newest first", 0, None),
        ("store only: last page, newest first", (last_page as u64 - 1) * 50, None),
        ("store only: last page by key, newest first", 0, last_key),
    ] {
        let query = voicera_store::call_logs::CallLogQuery { offset, after, ..whole.clone() };
        let mut times = Vec::with_capacity(n);
        let began = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            store.query_call_logs(&query).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let rate = n as f64 / began.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let count = voicera_store::call_logs::CallLogQuery { limit: 0, ..query.clone() };
        let t = Instant::now();
        store.query_call_logs(&count).await?;
        let count_ms = t.elapsed().as_secs_f64() * 1000.0;
        let report = ScenarioReport {
            name: name.to_string(),
            path: "Store::query_call_logs".into(),
            requests: n,
            p50_ms: percentile(&times, 0.50),
            p99_ms: percentile(&times, 0.99),
            max_ms: times.last().copied().unwrap_or_default(),
            requests_per_second_sequential: rate,
            requests_per_second_concurrent: 0.0,
            answer: format!("the total alone: {count_ms:.2} ms"),
        };
        eprintln!(
            "{:<40} p50 {:>8.2} ms  p99 {:>8.2} ms  [{}]",
            report.name, report.p50_ms, report.p99_ms, report.answer
        );
        reports.push(report);
    }
    for scenario in scenarios.drain(..) {
        let report = measure(&app, &scenario, settings.concurrency).await?;
        eprintln!(
            "{:<40} p50 {:>8.2} ms  p99 {:>8.2} ms  {:>8.0} req/s ({} in flight: {:>8.0})  [{}]",
            report.name,
            report.p50_ms,
            report.p99_ms,
            report.requests_per_second_sequential,
            settings.concurrency,
            report.requests_per_second_concurrent,
            report.answer
        );
        reports.push(report);
    }
    // Keep the store's files out of the results directory.
    drop(app);
    drop(state);
    drop(store);
    drop(secantus);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ApiReport {
        backend,
        server,
        records: settings.records,
        other_org_records,
        fill_seconds,
        requests: settings.requests,
        concurrency: settings.concurrency,
        build: if cfg!(debug_assertions) {
            "debug (SQLite, the MongoDB driver's dependencies, argon2 and the API's dependencies optimised)".into()
        } else {
            "release".into()
        },
        machine: crate::procfs::machine(),
        load_average: std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string(),
        scenarios: reports,
    })
}

/// How the SQLite store answers the list and analytics.
const SQLITE_HOW: &str = "the list's sort keys and filter fields are columns beside each document (kept by \
    triggers), indexed per tenant in every sort order (and by status) with every filter field, so a page's keys \
    come from one covering index and the page's 50 documents by key; its total, unfiltered or by status and \
    direction, from per-tenant totals the same triggers keep (`call_log_totals`), by any other filter counted over \
    a covering index. A page by cursor seeks the \
    index after the previous page's last key (no OFFSET: the last page costs what the first does); a page by \
    number skips through the index from whichever end is nearer. Analytics groups by agent and day in SQL over \
    the same columns (turn latencies kept as a column too), parsing no document.";

/// How the MongoDB store answers the list and analytics.
const MONGO_HOW: &str = "documents are `{org_id, id, doc}`; the list is one `countDocuments` and \
    `find().sort().limit()` with the filters on `doc.*`, served by the indexes `{org_id, doc.created_at, id}`, \
    `{org_id, doc.duration, doc.created_at, id}` (longest first), `{org_id, doc.duration: 1, doc.created_at: -1, \
    id}` (shortest first), `{org_id, doc.agent_type, doc.created_at}` and `{org_id, doc.call_busy, \
    doc.created_at, id}`; a page by cursor seeks after the previous page's last key (one `find` of the stretches \
    of the order after it), a page by number skips from whichever end is nearer; filter options are `distinct`; analytics reads the matching calls through a \
    cursor projected to the fields it needs and groups them in the API. SecantusDB is a MongoDB-compatible \
    server in Python: its figures bound what the driver and the queries cost, not what a MongoDB would answer.";

/// The command line that makes this report again (the release build; the store as measured).
fn reproduce(r: &ApiReport) -> String {
    let store = match r.backend.as_str() {
        "SQLite" => String::new(),
        "MongoDB" => " --mongodb-uri <uri>".into(),
        _ => " --mongodb".into(),
    };
    format!(
        "cargo run --release -p voicera-bench -- api --records {} --requests {} --concurrency {}{store}",
        r.records, r.requests, r.concurrency
    )
}

/// The report as Markdown.
pub(crate) fn markdown(r: &ApiReport) -> String {
    let mut out = format!(
        "# Control-plane API: call history, analytics, agents, login ({backend})\n\n\
         {backend} ({server}), {records} call records in the measured org (+{other} in another org), filled in \
         {fill:.0} s. The API's router driven in process (no socket), {build} build, {machine}, load average at \
         the end {load}. Latency: one request at a time; throughput also with {c} requests in flight. Pages are \
         50 calls. `store only` rows time `Store::query_call_logs` without HTTP or JSON out.\n\n\
         How: {how}\n\n\
         Reproduce: `{reproduce}`\n\n\
         | scenario | p50 ms | p99 ms | max ms | req/s (1) | req/s ({c}) | answer |\n|---|---|---|---|---|---|---|\n",
        backend = r.backend,
        server = r.server,
        how = if r.backend == "SQLite" { SQLITE_HOW } else { MONGO_HOW },
        reproduce = reproduce(r),
        records = r.records,
        other = r.other_org_records,
        fill = r.fill_seconds,
        build = r.build,
        machine = r.machine,
        load = r.load_average,
        c = r.concurrency,
    );
    for s in &r.scenarios {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {} |\n",
            s.name,
            s.p50_ms,
            s.p99_ms,
            s.max_ms,
            s.requests_per_second_sequential,
            s.requests_per_second_concurrent,
            s.answer
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_mongodb_host_without_credentials() {
        assert_eq!(host_of("mongodb://bench:s%40cret@db1:27017,db2/voicera?tls=true"), "db1:27017,db2");
        assert_eq!(host_of("mongodb://127.0.0.1:4242/?directConnection=true"), "127.0.0.1:4242");
        assert_eq!(host_of("mongodb+srv://u:p@cluster.example.net"), "cluster.example.net");
    }
}
