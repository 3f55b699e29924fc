//! The call history, analytics, integrations and knowledge routes through `oneshot`, on both stores (an
//! embedded SQLite file and MongoDB: SecantusDB on loopback). Time is a [`ManualClock`]; files live in a
//! temporary data dir attached as the API's [`Resources`].

#[macro_use]
mod common;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::clock::ManualClock;
use voicera_api::{accounts, AgentValidator, ApiConfig, ApiState, FieldError, Resources, Role};
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Record};

struct AnyConfig;

impl AgentValidator for AnyConfig {
    fn validate(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

struct Harness {
    app: Router,
    state: ApiState,
    data: tempfile::TempDir,
    key: MasterKey,
    clock: Arc<ManualClock>,
    _mongo: Option<voicera_store::testing::SecantusServer>,
}

/// 2024-11-19T07:06:40Z.
const T0: i64 = 1_732_000_000_000;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&self.bytes)))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

async fn harness(kind: &str) -> Harness {
    harness_with_blobs(kind, |_| None).await
}

/// [`harness`] whose blob store is `blobs(data dir)` when it gives one (else the filesystem store under it).
async fn harness_with_blobs(
    kind: &str,
    blobs: impl FnOnce(&std::path::Path) -> Option<Arc<dyn voicera_blob::BlobStore>>,
) -> Harness {
    harness_with(kind, ApiConfig::default(), blobs).await
}

/// [`harness_with_blobs`] with `config` (its password cost made minimal).
async fn harness_with(
    kind: &str,
    config: ApiConfig,
    blobs: impl FnOnce(&std::path::Path) -> Option<Arc<dyn voicera_blob::BlobStore>>,
) -> Harness {
    let (store, common::Backing { dir: data, mongo }) = common::test_store(kind, "history").await;
    let config = ApiConfig { password_cost: PasswordCost::Minimal, ..config };
    let clock = Arc::new(ManualClock::at(T0));
    let state = ApiState::with_clock(store, [7; 32], Arc::new(AnyConfig), config, clock.clone());
    let key = MasterKey::from_bytes([42; 32]);
    let mut resources = Resources::under_data_dir(data.path(), key.clone());
    if let Some(blobs) = blobs(data.path()) {
        resources.blobs = blobs;
    }
    assert!(state.attach(resources).is_ok());
    Harness { app: voicera_api::control_plane(state.clone()), state, data, key, clock, _mongo: mongo }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, bytes }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request =
            Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        let answer = self.send(request.unwrap()).await;
        (answer.status, answer.json())
    }

    async fn get_raw(&self, path: &str, token: &str, range: Option<&str>) -> Answer {
        let mut request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A new org with a user of `role` in it: (org id, access token).
    async fn org(&self, email: &str, role: Role) -> (String, String) {
        let org = accounts::create_org(&self.state, "Acme").await.unwrap();
        self.user(email, &org, role).await
    }

    async fn user(&self, email: &str, org: &str, role: Role) -> (String, String) {
        accounts::create_user(&self.state, email, "s3cret-pass", "A", "Acme", org, role).await.unwrap();
        let login = json!({"email": email, "password": "s3cret-pass"});
        let request = Request::post("/api/v1/users/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(login.to_string()))
            .unwrap();
        let answer = self.send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        (org.to_string(), answer.json()["access_token"].as_str().unwrap().to_string())
    }

    async fn put_call(&self, org: &str, id: &str, doc: Value) {
        let record = Record { org_id: org.into(), id: id.into(), doc };
        self.state.store().put(Collection::CallLogs, &record).await.unwrap();
    }

    async fn upload(&self, token: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Answer {
        let boundary = "voicera-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"org_id\"\r\n\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::post("/api/v1/knowledge/upload")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Uploads a document, asserting the answer is the record as first written (`processing`, no passages
    /// yet); its document id.
    async fn upload_processing(&self, token: &str, filename: &str, content_type: &str, bytes: &[u8]) -> String {
        let answer = self.upload(token, filename, content_type, bytes).await;
        let body = answer.json();
        assert_eq!(answer.status, StatusCode::CREATED, "{body}");
        assert_eq!(
            (body["status"].as_str(), body["chunk_count"].as_u64(), body["original_filename"].as_str()),
            (Some("processing"), Some(0), Some(filename)),
            "{body}"
        );
        body["document_id"].as_str().unwrap().to_string()
    }

    /// Uploads as a client told to retry would: again while the answer is 429 (20 s at most); the answer.
    async fn upload_when_free(&self, token: &str, filename: &str, bytes: &[u8]) -> Answer {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let answer = self.upload(token, filename, "text/plain", bytes).await;
            if answer.status != StatusCode::TOO_MANY_REQUESTS {
                return answer;
            }
            assert!(tokio::time::Instant::now() < deadline, "no processing slot came free: {}", answer.json());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Document `id` as `GET /knowledge` lists it (Null when it is not listed).
    async fn listed(&self, token: &str, id: &str) -> Value {
        let (code, list) = self.call(Method::GET, "/api/v1/knowledge", token, None).await;
        assert_eq!(code, StatusCode::OK, "{list}");
        list.as_array().unwrap().iter().find(|d| d["document_id"] == id).cloned().unwrap_or(Value::Null)
    }

    /// Polls `GET /knowledge` until document `id` is no longer `processing` (as a client would); the
    /// document then. Fails after 20 s.
    async fn settled(&self, token: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let document = self.listed(token, id).await;
            if document["status"] != "processing" {
                return document;
            }
            assert!(tokio::time::Instant::now() < deadline, "document {id} is still processing: {document}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A filesystem blob store whose writes wait until the test opens its gate (a slow S3 upload, held for as long
/// as the test needs), or are refused, or panic (a bug in processing); it notes each write and delete that went
/// through, in order.
#[derive(Debug)]
struct GatedBlobs {
    inner: voicera_blob::FsBlobStore,
    open: tokio::sync::watch::Sender<bool>,
    refuse: std::sync::atomic::AtomicBool,
    panic: std::sync::atomic::AtomicBool,
    done: std::sync::Mutex<Vec<String>>,
}

impl GatedBlobs {
    fn new(dir: &std::path::Path) -> GatedBlobs {
        GatedBlobs {
            inner: voicera_blob::FsBlobStore::new(dir),
            open: tokio::sync::watch::channel(false).0,
            refuse: Default::default(),
            panic: Default::default(),
            done: Default::default(),
        }
    }

    fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }

    /// "put KEY" and "delete KEY" for each write and delete done so far.
    fn done(&self) -> Vec<String> {
        self.done.lock().unwrap().clone()
    }

    /// Waits (20 s at most) until `what` has been done.
    async fn wait_done(&self, what: &str) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while !self.done().iter().any(|d| d == what) {
            assert!(tokio::time::Instant::now() < deadline, "never done: {what}; done: {:?}", self.done());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

#[async_trait::async_trait]
impl voicera_blob::BlobStore for GatedBlobs {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn bucket_name(&self, bucket: voicera_blob::Bucket) -> String {
        self.inner.bucket_name(bucket)
    }
    fn url(&self, bucket: &str, key: &str) -> String {
        self.inner.url(bucket, key)
    }
    async fn ensure_buckets(&self) -> Result<(), voicera_blob::BlobError> {
        self.inner.ensure_buckets().await
    }
    async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: voicera_blob::BlobReader,
    ) -> Result<(), voicera_blob::BlobError> {
        let mut open = self.open.subscribe();
        open.wait_for(|open| *open).await.expect("the gate's sender lives as long as the store");
        assert!(!self.panic.load(std::sync::atomic::Ordering::SeqCst), "the blob store panics (told to by the test)");
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(voicera_blob::BlobError::InvalidBucket(format!("{bucket} (refused by the test)")));
        }
        self.inner.put_stream(bucket, key, body).await?;
        self.done.lock().unwrap().push(format!("put {key}"));
        Ok(())
    }
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<voicera_blob::ByteRange>,
    ) -> Result<voicera_blob::BlobRead, voicera_blob::BlobError> {
        self.inner.get(bucket, key, range).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<voicera_blob::BlobMeta>, voicera_blob::BlobError> {
        self.inner.head(bucket, key).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), voicera_blob::BlobError> {
        self.inner.delete(bucket, key).await?;
        self.done.lock().unwrap().push(format!("delete {key}"));
        Ok(())
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<voicera_blob::BlobMeta>, voicera_blob::BlobError> {
        self.inner.list(bucket, prefix).await
    }
    fn signed_get_url(
        &self,
        bucket: &str,
        key: &str,
        ttl: std::time::Duration,
        now: std::time::SystemTime,
    ) -> Result<String, voicera_blob::BlobError> {
        self.inner.signed_get_url(bucket, key, ttl, now)
    }
}

on_both_stores!(
    meetings_export_as_quoted_csv_and_parse_turns_with_their_latency,
    recordings_stream_with_http_ranges_within_the_org,
    analytics_figures_match_a_hand_computed_set,
    provider_keys_are_sealed_masked_and_scoped,
    knowledge_documents_upload_report_status_retrieve_and_delete,
    a_knowledge_document_lists_as_processing_until_it_is_stored_and_read,
    knowledge_processing_is_bounded_in_number_and_time_and_settles_after_a_panic,
    an_admin_sets_and_clears_the_orgs_recording_retention,
);

async fn meetings_export_as_quoted_csv_and_parse_turns_with_their_latency(kind: &str) {
    let h = harness(kind).await;
    let (org, owner) = h.org("asha@acme.io", Role::Owner).await;
    let (_, stranger) = h.org("ravi@other.io", Role::Owner).await;
    h.put_call(&org, "CA-1", json!({"agent_type": "Sales, \"East\"", "inbound": true, "from_number": "+919900000001",
        "to_number": "+918000000001", "created_at": "2024-11-19T07:00:00.000Z", "end_time_utc": "2024-11-19T07:01:00.000Z",
        "duration": 60.0, "recording_url": "2024-11-19/CA-1.wav",
        "transcript_content": "[2024-11-19T07:00:01Z] assistant: Namaste!\n[2024-11-19T07:00:03Z] user: price?\n[2024-11-19T07:00:04Z] assistant: 10 rupees\nuser: and\nmultiline?\n",
        "latency_metrics": {"turns": [{"turn_index": 1, "user_text_preview": "price?", "stt_ms": 120, "llm_ttfb_ms": 300, "tts_first_chunk_ms": 80}]}})).await;
    // This server's own call record shape: greeting and turns with their timings.
    h.put_call(&org, "rec-2", json!({"agent_type": "Support", "inbound": false, "from_number": "+918000000001",
        "to_number": "+919900000002", "created_at": "2024-11-20T07:00:00.000Z", "call_busy": true, "duration": 0,
        "greeting": "Hello from Support", "recording_url": "https://provider.example/rec.mp3",
        "turns": [{"turn": 1, "user_text": "my order", "agent_text": "Which one?", "interrupted": true,
                   "end_of_speech_to_audio_ms": 640, "stt_ms": 100, "llm_first_token_ms": 380, "tts_first_audio_ms": 90}]})).await;
    h.put_call("other-org", "CB-1", json!({"agent_type": "Theirs", "created_at": "2024-11-21T07:00:00.000Z"})).await;

    let csv = h.get_raw("/api/v1/meetings/export?date_sort_order=oldest", &owner, None).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.json());
    assert_eq!(csv.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert_eq!(csv.header(header::CONTENT_DISPOSITION), "attachment; filename=\"meetings-20241119.csv\"");
    let text = String::from_utf8(csv.bytes.to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "meeting_id,agent_type,direction,from_number,to_number,call_status,created_at,start_time_utc,end_time_utc,duration,turns,recording_url",
            "CA-1,\"Sales, \"\"East\"\"\",inbound,+919900000001,+918000000001,Completed,2024-11-19T07:00:00.000Z,,2024-11-19T07:01:00.000Z,60.0,1,/api/v1/meetings/CA-1/recording",
            "rec-2,Support,outbound,+918000000001,+919900000002,Busy,2024-11-20T07:00:00.000Z,,,0,1,https://provider.example/rec.mp3",
            "",
        ]
    );
    let csv = h.get_raw("/api/v1/meetings/export?call_status=Busy", &owner, None).await;
    assert_eq!(String::from_utf8(csv.bytes.to_vec()).unwrap().lines().count(), 2);
    let csv = h.get_raw("/api/v1/meetings/export", &stranger, None).await;
    assert_eq!(String::from_utf8(csv.bytes.to_vec()).unwrap().lines().count(), 1, "another org's export is empty");
    let (code, body) = h.call(Method::GET, "/api/v1/meetings/export?call_status=gone", &owner, None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("call_status")));

    let (code, detail) = h.call(Method::GET, "/api/v1/meetings/CA-1", &owner, None).await;
    assert_eq!(code, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["transcript"],
        json!([
            {"role": "agent", "content": "Namaste!", "timestamp": "2024-11-19T07:00:01Z"},
            {"role": "user", "content": "price?", "timestamp": "2024-11-19T07:00:03Z"},
            {"role": "agent", "content": "10 rupees", "timestamp": "2024-11-19T07:00:04Z", "latency_ms": 500.0},
            {"role": "user", "content": "and"},
            {"role": "agent", "content": "multiline?"},
        ])
    );
    assert_eq!(
        detail["turn_latencies"],
        json!([{"turn_index": 1, "user_text_preview": "price?", "stt_ms": 120, "llm_ttfb_ms": 300, "tts_first_chunk_ms": 80, "latency_ms": 500.0}])
    );
    let (_, detail) = h.call(Method::GET, "/api/v1/meetings/rec-2", &owner, None).await;
    assert_eq!(
        detail["transcript"],
        json!([
            {"role": "agent", "content": "Hello from Support"},
            {"role": "user", "content": "my order"},
            {"role": "agent", "content": "Which one?", "interrupted": true, "latency_ms": 640.0},
        ])
    );
    assert_eq!(detail["turn_latencies"][0]["llm_ttfb_ms"], 380);
    assert_eq!(detail["recording_url"], "https://provider.example/rec.mp3");

    let (code, options) = h.call(Method::GET, "/api/v1/meetings/filter-options", &owner, None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(options["agent_types"], json!(["Sales, \"East\"", "Support"]));
    assert_eq!(options["call_statuses"], json!(["Busy", "Completed", "In Progress"]));
    let (code, _) = h.call(Method::GET, "/api/v1/meetings/CA-1", &stranger, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

async fn recordings_stream_with_http_ranges_within_the_org(kind: &str) {
    let h = harness(kind).await;
    let (org, viewer) = h.org("viewer@acme.io", Role::Viewer).await;
    let (_, stranger) = h.org("ravi@other.io", Role::Owner).await;
    let audio: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let day = h.data.path().join("calls/2024-11-19");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("rec-1.wav"), &audio).unwrap();
    h.put_call(
        &org,
        "rec-1",
        json!({"created_at": "2024-11-19T07:00:00.000Z", "recording_url": "calls/2024-11-19/rec-1.wav"}),
    )
    .await;
    h.put_call(&org, "gone", json!({"created_at": "2024-11-19T07:00:00.000Z", "recording_url": "2024-11-19/gone.wav"}))
        .await;
    h.put_call(&org, "escape", json!({"created_at": "2024-11-19T07:00:00.000Z", "recording_url": "../voicera.db"}))
        .await;
    h.put_call(&org, "silent", json!({"created_at": "2024-11-19T07:00:00.000Z"})).await;
    let path = "/api/v1/meetings/rec-1/recording";

    let whole = h.get_raw(path, &viewer, None).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.bytes.as_ref(), audio.as_slice());
    assert_eq!(
        (whole.header(header::CONTENT_TYPE), whole.header(header::ACCEPT_RANGES), whole.header(header::CONTENT_LENGTH)),
        ("audio/wav", "bytes", "1000")
    );
    for (range, start, end) in [
        ("bytes=100-199", 100, 199),
        ("bytes=-500", 500, 999),
        ("bytes=100-", 100, 999),
        ("bytes=0-0", 0, 0),
        ("bytes=990-2000", 990, 999),
    ] {
        let part = h.get_raw(path, &viewer, Some(range)).await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(part.bytes.as_ref(), &audio[start..=end], "{range}");
        assert_eq!(part.header(header::CONTENT_RANGE), format!("bytes {start}-{end}/1000"), "{range}");
        assert_eq!(part.header(header::CONTENT_LENGTH), (end + 1 - start).to_string(), "{range}");
        assert_eq!(part.header(header::ACCEPT_RANGES), "bytes");
    }
    for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let refused = h.get_raw(path, &viewer, Some(range)).await;
        assert_eq!(refused.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(refused.header(header::CONTENT_RANGE), "bytes */1000");
        assert_eq!(refused.json()["code"], "range_not_satisfiable");
    }
    // Several ranges, or a malformed one, are served whole (RFC 9110 lets a server ignore Range).
    for range in ["bytes=0-1,5-6", "bytes=abc", "lines=1-2"] {
        let whole = h.get_raw(path, &viewer, Some(range)).await;
        assert_eq!((whole.status, whole.bytes.len()), (StatusCode::OK, 1000), "{range}");
    }
    for (id, why) in [("gone", "missing file"), ("escape", "outside the recordings"), ("silent", "no recording")] {
        let answer = h.get_raw(&format!("/api/v1/meetings/{id}/recording"), &viewer, None).await;
        assert_eq!(
            (answer.status, answer.json()["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{why}"
        );
    }
    let theirs = h.get_raw(path, &stranger, Some("bytes=0-9")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(theirs.bytes.len() < 200 && !theirs.bytes.starts_with(&audio[..10]));
}

async fn analytics_figures_match_a_hand_computed_set(kind: &str) {
    let h = harness(kind).await;
    let (org, viewer) = h.org("viewer@acme.io", Role::Viewer).await;
    let (_, stranger) = h.org("ravi@other.io", Role::Owner).await;
    // c1 connected 120 s (turns 500, 700 ms); c2 busy; c3 connected 60 s, this server's turns (900, 1100, 300 ms);
    // c4 connected by its duration (no end time), 30 s, one turn of 400 ms.
    h.put_call(&org, "c1", json!({"agent_type": "Sales", "from_number": "+91900", "to_number": "+91800",
        "start_time_utc": "2024-11-19T10:00:00.000Z", "created_at": "2024-11-19T10:00:00.000Z",
        "end_time_utc": "2024-11-19T10:02:00.000Z", "duration": 120, "call_busy": false,
        "latency_metrics": {"turns": [{"turn_index": 1, "stt_ms": 100, "llm_ttfb_ms": 300, "tts_first_chunk_ms": 100},
                                      {"turn_index": 2, "stt_ms": 200, "llm_ttfb_ms": 400, "tts_first_chunk_ms": 100}]}})).await;
    h.put_call(
        &org,
        "c2",
        json!({"agent_type": "Sales", "created_at": "2024-11-19T12:00:00.000Z", "call_busy": true, "duration": 0}),
    )
    .await;
    h.put_call(
        &org,
        "c3",
        json!({"agent_type": "Support", "start_time_utc": "2024-11-20T09:00:00.000Z",
        "end_time_utc": "2024-11-20T09:01:00.000Z", "duration": 60.0,
        "turns": [{"turn": 1, "end_of_speech_to_audio_ms": 900}, {"turn": 2, "end_of_speech_to_audio_ms": 1100},
                  {"turn": 3, "stt_ms": 100, "llm_first_token_ms": 200, "tts_first_audio_ms": 0}]}),
    )
    .await;
    h.put_call(
        &org,
        "c4",
        json!({"agent_type": "Sales", "from_number": "+911", "start_time_utc": "2024-11-20T15:00:00.000Z",
        "duration": 30, "latency_metrics": {"turns": [{"turn_index": 1, "stt_ms": 90, "end_to_end_ms": 400}]}}),
    )
    .await;
    h.put_call("other", "x", json!({"agent_type": "Sales", "created_at": "2024-11-19T10:00:00.000Z", "duration": 999}))
        .await;

    let (code, figures) = h.call(Method::GET, "/api/v1/analytics", &viewer, None).await;
    assert_eq!(code, StatusCode::OK, "{figures}");
    let expected = json!({
        "org_id": org, "calls_attempted": 4, "calls_connected": 3,
        "average_call_duration": 1.17, "total_minutes_connected": 3.5, "success_rate": 75.0,
        "most_used_agent": "Sales", "most_used_agent_count": 3,
        "agent_breakdown": [{"agent_type": "Sales", "call_count": 3}, {"agent_type": "Support", "call_count": 1}],
        "latency": {
            "per_agent": [
                {"agent_type": "Sales", "calls": 3, "calls_connected": 2, "total_minutes_connected": 2.5,
                 "turns": 3, "p50_ms": 500.0, "p90_ms": 700.0, "p99_ms": 700.0},
                {"agent_type": "Support", "calls": 1, "calls_connected": 1, "total_minutes_connected": 1.0,
                 "turns": 3, "p50_ms": 900.0, "p90_ms": 1100.0, "p99_ms": 1100.0},
            ],
            "per_day": [
                {"date": "2024-11-19", "calls": 2, "turns": 2, "p50_ms": 500.0, "p90_ms": 700.0, "p99_ms": 700.0},
                {"date": "2024-11-20", "calls": 2, "turns": 4, "p50_ms": 400.0, "p90_ms": 1100.0, "p99_ms": 1100.0},
            ],
        },
        "calculated_at": "2024-11-19T07:06:40.000Z", "start_date": null, "end_date": null,
    });
    assert_eq!(figures, expected);

    let (_, support) = h.call(Method::GET, "/api/v1/analytics?agent_type=Support", &viewer, None).await;
    assert_eq!((support["calls_attempted"].as_u64(), support["most_used_agent"].as_str()), (Some(1), Some("Support")));
    let (_, late) =
        h.call(Method::GET, "/api/v1/analytics?start_date=2024-11-20&end_date=2024-11-20", &viewer, None).await;
    assert_eq!(
        (late["calls_attempted"].as_u64(), late["total_minutes_connected"].as_f64(), late["start_date"].as_str()),
        (Some(2), Some(1.5), Some("2024-11-20"))
    );
    let (_, number) = h.call(Method::GET, "/api/v1/analytics?phone_number=%2B911", &viewer, None).await;
    assert_eq!(number["calls_attempted"], 1);
    let (_, number) = h.call(Method::GET, "/api/v1/analytics?phone_number=%2B91800", &viewer, None).await;
    assert_eq!(number["calls_attempted"], 1);
    let (code, body) = h.call(Method::GET, "/api/v1/analytics?start_date=soon", &viewer, None).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("start_date")));
    let (_, theirs) = h.call(Method::GET, "/api/v1/analytics", &stranger, None).await;
    assert_eq!((theirs["calls_attempted"].as_u64(), &theirs["most_used_agent"]), (Some(0), &Value::Null));
    assert_eq!(theirs["average_call_duration"], 0.0);
}

async fn provider_keys_are_sealed_masked_and_scoped(kind: &str) {
    let h = harness(kind).await;
    let (org, admin) = h.org("admin@acme.io", Role::Admin).await;
    let (_, viewer) = h.user("viewer@acme.io", &org, Role::Viewer).await;
    let (_, stranger) = h.org("ravi@other.io", Role::Owner).await;
    let secret = "sk-proj-SECRET-0123456789wxyz";
    let body = json!({"org_id": org, "model": "OpenAI", "api_key": secret});
    let (code, created) = h.call(Method::POST, "/api/v1/integrations", &admin, Some(body.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!((created["model"].as_str(), created["api_key"].as_str()), (Some("OpenAI"), Some("••••wxyz")));
    assert!(!created.to_string().contains("SECRET"), "{created}");
    let (code, _) = h.call(Method::POST, "/api/v1/integrations", &admin, Some(body)).await;
    assert_eq!(code, StatusCode::CREATED, "a second POST replaces the key, 201 as the original answered");
    // At rest: sealed for this record, opening to the key.
    let stored = h.state.store().get(Collection::Integrations, &org, "OpenAI").await.unwrap().unwrap();
    let sealed = stored.doc["api_key"].as_str().unwrap();
    assert!(!stored.doc.to_string().contains("SECRET"));
    assert_eq!(h.key.open(sealed, &format!("integrations/{org}/OpenAI")).unwrap(), secret);

    let (code, list) = h.call(Method::GET, "/api/v1/integrations", &viewer, None).await;
    assert_eq!((code, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{list}");
    assert_eq!(list[0]["api_key"], "••••wxyz");
    assert!(!list.to_string().contains("SECRET") && !list.to_string().contains("v1:"), "{list}");
    let (code, one) = h.call(Method::GET, "/api/v1/integrations/OpenAI", &viewer, None).await;
    assert_eq!((code, one["api_key"].as_str()), (StatusCode::OK, Some("••••wxyz")));
    // Key changes are in the audit log (the key itself is not).
    let (code, audit) = h.call(Method::GET, "/api/v1/audit", &admin, None).await;
    assert_eq!(code, StatusCode::OK, "{audit}");
    assert!(audit.to_string().contains("upsert_integration"), "{audit}");
    assert!(!audit.to_string().contains("wxyz"), "{audit}");
    let viewer_write = json!({"model": "Deepgram", "api_key": "dg-0123456789abcdef"});
    assert_eq!(
        h.call(Method::POST, "/api/v1/integrations", &viewer, Some(viewer_write)).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, body) =
        h.call(Method::POST, "/api/v1/integrations", &admin, Some(json!({"model": "../x", "api_key": "k"}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("model")));
    let (code, body) = h
        .call(
            Method::POST,
            "/api/v1/integrations",
            &admin,
            Some(json!({"org_id": "other", "model": "X", "api_key": "k"})),
        )
        .await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::FORBIDDEN, Some("org_id")));
    // Another org sees none of it and cannot delete it.
    let (_, theirs) = h.call(Method::GET, "/api/v1/integrations", &stranger, None).await;
    assert_eq!(theirs, json!([]));
    assert_eq!(h.call(Method::GET, "/api/v1/integrations/OpenAI", &stranger, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::DELETE, "/api/v1/integrations/OpenAI", &stranger, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::DELETE, "/api/v1/integrations/OpenAI", &viewer, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(h.call(Method::DELETE, "/api/v1/integrations/OpenAI", &admin, None).await.0, StatusCode::OK);
    assert_eq!(h.call(Method::DELETE, "/api/v1/integrations/OpenAI", &admin, None).await.0, StatusCode::NOT_FOUND);

    // Custom LLM servers.
    let llm = json!({"name": "Qwen on GPU", "base_url": "http://10.0.0.5:8003/", "api_key": "qwen-SECRET-key-4242", "model": "Qwen/Qwen3-8B"});
    let (code, created) = h.call(Method::POST, "/api/v1/custom-llm-integrations", &admin, Some(llm)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["_id"], created["id"]);
    assert_eq!(
        (created["base_url"].as_str(), created["api_key"].as_str()),
        (Some("http://10.0.0.5:8003/v1"), Some("••••4242"))
    );
    let stored = h.state.store().get(Collection::CustomLlms, &org, &id).await.unwrap().unwrap();
    assert_eq!(
        h.key.open(stored.doc["api_key"].as_str().unwrap(), &format!("custom_llms/{org}/{id}")).unwrap(),
        "qwen-SECRET-key-4242"
    );
    let path = format!("/api/v1/custom-llm-integrations/{id}");
    let (code, updated) = h.call(Method::PUT, &path, &admin, Some(json!({"model": "Qwen/Qwen3-14B"}))).await;
    assert_eq!(
        (code, updated["model"].as_str(), updated["api_key"].as_str()),
        (StatusCode::OK, Some("Qwen/Qwen3-14B"), Some("••••4242"))
    );
    let (code, body) = h.call(Method::PUT, &path, &admin, Some(json!({"base_url": "ftp://x"}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("base_url")));
    let (_, list) = h.call(Method::GET, "/api/v1/custom-llm-integrations", &viewer, None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert!(!list.to_string().contains("SECRET"));
    assert_eq!(h.call(Method::PUT, &path, &stranger, Some(json!({"model": "m"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::DELETE, &path, &stranger, None).await.0, StatusCode::NOT_FOUND);
    let (_, theirs) = h.call(Method::GET, "/api/v1/custom-llm-integrations", &stranger, None).await;
    assert_eq!(theirs, json!([]));
    assert_eq!(h.call(Method::DELETE, &path, &admin, None).await.0, StatusCode::OK);
    let (_, list) = h.call(Method::GET, "/api/v1/custom-llm-integrations", &viewer, None).await;
    assert_eq!(list, json!([]));
}

/// A one-page PDF whose page shows `text` (no text at all when empty), with a correct cross-reference table.
fn pdf(text: &str) -> Vec<u8> {
    let content = if text.is_empty() {
        "0 0 1 rg 72 600 200 100 re f".to_string()
    } else {
        format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET")
    };
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

async fn knowledge_documents_upload_report_status_retrieve_and_delete(kind: &str) {
    let h = harness(kind).await;
    let (org, member) = h.org("member@acme.io", Role::Member).await;
    let (_, viewer) = h.user("viewer@acme.io", &org, Role::Viewer).await;
    let (_, stranger) = h.org("ravi@other.io", Role::Owner).await;

    let faq = "Refunds\n\nA refund reaches the customer's bank within seven working days of the return.\n\n\
               Shipping\n\nOrders ship from Pune every weekday before noon.";
    let faq_id = h.upload_processing(&member, "faq.txt", "text/plain", faq.as_bytes()).await;
    let text = h.settled(&member, &faq_id).await;
    assert_eq!((text["status"].as_str(), text["original_filename"].as_str()), (Some("ready"), Some("faq.txt")));
    assert!(text["chunk_count"].as_u64().unwrap() >= 1, "{text}");
    // The document and its text are objects in the blob store's `knowledge` bucket; the store keeps their URLs.
    let prefix = format!("knowledge/{org}/{faq_id}");
    assert_eq!(text["object_url"], format!("fs://{prefix}/original.txt"), "{text}");
    assert_eq!(text["text_url"], format!("fs://{prefix}/text.txt"), "{text}");
    let objects = h.data.path().join("blobs").join(&prefix);
    assert_eq!(std::fs::read(objects.join("original.txt")).unwrap(), faq.as_bytes());
    assert_eq!(std::fs::read_to_string(objects.join("text.txt")).unwrap(), faq);
    let stored = h.state.store().get(Collection::KnowledgeDocuments, &org, &faq_id).await.unwrap().unwrap();
    assert_eq!(stored.doc["object_url"], text["object_url"], "metadata in the store");
    // A document uploaded before the blob store (its text a file under `<data>/knowledge/<org>/`) still answers.
    let legacy_dir = h.data.path().join("knowledge").join(&org);
    std::fs::create_dir_all(&legacy_dir).unwrap();
    std::fs::write(legacy_dir.join("legacy1.txt"), "Gift cards never expire and can be used online.").unwrap();
    let legacy = json!({"original_filename": "gifts.txt", "status": "ready", "chunk_count": 1,
                        "created_at": "2024-01-01T00:00:00.000Z"});
    h.state
        .store()
        .put(Collection::KnowledgeDocuments, &Record { org_id: org.clone(), id: "legacy1".into(), doc: legacy })
        .await
        .unwrap();
    let (_, found) =
        h.call(Method::POST, "/api/v1/rag/retrieve", &viewer, Some(json!({"question": "do gift cards expire"}))).await;
    assert_eq!(found["chunks"][0]["document_id"], "legacy1", "{found}");
    let (code, _) = h.call(Method::DELETE, "/api/v1/knowledge/legacy1", &member, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(!legacy_dir.join("legacy1.txt").exists(), "an older upload's file goes with it");
    let markdown = h
        .upload_processing(
            &member,
            "warranty.md",
            "application/octet-stream",
            b"# Warranty\n\nTwo years on every kettle.",
        )
        .await;
    assert_eq!(h.settled(&member, &markdown).await["status"], "ready");
    let with_text = h
        .upload_processing(&member, "policy.pdf", "application/pdf", &pdf("Kettles are descaled with citric acid"))
        .await;
    let with_text = h.settled(&member, &with_text).await;
    assert_eq!(with_text["status"], "ready", "{with_text}");
    let scan = h.upload_processing(&member, "scan.pdf", "application/pdf", &pdf("")).await;
    let scan = h.settled(&member, &scan).await;
    assert_eq!(scan["status"], "failed", "{scan}");
    assert!(scan["error_message"].as_str().unwrap().contains("no text layer"), "{scan}");

    let image = h.upload(&member, "photo.png", "image/png", b"\x89PNG....").await;
    assert_eq!(
        (image.status, image.json()["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"))
    );
    let big = vec![b'a'; voicera_api::routes::knowledge::MAX_DOCUMENT_BYTES + 1];
    let big = h.upload(&member, "big.txt", "text/plain", &big).await;
    assert_eq!((big.status, big.json()["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));
    assert_eq!(h.upload(&viewer, "faq.txt", "text/plain", b"x").await.status, StatusCode::FORBIDDEN);
    let (code, _) = h.call(Method::POST, "/api/v1/knowledge/upload", &member, Some(json!({"file": "x"}))).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (code, list) = h.call(Method::GET, "/api/v1/knowledge", &viewer, None).await;
    assert_eq!((code, list.as_array().map(Vec::len)), (StatusCode::OK, Some(4)), "{list}");
    let (_, theirs) = h.call(Method::GET, "/api/v1/knowledge", &stranger, None).await;
    assert_eq!(theirs, json!([]));

    let ask = json!({"org_id": org, "question": "How long does a refund take?", "top_k": 2});
    let (code, found) = h.call(Method::POST, "/api/v1/rag/retrieve", &viewer, Some(ask)).await;
    assert_eq!(code, StatusCode::OK, "{found}");
    let best = &found["chunks"][0];
    assert!(best["text"].as_str().unwrap().contains("seven working days"), "{found}");
    assert_eq!(
        (best["document_id"].as_str(), best["source_filename"].as_str()),
        (text["document_id"].as_str(), Some("faq.txt"))
    );
    let distance = best["distance"].as_f64().unwrap();
    assert!(distance > 0.0 && distance < 1.0, "{distance}");
    assert!(best["chunk_id"].as_str().unwrap().starts_with(text["document_id"].as_str().unwrap()));
    let ask = json!({"question": "descaled kettles citric", "document_ids": [with_text["document_id"]]});
    let (_, found) = h.call(Method::POST, "/api/v1/rag/retrieve", &viewer, Some(ask)).await;
    assert_eq!(found["chunks"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["chunks"][0]["source_filename"], "policy.pdf");
    let (_, found) = h.call(Method::POST, "/api/v1/rag/retrieve", &stranger, Some(json!({"question": "refund"}))).await;
    assert_eq!(found["chunks"], json!([]));
    let (code, body) =
        h.call(Method::POST, "/api/v1/rag/retrieve", &viewer, Some(json!({"question": "x", "top_k": 11}))).await;
    assert_eq!((code, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("top_k")));

    let path = format!("/api/v1/knowledge/{}", text["document_id"].as_str().unwrap());
    assert_eq!(h.call(Method::DELETE, &path, &stranger, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::DELETE, &path, &viewer, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(h.call(Method::DELETE, &path, &member, None).await.0, StatusCode::OK);
    assert_eq!(h.call(Method::DELETE, &path, &member, None).await.0, StatusCode::NOT_FOUND);
    let (_, found) =
        h.call(Method::POST, "/api/v1/rag/retrieve", &viewer, Some(json!({"question": "refund bank"}))).await;
    assert!(!found.to_string().contains("seven working days"), "a deleted document is not retrieved: {found}");
    assert!(!objects.join("original.txt").exists() && !objects.join("text.txt").exists(), "its objects are gone");
    // A failed document keeps its original (linked, so deleting it removes it) and no text.
    assert_eq!(scan["text_url"], Value::Null, "{scan}");
    let scan_original = h.data.path().join("blobs/knowledge").join(&org).join(scan["document_id"].as_str().unwrap());
    assert!(scan_original.join("original.pdf").exists());
    let path = format!("/api/v1/knowledge/{}", scan["document_id"].as_str().unwrap());
    assert_eq!(h.call(Method::DELETE, &path, &member, None).await.0, StatusCode::OK);
    assert!(!scan_original.join("original.pdf").exists());
}

/// The document's life as a client sees it, held at each step by a blob store that writes only when the test
/// lets it: the upload answers `processing` at once; the document lists so (and is not retrieved) until it is
/// stored and its text read, then `ready`; one the blob store refuses ends `failed` with the reason; one
/// deleted while it is processed stays deleted, and what was written for it is removed; one whose processing
/// outlives the limit (its node stopped) is listed `failed`.
async fn a_knowledge_document_lists_as_processing_until_it_is_stored_and_read(kind: &str) {
    let gate = Arc::new(std::sync::OnceLock::<Arc<GatedBlobs>>::new());
    let h = harness_with_blobs(kind, |dir| {
        let blobs = Arc::new(GatedBlobs::new(&dir.join("blobs")));
        gate.set(Arc::clone(&blobs)).unwrap();
        Some(blobs as Arc<dyn voicera_blob::BlobStore>)
    })
    .await;
    let blobs = Arc::clone(gate.get().unwrap());
    let (org, member) = h.org("member@acme.io", Role::Member).await;
    let ask = || Some(json!({"question": "How long does a refund take?"}));

    let faq = b"A refund reaches the customer's bank within seven working days of the return.";
    let id = h.upload_processing(&member, "faq.txt", "text/plain", faq).await;
    // Held: however often it is listed, it is processing, has no text and answers no question.
    for _ in 0..3 {
        let listed = h.listed(&member, &id).await;
        assert_eq!((listed["status"].as_str(), listed["chunk_count"].as_u64()), (Some("processing"), Some(0)));
        assert_eq!((listed["text_url"].clone(), listed["error_message"].clone()), (Value::Null, Value::Null));
        tokio::task::yield_now().await;
    }
    let (_, found) = h.call(Method::POST, "/api/v1/rag/retrieve", &member, ask()).await;
    assert_eq!(found["chunks"], json!([]), "a processing document is not retrieved: {found}");
    assert_eq!(blobs.done(), Vec::<String>::new());
    blobs.set_open(true);
    let ready = h.settled(&member, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["chunk_count"].as_u64().unwrap() >= 1, "{ready}");
    assert_eq!(ready["text_url"], format!("fs://knowledge/{org}/{id}/text.txt"), "{ready}");
    let (_, found) = h.call(Method::POST, "/api/v1/rag/retrieve", &member, ask()).await;
    assert_eq!(found["chunks"][0]["document_id"], id.as_str(), "{found}");

    // Refused by the blob store: failed, with the reason, and nothing to retrieve.
    blobs.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = h.upload_processing(&member, "refused.txt", "text/plain", b"Gift cards never expire.").await;
    let refused = h.settled(&member, &refused).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let reason = refused["error_message"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("the document could not be stored") && reason.contains("refused by the test"),
        "{refused}"
    );
    assert_eq!(refused["text_url"], Value::Null, "{refused}");
    blobs.refuse.store(false, std::sync::atomic::Ordering::SeqCst);

    // Deleted while it is processed: gone for good, and its objects with it. The delete removes the objects a
    // document of its kind has though the record it read named none yet (its outcome, with their URLs, may be
    // written between that read and the delete); the outcome, finding no record, removes what it wrote.
    blobs.set_open(false);
    let doomed = h.upload_processing(&member, "doomed.txt", "text/plain", b"Stores open at nine.").await;
    let path = format!("/api/v1/knowledge/{doomed}");
    assert_eq!(h.call(Method::DELETE, &path, &member, None).await.0, StatusCode::OK);
    let prefix = format!("{org}/{doomed}");
    let removed_by_delete = [format!("delete {prefix}/original.txt"), format!("delete {prefix}/text.txt")];
    let done: Vec<String> = blobs.done().into_iter().filter(|d| d.contains(&doomed)).collect();
    assert_eq!(done, removed_by_delete, "the delete removes the known objects whatever the record said");
    blobs.set_open(true);
    blobs.wait_done(&format!("put {prefix}/text.txt")).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while blobs.done().iter().filter(|d| d.contains(&doomed)).count() < 6 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", blobs.done());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let done: Vec<String> = blobs.done().into_iter().filter(|d| d.contains(&doomed)).collect();
    let expected = ["delete", "delete", "put", "put", "delete", "delete"].map(String::from);
    assert_eq!(done.iter().map(|d| d.split(' ').next().unwrap().to_string()).collect::<Vec<_>>(), expected);
    assert_eq!(h.listed(&member, &doomed).await, Value::Null, "a deleted document stays deleted");
    let objects = h.data.path().join("blobs/knowledge").join(&prefix);
    assert!(!objects.join("original.txt").exists() && !objects.join("text.txt").exists(), "its objects are gone");

    // Abandoned (the node reading it stopped): still processing at the limit, failed after it, and an outcome
    // that comes after all does not bring it back.
    blobs.set_open(false);
    let stuck = h.upload_processing(&member, "stuck.txt", "text/plain", b"Parking is free on Sundays.").await;
    h.clock.advance(voicera_api::routes::knowledge::PROCESSING_LIMIT_MS - 1);
    assert_eq!(h.listed(&member, &stuck).await["status"], "processing");
    h.clock.advance(1);
    let abandoned = h.listed(&member, &stuck).await;
    assert_eq!(abandoned["status"], "failed", "{abandoned}");
    assert!(abandoned["error_message"].as_str().unwrap().contains("upload it again"), "{abandoned}");
    blobs.set_open(true);
    blobs.wait_done(&format!("delete {org}/{stuck}/text.txt")).await;
    assert_eq!(h.listed(&member, &stuck).await, abandoned, "the late outcome is not recorded");
}

/// One processing slot and a 3 s limit: while a document is processed another upload is refused (429, with
/// `Retry-After` and the error shape) and nothing of it is stored; a document whose blob store never answers
/// ends `failed` at the limit and frees its slot; one whose processing panics ends `failed` too (not
/// `processing` until a listing calls it abandoned) and frees its slot; the next document is read as usual.
async fn knowledge_processing_is_bounded_in_number_and_time_and_settles_after_a_panic(kind: &str) {
    let gate = Arc::new(std::sync::OnceLock::<Arc<GatedBlobs>>::new());
    let config = ApiConfig {
        knowledge_processing_slots: 1,
        knowledge_processing_timeout: std::time::Duration::from_secs(3),
        ..ApiConfig::default()
    };
    let h = harness_with(kind, config, |dir| {
        let blobs = Arc::new(GatedBlobs::new(&dir.join("blobs")));
        gate.set(Arc::clone(&blobs)).unwrap();
        Some(blobs as Arc<dyn voicera_blob::BlobStore>)
    })
    .await;
    let blobs = Arc::clone(gate.get().unwrap());
    let (_, member) = h.org("member@acme.io", Role::Member).await;

    let held = h.upload_processing(&member, "held.txt", "text/plain", b"Stores open at nine.").await;
    let refused = h.upload(&member, "second.txt", "text/plain", b"Parking is free on Sundays.").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.json());
    assert_eq!(refused.header(header::RETRY_AFTER), "5");
    let body = refused.json();
    assert_eq!((body["code"].as_str(), body["field"].as_str()), (Some("busy"), Some("file")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("try again"), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    let (_, list) = h.call(Method::GET, "/api/v1/knowledge", &member, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "the refused upload is not stored: {list}");

    // The blob store never answers: failed at the limit, with the reason, and the slot is free again.
    let timed_out = h.settled(&member, &held).await;
    assert_eq!(timed_out["status"], "failed", "{timed_out}");
    assert!(timed_out["error_message"].as_str().unwrap().contains("took longer than 3 s"), "{timed_out}");

    // Processing panics: failed with a reason, and the slot is free again.
    blobs.panic.store(true, std::sync::atomic::Ordering::SeqCst);
    blobs.set_open(true);
    let panicked = h.upload_when_free(&member, "panics.txt", b"Gift cards never expire.").await;
    assert_eq!(panicked.status, StatusCode::CREATED, "{}", panicked.json());
    let panicked = h.settled(&member, panicked.json()["document_id"].as_str().unwrap()).await;
    assert_eq!(panicked["status"], "failed", "{panicked}");
    assert!(panicked["error_message"].as_str().unwrap().contains("internal error"), "{panicked}");
    blobs.panic.store(false, std::sync::atomic::Ordering::SeqCst);

    let fine = h.upload_when_free(&member, "fine.txt", b"Refunds reach the bank within seven days.").await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.json());
    let fine = h.settled(&member, fine.json()["document_id"].as_str().unwrap()).await;
    assert_eq!(fine["status"], "ready", "{fine}");
    assert_eq!(blobs.done().iter().filter(|d| d.starts_with("put")).count(), 2, "{:?}", blobs.done());
}

/// The store refuses audit records after the document is stored (a SQLite trigger; MongoDB has no such
/// switch): the upload still answers `processing` and the document is read (not left `processing` with a 500
/// the client would repeat); its delete still deletes it.
#[tokio::test]
async fn a_failed_audit_record_fails_neither_the_upload_nor_its_processing() {
    let h = harness("sqlite").await;
    let (_, member) = h.org("member@acme.io", Role::Member).await;
    let db = rusqlite::Connection::open(h.data.path().join("voicera.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    let refused = db.execute("INSERT INTO audit_log (org_id, id, doc, updated_at) VALUES ('o', 'i', '{}', 0)", []);
    assert!(refused.is_err(), "the trigger refuses audit records");

    let id = h.upload_processing(&member, "faq.txt", "text/plain", b"Refunds take seven days.").await;
    assert_eq!(h.settled(&member, &id).await["status"], "ready");
    let audited: i64 = db.query_row("SELECT count(*) FROM audit_log", [], |row| row.get(0)).unwrap();
    assert_eq!(audited, 0, "no audit record was written");
    let path = format!("/api/v1/knowledge/{id}");
    assert_eq!(h.call(Method::DELETE, &path, &member, None).await.0, StatusCode::OK);
    assert_eq!(h.listed(&member, &id).await, Value::Null);
}

async fn an_admin_sets_and_clears_the_orgs_recording_retention(kind: &str) {
    let h = harness(kind).await;
    let (org, admin) = h.org("admin@acme.io", Role::Admin).await;
    let (_, viewer) = h.user("viewer@acme.io", &org, Role::Viewer).await;
    let (other_org, stranger) = h.org("admin@other.io", Role::Admin).await;
    let path = "/api/v1/org/retention";

    let (code, shown) = h.call(Method::GET, path, &viewer, None).await;
    assert_eq!(code, StatusCode::OK, "{shown}");
    assert_eq!(shown, json!({"org_id": org, "recording_retention_days": null, "source": "node_default"}));

    let (code, set) = h.call(Method::PUT, path, &admin, Some(json!({"recording_retention_days": 7}))).await;
    assert_eq!(code, StatusCode::OK, "{set}");
    assert_eq!((set["recording_retention_days"].clone(), set["source"].clone()), (json!(7), json!("org")));
    // Where the retention sweeper reads it: the org's document.
    let stored = h.state.store().get(Collection::Orgs, &org, &org).await.unwrap().unwrap();
    assert_eq!(stored.doc["recording_retention_days"], 7);
    assert_eq!(h.call(Method::GET, path, &viewer, None).await.1["recording_retention_days"], 7);
    // Tenant-scoped: another org's admin sees and changes only their own.
    let (_, theirs) = h.call(Method::GET, path, &stranger, None).await;
    assert_eq!(
        (theirs["org_id"].as_str(), theirs["recording_retention_days"].clone()),
        (Some(other_org.as_str()), Value::Null)
    );
    h.call(Method::PUT, path, &stranger, Some(json!({"recording_retention_days": 400}))).await;
    assert_eq!(h.call(Method::GET, path, &admin, None).await.1["recording_retention_days"], 7);

    // Viewers cannot write; bad values name the field.
    let (code, _) = h.call(Method::PUT, path, &viewer, Some(json!({"recording_retention_days": 1}))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    for bad in [
        json!({"recording_retention_days": 0}),
        json!({"recording_retention_days": "7"}),
        json!({"recording_retention_days": 36_501}),
        json!({}),
    ] {
        let (code, error) = h.call(Method::PUT, path, &admin, Some(bad.clone())).await;
        assert_eq!(
            (code, error["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("recording_retention_days")),
            "{bad}: {error}"
        );
    }
    assert_eq!(
        h.call(Method::GET, path, &admin, None).await.1["recording_retention_days"],
        7,
        "refused writes change nothing"
    );

    // Null clears it: the node's default applies again.
    let (code, cleared) = h.call(Method::PUT, path, &admin, Some(json!({"recording_retention_days": null}))).await;
    assert_eq!((code, cleared["source"].clone()), (StatusCode::OK, json!("node_default")), "{cleared}");
    let stored = h.state.store().get(Collection::Orgs, &org, &org).await.unwrap().unwrap();
    assert_eq!(stored.doc["recording_retention_days"], Value::Null);

    // Both writes are in the org's audit log.
    let (_, audit) = h.call(Method::GET, "/api/v1/audit", &admin, None).await;
    let operations: Vec<&str> =
        audit["items"].as_array().unwrap().iter().filter_map(|i| i["operation"].as_str()).collect();
    assert!(
        operations.contains(&"set_recording_retention") && operations.contains(&"clear_recording_retention"),
        "{audit}"
    );
}
